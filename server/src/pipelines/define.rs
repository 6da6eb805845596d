//! Definitions into a graph: `DefineOutput` / `DefineFlow` from clients, and the statements of
//! pipeline SQL files (`DefineSqlGraphElements`).
use std::collections::HashMap;

use planner::pipeline_sql::{self, ColumnSelection, DatasetKind, PipelineStatement, Violation};
use proto::connect::expression::{ExprType, ExpressionString};
use proto::connect::pipeline_command::define_flow::{self, AutoCdcFlowDetails};
use proto::connect::pipeline_command::define_output;
use proto::connect::pipeline_command::{DefineFlow, DefineOutput};
use proto::connect::read::{NamedTable, ReadType};
use proto::connect::relation::RelType;
use proto::connect::{Expression, OutputType, Read, Relation, SourceCodeLocation};
use serde_json::Value;

use super::graph::{
    Action, Cdc, Columns, Expectation, Flow, FlowBody, Graph, Ident, Origin, Output, OutputKind,
};
use crate::error::{SparkError, SparkResult};

/// What sluice's own client (`sluice-dlt`) says that the protocol has no field for (DLT
/// expectations, SCD type 2, ...): a `google.protobuf.Struct` in the `extension` of a second
/// DefineOutput / DefineFlow naming an element already defined (the extension shares a
/// oneof with the definition's details).
const EXPECTATIONS: &str = "sluice.expectations";
const SCD_TYPE: &str = "sluice.scd_type";
const TRACK_HISTORY: &str = "sluice.track_history_column_list";
const TRACK_HISTORY_EXCEPT: &str = "sluice.track_history_except_column_list";
const IGNORE_NULL_UPDATES: &str = "sluice.ignore_null_updates";
const ONCE: &str = "sluice.once";
const WHERE: &str = "sluice.where";
const PATH: &str = "sluice.path";
const TEMPORARY: &str = "sluice.temporary";

/// An extension's `Struct` as JSON.
fn extension(any: &prost_types::Any) -> SparkResult<serde_json::Map<String, Value>> {
    use prost::Message;
    if !any.type_url.ends_with("google.protobuf.Struct") {
        return Err(SparkError::unsupported(format!(
            "the pipeline extension {}",
            any.type_url
        )));
    }
    let s = prost_types::Struct::decode(any.value.as_slice())
        .map_err(|e| invalid(format!("a pipeline extension that is not a Struct: {e}")))?;
    Ok(s.fields
        .iter()
        .map(|(k, v)| (k.clone(), json_of(v)))
        .collect())
}

fn json_of(v: &prost_types::Value) -> Value {
    use prost_types::value::Kind;
    match &v.kind {
        Some(Kind::NullValue(_)) | None => Value::Null,
        Some(Kind::NumberValue(n)) => {
            serde_json::Number::from_f64(*n).map_or(Value::Null, Value::Number)
        }
        Some(Kind::StringValue(s)) => Value::String(s.clone()),
        Some(Kind::BoolValue(b)) => Value::Bool(*b),
        Some(Kind::StructValue(s)) => Value::Object(
            s.fields
                .iter()
                .map(|(k, v)| (k.clone(), json_of(v)))
                .collect(),
        ),
        Some(Kind::ListValue(l)) => Value::Array(l.values.iter().map(json_of).collect()),
    }
}

fn string_list(v: Option<&Value>) -> SparkResult<Option<Vec<String>>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| invalid("a column list must hold strings"))
            })
            .collect::<SparkResult<Vec<_>>>()
            .map(Some),
        Some(other) => Err(invalid(format!("a column list, not {other}"))),
    }
}

fn invalid(msg: impl Into<String>) -> SparkError {
    SparkError::invalid(msg)
}

fn ident(graph: &Graph, name: &str) -> SparkResult<Ident> {
    let parts = planner::sql::split_identifier(name);
    Ident::resolve(&parts, &graph.default_database)
        .ok_or_else(|| invalid(format!("Invalid dataset name: {name}")))
}

fn origin(loc: &Option<SourceCodeLocation>) -> Origin {
    match loc {
        Some(l) => Origin {
            file: l.file_name.clone().filter(|f| !f.is_empty()),
            line: l.line_number,
        },
        None => Origin::default(),
    }
}

