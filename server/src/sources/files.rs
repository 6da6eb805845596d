//! Finding the files of a read as Spark's file index does: globs, directories listed
//! recursively (skipping `_` and `.` names), and `key=value` folders as partition columns.
use std::io::Read;
use std::path::{Path, PathBuf};

use arrow::datatypes::DataType;
use planner::{PlanError, PlanResult};

/// Spark's folder name for a NULL (or empty) partition value.
pub const DEFAULT_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// One data file and the raw `key=value` pairs of the folders between the read root and it.
#[derive(Debug, Clone)]
pub struct DataFile {
    pub path: PathBuf,
    pub partition: Vec<(String, String)>,
}

/// The files of a read and the partition columns its folders name, with inferred types.
#[derive(Debug, Default)]
pub struct Listing {
    pub files: Vec<DataFile>,
    pub partition_columns: Vec<(String, DataType)>,
}

impl Listing {
    /// The typed value of partition column `i` for `file` (None for the default partition).
    pub fn value<'a>(&self, file: &'a DataFile, i: usize) -> Option<&'a str> {
        let name = &self.partition_columns[i].0;
        file.partition
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| *v != DEFAULT_PARTITION)
    }
}

pub fn list(paths: &[String]) -> PlanResult<Listing> {
    let mut files = vec![];
    for p in paths {
        let roots = expand_glob(p)?;
        if roots.is_empty() {
            return Err(path_not_found(p));
        }
        for root in roots {
            if root.is_dir() {
                walk(&root, &mut vec![], &mut files)?;
            } else {
                files.push(DataFile {
                    path: root,
                    partition: vec![],
                });
            }
        }
    }
    let partition_columns = partition_columns(&files)?;
    Ok(Listing {
        files,
        partition_columns,
    })
}

pub fn path_not_found(p: &str) -> PlanError {
    PlanError::analysis(format!(
        "[PATH_NOT_FOUND] Path does not exist: file:{}. SQLSTATE: 42K03",
        absolute(Path::new(p))
    ))
}

pub fn absolute(p: &Path) -> String {
    std::path::absolute(p)
        .map(|a| a.display().to_string())
        .unwrap_or_else(|_| p.display().to_string())
}

pub(crate) fn hidden(name: &str) -> bool {
    name.starts_with(['_', '.'])
}

pub(crate) fn io_error(path: &Path, e: std::io::Error) -> PlanError {
    PlanError::analysis(format!("{}: {e}", path.display()))
}

/// Lists `dir` recursively in name order; `key=value` folder names become partition values.
fn walk(
    dir: &Path,
    partition: &mut Vec<(String, String)>,
    out: &mut Vec<DataFile>,
) -> PlanResult<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| io_error(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().is_some_and(|n| !hidden(&n.to_string_lossy())))
        .collect();
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            let name = entry
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            let pair = name
                .split_once('=')
                .map(|(k, v)| (unescape_path_name(k), unescape_path_name(v)));
            if let Some(pair) = &pair {
                partition.push(pair.clone());
            }
            walk(&entry, partition, out)?;
            if pair.is_some() {
                partition.pop();
            }
        } else {
            out.push(DataFile {
                path: entry,
                partition: partition.clone(),
            });
        }
    }
    Ok(())
}

/// Partition columns in folder order, each typed as Spark infers it from all its values.
fn partition_columns(files: &[DataFile]) -> PlanResult<Vec<(String, DataType)>> {
    let Some(first) = files.first() else {
        return Ok(vec![]);
    };
    let names: Vec<String> = first.partition.iter().map(|(k, _)| k.clone()).collect();
    for f in files {
        let these: Vec<&String> = f.partition.iter().map(|(k, _)| k).collect();
        if these.len() != names.len() || these.iter().zip(&names).any(|(a, b)| *a != b) {
            return Err(PlanError::analysis(format!(
                "[CONFLICTING_PARTITION_COLUMN_NAMES] Conflicting partition column names detected: {:?} and {:?}.",
                names, these
            )));
        }
    }
    Ok(names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let ty = files
                .iter()
                .filter_map(|f| Some(f.partition[i].1.as_str()).filter(|v| *v != DEFAULT_PARTITION))
                .map(infer_partition_value)
                .reduce(merge_partition_types)
                .unwrap_or(DataType::Utf8);
            (name.clone(), ty)
        })
        .collect())
}

