//! Spark's `input_file_name()`: the file the current row was read from.
//!
//! A file scan that knows its files (the server's csv, json and text readers, Auto Loader)
//! carries a hidden column [`INPUT_FILE_COLUMN`] holding each row's file URL, projected away
//! right above the scan. The function is planned as a placeholder; once the whole plan is
//! built, a projection that calls it gets the hidden column threaded up to it from the scan
//! (through projections, filters, aliases, sorts and limits) and reads it instead. Where no
//! such scan is below (a join, an aggregate, a parquet read), the placeholder yields `""`, as
//! Spark does when it does not know the file.
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, Result};
use datafusion::logical_expr::{col, Expr, LogicalPlan, LogicalPlanBuilder, Projection};

use crate::error::PlanResult;

/// The hidden column of a file scan that holds each row's file URL (`file:///...`).
pub const INPUT_FILE_COLUMN: &str = "__sluice_input_file_name";

fn is_placeholder(e: &Expr) -> bool {
    matches!(e, Expr::ScalarFunction(f) if f.name() == crate::udf::INPUT_FILE_NAME_NAME)
}

fn calls_placeholder(e: &Expr) -> bool {
    let mut found = false;
    let _ = e.apply(|x| {
        found |= is_placeholder(x);
        Ok(if found {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    });
    found
}

/// Resolves every `input_file_name()` of `plan` that has a file scan below it.
pub fn resolve(plan: LogicalPlan) -> PlanResult<LogicalPlan> {
    let needs = plan.exists(|node| Ok(node.expressions().iter().any(calls_placeholder)))?;
    if !needs {
        return Ok(plan);
    }
    Ok(plan
        .transform_up(|node| match node {
            LogicalPlan::Projection(p) if p.expr.iter().any(calls_placeholder) => {
                let Some(input) = surface((*p.input).clone())? else {
                    return Ok(Transformed::no(LogicalPlan::Projection(p)));
                };
                let file = col(Column::new_unqualified(INPUT_FILE_COLUMN));
                let exprs = p
                    .expr
                    .into_iter()
                    .map(|e| {
                        if !calls_placeholder(&e) {
                            return Ok(e);
                        }
                        // Keep the name the call gave the column (`input_file_name()`).
                        let name = match &e {
                            Expr::Alias(_) => None,
                            other => Some(other.schema_name().to_string()),
                        };
                        let replaced = e
                            .transform_up(|x| {
                                Ok(if is_placeholder(&x) {
                                    Transformed::yes(file.clone())
                                } else {
                                    Transformed::no(x)
                                })
                            })?
                            .data;
                        Ok(match name {
                            Some(n) => replaced.alias(n),
                            None => replaced,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(Transformed::yes(LogicalPlan::Projection(
                    Projection::try_new(exprs, input.into())?,
                )))
            }
            other => Ok(Transformed::no(other)),
        })?
        .data)
}

/// `plan` without [`INPUT_FILE_COLUMN`] among its output columns (a projection of the others
/// when it has it), so that `*` never shows it.
pub fn hide(plan: LogicalPlan) -> PlanResult<LogicalPlan> {
    if !plan
        .schema()
        .has_column_with_unqualified_name(INPUT_FILE_COLUMN)
    {
        return Ok(plan);
    }
    let visible: Vec<Expr> = plan
        .schema()
        .fields()
        .iter()
        .filter(|f| f.name() != INPUT_FILE_COLUMN)
        .map(|f| col(Column::new_unqualified(f.name())))
        .collect();
    Ok(LogicalPlanBuilder::from(plan).project(visible)?.build()?)
}

/// `plan` with [`INPUT_FILE_COLUMN`] among its output columns when a file scan below can give
/// it, else `plan` as it is (a streaming source keeps it across its slice's materialisation).
pub fn keep(plan: LogicalPlan) -> PlanResult<LogicalPlan> {
    Ok(match surface(plan.clone())? {
        Some(p) => p,
        None => plan,
    })
}

/// `plan` with [`INPUT_FILE_COLUMN`] among its output columns, when a file scan that has it
/// is reachable through nodes that keep each row's identity.
fn surface(plan: LogicalPlan) -> Result<Option<LogicalPlan>> {
    if plan
        .schema()
        .has_column_with_unqualified_name(INPUT_FILE_COLUMN)
    {
        return Ok(Some(plan));
    }
    match plan {
        LogicalPlan::Projection(p) => {
            let Some(input) = surface((*p.input).clone())? else {
                return Ok(None);
            };
            let mut exprs = p.expr;
            exprs.push(col(Column::new_unqualified(INPUT_FILE_COLUMN)));
            Ok(Some(LogicalPlan::Projection(Projection::try_new(
                exprs,
                input.into(),
            )?)))
        }
        LogicalPlan::Filter(_)
        | LogicalPlan::SubqueryAlias(_)
        | LogicalPlan::Sort(_)
        | LogicalPlan::Limit(_)
        | LogicalPlan::Repartition(_) => {
            let inputs: Vec<LogicalPlan> = plan.inputs().into_iter().cloned().collect();
            let [input] = <[LogicalPlan; 1]>::try_from(inputs).map_err(|_| {
                datafusion::error::DataFusionError::Internal("one input expected".into())
            })?;
            let Some(input) = surface(input)? else {
                return Ok(None);
            };
            Ok(Some(plan.with_new_exprs(plan.expressions(), vec![input])?))
        }
        _ => Ok(None),
    }
}
