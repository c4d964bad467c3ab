"""The public surface: one version, __all__ everywhere in the protocol core, the whole error hierarchy
exported, every error's data in its to_dict()."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import spacechain
import spacechain.tools as tools
from spacechain.tools import errors


def test_one_version_everywhere():
    from importlib.metadata import version

    from spacechain.agent.run import VERSION
    from spacechain.tools.http import USER_AGENT

    assert spacechain.__version__ == version("spacechain") == VERSION
    assert f"spacechain/{spacechain.__version__}" == USER_AGENT


def test_every_core_module_declares_all_and_exports_exist():
    for info in pkgutil.iter_modules(tools.__path__):
        module = importlib.import_module(f"spacechain.tools.{info.name}")
        assert hasattr(module, "__all__"), info.name
        for name in module.__all__:
            assert hasattr(module, name), (info.name, name)
    assert set(tools.__all__) == {n for n in dir(tools) if not n.startswith("_") and n in tools.__all__}


def test_the_whole_error_hierarchy_is_exported_and_to_dict_carries_its_data():
    classes = [
        c
        for _, c in inspect.getmembers(errors, inspect.isclass)
        if issubclass(c, errors.SpacechainError) and c.__module__ == errors.__name__
    ]
    assert {c.__name__ for c in classes} <= set(tools.__all__)
    assert errors.SpacechainError.__annotations__.get("record")
    assert tools.QuotaExceeded("q", requested_s=60, left_s=5, retry_after_s=30).to_dict()["left_s"] == 5
    assert tools.EndpointNotFound("e", ["/a"]).to_dict()["available"] == ["/a"]
    assert tools.HTTPError("h", 502).to_dict()["status"] == 502
    assert tools.RateLimited("r", 9).to_dict()["retry_after_s"] == 9
    assert tools.SpaceNotRunning("s", "SLEEPING").to_dict()["stage"] == "SLEEPING"
    assert tools.PlanProblems(["a", "b"]).to_dict()["problems"] == ["a", "b"]


def test_library_entry_points_document_their_arguments():
    for fn in (tools.Client, tools.Client.call, tools.Client.submit, tools.run_pipeline, tools.run_batch):
        doc = inspect.getdoc(fn) or ""
        assert "Args" in doc, fn
