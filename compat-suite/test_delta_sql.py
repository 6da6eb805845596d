"""Delta Lake through SQL: CREATE TABLE (USING DELTA, PARTITIONED BY, LOCATION,
TBLPROPERTIES, COMMENT), CTAS, CREATE OR REPLACE, INSERT INTO / OVERWRITE, time travel in
SQL, DESCRIBE HISTORY / DETAIL, SHOW TABLES, DROP TABLE, databases, qualified names and
delta.`/path` identifiers. Each result is checked through the client and through delta-rs.

Expected values follow Delta Lake's documentation (docs.delta.io: "Table batch reads and
writes", "Table utility commands") and Spark's SQL reference."""

import json
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


def local(location: str) -> str:
    """A location as Spark prints it (file:/x, file:///x or /x) as a plain path."""
    for prefix in ("file://", "file:"):
        if location.startswith(prefix):
            location = location[len(prefix):]
            break
    return location.rstrip("/")


# ---------------------------------------------------------------- CREATE TABLE


def test_create_table_makes_empty_managed_delta_table(spark, warehouse):
    sql(spark, "CREATE TABLE t (a INT, b STRING) USING DELTA")
    location = warehouse / "t"
    assert has_log(location)
    assert dl(location).version() == 0
    assert dl_schema(location) == [("a", "integer"), ("b", "string")]
    assert dl_rows(location) == []
    assert dl_ops(location) == ["CREATE TABLE"]
    df = spark.table("t")
    assert [(f.name, f.dataType.simpleString()) for f in df.schema.fields] == [("a", "int"), ("b", "string")]
    assert df.count() == 0


def test_create_table_partitioned_by(spark, warehouse):
    sql(spark, "CREATE TABLE t (a INT, b STRING) USING DELTA PARTITIONED BY (b)")
    location = warehouse / "t"
    assert dl(location).metadata().partition_columns == ["b"]
    sql(spark, "INSERT INTO t VALUES (1, 'x'), (2, 'y'), (3, 'x')")
    assert (location / "b=x").is_dir() and (location / "b=y").is_dir()
    assert dl_rows(location) == [(1, "x"), (2, "y"), (3, "x")]
    assert spark.table("t").columns == ["a", "b"]


def test_create_table_with_location_is_external(spark, warehouse, tpath):
    sql(spark, f"CREATE TABLE ext (a INT, b STRING) USING DELTA LOCATION '{tpath}'")
    assert has_log(tpath)
    assert not (warehouse / "ext").exists()
    sql(spark, "INSERT INTO ext VALUES (1, 'one')")
    assert dl_rows(tpath) == [(1, "one")]
    assert client_rows(spark.read.format("delta").load(tpath)) == [(1, "one")]


def test_create_table_tblproperties_and_comment(spark, warehouse):
    sql(
        spark,
        "CREATE TABLE t (a INT, b STRING) USING DELTA COMMENT 'the t table' "
        "TBLPROPERTIES ('sluice.test.owner' = 'team-a', 'delta.logRetentionDuration' = 'interval 60 days')",
    )
    meta = dl(warehouse / "t").metadata()
    assert meta.description == "the t table"
    assert meta.configuration.get("sluice.test.owner") == "team-a"
    assert meta.configuration.get("delta.logRetentionDuration") == "interval 60 days"
    detail = spark.sql("DESCRIBE DETAIL t").first()
    assert detail["description"] == "the t table"
    assert detail["properties"].get("sluice.test.owner") == "team-a"


def test_create_table_column_comment_and_not_null(spark, warehouse):
    sql(spark, "CREATE TABLE t (a INT NOT NULL COMMENT 'key', b STRING) USING DELTA")
    fields = {f.name: f for f in dl(warehouse / "t").schema().fields}
    assert fields["a"].nullable is False
    assert fields["b"].nullable is True
    assert spark.table("t").schema["a"].nullable is False


def test_insert_null_into_not_null_column_fails(spark, warehouse):
    """Delta enforces NOT NULL on write (DELTA_NOT_NULL_CONSTRAINT_VIOLATED); nothing is
    committed."""
    sql(spark, "CREATE TABLE t (a INT NOT NULL, b STRING) USING DELTA")
    with pytest.raises(Exception) as info:
        sql(spark, "INSERT INTO t VALUES (NULL, 'x')")
    # Delta: "NOT NULL constraint violated for column: a"; Spark's own check says
    # "NULL value appeared in non-nullable field". Either way nothing is written.
    assert "null" in message(info.value).lower()
    assert dl(warehouse / "t").version() == 0
    assert dl_rows(warehouse / "t") == []


