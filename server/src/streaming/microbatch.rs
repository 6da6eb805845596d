//! The micro-batch loop of one query: choose each source's next end offset, log it in
//! `offsets/<n>`, plan the query over exactly those slices, write the result to the sink as
//! one commit, then log `commits/<n>`. A restart re-runs a batch whose offsets were logged
//! but not committed, with the same offsets (the sinks make the replay harmless).
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::DataFrame;
use proto::connect::Relation;
use serde_json::Value;

use super::checkpoint::{Checkpoint, OffsetSeq};
use super::dedup::Dedup;
use super::progress::{BatchReport, SourceReport};
use super::query::QueryHandle;
use super::sink::{OutputMode, Sink};
use super::source::{Limit, Source};
use super::state::Stateful;
use crate::error::{SparkError, SparkResult};
use crate::execute::{spark_schema, to_spark_batch};
use crate::session::Session;

/// Poll interval of an idle query on the default trigger.
const IDLE_POLL: Duration = Duration::from_millis(50);

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Trigger {
    /// Next batch when the previous ends (Spark's default), or every interval.
    ProcessingTime(Duration),
    Once,
    AvailableNow,
}

pub struct Query {
    pub session: Arc<Session>,
    pub handle: Arc<QueryHandle>,
    pub relation: Relation,
    pub sources: Vec<Box<dyn Source>>,
    pub sink: Sink,
    pub mode: OutputMode,
    pub trigger: Trigger,
    pub checkpoint: Checkpoint,
    /// The streaming aggregation's state.
    pub stateful: Option<Stateful>,
    /// The streaming deduplication's state (it runs before the aggregation).
    pub dedup: Option<Dedup>,
    pub scope: Option<Arc<dyn super::FlowScope>>,
    pub hook: Option<Arc<dyn BatchHook>>,
}

/// Runs one batch's final plan into rows, in place of a plain collect: a pipeline checks its
/// expectations here (counting, dropping or failing rows).
#[async_trait::async_trait]
pub trait BatchHook: Send + Sync {
    async fn run(
        &self,
        session: &Session,
        plan: LogicalPlan,
    ) -> SparkResult<(arrow::datatypes::SchemaRef, Vec<RecordBatch>)>;
}

impl Query {
    /// Runs until the trigger says stop, `stop()` is called, or a batch fails.
    pub async fn run(mut self) -> SparkResult<()> {
        let (mut next_batch, mut ends, mut watermark, mut previous) = self.restore().await?;
        if self.trigger == Trigger::AvailableNow {
            for s in &mut self.sources {
                s.freeze().await?;
            }
        }
        let mut ran_once = false;
        loop {
            if self.handle.stop_requested() {
                return Ok(());
            }
            let started = Instant::now();
            let requests = self.handle.requests();
            self.handle
                .set_status("Getting offsets from sources", false, true);
            let limit = if self.trigger == Trigger::Once {
                Limit::All
            } else {
                Limit::Trigger
            };
            let mut next = ends.clone();
            let mut new_data = false;
            for (i, s) in self.sources.iter_mut().enumerate() {
                if let Some(end) = s.next(next_batch, ends[i].as_ref(), limit).await? {
                    next[i] = Some(end);
                    new_data = true;
                }
            }
            let no_data_batch = !new_data && self.needs_no_data_batch(watermark);
            if new_data || no_data_batch {
                let batch_watermark = self.next_watermark(watermark);
                let seq = OffsetSeq {
                    watermark_ms: batch_watermark,
                    timestamp_ms: chrono::Utc::now().timestamp_millis(),
                    offsets: next.clone(),
                };
                self.checkpoint.write_offsets(next_batch, &seq)?;
                watermark = batch_watermark;
                self.run_batch(next_batch, &ends, &seq, previous, started)
                    .await?;
                previous = batch_watermark;
                ends = next;
                next_batch += 1;
                ran_once = true;
                if self.trigger == Trigger::Once && !self.needs_no_data_batch(watermark) {
                    return Ok(());
                }
                if let Trigger::ProcessingTime(d) = self.trigger {
                    self.wait(started, d).await;
                }
                continue;
            }
            self.handle.mark_drained(requests);
            match self.trigger {
                Trigger::Once | Trigger::AvailableNow => {
                    let _ = ran_once;
                    return Ok(());
                }
                Trigger::ProcessingTime(d) => {
                    self.handle
                        .set_status("Waiting for data to arrive", false, false);
                    self.wait(started, d.max(IDLE_POLL)).await;
                }
            }
        }
    }

