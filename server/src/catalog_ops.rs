//! `spark.catalog.*`: the client sends each call as a `Catalog` relation and reads the
//! answer's columns by position.
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, ListBuilder, RecordBatch, StringArray, StringBuilder};
use arrow::datatypes::{Field, Schema};
use proto::connect::catalog::CatType;
use proto::connect::Catalog;

use crate::catalog::{CATALOG, GLOBAL_TEMP};
use crate::error::{SparkError, SparkResult};
use crate::session::Session;

fn batch(columns: Vec<(&str, ArrayRef)>) -> SparkResult<RecordBatch> {
    let schema = Schema::new(
        columns
            .iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect::<Vec<_>>(),
    );
    Ok(RecordBatch::try_new(
        Arc::new(schema),
        columns.into_iter().map(|(_, a)| a).collect(),
    )?)
}

fn strings(values: Vec<Option<String>>) -> ArrayRef {
    Arc::new(StringArray::from(values))
}

fn bools(values: Vec<bool>) -> ArrayRef {
    Arc::new(BooleanArray::from(values))
}

fn known_database(session: &Session, db: &str) -> bool {
    db.eq_ignore_ascii_case(GLOBAL_TEMP) || session.catalog().database(db).is_some()
}

fn schema_not_found(db: &str) -> SparkError {
    SparkError::Plan(planner::PlanError::analysis(format!(
        "[SCHEMA_NOT_FOUND] The schema `{db}` cannot be found. Verify the spelling and correctness of the schema and catalog."
    )))
}

pub async fn run(session: &Session, c: &Catalog, plan_id: Option<i64>) -> SparkResult<RecordBatch> {
    let kind = c
        .cat_type
        .as_ref()
        .ok_or_else(|| SparkError::invalid("catalog call without a type"))?;
    match kind {
        CatType::CurrentDatabase(_) => batch(vec![(
            "current_database",
            strings(vec![Some(session.current_database())]),
        )]),
        CatType::CurrentCatalog(_) => batch(vec![(
            "current_catalog",
            strings(vec![Some(CATALOG.into())]),
        )]),
        CatType::SetCurrentDatabase(s) => {
            session.set_current_database(&s.db_name)?;
            Ok(RecordBatch::new_empty(Arc::new(Schema::empty())))
        }
        CatType::DatabaseExists(d) => batch(vec![(
            "exists",
            bools(vec![known_database(session, &d.db_name)]),
        )]),
        CatType::ListDatabases(l) => {
            let mut dbs = session.catalog().databases();
            if let Some(p) = &l.pattern {
                let re = crate::statements::like_pattern(p);
                dbs.retain(|d| re.is_match(&d.name));
            }
            let n = dbs.len();
            batch(vec![
                (
                    "name",
                    strings(dbs.iter().map(|d| Some(d.name.clone())).collect()),
                ),
                ("catalog", strings(vec![Some(CATALOG.into()); n])),
                (
                    "description",
                    strings(dbs.iter().map(|d| d.comment.clone()).collect()),
                ),
                (
                    "locationUri",
                    strings(
                        dbs.iter()
                            .map(|d| Some(format!("file:{}", d.location)))
                            .collect(),
                    ),
                ),
            ])
        }
        CatType::CreateTable(t) => {
            let schema = match &t.schema {
                Some(s) => {
                    match planner::types::from_proto(s, &session.planner_config().time_zone)? {
                        arrow::datatypes::DataType::Struct(f) => Some(Arc::new(Schema::new(f))),
                        _ => None,
                    }
                }
                None => None,
            };
            if let Some(k) = t.options.keys().find(|k| !k.eq_ignore_ascii_case("path")) {
                return Err(SparkError::unsupported(format!(
                    "the spark.catalog.createTable option `{k}`"
                )));
            }
            let name = planner::ddl::parse_table_name(&t.table_name)?;
            crate::delta_ops::only_delta(
                t.source.as_deref(),
                "spark.catalog.createTable with source",
            )?;
            let create = planner::ddl::CreateTable {
                name: name.clone(),
                location: t.path.clone().or_else(|| t.options.get("path").cloned()),
                comment: t.description.clone(),
                ..Default::default()
            };
            if !plan_id.is_some_and(|id| session.created_by_plan(id)) {
                crate::delta_ops::create_table(
                    session,
                    create,
                    crate::delta_ops::TableBody::Columns(schema),
                )
                .await?;
                if let Some(id) = plan_id {
                    session.record_created_by_plan(id);
                }
            }
            crate::delta_ops::table_rows(session, &name).await
        }
        CatType::ListTables(l) => list_tables(session, l.db_name.as_deref(), l.pattern.as_deref()),
        CatType::TableExists(t) => {
            let exists = view_exists(session, t.db_name.as_deref(), &t.table_name).await?;
            batch(vec![("exists", bools(vec![exists]))])
        }
        CatType::DropTempView(d) => {
            let dropped = session.views().deregister_table(&d.view_name)?.is_some();
            batch(vec![("dropped", bools(vec![dropped]))])
        }
        CatType::DropGlobalTempView(d) => {
            let dropped = session
                .global_views()
                .deregister_table(&d.view_name)?
                .is_some();
            batch(vec![("dropped", bools(vec![dropped]))])
        }
        CatType::ListColumns(l) => list_columns(session, l.db_name.as_deref(), &l.table_name).await,
        other => Err(SparkError::unsupported(format!(
            "spark.catalog call {}",
            format!("{other:?}").split('(').next().unwrap_or("?")
        ))),
    }
}

