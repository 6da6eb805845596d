//! `spark.read.json`: JSON Lines (or one document per file with multiLine), Spark's schema
//! inference (fields sorted by name, conflicting types become strings, `_corrupt_record` first
//! when some record does not parse) and the parse modes.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use planner::PlanResult;
use serde_json::{Map, Value};

use super::convert::{self, Formats, Mode};

pub(crate) mod cache;
mod decode;
mod flat;
pub(crate) mod infer;
pub(crate) mod scan;
pub(crate) mod shape;

pub use decode::JsonDecoder;

#[derive(Debug, Clone)]
pub struct JsonOptions {
    pub(crate) multi_line: bool,
    primitives_as_string: bool,
    pub(crate) mode: Mode,
    formats: Formats,
    pub(crate) corrupt_column: String,
}

impl JsonOptions {
    pub fn new(options: &HashMap<String, String>) -> PlanResult<JsonOptions> {
        let flag = |k: &str| {
            options
                .get(k)
                .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        };
        Ok(JsonOptions {
            multi_line: flag("multiline"),
            primitives_as_string: flag("primitivesasstring"),
            mode: Mode::parse(options.get("mode")),
            formats: Formats::new(options.get("dateformat"), options.get("timestampformat"))?,
            corrupt_column: options
                .get("columnnameofcorruptrecord")
                .cloned()
                .unwrap_or_else(|| "_corrupt_record".into()),
        })
    }
}

/// One input record: its text and its rows (a top-level array holds several), or None if it
/// is not JSON objects.
pub(crate) struct Record<'a> {
    pub(crate) raw: &'a str,
    pub(crate) rows: Option<Vec<Map<String, Value>>>,
}

pub(crate) fn records<'a>(text: &'a str, o: &JsonOptions) -> Vec<Record<'a>> {
    let parse = |raw: &'a str| Record {
        raw,
        rows: serde_json::from_str::<Value>(raw).ok().and_then(objects),
    };
    if o.multi_line {
        if text.trim().is_empty() {
            return vec![];
        }
        return vec![parse(text.trim_end_matches(['\n', '\r']))];
    }
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(parse)
        .collect()
}

