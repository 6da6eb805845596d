"""Databricks DLT pipelines on sluice: Python files that `import dlt` run unmodified through
sluice's `sluice-dlt` runner (python/), DLT SQL through Spark's own CLI; expectations,
APPLY CHANGES (SCD type 1 and 2) with out-of-order and deleted keys, and a run killed
mid-way and run again.

Each test has a server of its own; tables are read back with delta-rs (`deltalake`).
Expected values are computed from the events the test writes, following the Databricks
documentation of expectations ("Manage data quality with pipeline expectations": warn keeps
and counts, drop removes, fail stops the update) and of APPLY CHANGES ("The APPLY CHANGES
APIs": the latest sequence per key wins, out-of-order events are handled, a delete is not
undone by an older update; SCD type 2 keeps `__START_AT` / `__END_AT` history).
"""

import json
import time
from pathlib import Path

import pytest

from harness.delta import dl, server, session_on, sorted_rows, warehouse  # noqa: F401 - fixtures
from harness.pipelines import dlt_runner, drop_json, sdp_cli, write_project
from harness.session import stop_quietly
from harness.streaming import needs_sluice

pytestmark = [pytest.mark.pipelines, needs_sluice]


def rows_of(wh: Path, name: str, columns):
    t = dl(wh / name).to_pyarrow_table().select(columns)
    return sorted_rows(zip(*[c.to_pylist() for c in t.columns]))


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


DLT_MEDALLION = """
import dlt
from pyspark.sql import functions as F

@dlt.table(comment="raw orders")
def bronze():
    return (spark.readStream.format("cloudFiles")
            .option("cloudFiles.format", "json")
            .option("cloudFiles.inferColumnTypes", "true")
            .load("{landing}"))

@dlt.table
@dlt.expect("has_country", "country IS NOT NULL")
@dlt.expect_or_drop("positive", "amount > 0")
def silver():
    return dlt.read_stream("bronze").select("id", "country", "amount")

@dlt.table
def gold():
    return dlt.read("LIVE.silver").groupBy("country").agg(F.count("*").alias("orders"))
"""


def test_dlt_python_medallion_with_expectations(server, warehouse, tmp_path):
    landing = tmp_path / "landing"
    storage = tmp_path / "storage"
    first = [
        {"id": 1, "country": "fr", "amount": 5},
        {"id": 2, "country": None, "amount": 3},
        {"id": 3, "country": "de", "amount": -1},
        {"id": 4, "country": "fr", "amount": 2},
    ]
    drop_json(landing, "a.json", first)
    pipeline = write(tmp_path / "pipe" / "medallion.py", DLT_MEDALLION.format(landing=landing))
    out = dlt_runner(server.url, "run", "--storage", str(storage), str(pipeline)).ok().out
    assert "Run is COMPLETED" in out, out
    assert rows_of(warehouse, "bronze", ["id"]) == [(1,), (2,), (3,), (4,)]
    assert rows_of(warehouse, "silver", ["id"]) == [(1,), (2,), (4,)]
    assert rows_of(warehouse, "gold", ["country", "orders"]) == sorted_rows([(None, 1), ("fr", 2)])

    drop_json(landing, "b.json", [{"id": 5, "country": "de", "amount": 7}, {"id": 6, "country": "us", "amount": 0}])
    dlt_runner(server.url, "run", "--storage", str(storage), str(pipeline)).ok()
    assert rows_of(warehouse, "bronze", ["id"]) == [(i,) for i in range(1, 7)]
    assert rows_of(warehouse, "silver", ["id"]) == [(1,), (2,), (4,), (5,)]
    assert rows_of(warehouse, "gold", ["country", "orders"]) == sorted_rows([(None, 1), ("de", 1), ("fr", 2)])
    # The second run appended only its own rows to bronze (2 rows).
    history = sorted(dl(warehouse / "bronze").history(), key=lambda h: h["version"])
    assert int(history[-1]["operationMetrics"]["num_added_rows"]) == 2

    spark = session_on(server)
    try:
        log = spark.read.format("delta").load(str(storage / "_event_log"))
        silver = [
            json.loads(r["details"])["flow_progress"]
            for r in log.where("event_type = 'flow_progress' AND dataset_name LIKE '%silver'")
            .orderBy("timestamp")
            .collect()
            if r["details"] and "COMPLETED" in r["details"]
        ]
    finally:
        stop_quietly(spark)
    assert len(silver) == 2, silver
    first_dq = {e["name"]: (e["passed_records"], e["failed_records"]) for e in silver[0]["data_quality"]["expectations"]}
    assert first_dq == {"has_country": (3, 1), "positive": (3, 1)}
    assert silver[0]["data_quality"]["dropped_records"] == 1
    assert silver[1]["data_quality"]["dropped_records"] == 1
    assert silver[1]["metrics"]["num_output_rows"] == 1


