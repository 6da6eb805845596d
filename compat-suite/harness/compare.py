"""Compare a case's outcome on the server under test with what Apache Spark recorded,
and explain a mismatch in a way a person can act on."""

import difflib
import json
from typing import List, Optional


def _render(outcome: dict) -> List[str]:
    """A readable, line-oriented rendering: a show() string as its own lines, a
    DataFrame as schema + one row per line, anything else as indented JSON."""
    if "error" in outcome:
        e = outcome["error"]
        out = [
            f"ERROR class={e.get('class')} condition={e.get('condition')} sqlstate={e.get('sqlstate')}",
        ]
        out += ["  | " + line for line in str(e.get("message", "")).splitlines()]
        return out
    if "schema" in outcome:
        out = [f"schema:   {outcome['schema']}", f"nullable: {json.dumps(outcome['nullable'])}"]
        out += [f"rows ({len(outcome['rows'])}):"]
        out += ["  " + json.dumps(r, ensure_ascii=False) for r in outcome["rows"]]
        return out
    if "pandas_columns" in outcome:
        out = [f"pandas columns: {outcome['pandas_columns']}", f"pandas dtypes:  {outcome['pandas_dtypes']}"]
        out += ["  " + json.dumps(r, ensure_ascii=False) for r in outcome["rows"]]
        return out
    value = outcome.get("value")
    if isinstance(value, str) and "\n" in value:
        # show() / HTML output: print it as it would appear, with line ends made visible
        return [f"({outcome.get('pytype')}, {len(value)} chars)"] + [
            line + "⏎" for line in value.split("\n")
        ]
    return [f"({outcome.get('pytype')})"] + json.dumps(value, indent=1, ensure_ascii=False).splitlines()


def explain(expected: dict, actual: dict, heading: str) -> str:
    exp, act = _render(expected), _render(actual)
    diff = difflib.unified_diff(exp, act, "expected (Apache Spark)", "actual (server under test)", lineterm="", n=2)
    return "\n".join(
        [heading, "", "--- EXPECTED (Apache Spark) ---", *exp, "", "--- ACTUAL (server under test) ---", *act, "", "--- DIFF ---", *diff]
    )


def compare(expected: dict, actual: dict, contains: Optional[str]) -> Optional[str]:
    """None when the outcomes agree, otherwise a description of the difference."""
    exp_err, act_err = expected.get("error"), actual.get("error")
    if exp_err is not None:
        if act_err is None:
            return explain(expected, actual, "Spark raised an error here, the server returned a result.")
        problems = []
        for key in ("class", "condition", "sqlstate"):
            if exp_err.get(key) != act_err.get(key):
                problems.append(f"{key}: expected {exp_err.get(key)!r}, got {act_err.get(key)!r}")
        needle = contains or exp_err.get("contains")
        if needle and needle not in act_err.get("message", ""):
            problems.append(f"message does not contain {needle!r}")
        if problems:
            return explain(expected, actual, "Error differs: " + "; ".join(problems))
        return None
    if act_err is not None:
        return explain(expected, actual, "The server raised an error where Spark returned a result.")
    if expected != actual:
        what = [k for k in sorted(set(expected) | set(actual)) if expected.get(k) != actual.get(k)]
        return explain(expected, actual, "Result differs in: " + ", ".join(what))
    return None
