//! Spark's ANSI intervals. A day-time interval (`INTERVAL '1 02:03:04' DAY TO SECOND`, the
//! difference of two timestamps) is Arrow's microsecond Duration, the type Spark Connect
//! sends it as; a year-month interval (`INTERVAL '1-2' YEAR TO MONTH`) is Arrow's
//! Interval(YearMonth). DataFusion's SQL reads only single-unit intervals, so an
//! `INTERVAL '..' a TO b` literal is respelled in the SQL tree as a call of
//! `spark_interval('..', 'a', 'b')`, which parses Spark's text and folds to a literal.
//! Arrow keeps no start and end fields, so every day-time interval is Spark's
//! `interval day to second` and every year-month one `interval year to month`.
use std::ops::ControlFlow;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, FieldRef, IntervalUnit, TimeUnit};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion::sql::sqlparser::ast::{DateTimeField, Expr as SqlExpr, Value, VisitorMut};

use crate::error::PlanError;
use crate::sql_syntax::call;

const NAME: &str = "spark_interval";
const DAY_TIME: [&str; 4] = ["DAY", "HOUR", "MINUTE", "SECOND"];
const YEAR_MONTH: [&str; 2] = ["YEAR", "MONTH"];
const MICROS: [i64; 4] = [86_400_000_000, 3_600_000_000, 60_000_000, 1_000_000];

/// The Arrow type of Spark's day-time intervals.
pub const DAY_TIME_TYPE: DataType = DataType::Duration(TimeUnit::Microsecond);
/// The Arrow type of Spark's year-month intervals.
pub const YEAR_MONTH_TYPE: DataType = DataType::Interval(IntervalUnit::YearMonth);

/// Spark's text for a day-time interval of `micros`, as `show()` and `CAST(.. AS STRING)`
/// print it: `INTERVAL '-1 02:03:04.5' DAY TO SECOND`.
pub fn day_time_text(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let m = micros.unsigned_abs();
    let (days, rest) = (m / 86_400_000_000, m % 86_400_000_000);
    let (hours, rest) = (rest / 3_600_000_000, rest % 3_600_000_000);
    let (minutes, rest) = (rest / 60_000_000, rest % 60_000_000);
    let (seconds, fraction) = (rest / 1_000_000, rest % 1_000_000);
    let fraction = if fraction == 0 {
        String::new()
    } else {
        format!(".{fraction:06}").trim_end_matches('0').to_string()
    };
    format!("INTERVAL '{sign}{days} {hours:02}:{minutes:02}:{seconds:02}{fraction}' DAY TO SECOND")
}

/// Spark's text for a year-month interval: `INTERVAL '-1-2' YEAR TO MONTH`.
pub fn year_month_text(months: i32) -> String {
    let sign = if months < 0 { "-" } else { "" };
    let m = months.unsigned_abs();
    format!("INTERVAL '{sign}{}-{}' YEAR TO MONTH", m / 12, m % 12)
}

fn field_name(f: &DateTimeField) -> Option<&'static str> {
    Some(match f {
        DateTimeField::Year | DateTimeField::Years => "YEAR",
        DateTimeField::Month | DateTimeField::Months => "MONTH",
        DateTimeField::Day | DateTimeField::Days => "DAY",
        DateTimeField::Hour | DateTimeField::Hours => "HOUR",
        DateTimeField::Minute | DateTimeField::Minutes => "MINUTE",
        DateTimeField::Second | DateTimeField::Seconds => "SECOND",
        _ => return None,
    })
}

/// Respells `INTERVAL '..' a TO b` literals as `spark_interval` calls.
pub(crate) struct IntervalRanges;

impl VisitorMut for IntervalRanges {
    type Break = PlanError;

