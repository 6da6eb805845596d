//! Spark SQL text: the statements sluice handles itself (SET, SHOW TABLES, DESCRIBE, temp
//! views), queries planned by DataFusion's SQL planner with Spark's semantics laid over
//! (double division, Spark's column names), and expression strings (`expr`, `selectExpr`).
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, ParamValues, ScalarValue};
use datafusion::logical_expr::{BinaryExpr, Expr, LogicalPlan, LogicalPlanBuilder, Operator};
use datafusion::sql::parser::{DFParserBuilder, Statement as DFStatement};
use datafusion::sql::sqlparser::ast::{
    self, Expr as SqlExpr, FunctionArg, FunctionArgExpr, FunctionArguments, SelectItem, SetExpr,
    Statement, Value, VisitMut, VisitorMut,
};
use datafusion::sql::sqlparser::tokenizer::Tokenizer;
use proto::connect::expression::Literal;
use regex::Regex;

use crate::dialect::SparkDialect;
use crate::error::{PlanError, PlanResult};
use crate::expression::column_at;
use crate::lateral_view::LateralViews;
use crate::numeric_literals::{self, TypedLiterals};
use crate::sql_case::{Respelling, MAX_RESPELLINGS};
use crate::sql_syntax::SparkSyntax;
use crate::{literal, Planner};

/// Splits a possibly backquoted multi-part name (`` db.`my table` ``) into its parts.
pub fn split_identifier(name: &str) -> Vec<String> {
    crate::expression::split_name(name)
}

/// A SQL statement as sluice dispatches it.
#[derive(Debug)]
pub enum SparkStatement {
    /// A query (or any statement DataFusion plans), planned with [`plan_query`].
    Query,
    /// `SET` (all), `SET key`, `SET key=value`.
    Set {
        key: Option<String>,
        value: Option<String>,
    },
    /// `SHOW TABLES [IN db] [LIKE 'pattern']`.
    ShowTables {
        database: Option<String>,
        pattern: Option<String>,
    },
    /// `DESCRIBE [TABLE] [EXTENDED | FORMATTED] name [column]`.
    Describe {
        name: Vec<String>,
        extended: bool,
        column: Option<Vec<String>>,
    },
    /// `DESCRIBE [QUERY] query`: the query's output columns.
    DescribeQuery { query: String },
    /// `CREATE [OR REPLACE] [GLOBAL] TEMP VIEW name AS query`.
    CreateTempView {
        name: String,
        replace: bool,
        global: bool,
        /// `(a, b COMMENT '..')`: the view's column names, in order.
        columns: Vec<String>,
        query: String,
    },
    /// `CREATE [OR REPLACE] VIEW [IF NOT EXISTS] name [COMMENT '..'] AS query`: a view kept
    /// in the catalog.
    CreateView {
        name: Vec<String>,
        replace: bool,
        if_not_exists: bool,
        /// `(a, b COMMENT '..')`: the view's column names, in order.
        columns: Vec<String>,
        comment: Option<String>,
        query: String,
    },
    /// `DROP VIEW [IF EXISTS] name`.
    DropView { name: Vec<String>, if_exists: bool },
    /// `SHOW TBLPROPERTIES name [(key)]`.
    ShowTblProperties {
        name: Vec<String>,
        key: Option<String>,
    },
}

static SET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?is)^\s*SET(?:\s+([^=;]*?))?\s*(?:=\s*(.*?))?\s*;?\s*$").expect("valid regex")
});
static SHOW_TBLPROPERTIES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?is)^\s*SHOW\s+TBLPROPERTIES\s+((?:[\w.]|`[^`]*`)+)\s*(?:\(\s*(.*?)\s*\))?\s*;?\s*$",
    )
    .expect("valid regex")
});
static SHOW_TABLES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?is)^\s*SHOW\s+TABLES(?:\s+(?:IN|FROM)\s+([\w`.]+))?(?:\s+(?:LIKE\s+)?'([^']*)')?\s*;?\s*$")
        .expect("valid regex")
});
static DESCRIBE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?is)^\s*(?:DESCRIBE|DESC)\s+(?:TABLE\s+)?(EXTENDED\s+|FORMATTED\s+)?((?:`[^`]*`|[\w.])+)(?:\s+((?:`[^`]*`|[\w.])+))?\s*;?\s*$")
        .expect("valid regex")
});
/// `DESCRIBE <keyword> x` forms that describe something other than a table's column.
const DESCRIBE_OTHER: &[&str] = &["DATABASE", "SCHEMA", "NAMESPACE", "CATALOG", "FUNCTION"];
static DESCRIBE_QUERY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?is)^\s*(?:DESCRIBE|DESC)\s+(?:QUERY\s+(.*?)|((?:SELECT|WITH|VALUES|FROM)\b.*?))\s*;?\s*$")
        .expect("valid regex")
});
static CREATE_VIEW: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?is)^\s*CREATE\s+(OR\s+REPLACE\s+)?(GLOBAL\s+)?TEMP(?:ORARY)?\s+VIEW\s+(?:IF\s+NOT\s+EXISTS\s+)?([\w`.]+)(?:\s*\(([^)]*)\))?\s+AS\s+(.*?);?\s*$")
        .expect("valid regex")
});
static CREATE_PERSISTED_VIEW: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?is)^\s*CREATE\s+(OR\s+REPLACE\s+)?VIEW\s+(IF\s+NOT\s+EXISTS\s+)?([\w`.]+)(?:\s*\(([^)]*)\))?(?:\s+COMMENT\s+'((?:[^'\\]|\\.)*)')?\s+AS\s+(.*?);?\s*$")
        .expect("valid regex")
});
static DROP_VIEW: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?is)^\s*DROP\s+VIEW\s+(IF\s+EXISTS\s+)?([\w`.]+)\s*;?\s*$").expect("valid regex")
});

fn ident(s: &str) -> Vec<String> {
    crate::expression::split_name(s)
}

/// The names of a view's column list: `a`, `` `b c` ``, `d COMMENT 'x'`.
fn view_columns(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(
            |c| match c.strip_prefix('`').and_then(|r| r.split_once('`')) {
                Some((quoted, _)) => quoted.to_string(),
                None => c.split_whitespace().next().unwrap_or(c).to_string(),
            },
        )
        .collect()
}

/// Classifies a statement; anything that is not a sluice-handled statement is a query.
pub fn classify(sql: &str) -> SparkStatement {
    if let Some(c) = CREATE_VIEW.captures(sql) {
        return SparkStatement::CreateTempView {
            name: ident(&c[3]).join("."),
            replace: c.get(1).is_some(),
            global: c.get(2).is_some(),
            columns: c
                .get(4)
                .map(|m| view_columns(m.as_str()))
                .unwrap_or_default(),
            query: c[5].to_string(),
        };
    }
    if let Some(c) = CREATE_PERSISTED_VIEW.captures(sql) {
        return SparkStatement::CreateView {
            name: ident(&c[3]),
            replace: c.get(1).is_some(),
            if_not_exists: c.get(2).is_some(),
            columns: c
                .get(4)
                .map(|m| view_columns(m.as_str()))
                .unwrap_or_default(),
            comment: c.get(5).map(|m| m.as_str().to_string()),
            query: c[6].to_string(),
        };
    }
    if let Some(c) = DROP_VIEW.captures(sql) {
        return SparkStatement::DropView {
            name: ident(&c[2]),
            if_exists: c.get(1).is_some(),
        };
    }
    if let Some(c) = SHOW_TABLES.captures(sql) {
        return SparkStatement::ShowTables {
            database: c.get(1).map(|m| m.as_str().trim_matches('`').to_string()),
            pattern: c.get(2).map(|m| m.as_str().to_string()),
        };
    }
    if let Some(c) = SHOW_TBLPROPERTIES.captures(sql) {
        return SparkStatement::ShowTblProperties {
            name: ident(&c[1]),
            key: c.get(2).map(|m| {
                let k = m.as_str();
                let quoted = k.len() >= 2
                    && ["'", "\"", "`"]
                        .iter()
                        .any(|q| k.starts_with(q) && k.ends_with(q));
                if quoted { &k[1..k.len() - 1] } else { k }.to_string()
            }),
        };
    }
    if let Some(c) = DESCRIBE_QUERY.captures(sql) {
        let query = c
            .get(1)
            .or(c.get(2))
            .map(|m| m.as_str())
            .unwrap_or_default();
        return SparkStatement::DescribeQuery {
            query: query.to_string(),
        };
    }
    if let Some(c) = DESCRIBE.captures(sql).filter(|c| {
        c.get(3).is_none() || !DESCRIBE_OTHER.contains(&c[2].to_ascii_uppercase().as_str())
    }) {
        return SparkStatement::Describe {
            name: ident(&c[2]),
            extended: c.get(1).is_some(),
            column: c.get(3).map(|m| ident(m.as_str())),
        };
    }
    if let Some(c) = SET.captures(sql) {
        let key = c
            .get(1)
            .map(|m| m.as_str().trim().to_string())
            .filter(|k| !k.is_empty());
        return SparkStatement::Set {
            key,
            value: c.get(2).map(|m| m.as_str().trim().to_string()),
        };
    }
    SparkStatement::Query
}

