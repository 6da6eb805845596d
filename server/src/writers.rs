//! `df.write....save(path)`: parquet, csv, json and text files laid out as Spark lays them out
//! (`part-00000-<uuid>-c000.<codec>.<ext>` files, a `_SUCCESS` marker, `key=value` folders for
//! `partitionBy` with `__HIVE_DEFAULT_PARTITION__` for NULL), values written in Spark's text
//! forms (Java doubles, ISO timestamps, JSON without NULL fields).
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, UInt32Array};
use arrow::datatypes::{DataType, Schema, SchemaRef, TimeUnit};
use chrono::TimeZone;
use datafusion::logical_expr::LogicalPlan;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, GzipLevel, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::prelude::DataFrame;
use futures::StreamExt;
use planner::{show, PlanError};
use proto::connect::write_operation::{SaveMode, SaveType};
use proto::connect::WriteOperation;

use crate::error::{SparkError, SparkResult};
use crate::execute::{plan_relation, spark_schema};
use crate::session::Session;
use crate::sources::{escape_path_name, DEFAULT_PARTITION};

/// The write options each format takes (lower-cased); others are refused, not ignored.
fn known_options(format: &str) -> &'static [&'static str] {
    match format {
        "csv" => &[
            "header",
            "sep",
            "delimiter",
            "quote",
            "escape",
            "nullvalue",
            "compression",
            "codec",
        ],
        "json" | "text" | "parquet" => &["compression", "codec"],
        _ => &[],
    }
}

fn analysis(msg: String) -> SparkError {
    SparkError::Plan(PlanError::analysis(msg))
}

/// Data source options keyed lower-case: Spark matches option names ignoring case.
pub fn lower_keys(options: &HashMap<String, String>) -> HashMap<String, String> {
    options
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect()
}

pub fn absolute(p: &str) -> String {
    std::path::absolute(p)
        .map(|a| a.display().to_string())
        .unwrap_or_else(|_| p.to_string())
}

/// `df.write.format(f).mode(m).partitionBy(..).save(path)`.
pub async fn write(session: &Session, w: WriteOperation) -> SparkResult<()> {
    let input = w
        .input
        .as_ref()
        .ok_or_else(|| SparkError::invalid("write without input"))?;
    if w.bucket_by.is_some() || !w.sort_column_names.is_empty() {
        return Err(SparkError::unsupported("bucketBy / sortBy"));
    }
    let options = lower_keys(&w.options);
    let format = w.source.clone().map(|f| f.to_ascii_lowercase());
    if matches!(w.save_type, Some(SaveType::Table(_))) || format.as_deref() == Some("delta") {
        return write_delta(session, &w, &options).await;
    }
    let path = match &w.save_type {
        Some(SaveType::Path(p)) => p.clone(),
        _ => return Err(SparkError::invalid("write without a path or table")),
    };
    let format = format.unwrap_or_else(|| "parquet".into());
    Layout::new(&format, &options)?;
    let exists = Path::new(&path).exists();
    match w.mode() {
        SaveMode::ErrorIfExists | SaveMode::Unspecified if exists => {
            return Err(analysis(format!(
                "[PATH_ALREADY_EXISTS] Path file:{} already exists. Set mode as \"overwrite\" to overwrite the existing path. SQLSTATE: 42K04",
                absolute(&path)
            )))
        }
        SaveMode::Ignore if exists => return Ok(()),
        SaveMode::Overwrite if exists => std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path))?,
        _ => {}
    }
    let plan = plan_relation(session, input).await?;
    write_files(
        session,
        plan,
        Path::new(&path),
        &format,
        &options,
        &w.partitioning_columns,
        true,
    )
    .await
    .map(|_| ())
}

