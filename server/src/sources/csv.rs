//! `spark.read.csv`: a small parser with univocity's behaviour as Spark configures it (escape
//! `\`, an unescaped quote inside a quoted field makes the field plain text up to the next
//! delimiter), Spark's schema inference and the PERMISSIVE / DROPMALFORMED / FAILFAST modes.
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use planner::{PlanError, PlanResult};
use serde_json::{Map, Value};

use super::convert::{self, Formats, Mode};
use super::exec::{self, FileDecoder};
use super::{files, plan_to_df};

/// The CSV options Spark users set, with Spark's defaults.
#[derive(Debug, Clone)]
pub struct CsvOptions {
    pub(crate) header: bool,
    infer_schema: bool,
    sep: u8,
    quote: u8,
    escape: u8,
    pub(crate) null_value: String,
    multi_line: bool,
    pub(crate) mode: Mode,
    pub(crate) formats: Formats,
    pub(crate) corrupt_column: String,
    time_zone: String,
}

/// A one-byte option (`sep`, `quote`, `escape`); Spark allows longer separators, sluice does not.
fn single_byte(options: &HashMap<String, String>, keys: &[&str], default: u8) -> PlanResult<u8> {
    let Some((key, value)) = keys.iter().find_map(|k| options.get(*k).map(|v| (*k, v))) else {
        return Ok(default);
    };
    let value = if key != "escape" && value == "\\t" {
        "\t"
    } else {
        value.as_str()
    };
    match value.as_bytes() {
        [b] if b.is_ascii() => Ok(*b),
        // Spark's way to switch quoting off.
        [] if key == "quote" => Ok(0),
        _ => Err(PlanError::unsupported(format!(
            "the CSV option {key}={value:?} (only one ASCII character)"
        ))),
    }
}

impl CsvOptions {
    pub fn new(options: &HashMap<String, String>, time_zone: &str) -> PlanResult<CsvOptions> {
        let flag = |k: &str| {
            options
                .get(k)
                .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        };
        Ok(CsvOptions {
            header: flag("header"),
            infer_schema: flag("inferschema"),
            sep: single_byte(options, &["sep", "delimiter"], b',')?,
            quote: single_byte(options, &["quote"], b'"')?,
            escape: single_byte(options, &["escape"], b'\\')?,
            null_value: options.get("nullvalue").cloned().unwrap_or_default(),
            multi_line: flag("multiline"),
            mode: Mode::parse(options.get("mode")),
            formats: Formats::new(options.get("dateformat"), options.get("timestampformat"))?,
            corrupt_column: options
                .get("columnnameofcorruptrecord")
                .cloned()
                .unwrap_or_else(|| "_corrupt_record".into()),
            time_zone: time_zone.to_string(),
        })
    }
}

/// One parsed record: its text and its fields (None for an empty unquoted field).
pub(crate) struct Record<'a> {
    pub(crate) raw: &'a str,
    pub(crate) fields: Vec<Option<String>>,
}

/// Splits `text` into records; without multiLine every line is parsed on its own.
pub(crate) fn records<'a>(text: &'a str, o: &CsvOptions) -> Vec<Record<'a>> {
    let mut out = vec![];
    let mut start = 0;
    while start < text.len() {
        let (fields, content_end, next) = if o.multi_line {
            parse_record(text, start, o)
        } else {
            let line_end = text[start..]
                .find(['\n', '\r'])
                .map_or(text.len(), |p| start + p);
            let (fields, end, _) = parse_record(&text[..line_end], start, o);
            (fields, end, skip_newline(text, line_end))
        };
        let raw = &text[start..content_end];
        // Spark skips blank lines.
        if !raw.is_empty() {
            out.push(Record { raw, fields });
        }
        start = next.max(start + 1);
    }
    out
}

fn skip_newline(text: &str, at: usize) -> usize {
    match text.as_bytes().get(at..at + 2) {
        Some(b"\r\n") => at + 2,
        _ if at < text.len() => at + 1,
        _ => at,
    }
}

/// Parses the record starting at `start`: its fields, where its content ends, where the next starts.
fn parse_record(text: &str, start: usize, o: &CsvOptions) -> (Vec<Option<String>>, usize, usize) {
    let b = text.as_bytes();
    let at_end = |i: usize| i >= b.len() || b[i] == o.sep || b[i] == b'\n' || b[i] == b'\r';
    let plain_end = |from: usize| (from..b.len()).find(|&i| at_end(i)).unwrap_or(b.len());
    let mut fields = vec![];
    let mut i = start;
    loop {
        if o.quote != 0 && i < b.len() && b[i] == o.quote {
            let (value, end) = quoted_field(text, i, o).unwrap_or_else(|| {
                // An unescaped quote inside: univocity's STOP_AT_DELIMITER reads the field as plain text.
                let end = plain_end(i);
                (text[i..end].to_string(), end)
            });
            fields.push(Some(value));
            i = end;
        } else {
            let end = plain_end(i);
            fields.push(Some(text[i..end].to_string()).filter(|v| !v.is_empty()));
            i = end;
        }
        if i < b.len() && b[i] == o.sep {
            i += 1;
            continue;
        }
        break;
    }
    (fields, i, skip_newline(text, i))
}

