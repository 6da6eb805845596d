//! Delta tables from the client's point of view: `df.write.format("delta")`, `saveAsTable`,
//! `insertInto`, and the SQL table statements (`planner::ddl`), on `delta_sink`.
use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, StructArray};
use arrow::datatypes::{DataType, Field, Fields, Schema};
use datafusion::execution::SessionState;
use datafusion::logical_expr::{cast, col, LogicalPlan, LogicalPlanBuilder};
use datafusion::prelude::DataFrame;
use delta_sink::catalog::TableEntry;
use delta_sink::dml::MergeSpec;
use delta_sink::table::NewTable;
use delta_sink::{SaveMode, SchemaChange, Txn, Url, WriteSpec};
use planner::ddl::{CreateTable, MergeSource, TableStatement, WhenClause};
use planner::PlanError;
use proto::connect::relation::RelType;

use crate::dml_exprs::ExprPlanner;
use crate::error::{SparkError, SparkResult};
use crate::execute::plan_relation;
use crate::session::Session;
use crate::statements::{nullable_strings, strings};
use crate::tables::{self, Target};

/// The options Delta's DataFrameWriter takes (lower-cased); others are refused.
const WRITE_OPTIONS: &[&str] = &[
    "mergeschema",
    "overwriteschema",
    "replacewhere",
    "txnappid",
    "txnversion",
    "path",
    "usermetadata",
];

/// Refuses a table format other than Delta (`what` says where it was asked for): sluice's
/// catalog holds Delta tables.
pub fn only_delta(format: Option<&str>, what: &str) -> SparkResult<()> {
    match format.filter(|f| !f.eq_ignore_ascii_case("delta")) {
        Some(f) => Err(SparkError::unsupported(format!(
            "{what} {f:?} (sluice's catalog holds Delta tables)"
        ))),
        None => Ok(()),
    }
}

fn analysis(msg: String) -> SparkError {
    SparkError::Plan(PlanError::analysis(msg))
}

fn not_found(name: &str) -> SparkError {
    SparkError::Plan(PlanError::TableNotFound(name.to_string()))
}

fn flag(options: &HashMap<String, String>, key: &str) -> SparkResult<bool> {
    match options.get(key).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(false),
        Some(v) if v == "true" => Ok(true),
        Some(v) if v == "false" => Ok(false),
        Some(v) => Err(SparkError::Plan(PlanError::InvalidArgument(format!(
            "[INVALID_BOOLEAN] option `{key}` must be true or false, got {v:?}"
        )))),
    }
}

pub fn state(session: &Session) -> Arc<SessionState> {
    Arc::new(session.ctx.state())
}

/// A WriteSpec from DataFrameWriter options.
pub fn write_spec(
    mode: SaveMode,
    options: &HashMap<String, String>,
    partition_by: Vec<String>,
) -> SparkResult<WriteSpec> {
    if let Some(k) = options
        .keys()
        .find(|k| !WRITE_OPTIONS.contains(&k.as_str()))
    {
        return Err(SparkError::unsupported(format!(
            "the delta write option `{k}`"
        )));
    }
    let mut spec = WriteSpec::new(mode);
    spec.partition_by = partition_by;
    spec.schema_change = if flag(options, "overwriteschema")? {
        SchemaChange::Overwrite
    } else if flag(options, "mergeschema")? {
        SchemaChange::Merge
    } else {
        SchemaChange::None
    };
    spec.replace_where = options
        .get("replacewhere")
        .map(|p| delta_sink::ReplaceWhere::Sql(p.clone()));
    match (options.get("txnappid"), options.get("txnversion")) {
        (Some(app), Some(v)) => {
            let version = v.trim().parse::<i64>().map_err(|_| {
                SparkError::Plan(PlanError::InvalidArgument(format!(
                    "[DELTA_INVALID_TXN_VERSION] txnVersion must be a number, got {v:?}"
                )))
            })?;
            spec.txn = Some(Txn {
                app_id: app.clone(),
                version,
            });
        }
        (None, None) => {}
        _ => {
            return Err(SparkError::Plan(PlanError::InvalidArgument(
                "[DELTA_INVALID_IDEMPOTENT_WRITES_OPTIONS] Invalid options for idempotent Dataframe writes: both txnAppId and txnVersion must be specified.".into(),
            )))
        }
    }
    if let Some(m) = options.get("usermetadata") {
        spec.commit_info
            .insert("userMetadata".into(), serde_json::Value::String(m.clone()));
    }
    Ok(spec)
}

