//! One update of a pipeline: analyse the graph, then compute its tables in dependency order
//! (independent ones concurrently). Streaming tables take only new input, through streaming
//! queries whose checkpoints live under the pipeline's storage; materialized views are
//! recomputed; views are planned into the flows that read them.
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use delta_sink::SaveMode;
use planner::DataSource;
use serde_json::json;

use super::analysis::{self, Analysis};
use super::events::{Event, Events};
use super::expectations::Checks;
use super::graph::{Flow, FlowBody, Graph, Ident, Output, OutputKind};
use super::materialize;
use crate::error::{SparkError, SparkResult};
use crate::session::Session;
use crate::streaming::{self, FlowScope, OutputMode, QuerySpec, Scoped, Sink, Trigger};

/// What `StartRun` asks for.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub storage: String,
    pub full_refresh_all: bool,
    pub full_refresh: Vec<String>,
    pub refresh: Vec<String>,
    pub dry: bool,
}

/// A pipeline's names as its flows see them.
struct PipelineScope {
    graph: Arc<Graph>,
    storage: PathBuf,
    /// The flow's checkpoint: Auto Loader keeps its schema under it.
    checkpoint: PathBuf,
}

impl FlowScope for PipelineScope {
    fn lookup(&self, parts: &[String]) -> Option<Scoped> {
        let ident = Ident::resolve(parts, &self.graph.default_database)?;
        let output = self.graph.output(&ident)?;
        if output.kind.is_view() {
            let flow = self.graph.flows_into(&ident).next()?;
            Some(Scoped::View(Box::new(analysis::flow_query(flow).clone())))
        } else {
            Some(Scoped::Table(table_name(&self.storage, output)))
        }
    }

    fn streaming_source(&self, mut source: DataSource) -> DataSource {
        if source.format.eq_ignore_ascii_case("cloudfiles")
            && !source.options.contains_key("cloudfiles.schemalocation")
        {
            let key = source.paths.join(",");
            let digest = format!("{:016x}", fnv(&key));
            let dir = self.checkpoint.join("_schemas").join(digest);
            source.options.insert(
                "cloudfiles.schemalocation".into(),
                dir.to_string_lossy().into_owned(),
            );
        }
        source
    }
}

/// The name a pipeline table is written and read by: its catalog name, or for a private
/// table its folder as ``delta.`/path` ``: its `path`, or one under the pipeline's storage.
pub fn table_name(storage: &Path, output: &Output) -> Vec<String> {
    if !output.private {
        return output.ident.parts();
    }
    let dir = match &output.path {
        Some(p) => PathBuf::from(p),
        None => storage
            .join("_private_tables")
            .join(&output.ident.database)
            .join(&output.ident.name),
    };
    let dir = std::path::absolute(&dir).unwrap_or(dir);
    vec![
        crate::tables::PATH_DATABASE.into(),
        dir.to_string_lossy().into_owned(),
    ]
}

/// The writer options that create a published table at its `path` (an external table).
fn create_options(output: &Output) -> HashMap<String, String> {
    match &output.path {
        Some(p) if !output.private => HashMap::from([("path".to_string(), p.clone())]),
        _ => HashMap::new(),
    }
}

/// A write of the output's table, with its definition: layout, comment, properties.
fn table_spec(
    output: &Output,
    mode: SaveMode,
    options: &HashMap<String, String>,
) -> SparkResult<delta_sink::WriteSpec> {
    let mut spec = crate::delta_ops::write_spec(mode, options, output.partition_cols.clone())?;
    spec.clustering = output.cluster_by.clone();
    spec.description = output.comment.clone();
    spec.properties = output.table_properties.clone();
    Ok(spec)
}

/// A stable hash for folder names (FNV-1a).
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `file:///x` or `/x` as a local path.
pub fn storage_path(storage: &str) -> SparkResult<PathBuf> {
    let path = storage
        .strip_prefix("file://")
        .or_else(|| storage.strip_prefix("file:"))
        .unwrap_or(storage);
    if path.is_empty() {
        return Err(SparkError::invalid(
            "A pipeline run needs a storage location (the `storage` of the pipeline spec)",
        ));
    }
    if path.contains("://") {
        return Err(SparkError::unsupported(format!(
            "pipeline storage at {storage} (sluice keeps checkpoints on local paths)"
        )));
    }
    Ok(PathBuf::from(path))
}

