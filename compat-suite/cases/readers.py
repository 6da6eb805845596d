"""DataFrameReader: csv, json, parquet, text, with the common options and parse modes.
Every input file is written by the case itself into its tmp folder."""

import datetime
import os

from cases import C, E
from cases._util import lines, write

PEOPLE_CSV = lines("id,name,score,joined", "1,ann,3.5,2024-01-02", "2,bob,,2023-12-31", "3,\"c, d\",10,2020-02-29")
BAD_CSV = lines("1,ok,1.5", "2,also ok,2.5", "x,bad,oops", "4,short")
JSON_LINES = lines(
    '{"id": 1, "name": "ann", "score": 3.5, "tags": ["a", "b"], "addr": {"city": "NY", "zip": 10001}, "ok": true}',
    '{"id": 2, "name": "bob", "score": null, "tags": [], "addr": {"city": "SF"}, "ok": false}',
    '{"id": 3, "name": "cid"}',
)
BAD_JSON = lines('{"a": 1, "b": "x"}', '{"a": 2, "b": "y"', '{"a": "three", "b": "z"}', "")


def csv(t, text=PEOPLE_CSV, name="people.csv"):
    return write(t, name, text)


def parquet_file(t):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = os.path.join(str(t), "p.parquet")
    table = pa.table({
        "id": pa.array([1, 2, 3], pa.int64()),
        "small": pa.array([1, None, 3], pa.int32()),
        "name": pa.array(["a", None, "c"], pa.string()),
        "amount": pa.array([1.5, 2.5, None], pa.float64()),
        "flag": pa.array([True, False, None]),
        "day": pa.array([datetime.date(2024, 1, 1), None, datetime.date(1999, 12, 31)], pa.date32()),
        "ts": pa.array([datetime.datetime(2024, 1, 1, 12, 0, 0), None, datetime.datetime(2000, 1, 1)], pa.timestamp("us", tz="UTC")),
        "tags": pa.array([["x"], [], None], pa.list_(pa.string())),
    })
    pq.write_table(table, path)
    return path


