"""`spacechain app`: a recorded run as a folder that is a complete Gradio Space.

The folder holds app.py (prompts/app_template.py.txt, unchanged), app.json (the rewired chain, its
inputs, outputs and examples), a copy of the protocol core (spacechain/tools, no agent, no LLM),
requirements.txt and a README.md whose front matter is the Space card."""

from __future__ import annotations

import json
import re
import shutil
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

from spacechain.tools import InvalidInputs, SpacechainError
from spacechain.tools.kinds import kind_of_name, media_of, sniff
from spacechain.tools.nested import KEEP, transform_at

from .replay import Ref, _index_outputs, build_chain

__all__ = ["generate_app", "hub_write", "plan_app", "push_app"]

GRADIO_FALLBACK = "6.31.0"  # the Gradio spacechain is tested with, when none is installed here
# Text inputs a visitor would change; every other recorded value goes under "Advanced".
PROMPT_NAMES = re.compile(r"prompt|text|caption|description|query|question|instruction|message", re.I)
UPLOADS = ("image", "audio", "video", "file")
MARKERS = ({"$input"}, {"$ref"}, {"$lit"})  # app.json's own keys; a recorded dict shaped so is escaped


def _family(path: str, kind: str | None = None) -> str:
    """image, audio, video, model3d or file: what a file is, by its bytes when it is still here."""
    if not kind:
        try:
            kind = sniff(path)
        except OSError:
            kind = kind_of_name(path)
    family = media_of(kind)
    return family if family in ("image", "audio", "video", "model3d") else "file"


def _ident(name: str) -> str:
    ident = re.sub(r"[^a-z0-9_]+", "_", str(name).lower()).strip("_") or "input"
    return f"v_{ident}" if ident[0].isdigit() or ident in ("oauth_token", "progress") else ident


def _label(name: str) -> str:
    return str(name).replace("_", " ").strip().capitalize() or "Input"


def plan_app(manifest: dict, title: str | None = None) -> dict:
    """app.json for a manifest: each user file an upload, prompts as textboxes, other scalars advanced."""
    chain = build_chain(manifest)
    user_files = {f.get("path") for f in manifest.get("user_files", []) if isinstance(f.get("path"), str)}
    completed = [c for c in manifest.get("calls", []) if c.get("status") == "complete"]
    names = [k for c in chain.calls if isinstance(c.inputs, dict) for k in c.inputs]
    inputs: list[dict] = []
    by_file: dict[str, str] = {}
    taken: set[str] = set()

    def unique(name: str, n: int) -> str:
        base = _ident(name)
        ident = base if names.count(name) <= 1 and base not in taken else f"{base}_{n + 1}"
        while ident in taken:
            ident += "_"
        taken.add(ident)
        return ident

    def encode(value: Any, param: str, n: int) -> Any:
        def visit(v: Any, at: tuple) -> Any:
            if isinstance(v, Ref):
                return {"$ref": [v.call, *v.path]}
            if isinstance(v, dict) and set(v) in MARKERS:
                return {"$lit": v}
            if not (isinstance(v, str) and v in user_files):
                return KEEP
            if v not in by_file:
                name = next((k for k in reversed(at) if isinstance(k, str)), param)  # the nearest key
                by_file[v] = unique(name, n)
                inputs.append(
                    {
                        "name": by_file[v],
                        "label": _label(name),
                        "kind": _family(v) if _family(v) in UPLOADS else "file",
                        "value": v,
                        "advanced": False,
                    }
                )
            return {"$input": by_file[v]}

        return transform_at(value, visit)

    calls = []
    for n, call in enumerate(chain.calls):
        coded: Any
        if isinstance(call.inputs, dict):
            coded = {}
            for key, value in call.inputs.items():
                scalar = isinstance(value, (str, int, float, bool)) and not (
                    isinstance(value, str) and value in user_files
                )
                if not scalar:
                    coded[key] = encode(value, key, n)
                    continue
                prompt = isinstance(value, str) and bool(PROMPT_NAMES.search(key))
                kind = "checkbox" if isinstance(value, bool) else "text" if isinstance(value, str) else "number"
                ident = unique(key, n)
                where = f" ({call.space} {call.endpoint})" if names.count(key) > 1 else ""
                inputs.append(
                    {
                        "name": ident,
                        "label": _label(key) + where,
                        "kind": kind,
                        "value": value,
                        "advanced": not prompt,
                        "prompt": prompt,
                    }
                )
                coded[key] = {"$input": ident}
        else:
            coded = encode(call.inputs, "input", n)
        calls.append({"space": call.space, "endpoint": call.endpoint, "session": call.session, "inputs": coded})
    inputs.sort(key=lambda i: (i["advanced"], i["kind"] not in UPLOADS))  # uploads, prompts, then the rest
    spaces = list(dict.fromkeys(c.space for c in chain.calls))
    goal = " ".join(chain.goal.split())
    return {
        "title": title or (goal[:60] if goal else "spacechain app"),
        "description": f"Runs {' → '.join(spaces)} with your inputs, the chain a spacechain agent found for: {goal}",
        "short_description": f"Chain of {', '.join(spaces)}"[:60],
        "goal": goal,
        "spacechain": _version(),
        "inputs": inputs,
        "calls": calls,
        "outputs": _outputs(completed),
        "examples": [],
    }


