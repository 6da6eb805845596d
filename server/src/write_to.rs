//! `df.writeTo(table)`: Spark's DataFrameWriterV2 (`WriteOperationV2`) on Delta tables:
//! create, replace, createOrReplace, append, overwrite(condition) and overwritePartitions.
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use datafusion::catalog::MemTable;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, ScalarValue};
use datafusion::datasource::provider_as_source;
use datafusion::logical_expr::{col, lit, Expr, LogicalPlan, LogicalPlanBuilder};
use datafusion::prelude::DataFrame;
use planner::PlanError;
use proto::connect::expression::ExprType;
use proto::connect::relation::RelType;
use proto::connect::write_operation_v2::Mode;
use proto::connect::{read, Expression, Filter, Read, Relation, WriteOperationV2};

use crate::delta_ops::{self, TableBody};
use crate::error::{SparkError, SparkResult};
use crate::execute::plan_relation;
use crate::session::Session;

/// Table properties Spark's TableCatalog reserves: they set the table's location and
/// comment rather than a property.
const PROP_LOCATION: &str = "location";
const PROP_COMMENT: &str = "comment";

pub async fn write_to(session: &Session, w: WriteOperationV2) -> SparkResult<()> {
    let input = w
        .input
        .as_ref()
        .ok_or_else(|| SparkError::invalid("writeTo without input"))?;
    delta_ops::only_delta(w.provider.as_deref(), "writeTo(..).using")?;
    let name = planner::ddl::parse_table_name(&w.table_name)?;
    let options = crate::writers::lower_keys(&w.options);
    let plan = plan_relation(session, input).await?;
    match w.mode() {
        mode @ (Mode::Create | Mode::Replace | Mode::CreateOrReplace) => {
            let mut properties = w.table_properties.clone();
            let create = planner::ddl::CreateTable {
                name,
                replace: mode != Mode::Create,
                or_create: mode == Mode::CreateOrReplace,
                using: Some("delta".into()),
                partitioned_by: partition_columns(&w.partitioning_columns)?,
                cluster_by: w.clustering_columns.clone(),
                location: properties.remove(PROP_LOCATION),
                comment: properties.remove(PROP_COMMENT),
                properties: sorted(properties),
                ..Default::default()
            };
            delta_ops::create_table(session, create, TableBody::Query(Box::new(plan), options))
                .await
        }
        other => {
            // The table is already defined: its layout and properties are not the writer's.
            if !w.partitioning_columns.is_empty()
                || !w.clustering_columns.is_empty()
                || !w.table_properties.is_empty()
            {
                return Err(SparkError::Plan(PlanError::analysis(format!(
                    "[UNSUPPORTED_FEATURE.TABLE_OPERATION] partitionedBy, clusterBy and tableProperty only apply when writeTo creates or replaces the table; {} writes to an existing table.",
                    mode_name(other)
                ))));
            }
            match other {
                Mode::Append => {
                    delta_ops::insert_into(session, plan, &name, &[], false, true, &options).await
                }
                Mode::Overwrite => {
                    let condition = w.overwrite_condition.clone().ok_or_else(|| {
                        SparkError::invalid("writeTo(..).overwrite without a condition")
                    })?;
                    let predicate = condition_on_table(session, &w.table_name, condition).await?;
                    delta_ops::overwrite_where(session, plan, &name, predicate, &options).await
                }
                Mode::OverwritePartitions => {
                    overwrite_partitions(session, plan, &name, &options).await
                }
                _ => Err(SparkError::invalid("writeTo without a write mode")),
            }
        }
    }
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Append => "append()",
        Mode::Overwrite => "overwrite(condition)",
        Mode::OverwritePartitions => "overwritePartitions()",
        _ => "this write",
    }
}

fn sorted(properties: HashMap<String, String>) -> Vec<(String, String)> {
    let mut v: Vec<_> = properties.into_iter().collect();
    v.sort();
    v
}

/// `partitionedBy(..)` columns. Delta partitions by columns only, so transforms such as
/// `years(ts)` are refused as Delta refuses them.
fn partition_columns(exprs: &[Expression]) -> SparkResult<Vec<String>> {
    exprs
        .iter()
        .map(|e| match &e.expr_type {
            Some(ExprType::UnresolvedAttribute(a)) => Ok(a.unparsed_identifier.clone()),
            _ => Err(SparkError::Plan(PlanError::analysis(
                "[DELTA_OPERATION_NOT_ALLOWED] Operation not allowed: `Partitioning by expressions` is not supported for Delta tables; partition by columns.",
            ))),
        })
        .collect()
}

