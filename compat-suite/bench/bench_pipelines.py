#!/usr/bin/env python3
"""Time the medallion Spark Declarative Pipeline (bronze -> silver -> gold) on sluice and on
Apache Spark Connect, both driven by Spark's own CLI (`python -m pyspark.pipelines.cli run`,
i.e. `spark-pipelines`). See README.md beside this file for bench.py's conventions.

The project (one per repeat, in a temp folder) is a `spark-pipeline.yml` plus ONE Python file,
the same on both servers (sluice writes Delta tables, Spark parquet, having no Delta jars):

  bronze  @dp.table            readStream.format("json").schema(...) of the landing folder
  silver  @dp.table            readStream.table("bronze").where("amount > 0").select(...)
  gold    @dp.materialized_view read.table("silver").groupBy("country").agg(count, sum)

Workloads (each repeat on a fresh project, storage, landing copy and database; medians):
  first        the first run: the landing folder holds `--files` files (`--rows` rows)
  incremental  one more file (1% more rows with the defaults) dropped in, then a second run
  unchanged    a third run with no new input (sluice keeps gold: its inputs did not change)

Each figure is the wall clock of the whole CLI process (interpreter start, session,
graph registration, run); the server-side part (from the CLI's "Starting run..." line to
its exit, stamped as the line arrives) is reported beside it. After each run gold is read
back over Spark Connect and checked (sum of counts = rows with amount > 0 so far, sum of
amounts, one row per country; bronze holds every row): a wrong answer fails the run.

sluice runs on a fresh `--warehouse` (a new server) per repeat; Spark keeps one server and
gets a new database per repeat (`database: bench_<n>` in the spec, made beforehand with
CREATE DATABASE, dropped afterwards); sluice gets the same spec and database.
"""

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench import Server, fmt, log, sluice_server, spark_home_from, spark_server  # noqa: E402
from harness.servers import spark_home_of_current_python  # noqa: E402
from harness.session import new_session, quiet_pyspark_loggers, stop_quietly  # noqa: E402

COUNTRIES = ["us", "fr", "de", "gb", "es", "it", "nl", "be", "ch", "at",
             "se", "no", "dk", "fi", "pl", "pt", "ie", "ca", "jp", "br"]  # fmt: skip
SCHEMA = "id LONG, country STRING, amount LONG, ts STRING"
CLI_TIMEOUT = 1800

MEDALLION = '''\
from pyspark import pipelines as dp
from pyspark.sql import functions as F


@dp.table
def bronze():
    return spark.readStream.format("json").schema("{schema}").load("{landing}")


@dp.table
def silver():
    return spark.readStream.table("bronze").where("amount > 0").select("id", "country", "amount")


@dp.materialized_view
def gold():
    return (spark.read.table("silver").groupBy("country")
            .agg(F.count("*").alias("orders"), F.sum("amount").alias("total")))
'''


# ---------------------------------------------------------------- input data


def pipeline_dataset(cache: Path, rows: int, files: int) -> Path:
    """`rows` JSON lines in `files` files plus one more file of `rows // files` rows (the
    incremental run's), made once (deterministically) and kept, with a `_manifest.json`
    of each file's rows, rows with amount > 0 and their sum."""
    folder = cache / "pipelines" / f"json-{rows}x{files}"
    if (folder / "_manifest.json").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rng = random.Random(7)
    per_file = rows // files
    base = 1_700_000_000
    next_id = 0
    manifest = {"initial": [], "new": []}
    for f in range(files + 1):
        count = per_file if f < files - 1 or f == files else rows - per_file * (files - 1)
        name = f"part-{f:03d}.json"
        positive = total = 0
        with open(folder / name, "w", encoding="utf-8") as out:
            for _ in range(count):
                amount = rng.randrange(-100, 1000)
                if amount > 0:
                    positive += 1
                    total += amount
                ts = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(base + rng.randrange(31_536_000)))
                out.write(json.dumps({"id": next_id, "country": rng.choice(COUNTRIES),
                                      "amount": amount, "ts": ts}) + "\n")  # fmt: skip
                next_id += 1
        entry = {"file": name, "rows": count, "positive": positive, "total": total}
        manifest["initial" if f < files else "new"].append(entry)
    (folder / "_manifest.json").write_text(json.dumps(manifest, indent=1))
    return folder


def land(files, src: Path, landing: Path) -> None:
    """Hard links of the cached files in the landing folder (copies across devices)."""
    landing.mkdir(parents=True, exist_ok=True)
    for entry in files:
        try:
            os.link(src / entry["file"], landing / entry["file"])
        except OSError:
            shutil.copy2(src / entry["file"], landing / entry["file"])


# ---------------------------------------------------------------- the project and its runs


