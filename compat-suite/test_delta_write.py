"""Delta Lake through the DataFrame writer and reader: save modes, partitioning, schema
enforcement and evolution, replaceWhere, saveAsTable / insertInto, time travel and
idempotent writes. Every result is checked through the PySpark client AND through
delta-rs (`deltalake`), which reads the table folder on its own.

Expected values follow Delta Lake's documented behaviour (docs.delta.io "Table batch reads
and writes", and the operation names of DESCRIBE HISTORY); Apache Spark with Delta cannot
run on this machine, so nothing here is recorded."""

import datetime
import os
import time
from pathlib import Path

import pytest
from pyspark.errors import AnalysisException

from harness.delta import (  # noqa: F401 - fixtures
    client_rows,
    condition,
    data_files,
    dl,
    dl_last,
    dl_ops,
    dl_rows,
    dl_schema,
    has_log,
    message,
    server,
    spark,
    sql,
    tpath,
    warehouse,
)

pytestmark = pytest.mark.delta

PEOPLE = [(1, "ann", "x"), (2, "bob", "y"), (3, "cid", "x")]
PEOPLE_SCHEMA = "id long, name string, k string"


def people(spark, rows=PEOPLE, schema=PEOPLE_SCHEMA):
    return spark.createDataFrame(rows, schema)


# ---------------------------------------------------------------- save modes


def test_save_creates_table_both_readers_agree(spark, tpath):
    people(spark).write.format("delta").save(tpath)
    assert has_log(tpath)
    assert client_rows(spark.read.format("delta").load(tpath)) == sorted(PEOPLE)
    assert dl_rows(tpath) == sorted(PEOPLE)
    assert dl_schema(tpath) == [("id", "long"), ("name", "string"), ("k", "string")]
    assert dl(tpath).version() == 0
    assert dl(tpath).metadata().partition_columns == []


def test_first_save_is_a_write_commit_with_mode(spark, tpath):
    """A DataFrameWriter save records operation WRITE with parameter mode (the SaveMode's
    name; the writer's default mode is ErrorIfExists)."""
    people(spark).write.format("delta").save(tpath)
    last = dl_last(tpath)
    assert last["operation"] == "WRITE"
    assert last["operationParameters"]["mode"] == "ErrorIfExists"


def test_read_schema_matches_written_schema(spark, tpath):
    spark.createDataFrame([(1, "a", 1.5, True)], "i int, s string, d double, b boolean").write.format(
        "delta"
    ).save(tpath)
    df = spark.read.format("delta").load(tpath)
    assert [(f.name, f.dataType.simpleString()) for f in df.schema.fields] == [
        ("i", "int"), ("s", "string"), ("d", "double"), ("b", "boolean")
    ]
    assert dl_schema(tpath) == [("i", "integer"), ("s", "string"), ("d", "double"), ("b", "boolean")]


def test_append_adds_rows_and_a_version(spark, tpath):
    people(spark).write.format("delta").save(tpath)
    people(spark, [(4, "dan", "y")]).write.format("delta").mode("append").save(tpath)
    expected = sorted(PEOPLE + [(4, "dan", "y")])
    assert client_rows(spark.read.format("delta").load(tpath)) == expected
    assert dl_rows(tpath) == expected
    assert dl(tpath).version() == 1
    assert dl_ops(tpath) == ["WRITE", "WRITE"]
    assert dl_last(tpath)["operationParameters"]["mode"] == "Append"


def test_append_to_missing_path_creates_table(spark, tpath):
    people(spark).write.format("delta").mode("append").save(tpath)
    assert dl_rows(tpath) == sorted(PEOPLE)
    assert dl(tpath).version() == 0


def test_overwrite_replaces_rows_and_keeps_history(spark, tpath):
    people(spark).write.format("delta").save(tpath)
    people(spark, [(9, "zed", "z")]).write.format("delta").mode("overwrite").save(tpath)
    assert client_rows(spark.read.format("delta").load(tpath)) == [(9, "zed", "z")]
    assert dl_rows(tpath) == [(9, "zed", "z")]
    assert dl(tpath).version() == 1
    assert dl_last(tpath)["operationParameters"]["mode"] == "Overwrite"
    # the old snapshot is still there for time travel
    assert dl_rows(tpath, version=0) == sorted(PEOPLE)


