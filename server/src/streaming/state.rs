//! State of a streaming aggregation, kept in the checkpoint (`state/0/<batch>.arrow`) so
//! that each batch aggregates only its own rows and merges them into what came before.
//!
//! Aggregates that decompose (count, sum, min, max, avg) keep one partial row per group;
//! others keep the aggregate's input rows. Complete mode emits every group after each batch;
//! append mode with a watermark emits a group once the watermark passes its window (or its
//! event time) and forgets it.
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, ScalarValue};
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::{
    cast, col, lit, Aggregate, Expr, ExprSchemable, LogicalPlan, LogicalPlanBuilder,
};
use datafusion::prelude::DataFrame;
use planner::PlanError;

use super::progress::StateReport;
use super::sink::{memory_plan, OutputMode};
use super::store::StateStore;
use crate::error::{SparkError, SparkResult};
use crate::session::Session;

/// `withWatermark(column, delay)`.
#[derive(Debug, Clone)]
pub struct Watermark {
    pub column: String,
    pub delay_ms: i64,
}

/// A stateful operator's watermark and the latest event time (ms) it has seen, from which
/// the next batch's watermark follows.
#[derive(Debug, Clone)]
pub struct EventClock {
    pub watermark: Option<Watermark>,
    max_event_ms: Option<i64>,
}

impl EventClock {
    pub fn new(watermark: Option<Watermark>) -> Self {
        EventClock {
            watermark,
            max_event_ms: None,
        }
    }

    pub fn delay_ms(&self) -> Option<i64> {
        self.watermark.as_ref().map(|w| w.delay_ms)
    }

    pub fn observe(&mut self, event_ms: Option<i64>) {
        self.max_event_ms = self.max_event_ms.max(event_ms);
    }

    /// The watermark after a batch that ran with `current`.
    pub fn next_watermark(&self, current: i64) -> i64 {
        match (&self.watermark, self.max_event_ms) {
            (Some(w), Some(max)) => current.max(max - w.delay_ms),
            _ => current,
        }
    }
}

pub struct Stateful {
    store: StateStore,
    mode: OutputMode,
    clock: EventClock,
    /// Groups still held (for the no-data batch that emits them).
    held: usize,
}

