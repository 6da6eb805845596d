"""Declarative pipelines on sluice, driven the way users drive them: Spark's own CLI
(`python -m pyspark.pipelines.cli`, the `spark-pipelines` of the pyspark-client package) over
Spark Connect, sluice's `sluice-dlt` runner for Databricks DLT Python files, and
`sluice pipeline run` for SQL-only projects with no Python at all.

Every test has a server of its own (own warehouse). Tables are checked with delta-rs
(`deltalake`), an independent reader: rows, versions, and which rows each commit added.
Expected rows are computed from the input the test writes; the pipeline semantics (which
flows run, what a full refresh or a refresh selection does, the error classes for
undefined names, cycles and batch queries into streaming tables) follow Apache Spark 4.3's
Declarative Pipelines, checked with its CLI against a Spark Connect server.
"""

from pathlib import Path

import pytest
from pyspark.sql import functions as F  # noqa: F401

from harness.delta import dl, server, session_on, sorted_rows, warehouse  # noqa: F401 - fixtures
from harness.pipelines import drop_json, sdp_cli, sluice_pipeline, write_project
from harness.session import stop_quietly
from harness.streaming import needs_sluice

pytestmark = [pytest.mark.pipelines, needs_sluice]


@pytest.fixture
def spark_of_server(server):
    session = session_on(server)
    yield session
    stop_quietly(session)


def table_rows(wh: Path, name: str, columns=None):
    t = dl(wh / name).to_pyarrow_table()
    if columns:
        t = t.select(columns)
    return sorted_rows(zip(*[c.to_pylist() for c in t.columns]))


def added_rows_per_version(wh: Path, name: str):
    """numOutputRows of each commit in the table's history, oldest first."""
    history = dl(wh / name).history()
    return [
        (h["version"], h.get("operation"), int((h.get("operationMetrics") or {}).get("num_added_rows", 0) or 0))
        for h in sorted(history, key=lambda h: h["version"])
    ]


# -- the project `spark-pipelines init` makes --------------------------------------------------


def test_init_project_runs_unmodified(server, warehouse, tmp_path):
    sdp_cli(server.url, "init", "--name", "demo", cwd=tmp_path).ok()
    project = tmp_path / "demo"
    out = sdp_cli(server.url, "run", cwd=project).ok().out
    assert "Run is COMPLETED" in out, out
    assert table_rows(warehouse, "example_python_materialized_view") == [(i,) for i in range(10)]
    assert table_rows(warehouse, "example_sql_materialized_view") == [(i,) for i in range(0, 10, 2)]
    # A second run recomputes the materialized views: same rows.
    sdp_cli(server.url, "run", cwd=project).ok()
    assert table_rows(warehouse, "example_sql_materialized_view") == [(i,) for i in range(0, 10, 2)]


# -- the medallion pipeline: bronze (Auto Loader), silver (streaming), gold (MV) -----------------

MEDALLION_SQL = """
CREATE OR REFRESH STREAMING LIVE TABLE bronze
COMMENT "raw events"
AS SELECT * FROM cloud_files("{landing}", "json", map("cloudFiles.inferColumnTypes", "true"));

CREATE OR REFRESH STREAMING LIVE TABLE silver
AS SELECT id, country, amount FROM STREAM(LIVE.bronze) WHERE amount > 0;

CREATE OR REFRESH LIVE TABLE gold
AS SELECT country, count(*) AS orders, sum(amount) AS total FROM LIVE.silver GROUP BY country;
"""


def orders(start, n):
    countries = ["fr", "de", "us"]
    return [{"id": i, "country": countries[i % 3], "amount": (i % 5) - 1} for i in range(start, start + n)]


def expected_gold(rows):
    out = {}
    for r in rows:
        if r["amount"] > 0:
            n, t = out.get(r["country"], (0, 0))
            out[r["country"]] = (n + 1, t + r["amount"])
    return sorted((c, n, t) for c, (n, t) in out.items())


