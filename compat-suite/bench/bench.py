#!/usr/bin/env python3
"""Time one PySpark workload against sluice and, when available, Apache Spark Connect and
Sail, in one run (figures from different runs drift). See README.md beside this file.

Workloads (each repeated N times; the median is reported):
  start      spawn the server, wait for its port, first `spark.range(1).collect()`
  range_sum  `spark.range(10_000_000).selectExpr("sum(id)").collect()` on a new session
  json_group `spark.read.json(<20 files, 1,000,000 rows>).groupBy("category").count()
             .collect()` on a new session
  delta_write  the same JSON read and written with `write.format("delta").mode("overwrite")
             .save(dir)` on a new session (Spark has no Delta here: it writes parquet)
  delta_read   `spark.read.format("delta").load(dir).groupBy("category").count().collect()`
             of that table on a new session (Spark: parquet)

Streaming workloads (fresh checkpoint and output each run, `--no-streaming` to skip):
  stream_autoloader  Auto Loader (`cloudFiles`, json, schemaLocation) over the same 20 files
             -> Delta, `trigger(availableNow=True)` (sluice; n/a elsewhere)
  stream_agg   the same with `groupBy("category").count()`, outputMode complete -> Delta
             (Spark: `readStream.format("json").schema(...)`, complete mode -> memory sink)
  stream_json  `readStream.format("json").schema(...)` -> parquet sink, availableNow (every
             server that can; Spark's figure is the reference of the issue)
  small_files  200 files of 5 rows, one file per trigger, availableNow (sluice: Auto Loader
             -> Delta; others: json -> parquet): reported as ms per batch and rows/s
"""

import argparse
import glob
import json
import os
import random
import shutil
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
os.environ["TZ"] = "UTC"
time.tzset()

from harness.servers import running_server  # noqa: E402
from harness.session import new_session, quiet_pyspark_loggers, stop_quietly  # noqa: E402

RANGE_N = 10_000_000
CATEGORIES = [f"category_{i:02d}" for i in range(50)]


# ---------------------------------------------------------------- input data


def json_dataset(cache: Path, rows: int, files: int) -> Path:
    """`rows` JSON lines in `files` files, made once (deterministically) and kept."""
    folder = cache / f"json-{rows}x{files}"
    if (folder / "_DONE").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rng = random.Random(42)
    per_file = rows // files
    base = 1_700_000_000
    next_id = 0
    for f in range(files):
        count = per_file if f < files - 1 else rows - per_file * (files - 1)
        with open(folder / f"part-{f:03d}.json", "w", encoding="utf-8") as out:
            for _ in range(count):
                ts = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(base + rng.randrange(31_536_000)))
                out.write(
                    json.dumps(
                        {
                            "id": next_id,
                            "name": f"name_{rng.randrange(100_000)}",
                            "category": rng.choice(CATEGORIES),
                            "amount": round(rng.uniform(0, 1000), 2),
                            "ts": ts,
                        }
                    )
                    + "\n"
                )
                next_id += 1
    (folder / "_DONE").write_text("")
    return folder


# ---------------------------------------------------------------- servers


class Server:
    def __init__(self, name, argv, env=None, start_timeout=180.0, table_format="delta"):
        self.name, self.argv, self.env, self.start_timeout = name, argv, env, start_timeout
        # the format of the delta_write / delta_read workloads on this server
        self.table_format = table_format

    def run(self):
        return running_server(self.name, self.argv, self.start_timeout, env=self.env, poll=0.02)


def sluice_server(binary: str) -> Server:
    return Server("sluice", lambda port, _wd: [binary, "--port", str(port)], start_timeout=60)


def spark_server(spark_home: str) -> Server:
    def argv(port, workdir):
        return [
            os.path.join(spark_home, "bin", "spark-submit"),
            "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
            "--master", "local[2]",
            "--driver-java-options", "-Duser.timezone=UTC",
            "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
            "--conf", f"spark.connect.grpc.binding.port={port}",
            "--conf", "spark.ui.enabled=false",
            "--conf", "spark.sql.session.timeZone=UTC",
            "--conf", f"spark.sql.warehouse.dir={workdir / 'warehouse'}",
        ]  # fmt: skip

    # No Delta jars without Maven: Spark's figures for the Delta workloads are parquet.
    return Server("spark", argv, env={"SPARK_HOME": spark_home}, table_format="parquet")