def write_project(root: Path, landing: Path, database: str) -> Path:
    (root / "transformations").mkdir(parents=True)
    spec = root / "spark-pipeline.yml"
    spec.write_text(
        "name: medallion_bench\n"
        f"storage: file://{root / 'storage'}\n"
        f"database: {database}\n"
        "libraries:\n"
        "  - glob:\n"
        "      include: transformations/**\n"
    )
    (root / "transformations" / "medallion.py").write_text(MEDALLION.format(schema=SCHEMA, landing=landing))
    return spec


class PipelineFailed(RuntimeError):
    pass


class WrongAnswer(AssertionError):
    pass


def run_cli(python: str, url: str, spec: Path, cwd: Path):
    """`python -m pyspark.pipelines.cli run --spec spec`: (wall clock, server-side part,
    output). The server-side part runs from the arrival of the "Starting run..." line (the
    CLI's stdout unbuffered) to the process's exit."""
    env = {**os.environ, "TZ": "UTC", "SPARK_REMOTE": url, "PYTHONUNBUFFERED": "1"}
    argv = [python, "-m", "pyspark.pipelines.cli", "run", "--spec", str(spec)]
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    run_started = None
    lines = []
    deadline = started + CLI_TIMEOUT
    for line in proc.stdout:
        if run_started is None and "Starting run..." in line:
            run_started = time.perf_counter()
        lines.append(line)
        if time.perf_counter() > deadline:
            proc.kill()
            break
    code = proc.wait()
    ended = time.perf_counter()
    out = "".join(lines)
    if code != 0 or "Run is COMPLETED" not in out:
        raise PipelineFailed(f"{' '.join(argv)} (SPARK_REMOTE={url}) exited with {code}:\n{out}")
    return ended - started, (ended - run_started) if run_started else None, out


def check_gold(url: str, database: str, entries) -> None:
    """gold and bronze, read back over Spark Connect, against the files landed so far."""
    rows = sum(e["rows"] for e in entries)
    positive = sum(e["positive"] for e in entries)
    total = sum(e["total"] for e in entries)
    s = new_session(url)
    try:
        gold = [r.asDict() for r in s.read.table(f"{database}.gold").collect()]
        bronze = s.read.table(f"{database}.bronze").count()
    finally:
        stop_quietly(s)
    got = (sum(r["orders"] for r in gold), sum(r["total"] for r in gold), len(gold))
    if got != (positive, total, len(COUNTRIES)) or bronze != rows:
        raise WrongAnswer(
            f"{database}: gold has (orders, total, countries) = {got}, expected "
            f"{(positive, total, len(COUNTRIES))}; bronze has {bronze} rows, expected {rows}"
        )


def sql(url: str, *statements: str) -> None:
    s = new_session(url)
    try:
        for st in statements:
            s.sql(st).collect()
    finally:
        stop_quietly(s)


def one_repeat(url: str, i: int, server: Server, data: Path, manifest, work: Path, python: str, times,
               shared: bool) -> None:
    """First run then incremental run of a fresh project in database bench_<i> (dropped
    before and after when the server is `shared` between repeats)."""
    database = f"bench_{i}"
    root = work / f"{server.name}-{i}"
    shutil.rmtree(root, ignore_errors=True)
    landing = root / "landing"
    land(manifest["initial"], data, landing)
    spec = write_project(root / "project", landing, database)
    drop = [f"DROP DATABASE IF EXISTS {database} CASCADE"] if shared else []
    sql(url, *drop, f"CREATE DATABASE {database}")

    wall, part, _ = run_cli(python, url, spec, root / "project")
    check_gold(url, database, manifest["initial"])
    times["first"].append(wall)
    times["first_server"].append(part)

    land(manifest["new"], data, landing)
    wall, part, _ = run_cli(python, url, spec, root / "project")
    check_gold(url, database, manifest["initial"] + manifest["new"])
    times["incremental"].append(wall)
    times["incremental_server"].append(part)

    wall, part, _ = run_cli(python, url, spec, root / "project")
    check_gold(url, database, manifest["initial"] + manifest["new"])
    times["unchanged"].append(wall)
    times["unchanged_server"].append(part)
    log(
        f"{server.name} #{i + 1}: first {times['first'][-1]:.3f}s (server part "
        f"{fmt_part(times['first_server'][-1])}), incremental {times['incremental'][-1]:.3f}s "
        f"(server part {fmt_part(times['incremental_server'][-1])}), unchanged "
        f"{times['unchanged'][-1]:.3f}s (server part {fmt_part(times['unchanged_server'][-1])})"
    )
    sql(url, *drop)
    shutil.rmtree(root, ignore_errors=True)


KEYS = ("first", "first_server", "incremental", "incremental_server", "unchanged", "unchanged_server")


def fmt_part(v) -> str:
    return "n/a" if v is None else f"{v:.3f}s"


