//! `df.show()` and the notebook HTML table, formatted exactly as Spark's `Dataset.showString`
//! and `htmlString` do, from already computed rows.
use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Field, TimeUnit};
use arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::literal::{format_double, format_float};

/// Spark's text for one value inside `show()`.
pub fn cell(array: &ArrayRef, row: usize) -> String {
    text(array, row, "NULL")
}

/// Spark's `CAST(value AS STRING)` of a non-null value: as `show()` prints it, but a NULL
/// nested inside is `null`.
pub(crate) fn cast_text(array: &ArrayRef, row: usize) -> String {
    text(array, row, "null")
}

fn text(array: &ArrayRef, row: usize, null: &str) -> String {
    // A NullArray has no validity buffer, so `is_null` alone would call its values valid.
    if array.is_null(row) || array.data_type() == &DataType::Null {
        return null.into();
    }
    let cell = |a: &ArrayRef, i: usize| text(a, i, null);
    match array.data_type() {
        DataType::Float64 => format_double(
            array
                .as_primitive::<arrow::datatypes::Float64Type>()
                .value(row),
        ),
        DataType::Float32 => format_float(
            array
                .as_primitive::<arrow::datatypes::Float32Type>()
                .value(row),
        ),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
            let bytes = arrow::compute::cast(&array.slice(row, 1), &DataType::Binary)
                .map(|a| a.as_binary::<i32>().value(0).to_vec())
                .unwrap_or_default();
            format!(
                "[{}]",
                bytes
                    .iter()
                    .map(|b| format!("{b:02X}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        }
        DataType::Timestamp(unit, tz) => timestamp(array, row, unit, tz.as_deref()),
        DataType::Duration(_) => {
            let micros = arrow::compute::cast(
                &array.slice(row, 1),
                &DataType::Duration(TimeUnit::Microsecond),
            )
            .ok()
            .and_then(|a| {
                a.as_primitive_opt::<arrow::datatypes::DurationMicrosecondType>()
                    .map(|p| p.value(0))
            });
            micros.map_or_else(|| plain(array, row), crate::interval::day_time_text)
        }
        DataType::Interval(arrow::datatypes::IntervalUnit::YearMonth) => {
            crate::interval::year_month_text(
                array
                    .as_primitive::<arrow::datatypes::IntervalYearMonthType>()
                    .value(row),
            )
        }
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..) => {
            let values = list_value(array, row);
            let items: Vec<String> = (0..values.len()).map(|i| cell(&values, i)).collect();
            format!("[{}]", items.join(", "))
        }
        DataType::Map(..) => {
            let map = array.as_map();
            let entries = map.value(row);
            let (keys, vals) = (entries.column(0).clone(), entries.column(1).clone());
            let items: Vec<String> = (0..entries.len())
                .map(|i| format!("{} -> {}", cell(&keys, i), cell(&vals, i)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        DataType::Struct(_) => {
            let st = array.as_struct();
            let items: Vec<String> = st.columns().iter().map(|c| cell(c, row)).collect();
            format!("{{{}}}", items.join(", "))
        }
        _ => plain(array, row),
    }
}

fn list_value(array: &ArrayRef, row: usize) -> ArrayRef {
    match array.data_type() {
        DataType::List(_) => array.as_list::<i32>().value(row),
        DataType::LargeList(_) => array.as_list::<i64>().value(row),
        _ => array.as_fixed_size_list().value(row),
    }
}

fn plain(array: &ArrayRef, row: usize) -> String {
    let options = FormatOptions::default();
    ArrayFormatter::try_new(array.as_ref(), &options)
        .map(|f| f.value(row).to_string())
        .unwrap_or_default()
}

/// `yyyy-MM-dd HH:mm:ss[.fraction]` in the value's time zone, trailing zeros trimmed.
fn timestamp(array: &ArrayRef, row: usize, unit: &TimeUnit, tz: Option<&str>) -> String {
    let micros_type = DataType::Timestamp(TimeUnit::Microsecond, tz.map(Into::into));
    let Ok(micros) = arrow::compute::cast(&array.slice(row, 1), &micros_type) else {
        return plain(array, row);
    };
    let _ = unit;
    let options = FormatOptions::default()
        .with_timestamp_format(Some("%Y-%m-%d %H:%M:%S%.f"))
        .with_timestamp_tz_format(Some("%Y-%m-%d %H:%M:%S%.f"));
    let text = ArrayFormatter::try_new(micros.as_ref(), &options)
        .map(|f| f.value(0).to_string())
        .unwrap_or_default();
    // Spark drops trailing zeros of the fraction, and the fraction when it is zero.
    match text.rsplit_once('.') {
        Some((head, frac)) if text.len() > 19 => {
            let frac = frac.trim_end_matches('0');
            if frac.is_empty() {
                head.to_string()
            } else {
                format!("{head}.{frac}")
            }
        }
        _ => text,
    }
}

/// Spark's `Utils.stringHalfWidth`: the UTF-16 length (Java's `String.length`), plus one
/// for every East Asian full-width character, which takes two terminal columns.
fn width(s: &str) -> usize {
    s.chars()
        .map(|c| c.len_utf16() + usize::from(full_width(c)))
        .sum()
}

/// The character ranges of Spark's `Utils.fullWidthRegex`.
fn full_width(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x115F | 0x2E80..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE10..=0xFE19
        | 0xFE30..=0xFE6F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6)
}

/// Spark escapes control characters so a cell stays on one line.
fn escape_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{000C}' => out.push_str("\\f"),
            '\u{0008}' => out.push_str("\\b"),
            '\u{000B}' => out.push_str("\\v"),
            '\u{0007}' => out.push_str("\\a"),
            other => out.push(other),
        }
    }
    out
}

/// Cuts a cell longer than `truncate` (counted in UTF-16 units, as Java's `String.length`):
/// to `truncate - 3` units plus `...`, or, below 4, to `truncate` units without dots.
fn truncate_cell(s: String, truncate: usize) -> String {
    if truncate == 0 || s.encode_utf16().count() <= truncate {
        return s;
    }
    let (keep, dots) = if truncate < 4 {
        (truncate, "")
    } else {
        (truncate - 3, "...")
    };
    prefix_utf16(&s, keep) + dots
}

/// The longest prefix of `s` of at most `units` UTF-16 units (never splitting a character).
fn prefix_utf16(s: &str, units: usize) -> String {
    let mut used = 0;
    s.chars()
        .take_while(|c| {
            used += c.len_utf16();
            used <= units
        })
        .collect()
}

/// Header plus up to `num_rows` rows as strings; and whether more rows exist.
fn rows(
    fields: &[Field],
    batches: &[RecordBatch],
    num_rows: usize,
    truncate: usize,
) -> (Vec<Vec<String>>, bool) {
    // Spark truncates the cells but never the column names.
    let mut out = vec![fields
        .iter()
        .map(|f| escape_meta(f.name()))
        .collect::<Vec<_>>()];
    let mut total = 0;
    for b in batches {
        for r in 0..b.num_rows() {
            total += 1;
            if total > num_rows {
                continue;
            }
            out.push(
                b.columns()
                    .iter()
                    .map(|c| truncate_cell(escape_meta(&cell(c, r)), truncate))
                    .collect(),
            );
        }
    }
    (out, total > num_rows)
}

/// The footer when rows were left out; `end` follows it (Spark ends the text table without a
/// newline here but the HTML one with one).
fn more_rows(num_rows: usize, end: &str) -> String {
    format!(
        "only showing top {num_rows} {}{end}",
        if num_rows == 1 { "row" } else { "rows" }
    )
}

fn pad(s: &str, to: usize, left: bool) -> String {
    let fill = " ".repeat(to.saturating_sub(width(s)));
    if left {
        fill + s
    } else {
        s.to_string() + &fill
    }
}

/// `df.show(num_rows, truncate, vertical)`. `batches` may hold more than `num_rows` rows;
/// the surplus only tells that more exist.
pub fn show_string(
    fields: &[Field],
    batches: &[RecordBatch],
    num_rows: usize,
    truncate: usize,
    vertical: bool,
) -> String {
    let (rows, more) = rows(fields, batches, num_rows, truncate);
    let mut sb = String::new();
    if vertical {
        let names = &rows[0];
        let data = &rows[1..];
        let name_width = names.iter().map(|n| width(n)).fold(3, usize::max);
        let data_width = data
            .iter()
            .flat_map(|r| r.iter().map(|c| width(c)))
            .fold(3, usize::max);
        for (i, row) in data.iter().enumerate() {
            let header = format!("-RECORD {i}");
            sb.push_str(&header);
            sb.push_str(&"-".repeat((name_width + data_width + 5).saturating_sub(header.len())));
            sb.push('\n');
            for (name, value) in names.iter().zip(row) {
                sb.push_str(&format!(
                    " {} | {} \n",
                    pad(name, name_width, false),
                    pad(value, data_width, false)
                ));
            }
        }
        if data.is_empty() {
            sb.push_str("(0 rows)\n");
        }
    } else {
        let columns = rows[0].len();
        let widths: Vec<usize> = (0..columns)
            .map(|i| rows.iter().map(|r| width(&r[i])).fold(3, usize::max))
            .collect();
        // Like Scala's `addString(sb, "+", "+", "+\n")`: a table without columns is `++`.
        let dashes: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        let sep = format!("+{}+\n", dashes.join("+"));
        let line = |row: &Vec<String>| -> String {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(c, w)| pad(c, *w, truncate > 0))
                .collect();
            format!("|{}|\n", cells.join("|"))
        };
        sb.push_str(&sep);
        sb.push_str(&line(&rows[0]));
        sb.push_str(&sep);
        for row in &rows[1..] {
            sb.push_str(&line(row));
        }
        sb.push_str(&sep);
    }
    if more {
        sb.push_str(&more_rows(num_rows, ""));
    }
    sb
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The HTML table notebooks show for a DataFrame (`_repr_html_`).
pub fn html_string(
    fields: &[Field],
    batches: &[RecordBatch],
    num_rows: usize,
    truncate: usize,
) -> String {
    let (rows, more) = rows(fields, batches, num_rows, truncate);
    let mut sb = String::from("<table border='1'>\n");
    let tr = |row: &Vec<String>, tag: &str| -> String {
        let cells: String = row
            .iter()
            .map(|c| format!("<{tag}>{}</{tag}>", escape_html(c)))
            .collect();
        format!("<tr>{cells}</tr>\n")
    };
    sb.push_str(&tr(&rows[0], "th"));
    for row in &rows[1..] {
        sb.push_str(&tr(row, "td"));
    }
    sb.push_str("</table>\n");
    if more {
        sb.push_str(&more_rows(num_rows, "\n"));
    }
    sb
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::Schema;

    use super::*;

    fn batch() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![1, 22])),
                Arc::new(StringArray::from(vec![
                    Some("a very long name indeed, longer than twenty"),
                    None,
                ])),
            ],
        )
        .unwrap()
    }

    #[test]
    fn table_with_truncation_and_more_rows() {
        let b = batch();
        let fields: Vec<Field> = b
            .schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        let out = show_string(&fields, &[b], 1, 20, false);
        assert_eq!(
            out,
            "+---+--------------------+\n| id|                name|\n+---+--------------------+\n|  1|a very long name ...|\n+---+--------------------+\nonly showing top 1 row"
        );
    }

    #[test]
    fn vertical_layout() {
        let b = batch();
        let fields: Vec<Field> = b
            .schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        let out = show_string(&fields, &[b], 20, 0, true);
        assert!(out.starts_with("-RECORD 0-"));
        assert!(out.contains(" name | NULL"));
    }
}