/// Writes `plan` as new files of `format` in `root` (partitioned into key=value folders);
/// returns the files written. Batch writes end with `_SUCCESS`; streaming sinks keep their
/// own log instead.
pub async fn write_files(
    session: &Session,
    plan: LogicalPlan,
    root: &Path,
    format: &str,
    options: &HashMap<String, String>,
    partition_by: &[String],
    success_marker: bool,
) -> SparkResult<Vec<PathBuf>> {
    let layout = Layout::new(format, options)?;
    let df = DataFrame::new(session.ctx.state(), plan);
    let schema = spark_schema(df.schema().as_arrow());
    let split = Split::new(&schema, partition_by)?;
    layout.check(&split.data_schema)?;
    std::fs::create_dir_all(root)?;
    let mut job = Job {
        root: root.to_path_buf(),
        layout,
        split,
        files: HashMap::new(),
        written: vec![],
        uuid: uuid::Uuid::new_v4(),
    };
    let mut stream = df.execute_stream().await?;
    while let Some(batch) = stream.next().await {
        job.write(&crate::execute::to_spark_batch(&batch?, &schema)?)?;
    }
    job.finish(success_marker)
}

/// Delta writes: `format("delta").save(path)`, `saveAsTable` (Delta unless another format is
/// named) and `insertInto`.
async fn write_delta(
    session: &Session,
    w: &WriteOperation,
    options: &HashMap<String, String>,
) -> SparkResult<()> {
    use proto::connect::write_operation::save_table::TableSaveMethod;
    let input = w
        .input
        .as_ref()
        .ok_or_else(|| SparkError::invalid("write without input"))?;
    crate::delta_ops::only_delta(w.source.as_deref(), "saveAsTable with format")?;
    let mode = match w.mode() {
        SaveMode::Append => delta_sink::SaveMode::Append,
        SaveMode::Overwrite => delta_sink::SaveMode::Overwrite,
        SaveMode::Ignore => delta_sink::SaveMode::Ignore,
        SaveMode::ErrorIfExists | SaveMode::Unspecified => delta_sink::SaveMode::ErrorIfExists,
    };
    let plan = plan_relation(session, input).await?;
    let partition_by = w.partitioning_columns.clone();
    // `clusterBy` is kept with the table (insertInto writes by the table's own layout, as
    // Spark does).
    let spec = |partition_by| -> SparkResult<delta_sink::WriteSpec> {
        let mut spec = crate::delta_ops::write_spec(mode, options, partition_by)?;
        spec.clustering = w.clustering_columns.clone();
        Ok(spec)
    };
    match &w.save_type {
        Some(SaveType::Path(p)) => {
            crate::delta_ops::save_path(session, plan, p, spec(partition_by)?).await
        }
        Some(SaveType::Table(t)) => {
            let name = planner::ddl::parse_table_name(&t.table_name)?;
            if t.save_method() == TableSaveMethod::InsertInto {
                if !partition_by.is_empty() {
                    return Err(SparkError::Plan(PlanError::analysis(format!(
                        "[PARTITION_BY_NOT_ALLOWED_WITH_INSERT_INTO] partitionBy() cannot be used with insertInto(). Partition columns for table {} are determined by the table definition. SQLSTATE: 42601",
                        t.table_name
                    ))));
                }
                let overwrite = mode == delta_sink::SaveMode::Overwrite;
                crate::delta_ops::insert_into(session, plan, &name, &[], overwrite, false, options)
                    .await
            } else {
                let spec = spec(partition_by)?;
                crate::delta_ops::save_as_table(session, plan, &name, options, spec).await
            }
        }
        None => match options.get("path") {
            Some(p) => crate::delta_ops::save_path(session, plan, p, spec(partition_by)?).await,
            None => Err(SparkError::invalid("write without a path or table")),
        },
    }
}

/// Which columns name the folders (`partitionBy`) and which go into the files.
struct Split {
    partition: Vec<usize>,
    data: Vec<usize>,
    data_schema: SchemaRef,
}

impl Split {
    fn new(schema: &Schema, names: &[String]) -> SparkResult<Split> {
        let partition = names
            .iter()
            .map(|n| {
                schema
                    .fields()
                    .iter()
                    .position(|f| f.name().eq_ignore_ascii_case(n))
                    .ok_or_else(|| {
                        analysis(format!(
                            "[COLUMN_NOT_FOUND] The column `{n}` does not exist. SQLSTATE: 42703"
                        ))
                    })
            })
            .collect::<SparkResult<Vec<_>>>()?;
        let data: Vec<usize> = (0..schema.fields().len())
            .filter(|i| !partition.contains(i))
            .collect();
        if data.is_empty() && !partition.is_empty() {
            return Err(analysis(
                "[ALL_PARTITION_COLUMNS_NOT_ALLOWED] Cannot use all columns for partition columns. SQLSTATE: KD005".into(),
            ));
        }
        let data_schema = Arc::new(Schema::new(
            data.iter()
                .map(|i| schema.field(*i).clone())
                .collect::<Vec<_>>(),
        ));
        Ok(Split {
            partition,
            data,
            data_schema,
        })
    }

