//! AnalyzePlan: schemas, explain, and questions about a plan that need no execution.
use std::hash::{Hash, Hasher};

use datafusion::logical_expr::LogicalPlan;
use planner::types;
use proto::connect::analyze_plan_request::explain::ExplainMode;
use proto::connect::analyze_plan_request::Analyze;
use proto::connect::analyze_plan_response::{self as resp, Result as AnalyzeResult};
use proto::connect::get_status_request::OperationStatusRequest;
use proto::connect::get_status_response::operation_status::OperationState;
use proto::connect::get_status_response::OperationStatus;
use proto::connect::plan::OpType;
use proto::connect::relation::RelType;
use proto::connect::{Plan, Relation, StorageLevel};

use crate::error::{SparkError, SparkResult};
use crate::execute::{plan_relation, spark_schema};
use crate::session::{OpState, Session};

fn root(plan: Option<Plan>) -> SparkResult<Relation> {
    let op = plan.and_then(|p| p.op_type);
    let op = match op {
        Some(OpType::CompressedOperation(c)) => crate::compression::decompress(c)?,
        other => other,
    };
    match op {
        Some(OpType::Root(r)) => Ok(r),
        _ => Err(SparkError::invalid("AnalyzePlan needs a relation")),
    }
}

async fn logical(session: &Session, plan: Option<Plan>) -> SparkResult<LogicalPlan> {
    plan_relation(session, &root(plan)?).await
}

fn same_plan(a: &LogicalPlan, b: &LogicalPlan) -> bool {
    let (a, b) = (
        a.display_indent().to_string(),
        b.display_indent().to_string(),
    );
    a == b
}

fn semantic_hash(plan: &LogicalPlan) -> i32 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    plan.display_indent().to_string().hash(&mut h);
    h.finish() as i32
}

/// File paths a relation reads, as `inputFiles()` reports them.
fn input_files(rel: &Relation, out: &mut Vec<String>) {
    if let Some(RelType::Read(r)) = &rel.rel_type {
        if let Some(proto::connect::read::ReadType::DataSource(d)) = &r.read_type {
            for p in &d.paths {
                let path = std::path::Path::new(p);
                if path.is_dir() {
                    if let Ok(entries) = std::fs::read_dir(path) {
                        let mut files: Vec<String> = entries
                            .filter_map(|e| e.ok())
                            .filter(|e| !e.file_name().to_string_lossy().starts_with(['.', '_']))
                            .map(|e| {
                                format!(
                                    "file://{}",
                                    std::path::absolute(e.path()).unwrap_or(e.path()).display()
                                )
                            })
                            .collect();
                        files.sort();
                        out.extend(files);
                    }
                } else {
                    out.push(format!(
                        "file://{}",
                        std::path::absolute(path).unwrap_or(path.into()).display()
                    ));
                }
            }
        }
    }
    // Walk the children generically through their encoded form: every input is a Relation.
    for child in children(rel) {
        input_files(child, out);
    }
}

fn children(rel: &Relation) -> Vec<&Relation> {
    use RelType::*;
    fn one(r: &Option<Box<Relation>>) -> Vec<&Relation> {
        r.as_deref().into_iter().collect()
    }
    match &rel.rel_type {
        Some(Project(p)) => one(&p.input),
        Some(Filter(f)) => one(&f.input),
        Some(Sort(s)) => one(&s.input),
        Some(Limit(l)) => one(&l.input),
        Some(Aggregate(a)) => one(&a.input),
        Some(Join(j)) => [one(&j.left), one(&j.right)].concat(),
        Some(SetOp(s)) => [one(&s.left_input), one(&s.right_input)].concat(),
        Some(Deduplicate(d)) => one(&d.input),
        Some(WithColumns(w)) => one(&w.input),
        Some(Drop(d)) => one(&d.input),
        Some(SubqueryAlias(s)) => one(&s.input),
        _ => vec![],
    }
}

