"""acme/chat-lite: a gr.ChatInterface with a system prompt, its labels localised with gr.I18n the way
translated Spaces do it, so /gradio_api/info gives them as `translation_metadata` objects."""

from __future__ import annotations

import gradio as gr

I18N = gr.I18n(
    en={"system_prompt": "System prompt", "too_long": "Keep it under 200 characters"},
    fr={"system_prompt": "Consigne", "too_long": "Moins de 200 caractères"},
)


def reply(message: str, history: list, system: str) -> str:
    """Answer with the system prompt and the message (a stand-in for a chat model); refuse long ones with
    a localised gr.Error."""
    if len(message) > 200:
        raise gr.Error(I18N("too_long"))
    return f"[{system or 'assistant'}] you said: {message}"


def build_chat() -> gr.Blocks:
    return gr.ChatInterface(
        reply,
        title="Chat lite",
        api_name="chat",
        additional_inputs=[gr.Textbox(label=I18N("system_prompt"), value="")],
    )
