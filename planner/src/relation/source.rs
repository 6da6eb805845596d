//! Leaf relations: reads, client-side data (local relations), ranges; and sampling.
use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{Field, Schema, SchemaRef};
use arrow::ipc::reader::StreamReader;
use datafusion::datasource::{provider_as_source, MemTable};
use datafusion::logical_expr::{cast, col, lit, Expr, LogicalPlan, LogicalPlanBuilder};
use proto::connect::read::ReadType;
use proto::connect::{ChunkedCachedLocalRelation, Range, Read, Sample};

use crate::error::{PlanError, PlanResult};
use crate::{types, DataSource, Planner, StreamingRead};

impl Planner<'_> {
    pub(crate) async fn read(&self, r: &Read) -> PlanResult<LogicalPlan> {
        if r.is_streaming {
            return unqualified(self.resolver.streaming_read(self.streaming(r)?).await?);
        }
        match r.read_type.as_ref() {
            Some(ReadType::NamedTable(t)) => {
                let parts = crate::expression::split_name(&t.unparsed_identifier);
                self.resolver.table(parts).await
            }
            Some(ReadType::DataSource(d)) => {
                unqualified(self.resolver.data_source(self.data_source(d)?).await?)
            }
            None => Err(PlanError::invalid("read without a source")),
        }
    }

    fn streaming(&self, r: &Read) -> PlanResult<StreamingRead> {
        match r.read_type.as_ref() {
            Some(ReadType::NamedTable(t)) => Ok(StreamingRead::Table(
                crate::expression::split_name(&t.unparsed_identifier),
                lower_keys(&t.options),
            )),
            Some(ReadType::DataSource(d)) => Ok(StreamingRead::Source(self.data_source(d)?)),
            None => Err(PlanError::invalid("read without a source")),
        }
    }

    fn data_source(&self, d: &proto::connect::read::DataSource) -> PlanResult<DataSource> {
        let schema = match d.schema.as_deref().filter(|s| !s.trim().is_empty()) {
            Some(s) => Some(struct_schema(types::parse_schema_string(
                s,
                &self.config.time_zone,
            )?)?),
            None => None,
        };
        Ok(DataSource {
            format: d
                .format
                .clone()
                .unwrap_or_else(|| "parquet".into())
                .to_ascii_lowercase(),
            paths: d.paths.clone(),
            schema,
            options: lower_keys(&d.options),
        })
    }
}

/// Spark's reader options are case-insensitive: keys are kept lower-cased.
fn lower_keys(options: &HashMap<String, String>) -> HashMap<String, String> {
    options
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect()
}

/// Columns of data that has no table name carry no qualifier, as in Spark.
pub(crate) fn unqualified(plan: LogicalPlan) -> PlanResult<LogicalPlan> {
    let schema = plan.schema().clone();
    if schema.columns().iter().all(|c| c.relation.is_none()) {
        return Ok(plan);
    }
    let exprs: Vec<Expr> = (0..schema.fields().len())
        .map(|i| crate::expression::column_at(&schema, i).alias(schema.field(i).name()))
        .collect();
    Ok(LogicalPlanBuilder::from(plan).project(exprs)?.build()?)
}

/// An Arrow schema from a parsed Spark struct type.
pub(crate) fn struct_schema(dt: arrow::datatypes::DataType) -> PlanResult<SchemaRef> {
    match dt {
        arrow::datatypes::DataType::Struct(fields) => Ok(Arc::new(Schema::new(fields))),
        other => Ok(Arc::new(Schema::new(vec![Field::new(
            "value", other, true,
        )]))),
    }
}

fn decode_ipc(bytes: &[u8]) -> PlanResult<(SchemaRef, Vec<RecordBatch>)> {
    let reader = StreamReader::try_new(std::io::Cursor::new(bytes), None)?;
    let schema = reader.schema();
    let batches = reader.collect::<Result<Vec<_>, _>>()?;
    Ok((schema, batches))
}

/// Client data sent inline as an Arrow IPC stream, with Spark's schema string.
pub(crate) fn local_relation(
    p: &Planner,
    data: Option<&[u8]>,
    schema: Option<&str>,
) -> PlanResult<LogicalPlan> {
    let declared = match schema.filter(|s| !s.trim().is_empty()) {
        Some(s) => Some(struct_schema(types::parse_schema_string(
            s,
            &p.config.time_zone,
        )?)?),
        None => None,
    };
    let (arrow_schema, batches) = match data {
        Some(bytes) if !bytes.is_empty() => decode_ipc(bytes)?,
        _ => {
            let schema = declared
                .clone()
                .unwrap_or_else(|| Arc::new(Schema::empty()));
            (schema, vec![])
        }
    };
    in_memory(arrow_schema, batches, declared)
}

