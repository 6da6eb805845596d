"""Structured Streaming over Spark Connect: Auto Loader (`cloudFiles`) and plain file
sources, Delta as source and sink, the rate source, file/memory/console sinks, triggers,
watermarked windows, the StreamingQuery / StreamingQueryManager API, bad input and Spark's
checkpoint layout with exactly-once restarts.

Every test runs on a sluice server of its own (its own `--warehouse`; managed tables live in
`<warehouse>/<table>`). Results are checked through files on disk: Delta tables with delta-rs
(`deltalake`), parquet with pyarrow, JSON/CSV with Python's own parsers.

Where the expected value is Apache Spark's, it was recorded with Apache Spark 4.3.0 (Spark
Connect server, local[2], UTC, PySpark 4.2 client) and is hard-coded below with a comment
"Spark 4.3". The tests that do not need Delta or Auto Loader also run against a real Spark
Connect server (SLUICE_REMOTE=sc://...), which is how they were checked; the others skip
there.

Delta-specific expectations follow Delta Lake (operation `STREAMING UPDATE` with parameters
outputMode / queryId / epochId, the `txn` action (appId = query id, version = batch id),
DELTA_UNSUPPORTED_OUTPUT_MODE for update mode). Auto Loader expectations follow the
Databricks documentation ("Configure schema inference and evolution in Auto Loader",
"Auto Loader options", "What is the rescued data column?"): json/csv columns are strings
unless cloudFiles.inferColumnTypes is true, the schema is kept in
`<schemaLocation>/_schemas`, addNewColumns stops the stream naming the new columns and a
restart picks them up, rescue puts unknown fields into `_rescued_data` (a JSON object with
the fields and `_file_path`), failOnNewColumns keeps failing.
"""

import datetime
import json
import os
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest
from pyspark.errors import (
    AnalysisException,
    IllegalArgumentException,
    PySparkException,
    StreamingQueryException,
    UnsupportedOperationException,
)
from pyspark.sql import functions as F

from harness.delta import (  # noqa: F401 - fixtures
    condition,
    data_files,
    dl,
    server,
    warehouse,
)
from harness.session import new_session, stop_quietly
from harness.streaming import (  # noqa: F401 - fixtures
    TIMEOUT,
    Landing,
    checkpoint_batches,
    data_batches,
    delta_columns,
    delta_dicts,
    delta_ids,
    delta_types,
    error_text,
    finish,
    needs_sluice,
    parquet_rows,
    records,
    spark,
    start_error_or_failure,
    streaming_commits,
    visible_files,
    wait_until,
)

pytestmark = pytest.mark.streaming


# ---------------------------------------------------------------- helpers


@pytest.fixture
def landing(tmp_path) -> Landing:
    return Landing(tmp_path / "landing")


@pytest.fixture
def ck(tmp_path) -> str:
    return str(tmp_path / "checkpoint")


@pytest.fixture
def schema_dir(tmp_path) -> str:
    return str(tmp_path / "schema")


def autoloader(spark, landing, schema_dir, fmt="json", options=None, schema=None):
    r = spark.readStream.format("cloudFiles").option("cloudFiles.format", fmt)
    if schema_dir is not None:
        r = r.option("cloudFiles.schemaLocation", str(schema_dir))
    for k, v in (options or {}).items():
        r = r.option(k, v)
    if schema is not None:
        r = r.schema(schema)
    return r.load(str(landing))


def file_stream(spark, landing, fmt="json", schema="id long, name string", options=None):
    r = spark.readStream.format(fmt)
    if schema is not None:
        r = r.schema(schema)
    for k, v in (options or {}).items():
        r = r.option(k, v)
    return r.load(str(landing))


def writer(df, ck, fmt="delta", mode="append", options=None, trigger=None, name=None):
    w = df.writeStream.format(fmt).outputMode(mode).option("checkpointLocation", str(ck))
    for k, v in (options or {}).items():
        w = w.option(k, v)
    w = w.trigger(**(trigger or {"availableNow": True}))
    if name:
        w = w.queryName(name)
    return w


def run_to_path(df, ck, path, **kw):
    """Start with .start(path) and wait for the end (availableNow unless told)."""
    return finish(writer(df, ck, **kw).start(str(path)))


def run_to_table(df, ck, table, **kw):
    return finish(writer(df, ck, **kw).toTable(table))


def uuid_string(value) -> bool:
    try:
        return str(uuid.UUID(str(value))) == str(value)
    except ValueError:
        return False


def server_still_answers(server_or_spark):
    """A brand-new session on the same server works (the server survived)."""
    from harness.streaming import remote_url

    url = remote_url() or server_or_spark.url
    s = new_session(url)
    try:
        assert s.range(5).count() == 5
    finally:
        stop_quietly(s)


# ================================================================ the seed example


@needs_sluice
def test_seed_example_verbatim(spark, tmp_path, warehouse):
    """The issue's example, word for word: Auto Loader json with a schema location, a
    current_timestamp column, a Delta managed table, availableNow."""
    landing = Landing(tmp_path / "landing")
    landing.put_json("events-000.json", [{"id": 1, "event": "click", "value": 2.5}, {"id": 2, "event": "view", "value": 1}])
    landing.put_json("events-001.json", [{"id": 3, "event": "click", "value": 0.5}])
    landing_dir, schema_dir, checkpoint_dir = str(landing), str(tmp_path / "schema"), str(tmp_path / "ck")
    before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=5)

    query = (spark.readStream.format("cloudFiles")
       .option("cloudFiles.format", "json")
       .option("cloudFiles.schemaLocation", schema_dir)
       .load(landing_dir)
       .withColumn("ingested_at", F.current_timestamp())
       .writeStream.format("delta")
       .option("checkpointLocation", checkpoint_dir)
       .outputMode("append")
       .trigger(availableNow=True)
       .toTable("bronze_events"))  # fmt: skip
    query.awaitTermination(TIMEOUT)
    assert not query.isActive
    assert query.exception() is None
    after = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=5)

    loc = warehouse / "bronze_events"
    rows = delta_dicts(loc)
    # inferColumnTypes defaults to false: json columns are strings (Databricks)
    assert sorted((r["id"], r["event"], r["value"]) for r in rows) == [
        ("1", "click", "2.5"), ("2", "view", "1"), ("3", "click", "0.5")
    ]
    types = delta_types(loc)
    assert {k: types[k] for k in ("id", "event", "value")} == {"id": "string", "event": "string", "value": "string"}
    assert types["ingested_at"] == "timestamp"
    assert "_rescued_data" in types and all(r["_rescued_data"] is None for r in rows)
    stamps = {r["ingested_at"] for r in rows}
    # current_timestamp() is fixed per micro-batch; one batch here
    assert len(stamps) == 1
    assert all(before <= s <= after for s in stamps), stamps
    # the catalog knows the table, and the client reads what delta-rs reads
    assert "bronze_events" in [t.name for t in spark.catalog.listTables()]
    assert sorted(r.id for r in spark.table("bronze_events").collect()) == ["1", "2", "3"]
    assert (Path(schema_dir) / "_schemas").is_dir()


# ================================================================ Auto Loader: formats and schemas


@needs_sluice
def test_cloudfiles_json_columns_are_strings_by_default(spark, landing, schema_dir, ck, tmp_path):
    landing.put_json("a.json", [{"id": 1, "amount": 2.5, "ok": True, "name": "x"}])
    df = autoloader(spark, landing, schema_dir)
    assert df.isStreaming
    types = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    assert types == {"amount": "string", "id": "string", "name": "string", "ok": "string", "_rescued_data": "string"}
    out = tmp_path / "out"
    run_to_path(df, ck, out)
    assert [(r["id"], r["amount"], r["ok"], r["name"]) for r in delta_dicts(out)] == [("1", "2.5", "true", "x")]


def test_input_file_name_names_each_rows_file(spark, landing, schema_dir, ck, tmp_path):
    """The bronze idiom `withColumn("source_file", input_file_name())`: each row written to
    Delta carries the URL of the file it was read from, batch after batch."""
    landing.put_json("a.json", [{"id": 1}, {"id": 2}])
    landing.put_json("b.json", [{"id": 3}])
    df = autoloader(spark, landing, schema_dir, options={"cloudFiles.maxFilesPerTrigger": "1"})
    df = df.withColumn("source_file", F.input_file_name())
    assert [f.name for f in df.schema.fields] == ["id", "_rescued_data", "source_file"]
    out = tmp_path / "out"
    run_to_path(df, ck, out)
    landing.put_json("c.json", [{"id": 4}])
    run_to_path(df, ck, out)
    rows = delta_dicts(out)
    assert sorted((r["id"], r["source_file"].rsplit("/", 1)[-1]) for r in rows) == [
        ("1", "a.json"), ("2", "a.json"), ("3", "b.json"), ("4", "c.json"),
    ]
    assert {r["source_file"] for r in rows} == {f"file://{landing.path.resolve() / n}" for n in ("a.json", "b.json", "c.json")}


@needs_sluice
def test_cloudfiles_json_infer_column_types(spark, landing, schema_dir, ck, tmp_path):
    landing.put_json("a.json", [{"id": 1, "amount": 2.5, "ok": True, "name": "x"}, {"id": 2, "amount": 3, "ok": False, "name": "y"}])
    df = autoloader(spark, landing, schema_dir, options={"cloudFiles.inferColumnTypes": "true"})
    types = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    assert {k: types[k] for k in ("id", "amount", "ok", "name")} == {
        "id": "bigint", "amount": "double", "ok": "boolean", "name": "string"
    }
    out = tmp_path / "out"
    run_to_path(df, ck, out)
    dt = delta_types(out)
    assert {k: dt[k] for k in ("id", "amount", "ok", "name")} == {
        "id": "long", "amount": "double", "ok": "boolean", "name": "string"
    }
    assert sorted((r["id"], r["amount"], r["ok"], r["name"]) for r in delta_dicts(out)) == [
        (1, 2.5, True, "x"), (2, 3.0, False, "y")
    ]


@needs_sluice
def test_cloudfiles_csv_with_header(spark, landing, schema_dir, ck, tmp_path):
    landing.put_csv("a.csv", ["id", "name", "amount"], [(1, "x", 2.5), (2, "y", 4.0)])
    df = autoloader(spark, landing, schema_dir, "csv", {"header": "true"})
    types = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    assert {k: types[k] for k in ("id", "name", "amount")} == {"id": "string", "name": "string", "amount": "string"}
    assert [c for c in df.columns if c != "_rescued_data"] == ["id", "name", "amount"]  # header order
    out = tmp_path / "out"
    run_to_path(df, ck, out)
    assert sorted((r["id"], r["name"], r["amount"]) for r in delta_dicts(out)) == [("1", "x", "2.5"), ("2", "y", "4.0")]


@needs_sluice
def test_cloudfiles_csv_infer_column_types_and_sep(spark, landing, schema_dir, ck, tmp_path):
    landing.put_csv("a.csv", ["id", "name", "amount"], [(1, "x", 2.5), (2, "y", 4.0)], sep=";")
    df = autoloader(spark, landing, schema_dir, "csv",
                    {"header": "true", "sep": ";", "cloudFiles.inferColumnTypes": "true"})
    types = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    assert {k: types[k] for k in ("id", "name", "amount")} == {"id": "int", "name": "string", "amount": "double"}
    out = tmp_path / "out"
    run_to_path(df, ck, out)
    assert sorted((r["id"], r["name"], r["amount"]) for r in delta_dicts(out)) == [(1, "x", 2.5), (2, "y", 4.0)]


@needs_sluice
def test_cloudfiles_json_multiline_reader_option(spark, landing, schema_dir, ck, tmp_path):
    """The format's own reader options pass through: multiLine JSON (an array of records
    spread over lines) gives one row per record."""
    landing.put_text("a.json", '[\n  {"id": 1,\n   "name": "x"},\n  {"id": 2,\n   "name": "y"}\n]\n')
    df = autoloader(spark, landing, schema_dir, options={"multiLine": "true"})
    out = tmp_path / "out"
    run_to_path(df, ck, out)
    assert sorted((r["id"], r["name"]) for r in delta_dicts(out)) == [("1", "x"), ("2", "y")]


@needs_sluice
def test_cloudfiles_parquet_keeps_file_types(spark, landing, schema_dir, ck, tmp_path):
    import pyarrow as pa

    landing.put_parquet("a.parquet", pa.table({
        "id": pa.array([1, 2], pa.int64()), "name": ["x", "y"], "amount": pa.array([2.5, 4.0], pa.float64())
    }))
    df = autoloader(spark, landing, schema_dir, "parquet")
    out = tmp_path / "out"
    run_to_path(df, ck, out)
    dt = delta_types(out)
    assert {k: dt[k] for k in ("id", "name", "amount")} == {"id": "long", "name": "string", "amount": "double"}
    assert sorted((r["id"], r["name"], r["amount"]) for r in delta_dicts(out)) == [(1, "x", 2.5), (2, "y", 4.0)]


@needs_sluice
def test_cloudfiles_text(spark, landing, schema_dir, ck, tmp_path):
    landing.put_text("a.txt", "alpha\nbeta\n")
    landing.put_text("b.txt", "gamma\n")
    df = autoloader(spark, landing, schema_dir, "text")
    assert df.columns == ["value"]  # fixed schema, nothing to infer or rescue
    out = tmp_path / "out"
    run_to_path(df, ck, out)
    assert delta_ids(out, "value") == ["alpha", "beta", "gamma"]


