//! Row-level changes as single Delta commits: DELETE, UPDATE and MERGE. Conditions and
//! values are SQL expression text; MERGE text may use the source and target aliases.
use std::sync::Arc;

use datafusion::execution::SessionState;
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
    predicate: Option<String>,
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
fn check_targets(columns: &[String], set: &[(String, String)]) -> DeltaResult<()> {
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
    assignments: Vec<(String, String)>,
    predicate: Option<String>,
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

/// One WHEN clause of a MERGE. `set` pairs are (target column, value expression); an empty
/// `set` with `all` means `UPDATE SET *` / `INSERT *`.
#[derive(Debug, Clone)]
pub enum MergeClause {
    MatchedUpdate {
        condition: Option<String>,
        set: Vec<(String, String)>,
        all: bool,
    },
    MatchedDelete {
        condition: Option<String>,
    },
    NotMatchedInsert {
        condition: Option<String>,
        set: Vec<(String, String)>,
        all: bool,
    },
    NotMatchedBySourceUpdate {
        condition: Option<String>,
        set: Vec<(String, String)>,
    },
    NotMatchedBySourceDelete {
        condition: Option<String>,
    },
}

pub struct MergeSpec {
    pub source: DataFrame,
    pub source_alias: String,
    pub target_alias: String,
    pub on: String,
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
    use datafusion::common::{Column, TableReference};
    use datafusion::functions_aggregate::count::count_all;
    use datafusion::functions_window::row_number::row_number;
    use datafusion::logical_expr::{col, lit, Expr, JoinType};
    use datafusion::prelude::SessionContext;

    const ROW: &str = "__sluice_merge_target_row";
    // The MATCHED clauses: (is a DELETE, condition).
    let matched: Vec<(bool, Option<&str>)> = spec
        .clauses
        .iter()
        .filter_map(|c| match c {
            MergeClause::MatchedUpdate { condition, .. } => Some((false, condition.as_deref())),
            MergeClause::MatchedDelete { condition } => Some((true, condition.as_deref())),
            _ => None,
        })
        .collect();
    if matches!(matched.as_slice(), [] | [(true, None)]) {
        return Ok(());
    }
    let ctx = SessionContext::new_with_state(session.as_ref().clone());
    let numbered = ctx
        .read_table(crate::read::provider_of(target, Some(session)).await?)?
        .window(vec![row_number().alias(ROW)])?
        .alias(&spec.target_alias)?;
    let pairs = numbered.join(
        spec.source.clone().alias(&spec.source_alias)?,
        JoinType::Inner,
        &[],
        &[],
        None,
    )?;
    let on = pairs.parse_sql_expr(&spec.on)?;
    let mut acting = pairs.filter(on)?;
    // Only pairs some MATCHED clause acts on count; no condition means every pair.
    if matched.iter().all(|(_, c)| c.is_some()) {
        let mut any = lit(false);
        for c in matched.iter().filter_map(|(_, c)| *c) {
            any = any.or(acting.parse_sql_expr(c)?);
        }
        acting = acting.filter(any)?;
    }
    let repeated = acting
        .aggregate(
            // Qualified as `alias` qualified it (a path alias may hold dots or slashes).
            vec![Expr::Column(Column::new(
                Some(TableReference::from(spec.target_alias.as_str())),
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

/// Quotes a column name for delta-rs' expression parser.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
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
    let star = |all: bool, set: Vec<(String, String)>| -> DeltaResult<Vec<(String, String)>> {
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
                Ok((c.clone(), format!("{}.{}", spec.source_alias, ident(s))))
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
