"""Column expressions: literals, arithmetic, comparisons, boolean logic, predicates, casts,
element access. The generated column names are part of what is compared."""

import datetime
import decimal

from pyspark.sql import functions as F

from cases import C


def ab(s):
    return s.createDataFrame(
        [(7, 2, 1.5, "x"), (-7, 3, None, None), (10, None, -0.5, "y"), (0, 5, 2.0, "z")],
        "a int, b int, d double, s string",
    )


def words(s):
    return s.createDataFrame(
        [("apple",), ("banana",), ("Apricot",), (None,), ("a_b%c",)], "w string"
    )


def nested(s):
    return s.createDataFrame(
        [([1, 2, 3], {"k": "v", "q": "w"}, (5, "five")), ([4, None, 6], {"k": "v2"}, (None, None)), (None, None, None)],
        "arr array<int>, m map<string,string>, st struct<n:int,t:string>",
    )


CASES = [
    # literals (python side)
    C(
        "lit_python_values",
        lambda s, t: s.range(1).select(
            F.lit(1), F.lit(2**40), F.lit(1.5), F.lit("s"), F.lit(True), F.lit(None),
            F.lit(decimal.Decimal("1.23")), F.lit(datetime.date(2020, 2, 29)),
            F.lit(datetime.datetime(2021, 3, 4, 5, 6, 7, 123456)), F.lit(b"\x00\xff"),
        ),
    ),
    C("lit_array", lambda s, t: s.range(1).select(F.lit([1, 2, 3]), F.array(F.lit("a"), F.lit(None)))),
    C("array_contains_null", lambda s, t: s.range(2).select(F.array(F.lit(1), F.lit(2)).alias("a"), F.array(F.lit(1), F.lit(None)).alias("b"), F.array("id", F.col("id") + 1).alias("c"), F.array(F.when(F.col("id") > 0, F.col("id"))).alias("d")).schema.json()),
    C("array_contains_null_sql", lambda s, t: s.sql("SELECT array(10, 20) AS a, array('x', NULL) AS b, array() AS c").schema.json()),
    # literals (SQL side) - column names included
    C(
        "lit_sql_numeric",
        lambda s, t: s.range(1).selectExpr("1", "1L", "1S", "1Y", "1.5", "1.5D", "1e3", "1.50BD", "-0.0D", "2147483648"),
    ),
    C(
        "lit_sql_other",
        lambda s, t: s.range(1).selectExpr(
            "'it''s'", "true", "null", "X'01FF'", "DATE'2020-01-31'",
            "TIMESTAMP'2020-01-01 12:34:56.789'", "TIMESTAMP_NTZ'2020-01-01 00:00:00'",
        ),
    ),
    # arithmetic
    C(
        "arith_with_nulls",
        lambda s, t: ab(s).select(F.col("a") + F.col("b"), F.col("a") - F.col("b"), F.col("a") * F.col("b"), -F.col("a")),
    ),
    C("int_division_is_double", lambda s, t: ab(s).select(F.col("a") / F.col("b"), F.col("a") / 2)),
    C("div_operator", lambda s, t: ab(s).selectExpr("a div b", "a % b", "pmod(a, b)", "a % 3")),
    C("modulo_column", lambda s, t: ab(s).select(F.col("a") % F.col("b"))),
    C("double_arith", lambda s, t: ab(s).select(F.col("d") * 2, F.col("d") + F.col("a"), F.col("d") / 4)),
    C("float_specials", lambda s, t: s.range(1).selectExpr("CAST('NaN' AS DOUBLE) AS n", "CAST('Infinity' AS DOUBLE) AS i", "CAST('-Infinity' AS DOUBLE) AS ni", "CAST('NaN' AS DOUBLE) = CAST('NaN' AS DOUBLE) AS eq")),
    C("decimal_arith_types", lambda s, t: s.range(1).selectExpr("CAST(1.10 AS DECIMAL(10,2)) * 3 AS m", "CAST(1.10 AS DECIMAL(10,2)) + CAST(2 AS DECIMAL(5,0)) AS p", "CAST(10 AS DECIMAL(4,1)) / 3 AS q")),
    C("operator_precedence", lambda s, t: s.range(1).selectExpr("1 + 2 * 3 - 4 / 2", "(1 + 2) * 3", "-2 * -3", "2 - -1")),
    C("string_concat_operator", lambda s, t: ab(s).selectExpr("s || '-' || a AS c")),
    C("bitwise", lambda s, t: ab(s).select(F.col("a").bitwiseAND(3), F.col("a").bitwiseOR(8), F.col("a").bitwiseXOR(1), F.expr("~a"), F.shiftleft("a", 2))),
    # comparison and logic
    C(
        "comparisons",
        lambda s, t: ab(s).select(
            F.col("a") > F.col("b"), F.col("a") >= 0, F.col("a") < F.col("d"), F.col("a") == F.col("b"),
            F.col("a") != 7, F.col("b") <= 3,
        ),
    ),
    C("null_safe_equality", lambda s, t: ab(s).select(F.col("b").eqNullSafe(None), F.expr("b <=> 2"), F.expr("NULL = NULL"))),
    C(
        "three_valued_logic",
        lambda s, t: s.createDataFrame(
            [(True, None), (False, None), (None, None), (True, False)], "p boolean, q boolean"
        ).select("p", "q", F.col("p") & F.col("q"), F.col("p") | F.col("q"), ~F.col("p")),
    ),
    C("not_and_or_sql", lambda s, t: ab(s).selectExpr("NOT (a > 0)", "a > 0 AND b > 2", "a > 0 OR b IS NULL")),
    C(
        "when_otherwise",
        lambda s, t: ab(s).select(
            "a", F.when(F.col("a") > 5, "big").when(F.col("a") < 0, "neg").otherwise("small").alias("c")
        ),
    ),
    C("when_without_otherwise", lambda s, t: ab(s).select(F.when(F.col("a") > 5, 1))),
    C("case_when_sql", lambda s, t: ab(s).selectExpr("CASE WHEN b IS NULL THEN 'none' WHEN b > 2 THEN 'hi' ELSE 'lo' END AS c", "CASE a WHEN 7 THEN 'seven' END")),
    # predicates
    C("is_null_not_null", lambda s, t: ab(s).select(F.col("b").isNull(), F.col("s").isNotNull(), F.isnull("d"))),
    C("isin", lambda s, t: ab(s).select("a", F.col("a").isin(7, 0, 99).alias("i"), F.col("s").isin(["x", "q"]))),
    C("isin_with_null", lambda s, t: ab(s).select(F.col("b").isin(2, None))),
    C("like", lambda s, t: words(s).select("w", F.col("w").like("a%"), F.col("w").like("%\\_b\\%%"))),
    C("ilike", lambda s, t: words(s).select(F.col("w").ilike("AP%"))),
    C("rlike", lambda s, t: words(s).select(F.col("w").rlike("^[aA]p+"), F.col("w").rlike("an{1}a$"))),
    C("between", lambda s, t: ab(s).select(F.col("a").between(0, 7), F.col("d").between(-1, 1.5))),
    C("startswith_endswith_contains", lambda s, t: words(s).select(F.col("w").startswith("ap"), F.col("w").endswith("ana"), F.col("w").contains("an"))),
    # casts
    C(
        "cast_numbers",
        lambda s, t: ab(s).select(
            F.col("a").cast("string"), F.col("d").cast("int"), F.col("a").cast("double"),
            F.col("a").cast("boolean"), F.col("d").cast("decimal(5,2)"), F.col("a").cast("long"),
        ),
    ),
    C(
        "cast_from_strings",
        lambda s, t: s.range(1).selectExpr(
            "CAST('42' AS INT)", "CAST(' 7 ' AS INT)", "CAST('1.5' AS DOUBLE)", "CAST('true' AS BOOLEAN)",
            "CAST('2020-02-29' AS DATE)", "CAST('2020-02-29 10:11:12' AS TIMESTAMP)", "CAST('12.345' AS DECIMAL(6,2))",
        ),
    ),
    C("cast_to_string", lambda s, t: s.range(1).selectExpr("CAST(1.0D AS STRING)", "CAST(1e20D AS STRING)", "CAST(0.1D AS STRING)", "CAST(DATE'2020-01-02' AS STRING)", "CAST(TIMESTAMP'2020-01-02 03:04:05' AS STRING)", "CAST(true AS STRING)", "CAST(array(1,2) AS STRING)", "CAST(map('a',1) AS STRING)", "CAST(named_struct('x',1,'y','z') AS STRING)")),
    C("cast_double_to_long_truncates", lambda s, t: s.range(1).selectExpr("CAST(2.9D AS BIGINT)", "CAST(-2.9D AS BIGINT)", "CAST(2.5 AS INT)")),
    C("try_cast", lambda s, t: s.range(1).selectExpr("try_cast('abc' AS INT)", "try_cast('12' AS INT)")),
    C("cast_column_api_names", lambda s, t: ab(s).select(F.col("a").cast("string").alias("as_str"), F.col("b").astype("bigint"))),
    # element access
    C(
        "get_item_field",
        lambda s, t: nested(s).select(
            F.col("arr").getItem(0), F.col("arr")[2], F.col("m").getItem("k"), F.col("m")["q"], F.col("st").getField("n"), F.col("st.t"),
        ),
    ),
    C("struct_field_of_null_struct_sql", lambda s, t: nested(s).selectExpr("st.n", "st.t", "st.n + 1 AS n1")),
    C("struct_field_of_null_struct_filter", lambda s, t: nested(s).where("st.n IS NULL").select(F.col("st.t"), F.col("st").getField("n"))),
    C(
        "array_of_struct_fields_sql",
        lambda s, t: s.createDataFrame(
            [([(1, "a"), None, (3, None)],), (None,), ([],)], "items array<struct<qty:int,name:string>>"
        ).selectExpr("items.name", "items.QTY", "get(items.qty, 0) AS first"),
    ),
    C(
        "array_of_struct_fields_dataframe",
        lambda s, t: s.createDataFrame([([(1, "a"), None],), (None,)], "items array<struct<qty:int,name:string>>").select(
            F.col("items.name"), F.col("items").getField("qty"), F.col("items")["name"].alias("by_item"), "items.qty"
        ),
    ),
    C("create_map_dataframe", lambda s, t: s.range(2).select(F.create_map(F.lit("k"), F.col("id"), F.lit("j"), F.col("id") * 2).alias("m"), F.create_map().alias("empty"))),
    C("size_of_null_sql", lambda s, t: nested(s).selectExpr("size(arr)", "size(m)")),
    C("element_access_sql", lambda s, t: nested(s).selectExpr("arr[1]", "m['k']", "st.n", "element_at(arr, 1)", "element_at(m, 'q')")),
    C("map_missing_key_is_null", lambda s, t: nested(s).selectExpr("m['nope']", "element_at(m, 'nope')", "try_element_at(m, 'nope')")),
    C("array_get_out_of_range_is_null", lambda s, t: nested(s).selectExpr("get(arr, 10)", "try_element_at(arr, 5)", "get(arr, -1)")),
    C("dotted_name_backticks", lambda s, t: s.range(2).selectExpr("id AS `a.b`").select(F.col("`a.b`") + 1)),
    C("alias_names", lambda s, t: ab(s).select(F.col("a").alias("x"), F.col("b").name("y"), (F.col("a") + 1).alias("z"))),
    C("expr_function", lambda s, t: ab(s).select(F.expr("a * 10 + coalesce(b, 0)"))),
]
