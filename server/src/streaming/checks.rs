//! Operations a micro-batch cannot run as Spark would (Spark's UnsupportedOperationChecker):
//! they are refused when the query starts instead of giving per-batch answers.
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::logical_expr::LogicalPlan;
use planner::PlanError;

use super::sink::OutputMode;
use super::source::streaming_leaves;
use super::state::find_aggregate;
use crate::error::{SparkError, SparkResult};

fn streaming(plan: &LogicalPlan) -> bool {
    !streaming_leaves(plan).is_empty()
}

fn refuse(msg: &str) -> SparkError {
    SparkError::Plan(PlanError::analysis(msg))
}

/// Checks the analysed plan of a streaming query for `mode`.
pub fn check(plan: &LogicalPlan, mode: OutputMode) -> SparkResult<()> {
    let mut aggregates = 0;
    let mut deduplications = 0;
    let mut failure = None;
    let _ = plan.apply(|node| {
        if !streaming(node) {
            return Ok(TreeNodeRecursion::Jump);
        }
        let problem = match node {
            LogicalPlan::Aggregate(a) if a.aggr_expr.is_empty() => Some(
                "GROUP BY without aggregate functions on a streaming query is not supported by sluice yet (use dropDuplicates on the grouping columns)",
            ),
            LogicalPlan::Aggregate(_) => {
                aggregates += 1;
                (aggregates > 1).then_some(
                    "Multiple streaming aggregations are not supported with streaming DataFrames/Datasets;",
                )
            }
            // The deduplication runs before the aggregation, on each batch's new rows.
            LogicalPlan::Distinct(_) if aggregates == 0 && find_aggregate(node).is_some() => Some(
                "dropDuplicates / distinct over a streaming aggregation is not supported by sluice yet (deduplicate before aggregating)",
            ),
            LogicalPlan::Distinct(_) => {
                deduplications += 1;
                (deduplications > 1).then_some(
                    "More than one dropDuplicates / distinct in a streaming query is not supported by sluice yet",
                )
            }
            LogicalPlan::Join(j) if streaming(&j.left) && streaming(&j.right) => Some(
                "Joins between two streaming DataFrames (stream-stream joins) are not supported by sluice yet",
            ),
            LogicalPlan::Window(_) => Some(
                "Non-time-based windows are not supported on streaming DataFrames/Datasets;",
            ),
            LogicalPlan::Sort(_) if mode != OutputMode::Complete => Some(
                "Sorting is not supported on streaming DataFrames/Datasets, unless it is on aggregated DataFrame/Dataset in Complete output mode;",
            ),
            LogicalPlan::Limit(_) if mode != OutputMode::Complete => Some(
                "Limits on a streaming DataFrame outside complete mode are not supported by sluice yet",
            ),
            _ => None,
        };
        if let Some(p) = problem {
            failure = Some(p);
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    });
    match failure {
        Some(m) => Err(refuse(m)),
        None => Ok(()),
    }
}