def test_sql_medallion_is_incremental(server, warehouse, tmp_path):
    landing = tmp_path / "landing"
    first = orders(0, 30)
    drop_json(landing, "a.json", first[:15])
    drop_json(landing, "b.json", first[15:])
    spec = write_project(tmp_path / "proj", {"medallion.sql": MEDALLION_SQL.format(landing=landing)})
    sdp_cli(server.url, "run", "--spec", str(spec)).ok()
    assert len(table_rows(warehouse, "bronze", ["id"])) == 30
    assert table_rows(warehouse, "silver", ["id"]) == sorted((r["id"],) for r in first if r["amount"] > 0)
    assert table_rows(warehouse, "gold") == expected_gold(first)

    second = orders(30, 9)
    drop_json(landing, "c.json", second)
    out = sdp_cli(server.url, "run", "--spec", str(spec)).ok().out
    everything = first + second
    assert len(table_rows(warehouse, "bronze", ["id"])) == 39
    assert table_rows(warehouse, "silver", ["id"]) == sorted((r["id"],) for r in everything if r["amount"] > 0)
    assert table_rows(warehouse, "gold") == expected_gold(everything)
    # The second run appended only the new rows to the streaming tables.
    bronze = added_rows_per_version(warehouse, "bronze")
    assert bronze[-1][2] == 9, bronze
    silver = added_rows_per_version(warehouse, "silver")
    assert silver[-1][2] == sum(1 for r in second if r["amount"] > 0), silver
    assert "Run is COMPLETED" in out

    # Nothing new: streaming tables get no new commit with rows.
    before = dl(warehouse / "bronze").version()
    sdp_cli(server.url, "run", "--spec", str(spec)).ok()
    assert sum(v[2] for v in added_rows_per_version(warehouse, "bronze") if v[0] > before) == 0


MEDALLION_PY = """
from pyspark import pipelines as dp
from pyspark.sql import functions as F

@dp.table(comment="raw events")
def bronze():
    return (spark.readStream.format("cloudFiles")
            .option("cloudFiles.format", "json")
            .option("cloudFiles.inferColumnTypes", "true")
            .load("{landing}"))

@dp.table
def silver():
    return spark.readStream.table("bronze").where(F.col("amount") > 0).select("id", "country", "amount")

@dp.materialized_view
def gold():
    return (spark.read.table("silver").groupBy("country")
            .agg(F.count("*").alias("orders"), F.sum("amount").alias("total")))
"""


def test_python_medallion_is_incremental(server, warehouse, tmp_path):
    landing = tmp_path / "landing"
    first = orders(0, 20)
    drop_json(landing, "a.json", first)
    spec = write_project(tmp_path / "proj", {"medallion.py": MEDALLION_PY.format(landing=landing)})
    sdp_cli(server.url, "run", "--spec", str(spec)).ok()
    assert table_rows(warehouse, "gold") == expected_gold(first)
    second = orders(20, 7)
    drop_json(landing, "b.json", second)
    sdp_cli(server.url, "run", "--spec", str(spec)).ok()
    assert len(table_rows(warehouse, "bronze", ["id"])) == 27
    assert table_rows(warehouse, "gold") == expected_gold(first + second)
    assert added_rows_per_version(warehouse, "bronze")[-1][2] == 7


def test_mixed_sql_and_python_with_flows_and_views(server, warehouse, tmp_path):
    landing = tmp_path / "landing"
    rows = orders(0, 12)
    drop_json(landing, "a.json", rows)
    spec = write_project(
        tmp_path / "proj",
        {
            "a_sources.py": f"""
                from pyspark import pipelines as dp

                @dp.temporary_view
                def raw():
                    return spark.readStream.format("json").schema("id LONG, country STRING, amount LONG").load("{landing}")
            """,
            "b_tables.sql": """
                CREATE STREAMING TABLE all_orders;
                CREATE FLOW positive AS INSERT INTO all_orders BY NAME SELECT * FROM STREAM(raw) WHERE amount > 0;
                CREATE FLOW negative AS INSERT INTO all_orders BY NAME SELECT * FROM STREAM raw WHERE amount <= 0;
                CREATE MATERIALIZED VIEW by_country AS SELECT country, count(*) AS n FROM all_orders GROUP BY country;
            """,
        },
    )
    sdp_cli(server.url, "run", "--spec", str(spec)).ok()
    assert table_rows(warehouse, "all_orders", ["id"]) == [(r["id"],) for r in rows]
    counts = {}
    for r in rows:
        counts[r["country"]] = counts.get(r["country"], 0) + 1
    assert table_rows(warehouse, "by_country") == sorted(counts.items())
    # The temporary view is not a table.
    assert not (warehouse / "raw").exists()


