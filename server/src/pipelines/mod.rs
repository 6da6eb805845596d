//! Declarative pipelines (Spark Declarative Pipelines over `pipelines.proto`, and DLT's SQL):
//! clients define a graph of datasets and flows, then start runs of it; each run streams
//! its events back and appends them to the pipeline's event log.
pub mod analysis;
mod cdc;
pub mod define;
pub mod events;
mod expectations;
pub mod graph;
mod materialize;
mod project;
pub mod run;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use proto::connect::execute_plan_response::ResponseType;
use proto::connect::pipeline_command::CommandType as Command;
use proto::connect::pipeline_command_result::{
    CreateDataflowGraphResult, DefineFlowResult, DefineOutputResult, ResultType,
};
use proto::connect::{PipelineCommand, PipelineCommandResult, PipelineEvent, PipelineEventResult};

use crate::error::{SparkError, SparkResult};
use crate::execute::Responder;
use crate::session::Session;
use graph::{Graph, Ident};

/// `batch` with the columns of `schema`, found by name (case-insensitively) and cast where
/// the types differ; `missing` is the error for a column the batch lacks.
fn by_name(
    batch: &arrow::array::RecordBatch,
    schema: &arrow::datatypes::SchemaRef,
    missing: &dyn Fn(&str) -> SparkError,
) -> SparkResult<arrow::array::RecordBatch> {
    let columns = schema
        .fields()
        .iter()
        .map(|f| {
            let i = batch
                .schema()
                .fields()
                .iter()
                .position(|g| g.name().eq_ignore_ascii_case(f.name()))
                .ok_or_else(|| missing(f.name()))?;
            Ok(arrow::compute::cast(batch.column(i), f.data_type())?)
        })
        .collect::<SparkResult<Vec<_>>>()?;
    Ok(arrow::array::RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &arrow::array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )?)
}

/// A session's dataflow graphs by id.
#[derive(Default)]
pub struct Graphs {
    graphs: Mutex<HashMap<String, Graph>>,
}

impl Graphs {
    fn with<T>(&self, id: &str, f: impl FnOnce(&mut Graph) -> SparkResult<T>) -> SparkResult<T> {
        let mut graphs = self
            .graphs
            .lock()
            .map_err(|_| SparkError::invalid("pipeline registry lock poisoned"))?;
        let graph = graphs.get_mut(id).ok_or_else(|| unknown_graph(id))?;
        f(graph)
    }

    pub fn create(&self, graph: Graph) -> SparkResult<String> {
        let id = uuid::Uuid::new_v4().to_string();
        self.graphs
            .lock()
            .map_err(|_| SparkError::invalid("pipeline registry lock poisoned"))?
            .insert(id.clone(), graph);
        Ok(id)
    }

    fn drop_graph(&self, id: &str) {
        if let Ok(mut g) = self.graphs.lock() {
            g.remove(id);
        }
    }

    fn snapshot(&self, id: &str) -> SparkResult<Graph> {
        self.with(id, |g| Ok(g.clone()))
    }
}

fn unknown_graph(id: &str) -> SparkError {
    SparkError::Plan(planner::PlanError::analysis(format!(
        "[DATAFLOW_GRAPH_NOT_FOUND] Dataflow graph with id {id} could not be found"
    )))
}

fn graph_id(id: &Option<String>) -> SparkResult<&str> {
    id.as_deref()
        .filter(|i| !i.is_empty())
        .ok_or_else(|| SparkError::invalid("A pipeline command without a dataflow graph id"))
}

/// The resolved name Spark answers a definition with; views and sinks are not in the
/// catalog, so they get their name only.
fn resolved(ident: &Ident, in_catalog: bool) -> proto::connect::ResolvedIdentifier {
    if in_catalog {
        proto::connect::ResolvedIdentifier {
            catalog_name: "spark_catalog".into(),
            namespace: vec![ident.database.clone()],
            table_name: ident.name.clone(),
        }
    } else {
        proto::connect::ResolvedIdentifier {
            table_name: ident.name.clone(),
            ..Default::default()
        }
    }
}

fn result(out: &Responder<'_>, r: ResultType) {
    out.send(ResponseType::PipelineCommandResult(PipelineCommandResult {
        result_type: Some(r),
    }));
}

