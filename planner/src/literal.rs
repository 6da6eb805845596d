//! Spark Connect literals to DataFusion scalars, and Spark's rendering of literals in names.
use std::sync::Arc;

use arrow::array::{new_empty_array, Array, ArrayRef, MapArray, StructArray};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Field, Fields, IntervalDayTime, IntervalMonthDayNano};
use datafusion::common::ScalarValue;
use proto::connect::expression::literal::LiteralType;
use proto::connect::expression::Literal;

use crate::error::{PlanError, PlanResult};
use crate::types;

#[allow(deprecated)] // the client still fills the deprecated type fields
pub fn to_scalar(lit: &Literal, tz: &str) -> PlanResult<ScalarValue> {
    let t = lit
        .literal_type
        .as_ref()
        .ok_or_else(|| PlanError::invalid("literal without a value"))?;
    Ok(match t {
        LiteralType::Null(dt) => ScalarValue::try_from(&types::from_proto(dt, tz)?)?,
        LiteralType::Binary(b) => ScalarValue::Binary(Some(b.clone())),
        LiteralType::Boolean(b) => ScalarValue::Boolean(Some(*b)),
        LiteralType::Byte(v) => ScalarValue::Int8(Some(*v as i8)),
        LiteralType::Short(v) => ScalarValue::Int16(Some(*v as i16)),
        LiteralType::Integer(v) => ScalarValue::Int32(Some(*v)),
        LiteralType::Long(v) => ScalarValue::Int64(Some(*v)),
        LiteralType::Float(v) => ScalarValue::Float32(Some(*v)),
        LiteralType::Double(v) => ScalarValue::Float64(Some(*v)),
        LiteralType::Decimal(d) => decimal(&d.value, d.precision, d.scale)?,
        LiteralType::String(s) => ScalarValue::Utf8(Some(s.clone())),
        LiteralType::Date(d) => ScalarValue::Date32(Some(*d)),
        LiteralType::Timestamp(us) => ScalarValue::TimestampMicrosecond(Some(*us), Some(tz.into())),
        LiteralType::TimestampNtz(us) => ScalarValue::TimestampMicrosecond(Some(*us), None),
        LiteralType::CalendarInterval(i) => ScalarValue::IntervalMonthDayNano(Some(
            IntervalMonthDayNano::new(i.months, i.days, i.microseconds * 1000),
        )),
        LiteralType::YearMonthInterval(m) => ScalarValue::IntervalYearMonth(Some(*m)),
        LiteralType::DayTimeInterval(us) => {
            ScalarValue::IntervalDayTime(Some(IntervalDayTime::new(
                (us / 86_400_000_000) as i32,
                ((us % 86_400_000_000) / 1000) as i32,
            )))
        }
        LiteralType::Array(a) => {
            let element_type = match &a.element_type {
                Some(t) => types::from_proto(t, tz)?,
                None => a
                    .elements
                    .first()
                    .map(|e| to_scalar(e, tz).map(|s| s.data_type()))
                    .transpose()?
                    .unwrap_or(DataType::Null),
            };
            let values = scalars(&a.elements, tz)?;
            ScalarValue::List(ScalarValue::new_list_nullable(&values, &element_type))
        }
        LiteralType::Map(m) => {
            let (Some(kt), Some(vt)) = (&m.key_type, &m.value_type) else {
                return Err(PlanError::invalid("map literal without key or value type"));
            };
            let (kt, vt) = (types::from_proto(kt, tz)?, types::from_proto(vt, tz)?);
            let keys = array_of(&scalars(&m.keys, tz)?, &kt)?;
            let values = array_of(&scalars(&m.values, tz)?, &vt)?;
            let DataType::Map(entries_field, _) = types::map_type(kt, vt, true) else {
                unreachable!("map_type builds a map")
            };
            let DataType::Struct(kv_fields) = entries_field.data_type().clone() else {
                unreachable!("map entries are a struct")
            };
            let entries = StructArray::try_new(kv_fields, vec![keys, values], None)?;
            let offsets = OffsetBuffer::from_lengths([entries.len()]);
            let map = MapArray::try_new(entries_field, offsets, entries, None, false)?;
            ScalarValue::Map(Arc::new(map))
        }
        LiteralType::Struct(s) => {
            let values = scalars(&s.elements, tz)?;
            let names: Vec<String> = match s.struct_type.as_ref().map(|t| types::from_proto(t, tz))
            {
                Some(Ok(DataType::Struct(fields))) => {
                    fields.iter().map(|f| f.name().clone()).collect()
                }
                _ => (1..=values.len()).map(|i| format!("col{i}")).collect(),
            };
            let fields: Fields = names
                .iter()
                .zip(&values)
                .map(|(n, v)| Field::new(n, v.data_type(), true))
                .collect();
            let arrays = values
                .iter()
                .map(|v| v.to_array())
                .collect::<Result<Vec<_>, _>>()?;
            ScalarValue::Struct(Arc::new(StructArray::try_new(fields, arrays, None)?))
        }
        LiteralType::SpecializedArray(_) | LiteralType::Time(_) => {
            return Err(PlanError::unsupported("this literal type"))
        }
    })
}

