//! Running a plan: relations become Arrow batches in Spark's types; commands run for their
//! effect (SQL statements, views, writes).
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::datasource::ViewTable;
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder};
use datafusion::prelude::DataFrame;
use futures::StreamExt;
use planner::{show, types, Planner};
use proto::connect::command::CommandType;
use proto::connect::execute_plan_response::{
    ArrowBatch, ResponseType, ResultComplete, SqlCommandResult,
};
use proto::connect::plan::OpType;
use proto::connect::relation::RelType;
use proto::connect::{Command, ExecutePlanResponse, LocalRelation, Plan, Relation};

use crate::catalog::SessionResolver;
use crate::error::{SparkError, SparkResult};
use crate::session::{Operation, Session};

/// Plans a relation in the session.
pub async fn plan_relation(session: &Session, rel: &Relation) -> SparkResult<LogicalPlan> {
    if let Some(RelType::Catalog(c)) = &rel.rel_type {
        // Catalog calls answer with rows; analysing one (df.columns) runs it.
        let plan_id = rel.common.as_ref().and_then(|c| c.plan_id);
        let batch = Box::pin(crate::catalog_ops::run(session, c, plan_id)).await?;
        let table = datafusion::datasource::MemTable::try_new(batch.schema(), vec![vec![batch]])?;
        return Ok(datafusion::logical_expr::LogicalPlanBuilder::scan(
            "catalog",
            datafusion::datasource::provider_as_source(Arc::new(table)),
            None,
        )?
        .build()?);
    }
    let resolver = SessionResolver::new(session);
    let state = session.ctx.state();
    let planner = Planner::new(&state, &resolver, session.planner_config());
    Ok(planner.plan(rel).await?)
}

/// The Arrow type a Spark client expects for `dt` (no view types, microsecond timestamps).
pub fn spark_arrow_type(dt: &DataType) -> DataType {
    match dt {
        DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
        DataType::BinaryView | DataType::LargeBinary | DataType::FixedSizeBinary(_) => {
            DataType::Binary
        }
        DataType::Timestamp(_, tz) => DataType::Timestamp(TimeUnit::Microsecond, tz.clone()),
        DataType::Duration(_) => DataType::Duration(TimeUnit::Microsecond),
        DataType::Date64 => DataType::Date32,
        DataType::UInt8 => DataType::Int16,
        DataType::UInt16 => DataType::Int32,
        DataType::UInt32 | DataType::UInt64 => DataType::Int64,
        DataType::Float16 => DataType::Float32,
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::ListView(f)
        | DataType::LargeListView(f) => DataType::List(Arc::new(spark_field(f))),
        DataType::FixedSizeList(f, _) => DataType::List(Arc::new(spark_field(f))),
        DataType::Struct(fields) => {
            DataType::Struct(fields.iter().map(|f| spark_field(f)).collect())
        }
        DataType::Map(entries, sorted) => DataType::Map(Arc::new(spark_field(entries)), *sorted),
        DataType::Dictionary(_, v) => spark_arrow_type(v),
        other => other.clone(),
    }
}

/// The field as the client gets it: Spark's Arrow type, and of the metadata only a column
/// comment (other metadata is DataFusion's and Delta's own bookkeeping).
fn spark_field(f: &Field) -> Field {
    let field = Field::new(f.name(), spark_arrow_type(f.data_type()), f.is_nullable());
    match f.metadata().get(planner::types::COMMENT_KEY) {
        Some(c) => {
            field.with_metadata([(planner::types::COMMENT_KEY.to_string(), c.clone())].into())
        }
        None => field,
    }
}

pub fn spark_schema(schema: &Schema) -> SchemaRef {
    Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| spark_field(f))
            .collect::<Vec<_>>(),
    ))
}

pub fn to_spark_batch(batch: &RecordBatch, schema: &SchemaRef) -> SparkResult<RecordBatch> {
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(c, f)| {
            if c.data_type() == f.data_type() {
                Ok(c.clone())
            } else {
                arrow::compute::cast(c, f.data_type())
            }
        })
        .collect::<Result<Vec<ArrayRef>, _>>()?;
    Ok(RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &arrow::array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )?)
}

pub fn ipc_bytes(batch: &RecordBatch) -> SparkResult<Vec<u8>> {
    let mut buf = Vec::new();
    {
        let mut w = arrow::ipc::writer::StreamWriter::try_new(&mut buf, &batch.schema())?;
        w.write(batch)?;
        w.finish()?;
    }
    Ok(buf)
}

/// Writes responses for one operation, stamping the ids every response carries.
pub struct Responder<'a> {
    pub session: &'a Session,
    pub op: &'a Operation,
}

impl Responder<'_> {
    pub fn send(&self, r: ResponseType) {
        self.send_full(ExecutePlanResponse {
            response_type: Some(r),
            ..Default::default()
        });
    }

    pub fn send_full(&self, mut r: ExecutePlanResponse) {
        r.session_id = self.session.id.clone();
        r.server_side_session_id = self.session.server_side_id.clone();
        r.operation_id = self.op.id.clone();
        r.response_id = uuid::Uuid::new_v4().to_string();
        self.op.push(r);
    }
}

