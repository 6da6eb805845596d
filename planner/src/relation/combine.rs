//! Joins and set operations.
use std::collections::HashSet;

use arrow::datatypes::DataType;
use datafusion::common::{Column, DFSchema, JoinType};
use datafusion::logical_expr::{cast, lit, Expr, LogicalPlan, LogicalPlanBuilder};
use proto::connect::join::JoinType as SparkJoin;
use proto::connect::set_operation::SetOpType;
use proto::connect::{Join, SetOperation};

use crate::error::{quote, PlanError, PlanResult};
use crate::expression::column_at;
use crate::Planner;

/// The plan's output column names, in order.
fn field_names(plan: &LogicalPlan) -> Vec<String> {
    plan.schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

/// `EXCEPT ALL` (`LeftAnti`) and `INTERSECT ALL` (`LeftSemi`) with bag semantics: a row
/// that appears m times on the left and n times on the right is kept max(m - n, 0) times
/// (except) or min(m, n) times (intersect). Numbering each copy of a row on both sides and
/// matching on (row, copy number) gives exactly that; DataFusion's own set operations match
/// on the row alone, so EXCEPT ALL dropped every copy. NULLs match NULLs, as in Spark.
pub(crate) fn bag_set_operation(
    left: LogicalPlan,
    right: LogicalPlan,
    kind: JoinType,
) -> PlanResult<LogicalPlan> {
    use datafusion::common::NullEquality;
    use datafusion::functions_window::expr_fn::row_number;
    use datafusion::logical_expr::ExprFunctionExt;
    const COPY: &str = "__sluice_copy";
    let names = field_names(&left);
    // The result keeps the left input's qualifiers, as a plain semi or anti join would.
    let qualifiers: Vec<Option<datafusion::common::TableReference>> = (0..names.len())
        .map(|i| left.schema().qualified_field(i).0.cloned())
        .collect();
    let numbered = |plan: LogicalPlan, side: &str| -> PlanResult<LogicalPlan> {
        let schema = plan.schema().clone();
        let columns: Vec<Expr> = (0..schema.fields().len())
            .map(|i| column_at(&schema, i))
            .collect();
        let copy = row_number().partition_by(columns).build()?.alias(COPY);
        let plan = LogicalPlanBuilder::from(plan).window(vec![copy])?.build()?;
        Ok(LogicalPlanBuilder::from(plan).alias(side)?.build()?)
    };
    let keys = |side: &str| -> Vec<Column> {
        names
            .iter()
            .chain(std::iter::once(&COPY.to_string()))
            .map(|n| Column::new(Some(side), n))
            .collect()
    };
    let joined = LogicalPlanBuilder::from(numbered(left, "__sluice_l")?)
        .join_detailed(
            numbered(right, "__sluice_r")?,
            kind,
            (keys("__sluice_l"), keys("__sluice_r")),
            None,
            NullEquality::NullEqualsNull,
        )?
        .build()?;
    let out: Vec<Expr> = names
        .iter()
        .zip(qualifiers)
        .map(|(n, q)| Expr::Column(Column::new(Some("__sluice_l"), n)).alias_qualified(q, n))
        .collect();
    Ok(LogicalPlanBuilder::from(joined).project(out)?.build()?)
}

fn join_type(t: SparkJoin) -> PlanResult<Option<JoinType>> {
    Ok(Some(match t {
        SparkJoin::Inner | SparkJoin::Unspecified => JoinType::Inner,
        SparkJoin::LeftOuter => JoinType::Left,
        SparkJoin::RightOuter => JoinType::Right,
        SparkJoin::FullOuter => JoinType::Full,
        SparkJoin::LeftSemi => JoinType::LeftSemi,
        SparkJoin::LeftAnti => JoinType::LeftAnti,
        SparkJoin::Cross => return Ok(None),
    }))
}

/// `(qualifier, name)` pairs of a plan's output.
fn qualified_names(plan: &LogicalPlan) -> HashSet<(Option<String>, String)> {
    plan.schema()
        .columns()
        .into_iter()
        .map(|c| (c.relation.map(|r| r.to_string()), c.name))
        .collect()
}

/// Whether `side` has an unqualified column whose name `other` also has.
fn has_bare_clash(side: &LogicalPlan, other: &LogicalPlan) -> bool {
    let names: HashSet<String> = other
        .schema()
        .columns()
        .into_iter()
        .map(|c| c.name)
        .collect();
    side.schema()
        .columns()
        .iter()
        .any(|c| c.relation.is_none() && names.contains(&c.name))
}

impl Planner<'_> {
    pub(crate) async fn join(&self, j: &Join) -> PlanResult<LogicalPlan> {
        let left_start = self.plan_id_mark();
        let mut left = self.input(&j.left).await?;
        let left_end = self.plan_id_mark();
        let mut right = self.input(&j.right).await?;
        let right_end = self.plan_id_mark();
        // DataFusion cannot hold `k` and `t.k` (or `t.k` twice) in one schema, Spark can.
        // A side whose bare names clash gets a qualifier of its own; `df["x"]` references
        // into that side are told about it.
        if has_bare_clash(&left, &right) {
            let alias = format!("__sluice_left_{left_end}");
            left = LogicalPlanBuilder::from(left)
                .alias(alias.as_str())?
                .build()?;
            self.requalify_since(left_start, left_end, left.schema());
        }
        if has_bare_clash(&right, &left)
            || !qualified_names(&left).is_disjoint(&qualified_names(&right))
        {
            let alias = format!("__sluice_right_{right_end}");
            right = LogicalPlanBuilder::from(right)
                .alias(alias.as_str())?
                .build()?;
            self.requalify_since(left_end, right_end, right.schema());
        }
        let Some(kind) = join_type(j.join_type())? else {
            let plan = LogicalPlanBuilder::from(left).cross_join(right)?;
            return Ok(match &j.join_condition {
                Some(c) => {
                    let cond = self.expr(c, plan.schema())?;
                    plan.filter(cond)?.build()?
                }
                None => plan.build()?,
            });
        };
        if !j.using_columns.is_empty() {
            return self.join_using(left, right, kind, &j.using_columns);
        }
        let plan = match &j.join_condition {
            Some(c) => {
                let both = left.schema().join(right.schema())?;
                let cond = self.expr(c, &both)?;
                LogicalPlanBuilder::from(left)
                    .join_on(right, kind, vec![cond])?
                    .build()?
            }
            None if kind == JoinType::Inner => {
                LogicalPlanBuilder::from(left).cross_join(right)?.build()?
            }
            None => LogicalPlanBuilder::from(left)
                .join_on(right, kind, vec![lit(true)])?
                .build()?,
        };
        Ok(plan)
    }

    /// `join(other, ["k"])`: the keys once (coalesced for full joins), then the other columns.
    fn join_using(
        &self,
        left: LogicalPlan,
        right: LogicalPlan,
        kind: JoinType,
        using: &[String],
    ) -> PlanResult<LogicalPlan> {
        let mut keys = vec![];
        for name in using {
            let find = |plan: &LogicalPlan, side: &str| -> PlanResult<Column> {
                match self.resolve_column(name, None, plan.schema()) {
                    Ok(Expr::Column(c)) => Ok(c),
                    _ => Err(PlanError::analysis(format!(
                        "[UNRESOLVED_USING_COLUMN_FOR_JOIN] USING column {} cannot be resolved on the {side} side of the join. The {side}-side columns: [{}].",
                        quote(name),
                        plan.schema().columns().iter().map(|c| quote(&c.name)).collect::<Vec<_>>().join(", ")
                    ))),
                }
            };
            keys.push((find(&left, "left")?, find(&right, "right")?));
        }
        let (lk, rk): (Vec<Column>, Vec<Column>) = keys.iter().cloned().unzip();
        let left_schema = left.schema().clone();
        let right_schema = right.schema().clone();
        let plan = LogicalPlanBuilder::from(left)
            .join(right, kind, (lk.clone(), rk.clone()), None)?
            .build()?;
        let mut out = vec![];
        for (i, (l, r)) in keys.iter().enumerate() {
            let e = match kind {
                JoinType::Right => Expr::Column(r.clone()),
                JoinType::Full => datafusion::functions::core::expr_fn::coalesce(vec![
                    Expr::Column(l.clone()),
                    Expr::Column(r.clone()),
                ]),
                _ => Expr::Column(l.clone()),
            };
            out.push(if matches!(e, Expr::Column(_)) {
                e
            } else {
                e.alias(using[i].as_str())
            });
        }
        for i in 0..left_schema.fields().len() {
            if let Expr::Column(c) = column_at(&left_schema, i) {
                if !lk.contains(&c) {
                    out.push(Expr::Column(c));
                }
            }
        }
        if !matches!(kind, JoinType::LeftSemi | JoinType::LeftAnti) {
            for i in 0..right_schema.fields().len() {
                if let Expr::Column(c) = column_at(&right_schema, i) {
                    if !rk.contains(&c) {
                        out.push(Expr::Column(c));
                    }
                }
            }
        }
        Ok(LogicalPlanBuilder::from(plan).project(out)?.build()?)
    }

    pub(crate) async fn set_operation(&self, s: &SetOperation) -> PlanResult<LogicalPlan> {
        let mut left = self.input(&s.left_input).await?;
        let mut right = self.input(&s.right_input).await?;
        let all = s.is_all.unwrap_or(false);
        let (ln, rn) = (left.schema().fields().len(), right.schema().fields().len());
        if s.by_name.unwrap_or(false) {
            (left, right) =
                self.align_by_name(left, right, s.allow_missing_columns.unwrap_or(false))?;
        } else if ln != rn {
            return Err(PlanError::analysis(format!(
                "[NUM_COLUMNS_MISMATCH] {} can only be performed on inputs with the same number of columns, but the first input has {ln} columns and the second input has {rn} columns.",
                s.set_op_type().as_str_name().trim_start_matches("SET_OP_TYPE_")
            )));
        }
        // Spark names the result after the left input, position by position.
        let names = field_names(&left);
        let rschema = right.schema().clone();
        let renamed: Vec<Expr> = names
            .iter()
            .enumerate()
            .map(|(i, n)| column_at(&rschema, i).alias(n))
            .collect();
        let right = LogicalPlanBuilder::from(right).project(renamed)?.build()?;
        Ok(match s.set_op_type() {
            SetOpType::Union if all => LogicalPlanBuilder::from(left).union(right)?.build()?,
            SetOpType::Union => LogicalPlanBuilder::from(left)
                .union_distinct(right)?
                .build()?,
            SetOpType::Intersect if all => bag_set_operation(left, right, JoinType::LeftSemi)?,
            SetOpType::Intersect => LogicalPlanBuilder::intersect(left, right, false)?,
            SetOpType::Except if all => bag_set_operation(left, right, JoinType::LeftAnti)?,
            SetOpType::Except => LogicalPlanBuilder::except(left, right, false)?,
            SetOpType::Unspecified => {
                return Err(PlanError::invalid("set operation without a type"))
            }
        })
    }

    /// Reorders `right` to `left`'s column names. With `allow_missing`, a column one side
    /// lacks is NULL there; columns only on the right come after the left's, as in Spark.
    fn align_by_name(
        &self,
        left: LogicalPlan,
        right: LogicalPlan,
        allow_missing: bool,
    ) -> PlanResult<(LogicalPlan, LogicalPlan)> {
        let (lschema, rschema) = (left.schema().clone(), right.schema().clone());
        let null_of = |t: &DataType, name: &str| {
            cast(lit(datafusion::common::ScalarValue::Null), t.clone()).alias(name)
        };
        let find = |schema: &DFSchema, name: &str| {
            schema
                .fields()
                .iter()
                .position(|f| f.name().eq_ignore_ascii_case(name))
        };
        let mut right_exprs = vec![];
        for f in lschema.fields() {
            match find(&rschema, f.name()) {
                Some(i) => right_exprs.push(column_at(&rschema, i).alias(f.name())),
                None if allow_missing => right_exprs.push(null_of(f.data_type(), f.name())),
                None => {
                    return Err(PlanError::analysis(format!(
                        "[UNRESOLVED_COLUMN_AMONG_FIELD_NAMES] Cannot resolve column name \"{}\" among ({}). SQLSTATE: 42703",
                        f.name(),
                        field_names(&right).join(", ")
                    )))
                }
            }
        }
        let mut left_exprs: Vec<Expr> = (0..lschema.fields().len())
            .map(|i| column_at(&lschema, i))
            .collect();
        if allow_missing {
            for (i, f) in rschema.fields().iter().enumerate() {
                if find(&lschema, f.name()).is_none() {
                    left_exprs.push(null_of(f.data_type(), f.name()));
                    right_exprs.push(column_at(&rschema, i));
                }
            }
        }
        let left = if left_exprs.len() > lschema.fields().len() {
            LogicalPlanBuilder::from(left)
                .project(left_exprs)?
                .build()?
        } else {
            left
        };
        let right = LogicalPlanBuilder::from(right)
            .project(right_exprs)?
            .build()?;
        Ok((left, right))
    }
}
