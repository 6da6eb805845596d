"""spark.sql: queries, temp views, catalog commands, parameters."""

from cases import C, E


def setup(s):
    """Two temp views, emp and dept, in this (fresh) session."""
    s.createDataFrame(
        [(1, "ann", 10, 100.0), (2, "bob", 10, 80.0), (3, "cid", 20, 120.0), (4, "dee", 20, 120.0),
         (5, "eve", 30, 50.0), (6, "fay", None, 70.0)],
        "id int, name string, dept_id int, salary double",
    ).createOrReplaceTempView("emp")
    s.createDataFrame([(10, "eng"), (20, "ops"), (40, "hr")], "dept_id int, dname string").createOrReplaceTempView("dept")
    return s


def gen(s):
    """A temp view g of arrays and maps, empty and NULL ones included, for the generators."""
    s.createDataFrame(
        [(1, [1, 2], {"x": 1, "y": None}), (2, [], None), (3, None, {})],
        "k int, a array<int>, m map<string,int>",
    ).createOrReplaceTempView("g")
    return s


def gq(query, **kw):
    return lambda s, t: gen(s).sql(query)


def q(query, **kw):
    return lambda s, t: setup(s).sql(query, **kw)


CASES = [
    C("select_literal", lambda s, t: s.sql("SELECT 1 AS one, 'two' AS two, 3.0 AS three")),
    C("select_no_alias_names", lambda s, t: s.sql("SELECT 1 + 2, upper('a'), CAST('5' AS INT), count(1) FROM range(3)")),
    C("select_from_view", q("SELECT name, salary FROM emp WHERE salary > 90")),
    C("inner_join", q("SELECT e.name, d.dname FROM emp e JOIN dept d ON e.dept_id = d.dept_id")),
    C("left_join_using", q("SELECT * FROM emp LEFT JOIN dept USING (dept_id)")),
    C("full_join", q("SELECT e.id, d.dname FROM emp e FULL OUTER JOIN dept d ON e.dept_id = d.dept_id")),
    C("semi_anti_join", q("SELECT name FROM emp LEFT SEMI JOIN dept ON emp.dept_id = dept.dept_id UNION ALL SELECT concat('anti:', name) FROM emp LEFT ANTI JOIN dept ON emp.dept_id = dept.dept_id")),
    C("subquery_in", q("SELECT name FROM emp WHERE dept_id IN (SELECT dept_id FROM dept WHERE dname <> 'hr')")),
    C("subquery_not_in", q("SELECT name FROM emp WHERE dept_id NOT IN (SELECT dept_id FROM dept)")),
    C("subquery_exists", q("SELECT dname FROM dept d WHERE EXISTS (SELECT 1 FROM emp e WHERE e.dept_id = d.dept_id)")),
    C("subquery_not_exists", q("SELECT dname FROM dept d WHERE NOT EXISTS (SELECT 1 FROM emp e WHERE e.dept_id = d.dept_id)")),
    C("subquery_scalar", q("SELECT name, salary - (SELECT avg(salary) FROM emp) AS diff FROM emp")),
    C("subquery_correlated_scalar", q("SELECT name, (SELECT max(salary) FROM emp e2 WHERE e2.dept_id = e1.dept_id) AS top FROM emp e1")),
    C("subquery_from", q("SELECT dept_id, n FROM (SELECT dept_id, count(*) AS n FROM emp GROUP BY dept_id) t WHERE n > 1")),
    C("cte", q("WITH hi AS (SELECT * FROM emp WHERE salary >= 100), lo AS (SELECT * FROM emp WHERE salary < 100) SELECT (SELECT count(*) FROM hi) AS h, (SELECT count(*) FROM lo) AS l")),
    C("cte_chained", q("WITH a AS (SELECT dept_id, salary FROM emp), b AS (SELECT dept_id, sum(salary) AS total FROM a GROUP BY dept_id) SELECT * FROM b WHERE total > 100")),
    C("group_by_having", q("SELECT dept_id, count(*), sum(salary), avg(salary) FROM emp GROUP BY dept_id HAVING count(*) > 1")),
    C("group_by_ordinal_order_by", q("SELECT dept_id, max(salary) AS m FROM emp GROUP BY 1 ORDER BY m DESC, dept_id NULLS LAST"), ordered=True),
    C("order_by_nulls", q("SELECT name, dept_id FROM emp ORDER BY dept_id DESC NULLS FIRST, name"), ordered=True),
    C("order_limit_offset", q("SELECT id FROM emp ORDER BY id LIMIT 2 OFFSET 3"), ordered=True),
    C("distinct_and_count_distinct", q("SELECT count(DISTINCT dept_id), count(dept_id), count(*) FROM emp")),
    C("window_functions", q(
        "SELECT name, dept_id, salary, "
        "row_number() OVER (PARTITION BY dept_id ORDER BY salary DESC, id) AS rn, "
        "rank() OVER (PARTITION BY dept_id ORDER BY salary DESC) AS rk, "
        "dense_rank() OVER (ORDER BY salary DESC) AS drk, "
        "sum(salary) OVER (PARTITION BY dept_id ORDER BY id) AS run, "
        "lag(name) OVER (ORDER BY id) AS prev, lead(name, 2, 'none') OVER (ORDER BY id) AS next2 "
        "FROM emp")),
    C("window_default_frame_names", q("SELECT sum(salary) OVER (PARTITION BY dept_id), rank() OVER (ORDER BY id) FROM emp")),
    C("case_expression", q("SELECT name, CASE WHEN salary >= 100 THEN 'high' WHEN salary >= 70 THEN 'mid' ELSE 'low' END AS band FROM emp")),
    C("union_intersect_except", q("(SELECT dept_id FROM emp UNION SELECT dept_id FROM dept) EXCEPT (SELECT 30) INTERSECT SELECT dept_id FROM dept")),
    C("values_clause", lambda s, t: s.sql("SELECT * FROM VALUES (1, 'a'), (2, 'b') AS t(x, y)")),
    C("lateral_view_explode", lambda s, t: s.sql("SELECT k, v FROM (SELECT 1 AS k, array(10, 20) AS a) LATERAL VIEW explode(a) t AS v")),
    C("lateral_view_qualified_nulls", lambda s, t: s.sql("SELECT t1.k, e.v FROM VALUES (1, array(1, 2)), (2, CAST(NULL AS ARRAY<INT>)), (3, array()) AS t1(k, a) LATERAL VIEW explode(t1.a) e AS v ORDER BY k, v")),
    C("lateral_view_chained", lambda s, t: s.sql("SELECT * FROM (SELECT 1 AS k, array(1, 2) AS a) LATERAL VIEW explode(a) e1 AS x LATERAL VIEW explode(array(x, x * 10)) e2 AS y ORDER BY x, y")),
    C("lateral_view_default_column", lambda s, t: s.sql("SELECT k, col FROM (SELECT 7 AS k, array('p', 'q') AS a) LATERAL VIEW explode(a) e")),
    C("backticked_identifiers", lambda s, t: s.sql("SELECT `my col` + 1 AS `x.y`, `select` FROM (SELECT 1 AS `my col`, 2 AS `select`)")),
    C("regex_backslash_escapes", lambda s, t: s.sql(r"""SELECT regexp_extract('ab123c', '(\\d+)', 1) AS digits, 'a\\b' AS backslash, split('x1y22z', '\\d+') AS parts""")),
    C("regexp_replace_sql_every_match", lambda s, t: s.sql(r"""SELECT regexp_replace('a.b.c', '\\.', '-') AS dashed, regexp_replace('aaa', 'a', 'b') AS all_b""")),
    C("string_literal_escapes", lambda s, t: s.sql(r"""SELECT 'it\'s' AS a, "dq" AS b, 'tab\there' AS c, 'nl\nx' AS d, 'back\\slash' AS e, 'uni\u00e9' AS f, 'a' 'b' AS g""")),
    C("rand_seed_per_row", lambda s, t: s.sql("SELECT count(DISTINCT r) AS n, count(DISTINCT u) AS m, min(v) >= 0 AND max(v) < 1 AS bounded FROM (SELECT rand(42) AS r, rand() AS u, rand(7) AS v FROM range(100))")),
    C("rand_seed_across_batches", lambda s, t: s.sql("SELECT count(DISTINCT r) AS n, count(*) AS c FROM (SELECT rand(42) AS r FROM range(100000))")),
    C("named_parameters", lambda s, t: s.sql("SELECT :a + 1 AS r, :b AS s", args={"a": 2, "b": "x"})),
    C("positional_parameters", lambda s, t: s.sql("SELECT ? * 2 AS r, ? AS s", args=[21, "y"])),
    C("parameters_in_where", q("SELECT name FROM emp WHERE salary > :m AND dept_id = :d", args={"m": 90, "d": 20})),
    C("sql_with_dataframe_kwargs", lambda s, t: s.sql("SELECT max(id) AS m FROM {df}", df=s.range(7))),
    C("create_temp_view_sql", lambda s, t: (s.sql("CREATE OR REPLACE TEMP VIEW v1 AS SELECT id, id * id AS sq FROM range(4)"), s.sql("SELECT * FROM v1 WHERE sq > 1"))[1]),
    C("create_temp_view_result_empty", lambda s, t: s.sql("CREATE OR REPLACE TEMP VIEW v2 AS SELECT 1 AS x")),
    C("temp_view_replace", lambda s, t: (s.range(2).createOrReplaceTempView("tv"), s.range(5).createOrReplaceTempView("tv"), s.table("tv").count())[2]),
    C("global_temp_view", lambda s, t: (s.range(3).createOrReplaceGlobalTempView("sluice_gv"), s.sql("SELECT sum(id) FROM global_temp.sluice_gv"))[1]),
    C("create_global_temp_view", lambda s, t: (s.sql("DROP VIEW IF EXISTS global_temp.sluice_gv2"), s.range(2).createGlobalTempView("sluice_gv2"), s.table("global_temp.sluice_gv2").count(), s.sql("DROP VIEW global_temp.sluice_gv2"))[2]),
    C("drop_temp_view", lambda s, t: (s.range(1).createOrReplaceTempView("gone"), s.catalog.dropTempView("gone"), s.catalog.dropTempView("gone"))[1:]),
    C("show_tables", lambda s, t: setup(s).sql("SHOW TABLES")),
    C("show_tables_like", lambda s, t: setup(s).sql("SHOW TABLES LIKE 'em*'")),
    C("show_databases", lambda s, t: s.sql("SHOW DATABASES")),
    C("describe_temp_view", lambda s, t: setup(s).sql("DESCRIBE emp")),
    C("describe_column", lambda s, t: setup(s).sql("DESCRIBE emp name")),
    C("describe_extended_column", lambda s, t: setup(s).sql("DESCRIBE TABLE EXTENDED emp salary")),
    C("describe_extended_temp_view", lambda s, t: setup(s).sql("DESCRIBE EXTENDED emp")),
    C("describe_table_column_comments", lambda s, t: (
        s.sql("DROP TABLE IF EXISTS desc_comments"),
        s.sql("CREATE TABLE desc_comments (a INT COMMENT 'the a', b STRING)"),
        [tuple(r) for r in s.sql("DESCRIBE desc_comments").collect()],
        [tuple(r) for r in s.sql("DESCRIBE desc_comments a").collect()],
        s.sql("DROP TABLE desc_comments"),
    )[2:4]),
    C("table_schema_keeps_column_comment", lambda s, t: (
        s.sql("DROP TABLE IF EXISTS schema_comments"),
        s.sql("CREATE TABLE schema_comments (a INT COMMENT 'the a', b STRING)"),
        s.table("schema_comments").select("a").schema.json(),
        s.sql("DROP TABLE schema_comments"),
    )[2]),
    E("describe_unknown_column", lambda s, t: setup(s).sql("DESCRIBE emp nope").collect(), contains="nope"),
    C("describe_query", lambda s, t: s.sql("DESCRIBE QUERY SELECT 1 AS a, 'x' AS b")),
    C("catalog_list_tables", lambda s, t: sorted((x.name, x.isTemporary, x.tableType) for x in setup(s).catalog.listTables())),
    C("catalog_list_columns", lambda s, t: [(c.name, c.dataType, c.nullable) for c in setup(s).catalog.listColumns("emp")]),
    C("catalog_table_exists", lambda s, t: [setup(s).catalog.tableExists("emp"), s.catalog.tableExists("nope")]),
    C("set_then_conf_get", lambda s, t: (s.sql("SET my.sql.key=hello").collect(), s.conf.get("my.sql.key"))[1]),
    C("set_returns_row", lambda s, t: s.sql("SET my.sql.key2=abc")),
    C("set_read_back", lambda s, t: (s.sql("SET my.sql.key3=v3").collect(), s.sql("SET my.sql.key3"))[1]),
    C("conf_then_sql_reads_it", lambda s, t: (s.conf.set("spark.sql.shuffle.partitions", "5"), s.sql("SET spark.sql.shuffle.partitions"))[1]),
    C("sql_functions_misc", lambda s, t: s.sql("SELECT nvl(NULL, 1), if(1 > 2, 'y', 'n'), coalesce(NULL, NULL, 3), greatest(1, 5, 3), array_contains(array(1,2), 2), size(map(1,'a'))")),
    C("sql_table_function_range", lambda s, t: s.sql("SELECT * FROM range(2, 8, 2)")),
    C("sql_posexplode_names", gq("SELECT k, posexplode(a) FROM g")),
    C("sql_posexplode_aliases", gq("SELECT k, posexplode(a) AS (p, v) FROM g")),
    C("sql_explode_map_default_names", gq("SELECT k, explode(m) FROM g")),
    C("sql_explode_map_aliases_ordered", gq("SELECT k, explode(m) AS (kk, vv) FROM g ORDER BY kk"), ordered=True),
    C("sql_posexplode_outer_map", gq("SELECT k, posexplode_outer(m) FROM g")),
    C("sql_explode_outer_array", gq("SELECT k, explode_outer(a) FROM g")),
    C("sql_two_generators_multiply", gq("SELECT explode(a) a1, explode(array(10, 20)) a2 FROM g WHERE k = 1")),
    C("sql_generator_order_by_output", gq("SELECT k, explode(a) AS v FROM g ORDER BY v DESC"), ordered=True),
    C("sql_generator_in_subquery", gq("SELECT * FROM (SELECT k, explode(a) AS e FROM g) WHERE e > 1")),
    C("sql_generator_over_aggregate", gq("SELECT explode(collect_list(k)) AS k FROM g WHERE k > 1")),
    C("lateral_view_map_default_names", gq("SELECT k, t.key, t.value FROM g LATERAL VIEW explode(m) t")),
    C("lateral_view_posexplode", gq("SELECT k, p, c FROM g LATERAL VIEW posexplode(a) t AS p, c")),
    C("lateral_view_outer_array", gq("SELECT k, c FROM g LATERAL VIEW OUTER explode(a) t AS c")),
    C("lateral_view_outer_map", gq("SELECT k, kk, vv FROM g LATERAL VIEW OUTER explode(m) t AS kk, vv ORDER BY k, kk"), ordered=True),
    C("selectexpr_posexplode_map", lambda s, t: gen(s).table("g").selectExpr("k", "posexplode(m) AS (p, kk, vv)")),
    C("sql_explode_generator", lambda s, t: s.sql("SELECT explode(array('a', 'b')) AS letter, 1 AS n")),
    C("sql_group_by_all", q("SELECT dept_id, count(*) AS n FROM emp GROUP BY ALL")),
    C("sql_qualify_like_filter", q("SELECT name FROM (SELECT name, row_number() OVER (PARTITION BY dept_id ORDER BY salary DESC, id) AS rn FROM emp) WHERE rn = 1")),
    C("sql_case_insensitive_names", q("SELECT NAME, Salary FROM EMP WHERE ID = 1")),
    C("sql_case_insensitive_qualified", q("SELECT E.NAME, d.DNAME FROM EMP e JOIN Dept D ON E.DEPT_ID = d.dept_id WHERE e.Salary > 90")),
    C("sql_case_insensitive_cte_subquery", q("WITH Top AS (SELECT ID AS Ident, NAME FROM emp WHERE SALARY > 90) SELECT ident, Name FROM TOP WHERE IDENT IN (SELECT ID FROM EMP WHERE DEPT_ID = 20)")),
    C("sql_case_insensitive_group_order", q("SELECT DEPT_ID, count(*) AS N, max(SALARY) FROM emp GROUP BY Dept_Id ORDER BY dept_id DESC NULLS LAST"), ordered=True),
    C("sql_case_insensitive_expr_strings", lambda s, t: setup(s).table("emp").selectExpr("ID * 2 AS twice", "upper(NAME)", "Salary").filter("TWICE > 4 AND SALARY < 100")),
    C("sql_case_sensitive_setting", lambda s, t: [setup(s).conf.set("spark.sql.caseSensitive", "true"), s.sql("SELECT name FROM emp WHERE id = 1").columns][1]),
    C("sql_result_df_chain", lambda s, t: setup(s).sql("SELECT * FROM emp").where("dept_id = 10").select("name")),
]