/// `[{"name":..,"condition":..,"action":"warn|drop|fail"}]`.
fn expectations(value: Option<&Value>) -> SparkResult<Vec<Expectation>> {
    let list = match value {
        None | Some(Value::Null) => return Ok(vec![]),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(invalid(format!("{EXPECTATIONS} must be a list"))),
    };
    list.iter()
        .map(|e| {
            let text = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_string);
            let action = match text("action").as_deref() {
                None | Some("warn") => Action::Warn,
                Some("drop") => Action::Drop,
                Some("fail") => Action::Fail,
                Some(other) => return Err(invalid(format!("Unknown expectation action {other}"))),
            };
            Ok(Expectation {
                name: text("name").ok_or_else(|| invalid("An expectation without a name"))?,
                condition: text("condition")
                    .ok_or_else(|| invalid("An expectation without a condition"))?,
                action,
            })
        })
        .collect()
}

pub fn output(graph: &mut Graph, d: DefineOutput) -> SparkResult<Ident> {
    let name = d
        .output_name
        .clone()
        .ok_or_else(|| invalid("DefineOutput without an output name"))?;
    let ident = ident(graph, &name)?;
    if let Some(define_output::Details::Extension(any)) = &d.details {
        let ext = extension(any)?;
        let out = graph
            .outputs
            .iter_mut()
            .rev()
            .find(|o| o.ident == ident)
            .ok_or_else(|| invalid(format!("An extension for {name}, which is not defined")))?;
        out.expectations
            .extend(expectations(ext.get(EXPECTATIONS))?);
        if let Some(path) = ext.get(PATH).and_then(Value::as_str) {
            out.path = Some(path.to_string());
        }
        if ext.get(TEMPORARY).and_then(Value::as_bool) == Some(true) {
            out.private = true;
        }
        check_placement(out)?;
        return Ok(ident);
    }
    let kind = OutputType::try_from(d.output_type.unwrap_or(0)).unwrap_or(OutputType::Unspecified);
    let mut out = Output {
        ident: ident.clone(),
        kind: OutputKind::StreamingTable,
        comment: d.comment.clone(),
        partition_cols: vec![],
        cluster_by: vec![],
        table_properties: HashMap::new(),
        format: None,
        schema: None,
        expectations: vec![],
        path: None,
        private: false,
        origin: origin(&d.source_code_location),
    };
    out.kind = match kind {
        OutputType::Table => OutputKind::StreamingTable,
        OutputType::MaterializedView => OutputKind::MaterializedView,
        OutputType::TemporaryView => OutputKind::TemporaryView,
        OutputType::Sink => OutputKind::Sink {
            format: String::new(),
            options: HashMap::new(),
        },
        OutputType::Unspecified => {
            return Err(invalid(format!(
                "DefineOutput {name} without an output type"
            )))
        }
    };
    match d.details {
        Some(define_output::Details::TableDetails(t)) => {
            out.table_properties = t.table_properties;
            out.partition_cols = t.partition_cols;
            out.cluster_by = t.clustering_columns;
            out.format = t.format.filter(|f| !f.is_empty());
            if let Some(f) = &out.format {
                if !f.eq_ignore_ascii_case("delta") {
                    return Err(SparkError::unsupported(format!(
                        "pipeline tables in format `{f}` (sluice's tables are Delta tables)"
                    )));
                }
            }
            out.schema = match t.schema {
                Some(define_output::table_details::Schema::SchemaString(s)) => {
                    Some(planner::types::parse_schema_string(&s, "UTC")?)
                }
                Some(define_output::table_details::Schema::SchemaDataType(dt)) => {
                    Some(planner::types::from_proto(&dt, "UTC")?)
                }
                None => None,
            };
        }
        Some(define_output::Details::SinkDetails(s)) => {
            out.kind = OutputKind::Sink {
                format: s.format.unwrap_or_default(),
                options: s.options,
            };
        }
        Some(define_output::Details::Extension(_)) | None => {}
    }
    add_output(graph, out)?;
    Ok(ident)
}

/// A path or privacy belongs to a table: views and sinks have neither.
fn check_placement(out: &Output) -> SparkResult<()> {
    let is_table = matches!(
        out.kind,
        OutputKind::StreamingTable | OutputKind::MaterializedView
    );
    if !is_table && (out.path.is_some() || out.private) {
        return Err(invalid(format!(
            "{} is a {}: only tables take a path or are private",
            out.ident.quoted(),
            out.kind.describe()
        )));
    }
    Ok(())
}

/// Spark's name for an output's kind in duplicate-definition errors.
fn kind_name(kind: &OutputKind) -> &'static str {
    match kind {
        OutputKind::StreamingTable | OutputKind::MaterializedView => "TABLE",
        OutputKind::TemporaryView | OutputKind::PersistedView { .. } => "VIEW",
        OutputKind::Sink { .. } => "SINK",
    }
}