# -- analysis errors: reported before anything is written ----------------------------------------


def test_dry_run_validates_without_writing(server, warehouse, tmp_path):
    landing = tmp_path / "landing"
    drop_json(landing, "a.json", orders(0, 3))
    spec = write_project(tmp_path / "proj", {"m.sql": MEDALLION_SQL.format(landing=landing)})
    out = sdp_cli(server.url, "dry-run", "--spec", str(spec)).ok().out
    assert "Run is COMPLETED" in out
    assert not (warehouse / "bronze").exists()


@pytest.mark.parametrize(
    "files, error",
    [
        (
            {"x.sql": "CREATE MATERIALIZED VIEW a AS SELECT * FROM nowhere_to_be_found;"},
            "TABLE_OR_VIEW_NOT_FOUND",
        ),
        (
            {"x.sql": "CREATE MATERIALIZED VIEW a AS SELECT * FROM b;\nCREATE MATERIALIZED VIEW b AS SELECT * FROM a;"},
            "Circular dependencies are not supported in a pipeline",
        ),
        (
            {"x.sql": "CREATE MATERIALIZED VIEW src AS SELECT 1 AS id;\nCREATE STREAMING TABLE s AS SELECT * FROM src;"},
            "INVALID_FLOW_QUERY_TYPE.BATCH_RELATION_FOR_STREAMING_TABLE",
        ),
        (
            {
                "x.sql": "CREATE MATERIALIZED VIEW a AS SELECT 1 AS id;",
                "y.py": "from pyspark import pipelines as dp\n\n@dp.materialized_view\ndef a():\n    return spark.range(3)\n",
            },
            "PIPELINE_DUPLICATE_IDENTIFIERS",
        ),
        ({"x.sql": "CREATE MATERIALIZED VIEW a AS SELEC 1;"}, "PARSE_SYNTAX_ERROR"),
        (
            {"x.sql": "CREATE MATERIALIZED VIEW a AS SELECT 1 AS id;\nDROP TABLE a;"},
            "PIPELINE_SQL_GRAPH_ELEMENT_REGISTRATION_ERROR",
        ),
        (
            {"x.sql": "CREATE MATERIALIZED VIEW a AS SELECT 1 AS id;\nCREATE TEMPORARY VIEW t AS SELECT 1 AS id;\nCREATE VIEW v AS SELECT * FROM t;"},
            "[INVALID_TEMP_OBJ_REFERENCE] Cannot create the persistent object `spark_catalog`.`default`.`v` of the type view "
            "because it references to the temporary object `t` of the type temporary view.",
        ),
        (
            {"x.sql": "CREATE MATERIALIZED VIEW a AS SELECT 1 AS id;\nCREATE STREAMING TABLE s AS SELECT * FROM STREAM(a_src);\n"
             "CREATE VIEW v AS SELECT * FROM STREAM(s);",
             "y.py": "from pyspark import pipelines as dp\n\n@dp.table\ndef a_src():\n    return spark.readStream.format('rate').load()\n"},
            "[INVALID_FLOW_QUERY_TYPE.STREAMING_RELATION_FOR_PERSISTED_VIEW] Flow `spark_catalog`.`default`.`v` returns an invalid relation type.",
        ),
    ],
    ids=[
        "undefined",
        "cycle",
        "batch-into-streaming",
        "duplicate",
        "syntax",
        "unsupported-statement",
        "persisted-view-over-temporary-view",
        "persisted-view-streaming",
    ],
)
def test_analysis_errors(server, warehouse, tmp_path, files, error):
    spec = write_project(tmp_path / "proj", files)
    for command in ("dry-run", "run"):
        out = sdp_cli(server.url, command, "--spec", str(spec)).failed().out
        assert error in out, out
    assert not any(warehouse.iterdir()) if warehouse.exists() else True


