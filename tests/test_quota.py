"""ZeroGPU quota: `spacechain quota`, and the figures before and after a run in its manifest."""

from __future__ import annotations

import json

import pytest
from scripted_model import code

from spacechain.tools import Client
from spacechain.tools.quota import QuotaUnavailable

QUOTA = {"base": 300, "current": 240.5, "resetsAt": "2026-12-02T08:00:00Z", "overquotaUsed": 0}


def test_the_quota_is_read_from_the_hub(hub_env):
    hub_env.set_config({**hub_env.config, "zero_gpu_quota": QUOTA})
    hub_env.clear_log()
    with Client() as client:
        q = client.hub.zero_gpu_quota()
    assert (q.total_s, q.remaining_s, q.resets_at) == (300.0, 240.5, "2026-12-02T08:00:00Z")
    assert q.describe() == "ZeroGPU: 240.5 of 300 GPU-seconds left, resets at 2026-12-02T08:00:00Z"
    (req,) = [r for r in hub_env.requests() if r["path"] == "/api/spaces/zero-gpu/quota"]
    assert req["headers"]["authorization"].startswith("Bearer ")


def test_a_token_without_billing_permission_gets_one_line(hub_env):
    hub_env.set_config({**hub_env.config, "zero_gpu_quota": "forbidden"})
    with Client() as client, pytest.raises(QuotaUnavailable, match="Read billing usage"):
        client.hub.zero_gpu_quota()
    with Client(token=False) as client, pytest.raises(QuotaUnavailable, match="No HF token"):
        client.hub.zero_gpu_quota()


def test_a_turn_records_the_quota_before_and_after(hub_env, make):
    hub_env.set_config({**hub_env.config, "zero_gpu_quota": QUOTA})

    def spend(messages):
        hub_env.set_config({**hub_env.config, "zero_gpu_quota": {**QUOTA, "current": 200}})
        return code('run_space("acme/flux-lite", "/generate", {"prompt": "x"})\nfinal_answer("ok")')

    planner, run, model = make([spend])
    run.record_quota("before")
    assert planner.turn("an image").success
    quota = run.record_quota("after")
    assert quota["used_s"] == 40.5 and quota["after"]["remaining_s"] == 200
    assert json.loads((run.dir / "manifest.json").read_text())["quota"]["used_s"] == 40.5


def test_an_unreadable_quota_is_noted_not_a_failure(hub_env, make):
    hub_env.set_config({**hub_env.config, "zero_gpu_quota": "forbidden"})
    planner, run, model = make([code('final_answer("ok")')])
    run.record_quota("before")
    assert planner.turn("nothing").success
    quota = run.record_quota("after")
    assert "used_s" not in quota and "Read billing usage" in quota["after"]["error"]


def test_the_quota_command(hub_env):
    from cli_support import assert_one_error_line, cli

    hub_env.set_config({**hub_env.config, "zero_gpu_quota": QUOTA})
    proc = cli("quota")
    assert proc.returncode == 0 and proc.stdout.strip().startswith("ZeroGPU: 240.5 of 300 GPU-seconds left")
    proc = cli("quota", "--json")
    assert json.loads(proc.stdout) == {
        "total_s": 300.0,
        "remaining_s": 240.5,
        "resets_at": "2026-12-02T08:00:00Z",
        "overquota_used_s": 0.0,
    }
    hub_env.set_config({**hub_env.config, "zero_gpu_quota": "forbidden"})
    assert_one_error_line(cli("quota"), "Read billing usage")