def test_dlt_expect_or_fail_stops_the_update(server, warehouse, tmp_path):
    landing = tmp_path / "landing"
    drop_json(landing, "a.json", [{"id": 1, "amount": 5}, {"id": 2, "amount": -3}])
    pipeline = write(
        tmp_path / "pipe" / "p.py",
        f"""
import dlt

@dlt.table
@dlt.expect_or_fail("positive", "amount > 0")
def strict():
    return spark.readStream.format("cloudFiles").option("cloudFiles.format", "json") \\
        .option("cloudFiles.inferColumnTypes", "true").load("{landing}")
""",
    )
    result = dlt_runner(server.url, "run", "--storage", str(tmp_path / "s"), str(pipeline)).failed()
    assert "EXPECTATION_VIOLATION" in result.out and "positive" in result.out, result.out
    assert not (warehouse / "strict").exists() or rows_of(warehouse, "strict", ["id"]) == []


# -- APPLY CHANGES: SCD type 1 and 2 -------------------------------------------------------------

# Sequences are tens, so late events can fall between existing ones.
CDC_FIRST = [
    {"id": 1, "name": "a", "seq": 10, "op": "INSERT"},
    {"id": 2, "name": "b", "seq": 10, "op": "INSERT"},
    {"id": 1, "name": "a2", "seq": 30, "op": "UPDATE"},
    {"id": 1, "name": "a1", "seq": 20, "op": "UPDATE"},  # out of order within the batch
    {"id": 3, "name": "c", "seq": 10, "op": "INSERT"},
]
CDC_SECOND = [
    {"id": 2, "name": None, "seq": 50, "op": "DELETE"},
    {"id": 1, "name": "late", "seq": 25, "op": "UPDATE"},  # older than a2 (30)
    {"id": 3, "name": "c2", "seq": 40, "op": "UPDATE"},
    {"id": 2, "name": "b-late", "seq": 40, "op": "UPDATE"},  # older than the delete (50)
    {"id": 4, "name": "d", "seq": 10, "op": "INSERT"},
]
SCD1_AFTER_FIRST = [(1, "a2"), (2, "b"), (3, "c")]
SCD1_AFTER_SECOND = [(1, "a2"), (3, "c2"), (4, "d")]
SCD2_AFTER_FIRST = [
    (1, "a", 10, 20), (1, "a1", 20, 30), (1, "a2", 30, None),
    (2, "b", 10, None), (3, "c", 10, None),
]  # fmt: skip
SCD2_AFTER_SECOND = [
    (1, "a", 10, 20), (1, "a1", 20, 25), (1, "late", 25, 30), (1, "a2", 30, None),
    (2, "b", 10, 40), (2, "b-late", 40, 50),
    (3, "c", 10, 40), (3, "c2", 40, None),
    (4, "d", 10, None),
]  # fmt: skip


def cdc_python(landing: Path, scd: int) -> str:
    return f"""
import dlt
from pyspark.sql import functions as F

@dlt.view
def cdc_raw():
    return spark.readStream.format("json").schema("id LONG, name STRING, seq LONG, op STRING").load("{landing}")

dlt.create_streaming_table("customers")

dlt.apply_changes(
    target="customers",
    source="cdc_raw",
    keys=["id"],
    sequence_by=F.col("seq"),
    apply_as_deletes=F.expr("op = 'DELETE'"),
    except_column_list=["op", "seq"],
    stored_as_scd_type={scd},
)
"""


