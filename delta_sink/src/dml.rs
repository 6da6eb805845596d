//! Row-level changes as single Delta commits: DELETE, UPDATE and MERGE. Conditions and
//! values arrive planned (Spark's semantics are the caller's); a MERGE's columns are
//! qualified by the source and target aliases ([`alias`]).
use std::sync::Arc;

use datafusion::common::TableReference;
use datafusion::execution::SessionState;
use datafusion::logical_expr::Expr;
use datafusion::prelude::DataFrame;
use deltalake::DeltaTable;
use url::Url;

use crate::error::{DeltaError, DeltaResult};
use crate::table::{self, TimeTravel};

/// Rows changed by a statement (Spark's `num_affected_rows` and MERGE's detail columns).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RowCounts {
    pub updated: i64,
    pub deleted: i64,
    pub inserted: i64,
}

impl RowCounts {
    pub fn affected(&self) -> i64 {
        self.updated + self.deleted + self.inserted
    }
}

async fn open(url: &Url) -> DeltaResult<DeltaTable> {
    table::open(url, &TimeTravel::Latest).await
}

fn dml_error(e: deltalake::DeltaTableError) -> DeltaError {
    match e {
        deltalake::DeltaTableError::Generic(m)
        | deltalake::DeltaTableError::InvalidData { message: m } => DeltaError::Analysis(m),
        other => other.into(),
    }
}

pub async fn delete(
    url: &Url,
    predicate: Option<Expr>,
    session: Arc<SessionState>,
) -> DeltaResult<RowCounts> {
    let mut builder = open(url)
        .await?
        .delete()
        .with_session_state(session)
        .with_commit_properties(crate::checkpoint::commit_properties());
    if let Some(p) = predicate {
        builder = builder.with_predicate(p);
    }
    let (t, metrics) = builder.await.map_err(dml_error)?;
    crate::checkpoint::after_commit(&t).await;
    Ok(RowCounts {
        deleted: metrics.num_deleted_rows.unwrap_or(0) as i64,
        ..Default::default()
    })
}

/// Assignment targets must be columns of the table (Spark: UNRESOLVED_COLUMN).
fn check_targets(columns: &[String], set: &[(String, Expr)]) -> DeltaResult<()> {
    for (c, _) in set {
        if !columns.iter().any(|t| t.eq_ignore_ascii_case(c)) {
            return Err(DeltaError::Analysis(format!(
                "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column, variable, or function parameter with name `{c}` cannot be resolved. Did you mean one of the following? [{}]. SQLSTATE: 42703",
                columns.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", ")
            )));
        }
    }
    Ok(())
}

fn column_names(t: &DeltaTable) -> DeltaResult<Vec<String>> {
    Ok(t.snapshot()?
        .snapshot()
        .arrow_schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect())
}

pub async fn update(
    url: &Url,
    assignments: Vec<(String, Expr)>,
    predicate: Option<Expr>,
    session: Arc<SessionState>,
) -> DeltaResult<RowCounts> {
    let t = open(url).await?;
    check_targets(&column_names(&t)?, &assignments)?;
    let mut builder = t
        .update()
        .with_session_state(session)
        .with_commit_properties(crate::checkpoint::commit_properties());
    for (column, value) in assignments {
        builder = builder.with_update(column, value);
    }
    if let Some(p) = predicate {
        builder = builder.with_predicate(p);
    }
    let (t, metrics) = builder.await.map_err(dml_error)?;
    crate::checkpoint::after_commit(&t).await;
    Ok(RowCounts {
        updated: metrics.num_updated_rows as i64,
        ..Default::default()
    })
}

/// The qualifier a MERGE's columns carry for `alias`, as delta-rs qualifies its join.
pub fn alias(name: &str) -> TableReference {
    TableReference::bare(name)
}

