//! Structured Streaming: `writeStream.start()` turns a streaming plan into a [`Query`] that
//! runs micro-batches in the background; `StreamingQueryCommand` and
//! `StreamingQueryManagerCommand` look at and control the running queries.
pub mod checkpoint;
mod checks;
mod dedup;
mod microbatch;
mod progress;
mod query;
mod resolver;
mod sink;
pub mod source;
mod state;
mod store;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use datafusion::logical_expr::LogicalPlan;
use planner::{PlanError, PlanResult, StreamingRead};
use proto::connect::relation::RelType;
use proto::connect::streaming_query_command::Command as QueryCmd;
use proto::connect::streaming_query_command_result::{
    AwaitTerminationResult, ExceptionResult, ExplainResult, RecentProgressResult, ResultType,
    StatusResult,
};
use proto::connect::streaming_query_manager_command::Command as ManagerCmd;
use proto::connect::streaming_query_manager_command_result::{
    ActiveResult, AwaitAnyTerminationResult, ResultType as ManagerResult, StreamingQueryInstance,
};
use proto::connect::write_stream_operation_start::{SinkDestination, Trigger as ProtoTrigger};
use proto::connect::{
    Relation, StreamingQueryCommand, StreamingQueryCommandResult, StreamingQueryInstanceId,
    StreamingQueryManagerCommand, StreamingQueryManagerCommandResult, WriteStreamOperationStart,
    WriteStreamOperationStartResult,
};

use crate::error::{SparkError, SparkResult};
use crate::session::Session;
use checkpoint::Checkpoint;
use dedup::Dedup;
use microbatch::Query;
pub use microbatch::{collect, BatchHook, Trigger};
pub use query::{QueryHandle, Registry};
pub(crate) use resolver::plan_batch;
pub use resolver::{FlowScope, Scoped};
pub use sink::{memory_plan, CustomSink, OutputMode, Sink};
use state::{Stateful, Watermark};

/// Plans a pipeline flow's query for a batch run: the plan and the streaming leaves it
/// reads (none for a batch query).
pub async fn analyse_flow(
    session: &Session,
    relation: &Relation,
    scope: Option<Arc<dyn FlowScope>>,
) -> SparkResult<(LogicalPlan, usize)> {
    let (plan, leaves) = resolver::analyse(session, relation, scope).await?;
    Ok((plan, leaves.len()))
}

/// The session's resolver answers `readStream` leaves with this.
pub async fn analysed_leaf(session: &Session, read: StreamingRead) -> PlanResult<LogicalPlan> {
    let spec = source::resolve(session, read).await.map_err(plan_error)?;
    source::leaf_plan(&spec).map_err(plan_error)
}

pub(crate) fn plan_error(e: SparkError) -> PlanError {
    match e {
        SparkError::Plan(p) => p,
        SparkError::DataFusion(d) => PlanError::DataFusion(d),
        other => PlanError::DataFusion(datafusion::error::DataFusionError::External(Box::new(
            other,
        ))),
    }
}

fn analysis(msg: impl Into<String>) -> SparkError {
    SparkError::Plan(PlanError::analysis(msg))
}

/// `"10 seconds"`, `"1 minute"`, `"interval 2 hours"` as a duration.
pub fn parse_interval(text: &str) -> Option<Duration> {
    planner::interval_micros(text)
        .and_then(|us| u64::try_from(us).ok())
        .map(Duration::from_micros)
}

/// The first `withWatermark` of a plan.
fn watermark_of(rel: &Relation) -> SparkResult<Option<Watermark>> {
    fn walk(rel: &Relation, depth: usize) -> Option<(String, String)> {
        if depth > 512 {
            return None;
        }
        if let Some(RelType::WithWatermark(w)) = &rel.rel_type {
            return Some((w.event_time.clone(), w.delay_threshold.clone()));
        }
        // Children are the message's Relation fields; walk them through their encoding.
        children(rel).into_iter().find_map(|c| walk(&c, depth + 1))
    }
    match walk(rel, 0) {
        None => Ok(None),
        Some((column, delay)) => {
            let d = parse_interval(&delay).ok_or_else(|| {
                SparkError::Plan(PlanError::invalid(format!(
                    "[CANNOT_PARSE_INTERVAL] Unable to parse '{delay}'. Please ensure that the value provided is in a valid format for defining an interval."
                )))
            })?;
            Ok(Some(Watermark {
                column,
                delay_ms: d.as_millis() as i64,
            }))
        }
    }
}