pub async fn analyze(
    session: &Session,
    request: Option<Analyze>,
    in_pipeline: bool,
) -> SparkResult<AnalyzeResult> {
    let request = request.ok_or_else(|| SparkError::invalid("AnalyzePlan without a question"))?;
    Ok(match request {
        Analyze::Schema(s) => {
            let plan = logical(session, s.plan).await?;
            let schema = spark_schema(plan.schema().as_arrow());
            AnalyzeResult::Schema(resp::Schema {
                schema: Some(types::schema_to_proto(&schema)?),
            })
        }
        Analyze::Explain(e) => {
            let mode = e.explain_mode();
            let plan = logical(session, e.plan).await?;
            let state = session.ctx.state();
            let optimized = state.optimize(&plan)?;
            let physical = state.create_physical_plan(&plan).await?;
            let physical = datafusion::physical_plan::displayable(physical.as_ref())
                .indent(true)
                .to_string();
            let text = match mode {
                ExplainMode::Extended | ExplainMode::Formatted | ExplainMode::Cost | ExplainMode::Codegen => format!(
                    "== Parsed Logical Plan ==\n{}\n\n== Optimized Logical Plan ==\n{}\n\n== Physical Plan ==\n{physical}",
                    plan.display_indent(),
                    optimized.display_indent()
                ),
                _ => format!("== Physical Plan ==\n{physical}"),
            };
            AnalyzeResult::Explain(resp::Explain {
                explain_string: text,
            })
        }
        Analyze::TreeString(t) => {
            let plan = logical(session, t.plan).await?;
            let schema = spark_schema(plan.schema().as_arrow());
            let level = t
                .level
                .and_then(|l| usize::try_from(l).ok())
                .filter(|l| *l > 0);
            AnalyzeResult::TreeString(resp::TreeString {
                tree_string: types::tree_string(&schema, level),
            })
        }
        Analyze::IsLocal(l) => {
            let rel = root(l.plan)?;
            let local = matches!(
                rel.rel_type,
                Some(RelType::LocalRelation(_)) | Some(RelType::CachedLocalRelation(_))
            );
            AnalyzeResult::IsLocal(resp::IsLocal { is_local: local })
        }
        Analyze::IsStreaming(s) => {
            let rel = root(s.plan)?;
            // A streaming read anywhere in the plan answers without planning it: inside a
            // pipeline definition the datasets it reads may not exist yet.
            let read = crate::pipelines::analysis::reads(&rel)?;
            let is_streaming = if read.streaming_sources || read.names.iter().any(|r| r.streaming) {
                true
            } else if in_pipeline {
                false
            } else {
                let plan = crate::execute::plan_relation(session, &rel).await?;
                !crate::streaming::source::streaming_leaves(&plan).is_empty()
            };
            AnalyzeResult::IsStreaming(resp::IsStreaming { is_streaming })
        }
        Analyze::InputFiles(i) => {
            let rel = root(i.plan)?;
            let mut files = vec![];
            input_files(&rel, &mut files);
            AnalyzeResult::InputFiles(resp::InputFiles { files })
        }
        Analyze::SparkVersion(_) => AnalyzeResult::SparkVersion(resp::SparkVersion {
            version: crate::service::SPARK_VERSION.into(),
        }),
        Analyze::DdlParse(d) => {
            let tz = session.planner_config().time_zone;
            let parsed = types::parse_ddl(&d.ddl_string, &tz)?;
            AnalyzeResult::DdlParse(resp::DdlParse {
                parsed: Some(types::to_proto(&parsed)?),
            })
        }
        Analyze::JsonToDdl(j) => {
            let tz = session.planner_config().time_zone;
            let parsed = types::parse_schema_string(&j.json_string, &tz)?;
            let ddl = match &parsed {
                arrow::datatypes::DataType::Struct(fields) => fields
                    .iter()
                    .map(|f| {
                        format!(
                            "{} {}{}",
                            f.name(),
                            types::sql_name(f.data_type()),
                            if f.is_nullable() { "" } else { " NOT NULL" }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(","),
                other => types::sql_name(other),
            };
            AnalyzeResult::JsonToDdl(resp::JsonToDdl { ddl_string: ddl })
        }
        Analyze::SameSemantics(s) => {
            let state = session.ctx.state();
            let a = state.optimize(&logical(session, s.target_plan).await?)?;
            let b = state.optimize(&logical(session, s.other_plan).await?)?;
            AnalyzeResult::SameSemantics(resp::SameSemantics {
                result: same_plan(&a, &b),
            })
        }
        Analyze::SemanticHash(s) => {
            let plan = session
                .ctx
                .state()
                .optimize(&logical(session, s.plan).await?)?;
            AnalyzeResult::SemanticHash(resp::SemanticHash {
                result: semantic_hash(&plan),
            })
        }
        // sluice does not cache: persist is accepted and the data is recomputed on each use.
        Analyze::Persist(p) => {
            if let Some(r) = &p.relation {
                plan_relation(session, r).await?;
            }
            AnalyzeResult::Persist(resp::Persist {})
        }
        Analyze::Unpersist(_) => AnalyzeResult::Unpersist(resp::Unpersist {}),
        Analyze::GetStorageLevel(_) => AnalyzeResult::GetStorageLevel(resp::GetStorageLevel {
            storage_level: Some(StorageLevel {
                use_disk: false,
                use_memory: false,
                use_off_heap: false,
                deserialized: false,
                replication: 1,
            }),
        }),
    })
}

pub fn operation_statuses(
    session: &Session,
    request: Option<OperationStatusRequest>,
) -> Vec<OperationStatus> {
    let wanted = request.map(|r| r.operation_ids).unwrap_or_default();
    session
        .operations()
        .into_iter()
        .filter(|o| wanted.is_empty() || wanted.contains(&o.id))
        .map(|o| OperationStatus {
            operation_id: o.id.clone(),
            state: match o.state() {
                OpState::Running => OperationState::Running,
                OpState::Done => OperationState::Succeeded,
                OpState::Failed(s) if s.code() == tonic::Code::Cancelled => {
                    OperationState::Cancelled
                }
                OpState::Failed(_) => OperationState::Failed,
            } as i32,
            extensions: vec![],
        })
        .collect()
}
