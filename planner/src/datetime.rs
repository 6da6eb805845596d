//! Spark's datetime functions over DataFusion's, translating Spark's datetime patterns
//! (`yyyy-MM-dd HH:mm:ss`) to chrono's (`%Y-%m-%d %H:%M:%S`).
use arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{binary_expr, cast, lit, Expr, ExprSchemable, Operator};

use crate::error::{PlanError, PlanResult};
use crate::functions::{self, scalar, Call};
use crate::types;

/// Spark pattern letters (longest first) and their chrono equivalents.
const PATTERN: &[(&str, &str)] = &[
    ("yyyy", "%Y"),
    ("yy", "%y"),
    ("y", "%Y"),
    ("MMMM", "%B"),
    ("MMM", "%b"),
    ("MM", "%m"),
    ("M", "%-m"),
    ("dd", "%d"),
    ("d", "%-d"),
    ("DDD", "%j"),
    ("HH", "%H"),
    ("H", "%-H"),
    ("hh", "%I"),
    ("h", "%-I"),
    ("mm", "%M"),
    ("m", "%-M"),
    ("ss", "%S"),
    ("s", "%-S"),
    ("SSSSSS", "%6f"),
    ("SSS", "%3f"),
    ("SS", "%2f"),
    ("S", "%1f"),
    ("a", "%p"),
    ("EEEE", "%A"),
    ("EEE", "%a"),
    ("E", "%a"),
    ("XXX", "%:z"),
    ("xxx", "%:z"),
    ("Z", "%z"),
    ("z", "%Z"),
];