@pytest.mark.parametrize("mode", [None, "error"])
def test_mode_error_on_existing_path_fails(spark, tpath, mode):
    """Delta: DELTA_PATH_EXISTS "Cannot write to already existent path <path> without
    setting OVERWRITE = 'true'" (an AnalysisException); the table is untouched. No mode is
    the same as "error". ("errorifexists" never reaches a server: the PySpark 4.2 Connect
    client only knows append/overwrite/error/ignore and raises PySparkValueError itself.)"""
    people(spark).write.format("delta").save(tpath)
    with pytest.raises(AnalysisException) as info:
        people(spark, [(4, "dan", "y")]).write.format("delta").mode(mode).save(tpath)
    assert os.path.basename(tpath) in message(info.value)
    assert dl(tpath).version() == 0
    assert dl_rows(tpath) == sorted(PEOPLE)


def test_mode_error_on_existing_path_condition(spark, tpath):
    people(spark).write.format("delta").save(tpath)
    with pytest.raises(AnalysisException) as info:
        people(spark).write.format("delta").mode("error").save(tpath)
    assert condition(info.value) == "DELTA_PATH_EXISTS"


def test_mode_ignore_on_existing_path_does_nothing(spark, tpath):
    people(spark).write.format("delta").save(tpath)
    people(spark, [(4, "dan", "y")]).write.format("delta").mode("ignore").save(tpath)
    assert dl(tpath).version() == 0
    assert dl_rows(tpath) == sorted(PEOPLE)
    assert client_rows(spark.read.format("delta").load(tpath)) == sorted(PEOPLE)


def test_mode_ignore_on_new_path_writes(spark, tpath):
    people(spark).write.format("delta").mode("ignore").save(tpath)
    assert dl_rows(tpath) == sorted(PEOPLE)


def test_overwrite_of_empty_dataframe_empties_table(spark, tpath):
    people(spark).write.format("delta").save(tpath)
    people(spark, []).write.format("delta").mode("overwrite").save(tpath)
    assert dl_rows(tpath) == []
    assert spark.read.format("delta").load(tpath).count() == 0
    assert dl(tpath).version() == 1


# ---------------------------------------------------------------- partitioning


def test_partition_by_writes_folders_and_metadata(spark, tpath):
    people(spark).write.format("delta").partitionBy("k").save(tpath)
    assert sorted(p for p in os.listdir(tpath) if not p.startswith("_")) == ["k=x", "k=y"]
    assert dl(tpath).metadata().partition_columns == ["k"]
    assert dl_last(tpath)["operationParameters"]["partitionBy"] == '["k"]'
    assert dl_rows(tpath) == sorted(PEOPLE)
    assert client_rows(spark.read.format("delta").load(tpath)) == sorted(PEOPLE)


def test_partition_column_keeps_its_place_in_schema(spark, tpath):
    """Unlike plain parquet folders, a Delta table's schema is the written schema: the
    partition column is not moved to the end."""
    people(spark).write.format("delta").partitionBy("k").save(tpath)
    assert spark.read.format("delta").load(tpath).columns == ["id", "name", "k"]
    assert [n for n, _ in dl_schema(tpath)] == ["id", "name", "k"]
    people(spark).select("k", "id", "name").write.format("delta").partitionBy("k").save(tpath + "2")
    assert spark.read.format("delta").load(tpath + "2").columns == ["k", "id", "name"]


def test_partition_by_two_columns_nests_folders(spark, tpath):
    df = spark.createDataFrame([(1, "a", 10), (2, "a", 20), (3, "b", 10)], "id long, p string, q int")
    df.write.format("delta").partitionBy("p", "q").save(tpath)
    assert dl(tpath).metadata().partition_columns == ["p", "q"]
    assert os.path.isdir(os.path.join(tpath, "p=a", "q=10"))
    assert os.path.isdir(os.path.join(tpath, "p=b", "q=10"))
    assert dl_rows(tpath) == [(1, "a", 10), (2, "a", 20), (3, "b", 10)]
    assert client_rows(spark.read.format("delta").load(tpath).where("q = 10")) == [(1, "a", 10), (3, "b", 10)]