def _outputs(completed: list[dict]) -> list[dict]:
    """The first file each call produced (the stage's result); when none is a file, the last call's outputs:
    its text when it returned one, else all of them as JSON."""
    shown = []
    for n, c in enumerate(completed):
        files = {f.get("local"): f.get("kind") for f in c.get("files", []) if f.get("direction") == "out"}
        for value, path in _index_outputs(c.get("outputs")).items():
            if value in files:
                label = f"{c['space']} {c['endpoint']}"
                shown.append({"call": n, "path": list(path), "kind": _family(value, files[value]), "label": label})
                break
    if shown:
        return shown
    last = completed[-1].get("outputs") if completed else None
    if isinstance(last, list) and len(last) == 1 and isinstance(last[0], str):  # one text: a transcript, a caption
        return [{"call": len(completed) - 1, "path": [0], "kind": "text", "label": "Result"}]
    return [{"call": len(completed) - 1, "path": [], "kind": "json", "label": "Result"}]


def _version() -> str:
    from spacechain import __version__

    return __version__


def _installed(package: str, fallback: str | None = None) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        if fallback:
            return fallback
        raise SpacechainError(f"{package} is not installed; install it to generate an app.") from None


def _examples(spec: dict, folder: Path, extra: list[dict[str, str]]) -> list[list]:
    """The recorded run first, then each --example (unnamed inputs keep the recorded values)."""
    by_name = {i["name"]: i for i in spec["inputs"]}
    unknown = sorted({k for row in extra for k in row if k not in by_name})
    if unknown:
        raise InvalidInputs(
            f"--example {', '.join(unknown)} matches no input of the app; inputs: {', '.join(by_name) or 'none'}."
        )
    (folder / "examples").mkdir(exist_ok=True)
    rows = []
    for r, row in enumerate([{}, *extra]):
        values = []
        for i in spec["inputs"]:
            value: Any = row.get(i["name"], i["value"])
            if i["kind"] in UPLOADS:
                src = Path(str(value)).expanduser()
                if not src.is_file():
                    raise InvalidInputs(f"example file {src} does not exist; give the path of an existing file.")
                dest = folder / "examples" / f"{r + 1}-{i['name']}{src.suffix.lower()}"
                shutil.copyfile(src, dest)
                value = str(dest.relative_to(folder))
            elif i["name"] in row:
                value = _parse(i, str(value))
            values.append(value)
        rows.append(values)
    for i in spec["inputs"]:
        if i["kind"] in UPLOADS:
            i["value"] = None  # the recorded path is the maker's; the example copy travels with the app
    return rows


def _parse(spec: dict, text: str) -> Any:
    if spec["kind"] == "checkbox":
        if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise InvalidInputs(f"--example {spec['name']}={text}: give true or false.")
        return text.lower() in ("true", "1", "yes")
    if spec["kind"] == "number":
        try:
            return int(text) if isinstance(spec["value"], int) else float(text)
        except ValueError:
            raise InvalidInputs(f"--example {spec['name']}={text}: give a number.") from None
    return text