def sail_server(sail: str) -> Server:
    return Server(
        "sail", lambda port, _wd: [sail, "spark", "server", "--ip", "127.0.0.1", "--port", str(port)]
    )


def spark_home_from(venv_or_home: str):
    """A SPARK_HOME, or a venv holding the full pyspark package."""
    if os.path.isdir(os.path.join(venv_or_home, "jars")):
        return venv_or_home
    found = glob.glob(os.path.join(venv_or_home, "lib", "python3*", "site-packages", "pyspark"))
    for home in found:
        if os.path.isdir(os.path.join(home, "jars")):
            return home
    return None


# ---------------------------------------------------------------- workloads


def time_start(server: Server) -> float:
    started = time.perf_counter()
    with server.run() as url:
        s = new_session(url)
        try:
            assert s.range(1).collect()[0].id == 0
            took = time.perf_counter() - started
        finally:
            stop_quietly(s)
    return took


def time_range_sum(url: str) -> float:
    started = time.perf_counter()
    s = new_session(url)
    try:
        total = s.range(RANGE_N).selectExpr("sum(id)").collect()[0][0]
        took = time.perf_counter() - started
    finally:
        stop_quietly(s)
    assert total == RANGE_N * (RANGE_N - 1) // 2, total
    return took


def time_json_group(url: str, folder: Path, rows: int) -> float:
    started = time.perf_counter()
    s = new_session(url)
    try:
        got = s.read.json(str(folder)).groupBy("category").count().collect()
        took = time.perf_counter() - started
    finally:
        stop_quietly(s)
    assert len(got) == len(CATEGORIES) and sum(r["count"] for r in got) == rows, got[:3]
    return took


def time_delta_write(url: str, folder: Path, out: Path, fmt: str) -> float:
    """read.json of the input, written as one table with mode overwrite (the first run
    creates it, every later one overwrites it)."""
    started = time.perf_counter()
    s = new_session(url)
    try:
        s.read.json(str(folder)).write.format(fmt).mode("overwrite").save(str(out))
        took = time.perf_counter() - started
    finally:
        stop_quietly(s)
    if fmt == "delta":
        assert (out / "_delta_log").is_dir(), f"no _delta_log in {out}"
    return took


def time_delta_read(url: str, out: Path, fmt: str, rows: int) -> float:
    started = time.perf_counter()
    s = new_session(url)
    try:
        got = s.read.format(fmt).load(str(out)).groupBy("category").count().collect()
        took = time.perf_counter() - started
    finally:
        stop_quietly(s)
    assert len(got) == len(CATEGORIES) and sum(r["count"] for r in got) == rows, got[:3]
    return took


JSON_SCHEMA = "id long, name string, category string, amount double, ts string"
SMALL_FILES, SMALL_ROWS = 200, 1000  # the small-files stream: 200 files of 5 rows


def time_stream(url: str, run_dir: Path, build, check) -> float:
    """New session, `build(session, run_dir)` starts a query, wait for its end (availableNow);
    then, untimed, `check(session, run_dir)` verifies what it wrote."""
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    started = time.perf_counter()
    s = new_session(url)
    try:
        q = build(s, run_dir)
        assert q.awaitTermination(600), f"streaming query {q.id} did not finish"
        took = time.perf_counter() - started
        assert q.exception() is None, q.exception()
        check(s, run_dir)
    finally:
        stop_quietly(s)
    return took


def autoloader_df(s, folder: Path, run_dir: Path, max_files=None):
    r = (s.readStream.format("cloudFiles").option("cloudFiles.format", "json")
         .option("cloudFiles.schemaLocation", str(run_dir / "schema")))  # fmt: skip
    if max_files:
        r = r.option("cloudFiles.maxFilesPerTrigger", str(max_files))
    return r.load(str(folder))


def json_stream_df(s, folder: Path, max_files=None):
    r = s.readStream.format("json").schema(JSON_SCHEMA)
    if max_files:
        r = r.option("maxFilesPerTrigger", max_files)
    return r.load(str(folder))


def start_to(df, run_dir: Path, fmt: str, mode: str = "append"):
    w = (df.writeStream.format(fmt).outputMode(mode)
         .option("checkpointLocation", str(run_dir / "checkpoint")).trigger(availableNow=True))  # fmt: skip
    if fmt == "memory":
        return w.queryName("bench_agg").start()
    return w.start(str(run_dir / "out"))


