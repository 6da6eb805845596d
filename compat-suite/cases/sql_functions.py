"""Built-in functions called from SQL text and selectExpr (the names Spark's SQL knows)."""

from cases import C, E


def view(s):
    """A temp view f of strings, dates, timestamps and numbers, NULLs included."""
    s.createDataFrame(
        [
            (1, "hello world", "2024-01-31", "2024-03-31 10:30:00", 7, 9223372036854775807, 2.5),
            (2, "lol", "2024-02-29", "2024-02-29 23:59:59", 0, -3, -1.0),
            (3, None, None, None, None, None, None),
        ],
        "id int, s string, d string, ts string, n int, l bigint, x double",
    ).selectExpr("id", "s", "CAST(d AS DATE) AS d", "CAST(ts AS TIMESTAMP) AS ts", "n", "l", "x") \
        .createOrReplaceTempView("f")
    return s


def q(query):
    return lambda s, t: view(s).sql(query)


def in_zone(zone, query):
    def run(s, t):
        s.conf.set("spark.sql.session.timeZone", zone)
        return view(s).sql(query)
    return run


CASES = [
    C("locate_and_instr", q("SELECT id, locate('l', s), locate('l', s, 4), locate('', s), instr(s, 'o') FROM f")),
    C("day_parts", q(
        "SELECT id, dayofweek(d), dayofyear(d), quarter(d), weekofyear(d), weekofyear('2021-01-03'), "
        "dayofweek(ts) FROM f")),
    C("months_between", q(
        "SELECT id, months_between(ts, d), months_between(d, DATE'2023-11-30'), months_between(ts, d, false), "
        "months_between('1997-02-28 10:30:00', '1996-10-30'), months_between(DATE'2024-02-29', DATE'2024-01-31') FROM f")),
    C("months_between_time_zone", in_zone("America/Los_Angeles",
        "SELECT months_between(TIMESTAMP'2024-03-15 01:00:00', TIMESTAMP'2024-01-10 23:00:00'), "
        "months_between(ts, d) FROM f WHERE id = 1")),
    C("date_trunc_units", q(
        "SELECT id, date_trunc('YEAR', ts), date_trunc('yy', ts), date_trunc('QUARTER', ts), date_trunc('MM', ts), "
        "date_trunc('mon', ts), date_trunc('WEEK', ts), date_trunc('DD', ts), date_trunc('HOUR', ts), "
        "date_trunc('minute', ts), date_trunc('SECOND', ts), date_trunc('bogus', ts), date_trunc('MONTH', d) FROM f")),
    C("date_trunc_time_zone", in_zone("Asia/Kolkata",
        "SELECT date_trunc('DAY', ts), date_trunc('HOUR', ts), date_trunc('MONTH', ts) FROM f")),
    C("unix_timestamp_sql", q(
        "SELECT id, unix_timestamp(ts), unix_timestamp(d), unix_timestamp('2024-01-02 10:00:00'), "
        "unix_timestamp('2024/01/03', 'yyyy/MM/dd'), to_unix_timestamp(ts) FROM f")),
    C("sort_array_sql", lambda s, t: s.sql(
        "SELECT sort_array(array(3, NULL, 1)), sort_array(array(3, NULL, 1), false), sort_array(array('b', 'a'))")),
    C("try_arithmetic", q(
        "SELECT id, try_add(2147483647, 1), try_add(n, 1), try_add(l, 1), try_subtract(n, 5), "
        "try_multiply(l, 2), try_multiply(n, n), try_divide(n, 0), try_divide(x, 2), try_divide(7, n), "
        "try_add(d, 3), try_subtract(d, 1) FROM f")),
    C("cast_named_functions", q(
        "SELECT id, double(n), double('1.5e3'), int(x), bigint(x), string(x), float(n), smallint(n), tinyint(n), boolean(n), "
        "date(ts), timestamp(d), decimal(x), double('NaN'), int('12') FROM f")),
    C("null_functions", q(
        "SELECT id, equal_null(n, 0), equal_null(s, NULL), nullifzero(n), nullifzero(x), zeroifnull(n), "
        "zeroifnull(x) FROM f")),
    C("higher_order_functions", lambda s, t: s.sql(
        "SELECT k, transform(a, x -> x * 2), filter(a, x -> x % 2 = 1), exists(a, x -> x > 2) "
        "FROM VALUES (1, array(1, 2, 3)), (2, array()), (3, CAST(NULL AS ARRAY<INT>)) AS v(k, a)")),
    C("monotonically_increasing_id_sql", lambda s, t: s.sql(
        "SELECT count(DISTINCT m), count(*) FROM (SELECT monotonically_increasing_id() AS m FROM range(7))")),
    C("bridged_functions_in_clauses", q(
        "SELECT dayofweek(d) AS w, count(*) AS c, max(locate('o', s)) FROM f WHERE locate('o', s) > 0 "
        "OR s IS NULL GROUP BY dayofweek(d) ORDER BY w NULLS FIRST"), ordered=True),
    C("bridged_functions_select_expr", lambda s, t: view(s).table("f").selectExpr(
        "id", "locate('o', s) AS p", "try_divide(n, 0)", "months_between(ts, d)", "date_trunc('MM', ts)",
        "weekofyear(d) + 1 AS w")),
    E("bridged_function_arity", lambda s, t: view(s).sql("SELECT months_between(d) FROM f").collect(),
      contains="WRONG_NUM_ARGS"),
]
