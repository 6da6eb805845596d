//! Spark SQL statements about tables that DataFusion's parser does not take in Spark's form:
//! `CREATE TABLE ... USING`, CTAS, `INSERT INTO/OVERWRITE`, `DROP TABLE`, databases,
//! `DESCRIBE HISTORY/DETAIL`, and Delta's `DELETE`, `UPDATE`, `MERGE`, `OPTIMIZE`, `VACUUM`.
//! Spark accepts the clauses of CREATE TABLE in any order, so this is a small scanner over
//! the text; expressions and queries are passed on as text, to be planned later.
use crate::error::{PlanError, PlanResult};

/// A table name as written: `db.t`, `spark_catalog.db.t`, or ``delta.`/path` ``.
pub type TableName = Vec<String>;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct CreateTable {
    pub name: TableName,
    pub replace: bool,
    /// `CREATE OR REPLACE` (replace) or `REPLACE TABLE` (replace and must exist).
    pub or_create: bool,
    pub if_not_exists: bool,
    /// Column definitions as DDL text (`a INT, b STRING`).
    pub columns: Option<String>,
    pub using: Option<String>,
    pub partitioned_by: Vec<String>,
    /// `CLUSTER BY (..)`.
    pub cluster_by: Vec<String>,
    pub location: Option<String>,
    pub comment: Option<String>,
    pub properties: Vec<(String, String)>,
    /// `AS query`.
    pub query: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum WhenClause {
    MatchedUpdate {
        condition: Option<String>,
        set: Vec<(String, String)>,
        all: bool,
    },
    MatchedDelete {
        condition: Option<String>,
    },
    NotMatchedInsert {
        condition: Option<String>,
        set: Vec<(String, String)>,
        all: bool,
    },
    NotMatchedBySourceUpdate {
        condition: Option<String>,
        set: Vec<(String, String)>,
    },
    NotMatchedBySourceDelete {
        condition: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Merge {
    pub target: TableName,
    pub target_alias: Option<String>,
    /// A table name or a parenthesised query.
    pub source: MergeSource,
    pub source_alias: Option<String>,
    pub on: String,
    pub clauses: Vec<WhenClause>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MergeSource {
    Table(TableName),
    Query(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum TableStatement {
    CreateTable(CreateTable),
    Insert {
        table: TableName,
        overwrite: bool,
        columns: Vec<String>,
        by_name: bool,
        query: String,
    },
    DropTable {
        name: TableName,
        if_exists: bool,
    },
    CreateDatabase {
        name: String,
        if_not_exists: bool,
        comment: Option<String>,
        location: Option<String>,
    },
    DropDatabase {
        name: String,
        if_exists: bool,
        cascade: bool,
    },
    UseDatabase {
        name: String,
    },
    ShowDatabases {
        pattern: Option<String>,
    },
    DescribeHistory {
        table: TableName,
        limit: Option<usize>,
    },
    DescribeDetail {
        table: TableName,
    },
    Delete {
        table: TableName,
        predicate: Option<String>,
    },
    Update {
        table: TableName,
        assignments: Vec<(String, String)>,
        predicate: Option<String>,
    },
    Merge(Merge),
    Optimize {
        table: TableName,
        predicate: Option<String>,
        zorder: Vec<String>,
    },
    Vacuum {
        table: TableName,
        retain_hours: Option<f64>,
        dry_run: bool,
    },
}

/// Position-keeping reader over statement text.
struct Cursor<'a> {
    sql: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(sql: &'a str) -> Self {
        let trimmed = sql.trim_end().trim_end_matches(';');
        Cursor {
            sql: trimmed,
            pos: 0,
        }
    }

    fn rest(&self) -> &'a str {
        &self.sql[self.pos..]
    }

    fn skip_ws(&mut self) {
        loop {
            let r = self.rest();
            let t = r.trim_start();
            self.pos += r.len() - t.len();
            if t.starts_with("--") {
                self.pos += t.find('\n').unwrap_or(t.len());
            } else if t.starts_with("/*") {
                self.pos += t.find("*/").map(|i| i + 2).unwrap_or(t.len());
            } else {
                return;
            }
        }
    }

    fn at_end(&mut self) -> bool {
        self.skip_ws();
        self.rest().is_empty()
    }

    /// Consumes `words` (case-insensitive, whitespace between) if they come next.
    fn keywords(&mut self, words: &[&str]) -> bool {
        let start = self.pos;
        for w in words {
            self.skip_ws();
            let r = self.rest();
            let end = r
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(r.len());
            if end == 0 || !r[..end].eq_ignore_ascii_case(w) {
                self.pos = start;
                return false;
            }
            self.pos += end;
        }
        true
    }

    fn peek_keyword(&mut self, word: &str) -> bool {
        let start = self.pos;
        let found = self.keywords(&[word]);
        self.pos = start;
        found
    }

    fn expect(&mut self, words: &[&str]) -> PlanResult<()> {
        if self.keywords(words) {
            Ok(())
        } else {
            Err(self.error())
        }
    }

    fn error(&mut self) -> PlanError {
        self.skip_ws();
        let near: String = self
            .rest()
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_string();
        let near = if near.is_empty() {
            "end of input".to_string()
        } else {
            format!("'{near}'")
        };
        PlanError::Parse(format!(
            "[PARSE_SYNTAX_ERROR] Syntax error at or near {near}. SQLSTATE: 42601\n\n== SQL ==\n{}\n",
            self.sql
        ))
    }

    fn punct(&mut self, c: char) -> bool {
        self.skip_ws();
        if self.rest().starts_with(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    /// One identifier part: a word or a backquoted name.
    fn identifier(&mut self) -> PlanResult<String> {
        self.skip_ws();
        let r = self.rest();
        if let Some(body) = r.strip_prefix('`') {
            let mut out = String::new();
            let mut chars = body.char_indices().peekable();
            while let Some((i, c)) = chars.next() {
                if c == '`' {
                    if matches!(chars.peek(), Some((_, '`'))) {
                        chars.next();
                        out.push('`');
                        continue;
                    }
                    self.pos += i + 2;
                    return Ok(out);
                }
                out.push(c);
            }
            return Err(self.error());
        }
        let end = r
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(r.len());
        if end == 0 {
            return Err(self.error());
        }
        self.pos += end;
        Ok(r[..end].to_string())
    }

    fn name(&mut self) -> PlanResult<TableName> {
        let mut parts = vec![self.identifier()?];
        while self.rest().starts_with('.') {
            self.pos += 1;
            parts.push(self.identifier()?);
        }
        Ok(parts)
    }

    fn string(&mut self) -> PlanResult<String> {
        self.skip_ws();
        let r = self.rest();
        let Some(quote) = r.chars().next().filter(|c| *c == '\'' || *c == '"') else {
            return Err(self.error());
        };
        let mut out = String::new();
        let mut chars = r.char_indices().skip(1);
        while let Some((i, c)) = chars.next() {
            if c == '\\' {
                if let Some((_, n)) = chars.next() {
                    out.push(match n {
                        'n' => '\n',
                        't' => '\t',
                        other => other,
                    });
                }
            } else if c == quote {
                self.pos += i + 1;
                return Ok(out);
            } else {
                out.push(c);
            }
        }
        Err(self.error())
    }

    /// The text inside a parenthesised group (nested parentheses and quotes respected).
    fn group(&mut self) -> PlanResult<&'a str> {
        if !self.punct('(') {
            return Err(self.error());
        }
        let start = self.pos;
        let end =
            scan(self.rest(), |depth, _, c| depth == 0 && c == ')').ok_or_else(|| self.error())?;
        self.pos = start + end + 1;
        Ok(&self.sql[start..start + end])
    }

    /// Text up to (not including) the first top-level occurrence of one of `words`, or to
    /// the end.
    fn until(&mut self, words: &[&str]) -> &'a str {
        self.skip_ws();
        let r = self.rest();
        let end = scan(r, |depth, i, _| {
            depth == 0
                && (i == 0 || !is_word(r[..i].chars().next_back().unwrap_or(' ')))
                && words.iter().any(|w| starts_with_word(&r[i..], w))
        })
        .unwrap_or(r.len());
        self.pos += end;
        r[..end].trim()
    }

    fn number(&mut self) -> PlanResult<f64> {
        self.skip_ws();
        let r = self.rest();
        let end = r
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(r.len());
        let n = r[..end].parse::<f64>().map_err(|_| self.error())?;
        self.pos += end;
        Ok(n)
    }
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn starts_with_word(s: &str, w: &str) -> bool {
    s.len() >= w.len()
        && s.is_char_boundary(w.len())
        && s[..w.len()].eq_ignore_ascii_case(w)
        && !s[w.len()..].chars().next().is_some_and(is_word)
}

/// Finds the first position where `stop(depth, index, char)` holds outside quotes; depth
/// counts open parentheses.
fn scan(s: &str, stop: impl Fn(usize, usize, char) -> bool) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' && q != '`' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        if stop(depth, i, c) {
            return Some(i);
        }
        match c {
            '\'' | '"' | '`' => quote = Some(c),
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// Splits on top-level commas.
fn split_commas(s: &str) -> Vec<&str> {
    let mut out = vec![];
    let mut rest = s;
    while let Some(i) = scan(rest, |d, _, c| d == 0 && c == ',') {
        out.push(rest[..i].trim());
        rest = &rest[i + 1..];
    }
    if !rest.trim().is_empty() {
        out.push(rest.trim());
    }
    out
}

fn identifiers(text: &str) -> PlanResult<Vec<String>> {
    split_commas(text)
        .into_iter()
        .map(|part| {
            let mut c = Cursor::new(part);
            let id = c.identifier()?;
            if c.at_end() {
                Ok(id)
            } else {
                Err(c.error())
            }
        })
        .collect()
}

/// `a = expr, b = expr` → pairs (column, expression text).
fn assignments(text: &str) -> PlanResult<Vec<(String, String)>> {
    split_commas(text)
        .into_iter()
        .map(|a| {
            let mut c = Cursor::new(a);
            let name = c.name()?;
            if !c.punct('=') {
                return Err(c.error());
            }
            let value = c.rest().trim();
            if value.is_empty() {
                return Err(c.error());
            }
            // A qualified target (`t.col`) names the column.
            Ok((name.last().cloned().unwrap_or_default(), value.to_string()))
        })
        .collect()
}

/// Parses `sql` if it is one of the table statements; `None` for anything else.
pub fn parse(sql: &str) -> PlanResult<Option<TableStatement>> {
    let mut c = Cursor::new(sql);
    if c.keywords(&["CREATE"]) {
        let replace = c.keywords(&["OR", "REPLACE"]);
        if c.keywords(&["TABLE"]) {
            return create_table(&mut c, replace, replace).map(Some);
        }
        if c.keywords(&["DATABASE"]) || c.keywords(&["SCHEMA"]) {
            return create_database(&mut c).map(Some);
        }
        return Ok(None);
    }
    if c.keywords(&["REPLACE", "TABLE"]) {
        return create_table(&mut c, true, false).map(Some);
    }
    if c.keywords(&["INSERT"]) {
        return insert(&mut c).map(Some);
    }
    if c.keywords(&["DROP", "TABLE"]) {
        let if_exists = c.keywords(&["IF", "EXISTS"]);
        let name = c.name()?;
        c.keywords(&["PURGE"]);
        return end(&mut c, TableStatement::DropTable { name, if_exists });
    }
    if c.keywords(&["DROP", "DATABASE"]) || c.keywords(&["DROP", "SCHEMA"]) {
        let if_exists = c.keywords(&["IF", "EXISTS"]);
        let name = c.identifier()?;
        let cascade = c.keywords(&["CASCADE"]);
        if !cascade {
            c.keywords(&["RESTRICT"]);
        }
        return end(
            &mut c,
            TableStatement::DropDatabase {
                name,
                if_exists,
                cascade,
            },
        );
    }
    if c.keywords(&["USE"]) {
        c.keywords(&["DATABASE"]);
        c.keywords(&["SCHEMA"]);
        let mut name = c.name()?;
        if name.len() == 2 && name[0].eq_ignore_ascii_case("spark_catalog") {
            name.remove(0);
        }
        if name.len() != 1 {
            return Err(c.error());
        }
        let name = name.remove(0);
        return end(&mut c, TableStatement::UseDatabase { name });
    }
    if c.keywords(&["SHOW", "DATABASES"]) || c.keywords(&["SHOW", "SCHEMAS"]) {
        c.keywords(&["LIKE"]);
        let pattern = if c.at_end() { None } else { Some(c.string()?) };
        return end(&mut c, TableStatement::ShowDatabases { pattern });
    }
    if c.keywords(&["DESCRIBE"]) || c.keywords(&["DESC"]) {
        if c.keywords(&["HISTORY"]) {
            let table = c.name()?;
            let limit = if c.keywords(&["LIMIT"]) {
                Some(c.number()? as usize)
            } else {
                None
            };
            return end(&mut c, TableStatement::DescribeHistory { table, limit });
        }
        if c.keywords(&["DETAIL"]) {
            let table = c.name()?;
            return end(&mut c, TableStatement::DescribeDetail { table });
        }
        return Ok(None);
    }
    if c.keywords(&["DELETE", "FROM"]) {
        let table = c.name()?;
        skip_alias(&mut c, &["WHERE"]);
        let predicate = where_clause(&mut c)?;
        return end(&mut c, TableStatement::Delete { table, predicate });
    }
    if c.keywords(&["UPDATE"]) {
        let table = c.name()?;
        skip_alias(&mut c, &["SET"]);
        c.expect(&["SET"])?;
        let set = c.until(&["WHERE"]);
        let assignments = assignments(set)?;
        let predicate = where_clause(&mut c)?;
        return end(
            &mut c,
            TableStatement::Update {
                table,
                assignments,
                predicate,
            },
        );
    }
    if c.keywords(&["MERGE", "INTO"]) {
        return merge(&mut c).map(Some);
    }
    if c.keywords(&["OPTIMIZE"]) {
        let table = c.name()?;
        let predicate = if c.keywords(&["WHERE"]) {
            Some(c.until(&["ZORDER"]).to_string())
        } else {
            None
        };
        let zorder = if c.keywords(&["ZORDER", "BY"]) {
            if c.rest().trim_start().starts_with('(') {
                identifiers(c.group()?)?
            } else {
                identifiers(c.until(&[]))?
            }
        } else {
            vec![]
        };
        return end(
            &mut c,
            TableStatement::Optimize {
                table,
                predicate,
                zorder,
            },
        );
    }
    if c.keywords(&["VACUUM"]) {
        let table = c.name()?;
        let retain_hours = if c.keywords(&["RETAIN"]) {
            let n = c.number()?;
            c.expect(&["HOURS"])?;
            Some(n)
        } else {
            None
        };
        let dry_run = c.keywords(&["DRY", "RUN"]);
        return end(
            &mut c,
            TableStatement::Vacuum {
                table,
                retain_hours,
                dry_run,
            },
        );
    }
    Ok(None)
}

fn where_clause(c: &mut Cursor) -> PlanResult<Option<String>> {
    if !c.keywords(&["WHERE"]) {
        return Ok(None);
    }
    let p = c.until(&[]);
    if p.is_empty() {
        return Err(c.error());
    }
    Ok(Some(p.to_string()))
}

fn end(c: &mut Cursor, s: TableStatement) -> PlanResult<Option<TableStatement>> {
    if c.at_end() {
        Ok(Some(s))
    } else {
        Err(c.error())
    }
}

/// `[AS] alias` before one of `next` (aliases are accepted and ignored: DML expressions
/// name columns directly).
fn skip_alias(c: &mut Cursor, next: &[&str]) -> Option<String> {
    let start = c.pos;
    c.keywords(&["AS"]);
    if next.iter().any(|w| c.peek_keyword(w)) || c.at_end() {
        c.pos = start;
        return None;
    }
    match c.identifier() {
        Ok(a) => Some(a),
        Err(_) => {
            c.pos = start;
            None
        }
    }
}

fn create_table(c: &mut Cursor, replace: bool, or_create: bool) -> PlanResult<TableStatement> {
    let if_not_exists = c.keywords(&["IF", "NOT", "EXISTS"]);
    let mut t = CreateTable {
        name: c.name()?,
        replace,
        or_create,
        if_not_exists,
        ..Default::default()
    };
    c.skip_ws();
    if c.rest().starts_with('(') {
        t.columns = Some(c.group()?.trim().to_string());
    }
    loop {
        if c.at_end() {
            break;
        }
        if c.keywords(&["USING"]) {
            t.using = Some(c.identifier()?.to_lowercase());
        } else if c.keywords(&["PARTITIONED", "BY"]) {
            t.partitioned_by = identifiers(c.group()?)?;
        } else if c.keywords(&["CLUSTER", "BY"]) {
            t.cluster_by = identifiers(c.group()?)?;
        } else if c.keywords(&["LOCATION"]) {
            t.location = Some(c.string()?);
        } else if c.keywords(&["COMMENT"]) {
            t.comment = Some(c.string()?);
        } else if c.keywords(&["TBLPROPERTIES"]) || c.keywords(&["OPTIONS"]) {
            for p in split_commas(c.group()?) {
                let mut pc = Cursor::new(p);
                pc.skip_ws();
                let key = if pc.rest().starts_with(['\'', '"']) {
                    pc.string()?
                } else {
                    pc.name()?.join(".")
                };
                pc.punct('=');
                let value = pc.string().or_else(|_| {
                    let v = pc.rest().trim().to_string();
                    if v.is_empty() {
                        Err(pc.error())
                    } else {
                        pc.pos = pc.sql.len();
                        Ok(v)
                    }
                })?;
                t.properties.push((key, value));
            }
        } else if c.keywords(&["AS"])
            || c.peek_keyword("SELECT")
            || c.peek_keyword("WITH")
            || c.peek_keyword("VALUES")
        {
            t.query = Some(c.until(&[]).to_string());
        } else {
            return Err(c.error());
        }
    }
    if !t.cluster_by.is_empty() && !t.partitioned_by.is_empty() {
        return Err(PlanError::Parse(
            "[SPECIFY_CLUSTER_BY_WITH_PARTITIONED_BY_IS_NOT_ALLOWED] Cannot specify both CLUSTER BY and PARTITIONED BY. SQLSTATE: 42908".into(),
        ));
    }
    if t.columns.is_some() && t.query.is_some() {
        return Err(PlanError::Parse(
            "[PARSE_SYNTAX_ERROR] Operation not allowed: Schema may not be specified in a Create Table As Select (CTAS) statement. SQLSTATE: 42601".into(),
        ));
    }
    Ok(TableStatement::CreateTable(t))
}

fn create_database(c: &mut Cursor) -> PlanResult<TableStatement> {
    let if_not_exists = c.keywords(&["IF", "NOT", "EXISTS"]);
    let mut name = c.name()?;
    if name.len() == 2 && name[0].eq_ignore_ascii_case("spark_catalog") {
        name.remove(0);
    }
    if name.len() != 1 {
        return Err(c.error());
    }
    let mut comment = None;
    let mut location = None;
    while !c.at_end() {
        if c.keywords(&["COMMENT"]) {
            comment = Some(c.string()?);
        } else if c.keywords(&["LOCATION"]) {
            location = Some(c.string()?);
        } else if c.keywords(&["WITH", "DBPROPERTIES"]) || c.keywords(&["WITH", "PROPERTIES"]) {
            // Refused rather than dropped: the catalog keeps no database properties.
            return Err(PlanError::unsupported(
                "CREATE DATABASE ... WITH DBPROPERTIES",
            ));
        } else {
            return Err(c.error());
        }
    }
    Ok(TableStatement::CreateDatabase {
        name: name.remove(0),
        if_not_exists,
        comment,
        location,
    })
}

fn insert(c: &mut Cursor) -> PlanResult<TableStatement> {
    let overwrite = if c.keywords(&["OVERWRITE"]) {
        true
    } else {
        c.expect(&["INTO"])?;
        false
    };
    c.keywords(&["TABLE"]);
    let table = c.name()?;
    let by_name = c.keywords(&["BY", "NAME"]);
    c.skip_ws();
    let mut columns = vec![];
    // `(a, b)` is a column list unless it is a parenthesised query.
    if c.rest().starts_with('(') {
        let start = c.pos;
        let inner = c.group()?;
        let trimmed = inner.trim_start();
        if starts_with_word(trimmed, "SELECT") || starts_with_word(trimmed, "WITH") {
            c.pos = start;
        } else {
            columns = identifiers(inner)?;
        }
    }
    let by_name = by_name || c.keywords(&["BY", "NAME"]);
    let query = c.until(&[]).to_string();
    if query.is_empty() {
        return Err(c.error());
    }
    Ok(TableStatement::Insert {
        table,
        overwrite,
        columns,
        by_name,
        query,
    })
}

fn merge(c: &mut Cursor) -> PlanResult<TableStatement> {
    let target = c.name()?;
    let target_alias = skip_alias(c, &["USING"]);
    c.expect(&["USING"])?;
    c.skip_ws();
    let source = if c.rest().starts_with('(') {
        MergeSource::Query(c.group()?.trim().to_string())
    } else {
        MergeSource::Table(c.name()?)
    };
    let source_alias = skip_alias(c, &["ON"]);
    c.expect(&["ON"])?;
    let on = c.until(&["WHEN"]).to_string();
    let mut clauses = vec![];
    while c.keywords(&["WHEN"]) {
        let not = c.keywords(&["NOT"]);
        c.expect(&["MATCHED"])?;
        let by_source = not && c.keywords(&["BY", "SOURCE"]);
        if not && !by_source {
            c.keywords(&["BY", "TARGET"]);
        }
        let condition = if c.keywords(&["AND"]) {
            Some(c.until(&["THEN"]).to_string())
        } else {
            None
        };
        c.expect(&["THEN"])?;
        let clause = if c.keywords(&["DELETE"]) {
            match (not, by_source) {
                (false, _) => WhenClause::MatchedDelete { condition },
                (true, true) => WhenClause::NotMatchedBySourceDelete { condition },
                (true, false) => return Err(c.error()),
            }
        } else if c.keywords(&["UPDATE", "SET"]) {
            let all = c.punct('*');
            let set = if all {
                vec![]
            } else {
                assignments(c.until(&["WHEN"]))?
            };
            match (not, by_source) {
                (false, _) => WhenClause::MatchedUpdate {
                    condition,
                    set,
                    all,
                },
                (true, true) if !all => WhenClause::NotMatchedBySourceUpdate { condition, set },
                _ => return Err(c.error()),
            }
        } else if c.keywords(&["INSERT"]) {
            if !not || by_source {
                return Err(c.error());
            }
            if c.punct('*') {
                WhenClause::NotMatchedInsert {
                    condition,
                    set: vec![],
                    all: true,
                }
            } else {
                let columns = identifiers(c.group()?)?;
                c.expect(&["VALUES"])?;
                let values = split_commas(c.group()?);
                if values.len() != columns.len() {
                    return Err(PlanError::analysis(format!(
                        "[DELTA_MERGE_INSERT_COLUMN_COUNT] INSERT clause of MERGE has {} columns but {} values.",
                        columns.len(),
                        values.len()
                    )));
                }
                WhenClause::NotMatchedInsert {
                    condition,
                    set: columns
                        .into_iter()
                        .zip(values.into_iter().map(str::to_string))
                        .collect(),
                    all: false,
                }
            }
        } else {
            return Err(c.error());
        };
        clauses.push(clause);
    }
    if clauses.is_empty() {
        return Err(c.error());
    }
    if !c.at_end() {
        return Err(c.error());
    }
    Ok(TableStatement::Merge(Merge {
        target,
        target_alias,
        source,
        source_alias,
        on,
        clauses,
    }))
}

/// A multi-part table identifier as `saveAsTable("db.t")` or `spark.table("`a.b`")` take it.
pub fn parse_table_name(text: &str) -> PlanResult<TableName> {
    let mut c = Cursor::new(text);
    let name = c.name()?;
    if c.at_end() {
        Ok(name)
    } else {
        Err(c.error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(sql: &str) -> TableStatement {
        parse(sql).unwrap().unwrap()
    }

    #[test]
    fn create_table_clauses_in_any_order() {
        let TableStatement::CreateTable(t) = parsed(
            "CREATE TABLE IF NOT EXISTS db.t (a INT, b STRUCT<x: INT, y: STRING>) USING DELTA \
             TBLPROPERTIES ('delta.appendOnly' = 'true', k = 'v') COMMENT 'a \\'quoted\\' comment' \
             PARTITIONED BY (a) LOCATION '/tmp/t';",
        ) else {
            panic!()
        };
        assert_eq!(t.name, vec!["db", "t"]);
        assert!(t.if_not_exists);
        assert_eq!(
            t.columns.as_deref(),
            Some("a INT, b STRUCT<x: INT, y: STRING>")
        );
        assert_eq!(t.using.as_deref(), Some("delta"));
        assert_eq!(t.partitioned_by, vec!["a"]);
        let clustered = parsed("CREATE TABLE c (a INT, b STRING) USING delta CLUSTER BY (a, b)");
        let TableStatement::CreateTable(c) = clustered else {
            panic!("not a CREATE TABLE")
        };
        assert_eq!(c.cluster_by, vec!["a", "b"]);
        assert_eq!(t.location.as_deref(), Some("/tmp/t"));
        assert_eq!(t.properties[1], ("k".into(), "v".into()));
    }

    #[test]
    fn ctas_and_insert() {
        let TableStatement::CreateTable(t) =
            parsed("create or replace table t using delta partitioned by (p) as select 1 as a")
        else {
            panic!()
        };
        assert!(t.replace && t.or_create);
        assert_eq!(t.query.as_deref(), Some("select 1 as a"));
        assert_eq!(
            parsed("INSERT INTO t (a, b) SELECT * FROM s"),
            TableStatement::Insert {
                table: vec!["t".into()],
                overwrite: false,
                columns: vec!["a".into(), "b".into()],
                by_name: false,
                query: "SELECT * FROM s".into()
            }
        );
        assert!(matches!(
            parsed("INSERT OVERWRITE TABLE t VALUES (1)"),
            TableStatement::Insert {
                overwrite: true,
                ..
            }
        ));
        assert!(parse("SELECT 1").unwrap().is_none());
    }

    #[test]
    fn merge_clauses() {
        let TableStatement::Merge(m) = parsed(
            "MERGE INTO t AS tgt USING (SELECT * FROM s WHERE x = 'WHEN') src ON tgt.id = src.id \
             WHEN MATCHED AND src.op = 'D' THEN DELETE \
             WHEN MATCHED THEN UPDATE SET tgt.v = src.v + 1, w = 'a,b' \
             WHEN NOT MATCHED THEN INSERT (id, v) VALUES (src.id, coalesce(src.v, 0)) \
             WHEN NOT MATCHED BY SOURCE THEN DELETE",
        ) else {
            panic!()
        };
        assert_eq!(m.target_alias.as_deref(), Some("tgt"));
        assert_eq!(m.source_alias.as_deref(), Some("src"));
        assert_eq!(m.on, "tgt.id = src.id");
        assert_eq!(m.clauses.len(), 4);
        assert_eq!(
            m.clauses[1],
            WhenClause::MatchedUpdate {
                condition: None,
                set: vec![
                    ("v".into(), "src.v + 1".into()),
                    ("w".into(), "'a,b'".into())
                ],
                all: false
            }
        );
        assert!(matches!(
            &m.clauses[2],
            WhenClause::NotMatchedInsert { set, .. } if set[1].1 == "coalesce(src.v, 0)"
        ));
    }

    #[test]
    fn maintenance_and_errors() {
        assert_eq!(
            parsed("OPTIMIZE delta.`/tmp/x` WHERE p = 1 ZORDER BY (a, b)"),
            TableStatement::Optimize {
                table: vec!["delta".into(), "/tmp/x".into()],
                predicate: Some("p = 1".into()),
                zorder: vec!["a".into(), "b".into()]
            }
        );
        assert_eq!(
            parsed("VACUUM t RETAIN 0 HOURS DRY RUN"),
            TableStatement::Vacuum {
                table: vec!["t".into()],
                retain_hours: Some(0.0),
                dry_run: true
            }
        );
        assert!(parse("DELETE FROM t WHERE").is_err());
        assert!(parse("CREATE TABLE t (a INT) USING DELTA bogus").is_err());
        assert!(parse("DROP TABLE").is_err());
    }
}
