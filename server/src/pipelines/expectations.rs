//! Expectations: each rule is checked on every row a flow writes. A failing row is counted
//! (warn), removed (drop) or stops the update (fail). A rule whose condition is NULL for a
//! row fails for it, as a WHERE clause would.
use std::sync::{Arc, Mutex};

use arrow::array::{Array, BooleanArray, RecordBatch};
use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::logical_expr::{lit, LogicalPlan};
use datafusion::prelude::DataFrame;
use serde_json::{json, Value};

use super::graph::{Action, Expectation};
use crate::error::{SparkError, SparkResult};
use crate::execute::{spark_schema, to_spark_batch};
use crate::session::Session;
use crate::streaming::BatchHook;

const COLUMN: &str = "__sluice_expectation_";

/// Rows that passed and failed one rule, over every batch of a flow's update.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub passed: u64,
    pub failed: u64,
}

/// A flow's rules and what they found; runs each batch's plan (a [`BatchHook`]).
pub struct Checks {
    pub flow: String,
    pub dataset: String,
    pub rules: Vec<Expectation>,
    /// The output's declared schema, which every row written must fit.
    schema: Option<arrow::datatypes::DataType>,
    counts: Mutex<Vec<Counts>>,
    dropped: Mutex<u64>,
    written: Mutex<u64>,
}

impl Checks {
    pub fn new(
        flow: String,
        dataset: String,
        rules: Vec<Expectation>,
        schema: Option<arrow::datatypes::DataType>,
    ) -> Arc<Checks> {
        let n = rules.len();
        Arc::new(Checks {
            flow,
            dataset,
            rules,
            schema,
            counts: Mutex::new(vec![Counts::default(); n]),
            dropped: Mutex::new(0),
            written: Mutex::new(0),
        })
    }

    pub fn rows_written(&self) -> u64 {
        self.written.lock().map(|w| *w).unwrap_or(0)
    }

    /// DLT's `data_quality` details: dropped rows and each rule's counts.
    pub fn data_quality(&self) -> Value {
        let counts = self.counts.lock().map(|c| c.clone()).unwrap_or_default();
        let dropped = self.dropped.lock().map(|d| *d).unwrap_or(0);
        json!({
            "dropped_records": dropped,
            "expectations": self.rules.iter().zip(counts).map(|(r, c)| json!({
                "name": r.name,
                "dataset": self.dataset,
                "action": r.action.name(),
                "passed_records": c.passed,
                "failed_records": c.failed,
            })).collect::<Vec<_>>(),
        })
    }

    fn violation(&self, rule: &Expectation, batch: &RecordBatch, row: usize) -> SparkError {
        let example = row_json(batch, row);
        SparkError::Plan(planner::PlanError::analysis(format!(
            "[EXPECTATION_VIOLATION.VERBOSITY_ALL] Flow '{}' failed to meet the expectation. Violated expectations: '{}' ({}). Input data: '{}'.",
            self.flow, rule.name, rule.condition, example
        )))
    }
}

impl Checks {
    /// Rows in the declared schema: its columns, by name, cast to its types.
    fn conform(
        &self,
        declared: &arrow::datatypes::DataType,
        data: Vec<RecordBatch>,
    ) -> SparkResult<(SchemaRef, Vec<RecordBatch>)> {
        let arrow::datatypes::DataType::Struct(fields) = declared else {
            return Err(SparkError::invalid("A table schema must be a struct type"));
        };
        let schema = Arc::new(arrow::datatypes::Schema::new(fields.clone()));
        let schema = spark_schema(&schema);
        let missing = |name: &str| {
            SparkError::Plan(planner::PlanError::analysis(format!(
                "[DELTA_COLUMN_NOT_FOUND_IN_QUERY] The query of {} does not produce the column `{name}` of the table's declared schema.",
                self.dataset
            )))
        };
        let out = data
            .iter()
            .map(|b| super::by_name(b, &schema, &missing))
            .collect::<SparkResult<Vec<_>>>()?;
        Ok((schema, out))
    }
}

/// One row as JSON text (for the message of a failed expectation).
fn row_json(batch: &RecordBatch, row: usize) -> String {
    let one = batch.slice(row, 1);
    let mut buf = Vec::new();
    {
        let mut w = arrow::json::LineDelimitedWriter::new(&mut buf);
        if w.write(&one).is_err() || w.finish().is_err() {
            return String::from("?");
        }
    }
    String::from_utf8_lossy(&buf).trim().to_string()
}

#[async_trait]
impl BatchHook for Checks {
    async fn run(
        &self,
        session: &Session,
        plan: LogicalPlan,
    ) -> SparkResult<(SchemaRef, Vec<RecordBatch>)> {
        let mut df = DataFrame::new(session.ctx.state(), plan);
        let width = df.schema().fields().len();
        for (i, rule) in self.rules.iter().enumerate() {
            let cond = df.parse_sql_expr(&rule.condition).map_err(|e| {
                SparkError::Plan(planner::PlanError::analysis(format!(
                    "Expectation '{}' of {} has an invalid condition ({}): {e}",
                    rule.name, self.dataset, rule.condition
                )))
            })?;
            // NULL counts as a failure, as in a WHERE clause.
            let check = datafusion::functions::expr_fn::coalesce(vec![cond, lit(false)]);
            df = df.with_column(&format!("{COLUMN}{i}"), check)?;
        }
        let full_schema = df.schema().clone();
        let batches = df.collect().await?;
        let schema = spark_schema(&arrow::datatypes::Schema::new(
            full_schema.fields()[..width].to_vec(),
        ));
        let mut counts = vec![Counts::default(); self.rules.len()];
        let mut dropped = 0u64;
        let mut data = vec![];
        for batch in &batches {
            let mut keep = BooleanArray::from(vec![true; batch.num_rows()]);
            for (i, rule) in self.rules.iter().enumerate() {
                let column = batch.column(width + i);
                let Some(pass) = column.as_any().downcast_ref::<BooleanArray>() else {
                    return Err(SparkError::Plan(planner::PlanError::analysis(format!(
                        "Expectation '{}' must be a boolean condition, not {}",
                        rule.name,
                        column.data_type()
                    ))));
                };
                let passed = pass.true_count() as u64;
                counts[i].passed += passed;
                counts[i].failed += batch.num_rows() as u64 - passed;
                match rule.action {
                    Action::Warn => {}
                    Action::Drop => keep = arrow::compute::and(&keep, pass)?,
                    Action::Fail => {
                        if let Some(row) = (0..pass.len()).find(|&r| !pass.value(r)) {
                            let shown = batch.project(&(0..width).collect::<Vec<_>>())?;
                            return Err(self.violation(rule, &shown, row));
                        }
                    }
                }
            }
            let projected = batch.project(&(0..width).collect::<Vec<_>>())?;
            let filtered = arrow::compute::filter_record_batch(&projected, &keep)?;
            dropped += (projected.num_rows() - filtered.num_rows()) as u64;
            data.push(to_spark_batch(&filtered, &schema)?);
        }
        if let Ok(mut c) = self.counts.lock() {
            for (total, new) in c.iter_mut().zip(&counts) {
                total.passed += new.passed;
                total.failed += new.failed;
            }
        }
        if let Ok(mut d) = self.dropped.lock() {
            *d += dropped;
        }
        let (schema, data) = match &self.schema {
            Some(declared) => self.conform(declared, data)?,
            None => (schema, data),
        };
        let rows: u64 = data.iter().map(|b| b.num_rows() as u64).sum();
        if let Ok(mut w) = self.written.lock() {
            *w += rows;
        }
        Ok((schema, data))
    }
}
