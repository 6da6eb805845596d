"""Helpers for the Delta Lake tests: a server with its own warehouse that can be stopped,
killed and started again on the same folder, and an independent look at a table through
the `deltalake` package (delta-rs), so no test passes on what the client says alone.

The server under test is the sluice binary (SLUICE_BIN, see conftest.py), started once per
test with `--warehouse <tmp>/warehouse`. To check the tests themselves against another
Delta-capable Spark Connect server, set SLUICE_DELTA_PEER=sail:/path/to/sail (Sail keeps
managed tables in `<cwd>/spark-warehouse`, so it runs with the warehouse's parent as cwd).
"""

import contextlib
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Iterable, List, Optional, Sequence

import pytest

from harness.servers import UTC_ENV, _accepts_connections, _tail, free_port
from harness.session import new_session, stop_quietly


class RestartableServer:
    """One server process at a time on a fixed warehouse folder; `start()` again after
    `stop()` or `kill()` gives a new process (and port) on the same folder. `env` adds to
    (or overrides) the test process's environment for the server only, e.g. an object
    store's credentials."""

    def __init__(
        self,
        argv_for_port,
        workdir: Path,
        name: str = "sluice",
        timeout: float = 30.0,
        env: Optional[dict] = None,
    ):
        self.argv_for_port = argv_for_port
        self.env = dict(env or {})
        self.workdir = Path(workdir)
        self.name = name
        self.timeout = timeout
        self.proc: Optional[subprocess.Popen] = None
        self.url: Optional[str] = None
        self.starts = 0

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}-{self.starts}.log"

    def start(self) -> str:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.starts += 1
        port = free_port()
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                self.argv_for_port(port),
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **UTC_ENV, **self.env},
                start_new_session=True,
            )
        deadline = time.monotonic() + self.timeout
        while not _accepts_connections(port):
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with code {self.proc.returncode} before listening; "
                    f"its output:\n{_tail(self.log_path)}"
                )
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"{self.name} did not listen within {self.timeout:.0f}s")
            time.sleep(0.05)
        self.url = f"sc://127.0.0.1:{port}"
        return self.url

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _signal(self, sig: int, grace: float) -> None:
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(grace)

    def stop(self) -> None:
        """A clean stop (SIGTERM, then SIGKILL if it lingers)."""
        self._signal(signal.SIGTERM, 10)
        self._signal(signal.SIGKILL, 5)

    def kill(self) -> None:
        """kill -9: no chance to clean up."""
        self._signal(signal.SIGKILL, 5)

    def output(self) -> str:
        return _tail(self.log_path) if self.log_path.exists() else ""


def _peer() -> Optional[Sequence[str]]:
    spec = os.environ.get("SLUICE_DELTA_PEER")
    if not spec:
        return None
    kind, _, path = spec.partition(":")
    if kind != "sail" or not path:
        pytest.fail(f"SLUICE_DELTA_PEER={spec!r}: expected sail:/path/to/sail", pytrace=False)
    return [path]


def make_server(warehouse: Path, env: Optional[dict] = None) -> RestartableServer:
    """A server (not started) whose managed tables live in `warehouse`, with `env` added to
    its environment."""
    warehouse.mkdir(parents=True, exist_ok=True)
    peer = _peer()
    if peer:
        sail = peer[0]
        return RestartableServer(
            lambda port: [sail, "spark", "server", "--ip", "127.0.0.1", "--port", str(port)],
            warehouse.parent,
            name="sail",
            env=env,
        )
    if os.environ.get("SLUICE_REMOTE"):
        pytest.skip("the Delta tests start their own server (warehouse, restarts); SLUICE_REMOTE is set")
    from conftest import sluice_binary

    binary = sluice_binary()
    return RestartableServer(
        lambda port: [binary, "--port", str(port), "--warehouse", str(warehouse)],
        warehouse.parent,
        env=env,
    )


def warehouse_of(tmp_path: Path) -> Path:
    # Sail puts managed tables under <cwd>/spark-warehouse; sluice under --warehouse.
    return tmp_path / "spark-warehouse"


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return warehouse_of(tmp_path)


@pytest.fixture
def server(warehouse: Path):
    """A server of its own for one test, on `warehouse`."""
    srv = make_server(warehouse)
    srv.start()
    yield srv
    srv.stop()


