"""Delta Lake crash safety and concurrency: kill -9 during a large overwrite, appends
racing from two clients, and reads of broken tables. Run alone with
`pytest compat-suite/test_delta_crash.py` or `-m delta_crash`.

What Delta promises (docs.delta.io "Concurrency control", the Delta transaction protocol):
a commit is the atomic creation of _delta_log/<version>.json; data files written by a
transaction that never committed are invisible; blind appends do not conflict with each
other, and versions are consecutive integers."""

import os
import threading
import time
from pathlib import Path

import pytest
from pyspark.errors import AnalysisException, PySparkException

from harness.delta import (  # noqa: F401 - fixtures
    client_rows,
    dl,
    dl_rows,
    dl_versions,
    message,
    parquet_on_disk,
    race_appends,
    race_clients,
    server,
    session_on,
    spark,
    sql,
    tpath,
    warehouse,
)
from harness.session import stop_quietly

pytestmark = [pytest.mark.delta, pytest.mark.delta_crash]

BIG = 20_000_000  # rows of the overwrite that gets killed: seconds of work on any server


def commit_file(path, version: int) -> Path:
    return Path(path) / "_delta_log" / f"{version:020d}.json"


def test_kill_during_overwrite_keeps_old_version(server, tpath):
    s = session_on(server)
    s.range(10).write.format("delta").save(tpath)
    before_files = set(parquet_on_disk(tpath))

    failure = []

    def overwrite():
        try:
            s.range(BIG).selectExpr("id", "id * 2 AS twice", "uuid() AS u").write.format("delta").mode(
                "overwrite"
            ).option("overwriteSchema", "true").save(tpath)
        except Exception as e:  # the server dies under it
            failure.append(e)

    writer = threading.Thread(target=overwrite, daemon=True)
    writer.start()
    # Kill as soon as the overwrite has started writing data files (or after 3 s).
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and set(parquet_on_disk(tpath)) == before_files:
        time.sleep(0.01)
    time.sleep(0.2)
    if commit_file(tpath, 1).exists():
        pytest.skip("the overwrite committed before the kill; make BIG larger")
    server.kill()
    writer.join(60)
    stop_quietly(s)
    assert not commit_file(tpath, 1).exists()

    # delta-rs sees version 0 and its 10 rows, whatever files the dead write left behind
    assert dl(tpath).version() == 0
    assert dl_rows(tpath) == [(i,) for i in range(10)]

    server.start()
    s2 = session_on(server)
    try:
        df = s2.read.format("delta").load(tpath)
        assert df.columns == ["id"]
        assert client_rows(df) == [(i,) for i in range(10)]
        # the table takes the next write as version 1
        s2.range(3).write.format("delta").mode("append").save(tpath)
        assert dl(tpath).version() == 1
        assert dl_rows(tpath) == sorted([(i,) for i in range(10)] + [(0,), (1,), (2,)])
    finally:
        stop_quietly(s2)


def test_kill_during_managed_table_overwrite(server, warehouse):
    s = session_on(server)
    s.range(5).write.format("delta").saveAsTable("t")
    loc = warehouse / "t"
    before_files = set(parquet_on_disk(loc))

    def overwrite():
        try:
            s.range(BIG).selectExpr("id", "uuid() AS u").write.format("delta").mode("overwrite").option(
                "overwriteSchema", "true"
            ).saveAsTable("t")
        except Exception:
            pass

    writer = threading.Thread(target=overwrite, daemon=True)
    writer.start()
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and set(parquet_on_disk(loc)) == before_files:
        time.sleep(0.01)
    time.sleep(0.2)
    if commit_file(loc, 1).exists():
        pytest.skip("the overwrite committed before the kill; make BIG larger")
    server.kill()
    writer.join(60)
    stop_quietly(s)

    assert dl(loc).version() == 0
    server.start()
    s2 = session_on(server)
    try:
        assert client_rows(s2.table("t")) == [(i,) for i in range(5)]
        assert s2.table("t").columns == ["id"]
    finally:
        stop_quietly(s2)


