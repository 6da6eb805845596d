//! Spark Connect expressions back to SQL text, for the operations that take their
//! conditions as text (DataFrame `mergeInto`, whose conditions go to Delta's MERGE).
//! Covers columns, literals, operators, function calls and `expr("...")` strings.
use datafusion::common::ScalarValue;

use crate::error::{PlanError, PlanResult};
use crate::expression::split_name;
use crate::literal;
use crate::spark::expression::ExprType;
use crate::spark::Expression;

/// Spark's binary operators and their SQL spelling.
const OPERATORS: &[(&str, &str)] = &[
    ("==", "="),
    ("<=>", "<=>"),
    ("!=", "<>"),
    ("<", "<"),
    ("<=", "<="),
    (">", ">"),
    (">=", ">="),
    ("+", "+"),
    ("-", "-"),
    ("*", "*"),
    ("/", "/"),
    ("%", "%"),
    ("and", "AND"),
    ("or", "OR"),
];

fn identifier(part: &str) -> String {
    if !part.is_empty()
        && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !part.starts_with(|c: char| c.is_ascii_digit())
    {
        part.to_string()
    } else {
        format!("\"{}\"", part.replace('"', "\"\""))
    }
}

fn scalar(v: &ScalarValue) -> String {
    match v {
        v if v.is_null() => "NULL".into(),
        ScalarValue::Utf8(Some(s))
        | ScalarValue::Utf8View(Some(s))
        | ScalarValue::LargeUtf8(Some(s)) => {
            format!("'{}'", s.replace('\'', "''"))
        }
        other => other.to_string(),
    }
}

/// SQL text for `e`.
pub fn to_sql(e: &Expression, time_zone: &str) -> PlanResult<String> {
    let kind = e
        .expr_type
        .as_ref()
        .ok_or_else(|| PlanError::invalid("expression without a kind"))?;
    Ok(match kind {
        ExprType::ExpressionString(s) => format!("({})", s.expression),
        ExprType::UnresolvedAttribute(a) => split_name(&a.unparsed_identifier)
            .iter()
            .map(|p| identifier(p))
            .collect::<Vec<_>>()
            .join("."),
        ExprType::Literal(l) => scalar(&literal::to_scalar(l, time_zone)?),
        ExprType::Alias(a) => match &a.expr {
            Some(inner) => to_sql(inner, time_zone)?,
            None => return Err(PlanError::invalid("alias without an expression")),
        },
        ExprType::UnresolvedFunction(f) => {
            let args = f
                .arguments
                .iter()
                .map(|a| to_sql(a, time_zone))
                .collect::<PlanResult<Vec<_>>>()?;
            let name = f.function_name.to_lowercase();
            match (OPERATORS.iter().find(|(n, _)| *n == name), args.as_slice()) {
                (Some((_, op)), [a, b]) => format!("({a} {op} {b})"),
                (None, [a]) if name == "not" || name == "!" => format!("(NOT {a})"),
                (None, [a]) if name == "negative" => format!("(- {a})"),
                (None, [a]) if name == "isnull" => format!("({a} IS NULL)"),
                (None, [a]) if name == "isnotnull" => format!("({a} IS NOT NULL)"),
                _ => format!("{}({})", f.function_name, args.join(", ")),
            }
        }
        _ => return Err(PlanError::unsupported(
            "this kind of expression in a mergeInto condition or assignment (use expr(\"...\"))",
        )),
    })
}
