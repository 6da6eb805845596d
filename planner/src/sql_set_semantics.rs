//! Two SQL shapes whose rows or columns DataFusion's SQL planner gives differently from
//! Spark, put right on the planned query:
//!
//! - `SELECT *` over `a JOIN b USING (k)`: Spark lists the USING columns first (the left
//!   side's for inner and left joins, the right side's for right joins, their coalesce for
//!   full joins), then the other columns of each side. DataFusion keeps whichever side's
//!   key sorts first by name, in the left side's position, so a left join could show the
//!   right side's NULL key.
//! - `EXCEPT ALL` / `INTERSECT ALL`: DataFusion matches rows without counting copies, so
//!   EXCEPT ALL dropped every copy of a row the right side has once.
use datafusion::common::tree_node::Transformed;
use datafusion::common::{JoinConstraint, JoinType, NullEquality};
use datafusion::logical_expr::utils::expand_wildcard;
use datafusion::logical_expr::{Distinct, Expr, LogicalPlan, Projection};
use datafusion::sql::sqlparser::ast::{self, SetExpr, SetOperator, SetQuantifier, Visit, Visitor};

use crate::error::PlanResult;
use crate::expression::column_at;

/// Whether the statement has an `EXCEPT ALL` or `INTERSECT ALL` (the rewrite of DataFusion's
/// set-operation joins is only done then, so a hand-written anti join is left alone).
pub(crate) fn has_bag_set_operation(statement: &ast::Statement) -> bool {
    struct Find(bool);
    impl Visitor for Find {
        type Break = ();
        fn pre_visit_query(&mut self, q: &ast::Query) -> std::ops::ControlFlow<()> {
            fn walk(e: &SetExpr) -> bool {
                match e {
                    SetExpr::SetOperation {
                        op,
                        set_quantifier,
                        left,
                        right,
                    } => {
                        (matches!(op, SetOperator::Except | SetOperator::Intersect)
                            && matches!(set_quantifier, SetQuantifier::All))
                            || walk(left)
                            || walk(right)
                    }
                    SetExpr::Query(q) => walk(&q.body),
                    _ => false,
                }
            }
            if walk(&q.body) {
                self.0 = true;
                return std::ops::ControlFlow::Break(());
            }
            std::ops::ControlFlow::Continue(())
        }
    }
    let mut find = Find(false);
    let _ = statement.visit(&mut find);
    find.0
}

/// Applies both fixes to a planned SQL query.
pub(crate) fn apply(plan: LogicalPlan, bag_set_operations: bool) -> PlanResult<LogicalPlan> {
    let external =
        |e: crate::error::PlanError| datafusion::error::DataFusionError::External(Box::new(e));
    let out = plan.transform_up_with_subqueries(|node| {
        if bag_set_operations {
            if let Some(rewritten) = bag_join(&node).map_err(external)? {
                return Ok(Transformed::yes(rewritten));
            }
        }
        match using_projection(&node).map_err(external)? {
            Some(rewritten) => Ok(Transformed::yes(rewritten)),
            None => Ok(Transformed::no(node)),
        }
    })?;
    Ok(out.data)
}

/// DataFusion's plan of `l EXCEPT ALL r` / `l INTERSECT ALL r`: an anti / semi join on every
/// column, position by position, NULLs matching, whose left input is not made distinct
/// (that is the DISTINCT form).
fn bag_join(node: &LogicalPlan) -> PlanResult<Option<LogicalPlan>> {
    let LogicalPlan::Join(j) = node else {
        return Ok(None);
    };
    let width = j.left.schema().fields().len();
    let set_shape = matches!(j.join_type, JoinType::LeftAnti | JoinType::LeftSemi)
        && j.null_equality == NullEquality::NullEqualsNull
        && j.filter.is_none()
        && j.join_constraint == JoinConstraint::On
        && width == j.right.schema().fields().len()
        && j.on.len() == width
        && j.on.iter().enumerate().all(|(i, (l, r))| {
            *l == column_at(j.left.schema(), i) && *r == column_at(j.right.schema(), i)
        })
        && !matches!(j.left.as_ref(), LogicalPlan::Distinct(Distinct::All(_)));
    if !set_shape {
        return Ok(None);
    }
    crate::relation::bag_set_operation(
        j.left.as_ref().clone(),
        j.right.as_ref().clone(),
        j.join_type,
    )
    .map(Some)
}

/// A projection that is exactly DataFusion's expansion of `*` (at its start) over a USING
/// join, given Spark's expansion instead.
fn using_projection(node: &LogicalPlan) -> PlanResult<Option<LogicalPlan>> {
    let LogicalPlan::Projection(p) = node else {
        return Ok(None);
    };
    let LogicalPlan::Join(j) = p.input.as_ref() else {
        return Ok(None);
    };
    if j.join_constraint != JoinConstraint::Using
        || !matches!(
            j.join_type,
            JoinType::Inner | JoinType::Left | JoinType::Right | JoinType::Full
        )
    {
        return Ok(None);
    }
    let datafusion_star = expand_wildcard(p.input.schema(), &p.input, None)?;
    let n = datafusion_star.len();
    if p.expr.len() < n || p.expr[..n] != datafusion_star[..] {
        return Ok(None);
    }
    let key_of = |e: &Expr| match e {
        Expr::Column(c) => Some(c.clone()),
        _ => None,
    };
    let keys: Vec<(datafusion::common::Column, datafusion::common::Column)> =
        j.on.iter()
            .filter_map(|(l, r)| key_of(l).zip(key_of(r)))
            .collect();
    if keys.len() != j.on.len() {
        return Ok(None);
    }
    let mut spark_star: Vec<Expr> = keys
        .iter()
        .map(|(l, r)| match j.join_type {
            JoinType::Right => Expr::Column(r.clone()),
            JoinType::Full => datafusion::functions::expr_fn::coalesce(vec![
                Expr::Column(l.clone()),
                Expr::Column(r.clone()),
            ])
            .alias(l.name.clone()),
            _ => Expr::Column(l.clone()),
        })
        .collect();
    for (side, is_key) in [(&j.left, 0usize), (&j.right, 1usize)] {
        let schema = side.schema();
        for i in 0..schema.fields().len() {
            let column = column_at(schema, i);
            let Expr::Column(c) = &column else { continue };
            let key = keys
                .iter()
                .any(|k| if is_key == 0 { &k.0 == c } else { &k.1 == c });
            if !key {
                spark_star.push(column);
            }
        }
    }
    spark_star.extend(p.expr[n..].iter().cloned());
    Ok(Some(LogicalPlan::Projection(Projection::try_new(
        spark_star,
        p.input.clone(),
    )?)))
}