    /// The folder (relative, `k=v/...`) of row `row`.
    fn folder(&self, batch: &RecordBatch, row: usize) -> String {
        self.partition
            .iter()
            .map(|&i| {
                let column = batch.column(i);
                let value = if column.is_null(row) {
                    String::new()
                } else {
                    show::cell(column, row)
                };
                let value = if value.is_empty() {
                    DEFAULT_PARTITION.to_string()
                } else {
                    escape_path_name(&value)
                };
                format!(
                    "{}={value}",
                    escape_path_name(batch.schema().field(i).name())
                )
            })
            .collect::<Vec<_>>()
            .join("/")
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Parquet,
    Csv,
    Json,
    Text,
}

/// The output format with its options.
struct Layout {
    format: Format,
    /// Parquet's codec, or gzip (true) for the text formats.
    parquet_codec: Compression,
    gzip: bool,
    csv: CsvWrite,
}

struct CsvWrite {
    header: bool,
    sep: char,
    quote: char,
    escape: char,
    null_value: String,
}

impl Layout {
    fn new(format: &str, options: &HashMap<String, String>) -> SparkResult<Layout> {
        let format = match format {
            "parquet" => Format::Parquet,
            "csv" => Format::Csv,
            "json" => Format::Json,
            "text" => Format::Text,
            other => {
                return Err(SparkError::unsupported(format!(
                    "writing the format `{other}`"
                )))
            }
        };
        let name = |f: Format| match f {
            Format::Parquet => "parquet",
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Text => "text",
        };
        for key in options.keys() {
            if key != "path" && !known_options(name(format)).contains(&key.as_str()) {
                return Err(SparkError::unsupported(format!(
                    "the {} write option `{key}`",
                    name(format)
                )));
            }
        }
        let codec = options
            .get("compression")
            .or_else(|| options.get("codec"))
            .map(|c| c.to_ascii_lowercase());
        let (parquet_codec, gzip) = match (format, codec.as_deref()) {
            (Format::Parquet, None | Some("snappy")) => (Compression::SNAPPY, false),
            (Format::Parquet, Some("none" | "uncompressed")) => (Compression::UNCOMPRESSED, false),
            (Format::Parquet, Some("gzip")) => (Compression::GZIP(GzipLevel::default()), false),
            (Format::Parquet, Some("zstd")) => (Compression::ZSTD(ZstdLevel::default()), false),
            (Format::Parquet, Some("lz4")) => (Compression::LZ4, false),
            (_, None | Some("none" | "uncompressed")) => (Compression::UNCOMPRESSED, false),
            (_, Some("gzip")) => (Compression::UNCOMPRESSED, true),
            (_, Some(other)) => {
                return Err(SparkError::unsupported(format!(
                    "the compression codec `{other}`"
                )))
            }
        };
        let char_option = |keys: &[&str], default: char| -> SparkResult<char> {
            match keys.iter().find_map(|k| options.get(*k)) {
                None => Ok(default),
                Some(v) if v == "\\t" => Ok('\t'),
                Some(v) => {
                    let mut chars = v.chars();
                    match (chars.next(), chars.next()) {
                        (Some(c), None) => Ok(c),
                        _ => Err(SparkError::unsupported(format!(
                            "the CSV option {keys:?}={v:?} (only one character)"
                        ))),
                    }
                }
            }
        };
        let csv = CsvWrite {
            header: options
                .get("header")
                .is_some_and(|h| h.eq_ignore_ascii_case("true")),
            sep: char_option(&["sep", "delimiter"], ',')?,
            quote: char_option(&["quote"], '"')?,
            escape: char_option(&["escape"], '\\')?,
            null_value: options.get("nullvalue").cloned().unwrap_or_default(),
        };
        Ok(Layout {
            format,
            parquet_codec,
            gzip,
            csv,
        })
    }