/// `name`, or `db.name`, split as the catalog sees it.
fn split(db: Option<&str>, name: &str) -> (Option<String>, String) {
    let parts = planner::sql::split_identifier(name);
    match (db, parts.as_slice()) {
        (Some(db), _) => (Some(db.to_string()), name.to_string()),
        (None, [.., db, table]) => (Some(db.clone()), table.clone()),
        _ => (None, name.to_string()),
    }
}

async fn view_exists(session: &Session, db: Option<&str>, name: &str) -> SparkResult<bool> {
    let (db, table) = split(db, name);
    let schema = match db.as_deref() {
        Some(d) if d.eq_ignore_ascii_case(GLOBAL_TEMP) => session.global_views(),
        Some(d) if !known_database(session, d) => return Ok(false),
        Some(d) => return Ok(in_catalog(session, d, &table)),
        None => session.views(),
    };
    Ok(schema.table_exist(&table) || in_catalog(session, &session.current_database(), &table))
}

/// A table or persisted view of this name.
fn in_catalog(session: &Session, db: &str, name: &str) -> bool {
    let catalog = session.catalog();
    catalog.table(db, name).is_some() || catalog.view(db, name).is_some()
}

fn list_tables(
    session: &Session,
    db: Option<&str>,
    pattern: Option<&str>,
) -> SparkResult<RecordBatch> {
    if let Some(d) = db.filter(|d| !known_database(session, d)) {
        return Err(schema_not_found(d));
    }
    let global = db.is_some_and(|d| d.eq_ignore_ascii_case(GLOBAL_TEMP));
    // (name, namespace, comment, table type)
    let mut rows: Vec<(String, Option<String>, Option<String>, &str)> = vec![];
    if global {
        rows.extend(
            session
                .global_views()
                .table_names()
                .into_iter()
                .map(|n| (n, Some(GLOBAL_TEMP.to_string()), None, "TEMPORARY")),
        );
    } else {
        let db = db
            .map(str::to_lowercase)
            .unwrap_or_else(|| session.current_database());
        for t in session.catalog().tables(&db)? {
            let kind = if t.external { "EXTERNAL" } else { "MANAGED" };
            rows.push((t.name, Some(db.clone()), t.comment, kind));
        }
        for v in session.catalog().views(&db)? {
            rows.push((v.name, Some(db.clone()), v.comment, "VIEW"));
        }
        rows.sort_by(|a, b| a.0.cmp(&b.0));
    }
    rows.extend(
        session
            .views()
            .table_names()
            .into_iter()
            .map(|n| (n, None, None, "TEMPORARY")),
    );
    if let Some(p) = pattern {
        let re = crate::statements::like_pattern(p);
        rows.retain(|(n, ..)| re.is_match(n));
    }
    let mut namespace = ListBuilder::new(StringBuilder::new());
    for (_, ns, ..) in &rows {
        if let Some(ns) = ns {
            namespace.values().append_value(ns);
        }
        namespace.append(true);
    }
    batch(vec![
        (
            "name",
            strings(rows.iter().map(|(name, ..)| Some(name.clone())).collect()),
        ),
        (
            "catalog",
            strings(
                rows.iter()
                    .map(|(_, ns, ..)| ns.as_ref().map(|_| CATALOG.to_string()))
                    .collect(),
            ),
        ),
        ("namespace", Arc::new(namespace.finish())),
        (
            "description",
            strings(rows.iter().map(|(_, _, c, _)| c.clone()).collect()),
        ),
        (
            "tableType",
            strings(rows.iter().map(|(.., k)| Some(k.to_string())).collect()),
        ),
        (
            "isTemporary",
            bools(rows.iter().map(|(.., k)| *k == "TEMPORARY").collect()),
        ),
    ])
}

async fn list_columns(session: &Session, db: Option<&str>, name: &str) -> SparkResult<RecordBatch> {
    let (db, table) = split(db, name);
    let mut parts: Vec<String> = db.into_iter().collect();
    parts.push(table);
    let rel = proto::connect::Relation {
        common: None,
        rel_type: Some(proto::connect::relation::RelType::Read(
            proto::connect::Read {
                is_streaming: false,
                read_type: Some(proto::connect::read::ReadType::NamedTable(
                    proto::connect::read::NamedTable {
                        unparsed_identifier: parts
                            .iter()
                            .map(|p| format!("`{}`", p.replace('`', "``")))
                            .collect::<Vec<_>>()
                            .join("."),
                        options: Default::default(),
                    },
                )),
            },
        )),
    };
    let plan = crate::execute::plan_relation(session, &rel).await?;
    let fields = plan.schema().fields();
    let n = fields.len();
    let partitions = crate::delta_ops::partition_columns(session, &parts).await;
    batch(vec![
        (
            "name",
            strings(fields.iter().map(|f| Some(f.name().clone())).collect()),
        ),
        ("description", strings(vec![None; n])),
        (
            "dataType",
            strings(
                fields
                    .iter()
                    .map(|f| Some(planner::types::simple_string(f.data_type())))
                    .collect(),
            ),
        ),
        (
            "nullable",
            bools(fields.iter().map(|f| f.is_nullable()).collect()),
        ),
        (
            "isPartition",
            bools(
                fields
                    .iter()
                    .map(|f| partitions.contains(f.name()))
                    .collect(),
            ),
        ),
        ("isBucket", bools(vec![false; n])),
        ("isCluster", bools(vec![false; n])),
    ])
}