class WrongAnswer(AssertionError):
    pass


def rows_written(run_dir: Path, fmt: str) -> int:
    out = run_dir / "out"
    if fmt == "delta":
        from deltalake import DeltaTable

        return DeltaTable(str(out)).to_pyarrow_table(columns=["id"]).num_rows
    import pyarrow.parquet as pq

    files = [p for p in out.rglob("*.parquet")
             if not any(part.startswith(("_", ".")) for part in p.relative_to(out).parts)]  # fmt: skip
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def expect_rows(fmt: str, rows: int):
    def check(_s, run_dir):
        got = rows_written(run_dir, fmt)
        if got != rows:
            raise WrongAnswer(f"{got} rows written, expected {rows}")

    return check


def expect_groups(fmt: str, rows: int):
    def check(s, run_dir):
        if fmt == "delta":
            from deltalake import DeltaTable

            got = DeltaTable(str(run_dir / "out")).to_pyarrow_table().to_pylist()
        else:
            got = [r.asDict() for r in s.sql("select * from bench_agg").collect()]
        if len(got) != len(CATEGORIES) or sum(r["count"] for r in got) != rows:
            raise WrongAnswer(f"aggregate {got[:3]}...")

    return check


def stream_plans(server, folder: Path, small: Path, rows: int):
    """(key, build, check) of the streaming workloads, as this server runs them."""
    plans = []
    if server.name == "sluice":
        plans.append(("stream_autoloader", lambda s, d: start_to(autoloader_df(s, folder, d), d, "delta"),
                      expect_rows("delta", rows)))  # fmt: skip
        plans.append(("stream_agg",
                      lambda s, d: start_to(autoloader_df(s, folder, d).groupBy("category").count(), d, "delta", "complete"),
                      expect_groups("delta", rows)))  # fmt: skip
    else:
        plans.append(("stream_agg",
                      lambda s, d: start_to(json_stream_df(s, folder).groupBy("category").count(), d, "memory", "complete"),
                      expect_groups("memory", rows)))  # fmt: skip
    plans.append(("stream_json", lambda s, d: start_to(json_stream_df(s, folder), d, "parquet"),
                  expect_rows("parquet", rows)))  # fmt: skip
    if server.name == "sluice":
        plans.append(("small_files", lambda s, d: start_to(autoloader_df(s, small, d, 1), d, "delta"),
                      expect_rows("delta", SMALL_ROWS)))  # fmt: skip
    else:
        plans.append(("small_files", lambda s, d: start_to(json_stream_df(s, small, 1), d, "parquet"),
                      expect_rows("parquet", SMALL_ROWS)))  # fmt: skip
    return plans


def stream_workloads(server, url, folder, small, out_root: Path, args, times) -> None:
    """Each streaming workload `warmup + repeats` times on fresh checkpoints; a server that
    refuses one (an error, not a wrong answer) gets n/a for it."""
    from pyspark.errors import PySparkException

    for key, build, check in stream_plans(server, folder, small, args.rows):
        try:
            for i in range(args.warmup + args.repeats):
                run_dir = out_root / f"{key}-{i}"
                # Run folders stay until the server is done (`out_root` goes at the end):
                # on an ext4 without a journal, creating a file scans the inodes deleted in
                # the last 30 s, which made each file a query creates cost ~1 ms here.
                took = time_stream(url, run_dir, build, check)
                warm = i < args.warmup
                log(f"{server.name} {key} #{i + 1}{' (warmup)' if warm else ''}: {took:.3f}s")
                if warm:
                    continue
                if key == "small_files":
                    times["small_ms_per_batch"].append(took / SMALL_FILES * 1000)
                    times["small_rows_per_s"].append(SMALL_ROWS / took)
                else:
                    times[key].append(took)
        except WrongAnswer:
            raise
        except (PySparkException, AssertionError) as e:
            log(f"{server.name}: {key} fails, reported as n/a: {type(e).__name__}: {str(e)[:200]}")
            for k in ("small_ms_per_batch", "small_rows_per_s") if key == "small_files" else (key,):
                times[k].clear()