fn objects(v: Value) -> Option<Vec<Map<String, Value>>> {
    match v {
        Value::Object(m) => Some(vec![m]),
        // Spark reads a `null` document as a row of NULLs.
        Value::Null => Some(vec![Map::new()]),
        Value::Array(items) => items
            .into_iter()
            .map(|i| match i {
                Value::Object(m) => Some(m),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// Spark's error when FAILFAST inference meets a record that is not JSON.
fn malformed_in_inference(o: &JsonOptions) -> planner::PlanError {
    convert::execution(format!(
        "[MALFORMED_RECORD_IN_PARSING.WITHOUT_SUGGESTION] Malformed records are detected in record parsing: {}.\nParse Mode: FAILFAST. To process malformed records as null result, try setting the option 'mode' as 'PERMISSIVE'.  SQLSTATE: 22023",
        o.corrupt_column
    ))
}

/// The schema of a read: the given one, or Spark's inference over every file; with the
/// decoder that reads the files at execution.
pub fn decoder(
    paths: &[PathBuf],
    schema: Option<SchemaRef>,
    o: &JsonOptions,
) -> PlanResult<JsonDecoder> {
    Ok(match schema {
        Some(s) => JsonDecoder::new(s, o.clone()),
        None => {
            let facts = infer::scan_files(paths, o)?;
            let schema = infer::schema(&facts, o)?;
            JsonDecoder::new(schema, o.clone())
        }
    })
}

/// One file's text through the per-row reader: Spark's conversions, parse modes and corrupt
/// column.
fn convert_text(
    text: &str,
    path: &Path,
    schema: &SchemaRef,
    o: &JsonOptions,
) -> PlanResult<RecordBatch> {
    convert_file(&records(text, o), path, schema, o)
}

fn convert_file(
    recs: &[Record<'_>],
    path: &Path,
    schema: &SchemaRef,
    o: &JsonOptions,
) -> PlanResult<RecordBatch> {
    let corrupt = schema
        .fields()
        .iter()
        .find(|f| f.name() == &o.corrupt_column && f.data_type() == &DataType::Utf8);
    let mut out = vec![];
    for rec in recs {
        let parsed: Vec<(Map<String, Value>, bool)> = match &rec.rows {
            Some(rows) => rows.iter().map(|r| typed_row(r, schema, o)).collect(),
            None => vec![(Map::new(), true)],
        };
        for (mut row, malformed) in parsed {
            if malformed {
                match o.mode {
                    Mode::FailFast => return Err(convert::failed_read_file(path)),
                    Mode::DropMalformed => continue,
                    Mode::Permissive => {
                        if let Some(c) = corrupt {
                            row.insert(c.name().clone(), Value::String(rec.raw.to_string()));
                        }
                    }
                }
            }
            out.push(row);
        }
    }
    convert::to_batch(schema, &out)
}

/// The row's fields converted to the schema's types; fields that do not convert are left
/// NULL (Spark's partial result) and mark the row malformed.
fn typed_row(
    row: &Map<String, Value>,
    schema: &SchemaRef,
    o: &JsonOptions,
) -> (Map<String, Value>, bool) {
    let mut out = Map::new();
    let mut malformed = false;
    for field in schema.fields() {
        let Some(v) = row.get(field.name()) else {
            continue;
        };
        match typed(v, field.data_type(), o) {
            Some(Value::Null) => {}
            Some(v) => {
                out.insert(field.name().clone(), v);
            }
            None => malformed = true,
        }
    }
    (out, malformed)
}

/// `v` as a value of `ty` the way Spark's JacksonParser converts it; None if it cannot.
pub(crate) fn typed(v: &Value, ty: &DataType, o: &JsonOptions) -> Option<Value> {
    use DataType::*;
    let int = |min: i64, max: i64| {
        v.as_i64()
            .filter(|i| (min..=max).contains(i))
            .map(Value::from)
    };
    match (ty, v) {
        (_, Value::Null) => Some(Value::Null),
        (Utf8 | LargeUtf8 | Utf8View, Value::String(_)) => Some(v.clone()),
        // A string column takes any JSON as its text.
        (Utf8 | LargeUtf8 | Utf8View, _) => Some(Value::String(v.to_string())),
        (Int8, _) => int(i8::MIN.into(), i8::MAX.into()),
        (Int16, _) => int(i16::MIN.into(), i16::MAX.into()),
        (Int32, _) => int(i32::MIN.into(), i32::MAX.into()),
        (Int64, _) => int(i64::MIN, i64::MAX),
        (Float32 | Float64, Value::Number(n)) => n.as_f64().map(convert::double_value),
        (Float32 | Float64, Value::String(s)) => [
            "NaN",
            "Infinity",
            "+Infinity",
            "-Infinity",
            "INF",
            "+INF",
            "-INF",
        ]
        .contains(&s.as_str())
        .then(|| convert::parse_double(&s.replace("INF", "Inf")))
        .flatten()
        .map(convert::double_value),
        (Boolean, Value::Bool(_)) => Some(v.clone()),
        (Decimal128(..) | Decimal256(..), Value::Number(n)) => Some(Value::String(n.to_string())),
        (Date32 | Date64, Value::String(s)) => o.formats.date(s).map(Value::String),
        (Timestamp(..), Value::String(s)) => o.formats.timestamp(s).map(Value::String),
        // Whole seconds since the epoch, in the column's unit.
        (Timestamp(unit, _), Value::Number(n)) => n
            .as_i64()
            .and_then(|s| s.checked_mul(per_second(unit)))
            .map(Value::from),
        (List(f), Value::Array(items)) => items
            .iter()
            .map(|i| typed(i, f.data_type(), o))
            .collect::<Option<Vec<_>>>()
            .map(Value::Array),
        (Struct(fields), Value::Object(m)) => {
            let mut out = serde_json::Map::new();
            for f in fields.iter() {
                if let Some(x) = m.get(f.name()) {
                    out.insert(f.name().clone(), typed(x, f.data_type(), o)?);
                }
            }
            Some(Value::Object(out))
        }
        (Map(entries, _), Value::Object(m)) => {
            let DataType::Struct(kv) = entries.data_type() else {
                return None;
            };
            let value_type = kv.get(1)?.data_type();
            m.iter()
                .map(|(k, x)| typed(x, value_type, o).map(|x| (k.clone(), x)))
                .collect::<Option<serde_json::Map<_, _>>>()
                .map(Value::Object)
        }
        _ => None,
    }
}

fn per_second(unit: &TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => 1,
        TimeUnit::Millisecond => 1_000,
        TimeUnit::Microsecond => 1_000_000,
        TimeUnit::Nanosecond => 1_000_000_000,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(pairs: &[(&str, &str)]) -> JsonOptions {
        JsonOptions::new(
            &pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn conversion_is_partial() {
        let o = options(&[]);
        let schema = std::sync::Arc::new(arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new("a", DataType::Int32, true),
            arrow::datatypes::Field::new("b", DataType::Utf8, true),
        ]));
        let row =
            serde_json::from_str::<Map<String, Value>>("{\"a\": \"three\", \"b\": \"z\"}").unwrap();
        let (typed, malformed) = typed_row(&row, &schema, &o);
        assert!(malformed);
        assert_eq!(typed.get("b"), Some(&Value::String("z".into())));
        assert_eq!(typed.get("a"), None);
    }
}