    /// Spark refuses types a format cannot hold before writing anything.
    fn check(&self, data: &Schema) -> SparkResult<()> {
        match self.format {
            Format::Csv => {
                for f in data.fields() {
                    if f.data_type().is_nested() {
                        return Err(analysis(format!(
                            "[UNSUPPORTED_DATA_TYPE_FOR_DATASOURCE] The CSV datasource doesn't support the column `{}` of the type \"{}\". SQLSTATE: 0A000",
                            f.name(),
                            planner::types::sql_name(f.data_type())
                        )));
                    }
                }
                Ok(())
            }
            Format::Text if data.fields().len() != 1 || !matches!(data.field(0).data_type(), DataType::Utf8) => {
                Err(analysis(format!(
                    "[WRONG_NUM_COLUMNS] Text data source supports only a single column, and you have {} columns.",
                    data.fields().len()
                )))
            }
            _ => Ok(()),
        }
    }

    fn extension(&self) -> String {
        match self.format {
            Format::Parquet => match self.parquet_codec {
                Compression::SNAPPY => ".snappy.parquet".into(),
                Compression::GZIP(_) => ".gz.parquet".into(),
                Compression::ZSTD(_) => ".zstd.parquet".into(),
                Compression::LZ4 => ".lz4.parquet".into(),
                _ => ".parquet".into(),
            },
            Format::Csv | Format::Json | Format::Text => {
                let base = match self.format {
                    Format::Csv => ".csv",
                    Format::Json => ".json",
                    _ => ".txt",
                };
                if self.gzip {
                    format!("{base}.gz")
                } else {
                    base.into()
                }
            }
        }
    }
}

/// Bytes to a file, gzipped or not.
enum Sink {
    Plain(BufWriter<File>),
    Gzip(Box<flate2::write::GzEncoder<BufWriter<File>>>),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Plain(w) => w.write(buf),
            Sink::Gzip(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Plain(w) => w.flush(),
            Sink::Gzip(w) => w.flush(),
        }
    }
}

impl Sink {
    fn finish(self) -> std::io::Result<()> {
        match self {
            Sink::Plain(mut w) => w.flush(),
            Sink::Gzip(w) => w.finish()?.flush(),
        }
    }
}

enum OutFile {
    Parquet(Box<ArrowWriter<File>>),
    Text(Box<Sink>),
}

/// One write: the open file of every folder written so far.
struct Job {
    root: PathBuf,
    layout: Layout,
    split: Split,
    files: HashMap<String, OutFile>,
    written: Vec<PathBuf>,
    uuid: uuid::Uuid,
}

