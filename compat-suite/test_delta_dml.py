"""Delta Lake DML and maintenance: MERGE INTO (SQL and the Spark 4 DataFrame.mergeInto
API), DELETE, UPDATE, OPTIMIZE [WHERE] [ZORDER BY], VACUUM [RETAIN n HOURS]. Each result is
checked through the client and through delta-rs (rows, versions, history operations).

Expected values follow docs.delta.io ("Table deletes, updates, and merges", "Optimizations",
"Remove files no longer referenced by a Delta table") and the operation names Delta records
in the log (MERGE, DELETE, UPDATE, OPTIMIZE, VACUUM START / VACUUM END)."""

import os
from pathlib import Path

import pytest
from pyspark.errors import AnalysisException
from pyspark.sql import functions as F

from harness.delta import (  # noqa: F401 - fixtures
    client_rows,
    condition,
    data_files,
    dl,
    dl_last,
    dl_ops,
    dl_rows,
    message,
    parquet_on_disk,
    server,
    spark,
    sql,
    tpath,
    warehouse,
)

pytestmark = pytest.mark.delta

TARGET = [(1, "a", 10), (2, "b", 20), (3, "c", 30)]


def target(spark, warehouse, name="t"):
    spark.createDataFrame(TARGET, "id int, name string, v int").write.format("delta").saveAsTable(name)
    return warehouse / name


def source(spark, rows, view="s"):
    spark.createDataFrame(rows, "id int, name string, v int").createOrReplaceTempView(view)


# ---------------------------------------------------------------- MERGE


def test_merge_update_and_insert(spark, warehouse):
    loc = target(spark, warehouse)
    source(spark, [(2, "B", 200), (4, "d", 40)])
    sql(
        spark,
        "MERGE INTO t USING s ON t.id = s.id "
        "WHEN MATCHED THEN UPDATE SET name = s.name, v = s.v "
        "WHEN NOT MATCHED THEN INSERT (id, name, v) VALUES (s.id, s.name, s.v)",
    )
    expected = [(1, "a", 10), (2, "B", 200), (3, "c", 30), (4, "d", 40)]
    assert dl_rows(loc) == expected
    assert client_rows(spark.table("t")) == expected
    assert dl_ops(loc)[1:] == ["MERGE"]  # the CTAS name: test_delta_sql.py::test_ctas_history_operation_name
    assert dl(loc).version() == 1


def test_merge_conditional_delete_update_insert(spark, warehouse):
    """Clauses are tried in order: the first WHEN MATCHED whose condition holds applies."""
    loc = target(spark, warehouse)
    source(spark, [(1, "x", -1), (2, "y", 99), (5, "e", 50), (6, "f", -6)])
    sql(
        spark,
        "MERGE INTO t USING s ON t.id = s.id "
        "WHEN MATCHED AND s.v < 0 THEN DELETE "
        "WHEN MATCHED THEN UPDATE SET t.v = t.v + s.v "
        "WHEN NOT MATCHED AND s.v > 0 THEN INSERT (id, name, v) VALUES (s.id, s.name, s.v)",
    )
    expected = [(2, "b", 119), (3, "c", 30), (5, "e", 50)]
    assert dl_rows(loc) == expected
    assert client_rows(spark.table("t")) == expected


def test_merge_update_set_star_insert_star(spark, warehouse):
    loc = target(spark, warehouse)
    source(spark, [(3, "C", 300), (7, "g", 70)])
    sql(spark, "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *")
    expected = [(1, "a", 10), (2, "b", 20), (3, "C", 300), (7, "g", 70)]
    assert dl_rows(loc) == expected
    assert client_rows(spark.table("t")) == expected


def test_merge_with_aliases_and_subquery_source(spark, warehouse):
    loc = target(spark, warehouse)
    sql(
        spark,
        "MERGE INTO t AS tgt USING (SELECT 1 AS id, 'A' AS name, 11 AS v) AS src ON tgt.id = src.id "
        "WHEN MATCHED THEN UPDATE SET tgt.name = src.name",
    )
    assert dl_rows(loc) == [(1, "A", 10), (2, "b", 20), (3, "c", 30)]