def views(*statements):
    """Runs the statements (persisted views), then the last one's result."""

    def run(s, t):
        for q in statements[:-1]:
            s.sql(q).collect()
        last = statements[-1]
        return last(s) if callable(last) else s.sql(last)

    return run


CASES += [
    C("persisted_view_read", views(
        "CREATE OR REPLACE VIEW pv_read AS SELECT id, id * 2 AS dbl FROM range(4) WHERE id > 0",
        "SELECT v.dbl, id FROM pv_read v ORDER BY id",
    ), ordered=True),
    C("persisted_view_over_view", views(
        "CREATE OR REPLACE VIEW pv_base AS SELECT id, CAST(id AS STRING) AS s FROM range(5)",
        "CREATE OR REPLACE VIEW pv_top COMMENT 'evens' AS SELECT id * 10 AS x, s FROM pv_base WHERE id % 2 = 0",
        lambda s: s.table("pv_top"),
    )),
    C("persisted_view_if_not_exists", views(
        "CREATE OR REPLACE VIEW pv_ine AS SELECT 1 AS a",
        "CREATE VIEW IF NOT EXISTS pv_ine AS SELECT 2 AS a",
        "SELECT * FROM pv_ine",
    )),
    C("persisted_view_replace", views(
        "CREATE OR REPLACE VIEW pv_repl AS SELECT 1 AS a",
        "CREATE OR REPLACE VIEW pv_repl AS SELECT 'x' AS b, 2 AS a",
        "SELECT * FROM pv_repl",
    )),
    C("persisted_view_show_tables", views(
        "CREATE OR REPLACE VIEW pv_show AS SELECT 1 AS a",
        "CREATE OR REPLACE TEMP VIEW pv_show_tmp AS SELECT 1 AS a",
        "SHOW TABLES LIKE 'pv_show*'",
    )),
    C("persisted_view_list_tables", views(
        "CREATE OR REPLACE VIEW pv_list AS SELECT 1 AS a",
        lambda s: sorted((t.name, t.tableType, t.isTemporary, t.namespace) for t in s.catalog.listTables() if t.name.startswith("pv_list")),
    )),
    C("persisted_view_drop", views(
        "CREATE OR REPLACE VIEW pv_drop AS SELECT 1 AS a",
        "DROP VIEW pv_drop",
        "DROP VIEW IF EXISTS pv_drop",
        lambda s: s.catalog.tableExists("pv_drop"),
    )),
    E("persisted_view_exists", views(
        "CREATE OR REPLACE VIEW pv_dup AS SELECT 1 AS a",
        "CREATE VIEW pv_dup AS SELECT 2 AS a",
    ), "TABLE_OR_VIEW_ALREADY_EXISTS"),
    E("persisted_view_temp_reference", views(
        "CREATE OR REPLACE TEMP VIEW pv_tmp_src AS SELECT 1 AS a",
        "CREATE VIEW pv_bad AS SELECT * FROM pv_tmp_src",
    ), "INVALID_TEMP_OBJ_REFERENCE"),
    E("persisted_view_without_alias", views(
        "CREATE OR REPLACE VIEW pv_noalias AS SELECT id, id + 1 FROM range(2)",
    ), "CREATE_PERMANENT_VIEW_WITHOUT_ALIAS"),
    E("persisted_view_recursive", views(
        "CREATE OR REPLACE VIEW pv_rec AS SELECT 1 AS a",
        "CREATE OR REPLACE VIEW pv_rec AS SELECT * FROM pv_rec",
    ), "RECURSIVE_VIEW"),
    E("persisted_view_missing_table", views(
        "CREATE VIEW pv_missing AS SELECT * FROM pv_no_such_table",
    ), "TABLE_OR_VIEW_NOT_FOUND"),
    E("drop_view_missing", views("DROP VIEW pv_never_created"), "TABLE_OR_VIEW_NOT_FOUND"),
]

