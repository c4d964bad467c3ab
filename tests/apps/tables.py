"""acme/sheets: outputs gradio's `/call` route cannot encode as JSON while its queue route can (a table
of pandas timestamps, a numpy count, a table holding PIL images), one of them writing gr.State; each
endpoint counts its runs so a test can tell a call that ran twice."""

from __future__ import annotations

from collections import Counter
from typing import Iterator

import gradio as gr
import numpy as np
import pandas as pd
from PIL import Image

RUNS: Counter[str] = Counter()


def prices(days: int = 3) -> pd.DataFrame:
    """A daily price table, dated with pandas timestamps."""
    RUNS["prices"] += 1
    return _table(int(days))


def count(text: str) -> np.int64:
    """The number of words, as numpy computes it."""
    RUNS["count"] += 1
    return np.int64(len(np.array(text.split())))


def thumbs(n: int = 2) -> pd.DataFrame:
    """A table of thumbnails (PIL images in cells)."""
    RUNS["thumbs"] += 1
    return pd.DataFrame({"thumb": [Image.new("RGB", (2, 2), (i * 40, 0, 0)) for i in range(int(n))]})


def log_price(price: float, history: list | None) -> tuple[pd.DataFrame, list]:
    """Append a price to the session's log (gr.State) and return the log, timestamped."""
    RUNS["log_price"] += 1
    history = [*(history or []), float(price)]
    when = pd.date_range("2024-01-01", periods=len(history), freq="D")
    return pd.DataFrame({"date": when, "price": history}), history


def ticker(days: int = 3) -> Iterator[pd.DataFrame]:
    """A live price table growing a timestamped row at a time (gradio streams it as diffs)."""
    RUNS["ticker"] += 1
    for n in range(1, int(days) + 1):
        yield _table(n)


def _table(days: int) -> pd.DataFrame:
    when = pd.date_range("2024-01-01", periods=days, freq="D")
    return pd.DataFrame({"date": when, "price": [100 + i for i in range(days)]})


def runs(name: str) -> int:
    """How many times an endpoint of this app has run."""
    return RUNS[name]


def build_tables() -> gr.Blocks:
    with gr.Blocks(title="Sheets") as demo:
        days, table = gr.Number(label="Days", value=3, precision=0), gr.Dataframe(label="Prices")
        gr.Button("prices").click(prices, days, table, api_name="prices")
        gr.Button("ticker").click(ticker, days, table, api_name="ticker")
        text, words = gr.Textbox(label="Text"), gr.Number(label="Words")
        gr.Button("count").click(count, text, words, api_name="count")
        n, pics = gr.Number(label="N", value=2, precision=0), gr.Dataframe(label="Thumbnails")
        gr.Button("thumbs").click(thumbs, n, pics, api_name="thumbs")
        price, log, history = gr.Number(label="Price"), gr.Dataframe(label="Log"), gr.State([])
        gr.Button("log").click(log_price, [price, history], [log, history], api_name="log_price")
        name, ran = gr.Textbox(label="Endpoint"), gr.Number(label="Runs", precision=0)
        gr.Button("runs").click(runs, name, ran, api_name="runs")
    return demo