impl Job {
    fn write(&mut self, batch: &RecordBatch) -> SparkResult<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        if self.split.partition.is_empty() {
            let data = batch.project(&self.split.data)?;
            return self.write_to(String::new(), &data);
        }
        // Rows grouped by folder, folders in order of first appearance.
        let mut order: Vec<String> = vec![];
        let mut rows: HashMap<String, Vec<u32>> = HashMap::new();
        for r in 0..batch.num_rows() {
            let folder = self.split.folder(batch, r);
            let index =
                u32::try_from(r).map_err(|_| SparkError::Limit("a batch over 4G rows".into()))?;
            rows.entry(folder.clone())
                .or_insert_with(|| {
                    order.push(folder);
                    vec![]
                })
                .push(index);
        }
        let data = batch.project(&self.split.data)?;
        for folder in order {
            let indices = UInt32Array::from(rows.remove(&folder).unwrap_or_default());
            let columns = data
                .columns()
                .iter()
                .map(|c| arrow::compute::take(c.as_ref(), &indices, None))
                .collect::<Result<Vec<_>, _>>()?;
            self.write_to(folder, &RecordBatch::try_new(data.schema(), columns)?)?;
        }
        Ok(())
    }

    fn write_to(&mut self, folder: String, data: &RecordBatch) -> SparkResult<()> {
        if !self.files.contains_key(&folder) {
            let file = self.open(&folder)?;
            self.files.insert(folder.clone(), file);
        }
        let Some(file) = self.files.get_mut(&folder) else {
            return Ok(());
        };
        match file {
            OutFile::Parquet(w) => w.write(data).map_err(|e| SparkError::Arrow(e.into()))?,
            OutFile::Text(sink) => write_rows(sink, data, &self.layout)?,
        }
        Ok(())
    }

    fn open(&mut self, folder: &str) -> SparkResult<OutFile> {
        let dir = if folder.is_empty() {
            self.root.clone()
        } else {
            self.root.join(folder)
        };
        std::fs::create_dir_all(&dir)?;
        let name = format!(
            "part-{:05}-{}-c000{}",
            self.files.len(),
            self.uuid,
            self.layout.extension()
        );
        let path = dir.join(name);
        let file = File::create(&path)?;
        self.written.push(path);
        if self.layout.format == Format::Parquet {
            let props = WriterProperties::builder()
                .set_compression(self.layout.parquet_codec)
                .build();
            let writer = ArrowWriter::try_new(file, self.split.data_schema.clone(), Some(props))
                .map_err(|e| SparkError::Arrow(e.into()))?;
            return Ok(OutFile::Parquet(Box::new(writer)));
        }
        let buffered = BufWriter::new(file);
        let mut sink = if self.layout.gzip {
            Sink::Gzip(Box::new(flate2::write::GzEncoder::new(
                buffered,
                flate2::Compression::default(),
            )))
        } else {
            Sink::Plain(buffered)
        };
        if self.layout.format == Format::Csv && self.layout.csv.header {
            let names: Vec<String> = self
                .split
                .data_schema
                .fields()
                .iter()
                .map(|f| csv_text(f.name(), &self.layout.csv))
                .collect();
            writeln!(sink, "{}", names.join(&self.layout.csv.sep.to_string()))?;
        }
        Ok(OutFile::Text(Box::new(sink)))
    }

    /// Closes every file and marks the job done; an unpartitioned write of no rows still
    /// leaves one (empty) file, so its schema can be read back.
    fn finish(mut self, success_marker: bool) -> SparkResult<Vec<PathBuf>> {
        if self.files.is_empty() && self.split.partition.is_empty() {
            let file = self.open("")?;
            self.files.insert(String::new(), file);
        }
        for (_, file) in self.files.drain() {
            match file {
                OutFile::Parquet(w) => {
                    w.close().map_err(|e| SparkError::Arrow(e.into()))?;
                }
                OutFile::Text(sink) => sink.finish()?,
            }
        }
        if success_marker {
            File::create(self.root.join("_SUCCESS"))?;
        }
        Ok(self.written)
    }
}

fn write_rows(sink: &mut Sink, data: &RecordBatch, layout: &Layout) -> SparkResult<()> {
    let mut line = String::new();
    for row in 0..data.num_rows() {
        line.clear();
        match layout.format {
            Format::Csv => csv_line(&mut line, data, row, &layout.csv),
            Format::Json => json_object(&mut line, data.columns(), data.schema().fields(), row),
            _ => {
                let c = data.column(0);
                if !c.is_null(row) {
                    line.push_str(&show_text(c, row));
                }
            }
        }
        line.push('\n');
        sink.write_all(line.as_bytes())?;
    }
    Ok(())
}

fn csv_line(out: &mut String, data: &RecordBatch, row: usize, o: &CsvWrite) {
    for (i, c) in data.columns().iter().enumerate() {
        if i > 0 {
            out.push(o.sep);
        }
        if c.is_null(row) {
            out.push_str(&o.null_value);
        } else if matches!(c.data_type(), DataType::Utf8)
            && c.as_string::<i32>().value(row).is_empty()
        {
            // Spark writes an empty string as `""`, apart from NULL.
            out.push(o.quote);
            out.push(o.quote);
        } else {
            out.push_str(&csv_text(&show_text(c, row), o));
        }
    }
}

/// A CSV field as univocity writes it for Spark: surrounding whitespace trimmed, quoted when it
/// holds the separator, a quote or a line break, with quotes escaped.
fn csv_text(value: &str, o: &CsvWrite) -> String {
    let value = value.trim();
    if !value.contains([o.sep, o.quote, '\n', '\r']) {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push(o.quote);
    for c in value.chars() {
        if c == o.quote || c == o.escape {
            out.push(o.escape);
        }
        out.push(c);
    }
    out.push(o.quote);
    out
}

/// A value's text as Spark's CSV / JSON / partition writers produce it.
fn show_text(array: &ArrayRef, row: usize) -> String {
    match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().value(row).to_string(),
        DataType::Timestamp(_, tz) => iso_timestamp(array, row, tz.as_deref()),
        _ => show::cell(array, row),
    }
}

