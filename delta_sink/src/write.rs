//! Writing a DataFusion plan into a Delta table as one atomic commit: save modes, schema
//! enforcement and evolution, replaceWhere, and idempotent application transactions.
use std::collections::HashMap;
use std::sync::Arc;

use datafusion::execution::SessionState;
use datafusion::logical_expr::LogicalPlan;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::kernel::Transaction;
use deltalake::operations::write::{SchemaMode, WriteBuilder};
use deltalake::parquet::basic::Compression;
use deltalake::parquet::file::properties::{EnabledStatistics, WriterProperties};
use deltalake::protocol::SaveMode as DeltaSaveMode;
use deltalake::{DeltaTable, DeltaTableBuilder, DeltaTableError};
use url::Url;

use crate::error::{DeltaError, DeltaResult};
use crate::schema::{self, SchemaChange};
use crate::table;

/// Spark's `DataFrameWriter` save modes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SaveMode {
    Append,
    Overwrite,
    ErrorIfExists,
    Ignore,
}

/// An application transaction (`txnAppId`, `txnVersion`): a commit carrying a version the
/// table already recorded for the app is skipped.
#[derive(Debug, Clone, PartialEq)]
pub struct Txn {
    pub app_id: String,
    pub version: i64,
}

/// A `replaceWhere` predicate: the writer option's SQL text, or an expression the server
/// already planned against the table (DataFrameWriterV2's `overwrite(condition)`, and the
/// partitions a dynamic partition overwrite replaces).
#[derive(Debug, Clone)]
pub enum ReplaceWhere {
    Sql(String),
    Planned(datafusion::logical_expr::Expr),
}

/// Everything a write may ask for besides the data.
#[derive(Debug, Clone)]
pub struct WriteSpec {
    pub mode: SaveMode,
    pub partition_by: Vec<String>,
    /// Clustering columns (see [`crate::clustering`]).
    pub clustering: Vec<String>,
    pub schema_change: SchemaChange,
    /// The rows an overwrite replaces (`replaceWhere`); the rest of the table stays.
    pub replace_where: Option<ReplaceWhere>,
    pub txn: Option<Txn>,
    /// Table name and description recorded in the metadata of a new table.
    pub name: Option<String>,
    pub description: Option<String>,
    /// Table properties (`delta.*` and user keys) for a new table.
    pub properties: HashMap<String, String>,
    /// Extra commitInfo entries (e.g. Spark's operation parameters).
    pub commit_info: HashMap<String, serde_json::Value>,
    /// The operation the commit records, when it is not a plain WRITE.
    pub operation: Option<Operation>,
}

/// A commit Delta names other than WRITE, with the operationParameters Delta records for
/// it: a streaming micro-batch's `STREAMING UPDATE`, a `CREATE TABLE AS SELECT`.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub name: String,
    pub parameters: serde_json::Map<String, serde_json::Value>,
}

impl Operation {
    pub fn streaming_update(output_mode: &str, query_id: &str, epoch_id: i64) -> Operation {
        let mut p = serde_json::Map::new();
        p.insert("outputMode".into(), output_mode.into());
        p.insert("queryId".into(), query_id.into());
        p.insert("epochId".into(), epoch_id.to_string().into());
        Operation {
            name: "STREAMING UPDATE".into(),
            parameters: p,
        }
    }

    /// `CREATE [OR REPLACE] TABLE ... AS SELECT` (`REPLACE TABLE ... AS SELECT` when
    /// `or_create` is false), with Delta's CreateTable/ReplaceTable parameters.
    pub fn create_as_select(
        replace: bool,
        or_create: bool,
        managed: bool,
        spec: &WriteSpec,
    ) -> Self {
        let name = match (replace, or_create) {
            (false, _) => "CREATE TABLE AS SELECT",
            (true, true) => "CREATE OR REPLACE TABLE AS SELECT",
            (true, false) => "REPLACE TABLE AS SELECT",
        };
        let properties: serde_json::Map<String, serde_json::Value> = spec
            .properties
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().into()))
            .collect();
        let mut p = serde_json::Map::new();
        p.insert("isManaged".into(), managed.to_string().into());
        p.insert("description".into(), spec.description.clone().into());
        p.insert(
            "partitionBy".into(),
            serde_json::Value::from(spec.partition_by.clone())
                .to_string()
                .into(),
        );
        p.insert(
            "properties".into(),
            serde_json::Value::Object(properties).to_string().into(),
        );
        if !spec.clustering.is_empty() {
            p.insert(
                "clusterBy".into(),
                serde_json::Value::from(spec.clustering.clone())
                    .to_string()
                    .into(),
            );
        }
        Operation {
            name: name.into(),
            parameters: p,
        }
    }
}