/// Adds an output. A second definition of a name is kept and refused when the run starts
/// (as in Spark), so that every file is registered first.
fn add_output(graph: &mut Graph, out: Output) -> SparkResult<()> {
    graph.outputs.push(out);
    Ok(())
}

/// The error for the first name defined twice, in Spark's words.
pub fn duplicate_outputs(graph: &Graph) -> Option<SparkError> {
    let mut seen: HashMap<&Ident, &Output> = HashMap::new();
    for out in &graph.outputs {
        if let Some(first) = seen.insert(&out.ident, out) {
            return Some(SparkError::Plan(planner::PlanError::analysis(format!(
                "[PIPELINE_DUPLICATE_IDENTIFIERS.OUTPUT] A duplicate identifier was found for elements registered in the pipeline's dataflow graph. Attempted to register a {} with identifier {}, but a {} has already been registered with that identifier. Please ensure all outputs created within this pipeline have unique identifiers. SQLSTATE: 42710",
                kind_name(&out.kind),
                out.ident,
                kind_name(&first.kind)
            ))));
        }
    }
    None
}

fn column_name(e: &Expression) -> SparkResult<String> {
    match &e.expr_type {
        Some(ExprType::UnresolvedAttribute(a)) => Ok(a.unparsed_identifier.clone()),
        Some(ExprType::ExpressionString(s)) => Ok(s.expression.trim().to_string()),
        _ => Err(invalid(
            "AUTO CDC keys and column lists must be column names",
        )),
    }
}

fn cdc(details: AutoCdcFlowDetails) -> SparkResult<Cdc> {
    let source = details
        .source
        .ok_or_else(|| invalid("AUTO CDC flow without a source"))?;
    let columns = match (
        details.column_list.is_empty(),
        details.except_column_list.is_empty(),
    ) {
        (true, true) => Columns::All,
        (false, true) => Columns::Only(
            details
                .column_list
                .iter()
                .map(column_name)
                .collect::<SparkResult<_>>()?,
        ),
        (true, false) => Columns::Except(
            details
                .except_column_list
                .iter()
                .map(column_name)
                .collect::<SparkResult<_>>()?,
        ),
        (false, false) => {
            return Err(invalid(
                "Only one of column_list and except_column_list can be given",
            ))
        }
    };
    Ok(Cdc {
        source: stream_read(&source),
        keys: details
            .keys
            .iter()
            .map(column_name)
            .collect::<SparkResult<_>>()?,
        sequence_by: details
            .sequence_by
            .ok_or_else(|| invalid("AUTO CDC flow without sequence_by"))?,
        delete_when: details.apply_as_deletes,
        truncate_when: details.apply_as_truncates,
        columns,
        scd_type: 1,
        track_history: Columns::All,
        ignore_null_updates: false,
    })
}

/// What an extension adds to an AUTO CDC flow.
fn amend_cdc(c: &mut Cdc, ext: &serde_json::Map<String, Value>) -> SparkResult<()> {
    // Struct numbers are doubles.
    match ext
        .get(SCD_TYPE)
        .and_then(Value::as_f64)
        .map(|t| (t, t as u8))
    {
        None => {}
        Some((t, n @ (1 | 2))) if f64::from(n) == t => c.scd_type = n,
        Some((t, _)) => return Err(invalid(format!("SCD type must be 1 or 2, not {t}"))),
    }
    match (
        string_list(ext.get(TRACK_HISTORY))?,
        string_list(ext.get(TRACK_HISTORY_EXCEPT))?,
    ) {
        (Some(only), None) => c.track_history = Columns::Only(only),
        (None, Some(except)) => c.track_history = Columns::Except(except),
        (None, None) => {}
        (Some(_), Some(_)) => {
            return Err(invalid(
                "Only one of track_history_column_list and track_history_except_column_list can be given",
            ))
        }
    }
    if ext.get(IGNORE_NULL_UPDATES).and_then(Value::as_bool) == Some(true) {
        c.ignore_null_updates = true;
    }
    if let Some(cond) = ext.get(WHERE).and_then(Value::as_str) {
        c.source = Relation {
            common: None,
            rel_type: Some(RelType::Filter(Box::new(proto::connect::Filter {
                input: Some(Box::new(c.source.clone())),
                condition: Some(sql_expression(cond)),
            }))),
        };
    }
    Ok(())
}

/// `spark.read.table(name)` of a catalog name.
pub fn table_read(parts: &[String]) -> Relation {
    let name = parts
        .iter()
        .map(|p| format!("`{}`", p.replace('`', "``")))
        .collect::<Vec<_>>()
        .join(".");
    Relation {
        common: None,
        rel_type: Some(RelType::Read(Read {
            is_streaming: false,
            read_type: Some(ReadType::NamedTable(NamedTable {
                unparsed_identifier: name,
                options: HashMap::new(),
            })),
        })),
    }
}

