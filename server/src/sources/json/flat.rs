//! A one-pass decoder of JSON Lines into flat columns (bigint, double, boolean, string): it
//! checks every line as the scanner does, builds only the projected columns, and gives up
//! (None) on anything the per-row reader might read differently: a line that is not one
//! object, a value of another kind than its column, a repeated key.
use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    ArrayBuilder, ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, RecordBatch,
    RecordBatchOptions, StringBuilder,
};
use arrow::datatypes::{DataType, Schema, SchemaRef};

use super::scan::{unescape, Scanner, Step};
use super::shape::Shape;

/// Where a key's value goes.
#[derive(Clone, Copy, Debug)]
enum Target<'s> {
    /// Into projected column `k`.
    Column(usize),
    /// Nowhere, but it must fit the column's type (the per-row reader checks every column).
    Check(&'s DataType),
}

enum Column {
    Int(Int64Builder),
    Float(Float64Builder),
    Bool(BooleanBuilder),
    Str(StringBuilder),
}

impl Column {
    fn new(ty: &DataType, rows: usize) -> Option<Column> {
        Some(match ty {
            DataType::Int64 => Column::Int(Int64Builder::with_capacity(rows)),
            DataType::Float64 => Column::Float(Float64Builder::with_capacity(rows)),
            DataType::Boolean => Column::Bool(BooleanBuilder::with_capacity(rows)),
            DataType::Utf8 => Column::Str(StringBuilder::with_capacity(rows, rows * 16)),
            _ => return None,
        })
    }

    fn builder(&mut self) -> &mut dyn ArrayBuilder {
        match self {
            Column::Int(b) => b,
            Column::Float(b) => b,
            Column::Bool(b) => b,
            Column::Str(b) => b,
        }
    }

    fn append_null(&mut self) {
        match self {
            Column::Int(b) => b.append_null(),
            Column::Float(b) => b.append_null(),
            Column::Bool(b) => b.append_null(),
            Column::Str(b) => b.append_null(),
        }
    }

    /// Reads the value at the scanner into the column, if it is of the column's kind.
    fn read(&mut self, s: &mut Scanner<'_>) -> Step {
        s.ws();
        if s.b[s.i..].starts_with(b"null") {
            s.i += 4;
            self.append_null();
            return Ok(());
        }
        match (self, s.peek().ok_or(())?) {
            (Column::Str(b), b'"') => {
                let (start, end, escaped) = s.string()?;
                let raw = &s.b[start..end];
                if escaped {
                    b.append_value(unescape(raw));
                } else {
                    b.append_value(std::str::from_utf8(raw).map_err(|_| ())?);
                }
                Ok(())
            }
            (Column::Int(b), b'-' | b'0'..=b'9') => {
                let start = s.i;
                if s.number()? != Shape::Int {
                    return Err(());
                }
                let text = std::str::from_utf8(&s.b[start..s.i]).map_err(|_| ())?;
                b.append_value(text.parse::<i64>().map_err(|_| ())?);
                Ok(())
            }
            (Column::Float(b), b'-' | b'0'..=b'9') => {
                let start = s.i;
                s.number()?;
                let text = std::str::from_utf8(&s.b[start..s.i]).map_err(|_| ())?;
                b.append_value(text.parse::<f64>().map_err(|_| ())?);
                Ok(())
            }
            (Column::Bool(b), b't' | b'f') => {
                let value = s.b[s.i..].starts_with(b"true");
                let word: &[u8] = if value { b"true" } else { b"false" };
                if !s.b[s.i..].starts_with(word) {
                    return Err(());
                }
                s.i += word.len();
                b.append_value(value);
                Ok(())
            }
            _ => Err(()),
        }
    }
}

/// The batches of columns `projection` of `schema`, or None when this decoder cannot vouch
/// for them (the caller then uses another reader).
pub fn decode(
    text: &str,
    schema: &Schema,
    projection: &[usize],
    batch_rows: usize,
) -> Option<Vec<RecordBatch>> {
    let mut targets: HashMap<&[u8], Target<'_>> = schema
        .fields()
        .iter()
        .map(|f| (f.name().as_bytes(), Target::Check(f.data_type())))
        .collect();
    for (k, &i) in projection.iter().enumerate() {
        targets.insert(schema.field(i).name().as_bytes(), Target::Column(k));
    }
    let mut keys = Keys {
        targets,
        last: vec![],
    };
    let out_schema: SchemaRef = Arc::new(schema.project(projection).ok()?);
    let new_columns = || {
        out_schema
            .fields()
            .iter()
            .map(|f| Column::new(f.data_type(), batch_rows))
            .collect::<Option<Vec<Column>>>()
    };
    let mut columns = new_columns()?;
    let mut batches = vec![];
    let mut rows = 0;
    let mut seen = vec![false; projection.len()];
    let bytes = text.as_bytes();
    let mut start = 0;
    while start < bytes.len() {
        let end = text[start..].find('\n').map_or(bytes.len(), |p| start + p);
        let line = &bytes[start..end];
        start = end + 1;
        let mut s = Scanner { b: line, i: 0 };
        s.ws();
        if s.peek().is_none() {
            continue;
        }
        seen.iter_mut().for_each(|x| *x = false);
        row(&mut s, &mut keys, &mut columns, &mut seen).ok()?;
        s.ws();
        if s.i != line.len() {
            return None;
        }
        for (column, seen) in columns.iter_mut().zip(&seen) {
            if !seen {
                column.append_null();
            }
        }
        rows += 1;
        if rows == batch_rows {
            batches.push(finish(&out_schema, &mut columns, rows)?);
            rows = 0;
        }
    }
    if rows > 0 || batches.is_empty() {
        batches.push(finish(&out_schema, &mut columns, rows)?);
    }
    Some(batches)
}

