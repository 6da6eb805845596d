//! Spark's casts between timestamps and numbers, which count seconds since the epoch:
//! `CAST(ts AS BIGINT)` floors to whole seconds, `CAST(ts AS DOUBLE)` keeps the fraction,
//! and `CAST(1 AS TIMESTAMP)` is one second past 1970. Arrow's cast counts the
//! timestamp's own unit instead. Timestamp-to-number goes through `date_part`, and
//! number-to-timestamp adds a duration to the epoch, so planning a rewritten cast again
//! leaves it as it is.
use arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::ScalarValue;
use datafusion::functions::expr_fn::{date_part, floor};
use datafusion::logical_expr::{cast, lit, try_cast, Expr};

/// The Spark form of `CAST(e AS to)` between a timestamp and a number; None for any
/// other cast. `safe` (TRY_CAST, or ANSI mode off) gives NULL for a NaN or infinite
/// number, where ANSI's CAST fails.
pub(crate) fn spark_timestamp_cast(
    e: &Expr,
    from: &DataType,
    to: &DataType,
    safe: bool,
) -> Option<Expr> {
    match (from, to) {
        (DataType::Timestamp(..), _) => timestamp_to_number(e, to),
        (_, DataType::Timestamp(unit, _)) => number_to_timestamp(e, from, unit, to, safe),
        _ => None,
    }
}

fn timestamp_to_number(e: &Expr, to: &DataType) -> Option<Expr> {
    let seconds = || date_part(lit("epoch"), e.clone());
    if to.is_integer() {
        // floor, as Spark's Math.floorDiv: a microsecond before 1970 is second -1, not 0.
        Some(cast(floor(seconds()), to.clone()))
    } else if matches!(to, DataType::Float32 | DataType::Float64) {
        Some(cast(seconds(), to.clone()))
    } else {
        None
    }
}

fn number_to_timestamp(
    e: &Expr,
    from: &DataType,
    unit: &TimeUnit,
    to: &DataType,
    safe: bool,
) -> Option<Expr> {
    let per_second: i64 = match unit {
        TimeUnit::Second => 1,
        TimeUnit::Millisecond => 1_000,
        TimeUnit::Microsecond => 1_000_000,
        TimeUnit::Nanosecond => 1_000_000_000,
    };
    let count = if from.is_integer() {
        cast(e.clone(), DataType::Int64) * lit(per_second)
    } else if from.is_floating()
        || matches!(from, DataType::Decimal128(..) | DataType::Decimal256(..))
    {
        // Spark truncates the fraction below the unit; NaN and the infinities have no
        // integer count.
        let scaled = cast(e.clone(), DataType::Float64) * lit(per_second as f64);
        if safe {
            try_cast(scaled, DataType::Int64)
        } else if from.is_floating() {
            crate::not_null::maybe_null(cast(scaled, DataType::Int64))
        } else {
            cast(scaled, DataType::Int64)
        }
    } else {
        return None;
    };
    let DataType::Timestamp(_, zone) = to else {
        return None;
    };
    let zone = zone.clone();
    let epoch = match unit {
        TimeUnit::Second => ScalarValue::TimestampSecond(Some(0), zone),
        TimeUnit::Millisecond => ScalarValue::TimestampMillisecond(Some(0), zone),
        TimeUnit::Microsecond => ScalarValue::TimestampMicrosecond(Some(0), zone),
        TimeUnit::Nanosecond => ScalarValue::TimestampNanosecond(Some(0), zone),
    };
    Some(lit(epoch) + cast(count, DataType::Duration(*unit)))
}
