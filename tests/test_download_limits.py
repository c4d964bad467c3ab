"""Download and read limits against hostile servers on 127.0.0.1: deadlines and caps for downloads,
bounded reads of answers (info bodies, error bodies, result streams)."""

from __future__ import annotations

import time
import tracemalloc
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Callable

import network_support
import pytest
from network_support import FAST, FILE, Hostile, MiB, app, leftovers, one_line

from spacechain.tools import CallTimeout, Cancelled, Client, HTTPError, SpacechainError, TooLarge

no_private = network_support.no_private  # fixtures shared by the network-limit modules
hostile = network_support.hostile


# --------------------------------------------------------------------------- downloads


def test_endless_download_stops_at_the_call_deadline(hostile: Hostile, tmp_path: Path) -> None:
    url = app(hostile, [FILE], hostile.stream(delay=0.01))  # ~6 MB/s, forever
    with Client(token=False, out_dir=tmp_path / "out", retry=FAST) as c:
        t0 = time.monotonic()
        with pytest.raises(CallTimeout) as err:
            c.call(url, "x", timeout=2.0)
        elapsed = time.monotonic() - t0
        assert c.records[-1].status == "error" and c.records[-1].error["error"] == "timeout"
    assert 1.5 < elapsed < 6, elapsed  # was: a 300 s read timeout per chunk and no total limit
    assert "ran out" in one_line(err.value) and hostile.hits["/gradio_api/file="] == 1
    assert leftovers(tmp_path / "out") == []  # no partial file


def test_endless_download_stops_at_the_file_cap(hostile: Hostile, tmp_path: Path) -> None:
    url = app(hostile, [FILE], hostile.stream())  # as fast as loopback goes, forever
    with Client(token=False, out_dir=tmp_path / "out", retry=FAST, max_file_bytes=MiB) as c:
        with pytest.raises(TooLarge) as err:
            c.call(url, "x", timeout=60)
    msg = one_line(err.value)
    assert f"stopped at {MiB} bytes" in msg and "SPACECHAIN_MAX_FILE_BYTES" in msg
    assert leftovers(tmp_path / "out") == []