def test_merge_when_not_matched_by_source_delete(spark, warehouse):
    loc = target(spark, warehouse)
    source(spark, [(1, "a", 10)])
    sql(spark, "MERGE INTO t USING s ON t.id = s.id WHEN NOT MATCHED BY SOURCE THEN DELETE")
    assert dl_rows(loc) == [(1, "a", 10)]


def test_merge_into_path_table(spark, tpath):
    spark.createDataFrame(TARGET, "id int, name string, v int").write.format("delta").save(tpath)
    source(spark, [(1, "z", 0)])
    sql(spark, f"MERGE INTO delta.`{tpath}` AS t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET *")
    assert dl_rows(tpath) == [(1, "z", 0), (2, "b", 20), (3, "c", 30)]
    assert dl_ops(tpath)[-1] == "MERGE"


@pytest.mark.parametrize(
    "key, statement",
    [
        (1, "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET *"),
        (2, "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED AND s.v > 0 THEN DELETE"),
        (3, "MERGE INTO spark_catalog.default.t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET t.v = s.v"),
    ],
    ids=["update", "conditional-delete", "qualified-name"],
)
def test_merge_multiple_source_rows_for_one_target_row_fails(spark, warehouse, key, statement):
    """docs.delta.io: a MERGE fails when several source rows match the same target row and
    try to update it (DELTA_MULTIPLE_SOURCE_ROW_MATCHING_TARGET_ROW_IN_MERGE)."""
    loc = target(spark, warehouse)
    source(spark, [(key, "x", 1), (key, "y", 2)])
    with pytest.raises(Exception) as info:
        sql(spark, statement)
    assert condition(info.value) == "DELTA_MULTIPLE_SOURCE_ROW_MATCHING_TARGET_ROW_IN_MERGE"
    assert dl(loc).version() == 0
    assert dl_rows(loc) == sorted(TARGET)


def test_merge_multiple_matches_allowed_where_delta_allows_them(spark, warehouse):
    """Delta's exemptions: a lone unconditional MATCHED DELETE, a MATCHED condition that only
    one of the source rows meets, and a MERGE with no MATCHED clause at all."""
    loc = target(spark, warehouse)
    source(spark, [(1, "x", 1), (1, "y", 2)])
    sql(spark, "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED AND s.v = 2 THEN UPDATE SET *")
    assert dl_rows(loc) == [(1, "y", 2), (2, "b", 20), (3, "c", 30)]
    source(spark, [(1, "x", 1), (1, "y", 2), (4, "d", 4), (4, "e", 5)])
    sql(spark, "MERGE INTO t USING s ON t.id = s.id WHEN NOT MATCHED THEN INSERT *")
    assert dl_rows(loc) == [(1, "y", 2), (2, "b", 20), (3, "c", 30), (4, "d", 4), (4, "e", 5)]
    sql(spark, "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE")
    assert dl_rows(loc) == [(2, "b", 20), (3, "c", 30)]
    assert dl_ops(loc)[1:] == ["MERGE", "MERGE", "MERGE"]


def test_merge_unknown_column_fails(spark, warehouse):
    loc = target(spark, warehouse)
    source(spark, [(1, "x", 1)])
    with pytest.raises(AnalysisException):
        sql(spark, "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET nope = s.v")
    assert dl(loc).version() == 0


def test_dataframe_merge_into_update_all_insert_all(spark, warehouse):
    """Spark 4's DataFrame.mergeInto(table, condition) builder."""
    loc = target(spark, warehouse)
    src = spark.createDataFrame([(2, "B", 200), (4, "d", 40)], "id int, name string, v int").alias("s")
    src.mergeInto("t", F.expr("t.id = s.id")).whenMatched().updateAll().whenNotMatched().insertAll().merge()
    expected = [(1, "a", 10), (2, "B", 200), (3, "c", 30), (4, "d", 40)]
    assert dl_rows(loc) == expected
    assert client_rows(spark.table("t")) == expected
    assert dl_last(loc)["operation"] == "MERGE"


