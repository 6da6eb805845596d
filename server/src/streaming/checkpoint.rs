//! The checkpoint folder in Spark's layout: `metadata` (the query id), `offsets/<batch>`
//! (what each batch reads, written before it runs), `commits/<batch>` (written after its
//! sink committed), `sources/<n>/` (each source's own log) and `state/<operator>/` (aggregation and deduplication state).
//! Every file is written whole to a temporary name and renamed, so a crash leaves either
//! the old file or the new one.
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::error::{SparkError, SparkResult};

const VERSION: &str = "v1";

#[derive(Debug, Clone)]
pub struct Checkpoint {
    root: PathBuf,
}

/// `offsets/<batch>`: the watermark and time the batch runs with, and each source's end offset.
#[derive(Debug, Clone, PartialEq)]
pub struct OffsetSeq {
    pub watermark_ms: i64,
    pub timestamp_ms: i64,
    pub offsets: Vec<Option<Value>>,
}

impl Checkpoint {
    pub fn open(root: &Path) -> SparkResult<Checkpoint> {
        std::fs::create_dir_all(root).map_err(|e| io_error(root, e))?;
        Ok(Checkpoint {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The query id kept in `metadata`, created on first use.
    pub fn query_id(&self) -> SparkResult<String> {
        let path = self.root.join("metadata");
        if path.exists() {
            let text = read(&path)?;
            let v: Value = serde_json::from_str(text.trim()).map_err(|e| corrupt(&path, e))?;
            return v
                .get("id")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| corrupt(&path, "no id"));
        }
        let id = uuid::Uuid::new_v4().to_string();
        write_atomic(&path, &json!({ "id": id }).to_string())?;
        Ok(id)
    }

    pub fn source_dir(&self, index: usize) -> PathBuf {
        self.root.join("sources").join(index.to_string())
    }

    /// The state of stateful operator `op` (Spark numbers them from the top of the plan).
    pub fn state_dir(&self, op: usize) -> PathBuf {
        self.root.join("state").join(op.to_string())
    }

    /// The highest batch id in `dir` (`offsets` or `commits`).
    fn latest(&self, dir: &str) -> SparkResult<Option<i64>> {
        Ok(batch_ids(&self.root.join(dir))?.into_iter().max())
    }

    pub fn latest_offsets(&self) -> SparkResult<Option<(i64, OffsetSeq)>> {
        match self.latest("offsets")? {
            Some(id) => Ok(Some((id, self.offsets(id)?))),
            None => Ok(None),
        }
    }

    pub fn latest_commit(&self) -> SparkResult<Option<i64>> {
        self.latest("commits")
    }

    pub fn offsets(&self, batch: i64) -> SparkResult<OffsetSeq> {
        let path = self.root.join("offsets").join(batch.to_string());
        let text = read(&path)?;
        let mut lines = text.lines();
        check_version(&path, lines.next())?;
        let meta: Value =
            serde_json::from_str(lines.next().unwrap_or("{}")).map_err(|e| corrupt(&path, e))?;
        let offsets = lines
            .map(|l| match l.trim() {
                "-" => Ok(None),
                other => serde_json::from_str(other).map(Some),
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| corrupt(&path, e))?;
        Ok(OffsetSeq {
            watermark_ms: meta
                .get("batchWatermarkMs")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            timestamp_ms: meta
                .get("batchTimestampMs")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            offsets,
        })
    }

    pub fn write_offsets(&self, batch: i64, seq: &OffsetSeq) -> SparkResult<()> {
        let mut text = format!(
            "{VERSION}\n{}",
            json!({
                "batchWatermarkMs": seq.watermark_ms,
                "batchTimestampMs": seq.timestamp_ms,
                "conf": {"spark.sql.shuffle.partitions": "200"},
            })
        );
        for o in &seq.offsets {
            text.push('\n');
            match o {
                Some(v) => text.push_str(&v.to_string()),
                None => text.push('-'),
            }
        }
        write_atomic(&self.root.join("offsets").join(batch.to_string()), &text)
    }

    pub fn write_commit(&self, batch: i64, next_watermark_ms: i64) -> SparkResult<()> {
        write_atomic(
            &self.root.join("commits").join(batch.to_string()),
            &format!(
                "{VERSION}\n{}",
                json!({ "nextBatchWatermarkMs": next_watermark_ms })
            ),
        )
    }

    /// The watermark a committed batch handed on to the next one.
    pub fn committed_watermark(&self, batch: i64) -> SparkResult<i64> {
        let path = self.root.join("commits").join(batch.to_string());
        let text = read(&path)?;
        let mut lines = text.lines();
        check_version(&path, lines.next())?;
        let v: Value =
            serde_json::from_str(lines.next().unwrap_or("{}")).map_err(|e| corrupt(&path, e))?;
        Ok(v.get("nextBatchWatermarkMs")
            .and_then(Value::as_i64)
            .unwrap_or(0))
    }
}

/// Batch ids named by the files of a log folder (temporary and hidden files skipped).
pub fn batch_ids(dir: &Path) -> SparkResult<Vec<i64>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(io_error(dir, e)),
    };
    let mut ids = vec![];
    for entry in entries {
        let entry = entry.map_err(|e| io_error(dir, e))?;
        if let Some(id) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i64>().ok())
        {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    Ok(ids)
}

/// Batch ids named by `<id>.<ext>` files in `dir`.
pub fn batch_ids_with_ext(dir: &Path, ext: &str) -> SparkResult<Vec<i64>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(io_error(dir, e)),
    };
    let suffix = format!(".{ext}");
    let mut ids = vec![];
    for entry in entries {
        let entry = entry.map_err(|e| io_error(dir, e))?;
        let name = entry.file_name();
        if let Some(id) = name
            .to_str()
            .and_then(|n| n.strip_suffix(&suffix))
            .and_then(|n| n.parse::<i64>().ok())
        {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// A log file's lines after its version line.
pub fn read_log(path: &Path) -> SparkResult<Vec<String>> {
    let text = read(path)?;
    let mut lines = text.lines();
    check_version(path, lines.next())?;
    Ok(lines
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect())
}

pub fn write_log(path: &Path, lines: &[String]) -> SparkResult<()> {
    let mut text = VERSION.to_string();
    for l in lines {
        text.push('\n');
        text.push_str(l);
    }
    write_atomic(path, &text)
}

/// Writes `text` to a hidden temporary file beside `path` and renames it over: a reader, or
/// a restart after the process dies, sees the old file or the whole new one. No fsync, as
/// Spark's local checkpoint files and the Delta commits they point at have none either.
pub fn write_atomic(path: &Path, text: &str) -> SparkResult<()> {
    write_bytes_atomic(path, text.as_bytes())
}

pub fn write_bytes_atomic(path: &Path, bytes: &[u8]) -> SparkResult<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .ok_or_else(|| SparkError::invalid(format!("no folder for {}", path.display())))?;
    std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("log");
    let tmp = dir.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4()));
    let mut f = std::fs::File::create(&tmp).map_err(|e| io_error(&tmp, e))?;
    f.write_all(bytes).map_err(|e| io_error(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io_error(path, e))
}

fn read(path: &Path) -> SparkResult<String> {
    std::fs::read_to_string(path).map_err(|e| io_error(path, e))
}

fn check_version(path: &Path, line: Option<&str>) -> SparkResult<()> {
    match line.map(str::trim) {
        Some(VERSION) => Ok(()),
        other => Err(corrupt(
            path,
            format!("unsupported log version {:?}", other.unwrap_or("")),
        )),
    }
}

fn corrupt(path: &Path, e: impl std::fmt::Display) -> SparkError {
    SparkError::Plan(planner::PlanError::invalid(format!(
        "The checkpoint file {} is corrupt: {e}",
        path.display()
    )))
}

fn io_error(path: &Path, e: std::io::Error) -> SparkError {
    SparkError::Io(std::io::Error::new(
        e.kind(),
        format!("{}: {e}", path.display()),
    ))
}