def session_on(server: RestartableServer):
    """A new session on `server` that gives up on a dead server within seconds: these
    tests kill servers, and PySpark's default retries wait up to 10 minutes (also at
    interpreter exit, for the release of an operation)."""
    from pyspark.sql.connect.client.retries import DefaultPolicy

    session = new_session(server.url)
    session.client.set_retry_policies([DefaultPolicy(max_retries=3, max_backoff=1000)])
    return session


def race_clients(server: RestartableServer, per_client: int, action) -> None:
    """Two sessions working at once: client c (1 and 2) calls `action(session, c, i)` for
    i in range(per_client); fails on any client's error."""
    errors = []

    def client_loop(client: int):
        s = session_on(server)
        try:
            for i in range(per_client):
                action(s, client, i)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            stop_quietly(s)

    threads = [threading.Thread(target=client_loop, args=(c,)) for c in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(240)
    assert not errors, errors


def race_appends(server: RestartableServer, path: str, per_client: int, stride: int) -> List[tuple]:
    """Two sessions appending to the Delta table at `path` at once, `per_client` one-row
    appends each (client c writes c * stride + i); returns the rows written, sorted."""

    def append(s, client: int, i: int):
        n = client * stride + i
        s.range(n, n + 1).write.format("delta").mode("append").save(path)

    race_clients(server, per_client, append)
    return sorted((c * stride + i,) for c in (1, 2) for i in range(per_client))


@pytest.fixture
def spark(server: RestartableServer):
    session = session_on(server)
    yield session
    stop_quietly(session)


@pytest.fixture
def tpath(tmp_path: Path) -> str:
    """A path (not yet existing) for a path-based Delta table."""
    return str(tmp_path / "data" / "tbl")


# ---------------------------------------------------------------- what delta-rs sees


def dl(path: Any, version: Optional[int] = None):
    from deltalake import DeltaTable

    return DeltaTable(str(path), version=version)


def _sort_key(row: tuple):
    return tuple((v is None, str(type(v)), v if v is not None else 0) for v in row)


def sorted_rows(rows: Iterable[Iterable[Any]]) -> List[tuple]:
    return sorted((tuple(r) for r in rows), key=_sort_key)


def dl_rows(path: Any, version: Optional[int] = None, columns: Optional[Sequence[str]] = None) -> List[tuple]:
    """The table's rows per delta-rs, sorted; in the table's column order unless `columns`."""
    table = dl(path, version).to_pyarrow_table()
    names = list(columns) if columns else table.column_names
    return sorted_rows(tuple(rec[n] for n in names) for rec in table.to_pylist())


def client_rows(df) -> List[tuple]:
    return sorted_rows(tuple(r) for r in df.collect())


def dl_schema(path: Any, version: Optional[int] = None) -> List[tuple]:
    """[(name, delta type name)], e.g. [("id", "long"), ("name", "string")]."""
    out = []
    for f in dl(path, version).schema().fields:
        t = f.type
        out.append((f.name, getattr(t, "type", None) or type(t).__name__))
    return out


def dl_ops(path: Any) -> List[str]:
    """Operation names of the table's commits, oldest first."""
    return [h["operation"] for h in sorted(dl(path).history(), key=lambda h: h["version"])]


def dl_last(path: Any) -> dict:
    """The newest commit's info (operation, operationParameters, ...)."""
    return max(dl(path).history(), key=lambda h: h["version"])


def dl_versions(path: Any) -> List[int]:
    return sorted(h["version"] for h in dl(path).history())


def data_files(path: Any) -> List[str]:
    """Parquet files the current snapshot references (per delta-rs)."""
    return list(dl(path).file_uris())


def parquet_on_disk(path: Any) -> List[str]:
    """Every parquet file under the table folder, referenced or not."""
    root = Path(str(path).replace("file://", ""))
    return sorted(str(p) for p in root.rglob("*.parquet") if "_delta_log" not in p.parts)


def has_log(path: Any) -> bool:
    return (Path(str(path)) / "_delta_log").is_dir()


def condition(e: BaseException) -> Optional[str]:
    fn = getattr(e, "getCondition", None) or getattr(e, "getErrorClass", None)
    try:
        return fn() if fn else None
    except Exception:
        return None


def message(e: BaseException) -> str:
    fn = getattr(e, "getMessage", None)
    try:
        text = fn() if fn else None
    except Exception:
        text = None
    return text or str(e)


def sql(spark, text: str):
    """Run a statement and collect its result (commands run on collect for some servers)."""
    return spark.sql(text).collect()
