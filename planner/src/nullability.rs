//! Declares each projected column nullable exactly where Spark's analyzer does.
//!
//! DataFusion declares any scalar function's result nullable unless the function says
//! otherwise, and a cast as nullable as its input; Spark derives nullability per
//! expression (`upper('a')` cannot be null, `CAST('5' AS INT)` can, `b <=> 2` never is, a
//! scalar subquery always may be). Clients see it in `df.schema` and in `printSchema()`.
//! This pass recomputes Spark's answer for every projection, bottom-up so that a column
//! read from a subquery carries the corrected flag, and re-declares the columns where the
//! two differ (see [`crate::not_null`]). Only sound rules mark a value non-null: one that
//! turns out null fails the query instead of breaking the declared schema.
use std::sync::Arc;

use arrow::datatypes::{DataType, FieldRef};
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::logical_expr::expr::{Alias, Cast, ScalarFunction};
use datafusion::logical_expr::{
    Expr, ExprSchemable, LogicalPlan, Operator, Projection, ReturnFieldArgs, Union,
};

use crate::not_null::{self, known_not_null, maybe_null};

/// How a function's result nullability follows from its arguments, for functions whose
/// DataFusion declaration differs from Spark's.
#[derive(Clone, Copy)]
enum Rule {
    /// Never null (constructors, `known_not_null`).
    Never,
    /// Null only when an argument is (Spark's null-intolerant expressions).
    AnyArg,
    /// Null only when every argument is (`greatest`, `least`, `nvl`).
    AllArgs,
    /// Null only when the first argument is (`concat_ws`'s separator).
    FirstArg,
    /// Null only when a branch is (`if(c, a, b)`: `a` or `b`).
    Branches,
    /// Always declared nullable.
    Always,
}

/// DataFusion function name -> Spark's nullability rule.
const FUNCTIONS: &[(&str, Rule)] = &[
    (not_null::KNOWN_NOT_NULL, Rule::Never),
    (not_null::MAYBE_NULL, Rule::Always),
    ("make_array", Rule::Never),
    ("array", Rule::Never),
    ("named_struct", Rule::Never),
    ("struct", Rule::Never),
    ("map", Rule::Never),
    ("concat_ws", Rule::FirstArg),
    ("if", Rule::Branches),
    ("greatest", Rule::AllArgs),
    ("least", Rule::AllArgs),
    ("nvl", Rule::AllArgs),
    ("coalesce", Rule::AllArgs),
    ("upper", Rule::AnyArg),
    ("lower", Rule::AnyArg),
    ("btrim", Rule::AnyArg),
    ("ltrim", Rule::AnyArg),
    ("rtrim", Rule::AnyArg),
    ("character_length", Rule::AnyArg),
    ("octet_length", Rule::AnyArg),
    ("bit_length", Rule::AnyArg),
    ("initcap", Rule::AnyArg),
    ("reverse", Rule::AnyArg),
    ("repeat", Rule::AnyArg),
    ("lpad", Rule::AnyArg),
    ("rpad", Rule::AnyArg),
    ("substr", Rule::AnyArg),
    ("strpos", Rule::AnyArg),
    ("starts_with", Rule::AnyArg),
    ("ends_with", Rule::AnyArg),
    ("contains", Rule::AnyArg),
    ("regexp_replace", Rule::AnyArg),
    ("regexp_like", Rule::AnyArg),
    ("md5", Rule::AnyArg),
    ("abs", Rule::AnyArg),
    ("concat", Rule::AnyArg),
    ("to_char", Rule::AnyArg),
    ("to_date", Rule::AnyArg),
    ("array_has", Rule::AnyArg),
    ("cardinality", Rule::AnyArg),
    (crate::months_between::NAME, Rule::AnyArg),
    ("array_sort", Rule::AnyArg),
    ("to_timestamp_micros", Rule::AnyArg),
    ("to_local_time", Rule::AnyArg),
];

fn rule(name: &str) -> Option<Rule> {
    FUNCTIONS.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
}

/// `plan` with every projection's columns declared nullable as Spark declares them.
pub(crate) fn spark_nullability(plan: LogicalPlan) -> Result<LogicalPlan> {
    plan.transform_up_with_subqueries(|node| match node {
        LogicalPlan::Projection(p) => redeclare(p),
        LogicalPlan::Union(u) => union_nullability(u),
        other => Ok(Transformed::yes(other.recompute_schema()?)),
    })
    .map(|t| t.data)
}

/// A union's schema keeps the flags it was built with: a column is nullable where an
/// input's is (the types, already unified, stay).
fn union_nullability(u: Union) -> Result<Transformed<LogicalPlan>> {
    let fields = u.schema.iter().enumerate().map(|(i, (qualifier, field))| {
        let nullable = u
            .inputs
            .iter()
            .any(|input| input.schema().field(i).is_nullable());
        (
            qualifier.cloned(),
            Arc::new(field.as_ref().clone().with_nullable(nullable)),
        )
    });
    let schema = DFSchema::new_with_metadata(fields.collect(), u.schema.metadata().clone())?;
    Ok(Transformed::yes(LogicalPlan::Union(Union {
        inputs: u.inputs,
        schema: Arc::new(schema),
    })))
}

