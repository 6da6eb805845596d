//! Appends to an unpartitioned table with one parquet writer per input partition.
//!
//! delta-rs feeds every partition of an unpartitioned write into a single writer task, so
//! encoding a large append uses one core however many the plan reads with. Here each input
//! partition gets its own writer and the files of all of them go into one commit, which
//! keeps the write atomic. It is taken only where delta-rs's write would add nothing to the
//! data: an unpartitioned table that declares no rule a row could break (NOT NULL, CHECK
//! constraints, invariants, generated or identity columns) and no column mapping, or a
//! streaming batch creating a plain local table; any other write goes through delta-rs's
//! WriteBuilder.
use std::sync::Arc;
use std::time::Instant;

use datafusion::execution::SessionState;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::execute_stream_partitioned;
use deltalake::datafile::writer::{DeltaWriter, WriterConfig};
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::kernel::normalize_for_delta;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties, TableReference};
use deltalake::kernel::{Action, Add, StructField};
use deltalake::logstore::ObjectStoreRef;
use deltalake::operations::create::CreateBuilder;
use deltalake::operations::write::configs::WriterStatsConfig;
use deltalake::operations::write::WriteMetrics;
use deltalake::protocol::{DeltaOperation, OutputMode, SaveMode as DeltaSaveMode};
use deltalake::TableProperty;
use deltalake::{DeltaTable, DeltaTableBuilder};
use futures::StreamExt;
use serde_json::Value;
use url::Url;

use crate::error::{DeltaError, DeltaResult};
use crate::write::{commit_properties, writer_properties, Operation, SaveMode, WriteSpec};
use crate::SchemaChange;

fn plain_append(spec: &WriteSpec) -> bool {
    spec.mode == SaveMode::Append
        && spec.schema_change == SchemaChange::None
        && spec.replace_where.is_none()
        && spec.partition_by.is_empty()
        && operation(spec).is_some()
}

/// Whether [`append`] may write `spec` into `table`.
pub(crate) fn applies(table: &DeltaTable, spec: &WriteSpec) -> bool {
    if !plain_append(spec) {
        return false;
    }
    let Ok(state) = table.snapshot() else {
        return false;
    };
    let metadata = state.metadata();
    let config = metadata.configuration();
    let mapped = config
        .get("delta.columnMapping.mode")
        .is_some_and(|m| !m.eq_ignore_ascii_case("none"));
    let constrained = config.keys().any(|k| k.starts_with("delta.constraints."));
    metadata.partition_columns().is_empty()
        && !mapped
        && !constrained
        && serde_json::from_str::<Value>(metadata.schema_string())
            .is_ok_and(|schema| !has_row_rules(&schema))
}

/// Whether [`create`] may make the table from `data`: a streaming batch (whose commit is
/// then renamed to STREAMING UPDATE) with no table properties, and columns Delta stores as
/// they are.
pub(crate) fn applies_new(spec: &WriteSpec, data: &LogicalPlan) -> bool {
    let streaming = matches!(&spec.operation, Some(op) if op.name == "STREAMING UPDATE");
    let schema = Arc::new(data.schema().as_arrow().clone());
    plain_append(spec)
        && streaming
        && spec.properties.is_empty()
        && Arc::ptr_eq(&normalize_for_delta(&schema), &schema)
}

/// Whether a new table must be made by [`create`] to keep its properties: delta-rs'
/// WriteBuilder refuses any key it does not know, where Delta keeps keys outside `delta.*`
/// (`'team' = 'a'`). Unknown `delta.*` keys are still left to the WriteBuilder to refuse.
pub(crate) fn keeps_user_properties(spec: &WriteSpec, data: &LogicalPlan) -> bool {
    spec.properties.keys().any(|k| !is_delta_key(k)) && create_can_write(spec, data)
}

fn is_delta_key(k: &str) -> bool {
    k.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("delta."))
}

/// What [`create`] needs of a write that delta-rs' WriteBuilder would otherwise make: every
/// `delta.*` key one delta-rs knows, no replaceWhere, and columns Delta stores as they are.
fn create_can_write(spec: &WriteSpec, data: &LogicalPlan) -> bool {
    let schema = Arc::new(data.schema().as_arrow().clone());
    spec.properties
        .keys()
        .filter(|k| is_delta_key(k))
        .all(|k| k.parse::<TableProperty>().is_ok())
        && spec.replace_where.is_none()
        && Arc::ptr_eq(&normalize_for_delta(&schema), &schema)
}

