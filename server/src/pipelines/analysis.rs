//! Graph analysis before anything runs: every name a flow reads resolves, no dataset is
//! defined twice, flows' query types fit their targets, there are no cycles; and the order
//! in which the outputs are computed.
use std::collections::{BTreeMap, BTreeSet, HashMap};

use planner::sql_relations::{relations_in, SqlRelation};
use proto::connect::read::ReadType;
use proto::connect::relation::RelType;
use proto::connect::Relation;

use super::graph::{Flow, FlowBody, Graph, Ident, OutputKind};
use crate::error::{SparkError, SparkResult};
use crate::session::Session;

/// A name a query reads.
#[derive(Debug, Clone)]
pub struct Read {
    pub parts: Vec<String>,
    pub streaming: bool,
}

/// What a query reads: names, and whether it has streaming sources of its own (files).
#[derive(Debug, Default, Clone)]
pub struct Reads {
    pub names: Vec<Read>,
    pub streaming_sources: bool,
}

fn boxed(r: &Option<Box<Relation>>) -> Vec<&Relation> {
    r.as_deref().into_iter().collect()
}

/// The relations directly under `rel`.
fn inputs(rel: &Relation) -> Vec<&Relation> {
    let Some(t) = &rel.rel_type else {
        return vec![];
    };
    match t {
        RelType::Project(x) => boxed(&x.input),
        RelType::Filter(x) => boxed(&x.input),
        RelType::Join(x) => [boxed(&x.left), boxed(&x.right)].concat(),
        RelType::SetOp(x) => [boxed(&x.left_input), boxed(&x.right_input)].concat(),
        RelType::Limit(x) => boxed(&x.input),
        RelType::Offset(x) => boxed(&x.input),
        RelType::Tail(x) => boxed(&x.input),
        RelType::Aggregate(x) => boxed(&x.input),
        RelType::Sort(x) => boxed(&x.input),
        RelType::Drop(x) => boxed(&x.input),
        RelType::Deduplicate(x) => boxed(&x.input),
        RelType::Sample(x) => boxed(&x.input),
        RelType::SubqueryAlias(x) => boxed(&x.input),
        RelType::Repartition(x) => boxed(&x.input),
        RelType::RepartitionByExpression(x) => boxed(&x.input),
        RelType::ToDf(x) => boxed(&x.input),
        RelType::WithColumnsRenamed(x) => boxed(&x.input),
        RelType::WithColumns(x) => boxed(&x.input),
        RelType::WithWatermark(x) => boxed(&x.input),
        RelType::Hint(x) => boxed(&x.input),
        RelType::Unpivot(x) => boxed(&x.input),
        RelType::Transpose(x) => boxed(&x.input),
        RelType::ToSchema(x) => boxed(&x.input),
        RelType::FillNa(x) => boxed(&x.input),
        RelType::DropNa(x) => boxed(&x.input),
        RelType::Replace(x) => boxed(&x.input),
        RelType::CollectMetrics(x) => boxed(&x.input),
        RelType::Parse(x) => boxed(&x.input),
        RelType::AsOfJoin(x) => [boxed(&x.left), boxed(&x.right)].concat(),
        RelType::LateralJoin(x) => [boxed(&x.left), boxed(&x.right)].concat(),
        RelType::WithRelations(x) => boxed(&x.root)
            .into_iter()
            .chain(x.references.iter())
            .collect(),
        _ => vec![],
    }
}

/// Everything a flow's query reads.
pub fn reads(rel: &Relation) -> SparkResult<Reads> {
    let mut out = Reads::default();
    let mut stack = vec![rel];
    while let Some(r) = stack.pop() {
        match &r.rel_type {
            Some(RelType::Read(read)) => match &read.read_type {
                Some(ReadType::NamedTable(t)) => out.names.push(Read {
                    parts: planner::sql::split_identifier(&t.unparsed_identifier),
                    streaming: read.is_streaming,
                }),
                Some(ReadType::DataSource(_)) => out.streaming_sources |= read.is_streaming,
                None => {}
            },
            Some(RelType::Sql(sql)) => {
                for relation in relations_in(&sql.query)? {
                    match relation {
                        SqlRelation::Stream(parts) => out.names.push(Read {
                            parts,
                            streaming: true,
                        }),
                        SqlRelation::Named(parts) => out.names.push(Read {
                            parts,
                            streaming: false,
                        }),
                        SqlRelation::StreamSource(_) => out.streaming_sources = true,
                        SqlRelation::Source(_) => {}
                    }
                }
            }
            _ => {}
        }
        stack.extend(inputs(r));
    }
    Ok(out)
}

