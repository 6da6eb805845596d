"""Helpers for the Structured Streaming tests: files dropped into a landing folder the way a
producer should (written under a hidden name, then renamed, so a listing never sees half a
file), queries run to the end with generous timeouts, and what delta-rs and pyarrow see in
the outputs (never only what the client says).

Server: each test gets a sluice server of its own on its own warehouse (`server` fixture of
harness/delta.py). With SLUICE_REMOTE=sc://... (e.g. Apache Spark Connect, to check the
tests themselves) the `spark` fixture here connects there instead, and every test that
needs sluice-only things (Delta, Auto Loader, restarts of the server) skips.
"""

import contextlib
import gzip
import json
import os
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

import pytest

from harness.delta import dl, session_on, sorted_rows
from harness.session import new_session, stop_quietly

# Every wait in the streaming tests is bounded by this (seconds): generous, since a debug
# build on two cores is slow, but no test may hang.
TIMEOUT = 120.0


def remote_url() -> Optional[str]:
    return os.environ.get("SLUICE_REMOTE") or None


needs_sluice = pytest.mark.skipif(
    bool(remote_url()),
    reason="needs Delta / Auto Loader / server restarts: sluice only (SLUICE_REMOTE is set)",
)


@pytest.fixture
def spark(request):
    """A session on this test's own server (or on SLUICE_REMOTE). Streaming queries still
    running at the end of the test are stopped."""
    url = remote_url()
    if url:
        session = new_session(url)
    else:
        srv = request.getfixturevalue("server")
        session = session_on(srv)
    yield session
    stop_all(session)
    stop_quietly(session)


def stop_all(session) -> None:
    with contextlib.suppress(Exception):
        for q in session.streams.active:
            with contextlib.suppress(Exception):
                q.stop()


# ---------------------------------------------------------------- landing folder


