"""Delta tables on Azure storage (`abfss://container@account.dfs.core.windows.net/...`,
`az://container/...`), against Azurite (the Azure Storage emulator, from the npm registry;
scripts/test.sh installs it), with the account, key and endpoint from the standard
`AZURE_STORAGE_*` variables the server inherits. delta-rs' Python reader checks what landed
in the container."""

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from pyspark.errors import AnalysisException

from harness.delta import (  # noqa: F401 - fixtures
    client_rows,
    make_server,
    message,
    race_appends,
    session_on,
    sql,
    warehouse_of,
)
from harness.servers import _accepts_connections, free_port
from harness.session import stop_quietly

pytestmark = [pytest.mark.delta]

CONTAINER = "lake"
# Azurite's built-in development account (public, documented by Microsoft).
ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
ABFSS = f"abfss://{CONTAINER}@{ACCOUNT}.dfs.core.windows.net"


def azurite_binary() -> str:
    found = os.environ.get("SLUICE_AZURITE") or shutil.which("azurite-blob")
    default = Path.home() / ".cache/sluice-azurite/node_modules/.bin/azurite-blob"
    if not found and default.exists():
        found = str(default)
    if not found:
        message_ = "azurite-blob not found (scripts/test.sh installs it with npm; or set SLUICE_AZURITE)"
        if os.environ.get("CI"):
            pytest.fail(message_)
        pytest.skip(message_)
    return found


