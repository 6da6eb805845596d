//! Time windows: `window(t, "10 minutes"[, "5 minutes"[, startTime]])`. With a slide
//! shorter than the window a row belongs to every window that holds its time, so the
//! grouping or projection that computes the window first fans each input row out into one
//! row per window; rows whose time is null are in no window. Spark's analyzer does this
//! (TimeWindowing) with an Expand, or a projection for tumbling windows, and a filter; here
//! the planner leaves a [`TimeWindow`] call in the plan and the analyzer rule
//! [`ExpandTimeWindows`] turns the operator holding it into that input + the operator over
//! the window column. As an analyzer rule it reaches every plan the session runs, including
//! the plans a streaming query derives from the user's aggregate.
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields, TimeUnit};
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::{plan_err, Column, DataFusionError, Result, ScalarValue};
use datafusion::config::ConfigOptions;
use datafusion::functions::core::expr_fn::{get_field, named_struct};
use datafusion::functions_nested::expr_fn::make_array;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{
    binary_expr, cast, col, lit, Aggregate, ColumnarValue, Expr, ExprSchemable, LogicalPlan,
    LogicalPlanBuilder, Operator, Projection, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};
use datafusion::optimizer::AnalyzerRule;

use crate::PlanError;

/// The column the window is held in between the fan-out and the operator.
const WINDOWS: &str = "__time_window";

/// `window(time, duration, slide, start)` before [`ExpandTimeWindows`] expands it.
/// Durations are microseconds.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TimeWindow {
    signature: Signature,
}

impl TimeWindow {
    /// The call of `window(time, ...)`: `duration`, `slide` and `start` in microseconds.
    pub fn call(time: Expr, duration: i64, slide: i64, start: i64) -> Expr {
        let udf = ScalarUDF::new_from_impl(TimeWindow {
            signature: Signature::any(4, Volatility::Immutable),
        });
        Expr::ScalarFunction(ScalarFunction::new_udf(
            Arc::new(udf),
            vec![time, lit(duration), lit(slide), lit(start)],
        ))
    }
}

/// The `struct<start, end>` Spark gives a window over a time of type `time`.
pub(crate) fn window_type(time: &DataType) -> DataType {
    let tz = match time {
        DataType::Timestamp(_, tz) => tz.clone(),
        _ => None,
    };
    let ts = DataType::Timestamp(TimeUnit::Microsecond, tz);
    DataType::Struct(Fields::from(vec![
        Field::new("start", ts.clone(), true),
        Field::new("end", ts, true),
    ]))
}

impl ScalarUDFImpl for TimeWindow {
    fn name(&self) -> &str {
        "window"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(window_type(args.first().unwrap_or(&DataType::Null)))
    }
    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        // Only reachable if the analyzer rule did not run over the plan.
        datafusion::common::exec_err!("window() must be computed by a grouping or a projection")
    }
}

/// The parameters of a [`TimeWindow`] call.
struct Params {
    time: Expr,
    duration: i64,
    slide: i64,
    start: i64,
}

fn params(e: &Expr) -> Option<Params> {
    let Expr::ScalarFunction(f) = e else {
        return None;
    };
    f.func.inner().downcast_ref::<TimeWindow>()?;
    let int = |e: &Expr| match e {
        Expr::Literal(ScalarValue::Int64(Some(v)), _) => Some(*v),
        _ => None,
    };
    match f.args.as_slice() {
        [time, d, s, st] => Some(Params {
            time: time.clone(),
            duration: int(d)?,
            slide: int(s)?,
            start: int(st)?,
        }),
        _ => None,
    }
}

/// The window calls in `exprs`, each once.
fn calls(exprs: &[Expr]) -> Vec<Expr> {
    let mut found: Vec<Expr> = vec![];
    for e in exprs {
        let _ = e.apply(|x| {
            if params(x).is_some() && !found.contains(x) {
                found.push(x.clone());
            }
            Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
        });
    }
    found
}

/// Rewrites each grouping or projection that computes a time window.
#[derive(Debug, Default)]
pub struct ExpandTimeWindows;