def test_null_partition_value_folder(spark, tpath):
    people(spark, [(1, "ann", None), (2, "bob", "x")]).write.format("delta").partitionBy("k").save(tpath)
    assert os.path.isdir(os.path.join(tpath, "k=__HIVE_DEFAULT_PARTITION__"))
    assert dl_rows(tpath) == [(1, "ann", None), (2, "bob", "x")]
    assert client_rows(spark.read.format("delta").load(tpath).where("k IS NULL")) == [(1, "ann", None)]


def test_append_without_partition_by_keeps_table_partitioning(spark, tpath):
    people(spark).write.format("delta").partitionBy("k").save(tpath)
    people(spark, [(4, "dan", "w")]).write.format("delta").mode("append").save(tpath)
    assert dl(tpath).metadata().partition_columns == ["k"]
    assert os.path.isdir(os.path.join(tpath, "k=w"))
    assert dl_rows(tpath) == sorted(PEOPLE + [(4, "dan", "w")])


def test_partition_filter_reads_only_matching_rows(spark, tpath):
    people(spark).write.format("delta").partitionBy("k").save(tpath)
    got = client_rows(spark.read.format("delta").load(tpath).where("k = 'x'").select("id"))
    assert got == [(1,), (3,)]


# ---------------------------------------------------------------- schema enforcement / evolution


def test_append_with_extra_column_fails_without_merge_schema(spark, tpath):
    """Schema enforcement: a new column is refused unless mergeSchema is set
    (Delta: DELTA_METADATA_MISMATCH, "A schema mismatch detected when writing")."""
    people(spark).write.format("delta").save(tpath)
    extra = spark.createDataFrame([(4, "dan", "y", 1.5)], "id long, name string, k string, score double")
    with pytest.raises(AnalysisException) as info:
        extra.write.format("delta").mode("append").save(tpath)
    assert "score" in message(info.value)
    assert dl(tpath).version() == 0
    assert dl_schema(tpath) == [("id", "long"), ("name", "string"), ("k", "string")]


def test_append_with_incompatible_type_fails(spark, tpath):
    """A string where the table has a long cannot be merged (Delta:
    DELTA_FAILED_TO_MERGE_FIELDS names the field)."""
    people(spark).write.format("delta").save(tpath)
    bad = spark.createDataFrame([("four", "dan", "y")], "id string, name string, k string")
    with pytest.raises(AnalysisException) as info:
        bad.write.format("delta").mode("append").save(tpath)
    assert "id" in message(info.value)
    assert dl(tpath).version() == 0
    assert dl_rows(tpath) == sorted(PEOPLE)


def test_merge_schema_adds_column_old_rows_null(spark, tpath):
    people(spark).write.format("delta").save(tpath)
    extra = spark.createDataFrame([(4, "dan", "y", 1.5)], "id long, name string, k string, score double")
    extra.write.format("delta").mode("append").option("mergeSchema", "true").save(tpath)
    assert dl_schema(tpath) == [("id", "long"), ("name", "string"), ("k", "string"), ("score", "double")]
    expected = sorted([r + (None,) for r in PEOPLE] + [(4, "dan", "y", 1.5)])
    assert dl_rows(tpath) == expected
    df = spark.read.format("delta").load(tpath)
    assert df.columns == ["id", "name", "k", "score"]
    assert client_rows(df) == expected
    assert dl(tpath).version() == 1


def test_merge_schema_with_missing_column_fills_null(spark, tpath):
    """Appending fewer columns is allowed (missing ones are NULL) even without mergeSchema."""
    people(spark).write.format("delta").save(tpath)
    spark.createDataFrame([(4, "dan")], "id long, name string").write.format("delta").mode("append").save(tpath)
    assert dl_rows(tpath) == sorted(PEOPLE + [(4, "dan", None)])


def test_overwrite_with_other_schema_fails_without_overwrite_schema(spark, tpath):
    """mode overwrite replaces data, not the schema: a different schema needs
    overwriteSchema=true."""
    people(spark).write.format("delta").save(tpath)
    other = spark.createDataFrame([("a", 1.0)], "code string, value double")
    with pytest.raises(AnalysisException):
        other.write.format("delta").mode("overwrite").save(tpath)
    assert dl(tpath).version() == 0
    assert dl_rows(tpath) == sorted(PEOPLE)


