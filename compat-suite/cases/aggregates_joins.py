"""groupBy / agg / pivot / rollup / cube, and every join type."""

from pyspark.sql import functions as F

from cases import C, E


def orders(s):
    return s.createDataFrame(
        [(1, "ann", "book", 12.5, 2), (2, "bob", "pen", 1.25, 10), (3, "ann", "pen", 1.25, 4),
         (4, "cid", "book", 30.0, 1), (5, "ann", "ink", None, 3), (6, None, "pen", 2.0, None)],
        "id int, customer string, item string, amount double, qty int",
    )


def left(s):
    return s.createDataFrame([(1, "a"), (2, "b"), (3, "c"), (None, "n")], "k int, lv string")


def right(s):
    return s.createDataFrame([(2, "x"), (3, "y"), (3, "y2"), (4, "z"), (None, "m")], "k int, rv string")


CASES = [
    C("group_count", lambda s, t: orders(s).groupBy("customer").count()),
    C(
        "group_agg_functions",
        lambda s, t: orders(s).groupBy("item").agg(
            F.count("*"), F.count("amount"), F.sum("qty"), F.avg("amount"), F.min("amount"),
            F.max("customer"), F.countDistinct("customer"),
        ),
    ),
    C("group_agg_dict", lambda s, t: orders(s).groupBy("customer").agg({"amount": "max", "qty": "sum"})),
    C("group_agg_aliases", lambda s, t: orders(s).groupBy("customer").agg(F.sum("qty").alias("total"), F.round(F.avg("amount"), 2).alias("avg_amt"))),
    C("group_shorthand_methods", lambda s, t: orders(s).groupBy("item").sum("qty", "amount")),
    C("group_mean_max_min", lambda s, t: orders(s).groupBy("item").mean("qty").join(orders(s).groupBy("item").max("qty"), "item")),
    C("group_by_two_keys", lambda s, t: orders(s).groupBy("customer", "item").agg(F.sum("qty").alias("q"))),
    C("group_by_expression", lambda s, t: orders(s).groupBy((F.col("qty") % 2).alias("odd")).count()),
    C("global_count", lambda s, t: orders(s).groupBy().count()),
    C("global_agg", lambda s, t: orders(s).agg(F.sum("amount"), F.count(F.lit(1)), F.max("id"), F.avg("qty"))),
    C("agg_on_empty", lambda s, t: orders(s).where("id > 100").agg(F.sum("qty"), F.count("*"), F.avg("amount"), F.max("item"))),
    C("group_on_empty", lambda s, t: orders(s).where("id > 100").groupBy("item").count()),
    C("count_star_names", lambda s, t: orders(s).select(F.count("*"), F.count(F.lit(1)), F.count("customer"))),
    C("sum_long_and_double_types", lambda s, t: s.createDataFrame([(1, 1.5), (2, 2.5)], "i int, d double").agg(F.sum("i"), F.sum("d"), F.avg("i"), F.sum(F.col("i").cast("decimal(10,2)")))),
    C("collect_list_set_sorted", lambda s, t: orders(s).groupBy("customer").agg(F.sort_array(F.collect_list("item")).alias("items"), F.sort_array(F.collect_set("item")).alias("distinct_items"))),
    C("stddev_variance_rounded", lambda s, t: s.createDataFrame([(1.0,), (2.0,), (4.0,), (7.0,)], "x double").agg(F.round(F.stddev("x"), 6), F.round(F.variance("x"), 6), F.round(F.stddev_pop("x"), 6))),
    C("first_last_single_group_ordered", lambda s, t: s.range(5).coalesce(1).agg(F.first("id"), F.last("id"))),
    C("any_value_bool_and", lambda s, t: s.createDataFrame([(True,), (False,), (None,)], "b boolean").agg(F.expr("bool_and(b)"), F.expr("bool_or(b)"), F.expr("count_if(b)"))),
    C("having_style_filter", lambda s, t: orders(s).groupBy("customer").agg(F.sum("qty").alias("q")).where("q > 5")),
    C("pivot_with_values", lambda s, t: orders(s).groupBy("customer").pivot("item", ["book", "pen"]).sum("qty")),
    C("pivot_without_values", lambda s, t: orders(s).groupBy("customer").pivot("item").agg(F.count("id"))),
    C("pivot_two_aggs_string_max", lambda s, t: orders(s).groupBy("customer").pivot("item", ["book", "pen", "ink"]).agg(F.sum("qty").alias("q"), F.max("customer").alias("m"))),
    C("grouping_sets", lambda s, t: orders(s).groupingSets([["customer"], ["item"], []], "customer", "item").agg(F.sum("qty").alias("q"))),
    C("summary_strings_percentiles", lambda s, t: s.createDataFrame([(1, "10"), (5, "x"), (3, "2.5"), (None, None)], "i int, s string").summary("count", "mean", "stddev", "min", "max", "10%", "50%", "99%", "count_distinct")),
    C("rollup", lambda s, t: orders(s).rollup("customer", "item").agg(F.sum("qty").alias("q"))),
    C("cube", lambda s, t: orders(s).cube("item").count()),
    C("describe", lambda s, t: s.createDataFrame([(1, 2.0, "a"), (2, 4.0, "b"), (3, None, "c")], "i int, d double, s string").describe()),
    C("summary_subset", lambda s, t: s.createDataFrame([(1,), (2,), (3,), (4,)], "i int").summary("count", "min", "max", "50%")),
    # joins
    C("join_inner_on_name", lambda s, t: left(s).join(right(s), "k")),
    C("join_inner_default_on_list", lambda s, t: left(s).join(right(s), ["k"], "inner")),
    C("join_left", lambda s, t: left(s).join(right(s), "k", "left")),
    C("join_right", lambda s, t: left(s).join(right(s), "k", "right")),
    C("join_full_outer_using", lambda s, t: left(s).join(right(s), "k", "full")),
    C("join_left_semi", lambda s, t: left(s).join(right(s), "k", "left_semi")),
    C("join_left_anti", lambda s, t: left(s).join(right(s), "k", "anti")),
    C("join_cross_type", lambda s, t: left(s).join(right(s).select("rv"), how="cross").where("lv = 'a'")),
    C("join_expression_keeps_both_keys", lambda s, t: (lambda l, r: l.join(r, l["k"] == r["k"]))(left(s), right(s))),
    C("join_expression_full", lambda s, t: (lambda l, r: l.join(r, l.k == r.k, "full_outer").select(l.k.alias("lk"), r.k.alias("rk"), "lv", "rv"))(left(s), right(s))),
    C("join_expression_select_side", lambda s, t: (lambda l, r: l.join(r, l["k"] == r["k"], "left").select(l["k"], r["rv"]))(left(s), right(s))),
    C("join_aliases", lambda s, t: left(s).alias("l").join(right(s).alias("r"), F.col("l.k") == F.col("r.k")).select("l.lv", "r.rv", "r.k")),
    C("join_non_equi", lambda s, t: (lambda l, r: l.join(r, (l.k < r.k) & (r.k <= 3), "inner").select("lv", "rv"))(left(s), right(s))),
    C("join_null_safe_keys", lambda s, t: (lambda l, r: l.join(r, l.k.eqNullSafe(r.k)).select(l.k, "lv", "rv"))(left(s), right(s))),
    C("join_multiple_keys", lambda s, t: s.createDataFrame([(1, "a", 10)], "x int, y string, v int").join(s.createDataFrame([(1, "a", 20), (1, "b", 30)], "x int, y string, w int"), ["x", "y"])),
    C("self_join_with_alias", lambda s, t: (lambda d: d.alias("a").join(d.alias("b"), F.col("a.k") + 1 == F.col("b.k")).select(F.col("a.k").alias("ak"), F.col("b.k").alias("bk")))(left(s))),
    C("join_then_group", lambda s, t: left(s).join(right(s), "k").groupBy("k").agg(F.count("*").alias("n"))),
    C("crossjoin_count", lambda s, t: s.range(3).crossJoin(s.range(4)).count()),
    C("sum_avg_of_string_columns", lambda s, t: s.createDataFrame([("1",), ("2.5",), (None,)], "v string").agg(F.sum("v"), F.avg("v"), F.mean("v"))),
    C("sum_avg_of_string_columns_sql", lambda s, t: s.createDataFrame([("k", "1"), ("k", "2.5"), ("j", None)], "k string, v string").createOrReplaceTempView("strs") or s.sql("SELECT k, sum(v) AS s, avg(v) AS a FROM strs GROUP BY k")),
    E("sum_of_malformed_string_column", lambda s, t: s.createDataFrame([("1",), ("x",)], "v string").agg(F.sum("v")).collect(), contains="'x'"),
]
