"""Helpers for the pipeline tests: projects written to disk, the clients that run them as
users do (Spark's own `pyspark.pipelines.cli`, sluice's `sluice-dlt` runner, and the
`sluice pipeline run` binary), and JSON input files dropped into a landing folder.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

TIMEOUT = 240


class Result:
    def __init__(self, proc: subprocess.CompletedProcess):
        self.code = proc.returncode
        self.out = (proc.stdout or "") + (proc.stderr or "")

    def ok(self) -> "Result":
        assert self.code == 0, f"exit code {self.code}:\n{self.out}"
        return self

    def failed(self) -> "Result":
        assert self.code != 0, f"expected a failure, got success:\n{self.out}"
        return self


def _run(argv: Sequence[str], env: Dict[str, str], cwd: Optional[Path] = None) -> Result:
    proc = subprocess.run(
        list(argv),
        env={**os.environ, "TZ": "UTC", **env},
        cwd=str(cwd) if cwd else None,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    return Result(proc)


def sdp_cli(remote: str, *args: str, cwd: Optional[Path] = None) -> Result:
    """Spark's own CLI (`spark-pipelines`), from the pyspark-client package."""
    return _run([sys.executable, "-m", "pyspark.pipelines.cli", *args], {"SPARK_REMOTE": remote}, cwd)


def dlt_runner(remote: str, *args: str, cwd: Optional[Path] = None) -> Result:
    """sluice's runner for Databricks DLT Python files (python/ in this repository)."""
    return _run(
        [sys.executable, "-m", "sluice_pipelines.runner", *args, "--remote", remote],
        {},
        cwd,
    )


def sluice_pipeline(binary: str, warehouse: Path, *args: str, cwd: Optional[Path] = None) -> Result:
    """`sluice pipeline ...`: SQL pipelines in-process, no client."""
    return _run([binary, "--warehouse", str(warehouse), "pipeline", *args], {}, cwd)


def write_project(root: Path, files: Dict[str, str], storage: Optional[Path] = None, name: str = "p") -> Path:
    """A `spark-pipeline.yml` project whose libraries are everything under transformations/."""
    root.mkdir(parents=True, exist_ok=True)
    storage = storage or root / "pipeline-storage"
    spec = root / "spark-pipeline.yml"
    spec.write_text(
        f"name: {name}\nstorage: file://{storage}\nlibraries:\n  - glob:\n      include: transformations/**\n"
    )
    for rel, text in files.items():
        path = root / "transformations" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return spec


def drop_json(folder: Path, name: str, rows: Iterable[dict]) -> Path:
    """A JSON-lines file that appears whole (written aside, then renamed)."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.tmp"
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    final = folder / name
    os.replace(tmp, final)
    return final


def events(out: str) -> List[str]:
    """The event messages a CLI printed (the text after each timestamp)."""
    return [line for line in out.splitlines() if line.strip()]
