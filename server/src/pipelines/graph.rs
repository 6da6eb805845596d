//! A dataflow graph as clients define it: outputs (tables, materialized views, views,
//! sinks) and the flows that fill them, before any analysis.
use std::collections::HashMap;
use std::fmt;

use proto::connect::{Expression, Relation};

/// A dataset's identity: database and name, compared case-insensitively as Spark does.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ident {
    pub database: String,
    pub name: String,
}

impl Ident {
    /// `name`, `db.name`, `catalog.db.name` or DLT's `LIVE.name`, in `default_db`.
    pub fn resolve(parts: &[String], default_db: &str) -> Option<Ident> {
        let parts: Vec<&String> = match parts {
            [live, rest @ ..] if live.eq_ignore_ascii_case("live") && !rest.is_empty() => {
                rest.iter().collect()
            }
            all => all.iter().collect(),
        };
        let (db, name) = match parts.as_slice() {
            [name] => (default_db.to_string(), (*name).clone()),
            [db, name] => ((*db).clone(), (*name).clone()),
            [_catalog, db, name] => ((*db).clone(), (*name).clone()),
            _ => return None,
        };
        Some(Ident {
            database: db.to_lowercase(),
            name: name.to_lowercase(),
        })
    }

    /// The name in the catalog (`db`, `name`).
    pub fn parts(&self) -> Vec<String> {
        vec![self.database.clone(), self.name.clone()]
    }

    /// Spark's three-part spelling, as events show it.
    pub fn quoted(&self) -> String {
        format!("spark_catalog.{}.{}", self.database, self.name)
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`spark_catalog`.`{}`.`{}`", self.database, self.name)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum OutputKind {
    StreamingTable,
    MaterializedView,
    TemporaryView,
    /// `CREATE VIEW`: published in the catalog as its SQL text once the run's tables exist.
    PersistedView {
        sql: String,
    },
    Sink {
        format: String,
        options: HashMap<String, String>,
    },
}

impl OutputKind {
    /// Views have no data of their own: the flows reading one plan its query in place.
    pub fn is_view(&self) -> bool {
        matches!(self, Self::TemporaryView | Self::PersistedView { .. })
    }
    pub fn describe(&self) -> &'static str {
        match self {
            Self::StreamingTable => "streaming table",
            Self::MaterializedView => "materialized view",
            Self::TemporaryView => "temporary view",
            Self::PersistedView { .. } => "persisted view",
            Self::Sink { .. } => "sink",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Warn,
    Drop,
    Fail,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Self::Warn => "warn",
            Self::Drop => "drop",
            Self::Fail => "fail",
        }
    }
}

/// A data quality rule: rows where `condition` is false are counted, dropped or fatal.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    pub name: String,
    /// SQL expression text.
    pub condition: String,
    pub action: Action,
}

/// Where a definition came from, for messages.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Origin {
    pub file: Option<String>,
    pub line: Option<i32>,
}

impl Origin {
    pub fn describe(&self) -> String {
        match (&self.file, self.line) {
            (Some(f), Some(l)) => format!(" (defined at {f}:{l})"),
            (Some(f), None) => format!(" (defined in {f})"),
            _ => String::new(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Output {
    pub ident: Ident,
    pub kind: OutputKind,
    pub comment: Option<String>,
    pub partition_cols: Vec<String>,
    /// Clustering columns (`cluster_by`, `CLUSTER BY`): see `delta_sink::clustering`.
    pub cluster_by: Vec<String>,
    pub table_properties: HashMap<String, String>,
    pub format: Option<String>,
    /// An explicit schema (a struct type), enforced on what the flows write.
    pub schema: Option<arrow::datatypes::DataType>,
    /// Rules every flow into this output checks.
    pub expectations: Vec<Expectation>,
    /// Where the table's data lives when the definition says (DLT's `path`, `LOCATION`);
    /// otherwise the warehouse, or the pipeline's storage for a private table.
    pub path: Option<String>,
    /// A DLT `temporary` / `PRIVATE` table: the pipeline's flows read it, the catalog
    /// never lists it.
    pub private: bool,
    pub origin: Origin,
}

/// Which columns of a change feed the target keeps (or tracks history on).
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Columns {
    #[default]
    All,
    Only(Vec<String>),
    Except(Vec<String>),
}

/// `APPLY CHANGES` / `AUTO CDC`: upserts and deletes by key, ordered by a sequence.
#[derive(Debug, Clone)]
pub struct Cdc {
    /// The change feed, a streaming relation.
    pub source: Relation,
    pub keys: Vec<String>,
    pub sequence_by: Expression,
    pub delete_when: Option<Expression>,
    pub truncate_when: Option<Expression>,
    pub columns: Columns,
    pub scd_type: u8,
    pub track_history: Columns,
    pub ignore_null_updates: bool,
}

#[derive(Debug, Clone)]
pub enum FlowBody {
    Query(Box<Relation>),
    Cdc(Box<Cdc>),
}

#[derive(Debug, Clone)]
pub struct Flow {
    pub name: Ident,
    pub target: Ident,
    pub body: FlowBody,
    /// Runs once (a batch backfill), again only on full refresh.
    pub once: bool,
    pub sql_conf: HashMap<String, String>,
    pub expectations: Vec<Expectation>,
    pub origin: Origin,
}

/// One graph, as `CreateDataflowGraph` made it and the definitions filled it.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    pub default_database: String,
    pub sql_conf: HashMap<String, String>,
    pub outputs: Vec<Output>,
    pub flows: Vec<Flow>,
}

impl Graph {
    pub fn output(&self, ident: &Ident) -> Option<&Output> {
        self.outputs.iter().find(|o| &o.ident == ident)
    }
    pub fn flows_into<'a>(&'a self, ident: &'a Ident) -> impl Iterator<Item = &'a Flow> + 'a {
        self.flows.iter().filter(move |f| &f.target == ident)
    }
}