/// A DataFusion parser error in Spark's words, with the position Spark reports.
fn parse_error(sql: &str, e: impl std::fmt::Display) -> PlanError {
    let msg = e.to_string();
    static FOUND: LazyLock<Regex> = LazyLock::new(|| {
        // DataFusion may quote the parser's message as `ParserError("...")`.
        Regex::new(r#"found: (.+?)(?: at Line: (\d+), Column: (\d+))?(?:"\))?$"#)
            .expect("valid regex")
    });
    let (token, pos) = match FOUND.captures(&msg) {
        Some(c) => (
            c[1].to_string(),
            c.get(2).zip(c.get(3)).map(|(l, col)| {
                (
                    l.as_str().to_string(),
                    col.as_str().parse::<usize>().unwrap_or(1),
                )
            }),
        ),
        None => ("end of input".to_string(), None),
    };
    let token = if token == "EOF" {
        "end of input".to_string()
    } else {
        format!("'{token}'")
    };
    let position = pos
        .map(|(l, c)| format!("(line {l}, pos {})", c.saturating_sub(1)))
        .unwrap_or_default();
    PlanError::Parse(format!(
        "[PARSE_SYNTAX_ERROR] Syntax error at or near {token}. SQLSTATE: 42601 {position}\n\n== SQL ==\n{sql}\n"
    ))
}

/// Spark's `\uXXXX` escapes in quoted literals, as the characters they stand for (the
/// parser reads the other backslash escapes itself).
fn unicode_escapes(sql: &str) -> std::borrow::Cow<'_, str> {
    if !sql.contains("\\u") {
        return sql.into();
    }
    let chars: Vec<char> = sql.chars().collect();
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match quote {
            None if c == '\'' || c == '"' || c == '`' => quote = Some(c),
            Some(q) if c == q => quote = None,
            Some(q) if q != '`' && c == '\\' => {
                let hex: String = chars.iter().skip(i + 2).take(4).collect();
                let decoded = (chars.get(i + 1) == Some(&'u') && hex.len() == 4)
                    .then(|| u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32))
                    .flatten();
                match decoded {
                    // A quote or backslash stays escaped for the parser.
                    Some(d) if d == '\'' || d == '"' || d == '\\' => {
                        out.push('\\');
                        out.push(d);
                        i += 6;
                    }
                    Some(d) => {
                        out.push(d);
                        i += 6;
                    }
                    None => {
                        out.push(c);
                        if let Some(next) = chars.get(i + 1) {
                            out.push(*next);
                        }
                        i += 2;
                    }
                }
                continue;
            }
            _ => {}
        }
        out.push(c);
        i += 1;
    }
    out.into()
}

fn parse_one(sql: &str) -> PlanResult<DFStatement> {
    let sql = &*unicode_escapes(sql);
    let dialect = SparkDialect;
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .map_err(|e| parse_error(sql, e))?;
    let mut statements = DFParserBuilder::new(numeric_literals::fold_tokens(tokens))
        .with_dialect(&dialect)
        .build()
        .map_err(|e| parse_error(sql, e))?
        .parse_statements()
        .map_err(|e| parse_error(sql, e))?;
    if statements.len() != 1 {
        return Err(PlanError::Parse(format!(
            "[PARSE_SYNTAX_ERROR] Syntax error at or near end of input: expected exactly one statement. SQLSTATE: 42601\n\n== SQL ==\n{sql}\n"
        )));
    }
    statements
        .pop_front()
        .ok_or_else(|| PlanError::Parse("empty statement".into()))
}