def check_delta_table(out: Path, rows: int) -> None:
    """The table the server wrote, read by delta-rs (when installed): all rows, once."""
    try:
        from deltalake import DeltaTable
    except ImportError:
        return
    dt = DeltaTable(str(out))
    table = dt.to_pyarrow_table(columns=["category"])
    assert table.num_rows == rows, table.num_rows
    assert len(set(table.column("category").to_pylist())) == len(CATEGORIES)


def bench_server(server: Server, args, folder: Path, small: Path) -> dict:
    times = {"start": [], "range_sum": [], "json_group": [], "delta_write": [], "delta_read": [],
             "stream_autoloader": [], "stream_agg": [], "stream_json": [],
             "small_ms_per_batch": [], "small_rows_per_s": []}  # fmt: skip
    for i in range(0 if args.streaming_only else args.repeats):
        times["start"].append(time_start(server))
        log(f"{server.name} start #{i + 1}: {times['start'][-1]:.3f}s")
    fmt = server.table_format
    out_root = Path(args.cache_dir) / f"out-{server.name}-{os.getpid()}"
    shutil.rmtree(out_root, ignore_errors=True)
    out = out_root / "table"
    tables = True  # False once the server refuses the table workloads (an error, not a wrong answer)
    try:
        with server.run() as url:
            if args.streaming:
                stream_workloads(server, url, folder, small, out_root, args, times)
            if args.streaming_only:
                return {k: statistics.median(v) if v else None for k, v in times.items()}
            for _ in range(args.warmup):
                time_range_sum(url)
                time_json_group(url, folder, args.rows)
                tables = tables and table_workloads(server, url, folder, out, fmt, args.rows, times, False)
            for i in range(args.repeats):
                times["range_sum"].append(time_range_sum(url))
                times["json_group"].append(time_json_group(url, folder, args.rows))
                tables = tables and table_workloads(server, url, folder, out, fmt, args.rows, times, True)
                log(
                    f"{server.name} run #{i + 1}: range_sum {times['range_sum'][-1]:.3f}s, "
                    f"json_group {times['json_group'][-1]:.3f}s"
                    + (
                        f", {fmt}_write {times['delta_write'][-1]:.3f}s, {fmt}_read {times['delta_read'][-1]:.3f}s"
                        if tables else ""
                    )
                )
        if tables and fmt == "delta":
            check_delta_table(out, args.rows)
    finally:
        shutil.rmtree(out_root, ignore_errors=True)
    return {k: statistics.median(v) if v else None for k, v in times.items()}


def table_workloads(server, url, folder, out, fmt, rows, times, record) -> bool:
    """delta_write then delta_read; False (and a note) if the server cannot do them."""
    from pyspark.errors import PySparkException

    try:
        write = time_delta_write(url, folder, out, fmt)
        read = time_delta_read(url, out, fmt, rows)
    except PySparkException as e:
        log(f"{server.name}: {fmt} workloads fail, reported as n/a: {type(e).__name__}: {str(e)[:200]}")
        times["delta_write"].clear()
        times["delta_read"].clear()
        return False
    if record:
        times["delta_write"].append(write)
        times["delta_read"].append(read)
    return True


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def fmt(seconds) -> str:
    if seconds is None:
        return "n/a"
    return f"{seconds:.3f} s" if seconds < 10 else f"{seconds:.1f} s"


def stream_table(results: dict, args) -> str:
    """The streaming figures: seconds, except the small-files stream (ms per batch, rows/s)."""
    names = list(results)
    peers = [n for n in names if n != "sluice"]
    labels = {
        "stream_autoloader": (f"Auto Loader json -> Delta, availableNow, {args.rows:_} rows / {args.files} files", fmt),
        "stream_agg": ("the same + groupBy(category).count(), complete -> Delta (others: json -> memory sink)", fmt),
        "stream_json": ("`readStream.format(\"json\").schema(...)` -> parquet, availableNow", fmt),
        "small_ms_per_batch": (f"{SMALL_FILES} files of 5 rows, 1 file per trigger: ms per batch "
                               "(sluice: Auto Loader -> Delta; others: json -> parquet)",
                               lambda v: "n/a" if v is None else f"{v:.1f} ms"),
        "small_rows_per_s": ("the same: rows/s", lambda v: "n/a" if v is None else f"{v:,.0f}"),
    }  # fmt: skip
    head = ["streaming workload"] + names + [f"sluice/{p}" for p in peers if "sluice" in results]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, (label, show) in labels.items():
        row = [label] + [show(results[n].get(key)) for n in names]
        if "sluice" in results:
            for p in peers:
                a, b = results["sluice"].get(key), results[p].get(key)
                row.append(f"{a / b:.2f}" if a and b else "n/a")
        lines.append("| " + " | ".join(row) + " |")
    # the headline: sluice's Auto Loader -> Delta against Spark's json -> parquet
    if "sluice" in results and "spark" in results:
        a, b = results["sluice"].get("stream_autoloader"), results["spark"].get("stream_json")
        if a and b:
            lines.append(f"\nsluice Auto Loader -> Delta vs Spark json -> parquet (same files): "
                         f"{fmt(a)} vs {fmt(b)}, {b / a:.1f}x faster")  # fmt: skip
    return "\n".join(lines)


