//! Streaming deduplication (Spark's StreamingDeduplicateExec and, for
//! `dropDuplicatesWithinWatermark`, StreamingDeduplicateWithinWatermarkExec): a row is emitted
//! the first time its key is seen, in this batch or any before it. The keys seen are the
//! state (`state/<operator>/<batch>.arrow`), each with the time after which it may be
//! forgotten:
//! - `dropDuplicates` with the watermark column among the keys: the key's event time;
//! - `dropDuplicatesWithinWatermark`: the event time of its first row plus the delay;
//! - otherwise never (the state grows with the number of distinct keys).
//!
//! As in Spark, a row whose event time is at or before the previous batch's watermark is
//! late and dropped, and keys whose time is at or before this batch's watermark are
//! evicted once the batch's rows are processed. Within one batch the first row of a key in
//! reading order is kept.
use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::row::{OwnedRow, RowConverter, SortField};
use datafusion::common::Column;
use datafusion::logical_expr::{col, Distinct, Expr, LogicalPlan, LogicalPlanBuilder};
use datafusion::prelude::DataFrame;
use planner::PlanError;

use super::progress::StateReport;
use super::sink::memory_plan;
use super::source::streaming_leaves;
use super::state::{find_column, finish, nullable, EventClock, Watermark};
use super::store::StateStore;
use crate::error::{SparkError, SparkResult};
use crate::session::Session;

/// The state's column with each key's eviction time (ms since the epoch, null: never).
const EXPIRES: &str = "__expires";

pub struct Dedup {
    store: StateStore,
    /// Where the `Distinct` is in each batch's plan ([`dedup_path`]).
    path: Vec<usize>,
    within_watermark: bool,
    clock: EventClock,
}

/// Where the streaming deduplication of a plan is: the child indexes from the root down to
/// the first `Distinct` over a streaming input. A batch's plan has the same shape above its
/// leaves (the leaves are that batch's slices), so the path finds the node there too.
pub fn dedup_path(plan: &LogicalPlan) -> Option<Vec<usize>> {
    if matches!(plan, LogicalPlan::Distinct(_)) && !streaming_leaves(plan).is_empty() {
        return Some(vec![]);
    }
    plan.inputs().iter().enumerate().find_map(|(i, child)| {
        dedup_path(child).map(|mut p| {
            p.insert(0, i);
            p
        })
    })
}

fn node_at<'a>(plan: &'a LogicalPlan, path: &[usize]) -> Option<&'a LogicalPlan> {
    match path.split_first() {
        None => Some(plan),
        Some((i, rest)) => plan.inputs().get(*i).and_then(|c| node_at(c, rest)),
    }
}

/// `plan` with the node at `path` replaced by `new` (the nodes above get their schemas again).
fn replace_at(plan: &LogicalPlan, path: &[usize], new: LogicalPlan) -> SparkResult<LogicalPlan> {
    let Some((i, rest)) = path.split_first() else {
        return Ok(new);
    };
    let mut inputs: Vec<LogicalPlan> = plan.inputs().into_iter().cloned().collect();
    let child = inputs.get(*i).ok_or_else(lost)?;
    inputs[*i] = replace_at(child, rest, new)?;
    Ok(plan.with_new_exprs(plan.expressions(), inputs)?)
}

fn lost() -> SparkError {
    SparkError::Plan(PlanError::analysis(
        "a streaming deduplication is no longer where the query had it",
    ))
}

/// What one batch's rows did to the state.
#[derive(Default)]
struct Counts {
    late: usize,
    duplicates: usize,
    inserted: usize,
    evicted: usize,
}

impl Dedup {
    pub fn new(
        dir: std::path::PathBuf,
        path: Vec<usize>,
        watermark: Option<Watermark>,
        within_watermark: bool,
    ) -> Dedup {
        Dedup {
            store: StateStore::new(dir),
            path,
            within_watermark,
            clock: EventClock::new(watermark),
        }
    }

    pub fn watermark_delay(&self) -> Option<i64> {
        self.clock.delay_ms()
    }

    pub fn next_watermark(&self, current: i64) -> i64 {
        self.clock.next_watermark(current)
    }

    /// Spark runs a batch without new data whenever the watermark would move, so that
    /// state it has passed is evicted before more rows come.
    pub fn needs_no_data_batch(&self, current: i64) -> bool {
        self.clock.watermark.is_some() && self.next_watermark(current) > current
    }

    pub fn commit(&mut self, batch: i64) -> SparkResult<()> {
        self.store.commit(batch)
    }