/// The relation a flow reads from.
pub fn flow_query(flow: &Flow) -> &Relation {
    match &flow.body {
        FlowBody::Query(r) => r,
        FlowBody::Cdc(c) => &c.source,
    }
}

/// The outcome of analysis: what each output depends on, and an order to run them in.
#[derive(Debug, Default)]
pub struct Analysis {
    /// Output -> the outputs (tables, views) its flows read, directly.
    pub depends_on: BTreeMap<Ident, BTreeSet<Ident>>,
    /// Tables, materialized views and sinks, each after everything it reads.
    pub order: Vec<Ident>,
    /// Flows whose query is streaming.
    pub streaming: HashMap<Ident, bool>,
}

fn analysis_error(msg: String) -> SparkError {
    SparkError::Plan(planner::PlanError::analysis(msg))
}

/// Checks the graph and orders it. A name outside the graph must be a table or temp view of
/// the session.
pub fn analyse(graph: &Graph, session: &Session) -> SparkResult<Analysis> {
    if let Some(e) = super::define::duplicate_outputs(graph) {
        return Err(e);
    }
    if graph
        .outputs
        .iter()
        .all(|o| o.kind == OutputKind::TemporaryView)
    {
        return Err(analysis_error(
            "[RUN_EMPTY_PIPELINE] Pipelines are expected to have at least one non-temporary dataset defined (tables, persisted views) but no non-temporary datasets were found in your pipeline.".into(),
        ));
    }
    let mut flow_names: HashMap<&Ident, &Flow> = HashMap::new();
    for f in &graph.flows {
        if let Some(first) = flow_names.insert(&f.name, f) {
            return Err(analysis_error(format!(
                "[PIPELINE_DUPLICATE_IDENTIFIERS.FLOW] A duplicate identifier was found for elements registered in the pipeline's dataflow graph. Flow {} was found in multiple datasets: {}, {} SQLSTATE: 42710",
                f.name.quoted(),
                first.target,
                f.target
            )));
        }
        match graph.output(&f.target) {
            None => {
                return Err(analysis_error(format!(
                    "[PIPELINE_DATASET_WITHOUT_FLOW] Flow {} writes to {}, which is not defined in the pipeline{}.",
                    f.name.quoted(),
                    f.target.quoted(),
                    f.origin.describe()
                )))
            }
            Some(o) if o.kind.is_view() && f.name != f.target => {
                return Err(analysis_error(format!(
                    "Flow {} cannot write to the view {}: views have exactly one defining query.",
                    f.name.quoted(),
                    f.target.quoted()
                )))
            }
            _ => {}
        }
    }
    for o in &graph.outputs {
        let has_flow = graph.flows_into(&o.ident).next().is_some();
        if !has_flow && !matches!(o.kind, OutputKind::StreamingTable | OutputKind::Sink { .. }) {
            return Err(analysis_error(format!(
                "[PIPELINE_DATASET_WITHOUT_FLOW] Dataset {} does not have any defined flows{}.",
                o.ident.quoted(),
                o.origin.describe()
            )));
        }
    }

    // What each flow reads, resolved to the graph's outputs or to existing tables.
    let mut depends_on: BTreeMap<Ident, BTreeSet<Ident>> = BTreeMap::new();
    let mut direct_streaming: HashMap<Ident, bool> = HashMap::new();
    let mut view_reads: Vec<(Ident, Ident)> = vec![];
    let mut unresolved: Vec<(String, String)> = vec![];
    for f in &graph.flows {
        let r = reads(flow_query(f))?;
        let mut streaming = r.streaming_sources || matches!(f.body, FlowBody::Cdc(_));
        for read in &r.names {
            let internal = Ident::resolve(&read.parts, &graph.default_database)
                .filter(|i| graph.output(i).is_some());
            match internal {
                Some(i) => {
                    let persisted = graph
                        .output(&f.target)
                        .is_some_and(|o| matches!(o.kind, OutputKind::PersistedView { .. }));
                    if persisted
                        && graph
                            .output(&i)
                            .is_some_and(|o| o.kind == OutputKind::TemporaryView)
                    {
                        return Err(analysis_error(format!(
                            "[INVALID_TEMP_OBJ_REFERENCE] Cannot create the persistent object {} of the type view because it references to the temporary object `{}` of the type temporary view. Please make the temporary object `{}` persistent, or make the persistent object {} temporary. SQLSTATE: 42K0F",
                            f.target, i.name, i.name, f.target
                        )));
                    }
                    streaming |= read.streaming;
                    if graph.output(&i).is_some_and(|o| o.kind.is_view()) {
                        view_reads.push((f.name.clone(), i.clone()));
                    }
                    depends_on.entry(f.target.clone()).or_default().insert(i);
                }
                None => {
                    let is_live = read
                        .parts
                        .first()
                        .is_some_and(|p| p.eq_ignore_ascii_case("live"));
                    if is_live || !table_exists(session, &read.parts) {
                        let shown = Ident::resolve(&read.parts, &graph.default_database)
                            .map(|i| i.to_string())
                            .unwrap_or_else(|| read.parts.join("."));
                        unresolved.push((
                            f.name.quoted(),
                            format!(
                                "[TABLE_OR_VIEW_NOT_FOUND] The table or view {shown} cannot be found. Verify the spelling and correctness of the schema and catalog.{}",
                                f.origin.describe()
                            ),
                        ));
                    }
                    streaming |= read.streaming;
                }
            }
        }
        direct_streaming.insert(f.name.clone(), streaming);
        depends_on.entry(f.target.clone()).or_default();
    }
    for o in &graph.outputs {
        depends_on.entry(o.ident.clone()).or_default();
    }
    if !unresolved.is_empty() {
        return Err(Unresolved(unresolved).into());
    }

    let order = topological(&depends_on)?;

    // A flow reading a streaming view is streaming; views are analysed before their readers.
    let mut streaming = direct_streaming;
    for ident in &order {
        for f in graph.flows_into(ident) {
            let via_view = view_reads.iter().any(|(flow, view)| {
                flow == &f.name
                    && graph
                        .flows_into(view)
                        .any(|vf| streaming.get(&vf.name).copied().unwrap_or(false))
            });
            if via_view {
                streaming.insert(f.name.clone(), true);
            }
        }
    }

    // Query types that fit their targets.
    for f in &graph.flows {
        let is_streaming = streaming.get(&f.name).copied().unwrap_or(false);
        let Some(target) = graph.output(&f.target) else {
            continue;
        };
        let error = match (&target.kind, is_streaming, f.once) {
            (OutputKind::StreamingTable | OutputKind::Sink { .. }, false, false) => Some(format!(
                "[INVALID_FLOW_QUERY_TYPE.BATCH_RELATION_FOR_STREAMING_TABLE] Flow {} returns an invalid relation type. Streaming tables may only be defined by streaming relations, but the flow {} attempts to write a batch relation to the streaming table {}. Consider using the STREAM operator in Spark-SQL to convert the batch relation into a streaming relation, or populating the streaming table with an append once-flow instead. SQLSTATE: 42000",
                f.name, f.name, f.target
            )),
            (OutputKind::PersistedView { .. }, true, _) => Some(format!(
                "[INVALID_FLOW_QUERY_TYPE.STREAMING_RELATION_FOR_PERSISTED_VIEW] Flow {} returns an invalid relation type. Persisted views may only be defined by a batch relation, but the flow {} attempts to write a streaming relation to the persisted view {}. SQLSTATE: 42000",
                f.name, f.name, f.target
            )),
            (OutputKind::MaterializedView, true, _) => Some(format!(
                "[INVALID_FLOW_QUERY_TYPE.STREAMING_RELATION_FOR_MATERIALIZED_VIEW] Flow {} returns an invalid relation type. Materialized views may only be defined by a batch relation, but the flow {} attempts to write a streaming relation to the materialized view {}. SQLSTATE: 42000",
                f.name, f.name, f.target
            )),
            (_, true, true) => Some(format!(
                "[INVALID_FLOW_QUERY_TYPE.STREAMING_RELATION_FOR_ONCE_FLOW] Flow {} is a streaming relation, but a flow that runs once must be a batch relation.",
                f.name.quoted()
            )),
            _ => None,
        };
        if let Some(msg) = error {
            return Err(analysis_error(format!("{msg}{}", f.origin.describe())));
        }
    }

    let order = order
        .into_iter()
        .filter(|i| graph.output(i).is_some_and(|o| !o.kind.is_view()))
        .collect();
    Ok(Analysis {
        depends_on,
        order,
        streaming,
    })
}