/// Translates a Spark datetime pattern to a chrono format string.
pub fn spark_to_chrono(pattern: &str) -> PlanResult<String> {
    let mut out = String::new();
    let mut rest = pattern;
    while let Some(c) = rest.chars().next() {
        if c == '\'' {
            // Quoted literal text; '' is a literal quote.
            let body = &rest[1..];
            match body.find('\'') {
                Some(0) => {
                    out.push('\'');
                    rest = &body[1..];
                }
                Some(end) => {
                    out.push_str(&body[..end].replace('%', "%%"));
                    rest = &body[end + 1..];
                }
                None => {
                    return Err(PlanError::invalid(format!(
                        "unterminated quote in datetime pattern '{pattern}'"
                    )))
                }
            }
        } else if c.is_ascii_alphabetic() {
            let run = rest.chars().take_while(|x| *x == c).count();
            let letters = &rest[..run];
            let mut taken = 0;
            while taken < run {
                let (spark, chrono) = PATTERN
                    .iter()
                    .find(|(s, _)| letters[taken..].starts_with(s))
                    .ok_or_else(|| {
                        PlanError::invalid(format!(
                            "[INVALID_DATETIME_PATTERN.ILLEGAL_CHARACTER] Unrecognized datetime pattern: {pattern}. Illegal pattern character found in datetime pattern: {c}."
                        ))
                    })?;
                out.push_str(chrono);
                taken += spark.len();
            }
            rest = &rest[run..];
        } else {
            if c == '%' {
                out.push('%');
            }
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    Ok(out)
}

fn pattern_arg(e: Option<Expr>) -> PlanResult<Option<String>> {
    match e {
        None => Ok(None),
        Some(Expr::Literal(ScalarValue::Utf8(Some(p)) | ScalarValue::Utf8View(Some(p)), _)) => {
            Ok(Some(spark_to_chrono(&p)?))
        }
        Some(_) => Err(PlanError::unsupported(
            "a datetime pattern that is not a string literal",
        )),
    }
}

fn session_timestamp(c: &Call) -> DataType {
    types::timestamp_type(&c.p.config.time_zone)
}

/// `timestamp_seconds(n)`: Spark's cast of a number of seconds to a timestamp.
pub(crate) fn timestamp_seconds(c: Call) -> PlanResult<Expr> {
    let ts = session_timestamp(&c);
    let (p, schema) = (c.p, c.schema);
    let x = functions::one(c)?;
    functions::cast_to(p, x, ts, schema)
}

/// `timestamp_millis(n)` / `timestamp_micros(n)` (`udf` names the unit), in the session
/// time zone.
pub(crate) fn epoch_timestamp(c: Call, udf: &str) -> PlanResult<Expr> {
    let ts = session_timestamp(&c);
    let (p, schema) = (c.p, c.schema);
    let utc = scalar(p, udf, c.args)?;
    functions::cast_to(p, utc, ts, schema)
}

/// `to_timestamp(str[, pattern])` in the session time zone.
pub(crate) fn to_timestamp(c: Call) -> PlanResult<Expr> {
    let ts = session_timestamp(&c);
    let mut args = c.args.into_iter();
    let x = args
        .next()
        .ok_or_else(|| PlanError::analysis("to_timestamp needs an argument"))?;
    match pattern_arg(args.next())? {
        None => Ok(cast(x, ts)),
        Some(fmt) => Ok(cast(
            scalar(c.p, "to_timestamp_micros", vec![x, lit(fmt)])?,
            ts,
        )),
    }
}

pub(crate) fn to_date(c: Call) -> PlanResult<Expr> {
    let mut args = c.args.into_iter();
    let x = args
        .next()
        .ok_or_else(|| PlanError::analysis("to_date needs an argument"))?;
    match pattern_arg(args.next())? {
        None => Ok(cast(x, DataType::Date32)),
        Some(fmt) => scalar(c.p, "to_date", vec![x, lit(fmt)]),
    }
}

/// Makes a string or date argument a timestamp, as Spark's implicit casts do.
fn as_timestamp(c: &Call, x: Expr) -> PlanResult<Expr> {
    Ok(match x.get_type(c.schema)? {
        DataType::Timestamp(..) => x,
        _ => cast(x, session_timestamp(c)),
    })
}

pub(crate) fn date_format(c: Call) -> PlanResult<Expr> {
    let mut args = c.args.clone().into_iter();
    let x = args
        .next()
        .ok_or_else(|| PlanError::analysis("date_format needs a timestamp"))?;
    let x = as_timestamp(&c, x)?;
    let fmt = pattern_arg(args.next())?
        .ok_or_else(|| PlanError::analysis("date_format needs a pattern"))?;
    scalar(c.p, "to_char", vec![x, lit(fmt)])
}

pub(crate) fn from_unixtime(c: Call) -> PlanResult<Expr> {
    let ts = session_timestamp(&c);
    let mut args = c.args.into_iter();
    let secs = args
        .next()
        .ok_or_else(|| PlanError::analysis("from_unixtime needs seconds"))?;
    let fmt = pattern_arg(args.next())?.unwrap_or_else(|| "%Y-%m-%d %H:%M:%S".into());
    let micros = binary_expr(
        cast(secs, DataType::Int64),
        Operator::Multiply,
        lit(1_000_000i64),
    );
    scalar(c.p, "to_char", vec![cast(micros, ts), lit(fmt)])
}

pub(crate) fn unix_timestamp(c: Call) -> PlanResult<Expr> {
    let ts = session_timestamp(&c);
    let mut args = c.args.clone().into_iter();
    let (x, fmt) = (args.next(), pattern_arg(args.next())?);
    let text = match &x {
        Some(x) => matches!(
            x.get_type(c.schema)?,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        ),
        None => false,
    };
    let value = match (x, fmt) {
        (None, _) => current_timestamp(c)?,
        (Some(x), Some(fmt)) => cast(scalar(c.p, "to_timestamp_micros", vec![x, lit(fmt)])?, ts),
        // Text is parsed with Spark's default pattern, as Spark does.
        (Some(x), None) if text => {
            let fmt = lit(spark_to_chrono("yyyy-MM-dd HH:mm:ss")?);
            cast(scalar(c.p, "to_timestamp_micros", vec![x, fmt])?, ts)
        }
        (Some(x), None) => as_timestamp(&c, x)?,
    };
    let micros = cast(
        cast(value, DataType::Timestamp(TimeUnit::Microsecond, None)),
        DataType::Int64,
    );
    Ok(binary_expr(micros, Operator::Divide, lit(1_000_000i64)))
}

pub(crate) fn current_timestamp(c: Call) -> PlanResult<Expr> {
    Ok(cast(scalar(c.p, "now", vec![])?, session_timestamp(&c)))
}

/// Microseconds in a Spark interval string such as `10 minutes`, `1 hour 30 minutes` or
/// `interval 2 days` (fixed-length units only: months and years have no fixed length).
pub fn interval_micros(text: &str) -> Option<i64> {
    const UNITS: &[(&str, i64)] = &[
        ("microsecond", 1),
        ("millisecond", 1_000),
        ("second", 1_000_000),
        ("minute", 60_000_000),
        ("hour", 3_600_000_000),
        ("day", 86_400_000_000),
        ("week", 604_800_000_000),
    ];
    let lower = text.trim().to_ascii_lowercase();
    let body = lower.strip_prefix("interval").unwrap_or(&lower).trim();
    let words: Vec<&str> = body.split_whitespace().collect();
    if words.is_empty() || !words.len().is_multiple_of(2) {
        return None;
    }
    let mut total = 0i64;
    for pair in words.chunks(2) {
        let n: i64 = pair[0].trim_matches('\'').parse().ok()?;
        let unit = pair[1].trim_end_matches('s');
        let (_, scale) = UNITS.iter().find(|(u, _)| *u == unit)?;
        total = total.checked_add(n.checked_mul(*scale)?)?;
    }
    Some(total)
}

/// A date, timestamp or timestamp string as its wall-clock time in the session time zone.
fn wall_clock(c: &Call, x: Expr) -> PlanResult<Expr> {
    let local = DataType::Timestamp(TimeUnit::Microsecond, None);
    Ok(match x.get_type(c.schema)? {
        DataType::Timestamp(_, Some(_)) => cast(scalar(c.p, "to_local_time", vec![x])?, local),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => cast(
            scalar(c.p, "to_local_time", vec![cast(x, session_timestamp(c))])?,
            local,
        ),
        _ => cast(x, local),
    })
}

/// `months_between(end, start[, roundOff])`, counted on the session's wall clock.
pub(crate) fn months_between(c: Call) -> PlanResult<Expr> {
    let mut args = c.args.clone().into_iter();
    let (Some(end), Some(start)) = (args.next(), args.next()) else {
        return Err(functions::arity("months_between", 2));
    };
    let round_off = args.next().unwrap_or_else(|| lit(true));
    let end = wall_clock(&c, end)?;
    let start = wall_clock(&c, start)?;
    scalar(
        c.p,
        crate::months_between::NAME,
        vec![end, start, cast(round_off, DataType::Boolean)],
    )
}

/// Spark's `date_trunc` units -> DataFusion's.
const TRUNC_UNITS: &[(&str, &str)] = &[
    ("year", "year"),
    ("yyyy", "year"),
    ("yy", "year"),
    ("quarter", "quarter"),
    ("month", "month"),
    ("mm", "month"),
    ("mon", "month"),
    ("week", "week"),
    ("day", "day"),
    ("dd", "day"),
    ("hour", "hour"),
    ("minute", "minute"),
    ("second", "second"),
    ("millisecond", "millisecond"),
    ("microsecond", "microsecond"),
];

/// `date_trunc(unit, ts)`: truncated in the session time zone; an unknown unit is NULL.
pub(crate) fn date_trunc(c: Call) -> PlanResult<Expr> {
    let ts = session_timestamp(&c);
    let mut args = c.args.clone().into_iter();
    let (Some(unit), Some(x)) = (args.next(), args.next()) else {
        return Err(functions::arity("date_trunc", 2));
    };
    let Expr::Literal(ScalarValue::Utf8(unit), _) = unit else {
        return Err(PlanError::unsupported(
            "date_trunc with a unit that is not a string literal",
        ));
    };
    let unit = unit.unwrap_or_default().to_ascii_lowercase();
    let x = cast(as_timestamp(&c, x)?, ts.clone());
    Ok(match TRUNC_UNITS.iter().find(|(spark, _)| *spark == unit) {
        Some((_, df)) => scalar(c.p, "date_trunc", vec![lit(*df), x])?,
        None => cast(lit(ScalarValue::Null), ts),
    })
}

#[cfg(test)]
mod tests {
    use super::spark_to_chrono;

    #[test]
    fn translates_common_patterns() {
        assert_eq!(
            spark_to_chrono("yyyy-MM-dd HH:mm:ss").unwrap(),
            "%Y-%m-%d %H:%M:%S"
        );
        assert_eq!(spark_to_chrono("dd/MM/yyyy").unwrap(), "%d/%m/%Y");
        assert_eq!(
            spark_to_chrono("yyyy-MM-dd'T'HH:mm:ss.SSS").unwrap(),
            "%Y-%m-%dT%H:%M:%S.%3f"
        );
        assert_eq!(spark_to_chrono("MMM d, yyyy").unwrap(), "%b %-d, %Y");
        assert!(spark_to_chrono("yyyy-qq").is_err());
    }
}
