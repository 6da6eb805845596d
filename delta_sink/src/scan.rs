//! A Delta table read as the parquet files its log lists, when nothing in the table asks a
//! reader to do more than read those files.
//!
//! delta-rs's DeltaScan handles every reader feature, and pays for it on each query (an
//! extra file-id column, per-file statistics parsed from the log). A table with no partition
//! columns whose protocol needs no reader feature beyond plain parquet is exactly the set of
//! its `add` files under the table's schema, so DataFusion's parquet scan reads it directly;
//! the row count from the log still answers `count(*)`.
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::stats::Precision;
use datafusion::common::Statistics;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::ExecutionPlan;
use deltalake::logstore::LogStoreRef;
use deltalake::DeltaTable;

/// Reader features whose tables are still plain parquet files to a reader.
const PLAIN_READER_FEATURES: &[&str] = &["timestampNtz", "vacuumProtocolCheck"];

/// The files of a table, each with its size, and the rows they hold when the log knows.
#[derive(Debug)]
pub(crate) struct DeltaFiles {
    schema: SchemaRef,
    log_store: LogStoreRef,
    files: Vec<PartitionedFile>,
    rows: Option<usize>,
}

/// The plain scan of `t` with the columns `schema` (what delta-rs's scan of it answers), or
/// None when the table needs delta-rs's own (partitions, column mapping, deletion vectors,
/// type widening, any reader feature not listed above).
pub(crate) fn plain(t: &DeltaTable, schema: SchemaRef) -> Option<DeltaFiles> {
    let snapshot = t.snapshot().ok()?;
    let protocol = snapshot.protocol();
    let plain_protocol = match protocol.min_reader_version() {
        1 => true,
        3 => protocol.reader_features().is_some_and(|features| {
            features
                .iter()
                .all(|f| PLAIN_READER_FEATURES.contains(&f.as_ref()))
        }),
        _ => false,
    };
    let metadata = snapshot.metadata();
    if !plain_protocol || !metadata.partition_columns().is_empty() {
        return None;
    }
    let mut files = Vec::new();
    let mut rows = Some(0usize);
    for file in snapshot.log_data().iter() {
        if file.deletion_vector_descriptor().is_some() {
            return None;
        }
        rows = rows.zip(file.num_records()).map(|(a, b)| a + b);
        let size = u64::try_from(file.size()).ok()?;
        files.push(PartitionedFile::new(
            file.object_store_path().to_string(),
            size,
        ));
    }
    Some(DeltaFiles {
        schema,
        log_store: t.log_store(),
        files,
        rows,
    })
}

#[async_trait::async_trait]
impl TableProvider for DeltaFiles {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::common::Result<Vec<TableProviderFilterPushDown>> {
        // Row-group statistics prune and the parquet reader may filter, but rows the filter
        // rejects can still come out: DataFusion keeps its own filter above the scan.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        if self.files.is_empty() {
            let schema = match projection {
                Some(p) => Arc::new(self.schema.project(p)?),
                None => self.schema.clone(),
            };
            return Ok(Arc::new(EmptyExec::new(schema)));
        }
        // The files are named relative to the table's root, in a store of its own.
        let store = self.log_store.object_store_url();
        let runtime = state.runtime_env();
        if runtime.object_store(&store).is_err() {
            runtime.register_object_store(store.as_ref(), self.log_store.object_store(None));
        }
        let format = ParquetFormat::default().with_options(state.table_options().parquet.clone());
        let source = format.file_source(TableSchema::from(self.schema.clone()));
        // One group per core, files dealt round-robin; DataFusion splits big files further.
        let groups = state
            .config()
            .target_partitions()
            .max(1)
            .min(self.files.len());
        let mut file_groups = vec![Vec::new(); groups];
        for (i, f) in self.files.iter().enumerate() {
            file_groups[i % groups].push(f.clone());
        }
        let mut statistics = Statistics::new_unknown(&self.schema);
        if let Some(rows) = self.rows {
            statistics.num_rows = Precision::Exact(rows);
        }
        let config = FileScanConfigBuilder::new(store, source)
            .with_file_groups(file_groups.into_iter().map(FileGroup::new).collect())
            .with_statistics(statistics)
            .with_projection_indices(projection.cloned())?
            .with_limit(limit)
            .build();
        format.create_physical_plan(state, config).await
    }
}