/// Whether a `[CREATE OR] REPLACE TABLE ... AS SELECT` over an existing table goes through
/// [`create`]: Delta replaces the whole definition (properties, comment, partitioning) with
/// the statement's, where delta-rs' overwrite keeps the old table's metadata.
pub(crate) fn replaces(spec: &WriteSpec, data: &LogicalPlan) -> bool {
    spec.operation
        .as_ref()
        .is_some_and(Operation::replaces_table)
        && create_can_write(spec, data)
}

/// Whether a Delta schema (its JSON form) holds a non-nullable field or element, or a
/// column whose values Delta checks or generates.
fn has_row_rules(v: &Value) -> bool {
    match v {
        Value::Object(map) => {
            let strict = ["nullable", "containsNull", "valueContainsNull"]
                .iter()
                .any(|k| map.get(*k) == Some(&Value::Bool(false)));
            let ruled = map
                .get("metadata")
                .and_then(Value::as_object)
                .is_some_and(|m| {
                    m.keys().any(|k| {
                        k == "delta.invariants"
                            || k == "delta.generationExpression"
                            || k.starts_with("delta.identity.")
                    })
                });
            strict || ruled || map.values().any(has_row_rules)
        }
        Value::Array(items) => items.iter().any(has_row_rules),
        _ => false,
    }
}

/// The operation the commit records: Delta's STREAMING UPDATE for a micro-batch, WRITE
/// otherwise; `None` for any other named operation (left to the general path).
fn operation(spec: &WriteSpec) -> Option<DeltaOperation> {
    match &spec.operation {
        None => Some(DeltaOperation::Write {
            mode: DeltaSaveMode::Append,
            partition_by: None,
            predicate: None,
        }),
        Some(Operation { name, parameters }) if name == "STREAMING UPDATE" => {
            let text = |k: &str| parameters.get(k).and_then(Value::as_str).unwrap_or("");
            let output_mode = match text("outputMode") {
                "Append" => OutputMode::Append,
                "Complete" => OutputMode::Complete,
                "Update" => OutputMode::Update,
                _ => return None,
            };
            Some(DeltaOperation::StreamingUpdate {
                output_mode,
                query_id: text("queryId").to_string(),
                epoch_id: text("epochId").parse().ok()?,
            })
        }
        Some(_) => None,
    }
}

/// Writes `data` (already aligned to the table's schema) into `table` as one commit and
/// returns the committed version; `table` is then at that version. Nothing is visible
/// unless the commit succeeds.
pub(crate) async fn append(
    table: &mut DeltaTable,
    data: LogicalPlan,
    session: Arc<SessionState>,
    spec: &WriteSpec,
) -> DeltaResult<i64> {
    let started = Instant::now();
    let operation =
        operation(spec).ok_or_else(|| DeltaError::Unsupported("not a plain append".into()))?;
    let state = table.snapshot()?;
    let stats = WriterStatsConfig::from_config(state.snapshot().table_configuration());
    let store = table.log_store().object_store(None);
    let (adds, rows) = write_files(data, session, store, stats, &[]).await?;
    let properties = commit_properties_with_metrics(spec, adds.len(), rows, started)?;
    let committed = CommitBuilder::from(properties)
        .with_actions(adds.into_iter().map(Action::Add).collect())
        .build(
            Some(state as &dyn TableReference),
            table.log_store(),
            operation,
        )
        .await?;
    // The commit already read itself into a new state; keep it instead of re-reading.
    table.state = Some(committed.snapshot());
    Ok(committed.version() as i64)
}

