//! A table's clustering columns (`clusterBy`, `CLUSTER BY`, a pipeline table's `cluster_by`).
//!
//! They are kept as the table property `clusteringColumns` (`[["a"],["b"]]`), the form
//! Spark's catalog keeps them in, and `OPTIMIZE` lays the files out by them (Z-order).
//! The table is not a Delta liquid-clustered table: that needs the `clustering` writer
//! feature, which delta-rs 1.1 refuses to write to.
use std::collections::HashMap;

use arrow::datatypes::Schema;
use deltalake::DeltaTable;

use crate::error::{DeltaError, DeltaResult};
use crate::write::WriteSpec;

pub const PROPERTY: &str = "clusteringColumns";

/// The clustering columns a table's properties name (none when it has none).
pub fn of(configuration: &HashMap<String, String>) -> Vec<String> {
    configuration
        .get(PROPERTY)
        .and_then(|v| serde_json::from_str::<Vec<Vec<String>>>(v).ok())
        .map(|cols| cols.into_iter().map(|parts| parts.join(".")).collect())
        .unwrap_or_default()
}

fn encode(columns: &[String]) -> String {
    let nested: Vec<Vec<&String>> = columns.iter().map(|c| vec![c]).collect();
    serde_json::to_string(&nested).unwrap_or_default()
}

fn of_table(t: &DeltaTable) -> DeltaResult<Vec<String>> {
    let snapshot = t.snapshot()?;
    let configuration: HashMap<String, String> = snapshot
        .metadata()
        .configuration()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(of(&configuration))
}

/// The clustering columns as the schema spells them, checked: each must be a column, and
/// a table is clustered or partitioned, not both.
fn check(columns: &[String], partition_by: &[String], schema: &Schema) -> DeltaResult<Vec<String>> {
    if !partition_by.is_empty() {
        return Err(DeltaError::Analysis(
            "[SPECIFY_CLUSTER_BY_WITH_PARTITIONED_BY_IS_NOT_ALLOWED] Cannot specify both CLUSTER BY and PARTITIONED BY. SQLSTATE: 42908".into(),
        ));
    }
    columns
        .iter()
        .map(|c| {
            schema
                .fields()
                .iter()
                .find(|f| f.name().eq_ignore_ascii_case(c))
                .map(|f| f.name().clone())
                .ok_or_else(|| {
                    DeltaError::Analysis(format!(
                        "Couldn't find column {c} in: [{}]",
                        schema
                            .fields()
                            .iter()
                            .map(|f| f.name().as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })
        })
        .collect()
}

/// Records checked clustering columns in the properties of a table being created.
pub(crate) fn record(
    columns: &[String],
    partition_by: &[String],
    schema: &Schema,
    properties: &mut HashMap<String, String>,
) -> DeltaResult<()> {
    if columns.is_empty() {
        return Ok(());
    }
    let columns = check(columns, partition_by, schema)?;
    properties.insert(PROPERTY.into(), encode(&columns));
    Ok(())
}

/// Checks the write's clustering columns against the data (`schema`) and the table it
/// writes to, and records them in the properties of a table the write creates. A table
/// that exists keeps its clustering unless the write replaces its definition.
pub(crate) fn prepare(
    spec: &mut WriteSpec,
    schema: &Schema,
    existing: Option<&DeltaTable>,
    replaces: bool,
) -> DeltaResult<()> {
    if spec.clustering.is_empty() {
        return Ok(());
    }
    let existing = existing.filter(|_| !replaces);
    let mut partition_by = spec.partition_by.clone();
    if let Some(t) = existing {
        partition_by.extend(t.snapshot()?.metadata().partition_columns().iter().cloned());
    }
    let columns = check(&spec.clustering, &partition_by, schema)?;
    if let Some(t) = existing {
        let current = of_table(t)?;
        let same = current.len() == columns.len()
            && current
                .iter()
                .zip(&columns)
                .all(|(a, b)| a.eq_ignore_ascii_case(b));
        if !same {
            return Err(DeltaError::Analysis(format!(
                "[DELTA_CLUSTERING_COLUMNS_MISMATCH] The provided clustering columns do not match the existing table's.\n- provided: {}\n- existing: {}",
                columns.join(","),
                current.join(",")
            )));
        }
    }
    spec.properties.insert(PROPERTY.into(), encode(&columns));
    spec.clustering = columns;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_round_trip() {
        let cols = vec!["a".to_string(), "b c".to_string()];
        let config = HashMap::from([(PROPERTY.to_string(), encode(&cols))]);
        assert_eq!(config[PROPERTY], r#"[["a"],["b c"]]"#);
        assert_eq!(of(&config), cols);
        assert!(of(&HashMap::new()).is_empty());
    }
}
