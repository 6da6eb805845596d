"""Built-in functions through the DataFrame API (pyspark.sql.functions)."""

from pyspark.sql import Window
from pyspark.sql import functions as F

from cases import C
from cases._util import write


def strs(s):
    return s.createDataFrame(
        [(1, "  Hello World  ", "a,b,,c"), (2, "ünïcödé", "x"), (3, None, None), (4, "", "")],
        "id int, s string, csv string",
    )


def times(s):
    return s.createDataFrame(
        [(1, "2024-02-29 13:45:10", "2024-02-29", 1709214310), (2, "1999-12-31 23:59:59", "1999-12-31", 0), (3, None, None, None)],
        "id int, ts string, d string, epoch long",
    )


def sales(s):
    return s.createDataFrame(
        [("a", 1, 10.0), ("a", 2, 20.0), ("a", 3, 20.0), ("b", 1, 5.0), ("b", 2, None), ("c", 1, 7.0)],
        "g string, seq int, amount double",
    )


def arrays(s):
    return s.createDataFrame([(1, [1, 2, 3]), (2, []), (3, None), (4, [None, 5])], "k int, a array<int>")


CASES = [
    # higher-order functions with Python lambdas
    C("higher_order_lambdas", lambda s, t: arrays(s).select(
        "k", F.transform("a", lambda x: x * 2), F.filter("a", lambda x: x % 2 == 1),
        F.exists("a", lambda x: x > 2), F.transform("a", lambda x: F.coalesce(x, F.lit(0)) + F.col("k")))),
    # strings
    C("upper_lower", lambda s, t: strs(s).select("id", F.upper("s"), F.lower("s"))),
    C("trims", lambda s, t: strs(s).select(F.trim("s"), F.ltrim("s"), F.rtrim("s"))),
    C("concat_and_ws", lambda s, t: strs(s).select(F.concat("s", F.lit("|"), "csv"), F.concat_ws("-", "s", "csv", F.lit("z")))),
    C("substring", lambda s, t: strs(s).select(F.substring("s", 3, 5), F.expr("substring(s, -3)"), F.expr("substr(s, 0, 2)"))),
    C("length", lambda s, t: strs(s).select(F.length("s"), F.expr("char_length(csv)"), F.expr("octet_length(s)"))),
    C("split", lambda s, t: strs(s).select(F.split("csv", ","), F.split("csv", ",", 2))),
    C("split_regex", lambda s, t: s.range(1).select(F.split(F.lit("a1b22c333d"), "[0-9]+"))),
    C("regexp_extract", lambda s, t: s.createDataFrame([("id-123-x",), ("none",), (None,)], "v string").select(F.regexp_extract("v", r"(\w+)-(\d+)", 2), F.regexp_extract("v", r"(\d+)", 0))),
    C("regexp_replace", lambda s, t: strs(s).select(F.regexp_replace("csv", ",+", ";"), F.regexp_replace("s", "(o)", "[$1]"))),
    C("string_misc", lambda s, t: strs(s).select(F.initcap("s"), F.reverse("csv"), F.lpad("csv", 8, "*"), F.rpad("csv", 3, "."), F.repeat("csv", 2), F.instr("s", "o"), F.locate("b", "csv"))),
    C("format_string_number", lambda s, t: s.range(1).select(F.format_string("%d-%s-%.2f", F.lit(5), F.lit("x"), F.lit(3.14159)), F.format_number(F.lit(1234567.891), 2))),
    # null handling and math
    C("coalesce", lambda s, t: strs(s).select(F.coalesce("s", "csv", F.lit("none")))),
    C("nvl_ifnull_nullif", lambda s, t: strs(s).selectExpr("nvl(s, 'x')", "ifnull(csv, 'y')", "nullif(csv, '')", "nvl2(s, 1, 2)")),
    C("round_variants", lambda s, t: s.createDataFrame([(2.5,), (-2.5,), (1.2345,), (None,)], "x double").select(F.round("x"), F.round("x", 2), F.bround("x"), F.ceil("x"), F.floor("x"))),
    C("round_decimal", lambda s, t: s.range(1).selectExpr("round(CAST(2.345 AS DECIMAL(5,3)), 2)", "round(125, -1)")),
    C("abs_sign_sqrt", lambda s, t: s.createDataFrame([(-4,), (9,), (0,)], "x int").select(F.abs("x"), F.signum("x"), F.sqrt(F.abs("x")), F.pow("x", 2))),
    C("greatest_least", lambda s, t: s.createDataFrame([(1, 5, None), (7, 2, 3)], "a int, b int, c int").select(F.greatest("a", "b", "c"), F.least("a", "b", "c"))),
    C("math_misc", lambda s, t: s.range(1).select(F.exp(F.lit(0)), F.log(F.lit(1.0)), F.log10(F.lit(100)), F.log2(F.lit(8)), F.expr("mod(-7, 3)"), F.expr("pmod(-7, 3)"))),
    # dates and times
    C("to_timestamp", lambda s, t: times(s).select(F.to_timestamp("ts"), F.to_timestamp("d", "yyyy-MM-dd"))),
    C("to_date", lambda s, t: times(s).select(F.to_date("ts"), F.to_date("d"), F.to_date(F.lit("31/01/2020"), "dd/MM/yyyy"))),
    C("date_format", lambda s, t: times(s).select(F.date_format(F.to_timestamp("ts"), "yyyy/MM/dd HH:mm"), F.date_format("d", "EEE MMM d"))),
    C("from_unixtime", lambda s, t: times(s).select(F.from_unixtime("epoch"), F.from_unixtime("epoch", "yyyy-MM-dd"))),
    C("unix_timestamp", lambda s, t: times(s).select(F.unix_timestamp("ts"), F.unix_timestamp("d", "yyyy-MM-dd"))),
    C("date_parts", lambda s, t: times(s).select(F.year("ts"), F.month("ts"), F.dayofmonth("ts"), F.hour("ts"), F.minute("ts"), F.second("ts"), F.dayofweek("d"), F.quarter("d"))),
    C("date_add_sub_diff", lambda s, t: times(s).select(F.date_add("d", 1), F.date_sub("d", 30), F.datediff(F.lit("2025-01-01"), "d"), F.add_months("d", 1))),
    C("date_trunc_last_day", lambda s, t: times(s).select(F.date_trunc("month", F.to_timestamp("ts")), F.trunc("d", "year"), F.last_day("d"))),
    C("timestamp_arith_sql", lambda s, t: s.range(1).selectExpr("TIMESTAMP'2024-01-31 10:00:00' + INTERVAL 1 DAY", "DATE'2024-01-31' + 1", "datediff(DATE'2024-03-01', DATE'2024-02-01')")),
    C("current_date_timestamp_types", lambda s, t: [
        f.dataType.simpleString() for f in s.range(1).select(F.current_date(), F.current_timestamp()).schema.fields
    ] + [all(v is not None for v in s.range(1).select(F.current_date(), F.current_timestamp()).first())]),
    # json
    C("get_json_object", lambda s, t: s.createDataFrame([('{"a": {"b": [1, 2]}, "c": "x"}',), ("not json",)], "j string").select(F.get_json_object("j", "$.a.b[1]"), F.get_json_object("j", "$.c"), F.get_json_object("j", "$.a"))),
    C("from_json_ddl", lambda s, t: s.createDataFrame([('{"a": 1, "b": ["x", "y"]}',), ('{"a": "bad"}',), (None,)], "j string").select(F.from_json("j", "a int, b array<string>").alias("p"))),
    C("from_json_fields", lambda s, t: s.createDataFrame([('{"a": 1, "b": 2.5}',)], "j string").select(F.from_json("j", "a int, b double").alias("p")).select("p.a", "p.b")),
    C("to_json", lambda s, t: s.range(2).select(F.to_json(F.struct("id", F.lit("x").alias("s"), F.array(F.lit(1.5)).alias("arr"))), F.to_json(F.create_map(F.lit("k"), F.col("id"))))),
    # complex types
    C("struct_array_map", lambda s, t: s.range(2).select(F.struct("id", (F.col("id") * 2).alias("twice")).alias("st"), F.array("id", F.lit(7)).alias("arr"), F.create_map(F.lit("k"), "id").alias("m"))),
    C("explode_array", lambda s, t: s.createDataFrame([(1, [1, 2]), (2, []), (3, None)], "k int, a array<int>").select("k", F.explode("a"))),
    C("explode_outer", lambda s, t: s.createDataFrame([(1, [1, 2]), (2, []), (3, None)], "k int, a array<int>").select("k", F.explode_outer("a"))),
    C("explode_map_posexplode", lambda s, t: s.createDataFrame([({"x": 1, "y": 2},)], "m map<string,int>").select(F.explode("m")).union(s.range(1).select(F.posexplode(F.array(F.lit("p"), F.lit("q")))).selectExpr("CAST(pos AS STRING)", "length(col)"))),
    C("posexplode_outer_array", lambda s, t: s.createDataFrame([(1, [1, 2]), (2, []), (3, None)], "k int, a array<int>").select("k", F.posexplode_outer("a"))),
    C("explode_map_aliases", lambda s, t: s.createDataFrame([(1, {"x": 1, "y": None}), (2, {}), (3, None)], "k int, m map<string,int>").select("k", F.explode("m").alias("name", "n")).orderBy("k", "name")),
    C("explode_outer_map_positions", lambda s, t: s.createDataFrame([(1, {"x": 1}), (2, {}), (3, None)], "k int, m map<string,int>").select("k", F.posexplode_outer("m")).orderBy("k")),
    C("explode_nullable_elements", lambda s, t: s.createDataFrame([([1, None],)], "a array<int>").select(F.explode("a"), F.lit(1).alias("one"))),
    C("sequence_integral_sql", lambda s, t: s.sql("SELECT sequence(1, 3) a, sequence(3, 1) b, sequence(1, 10, 3) c, sequence(5, 5) d, sequence(1, CAST(NULL AS INT)) e, sequence(1L, 3) f, sequence(-2, 2, 2) g")),
    C("sequence_exploded_dataframe", lambda s, t: s.createDataFrame([(1, 3), (4, 2)], "lo int, hi int").select("lo", F.explode(F.sequence("lo", "hi")).alias("n"))),
    C("two_generators_multiply", lambda s, t: s.createDataFrame([([1, 3], {"x": 2, "y": 4}), ([5], None)], "a array<int>, m map<string,int>").select("a", F.explode("a").alias("e"), F.explode_outer("m"))),
    C("size", lambda s, t: s.createDataFrame([([1, 2],), ([],), (None,)], "a array<int>").select(F.size("a"), F.cardinality("a"))),
    C("array_functions", lambda s, t: s.createDataFrame([([3, 1, 2, 1],)], "a array<int>").select(F.array_contains("a", 1), F.sort_array("a"), F.sort_array("a", asc=False), F.array_distinct("a"), F.array_max("a"), F.array_join(F.col("a").cast("array<string>"), "+"), F.slice("a", 2, 2), F.array_position("a", 2))),
    C("map_functions", lambda s, t: s.createDataFrame([({"b": 2, "a": 1},)], "m map<string,int>").select(F.map_keys("m"), F.map_values("m"), F.size("m"), F.map_contains_key("m", "a"))),
    # hashing
    C("sha2_md5", lambda s, t: strs(s).select(F.sha2("s", 256), F.md5("s"), F.sha1("csv"), F.crc32("csv"))),
    C("hash_functions", lambda s, t: s.range(3).select(F.hash("id"), F.xxhash64("id"))),
    C("base64_hex", lambda s, t: strs(s).select(F.base64(F.col("csv").cast("binary")), F.hex("csv"), F.unhex(F.lit("4142")))),
    # ids and files
    C("monotonically_increasing_id_distinct", lambda s, t: s.range(0, 1000, 1, 4).select(F.monotonically_increasing_id().alias("m")).distinct().count()),
    C("spark_partition_id_type", lambda s, t: s.range(1).select(F.spark_partition_id()).schema.simpleString()),
    C(
        "input_file_name",
        lambda s, t: s.read.text(write(t, "in/data_file.txt", "a\nb\n")).select(F.input_file_name().alias("f")).collect()[0]["f"].endswith("/data_file.txt"),
    ),
    C(
        "input_file_name_per_file",
        lambda s, t: (
            write(t, "files/a.json", '{"id": 1}\n{"id": 2}\n'),
            write(t, "files/b.json", '{"id": 3}\n'),
            [
                (r["id"], r["f"].rsplit("/", 1)[-1], r["f"][:8])
                for r in s.read.json(str(t / "files")).select("id", F.input_file_name().alias("f")).orderBy("id").collect()
            ],
        )[-1],
    ),
    C(
        "input_file_name_through_filter_and_expr",
        lambda s, t: (
            write(t, "f2/a.csv", "id\n1\n2\n"),
            write(t, "f2/b.csv", "id\n3\n"),
            s.read.option("header", True).csv(str(t / "f2")).where("id > 1").selectExpr("id", "input_file_name() LIKE '%b.csv' AS in_b").orderBy("id"),
        )[-1],
    ),
    C("rand_with_seed_in_range", lambda s, t: s.range(100).select(F.rand(7).alias("r")).where("r < 0 OR r >= 1").count()),
    C("uuid_distinct", lambda s, t: s.range(50).select(F.expr("uuid()").alias("u")).distinct().count()),
    # window functions via the DataFrame API
    C(
        "window_ranking",
        lambda s, t: sales(s).select(
            "g", "seq", "amount",
            F.row_number().over(Window.partitionBy("g").orderBy("seq")).alias("rn"),
            F.rank().over(Window.partitionBy("g").orderBy(F.desc("amount"))).alias("rk"),
            F.dense_rank().over(Window.partitionBy("g").orderBy(F.desc("amount"))).alias("drk"),
        ),
    ),
    C(
        "window_running_sum_lag_lead",
        lambda s, t: sales(s).select(
            "g", "seq",
            F.sum("amount").over(Window.partitionBy("g").orderBy("seq")).alias("run"),
            F.lag("amount").over(Window.partitionBy("g").orderBy("seq")).alias("prev"),
            F.lead("amount", 1, -1.0).over(Window.partitionBy("g").orderBy("seq")).alias("next"),
        ),
    ),
    C(
        "window_whole_partition",
        lambda s, t: sales(s).select("g", "seq", F.count("*").over(Window.partitionBy("g")).alias("n"), F.max("amount").over(Window.partitionBy("g")).alias("mx")),
    ),
    C(
        "window_rows_between",
        lambda s, t: sales(s).select("g", "seq", F.sum("amount").over(Window.partitionBy("g").orderBy("seq").rowsBetween(-1, 0)).alias("s2")),
    ),
    C("window_default_name", lambda s, t: sales(s).select(F.row_number().over(Window.partitionBy("g").orderBy("seq"))).schema.fieldNames()),
]