impl Operation {
    /// `[CREATE OR] REPLACE TABLE ... AS SELECT`: the statement's definition replaces the
    /// table's.
    pub(crate) fn replaces_table(&self) -> bool {
        self.name.ends_with("REPLACE TABLE AS SELECT")
    }

    /// Names this operation, with its parameters, in the `commitInfo` of commit `version`.
    pub(crate) async fn record(&self, table: &DeltaTable, version: i64) -> DeltaResult<()> {
        relabel(table, version, |info| {
            info.insert("operation".into(), self.name.clone().into());
            info.insert(
                "operationParameters".into(),
                serde_json::Value::Object(self.parameters.clone()),
            );
        })
        .await
    }
}

impl WriteSpec {
    pub fn new(mode: SaveMode) -> Self {
        Self {
            mode,
            partition_by: vec![],
            clustering: vec![],
            schema_change: SchemaChange::None,
            replace_where: None,
            txn: None,
            name: None,
            description: None,
            properties: HashMap::new(),
            commit_info: HashMap::new(),
            operation: None,
        }
    }
}

/// What a write did.
#[derive(Debug, Clone, PartialEq)]
pub enum Written {
    /// Committed this version.
    Committed(i64),
    /// Nothing written: mode `ignore` on an existing table, or a transaction already applied.
    Skipped,
}

pub async fn write(
    url: &Url,
    input: LogicalPlan,
    session: Arc<SessionState>,
    spec: WriteSpec,
) -> DeltaResult<Written> {
    let existing = table::open_if_exists(url).await?;
    let (written, table) = write_to(url, existing, input, session, spec, None).await?;
    if let (Written::Committed(_), Some(t)) = (&written, &table) {
        crate::checkpoint::after_commit(t).await;
    }
    Ok(written)
}

/// A table kept open between writes (a streaming sink's), so that each write only reads
/// the commits made since the last one.
#[derive(Default)]
pub struct OpenTable {
    table: Option<DeltaTable>,
    /// The transaction this handle committed last and the table version it committed:
    /// while the table is still at that version, that is the app's recorded transaction,
    /// so the next write need not replay the log to find it.
    last_txn: Option<(Txn, i64)>,
    /// The log checkpoint the last commit called for, written in the background so the
    /// stream's next batch need not wait for it; true once one was written.
    upkeep: Option<tokio::task::JoinHandle<bool>>,
}

/// [`write`] through a table kept open in `open`.
pub async fn write_open(
    url: &Url,
    open: &mut OpenTable,
    input: LogicalPlan,
    session: Arc<SessionState>,
    spec: WriteSpec,
) -> DeltaResult<Written> {
    // After a checkpoint the next write reopens from it: the state kept in memory grows by
    // one piece per commit, and every snapshot update walks all of them.
    if let Some(upkeep) = open.upkeep.take_if(|h| h.is_finished()) {
        if upkeep.await.unwrap_or(false) {
            open.table = None;
        }
    }
    let existing = match open.table.take() {
        Some(mut t) => {
            if table::has_newer_commit(&t).await? {
                t.update_incremental(None).await?;
            }
            Some(t)
        }
        None => table::open_if_exists(url).await?,
    };
    let recorded = match (open.last_txn.take(), &existing) {
        (Some((txn, at)), Some(t)) if t.version().map(|v| v as i64) == Some(at) => Some(txn),
        _ => None,
    };
    let txn = spec.txn.clone();
    let (written, table) = write_to(url, existing, input, session, spec, recorded).await?;
    if let (Written::Committed(_), Some(t)) = (&written, &table) {
        if crate::checkpoint::is_due_after(t) {
            // One checkpoint at a time: one still being written (it took more than the
            // interval's batches) is waited for rather than this one skipped.
            if let Some(previous) = open.upkeep.take() {
                let _ = previous.await;
            }
            let t = t.clone();
            open.upkeep = Some(tokio::spawn(async move {
                crate::checkpoint::after_commit(&t).await
            }));
        }
    }
    open.table = table;
    if let (Written::Committed(version), Some(txn)) = (&written, txn) {
        open.last_txn = Some((txn, *version));
    }
    Ok(written)
}

