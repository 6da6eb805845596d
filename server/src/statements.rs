//! `spark.sql(...)` as a command: queries come back as a relation the client runs lazily;
//! statements (SET, SHOW TABLES, DESCRIBE, temp views) run now and return their rows.
use std::sync::Arc;

use arrow::array::{BooleanArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use planner::sql::{classify, SparkStatement};
use proto::connect::relation::RelType;
use proto::connect::{Relation, Sql, SqlCommand};

use crate::error::{SparkError, SparkResult};
use crate::execute::{create_view, local_relation, plan_relation, sql_result, Responder};
use crate::session::Session;

/// A result of string columns (SHOW, SET and DESCRIBE outputs), which Spark declares
/// non-null.
pub(crate) fn strings(columns: &[(&str, Vec<String>)]) -> SparkResult<RecordBatch> {
    string_columns(columns, false)
}

/// A result of nullable string columns.
pub(crate) fn nullable_strings(columns: &[(&str, Vec<String>)]) -> SparkResult<RecordBatch> {
    string_columns(columns, true)
}

fn string_columns(columns: &[(&str, Vec<String>)], nullable: bool) -> SparkResult<RecordBatch> {
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(n, _)| Field::new(*n, DataType::Utf8, nullable))
            .collect::<Vec<_>>(),
    ));
    let arrays = columns
        .iter()
        .map(|(_, v)| Arc::new(StringArray::from(v.clone())) as _)
        .collect();
    Ok(RecordBatch::try_new(schema, arrays)?)
}

#[allow(deprecated)] // clients still send the deprecated fields
pub async fn sql_command(
    session: &Session,
    out: &Responder<'_>,
    cmd: SqlCommand,
) -> SparkResult<()> {
    if let Some(input) = cmd.input {
        // Newer clients wrap the SQL in a relation already.
        return run_sql_text(session, out, input).await;
    }
    let relation = Relation {
        common: None,
        rel_type: Some(RelType::Sql(Sql {
            query: cmd.sql,
            args: cmd.args,
            pos_args: cmd.pos_args,
            named_arguments: cmd.named_arguments,
            pos_arguments: cmd.pos_arguments,
        })),
    };
    run_sql_text(session, out, relation).await
}

async fn run_sql_text(
    session: &Session,
    out: &Responder<'_>,
    relation: Relation,
) -> SparkResult<()> {
    let sql = match &relation.rel_type {
        Some(RelType::Sql(sql)) => sql,
        Some(RelType::WithRelations(_)) => {
            // A query naming DataFrames (`{df}`): analyse now, run when collected.
            if !out.op.in_pipeline_definition() {
                plan_relation(session, &relation).await?;
            }
            sql_result(out, relation);
            return Ok(());
        }
        _ => {
            sql_result(out, relation);
            return Ok(());
        }
    };
    if let Some(stmt) = planner::ddl::parse(&sql.query)? {
        let result = crate::delta_ops::run(session, stmt).await?;
        sql_result(out, local_relation(&result)?);
        return Ok(());
    }
    let result = match classify(&sql.query) {
        SparkStatement::Query => {
            // Analyse now so errors surface at spark.sql(), as in Spark; run later. Inside a
            // pipeline's definition the pipeline analyses it, once its datasets exist.
            if !out.op.in_pipeline_definition() {
                plan_relation(session, &relation).await?;
            }
            sql_result(out, relation);
            return Ok(());
        }
        SparkStatement::Set { key: None, .. } => {
            let all = session.config().all(None);
            strings(&[
                ("key", all.iter().map(|(k, _)| k.clone()).collect()),
                ("value", all.iter().map(|(_, v)| v.clone()).collect()),
            ])?
        }
        SparkStatement::Set {
            key: Some(k),
            value: None,
        } => {
            let v = session
                .config()
                .get(&k)
                .unwrap_or("<undefined>")
                .to_string();
            strings(&[("key", vec![k]), ("value", vec![v])])?
        }
        SparkStatement::Set {
            key: Some(k),
            value: Some(v),
        } => {
            session.config().set(&k, &v);
            strings(&[("key", vec![k]), ("value", vec![v])])?
        }
        SparkStatement::ShowTables { database, pattern } => {
            show_tables(session, database, pattern)?
        }
        SparkStatement::DescribeQuery { query } => {
            let rel = Relation {
                common: None,
                rel_type: Some(RelType::Sql(Sql {
                    query,
                    ..sql.clone()
                })),
            };
            crate::describe::query_columns(&plan_relation(session, &rel).await?)?
        }
        SparkStatement::Describe {
            name,
            extended,
            column,
        } => crate::describe::table(session, &name, extended, column.as_deref()).await?,
        SparkStatement::CreateTempView {
            name,
            replace,
            global,
            columns,
            query,
        } => {
            let rel = Relation {
                common: None,
                rel_type: Some(RelType::Sql(Sql {
                    query,
                    ..sql.clone()
                })),
            };
            let plan = crate::views::rename_columns(
                &format!("`{name}`"),
                plan_relation(session, &rel).await?,
                &columns,
            )?;
            create_view(session, &name, plan, replace, global)?;
            RecordBatch::new_empty(Arc::new(Schema::empty()))
        }
        SparkStatement::CreateView {
            name,
            replace,
            if_not_exists,
            columns,
            comment,
            query,
        } => {
            let definition = crate::views::Definition {
                name,
                columns,
                replace,
                if_not_exists,
                comment,
                query,
                current_database: session.current_database(),
            };
            crate::views::create(session, definition).await?;
            RecordBatch::new_empty(Arc::new(Schema::empty()))
        }
        SparkStatement::ShowTblProperties { name, key } => {
            show_tbl_properties(session, &name, key.as_deref()).await?
        }
        SparkStatement::DropView { name, if_exists } => {
            let temp = name.len() == 1 && session.views().table_exist(&name[0]);
            if temp || !crate::views::drop(session, &name)? {
                drop_temp_view(session, &name, if_exists)?;
            }
            RecordBatch::new_empty(Arc::new(Schema::empty()))
        }
    };
    sql_result(out, local_relation(&result)?);
    Ok(())
}