/// Key to target, with the keys of the last row by position (rows usually repeat their keys
/// in one order, and comparing bytes is cheaper than hashing).
struct Keys<'s> {
    targets: HashMap<&'s [u8], Target<'s>>,
    last: Vec<(Vec<u8>, Option<Target<'s>>)>,
}

impl<'s> Keys<'s> {
    fn target(&mut self, position: usize, key: &[u8]) -> Option<Target<'s>> {
        match self.last.get(position) {
            Some((k, t)) if k == key => *t,
            _ => {
                let t = self.targets.get(key).copied();
                if position < self.last.len() {
                    self.last[position] = (key.to_vec(), t);
                } else if position == self.last.len() {
                    self.last.push((key.to_vec(), t));
                }
                t
            }
        }
    }
}

/// One object line's members into the columns.
fn row(
    s: &mut Scanner<'_>,
    keys: &mut Keys<'_>,
    columns: &mut [Column],
    seen: &mut [bool],
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
        let key = unescaped_key(&s.b[start..end], escaped);
        s.ws();
        if s.peek() != Some(b':') {
            return Err(());
        }
        s.i += 1;
        let target = keys.target(position, &key);
        position += 1;
        match target {
            Some(Target::Column(k)) => {
                if std::mem::replace(&mut seen[k], true) {
                    return Err(());
                }
                columns[k].read(s)?;
            }
            Some(Target::Check(ty)) => {
                let mut shape = Shape::Null;
                s.value(&mut shape, 1)?;
                if !shape.fits(ty) {
                    return Err(());
                }
            }
            None => s.value(&mut Shape::Null, 1)?,
        }
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

fn unescaped_key(raw: &[u8], escaped: bool) -> std::borrow::Cow<'_, [u8]> {
    if escaped {
        std::borrow::Cow::Owned(unescape(raw).into_bytes())
    } else {
        std::borrow::Cow::Borrowed(raw)
    }
}

fn finish(schema: &SchemaRef, columns: &mut [Column], rows: usize) -> Option<RecordBatch> {
    let arrays: Vec<ArrayRef> = columns.iter_mut().map(|c| c.builder().finish()).collect();
    RecordBatch::try_new_with_options(
        schema.clone(),
        arrays,
        &RecordBatchOptions::new().with_row_count(Some(rows)),
    )
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::Field;

    fn schema() -> Schema {
        Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("b", DataType::Utf8, true),
            Field::new("c", DataType::Float64, true),
        ])
    }

    #[test]
    fn decodes_projected_columns() {
        let text = "{\"a\": 1, \"b\": \"x\\ty\", \"c\": 2}\n\n{\"c\": 1.5, \"z\": [1]}\n";
        let batches = decode(text, &schema(), &[2, 1], 8192).unwrap();
        assert_eq!(batches.len(), 1);
        let b = &batches[0];
        assert_eq!(b.num_rows(), 2);
        assert_eq!(b.schema().field(0).name(), "c");
        let strings = b
            .column(1)
            .as_any()
            .downcast_ref::<arrow::array::StringArray>()
            .unwrap();
        assert_eq!(strings.value(0), "x\ty");
        assert!(arrow::array::Array::is_null(strings, 1));
    }

    #[test]
    fn refuses_what_the_row_reader_decides() {
        let s = schema();
        // A float in a bigint column, even when not projected.
        assert!(decode("{\"a\": 1.5}\n", &s, &[1], 8192).is_none());
        // A number in a string column.
        assert!(decode("{\"b\": 1}\n", &s, &[1], 8192).is_none());
        // Not one object per line.
        assert!(decode("{\"a\": 1}{\"a\": 2}\n", &s, &[0], 8192).is_none());
        assert!(decode("[{\"a\": 1}]\n", &s, &[0], 8192).is_none());
        assert!(decode("{\"a\": 1, \"a\": 2}\n", &s, &[0], 8192).is_none());
        // Counting only still checks every line.
        assert_eq!(
            decode("{}\n{\"a\": 3}\n", &s, &[], 8192).unwrap()[0].num_rows(),
            2
        );
        assert!(decode("{\"a\": \n", &s, &[], 8192).is_none());
    }
}