    /// The watermark after a batch that ran with `current` (the latest event time any
    /// stateful operator saw, less the delay).
    fn next_watermark(&self, current: i64) -> i64 {
        let aggregate = self
            .stateful
            .as_ref()
            .map_or(current, |s| s.next_watermark(current));
        let dedup = self
            .dedup
            .as_ref()
            .map_or(current, |d| d.next_watermark(current));
        aggregate.max(dedup)
    }

    fn needs_no_data_batch(&self, current: i64) -> bool {
        self.stateful
            .as_ref()
            .is_some_and(|s| s.needs_no_data_batch(current))
            || self
                .dedup
                .as_ref()
                .is_some_and(|d| d.needs_no_data_batch(current))
    }

    fn watermark_delay(&self) -> Option<i64> {
        self.stateful
            .as_ref()
            .and_then(|s| s.watermark_delay())
            .or_else(|| self.dedup.as_ref().and_then(|d| d.watermark_delay()))
    }

    /// Sleeps until `interval` after `since`, or until woken (stop, processAllAvailable).
    async fn wait(&self, since: Instant, interval: Duration) {
        let left = interval.saturating_sub(since.elapsed());
        if left.is_zero() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(left) => {}
            _ = self.handle.wake.notified() => {}
        }
    }

    /// Where the checkpoint left off: the next batch id, each source's committed end offset,
    /// the watermark and the watermark the last batch ran with; re-runs the logged batch that
    /// did not commit.
    async fn restore(&mut self) -> SparkResult<(i64, Vec<Option<Value>>, i64, i64)> {
        let n = self.sources.len();
        let last = self.checkpoint.latest_offsets()?;
        let committed = self.checkpoint.latest_commit()?;
        for (i, s) in self.sources.iter_mut().enumerate() {
            let end = last
                .as_ref()
                .and_then(|(_, seq)| seq.offsets.get(i).cloned().flatten());
            s.restore(end.as_ref()).await?;
        }
        let Some((id, seq)) = last else {
            return Ok((0, vec![None; n], 0, 0));
        };
        if seq.offsets.len() != n {
            return Err(SparkError::Plan(planner::PlanError::analysis(format!(
                "The checkpoint {} belongs to a query with {} sources; this query has {n}. Use a new checkpoint location.",
                self.checkpoint.root().display(),
                seq.offsets.len()
            ))));
        }
        let before = if id > 0
            && self
                .checkpoint
                .root()
                .join("offsets")
                .join((id - 1).to_string())
                .exists()
        {
            Some(self.checkpoint.offsets(id - 1)?)
        } else {
            None
        };
        let (previous, previous_watermark) = match before {
            Some(b) => (b.offsets, b.watermark_ms),
            None => (vec![None; n], 0),
        };
        let watermark = seq.watermark_ms;
        if committed.is_none_or(|c| c < id) {
            // Logged but not committed: run it again with the same offsets (and state).
            self.run_batch(id, &previous, &seq, previous_watermark, Instant::now())
                .await?;
        }
        let watermark = match self.checkpoint.latest_commit()? {
            Some(c) => self.checkpoint.committed_watermark(c).unwrap_or(watermark),
            None => watermark,
        };
        Ok((id + 1, seq.offsets, watermark, seq.watermark_ms))
    }

    async fn run_batch(
        &mut self,
        batch_id: i64,
        starts: &[Option<Value>],
        seq: &OffsetSeq,
        previous_watermark: i64,
        started: Instant,
    ) -> SparkResult<()> {
        self.handle.set_status("Processing new data", true, true);
        let session = self.session.clone();
        // Each source's slice, read once into memory: counted, and stable for the batch.
        let get_batch = Instant::now();
        let mut plans = std::collections::VecDeque::new();
        let mut reports = vec![];
        for (i, s) in self.sources.iter().enumerate() {
            let (rows, plan) = match &seq.offsets[i] {
                Some(end) if starts[i].as_ref() != Some(end) => {
                    let plan = s.plan(&session, starts[i].as_ref(), end).await?;
                    materialise(&session, plan).await?
                }
                _ => (0, super::source::empty(&s.schema())?),
            };
            reports.push(SourceReport {
                description: s.description().to_string(),
                start: starts[i].clone(),
                end: seq.offsets[i].clone(),
                rows,
                metrics: s.metrics(),
            });
            plans.push_back(plan);
        }
        let get_batch_ms = get_batch.elapsed().as_millis() as u64;
        let planning = Instant::now();
        let mut plan =
            super::plan_batch(&session, &self.relation, plans, self.scope.clone()).await?;
        let planning_ms = planning.elapsed().as_millis() as u64;
        let add_batch = Instant::now();
        // Operators bottom up: the deduplication feeds the aggregation. Spark lists them top
        // down in the progress.
        let mut state_reports = vec![];
        if let Some(d) = &mut self.dedup {
            let (p, report) = d
                .apply(
                    &session,
                    plan,
                    batch_id,
                    previous_watermark,
                    seq.watermark_ms,
                )
                .await?;
            plan = p;
            state_reports.push(report);
        }
        if let Some(st) = &mut self.stateful {
            let (p, report) = st.apply(&session, plan, batch_id, seq.watermark_ms).await?;
            plan = p;
            state_reports.insert(0, report);
        }
        let (schema, data) = match &self.hook {
            Some(hook) => hook.run(&session, plan).await?,
            None => collect(&session, plan).await?,
        };
        let output_rows: usize = data.iter().map(|b| b.num_rows()).sum();
        self.sink
            .add_batch(&session, &self.handle.id, batch_id, schema, data, self.mode)
            .await?;
        if let Some(st) = &mut self.stateful {
            st.commit(batch_id)?;
        }
        if let Some(d) = &mut self.dedup {
            d.commit(batch_id)?;
        }
        let add_batch_ms = add_batch.elapsed().as_millis() as u64;
        let commit = Instant::now();
        let next_watermark = self.next_watermark(seq.watermark_ms);
        self.checkpoint.write_commit(batch_id, next_watermark)?;
        for (i, s) in self.sources.iter_mut().enumerate() {
            if let Some(end) = &seq.offsets[i] {
                if starts[i].as_ref() != Some(end) {
                    s.committed(starts[i].as_ref(), end).await?;
                }
            }
        }
        let report = BatchReport {
            batch_id,
            started_ms: seq.timestamp_ms,
            duration_ms: started.elapsed().as_millis() as u64,
            get_batch_ms,
            planning_ms,
            add_batch_ms,
            commit_ms: commit.elapsed().as_millis() as u64,
            sources: reports,
            sink: self.sink.description(),
            output_rows: output_rows as u64,
            watermark_ms: self.watermark_delay().map(|_| seq.watermark_ms),
            state: state_reports,
        };
        self.handle.push_progress(report.json(&self.handle));
        self.handle
            .set_status("Waiting for next trigger", false, false);
        Ok(())
    }
}

