//! Where a micro-batch goes. Every sink makes a replayed batch harmless: Delta through the
//! `txn` action (query id, batch id), file sinks through `_spark_metadata/<batch>`, memory
//! and console by remembering the last batch they took.
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::datasource::{provider_as_source, MemTable};
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder};
use delta_sink::SaveMode;
use planner::PlanError;
use serde_json::json;

use crate::error::{SparkError, SparkResult};
use crate::session::Session;
use crate::streaming::checkpoint;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OutputMode {
    Append,
    Complete,
    Update,
}

impl OutputMode {
    pub fn parse(s: &str) -> SparkResult<OutputMode> {
        match s.to_ascii_lowercase().as_str() {
            "" | "append" => Ok(OutputMode::Append),
            "complete" => Ok(OutputMode::Complete),
            "update" => Ok(OutputMode::Update),
            other => Err(SparkError::Plan(PlanError::invalid(format!(
                "Unknown output mode {other}. Accepted output modes are 'append', 'complete', 'update'"
            )))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            OutputMode::Append => "Append",
            OutputMode::Complete => "Complete",
            OutputMode::Update => "Update",
        }
    }
}

/// A sink defined elsewhere (a pipeline's change-data-capture target).
#[async_trait::async_trait]
pub trait CustomSink: Send + Sync {
    fn description(&self) -> String;
    /// Writes one batch; a batch written before a restart is skipped.
    async fn add_batch(
        &self,
        session: &Arc<Session>,
        query_id: &str,
        batch_id: i64,
        schema: SchemaRef,
        data: Vec<RecordBatch>,
    ) -> SparkResult<()>;
}

pub enum Sink {
    Custom(Arc<dyn CustomSink>),
    /// `format("delta")`: `.start(path)` or `.toTable(name)`.
    Delta {
        path: Option<String>,
        table: Option<Vec<String>>,
        options: HashMap<String, String>,
        partition_by: Vec<String>,
        /// The table's location once it exists, kept open between batches.
        open: tokio::sync::Mutex<(Option<delta_sink::Url>, delta_sink::OpenTable)>,
    },
    Files {
        format: String,
        root: PathBuf,
        options: HashMap<String, String>,
        partition_by: Vec<String>,
    },
    Memory {
        name: String,
        last: Mutex<Option<i64>>,
        rows: Mutex<Vec<RecordBatch>>,
    },
    Console {
        rows: usize,
        truncate: bool,
        last: Mutex<Option<i64>>,
    },
}

impl Sink {
    /// A Delta table sink (`toTable`), created in the catalog by its first batch.
    pub fn delta_table(
        parts: Vec<String>,
        options: HashMap<String, String>,
        partition_by: Vec<String>,
    ) -> Sink {
        Sink::Delta {
            path: None,
            table: Some(parts),
            options,
            partition_by,
            open: Default::default(),
        }
    }

    pub fn description(&self) -> String {
        match self {
            Sink::Custom(c) => c.description(),
            Sink::Delta { path: Some(p), .. } => format!("DeltaSink[{p}]"),
            Sink::Delta { table: Some(t), .. } => format!("DeltaSink[{}]", t.join(".")),
            Sink::Delta { .. } => "DeltaSink".into(),
            Sink::Files { root, .. } => {
                format!("FileSink[{}]", crate::streaming::source::file_url(root))
            }
            Sink::Memory { .. } => "MemorySink".into(),
            Sink::Console { .. } => {
                "org.apache.spark.sql.execution.streaming.ConsoleTable$@sluice".into()
            }
        }
    }

