"""Space pools: equivalents through the Hub's duplicates, each confirmed from its /info; the health ledger."""

from __future__ import annotations

import json
import subprocess
import sys

from cli_support import cli

from spacechain.tools import Client
from spacechain.tools.health import Ledger
from spacechain.tools.toolset import TOOLSET, ToolContext

FLUX = "/generate"


def ids(found: list[dict]) -> list[str]:
    return [e["id"] for e in found]


def test_alternatives_json_lists_copies_with_the_same_signature(pool_hub):
    proc = cli("alternatives", "bob/flux-dev", FLUX, "--json")
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    by_id = {e["id"]: e for e in found}
    # Siblings and the origin (both directions of duplicated_from), a renamed copy found by its title.
    assert set(by_id) == {
        "ann/flux-dev",
        "zed/flux-dev",
        "zoe/flux-dev",
        "bfl/flux-dev",
        "cat/flux-dev",
        "fay/picture-maker",
    }
    assert "dan/flux-dev" not in by_id  # its app changed its signature
    assert by_id["bfl/flux-dev"]["relation"] == "origin" and by_id["bfl/flux-dev"]["stage"] == "PAUSED"
    assert by_id["ann/flux-dev"] == {
        "id": "ann/flux-dev",
        "stage": "RUNNING",
        "hardware": "zero-a10g",
        "likes": 30,
        "relation": "sibling",
        "confirmed": True,
        "health": by_id["ann/flux-dev"]["health"],
    }
    assert not by_id["cat/flux-dev"]["confirmed"] and by_id["fay/picture-maker"]["stage"] == "SLEEPING"
    # Running and confirmed first; the ones not running after.
    running = [e["confirmed"] for e in found]
    assert running == sorted(running, reverse=True)
    assert set(by_id["ann/flux-dev"]["health"]) >= {"calls", "failures", "typical_run_s", "last_error", "last_error_at"}


def test_a_paused_origin_is_matched_by_the_signature_its_copies_share(pool_hub):
    with Client(out_dir=pool_hub.call_log.parent / "out") as client:
        found = client.pool.alternatives("bfl/flux-dev", FLUX)
    by_id = {e.id: e for e in found}
    assert {"ann/flux-dev", "bob/flux-dev", "zed/flux-dev", "zoe/flux-dev"} <= set(by_id)
    assert "dan/flux-dev" not in by_id
    assert all(by_id[i].relation == "duplicate" for i in ("ann/flux-dev", "bob/flux-dev"))
    # Paid hardware before ZeroGPU (no quota spent), all else equal.
    assert found[0].id == "bob/flux-dev"


def test_alternatives_text_and_a_url_is_one_line_error(pool_hub):
    proc = cli("alternatives", "tre/trellis-3d")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].startswith("tri/trellis-3d  ♥4  RUNNING  a10g-small  duplicate  health:")
    bad = cli("alternatives", "http://127.0.0.1:9/")
    assert bad.returncode != 0 and bad.stderr.startswith("error: ") and len(bad.stderr.splitlines()) == 1


def test_find_alternatives_tool(pool_hub, tmp_path):
    tool = next(s for s in TOOLSET if s.name == "find_alternatives")
    with Client(out_dir=tmp_path) as client:
        found = tool.call(ToolContext(client), "tri/trellis-3d", "/extract_glb")
    # Its origin, then a Space with the same API found by its title (not a duplicate on the Hub's record).
    assert ids(found) == ["tre/trellis-3d", "acme/trellis-lite"]
    assert [e["relation"] for e in found] == ["origin", "same name"] and all(e["confirmed"] for e in found)


def test_calls_are_kept_in_the_ledger_and_shown_in_search_and_inspect(pool_hub, tmp_path):
    with Client(out_dir=tmp_path) as client:
        client.call("ann/flux-dev", FLUX, {"prompt": "a red fox"})
        try:
            client.call("cat/flux-dev", FLUX, {"prompt": "a red fox"})
        except Exception as exc:
            assert exc.__class__.__name__ == "SpaceNotRunning"
        ann = client.health.health("ann/flux-dev", FLUX)
        cat = client.health.health("cat/flux-dev")
    assert ann.calls == 1 and ann.failures == 0 and ann.typical_run_s is not None
    assert cat.calls == 1 and cat.failures == 1 and cat.last_error == "space_not_running" and cat.last_error_at
    hits = {h["id"]: h for h in json.loads(cli("search", "flux dev", "--all", "--json", "--limit", "20").stdout)}
    assert hits["ann/flux-dev"]["health"]["calls"] == 1 and hits["cat/flux-dev"]["health"]["failures"] == 1
    shown = json.loads(cli("inspect", "ann/flux-dev", "--json").stdout)
    assert shown["health"]["calls"] == 1 and shown["endpoints"][FLUX]["health"]["calls"] == 1
    assert "health: 1 call, 0 failed, typical run" in cli("inspect", "ann/flux-dev").stdout
    tool = next(s for s in TOOLSET if s.name == "search_spaces")
    with Client(out_dir=tmp_path) as client:
        found = {h["id"]: h for h in tool.call(ToolContext(client), "flux dev", 20)}
    assert found["ann/flux-dev"]["health"]["calls"] == 1


_WRITER = """
import sys
from spacechain.tools.health import Ledger
ledger = Ledger(sys.argv[1])
for i in range(150):
    ledger.record("acme/shared", "/go", "ok" if i % 3 else "queue_full", "full", 0.1, 1.0 + i % 2)
"""


def test_two_processes_share_the_ledger(tmp_path):
    path = tmp_path / "health.sqlite"
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(path)]) for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    h = Ledger(path).health("acme/shared", "/go")
    assert h.calls == 300 and h.failures == 100 and h.last_error == "queue_full"
    assert h.typical_run_s in (1.0, 1.5, 2.0)


def test_the_ledger_is_bounded_and_skips_what_is_the_callers(tmp_path):
    ledger = Ledger(tmp_path / "h.sqlite", max_rows=150)
    for _ in range(400):
        ledger.record("acme/a", "/go", "ok", run_s=1.0)
    ledger.record("acme/a", "/go", "invalid_inputs")
    h = ledger.health("acme/a")
    assert 150 <= h.calls < 250 and h.failures == 0
    unwritable = Ledger(tmp_path / "file" / "h.sqlite")
    (tmp_path / "file").write_text("not a folder")
    unwritable.record("acme/a", "/go", "ok")  # advice only: never fails the call
    assert unwritable.health("acme/a").calls == 0


def test_search_puts_a_space_whose_recent_calls_failed_after_the_others(pool_hub, tmp_path):
    with Client(out_dir=tmp_path) as client:
        before = [h.id for h in client.search("flux dev", limit=20)]
        for _ in range(4):
            client.health.record("zed/flux-dev", "/generate", "quota_exceeded", "spent")
        hits = client.search("flux dev", limit=20)
    after = [h.id for h in hits]
    assert before[-1] != "zed/flux-dev" and after[-1] == "zed/flux-dev"
    assert [i for i in after if i != "zed/flux-dev"] == [i for i in before if i != "zed/flux-dev"]
    assert hits[-1].health["failures"] == 4 and hits[-1].health["last_error"] == "quota_exceeded"