/// The `Deduplicate` relations of a plan: whether each is `dropDuplicatesWithinWatermark`.
fn deduplications(rel: &Relation) -> Vec<bool> {
    fn walk(rel: &Relation, depth: usize, out: &mut Vec<bool>) {
        if depth > 512 {
            return;
        }
        if let Some(RelType::Deduplicate(d)) = &rel.rel_type {
            out.push(d.within_watermark.unwrap_or(false));
        }
        for c in children(rel) {
            walk(&c, depth + 1, out);
        }
    }
    let mut out = vec![];
    walk(rel, 0, &mut out);
    out
}

/// The direct child relations of a relation.
fn children(rel: &Relation) -> Vec<Relation> {
    // The shapes a streaming query's plan takes between its sink and `withWatermark`.
    let Some(t) = &rel.rel_type else {
        return vec![];
    };
    let boxed = |r: &Option<Box<Relation>>| r.as_deref().cloned().into_iter().collect::<Vec<_>>();
    match t {
        RelType::Project(p) => boxed(&p.input),
        RelType::Filter(f) => boxed(&f.input),
        RelType::Aggregate(a) => boxed(&a.input),
        RelType::WithColumns(w) => boxed(&w.input),
        RelType::WithColumnsRenamed(w) => boxed(&w.input),
        RelType::Drop(d) => boxed(&d.input),
        RelType::Sort(s) => boxed(&s.input),
        RelType::Limit(l) => boxed(&l.input),
        RelType::Deduplicate(d) => boxed(&d.input),
        RelType::SubqueryAlias(s) => boxed(&s.input),
        RelType::Repartition(r) => boxed(&r.input),
        RelType::RepartitionByExpression(r) => boxed(&r.input),
        RelType::ToDf(t) => boxed(&t.input),
        RelType::Hint(h) => boxed(&h.input),
        RelType::WithWatermark(w) => boxed(&w.input),
        RelType::Join(j) => [boxed(&j.left), boxed(&j.right)].concat(),
        RelType::SetOp(s) => [boxed(&s.left_input), boxed(&s.right_input)].concat(),
        _ => vec![],
    }
}

fn trigger_of(t: Option<&ProtoTrigger>) -> SparkResult<Trigger> {
    match t {
        None => Ok(Trigger::ProcessingTime(Duration::ZERO)),
        Some(ProtoTrigger::Once(_)) => Ok(Trigger::Once),
        Some(ProtoTrigger::AvailableNow(_)) => Ok(Trigger::AvailableNow),
        Some(ProtoTrigger::ProcessingTimeInterval(s)) => parse_interval(s)
            .map(Trigger::ProcessingTime)
            .ok_or_else(|| SparkError::Plan(PlanError::invalid(format!("Invalid interval: {s}")))),
        Some(ProtoTrigger::ContinuousCheckpointInterval(_)) => Err(SparkError::unsupported(
            "Trigger.Continuous (continuous processing; use a micro-batch trigger)",
        )),
        Some(ProtoTrigger::RealTimeBatchDuration(_)) => {
            Err(SparkError::unsupported("the real-time trigger"))
        }
    }
}

fn sink_of(
    w: &WriteStreamOperationStart,
    format: &str,
    options: &HashMap<String, String>,
    mode: OutputMode,
    name: Option<&str>,
) -> SparkResult<Sink> {
    let path = match &w.sink_destination {
        Some(SinkDestination::Path(p)) => Some(p.clone()),
        _ => options.get("path").cloned(),
    };
    let table = match &w.sink_destination {
        Some(SinkDestination::TableName(t)) => {
            Some(planner::ddl::parse_table_name(t).map_err(SparkError::Plan)?)
        }
        _ => None,
    };
    let unsupported_mode = |source: &str| {
        analysis(format!(
            "[STREAMING_OUTPUT_MODE.UNSUPPORTED_DATASOURCE] Invalid streaming output mode: {}. This output mode is not supported in Data Source {source}. SQLSTATE: 42KDE",
            mode.name().to_ascii_lowercase()
        ))
    };
    match format {
        "delta" => {
            if mode == OutputMode::Update {
                return Err(analysis(
                    "[DELTA_UNSUPPORTED_OUTPUT_MODE] Data source delta does not support Update output mode",
                ));
            }
            let options = options
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "checkpointlocation" | "path"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            Ok(Sink::Delta {
                path,
                table,
                options,
                partition_by: w.partitioning_column_names.clone(),
                open: Default::default(),
            })
        }
        "parquet" | "json" | "csv" | "text" => {
            if mode != OutputMode::Append {
                return Err(unsupported_mode(format));
            }
            if table.is_some() {
                return Err(SparkError::unsupported(format!(
                    "toTable with format `{format}` (streaming tables are Delta tables)"
                )));
            }
            let root = path
                .ok_or_else(|| SparkError::Plan(PlanError::invalid("'path' is not specified")))?;
            let options = options
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "checkpointlocation" | "path"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            Ok(Sink::Files {
                format: format.to_string(),
                root: PathBuf::from(root),
                options,
                partition_by: w.partitioning_column_names.clone(),
            })
        }
        "memory" => {
            let name =
                name.ok_or_else(|| analysis("queryName must be specified for memory sink"))?;
            Ok(Sink::Memory {
                name: name.to_string(),
                last: Mutex::new(None),
                rows: Mutex::new(vec![]),
            })
        }
        "console" => Ok(Sink::Console {
            rows: options
                .get("numrows")
                .and_then(|n| n.parse().ok())
                .unwrap_or(20),
            truncate: options.get("truncate").is_none_or(|t| t != "false"),
            last: Mutex::new(None),
        }),
        other => Err(SparkError::unsupported(format!(
            "the streaming sink `{other}`"
        ))),
    }
}

