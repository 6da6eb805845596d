//! The persistent catalog: databases and tables by name, with their locations, kept as small
//! JSON files under the warehouse directory so a restarted server sees every table it made
//! without a metastore. Managed tables live where Spark puts them: `<warehouse>/<table>` in
//! `default`, `<warehouse>/<db>.db/<table>` elsewhere. Names are case-insensitive and
//! stored lower-cased, as Spark's session catalog does.
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::error::{DeltaError, DeltaResult};

pub const DEFAULT_DATABASE: &str = "default";
const CATALOG_DIR: &str = "_sluice_catalog";
const DATABASE_FILE: &str = "_database.json";
const VIEW_SUFFIX: &str = ".view";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatabaseEntry {
    pub name: String,
    pub location: String,
    #[serde(default)]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableEntry {
    pub database: String,
    pub name: String,
    /// A local path or URL.
    pub location: String,
    /// `delta` for every table sluice creates.
    pub provider: String,
    /// Created with LOCATION: DROP TABLE keeps the data.
    pub external: bool,
    #[serde(default)]
    pub comment: Option<String>,
}

/// A persisted view: its SQL text, planned again at every read in the database that was
/// current when it was created (as Spark resolves a view's names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViewEntry {
    pub database: String,
    pub name: String,
    pub sql: String,
    pub current_database: String,
    #[serde(default)]
    pub comment: Option<String>,
    /// The view's column names (`CREATE VIEW v (a, b) AS ...`), when it names them.
    #[serde(default)]
    pub columns: Vec<String>,
}

#[derive(Debug)]
pub struct Catalog {
    warehouse: PathBuf,
    /// Serialises changes to the catalog files (reads need no lock: files are replaced
    /// atomically by rename).
    changes: Mutex<()>,
}

fn quoted(db: &str, name: &str) -> String {
    format!("`spark_catalog`.`{db}`.`{name}`")
}

/// Catalog names may only hold what a file name can.
fn check_name(kind: &str, name: &str) -> DeltaResult<()> {
    if name.is_empty() || name.contains(['/', '\\', '\0']) || name.starts_with('.') {
        return Err(DeltaError::Analysis(format!(
            "[INVALID_IDENTIFIER] The {kind} name `{name}` is not valid."
        )));
    }
    Ok(())
}

impl Catalog {
    pub fn new(warehouse: impl Into<PathBuf>) -> Self {
        let warehouse: PathBuf = warehouse.into();
        let warehouse = if warehouse.is_absolute() {
            warehouse
        } else {
            std::env::current_dir()
                .map(|d| d.join(&warehouse))
                .unwrap_or(warehouse)
        };
        Self {
            warehouse,
            changes: Mutex::new(()),
        }
    }

    pub fn warehouse(&self) -> &Path {
        &self.warehouse
    }

    fn dir(&self) -> PathBuf {
        self.warehouse.join(CATALOG_DIR)
    }

    fn database_dir(&self, db: &str) -> PathBuf {
        self.dir().join(db)
    }

    fn table_file(&self, db: &str, name: &str) -> PathBuf {
        self.database_dir(db).join(format!("{name}.json"))
    }

    fn view_file(&self, db: &str, name: &str) -> PathBuf {
        self.database_dir(db).join(format!("{name}{VIEW_SUFFIX}"))
    }

    fn default_database(&self) -> DatabaseEntry {
        DatabaseEntry {
            name: DEFAULT_DATABASE.into(),
            location: self.warehouse.display().to_string(),
            comment: Some("default database".into()),
        }
    }

    pub fn database(&self, name: &str) -> Option<DatabaseEntry> {
        let name = name.to_lowercase();
        if name == DEFAULT_DATABASE {
            return Some(self.default_database());
        }
        read_json(&self.database_dir(&name).join(DATABASE_FILE))
    }

