//! The schema log under `cloudFiles.schemaLocation`, laid out as Databricks lays it out:
//! `_schemas/0`, `_schemas/1`, ... each `v1` on its first line, then a JSON object with the
//! data columns and the partition columns as Spark schema JSON strings. The highest number
//! is the schema in force; evolution writes the next one.
use std::io::Write;
use std::path::{Path, PathBuf};

use arrow::datatypes::{DataType, Field, Fields};
use planner::types::{parse_schema_string, to_json};
use planner::{PlanError, PlanResult};
use serde_json::{json, Value};

/// One version of the stream's schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Logged {
    pub version: u64,
    pub data: Vec<Field>,
    pub partition: Vec<Field>,
}

fn dir(location: &Path) -> PathBuf {
    location.join("_schemas")
}

fn io_error(path: &Path, e: std::io::Error) -> PlanError {
    PlanError::analysis(format!(
        "Cannot use the Auto Loader schema log at {}: {e}",
        path.display()
    ))
}

/// The versions present, highest last.
fn versions(location: &Path) -> PlanResult<Vec<u64>> {
    let dir = dir(location);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(io_error(&dir, e)),
    };
    let mut out: Vec<u64> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
        .collect();
    out.sort_unstable();
    Ok(out)
}

fn struct_fields(text: &str, time_zone: &str, file: &Path) -> PlanResult<Vec<Field>> {
    match parse_schema_string(text, time_zone)? {
        DataType::Struct(fields) => Ok(fields.iter().map(|f| f.as_ref().clone()).collect()),
        other => Err(PlanError::analysis(format!(
            "The Auto Loader schema log file {} holds {other}, not a struct.",
            file.display()
        ))),
    }
}

/// The latest schema in the log, if any.
pub fn latest(location: &Path, time_zone: &str) -> PlanResult<Option<Logged>> {
    let Some(&version) = versions(location)?.last() else {
        return Ok(None);
    };
    let file = dir(location).join(version.to_string());
    let text = std::fs::read_to_string(&file).map_err(|e| io_error(&file, e))?;
    let body = match text.split_once('\n') {
        Some((v, body)) if v.trim() == "v1" => body.trim(),
        _ => {
            return Err(PlanError::analysis(format!(
                "The Auto Loader schema log file {} does not start with the version line `v1`.",
                file.display()
            )))
        }
    };
    let value: Value = serde_json::from_str(body).map_err(|e| {
        PlanError::analysis(format!(
            "The Auto Loader schema log file {} is not JSON: {e}",
            file.display()
        ))
    })?;
    // Databricks' layout; a bare struct schema (written by hand) is read as data columns.
    let (data, partition) = match value.get("dataSchemaJson").and_then(Value::as_str) {
        Some(data) => {
            let partition = value
                .get("partitionSchemaJson")
                .and_then(Value::as_str)
                .map(|p| struct_fields(p, time_zone, &file))
                .transpose()?
                .unwrap_or_default();
            (struct_fields(data, time_zone, &file)?, partition)
        }
        None => (struct_fields(body, time_zone, &file)?, vec![]),
    };
    Ok(Some(Logged {
        version,
        data,
        partition,
    }))
}

fn schema_json(fields: &[Field]) -> String {
    to_json(&DataType::Struct(Fields::from(fields.to_vec()))).to_string()
}

/// Writes `version`; an existing file of that number is an error (another stream writes to
/// the same log).
pub fn write(location: &Path, version: u64, data: &[Field], partition: &[Field]) -> PlanResult<()> {
    let dir = dir(location);
    std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
    let body = json!({
        "dataSchemaJson": schema_json(data),
        "partitionSchemaJson": schema_json(partition),
    });
    let file = dir.join(version.to_string());
    // Written aside and linked into place, so readers never see half a file and two writers
    // of one version cannot both succeed.
    let temp = dir.join(format!(".{version}.{}.tmp", uuid::Uuid::new_v4()));
    let mut out = std::fs::File::create(&temp).map_err(|e| io_error(&temp, e))?;
    out.write_all(format!("v1\n{body}").as_bytes())
        .and_then(|_| out.sync_all())
        .map_err(|e| io_error(&temp, e))?;
    let linked = std::fs::hard_link(&temp, &file);
    let _ = std::fs::remove_file(&temp);
    linked.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            PlanError::analysis(format!(
                "The Auto Loader schema log already has version {version} at {}: is another stream using this cloudFiles.schemaLocation?",
                file.display()
            ))
        } else {
            io_error(&file, e)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_in_databricks_layout() {
        let dir = std::env::temp_dir().join(format!("sluice-al-log-{}", uuid::Uuid::new_v4()));
        assert_eq!(latest(&dir, "UTC").unwrap(), None);
        let data = vec![
            Field::new("a", DataType::Utf8, true),
            Field::new("b", DataType::Int64, true),
        ];
        let part = vec![Field::new("day", DataType::Utf8, true)];
        write(&dir, 0, &data, &part).unwrap();
        let text = std::fs::read_to_string(dir.join("_schemas/0")).unwrap();
        assert!(text.starts_with("v1\n{\"dataSchemaJson\":"));
        assert!(write(&dir, 0, &data, &part).is_err());
        let mut more = data.clone();
        more.push(Field::new("c", DataType::Utf8, true));
        write(&dir, 1, &more, &part).unwrap();
        let got = latest(&dir, "UTC").unwrap().unwrap();
        assert_eq!((got.version, got.data, got.partition), (1, more, part));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
