//! Whether a materialized view must be recomputed: not when its query, its settings and
//! every table it reads (by Delta table id and version) are what they were at its last
//! refresh, and nobody else wrote to it since. A query that reads anything other than Delta
//! tables (files, local data) or calls a function that is not deterministic is always
//! recomputed, as Databricks does.
use std::path::{Path, PathBuf};

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::datasource::source_as_provider;
use datafusion::logical_expr::{Expr, LogicalPlan, Volatility};
use delta_sink::read::ReadIdentity;
use serde::{Deserialize, Serialize};

/// What a refresh was computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inputs {
    /// The analysed query as text, with the flow's settings and the view's definition.
    query: String,
    /// Every table scanned, at the version scanned.
    tables: Vec<ReadIdentity>,
}

/// The record kept beside the flow's checkpoints after each refresh.
#[derive(Debug, Serialize, Deserialize)]
struct Refreshed {
    inputs: Inputs,
    /// The view's own table right after the refresh wrote it.
    target: ReadIdentity,
}

const RECORD: &str = "materialized.json";

/// The inputs of `plan`, or None when reading them again could give other rows.
pub fn inputs(plan: &LogicalPlan, definition: String) -> Option<Inputs> {
    let mut tables = Vec::new();
    let mut deterministic = true;
    let visit = plan.apply_with_subqueries(|node| {
        match node {
            LogicalPlan::TableScan(scan) => {
                match source_as_provider(&scan.source)
                    .ok()
                    .and_then(|p| delta_sink::read::identity(p.as_ref()).cloned())
                {
                    Some(id) => tables.push(id),
                    None => deterministic = false,
                }
            }
            LogicalPlan::Extension(_) => deterministic = false,
            _ => {}
        }
        node.apply_expressions(|e| {
            e.apply(|e| {
                if let Expr::ScalarFunction(f) = e {
                    if f.func.signature().volatility != Volatility::Immutable {
                        deterministic = false;
                    }
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })?;
        Ok(if deterministic {
            TreeNodeRecursion::Continue
        } else {
            TreeNodeRecursion::Stop
        })
    });
    if visit.is_err() || !deterministic {
        return None;
    }
    tables.sort();
    tables.dedup();
    Some(Inputs {
        query: format!("{}\n{definition}", plan.display_indent_schema()),
        tables,
    })
}

fn record_path(checkpoint: &Path) -> PathBuf {
    checkpoint.join(RECORD)
}

/// True when the last refresh recorded under `checkpoint` read exactly `inputs` and the
/// view's table is still as that refresh left it.
pub fn unchanged(checkpoint: &Path, inputs: &Inputs, target: Option<&ReadIdentity>) -> bool {
    let Ok(text) = std::fs::read_to_string(record_path(checkpoint)) else {
        return false;
    };
    match serde_json::from_str::<Refreshed>(&text) {
        Ok(last) => &last.inputs == inputs && Some(&last.target) == target,
        Err(_) => false,
    }
}

/// Records a refresh; a record that cannot be written only costs a recompute next time.
pub fn record(checkpoint: &Path, inputs: Inputs, target: ReadIdentity) {
    let Ok(text) = serde_json::to_string(&Refreshed { inputs, target }) else {
        return;
    };
    let path = record_path(checkpoint);
    let tmp = path.with_extension("json.tmp");
    let written = std::fs::create_dir_all(checkpoint)
        .and_then(|_| std::fs::write(&tmp, text))
        .and_then(|_| std::fs::rename(&tmp, &path));
    if let Err(e) = written {
        tracing::warn!("could not record the refresh at {}: {e}", path.display());
    }
}

/// Forgets the last refresh, so that the next run recomputes.
pub fn forget(checkpoint: &Path) {
    let _ = std::fs::remove_file(record_path(checkpoint));
}
