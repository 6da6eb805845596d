//! The data columns of files, as Auto Loader infers them: JSON and CSV values as strings
//! (nested JSON objects as structs of strings, arrays as arrays of strings) unless
//! `cloudFiles.inferColumnTypes`, which types them as `spark.read` would; Parquet columns
//! from the files' schemas, merged. Also the columns that later files add.
use std::path::PathBuf;

use arrow::datatypes::{DataType, Field, Fields, Schema, TimeUnit};
use planner::types::{list_type, map_type, timestamp_type};
use planner::{PlanError, PlanResult};

use super::super::convert::{self, Mode};
use super::super::csv::{self as spark_csv, CsvOptions};
use super::super::files;
use super::super::json::infer::scan_files;
use super::super::json::scan::Facts;
use super::super::json::shape::{sorted_fields, Shape};
use super::super::json::JsonOptions;
use super::CloudFilesOptions;

pub fn json_options(opts: &CloudFilesOptions) -> PlanResult<JsonOptions> {
    JsonOptions::new(&opts.format_options())
}

pub fn csv_options(opts: &CloudFilesOptions, time_zone: &str) -> PlanResult<CsvOptions> {
    CsvOptions::new(&opts.format_options(), time_zone)
}

/// The inferred data columns of `files` (in Spark's order for the format).
pub fn data_fields(
    files: &[PathBuf],
    opts: &CloudFilesOptions,
    time_zone: &str,
) -> PlanResult<Vec<Field>> {
    match opts.format.as_str() {
        "json" => {
            let o = json_options(opts)?;
            let facts = scan_files(files, &o)?;
            check_failfast(&facts, &o)?;
            let merged = merged_shape(&facts);
            let mut out: Vec<Field> = vec![];
            if let Shape::Struct(fields) = &merged {
                // Names differing only by case are one column (the other spellings are
                // rescued when read).
                for f in sorted_fields(fields, !opts.infer_column_types).iter() {
                    if !out.iter().any(|o| o.name().eq_ignore_ascii_case(f.name())) {
                        out.push(f.as_ref().clone());
                    }
                }
            }
            Ok(out)
        }
        "csv" => {
            let o = csv_options(opts, time_zone)?;
            let mut out: Vec<(String, DataType)> = vec![];
            for file in files {
                for (name, ty) in csv_columns(file, &o, opts)? {
                    merge_named(&mut out, name, ty, spark_csv::merge);
                }
            }
            Ok(out
                .into_iter()
                .map(|(n, t)| Field::new(n, csv_final(t), true))
                .collect())
        }
        "parquet" => {
            let mut out: Vec<(String, DataType)> = vec![];
            for file in files {
                for f in parquet_schema(file, time_zone)?.fields() {
                    merge_named(&mut out, f.name().clone(), f.data_type().clone(), widest);
                }
            }
            Ok(out
                .into_iter()
                .map(|(n, t)| Field::new(n, t, true))
                .collect())
        }
        "text" => Ok(vec![Field::new("value", DataType::Utf8, true)]),
        "binaryfile" => Ok(binary_fields(time_zone)),
        other => Err(PlanError::unsupported(format!(
            "cloudFiles.format `{other}`"
        ))),
    }
}

/// Spark's `binaryFile` columns.
pub fn binary_fields(time_zone: &str) -> Vec<Field> {
    vec![
        Field::new("path", DataType::Utf8, false),
        Field::new("modificationTime", timestamp_type(time_zone), false),
        Field::new("length", DataType::Int64, false),
        Field::new("content", DataType::Binary, true),
    ]
}

fn check_failfast(facts: &[Facts], o: &JsonOptions) -> PlanResult<()> {
    if o.mode == Mode::FailFast && facts.iter().any(|f| f.malformed > 0) {
        return Err(convert::execution(format!(
            "[MALFORMED_RECORD_IN_PARSING.WITHOUT_SUGGESTION] Malformed records are detected in record parsing: {}.\nParse Mode: FAILFAST. To process malformed records as null result, try setting the option 'mode' as 'PERMISSIVE'.  SQLSTATE: 22023",
            o.corrupt_column
        )));
    }
    Ok(())
}

