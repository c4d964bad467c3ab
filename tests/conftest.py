"""Shared pytest fixtures: real Gradio apps and a Hub stand-in, all on 127.0.0.1, stopped by PID."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen
from typing import Any, Callable, Iterator

import httpx
import pytest

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))  # lets test modules `import servers` without a package

from llm_stub import LLMStub  # noqa: E402
from servers import ScriptedServer, start_process, stop_process  # noqa: E402

APPS_SCRIPT = TESTS / "apps" / "spaces.py"
HUB_SCRIPT = TESTS / "hub_stub.py"
TEST_TOKEN = "hf_test_token_123"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "live: talks to the real Hugging Face Hub; needs HF_TOKEN and SPACECHAIN_LIVE=1")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("HF_TOKEN") and os.environ.get("SPACECHAIN_LIVE") == "1":
        return
    skip = pytest.mark.skip(reason="live test: set HF_TOKEN and SPACECHAIN_LIVE=1")
    for item in items:
        if "live" in item.keywords:
            item.add_marker(skip)


def _apps_env(tmp: Path, delay: float | None = None, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, **(extra or {})}
    env.update(GRADIO_ANALYTICS_ENABLED="False", GRADIO_TEMP_DIR=str(tmp), PYTHONUNBUFFERED="1")
    env.setdefault("SPACECHAIN_TEST_DELAY", "0")
    if delay is not None:
        env["SPACECHAIN_TEST_DELAY"] = str(delay)
    return env


def launch_apps(
    names: list[str], tmp: Path, delay: float | None = None, env: dict[str, str] | None = None
) -> tuple[Popen, dict[str, str]]:
    """Start tests/apps/spaces.py for `names` in one process; returns (proc, {name: base_url})."""
    return start_process([sys.executable, str(APPS_SCRIPT), *names], env=_apps_env(tmp, delay, env), ready_timeout=90)


@pytest.fixture(scope="session")
def spaces(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """{"text2img": url, "img2_3d": url, "misc": url} (not `big`; see `big_space`). Delay from env, default 0."""
    proc, urls = launch_apps(["text2img", "img2_3d", "misc"], tmp_path_factory.mktemp("gradio"))
    yield urls
    stop_process(proc)


@pytest.fixture(scope="session")
def big_space(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of the `big` app (large /gradio_api/info), started only by tests that ask for it."""
    proc, urls = launch_apps(["big"], tmp_path_factory.mktemp("gradio-big"))
    yield urls["big"]
    stop_process(proc)


@pytest.fixture
def app_launcher(tmp_path: Path) -> Iterator[Callable[..., dict[str, str]]]:
    """Factory: launch(names, delay=None) -> {name: url}, a private app process stopped after the test.

    Use it when a test needs its own SPACECHAIN_TEST_DELAY or must not share queues with other tests.
    `launch.procs` lists the started processes (last one last), e.g. to kill one by PID mid-test.
    """
    procs: list[Popen] = []

    def launch(names: list[str], delay: float | None = None) -> dict[str, str]:
        proc, urls = launch_apps(names, tmp_path / f"gradio{len(procs)}", delay)
        procs.append(proc)
        return urls

    launch.procs = procs  # type: ignore[attr-defined]  # tests that kill a server mid-job need the PID
    yield launch
    for proc in procs:
        stop_process(proc)


# --------------------------------------------------------------------------- Hub stand-in


def default_hub_config(spaces: dict[str, str], header_log: Path) -> dict[str, Any]:
    def space(id_: str, host: str | None, **kw: Any) -> dict[str, Any]:
        base = {
            "id": id_,
            "host": host,
            "sdk": "gradio",
            "stage": "RUNNING",
            "hardware": "cpu-basic",
            "likes": 1,
            "title": id_.split("/")[1],
            "short_description": "",
            "agents_md": "v2",
            "private": False,
            "sha": hashlib.sha1(id_.encode()).hexdigest(),
        }
        return {**base, **kw}

    return {
        "header_log": str(header_log),
        "semantic_search": "ok",
        "spaces": [
            space(
                "acme/flux-lite",
                spaces["text2img"],
                hardware="zero-a10g",
                likes=120,
                title="FLUX lite",
                short_description="Generate images from text prompts",
                emoji="🎨",
                ai_category="Image Generation",
            ),
            space(
                "acme/trellis-lite",
                spaces["img2_3d"],
                agents_md="v1",
                hardware="zero-a10g",
                likes=80,
                title="TRELLIS lite",
                short_description="Create 3D model from a single image",
                ai_category="3D Modeling",
            ),
            space(
                "acme/toolbox",
                spaces["misc"],
                likes=5,
                title="Toolbox",
                short_description="Echo, streaming, errors and file utilities for testing",
            ),
            space(
                "acme/sleepy",
                spaces["misc"],
                stage="SLEEPING",
                likes=3,
                title="Sleepy",
                short_description="A sleeping copy of the toolbox",
            ),
            space(
                "acme/broken",
                None,
                stage="RUNTIME_ERROR",
                hardware="t4-small",
                likes=2,
                title="Broken",
                short_description="An image upscaler that crashed",
            ),
            space(
                "acme/static-site",
                None,
                sdk="static",
                agents_md="none",
                likes=4,
                title="Static site",
                short_description="A static HTML image gallery",
            ),
            space(
                "acme/old-style",
                spaces["misc"],
                agents_md="none",
                likes=1,
                title="Old style",
                short_description="Toolbox without agents.md",
            ),
        ],
    }