def test_overwrite_schema_replaces_schema(spark, tpath):
    people(spark).write.format("delta").save(tpath)
    other = spark.createDataFrame([("a", 1.0), ("b", 2.0)], "code string, value double")
    other.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(tpath)
    assert dl_schema(tpath) == [("code", "string"), ("value", "double")]
    assert dl_rows(tpath) == [("a", 1.0), ("b", 2.0)]
    df = spark.read.format("delta").load(tpath)
    assert df.columns == ["code", "value"]
    assert client_rows(df) == [("a", 1.0), ("b", 2.0)]
    # version 0 keeps its own schema
    assert dl_schema(tpath, version=0) == [("id", "long"), ("name", "string"), ("k", "string")]


def test_overwrite_schema_can_change_partitioning(spark, tpath):
    people(spark).write.format("delta").partitionBy("k").save(tpath)
    people(spark).write.format("delta").mode("overwrite").option("overwriteSchema", "true").partitionBy(
        "name"
    ).save(tpath)
    assert dl(tpath).metadata().partition_columns == ["name"]
    assert dl_rows(tpath) == sorted(PEOPLE)


# ---------------------------------------------------------------- replaceWhere


def test_replace_where_replaces_only_matching_rows(spark, tpath):
    people(spark).write.format("delta").partitionBy("k").save(tpath)
    people(spark, [(7, "eve", "x")]).write.format("delta").mode("overwrite").option(
        "replaceWhere", "k = 'x'"
    ).save(tpath)
    expected = [(2, "bob", "y"), (7, "eve", "x")]
    assert dl_rows(tpath) == expected
    assert client_rows(spark.read.format("delta").load(tpath)) == expected
    last = dl_last(tpath)
    assert last["operation"] == "WRITE"
    assert last["operationParameters"]["mode"] == "Overwrite"
    assert "predicate" in last["operationParameters"]


def test_replace_where_on_data_column(spark, tpath):
    """Since Delta 1.1 replaceWhere takes any predicate, not only partition columns."""
    people(spark).write.format("delta").save(tpath)
    people(spark, [(1, "ANN", "x")]).write.format("delta").mode("overwrite").option(
        "replaceWhere", "id <= 1"
    ).save(tpath)
    expected = [(1, "ANN", "x"), (2, "bob", "y"), (3, "cid", "x")]
    assert dl_rows(tpath) == expected
    assert client_rows(spark.read.format("delta").load(tpath)) == expected


def test_replace_where_rejects_rows_outside_predicate(spark, tpath):
    """Delta: DELTA_REPLACE_WHERE_MISMATCH "Written data does not conform to partial table
    overwrite condition or constraint"; nothing is committed."""
    people(spark).write.format("delta").partitionBy("k").save(tpath)
    with pytest.raises(AnalysisException) as info:
        people(spark, [(7, "eve", "x"), (8, "fay", "y")]).write.format("delta").mode("overwrite").option(
            "replaceWhere", "k = 'x'"
        ).save(tpath)
    assert condition(info.value) == "DELTA_REPLACE_WHERE_MISMATCH"
    assert dl(tpath).version() == 0
    assert dl_rows(tpath) == sorted(PEOPLE)


# ---------------------------------------------------------------- tables by name


def test_save_as_table_defaults_to_delta(spark, warehouse):
    """sluice's default table format is delta (as on Databricks): no format() needed."""
    people(spark).write.saveAsTable("people")
    location = warehouse / "people"
    assert has_log(location)
    assert dl_rows(location) == sorted(PEOPLE)
    assert dl_ops(location) == ["CREATE TABLE AS SELECT"]
    assert dl_last(location)["operationParameters"]["isManaged"] == "true"
    assert client_rows(spark.read.table("people")) == sorted(PEOPLE)
    assert client_rows(spark.table("people")) == sorted(PEOPLE)


def test_save_as_table_with_partition_by(spark, warehouse):
    people(spark).write.format("delta").partitionBy("k").saveAsTable("people")
    location = warehouse / "people"
    assert dl(location).metadata().partition_columns == ["k"]
    assert (location / "k=x").is_dir()
    assert client_rows(spark.read.table("people")) == sorted(PEOPLE)


