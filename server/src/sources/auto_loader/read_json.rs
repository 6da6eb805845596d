//! Reading JSON with a rescued data column. What does not fit the schema is kept, not
//! dropped: fields the schema lacks (or names it with another case), values of another type,
//! each under its field name in a JSON object with the record's `_file_path`; NULL when the
//! record fitted. Records that are not JSON at all still follow the parse mode (PERMISSIVE
//! keeps a row of NULLs and fills `columnNameOfCorruptRecord` when the schema has it).
//!
//! Three ways through a file, fastest first: one pass over JSON Lines into flat columns
//! (string, bigint, double, boolean) that falls back per line; the batch reader when the
//! file's scan shows every key known and every value fitting (rescue column all NULL); the
//! per-record reader otherwise.
use std::borrow::Cow;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    new_null_array, ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, RecordBatch,
    RecordBatchOptions, StringBuilder,
};
use arrow::datatypes::{DataType, Fields, Schema, SchemaRef};
use datafusion::common::Result;
use planner::PlanResult;
use serde_json::{Map, Value};

use super::super::convert::{self, Mode};
use super::super::exec::{self, FileDecoder};
use super::super::json::scan::{unescape, Scanner, Step};
use super::super::json::shape::{fits_fields, Shape};
use super::super::json::{self, cache, infer, JsonDecoder, JsonOptions};
use super::super::{files, plan_to_df};
use super::listing::file_uri;

const BATCH_ROWS: usize = 8192;

/// Reads JSON files into data columns plus, last, the rescued data column.
#[derive(Debug)]
pub struct RescueJsonDecoder {
    /// Data columns, then the rescued data column.
    schema: SchemaRef,
    data: SchemaRef,
    options: JsonOptions,
    case_sensitive: bool,
    /// Every data column is string, bigint, double or boolean.
    flat: bool,
    plain: JsonDecoder,
}

impl RescueJsonDecoder {
    /// `data`: the columns read from the files; `rescue`: the rescued data column's name.
    pub fn new(data: SchemaRef, rescue: &str, options: JsonOptions, case_sensitive: bool) -> Self {
        let data = convert::nullable(&data);
        let mut fields: Vec<_> = data.fields().iter().cloned().collect();
        fields.push(Arc::new(arrow::datatypes::Field::new(
            rescue,
            DataType::Utf8,
            true,
        )));
        let flat = data.fields().iter().all(|f| {
            matches!(
                f.data_type(),
                DataType::Utf8 | DataType::Int64 | DataType::Float64 | DataType::Boolean
            )
        });
        RescueJsonDecoder {
            schema: Arc::new(Schema::new(fields)),
            plain: JsonDecoder::new(data.clone(), options.clone()),
            data,
            options,
            case_sensitive,
            flat,
        }
    }

    fn rescue_name(&self) -> &str {
        self.schema
            .fields()
            .last()
            .map_or("_rescued_data", |f| f.name().as_str())
    }

    /// Whether the batch reader reads `text` with nothing to rescue: one object per line,
    /// every key (at every depth) a column of that exact name, every value fitting exactly.
    fn nothing_to_rescue(&self, file: &Path, text: &str) -> bool {
        if self.options.multi_line || !self.case_sensitive {
            return false;
        }
        let facts = cache::facts(file, false, || {
            Ok::<_, ()>(infer::facts_of(text, &self.options))
        })
        .unwrap_or_default();
        facts.simple
            && match &facts.shape {
                Shape::Struct(fields) => {
                    known_fields(fields, self.data.fields())
                        && fits_fields(fields, self.data.fields())
                }
                _ => true,
            }
    }

    /// The per-record reader: the whole file through serde_json.
    fn convert(&self, text: &str, file: &Path) -> PlanResult<RecordBatch> {
        let uri = file_uri(file);
        let mut rows = vec![];
        for rec in json::records(text, &self.options) {
            match &rec.rows {
                Some(records) => {
                    for r in records {
                        rows.push(self.row(r, &uri));
                    }
                }
                None => match self.malformed(rec.raw, file)? {
                    Some(row) => rows.push(row),
                    None => continue,
                },
            }
        }
        convert::to_batch(&self.schema, &rows)
    }