/// `yyyy-MM-dd'T'HH:mm:ss.SSSXXX` (Spark's default timestampFormat for writing).
fn iso_timestamp(array: &ArrayRef, row: usize, tz: Option<&str>) -> String {
    let micros = arrow::compute::cast(
        &array.slice(row, 1),
        &DataType::Timestamp(TimeUnit::Microsecond, None),
    )
    .ok()
    .and_then(|a| {
        a.as_primitive_opt::<arrow::datatypes::TimestampMicrosecondType>()
            .map(|p| p.value(0))
    });
    let Some(naive) = micros.and_then(chrono::DateTime::from_timestamp_micros) else {
        return show::cell(array, row);
    };
    let Some(tz) = tz else {
        return naive
            .naive_utc()
            .format("%Y-%m-%dT%H:%M:%S%.3f")
            .to_string();
    };
    let Ok(zone) = tz.parse::<arrow::array::timezone::Tz>() else {
        return show::cell(array, row);
    };
    let text = zone
        .from_utc_datetime(&naive.naive_utc())
        .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
        .to_string();
    match text.strip_suffix("+00:00") {
        Some(head) => format!("{head}Z"),
        None => text,
    }
}

/// A JSON object of the non-NULL fields of `row` (Spark's JSON writer drops NULL fields).
fn json_object(
    out: &mut String,
    columns: &[ArrayRef],
    fields: &arrow::datatypes::Fields,
    row: usize,
) {
    out.push('{');
    let mut first = true;
    for (c, f) in columns.iter().zip(fields.iter()) {
        if c.is_null(row) {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        json_string(out, f.name());
        out.push(':');
        json_value(out, c, row);
    }
    out.push('}');
}

fn json_string(out: &mut String, s: &str) {
    out.push_str(&serde_json::Value::String(s.to_string()).to_string());
}

fn json_value(out: &mut String, array: &ArrayRef, row: usize) {
    if array.is_null(row) || array.data_type() == &DataType::Null {
        out.push_str("null");
        return;
    }
    match array.data_type() {
        DataType::Struct(fields) => json_object(out, array.as_struct().columns(), fields, row),
        DataType::List(_) => {
            let items = array.as_list::<i32>().value(row);
            out.push('[');
            for i in 0..items.len() {
                if i > 0 {
                    out.push(',');
                }
                json_value(out, &items, i);
            }
            out.push(']');
        }
        DataType::Map(..) => {
            let entries = array.as_map().value(row);
            out.push('{');
            for i in 0..entries.len() {
                if i > 0 {
                    out.push(',');
                }
                json_string(out, &show_text(entries.column(0), i));
                out.push(':');
                json_value(out, entries.column(1), i);
            }
            out.push('}');
        }
        DataType::Boolean
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64 => out.push_str(&show::cell(array, row)),
        DataType::Decimal128(..) | DataType::Decimal256(..) => {
            out.push_str(&show::cell(array, row))
        }
        DataType::Float32 | DataType::Float64 => {
            let text = show::cell(array, row);
            // Jackson quotes the non-finite doubles.
            if text
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '-' | '.' | 'E'))
            {
                out.push_str(&text)
            } else {
                json_string(out, &text)
            }
        }
        DataType::Binary => json_string(out, &base64_encode(array.as_binary::<i32>().value(row))),
        _ => json_string(out, &show_text(array, row)),
    }
}

/// Standard base64 with padding (Jackson's binary encoding).
fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quoting() {
        let o = CsvWrite {
            header: false,
            sep: ',',
            quote: '"',
            escape: '\\',
            null_value: String::new(),
        };
        assert_eq!(csv_text("plain", &o), "plain");
        assert_eq!(csv_text("a,b", &o), "\"a,b\"");
        assert_eq!(csv_text("say \"hi\"", &o), "\"say \\\"hi\\\"\"");
    }

    #[test]
    fn base64() {
        assert_eq!(base64_encode(&[1, 2]), "AQI=");
        assert_eq!(base64_encode(b"abc"), "YWJj");
    }
}
