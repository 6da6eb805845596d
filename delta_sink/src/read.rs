//! Reading a Delta table (at its latest version or by time travel) as a DataFusion table.
use std::sync::Arc;

use datafusion::catalog::TableProvider;
use datafusion::execution::SessionState;
use deltalake::DeltaTable;
use url::Url;

use crate::error::DeltaResult;
use crate::table::{self, TimeTravel};

/// A scan of the table as of `at`, resolved now (later commits are not seen by it).
pub async fn provider(
    url: &Url,
    at: &TimeTravel,
    session: Option<&Arc<SessionState>>,
) -> DeltaResult<Arc<dyn TableProvider>> {
    provider_of(&table::open(url, at).await?, session).await
}

/// A scan of a table already opened, at the version it was opened at.
pub(crate) async fn provider_of(
    t: &DeltaTable,
    session: Option<&Arc<SessionState>>,
) -> DeltaResult<Arc<dyn TableProvider>> {
    let builder = t.table_provider();
    let delta_scan = match session {
        Some(s) => {
            t.update_datafusion_session(s.as_ref())?;
            builder.with_session(s.clone()).await?
        }
        None => builder.await?,
    };
    Ok(match crate::scan::plain(t, delta_scan.schema()) {
        Some(files) => Arc::new(files),
        None => delta_scan,
    })
}
