"""The sluice-dlt runner, with no server."""

import subprocess
import sys
import textwrap
from pathlib import Path
from unittest import mock

import pytest

import pyspark.sql.connect.proto as pb2
from pyspark.errors import PySparkException
from pyspark.pipelines.output import MaterializedView, StreamingTable

from sluice_pipelines import runner
from sluice_pipelines import dlt as sluice_dlt
from conftest import RecordingRegistry


def write(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


# ------------------------------------------------------------------------------------------
# import side effects
# ------------------------------------------------------------------------------------------


def test_importing_the_package_does_not_install_dlt(tmp_path):
    script = write(
        tmp_path / "probe.py",
        """
        import sys
        import sluice_pipelines
        import sluice_pipelines.runner
        import sluice_pipelines.dlt
        assert "dlt" not in sys.modules, sorted(m for m in sys.modules if "dlt" in m)
        try:
            import dlt
        except ImportError:
            print("no-dlt")
        else:
            print("dlt-from", dlt.__name__)
        """,
    )
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    # Either no `dlt` at all, or some other installed one: never ours.
    assert "sluice_pipelines" not in result.stdout


# ------------------------------------------------------------------------------------------
# file discovery
# ------------------------------------------------------------------------------------------


def test_discover_files_sorted_recursive_and_filtered(tmp_path):
    root = tmp_path / "pipeline"
    write(root / "b.py")
    write(root / "a.sql")
    write(root / "sub" / "c.py")
    write(root / "sub" / "notes.txt")
    write(root / "__pycache__" / "b.cpython-311.py")
    write(root / ".ipynb_checkpoints" / "b-checkpoint.py")
    write(root / "a" / "z.py")
    single = write(tmp_path / "extra.py")

    found = runner.discover_files([single, root, root / "b.py"])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "extra.py",
        "pipeline/a/z.py",
        "pipeline/a.sql",
        "pipeline/b.py",
        "pipeline/sub/c.py",
    ]


def test_discover_files_usage_errors(tmp_path):
    with pytest.raises(runner.UsageError, match="no such file"):
        runner.discover_files([tmp_path / "missing.py"])
    with pytest.raises(runner.UsageError, match="not a .py or .sql"):
        runner.discover_files([write(tmp_path / "readme.md")])


# ------------------------------------------------------------------------------------------
# executing pipeline files
# ------------------------------------------------------------------------------------------

PIPELINE = """
import dlt
from pyspark.sql import functions as F

SEEN_SPARK = spark

@dlt.table(comment="bronze")
def bronze():
    return spark.readStream.table("raw")

@dlt.table
@dlt.expect_or_drop("valid", "id IS NOT NULL")
def silver():
    return dlt.read_stream("LIVE.bronze")

@dlt.expect("fresh", "ts > now() - INTERVAL 1 DAY")
@dlt.table
def gold():
    return dlt.read("silver")
"""


def test_register_files_runs_python_and_sql_in_order(tmp_path, spark):
    spark.readStream.table.return_value.isStreaming = True
    spark.read.table.return_value.isStreaming = False
    py = write(tmp_path / "p" / "1_tables.py", PIPELINE)
    sql = write(tmp_path / "p" / "2_more.sql", "CREATE MATERIALIZED VIEW m AS SELECT 1;")
    reg = RecordingRegistry()

    missing = object()
    before = sys.modules.get("dlt", missing)
    runner.register_files([py, sql], reg, spark, None)
    assert sys.modules.get("dlt", missing) is before

    assert [(c[0], getattr(c[1], "name", None)) for c in reg.calls] == [
        ("output", "bronze"),
        ("flow", "bronze"),
        ("output", "silver"),
        ("flow", "silver"),
        ("output", "gold"),
        ("flow", "gold"),
        ("sql", None),
    ]
    assert reg.calls[-1][1:] == ("CREATE MATERIALIZED VIEW m AS SELECT 1;", sql)
    assert isinstance(reg.output("bronze"), StreamingTable)
    assert isinstance(reg.output("silver"), StreamingTable)
    assert isinstance(reg.output("gold"), MaterializedView)
    assert not isinstance(reg.output("gold"), StreamingTable)
    assert reg.flow("silver").extension["sluice.expectations"][0]["action"] == "drop"
    assert reg.flow("gold").extension["sluice.expectations"][0]["name"] == "fresh"
    spark.readStream.table.assert_any_call("raw")
    spark.readStream.table.assert_any_call("LIVE.bronze")
    spark.read.table.assert_called_once_with("silver")
    # dlt.read is unusable again once the run is over.
    with pytest.raises(RuntimeError):
        sluice_dlt.read("x")


