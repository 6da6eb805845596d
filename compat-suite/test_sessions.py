"""Sessions, reattachable execution, interrupts, auth and TLS: explicit assertions, nothing
recorded. The expectations follow what Apache Spark Connect 4.x does (checked by running
this module with SLUICE_REMOTE pointing at a Spark Connect server); the token and TLS
tests need sluice's own flags and are skipped then."""

import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import grpc
import pyarrow as pa
import pytest
from pyspark.errors import AnalysisException
from pyspark.errors.exceptions.connect import SparkConnectGrpcException
from pyspark.sql.connect.proto import base_pb2 as pb2
from pyspark.sql.connect.proto import base_pb2_grpc, commands_pb2

from conftest import sluice_binary, sluice_only
from harness.servers import sluice_server
from harness.session import new_session, stop_quietly

ROWS = 3_000_000  # 24 MB of longs: several Arrow batches on any server


def endpoint(url: str) -> str:
    parsed = urlparse(url.split(";")[0].rstrip("/"))
    return parsed.netloc


def raw_stub(url: str):
    channel = grpc.insecure_channel(
        endpoint(url), options=[("grpc.max_receive_message_length", 128 * 1024 * 1024)]
    )
    return channel, base_pb2_grpc.SparkConnectServiceStub(channel)


def condition(e: BaseException):
    fn = getattr(e, "getCondition", None) or getattr(e, "getErrorClass", None)
    return fn() if fn else None


@pytest.fixture
def two_sessions(remote):
    a, b = new_session(remote), new_session(remote)
    yield a, b
    stop_quietly(a)
    stop_quietly(b)


# ---------------------------------------------------------------- session isolation


def test_sessions_have_distinct_ids(two_sessions):
    a, b = two_sessions
    assert a.client._session_id != b.client._session_id


def test_temp_view_is_private_to_its_session(two_sessions):
    a, b = two_sessions
    a.range(3).createOrReplaceTempView("only_in_a")
    assert a.table("only_in_a").count() == 3
    with pytest.raises(AnalysisException) as info:
        b.table("only_in_a").collect()
    assert condition(info.value) == "TABLE_OR_VIEW_NOT_FOUND"
    with pytest.raises(AnalysisException) as info:
        b.sql("SELECT * FROM only_in_a").collect()
    assert condition(info.value) == "TABLE_OR_VIEW_NOT_FOUND"


def test_global_temp_view_is_shared(two_sessions):
    a, b = two_sessions
    a.range(4).createOrReplaceGlobalTempView("shared_between_sessions")
    try:
        assert b.table("global_temp.shared_between_sessions").count() == 4
        assert b.sql("SELECT sum(id) AS s FROM global_temp.shared_between_sessions").first().s == 6
        # ... but not under its bare name
        with pytest.raises(AnalysisException) as info:
            b.table("shared_between_sessions").collect()
        assert condition(info.value) == "TABLE_OR_VIEW_NOT_FOUND"
    finally:
        a.sql("DROP VIEW IF EXISTS global_temp.shared_between_sessions").collect()


def test_conf_is_private_to_its_session(two_sessions):
    a, b = two_sessions
    a.conf.set("sluice.test.private", "1")
    assert a.conf.get("sluice.test.private") == "1"
    assert b.conf.get("sluice.test.private", None) is None


def test_stop_then_new_session(remote):
    first = new_session(remote)
    first.range(2).createOrReplaceTempView("dies_with_session")
    assert first.range(5).count() == 5
    old_id = first.client._session_id
    first.stop()

    second = new_session(remote)
    try:
        assert second.client._session_id != old_id
        assert second.range(7).count() == 7
    finally:
        stop_quietly(second)

    # The default builder path works after a stop, too.
    from pyspark.sql import SparkSession

    third = SparkSession.builder.remote(remote).getOrCreate()
    try:
        assert third.range(3).count() == 3
    finally:
        stop_quietly(third)


def test_released_session_state_is_gone(remote):
    """After ReleaseSession, requests with the old session id do not see its temp views
    (Spark starts a fresh session for the id; refusing the id is fine too)."""
    s = new_session(remote)
    s.range(3).createOrReplaceTempView("released_view")
    session_id, user_id = s.client._session_id, s.client._user_id or ""
    s.client.release_session()
    s.stop()

    channel, stub = raw_stub(remote)
    try:
        req = pb2.ExecutePlanRequest(
            session_id=session_id,
            user_context=pb2.UserContext(user_id=user_id),
            plan=sql_plan("SELECT * FROM released_view"),
        )
        with pytest.raises(grpc.RpcError):
            for _ in stub.ExecutePlan(req, timeout=60):
                pass
    finally:
        channel.close()


