//! Scans remembered across reads: a file whose size and modification time have not changed
//! has the same shape, so reading a folder again skips the inference scan (and execution
//! skips the check scan). Bounded: it is emptied when it grows past `LIMIT` files.
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

use super::scan::Facts;

const LIMIT: usize = 100_000;

/// A file's size and modification time.
type Stamp = (u64, Option<SystemTime>);

type Key = (PathBuf, bool);

fn cache() -> &'static Mutex<HashMap<Key, (Stamp, Facts)>> {
    static CACHE: OnceLock<Mutex<HashMap<Key, (Stamp, Facts)>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.len(), m.modified().ok()))
}

/// The facts of `path` scanned as JSON Lines (or multiLine documents): remembered ones while
/// the file is unchanged, else `scan` of it, remembered.
pub fn facts<E>(
    path: &Path,
    multi_line: bool,
    scan: impl FnOnce() -> Result<Facts, E>,
) -> Result<Facts, E> {
    let Some(now) = stamp(path) else {
        return scan();
    };
    let key = (path.to_path_buf(), multi_line);
    if let Some((when, facts)) = cache().lock().expect("not poisoned").get(&key) {
        if *when == now {
            return Ok(facts.clone());
        }
    }
    let facts = scan()?;
    // A file changed while it was scanned is not remembered.
    if stamp(path) == Some(now) {
        let mut map = cache().lock().expect("not poisoned");
        if map.len() >= LIMIT {
            map.clear();
        }
        map.insert(key, (now, facts.clone()));
    }
    Ok(facts)
}
