//! `format("rate")`: `rowsPerSecond` rows a second of (timestamp, value), for demos and tests.
//! The offset is the number of whole seconds since the query first started (kept in
//! `sources/<n>/start`), so a restarted query goes on counting where it stopped.
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use async_trait::async_trait;
use datafusion::datasource::{provider_as_source, MemTable};
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder};
use planner::{DataSource, PlanError};
use serde_json::{json, Value};

use super::{Kind, Limit, Source, SourceSpec};
use crate::error::{SparkError, SparkResult};
use crate::session::Session;
use crate::streaming::checkpoint;

#[derive(Debug, Clone)]
pub struct RateConfig {
    pub rows_per_second: i64,
}

pub fn resolve(s: DataSource) -> SparkResult<SourceSpec> {
    for k in s.options.keys() {
        if !matches!(k.as_str(), "rowspersecond" | "numpartitions" | "rampuptime") {
            return Err(SparkError::Plan(PlanError::unsupported(format!(
                "the rate source option `{k}`"
            ))));
        }
    }
    if s.options
        .get("rampuptime")
        .is_some_and(|v| !matches!(v.trim(), "0" | "0s"))
    {
        return Err(SparkError::unsupported("the rate source option rampUpTime"));
    }
    let rows_per_second = match s.options.get("rowspersecond") {
        None => 1,
        Some(v) => v
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                SparkError::Plan(PlanError::invalid(format!(
                    "Invalid value '{v}'. The option 'rowsPerSecond' must be positive"
                )))
            })?,
    };
    Ok(SourceSpec {
        kind: Kind::Rate(RateConfig { rows_per_second }),
        schema: schema(),
        description: format!("RateStreamV2[rowsPerSecond={rows_per_second}, rampUpTimeSeconds=0, numPartitions=default"),
    })
}

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(
            "timestamp",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new("value", DataType::Int64, true),
    ]))
}

pub struct RateSource {
    config: RateConfig,
    schema: SchemaRef,
    description: String,
    dir: PathBuf,
    start_ms: i64,
}

impl RateSource {
    pub fn new(config: RateConfig, spec: &SourceSpec, dir: PathBuf) -> RateSource {
        RateSource {
            config,
            schema: spec.schema.clone(),
            description: spec.description.clone(),
            dir,
            start_ms: 0,
        }
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn seconds(v: Option<&Value>) -> i64 {
    v.and_then(Value::as_i64).unwrap_or(0)
}

#[async_trait]
impl Source for RateSource {
    fn description(&self) -> &str {
        &self.description
    }

    fn schema(&self) -> arrow::datatypes::SchemaRef {
        self.schema.clone()
    }

    async fn restore(&mut self, _last: Option<&Value>) -> SparkResult<()> {
        let path = self.dir.join("start");
        self.start_ms = match std::fs::read_to_string(&path) {
            Ok(t) => t.trim().parse().unwrap_or_else(|_| now_ms()),
            Err(_) => {
                let now = now_ms();
                checkpoint::write_atomic(&path, &now.to_string())?;
                now
            }
        };
        Ok(())
    }

    async fn freeze(&mut self) -> SparkResult<()> {
        Ok(())
    }

    async fn next(
        &mut self,
        _batch: i64,
        start: Option<&Value>,
        _limit: Limit,
    ) -> SparkResult<Option<Value>> {
        let elapsed = (now_ms() - self.start_ms) / 1000;
        Ok((elapsed > seconds(start)).then(|| json!(elapsed)))
    }

    async fn plan(
        &self,
        _session: &Session,
        start: Option<&Value>,
        end: &Value,
    ) -> SparkResult<LogicalPlan> {
        let rps = self.config.rows_per_second;
        let (from, to) = (seconds(start) * rps, seconds(Some(end)) * rps);
        let values: Vec<i64> = (from..to).collect();
        let times: Vec<i64> = values
            .iter()
            .map(|v| (self.start_ms * 1000) + v * 1_000_000 / rps)
            .collect();
        let batch = RecordBatch::try_new(
            self.schema.clone(),
            vec![
                Arc::new(TimestampMicrosecondArray::from(times).with_timezone("UTC")),
                Arc::new(Int64Array::from(values)),
            ],
        )?;
        let table = MemTable::try_new(self.schema.clone(), vec![vec![batch]])?;
        Ok(LogicalPlanBuilder::scan("rate", provider_as_source(Arc::new(table)), None)?.build()?)
    }
}
