"""A scripted smolagents `Model` for in-process agent tests (the pattern verified in
/work/shared/reference/smolagents.md §4).

Each `generate` call takes the next reply (a string, or a callable that gets the messages and
returns a string or raises, e.g. KeyboardInterrupt to simulate Ctrl-C on a given step). The messages
of every call are kept in `.seen` so tests can check what the model was shown."""

from __future__ import annotations

from typing import Any, Callable

from smolagents import ChatMessage, MessageRole, Model
from smolagents.monitoring import TokenUsage

Reply = str | Callable[[list], str]


def code(src: str, thought: str = "Next step.") -> str:
    """One reply in smolagents 1.26's default format: a thought and a <code> blob."""
    return f"Thought: {thought}\n<code>\n{src.strip()}\n</code>"


class ScriptedModel(Model):
    def __init__(self, replies: list[Reply]):
        super().__init__(model_id="scripted")
        self.replies: list[Reply] = list(replies)
        self.seen: list[list] = []

    def generate(
        self, messages, stop_sequences=None, response_format=None, tools_to_call_from=None, **kwargs
    ) -> ChatMessage:
        self.seen.append(messages)
        if not self.replies:
            raise AssertionError("ScriptedModel ran out of replies")
        reply = self.replies.pop(0)
        if callable(reply):
            reply = reply(messages)
        return ChatMessage(
            role=MessageRole.ASSISTANT, content=reply, token_usage=TokenUsage(input_tokens=10, output_tokens=5)
        )

    def text_seen(self, index: int = -1) -> str:
        """Everything the model was shown in call `index`, as one string."""
        return messages_text(self.seen[index])


def messages_text(messages: list) -> str:
    parts: list[str] = []
    for m in messages:
        content: Any = m.content if hasattr(m, "content") else m.get("content")
        if isinstance(content, list):
            parts += [c.get("text", "") for c in content if isinstance(c, dict)]
        elif content:
            parts.append(str(content))
    return "\n".join(parts)
