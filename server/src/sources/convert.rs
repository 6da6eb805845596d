//! What the CSV and JSON readers share: parse modes, Spark's text-to-value rules, and turning
//! checked rows into Arrow batches (through arrow-json's decoder, fed with values that already
//! match the target types, so it never sees a conflict).
use std::path::Path;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, SchemaRef};
use chrono::{NaiveDate, NaiveDateTime};
use datafusion::error::DataFusionError;
use planner::{PlanError, PlanResult};
use serde_json::{Map, Number, Value};

/// Spark's `mode` option: what to do with a record that does not fit the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Keep the record: fields that do not parse are NULL, the raw text goes to the corrupt column.
    Permissive,
    DropMalformed,
    FailFast,
}

impl Mode {
    pub fn parse(option: Option<&String>) -> Mode {
        match option.map(|m| m.to_ascii_uppercase()).as_deref() {
            Some("DROPMALFORMED") => Mode::DropMalformed,
            Some("FAILFAST") => Mode::FailFast,
            _ => Mode::Permissive,
        }
    }
}

/// Spark's error when FAILFAST meets a bad record in a file (a SparkException, KD001).
pub fn failed_read_file(path: &Path) -> PlanError {
    execution(format!(
        "[FAILED_READ_FILE.NO_HINT] Encountered error while reading file file://{}.  SQLSTATE: KD001",
        super::files::absolute(path)
    ))
}

/// Errors that Spark raises while running (not analysing) carry their class in the text;
/// the server maps them from DataFusion's execution error.
pub fn execution(message: String) -> PlanError {
    PlanError::DataFusion(DataFusionError::Execution(message))
}

/// Date and timestamp patterns (`dateFormat`, `timestampFormat`) in chrono's syntax.
#[derive(Debug, Clone, Default)]
pub struct Formats {
    pub date: Option<String>,
    pub timestamp: Option<String>,
}

impl Formats {
    pub fn new(date: Option<&String>, timestamp: Option<&String>) -> PlanResult<Formats> {
        Ok(Formats {
            date: date.map(|p| java_to_chrono(p)).transpose()?,
            timestamp: timestamp.map(|p| java_to_chrono(p)).transpose()?,
        })
    }

    /// The date in `s` as `yyyy-MM-dd`.
    pub fn date(&self, s: &str) -> Option<String> {
        let format = self.date.as_deref().unwrap_or("%Y-%m-%d");
        NaiveDate::parse_from_str(s, format)
            .ok()
            .map(|d| d.format("%Y-%m-%d").to_string())
    }

    /// The timestamp in `s`, in a form arrow's parser reads (ISO 8601, zone kept if given).
    pub fn timestamp(&self, s: &str) -> Option<String> {
        match &self.timestamp {
            Some(f) => NaiveDateTime::parse_from_str(s, f)
                .ok()
                .or_else(|| {
                    NaiveDate::parse_from_str(s, f)
                        .ok()
                        .and_then(|d| d.and_hms_opt(0, 0, 0))
                })
                .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.f").to_string()),
            None => iso_timestamp(s).then(|| s.to_string()),
        }
    }
}

/// Spark's default timestamp text: `yyyy-MM-dd[( |T)HH:mm[:ss[.S*]]][zone]`.
fn iso_timestamp(s: &str) -> bool {
    let zone_at = s
        .rfind(['Z', '+'])
        .or_else(|| s.get(10..).and_then(|t| t.rfind('-')).map(|i| i + 10));
    let local = zone_at.map_or(s, |i| &s[..i]);
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .any(|f| NaiveDateTime::parse_from_str(local, f).is_ok())
}

/// A Java `DateTimeFormatter` pattern as a chrono format (the letters Spark users write).
fn java_to_chrono(pattern: &str) -> PlanResult<String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let run = chars[i..].iter().take_while(|&&x| x == c).count();
        if c == '\'' {
            let end = chars[i + 1..]
                .iter()
                .position(|&x| x == '\'')
                .map_or(chars.len(), |p| i + 1 + p);
            out.extend(chars[i + 1..end].iter().map(|&x| {
                if x == '%' {
                    "%%".to_string()
                } else {
                    x.to_string()
                }
            }));
            i = end + 1;
            continue;
        }
        let piece = match (c, run) {
            ('y', 2) => "%y".to_string(),
            ('y' | 'u', _) => "%Y".to_string(),
            ('M', 1 | 2) => "%m".to_string(),
            ('M', 3) => "%b".to_string(),
            ('M', _) => "%B".to_string(),
            ('d', _) => "%d".to_string(),
            ('H', _) => "%H".to_string(),
            ('h', _) => "%I".to_string(),
            ('m', _) => "%M".to_string(),
            ('s', _) => "%S".to_string(),
            ('S', n) => format!("%{n}f"),
            ('a', _) => "%p".to_string(),
            ('X' | 'x', 1) | ('Z', _) => "%z".to_string(),
            ('X' | 'x', _) => "%:z".to_string(),
            ('E', _) => "%a".to_string(),
            (c, _) if c.is_ascii_alphabetic() => {
                return Err(PlanError::unsupported(format!(
                    "the pattern letter `{c}` in the date/time format {pattern:?}"
                )))
            }
            ('%', n) => "%%".repeat(n),
            (c, n) => c.to_string().repeat(n),
        };
        out.push_str(&piece);
        i += run;
    }
    Ok(out)
}

