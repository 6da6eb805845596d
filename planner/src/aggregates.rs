//! Spark aggregate functions that neither DataFusion nor `datafusion-spark` provide, for
//! SQL text (which resolves aggregates by name in the session's registry).
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray};
use arrow::datatypes::{DataType, Field, FieldRef, Int64Type};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility,
};

/// The aggregates SQL text can call by name.
pub fn sql_aggregates() -> Vec<AggregateUDF> {
    vec![AggregateUDF::new_from_impl(CountIf::default())]
}

/// Spark's `count_if(cond)`: the rows where the condition is true; 0, never NULL, for none.
#[derive(Debug, PartialEq, Eq, Hash)]
struct CountIf {
    signature: Signature,
}

impl Default for CountIf {
    fn default() -> Self {
        Self {
            signature: Signature::exact(vec![DataType::Boolean], Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for CountIf {
    fn name(&self) -> &str {
        "count_if"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }
    fn is_nullable(&self) -> bool {
        false
    }
    fn default_value(&self, _data_type: &DataType) -> Result<ScalarValue> {
        Ok(ScalarValue::Int64(Some(0)))
    }
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format_state_name(args.name, "count"),
            DataType::Int64,
            false,
        ))])
    }
    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(CountIfAccumulator(0)))
    }
}

#[derive(Debug)]
struct CountIfAccumulator(i64);

impl Accumulator for CountIfAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let [cond] = values else {
            return exec_err!("count_if takes one argument");
        };
        // NULL conditions are not counted: true_count skips them.
        self.0 += cond.as_boolean().true_count() as i64;
        Ok(())
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let [counts] = states else {
            return exec_err!("count_if merges one state");
        };
        let counts = counts.as_primitive::<Int64Type>();
        self.0 += counts.iter().flatten().sum::<i64>();
        Ok(())
    }
    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Int64(Some(self.0))])
    }
    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Int64(Some(self.0)))
    }
    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }
}
