//! Relations a SQL query names that the session catalog cannot answer on its own:
//! `STREAM(t)` / `STREAM t` (a streaming read of a table, Spark 4.1), `cloud_files(path,
//! format[, map(..)])` (DLT's Auto Loader), `[STREAM] read_files(path, k => v, ..)`, and plain
//! names the caller's [`Resolver`] claims (a pipeline's datasets). Each one is asked of the
//! resolver, and the query is planned with the answers inlined as views.
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::catalog::{
    CatalogProvider, CatalogProviderList, MemoryCatalogProvider, MemorySchemaProvider,
    SchemaProvider,
};
use datafusion::datasource::ViewTable;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::execution::SessionState;
use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::sqlparser::ast::{
    self, Expr as SqlExpr, FunctionArg, FunctionArgExpr, FunctionArguments, ObjectName,
    ObjectNamePart, Statement, Value, Visit, VisitMut, Visitor, VisitorMut,
};

use crate::error::{PlanError, PlanResult};
use crate::{DataSource, Resolver, StreamingRead};

/// What a table reference in a SQL query stands for.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlRelation {
    /// `STREAM(t)` / `STREAM t`: a streaming read of a table or view.
    Stream(Vec<String>),
    /// `cloud_files(..)` / `STREAM read_files(..)`: a streaming file source.
    StreamSource(DataSource),
    /// `read_files(..)`: a batch file source.
    Source(DataSource),
    /// A plain name (not a CTE of the query).
    Named(Vec<String>),
}

impl SqlRelation {
    pub fn is_streaming(&self) -> bool {
        matches!(self, Self::Stream(_) | Self::StreamSource(_))
    }
}

/// `STREAM name` (after FROM or JOIN) written as `STREAM(name)`, the form the SQL parser
/// takes as a table function.
pub(crate) fn stream_keyword(sql: &str) -> Cow<'_, str> {
    if !sql.to_ascii_lowercase().contains("stream") {
        return Cow::Borrowed(sql);
    }
    let chars: Vec<char> = sql.chars().collect();
    let mut out = String::with_capacity(sql.len() + 8);
    let mut i = 0;
    let mut previous_word = String::new();
    while i < chars.len() {
        let c = chars[i];
        // Quoted text and comments are copied as they are.
        if c == '\'' || c == '"' || c == '`' {
            let end = closing_quote(&chars, i);
            out.extend(&chars[i..end]);
            previous_word.clear();
            i = end;
            continue;
        }
        if c == '-' && chars.get(i + 1) == Some(&'-') {
            let end = (i..chars.len())
                .find(|&j| chars[j] == '\n')
                .unwrap_or(chars.len());
            out.extend(&chars[i..end]);
            i = end;
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            out.push_str(&word);
            let after_from = previous_word.eq_ignore_ascii_case("from")
                || previous_word.eq_ignore_ascii_case("join");
            if after_from && word.eq_ignore_ascii_case("stream") {
                let mut j = i;
                while j < chars.len() && chars[j].is_whitespace() {
                    j += 1;
                }
                if j > i && j < chars.len() && chars[j] != '(' {
                    if let Some(end) = name_and_arguments_end(&chars, j) {
                        out.push('(');
                        out.extend(&chars[j..end]);
                        out.push(')');
                        i = end;
                    }
                }
            }
            previous_word = word;
            continue;
        }
        if !c.is_whitespace() {
            previous_word.clear();
        }
        out.push(c);
        i += 1;
    }
    Cow::Owned(out)
}

