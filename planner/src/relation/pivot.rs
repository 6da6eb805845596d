//! `groupBy(...).pivot(col, values).agg(...)`: one output column per pivot value and
//! aggregate, built the way Spark's analyzer (ResolvePivot) builds it so that results match:
//! aggregates of numeric or boolean type are computed once per (group, pivot value) and then
//! spread into columns, so a missing combination is NULL (also for `count`); other aggregates
//! are computed over the rows whose pivot column equals the value.
use arrow::datatypes::DataType;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, ScalarValue};
use datafusion::functions_aggregate::expr_fn::max;
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::utils::find_aggregate_exprs;
use datafusion::logical_expr::{
    binary_expr, col, lit, Expr, ExprSchemable, LogicalPlan, LogicalPlanBuilder, Operator,
};
use proto::connect::Aggregate;

use super::project::{output_column, rebase};
use crate::error::{PlanError, PlanResult};
use crate::literal::{spark_string, to_scalar};
use crate::types::sql_name;
use crate::Planner;

/// Spark's default `spark.sql.pivotMaxValues`: the most distinct values a pivot without an
/// explicit value list may produce.
const PIVOT_MAX_VALUES: usize = 10_000;
/// The pivot column's value inside the plan.
const PIVOT_VALUE: &str = "__sluice_pivot_value";

impl Planner<'_> {
    pub(crate) async fn pivot(&self, input: LogicalPlan, a: &Aggregate) -> PlanResult<LogicalPlan> {
        let pivot = a
            .pivot
            .as_ref()
            .ok_or_else(|| PlanError::invalid("pivot without a pivot column"))?;
        let pivot_col = pivot
            .col
            .as_ref()
            .ok_or_else(|| PlanError::invalid("pivot without a pivot column"))?;
        let schema = input.schema().clone();
        let pivot_expr = self.expr(pivot_col, &schema)?;
        let pivot_type = pivot_expr.get_type(&schema)?;
        let values = if pivot.values.is_empty() {
            let name = self.name_of(pivot_col, &schema);
            self.distinct_pivot_values(&input, pivot_expr.clone(), &name)
                .await?
        } else {
            pivot
                .values
                .iter()
                .map(|l| pivot_value(to_scalar(l, &self.config.time_zone)?, &pivot_type))
                .collect::<PlanResult<Vec<_>>>()?
        };
        let groups = self.named_exprs(&a.grouping_expressions, &schema)?;
        let items = a
            .aggregate_expressions
            .iter()
            .map(|e| Ok((self.expr(e, &schema)?, self.name_of(e, &schema))))
            .collect::<PlanResult<Vec<_>>>()?;
        let single = items.len() == 1;
        let column_name = |value: &ScalarValue, item: &str| {
            let value = spark_string(value);
            if single {
                value
            } else {
                format!("{value}_{item}")
            }
        };
        let group_columns: Vec<Expr> = groups.iter().map(output_column).collect();

        // First aggregation: by the groups and the pivot value.
        let mut by_value = groups.clone();
        by_value.push(pivot_expr.clone().alias(PIVOT_VALUE));
        let bare: Vec<Expr> = items.iter().map(|(e, _)| e.clone().unalias()).collect();
        let aggregates = find_aggregate_exprs(&bare);
        let first = LogicalPlanBuilder::from(input.clone())
            .aggregate(by_value, aggregates.clone())?
            .build()?;
        let rebased = bare
            .iter()
            .map(|e| rebase(e.clone(), &aggregates))
            .collect::<PlanResult<Vec<_>>>()?;
        let spreadable = rebased
            .iter()
            .map(|e| e.get_type(first.schema()).map(|t| spreadable(&t)))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .all(|s| s);

        let mut out = group_columns.clone();
        let plan = if spreadable {
            // Each (group, value) has one row now; a filtered max picks it out.
            let mut projected = group_columns.clone();
            projected.push(col(PIVOT_VALUE));
            let agg_name = |j: usize| format!("__sluice_pivot_agg_{j}");
            projected.extend(
                rebased
                    .into_iter()
                    .enumerate()
                    .map(|(j, e)| e.alias(agg_name(j))),
            );
            let mut spread = vec![];
            for value in &values {
                for (j, (_, item)) in items.iter().enumerate() {
                    let name = column_name(value, item);
                    let picked =
                        with_filter(max(col(agg_name(j))), matches(col(PIVOT_VALUE), value));
                    spread.push(picked.alias(&name));
                    out.push(Expr::Column(Column::from_name(name)));
                }
            }
            LogicalPlanBuilder::from(first)
                .project(projected)?
                .aggregate(group_columns, spread)?
                .build()?
        } else {
            // Each aggregate sees only the rows of its pivot value.
            let mut cells = vec![];
            for value in &values {
                let filter = matches(pivot_expr.clone(), value);
                for (e, (_, item)) in bare.iter().zip(&items) {
                    let cell = e
                        .clone()
                        .transform_down(|x| match x {
                            Expr::AggregateFunction(_) => {
                                Ok(Transformed::yes(with_filter(x, filter.clone())))
                            }
                            other => Ok(Transformed::no(other)),
                        })?
                        .data;
                    cells.push((cell, column_name(value, item)));
                }
            }
            let exprs: Vec<Expr> = cells.iter().map(|(c, _)| c.clone()).collect();
            let aggregates = find_aggregate_exprs(&exprs);
            let plan = LogicalPlanBuilder::from(input)
                .aggregate(groups.clone(), aggregates.clone())?
                .build()?;
            let mut projected = group_columns.clone();
            for (cell, name) in cells {
                projected.push(rebase(cell, &aggregates)?.alias(&name));
                out.push(Expr::Column(Column::from_name(name)));
            }
            LogicalPlanBuilder::from(plan).project(projected)?.build()?
        };
        self.finish_projection(plan, out)
    }

    /// A pivot without a value list pivots on the column's distinct values, sorted, as
    /// Spark's `collectPivotValues` does.
    async fn distinct_pivot_values(
        &self,
        input: &LogicalPlan,
        pivot: Expr,
        name: &str,
    ) -> PlanResult<Vec<ScalarValue>> {
        let plan = LogicalPlanBuilder::from(input.clone())
            .project(vec![pivot.alias(PIVOT_VALUE)])?
            .distinct()?
            .limit(0, Some(PIVOT_MAX_VALUES + 1))?
            .sort(vec![col(PIVOT_VALUE).sort(true, true)])?
            .build()?;
        let mut values = vec![];
        for batch in self.resolver.collect(plan).await? {
            for row in 0..batch.num_rows() {
                values.push(ScalarValue::try_from_array(batch.column(0), row)?);
            }
        }
        if values.len() > PIVOT_MAX_VALUES {
            return Err(PlanError::analysis(format!(
                "The pivot column {name} has more than {PIVOT_MAX_VALUES} distinct values, this could indicate an error. If this was intended, set spark.sql.pivotMaxValues to at least the number of distinct values of the pivot column."
            )));
        }
        Ok(values)
    }
}