/// One SQL statement as the SQL parser reads it (for looking at, not planning).
pub(crate) fn parse_statement(sql: &str) -> PlanResult<Statement> {
    match parse_one(sql)? {
        DFStatement::Statement(s) => Ok(*s),
        other => Err(PlanError::Parse(format!(
            "[PARSE_SYNTAX_ERROR] Syntax error: expected a query, not {other}. SQLSTATE: 42601"
        ))),
    }
}

/// Positions of the outer SELECT's items that compute a value without naming it: a
/// persisted view must alias them (Spark's CREATE_PERMANENT_VIEW_WITHOUT_ALIAS). Empty when
/// a star makes positions unknowable before planning.
pub fn unaliased_items(sql: &str) -> PlanResult<Vec<usize>> {
    let Statement::Query(query) = parse_statement(sql)? else {
        return Ok(vec![]);
    };
    let SetExpr::Select(select) = query.body.as_ref() else {
        return Ok(vec![]);
    };
    let items = &select.projection;
    if items.iter().any(|i| {
        !matches!(
            i,
            SelectItem::UnnamedExpr(_) | SelectItem::ExprWithAlias { .. }
        )
    }) {
        return Ok(vec![]);
    }
    Ok(items
        .iter()
        .enumerate()
        .filter(|(_, item)| match item {
            SelectItem::UnnamedExpr(e) => {
                !matches!(e, SqlExpr::Identifier(_) | SqlExpr::CompoundIdentifier(_))
            }
            _ => false,
        })
        .map(|(i, _)| i)
        .collect())
}

/// Rewrites `:name` and `?` parameter markers to DataFusion's `$n`.
struct Parameters<'a> {
    named: &'a HashMap<String, ScalarValue>,
    positional: &'a [ScalarValue],
    next_positional: usize,
    values: Vec<ScalarValue>,
    missing: Option<String>,
}

impl VisitorMut for Parameters<'_> {
    type Break = ();
    fn post_visit_expr(&mut self, expr: &mut SqlExpr) -> std::ops::ControlFlow<()> {
        if let SqlExpr::Value(v) = expr {
            if let Value::Placeholder(p) = &v.value {
                let value = if p == "?" {
                    self.next_positional += 1;
                    self.positional.get(self.next_positional - 1).cloned()
                } else {
                    self.named.get(p.trim_start_matches([':', '$'])).cloned()
                };
                match value {
                    Some(value) => {
                        self.values.push(value);
                        v.value = Value::Placeholder(format!("${}", self.values.len()));
                    }
                    None => self.missing = Some(p.clone()),
                }
            }
        }
        std::ops::ControlFlow::Continue(())
    }
}

/// Spark's `FOR VERSION AS OF` / `SYSTEM_VERSION AS OF` / `FOR TIMESTAMP AS OF` spellings,
/// in the form the SQL parser takes.
fn spark_temporal_clauses(sql: &str) -> std::borrow::Cow<'_, str> {
    static VERSION: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)\b(?:FOR\s+)?(?:SYSTEM_VERSION|VERSION)\s+AS\s+OF\b").expect("valid regex")
    });
    static TIMESTAMP: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?i)\bFOR\s+TIMESTAMP\s+AS\s+OF\b").expect("valid regex"));
    if !sql.to_ascii_uppercase().contains(" AS OF") {
        return std::borrow::Cow::Borrowed(sql);
    }
    let v = VERSION.replace_all(sql, "VERSION AS OF");
    std::borrow::Cow::Owned(TIMESTAMP.replace_all(&v, "TIMESTAMP AS OF").into_owned())
}

/// `t VERSION AS OF n` / `t TIMESTAMP AS OF 'ts'` become the table names `t@vN` /
/// `t@ts:<text>`, which the catalog resolves to that version (DataFusion's planner ignores
/// table versions).
#[derive(Default)]
struct TimeTravel {
    error: Option<PlanError>,
    /// Non-literal timestamp expressions met, as SQL text.
    pending: Vec<String>,
    /// Their values, once folded.
    resolved: HashMap<String, String>,
}

/// The value of a constant SQL expression as a string (e.g. `timestamp_millis(0)`).
async fn constant_text(p: &Planner<'_>, text: &str) -> PlanResult<String> {
    let plan = p
        .state
        .create_logical_plan(&format!("SELECT CAST({text} AS STRING)"))
        .await?;
    let plan = p.state.optimize(&plan)?;
    if let LogicalPlan::Projection(proj) = &plan {
        if let Some(Expr::Literal(ScalarValue::Utf8(Some(v)) | ScalarValue::Utf8View(Some(v)), _)) =
            proj.expr.first().map(|e| e.clone().unalias())
        {
            return Ok(v);
        }
    }
    Err(PlanError::analysis(format!(
        "[INVALID_TIME_TRAVEL_TIMESTAMP_EXPR.INPUT] The time travel timestamp expression {text} is invalid: it must be a constant."
    )))
}

impl VisitorMut for TimeTravel {
    type Break = ();
    fn pre_visit_table_factor(
        &mut self,
        factor: &mut ast::TableFactor,
    ) -> std::ops::ControlFlow<()> {
        let ast::TableFactor::Table {
            name,
            version,
            alias,
            ..
        } = factor
        else {
            return std::ops::ControlFlow::Continue(());
        };
        let Some(v) = version.take() else {
            return std::ops::ControlFlow::Continue(());
        };
        let literal = |e: &SqlExpr| match e {
            SqlExpr::Value(v) => match &v.value {
                Value::Number(n, _) => Some(n.clone()),
                Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => Some(s.clone()),
                _ => None,
            },
            _ => None,
        };
        let suffix = match &v {
            ast::TableVersion::VersionAsOf(e) => literal(e).map(|n| format!("@v{n}")),
            ast::TableVersion::TimestampAsOf(e) | ast::TableVersion::ForSystemTimeAsOf(e) => {
                match literal(e).or_else(|| self.resolved.get(&e.to_string()).cloned()) {
                    Some(t) => Some(format!("@ts:{t}")),
                    None => {
                        self.pending.push(e.to_string());
                        *version = Some(v);
                        return std::ops::ControlFlow::Continue(());
                    }
                }
            }
            _ => None,
        };
        let (Some(suffix), Some(ast::ObjectNamePart::Identifier(last))) =
            (suffix, name.0.last_mut())
        else {
            self.error = Some(PlanError::analysis(format!(
                "[INVALID_TIME_TRAVEL_SPEC] Cannot specify both version and timestamp, or a non-literal, when time travelling the table: {v}"
            )));
            return std::ops::ControlFlow::Break(());
        };
        if alias.is_none() {
            // Columns stay qualified by the table's own name.
            *alias = Some(ast::TableAlias {
                explicit: false,
                name: last.clone(),
                columns: vec![],
                at: None,
            });
        }
        last.value.push_str(&suffix);
        std::ops::ControlFlow::Continue(())
    }
}

