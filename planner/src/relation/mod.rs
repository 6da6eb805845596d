//! Spark Connect relations to DataFusion logical plans.
mod combine;
mod na;
mod pivot;
mod project;
mod summary;
mod with_relations;
pub(crate) use combine::bag_set_operation;
pub(crate) use project::{keep_duplicates, strip_alias};
mod source;

use std::collections::HashMap;

use arrow::datatypes::DataType;
use datafusion::logical_expr::{col, Expr, ExprSchemable, LogicalPlan, LogicalPlanBuilder};
use futures::future::BoxFuture;
use proto::connect::expression::{ExprType, Literal};
use proto::connect::relation::RelType;
use proto::connect::Relation;

use crate::error::{PlanError, PlanResult};
use crate::expression::column_at;
use crate::Planner;

/// Name of the helper column `tail` numbers rows with.
const ROW_NUMBER: &str = "__sluice_row_number";

impl Planner<'_> {
    pub(crate) fn relation<'b>(
        &'b self,
        rel: &'b Relation,
    ) -> BoxFuture<'b, PlanResult<LogicalPlan>> {
        Box::pin(async move {
            let plan = self.relation_inner(rel).await?;
            if let Some(id) = rel.common.as_ref().and_then(|c| c.plan_id) {
                self.remember_plan_id(id, plan.schema().clone());
            }
            Ok(plan)
        })
    }

    pub(crate) async fn input(&self, input: &Option<Box<Relation>>) -> PlanResult<LogicalPlan> {
        let rel = input
            .as_deref()
            .ok_or_else(|| PlanError::invalid("relation without an input"))?;
        self.relation(rel).await
    }

    async fn relation_inner(&self, rel: &Relation) -> PlanResult<LogicalPlan> {
        let kind = rel
            .rel_type
            .as_ref()
            .ok_or_else(|| PlanError::invalid("relation without a type"))?;
        match kind {
            RelType::Read(r) => self.read(r).await,
            RelType::LocalRelation(l) => {
                source::local_relation(self, l.data.as_deref(), l.schema.as_deref())
            }
            RelType::CachedLocalRelation(c) => {
                let bytes = self.resolver.cached_bytes(&c.hash)?;
                source::local_relation(self, Some(&bytes), None)
            }
            RelType::ChunkedCachedLocalRelation(c) => source::chunked_local_relation(self, c),
            RelType::Range(r) => source::range(self, r),
            RelType::Sql(s) => {
                let (named, positional) = sql_arguments(s)?;
                crate::sql::plan_query(self, &s.query, &named, &positional).await
            }
            RelType::Project(p) => {
                // `spark.sql("SELECT 1")`-style projections arrive without an input.
                let input = match &p.input {
                    Some(i) => self.relation(i).await?,
                    None => LogicalPlanBuilder::empty(true).build()?,
                };
                self.project(input, &p.expressions)
            }
            RelType::Filter(f) => {
                let input = self.input(&f.input).await?;
                let cond = f
                    .condition
                    .as_ref()
                    .ok_or_else(|| PlanError::invalid("filter without a condition"))?;
                let name = self.name_of(cond, input.schema());
                let cond = self.expr(cond, input.schema())?;
                // Spark names the expression and its type; DataFusion's planner does not.
                match cond.get_type(input.schema()) {
                    Ok(DataType::Boolean | DataType::Null) => {}
                    Err(err) => {
                        return Err(crate::operand_types::mismatch(&cond, input.schema(), &name)
                            .unwrap_or(err.into()))
                    }
                    Ok(other) => {
                        let ty = crate::types::sql_name(&other);
                        return Err(PlanError::analysis(format!(
                            "[DATATYPE_MISMATCH.FILTER_NOT_BOOLEAN] Cannot resolve \"{name}\" due to data type mismatch: Filter expression \"{name}\" of type \"{ty}\" is not a boolean. SQLSTATE: 42K09"
                        )));
                    }
                }
                Ok(LogicalPlanBuilder::from(input).filter(cond)?.build()?)
            }
            RelType::Sort(s) => {
                let input = self.input(&s.input).await?;
                let order = s
                    .order
                    .iter()
                    .map(|o| self.sort(o, input.schema()))
                    .collect::<PlanResult<Vec<_>>>()?;
                Ok(LogicalPlanBuilder::from(input).sort(order)?.build()?)
            }
            RelType::Limit(l) => {
                let input = self.input(&l.input).await?;
                Ok(LogicalPlanBuilder::from(input)
                    .limit(0, Some(non_negative(l.limit, "limit")?))?
                    .build()?)
            }
            RelType::Offset(o) => {
                let input = self.input(&o.input).await?;
                Ok(LogicalPlanBuilder::from(input)
                    .limit(non_negative(o.offset, "offset")?, None)?
                    .build()?)
            }
            RelType::Tail(t) => {
                let input = self.input(&t.input).await?;
                self.tail(input, non_negative(t.limit, "tail")?)
            }
            RelType::Deduplicate(d) => {
                let input = self.input(&d.input).await?;
                self.deduplicate(
                    input,
                    &d.column_names,
                    d.all_columns_as_keys.unwrap_or(false),
                )
            }
            RelType::Aggregate(a) => {
                let input = self.input(&a.input).await?;
                if a.group_type() == proto::connect::aggregate::GroupType::Pivot {
                    return self.pivot(input, a).await;
                }
                self.aggregate(input, a)
            }
            RelType::WithRelations(w) => self.with_relations(w).await,
            RelType::Describe(d) => {
                let input = self.input(&d.input).await?;
                self.describe(input, &d.cols)
            }
            RelType::Summary(s) => {
                let input = self.input(&s.input).await?;
                self.summary(input, &s.statistics)
            }
            RelType::Join(j) => self.join(j).await,
            RelType::SetOp(s) => self.set_operation(s).await,
            RelType::SubqueryAlias(a) => {
                let input = self.input(&a.input).await?;
                Ok(LogicalPlanBuilder::from(input)
                    .alias(a.alias.as_str())?
                    .build()?)
            }
            RelType::ToDf(t) => {
                let input = self.input(&t.input).await?;
                project::to_df(input, &t.column_names)
            }
            RelType::WithColumnsRenamed(w) => {
                let input = self.input(&w.input).await?;
                let mut renames: Vec<(String, String)> = w
                    .rename_columns_map
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                renames.extend(
                    w.renames
                        .iter()
                        .map(|r| (r.col_name.clone(), r.new_col_name.clone())),
                );
                project::rename(self, input, &renames)
            }
            RelType::WithColumns(w) => {
                let input = self.input(&w.input).await?;
                self.with_columns(input, &w.aliases)
            }
            RelType::Drop(d) => {
                let input = self.input(&d.input).await?;
                self.drop_columns(input, &d.columns, &d.column_names)
            }
            RelType::Sample(s) => {
                let input = self.input(&s.input).await?;
                source::sample(self, input, s)
            }
            RelType::FillNa(f) => {
                let input = self.input(&f.input).await?;
                self.fill_na(input, f)
            }
            RelType::DropNa(d) => {
                let input = self.input(&d.input).await?;
                self.drop_na(input, d)
            }
            RelType::Replace(r) => {
                let input = self.input(&r.input).await?;
                self.replace_na(input, r)
            }
            // Hints and repartitioning change physical layout only; DataFusion picks its own.
            RelType::Hint(h) => self.input(&h.input).await,
            // The streaming engine reads the watermark from the plan; a batch ignores it.
            RelType::WithWatermark(w) => {
                let input = self.input(&w.input).await?;
                if !input
                    .schema()
                    .fields()
                    .iter()
                    .any(|f| f.name().eq_ignore_ascii_case(&w.event_time))
                {
                    return Err(PlanError::UnresolvedColumn {
                        name: format!("`{}`", w.event_time),
                        suggestions: input
                            .schema()
                            .fields()
                            .iter()
                            .map(|f| format!("`{}`", f.name()))
                            .collect::<Vec<_>>()
                            .join(", "),
                    });
                }
                Ok(input)
            }
            RelType::Repartition(r) => self.input(&r.input).await,
            RelType::RepartitionByExpression(r) => self.input(&r.input).await,
            RelType::ShowString(_) | RelType::HtmlString(_) => {
                Err(PlanError::unsupported("show() inside another relation"))
            }
            other => Err(PlanError::unsupported(format!(
                "relation {}",
                format!("{other:?}").split('(').next().unwrap_or("?")
            ))),
        }
    }

    /// The last `n` rows, in order: number the rows, keep the highest numbers.
    fn tail(&self, input: LogicalPlan, n: usize) -> PlanResult<LogicalPlan> {
        let columns: Vec<Expr> = (0..input.schema().fields().len())
            .map(|i| column_at(input.schema(), i))
            .collect();
        let row_number = self
            .state
            .window_functions()
            .get("row_number")
            .cloned()
            .ok_or_else(|| PlanError::UnknownFunction("`row_number`".into()))?;
        let numbered = Expr::WindowFunction(Box::new(
            datafusion::logical_expr::expr::WindowFunction::new(
                datafusion::logical_expr::WindowFunctionDefinition::WindowUDF(row_number),
                vec![],
            ),
        ))
        .alias(ROW_NUMBER);
        let plan = LogicalPlanBuilder::from(input)
            .window(vec![numbered])?
            .sort(vec![col(ROW_NUMBER).sort(false, false)])?
            .limit(0, Some(n))?
            .sort(vec![col(ROW_NUMBER).sort(true, false)])?
            .project(columns)?
            .build()?;
        Ok(plan)
    }

    fn deduplicate(
        &self,
        input: LogicalPlan,
        names: &[String],
        all: bool,
    ) -> PlanResult<LogicalPlan> {
        if all || names.is_empty() {
            return Ok(LogicalPlanBuilder::from(input).distinct()?.build()?);
        }
        let schema = input.schema().clone();
        let on = names
            .iter()
            .map(|n| self.resolve_column(n, None, &schema))
            .collect::<PlanResult<Vec<_>>>()?;
        let all_columns: Vec<Expr> = (0..schema.fields().len())
            .map(|i| column_at(&schema, i))
            .collect();
        Ok(LogicalPlanBuilder::from(input)
            .distinct_on(on, all_columns, None)?
            .build()?)
    }
}

fn non_negative(n: i32, what: &str) -> PlanResult<usize> {
    usize::try_from(n).map_err(|_| {
        PlanError::analysis(format!(
            "[INVALID_LIMIT_LIKE_EXPRESSION.IS_NEGATIVE] The {what} like expression \"{n}\" is invalid. The {what} expression must be equal to or greater than 0, but got {n}."
        ))
    })
}

/// SQL parameters: Spark 4 clients send expressions, older ones literals.
#[allow(deprecated)] // `args` / `pos_args` are what older clients send
fn sql_arguments(s: &proto::connect::Sql) -> PlanResult<(HashMap<String, Literal>, Vec<Literal>)> {
    let literal = |e: &proto::connect::Expression| match &e.expr_type {
        Some(ExprType::Literal(l)) => Ok(l.clone()),
        _ => Err(PlanError::unsupported(
            "a SQL parameter that is not a literal",
        )),
    };
    let mut named: HashMap<String, Literal> =
        s.args.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    for (k, v) in &s.named_arguments {
        named.insert(k.clone(), literal(v)?);
    }
    let mut positional = s.pos_args.clone();
    for e in &s.pos_arguments {
        positional.push(literal(e)?);
    }
    Ok((named, positional))
}
