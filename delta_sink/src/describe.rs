//! `DESCRIBE HISTORY` and `DESCRIBE DETAIL`: a table's commits and its current shape, with
//! the columns Delta Lake on Spark returns.
use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Int32Array, Int64Array, ListBuilder, MapBuilder, MapFieldNames,
    RecordBatch, StringArray, StringBuilder, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use futures::TryStreamExt;
use serde_json::Value;
use url::Url;

use crate::error::DeltaResult;
use crate::table::{self, TimeTravel};

fn utc_micros() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn string_map(rows: &[BTreeMap<String, String>]) -> ArrayRef {
    let names = MapFieldNames {
        entry: "entries".into(),
        key: "key".into(),
        value: "value".into(),
    };
    let mut b = MapBuilder::new(Some(names), StringBuilder::new(), StringBuilder::new());
    for row in rows {
        for (k, v) in row {
            b.keys().append_value(k);
            b.values().append_value(v);
        }
        // Appending a map entry cannot fail once keys and values line up.
        let _ = b.append(true);
    }
    Arc::new(b.finish())
}

fn map_type(array: &ArrayRef) -> DataType {
    array.data_type().clone()
}

/// JSON values shown as Spark shows operation parameters: strings bare, others as JSON.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn string_entries(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|o| o.iter().map(|(k, v)| (k.clone(), text(v))).collect())
        .unwrap_or_default()
}

/// Newest commit first, at most `limit`.
pub async fn history(url: &Url, limit: Option<usize>) -> DeltaResult<RecordBatch> {
    let t = table::open(url, &TimeTravel::Latest).await?;
    let latest = t.version().unwrap_or(0) as i64;
    let commits: Vec<_> = t.history(limit).try_collect().await?;
    let mut version = vec![];
    let mut timestamp = vec![];
    let mut operation = vec![];
    let mut parameters = vec![];
    let mut read_version = vec![];
    let mut isolation = vec![];
    let mut blind = vec![];
    let mut metrics = vec![];
    let mut user_metadata = vec![];
    let mut engine = vec![];
    for (i, c) in commits.iter().enumerate() {
        let json = serde_json::to_value(c).unwrap_or(Value::Null);
        version.push(latest - i as i64);
        timestamp.push(c.timestamp.map(|ms| ms * 1000));
        operation.push(c.operation.clone());
        parameters.push(string_entries(json.get("operationParameters")));
        read_version.push(c.read_version.map(|v| v as i64));
        isolation.push(json.get("isolationLevel").map(text));
        blind.push(c.is_blind_append);
        metrics.push(string_entries(json.get("operationMetrics")));
        user_metadata.push(c.user_metadata.clone());
        engine.push(c.engine_info.clone());
    }
    let params = string_map(&parameters);
    let metrics = string_map(&metrics);
    let nulls = || Arc::new(StringArray::from(vec![None::<&str>; commits.len()])) as ArrayRef;
    let schema = Schema::new(vec![
        Field::new("version", DataType::Int64, true),
        Field::new("timestamp", utc_micros(), true),
        Field::new("userId", DataType::Utf8, true),
        Field::new("userName", DataType::Utf8, true),
        Field::new("operation", DataType::Utf8, true),
        Field::new("operationParameters", map_type(&params), true),
        Field::new("clusterId", DataType::Utf8, true),
        Field::new("readVersion", DataType::Int64, true),
        Field::new("isolationLevel", DataType::Utf8, true),
        Field::new("isBlindAppend", DataType::Boolean, true),
        Field::new("operationMetrics", map_type(&metrics), true),
        Field::new("userMetadata", DataType::Utf8, true),
        Field::new("engineInfo", DataType::Utf8, true),
    ]);
    Ok(RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(Int64Array::from(version)),
            Arc::new(TimestampMicrosecondArray::from(timestamp).with_timezone("UTC")),
            nulls(),
            nulls(),
            Arc::new(StringArray::from(operation)),
            params,
            nulls(),
            Arc::new(Int64Array::from(read_version)),
            Arc::new(StringArray::from(isolation)),
            Arc::new(BooleanArray::from(blind)),
            metrics,
            Arc::new(StringArray::from(user_metadata)),
            Arc::new(StringArray::from(engine)),
        ],
    )?)
}

/// The reader then writer features a protocol (its JSON form) names.
fn table_features(protocol: &Value) -> Vec<String> {
    ["readerFeatures", "writerFeatures"]
        .iter()
        .filter_map(|key| protocol.get(*key).and_then(Value::as_array))
        .flatten()
        .map(text)
        .collect()
}

/// The table's properties as Delta's `SHOW TBLPROPERTIES` lists them: its configuration,
/// its protocol versions and (for a table-features protocol) each feature as supported.
pub async fn properties(url: &Url) -> DeltaResult<Vec<(String, String)>> {
    let t = table::open(url, &TimeTravel::Latest).await?;
    Ok(listed_properties(t.snapshot()?))
}