/// Spark's PivotFirst spreads these result types; others are aggregated per value instead.
fn spreadable(t: &DataType) -> bool {
    t.is_integer() || t.is_floating() || matches!(t, DataType::Boolean | DataType::Decimal128(..))
}

/// A pivot value, cast to the pivot column's type as Spark casts it.
fn pivot_value(value: ScalarValue, to: &DataType) -> PlanResult<ScalarValue> {
    if value.is_null() {
        return ScalarValue::try_from(to).map_err(Into::into);
    }
    if &value.data_type() == to {
        return Ok(value);
    }
    value.cast_to(to).map_err(|_| {
        PlanError::analysis(format!(
            "[PIVOT_VALUE_DATA_TYPE_MISMATCH] Invalid pivot value '{}': value data type {} does not match pivot column data type {}. SQLSTATE: 42K09",
            spark_string(&value),
            sql_name(&value.data_type()),
            sql_name(to)
        ))
    })
}

/// `e <=> value`: the pivot matches NULL to a NULL value, as EqualNullSafe does.
fn matches(e: Expr, value: &ScalarValue) -> Expr {
    binary_expr(e, Operator::IsNotDistinctFrom, lit(value.clone()))
}

/// Adds `filter` to an aggregate function call (ANDed with a filter it already has).
pub(super) fn with_filter(agg: Expr, filter: Expr) -> Expr {
    match agg {
        Expr::AggregateFunction(AggregateFunction { func, mut params }) => {
            params.filter = Some(Box::new(match params.filter.take() {
                Some(f) => f.and(filter),
                None => filter,
            }));
            Expr::AggregateFunction(AggregateFunction { func, params })
        }
        other => other,
    }
}