/// The quoted field at `start` and the index after its closing quote; None when a quote
/// inside it is neither escaped nor followed by a delimiter or line end.
fn quoted_field(text: &str, start: usize, o: &CsvOptions) -> Option<(String, usize)> {
    let b = text.as_bytes();
    let mut value = String::new();
    let mut segment = start + 1;
    let mut j = start + 1;
    while j < b.len() {
        let next = b.get(j + 1).copied();
        if b[j] == o.escape
            && o.escape != o.quote
            && (next == Some(o.quote) || next == Some(o.escape))
        {
            value.push_str(&text[segment..j]);
            segment = j + 1;
            j += 2;
            continue;
        }
        if b[j] == o.quote {
            if next.is_none_or(|n| n == o.sep || n == b'\n' || n == b'\r') {
                value.push_str(&text[segment..j]);
                return Some((value, j + 1));
            }
            if o.escape == o.quote && next == Some(o.quote) {
                value.push_str(&text[segment..j]);
                segment = j + 1;
                j += 2;
                continue;
            }
            return None;
        }
        j += 1;
    }
    // No closing quote: the rest of the input is the value.
    value.push_str(&text[segment..]);
    Some((value, b.len()))
}

/// The files' texts as records; with `header` the first record of every file is its header.
struct Parsed<'a> {
    header: Option<Vec<Option<String>>>,
    files: Vec<Vec<Record<'a>>>,
}

fn parse_all<'a>(texts: &'a [String], o: &CsvOptions) -> Parsed<'a> {
    let mut header = None;
    let mut files = vec![];
    for text in texts {
        let mut recs = records(text, o);
        if o.header && !recs.is_empty() {
            let first = recs.remove(0);
            header.get_or_insert(first.fields);
        }
        files.push(recs);
    }
    Parsed { header, files }
}