fn scalars(lits: &[Literal], tz: &str) -> PlanResult<Vec<ScalarValue>> {
    lits.iter().map(|l| to_scalar(l, tz)).collect()
}

fn array_of(values: &[ScalarValue], dt: &DataType) -> PlanResult<ArrayRef> {
    if values.is_empty() {
        return Ok(new_empty_array(dt));
    }
    let arr = ScalarValue::iter_to_array(values.iter().cloned())?;
    Ok(arrow::compute::cast(&arr, dt)?)
}

fn decimal(value: &str, precision: Option<i32>, scale: Option<i32>) -> PlanResult<ScalarValue> {
    let bad = || PlanError::invalid(format!("invalid decimal literal {value}"));
    let (int_part, frac_part) = value.split_once('.').unwrap_or((value, ""));
    let digits = format!("{int_part}{frac_part}");
    let unscaled: i128 = digits.parse().map_err(|_| bad())?;
    let natural_scale = frac_part.len() as i32;
    let scale = scale.unwrap_or(natural_scale);
    let natural_precision = digits.trim_start_matches(['-', '+', '0']).len().max(1) as i32;
    let precision = precision.unwrap_or(natural_precision.max(scale).max(1));
    let adjust = scale - natural_scale;
    let unscaled = if adjust >= 0 {
        unscaled * 10i128.pow(adjust as u32)
    } else {
        unscaled / 10i128.pow((-adjust) as u32)
    };
    Ok(ScalarValue::Decimal128(
        Some(unscaled),
        precision as u8,
        scale as i8,
    ))
}

/// Spark's `Literal.toString`, used when a literal appears in a column name.
pub fn spark_name(value: &ScalarValue) -> String {
    if value.is_null() {
        return "NULL".into();
    }
    match value {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => s.clone(),
        ScalarValue::Float64(Some(v)) => format_double(*v),
        ScalarValue::Float32(Some(v)) => format_float(*v),
        ScalarValue::Date32(Some(_)) => format!("DATE '{value}'"),
        ScalarValue::TimestampMicrosecond(Some(_), tz) => {
            let naive = ScalarValue::TimestampMicrosecond(value_micros(value), None);
            let text = cast_string(&naive).unwrap_or_default().replace('T', " ");
            match tz {
                Some(_) => format!("TIMESTAMP '{text}'"),
                None => format!("TIMESTAMP_NTZ '{text}'"),
            }
        }
        ScalarValue::Binary(Some(b)) => format!(
            "X'{}'",
            b.iter().map(|x| format!("{x:02X}")).collect::<String>()
        ),
        ScalarValue::List(_) | ScalarValue::Struct(_) | ScalarValue::Map(_) => {
            cast_string(value).unwrap_or_else(|| value.to_string())
        }
        other => other.to_string(),
    }
}

fn value_micros(v: &ScalarValue) -> Option<i64> {
    match v {
        ScalarValue::TimestampMicrosecond(x, _) => *x,
        _ => None,
    }
}

/// Spark's `CAST(value AS STRING)` of a literal (NULL gives `null`), as pivot column
/// names use it.
pub(crate) fn spark_string(value: &ScalarValue) -> String {
    if value.is_null() {
        return "null".into();
    }
    match value {
        ScalarValue::Float64(Some(v)) => format_double(*v),
        ScalarValue::Float32(Some(v)) => format_float(*v),
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => s.clone(),
        ScalarValue::TimestampMicrosecond(..) => {
            let naive = ScalarValue::TimestampMicrosecond(value_micros(value), None);
            cast_string(&naive).unwrap_or_default().replace('T', " ")
        }
        other => cast_string(other).unwrap_or_else(|| other.to_string()),
    }
}

fn cast_string(v: &ScalarValue) -> Option<String> {
    let arr = v.to_array().ok()?;
    let s = arrow::compute::cast(&arr, &DataType::Utf8).ok()?;
    ScalarValue::try_from_array(&s, 0)
        .ok()
        .map(|s| s.to_string())
}

/// Java's `Float.toString`: the shortest digits that identify the float.
pub fn format_float(v: f32) -> String {
    let shortest: f64 = format!("{v}").parse().unwrap_or(f64::from(v));
    format_double(shortest)
}

/// Java's `Double.toString` for the values people write: `1.0`, `0.5`, `1.0E10`.
pub fn format_double(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let abs = v.abs();
    if abs != 0.0 && !(1e-3..1e7).contains(&abs) {
        // Java switches to scientific notation outside [1e-3, 1e7).
        let s = format!("{v:E}");
        let (mantissa, exp) = s.split_once('E').unwrap_or((&s, "0"));
        let mantissa = if mantissa.contains('.') {
            mantissa.to_string()
        } else {
            format!("{mantissa}.0")
        };
        return format!("{mantissa}E{exp}");
    }
    let s = format!("{v}");
    if s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}