class Landing:
    """A folder producers drop files into. Every file is written under a hidden temporary
    name and renamed into place (Spark and Auto Loader ignore names starting with `.` or
    `_`), and gets a modification time later than the previous one, so "oldest first" and
    "newest first" orders are well defined (Spark orders by modification time in ms)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._last_mtime = 0.0

    def __str__(self) -> str:
        return str(self.path)

    def _next_mtime(self, mtime: Optional[float]) -> float:
        if mtime is None:
            mtime = max(time.time(), self._last_mtime + 0.01)
        self._last_mtime = max(self._last_mtime, mtime)
        return mtime

    def put_bytes(self, name: str, data: bytes, mtime: Optional[float] = None) -> Path:
        final = self.path / name
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.parent / f".{final.name}.tmp-{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        t = self._next_mtime(mtime)
        os.utime(tmp, (t, t))
        os.rename(tmp, final)
        return final

    def put_text(self, name: str, text: str, mtime: Optional[float] = None) -> Path:
        return self.put_bytes(name, text.encode("utf-8"), mtime)

    def put_json(self, name: str, records: Iterable[Dict[str, Any]], mtime: Optional[float] = None,
                 compress: bool = False) -> Path:
        """JSON lines, one record a line."""
        text = "".join(json.dumps(r) + "\n" for r in records)
        data = text.encode("utf-8")
        if compress:
            data = gzip.compress(data)
        return self.put_bytes(name, data, mtime)

    def put_csv(self, name: str, header: Optional[Sequence[str]], rows: Iterable[Sequence[Any]],
                sep: str = ",", mtime: Optional[float] = None) -> Path:
        lines = []
        if header is not None:
            lines.append(sep.join(header))
        for r in rows:
            lines.append(sep.join("" if v is None else str(v) for v in r))
        return self.put_text(name, "\n".join(lines) + "\n", mtime)

    def put_parquet(self, name: str, table, mtime: Optional[float] = None) -> Path:
        """A pyarrow Table written as one parquet file."""
        import io

        import pyarrow.parquet as pq

        buf = io.BytesIO()
        pq.write_table(table, buf)
        return self.put_bytes(name, buf.getvalue(), mtime)

    def files(self) -> List[str]:
        """Visible file names (relative, recursive), sorted."""
        out = []
        for root, _dirs, names in os.walk(self.path):
            for n in names:
                if not n.startswith((".", "_")):
                    out.append(os.path.relpath(os.path.join(root, n), self.path))
        return sorted(out)


def records(ids: Iterable[int], **extra) -> List[Dict[str, Any]]:
    """[{"id": i, "name": "n<i>", **extra}, ...]"""
    return [{"id": i, "name": f"n{i}", **extra} for i in ids]


# ---------------------------------------------------------------- queries


def finish(q, timeout: float = TIMEOUT):
    """Wait for a query that stops on its own (availableNow / once); a failure raises
    StreamingQueryException, as awaitTermination does."""
    done = q.awaitTermination(timeout)
    assert done, f"query {q.id} still running after {timeout:.0f}s (status {q.status})"
    return q


def wait_until(pred: Callable[[], Any], timeout: float = TIMEOUT, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def data_batches(q) -> List[Any]:
    """The progress reports of the batches that read at least one row."""
    return [p for p in q.recentProgress if p.numInputRows > 0]


def error_text(e: BaseException) -> str:
    fn = getattr(e, "getMessage", None)
    try:
        text = fn() if fn else None
    except Exception:
        text = None
    return (text or "") + "\n" + str(e)


def start_error_or_failure(start: Callable[[], Any], timeout: float = TIMEOUT) -> BaseException:
    """The error of a query that must not run: either start() raises (what Spark does for
    most invalid queries), or the query terminates with an exception soon after. A query
    that keeps running (or stops cleanly) fails the test."""
    try:
        q = start()
    except Exception as e:  # refused at start
        return e
    try:
        done = q.awaitTermination(timeout)
    except Exception as e:
        return e
    if not done:
        with contextlib.suppress(Exception):
            q.stop()
        raise AssertionError("the query was accepted and kept running")
    exc = q.exception()
    if exc is None:
        raise AssertionError("the query was accepted and finished without an error")
    return exc


# ---------------------------------------------------------------- outputs


def delta_ids(path: Any, column: str = "id") -> List[Any]:
    """The sorted values of one column of a Delta table, per delta-rs."""
    table = dl(path).to_pyarrow_table(columns=[column])
    return sorted(table.column(column).to_pylist(), key=lambda v: (v is None, v))


def delta_dicts(path: Any, version: Optional[int] = None) -> List[Dict[str, Any]]:
    return dl(path, version).to_pyarrow_table().to_pylist()


def delta_columns(path: Any) -> List[str]:
    return [f.name for f in dl(path).schema().fields]


def delta_types(path: Any) -> Dict[str, str]:
    out = {}
    for f in dl(path).schema().fields:
        t = f.type
        out[f.name] = getattr(t, "type", None) or type(t).__name__
    return out


def streaming_commits(path: Any) -> List[dict]:
    """The table's STREAMING UPDATE commits (Delta's operation name for a streaming batch),
    oldest first."""
    hist = sorted(dl(path).history(), key=lambda h: h["version"])
    return [h for h in hist if h.get("operation") == "STREAMING UPDATE"]


def visible_files(folder: Any, suffix: str = "") -> List[Path]:
    """Data files of a file sink's output folder (hidden and `_` names excluded)."""
    out = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith((".", "_"))]
        for n in names:
            if not n.startswith((".", "_")) and n.endswith(suffix):
                out.append(Path(root) / n)
    return sorted(out)


def parquet_rows(folder: Any, columns: Sequence[str]) -> List[tuple]:
    """Rows of every visible parquet file under `folder`, read by pyarrow, sorted."""
    import pyarrow.parquet as pq

    rows = []
    for f in visible_files(folder, ".parquet"):
        t = pq.read_table(f, columns=list(columns))
        rows.extend(tuple(r[c] for c in columns) for r in t.to_pylist())
    return sorted_rows(rows)


def checkpoint_batches(ck: Any, kind: str) -> List[int]:
    """Batch ids present in `<checkpoint>/<kind>` (offsets or commits)."""
    folder = Path(ck) / kind
    if not folder.is_dir():
        return []
    return sorted(int(n) for n in os.listdir(folder) if n.isdigit())
