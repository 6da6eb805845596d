"""spark.catalog over Delta tables, and the catalog surviving a server restart on the same
warehouse folder. Expected values follow the PySpark Catalog API documentation (Spark 4)
and Spark's default catalog layout (managed tables in <warehouse>/<table> for `default`,
<warehouse>/<db>.db/<table> otherwise)."""

import pytest
from pyspark.sql.types import IntegerType, StringType, StructField, StructType

from harness.delta import (  # noqa: F401 - fixtures
    client_rows,
    dl,
    dl_rows,
    dl_schema,
    has_log,
    server,
    session_on,
    spark,
    sql,
    tpath,
    warehouse,
)
from harness.session import stop_quietly

pytestmark = pytest.mark.delta


def test_current_database_is_default(spark):
    assert spark.catalog.currentDatabase() == "default"


def test_set_current_database(spark, warehouse):
    sql(spark, "CREATE DATABASE db1")
    spark.catalog.setCurrentDatabase("db1")
    assert spark.catalog.currentDatabase() == "db1"
    spark.range(2).write.format("delta").saveAsTable("t")
    assert has_log(warehouse / "db1.db" / "t")
    assert dl_rows(warehouse / "db1.db" / "t") == [(0,), (1,)]


def test_list_databases_and_database_exists(spark):
    sql(spark, "CREATE DATABASE db1")
    names = {d.name for d in spark.catalog.listDatabases()}
    assert {"default", "db1"} <= names
    assert spark.catalog.databaseExists("db1")
    assert spark.catalog.databaseExists("default")
    assert not spark.catalog.databaseExists("nodb")


def test_list_tables(spark, tpath):
    spark.range(2).write.format("delta").saveAsTable("managed_t")
    spark.range(2).write.format("delta").save(tpath)
    sql(spark, f"CREATE TABLE external_t USING DELTA LOCATION '{tpath}'")
    spark.range(1).createOrReplaceTempView("a_view")
    tables = {t.name: t for t in spark.catalog.listTables()}
    assert {"managed_t", "external_t", "a_view"} <= set(tables)
    assert tables["managed_t"].tableType == "MANAGED"
    assert tables["external_t"].tableType == "EXTERNAL"
    assert tables["managed_t"].isTemporary is False
    assert tables["a_view"].isTemporary is True
    assert tables["managed_t"].namespace == ["default"]


def test_list_tables_of_other_database(spark):
    sql(spark, "CREATE DATABASE db1")
    sql(spark, "CREATE TABLE db1.t1 (a INT) USING DELTA")
    sql(spark, "CREATE TABLE t0 (a INT) USING DELTA")
    assert [t.name for t in spark.catalog.listTables("db1")] == ["t1"]
    assert "t1" not in [t.name for t in spark.catalog.listTables()]


def test_table_exists(spark):
    sql(spark, "CREATE DATABASE db1")
    sql(spark, "CREATE TABLE db1.t1 (a INT) USING DELTA")
    assert spark.catalog.tableExists("t1", "db1")
    assert spark.catalog.tableExists("db1.t1")
    assert not spark.catalog.tableExists("t1")
    assert not spark.catalog.tableExists("nothing")


def test_list_columns_with_partition_flag(spark):
    sql(spark, "CREATE TABLE t (a INT NOT NULL, b STRING, p STRING) USING DELTA PARTITIONED BY (p)")
    cols = {c.name: c for c in spark.catalog.listColumns("t")}
    assert list(cols) == ["a", "b", "p"]
    assert cols["a"].dataType == "int"
    assert cols["b"].dataType == "string"
    assert cols["p"].isPartition is True
    assert cols["a"].isPartition is False
    assert cols["a"].nullable is False
    assert cols["b"].nullable is True


def test_catalog_create_table_managed_defaults_to_delta(spark, warehouse):
    schema = StructType([StructField("a", IntegerType()), StructField("b", StringType())])
    df = spark.catalog.createTable("made", schema=schema)
    assert df.columns == ["a", "b"]
    assert has_log(warehouse / "made")
    assert dl_schema(warehouse / "made") == [("a", "integer"), ("b", "string")]
    assert spark.catalog.tableExists("made")


def test_catalog_create_table_with_source_delta(spark, warehouse):
    schema = StructType([StructField("a", IntegerType())])
    spark.catalog.createTable("made", source="delta", schema=schema, description="made here")
    assert dl(warehouse / "made").metadata().description == "made here"
    sql(spark, "INSERT INTO made VALUES (1)")
    assert dl_rows(warehouse / "made") == [(1,)]


def test_catalog_create_table_on_existing_path(spark, tpath):
    spark.range(3).write.format("delta").save(tpath)
    df = spark.catalog.createTable("ext", path=tpath, source="delta")
    assert client_rows(df) == [(0,), (1,), (2,)]
    assert {t.name: t.tableType for t in spark.catalog.listTables()}["ext"] == "EXTERNAL"
    assert dl(tpath).version() == 0


def test_drop_temp_view(spark):
    spark.range(1).createOrReplaceTempView("v")
    assert spark.catalog.dropTempView("v") is True
    assert spark.catalog.dropTempView("v") is False
    assert not spark.catalog.tableExists("v")


# ---------------------------------------------------------------- persistence