def test_save_as_table_append_and_overwrite(spark, warehouse):
    location = warehouse / "people"
    people(spark).write.format("delta").saveAsTable("people")
    people(spark, [(4, "dan", "y")]).write.format("delta").mode("append").saveAsTable("people")
    assert dl_rows(location) == sorted(PEOPLE + [(4, "dan", "y")])
    assert dl_last(location)["operation"] == "WRITE"
    people(spark, [(9, "zed", "z")]).write.format("delta").mode("overwrite").saveAsTable("people")
    assert dl_rows(location) == [(9, "zed", "z")]
    assert client_rows(spark.read.table("people")) == [(9, "zed", "z")]
    assert dl(location).version() == 2
    # An overwrite through saveAsTable may be a WRITE (mode Overwrite) or a replace.
    assert dl_last(location)["operation"] in ("WRITE", "CREATE OR REPLACE TABLE AS SELECT")


def test_save_as_table_error_mode_on_existing_table(spark, warehouse):
    people(spark).write.format("delta").saveAsTable("people")
    with pytest.raises(AnalysisException) as info:
        people(spark).write.format("delta").saveAsTable("people")
    assert condition(info.value) == "TABLE_OR_VIEW_ALREADY_EXISTS"
    assert "people" in message(info.value)
    assert dl(warehouse / "people").version() == 0


def test_save_as_table_ignore_mode_on_existing_table(spark, warehouse):
    people(spark).write.format("delta").saveAsTable("people")
    people(spark, [(4, "dan", "y")]).write.format("delta").mode("ignore").saveAsTable("people")
    assert dl(warehouse / "people").version() == 0
    assert client_rows(spark.table("people")) == sorted(PEOPLE)


def test_insert_into_is_by_position(spark, warehouse):
    sql(spark, "CREATE TABLE pairs (a INT, b STRING) USING DELTA")
    # names differ and do not matter: insertInto matches columns by position
    spark.createDataFrame([(1, "one"), (2, "two")], "x int, y string").write.insertInto("pairs")
    assert dl_rows(warehouse / "pairs") == [(1, "one"), (2, "two")]
    assert client_rows(spark.table("pairs")) == [(1, "one"), (2, "two")]
    # even swapped names go by position
    spark.createDataFrame([(3, "three")], "b int, a string").write.insertInto("pairs")
    assert client_rows(spark.table("pairs")) == [(1, "one"), (2, "two"), (3, "three")]
    assert dl(warehouse / "pairs").version() == 2


def test_insert_into_overwrite(spark, warehouse):
    sql(spark, "CREATE TABLE pairs (a INT, b STRING) USING DELTA")
    spark.createDataFrame([(1, "one")], "a int, b string").write.insertInto("pairs")
    spark.createDataFrame([(2, "two")], "a int, b string").write.insertInto("pairs", overwrite=True)
    assert dl_rows(warehouse / "pairs") == [(2, "two")]
    assert client_rows(spark.table("pairs")) == [(2, "two")]
    assert dl_last(warehouse / "pairs")["operationParameters"]["mode"] == "Overwrite"


def test_insert_into_missing_table_fails(spark):
    with pytest.raises(AnalysisException) as info:
        spark.createDataFrame([(1,)], "a int").write.insertInto("nowhere")
    assert condition(info.value) == "TABLE_OR_VIEW_NOT_FOUND"


def test_read_table_of_path_written_table_by_name(spark, tpath):
    """A table registered with LOCATION reads the same by name and by path."""
    people(spark).write.format("delta").save(tpath)
    sql(spark, f"CREATE TABLE ext USING DELTA LOCATION '{tpath}'")
    assert spark.table("ext").columns == ["id", "name", "k"]
    assert client_rows(spark.read.table("ext")) == sorted(PEOPLE)
    assert dl(tpath).version() == 0  # registering does not write a commit


# ---------------------------------------------------------------- time travel


