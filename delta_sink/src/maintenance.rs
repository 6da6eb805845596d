//! Table maintenance: OPTIMIZE (bin-packing or Z-order of small files into large ones) and
//! VACUUM (deleting files no version within the retention period needs).
use std::sync::Arc;

use datafusion::execution::SessionState;
use deltalake::kernel::schema::partitions::{FilterLiteral, FilterOp, FilterValue};
use deltalake::operations::optimize::OptimizeType;
use url::Url;

use crate::error::{DeltaError, DeltaResult};
use crate::table::{self, TimeTravel};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Optimized {
    pub files_added: u64,
    pub files_removed: u64,
    pub partitions_optimized: u64,
}

/// `filters` are `(column, value)` equalities on partition columns (OPTIMIZE ... WHERE).
pub async fn optimize(
    url: &Url,
    filters: &[(String, String)],
    zorder: Vec<String>,
    session: Arc<SessionState>,
) -> DeltaResult<Optimized> {
    let t = table::open(url, &TimeTravel::Latest).await?;
    let partitions = t.snapshot()?.metadata().partition_columns().to_vec();
    for (c, _) in filters {
        if !partitions.iter().any(|p| p == c) {
            return Err(DeltaError::Analysis(format!(
                "[DELTA_NON_PARTITION_COLUMN_REFERENCE] Predicate references non-partition column '{c}'. Only the partition columns may be referenced: [{}]",
                partitions.join(", ")
            )));
        }
    }
    let filters: Vec<FilterLiteral> = filters
        .iter()
        .map(|(c, v)| (c.as_str(), FilterOp::Eq, FilterValue::Scalar(v.as_str())))
        .collect();
    let before = t.version();
    let z_order_by = serde_json::Value::from(zorder.clone()).to_string();
    // A table with clustering columns is laid out by them (Delta records them as
    // `clusterBy`); an explicit ZORDER BY wins.
    let cluster_by = crate::clustering::of(t.snapshot()?.metadata().configuration());
    let kind = match (zorder.is_empty(), cluster_by.is_empty()) {
        (false, _) => OptimizeType::ZOrder(zorder),
        (true, false) => OptimizeType::ZOrder(cluster_by.clone()),
        (true, true) => OptimizeType::Compact,
    };
    let cluster_by = serde_json::Value::from(cluster_by).to_string();
    let (t, m) = t
        .optimize()
        .with_type(kind)
        .with_filters(&filters)
        .with_session_state(session)
        .with_commit_properties(crate::checkpoint::commit_properties())
        .with_writer_properties(crate::write::writer_properties())
        .await?;
    // Delta records the Z-order columns (`[]` when none); delta-rs does not.
    if let Some(v) = t.version().filter(|v| Some(*v) != before) {
        crate::checkpoint::after_commit(&t).await;
        crate::write::relabel(&t, v as i64, |info| {
            if let Some(p) = info
                .get_mut("operationParameters")
                .and_then(|p| p.as_object_mut())
            {
                p.insert("zOrderBy".into(), z_order_by.clone().into());
                if cluster_by != "[]" {
                    p.insert("clusterBy".into(), cluster_by.clone().into());
                }
            }
        })
        .await?;
    }
    Ok(Optimized {
        files_added: m.num_files_added,
        files_removed: m.num_files_removed,
        partitions_optimized: m.partitions_optimized,
    })
}

/// Deletes unreferenced files older than `retain_hours` (Delta's default: 7 days). Shorter
/// retention is refused, as Delta does, unless `enforce_retention` is off.
pub async fn vacuum(
    url: &Url,
    retain_hours: Option<f64>,
    dry_run: bool,
    enforce_retention: bool,
) -> DeltaResult<Vec<String>> {
    let t = table::open(url, &TimeTravel::Latest).await?;
    let mut b = t
        .vacuum()
        .with_dry_run(dry_run)
        .with_enforce_retention_duration(enforce_retention);
    if let Some(h) = retain_hours {
        if h < 0.0 {
            return Err(DeltaError::IllegalArgument(format!(
                "[DELTA_VACUUM_RETENTION_PERIOD_NEGATIVE] Retention period for VACUUM can't be negative: {h} hours."
            )));
        }
        b = b.with_retention_period(chrono::TimeDelta::milliseconds((h * 3_600_000.0) as i64));
    }
    let (_, m) = b.await.map_err(|e| {
        let text = e.to_string();
        if text.contains("retention") {
            DeltaError::IllegalArgument(format!(
                "[DELTA_VACUUM_RETENTION_PERIOD_TOO_SHORT] requirement failed: Are you sure you would like to vacuum files with such a low retention period? If you have writers that are currently writing to this table, there is a risk that you may corrupt the state of your Delta table. Set spark.databricks.delta.retentionDurationCheck.enabled = false to disable this check. ({text})"
            ))
        } else {
            e.into()
        }
    })?;
    Ok(m.files_deleted)
}