@needs_sluice
def test_cloudfiles_binary_file(spark, landing, schema_dir, ck, tmp_path):
    payload = bytes(range(256)) * 3
    landing.put_bytes("blob.bin", payload)
    df = autoloader(spark, landing, schema_dir, "binaryFile")
    # Spark's binaryFile schema
    assert [(f.name, f.dataType.simpleString()) for f in df.schema.fields] == [
        ("path", "string"), ("modificationTime", "timestamp"), ("length", "bigint"), ("content", "binary")
    ]
    out = tmp_path / "out"
    run_to_path(df, ck, out)
    [row] = delta_dicts(out)
    assert row["path"].endswith("/blob.bin")
    assert row["length"] == len(payload)
    assert row["content"] == payload
    assert isinstance(row["modificationTime"], datetime.datetime)


@needs_sluice
def test_cloudfiles_schema_hints(spark, landing, schema_dir, ck, tmp_path):
    landing.put_json("a.json", [{"id": 1, "amount": 2.5, "name": "x"}, {"id": 2, "amount": 7, "name": "y"}])
    df = autoloader(spark, landing, schema_dir, options={"cloudFiles.schemaHints": "id int, amount double"})
    types = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    assert {k: types[k] for k in ("id", "amount", "name")} == {"id": "int", "amount": "double", "name": "string"}
    out = tmp_path / "out"
    run_to_path(df, ck, out)
    dt = delta_types(out)
    assert {k: dt[k] for k in ("id", "amount", "name")} == {"id": "integer", "amount": "double", "name": "string"}
    assert sorted((r["id"], r["amount"], r["name"]) for r in delta_dicts(out)) == [(1, 2.5, "x"), (2, 7.0, "y")]


@needs_sluice
def test_schema_location_is_stored_and_reused(spark, landing, schema_dir, ck, tmp_path):
    """The inferred schema is written under <schemaLocation>/_schemas and a later stream on
    the same schema location uses it instead of inferring again from what the folder holds
    now."""
    landing.put_json("a.json", records([1, 2]))
    out = tmp_path / "out"
    run_to_path(autoloader(spark, landing, schema_dir), ck, out)
    assert (Path(schema_dir) / "_schemas" / "0").is_file()
    first = autoloader(spark, landing, schema_dir).columns
    assert sorted(first) == ["_rescued_data", "id", "name"]

    # The folder now only has files of another shape: the stored schema still wins.
    os.remove(landing.path / "a.json")
    landing.put_json("b.json", [{"x": 1, "y": 2}])
    again = autoloader(spark, landing, schema_dir).columns
    assert again == first


@needs_sluice
def test_add_new_columns_round_trip(spark, landing, schema_dir, ck, tmp_path):
    """addNewColumns (the default without a given schema): a new column stops the stream with
    an error naming it; the stored schema gets it, and a restart from the same checkpoint
    writes it (Delta sink with mergeSchema, as Databricks' docs do); earlier rows have NULL."""
    out = tmp_path / "out"
    opts = {"mergeSchema": "true"}
    landing.put_json("a.json", records([1, 2]))
    run_to_path(autoloader(spark, landing, schema_dir), ck, out, options=opts)
    assert delta_ids(out) == ["1", "2"]

    landing.put_json("b.json", [{"id": 3, "name": "n3", "color": "red"}])
    with pytest.raises(StreamingQueryException) as info:
        run_to_path(autoloader(spark, landing, schema_dir), ck, out, options=opts)
    assert "color" in error_text(info.value)
    assert delta_ids(out) == ["1", "2"]  # the failed batch wrote nothing
    assert len(os.listdir(Path(schema_dir) / "_schemas")) >= 2  # a new schema version

    df = autoloader(spark, landing, schema_dir)
    assert "color" in df.columns
    run_to_path(df, ck, out, options=opts)
    got = sorted((r["id"], r["color"]) for r in delta_dicts(out))
    assert got == [("1", None), ("2", None), ("3", "red")]
    assert "color" in delta_columns(out)


@needs_sluice
def test_add_new_columns_needs_merge_schema_on_delta(spark, landing, schema_dir, ck, tmp_path):
    """Without mergeSchema the Delta sink refuses the evolved schema (Delta's schema
    enforcement) instead of dropping the new column."""
    out = tmp_path / "out"
    landing.put_json("a.json", records([1]))
    run_to_path(autoloader(spark, landing, schema_dir), ck, out)
    landing.put_json("b.json", [{"id": 2, "name": "n2", "color": "red"}])
    with pytest.raises(StreamingQueryException):
        run_to_path(autoloader(spark, landing, schema_dir), ck, out)
    with pytest.raises(StreamingQueryException) as info:
        run_to_path(autoloader(spark, landing, schema_dir), ck, out)
    assert "color" in error_text(info.value)
    assert delta_ids(out) == ["1"]
    assert "color" not in delta_columns(out)


@needs_sluice
def test_schema_evolution_mode_rescue(spark, landing, schema_dir, ck, tmp_path):
    out = tmp_path / "out"
    opts = {"cloudFiles.schemaEvolutionMode": "rescue"}
    landing.put_json("a.json", records([1]))
    run_to_path(autoloader(spark, landing, schema_dir, options=opts), ck, out)
    landing.put_json("b.json", [{"id": 2, "name": "n2", "color": "red"}])
    q = run_to_path(autoloader(spark, landing, schema_dir, options=opts), ck, out)  # does not fail
    assert q.exception() is None
    assert "color" not in delta_columns(out)
    rows = {r["id"]: r for r in delta_dicts(out)}
    assert sorted(rows) == ["1", "2"]
    assert rows["1"]["_rescued_data"] is None
    rescued = json.loads(rows["2"]["_rescued_data"])
    assert rescued["color"] == "red"
    assert rescued["_file_path"].endswith("b.json")


@needs_sluice
def test_schema_evolution_mode_fail_on_new_columns(spark, landing, schema_dir, ck, tmp_path):
    out = tmp_path / "out"
    opts = {"cloudFiles.schemaEvolutionMode": "failOnNewColumns"}
    landing.put_json("a.json", records([1]))
    run_to_path(autoloader(spark, landing, schema_dir, options=opts), ck, out)
    landing.put_json("b.json", [{"id": 2, "name": "n2", "color": "red"}])
    for _ in range(2):  # and it keeps failing on restart: the schema is not evolved
        with pytest.raises(StreamingQueryException) as info:
            run_to_path(autoloader(spark, landing, schema_dir, options=opts), ck, out)
        assert "color" in error_text(info.value)
        assert "color" not in autoloader(spark, landing, schema_dir, options=opts).columns
    assert delta_ids(out) == ["1"]


@needs_sluice
def test_schema_evolution_mode_none_ignores_new_columns(spark, landing, schema_dir, ck, tmp_path):
    out = tmp_path / "out"
    opts = {"cloudFiles.schemaEvolutionMode": "none"}
    landing.put_json("a.json", records([1]))
    run_to_path(autoloader(spark, landing, schema_dir, options=opts), ck, out)
    landing.put_json("b.json", [{"id": 2, "name": "n2", "color": "red"}])
    run_to_path(autoloader(spark, landing, schema_dir, options=opts), ck, out)
    assert delta_ids(out) == ["1", "2"]
    assert "color" not in delta_columns(out)


@needs_sluice
def test_rescued_data_type_mismatch_under_schema_hint(spark, landing, schema_dir, ck, tmp_path):
    landing.put_json("mixed.json", [{"id": 1, "name": "ok"}, {"id": "abc", "name": "bad"}])
    df = autoloader(spark, landing, schema_dir, options={"cloudFiles.schemaHints": "id int"})
    out = tmp_path / "out"
    run_to_path(df, ck, out)
    rows = {r["name"]: r for r in delta_dicts(out)}
    assert rows["ok"]["id"] == 1 and rows["ok"]["_rescued_data"] is None
    assert rows["bad"]["id"] is None
    rescued = json.loads(rows["bad"]["_rescued_data"])
    assert rescued["id"] == "abc"
    assert rescued["_file_path"].endswith("mixed.json")


# ================================================================ Auto Loader: what each trigger takes


@needs_sluice
def test_cloudfiles_max_files_per_trigger(spark, landing, schema_dir, ck, tmp_path):
    n = 5
    for i in range(n):
        landing.put_json(f"f{i}.json", records([i * 10, i * 10 + 1]))
    out = tmp_path / "out"
    q = run_to_path(autoloader(spark, landing, schema_dir, options={"cloudFiles.maxFilesPerTrigger": "2"}), ck, out)
    batches = data_batches(q)
    assert [p.numInputRows for p in batches] == [4, 4, 2]  # ceil(5/2) batches of at most 2 files
    commits = streaming_commits(out)
    assert len(commits) == 3
    assert [c["operationParameters"]["epochId"] for c in commits] == [str(p.batchId) for p in batches]
    assert delta_ids(out) == sorted(str(i * 10 + j) for i in range(n) for j in range(2))


@needs_sluice
def test_cloudfiles_max_bytes_per_trigger(spark, landing, schema_dir, ck, tmp_path):
    """A soft limit: every batch takes at least one file; with files larger than the limit,
    one file per batch."""
    n = 4
    for i in range(n):
        landing.put_json(f"f{i}.json", records(range(i * 100, i * 100 + 60)))  # ~1.8 kB each
    assert all(os.path.getsize(landing.path / f) > 1024 for f in landing.files())
    out = tmp_path / "out"
    q = run_to_path(autoloader(spark, landing, schema_dir, options={"cloudFiles.maxBytesPerTrigger": "1k"}), ck, out)
    assert [p.numInputRows for p in data_batches(q)] == [60] * n
    assert len(delta_ids(out)) == 60 * n


@needs_sluice
def test_cloudfiles_include_existing_files_false(spark, landing, ck, tmp_path):
    landing.put_json("old.json", records([1, 2]))
    out = tmp_path / "out"
    opts = {"cloudFiles.includeExistingFiles": "false"}
    run_to_path(autoloader(spark, landing, None, options=opts, schema="id long, name string"), ck, out)
    time.sleep(0.05)
    landing.put_json("new.json", records([3]))
    run_to_path(autoloader(spark, landing, None, options=opts, schema="id long, name string"), ck, out)
    assert delta_ids(out) == [3]


@needs_sluice
def test_cloudfiles_path_glob_filter(spark, landing, ck, tmp_path):
    landing.put_json("a.json", records([1]))
    landing.put_json("b.json", records([2]))
    landing.put_json("c.txt", records([3]))  # JSON inside, but not matching the filter
    out = tmp_path / "out"
    df = autoloader(spark, landing, None, options={"pathGlobFilter": "*.json"}, schema="id long, name string")
    run_to_path(df, ck, out)
    assert delta_ids(out) == [1, 2]


@needs_sluice
def test_cloudfiles_recursive_file_lookup(spark, landing, ck, tmp_path):
    landing.put_json("top.json", records([1]))
    landing.put_json("2024/01/a.json", records([2]))
    landing.put_json("2024/02/deep/b.json", records([3]))
    out = tmp_path / "out"
    df = autoloader(spark, landing, None, options={"recursiveFileLookup": "true"}, schema="id long, name string")
    run_to_path(df, ck, out)
    assert delta_ids(out) == [1, 2, 3]


@needs_sluice
def test_cloudfiles_allow_overwrites_false_does_not_reread(spark, landing, schema_dir, ck, tmp_path):
    """A file changed after it was ingested is not read again (cloudFiles.allowOverwrites
    defaults to false)."""
    out = tmp_path / "out"
    landing.put_json("a.json", records([1]))
    run_to_path(autoloader(spark, landing, schema_dir), ck, out)
    landing.put_json("a.json", records([1, 99]))  # rewritten, newer mtime
    landing.put_json("b.json", records([2]))
    run_to_path(autoloader(spark, landing, schema_dir), ck, out)
    assert delta_ids(out) == ["1", "2"]


@needs_sluice
def test_cloudfiles_use_notifications_is_refused(spark, landing, schema_dir, ck, tmp_path):
    landing.put_json("a.json", records([1]))
    err = start_error_or_failure(
        lambda: writer(autoloader(spark, landing, schema_dir, options={"cloudFiles.useNotifications": "true"}), ck)
        .start(str(tmp_path / "out"))
    )
    assert isinstance(err, PySparkException)
    assert "useNotifications" in error_text(err)
    assert not (tmp_path / "out" / "_delta_log").exists() or delta_ids(tmp_path / "out") == []
    server_still_answers_spark(spark)


@needs_sluice
def test_cloudfiles_unknown_option_is_refused(spark, landing, schema_dir, ck, tmp_path):
    landing.put_json("a.json", records([1]))
    err = start_error_or_failure(
        lambda: writer(autoloader(spark, landing, schema_dir, options={"cloudFiles.foo": "bar"}), ck)
        .start(str(tmp_path / "out"))
    )
    assert isinstance(err, PySparkException)
    assert "cloudFiles.foo" in error_text(err)


def server_still_answers_spark(spark):
    assert spark.range(3).count() == 3


# ================================================================ plain file sources


@pytest.mark.parametrize("fmt", ["json", "csv", "parquet", "text"])
def test_plain_file_source_formats(spark, landing, ck, tmp_path, fmt):
    if fmt == "json":
        landing.put_json("a.json", records([1, 2]))
        schema, expected = "id long, name string", [(1, "n1"), (2, "n2")]
    elif fmt == "csv":
        landing.put_csv("a.csv", ["id", "name"], [(1, "n1"), (2, "n2")])
        schema, expected = "id long, name string", [(1, "n1"), (2, "n2")]
    elif fmt == "parquet":
        import pyarrow as pa

        landing.put_parquet("a.parquet", pa.table({"id": pa.array([1, 2], pa.int64()), "name": ["n1", "n2"]}))
        schema, expected = "id long, name string", [(1, "n1"), (2, "n2")]
    else:
        landing.put_text("a.txt", "n1\nn2\n")
        schema, expected = "value string", [("n1",), ("n2",)]
    df = file_stream(spark, landing, fmt, schema, {"header": "true"} if fmt == "csv" else None)
    assert df.isStreaming
    out = tmp_path / "out"
    run_to_path(df, ck, out, fmt="parquet")
    columns = [c.split()[0] for c in schema.split(", ")]
    assert parquet_rows(out, columns) == expected
    assert sorted(tuple(r) for r in spark.read.parquet(str(out)).collect()) == expected