CASES = [
    # csv
    C("csv_header_infer", lambda s, t: s.read.csv(csv(t), header=True, inferSchema=True)),
    C("csv_header_strings", lambda s, t: s.read.option("header", "true").csv(csv(t))),
    C("csv_no_header", lambda s, t: s.read.csv(csv(t))),
    C("csv_sep", lambda s, t: s.read.csv(csv(t, lines("a;b", "1;x", "2;y"), "semi.csv"), sep=";", header=True, inferSchema=True)),
    C("csv_tab_sep_option", lambda s, t: s.read.option("sep", "\t").option("header", True).csv(csv(t, lines("a\tb", "1\t2"), "tab.tsv"))),
    C("csv_schema_ddl", lambda s, t: s.read.schema("id int, name string, score double, joined date").csv(csv(t), header=True)),
    C("csv_multiline_quoted", lambda s, t: s.read.csv(csv(t, 'id,text\n1,"line one\nline two"\n2,"say ""hi"""\n', "ml.csv"), header=True, multiLine=True)),
    C("csv_null_value", lambda s, t: s.read.csv(csv(t, lines("a,b", "NA,1", "x,NA"), "na.csv"), header=True, nullValue="NA", inferSchema=True)),
    C("csv_permissive_default", lambda s, t: s.read.schema("a int, b string, c double").csv(csv(t, BAD_CSV, "bad.csv"))),
    C("csv_permissive_explicit", lambda s, t: s.read.schema("a int, b string, c double").option("mode", "PERMISSIVE").csv(csv(t, BAD_CSV, "bad.csv"))),
    C("csv_dropmalformed", lambda s, t: s.read.schema("a int, b string, c double").csv(csv(t, BAD_CSV, "bad.csv"), mode="DROPMALFORMED")),
    E("csv_failfast", lambda s, t: s.read.schema("a int, b string, c double").csv(csv(t, BAD_CSV, "bad.csv"), mode="FAILFAST").collect(), contains="bad."),
    C("csv_date_format", lambda s, t: s.read.schema("d date, ts timestamp").csv(csv(t, lines("31/12/2023,2023-12-31T10:11:12"), "d.csv"), dateFormat="dd/MM/yyyy")),
    C("csv_directory", lambda s, t: (csv(t, lines("a,b", "1,x"), "dir/one.csv"), csv(t, lines("a,b", "2,y"), "dir/two.csv"), s.read.csv(str(t / "dir"), header=True, inferSchema=True))[2]),
    C("csv_glob", lambda s, t: (csv(t, lines("1"), "g/a.csv"), csv(t, lines("2"), "g/b.txt"), s.read.csv(str(t / "g" / "*.csv")))[2]),
    C("csv_format_load", lambda s, t: s.read.format("csv").option("header", "true").load(csv(t)).select("name")),
    C("csv_input_files", lambda s, t: sorted(os.path.basename(p) for p in s.read.csv(csv(t)).inputFiles())),
    C("csv_infer_types", lambda s, t: s.read.csv(csv(t, lines("i,l,d,b,s,dt", "1,10000000000,1.5,true,x,2024-01-01", "2,3,2,false,y,2024-01-02"), "types.csv"), header=True, inferSchema=True)),
    # json
    C("json_lines_inferred", lambda s, t: s.read.json(write(t, "p.json", JSON_LINES))),
    C("json_schema_order", lambda s, t: s.read.json(write(t, "p.json", JSON_LINES)).columns),
    C("json_with_schema", lambda s, t: s.read.schema("name string, id long, missing string").json(write(t, "p.json", JSON_LINES))),
    C("json_nested_select", lambda s, t: s.read.json(write(t, "p.json", JSON_LINES)).select("addr.city", "tags", "addr.zip")),
    C("json_multiline_array", lambda s, t: s.read.json(write(t, "arr.json", '[\n {"a": 1,\n  "b": "x"},\n {"a": 2, "b": "y"}\n]\n'), multiLine=True)),
    C("json_multiline_object", lambda s, t: s.read.option("multiLine", True).json(write(t, "obj.json", '{\n "a": {"n": [1, 2]},\n "b": null\n}\n'))),
    C("json_permissive_corrupt", lambda s, t: s.read.json(write(t, "bad.json", BAD_JSON))),
    C("json_permissive_schema", lambda s, t: s.read.schema("a int, b string").json(write(t, "bad.json", BAD_JSON))),
    C("json_dropmalformed", lambda s, t: s.read.json(write(t, "bad.json", BAD_JSON), mode="DROPMALFORMED")),
    E("json_failfast", lambda s, t: s.read.json(write(t, "bad.json", BAD_JSON), mode="FAILFAST").collect(), contains="FAILFAST"),
    E("json_failfast_with_schema", lambda s, t: s.read.schema("a int, b string").json(write(t, "bad.json", BAD_JSON), mode="FAILFAST").collect(), contains="bad.json"),
    C("json_types_inferred", lambda s, t: s.read.json(write(t, "t.json", lines('{"i": 1, "big": 12345678901234, "f": 1.0, "e": 1e2, "s": "2024-01-01", "n": null, "mixed": 1}', '{"mixed": "x"}')))),
    C("json_primitives_as_string", lambda s, t: s.read.json(write(t, "t.json", lines('{"a": 1, "b": true}')), primitivesAsString=True)),
    C("json_format_load_count", lambda s, t: s.read.format("json").load(write(t, "p.json", JSON_LINES)).count()),
    # parquet
    C("parquet_read", lambda s, t: s.read.parquet(parquet_file(t))),
    C("parquet_projection_filter", lambda s, t: s.read.parquet(parquet_file(t)).where("amount > 2").select("name", "day")),
    C("parquet_schema", lambda s, t: s.read.parquet(parquet_file(t)).schema),
    C("parquet_format_load", lambda s, t: s.read.format("parquet").load(parquet_file(t)).selectExpr("sum(id)", "count(tags)")),
    # text
    C("text_lines", lambda s, t: s.read.text(write(t, "t.txt", "first line\n\nthird, with comma\nünï\n"))),
    C("text_wholetext", lambda s, t: s.read.text(write(t, "t.txt", "a\nb\n"), wholetext=True)),
    C("text_line_sep", lambda s, t: s.read.text(write(t, "t.txt", "a|b|c"), lineSep="|")),
    C("text_then_split", lambda s, t: s.read.text(write(t, "t.txt", "k1=v1\nk2=v2\n")).selectExpr("split(value, '=')[0] AS k", "split(value, '=')[1] AS v")),
    # table reads
    C("read_table_temp_view", lambda s, t: (s.range(3).createOrReplaceTempView("rt"), s.read.table("rt"))[1]),
]
