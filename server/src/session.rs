//! Sessions and their operations. Each session owns a DataFusion context (with the Spark
//! functions), its config, temp views, artifacts, recent errors and running operations.
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use std::sync::RwLock;

use datafusion::catalog::SchemaProvider;
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::{SessionConfig as DFConfig, SessionContext};
use datafusion_spark::SessionStateBuilderSpark;
use delta_sink::catalog::Catalog;
use proto::connect::ExecutePlanResponse;
use tokio::sync::watch;
use tokio::task::AbortHandle;

use crate::catalog::{ViewSchema, CATALOG, DEFAULT_DB};
use crate::config::SessionConfig;
use crate::error::{SparkError, SparkResult, SparkThrowable};
use crate::tables::SparkCatalog;

/// Most operations a session may run at once.
pub const MAX_OPERATIONS: usize = 64;
/// Errors kept for FetchErrorDetails, per session.
const MAX_ERRORS: usize = 100;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock leaves plain data behind; keep serving.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One ExecutePlan: its responses, kept until released so a client can reattach.
pub struct Operation {
    pub id: String,
    pub tags: Vec<String>,
    responses: Mutex<Vec<ExecutePlanResponse>>,
    /// Bumped whenever responses are added or the operation ends.
    progress: watch::Sender<usize>,
    state: Mutex<OpState>,
    task: Mutex<Option<AbortHandle>>,
    /// Responses before this index were released by the client.
    released: Mutex<usize>,
    /// Sent from inside a pipeline's definition code (the client's PipelineAnalysisContext):
    /// the datasets its queries name may not exist yet.
    pipeline_definition: std::sync::atomic::AtomicBool,
}

#[derive(Clone)]
pub enum OpState {
    Running,
    Done,
    Failed(Arc<tonic::Status>),
}

impl Operation {
    pub fn new(id: String, tags: Vec<String>) -> Arc<Self> {
        let (progress, _) = watch::channel(0);
        Arc::new(Self {
            id,
            tags,
            responses: Mutex::new(vec![]),
            progress,
            state: Mutex::new(OpState::Running),
            task: Mutex::new(None),
            released: Mutex::new(0),
            pipeline_definition: Default::default(),
        })
    }

    pub fn push(&self, r: ExecutePlanResponse) {
        let n = {
            let mut rs = lock(&self.responses);
            rs.push(r);
            rs.len()
        };
        self.progress.send_replace(n);
    }

    pub fn finish(&self, state: OpState) {
        {
            let mut s = lock(&self.state);
            if matches!(*s, OpState::Running) {
                *s = state;
            }
        }
        self.progress.send_modify(|n| *n += 0);
    }

    pub fn set_task(&self, h: AbortHandle) {
        *lock(&self.task) = Some(h);
    }

    pub fn interrupt(&self) {
        if let Some(h) = lock(&self.task).take() {
            h.abort();
        }
        self.finish(OpState::Failed(Arc::new(
            SparkError::Cancelled.to_status(&self.id),
        )));
    }

