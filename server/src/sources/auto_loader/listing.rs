//! Finding the files a stream may ingest: the directory under the load path, listed
//! recursively (landing zones nest files in date folders), names starting with `_` or `.`
//! skipped as Spark skips them, `pathGlobFilter` matched against file names, and the
//! `key=value` folders between the load path and each file.
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use planner::{PlanError, PlanResult};

use super::super::files::{self, unescape_path_name};
use super::CloudFilesOptions;

/// A file the source may ingest: its path, size and modification time (ms since the epoch).
pub type Listed = (PathBuf, u64, i64);

fn has_glob(p: &str) -> bool {
    p.contains(['*', '?', '[', '{'])
}

/// The part of a load path before its first glob component: partition folders are read
/// below it.
pub fn base(root: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in root.components() {
        if has_glob(&c.as_os_str().to_string_lossy()) {
            break;
        }
        out.push(c);
    }
    out
}

pub fn list(root: &Path, opts: &CloudFilesOptions) -> PlanResult<Vec<Listed>> {
    let filter = opts.reader_options.get("pathglobfilter").cloned();
    let text = root.to_string_lossy();
    let text = text.strip_prefix("file:").unwrap_or(&text);
    let roots = if Path::new(text).exists() || !has_glob(text) {
        vec![PathBuf::from(text)]
    } else {
        files::expand_glob(text)?
    };
    let mut out = vec![];
    for root in roots {
        match std::fs::metadata(&root) {
            Ok(m) if m.is_dir() => walk(&root, filter.as_deref(), &mut out)?,
            Ok(m) => {
                let name = root.file_name().map(|n| n.to_string_lossy().to_string());
                if name.is_some_and(|n| filter.as_deref().is_none_or(|f| glob(f, &n))) {
                    out.push((root.clone(), m.len(), mtime(&m)));
                }
            }
            // A load path that does not exist yet is an empty stream, not an error: files
            // may land later.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(files::io_error(&root, e)),
        }
    }
    out.sort_by(|a, b| a.2.cmp(&b.2).then_with(|| a.0.cmp(&b.0)));
    Ok(out)
}

fn mtime(m: &std::fs::Metadata) -> i64 {
    m.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as i64)
}

fn walk(dir: &Path, filter: Option<&str>, out: &mut Vec<Listed>) -> PlanResult<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        // A folder removed while listing holds no files.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(files::io_error(dir, e)),
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name().to_string_lossy().to_string();
        if files::hidden(&name) {
            continue;
        }
        let path = entry.path();
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            walk(&path, filter, out)?;
        } else if filter.is_none_or(|f| glob(f, &name)) {
            out.push((path, meta.len(), mtime(&meta)));
        }
    }
    Ok(())
}

/// Hadoop's glob on one name: `*`, `?`, `[abc]`, `[a-z]`, `[^a]` and `{ab,cd}`.
pub fn glob(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    glob_chars(&p, &n)
}

fn glob_chars(p: &[char], n: &[char]) -> bool {
    let Some(&first) = p.first() else {
        return n.is_empty();
    };
    match first {
        '*' => (0..=n.len()).any(|k| glob_chars(&p[1..], &n[k..])),
        '?' => !n.is_empty() && glob_chars(&p[1..], &n[1..]),
        '[' => {
            let Some(close) = p.iter().skip(2).position(|&c| c == ']').map(|i| i + 2) else {
                return n.first() == Some(&'[') && glob_chars(&p[1..], &n[1..]);
            };
            let Some(&c) = n.first() else { return false };
            let (negated, set) = match p[1] {
                '^' | '!' => (true, &p[2..close]),
                _ => (false, &p[1..close]),
            };
            let mut hit = false;
            let mut i = 0;
            while i < set.len() {
                if i + 2 < set.len() && set[i + 1] == '-' {
                    hit |= (set[i]..=set[i + 2]).contains(&c);
                    i += 3;
                } else {
                    hit |= set[i] == c;
                    i += 1;
                }
            }
            hit != negated && glob_chars(&p[close + 1..], &n[1..])
        }
        '{' => {
            let Some(close) = p.iter().position(|&c| c == '}') else {
                return n.first() == Some(&'{') && glob_chars(&p[1..], &n[1..]);
            };
            p[1..close].split(|&c| c == ',').any(|alt| {
                let mut rest = alt.to_vec();
                rest.extend_from_slice(&p[close + 1..]);
                glob_chars(&rest, n)
            })
        }
        '\\' if p.len() > 1 => n.first() == Some(&p[1]) && glob_chars(&p[2..], &n[1..]),
        c => n.first() == Some(&c) && glob_chars(&p[1..], &n[1..]),
    }
}

/// The `key=value` folders between `root` and `file`, in order.
pub fn partition_values(root: &Path, file: &Path) -> Vec<(String, String)> {
    let base = base(root);
    let base = base.strip_prefix("file:").unwrap_or(&base);
    let Some(parent) = file.parent() else {
        return vec![];
    };
    let relative = parent.strip_prefix(base).unwrap_or(parent);
    relative
        .components()
        .filter_map(|c| {
            let name = c.as_os_str().to_string_lossy();
            name.split_once('=')
                .filter(|(k, _)| !k.is_empty())
                .map(|(k, v)| (unescape_path_name(k), unescape_path_name(v)))
        })
        .collect()
}

/// The partition columns of a set of files: those `cloudFiles.partitionColumns` names, or
/// else the folder keys when every file has the same ones (Auto Loader ignores conflicting
/// or partial layouts), none with `recursiveFileLookup`.
pub fn partition_columns(root: &Path, files: &[PathBuf], opts: &CloudFilesOptions) -> Vec<String> {
    if let Some(named) = &opts.partition_columns {
        return named.clone();
    }
    if opts
        .reader_options
        .get("recursivefilelookup")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    {
        return vec![];
    }
    let mut keys: Option<Vec<String>> = None;
    for file in files {
        let these: Vec<String> = partition_values(root, file)
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        match &keys {
            None => keys = Some(these),
            Some(k) if *k == these => {}
            Some(_) => return vec![],
        }
    }
    keys.unwrap_or_default()
}

/// Spark's text for a local file path: `file:/abs/path`.
pub fn file_uri(path: &Path) -> String {
    format!("file:{}", files::absolute(path))
}

/// The error for a stream that has no schema and no files to infer one from.
pub fn empty_dir(root: &Path) -> PlanError {
    PlanError::analysis(format!(
        "[CF_EMPTY_DIR_FOR_SCHEMA_INFERENCE] Cannot infer schema when the input path `{}` is empty. Please try to start the stream when there are files in the input path, or specify the schema.",
        root.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_like_hadoop() {
        assert!(glob("*.json", "a.json"));
        assert!(!glob("*.json", "a.csv"));
        assert!(glob("part-[0-9]*.{json,csv}", "part-1x.csv"));
        assert!(!glob("part-[^0-9]*", "part-1"));
        assert!(glob("a?c", "abc"));
    }

    #[test]
    fn folders_are_partitions() {
        let root = Path::new("/data/in");
        let file = Path::new("/data/in/day=2024-01-01/kind=a%3Db/x.json");
        assert_eq!(
            partition_values(root, file),
            vec![
                ("day".to_string(), "2024-01-01".to_string()),
                ("kind".to_string(), "a=b".to_string())
            ]
        );
        assert_eq!(base(Path::new("/data/*/in")), PathBuf::from("/data"));
    }
}
