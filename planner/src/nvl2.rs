//! Spark's `nvl2(a, b, c)`: `b` where `a` is not NULL, else `c`, typed by `b` and `c` alone.
//! DataFusion's `nvl2` coerces `a` with them, so `nvl2(name, 1, 2)` came back as a string.
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{exec_err, plan_err, Result};
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::type_coercion::binary::type_union_resolution;
use datafusion::logical_expr::{
    when, ColumnarValue, Expr, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};

#[derive(Debug, PartialEq, Eq, Hash)]
struct Nvl2 {
    signature: Signature,
}

pub(crate) fn udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(Nvl2 {
        signature: Signature::user_defined(Volatility::Immutable),
    })
}

impl ScalarUDFImpl for Nvl2 {
    fn name(&self) -> &str {
        "nvl2"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        let [a, b, c] = args else {
            return plan_err!("nvl2 takes three arguments");
        };
        let Some(common) = type_union_resolution(&[b.clone(), c.clone()]) else {
            return plan_err!("nvl2 cannot return both {b} and {c}");
        };
        Ok(vec![a.clone(), common.clone(), common])
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        match args.get(1) {
            Some(t) => Ok(t.clone()),
            None => plan_err!("nvl2 takes three arguments"),
        }
    }
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let [_, b, c] = args.arg_fields else {
            return plan_err!("nvl2 takes three arguments");
        };
        let nullable = b.is_nullable() || c.is_nullable();
        Ok(Arc::new(Field::new(
            self.name(),
            b.data_type().clone(),
            nullable,
        )))
    }
    fn simplify(&self, args: Vec<Expr>, _info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        let [a, b, c] = <[Expr; 3]>::try_from(args).map_err(|_| {
            datafusion::error::DataFusionError::Plan("nvl2 takes three arguments".into())
        })?;
        Ok(ExprSimplifyResult::Simplified(
            when(a.is_not_null(), b).otherwise(c)?,
        ))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [a, b, c] = args.args.as_slice() else {
            return exec_err!("nvl2 takes three arguments");
        };
        let rows = args.number_rows;
        let present = arrow::compute::is_not_null(&a.to_array(rows)?)?;
        let chosen =
            arrow::compute::kernels::zip::zip(&present, &b.to_array(rows)?, &c.to_array(rows)?)?;
        Ok(ColumnarValue::Array(chosen))
    }
}