def test_persisted_views_are_published(server, warehouse, tmp_path, spark_of_server):
    """`CREATE VIEW` in a pipeline publishes the view in the catalog (Spark 4.3 does this with
    CREATE VIEW of the query text); datasets of the pipeline read its definition in place,
    and sessions read it from the catalog after the run."""
    files = {
        "x.sql": """
            CREATE MATERIALIZED VIEW a AS SELECT id FROM range(3);
            CREATE VIEW v COMMENT 'tens' AS SELECT id * 10 AS x FROM a;
            CREATE VIEW w AS SELECT x + 1 AS y FROM v;
            CREATE MATERIALIZED VIEW m AS SELECT y FROM w;
            CREATE VIEW dlt_style AS SELECT count(*) AS n FROM LIVE.a WHERE 'LIVE.a' <> '';
        """
    }
    spec = write_project(tmp_path / "proj", files)
    out = sdp_cli(server.url, "run", "--spec", str(spec)).ok().out
    assert "Run is COMPLETED" in out, out
    assert table_rows(warehouse, "m") == [(1,), (11,), (21,)]
    assert not (warehouse / "v").exists() and not (warehouse / "w").exists()
    spark = spark_of_server
    assert sorted(r.y for r in spark.table("w").collect()) == [1, 11, 21]
    listed = {t.name: (t.tableType, t.description) for t in spark.catalog.listTables()}
    assert listed["v"] == ("VIEW", "tens") and listed["w"] == ("VIEW", None), listed
    # DLT's `LIVE.` qualifier is taken off the catalog's text (there is no LIVE schema).
    assert spark.table("dlt_style").collect()[0].n == 3
    # A changed definition is published by the next run (sluice replaces the view; Spark
    # 4.3 keeps the first one, a known Spark bug: its CREATE VIEW has IF NOT EXISTS set).
    files["x.sql"] = files["x.sql"].replace("id * 10", "id * 100")
    spec = write_project(tmp_path / "proj", files)
    sdp_cli(server.url, "run", "--spec", str(spec)).ok()
    assert sorted(r.y for r in spark.table("w").collect()) == [1, 101, 201]
    assert table_rows(warehouse, "m") == [(1,), (101,), (201,)]


def test_cycle_names_the_datasets(server, tmp_path):
    spec = write_project(
        tmp_path / "proj",
        {"x.sql": "CREATE MATERIALIZED VIEW a AS SELECT * FROM b;\nCREATE MATERIALIZED VIEW b AS SELECT * FROM a;"},
    )
    out = sdp_cli(server.url, "dry-run", "--spec", str(spec)).failed().out
    # Spark 4.3's text (CircularDependencyException).
    assert (
        "The downstream table 'spark_catalog.default.b' is referenced when creating the upstream table "
        "or view 'spark_catalog.default.a'. Circular dependencies are not supported in a pipeline."
    ) in out, out


def test_undefined_name_fails_the_flow_like_spark(server, tmp_path):
    spec = write_project(tmp_path / "proj", {"x.sql": "CREATE MATERIALIZED VIEW r AS SELECT * FROM nothing_here;"})
    out = sdp_cli(server.url, "dry-run", "--spec", str(spec)).failed().out
    # Spark 4.3: the flow's error, then the summary naming the flows.
    assert "Failed to resolve flow: 'spark_catalog.default.r'." in out, out
    assert "[TABLE_OR_VIEW_NOT_FOUND] The table or view `spark_catalog`.`default`.`nothing_here` cannot be found." in out
    assert "Flows with errors: spark_catalog.default.r" in out


# -- refresh options -----------------------------------------------------------------------------