    /// A record that is not JSON: an error, nothing, or a row of NULLs with its text in the
    /// corrupt record column, as the mode says.
    fn malformed(&self, raw: &str, file: &Path) -> PlanResult<Option<Map<String, Value>>> {
        match self.options.mode {
            Mode::FailFast => Err(convert::failed_read_file(file)),
            Mode::DropMalformed => Ok(None),
            Mode::Permissive => {
                let mut row = Map::new();
                if let Some(c) = self.corrupt_column() {
                    row.insert(c.to_string(), Value::String(raw.to_string()));
                } else {
                    // No corrupt record column: the text is kept in the rescue column rather
                    // than lost, under the corrupt record column's name.
                    let mut rescued = Map::new();
                    rescued.insert(
                        self.options.corrupt_column.clone(),
                        Value::String(raw.to_string()),
                    );
                    rescued.insert("_file_path".into(), Value::String(file_uri(file)));
                    row.insert(
                        self.rescue_name().to_string(),
                        Value::String(Value::Object(rescued).to_string()),
                    );
                }
                Ok(Some(row))
            }
        }
    }

    fn corrupt_column(&self) -> Option<&str> {
        self.data
            .fields()
            .iter()
            .find(|f| f.name() == &self.options.corrupt_column && f.data_type() == &DataType::Utf8)
            .map(|f| f.name().as_str())
    }

    /// One record as a row of typed values, with what did not fit in the rescue column.
    fn row(&self, record: &Map<String, Value>, uri: &str) -> Map<String, Value> {
        let mut rescued = Map::new();
        let mut out = fit_object(
            record,
            self.data.fields(),
            self.case_sensitive,
            &self.options,
            &mut rescued,
        );
        if !rescued.is_empty() {
            rescued.insert("_file_path".into(), Value::String(uri.to_string()));
            out.insert(
                self.rescue_name().to_string(),
                Value::String(Value::Object(rescued).to_string()),
            );
        }
        out
    }
}

/// Whether every key of `fields`, at every depth, names a target field exactly.
fn known_fields(fields: &[(String, Shape)], target: &Fields) -> bool {
    fields.iter().all(|(name, shape)| {
        target
            .iter()
            .find(|f| f.name() == name)
            .is_some_and(|f| known(shape, f.data_type()))
    })
}

fn known(shape: &Shape, ty: &DataType) -> bool {
    match (shape, ty) {
        (Shape::Struct(fields), DataType::Struct(target)) => known_fields(fields, target),
        (Shape::List(element), DataType::List(f)) => known(element, f.data_type()),
        _ => true,
    }
}

/// The fields of `object` converted to `fields`' types; what does not fit goes into `rescued`
/// under its own name (structs are fitted field by field, so only the misfits of a nested
/// object are rescued, nested the same way).
fn fit_object(
    object: &Map<String, Value>,
    fields: &Fields,
    case_sensitive: bool,
    o: &JsonOptions,
    rescued: &mut Map<String, Value>,
) -> Map<String, Value> {
    let mut out = Map::new();
    let mut matched = vec![false; fields.len()];
    for (key, value) in object {
        let at = fields.iter().position(|f| f.name() == key).or_else(|| {
            (!case_sensitive)
                .then(|| {
                    fields
                        .iter()
                        .position(|f| f.name().eq_ignore_ascii_case(key))
                })
                .flatten()
        });
        let Some(at) = at.filter(|&i| !matched[i]) else {
            rescued.insert(key.clone(), value.clone());
            continue;
        };
        matched[at] = true;
        let field = &fields[at];
        match (field.data_type(), value) {
            (DataType::Struct(inner), Value::Object(m)) => {
                let mut nested = Map::new();
                let fitted = fit_object(m, inner, case_sensitive, o, &mut nested);
                out.insert(field.name().clone(), Value::Object(fitted));
                if !nested.is_empty() {
                    rescued.insert(key.clone(), Value::Object(nested));
                }
            }
            (ty, v) => match json::typed(v, ty, o) {
                Some(Value::Null) => {}
                Some(t) => {
                    out.insert(field.name().clone(), t);
                }
                None => {
                    rescued.insert(key.clone(), v.clone());
                }
            },
        }
    }
    out
}

impl FileDecoder for RescueJsonDecoder {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn decode(
        &self,
        file: &Path,
        projection: &[usize],
        emit: &mut dyn FnMut(RecordBatch) -> Result<()>,
    ) -> Result<()> {
        let text = files::read_text(file).map_err(plan_to_df)?;
        if self.flat && !self.options.multi_line {
            return FlatReader::new(self, file)
                .read(&text, &mut |batch| emit(exec::project(&batch, projection)?));
        }
        if self.nothing_to_rescue(file, &text) {
            let rescue_at = self.data.fields().len();
            let data: Vec<usize> = projection
                .iter()
                .copied()
                .filter(|&i| i != rescue_at)
                .collect();
            let out_schema = Arc::new(self.schema.project(projection)?);
            return self.plain.decode(file, &data, &mut |batch| {
                let rows = batch.num_rows();
                let mut columns = batch.columns().iter();
                let arrays = projection
                    .iter()
                    .map(|&i| {
                        if i == rescue_at {
                            new_null_array(&DataType::Utf8, rows)
                        } else {
                            columns.next().cloned().unwrap_or_else(|| {
                                new_null_array(self.schema.field(i).data_type(), rows)
                            })
                        }
                    })
                    .collect::<Vec<ArrayRef>>();
                emit(RecordBatch::try_new_with_options(
                    out_schema.clone(),
                    arrays,
                    &RecordBatchOptions::new().with_row_count(Some(rows)),
                )?)
            });
        }
        let batch = self.convert(&text, file).map_err(plan_to_df)?;
        emit(exec::project(&batch, projection)?)
    }
}

