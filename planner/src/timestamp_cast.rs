//! Spark's casts from timestamps to numbers: seconds since the epoch (`CAST(ts AS BIGINT)`
//! floors to whole seconds, `CAST(ts AS DOUBLE)` keeps the fraction), where Arrow's cast
//! gives the timestamp's raw count of its unit. The rewrite goes through `date_part`, not
//! another timestamp-to-number cast, so planning it again leaves it as it is.
use arrow::datatypes::DataType;
use datafusion::functions::expr_fn::{date_part, floor};
use datafusion::logical_expr::{cast, lit, Expr};

/// The Spark form of `CAST(e AS to)` from a timestamp to a number; None for any other cast.
pub(crate) fn spark_timestamp_cast(e: &Expr, from: &DataType, to: &DataType) -> Option<Expr> {
    if !matches!(from, DataType::Timestamp(..)) {
        return None;
    }
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