@dataclass
class Hub:
    url: str
    config_path: Path
    header_log: Path
    default_config: dict[str, Any]
    config: dict[str, Any] = field(default_factory=dict)

    def set_config(self, config: dict[str, Any]) -> None:
        """Replace the stub's config at runtime (also rewrites config_path)."""
        self.config = copy.deepcopy(config)
        self.config_path.write_text(json.dumps(self.config, indent=1))
        httpx.post(f"{self.url}/__config", json=self.config, timeout=10).raise_for_status()

    def update_space(self, space_id: str, **changes: Any) -> None:
        """Convenience: change fields of one Space, e.g. update_space("acme/sleepy", stage="RUNNING")."""
        cfg = copy.deepcopy(self.config)
        next(s for s in cfg["spaces"] if s["id"] == space_id).update(changes)
        self.set_config(cfg)

    def reset(self) -> None:
        if self.config != self.default_config:
            self.set_config(self.default_config)

    def requests(self) -> list[dict[str, Any]]:
        """Logged requests: [{"method", "path", "headers" (lower-case names)}]."""
        if not self.header_log.exists():
            return []
        return [json.loads(line) for line in self.header_log.read_text().splitlines() if line]

    def clear_log(self) -> None:
        self.header_log.write_text("")


@pytest.fixture(scope="session")
def hub(spaces: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    tmp = tmp_path_factory.mktemp("hub")
    cfg = default_hub_config(spaces, tmp / "headers.jsonl")
    config_path = tmp / "hub_config.json"
    config_path.write_text(json.dumps(cfg, indent=1))
    proc, ready = start_process([sys.executable, str(HUB_SCRIPT), str(config_path)], ready_timeout=30)
    yield Hub(ready["url"], config_path, tmp / "headers.jsonl", copy.deepcopy(cfg), copy.deepcopy(cfg))
    stop_process(proc)


@pytest.fixture
def hub_env(monkeypatch: pytest.MonkeyPatch, hub: Hub, tmp_path: Path) -> Iterator[Hub]:
    """Point HF clients at the stub for one test; restores the stub's default config afterwards.

    NOTE: huggingface_hub copies HF_ENDPOINT into `constants.ENDPOINT` at import time, so setting it
    here does not affect an already-imported huggingface_hub. Product code must read
    os.environ["HF_ENDPOINT"] at call time (or pass endpoint= explicitly). CLI tests run a subprocess
    with this env, where the import happens after the variable is set.
    """
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_TOKEN", TEST_TOKEN)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    yield hub
    hub.reset()


@pytest.fixture
def local_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let file URLs on 127.0.0.1 through (stand-ins for public file hosts); by default spacechain
    refuses to fetch private and loopback addresses it was not pointed at."""
    monkeypatch.setenv("SPACECHAIN_ALLOW_PRIVATE_URLS", "1")


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    """An empty, started ScriptedServer; add replies with .add(prefix, Reply(...), ...)."""
    server = ScriptedServer().start()
    yield server
    server.stop()


@pytest.fixture
def llm() -> Iterator:
    """llm(replies) -> a started LLMStub, stopped after the test."""
    stubs: list[LLMStub] = []

    def start(replies: list[str]) -> LLMStub:
        stubs.append(LLMStub(replies).start())
        return stubs[-1]

    yield start
    for stub in stubs:
        stub.stop()


@pytest.fixture
def make(tmp_path: Path):
    """make(replies, **kw) -> (planner, run, model) driven by a scripted model; every Run is closed after."""
    from agent_support import make_planner

    runs: list = []

    def _make(replies: list, **kw):
        planner, run, model = make_planner(tmp_path, replies, **kw)
        runs.append(run)
        return planner, run, model

    yield _make
    for run in runs:
        run.close()


@pytest.fixture
def private_toolbox(hub_env, app_launcher) -> str:
    """acme/toolbox served by an app process of this test's own (its URL): a cancelled /slow job keeps that
    app's worker busy for a while, which must not slow the shared one down for later tests."""
    url = app_launcher(["misc"])["misc"]
    hub_env.update_space("acme/toolbox", host=url)
    return url


@pytest.fixture
def hub_client(hub_env, tmp_path: Path):
    """A spacechain Client on the Hub stand-in with the test token, outputs under tmp_path/out."""
    from spacechain.tools import Client
    from spacechain.tools.http import RetryPolicy

    with Client(token=TEST_TOKEN, out_dir=tmp_path / "out", retry=RetryPolicy(attempts=2, base_s=0.01)) as c:
        yield c


# --------------------------------------------------------------------------- Space pools


@pytest.fixture(scope="session")
def pool_apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Copies of the test apps for the Space-pool tests (tests/pool_support.py), logging every call they run."""
    from pool_support import APPS, PoolApps

    tmp = tmp_path_factory.mktemp("pool")
    log = tmp / "calls.jsonl"
    proc, urls = launch_apps(APPS, tmp / "gradio", env={"SPACECHAIN_TEST_CALL_LOG": str(log)})
    yield PoolApps(urls, log)
    stop_process(proc)


@pytest.fixture
def pool_hub(hub_env: Hub, pool_apps: Any) -> Iterator[Any]:
    """The Hub stand-in with the Space copies of tests/pool_support.py; the app call log emptied."""
    from pool_support import with_family

    with_family(hub_env, pool_apps)
    pool_apps.clear()
    yield pool_apps
