"""DataFrame basics: range, createDataFrame, projections, filters, ordering, set operations,
session-level calls (conf, version, schema introspection)."""

import pandas as pd
from pyspark.sql import Row
from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StringType, StructField, StructType

from cases import C
from cases._util import stdout_of


def people(s):
    return s.createDataFrame(
        [(1, "ann", 34, "NY"), (2, "bob", None, "SF"), (3, "cid", 19, None), (4, "dee", 51, "NY")],
        "id int, name string, age int, city string",
    )


def nums(s):
    return s.createDataFrame([(1,), (2,), (2,), (3,), (None,)], "x int")


CASES = [
    # range
    C("range_end", lambda s, t: s.range(5), ordered=True),
    C("range_start_end", lambda s, t: s.range(2, 7), ordered=True),
    C("range_step", lambda s, t: s.range(0, 20, 3), ordered=True),
    C("range_negative_step", lambda s, t: s.range(10, 0, -3), ordered=True),
    C("range_num_partitions", lambda s, t: s.range(0, 100, 1, 7).selectExpr("sum(id)", "count(*)")),
    C("range_empty", lambda s, t: s.range(5, 5)),
    C("range_count", lambda s, t: s.range(1000).count()),
    C("range_select_expr", lambda s, t: s.range(5).selectExpr("id * 2 AS x"), ordered=True),
    # createDataFrame
    C("create_tuples", lambda s, t: s.createDataFrame([(1, "a"), (2, "b")])),
    C("create_tuples_names", lambda s, t: s.createDataFrame([(1, "a", 2.5)], ["id", "name", "score"])),
    C("create_rows", lambda s, t: s.createDataFrame([Row(a=1, b="x"), Row(a=2, b=None)])),
    C("create_dicts", lambda s, t: s.createDataFrame([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}])),
    C("create_ddl", lambda s, t: s.createDataFrame([(1, "a"), (None, None)], "a int, b string")),
    C(
        "create_structtype",
        lambda s, t: s.createDataFrame(
            [(1, "a"), (2, None)],
            StructType([StructField("k", LongType(), False), StructField("v", StringType(), True)]),
        ),
    ),
    C(
        "create_pandas",
        lambda s, t: s.createDataFrame(
            pd.DataFrame({"a": [1, 2, 3], "b": [1.5, None, -2.0], "c": ["x", None, "z"]})
        ),
    ),
    C("create_empty_with_schema", lambda s, t: s.createDataFrame([], "a int, b string")),
    C("create_single_values", lambda s, t: s.createDataFrame([1, 2, 3], "int")),
    # projection
    C("select_names", lambda s, t: people(s).select("name", "id")),
    C("select_star", lambda s, t: people(s).select("*")),
    C("select_columns", lambda s, t: people(s).select(F.col("id") + 1, (F.col("age") * 2).alias("a2"))),
    C("select_expr", lambda s, t: people(s).selectExpr("id", "upper(name) AS n", "age + 1")),
    C("with_column_new", lambda s, t: people(s).withColumn("next", F.col("id") + 1)),
    C("with_column_replace", lambda s, t: people(s).withColumn("age", F.coalesce("age", F.lit(0)))),
    C("with_columns", lambda s, t: people(s).withColumns({"a": F.lit(1), "b": F.col("id") * 10})),
    C("with_column_renamed", lambda s, t: people(s).withColumnRenamed("name", "who")),
    C("with_column_renamed_missing", lambda s, t: people(s).withColumnRenamed("nope", "x")),
    C("with_columns_renamed", lambda s, t: people(s).withColumnsRenamed({"id": "ID", "city": "town"})),
    C("drop_one", lambda s, t: people(s).drop("age")),
    C("drop_many_and_missing", lambda s, t: people(s).drop("age", "city", "nope")),
    C("to_df", lambda s, t: people(s).toDF("a", "b", "c", "d")),
    C(
        "alias_qualified",
        lambda s, t: people(s).alias("p").select("p.id", F.col("p.name")).where("p.id > 2"),
    ),
    # filters
    C("filter_string", lambda s, t: people(s).filter("age > 20")),
    C("filter_column", lambda s, t: people(s).filter(F.col("city") == "NY")),
    C("where_and_or", lambda s, t: people(s).where((F.col("age") < 30) | F.col("city").isNull())),
    C("filter_null_safe", lambda s, t: people(s).where(F.col("city").eqNullSafe(None))),
    # ordering
    C("order_asc", lambda s, t: people(s).orderBy("age"), ordered=True),
    C("order_desc", lambda s, t: people(s).orderBy(F.col("age").desc()), ordered=True),
    C("order_asc_nulls_last", lambda s, t: people(s).orderBy(F.col("age").asc_nulls_last()), ordered=True),
    C("order_desc_nulls_first", lambda s, t: people(s).orderBy(F.desc_nulls_first("city"), "id"), ordered=True),
    C("order_multi", lambda s, t: people(s).sort(F.col("city").asc(), F.col("id").desc()), ordered=True),
    C("order_ascending_flag", lambda s, t: people(s).orderBy(["city", "id"], ascending=[False, True]), ordered=True),
    C("limit", lambda s, t: s.range(100).orderBy(F.col("id").desc()).limit(3), ordered=True),
    C("offset", lambda s, t: s.range(10).orderBy("id").offset(7), ordered=True),
    C("tail", lambda s, t: s.range(10).tail(3)),
    C("head_take_first", lambda s, t: [s.range(5).head(), s.range(5).take(2), s.range(5).first()]),
    C("collect_rows", lambda s, t: [r.asDict() for r in people(s).orderBy("id").collect()]),
    C("to_pandas", lambda s, t: people(s).orderBy("id").toPandas(), ordered=True),
    # duplicates and set operations
    C("distinct", lambda s, t: nums(s).distinct()),
    C(
        "drop_duplicates_subset",
        lambda s, t: s.createDataFrame([(1, "a"), (1, "b"), (2, "c")], "k int, v string")
        .dropDuplicates(["k"])
        .select("k"),
    ),
    C("drop_duplicates_all", lambda s, t: nums(s).dropDuplicates()),
    C("union", lambda s, t: s.range(3).union(s.range(2))),
    C("union_all_by_position", lambda s, t: s.range(2).toDF("a").unionAll(s.range(2).selectExpr("id * 10 AS b"))),
    C(
        "union_by_name",
        lambda s, t: s.createDataFrame([(1, "x")], "a int, b string").unionByName(
            s.createDataFrame([("y", 2)], "b string, a int")
        ),
    ),
    C(
        "union_by_name_missing",
        lambda s, t: s.createDataFrame([(1, "x")], "a int, b string").unionByName(
            s.createDataFrame([(2, 3.5)], "a int, c double"), allowMissingColumns=True
        ),
    ),
    C("intersect", lambda s, t: nums(s).intersect(s.createDataFrame([(2,), (3,), (3,), (9,)], "x int"))),
    C("intersect_all", lambda s, t: nums(s).intersectAll(s.createDataFrame([(2,), (2,), (2,), (None,)], "x int"))),
    C("except_all", lambda s, t: nums(s).exceptAll(s.createDataFrame([(2,), (3,)], "x int"))),
    C("subtract", lambda s, t: nums(s).subtract(s.createDataFrame([(2,), (None,)], "x int"))),
    C("cross_join", lambda s, t: s.range(2).crossJoin(s.range(3).toDF("b"))),
    C(
        "sample_fraction_bounds",
        lambda s, t: 250 <= s.range(1000).sample(fraction=0.5, seed=42).count() <= 750,
    ),
    # Draws continue from batch to batch: not the same offsets in every 8192-row batch.
    C("sample_not_periodic", lambda s, t: s.range(100000).sample(0.5, seed=7).selectExpr("count(DISTINCT id % 8192) > 8000 AS spread")),
    C(
        "sample_without_seed_subset",
        lambda s, t: s.range(100).sample(0.3).subtract(s.range(100)).count() == 0,
    ),
    C("hint_broadcast", lambda s, t: s.range(3).join(s.range(2).hint("broadcast"), "id")),
    C("repartition_n", lambda s, t: s.range(10).repartition(3).selectExpr("sum(id)", "count(1)")),
    C("repartition_col", lambda s, t: people(s).repartition(2, "city").select("id")),
    C("coalesce_1", lambda s, t: s.range(0, 10, 1, 4).coalesce(1).orderBy("id"), ordered=True),
    # null handling helpers
    C("fillna_all", lambda s, t: people(s).fillna(0).fillna("?")),
    C("fillna_subset_dict", lambda s, t: people(s).na.fill({"age": -1, "city": "none"})),
    C("dropna_any", lambda s, t: people(s).dropna()),
    C("dropna_subset", lambda s, t: people(s).na.drop(subset=["age"])),
    C("replace_values", lambda s, t: people(s).na.replace(["NY"], ["New York"], "city")),
    # introspection
    C("columns", lambda s, t: people(s).columns),
    C("dtypes", lambda s, t: people(s).withColumn("d", F.lit(1.5)).dtypes),
    C("schema_json", lambda s, t: people(s).schema),
    C("print_schema", lambda s, t: stdout_of(lambda: people(s).selectExpr("id", "array(age) a", "struct(name) st").printSchema())),
    C("is_local_streaming", lambda s, t: [s.range(3).isStreaming, s.range(3).isLocal(), s.createDataFrame([(1,)], "a int").isLocal()]),
    C("input_files_range", lambda s, t: list(s.range(3).inputFiles())),
    C("explain_non_empty", lambda s, t: len(s.range(3).filter("id > 1")._explain_string()) > 10),
    C("explain_modes_non_empty", lambda s, t: all(
        len(s.range(3)._explain_string(mode=m)) > 10 for m in ("simple", "extended", "formatted")
    )),
    # session and conf
    C("spark_version_4", lambda s, t: s.version.startswith("4.")),
    C("conf_set_get", lambda s, t: (s.conf.set("my.custom.key", "v1"), s.conf.get("my.custom.key"))[1]),
    C("conf_get_default", lambda s, t: s.conf.get("no.such.key.anywhere", "fallback")),
    C(
        "conf_unset",
        lambda s, t: (
            s.conf.set("my.custom.key", "x"),
            s.conf.unset("my.custom.key"),
            s.conf.get("my.custom.key", None),
        )[2],
    ),
    C("conf_sql_shuffle_partitions", lambda s, t: (s.conf.set("spark.sql.shuffle.partitions", 3), s.conf.get("spark.sql.shuffle.partitions"))[1]),
    C("conf_session_timezone", lambda s, t: s.conf.get("spark.sql.session.timeZone")),
    C("conf_ansi_default", lambda s, t: s.conf.get("spark.sql.ansi.enabled")),
    C("conf_get_all_contains", lambda s, t: (s.conf.set("my.k2", "z"), s.conf.getAll.get("my.k2"))[1]),
    C("conf_is_modifiable", lambda s, t: [s.conf.isModifiable("spark.sql.ansi.enabled"), s.conf.isModifiable("my.custom.key")]),
    C("catalog_current_database", lambda s, t: s.catalog.currentDatabase()),
]

CASES += [
    C(
        "union_by_name_missing_both_sides",
        lambda s, t: s.createDataFrame([(1, "x")], "a int, b string").unionByName(
            s.createDataFrame([(2.5, 3, "z")], "c double, A int, d string"), allowMissingColumns=True
        ),
    ),
]
