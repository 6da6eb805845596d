//! Persisted views (`CREATE VIEW`): SQL text kept in the catalog and planned again at every
//! read, in the database that was current when the view was made, as Spark resolves them.
use std::collections::HashSet;

use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder};
use delta_sink::catalog::ViewEntry;
use planner::sql_relations::{relations_in, SqlRelation};
use planner::{PlanError, PlanResult, Planner};

use crate::catalog::{SessionResolver, CATALOG};
use crate::error::{SparkError, SparkResult};
use crate::session::Session;

/// `CREATE [OR REPLACE] VIEW [IF NOT EXISTS] name [COMMENT '..'] AS query`.
pub struct Definition {
    pub name: Vec<String>,
    pub replace: bool,
    pub if_not_exists: bool,
    pub comment: Option<String>,
    pub query: String,
    /// `(a, b)`: names for the query's columns.
    pub columns: Vec<String>,
    /// Where the query's one-part names resolve (the session's current database).
    pub current_database: String,
}

/// `(database, name)` of a catalog object named by 1 to 3 parts.
fn split(current_db: &str, parts: &[String]) -> Option<(String, String)> {
    let (db, name) = match parts {
        [name] => (current_db.to_string(), name),
        [db, name] => (db.to_lowercase(), name),
        [c, db, name] if c.eq_ignore_ascii_case(CATALOG) => (db.to_lowercase(), name),
        _ => return None,
    };
    // Path identifiers (delta.`/x`) are never views.
    (!name.contains(['/', '\\'])).then(|| (db, name.to_lowercase()))
}

/// The persisted view `parts` names, unless a temp view of that name hides it.
pub fn find(session: &Session, current_db: &str, parts: &[String]) -> Option<ViewEntry> {
    let (db, name) = split(current_db, parts)?;
    if parts.len() == 1 && session.views().table_exist(&name) {
        return None;
    }
    session.catalog().view(&db, &name)
}

/// The view's query, planned in its own database and named by the view.
pub async fn plan(session: &Session, view: &ViewEntry) -> PlanResult<LogicalPlan> {
    let mut state = session.ctx.state();
    state.config_mut().options_mut().catalog.default_schema = view.current_database.clone();
    let resolver = SessionResolver {
        session,
        database: Some(view.current_database.clone()),
    };
    let planner = Planner::new(&state, &resolver, session.planner_config());
    let plan = Box::pin(planner.plan(&crate::execute::sql_relation(&view.sql))).await?;
    let plan = rename_columns(&quoted(&view.database, &view.name), plan, &view.columns)?;
    Ok(LogicalPlanBuilder::from(plan)
        .alias(view.name.as_str())?
        .build()?)
}

fn quoted(db: &str, name: &str) -> String {
    format!("`{CATALOG}`.`{db}`.`{name}`")
}

fn analysis(message: String) -> SparkError {
    SparkError::Plan(PlanError::analysis(message))
}

/// The plain names `query` reads.
fn names_read(query: &str) -> PlanResult<Vec<Vec<String>>> {
    Ok(relations_in(query)?
        .into_iter()
        .filter_map(|r| match r {
            SqlRelation::Named(parts) | SqlRelation::Stream(parts) => Some(parts),
            _ => None,
        })
        .collect())
}

/// Spark's checks before a view is stored: no temporary objects, no cycle through itself.
fn check_references(session: &Session, view: &ViewEntry) -> SparkResult<()> {
    let me = (view.database.clone(), view.name.clone());
    let mut pending = vec![(view.current_database.clone(), view.sql.clone())];
    let mut seen: HashSet<(String, String)> = HashSet::new();
    // Only the view's own query can name a temp view: stored views were checked.
    let mut own = true;
    while let Some((db, query)) = pending.pop() {
        for parts in names_read(&query)? {
            if own && parts.len() == 1 && session.views().table_exist(&parts[0]) {
                return Err(analysis(format!(
                    "[INVALID_TEMP_OBJ_REFERENCE] Cannot create the persistent object {} of the type VIEW because it references to the temporary object `{}` of the type VIEW. Please make the temporary object `{}` persistent, or make the persistent object {} temporary. SQLSTATE: 42K0F",
                    quoted(&me.0, &me.1),
                    parts[0],
                    parts[0],
                    quoted(&me.0, &me.1)
                )));
            }
            let Some(key) = split(&db, &parts) else {
                continue;
            };
            if key == me {
                return Err(analysis(format!(
                    "[RECURSIVE_VIEW] Recursive view {} detected (cycle: {} -> {}). SQLSTATE: 42K0H",
                    quoted(&me.0, &me.1),
                    quoted(&me.0, &me.1),
                    quoted(&me.0, &me.1)
                )));
            }
            if seen.insert(key.clone()) {
                if let Some(v) = session.catalog().view(&key.0, &key.1) {
                    pending.push((v.current_database, v.sql));
                }
            }
        }
        own = false;
    }
    Ok(())
}

