//! `describe()` and `summary()`: statistics of each numeric and string column as strings,
//! one row per statistic, as Spark's StatFunctions.summary computes them.
use arrow::datatypes::DataType;
use datafusion::common::Column;
use datafusion::functions::expr_fn::ceil;
use datafusion::functions_aggregate::expr_fn::array_agg;
use datafusion::functions_nested::expr_fn::{array_element, array_sort, cardinality, make_array};
use datafusion::logical_expr::utils::find_aggregate_exprs;
use datafusion::logical_expr::{cast, lit, try_cast, when, Expr, LogicalPlan, LogicalPlanBuilder};

use super::pivot::with_filter;
use super::project::rebase;
use crate::error::{PlanError, PlanResult};
use crate::functions::{call, cast_to};
use crate::Planner;

/// The statistics `describe()` reports.
const DESCRIBE: [&str; 5] = ["count", "mean", "stddev", "min", "max"];
/// The statistics `summary()` reports when given none.
const SUMMARY: [&str; 8] = ["count", "mean", "stddev", "min", "25%", "50%", "75%", "max"];

/// One statistic, parsed.
enum Statistic {
    /// A Spark aggregate function of the column, by name (`count`, `mean`, ...).
    Aggregate(&'static str, bool),
    /// `p%`: the exact percentile of the non-null values, as percentile_approx gives it on
    /// data it holds whole.
    Percentile(f64),
}

/// Statistic name -> the aggregate it runs (and whether it is DISTINCT).
const AGGREGATES: [(&str, &str, bool); 7] = [
    ("count", "count", false),
    ("count_distinct", "count", true),
    ("approx_count_distinct", "approx_count_distinct", false),
    ("mean", "avg", false),
    ("stddev", "stddev", false),
    ("min", "min", false),
    ("max", "max", false),
];

fn parse(stat: &str) -> PlanResult<Statistic> {
    let lower = stat.to_ascii_lowercase();
    if let Some((_, f, distinct)) = AGGREGATES.iter().find(|(n, _, _)| *n == lower) {
        return Ok(Statistic::Aggregate(f, *distinct));
    }
    let Some(p) = stat.strip_suffix('%') else {
        return Err(PlanError::invalid(format!(
            "{stat} is not a recognised statistic."
        )));
    };
    let p: f64 = p
        .trim()
        .parse()
        .map_err(|_| PlanError::invalid(format!("Unable to parse {stat} as a percentile")))?;
    if !(0.0..=100.0).contains(&p) {
        return Err(PlanError::invalid(
            "requirement failed: Percentiles must be in the range [0, 1]",
        ));
    }
    Ok(Statistic::Percentile(p / 100.0))
}

impl Planner<'_> {
    /// `describe(cols...)`: count, mean, stddev, min and max of the named (or all) columns.
    pub(crate) fn describe(&self, input: LogicalPlan, cols: &[String]) -> PlanResult<LogicalPlan> {
        let input = if cols.is_empty() {
            input
        } else {
            let picked = cols
                .iter()
                .map(|c| self.resolve_column(c, None, input.schema()))
                .collect::<PlanResult<Vec<_>>>()?;
            LogicalPlanBuilder::from(input).project(picked)?.build()?
        };
        let stats: Vec<String> = DESCRIBE.iter().map(|s| s.to_string()).collect();
        self.summary(input, &stats)
    }

    /// `summary(stats...)`: the statistics of every numeric and string column.
    pub(crate) fn summary(
        &self,
        input: LogicalPlan,
        statistics: &[String],
    ) -> PlanResult<LogicalPlan> {
        let names: Vec<String> = if statistics.is_empty() {
            SUMMARY.iter().map(|s| s.to_string()).collect()
        } else {
            statistics.to_vec()
        };
        let parsed = names
            .iter()
            .map(|s| parse(s))
            .collect::<PlanResult<Vec<_>>>()?;
        let schema = input.schema().clone();
        // (output name, one string per statistic)
        let mut columns: Vec<(String, Vec<Expr>)> = vec![];
        for (i, field) in schema.fields().iter().enumerate() {
            let numeric = field.data_type().is_numeric();
            let string = matches!(
                field.data_type(),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            );
            if !numeric && !string {
                continue;
            }
            let column = crate::expression::column_at(&schema, i);
            // Spark casts a string column to DOUBLE for the numeric statistics.
            let as_number = if string {
                try_cast(column.clone(), DataType::Float64)
            } else {
                column.clone()
            };
            let cells = parsed
                .iter()
                .map(|stat| {
                    let value = match stat {
                        Statistic::Aggregate(f, distinct) => {
                            let arg = match *f {
                                "avg" | "stddev" => as_number.clone(),
                                _ => column.clone(),
                            };
                            call(self, f, vec![arg], *distinct, &schema)?
                        }
                        Statistic::Percentile(p) => percentile(as_number.clone(), *p)?,
                    };
                    cast_to(self, value, DataType::Utf8, &schema)
                })
                .collect::<PlanResult<Vec<_>>>()?;
            columns.push((field.name().clone(), cells));
        }
        let all: Vec<Expr> = columns.iter().flat_map(|(_, c)| c.clone()).collect();
        let aggregates = find_aggregate_exprs(&all);
        let stats = LogicalPlanBuilder::from(input)
            .aggregate(Vec::<Expr>::new(), aggregates.clone())?
            .build()?;
        let tmp = |k: usize| format!("__sluice_summary_{k}");
        let mut arrays =
            vec![make_array(names.iter().map(|n| lit(n.clone())).collect()).alias(tmp(0))];
        for (k, (_, cells)) in columns.iter().enumerate() {
            let cells = cells
                .iter()
                .map(|c| {
                    let c = rebase(c.clone(), &aggregates)?;
                    // All-NULL arrays would take the NULL type; the column is a string.
                    Ok(cast(c, DataType::Utf8))
                })
                .collect::<PlanResult<Vec<_>>>()?;
            arrays.push(make_array(cells).alias(tmp(k + 1)));
        }
        let unnest: Vec<Column> = (0..=columns.len())
            .map(|k| Column::from_name(tmp(k)))
            .collect();
        let mut out = vec![Expr::Column(Column::from_name(tmp(0))).alias("summary")];
        for (k, (name, _)) in columns.iter().enumerate() {
            out.push(Expr::Column(Column::from_name(tmp(k + 1))).alias(name));
        }
        Ok(LogicalPlanBuilder::from(stats)
            .project(arrays)?
            .unnest_columns_with_options(unnest, Default::default())?
            .project(out)?
            .build()?)
    }
}

/// The value at rank ceil(p * n) (at least the first) of the sorted non-null values.
fn percentile(value: Expr, p: f64) -> PlanResult<Expr> {
    let sorted = array_sort(
        with_filter(array_agg(value.clone()), value.is_not_null()),
        lit("ASC"),
        lit("NULLS FIRST"),
    );
    let rank = cast(
        ceil(lit(p) * cast(cardinality(sorted.clone()), DataType::Float64)),
        DataType::Int64,
    );
    let rank = when(rank.clone().lt(lit(1i64)), lit(1i64)).otherwise(rank)?;
    Ok(array_element(sorted, rank))
}
