//! The conditions and values of DELETE, UPDATE and MERGE, planned by sluice's planner so
//! they have Spark's semantics (functions, casts, `/` on integers) before delta-rs runs
//! them. A MERGE's columns are qualified by its source and target aliases; DELETE and
//! UPDATE see the table's columns unqualified (`t.v` is `v`).
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DFSchema};
use datafusion::execution::SessionState;
use datafusion::logical_expr::{Expr, LogicalPlan};
use delta_sink::dml::MergeClause;
use planner::ddl::WhenClause;
use planner::Planner;

use crate::catalog::SessionResolver;
use crate::error::SparkResult;
use crate::session::Session;

/// Plans expression text over one schema.
pub struct ExprPlanner<'s> {
    session: &'s Session,
    state: SessionState,
    schema: DFSchema,
    /// Drop column qualifiers (DELETE, UPDATE).
    unqualified: bool,
}

impl<'s> ExprPlanner<'s> {
    /// Over a single table read by `plan`, whose columns may be written `name.col`.
    pub fn table(session: &'s Session, name: &str, plan: &LogicalPlan) -> SparkResult<Self> {
        let schema = DFSchema::try_from_qualified_schema(
            delta_sink::dml::alias(name),
            plan.schema().as_arrow(),
        )?;
        Ok(Self {
            session,
            state: session.ctx.state(),
            schema,
            unqualified: true,
        })
    }

    /// Over a MERGE's target and source, each qualified by its alias.
    pub fn merge(
        session: &'s Session,
        target: (&str, &LogicalPlan),
        source: (&str, &LogicalPlan),
    ) -> SparkResult<Self> {
        let qualified = |(alias, plan): (&str, &LogicalPlan)| {
            DFSchema::try_from_qualified_schema(
                delta_sink::dml::alias(alias),
                plan.schema().as_arrow(),
            )
        };
        let mut schema = qualified(target)?;
        schema.merge(&qualified(source)?);
        Ok(Self {
            session,
            state: session.ctx.state(),
            schema,
            unqualified: false,
        })
    }

    pub fn plan(&self, text: &str) -> SparkResult<Expr> {
        let resolver = SessionResolver::new(self.session);
        let planner = Planner::new(&self.state, &resolver, self.session.planner_config());
        let e = planner.expression(text, &self.schema)?.unalias();
        if !self.unqualified {
            return Ok(e);
        }
        Ok(e.transform(|e| match e {
            Expr::Column(c) => Ok(Transformed::yes(Expr::Column(Column::new_unqualified(
                c.name,
            )))),
            other => Ok(Transformed::no(other)),
        })?
        .data)
    }

    pub fn option(&self, text: Option<String>) -> SparkResult<Option<Expr>> {
        text.map(|t| self.plan(&t)).transpose()
    }

    pub fn assignments(&self, set: Vec<(String, String)>) -> SparkResult<Vec<(String, Expr)>> {
        set.into_iter()
            .map(|(c, v)| Ok((c, self.plan(&v)?)))
            .collect()
    }

    /// One WHEN clause of a MERGE, planned.
    pub fn clause(&self, c: WhenClause) -> SparkResult<MergeClause> {
        Ok(match c {
            WhenClause::MatchedUpdate {
                condition,
                set,
                all,
            } => MergeClause::MatchedUpdate {
                condition: self.option(condition)?,
                set: self.assignments(set)?,
                all,
            },
            WhenClause::MatchedDelete { condition } => MergeClause::MatchedDelete {
                condition: self.option(condition)?,
            },
            WhenClause::NotMatchedInsert {
                condition,
                set,
                all,
            } => MergeClause::NotMatchedInsert {
                condition: self.option(condition)?,
                set: self.assignments(set)?,
                all,
            },
            WhenClause::NotMatchedBySourceUpdate { condition, set } => {
                MergeClause::NotMatchedBySourceUpdate {
                    condition: self.option(condition)?,
                    set: self.assignments(set)?,
                }
            }
            WhenClause::NotMatchedBySourceDelete { condition } => {
                MergeClause::NotMatchedBySourceDelete {
                    condition: self.option(condition)?,
                }
            }
        })
    }
}
