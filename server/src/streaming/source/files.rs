//! File streams: `readStream.format("json"|"csv"|"parquet"|"text")` and Auto Loader
//! (`cloudFiles`). Spark's FileStreamSource layout: `sources/<n>/<batch>` lists the files each
//! batch took (`{"path","timestamp","batchId"}` per line); a file is taken once, ever, by
//! path (a file rewritten after it was taken is not read again).
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use async_trait::async_trait;
use datafusion::logical_expr::LogicalPlan;
use planner::{DataSource, PlanError};
use serde_json::{json, Map, Value};

use super::{file_url, Kind, Limit, Source, SourceSpec};
use crate::error::{SparkError, SparkResult};
use crate::session::Session;
use crate::sources::auto_loader::{self, CloudFilesOptions, EvolutionMode};
use crate::sources::files;
use crate::streaming::checkpoint;

/// Options a file stream reads itself; the rest go to the format's reader.
const STREAM_OPTIONS: &[&str] = &[
    "maxfilespertrigger",
    "maxbytespertrigger",
    "latestfirst",
    "cleansource",
    "sourcearchivedir",
    "pathglobfilter",
    "recursivefilelookup",
    "maxfileage",
    "filenameonly",
    "path",
];

#[derive(Debug, Clone, PartialEq)]
pub enum Clean {
    Off,
    Delete,
    Archive(PathBuf),
}

#[derive(Debug, Clone)]
pub struct FileConfig {
    pub format: String,
    pub root: PathBuf,
    pub reader_options: HashMap<String, String>,
    pub max_files: Option<usize>,
    pub max_bytes: Option<u64>,
    pub latest_first: bool,
    pub clean: Clean,
    pub glob: Option<String>,
    pub recursive: bool,
    /// Auto Loader (`format("cloudFiles")`): its options decide listing, schema and reading.
    pub cloud: Option<CloudFilesOptions>,
    pub time_zone: String,
}

pub fn resolve(session: &Session, s: DataSource) -> SparkResult<SourceSpec> {
    let time_zone = session.planner_config().time_zone;
    if s.format == "cloudfiles" {
        return resolve_cloud_files(s, time_zone);
    }
    if s.format == "binaryfile" {
        return Err(SparkError::unsupported(
            "readStream.format(\"binaryFile\") (use cloudFiles with cloudFiles.format binaryFile)",
        ));
    }
    let root = single_path(&s)?;
    let glob = root.to_string_lossy().contains(['*', '?', '[', '{']);
    if !glob && !root.exists() {
        return Err(SparkError::Plan(files::path_not_found(
            &root.display().to_string(),
        )));
    }
    let schema = match (&s.schema, s.format.as_str()) {
        (Some(schema), _) => crate::sources::nullable_schema(schema.as_ref()),
        (None, "text") => std::sync::Arc::new(arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new("value", arrow::datatypes::DataType::Utf8, true),
        ])),
        (None, _) => {
            return Err(SparkError::Plan(PlanError::invalid(
                "Schema must be specified when creating a streaming source DataFrame. If some files already exist in the directory, then depending on the file format you may be able to create a static DataFrame on that directory with 'spark.read.load(directory)' and infer schema from it.",
            )))
        }
    };
    let o = &s.options;
    let clean = match o
        .get("cleansource")
        .map(|v| v.to_ascii_lowercase())
        .as_deref()
    {
        None | Some("off") => Clean::Off,
        Some("delete") => Clean::Delete,
        Some("archive") => match o.get("sourcearchivedir") {
            Some(d) => Clean::Archive(PathBuf::from(d)),
            None => {
                return Err(SparkError::Plan(PlanError::invalid(
                    "Archive mode must be used with 'sourceArchiveDir' option.",
                )))
            }
        },
        Some(other) => {
            return Err(SparkError::Plan(PlanError::invalid(format!(
                "Invalid mode for clean source option {other}. must be one of ARCHIVE, DELETE, OFF"
            ))))
        }
    };
    let config = FileConfig {
        format: s.format.clone(),
        root: root.clone(),
        reader_options: o
            .iter()
            .filter(|(k, _)| !STREAM_OPTIONS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        max_files: positive(o, "maxfilespertrigger")?,
        max_bytes: positive(o, "maxbytespertrigger")?.map(|n| n as u64),
        latest_first: flag(o, "latestfirst")?,
        clean,
        glob: o.get("pathglobfilter").cloned(),
        recursive: flag(o, "recursivefilelookup")?,
        cloud: None,
        time_zone,
    };
    Ok(SourceSpec {
        description: format!("FileStreamSource[{}]", file_url(&root)),
        kind: Kind::Files(Box::new(config)),
        schema,
    })
}