/// A value read by the one-pass reader, checked against its column's type.
enum Tok<'a> {
    Null,
    Str(Cow<'a, str>),
    /// A JSON number headed for a string column, as written.
    Num(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
}

enum Column {
    Str(StringBuilder),
    Int(Int64Builder),
    Float(Float64Builder),
    Bool(BooleanBuilder),
}

impl Column {
    fn new(ty: &DataType) -> Column {
        match ty {
            DataType::Int64 => Column::Int(Int64Builder::with_capacity(BATCH_ROWS)),
            DataType::Float64 => Column::Float(Float64Builder::with_capacity(BATCH_ROWS)),
            DataType::Boolean => Column::Bool(BooleanBuilder::with_capacity(BATCH_ROWS)),
            _ => Column::Str(StringBuilder::with_capacity(BATCH_ROWS, BATCH_ROWS * 16)),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Column::Str(b) => Arc::new(b.finish()),
            Column::Int(b) => Arc::new(b.finish()),
            Column::Float(b) => Arc::new(b.finish()),
            Column::Bool(b) => Arc::new(b.finish()),
        }
    }

    fn append_null(&mut self) {
        match self {
            Column::Str(b) => b.append_null(),
            Column::Int(b) => b.append_null(),
            Column::Float(b) => b.append_null(),
            Column::Bool(b) => b.append_null(),
        }
    }

    /// Reads the value at the scanner if it fits this column (Err sends the line to the
    /// per-record reader).
    /// `text` is the line the scanner walks: a slice between ASCII delimiters of a `str` is
    /// already valid UTF-8, so it is taken with a boundary check instead of re-validation.
    fn read<'a>(&self, s: &mut Scanner<'a>, text: &'a str) -> Step<Tok<'a>> {
        s.ws();
        let b = s.b;
        let slice = |from: usize, to: usize| text.get(from..to).ok_or(());
        match (self, s.peek().ok_or(())?) {
            (_, b'n') => {
                if !b[s.i..].starts_with(b"null") {
                    return Err(());
                }
                s.i += 4;
                Ok(Tok::Null)
            }
            (Column::Str(_), b'"') => {
                let (start, end, escaped) = s.string()?;
                let raw = &b[start..end];
                Ok(Tok::Str(if escaped {
                    Cow::Owned(unescape(raw))
                } else {
                    Cow::Borrowed(slice(start, end)?)
                }))
            }
            (Column::Str(_), b'-' | b'0'..=b'9') => {
                let start = s.i;
                s.number()?;
                Ok(Tok::Num(slice(start, s.i)?))
            }
            (Column::Str(_) | Column::Bool(_), b't' | b'f') => {
                let value = b[s.i..].starts_with(b"true");
                let word: &[u8] = if value { b"true" } else { b"false" };
                if !b[s.i..].starts_with(word) {
                    return Err(());
                }
                s.i += word.len();
                Ok(match self {
                    Column::Bool(_) => Tok::Bool(value),
                    _ => Tok::Str(Cow::Borrowed(if value { "true" } else { "false" })),
                })
            }
            // A string column takes nested JSON as its compact text.
            (Column::Str(_), b'{' | b'[') => {
                let start = s.i;
                s.value(&mut Shape::Null, 1)?;
                let value: Value = serde_json::from_slice(&b[start..s.i]).map_err(|_| ())?;
                Ok(Tok::Str(Cow::Owned(value.to_string())))
            }
            (Column::Int(_), b'-' | b'0'..=b'9') => {
                let start = s.i;
                if s.number()? != Shape::Int {
                    return Err(());
                }
                Ok(Tok::Int(slice(start, s.i)?.parse().map_err(|_| ())?))
            }
            (Column::Float(_), b'-' | b'0'..=b'9') => {
                let start = s.i;
                s.number()?;
                Ok(Tok::Float(slice(start, s.i)?.parse().map_err(|_| ())?))
            }
            _ => Err(()),
        }
    }

    fn append(&mut self, tok: &Tok<'_>) {
        match (self, tok) {
            (c, Tok::Null) => c.append_null(),
            (Column::Str(b), Tok::Str(s)) => b.append_value(s),
            (Column::Str(b), Tok::Num(text)) => append_number_text(b, text),
            (Column::Int(b), Tok::Int(v)) => b.append_value(*v),
            (Column::Float(b), Tok::Float(v)) => b.append_value(*v),
            (Column::Bool(b), Tok::Bool(v)) => b.append_value(*v),
            (c, _) => c.append_null(),
        }
    }

    /// A value of the per-record reader (already of the column's type).
    fn append_value(&mut self, v: Option<&Value>) {
        match (self, v) {
            (Column::Str(b), Some(Value::String(s))) => b.append_value(s),
            (Column::Int(b), Some(Value::Number(n))) => b.append_option(n.as_i64()),
            (Column::Float(b), Some(Value::Number(n))) => b.append_option(n.as_f64()),
            (Column::Float(b), Some(Value::String(s))) => {
                b.append_option(convert::parse_double(&s.replace("inf", "Inf")))
            }
            (Column::Bool(b), Some(Value::Bool(v))) => b.append_value(*v),
            (c, _) => c.append_null(),
        }
    }
}

/// A JSON number as a string column holds it: the text serde_json gives the number, so the
/// one-pass and per-record readers agree (integers as written, other numbers as doubles).
fn append_number_text(b: &mut StringBuilder, text: &str) {
    if prints_as_written(text) {
        b.append_value(text);
        return;
    }
    let integral = !text.contains(['.', 'e', 'E']);
    if integral && (text.parse::<i64>().is_ok() || text.parse::<u64>().is_ok()) {
        b.append_value(if text == "-0" { "0" } else { text });
        return;
    }
    match text
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
    {
        Some(n) => {
            let _ = write!(b, "{n}");
            b.append_value("");
        }
        None => b.append_value(text),
    }
}

/// Whether a decimal like `741.55` is already the shortest text of its double, so the
/// parse and print of [`append_number_text`] would give it back unchanged: no exponent, no
/// leading or trailing zero, at most 15 significant digits (any such text round-trips
/// through a double) and an integral part of 1 to 15 digits (printed without exponent).
fn prints_as_written(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text).as_bytes();
    let Some(dot) = digits.iter().position(|&c| c == b'.') else {
        return false;
    };
    let (int, frac) = (&digits[..dot], &digits[dot + 1..]);
    !int.is_empty()
        && int[0] != b'0'
        && !frac.is_empty()
        && frac[frac.len() - 1] != b'0'
        && int.len() + frac.len() <= 15
        && int.iter().chain(frac).all(u8::is_ascii_digit)
}