async fn write_to(
    url: &Url,
    existing: Option<DeltaTable>,
    input: LogicalPlan,
    session: Arc<SessionState>,
    mut spec: WriteSpec,
    recorded: Option<Txn>,
) -> DeltaResult<(Written, Option<DeltaTable>)> {
    crate::properties::validate(&spec.properties)?;
    let replaces = spec
        .operation
        .as_ref()
        .is_some_and(Operation::replaces_table);
    crate::clustering::prepare(
        &mut spec,
        input.schema().as_arrow(),
        existing.as_ref(),
        replaces,
    )?;
    if let Some(t) = &existing {
        match spec.mode {
            SaveMode::ErrorIfExists => {
                return Err(DeltaError::PathExists(table::display(url)));
            }
            SaveMode::Ignore => return Ok((Written::Skipped, existing)),
            _ => {}
        }
        if let Some(txn) = &spec.txn {
            let done = match recorded.filter(|r| r.app_id == txn.app_id) {
                Some(r) => r.version >= txn.version,
                None => applied(t, txn).await?,
            };
            if done {
                return Ok((Written::Skipped, existing));
            }
        }
        check_partitioning(t, &spec)?;
    }
    if spec.schema_change == SchemaChange::Overwrite && spec.mode != SaveMode::Overwrite {
        return Err(DeltaError::Analysis(
            "[DELTA_OVERWRITE_SCHEMA_WITH_DYNAMIC_PARTITION_OVERWRITE] overwriteSchema can only be used with mode(\"overwrite\").".into(),
        ));
    }
    if spec.replace_where.is_some() && spec.mode != SaveMode::Overwrite {
        return Err(DeltaError::Analysis(
            "[DELTA_REPLACE_WHERE_IN_OVERWRITE] replaceWhere can only be used with mode(\"overwrite\").".into(),
        ));
    }
    if existing.is_some() && crate::append::replaces(&spec, &input) {
        let data = schema::storage_plan(input)?;
        check_partition_columns(&data, &spec.partition_by)?;
        let t = crate::append::create(url, data, session, &spec, true).await?;
        let version = t.version().unwrap_or(0) as i64;
        return Ok((Written::Committed(version), Some(t)));
    }
    let data = match &existing {
        Some(t) => schema::align(
            input,
            &t.snapshot()?.snapshot().arrow_schema(),
            spec.schema_change,
        )?,
        None => schema::storage_plan(input)?,
    };
    check_partition_columns(&data, &spec.partition_by)?;

    let mut existing = existing;
    if let Some(mut t) = existing.take_if(|t| crate::append::applies(t, &spec)) {
        let version = crate::append::append(&mut t, data, session, &spec).await?;
        return Ok((Written::Committed(version), Some(t)));
    }
    if existing.is_none()
        && (crate::append::applies_new(&spec, &data)
            || crate::append::keeps_user_properties(&spec, &data))
    {
        let t = crate::append::create(url, data, session, &spec, false).await?;
        return Ok((Written::Committed(0), Some(t)));
    }
    let (log_store, snapshot) = match existing {
        Some(t) => (t.log_store(), Some(t.snapshot()?.snapshot().clone())),
        None => (
            DeltaTableBuilder::from_url(url.clone())?.build_storage()?,
            None,
        ),
    };
    let mut builder = WriteBuilder::new(log_store, snapshot)
        .with_input_plan(data)
        .with_session_state(session)
        .with_save_mode(match spec.mode {
            SaveMode::Overwrite => DeltaSaveMode::Overwrite,
            SaveMode::Append => DeltaSaveMode::Append,
            SaveMode::ErrorIfExists => DeltaSaveMode::ErrorIfExists,
            SaveMode::Ignore => DeltaSaveMode::Ignore,
        })
        .with_commit_properties(commit_properties(&spec))
        .with_writer_properties(writer_properties());
    if !spec.partition_by.is_empty() {
        builder = builder.with_partition_columns(spec.partition_by.clone());
    }
    builder = match spec.schema_change {
        SchemaChange::None => builder,
        SchemaChange::Merge => builder.with_schema_mode(SchemaMode::Merge),
        SchemaChange::Overwrite => builder.with_schema_mode(SchemaMode::Overwrite),
    };
    builder = match spec.replace_where.clone() {
        Some(ReplaceWhere::Sql(p)) => builder.with_replace_where(p),
        Some(ReplaceWhere::Planned(e)) => builder.with_replace_where(e),
        None => builder,
    };
    if let Some(n) = &spec.name {
        builder = builder.with_table_name(n.clone());
    }
    if let Some(d) = &spec.description {
        builder = builder.with_description(d.clone());
    }
    if !spec.properties.is_empty() {
        builder = builder.with_configuration(
            spec.properties
                .iter()
                .map(|(k, v)| (k.clone(), Some(v.clone()))),
        );
    }
    let written = builder.await.map_err(|e| write_error(&spec, e))?;
    let version = written.version().unwrap_or(0) as i64;
    if let Some(op) = &spec.operation {
        op.record(&written, version).await?;
    }
    Ok((Written::Committed(version), Some(written)))
}