/// `readStream.format("cloudFiles")`: Auto Loader's options, and the stream's schema from
/// the schema location, the user, or the files there now.
fn resolve_cloud_files(s: DataSource, time_zone: String) -> SparkResult<SourceSpec> {
    let root = single_path(&s)?;
    let opts = CloudFilesOptions::parse(&s.options, s.schema.is_some())?;
    let schema = match &s.schema {
        Some(user) => auto_loader::user_schema(user, &opts),
        None => {
            let files: Vec<PathBuf> = if root.exists() {
                auto_loader::list(&root, &opts)?
                    .into_iter()
                    .map(|f| f.0)
                    .collect()
            } else {
                vec![]
            };
            auto_loader::stream_schema(&files, &root, &opts, &time_zone)?
        }
    };
    let config = FileConfig {
        format: opts.format.clone(),
        root: root.clone(),
        reader_options: opts.reader_options.clone(),
        max_files: opts.max_files_per_trigger,
        max_bytes: opts.max_bytes_per_trigger,
        latest_first: false,
        clean: Clean::Off,
        glob: None,
        recursive: true,
        cloud: Some(opts),
        time_zone,
    };
    Ok(SourceSpec {
        description: format!("CloudFilesSource[{}]", file_url(&root)),
        kind: Kind::Files(Box::new(config)),
        schema: crate::sources::nullable_schema(schema.as_ref()),
    })
}

fn single_path(s: &DataSource) -> SparkResult<PathBuf> {
    let mut paths: Vec<&String> = s.paths.iter().collect();
    if let Some(p) = s.options.get("path") {
        paths.push(p);
    }
    match paths.as_slice() {
        [one] => Ok(PathBuf::from(one.as_str())),
        [] => Err(SparkError::Plan(PlanError::invalid(
            "'path' is not specified",
        ))),
        _ => Err(SparkError::Plan(PlanError::invalid(
            "A streaming file source reads one path (folder or glob).",
        ))),
    }
}

pub(super) fn positive(o: &HashMap<String, String>, key: &str) -> SparkResult<Option<usize>> {
    match o.get(key) {
        None => Ok(None),
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err(SparkError::Plan(PlanError::invalid(format!(
                "Invalid value '{v}' for option '{key}', must be a positive integer"
            )))),
        },
    }
}

pub(super) fn flag(o: &HashMap<String, String>, key: &str) -> SparkResult<bool> {
    match o.get(key).map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(SparkError::Plan(PlanError::invalid(format!(
            "Invalid value '{other}' for option '{key}', must be true or false"
        )))),
    }
}

/// One file a batch took.
#[derive(Debug, Clone)]
struct Entry {
    path: PathBuf,
    timestamp: i64,
    size: u64,
}

pub struct FileSource {
    config: FileConfig,
    schema: arrow::datatypes::SchemaRef,
    description: String,
    dir: PathBuf,
    /// The files of each logged batch.
    log: BTreeMap<i64, Vec<Entry>>,
    /// Files taken, with the modification time they had then.
    seen: HashMap<PathBuf, i64>,
    /// `Trigger.AvailableNow`: only the files pending when the query started, listed once.
    frozen: Option<Vec<Entry>>,
    outstanding: (u64, u64),
}

impl FileSource {
    pub fn new(config: FileConfig, spec: &SourceSpec, dir: PathBuf) -> FileSource {
        FileSource {
            config,
            schema: spec.schema.clone(),
            description: spec.description.clone(),
            dir,
            log: BTreeMap::new(),
            seen: HashMap::new(),
            frozen: None,
            outstanding: (0, 0),
        }
    }

