//! Spark's `months_between(end, start[, roundOff])` over wall-clock times.
//!
//! Whole months when both days of month are equal or both are month ends; otherwise the
//! month difference plus the rest counted in seconds over a 31-day month, as Spark (and Hive
//! before it) does. The builder hands this function times already in the session time zone.
use std::sync::Arc;

use arrow::array::{Array, AsArray, BooleanArray, Float64Builder};
use arrow::datatypes::{DataType, Field, FieldRef, TimeUnit, TimestampMicrosecondType};
use chrono::{Datelike, Duration, NaiveDate};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

pub(crate) const NAME: &str = "spark_months_between";

const MICROS_PER_DAY: i64 = 86_400_000_000;
const SECONDS_PER_DAY: i64 = 86_400;

#[derive(Debug, PartialEq, Eq, Hash)]
struct MonthsBetween {
    signature: Signature,
}

pub fn udf() -> ScalarUDF {
    let local = DataType::Timestamp(TimeUnit::Microsecond, None);
    ScalarUDF::new_from_impl(MonthsBetween {
        signature: Signature::exact(
            vec![local.clone(), local, DataType::Boolean],
            Volatility::Immutable,
        ),
    })
}

impl ScalarUDFImpl for MonthsBetween {
    fn name(&self) -> &str {
        NAME
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let nullable = args.arg_fields.iter().any(|f| f.is_nullable());
        Ok(Arc::new(Field::new(NAME, DataType::Float64, nullable)))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [end, start, round] = arrays.as_slice() else {
            return exec_err!("{NAME} takes three arguments");
        };
        let end = end.as_primitive::<TimestampMicrosecondType>();
        let start = start.as_primitive::<TimestampMicrosecondType>();
        let round: &BooleanArray = round.as_boolean();
        let mut out = Float64Builder::with_capacity(end.len());
        for i in 0..end.len() {
            if end.is_null(i) || start.is_null(i) || round.is_null(i) {
                out.append_null();
                continue;
            }
            match months_between(end.value(i), start.value(i), round.value(i)) {
                Some(v) => out.append_value(v),
                None => out.append_null(),
            }
        }
        let out = out.finish();
        Ok(
            match args
                .args
                .iter()
                .all(|a| matches!(a, ColumnarValue::Scalar(_)))
            {
                true => ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?),
                false => ColumnarValue::Array(Arc::new(out)),
            },
        )
    }
}

/// The local date of `micros` and the whole seconds since its midnight.
fn split(micros: i64) -> Option<(NaiveDate, i64)> {
    let days = micros.div_euclid(MICROS_PER_DAY);
    let seconds = micros.rem_euclid(MICROS_PER_DAY) / 1_000_000;
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
    Some((epoch.checked_add_signed(Duration::days(days))?, seconds))
}

fn is_month_end(d: NaiveDate) -> bool {
    d.succ_opt().is_some_and(|next| next.month() != d.month())
}

fn months_between(end: i64, start: i64, round_off: bool) -> Option<f64> {
    let (d1, s1) = split(end)?;
    let (d2, s2) = split(start)?;
    let months = |d: NaiveDate| i64::from(d.year()) * 12 + i64::from(d.month());
    let month_diff = (months(d1) - months(d2)) as f64;
    if d1.day() == d2.day() || (is_month_end(d1) && is_month_end(d2)) {
        return Some(month_diff);
    }
    let seconds = (i64::from(d1.day()) - i64::from(d2.day())) * SECONDS_PER_DAY + s1 - s2;
    let diff = month_diff + seconds as f64 / (31 * SECONDS_PER_DAY) as f64;
    Some(if round_off {
        // Java's Math.round: halves go up.
        (diff * 1e8 + 0.5).floor() / 1e8
    } else {
        diff
    })
}

#[cfg(test)]
mod tests {
    use super::months_between;

    fn at(y: i32, m: u32, d: u32, secs: i64) -> i64 {
        let day = chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        (day - epoch).num_days() * super::MICROS_PER_DAY + secs * 1_000_000
    }

    #[test]
    fn follows_spark_examples() {
        // Spark's documented example: months_between('1997-02-28 10:30:00', '1996-10-30').
        let v = months_between(at(1997, 2, 28, 37_800), at(1996, 10, 30, 0), true);
        assert_eq!(v, Some(3.94959677));
        // Both month ends: whole months.
        assert_eq!(
            months_between(at(2024, 2, 29, 0), at(2024, 1, 31, 0), true),
            Some(1.0)
        );
    }
}