/// `spark.readStream.table(name)`.
fn stream_read(name: &str) -> Relation {
    Relation {
        common: None,
        rel_type: Some(RelType::Read(Read {
            is_streaming: true,
            read_type: Some(ReadType::NamedTable(NamedTable {
                unparsed_identifier: name.to_string(),
                options: HashMap::new(),
            })),
        })),
    }
}

fn sql_expression(text: &str) -> Expression {
    Expression {
        common: None,
        expr_type: Some(ExprType::ExpressionString(ExpressionString {
            expression: text.to_string(),
        })),
    }
}

pub fn flow(graph: &mut Graph, d: DefineFlow) -> SparkResult<Ident> {
    let name = d
        .flow_name
        .clone()
        .ok_or_else(|| invalid("DefineFlow without a flow name"))?;
    let target = d
        .target_dataset_name
        .clone()
        .unwrap_or_else(|| name.clone());
    let ident_name = ident(graph, &name)?;
    if let Some(define_flow::Details::Extension(any)) = &d.details {
        let ext = extension(any)?;
        let flow = graph
            .flows
            .iter_mut()
            .rev()
            .find(|f| f.name == ident_name)
            .ok_or_else(|| {
                invalid(format!(
                    "An extension for flow {name}, which is not defined"
                ))
            })?;
        flow.expectations
            .extend(expectations(ext.get(EXPECTATIONS))?);
        if d.once == Some(true) || ext.get(ONCE).and_then(Value::as_bool) == Some(true) {
            flow.once = true;
        }
        if let FlowBody::Cdc(c) = &mut flow.body {
            amend_cdc(c, &ext)?;
        }
        return Ok(ident_name);
    }
    let body = match d.details {
        Some(define_flow::Details::RelationFlowDetails(r)) => FlowBody::Query(Box::new(
            r.relation
                .ok_or_else(|| invalid(format!("Flow {name} without a query")))?,
        )),
        Some(define_flow::Details::AutoCdcFlowDetails(c)) => FlowBody::Cdc(Box::new(cdc(c)?)),
        Some(define_flow::Details::Extension(_)) | None => {
            return Err(SparkError::unsupported(format!(
                "flow {name}: a flow defined by a client-side query function"
            )))
        }
    };
    let f = Flow {
        name: ident_name.clone(),
        target: ident(graph, &target)?,
        body,
        once: d.once.unwrap_or(false),
        sql_conf: d.sql_conf,
        expectations: vec![],
        origin: origin(&d.source_code_location),
    };
    graph.flows.push(f);
    Ok(ident_name)
}

fn selection(c: ColumnSelection) -> Columns {
    match c {
        ColumnSelection::All => Columns::All,
        ColumnSelection::Only(c) => Columns::Only(c),
        ColumnSelection::Except(c) => Columns::Except(c),
    }
}

/// A flow's query must parse when its file is registered, as in Spark.
fn check_query(query: &str, file: &str, line: usize) -> SparkResult<()> {
    planner::sql_relations::relations_in(query)
        .map(|_| ())
        .map_err(|e| match e {
            planner::PlanError::Parse(m) => SparkError::Plan(planner::PlanError::Parse(format!(
                "{m}\nin the query of the statement at {file}:{line}"
            ))),
            other => SparkError::Plan(other),
        })
}