struct Update<'a> {
    session: &'a Arc<Session>,
    graph: Arc<Graph>,
    storage: PathBuf,
    events: &'a Events<'a>,
}

/// What one flow did.
struct FlowResult {
    rows: u64,
    details: serde_json::Value,
}

impl Update<'_> {
    /// `<storage>/_checkpoints/spark_catalog/<db>/<table>`, as Spark lays it out.
    fn table_checkpoints(&self, table: &Ident) -> PathBuf {
        self.storage
            .join("_checkpoints")
            .join("spark_catalog")
            .join(&table.database)
            .join(&table.name)
    }

    /// `<table>/<flow>`: the flow's checkpoints, one folder per generation.
    fn flow_checkpoints(&self, flow: &Flow) -> PathBuf {
        self.table_checkpoints(&flow.target).join(&flow.name.name)
    }

    /// The flow's current checkpoint: `<table>/<flow>/<n>`; a full refresh starts `n + 1`.
    fn checkpoint(&self, flow: &Flow) -> PathBuf {
        let dir = self.flow_checkpoints(flow);
        dir.join(latest_generation(&dir).unwrap_or(0).to_string())
    }

    fn scope(&self, flow: &Flow) -> Arc<dyn FlowScope> {
        Arc::new(PipelineScope {
            graph: self.graph.clone(),
            storage: self.storage.clone(),
            checkpoint: self.checkpoint(flow),
        })
    }

    fn flow_event(&self, flow: &Flow, message: String) -> Event {
        Event::new("flow_progress", message).flow(&flow.name.quoted(), &flow.target.quoted())
    }

    /// Full refresh: the table is emptied and its flows start new checkpoints (the old ones
    /// stay, as Spark leaves them).
    async fn reset(&self, output: &Output) -> SparkResult<()> {
        for flow in self.graph.flows_into(&output.ident) {
            let dir = self.flow_checkpoints(flow);
            if let Some(n) = latest_generation(&dir) {
                std::fs::create_dir_all(dir.join((n + 1).to_string()))?;
            }
        }
        let parts = table_name(&self.storage, output);
        if matches!(output.kind, OutputKind::StreamingTable) && self.exists(output) {
            let current = crate::execute::plan_relation(
                self.session,
                &crate::pipelines::define::table_read(&parts),
            )
            .await?;
            let schema = Arc::new(current.schema().as_arrow().clone());
            let empty = streaming::memory_plan(schema, vec![])?;
            let spec = table_spec(output, SaveMode::Overwrite, &HashMap::new())?;
            crate::delta_ops::save_as_table(self.session, empty, &parts, &HashMap::new(), spec)
                .await?;
        }
        Ok(())
    }

    async fn run_output(
        &self,
        output: &Output,
        analysis: &Analysis,
        full: bool,
    ) -> SparkResult<()> {
        if full {
            self.reset(output).await?;
        }
        for flow in self.graph.flows_into(&output.ident) {
            let streaming = analysis.streaming.get(&flow.name).copied().unwrap_or(false);
            if !streaming {
                self.events.emit(
                    self.flow_event(flow, format!("Flow {} is PLANNING.", flow.name.quoted())),
                );
            }
            self.events
                .emit(self.flow_event(flow, format!("Flow {} is STARTING.", flow.name.quoted())));
            self.apply_conf(flow);
            self.events
                .emit(self.flow_event(flow, format!("Flow {} is RUNNING.", flow.name.quoted())));
            let result = if streaming {
                self.run_streaming(flow, output).await
            } else {
                self.run_batch(flow, output, full).await
            };
            match result {
                Ok(Some(r)) => self.events.emit(
                    self.flow_event(flow, format!("Flow {} has COMPLETED.", flow.name.quoted()))
                        .details(json!({"flow_progress": {
                            "status": "COMPLETED",
                            "metrics": {"num_output_rows": r.rows},
                            "data_quality": r.details,
                        }})),
                ),
                Ok(None) => self.events.emit(
                    self.flow_event(flow, format!("Flow '{}' is SKIPPED.", flow.name.quoted()))
                        .details(json!({"flow_progress": {"status": "SKIPPED"}})),
                ),
                Err(e) => {
                    self.flow_failed(flow, &e);
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    fn flow_failed(&self, flow: &Flow, error: &SparkError) {
        let message = error.throwable().message;
        self.events.emit(
            self.flow_event(
                flow,
                format!(
                    "Flow '{}' has FAILED.\nError: {message}",
                    flow.name.quoted()
                ),
            )
            .level("ERROR")
            .details(json!({"flow_progress": {"status": "FAILED", "error": message}})),
        );
    }

    /// A flow's SQL settings (`SET` in its file, `spark_conf`) apply to the session.
    fn apply_conf(&self, flow: &Flow) {
        if flow.sql_conf.is_empty() && self.graph.sql_conf.is_empty() {
            return;
        }
        let mut config = self.session.config();
        for (k, v) in self.graph.sql_conf.iter().chain(&flow.sql_conf) {
            config.set(k, v);
        }
    }

    fn checks(&self, flow: &Flow, output: &Output) -> Arc<Checks> {
        let rules = output
            .expectations
            .iter()
            .chain(&flow.expectations)
            .cloned()
            .collect();
        Checks::new(
            flow.name.name.clone(),
            output.ident.quoted(),
            rules,
            output.schema.clone(),
        )
    }

    async fn run_streaming(&self, flow: &Flow, output: &Output) -> SparkResult<Option<FlowResult>> {
        let checkpoint = self.checkpoint(flow);
        let checks = self.checks(flow, output);
        let (relation, sink, hook, cdc) = match &flow.body {
            FlowBody::Query(r) => (
                r.as_ref().clone(),
                self.sink(output)?,
                Some(checks.clone()),
                None,
            ),
            FlowBody::Cdc(c) => {
                let table = table_name(&self.storage, output);
                let sink = super::cdc::sink(output, table, c, &checkpoint)?;
                let custom: Arc<dyn streaming::CustomSink> = sink.clone();
                (super::cdc::feed(c), Sink::Custom(custom), None, Some(sink))
            }
        };
        if matches!(output.kind, OutputKind::StreamingTable) {
            // Created up front, with its comment and properties, empty until data comes.
            self.ensure_table(flow, output).await?;
        }
        let handle = streaming::launch(
            self.session,
            QuerySpec {
                relation,
                sink,
                mode: OutputMode::Append,
                trigger: Trigger::AvailableNow,
                checkpoint_dir: checkpoint,
                temporary_checkpoint: false,
                name: None,
                scope: Some(self.scope(flow)),
                hook: hook.map(|h| h as Arc<dyn streaming::BatchHook>),
            },
        )
        .await?;
        handle.await_termination(None).await?;
        let rows = match &cdc {
            Some(sink) => sink.rows(),
            None => checks.rows_written(),
        };
        Ok(Some(FlowResult {
            rows,
            details: checks.data_quality(),
        }))
    }

    /// Where the output's table is written and read.
    fn target(&self, output: &Output) -> SparkResult<crate::tables::Target> {
        crate::tables::target(
            self.session.catalog(),
            &self.session.current_database(),
            &table_name(&self.storage, output),
        )
    }

    /// The table is in the catalog, or (private) has a Delta log at its folder.
    fn exists(&self, output: &Output) -> bool {
        match self.target(output) {
            Ok(crate::tables::Target::Path(url)) => {
                delta_sink::table::local_log_exists(&url).unwrap_or(false)
            }
            Ok(t) => t.exists(),
            Err(_) => false,
        }
    }

    /// A streaming table exists after its first update, empty if no input came yet, so
    /// that the flows reading it can run.
    async fn ensure_table(&self, flow: &Flow, output: &Output) -> SparkResult<()> {
        if self.exists(output) {
            return Ok(());
        }
        let schema = match (&output.schema, &flow.body) {
            (Some(arrow::datatypes::DataType::Struct(fields)), _) => {
                Arc::new(arrow::datatypes::Schema::new(fields.clone()))
            }
            (_, FlowBody::Query(r)) => {
                let (plan, _) =
                    streaming::analyse_flow(self.session, r, Some(self.scope(flow))).await?;
                Arc::new(plan.schema().as_arrow().clone())
            }
            (_, FlowBody::Cdc(c)) => {
                let feed = super::cdc::feed(c);
                let (plan, _) =
                    streaming::analyse_flow(self.session, &feed, Some(self.scope(flow))).await?;
                super::cdc::target_schema(c, plan.schema().as_arrow())?
            }
        };
        let schema = crate::execute::spark_schema(&schema);
        let empty = streaming::memory_plan(schema, vec![])?;
        let spec = table_spec(output, SaveMode::Ignore, &HashMap::new())?;
        crate::delta_ops::save_as_table(
            self.session,
            empty,
            &table_name(&self.storage, output),
            &create_options(output),
            spec,
        )
        .await
    }

    fn sink(&self, output: &Output) -> SparkResult<Sink> {
        let mut options = HashMap::from([("mergeschema".to_string(), "true".to_string())]);
        match &output.kind {
            OutputKind::StreamingTable => Ok(Sink::delta_table(
                table_name(&self.storage, output),
                options,
                output.partition_cols.clone(),
            )),
            OutputKind::Sink {
                format,
                options: user,
            } => {
                let user = crate::writers::lower_keys(user);
                let path = user.get("path").cloned().ok_or_else(|| {
                    SparkError::invalid(format!(
                        "The sink {} needs a `path` option",
                        output.ident.quoted()
                    ))
                })?;
                options.extend(user.into_iter().filter(|(k, _)| k != "path"));
                match format.to_ascii_lowercase().as_str() {
                    "delta" => Ok(Sink::Delta {
                        path: Some(path),
                        table: None,
                        options,
                        partition_by: vec![],
                        open: Default::default(),
                    }),
                    f @ ("parquet" | "json" | "csv") => {
                        options.remove("mergeschema");
                        Ok(Sink::Files {
                            format: f.to_string(),
                            root: PathBuf::from(path),
                            options,
                            partition_by: vec![],
                        })
                    }
                    other => Err(SparkError::unsupported(format!(
                        "pipeline sinks of format `{other}`"
                    ))),
                }
            }
            other => Err(SparkError::invalid(format!(
                "A streaming flow cannot write to a {}",
                other.describe()
            ))),
        }
    }

    /// Publishes the persisted views, each after the views it reads, once the tables they
    /// read exist (Spark makes them before the flows run; the result is the same catalog).
    /// A view that fails is reported as its flow's failure and does not fail the run, as
    /// in Spark.
    async fn publish_views(&self, depends_on: &BTreeMap<Ident, BTreeSet<Ident>>) {
        let mut pending: Vec<&Output> = self
            .graph
            .outputs
            .iter()
            .filter(|o| matches!(o.kind, OutputKind::PersistedView { .. }))
            .collect();
        let mut done: HashSet<Ident> = HashSet::new();
        while !pending.is_empty() {
            let (ready, wait): (Vec<&Output>, Vec<&Output>) = pending.iter().partition(|o| {
                depends_on
                    .get(&o.ident)
                    .into_iter()
                    .flatten()
                    .all(|d| done.contains(d) || !pending.iter().any(|p| &p.ident == d))
            });
            // A cycle was refused by analysis; stop rather than spin.
            if ready.is_empty() {
                break;
            }
            for view in ready {
                if let Err(e) = self.publish_view(view).await {
                    for flow in self.graph.flows_into(&view.ident) {
                        self.flow_failed(flow, &e);
                    }
                }
                done.insert(view.ident.clone());
            }
            pending = wait;
        }
    }

    async fn publish_view(&self, view: &Output) -> SparkResult<()> {
        let OutputKind::PersistedView { sql } = &view.kind else {
            return Ok(());
        };
        crate::views::create(
            self.session,
            crate::views::Definition {
                name: view.ident.parts(),
                replace: true,
                if_not_exists: false,
                comment: view.comment.clone(),
                query: sql.clone(),
                columns: vec![],
                current_database: self.graph.default_database.clone(),
            },
        )
        .await
    }

    /// What besides its query decides a materialized view's rows and table: the settings
    /// the flow runs with and the view's own definition.
    fn definition(&self, flow: &Flow, output: &Output) -> String {
        let mut conf: Vec<(&String, &String)> =
            self.graph.sql_conf.iter().chain(&flow.sql_conf).collect();
        conf.sort();
        let mut properties: Vec<_> = output.table_properties.iter().collect();
        properties.sort();
        let config = self.session.config();
        let session: Vec<Option<&str>> = ["spark.sql.session.timeZone", "spark.sql.ansi.enabled"]
            .iter()
            .map(|k| config.get(k))
            .collect();
        format!(
            "{conf:?} {session:?} {:?} {:?} {:?} {:?} {:?} {properties:?} {:?} {:?}",
            output.expectations,
            flow.expectations,
            output.schema,
            output.partition_cols,
            output.cluster_by,
            output.comment,
            output.path,
        )
    }

    /// The identity of the output's table as a read would see it now.
    async fn target_identity(&self, output: &Output) -> Option<delta_sink::read::ReadIdentity> {
        let url = self.target(output).ok()?.url().ok()??;
        delta_sink::read::latest_identity(&url).await.ok()?
    }

    async fn run_batch(
        &self,
        flow: &Flow,
        output: &Output,
        full: bool,
    ) -> SparkResult<Option<FlowResult>> {
        let FlowBody::Query(relation) = &flow.body else {
            return Err(SparkError::invalid("AUTO CDC flows are streaming"));
        };
        let marker = self.checkpoint(flow).join("once_completed");
        if flow.once && marker.exists() {
            return Ok(None);
        }
        let (plan, leaves) =
            streaming::analyse_flow(self.session, relation, Some(self.scope(flow))).await?;
        if leaves > 0 {
            return Err(SparkError::invalid(format!(
                "Flow {} became streaming after analysis",
                flow.name.quoted()
            )));
        }
        // A materialized view whose inputs did not change keeps its rows.
        let checks = self.checks(flow, output);
        let checkpoint = self.checkpoint(flow);
        let inputs = (!flow.once)
            .then(|| materialize::inputs(&plan, self.definition(flow, output)))
            .flatten();
        if let Some(inputs) = inputs.as_ref().filter(|_| !full) {
            let target = self.target_identity(output).await;
            if materialize::unchanged(&checkpoint, inputs, target.as_ref()) {
                self.events.emit(
                    Event::new(
                        "planning_information",
                        format!(
                            "Flow {} reads the same data as at its last update: {} is not recomputed.",
                            flow.name.quoted(),
                            output.ident.quoted()
                        ),
                    )
                    .flow(&flow.name.quoted(), &flow.target.quoted())
                    .details(json!({"planning_information": {"technique_information": [
                        {"maintenance_type": "MAINTENANCE_TYPE_NO_OP", "is_chosen": true}
                    ]}})),
                );
                return Ok(Some(FlowResult {
                    rows: 0,
                    details: checks.data_quality(),
                }));
            }
        }
        materialize::forget(&checkpoint);
        let (schema, data) = streaming::BatchHook::run(checks.as_ref(), self.session, plan).await?;
        let plan = streaming::memory_plan(schema, data)?;
        let parts = table_name(&self.storage, output);
        let (mode, mut options) = if flow.once {
            (
                SaveMode::Append,
                HashMap::from([("mergeschema".into(), "true".into())]),
            )
        } else {
            (
                SaveMode::Overwrite,
                HashMap::from([("overwriteschema".into(), "true".into())]),
            )
        };
        let spec = table_spec(output, mode, &options)?;
        options.extend(create_options(output));
        crate::delta_ops::save_as_table(self.session, plan, &parts, &options, spec).await?;
        if let Some(inputs) = inputs {
            if let Some(target) = self.target_identity(output).await {
                materialize::record(&checkpoint, inputs, target);
            }
        }
        if flow.once {
            if let Some(dir) = marker.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&marker, b"")?;
        }
        Ok(Some(FlowResult {
            rows: checks.rows_written(),
            details: checks.data_quality(),
        }))
    }
}

/// The highest numbered checkpoint folder under `dir`.
fn latest_generation(dir: &std::path::Path) -> Option<u64> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u64>().ok()))
        .max()
}

