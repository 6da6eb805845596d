//! `df.na`: fillna, dropna and replace, as projections and filters.
use arrow::datatypes::DataType;
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::logical_expr::{cast, lit, when, Expr, LogicalPlan, LogicalPlanBuilder};
use proto::connect::expression::Literal;
use proto::connect::{NaDrop, NaFill, NaReplace};

use crate::error::{PlanError, PlanResult};
use crate::expression::column_at;
use crate::{literal, Planner};

fn is_numeric(t: &DataType) -> bool {
    t.is_numeric()
}

/// Whether a fill/replace value of type `value` applies to a column of type `column`
/// (Spark: numbers to numeric columns, strings to strings, booleans to booleans).
fn applies(value: &DataType, column: &DataType) -> bool {
    match value {
        v if is_numeric(v) => is_numeric(column),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            matches!(
                column,
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            )
        }
        DataType::Boolean => matches!(column, DataType::Boolean),
        _ => false,
    }
}

/// Indices of the columns an operation touches: the named ones, or all.
fn targets(p: &Planner, schema: &DFSchema, cols: &[String]) -> PlanResult<Vec<usize>> {
    if cols.is_empty() {
        return Ok((0..schema.fields().len()).collect());
    }
    cols.iter()
        .map(|c| {
            let e = p.resolve_column(c, None, schema)?;
            let Expr::Column(col) = e else {
                return Err(PlanError::analysis(format!("{c} is not a column")));
            };
            schema.index_of_column(&col).map_err(Into::into)
        })
        .collect()
}

fn scalars(p: &Planner, values: &[Literal]) -> PlanResult<Vec<ScalarValue>> {
    values
        .iter()
        .map(|v| literal::to_scalar(v, &p.config.time_zone))
        .collect()
}

impl Planner<'_> {
    pub(crate) fn fill_na(&self, input: LogicalPlan, f: &NaFill) -> PlanResult<LogicalPlan> {
        let schema = input.schema().clone();
        let values = scalars(self, &f.values)?;
        let chosen = targets(self, &schema, &f.cols)?;
        if values.len() != 1 && values.len() != chosen.len() {
            return Err(PlanError::invalid(
                "fillna needs one value, or one per column",
            ));
        }
        let exprs = (0..schema.fields().len())
            .map(|i| {
                let c = column_at(&schema, i);
                let Some(pos) = chosen.iter().position(|&j| j == i) else {
                    return c;
                };
                let value = &values[if values.len() == 1 { 0 } else { pos }];
                let ty = schema.field(i).data_type();
                if !applies(&value.data_type(), ty) {
                    return c;
                }
                let name = schema.field(i).name().clone();
                let coalesce = datafusion::functions::core::expr_fn::coalesce(vec![
                    c,
                    cast(lit(value.clone()), ty.clone()),
                ]);
                coalesce.alias(name)
            })
            .collect::<Vec<_>>();
        Ok(LogicalPlanBuilder::from(input).project(exprs)?.build()?)
    }

    /// Keeps rows with at least `min_non_nulls` non-null (and non-NaN) values among the columns.
    pub(crate) fn drop_na(&self, input: LogicalPlan, d: &NaDrop) -> PlanResult<LogicalPlan> {
        let schema = input.schema().clone();
        let chosen = targets(self, &schema, &d.cols)?;
        let min = d.min_non_nulls.unwrap_or(chosen.len() as i32);
        let mut present: Option<Expr> = None;
        for &i in &chosen {
            let c = column_at(&schema, i);
            let mut ok = c.clone().is_not_null();
            if matches!(
                schema.field(i).data_type(),
                DataType::Float32 | DataType::Float64
            ) {
                ok = ok.and(Expr::Not(Box::new(crate::functions::scalar(
                    self,
                    "isnan",
                    vec![c],
                )?)));
            }
            let one = when(ok, lit(1i32)).otherwise(lit(0i32))?;
            present = Some(match present {
                Some(sum) => sum + one,
                None => one,
            });
        }
        let Some(present) = present else {
            return Ok(input);
        };
        Ok(LogicalPlanBuilder::from(input)
            .filter(present.gt_eq(lit(min)))?
            .build()?)
    }

    pub(crate) fn replace_na(&self, input: LogicalPlan, r: &NaReplace) -> PlanResult<LogicalPlan> {
        let schema = input.schema().clone();
        let chosen = targets(self, &schema, &r.cols)?;
        let tz = &self.config.time_zone;
        let pairs = r
            .replacements
            .iter()
            .map(|p| {
                let old = p
                    .old_value
                    .as_ref()
                    .map(|v| literal::to_scalar(v, tz))
                    .transpose()?;
                let new = p
                    .new_value
                    .as_ref()
                    .map(|v| literal::to_scalar(v, tz))
                    .transpose()?;
                Ok((
                    old.unwrap_or(ScalarValue::Null),
                    new.unwrap_or(ScalarValue::Null),
                ))
            })
            .collect::<PlanResult<Vec<_>>>()?;
        let exprs = (0..schema.fields().len())
            .map(|i| {
                let c = column_at(&schema, i);
                let ty = schema.field(i).data_type().clone();
                let applicable: Vec<&(ScalarValue, ScalarValue)> = pairs
                    .iter()
                    .filter(|(old, _)| old.is_null() || applies(&old.data_type(), &ty))
                    .collect();
                if !chosen.contains(&i) || applicable.is_empty() {
                    return Ok(c);
                }
                let mut cases = applicable.into_iter();
                let (old, new) = cases
                    .next()
                    .ok_or_else(|| PlanError::invalid("no replacement"))?;
                let matches = |old: &ScalarValue| {
                    if old.is_null() {
                        c.clone().is_null()
                    } else {
                        c.clone().eq(cast(lit(old.clone()), ty.clone()))
                    }
                };
                let mut builder = when(matches(old), cast(lit(new.clone()), ty.clone()));
                for (old, new) in cases {
                    builder = builder.when(matches(old), cast(lit(new.clone()), ty.clone()));
                }
                Ok(builder.otherwise(c)?.alias(schema.field(i).name()))
            })
            .collect::<PlanResult<Vec<_>>>()?;
        Ok(LogicalPlanBuilder::from(input).project(exprs)?.build()?)
    }
}
