"""DataFrameWriter: parquet / csv / json / text, save modes, partitionBy, read back."""

from cases import C, E
from cases._util import data_files, listing


def data(s):
    return s.createDataFrame(
        [(1, "a", 1.5, "x"), (2, "b", None, "y"), (3, None, 3.0, "x")],
        "id int, name string, v double, part string",
    )


def out(t, name="out"):
    return str(t / name)


def write_twice(s, t, fmt, mode):
    """Write `data` once, then `range(2)`-shaped rows of the same schema with `mode`,
    and read the result back with the same format."""
    path = out(t)
    first = data(s)
    second = s.createDataFrame([(9, "z", 9.0, "q")], first.schema)
    getattr(first.write, fmt)(path)
    getattr(second.write.mode(mode), fmt)(path)
    reader = s.read.schema(first.schema) if fmt in ("csv", "json") else s.read
    return getattr(reader, fmt)(path)


CASES = [
    C("parquet_roundtrip", lambda s, t: (data(s).write.parquet(out(t)), s.read.parquet(out(t)))[1]),
    C("parquet_append", lambda s, t: write_twice(s, t, "parquet", "append")),
    C("parquet_overwrite", lambda s, t: write_twice(s, t, "parquet", "overwrite")),
    C("parquet_ignore", lambda s, t: write_twice(s, t, "parquet", "ignore")),
    E("parquet_error_if_exists", lambda s, t: write_twice(s, t, "parquet", "error"), contains="out"),
    E("parquet_errorifexists_default", lambda s, t: (data(s).write.parquet(out(t)), data(s).write.parquet(out(t))), contains="out"),
    C("parquet_partition_by", lambda s, t: (data(s).write.partitionBy("part").parquet(out(t)), s.read.parquet(out(t)))[1]),
    C("parquet_partition_dirs", lambda s, t: (data(s).write.partitionBy("part").parquet(out(t)), listing(out(t)))[1]),
    C("parquet_partition_by_two", lambda s, t: (data(s).write.partitionBy("part", "id").parquet(out(t)), listing(out(t)), s.read.parquet(out(t)).schema.simpleString())[1:]),
    C("parquet_partition_null_value", lambda s, t: (data(s).write.partitionBy("name").parquet(out(t)), listing(out(t)), s.read.parquet(out(t)).where("name IS NULL").count())[1:]),
    C("parquet_partition_filter_read", lambda s, t: (data(s).write.partitionBy("part").parquet(out(t)), s.read.parquet(out(t)).where("part = 'x'").select("id"))[1]),
    C("parquet_all_types_roundtrip", lambda s, t: (s.sql("SELECT 1Y AS b, 2S AS sh, 3 AS i, 4L AS l, 1.5F AS f, 2.5D AS d, 1.25BD AS dec, 's' AS s, X'0102' AS bin, true AS bo, DATE'2024-01-01' AS dt, TIMESTAMP'2024-01-01 01:02:03.456' AS ts, array(1, 2) AS arr, map('k', 1) AS m, named_struct('x', 1) AS st").write.parquet(out(t)), s.read.parquet(out(t)))[1]),
    C("parquet_file_count_coalesced", lambda s, t: (s.range(100).coalesce(1).write.parquet(out(t)), data_files(out(t), ".parquet"))[1]),
    C("csv_write_header", lambda s, t: (data(s).write.csv(out(t), header=True), s.read.csv(out(t), header=True))[1]),
    C("csv_write_no_header_infer", lambda s, t: (data(s).write.csv(out(t)), s.read.csv(out(t), inferSchema=True))[1]),
    C("csv_write_options", lambda s, t: (data(s).write.option("sep", "|").option("nullValue", "NULL").csv(out(t)), s.read.text(out(t)))[1]),
    C("csv_append", lambda s, t: write_twice(s, t, "csv", "append")),
    C("csv_overwrite", lambda s, t: write_twice(s, t, "csv", "overwrite")),
    C("csv_partition_by", lambda s, t: (data(s).write.partitionBy("part").csv(out(t), header=True), listing(out(t)), s.read.csv(out(t), header=True).schema.simpleString())[1:]),
    C("json_roundtrip", lambda s, t: (data(s).write.json(out(t)), s.read.json(out(t)))[1]),
    C("json_write_text", lambda s, t: (data(s).write.json(out(t)), s.read.text(out(t)))[1]),
    C("json_append", lambda s, t: write_twice(s, t, "json", "append")),
    C("json_ignore", lambda s, t: write_twice(s, t, "json", "ignore")),
    E("json_error_if_exists", lambda s, t: write_twice(s, t, "json", "error"), contains="out"),
    C("json_partition_by", lambda s, t: (data(s).write.mode("overwrite").partitionBy("part").json(out(t)), listing(out(t)), s.read.json(out(t)))[2]),
    C("text_write", lambda s, t: (data(s).selectExpr("concat_ws(':', id, name) AS value").write.text(out(t)), s.read.text(out(t)))[1]),
    C("format_save_api", lambda s, t: (data(s).write.format("parquet").mode("overwrite").save(out(t)), s.read.format("parquet").load(out(t)).count())[1]),
    C("write_options_compression", lambda s, t: (data(s).write.option("compression", "gzip").json(out(t)), data_files(out(t), ".json.gz") > 0, s.read.json(out(t)).count())[1:]),
    C("write_empty_dataframe_parquet", lambda s, t: (data(s).where("id > 100").write.parquet(out(t)), s.read.parquet(out(t)))[1]),
]