/// Runs a batch's plan into Spark-typed rows.
pub async fn collect(
    session: &Session,
    plan: LogicalPlan,
) -> SparkResult<(arrow::datatypes::SchemaRef, Vec<RecordBatch>)> {
    let df = DataFrame::new(session.ctx.state(), plan);
    let schema = spark_schema(df.schema().as_arrow());
    let data = df
        .collect()
        .await?
        .iter()
        .map(|b| to_spark_batch(b, &schema))
        .collect::<SparkResult<_>>()?;
    Ok((schema, data))
}

/// Runs a slice's plan into memory: its row count and a plan over the rows. The rows keep
/// the order of the scan's partitions (files in order), so a replayed batch sees them in the
/// same order (a deduplication keeps the first row of a key).
async fn materialise(session: &Session, plan: LogicalPlan) -> SparkResult<(u64, LogicalPlan)> {
    let df = DataFrame::new(session.ctx.state(), plan);
    let schema = Arc::new(df.schema().as_arrow().clone());
    let batches: Vec<RecordBatch> = df
        .collect_partitioned()
        .await?
        .into_iter()
        .flatten()
        .collect();
    let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
    // A file column stays under the slice for `input_file_name()`, hidden from `*`.
    let plan = planner::input_file::hide(super::sink::memory_plan(schema, batches)?)?;
    Ok((rows, plan))
}