    /// Every file the source may read, with size and modification time.
    fn listing(&self) -> SparkResult<Vec<Entry>> {
        if let Some(opts) = &self.config.cloud {
            if !self.config.root.exists() {
                return Ok(vec![]);
            }
            return Ok(auto_loader::list(&self.config.root, opts)?
                .into_iter()
                .map(|(path, size, timestamp)| Entry {
                    path,
                    timestamp,
                    size,
                })
                .collect());
        }
        let root = self.config.root.display().to_string();
        let listing = match files::list(&[root]) {
            Ok(l) => l,
            // A folder (or glob) that matches nothing yet has no files yet.
            Err(e) if e.to_string().contains("PATH_NOT_FOUND") => return Ok(vec![]),
            Err(e) => return Err(e.into()),
        };
        let mut out = vec![];
        for f in listing.files {
            if let Some(g) = &self.config.glob {
                let name = f.path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if !auto_loader::glob_matches(g, name) {
                    continue;
                }
            }
            // Without recursiveFileLookup only the folder itself and its key=value
            // partition folders are read, as Spark's file stream does.
            if !self.config.recursive
                && !f
                    .partition
                    .len()
                    .eq(&folders_between(&self.config.root, &f.path))
            {
                continue;
            }
            let Ok(meta) = std::fs::metadata(&f.path) else {
                continue; // gone since listed
            };
            let timestamp = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_millis() as i64);
            out.push(Entry {
                path: f.path,
                timestamp,
                size: meta.len(),
            });
        }
        Ok(out)
    }

    /// Files under the root not taken yet, oldest first (newest first with `latestFirst`).
    fn pending(&self) -> SparkResult<Vec<Entry>> {
        let overwrites = self
            .config
            .cloud
            .as_ref()
            .is_some_and(|c| c.allow_overwrites);
        let new = |e: &Entry| match self.seen.get(&e.path) {
            None => true,
            // cloudFiles.allowOverwrites: a file changed since it was taken is new again.
            Some(t) => overwrites && *t != e.timestamp,
        };
        let mut out: Vec<Entry> = match &self.frozen {
            Some(files) => files.iter().filter(|e| new(e)).cloned().collect(),
            None => self.listing()?.into_iter().filter(|e| new(e)).collect(),
        };
        out.sort_by(|a, b| (a.timestamp, &a.path).cmp(&(b.timestamp, &b.path)));
        if self.config.latest_first {
            out.reverse();
        }
        Ok(out)
    }

    fn files_between(&self, start: Option<&Value>, end: &Value) -> SparkResult<Vec<&Entry>> {
        let from = start.map(log_offset).transpose()?.unwrap_or(-1);
        let to = log_offset(end)?;
        Ok(self
            .log
            .range(from + 1..=to)
            .flat_map(|(_, files)| files.iter())
            .collect())
    }
}

impl FileSource {
    /// `cloudFiles.includeExistingFiles=false`: the files there when the stream first started
    /// are never read; they are kept in `sources/<n>/existing` so restarts skip them too.
    fn skip_existing(&mut self) -> SparkResult<()> {
        if self
            .config
            .cloud
            .as_ref()
            .is_none_or(|c| c.include_existing_files)
        {
            return Ok(());
        }
        let marker = self.dir.join("existing");
        let lines = if marker.exists() {
            checkpoint::read_log(&marker)?
        } else if self.log.is_empty() {
            let lines: Vec<String> = self
                .listing()?
                .iter()
                .map(|e| {
                    json!({"path": e.path.display().to_string(), "timestamp": e.timestamp})
                        .to_string()
                })
                .collect();
            checkpoint::write_log(&marker, &lines)?;
            lines
        } else {
            vec![]
        };
        for l in lines {
            if let Ok(v) = serde_json::from_str::<Value>(&l) {
                if let Some(p) = v.get("path").and_then(Value::as_str) {
                    let t = v.get("timestamp").and_then(Value::as_i64).unwrap_or(0);
                    self.seen.insert(PathBuf::from(p), t);
                }
            }
        }
        Ok(())
    }

    /// Auto Loader stops the stream when files bring columns the schema lacks
    /// (addNewColumns: after logging the widened schema for the restart; failOnNewColumns).
    fn check_new_columns(&self, take: &[Entry]) -> SparkResult<()> {
        let Some(opts) = &self.config.cloud else {
            return Ok(());
        };
        if !matches!(
            opts.evolution,
            EvolutionMode::AddNewColumns | EvolutionMode::FailOnNewColumns
        ) {
            return Ok(());
        }
        for e in take {
            let added = auto_loader::new_columns(
                &self.schema,
                std::slice::from_ref(&e.path),
                opts,
                &self.config.time_zone,
            )?;
            if !added.is_empty() {
                return Err(SparkError::Plan(auto_loader::evolve(
                    &self.schema,
                    &added,
                    &e.path,
                    opts,
                )?));
            }
        }
        Ok(())
    }
}

/// How many folders lie between `root` (a folder, or a glob whose matches are folders or
/// files) and `file`.
fn folders_between(root: &std::path::Path, file: &std::path::Path) -> usize {
    let base = if root.is_dir() {
        root
    } else {
        root.parent().unwrap_or(root)
    };
    file.strip_prefix(base)
        .map(|rel| rel.components().count().saturating_sub(1))
        .unwrap_or(0)
}

fn log_offset(v: &Value) -> SparkResult<i64> {
    v.get("logOffset").and_then(Value::as_i64).ok_or_else(|| {
        SparkError::Plan(PlanError::invalid(format!("not a file stream offset: {v}")))
    })
}

#[async_trait]
impl Source for FileSource {
    fn description(&self) -> &str {
        &self.description
    }

    fn schema(&self) -> arrow::datatypes::SchemaRef {
        self.schema.clone()
    }

