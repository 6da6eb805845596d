"""Smoke test with the PySpark 3.5 Connect client (older protocol fields, older client
code paths). scripts/test.sh runs it from a separate venv; with any other PySpark it skips.
The show() strings are compared with the ones Apache Spark 4 produced for the 4.x suite
(the same server-side rendering), taken from expected/show.json."""

import json
from pathlib import Path

import pyspark
import pytest

if not pyspark.__version__.startswith("3.5"):
    pytest.skip(
        f"PySpark 3.5 smoke suite; this is PySpark {pyspark.__version__}", allow_module_level=True
    )

from pyspark.sql import Row  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from cases.show import people  # noqa: E402

SHOW = json.loads((Path(__file__).parent / "expected" / "show.json").read_text())["cases"]


def recorded(name: str) -> str:
    return SHOW[name]["value"]


def test_version_and_session(spark):
    assert spark.version.startswith(("3.", "4."))
    assert spark.client._session_id


def test_range(spark):
    assert [r.id for r in spark.range(0, 10, 3).collect()] == [0, 3, 6, 9]
    assert spark.range(1000).count() == 1000


def test_sql(spark):
    row = spark.sql("SELECT 1 + 2 AS three, upper('x') AS u, CAST('7' AS INT) AS i").first()
    assert (row.three, row.u, row.i) == (3, "X", 7)


def test_create_dataframe_and_collect(spark):
    df = spark.createDataFrame([(1, "a", 1.5), (2, None, None)], "id int, s string, d double")
    assert df.schema.simpleString() == "struct<id:int,s:string,d:double>"
    assert df.orderBy("id").collect() == [Row(id=1, s="a", d=1.5), Row(id=2, s=None, d=None)]
    inferred = spark.createDataFrame([Row(k="x", v=1)])
    assert inferred.dtypes == [("k", "string"), ("v", "bigint")]


@pytest.mark.parametrize(
    "name,call",
    [
        ("show_default", lambda s: s.range(3)._show_string(20, 20, False)),
        ("show_people", lambda s: people(s)._show_string(20, 20, False)),
        ("show_truncate_false", lambda s: people(s)._show_string(20, 0, False)),
        ("show_truncate_5", lambda s: people(s)._show_string(20, 5, False)),
        ("show_vertical", lambda s: people(s)._show_string(20, 20, True)),
        ("show_n2_more_rows", lambda s: s.range(10)._show_string(2, 20, False)),
        ("show_empty", lambda s: s.range(0)._show_string(20, 20, False)),
    ],
)
def test_show_matches_spark4_recording(spark, name, call):
    assert call(spark) == recorded(name)


def test_group_by(spark):
    df = spark.createDataFrame([("a", 1), ("b", 2), ("a", 3)], "k string, v int")
    got = sorted(
        (r.k, r.n, r.total) for r in df.groupBy("k").agg(F.count("*").alias("n"), F.sum("v").alias("total")).collect()
    )
    assert got == [("a", 2, 4), ("b", 1, 2)]


def test_error_is_analysis_exception(spark):
    from pyspark.errors import AnalysisException

    with pytest.raises(AnalysisException):
        spark.range(1).select("nosuch").collect()