    pub fn mark_pipeline_definition(&self) {
        self.pipeline_definition
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn in_pipeline_definition(&self) -> bool {
        self.pipeline_definition
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn state(&self) -> OpState {
        lock(&self.state).clone()
    }

    pub fn subscribe(&self) -> watch::Receiver<usize> {
        self.progress.subscribe()
    }

    /// Index just after the response with `id`, or None if unknown.
    pub fn index_after(&self, id: &str) -> Option<usize> {
        lock(&self.responses)
            .iter()
            .position(|r| r.response_id == id)
            .map(|i| i + 1)
    }

    pub fn get(&self, i: usize) -> Option<ExecutePlanResponse> {
        if i < *lock(&self.released) {
            return None;
        }
        lock(&self.responses).get(i).cloned()
    }

    pub fn len(&self) -> usize {
        lock(&self.responses).len()
    }

    /// Frees responses up to and including `id` (all when None).
    pub fn release_until(&self, id: Option<&str>) {
        let mut rs = lock(&self.responses);
        let upto = match id {
            Some(id) => rs
                .iter()
                .position(|r| r.response_id == id)
                .map(|i| i + 1)
                .unwrap_or(0),
            None => rs.len(),
        };
        for r in rs.iter_mut().take(upto) {
            r.response_type = None;
        }
        let mut released = lock(&self.released);
        *released = (*released).max(upto);
    }
}

pub struct Session {
    pub id: String,
    pub user_id: String,
    pub server_side_id: String,
    pub ctx: SessionContext,
    config: Mutex<SessionConfig>,
    artifacts: Mutex<HashMap<String, Vec<u8>>>,
    operations: Mutex<HashMap<String, Arc<Operation>>>,
    errors: Mutex<Vec<(String, SparkThrowable)>>,
    tags: Mutex<Vec<String>>,
    tables: Arc<SparkCatalog>,
    /// Plan ids of `spark.catalog.createTable` relations already run: the client runs the
    /// same relation again to read its schema and rows, which must not create it twice.
    created_by_plan: Mutex<std::collections::HashSet<i64>>,
    /// This session's streaming queries (Spark's StreamingQueryManager).
    pub streams: Arc<crate::streaming::Registry>,
    /// This session's dataflow graphs (declarative pipelines).
    pub pipelines: crate::pipelines::Graphs,
}

impl Session {
    pub fn new(
        id: &str,
        user_id: &str,
        config: SessionConfig,
        global_views: Arc<ViewSchema>,
        catalog: Arc<Catalog>,
    ) -> SparkResult<Arc<Self>> {
        let df_config = DFConfig::new()
            .with_default_catalog_and_schema(CATALOG, DEFAULT_DB)
            .with_create_default_catalog_and_schema(false)
            .set_bool("datafusion.sql_parser.enable_ident_normalization", false)
            .set_str("datafusion.sql_parser.dialect", "Databricks")
            // Spark reads `1.5` in SQL as a decimal, not a double.
            .set_bool("datafusion.sql_parser.parse_float_as_decimal", true)
            // The rule pulls `get_field` out of filters into projections whose column is named
            // like a qualified field (`window.start`), which the next projection then cannot
            // tell from the struct column `window` ("qualified and unqualified field name").
            .set_bool(
                "datafusion.optimizer.enable_leaf_expression_pushdown",
                false,
            );
        let state = SessionStateBuilder::new()
            .with_config(df_config)
            .with_default_features()
            .with_spark_features()
            .with_query_planner(delta_sink::query_planner())
            .with_analyzer_rule(Arc::new(planner::time_window::ExpandTimeWindows))
            .build();
        // Spark's `a.b` over arrays of structs goes before DataFusion's struct field access.
        let mut planners: Vec<Arc<dyn datafusion::logical_expr::planner::ExprPlanner>> =
            vec![Arc::new(planner::field_access::SparkFieldAccess)];
        planners.extend(state.expr_planners().iter().cloned());
        let state = SessionStateBuilder::new_from_existing(state)
            .with_expr_planners(planners)
            .build();
        let ctx = SessionContext::new_with_state(state);
        for f in planner::udf::sql_functions() {
            ctx.register_udf(f);
        }
        if let Some(array) = ctx.state().scalar_functions().get("array").cloned() {
            ctx.register_udf(planner::array_ctor::wrap(array));
        }
        for f in planner::aggregates::sql_aggregates() {
            ctx.register_udaf(f);
        }
        for name in ["sum", "avg"] {
            if let Some(f) = ctx.state().aggregate_functions().get(name).cloned() {
                ctx.register_udaf(planner::aggregates::strings_as_double(f));
            }
        }
        if let Some(range) = ctx.state().table_functions().get("range").cloned() {
            ctx.register_udtf(
                "range",
                Arc::new(planner::table_functions::SparkRange::new(range)),
            );
        }
        let tables = Arc::new(SparkCatalog {
            catalog,
            views: Arc::new(ViewSchema::default()),
            global_views,
            current: Arc::new(RwLock::new(DEFAULT_DB.to_string())),
        });
        ctx.register_catalog(CATALOG, tables.clone());
        Ok(Arc::new(Self {
            id: id.to_string(),
            user_id: user_id.to_string(),
            server_side_id: uuid::Uuid::new_v4().to_string(),
            ctx,
            config: Mutex::new(config),
            artifacts: Mutex::new(HashMap::new()),
            operations: Mutex::new(HashMap::new()),
            errors: Mutex::new(vec![]),
            tags: Mutex::new(vec![]),
            tables,
            created_by_plan: Mutex::new(std::collections::HashSet::new()),
            streams: Arc::new(crate::streaming::Registry::default()),
            pipelines: Default::default(),
        }))
    }

    /// Whether the relation with this plan id already created its table.
    pub fn created_by_plan(&self, plan_id: i64) -> bool {
        lock(&self.created_by_plan).contains(&plan_id)
    }

    pub fn record_created_by_plan(&self, plan_id: i64) {
        lock(&self.created_by_plan).insert(plan_id);
    }

    /// The server's persistent table catalog.
    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.tables.catalog
    }

    pub fn current_database(&self) -> String {
        self.tables.current_database()
    }

    /// `USE db`: unqualified names now resolve in `db`.
    pub fn set_current_database(&self, db: &str) -> SparkResult<()> {
        let db = self.catalog().require_database(db)?.name;
        if let Ok(mut c) = self.tables.current.write() {
            *c = db.clone();
        }
        let state = self.ctx.state_ref();
        let mut state = state.write();
        state.config_mut().options_mut().catalog.default_schema = db;
        Ok(())
    }

    pub fn config(&self) -> MutexGuard<'_, SessionConfig> {
        lock(&self.config)
    }

    pub fn planner_config(&self) -> planner::PlannerConfig {
        self.config().planner_config()
    }