/// Spark types an integer literal INT when it fits; DataFusion types every one BIGINT. The
/// literals that are values (operands, arguments, select items, VALUES rows) become
/// `CAST(n AS INT)` before planning; positions such as `ORDER BY 1` and LIMIT stay numbers.
struct IntLiterals;

fn int_literal(e: &mut SqlExpr) {
    let SqlExpr::Value(v) = e else { return };
    let Value::Number(n, false) = &v.value else {
        return;
    };
    if n.parse::<i32>().is_err() {
        return;
    }
    let number = std::mem::replace(e, SqlExpr::Value(Value::Null.into()));
    *e = SqlExpr::Cast {
        kind: ast::CastKind::Cast,
        expr: Box::new(number),
        data_type: ast::DataType::Int(None),
        array: false,
        format: None,
    };
}

impl VisitorMut for IntLiterals {
    type Break = ();
    fn post_visit_expr(&mut self, expr: &mut SqlExpr) -> std::ops::ControlFlow<()> {
        match expr {
            SqlExpr::BinaryOp { left, right, .. } => {
                int_literal(left);
                int_literal(right);
            }
            SqlExpr::UnaryOp { expr, .. } => int_literal(expr),
            SqlExpr::Function(f) => {
                if let FunctionArguments::List(list) = &mut f.args {
                    for a in &mut list.args {
                        if let FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) = a {
                            int_literal(e);
                        }
                    }
                }
            }
            SqlExpr::Case {
                conditions,
                else_result,
                ..
            } => {
                for w in conditions {
                    int_literal(&mut w.result);
                }
                if let Some(e) = else_result {
                    int_literal(e);
                }
            }
            SqlExpr::InList { list, .. } => list.iter_mut().for_each(int_literal),
            _ => {}
        }
        std::ops::ControlFlow::Continue(())
    }
    fn post_visit_query(&mut self, query: &mut ast::Query) -> std::ops::ControlFlow<()> {
        match query.body.as_mut() {
            SetExpr::Select(select) => {
                for item in &mut select.projection {
                    match item {
                        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                            int_literal(e)
                        }
                        _ => {}
                    }
                }
            }
            SetExpr::Values(values) => {
                for row in &mut values.rows {
                    row.content.iter_mut().for_each(int_literal);
                }
            }
            _ => {}
        }
        std::ops::ControlFlow::Continue(())
    }
}

/// Plans a query with named (`:x`) and positional (`?`) literal arguments.
pub(crate) async fn plan_query(
    p: &Planner<'_>,
    sql: &str,
    named: &HashMap<String, Literal>,
    positional: &[Literal],
) -> PlanResult<LogicalPlan> {
    let tz = &p.config.time_zone;
    let named = named
        .iter()
        .map(|(k, v)| Ok((k.clone(), literal::to_scalar(v, tz)?)))
        .collect::<PlanResult<HashMap<_, _>>>()?;
    let positional = positional
        .iter()
        .map(|v| literal::to_scalar(v, tz))
        .collect::<PlanResult<Vec<_>>>()?;
    plan_query_with(p, sql, &named, &positional).await
}

pub async fn plan_query_with(
    p: &Planner<'_>,
    sql: &str,
    named: &HashMap<String, ScalarValue>,
    positional: &[ScalarValue],
) -> PlanResult<LogicalPlan> {
    // Generator calls found to read maps; each is planned again with a map's columns.
    let mut maps = HashSet::new();
    loop {
        match plan_once(p, sql, named, positional, &maps).await {
            Err(e) => match crate::sql_generator::reads_a_map(&e) {
                Some(call) if maps.insert(call) => continue,
                _ => return Err(e),
            },
            planned => return planned,
        }
    }
}