def test_dataframe_merge_into_conditions_and_assignments(spark, warehouse):
    loc = target(spark, warehouse)
    src = spark.createDataFrame([(1, "x", -1), (3, "y", 5), (9, "i", 90)], "id int, name string, v int").alias("s")
    (
        src.mergeInto("t", F.expr("t.id = s.id"))
        .whenMatched(F.expr("s.v < 0"))
        .delete()
        .whenMatched()
        .update({"v": F.expr("t.v + s.v")})
        .whenNotMatched()
        .insert({"id": F.col("s.id"), "name": F.lit("new"), "v": F.col("s.v")})
        .merge()
    )
    assert dl_rows(loc) == [(2, "b", 20), (3, "c", 35), (9, "new", 90)]


def test_dml_expressions_have_spark_semantics(spark, warehouse):
    """Conditions and values are Spark SQL: `/` on integers divides as doubles (30 / 4 is
    7.5, not 7), date patterns are Spark's, and columns may be qualified by the table name."""
    loc = target(spark, warehouse)
    sql(spark, "DELETE FROM t WHERE v / 4 > 7")
    assert dl_rows(loc) == [(1, "a", 10), (2, "b", 20)]
    sql(spark, "UPDATE t SET name = date_format(to_date('2024-03-05'), 'yyyy/MM') WHERE t.name = 'b'")
    assert dl_rows(loc) == [(1, "a", 10), (2, "2024/03", 20)]
    source(spark, [(1, "x", 3), (2, "y", 2)])
    sql(
        spark,
        "MERGE INTO t USING s ON t.id = s.id "
        "WHEN MATCHED AND s.v / 2 > 1 THEN UPDATE SET v = t.v * 2, name = initcap(concat_ws(' ', s.name, 'z'))",
    )
    assert dl_rows(loc) == [(1, "X Z", 20), (2, "2024/03", 20)]
    assert client_rows(spark.table("t")) == [(1, "X Z", 20), (2, "2024/03", 20)]


# ---------------------------------------------------------------- DELETE / UPDATE


def test_delete_where(spark, warehouse):
    loc = target(spark, warehouse)
    sql(spark, "DELETE FROM t WHERE v >= 20")
    assert dl_rows(loc) == [(1, "a", 10)]
    assert client_rows(spark.table("t")) == [(1, "a", 10)]
    assert dl_ops(loc)[1:] == ["DELETE"]
    # the deleted rows are still in version 0
    assert dl_rows(loc, version=0) == sorted(TARGET)


def test_delete_without_where_empties_table(spark, warehouse):
    loc = target(spark, warehouse)
    sql(spark, "DELETE FROM t")
    assert dl_rows(loc) == []
    assert spark.table("t").count() == 0
    assert dl_last(loc)["operation"] == "DELETE"


def test_delete_on_partitioned_table(spark, warehouse):
    spark.createDataFrame(TARGET, "id int, name string, v int").write.format("delta").partitionBy(
        "name"
    ).saveAsTable("t")
    loc = warehouse / "t"
    sql(spark, "DELETE FROM t WHERE name = 'b'")
    assert dl_rows(loc) == [(1, "a", 10), (3, "c", 30)]
    assert not any("name=b" in f for f in data_files(loc))


def test_delete_matching_nothing(spark, warehouse):
    loc = target(spark, warehouse)
    sql(spark, "DELETE FROM t WHERE id > 100")
    assert dl_rows(loc) == sorted(TARGET)
    assert client_rows(spark.table("t")) == sorted(TARGET)


def test_update_where(spark, warehouse):
    loc = target(spark, warehouse)
    sql(spark, "UPDATE t SET v = v * 10, name = upper(name) WHERE id <> 2")
    expected = [(1, "A", 100), (2, "b", 20), (3, "C", 300)]
    assert dl_rows(loc) == expected
    assert client_rows(spark.table("t")) == expected
    assert dl_ops(loc)[1:] == ["UPDATE"]


