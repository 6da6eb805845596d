//! How a streaming query's plan resolves names: the session's resolver, with the query's own
//! answer for `readStream` leaves, and (for a pipeline's flows) the graph's datasets and views.
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use arrow::record_batch::RecordBatch;
use datafusion::logical_expr::LogicalPlan;
use futures::future::BoxFuture;
use planner::{DataSource, PlanError, PlanResult, Planner, Resolver, StreamingRead};
use proto::connect::Relation;

use super::plan_error;
use super::source::{self, SourceSpec};
use crate::catalog::SessionResolver;
use crate::session::Session;

/// What a name a pipeline flow reads stands for.
pub enum Scoped {
    /// A view of the pipeline: its query is planned in place.
    View(Box<Relation>),
    /// A table the pipeline writes, by its name in the catalog.
    Table(Vec<String>),
}

/// A pipeline's names as one flow sees them.
pub trait FlowScope: Send + Sync {
    /// `None`: not a name of the pipeline (the session catalog answers it).
    fn lookup(&self, parts: &[String]) -> Option<Scoped>;
    /// A streaming file source as the pipeline reads it (Auto Loader keeps its schema
    /// under the flow's checkpoint unless told otherwise).
    fn streaming_source(&self, source: DataSource) -> DataSource;
}

/// What a streaming query's plan reads for its `readStream` leaves.
pub(crate) enum Leaves {
    /// At start: each leaf is resolved (and collected, in plan order) as an analysed leaf.
    Collect(Mutex<Vec<SourceSpec>>),
    /// In a batch: the i-th leaf is the i-th planned slice.
    Slices(Mutex<VecDeque<LogicalPlan>>),
}

pub(crate) struct StreamResolver<'a> {
    pub base: SessionResolver<'a>,
    pub leaves: Leaves,
    pub scope: Option<Arc<dyn FlowScope>>,
}

impl StreamResolver<'_> {
    fn scoped(&self, parts: &[String]) -> Option<Scoped> {
        self.scope.as_ref().and_then(|s| s.lookup(parts))
    }

    /// A view's query, planned with this resolver so that its leaves are the query's.
    async fn view(&self, relation: &Relation) -> PlanResult<LogicalPlan> {
        let session = self.base.session;
        let state = session.ctx.state();
        let planner = Planner::new(&state, self, session.planner_config());
        planner.plan(relation).await
    }

    async fn leaf(&self, read: StreamingRead) -> PlanResult<LogicalPlan> {
        match &self.leaves {
            Leaves::Collect(specs) => {
                let spec = source::resolve(self.base.session, read)
                    .await
                    .map_err(plan_error)?;
                let plan = source::leaf_plan(&spec).map_err(plan_error)?;
                if let Ok(mut s) = specs.lock() {
                    s.push(spec);
                }
                Ok(plan)
            }
            Leaves::Slices(plans) => plans
                .lock()
                .ok()
                .and_then(|mut p| p.pop_front())
                .ok_or_else(|| PlanError::invalid("the query's sources changed")),
        }
    }

    /// The leaves collected so far (analysis).
    pub fn collected(self) -> Vec<SourceSpec> {
        match self.leaves {
            Leaves::Collect(specs) => specs.into_inner().unwrap_or_default(),
            Leaves::Slices(_) => vec![],
        }
    }
}

impl Resolver for StreamResolver<'_> {
    fn data_source(&self, source: DataSource) -> BoxFuture<'_, PlanResult<LogicalPlan>> {
        self.base.data_source(source)
    }
    fn table(&self, name: Vec<String>) -> BoxFuture<'_, PlanResult<LogicalPlan>> {
        Box::pin(async move {
            match self.scoped(&name) {
                Some(Scoped::View(rel)) => self.view(&rel).await,
                Some(Scoped::Table(parts)) => self.base.table(parts).await,
                None => self.base.table(name).await,
            }
        })
    }
    fn sql_table(
        &self,
        name: Vec<String>,
        streaming: bool,
    ) -> BoxFuture<'_, PlanResult<Option<LogicalPlan>>> {
        Box::pin(async move {
            let read = |parts| StreamingRead::Table(parts, Default::default());
            match (self.scoped(&name), streaming) {
                (Some(Scoped::View(rel)), _) => self.view(&rel).await.map(Some),
                (Some(Scoped::Table(parts)), false) => self.base.table(parts).await.map(Some),
                (Some(Scoped::Table(parts)), true) => self.leaf(read(parts)).await.map(Some),
                (None, true) => self.leaf(read(name)).await.map(Some),
                (None, false) => self.base.sql_table(name, false).await,
            }
        })
    }
    fn cached_bytes(&self, hash: &str) -> PlanResult<Vec<u8>> {
        self.base.cached_bytes(hash)
    }
    fn collect(&self, _plan: LogicalPlan) -> BoxFuture<'_, PlanResult<Vec<RecordBatch>>> {
        // Spark runs such a plan as a batch query, which a streaming source refuses.
        Box::pin(async {
            Err(PlanError::analysis(
                "Queries with streaming sources must be executed with writeStream.start();",
            ))
        })
    }
    fn streaming_read(&self, read: StreamingRead) -> BoxFuture<'_, PlanResult<LogicalPlan>> {
        Box::pin(async move {
            let read = match read {
                StreamingRead::Table(name, options) => match self.scoped(&name) {
                    Some(Scoped::View(rel)) => return self.view(&rel).await,
                    Some(Scoped::Table(parts)) => StreamingRead::Table(parts, options),
                    None => StreamingRead::Table(name, options),
                },
                StreamingRead::Source(s) => match &self.scope {
                    Some(scope) => StreamingRead::Source(scope.streaming_source(s)),
                    None => StreamingRead::Source(s),
                },
            };
            self.leaf(read).await
        })
    }
}

/// Plans `relation` with each streaming leaf read as its slice in `slices`.
pub(crate) async fn plan_batch(
    session: &Session,
    relation: &Relation,
    slices: VecDeque<LogicalPlan>,
    scope: Option<Arc<dyn FlowScope>>,
) -> crate::error::SparkResult<LogicalPlan> {
    let resolver = StreamResolver {
        base: SessionResolver::new(session),
        leaves: Leaves::Slices(Mutex::new(slices)),
        scope,
    };
    let state = session.ctx.state();
    let planner = Planner::new(&state, &resolver, session.planner_config());
    Ok(planner.plan(relation).await?)
}

/// Plans `relation` for analysis: the plan and the streaming leaves it reads.
pub(crate) async fn analyse(
    session: &Session,
    relation: &Relation,
    scope: Option<Arc<dyn FlowScope>>,
) -> crate::error::SparkResult<(LogicalPlan, Vec<SourceSpec>)> {
    let resolver = StreamResolver {
        base: SessionResolver::new(session),
        leaves: Leaves::Collect(Mutex::new(vec![])),
        scope,
    };
    let state = session.ctx.state();
    let planner = Planner::new(&state, &resolver, session.planner_config());
    let plan = planner.plan(relation).await?;
    Ok((plan, resolver.collected()))
}
