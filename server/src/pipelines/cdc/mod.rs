//! `APPLY CHANGES` / `AUTO CDC` flows: each micro-batch of the change feed is applied to the
//! target table by key, in sequence order (SCD type 1: upserts and deletes; type 2: history
//! rows with `__START_AT` / `__END_AT`). The new table state is one Delta commit carrying
//! the batch's `txn`; the per-key bookkeeping (latest sequence, tombstones) is a file per
//! batch under the flow's checkpoint, derived only from the previous one, so a replayed
//! batch recomputes the same answer.
pub mod merge;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use delta_sink::SaveMode;
use proto::connect::expression::{self, literal::LiteralType, ExprType, Literal};
use proto::connect::relation::RelType;
use proto::connect::{Expression, Relation, WithColumns};

use super::graph::{Cdc, Columns, Output};
use crate::error::{SparkError, SparkResult};
use crate::session::Session;
use crate::streaming::CustomSink;

pub const SEQUENCE: &str = "__sluice_seq";
pub const DELETE: &str = "__sluice_delete";
pub const TRUNCATE: &str = "__sluice_truncate";

fn columns(c: &Columns) -> merge::Columns {
    match c {
        Columns::All => merge::Columns::All,
        Columns::Only(v) => merge::Columns::Only(v.clone()),
        Columns::Except(v) => merge::Columns::Except(v.clone()),
    }
}

fn literal_false() -> Expression {
    Expression {
        common: None,
        expr_type: Some(ExprType::Literal(Literal {
            literal_type: Some(LiteralType::Boolean(false)),
            ..Default::default()
        })),
    }
}

fn alias(expr: Expression, name: &str) -> expression::Alias {
    expression::Alias {
        expr: Some(Box::new(expr)),
        name: vec![name.to_string()],
        metadata: None,
    }
}

/// The change feed with the sequence and the delete / truncate conditions as columns.
pub fn feed(cdc: &Cdc) -> Relation {
    Relation {
        common: None,
        rel_type: Some(RelType::WithColumns(Box::new(WithColumns {
            input: Some(Box::new(cdc.source.clone())),
            aliases: vec![
                alias(cdc.sequence_by.clone(), SEQUENCE),
                alias(
                    cdc.delete_when.clone().unwrap_or_else(literal_false),
                    DELETE,
                ),
                alias(
                    cdc.truncate_when.clone().unwrap_or_else(literal_false),
                    TRUNCATE,
                ),
            ],
        }))),
    }
}

pub struct CdcSink {
    table: Vec<String>,
    quoted: String,
    partition_by: Vec<String>,
    spec: merge::Spec,
    state_dir: PathBuf,
    rows: AtomicU64,
}

impl CdcSink {
    pub fn rows(&self) -> u64 {
        self.rows.load(Ordering::Relaxed)
    }

    fn state_file(&self, batch: i64) -> PathBuf {
        self.state_dir.join(format!("{batch}.arrow"))
    }

    /// The bookkeeping after the latest batch before `batch`.
    fn state_before(&self, batch: i64) -> SparkResult<Option<RecordBatch>> {
        let Ok(entries) = std::fs::read_dir(&self.state_dir) else {
            return Ok(None);
        };
        let latest = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.strip_suffix(".arrow"))
                    .and_then(|n| n.parse::<i64>().ok())
            })
            .filter(|b| *b < batch)
            .max();
        let Some(latest) = latest else {
            return Ok(None);
        };
        let file = std::fs::File::open(self.state_file(latest))?;
        let reader = arrow::ipc::reader::FileReader::try_new(file, None)?;
        let schema = reader.schema();
        let batches = reader.collect::<Result<Vec<_>, _>>()?;
        Ok(Some(arrow::compute::concat_batches(&schema, &batches)?))
    }

    fn save_state(&self, batch: i64, state: &RecordBatch) -> SparkResult<()> {
        std::fs::create_dir_all(&self.state_dir)?;
        let tmp = self.state_dir.join(format!(".{batch}.arrow.tmp"));
        {
            let file = std::fs::File::create(&tmp)?;
            let mut w = arrow::ipc::writer::FileWriter::try_new(file, &state.schema())?;
            w.write(state)?;
            w.finish()?;
        }
        std::fs::rename(&tmp, self.state_file(batch))?;
        Ok(())
    }

    async fn current(&self, session: &Arc<Session>) -> SparkResult<Option<RecordBatch>> {
        let target =
            crate::tables::target(session.catalog(), &session.current_database(), &self.table)?;
        if !target.exists() {
            return Ok(None);
        }
        let plan =
            crate::execute::plan_relation(session, &super::define::table_read(&self.table)).await?;
        let (schema, data) = crate::streaming::collect(session, plan).await?;
        Ok(Some(arrow::compute::concat_batches(&schema, &data)?))
    }
}