    fn operator(&self) -> &'static str {
        if self.within_watermark {
            "dedupeWithinWatermark"
        } else {
            "dedupe"
        }
    }

    /// Replaces the plan's deduplication by this batch's first-seen rows. `late_ms` is the
    /// previous batch's watermark (rows at or before it are late), `evict_ms` this batch's.
    pub async fn apply(
        &mut self,
        session: &Session,
        plan: LogicalPlan,
        batch: i64,
        late_ms: i64,
        evict_ms: i64,
    ) -> SparkResult<(LogicalPlan, StateReport)> {
        let started = std::time::Instant::now();
        let distinct = match node_at(&plan, &self.path) {
            Some(LogicalPlan::Distinct(d)) => d.clone(),
            _ => return Err(lost()),
        };
        let (input, keys, outputs) = match &distinct {
            Distinct::All(input) => {
                let columns = columns_of(input);
                (input.clone(), columns.clone(), columns)
            }
            Distinct::On(on) if on.sort_expr.is_some() => {
                return Err(SparkError::unsupported(
                    "DISTINCT ON ... ORDER BY on a streaming query",
                ))
            }
            Distinct::On(on) => (on.input.clone(), on.on_expr.clone(), on.select_expr.clone()),
        };
        let event = self
            .clock
            .watermark
            .as_ref()
            .and_then(|w| find_column(input.schema(), &w.column));
        // Whether the event time is one of the keys (then a key expires with its time).
        let keyed_by_event = event.as_ref().is_some_and(|c| {
            keys.iter()
                .any(|k| k.column_refs().iter().any(|r| r.name == c.name))
        });
        // One projection: the output columns, the key columns, the event time.
        let mut exprs: Vec<Expr> = vec![];
        for (i, e) in outputs.iter().enumerate() {
            exprs.push(e.clone().alias(format!("__c{i}")));
        }
        for (i, e) in keys.iter().enumerate() {
            exprs.push(e.clone().alias(format!("__k{i}")));
        }
        if let Some(c) = &event {
            exprs.push(Expr::Column(c.clone()).alias("__t"));
        }
        let projected = LogicalPlanBuilder::from(input.as_ref().clone())
            .project(exprs)?
            .build()?;
        let (schema, rows) = collect_in_order(session, projected).await?;
        let n_out = outputs.len();
        let key_range = n_out..n_out + keys.len();
        let key_schema = Arc::new(nullable(&Schema::new(
            key_range
                .clone()
                .map(|i| schema.field(i).clone())
                .chain([Field::new(EXPIRES, DataType::Int64, true)])
                .collect::<Vec<_>>(),
        )));
        let converter = RowConverter::new(
            key_range
                .clone()
                .map(|i| SortField::new(schema.field(i).data_type().clone()))
                .collect(),
        )?;

        // The keys of the state before this batch.
        let prior = self.store.load(batch)?;
        let prior_rows = match prior {
            Some((stored, rows)) => {
                self.check_state(&stored, &key_schema)?;
                rows.into_iter()
                    .map(|r| {
                        Ok(RecordBatch::try_new(
                            key_schema.clone(),
                            r.columns().to_vec(),
                        )?)
                    })
                    .collect::<SparkResult<Vec<_>>>()?
            }
            None => vec![],
        };
        let nkeys = keys.len();
        let mut seen: HashSet<OwnedRow> = HashSet::new();
        for r in &prior_rows {
            let encoded = converter.convert_columns(&r.columns()[..nkeys])?;
            seen.extend(encoded.iter().map(|row| row.owned()));
        }

        // This batch's rows, in reading order.
        let delay = self.clock.delay_ms().unwrap_or(0);
        let mut counts = Counts::default();
        let mut emitted = vec![];
        let mut inserted = vec![];
        for b in &rows {
            let times = match &event {
                Some(_) => Some(event_ms(b.column(b.num_columns() - 1))?),
                None => None,
            };
            let encoded = converter.convert_columns(&b.columns()[key_range.clone()])?;
            let mut keep = Vec::with_capacity(b.num_rows());
            let mut expires = vec![];
            for (r, key) in encoded.iter().enumerate() {
                let t = times
                    .as_ref()
                    .and_then(|t| t.is_valid(r).then(|| t.value(r)));
                if let Some(t) = t {
                    self.clock.observe(Some(t));
                    if t <= late_ms {
                        counts.late += 1;
                        keep.push(false);
                        continue;
                    }
                }
                if !seen.insert(key.owned()) {
                    counts.duplicates += 1;
                    keep.push(false);
                    continue;
                }
                keep.push(true);
                expires.push(match (self.within_watermark, keyed_by_event) {
                    (true, _) => t.map(|t| t + delay),
                    (false, true) => t,
                    (false, false) => None,
                });
            }
            let mask = BooleanArray::from(keep);
            let kept = arrow::compute::filter_record_batch(b, &mask)?;
            counts.inserted += kept.num_rows();
            let mut key_columns: Vec<ArrayRef> = kept.columns()[key_range.clone()].to_vec();
            key_columns.push(Arc::new(Int64Array::from(expires)));
            inserted.push(RecordBatch::try_new(key_schema.clone(), key_columns)?);
            emitted.push(kept.project(&(0..n_out).collect::<Vec<_>>())?);
        }

        // Keys this batch's watermark has passed are forgotten.
        let mut state = vec![];
        for r in prior_rows.into_iter().chain(inserted) {
            let expires = r
                .column(nkeys)
                .as_any()
                .downcast_ref::<Int64Array>()
                .ok_or_else(|| self.mismatch("the expiry column is not a bigint"))?;
            let live: BooleanArray = expires
                .iter()
                .map(|e| Some(e.is_none_or(|e| e > evict_ms)))
                .collect();
            let kept = arrow::compute::filter_record_batch(&r, &live)?;
            counts.evicted += r.num_rows() - kept.num_rows();
            if kept.num_rows() > 0 {
                state.push(kept);
            }
        }
        let total: usize = state.iter().map(|b| b.num_rows()).sum();
        self.store.save(batch, key_schema, state)?;

        // The deduplication's output: the emitted rows under its own names.
        let out_schema = Arc::new(Schema::new(
            (0..n_out)
                .map(|i| schema.field(i).clone())
                .collect::<Vec<_>>(),
        ));
        let emitted = emitted
            .into_iter()
            .map(|b| {
                Ok(RecordBatch::try_new(
                    out_schema.clone(),
                    b.columns().to_vec(),
                )?)
            })
            .collect::<SparkResult<Vec<_>>>()?;
        let names = LogicalPlan::Distinct(distinct).schema().clone();
        let back: Vec<Expr> = (0..n_out)
            .map(|i| {
                let (q, f) = names.qualified_field(i);
                finish(col(format!("__c{i}")), f, q)
            })
            .collect();
        let replacement = LogicalPlanBuilder::from(memory_plan(out_schema, emitted)?)
            .project(back)?
            .build()?;
        let out = replace_at(&plan, &self.path, replacement)?;
        Ok((
            out,
            StateReport {
                operator: self.operator(),
                rows_total: total as u64,
                rows_updated: counts.inserted as u64,
                rows_removed: counts.evicted as u64,
                dropped_by_watermark: counts.late as u64,
                commit_ms: started.elapsed().as_millis() as u64,
                custom: vec![("numDroppedDuplicateRows", counts.duplicates as u64)],
            },
        ))
    }

    /// The stored state must have this query's key columns.
    fn check_state(&self, stored: &Schema, expected: &Schema) -> SparkResult<()> {
        let types = |s: &Schema| {
            s.fields()
                .iter()
                .map(|f| f.data_type().clone())
                .collect::<Vec<_>>()
        };
        if types(stored) != types(expected) {
            return Err(self.mismatch(&format!(
                "it has keys {:?}, the query {:?}",
                types(stored),
                types(expected)
            )));
        }
        Ok(())
    }

    fn mismatch(&self, detail: &str) -> SparkError {
        SparkError::Plan(PlanError::analysis(format!(
            "[STATE_STORE_KEY_SCHEMA_NOT_COMPATIBLE] The deduplication state in {} does not match this query ({detail}). Use a new checkpoint location.",
            self.store.dir().display()
        )))
    }
}

