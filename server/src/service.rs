//! The SparkConnectService RPCs.
use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use proto::connect::spark_connect_service_server::SparkConnectService;
use proto::connect::*;
use tonic::{Request, Response, Status, Streaming};

use crate::error::SparkError;
use crate::session::{OpState, Operation, Session, Sessions};

/// The Spark version sluice speaks (the protocol of pyspark-client 4.2).
pub const SPARK_VERSION: &str = "4.2.0";

pub struct Service {
    pub sessions: Arc<Sessions>,
}

type ResponseStream = Pin<Box<dyn Stream<Item = Result<ExecutePlanResponse, Status>> + Send>>;

fn user_of(u: &Option<UserContext>) -> String {
    u.as_ref().map(|u| u.user_id.clone()).unwrap_or_default()
}

/// Maps an error to a status, remembering it for FetchErrorDetails.
fn fail(session: Option<&Session>, e: SparkError) -> Status {
    let id = uuid::Uuid::new_v4().to_string();
    if let Some(s) = session {
        s.record_error(&id, e.throwable());
    }
    tracing::debug!(error = %e, "request failed");
    e.to_status(&id)
}

impl Service {
    fn session(&self, user: &Option<UserContext>, id: &str) -> Result<Arc<Session>, Status> {
        self.sessions
            .get_or_create(&user_of(user), id)
            .map_err(|e| fail(None, e))
    }

    /// Streams an operation's responses from `start`, waiting for new ones until it ends.
    fn follow(op: Arc<Operation>, start: usize) -> ResponseStream {
        let stream = async_stream::stream! {
            let mut i = start;
            let mut progress = op.subscribe();
            loop {
                if i < op.len() {
                    if let Some(r) = op.get(i) {
                        yield Ok(r);
                    }
                    i += 1;
                    continue;
                }
                match op.state() {
                    OpState::Done if i >= op.len() => break,
                    OpState::Failed(status) if i >= op.len() => {
                        yield Err(Status::new(status.code(), status.message()).clone_details(&status));
                        break;
                    }
                    _ => {
                        if progress.changed().await.is_err() && i >= op.len() {
                            break;
                        }
                    }
                }
            }
        };
        Box::pin(stream)
    }
}

/// `Status` is not `Clone` with details; rebuild it from parts.
trait CloneDetails {
    fn clone_details(self, from: &Status) -> Status;
}

impl CloneDetails for Status {
    fn clone_details(self, from: &Status) -> Status {
        Status::with_details(from.code(), from.message(), from.details().to_vec().into())
    }
}

#[tonic::async_trait]
impl SparkConnectService for Service {
    type ExecutePlanStream = ResponseStream;
    type ReattachExecuteStream = ResponseStream;

    async fn execute_plan(
        &self,
        request: Request<ExecutePlanRequest>,
    ) -> Result<Response<ResponseStream>, Status> {
        let req = request.into_inner();
        let session = self.session(&req.user_context, &req.session_id)?;
        let op_id = req
            .operation_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let op = session
            .start_operation(op_id, req.tags.clone())
            .map_err(|e| fail(Some(&session), e))?;
        if in_pipeline_definition(&req.user_context) {
            op.mark_pipeline_definition();
        }
        let plan = req.plan.ok_or_else(|| {
            fail(
                Some(&session),
                SparkError::invalid("ExecutePlan without a plan"),
            )
        })?;
        let (s, o) = (session.clone(), op.clone());
        let task = tokio::spawn(async move {
            let result = crate::execute::run(&s, &o, plan).await;
            match result {
                Ok(()) => o.finish(OpState::Done),
                Err(e) => o.finish(OpState::Failed(Arc::new(fail(Some(&s), e)))),
            }
        });
        op.set_task(task.abort_handle());
        Ok(Response::new(Self::follow(op, 0)))
    }

    async fn reattach_execute(
        &self,
        request: Request<ReattachExecuteRequest>,
    ) -> Result<Response<ResponseStream>, Status> {
        let req = request.into_inner();
        let session = self.session(&req.user_context, &req.session_id)?;
        let op = session.operation(&req.operation_id).ok_or_else(|| {
            fail(
                Some(&session),
                SparkError::invalid(format!(
                    "[INVALID_HANDLE.OPERATION_NOT_FOUND] The handle {} is invalid. Operation not found.",
                    req.operation_id
                )),
            )
        })?;
        let start = match &req.last_response_id {
            Some(id) => op.index_after(id).ok_or_else(|| {
                fail(
                    Some(&session),
                    SparkError::invalid(format!(
                        "[INVALID_CURSOR.POSITION_NOT_AVAILABLE] The cursor is invalid. The cursor position id {id} is not found."
                    )),
                )
            })?,
            None => 0,
        };
        Ok(Response::new(Self::follow(op, start)))
    }