    async fn restore(&mut self, _last: Option<&Value>) -> SparkResult<()> {
        for id in checkpoint::batch_ids(&self.dir)? {
            let mut entries = vec![];
            for line in checkpoint::read_log(&self.dir.join(id.to_string()))? {
                let v: Value = serde_json::from_str(&line).map_err(|e| {
                    SparkError::Plan(PlanError::invalid(format!(
                        "The file stream log {} is corrupt: {e}",
                        self.dir.join(id.to_string()).display()
                    )))
                })?;
                let url = v.get("path").and_then(Value::as_str).unwrap_or_default();
                let path = PathBuf::from(url.strip_prefix("file://").unwrap_or(url));
                let timestamp = v.get("timestamp").and_then(Value::as_i64).unwrap_or(0);
                self.seen.insert(path.clone(), timestamp);
                entries.push(Entry {
                    path,
                    timestamp,
                    size: v.get("size").and_then(Value::as_u64).unwrap_or(0),
                });
            }
            self.log.insert(id, entries);
        }
        self.skip_existing()
    }

    async fn freeze(&mut self) -> SparkResult<()> {
        self.frozen = Some(self.pending()?);
        Ok(())
    }

    async fn next(
        &mut self,
        batch: i64,
        _start: Option<&Value>,
        limit: Limit,
    ) -> SparkResult<Option<Value>> {
        // Files chosen for this batch before a restart are its files still.
        if let Some(files) = self.log.get(&batch) {
            self.check_new_columns(files)?;
            return Ok(Some(json!({ "logOffset": batch })));
        }
        let pending = self.pending()?;
        let mut take = vec![];
        let mut bytes = 0u64;
        for e in &pending {
            if limit == Limit::Trigger && !take.is_empty() {
                if self.config.max_files.is_some_and(|m| take.len() >= m) {
                    break;
                }
                if self.config.max_bytes.is_some_and(|m| bytes >= m) {
                    break;
                }
            }
            bytes += e.size;
            take.push(e.clone());
        }
        let rest = &pending[take.len()..];
        self.outstanding = (rest.len() as u64, rest.iter().map(|e| e.size).sum::<u64>());
        if take.is_empty() {
            return Ok(None);
        }
        self.check_new_columns(&take)?;
        let lines: Vec<String> = take
            .iter()
            .map(|e| {
                json!({
                    "path": format!("file://{}", files::absolute(&e.path)),
                    "timestamp": e.timestamp,
                    "batchId": batch,
                    "size": e.size,
                })
                .to_string()
            })
            .collect();
        checkpoint::write_log(&self.dir.join(batch.to_string()), &lines)?;
        for e in &take {
            self.seen.insert(e.path.clone(), e.timestamp);
        }
        self.log.insert(batch, take);
        Ok(Some(json!({ "logOffset": batch })))
    }

    async fn plan(
        &self,
        session: &Session,
        start: Option<&Value>,
        end: &Value,
    ) -> SparkResult<LogicalPlan> {
        let files = self.files_between(start, end)?;
        let paths: Vec<String> = files.iter().map(|e| e.path.display().to_string()).collect();
        if paths.is_empty() {
            return super::empty(&self.schema);
        }
        if let Some(opts) = &self.config.cloud {
            let paths: Vec<PathBuf> = files.iter().map(|e| e.path.clone()).collect();
            let plan = auto_loader::scan(
                &paths,
                &self.config.root,
                self.schema.clone(),
                opts,
                &self.config.time_zone,
            )?;
            return super::conform(plan, &self.schema);
        }
        let source = DataSource {
            format: self.config.format.clone(),
            paths,
            schema: Some(self.schema.clone()),
            options: self.config.reader_options.clone(),
        };
        let plan = crate::sources::read(&session.ctx, source).await?;
        super::conform(plan, &self.schema)
    }

    async fn committed(&mut self, start: Option<&Value>, end: &Value) -> SparkResult<()> {
        if self.config.clean == Clean::Off {
            return Ok(());
        }
        let done: Vec<PathBuf> = self
            .files_between(start, end)?
            .into_iter()
            .map(|e| e.path.clone())
            .collect();
        for path in done {
            // The data is committed: a file already cleaned by a previous run is fine.
            let result = match &self.config.clean {
                Clean::Delete => std::fs::remove_file(&path),
                Clean::Archive(dir) => {
                    let abs = PathBuf::from(files::absolute(&path));
                    let target = dir.join(abs.strip_prefix("/").unwrap_or(&abs));
                    match target.parent().map(std::fs::create_dir_all) {
                        Some(Err(e)) => Err(e),
                        _ => std::fs::rename(&path, &target),
                    }
                }
                Clean::Off => Ok(()),
            };
            if let Err(e) = result {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!("cleanSource could not clean {}: {e}", path.display());
                }
            }
        }
        Ok(())
    }

    fn metrics(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert(
            "numFilesOutstanding".into(),
            json!(self.outstanding.0.to_string()),
        );
        m.insert(
            "numBytesOutstanding".into(),
            json!(self.outstanding.1.to_string()),
        );
        m
    }
}
