//! A Delta table as a stream: the first batch reads the table as of the version the query
//! starts at (or the changes from `startingVersion`), later batches the files each newer
//! commit added. Offsets are Delta's (`reservoirVersion` and friends); a batch spans whole
//! commits, so `maxFilesPerTrigger` bounds a batch at commit granularity.
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{cast, lit, LogicalPlan, LogicalPlanBuilder};
use datafusion::prelude::ParquetReadOptions;
use delta_sink::{TimeTravel, Url};
use planner::{DataSource, PlanError};
use serde_json::{json, Value};

use super::{Kind, Limit, Source, SourceSpec};
use crate::error::{SparkError, SparkResult};
use crate::session::Session;

#[derive(Debug, Clone)]
pub struct DeltaConfig {
    pub url: Url,
    pub starting_version: Option<i64>,
    pub max_files: Option<usize>,
    /// `skipChangeCommits` / `ignoreDeletes`: commits that remove data are skipped, not fatal.
    pub skip_changes: bool,
    pub partition_columns: Vec<String>,
}

const OPTIONS: &[&str] = &[
    "startingversion",
    "maxfilespertrigger",
    "maxbytespertrigger",
    "skipchangecommits",
    "ignoredeletes",
    "ignorechanges",
    "path",
];

pub async fn resolve_path(s: DataSource) -> SparkResult<SourceSpec> {
    let path = s
        .paths
        .first()
        .or(s.options.get("path"))
        .ok_or_else(|| SparkError::Plan(PlanError::invalid("'path' is not specified")))?;
    let url = delta_sink::location(path)?;
    config(url, &s.options).await
}

pub async fn resolve_table(
    session: &Session,
    parts: &[String],
    options: HashMap<String, String>,
) -> SparkResult<SourceSpec> {
    let t = crate::tables::target(session.catalog(), &session.current_database(), parts)?;
    match t.url()? {
        Some(url) => config(url, &options).await,
        None => Err(SparkError::Plan(PlanError::TableNotFound(t.quoted()))),
    }
}

async fn config(url: Url, o: &HashMap<String, String>) -> SparkResult<SourceSpec> {
    if let Some(k) = o.keys().find(|k| !OPTIONS.contains(&k.as_str())) {
        return Err(SparkError::Plan(PlanError::unsupported(format!(
            "the Delta streaming source option `{k}`"
        ))));
    }
    let (schema, partition_columns) = delta_sink::table::shape(&url).await?;
    let starting_version = match o.get("startingversion").map(|v| v.trim()) {
        None | Some("latest") => None,
        Some(v) => Some(v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            SparkError::Plan(PlanError::invalid(format!(
                "[DELTA_INVALID_STARTING_VERSION] Invalid `startingVersion` value {v}: it must be a version number or `latest`."
            )))
        })?),
    };
    let skip = |k: &str| o.get(k).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let config = DeltaConfig {
        url: url.clone(),
        starting_version,
        max_files: super::files::positive(o, "maxfilespertrigger")?,
        skip_changes: skip("skipchangecommits") || skip("ignoredeletes") || skip("ignorechanges"),
        partition_columns,
    };
    Ok(SourceSpec {
        description: format!("DeltaSource[{}]", delta_sink::table::spark_location(&url)),
        schema: crate::sources::nullable_schema(schema.as_ref()),
        kind: Kind::Delta(config),
    })
}

/// The data files one commit added, with their partition values.
#[derive(Debug, Clone)]
struct Added {
    path: String,
    partition: BTreeMap<String, Option<String>>,
}

pub struct DeltaSource {
    config: DeltaConfig,
    schema: SchemaRef,
    description: String,
    frozen: Option<i64>,
    table_id: String,
}

impl DeltaSource {
    pub fn new(config: DeltaConfig, spec: &SourceSpec, _dir: PathBuf) -> DeltaSource {
        DeltaSource {
            config,
            schema: spec.schema.clone(),
            description: spec.description.clone(),
            frozen: None,
            table_id: String::new(),
        }
    }

    fn log_dir(&self) -> SparkResult<PathBuf> {
        delta_sink::table::local_dir(&self.config.url)
            .map(|d| d.join("_delta_log"))
            .ok_or_else(|| {
                SparkError::unsupported("Delta streaming sources off the local file system")
            })
    }

    /// The newest committed version.
    fn latest(&self) -> SparkResult<Option<i64>> {
        let dir = self.log_dir()?;
        let mut latest = None;
        for entry in std::fs::read_dir(&dir)? {
            let name = entry?.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(v) = name
                .strip_suffix(".json")
                .and_then(|n| n.parse::<i64>().ok())
            {
                latest = latest.max(Some(v));
            }
        }
        Ok(match (latest, self.frozen) {
            (Some(l), Some(f)) => Some(l.min(f)),
            (l, _) => l,
        })
    }

