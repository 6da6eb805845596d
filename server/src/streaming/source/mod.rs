//! Streaming sources. At analysis a source is a [`StreamingLeaf`] that knows its schema and
//! refuses to run; a query opens each leaf as a [`Source`] on its own checkpoint folder, and
//! every micro-batch reads the bounded slice (start, end] of it.
mod delta;
mod files;
mod rate;

use std::path::PathBuf;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::Session as CatalogSession;
use datafusion::datasource::{provider_as_source, TableProvider, TableType};
use datafusion::error::{DataFusionError, Result as DFResult};
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, TableSource};
use datafusion::physical_plan::ExecutionPlan;
use planner::{PlanError, StreamingRead};
use serde_json::{Map, Value};

use crate::error::{SparkError, SparkResult};
use crate::session::Session;

/// How much one batch may take.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    /// One trigger's worth (`maxFilesPerTrigger`, `maxBytesPerTrigger`).
    Trigger,
    /// Everything available (`Trigger.Once`).
    All,
}

/// What a streaming read resolved to.
#[derive(Debug, Clone)]
pub struct SourceSpec {
    pub kind: Kind,
    pub schema: SchemaRef,
    pub description: String,
}

#[derive(Debug, Clone)]
pub enum Kind {
    Files(Box<files::FileConfig>),
    Delta(delta::DeltaConfig),
    Rate(rate::RateConfig),
}

#[async_trait]
pub trait Source: Send + Sync {
    fn description(&self) -> &str;
    /// The columns every slice has.
    fn schema(&self) -> SchemaRef;
    /// Loads the source's own log; `last` is the end offset of the last batch in `offsets/`.
    async fn restore(&mut self, last: Option<&Value>) -> SparkResult<()>;
    /// Freezes what `Trigger.AvailableNow` reads: the data present now.
    async fn freeze(&mut self) -> SparkResult<()>;
    /// The end offset of batch `batch`, which starts after `start`; None when nothing is new.
    async fn next(
        &mut self,
        batch: i64,
        start: Option<&Value>,
        limit: Limit,
    ) -> SparkResult<Option<Value>>;
    /// The rows after `start` up to and including `end`.
    async fn plan(
        &self,
        session: &Session,
        start: Option<&Value>,
        end: &Value,
    ) -> SparkResult<LogicalPlan>;
    /// The batch ending at `end` is committed (e.g. `cleanSource`).
    async fn committed(&mut self, _start: Option<&Value>, _end: &Value) -> SparkResult<()> {
        Ok(())
    }
    /// Backlog figures for the progress report.
    fn metrics(&self) -> Map<String, Value> {
        Map::new()
    }
}

/// Resolves a `readStream` leaf: its kind and schema (inferred or stored where the format allows).
pub async fn resolve(session: &Session, read: StreamingRead) -> SparkResult<SourceSpec> {
    match read {
        StreamingRead::Table(parts, options) => {
            delta::resolve_table(session, &parts, options).await
        }
        StreamingRead::Source(s) => match s.format.as_str() {
            "delta" => delta::resolve_path(s).await,
            "rate" => rate::resolve(s),
            "json" | "csv" | "parquet" | "text" | "cloudfiles" | "binaryfile" => {
                files::resolve(session, s)
            }
            other => Err(SparkError::Plan(PlanError::unsupported(format!(
                "the streaming source format `{other}`"
            )))),
        },
    }
}

/// Opens a resolved source on its checkpoint folder (`sources/<n>`).
pub fn open(spec: &SourceSpec, dir: PathBuf) -> Box<dyn Source> {
    match &spec.kind {
        Kind::Files(c) => Box::new(files::FileSource::new(c.as_ref().clone(), spec, dir)),
        Kind::Delta(c) => Box::new(delta::DeltaSource::new(c.clone(), spec, dir)),
        Kind::Rate(c) => Box::new(rate::RateSource::new(c.clone(), spec, dir)),
    }
}