async fn plan_once(
    p: &Planner<'_>,
    sql: &str,
    named: &HashMap<String, ScalarValue>,
    positional: &[ScalarValue],
    maps: &HashSet<usize>,
) -> PlanResult<LogicalPlan> {
    let sql = spark_temporal_clauses(sql);
    let sql = crate::sql_timestamps::ltz_literals(&sql);
    let sql = crate::sql_relations::stream_keyword(&sql);
    let mut statement = parse_one(&sql)?;
    let mut params = Parameters {
        named,
        positional,
        next_positional: 0,
        values: vec![],
        missing: None,
    };
    if let DFStatement::Statement(s) = &mut statement {
        let _ = s.visit(&mut params);
    }
    if let Some(name) = params.missing {
        return Err(PlanError::analysis(format!(
            "[UNBOUND_SQL_PARAMETER] Found the unbound parameter: {}. Please, fix `args` and provide a mapping of the parameter to either a SQL literal or collection constructor functions such as `map()`, `array()`, `struct()`. SQLSTATE: 42P02",
            name.trim_start_matches(':')
        )));
    }
    if let DFStatement::Statement(s) = &mut statement {
        if let std::ops::ControlFlow::Break(e) = s.visit(&mut LateralViews) {
            return Err(e);
        }
        let mut generators = crate::sql_generator::Generators { maps, next_call: 0 };
        if let std::ops::ControlFlow::Break(e) = s.visit(&mut generators) {
            return Err(e);
        }
    }
    let names = match &statement {
        DFStatement::Statement(s) => select_names(s),
        _ => None,
    };
    let mut timestamps = crate::sql_timestamps::TimestampTypes::default();
    if let DFStatement::Statement(s) = &mut statement {
        let _ = s.visit(&mut IntLiterals);
        if let std::ops::ControlFlow::Break(e) = s.visit(&mut TypedLiterals) {
            return Err(e);
        }
        let _ = s.visit(&mut SparkSyntax {
            ansi: p.config.ansi,
        });
        if let std::ops::ControlFlow::Break(e) = s.visit(&mut timestamps) {
            return Err(e);
        }
        if let std::ops::ControlFlow::Break(e) = s.visit(&mut crate::interval::IntervalRanges) {
            return Err(e);
        }
        // TIMESTAMP AS OF takes constant expressions: fold them to text first.
        let mut probe = TimeTravel::default();
        let _ = s.clone().visit(&mut probe);
        let mut travel = TimeTravel::default();
        for text in probe.pending {
            let value = constant_text(p, &text).await?;
            travel.resolved.insert(text, value);
        }
        let _ = s.visit(&mut travel);
        if let Some(e) = travel.error {
            return Err(e);
        }
    }
    if let (DFStatement::Statement(s), false) = (&mut statement, p.config.case_sensitive) {
        crate::sql_case::respell_cte_references(s.as_mut());
    }
    let state = match &mut statement {
        DFStatement::Statement(s) => {
            crate::sql_relations::resolve(p.state, p.resolver, s.as_mut()).await?
        }
        _ => None,
    };
    let grouped = match &statement {
        DFStatement::Statement(s) => has_group_by(s),
        _ => true,
    };
    let bag_set_operations = matches!(&statement,
        DFStatement::Statement(s) if crate::sql_set_semantics::has_bag_set_operation(s));
    let state = state.as_ref().unwrap_or(p.state);
    let zoned;
    let state = if timestamps.zoned {
        zoned = with_time_zone(state, &p.config.time_zone);
        &zoned
    } else {
        state
    };
    let bridged = match &statement {
        DFStatement::Statement(s) => {
            crate::sql_bridge::with_stand_ins(state, &p.config, s.as_ref())
        }
        _ => None,
    };
    let state = bridged.as_ref().unwrap_or(state);
    let mut plan = match state.statement_to_plan(statement.clone()).await {
        Err(e) if !p.config.case_sensitive => respelled(state, statement, e).await,
        planned => planned,
    }
    .map_err(|e| ungrouped_column(e, grouped))?;
    if !params.values.is_empty() {
        plan = plan.with_param_values(ParamValues::List(
            params.values.into_iter().map(Into::into).collect(),
        ))?;
    }
    let plan = crate::sql_generator::expand(p, plan)?;
    // Built expressions already have Spark's semantics: they go in after the SQL rewrites.
    let mut plan = spark_semantics(plan, p.config.ansi)?;
    if bridged.is_some() {
        plan = crate::sql_bridge::expand(p, plan)?;
    }
    let plan = crate::sql_set_semantics::apply(plan, bag_set_operations)?;
    rename_outputs(plan, names)
}

/// The session state with DataFusion's time zone set: a Spark TIMESTAMP in SQL text is in
/// the session time zone, which DataFusion's SQL planner takes from its config.
fn with_time_zone(
    state: &datafusion::execution::SessionState,
    tz: &str,
) -> datafusion::execution::SessionState {
    let mut zoned = state.clone();
    zoned.config_mut().options_mut().execution.time_zone = Some(tz.to_string());
    zoned
}

/// Plans `statement` again with each column name that failed as written spelled as its
/// scope spells it (Spark matches names ignoring case); `first` stands when that cannot help.
async fn respelled(
    state: &datafusion::execution::SessionState,
    mut statement: DFStatement,
    first: datafusion::error::DataFusionError,
) -> datafusion::error::Result<LogicalPlan> {
    let mut error = first;
    for _ in 0..MAX_RESPELLINGS {
        let Some(fix) = Respelling::of(&error) else {
            break;
        };
        let DFStatement::Statement(s) = &mut statement else {
            break;
        };
        if !fix.apply(s.as_mut()) {
            break;
        }
        match state.statement_to_plan(statement.clone()).await {
            Ok(plan) => return Ok(plan),
            Err(e) => error = e,
        }
    }
    Err(error)
}

/// Whether a top-level SELECT has a GROUP BY clause (anything else counts as having one).
fn has_group_by(s: &Statement) -> bool {
    let Statement::Query(q) = s else { return true };
    match q.body.as_ref() {
        SetExpr::Select(select) => match &select.group_by {
            ast::GroupByExpr::All(_) => true,
            ast::GroupByExpr::Expressions(exprs, modifiers) => {
                !exprs.is_empty() || !modifiers.is_empty()
            }
        },
        _ => true,
    }
}

/// DataFusion's "must appear in the GROUP BY clause" as Spark's condition: MISSING_GROUP_BY
/// when the query has no GROUP BY, MISSING_AGGREGATION when the column is not in it.
fn ungrouped_column(e: datafusion::error::DataFusionError, grouped: bool) -> PlanError {
    static COLUMN: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"column "(?:[^"]*\.)?([^".]+)" must appear in the GROUP BY clause"#)
            .expect("valid regex")
    });
    let text = e.to_string();
    let Some(c) = COLUMN.captures(&text) else {
        return e.into();
    };
    let name = &c[1];
    if !grouped {
        // Spark follows the message with the plan; sluice names the offending column.
        return PlanError::analysis(format!(
            "[MISSING_GROUP_BY] The query does not include a GROUP BY clause. Add GROUP BY or turn it into the window functions using OVER clauses. SQLSTATE: 42803; the column \"{name}\" is neither grouped nor aggregated"
        ));
    }
    PlanError::analysis(format!(
        "[MISSING_AGGREGATION] The non-aggregating expression \"{name}\" is based on columns which are not participating in the GROUP BY clause.\nAdd the columns or the expression to the GROUP BY, aggregate the expression, or use \"any_value({name})\" if you do not care which of the values within a group is returned. SQLSTATE: 42803"
    ))
}

/// Spark's names for the unaliased items of a top-level SELECT; None if they cannot be
/// matched to output columns one by one (wildcards).
fn select_names(s: &Statement) -> Option<Vec<String>> {
    let Statement::Query(q) = s else { return None };
    let SetExpr::Select(select) = q.body.as_ref() else {
        return None;
    };
    select
        .projection
        .iter()
        .map(|item| match item {
            SelectItem::UnnamedExpr(e) => Some(spark_name(e)),
            SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.clone()),
            _ => None,
        })
        .collect()
}