async fn commit(
    session: &Session,
    url: &Url,
    plan: LogicalPlan,
    spec: WriteSpec,
) -> SparkResult<delta_sink::Written> {
    Ok(delta_sink::write::write(url, plan, state(session), spec).await?)
}

/// `df.write.format("delta").mode(m).save(path)`.
pub async fn save_path(
    session: &Session,
    plan: LogicalPlan,
    path: &str,
    spec: WriteSpec,
) -> SparkResult<()> {
    let url = delta_sink::location(path)?;
    commit(session, &url, plan, spec).await?;
    Ok(())
}

fn managed_url(session: &Session, db: &str, name: &str) -> SparkResult<Url> {
    let dir = session.catalog().managed_location(db, name)?;
    let url = delta_sink::location(&dir.display().to_string())?;
    if dir.exists()
        && std::fs::read_dir(&dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(false)
    {
        return Err(analysis(format!(
            "[LOCATION_ALREADY_EXISTS] Cannot name the managed table as `spark_catalog`.`{db}`.`{name}`, as its associated location '{}' already exists. Please pick a different table name, or remove the existing location first.",
            dir.display()
        )));
    }
    Ok(url)
}

/// Registers a table the catalog does not know yet, after its first commit.
fn register(
    session: &Session,
    db: &str,
    name: &str,
    url: &Url,
    external: bool,
    comment: Option<String>,
    replace: bool,
) -> SparkResult<()> {
    session.catalog().register_table(
        TableEntry {
            database: db.to_string(),
            name: name.to_string(),
            location: delta_sink::table::display(url),
            provider: "delta".into(),
            external,
            comment,
        },
        replace,
    )?;
    Ok(())
}

fn target(session: &Session, parts: &[String]) -> SparkResult<Target> {
    tables::target(session.catalog(), &session.current_database(), parts)
}

/// An existing table's location, or TABLE_OR_VIEW_NOT_FOUND naming the table as it was
/// written (as Spark's unresolved relation does).
fn existing(session: &Session, parts: &[String]) -> SparkResult<(Target, Url)> {
    let t = target(session, parts)?;
    match t.url()? {
        Some(u) => Ok((t, u)),
        None => Err(not_found(&quote_name(parts))),
    }
}

/// `df.write.saveAsTable(name)` (format delta).
pub async fn save_as_table(
    session: &Session,
    plan: LogicalPlan,
    parts: &[String],
    options: &HashMap<String, String>,
    mut spec: WriteSpec,
) -> SparkResult<()> {
    let t = target(session, parts)?;
    let mode = spec.mode;
    match &t {
        Target::Path(url) => {
            commit(session, url, plan, spec).await?;
        }
        Target::Named {
            entry: Some(e), ..
        } => match mode {
            SaveMode::ErrorIfExists => {
                return Err(analysis(format!(
                    "[TABLE_OR_VIEW_ALREADY_EXISTS] Cannot create table or view {} because it already exists.",
                    t.quoted()
                )))
            }
            SaveMode::Ignore => {}
            _ => {
                let url = delta_sink::location(&e.location)?;
                commit(session, &url, plan, spec).await?;
            }
        },
        Target::Named {
            db,
            name,
            entry: None,
        } => {
            let (url, external) = match options.get("path") {
                Some(p) => (delta_sink::location(p)?, true),
                None => (managed_url(session, db, name)?, false),
            };
            spec.mode = SaveMode::Append;
            // A new table has no schema to overwrite.
            if spec.schema_change == delta_sink::SchemaChange::Overwrite {
                spec.schema_change = delta_sink::SchemaChange::None;
            }
            spec.name = Some(name.clone());
            if spec.operation.is_none() {
                // Spark's saveAsTable of a new table is a CREATE TABLE AS SELECT.
                spec.operation = Some(delta_sink::Operation::create_as_select(
                    false, false, !external, &spec,
                ));
            }
            commit(session, &url, plan, spec).await?;
            register(session, db, name, &url, external, None, false)?;
        }
    }
    Ok(())
}

/// The table's schema (for INSERT's by-position matching).
async fn table_schema(url: &Url) -> SparkResult<Arc<Schema>> {
    let provider = delta_sink::read::provider(url, &delta_sink::TimeTravel::Latest, None).await?;
    Ok(provider.schema())
}

/// Lines the query's columns up with the table's by position (or by the given column list),
/// casting numbers to the column types as Spark's store assignment does.
fn by_position(
    plan: LogicalPlan,
    table: &Schema,
    columns: &[String],
    quoted: &str,
) -> SparkResult<LogicalPlan> {
    let targets: Vec<&Field> = if columns.is_empty() {
        table.fields().iter().map(|f| f.as_ref()).collect()
    } else {
        columns
            .iter()
            .map(|c| {
                table
                    .fields()
                    .iter()
                    .find(|f| f.name().eq_ignore_ascii_case(c))
                    .map(|f| f.as_ref())
                    .ok_or_else(|| {
                        SparkError::Plan(PlanError::UnresolvedColumn {
                            name: format!("`{c}`"),
                            suggestions: table
                                .fields()
                                .iter()
                                .map(|f| format!("`{}`", f.name()))
                                .collect::<Vec<_>>()
                                .join(", "),
                        })
                    })
            })
            .collect::<SparkResult<_>>()?
    };
    let data = plan.schema().clone();
    if data.fields().len() != targets.len() {
        let (kind, reason) = if data.fields().len() > targets.len() {
            ("TOO_MANY_DATA_COLUMNS", "too many data columns")
        } else {
            ("NOT_ENOUGH_DATA_COLUMNS", "not enough data columns")
        };
        return Err(analysis(format!(
            "[INSERT_COLUMN_ARITY_MISMATCH.{kind}] Cannot write to {quoted}, the reason is {reason}:\nTable columns: {}.\nData columns: {}.",
            targets.iter().map(|f| format!("`{}`", f.name())).collect::<Vec<_>>().join(", "),
            data.fields().iter().map(|f| format!("`{}`", f.name())).collect::<Vec<_>>().join(", ")
        )));
    }
    let exprs: Vec<_> = data
        .iter()
        .zip(&targets)
        .map(|((q, f), t)| {
            let c = col(datafusion::common::Column::from((q, f.as_ref())));
            let c = if f.data_type() != t.data_type()
                && f.data_type().is_numeric()
                && t.data_type().is_numeric()
            {
                cast(c, t.data_type().clone())
            } else {
                c
            };
            c.alias(t.name())
        })
        .collect();
    Ok(LogicalPlanBuilder::from(plan).project(exprs)?.build()?)
}

/// `df.write.insertInto(name[, overwrite])` (with the writer's options) and SQL
/// `INSERT INTO/OVERWRITE`.
pub async fn insert_into(
    session: &Session,
    plan: LogicalPlan,
    parts: &[String],
    columns: &[String],
    overwrite: bool,
    by_name: bool,
    options: &HashMap<String, String>,
) -> SparkResult<()> {
    let (t, url) = existing(session, parts)?;
    let plan = if by_name {
        plan
    } else {
        by_position(
            plan,
            table_schema(&url).await?.as_ref(),
            columns,
            &t.quoted(),
        )?
    };
    let mode = if overwrite {
        SaveMode::Overwrite
    } else {
        SaveMode::Append
    };
    commit(session, &url, plan, write_spec(mode, options, vec![])?).await?;
    Ok(())
}

/// Replaces the rows of an existing table that `predicate` selects with `plan`'s rows
/// (DataFrameWriterV2's `overwrite(condition)` and `overwritePartitions()`); Delta checks
/// that every written row satisfies the predicate.
pub async fn overwrite_where(
    session: &Session,
    plan: LogicalPlan,
    parts: &[String],
    predicate: datafusion::logical_expr::Expr,
    options: &HashMap<String, String>,
) -> SparkResult<()> {
    let (_, url) = existing(session, parts)?;
    let mut spec = write_spec(SaveMode::Overwrite, options, vec![])?;
    if spec.replace_where.is_some() {
        return Err(analysis(
            "[DELTA_REPLACE_WHERE_WITH_OVERWRITE_CONDITION] The replaceWhere option cannot be combined with writeTo(..).overwrite's condition or overwritePartitions.".into(),
        ));
    }
    spec.replace_where = Some(delta_sink::ReplaceWhere::Planned(predicate));
    commit(session, &url, plan, spec).await?;
    Ok(())
}

async fn plan_sql(session: &Session, query: &str) -> SparkResult<LogicalPlan> {
    plan_relation(session, &crate::execute::sql_relation(query)).await
}

fn empty() -> RecordBatch {
    RecordBatch::new_empty(Arc::new(Schema::empty()))
}

fn longs(columns: &[(&str, i64)]) -> SparkResult<RecordBatch> {
    let schema = Schema::new(
        columns
            .iter()
            .map(|(n, _)| Field::new(*n, DataType::Int64, true))
            .collect::<Vec<_>>(),
    );
    let arrays: Vec<ArrayRef> = columns
        .iter()
        .map(|(_, v)| Arc::new(Int64Array::from(vec![*v])) as ArrayRef)
        .collect();
    Ok(RecordBatch::try_new(Arc::new(schema), arrays)?)
}

/// Runs a table statement; its result rows as Spark returns them.
pub async fn run(session: &Session, stmt: TableStatement) -> SparkResult<RecordBatch> {
    match stmt {
        TableStatement::CreateTable(c) => {
            // Spark analyses a CTAS query before it looks at the table.
            let body = match &c.query {
                Some(q) => TableBody::Query(Box::new(plan_sql(session, q).await?), HashMap::new()),
                None => TableBody::Columns(None),
            };
            create_table(session, c, body).await.map(|_| empty())
        }
        TableStatement::Insert {
            table,
            overwrite,
            columns,
            by_name,
            query,
        } => {
            let plan = plan_sql(session, &query).await?;
            let no_options = HashMap::new();
            insert_into(
                session,
                plan,
                &table,
                &columns,
                overwrite,
                by_name,
                &no_options,
            )
            .await?;
            Ok(empty())
        }
        TableStatement::DropTable { name, if_exists } => {
            if name.len() == 1 && session.views().table_exist(&name[0]) {
                session.views().deregister_table(&name[0])?;
                return Ok(empty());
            }
            crate::views::refuse_drop_table(session, &name)?;
            let t = target(session, &name);
            match t {
                Ok(Target::Named {
                    db,
                    name: n,
                    entry: Some(e),
                }) => {
                    session.catalog().drop_table(&db, &n)?;
                    if !e.external {
                        delta_sink::table::remove_local(&delta_sink::location(&e.location)?)?;
                    }
                }
                Ok(Target::Path(_)) => {
                    return Err(analysis(
                        "[UNSUPPORTED_FEATURE.TABLE_OPERATION] DROP TABLE on a path-based Delta table is not supported; delete the directory instead.".into(),
                    ))
                }
                _ if if_exists => {}
                Ok(t) => return Err(not_found(&t.quoted())),
                Err(_) => return Err(not_found(&name.join("."))),
            }
            Ok(empty())
        }
        TableStatement::CreateDatabase {
            name,
            if_not_exists,
            comment,
            location,
        } => {
            let location = location.map(|l| crate::writers::absolute(&l));
            session
                .catalog()
                .create_database(&name, if_not_exists, location, comment)?;
            Ok(empty())
        }
        TableStatement::DropDatabase {
            name,
            if_exists,
            cascade,
        } => {
            if session.current_database().eq_ignore_ascii_case(&name) {
                session.set_current_database(delta_sink::catalog::DEFAULT_DATABASE)?;
            }
            for t in session.catalog().drop_database(&name, if_exists, cascade)? {
                if !t.external {
                    delta_sink::table::remove_local(&delta_sink::location(&t.location)?)?;
                }
            }
            Ok(empty())
        }
        TableStatement::UseDatabase { name } => {
            session.set_current_database(&name)?;
            Ok(empty())
        }
        TableStatement::ShowDatabases { pattern } => {
            let mut names: Vec<String> = session
                .catalog()
                .databases()
                .into_iter()
                .map(|d| d.name)
                .collect();
            if let Some(p) = pattern {
                let re = crate::statements::like_pattern(&p);
                names.retain(|n| re.is_match(n));
            }
            strings(&[("namespace", names)])
        }
        TableStatement::DescribeHistory { table, limit } => {
            let (_, url) = existing(session, &table)?;
            Ok(delta_sink::describe::history(&url, limit).await?)
        }
        TableStatement::DescribeDetail { table } => {
            let (t, url) = existing(session, &table)?;
            let name = match &t {
                Target::Named { db, name, .. } => Some(format!("spark_catalog.{db}.{name}")),
                Target::Path(_) => None,
            };
            Ok(delta_sink::describe::detail(&url, name.as_deref()).await?)
        }
        TableStatement::Delete { table, predicate } => {
            let (_, url) = existing(session, &table)?;
            let predicate = match predicate {
                Some(p) => Some(table_exprs(session, &table).await?.plan(&p)?),
                None => None,
            };
            let counts = delta_sink::dml::delete(&url, predicate, state(session)).await?;
            longs(&[("num_affected_rows", counts.affected())])
        }
        TableStatement::Update {
            table,
            assignments,
            predicate,
        } => {
            let (_, url) = existing(session, &table)?;
            let exprs = table_exprs(session, &table).await?;
            let (assignments, predicate) =
                (exprs.assignments(assignments)?, exprs.option(predicate)?);
            let counts =
                delta_sink::dml::update(&url, assignments, predicate, state(session)).await?;
            longs(&[("num_affected_rows", counts.affected())])
        }
        TableStatement::Merge(m) => {
            let source_plan = match &m.source {
                MergeSource::Table(name) => {
                    plan_sql(session, &format!("SELECT * FROM {}", quote_name(name))).await?
                }
                MergeSource::Query(q) => plan_sql(session, q).await?,
            };
            let source_alias = m.source_alias.clone().unwrap_or_else(|| match &m.source {
                MergeSource::Table(n) => n.last().cloned().unwrap_or_else(|| "source".into()),
                MergeSource::Query(_) => "source".into(),
            });
            let c = merge(
                session,
                &m.target,
                m.target_alias,
                source_plan,
                source_alias,
                m.on,
                m.clauses,
                false,
            )
            .await?;
            longs(&[
                ("num_affected_rows", c.affected()),
                ("num_updated_rows", c.updated),
                ("num_deleted_rows", c.deleted),
                ("num_inserted_rows", c.inserted),
            ])
        }
        TableStatement::Optimize {
            table,
            predicate,
            zorder,
        } => {
            let (_, url) = existing(session, &table)?;
            let filters = match predicate {
                Some(p) => partition_equalities(&p)?,
                None => vec![],
            };
            let m =
                delta_sink::maintenance::optimize(&url, &filters, zorder, state(session)).await?;
            let metrics = StructArray::from(vec![
                (
                    Arc::new(Field::new("numFilesAdded", DataType::Int64, true)),
                    Arc::new(Int64Array::from(vec![m.files_added as i64])) as ArrayRef,
                ),
                (
                    Arc::new(Field::new("numFilesRemoved", DataType::Int64, true)),
                    Arc::new(Int64Array::from(vec![m.files_removed as i64])) as ArrayRef,
                ),
                (
                    Arc::new(Field::new("partitionsOptimized", DataType::Int64, true)),
                    Arc::new(Int64Array::from(vec![m.partitions_optimized as i64])) as ArrayRef,
                ),
            ]);
            let fields: Fields = metrics.fields().clone();
            let schema = Schema::new(vec![
                Field::new("path", DataType::Utf8, true),
                Field::new("metrics", DataType::Struct(fields), true),
            ]);
            Ok(RecordBatch::try_new(
                Arc::new(schema),
                vec![
                    Arc::new(StringArray::from(vec![delta_sink::table::spark_location(
                        &url,
                    )])),
                    Arc::new(metrics),
                ],
            )?)
        }
        TableStatement::Vacuum {
            table,
            retain_hours,
            dry_run,
        } => {
            let (_, url) = existing(session, &table)?;
            let enforce = !session
                .config()
                .get("spark.databricks.delta.retentionDurationCheck.enabled")
                .is_some_and(|v| v.eq_ignore_ascii_case("false"));
            let deleted =
                delta_sink::maintenance::vacuum(&url, retain_hours, dry_run, enforce).await?;
            if dry_run {
                nullable_strings(&[("path", deleted)])
            } else {
                nullable_strings(&[("path", vec![delta_sink::table::display(&url)])])
            }
        }
    }
}

/// One MERGE into a Delta table, from SQL or from `DataFrame.mergeInto`.
#[allow(clippy::too_many_arguments)]
async fn merge(
    session: &Session,
    target: &[String],
    target_alias: Option<String>,
    source: LogicalPlan,
    source_alias: String,
    on: String,
    clauses: Vec<WhenClause>,
    schema_evolution: bool,
) -> SparkResult<delta_sink::dml::RowCounts> {
    let (_, url) = existing(session, target)?;
    let target_alias =
        target_alias.unwrap_or_else(|| target.last().cloned().unwrap_or_else(|| "target".into()));
    let auto_merge = session
        .config()
        .get("spark.databricks.delta.schema.autoMerge.enabled")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let read = plan_sql(session, &format!("SELECT * FROM {}", quote_name(target))).await?;
    let exprs = ExprPlanner::merge(session, (&target_alias, &read), (&source_alias, &source))?;
    let spec = MergeSpec {
        on: exprs.plan(&on)?,
        clauses: clauses
            .into_iter()
            .map(|c| exprs.clause(c))
            .collect::<SparkResult<_>>()?,
        source: DataFrame::new(session.ctx.state(), source),
        source_alias,
        target_alias,
        merge_schema: schema_evolution || auto_merge,
    };
    Ok(delta_sink::dml::merge(&url, spec, state(session)).await?)
}

/// `source.mergeInto("t", condition).whenMatched()...merge()` (Spark 4).
pub async fn merge_into(
    session: &Session,
    cmd: &proto::connect::MergeIntoTableCommand,
) -> SparkResult<()> {
    use proto::connect::expression::ExprType;
    use proto::connect::merge_action::ActionType;
    let tz = session.planner_config().time_zone;
    let target = planner::ddl::parse_table_name(&cmd.target_table_name)?;
    let source = cmd
        .source_table_plan
        .as_ref()
        .ok_or_else(|| SparkError::invalid("mergeInto without a source"))?;
    // `df.alias("s")` names the source for the conditions.
    let source_alias = match &source.rel_type {
        Some(RelType::SubqueryAlias(a)) => a.alias.clone(),
        _ => "source".to_string(),
    };
    let source_plan = plan_relation(session, source).await?;
    let on = match &cmd.merge_condition {
        Some(e) => planner::unparse::to_sql(e, &tz)?,
        None => return Err(SparkError::invalid("mergeInto without a condition")),
    };
    let sql = |e: &Option<Box<proto::connect::Expression>>| -> SparkResult<Option<String>> {
        Ok(match e {
            Some(e) => Some(planner::unparse::to_sql(e, &tz)?),
            None => None,
        })
    };
    let mut clauses = vec![];
    for (group, actions) in [
        (0, &cmd.match_actions),
        (1, &cmd.not_matched_actions),
        (2, &cmd.not_matched_by_source_actions),
    ] {
        for a in actions {
            let Some(ExprType::MergeAction(m)) = &a.expr_type else {
                return Err(SparkError::invalid("mergeInto action is not a MergeAction"));
            };
            let condition = sql(&m.condition)?;
            let mut set = vec![];
            for asg in &m.assignments {
                let (Some(k), Some(v)) = (&asg.key, &asg.value) else {
                    return Err(SparkError::invalid(
                        "mergeInto assignment without key or value",
                    ));
                };
                // Keys name target columns: `"v"`, `col("v")` or `t.v`.
                let key = match &k.expr_type {
                    Some(ExprType::ExpressionString(s)) => s.expression.clone(),
                    Some(ExprType::UnresolvedAttribute(a)) => a.unparsed_identifier.clone(),
                    _ => planner::unparse::to_sql(k, &tz)?,
                };
                let column = planner::ddl::parse_table_name(key.trim())?
                    .pop()
                    .unwrap_or_default();
                set.push((column, planner::unparse::to_sql(v, &tz)?));
            }
            let kind = m.action_type();
            let clause = match (group, kind) {
                (0, ActionType::Delete) => WhenClause::MatchedDelete { condition },
                (0, ActionType::Update) | (0, ActionType::UpdateStar) => {
                    WhenClause::MatchedUpdate {
                        condition,
                        all: kind == ActionType::UpdateStar,
                        set,
                    }
                }
                (1, ActionType::Insert) | (1, ActionType::InsertStar) => {
                    WhenClause::NotMatchedInsert {
                        condition,
                        all: kind == ActionType::InsertStar,
                        set,
                    }
                }
                (2, ActionType::Delete) => WhenClause::NotMatchedBySourceDelete { condition },
                (2, ActionType::Update) => WhenClause::NotMatchedBySourceUpdate { condition, set },
                _ => {
                    return Err(SparkError::invalid(format!(
                        "mergeInto action {kind:?} is not valid in this WHEN clause"
                    )))
                }
            };
            clauses.push(clause);
        }
    }
    merge(
        session,
        &target,
        None,
        source_plan,
        source_alias,
        on,
        clauses,
        cmd.with_schema_evolution,
    )
    .await?;
    Ok(())
}

/// A multi-part name as SQL text, every part back-quoted.
pub fn quote_name(parts: &[String]) -> String {
    parts
        .iter()
        .map(|p| planner::error::quote(p))
        .collect::<Vec<_>>()
        .join(".")
}

/// The planner of a DELETE's or UPDATE's expressions over the table's columns.
async fn table_exprs<'s>(session: &'s Session, table: &[String]) -> SparkResult<ExprPlanner<'s>> {
    let read = plan_sql(session, &format!("SELECT * FROM {}", quote_name(table))).await?;
    let name = table.last().map(String::as_str).unwrap_or("t");
    ExprPlanner::table(session, name, &read)
}

