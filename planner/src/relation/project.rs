//! Projections and everything built from them: select, withColumns, renames, drop, toDF,
//! groupBy/agg. Spark allows aggregates, window functions and generators (`explode`) inside a
//! plain select; DataFusion wants them as their own plan nodes, so they are pulled out here.
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DFSchema};
use datafusion::logical_expr::expr::Alias;
use datafusion::logical_expr::utils::{find_aggregate_exprs, find_window_exprs};
use datafusion::logical_expr::{Expr, GroupingSet, LogicalPlan, LogicalPlanBuilder};
use proto::connect::aggregate::GroupType;
use proto::connect::expression::ExprType;
use proto::connect::Expression;

use crate::error::{PlanError, PlanResult};
use crate::expression::{column_at, split_name};
use crate::Planner;

/// Names `e` as Spark would, unless it already is that column or carries an alias.
pub(crate) fn spark_alias(e: Expr, name: String) -> Expr {
    match &e {
        // A generator names its own columns (`col`, or `pos`, `key`, `value`).
        Expr::Alias(_) | Expr::Unnest(_) => e,
        Expr::Column(c) if c.name == name => e,
        _ => e.alias(name),
    }
}

/// Replaces each occurrence of an extracted expression by a reference to its output column.
pub(crate) fn rebase(e: Expr, extracted: &[Expr]) -> PlanResult<Expr> {
    Ok(e.transform_down(|x| {
        // An extracted expression comes out under its alias (see `names_apart`) or its name.
        let name = extracted.iter().find_map(|ex| match ex {
            Expr::Alias(a) if *a.expr == x => Some(a.name.clone()),
            other if *other == x => Some(other.schema_name().to_string()),
            _ => None,
        });
        match name {
            Some(name) => Ok(Transformed::yes(Expr::Column(Column::from_name(name)))),
            None => Ok(Transformed::no(x)),
        }
    })?
    .data)
}

/// Aggregates DataFusion would name alike (`sum(i)` and `sum(CAST(i AS DECIMAL(10,2)))`
/// both read `sum(i)`) each get a name of their own.
pub(crate) fn names_apart(exprs: Vec<Expr>) -> Vec<Expr> {
    let names: Vec<String> = exprs.iter().map(|e| e.schema_name().to_string()).collect();
    exprs
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            if names.iter().filter(|n| **n == names[i]).count() > 1 {
                e.alias(format!("__sluice_agg_{i}"))
            } else {
                e
            }
        })
        .collect()
}

/// Spark allows two output columns of one name (`select a, a`); DataFusion only when they
/// differ in qualifier, so each duplicate gets a qualifier of its own. Referring to the name
/// afterwards is then ambiguous, as in Spark.
pub(crate) fn keep_duplicates(items: Vec<Expr>) -> Vec<Expr> {
    let key = |e: &Expr| match e {
        Expr::Column(c) => (c.relation.as_ref().map(|r| r.to_string()), c.name.clone()),
        other => (None, other.schema_name().to_string()),
    };
    let keys: Vec<(Option<String>, String)> = items.iter().map(key).collect();
    let names: Vec<&String> = keys.iter().map(|(_, n)| n).collect();
    items
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let clashes = keys.iter().enumerate().any(|(j, k)| {
                j != i
                    && (k == &keys[i]
                        || (k.1 == keys[i].1 && (k.0.is_none() || keys[i].0.is_none())))
            });
            if !clashes {
                return e;
            }
            let name = names[i].clone();
            let inner = match e {
                Expr::Alias(a) => *a.expr,
                other => other,
            };
            inner.alias_qualified(Some(format!("__sluice_dup_{i}").as_str()), name)
        })
        .collect()
}

pub(crate) fn strip_alias(e: &Expr) -> (&Expr, Option<&str>) {
    match e {
        Expr::Alias(Alias { expr, name, .. }) => (expr, Some(name)),
        other => (other, None),
    }
}