def test_a_declared_size_over_the_cap_is_refused_before_reading(hostile: Hostile, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SPACECHAIN_MAX_FILE_BYTES", "1M")  # the environment sets the cap too
    url = app(hostile, [FILE], hostile.stream(total=64 * MiB, declare=True))
    with Client(token=False, out_dir=tmp_path / "out", retry=FAST) as c:
        assert c.http.limits.max_file_bytes == MiB
        with pytest.raises(TooLarge, match="SPACECHAIN_MAX_FILE_BYTES"):
            c.call(url, "x", timeout=60)
    assert leftovers(tmp_path / "out") == []


def test_the_call_cap_counts_all_its_files(hostile: Hostile, tmp_path: Path) -> None:
    two = [FILE, {**FILE, "path": "/tmp/gradio/y/out.bin"}]
    url = app(hostile, two, hostile.stream(total=640 * 1024))
    with Client(token=False, out_dir=tmp_path / "out", retry=FAST, max_call_bytes=MiB) as c:
        with pytest.raises(TooLarge) as err:
            c.call(url, "x", timeout=60)
    assert "SPACECHAIN_MAX_CALL_BYTES" in one_line(err.value)
    kept = leftovers(tmp_path / "out")  # the first file is whole and kept; no partial second one
    assert len(kept) == 1 and not kept[0].name.startswith(".") and kept[0].stat().st_size == 640 * 1024
    assert hostile.hits["/gradio_api/file="] >= 2


def test_the_call_cap_leaves_single_files_alone(hostile: Hostile, tmp_path: Path) -> None:
    url = app(hostile, [FILE], hostile.stream(total=640 * 1024))
    with Client(token=False, out_dir=tmp_path / "out", retry=FAST, max_call_bytes=MiB) as c:
        [path] = c.call(url, "x", timeout=60)
        [again] = c.call(url, "x", timeout=60)  # the cap is per call, not per client
    assert Path(path).stat().st_size == 640 * 1024 and Path(again).is_file()


def test_three_thousand_outputs_are_refused_before_any_download(hostile: Hostile, tmp_path: Path) -> None:
    many = [{**FILE, "path": f"/tmp/gradio/{i}/out.bin"} for i in range(3000)]
    url = app(hostile, many, hostile.stream(total=10))
    with Client(token=False, out_dir=tmp_path / "out", retry=FAST) as c:
        t0 = time.monotonic()
        with pytest.raises(TooLarge) as err:
            c.call(url, "x", timeout=60)
    msg = one_line(err.value)
    assert "3000 files" in msg and "256" in msg and "SPACECHAIN_MAX_FILES" in msg
    assert time.monotonic() - t0 < 10 and "/gradio_api/file=" not in hostile.hits
    assert leftovers(tmp_path / "out") == []


def test_a_cancelled_download_leaves_no_partial_file(hostile: Hostile, tmp_path: Path) -> None:
    url = app(hostile, [FILE], hostile.stream(delay=0.01))
    with Client(token=False, out_dir=tmp_path / "out", retry=FAST) as c:
        job = c.submit(url, "x", timeout=120)
        deadline = time.monotonic() + 10
        while not leftovers(tmp_path / "out") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert leftovers(tmp_path / "out"), "the download never started"
        job.cancel()
        t0 = time.monotonic()
        with pytest.raises(Cancelled) as err:
            job.result(10)
        assert time.monotonic() - t0 < 3  # cut at once, not after the next read timeout
    one_line(err.value)
    assert leftovers(tmp_path / "out") == []


def test_bad_limit_settings_are_one_line(monkeypatch) -> None:
    monkeypatch.setenv("SPACECHAIN_MAX_FILES", "lots")
    with pytest.raises(SpacechainError, match="SPACECHAIN_MAX_FILES"):
        Client(token=False)
    monkeypatch.delenv("SPACECHAIN_MAX_FILES")
    with pytest.raises(SpacechainError, match="max_files must be a positive"):
        Client(token=False, max_files=0)
    monkeypatch.setenv("SPACECHAIN_MAX_CALL_BYTES", "3G")
    with Client(token=False, max_files=9) as c:
        assert (c.http.limits.max_call_bytes, c.http.limits.max_files) == (3 << 30, 9)


# --------------------------------------------------------------------------- bounded reads


def peak_bytes(fn: Callable[[], Any]) -> tuple[BaseException | None, int]:
    tracemalloc.start()
    try:
        fn()
        error = None
    except BaseException as exc:  # returned for the caller's assertions
        error = exc
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return error, peak


@pytest.mark.parametrize("declare", [False, True], ids=["streamed", "declared"])
def test_a_64_mib_info_body_is_refused_in_bounded_memory(hostile: Hostile, tmp_path: Path, declare: bool) -> None:
    hostile.routes["/gradio_api/info"] = hostile.stream(
        first=b'{"named_endpoints": {"',
        chunk=b"a" * 65536,
        total=64 * MiB,
        content_type="application/json",
        declare=declare,
    )
    with Client(token=False, out_dir=tmp_path, retry=FAST) as c:
        error, peak = peak_bytes(lambda: c.schema(hostile.url))
    assert isinstance(error, TooLarge), error
    assert "more than" in one_line(error)
    assert peak < 24 * MiB, peak  # the whole body read and parsed cost 5-10× its 64 MiB


def test_a_huge_error_body_is_read_only_in_part(hostile: Hostile, tmp_path: Path) -> None:
    hostile.routes["/gradio_api/info"] = hostile.stream(
        chunk=b"e" * 65536, total=64 * MiB, status=500, content_type="text/plain"
    )
    with Client(token=False, out_dir=tmp_path, retry=FAST) as c:
        error, peak = peak_bytes(lambda: c.schema(hostile.url))
    assert isinstance(error, HTTPError) and error.status == 500, error
    assert len(one_line(error)) < 400 and peak < 4 * MiB, peak


def test_an_endless_event_line_is_refused_in_bounded_memory(hostile: Hostile, tmp_path: Path) -> None:
    app(hostile, [])
    hostile.routes["/gradio_api/call/x/e1"] = hostile.stream(
        first=b'event: complete\ndata: ["', chunk=b"a" * 65536, content_type="text/event-stream"
    )
    with Client(token=False, out_dir=tmp_path, retry=FAST) as c:
        error, peak = peak_bytes(lambda: c.call(hostile.url, "x", timeout=60))
    assert isinstance(error, TooLarge) and "result stream" in one_line(error), error
    assert peak < 48 * MiB, peak  # bounded by the 16 MiB line cap, not by the endless body


def test_many_small_data_lines_are_one_capped_event(hostile: Hostile, tmp_path: Path) -> None:
    app(hostile, [])
    lines = (b"data: " + b"1" * 1000 + b"\n") * 64  # each line is small; together they pass the cap
    hostile.routes["/gradio_api/call/x/e1"] = hostile.stream(
        first=b"event: complete\n", chunk=lines, content_type="text/event-stream"
    )
    with Client(token=False, out_dir=tmp_path, retry=FAST) as c:
        with pytest.raises(TooLarge, match="one event"):
            c.call(hostile.url, "x", timeout=60)


def test_events_split_anywhere_still_parse(hostile: Hostile, tmp_path: Path) -> None:
    """CRLF line ends, a CR cut from its LF between chunks, comments and heartbeats."""
    body = b': comment\r\nevent: heartbeat\r\ndata: null\r\n\r\nevent: complete\r\ndata: ["ok", 2]\r\n\r\n'

    def dribble(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("content-type", "text/event-stream")
        h.send_header("connection", "close")
        h.end_headers()
        h.close_connection = True
        for i in range(len(body)):
            h.wfile.write(body[i : i + 1])
            h.wfile.flush()

    app(hostile, [])
    hostile.routes["/gradio_api/call/x/e1"] = dribble
    with Client(token=False, out_dir=tmp_path, retry=FAST) as c:
        assert c.call(hostile.url, "x", timeout=60) == ["ok", 2]