    fn pre_visit_expr(&mut self, expr: &mut SqlExpr) -> ControlFlow<PlanError> {
        let SqlExpr::Interval(i) = expr else {
            return ControlFlow::Continue(());
        };
        let (Some(start), Some(end)) = (&i.leading_field, &i.last_field) else {
            return ControlFlow::Continue(());
        };
        let (Some(start), Some(end)) = (field_name(start), field_name(end)) else {
            return ControlFlow::Continue(());
        };
        // A malformed literal is a parse error, as in Spark, not a failure at run time.
        if let SqlExpr::Value(v) = i.value.as_ref() {
            if let Value::SingleQuotedString(text) = &v.value {
                if let Err(message) = parse(text, start, end) {
                    return ControlFlow::Break(PlanError::Parse(message));
                }
            }
        }
        let text = |s: &str| SqlExpr::value(Value::SingleQuotedString(s.to_string()));
        *expr = call(NAME, vec![(*i.value).clone(), text(start), text(end)]);
        ControlFlow::Continue(())
    }
}

/// The value of Spark's interval text `s` for the fields `start` to `end`; the error is
/// Spark's message for text that does not fit.
fn parse(s: &str, start: &str, end: &str) -> std::result::Result<ScalarValue, String> {
    let bad = || {
        let kind = if YEAR_MONTH.contains(&start) {
            "year-month"
        } else {
            "day-time"
        };
        format!(
            "[INVALID_INTERVAL_FORMAT.INTERVAL_PARSING] Error parsing '{s}' to interval. Please ensure that the value provided is in a valid format for defining an interval. You can reference the documentation for the correct format. Error parsing interval {kind} string, expected `{}`. SQLSTATE: 22006",
            pattern(start, end)
        )
    };
    let t = s.trim();
    let (negative, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let fields = fields_between(start, end).ok_or_else(bad)?;
    let parts = split(t, &fields).ok_or_else(bad)?;
    if YEAR_MONTH.contains(&start) {
        let mut months: i64 = 0;
        for ((name, text), i) in fields.iter().zip(&parts).zip(0..) {
            let v: i64 = text.parse().map_err(|_| bad())?;
            if i > 0 && v > 11 {
                return Err(bad());
            }
            months += if *name == "YEAR" { v * 12 } else { v };
        }
        let months = i32::try_from(if negative { -months } else { months }).map_err(|_| bad())?;
        return Ok(ScalarValue::IntervalYearMonth(Some(months)));
    }
    let mut micros: i64 = 0;
    for (i, (name, text)) in fields.iter().zip(&parts).enumerate() {
        let unit = DAY_TIME
            .iter()
            .position(|f| f == name)
            .map_or(1, |p| MICROS[p]);
        let (whole, fraction) = match text.split_once('.') {
            Some((w, f)) if *name == "SECOND" => (w, f),
            _ => (*text, ""),
        };
        let v: i64 = whole.parse().map_err(|_| bad())?;
        let limit = [i64::MAX, 23, 59, 59][DAY_TIME.iter().position(|f| f == name).unwrap_or(0)];
        if i > 0 && v > limit {
            return Err(bad());
        }
        if fraction.len() > 9 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let frac_micros: i64 = format!("{fraction:0<6}")[..6].parse().unwrap_or(0);
        micros = v
            .checked_mul(unit)
            .and_then(|x| x.checked_add(frac_micros))
            .and_then(|x| micros.checked_add(x))
            .ok_or_else(bad)?;
    }
    Ok(ScalarValue::DurationMicrosecond(Some(if negative {
        -micros
    } else {
        micros
    })))
}

fn fields_between(start: &str, end: &str) -> Option<Vec<&'static str>> {
    for order in [&YEAR_MONTH[..], &DAY_TIME[..]] {
        if let (Some(a), Some(b)) = (
            order.iter().position(|f| *f == start),
            order.iter().position(|f| *f == end),
        ) {
            return (a <= b).then(|| order[a..=b].to_vec());
        }
    }
    None
}