fn redeclare(p: Projection) -> Result<Transformed<LogicalPlan>> {
    let schema = p.input.schema().clone();
    let mut changed = false;
    let mut exprs = Vec::with_capacity(p.expr.len());
    for e in p.expr {
        let (qualifier, field) = e.to_field(&schema)?;
        let spark = nullable(&e, &schema)?;
        if spark == field.is_nullable() {
            exprs.push(e);
            continue;
        }
        changed = true;
        let inner = match e {
            Expr::Alias(Alias { expr, .. }) => *expr,
            other => other,
        };
        let declared = if spark {
            maybe_null(inner)
        } else {
            known_not_null(inner)
        };
        let metadata = (!field.metadata().is_empty()).then(|| field.metadata().clone().into());
        exprs.push(declared.alias_qualified_with_metadata(qualifier, field.name(), metadata));
    }
    let plan = LogicalPlan::Projection(Projection::try_new(exprs, p.input)?);
    Ok(if changed {
        Transformed::yes(plan)
    } else {
        Transformed::no(plan)
    })
}

/// Whether Spark's analyzer declares `e` nullable over `schema`.
fn nullable(e: &Expr, schema: &DFSchema) -> Result<bool> {
    let any = |es: &[Expr]| -> Result<bool> {
        for e in es {
            if nullable(e, schema)? {
                return Ok(true);
            }
        }
        Ok(false)
    };
    Ok(match e {
        Expr::Alias(a) => nullable(&a.expr, schema)?,
        Expr::Literal(v, _) => v.is_null(),
        Expr::Cast(Cast { expr, field }) => {
            nullable(expr, schema)? || force_nullable(&expr.get_type(schema)?, field.data_type())
        }
        Expr::TryCast(_) | Expr::ScalarSubquery(_) => true,
        Expr::IsNull(_)
        | Expr::IsNotNull(_)
        | Expr::IsTrue(_)
        | Expr::IsFalse(_)
        | Expr::IsNotTrue(_)
        | Expr::IsNotFalse(_)
        | Expr::Exists(_) => false,
        Expr::Not(x) | Expr::Negative(x) => nullable(x, schema)?,
        Expr::BinaryExpr(b) => match b.op {
            Operator::IsDistinctFrom | Operator::IsNotDistinctFrom => false,
            // Spark's division and remainder give NULL for a zero divisor outside ANSI
            // mode (DataFusion's own declaration stands there); a literal divisor other
            // than zero (a builder's unit conversion) cannot.
            Operator::Divide | Operator::Modulo if nonzero_literal(&b.right) => {
                nullable(&b.left, schema)?
            }
            Operator::Divide | Operator::Modulo => e.nullable(schema)?,
            _ => nullable(&b.left, schema)? || nullable(&b.right, schema)?,
        },
        Expr::Like(l) => nullable(&l.expr, schema)? || nullable(&l.pattern, schema)?,
        Expr::Between(b) => {
            nullable(&b.expr, schema)? || nullable(&b.low, schema)? || nullable(&b.high, schema)?
        }
        Expr::InList(i) => nullable(&i.expr, schema)? || any(&i.list)?,
        Expr::Case(c) => {
            let mut result = c.else_expr.is_none();
            if let Some(x) = &c.else_expr {
                result |= nullable(x, schema)?;
            }
            for (when, then) in &c.when_then_expr {
                // `CASE WHEN x IS NULL THEN ...` never takes a branch for an x that cannot be null.
                let dead = c.expr.is_none()
                    && matches!(when.as_ref(), Expr::IsNull(x) if !nullable(x, schema)?);
                result |= !dead && nullable(then, schema)?;
            }
            // DataFusion proves more CASEs non-null (`fillna`'s `CASE WHEN x IS NULL THEN 0
            // ELSE x END`), soundly.
            result && e.nullable(schema)?
        }
        Expr::ScalarFunction(f) => function(f, schema)?,
        _ => e.nullable(schema)?,
    })
}

fn function(f: &ScalarFunction, schema: &DFSchema) -> Result<bool> {
    let mut args = Vec::with_capacity(f.args.len());
    for a in &f.args {
        args.push(nullable(a, schema)?);
    }
    Ok(match rule(f.func.name()) {
        Some(Rule::Never) => false,
        Some(Rule::Always) => true,
        Some(Rule::AnyArg) => args.iter().any(|n| *n),
        Some(Rule::AllArgs) => args.iter().all(|n| *n),
        Some(Rule::FirstArg) => args.first().copied().unwrap_or(true),
        Some(Rule::Branches) => args.iter().skip(1).any(|n| *n),
        // The function's own declaration, given the arguments' Spark nullability.
        None => {
            let mut fields: Vec<FieldRef> = Vec::with_capacity(f.args.len());
            for (a, n) in f.args.iter().zip(&args) {
                let (_, field) = a.to_field(schema)?;
                fields.push(Arc::new(field.as_ref().clone().with_nullable(*n)));
            }
            let scalars: Vec<Option<&ScalarValue>> = f
                .args
                .iter()
                .map(|a| match a {
                    Expr::Literal(v, _) => Some(v),
                    _ => None,
                })
                .collect();
            f.func
                .return_field_from_args(ReturnFieldArgs {
                    arg_fields: &fields,
                    scalar_arguments: &scalars,
                })?
                .is_nullable()
        }
    })
}