def three_versions(spark, tpath):
    people(spark, [(1, "ann", "x")]).write.format("delta").save(tpath)
    people(spark, [(2, "bob", "y")]).write.format("delta").mode("append").save(tpath)
    people(spark, [(3, "cid", "z")]).write.format("delta").mode("overwrite").save(tpath)


def test_version_as_of(spark, tpath):
    three_versions(spark, tpath)
    reader = spark.read.format("delta")
    assert client_rows(reader.option("versionAsOf", 0).load(tpath)) == [(1, "ann", "x")]
    assert client_rows(reader.option("versionAsOf", "1").load(tpath)) == [(1, "ann", "x"), (2, "bob", "y")]
    assert client_rows(spark.read.format("delta").option("versionAsOf", 2).load(tpath)) == [(3, "cid", "z")]
    for v in range(3):
        assert client_rows(spark.read.format("delta").option("versionAsOf", v).load(tpath)) == dl_rows(tpath, v)


def test_version_as_of_with_older_schema(spark, tpath):
    people(spark).write.format("delta").save(tpath)
    spark.createDataFrame([("a",)], "code string").write.format("delta").mode("overwrite").option(
        "overwriteSchema", "true"
    ).save(tpath)
    old = spark.read.format("delta").option("versionAsOf", 0).load(tpath)
    assert old.columns == ["id", "name", "k"]
    assert client_rows(old) == sorted(PEOPLE)


def test_version_as_of_beyond_latest_fails(spark, tpath):
    """Delta: DELTA_VERSION_NOT_FOUND "Cannot time travel Delta table to version 5.
    Available versions: [0, 0]"."""
    people(spark).write.format("delta").save(tpath)
    with pytest.raises(AnalysisException):
        spark.read.format("delta").option("versionAsOf", 5).load(tpath).collect()


def commit_times(tpath):
    """{version: commit timestamp (UTC, ms)} per delta-rs."""
    return {h["version"]: h["timestamp"] for h in dl(tpath).history()}


def ts_string(ms: int) -> str:
    t = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc)
    return t.strftime("%Y-%m-%d %H:%M:%S.") + f"{t.microsecond // 1000:03d}"


def test_timestamp_as_of(spark, tpath):
    """timestampAsOf T reads the latest version committed at or before T."""
    people(spark, [(1, "ann", "x")]).write.format("delta").save(tpath)
    time.sleep(1.2)
    people(spark, [(2, "bob", "y")]).write.format("delta").mode("append").save(tpath)
    times = commit_times(tpath)
    assert times[1] - times[0] >= 1000
    at0 = spark.read.format("delta").option("timestampAsOf", ts_string(times[0])).load(tpath)
    assert client_rows(at0) == [(1, "ann", "x")]
    between = spark.read.format("delta").option("timestampAsOf", ts_string(times[0] + 500)).load(tpath)
    assert client_rows(between) == [(1, "ann", "x")]
    at1 = spark.read.format("delta").option("timestampAsOf", ts_string(times[1])).load(tpath)
    assert client_rows(at1) == [(1, "ann", "x"), (2, "bob", "y")]


def test_timestamp_as_of_before_first_commit_fails(spark, tpath):
    """Delta: DELTA_TIMESTAMP_EARLIER_THAN_COMMIT_RETENTION."""
    people(spark).write.format("delta").save(tpath)
    with pytest.raises(AnalysisException):
        spark.read.format("delta").option("timestampAsOf", "2000-01-01 00:00:00").load(tpath).collect()


def test_read_of_missing_path_fails(spark, tmp_path):
    with pytest.raises(AnalysisException) as info:
        spark.read.format("delta").load(str(tmp_path / "absent")).collect()
    assert "absent" in message(info.value)


# ---------------------------------------------------------------- idempotent writes


def txn_write(df, tpath, version, app="app"):
    df.write.format("delta").option("txnAppId", app).option("txnVersion", version).mode("append").save(tpath)


def test_idempotent_write_skips_repeated_txn_version(spark, tpath):
    """docs.delta.io "Idempotent table writes": a write whose (txnAppId, txnVersion) was
    already committed is skipped."""
    people(spark).write.format("delta").save(tpath)
    txn_write(people(spark, [(4, "dan", "y")]), tpath, 1)
    assert dl(tpath).version() == 1
    txn_write(people(spark, [(4, "dan", "y")]), tpath, 1)
    assert dl(tpath).version() == 1
    expected = sorted(PEOPLE + [(4, "dan", "y")])
    assert dl_rows(tpath) == expected
    assert client_rows(spark.read.format("delta").load(tpath)) == expected
    assert dl(tpath).transaction_version("app") == 1