def test_full_refresh_and_refresh_selection(server, warehouse, tmp_path):
    landing = tmp_path / "landing"
    first = orders(0, 10)
    drop_json(landing, "a.json", first)
    spec = write_project(tmp_path / "proj", {"m.sql": MEDALLION_SQL.format(landing=landing)})
    sdp_cli(server.url, "run", "--spec", str(spec)).ok()
    second = orders(10, 5)
    drop_json(landing, "b.json", second)

    # Only bronze: silver and gold are left as they were.
    silver_version = dl(warehouse / "silver").version()
    gold_version = dl(warehouse / "gold").version()
    sdp_cli(server.url, "run", "--spec", str(spec), "--refresh", "bronze").ok()
    assert len(table_rows(warehouse, "bronze", ["id"])) == 15
    assert dl(warehouse / "silver").version() == silver_version
    assert dl(warehouse / "gold").version() == gold_version

    # A full refresh of bronze reads every file again, into an emptied table: no duplicates.
    sdp_cli(server.url, "run", "--spec", str(spec), "--full-refresh", "bronze").ok()
    assert table_rows(warehouse, "bronze", ["id"]) == [(i,) for i in range(15)]

    # --full-refresh-all recomputes everything from scratch.
    sdp_cli(server.url, "run", "--spec", str(spec), "--full-refresh-all").ok()
    everything = first + second
    assert table_rows(warehouse, "silver", ["id"]) == sorted((r["id"],) for r in everything if r["amount"] > 0)
    assert table_rows(warehouse, "gold") == expected_gold(everything)

    # Spark 4.3: a name that is not a table of the pipeline selects nothing; every flow is
    # EXCLUDED and the run completes.
    out = sdp_cli(server.url, "run", "--spec", str(spec), "--refresh", "no_such_table").ok().out
    assert "Flow 'spark_catalog.default.bronze' is EXCLUDED." in out, out
    # Spark 4.3: IllegalArgumentException naming the dataset selected both ways.
    out = sdp_cli(server.url, "run", "--spec", str(spec), "--refresh", "gold", "--full-refresh", "gold").failed().out
    assert "Datasets specified for refresh and full refresh cannot overlap: `spark_catalog`.`default`.`gold`" in out, out


def test_unchanged_materialized_views_are_not_recomputed(server, warehouse, tmp_path, spark_of_server):
    """A materialized view whose inputs (Delta tables, by version) and definition are as at
    its last update keeps its table: no new commit. New input, a changed definition, a write
    to the view's table from elsewhere, a full refresh, or a query that is not deterministic
    make it recompute."""
    landing = tmp_path / "landing"
    first = orders(0, 12)
    drop_json(landing, "a.json", first)
    files = {"m.sql": MEDALLION_SQL.format(landing=landing) + "CREATE MATERIALIZED VIEW noisy AS SELECT count(*) AS n, rand() AS r FROM silver;\n"}
    spec = write_project(tmp_path / "proj", files)
    sdp_cli(server.url, "run", "--spec", str(spec)).ok()
    gold = dl(warehouse / "gold").version()
    noisy = dl(warehouse / "noisy").version()

    # Nothing new: gold keeps its version; the rand() view is recomputed.
    out = sdp_cli(server.url, "run", "--spec", str(spec)).ok().out
    assert "spark_catalog.default.gold is not recomputed" in out, out
    assert "Flow spark_catalog.default.gold has COMPLETED." in out, out
    assert dl(warehouse / "gold").version() == gold
    assert dl(warehouse / "noisy").version() == noisy + 1
    assert table_rows(warehouse, "gold") == expected_gold(first)

    # New input reaches silver: gold is recomputed.
    second = orders(12, 6)
    drop_json(landing, "b.json", second)
    sdp_cli(server.url, "run", "--spec", str(spec)).ok()
    assert dl(warehouse / "gold").version() == gold + 1
    assert table_rows(warehouse, "gold") == expected_gold(first + second)

    # A write into gold from elsewhere: the next update puts the view's rows back.
    spark_of_server.sql("DELETE FROM gold WHERE country = 'fr'")
    sdp_cli(server.url, "run", "--spec", str(spec)).ok()
    assert table_rows(warehouse, "gold") == expected_gold(first + second)
    settled = dl(warehouse / "gold").version()

    # A full refresh recomputes even when nothing changed.
    sdp_cli(server.url, "run", "--spec", str(spec), "--full-refresh", "gold").ok()
    assert dl(warehouse / "gold").version() == settled + 1

    # A changed definition is recomputed.
    files["m.sql"] = files["m.sql"].replace("sum(amount) AS total", "max(amount) AS total")
    write_project(tmp_path / "proj", files)
    sdp_cli(server.url, "run", "--spec", str(spec)).ok()
    top = {}
    for r in first + second:
        if r["amount"] > 0:
            n, t = top.get(r["country"], (0, 0))
            top[r["country"]] = (n + 1, max(t, r["amount"]))
    assert table_rows(warehouse, "gold") == sorted((c, n, t) for c, (n, t) in top.items())