CASES += [
    C("temp_view_column_list", views(
        "CREATE OR REPLACE TEMP VIEW tv_cols (a, `b c`) AS SELECT id, id * 2 FROM range(3)",
        "SELECT * FROM tv_cols",
    )),
    E("temp_view_column_list_arity", views(
        "CREATE OR REPLACE TEMP VIEW tv_cols_bad (a, b, c) AS SELECT id, id * 2 FROM range(3)",
    ), "CREATE_VIEW_COLUMN_ARITY_MISMATCH"),
]

CASES += [
    C("persisted_view_column_list", views(
        "CREATE OR REPLACE VIEW pv_cols (a, `b c` COMMENT 'doubled') AS SELECT id, id * 2 AS d FROM range(3)",
        "SELECT * FROM pv_cols",
    )),
    C("persisted_view_column_list_table", views(
        "CREATE OR REPLACE VIEW pv_cols_t (x) AS SELECT id + 1 AS y FROM range(2)",
        lambda s: s.table("pv_cols_t").select("x"),
    )),
    E("persisted_view_column_list_arity", views(
        "CREATE OR REPLACE VIEW pv_cols_bad (a, b, c) AS SELECT id, id * 2 FROM range(3)",
    ), "CREATE_VIEW_COLUMN_ARITY_MISMATCH"),
    # Spark wants every expression aliased even when a column list names them.
    E("persisted_view_column_list_without_alias", views(
        "CREATE OR REPLACE VIEW pv_cols_na (a, b) AS SELECT id, id * 2 FROM range(3)",
    ), "CREATE_PERMANENT_VIEW_WITHOUT_ALIAS"),
    C("show_tblproperties_of_view", views(
        "CREATE OR REPLACE VIEW pv_props AS SELECT 1 AS a",
        "SHOW TBLPROPERTIES pv_props",
    )),
    E("show_tblproperties_missing", views("SHOW TBLPROPERTIES no_such_table_here"), "TABLE_OR_VIEW_NOT_FOUND"),
]

