//! A Delta table as a stream: the first batch reads the table as of the version the query
//! starts at (or the changes from `startingVersion`), later batches the files each newer
//! commit added. Offsets are Delta's (`reservoirVersion` and friends); a batch spans whole
//! commits, so `maxFilesPerTrigger` bounds a batch at commit granularity.
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::common::ScalarValue;
use datafusion::datasource::provider_as_source;
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

    /// The `add` actions of one commit; a commit that removes data fails the stream unless
    /// changes are skipped (then the whole commit is skipped, as Delta does).
    fn added(&self, version: i64) -> SparkResult<Vec<Added>> {
        let path = self.log_dir()?.join(format!("{version:020}.json"));
        let text = std::fs::read_to_string(&path)?;
        let mut adds = vec![];
        let mut changes_data = false;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let action: Value = serde_json::from_str(line).map_err(|e| {
                SparkError::Plan(PlanError::invalid(format!(
                    "The Delta log file {} is corrupt: {e}",
                    path.display()
                )))
            })?;
            if let Some(add) = action.get("add") {
                if add.get("dataChange").and_then(Value::as_bool) == Some(false) {
                    continue;
                }
                let partition = add
                    .get("partitionValues")
                    .and_then(Value::as_object)
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string)))
                            .collect()
                    })
                    .unwrap_or_default();
                adds.push(Added {
                    path: add
                        .get("path")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    partition,
                });
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

    fn offset(&self, version: i64, starting: bool) -> Value {
        json!({
            "sourceVersion": 1,
            "reservoirId": self.table_id,
            "reservoirVersion": version,
            "index": -1,
            "isStartingVersion": starting,
        })
    }

    /// The files the commits `from..=to` added, read as the table's rows.
    async fn read_commits(
        &self,
        session: &Session,
        from: i64,
        to: i64,
    ) -> SparkResult<LogicalPlan> {
        let root = delta_sink::table::local_dir(&self.config.url).ok_or_else(|| {
            SparkError::unsupported("Delta streaming sources off the local file system")
        })?;
        let mut groups: BTreeMap<BTreeMap<String, Option<String>>, Vec<String>> = BTreeMap::new();
        for v in from..=to {
            for a in self.added(v)? {
                let decoded = percent_decode(&a.path);
                groups
                    .entry(a.partition)
                    .or_default()
                    .push(root.join(decoded).display().to_string());
            }
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

fn version_of(v: &Value) -> SparkResult<(i64, bool)> {
    let version = v
        .get("reservoirVersion")
        .and_then(Value::as_i64)
        .ok_or_else(|| {
            SparkError::Plan(PlanError::invalid(format!(
                "not a Delta source offset: {v}"
            )))
        })?;
    Ok((
        version,
        v.get("isStartingVersion")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    ))
}

#[async_trait]
impl Source for DeltaSource {
    fn description(&self) -> &str {
        &self.description
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
        let first = match start {
            None => match self.config.starting_version {
                // The table as of now is the first batch.
                None => return Ok(Some(self.offset(latest, true))),
                Some(v) if v > latest => return Ok(None),
                Some(v) => v,
            },
            Some(s) => version_of(s)?.0 + 1,
        };
        if first > latest {
            return Ok(None);
        }
        let mut end = first;
        if let (Limit::Trigger, Some(max)) = (limit, self.config.max_files) {
            let mut files = self.added(first)?.len();
            while end < latest {
                let more = self.added(end + 1)?.len();
                if files + more > max {
                    break;
                }
                files += more;
                end += 1;
            }
        } else {
            end = latest;
        }
        Ok(Some(self.offset(end, false)))
    }

    async fn plan(
        &self,
        session: &Session,
        start: Option<&Value>,
        end: &Value,
    ) -> SparkResult<LogicalPlan> {
        let (to, starting) = version_of(end)?;
        if start.is_none() && starting {
            let provider =
                delta_sink::read::provider(&self.config.url, &TimeTravel::Version(to), None)
                    .await?;
            let plan =
                LogicalPlanBuilder::scan("delta", provider_as_source(provider), None)?.build()?;
            return super::conform(plan, &self.schema);
        }
        let from = match start {
            Some(s) => version_of(s)?.0 + 1,
            None => self.config.starting_version.unwrap_or(0),
        };
        self.read_commits(session, from, to).await
    }
}
