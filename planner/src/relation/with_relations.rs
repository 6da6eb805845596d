//! `spark.sql("... {df} ...", df=...)`: the client sends the query with the DataFrames it
//! names as references (each a `SubqueryAlias`), visible to that query only.
use std::collections::HashMap;

use arrow::record_batch::RecordBatch;
use datafusion::logical_expr::LogicalPlan;
use futures::future::BoxFuture;
use proto::connect::relation::RelType;
use proto::connect::WithRelations;

use crate::error::{PlanError, PlanResult};
use crate::{DataSource, Planner, Resolver, StreamingRead};

/// The session's resolver, with the query's referenced DataFrames as views in front.
struct WithViews<'a> {
    base: &'a dyn Resolver,
    /// Lower-cased view name -> plan.
    views: HashMap<String, LogicalPlan>,
}

impl WithViews<'_> {
    fn view(&self, name: &[String]) -> Option<LogicalPlan> {
        match name {
            [one] => self.views.get(&one.to_lowercase()).cloned(),
            _ => None,
        }
    }
}

impl Resolver for WithViews<'_> {
    fn streaming_read(&self, read: StreamingRead) -> BoxFuture<'_, PlanResult<LogicalPlan>> {
        self.base.streaming_read(read)
    }
    fn data_source(&self, source: DataSource) -> BoxFuture<'_, PlanResult<LogicalPlan>> {
        self.base.data_source(source)
    }
    fn sql_table(
        &self,
        name: Vec<String>,
        streaming: bool,
    ) -> BoxFuture<'_, PlanResult<Option<LogicalPlan>>> {
        match (self.view(&name), streaming) {
            (Some(plan), false) => Box::pin(async move { Ok(Some(plan)) }),
            _ => self.base.sql_table(name, streaming),
        }
    }
    fn table(&self, name: Vec<String>) -> BoxFuture<'_, PlanResult<LogicalPlan>> {
        match self.view(&name) {
            Some(plan) => Box::pin(async move { Ok(plan) }),
            None => self.base.table(name),
        }
    }
    fn cached_bytes(&self, hash: &str) -> PlanResult<Vec<u8>> {
        self.base.cached_bytes(hash)
    }
    fn collect(&self, plan: LogicalPlan) -> BoxFuture<'_, PlanResult<Vec<RecordBatch>>> {
        self.base.collect(plan)
    }
}

impl Planner<'_> {
    pub(crate) async fn with_relations(&self, w: &WithRelations) -> PlanResult<LogicalPlan> {
        let mut views = HashMap::new();
        for reference in &w.references {
            let Some(RelType::SubqueryAlias(alias)) = &reference.rel_type else {
                return Err(PlanError::unsupported(
                    "a WithRelations reference that is not a named DataFrame",
                ));
            };
            let plan = self.input(&alias.input).await?;
            views.insert(alias.alias.to_lowercase(), plan);
        }
        let resolver = WithViews {
            base: self.resolver,
            views,
        };
        let inner = Planner::new(self.state, &resolver, self.config.clone());
        inner.input(&w.root).await
    }
}
