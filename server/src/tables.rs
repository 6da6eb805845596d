//! Tables by name: the `spark_catalog` DataFusion sees, over sluice's persistent catalog of
//! Delta tables (`delta_sink::catalog`). Unqualified names resolve to the session's temp
//! views first, then to tables of the current database, as in Spark; ``delta.`/path` ``
//! names a table by location; `t@v3` (and `VERSION AS OF`) reads an older version.
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use chrono::{NaiveDateTime, TimeZone, Utc};
use datafusion::catalog::{CatalogProvider, SchemaProvider, TableProvider};
use datafusion::error::{DataFusionError, Result as DFResult};
use delta_sink::catalog::{Catalog, TableEntry};
use delta_sink::{TimeTravel, Url};

use crate::catalog::{ViewSchema, GLOBAL_TEMP};
use crate::error::{SparkError, SparkResult};

/// The pseudo-database whose "tables" are Delta table paths.
pub const PATH_DATABASE: &str = "delta";

fn external(e: delta_sink::DeltaError) -> DataFusionError {
    DataFusionError::External(Box::new(SparkError::from(e)))
}

/// `name@v3` or `name@20240102030405000` (Delta's time travel suffixes).
pub fn split_time_travel(name: &str) -> SparkResult<(&str, TimeTravel)> {
    let Some((base, suffix)) = name.rsplit_once('@') else {
        return Ok((name, TimeTravel::Latest));
    };
    if let Some(v) = suffix
        .strip_prefix('v')
        .or_else(|| suffix.strip_prefix('V'))
    {
        let v = v
            .parse::<i64>()
            .map_err(|_| SparkError::invalid(format!("Invalid version in {name}")))?;
        return Ok((base, TimeTravel::Version(v)));
    }
    if let Some(text) = suffix.strip_prefix("ts:") {
        return Ok((
            base,
            TimeTravel::Timestamp(crate::catalog::parse_timestamp(text)?),
        ));
    }
    let ts = NaiveDateTime::parse_from_str(suffix, "%Y%m%d%H%M%S%3f")
        .map_err(|_| SparkError::invalid(format!("Invalid time travel suffix in {name}")))?;
    Ok((base, TimeTravel::Timestamp(Utc.from_utc_datetime(&ts))))
}

/// One database: catalog tables, and for the current database the session's temp views.
#[derive(Debug)]
pub struct DatabaseSchema {
    db: String,
    catalog: Arc<Catalog>,
    views: Option<Arc<ViewSchema>>,
}

impl DatabaseSchema {
    fn entry(&self, name: &str) -> Option<TableEntry> {
        self.catalog.table(&self.db, name)
    }
}

pub async fn entry_provider(
    entry: &TableEntry,
    at: &TimeTravel,
) -> SparkResult<Arc<dyn TableProvider>> {
    let url = delta_sink::location(&entry.location)?;
    Ok(delta_sink::read::provider(&url, at, None).await?)
}

#[async_trait]
impl SchemaProvider for DatabaseSchema {
    fn table_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .catalog
            .tables(&self.db)
            .map(|t| t.into_iter().map(|e| e.name).collect())
            .unwrap_or_default();
        if let Some(v) = &self.views {
            names.extend(v.names());
        }
        names
    }

    async fn table(&self, name: &str) -> DFResult<Option<Arc<dyn TableProvider>>> {
        if let Some(v) = &self.views {
            if let Some(t) = v.table(name).await? {
                return Ok(Some(t));
            }
        }
        let (base, at) =
            split_time_travel(name).map_err(|e| DataFusionError::External(Box::new(e)))?;
        let Some(entry) = self.entry(base) else {
            return Ok(None);
        };
        let provider = entry_provider(&entry, &at)
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        Ok(Some(provider))
    }

    fn register_table(
        &self,
        name: String,
        table: Arc<dyn TableProvider>,
    ) -> DFResult<Option<Arc<dyn TableProvider>>> {
        match &self.views {
            Some(v) => v.register_table(name, table),
            None => Err(DataFusionError::Plan(format!(
                "cannot register `{name}` in database `{}`",
                self.db
            ))),
        }
    }

    fn deregister_table(&self, name: &str) -> DFResult<Option<Arc<dyn TableProvider>>> {
        match &self.views {
            Some(v) => v.deregister_table(name),
            None => Ok(None),
        }
    }

    fn table_exist(&self, name: &str) -> bool {
        self.views.as_ref().is_some_and(|v| v.table_exist(name))
            || split_time_travel(name).is_ok_and(|(b, _)| self.entry(b).is_some())
    }
}

/// ``delta.`/some/path` ``: the table stored at a path.
#[derive(Debug)]
pub struct PathSchema;

