//! Declares a value's nullability as Spark does where DataFusion's operator differs:
//! `explode` of an array whose elements cannot be null gives a non-null `col`, while
//! DataFusion's unnest declares every output column nullable; and Spark declares a cast
//! of a double to a timestamp nullable even where ANSI mode makes a NaN fail instead.
use std::sync::Arc;

use arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

#[derive(Debug, PartialEq, Eq, Hash)]
struct KnownNotNull {
    signature: Signature,
    nullable: bool,
}

/// `e`, declared non-nullable. Only for values that are never null at run time; one
/// that is fails the query rather than breaking the declared schema.
pub(crate) fn known_not_null(e: Expr) -> Expr {
    declared(e, false)
}

/// `e`, declared nullable whatever DataFusion infers.
pub(crate) fn maybe_null(e: Expr) -> Expr {
    declared(e, true)
}

fn declared(e: Expr, nullable: bool) -> Expr {
    Expr::ScalarFunction(ScalarFunction::new_udf(Arc::new(udf(nullable)), vec![e]))
}

fn udf(nullable: bool) -> ScalarUDF {
    ScalarUDF::new_from_impl(KnownNotNull {
        signature: Signature::any(1, Volatility::Immutable),
        nullable,
    })
}

/// The wrappers' names. SQL text marks its literals with `KNOWN_NOT_NULL`: Spark's
/// literals are never null, where the planned form of some (`1L`, `DATE '..'`) is a cast
/// of text, which may be.
pub(crate) const KNOWN_NOT_NULL: &str = "known_not_null";
pub(crate) const MAYBE_NULL: &str = "maybe_null";

/// `known_not_null` for SQL text.
pub(crate) fn sql_udf() -> ScalarUDF {
    udf(false)
}

impl ScalarUDFImpl for KnownNotNull {
    fn name(&self) -> &str {
        if self.nullable {
            MAYBE_NULL
        } else {
            KNOWN_NOT_NULL
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[0].clone())
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let field = args.arg_fields[0].as_ref().clone();
        Ok(Arc::new(field.with_nullable(self.nullable)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [value] = <[ColumnarValue; 1]>::try_from(args.args)
            .map_err(|_| datafusion::error::DataFusionError::Internal("one argument".into()))?;
        let nulls = !self.nullable
            && match &value {
                ColumnarValue::Array(a) => a.null_count() > 0,
                ColumnarValue::Scalar(s) => s.is_null(),
            };
        if nulls {
            return exec_err!("a value declared non-null is null");
        }
        Ok(value)
    }
}
