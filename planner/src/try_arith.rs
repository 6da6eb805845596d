//! Spark's `try_add`, `try_subtract`, `try_multiply` and `try_divide`: the operator's answer,
//! or NULL where the operator would fail (integer overflow, a zero divisor).
use arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{
    binary_expr, cast, lit, try_cast, when, Expr, ExprSchemable, Operator,
};

use crate::error::PlanResult;
use crate::functions::{self, Call};

/// Integral types, narrowest first.
const INTEGRAL: [DataType; 4] = [
    DataType::Int8,
    DataType::Int16,
    DataType::Int32,
    DataType::Int64,
];

/// Wide enough for any sum, difference or product of two longs.
const EXACT: DataType = DataType::Decimal128(38, 0);

/// `try_add(a, b)` etc.: integers are computed exactly and NULL when the answer does not fit
/// the wider operand type; other types are the plain operator.
pub(crate) fn checked(c: Call, op: Operator) -> PlanResult<Expr> {
    let (p, schema) = (c.p, c.schema);
    let name = match op {
        Operator::Plus => "+",
        Operator::Minus => "-",
        _ => "*",
    };
    let [a, b] =
        <[Expr; 2]>::try_from(c.args).map_err(|_| functions::arity(&format!("try_{name}"), 2))?;
    let rank = |t: &DataType| INTEGRAL.iter().position(|i| i == t);
    let (ta, tb) = (a.get_type(schema)?, b.get_type(schema)?);
    if let (Some(ra), Some(rb)) = (rank(&ta), rank(&tb)) {
        // The exact answer, NULL when the wider operand type cannot hold it.
        let exact = binary_expr(cast(a, EXACT), op, cast(b, EXACT));
        return Ok(try_cast(exact, INTEGRAL[ra.max(rb)].clone()));
    }
    if matches!(ta, DataType::Date32) && op != Operator::Multiply {
        let days = match op {
            Operator::Plus => "date_add",
            _ => "date_sub",
        };
        return functions::call(p, days, vec![a, b], false, schema);
    }
    functions::call(p, name, vec![a, b], false, schema)
}

/// `try_divide(a, b)`: Spark's `/`, NULL for a zero divisor whatever the ANSI setting.
pub(crate) fn try_divide(c: Call) -> PlanResult<Expr> {
    let schema = c.schema;
    let [a, b] = <[Expr; 2]>::try_from(c.args).map_err(|_| functions::arity("try_divide", 2))?;
    let quotient = functions::spark_divide(a, b.clone(), schema, false);
    let ty = quotient.get_type(schema)?;
    Ok(when(b.eq(lit(0i32)), null_of(ty)).otherwise(quotient)?)
}

fn null_of(ty: DataType) -> Expr {
    cast(lit(ScalarValue::Null), ty)
}