/// The index after the quoted text starting at `start` (doubled quotes and `\` escapes
/// stay inside).
fn closing_quote(chars: &[char], start: usize) -> usize {
    let q = chars[start];
    let mut i = start + 1;
    while i < chars.len() {
        if chars[i] == '\\' && q != '`' {
            i += 2;
            continue;
        }
        if chars[i] == q {
            if chars.get(i + 1) == Some(&q) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    chars.len()
}

/// The end of `a.b.c` or `f(...)` starting at `start`, or None if no name starts there.
fn name_and_arguments_end(chars: &[char], start: usize) -> Option<usize> {
    let mut i = start;
    loop {
        match chars.get(i) {
            Some('`') => i = closing_quote(chars, i),
            Some(c) if c.is_alphabetic() || *c == '_' => {
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
            }
            _ => return None,
        }
        if chars.get(i) == Some(&'.') {
            i += 1;
            continue;
        }
        break;
    }
    let mut j = i;
    while j < chars.len() && chars[j].is_whitespace() {
        j += 1;
    }
    if chars.get(j) != Some(&'(') {
        return Some(i);
    }
    let mut depth = 0usize;
    while j < chars.len() {
        match chars[j] {
            '\'' | '"' | '`' => {
                j = closing_quote(chars, j);
                continue;
            }
            '(' => depth += 1,
            ')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(j + 1);
                }
            }
            _ => {}
        }
        j += 1;
    }
    None
}

fn name_parts(name: &ObjectName) -> Vec<String> {
    name.0
        .iter()
        .map(|p| match p {
            ObjectNamePart::Identifier(i) => i.value.clone(),
            other => other.to_string(),
        })
        .collect()
}

fn expr_parts(e: &SqlExpr) -> Option<Vec<String>> {
    match e {
        SqlExpr::Identifier(i) => Some(vec![i.value.clone()]),
        SqlExpr::CompoundIdentifier(ids) => Some(ids.iter().map(|i| i.value.clone()).collect()),
        _ => None,
    }
}

fn string_value(e: &SqlExpr) -> Option<String> {
    match e {
        SqlExpr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => Some(s.clone()),
            Value::Number(n, _) => Some(n.clone()),
            Value::Boolean(b) => Some(b.to_string()),
            _ => None,
        },
        _ => None,
    }
}

fn arg_expr(a: &FunctionArg) -> Option<&SqlExpr> {
    match a {
        FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
        _ => None,
    }
}

fn bad_arguments(function: &str, why: &str) -> PlanError {
    PlanError::analysis(format!(
        "[INVALID_SQL_ARGUMENT] Invalid arguments for the table function `{function}`: {why}."
    ))
}

/// `cloud_files(path, format[, map('k', 'v', ..)])`: Auto Loader.
fn cloud_files(args: &[FunctionArg]) -> PlanResult<DataSource> {
    let text = |i: usize| args.get(i).and_then(arg_expr).and_then(string_value);
    let (Some(path), Some(format)) = (text(0), text(1)) else {
        return Err(bad_arguments(
            "cloud_files",
            "expected a path and a format as string literals",
        ));
    };
    let mut options = HashMap::from([("cloudfiles.format".to_string(), format)]);
    if let Some(map) = args.get(2) {
        let pairs = match arg_expr(map) {
            Some(SqlExpr::Function(f)) if f.name.to_string().eq_ignore_ascii_case("map") => {
                match &f.args {
                    FunctionArguments::List(l) => l
                        .args
                        .iter()
                        .map(|a| arg_expr(a).and_then(string_value))
                        .collect::<Option<Vec<_>>>(),
                    _ => Some(vec![]),
                }
            }
            _ => None,
        };
        let pairs = pairs.filter(|p| p.len() % 2 == 0).ok_or_else(|| {
            bad_arguments(
                "cloud_files",
                "the options must be map('key', 'value', ...) of string literals",
            )
        })?;
        for kv in pairs.chunks(2) {
            options.insert(kv[0].to_ascii_lowercase(), kv[1].clone());
        }
    }
    if args.len() > 3 {
        return Err(bad_arguments("cloud_files", "at most three arguments"));
    }
    Ok(DataSource {
        format: "cloudfiles".into(),
        paths: vec![path],
        schema: None,
        options,
    })
}

/// Auto Loader options `read_files` takes without their `cloudFiles.` prefix.
const CLOUD_FILES_OPTIONS: &[&str] = &[
    "schemahints",
    "schemaevolutionmode",
    "schemalocation",
    "infercolumntypes",
    "maxfilespertrigger",
    "maxbytespertrigger",
    "includeexistingfiles",
    "allowoverwrites",
    "partitioncolumns",
];