def test_idempotent_write_next_txn_version_is_written(spark, tpath):
    people(spark).write.format("delta").save(tpath)
    txn_write(people(spark, [(4, "dan", "y")]), tpath, 1)
    txn_write(people(spark, [(5, "eve", "y")]), tpath, 2)
    assert dl(tpath).version() == 2
    assert dl_rows(tpath) == sorted(PEOPLE + [(4, "dan", "y"), (5, "eve", "y")])
    # an older version than the last committed one is skipped too
    txn_write(people(spark, [(6, "fay", "y")]), tpath, 1)
    assert dl(tpath).version() == 2
    assert dl(tpath).transaction_version("app") == 2


def test_idempotent_write_versions_are_per_app_id(spark, tpath):
    people(spark).write.format("delta").save(tpath)
    txn_write(people(spark, [(4, "dan", "y")]), tpath, 1, app="a")
    txn_write(people(spark, [(5, "eve", "y")]), tpath, 1, app="b")
    assert dl(tpath).version() == 2
    assert dl_rows(tpath) == sorted(PEOPLE + [(4, "dan", "y"), (5, "eve", "y")])


def test_idempotent_write_on_new_path(spark, tpath):
    txn_write(people(spark), tpath, 1)
    txn_write(people(spark), tpath, 1)
    assert dl(tpath).version() == 0
    assert dl_rows(tpath) == sorted(PEOPLE)


def test_insert_into_with_partition_by_fails(spark):
    """Spark 4.3: PARTITION_BY_NOT_ALLOWED_WITH_INSERT_INTO (recorded with local Spark on a
    parquet table; the check comes before the table's format matters)."""
    spark.range(2).write.saveAsTable("ii")
    with pytest.raises(AnalysisException) as info:
        spark.range(2).write.partitionBy("id").insertInto("ii")
    assert info.value.getCondition() == "PARTITION_BY_NOT_ALLOWED_WITH_INSERT_INTO"
    assert client_rows(spark.table("ii")) == [(0,), (1,)]


def test_insert_into_honours_txn_options(spark):
    """insertInto takes the writer's Delta options: a repeated (txnAppId, txnVersion) is
    skipped."""
    spark.range(2).write.saveAsTable("ii")
    for _ in range(2):
        spark.range(2, 3).write.option("txnAppId", "a").option("txnVersion", 1).insertInto("ii")
    assert client_rows(spark.table("ii")) == [(0,), (1,), (2,)]


# ---------------------------------------------------------------- log checkpoints


def checkpoints(tpath):
    log = Path(tpath) / "_delta_log"
    return sorted(int(p.name.split(".")[0]) for p in log.glob("*.checkpoint.parquet"))


def test_checkpoint_every_ten_commits_as_delta(spark, tpath):
    """Delta checkpoints the log when a commit's version is a multiple of
    delta.checkpointInterval (default 10); the txn recorded before the checkpoint is still
    honoured after it, and delta-rs reads the table from the checkpoint."""
    people(spark).write.format("delta").save(tpath)
    for v in range(1, 13):
        txn_write(people(spark, [(100 + v, "n", "z")]), tpath, v)
    assert dl(tpath).version() == 12
    assert checkpoints(tpath) == [10]
    last = (Path(tpath) / "_delta_log" / "_last_checkpoint").read_text()
    assert '"version":10' in last.replace(" ", "")
    txn_write(people(spark, [(999, "dup", "z")]), tpath, 9)  # recorded before the checkpoint
    assert dl(tpath).version() == 12
    expected = sorted(PEOPLE + [(100 + v, "n", "z") for v in range(1, 13)])
    assert dl_rows(tpath) == expected
    assert client_rows(spark.read.format("delta").load(tpath)) == expected
    old = spark.read.format("delta").option("versionAsOf", 3).load(tpath)
    assert client_rows(old) == sorted(PEOPLE + [(101, "n", "z"), (102, "n", "z"), (103, "n", "z")])