/// OPTIMIZE's WHERE: equalities on partition columns joined by AND.
fn partition_equalities(p: &str) -> SparkResult<Vec<(String, String)>> {
    p.split_terminator(" AND ")
        .flat_map(|s| s.split(" and "))
        .map(|term| {
            let (c, v) = term.split_once('=').ok_or_else(|| {
                analysis(format!(
                    "[DELTA_UNSUPPORTED_OPTIMIZE_PREDICATE] OPTIMIZE takes equality predicates on partition columns joined by AND, not `{term}`."
                ))
            })?;
            let v = v.trim().trim_matches('\'').trim_matches('"').to_string();
            Ok((c.trim().trim_matches('`').to_string(), v))
        })
        .collect()
}

/// The partition columns of a catalog or path table (none for views and unknown names).
pub async fn partition_columns(session: &Session, parts: &[String]) -> Vec<String> {
    let Ok((_, url)) = existing(session, parts) else {
        return vec![];
    };
    delta_sink::table::shape(&url)
        .await
        .map(|(_, p)| p)
        .unwrap_or_default()
}

/// All rows of a table, for calls that answer with the table (`spark.catalog.createTable`).
pub async fn table_rows(session: &Session, parts: &[String]) -> SparkResult<RecordBatch> {
    let plan = plan_sql(session, &format!("SELECT * FROM {}", quote_name(parts))).await?;
    let df = DataFrame::new(session.ctx.state(), plan);
    let schema = Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await?;
    Ok(arrow::compute::concat_batches(&schema, &batches)?)
}