fn listed_properties(snapshot: &deltalake::table::state::DeltaTableState) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = snapshot
        .metadata()
        .configuration()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let protocol = serde_json::to_value(snapshot.protocol()).unwrap_or(Value::Null);
    for (key, name) in [
        ("minReaderVersion", "delta.minReaderVersion"),
        ("minWriterVersion", "delta.minWriterVersion"),
    ] {
        if let Some(v) = protocol.get(key) {
            out.push((name.into(), text(v)));
        }
    }
    for f in table_features(&protocol) {
        let entry = (format!("delta.feature.{f}"), "supported".to_string());
        if !out.contains(&entry) {
            out.push(entry);
        }
    }
    out.sort();
    out
}

/// What DESCRIBE TABLE shows of a Delta table besides its columns.
#[derive(Debug, Clone, Default)]
pub struct TableInfo {
    pub partition_columns: Vec<String>,
    pub clustering: Vec<String>,
    /// The table's comment (Delta's metadata description).
    pub description: Option<String>,
    /// As [`properties`] lists them.
    pub properties: Vec<(String, String)>,
}

pub async fn info(url: &Url) -> DeltaResult<TableInfo> {
    let t = table::open(url, &TimeTravel::Latest).await?;
    let snapshot = t.snapshot()?;
    let metadata = snapshot.metadata();
    Ok(TableInfo {
        partition_columns: metadata.partition_columns().to_vec(),
        clustering: crate::clustering::of(metadata.configuration()),
        description: metadata.description().map(str::to_string),
        properties: listed_properties(snapshot),
    })
}

/// One row describing the table now (Delta's `DESCRIBE DETAIL`).
pub async fn detail(url: &Url, name: Option<&str>) -> DeltaResult<RecordBatch> {
    let t = table::open(url, &TimeTravel::Latest).await?;
    let state = t.snapshot()?;
    let meta = serde_json::to_value(state.metadata()).unwrap_or(Value::Null);
    let protocol = serde_json::to_value(state.protocol()).unwrap_or(Value::Null);
    let mut num_files = 0i64;
    let mut size = 0i64;
    for f in state.log_data().iter() {
        num_files += 1;
        size += f.size();
    }
    let last_modified = t
        .history(Some(1))
        .try_collect::<Vec<_>>()
        .await?
        .first()
        .and_then(|c| c.timestamp);
    let strings = |key: &str| -> Vec<String> {
        meta.get(key)
            .and_then(Value::as_array)
            .map(|a| a.iter().map(text).collect())
            .unwrap_or_default()
    };
    let mut partitions = ListBuilder::new(StringBuilder::new());
    for p in strings("partitionColumns") {
        partitions.values().append_value(p);
    }
    partitions.append(true);
    let partitions = Arc::new(partitions.finish()) as ArrayRef;
    let mut clustering = ListBuilder::new(StringBuilder::new());
    for c in crate::clustering::of(state.metadata().configuration()) {
        clustering.values().append_value(c);
    }
    clustering.append(true);
    let clustering = Arc::new(clustering.finish()) as ArrayRef;
    let mut features = ListBuilder::new(StringBuilder::new());
    for f in table_features(&protocol) {
        features.values().append_value(f);
    }
    features.append(true);
    let features = Arc::new(features.finish()) as ArrayRef;
    let properties = string_map(&[string_entries(meta.get("configuration"))]);
    let int = |v: &Value, k: &str| v.get(k).and_then(Value::as_i64).map(|n| n as i32);
    let schema = Schema::new(vec![
        Field::new("format", DataType::Utf8, true),
        Field::new("id", DataType::Utf8, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("description", DataType::Utf8, true),
        Field::new("location", DataType::Utf8, true),
        Field::new("createdAt", utc_micros(), true),
        Field::new("lastModified", utc_micros(), true),
        Field::new("partitionColumns", partitions.data_type().clone(), true),
        Field::new("clusteringColumns", clustering.data_type().clone(), true),
        Field::new("numFiles", DataType::Int64, true),
        Field::new("sizeInBytes", DataType::Int64, true),
        Field::new("properties", map_type(&properties), true),
        Field::new("minReaderVersion", DataType::Int32, true),
        Field::new("minWriterVersion", DataType::Int32, true),
        Field::new("tableFeatures", features.data_type().clone(), true),
    ]);
    let created = meta.get("createdTime").and_then(Value::as_i64);
    Ok(RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(StringArray::from(vec!["delta"])),
            Arc::new(StringArray::from(vec![meta
                .get("id")
                .map(text)
                .unwrap_or_default()])),
            Arc::new(StringArray::from(vec![name.map(str::to_string).or_else(
                || meta.get("name").and_then(Value::as_str).map(str::to_string),
            )])),
            Arc::new(StringArray::from(vec![meta
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_string)])),
            Arc::new(StringArray::from(vec![table::spark_location(url)])),
            Arc::new(
                TimestampMicrosecondArray::from(vec![created.map(|ms| ms * 1000)])
                    .with_timezone("UTC"),
            ),
            Arc::new(
                TimestampMicrosecondArray::from(vec![last_modified.map(|ms| ms * 1000)])
                    .with_timezone("UTC"),
            ),
            partitions,
            clustering,
            Arc::new(Int64Array::from(vec![num_files])),
            Arc::new(Int64Array::from(vec![size])),
            properties,
            Arc::new(Int32Array::from(vec![int(&protocol, "minReaderVersion")])),
            Arc::new(Int32Array::from(vec![int(&protocol, "minWriterVersion")])),
            features,
        ],
    )?)
}