/// `SHOW TBLPROPERTIES`: a Delta table's properties (with its protocol, as Delta lists
/// them), sorted by key; a view has none to show (Spark hides a view's own). With a key,
/// that one, or Spark's note that the table does not have it.
async fn show_tbl_properties(
    session: &Session,
    name: &[String],
    key: Option<&str>,
) -> SparkResult<RecordBatch> {
    let db = session.current_database();
    let temp = match name {
        [n] => session.views().table_exist(n),
        [g, n] if g.eq_ignore_ascii_case(crate::catalog::GLOBAL_TEMP) => {
            session.global_views().table_exist(n)
        }
        _ => false,
    };
    let (qualified, properties) = if temp || crate::views::find(session, &db, name).is_some() {
        (name.join("."), vec![])
    } else {
        let target = crate::tables::target(session.catalog(), &db, name)?;
        let not_found = || {
            SparkError::Plan(planner::PlanError::TableNotFound(
                crate::delta_ops::quote_name(name),
            ))
        };
        let url = target.url()?.ok_or_else(not_found)?;
        let qualified = match &target {
            crate::tables::Target::Named { db, name, .. } => {
                format!("{}.{db}.{name}", crate::catalog::CATALOG)
            }
            crate::tables::Target::Path(_) => name.join("."),
        };
        (qualified, delta_sink::describe::properties(&url).await?)
    };
    let rows: Vec<(String, String)> = match key {
        None => properties,
        Some(k) => {
            let value = properties
                .into_iter()
                .find(|(p, _)| p == k)
                .map(|(_, v)| v)
                .unwrap_or_else(|| format!("Table {qualified} does not have property: {k}"));
            vec![(k.to_string(), value)]
        }
    };
    let (keys, values): (Vec<String>, Vec<String>) = rows.into_iter().unzip();
    let schema = Schema::new(vec![
        Field::new("key", DataType::Utf8, false),
        Field::new("value", DataType::Utf8, false),
    ]);
    Ok(RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(StringArray::from(keys)),
            Arc::new(StringArray::from(values)),
        ],
    )?)
}

/// `DROP VIEW` of a (global) temp view.
fn drop_temp_view(session: &Session, name: &[String], if_exists: bool) -> SparkResult<()> {
    let short = name.last().cloned().unwrap_or_default();
    let global = name.len() > 1 && name[0].eq_ignore_ascii_case(crate::catalog::GLOBAL_TEMP);
    let schema = if global {
        session.global_views()
    } else {
        session.views()
    };
    if schema.deregister_table(&short)?.is_none() && !if_exists {
        return Err(SparkError::Plan(planner::PlanError::analysis(format!(
            "[TABLE_OR_VIEW_NOT_FOUND] The table or view `{short}` cannot be found."
        ))));
    }
    Ok(())
}

/// `SHOW TABLES`: temp views of the session (Spark lists them with an empty namespace).
fn show_tables(
    session: &Session,
    database: Option<String>,
    pattern: Option<String>,
) -> SparkResult<RecordBatch> {
    let global = database
        .as_deref()
        .is_some_and(|d| d.eq_ignore_ascii_case(crate::catalog::GLOBAL_TEMP));
    let mut rows: Vec<(String, String, bool)> = vec![];
    if !global {
        let db = database
            .as_deref()
            .map(str::to_lowercase)
            .unwrap_or_else(|| session.current_database());
        for t in session.catalog().tables(&db)? {
            rows.push((db.clone(), t.name, false));
        }
        for v in session.catalog().views(&db)? {
            rows.push((db.clone(), v.name, false));
        }
        rows.sort_by(|a, b| a.1.cmp(&b.1));
    }
    if global {
        for n in session.global_views().table_names() {
            rows.push((crate::catalog::GLOBAL_TEMP.into(), n, true));
        }
    }
    for n in session.views().table_names() {
        rows.push((String::new(), n, true));
    }
    if let Some(p) = pattern {
        let re = like_pattern(&p);
        rows.retain(|(_, n, _)| re.is_match(n));
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("namespace", DataType::Utf8, false),
        Field::new("tableName", DataType::Utf8, false),
        Field::new("isTemporary", DataType::Boolean, false),
    ]));
    Ok(RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.1.clone()).collect::<Vec<_>>(),
            )),
            Arc::new(BooleanArray::from(
                rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            )),
        ],
    )?)
}

/// SHOW TABLES patterns: `*` matches anything, `|` separates alternatives, case-insensitive.
pub fn like_pattern(p: &str) -> regex::Regex {
    let alternatives: Vec<String> = p
        .split('|')
        .map(|a| regex::escape(a.trim()).replace("\\*", ".*"))
        .collect();
    regex::Regex::new(&format!("(?i)^(?:{})$", alternatives.join("|")))
        .unwrap_or_else(|_| regex::Regex::new("^$").expect("valid regex"))
}