    /// Writes one batch's rows (already materialised); `complete` replaces the sink's contents.
    pub async fn add_batch(
        &self,
        session: &Arc<Session>,
        query_id: &str,
        batch_id: i64,
        schema: SchemaRef,
        data: Vec<RecordBatch>,
        mode: OutputMode,
    ) -> SparkResult<()> {
        let complete = mode == OutputMode::Complete;
        match self {
            Sink::Custom(c) => c.add_batch(session, query_id, batch_id, schema, data).await,
            Sink::Delta {
                path,
                table,
                options,
                partition_by,
                open,
            } => {
                let mut options = options.clone();
                options.insert("txnappid".into(), query_id.to_string());
                options.insert("txnversion".into(), batch_id.to_string());
                let save = if complete {
                    SaveMode::Overwrite
                } else {
                    SaveMode::Append
                };
                let plan = memory_plan(schema, data)?;
                let mut spec = crate::delta_ops::write_spec(save, &options, partition_by.clone())?;
                spec.operation = Some(delta_sink::Operation::streaming_update(
                    mode.name(),
                    query_id,
                    batch_id,
                ));
                let mut open = open.lock().await;
                if open.0.is_none() {
                    open.0 = match (path, table) {
                        (_, Some(parts)) => crate::tables::target(
                            session.catalog(),
                            &session.current_database(),
                            parts,
                        )?
                        .url()?,
                        (Some(p), None) => Some(delta_sink::location(p)?),
                        (None, None) => {
                            return Err(SparkError::Plan(PlanError::invalid(
                                "'path' is not specified",
                            )))
                        }
                    };
                }
                let (url, table_handle) = &mut *open;
                match (url.clone(), table) {
                    (Some(url), _) => {
                        let state = crate::delta_ops::state(session);
                        delta_sink::write::write_open(&url, table_handle, plan, state, spec)
                            .await?;
                        Ok(())
                    }
                    // The first batch of `toTable` creates the table in the catalog.
                    (None, Some(parts)) => {
                        crate::delta_ops::save_as_table(session, plan, parts, &options, spec).await
                    }
                    (None, None) => Err(SparkError::invalid("a Delta sink without a location")),
                }
            }
            Sink::Files {
                format,
                root,
                options,
                partition_by,
            } => {
                let log = root.join("_spark_metadata").join(batch_id.to_string());
                if log.exists() {
                    return Ok(()); // this batch was written before a restart
                }
                let plan = memory_plan(schema, data)?;
                let files = crate::writers::write_files(
                    session,
                    plan,
                    root,
                    format,
                    options,
                    partition_by,
                    false,
                )
                .await?;
                let lines: Vec<String> = files
                    .iter()
                    .map(|f| {
                        let size = std::fs::metadata(f).map_or(0, |m| m.len());
                        json!({
                            "path": format!("file://{}", crate::sources::files::absolute(f)),
                            "size": size,
                            "isDir": false,
                            "modificationTime": chrono::Utc::now().timestamp_millis(),
                            "blockReplication": 1,
                            "blockSize": 33554432,
                            "action": "add",
                        })
                        .to_string()
                    })
                    .collect();
                checkpoint::write_log(&log, &lines)
            }
            Sink::Memory { name, last, rows } => {
                let mut last = lock(last)?;
                if last.is_some_and(|l| l >= batch_id) {
                    return Ok(());
                }
                let mut rows = lock(rows)?;
                if complete {
                    rows.clear();
                }
                rows.extend(data.into_iter().filter(|b| b.num_rows() > 0));
                let table = MemTable::try_new(schema.clone(), vec![rows.clone()])?;
                let views = session.views();
                views.deregister_table(name)?;
                views.register_table(name.clone(), Arc::new(table))?;
                *last = Some(batch_id);
                Ok(())
            }
            Sink::Console {
                rows,
                truncate,
                last,
            } => {
                let mut last = lock(last)?;
                if last.is_some_and(|l| l >= batch_id) {
                    return Ok(());
                }
                let fields: Vec<arrow::datatypes::Field> =
                    schema.fields().iter().map(|f| f.as_ref().clone()).collect();
                let text = planner::show::show_string(
                    &fields,
                    &data,
                    *rows,
                    if *truncate { 20 } else { 0 },
                    false,
                );
                println!(
                    "-------------------------------------------\nBatch: {batch_id}\n-------------------------------------------\n{text}"
                );
                *last = Some(batch_id);
                Ok(())
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> SparkResult<std::sync::MutexGuard<'_, T>> {
    m.lock()
        .map_err(|_| SparkError::invalid("a streaming sink lock was poisoned"))
}

/// Partitions rows in memory are spread over, so sinks encode files on every core.
fn partitions() -> usize {
    crate::sources::files::cores()
}

/// A plan over rows already in memory (batches dealt over the cores in runs, so that
/// reading the partitions one after the other gives the rows in their order).
pub fn memory_plan(schema: SchemaRef, data: Vec<RecordBatch>) -> SparkResult<LogicalPlan> {
    let len = data.len();
    let n = partitions().min(len).max(1);
    let mut parts: Vec<Vec<RecordBatch>> = vec![vec![]; n];
    for (i, b) in data.into_iter().enumerate() {
        parts[i * n / len].push(b);
    }
    let table = MemTable::try_new(schema, parts)?;
    Ok(LogicalPlanBuilder::scan("batch", provider_as_source(Arc::new(table)), None)?.build()?)
}