/// Creates the table at `url` from `data` in one commit (protocol, metadata and the files)
/// recorded as the operation `spec` names, with its partition columns and properties (any
/// key). `replace`: the table exists and this commit also removes all its files. Returns
/// the table.
pub(crate) async fn create(
    url: &Url,
    data: LogicalPlan,
    session: Arc<SessionState>,
    spec: &WriteSpec,
    replace: bool,
) -> DeltaResult<DeltaTable> {
    let started = Instant::now();
    let columns = data
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().try_into_kernel())
        .collect::<Result<Vec<StructField>, _>>()
        .map_err(|e| DeltaError::Analysis(format!("Unsupported column type for Delta: {e}")))?;
    let log_store = DeltaTableBuilder::from_url(url.clone())?.build_storage()?;
    let stats = WriterStatsConfig::new(Default::default(), None);
    let store = log_store.object_store(None);
    let (adds, rows) = write_files(data, session, store, stats, &spec.partition_by).await?;
    let properties = commit_properties_with_metrics(spec, adds.len(), rows, started)?;
    let mut builder = CreateBuilder::new()
        .with_log_store(log_store)
        .with_columns(columns)
        .with_save_mode(if replace {
            DeltaSaveMode::Overwrite
        } else {
            DeltaSaveMode::ErrorIfExists
        })
        .with_commit_properties(properties)
        .with_actions(adds.into_iter().map(Action::Add))
        .with_raise_if_key_not_exists(false);
    if !spec.partition_by.is_empty() {
        builder = builder.with_partition_columns(spec.partition_by.clone());
    }
    if !spec.properties.is_empty() {
        builder = builder.with_configuration(
            spec.properties
                .iter()
                .map(|(k, v)| (k.clone(), Some(v.clone()))),
        );
    }
    if let Some(n) = &spec.name {
        builder = builder.with_table_name(n.clone());
    }
    if let Some(d) = &spec.description {
        builder = builder.with_comment(d.clone());
    }
    let table = builder.await?;
    if let Some(op) = &spec.operation {
        op.record(&table, table.version().unwrap_or(0) as i64)
            .await?;
    }
    Ok(table)
}

/// Runs `data` with one parquet writer per partition, each splitting its rows by the
/// values of `partition_by`; the files written and their rows.
async fn write_files(
    data: LogicalPlan,
    session: Arc<SessionState>,
    store: ObjectStoreRef,
    stats: WriterStatsConfig,
    partition_by: &[String],
) -> DeltaResult<(Vec<Add>, usize)> {
    let plan = session.create_physical_plan(&data).await?;
    let config = WriterConfig::new(
        plan.schema(),
        partition_by.to_vec(),
        Some(writer_properties()),
        None,
        None,
        stats.num_indexed_cols,
        stats.stats_columns,
    );
    let mut writers = tokio::task::JoinSet::new();
    for mut stream in execute_stream_partitioned(plan, session.task_ctx())? {
        let mut writer = DeltaWriter::new(store.clone(), config.clone());
        writers.spawn(async move {
            let mut rows = 0;
            while let Some(batch) = stream.next().await {
                let batch = batch?;
                rows += batch.num_rows();
                writer.write(&batch).await?;
            }
            Ok::<(Vec<Add>, usize), DeltaError>((writer.close().await?, rows))
        });
    }
    let mut adds = vec![];
    let mut rows = 0;
    while let Some(done) = writers.join_next().await {
        let (files, n) =
            done.map_err(|e| DeltaError::Unsupported(format!("a writer task failed: {e}")))??;
        adds.extend(files);
        rows += n;
    }
    Ok((adds, rows))
}

/// The commit's properties with the write metrics delta-rs records for a write.
fn commit_properties_with_metrics(
    spec: &WriteSpec,
    files: usize,
    rows: usize,
    started: Instant,
) -> DeltaResult<CommitProperties> {
    let metrics = WriteMetrics {
        num_added_files: files,
        num_added_rows: rows,
        execution_time_ms: started.elapsed().as_millis() as u64,
        ..Default::default()
    };
    let mut info = spec.commit_info.clone();
    info.insert(
        "operationMetrics".into(),
        serde_json::to_value(&metrics).map_err(|e| DeltaError::Unsupported(e.to_string()))?,
    );
    Ok(commit_properties(spec).with_metadata(info))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_rules_in_a_schema() {
        let open = r#"{"type":"struct","fields":[{"name":"a","type":"long","nullable":true,"metadata":{"comment":"x"}},
            {"name":"b","type":{"type":"array","elementType":"string","containsNull":true},"nullable":true,"metadata":{}}]}"#;
        assert!(!has_row_rules(&serde_json::from_str(open).unwrap()));
        for ruled in [
            r#"{"fields":[{"name":"a","nullable":false,"metadata":{}}]}"#,
            r#"{"fields":[{"name":"b","type":{"type":"map","valueContainsNull":false},"nullable":true}]}"#,
            r#"{"fields":[{"name":"a","nullable":true,"metadata":{"delta.generationExpression":"b+1"}}]}"#,
            r#"{"fields":[{"name":"a","nullable":true,"metadata":{"delta.identity.start":1}}]}"#,
        ] {
            assert!(
                has_row_rules(&serde_json::from_str(ruled).unwrap()),
                "{ruled}"
            );
        }
    }
}