/// Where a new table's columns come from.
pub enum TableBody {
    /// The statement's column list, or a schema given directly (`spark.catalog.createTable`).
    Columns(Option<Arc<Schema>>),
    /// The rows to write (`AS query`, DataFrameWriterV2) with the writer's options.
    Query(Box<LogicalPlan>, HashMap<String, String>),
}

/// `CREATE TABLE` (and `spark.catalog.createTable`, and DataFrameWriterV2's create and
/// replace).
pub async fn create_table(session: &Session, c: CreateTable, body: TableBody) -> SparkResult<()> {
    only_delta(c.using.as_deref(), "CREATE TABLE USING")?;
    let t = target(session, &c.name)?;
    let (db, name, entry) = match &t {
        Target::Named { db, name, entry } => (db.clone(), name.clone(), entry.clone()),
        Target::Path(url) => return create_at(session, url, c, body).await,
    };
    match (&entry, c.replace, c.or_create) {
        (Some(_), false, _) if c.if_not_exists => return Ok(()),
        (Some(_), false, _) => {
            return Err(analysis(format!(
                "[TABLE_OR_VIEW_ALREADY_EXISTS] Cannot create table or view {} because it already exists.",
                t.quoted()
            )))
        }
        (None, true, false) => {
            return Err(analysis(format!(
                "[TABLE_OR_VIEW_NOT_FOUND] The table or view {} cannot be found.",
                t.quoted()
            )))
        }
        _ => {}
    }
    let (url, external) = match (&entry, &c.location) {
        (Some(e), _) => (delta_sink::location(&e.location)?, e.external),
        (None, Some(l)) => (delta_sink::location(l)?, true),
        (None, None) => (managed_url(session, &db, &name)?, false),
    };
    // CREATE TABLE t USING DELTA LOCATION '/existing': register the table that is there.
    let adopt = entry.is_none()
        && external
        && c.columns.is_none()
        && matches!(body, TableBody::Columns(None))
        && delta_sink::table::exists(&url).await?;
    if !adopt {
        create_at(session, &url, c.clone(), body).await?;
    }
    register(
        session,
        &db,
        &name,
        &url,
        external,
        c.comment,
        entry.is_some(),
    )
}

