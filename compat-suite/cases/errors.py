"""Bad input: every case here must raise. Compared: the PySpark exception class, the error
condition (getCondition), the SQLSTATE, and a substring of the message."""

from pyspark.sql import functions as F

from cases import E


def people(s):
    return s.createDataFrame([(1, "ann", [1, 2]), (2, "bob", [3])], "id int, name string, arr array<int>")


CASES = [
    # name resolution
    E("unknown_column_select", lambda s, t: people(s).select("nosuch").collect(), contains="nosuch"),
    E("unknown_column_with_suggestion", lambda s, t: people(s).select("nme").collect(), contains="nme"),
    E("case_sensitive_setting_unresolved", lambda s, t: [s.conf.set("spark.sql.caseSensitive", "true"), people(s).selectExpr("NAME").collect()], contains="NAME"),
    E("unknown_column_filter_string", lambda s, t: people(s).filter("missing_col > 1").collect(), contains="missing_col"),
    E("unknown_column_sql", lambda s, t: s.sql("SELECT nosuch FROM range(1)").collect(), contains="nosuch"),
    E("unknown_column_schema_only", lambda s, t: people(s).select(F.col("ghost") + 1).schema, contains="ghost"),
    E("unknown_table_sql", lambda s, t: s.sql("SELECT * FROM no_such_table").collect(), contains="no_such_table"),
    E("unknown_table_api", lambda s, t: s.table("missing_tbl").collect(), contains="missing_tbl"),
    E("unknown_function", lambda s, t: s.sql("SELECT no_such_fn(1)").collect(), contains="no_such_fn"),
    E("unknown_function_expr", lambda s, t: s.range(1).selectExpr("frobnicate(id)").collect(), contains="frobnicate"),
    E(
        "ambiguous_self_join",
        lambda s, t: (lambda d: d.alias("a").join(d.alias("b"), F.col("a.id") == F.col("b.id")).select("name").collect())(people(s)),
        contains="name",
    ),
    E(
        "ambiguous_join_sql",
        lambda s, t: (people(s).createOrReplaceTempView("p"), s.sql("SELECT id FROM p p1 JOIN p p2 ON p1.id = p2.id").collect()),
        contains="id",
    ),
    E(
        "column_from_other_dataframe",
        lambda s, t: (lambda a, b: a.select(b["id"]).collect())(people(s), s.range(3)),
        contains="id",
    ),
    # parsing
    E("sql_syntax_error", lambda s, t: s.sql("SELEC 1").collect(), contains="SELEC"),
    E("sql_syntax_error_unclosed", lambda s, t: s.sql("SELECT (1 + 2").collect(), contains="end of input"),
    E("expr_syntax_error", lambda s, t: s.range(1).selectExpr("id +* 2").collect(), contains="extra input"),
    E("bad_ddl_schema", lambda s, t: s.createDataFrame([(1,)], "a int,, b").collect(), contains=","),
    E("bad_ddl_type", lambda s, t: s.createDataFrame([(1,)], "a integr").collect(), contains="integr"),
    E("bad_from_json_schema", lambda s, t: s.range(1).select(F.from_json(F.lit("{}"), "a int b").alias("x")).collect(), contains="int"),
    # types and ANSI runtime errors
    E("divide_by_zero", lambda s, t: s.sql("SELECT 1 / 0").collect(), contains="zero"),
    E("divide_by_zero_column", lambda s, t: s.range(3).select(F.lit(10) / F.col("id")).collect(), contains="zero"),
    E("modulo_by_zero_int", lambda s, t: s.sql("SELECT 7 % 0").collect(), contains="zero"),
    E("integer_overflow", lambda s, t: s.sql("SELECT 2147483647 + 1").collect(), contains="overflow"),
    E("long_overflow_multiply", lambda s, t: s.sql("SELECT 9223372036854775807L * 2").collect(), contains="overflow"),
    E("invalid_cast_string_to_int", lambda s, t: s.sql("SELECT CAST('abc' AS INT)").collect(), contains="abc"),
    E("invalid_cast_column", lambda s, t: s.createDataFrame([("12",), ("x1",)], "v string").select(F.col("v").cast("int")).collect(), contains="x1"),
    E("invalid_cast_date", lambda s, t: s.sql("SELECT CAST('2024-13-45' AS DATE)").collect(), contains="2024-13-45"),
    E("decimal_cast_overflow", lambda s, t: s.sql("SELECT CAST(123.45 AS DECIMAL(3,1))").collect(), contains="123.45"),
    E("array_index_out_of_bounds", lambda s, t: people(s).select(F.col("arr")[5]).collect(), contains="5"),
    E("element_at_zero", lambda s, t: s.sql("SELECT element_at(array(1, 2), 0)").collect(), contains="0"),
    E("where_string_plus_string", lambda s, t: people(s).where("name + 'x'").collect(), contains="name"),
    E("filter_compare_string_array", lambda s, t: people(s).filter(F.col("name") == F.col("arr")).collect(), contains="arr"),
    E("filter_non_boolean", lambda s, t: people(s).filter(F.col("id") + 1).collect(), contains="id"),
    E("sum_of_string_sql", lambda s, t: s.sql("SELECT sum('a')").collect(), contains="a"),
    E("wrong_arg_count", lambda s, t: s.sql("SELECT upper('a', 'b')").collect(), contains="upper"),
    E("group_by_missing_agg", lambda s, t: people(s).groupBy("id").agg(F.col("name")).collect(), contains="name"),
    E("sql_missing_aggregation", lambda s, t: s.sql("SELECT id, count(*) FROM range(4) GROUP BY id % 2").collect(), contains="id"),
    E("sql_non_grouped_column", lambda s, t: s.sql("SELECT id, count(*) FROM range(3)").collect(), contains="id"),
    E("union_column_count_mismatch", lambda s, t: s.range(2).union(s.range(2).selectExpr("id", "id AS x")).collect(), contains="2"),
    E("union_by_name_missing", lambda s, t: s.range(1).unionByName(s.range(1).toDF("other")).collect(), contains="id"),
    # files and catalog
    E("read_missing_path", lambda s, t: s.read.parquet(str(t / "does_not_exist")).collect(), contains="does_not_exist"),
    E("read_missing_json", lambda s, t: s.read.json(str(t / "nope.json")).collect(), contains="nope.json"),
    E("create_temp_view_twice", lambda s, t: (s.range(1).createTempView("twice"), s.range(1).createTempView("twice")), contains="twice"),
    E("drop_missing_view_sql", lambda s, t: s.sql("DROP VIEW missing_view").collect(), contains="missing_view"),
    E("describe_missing", lambda s, t: s.sql("DESCRIBE missing_view2").collect(), contains="missing_view2"),
    E("sql_param_missing", lambda s, t: s.sql("SELECT :nope + 1").collect(), contains="nope"),
    E("raise_error_function", lambda s, t: s.sql("SELECT raise_error('custom boom')").collect(), contains="custom boom"),
    E("assert_true_fails", lambda s, t: s.sql("SELECT assert_true(1 > 2)").collect(), contains="1 > 2"),
    E("generator_alias_count", lambda s, t: s.createDataFrame([({"x": 1},)], "m map<string,int>").select(F.explode("m").alias("k")).collect(), contains="UDTF_ALIAS_NUMBER_MISMATCH"),
    E("multi_alias_without_generator", lambda s, t: s.range(1).select(F.col("id").alias("a", "b")).collect(), contains="MULTI_ALIAS_WITHOUT_GENERATOR"),
    E("explode_of_number", lambda s, t: s.range(1).select(F.explode("id")).collect(), contains="ARRAY"),
    E("sql_generator_nested", lambda s, t: s.sql("SELECT explode(array(1)) + 1").collect(), contains="NESTED_IN_EXPRESSIONS"),
    E("sql_generator_in_where", lambda s, t: s.sql("SELECT 1 FROM range(1) WHERE explode(array(1)) > 0").collect(), contains="OUTSIDE_SELECT"),
    E("sql_generator_alias_count", lambda s, t: s.sql("SELECT explode(map('a', 1)) AS x").collect(), contains="UDTF_ALIAS_NUMBER_MISMATCH"),
    E("sequence_step_away_from_stop", lambda s, t: s.sql("SELECT sequence(1, 3, -1)").collect(), contains="Illegal sequence boundaries"),
    E("sequence_of_decimals", lambda s, t: s.sql("SELECT sequence(1.5, 3)").collect(), contains="SEQUENCE_WRONG_INPUT_TYPES"),
    E("generator_nested_in_expression", lambda s, t: s.range(1).select(F.explode(F.array(F.lit(1))) + 1).collect(), contains="NESTED_IN_EXPRESSIONS"),
    E("interval_literal_out_of_range", lambda s, t: s.sql("SELECT INTERVAL '1-12' YEAR TO MONTH").collect(), contains="INTERVAL_PARSING"),
]