CASES += [
    C("dayofweek_across_weeks", lambda s, t: s.createDataFrame(
        [("1969-12-28",), ("1969-12-31",), ("1970-01-01",), ("2000-02-29",), ("2023-01-01",), ("2024-12-07",), (None,)], "d string",
    ).select("d", F.dayofweek("d"), F.dayofweek(F.to_date("d")), F.weekday(F.to_date("d")))),
    C("nvl2_types", lambda s, t: s.createDataFrame([("a", None), (None, 2.5)], "s string, x double").selectExpr(
        "nvl2(s, 1, 2)", "nvl2(x, s, 'none')", "nvl2(s, 1, 2.5)", "nvl2(x, 1L, NULL)")),
    # Spark's default window frame: the whole partition without ORDER BY; with it, RANGE up
    # to the current row, so rows tied on the ordering share one running value.
    C("window_default_frame_ties", lambda s, t: s.createDataFrame(
        [("a", 1, 1.0), ("a", 2, 2.0), ("a", 2, 4.0), ("a", 3, 8.0), ("b", 1, 5.0)], "g string, k int, x double",
    ).select("g", "k", "x", F.sum("x").over(Window.partitionBy("g").orderBy("k")).alias("run"),
             F.count("*").over(Window.partitionBy("g")).alias("n"), F.count(F.lit(1)).over(Window.orderBy("k")).alias("c"))),
    C("epoch_timestamps", lambda s, t: s.createDataFrame([(1_700_000_000_123, 2), (None, None)], "ms long, sec int").select(
        F.timestamp_millis("ms").alias("a"), F.timestamp_micros("ms").alias("b"), F.timestamp_seconds("sec").alias("c"),
        F.expr("timestamp_millis(ms) = timestamp_micros(ms * 1000)").alias("same"))),
    C("epoch_timestamps_sql", lambda s, t: s.sql(
        "SELECT timestamp_millis(1230219000123) AS a, timestamp_micros(1230219000123123) AS b, timestamp_seconds(1230219000) AS c, timestamp_seconds(1.5) AS d")),
    C("struct_field_names_sql", lambda s, t: s.createDataFrame([(1, "x")], "id int, name string").selectExpr(
        "struct(id, name, id + 1) AS st", "struct(name AS n) AS named").schema.simpleString()),
]