/// Creates (or replaces) the Delta table at `url` from the statement.
async fn create_at(
    session: &Session,
    url: &Url,
    c: CreateTable,
    body: TableBody,
) -> SparkResult<()> {
    let properties: HashMap<String, String> = c.properties.iter().cloned().collect();
    let name = c.name.last().cloned();
    let schema = match body {
        TableBody::Columns(schema) => schema,
        TableBody::Query(plan, options) => {
            let mode = if c.replace {
                SaveMode::Overwrite
            } else {
                SaveMode::ErrorIfExists
            };
            let mut spec = write_spec(mode, &options, c.partitioned_by.clone())?;
            if c.replace {
                spec.schema_change = SchemaChange::Overwrite;
            }
            spec.clustering = c.cluster_by.clone();
            spec.properties = properties;
            spec.name = name;
            spec.description = c.comment.clone();
            spec.operation = Some(delta_sink::Operation::create_as_select(
                c.replace,
                c.or_create,
                c.location.is_none(),
                &spec,
            ));
            delta_sink::write::write(url, *plan, state(session), spec).await?;
            return Ok(());
        }
    };
    let tz = session.planner_config().time_zone;
    let schema = match (&c.columns, schema) {
        (_, Some(s)) => Some(s),
        (Some(ddl), None) => match planner::types::parse_ddl(ddl, &tz)? {
            DataType::Struct(fields) => Some(Arc::new(Schema::new(fields))),
            _ => None,
        },
        (None, None) => None,
    };
    if !c.replace && delta_sink::table::exists(url).await? {
        return Err(SparkError::Delta(delta_sink::DeltaError::PathExists(
            delta_sink::table::display(url),
        )));
    }
    delta_sink::table::create(
        url,
        NewTable {
            schema,
            partition_by: c.partitioned_by,
            clustering: c.cluster_by,
            properties,
            name,
            comment: c.comment,
            replace: c.replace,
        },
    )
    .await?;
    Ok(())
}