# ---------------------------------------------------------------- reattachable execution


def sql_plan(query: str) -> pb2.Plan:
    from pyspark.sql.connect.proto import relations_pb2

    return pb2.Plan(root=relations_pb2.Relation(sql=relations_pb2.SQL(query=query)))


def range_plan(n: int) -> pb2.Plan:
    from pyspark.sql.connect.proto import relations_pb2

    return pb2.Plan(root=relations_pb2.Relation(range=relations_pb2.Range(start=0, end=n, step=1)))


def user_context(session) -> pb2.UserContext:
    """The user context the stock client sends: Spark keys sessions by (user, session id)."""
    return pb2.UserContext(user_id=session.client._user_id or "")


def reattachable_request(session, plan: pb2.Plan, operation_id: str) -> pb2.ExecutePlanRequest:
    req = pb2.ExecutePlanRequest(
        session_id=session.client._session_id,
        user_context=user_context(session),
        operation_id=operation_id,
        plan=plan,
        client_type="sluice-compat-suite",
    )
    req.request_options.append(
        pb2.ExecutePlanRequest.RequestOption(
            reattach_options=pb2.ReattachOptions(reattachable=True)
        )
    )
    return req


class Collected:
    """What arrived on one or more ExecutePlan / ReattachExecute streams."""

    def __init__(self):
        self.response_ids = []
        self.row_count = 0
        self.id_sum = 0
        self.batches = 0
        self.result_complete = False
        self.operation_ids = set()

    def take(self, resp: pb2.ExecutePlanResponse) -> None:
        assert resp.response_id, "every response of a reattachable execution needs a response_id"
        assert resp.response_id not in self.response_ids, f"response {resp.response_id} sent twice"
        self.response_ids.append(resp.response_id)
        self.operation_ids.add(resp.operation_id)
        kind = resp.WhichOneof("response_type")
        if kind == "arrow_batch":
            self.batches += 1
            reader = pa.ipc.open_stream(resp.arrow_batch.data)
            table = reader.read_all()
            assert table.num_rows == resp.arrow_batch.row_count
            self.row_count += table.num_rows
            if table.num_rows:
                self.id_sum += pa.compute.sum(table.column(0)).as_py()
        elif kind == "result_complete":
            self.result_complete = True


def release_execute(stub, session, operation_id: str) -> None:
    stub.ReleaseExecute(
        pb2.ReleaseExecuteRequest(
            session_id=session.client._session_id,
            user_context=user_context(session),
            operation_id=operation_id,
            release_all=pb2.ReleaseExecuteRequest.ReleaseAll(),
        ),
        timeout=30,
    )


def reattach(stub, session, operation_id: str, last_response_id):
    req = pb2.ReattachExecuteRequest(
        session_id=session.client._session_id,
        user_context=user_context(session),
        operation_id=operation_id,
        client_type="sluice-compat-suite",
    )
    if last_response_id:
        req.last_response_id = last_response_id
    return stub.ReattachExecute(req, timeout=120)


def test_large_collect_is_complete(spark):
    table = spark.range(ROWS).toArrow()
    assert table.num_rows == ROWS
    assert pa.compute.sum(table.column("id")).as_py() == ROWS * (ROWS - 1) // 2


def test_reattach_after_broken_stream(spark, remote):
    """Read part of a reattachable result, kill the connection, reattach on a new one
    from the last response seen: the rest arrives, nothing twice, nothing lost."""
    operation_id = str(uuid.uuid4())
    got = Collected()

    channel1, stub1 = raw_stub(remote)
    stream = stub1.ExecutePlan(reattachable_request(spark, range_plan(ROWS), operation_id), timeout=120)
    for resp in stream:
        got.take(resp)
        if got.batches >= 1:
            break
    assert got.batches == 1 and not got.result_complete, "the result came in one batch: make it bigger"
    stream.cancel()
    channel1.close()  # the client "disconnects"

    channel2, stub2 = raw_stub(remote)
    try:
        for resp in reattach(stub2, spark, operation_id, got.response_ids[-1]):
            got.take(resp)
        assert got.result_complete, "the reattached stream must end with result_complete"
        assert got.row_count == ROWS
        assert got.id_sum == ROWS * (ROWS - 1) // 2
        assert got.operation_ids == {operation_id}
    finally:
        release_execute(stub2, spark, operation_id)
        channel2.close()


