//! Reading a Delta table (at its latest version or by time travel) as a DataFusion table.
use std::sync::Arc;

use std::borrow::Cow;

use arrow::datatypes::SchemaRef;
use datafusion::catalog::{ScanArgs, ScanResult, Session, TableProvider};
use datafusion::common::{Constraints, Statistics};
use datafusion::datasource::TableType;
use datafusion::execution::SessionState;
use datafusion::logical_expr::{Expr, LogicalPlan, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
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
    let inner: Arc<dyn TableProvider> = match crate::scan::plain(t, delta_scan.schema()) {
        Some(files) => Arc::new(files),
        None => delta_scan,
    };
    let identity = identity_of(t)?;
    Ok(Arc::new(VersionedRead { inner, identity }))
}

fn identity_of(t: &DeltaTable) -> DeltaResult<ReadIdentity> {
    let snapshot = t.snapshot()?;
    Ok(ReadIdentity {
        table_id: snapshot.metadata().id().to_string(),
        location: t.table_url().to_string(),
        version: snapshot.version(),
    })
}

/// The table at `url` as a read of its latest version would see it; None if there is none.
pub async fn latest_identity(url: &Url) -> DeltaResult<Option<ReadIdentity>> {
    match table::open_if_exists(url).await? {
        Some(t) => Ok(Some(identity_of(&t)?)),
        None => Ok(None),
    }
}

/// Which table and version a scan reads: equal identities read equal data.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct ReadIdentity {
    /// The table's id from its metadata: a table dropped and created again at the same
    /// place is another table.
    pub table_id: String,
    pub location: String,
    pub version: u64,
}

/// A Delta scan labelled with its [`ReadIdentity`], so that a caller can tell whether the
/// data under a plan changed since it last ran (materialized views skip unchanged inputs).
/// Everything else is the wrapped scan's.
#[derive(Debug)]
struct VersionedRead {
    inner: Arc<dyn TableProvider>,
    identity: ReadIdentity,
}

/// The table and version `provider` reads, when it is a Delta scan made by this crate.
pub fn identity(provider: &dyn TableProvider) -> Option<&ReadIdentity> {
    let any: &dyn std::any::Any = provider;
    any.downcast_ref::<VersionedRead>().map(|v| &v.identity)
}

#[async_trait::async_trait]
impl TableProvider for VersionedRead {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }
    fn constraints(&self) -> Option<&Constraints> {
        self.inner.constraints()
    }
    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }
    fn get_table_definition(&self) -> Option<&str> {
        self.inner.get_table_definition()
    }
    fn get_logical_plan(&'_ self) -> Option<Cow<'_, LogicalPlan>> {
        self.inner.get_logical_plan()
    }
    fn get_column_default(&self, column: &str) -> Option<&Expr> {
        self.inner.get_column_default(column)
    }
    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        self.inner.scan(state, projection, filters, limit).await
    }
    async fn scan_with_args<'a>(
        &self,
        state: &dyn Session,
        args: ScanArgs<'a>,
    ) -> datafusion::common::Result<ScanResult> {
        self.inner.scan_with_args(state, args).await
    }
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::common::Result<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }
    fn statistics(&self) -> Option<Statistics> {
        self.inner.statistics()
    }
}