def _card(spec: dict, sdk_version: str) -> str:
    # JSON strings are valid YAML double-quoted scalars: a title with quotes or colons stays one value.
    fields = {
        "title": spec["title"][:60],
        "emoji": "🔗",
        "colorFrom": "indigo",
        "colorTo": "green",
        "sdk": "gradio",
        "sdk_version": sdk_version,
        "app_file": "app.py",
        "hf_oauth": True,
        "short_description": spec["short_description"],
    }
    front = "\n".join(f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in fields.items())
    steps = "\n".join(f"{n}. `{c['space']}` `{c['endpoint']}`" for n, c in enumerate(spec["calls"], start=1))
    return (
        f"---\n{front}\n---\n\n# {spec['title']}\n\n{spec['description']}\n\n{steps}\n\n"
        "Sign in with Hugging Face to run it: every Space call goes with your own token and ZeroGPU quota.\n"
        "Run it locally with `pip install -r requirements.txt && python app.py` (it then uses your local HF token).\n\n"
        f"Made with spacechain {spec['spacechain']} (`spacechain app`).\n"
    )


def generate_app(
    run_dir: Path, out: Path, *, title: str | None = None, examples: list[dict[str, str]] | None = None
) -> Path:
    """Write the app folder for a run; returns the folder. Refuses a folder holding something else."""
    import spacechain
    import spacechain.tools
    from spacechain import prompts

    from .replay import load_manifest

    manifest = load_manifest(Path(run_dir))
    spec = plan_app(manifest, title)
    if not any(i["kind"] in UPLOADS or i.get("prompt") for i in spec["inputs"]):
        raise SpacechainError("The run's chain has no user file or prompt to expose; an app needs a user input.")
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not (out / "app.json").is_file():
        raise SpacechainError(f"{out} is not empty and holds no generated app; choose another -o folder.")
    out.mkdir(parents=True, exist_ok=True)
    spec["examples"] = _examples(spec, out, examples or [])
    sdk_version = _installed("gradio", GRADIO_FALLBACK)
    # The protocol core travels with the app: spacechain is not on PyPI, and the agent is not needed.
    core = out / "spacechain" / "tools"
    shutil.rmtree(out / "spacechain", ignore_errors=True)
    core.mkdir(parents=True)
    shutil.copyfile(spacechain.__file__, out / "spacechain" / "__init__.py")
    for src in sorted(Path(spacechain.tools.__file__).parent.glob("*.py")):
        shutil.copyfile(src, core / src.name)
    template = Path(prompts.__file__).parent / "app_template.py.txt"
    (out / "app.py").write_text(template.read_text(encoding="utf-8"), encoding="utf-8")
    (out / "app.json").write_text(json.dumps(spec, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    requirements = [
        f"gradio[oauth]=={sdk_version}",
        f"httpx=={_installed('httpx')}",
        f"huggingface_hub=={_installed('huggingface_hub')}",
    ]
    (out / "requirements.txt").write_text("\n".join(requirements) + "\n")
    (out / "README.md").write_text(_card(spec, sdk_version), encoding="utf-8")
    return out


REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}")


def hub_write(repo_id: str, write: Callable[[Any], None]) -> str:
    """Run `write(api)` with an HfApi on the Hub that holds the user's write token; the Hub's URL. A refusal
    or an unreachable Hub is a one-line error."""
    import httpx
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    from spacechain.tools.http import find_token, hub_endpoint

    token = find_token()
    if not token:
        raise SpacechainError("Pushing needs an HF token with write access: set HF_TOKEN or run `hf auth login`.")
    endpoint = hub_endpoint()
    try:
        write(HfApi(endpoint=endpoint, token=token))
    except (HfHubHTTPError, ValueError) as exc:  # ValueError: the Hub found the card's metadata invalid
        raise SpacechainError(f"The Hub refused the push to {repo_id}: {' '.join(str(exc).split())[:300]}") from None
    except httpx.HTTPError as exc:
        raise SpacechainError(f"Could not reach the Hub at {endpoint} ({type(exc).__name__}); try again.") from None
    return endpoint


def push_app(folder: Path, repo_id: str, *, private: bool = False) -> str:
    """Create (or update) the Space and upload the folder; returns the Space's URL."""
    if not REPO_ID.fullmatch(repo_id) or ".." in repo_id:
        raise InvalidInputs(f"--push {repo_id[:100]} is not a Space id; give owner/name.")

    def upload(api) -> None:
        api.create_repo(repo_id, repo_type="space", space_sdk="gradio", exist_ok=True, private=private)
        api.upload_folder(
            folder_path=str(folder),
            repo_id=repo_id,
            repo_type="space",
            commit_message="Update app made with spacechain app",
            ignore_patterns=["**/__pycache__/**", "*.pyc"],
        )

    return f"{hub_write(repo_id, upload)}/spaces/{repo_id}"