/// The overwrite condition, planned as a filter over the table (so it resolves against the
/// table's columns, with Spark's coercions) and taken back out as an unqualified predicate.
async fn condition_on_table(
    session: &Session,
    table: &str,
    condition: Expression,
) -> SparkResult<Expr> {
    let scan = Relation {
        common: None,
        rel_type: Some(RelType::Read(Read {
            is_streaming: false,
            read_type: Some(read::ReadType::NamedTable(read::NamedTable {
                unparsed_identifier: table.to_string(),
                options: HashMap::new(),
            })),
        })),
    };
    let filter = Relation {
        common: None,
        rel_type: Some(RelType::Filter(Box::new(Filter {
            input: Some(Box::new(scan)),
            condition: Some(condition),
        }))),
    };
    let plan = plan_relation(session, &filter).await?;
    let mut found = None;
    plan.apply(|node| {
        if let LogicalPlan::Filter(f) = node {
            found = Some(f.predicate.clone());
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    let predicate =
        found.ok_or_else(|| SparkError::invalid("the overwrite condition is not a filter"))?;
    if predicate.exists(|e| {
        Ok(matches!(
            e,
            Expr::ScalarSubquery(_) | Expr::Exists(_) | Expr::InSubquery(_)
        ))
    })? {
        return Err(SparkError::Plan(PlanError::analysis(
            "[UNSUPPORTED_FEATURE.OVERWRITE_BY_SUBQUERY] An overwrite condition cannot contain a subquery.",
        )));
    }
    Ok(predicate
        .transform(|e| match e {
            Expr::Column(c) => Ok(Transformed::yes(Expr::Column(Column::new_unqualified(
                c.name,
            )))),
            other => Ok(Transformed::no(other)),
        })?
        .data)
}

/// `overwritePartitions()`: dynamic partition overwrite. The partitions present in the data
/// are replaced and every other partition is kept; a table without partition columns is
/// replaced whole, as Spark does.
async fn overwrite_partitions(
    session: &Session,
    plan: LogicalPlan,
    name: &[String],
    options: &HashMap<String, String>,
) -> SparkResult<()> {
    let partitions = delta_ops::partition_columns(session, name).await;
    if partitions.is_empty() {
        return delta_ops::insert_into(session, plan, name, &[], true, true, options).await;
    }
    // The data is read once: the partitions it touches decide what it replaces.
    let df = DataFrame::new(session.ctx.state(), plan);
    let schema = Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await?;
    let positions = partitions
        .iter()
        .map(|p| {
            schema
                .fields()
                .iter()
                .position(|f| f.name().eq_ignore_ascii_case(p))
                .ok_or_else(|| {
                    SparkError::Plan(PlanError::analysis(format!(
                        "[INCOMPATIBLE_DATA_FOR_TABLE.CANNOT_FIND_DATA] Cannot write incompatible data for the table {}: Cannot find data for the output column `{p}`.",
                        name.join(".")
                    )))
                })
        })
        .collect::<SparkResult<Vec<_>>>()?;
    let mut seen = HashSet::new();
    let mut touched = vec![];
    for batch in &batches {
        for row in 0..batch.num_rows() {
            let key = positions
                .iter()
                .map(|&i| ScalarValue::try_from_array(batch.column(i), row))
                .collect::<Result<Vec<_>, _>>()?;
            if seen.insert(key.clone()) {
                touched.push(key);
            }
        }
    }
    let predicate = touched
        .into_iter()
        .map(|key| {
            partitions
                .iter()
                .zip(key)
                .map(|(p, v)| {
                    let c = col(Column::new_unqualified(p));
                    if v.is_null() {
                        c.is_null()
                    } else {
                        c.eq(lit(v))
                    }
                })
                .reduce(Expr::and)
                .unwrap_or_else(|| lit(true))
        })
        .reduce(Expr::or)
        .unwrap_or_else(|| lit(false));
    let table = MemTable::try_new(schema, vec![batches])?;
    let data =
        LogicalPlanBuilder::scan("data", provider_as_source(Arc::new(table)), None)?.build()?;
    delta_ops::overwrite_where(session, data, name, predicate, options).await
}