def test_dlt_module_is_installed_only_during_the_run(tmp_path, spark):
    probe = write(
        tmp_path / "probe.py",
        """
        import sys
        import dlt
        spark.seen.append((dlt.__name__, sys.modules["dlt"] is dlt))
        """,
    )
    spark.seen = []
    previous = mock.sentinel.other_dlt_package
    sys.modules["dlt"] = previous
    try:
        runner.register_files([probe], RecordingRegistry(), spark, None)
        assert sys.modules["dlt"] is previous
    finally:
        del sys.modules["dlt"]
    runner.register_files([probe], RecordingRegistry(), spark, None)
    assert "dlt" not in sys.modules
    assert spark.seen == [("sluice_pipelines.dlt", True), ("sluice_pipelines.dlt", True)]


def test_dlt_module_is_restored_when_a_file_fails(tmp_path, spark):
    bad = write(
        tmp_path / "bad.py",
        """
        import dlt

        @dlt.table
        def never_registered():
            return spark.read.table("x")

        raise ValueError("boom")
        """,
    )
    reg = RecordingRegistry()
    with pytest.raises(ValueError, match="boom"):
        runner.register_files([bad], reg, spark, None)
    assert "dlt" not in sys.modules
    assert reg.calls == []
    assert sluice_dlt._pending_count() == 0


def test_session_mutations_are_blocked_in_pipeline_files(tmp_path, spark):
    from pyspark.sql.connect.conf import RuntimeConf

    spark.real_conf = RuntimeConf(mock.MagicMock(name="client"))
    mutating = write(tmp_path / "mutating.py", "spark.real_conf.set('a', 'b')\n")
    with pytest.raises(PySparkException, match="SESSION_MUTATION"):
        runner.register_files([mutating], RecordingRegistry(), spark, None)
    spark.real_conf.set("a", "b")  # allowed again after the run


# ------------------------------------------------------------------------------------------
# run_pipeline and the command line
# ------------------------------------------------------------------------------------------


def test_run_pipeline_end_to_end_with_a_mocked_session(tmp_path, monkeypatch):
    import pyspark.pipelines.spark_connect_pipeline as scp
    from pyspark.sql import SparkSession

    write(
        tmp_path / "pipe" / "defs.py",
        """
        import dlt
        dlt.create_streaming_table("target", expect_all_or_fail={"k": "k IS NOT NULL"})
        """,
    )
    write(tmp_path / "pipe" / "view.sql", "CREATE TEMPORARY VIEW v AS SELECT 1;")

    session = mock.MagicMock(name="session")
    session.client.execute_command.return_value = (None, {}, None)
    builder = mock.MagicMock(name="builder")
    builder.remote.return_value = builder
    builder.config.return_value = builder
    builder.getOrCreate.return_value = session
    monkeypatch.setattr(SparkSession, "builder", builder)
    created = {}

    def create_dataflow_graph(spark, default_catalog, default_database, sql_conf):
        created.update(
            spark=spark, catalog=default_catalog, database=default_database, conf=sql_conf
        )
        return "g-1"

    monkeypatch.setattr(scp, "create_dataflow_graph", create_dataflow_graph)
    start_run = mock.MagicMock(return_value=iter([]))
    monkeypatch.setattr(scp, "start_run", start_run)
    handled = mock.MagicMock()
    monkeypatch.setattr(scp, "handle_pipeline_events", handled)
    monkeypatch.setenv("SPARK_REMOTE", "sc://example.invalid:1")
    reached = []
    monkeypatch.setattr(runner, "check_reachable", reached.append)
    monkeypatch.chdir(tmp_path)

    runner.run_pipeline(
        [tmp_path / "pipe"],
        catalog="main",
        database="sales",
        conf={"mypipeline.env": "dev"},
        full_refresh=["a,b", "c"],
        dry_run=True,
    )

    assert reached == ["sc://example.invalid:1"]
    builder.remote.assert_called_once_with("sc://example.invalid:1")
    builder.config.assert_called_once_with("mypipeline.env", "dev")
    assert created == {
        "spark": session,
        "catalog": "main",
        "database": "sales",
        "conf": {"mypipeline.env": "dev"},
    }
    kinds = [
        c.args[0].pipeline_command.WhichOneof("command_type")
        for c in session.client.execute_command.call_args_list
    ]
    assert kinds == ["define_output", "define_output", "define_sql_graph_elements"]
    kwargs = start_run.call_args.kwargs
    assert kwargs["full_refresh"] == ["a", "b", "c"]
    assert kwargs["refresh"] == [] and kwargs["full_refresh_all"] is False
    assert kwargs["dry"] is True
    assert kwargs["storage"] == str((tmp_path / "pipeline-storage").resolve())
    assert (tmp_path / "pipeline-storage").is_dir()
    handled.assert_called_once()
    session.stop.assert_called_once()
    assert "dlt" not in sys.modules