    /// One commit's actions.
    fn actions(&self, version: i64) -> SparkResult<Vec<Value>> {
        let path = self.log_dir()?.join(format!("{version:020}.json"));
        let text = std::fs::read_to_string(&path)?;
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l).map_err(|e| {
                    SparkError::Plan(PlanError::invalid(format!(
                        "The Delta log file {} is corrupt: {e}",
                        path.display()
                    )))
                })
            })
            .collect()
    }

    /// The files one commit added; a commit that removes data fails the stream unless
    /// changes are skipped (then the whole commit is skipped, as Delta does).
    fn added(&self, version: i64) -> SparkResult<Vec<Added>> {
        let mut adds = vec![];
        let mut changes_data = false;
        for action in self.actions(version)? {
            if let Some(add) = action.get("add") {
                if add.get("dataChange").and_then(Value::as_bool) != Some(false) {
                    adds.push(added_file(add));
                }
            }
            if let Some(remove) = action.get("remove") {
                if remove.get("dataChange").and_then(Value::as_bool) != Some(false) {
                    changes_data = true;
                }
            }
        }
        if changes_data {
            if self.config.skip_changes {
                return Ok(vec![]);
            }
            return Err(SparkError::Plan(PlanError::unsupported(format!(
                "[DELTA_SOURCE_TABLE_IGNORE_CHANGES] Detected a data update (for example a DELETE, UPDATE, MERGE or overwrite) in the source table at version {version}. This is currently not supported. If this is going to happen regularly and you are okay to skip changes, set the option 'skipChangeCommits' to 'true'. The table is {}.",
                delta_sink::table::display(&self.config.url)
            ))));
        }
        Ok(adds)
    }

    /// The table's files as of `version` (its log replayed), oldest first as Delta orders a
    /// starting snapshot: by modification time, then path.
    fn snapshot_files(&self, version: i64) -> SparkResult<Vec<Added>> {
        let mut live: BTreeMap<String, (i64, Added)> = BTreeMap::new();
        for v in 0..=version {
            for action in self.actions(v)? {
                if let Some(add) = action.get("add") {
                    let a = added_file(add);
                    let t = add
                        .get("modificationTime")
                        .and_then(Value::as_i64)
                        .unwrap_or(0);
                    live.insert(a.path.clone(), (t, a));
                }
                if let Some(path) = action
                    .get("remove")
                    .and_then(|r| r.get("path"))
                    .and_then(Value::as_str)
                {
                    live.remove(path);
                }
            }
        }
        let mut files: Vec<(i64, Added)> = live.into_values().collect();
        files.sort_by(|a, b| (a.0, &a.1.path).cmp(&(b.0, &b.1.path)));
        Ok(files.into_iter().map(|(_, a)| a).collect())
    }

    /// The files of one position's version: the snapshot's or the commit's.
    fn files_at(&self, p: &Position) -> SparkResult<Vec<Added>> {
        if p.starting {
            self.snapshot_files(p.version)
        } else {
            self.added(p.version)
        }
    }

    /// Files after `start`, version by version, up to `latest`, at most `limit` of them
    /// (at least one); with the position of the last one.
    fn files_after(
        &self,
        start: &Position,
        latest: i64,
        limit: Option<usize>,
    ) -> SparkResult<(Vec<Added>, Position)> {
        let mut taken = vec![];
        let mut at = start.clone();
        let mut current = start.clone();
        loop {
            let files = self.files_at(&current)?;
            for (i, f) in files.into_iter().enumerate() {
                if (i as i64) <= current.index {
                    continue;
                }
                if limit.is_some_and(|l| taken.len() >= l) {
                    return Ok((taken, at));
                }
                taken.push(f);
                at = Position {
                    index: i as i64,
                    ..current.clone()
                };
            }
            if current.version >= latest {
                if taken.is_empty() {
                    // Nothing new: the position moves past this version's end.
                    at = Position {
                        index: i64::MAX,
                        ..current
                    };
                }
                return Ok((taken, at));
            }
            current = Position {
                version: current.version + 1,
                index: -1,
                starting: false,
            };
            if taken.is_empty() {
                at = current.clone();
            }
        }
    }

    fn offset(&self, p: &Position) -> Value {
        json!({
            "sourceVersion": 1,
            "reservoirId": self.table_id,
            "reservoirVersion": p.version,
            "index": p.index,
            "isStartingVersion": p.starting,
        })
    }

    /// Where a stream without a start offset begins: before the first file of the snapshot
    /// at `latest`, or before the commit `startingVersion`.
    fn origin(&self, latest: i64) -> Position {
        match self.config.starting_version {
            None => Position {
                version: latest,
                index: -1,
                starting: true,
            },
            Some(v) => Position {
                version: v,
                index: -1,
                starting: false,
            },
        }
    }

    /// Reads `files` (grouped by partition values) as the table's rows.
    async fn read_files(&self, session: &Session, files: Vec<Added>) -> SparkResult<LogicalPlan> {
        let root = delta_sink::table::local_dir(&self.config.url).ok_or_else(|| {
            SparkError::unsupported("Delta streaming sources off the local file system")
        })?;
        let mut groups: BTreeMap<BTreeMap<String, Option<String>>, Vec<String>> = BTreeMap::new();
        for a in files {
            let decoded = percent_decode(&a.path);
            groups
                .entry(a.partition)
                .or_default()
                .push(root.join(decoded).display().to_string());
        }
        let data_fields: Vec<arrow::datatypes::Field> = self
            .schema
            .fields()
            .iter()
            .filter(|f| !self.config.partition_columns.contains(f.name()))
            .map(|f| f.as_ref().clone())
            .collect();
        let file_schema = arrow::datatypes::Schema::new(data_fields);
        let mut plans = vec![];
        for (partition, files) in groups {
            let df = session
                .ctx
                .read_parquet(files, ParquetReadOptions::default().schema(&file_schema))
                .await?;
            let mut exprs: Vec<datafusion::logical_expr::Expr> = vec![];
            for f in self.schema.fields() {
                if self.config.partition_columns.contains(f.name()) {
                    let value = partition.get(f.name()).cloned().flatten();
                    exprs.push(
                        cast(lit(ScalarValue::Utf8(value)), f.data_type().clone()).alias(f.name()),
                    );
                } else {
                    exprs.push(datafusion::logical_expr::ident(f.name()).alias(f.name()));
                }
            }
            plans.push(
                LogicalPlanBuilder::from(df.into_unoptimized_plan())
                    .project(exprs)?
                    .build()?,
            );
        }
        let mut plans = plans.into_iter();
        let Some(first) = plans.next() else {
            return super::empty(&self.schema);
        };
        let mut builder = LogicalPlanBuilder::from(first);
        for p in plans {
            builder = builder.union(p)?;
        }
        super::conform(builder.build()?, &self.schema)
    }
}

