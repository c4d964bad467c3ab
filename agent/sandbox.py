"""The executor the model's code runs in: smolagents' local interpreter, sealed.

smolagents' LocalPythonExecutor only refuses dunder attributes. Left as it is, the model's code could
walk from a tool object to the client and the HF token (`run_space.ctx.client...`), call `getattr` /
`setattr` / `type`, save or push a smolagents Tool, or let a format string walk attributes natively
(`"{0.__globals__[os].environ}".format(f)` reaches every module). Here:

- every tool is a sealed callable: an instance of a class with no attributes but its call, which
  takes and returns plain JSON values and raises a bare `ToolError` carrying only a message;
- the code is checked before it runs: no attribute that starts with `_`, no `format`/`format_map`
  (the native attribute walkers) and no frame, code or traceback attributes;
- the builtins that reach attributes by name or inspect types (`getattr`, `setattr`, `hasattr`,
  `type`…) are removed."""

from __future__ import annotations

import ast
from dataclasses import replace
from typing import Any, Callable

from smolagents.local_python_executor import InterpreterError, LocalPythonExecutor

from spacechain.tools.toolset import check_plain

__all__ = ["SealedExecutor", "ToolError", "check_code", "seal"]

# Attribute names that walk objects natively or expose frames, code and tracebacks.
DENIED_ATTRIBUTES = frozenset(
    """
format format_map vformat mro gi_frame gi_code gi_yieldfrom gi_running cr_frame cr_code cr_await cr_origin
ag_frame ag_code ag_await tb_frame tb_next tb_lasti f_globals f_locals f_builtins f_back f_code f_trace
co_code co_consts co_names func_globals func_closure im_func im_self with_traceback
""".split()
)
# Builtins smolagents puts in reach that inspect or reach attributes by name.
DENIED_BUILTINS = frozenset(
    {
        "getattr",
        "setattr",
        "hasattr",
        "delattr",
        "type",
        "vars",
        "dir",
        "globals",
        "locals",
        "eval",
        "exec",
        "compile",
        "open",
        "__import__",
        "breakpoint",
        "input",
        "memoryview",
        "object",
        "help",
    }
)


class ToolError(Exception):
    """A tool's failure as the model's code sees it: a message, nothing else."""


def check_code(code: str) -> None:
    """Refuse code that reaches for attributes the sandbox keeps closed (InterpreterError, one line)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return  # the executor reports syntax errors itself, with the line
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and (node.attr.startswith("_") or node.attr in DENIED_ATTRIBUTES):
            raise InterpreterError(
                f"Forbidden access to attribute '{node.attr}' (line {node.lineno}): the "
                "sandbox allows no private, format or frame attributes; use f-strings and "
                "the tools' results instead."
            )
        if isinstance(node, ast.Name) and node.id in DENIED_BUILTINS:
            raise InterpreterError(f"Forbidden name '{node.id}' (line {node.lineno}): not available in this sandbox.")


def seal(name: str, fn: Callable[..., Any], *, plain_args: bool = True) -> Any:
    """A callable with nothing behind it: no attributes but its call (whose closure holds `fn`, reachable
    only through dunder attributes and format strings, both refused). Arguments must be plain values
    (a model-made object could run its own methods on ours); failures become a bare ToolError raised
    outside the except block, so it carries no context that leads back to the original exception."""

    def call(_self: Any, *args: Any, **kwargs: Any) -> Any:
        message = None
        try:
            if plain_args:
                args = tuple(check_plain(a, name) for a in args)
                kwargs = {str(k): check_plain(v, name) for k, v in kwargs.items()}
            return fn(*args, **kwargs)
        except Exception as exc:
            message = str(exc) or exc.__class__.__name__
        raise ToolError(message)

    def describe(_self: Any) -> str:
        return f"<tool {name}>"

    return type(name, (), {"__slots__": (), "__call__": call, "__repr__": describe})()


class SealedExecutor(LocalPythonExecutor):
    """LocalPythonExecutor with sealed tools, checked code and no attribute-reaching builtins. `notes` gives
    the lines the tools left for the model (a call that ran on another Space), added to the step's logs."""

    def __init__(self, *args: Any, notes: Callable[[], list[str]] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._notes = notes or list

    def send_tools(self, tools: dict[str, Any]) -> None:
        sealed = {name: seal(name, tool, plain_args=name != "final_answer") for name, tool in tools.items()}
        super().send_tools(sealed)
        for name in DENIED_BUILTINS:
            self.static_tools.pop(name, None)

    def __call__(self, code_action: str):
        check_code(code_action)
        try:
            out = super().__call__(code_action)
        except BaseException:
            self._notes()  # an error step shows its own message; its moves are in the manifest
            raise
        notes = self._notes()
        if notes:
            out = replace(out, logs=out.logs + "".join(f"[spacechain] {line}\n" for line in notes))
        return out