def cdc_sql(landing: Path, scd: int) -> str:
    return f"""
CREATE TEMPORARY VIEW cdc_raw AS SELECT * FROM STREAM read_files("{landing}", format => "json", schemaHints => "id LONG, seq LONG");
CREATE OR REFRESH STREAMING TABLE customers;
APPLY CHANGES INTO LIVE.customers
FROM STREAM(LIVE.cdc_raw)
KEYS (id)
APPLY AS DELETE WHEN op = "DELETE"
SEQUENCE BY seq
COLUMNS * EXCEPT (op, seq, _rescued_data)
STORED AS SCD TYPE {scd};
"""


@pytest.mark.parametrize("scd", [1, 2])
@pytest.mark.parametrize("client", ["dlt-python", "sdp-sql"])
def test_apply_changes(server, warehouse, tmp_path, scd, client):
    landing = tmp_path / "landing"
    storage = tmp_path / "storage"
    drop_json(landing, "1.json", CDC_FIRST)

    if client == "dlt-python":
        pipeline = write(tmp_path / "pipe" / "cdc.py", cdc_python(landing, scd))

        def run():
            return dlt_runner(server.url, "run", "--storage", str(storage), str(pipeline)).ok()
    else:
        spec = write_project(tmp_path / "proj", {"cdc.sql": cdc_sql(landing, scd)}, storage=storage)

        def run():
            return sdp_cli(server.url, "run", "--spec", str(spec)).ok()

    columns = ["id", "name"] + (["__START_AT", "__END_AT"] if scd == 2 else [])
    run()
    assert rows_of(warehouse, "customers", columns) == sorted_rows(SCD1_AFTER_FIRST if scd == 1 else SCD2_AFTER_FIRST)
    drop_json(landing, "2.json", CDC_SECOND)
    run()
    assert rows_of(warehouse, "customers", columns) == sorted_rows(SCD1_AFTER_SECOND if scd == 1 else SCD2_AFTER_SECOND)
    # The target keeps only the selected columns.
    names = set(dl(warehouse / "customers").to_pyarrow_table().column_names)
    assert "op" not in names and "seq" not in names


# -- a run killed mid-way -------------------------------------------------------------------------