fn added_file(add: &Value) -> Added {
    let partition = add
        .get("partitionValues")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string)))
                .collect()
        })
        .unwrap_or_default();
    Added {
        path: add
            .get("path")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        partition,
    }
}

/// A place in the stream of files: after file `index` of `version` (-1: before its first).
#[derive(Debug, Clone, PartialEq)]
struct Position {
    version: i64,
    index: i64,
    starting: bool,
}

/// Delta log paths are URL-encoded.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn position_of(v: &Value) -> SparkResult<Position> {
    let version = v
        .get("reservoirVersion")
        .and_then(Value::as_i64)
        .ok_or_else(|| {
            SparkError::Plan(PlanError::invalid(format!(
                "not a Delta source offset: {v}"
            )))
        })?;
    Ok(Position {
        version,
        index: v.get("index").and_then(Value::as_i64).unwrap_or(-1),
        starting: v
            .get("isStartingVersion")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    })
}

#[async_trait]
impl Source for DeltaSource {
    fn description(&self) -> &str {
        &self.description
    }

    fn schema(&self) -> arrow::datatypes::SchemaRef {
        self.schema.clone()
    }

    async fn restore(&mut self, _last: Option<&Value>) -> SparkResult<()> {
        let t = delta_sink::table::open(&self.config.url, &TimeTravel::Latest).await?;
        self.table_id = t
            .snapshot()
            .map(|s| s.metadata().id().to_string())
            .unwrap_or_default();
        Ok(())
    }

    async fn freeze(&mut self) -> SparkResult<()> {
        self.frozen = self.latest()?;
        Ok(())
    }

    async fn next(
        &mut self,
        _batch: i64,
        start: Option<&Value>,
        limit: Limit,
    ) -> SparkResult<Option<Value>> {
        let Some(latest) = self.latest()? else {
            return Ok(None);
        };
        let from = match start {
            Some(s) => position_of(s)?,
            None => self.origin(latest),
        };
        if from.version > latest {
            return Ok(None);
        }
        let limit = match limit {
            Limit::Trigger => self.config.max_files,
            Limit::All => None,
        };
        let (files, end) = self.files_after(&from, latest, limit)?;
        if files.is_empty() && start.is_some() {
            return Ok(None);
        }
        Ok(Some(self.offset(&end)))
    }

    async fn plan(
        &self,
        session: &Session,
        start: Option<&Value>,
        end: &Value,
    ) -> SparkResult<LogicalPlan> {
        let end = position_of(end)?;
        let from = match start {
            Some(s) => position_of(s)?,
            None => self.origin(end.version),
        };
        let mut files = vec![];
        let mut current = from;
        // Walk versions from the start to the end, taking the files between the positions.
        loop {
            let here = self.files_at(&current)?;
            for (i, f) in here.into_iter().enumerate() {
                let i = i as i64;
                if i <= current.index {
                    continue;
                }
                if current.version == end.version
                    && current.starting == end.starting
                    && i > end.index
                {
                    break;
                }
                files.push(f);
            }
            if current.version >= end.version {
                break;
            }
            current = Position {
                version: current.version + 1,
                index: -1,
                starting: false,
            };
        }
        self.read_files(session, files).await
    }
}
