"""Turn whatever a case returns (or raises) into stable, JSON-safe data.

A DataFrame becomes {"schema", "nullable", "rows"}: the schema as Spark's simpleString,
the top-level fields' nullability, and the collected rows (sorted unless the case is
ordered). Python values become {"value", "pytype"}. An exception becomes {"error": {...}}
with the PySpark exception class, the error condition and the SQLSTATE.

Scalars that JSON cannot carry exactly are rendered as strings: floats with repr()
(so 'nan', 'inf', '0.1'), decimals with str(), datetimes in ISO form with a space,
bytes as hex prefixed by '0x'."""

import datetime
import decimal
import json
import re
from typing import Any, Optional

# Only the first part of an error message is kept in the recording (for a reader);
# the comparison uses class, condition, SQLSTATE and the case's own substring, which is
# looked for in the whole message.
MESSAGE_KEEP = 300


def norm_value(v: Any) -> Any:
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, datetime.datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, (datetime.date, datetime.time)):
        return v.isoformat()
    if isinstance(v, datetime.timedelta):
        return f"timedelta({v.days}d,{v.seconds}s,{v.microseconds}us)"
    if isinstance(v, (bytes, bytearray, memoryview)):
        return "0x" + bytes(v).hex()
    # pyspark Row (a tuple subclass with field names)
    fields = getattr(v, "__fields__", None)
    if isinstance(v, tuple) and fields is not None:
        return {str(k): norm_value(x) for k, x in zip(fields, v)}
    if isinstance(v, dict):
        return {_key(k): norm_value(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [norm_value(x) for x in v]
    if isinstance(v, (set, frozenset)):
        return sorted((norm_value(x) for x in v), key=_sort_key)
    if type(v).__module__.startswith("google") and hasattr(v, "__iter__"):
        return [norm_value(x) for x in v]  # protobuf repeated fields
    # numpy / pandas scalars
    item = getattr(v, "item", None)
    if callable(item) and type(v).__module__.startswith("numpy"):
        return norm_value(item())
    if type(v).__name__ in ("Timestamp", "NaTType"):
        return "NaT" if type(v).__name__ == "NaTType" else v.isoformat(sep=" ")
    json_value = getattr(v, "jsonValue", None)  # pyspark DataType
    if callable(json_value):
        return json_value()
    raise TypeError(f"cannot normalise a value of type {type(v).__module__}.{type(v).__name__}")


def _key(k: Any) -> str:
    n = norm_value(k)
    return n if isinstance(n, str) else json.dumps(n)


def _sort_key(x: Any) -> str:
    return json.dumps(x, sort_keys=True)


def _is_dataframe(v: Any) -> bool:
    t = type(v)
    return t.__name__ == "DataFrame" and t.__module__.startswith("pyspark.sql")


def _is_pandas(v: Any) -> bool:
    t = type(v)
    return t.__name__ == "DataFrame" and t.__module__.startswith("pandas")


def norm_dataframe(df: Any, ordered: bool) -> dict:
    schema = df.schema
    rows = [norm_value(list(r)) for r in df.collect()]
    if not ordered:
        rows.sort(key=_sort_key)
    return {
        "schema": schema.simpleString(),
        "nullable": [f.nullable for f in schema.fields],
        "rows": rows,
    }


def norm_pandas(pdf: Any, ordered: bool) -> dict:
    rows = []
    for rec in pdf.itertuples(index=False, name=None):
        rows.append([norm_value(x) for x in rec])
    if not ordered:
        rows.sort(key=_sort_key)
    return {
        "pandas_columns": [str(c) for c in pdf.columns],
        "pandas_dtypes": [str(t) for t in pdf.dtypes],
        "rows": rows,
    }


def norm_result(value: Any, ordered: bool = False) -> dict:
    if _is_dataframe(value):
        return norm_dataframe(value, ordered)
    if _is_pandas(value):
        return norm_pandas(value, ordered)
    return {"value": norm_value(value), "pytype": type(value).__name__}


def error_condition(e: BaseException) -> Optional[str]:
    for name in ("getCondition", "getErrorClass"):
        fn = getattr(e, name, None)
        if callable(fn):
            try:
                return fn()
            except Exception:
                return None
    return None


def error_message(e: BaseException) -> str:
    fn = getattr(e, "getMessage", None)
    text = None
    if callable(fn):
        try:
            text = fn()
        except Exception:
            text = None
    return text if text else str(e)


def norm_error(e: BaseException, tmp: Any = None) -> dict:
    sql_state = None
    fn = getattr(e, "getSqlState", None)
    if callable(fn):
        try:
            sql_state = fn()
        except Exception:
            sql_state = None
    message = error_message(e)
    # Drop what changes from run to run: the JVM stack trace, the Python call site of a
    # DataFrame query context, and the expression ids of plans (`id#123`).
    message = message.split("\nJVM stacktrace:")[0].split("\n== DataFrame ==")[0]
    message = re.sub(r"#\d+L?\b", "#N", message)
    if tmp is not None:  # the case's tmp folder differs between runs
        message = message.replace(str(tmp), "<tmp>")
    return {
        "class": type(e).__name__,
        "condition": error_condition(e),
        "sqlstate": sql_state,
        "message": message,
    }


def run_and_normalise(case: Any, spark: Any, tmp: Any) -> dict:
    """Run one case and return its normalised outcome (a result or an error)."""
    try:
        value = case.fn(spark, tmp)
        return norm_result(value, case.ordered)
    except Exception as e:  # noqa: BLE001 - every failure is data here
        return {"error": norm_error(e, tmp)}
