//! A run's events: streamed to the client as they happen (`PipelineEventResult`), and
//! appended to the pipeline's event log, a Delta table under its storage.
use std::path::Path;
use std::sync::{Arc, Mutex};

use arrow::array::{ArrayRef, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::error::SparkResult;
use crate::session::Session;

#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub timestamp: DateTime<Utc>,
    /// INFO, WARN, ERROR.
    pub level: &'static str,
    /// create_update, update_progress, flow_progress, dataset_definition...
    pub event_type: &'static str,
    pub message: String,
    pub flow: Option<String>,
    pub dataset: Option<String>,
    /// Structured details (row counts, data quality, errors), as JSON.
    pub details: Value,
}

impl Event {
    pub fn new(event_type: &'static str, message: impl Into<String>) -> Event {
        Event {
            id: uuid::Uuid::new_v4().to_string(),
            timestamp: Utc::now(),
            level: "INFO",
            event_type,
            message: message.into(),
            flow: None,
            dataset: None,
            details: Value::Null,
        }
    }
    pub fn level(mut self, level: &'static str) -> Event {
        self.level = level;
        self
    }
    pub fn flow(mut self, flow: &str, dataset: &str) -> Event {
        self.flow = Some(flow.to_string());
        self.dataset = Some(dataset.to_string());
        self
    }
    pub fn details(mut self, details: Value) -> Event {
        self.details = details;
        self
    }
}

/// Where a run's events go: the client (as they happen) and the log (kept for the end).
pub struct Events<'a> {
    send: Box<dyn Fn(&Event) + Send + Sync + 'a>,
    kept: Mutex<Vec<Event>>,
}

impl<'a> Events<'a> {
    pub fn new(send: impl Fn(&Event) + Send + Sync + 'a) -> Self {
        Events {
            send: Box::new(send),
            kept: Mutex::new(vec![]),
        }
    }

    pub fn emit(&self, e: Event) {
        (self.send)(&e);
        if let Ok(mut kept) = self.kept.lock() {
            kept.push(e);
        }
    }

    pub fn take(&self) -> Vec<Event> {
        self.kept
            .lock()
            .map(|mut k| std::mem::take(&mut *k))
            .unwrap_or_default()
    }
}

/// Appends `events` to the event log at `<storage>/_event_log`, one Delta commit.
pub async fn append_log(
    session: &Arc<Session>,
    storage: &Path,
    pipeline: &str,
    update_id: &str,
    events: &[Event],
) -> SparkResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let text = |f: &dyn Fn(&Event) -> Option<String>| -> ArrayRef {
        Arc::new(events.iter().map(f).collect::<StringArray>())
    };
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new(
            "timestamp",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("pipeline_name", DataType::Utf8, true),
        Field::new("update_id", DataType::Utf8, false),
        Field::new("level", DataType::Utf8, false),
        Field::new("event_type", DataType::Utf8, false),
        Field::new("message", DataType::Utf8, false),
        Field::new("flow_name", DataType::Utf8, true),
        Field::new("dataset_name", DataType::Utf8, true),
        Field::new("details", DataType::Utf8, true),
    ]));
    let timestamps = TimestampMicrosecondArray::from(
        events
            .iter()
            .map(|e| e.timestamp.timestamp_micros())
            .collect::<Vec<_>>(),
    )
    .with_timezone("UTC");
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            text(&|e| Some(e.id.clone())),
            Arc::new(timestamps),
            text(&|_| Some(pipeline.to_string())),
            text(&|_| Some(update_id.to_string())),
            text(&|e| Some(e.level.to_string())),
            text(&|e| Some(e.event_type.to_string())),
            text(&|e| Some(e.message.clone())),
            text(&|e| e.flow.clone()),
            text(&|e| e.dataset.clone()),
            text(&|e| (!e.details.is_null()).then(|| e.details.to_string())),
        ],
    )?;
    let plan = crate::streaming::memory_plan(schema, vec![batch])?;
    let spec =
        crate::delta_ops::write_spec(delta_sink::SaveMode::Append, &Default::default(), vec![])?;
    let path = storage.join("_event_log");
    crate::delta_ops::save_path(session, plan, &path.to_string_lossy(), spec).await
}