/// Spark's `Cast.forceNullable`: casts that can give NULL for a non-null input.
fn nonzero_literal(e: &Expr) -> bool {
    match e {
        Expr::Literal(v, _) => {
            !v.is_null() && ScalarValue::new_zero(&v.data_type()).is_ok_and(|zero| zero != *v)
        }
        _ => false,
    }
}

fn force_nullable(from: &DataType, to: &DataType) -> bool {
    use DataType::*;
    let text = |t: &DataType| matches!(t, Utf8 | LargeUtf8 | Utf8View);
    match (from, to) {
        (f, t) if f == t || (text(f) && text(t)) => false,
        (Null, _) => false,
        (f, Binary | LargeBinary | BinaryView) if text(f) => false,
        (f, _) if text(f) => true,
        (_, t) if text(t) => false,
        (Timestamp(..), Int8 | Int16 | Int32) => true,
        (Float32 | Float64, Timestamp(..)) => true,
        (Timestamp(..), Date32) => false,
        (_, Date32) => true,
        (Date32, Timestamp(..)) => false,
        (Date32, _) => true,
        (_, Interval(arrow::datatypes::IntervalUnit::MonthDayNano)) => true,
        (_, Decimal128(p, s)) => !decimal_fits(from, *p, *s),
        (Float32 | Float64 | Decimal128(..) | Decimal256(..), t) if t.is_integer() => true,
        _ => false,
    }
}

/// Spark's `canNullSafeCastToDecimal`: every value of `from` fits DECIMAL(p, s).
fn decimal_fits(from: &DataType, p: u8, s: i8) -> bool {
    use DataType::*;
    let (fp, fs): (u8, i8) = match from {
        Boolean => (1, 0),
        Int8 => (3, 0),
        Int16 => (5, 0),
        Int32 => (10, 0),
        Int64 => (20, 0),
        Decimal128(fp, fs) => (*fp, *fs),
        _ => return false,
    };
    let (whole, from_whole) = (p as i16 - s as i16, fp as i16 - fs as i16);
    let wider = whole >= from_whole && s >= fs;
    // A decimal may also lose scale, never its integral digits.
    wider || (matches!(from, Decimal128(..)) && whole > from_whole)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::Field;
    use datafusion::logical_expr::{col, lit, LogicalPlanBuilder};

    fn plan(exprs: Vec<Expr>) -> LogicalPlan {
        let schema = arrow::datatypes::Schema::new(vec![
            Field::new("a", DataType::Utf8, false),
            Field::new("b", DataType::Int64, true),
        ]);
        let table = datafusion::logical_expr::table_scan(Some("t"), &schema, None)
            .unwrap()
            .build()
            .unwrap();
        LogicalPlanBuilder::from(table)
            .project(exprs)
            .unwrap()
            .build()
            .unwrap()
    }

    fn flags(exprs: Vec<Expr>) -> Vec<bool> {
        let p = spark_nullability(plan(exprs)).unwrap();
        p.schema()
            .fields()
            .iter()
            .map(|f| f.is_nullable())
            .collect()
    }

    #[test]
    fn casts_from_text_may_be_null_and_null_safe_equality_never_is() {
        let to_int = Expr::Cast(Cast::new(Box::new(col("a")), DataType::Int32));
        let eq = Expr::BinaryExpr(datafusion::logical_expr::BinaryExpr::new(
            Box::new(col("b")),
            Operator::IsNotDistinctFrom,
            Box::new(lit(2i64)),
        ));
        assert_eq!(
            flags(vec![to_int.alias("i"), eq, col("a")]),
            vec![true, false, false]
        );
    }

    #[test]
    fn names_and_qualifiers_survive() {
        let to_int = Expr::Cast(Cast::new(Box::new(col("a")), DataType::Int32));
        let before = plan(vec![to_int.clone().alias("x"), to_int]);
        let names: Vec<String> = before
            .schema()
            .columns()
            .iter()
            .map(|c| c.flat_name())
            .collect();
        let after = spark_nullability(before).unwrap();
        let again: Vec<String> = after
            .schema()
            .columns()
            .iter()
            .map(|c| c.flat_name())
            .collect();
        assert_eq!(names, again);
    }

    #[test]
    fn decimals_that_fit_stay_as_declared() {
        assert!(!force_nullable(
            &DataType::Int32,
            &DataType::Decimal128(10, 0)
        ));
        assert!(force_nullable(
            &DataType::Int64,
            &DataType::Decimal128(10, 0)
        ));
        assert!(force_nullable(&DataType::Float64, &DataType::Int64));
        assert!(!force_nullable(&DataType::Int64, &DataType::Float64));
    }
}
