"""``sluice-dlt``: run Databricks DLT Python pipeline files against a sluice server.

::

    sluice-dlt run [--remote sc://127.0.0.1:15002] [--storage DIR] [--name NAME]
                   [--catalog C] [--database D] [--conf k=v ...]
                   [--full-refresh a,b] [--full-refresh-all] [--refresh a,b] [--dry-run] PATH...
    sluice-dlt dry-run ... PATH...

PATH is a ``.py`` or ``.sql`` file or a directory (every ``.py``/``.sql`` file below it, in
sorted order). Python files run with ``spark`` as a global and with ``import dlt`` resolving to
:mod:`sluice_pipelines.dlt`; SQL files are sent to the server as pipeline SQL.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import traceback
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Union

DEFAULT_REMOTE = "sc://127.0.0.1:15002"
DEFAULT_STORAGE = "pipeline-storage"
SOURCE_SUFFIXES = (".py", ".sql")

PathLike = Union[str, "os.PathLike[str]"]


class UsageError(ValueError):
    """A mistake in how the runner was called (exit code 2)."""


def _log(message: str) -> None:
    try:
        from pyspark.pipelines.logging_utils import log_with_curr_timestamp

        log_with_curr_timestamp(message)
    except ImportError:  # pragma: no cover
        print(message, flush=True)


# --------------------------------------------------------------------------------------------
# Files.
# --------------------------------------------------------------------------------------------


def discover_files(paths: Iterable[PathLike]) -> List[Path]:
    """The pipeline source files named by ``paths``, in order.

    A file is taken as given (it must end in .py or .sql). A directory contributes every .py
    and .sql file below it, recursively, sorted by path, skipping ``__pycache__`` and hidden
    directories. A file reached twice is kept at its first place.
    """
    found: List[Path] = []
    seen = set()

    def add(path: Path) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            found.append(path)

    for raw in paths:
        path = Path(raw)
        if path.is_file():
            if path.suffix not in SOURCE_SUFFIXES:
                raise UsageError(f"{path}: not a .py or .sql file")
            add(path)
        elif path.is_dir():
            below = []
            for candidate in path.rglob("*"):
                relative = candidate.relative_to(path).parts
                if any(part == "__pycache__" or part.startswith(".") for part in relative):
                    continue
                if candidate.suffix in SOURCE_SUFFIXES and candidate.is_file():
                    below.append((relative, candidate))
            for _, candidate in sorted(below):
                add(candidate)
        else:
            raise UsageError(f"{path}: no such file or directory")
    return found


@contextmanager
def dlt_module_installed() -> Iterator[Any]:
    """Make ``import dlt`` resolve to :mod:`sluice_pipelines.dlt` inside the block, and put back
    whatever ``sys.modules["dlt"]`` was (or was not) afterwards."""
    from sluice_pipelines import dlt as sluice_dlt

    missing = object()
    previous = sys.modules.get("dlt", missing)
    sys.modules["dlt"] = sluice_dlt
    try:
        yield sluice_dlt
    finally:
        if previous is missing:
            sys.modules.pop("dlt", None)
        else:
            sys.modules["dlt"] = previous  # type: ignore[assignment]


@contextmanager
def _on_sys_path(directory: Path) -> Iterator[None]:
    entry = str(directory)
    added = entry not in sys.path
    if added:
        sys.path.insert(0, entry)
    try:
        yield
    finally:
        if added:
            try:
                sys.path.remove(entry)
            except ValueError:
                pass


def _block_session_mutations() -> Any:
    try:
        from pyspark.pipelines.block_session_mutations import block_session_mutations
    except ImportError:  # pragma: no cover - older pyspark
        return nullcontext()
    return block_session_mutations()


def _run_python_file(path: Path, spark: Any, dataflow_graph_id: Optional[str]) -> None:
    from sluice_pipelines import _extension, dlt as sluice_dlt

    module_name = path.stem if path.stem.isidentifier() else "pipeline_definitions"
    spec = importlib.util.spec_from_file_location(module_name, str(path))
    if spec is None or spec.loader is None:
        raise UsageError(f"{path}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    module.__dict__["spark"] = spark
    try:
        with _extension.analysis_context(spark, dataflow_graph_id, None):
            with _block_session_mutations(), _on_sys_path(path.resolve().parent):
                spec.loader.exec_module(module)
                # Register what the file defined, in definition order, now that every decorator
                # (expectations included) has been applied.
                sluice_dlt._flush_pending()
    finally:
        sluice_dlt._discard_pending()


def register_files(
    files: Sequence[Path],
    registry: Any,
    spark: Any,
    dataflow_graph_id: Optional[str],
) -> None:
    """Execute/register each pipeline file with ``registry``, in order."""
    from pyspark.pipelines.graph_element_registry import graph_element_registration_context

    from sluice_pipelines import dlt as sluice_dlt

    with graph_element_registration_context(registry), dlt_module_installed():
        with sluice_dlt._run_scope(spark, dataflow_graph_id):
            for path in files:
                if path.suffix == ".py":
                    _log(f"Importing {path}...")
                    _run_python_file(path, spark, dataflow_graph_id)
                elif path.suffix == ".sql":
                    _log(f"Registering SQL file {path}...")
                    registry.register_sql(path.read_text(encoding="utf-8"), path)
                else:
                    raise UsageError(f"{path}: not a .py or .sql file")


# --------------------------------------------------------------------------------------------
# Running.
# --------------------------------------------------------------------------------------------


def check_reachable(remote: str, timeout: float = 5.0) -> None:
    """Fail fast with a clear message when nothing listens at the Spark Connect address
    (pyspark's client would otherwise retry for many minutes)."""
    import socket
    from urllib.parse import urlparse

    try:
        parsed = urlparse(remote)
        host, port = parsed.hostname, parsed.port or 15002
    except ValueError:
        return
    if parsed.scheme != "sc" or not host:
        return
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as e:
        raise ConnectionError(
            f"cannot connect to the Spark Connect server at {remote} ({host}:{port}): {e}"
        ) from None


def resolve_storage(storage: Optional[str]) -> str:
    """An absolute storage directory (created if missing); URIs are passed through."""
    if storage and "://" in storage:
        return storage
    directory = Path(storage or DEFAULT_STORAGE).expanduser().resolve()
    directory.mkdir(parents=True, exist_ok=True)
    return str(directory)


def parse_conf(pairs: Optional[Iterable[str]]) -> Dict[str, str]:
    conf: Dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--conf expects key=value, got {pair!r}")
        conf[key.strip()] = value
    return conf


def _names(value: Union[None, str, Iterable[str]]) -> List[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    names: List[str] = []
    for item in value:
        names.extend(part.strip() for part in item.split(",") if part.strip())
    return names


def run_pipeline(
    paths: Union[PathLike, Sequence[PathLike]],
    remote: Optional[str] = None,
    storage: Optional[str] = None,
    name: Optional[str] = None,
    catalog: Optional[str] = None,
    database: Optional[str] = None,
    conf: Optional[Mapping[str, str]] = None,
    full_refresh: Union[None, str, Sequence[str]] = None,
    full_refresh_all: bool = False,
    refresh: Union[None, str, Sequence[str]] = None,
    dry_run: bool = False,
) -> None:
    """Define the pipeline in ``paths`` on a sluice server and run it (or just validate it
    with ``dry_run=True``), printing the pipeline's events.

    Raises :class:`UsageError` for bad arguments and pyspark's exceptions for server errors.
    """
    from pyspark.sql import SparkSession
    from pyspark.pipelines.spark_connect_pipeline import (
        create_dataflow_graph,
        handle_pipeline_events,
        start_run,
    )

    from sluice_pipelines._extension import SluiceGraphElementRegistry

    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    full_refresh_names = _names(full_refresh)
    refresh_names = _names(refresh)
    if full_refresh_all and (full_refresh_names or refresh_names):
        raise UsageError("--full-refresh-all cannot be combined with --full-refresh or --refresh")
    files = discover_files(paths)
    if not files:
        raise UsageError("no .py or .sql pipeline files found in " + ", ".join(map(str, paths)))
    remote = remote or os.environ.get("SPARK_REMOTE") or DEFAULT_REMOTE
    storage_dir = resolve_storage(storage)
    sql_conf = {str(k): str(v) for k, v in (conf or {}).items()}

    label = f"pipeline '{name}'" if name else "pipeline"
    _log(f"Connecting to {remote} for {label} ({len(files)} file(s))...")
    check_reachable(remote)
    builder = SparkSession.builder.remote(remote)
    for key, value in sql_conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    try:
        _log("Creating dataflow graph...")
        dataflow_graph_id = create_dataflow_graph(
            spark,
            default_catalog=catalog,
            default_database=database,
            sql_conf=sql_conf,
        )
        registry = SluiceGraphElementRegistry(spark, dataflow_graph_id)
        _log("Registering graph elements...")
        register_files(files, registry, spark, dataflow_graph_id)
        _log("Starting dry run..." if dry_run else "Starting run...")
        events = start_run(
            spark,
            dataflow_graph_id,
            full_refresh=full_refresh_names,
            full_refresh_all=full_refresh_all,
            refresh=refresh_names,
            dry=dry_run,
            storage=storage_dir,
        )
        handle_pipeline_events(events)
    finally:
        spark.stop()


# --------------------------------------------------------------------------------------------
# Command line.
# --------------------------------------------------------------------------------------------


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # exits with 2, like argparse, but via UsageError
        raise UsageError(message)


def _add_run_arguments(parser: argparse.ArgumentParser, with_dry_run: bool) -> None:
    parser.add_argument(
        "paths", nargs="+", metavar="PATH", help=".py/.sql files or directories of them"
    )
    parser.add_argument(
        "--remote",
        help=f"Spark Connect URL (default: $SPARK_REMOTE, else {DEFAULT_REMOTE})",
    )
    parser.add_argument(
        "--storage",
        help=f"pipeline storage directory for checkpoints (default: ./{DEFAULT_STORAGE})",
    )
    parser.add_argument("--name", help="pipeline name (used in log output)")
    parser.add_argument("--catalog", help="default catalog of the pipeline's datasets")
    parser.add_argument(
        "--database", "--schema", dest="database", help="default database of the datasets"
    )
    parser.add_argument(
        "--conf",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Spark conf for the session and the pipeline (repeatable)",
    )
    parser.add_argument(
        "--full-refresh",
        action="append",
        default=[],
        metavar="A,B",
        help="datasets to reset and recompute (comma-separated, repeatable)",
    )
    parser.add_argument(
        "--full-refresh-all", action="store_true", help="reset and recompute every dataset"
    )
    parser.add_argument(
        "--refresh",
        action="append",
        default=[],
        metavar="A,B",
        help="datasets to update (comma-separated, repeatable)",
    )
    if with_dry_run:
        parser.add_argument(
            "--dry-run", action="store_true", help="validate the graph without running it"
        )


def build_parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(
        prog="sluice-dlt",
        description="Run Databricks DLT Python pipelines (import dlt) on a sluice server.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    _add_run_arguments(
        commands.add_parser("run", help="run a pipeline"),
        with_dry_run=True,
    )
    _add_run_arguments(
        commands.add_parser("dry-run", help="validate a pipeline without running it"),
        with_dry_run=False,
    )
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    # Sub-parsers are created with the parser's own class, so their errors raise UsageError.
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        run_pipeline(
            args.paths,
            remote=args.remote,
            storage=args.storage,
            name=args.name,
            catalog=args.catalog,
            database=args.database,
            conf=parse_conf(args.conf),
            full_refresh=args.full_refresh,
            full_refresh_all=args.full_refresh_all,
            refresh=args.refresh,
            dry_run=args.command == "dry-run" or getattr(args, "dry_run", False),
        )
    except UsageError as e:
        parser.print_usage(sys.stderr)
        print(f"sluice-dlt: error: {e}", file=sys.stderr)
        return 2
    except ConnectionError as e:
        print(f"sluice-dlt: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("sluice-dlt: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - the CLI reports every failure
        from pyspark.errors import PySparkException

        if isinstance(e, PySparkException):
            print(f"sluice-dlt: {e}", file=sys.stderr)
        else:
            traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