/// `read_files(path, format => 'json', key => value, ..)`; streaming, it is Auto Loader.
fn read_files(args: &[FunctionArg], streaming: bool) -> PlanResult<DataSource> {
    let mut paths = vec![];
    let mut options = HashMap::new();
    for a in args {
        match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => {
                paths.push(string_value(e).ok_or_else(|| {
                    bad_arguments("read_files", "the path must be a string literal")
                })?)
            }
            FunctionArg::Named {
                name,
                arg: FunctionArgExpr::Expr(e),
                ..
            } => {
                let value = string_value(e)
                    .ok_or_else(|| bad_arguments("read_files", "option values must be literals"))?;
                options.insert(name.value.to_ascii_lowercase(), value);
            }
            _ => return Err(bad_arguments("read_files", "unexpected argument")),
        }
    }
    if paths.is_empty() {
        return Err(bad_arguments("read_files", "a path is required"));
    }
    let format = options
        .remove("format")
        .map(|f| f.to_ascii_lowercase())
        .ok_or_else(|| {
            bad_arguments(
                "read_files",
                "sluice needs the format => '...' option (json, csv, parquet, text, binaryFile)",
            )
        })?;
    if !streaming {
        return Ok(DataSource {
            format,
            paths,
            schema: None,
            options,
        });
    }
    let mut cloud: HashMap<String, String> = options
        .into_iter()
        .map(|(k, v)| {
            if CLOUD_FILES_OPTIONS.contains(&k.as_str()) {
                (format!("cloudfiles.{k}"), v)
            } else {
                (k, v)
            }
        })
        .collect();
    cloud.insert("cloudfiles.format".into(), format);
    // read_files infers column types unless told not to.
    cloud
        .entry("cloudfiles.infercolumntypes".into())
        .or_insert_with(|| "true".into());
    Ok(DataSource {
        format: "cloudfiles".into(),
        paths,
        schema: None,
        options: cloud,
    })
}

/// What one FROM item is, if it is one of ours.
fn classify(factor: &ast::TableFactor, ctes: &HashSet<String>) -> PlanResult<Option<SqlRelation>> {
    let ast::TableFactor::Table { name, args, .. } = factor else {
        return Ok(None);
    };
    let parts = name_parts(name);
    let Some(args) = args else {
        if parts.len() == 1 && ctes.contains(&parts[0].to_ascii_lowercase()) {
            return Ok(None);
        }
        return Ok(Some(SqlRelation::Named(parts)));
    };
    let function = parts.join(".").to_ascii_lowercase();
    match function.as_str() {
        "stream" => {
            let inner = match args.args.as_slice() {
                [one] => arg_expr(one),
                _ => None,
            };
            match inner {
                Some(e) if expr_parts(e).is_some() => Ok(expr_parts(e).map(SqlRelation::Stream)),
                Some(SqlExpr::Function(f)) => {
                    let inner_args = match &f.args {
                        FunctionArguments::List(l) => l.args.clone(),
                        _ => vec![],
                    };
                    match f.name.to_string().to_ascii_lowercase().as_str() {
                        "read_files" => Ok(Some(SqlRelation::StreamSource(read_files(
                            &inner_args,
                            true,
                        )?))),
                        "cloud_files" => {
                            Ok(Some(SqlRelation::StreamSource(cloud_files(&inner_args)?)))
                        }
                        other => Err(PlanError::unsupported(format!("STREAM({other}(...))"))),
                    }
                }
                _ => Err(bad_arguments("STREAM", "expected one table name")),
            }
        }
        "cloud_files" => Ok(Some(SqlRelation::StreamSource(cloud_files(&args.args)?))),
        "read_files" => Ok(Some(SqlRelation::Source(read_files(&args.args, false)?))),
        _ => Ok(None),
    }
}