fn rename_outputs(plan: LogicalPlan, names: Option<Vec<String>>) -> PlanResult<LogicalPlan> {
    let Some(names) = names else { return Ok(plan) };
    let schema = plan.schema().clone();
    if names.len() != schema.fields().len()
        || schema
            .fields()
            .iter()
            .zip(&names)
            .all(|(f, n)| f.name() == n)
    {
        return Ok(plan);
    }
    let exprs: Vec<Expr> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let c = column_at(&schema, i);
            if schema.field(i).name() == n {
                c
            } else {
                c.alias(n)
            }
        })
        .collect();
    // Spark names `typeof(1)` and `typeof(1L)` alike; both stay.
    let exprs = crate::relation::keep_duplicates(exprs);
    Ok(LogicalPlanBuilder::from(plan).project(exprs)?.build()?)
}

/// Spark semantics DataFusion's SQL planner does not have: `/` on non-decimals is a
/// division of doubles; integral `+`, `-`, `*` fail on overflow under ANSI mode.
fn spark_semantics(plan: LogicalPlan, ansi: bool) -> PlanResult<LogicalPlan> {
    let out = plan.transform_up_with_subqueries(|node| {
        // LIMIT / OFFSET counts stay as DataFusion wants them.
        if matches!(node, LogicalPlan::Limit(_)) {
            return Ok(Transformed::no(node));
        }
        let mut schema = DFSchema::empty();
        for input in node.inputs() {
            schema.merge(input.schema());
        }
        let rewritten = node.map_expressions(|e| {
            let before = e.clone();
            let after = divide_in_expr(e, &schema, ansi)
                .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
            Ok(if after == before {
                Transformed::no(after)
            } else {
                Transformed::yes(after)
            })
        })?;
        if rewritten.transformed {
            Ok(Transformed::yes(rewritten.data.recompute_schema()?))
        } else {
            Ok(rewritten)
        }
    })?;
    Ok(out.data)
}

/// Plans an expression string (`expr("a + 1")`, `selectExpr`, `filter("a > 1")`).
/// Parses one select item (`expr`, `expr AS a`, `expr a`) the way a SELECT list would.
fn parse_select_item(text: &str) -> PlanResult<ast::ExprWithAlias> {
    let sql = format!("SELECT {text}");
    let statement = parse_one(&sql).map_err(|_| parse_error(text, "found: EOF"))?;
    let item = match statement {
        DFStatement::Statement(s) => match *s {
            Statement::Query(q) => match *q.body {
                SetExpr::Select(select)
                    if select.projection.len() == 1 && select.from.is_empty() =>
                {
                    select.projection.into_iter().next()
                }
                _ => None,
            },
            _ => None,
        },
        _ => None,
    };
    match item {
        Some(SelectItem::UnnamedExpr(expr)) => Ok(ast::ExprWithAlias { expr, alias: None }),
        Some(SelectItem::ExprWithAlias { expr, alias }) => Ok(ast::ExprWithAlias {
            expr,
            alias: Some(alias),
        }),
        // `explode(m) AS (k, v)`: a generator's names, joined as one alias.
        Some(SelectItem::ExprWithAliases { expr, aliases }) => Ok(ast::ExprWithAlias {
            expr,
            alias: Some(ast::Ident::new(
                aliases
                    .iter()
                    .map(|a| a.value.as_str())
                    .collect::<Vec<_>>()
                    .join(&crate::generator::ALIAS_SEPARATOR.to_string()),
            )),
        }),
        _ => Err(parse_error(text, "found: EOF")),
    }
}

pub(crate) fn plan_expression(p: &Planner, text: &str, schema: &DFSchema) -> PlanResult<Expr> {
    let mut parsed = parse_select_item(&crate::sql_timestamps::ltz_literals(text))?;
    // A generator (`explode(a)`) is planned over its planned argument.
    if let ast::Expr::Function(f) = &parsed.expr {
        if let Some(kind) = crate::generator::generator_kind(&f.name.to_string()) {
            let argument = crate::sql_generator::only_argument(f)?;
            let planned = plan_expression(p, &argument.to_string(), schema)?;
            let e = kind.unnest(planned.unalias());
            return Ok(match &parsed.alias {
                Some(a) => e.alias(&a.value),
                None => e,
            });
        }
    }
    crate::sql_generator::check_not_nested(&parsed.expr)?;
    if let std::ops::ControlFlow::Break(e) = parsed.expr.visit(&mut TypedLiterals) {
        return Err(e);
    }
    let _ = parsed.expr.visit(&mut SparkSyntax {
        ansi: p.config.ansi,
    });
    let mut timestamps = crate::sql_timestamps::TimestampTypes::default();
    if let std::ops::ControlFlow::Break(e) = parsed.expr.visit(&mut timestamps) {
        return Err(e);
    }
    if let std::ops::ControlFlow::Break(e) = parsed.expr.visit(&mut crate::interval::IntervalRanges)
    {
        return Err(e);
    }
    let zoned;
    let state = if timestamps.zoned {
        zoned = with_time_zone(p.state, &p.config.time_zone);
        &zoned
    } else {
        p.state
    };
    let bridged = crate::sql_bridge::with_stand_ins(state, &p.config, &parsed.expr);
    let state = bridged.as_ref().unwrap_or(state);
    let alias = parsed.alias.as_ref().map(|a| a.value.clone());
    let mut planned = state.create_logical_expr_from_sql_expr(parsed.clone(), schema);
    // Spark matches column names ignoring case: respell each that failed, as in queries.
    for _ in 0..MAX_RESPELLINGS {
        let fix = match &planned {
            Err(e) if !p.config.case_sensitive => Respelling::of(e),
            _ => None,
        };
        match fix {
            Some(fix) if fix.apply(&mut parsed.expr) => {
                planned = state.create_logical_expr_from_sql_expr(parsed.clone(), schema);
            }
            _ => break,
        }
    }
    let e = match planned? {
        Expr::Alias(a) => *a.expr,
        other => other,
    };
    let mut e = divide_in_expr(int_literals(e)?, schema, p.config.ansi)?;
    if bridged.is_some() {
        e = e
            .transform_up(|x| crate::sql_bridge::replace(p, x, schema))?
            .data;
    }
    Ok(match alias {
        Some(a) => e.alias(a),
        None => e,
    })
}

/// Spark types an integer literal INT when it fits, BIGINT otherwise (DataFusion: BIGINT).
/// Only for standalone expressions: in a whole SQL plan, later nodes refer to earlier ones
/// by names that spell the literal's type.
fn int_literals(e: Expr) -> PlanResult<Expr> {
    Ok(e.transform_up(|x| match x {
        Expr::Literal(ScalarValue::Int64(Some(v)), meta) if i32::try_from(v).is_ok() => Ok(
            Transformed::yes(Expr::Literal(ScalarValue::Int32(Some(v as i32)), meta)),
        ),
        other => Ok(Transformed::no(other)),
    })?
    .data)
}