/// Sends an event to the client as a `PipelineEventResult`.
fn send_event(out: &Responder<'_>, e: &events::Event) {
    let ts = prost_types::Timestamp {
        seconds: e.timestamp.timestamp(),
        nanos: i32::try_from(e.timestamp.timestamp_subsec_nanos()).unwrap_or(0),
    };
    out.send(ResponseType::PipelineEventResult(PipelineEventResult {
        event: Some(PipelineEvent {
            timestamp: Some(ts),
            message: Some(e.message.clone()),
        }),
    }));
}

/// Runs one `PipelineCommand`.
pub async fn command(
    session: &Arc<Session>,
    out: &Responder<'_>,
    cmd: PipelineCommand,
) -> SparkResult<()> {
    let Some(cmd) = cmd.command_type else {
        return Err(SparkError::invalid("PipelineCommand without a command"));
    };
    match cmd {
        Command::CreateDataflowGraph(c) => {
            if let Some(cat) = c.default_catalog.as_ref().filter(|c| !c.is_empty()) {
                if !cat.eq_ignore_ascii_case("spark_catalog") {
                    return Err(SparkError::unsupported(format!(
                        "the catalog `{cat}` (sluice has one catalog, spark_catalog)"
                    )));
                }
            }
            let database = c
                .default_database
                .filter(|d| !d.is_empty())
                .map(|d| d.to_lowercase())
                .unwrap_or_else(|| session.current_database());
            session.catalog().require_database(&database)?;
            let id = session.pipelines.create(Graph {
                default_database: database,
                sql_conf: c.sql_conf,
                ..Default::default()
            })?;
            result(
                out,
                ResultType::CreateDataflowGraphResult(CreateDataflowGraphResult {
                    dataflow_graph_id: Some(id),
                }),
            );
            Ok(())
        }
        Command::DropDataflowGraph(d) => {
            session
                .pipelines
                .drop_graph(graph_id(&d.dataflow_graph_id)?);
            Ok(())
        }
        Command::DefineOutput(d) => {
            let id = graph_id(&d.dataflow_graph_id)?.to_string();
            let ident = session.pipelines.with(&id, |g| define::output(g, d))?;
            let in_catalog = session.pipelines.with(&id, |g| {
                Ok(g.output(&ident).is_some_and(|o| {
                    matches!(
                        o.kind,
                        graph::OutputKind::StreamingTable
                            | graph::OutputKind::MaterializedView
                            | graph::OutputKind::PersistedView { .. }
                    )
                }))
            })?;
            result(
                out,
                ResultType::DefineOutputResult(DefineOutputResult {
                    resolved_identifier: Some(resolved(&ident, in_catalog)),
                }),
            );
            Ok(())
        }
        Command::DefineFlow(d) => {
            let id = graph_id(&d.dataflow_graph_id)?.to_string();
            let ident = session.pipelines.with(&id, |g| define::flow(g, d))?;
            result(
                out,
                ResultType::DefineFlowResult(DefineFlowResult {
                    resolved_identifier: Some(resolved(&ident, true)),
                }),
            );
            Ok(())
        }
        Command::DefineSqlGraphElements(d) => {
            let id = graph_id(&d.dataflow_graph_id)?.to_string();
            let text = d.sql_text.unwrap_or_default();
            let file = d.sql_file_path.unwrap_or_else(|| "<sql>".into());
            session
                .pipelines
                .with(&id, |g| define::sql_file(g, &text, &file))
        }
        Command::StartRun(s) => {
            let id = graph_id(&s.dataflow_graph_id)?.to_string();
            let graph = Arc::new(session.pipelines.snapshot(&id)?);
            let options = run::RunOptions {
                storage: s.storage.unwrap_or_default(),
                full_refresh_all: s.full_refresh_all.unwrap_or(false),
                full_refresh: s.full_refresh_selection,
                refresh: s.refresh_selection,
                dry: s.dry.unwrap_or(false),
            };
            start_run(session, graph, options, |e| send_event(out, e)).await?;
            // Spark ends the event stream with an empty command result.
            out.send(ResponseType::PipelineCommandResult(PipelineCommandResult {
                result_type: None,
            }));
            Ok(())
        }
        other => Err(SparkError::unsupported(format!(
            "the pipeline command {}",
            format!("{other:?}").split('(').next().unwrap_or("?")
        ))),
    }
}