def test_tables_survive_restart(server, warehouse, tpath):
    s = session_on(server)
    try:
        s.createDataFrame([(1, "a"), (2, "b")], "id int, name string").write.format("delta").saveAsTable("kept")
        sql(s, "CREATE DATABASE db1")
        sql(s, "CREATE TABLE db1.inner_t (x STRING) USING DELTA")
        sql(s, "INSERT INTO db1.inner_t VALUES ('q')")
        s.range(2).write.format("delta").save(tpath)
        sql(s, f"CREATE TABLE ext USING DELTA LOCATION '{tpath}'")
    finally:
        stop_quietly(s)
    server.stop()
    server.start()
    s = session_on(server)
    try:
        assert client_rows(s.read.table("kept")) == [(1, "a"), (2, "b")]
        assert client_rows(s.table("db1.inner_t")) == [("q",)]
        assert client_rows(s.table("ext")) == [(0,), (1,)]
        shown = {(r["namespace"], r["tableName"]) for r in s.sql("SHOW TABLES").collect()}
        assert {("default", "kept"), ("default", "ext")} <= shown
        listed = {t.name: t.tableType for t in s.catalog.listTables()}
        assert listed.get("kept") == "MANAGED"
        assert listed.get("ext") == "EXTERNAL"
        assert [t.name for t in s.catalog.listTables("db1")] == ["inner_t"]
        assert s.catalog.databaseExists("db1")
        # and they keep working: a write after the restart is the next version
        s.createDataFrame([(3, "c")], "id int, name string").write.format("delta").mode("append").saveAsTable("kept")
        assert dl(warehouse / "kept").version() == 1
        assert dl_rows(warehouse / "kept") == [(1, "a"), (2, "b"), (3, "c")]
    finally:
        stop_quietly(s)


def test_dropped_table_stays_dropped_after_restart(server, warehouse):
    s = session_on(server)
    try:
        sql(s, "CREATE TABLE gone (a INT) USING DELTA")
        sql(s, "DROP TABLE gone")
    finally:
        stop_quietly(s)
    server.stop()
    server.start()
    s = session_on(server)
    try:
        assert not s.catalog.tableExists("gone")
        assert "gone" not in [r["tableName"] for r in s.sql("SHOW TABLES").collect()]
    finally:
        stop_quietly(s)


def test_table_properties_survive_restart(server, warehouse):
    s = session_on(server)
    try:
        sql(s, "CREATE TABLE t (a INT, p STRING) USING DELTA PARTITIONED BY (p) COMMENT 'c1'")
    finally:
        stop_quietly(s)
    server.stop()
    server.start()
    s = session_on(server)
    try:
        cols = {c.name: c.isPartition for c in s.catalog.listColumns("t")}
        assert cols == {"a": False, "p": True}
        assert s.sql("DESCRIBE DETAIL t").first()["description"] == "c1"
    finally:
        stop_quietly(s)


def test_persisted_views_over_delta_tables_survive_restart(server, warehouse):
    """A view is SQL text in the catalog: it reads the table's current data after a restart,
    in its own database, and Spark's DROP rules hold (DROP TABLE refuses a view)."""
    s = session_on(server)
    try:
        sql(s, "CREATE DATABASE sales")
        sql(s, "USE sales")
        sql(s, "CREATE TABLE orders (id INT, amount INT) USING DELTA")
        sql(s, "INSERT INTO orders VALUES (1, 5), (2, -1), (3, 7)")
        sql(s, "CREATE VIEW positive COMMENT 'kept' AS SELECT id, amount FROM orders WHERE amount > 0")
        sql(s, "CREATE VIEW renamed (order_id, total) AS SELECT id, amount AS a FROM orders")
        sql(s, "USE default")
    finally:
        stop_quietly(s)
    server.stop()
    server.start()
    s = session_on(server)
    try:
        sql(s, "INSERT INTO sales.orders VALUES (4, 9)")
        # `orders` resolves in `sales`, where the view was made, though `default` is current
        assert client_rows(s.table("sales.positive")) == [(1, 5), (3, 7), (4, 9)]
        assert client_rows(s.sql("SELECT sum(amount) AS t FROM sales.positive")) == [(21,)]
        # A column list names the view's columns after a restart too.
        assert client_rows(s.sql("SELECT order_id, total FROM sales.renamed WHERE total > 6")) == [(3, 7), (4, 9)]
        listed = {t.name: (t.tableType, t.description) for t in s.catalog.listTables("sales")}
        assert listed == {"orders": ("MANAGED", None), "positive": ("VIEW", "kept"), "renamed": ("VIEW", None)}
        with pytest.raises(Exception, match="WRONG_COMMAND_FOR_OBJECT_TYPE"):
            sql(s, "DROP TABLE sales.positive")
        with pytest.raises(Exception, match="WRONG_COMMAND_FOR_OBJECT_TYPE"):
            sql(s, "DROP VIEW sales.orders")
        with pytest.raises(Exception, match="EXPECT_TABLE_NOT_VIEW"):
            s.range(1).write.format("delta").saveAsTable("sales.positive")
        with pytest.raises(Exception, match="EXPECT_TABLE_NOT_VIEW"):
            sql(s, "INSERT INTO sales.positive VALUES (5, 5)")
        assert not (warehouse / "sales.db" / "positive").exists()
        sql(s, "DROP VIEW sales.positive")
        assert not s.catalog.tableExists("positive", "sales")
        assert client_rows(s.table("sales.orders")) == [(1, 5), (2, -1), (3, 7), (4, 9)]
    finally:
        stop_quietly(s)