def bench_sluice(binary: str, args, data, manifest, work, python) -> dict:
    """A new server on a fresh warehouse per repeat (its start is not timed)."""
    times = {k: [] for k in KEYS}
    for i in range(args.warmup + args.repeats):
        warehouse = work / f"sluice-warehouse-{i}"
        shutil.rmtree(warehouse, ignore_errors=True)
        server = sluice_server(binary)
        base_argv = server.argv
        server.argv = lambda port, wd, base_argv=base_argv, wh=warehouse: [*base_argv(port, wd), "--warehouse", str(wh)]
        with server.run() as url:
            one_repeat(url, i, server, data, manifest, work, python, times, shared=False)
        shutil.rmtree(warehouse, ignore_errors=True)
        if i < args.warmup:
            for v in times.values():
                v.clear()
    return medians(times)


def bench_spark(home: str, args, data, manifest, work, python) -> dict:
    """One server for every repeat, a new database per repeat."""
    times = {k: [] for k in KEYS}
    server = spark_server(home)
    with server.run() as url:
        for i in range(args.warmup + args.repeats):
            one_repeat(url, i, server, data, manifest, work, python, times, shared=True)
            if i < args.warmup:
                for v in times.values():
                    v.clear()
    return medians(times)


def medians(times: dict) -> dict:
    return {k: statistics.median(v) if v and None not in v else None for k, v in times.items()}


def table(results: dict, args, manifest) -> str:
    new_rows = sum(e["rows"] for e in manifest["new"])
    labels = {
        "first": f"first run, {args.rows:_} rows / {args.files} files (CLI wall clock)",
        "incremental": f"incremental run, +1 file ({new_rows:_} rows) (CLI wall clock)",
        "first_server": "first run, server-side part (\"Starting run...\" to exit)",
        "incremental_server": "incremental run, server-side part",
        "unchanged": "third run, no new input (CLI wall clock)",
        "unchanged_server": "third run, server-side part",
    }
    names = list(results)
    both = "sluice" in results and "spark" in results
    head = ["workload"] + [{"sluice": "sluice", "spark": "Spark"}[n] for n in names]
    if both:
        head += ["sluice/Spark", "speed-up (target 10x)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, label in labels.items():
        row = [label] + [fmt(results[n].get(key)) for n in names]
        if both:
            a, b = results["sluice"].get(key), results["spark"].get(key)
            row += [f"{a / b:.3f}", f"{b / a:.1f}x" + (" (met)" if b / a >= 10 else "")] if a and b else ["n/a", "n/a"]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    default_target = os.environ.get("CARGO_TARGET_DIR") or os.path.expanduser("~/.cache/sluice-target")
    ap.add_argument("--sluice-bin", default=os.environ.get("SLUICE_BIN") or os.path.join(default_target, "debug", "sluice"))
    ap.add_argument("--spark", default=os.environ.get("SPARK_HOME"),
                    help="SPARK_HOME, or a venv with the full pyspark package (default: $SPARK_HOME, "
                         "else this Python's pyspark if it has the jars)")  # fmt: skip
    ap.add_argument("--only", action="append", choices=["sluice", "spark"], help="only these servers")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=0, help="untimed repeats first, per server")
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows of the first run")
    ap.add_argument("--files", type=int, default=100, help="files of the first run; the incremental run adds one")
    ap.add_argument("--python", default=sys.executable,
                    help="the Python that runs `-m pyspark.pipelines.cli` (pyspark >= 4.1 with pyyaml; "
                         "default: this one)")  # fmt: skip
    ap.add_argument("--cache-dir", default=os.path.expanduser("~/.cache/sluice-bench"))
    args = ap.parse_args()
    quiet_pyspark_loggers()

    wanted = set(args.only or ["sluice", "spark"])
    runners = []
    if "sluice" in wanted:
        if os.path.isfile(args.sluice_bin):
            runners.append(("sluice", lambda *a: bench_sluice(args.sluice_bin, args, *a)))
        else:
            log(f"sluice: no binary at {args.sluice_bin}; skipped")
    if "spark" in wanted:
        home = spark_home_from(args.spark) if args.spark else spark_home_of_current_python()
        if home:
            runners.append(("spark", lambda *a: bench_spark(home, args, *a)))
        else:
            log("spark: give --spark SPARK_HOME_OR_VENV (or set SPARK_HOME); skipped")
    if not runners:
        log("no server to benchmark")
        return 2

    data = pipeline_dataset(Path(args.cache_dir), args.rows, args.files)
    manifest = json.loads((data / "_manifest.json").read_text())
    log(f"data: {data}")
    results = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-pipelines-") as tmp:
        for name, run in runners:
            results[name] = run(data, manifest, Path(tmp), args.python)
    log(f"benchmark took {time.perf_counter() - started:.0f}s")
    cli_version = subprocess.run([args.python, "-c", "import pyspark; print(pyspark.__version__)"],
                                 capture_output=True, text=True).stdout.strip()  # fmt: skip
    print(f"\nmedians of {args.repeats} repeats (CLI: pyspark {cli_version}, {os.cpu_count()} cores)\n")
    print(table(results, args, manifest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