/// `text` as a JSON value of Spark type `ty`, following Spark's CSV rules; None if it does not parse.
pub fn parse_text(text: &str, ty: &DataType, formats: &Formats) -> Option<Value> {
    use DataType::*;
    let int = |min: i64, max: i64| {
        text.parse::<i64>()
            .ok()
            .filter(|v| (min..=max).contains(v))
            .map(Value::from)
    };
    match ty {
        Utf8 | LargeUtf8 | Utf8View => Some(Value::String(text.to_string())),
        Int8 => int(i8::MIN.into(), i8::MAX.into()),
        Int16 => int(i16::MIN.into(), i16::MAX.into()),
        Int32 => int(i32::MIN.into(), i32::MAX.into()),
        Int64 => int(i64::MIN, i64::MAX),
        Float32 | Float64 => parse_double(text).map(double_value),
        Boolean => match text.to_ascii_lowercase().as_str() {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => None,
        },
        Decimal128(..) | Decimal256(..) => text
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .map(|_| Value::String(text.to_string())),
        Date32 | Date64 => formats.date(text).map(Value::String),
        Timestamp(..) => formats.timestamp(text).map(Value::String),
        _ => None,
    }
}

/// Java's `Double.parseDouble` plus Spark's `NaN`, `Inf`, `-Inf` spellings.
pub fn parse_double(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "Inf" | "+Inf" | "Infinity" | "+Infinity" => Some(f64::INFINITY),
        "-Inf" | "-Infinity" => Some(f64::NEG_INFINITY),
        t if t
            .chars()
            .any(|c| c.is_ascii_alphabetic() && c != 'e' && c != 'E') =>
        {
            None
        }
        t => t.parse::<f64>().ok(),
    }
}

/// JSON has no NaN or infinities; arrow's float parser reads them from strings.
pub fn double_value(v: f64) -> Value {
    Number::from_f64(v).map(Value::Number).unwrap_or_else(|| {
        Value::String(if v.is_nan() {
            "NaN".into()
        } else if v > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        })
    })
}

/// Rows (objects keyed by column name, values already of the columns' types) as one batch.
pub fn to_batch(schema: &SchemaRef, rows: &[Map<String, Value>]) -> PlanResult<RecordBatch> {
    const CHUNK: usize = 8192;
    let mut batches = vec![];
    let mut decoder = arrow::json::ReaderBuilder::new(schema.clone())
        .with_batch_size(CHUNK)
        .build_decoder()?;
    for chunk in rows.chunks(CHUNK) {
        decoder.serialize(chunk)?;
        batches.extend(decoder.flush()?);
    }
    if batches.is_empty() {
        return Ok(RecordBatch::new_empty(schema.clone()));
    }
    Ok(arrow::compute::concat_batches(schema, &batches)?)
}

/// Spark reads every file column as nullable.
pub fn nullable(schema: &arrow::datatypes::Schema) -> SchemaRef {
    Arc::new(arrow::datatypes::Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect::<Vec<_>>(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_patterns() {
        assert_eq!(java_to_chrono("dd/MM/yyyy").unwrap(), "%d/%m/%Y");
        assert_eq!(
            java_to_chrono("yyyy-MM-dd'T'HH:mm:ss.SSS").unwrap(),
            "%Y-%m-%dT%H:%M:%S.%3f"
        );
        assert!(java_to_chrono("qqq").is_err());
    }

    #[test]
    fn texts() {
        let f = Formats::default();
        assert_eq!(parse_text("10000000000", &DataType::Int32, &f), None);
        assert_eq!(
            parse_text("2024-01-02", &DataType::Date32, &f),
            Some(Value::String("2024-01-02".into()))
        );
        assert!(parse_text(
            "2023-12-31T10:11:12",
            &DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, None),
            &f
        )
        .is_some());
        assert_eq!(parse_text("oops", &DataType::Float64, &f), None);
    }
}