def test_create_existing_table_fails(spark):
    sql(spark, "CREATE TABLE t (a INT) USING DELTA")
    with pytest.raises(AnalysisException) as info:
        sql(spark, "CREATE TABLE t (a INT) USING DELTA")
    assert condition(info.value) == "TABLE_OR_VIEW_ALREADY_EXISTS"
    assert "`t`" in message(info.value)


def test_create_table_if_not_exists_keeps_existing(spark, warehouse):
    sql(spark, "CREATE TABLE t (a INT) USING DELTA")
    sql(spark, "INSERT INTO t VALUES (1)")
    sql(spark, "CREATE TABLE IF NOT EXISTS t (z STRING) USING DELTA")
    assert dl_schema(warehouse / "t") == [("a", "integer")]
    assert dl_rows(warehouse / "t") == [(1,)]
    assert dl(warehouse / "t").version() == 1


def test_create_table_as_select(spark, warehouse):
    sql(spark, "CREATE TABLE c USING DELTA AS SELECT id, id * 2 AS twice FROM range(4)")
    location = warehouse / "c"
    assert dl_rows(location) == [(0, 0), (1, 2), (2, 4), (3, 6)]
    assert dl_schema(location) == [("id", "long"), ("twice", "long")]
    assert len(dl_ops(location)) == 1  # its name: test_ctas_history_operation_name
    assert client_rows(spark.table("c")) == [(0, 0), (1, 2), (2, 4), (3, 6)]


def test_create_table_as_select_partitioned(spark, warehouse):
    sql(
        spark,
        "CREATE TABLE c USING DELTA PARTITIONED BY (p) AS SELECT id, CAST(id % 2 AS STRING) AS p FROM range(4)",
    )
    location = warehouse / "c"
    assert dl(location).metadata().partition_columns == ["p"]
    assert (location / "p=0").is_dir() and (location / "p=1").is_dir()
    assert dl_rows(location) == [(0, "0"), (1, "1"), (2, "0"), (3, "1")]


def test_create_or_replace_table_replaces_schema_and_data(spark, warehouse):
    sql(spark, "CREATE TABLE t (a INT, b STRING) USING DELTA")
    sql(spark, "INSERT INTO t VALUES (1, 'one')")
    sql(spark, "CREATE OR REPLACE TABLE t (x DOUBLE) USING DELTA")
    location = warehouse / "t"
    assert dl_schema(location) == [("x", "double")]
    assert dl_rows(location) == []
    assert dl(location).version() == 2
    assert dl_ops(location) == ["CREATE TABLE", "WRITE", "CREATE OR REPLACE TABLE"]
    assert spark.table("t").columns == ["x"]
    # the replaced table is still there in the history
    assert dl_rows(location, version=1) == [(1, "one")]


def test_create_or_replace_table_as_select(spark, warehouse):
    sql(spark, "CREATE TABLE t USING DELTA AS SELECT 1 AS a")
    sql(spark, "CREATE OR REPLACE TABLE t USING DELTA AS SELECT 'x' AS s, 2 AS n")
    location = warehouse / "t"
    assert dl_rows(location) == [("x", 2)]
    assert len(dl_ops(location)) == 2  # names: test_ctas_history_operation_name
    assert client_rows(spark.table("t")) == [("x", 2)]


def test_create_or_replace_creates_when_missing(spark, warehouse):
    sql(spark, "CREATE OR REPLACE TABLE t (a INT) USING DELTA")
    assert dl(warehouse / "t").version() == 0
    assert dl_ops(warehouse / "t") == ["CREATE OR REPLACE TABLE"]


# ---------------------------------------------------------------- INSERT


def test_insert_into_values_and_select(spark, warehouse):
    sql(spark, "CREATE TABLE t (a INT, b STRING) USING DELTA")
    sql(spark, "INSERT INTO t VALUES (1, 'one'), (2, 'two')")
    sql(spark, "INSERT INTO t SELECT id + 10, CAST(id AS STRING) FROM range(2)")
    location = warehouse / "t"
    expected = [(1, "one"), (2, "two"), (10, "0"), (11, "1")]
    assert dl_rows(location) == expected
    assert client_rows(spark.sql("SELECT * FROM t")) == expected
    assert dl_ops(location) == ["CREATE TABLE", "WRITE", "WRITE"]
    assert dl_last(location)["operationParameters"]["mode"] == "Append"


def test_insert_overwrite(spark, warehouse):
    sql(spark, "CREATE TABLE t (a INT, b STRING) USING DELTA")
    sql(spark, "INSERT INTO t VALUES (1, 'one'), (2, 'two')")
    sql(spark, "INSERT OVERWRITE t VALUES (3, 'three')")
    location = warehouse / "t"
    assert dl_rows(location) == [(3, "three")]
    assert client_rows(spark.table("t")) == [(3, "three")]
    assert dl_last(location)["operation"] == "WRITE"
    assert dl_last(location)["operationParameters"]["mode"] == "Overwrite"


