//! Where names resolve: temp views (per session), global temp views (shared), and file
//! sources. Implements the planner's [`Resolver`].
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::datasource::provider_as_source;
use datafusion::error::Result as DFResult;
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder};
use futures::future::BoxFuture;
use planner::error::quote;
use planner::{DataSource, PlanError, PlanResult, Resolver, StreamingRead};

use crate::session::Session;

/// A schema whose names match case-insensitively, as Spark's catalog does.
/// Lower-cased name -> (name as created, table).
type Tables = HashMap<String, (String, Arc<dyn TableProvider>)>;

#[derive(Debug, Default)]
pub struct ViewSchema {
    tables: RwLock<Tables>,
}

impl ViewSchema {
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .tables
            .read()
            .map(|t| t.values().map(|(n, _)| n.clone()).collect())
            .unwrap_or_default();
        names.sort();
        names
    }
}

#[async_trait]
impl SchemaProvider for ViewSchema {
    fn table_names(&self) -> Vec<String> {
        self.names()
    }
    async fn table(&self, name: &str) -> DFResult<Option<Arc<dyn TableProvider>>> {
        Ok(self
            .tables
            .read()
            .ok()
            .and_then(|t| t.get(&name.to_lowercase()).map(|(_, p)| p.clone())))
    }
    fn register_table(
        &self,
        name: String,
        table: Arc<dyn TableProvider>,
    ) -> DFResult<Option<Arc<dyn TableProvider>>> {
        let mut tables = self.tables.write().map_err(|_| {
            datafusion::error::DataFusionError::Internal("view catalog lock poisoned".into())
        })?;
        Ok(tables
            .insert(name.to_lowercase(), (name, table))
            .map(|(_, p)| p))
    }
    fn deregister_table(&self, name: &str) -> DFResult<Option<Arc<dyn TableProvider>>> {
        let mut tables = self.tables.write().map_err(|_| {
            datafusion::error::DataFusionError::Internal("view catalog lock poisoned".into())
        })?;
        Ok(tables.remove(&name.to_lowercase()).map(|(_, p)| p))
    }
    fn table_exist(&self, name: &str) -> bool {
        self.tables
            .read()
            .map(|t| t.contains_key(&name.to_lowercase()))
            .unwrap_or(false)
    }
}

pub const GLOBAL_TEMP: &str = "global_temp";
pub const DEFAULT_DB: &str = "default";
pub const CATALOG: &str = "spark_catalog";

/// `spark.read.format("delta")[.option("versionAsOf", n) | .option("timestampAsOf", ts)].load(path)`.
async fn read_delta(source: DataSource) -> PlanResult<LogicalPlan> {
    const OPTIONS: &[&str] = &["path", "versionasof", "timestampasof"];
    if let Some(k) = source
        .options
        .keys()
        .find(|k| !OPTIONS.contains(&k.as_str()))
    {
        return Err(PlanError::unsupported(format!(
            "the delta read option `{k}`"
        )));
    }
    if source.schema.is_some() {
        return Err(PlanError::analysis(
            "[DELTA_READ_SOURCE_SCHEMA_CONFLICT] A Delta table's schema comes from its log; do not specify a schema when reading it.".to_string(),
        ));
    }
    let mut paths = source.paths.clone();
    paths.extend(source.options.get("path").cloned());
    let [path] = paths.as_slice() else {
        return Err(PlanError::InvalidArgument(
            "a Delta table is read from exactly one path".into(),
        ));
    };
    let at = match (
        source.options.get("versionasof"),
        source.options.get("timestampasof"),
    ) {
        (Some(_), Some(_)) => {
            return Err(PlanError::analysis(
                "[DELTA_ONEOF_IN_TIMETRAVEL] Please either provide 'timestampAsOf' or 'versionAsOf' for time travel.".to_string(),
            ))
        }
        (Some(v), None) => delta_sink::TimeTravel::Version(v.trim().parse().map_err(|_| {
            PlanError::InvalidArgument(format!("versionAsOf must be a number, got {v:?}"))
        })?),
        (None, Some(ts)) => delta_sink::TimeTravel::Timestamp(parse_timestamp(ts)?),
        (None, None) => delta_sink::TimeTravel::Latest,
    };
    let wrap = |e: delta_sink::DeltaError| {
        PlanError::DataFusion(datafusion::error::DataFusionError::External(Box::new(e)))
    };
    let url = delta_sink::location(path).map_err(wrap)?;
    let provider = delta_sink::read::provider(&url, &at, None)
        .await
        .map_err(wrap)?;
    Ok(LogicalPlanBuilder::scan(path.as_str(), provider_as_source(provider), None)?.build()?)
}