/// A streaming source in an analysed plan: it has a schema but cannot be scanned outside a
/// streaming query.
#[derive(Debug)]
pub struct StreamingLeaf {
    pub schema: SchemaRef,
    pub description: String,
}

#[async_trait]
impl TableProvider for StreamingLeaf {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
    fn table_type(&self) -> TableType {
        TableType::Base
    }
    async fn scan(
        &self,
        _state: &dyn CatalogSession,
        _projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        Err(DataFusionError::Plan(not_a_batch(&self.description)))
    }
}

fn not_a_batch(description: &str) -> String {
    format!(
        "Queries with streaming sources must be executed with writeStream.start();\n{description}"
    )
}

/// The plan of a leaf in an analysed (not running) query.
pub fn leaf_plan(spec: &SourceSpec) -> SparkResult<LogicalPlan> {
    let leaf = StreamingLeaf {
        schema: spec.schema.clone(),
        description: spec.description.clone(),
    };
    Ok(LogicalPlanBuilder::scan("stream", provider_as_source(Arc::new(leaf)), None)?.build()?)
}

fn leaf_of(source: &Arc<dyn TableSource>) -> Option<String> {
    let provider = datafusion::datasource::source_as_provider(source).ok()?;
    provider
        .downcast_ref::<StreamingLeaf>()
        .map(|l| l.description.clone())
}

/// The descriptions of the streaming leaves of `plan` (empty for a batch plan).
pub fn streaming_leaves(plan: &LogicalPlan) -> Vec<String> {
    use datafusion::common::tree_node::TreeNodeRecursion;
    let mut found = vec![];
    let _ = plan.apply_with_subqueries(|p| {
        if let LogicalPlan::TableScan(s) = p {
            if let Some(d) = leaf_of(&s.source) {
                found.push(d);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    found
}

/// Spark's refusal to run a streaming plan as a batch query.
pub fn refuse_batch(plan: &LogicalPlan) -> SparkResult<()> {
    match streaming_leaves(plan).first() {
        Some(d) => Err(SparkError::Plan(PlanError::analysis(not_a_batch(d)))),
        None => Ok(()),
    }
}

/// The file URL Spark prints for a local path.
pub fn file_url(path: &std::path::Path) -> String {
    let abs = crate::sources::files::absolute(path);
    format!("file:{abs}")
}

/// A batch read cast to the leaf's exact schema, so every batch plans like the analysed query.
pub fn conform(plan: LogicalPlan, schema: &SchemaRef) -> SparkResult<LogicalPlan> {
    use datafusion::logical_expr::{cast, ident};
    let exprs: Vec<Expr> = schema
        .fields()
        .iter()
        .map(|f| {
            let have = plan
                .schema()
                .fields()
                .iter()
                .find(|h| h.name() == f.name())
                .map(|h| h.data_type().clone());
            match have {
                Some(t) if &t == f.data_type() => ident(f.name()).alias(f.name()),
                Some(_) => cast(ident(f.name()), f.data_type().clone()).alias(f.name()),
                None => cast(
                    Expr::Literal(datafusion::common::ScalarValue::Null, None),
                    f.data_type().clone(),
                )
                .alias(f.name()),
            }
        })
        .collect::<Vec<_>>();
    // A file source's rows keep their file for `input_file_name()`.
    let plan = planner::input_file::keep(plan)?;
    let mut exprs = exprs;
    let file = planner::input_file::INPUT_FILE_COLUMN;
    if plan.schema().has_column_with_unqualified_name(file) {
        exprs.push(ident(file));
    }
    Ok(LogicalPlanBuilder::from(plan).project(exprs)?.build()?)
}

/// No rows, with the leaf's columns.
pub fn empty(schema: &SchemaRef) -> SparkResult<LogicalPlan> {
    let df_schema = datafusion::common::DFSchema::try_from(schema.as_ref().clone())?;
    Ok(LogicalPlan::EmptyRelation(
        datafusion::logical_expr::EmptyRelation {
            produce_one_row: false,
            schema: Arc::new(df_schema),
        },
    ))
}
