//! Spark's `timestamp_millis(n)` and `timestamp_micros(n)`: the instant `n` milliseconds
//! or microseconds after 1970-01-01 UTC. (`timestamp_seconds` is `CAST(n AS TIMESTAMP)`.)
//! The functions answer in UTC; callers relabel the instant into the session time zone
//! with a cast, which keeps the instant.
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray};
use arrow::datatypes::{DataType, Field, FieldRef, Int64Type, TimeUnit, TimestampMicrosecondType};
use datafusion::common::{exec_err, DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

/// Spark name, UDF name, microseconds per unit.
pub(crate) const FUNCTIONS: [(&str, &str, i64); 2] = [
    ("timestamp_millis", "utc_timestamp_millis", 1_000),
    ("timestamp_micros", "utc_timestamp_micros", 1),
];

#[derive(Debug, PartialEq, Eq, Hash)]
struct EpochTimestamp {
    name: &'static str,
    micros_per_unit: i64,
    signature: Signature,
}

/// The registered functions, one per unit.
pub fn udfs() -> Vec<ScalarUDF> {
    FUNCTIONS
        .iter()
        .map(|(_, name, per)| {
            ScalarUDF::new_from_impl(EpochTimestamp {
                name,
                micros_per_unit: *per,
                signature: Signature::uniform(
                    1,
                    vec![
                        DataType::Int8,
                        DataType::Int16,
                        DataType::Int32,
                        DataType::Int64,
                    ],
                    Volatility::Immutable,
                ),
            })
        })
        .collect()
}

fn utc() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

impl ScalarUDFImpl for EpochTimestamp {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(utc())
    }
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let nullable = args.arg_fields.iter().any(|f| f.is_nullable());
        Ok(Arc::new(Field::new(self.name, utc(), nullable)))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [n] = arrays.as_slice() else {
            return exec_err!("{} takes one argument", self.name);
        };
        let longs = arrow::compute::cast(n, &DataType::Int64)?;
        let per = self.micros_per_unit;
        let micros = longs
            .as_primitive::<Int64Type>()
            .try_unary::<_, TimestampMicrosecondType, _>(|v| {
                v.checked_mul(per).ok_or_else(|| {
                    DataFusionError::Execution(
                        "[ARITHMETIC_OVERFLOW] long overflow. SQLSTATE: 22003".into(),
                    )
                })
            })?;
        let out: ArrayRef = Arc::new(micros.with_timezone("UTC"));
        Ok(ColumnarValue::Array(out))
    }
}