/// The one-pass reader of JSON Lines into flat columns.
struct FlatReader<'d> {
    d: &'d RescueJsonDecoder,
    file: &'d Path,
    uri: String,
    columns: Vec<Column>,
    rescue: StringBuilder,
    rows: usize,
    /// Column of each key, by key position in the last row (rows repeat their keys).
    last_keys: Vec<(Vec<u8>, Option<usize>)>,
}

impl<'d> FlatReader<'d> {
    fn new(d: &'d RescueJsonDecoder, file: &'d Path) -> Self {
        FlatReader {
            d,
            file,
            uri: file_uri(file),
            columns: d
                .data
                .fields()
                .iter()
                .map(|f| Column::new(f.data_type()))
                .collect(),
            rescue: StringBuilder::new(),
            rows: 0,
            last_keys: vec![],
        }
    }

    fn column_of(&mut self, position: usize, key: &[u8]) -> Option<usize> {
        if let Some((k, c)) = self.last_keys.get(position) {
            if k == key {
                return *c;
            }
        }
        let c = self
            .d
            .data
            .fields()
            .iter()
            .position(|f| f.name().as_bytes() == key);
        if position < self.last_keys.len() {
            self.last_keys[position] = (key.to_vec(), c);
        } else if position == self.last_keys.len() {
            self.last_keys.push((key.to_vec(), c));
        }
        c
    }

