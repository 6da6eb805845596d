//! `sluice pipeline run`: a pipeline project of SQL files, run in-process with no client.
//! The project is a `spark-pipeline.yml` spec (as `spark-pipelines init` writes it) or a
//! folder of `.sql` files.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The fields of a pipeline spec sluice reads (Spark's `spark-pipeline.yml`).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Spec {
    pub name: String,
    pub storage: Option<String>,
    pub catalog: Option<String>,
    pub database: Option<String>,
    pub configuration: HashMap<String, String>,
    pub libraries: Vec<String>,
}

fn scalar(text: &str) -> String {
    let t = text.trim();
    // A quoted value ends at its closing quote; a plain one at a ` #` comment.
    if let Some(q) = t.chars().next().filter(|c| *c == '"' || *c == '\'') {
        if let Some(end) = t[1..].find(q) {
            return t[1..1 + end].to_string();
        }
    }
    match t.find(" #") {
        Some(i) => t[..i].trim_end().to_string(),
        None => t.to_string(),
    }
}

/// Reads the block-style YAML subset pipeline specs use: top-level scalars, the
/// `configuration` mapping, and `libraries` as a list of `- glob: {include: ...}`.
pub fn parse_spec(text: &str) -> Result<Spec, String> {
    let mut spec = Spec::default();
    let mut section: Option<String> = None;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        let content = line.trim_start();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let indented = line.len() != content.len();
        if !indented {
            let (key, value) = content
                .split_once(':')
                .ok_or_else(|| format!("line {}: expected `key: value`", n + 1))?;
            let value = scalar(value);
            section = None;
            match key.trim() {
                "name" => spec.name = value,
                "storage" => spec.storage = Some(value),
                "catalog" => spec.catalog = Some(value),
                "database" | "schema" => spec.database = Some(value),
                k @ ("configuration" | "libraries") if value.is_empty() => {
                    section = Some(k.to_string())
                }
                other => {
                    return Err(format!(
                        "line {}: [PIPELINE_SPEC_UNEXPECTED_FIELD] Pipeline spec field '{other}' is unexpected.",
                        n + 1
                    ))
                }
            }
            continue;
        }
        match section.as_deref() {
            Some("configuration") => {
                let (k, v) = content
                    .split_once(':')
                    .ok_or_else(|| format!("line {}: expected `key: value`", n + 1))?;
                spec.configuration.insert(scalar(k), scalar(v));
            }
            Some("libraries") => {
                let item = content.trim_start_matches('-').trim();
                if let Some(rest) = item.strip_prefix("include:") {
                    spec.libraries.push(scalar(rest));
                } else if item != "glob:" && !item.is_empty() {
                    return Err(format!(
                        "line {}: libraries entries are `- glob:` with `include: <pattern>`",
                        n + 1
                    ));
                }
            }
            _ => return Err(format!("line {}: unexpected indentation", n + 1)),
        }
    }
    if spec.name.is_empty() {
        return Err(
            "[PIPELINE_SPEC_MISSING_REQUIRED_FIELD] Pipeline spec missing required field 'name'."
                .into(),
        );
    }
    Ok(spec)
}

/// The spec file in `dir`, if there is one.
pub fn spec_in(dir: &Path) -> Option<PathBuf> {
    ["spark-pipeline.yml", "spark-pipeline.yaml"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

/// Every file under `dir` (recursively, sorted).
fn files_under(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "__pycache__") {
                continue;
            }
            files_under(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

/// The source files a spec's `libraries` name: a file, or `folder/**` for everything under it.
pub fn library_files(root: &Path, libraries: &[String]) -> Result<Vec<PathBuf>, String> {
    let mut files = vec![];
    for pattern in libraries {
        if let Some(folder) = pattern.strip_suffix("/**") {
            if folder.contains(['*', '?', '[']) {
                return Err(format!("[PIPELINE_SPEC_INVALID_GLOB_PATTERN] Invalid glob pattern `{pattern}`: only file paths and folders ending with /** are allowed."));
            }
            let dir = root.join(folder);
            files_under(&dir, &mut files).map_err(|e| format!("{}: {e}", dir.display()))?;
        } else if pattern.contains(['*', '?', '[']) {
            return Err(format!("[PIPELINE_SPEC_INVALID_GLOB_PATTERN] Invalid glob pattern `{pattern}`: only file paths and folders ending with /** are allowed."));
        } else {
            files.push(root.join(pattern));
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_init_spec() {
        let spec = parse_spec(
            "\nname: demo\nstorage: file:///tmp/demo/pipeline-storage\nlibraries:\n  - glob:\n      include: transformations/**\n",
        )
        .expect("parses");
        assert_eq!(spec.name, "demo");
        assert_eq!(
            spec.storage.as_deref(),
            Some("file:///tmp/demo/pipeline-storage")
        );
        assert_eq!(spec.libraries, vec!["transformations/**"]);
    }

    #[test]
    fn reads_configuration_and_rejects_unknown_fields() {
        let spec = parse_spec(
            "name: 'p' # a comment\ndatabase: sales\nconfiguration:\n  spark.sql.shuffle.partitions: \"4\"\n",
        )
        .expect("parses");
        assert_eq!(spec.name, "p");
        assert_eq!(spec.database.as_deref(), Some("sales"));
        assert_eq!(spec.configuration["spark.sql.shuffle.partitions"], "4");
        assert!(parse_spec("name: p\nowner: me\n")
            .unwrap_err()
            .contains("PIPELINE_SPEC_UNEXPECTED_FIELD"));
        assert!(parse_spec("storage: x\n").unwrap_err().contains("'name'"));
    }
}