/// `timestampAsOf` values: a timestamp or date string (UTC), as Spark casts them.
pub fn parse_timestamp(s: &str) -> PlanResult<chrono::DateTime<chrono::Utc>> {
    use chrono::{NaiveDate, NaiveDateTime, TimeZone, Utc};
    let t = s.trim();
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(t) {
        return Ok(dt.with_timezone(&Utc));
    }
    for f in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(t, f) {
            return Ok(Utc.from_utc_datetime(&n));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default()));
    }
    Err(PlanError::analysis(format!(
        "[DELTA_TIMESTAMP_INVALID] The provided timestamp ({s}) cannot be converted to a valid timestamp."
    )))
}

/// The planner's view of one session.
pub struct SessionResolver<'a> {
    pub session: &'a Session,
    /// Where one-part names resolve: the current database, or a persisted view's own.
    pub database: Option<String>,
}

impl<'a> SessionResolver<'a> {
    pub fn new(session: &'a Session) -> Self {
        Self {
            session,
            database: None,
        }
    }

    pub fn database(&self) -> String {
        self.database
            .clone()
            .unwrap_or_else(|| self.session.current_database())
    }

    async fn lookup(&self, parts: &[String]) -> PlanResult<LogicalPlan> {
        if let Some(view) = crate::views::find(self.session, &self.database(), parts) {
            return crate::views::plan(self.session, &view).await;
        }
        let (db, name) = match parts {
            [name] => (self.database(), name.clone()),
            [db, name] => (db.to_lowercase(), name.clone()),
            [catalog, db, name] if catalog.eq_ignore_ascii_case(CATALOG) => {
                (db.to_lowercase(), name.clone())
            }
            _ => return Err(PlanError::TableNotFound(quote(&parts.join(".")))),
        };
        let not_found = || {
            PlanError::TableNotFound(parts.iter().map(|p| quote(p)).collect::<Vec<_>>().join("."))
        };
        let catalog = self.session.ctx.catalog(CATALOG).ok_or_else(not_found)?;
        let schema = catalog.schema(&db).ok_or_else(not_found)?;
        let provider = schema.table(&name).await?.ok_or_else(not_found)?;
        Ok(LogicalPlanBuilder::scan(name.as_str(), provider_as_source(provider), None)?.build()?)
    }
}

impl Resolver for SessionResolver<'_> {
    fn data_source(&self, source: DataSource) -> BoxFuture<'_, PlanResult<LogicalPlan>> {
        Box::pin(async move {
            if source.format == "delta" {
                return read_delta(source).await;
            }
            crate::sources::read(&self.session.ctx, source).await
        })
    }

    fn table(&self, name: Vec<String>) -> BoxFuture<'_, PlanResult<LogicalPlan>> {
        Box::pin(async move { self.lookup(&name).await })
    }

    fn sql_table(
        &self,
        name: Vec<String>,
        streaming: bool,
    ) -> BoxFuture<'_, PlanResult<Option<LogicalPlan>>> {
        Box::pin(async move {
            if streaming {
                let read = StreamingRead::Table(name, HashMap::new());
                return self.streaming_read(read).await.map(Some);
            }
            match crate::views::find(self.session, &self.database(), &name) {
                Some(view) => crate::views::plan(self.session, &view).await.map(Some),
                None => Ok(None),
            }
        })
    }

    fn cached_bytes(&self, hash: &str) -> PlanResult<Vec<u8>> {
        self.session
            .artifact(&format!("cache/{hash}"))
            .ok_or_else(|| {
                PlanError::analysis(format!(
                    "[CACHE_NOT_FOUND] No cached local relation with hash {hash} in this session."
                ))
            })
    }

    fn streaming_read(&self, read: StreamingRead) -> BoxFuture<'_, PlanResult<LogicalPlan>> {
        Box::pin(async move { crate::streaming::analysed_leaf(self.session, read).await })
    }

    fn collect(&self, plan: LogicalPlan) -> BoxFuture<'_, PlanResult<Vec<RecordBatch>>> {
        Box::pin(async move {
            Ok(self
                .session
                .ctx
                .execute_logical_plan(plan)
                .await?
                .collect()
                .await?)
        })
    }
}
