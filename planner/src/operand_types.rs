//! Spark's analysis errors for a binary operator whose operands cannot meet: `name + 'x'`
//! on two strings (BINARY_OP_WRONG_TYPE) or `name = arr` between a string and an array
//! (BINARY_OP_DIFF_TYPES). DataFusion rejects the same operators with its own coercion
//! message, which names types but no columns; this finds the operator and words it as
//! Spark does. It is consulted only once planning has failed, so it cannot reject a plan
//! DataFusion would accept.
use arrow::datatypes::DataType;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::logical_expr::{BinaryExpr, Expr, ExprSchemable, Operator};

use crate::error::PlanError;
use crate::types::sql_name;

/// Spark's error for the first operator in `e` whose operand types do not fit; `name` is
/// Spark's text for `e` itself.
pub(crate) fn mismatch(e: &Expr, schema: &DFSchema, name: &str) -> Option<PlanError> {
    let mut found = None;
    let _ = e.apply(|x| {
        if let Expr::BinaryExpr(b) = x {
            let text = if x == e { name.to_string() } else { render(x) };
            if let Some(err) = operator_mismatch(b, schema, &text) {
                found = Some(err);
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    found
}

fn operator_mismatch(b: &BinaryExpr, schema: &DFSchema, name: &str) -> Option<PlanError> {
    let (l, r) = (
        b.left.get_type(schema).ok()?,
        b.right.get_type(schema).ok()?,
    );
    let arithmetic = matches!(
        b.op,
        Operator::Plus | Operator::Minus | Operator::Multiply | Operator::Divide | Operator::Modulo
    );
    let comparison = matches!(
        b.op,
        Operator::Eq
            | Operator::NotEq
            | Operator::Lt
            | Operator::LtEq
            | Operator::Gt
            | Operator::GtEq
            | Operator::IsDistinctFrom
            | Operator::IsNotDistinctFrom
    );
    if arithmetic && l == r && !arithmetic_operand(&l) {
        let required = match b.op {
            Operator::Plus | Operator::Minus => {
                "(\"NUMERIC\" or \"INTERVAL DAY TO SECOND\" or \"INTERVAL YEAR TO MONTH\" or \"INTERVAL\")"
            }
            Operator::Divide => "(\"DOUBLE\" or \"DECIMAL\")",
            _ => "\"NUMERIC\"",
        };
        return Some(PlanError::analysis(format!(
            "[DATATYPE_MISMATCH.BINARY_OP_WRONG_TYPE] Cannot resolve \"{name}\" due to data type mismatch: the binary operator requires the input type {required}, not \"{}\". SQLSTATE: 42K09",
            sql_name(&l)
        )));
    }
    if (arithmetic || comparison) && l != r && (nested(&l) || nested(&r)) {
        return Some(PlanError::analysis(format!(
            "[DATATYPE_MISMATCH.BINARY_OP_DIFF_TYPES] Cannot resolve \"{name}\" due to data type mismatch: the left and right operands of the binary operator have incompatible types (\"{}\" and \"{}\"). SQLSTATE: 42K09",
            sql_name(&l),
            sql_name(&r)
        )));
    }
    None
}

fn arithmetic_operand(t: &DataType) -> bool {
    t.is_numeric()
        || matches!(
            t,
            DataType::Null
                | DataType::Duration(_)
                | DataType::Interval(_)
                | DataType::Date32
                | DataType::Date64
                | DataType::Timestamp(..)
        )
}

fn nested(t: &DataType) -> bool {
    matches!(
        t,
        DataType::List(_)
            | DataType::LargeList(_)
            | DataType::FixedSizeList(..)
            | DataType::Struct(_)
            | DataType::Map(..)
    )
}

/// Spark's text for an operand: `(name + x)`.
fn render(e: &Expr) -> String {
    match e {
        Expr::Column(c) => c.name.clone(),
        Expr::Alias(a) => render(&a.expr),
        Expr::Literal(ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s)), _) => s.clone(),
        Expr::Literal(v, _) => v.to_string(),
        Expr::BinaryExpr(b) => format!("({} {} {})", render(&b.left), b.op, render(&b.right)),
        other => other.schema_name().to_string(),
    }
}
