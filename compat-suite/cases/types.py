"""Every data type through createDataFrame (with DDL and StructType schemas, and inferred),
through SQL literals and casts, and back to Python."""

import datetime
import decimal

import pandas as pd
from pyspark.sql import Row
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    BooleanType,
    ByteType,
    DateType,
    DecimalType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    MapType,
    ShortType,
    StringType,
    StructField,
    StructType,
    TimestampNTZType,
    TimestampType,
)

from cases import C

D = decimal.Decimal
TS = datetime.datetime(2024, 2, 29, 23, 59, 58, 123456)
DT = datetime.date(1970, 1, 1)

ALL_TYPES = StructType([
    StructField("b", ByteType()),
    StructField("sh", ShortType()),
    StructField("i", IntegerType()),
    StructField("l", LongType()),
    StructField("f", FloatType()),
    StructField("d", DoubleType()),
    StructField("dec", DecimalType(10, 3)),
    StructField("s", StringType()),
    StructField("bin", BinaryType()),
    StructField("bo", BooleanType()),
    StructField("dt", DateType()),
    StructField("ts", TimestampType()),
    StructField("ntz", TimestampNTZType()),
    StructField("arr", ArrayType(IntegerType())),
    StructField("m", MapType(StringType(), DoubleType())),
    StructField("st", StructType([StructField("x", IntegerType()), StructField("y", StringType())])),
])

ALL_ROWS = [
    (127, -32768, 2147483647, -9223372036854775808, 1.5, 2.25, D("1234567.891"), "héllo", b"\x00\x01\xfe",
     True, datetime.date(2024, 2, 29), TS, datetime.datetime(2000, 1, 1, 0, 0, 0), [1, None, 3], {"k": 0.5}, (1, "a")),
    (-128, 0, 0, 0, -0.0, float("nan"), D("-0.001"), "", b"", False, DT, datetime.datetime(1970, 1, 1), None, [], {}, (None, None)),
    tuple([None] * 16),
]

DDL_ALL = (
    "b tinyint, sh smallint, i int, l bigint, f float, d double, dec decimal(10,3), s string, "
    "bin binary, bo boolean, dt date, ts timestamp, ntz timestamp_ntz, arr array<int>, "
    "m map<string,double>, st struct<x:int,y:string>"
)


def types_and_rows(df):
    """The column types and rows (Spark's nullability of folded constants is another case)."""
    return (df.schema.simpleString(), [tuple(r) for r in df.collect()])


def in_zone(s, zone, query):
    """The rows of `query` run with the session time zone `zone` (set back afterwards)."""
    before = s.conf.get("spark.sql.session.timeZone")
    s.conf.set("spark.sql.session.timeZone", zone)
    try:
        return [tuple(r) for r in s.sql(query).collect()]
    finally:
        s.conf.set("spark.sql.session.timeZone", before)


def all_types(s):
    return s.createDataFrame(ALL_ROWS, ALL_TYPES)


