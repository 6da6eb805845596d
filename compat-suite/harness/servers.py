"""Run a Spark Connect server process (sluice or Apache Spark) on a free loopback port."""

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence

# Both servers and this client must agree on one time zone, or timestamps shift.
UTC_ENV = {"TZ": "UTC"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _tail(path: Path, limit: int = 6000) -> str:
    text = path.read_text(errors="replace")
    return text if len(text) <= limit else "...\n" + text[-limit:]


def _stop(proc: subprocess.Popen) -> None:
    # The process leads its own group: spark-submit forks a JVM that must die with it.
    for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        if proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(grace)


@contextlib.contextmanager
def running_server(
    name: str,
    argv: Callable[[int, Path], List[str]],
    timeout: float = 30.0,
    env: Optional[dict] = None,
    poll: float = 0.1,
) -> Iterator[str]:
    """Start `argv(port, workdir)` in a temp workdir, wait until the port accepts
    connections (checking every `poll` seconds), yield its sc:// URL, and kill the
    process afterwards.

    The server's stdout and stderr go to `<workdir>/server.log`; its tail is in the error
    raised if the server exits early or never listens."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix=f"{name}-") as tmp:
        workdir = Path(tmp)
        log_path = workdir / "server.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                argv(port, workdir),
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **UTC_ENV, **(env or {})},
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + timeout
            while not _accepts_connections(port):
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited with code {proc.returncode} before listening on "
                        f"port {port}; its output:\n{_tail(log_path)}"
                    )
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{name} did not listen on port {port} within {timeout:.0f}s; "
                        f"its output:\n{_tail(log_path)}"
                    )
                time.sleep(poll)
            yield f"sc://127.0.0.1:{port}"
        finally:
            _stop(proc)


def sluice_server(
    binary: str,
    timeout: float = 30.0,
    args: Sequence[str] = (),
    env: Optional[dict] = None,
):
    """The sluice binary with `--port`, plus any extra `args` (e.g. `--token`,
    `--tls-cert`/`--tls-key`, `--warehouse`). It runs in a temp workdir, so its default
    warehouse folder is thrown away with it."""
    return running_server(
        "sluice", lambda port, _dir: [binary, "--port", str(port), *args], timeout, env=env
    )


def spark_home_of_current_python() -> Optional[str]:
    """SPARK_HOME of the full `pyspark` package installed here, if it ships the jars
    (the `pyspark-client` package has none)."""
    try:
        import pyspark
    except ImportError:
        return None
    home = os.path.dirname(pyspark.__file__)
    return home if os.path.isdir(os.path.join(home, "jars")) else None


def spark_connect_server(spark_home: str, timeout: float = 120.0):
    """A real Apache Spark Connect server, configured like sluice's defaults (UTC)."""

    def argv(port: int, workdir: Path) -> List[str]:
        return [
            os.path.join(spark_home, "bin", "spark-submit"),
            "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
            "--master", "local[2]",
            "--driver-java-options", "-Duser.timezone=UTC",
            "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
            "--conf", f"spark.connect.grpc.binding.port={port}",
            "--conf", "spark.ui.enabled=false",
            "--conf", "spark.sql.session.timeZone=UTC",
            "--conf", f"spark.sql.warehouse.dir={workdir / 'warehouse'}",
        ]  # fmt: skip

    return running_server(
        "spark-connect", argv, timeout, env={"SPARK_HOME": spark_home}
    )