# -- expectations (SQL constraints) and the event log ------------------------------------------


EXPECTATIONS_SQL = """
CREATE OR REFRESH STREAMING LIVE TABLE checked (
  CONSTRAINT has_country EXPECT (country IS NOT NULL),
  CONSTRAINT positive EXPECT (amount > 0) ON VIOLATION DROP ROW
)
AS SELECT * FROM cloud_files("{landing}", "json", map("cloudFiles.inferColumnTypes", "true"));
"""


def test_expectations_warn_and_drop_with_metrics_in_event_log(server, warehouse, tmp_path, spark_of_server):
    landing = tmp_path / "landing"
    rows = [
        {"id": 1, "country": "fr", "amount": 5},
        {"id": 2, "country": None, "amount": 3},
        {"id": 3, "country": "de", "amount": -1},
        {"id": 4, "country": None, "amount": 0},
        {"id": 5, "country": "us", "amount": 2},
    ]
    drop_json(landing, "a.json", rows)
    storage = tmp_path / "storage"
    spec = write_project(tmp_path / "proj", {"e.sql": EXPECTATIONS_SQL.format(landing=landing)}, storage=storage)
    sdp_cli(server.url, "run", "--spec", str(spec)).ok()
    # warn keeps rows; drop removes amount <= 0 (ids 3 and 4).
    assert table_rows(warehouse, "checked", ["id"]) == [(1,), (2,), (5,)]

    import json as _json

    log = spark_of_server.read.format("delta").load(str(storage / "_event_log"))
    details = [
        _json.loads(r["details"])
        for r in log.where("event_type = 'flow_progress' AND details LIKE '%data_quality%'").collect()
    ]
    completed = [d["flow_progress"] for d in details if d["flow_progress"]["status"] == "COMPLETED"]
    assert len(completed) == 1, details
    dq = completed[0]["data_quality"]
    assert dq["dropped_records"] == 2
    by_name = {e["name"]: e for e in dq["expectations"]}
    assert (by_name["has_country"]["passed_records"], by_name["has_country"]["failed_records"]) == (3, 2)
    assert (by_name["positive"]["passed_records"], by_name["positive"]["failed_records"]) == (3, 2)
    assert completed[0]["metrics"]["num_output_rows"] == 3


def test_expectation_fail_stops_the_update(server, warehouse, tmp_path):
    landing = tmp_path / "landing"
    drop_json(landing, "a.json", [{"id": 1, "amount": 5}, {"id": 2, "amount": -7}])
    spec = write_project(
        tmp_path / "proj",
        {
            "f.sql": f"""
            CREATE OR REFRESH STREAMING LIVE TABLE strict (
              CONSTRAINT positive EXPECT (amount > 0) ON VIOLATION FAIL UPDATE
            ) AS SELECT * FROM cloud_files("{landing}", "json", map("cloudFiles.inferColumnTypes", "true"));
            """
        },
    )
    out = sdp_cli(server.url, "run", "--spec", str(spec)).failed().out
    assert "EXPECTATION_VIOLATION" in out and "positive" in out and "-7" in out, out
    # Nothing was written by the failed batch.
    assert not (warehouse / "strict").exists() or table_rows(warehouse, "strict", ["id"]) == []


# -- sluice pipeline run: SQL pipelines without Python ------------------------------------------