/// The text's numbers, one per field: a space after DAY, '-' after YEAR, ':' otherwise.
fn split<'a>(t: &'a str, fields: &[&str]) -> Option<Vec<&'a str>> {
    let mut out = Vec::with_capacity(fields.len());
    let mut rest = t;
    for (i, f) in fields.iter().enumerate() {
        if i + 1 == fields.len() {
            out.push(rest);
            break;
        }
        let sep = match *f {
            "DAY" => ' ',
            "YEAR" => '-',
            _ => ':',
        };
        let (part, tail) = rest.split_once(sep)?;
        out.push(part);
        rest = tail;
    }
    let numeric = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    out.iter().all(numeric).then_some(out)
}

fn pattern(start: &str, end: &str) -> String {
    let fields = fields_between(start, end).unwrap_or_default();
    let mut out = String::from("[+|-]");
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(match fields[i - 1] {
                "DAY" => ' ',
                "YEAR" => '-',
                _ => ':',
            });
        }
        out.push_str(match *f {
            "YEAR" => "y",
            "MONTH" => "m",
            "DAY" => "d",
            "HOUR" => "h",
            "MINUTE" => "m",
            _ => "s.n",
        });
    }
    out
}

/// `spark_interval(text, start, end)`: one interval literal.
#[derive(Debug, PartialEq, Eq, Hash)]
struct SparkInterval {
    signature: Signature,
}

pub(crate) fn udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(SparkInterval {
        signature: Signature::any(3, Volatility::Immutable),
    })
}

fn text_arg(v: Option<&ScalarValue>) -> Option<String> {
    match v? {
        ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => Some(s.clone()),
        _ => None,
    }
}

impl ScalarUDFImpl for SparkInterval {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DAY_TIME_TYPE)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let start = text_arg(args.scalar_arguments.get(1).copied().flatten());
        let t = match start.as_deref() {
            Some("YEAR" | "MONTH") => YEAR_MONTH_TYPE,
            _ => DAY_TIME_TYPE,
        };
        Ok(Arc::new(Field::new(NAME, t, false)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalars: Vec<Option<String>> = args
            .args
            .iter()
            .map(|a| match a {
                ColumnarValue::Scalar(s) => text_arg(Some(s)),
                ColumnarValue::Array(_) => None,
            })
            .collect();
        let [Some(text), Some(start), Some(end)] = scalars.as_slice() else {
            return exec_err!("an interval literal takes a string");
        };
        match parse(text, start, end) {
            Ok(v) => Ok(ColumnarValue::Scalar(v)),
            Err(message) => exec_err!("{message}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_time_text_as_spark_prints_it() {
        assert_eq!(
            day_time_text(93_784_500_000),
            "INTERVAL '1 02:03:04.5' DAY TO SECOND"
        );
        assert_eq!(
            day_time_text(-93_784_123_456),
            "INTERVAL '-1 02:03:04.123456' DAY TO SECOND"
        );
        assert_eq!(
            day_time_text(43_200_000_000),
            "INTERVAL '0 12:00:00' DAY TO SECOND"
        );
        assert_eq!(year_month_text(-14), "INTERVAL '-1-2' YEAR TO MONTH");
    }

    #[test]
    fn parses_each_range() {
        let micros = |s, a, b| match parse(s, a, b) {
            Ok(ScalarValue::DurationMicrosecond(Some(v))) => v,
            other => panic!("{other:?}"),
        };
        assert_eq!(micros("1 02:03:04.5", "DAY", "SECOND"), 93_784_500_000);
        assert_eq!(
            micros("-1 02:03:04.123456", "DAY", "SECOND"),
            -93_784_123_456
        );
        assert_eq!(micros("02:03", "HOUR", "MINUTE"), 7_380_000_000);
        assert_eq!(micros("1 5", "DAY", "HOUR"), 104_400_000_000);
        assert_eq!(
            parse("-1-2", "YEAR", "MONTH"),
            Ok(ScalarValue::IntervalYearMonth(Some(-14)))
        );
        assert!(parse("1 25:00:00", "DAY", "SECOND").is_err());
        assert!(parse("1-12", "YEAR", "MONTH").is_err());
        assert!(parse("x", "DAY", "SECOND").is_err());
        assert!(parse("1", "SECOND", "DAY").is_err());
    }
}