/// The tables (not views) each output reads, through any views in between.
fn table_inputs(graph: &Graph, analysis: &Analysis) -> BTreeMap<Ident, BTreeSet<Ident>> {
    fn expand(
        graph: &Graph,
        deps: &BTreeMap<Ident, BTreeSet<Ident>>,
        node: &Ident,
        out: &mut BTreeSet<Ident>,
        seen: &mut HashSet<Ident>,
    ) {
        for d in deps.get(node).into_iter().flatten() {
            if !seen.insert(d.clone()) {
                continue;
            }
            if graph.output(d).is_some_and(|o| o.kind.is_view()) {
                expand(graph, deps, d, out, seen);
            } else {
                out.insert(d.clone());
            }
        }
    }
    analysis
        .order
        .iter()
        .map(|o| {
            let mut out = BTreeSet::new();
            expand(
                graph,
                &analysis.depends_on,
                o,
                &mut out,
                &mut HashSet::new(),
            );
            (o.clone(), out)
        })
        .collect()
}

/// The tables a refresh selection names; names that are not the pipeline's tables select
/// nothing, as in Spark.
fn resolve_selection(graph: &Graph, names: &[String]) -> HashSet<Ident> {
    names
        .iter()
        .filter_map(|n| {
            let parts = planner::sql::split_identifier(n);
            Ident::resolve(&parts, &graph.default_database)
                .filter(|i| graph.output(i).is_some_and(|o| !o.kind.is_view()))
        })
        .collect()
}