def test_killed_run_then_rerun_has_no_duplicates(server, warehouse, tmp_path):
    landing = tmp_path / "landing"
    rows = []
    for f in range(30):
        batch = [{"id": f * 100 + i, "country": "fr" if i % 2 else "de", "amount": i} for i in range(50)]
        rows += batch
        drop_json(landing, f"{f:03}.json", batch)
    spec = write_project(
        tmp_path / "proj",
        {
            "m.py": f"""
                from pyspark import pipelines as dp
                from pyspark.sql import functions as F

                @dp.table
                def bronze():
                    return (spark.readStream.format("cloudFiles").option("cloudFiles.format", "json")
                            .option("cloudFiles.inferColumnTypes", "true")
                            .option("cloudFiles.maxFilesPerTrigger", "1").load("{landing}"))

                @dp.table
                def silver():
                    return spark.readStream.table("bronze").where("amount > 0")

                @dp.materialized_view
                def gold():
                    return spark.read.table("silver").groupBy("country").agg(F.count("*").alias("n"))
            """
        },
    )
    import subprocess
    import sys
    import os

    proc = subprocess.Popen(
        [sys.executable, "-m", "pyspark.pipelines.cli", "run", "--spec", str(spec)],
        env={**os.environ, "SPARK_REMOTE": server.url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # Kill the server once bronze has some, but not all, of its batches.
    deadline = time.monotonic() + 120
    log = warehouse / "bronze" / "_delta_log"
    while time.monotonic() < deadline:
        commits = list(log.glob("*.json")) if log.exists() else []
        if len(commits) >= 4:
            break
        time.sleep(0.05)
    server.kill()
    proc.kill()  # the client would retry its dead server for minutes
    proc.wait(60)
    partial = len(rows_of(warehouse, "bronze", ["id"]))
    assert 0 < partial < len(rows), partial

    server.start()
    sdp_cli(server.url, "run", "--spec", str(spec)).ok()
    ids = rows_of(warehouse, "bronze", ["id"])
    assert ids == sorted((r["id"],) for r in rows)  # every row once
    assert rows_of(warehouse, "silver", ["id"]) == sorted((r["id"],) for r in rows if r["amount"] > 0)
    positives = [r for r in rows if r["amount"] > 0]
    assert rows_of(warehouse, "gold", ["country", "n"]) == sorted(
        (c, sum(1 for r in positives if r["country"] == c)) for c in ("de", "fr")
    )


PRIVATE_AND_PATH = """
import dlt
from pyspark.sql import functions as F

@dlt.table(temporary=True)
def raw():
    return (spark.readStream.format("cloudFiles")
            .option("cloudFiles.format", "json")
            .option("cloudFiles.inferColumnTypes", "true")
            .load("{landing}"))

@dlt.table(path="{elsewhere}")
def positive():
    return dlt.read_stream("raw").where("amount > 0").select("id", "amount")

@dlt.table(temporary=True, path="{private_path}")
def totals():
    return dlt.read("positive").agg(F.sum("amount").alias("total"))

@dlt.table
def report():
    return dlt.read("totals")
"""


PRIVATE_AND_PATH_SQL = """
CREATE TEMPORARY STREAMING LIVE TABLE raw
AS SELECT * FROM cloud_files('{landing}', 'json', map('cloudFiles.inferColumnTypes', 'true'));
CREATE OR REFRESH STREAMING TABLE positive LOCATION '{elsewhere}'
AS SELECT id, amount FROM STREAM(LIVE.raw) WHERE amount > 0;
CREATE OR REFRESH PRIVATE MATERIALIZED VIEW totals LOCATION '{private_path}'
AS SELECT sum(amount) AS total FROM LIVE.positive;
CREATE OR REFRESH MATERIALIZED VIEW report AS SELECT * FROM LIVE.totals;
"""


@pytest.mark.parametrize("client", ["dlt-python", "sdp-sql"])
def test_dlt_private_tables_and_explicit_paths(server, warehouse, tmp_path, client):
    """`temporary=True` tables are read by the pipeline's flows but never published;
    `path=` puts a table's data where the definition says (published there when not private).
    Both keep their data between updates, so the second run takes only the new file."""
    landing, storage = tmp_path / "landing", tmp_path / "storage"
    elsewhere, private_path = tmp_path / "elsewhere" / "positive", tmp_path / "mine" / "totals"
    drop_json(landing, "a.json", [{"id": 1, "amount": 5}, {"id": 2, "amount": -1}, {"id": 3, "amount": 2}])
    paths = {"landing": landing, "elsewhere": elsewhere, "private_path": private_path}
    if client == "dlt-python":
        pipeline = write(tmp_path / "pipe" / "p.py", PRIVATE_AND_PATH.format(**paths))

        def run():
            dlt_runner(server.url, "run", "--storage", str(storage), str(pipeline)).ok()

    else:
        spec = write_project(tmp_path / "proj", {"p.sql": PRIVATE_AND_PATH_SQL.format(**paths)}, storage=storage)

        def run():
            sdp_cli(server.url, "run", "--spec", str(spec)).ok()

    run()
    raw = storage / "_private_tables" / "default" / "raw"
    assert sorted(dl(raw).to_pyarrow_table().column("id").to_pylist()) == [1, 2, 3]
    assert sorted(dl(elsewhere).to_pyarrow_table().column("id").to_pylist()) == [1, 3]
    assert dl(private_path).to_pyarrow_table().column("total").to_pylist() == [7]
    assert rows_of(warehouse, "report", ["total"]) == [(7,)]
    for name in ("raw", "positive", "totals"):
        assert not (warehouse / name).exists(), name

    drop_json(landing, "b.json", [{"id": 4, "amount": 10}])
    run()
    assert sorted(dl(raw).to_pyarrow_table().column("id").to_pylist()) == [1, 2, 3, 4]
    assert dl(elsewhere).history()[0]["operation"] == "STREAMING UPDATE"
    assert sorted(dl(elsewhere).to_pyarrow_table().column("id").to_pylist()) == [1, 3, 4]
    assert rows_of(warehouse, "report", ["total"]) == [(17,)]

    spark = session_on(server)
    try:
        names = {t.name for t in spark.catalog.listTables()}
        assert {"positive", "report"} <= names and not names & {"raw", "totals"}, names
        assert sorted(r.id for r in spark.table("positive").collect()) == [1, 3, 4]
        loc = spark.sql("DESCRIBE DETAIL positive").collect()[0]["location"]
        assert loc.rstrip("/").endswith(str(elsewhere)), loc
        with pytest.raises(Exception, match="TABLE_OR_VIEW_NOT_FOUND"):
            spark.table("raw").collect()
    finally:
        stop_quietly(spark)


CLUSTERED = {
    "dlt-python": ("p.py", """
import dlt

@dlt.table(cluster_by=["id"])
def events():
    return (spark.readStream.format("cloudFiles").option("cloudFiles.format", "json")
            .option("cloudFiles.inferColumnTypes", "true").load("{landing}"))

@dlt.table(cluster_by=["country", "id"])
def latest():
    return dlt.read("events").select("country", "id")
"""),
    "sdp-python": ("p.py", """
from pyspark import pipelines as dp

dp.create_streaming_table("events", cluster_by=["id"])

@dp.append_flow(target="events")
def ingest():
    return (spark.readStream.format("cloudFiles").option("cloudFiles.format", "json")
            .option("cloudFiles.inferColumnTypes", "true").load("{landing}"))

@dp.materialized_view(cluster_by=["country", "id"])
def latest():
    return spark.read.table("events").select("country", "id")
"""),
    "sdp-sql": ("p.sql", """
CREATE OR REFRESH STREAMING TABLE events CLUSTER BY (id)
AS SELECT * FROM cloud_files('{landing}', 'json', map('cloudFiles.inferColumnTypes', 'true'));
CREATE OR REFRESH MATERIALIZED VIEW latest CLUSTER BY (country, id)
AS SELECT country, id FROM events;
"""),
}


@pytest.mark.parametrize("client", sorted(CLUSTERED))
def test_cluster_by_on_pipeline_tables(server, warehouse, tmp_path, client):
    """`cluster_by` / `CLUSTER BY` on streaming tables and materialized views: the tables
    keep their clustering columns (DESCRIBE DETAIL, the `clusteringColumns` property, as
    Spark's catalog keeps them) through a second update, and OPTIMIZE lays them out by them."""
    landing, storage = tmp_path / "landing", tmp_path / "storage"
    drop_json(landing, "a.json", [{"id": i, "country": "fr"} for i in (5, 1, 3)])
    file, text = CLUSTERED[client]
    if client == "dlt-python":
        pipeline = write(tmp_path / "pipe" / file, text.format(landing=landing))

        def run():
            dlt_runner(server.url, "run", "--storage", str(storage), str(pipeline)).ok()

    else:
        spec = write_project(tmp_path / "proj", {file: text.format(landing=landing)}, storage=storage)

        def run():
            sdp_cli(server.url, "run", "--spec", str(spec)).ok()

    run()
    drop_json(landing, "b.json", [{"id": 2, "country": "de"}])
    run()
    assert rows_of(warehouse, "latest", ["country", "id"]) == [("de", 2), ("fr", 1), ("fr", 3), ("fr", 5)]
    assert dl(warehouse / "events").metadata().configuration["clusteringColumns"] == '[["id"]]'
    assert dl(warehouse / "latest").metadata().configuration["clusteringColumns"] == '[["country"],["id"]]'
    spark = session_on(server)
    try:
        assert spark.sql("DESCRIBE DETAIL latest").collect()[0]["clusteringColumns"] == ["country", "id"]
        spark.sql("OPTIMIZE events")
        assert dl(warehouse / "events").history(1)[0]["operationParameters"]["clusterBy"] == '["id"]'
        assert sorted(r.id for r in spark.table("events").collect()) == [1, 2, 3, 5]
    finally:
        stop_quietly(spark)
