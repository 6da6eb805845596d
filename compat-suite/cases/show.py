"""df.show() text (byte-identical to Spark), the notebook HTML table, repr."""

import datetime
import decimal

from pyspark.sql import functions as F

from cases import C
from cases._util import html, show


def people(s):
    return s.createDataFrame(
        [(1, "ann", 34.5, True), (2, None, None, False), (3, "a much longer name than twenty chars", -1.0, None)],
        "id int, name string, score double, ok boolean",
    )


def eager(s, n, truncate):
    s.conf.set("spark.sql.repl.eagerEval.enabled", "true")
    s.conf.set("spark.sql.repl.eagerEval.maxNumRows", str(n))
    s.conf.set("spark.sql.repl.eagerEval.truncate", str(truncate))
    return s


CASES = [
    C("show_default", lambda s, t: show(s.range(3))),
    C("show_people", lambda s, t: show(people(s))),
    C("show_truncate_false", lambda s, t: show(people(s), truncate=False)),
    C("show_truncate_5", lambda s, t: show(people(s), truncate=5)),
    C("show_truncate_3", lambda s, t: show(people(s), truncate=3)),
    C("show_vertical", lambda s, t: show(people(s), vertical=True)),
    C("show_vertical_truncated", lambda s, t: show(people(s), n=2, truncate=4, vertical=True)),
    C("show_n2_more_rows", lambda s, t: show(s.range(10), n=2)),
    C("show_n_exact", lambda s, t: show(s.range(2), n=2)),
    C("show_single_row", lambda s, t: show(s.range(5), n=1)),
    C("show_n0", lambda s, t: show(s.range(5), n=0)),
    C("show_more_than_20", lambda s, t: show(s.range(25))),
    C("show_empty", lambda s, t: show(s.range(0))),
    C("show_no_columns", lambda s, t: show(s.range(2).select())),
    C("show_nulls_all_types", lambda s, t: show(s.sql("SELECT CAST(NULL AS INT) a, CAST(NULL AS STRING) b, CAST(NULL AS ARRAY<INT>) c, NULL d"))),
    C("show_unicode_wide", lambda s, t: show(s.createDataFrame([("日本語",), ("ascii",), ("ünï",), ("😀x",)], "s string"))),
    C("show_unicode_truncated", lambda s, t: show(s.createDataFrame([("日本語のとても長い文字列です。はい、そうです",)], "s string"))),
    C("show_numbers", lambda s, t: show(s.createDataFrame(
        [(1, -2.5, decimal.Decimal("3.10"), 1e20, 1e-5), (-100, 0.0, decimal.Decimal("-0.01"), float("nan"), float("inf"))],
        "i long, d double, dec decimal(5,2), big double, small double"))),
    C("show_float_type", lambda s, t: show(s.sql("SELECT CAST(0.1 AS FLOAT) f, CAST(1.0 AS FLOAT) g, 1.0D / 3 AS third"))),
    C("show_dates_times", lambda s, t: show(s.createDataFrame(
        [(datetime.date(2024, 2, 29), datetime.datetime(2024, 2, 29, 1, 2, 3, 456000), datetime.datetime(2000, 1, 1))],
        "d date, ts timestamp, ntz timestamp_ntz"))),
    C("show_complex_types", lambda s, t: show(s.sql("SELECT array(1, 2, NULL) a, map('k', 1, 'z', NULL) m, named_struct('x', 1, 'y', 'two') st, array(named_struct('p', 1)) aos, X'01FF' bin, array() empty"), truncate=False)),
    C("show_booleans", lambda s, t: show(s.sql("SELECT true t, false f, CAST(NULL AS BOOLEAN) n"))),
    C("show_special_chars", lambda s, t: show(s.createDataFrame([("tab\there",), ("new\nline",), ("cr\rx",), ("<b>&",)], "s string"), truncate=False)),
    C("show_long_header", lambda s, t: show(s.range(1).select(F.col("id").alias("a_really_long_column_name_over_twenty")))),
    C("show_expression_header", lambda s, t: show(s.range(2).select(F.col("id") + 1, F.upper(F.lit("x"))))),
    C("show_intervals", lambda s, t: show(s.sql("SELECT INTERVAL '1 02:03:04' DAY TO SECOND a, INTERVAL '1-2' YEAR TO MONTH b"))),
    C("show_wide_table", lambda s, t: show(s.range(2).selectExpr(*[f"id * {i} AS c{i}" for i in range(12)]))),
    C("html_default", lambda s, t: html(people(s))),
    C("html_truncate_and_rows", lambda s, t: html(s.range(30).selectExpr("id", "repeat('x', id * 4) AS s"), n=3, truncate=5)),
    C("html_escapes", lambda s, t: html(s.createDataFrame([("<b>bold</b> & \"q\"",), (None,)], "s string"))),
    C("repr_html_eager", lambda s, t: eager(s, 2, 20).range(5)._repr_html_()),
    C("repr_html_eager_off", lambda s, t: s.range(5)._repr_html_()),
    C("repr_text_eager", lambda s, t: repr(eager(s, 3, 10).range(5))),
    C("repr_plain", lambda s, t: repr(people(s))),
]