@pytest.fixture(scope="module")
def azure(tmp_path_factory):
    """An Azurite blob server with one container; the AZURE_STORAGE_* variables point at it
    in the environment of the servers the tests start (not of the test process)."""
    port = free_port()
    log = open(tmp_path_factory.mktemp("azurite") / "azurite.log", "wb")
    proc = subprocess.Popen(
        [azurite_binary(), "--blobHost", "127.0.0.1", "--blobPort", str(port), "--inMemoryPersistence", "--skipApiVersionCheck"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while not _accepts_connections(port):
        assert proc.poll() is None and time.monotonic() < deadline, "azurite did not start"
        time.sleep(0.1)
    endpoint = f"http://127.0.0.1:{port}/{ACCOUNT}"
    env = {
        "AZURE_STORAGE_ACCOUNT_NAME": ACCOUNT,
        "AZURE_STORAGE_ACCOUNT_KEY": KEY,
        "AZURE_STORAGE_ENDPOINT": endpoint,
        "AZURE_ALLOW_HTTP": "true",
    }
    from azure.storage.blob import BlobServiceClient

    BlobServiceClient.from_connection_string(
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};BlobEndpoint={endpoint};"
    ).create_container(CONTAINER)
    yield env
    # Azurite finishes open requests before it exits on SIGTERM; kill it if that lingers.
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@pytest.fixture
def server(azure, tmp_path):
    srv = make_server(warehouse_of(tmp_path), env=azure)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def spark(server):
    session = session_on(server)
    yield session
    stop_quietly(session)


def remote(azure, path: str):
    """delta-rs (Python) reading the table straight from the container."""
    from deltalake import DeltaTable

    options = {k.lower(): v for k, v in azure.items()}
    return DeltaTable(f"{ABFSS}/{path}", storage_options=options)


def remote_rows(azure, path: str):
    return sorted(tuple(r.values()) for r in remote(azure, path).to_pyarrow_table().to_pylist())


def test_write_append_overwrite_read_on_azure(spark, azure):
    t = f"{ABFSS}/t"
    spark.createDataFrame([(1, "a"), (2, "b")], "id int, name string").write.format("delta").save(t)
    # az://container/path names the same table (the account comes from AZURE_STORAGE_ACCOUNT_NAME)
    spark.createDataFrame([(3, "c")], "id int, name string").write.format("delta").mode("append").save(f"az://{CONTAINER}/t")
    assert client_rows(spark.read.format("delta").load(t)) == [(1, "a"), (2, "b"), (3, "c")]
    assert remote_rows(azure, "t") == [(1, "a"), (2, "b"), (3, "c")]
    spark.createDataFrame([(9, "z")], "id int, name string").write.format("delta").mode("overwrite").save(t)
    assert client_rows(spark.read.format("delta").load(t)) == [(9, "z")]
    assert remote_rows(azure, "t") == [(9, "z")]
    assert remote(azure, "t").version() == 2
    assert [h["operation"] for h in reversed(remote(azure, "t").history())] == ["WRITE", "WRITE", "WRITE"]
    # time travel, history and mode error against the container as against a folder
    assert client_rows(spark.read.format("delta").option("versionAsOf", 1).load(t)) == [(1, "a"), (2, "b"), (3, "c")]
    history = spark.sql(f"DESCRIBE HISTORY delta.`{t}`").collect()
    assert [r["version"] for r in history] == [2, 1, 0]
    with pytest.raises(AnalysisException, match="DELTA_PATH_EXISTS"):
        spark.range(1).write.format("delta").save(t)


def test_external_table_sql_and_dml_on_azure(spark, azure):
    sql(spark, f"CREATE TABLE ev (id BIGINT, v STRING) USING DELTA LOCATION '{ABFSS}/ev'")
    sql(spark, "INSERT INTO ev VALUES (1, 'x'), (2, 'y'), (3, 'w')")
    sql(spark, "UPDATE ev SET v = 'z' WHERE id = 2")
    sql(spark, "DELETE FROM ev WHERE id = 3")
    sql(
        spark,
        "MERGE INTO ev USING (SELECT 1 AS id, 'm' AS v UNION ALL SELECT 4, 'n') s ON ev.id = s.id "
        "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *",
    )
    assert client_rows(spark.table("ev")) == [(1, "m"), (2, "z"), (4, "n")]
    assert remote_rows(azure, "ev") == [(1, "m"), (2, "z"), (4, "n")]
    assert [h["operation"] for h in reversed(remote(azure, "ev").history())] == [
        "CREATE TABLE", "WRITE", "UPDATE", "DELETE", "MERGE"
    ]
    assert [r["operation"] for r in spark.sql("DESCRIBE HISTORY ev LIMIT 2").collect()] == ["MERGE", "DELETE"]
    # saveAsTable of an external table at an Azure path
    spark.range(3).write.option("path", f"{ABFSS}/ext").saveAsTable("ext")
    assert remote_rows(azure, "ext") == [(0,), (1,), (2,)]
    assert client_rows(spark.table("ext")) == [(0,), (1,), (2,)]


def test_missing_table_on_azure_is_an_analysis_error(spark, azure):
    with pytest.raises(AnalysisException, match="DELTA_MISSING_DELTA_TABLE"):
        spark.read.format("delta").load(f"{ABFSS}/nothing").collect()


def test_racing_appends_on_azure_each_get_a_version(server, azure):
    """Commits are put-if-absent on Azure (If-None-Match: *): two sessions appending at once
    both land, in consecutive versions, and no commit overwrites another."""
    first = session_on(server)
    path = f"{ABFSS}/race"
    first.range(0).write.format("delta").save(path)
    expected = race_appends(server, path, per_client=4, stride=100)
    assert client_rows(first.read.format("delta").load(path)) == expected
    assert remote(azure, "race").version() == 8
    stop_quietly(first)


def test_wrong_account_key_fails_quickly_naming_the_location(azure, tmp_path):
    """Azurite refuses a request signed with another key (403): the write fails within
    seconds as an AnalysisException naming the table, and the server stays up."""
    srv = make_server(warehouse_of(tmp_path), env={**azure, "AZURE_STORAGE_ACCOUNT_KEY": "d3Jvbmcga2V5IGZvciB0aGUgdGVzdA=="})
    srv.start()
    spark = session_on(srv)
    try:
        started = time.monotonic()
        with pytest.raises(AnalysisException) as e:
            spark.range(1).write.format("delta").save(f"{ABFSS}/denied")
        assert time.monotonic() - started < 20
        assert f"{ABFSS}/denied" in message(e.value)
        assert "403" in message(e.value)
        assert spark.range(2).count() == 2
    finally:
        stop_quietly(spark)
        srv.stop()