/// How one aggregate function is split into partial states, merged, and finished.
enum Split {
    /// The partial is the aggregate itself; merging applies `merge` to it.
    Same { merge: &'static str },
    /// count: partial count, merged by sum, finished as 0 when no rows.
    Count,
    /// avg: sum and count.
    Avg,
}

type SplitOf = fn() -> Split;

/// Decomposable aggregate functions (DataFusion names).
const SPLITS: &[(&str, SplitOf)] = &[
    ("count", || Split::Count),
    ("sum", || Split::Same { merge: "sum" }),
    ("min", || Split::Same { merge: "min" }),
    ("max", || Split::Same { merge: "max" }),
    ("avg", || Split::Avg),
];

fn split_of(f: &AggregateFunction) -> Option<Split> {
    let p = &f.params;
    if p.distinct || p.filter.is_some() || !p.order_by.is_empty() {
        return None;
    }
    let name = f.func.name().to_ascii_lowercase();
    SPLITS.iter().find(|(n, _)| *n == name).map(|(_, s)| s())
}

/// The topmost aggregate of a plan.
pub fn find_aggregate(plan: &LogicalPlan) -> Option<Aggregate> {
    let mut found = None;
    let _ = plan.apply(|p| {
        if let LogicalPlan::Aggregate(a) = p {
            found = Some(a.clone());
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    });
    found
}

impl Stateful {
    pub fn new(dir: PathBuf, mode: OutputMode, watermark: Option<Watermark>) -> Stateful {
        Stateful {
            store: StateStore::new(dir),
            mode,
            clock: EventClock::new(watermark),
            held: 0,
        }
    }

    pub fn watermark_delay(&self) -> Option<i64> {
        self.clock.delay_ms()
    }

    pub fn next_watermark(&self, current: i64) -> i64 {
        self.clock.next_watermark(current)
    }

    /// Whether a batch without new data would emit something (the watermark moved on).
    pub fn needs_no_data_batch(&self, current: i64) -> bool {
        self.mode == OutputMode::Append && self.held > 0 && self.next_watermark(current) > current
    }

    /// The batch committed: older state files are no longer needed.
    pub fn commit(&mut self, batch: i64) -> SparkResult<()> {
        self.store.commit(batch)
    }

    fn save(&mut self, batch: i64, schema: SchemaRef, rows: Vec<RecordBatch>) -> SparkResult<()> {
        self.held = rows.iter().map(|r| r.num_rows()).sum();
        self.store.save(batch, schema, rows)
    }

    /// Rewrites a batch's plan so its aggregate reads the merged state; returns what to emit.
    pub async fn apply(
        &mut self,
        session: &Session,
        plan: LogicalPlan,
        batch: i64,
        watermark_ms: i64,
    ) -> SparkResult<(LogicalPlan, StateReport)> {
        let agg = find_aggregate(&plan).ok_or_else(|| {
            SparkError::Plan(PlanError::analysis(
                "a streaming aggregation lost its aggregate",
            ))
        })?;
        let splits: Option<Vec<(Expr, AggregateFunction, Split)>> = agg
            .aggr_expr
            .iter()
            .map(|e| {
                let (inner, _) = unalias(e);
                match inner {
                    Expr::AggregateFunction(f) => split_of(f).map(|s| (e.clone(), f.clone(), s)),
                    _ => None,
                }
            })
            .collect();
        let started = std::time::Instant::now();
        let prior = self.store.load(batch)?;
        let (replacement, report) = match splits {
            Some(splits) => self.merge_partials(session, &agg, splits, prior, batch, watermark_ms).await?,
            None if self.clock.watermark.is_none() && self.mode == OutputMode::Complete => {
                self.merge_rows(session, &agg, prior, batch).await?
            }
            None => {
                return Err(SparkError::unsupported(
                    "this aggregate function in a streaming aggregation with a watermark or in update mode (count, sum, min, max and avg are supported)",
                ))
            }
        };
        let target = LogicalPlan::Aggregate(agg);
        let out = plan
            .transform_down(|node| {
                if node == target {
                    Ok(Transformed::new(
                        replacement.clone(),
                        true,
                        TreeNodeRecursion::Jump,
                    ))
                } else {
                    Ok(Transformed::no(node))
                }
            })?
            .data
            .transform_up(|node| Ok(Transformed::yes(node.recompute_schema()?)))?
            .data;
        let mut report = report;
        report.commit_ms = started.elapsed().as_millis() as u64;
        Ok((out, report))
    }

    /// Decomposable aggregates: partial rows per group, merged into the state.
    async fn merge_partials(
        &mut self,
        session: &Session,
        agg: &Aggregate,
        splits: Vec<(Expr, AggregateFunction, Split)>,
        prior: Option<(SchemaRef, Vec<RecordBatch>)>,
        batch: i64,
        watermark_ms: i64,
    ) -> SparkResult<(LogicalPlan, StateReport)> {
        let state = session.ctx.state();
        let udaf = |name: &str| {
            state
                .aggregate_functions()
                .get(name)
                .cloned()
                .ok_or_else(|| {
                    SparkError::Plan(PlanError::invalid(format!("no aggregate function {name}")))
                })
        };
        let groups = agg.group_expr.len();
        // Partial aggregate of this batch's rows.
        let mut group_exprs = vec![];
        for (i, g) in agg.group_expr.iter().enumerate() {
            group_exprs.push(unalias(g).0.clone().alias(format!("__g{i}")));
        }
        let mut partials = vec![];
        let mut merges = vec![];
        for (j, (_, f, split)) in splits.iter().enumerate() {
            let args = f.params.args.clone();
            let s = |k: usize| col(format!("__s{j}_{k}"));
            match split {
                Split::Same { merge } => {
                    partials.push(Expr::AggregateFunction(f.clone()).alias(format!("__s{j}_0")));
                    merges.push(udaf(merge)?.call(vec![s(0)]).alias(format!("__s{j}_0")));
                }
                Split::Count => {
                    partials.push(Expr::AggregateFunction(f.clone()).alias(format!("__s{j}_0")));
                    merges.push(udaf("sum")?.call(vec![s(0)]).alias(format!("__s{j}_0")));
                }
                Split::Avg => {
                    let x = args
                        .first()
                        .cloned()
                        .unwrap_or_else(|| lit(ScalarValue::Null));
                    partials.push(
                        udaf("sum")?
                            .call(vec![cast(x.clone(), DataType::Float64)])
                            .alias(format!("__s{j}_0")),
                    );
                    partials.push(udaf("count")?.call(vec![x]).alias(format!("__s{j}_1")));
                    merges.push(udaf("sum")?.call(vec![s(0)]).alias(format!("__s{j}_0")));
                    merges.push(udaf("sum")?.call(vec![s(1)]).alias(format!("__s{j}_1")));
                }
            }
        }
        let event = match &self.clock.watermark {
            Some(w) => {
                let c = find_column(agg.input.schema(), &w.column).ok_or_else(|| {
                    SparkError::unsupported(format!(
                        "a watermark column `{}` that the aggregation does not read",
                        w.column
                    ))
                })?;
                partials.push(udaf("max")?.call(vec![Expr::Column(c)]).alias("__wm"));
                true
            }
            None => false,
        };
        let partial_plan = LogicalPlanBuilder::from(agg.input.as_ref().clone())
            .aggregate(group_exprs, partials)?
            .build()?;
        let partial = collect(session, partial_plan).await?;
        let (partial_schema, mut partial_rows) = partial;
        let input_groups: usize = partial_rows.iter().map(|b| b.num_rows()).sum();
        if event {
            self.clock
                .observe(max_event_ms(&partial_rows, &partial_schema));
        }
        // Drop the event-time column; with a watermark, groups it has passed are late.
        let mut dropped = 0usize;
        let key = if event { self.event_key(agg)? } else { None };
        let keep: Vec<usize> = (0..partial_schema.fields().len())
            .filter(|i| partial_schema.field(*i).name() != "__wm")
            .collect();
        let partial_schema = Arc::new(nullable(&partial_schema.project(&keep)?));
        partial_rows = partial_rows
            .iter()
            .map(|b| {
                Ok(RecordBatch::try_new(
                    partial_schema.clone(),
                    b.project(&keep)?.columns().to_vec(),
                )?)
            })
            .collect::<SparkResult<_>>()?;
        if let Some((k, kind)) = &key {
            let late = filter_rows(
                session,
                &partial_schema,
                partial_rows.clone(),
                *k,
                kind,
                watermark_ms,
                true,
            )
            .await?;
            dropped = input_groups - late.iter().map(|b| b.num_rows()).sum::<usize>();
            partial_rows = late;
        }
        // Update mode emits the groups this batch touched.
        let touched = if self.mode == OutputMode::Update {
            Some(group_keys(&partial_rows, groups)?)
        } else {
            None
        };
        // Merge with the prior state.
        let mut inputs = partial_rows;
        if let Some((schema, rows)) = prior {
            for r in rows {
                inputs.push(
                    RecordBatch::try_new(partial_schema.clone(), r.columns().to_vec()).map_err(
                        |e| {
                            SparkError::Plan(PlanError::invalid(format!(
                                "the aggregation state in {} does not match this query: {e}",
                                schema.fields().len()
                            )))
                        },
                    )?,
                );
            }
        }
        let group_cols: Vec<Expr> = (0..groups).map(|i| col(format!("__g{i}"))).collect();
        let merged_plan = LogicalPlanBuilder::from(memory_plan(partial_schema.clone(), inputs)?)
            .aggregate(group_cols, merges)?
            .build()?;
        let (merged_schema, merged) = collect(session, merged_plan).await?;
        let merged_schema = Arc::new(nullable(&merged_schema));
        let merged: Vec<RecordBatch> = merged
            .into_iter()
            .map(|b| {
                Ok(RecordBatch::try_new(
                    merged_schema.clone(),
                    b.columns().to_vec(),
                )?)
            })
            .collect::<SparkResult<_>>()?;
        // What to keep: with a watermark outside complete mode, the groups it has not passed.
        let keep_rows = match (&key, self.mode) {
            (Some((k, kind)), OutputMode::Append | OutputMode::Update) => {
                filter_rows(
                    session,
                    &merged_schema,
                    merged.clone(),
                    *k,
                    kind,
                    watermark_ms,
                    true,
                )
                .await?
            }
            _ => merged.clone(),
        };
        // What to emit: append, the groups the watermark passed; update, the groups this
        // batch changed; complete, every group.
        let emit = match (&key, self.mode) {
            (Some((k, kind)), OutputMode::Append) => {
                filter_rows(
                    session,
                    &merged_schema,
                    merged,
                    *k,
                    kind,
                    watermark_ms,
                    false,
                )
                .await?
            }
            (_, OutputMode::Update) => {
                let touched = touched.unwrap_or_default();
                merged
                    .iter()
                    .map(|b| only_keys(b, groups, &touched))
                    .collect::<SparkResult<Vec<_>>>()?
            }
            _ => merged,
        };
        let total: usize = keep_rows.iter().map(|b| b.num_rows()).sum();
        let emitted: usize = emit.iter().map(|b| b.num_rows()).sum();
        self.save(batch, merged_schema.clone(), keep_rows)?;
        // The aggregate's output, finished from the state columns.
        let mut exprs = vec![];
        let out_schema = agg.schema.clone();
        for i in 0..groups {
            let (q, f) = out_schema.qualified_field(i);
            exprs.push(finish(col(format!("__g{i}")), f, q));
        }
        for (j, (_, _, split)) in splits.iter().enumerate() {
            let (q, f) = out_schema.qualified_field(groups + j);
            let s = |k: usize| col(format!("__s{j}_{k}"));
            let e = match split {
                Split::Same { .. } => s(0),
                Split::Count => datafusion::functions::expr_fn::coalesce(vec![s(0), lit(0i64)]),
                Split::Avg => s(0) / cast(s(1), DataType::Float64),
            };
            exprs.push(finish(e, f, q));
        }
        let plan = LogicalPlanBuilder::from(memory_plan(merged_schema, emit)?)
            .project(exprs)?
            .build()?;
        Ok((
            plan,
            StateReport {
                operator: "stateStoreSave",
                rows_total: total as u64,
                rows_updated: (input_groups - dropped) as u64,
                rows_removed: emitted as u64 * u64::from(self.mode == OutputMode::Append),
                dropped_by_watermark: dropped as u64,
                commit_ms: 0,
                custom: vec![],
            },
        ))
    }

    /// Other aggregates: the state is the aggregate's input rows so far.
    async fn merge_rows(
        &mut self,
        session: &Session,
        agg: &Aggregate,
        prior: Option<(SchemaRef, Vec<RecordBatch>)>,
        batch: i64,
    ) -> SparkResult<(LogicalPlan, StateReport)> {
        let input_schema = agg.input.schema().clone();
        let positional: Vec<Expr> = input_schema
            .iter()
            .enumerate()
            .map(|(i, (q, f))| {
                Expr::Column(Column::new(q.cloned(), f.name())).alias(format!("__c{i}"))
            })
            .collect();
        let plan = LogicalPlanBuilder::from(agg.input.as_ref().clone())
            .project(positional)?
            .build()?;
        let (schema, rows) = collect(session, plan).await?;
        let schema = Arc::new(nullable(&schema));
        let new_rows: usize = rows.iter().map(|b| b.num_rows()).sum();
        let mut all: Vec<RecordBatch> = vec![];
        for r in prior
            .map(|p| p.1)
            .unwrap_or_default()
            .into_iter()
            .chain(rows)
        {
            all.push(RecordBatch::try_new(schema.clone(), r.columns().to_vec())?);
        }
        let total: usize = all.iter().map(|b| b.num_rows()).sum();
        self.save(batch, schema.clone(), all.clone())?;
        let back: Vec<Expr> = input_schema
            .iter()
            .enumerate()
            .map(|(i, (q, f))| finish(col(format!("__c{i}")), f, q))
            .collect();
        let input = LogicalPlanBuilder::from(memory_plan(schema, all)?)
            .project(back)?
            .build()?;
        let plan = LogicalPlan::Aggregate(Aggregate::try_new(
            Arc::new(input),
            agg.group_expr.clone(),
            agg.aggr_expr.clone(),
        )?);
        Ok((
            plan,
            StateReport {
                operator: "stateStoreSave",
                rows_total: total as u64,
                rows_updated: new_rows as u64,
                rows_removed: 0,
                dropped_by_watermark: 0,
                commit_ms: 0,
                custom: vec![],
            },
        ))
    }

    /// The group key that carries event time: a window struct over the watermark column, or
    /// the column itself.
    fn event_key(&self, agg: &Aggregate) -> SparkResult<Option<(usize, KeyKind)>> {
        let Some(w) = &self.clock.watermark else {
            return Ok(None);
        };
        for (i, g) in agg.group_expr.iter().enumerate() {
            let t = g.get_type(agg.input.schema())?;
            let refs_event = g
                .column_refs()
                .iter()
                .any(|c| c.name.eq_ignore_ascii_case(&w.column));
            if !refs_event {
                continue;
            }
            match t {
                DataType::Struct(fields) if fields.iter().any(|f| f.name() == "end") => {
                    return Ok(Some((i, KeyKind::WindowEnd)))
                }
                DataType::Timestamp(_, _) => return Ok(Some((i, KeyKind::Time))),
                _ => {}
            }
        }
        Err(SparkError::Plan(PlanError::analysis(
            "[STREAMING_OUTPUT_MODE.UNSUPPORTED_OPERATION] Invalid streaming output mode: append. This output mode is not supported for streaming aggregations without watermark on streaming DataFrames/DataSets. SQLSTATE: 42KDE",
        )))
    }
}

#[derive(Debug, Clone)]
enum KeyKind {
    WindowEnd,
    Time,
}

fn unalias(e: &Expr) -> (&Expr, Option<&str>) {
    match e {
        Expr::Alias(a) => (a.expr.as_ref(), Some(a.name.as_str())),
        other => (other, None),
    }
}

pub(super) fn find_column(schema: &datafusion::common::DFSchema, name: &str) -> Option<Column> {
    schema
        .iter()
        .find(|(_, f)| f.name().eq_ignore_ascii_case(name))
        .map(|(q, f)| Column::new(q.cloned(), f.name()))
}

/// `e` cast to the aggregate's output field, under its qualified name.
pub(super) fn finish(e: Expr, f: &Field, q: Option<&datafusion::common::TableReference>) -> Expr {
    let e = cast(e, f.data_type().clone());
    match q {
        Some(q) => e.alias_qualified(Some(q.clone()), f.name()),
        None => e.alias(f.name()),
    }
}

pub(super) fn nullable(schema: &Schema) -> Schema {
    Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect::<Vec<_>>(),
    )
}

async fn collect(
    session: &Session,
    plan: LogicalPlan,
) -> SparkResult<(SchemaRef, Vec<RecordBatch>)> {
    let df = DataFrame::new(session.ctx.state(), plan);
    let schema = Arc::new(df.schema().as_arrow().clone());
    let rows = df.collect().await?;
    Ok((schema, rows))
}

/// The latest event time (ms) in the `__wm` column.
fn max_event_ms(rows: &[RecordBatch], schema: &SchemaRef) -> Option<i64> {
    let i = schema.index_of("__wm").ok()?;
    let mut max = None;
    for b in rows {
        let c = arrow::compute::cast(
            b.column(i),
            &DataType::Timestamp(TimeUnit::Microsecond, None),
        )
        .ok()?;
        let c = c
            .as_any()
            .downcast_ref::<arrow::array::TimestampMicrosecondArray>()?;
        if let Some(m) = arrow::compute::max(c) {
            max = max.max(Some(m.div_euclid(1000)));
        }
    }
    max
}

/// Rows whose event key is after the watermark (`after`), or at or before it (`!after`).
async fn filter_rows(
    session: &Session,
    schema: &SchemaRef,
    rows: Vec<RecordBatch>,
    key: usize,
    kind: &KeyKind,
    watermark_ms: i64,
    after: bool,
) -> SparkResult<Vec<RecordBatch>> {
    let field = schema.field(key);
    let key_expr = col(format!("__g{key}"));
    let (time, time_type) = match (kind, field.data_type()) {
        (KeyKind::WindowEnd, DataType::Struct(fields)) => {
            let end = fields
                .iter()
                .find(|f| f.name() == "end")
                .map(|f| f.data_type().clone());
            (
                datafusion::functions::core::expr_fn::get_field(key_expr, "end"),
                end,
            )
        }
        (_, t) => (key_expr, Some(t.clone())),
    };
    let boundary = match time_type {
        Some(DataType::Timestamp(_, tz)) => lit(ScalarValue::TimestampMicrosecond(
            Some(watermark_ms * 1000),
            tz,
        )),
        _ => return Ok(rows),
    };
    let predicate = if after {
        time.gt(boundary)
    } else {
        time.lt_eq(boundary)
    };
    let plan = LogicalPlanBuilder::from(memory_plan(schema.clone(), rows)?)
        .filter(predicate)?
        .build()?;
    let (_, out) = collect(session, plan).await?;
    out.into_iter()
        .map(|b| Ok(RecordBatch::try_new(schema.clone(), b.columns().to_vec())?))
        .collect()
}

/// The encoded group keys (the first `groups` columns) of `rows`.
fn group_keys(rows: &[RecordBatch], groups: usize) -> SparkResult<HashSet<Vec<u8>>> {
    let mut keys = HashSet::new();
    for b in rows {
        for r in encode_keys(b, groups)?.iter() {
            keys.insert(r.as_ref().to_vec());
        }
    }
    Ok(keys)
}

/// Group keys in arrow's row format, comparable across batches of the same columns.
fn encode_keys(b: &RecordBatch, groups: usize) -> SparkResult<arrow::row::Rows> {
    let fields = (0..groups)
        .map(|i| arrow::row::SortField::new(b.schema().field(i).data_type().clone()))
        .collect();
    let converter = arrow::row::RowConverter::new(fields)?;
    let columns: Vec<_> = b.columns()[..groups].to_vec();
    Ok(converter.convert_columns(&columns)?)
}

/// The rows of `b` whose group key is in `keys`.
fn only_keys(b: &RecordBatch, groups: usize, keys: &HashSet<Vec<u8>>) -> SparkResult<RecordBatch> {
    let encoded = encode_keys(b, groups)?;
    let mask: arrow::array::BooleanArray = encoded
        .iter()
        .map(|r| Some(keys.contains(r.as_ref())))
        .collect();
    Ok(arrow::compute::filter_record_batch(b, &mask)?)
}