/// One WHEN clause of a MERGE. `set` pairs are (target column, value expression); an empty
/// `set` with `all` means `UPDATE SET *` / `INSERT *`.
#[derive(Debug, Clone)]
pub enum MergeClause {
    MatchedUpdate {
        condition: Option<Expr>,
        set: Vec<(String, Expr)>,
        all: bool,
    },
    MatchedDelete {
        condition: Option<Expr>,
    },
    NotMatchedInsert {
        condition: Option<Expr>,
        set: Vec<(String, Expr)>,
        all: bool,
    },
    NotMatchedBySourceUpdate {
        condition: Option<Expr>,
        set: Vec<(String, Expr)>,
    },
    NotMatchedBySourceDelete {
        condition: Option<Expr>,
    },
}

pub struct MergeSpec {
    pub source: DataFrame,
    pub source_alias: String,
    pub target_alias: String,
    pub on: Expr,
    pub clauses: Vec<MergeClause>,
    pub merge_schema: bool,
}

/// Delta refuses a MERGE where several source rows match one target row and a MATCHED
/// clause would act on it (which source row wins would be arbitrary); delta-rs applies all
/// of them. Counted before anything is written: the join of target rows (numbered) with
/// the source, kept where some MATCHED clause's condition holds. A lone unconditional
/// MATCHED DELETE is exempt, as in Delta: deleting a row twice is still one delete.
async fn check_single_match(
    target: &DeltaTable,
    spec: &MergeSpec,
    session: &Arc<SessionState>,
) -> DeltaResult<()> {
    use datafusion::common::Column;
    use datafusion::functions_aggregate::count::count_all;
    use datafusion::functions_window::row_number::row_number;
    use datafusion::logical_expr::{col, lit, JoinType, LogicalPlanBuilder};
    use datafusion::prelude::SessionContext;

    const ROW: &str = "__sluice_merge_target_row";
    // The MATCHED clauses: (is a DELETE, condition).
    let matched: Vec<(bool, Option<&Expr>)> = spec
        .clauses
        .iter()
        .filter_map(|c| match c {
            MergeClause::MatchedUpdate { condition, .. } => Some((false, condition.as_ref())),
            MergeClause::MatchedDelete { condition } => Some((true, condition.as_ref())),
            _ => None,
        })
        .collect();
    if matches!(matched.as_slice(), [] | [(true, None)]) {
        return Ok(());
    }
    let ctx = SessionContext::new_with_state(session.as_ref().clone());
    let aliased = |df: DataFrame, name: &str| -> DeltaResult<DataFrame> {
        let plan = LogicalPlanBuilder::from(df.into_unoptimized_plan())
            .alias(alias(name))?
            .build()?;
        Ok(DataFrame::new(session.as_ref().clone(), plan))
    };
    let numbered = ctx
        .read_table(crate::read::provider_of(target, Some(session)).await?)?
        .window(vec![row_number().alias(ROW)])?;
    let pairs = aliased(numbered, &spec.target_alias)?.join(
        aliased(spec.source.clone(), &spec.source_alias)?,
        JoinType::Inner,
        &[],
        &[],
        None,
    )?;
    let mut acting = pairs.filter(spec.on.clone())?;
    // Only pairs some MATCHED clause acts on count; no condition means every pair.
    if matched.iter().all(|(_, c)| c.is_some()) {
        let mut any = lit(false);
        for c in matched.iter().filter_map(|(_, c)| *c) {
            any = any.or(c.clone());
        }
        acting = acting.filter(any)?;
    }
    let repeated = acting
        .aggregate(
            // Qualified as `alias` qualified it (a path alias may hold dots or slashes).
            vec![Expr::Column(Column::new(
                Some(alias(&spec.target_alias)),
                ROW,
            ))],
            vec![count_all().alias("n")],
        )?
        .filter(col("n").gt(lit(1i64)))?
        .limit(0, Some(1))?
        .count()
        .await?;
    if repeated > 0 {
        return Err(DeltaError::Unsupported(
            "[DELTA_MULTIPLE_SOURCE_ROW_MATCHING_TARGET_ROW_IN_MERGE] Cannot perform Merge as multiple source rows matched and attempted to modify the same target row in the Delta table in possibly conflicting ways. By SQL semantics of Merge, when multiple source rows match on the same target row, the result may be ambiguous as it is unclear which source row should be used to update or delete the matching target row. You can preprocess the source table to eliminate the possibility of multiple matches.".into(),
        ));
    }
    Ok(())
}