def test_update_all_rows(spark, warehouse):
    loc = target(spark, warehouse)
    sql(spark, "UPDATE t SET v = 0")
    assert dl_rows(loc) == [(1, "a", 0), (2, "b", 0), (3, "c", 0)]


def test_update_partition_column_moves_rows(spark, warehouse):
    spark.createDataFrame(TARGET, "id int, name string, v int").write.format("delta").partitionBy(
        "name"
    ).saveAsTable("t")
    loc = warehouse / "t"
    sql(spark, "UPDATE t SET name = 'z' WHERE id = 1")
    assert dl_rows(loc) == [(1, "z", 10), (2, "b", 20), (3, "c", 30)]
    assert any("name=z" in f for f in data_files(loc))


def test_update_unknown_column_fails(spark, warehouse):
    loc = target(spark, warehouse)
    with pytest.raises(AnalysisException):
        sql(spark, "UPDATE t SET nope = 1")
    assert dl(loc).version() == 0


def test_delete_from_missing_table_fails(spark):
    with pytest.raises(AnalysisException) as info:
        sql(spark, "DELETE FROM nowhere WHERE true")
    assert condition(info.value) == "TABLE_OR_VIEW_NOT_FOUND"


# ---------------------------------------------------------------- OPTIMIZE


def many_small_files(spark, name="t", appends=8, partition=False):
    """`appends` separate appends: at least that many data files."""
    writer = spark.createDataFrame([(0, "p0", 0)], "id int, p string, v int").write.format("delta")
    (writer.partitionBy("p") if partition else writer).saveAsTable(name)
    for i in range(1, appends):
        spark.createDataFrame([(i, f"p{i % 2}", i)], "id int, p string, v int").write.format("delta").mode(
            "append"
        ).saveAsTable(name)


def test_optimize_compacts_small_files(spark, warehouse):
    many_small_files(spark)
    loc = warehouse / "t"
    before_rows = dl_rows(loc)
    before = len(data_files(loc))
    assert before >= 8
    result = spark.sql("OPTIMIZE t")
    assert result.columns[:2] == ["path", "metrics"]
    metrics = result.first()["metrics"]
    assert metrics["numFilesRemoved"] == before
    assert metrics["numFilesAdded"] == 1
    assert len(data_files(loc)) == 1
    assert dl_rows(loc) == before_rows
    assert client_rows(spark.table("t")) == before_rows
    assert dl_ops(loc)[-1] == "OPTIMIZE"


def test_optimize_where_only_touches_matching_partitions(spark, warehouse):
    many_small_files(spark, partition=True)
    loc = warehouse / "t"
    p1_before = [f for f in data_files(loc) if "p=p1" in f]
    assert len(p1_before) >= 4
    sql(spark, "OPTIMIZE t WHERE p = 'p0'")
    files = data_files(loc)
    assert len([f for f in files if "p=p0" in f]) == 1
    assert sorted(f for f in files if "p=p1" in f) == sorted(p1_before)
    assert dl_rows(loc, columns=["id"]) == [(i,) for i in range(8)]
    last = dl_last(loc)
    assert last["operation"] == "OPTIMIZE"
    assert "p0" in last["operationParameters"]["predicate"]


def test_optimize_zorder_by(spark, warehouse):
    many_small_files(spark)
    loc = warehouse / "t"
    rows = dl_rows(loc)
    sql(spark, "OPTIMIZE t ZORDER BY (v)")
    assert dl_rows(loc) == rows
    last = dl_last(loc)
    assert last["operation"] == "OPTIMIZE"
    assert last["operationParameters"]["zOrderBy"] == '["v"]'
    assert len(data_files(loc)) < 8


def test_optimize_of_compacted_table_commits_nothing(spark, warehouse):
    """A bin of one file is left alone: OPTIMIZE on a one-file table adds no version."""
    spark.range(5).coalesce(1).write.format("delta").saveAsTable("one")
    loc = warehouse / "one"
    assert len(data_files(loc)) == 1
    sql(spark, "OPTIMIZE one")
    assert dl(loc).version() == 0


