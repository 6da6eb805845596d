//! Spark's table-valued functions where DataFusion's differ: `range` yields a column `id`
//! (DataFusion's yields `value`) and accepts Spark's `numPartitions` argument.
use std::sync::Arc;

use datafusion::catalog::{TableFunction, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::datasource::{provider_as_source, ViewTable};
use datafusion::error::Result;
use datafusion::logical_expr::{col, LogicalPlanBuilder};

#[derive(Debug)]
pub struct SparkRange {
    inner: Arc<TableFunction>,
}

impl SparkRange {
    /// Wraps DataFusion's own `range` (taken from the session before it is replaced).
    pub fn new(inner: Arc<TableFunction>) -> Self {
        Self { inner }
    }
}

impl TableFunctionImpl for SparkRange {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        // range(start, end, step, numPartitions): partitioning is DataFusion's business.
        let exprs: Vec<_> = args.exprs().iter().take(3).cloned().collect();
        let provider = self
            .inner
            .create_table_provider_with_args(TableFunctionArgs::new(&exprs, args.session()))?;
        let plan = LogicalPlanBuilder::scan("range", provider_as_source(provider), None)?
            .project(vec![col("value").alias("id")])?
            .build()?;
        Ok(Arc::new(ViewTable::new(plan, None)))
    }
}