/// The names the query's CTEs define (lower-cased).
fn cte_names(statement: &Statement) -> HashSet<String> {
    struct Ctes(HashSet<String>);
    impl Visitor for Ctes {
        type Break = ();
        fn pre_visit_query(&mut self, q: &ast::Query) -> ControlFlow<()> {
            if let Some(with) = &q.with {
                for cte in &with.cte_tables {
                    self.0.insert(cte.alias.name.value.to_ascii_lowercase());
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut v = Ctes(HashSet::new());
    let _ = statement.visit(&mut v);
    v.0
}

/// Every FROM item of the statement, in visiting order (`None` for ordinary ones).
fn collect(statement: &Statement) -> PlanResult<Vec<Option<SqlRelation>>> {
    struct Collect {
        ctes: HashSet<String>,
        found: Vec<Option<SqlRelation>>,
        error: Option<PlanError>,
    }
    impl Visitor for Collect {
        type Break = ();
        fn pre_visit_table_factor(&mut self, f: &ast::TableFactor) -> ControlFlow<()> {
            match classify(f, &self.ctes) {
                Ok(r) => {
                    self.found.push(r);
                    ControlFlow::Continue(())
                }
                Err(e) => {
                    self.error = Some(e);
                    ControlFlow::Break(())
                }
            }
        }
    }
    let mut v = Collect {
        ctes: cte_names(statement),
        found: vec![],
        error: None,
    };
    let _ = statement.visit(&mut v);
    match v.error {
        Some(e) => Err(e),
        None => Ok(v.found),
    }
}

/// The relations a SQL query reads that are not ordinary catalog tables or functions, plus
/// its plain names: what a pipeline's graph needs to know about the query.
pub fn relations_in(sql: &str) -> PlanResult<Vec<SqlRelation>> {
    let sql = stream_keyword(sql);
    let statement = crate::sql::parse_statement(&sql)?;
    Ok(collect(&statement)?.into_iter().flatten().collect())
}

const CATALOG: &str = "__sluice_relations";
const SCHEMA: &str = "relations";

/// Asks the resolver for each relation of `statement` it may answer and rewrites those FROM
/// items to names under a private catalog; returns the session state to plan with (the
/// caller's own when nothing was rewritten).
pub(crate) async fn resolve(
    state: &SessionState,
    resolver: &dyn Resolver,
    statement: &mut Statement,
) -> PlanResult<Option<SessionState>> {
    let found = collect(statement)?;
    if found.iter().all(Option::is_none) {
        return Ok(None);
    }
    let schema = Arc::new(MemorySchemaProvider::new());
    let mut names: Vec<Option<String>> = Vec::with_capacity(found.len());
    for (i, relation) in found.into_iter().enumerate() {
        let plan: Option<LogicalPlan> = match relation {
            None => None,
            Some(SqlRelation::Named(parts)) => resolver.sql_table(parts, false).await?,
            Some(SqlRelation::Stream(parts)) => resolver.sql_table(parts, true).await?,
            Some(SqlRelation::StreamSource(source)) => Some(
                resolver
                    .streaming_read(StreamingRead::Source(source))
                    .await?,
            ),
            Some(SqlRelation::Source(source)) => Some(resolver.data_source(source).await?),
        };
        names.push(match plan {
            Some(plan) => {
                let name = format!("r{i}");
                schema.register_table(name.clone(), Arc::new(ViewTable::new(plan, None)))?;
                Some(name)
            }
            None => None,
        });
    }
    if names.iter().all(Option::is_none) {
        return Ok(None);
    }
    let mut rewrite = Rewrite {
        names: names.into_iter(),
    };
    let _ = statement.visit(&mut rewrite);
    let catalog = Arc::new(MemoryCatalogProvider::new());
    catalog.register_schema(SCHEMA, schema)?;
    let list = Arc::new(Overlay {
        base: state.catalog_list().clone(),
        name: CATALOG.into(),
        catalog,
    });
    Ok(Some(
        SessionStateBuilder::new_from_existing(state.clone())
            .with_catalog_list(list)
            .build(),
    ))
}

/// Renames the FROM items that were answered, in the order [`collect`] met them.
struct Rewrite<I: Iterator<Item = Option<String>>> {
    names: I,
}

impl<I: Iterator<Item = Option<String>>> VisitorMut for Rewrite<I> {
    type Break = ();
    fn pre_visit_table_factor(&mut self, f: &mut ast::TableFactor) -> ControlFlow<()> {
        let Some(Some(new_name)) = self.names.next() else {
            return ControlFlow::Continue(());
        };
        if let ast::TableFactor::Table {
            name, alias, args, ..
        } = f
        {
            // Columns stay qualified by the name as written (`bronze` in `STREAM(LIVE.bronze)`).
            let shown = match args
                .as_ref()
                .and_then(|a| a.args.first())
                .and_then(arg_expr)
            {
                Some(e) => expr_parts(e).and_then(|p| p.last().cloned()),
                None if args.is_none() => name_parts(name).last().cloned(),
                None => None,
            };
            if alias.is_none() {
                if let Some(shown) = shown {
                    *alias = Some(ast::TableAlias {
                        explicit: false,
                        name: ast::Ident::new(shown),
                        columns: vec![],
                        at: None,
                    });
                }
            }
            *name = ObjectName::from(vec![
                ast::Ident::new(CATALOG),
                ast::Ident::new(SCHEMA),
                ast::Ident::new(new_name),
            ]);
            *args = None;
        }
        ControlFlow::Continue(())
    }
}

/// The session's catalogs plus one private catalog holding a query's answered relations.
#[derive(Debug)]
struct Overlay {
    base: Arc<dyn CatalogProviderList>,
    name: String,
    catalog: Arc<dyn CatalogProvider>,
}

impl CatalogProviderList for Overlay {
    fn register_catalog(
        &self,
        name: String,
        catalog: Arc<dyn CatalogProvider>,
    ) -> Option<Arc<dyn CatalogProvider>> {
        self.base.register_catalog(name, catalog)
    }
    fn catalog_names(&self) -> Vec<String> {
        self.base.catalog_names()
    }
    fn catalog(&self, name: &str) -> Option<Arc<dyn CatalogProvider>> {
        if name == self.name {
            Some(self.catalog.clone())
        } else {
            self.base.catalog(name)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_keyword_takes_parentheses() {
        assert_eq!(
            stream_keyword("SELECT * FROM STREAM LIVE.bronze WHERE x"),
            "SELECT * FROM STREAM(LIVE.bronze) WHERE x"
        );
        assert_eq!(
            stream_keyword("select * from stream read_files('/a', format => 'json') t"),
            "select * from stream(read_files('/a', format => 'json')) t"
        );
        assert_eq!(
            stream_keyword("SELECT stream FROM t JOIN stream `x y`.z ON 1=1"),
            "SELECT stream FROM t JOIN stream(`x y`.z) ON 1=1"
        );
        assert_eq!(
            stream_keyword("SELECT * FROM STREAM(a) -- from stream b"),
            "SELECT * FROM STREAM(a) -- from stream b"
        );
        assert_eq!(
            stream_keyword("SELECT 'from stream x' FROM t"),
            "SELECT 'from stream x' FROM t"
        );
    }

    #[test]
    fn relations_are_found() {
        let r = relations_in(
            "WITH c AS (SELECT 1) SELECT * FROM STREAM(LIVE.bronze) b JOIN c JOIN db.t \
             JOIN cloud_files('/in', 'json', map('cloudFiles.inferColumnTypes', 'true'))",
        )
        .expect("parses");
        assert_eq!(
            r[0],
            SqlRelation::Stream(vec!["LIVE".into(), "bronze".into()])
        );
        assert_eq!(r[1], SqlRelation::Named(vec!["db".into(), "t".into()]));
        let SqlRelation::StreamSource(s) = &r[2] else {
            panic!("{r:?}")
        };
        assert_eq!(s.format, "cloudfiles");
        assert_eq!(s.options["cloudfiles.format"], "json");
        assert_eq!(s.options["cloudfiles.infercolumntypes"], "true");
        assert_eq!(r.len(), 3);
    }

    #[test]
    fn read_files_streaming_is_auto_loader() {
        let r = relations_in(
            "SELECT * FROM STREAM read_files('/in', format => 'csv', header => true, schemaHints => 'a INT')",
        )
        .expect("parses");
        let SqlRelation::StreamSource(s) = &r[0] else {
            panic!("{r:?}")
        };
        assert_eq!(s.options["cloudfiles.format"], "csv");
        assert_eq!(s.options["header"], "true");
        assert_eq!(s.options["cloudfiles.schemahints"], "a INT");
        let r = relations_in("SELECT * FROM read_files('/in', format => 'json')").expect("parses");
        assert!(matches!(&r[0], SqlRelation::Source(s) if s.format == "json"));
        assert!(relations_in("SELECT * FROM cloud_files('/in')").is_err());
    }
}