/// Runs the graph once, sending each event to `send` and appending them all to the event
/// log under the pipeline's storage.
pub async fn start_run(
    session: &Arc<Session>,
    graph: Arc<Graph>,
    options: run::RunOptions,
    send: impl Fn(&events::Event) + Send + Sync,
) -> SparkResult<()> {
    let storage = run::storage_path(&options.storage)?;
    let update_id = uuid::Uuid::new_v4().to_string();
    let events = events::Events::new(send);
    let outcome = run::run(session, graph, options, &events).await;
    let logged = events.take();
    if let Err(e) = events::append_log(session, &storage, "pipeline", &update_id, &logged).await {
        tracing::warn!("could not write the pipeline event log: {e}");
    }
    outcome
}

/// `sluice pipeline run`: what to refresh, as the `spark-pipelines` CLI takes it.
#[derive(Debug, Default, Clone)]
pub struct ProjectRun {
    pub full_refresh: Vec<String>,
    pub full_refresh_all: bool,
    pub refresh: Vec<String>,
    pub dry: bool,
}

/// Runs a project of pipeline SQL files in-process (a spec file, or a folder with one or
/// with only `.sql` files), printing its events; Err carries the failure's message.
pub async fn run_project(
    sessions: &crate::session::Sessions,
    target: &std::path::Path,
    how: ProjectRun,
) -> Result<(), String> {
    let (root, spec) = if target.is_file() {
        let root = target
            .parent()
            .unwrap_or(std::path::Path::new("."))
            .to_path_buf();
        (root, Some(target.to_path_buf()))
    } else {
        (target.to_path_buf(), project::spec_in(target))
    };
    let spec = match &spec {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            project::parse_spec(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => project::Spec {
            name: root
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "pipeline".into()),
            libraries: vec!["**".into()],
            ..Default::default()
        },
    };
    let files = if spec.libraries == ["**"] {
        project::library_files(&root, &[".".to_string() + "/**"])?
    } else {
        project::library_files(&root, &spec.libraries)?
    };
    let storage = spec
        .storage
        .clone()
        .unwrap_or_else(|| root.join("pipeline-storage").to_string_lossy().into_owned());
    let session = sessions
        .get_or_create("sluice", &uuid::Uuid::new_v4().to_string())
        .map_err(|e| e.throwable().message)?;
    for (k, v) in &spec.configuration {
        session.config().set(k, v);
    }
    let fail = |e: SparkError| e.throwable().message;
    if let Some(c) = spec
        .catalog
        .as_ref()
        .filter(|c| !c.eq_ignore_ascii_case("spark_catalog"))
    {
        return Err(format!("sluice has one catalog, spark_catalog, not {c}"));
    }
    let database = spec
        .database
        .clone()
        .map(|d| d.to_lowercase())
        .unwrap_or_else(|| session.current_database());
    session
        .catalog()
        .require_database(&database)
        .map_err(|e| e.to_string())?;
    let mut graph = Graph {
        default_database: database,
        sql_conf: spec.configuration.clone(),
        ..Default::default()
    };
    let mut sql_files = 0;
    for file in &files {
        match file.extension().and_then(|e| e.to_str()) {
            Some("sql") => {
                let text =
                    std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
                let shown = file.strip_prefix(&root).unwrap_or(file).display().to_string();
                define::sql_file(&mut graph, &text, &shown).map_err(fail)?;
                sql_files += 1;
            }
            Some("py") => {
                return Err(format!(
                    "{}: Python pipeline files run through a client: `python -m pyspark.pipelines.cli run` or `sluice-dlt run` against a running sluice server",
                    file.display()
                ))
            }
            _ => {}
        }
    }
    if sql_files == 0 {
        return Err(format!(
            "no pipeline SQL files found under {}",
            root.display()
        ));
    }
    let options = run::RunOptions {
        storage,
        full_refresh_all: how.full_refresh_all,
        full_refresh: how.full_refresh,
        refresh: how.refresh,
        dry: how.dry,
    };
    let print = |e: &events::Event| {
        println!(
            "{} {}",
            e.timestamp.format("%Y-%m-%d %H:%M:%S%.3f%:z"),
            e.message
        )
    };
    start_run(&session, Arc::new(graph), options, print)
        .await
        .map_err(fail)
}