# SELECT * over USING joins lists the keys first; EXCEPT ALL / INTERSECT ALL count copies.
CASES += [
    C("right_join_using", q("SELECT * FROM emp RIGHT JOIN dept USING (dept_id)")),
    C("full_join_using", q("SELECT * FROM emp FULL JOIN dept USING (dept_id)")),
    C("inner_join_using_star_and_more", q("SELECT *, dname AS again FROM emp JOIN dept USING (dept_id)")),
    C("except_all_sql", q("SELECT * FROM VALUES (1), (2), (2), (NULL), (NULL) AS t(x) EXCEPT ALL SELECT * FROM VALUES (2), (3), (NULL) AS u(x)")),
    C("intersect_all_sql", q("SELECT * FROM VALUES (1), (2), (2), (2), (NULL), (NULL) AS t(x) INTERSECT ALL SELECT * FROM VALUES (2), (2), (NULL), (3) AS u(x)")),
    C("except_distinct_sql", q("SELECT * FROM VALUES (1), (2), (2), (NULL) AS t(x) EXCEPT SELECT * FROM VALUES (2) AS u(x)")),
    C("sql_spark_function_aliases", lambda s, t: s.sql(
        "SELECT startswith('ab', 'a'), endswith('ab', 'a'), rlike('ab', '^a'), regexp('ab', 'c'), "
        "variance(x), std(x), every(x > 0), some(x > 2), mean(x) FROM VALUES (1), (2), (4) AS t(x)")),
    C("sql_first_last_per_group", lambda s, t: s.sql(
        "SELECT k, first(v), last(v), first(v, true), last(n, true) FROM VALUES ('a', 1, NULL), ('b', 2, 5) AS t(k, v, n) GROUP BY k")),
]
