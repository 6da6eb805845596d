//! Log checkpoints on Delta's schedule. Delta writes a checkpoint every
//! `delta.checkpointInterval` commits (10 unless the table says otherwise) and then drops
//! log files older than `delta.logRetentionDuration`; delta-rs's own hook would wait 100
//! commits, and every commit in between makes the next snapshot update and transaction
//! lookup replay one more JSON file. So commits here turn delta-rs's hook off and call
//! [`after_commit`] instead.
use deltalake::kernel::transaction::CommitProperties;
use deltalake::protocol::checkpoints::{cleanup_metadata, create_checkpoint};
use deltalake::table::config::TablePropertiesExt;
use deltalake::DeltaTable;

use crate::error::DeltaResult;

/// Delta's default `delta.checkpointInterval`.
const DEFAULT_INTERVAL: i64 = 10;

/// Commit settings for every commit sluice makes: conflicts retried, log upkeep left to
/// [`after_commit`].
pub(crate) fn commit_properties() -> CommitProperties {
    CommitProperties::default()
        .with_max_retries(15)
        .with_create_checkpoint(false)
        .with_cleanup_expired_logs(Some(false))
}

/// After a commit, with `table` at the version it committed: writes the checkpoint Delta
/// would write at that version and cleans expired log files. Returns whether a checkpoint
/// was written. The commit stands either way, so a failure here is logged, as Delta does.
pub(crate) async fn after_commit(table: &DeltaTable) -> bool {
    match checkpoint(table).await {
        Ok(written) => written,
        Err(e) => {
            tracing::warn!("checkpoint after commit failed: {e}");
            false
        }
    }
}

/// The table's `delta.checkpointInterval`. sluice refuses a bad value when it is set
/// ([`crate::properties::validate`]); one another writer stored counts as unset.
fn interval(configuration: &std::collections::HashMap<String, String>) -> i64 {
    crate::properties::checkpoint_interval(configuration).unwrap_or(DEFAULT_INTERVAL)
}

/// Whether the commit `table` is at calls for a checkpoint.
pub(crate) fn is_due_after(table: &DeltaTable) -> bool {
    table
        .snapshot()
        .is_ok_and(|s| is_due(interval(s.metadata().configuration()), s.version() as i64))
}

fn is_due(interval: i64, version: i64) -> bool {
    version > 0 && version % interval == 0
}

async fn checkpoint(table: &DeltaTable) -> DeltaResult<bool> {
    let snapshot = table.snapshot()?;
    let version = snapshot.version() as i64;
    if !is_due(interval(snapshot.metadata().configuration()), version) {
        return Ok(false);
    }
    create_checkpoint(table, None).await?;
    if snapshot.table_config().enable_expired_log_cleanup() {
        cleanup_metadata(table, None).await?;
    }
    Ok(true)
}