def test_plain_text_source_without_schema(spark, landing):
    """text has a fixed schema: no .schema() needed (Spark 4.3: struct<value:string>)."""
    landing.put_text("a.txt", "x\n")
    df = spark.readStream.format("text").load(str(landing))
    assert df.schema.simpleString() == "struct<value:string>"


@pytest.mark.parametrize("fmt", ["json", "csv", "parquet"])
def test_plain_file_source_needs_a_schema(spark, landing, fmt):
    """Spark 4.3: IllegalArgumentException (_LEGACY_ERROR_TEMP_2048) "Schema must be specified
    when creating a streaming source DataFrame. ..." when the DataFrame is analysed, also
    for parquet and also when the folder holds files."""
    landing.put_json("a.json", records([1]))
    with pytest.raises(IllegalArgumentException) as info:
        spark.readStream.format(fmt).load(str(landing)).columns
    assert "Schema must be specified when creating a streaming source DataFrame" in error_text(info.value)


def test_plain_glob_path_filter_and_subfolders(spark, landing, ck, tmp_path):
    """Spark 4.3: a glob in the path and pathGlobFilter select files by name; files in
    subfolders are read only with recursiveFileLookup (then at any depth)."""
    landing.put_json("f0.json", records([0]))
    landing.put_json("f1.json", records([1]))
    landing.put_json("g2.json", records([2]))
    landing.put_json("x3.txt", records([3]))
    landing.put_json("sub/s.json", records([100]))
    landing.put_json("sub/deeper/d.json", records([200]))
    cases = [
        ("glob", spark.readStream.format("json").schema("id long, name string").load(str(landing.path / "f*.json")),
         [0, 1]),
        ("filter", file_stream(spark, landing, options={"pathGlobFilter": "f[01].json"}), [0, 1]),
        ("flat", file_stream(spark, landing), [0, 1, 2, 3]),
        ("recursive", file_stream(spark, landing, options={"recursiveFileLookup": "true"}), [0, 1, 2, 3, 100, 200]),
    ]
    for name, df, want in cases:
        out = tmp_path / f"out-{name}"
        run_to_path(df, f"{ck}-{name}", out, fmt="parquet")
        assert [r[0] for r in parquet_rows(out, ["id"])] == want, name


def test_plain_max_files_per_trigger(spark, landing, ck, tmp_path):
    for i in range(5):
        landing.put_json(f"f{i}.json", records([i]))
    q = run_to_path(file_stream(spark, landing, options={"maxFilesPerTrigger": 2}), ck, tmp_path / "out", fmt="parquet")
    # Spark 4.3: 3 files with maxFilesPerTrigger 2 gave batches of 2 and 1 file
    assert [p.numInputRows for p in data_batches(q)] == [2, 2, 1]
    assert parquet_rows(tmp_path / "out", ["id"]) == [(i,) for i in range(5)]


@pytest.mark.parametrize("latest_first", [False, True])
def test_plain_latest_first(spark, landing, ck, tmp_path, latest_first):
    """File i holds i+1 rows; modification times increase with i. One file per trigger:
    oldest first by default, newest first with latestFirst (Spark 4.3: batch 0 took the
    newest file f3, then f2, f1, f0)."""
    base = time.time() - 3600
    for i in range(4):
        landing.put_json(f"f{i}.json", records(range(i * 10, i * 10 + i + 1)), mtime=base + i * 60)
    opts = {"maxFilesPerTrigger": 1, "latestFirst": str(latest_first).lower()}
    q = run_to_path(file_stream(spark, landing, options=opts), ck, tmp_path / "out", fmt="parquet")
    sizes = [p.numInputRows for p in data_batches(q)]
    assert sizes == ([4, 3, 2, 1] if latest_first else [1, 2, 3, 4])


def test_plain_clean_source_delete(spark, landing, ck, tmp_path):
    """cleanSource=delete removes files once their batch is committed. Spark 4.3 cleans a
    batch's files when the next batch commits, so after one availableNow run of three
    one-file batches f0 and f1 are gone (f2 may stay until the next run)."""
    for i in range(3):
        landing.put_json(f"f{i}.json", records([i]))
    opts = {"cleanSource": "delete", "maxFilesPerTrigger": 1}
    out = tmp_path / "out"
    run_to_path(file_stream(spark, landing, options=opts), ck, out, fmt="parquet")
    left = landing.files()
    assert "f0.json" not in left and "f1.json" not in left
    assert set(left) <= {"f2.json"}
    landing.put_json("f3.json", records([3]))
    run_to_path(file_stream(spark, landing, options=opts), ck, out, fmt="parquet")
    assert set(landing.files()) <= {"f3.json"}
    assert parquet_rows(out, ["id"]) == [(0,), (1,), (2,), (3,)]


def test_plain_clean_source_archive(spark, landing, ck, tmp_path):
    """cleanSource=archive moves a processed file to sourceArchiveDir + its full path
    (Spark 4.3: <archive>/tmp/.../landing/f0.json)."""
    archive = tmp_path / "archive"
    archive.mkdir()
    for i in range(3):
        landing.put_json(f"f{i}.json", records([i]))
    opts = {"cleanSource": "archive", "sourceArchiveDir": str(archive), "maxFilesPerTrigger": 1}
    out = tmp_path / "out"
    run_to_path(file_stream(spark, landing, options=opts), ck, out, fmt="parquet")
    landing.put_json("f3.json", records([3]))
    run_to_path(file_stream(spark, landing, options=opts), ck, out, fmt="parquet")
    archived_dir = archive / str(landing.path).lstrip("/")
    for i in range(3):
        assert not (landing.path / f"f{i}.json").exists()
        moved = archived_dir / f"f{i}.json"
        assert moved.is_file(), f"{moved} missing; archive holds {list(archive.rglob('*'))}"
        assert json.loads(moved.read_text())["id"] == i
    assert parquet_rows(out, ["id"]) == [(0,), (1,), (2,), (3,)]


def test_plain_clean_source_archive_needs_archive_dir(spark, landing, ck, tmp_path):
    """Spark 4.3: the query fails with "Archive mode must be used with 'sourceArchiveDir'
    option"."""
    landing.put_json("a.json", records([1]))
    err = start_error_or_failure(
        lambda: writer(file_stream(spark, landing, options={"cleanSource": "archive"}), ck, fmt="parquet")
        .start(str(tmp_path / "out"))
    )
    assert "sourceArchiveDir" in error_text(err)
    assert (landing.path / "a.json").exists()


# ================================================================ files arriving


@needs_sluice
def test_files_arriving_between_runs(spark, landing, schema_dir, ck, tmp_path):
    out = tmp_path / "out"
    landing.put_json("f0.json", records([1, 2]))
    landing.put_json("f1.json", records([3]))
    q1 = run_to_path(autoloader(spark, landing, schema_dir), ck, out)
    assert delta_ids(out) == ["1", "2", "3"]
    v1 = dl(out).version()

    q2 = run_to_path(autoloader(spark, landing, schema_dir), ck, out)  # nothing new
    assert delta_ids(out) == ["1", "2", "3"]
    assert dl(out).version() == v1
    assert q2.id == q1.id

    landing.put_json("f2.json", records([4, 5]))
    landing.put_json("f3.json", records([6]))
    run_to_path(autoloader(spark, landing, schema_dir), ck, out)
    assert delta_ids(out) == ["1", "2", "3", "4", "5", "6"]


def test_plain_files_arriving_between_runs(spark, landing, ck, tmp_path):
    out = tmp_path / "out"
    landing.put_json("f0.json", records([1, 2]))
    q1 = run_to_path(file_stream(spark, landing), ck, out, fmt="parquet")
    landing.put_json("f1.json", records([3]))
    q2 = run_to_path(file_stream(spark, landing), ck, out, fmt="parquet")
    assert q2.id == q1.id and q2.runId != q1.runId
    assert parquet_rows(out, ["id"]) == [(1,), (2,), (3,)]
    assert sorted(r.id for r in spark.read.parquet(str(out)).collect()) == [1, 2, 3]


@needs_sluice
def test_files_arriving_during_a_run(spark, landing, schema_dir, ck, tmp_path):
    """processingTime trigger: files dropped while the query runs are each taken once."""
    out = tmp_path / "out"
    landing.put_json("f000.json", records([0]))
    df = autoloader(spark, landing, schema_dir, options={"cloudFiles.schemaHints": "id long"})
    q = writer(df, ck, trigger={"processingTime": "1 second"}).start(str(out))
    try:
        wait_until(lambda: (out / "_delta_log").is_dir(), what="the first batch")
        for i in range(1, 13):
            landing.put_json(f"f{i:03d}.json", records([i * 10, i * 10 + 1]))
            time.sleep(0.15)
        q.processAllAvailable()
        assert q.isActive
    finally:
        q.stop()
    assert not q.isActive
    assert q.exception() is None
    expected = [0] + sorted(v for i in range(1, 13) for v in (i * 10, i * 10 + 1))
    assert delta_ids(out) == expected


def test_plain_files_arriving_with_default_trigger(spark, landing, ck, tmp_path):
    """No trigger: the next batch starts as soon as the previous one ends (Spark 4.3: a file
    added after processAllAvailable() is there after the next processAllAvailable())."""
    out = tmp_path / "out"
    landing.put_json("f0.json", records([1]))
    q = (file_stream(spark, landing).writeStream.format("parquet")
         .option("checkpointLocation", ck).start(str(out)))  # fmt: skip
    try:
        q.processAllAvailable()
        assert parquet_rows(out, ["id"]) == [(1,)]
        landing.put_json("f1.json", records([2, 3]))
        q.processAllAvailable()
        assert parquet_rows(out, ["id"]) == [(1,), (2,), (3,)]
    finally:
        q.stop()


# ================================================================ Delta as a source


def delta_append(spark, path, ids):
    spark.createDataFrame([(i, f"n{i}") for i in ids], "id long, name string").write.format("delta").mode(
        "append"
    ).save(str(path))