fn all_columns(schema: &DFSchema) -> Vec<Expr> {
    (0..schema.fields().len())
        .map(|i| column_at(schema, i))
        .collect()
}

impl Planner<'_> {
    /// `select(...)`: stars expand, unaliased expressions get Spark's names.
    pub(crate) fn project(
        &self,
        input: LogicalPlan,
        exprs: &[Expression],
    ) -> PlanResult<LogicalPlan> {
        let schema = input.schema().clone();
        let mut items = vec![];
        for e in exprs {
            match &e.expr_type {
                Some(ExprType::UnresolvedStar(star)) => items.extend(self.expand_star(
                    star.unparsed_target.as_deref(),
                    star.plan_id,
                    &schema,
                )?),
                _ => items.push(spark_alias(
                    self.expr(e, &schema)?,
                    self.name_of(e, &schema),
                )),
            }
        }
        // On failure, Spark's error for an operator whose operands do not fit, if any.
        let checked = items.clone();
        self.finish_projection(input, items).map_err(|err| {
            checked
                .iter()
                .find_map(|item| match item {
                    Expr::Alias(a) => crate::operand_types::mismatch(&a.expr, &schema, &a.name),
                    other => crate::operand_types::mismatch(
                        other,
                        &schema,
                        &other.schema_name().to_string(),
                    ),
                })
                .unwrap_or(err)
        })
    }

    fn expand_star(
        &self,
        target: Option<&str>,
        plan_id: Option<i64>,
        schema: &DFSchema,
    ) -> PlanResult<Vec<Expr>> {
        if let Some(id) = plan_id {
            if let Some(origin) = self.plan_id_schema(id) {
                return Ok(schema
                    .columns()
                    .into_iter()
                    .filter(|c| origin.columns().contains(c))
                    .map(Expr::Column)
                    .collect());
            }
        }
        let Some(target) = target else {
            return Ok(all_columns(schema));
        };
        let parts = split_name(target.trim_end_matches(".*"));
        let qualifier = parts.last().cloned().unwrap_or_default();
        let matched: Vec<Expr> = schema
            .columns()
            .into_iter()
            .filter(|c| {
                c.relation
                    .as_ref()
                    .is_some_and(|r| r.table().eq_ignore_ascii_case(&qualifier))
            })
            .map(Expr::Column)
            .collect();
        if !matched.is_empty() {
            return Ok(matched);
        }
        // `s.*` on a struct column expands its fields.
        let base = self.resolve_column(&parts.join("."), None, schema)?;
        match datafusion::logical_expr::ExprSchemable::get_type(&base, schema)? {
            arrow::datatypes::DataType::Struct(fields) => Ok(fields
                .iter()
                .map(|f| {
                    crate::field_access::get_field(base.clone(), f.name().as_str()).alias(f.name())
                })
                .collect()),
            _ => Err(PlanError::analysis(format!(
                "[CANNOT_RESOLVE_STAR_EXPAND] Cannot resolve {}.* given input columns {}.",
                crate::error::quote(target),
                schema
                    .columns()
                    .iter()
                    .map(|c| crate::error::quote(&c.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// Projects `items` over `input`, first computing any aggregates, window functions and
    /// generators they contain.
    pub(crate) fn finish_projection(
        &self,
        input: LogicalPlan,
        mut items: Vec<Expr>,
    ) -> PlanResult<LogicalPlan> {
        let mut plan = input;
        let aggregates = names_apart(find_aggregate_exprs(&items));
        if !aggregates.is_empty() {
            plan = LogicalPlanBuilder::from(plan)
                .aggregate(Vec::<Expr>::new(), aggregates.clone())?
                .build()?;
            items = items
                .into_iter()
                .map(|e| rebase(e, &aggregates))
                .collect::<PlanResult<_>>()?;
        }
        let windows = find_window_exprs(&items);
        if !windows.is_empty() {
            plan = LogicalPlanBuilder::window_plan(plan, windows.clone())?;
            items = items
                .into_iter()
                .map(|e| rebase(e, &windows))
                .collect::<PlanResult<_>>()?;
        }
        check_generators(&items)?;
        if !items
            .iter()
            .any(|e| matches!(strip_alias(e).0, Expr::Unnest(_)))
        {
            return Ok(LogicalPlanBuilder::from(plan)
                .project(keep_duplicates(items))?
                .build()?);
        }
        crate::generator::project(self, plan, items)
    }

    /// `withColumns`: replaces same-named columns in place, appends the others.
    pub(crate) fn with_columns(
        &self,
        input: LogicalPlan,
        aliases: &[proto::connect::expression::Alias],
    ) -> PlanResult<LogicalPlan> {
        let schema = input.schema().clone();
        let mut items = all_columns(&schema);
        let mut names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        for a in aliases {
            let name = a.name.join(".");
            let e = self
                .expr(crate::expression::required(&a.expr)?, &schema)?
                .alias(&name);
            match names.iter().position(|n| n.eq_ignore_ascii_case(&name)) {
                Some(i) => {
                    items[i] = e;
                    names[i] = name;
                }
                None => {
                    items.push(e);
                    names.push(name);
                }
            }
        }
        self.finish_projection(input, items)
    }

    pub(crate) fn drop_columns(
        &self,
        input: LogicalPlan,
        columns: &[Expression],
        names: &[String],
    ) -> PlanResult<LogicalPlan> {
        let schema = input.schema().clone();
        let mut dropped: Vec<Column> = vec![];
        for c in columns {
            // Dropping something that does not resolve is a no-op in Spark.
            if let Ok(Expr::Column(col)) = self.expr(c, &schema) {
                dropped.push(col);
            }
        }
        let keep: Vec<Expr> = schema
            .columns()
            .into_iter()
            .filter(|c| {
                !dropped.contains(c) && !names.iter().any(|n| n.eq_ignore_ascii_case(&c.name))
            })
            .map(Expr::Column)
            .collect();
        Ok(LogicalPlanBuilder::from(input).project(keep)?.build()?)
    }

    /// `groupBy(...).agg(...)` (and rollup / cube).
    /// Each expression, aliased with the name Spark gives it.
    pub(crate) fn named_exprs(
        &self,
        exprs: &[proto::connect::Expression],
        schema: &DFSchema,
    ) -> PlanResult<Vec<Expr>> {
        exprs
            .iter()
            .map(|e| Ok(spark_alias(self.expr(e, schema)?, self.name_of(e, schema))))
            .collect()
    }

    pub(crate) fn aggregate(
        &self,
        input: LogicalPlan,
        a: &proto::connect::Aggregate,
    ) -> PlanResult<LogicalPlan> {
        let schema = input.schema().clone();
        let groups = self.named_exprs(&a.grouping_expressions, &schema)?;
        let items = self.named_exprs(&a.aggregate_expressions, &schema)?;
        let group_exprs = match a.group_type() {
            GroupType::Groupby | GroupType::Unspecified => groups.clone(),
            GroupType::Rollup => vec![Expr::GroupingSet(GroupingSet::Rollup(groups.clone()))],
            GroupType::Cube => vec![Expr::GroupingSet(GroupingSet::Cube(groups.clone()))],
            GroupType::GroupingSets => {
                let sets = a
                    .grouping_sets
                    .iter()
                    .map(|set| self.named_exprs(&set.grouping_set, &schema))
                    .collect::<PlanResult<Vec<_>>>()?;
                vec![Expr::GroupingSet(GroupingSet::GroupingSets(sets))]
            }
            other => {
                return Err(PlanError::unsupported(format!(
                    "groupBy of type {}",
                    other.as_str_name()
                )))
            }
        };
        let aggregates = names_apart(find_aggregate_exprs(&items));
        let plan = LogicalPlanBuilder::from(input)
            .aggregate(group_exprs, aggregates.clone())?
            .build()?;
        let mut out: Vec<Expr> = groups.iter().map(output_column).collect();
        for (item, e) in items.into_iter().zip(&a.aggregate_expressions) {
            let item = rebase(item, &aggregates)?;
            missing_aggregation(&item, &schema, plan.schema(), || self.name_of(e, &schema))?;
            out.push(item);
        }
        self.finish_projection(plan, out)
    }
}

/// The column an aggregate's grouping expression comes out as.
pub(crate) fn output_column(g: &Expr) -> Expr {
    let name = match g {
        Expr::Alias(al) => al.name.clone(),
        Expr::Column(c) => return Expr::Column(c.clone()),
        other => other.schema_name().to_string(),
    };
    Expr::Column(Column::from_name(name))
}

/// Spark's MISSING_AGGREGATION: an aggregate's output item reads an input column that is
/// neither grouped nor inside an aggregate function.
fn missing_aggregation(
    item: &Expr,
    input: &DFSchema,
    grouped: &DFSchema,
    name: impl Fn() -> String,
) -> PlanResult<()> {
    let has = |s: &DFSchema, n: &str| s.fields().iter().any(|f| f.name() == n);
    let stray = item
        .column_refs()
        .into_iter()
        .any(|c| !has(grouped, &c.name) && has(input, &c.name));
    if stray {
        let name = name();
        return Err(PlanError::analysis(format!(
            "[MISSING_AGGREGATION] The non-aggregating expression \"{name}\" is based on columns which are not participating in the GROUP BY clause.\nAdd the columns or the expression to the GROUP BY, aggregate the expression, or use \"any_value({name})\" if you do not care which of the values within a group is returned. SQLSTATE: 42803"
        )));
    }
    Ok(())
}

/// `toDF(names...)`: renames every column by position.
pub(crate) fn to_df(input: LogicalPlan, names: &[String]) -> PlanResult<LogicalPlan> {
    let schema = input.schema().clone();
    if names.len() != schema.fields().len() {
        let old: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        return Err(PlanError::invalid(format!(
            "requirement failed: The number of columns doesn't match.\nOld column names ({}): {}\nNew column names ({}): {}",
            old.len(),
            old.join(", "),
            names.len(),
            names.join(", ")
        )));
    }
    let exprs: Vec<Expr> = names
        .iter()
        .enumerate()
        .map(|(i, n)| column_at(&schema, i).alias(n))
        .collect();
    Ok(LogicalPlanBuilder::from(input).project(exprs)?.build()?)
}

/// `withColumnsRenamed`: renames matching columns (case-insensitively); others stay.
pub(crate) fn rename(
    _p: &Planner,
    input: LogicalPlan,
    renames: &[(String, String)],
) -> PlanResult<LogicalPlan> {
    let schema = input.schema().clone();
    let exprs: Vec<Expr> = (0..schema.fields().len())
        .map(|i| {
            let c = column_at(&schema, i);
            let name = schema.field(i).name();
            match renames
                .iter()
                .find(|(from, _)| from.eq_ignore_ascii_case(name))
            {
                Some((_, to)) => c.alias(to),
                None => c,
            }
        })
        .collect();
    Ok(LogicalPlanBuilder::from(input).project(exprs)?.build()?)
}

/// Spark's limit on generators in one select: only at the top of an item, never inside
/// another expression (several top-level generators are allowed and multiply).
fn check_generators(items: &[Expr]) -> PlanResult<()> {
    for item in items {
        let (top, _) = strip_alias(item);
        let nested = match top {
            Expr::Unnest(u) => u.expr.exists(|e| Ok(matches!(e, Expr::Unnest(_))))?,
            other => other.exists(|e| Ok(matches!(e, Expr::Unnest(_))))?,
        };
        if nested {
            return Err(PlanError::analysis(format!(
                "[UNSUPPORTED_GENERATOR.NESTED_IN_EXPRESSIONS] The generator is not supported: nested in expressions \"{}\". SQLSTATE: 42K0E",
                item.schema_name()
            )));
        }
    }
    Ok(())
}