/// `writeStream...start()` / `toTable()`.
pub async fn start(
    session: &Arc<Session>,
    w: WriteStreamOperationStart,
) -> SparkResult<WriteStreamOperationStartResult> {
    if w.foreach_batch.is_some() {
        return Err(SparkError::unsupported(
            "foreachBatch (it runs Python on the server)",
        ));
    }
    if w.foreach_writer.is_some() {
        return Err(SparkError::unsupported(
            "foreach (it runs Python on the server)",
        ));
    }
    if !w.clustering_column_names.is_empty() {
        return Err(SparkError::unsupported("clusterBy on a streaming write"));
    }
    let relation = w
        .input
        .clone()
        .ok_or_else(|| SparkError::invalid("writeStream without a query"))?;
    let trigger = trigger_of(w.trigger.as_ref())?;
    let mode = OutputMode::parse(&w.output_mode)?;
    let options = crate::writers::lower_keys(&w.options);
    let name = Some(w.query_name.clone()).filter(|n| !n.is_empty());
    let format = match w.format.to_ascii_lowercase().as_str() {
        "" if matches!(w.sink_destination, Some(SinkDestination::TableName(_))) => {
            "delta".to_string()
        }
        "" => "parquet".to_string(),
        f => f.to_string(),
    };
    let sink = sink_of(&w, &format, &options, mode, name.as_deref())?;
    let temporary_checkpoint = !options.contains_key("checkpointlocation");
    let checkpoint_dir = match options.get("checkpointlocation") {
        Some(p) => PathBuf::from(p),
        None if matches!(sink, Sink::Memory { .. } | Sink::Console { .. }) => {
            std::env::temp_dir().join(format!("sluice-checkpoint-{}", uuid::Uuid::new_v4()))
        }
        None => {
            return Err(analysis(
                "checkpointLocation must be specified either through option(\"checkpointLocation\", ...) or SparkSession.conf.set(\"spark.sql.streaming.checkpointLocation\", ...)",
            ))
        }
    };
    let handle = launch(
        session,
        QuerySpec {
            relation,
            sink,
            mode,
            trigger,
            checkpoint_dir,
            temporary_checkpoint,
            name: name.clone(),
            scope: None,
            hook: None,
        },
    )
    .await?;
    Ok(WriteStreamOperationStartResult {
        query_id: Some(StreamingQueryInstanceId {
            id: handle.id.clone(),
            run_id: handle.run_id.clone(),
        }),
        name: name.unwrap_or_default(),
        query_started_event_json: None,
    })
}

/// A streaming query to run, however it was asked for (`writeStream`, a pipeline's flow).
pub struct QuerySpec {
    pub relation: Relation,
    pub sink: Sink,
    pub mode: OutputMode,
    pub trigger: Trigger,
    pub checkpoint_dir: PathBuf,
    /// sluice made `checkpoint_dir` up (a memory or console sink without one): it goes when
    /// the query stops, as Spark's temporary checkpoints do.
    pub temporary_checkpoint: bool,
    pub name: Option<String>,
    /// A pipeline's names, for its flows.
    pub scope: Option<Arc<dyn FlowScope>>,
    /// Runs each batch's plan in place of a plain collect (a pipeline's expectations).
    pub hook: Option<Arc<dyn BatchHook>>,
}