def test_insert_with_column_list(spark, warehouse):
    sql(spark, "CREATE TABLE t (a INT, b STRING) USING DELTA")
    sql(spark, "INSERT INTO t (b, a) VALUES ('one', 1)")
    assert dl_rows(warehouse / "t") == [(1, "one")]


def test_insert_wrong_arity_fails(spark, warehouse):
    sql(spark, "CREATE TABLE t (a INT, b STRING) USING DELTA")
    with pytest.raises(AnalysisException):
        sql(spark, "INSERT INTO t VALUES (1, 'one', 'extra')")
    assert dl(warehouse / "t").version() == 0


# ---------------------------------------------------------------- time travel in SQL


def test_select_version_as_of(spark, warehouse):
    sql(spark, "CREATE TABLE t (a INT) USING DELTA")
    sql(spark, "INSERT INTO t VALUES (1)")
    sql(spark, "INSERT INTO t VALUES (2)")
    assert client_rows(spark.sql("SELECT * FROM t VERSION AS OF 0")) == []
    assert client_rows(spark.sql("SELECT * FROM t VERSION AS OF 1")) == [(1,)]
    assert client_rows(spark.sql("SELECT * FROM t VERSION AS OF 2")) == [(1,), (2,)]
    assert client_rows(spark.sql("SELECT * FROM t FOR VERSION AS OF 1")) == dl_rows(warehouse / "t", 1)


