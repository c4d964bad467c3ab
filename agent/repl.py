"""`spacechain chat`: a REPL whose turns share the agent's memory, one run folder and one manifest."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

from rich.text import Text

from spacechain.tools import SpacechainError

from .display import clean, err
from .run import clean_text
from .runner import Planner

HELP = """Type a goal, or a command:
  /help          this help
  /model NAME    switch the LLM (same syntax as --model)
  /reset         forget the conversation (files and the run folder stay)
  /files         list files you attached and files produced so far
  /attach PATH   let the agent use a local file
  /save          write the manifest and gallery now
  /exit          leave (Ctrl-D works too); Ctrl-C cancels the running turn"""


def say(text: str) -> None:
    """print() for anything that may hold Space, model or user text."""
    print(clean(text))


def _error(message: str) -> None:
    # Text, not markup: "[/2024]" in a path or a Space's message is not rich markup.
    err.print(Text.assemble(("error:", "red"), " ", clean(message)), highlight=False, soft_wrap=True)


class Repl:
    def __init__(
        self,
        planner: Planner,
        load_model: Callable[[str], object],
        save: Callable[[], Path],
        history: Path | None = None,
    ):
        self.planner, self.load_model, self.save = planner, load_model, save
        self.history = history

    def _reader(self) -> Callable[[], str]:
        if not sys.stdin.isatty():
            return lambda: input("spacechain> ")
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory, InMemoryHistory

        if self.history:
            self.history.parent.mkdir(parents=True, exist_ok=True)
        session: PromptSession = PromptSession(
            history=FileHistory(str(self.history)) if self.history else InMemoryHistory()
        )
        return lambda: session.prompt("spacechain> ")

    def loop(self) -> int:
        read = self._reader()
        out = say
        out(f"spacechain chat — run folder {self.planner.run.dir}. /help for commands.")
        while True:
            try:
                line = read().strip()
            except KeyboardInterrupt:
                continue  # Ctrl-C at the prompt clears the line, as in a shell
            except EOFError:
                break
            if not line:
                continue
            if line.startswith("/"):
                if self.command(line) == "exit":
                    break
                continue
            result = self.planner.turn(line)
            if result.status == "interrupted":
                err.print(Text("turn cancelled", style="yellow"))
            elif result.error:
                _error(result.error)
            if result.answer is not None:
                out(clean_text(str(result.answer)))  # a lone surrogate must not end the session
        return 0  # the caller closes the run, then saves it (saving here too printed the stats twice)

    def command(self, line: str) -> str | None:
        name, _, arg = line.partition(" ")
        arg = arg.strip()
        run = self.planner.run
        try:
            if name in ("/exit", "/quit"):
                return "exit"
            if name == "/help":
                print(HELP)
            elif name == "/reset":
                self.planner.reset()
                say("conversation forgotten")
            elif name == "/files":
                for f in run.manifest["user_files"]:
                    say(f"attached  {f['path']}")
                record = run.record()
                for f in record.produced():
                    call = record.producer(f)
                    via = f"  ← {call.space} {call.endpoint}" if call else ""
                    say(f"produced  {f}{via}")
            elif name == "/attach":
                if not arg:
                    raise SpacechainError("/attach needs a path: /attach PATH")
                say(f"attached {run.allow(arg)}")
            elif name == "/model":
                if not arg:
                    say(f"model: {run.manifest['model']}")
                else:
                    self.planner.set_model(self.load_model(arg))
                    run.manifest["model"] = arg
                    say(f"model: {arg}")
            elif name == "/save":
                say(f"saved {self.save()}")
            else:
                raise SpacechainError(f"unknown command {name}; /help lists the commands")
        except (SpacechainError, OSError, ValueError) as exc:  # ValueError: a NUL byte in a path
            _error(str(exc))
        return None