/// Analyses the query (errors in it are the caller's, not the query's) and starts it in
/// the background.
pub async fn launch(session: &Arc<Session>, spec: QuerySpec) -> SparkResult<Arc<QueryHandle>> {
    let QuerySpec {
        relation,
        sink,
        mode,
        trigger,
        checkpoint_dir,
        temporary_checkpoint,
        name,
        scope,
        hook,
    } = spec;
    let force_delete = session
        .config()
        .flag("spark.sql.streaming.forceDeleteTempCheckpointLocation");
    let (plan, specs) = resolver::analyse(session, &relation, scope.clone()).await?;
    if specs.is_empty() {
        return Err(analysis(
            "'writeStream' can be called only on streaming Dataset/DataFrame",
        ));
    }
    checks::check(&plan, mode)?;
    let watermark = watermark_of(&relation)?;
    let aggregate = state::find_aggregate(&plan).is_some();
    let dedup_path = dedup::dedup_path(&plan);
    let within_watermark = dedup_path.is_some() && deduplications(&relation).contains(&true);
    if within_watermark && watermark.is_none() {
        // Spark's UnsupportedOperationChecker, word for word.
        return Err(analysis(
            "dropDuplicatesWithinWatermark is not supported on streaming DataFrames/DataSets without watermark;",
        ));
    }
    match (mode, aggregate) {
        (OutputMode::Complete, false) => {
            return Err(analysis("[STREAMING_OUTPUT_MODE.UNSUPPORTED_OPERATION] Invalid streaming output mode: complete. This output mode is not supported for no streaming aggregations on streaming DataFrames/DataSets. SQLSTATE: 42KDE"))
        }
        (OutputMode::Append, true) if watermark.is_none() => {
            return Err(analysis("[STREAMING_OUTPUT_MODE.UNSUPPORTED_OPERATION] Invalid streaming output mode: append. This output mode is not supported for streaming aggregations without watermark on streaming DataFrames/DataSets. SQLSTATE: 42KDE"))
        }
        _ => {}
    }

    if let Sink::Memory { name, .. } = &sink {
        // The memory table exists (empty) from the start, as Spark's does.
        let schema = crate::execute::spark_schema(plan.schema().as_arrow());
        let table = datafusion::datasource::MemTable::try_new(schema, vec![vec![]])?;
        let views = session.views();
        views.deregister_table(name)?;
        views.register_table(name.clone(), Arc::new(table))?;
    }
    let checkpoint = Checkpoint::open(&checkpoint_dir)?;
    let id = checkpoint.query_id()?;
    let explain = format!("== Physical Plan ==\n{}", plan.display_indent());
    let handle = QueryHandle::new(id, name.clone(), explain);
    session.streams.register(handle.clone())?;
    let sources = specs
        .iter()
        .enumerate()
        .map(|(i, s)| source::open(s, checkpoint.source_dir(i)))
        .collect();
    // Operators are numbered from the top of the plan: an aggregation above the
    // deduplication is operator 0.
    let dedup = dedup_path.map(|path| {
        Dedup::new(
            checkpoint.state_dir(usize::from(aggregate)),
            path,
            watermark.clone(),
            within_watermark,
        )
    });
    let stateful = aggregate.then(|| Stateful::new(checkpoint.state_dir(0), mode, watermark));
    let query = Query {
        session: session.clone(),
        handle: handle.clone(),
        relation,
        sources,
        sink,
        mode,
        trigger,
        checkpoint,
        stateful,
        dedup,
        scope,
        hook,
    };
    let registry = session.streams.clone();
    let h = handle.clone();
    tokio::spawn(async move {
        let result = query.run().await;
        let failure = result.err().map(|e| {
            let t = e.throwable();
            (
                t.classes
                    .first()
                    .copied()
                    .unwrap_or("org.apache.spark.SparkException")
                    .to_string(),
                t.message,
            )
        });
        if let Some((_, m)) = &failure {
            tracing::warn!("streaming query {} failed: {m}", h.id);
        }
        // Spark keeps a failed query's temporary checkpoint unless told not to.
        if temporary_checkpoint && (failure.is_none() || force_delete) {
            if let Err(e) = std::fs::remove_dir_all(&checkpoint_dir) {
                tracing::warn!("could not remove {}: {e}", checkpoint_dir.display());
            }
        }
        h.finish(failure);
        registry.terminated();
    });
    Ok(handle)
}

fn find(session: &Session, id: &Option<StreamingQueryInstanceId>) -> SparkResult<Arc<QueryHandle>> {
    let id = id
        .as_ref()
        .ok_or_else(|| SparkError::invalid("a streaming query command without a query id"))?;
    session
        .streams
        .get(&id.id)
        .filter(|q| q.run_id == id.run_id || id.run_id.is_empty())
        .ok_or_else(|| SparkError::invalid(format!("Streaming query {} is not found", id.id)))
}