@needs_sluice
def test_delta_source_by_path(spark, ck, tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    delta_append(spark, src, [1, 2])
    delta_append(spark, src, [3])
    df = spark.readStream.format("delta").load(str(src))
    assert df.isStreaming
    run_to_path(df, ck, out)
    assert delta_ids(out) == [1, 2, 3]
    delta_append(spark, src, [4, 5])
    run_to_path(spark.readStream.format("delta").load(str(src)), ck, out)
    assert delta_ids(out) == [1, 2, 3, 4, 5]


@needs_sluice
def test_delta_source_by_table_name(spark, ck, tmp_path, warehouse):
    spark.createDataFrame([(1, "a"), (2, "b")], "id long, name string").write.format("delta").saveAsTable("src_t")
    df = spark.readStream.table("src_t")
    assert df.isStreaming
    run_to_table(df, ck, "dst_t")
    assert delta_ids(warehouse / "dst_t") == [1, 2]
    spark.createDataFrame([(3, "c")], "id long, name string").write.format("delta").mode("append").saveAsTable("src_t")
    run_to_table(spark.readStream.table("src_t"), ck, "dst_t")
    assert delta_ids(warehouse / "dst_t") == [1, 2, 3]


@needs_sluice
def test_delta_source_starting_version(spark, ck, tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    delta_append(spark, src, [1, 2])  # v0
    delta_append(spark, src, [3])  # v1
    delta_append(spark, src, [4])  # v2
    df = spark.readStream.format("delta").option("startingVersion", 1).load(str(src))
    run_to_path(df, ck, out)
    assert delta_ids(out) == [3, 4]


@needs_sluice
def test_delta_source_max_files_per_trigger(spark, ck, tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    for i in range(4):
        delta_append(spark, src, [i * 10, i * 10 + 1])
    files = len(data_files(src))
    assert files >= 4
    df = spark.readStream.format("delta").option("maxFilesPerTrigger", 1).load(str(src))
    q = run_to_path(df, ck, out)
    assert len(data_batches(q)) == files
    assert len(streaming_commits(out)) == files
    assert delta_ids(out) == sorted(i * 10 + j for i in range(4) for j in range(2))


@needs_sluice
def test_bronze_silver_gold_chain(spark, landing, schema_dir, tmp_path, warehouse):
    """Auto Loader -> bronze; readStream.table(bronze) + filter -> silver; readStream.table
    (silver) + groupBy count, complete mode -> gold. Run again after new files arrive."""
    hints = {"cloudFiles.schemaHints": "id long, amount double"}

    def run_all():
        run_to_table(autoloader(spark, landing, schema_dir, options=hints), tmp_path / "ck_b", "bronze")
        run_to_table(
            spark.readStream.table("bronze").filter(F.col("amount") > 0).select("id", "category", "amount"),
            tmp_path / "ck_s", "silver",
        )
        run_to_table(spark.readStream.table("silver").groupBy("category").count(), tmp_path / "ck_g", "gold",
                     mode="complete")

    def gold():
        return sorted((r["category"], r["count"]) for r in delta_dicts(warehouse / "gold"))

    landing.put_json("b0.json", [
        {"id": 1, "category": "a", "amount": 5.0}, {"id": 2, "category": "b", "amount": 1.0},
        {"id": 3, "category": "a", "amount": -1.0},
    ])
    run_all()
    assert delta_ids(warehouse / "silver") == [1, 2]
    assert gold() == [("a", 1), ("b", 1)]
    landing.put_json("b1.json", [
        {"id": 4, "category": "a", "amount": 2.0}, {"id": 5, "category": "c", "amount": 3.0},
        {"id": 6, "category": "b", "amount": 0.0},
    ])
    landing.put_json("b2.json", [{"id": 7, "category": "a", "amount": 1.5}])
    run_all()
    assert delta_ids(warehouse / "bronze") == [1, 2, 3, 4, 5, 6, 7]
    assert delta_ids(warehouse / "silver") == [1, 2, 4, 5, 7]
    assert gold() == [("a", 3), ("b", 1), ("c", 1)]
    assert sorted((r.category, r["count"]) for r in spark.table("gold").collect()) == gold()


# ================================================================ the rate source


def test_rate_source_into_memory_sink(spark):
    df = spark.readStream.format("rate").option("rowsPerSecond", 20).load()
    assert df.isStreaming
    # Spark 4.3: struct<timestamp:timestamp,value:bigint>
    assert df.schema.simpleString() == "struct<timestamp:timestamp,value:bigint>"
    q = df.writeStream.format("memory").queryName("rate_rows").start()
    try:
        wait_until(lambda: spark.sql("select count(*) as n from rate_rows").first().n >= 10, what="10 rate rows")
    finally:
        q.stop()
    rows = spark.sql("select * from rate_rows").collect()
    values = sorted(r.value for r in rows)
    assert values == list(range(len(values)))  # 0, 1, 2, ... each once
    assert all(isinstance(r.timestamp, datetime.datetime) for r in rows)
    assert q.exception() is None


# ================================================================ sinks


@needs_sluice
def test_delta_sink_start_path_commits_with_txn(spark, landing, ck, tmp_path):
    out = tmp_path / "out"
    for i in range(2):
        landing.put_json(f"f{i}.json", records([i]))
    q = run_to_path(file_stream(spark, landing, options={"maxFilesPerTrigger": 1}), ck, out)
    assert delta_ids(out) == [0, 1]
    commits = streaming_commits(out)
    assert [c["operationParameters"]["outputMode"] for c in commits] == ["Append", "Append"]
    assert {c["operationParameters"]["queryId"] for c in commits} == {q.id}
    assert [c["operationParameters"]["epochId"] for c in commits] == ["0", "1"]
    assert dl(out).transaction_version(q.id) == 1  # txn(appId = query id, version = batch id)


def log_adds(table_path, version: int) -> list:
    """The add actions of one commit file of the table's log."""
    text = (Path(table_path) / "_delta_log" / f"{version:020d}.json").read_text()
    return [a["add"] for a in map(json.loads, text.splitlines()) if "add" in a]


@needs_sluice
def test_delta_sink_batch_from_many_files_is_one_commit(spark, landing, ck, tmp_path):
    """A batch read from several files is encoded by one writer per core (the first batch
    creating the table, the next appending to it) and still lands as one commit per batch
    whose files hold exactly that batch's rows, with the batch's txn."""
    out = tmp_path / "out"
    for i in range(4):
        landing.put_json(f"a{i}.json", records(range(i * 100, i * 100 + 100)))
    run_to_path(file_stream(spark, landing), ck, out)
    for i in range(4, 8):
        landing.put_json(f"b{i}.json", records(range(i * 100, i * 100 + 100)))
    q = run_to_path(file_stream(spark, landing), ck, out)

    assert delta_ids(out) == list(range(800))
    assert spark.read.format("delta").load(str(out)).count() == 800
    commits = streaming_commits(out)
    assert [c["version"] for c in commits] == [0, 1]
    assert [c["operationParameters"]["epochId"] for c in commits] == ["0", "1"]
    for c in commits:
        adds = log_adds(out, c["version"])
        assert sum(json.loads(a["stats"])["numRecords"] for a in adds) == 400
        assert int(c["operationMetrics"]["num_added_rows"]) == 400
        assert int(c["operationMetrics"]["num_added_files"]) == len(adds) >= 1
    assert sorted(a["path"] for v in (0, 1) for a in log_adds(out, v)) == sorted(
        p.name for p in out.glob("*.parquet")
    )
    assert dl(out).transaction_version(q.id) == 1


@needs_sluice
def test_delta_sink_checkpoints_log_every_ten_batches(spark, landing, ck, tmp_path):
    """A stream of many batches checkpoints the Delta log as Delta does (every 10 commits,
    written beside the stream rather than in its way), and the table reads the same through
    delta-rs and through sluice before and after the checkpoints."""
    out = tmp_path / "out"
    for i in range(23):
        landing.put_json(f"f{i:03d}.json", records([i]))
    q = run_to_path(autoloader(spark, landing, tmp_path / "schema", options={"cloudFiles.maxFilesPerTrigger": "1"}), ck, out)
    assert dl(out).version() == 22
    log = out / "_delta_log"
    wait_until(lambda: (log / "_last_checkpoint").exists() and '"version":20' in (log / "_last_checkpoint").read_text().replace(" ", ""), what="the checkpoint at version 20")
    assert sorted(int(p.name.split(".")[0]) for p in log.glob("*.checkpoint.parquet")) == [10, 20]
    assert delta_ids(out) == sorted(str(i) for i in range(23))
    assert dl(out).transaction_version(q.id) == 22
    # A restart reads the table from its checkpoint and goes on.
    for i in range(23, 25):
        landing.put_json(f"f{i:03d}.json", records([i]))
    run_to_path(autoloader(spark, landing, tmp_path / "schema", options={"cloudFiles.maxFilesPerTrigger": "1"}), ck, out)
    assert dl(out).version() == 24
    assert spark.read.format("delta").load(str(out)).count() == 25


@needs_sluice
def test_delta_sink_sees_commits_of_another_writer(spark, landing, ck, tmp_path):
    """A running stream keeps its Delta table open between batches; a batch writer appending
    to the same table in between (a new column, too, with mergeSchema) is seen by the
    stream's next batch, and no row of either is lost."""
    out = tmp_path / "out"
    landing.put_json("f0.json", records([1]))
    q = writer(file_stream(spark, landing), ck, trigger={"processingTime": "0 seconds"}).start(str(out))
    try:
        q.processAllAvailable()
        spark.createDataFrame([(100, "x", 1.5)], "id long, name string, extra double").write.format(
            "delta"
        ).mode("append").option("mergeSchema", "true").save(str(out))
        landing.put_json("f1.json", records([2]))
        q.processAllAvailable()
    finally:
        q.stop()
    assert q.exception() is None
    assert delta_ids(out) == [1, 2, 100]
    assert dl(out).version() == 2
    assert [c["operationParameters"]["epochId"] for c in streaming_commits(out)] == ["0", "1"]
    rows = sorted((r["id"], r["extra"]) for r in delta_dicts(out))
    assert rows == [(1, None), (2, None), (100, 1.5)]


@needs_sluice
def test_delta_sink_into_not_null_column_checks_every_row(spark, landing, ck, warehouse):
    """A table with a NOT NULL column: a batch holding a null there fails the query
    (Delta's DELTA_NOT_NULL_CONSTRAINT_VIOLATED) and commits nothing."""
    spark.sql("CREATE TABLE strict (id BIGINT NOT NULL, name STRING) USING DELTA")
    landing.put_json("a.json", records([1, 2]))
    landing.put_json("b.json", [{"id": None, "name": "nameless"}])
    with pytest.raises(StreamingQueryException) as info:
        run_to_table(file_stream(spark, landing), ck, "strict")
    assert "NOT NULL constraint" in error_text(info.value)
    assert dl(warehouse / "strict").version() == 0
    assert delta_ids(warehouse / "strict") == []


@needs_sluice
def test_delta_sink_to_table_registers_it(spark, landing, ck, warehouse):
    landing.put_json("a.json", records([1, 2]))
    run_to_table(file_stream(spark, landing), ck, "events")
    tables = {t.name: t for t in spark.catalog.listTables()}
    assert "events" in tables and tables["events"].tableType == "MANAGED"
    assert sorted(r.id for r in spark.table("events").collect()) == [1, 2]
    assert delta_ids(warehouse / "events") == [1, 2]
    # a second run appends to the same table (no "already exists")
    landing.put_json("b.json", records([3]))
    run_to_table(file_stream(spark, landing), ck, "events")
    assert delta_ids(warehouse / "events") == [1, 2, 3]


@needs_sluice
def test_delta_sink_partition_by(spark, landing, ck, tmp_path):
    landing.put_json("a.json", [{"id": 1, "day": "mon"}, {"id": 2, "day": "tue"}, {"id": 3, "day": "mon"}])
    out = tmp_path / "out"
    df = file_stream(spark, landing, schema="id long, day string")
    q = writer(df, ck).partitionBy("day").start(str(out))
    finish(q)
    assert dl(out).metadata().partition_columns == ["day"]
    assert sorted((r["id"], r["day"]) for r in delta_dicts(out)) == [(1, "mon"), (2, "tue"), (3, "mon")]
    assert {p.parent.name for p in out.rglob("*.parquet")} == {"day=mon", "day=tue"}


@needs_sluice
def test_complete_mode_replaces_table_each_batch(spark, landing, ck, tmp_path):
    out = tmp_path / "out"
    cats = [["a", "b"], ["a", "c", "c"], ["b"]]
    for i, cs in enumerate(cats):
        landing.put_json(f"f{i}.json", [{"id": i * 10 + j, "category": c} for j, c in enumerate(cs)])
    df = file_stream(spark, landing, schema="id long, category string", options={"maxFilesPerTrigger": 1})
    q = run_to_path(df.groupBy("category").count(), ck, out, mode="complete")
    assert len(data_batches(q)) == 3
    commits = streaming_commits(out)
    assert len(commits) == 3
    assert {c["operationParameters"]["outputMode"] for c in commits} == {"Complete"}
    # each version holds the full aggregate over all input up to its batch
    expected = [
        [("a", 1), ("b", 1)],
        [("a", 2), ("b", 1), ("c", 2)],
        [("a", 2), ("b", 2), ("c", 2)],
    ]
    for commit, want in zip(commits, expected):
        got = sorted((r["category"], r["count"]) for r in delta_dicts(out, commit["version"]))
        assert got == want, f"version {commit['version']}"
    # the state operator shows in the progress
    assert data_batches(q)[-1].stateOperators, "an aggregation reports its state operator"


@needs_sluice
def test_complete_mode_state_survives_restart_without_old_files(spark, landing, schema_dir, ck, tmp_path):
    """The aggregate comes from the persisted state: input files already consumed may be
    gone when the query restarts."""
    out = tmp_path / "out"
    landing.put_json("f0.json", [{"id": 1, "category": "a"}, {"id": 2, "category": "b"}])
    landing.put_json("f1.json", [{"id": 3, "category": "a"}])

    def run():
        df = autoloader(spark, landing, schema_dir)
        return run_to_path(df.groupBy("category").count(), ck, out, mode="complete")

    run()
    assert sorted((r["category"], r["count"]) for r in delta_dicts(out)) == [("a", 2), ("b", 1)]
    os.remove(landing.path / "f0.json")
    os.remove(landing.path / "f1.json")
    landing.put_json("f2.json", [{"id": 4, "category": "a"}, {"id": 5, "category": "c"}])
    run()
    assert sorted((r["category"], r["count"]) for r in delta_dicts(out)) == [("a", 3), ("b", 1), ("c", 1)]


@needs_sluice
def test_update_mode_rejected_by_delta_sink(spark, landing, ck, tmp_path):
    """Delta: DELTA_UNSUPPORTED_OUTPUT_MODE "Data source <DeltaDataSource> does not support
    Update output mode", an AnalysisException raised by start()."""
    landing.put_json("a.json", [{"id": 1, "category": "a"}])
    df = file_stream(spark, landing, schema="id long, category string").groupBy("category").count()
    with pytest.raises(AnalysisException) as info:
        writer(df, ck, mode="update").start(str(tmp_path / "out"))
    assert condition(info.value) == "DELTA_UNSUPPORTED_OUTPUT_MODE"
    assert "does not support Update output mode" in error_text(info.value)
    assert not (tmp_path / "out" / "_delta_log").exists()


def test_update_mode_rejected_by_parquet_sink(spark, landing, ck, tmp_path):
    """Spark 4.3: AnalysisException STREAMING_OUTPUT_MODE.UNSUPPORTED_DATASOURCE, SQLSTATE
    42KDE, "Invalid streaming output mode: update. This output mode is not supported in Data
    Source parquet." (also complete mode: "... complete. ...")."""
    landing.put_json("a.json", records([1]))
    df = file_stream(spark, landing)
    for mode in ("update", "complete"):
        agg = df.groupBy("name").count()
        with pytest.raises(AnalysisException) as info:
            writer(agg, f"{ck}-{mode}", fmt="parquet", mode=mode).start(str(tmp_path / "out"))
        assert condition(info.value) == "STREAMING_OUTPUT_MODE.UNSUPPORTED_DATASOURCE"
        assert f"Invalid streaming output mode: {mode}" in error_text(info.value)


def test_complete_mode_needs_an_aggregation(spark, landing, ck):
    """Spark 4.3: AnalysisException STREAMING_OUTPUT_MODE.UNSUPPORTED_OPERATION "Invalid
    streaming output mode: complete. This output mode is not supported for no streaming
    aggregations on streaming DataFrames/DataSets."."""
    landing.put_json("a.json", records([1]))
    with pytest.raises(AnalysisException) as info:
        writer(file_stream(spark, landing), ck, fmt="memory", mode="complete", name="c_no_agg").start()
    assert condition(info.value) == "STREAMING_OUTPUT_MODE.UNSUPPORTED_OPERATION"
    assert "Invalid streaming output mode: complete" in error_text(info.value)


def test_append_mode_aggregation_needs_a_watermark(spark, landing, ck):
    """Spark 4.3: STREAMING_OUTPUT_MODE.UNSUPPORTED_OPERATION "Invalid streaming output mode:
    append. This output mode is not supported for streaming aggregations without watermark
    on streaming DataFrames/DataSets."."""
    landing.put_json("a.json", records([1]))
    agg = file_stream(spark, landing).groupBy("name").count()
    with pytest.raises(AnalysisException) as info:
        writer(agg, ck, fmt="memory", name="agg_append").start()
    assert condition(info.value) == "STREAMING_OUTPUT_MODE.UNSUPPORTED_OPERATION"
    assert "without watermark" in error_text(info.value)


@pytest.mark.parametrize("fmt", ["parquet", pytest.param("delta", marks=needs_sluice)])
def test_checkpoint_location_is_required(spark, landing, tmp_path, fmt):
    """Spark 4.3: AnalysisException "checkpointLocation must be specified either through
    option("checkpointLocation", ...) or SparkSession.conf.set("spark.sql.streaming.
    checkpointLocation", ...)." from start()."""
    landing.put_json("a.json", records([1]))
    with pytest.raises(AnalysisException) as info:
        file_stream(spark, landing).writeStream.format(fmt).trigger(availableNow=True).start(str(tmp_path / "out"))
    assert "checkpointLocation must be specified" in error_text(info.value)


@pytest.mark.parametrize("fmt", ["parquet", "json", "csv"])
def test_file_sinks(spark, landing, ck, tmp_path, fmt):
    """Appends as files readable by spark.read and by Python; Spark 4.3 wrote, for a json
    sink, `{"id":0,"s":"v0"}` lines and for a csv sink `0,v0` lines (no header)."""
    out = tmp_path / "out"
    landing.put_json("f0.json", records([0, 1]))
    landing.put_json("f1.json", records([2]))
    df = file_stream(spark, landing, options={"maxFilesPerTrigger": 1}).select("id", "name")
    run_to_path(df, ck, out, fmt=fmt)
    landing.put_json("f2.json", records([3]))
    run_to_path(file_stream(spark, landing).select("id", "name"), ck, out, fmt=fmt)
    expected = [(i, f"n{i}") for i in range(4)]
    if fmt == "parquet":
        got = parquet_rows(out, ["id", "name"])
    elif fmt == "json":
        got = sorted(
            (d["id"], d["name"])
            for f in visible_files(out, ".json")
            for d in map(json.loads, f.read_text().splitlines())
        )
    else:
        import csv

        got = sorted(
            (int(r[0]), r[1]) for f in visible_files(out, ".csv") for r in csv.reader(f.read_text().splitlines())
        )
    assert got == expected
    back = spark.read.format(fmt).schema("id long, name string").load(str(out))
    assert sorted(tuple(r) for r in back.collect()) == expected


def test_memory_sink_is_queryable_by_name(spark, landing):
    landing.put_json("a.json", records([1, 2]))
    q = file_stream(spark, landing).writeStream.format("memory").queryName("mem_events").trigger(availableNow=True).start()
    finish(q)
    assert sorted(tuple(r) for r in spark.sql("select * from mem_events").collect()) == [(1, "n1"), (2, "n2")]
    # Spark 4.3 lists it as a temporary table
    assert "mem_events" in [t.name for t in spark.catalog.listTables()]
    assert q.lastProgress.sink.numOutputRows == 2
    assert q.lastProgress.sink.description == "MemorySink"  # Spark 4.3


def test_console_sink_runs(spark, landing):
    landing.put_json("a.json", records([1, 2, 3]))
    q = file_stream(spark, landing).writeStream.format("console").trigger(availableNow=True).start()
    finish(q)
    assert q.exception() is None
    assert sum(p.numInputRows for p in q.recentProgress) == 3


def checkpoints_naming(query_id):
    """sluice's temporary checkpoint directories whose metadata names `query_id`."""
    found = []
    for meta in Path(tempfile.gettempdir()).glob("sluice-checkpoint-*/metadata"):
        try:
            if query_id in meta.read_text():
                found.append(meta.parent)
        except OSError:
            pass
    return found


@needs_sluice
@pytest.mark.parametrize("fmt", ["memory", "console"])
def test_temporary_checkpoint_goes_when_the_query_stops(spark, landing, fmt):
    """A memory or console sink without checkpointLocation checkpoints to a temporary
    directory, removed when the query ends without error, as Spark removes its own."""
    landing.put_json("a.json", records([1, 2]))
    writer = file_stream(spark, landing).writeStream.format(fmt)
    if fmt == "memory":
        writer = writer.queryName("tmp_ck_events")
    q = writer.trigger(availableNow=True).start()
    finish(q)
    assert q.exception() is None
    deadline = time.monotonic() + 10
    while checkpoints_naming(q.id) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert checkpoints_naming(q.id) == []


# ================================================================ triggers


@pytest.mark.parametrize("sink", ["parquet", pytest.param("delta", marks=needs_sluice)])
def test_trigger_once_takes_everything_in_one_batch(spark, landing, ck, tmp_path, sink):
    """Spark 4.3: trigger(once=True) with maxFilesPerTrigger=1 and 3 files ran one batch of
    3 rows (Trigger.Once ignores the rate limit)."""
    for i in range(3):
        landing.put_json(f"f{i}.json", records([i]))
    out = tmp_path / "out"
    df = file_stream(spark, landing, options={"maxFilesPerTrigger": 1})
    q = run_to_path(df, ck, out, fmt=sink, trigger={"once": True})
    assert [(p.batchId, p.numInputRows) for p in q.recentProgress] == [(0, 3)]


def test_trigger_available_now_honours_the_limit(spark, landing, ck, tmp_path):
    for i in range(3):
        landing.put_json(f"f{i}.json", records([i]))
    q = run_to_path(file_stream(spark, landing, options={"maxFilesPerTrigger": 1}), ck, tmp_path / "out", fmt="parquet")
    assert [(p.batchId, p.numInputRows) for p in data_batches(q)] == [(0, 1), (1, 1), (2, 1)]
    assert not q.isActive


@needs_sluice
def test_trigger_processing_time(spark, landing, ck, tmp_path):
    out = tmp_path / "out"
    landing.put_json("f0.json", records([1]))
    q = writer(file_stream(spark, landing), ck, trigger={"processingTime": "1 second"}).start(str(out))
    try:
        q.processAllAvailable()
        assert q.isActive
        assert delta_ids(out) == [1]
        landing.put_json("f1.json", records([2]))
        wait_until(lambda: (out / "_delta_log").is_dir() and delta_ids(out) == [1, 2], what="the second file")
    finally:
        q.stop()
    assert not q.isActive and q.exception() is None


@pytest.mark.parametrize("sink", ["parquet", "memory", pytest.param("delta", marks=needs_sluice)])
def test_trigger_continuous_is_refused(spark, landing, ck, tmp_path, sink):
    """Spark 4.3 refuses a continuous trigger on a file source: memory sink, start() raises
    AnalysisException "Continuous processing does not support StreamingRelation
    operations."; parquet sink, the query fails with "Unknown type of trigger:
    ContinuousTrigger(1000)". Either way nothing is written."""
    landing.put_json("a.json", records([1]))
    out = tmp_path / "out"

    def start():
        w = file_stream(spark, landing).writeStream.format(sink).option("checkpointLocation", ck)
        w = w.trigger(continuous="1 second")
        return w.queryName("cont").start() if sink == "memory" else w.start(str(out))

    err = start_error_or_failure(start)
    assert isinstance(err, PySparkException)
    assert "ontinuous" in error_text(err)
    assert not visible_files(out, ".parquet")


# ================================================================ watermark and windows


WINDOW_FILES_1 = [
    [("2024-01-01 10:01:00", 1), ("2024-01-01 10:05:00", 2), ("2024-01-01 10:12:00", 3)],
    [("2024-01-01 10:25:00", 4), ("2024-01-01 10:03:00", 5), ("2024-01-01 10:31:00", 6)],
]
WINDOW_FILES_2 = [
    [("2024-01-01 10:45:00", 7), ("2024-01-01 10:08:00", 8)],  # 10:08 is behind the watermark: dropped
    [("2024-01-01 11:30:00", 9)],
]
# Spark 4.3, withWatermark("ts", "10 minutes") + groupBy(window("ts", "10 minutes")).count(),
# append mode, one file per trigger, availableNow: after the first run (watermark 10:21)
WINDOWS_AFTER_RUN_1 = [("2024-01-01 10:00:00", "2024-01-01 10:10:00", 3), ("2024-01-01 10:10:00", "2024-01-01 10:20:00", 1)]
# ... and after the second run from the same checkpoint (watermark 11:20)
WINDOWS_AFTER_RUN_2 = WINDOWS_AFTER_RUN_1 + [
    ("2024-01-01 10:20:00", "2024-01-01 10:30:00", 1),
    ("2024-01-01 10:30:00", "2024-01-01 10:40:00", 1),
    ("2024-01-01 10:40:00", "2024-01-01 10:50:00", 1),
]


@pytest.mark.parametrize("sink", ["parquet", pytest.param("delta", marks=needs_sluice)])
def test_watermark_window_append_emits_each_window_once(spark, landing, ck, tmp_path, sink):
    out = tmp_path / "out"
    base = time.time() - 3600

    def put(files, first):
        for k, recs in enumerate(files):
            landing.put_json(f"w{first + k}.json", [{"id": i, "ts": ts} for ts, i in recs], mtime=base + (first + k) * 60)

    def run():
        df = file_stream(spark, landing, schema="id long, ts timestamp", options={"maxFilesPerTrigger": 1})
        agg = df.withWatermark("ts", "10 minutes").groupBy(F.window("ts", "10 minutes")).count()
        return run_to_path(agg, ck, out, fmt=sink)

    def windows():
        if sink == "delta":
            rows = [(r["window"]["start"], r["window"]["end"], r["count"]) for r in delta_dicts(out)]
        else:
            rows = [(r.window.start, r.window.end, r["count"]) for r in spark.read.parquet(str(out)).collect()]
        return sorted((s.strftime("%Y-%m-%d %H:%M:%S"), e.strftime("%Y-%m-%d %H:%M:%S"), c) for s, e, c in rows)

    put(WINDOW_FILES_1, 0)
    run()
    assert windows() == WINDOWS_AFTER_RUN_1
    put(WINDOW_FILES_2, 2)
    run()
    assert windows() == WINDOWS_AFTER_RUN_2  # each window once, the late row dropped


# Spark 4.3 (recorded by running this test with SLUICE_REMOTE on a Spark Connect server),
# the same files with a sliding window, groupBy(window("ts", "10 minutes", "5 minutes")):
# each row counts in both windows that hold it; after the first run (watermark 10:21)
SLIDING_AFTER_RUN_1 = [
    ("2024-01-01 09:55:00", "2024-01-01 10:05:00", 2),
    ("2024-01-01 10:00:00", "2024-01-01 10:10:00", 3),
    ("2024-01-01 10:05:00", "2024-01-01 10:15:00", 2),
    ("2024-01-01 10:10:00", "2024-01-01 10:20:00", 1),
]
# ... and after the second run (watermark 11:20; 10:08 is late and dropped)
SLIDING_AFTER_RUN_2 = SLIDING_AFTER_RUN_1 + [
    ("2024-01-01 10:20:00", "2024-01-01 10:30:00", 1),
    ("2024-01-01 10:25:00", "2024-01-01 10:35:00", 2),
    ("2024-01-01 10:30:00", "2024-01-01 10:40:00", 1),
    ("2024-01-01 10:40:00", "2024-01-01 10:50:00", 1),
    ("2024-01-01 10:45:00", "2024-01-01 10:55:00", 1),
]


@pytest.mark.parametrize("sink", ["parquet", pytest.param("delta", marks=needs_sluice)])
def test_sliding_window_append_emits_each_window_once(spark, landing, ck, tmp_path, sink):
    """window(ts, 10 minutes, 5 minutes): a row belongs to every window holding its time;
    with a watermark each window is emitted once, when the watermark passes its end."""
    out = tmp_path / "out"
    base = time.time() - 3600
    for k, recs in enumerate(WINDOW_FILES_1):
        landing.put_json(f"w{k}.json", [{"id": i, "ts": ts} for ts, i in recs], mtime=base + k * 60)

    def run():
        df = file_stream(spark, landing, schema="id long, ts timestamp", options={"maxFilesPerTrigger": 1})
        agg = df.withWatermark("ts", "10 minutes").groupBy(F.window("ts", "10 minutes", "5 minutes")).count()
        return run_to_path(agg, ck, out, fmt=sink)

    def windows():
        if sink == "delta":
            rows = [(r["window"]["start"], r["window"]["end"], r["count"]) for r in delta_dicts(out)]
        else:
            rows = [(r.window.start, r.window.end, r["count"]) for r in spark.read.parquet(str(out)).collect()]
        return sorted((s.strftime("%Y-%m-%d %H:%M:%S"), e.strftime("%Y-%m-%d %H:%M:%S"), c) for s, e, c in rows)

    run()
    assert windows() == SLIDING_AFTER_RUN_1
    for k, recs in enumerate(WINDOW_FILES_2):
        landing.put_json(f"w{2 + k}.json", [{"id": i, "ts": ts} for ts, i in recs], mtime=base + (2 + k) * 60)
    run()
    assert windows() == SLIDING_AFTER_RUN_2
# ================================================================ streaming deduplication


def ev(i, v, t):
    """A record with event time 2024-01-01 10:<t>."""
    return {"id": i, "v": v, "ts": f"2024-01-01 10:{t}"}


DEDUP_SCHEMA = "id long, v string, ts timestamp"


def dedup_rows(out):
    """(id, v, HH:MM:SS) of a parquet sink's output, read by pyarrow."""
    return sorted((i, v, ts.strftime("%H:%M:%S")) for i, v, ts in parquet_rows(out, ["id", "v", "ts"]))


def run_dedup_runs(spark, landing, ck, out, build, runs):
    """One availableNow run per file (one file per batch); after each run, the sink's rows
    and the (numRowsTotal, numRowsUpdated, numRowsRemoved, numRowsDroppedByWatermark) of the
    deduplication in each batch of that run."""
    seen = []
    for k, recs in enumerate(runs):
        landing.put_json(f"d{k}.json", recs)
        df = file_stream(spark, landing, schema=DEDUP_SCHEMA, options={"maxFilesPerTrigger": 1})
        q = run_to_path(build(df), ck, out, fmt="parquet")
        ops = []
        for p in q.recentProgress:
            [op] = [json.loads(o.json) for o in p.stateOperators]
            ops.append((op["numRowsTotal"], op["numRowsUpdated"], op["numRowsRemoved"], op["numRowsDroppedByWatermark"]))
        seen.append((dedup_rows(out), ops))
    return seen


@needs_sluice
def test_drop_duplicates_across_batches_runs_and_a_server_restart(server, landing, schema_dir, ck, tmp_path):
    """Auto Loader -> Delta with dropDuplicates(["id"]): a row goes out only the first time
    its id is seen, within a batch (Spark keeps the first row of the file, as Spark 4.3 does
    with these files), across batches and runs, and across a server restart (the keys are
    state in the checkpoint)."""
    from harness.delta import session_on

    out = tmp_path / "out"
    opts = {"cloudFiles.inferColumnTypes": "true"}

    def run(s):
        df = autoloader(s, landing, schema_dir, options={**opts, "cloudFiles.maxFilesPerTrigger": "1"})
        return run_to_path(df.dropDuplicates(["id"]), ck, out)

    def table():
        return sorted((r["id"], r["v"]) for r in delta_dicts(out))

    landing.put_json("a.json", [{"id": 1, "v": "a"}, {"id": 1, "v": "b"}, {"id": 2, "v": "c"}, {"id": 1, "v": "d"}])
    landing.put_json("b.json", [{"id": 2, "v": "e"}, {"id": 3, "v": "f"}, {"id": 3, "v": "g"}])
    s = session_on(server)
    q1 = run(s)
    assert [p.batchId for p in data_batches(q1)] == [0, 1]
    assert table() == [(1, "a"), (2, "c"), (3, "f")]
    landing.put_json("c.json", [{"id": 3, "v": "h"}, {"id": 4, "v": "i"}])
    run(s)
    assert table() == [(1, "a"), (2, "c"), (3, "f"), (4, "i")]
    stop_quietly(s)
    server.stop()
    landing.put_json("d.json", [{"id": 4, "v": "j"}, {"id": 1, "v": "k"}, {"id": 5, "v": "l"}, {"id": 5, "v": "m"}])
    server.start()
    s = session_on(server)
    try:
        q3 = run(s)
        [p] = data_batches(q3)
    finally:
        stop_quietly(s)
    assert p.batchId == 3
    assert table() == [(1, "a"), (2, "c"), (3, "f"), (4, "i"), (5, "l")]
    assert len(streaming_commits(out)) == 4
    [op] = [json.loads(o.json) for o in p.stateOperators]
    assert op["operatorName"] == "dedupe"
    assert (op["numRowsTotal"], op["numRowsUpdated"], op["numRowsRemoved"]) == (5, 1, 0)
    assert op["customMetrics"]["numDroppedDuplicateRows"] == 3
    assert sorted(os.listdir(Path(ck) / "state" / "0")) == ["2.arrow", "3.arrow"]


def test_drop_duplicates_keeps_the_first_row_of_a_large_file(spark, landing, ck, tmp_path):
    """As Spark (one partition per small file, rows in file order): the first row of each
    id wins, also when the file is read as several Arrow batches (ids repeat 10000 rows
    apart in a 25000-row file)."""
    out = tmp_path / "out"
    landing.put_json("big.json", [{"id": i % 10000, "name": str(i)} for i in range(25000)])
    run_to_path(file_stream(spark, landing).dropDuplicates(["id"]), ck, out, fmt="parquet")
    rows = parquet_rows(out, ["id", "name"])
    assert len(rows) == 10000
    assert [r for r in rows if str(r[0]) != r[1]] == []


@pytest.mark.parametrize("how", ["distinct", "dropDuplicates"])
def test_distinct_keeps_each_whole_row_once(spark, landing, ck, tmp_path, how):
    """Spark 4.3: distinct() and dropDuplicates() key on every column."""
    out = tmp_path / "out"

    def run():
        df = file_stream(spark, landing, schema="id long, name string")
        return run_to_path(df.distinct() if how == "distinct" else df.dropDuplicates(), ck, out, fmt="parquet")

    landing.put_json("a.json", [{"id": 1, "name": "a"}, {"id": 1, "name": "a"}, {"id": 1, "name": "b"}])
    run()
    landing.put_json("b.json", [{"id": 1, "name": "a"}, {"id": 2, "name": "a"}])
    run()
    assert parquet_rows(out, ["id", "name"]) == [(1, "a"), (1, "b"), (2, "a")]


# withWatermark("ts", "10 seconds"), one file per availableNow run, recorded with Spark 4.3
# (local, file source -> parquet sink). A row is late when its event time is at or before
# the watermark the previous batch ran with; a key is forgotten once its time is at or
# before the batch's watermark (each run ends with a batch without data that moves it).
DEDUP_WM_RUNS = [
    [ev(1, "a", "00:00"), ev(2, "b", "00:30"), ev(1, "c", "00:00")],
    # watermark 10:00:20: (1, 00:00) and (3, 00:20) are late, (2, 00:30) a duplicate
    [ev(1, "d", "00:00"), ev(3, "e", "00:20"), ev(2, "f", "00:30"), ev(4, "g", "01:00"), ev(8, "x", "00:21")],
    # watermark 10:00:50: the key (2, 00:30) was forgotten, but its row is late anyway
    [ev(2, "h", "00:30"), ev(5, "i", "00:50"), ev(4, "j", "01:00"), ev(6, "k", "02:00")],
]
DEDUP_WM_EXPECTED = [
    ([(1, "a", "10:00:00"), (2, "b", "10:00:30")], [(2, 2, 0, 0), (1, 0, 1, 0)]),
    ([(1, "a", "10:00:00"), (2, "b", "10:00:30"), (4, "g", "10:01:00"), (8, "x", "10:00:21")], [(3, 2, 0, 2), (1, 0, 2, 0)]),
    (
        [(1, "a", "10:00:00"), (2, "b", "10:00:30"), (4, "g", "10:01:00"), (6, "k", "10:02:00"), (8, "x", "10:00:21")],
        [(2, 1, 0, 2), (1, 0, 1, 0)],
    ),
]


def test_drop_duplicates_with_watermark_evicts_state_and_drops_late_rows(spark, landing, ck, tmp_path):
    build = lambda df: df.withWatermark("ts", "10 seconds").dropDuplicates(["id", "ts"])  # noqa: E731
    assert run_dedup_runs(spark, landing, ck, tmp_path / "out", build, DEDUP_WM_RUNS) == DEDUP_WM_EXPECTED


# dropDuplicatesWithinWatermark(["id"]) with withWatermark("ts", "10 seconds"), Spark 4.3 as
# above: a key is kept until its first row's event time plus the delay is at or before the
# watermark; after that the same id goes out again.
DEDUP_WITHIN_RUNS = [
    [ev(1, "a", "00:00"), ev(1, "b", "00:05"), ev(2, "c", "00:30")],
    # watermark 10:00:20: id 1 expired at 10:00:10 (out again), id 2 holds until 10:00:40,
    # (3, 00:15) and (9, 00:20) are late
    [ev(1, "d", "00:25"), ev(2, "e", "00:35"), ev(3, "f", "00:15"), ev(4, "g", "01:00"), ev(9, "y", "00:20")],
    # watermark 10:00:50: ids 1 and 2 expired, id 4 holds until 10:01:10
    [ev(2, "h", "00:52"), ev(4, "i", "01:05"), ev(5, "j", "00:50"), ev(6, "k", "00:51")],
]
DEDUP_WITHIN_EXPECTED = [
    ([(1, "a", "10:00:00"), (2, "c", "10:00:30")], [(2, 2, 0, 0), (1, 0, 1, 0)]),
    ([(1, "a", "10:00:00"), (1, "d", "10:00:25"), (2, "c", "10:00:30"), (4, "g", "10:01:00")], [(3, 2, 0, 2), (1, 0, 2, 0)]),
    (
        [
            (1, "a", "10:00:00"),
            (1, "d", "10:00:25"),
            (2, "c", "10:00:30"),
            (2, "h", "10:00:52"),
            (4, "g", "10:01:00"),
            (6, "k", "10:00:51"),
        ],
        [(3, 2, 0, 1), (3, 0, 0, 0)],
    ),
]


def test_drop_duplicates_within_watermark(spark, landing, ck, tmp_path):
    build = lambda df: df.withWatermark("ts", "10 seconds").dropDuplicatesWithinWatermark(["id"])  # noqa: E731
    assert run_dedup_runs(spark, landing, ck, tmp_path / "out", build, DEDUP_WITHIN_RUNS) == DEDUP_WITHIN_EXPECTED


def test_drop_duplicates_within_watermark_needs_a_watermark(spark, landing, ck, tmp_path):
    landing.put_json("a.json", [ev(1, "a", "00:00")])
    df = file_stream(spark, landing, schema=DEDUP_SCHEMA)
    with pytest.raises(AnalysisException) as info:
        writer(df.dropDuplicatesWithinWatermark(["id"]), ck, fmt="parquet").start(str(tmp_path / "out"))
    # Spark 4.3's message (UnsupportedOperationChecker)
    assert "dropDuplicatesWithinWatermark is not supported on streaming DataFrames/DataSets without watermark" in error_text(info.value)


def test_drop_duplicates_in_complete_mode_is_refused(spark, landing, ck):
    landing.put_json("a.json", records([1, 1]))
    with pytest.raises(AnalysisException) as info:
        writer(file_stream(spark, landing).dropDuplicates(["id"]), ck, fmt="memory", mode="complete", name="dd_complete").start()
    # Spark 4.3
    assert condition(info.value) == "STREAMING_OUTPUT_MODE.UNSUPPORTED_OPERATION"
    assert "complete. This output mode is not supported for no streaming aggregations" in error_text(info.value)


@pytest.mark.parametrize("mode", ["complete", "update"])
def test_drop_duplicates_then_aggregation(spark, landing, ck, mode):
    """Spark 4.3 (local, memory sink): the count sees each id once, across batches; the
    progress lists the aggregation, then the deduplication."""
    landing.put_json("a.json", [{"id": 1, "name": "a"}, {"id": 1, "name": "b"}, {"id": 2, "name": "a"}])
    df = file_stream(spark, landing, options={"maxFilesPerTrigger": 1})
    name = f"dd_then_count_{mode}"
    agg = df.dropDuplicates(["id"]).groupBy("name").count()
    q = writer(agg, ck, fmt="memory", mode=mode, trigger={"processingTime": "0 seconds"}, name=name).start()
    try:
        q.processAllAvailable()
        landing.put_json("b.json", [{"id": 1, "name": "a"}, {"id": 3, "name": "b"}, {"id": 3, "name": "a"}])
        q.processAllAvailable()
        rows = sorted(tuple(r) for r in spark.sql(f"select * from {name}").collect())
        progress = data_batches(q)
    finally:
        q.stop()
    # complete: the last table; update: ("a", 2) from the first batch, ("b", 1) from the
    # second (id 3's first row is "b"; "a" did not change)
    assert rows == [("a", 2), ("b", 1)]
    ops = [json.loads(o.json) for o in progress[-1].stateOperators]
    assert [(o["operatorName"], o["numRowsTotal"], o["numRowsUpdated"]) for o in ops] == [
        ("stateStoreSave", 2, 1),
        ("dedupe", 3, 1),
    ]


def window_counts(out):
    """(window start HH:MM:SS, count) of a parquet sink's output, read by pyarrow."""
    import pyarrow.parquet as pq

    rows = []
    for f in visible_files(out, ".parquet"):
        rows.extend((r["window"]["start"].strftime("%H:%M:%S"), r["count"]) for r in pq.read_table(f).to_pylist())
    return sorted(rows)


def test_drop_duplicates_then_window_count_with_watermark(spark, landing, ck, tmp_path):
    """Spark 4.3 (local, file source -> parquet sink, one file per availableNow run):
    dropDuplicates(["id", "ts"]) then a one-minute window count in append mode; each window
    goes out once the watermark passes its end, counting each (id, ts) once."""
    out = tmp_path / "out"
    runs = DEDUP_WM_RUNS[:2] + [
        [ev(2, "h", "00:30"), ev(5, "i", "01:50"), ev(4, "j", "01:00"), ev(6, "k", "02:30")],
        [ev(7, "h", "03:30")],
    ]
    expected = [[], [], [("10:00:00", 3), ("10:01:00", 2)], [("10:00:00", 3), ("10:01:00", 2), ("10:02:00", 1)]]
    seen = []
    for k, recs in enumerate(runs):
        landing.put_json(f"d{k}.json", recs)
        df = file_stream(spark, landing, schema=DEDUP_SCHEMA, options={"maxFilesPerTrigger": 1})
        counts = df.withWatermark("ts", "10 seconds").dropDuplicates(["id", "ts"]).groupBy(F.window("ts", "1 minute")).count()
        run_to_path(counts, ck, out, fmt="parquet")
        seen.append(window_counts(out))
    assert seen == expected


@needs_sluice
def test_replayed_dedup_batch_emits_each_key_once(spark, landing, ck, tmp_path):
    """A batch whose offsets were logged but not committed runs again from the state of the
    batch before it: (1) the Delta commit happened (commits/1 lost): the replay writes
    nothing; (2) it did not (commits/1 and the table's last version lost): the replay writes
    the batch's new keys once, not treating them as already seen."""
    out = tmp_path / "out"
    landing.put_json("a.json", records([1, 2, 2]))
    landing.put_json("b.json", records([2, 3, 3, 4]))

    def run():
        df = file_stream(spark, landing, options={"maxFilesPerTrigger": 1})
        return run_to_path(df.dropDuplicates(["id"]), ck, out)

    q = run()
    assert delta_ids(out) == [1, 2, 3, 4]
    version = dl(out).version()
    os.remove(Path(ck) / "commits" / "1")
    run()
    assert delta_ids(out) == [1, 2, 3, 4]
    assert dl(out).version() == version
    assert checkpoint_batches(ck, "commits") == [0, 1]

    os.remove(Path(ck) / "commits" / "1")
    os.remove(Path(out) / "_delta_log" / f"{version:020d}.json")
    assert delta_ids(out) == [1, 2]
    run()
    assert delta_ids(out) == [1, 2, 3, 4]
    assert dl(out).transaction_version(q.id) == 1

    landing.put_json("c.json", records([4, 1, 5]))
    run()
    assert delta_ids(out) == [1, 2, 3, 4, 5]


# ================================================================ foreachBatch / foreach


@needs_sluice
def test_foreach_batch_is_refused(spark, landing, ck):
    landing.put_json("a.json", records([1]))
    with pytest.raises(UnsupportedOperationException) as info:
        file_stream(spark, landing).writeStream.foreachBatch(lambda df, batch_id: None).option(
            "checkpointLocation", ck
        ).start()
    assert "foreachBatch" in error_text(info.value)
    server_still_answers_spark(spark)


@needs_sluice
def test_foreach_is_refused(spark, landing, ck):
    landing.put_json("a.json", records([1]))
    with pytest.raises(UnsupportedOperationException) as info:
        file_stream(spark, landing).writeStream.foreach(lambda row: None).option("checkpointLocation", ck).start()
    assert "foreach" in error_text(info.value)
    server_still_answers_spark(spark)


# ================================================================ the query API


@needs_sluice
@pytest.mark.parametrize(
    "build, words",
    [
        (lambda df: df.join(df.withColumnRenamed("name", "n2"), "id"), "stream-stream"),
        (lambda df: df.orderBy("id"), "Sorting is not supported"),
        (lambda df: df.dropDuplicates(["id"]).dropDuplicates(["name"]), "More than one dropDuplicates"),
    ],
    ids=["stream_stream_join", "sort_in_append", "two_deduplications"],
)
def test_operations_a_micro_batch_cannot_run_are_refused_at_start(spark, landing, ck, tmp_path, build, words):
    """Per-batch answers would be wrong for these (state across batches), so start() refuses
    them with an AnalysisException naming the operation instead of running them."""
    landing.put_json("a.json", records([1, 1, 2]))
    with pytest.raises(AnalysisException) as info:
        writer(build(file_stream(spark, landing)), ck, fmt="parquet").start(str(tmp_path / "out"))
    assert words in error_text(info.value)
    assert not visible_files(tmp_path / "out", ".parquet")


def test_update_mode_emits_the_groups_each_batch_changed(spark, landing, ck):
    """Spark 4.3 (local), memory sink, outputMode update, one file per trigger: the sink gets
    every group of the first batch, then only the groups the second batch changed."""
    landing.put_json("a.json", [{"id": 1, "name": "a"}, {"id": 2, "name": "a"}, {"id": 3, "name": "b"}])
    df = file_stream(spark, landing, options={"maxFilesPerTrigger": 1})
    q = writer(df.groupBy("name").count(), ck, fmt="memory", mode="update", trigger={"processingTime": "0 seconds"}, name="upd").start()
    try:
        q.processAllAvailable()
        landing.put_json("b.json", [{"id": 4, "name": "a"}, {"id": 5, "name": "c"}])
        q.processAllAvailable()
        rows = sorted(tuple(r) for r in spark.sql("select * from upd").collect())
    finally:
        q.stop()
    assert rows == [("a", 2), ("a", 3), ("b", 1), ("c", 1)]


def test_complete_mode_aggregate_may_be_sorted(spark, landing, ck):
    landing.put_json("a.json", records([1, 2, 3]))
    agg = file_stream(spark, landing).groupBy("name").count().orderBy("name")
    finish(writer(agg, ck, fmt="memory", mode="complete", name="sorted_counts").start())
    assert [r["name"] for r in spark.sql("select * from sorted_counts").collect()] == sorted(
        r["name"] for r in spark.sql("select * from sorted_counts").collect()
    )
    assert spark.sql("select count(*) from sorted_counts").collect()[0][0] == 3


def test_ended_query_stays_answerable_after_others_start(spark, landing, ck, tmp_path):
    """A query that ended still answers lastProgress / exception() / isActive after other
    queries have started in the session (Spark keeps ended queries for the client)."""
    landing.put_json("a.json", records([1, 2]))
    first = run_to_path(file_stream(spark, landing), f"{ck}-1", tmp_path / "out1", fmt="parquet")
    second = run_to_path(file_stream(spark, landing), f"{ck}-2", tmp_path / "out2", fmt="parquet")
    assert first.id != second.id
    assert not first.isActive
    assert first.exception() is None
    assert first.lastProgress is not None and first.lastProgress.numInputRows == 2
    assert second.lastProgress.numInputRows == 2


def test_start_result_ids_and_name(spark, landing, ck, tmp_path):
    landing.put_json("a.json", records([1]))
    q = writer(file_stream(spark, landing), ck, fmt="parquet", name="named_q").start(str(tmp_path / "out"))
    assert uuid_string(q.id) and uuid_string(q.runId) and q.id != q.runId
    assert q.name == "named_q"
    finish(q)
    landing.put_json("b.json", records([2]))
    q2 = writer(file_stream(spark, landing), ck, fmt="parquet").start(str(tmp_path / "out"))
    finish(q2)
    assert q2.name is None  # Spark 4.3: no queryName -> None
    assert q2.id == q.id  # the id comes from the checkpoint
    assert q2.runId != q.runId  # a new run


def test_status_keys(spark, landing, ck):
    landing.put_json("a.json", records([1]))
    q = file_stream(spark, landing).writeStream.format("memory").queryName("status_q").option(
        "checkpointLocation", ck
    ).trigger(processingTime="1 second").start()
    try:
        q.processAllAvailable()
        st = q.status
        assert set(st) == {"message", "isDataAvailable", "isTriggerActive"}
        assert isinstance(st["message"], str) and st["message"]
        assert isinstance(st["isDataAvailable"], bool) and isinstance(st["isTriggerActive"], bool)
    finally:
        q.stop()
    # Spark 4.3 after stop(): {'message': 'Stopped', 'isDataAvailable': False, 'isTriggerActive': False}
    assert q.status == {"message": "Stopped", "isDataAvailable": False, "isTriggerActive": False}


PROGRESS_KEYS = {"id", "runId", "name", "timestamp", "batchId", "batchDuration", "durationMs", "stateOperators",
                 "sources", "sink"}
SOURCE_KEYS = {"description", "startOffset", "endOffset", "latestOffset", "numInputRows", "inputRowsPerSecond",
               "processedRowsPerSecond", "metrics"}
SINK_KEYS = {"description", "numOutputRows"}


def check_progress(q, rows_per_batch):
    """Spark's progress JSON shape (Spark 4.3 sends these keys; PySpark's fromJson needs
    them), batch ids counting from 0, and the rows each batch read."""
    progress = data_batches(q)
    assert [p.numInputRows for p in progress] == rows_per_batch
    assert [p.batchId for p in progress] == list(range(len(rows_per_batch)))
    for p in progress:
        raw = json.loads(p.json)
        assert PROGRESS_KEYS <= set(raw), sorted(PROGRESS_KEYS - set(raw))
        assert raw["id"] == q.id and raw["runId"] == q.runId and raw["name"] == q.name
        datetime.datetime.strptime(raw["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ")  # e.g. 2026-11-22T09:03:34.818Z
        assert isinstance(raw["batchDuration"], int) and raw["batchDuration"] >= 0
        assert "triggerExecution" in raw["durationMs"]
        assert isinstance(raw["stateOperators"], list)
        assert len(raw["sources"]) == 1
        src = raw["sources"][0]
        assert SOURCE_KEYS <= set(src), sorted(SOURCE_KEYS - set(src))
        assert src["numInputRows"] == p.numInputRows
        assert isinstance(src["description"], str) and src["description"]
        assert src["endOffset"] is not None
        assert SINK_KEYS <= set(raw["sink"]), sorted(SINK_KEYS - set(raw["sink"]))
        assert all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (p.inputRowsPerSecond, p.processedRowsPerSecond))
        assert str(p.id) == q.id and str(p.runId) == q.runId
        assert p.sources[0].numInputRows == p.numInputRows
    assert q.lastProgress is not None and q.lastProgress.batchId == q.recentProgress[-1].batchId
    return progress


def test_progress_of_a_file_stream(spark, landing, ck, tmp_path):
    """Spark 4.3, json source -> parquet sink, 3 files, maxFilesPerTrigger 2: batches of 4
    and 2 rows; source description "FileStreamSource[file:<dir>]", startOffset null then
    {"logOffset":0}, endOffset {"logOffset":0} then {"logOffset":1}."""
    for i in range(3):
        landing.put_json(f"f{i}.json", records([i * 10, i * 10 + 1]))
    q = run_to_path(file_stream(spark, landing, options={"maxFilesPerTrigger": 2}), ck, tmp_path / "out",
                    fmt="parquet", name="progress_q")
    progress = check_progress(q, [4, 2])
    assert progress[0].sources[0].startOffset in (None, "null")
    assert progress[1].sources[0].startOffset == progress[0].sources[0].endOffset


@needs_sluice
def test_progress_of_auto_loader_into_delta(spark, landing, schema_dir, ck, tmp_path):
    """Auto Loader reports its backlog in the source metrics (Databricks:
    numFilesOutstanding, numBytesOutstanding); drained at the end of availableNow."""
    for i in range(3):
        landing.put_json(f"f{i}.json", records([i]))
    q = run_to_path(autoloader(spark, landing, schema_dir, options={"cloudFiles.maxFilesPerTrigger": "1"}),
                    ck, tmp_path / "out", name="al_q")
    progress = check_progress(q, [1, 1, 1])
    metrics = progress[-1].sources[0].metrics
    assert {"numFilesOutstanding", "numBytesOutstanding"} <= set(metrics), metrics
    assert int(metrics["numFilesOutstanding"]) == 0 and int(metrics["numBytesOutstanding"]) == 0
    first = progress[0].sources[0].metrics
    assert int(first["numFilesOutstanding"]) in (2, 3)  # before or after taking its file


@needs_sluice
def test_progress_of_an_aggregation_has_state_operators(spark, landing, ck, tmp_path):
    landing.put_json("a.json", [{"id": 1, "category": "a"}, {"id": 2, "category": "b"}])
    df = file_stream(spark, landing, schema="id long, category string")
    q = run_to_path(df.groupBy("category").count(), ck, tmp_path / "out", mode="complete")
    [p] = data_batches(q)
    assert len(p.stateOperators) >= 1
    op = json.loads(p.stateOperators[0].json)
    assert {"operatorName", "numRowsTotal", "numRowsUpdated", "numRowsRemoved", "memoryUsedBytes"} <= set(op)
    assert op["numRowsTotal"] == 2


def test_await_termination_stop_and_is_active(spark, landing, ck):
    """Spark 4.3: awaitTermination(1) on a running query returns False after about a second;
    after stop() awaitTermination(1) is True and awaitTermination() returns None."""
    landing.put_json("a.json", records([1]))
    q = file_stream(spark, landing).writeStream.format("memory").queryName("await_q").option(
        "checkpointLocation", ck
    ).trigger(processingTime="1 second").start()
    assert q.isActive
    started = time.monotonic()
    assert q.awaitTermination(1) is False
    assert time.monotonic() - started >= 0.9
    q.processAllAvailable()
    assert spark.sql("select count(*) as n from await_q").first().n == 1
    q.stop()
    assert not q.isActive
    assert q.awaitTermination(1) is True
    assert q.awaitTermination() is None
    assert q.exception() is None
    q.stop()  # a second stop is harmless (Spark 4.3)


def test_explain(spark, landing, ck, capsys):
    landing.put_json("a.json", records([1]))
    q = file_stream(spark, landing).writeStream.format("memory").queryName("explain_q").option(
        "checkpointLocation", ck
    ).start()
    try:
        q.processAllAvailable()
        capsys.readouterr()
        q.explain()
        text = capsys.readouterr().out
    finally:
        q.stop()
    assert "== Physical Plan ==" in text  # Spark 4.3 prints the last batch's physical plan


def test_streams_manager_active_get_await_any_reset(spark, landing, ck):
    """Spark 4.3: active lists the running query, get(id) finds it (and gives None once it
    stopped); awaitAnyTermination(1) is False while it runs, True once it stopped,
    awaitAnyTermination() then returns at once, and after resetTerminated() it waits again."""
    landing.put_json("a.json", records([1]))
    q = file_stream(spark, landing).writeStream.format("memory").queryName("mgr_q").option(
        "checkpointLocation", ck
    ).trigger(processingTime="1 second").start()
    try:
        assert [a.id for a in spark.streams.active] == [q.id]
        got = spark.streams.get(q.id)
        assert got is not None and got.id == q.id and got.name == "mgr_q"
        assert spark.streams.awaitAnyTermination(1) is False
    finally:
        q.stop()
    assert spark.streams.active == []
    assert spark.streams.get(q.id) is None
    assert spark.streams.awaitAnyTermination(1) is True
    started = time.monotonic()
    spark.streams.awaitAnyTermination()
    assert time.monotonic() - started < 30
    spark.streams.resetTerminated()
    assert spark.streams.awaitAnyTermination(1) is False


def test_same_query_name_twice_is_refused(spark):
    """Spark 4.3: IllegalArgumentException "Cannot start query with name dup as a query with
    that name is already active in this SparkSession"."""
    q = spark.readStream.format("rate").load().writeStream.format("memory").queryName("dup").start()
    try:
        with pytest.raises(IllegalArgumentException) as info:
            spark.readStream.format("rate").load().writeStream.format("memory").queryName("dup").start()
        assert "already active" in error_text(info.value)
    finally:
        q.stop()


def bad_gzip(kind: str) -> bytes:
    import gzip

    if kind == "garbage":
        return b"this is not gzip at all\n" * 3
    data = gzip.compress(b"".join(json.dumps({"id": 1000 + i}).encode() + b"\n" for i in range(2000)))
    return data[: len(data) // 2]


def test_failed_query_raises_streaming_query_exception(spark, landing, ck, tmp_path):
    """Spark 4.3: awaitTermination raises pyspark.errors.StreamingQueryException (condition
    STREAM_FAILED) whose message has the cause: [FAILED_READ_FILE.NO_HINT] Encountered error
    while reading file file:///.../b.json.gz; exception() returns the same; isActive is False;
    and StreamingQueryManager.awaitAnyTermination() raises it until resetTerminated()."""
    landing.put_json("a.json", records([1]))
    landing.put_bytes("b.json.gz", bad_gzip("garbage"))
    q = writer(file_stream(spark, landing, options={"maxFilesPerTrigger": 1}), ck, fmt="parquet").start(
        str(tmp_path / "out")
    )
    with pytest.raises(StreamingQueryException) as info:
        q.awaitTermination(TIMEOUT)
    assert "b.json.gz" in error_text(info.value)
    assert not q.isActive
    exc = q.exception()
    assert isinstance(exc, StreamingQueryException) and "b.json.gz" in error_text(exc)
    with pytest.raises(StreamingQueryException):
        spark.streams.awaitAnyTermination(5)
    spark.streams.resetTerminated()
    assert spark.streams.awaitAnyTermination(1) is False
    assert parquet_rows(tmp_path / "out", ["id"]) == [(1,)]  # the good batch before it


# ================================================================ streaming DataFrames


def test_is_streaming(spark, landing):
    landing.put_json("a.json", records([1]))
    assert file_stream(spark, landing).isStreaming
    assert spark.readStream.format("rate").load().isStreaming
    assert file_stream(spark, landing).filter("id > 0").select("id").isStreaming
    assert not spark.range(3).isStreaming
    assert not spark.read.json(str(landing)).isStreaming


@pytest.mark.parametrize("action", ["collect", "count", "show"])
def test_batch_action_on_a_stream_is_refused(spark, landing, action):
    """Spark 4.3: AnalysisException "Queries with streaming sources must be executed with
    writeStream.start(), ..." (_LEGACY_ERROR_TEMP_3102)."""
    landing.put_json("a.json", records([1]))
    df = file_stream(spark, landing)
    with pytest.raises(AnalysisException) as info:
        getattr(df, action)()
    assert "Queries with streaming sources must be executed with writeStream.start()" in error_text(info.value)


@needs_sluice
def test_is_streaming_for_auto_loader_and_delta(spark, landing, schema_dir, tmp_path):
    landing.put_json("a.json", records([1]))
    assert autoloader(spark, landing, schema_dir).isStreaming
    delta_append(spark, tmp_path / "src", [1])
    assert spark.readStream.format("delta").load(str(tmp_path / "src")).isStreaming
    with pytest.raises(AnalysisException) as info:
        autoloader(spark, landing, schema_dir).collect()
    assert "writeStream.start()" in error_text(info.value)


# ================================================================ bad input


def test_malformed_json_line_goes_to_corrupt_record(spark, landing, ck, tmp_path):
    """Spark 4.3, PERMISSIVE with _corrupt_record in the schema: the bad line is a row with
    NULL fields and the line's text in _corrupt_record; the other rows are unharmed."""
    landing.put_text("a.json", '{"id":1,"name":"a"}\n{"id":2,"name":"b"}\n')
    landing.put_text("b.json", '{"id":3,"name":"c"}\n{"id": 4, "name": bad json\n{"id":5,"name":"e"}\n')
    df = file_stream(spark, landing, schema="id long, name string, _corrupt_record string")
    out = tmp_path / "out"
    run_to_path(df, ck, out, fmt="parquet")
    assert parquet_rows(out, ["id", "name", "_corrupt_record"]) == [
        (1, "a", None), (2, "b", None), (3, "c", None), (5, "e", None), (None, None, '{"id": 4, "name": bad json'),
    ]


@needs_sluice
def test_auto_loader_malformed_json_line_is_kept(spark, landing, schema_dir, ck, tmp_path):
    """A malformed line does not stop the stream and is not lost: its row has a NULL id and
    its text is kept in _rescued_data (or in _corrupt_record when that column is hinted)."""
    landing.put_text("a.json", '{"id":"1","name":"a"}\n{"id": 4, "name": bad json\n{"id":"5","name":"e"}\n')
    out = tmp_path / "out"
    q = run_to_path(autoloader(spark, landing, schema_dir), ck, out)
    assert q.exception() is None
    rows = delta_dicts(out)
    assert sorted(r["id"] for r in rows if r["id"] is not None) == ["1", "5"]
    [bad] = [r for r in rows if r["id"] is None]
    kept = " ".join(str(bad.get(c)) for c in ("_rescued_data", "_corrupt_record") if bad.get(c) is not None)
    assert "bad json" in kept, bad


@pytest.mark.parametrize("kind", ["garbage", "truncated", "unreadable"])
@needs_sluice
def test_unreadable_file_fails_then_restart_continues(server, spark, landing, ck, tmp_path, kind):
    """A file that cannot be read fails the query with an error naming it (Spark 4.3:
    FAILED_READ_FILE.NO_HINT "Encountered error while reading file file:///.../b.json.gz",
    for a non-gzip and for a truncated gzip file); the checkpoint stays at the last good
    batch; once the file is fixed, a restart continues and every row lands exactly once; the
    server keeps serving."""
    if kind == "unreadable" and os.geteuid() == 0:
        pytest.skip("running as root: a file with mode 000 is still readable")
    out = tmp_path / "out"
    landing.put_json("a.json", records([1, 2]))
    if kind == "unreadable":
        bad = landing.put_json("b.json.gz", records([10, 11]), compress=True)
        os.chmod(bad, 0)
    else:
        bad = landing.put_bytes("b.json.gz", bad_gzip(kind))
    landing.put_json("c.json", records([3]))

    def run():
        return run_to_path(file_stream(spark, landing, options={"maxFilesPerTrigger": 1}), ck, out)

    with pytest.raises(StreamingQueryException) as info:
        run()
    assert "b.json.gz" in error_text(info.value)
    assert delta_ids(out) == [1, 2]
    assert checkpoint_batches(ck, "commits") == [0]
    server_still_answers(server)

    # fixed in place (same name, same size class), then restarted from the same checkpoint
    if kind == "unreadable":
        os.chmod(bad, 0o644)
    else:
        os.remove(bad)
        landing.put_json("b.json.gz", records([10, 11]), compress=True)
    q = run()
    assert delta_ids(out) == [1, 2, 3, 10, 11]
    assert [p.batchId for p in data_batches(q)] == [1, 2]  # continues after batch 0
    server_still_answers(server)


# ================================================================ checkpoint layout and exactly once


def test_checkpoint_layout(spark, landing, ck, tmp_path):
    """Spark 4.3 layout: metadata is {"id":"<query id>"}; offsets/<n> and commits/<n> start
    with a "v1" line; sources/0/<n> lists the files batch n took, one JSON object
    {"path": "file:///...", "timestamp": ..., "batchId": n} a line after "v1"."""
    out = tmp_path / "out"
    landing.put_json("first.json", records([1]))
    q = run_to_path(file_stream(spark, landing), ck, out, fmt="parquet")
    root = Path(ck)
    meta = json.loads((root / "metadata").read_text())
    assert meta["id"] == q.id
    assert (root / "offsets" / "0").read_text().splitlines()[0] == "v1"
    assert (root / "commits" / "0").read_text().splitlines()[0] == "v1"
    listed = (root / "sources" / "0" / "0").read_text().splitlines()
    assert listed[0] == "v1"
    entries = [json.loads(line) for line in listed[1:]]
    assert [e["path"].rsplit("/", 1)[-1] for e in entries] == ["first.json"]
    assert all(e["batchId"] == 0 for e in entries)

    landing.put_json("second.json", records([2]))
    q2 = run_to_path(file_stream(spark, landing), ck, out, fmt="parquet")
    assert q2.id == q.id
    assert json.loads((root / "metadata").read_text())["id"] == q.id
    assert [p.batchId for p in data_batches(q2)] == [1]
    assert checkpoint_batches(ck, "offsets")[-1] == 1 and checkpoint_batches(ck, "commits")[-1] == 1
    assert "second.json" in (root / "sources" / "0" / "1").read_text()
    assert parquet_rows(out, ["id"]) == [(1,), (2,)]


@needs_sluice
def test_auto_loader_checkpoint_layout(spark, landing, schema_dir, ck, tmp_path):
    landing.put_json("a.json", records([1]))
    q = run_to_path(autoloader(spark, landing, schema_dir), ck, tmp_path / "out")
    root = Path(ck)
    assert json.loads((root / "metadata").read_text())["id"] == q.id
    assert checkpoint_batches(ck, "offsets") == [0] and checkpoint_batches(ck, "commits") == [0]
    assert (root / "sources" / "0").is_dir() and any((root / "sources" / "0").iterdir())


@needs_sluice
def test_replayed_batch_is_not_written_twice(spark, landing, ck, tmp_path):
    """A crash between the Delta commit and commits/<n>: simulated by deleting the last
    commits file. The restart replays batch n, Delta's txn (query id, batch id) shows it is
    already in the table, and nothing is written twice."""
    out = tmp_path / "out"
    for i in range(2):
        landing.put_json(f"f{i}.json", records([i * 10, i * 10 + 1]))

    def run():
        return run_to_path(file_stream(spark, landing, options={"maxFilesPerTrigger": 1}), ck, out)

    q = run()
    assert checkpoint_batches(ck, "commits") == [0, 1]
    version = dl(out).version()
    os.remove(Path(ck) / "commits" / "1")

    run()
    assert delta_ids(out) == [0, 1, 10, 11]
    assert dl(out).version() == version  # the replay did not commit again
    assert checkpoint_batches(ck, "commits") == [0, 1]
    assert dl(out).transaction_version(q.id) == 1

    landing.put_json("f2.json", records([20]))
    q3 = run()
    assert [p.batchId for p in data_batches(q3)] == [2]
    assert delta_ids(out) == [0, 1, 10, 11, 20]
    assert dl(out).transaction_version(q.id) == 2


@needs_sluice
def test_replayed_batch_of_a_managed_table(spark, landing, schema_dir, ck, warehouse):
    landing.put_json("a.json", records([1, 2]))
    run_to_table(autoloader(spark, landing, schema_dir), ck, "bronze")
    os.remove(Path(ck) / "commits" / "0")
    run_to_table(autoloader(spark, landing, schema_dir), ck, "bronze")
    assert delta_ids(warehouse / "bronze") == ["1", "2"]
    assert len(streaming_commits(warehouse / "bronze")) == 1


@needs_sluice
def test_query_survives_a_server_restart(server, landing, schema_dir, ck, tmp_path):
    """Stop the server between runs: the checkpoint alone carries the query on."""
    from harness.delta import session_on

    out = tmp_path / "out"
    landing.put_json("a.json", records([1]))
    s = session_on(server)
    q1 = run_to_path(autoloader(s, landing, schema_dir), ck, out)
    stop_quietly(s)
    server.stop()
    landing.put_json("b.json", records([2]))
    server.start()
    s = session_on(server)
    try:
        q2 = run_to_path(autoloader(s, landing, schema_dir), ck, out)
        assert q2.id == q1.id
        assert [p.batchId for p in data_batches(q2)] == [1]
    finally:
        stop_quietly(s)
    assert delta_ids(out) == ["1", "2"]
