//! Spark Connect plans and Spark SQL to DataFusion logical plans.
//!
//! Pure translation: file sources and tables come from a [`Resolver`] the caller supplies,
//! functions from the DataFusion `SessionState` (with the `datafusion-spark` functions
//! registered) behind sluice's own table of Spark semantics in [`functions`].
pub mod aggregates;
pub mod array_ctor;
mod datetime;
pub mod ddl;
mod decimal_text;
mod dialect;
mod element_at;
mod epoch_timestamp;
pub mod error;
mod expression;
pub mod field_access;
mod functions;
mod generator;
pub mod input_file;
pub mod interval;
mod lambda;
mod lateral_view;
pub mod literal;
mod months_between;
mod murmur3;
mod names;
mod not_null;
mod nullability;
mod numeric_literals;
mod nvl2;
mod operand_types;
pub mod pipeline_sql;
mod random;
mod relation;
pub mod show;
pub mod sql;
mod sql_bridge;
mod sql_case;
mod sql_generator;
pub mod sql_relations;
mod sql_set_semantics;
mod sql_syntax;
mod sql_timestamps;
pub mod table_functions;
pub mod time_window;
mod timestamp_cast;
mod try_arith;
pub mod types;
pub mod udf;
pub mod unparse;

use std::collections::HashMap;
use std::sync::Mutex;

use arrow::record_batch::RecordBatch;
use datafusion::common::{DFSchema, DFSchemaRef};
use datafusion::execution::SessionState;
use datafusion::logical_expr::{Expr, LogicalPlan};
use futures::future::BoxFuture;

pub use datetime::interval_micros;
pub use error::{PlanError, PlanResult};
pub use proto::connect as spark;

/// A file-based source as a Spark `DataFrameReader` describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct DataSource {
    pub format: String,
    pub paths: Vec<String>,
    /// User-supplied schema as an Arrow struct type, if any.
    pub schema: Option<arrow::datatypes::SchemaRef>,
    /// Reader options with lower-cased keys (Spark options are case-insensitive).
    pub options: HashMap<String, String>,
}

/// A streaming leaf as `spark.readStream` describes it: a source format, or a table.
#[derive(Debug, Clone)]
pub enum StreamingRead {
    Source(DataSource),
    /// `readStream.table(name)`: the name's parts and the reader's options (lower-cased keys).
    Table(Vec<String>, HashMap<String, String>),
}

/// What the planner needs from the session that it may not do itself (I/O, catalogs).
pub trait Resolver: Send + Sync {
    /// A streaming source; the caller decides what one micro-batch of it reads.
    fn streaming_read(&self, read: StreamingRead) -> BoxFuture<'_, PlanResult<LogicalPlan>> {
        let _ = read;
        Box::pin(async { Err(PlanError::unsupported("streaming reads")) })
    }
    /// A scan over files, already carrying Spark's schema and column names.
    fn data_source(&self, source: DataSource) -> BoxFuture<'_, PlanResult<LogicalPlan>>;
    /// A relation a SQL query names (`FROM t`, or `FROM STREAM(t)` when `streaming`), when
    /// the caller answers it itself (a pipeline's datasets); `None` leaves a plain name to the
    /// session catalog.
    fn sql_table(
        &self,
        name: Vec<String>,
        streaming: bool,
    ) -> BoxFuture<'_, PlanResult<Option<LogicalPlan>>> {
        Box::pin(async move {
            if streaming {
                let read = StreamingRead::Table(name, HashMap::new());
                self.streaming_read(read).await.map(Some)
            } else {
                Ok(None)
            }
        })
    }
    /// A table or view by its (possibly multi-part) name.
    fn table(&self, name: Vec<String>) -> BoxFuture<'_, PlanResult<LogicalPlan>>;
    /// A cached artifact (`cache/<hash>`) holding an Arrow IPC stream from the client.
    fn cached_bytes(&self, hash: &str) -> PlanResult<Vec<u8>>;
    /// Runs `plan` to completion, for the few plans Spark evaluates while analysing another
    /// (the distinct values of a pivot column).
    fn collect(&self, plan: LogicalPlan) -> BoxFuture<'_, PlanResult<Vec<RecordBatch>>>;
}

/// Session settings that change planning.
#[derive(Debug, Clone)]
pub struct PlannerConfig {
    pub time_zone: String,
    pub ansi: bool,
    pub case_sensitive: bool,
}

impl Default for PlannerConfig {
    fn default() -> Self {
        Self {
            time_zone: "UTC".into(),
            ansi: true,
            case_sensitive: false,
        }
    }
}

/// Translates one Spark Connect plan. Holds per-plan state: the schemas of relations
/// that carry a `plan_id`, so that `df["col"]` references resolve to the right input.
pub struct Planner<'a> {
    pub(crate) state: &'a SessionState,
    pub(crate) resolver: &'a dyn Resolver,
    pub(crate) config: PlannerConfig,
    plan_ids: Mutex<Vec<(i64, DFSchemaRef)>>,
}

impl<'a> Planner<'a> {
    pub fn new(state: &'a SessionState, resolver: &'a dyn Resolver, config: PlannerConfig) -> Self {
        Self {
            state,
            resolver,
            config,
            plan_ids: Mutex::new(vec![]),
        }
    }

    /// Plans a relation (the root of a query plan).
    pub fn plan<'b>(&'b self, rel: &'b spark::Relation) -> BoxFuture<'b, PlanResult<LogicalPlan>> {
        Box::pin(async move {
            let plan = input_file::resolve(self.relation(rel).await?)?;
            random::fresh(nullability::spark_nullability(plan)?)
        })
    }

    /// Plans Spark SQL expression text (a MERGE condition, an UPDATE value) over `schema`.
    pub fn expression(&self, text: &str, schema: &DFSchema) -> PlanResult<Expr> {
        sql::plan_expression(self, text, schema)
    }

    pub(crate) fn remember_plan_id(&self, id: i64, schema: DFSchemaRef) {
        if let Ok(mut ids) = self.plan_ids.lock() {
            ids.push((id, schema));
        }
    }

    pub(crate) fn plan_id_schema(&self, id: i64) -> Option<DFSchemaRef> {
        let ids = self.plan_ids.lock().ok()?;
        ids.iter()
            .rev()
            .find(|(i, _)| *i == id)
            .map(|(_, s)| s.clone())
    }

    /// Number of plan ids recorded so far; with [`Planner::requalify_since`] this tells a
    /// join which ids belong to the side it re-aliases.
    pub(crate) fn plan_id_mark(&self) -> usize {
        self.plan_ids.lock().map(|ids| ids.len()).unwrap_or(0)
    }

    /// Records that the relations planned since `mark` are now seen through `schema`
    /// (a join re-qualified that side to keep its columns apart from the other side's).
    pub(crate) fn requalify_since(&self, mark: usize, end: usize, schema: &DFSchemaRef) {
        if let Ok(mut ids) = self.plan_ids.lock() {
            for (_, s) in ids.iter_mut().take(end).skip(mark) {
                *s = schema.clone();
            }
        }
    }
}