def table(results: dict, args) -> str:
    names = list(results)
    peers = [n for n in names if n != "sluice"]
    labels = {
        "start": "server start to first result",
        "range_sum": f"`range({RANGE_N:_})` sum, new session",
        "json_group": f"`read.json` {args.rows:_} rows / {args.files} files + groupBy count",
        "delta_write": "`read.json` + write Delta, mode overwrite (Spark: parquet)",
        "delta_read": "read that Delta table + groupBy count (Spark: parquet)",
    }
    head = ["workload"] + names + [f"sluice/{p}" for p in peers if "sluice" in results]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, label in labels.items():
        row = [label] + [fmt(results[n].get(key)) for n in names]
        if "sluice" in results:
            for p in peers:
                a, b = results["sluice"].get(key), results[p].get(key)
                row.append(f"{a / b:.2f}" if a and b else "n/a")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    default_target = os.environ.get("CARGO_TARGET_DIR") or os.path.expanduser("~/.cache/sluice-target")
    ap.add_argument("--sluice-bin", default=os.environ.get("SLUICE_BIN") or os.path.join(default_target, "debug", "sluice"))
    ap.add_argument("--spark", default=os.environ.get("SPARK_HOME"),
                    help="SPARK_HOME, or a venv with the full pyspark package (default: $SPARK_HOME)")
    ap.add_argument("--sail", default=shutil.which("sail"),
                    help="the sail executable, or a venv that has it (default: sail on PATH)")
    ap.add_argument("--only", action="append", choices=["sluice", "spark", "sail"], help="only these servers")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1, help="untimed runs of the query workloads per server")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--files", type=int, default=20)
    ap.add_argument("--cache-dir", default=os.path.expanduser("~/.cache/sluice-bench"))
    ap.add_argument("--no-streaming", dest="streaming", action="store_false", help="skip the streaming workloads")
    ap.add_argument("--streaming-only", action="store_true", help="only the streaming workloads")
    args = ap.parse_args()
    quiet_pyspark_loggers()

    servers = []
    wanted = set(args.only or ["sluice", "spark", "sail"])
    if "sluice" in wanted:
        if os.path.isfile(args.sluice_bin):
            servers.append(sluice_server(args.sluice_bin))
        else:
            log(f"sluice: no binary at {args.sluice_bin}; skipped")
    if "spark" in wanted:
        home = spark_home_from(args.spark) if args.spark else None
        if home:
            servers.append(spark_server(home))
        else:
            log("spark: give --spark SPARK_HOME_OR_VENV (or set SPARK_HOME); skipped")
    if "sail" in wanted:
        sail = args.sail
        if sail and os.path.isdir(sail):
            sail = os.path.join(sail, "bin", "sail")
        if sail and os.path.isfile(sail):
            servers.append(sail_server(sail))
        else:
            log("sail: give --sail PATH_OR_VENV (or put sail on PATH); skipped")
    if not servers:
        log("no server to benchmark")
        return 2

    folder = json_dataset(Path(args.cache_dir), args.rows, args.files)
    small = json_dataset(Path(args.cache_dir), SMALL_ROWS, SMALL_FILES)
    log(f"data: {folder}, {small}")
    if args.streaming_only:
        args.streaming = True
    results = {}
    for server in servers:
        results[server.name] = bench_server(server, args, folder, small)
    print(f"\nmedians of {args.repeats} runs (client: pyspark {__import__('pyspark').__version__}, "
          f"{os.cpu_count()} cores)\n")
    if not args.streaming_only:
        print(table(results, args))
    if args.streaming:
        print()
        print(stream_table(results, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