#[async_trait]
impl SchemaProvider for PathSchema {
    fn table_names(&self) -> Vec<String> {
        vec![]
    }
    async fn table(&self, name: &str) -> DFResult<Option<Arc<dyn TableProvider>>> {
        let (base, at) =
            split_time_travel(name).map_err(|e| DataFusionError::External(Box::new(e)))?;
        let url = delta_sink::location(base).map_err(external)?;
        Ok(Some(
            delta_sink::read::provider(&url, &at, None)
                .await
                .map_err(external)?,
        ))
    }
    fn table_exist(&self, name: &str) -> bool {
        // Remote locations are only known to exist when opened (`table` reports a missing one).
        delta_sink::location(name)
            .is_ok_and(|u| delta_sink::table::local_log_exists(&u).unwrap_or(true))
    }
}

/// The session's `spark_catalog`.
#[derive(Debug)]
pub struct SparkCatalog {
    pub catalog: Arc<Catalog>,
    pub views: Arc<ViewSchema>,
    pub global_views: Arc<ViewSchema>,
    pub current: Arc<RwLock<String>>,
}

impl SparkCatalog {
    pub fn current_database(&self) -> String {
        self.current
            .read()
            .map(|c| c.clone())
            .unwrap_or_else(|_| delta_sink::catalog::DEFAULT_DATABASE.into())
    }
}

impl CatalogProvider for SparkCatalog {
    fn schema_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .catalog
            .databases()
            .into_iter()
            .map(|d| d.name)
            .collect();
        names.push(GLOBAL_TEMP.into());
        names
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        let lower = name.to_lowercase();
        if lower == GLOBAL_TEMP {
            return Some(self.global_views.clone());
        }
        if self.catalog.database(&lower).is_some() {
            let views = (lower == self.current_database()).then(|| self.views.clone());
            return Some(Arc::new(DatabaseSchema {
                db: lower,
                catalog: self.catalog.clone(),
                views,
            }));
        }
        if lower == PATH_DATABASE {
            return Some(Arc::new(PathSchema));
        }
        None
    }

    fn register_schema(
        &self,
        name: &str,
        _schema: Arc<dyn SchemaProvider>,
    ) -> DFResult<Option<Arc<dyn SchemaProvider>>> {
        Err(DataFusionError::Plan(format!(
            "use CREATE DATABASE to create `{name}`"
        )))
    }
}

/// Where a table name points.
#[derive(Debug, Clone)]
pub enum Target {
    /// A catalog table (existing or to be created) in a database.
    Named {
        db: String,
        name: String,
        entry: Option<TableEntry>,
    },
    /// ``delta.`/path` ``.
    Path(Url),
}

impl Target {
    /// The table's location, if it has one yet.
    pub fn url(&self) -> SparkResult<Option<Url>> {
        Ok(match self {
            Target::Named { entry: Some(e), .. } => Some(delta_sink::location(&e.location)?),
            Target::Named { entry: None, .. } => None,
            Target::Path(u) => Some(u.clone()),
        })
    }

    /// The table is there: a catalog entry, or a path (whose log the reader checks).
    pub fn exists(&self) -> bool {
        !matches!(self, Target::Named { entry: None, .. })
    }

    /// Spark's quoted name for messages.
    pub fn quoted(&self) -> String {
        match self {
            Target::Named { db, name, .. } => format!("`spark_catalog`.`{db}`.`{name}`"),
            Target::Path(u) => format!("delta.`{}`", delta_sink::table::display(u)),
        }
    }
}

/// Resolves a (1–3 part) table name against the catalog and the current database.
pub fn target(catalog: &Catalog, current_db: &str, parts: &[String]) -> SparkResult<Target> {
    let (db, name) = match parts {
        [name] => (current_db.to_string(), name.clone()),
        [db, name] if db.eq_ignore_ascii_case(PATH_DATABASE) && looks_like_path(name) => {
            return Ok(Target::Path(delta_sink::location(name)?));
        }
        [db, name] => (db.to_lowercase(), name.clone()),
        [c, db, name] if c.eq_ignore_ascii_case(crate::catalog::CATALOG) => (db.to_lowercase(), name.clone()),
        _ => {
            return Err(SparkError::Plan(planner::PlanError::analysis(format!(
                "[REQUIRES_SINGLE_PART_NAMESPACE] spark_catalog requires a single-part namespace, but got {}.",
                parts.join(".")
            ))))
        }
    };
    catalog.require_database(&db)?;
    if catalog.view(&db, &name).is_some() {
        // Reads plan views before they get here; anything else needs a table.
        return Err(SparkError::Plan(planner::PlanError::analysis(format!(
            "[EXPECT_TABLE_NOT_VIEW.NO_ALTERNATIVE] The operation expects a table but `spark_catalog`.`{db}`.`{}` is a view. SQLSTATE: 42809",
            name.to_lowercase()
        ))));
    }
    let entry = catalog.table(&db, &name);
    Ok(Target::Named {
        db,
        name: name.to_lowercase(),
        entry,
    })
}

fn looks_like_path(s: &str) -> bool {
    s.contains('/') || s.contains(':') || s.contains('\\')
}