def test_select_timestamp_as_of(spark, warehouse):
    sql(spark, "CREATE TABLE t (a INT) USING DELTA")
    sql(spark, "INSERT INTO t VALUES (1)")
    time.sleep(1.2)
    sql(spark, "INSERT INTO t VALUES (2)")
    # A version's time is its commit file's modification time (Delta's rule, and delta-rs');
    # commitInfo's timestamp is taken before the file is written, so under load it can be
    # earlier than the version and select the one before it.
    log = warehouse / "t" / "_delta_log"
    hist = {v: (log / f"{v:020d}.json").stat().st_mtime_ns // 1_000_000 for v in (1, 2)}
    # TIMESTAMP AS OF takes a timestamp expression; cast from epoch millis avoids zone text
    q = "SELECT * FROM t TIMESTAMP AS OF timestamp_millis({})"
    assert client_rows(spark.sql(q.format(hist[1]))) == [(1,)]
    assert client_rows(spark.sql(q.format(hist[1] + 500))) == [(1,)]
    assert client_rows(spark.sql(q.format(hist[2]))) == [(1,), (2,)]


# ---------------------------------------------------------------- DESCRIBE HISTORY / DETAIL


def test_describe_history_columns_and_order(spark):
    sql(spark, "CREATE TABLE t (a INT) USING DELTA")
    sql(spark, "INSERT INTO t VALUES (1)")
    sql(spark, "INSERT OVERWRITE t VALUES (2)")
    df = spark.sql("DESCRIBE HISTORY t")
    for column in ("version", "timestamp", "operation", "operationParameters"):
        assert column in df.columns
    rows = df.collect()
    # newest first
    assert [r["version"] for r in rows] == [2, 1, 0]
    assert [r["operation"] for r in rows] == ["WRITE", "WRITE", "CREATE TABLE"]
    assert rows[0]["operationParameters"]["mode"] == "Overwrite"
    assert rows[1]["operationParameters"]["mode"] == "Append"
    assert rows[0]["timestamp"] >= rows[2]["timestamp"]


def test_describe_history_limit(spark):
    sql(spark, "CREATE TABLE t (a INT) USING DELTA")
    sql(spark, "INSERT INTO t VALUES (1)")
    rows = spark.sql("DESCRIBE HISTORY t LIMIT 1").collect()
    assert [r["version"] for r in rows] == [1]


def test_describe_history_matches_deltalake(spark, warehouse):
    sql(spark, "CREATE TABLE t (a INT) USING DELTA")
    sql(spark, "INSERT INTO t VALUES (1)")
    sql(spark, "DELETE FROM t WHERE a = 1")
    from_client = [(r["version"], r["operation"]) for r in spark.sql("DESCRIBE HISTORY t").collect()]
    from_dl = [(h["version"], h["operation"]) for h in dl(warehouse / "t").history()]
    assert sorted(from_client) == sorted(from_dl)
    assert [op for _, op in sorted(from_dl)] == ["CREATE TABLE", "WRITE", "DELETE"]


def test_describe_detail(spark, warehouse):
    sql(spark, "CREATE TABLE t (a INT, b STRING) USING DELTA PARTITIONED BY (b)")
    sql(spark, "INSERT INTO t VALUES (1, 'x'), (2, 'y')")
    df = spark.sql("DESCRIBE DETAIL t")
    for column in ("format", "location", "partitionColumns", "numFiles", "sizeInBytes", "name", "properties"):
        assert column in df.columns
    rows = df.collect()
    assert len(rows) == 1
    d = rows[0]
    assert d["format"] == "delta"
    assert local(d["location"]) == str(warehouse / "t")
    assert list(d["partitionColumns"]) == ["b"]
    assert d["numFiles"] == len(data_files(warehouse / "t")) >= 2
    assert d["sizeInBytes"] > 0
    assert d["name"].split(".")[-2:] == ["default", "t"]


def test_describe_detail_of_path(spark, tpath):
    spark.range(3).write.format("delta").save(tpath)
    d = spark.sql(f"DESCRIBE DETAIL delta.`{tpath}`").first()
    assert d["format"] == "delta"
    assert local(d["location"]) == tpath
    assert d["numFiles"] == len(data_files(tpath))


# DESCRIBE TABLE EXTENDED of a Delta table as Spark with Delta prints it: Spark's V2
# DescribeTableExec over Delta's table properties (name, type, comment, location, provider,
# then every other property sorted, protocol versions included). Read from Spark's
# DescribeTableExec and Delta's DeltaTableV2.properties: Spark with Delta cannot run here.
def test_describe_extended_detailed_table_information(spark, warehouse):
    sql(
        spark,
        "CREATE TABLE dx (a INT COMMENT 'the a', b STRING, p STRING) USING DELTA PARTITIONED BY (p) "
        "COMMENT 'a table' TBLPROPERTIES ('k1'='v1')",
    )
    rows = in_order(spark.sql("DESCRIBE TABLE EXTENDED dx"))
    assert rows == [
        ("a", "int", "the a"),
        ("b", "string", None),
        ("p", "string", None),
        ("# Partition Information", "", ""),
        ("# col_name", "data_type", "comment"),
        ("p", "string", None),
        ("", "", ""),
        ("# Detailed Table Information", "", ""),
        ("Name", "spark_catalog.default.dx", ""),
        ("Type", "MANAGED", ""),
        ("Comment", "a table", ""),
        ("Location", f"file:{warehouse / 'dx'}", ""),
        ("Provider", "delta", ""),
        ("Table Properties", "[delta.minReaderVersion=1,delta.minWriterVersion=2,k1=v1]", ""),
    ]
    assert in_order(spark.sql("DESCRIBE FORMATTED dx")) == rows
    # the table as delta-rs reads it agrees
    assert dl(warehouse / "dx").metadata().description == "a table"
    assert dl(warehouse / "dx").schema().fields[0].metadata == {"comment": "the a"}
    # without EXTENDED: the columns and sections only
    assert in_order(spark.sql("DESCRIBE TABLE dx")) == rows[:6]


def test_describe_extended_of_external_and_path_tables(spark, tpath):
    spark.range(2).write.format("delta").save(tpath)
    sql(spark, f"CREATE TABLE ext USING DELTA LOCATION '{tpath}'")
    details = dict((r[0], r[1]) for r in spark.sql("DESCRIBE EXTENDED ext").collect())
    assert details["Type"] == "EXTERNAL"
    assert details["Location"] == f"file:{tpath}"
    assert "Comment" not in details
    by_path = dict((r[0], r[1]) for r in spark.sql(f"DESCRIBE EXTENDED delta.`{tpath}`").collect())
    assert by_path["Name"] == f"delta.`{tpath}`"
    assert by_path["Provider"] == "delta"


def test_describe_temp_view_over_a_delta_table_shows_columns_only(spark, tpath):
    spark.createDataFrame([(1, "x")], "a long, p string").write.format("delta").partitionBy("p").save(tpath)
    spark.read.format("delta").load(tpath).createOrReplaceTempView("dv")
    # Spark describes a view by its columns, with no partition or table sections
    assert in_order(spark.sql("DESCRIBE EXTENDED dv")) == [("a", "bigint", None), ("p", "string", None)]
    assert in_order(spark.sql(f"DESCRIBE delta.`{tpath}`"))[2][0] == "# Partition Information"


def test_describe_column_of_a_delta_table(spark):
    sql(spark, "CREATE TABLE dc (a INT COMMENT 'the a', b STRING) USING DELTA")
    assert in_order(spark.sql("DESCRIBE dc a")) == [("col_name", "a"), ("data_type", "int"), ("comment", "the a")]
    assert in_order(spark.sql("DESCRIBE dc b"))[2] == ("comment", "NULL")
    # writes keep the comment (Delta's schema carries it in the field's metadata)
    sql(spark, "INSERT INTO dc VALUES (1, 'x')")
    spark.createDataFrame([(2, "y", 1.0)], "a int, b string, c double").write.mode("append").option(
        "mergeSchema", "true"
    ).saveAsTable("dc")
    assert in_order(spark.sql("DESCRIBE dc a"))[2] == ("comment", "the a")
    assert spark.table("dc").schema["a"].metadata == {"comment": "the a"}
    with pytest.raises(AnalysisException) as info:
        spark.sql("DESCRIBE dc nope").collect()
    assert condition(info.value) == "COLUMN_NOT_FOUND"


# ---------------------------------------------------------------- SHOW / DROP


def test_show_tables(spark):
    sql(spark, "CREATE TABLE t1 (a INT) USING DELTA")
    spark.range(2).write.saveAsTable("t2")
    df = spark.sql("SHOW TABLES")
    assert df.columns == ["namespace", "tableName", "isTemporary"]
    rows = {(r["namespace"], r["tableName"], r["isTemporary"]) for r in df.collect()}
    assert ("default", "t1", False) in rows
    assert ("default", "t2", False) in rows


def test_drop_managed_table_removes_files(spark, warehouse):
    sql(spark, "CREATE TABLE t (a INT) USING DELTA")
    sql(spark, "INSERT INTO t VALUES (1)")
    assert (warehouse / "t").is_dir()
    sql(spark, "DROP TABLE t")
    assert not (warehouse / "t").exists()
    assert "t" not in [r["tableName"] for r in spark.sql("SHOW TABLES").collect()]
    with pytest.raises(AnalysisException) as info:
        spark.table("t").collect()
    assert condition(info.value) == "TABLE_OR_VIEW_NOT_FOUND"


def test_drop_external_table_keeps_files(spark, tpath):
    sql(spark, f"CREATE TABLE ext (a INT) USING DELTA LOCATION '{tpath}'")
    sql(spark, "INSERT INTO ext VALUES (1), (2)")
    sql(spark, "DROP TABLE ext")
    assert "ext" not in [r["tableName"] for r in spark.sql("SHOW TABLES").collect()]
    assert dl_rows(tpath) == [(1,), (2,)]
    assert client_rows(spark.read.format("delta").load(tpath)) == [(1,), (2,)]
    # and it can be registered again
    sql(spark, f"CREATE TABLE ext2 USING DELTA LOCATION '{tpath}'")
    assert client_rows(spark.table("ext2")) == [(1,), (2,)]


def test_drop_missing_table(spark):
    with pytest.raises(AnalysisException) as info:
        sql(spark, "DROP TABLE nowhere")
    assert condition(info.value) == "TABLE_OR_VIEW_NOT_FOUND"
    sql(spark, "DROP TABLE IF EXISTS nowhere")


def test_recreate_after_drop_starts_new_history(spark, warehouse):
    sql(spark, "CREATE TABLE t (a INT) USING DELTA")
    sql(spark, "INSERT INTO t VALUES (1)")
    sql(spark, "DROP TABLE t")
    sql(spark, "CREATE TABLE t (b STRING) USING DELTA")
    assert dl(warehouse / "t").version() == 0
    assert dl_schema(warehouse / "t") == [("b", "string")]


# ---------------------------------------------------------------- databases and names


def test_create_database_use_and_table_location(spark, warehouse):
    sql(spark, "CREATE DATABASE db1")
    sql(spark, "USE db1")
    sql(spark, "CREATE TABLE t (a INT) USING DELTA")
    sql(spark, "INSERT INTO t VALUES (7)")
    location = warehouse / "db1.db" / "t"
    assert has_log(location)
    assert dl_rows(location) == [(7,)]
    assert spark.catalog.currentDatabase() == "db1"
    rows = {(r["namespace"], r["tableName"]) for r in spark.sql("SHOW TABLES").collect()}
    assert rows == {("db1", "t")}


def test_qualified_names(spark, warehouse):
    sql(spark, "CREATE DATABASE db1")
    sql(spark, "CREATE TABLE db1.t (a INT) USING DELTA")
    sql(spark, "INSERT INTO spark_catalog.db1.t VALUES (1)")
    sql(spark, "INSERT INTO db1.t VALUES (2)")
    assert dl_rows(warehouse / "db1.db" / "t") == [(1,), (2,)]
    assert client_rows(spark.table("spark_catalog.db1.t")) == [(1,), (2,)]
    assert client_rows(spark.sql("SELECT * FROM db1.t")) == [(1,), (2,)]
    assert client_rows(spark.sql("SELECT * FROM spark_catalog.db1.t")) == [(1,), (2,)]
    # the default database does not see it unqualified
    with pytest.raises(AnalysisException) as info:
        spark.table("t").collect()
    assert condition(info.value) == "TABLE_OR_VIEW_NOT_FOUND"
    rows = {(r["namespace"], r["tableName"]) for r in spark.sql("SHOW TABLES IN db1").collect()}
    assert rows == {("db1", "t")}


def test_default_database_qualified(spark, warehouse):
    sql(spark, "CREATE TABLE spark_catalog.default.t (a INT) USING DELTA")
    sql(spark, "INSERT INTO default.t VALUES (1)")
    assert dl_rows(warehouse / "t") == [(1,)]
    assert client_rows(spark.table("t")) == [(1,)]


def test_create_existing_database_fails(spark):
    sql(spark, "CREATE DATABASE db1")
    with pytest.raises(AnalysisException) as info:
        sql(spark, "CREATE DATABASE db1")
    assert condition(info.value) == "SCHEMA_ALREADY_EXISTS"
    sql(spark, "CREATE DATABASE IF NOT EXISTS db1")


def test_use_missing_database_fails(spark):
    with pytest.raises(AnalysisException) as info:
        sql(spark, "USE nodb")
    assert condition(info.value) == "SCHEMA_NOT_FOUND"


def test_delta_path_identifier(spark, tpath):
    spark.range(3).write.format("delta").save(tpath)
    assert client_rows(spark.sql(f"SELECT * FROM delta.`{tpath}`")) == [(0,), (1,), (2,)]
    sql(spark, f"INSERT INTO delta.`{tpath}` VALUES (10)")
    assert dl_rows(tpath) == [(0,), (1,), (2,), (10,)]
    rows = spark.sql(f"DESCRIBE HISTORY delta.`{tpath}`").collect()
    assert [r["version"] for r in rows] == [1, 0]


def test_delta_path_identifier_dml(spark, tpath):
    spark.range(5).write.format("delta").save(tpath)
    sql(spark, f"DELETE FROM delta.`{tpath}` WHERE id >= 3")
    sql(spark, f"UPDATE delta.`{tpath}` SET id = id + 100 WHERE id = 0")
    assert dl_rows(tpath) == [(1,), (2,), (100,)]
    assert dl_ops(tpath)[-2:] == ["DELETE", "UPDATE"]


def test_create_table_on_path_identifier(spark, tpath):
    sql(spark, f"CREATE TABLE delta.`{tpath}` (a INT, b STRING) USING DELTA")
    assert has_log(tpath)
    assert dl_schema(tpath) == [("a", "integer"), ("b", "string")]
    # a path table is not in the catalog
    assert [r["tableName"] for r in spark.sql("SHOW TABLES").collect()] == []


def test_ctas_history_operation_name(spark, warehouse):
    sql(spark, "CREATE TABLE t USING DELTA AS SELECT 1 AS a")
    sql(spark, "CREATE OR REPLACE TABLE t USING DELTA AS SELECT 2 AS a")
    assert dl_ops(warehouse / "t") == ["CREATE TABLE AS SELECT", "CREATE OR REPLACE TABLE AS SELECT"]
    sql(spark, "CREATE TABLE p USING DELTA PARTITIONED BY (k) COMMENT 'c' TBLPROPERTIES ('delta.appendOnly' = 'false') AS SELECT 1 AS a, 2 AS k")
    params = dl_last(warehouse / "p")["operationParameters"]
    assert (params["isManaged"], params["description"]) == ("true", "c")
    assert json.loads(params["partitionBy"]) == ["k"]
    assert json.loads(params["properties"]) == {"delta.appendOnly": "false"}


def test_ctas_keeps_user_table_properties(spark, warehouse):
    """Delta keeps table properties outside `delta.*` on a CTAS, in the one commit that
    creates the table and writes the rows."""
    sql(spark, "CREATE TABLE p USING DELTA TBLPROPERTIES ('team' = 'a') AS SELECT 1 AS a")
    assert dl(warehouse / "p").metadata().configuration["team"] == "a"
    assert dl_rows(warehouse / "p") == [(1,)]
    assert dl_ops(warehouse / "p") == ["CREATE TABLE AS SELECT"]
    sql(
        spark,
        "CREATE TABLE q USING DELTA PARTITIONED BY (k) "
        "TBLPROPERTIES ('owner.team' = 'b', 'delta.checkpointInterval' = '3') "
        "AS SELECT id, id % 2 AS k FROM range(4)",
    )
    t = dl(warehouse / "q")
    assert t.metadata().configuration == {"owner.team": "b", "delta.checkpointInterval": "3"}
    assert t.metadata().partition_columns == ["k"]
    assert dl_rows(warehouse / "q") == [(0, 0), (1, 1), (2, 0), (3, 1)]
    assert sorted(p.name for p in (warehouse / "q").iterdir() if p.name.startswith("k=")) == ["k=0", "k=1"]
    assert json.loads(dl_last(warehouse / "q")["operationParameters"]["properties"]) == {
        "owner.team": "b",
        "delta.checkpointInterval": "3",
    }
    assert [tuple(r) for r in spark.sql("SELECT id, k FROM q ORDER BY id").collect()] == [(0, 0), (1, 1), (2, 0), (3, 1)]


def test_replace_as_select_takes_the_new_definition(spark, warehouse):
    """Delta's REPLACE puts the statement's definition in place of the table's: the new
    properties, comment and partitioning, not the old ones, in one commit with the rows."""
    sql(
        spark,
        "CREATE TABLE r USING DELTA COMMENT 'old' TBLPROPERTIES ('team' = 'a', 'delta.appendOnly' = 'false') "
        "AS SELECT 1 AS a, 'x' AS s",
    )
    sql(
        spark,
        "CREATE OR REPLACE TABLE r USING DELTA PARTITIONED BY (k) COMMENT 'new' "
        "TBLPROPERTIES ('owner' = 'b', 'delta.checkpointInterval' = '5') "
        "AS SELECT id AS a, CAST(id AS STRING) AS s, id % 2 AS k FROM range(3)",
    )
    location = warehouse / "r"
    t = dl(location)
    assert t.version() == 1
    assert t.metadata().configuration == {"owner": "b", "delta.checkpointInterval": "5"}
    assert t.metadata().description == "new"
    assert t.metadata().partition_columns == ["k"]
    assert dl_rows(location) == [(0, "0", 0), (1, "1", 1), (2, "2", 0)]
    assert dl_ops(location) == ["CREATE TABLE AS SELECT", "CREATE OR REPLACE TABLE AS SELECT"]
    assert json.loads(dl_last(location)["operationParameters"]["properties"]) == {
        "owner": "b",
        "delta.checkpointInterval": "5",
    }
    assert client_rows(spark.table("r")) == [(0, "0", 0), (1, "1", 1), (2, "2", 0)]
    # the old version is still there to travel to
    assert client_rows(spark.sql("SELECT * FROM r VERSION AS OF 0")) == [(1, "x")]
    # and a replace with no properties leaves none
    sql(spark, "REPLACE TABLE r USING DELTA AS SELECT 7 AS a")
    assert dl(location).metadata().configuration == {}
    assert dl_rows(location) == [(7,)]


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE u (a INT) USING DELTA TBLPROPERTIES ('delta.noSuchProperty' = '1')",
        "CREATE TABLE u USING DELTA TBLPROPERTIES ('delta.noSuchProperty' = '1') AS SELECT 1 AS a",
    ],
)
def test_unknown_delta_property_is_refused_by_name(spark, warehouse, statement):
    """Delta refuses a `delta.*` key it does not define (DELTA_UNKNOWN_CONFIGURATION) before
    anything is written; keys outside `delta.*` are the user's own and kept."""
    with pytest.raises(AnalysisException) as e:
        sql(spark, statement)
    assert condition(e.value) == "DELTA_UNKNOWN_CONFIGURATION"
    assert "Unknown configuration was specified: delta.noSuchProperty" in message(e.value)
    assert not has_log(warehouse / "u")
    assert [r["tableName"] for r in spark.sql("SHOW TABLES").collect()] == []


