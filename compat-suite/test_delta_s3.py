"""Delta tables on an S3 object store (`s3://`, `s3a://`), against moto's S3 server (a local
S3-compatible server from PyPI), with credentials and endpoint from the AWS environment
variables the server inherits. delta-rs' Python reader checks what landed in the bucket."""

import os
import shutil
import subprocess
import time

import pytest
from pyspark.errors import AnalysisException

from harness.delta import (  # noqa: F401 - fixtures
    client_rows,
    make_server,
    race_appends,
    session_on,
    sql,
    warehouse_of,
)
from harness.servers import _accepts_connections, free_port
from harness.session import stop_quietly

pytestmark = [pytest.mark.delta]

BUCKET = "lake"


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """A moto S3 server with one bucket; the AWS_* variables point at it in the
    environment of the servers the tests start (not of the test process)."""
    moto = shutil.which("moto_server") or os.path.join(os.path.dirname(os.sys.executable), "moto_server")
    port = free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "wb")
    proc = subprocess.Popen([moto, "-p", str(port)], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while not _accepts_connections(port):
        assert proc.poll() is None and time.monotonic() < deadline, "moto_server did not start"
        time.sleep(0.1)
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ALLOW_HTTP": "true",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    import boto3

    boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    ).create_bucket(Bucket=BUCKET)
    yield env
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def server(s3, tmp_path):
    srv = make_server(warehouse_of(tmp_path), env=s3)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def spark(server):
    session = session_on(server)
    yield session
    stop_quietly(session)


def remote(s3, path: str):
    """delta-rs (Python) reading the table straight from the bucket."""
    from deltalake import DeltaTable

    return DeltaTable(f"s3://{BUCKET}/{path}", storage_options=dict(s3))


def test_write_append_read_on_s3(spark, s3):
    spark.createDataFrame([(1, "a"), (2, "b")], "id int, name string").write.format("delta").save(f"s3://{BUCKET}/t")
    spark.createDataFrame([(3, "c")], "id int, name string").write.format("delta").mode("append").save(f"s3a://{BUCKET}/t")
    assert client_rows(spark.read.format("delta").load(f"s3://{BUCKET}/t")) == [(1, "a"), (2, "b"), (3, "c")]
    t = remote(s3, "t")
    assert t.version() == 1
    assert sorted(t.to_pyarrow_table().to_pylist(), key=lambda r: r["id"]) == [
        {"id": 1, "name": "a"},
        {"id": 2, "name": "b"},
        {"id": 3, "name": "c"},
    ]
    assert [h["operation"] for h in reversed(t.history())] == ["WRITE", "WRITE"]
    # time travel and mode error work against the bucket as against a folder
    assert client_rows(spark.read.format("delta").option("versionAsOf", 0).load(f"s3://{BUCKET}/t")) == [(1, "a"), (2, "b")]
    with pytest.raises(AnalysisException, match="DELTA_PATH_EXISTS"):
        spark.range(1).write.format("delta").save(f"s3://{BUCKET}/t")


def test_external_table_and_sql_on_s3(spark, s3):
    sql(spark, f"CREATE TABLE ev (id BIGINT, v STRING) USING DELTA LOCATION 's3://{BUCKET}/ev'")
    sql(spark, "INSERT INTO ev VALUES (1, 'x'), (2, 'y')")
    sql(spark, "UPDATE ev SET v = 'z' WHERE id = 2")
    assert client_rows(spark.table("ev")) == [(1, "x"), (2, "z")]
    assert sorted(r["v"] for r in remote(s3, "ev").to_pyarrow_table().to_pylist()) == ["x", "z"]


def test_missing_table_on_s3_is_an_analysis_error(spark, s3):
    with pytest.raises(AnalysisException, match="DELTA_MISSING_DELTA_TABLE"):
        spark.read.format("delta").load(f"s3://{BUCKET}/nothing").collect()


def test_racing_appends_on_s3_each_get_a_version(server, s3):
    """Commits are put-if-absent on S3 (If-None-Match): two sessions appending at once both
    land, in consecutive versions, and no commit overwrites another."""
    first = session_on(server)
    path = f"s3://{BUCKET}/race"
    first.range(0).write.format("delta").save(path)
    expected = race_appends(server, path, per_client=4, stride=100)
    assert client_rows(first.read.format("delta").load(path)) == expected
    assert remote(s3, "race").version() == 8
    stop_quietly(first)


def test_other_object_stores_are_refused_clearly(spark):
    with pytest.raises(Exception, match="not built in"):
        spark.range(1).write.format("delta").save("hdfs://namenode/t")


def test_history_names_operations_as_delta_on_s3(spark, s3, tmp_path):
    """The history in the bucket names each commit as Delta does: a CTAS, a streaming
    micro-batch (with its query id and epoch), and a REPLACE that takes the new properties."""
    sql(spark, f"CREATE TABLE ctas USING DELTA LOCATION 's3://{BUCKET}/ctas' AS SELECT 1 AS a")
    sql(spark, f"CREATE OR REPLACE TABLE ctas USING DELTA LOCATION 's3://{BUCKET}/ctas' TBLPROPERTIES ('team' = 'b') AS SELECT 2 AS a")
    t = remote(s3, "ctas")
    assert [h["operation"] for h in reversed(t.history())] == ["CREATE TABLE AS SELECT", "CREATE OR REPLACE TABLE AS SELECT"]
    assert t.metadata().configuration == {"team": "b"}
    assert sorted(r["a"] for r in t.to_pyarrow_table().to_pylist()) == [2]

    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "a.json").write_text('{"id": 1}\n{"id": 2}\n')
    q = (
        spark.readStream.format("json").schema("id LONG").load(str(landing))
        .writeStream.format("delta").option("checkpointLocation", str(tmp_path / "cp"))
        .trigger(availableNow=True).start(f"s3://{BUCKET}/stream")
    )
    q.awaitTermination(60)
    assert q.exception() is None
    history = remote(s3, "stream").history()
    assert [h["operation"] for h in history] == ["STREAMING UPDATE"]
    assert history[0]["operationParameters"]["queryId"] == q.id
    assert history[0]["operationParameters"]["epochId"] == "0"
    assert sorted(r["id"] for r in remote(s3, "stream").to_pyarrow_table().to_pylist()) == [1, 2]