fn merged_shape(facts: &[Facts]) -> Shape {
    let mut merged = Shape::Null;
    for f in facts {
        merged.merge(f.shape.clone());
    }
    merged
}

/// Adds `name` with `ty` to `out`, merging with a column of the same name (ignoring case,
/// as the columns end up in one case-insensitive table).
fn merge_named(
    out: &mut Vec<(String, DataType)>,
    name: String,
    ty: DataType,
    merge: impl Fn(&DataType, &DataType) -> DataType,
) {
    match out.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(&name)) {
        Some((_, existing)) => *existing = merge(existing, &ty),
        None => out.push((name, ty)),
    }
}

fn csv_final(t: DataType) -> DataType {
    if t == DataType::Null {
        DataType::Utf8
    } else {
        t
    }
}

/// One CSV file's columns: names from its header (or `_c<i>`), types strings or, with
/// `inferColumnTypes`, Spark's inference over its values.
pub fn csv_columns(
    file: &std::path::Path,
    o: &CsvOptions,
    opts: &CloudFilesOptions,
) -> PlanResult<Vec<(String, DataType)>> {
    let text = files::read_text(file)?;
    let mut recs = spark_csv::records(&text, o);
    let header = if opts.csv_header() && !recs.is_empty() {
        Some(recs.remove(0).fields)
    } else {
        None
    };
    let width = header
        .as_ref()
        .map(Vec::len)
        .or_else(|| recs.first().map(|r| r.fields.len()))
        .unwrap_or(0);
    let names = spark_csv::column_names(header.as_ref(), width);
    let mut types = vec![DataType::Null; width];
    if opts.infer_column_types {
        for rec in &recs {
            for (ty, cell) in types.iter_mut().zip(&rec.fields) {
                if let Some(t) = cell.as_deref().filter(|t| *t != o.null_value) {
                    *ty = spark_csv::merge(ty, &spark_csv::infer_cell(t, o));
                }
            }
        }
    } else {
        types = vec![DataType::Utf8; width];
    }
    Ok(names.into_iter().zip(types).collect())
}

/// A Parquet file's columns in the types Spark reads them as.
pub fn parquet_schema(file: &std::path::Path, time_zone: &str) -> PlanResult<Schema> {
    let handle = std::fs::File::open(file).map_err(|e| files::io_error(file, e))?;
    let builder =
        datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(handle)
            .map_err(|e| {
                PlanError::analysis(format!(
                    "Cannot read the Parquet file {}: {e}",
                    files::absolute(file)
                ))
            })?;
    let fields: Vec<Field> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| Field::new(f.name(), spark_type(f.data_type(), time_zone), true))
        .collect();
    Ok(Schema::new(fields))
}

/// The Spark type an Arrow type from a Parquet file reads as.
pub fn spark_type(ty: &DataType, time_zone: &str) -> DataType {
    use DataType::*;
    match ty {
        UInt8 => Int16,
        UInt16 => Int32,
        UInt32 => Int64,
        UInt64 => Decimal128(20, 0),
        Float16 => Float32,
        LargeUtf8 | Utf8View => Utf8,
        LargeBinary | BinaryView | FixedSizeBinary(_) => Binary,
        Date64 => Date32,
        Timestamp(_, Some(_)) => timestamp_type(time_zone),
        Timestamp(_, None) => Timestamp(TimeUnit::Microsecond, None),
        Dictionary(_, value) => spark_type(value, time_zone),
        List(f) | LargeList(f) | ListView(f) | LargeListView(f) | FixedSizeList(f, _) => {
            list_type(spark_type(f.data_type(), time_zone), true)
        }
        Struct(fields) => Struct(Fields::from(
            fields
                .iter()
                .map(|f| Field::new(f.name(), spark_type(f.data_type(), time_zone), true))
                .collect::<Vec<_>>(),
        )),
        Map(entries, _) => match entries.data_type() {
            Struct(kv) if kv.len() == 2 => map_type(
                spark_type(kv[0].data_type(), time_zone),
                spark_type(kv[1].data_type(), time_zone),
                true,
            ),
            _ => ty.clone(),
        },
        other => other.clone(),
    }
}