    pub fn databases(&self) -> Vec<DatabaseEntry> {
        let mut all = vec![self.default_database()];
        if let Ok(dirs) = fs::read_dir(self.dir()) {
            for d in dirs.flatten() {
                if let Some(db) = read_json::<DatabaseEntry>(&d.path().join(DATABASE_FILE)) {
                    all.push(db);
                }
            }
        }
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    pub fn require_database(&self, name: &str) -> DeltaResult<DatabaseEntry> {
        self.database(name).ok_or_else(|| {
            DeltaError::Analysis(format!(
                "[SCHEMA_NOT_FOUND] The schema `{}` cannot be found. Verify the spelling and correctness of the schema and catalog.",
                name.to_lowercase()
            ))
        })
    }

    pub fn create_database(
        &self,
        name: &str,
        if_not_exists: bool,
        location: Option<String>,
        comment: Option<String>,
    ) -> DeltaResult<()> {
        let name = name.to_lowercase();
        check_name("schema", &name)?;
        let _guard = self.changes.lock();
        if self.database(&name).is_some() {
            if if_not_exists {
                return Ok(());
            }
            return Err(DeltaError::Analysis(format!(
                "[SCHEMA_ALREADY_EXISTS] Cannot create schema `{name}` because it already exists."
            )));
        }
        let location = location.unwrap_or_else(|| {
            self.warehouse
                .join(format!("{name}.db"))
                .display()
                .to_string()
        });
        write_json(
            &self.database_dir(&name).join(DATABASE_FILE),
            &DatabaseEntry {
                name: name.clone(),
                location,
                comment,
            },
        )
    }

    /// Removes a database; with `cascade` its tables too (returned, so the caller can
    /// delete managed data).
    pub fn drop_database(
        &self,
        name: &str,
        if_exists: bool,
        cascade: bool,
    ) -> DeltaResult<Vec<TableEntry>> {
        let name = name.to_lowercase();
        if name == DEFAULT_DATABASE {
            return Err(DeltaError::Analysis(
                "[UNSUPPORTED_FEATURE.DROP_DATABASE] Can not drop default database.".into(),
            ));
        }
        let _guard = self.changes.lock();
        if self.database(&name).is_none() {
            if if_exists {
                return Ok(vec![]);
            }
            self.require_database(&name)?;
        }
        let tables = self.tables(&name)?;
        let empty = tables.is_empty() && self.views(&name)?.is_empty();
        if !empty && !cascade {
            return Err(DeltaError::Analysis(format!(
                "[SCHEMA_NOT_EMPTY] Cannot drop a schema `{name}` because it contains objects. Use DROP SCHEMA ... CASCADE to drop the schema and all its objects."
            )));
        }
        fs::remove_dir_all(self.database_dir(&name))?;
        Ok(tables)
    }

    pub fn tables(&self, db: &str) -> DeltaResult<Vec<TableEntry>> {
        let db = db.to_lowercase();
        self.require_database(&db)?;
        let mut all: Vec<TableEntry> = match fs::read_dir(self.database_dir(&db)) {
            Ok(files) => files
                .flatten()
                .filter(|f| f.file_name() != DATABASE_FILE)
                .filter(|f| f.file_name().to_string_lossy().ends_with(".json"))
                .filter_map(|f| read_json(&f.path()))
                .collect(),
            Err(_) => vec![],
        };
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }

    pub fn table(&self, db: &str, name: &str) -> Option<TableEntry> {
        read_json(&self.table_file(&db.to_lowercase(), &name.to_lowercase()))
    }

    /// Where a managed table of this name lives.
    pub fn managed_location(&self, db: &str, name: &str) -> DeltaResult<PathBuf> {
        let db = db.to_lowercase();
        let name = name.to_lowercase();
        check_name("table", &name)?;
        let base = if db == DEFAULT_DATABASE {
            self.warehouse.clone()
        } else {
            PathBuf::from(self.require_database(&db)?.location)
        };
        Ok(base.join(name))
    }

    /// Records a table; fails if the name is taken unless `replace`.
    pub fn register_table(&self, entry: TableEntry, replace: bool) -> DeltaResult<()> {
        let db = entry.database.to_lowercase();
        let name = entry.name.to_lowercase();
        check_name("table", &name)?;
        let _guard = self.changes.lock();
        self.require_database(&db)?;
        let file = self.table_file(&db, &name);
        if (!replace && file.exists()) || self.view_file(&db, &name).exists() {
            return Err(already_exists(&db, &name));
        }
        write_json(
            &file,
            &TableEntry {
                database: db,
                name,
                ..entry
            },
        )
    }

    pub fn view(&self, db: &str, name: &str) -> Option<ViewEntry> {
        read_json(&self.view_file(&db.to_lowercase(), &name.to_lowercase()))
    }

    pub fn views(&self, db: &str) -> DeltaResult<Vec<ViewEntry>> {
        let db = db.to_lowercase();
        self.require_database(&db)?;
        let mut all: Vec<ViewEntry> = match fs::read_dir(self.database_dir(&db)) {
            Ok(files) => files
                .flatten()
                .filter(|f| f.file_name().to_string_lossy().ends_with(VIEW_SUFFIX))
                .filter_map(|f| read_json(&f.path()))
                .collect(),
            Err(_) => vec![],
        };
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }

    /// Records a view; a table of the name, or a view unless `replace`, is an error.
    pub fn register_view(&self, entry: ViewEntry, replace: bool) -> DeltaResult<()> {
        let db = entry.database.to_lowercase();
        let name = entry.name.to_lowercase();
        check_name("view", &name)?;
        let _guard = self.changes.lock();
        self.require_database(&db)?;
        let file = self.view_file(&db, &name);
        if (!replace && file.exists()) || self.table_file(&db, &name).exists() {
            return Err(already_exists(&db, &name));
        }
        write_json(
            &file,
            &ViewEntry {
                database: db,
                name,
                ..entry
            },
        )
    }

    pub fn drop_view(&self, db: &str, name: &str) -> DeltaResult<Option<ViewEntry>> {
        let _guard = self.changes.lock();
        let entry = self.view(db, name);
        if entry.is_some() {
            fs::remove_file(self.view_file(&db.to_lowercase(), &name.to_lowercase()))?;
        }
        Ok(entry)
    }

    /// Forgets a table; returns its entry so the caller can delete managed data.
    pub fn drop_table(&self, db: &str, name: &str) -> DeltaResult<Option<TableEntry>> {
        let _guard = self.changes.lock();
        let entry = self.table(db, name);
        if entry.is_some() {
            fs::remove_file(self.table_file(&db.to_lowercase(), &name.to_lowercase()))?;
        }
        Ok(entry)
    }
}

fn already_exists(db: &str, name: &str) -> DeltaError {
    DeltaError::Analysis(format!(
        "[TABLE_OR_VIEW_ALREADY_EXISTS] Cannot create table or view {} because it already exists.",
        quoted(db, name)
    ))
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Option<T> {
    let text = fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

/// Writes next to the target and renames over it, so readers never see half a file.
fn write_json<T: Serialize>(path: &Path, value: &T) -> DeltaResult<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension(format!("json.{}.tmp", uuid::Uuid::new_v4()));
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| DeltaError::IllegalArgument(e.to_string()))?;
    fs::write(&tmp, text)?;
    fs::rename(&tmp, path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_persist_case_insensitively() {
        let dir = std::env::temp_dir().join(format!("sluice-cat-{}", uuid::Uuid::new_v4()));
        let cat = Catalog::new(&dir);
        cat.create_database("Sales", false, None, None).unwrap();
        assert!(cat.create_database("sales", false, None, None).is_err());
        let loc = cat.managed_location("sales", "Orders").unwrap();
        assert_eq!(loc, dir.join("sales.db").join("orders"));
        let entry = TableEntry {
            database: "SALES".into(),
            name: "Orders".into(),
            location: loc.display().to_string(),
            provider: "delta".into(),
            external: false,
            comment: None,
        };
        cat.register_table(entry.clone(), false).unwrap();
        assert!(cat.register_table(entry, false).is_err());
        let again = Catalog::new(&dir);
        assert_eq!(again.tables("sales").unwrap()[0].name, "orders");
        assert!(again.drop_database("sales", false, false).is_err());
        assert_eq!(again.drop_database("sales", false, true).unwrap().len(), 1);
        assert!(again.database("sales").is_none());
        let _ = fs::remove_dir_all(dir);
    }
}