CASES = [
    C("all_types_structtype", lambda s, t: all_types(s)),
    C("all_types_ddl", lambda s, t: s.createDataFrame(ALL_ROWS, DDL_ALL)),
    C("all_types_schema_json", lambda s, t: all_types(s).schema),
    C("all_types_dtypes", lambda s, t: all_types(s).dtypes),
    C("all_types_cast_to_string", lambda s, t: all_types(s).selectExpr(*[f"CAST({c} AS STRING) AS {c}" for c in ALL_TYPES.fieldNames() if c != "bin"], "hex(bin)")),
    C("all_types_to_pandas_dtypes", lambda s, t: [str(x) for x in all_types(s).drop("m", "st", "arr", "bin").toPandas().dtypes]),
    C("inferred_python_types", lambda s, t: s.createDataFrame([(1, 1.5, "s", True, D("1.10"), datetime.date(2020, 1, 2), TS, b"\x01", [1, 2], {"a": 1}, Row(x=1))])),
    C("inferred_nested_rows", lambda s, t: s.createDataFrame([Row(id=1, tags=["a", "b"], attrs={"k": "v"}, inner=Row(p=1.0, q="z"))])),
    C("inferred_null_column_with_ddl", lambda s, t: s.createDataFrame([(None,), (None,)], "x string")),
    C("inferred_mixed_int_none", lambda s, t: s.createDataFrame([(1, None), (None, "b")], ["n", "s"])),
    C("pandas_types", lambda s, t: s.createDataFrame(pd.DataFrame({
        "i": pd.Series([1, 2], dtype="int32"), "l": [10, 20], "f": pd.Series([1.5, 2.5], dtype="float32"),
        "d": [0.1, None], "s": ["a", None], "b": [True, False],
        "ts": [datetime.datetime(2024, 1, 1, 10), datetime.datetime(2024, 6, 30, 23, 59, 59, 500000)],
    }))),
    C("pandas_with_ddl_schema", lambda s, t: s.createDataFrame(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}), "a long, b string")),
    C("decimal_precision_scale", lambda s, t: s.createDataFrame([(D("12345678901234567.89"), D("0.000001"))], "a decimal(38,2), b decimal(7,6)").selectExpr("a", "b", "a + b", "a * 2", "b / 3")),
    C("decimal_literals_sql", lambda s, t: s.sql("SELECT 0.1 + 0.2 AS a, 1.0 / 3 AS b, CAST(99.995 AS DECIMAL(5,2)) AS c, 123456789012345678901234567890.5 AS d")),
    C("timestamp_microseconds", lambda s, t: s.sql("SELECT TIMESTAMP'2024-01-01 00:00:00.000001' AS a, TIMESTAMP'1969-12-31 23:59:59.999999' AS b, TIMESTAMP'0001-01-01 00:00:00' AS c")),
    C("date_extremes", lambda s, t: s.sql("SELECT DATE'0001-01-01' AS a, DATE'9999-12-31' AS b, DATE'1582-10-15' AS c")),
    C("timestamp_ntz_vs_ltz", lambda s, t: s.sql("SELECT TIMESTAMP_NTZ'2024-03-10 02:30:00' AS ntz, CAST(TIMESTAMP_NTZ'2024-03-10 02:30:00' AS TIMESTAMP) AS ltz, to_timestamp_ntz('2024-03-10 02:30:00') AS f")),
    C("sql_timestamp_types", lambda s, t: types_and_rows(s.sql("SELECT CAST('2024-01-02 03:04:05' AS TIMESTAMP) AS t, TIMESTAMP'2024-01-02 03:04:05' AS l, TIMESTAMP_LTZ'2024-01-02 03:04:05' AS z, TIMESTAMP_NTZ'2024-01-02 03:04:05' AS n, CAST('2024-01-02 03:04:05' AS TIMESTAMP_NTZ) AS c, CAST('2024-01-02 03:04:05' AS TIMESTAMP_LTZ) AS c2"))),
    C("sql_timestamp_in_session_zone", lambda s, t: in_zone(s, "America/Los_Angeles", "SELECT CAST(CAST('2024-01-02 03:04:05' AS TIMESTAMP) AS BIGINT) AS epoch, hour(CAST('2024-01-02 03:04:05' AS TIMESTAMP)) AS h, CAST(CAST(TIMESTAMP_NTZ'2024-01-02 03:04:05' AS TIMESTAMP) AS BIGINT) AS from_ntz, CAST(to_timestamp('2024-01-02 03:04:05') AS BIGINT) AS parsed")),
    C("sql_datetime_patterns", lambda s, t: types_and_rows(s.sql("SELECT to_timestamp('2024-01-02', 'yyyy-MM-dd') AS a, to_timestamp('2024-01-02 03:04:05') AS b, to_timestamp_ntz('2024-03-10 02:30:00') AS f, to_timestamp_ntz('10/03/2024 02:30', 'dd/MM/yyyy HH:mm') AS g, to_date('02/01/2024', 'dd/MM/yyyy') AS d, date_format(TIMESTAMP'2024-01-02 03:04:05', 'yyyy-MM-dd HH:mm') AS s"))),
    C("sql_spark_integer_type_names", lambda s, t: types_and_rows(s.sql("SELECT CAST('7' AS LONG) AS l, CAST(7 AS SHORT) AS s, CAST(7 AS BYTE) AS b"))),
    C("timestamp_to_number_casts", lambda s, t: s.sql("SELECT CAST(TIMESTAMP'1969-12-31 23:59:59.5' AS BIGINT) AS before_epoch, CAST(TIMESTAMP'2024-01-02 03:04:05.25' AS DOUBLE) AS d, CAST(TIMESTAMP'2024-01-02 03:04:05' AS INT) AS i").union(
        s.createDataFrame([(datetime.datetime(1969, 12, 31, 23, 59, 59, 500000), datetime.datetime(2024, 1, 2, 3, 4, 5, 250000))], "a timestamp, b timestamp").select(
            F.col("a").cast("long"), F.col("b").cast("double"), F.col("b").cast("int")))),
    C("number_to_timestamp_casts", lambda s, t: s.sql("SELECT CAST(1 AS TIMESTAMP) AS one, CAST(-1.5D AS TIMESTAMP) AS neg, TRY_CAST(CAST('NaN' AS DOUBLE) AS TIMESTAMP) AS nan, CAST(1700000000L AS TIMESTAMP) AS l, CAST(2.25BD AS TIMESTAMP) AS dec").union(
        s.range(1).select(F.lit(1).cast("timestamp"), F.lit(-1.5).cast("timestamp"), F.lit(float("nan")).try_cast("timestamp"), (F.col("id") + 1700000000).cast("timestamp"), F.lit(2.25).cast("timestamp")))),
    C("number_to_timestamp_in_session_zone", lambda s, t: in_zone(s, "America/Los_Angeles", "SELECT CAST(CAST(0 AS TIMESTAMP) AS STRING) AS s, hour(CAST(3600 AS TIMESTAMP)) AS h, CAST(CAST(86400 AS TIMESTAMP) AS BIGINT) AS back")),
    C("interval_ranges_sql", lambda s, t: s.sql("SELECT INTERVAL '-1 02:03:04.123456' DAY TO SECOND AS a, CAST(INTERVAL '+10-11' YEAR TO MONTH AS STRING) AS b, CAST(INTERVAL '-0 00:00:00.5' DAY TO SECOND AS STRING) AS c, TIMESTAMP'2024-03-01 00:00:00' - TIMESTAMP'2024-02-28 23:59:59.75' AS d, typeof(TIMESTAMP'2024-01-02 00:00:00' - TIMESTAMP'2024-01-01 00:00:00') AS e")),
    C("interval_range_values", lambda s, t: [tuple(r) for r in s.sql("SELECT INTERVAL '02:03' HOUR TO MINUTE, INTERVAL '1 5' DAY TO HOUR, INTERVAL '10:30.25' MINUTE TO SECOND, INTERVAL '3 04:05' DAY TO MINUTE, INTERVAL '-5:06' MINUTE TO SECOND").collect()]),
    C("interval_day_time_dataframe", lambda s, t: s.createDataFrame([(datetime.timedelta(days=1, seconds=5, microseconds=7),), (datetime.timedelta(seconds=-30),), (None,)], "d interval day to second").selectExpr("d", "CAST(d AS STRING) AS s")),
    C("interval_timestamp_difference_column", lambda s, t: s.createDataFrame([(datetime.datetime(2024, 1, 2, 3, 4, 5), datetime.datetime(2024, 1, 1))], "a timestamp, b timestamp").select((F.col("a") - F.col("b")).alias("d"), F.expr("a - b").alias("e"))),
    C("float_vs_double", lambda s, t: s.sql("SELECT CAST(0.1 AS FLOAT) AS f, CAST(0.1 AS DOUBLE) AS d, CAST(CAST(0.1 AS FLOAT) AS DOUBLE) AS fd, CAST(1e30 AS FLOAT) AS big")),
    C("integer_widths", lambda s, t: s.sql("SELECT CAST(127 AS TINYINT) + CAST(1 AS SMALLINT) AS a, typeof(CAST(1 AS TINYINT) + CAST(1 AS TINYINT)) AS b, 2147483647L + 1 AS c, typeof(1 + 1L) AS d")),
    C("typeof_literals", lambda s, t: s.sql("SELECT typeof(1), typeof(1L), typeof(1.5), typeof(1.5D), typeof('a'), typeof(NULL), typeof(DATE'2020-01-01'), typeof(array(1)), typeof(map('a', 1)), typeof(named_struct('a', 1)), typeof(X'01')")),
    C("binary_values", lambda s, t: s.createDataFrame([(bytearray(b"abc"),), (b"\xff\x00",)], "v binary").selectExpr("v", "length(v)", "hex(v)")),
    C("array_of_struct", lambda s, t: s.createDataFrame([([(1, "a"), (2, "b")],)], "v array<struct<n:int,s:string>>").selectExpr("v", "v.n", "v[1].s")),
    C("map_with_null_values", lambda s, t: s.createDataFrame([({"a": None, "b": 1},)], "m map<string,int>")),
    C("nested_map_array", lambda s, t: s.createDataFrame([({"x": [1, 2], "y": None},)], "m map<string,array<int>>")),
    C("struct_nested_access", lambda s, t: s.createDataFrame([((1, (2, "deep")),)], "o struct<a:int,inner:struct<b:int,c:string>>").select("o.a", "o.inner.b", "o.inner.c", "o.inner")),
    C("null_type_columns", lambda s, t: s.sql("SELECT NULL AS n, array(NULL) AS a, map('k', NULL) AS m")),
    C("interval_day_time", lambda s, t: s.sql("SELECT INTERVAL '1 02:03:04.5' DAY TO SECOND AS i, TIMESTAMP'2024-01-02 00:00:00' - TIMESTAMP'2024-01-01 12:00:00' AS diff")),
    C("interval_year_month_string", lambda s, t: s.sql("SELECT CAST(INTERVAL '1-2' YEAR TO MONTH AS STRING) AS i, typeof(INTERVAL '3' MONTH) AS t")),
    C("collect_types_python_roundtrip", lambda s, t: [type(v).__name__ for v in all_types(s).first()]),
    C("row_fields_access", lambda s, t: (lambda r: [r.st.x, r["s"], r.arr, r.m, r.asDict()["i"]])(all_types(s).first())),
]
