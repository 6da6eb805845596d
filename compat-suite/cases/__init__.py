"""The recorded compatibility cases.

Each area module defines `CASES`, a list built with `C(...)` (a case that returns a
DataFrame or a Python value) and `E(...)` (a bad-input case that must raise). A case is
`fn(spark, tmp)`: `spark` is a fresh Spark Connect session, `tmp` a fresh empty
`pathlib.Path` the case may write input files into.

What Apache Spark returned for every case is in `expected/<area>.json`, written by
`record_spark.py`; `test_cases.py` runs the same cases against sluice and compares.
A case must not depend on time, randomness or the tmp path: turn such values into a
boolean or a count inside the case."""

import importlib
from dataclasses import dataclass
from typing import Any, Callable, List, Optional

AREAS = [
    "basics",
    "expressions",
    "functions",
    "sql_functions",
    "aggregates_joins",
    "time_windows",
    "sql",
    "types",
    "readers",
    "writers",
    "show",
    "errors",
]


@dataclass(frozen=True)
class Case:
    area: str
    name: str
    fn: Callable[[Any, Any], Any]
    # Rows are compared in the order returned (the case sorts them); otherwise sorted.
    ordered: bool = False
    # For bad-input cases: the case must raise, and this substring must be in the message.
    error_contains: Optional[str] = None

    @property
    def id(self) -> str:
        return f"{self.area}::{self.name}"

    @property
    def expects_error(self) -> bool:
        return self.error_contains is not None


def C(name: str, fn: Callable[[Any, Any], Any], ordered: bool = False) -> Case:
    return Case("", name, fn, ordered=ordered)


def E(name: str, fn: Callable[[Any, Any], Any], contains: str) -> Case:
    return Case("", name, fn, error_contains=contains)


def load_area(area: str) -> List[Case]:
    module = importlib.import_module(f"cases.{area}")
    out = []
    seen = set()
    for c in module.CASES:
        if c.name in seen:
            raise ValueError(f"duplicate case name {area}::{c.name}")
        seen.add(c.name)
        out.append(Case(area, c.name, c.fn, c.ordered, c.error_contains))
    return out


def all_cases() -> List[Case]:
    return [c for area in AREAS for c in load_area(area)]