pub async fn merge(
    url: &Url,
    spec: MergeSpec,
    session: Arc<SessionState>,
) -> DeltaResult<RowCounts> {
    let target = open(url).await?;
    let columns = column_names(&target)?;
    for c in &spec.clauses {
        match c {
            MergeClause::MatchedUpdate { set, .. }
            | MergeClause::NotMatchedInsert { set, .. }
            | MergeClause::NotMatchedBySourceUpdate { set, .. } => check_targets(&columns, set)?,
            _ => {}
        }
    }
    let source_columns: Vec<String> = spec
        .source
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    // `*` assigns every target column from the source column of the same name.
    let star = |all: bool, set: Vec<(String, Expr)>| -> DeltaResult<Vec<(String, Expr)>> {
        if !all {
            return Ok(set);
        }
        columns
            .iter()
            .map(|c| {
                let s = source_columns
                    .iter()
                    .find(|s| s.eq_ignore_ascii_case(c))
                    .ok_or_else(|| {
                        DeltaError::Analysis(format!(
                            "[DELTA_MERGE_UNRESOLVED_EXPRESSION] Cannot resolve {}.{c} in UPDATE/INSERT clause given columns {}.",
                            spec.source_alias,
                            source_columns.join(", ")
                        ))
                    })?;
                let source = datafusion::common::Column::new(Some(alias(&spec.source_alias)), s);
                Ok((c.clone(), Expr::Column(source)))
            })
            .collect()
    };
    check_single_match(&target, &spec, &session).await?;
    let mut builder = target
        .merge(spec.source.clone(), spec.on.clone())
        .with_source_alias(&spec.source_alias)
        .with_target_alias(&spec.target_alias)
        .with_merge_schema(spec.merge_schema)
        .with_session_state(session)
        .with_commit_properties(crate::checkpoint::commit_properties());
    for clause in spec.clauses.clone() {
        builder = match clause {
            MergeClause::MatchedUpdate {
                condition,
                set,
                all,
            } => {
                let set = star(all, set)?;
                builder.when_matched_update(|mut u| {
                    for (c, v) in set {
                        u = u.update(c, v);
                    }
                    match condition {
                        Some(p) => u.predicate(p),
                        None => u,
                    }
                })
            }
            MergeClause::MatchedDelete { condition } => {
                builder.when_matched_delete(|d| match condition {
                    Some(p) => d.predicate(p),
                    None => d,
                })
            }
            MergeClause::NotMatchedInsert {
                condition,
                set,
                all,
            } => {
                let set = star(all, set)?;
                builder.when_not_matched_insert(|mut i| {
                    for (c, v) in set {
                        i = i.set(c, v);
                    }
                    match condition {
                        Some(p) => i.predicate(p),
                        None => i,
                    }
                })
            }
            MergeClause::NotMatchedBySourceUpdate { condition, set } => builder
                .when_not_matched_by_source_update(|mut u| {
                    for (c, v) in set {
                        u = u.update(c, v);
                    }
                    match condition {
                        Some(p) => u.predicate(p),
                        None => u,
                    }
                }),
            MergeClause::NotMatchedBySourceDelete { condition } => builder
                .when_not_matched_by_source_delete(|d| match condition {
                    Some(p) => d.predicate(p),
                    None => d,
                }),
        }
        .map_err(dml_error)?;
    }
    let (t, m) = builder.await.map_err(dml_error)?;
    crate::checkpoint::after_commit(&t).await;
    Ok(RowCounts {
        updated: m.num_target_rows_updated as i64,
        deleted: m.num_target_rows_deleted as i64,
        inserted: m.num_target_rows_inserted as i64,
    })
}