    pub fn add_artifact(&self, name: String, data: Vec<u8>) {
        lock(&self.artifacts).insert(name, data);
    }

    pub fn artifact(&self, name: &str) -> Option<Vec<u8>> {
        lock(&self.artifacts).get(name).cloned()
    }

    pub fn has_artifact(&self, name: &str) -> bool {
        lock(&self.artifacts).contains_key(name)
    }

    pub fn start_operation(&self, id: String, tags: Vec<String>) -> SparkResult<Arc<Operation>> {
        let mut ops = lock(&self.operations);
        if ops.contains_key(&id) {
            return Err(SparkError::invalid(format!(
                "[INVALID_HANDLE.OPERATION_ALREADY_EXISTS] The handle {id} is invalid. Operation already exists."
            )));
        }
        let running = ops
            .values()
            .filter(|o| matches!(o.state(), OpState::Running))
            .count();
        if running >= MAX_OPERATIONS {
            return Err(SparkError::Limit(format!(
                "[SESSION_OPERATION_LIMIT] This session already runs {running} operations, the most sluice allows."
            )));
        }
        let mut all_tags = tags;
        all_tags.extend(lock(&self.tags).iter().cloned());
        let op = Operation::new(id.clone(), all_tags);
        ops.insert(id, op.clone());
        Ok(op)
    }

    pub fn operation(&self, id: &str) -> Option<Arc<Operation>> {
        lock(&self.operations).get(id).cloned()
    }

    pub fn operations(&self) -> Vec<Arc<Operation>> {
        lock(&self.operations).values().cloned().collect()
    }

    pub fn remove_operation(&self, id: &str) {
        lock(&self.operations).remove(id);
    }

    pub fn record_error(&self, id: &str, t: SparkThrowable) {
        let mut errors = lock(&self.errors);
        if errors.len() >= MAX_ERRORS {
            errors.remove(0);
        }
        errors.push((id.to_string(), t));
    }

    pub fn error(&self, id: &str) -> Option<SparkThrowable> {
        lock(&self.errors)
            .iter()
            .find(|(i, _)| i == id)
            .map(|(_, t)| t.clone())
    }

    /// Temp views of this session.
    pub fn views(&self) -> Arc<dyn SchemaProvider> {
        self.tables.views.clone()
    }

    pub fn global_views(&self) -> Arc<dyn SchemaProvider> {
        self.tables.global_views.clone()
    }

    pub fn interrupt_all(&self) -> Vec<String> {
        let ops = self.operations();
        ops.iter()
            .filter(|o| matches!(o.state(), OpState::Running))
            .map(|o| {
                o.interrupt();
                o.id.clone()
            })
            .collect()
    }
}

/// All sessions of the server, by (user, session id).
pub struct Sessions {
    sessions: Mutex<HashMap<(String, String), Arc<Session>>>,
    global_views: Arc<ViewSchema>,
    catalog: Arc<Catalog>,
    warehouse: String,
    time_zone: String,
}

impl Sessions {
    pub fn new(warehouse: String, time_zone: String) -> Self {
        Self {
            sessions: Mutex::new(HashMap::new()),
            global_views: Arc::new(ViewSchema::default()),
            catalog: Arc::new(Catalog::new(&warehouse)),
            warehouse,
            time_zone,
        }
    }

    pub fn get_or_create(&self, user_id: &str, session_id: &str) -> SparkResult<Arc<Session>> {
        if uuid::Uuid::parse_str(session_id).is_err() {
            return Err(SparkError::invalid(format!(
                "[INVALID_HANDLE.FORMAT] The handle {session_id} is invalid. Handle must be an UUID string of the format '00112233-4455-6677-8899-aabbccddeeff'"
            )));
        }
        let mut sessions = lock(&self.sessions);
        let key = (user_id.to_string(), session_id.to_string());
        if let Some(s) = sessions.get(&key) {
            return Ok(s.clone());
        }
        let config = SessionConfig::new(&self.warehouse, &self.time_zone);
        let s = Session::new(
            session_id,
            user_id,
            config,
            self.global_views.clone(),
            self.catalog.clone(),
        )?;
        sessions.insert(key, s.clone());
        Ok(s)
    }

    pub fn clone_session(&self, from: &Session, new_id: &str) -> SparkResult<Arc<Session>> {
        let s = self.get_or_create(&from.user_id, new_id)?;
        *s.config() = from.config().clone();
        let views = from.views();
        for name in views.table_names() {
            if let Some(t) = futures::executor::block_on(views.table(&name))? {
                s.views().register_table(name, t)?;
            }
        }
        Ok(s)
    }

    pub fn release(&self, user_id: &str, session_id: &str) -> Option<Arc<Session>> {
        let s = lock(&self.sessions).remove(&(user_id.to_string(), session_id.to_string()));
        if let Some(s) = &s {
            s.interrupt_all();
            s.streams.stop_all();
        }
        s
    }
}