def test_reattach_twice(spark, remote):
    """Break the stream twice; the second reattach resumes after the last response read
    on the first reattached stream."""
    operation_id = str(uuid.uuid4())
    got = Collected()
    channel, stub = raw_stub(remote)
    try:
        stream = stub.ExecutePlan(reattachable_request(spark, range_plan(ROWS), operation_id), timeout=120)
        for resp in stream:
            got.take(resp)
            if got.batches >= 1:
                break
        stream.cancel()

        stream = reattach(stub, spark, operation_id, got.response_ids[-1])
        for resp in stream:
            got.take(resp)
            if got.batches >= 2 or got.result_complete:
                break
        stream.cancel()

        for resp in reattach(stub, spark, operation_id, got.response_ids[-1]):
            got.take(resp)
        assert got.result_complete
        assert got.row_count == ROWS
        assert got.id_sum == ROWS * (ROWS - 1) // 2
    finally:
        release_execute(stub, spark, operation_id)
        channel.close()


def test_reattach_unknown_operation_fails(spark, remote):
    channel, stub = raw_stub(remote)
    try:
        with pytest.raises(grpc.RpcError) as info:
            for _ in reattach(stub, spark, str(uuid.uuid4()), None):
                pass
        assert "OPERATION_NOT_FOUND" in (info.value.details() or ""), info.value.details()
    finally:
        channel.close()


def test_client_collect_uses_reattachable_execution(spark):
    """The stock client path (reattachable by default) returns every row."""
    assert spark.client._use_reattachable_execute
    rows = spark.range(200_000).selectExpr("id % 7 AS k").groupBy("k").count().collect()
    assert sorted((r.k, r["count"]) for r in rows) == [
        (k, len(range(k, 200_000, 7))) for k in range(7)
    ]


# ---------------------------------------------------------------- interrupts

LONG_QUERY = "sum(id % 10)"  # no overflow, no shortcut: really scans 10**12 rows


def run_long_query_in_thread(session, tag=None):
    box = {}

    def run():
        if tag:
            session.addTag(tag)  # tags are per thread in the client
        started = time.monotonic()
        try:
            session.range(10**12).selectExpr(LONG_QUERY).collect()
            box["result"] = "finished"
        except BaseException as e:  # noqa: BLE001
            box["result"] = e
        box["ended"] = time.monotonic()
        box["took"] = box["ended"] - started

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box


