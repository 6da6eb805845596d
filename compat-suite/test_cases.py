"""Every recorded case (cases/<area>.py) run against the server under test and compared with
what Apache Spark returned (expected/<area>.json, written by record_spark.py)."""

import json
import os
from pathlib import Path

import pytest

from cases import AREAS, all_cases, load_area
from harness.compare import compare
from harness.normalize import run_and_normalise
from harness.session import new_session, stop_quietly

EXPECTED_DIR = Path(__file__).resolve().parent / "expected"
CASES = all_cases()


def _expected(area: str) -> dict:
    path = EXPECTED_DIR / f"{area}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


EXPECTED = {area: _expected(area) for area in AREAS}


def _known_gaps() -> dict:
    """Cases sluice is known not to match yet (`known_gaps.txt`: `area::name  # why`).
    They run as strict xfails: one that starts passing fails the run until it is removed
    from the list, so the list cannot go stale. Not applied when validating another
    server through SLUICE_REMOTE."""
    path = Path(__file__).resolve().parent / "known_gaps.txt"
    if os.environ.get("SLUICE_REMOTE") or not path.exists():
        return {}
    gaps = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        case_id, _, why = line.partition("#")
        if case_id.strip():
            gaps[case_id.strip()] = why.strip() or "known gap"
    return gaps


KNOWN_GAPS = _known_gaps()
PARAMS = [
    pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[c.id]))
    if c.id in KNOWN_GAPS
    else c
    for c in CASES
]


@pytest.mark.parametrize("case", PARAMS, ids=[c.id for c in CASES])
def test_case(case, remote, tmp_path):
    recorded = EXPECTED[case.area].get("cases", {})
    if case.name not in recorded:
        pytest.fail(
            f"{case.id} has no recorded result: run "
            f"`python compat-suite/record_spark.py --case {case.id}` with a full pyspark",
            pytrace=False,
        )
    expected = recorded[case.name]
    spark = new_session(remote)
    try:
        actual = run_and_normalise(case, spark, tmp_path)
    finally:
        stop_quietly(spark)
    problem = compare(expected, actual, case.error_contains)
    if problem:
        pytest.fail(f"{case.id}: {problem}", pytrace=False)


@pytest.mark.parametrize("area", AREAS)
def test_recordings_match_cases(area):
    """No stale recordings: every recorded case still exists, and all come from Spark 4."""
    doc = EXPECTED[area]
    assert doc, f"expected/{area}.json is missing"
    assert str(doc.get("spark_version", "")).startswith("4."), doc.get("spark_version")
    names = {c.name for c in load_area(area)}
    stale = sorted(set(doc["cases"]) - names)
    assert not stale, f"recorded but no longer defined in cases/{area}.py: {stale}"


def test_enough_cases():
    errors = [c for c in CASES if c.expects_error]
    assert len(CASES) >= 170 and len(errors) >= 15, (len(CASES), len(errors))