def test_checkpoint_interval_table_property(spark, warehouse):
    """`delta.checkpointInterval` set on the table moves the checkpoints; SQL DML commits
    count as any other commit."""
    sql(spark, "CREATE TABLE ck (id INT) USING DELTA TBLPROPERTIES ('delta.checkpointInterval' = '4')")
    for i in range(1, 8):
        sql(spark, f"INSERT INTO ck VALUES ({i})")
    sql(spark, "DELETE FROM ck WHERE id = 1")
    loc = str(Path(warehouse) / "ck")
    assert dl(loc).version() == 8
    assert checkpoints(loc) == [4, 8]
    assert dl_rows(loc) == [(i,) for i in range(2, 8)]
    assert [r[0] for r in spark.sql("SELECT id FROM ck ORDER BY id").collect()] == list(range(2, 8))


@pytest.mark.parametrize(
    "value, prefix",
    # Delta's DeltaConfigs: a value that is not an int is refused with the help text alone,
    # an int that is not positive through `require` ("requirement failed: ").
    [("0", "requirement failed: "), ("-1", "requirement failed: "), ("abc", ""), ("", "")],
)
def test_invalid_checkpoint_interval_is_refused(spark, warehouse, tpath, value, prefix):
    """Delta validates `delta.checkpointInterval` when it is set and fails the statement with
    IllegalArgumentException naming the property; nothing is created."""
    from pyspark.errors import IllegalArgumentException

    expected = f"{prefix}delta.checkpointInterval needs to be a positive integer."
    with pytest.raises(IllegalArgumentException) as e:
        sql(spark, f"CREATE TABLE ck (id INT) USING DELTA TBLPROPERTIES ('delta.checkpointInterval' = '{value}')")
    assert message(e.value).startswith(expected)
    with pytest.raises(IllegalArgumentException) as e:
        sql(spark, f"CREATE TABLE ck USING DELTA TBLPROPERTIES ('delta.checkpointInterval' = '{value}') AS SELECT 1 AS id")
    assert message(e.value).startswith(expected)
    with pytest.raises(IllegalArgumentException):
        sql(spark, f"CREATE TABLE ck (id INT) USING DELTA LOCATION '{tpath}' TBLPROPERTIES ('delta.checkpointInterval' = '{value}')")
    assert not Path(tpath, "_delta_log").exists()
    assert not (Path(warehouse) / "ck").exists()
    assert spark.sql("SHOW TABLES").collect() == []


# ---------------------------------------------------------------- reading tables others wrote


def test_read_table_written_by_delta_rs_with_evolved_schema(spark, tpath):
    """A table delta-rs (the `deltalake` package) wrote in three commits, the last adding a
    column: the reader sees every file under the latest schema (old rows NULL in the new
    column), filters inside files, and counts from the log agree with the rows."""
    import pyarrow as pa
    from deltalake import write_deltalake

    write_deltalake(str(tpath), pa.table({"id": [1, 2, 3], "s": ["a", "b", "c"]}))
    write_deltalake(str(tpath), pa.table({"id": [4, 5], "s": ["d", None]}), mode="append")
    write_deltalake(
        str(tpath),
        pa.table({"id": [6], "s": ["f"], "x": [1.5]}),
        mode="append",
        schema_mode="merge",
    )
    df = spark.read.format("delta").load(str(tpath))
    assert [f.name for f in df.schema.fields] == ["id", "s", "x"]
    assert sorted(tuple(r) for r in df.collect()) == [
        (1, "a", None), (2, "b", None), (3, "c", None), (4, "d", None), (5, None, None),
        (6, "f", 1.5),
    ]  # fmt: skip
    assert df.count() == 6
    assert df.where("id > 3").count() == 3
    assert [tuple(r) for r in df.where("x IS NOT NULL").select("id", "x").collect()] == [(6, 1.5)]
    assert [tuple(r) for r in df.where("s IS NULL").select("id").collect()] == [(5,)]
    old = spark.read.format("delta").option("versionAsOf", 1).load(str(tpath))
    assert sorted(r.id for r in old.collect()) == [1, 2, 3, 4, 5] and "x" not in old.columns
