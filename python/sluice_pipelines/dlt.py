"""A Databricks Delta Live Tables (``import dlt``) compatible API for sluice.

Pipeline files run by ``sluice-dlt run`` see this module as ``dlt``. It translates the DLT
Python API to Spark Declarative Pipelines graph elements and registers them with pyspark's
active graph element registry, the same way ``from pyspark import pipelines as dp`` does.

Registration is deferred: decorators and ``create_*``/``apply_changes`` calls record a pending
definition, and the runner registers the pending definitions, in the order they were made,
after each pipeline file has executed. This lets expectation decorators sit above or below
``@dlt.table``/``@dlt.view``/``@dlt.append_flow``, and matches DLT, which also evaluates
query functions after the file has been read.

This module is importable as ``sluice_pipelines.dlt`` only; it never installs itself as
``dlt`` (the runner does that, for the duration of a run).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional, Union

from pyspark.pipelines.graph_element_registry import get_active_graph_element_registry
from pyspark.pipelines.source_code_location import (
    SourceCodeLocation,
    get_caller_source_code_location,
)

from sluice_pipelines import _extension as _ext

__all__ = [
    "table",
    "create_table",
    "view",
    "materialized_view",
    "read",
    "read_stream",
    "create_streaming_table",
    "create_target_table",
    "append_flow",
    "expect",
    "expect_or_drop",
    "expect_or_fail",
    "expect_all",
    "expect_all_or_drop",
    "expect_all_or_fail",
    "apply_changes",
    "create_auto_cdc_flow",
    "create_sink",
    "foreach_batch_sink",
    "apply_changes_from_snapshot",
    "create_auto_cdc_from_snapshot_flow",
]

QueryFunction = Callable[[], Any]

# The attribute of a query function where expectation decorators collect their expectations.
_EXPECTATIONS_ATTR = "__sluice_expectations__"


class _RunState:
    """What the runner tells this module about the run in progress."""

    def __init__(self) -> None:
        self.spark: Any = None
        self.dataflow_graph_id: Optional[str] = None
        self.active = False
        self.pending: List[Callable[[], None]] = []


_state = _RunState()


@contextmanager
def _run_scope(spark: Any, dataflow_graph_id: Optional[str]) -> Iterator[None]:
    """Used by the runner: make ``spark`` the session of ``dlt.read``/``read_stream`` and of
    query function evaluation for the duration of the block."""
    previous = (_state.spark, _state.dataflow_graph_id, _state.active, _state.pending)
    _state.spark = spark
    _state.dataflow_graph_id = dataflow_graph_id
    _state.active = True
    _state.pending = []
    try:
        yield
    finally:
        _state.spark, _state.dataflow_graph_id, _state.active, _state.pending = previous


def _pending_count() -> int:
    return len(_state.pending)


def _discard_pending() -> None:
    _state.pending = []


def _flush_pending() -> None:
    """Used by the runner: register every pending definition, in definition order, with the
    active graph element registry."""
    pending, _state.pending = _state.pending, []
    for register in pending:
        register()


def _defer(register: Callable[[], None]) -> None:
    _state.pending.append(register)


# --------------------------------------------------------------------------------------------
# Argument checks and conversions.
# --------------------------------------------------------------------------------------------


def _check_optional_str(arg_name: str, value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"'{arg_name}' must be a str, got {type(value).__name__}")


def _check_optional_dict(arg_name: str, value: Any) -> None:
    if value is not None and not isinstance(value, dict):
        raise TypeError(f"'{arg_name}' must be a dict, got {type(value).__name__}")


def _check_optional_str_list(arg_name: str, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"'{arg_name}' must be a list of str, got {value!r}")


def _str_dict(value: Optional[Dict[Any, Any]]) -> Dict[str, str]:
    """Spark confs and table properties are string maps on the wire; DLT users sometimes write
    booleans or numbers (``{"delta.enableChangeDataFeed": True}``)."""
    result = {}
    for key, val in (value or {}).items():
        if isinstance(val, bool):
            val = "true" if val else "false"
        result[str(key)] = str(val)
    return result


def _check_callable(func: Any, decorator: str) -> None:
    if not callable(func):
        raise TypeError(
            f"@dlt.{decorator} must decorate a function that returns a DataFrame, "
            f"got {type(func).__name__}"
        )


def _connect_functions() -> Any:
    from pyspark.sql.connect.functions import builtin

    return builtin


def _is_column(value: Any) -> bool:
    from pyspark.sql import Column

    return isinstance(value, Column)


def _to_column(arg_name: str, value: Any) -> Any:
    """A column identifier (str) or Column -> Column."""
    if isinstance(value, str):
        return _connect_functions().col(value)
    if _is_column(value):
        return value
    raise TypeError(f"'{arg_name}' must hold column names or Columns, got {type(value).__name__}")


def _to_columns(arg_name: str, values: Any) -> Optional[List[Any]]:
    if values is None:
        return None
    if isinstance(values, str) or not isinstance(values, (list, tuple)):
        raise TypeError(f"'{arg_name}' must be a list of column names or Columns, got {values!r}")
    return [_to_column(arg_name, v) for v in values]


def _to_expression(arg_name: str, value: Any) -> Any:
    """A SQL expression (str) or Column -> Column."""
    if value is None:
        return None
    if isinstance(value, str):
        return _connect_functions().expr(value)
    if _is_column(value):
        return value
    raise TypeError(f"'{arg_name}' must be a SQL expression string or a Column, got {value!r}")


def _sql_text(arg_name: str, value: Any) -> str:
    """SQL text of a condition given as a string, ``expr("...")`` or ``col("...")``."""
    if isinstance(value, str):
        return value
    inner = getattr(value, "_expr", None)
    if inner is not None:
        from pyspark.sql.connect.expressions import ColumnReference, SQLExpression

        if isinstance(inner, SQLExpression):
            return inner._expr
        if isinstance(inner, ColumnReference):
            return inner.name()
    raise NotImplementedError(
        f"'{arg_name}' must be given as a SQL string (or expr('...')) for sluice; got {value!r}"
    )


def _column_names(arg_name: str, values: Any) -> Optional[List[str]]:
    if values is None:
        return None
    if isinstance(values, str) or not isinstance(values, (list, tuple)):
        raise TypeError(f"'{arg_name}' must be a list of column names, got {values!r}")
    return [_sql_text(arg_name, v) for v in values]


# --------------------------------------------------------------------------------------------
# Expectations.
# --------------------------------------------------------------------------------------------


def _expectation(name: Any, condition: Any, action: str) -> Dict[str, str]:
    if not isinstance(name, str):
        raise TypeError(f"an expectation name must be a str, got {type(name).__name__}")
    return {"name": name, "condition": _sql_text("condition", condition), "action": action}


def _expectations_from_dict(expectations: Any, action: str, arg_name: str) -> List[Dict[str, str]]:
    if not isinstance(expectations, dict):
        raise TypeError(f"'{arg_name}' must be a dict of name -> condition, got {expectations!r}")
    return [_expectation(n, c, action) for n, c in expectations.items()]


def _add_expectations(func: Any, expectations: List[Dict[str, str]]) -> Any:
    """Put ``expectations`` before those already collected on ``func``: decorators apply
    bottom-up, so prepending keeps the top-to-bottom declaration order."""
    if not callable(func):
        raise TypeError(
            f"expectation decorators must decorate a function, got {type(func).__name__}"
        )
    collected = list(getattr(func, _EXPECTATIONS_ATTR, []))
    setattr(func, _EXPECTATIONS_ATTR, expectations + collected)
    return func


def _expectations_of(func: Any) -> List[Dict[str, str]]:
    return [dict(e) for e in getattr(func, _EXPECTATIONS_ATTR, [])]


def expect(name: str, condition: Any) -> Callable[[Any], Any]:
    """Rows violating ``condition`` are kept and counted."""
    e = [_expectation(name, condition, _ext.ACTION_WARN)]
    return lambda func: _add_expectations(func, e)


def expect_or_drop(name: str, condition: Any) -> Callable[[Any], Any]:
    """Rows violating ``condition`` are dropped."""
    e = [_expectation(name, condition, _ext.ACTION_DROP)]
    return lambda func: _add_expectations(func, e)


def expect_or_fail(name: str, condition: Any) -> Callable[[Any], Any]:
    """A row violating ``condition`` fails the flow."""
    e = [_expectation(name, condition, _ext.ACTION_FAIL)]
    return lambda func: _add_expectations(func, e)


def expect_all(expectations: Dict[str, Any]) -> Callable[[Any], Any]:
    e = _expectations_from_dict(expectations, _ext.ACTION_WARN, "expectations")
    return lambda func: _add_expectations(func, e)


def expect_all_or_drop(expectations: Dict[str, Any]) -> Callable[[Any], Any]:
    e = _expectations_from_dict(expectations, _ext.ACTION_DROP, "expectations")
    return lambda func: _add_expectations(func, e)


def expect_all_or_fail(expectations: Dict[str, Any]) -> Callable[[Any], Any]:
    e = _expectations_from_dict(expectations, _ext.ACTION_FAIL, "expectations")
    return lambda func: _add_expectations(func, e)


# --------------------------------------------------------------------------------------------
# Query function evaluation.
# --------------------------------------------------------------------------------------------


def _evaluate(func: QueryFunction, flow_name: str, decorator: str) -> Any:
    """Call a query function once, inside the pipeline analysis context of its flow."""
    with _ext.analysis_context(_state.spark, _state.dataflow_graph_id, flow_name):
        df = func()
    if df is None or not hasattr(df, "isStreaming"):
        raise TypeError(
            f"the function decorated with @dlt.{decorator} for '{flow_name}' must return a "
            f"DataFrame, got {type(df).__name__}"
        )
    return df


def _constant(df: Any) -> QueryFunction:
    def query() -> Any:
        return df

    return query


# --------------------------------------------------------------------------------------------
# Tables and views.
# --------------------------------------------------------------------------------------------


def _table_decorator(
    decorator: str,
    query_function: Optional[QueryFunction],
    kind: Optional[str],
    location: SourceCodeLocation,
    name: Optional[str],
    comment: Optional[str],
    spark_conf: Optional[Dict[str, Any]],
    table_properties: Optional[Dict[str, Any]],
    path: Optional[str],
    partition_cols: Optional[List[str]],
    cluster_by: Optional[List[str]],
    schema: Any,
    temporary: bool,
    row_filter: Any,
    format: Optional[str],
) -> Any:
    if isinstance(query_function, str) and name is None:
        # dlt.table("name") used as a decorator factory.
        name, query_function = query_function, None
    if row_filter is not None:
        raise NotImplementedError(f"dlt.{decorator}(row_filter=...) is not supported by sluice")
    _check_optional_str("name", name)
    _check_optional_str("comment", comment)
    _check_optional_str("path", path)
    _check_optional_str("format", format)
    _check_optional_dict("spark_conf", spark_conf)
    _check_optional_dict("table_properties", table_properties)
    _check_optional_str_list("partition_cols", partition_cols)
    _check_optional_str_list("cluster_by", cluster_by)
    if schema is not None and not isinstance(schema, str):
        from pyspark.sql.types import StructType

        if not isinstance(schema, StructType):
            raise TypeError(f"'schema' must be a DDL string or a StructType, got {schema!r}")

    output_extension: Dict[str, Any] = {}
    if temporary:
        output_extension[_ext.KEY_TEMPORARY] = True
    if path is not None:
        output_extension[_ext.KEY_PATH] = path

    def decorate(func: QueryFunction) -> QueryFunction:
        _check_callable(func, decorator)
        resolved = name if name is not None else func.__name__

        def register() -> None:
            registry = get_active_graph_element_registry()
            if kind is None:
                # DLT decides from the query: streaming DataFrame -> streaming table.
                df = _evaluate(func, resolved, decorator)
                streaming = bool(df.isStreaming)
                output_class = (
                    _ext.SluiceStreamingTable if streaming else _ext.SluiceMaterializedView
                )
                flow_func = _constant(df)
            else:
                output_class = (
                    _ext.SluiceStreamingTable
                    if kind == "streaming_table"
                    else _ext.SluiceMaterializedView
                )
                flow_func = func
            registry.register_output(
                _ext.build_element(
                    output_class,
                    name=resolved,
                    comment=comment,
                    source_code_location=location,
                    table_properties=_str_dict(table_properties),
                    partition_cols=list(partition_cols) if partition_cols else None,
                    cluster_by=list(cluster_by) if cluster_by else None,
                    schema=schema,
                    format=format,
                    extension=dict(output_extension),
                )
            )
            _register_defining_flow(registry, resolved, func, flow_func, spark_conf, location)

        _defer(register)
        return func

    if query_function is not None:
        return decorate(query_function)
    return decorate


def _register_defining_flow(
    registry: Any,
    name: str,
    decorated: QueryFunction,
    query: QueryFunction,
    spark_conf: Optional[Dict[str, str]],
    location: Any,
) -> None:
    """The flow named after its dataset, with the expectations `decorated` collected."""
    extension: Dict[str, Any] = {}
    expectations = _expectations_of(decorated)
    if expectations:
        extension[_ext.KEY_EXPECTATIONS] = expectations
    registry.register_flow(
        _ext.SluiceFlow(
            name=name,
            target=name,
            spark_conf=_str_dict(spark_conf),
            source_code_location=location,
            func=query,
            extension=extension,
        )
    )


def table(
    query_function: Optional[QueryFunction] = None,
    *,
    name: Optional[str] = None,
    comment: Optional[str] = None,
    spark_conf: Optional[Dict[str, Any]] = None,
    table_properties: Optional[Dict[str, Any]] = None,
    path: Optional[str] = None,
    partition_cols: Optional[List[str]] = None,
    cluster_by: Optional[List[str]] = None,
    schema: Any = None,
    temporary: bool = False,
    private: bool = False,
    row_filter: Any = None,
) -> Any:
    """Define a dataset from a query function: a streaming table when the function returns a
    streaming DataFrame, a materialized view otherwise. Usable as ``@dlt.table`` and
    ``@dlt.table(...)``; returns the function unchanged."""
    return _table_decorator(
        "table",
        query_function,
        None,
        get_caller_source_code_location(stacklevel=1),
        name,
        comment,
        spark_conf,
        table_properties,
        path,
        partition_cols,
        cluster_by,
        schema,
        bool(temporary or private),
        row_filter,
        None,
    )


create_table = table


def materialized_view(
    query_function: Optional[QueryFunction] = None,
    *,
    name: Optional[str] = None,
    comment: Optional[str] = None,
    spark_conf: Optional[Dict[str, Any]] = None,
    table_properties: Optional[Dict[str, Any]] = None,
    path: Optional[str] = None,
    partition_cols: Optional[List[str]] = None,
    cluster_by: Optional[List[str]] = None,
    schema: Any = None,
    temporary: bool = False,
    private: bool = False,
    row_filter: Any = None,
) -> Any:
    """Define a materialized view from a batch query function."""
    return _table_decorator(
        "materialized_view",
        query_function,
        "materialized_view",
        get_caller_source_code_location(stacklevel=1),
        name,
        comment,
        spark_conf,
        table_properties,
        path,
        partition_cols,
        cluster_by,
        schema,
        bool(temporary or private),
        row_filter,
        None,
    )


def view(
    query_function: Optional[QueryFunction] = None,
    *,
    name: Optional[str] = None,
    comment: Optional[str] = None,
    spark_conf: Optional[Dict[str, Any]] = None,
) -> Any:
    """Define a temporary view, visible inside the pipeline only."""
    if isinstance(query_function, str) and name is None:
        name, query_function = query_function, None
    _check_optional_str("name", name)
    _check_optional_str("comment", comment)
    _check_optional_dict("spark_conf", spark_conf)
    location = get_caller_source_code_location(stacklevel=1)

    def decorate(func: QueryFunction) -> QueryFunction:
        _check_callable(func, "view")
        resolved = name if name is not None else func.__name__

        def register() -> None:
            registry = get_active_graph_element_registry()
            registry.register_output(
                _ext.SluiceTemporaryView(
                    name=resolved, comment=comment, source_code_location=location
                )
            )
            _register_defining_flow(registry, resolved, func, func, spark_conf, location)

        _defer(register)
        return func

    if query_function is not None:
        return decorate(query_function)
    return decorate


temporary_view = view


def create_streaming_table(
    name: str,
    comment: Optional[str] = None,
    spark_conf: Optional[Dict[str, Any]] = None,
    table_properties: Optional[Dict[str, Any]] = None,
    partition_cols: Optional[List[str]] = None,
    cluster_by: Optional[List[str]] = None,
    path: Optional[str] = None,
    schema: Any = None,
    expect_all: Optional[Dict[str, Any]] = None,
    expect_all_or_drop: Optional[Dict[str, Any]] = None,
    expect_all_or_fail: Optional[Dict[str, Any]] = None,
    row_filter: Any = None,
) -> None:
    """Define a streaming table that flows (``@dlt.append_flow``, ``dlt.apply_changes``)
    write into. Expectations given here apply to the table (the output's extension)."""
    if not isinstance(name, str):
        raise TypeError(f"'name' must be a str, got {type(name).__name__}")
    if row_filter is not None:
        raise NotImplementedError(
            "dlt.create_streaming_table(row_filter=...) is not supported by sluice"
        )
    _check_optional_str("comment", comment)
    _check_optional_str("path", path)
    _check_optional_dict("spark_conf", spark_conf)
    _check_optional_dict("table_properties", table_properties)
    _check_optional_str_list("partition_cols", partition_cols)
    _check_optional_str_list("cluster_by", cluster_by)
    if spark_conf:
        import warnings

        warnings.warn(
            f"dlt.create_streaming_table('{name}', spark_conf=...) is ignored by sluice; "
            "set spark_conf on the flows that write to the table instead",
            stacklevel=2,
        )
    location = get_caller_source_code_location(stacklevel=1)

    extension: Dict[str, Any] = {}
    if path is not None:
        extension[_ext.KEY_PATH] = path
    expectations: List[Dict[str, str]] = []
    if expect_all is not None:
        expectations += _expectations_from_dict(expect_all, _ext.ACTION_WARN, "expect_all")
    if expect_all_or_drop is not None:
        expectations += _expectations_from_dict(
            expect_all_or_drop, _ext.ACTION_DROP, "expect_all_or_drop"
        )
    if expect_all_or_fail is not None:
        expectations += _expectations_from_dict(
            expect_all_or_fail, _ext.ACTION_FAIL, "expect_all_or_fail"
        )
    if expectations:
        extension[_ext.KEY_EXPECTATIONS] = expectations

    output = _ext.build_element(
        _ext.SluiceStreamingTable,
        name=name,
        comment=comment,
        source_code_location=location,
        table_properties=_str_dict(table_properties),
        partition_cols=list(partition_cols) if partition_cols else None,
        cluster_by=list(cluster_by) if cluster_by else None,
        schema=schema,
        format=None,
        extension=extension,
    )
    _defer(lambda: get_active_graph_element_registry().register_output(output))


create_target_table = create_streaming_table


def append_flow(
    target: str,
    name: Optional[str] = None,
    comment: Optional[str] = None,
    spark_conf: Optional[Dict[str, Any]] = None,
    once: bool = False,
) -> Callable[[QueryFunction], QueryFunction]:
    """Define a flow that appends the query function's result to ``target``."""
    if not isinstance(target, str):
        raise TypeError(f"'target' must be a str, got {type(target).__name__}")
    _check_optional_str("name", name)
    _check_optional_str("comment", comment)
    _check_optional_dict("spark_conf", spark_conf)
    location = get_caller_source_code_location(stacklevel=1)

    def decorate(func: QueryFunction) -> QueryFunction:
        _check_callable(func, "append_flow")
        flow_name = name if name is not None else func.__name__

        def register() -> None:
            extension: Dict[str, Any] = {}
            expectations = _expectations_of(func)
            if expectations:
                extension[_ext.KEY_EXPECTATIONS] = expectations
            if once:
                extension[_ext.KEY_ONCE] = True
            get_active_graph_element_registry().register_flow(
                _ext.SluiceFlow(
                    name=flow_name,
                    target=target,
                    spark_conf=_str_dict(spark_conf),
                    source_code_location=location,
                    func=func,
                    extension=extension,
                )
            )

        _defer(register)
        return func

    return decorate


# --------------------------------------------------------------------------------------------
# Reading datasets.
# --------------------------------------------------------------------------------------------


def _session(what: str) -> Any:
    if not _state.active or _state.spark is None:
        raise RuntimeError(
            f"dlt.{what}() can only be used while sluice-dlt runs a pipeline "
            "(sluice_pipelines.runner); there is no pipeline run in progress"
        )
    return _state.spark


def read(name: str) -> Any:
    """A batch DataFrame over the pipeline dataset (or catalog table) ``name``."""
    if not isinstance(name, str):
        raise TypeError(f"'name' must be a str, got {type(name).__name__}")
    return _session("read").read.table(name)


def read_stream(name: str) -> Any:
    """A streaming DataFrame over the pipeline dataset (or catalog table) ``name``."""
    if not isinstance(name, str):
        raise TypeError(f"'name' must be a str, got {type(name).__name__}")
    return _session("read_stream").readStream.table(name)


# --------------------------------------------------------------------------------------------
# Change data capture.
# --------------------------------------------------------------------------------------------


def _auto_cdc(
    api_name: str,
    location: SourceCodeLocation,
    target: Any,
    source: Any,
    keys: Any,
    sequence_by: Any,
    where: Any,
    ignore_null_updates: bool,
    apply_as_deletes: Any,
    apply_as_truncates: Any,
    column_list: Any,
    except_column_list: Any,
    stored_as_scd_type: Any,
    track_history_column_list: Any,
    track_history_except_column_list: Any,
    flow_name: Optional[str],
    once: bool,
    ignore_null_updates_column_list: Any,
    ignore_null_updates_except_column_list: Any,
) -> None:
    if not isinstance(target, str):
        raise TypeError(f"'target' must be a str, got {type(target).__name__}")
    if not isinstance(source, str):
        raise TypeError(f"'source' must be a str (a dataset name), got {type(source).__name__}")
    _check_optional_str("flow_name", flow_name)
    if not keys:
        raise ValueError(f"dlt.{api_name}: 'keys' must name at least one column")
    if sequence_by is None:
        raise ValueError(f"dlt.{api_name}: 'sequence_by' is required")
    if column_list is not None and except_column_list is not None:
        raise ValueError(
            f"dlt.{api_name}: only one of column_list and except_column_list can be given"
        )
    if track_history_column_list is not None and track_history_except_column_list is not None:
        raise ValueError(
            f"dlt.{api_name}: only one of track_history_column_list and "
            "track_history_except_column_list can be given"
        )
    if ignore_null_updates_column_list is not None:
        raise NotImplementedError(
            f"dlt.{api_name}(ignore_null_updates_column_list=...) is not supported by sluice"
        )
    if ignore_null_updates_except_column_list is not None:
        raise NotImplementedError(
            f"dlt.{api_name}(ignore_null_updates_except_column_list=...) is not supported by "
            "sluice"
        )
    scd = str(stored_as_scd_type if stored_as_scd_type is not None else 1).strip()
    if scd not in ("1", "2"):
        raise ValueError(
            f"dlt.{api_name}: stored_as_scd_type must be 1 or 2, got {stored_as_scd_type!r}"
        )
    if scd == "1" and (
        track_history_column_list is not None or track_history_except_column_list is not None
    ):
        raise ValueError(
            f"dlt.{api_name}: track_history_column_list / track_history_except_column_list "
            "need stored_as_scd_type=2"
        )

    extension: Dict[str, Any] = {}
    if scd == "2":
        extension[_ext.KEY_SCD_TYPE] = 2
    if ignore_null_updates:
        extension[_ext.KEY_IGNORE_NULL_UPDATES] = True
    history = _column_names("track_history_column_list", track_history_column_list)
    if history is not None:
        extension[_ext.KEY_TRACK_HISTORY_COLUMN_LIST] = history
    history_except = _column_names(
        "track_history_except_column_list", track_history_except_column_list
    )
    if history_except is not None:
        extension[_ext.KEY_TRACK_HISTORY_EXCEPT_COLUMN_LIST] = history_except
    if where is not None:
        extension[_ext.KEY_WHERE] = _sql_text("where", where)
    if once:
        extension[_ext.KEY_ONCE] = True

    if isinstance(keys, str):
        keys = [keys]
    flow = _ext.SluiceAutoCdcFlow(
        name=flow_name if flow_name is not None else target,
        target=target,
        source=source,
        keys=_to_columns("keys", keys),
        sequence_by=_to_expression("sequence_by", sequence_by),
        apply_as_deletes=_to_expression("apply_as_deletes", apply_as_deletes),
        column_list=_to_columns("column_list", column_list),
        except_column_list=_to_columns("except_column_list", except_column_list),
        stored_as_scd_type=1 if scd == "1" else None,
        source_code_location=location,
        apply_as_truncates=_to_expression("apply_as_truncates", apply_as_truncates),
        extension=extension,
    )
    _defer(lambda: get_active_graph_element_registry().register_auto_cdc_flow(flow))


def _flow_name(api_name: str, flow_name: Optional[str], name: Optional[str]) -> Optional[str]:
    if flow_name is not None and name is not None and flow_name != name:
        raise TypeError(f"dlt.{api_name}: give either flow_name or name, not both")
    return flow_name if flow_name is not None else name


def apply_changes(
    target: str,
    source: str,
    keys: Union[List[str], List[Any]],
    sequence_by: Any,
    where: Any = None,
    ignore_null_updates: bool = False,
    apply_as_deletes: Any = None,
    apply_as_truncates: Any = None,
    column_list: Any = None,
    except_column_list: Any = None,
    stored_as_scd_type: Union[int, str] = 1,
    track_history_column_list: Any = None,
    track_history_except_column_list: Any = None,
    flow_name: Optional[str] = None,
    name: Optional[str] = None,
    once: bool = False,
    ignore_null_updates_column_list: Any = None,
    ignore_null_updates_except_column_list: Any = None,
) -> None:
    """Apply the change data feed ``source`` to the streaming table ``target`` (create it first
    with :func:`create_streaming_table`)."""
    _auto_cdc(
        "apply_changes",
        get_caller_source_code_location(stacklevel=1),
        target,
        source,
        keys,
        sequence_by,
        where,
        ignore_null_updates,
        apply_as_deletes,
        apply_as_truncates,
        column_list,
        except_column_list,
        stored_as_scd_type,
        track_history_column_list,
        track_history_except_column_list,
        _flow_name("apply_changes", flow_name, name),
        once,
        ignore_null_updates_column_list,
        ignore_null_updates_except_column_list,
    )


def create_auto_cdc_flow(
    target: str,
    source: str,
    keys: Union[List[str], List[Any]],
    sequence_by: Any,
    where: Any = None,
    ignore_null_updates: bool = False,
    apply_as_deletes: Any = None,
    apply_as_truncates: Any = None,
    column_list: Any = None,
    except_column_list: Any = None,
    stored_as_scd_type: Union[int, str] = 1,
    track_history_column_list: Any = None,
    track_history_except_column_list: Any = None,
    flow_name: Optional[str] = None,
    name: Optional[str] = None,
    once: bool = False,
    ignore_null_updates_column_list: Any = None,
    ignore_null_updates_except_column_list: Any = None,
) -> None:
    """The newer name of :func:`apply_changes`; same arguments."""
    _auto_cdc(
        "create_auto_cdc_flow",
        get_caller_source_code_location(stacklevel=1),
        target,
        source,
        keys,
        sequence_by,
        where,
        ignore_null_updates,
        apply_as_deletes,
        apply_as_truncates,
        column_list,
        except_column_list,
        stored_as_scd_type,
        track_history_column_list,
        track_history_except_column_list,
        _flow_name("create_auto_cdc_flow", flow_name, name),
        once,
        ignore_null_updates_column_list,
        ignore_null_updates_except_column_list,
    )


# --------------------------------------------------------------------------------------------
# Not supported (yet).
# --------------------------------------------------------------------------------------------


def _unsupported(api_name: str) -> Callable[..., Any]:
    def unsupported(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"dlt.{api_name} is not supported by sluice")

    unsupported.__name__ = api_name
    unsupported.__doc__ = "Not supported by sluice: raises NotImplementedError."
    return unsupported


create_sink = _unsupported("create_sink")
foreach_batch_sink = _unsupported("foreach_batch_sink")
apply_changes_from_snapshot = _unsupported("apply_changes_from_snapshot")
create_auto_cdc_from_snapshot_flow = _unsupported("create_auto_cdc_from_snapshot_flow")