    async fn release_execute(
        &self,
        request: Request<ReleaseExecuteRequest>,
    ) -> Result<Response<ReleaseExecuteResponse>, Status> {
        let req = request.into_inner();
        let session = self.session(&req.user_context, &req.session_id)?;
        use release_execute_request::Release;
        if let Some(op) = session.operation(&req.operation_id) {
            match &req.release {
                Some(Release::ReleaseUntil(u)) => op.release_until(Some(&u.response_id)),
                _ => {
                    op.release_until(None);
                    if !matches!(op.state(), OpState::Running) {
                        session.remove_operation(&req.operation_id);
                    }
                }
            }
        }
        Ok(Response::new(ReleaseExecuteResponse {
            session_id: session.id.clone(),
            server_side_session_id: session.server_side_id.clone(),
            operation_id: Some(req.operation_id),
        }))
    }

    async fn analyze_plan(
        &self,
        request: Request<AnalyzePlanRequest>,
    ) -> Result<Response<AnalyzePlanResponse>, Status> {
        let req = request.into_inner();
        let session = self.session(&req.user_context, &req.session_id)?;
        let in_pipeline = in_pipeline_definition(&req.user_context);
        let result = crate::analyze::analyze(&session, req.analyze, in_pipeline)
            .await
            .map_err(|e| fail(Some(&session), e))?;
        Ok(Response::new(AnalyzePlanResponse {
            session_id: session.id.clone(),
            server_side_session_id: session.server_side_id.clone(),
            result: Some(result),
        }))
    }

    async fn config(
        &self,
        request: Request<ConfigRequest>,
    ) -> Result<Response<ConfigResponse>, Status> {
        let req = request.into_inner();
        let session = self.session(&req.user_context, &req.session_id)?;
        let op = req.operation.and_then(|o| o.op_type);
        let (pairs, warnings) =
            crate::config_ops::apply(&session, op).map_err(|e| fail(Some(&session), e))?;
        Ok(Response::new(ConfigResponse {
            session_id: session.id.clone(),
            server_side_session_id: session.server_side_id.clone(),
            pairs,
            warnings,
        }))
    }

    async fn add_artifacts(
        &self,
        request: Request<Streaming<AddArtifactsRequest>>,
    ) -> Result<Response<AddArtifactsResponse>, Status> {
        let mut stream = request.into_inner();
        let mut session: Option<Arc<Session>> = None;
        let mut summaries = vec![];
        let mut pending: Option<(String, Vec<u8>, bool)> = None;
        use add_artifacts_request::Payload;
        while let Some(req) = stream.message().await? {
            let s = match &session {
                Some(s) => s.clone(),
                None => {
                    let s = self.session(&req.user_context, &req.session_id)?;
                    session = Some(s.clone());
                    s
                }
            };
            match req.payload {
                Some(Payload::Batch(b)) => {
                    for a in b.artifacts {
                        let data = a.data.unwrap_or_default();
                        let ok = crc_ok(&data.data, data.crc);
                        if ok {
                            s.add_artifact(a.name.clone(), data.data);
                        }
                        summaries.push(add_artifacts_response::ArtifactSummary {
                            name: a.name,
                            is_crc_successful: ok,
                        });
                    }
                }
                Some(Payload::BeginChunk(b)) => {
                    if let Some((name, data, ok)) = pending.take() {
                        summaries.push(store(&s, name, data, ok));
                    }
                    let first = b.initial_chunk.unwrap_or_default();
                    let ok = crc_ok(&first.data, first.crc);
                    pending = Some((b.name, first.data, ok));
                }
                Some(Payload::Chunk(c)) => {
                    if let Some((_, data, ok)) = pending.as_mut() {
                        *ok &= crc_ok(&c.data, c.crc);
                        data.extend_from_slice(&c.data);
                    }
                }
                None => {}
            }
        }
        if let (Some(s), Some((name, data, ok))) = (&session, pending) {
            summaries.push(store(s, name, data, ok));
        }
        let s = session.ok_or_else(|| Status::invalid_argument("AddArtifacts without requests"))?;
        Ok(Response::new(AddArtifactsResponse {
            session_id: s.id.clone(),
            server_side_session_id: s.server_side_id.clone(),
            artifacts: summaries,
        }))
    }

    async fn artifact_status(
        &self,
        request: Request<ArtifactStatusesRequest>,
    ) -> Result<Response<ArtifactStatusesResponse>, Status> {
        let req = request.into_inner();
        let session = self.session(&req.user_context, &req.session_id)?;
        let statuses = req
            .names
            .into_iter()
            .map(|n| {
                let exists = session.has_artifact(&n);
                (n, artifact_statuses_response::ArtifactStatus { exists })
            })
            .collect();
        Ok(Response::new(ArtifactStatusesResponse {
            session_id: session.id.clone(),
            server_side_session_id: session.server_side_id.clone(),
            statuses,
        }))
    }