/// Runs one plan, pushing its responses (ending with ResultComplete).
pub async fn run(session: &Arc<Session>, op: &Operation, plan: Plan) -> SparkResult<()> {
    let out = Responder { session, op };
    let op_type = match plan.op_type {
        Some(OpType::CompressedOperation(c)) => crate::compression::decompress(c)?,
        other => other,
    };
    match op_type {
        Some(OpType::Root(rel)) => run_relation(session, &out, &rel).await?,
        Some(OpType::Command(cmd)) => run_command(session, &out, cmd).await?,
        Some(OpType::CompressedOperation(_)) | None => {
            return Err(SparkError::invalid("plan without an operation"))
        }
    }
    out.send(ResponseType::ResultComplete(ResultComplete {}));
    Ok(())
}

async fn run_relation(session: &Session, out: &Responder<'_>, rel: &Relation) -> SparkResult<()> {
    match &rel.rel_type {
        Some(RelType::ShowString(s)) => {
            let input = required(&s.input)?;
            let text = render(session, input, s.num_rows, |f, b, n| {
                show::show_string(
                    f,
                    b,
                    n,
                    usize::try_from(s.truncate).unwrap_or(0),
                    s.vertical,
                )
            })
            .await?;
            return send_batch(out, &single_string("show_string", text)?, true);
        }
        Some(RelType::Catalog(c)) => {
            let plan_id = rel.common.as_ref().and_then(|c| c.plan_id);
            let batch = crate::catalog_ops::run(session, c, plan_id).await?;
            return send_batch(out, &batch, true);
        }
        Some(RelType::HtmlString(s)) => {
            let input = required(&s.input)?;
            let text = render(session, input, s.num_rows, |f, b, n| {
                show::html_string(f, b, n, usize::try_from(s.truncate).unwrap_or(0))
            })
            .await?;
            return send_batch(out, &single_string("html_string", text)?, true);
        }
        _ => {}
    }
    let plan = plan_relation(session, rel).await?;
    stream_plan(session, out, plan).await
}

fn required(r: &Option<Box<Relation>>) -> SparkResult<&Relation> {
    r.as_deref()
        .ok_or_else(|| SparkError::invalid("relation without an input"))
}

async fn render(
    session: &Session,
    input: &Relation,
    num_rows: i32,
    f: impl Fn(&[Field], &[RecordBatch], usize) -> String,
) -> SparkResult<String> {
    let n = usize::try_from(num_rows).unwrap_or(0);
    let plan = plan_relation(session, input).await?;
    crate::streaming::source::refuse_batch(&plan)?;
    let plan = LogicalPlanBuilder::from(plan)
        .limit(0, Some(n + 1))?
        .build()?;
    let df = DataFrame::new(session.ctx.state(), plan);
    // From the plan, not the batches: an empty result may come without any batch.
    let schema = spark_schema(df.schema().as_arrow());
    let batches = df.collect().await?;
    let fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    let batches = batches
        .iter()
        .map(|b| to_spark_batch(b, &schema))
        .collect::<SparkResult<Vec<_>>>()?;
    Ok(f(&fields, &batches, n))
}

fn single_string(name: &str, value: String) -> SparkResult<RecordBatch> {
    let schema = Arc::new(Schema::new(vec![Field::new(name, DataType::Utf8, true)]));
    Ok(RecordBatch::try_new(
        schema,
        vec![Arc::new(StringArray::from(vec![value]))],
    )?)
}

fn send_batch(out: &Responder<'_>, batch: &RecordBatch, with_schema: bool) -> SparkResult<()> {
    if with_schema {
        out.send_full(ExecutePlanResponse {
            schema: Some(types::schema_to_proto(&batch.schema())?),
            ..Default::default()
        });
    }
    out.send(ResponseType::ArrowBatch(ArrowBatch {
        row_count: batch.num_rows() as i64,
        data: ipc_bytes(batch)?,
        start_offset: None,
        chunk_index: None,
        num_chunks_in_batch: None,
    }));
    Ok(())
}

/// Executes `plan`, streaming Spark-typed Arrow batches.
pub async fn stream_plan(
    session: &Session,
    out: &Responder<'_>,
    plan: LogicalPlan,
) -> SparkResult<()> {
    crate::streaming::source::refuse_batch(&plan)?;
    let df = DataFrame::new(session.ctx.state(), plan);
    let schema = spark_schema(df.schema().as_arrow());
    out.send_full(ExecutePlanResponse {
        schema: Some(types::schema_to_proto(&schema)?),
        ..Default::default()
    });
    let mut stream = df.execute_stream().await?;
    let mut offset = 0i64;
    let mut sent = false;
    while let Some(batch) = stream.next().await {
        let batch = to_spark_batch(&batch?, &schema)?;
        if batch.num_rows() == 0 && sent {
            continue;
        }
        out.send(ResponseType::ArrowBatch(ArrowBatch {
            row_count: batch.num_rows() as i64,
            data: ipc_bytes(&batch)?,
            start_offset: Some(offset),
            chunk_index: None,
            num_chunks_in_batch: None,
        }));
        offset += batch.num_rows() as i64;
        sent = true;
    }
    if !sent {
        // An empty result still tells the client its columns.
        send_batch(out, &RecordBatch::new_empty(schema), false)?;
    }
    Ok(())
}