fn timeout(ms: Option<i64>) -> Option<Duration> {
    ms.map(|m| Duration::from_millis(m.max(0) as u64))
}

pub async fn query_command(
    session: &Session,
    cmd: StreamingQueryCommand,
) -> SparkResult<StreamingQueryCommandResult> {
    let q = find(session, &cmd.query_id)?;
    let result = match cmd.command {
        Some(QueryCmd::Status(_)) => {
            let (message, data, trigger, active) = q.snapshot();
            Some(ResultType::Status(StatusResult {
                status_message: message,
                is_data_available: data,
                is_trigger_active: trigger,
                is_active: active,
            }))
        }
        Some(QueryCmd::LastProgress(_)) => Some(ResultType::RecentProgress(RecentProgressResult {
            recent_progress_json: q.last_progress(),
        })),
        Some(QueryCmd::RecentProgress(_)) => {
            Some(ResultType::RecentProgress(RecentProgressResult {
                recent_progress_json: q.recent_progress(),
            }))
        }
        Some(QueryCmd::Stop(_)) => {
            q.request_stop();
            q.await_termination(Some(Duration::from_secs(600)))
                .await
                .ok();
            None
        }
        Some(QueryCmd::ProcessAllAvailable(_)) => {
            q.process_all_available().await?;
            None
        }
        Some(QueryCmd::Explain(_)) => Some(ResultType::Explain(ExplainResult {
            result: q.explain.clone(),
        })),
        Some(QueryCmd::Exception(_)) => {
            let e = q.exception();
            Some(ResultType::Exception(ExceptionResult {
                exception_message: e.as_ref().map(|(m, _)| {
                    format!("org.apache.spark.sql.streaming.StreamingQueryException: {m}")
                }),
                error_class: e.as_ref().map(|_| "STREAM_FAILED".to_string()),
                stack_trace: None,
            }))
        }
        Some(QueryCmd::AwaitTermination(a)) => {
            let terminated = q.await_termination(timeout(a.timeout_ms)).await?;
            Some(ResultType::AwaitTermination(AwaitTerminationResult {
                terminated,
            }))
        }
        None => None,
    };
    Ok(StreamingQueryCommandResult {
        query_id: Some(StreamingQueryInstanceId {
            id: q.id.clone(),
            run_id: q.run_id.clone(),
        }),
        result_type: result,
    })
}

fn instance(q: &QueryHandle) -> StreamingQueryInstance {
    StreamingQueryInstance {
        id: Some(StreamingQueryInstanceId {
            id: q.id.clone(),
            run_id: q.run_id.clone(),
        }),
        name: q.name.clone(),
    }
}

pub async fn manager_command(
    session: &Session,
    cmd: StreamingQueryManagerCommand,
) -> SparkResult<StreamingQueryManagerCommandResult> {
    let r = &session.streams;
    let result = match cmd.command {
        Some(ManagerCmd::Active(_)) => ManagerResult::Active(ActiveResult {
            active_queries: r.active().iter().map(|q| instance(q)).collect(),
        }),
        Some(ManagerCmd::GetQuery(id)) => match r.get(&id).filter(|q| q.is_active()) {
            Some(q) => ManagerResult::Query(instance(&q)),
            None => return Ok(StreamingQueryManagerCommandResult { result_type: None }),
        },
        Some(ManagerCmd::AwaitAnyTermination(a)) => {
            ManagerResult::AwaitAnyTermination(AwaitAnyTerminationResult {
                terminated: r.await_any(timeout(a.timeout_ms)).await?,
            })
        }
        Some(ManagerCmd::ResetTerminated(_)) => {
            r.reset_terminated();
            ManagerResult::ResetTerminated(true)
        }
        Some(ManagerCmd::ListListeners(_)) => ManagerResult::ListListeners(
            proto::connect::streaming_query_manager_command_result::ListStreamingQueryListenerResult {
                listener_ids: vec![],
            },
        ),
        Some(ManagerCmd::AddListener(_)) | Some(ManagerCmd::RemoveListener(_)) => {
            return Err(SparkError::unsupported(
                "streaming query listeners (they run Python on the server)",
            ))
        }
        None => return Err(SparkError::invalid("a streaming query manager command without a command")),
    };
    Ok(StreamingQueryManagerCommandResult {
        result_type: Some(result),
    })
}