/// Every column of a plan, by qualified name.
fn columns_of(plan: &LogicalPlan) -> Vec<Expr> {
    plan.schema()
        .iter()
        .map(|(q, f)| Expr::Column(Column::new(q.cloned(), f.name())))
        .collect()
}

/// Runs a plan on one partition and returns its rows in the order they were read, so that
/// "the first row of a key" is the same every time the batch runs.
async fn collect_in_order(
    session: &Session,
    plan: LogicalPlan,
) -> SparkResult<(SchemaRef, Vec<RecordBatch>)> {
    let mut state = session.ctx.state();
    state.config_mut().options_mut().execution.target_partitions = 1;
    let df = DataFrame::new(state, plan);
    let schema = Arc::new(df.schema().as_arrow().clone());
    let rows = df
        .collect_partitioned()
        .await?
        .into_iter()
        .flatten()
        .collect();
    Ok((schema, rows))
}

/// An event-time column as milliseconds since the epoch.
fn event_ms(column: &ArrayRef) -> SparkResult<Int64Array> {
    let micros = arrow::compute::cast(column, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
    let micros = arrow::compute::cast(&micros, &DataType::Int64)?;
    let micros = micros
        .as_any()
        .downcast_ref::<Int64Array>()
        .ok_or_else(|| SparkError::invalid("an event time that is not a timestamp"))?;
    Ok(micros
        .iter()
        .map(|m| m.map(|m| m.div_euclid(1000)))
        .collect())
}