def test_racing_appends_from_two_clients(server, tpath):
    """Blind appends from two sessions at once: every append lands, each in its own
    consecutive version (Delta retries a commit that lost the race for its version)."""
    first = session_on(server)
    first.range(0).write.format("delta").save(tpath)
    per_client = 8
    expected = race_appends(server, tpath, per_client, stride=1000)
    assert dl_rows(tpath) == expected
    assert dl_versions(tpath) == list(range(2 * per_client + 1))
    assert client_rows(first.read.format("delta").load(tpath)) == expected
    stop_quietly(first)


def test_racing_sql_inserts_into_managed_table(server, warehouse):
    setup = session_on(server)
    sql(setup, "CREATE TABLE t (c INT, i INT) USING DELTA")
    stop_quietly(setup)
    per_client = 6
    race_clients(server, per_client, lambda s, c, i: sql(s, f"INSERT INTO t VALUES ({c}, {i})"))
    loc = warehouse / "t"
    assert dl_rows(loc) == sorted((c, i) for c in (1, 2) for i in range(per_client))
    assert dl_versions(loc) == list(range(2 * per_client + 1))


def server_still_answers(spark):
    assert spark.range(3).count() == 3
    assert spark.sql("SELECT 1 + 1 AS two").first().two == 2


def test_corrupt_log_is_a_clean_error(spark, tpath):
    """Garbage in 00000000000000000000.json: the read fails with an error from the server
    (not a dropped connection), and the server keeps serving."""
    spark.range(3).write.format("delta").save(tpath)
    commit_file(tpath, 0).write_text("this is {not json at all\n")
    with pytest.raises(PySparkException) as info:
        spark.read.format("delta").load(tpath).collect()
    assert "UNAVAILABLE" not in message(info.value)
    assert isinstance(info.value, AnalysisException), (
        f"expected AnalysisException, got {type(info.value).__name__}: {message(info.value)[:300]}"
    )
    server_still_answers(spark)


def test_corrupt_log_of_named_table(spark, warehouse):
    spark.range(3).write.format("delta").saveAsTable("t")
    commit_file(warehouse / "t", 0).write_text('{"add": garbage}\n')
    with pytest.raises(AnalysisException):
        spark.table("t").collect()
    server_still_answers(spark)


def test_folder_without_delta_log_read_as_delta(spark, tmp_path):
    """A parquet folder with no _delta_log is not a Delta table (Delta:
    DELTA_MISSING_DELTA_TABLE "... is not a Delta table")."""
    folder = tmp_path / "plain_parquet"
    spark.range(3).write.parquet(str(folder))
    assert not (folder / "_delta_log").exists()
    with pytest.raises(AnalysisException) as info:
        spark.read.format("delta").load(str(folder)).collect()
    assert "plain_parquet" in message(info.value)
    server_still_answers(spark)


def test_empty_folder_read_as_delta(spark, tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    with pytest.raises(AnalysisException) as info:
        spark.read.format("delta").load(str(folder)).collect()
    assert "empty" in message(info.value)
    server_still_answers(spark)


def test_missing_data_file_is_an_error_not_a_crash(spark, tpath):
    spark.range(100).repartition(2).write.format("delta").save(tpath)
    victim = parquet_on_disk(tpath)[0]
    os.remove(victim)
    with pytest.raises(PySparkException):
        spark.read.format("delta").load(tpath).collect()
    server_still_answers(spark)


def test_concurrent_reads_during_writes_see_whole_versions(server, tpath):
    """Readers never see a half-written commit: each read's row count is one of the
    committed sizes (snapshot isolation)."""
    s = session_on(server)
    s.range(0, 1000).write.format("delta").save(tpath)
    stop_flag = threading.Event()
    counts, errors = [], []

    def reader():
        r = session_on(server)
        try:
            while not stop_flag.is_set():
                counts.append(r.read.format("delta").load(tpath).count())
        except Exception as e:
            errors.append(e)
        finally:
            stop_quietly(r)

    t = threading.Thread(target=reader)
    t.start()
    try:
        for i in range(1, 6):
            s.range(i * 1000, (i + 1) * 1000).write.format("delta").mode("append").save(tpath)
    finally:
        stop_flag.set()
        t.join(60)
        stop_quietly(s)
    assert not errors, errors
    assert counts and all(c % 1000 == 0 and 1000 <= c <= 6000 for c in counts), counts[:20]
    assert dl(tpath).version() == 5