/// The type both Parquet columns read as: the wider number, merged structs, else the
/// first (values of the other type are rescued when read).
pub fn widest(a: &DataType, b: &DataType) -> DataType {
    use DataType::*;
    let rank = |t: &DataType| match t {
        Int8 => Some(1),
        Int16 => Some(2),
        Int32 => Some(3),
        Int64 => Some(4),
        Float32 => Some(5),
        Float64 => Some(6),
        _ => None,
    };
    match (a, b) {
        (a, b) if a == b => a.clone(),
        (Null, t) | (t, Null) => t.clone(),
        (Struct(x), Struct(y)) => {
            let mut fields: Vec<(String, DataType)> = x
                .iter()
                .map(|f| (f.name().clone(), f.data_type().clone()))
                .collect();
            for f in y.iter() {
                merge_named(&mut fields, f.name().clone(), f.data_type().clone(), widest);
            }
            Struct(Fields::from(
                fields
                    .into_iter()
                    .map(|(n, t)| Field::new(n, t, true))
                    .collect::<Vec<_>>(),
            ))
        }
        (List(x), List(y)) => list_type(widest(x.data_type(), y.data_type()), true),
        _ => match (rank(a), rank(b)) {
            // Integers wider than float32's mantissa widen to double.
            (Some(5), Some(3 | 4)) | (Some(3 | 4), Some(5)) => Float64,
            (Some(x), Some(y)) if y > x => b.clone(),
            _ => a.clone(),
        },
    }
}

/// Top-level columns of `files` that `schema` lacks (compared ignoring case), in the order
/// the files show them, typed as inference would type them.
pub fn new_fields(
    schema: &Schema,
    files: &[PathBuf],
    opts: &CloudFilesOptions,
    time_zone: &str,
) -> PlanResult<Vec<Field>> {
    let known = |name: &str| {
        schema
            .fields()
            .iter()
            .any(|f| f.name().eq_ignore_ascii_case(name))
    };
    let mut found: Vec<(String, DataType)> = vec![];
    match opts.format.as_str() {
        "json" => {
            let o = json_options(opts)?;
            let facts = scan_files(files, &o)?;
            let mut shapes: Vec<(String, Shape)> = vec![];
            for f in &facts {
                if let Shape::Struct(fields) = &f.shape {
                    for (name, shape) in fields.iter().filter(|(n, _)| !n.is_empty() && !known(n)) {
                        match shapes
                            .iter_mut()
                            .find(|(n, _)| n.eq_ignore_ascii_case(name))
                        {
                            Some((_, s)) => s.merge(shape.clone()),
                            None => shapes.push((name.clone(), shape.clone())),
                        }
                    }
                }
            }
            for (name, shape) in shapes {
                if let Some(ty) = shape.data_type(!opts.infer_column_types) {
                    found.push((name, ty));
                }
            }
        }
        "csv" => {
            let o = csv_options(opts, time_zone)?;
            for file in files {
                for (name, ty) in csv_columns(file, &o, opts)? {
                    if !known(&name) {
                        merge_named(&mut found, name, ty, spark_csv::merge);
                    }
                }
            }
            for (_, t) in found.iter_mut() {
                *t = csv_final(t.clone());
            }
        }
        "parquet" => {
            for file in files {
                for f in parquet_schema(file, time_zone)?.fields() {
                    if !known(f.name()) {
                        merge_named(&mut found, f.name().clone(), f.data_type().clone(), widest);
                    }
                }
            }
        }
        _ => {}
    }
    Ok(found
        .into_iter()
        .map(|(n, t)| Field::new(n, t, true))
        .collect())
}