# ---------------------------------------------------------------- CLUSTER BY


# DESCRIBE TABLE's section for a clustered table, as Spark 4.3 prints it (recorded from
# `CREATE TABLE t (a INT, b STRING) USING parquet CLUSTER BY (a)`).
CLUSTERING_SECTION = [("# Clustering Information", "", ""), ("# col_name", "data_type", "comment")]


def in_order(df):
    return [tuple(r) for r in df.collect()]


def test_create_table_cluster_by(spark, warehouse):
    sql(spark, "CREATE TABLE c (a INT, b STRING) USING DELTA CLUSTER BY (a)")
    assert in_order(spark.sql("DESCRIBE TABLE c")) == [("a", "int", None), ("b", "string", None)] + CLUSTERING_SECTION + [("a", "int", None)]
    detail = spark.sql("DESCRIBE DETAIL c").collect()[0]
    assert detail["clusteringColumns"] == ["a"] and detail["partitionColumns"] == []
    # Kept as Spark's catalog keeps them, in the table's properties (read here by delta-rs).
    assert dl(warehouse / "c").metadata().configuration["clusteringColumns"] == '[["a"]]'


def test_ctas_and_writer_cluster_by(spark, warehouse, tpath):
    sql(spark, "CREATE TABLE c USING DELTA CLUSTER BY (x) AS SELECT id AS x, id * 2 AS y FROM range(10)")
    assert dl_last(warehouse / "c")["operationParameters"]["clusterBy"] == '["x"]'
    assert in_order(spark.sql("DESCRIBE TABLE c"))[2:] == CLUSTERING_SECTION + [("x", "bigint", None)]
    spark.range(5).write.clusterBy("id").saveAsTable("w")
    # An append naming the same columns is fine; so is one naming none.
    spark.range(5, 8).write.mode("append").clusterBy("ID").saveAsTable("w")
    spark.range(8, 9).write.mode("append").saveAsTable("w")
    assert dl(warehouse / "w").metadata().configuration["clusteringColumns"] == '[["id"]]'
    assert sorted(dl_rows(warehouse / "w")) == [(i,) for i in range(9)]
    spark.range(3).write.format("delta").clusterBy("id").save(tpath)
    assert spark.sql(f"DESCRIBE DETAIL delta.`{tpath}`").collect()[0]["clusteringColumns"] == ["id"]


