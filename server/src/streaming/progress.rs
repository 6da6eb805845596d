//! Spark's StreamingQueryProgress JSON, one per batch, with every key PySpark parses.
use serde_json::{json, Map, Value};

use super::query::QueryHandle;

pub struct SourceReport {
    pub description: String,
    pub start: Option<Value>,
    pub end: Option<Value>,
    pub rows: u64,
    pub metrics: Map<String, Value>,
}

#[derive(Debug, Default, Clone)]
pub struct StateReport {
    /// Spark's short name of the operator (`stateStoreSave`, `dedupe`, ...).
    pub operator: &'static str,
    pub rows_total: u64,
    pub rows_updated: u64,
    pub rows_removed: u64,
    pub dropped_by_watermark: u64,
    pub commit_ms: u64,
    /// The operator's own counters (`customMetrics`).
    pub custom: Vec<(&'static str, u64)>,
}

pub struct BatchReport {
    pub batch_id: i64,
    pub started_ms: i64,
    pub duration_ms: u64,
    pub get_batch_ms: u64,
    pub planning_ms: u64,
    pub add_batch_ms: u64,
    pub commit_ms: u64,
    pub sources: Vec<SourceReport>,
    pub sink: String,
    pub output_rows: u64,
    pub watermark_ms: Option<i64>,
    /// Each stateful operator, top of the plan first (as Spark lists them).
    pub state: Vec<StateReport>,
}

/// Rows per second over `ms` milliseconds (0 when no time passed, as Spark reports NaN-free).
fn rate(rows: u64, ms: u64) -> f64 {
    if ms == 0 {
        0.0
    } else {
        rows as f64 * 1000.0 / ms as f64
    }
}

pub fn iso_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

impl BatchReport {
    pub fn json(&self, q: &QueryHandle) -> String {
        let input: u64 = self.sources.iter().map(|s| s.rows).sum();
        let sources: Vec<Value> = self
            .sources
            .iter()
            .map(|s| {
                let mut v = json!({
                    "description": s.description,
                    "startOffset": s.start,
                    "endOffset": s.end,
                    "latestOffset": s.end,
                    "numInputRows": s.rows,
                    "inputRowsPerSecond": 0.0,
                    "processedRowsPerSecond": rate(s.rows, self.duration_ms),
                });
                if !s.metrics.is_empty() {
                    v["metrics"] = Value::Object(s.metrics.clone());
                }
                v
            })
            .collect();
        let state: Vec<Value> = self
            .state
            .iter()
            .map(|s| {
                let custom: Map<String, Value> = s
                    .custom
                    .iter()
                    .map(|(k, v)| (k.to_string(), json!(v)))
                    .collect();
                json!({
                    "operatorName": s.operator,
                    "numRowsTotal": s.rows_total,
                    "numRowsUpdated": s.rows_updated,
                    "allUpdatesTimeMs": s.commit_ms,
                    "numRowsRemoved": s.rows_removed,
                    "allRemovalsTimeMs": 0,
                    "commitTimeMs": s.commit_ms,
                    "memoryUsedBytes": 0,
                    "numRowsDroppedByWatermark": s.dropped_by_watermark,
                    "numShufflePartitions": 1,
                    "numStateStoreInstances": 1,
                    "customMetrics": custom,
                })
            })
            .collect();
        let mut v = json!({
            "id": q.id,
            "runId": q.run_id,
            "name": q.name,
            "timestamp": iso_ms(self.started_ms),
            "batchId": self.batch_id,
            "batchDuration": self.duration_ms,
            "numInputRows": input,
            "inputRowsPerSecond": 0.0,
            "processedRowsPerSecond": rate(input, self.duration_ms),
            "durationMs": {
                "addBatch": self.add_batch_ms,
                "getBatch": self.get_batch_ms,
                "latestOffset": 0,
                "queryPlanning": self.planning_ms,
                "triggerExecution": self.duration_ms,
                "commitOffsets": self.commit_ms,
                "walCommit": 0,
            },
            "stateOperators": state,
            "sources": sources,
            "sink": {"description": self.sink, "numOutputRows": self.output_rows},
        });
        if let Some(w) = self.watermark_ms {
            v["eventTime"] = json!({ "watermark": iso_ms(w) });
        }
        v.to_string()
    }
}