def wait_until_running(session, predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ids = predicate()
        if ids:
            return ids
        time.sleep(0.2)
    return []


def assert_canceled(thread, box, interrupted_at):
    thread.join(30)
    assert not thread.is_alive(), "the interrupted query kept running for 30 s"
    err = box.get("result")
    assert isinstance(err, SparkConnectGrpcException), f"expected a canceled error, got {err!r}"
    assert condition(err) == "OPERATION_CANCELED", (condition(err), str(err)[:500])
    assert box["ended"] - interrupted_at < 10


def test_interrupt_tag(remote):
    s = new_session(remote)
    try:
        thread, box = run_long_query_in_thread(s, tag="long-one")
        time.sleep(1.0)
        ids = wait_until_running(s, lambda: s.interruptTag("long-one"))
        interrupted_at = time.monotonic()
        assert len(ids) == 1, ids
        assert_canceled(thread, box, interrupted_at)
        # The session is still usable.
        assert s.range(3).count() == 3
    finally:
        s.interruptAll()
        stop_quietly(s)


def test_interrupt_all(remote):
    s = new_session(remote)
    try:
        thread, box = run_long_query_in_thread(s)
        time.sleep(1.0)
        ids = wait_until_running(s, s.interruptAll)
        interrupted_at = time.monotonic()
        assert len(ids) >= 1
        assert_canceled(thread, box, interrupted_at)
    finally:
        s.interruptAll()
        stop_quietly(s)


def test_interrupt_operation(spark, remote):
    """interruptOperation(id) cancels exactly that operation (started here through a raw
    stub, so its id is known)."""
    operation_id = str(uuid.uuid4())
    plan = sql_plan("SELECT sum(id % 10) FROM range(1000000000000)")
    channel, stub = raw_stub(remote)
    box = {}

    def run():
        try:
            for _ in stub.ExecutePlan(reattachable_request(spark, plan, operation_id), timeout=120):
                pass
            box["result"] = "finished"
        except grpc.RpcError as e:
            box["result"] = e
        box["ended"] = time.monotonic()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        time.sleep(1.0)
        assert spark.interruptTag("no-such-tag") == []
        ids = wait_until_running(spark, lambda: spark.interruptOperation(operation_id))
        interrupted_at = time.monotonic()
        assert ids == [operation_id]
        thread.join(30)
        assert not thread.is_alive()
        err = box["result"]
        assert isinstance(err, grpc.RpcError), err
        assert "OPERATION_CANCELED" in (err.details() or ""), err.details()
        assert box["ended"] - interrupted_at < 10
    finally:
        spark.interruptOperation(operation_id)  # never leave a runaway query behind
        channel.close()


def test_interrupt_other_session_untouched(two_sessions):
    a, b = two_sessions
    thread, box = run_long_query_in_thread(a, tag="a-only")
    time.sleep(1.0)
    assert b.interruptAll() == []  # b has nothing running
    assert thread.is_alive()
    try:
        ids = wait_until_running(a, lambda: a.interruptTag("a-only"))
        assert len(ids) == 1
        assert_canceled(thread, box, time.monotonic())
    finally:
        a.interruptAll()


# ---------------------------------------------------------------- token auth (sluice only)

TOKEN = "s3cret"


def port_of(url: str) -> int:
    return int(endpoint(url).rsplit(":", 1)[1])


def _grpc_code_of(err: BaseException):
    code = getattr(err, "getGrpcStatusCode", None)
    if callable(code):
        return code()
    return None


@sluice_only
def test_token_required():
    with sluice_server(sluice_binary(), args=["--token", TOKEN]) as url:
        port = port_of(url)
        # With the token (PySpark sends it over a local channel to 'localhost' without TLS).
        ok = new_session(f"sc://localhost:{port}/;token={TOKEN}")
        try:
            assert ok.range(3).count() == 3
        finally:
            stop_quietly(ok)

        # Raw gRPC: no token, a wrong token -> UNAUTHENTICATED.
        channel, stub = raw_stub(url)
        try:
            req = pb2.ConfigRequest(
                session_id=str(uuid.uuid4()),
                user_context=pb2.UserContext(user_id="u"),
                operation=pb2.ConfigRequest.Operation(get_all=pb2.ConfigRequest.GetAll()),
            )
            with pytest.raises(grpc.RpcError) as info:
                stub.Config(req, timeout=30)
            assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
            with pytest.raises(grpc.RpcError) as info:
                stub.Config(req, timeout=30, metadata=[("authorization", "Bearer wrong")])
            assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
            resp = stub.Config(req, timeout=30, metadata=[("authorization", f"Bearer {TOKEN}")])
            assert resp.session_id == req.session_id
        finally:
            channel.close()

        # The PySpark client without a token gets an error, not a hang.
        bad = new_session(url)
        try:
            with pytest.raises(Exception) as info:
                bad.range(1).collect()
            text = str(info.value)
            assert "UNAUTHENTICATED" in text or _grpc_code_of(info.value) == grpc.StatusCode.UNAUTHENTICATED, text[:500]
        finally:
            stop_quietly(bad)


@sluice_only
def test_token_from_env():
    with sluice_server(sluice_binary(), env={"SLUICE_TOKEN": "from-env"}) as url:
        channel, stub = raw_stub(url)
        try:
            req = pb2.ConfigRequest(
                session_id=str(uuid.uuid4()),
                user_context=pb2.UserContext(user_id="u"),
                operation=pb2.ConfigRequest.Operation(get_all=pb2.ConfigRequest.GetAll()),
            )
            with pytest.raises(grpc.RpcError) as info:
                stub.Config(req, timeout=30)
            assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
            stub.Config(req, timeout=30, metadata=[("authorization", "Bearer from-env")])
        finally:
            channel.close()


# ---------------------------------------------------------------- TLS (sluice only)


def make_self_signed_cert(folder: Path):
    openssl = shutil.which("openssl")
    if not openssl:
        pytest.skip("the openssl CLI is not installed")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


CLIENT_SNIPPET = textwrap.dedent(
    """
    import sys
    from pyspark.sql import SparkSession
    b = SparkSession.builder.remote(sys.argv[1])
    s = b.create() if hasattr(b, "create") else b.getOrCreate()
    print("COUNT", s.range(5).count())
    s.stop()
    """
)


def run_client(url: str, roots: Path, timeout: float = 120):
    """A separate Python process: gRPC reads GRPC_DEFAULT_SSL_ROOTS_FILE_PATH once."""
    env = {**os.environ, "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH": str(roots), "TZ": "UTC"}
    env.pop("SPARK_CONNECT_AUTHENTICATE_TOKEN", None)
    # A script file, not `python -c`: PySpark takes a main module without a file for its
    # own doctest runner and exits early.
    script = roots.parent / "client_snippet.py"
    script.write_text(CLIENT_SNIPPET)
    return subprocess.run(
        [sys.executable, str(script), url],
        env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


@sluice_only
def test_tls(tmp_path):
    cert, key = make_self_signed_cert(tmp_path)
    with sluice_server(sluice_binary(), args=["--tls-cert", str(cert), "--tls-key", str(key)]) as url:
        port = port_of(url)
        done = run_client(f"sc://localhost:{port}/;use_ssl=true", cert)
        assert "COUNT 5" in done.stdout, done.stdout + done.stderr[-3000:]

        # A plaintext client cannot talk to a TLS server.
        channel, stub = raw_stub(url)
        try:
            with pytest.raises(grpc.RpcError):
                stub.Config(
                    pb2.ConfigRequest(
                        session_id=str(uuid.uuid4()),
                        user_context=pb2.UserContext(user_id="u"),
                        operation=pb2.ConfigRequest.Operation(get_all=pb2.ConfigRequest.GetAll()),
                    ),
                    timeout=10,
                )
        finally:
            channel.close()


@sluice_only
def test_tls_with_token(tmp_path):
    cert, key = make_self_signed_cert(tmp_path)
    args = ["--tls-cert", str(cert), "--tls-key", str(key), "--token", TOKEN]
    with sluice_server(sluice_binary(), args=args) as url:
        port = port_of(url)
        done = run_client(f"sc://localhost:{port}/;use_ssl=true;token={TOKEN}", cert)
        assert "COUNT 5" in done.stdout, done.stdout + done.stderr[-3000:]
        refused = run_client(f"sc://localhost:{port}/;use_ssl=true;token=wrong", cert)
        assert "COUNT 5" not in refused.stdout
        assert "UNAUTHENTICATED" in refused.stderr, refused.stderr[-3000:]


EXIT_WITHOUT_STOP = textwrap.dedent(
    """
    import sys
    from pyspark.sql import SparkSession
    s = SparkSession.builder.remote(sys.argv[1]).getOrCreate()
    print("COUNT", s.range(5).count())
    # No s.stop(): PySpark's exit hook cleans the ML cache and releases the session itself.
    """
)


def test_client_exits_without_stop(remote, tmp_path):
    """Scripts that never call spark.stop() exit: the exit hook's CleanCache command gets
    Spark's result (0 models removed) before ResultComplete, so no gRPC call is left hanging.
    The hang depended on garbage-collection order at exit, so several scripts run at once."""
    script = tmp_path / "no_stop.py"
    script.write_text(EXIT_WITHOUT_STOP)
    runs = [
        subprocess.Popen(
            [sys.executable, str(script), remote],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        for _ in range(8)
    ]
    hung = 0
    for p in runs:
        try:
            out, err = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            hung += 1
            continue
        assert p.returncode == 0, err[-3000:]
        assert "COUNT 5" in out
    assert hung == 0, f"{hung} of {len(runs)} scripts without spark.stop() did not exit"


def test_ml_clean_cache_result(remote):
    """CleanCache answers as Spark does: an MlCommandResult holding the number removed."""
    channel, stub = raw_stub(remote)
    try:
        command = commands_pb2.Command()
        command.ml_command.clean_cache.SetInParent()
        responses = list(
            stub.ExecutePlan(
                pb2.ExecutePlanRequest(
                    session_id=str(uuid.uuid4()),
                    user_context=pb2.UserContext(user_id="u"),
                    plan=pb2.Plan(command=command),
                    request_options=[
                        pb2.ExecutePlanRequest.RequestOption(
                            reattach_options=pb2.ReattachOptions(reattachable=True)
                        )
                    ],
                ),
                timeout=30,
            )
        )
    finally:
        channel.close()
    kinds = [r.WhichOneof("response_type") for r in responses]
    assert kinds[0] == "ml_command_result" and kinds[-1] == "result_complete", kinds
    assert responses[0].ml_command_result.param.integer == 0