/// Spark's `inferPartitionColumnValue`: int, bigint, double, date, else string.
fn infer_partition_value(raw: &str) -> DataType {
    if raw.parse::<i32>().is_ok() {
        DataType::Int32
    } else if raw.parse::<i64>().is_ok() {
        DataType::Int64
    } else if raw.parse::<f64>().is_ok() && !raw.chars().any(|c| c.is_ascii_alphabetic()) {
        DataType::Float64
    } else if chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d").is_ok() {
        DataType::Date32
    } else {
        DataType::Utf8
    }
}

fn merge_partition_types(a: DataType, b: DataType) -> DataType {
    use DataType::*;
    match (a, b) {
        (a, b) if a == b => a,
        (Int32, Int64) | (Int64, Int32) => Int64,
        (Int32 | Int64 | Float64, Int32 | Int64 | Float64) => Float64,
        _ => Utf8,
    }
}

/// Hive's path escaping, undone: `%3A` is `:`.
pub fn unescape_path_name(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Hive's `escapePathName`: characters that are unsafe in a folder name become `%XX`.
pub fn escape_path_name(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let unsafe_char = matches!(
            c,
            '\u{01}'
                ..='\u{1F}'
                    | '"'
                    | '#'
                    | '%'
                    | '\''
                    | '*'
                    | '/'
                    | ':'
                    | '='
                    | '?'
                    | '\\'
                    | '\u{7F}'
                    | '{'
                    | '['
                    | ']'
                    | '^'
        );
        if unsafe_char {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// The paths a (possibly glob) path names; an existing path names itself.
pub(crate) fn expand_glob(p: &str) -> PlanResult<Vec<PathBuf>> {
    let path = Path::new(p);
    if path.exists() || !p.contains(['*', '?']) {
        return Ok(if path.exists() {
            vec![path.to_path_buf()]
        } else {
            vec![]
        });
    }
    let mut found = vec![if path.is_absolute() {
        PathBuf::from("/")
    } else {
        PathBuf::from(".")
    }];
    for component in path.components() {
        let part = component.as_os_str().to_string_lossy();
        if matches!(component, std::path::Component::RootDir) {
            continue;
        }
        let mut next = vec![];
        for base in &found {
            if part.contains(['*', '?']) {
                let Ok(entries) = std::fs::read_dir(base) else {
                    continue;
                };
                let mut names: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok())
                    .filter(|e| {
                        let name = e.file_name().to_string_lossy().to_string();
                        !hidden(&name) && glob_match(part.as_bytes(), name.as_bytes())
                    })
                    .map(|e| e.path())
                    .collect();
                names.sort();
                next.extend(names);
            } else {
                let candidate = base.join(part.as_ref());
                if candidate.exists() {
                    next.push(candidate);
                }
            }
        }
        found = next;
    }
    Ok(found)
}

/// `*` matches any run of characters, `?` one character.
pub(crate) fn glob_match(pattern: &[u8], name: &[u8]) -> bool {
    match (pattern.first(), name.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob_match(&pattern[1..], name) || (!name.is_empty() && glob_match(pattern, &name[1..]))
        }
        (Some(b'?'), Some(_)) => glob_match(&pattern[1..], &name[1..]),
        (Some(a), Some(b)) if a == b => glob_match(&pattern[1..], &name[1..]),
        _ => false,
    }
}

/// A text file's contents, gunzipped when its name ends in `.gz` (as Hadoop's codecs do).
pub fn read_text(path: &Path) -> PlanResult<String> {
    let bytes = std::fs::read(path).map_err(|e| io_error(path, e))?;
    let bytes = if path.extension().is_some_and(|e| e == "gz") {
        let mut out = vec![];
        flate2::read::MultiGzDecoder::new(bytes.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| io_error(path, e))?;
        out
    } else {
        bytes
    };
    // Valid UTF-8 (the usual case) is taken as is, without a copy.
    Ok(String::from_utf8(bytes)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// The cores this process may use. `available_parallelism` reads the cgroup files on every
/// call, and streaming asks for it on every micro-batch, so it is read once.
pub(crate) fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_and_escapes() {
        assert!(glob_match(b"*.csv", b"a.csv"));
        assert!(!glob_match(b"*.csv", b"b.txt"));
        assert!(glob_match(b"a?c", b"abc"));
        assert_eq!(escape_path_name("a:b/c"), "a%3Ab%2Fc");
        assert_eq!(unescape_path_name("a%3Ab%2Fc"), "a:b/c");
    }

    #[test]
    fn partition_types() {
        assert_eq!(infer_partition_value("1"), DataType::Int32);
        assert_eq!(infer_partition_value("x"), DataType::Utf8);
        assert_eq!(
            merge_partition_types(DataType::Int32, DataType::Utf8),
            DataType::Utf8
        );
    }
}