fn divide_in_expr(e: Expr, schema: &DFSchema, ansi: bool) -> PlanResult<Expr> {
    Ok(e.transform_up(|x| match x {
        Expr::Cast(datafusion::logical_expr::Cast {
            ref expr,
            ref field,
        })
        | Expr::TryCast(datafusion::logical_expr::TryCast {
            ref expr,
            ref field,
        }) => {
            let to = field.data_type();
            let from =
                datafusion::logical_expr::ExprSchemable::get_type(expr.as_ref(), schema).ok();
            let safe = matches!(x, Expr::TryCast(_)) || !ansi;
            let timestamp = from
                .as_ref()
                .and_then(|from| crate::timestamp_cast::spark_timestamp_cast(expr, from, to, safe));
            Ok(
                match timestamp.or_else(|| crate::udf::spark_cast_string(expr, to, schema)) {
                    Some(e) => Transformed::yes(e),
                    None => Transformed::no(x),
                },
            )
        }
        Expr::ScalarFunction(_) => crate::udf::with_ansi_divide(x, ansi)
            .transform_data(|e| Ok(crate::udf::with_assert_message(e))),
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Divide,
            right,
        }) => Ok(Transformed::yes(crate::functions::spark_divide(
            *left, *right, schema, ansi,
        ))),
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: op @ (Operator::Plus | Operator::Minus | Operator::Multiply),
            right,
        }) if ansi => {
            let e = crate::udf::arithmetic(*left, op, *right, schema, ansi);
            Ok(match e {
                Expr::BinaryExpr(_) => Transformed::no(e),
                _ => Transformed::yes(e),
            })
        }
        other => Ok(Transformed::no(other)),
    })?
    .data)
}

/// Spark's name for an expression string as a column (`selectExpr("a + 1")` → `(a + 1)`).
pub(crate) fn expression_name(text: &str) -> String {
    match parse_select_item(text) {
        Ok(e) => match e.alias {
            Some(a) => a.value,
            None => spark_name(&e.expr),
        },
        Err(_) => text.to_string(),
    }
}

/// Spark's `Expression.sql`-style naming over the parsed SQL.
fn spark_name(e: &SqlExpr) -> String {
    match e {
        SqlExpr::Identifier(i) => i.value.clone(),
        SqlExpr::CompoundIdentifier(parts) => {
            parts.last().map(|i| i.value.clone()).unwrap_or_default()
        }
        SqlExpr::Nested(inner) => spark_name(inner),
        SqlExpr::BinaryOp { left, op, right } => {
            let op = match op {
                ast::BinaryOperator::Eq => "=".to_string(),
                ast::BinaryOperator::MyIntegerDivide => "div".to_string(),
                other => other.to_string(),
            };
            format!("({} {op} {})", spark_name(left), spark_name(right))
        }
        SqlExpr::UnaryOp {
            op: ast::UnaryOperator::Not,
            expr,
        } => format!("(NOT {})", spark_name(expr)),
        SqlExpr::UnaryOp {
            op: ast::UnaryOperator::Minus,
            expr,
        } => match expr.as_ref() {
            // The literal takes the sign (`-128Y` is in range, named `-128`).
            SqlExpr::Value(v) => match &v.value {
                Value::Number(n, false) => numeric_literals::spark_name(&format!("-{n}"))
                    .unwrap_or_else(|| format!("-{}", spark_name(expr))),
                _ => format!("-{}", spark_name(expr)),
            },
            _ => format!("(- {})", spark_name(expr)),
        },
        SqlExpr::UnaryOp {
            op: ast::UnaryOperator::BitwiseNot,
            expr,
        } => format!("~{}", spark_name(expr)),
        SqlExpr::IsNull(x) => format!("({} IS NULL)", spark_name(x)),
        SqlExpr::IsNotNull(x) => format!("({} IS NOT NULL)", spark_name(x)),
        SqlExpr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => s.clone(),
            Value::Null => "NULL".into(),
            Value::Boolean(b) => b.to_string(),
            Value::Number(n, false) => numeric_literals::spark_name(n).unwrap_or_else(|| n.clone()),
            other => other.to_string(),
        },
        SqlExpr::Cast {
            expr, data_type, ..
        } => {
            let ty = crate::types::parse_data_type(&data_type.to_string(), "UTC")
                .map(|t| crate::types::sql_name(&t))
                .unwrap_or_else(|_| data_type.to_string().to_uppercase());
            format!("CAST({} AS {ty})", spark_name(expr))
        }
        SqlExpr::InList {
            expr,
            list,
            negated,
        } => {
            let items: Vec<String> = list.iter().map(spark_name).collect();
            let s = format!("({} IN ({}))", spark_name(expr), items.join(", "));
            if *negated {
                format!("(NOT {s})")
            } else {
                s
            }
        }
        SqlExpr::Like {
            negated,
            expr,
            pattern,
            ..
        } => {
            let s = format!("{} LIKE {}", spark_name(expr), spark_name(pattern));
            if *negated {
                format!("(NOT {s})")
            } else {
                s
            }
        }
        SqlExpr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => {
            // Spark names `CASE a WHEN 7` as its expanded form `CASE WHEN (a = 7)`.
            let mut s = String::from("CASE");
            for w in conditions {
                let cond = match operand {
                    Some(o) => format!("({} = {})", spark_name(o), spark_name(&w.condition)),
                    None => spark_name(&w.condition),
                };
                s.push_str(&format!(" WHEN {cond} THEN {}", spark_name(&w.result)));
            }
            if let Some(e) = else_result {
                s.push_str(&format!(" ELSE {}", spark_name(e)));
            }
            s + " END"
        }
        SqlExpr::Function(f) => function_name(f),
        SqlExpr::CompoundFieldAccess { root, access_chain } => {
            let mut s = spark_name(root);
            for access in access_chain {
                match access {
                    ast::AccessExpr::Subscript(ast::Subscript::Index { index }) => {
                        s.push_str(&format!("[{}]", spark_name(index)));
                    }
                    ast::AccessExpr::Dot(field) => s.push_str(&format!(".{}", spark_name(field))),
                    other => s.push_str(&other.to_string()),
                }
            }
            s
        }
        SqlExpr::Substring {
            expr,
            substring_from,
            substring_for,
            shorthand,
            ..
        } => {
            let from = substring_from
                .as_deref()
                .map(spark_name)
                .unwrap_or_else(|| "1".into());
            let len = substring_for
                .as_deref()
                .map(spark_name)
                .unwrap_or_else(|| i32::MAX.to_string());
            let name = if *shorthand { "substr" } else { "substring" };
            format!("{name}({}, {from}, {len})", spark_name(expr))
        }
        other => other.to_string(),
    }
}

