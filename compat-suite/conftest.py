"""Fixtures for the compatibility suite.

Server under test:
  SLUICE_REMOTE=sc://host:port   use that running Spark Connect server (sluice, or Apache
                                 Spark itself to validate the suite)
  SLUICE_BIN=/path/to/sluice     otherwise start this binary on a free port (once per run);
                                 default $CARGO_TARGET_DIR/debug/sluice or
                                 ~/.cache/sluice-target/debug/sluice
"""

import logging
import os
import shutil
import time
from pathlib import Path

import pytest

# The client and every server must agree on the time zone, or timestamps shift.
os.environ["TZ"] = "UTC"
time.tzset()

from harness.servers import sluice_server  # noqa: E402
from harness.session import new_session, quiet_pyspark_loggers, stop_quietly  # noqa: E402


quiet_pyspark_loggers()
logging.getLogger("py4j").setLevel(logging.WARNING)


def pytest_configure(config):
    config.addinivalue_line("markers", "delta: Delta Lake tests (test_delta_*.py), each on a server of its own")
    config.addinivalue_line(
        "markers", "delta_crash: Delta crash-safety tests (kill -9, races, corrupt logs); `-m delta_crash`"
    )
    config.addinivalue_line(
        "markers", "streaming: Structured Streaming tests (test_streaming*.py), each on a server of its own"
    )
    config.addinivalue_line(
        "markers", "pipelines: declarative pipelines (test_pipelines*.py), each on a server of its own"
    )
    config.addinivalue_line(
        "markers", "streaming_crash: streaming exactly-once under kill -9 of the server; `-m streaming_crash`"
    )


def _default_binary() -> str:
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.expanduser("~/.cache/sluice-target")
    return os.path.join(target, "debug", "sluice")


def against_spark() -> bool:
    """True when the suite runs against an external server given by SLUICE_REMOTE."""
    return bool(os.environ.get("SLUICE_REMOTE"))


def sluice_binary() -> str:
    """The sluice binary to start; skips the calling test when there is none."""
    explicit = os.environ.get("SLUICE_BIN")
    binary = explicit or _default_binary()
    if not os.path.isfile(binary):
        if explicit:
            pytest.fail(f"SLUICE_BIN={explicit} does not exist", pytrace=False)
        pytest.skip(f"no sluice binary at {binary} (build it, or set SLUICE_BIN / SLUICE_REMOTE)")
    return binary


sluice_only = pytest.mark.skipif(
    bool(os.environ.get("SLUICE_REMOTE")),
    reason="needs a sluice-only feature (server flags); SLUICE_REMOTE is set",
)


@pytest.fixture(scope="session")
def remote():
    """The sc:// URL of the server under test."""
    url = os.environ.get("SLUICE_REMOTE")
    if url:
        yield url
        return
    with sluice_server(sluice_binary()) as url:
        yield url


@pytest.fixture(scope="module")
def spark(remote):
    """One session per test module, stopped (released) at the end of the module."""
    session = new_session(remote)
    yield session
    stop_quietly(session)


@pytest.fixture
def fresh_spark(remote):
    """A session of its own for one test: temp views and conf don't leak between tests."""
    session = new_session(remote)
    yield session
    stop_quietly(session)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A folder with a few small input files, readable by a server on this machine."""
    (tmp_path / "people.csv").write_text(
        "id,name,age\n1,ann,34\n2,bob,\n3,cid,19\n", encoding="utf-8"
    )
    (tmp_path / "people.json").write_text(
        '{"id": 1, "name": "ann", "age": 34}\n{"id": 2, "name": "bob"}\n'
        '{"id": 3, "name": "cid", "age": 19}\n',
        encoding="utf-8",
    )
    (tmp_path / "lines.txt").write_text("alpha\nbeta\ngamma\n", encoding="utf-8")
    yield tmp_path
    shutil.rmtree(tmp_path, ignore_errors=True)