def test_sluice_pipeline_run_without_python(tmp_path):
    from conftest import sluice_binary

    binary = sluice_binary()
    landing = tmp_path / "landing"
    drop_json(landing, "a.json", orders(0, 6))
    project = tmp_path / "proj"
    write_project(project, {"m.sql": MEDALLION_SQL.format(landing=landing)})
    wh = tmp_path / "wh"
    out = sluice_pipeline(binary, wh, "run", str(project)).ok().out
    assert "Run is COMPLETED" in out
    assert table_rows(wh, "gold") == expected_gold(orders(0, 6))
    drop_json(landing, "b.json", orders(6, 3))
    sluice_pipeline(binary, wh, "run", "--spec", str(project / "spark-pipeline.yml")).ok()
    assert table_rows(wh, "gold") == expected_gold(orders(0, 9))
    assert sluice_pipeline(binary, wh, "dry-run", str(project)).ok()
    bad = tmp_path / "bad"
    write_project(bad, {"x.sql": "CREATE MATERIALIZED VIEW a AS SELECT * FROM LIVE.missing;"})
    assert "TABLE_OR_VIEW_NOT_FOUND" in sluice_pipeline(binary, wh, "run", str(bad)).failed().out


# -- Python API of Spark Declarative Pipelines beyond @dp.table -----------------------------------


def test_append_flows_sinks_and_sql_inside_python(server, warehouse, tmp_path, spark_of_server):
    import pyarrow.parquet as pq

    landing = tmp_path / "landing"
    rows = orders(0, 9)
    drop_json(landing, "a.json", rows)
    sink_dir = tmp_path / "sink_out"
    spec = write_project(
        tmp_path / "proj",
        {
            "flows.py": f"""
                from pyspark import pipelines as dp

                @dp.table
                def src():
                    return spark.readStream.format("json").schema("id LONG, country STRING, amount LONG").load("{landing}")

                dp.create_streaming_table("combined", comment="two flows into one table")

                @dp.append_flow(target="combined")
                def from_france():
                    return spark.readStream.table("src").where("country = 'fr'")

                @dp.append_flow(target="combined")
                def from_elsewhere():
                    # spark.sql inside a flow: the client's PipelineAnalysisContext tells the
                    # server not to resolve it yet.
                    return spark.sql("SELECT * FROM STREAM(src) WHERE country <> 'fr'")

                dp.create_sink("archive", format="parquet", options={{"path": "{sink_dir}"}})

                @dp.append_flow(target="archive")
                def to_archive():
                    return spark.readStream.table("src").select("id")
            """,
            "backfill.sql": """
                CREATE FLOW backfill AS INSERT INTO ONCE combined BY NAME
                SELECT 1000 AS id, 'xx' AS country, 1 AS amount;
            """,
        },
    )
    sdp_cli(server.url, "run", "--spec", str(spec)).ok()
    ids = [r["id"] for r in rows] + [1000]
    assert table_rows(warehouse, "combined", ["id"]) == sorted((i,) for i in ids)
    assert sorted(pq.read_table(sink_dir).column("id").to_pylist()) == sorted(r["id"] for r in rows)
    # The comment is the Delta table's description.
    assert dl(warehouse / "combined").metadata().description == "two flows into one table"

    # Second run: new rows through both flows; the once flow does not run again.
    more = orders(9, 4)
    drop_json(landing, "b.json", more)
    sdp_cli(server.url, "run", "--spec", str(spec)).ok()
    ids += [r["id"] for r in more]
    assert table_rows(warehouse, "combined", ["id"]) == sorted((i,) for i in ids)
    # A full refresh runs the once flow again, into an emptied table.
    sdp_cli(server.url, "run", "--spec", str(spec), "--full-refresh", "combined").ok()
    assert table_rows(warehouse, "combined", ["id"]) == sorted((i,) for i in ids)


def test_streaming_sql_in_a_plain_session(spark_of_server, tmp_path):
    # STREAM(t) is Spark 4.1 SQL: a streaming DataFrame outside pipelines too.
    spark = spark_of_server
    spark.range(3).write.format("delta").saveAsTable("st_src")
    df = spark.sql("SELECT id * 10 AS x FROM STREAM(st_src)")
    assert df.isStreaming
    q = (
        df.writeStream.format("memory").queryName("st_out")
        .option("checkpointLocation", str(tmp_path / "cp")).trigger(availableNow=True).start()
    )
    q.awaitTermination(60)
    assert sorted(r.x for r in spark.table("st_out").collect()) == [0, 10, 20]
    assert not spark.sql("SELECT * FROM st_src").isStreaming
