"""Exactly once under kill -9: an Auto Loader stream of 60 one-file batches into a Delta
table, the server killed with SIGKILL at random moments (at least 10 times, while batches
run, while files keep arriving) and restarted; every restart resumes the query from the
same checkpoint. At the end delta-rs must see every input row exactly once.

Run alone with `pytest compat-suite/test_streaming_crash.py` or `-m streaming_crash`; it is
also part of the default run (about a minute)."""

import os
import random
import threading
import time

import pytest

from harness.delta import dl, make_server, session_on, warehouse  # noqa: F401 - fixtures
from harness.session import stop_quietly
from harness.streaming import (
    TIMEOUT,
    Landing,
    checkpoint_batches,
    delta_ids,
    finish,
    needs_sluice,
    streaming_commits,
)

pytestmark = [pytest.mark.streaming, pytest.mark.streaming_crash, needs_sluice]

FILES = 60
ROWS_PER_FILE = 10
FIRST_BATCH = 40  # files present before the first start; the rest arrive during the kills
KILLS = 12
SEED = int(os.environ.get("SLUICE_CRASH_SEED", "20240601"))


def file_records(i):
    return [{"id": i * ROWS_PER_FILE + j, "name": f"f{i}-{j}"} for j in range(ROWS_PER_FILE)]


def start_query(s, landing, schema_dir, ck, out, trigger):
    df = (
        s.readStream.format("cloudFiles")
        .option("cloudFiles.format", "json")
        .option("cloudFiles.schemaLocation", schema_dir)
        .option("cloudFiles.schemaHints", "id long")
        .option("cloudFiles.maxFilesPerTrigger", "1")
        .load(str(landing))
    )
    return (
        df.writeStream.format("delta")
        .option("checkpointLocation", ck)
        .outputMode("append")
        .trigger(**trigger)
        .start(out)
    )


def test_kill_9_during_stream_keeps_exactly_once(tmp_path, warehouse):
    rng = random.Random(SEED)
    landing = Landing(tmp_path / "landing")
    schema_dir, ck, out = str(tmp_path / "schema"), str(tmp_path / "ck"), str(tmp_path / "out")
    for i in range(FIRST_BATCH):
        landing.put_json(f"part-{i:03d}.json", file_records(i))

    server = make_server(warehouse)
    producer_done = threading.Event()

    def producer():
        try:
            for i in range(FIRST_BATCH, FILES):
                time.sleep(0.25)
                landing.put_json(f"part-{i:03d}.json", file_records(i))
        finally:
            producer_done.set()

    feeder = threading.Thread(target=producer, daemon=True)
    kills = 0
    log = []
    try:
        for round_no in range(KILLS):
            server.start()
            if round_no == 1:
                feeder.start()
            s = session_on(server)
            trigger = {"availableNow": True} if round_no % 2 == 0 else {"processingTime": "100 milliseconds"}
            try:
                start_query(s, landing, schema_dir, ck, out, trigger)
            except Exception as e:  # a kill may not leave time to start; that is fine
                log.append(f"round {round_no}: start failed: {type(e).__name__}")
            delay = rng.choice([0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.2])
            time.sleep(delay)
            s.client.set_retry_policies([])  # the server is about to vanish: fail fast
            server.kill()
            kills += 1
            stop_quietly(s)
            log.append(f"round {round_no}: killed after {delay}s, commits {checkpoint_batches(ck, 'commits')[-1:]}")

        assert producer_done.wait(60), "the producer did not finish"
        # the last start runs to the end of the backlog
        server.start()
        s = session_on(server)
        try:
            q = finish(start_query(s, landing, schema_dir, ck, out, {"availableNow": True}), TIMEOUT)
            assert q.exception() is None
        finally:
            stop_quietly(s)
    finally:
        server.stop()

    assert kills >= 10
    assert len(landing.files()) == FILES
    expected = list(range(FILES * ROWS_PER_FILE))
    got = delta_ids(out)
    missing = sorted(set(expected) - set(got))
    dupes = sorted({v for v in got if got.count(v) > 1})
    assert got == expected, f"missing {missing[:20]}, duplicated {dupes[:20]}; seed {SEED}; {log}"

    commits = streaming_commits(out)
    epochs = [int(c["operationParameters"]["epochId"]) for c in commits]
    assert len(epochs) == len(set(epochs)), f"a batch was committed twice to Delta: {epochs}"
    assert len(commits) >= 50, f"only {len(commits)} batches"
    assert checkpoint_batches(ck, "commits") == list(range(len(checkpoint_batches(ck, "commits"))))
    assert checkpoint_batches(ck, "commits")[-1] == max(epochs)