/// Stores a view after planning it once (so a broken query fails here, as in Spark).
pub async fn create(session: &Session, d: Definition) -> SparkResult<()> {
    let current = d.current_database.clone();
    let (db, name) = split(&current, &d.name).ok_or_else(|| {
        analysis(format!(
            "[REQUIRES_SINGLE_PART_NAMESPACE] spark_catalog requires a single-part namespace, but got {}.",
            d.name.join(".")
        ))
    })?;
    let catalog = session.catalog();
    catalog.require_database(&db)?;
    if catalog.table(&db, &name).is_some() {
        return Err(if d.replace {
            analysis(format!(
                "[EXPECT_VIEW_NOT_TABLE.NO_ALTERNATIVE] The table {} does not support CREATE OR REPLACE VIEW. SQLSTATE: 42809",
                quoted(&db, &name)
            ))
        } else {
            already_exists(&db, &name)
        });
    }
    if catalog.view(&db, &name).is_some() {
        if d.if_not_exists {
            return Ok(());
        }
        if !d.replace {
            return Err(already_exists(&db, &name));
        }
    }
    let view = ViewEntry {
        database: db,
        name,
        sql: d.query,
        current_database: current,
        comment: d.comment,
        columns: d.columns,
    };
    check_references(session, &view)?;
    let plan = plan(session, &view).await?;
    // Spark asks for aliases even when a column list names the columns.
    if let Some(&i) = planner::sql::unaliased_items(&view.sql)?.first() {
        let attr = plan
            .schema()
            .fields()
            .get(i)
            .map(|f| f.name().clone())
            .unwrap_or_default();
        return Err(analysis(format!(
            "[CREATE_PERMANENT_VIEW_WITHOUT_ALIAS] Not allowed to create the permanent view {} without explicitly assigning an alias for the expression \"{attr}\". SQLSTATE: 0A000",
            quoted(&view.database, &view.name)
        )));
    }
    catalog.register_view(view, d.replace)?;
    Ok(())
}

/// A view's column list names the query's columns, one for one; `view` is the quoted name
/// messages give.
pub fn rename_columns(
    view: &str,
    plan: LogicalPlan,
    columns: &[String],
) -> PlanResult<LogicalPlan> {
    if columns.is_empty() {
        return Ok(plan);
    }
    let fields = plan.schema().columns();
    if fields.len() != columns.len() {
        let reason = if fields.len() < columns.len() {
            ("NOT_ENOUGH_DATA_COLUMNS", "not enough data columns")
        } else {
            ("TOO_MANY_DATA_COLUMNS", "too many data columns")
        };
        let list = |names: Vec<String>| {
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(PlanError::analysis(format!(
            "[CREATE_VIEW_COLUMN_ARITY_MISMATCH.{}] Cannot create view {view}, the reason is {}:\nView columns: {}.\nData columns: {}. SQLSTATE: 21S01",
            reason.0,
            reason.1,
            list(columns.to_vec()),
            list(fields.iter().map(|c| c.name.clone()).collect())
        )));
    }
    let exprs: Vec<datafusion::logical_expr::Expr> = fields
        .into_iter()
        .zip(columns)
        .map(|(c, name)| datafusion::logical_expr::col(c).alias(name))
        .collect();
    Ok(LogicalPlanBuilder::from(plan).project(exprs)?.build()?)
}

fn already_exists(db: &str, name: &str) -> SparkError {
    analysis(format!(
        "[TABLE_OR_VIEW_ALREADY_EXISTS] Cannot create table or view {} because it already exists. SQLSTATE: 42P07",
        quoted(db, name)
    ))
}

/// `DROP VIEW` of a persisted view: `Ok(false)` when there is none of that name.
pub fn drop(session: &Session, parts: &[String]) -> SparkResult<bool> {
    let Some((db, name)) = split(&session.current_database(), parts) else {
        return Ok(false);
    };
    if session.catalog().table(&db, &name).is_some() {
        return Err(analysis(format!(
            "[WRONG_COMMAND_FOR_OBJECT_TYPE] The operation DROP VIEW requires a VIEW. But {} is a table. Use DROP TABLE instead. SQLSTATE: 42809",
            quoted(&db, &name)
        )));
    }
    Ok(session.catalog().drop_view(&db, &name)?.is_some())
}

/// `DROP TABLE` names a persisted view: Spark refuses.
pub fn refuse_drop_table(session: &Session, parts: &[String]) -> SparkResult<()> {
    if let Some((db, name)) = split(&session.current_database(), parts) {
        if session.catalog().view(&db, &name).is_some() {
            return Err(analysis(format!(
                "[WRONG_COMMAND_FOR_OBJECT_TYPE] The operation DROP TABLE requires a EXTERNAL or MANAGED. But {} is a VIEW. Use DROP VIEW instead. SQLSTATE: 42809",
                quoted(&db, &name)
            )));
        }
    }
    Ok(())
}