#[async_trait]
impl CustomSink for CdcSink {
    fn description(&self) -> String {
        format!("AutoCdcSink[{}]", self.quoted)
    }

    async fn add_batch(
        &self,
        session: &Arc<Session>,
        query_id: &str,
        batch_id: i64,
        schema: SchemaRef,
        data: Vec<RecordBatch>,
    ) -> SparkResult<()> {
        let changes = arrow::compute::concat_batches(&schema, &data)?;
        let target_schema = merge::target_schema(&self.spec, &schema)?;
        let current = self.current(session).await?;
        // Rows as the target keeps them (a restart may find the table in Spark types).
        let current = match current {
            Some(c) => Some(conform(&c, &target_schema)?),
            None => None,
        };
        let state = self.state_before(batch_id)?;
        let applied = merge::apply(&self.spec, current.as_ref(), state.as_ref(), &changes)?;
        self.save_state(batch_id, &applied.state)?;
        let table_schema = crate::execute::spark_schema(&applied.target.schema());
        let rows = crate::execute::to_spark_batch(&applied.target, &table_schema)?;
        let plan = crate::streaming::memory_plan(table_schema, vec![rows])?;
        let options = HashMap::from([
            ("txnappid".to_string(), query_id.to_string()),
            ("txnversion".to_string(), batch_id.to_string()),
            ("overwriteschema".to_string(), "true".to_string()),
        ]);
        let spec =
            crate::delta_ops::write_spec(SaveMode::Overwrite, &options, self.partition_by.clone())?;
        crate::delta_ops::save_as_table(session, plan, &self.table, &options, spec).await?;
        self.rows
            .fetch_add(applied.upserted + applied.deleted, Ordering::Relaxed);
        Ok(())
    }
}

/// `batch` with the columns of `schema`, cast where types differ.
fn conform(batch: &RecordBatch, schema: &SchemaRef) -> SparkResult<RecordBatch> {
    super::by_name(batch, schema, &|name| {
        SparkError::Plan(planner::PlanError::analysis(format!(
            "The AUTO CDC target has no column `{name}`: its schema changed; run a full refresh of the table."
        )))
    })
}

/// The target table's schema for a change feed of `feed` columns.
pub fn target_schema(cdc: &Cdc, feed: &arrow::datatypes::Schema) -> SparkResult<SchemaRef> {
    Ok(merge::target_schema(&spec(cdc), feed)?)
}

fn spec(cdc: &Cdc) -> merge::Spec {
    merge::Spec {
        keys: cdc.keys.clone(),
        columns: columns(&cdc.columns),
        scd_type: cdc.scd_type,
        track_history: columns(&cdc.track_history),
        ignore_null_updates: cdc.ignore_null_updates,
    }
}

/// The sink of a CDC flow into `output`, keeping its bookkeeping under `checkpoint` and
/// writing the table by `table` (its catalog name, or a private table's folder).
pub fn sink(
    output: &Output,
    table: Vec<String>,
    cdc: &Cdc,
    checkpoint: &Path,
) -> SparkResult<Arc<CdcSink>> {
    if !matches!(output.kind, super::graph::OutputKind::StreamingTable) {
        return Err(SparkError::invalid(format!(
            "The target of an AUTO CDC flow must be a streaming table; {} is a {}.",
            output.ident.quoted(),
            output.kind.describe()
        )));
    }
    Ok(Arc::new(CdcSink {
        table,
        quoted: output.ident.quoted(),
        partition_by: output.partition_cols.clone(),
        spec: spec(cdc),
        state_dir: checkpoint.join("cdc"),
        rows: AtomicU64::new(0),
    }))
}