@pytest.mark.parametrize(
    "action, error",
    [
        (lambda s: s.sql("CREATE TABLE c (a INT) USING DELTA CLUSTER BY (zz)"), "Couldn't find column zz"),
        (lambda s: s.sql("CREATE TABLE c (a INT, b INT) USING DELTA PARTITIONED BY (b) CLUSTER BY (a)"),
         "SPECIFY_CLUSTER_BY_WITH_PARTITIONED_BY_IS_NOT_ALLOWED"),
        (lambda s: s.range(3).write.clusterBy("id").partitionBy("id").saveAsTable("c"),
         "SPECIFY_CLUSTER_BY_WITH_PARTITIONED_BY_IS_NOT_ALLOWED"),
        (lambda s: s.range(3).write.clusterBy("zz").saveAsTable("c"), "Couldn't find column zz"),
    ],
)
def test_cluster_by_errors(spark, warehouse, action, error):
    with pytest.raises(Exception) as e:
        action(spark)
    assert error in message(e.value)
    assert not (warehouse / "c").exists()


def test_cluster_by_of_existing_table_must_match(spark, warehouse):
    spark.range(3).write.clusterBy("id").saveAsTable("w")
    with pytest.raises(AnalysisException) as e:
        spark.range(3).selectExpr("id", "id AS b").write.mode("append").option("mergeSchema", "true").clusterBy("b").saveAsTable("w")
    assert condition(e.value) == "DELTA_CLUSTERING_COLUMNS_MISMATCH", message(e.value)
    assert dl(warehouse / "w").version() == 0


