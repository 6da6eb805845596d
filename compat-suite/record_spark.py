#!/usr/bin/env python3
"""Record what Apache Spark returns for every case into expected/<area>.json.

Run it with a Python whose full `pyspark` package ships Spark (jars + bin/), e.g.

    /tmp/sparkv/bin/python compat-suite/record_spark.py            # all areas
    /tmp/sparkv/bin/python compat-suite/record_spark.py --area sql  # one area
    python compat-suite/record_spark.py --remote sc://127.0.0.1:15002 --case sql::cte

It starts a local Spark Connect server (UTC, local[2]) unless --remote is given. With
--area or --case, the other recorded cases in the touched files are kept as they were.
A bad-input case (declared with E(...)) that does not raise in Spark, or whose message
lacks the declared substring, stops the recording with an error."""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ["TZ"] = "UTC"
time.tzset()

from cases import AREAS, load_area  # noqa: E402
from harness.normalize import MESSAGE_KEEP, run_and_normalise  # noqa: E402
from harness.servers import spark_connect_server, spark_home_of_current_python  # noqa: E402
from harness.session import new_session, quiet_pyspark_loggers, stop_quietly  # noqa: E402

EXPECTED_DIR = HERE / "expected"


def record(url: str, areas, only_cases, verbose: bool) -> int:
    import pyspark

    quiet_pyspark_loggers()
    problems = 0
    probe = new_session(url)
    spark_version = probe.version
    probe.stop()
    for area in areas:
        cases = [c for c in load_area(area) if not only_cases or c.id in only_cases]
        if not cases:
            continue
        path = EXPECTED_DIR / f"{area}.json"
        old = json.loads(path.read_text()) if path.exists() else {}
        results = dict(old.get("cases", {})) if only_cases else {}
        for case in cases:
            spark = new_session(url)
            tmp = Path(tempfile.mkdtemp(prefix="sluice-case-"))
            try:
                started = time.monotonic()
                out = run_and_normalise(case, spark, tmp)
                took = time.monotonic() - started
            finally:
                stop_quietly(spark)
                shutil.rmtree(tmp, ignore_errors=True)
            err = out.get("error")
            if case.expects_error:
                if err is None:
                    print(f"PROBLEM {case.id}: declared as an error case but Spark returned {out}")
                    problems += 1
                    continue
                if case.error_contains not in err["message"]:
                    print(
                        f"PROBLEM {case.id}: message lacks {case.error_contains!r}: "
                        f"{err['message']!r}"
                    )
                    problems += 1
                    continue
                err["contains"] = case.error_contains
                err["message"] = err["message"][:MESSAGE_KEEP]
            elif err is not None:
                err["message"] = err["message"][:MESSAGE_KEEP]
                print(f"PROBLEM {case.id}: unexpected error in Spark: {err}")
                problems += 1
                continue
            results[case.id.split("::", 1)[1]] = out
            if verbose:
                print(f"{case.id} ({took:.2f}s): {json.dumps(out)[:400]}")
        order = [c.name for c in load_area(area)]
        doc = {
            "spark_version": spark_version,
            "recorded_with_client": f"pyspark {pyspark.__version__}",
            "recorded_by": "compat-suite/record_spark.py",
            "cases": {k: results[k] for k in order if k in results},
        }
        EXPECTED_DIR.mkdir(exist_ok=True)
        path.write_text(json.dumps(doc, indent=1, ensure_ascii=False, sort_keys=False) + "\n")
        print(f"wrote {path.relative_to(HERE)}: {len(doc['cases'])} cases")
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--remote", help="record against this running server instead of starting one")
    ap.add_argument("--spark-home", help="SPARK_HOME to start (default: this Python's pyspark)")
    ap.add_argument("--area", action="append", choices=AREAS, help="only these areas")
    ap.add_argument("--case", action="append", help="only these cases, as area::name")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    areas = args.area or AREAS
    only = set(args.case or [])
    if only:
        areas = [a for a in areas if any(c.startswith(a + "::") for c in only)]
    if args.remote:
        problems = record(args.remote, areas, only, args.verbose)
    else:
        home = args.spark_home or os.environ.get("SPARK_HOME") or spark_home_of_current_python()
        if not home:
            sys.exit("no Spark found: install the full pyspark package or pass --spark-home")
        with spark_connect_server(home) as url:
            problems = record(url, areas, only, args.verbose)
    if problems:
        print(f"{problems} problem(s): fix those cases and record them again")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
