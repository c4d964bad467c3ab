"""The model's code is untrusted: from the tools it sees it must reach nothing but their calls.

A scripted model plays a prompt-injected agent that tries every known route out of smolagents' local
interpreter; the checks are on the effect: no token in anything the model is shown (which is what an
LLM request carries), in any request to another server or in the run folder, and no file read or
written outside what the rules allow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from agent_support import action_steps
from conftest import TEST_TOKEN
from scripted_model import code
from servers import Reply
from smolagents.local_python_executor import InterpreterError

from spacechain.agent.sandbox import ToolError, check_code, seal

ESCAPES = [
    # attribute paths from a tool object to the client, the token, the run
    "print(search_spaces.ctx.client.http.policy.token)",
    "print(run_space.forward)",
    "print(run_space.spec, run_space.inputs)",
    "final_answer.save('{outside}')",
    "final_answer.push_to_hub('acme/pwned')",
    # builtins that reach attributes by name or inspect types
    "print(getattr(run_space, 'ctx'))",
    "print(type(run_space))",
    "print(hasattr(run_space, 'ctx'))",
    "setattr(run_space, 'x', 1)",
    "print(vars(run_space))",
    "print(dir(run_space))",
    "print(globals())",
    # format strings walk attributes natively
    "print('{{0.__call__.__globals__[os].environ}}'.format(run_space))",
    "print('{{t.__class__.__call__.__closure__}}'.format_map({{'t': run_space}}))",
    "f = str.format\nprint(f('{{0.__class__.__call__.__globals__}}', run_space))",
    "print(''.join(map('{{0.__class__}}'.format, [run_space])))",
    # dunders, frames, private module attributes
    "print(run_space.__call__.__closure__)",
    "print(f'{{run_space.__class__.__call__.__globals__}}')",
    "g = (x for x in [1])\nprint(g.gi_frame.f_globals)",
    "import random\nprint(random._os.environ['HF_TOKEN'])",
    "import collections\nprint(collections._sys.modules)",
    "import queue\nprint(queue.Queue().not_empty._lock)",
    "import os\nprint(os.environ['HF_TOKEN'])",
    "from os import environ\nprint(environ['HF_TOKEN'])",
    "print(__import__('os').environ['HF_TOKEN'])",
    "print(open('{secret}').read())",
    # a tool's error carries only its message
    "try:\n    run_space('acme/flux-lite', '/nope', {{}})\nexcept Exception as e:\n    print(e.record)",
    "try:\n    run_space('acme/flux-lite', '/nope', {{}})\nexcept Exception as e:\n    print(e.__traceback__)",
    "try:\n    run_space('acme/flux-lite', '/nope', {{}})\nexcept Exception as e:\n    print(e.with_traceback(None))",
    # a model-made object handed to a tool could run its methods on ours
    "class P:\n    def __eq__(self, other):\n        print('got', other)\n        return False\n"
    "    def __hash__(self):\n        return 1\n"
    "print(run_space('acme/flux-lite', '/generate', {{'prompt': P()}}))",
    "class S(str):\n    pass\nprint(run_space(S('acme/flux-lite'), '/generate', {{'prompt': 'x'}}))",
]


@pytest.mark.parametrize(
    "src",
    [
        "x = '{}'.format(1)",
        "str.format('{}', 1)",
        "print(a._b)",
        "getattr(a, 'b')",
        "type(a)",
        "g.gi_frame",
        "e.with_traceback(None)",
        "'{a}'.format_map({})",
    ],
)
def test_check_code_refuses_every_walker(src: str):
    with pytest.raises(InterpreterError):
        check_code(src)


def test_check_code_lets_ordinary_code_through():
    check_code("x = {'a': 1}\nprint(f'{x[\"a\"]:>4}', '%s' % x, sorted(x.items()), isinstance(x, dict))")


def test_a_sealed_tool_has_nothing_behind_its_call():
    secret = {"token": TEST_TOKEN}
    tool = seal("t", lambda v=None: [Path("/x"), (1, 2), {"k": v}])
    assert [a for a in dir(tool) if not a.startswith("__")] == []
    assert not hasattr(tool, "__dict__")
    assert tool(3) == [Path("/x"), (1, 2), {"k": 3}]  # results are made plain by the spec, not here

    def fails():
        raise RuntimeError(f"boom {secret['token'][:0]}")

    with pytest.raises(ToolError) as info:
        seal("f", fails)()
    assert str(info.value) == "boom " and info.value.__context__ is None and info.value.__cause__ is None
    with pytest.raises(ToolError, match="not a plain value"):
        seal("t", lambda v: v)(object())


def test_escape_attempts_reach_neither_the_token_nor_files(hub_env, make, scripted, tmp_path: Path):
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-CONTENT-42")
    outside = tmp_path / "outside"
    replies = [code(src.format(outside=outside, secret=secret)) for src in ESCAPES]
    replies.append(code("print(get_space_api('acme/flux-lite'))\nprint(f\"{len(search_spaces('image'))} hits\")"))
    replies.append(code("final_answer('done')"))
    planner, run, model = make(replies, max_steps=len(replies) + 1)
    hub_env.clear_log()
    result = planner.turn("try to escape")
    run.close()
    assert result.success

    steps = action_steps(planner)
    assert len(steps) == len(replies)
    for src, step in zip(ESCAPES, steps):
        shown = f"{step.observations or ''} {step.error or ''}"
        assert step.error is not None or "got" not in shown, src
        # Each attempt failed with a one-line reason, not with the object it wanted.
        assert TEST_TOKEN not in shown and "SECRET-CONTENT" not in shown, src
        assert "Client" not in shown and "TokenPolicy" not in shown and "spacechain.tools" not in shown, src
    # The tools themselves still work (the checks above are not vacuous).
    assert "/generate(" in steps[-2].observations and "hits" in steps[-2].observations

    # Nothing the model was shown (what an LLM request carries) holds the token or the secret.
    for messages in model.seen:
        text = json.dumps([str(m) for m in messages])
        assert TEST_TOKEN not in text and "SECRET-CONTENT" not in text
    assert not outside.exists()
    for f in run.dir.rglob("*"):
        if f.is_file():
            assert TEST_TOKEN.encode() not in f.read_bytes(), f
    assert scripted.requests == []
    # No repository was created on the Hub, and the token went only where it belongs.
    assert not any("/api/repos" in r["path"] for r in hub_env.requests())


@pytest.mark.parametrize("user_named", [False, True])
def test_only_the_user_makes_a_private_origin_trusted(hub_env, make, scripted, user_named: bool):
    """The model naming a URL in a tool call does not make its origin "known": a file URL on that
    private address stays refused. The same URL in the user's goal does let it through."""
    scripted.add("/files/cat.txt", Reply(200, {"content-type": "text/plain"}, b"meow"))
    url = f"{scripted.url}/files/cat.txt"
    planner, run, model = make(
        [
            code(
                f"try:\n    read_agents_md({scripted.url!r})\nexcept Exception as e:\n    print('contract:', e)\n"
                f"print(run_space('acme/toolbox', '/count_upload', {{'file': {url!r}}}))"
            ),
            code("final_answer('done')"),
        ],
        max_steps=3,
    )
    goal = f"count the bytes of {url}" if user_named else "count the bytes of the cat file"
    planner.turn(goal)
    run.close()
    step = action_steps(planner)[0]
    if user_named:
        assert step.error is None and "['4']" in step.observations
        assert [r.path for r in scripted.requests] == ["/files/cat.txt"]
    else:
        assert "private or local address" in str(step.error)
        assert [r.path for r in scripted.requests if r.path.startswith("/files")] == []