    async fn interrupt(
        &self,
        request: Request<InterruptRequest>,
    ) -> Result<Response<InterruptResponse>, Status> {
        let req = request.into_inner();
        let session = self.session(&req.user_context, &req.session_id)?;
        use interrupt_request::{Interrupt, InterruptType};
        let ops = session.operations();
        let running = ops.iter().filter(|o| matches!(o.state(), OpState::Running));
        let chosen: Vec<&Arc<Operation>> = match (req.interrupt_type(), &req.interrupt) {
            (InterruptType::All, _) => running.collect(),
            (InterruptType::Tag, Some(Interrupt::OperationTag(t))) => {
                running.filter(|o| o.tags.contains(t)).collect()
            }
            (InterruptType::OperationId, Some(Interrupt::OperationId(id))) => {
                running.filter(|o| &o.id == id).collect()
            }
            _ => {
                return Err(fail(
                    Some(&session),
                    SparkError::invalid("interrupt without a target"),
                ))
            }
        };
        let ids = chosen
            .into_iter()
            .map(|o| {
                o.interrupt();
                o.id.clone()
            })
            .collect();
        Ok(Response::new(InterruptResponse {
            session_id: session.id.clone(),
            server_side_session_id: session.server_side_id.clone(),
            interrupted_ids: ids,
        }))
    }

    async fn release_session(
        &self,
        request: Request<ReleaseSessionRequest>,
    ) -> Result<Response<ReleaseSessionResponse>, Status> {
        let req = request.into_inner();
        let released = self
            .sessions
            .release(&user_of(&req.user_context), &req.session_id);
        Ok(Response::new(ReleaseSessionResponse {
            session_id: req.session_id,
            server_side_session_id: released
                .map(|s| s.server_side_id.clone())
                .unwrap_or_default(),
        }))
    }

    async fn fetch_error_details(
        &self,
        request: Request<FetchErrorDetailsRequest>,
    ) -> Result<Response<FetchErrorDetailsResponse>, Status> {
        let req = request.into_inner();
        let session = self.session(&req.user_context, &req.session_id)?;
        let errors = match session.error(&req.error_id) {
            Some(t) => vec![fetch_error_details_response::Error {
                error_type_hierarchy: t.classes.iter().map(|c| c.to_string()).collect(),
                message: t.message.clone(),
                stack_trace: vec![],
                cause_idx: None,
                spark_throwable: Some(fetch_error_details_response::SparkThrowable {
                    error_class: t.error_class.clone(),
                    message_parameters: t.parameters.clone(),
                    query_contexts: vec![],
                    sql_state: t.sql_state.clone(),
                    breaking_change_info: None,
                }),
            }],
            None => vec![],
        };
        Ok(Response::new(FetchErrorDetailsResponse {
            server_side_session_id: session.server_side_id.clone(),
            session_id: session.id.clone(),
            root_error_idx: (!errors.is_empty()).then_some(0),
            errors,
        }))
    }

    async fn clone_session(
        &self,
        request: Request<CloneSessionRequest>,
    ) -> Result<Response<CloneSessionResponse>, Status> {
        let req = request.into_inner();
        let session = self.session(&req.user_context, &req.session_id)?;
        let new_id = req
            .new_session_id
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let clone = self
            .sessions
            .clone_session(&session, &new_id)
            .map_err(|e| fail(Some(&session), e))?;
        Ok(Response::new(CloneSessionResponse {
            session_id: session.id.clone(),
            server_side_session_id: session.server_side_id.clone(),
            new_session_id: clone.id.clone(),
            new_server_side_session_id: clone.server_side_id.clone(),
        }))
    }

    async fn get_status(
        &self,
        request: Request<GetStatusRequest>,
    ) -> Result<Response<GetStatusResponse>, Status> {
        let req = request.into_inner();
        let session = self.session(&req.user_context, &req.session_id)?;
        let statuses = crate::analyze::operation_statuses(&session, req.operation_status);
        Ok(Response::new(GetStatusResponse {
            session_id: session.id.clone(),
            server_side_session_id: session.server_side_id.clone(),
            operation_statuses: statuses,
            extensions: vec![],
        }))
    }
}

fn crc_ok(data: &[u8], crc: i64) -> bool {
    crc32fast::hash(data) as i64 == crc
}

/// Keeps an artifact whose checksum matched.
fn store(
    s: &Session,
    name: String,
    data: Vec<u8>,
    ok: bool,
) -> add_artifacts_response::ArtifactSummary {
    if ok {
        s.add_artifact(name.clone(), data);
    }
    add_artifacts_response::ArtifactSummary {
        name,
        is_crc_successful: ok,
    }
}

/// The request comes from code defining a pipeline (the client's PipelineAnalysisContext
/// extension): the datasets it names may not exist yet.
fn in_pipeline_definition(user: &Option<proto::connect::UserContext>) -> bool {
    user.as_ref().is_some_and(|u| {
        u.extensions.iter().any(|e| {
            e.type_url
                .ends_with("spark.connect.PipelineAnalysisContext")
        })
    })
}