/// The statements of one pipeline SQL file.
pub fn sql_file(graph: &mut Graph, text: &str, file: &str) -> SparkResult<()> {
    let statements = pipeline_sql::parse(text).map_err(|e| match e {
        planner::PlanError::Parse(m) => {
            SparkError::Plan(planner::PlanError::Parse(format!("{m}\nin {file}")))
        }
        // Spark's error class for SQL that defines no dataset or flow.
        planner::PlanError::Analysis(m) => SparkError::Plan(planner::PlanError::analysis(format!(
            "[PIPELINE_SQL_GRAPH_ELEMENT_REGISTRATION_ERROR] Unsupported statement in a pipeline SQL file: {m}\n\nQuery defined at {file} SQLSTATE: 42000"
        ))),
        other => SparkError::Plan(other),
    })?;
    let mut conf: HashMap<String, String> = HashMap::new();
    let default_db = graph.default_database.clone();
    for located in statements {
        let at = Origin {
            file: Some(file.to_string()),
            line: i32::try_from(located.line).ok(),
        };
        let resolve = |graph: &Graph, parts: &[String]| {
            Ident::resolve(parts, &graph.default_database)
                .ok_or_else(|| invalid(format!("Invalid dataset name {}", parts.join("."))))
        };
        match located.statement {
            PipelineStatement::Dataset(d) => {
                let ident = resolve(graph, &d.name)?;
                let kind = match d.kind {
                    DatasetKind::StreamingTable => OutputKind::StreamingTable,
                    DatasetKind::MaterializedView => OutputKind::MaterializedView,
                    DatasetKind::TemporaryView => OutputKind::TemporaryView,
                    // The catalog keeps the text without `LIVE.`; the pipeline's own flows
                    // read the view as written (so `LIVE.x` must name one of its datasets).
                    DatasetKind::PersistedView => OutputKind::PersistedView {
                        sql: planner::pipeline_sql::without_live(
                            d.query.as_deref().unwrap_or_default(),
                        ),
                    },
                };
                crate::delta_ops::only_delta(d.format.as_deref(), "pipeline tables USING")?;
                let schema = if d.columns.is_empty() {
                    None
                } else {
                    let ddl = d
                        .columns
                        .iter()
                        .map(|c| {
                            format!(
                                "`{}` {}{}",
                                c.name.replace('`', "``"),
                                c.data_type,
                                if c.not_null { " NOT NULL" } else { "" }
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(", ");
                    Some(planner::types::parse_schema_string(&ddl, "UTC")?)
                };
                add_output(
                    graph,
                    Output {
                        ident: ident.clone(),
                        kind,
                        comment: d.comment,
                        partition_cols: d.partition_cols,
                        cluster_by: d.cluster_by,
                        table_properties: d.table_properties.into_iter().collect(),
                        format: None,
                        schema,
                        expectations: d
                            .expectations
                            .into_iter()
                            .map(|e| Expectation {
                                name: e.name,
                                condition: e.condition,
                                action: match e.violation {
                                    Violation::Warn => Action::Warn,
                                    Violation::DropRow => Action::Drop,
                                    Violation::FailUpdate => Action::Fail,
                                },
                            })
                            .collect(),
                        path: d.location,
                        private: d.private,
                        origin: at.clone(),
                    },
                )?;
                if let Some(query) = d.query {
                    check_query(&query, file, located.line)?;
                    graph.flows.push(Flow {
                        name: ident.clone(),
                        target: ident,
                        body: FlowBody::Query(Box::new(crate::execute::sql_relation(&query))),
                        once: false,
                        sql_conf: conf.clone(),
                        expectations: vec![],
                        origin: at,
                    });
                }
            }
            PipelineStatement::Flow(f) => {
                check_query(&f.query, file, located.line)?;
                let name = resolve(graph, &f.name)?;
                let target = resolve(graph, &f.target)?;
                graph.flows.push(Flow {
                    name,
                    target,
                    body: FlowBody::Query(Box::new(crate::execute::sql_relation(&f.query))),
                    once: f.once,
                    sql_conf: conf.clone(),
                    expectations: vec![],
                    origin: at,
                });
            }
            PipelineStatement::AutoCdc(c) => {
                let target = resolve(graph, &c.target)?;
                let name = match &c.flow_name {
                    Some(n) => resolve(graph, n)?,
                    None => target.clone(),
                };
                let cdc = Cdc {
                    source: crate::execute::sql_relation(&format!("SELECT * FROM {}", c.source)),
                    keys: c.keys,
                    sequence_by: sql_expression(&c.sequence_by),
                    delete_when: c.delete_when.as_deref().map(sql_expression),
                    truncate_when: c.truncate_when.as_deref().map(sql_expression),
                    columns: selection(c.columns),
                    scd_type: c.scd_type,
                    track_history: selection(c.track_history),
                    ignore_null_updates: c.ignore_null_updates,
                };
                graph.flows.push(Flow {
                    name,
                    target,
                    body: FlowBody::Cdc(Box::new(cdc)),
                    once: false,
                    sql_conf: conf.clone(),
                    expectations: vec![],
                    origin: at,
                });
            }
            PipelineStatement::Set { key, value } => {
                conf.insert(key, value);
            }
            PipelineStatement::UseSchema(db) => graph.default_database = db.to_lowercase(),
            PipelineStatement::UseCatalog(c) => {
                if !c.eq_ignore_ascii_case("spark_catalog") {
                    return Err(SparkError::unsupported(format!(
                        "the catalog `{c}` (sluice has one catalog, spark_catalog)"
                    )));
                }
            }
        }
    }
    // `USE` applies to the rest of its file only.
    graph.default_database = default_db;
    Ok(())
}