def test_run_pipeline_stops_the_session_on_failure(tmp_path, monkeypatch):
    import pyspark.pipelines.spark_connect_pipeline as scp
    from pyspark.sql import SparkSession

    write(tmp_path / "x.sql", "SELECT 1")
    session = mock.MagicMock(name="session")
    builder = mock.MagicMock(name="builder")
    builder.remote.return_value = builder
    builder.getOrCreate.return_value = session
    monkeypatch.setattr(SparkSession, "builder", builder)

    def fail(*args, **kwargs):
        raise PySparkException(message="graph creation failed")

    monkeypatch.setattr(scp, "create_dataflow_graph", fail)
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    monkeypatch.setattr(runner, "check_reachable", lambda remote: None)
    with pytest.raises(PySparkException):
        runner.run_pipeline(tmp_path / "x.sql", storage=str(tmp_path / "st"))
    builder.remote.assert_called_once_with("sc://127.0.0.1:15002")
    session.stop.assert_called_once()


def test_main_exit_codes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert runner.main(["run"]) == 2
    assert runner.main(["bogus"]) == 2
    assert runner.main(["run", str(tmp_path / "missing.py")]) == 2
    assert "no such file" in capsys.readouterr().err

    write(tmp_path / "p.py", "")
    assert (
        runner.main(["run", "--full-refresh-all", "--refresh", "a", str(tmp_path / "p.py")]) == 2
    )
    assert runner.main(["run", "--conf", "novalue", str(tmp_path / "p.py")]) == 2

    calls = []

    def failing_run(paths, **kwargs):
        calls.append((paths, kwargs))
        raise PySparkException(message="table `x` not found")

    monkeypatch.setattr(runner, "run_pipeline", failing_run)
    capsys.readouterr()
    assert runner.main(["dry-run", "--conf", "a=b=c", "--refresh", "x,y", str(tmp_path)]) == 1
    assert "table `x` not found" in capsys.readouterr().err
    paths, kwargs = calls[0]
    assert paths == [str(tmp_path)]
    assert kwargs["dry_run"] is True
    assert kwargs["conf"] == {"a": "b=c"}
    assert kwargs["refresh"] == ["x,y"]

    monkeypatch.setattr(runner, "run_pipeline", lambda paths, **kwargs: calls.append(kwargs))
    assert runner.main(["run", "--dry-run", "--name", "n", str(tmp_path)]) == 0
    assert calls[-1]["dry_run"] is True and calls[-1]["name"] == "n"
    assert runner.main(["run", str(tmp_path)]) == 0
    assert calls[-1]["dry_run"] is False


def test_check_reachable(monkeypatch, capsys, tmp_path):
    import socket

    monkeypatch.chdir(tmp_path)  # main() creates ./pipeline-storage

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        runner.check_reachable(f"sc://127.0.0.1:{port}/;user_id=me")
    # The listener is closed now: nothing accepts on that port.
    with pytest.raises(ConnectionError, match=f"127.0.0.1:{port}"):
        runner.check_reachable(f"sc://127.0.0.1:{port}", timeout=2)

    write(tmp_path / "p.py", "")
    assert runner.main(["run", "--remote", f"sc://127.0.0.1:{port}", str(tmp_path / "p.py")]) == 1
    assert "cannot connect" in capsys.readouterr().err