/// Arguments Spark shows in a call's name when the call leaves them out:
/// (function, arguments given, the default shown after them).
const DEFAULT_ARGUMENTS: &[(&str, usize, &str)] = &[
    ("locate", 2, "1"),
    ("months_between", 2, "true"),
    ("sort_array", 1, "true"),
    ("unix_timestamp", 1, "yyyy-MM-dd HH:mm:ss"),
    ("to_unix_timestamp", 1, "yyyy-MM-dd HH:mm:ss"),
];

/// Type-named casts (`double(x)`): Spark names the column after the argument.
const CAST_FUNCTIONS: &[&str] = &[
    "boolean",
    "tinyint",
    "smallint",
    "int",
    "bigint",
    "float",
    "double",
    "decimal",
    "string",
    "binary",
    "date",
    "timestamp",
];

/// Spark's name for a lambda: `lambdafunction(body, params)`, each parameter, in the
/// body too, spelled `namedlambdavariable()`.
fn lambda_name(l: &ast::LambdaFunction) -> String {
    let params: Vec<&str> = l.params.iter().map(|p| p.name.value.as_str()).collect();
    let mut body = l.body.as_ref().clone();
    let _ = body.visit(&mut LambdaVariables(&params));
    let variables = vec!["namedlambdavariable()"; params.len()].join(", ");
    format!("lambdafunction({}, {variables})", spark_name(&body))
}

struct LambdaVariables<'a>(&'a [&'a str]);

impl VisitorMut for LambdaVariables<'_> {
    type Break = ();
    fn post_visit_expr(&mut self, expr: &mut SqlExpr) -> std::ops::ControlFlow<()> {
        if let SqlExpr::Identifier(i) = expr {
            if self.0.contains(&i.value.as_str()) {
                i.value = "namedlambdavariable()".into();
            }
        }
        std::ops::ControlFlow::Continue(())
    }
}

/// Functions Spark names in upper case (`RLIKE(s, p)`).
const UPPER_CASE_NAMES: [&str; 3] = ["rlike", "regexp", "regexp_like"];

fn function_name(f: &ast::Function) -> String {
    let mut name = f.name.to_string().to_lowercase();
    if UPPER_CASE_NAMES.contains(&name.as_str()) {
        name = name.to_uppercase();
    }
    // A generator's output column.
    if name == "explode" || name == "explode_outer" {
        return "col".into();
    }
    let FunctionArguments::List(list) = &f.args else {
        return format!("{name}()");
    };
    // `first(v, true)`: Spark's name leaves out the ignore-nulls flag.
    let shown = match name.as_str() {
        "first" | "last" | "first_value" | "last_value" => 1,
        _ => list.args.len(),
    };
    let mut args: Vec<String> = list
        .args
        .iter()
        .take(shown)
        .map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(SqlExpr::Lambda(l))) => lambda_name(l),
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => spark_name(e),
            FunctionArg::Unnamed(FunctionArgExpr::Wildcard) if name == "count" => "1".into(),
            other => other.to_string(),
        })
        .collect();
    if let ([only], true) = (args.as_slice(), CAST_FUNCTIONS.contains(&name.as_str())) {
        return only.clone();
    }
    if let Some((.., default)) = DEFAULT_ARGUMENTS
        .iter()
        .find(|(f, given, _)| *f == name && *given == args.len())
    {
        args.push(default.to_string());
    }
    let distinct = if matches!(
        list.duplicate_treatment,
        Some(ast::DuplicateTreatment::Distinct)
    ) {
        "DISTINCT "
    } else {
        ""
    };
    let mut s = format!("{name}({distinct}{})", args.join(", "));
    if let Some(over) = &f.over {
        s.push_str(&format!(" OVER {over}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_spark() {
        assert_eq!(expression_name("a + b"), "(a + b)");
        assert_eq!(expression_name("count(*)"), "count(1)");
        assert_eq!(expression_name("id * 2 AS x"), "x");
        assert_eq!(expression_name("upper(name)"), "upper(name)");
        assert_eq!(expression_name("CAST(a AS INT)"), "CAST(a AS INT)");
        assert_eq!(
            expression_name("a = 1 AND b IS NULL"),
            "((a = 1) AND (b IS NULL))"
        );
    }

    #[test]
    fn classifies_statements() {
        assert!(
            matches!(classify("SET spark.sql.x=1"), SparkStatement::Set { key: Some(k), value: Some(v) } if k == "spark.sql.x" && v == "1")
        );
        assert!(matches!(
            classify("show tables"),
            SparkStatement::ShowTables { .. }
        ));
        assert!(matches!(
            classify("CREATE OR REPLACE TEMP VIEW v AS SELECT 1"),
            SparkStatement::CreateTempView { replace: true, .. }
        ));
        assert!(matches!(classify("SELECT 1"), SparkStatement::Query));
        assert_eq!(
            view_columns("a, `b c`, d COMMENT 'x' "),
            vec!["a".to_string(), "b c".to_string(), "d".to_string()]
        );
        let SparkStatement::CreateView {
            name,
            replace,
            if_not_exists,
            columns,
            comment,
            query,
        } = classify("CREATE OR REPLACE VIEW db.v COMMENT 'a view' AS SELECT 1 AS a;")
        else {
            panic!("not a view")
        };
        assert_eq!(name, vec!["db".to_string(), "v".to_string()]);
        assert!(replace && !if_not_exists && columns.is_empty());
        assert_eq!(comment.as_deref(), Some("a view"));
        assert_eq!(query, "SELECT 1 AS a");
        let SparkStatement::CreateView { columns, .. } =
            classify("CREATE VIEW v (x, `y z` COMMENT 'c') AS SELECT 1, 2")
        else {
            panic!("not a view")
        };
        assert_eq!(columns, vec!["x".to_string(), "y z".to_string()]);
    }
}