async fn run_command(session: &Arc<Session>, out: &Responder<'_>, cmd: Command) -> SparkResult<()> {
    match cmd.command_type {
        Some(CommandType::SqlCommand(sql)) => {
            crate::statements::sql_command(session, out, sql).await
        }
        Some(CommandType::CreateDataframeView(v)) => {
            let input = v
                .input
                .as_ref()
                .ok_or_else(|| SparkError::invalid("view without a query"))?;
            let plan = plan_relation(session, input).await?;
            create_view(session, &v.name, plan, v.replace, v.is_global)
        }
        Some(CommandType::WriteOperation(w)) => crate::writers::write(session, w).await,
        Some(CommandType::WriteOperationV2(w)) => crate::write_to::write_to(session, w).await,
        Some(CommandType::WriteStreamOperationStart(w)) => {
            let r = crate::streaming::start(session, w).await?;
            out.send(ResponseType::WriteStreamOperationStartResult(r));
            Ok(())
        }
        Some(CommandType::StreamingQueryCommand(c)) => {
            let r = crate::streaming::query_command(session, c).await?;
            out.send(ResponseType::StreamingQueryCommandResult(r));
            Ok(())
        }
        Some(CommandType::StreamingQueryManagerCommand(c)) => {
            let r = crate::streaming::manager_command(session, c).await?;
            out.send(ResponseType::StreamingQueryManagerCommandResult(r));
            Ok(())
        }
        Some(CommandType::PipelineCommand(p)) => crate::pipelines::command(session, out, p).await,
        Some(CommandType::MergeIntoTableCommand(m)) => {
            crate::delta_ops::merge_into(session, &m).await
        }
        Some(CommandType::MlCommand(ml)) => {
            // PySpark sends CleanCache at exit on its own. Nothing is ever cached, so Spark's
            // answer is "0 models removed". The client needs that result before
            // ResultComplete: if ResultComplete comes first, its release at interpreter
            // shutdown fails inside the stream and the process hangs in grpc on exit.
            use proto::connect::expression::{literal::LiteralType, Literal};
            use proto::connect::ml_command::Command as Ml;
            use proto::connect::ml_command_result::ResultType as MlResult;
            match ml.command {
                Some(Ml::CleanCache(_)) => {
                    out.send(ResponseType::MlCommandResult(
                        proto::connect::MlCommandResult {
                            result_type: Some(MlResult::Param(Literal {
                                data_type: None,
                                literal_type: Some(LiteralType::Integer(0)),
                            })),
                        },
                    ));
                    Ok(())
                }
                Some(other) => Err(SparkError::unsupported(format!(
                    "the ML command {}",
                    format!("{other:?}").split('(').next().unwrap_or("?")
                ))),
                None => Ok(()),
            }
        }
        Some(other) => Err(SparkError::unsupported(format!(
            "the command {}",
            format!("{other:?}").split('(').next().unwrap_or("?")
        ))),
        None => Err(SparkError::invalid("command without a type")),
    }
}

/// Registers a temp view (or a global temp view) over `plan`.
pub fn create_view(
    session: &Session,
    name: &str,
    plan: LogicalPlan,
    replace: bool,
    global: bool,
) -> SparkResult<()> {
    let schema = if global {
        session.global_views()
    } else {
        session.views()
    };
    let short = name.rsplit('.').next().unwrap_or(name).to_string();
    if !replace && schema.table_exist(&short) {
        return Err(SparkError::Plan(planner::PlanError::analysis(format!(
            "[TEMP_TABLE_OR_VIEW_ALREADY_EXISTS] Cannot create the temporary view `{short}` because it already exists.\nChoose a different name, drop or replace the existing view,  or add the IF NOT EXISTS clause to tolerate pre-existing views."
        ))));
    }
    let view = ViewTable::new(plan, None);
    schema.register_table(short, Arc::new(view))?;
    Ok(())
}

/// A SQL query as a relation to plan (no arguments).
pub fn sql_relation(query: &str) -> Relation {
    Relation {
        common: None,
        rel_type: Some(RelType::Sql(proto::connect::Sql {
            query: query.to_string(),
            ..Default::default()
        })),
    }
}

/// A LocalRelation holding `batch`, as Spark returns the results of SQL commands.
pub fn local_relation(batch: &RecordBatch) -> SparkResult<Relation> {
    Ok(Relation {
        common: None,
        rel_type: Some(RelType::LocalRelation(LocalRelation {
            data: Some(ipc_bytes(batch)?),
            schema: Some(
                types::to_json(&DataType::Struct(batch.schema().fields().clone())).to_string(),
            ),
        })),
    })
}

pub fn sql_result(out: &Responder<'_>, relation: Relation) {
    out.send(ResponseType::SqlCommandResult(SqlCommandResult {
        relation: Some(relation),
    }));
}