def test_optimize_path_table(spark, tpath):
    for i in range(4):
        spark.range(i * 10, i * 10 + 3).write.format("delta").mode("append").save(tpath)
    sql(spark, f"OPTIMIZE delta.`{tpath}`")
    assert len(data_files(tpath)) == 1
    assert dl_rows(tpath) == [(i * 10 + j,) for i in range(4) for j in range(3)]


def test_optimize_old_version_still_readable(spark, warehouse):
    many_small_files(spark, appends=4)
    loc = warehouse / "t"
    sql(spark, "OPTIMIZE t")
    v = dl(loc).version()
    assert dl_rows(loc, version=v - 1) == dl_rows(loc)
    assert client_rows(spark.sql(f"SELECT * FROM t VERSION AS OF {v - 1}")) == dl_rows(loc)


# ---------------------------------------------------------------- VACUUM


def overwritten_table(spark, name="t"):
    spark.range(5).write.format("delta").saveAsTable(name)
    spark.range(100, 103).write.format("delta").mode("overwrite").saveAsTable(name)


def test_vacuum_default_retention_keeps_recent_files(spark, warehouse):
    """Files removed less than 7 days ago (delta.deletedFileRetentionDuration) stay."""
    overwritten_table(spark)
    loc = warehouse / "t"
    on_disk = parquet_on_disk(loc)
    result = spark.sql("VACUUM t")
    assert result.columns == ["path"]
    assert parquet_on_disk(loc) == on_disk
    assert dl_rows(loc, version=0) == [(i,) for i in range(5)]
    assert dl_rows(loc) == [(100,), (101,), (102,)]


def test_vacuum_retain_zero_hours_is_refused_by_default(spark, warehouse):
    """Delta refuses a retention under the table's (IllegalArgumentException "Are you sure
    you would like to vacuum files with such a low retention period?") unless
    spark.databricks.delta.retentionDurationCheck.enabled is false."""
    overwritten_table(spark)
    loc = warehouse / "t"
    on_disk = parquet_on_disk(loc)
    with pytest.raises(Exception) as info:
        sql(spark, "VACUUM t RETAIN 0 HOURS")
    assert "retentionDurationCheck" in message(info.value)
    assert parquet_on_disk(loc) == on_disk


def test_vacuum_retain_zero_hours_removes_unreferenced_files(spark, warehouse):
    overwritten_table(spark)
    loc = warehouse / "t"
    current = sorted(os.path.realpath(f.replace("file://", "")) for f in data_files(loc))
    assert len(parquet_on_disk(loc)) > len(current)
    spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
    sql(spark, "VACUUM t RETAIN 0 HOURS")
    assert sorted(os.path.realpath(p) for p in parquet_on_disk(loc)) == current
    assert dl_rows(loc) == [(100,), (101,), (102,)]
    assert client_rows(spark.table("t")) == [(100,), (101,), (102,)]
    ops = dl_ops(loc)
    assert ops[-2:] == ["VACUUM START", "VACUUM END"]


def test_vacuum_dry_run_lists_without_deleting(spark, warehouse):
    overwritten_table(spark)
    loc = warehouse / "t"
    on_disk = parquet_on_disk(loc)
    spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
    listed = spark.sql("VACUUM t RETAIN 0 HOURS DRY RUN").collect()
    assert len(listed) == len(on_disk) - len(data_files(loc)) >= 1
    assert parquet_on_disk(loc) == on_disk
    assert dl(loc).version() == 1  # a dry run commits nothing


def test_vacuum_path_table(spark, tpath):
    spark.range(3).write.format("delta").save(tpath)
    spark.range(3).write.format("delta").mode("overwrite").save(tpath)
    spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
    sql(spark, f"VACUUM delta.`{tpath}` RETAIN 0 HOURS")
    assert len(parquet_on_disk(tpath)) == len(data_files(tpath))
    assert dl_rows(tpath) == [(0,), (1,), (2,)]