impl AnalyzerRule for ExpandTimeWindows {
    fn name(&self) -> &str {
        "expand_time_windows"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up(|node| match node {
            LogicalPlan::Aggregate(a) => {
                let mut exprs = a.group_expr.clone();
                exprs.extend(a.aggr_expr.iter().cloned());
                let Some(call) = single(calls(&exprs))? else {
                    return Ok(Transformed::no(LogicalPlan::Aggregate(a)));
                };
                let input = fan_out(a.input.as_ref().clone(), &call)?;
                let group = replace(&a.group_expr, &call)?;
                let aggr = replace(&a.aggr_expr, &call)?;
                let plan = Aggregate::try_new(Arc::new(input), group, aggr)?;
                Ok(Transformed::yes(LogicalPlan::Aggregate(plan)))
            }
            LogicalPlan::Projection(p) => {
                let Some(call) = single(calls(&p.expr))? else {
                    return Ok(Transformed::no(LogicalPlan::Projection(p)));
                };
                let input = fan_out(p.input.as_ref().clone(), &call)?;
                let exprs = replace(&p.expr, &call)?;
                let plan = Projection::try_new(exprs, Arc::new(input))?;
                Ok(Transformed::yes(LogicalPlan::Projection(plan)))
            }
            other => Ok(Transformed::no(other)),
        })
        .data()
    }
}

fn single(mut calls: Vec<Expr>) -> Result<Option<Expr>> {
    match calls.len() {
        0 | 1 => Ok(calls.pop()),
        _ => Err(DataFusionError::External(Box::new(PlanError::analysis(
            "[_LEGACY_ERROR_TEMP_1039] Multiple time/session window expressions would result in a cartesian product of rows, therefore they are currently not supported.",
        )))),
    }
}

/// `exprs` with `call` replaced by the window column, each keeping its output name.
fn replace(exprs: &[Expr], call: &Expr) -> Result<Vec<Expr>> {
    exprs
        .iter()
        .map(|e| {
            let name = e.schema_name().to_string();
            let out = e
                .clone()
                .transform_up(|x| {
                    Ok(if &x == call {
                        Transformed::yes(Expr::Column(Column::from_name(WINDOWS)))
                    } else {
                        Transformed::no(x)
                    })
                })
                .data()?;
            Ok(if out.schema_name().to_string() == name {
                out
            } else {
                out.alias(name)
            })
        })
        .collect()
}

/// `input` with one row per window holding its time, the window in [`WINDOWS`]: the
/// windows starting at the last start at or before the time and every `slide` before it,
/// as many as can overlap, kept where `start <= time < end` (a null time is in none). A
/// tumbling window is the one candidate, so it needs no unnest.
fn fan_out(input: LogicalPlan, call: &Expr) -> Result<LogicalPlan> {
    let Some(p) = params(call) else {
        return plan_err!("not a time window: {call}");
    };
    let time_type = p.time.get_type(input.schema())?;
    let DataType::Struct(fields) = window_type(&time_type) else {
        return plan_err!("window type is a struct");
    };
    let ts = fields[0].data_type().clone();
    let time = cast(p.time, ts.clone());
    let micros = cast(time.clone(), DataType::Int64);
    // Spark: lastStart = t - (t - startTime + slide) % slide.
    let offset = binary_expr(
        binary_expr(micros.clone() - lit(p.start), Operator::Plus, lit(p.slide)),
        Operator::Modulo,
        lit(p.slide),
    );
    let last_start = micros - offset;
    let overlapping = (p.duration + p.slide - 1) / p.slide;
    let window = |i: i64| {
        let start = last_start.clone() - lit(i * p.slide);
        let end = start.clone() + lit(p.duration);
        named_struct(vec![
            lit("start"),
            cast(start, ts.clone()),
            lit("end"),
            cast(end, ts.clone()),
        ])
    };
    let mut columns: Vec<Expr> = input
        .schema()
        .iter()
        .map(|(q, f)| Expr::Column(Column::new(q.cloned(), f.name())))
        .collect();
    if overlapping == 1 {
        columns.push(window(0).alias(WINDOWS));
        return LogicalPlanBuilder::from(input)
            .filter(time.is_not_null())?
            .project(columns)?
            .build();
    }
    columns.push(make_array((0..overlapping).map(window).collect()).alias(WINDOWS));
    let field = |name: &str| get_field(col(WINDOWS), name);
    LogicalPlanBuilder::from(input)
        .project(columns)?
        .unnest_column(WINDOWS)?
        .filter(
            field("start")
                .lt_eq(time.clone())
                .and(time.lt(field("end"))),
        )?
        .build()
}