def test_optimize_lays_files_out_by_clustering_columns(spark, warehouse):
    sql(spark, "CREATE TABLE c (k BIGINT, v STRING) USING DELTA CLUSTER BY (k)")
    for start in (7, 3, 9, 1, 5):
        spark.range(start * 100, start * 100 + 100).selectExpr("id AS k", "'x' AS v").orderBy("v").write.mode("append").saveAsTable("c")
    sql(spark, "OPTIMIZE c")
    last = dl_last(warehouse / "c")
    assert last["operation"] == "OPTIMIZE"
    assert last["operationParameters"]["clusterBy"] == '["k"]'
    files = data_files(warehouse / "c")
    assert len(files) == 1
    import pyarrow.parquet as pq

    keys = pq.read_table(files[0]).column("k").to_pylist()
    assert keys == sorted(keys) and len(keys) == 500


# ---------------------------------------------------------------- SHOW TBLPROPERTIES


def test_show_tblproperties(spark, warehouse, tpath):
    """A Delta table's properties as Delta lists them: its configuration and protocol
    versions, sorted by key; one key; a key the table lacks gets Spark's note."""
    sql(spark, "CREATE TABLE p (a INT) USING DELTA TBLPROPERTIES ('k1' = 'v1', 'delta.appendOnly' = 'true')")
    rows = in_order(spark.sql("SHOW TBLPROPERTIES p"))
    protocol = dl(warehouse / "p").protocol()
    assert rows == sorted([
        ("delta.appendOnly", "true"),
        ("delta.minReaderVersion", str(protocol.min_reader_version)),
        ("delta.minWriterVersion", str(protocol.min_writer_version)),
        ("k1", "v1"),
    ])
    assert in_order(spark.sql("SHOW TBLPROPERTIES default.p ('k1')")) == [("k1", "v1")]
    assert in_order(spark.sql("SHOW TBLPROPERTIES p (nope)")) == [
        ("nope", "Table spark_catalog.default.p does not have property: nope")
    ]
    spark.range(2).write.format("delta").clusterBy("id").save(tpath)
    assert in_order(spark.sql(f"SHOW TBLPROPERTIES delta.`{tpath}` (clusteringColumns)")) == [
        ("clusteringColumns", '[["id"]]')
    ]