pub(crate) fn chunked_local_relation(
    p: &Planner,
    c: &ChunkedCachedLocalRelation,
) -> PlanResult<LogicalPlan> {
    let declared = match &c.schema_hash {
        Some(h) => {
            let bytes = p.resolver.cached_bytes(h)?;
            let text = String::from_utf8(bytes)
                .map_err(|_| PlanError::invalid("schema artifact is not UTF-8"))?;
            Some(struct_schema(types::parse_schema_string(
                &text,
                &p.config.time_zone,
            )?)?)
        }
        None => None,
    };
    let mut schema = None;
    let mut batches = vec![];
    for hash in &c.data_hashes {
        let (s, b) = decode_ipc(&p.resolver.cached_bytes(hash)?)?;
        schema.get_or_insert(s);
        batches.extend(b);
    }
    let schema = schema
        .or_else(|| declared.clone())
        .unwrap_or_else(|| Arc::new(Schema::empty()));
    in_memory(schema, batches, declared)
}

/// Scans batches from memory, then casts and renames them to the declared Spark schema.
fn in_memory(
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    declared: Option<SchemaRef>,
) -> PlanResult<LogicalPlan> {
    let table = MemTable::try_new(schema.clone(), vec![batches])?;
    let plan =
        LogicalPlanBuilder::scan("local_relation", provider_as_source(Arc::new(table)), None)?
            .build()?;
    let Some(declared) = declared.filter(|d| d.fields().len() == schema.fields().len()) else {
        return unqualified(plan);
    };
    let exprs: Vec<Expr> = schema
        .fields()
        .iter()
        .zip(declared.fields())
        .map(|(have, want)| {
            let c = col(datafusion::common::Column::new_unqualified(have.name()));
            let c = if have.data_type() == want.data_type() {
                c
            } else {
                cast(c, want.data_type().clone())
            };
            c.alias(want.name())
        })
        .collect();
    Ok(LogicalPlanBuilder::from(plan).project(exprs)?.build()?)
}

/// `spark.range(start, end, step)`: one `id` column of longs.
pub(crate) fn range(p: &Planner, r: &Range) -> PlanResult<LogicalPlan> {
    if r.step == 0 {
        return Err(PlanError::invalid(
            "[FAILED_FUNCTION_CALL] The step of range must not be 0.",
        ));
    }
    let f = p
        .state
        .table_functions()
        .get("range")
        .ok_or_else(|| PlanError::UnknownFunction("`range`".into()))?;
    let start = r.start.unwrap_or(0);
    let args = [lit(start), lit(r.end), lit(r.step)];
    let provider = f.create_table_provider_with_args(
        datafusion::catalog::TableFunctionArgs::new(&args, p.state),
    )?;
    let scan = LogicalPlanBuilder::scan("range", provider_as_source(provider), None)?;
    // DataFusion's own `range` names its column `value`; the session may carry Spark's.
    let column = if scan.schema().has_column_with_unqualified_name("value") {
        "value"
    } else {
        "id"
    };
    Ok(scan.project(vec![col(column).alias("id")])?.build()?)
}

/// `df.sample(fraction, seed)`: a Bernoulli sample; a seed makes it repeatable.
pub(crate) fn sample(p: &Planner, input: LogicalPlan, s: &Sample) -> PlanResult<LogicalPlan> {
    if s.with_replacement.unwrap_or(false) {
        return Err(PlanError::unsupported("sample(withReplacement=True)"));
    }
    let fraction = s.upper_bound - s.lower_bound;
    if !(0.0..=1.0).contains(&fraction) {
        return Err(PlanError::invalid(format!(
            "requirement failed: Sampling fraction ({fraction}) must be on interval [0, 1] without replacement"
        )));
    }
    // Without a seed the draws differ between runs, as Spark picks a random one.
    let draw = crate::random::call(s.seed.map(lit));
    let filter = draw.lt(lit(fraction));
    let _ = p;
    Ok(LogicalPlanBuilder::from(input).filter(filter)?.build()?)
}