/// Runs one update of `graph`, emitting its events; an error means the update failed.
pub async fn run(
    session: &Arc<Session>,
    graph: Arc<Graph>,
    options: RunOptions,
    events: &Events<'_>,
) -> SparkResult<()> {
    let storage = storage_path(&options.storage)?;
    let update = Update {
        session,
        graph: graph.clone(),
        storage,
        events,
    };
    let analysis = match analysis::analyse(&graph, session) {
        Ok(a) => a,
        Err(e) => {
            events.emit(
                Event::new(
                    "update_progress",
                    format!("Run has FAILED. {}", e.throwable().message),
                )
                .level("ERROR"),
            );
            return Err(e);
        }
    };
    if options.dry {
        events.emit(Event::new("update_progress", "Run is COMPLETED."));
        return Ok(());
    }
    let full = if options.full_refresh_all {
        analysis.order.iter().cloned().collect()
    } else {
        resolve_selection(&graph, &options.full_refresh)
    };
    let refresh = resolve_selection(&graph, &options.refresh);
    let mut both: Vec<&Ident> = full.intersection(&refresh).collect();
    both.sort();
    if !both.is_empty() {
        return Err(SparkError::invalid(format!(
            "Datasets specified for refresh and full refresh cannot overlap: {}",
            both.iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let selected: HashSet<Ident> = if options.full_refresh.is_empty() && options.refresh.is_empty()
    {
        analysis.order.iter().cloned().collect()
    } else {
        full.union(&refresh).cloned().collect()
    };

    for ident in &analysis.order {
        for flow in graph.flows_into(ident) {
            let message = if selected.contains(ident) {
                format!("Flow {} is QUEUED.", flow.name.quoted())
            } else {
                format!("Flow '{}' is EXCLUDED.", flow.name.quoted())
            };
            events.emit(update.flow_event(flow, message));
        }
    }
    // Levels: each output after every table it reads; one level runs concurrently.
    let inputs = table_inputs(&graph, &analysis);
    let mut level: HashMap<Ident, usize> = HashMap::new();
    for o in &analysis.order {
        let l = inputs
            .get(o)
            .into_iter()
            .flatten()
            .filter_map(|d| level.get(d))
            .map(|l| l + 1)
            .max()
            .unwrap_or(0);
        level.insert(o.clone(), l);
    }
    let depth = level.values().copied().max().map_or(0, |m| m + 1);
    let (update, analysis) = (&update, &analysis);
    let mut failed: HashSet<Ident> = HashSet::new();
    let mut first_error: Option<SparkError> = None;
    for l in 0..depth {
        let batch: Vec<&Ident> = analysis
            .order
            .iter()
            .filter(|o| level.get(*o) == Some(&l) && selected.contains(*o))
            .collect();
        let mut work = vec![];
        for ident in batch {
            let Some(output) = graph.output(ident) else {
                continue;
            };
            let upstream_failed = inputs
                .get(ident)
                .into_iter()
                .flatten()
                .any(|d| failed.contains(d));
            if upstream_failed {
                failed.insert(ident.clone());
                for flow in graph.flows_into(ident) {
                    events.emit(update.flow_event(
                        flow,
                        format!(
                            "Flow '{}' SKIPPED due to upstream failure(s).",
                            flow.name.quoted()
                        ),
                    ));
                }
                continue;
            }
            let full = full.contains(ident);
            work.push(async move {
                (
                    ident.clone(),
                    update.run_output(output, analysis, full).await,
                )
            });
        }
        for (ident, result) in futures::future::join_all(work).await {
            if let Err(e) = result {
                failed.insert(ident);
                first_error.get_or_insert(e);
            }
        }
    }
    if first_error.is_none() {
        update.publish_views(&analysis.depends_on).await;
    }
    match first_error {
        Some(e) => {
            events.emit(
                Event::new(
                    "update_progress",
                    format!("Run has FAILED. {}", e.throwable().message),
                )
                .level("ERROR"),
            );
            Err(e)
        }
        None => {
            events.emit(Event::new("update_progress", "Run is COMPLETED."));
            Ok(())
        }
    }
}