/// The schema Spark gives a CSV read without one: names from the header or `_c<i>`, strings
/// unless `inferSchema`.
fn infer(parsed: &Parsed<'_>, o: &CsvOptions) -> SchemaRef {
    let first = parsed
        .header
        .as_ref()
        .or_else(|| parsed.files.iter().flatten().next().map(|r| &r.fields));
    let width = first.map_or(0, Vec::len);
    let mut types = vec![DataType::Null; width];
    if o.infer_schema {
        for record in parsed.files.iter().flatten() {
            for (ty, cell) in types.iter_mut().zip(&record.fields) {
                if let Some(text) = cell.as_deref().filter(|t| *t != o.null_value) {
                    *ty = merge(ty, &infer_cell(text, o));
                }
            }
        }
    }
    let names = column_names(parsed.header.as_ref(), width);
    let fields: Vec<Field> = names
        .into_iter()
        .zip(types)
        .map(|(n, t)| {
            Field::new(
                n,
                if t == DataType::Null {
                    DataType::Utf8
                } else {
                    t
                },
                true,
            )
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// Header names (`_c<i>` for blanks or without a header); repeated names get their index appended.
pub(crate) fn column_names(header: Option<&Vec<Option<String>>>, width: usize) -> Vec<String> {
    let raw: Vec<String> = (0..width)
        .map(|i| {
            header
                .and_then(|h| h.get(i).cloned().flatten())
                .unwrap_or_else(|| format!("_c{i}"))
        })
        .collect();
    let mut seen = HashSet::new();
    let duplicated: HashSet<String> = raw
        .iter()
        .map(|n| n.to_lowercase())
        .filter(|n| !seen.insert(n.clone()))
        .collect();
    raw.into_iter()
        .enumerate()
        .map(|(i, n)| {
            if duplicated.contains(&n.to_lowercase()) {
                format!("{n}{i}")
            } else {
                n
            }
        })
        .collect()
}

/// Spark's `CSVInferSchema.inferField` for one value: int, bigint, double, date, timestamp, boolean, string.
pub(crate) fn infer_cell(text: &str, o: &CsvOptions) -> DataType {
    if text.parse::<i32>().is_ok() {
        DataType::Int32
    } else if text.parse::<i64>().is_ok() {
        DataType::Int64
    } else if convert::parse_double(text).is_some() {
        DataType::Float64
    } else if o.formats.date(text).is_some() {
        DataType::Date32
    } else if o.formats.timestamp(text).is_some() {
        DataType::Timestamp(TimeUnit::Microsecond, Some(o.time_zone.as_str().into()))
    } else if text.eq_ignore_ascii_case("true") || text.eq_ignore_ascii_case("false") {
        DataType::Boolean
    } else {
        DataType::Utf8
    }
}

/// Spark's `compatibleType` for inferred CSV columns.
pub(crate) fn merge(a: &DataType, b: &DataType) -> DataType {
    use DataType::*;
    match (a, b) {
        (Null, t) | (t, Null) => t.clone(),
        (a, b) if a == b => a.clone(),
        (Int32, Int64) | (Int64, Int32) => Int64,
        (Int32 | Int64 | Float64, Int32 | Int64 | Float64) => Float64,
        (Date32, t @ Timestamp(..)) | (t @ Timestamp(..), Date32) => t.clone(),
        _ => Utf8,
    }
}

/// The schema of a read: the given one, or the one Spark infers from every file.
pub fn schema(
    paths: &[PathBuf],
    schema: Option<SchemaRef>,
    o: &CsvOptions,
) -> PlanResult<SchemaRef> {
    if let Some(s) = schema {
        return Ok(s);
    }
    let texts = paths
        .iter()
        .map(|p| files::read_text(p))
        .collect::<PlanResult<Vec<_>>>()?;
    Ok(infer(&parse_all(&texts, o), o))
}

/// Reads CSV files at execution, one file at a time.
#[derive(Debug)]
pub struct CsvDecoder {
    pub schema: SchemaRef,
    pub options: CsvOptions,
}

impl FileDecoder for CsvDecoder {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn decode(
        &self,
        file: &Path,
        projection: &[usize],
        emit: &mut dyn FnMut(RecordBatch) -> datafusion::common::Result<()>,
    ) -> datafusion::common::Result<()> {
        let text = files::read_text(file).map_err(plan_to_df)?;
        let parsed = parse_all(std::slice::from_ref(&text), &self.options);
        let recs = parsed.files.first().map_or(&[][..], Vec::as_slice);
        let batch = convert_file(recs, file, &self.schema, &self.options).map_err(plan_to_df)?;
        emit(exec::project(&batch, projection)?)
    }
}

/// Typed rows of one file, applying the parse mode to records that do not fit `schema`.
fn convert_file(
    recs: &[Record<'_>],
    path: &Path,
    schema: &SchemaRef,
    o: &CsvOptions,
) -> PlanResult<RecordBatch> {
    let corrupt = schema
        .fields()
        .iter()
        .find(|f| f.name() == &o.corrupt_column && f.data_type() == &DataType::Utf8);
    let data: Vec<&Arc<Field>> = schema
        .fields()
        .iter()
        .filter(|f| Some(*f) != corrupt)
        .collect();
    let mut rows = Vec::with_capacity(recs.len());
    for rec in recs {
        let mut row = Map::new();
        let mut malformed = rec.fields.len() != data.len();
        for (field, cell) in data
            .iter()
            .zip(rec.fields.iter().map(Some).chain(std::iter::repeat(None)))
        {
            let Some(text) = cell
                .and_then(|c| c.as_deref())
                .filter(|t| *t != o.null_value)
            else {
                continue;
            };
            match convert::parse_text(text, field.data_type(), &o.formats) {
                Some(v) => {
                    row.insert(field.name().clone(), v);
                }
                None => malformed = true,
            }
        }
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
        rows.push(row);
    }
    convert::to_batch(schema, &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(pairs: &[(&str, &str)]) -> CsvOptions {
        let map = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        CsvOptions::new(&map, "UTC").unwrap()
    }

    fn fields(text: &str, o: &CsvOptions) -> Vec<Vec<Option<String>>> {
        records(text, o).into_iter().map(|r| r.fields).collect()
    }

    #[test]
    fn quoting_like_univocity() {
        let o = options(&[]);
        let s = |v: &str| Some(v.to_string());
        assert_eq!(
            fields("1,\"c, d\",,x\n", &o),
            vec![vec![s("1"), s("c, d"), None, s("x")]]
        );
        assert_eq!(
            fields("2,\"say \"\"hi\"\"\"\n", &o),
            vec![vec![s("2"), s("\"say \"\"hi\"\"\"")]]
        );
        assert_eq!(fields("\"a\\\"b\"\n\n", &o), vec![vec![s("a\"b")]]);
        let ml = options(&[("multiline", "true")]);
        assert_eq!(
            fields("1,\"one\ntwo\"\n2,x", &ml),
            vec![vec![s("1"), s("one\ntwo")], vec![s("2"), s("x")]]
        );
    }

    #[test]
    fn inference() {
        let o = options(&[("inferschema", "true")]);
        assert_eq!(infer_cell("10000000000", &o), DataType::Int64);
        assert_eq!(
            merge(&DataType::Int32, &DataType::Float64),
            DataType::Float64
        );
        assert_eq!(infer_cell("2024-01-01", &o), DataType::Date32);
        assert_eq!(column_names(None, 2), vec!["_c0", "_c1"]);
    }
}