/// delta-rs records every write as WRITE and leaves out some parameters Delta records (a
/// streaming batch is a STREAMING UPDATE, OPTIMIZE names its zOrderBy). `edit` changes the
/// `commitInfo` of `table`'s commit `version`; the file is rewritten whole, right after the
/// commit, through the table's own object store (an atomic rename on local disks, a single
/// PUT on S3, Azure and GCS): only the history changes, never the table's actions.
pub(crate) async fn relabel(
    table: &DeltaTable,
    version: i64,
    mut edit: impl FnMut(&mut serde_json::Map<String, serde_json::Value>),
) -> DeltaResult<()> {
    use object_store::ObjectStoreExt;
    let store = table.log_store().object_store(None);
    let path = deltalake::Path::from(format!("_delta_log/{version:020}.json"));
    let read = store.get(&path).await.map_err(DeltaTableError::from)?;
    let bytes = read.bytes().await.map_err(DeltaTableError::from)?;
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Ok(()); // not ours to touch
    };
    let mut lines = vec![];
    for line in text.lines() {
        let mut action: serde_json::Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(_) => return Ok(()), // not ours to touch
        };
        if let Some(info) = action.get_mut("commitInfo").and_then(|c| c.as_object_mut()) {
            edit(info);
        }
        lines.push(action.to_string());
    }
    store
        .put(&path, (lines.join("\n") + "\n").into_bytes().into())
        .await
        .map_err(DeltaTableError::from)?;
    Ok(())
}

pub(crate) fn commit_properties(spec: &WriteSpec) -> CommitProperties {
    let mut props = crate::checkpoint::commit_properties();
    if !spec.commit_info.is_empty() {
        props = props.with_metadata(spec.commit_info.clone());
    }
    if let Some(txn) = &spec.txn {
        props = props.with_application_transaction(Transaction::new(&txn.app_id, txn.version));
    }
    props
}

/// Whether the table already recorded this (or a later) version for the app.
pub async fn applied(t: &DeltaTable, txn: &Txn) -> DeltaResult<bool> {
    let recorded = t
        .snapshot()?
        .transaction_version(t.log_store().as_ref(), &txn.app_id)
        .await?;
    Ok(recorded.is_some_and(|v| v >= txn.version))
}

fn check_partitioning(t: &DeltaTable, spec: &WriteSpec) -> DeltaResult<()> {
    if spec.partition_by.is_empty()
        || (spec.mode == SaveMode::Overwrite && spec.schema_change == SchemaChange::Overwrite)
    {
        return Ok(());
    }
    let current = t.snapshot()?.metadata().partition_columns().to_vec();
    let same = current.len() == spec.partition_by.len()
        && current
            .iter()
            .zip(&spec.partition_by)
            .all(|(a, b)| a.eq_ignore_ascii_case(b));
    if same {
        return Ok(());
    }
    let list = |v: &[String]| {
        v.iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Err(DeltaError::Analysis(format!(
        "[DELTA_PARTITION_COLUMNS_MISMATCH] Partition columns do not match the partition columns of the table.\nGiven: [{}]\nTable: [{}]",
        list(&spec.partition_by),
        list(&current)
    )))
}

fn check_partition_columns(data: &LogicalPlan, partition_by: &[String]) -> DeltaResult<()> {
    for p in partition_by {
        if !data.schema().fields().iter().any(|f| f.name() == p) {
            return Err(DeltaError::Analysis(format!(
                "[DELTA_PARTITION_COLUMN_NOT_FOUND] Partition column `{p}` not found in schema [{}].",
                data.schema()
                    .fields()
                    .iter()
                    .map(|f| f.name().as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    Ok(())
}

fn write_error(spec: &WriteSpec, e: deltalake::DeltaTableError) -> DeltaError {
    let text = e.to_string();
    if text.contains("failed validation check") && spec.replace_where.is_none() {
        // delta-rs checks the table's NOT NULL columns and CHECK constraints.
        return DeltaError::Invariant(format!(
            "[DELTA_NOT_NULL_CONSTRAINT_VIOLATED] NOT NULL constraint or CHECK constraint violated: {}",
            text.trim_start_matches("Generic DeltaTable error: External error: ")
        ));
    }
    if spec.replace_where.is_some()
        && (text.contains("predicate") || text.contains("failed validation check"))
    {
        return DeltaError::Analysis(format!(
            "[DELTA_REPLACE_WHERE_MISMATCH] Written data does not conform to partial table overwrite condition or constraint: {text}"
        ));
    }
    e.into()
}

/// Parquet settings for data files. Spark's codec (snappy), with two choices that make
/// delta-rs's single writer task about a third cheaper on typical ingest data:
/// - a 256 KiB dictionary page limit, so columns of mostly distinct values (ids,
///   timestamps) give up dictionary encoding after a few thousand values instead of
///   hashing every value into a 1 MiB dictionary, while low-cardinality columns keep it;
/// - statistics per column chunk only: Delta's data skipping reads the file-level stats
///   delta-rs derives from them, and nothing here reads page indexes.
///
/// Row groups of 128 Ki rows let a scan of one big file run on every core.
pub(crate) fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_dictionary_page_size_limit(256 * 1024)
        .set_max_row_group_row_count(Some(128 * 1024))
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .build()
}