/// Flows that read names nothing defines: each flow's error, then Spark's summary.
#[derive(Debug)]
pub struct Unresolved(pub Vec<(String, String)>);

impl From<Unresolved> for SparkError {
    fn from(u: Unresolved) -> SparkError {
        let flows: Vec<&str> = u.0.iter().map(|(f, _)| f.as_str()).collect();
        let details: Vec<String> =
            u.0.iter()
                .map(|(f, e)| format!("Failed to resolve flow: '{f}'.\nError: {e}"))
                .collect();
        analysis_error(format!(
            "{}\n\nFailed to resolve flows in the pipeline.\n\nA flow can fail to resolve because the flow itself contains errors or because it reads\nfrom an upstream flow which failed to resolve.\n\nFlows with errors: {}\nFlows that failed due to upstream errors: \n",
            details.join("\n"),
            flows.join(", ")
        ))
    }
}

fn table_exists(session: &Session, parts: &[String]) -> bool {
    let views = session.views();
    if parts.len() == 1 && views.table_exist(&parts[0]) {
        return true;
    }
    crate::tables::target(session.catalog(), &session.current_database(), parts)
        .is_ok_and(|t| t.exists())
}

/// Outputs ordered after their inputs; a cycle is an error naming it.
fn topological(depends_on: &BTreeMap<Ident, BTreeSet<Ident>>) -> SparkResult<Vec<Ident>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Visiting,
        Done,
    }
    fn visit(
        node: &Ident,
        deps: &BTreeMap<Ident, BTreeSet<Ident>>,
        marks: &mut HashMap<Ident, Mark>,
        path: &mut Vec<Ident>,
        order: &mut Vec<Ident>,
    ) -> SparkResult<()> {
        match marks.get(node) {
            Some(Mark::Done) => return Ok(()),
            Some(Mark::Visiting) => {
                let start = path.iter().position(|p| p == node).unwrap_or(0);
                let mut cycle: Vec<String> = path[start..].iter().map(|i| i.quoted()).collect();
                cycle.push(node.quoted());
                let downstream = path.last().map(|p| p.quoted()).unwrap_or_default();
                let upstream = node.quoted();
                return Err(analysis_error(format!(
                    "The downstream table '{downstream}' is referenced when creating the upstream table or view '{upstream}'. Circular dependencies are not supported in a pipeline. Please remove the dependency between '{upstream}' and '{downstream}'. (Cycle: {}.)",
                    cycle.join(" -> ")
                )));
            }
            None => {}
        }
        marks.insert(node.clone(), Mark::Visiting);
        path.push(node.clone());
        for d in deps.get(node).into_iter().flatten() {
            visit(d, deps, marks, path, order)?;
        }
        path.pop();
        marks.insert(node.clone(), Mark::Done);
        order.push(node.clone());
        Ok(())
    }
    let mut marks = HashMap::new();
    let mut order = vec![];
    for node in depends_on.keys() {
        visit(node, depends_on, &mut marks, &mut vec![], &mut order)?;
    }
    Ok(order)
}