    /// One object line into `slots`; Err when the line needs the per-record reader.
    fn line<'a>(
        &mut self,
        text: &'a str,
        s: &mut Scanner<'a>,
        slots: &mut [Option<Tok<'a>>],
    ) -> Step {
        if s.peek() != Some(b'{') {
            return Err(());
        }
        s.i += 1;
        s.ws();
        if s.peek() == Some(b'}') {
            s.i += 1;
            return Ok(());
        }
        let mut position = 0;
        loop {
            s.ws();
            if s.peek() != Some(b'"') {
                return Err(());
            }
            let (start, end, escaped) = s.string()?;
            let key: Cow<'_, [u8]> = if escaped {
                Cow::Owned(unescape(&s.b[start..end]).into_bytes())
            } else {
                Cow::Borrowed(&s.b[start..end])
            };
            s.ws();
            if s.peek() != Some(b':') {
                return Err(());
            }
            s.i += 1;
            // An unknown key (or one differing by case) is rescued by the per-record reader.
            let c = self.column_of(position, &key).ok_or(())?;
            position += 1;
            if slots[c].is_some() {
                return Err(());
            }
            slots[c] = Some(self.columns[c].read(s, text)?);
            s.ws();
            match s.peek() {
                Some(b',') => s.i += 1,
                Some(b'}') => {
                    s.i += 1;
                    return Ok(());
                }
                _ => return Err(()),
            }
        }
    }

    fn read(mut self, text: &str, emit: &mut dyn FnMut(RecordBatch) -> Result<()>) -> Result<()> {
        let bytes = text.as_bytes();
        let mut slots: Vec<Option<Tok<'_>>> = (0..self.columns.len()).map(|_| None).collect();
        let mut start = 0;
        while start < bytes.len() {
            let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |p| start + p);
            let line = &text[start..end];
            start = end + 1;
            let mut s = Scanner {
                b: line.as_bytes(),
                i: 0,
            };
            s.ws();
            if s.peek().is_none() {
                continue;
            }
            slots.iter_mut().for_each(|x| *x = None);
            let clean = self.line(line, &mut s, &mut slots).is_ok() && {
                s.ws();
                s.i == line.len()
            };
            if clean {
                for (column, slot) in self.columns.iter_mut().zip(&slots) {
                    match slot {
                        Some(tok) => column.append(tok),
                        None => column.append_null(),
                    }
                }
                self.rescue.append_null();
                self.rows += 1;
            } else {
                self.slow_line(line)?;
            }
            if self.rows >= BATCH_ROWS {
                emit(self.finish()?)?;
            }
        }
        if self.rows > 0 {
            emit(self.finish()?)?;
        }
        Ok(())
    }

    /// A line the one-pass reader declined, through the per-record reader.
    fn slow_line(&mut self, line: &str) -> Result<()> {
        for rec in json::records(line, &self.d.options) {
            let rows = match &rec.rows {
                Some(records) => records.iter().map(|r| self.d.row(r, &self.uri)).collect(),
                None => match self.d.malformed(rec.raw, self.file).map_err(plan_to_df)? {
                    Some(row) => vec![row],
                    None => vec![],
                },
            };
            for row in rows {
                for (column, field) in self.columns.iter_mut().zip(self.d.data.fields()) {
                    column.append_value(row.get(field.name()));
                }
                match row.get(self.d.rescue_name()) {
                    Some(Value::String(r)) => self.rescue.append_value(r),
                    _ => self.rescue.append_null(),
                }
                self.rows += 1;
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<RecordBatch> {
        let mut arrays: Vec<ArrayRef> = self.columns.iter_mut().map(Column::finish).collect();
        arrays.push(Arc::new(self.rescue.finish()));
        let rows = std::mem::take(&mut self.rows);
        Ok(RecordBatch::try_new_with_options(
            self.d.schema.clone(),
            arrays,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )?)
    }
}

#[cfg(test)]
mod number_text_tests {
    use super::*;

    fn printed(text: &str) -> String {
        let mut b = StringBuilder::new();
        append_number_text(&mut b, text);
        b.finish().value(0).to_string()
    }

    #[test]
    fn fast_path_agrees_with_parse_and_print() {
        for text in [
            "741.55",
            "-3.25",
            "1.5",
            "123456789012.345",
            "9.87654321012345",
            "100.01",
        ] {
            assert!(prints_as_written(text), "{text}");
            let via_double = serde_json::Number::from_f64(text.parse().unwrap())
                .unwrap()
                .to_string();
            assert_eq!(printed(text), via_double);
        }
        // Texts the shortcut must leave to the parse: trailing or leading zeros, exponents,
        // too many digits.
        for (text, want) in [
            ("1.50", "1.5"),
            ("0.5", "0.5"),
            ("00.5", "0.5"),
            ("1e3", "1000.0"),
            ("1234567890123.4567", "1234567890123.4568"),
            ("7", "7"),
        ] {
            assert!(!prints_as_written(text), "{text}");
            assert_eq!(printed(text), want, "{text}");
        }
    }
}
