"""`spacechain chat` in a pseudo-terminal (pexpect): commands, memory across turns, Ctrl-C mid-turn."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pexpect
from cli_support import EXIT_WAIT_S, SPACECHAIN, blob, cli_env, has_call, scripted_args, wait_for
from PIL import Image

PROMPT = "spacechain>"  # prompt_toolkit moves the cursor instead of printing the space
ESCAPES = r"(?:\x1b\[[0-9;?]*[A-Za-z])*"


def printed_line(pattern: str) -> str:
    """A regex for a line the REPL printed (it may start with terminal escapes): an answer, not the
    echo of the model's code, which has other text before it on its line."""
    return r"\n" + ESCAPES + pattern + r"\r?\n"


def test_chat_session(hub_env, private_toolbox, llm, tmp_path: Path):
    stub = llm(
        [
            # turn 1
            blob('img = run_space("acme/flux-lite", "/generate", {"prompt": "a cat"})[0]\nprint(img)'),
            blob('final_answer("cat image: " + img)'),
            # turn 2: `img` from turn 1 is still defined
            blob('final_answer("same cat again: " + img)'),
            # turn 3: cancelled with Ctrl-C while the Space works
            blob('print(run_space("acme/toolbox", "/slow", {"seconds": 30}))'),
            # turn 4
            blob('final_answer("hello after the cancel")'),
        ]
    )
    out = tmp_path / "run"
    attach = tmp_path / "photo.png"
    Image.new("RGB", (8, 8), (1, 2, 3)).save(attach)
    env = cli_env(hub_env.url, tmp_path, TERM="xterm-256color", PROMPT_TOOLKIT_NO_CPR="1")
    child = pexpect.spawn(
        SPACECHAIN,
        scripted_args("chat", api_base=stub.url, out=out),
        env=env,
        dimensions=(40, 200),
        encoding="utf-8",
        codec_errors="replace",  # a ^C echo can land inside a multi-byte character
        timeout=EXIT_WAIT_S,  # each step waits for its output; generous, as a loaded machine is slow
    )
    try:
        child.expect("spacechain chat")
        child.expect_exact(PROMPT)

        child.sendline("/help")
        # (the echo of what was typed holds "/help": start matching at the next line of the help)
        for command in ("/model NAME", "/reset", "/files", "/attach PATH", "/save", "/exit"):
            child.expect_exact(command)
        child.expect_exact(PROMPT)

        child.sendline("make an image of a cat")
        child.expect(printed_line(r"cat image: (\S+\.png)"))
        image = child.match.group(1)
        child.expect_exact(PROMPT)
        assert Path(image).is_file() and Path(image).parent == out.resolve()

        child.sendline("use the same image again")
        child.expect(printed_line(re.escape("same cat again: " + image)))
        child.expect_exact(PROMPT)
        assert len(stub.requests) == 3
        last = json.dumps(stub.requests[-1]["messages"])
        assert "make an image of a cat" in last and "use the same image again" in last

        child.sendline("/files")
        child.expect_exact("produced  " + image)
        child.expect_exact(PROMPT)

        child.sendline(f"/attach {attach}")
        child.expect_exact(f"attached {attach.resolve()}")
        child.expect_exact(PROMPT)
        child.sendline("/attach /nope")
        child.expect(r"error:.*File /nope does not exist")
        child.expect_exact(PROMPT)
        child.sendline("/files")
        child.expect_exact(f"attached  {attach.resolve()}")
        child.expect_exact(PROMPT)

        child.sendline("wait for a slow job")
        wait_for(lambda: has_call(out / "manifest.json", "/slow"), 120, "the /slow call")
        child.sendintr()  # the call is submitted: the Ctrl-C cancels it (the manifest says so below)
        child.expect_exact("turn cancelled")
        child.expect_exact(PROMPT)

        child.sendline("say hello")
        child.expect(printed_line("hello after the cancel"))
        child.expect_exact(PROMPT)

        child.sendline("/exit")
        child.expect(pexpect.EOF)
        # On the way out the run is saved once: one usage table, then the gallery.
        assert child.before.count("Space usage") == 1
    finally:
        child.close(force=True)
    assert child.exitstatus == 0, child.before

    assert len(stub.requests) == 5
    m = json.loads((out / "manifest.json").read_text())
    assert [t["goal"] for t in m["turns"]] == [
        "make an image of a cat",
        "use the same image again",
        "wait for a slow job",
        "say hello",
    ]
    assert [t["status"] for t in m["turns"]] == ["success", "success", "interrupted", "success"]
    assert m["turns"][1]["final_answer"] == "same cat again: " + image
    assert m["user_files"][0]["path"] == str(attach.resolve())
    slow = [c for c in m["calls"] if c["endpoint"] == "/slow"]
    assert len(slow) == 1 and slow[0]["status"] == "error" and slow[0]["error"]["error"] == "cancelled"
    assert m["files"] == [image]
    assert (out / "gallery.html").is_file()
    assert re.search(r"\S", (tmp_path / "state" / "spacechain" / "history").read_text())
