//! Pipeline SQL files (Spark Declarative Pipelines and Databricks DLT): the statements that
//! define datasets and flows, split and parsed into [`PipelineStatement`]s. The queries inside
//! stay SQL text; they are planned later, per flow, by [`crate::sql`].
use crate::error::{PlanError, PlanResult};

/// A statement together with where it starts in its file (1-based line).
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    pub line: usize,
    pub statement: PipelineStatement,
}

/// What a `CREATE ...` statement defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatasetKind {
    /// `CREATE [OR REFRESH] STREAMING TABLE` / `STREAMING LIVE TABLE`.
    StreamingTable,
    /// `CREATE [OR REFRESH] MATERIALIZED VIEW` / `LIVE TABLE` (without STREAMING).
    MaterializedView,
    /// `CREATE TEMPORARY [LIVE] VIEW` / `CREATE LIVE VIEW` (DLT views are never persisted).
    TemporaryView,
    /// `CREATE VIEW` without TEMPORARY or LIVE (SDP's persisted view).
    PersistedView,
}

impl DatasetKind {
    pub fn is_view(self) -> bool {
        matches!(self, Self::TemporaryView | Self::PersistedView)
    }
}

/// `ON VIOLATION ...` of an expectation; no clause means [`Violation::Warn`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    Warn,
    DropRow,
    FailUpdate,
}

/// `CONSTRAINT name EXPECT (condition) [ON VIOLATION DROP ROW | FAIL UPDATE]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    pub name: String,
    /// The condition as SQL expression text, without the outer parentheses.
    pub condition: String,
    pub violation: Violation,
}

/// A column of an explicit schema: `name TYPE [NOT NULL] [COMMENT '...']`.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDef {
    pub name: String,
    /// The type as Spark SQL type text (`INT`, `ARRAY<STRING>`, `DECIMAL(10,2)`).
    pub data_type: String,
    pub not_null: bool,
    pub comment: Option<String>,
}

/// `CREATE ... <kind> name [(columns and constraints)] [USING fmt] [PARTITIONED BY (..)]
/// [CLUSTER BY (..)] [COMMENT '..'] [TBLPROPERTIES (..)] [AS query]`.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetDef {
    pub kind: DatasetKind,
    /// Name parts as written, `LIVE.` removed (`LIVE.x` -> `["x"]`, `db.x` -> `["db","x"]`).
    pub name: Vec<String>,
    pub columns: Vec<ColumnDef>,
    pub expectations: Vec<Expectation>,
    pub comment: Option<String>,
    pub format: Option<String>,
    pub partition_cols: Vec<String>,
    pub cluster_by: Vec<String>,
    pub table_properties: Vec<(String, String)>,
    /// `LOCATION '..'`: the table's data at this path.
    pub location: Option<String>,
    /// `CREATE PRIVATE | TEMPORARY ... TABLE`: a table the catalog never lists.
    pub private: bool,
    /// The defining query as SQL text (`SELECT ...`, `WITH ...`, `FROM ...`); None for
    /// `CREATE STREAMING TABLE t` without AS, whose flows come from `CREATE FLOW`.
    pub query: Option<String>,
}

/// `CREATE FLOW name [COMMENT '..'] AS INSERT INTO target BY NAME query` and the
/// `INSERT INTO ONCE` variant (a flow that runs once, batch).
#[derive(Debug, Clone, PartialEq)]
pub struct FlowDef {
    pub name: Vec<String>,
    pub target: Vec<String>,
    pub query: String,
    pub once: bool,
    pub comment: Option<String>,
}

/// `COLUMNS *`, `COLUMNS (a, b)`, `COLUMNS * EXCEPT (a, b)`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ColumnSelection {
    #[default]
    All,
    Only(Vec<String>),
    Except(Vec<String>),
}

/// `APPLY CHANGES INTO target FROM source KEYS (..) [IGNORE NULL UPDATES]
/// [APPLY AS DELETE WHEN cond] [APPLY AS TRUNCATE WHEN cond] SEQUENCE BY expr
/// [COLUMNS ..] [STORED AS SCD TYPE 1|2] [TRACK HISTORY ON ..]`, and the same clauses after
/// `CREATE FLOW name AS AUTO CDC INTO target FROM source ...`.
#[derive(Debug, Clone, PartialEq)]
pub struct AutoCdcDef {
    /// The flow name when given by `CREATE FLOW`; otherwise the flow is named after the target.
    pub flow_name: Option<Vec<String>>,
    pub target: Vec<String>,
    /// The source relation as SQL text for a FROM clause (`STREAM(LIVE.cdc)`, `STREAM cdc`,
    /// `cdc`), with `LIVE.` kept as written: it is planned like any FROM clause.
    pub source: String,
    pub keys: Vec<String>,
    pub ignore_null_updates: bool,
    /// SQL expression text.
    pub delete_when: Option<String>,
    pub truncate_when: Option<String>,
    /// SQL expression text.
    pub sequence_by: String,
    pub columns: ColumnSelection,
    /// 1 or 2 (default 1).
    pub scd_type: u8,
    /// `TRACK HISTORY ON *` (All, the default) / `ON (a, b)` / `ON * EXCEPT (a)`.
    pub track_history: ColumnSelection,
}

/// One statement of a pipeline SQL file.
#[derive(Debug, Clone, PartialEq)]
pub enum PipelineStatement {
    Dataset(DatasetDef),
    Flow(FlowDef),
    AutoCdc(AutoCdcDef),
    /// `SET key = value` (applies to the statements after it in the same file).
    Set {
        key: String,
        value: String,
    },
    /// `USE CATALOG c`.
    UseCatalog(String),
    /// `USE [SCHEMA|DATABASE] s`.
    UseSchema(String),
}

/// Splits a pipeline SQL file into statements and parses each one. Errors are
/// [`PlanError::Parse`] naming the line (and the statement's text) that failed;
/// statements that are SQL but define nothing in a pipeline (`SELECT`, `INSERT INTO`,
/// `DROP TABLE`, `CREATE TABLE`, ...) are [`PlanError::Analysis`]
/// (`UNSUPPORTED_PIPELINE_SPARK_SQL_COMMAND`).
///
/// Statements end at a `;` outside string literals, quoted identifiers, comments and
/// parentheses; the last one may go without. A statement's line is the line of its first
/// token (comments before it do not count).
pub fn parse(text: &str) -> PlanResult<Vec<Located>> {
    let lines = LineIndex::new(text);
    let tokens = tokenize(text, &lines)?;
    let mut out = Vec::new();
    for stmt in split_statements(&tokens) {
        let Some(first) = stmt.first() else {
            continue;
        };
        let line = lines.position(text, first.start).0;
        let mut parser = Parser {
            src: text,
            toks: stmt,
            pos: 0,
            end: stmt.len(),
            lines: &lines,
        };
        let statement = parser.statement()?;
        out.push(Located { line, statement });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Positions
// ---------------------------------------------------------------------------------------

/// Byte offsets of line starts, to turn an offset into Spark's `(line N, pos P)`.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self { starts }
    }

    /// 1-based line and 0-based character column of a byte offset.
    fn position(&self, text: &str, offset: usize) -> (usize, usize) {
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts.get(line - 1).copied().unwrap_or(0);
        let col = text.get(start..offset).map_or(0, |s| s.chars().count());
        (line, col)
    }

    /// The text of a 1-based line, without its line break.
    fn line_text<'t>(&self, text: &'t str, line: usize) -> &'t str {
        let Some(&start) = self.starts.get(line.wrapping_sub(1)) else {
            return "";
        };
        let end = self.starts.get(line).copied().unwrap_or(text.len());
        text.get(start..end)
            .unwrap_or("")
            .trim_end_matches(['\n', '\r'])
    }
}

// ---------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokKind {
    /// A plain identifier or keyword.
    Word,
    /// `` `name` ``; the value is the unquoted name.
    QuotedIdent,
    /// `'text'` or `"text"`; the value is the unescaped text.
    Str,
    Number,
    /// Any other single character.
    Punct,
}

#[derive(Debug, Clone)]
struct Tok {
    kind: TokKind,
    /// Byte offsets into the file.
    start: usize,
    end: usize,
    /// The text as written (Word, Number, Punct) or the unquoted value (QuotedIdent, Str).
    value: String,
}

impl Tok {
    fn is_kw(&self, kw: &str) -> bool {
        self.kind == TokKind::Word && self.value.eq_ignore_ascii_case(kw)
    }

    fn is_punct(&self, c: char) -> bool {
        self.kind == TokKind::Punct && self.value.len() == c.len_utf8() && self.value.starts_with(c)
    }

    fn is_ident(&self) -> bool {
        matches!(self.kind, TokKind::Word | TokKind::QuotedIdent)
    }
}

fn char_at(text: &str, i: usize) -> Option<char> {
    text.get(i..).and_then(|s| s.chars().next())
}

fn located_message(text: &str, lines: &LineIndex, offset: usize, msg: &str) -> String {
    let (line, col) = lines.position(text, offset);
    format!("{msg} (line {line}, pos {col})")
}

/// Cuts the whole file into tokens, skipping whitespace and comments.
fn tokenize(text: &str, lines: &LineIndex) -> PlanResult<Vec<Tok>> {
    let mut toks = Vec::new();
    let mut i = 0;
    while let Some(c) = char_at(text, i) {
        let next = char_at(text, i + c.len_utf8());
        if c.is_whitespace() {
            i += c.len_utf8();
        } else if c == '-' && next == Some('-') {
            i = text
                .get(i..)
                .and_then(|rest| rest.find('\n'))
                .map_or(text.len(), |n| i + n);
        } else if c == '/' && next == Some('*') {
            i = skip_block_comment(text, i).ok_or_else(|| {
                PlanError::Parse(located_message(
                    text,
                    lines,
                    i,
                    "[UNCLOSED_BRACKETED_COMMENT] Found an unclosed bracketed comment. Please, \
                     append */ at the end of the comment. SQLSTATE: 42601",
                ))
            })?;
        } else if c == '\'' || c == '"' || c == '`' {
            let (end, value) = scan_quoted(text, i, c).ok_or_else(|| {
                let what = if c == '`' {
                    "identifier"
                } else {
                    "string literal"
                };
                PlanError::Parse(located_message(
                    text,
                    lines,
                    i,
                    &format!(
                        "[PARSE_SYNTAX_ERROR] Syntax error at or near '{c}': unclosed {what}. \
                         SQLSTATE: 42601"
                    ),
                ))
            })?;
            let kind = if c == '`' {
                TokKind::QuotedIdent
            } else {
                TokKind::Str
            };
            toks.push(Tok {
                kind,
                start: i,
                end,
                value,
            });
            i = end;
        } else if c.is_alphabetic() || c == '_' {
            let end = scan_while(text, i, |c| c.is_alphanumeric() || c == '_');
            toks.push(Tok {
                kind: TokKind::Word,
                start: i,
                end,
                value: text.get(i..end).unwrap_or("").to_string(),
            });
            i = end;
        } else if c.is_ascii_digit() || (c == '.' && next.is_some_and(|n| n.is_ascii_digit())) {
            let end = scan_number(text, i);
            toks.push(Tok {
                kind: TokKind::Number,
                start: i,
                end,
                value: text.get(i..end).unwrap_or("").to_string(),
            });
            i = end;
        } else {
            let end = i + c.len_utf8();
            toks.push(Tok {
                kind: TokKind::Punct,
                start: i,
                end,
                value: c.to_string(),
            });
            i = end;
        }
    }
    Ok(toks)
}

fn scan_while(text: &str, from: usize, keep: impl Fn(char) -> bool) -> usize {
    let mut i = from;
    while let Some(c) = char_at(text, i) {
        if !keep(c) {
            break;
        }
        i += c.len_utf8();
    }
    i
}

/// `12`, `1.5`, `.5`, `1e-3`, `10L`, `1.5BD`: digits, fraction, exponent, then any suffix.
fn scan_number(text: &str, from: usize) -> usize {
    let digit = |c: char| c.is_ascii_digit();
    let mut i = scan_while(text, from, digit);
    if char_at(text, i) == Some('.') && char_at(text, i + 1).is_some_and(digit) {
        i = scan_while(text, i + 1, digit);
    } else if char_at(text, i) == Some('.') && i > from {
        // `1.` is a number too; `1.x` is not ours to judge.
        if !char_at(text, i + 1).is_some_and(|c| c.is_alphanumeric() || c == '_') {
            i += 1;
        }
    }
    if matches!(char_at(text, i), Some('e' | 'E')) {
        let mut j = i + 1;
        if matches!(char_at(text, j), Some('+' | '-')) {
            j += 1;
        }
        if char_at(text, j).is_some_and(digit) {
            i = scan_while(text, j, digit);
        }
    }
    scan_while(text, i, |c| c.is_alphanumeric() || c == '_')
}

/// `/* ... */`, nested like Spark's bracketed comments. Returns the offset after it.
fn skip_block_comment(text: &str, from: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = from;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1)) {
            (b'/', Some(b'*')) => {
                depth += 1;
                i += 2;
            }
            (b'*', Some(b'/')) => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => i += 1,
        }
    }
    None
}

/// A quoted string or identifier starting at `from` (the quote). Returns the offset after
/// the closing quote and the unquoted value: a doubled quote stands for the quote, and in
/// strings (not identifiers) backslash escapes apply as in Spark.
fn scan_quoted(text: &str, from: usize, quote: char) -> Option<(usize, String)> {
    let mut value = String::new();
    let mut i = from + quote.len_utf8();
    loop {
        let c = char_at(text, i)?;
        i += c.len_utf8();
        if c == quote {
            if char_at(text, i) == Some(quote) {
                value.push(quote);
                i += quote.len_utf8();
                continue;
            }
            return Some((i, value));
        }
        if c == '\\' && quote != '`' {
            let e = char_at(text, i)?;
            i += e.len_utf8();
            match e {
                '0'..='3'
                    if char_at(text, i).is_some_and(|c| ('0'..='7').contains(&c))
                        && char_at(text, i + 1).is_some_and(|c| ('0'..='7').contains(&c)) =>
                {
                    let digits = text.get(i - 1..i + 2).unwrap_or("0");
                    let code = u32::from_str_radix(digits, 8).unwrap_or(0);
                    value.extend(char::from_u32(code));
                    i += 2;
                }
                'u' if text
                    .get(i..i + 4)
                    .is_some_and(|h| h.chars().all(|c| c.is_ascii_hexdigit())) =>
                {
                    let code = text
                        .get(i..i + 4)
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                        .unwrap_or(0xFFFD);
                    value.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
                    i += 4;
                }
                '0' => value.push('\0'),
                'b' => value.push('\u{8}'),
                'n' => value.push('\n'),
                'r' => value.push('\r'),
                't' => value.push('\t'),
                'Z' => value.push('\u{1A}'),
                '%' => value.push_str("\\%"),
                '_' => value.push_str("\\_"),
                other => value.push(other),
            }
            continue;
        }
        value.push(c);
    }
}

/// Groups tokens into statements at `;` outside parentheses. Empty statements are dropped.
fn split_statements(tokens: &[Tok]) -> Vec<&[Tok]> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, t) in tokens.iter().enumerate() {
        if t.is_punct('(') {
            depth += 1;
        } else if t.is_punct(')') {
            depth = depth.saturating_sub(1);
        } else if t.is_punct(';') && depth == 0 {
            if let Some(stmt) = tokens.get(start..i) {
                if !stmt.is_empty() {
                    out.push(stmt);
                }
            }
            start = i + 1;
        }
    }
    if let Some(stmt) = tokens.get(start..) {
        if !stmt.is_empty() {
            out.push(stmt);
        }
    }
    out
}

/// Removes one pair of matching quotes around `s`, if there is one.
fn strip_quotes(s: &str) -> &str {
    for q in ['\'', '"', '`'] {
        if s.len() >= 2 && s.starts_with(q) && s.ends_with(q) {
            return s.get(1..s.len() - 1).unwrap_or(s);
        }
    }
    s
}

fn is_plain_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A query's text with DLT's `LIVE.` qualifier taken off its names (`LIVE.x` -> `x`), for a
/// persisted view's catalog text: outside the pipeline there is no `LIVE` schema. Strings,
/// quoted names and `a.live.x` stay as written; text that does not tokenize is returned as is.
pub fn without_live(sql: &str) -> String {
    let Ok(toks) = tokenize(sql, &LineIndex::new(sql)) else {
        return sql.to_string();
    };
    let mut out = String::with_capacity(sql.len());
    let mut copied = 0;
    for i in 0..toks.len() {
        let qualifies = toks[i].is_kw("LIVE")
            && toks.get(i + 1).is_some_and(|t| t.is_punct('.'))
            && toks.get(i + 2).is_some_and(Tok::is_ident)
            && (i == 0 || !toks[i - 1].is_punct('.'));
        if qualifies {
            out.push_str(&sql[copied..toks[i].start]);
            copied = toks[i + 2].start;
        }
    }
    out.push_str(&sql[copied..]);
    out
}

/// Name parts as written, with a leading unquoted `LIVE` part removed from names of two or
/// more parts (DLT's virtual schema).
fn strip_live(mut parts: Vec<(String, bool)>) -> Vec<String> {
    if parts.len() >= 2 && !parts[0].1 && parts[0].0.eq_ignore_ascii_case("live") {
        parts.remove(0);
    }
    parts.into_iter().map(|(p, _)| p).collect()
}

/// Statements that are Spark SQL but not pipeline definitions, by first keyword. The ones
/// in [`TWO_WORD_COMMANDS`] are named with the keyword after them (`DROP TABLE`).
const SQL_COMMANDS: &[&str] = &[
    "SELECT", "WITH", "VALUES", "FROM", "TABLE", "MAP", "REDUCE", "EXPLAIN", "DESCRIBE", "DESC",
    "SHOW", "INSERT", "UPDATE", "DELETE", "MERGE", "DROP", "ALTER", "TRUNCATE", "CACHE", "UNCACHE",
    "CLEAR", "REFRESH", "ANALYZE", "MSCK", "LOAD", "ADD", "LIST", "RESET", "GRANT", "REVOKE",
    "OPTIMIZE", "VACUUM", "REPLACE", "COMMENT", "DECLARE", "EXECUTE", "CALL", "COPY", "REPAIR",
    "RESTORE", "BEGIN", "COMMIT", "ROLLBACK", "FSCK", "UNSET",
];
const TWO_WORD_COMMANDS: &[&str] = &[
    "INSERT", "DELETE", "MERGE", "DROP", "ALTER", "TRUNCATE", "SHOW", "DESCRIBE", "DESC", "CACHE",
    "UNCACHE", "CLEAR", "REFRESH", "ANALYZE", "ADD", "LIST", "REPAIR", "REPLACE", "COMMENT",
    "MSCK", "LOAD", "UNSET",
];
/// Column attributes Spark knows that a pipeline column definition does not take: they end
/// the type text so that they are reported rather than read as part of the type.
const COLUMN_ATTRIBUTES: &[&str] = &[
    "GENERATED",
    "DEFAULT",
    "MASK",
    "PRIMARY",
    "FOREIGN",
    "REFERENCES",
];
/// Objects of `CREATE` that Spark knows but a pipeline does not define.
const OTHER_CREATE_OBJECTS: &[&str] = &[
    "TABLE",
    "FUNCTION",
    "DATABASE",
    "SCHEMA",
    "NAMESPACE",
    "CATALOG",
    "INDEX",
    "ROLE",
    "MACRO",
    "VARIABLE",
    "CONNECTION",
    "VOLUME",
    "EXTERNAL",
    "GLOBAL",
];

// ---------------------------------------------------------------------------------------
// Statements
// ---------------------------------------------------------------------------------------

/// A recursive-descent parser over one statement's tokens (or a part of them: `end`).
#[derive(Clone, Copy)]
struct Parser<'a> {
    src: &'a str,
    /// The whole statement.
    toks: &'a [Tok],
    pos: usize,
    /// Where this parser stops; `toks.len()` except in a column list element.
    end: usize,
    lines: &'a LineIndex,
}

impl<'a> Parser<'a> {
    // ----- token access -----

    fn tok(&self, i: usize) -> Option<&'a Tok> {
        if i < self.end {
            self.toks.get(i)
        } else {
            None
        }
    }

    fn peek(&self) -> Option<&'a Tok> {
        self.tok(self.pos)
    }

    fn at_end(&self) -> bool {
        self.pos >= self.end
    }

    fn kw_at(&self, i: usize, kw: &str) -> bool {
        self.tok(i).is_some_and(|t| t.is_kw(kw))
    }

    fn punct_at(&self, i: usize, c: char) -> bool {
        self.tok(i).is_some_and(|t| t.is_punct(c))
    }

    fn at_kw(&self, kw: &str) -> bool {
        self.kw_at(self.pos, kw)
    }

    fn at_kws(&self, kws: &[&str]) -> bool {
        kws.iter()
            .enumerate()
            .all(|(n, kw)| self.kw_at(self.pos + n, kw))
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        let hit = self.at_kw(kw);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn eat_kws(&mut self, kws: &[&str]) -> bool {
        let hit = self.at_kws(kws);
        if hit {
            self.pos += kws.len();
        }
        hit
    }

    fn expect_kw(&mut self, kw: &str) -> PlanResult<()> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            Err(self.syntax_error_hint(&format!("missing '{kw}'")))
        }
    }

    fn eat_punct(&mut self, c: char) -> bool {
        let hit = self.punct_at(self.pos, c);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn expect_punct(&mut self, c: char) -> PlanResult<()> {
        if self.eat_punct(c) {
            Ok(())
        } else {
            Err(self.syntax_error_hint(&format!("missing '{c}'")))
        }
    }

    fn expect_end(&self) -> PlanResult<()> {
        if self.at_end() {
            Ok(())
        } else {
            Err(self.syntax_error())
        }
    }

    /// The source text from token `a` through token `b - 1` (`a < b`), as written.
    fn text(&self, a: usize, b: usize) -> String {
        match (
            self.toks.get(a),
            b.checked_sub(1).and_then(|l| self.toks.get(l)),
        ) {
            (Some(first), Some(last)) if a < b => self
                .src
                .get(first.start..last.end)
                .unwrap_or("")
                .trim()
                .to_string(),
            _ => String::new(),
        }
    }

    /// The index of the `)` closing the `(` at `open`, within this parser's range.
    fn matching_close(&self, open: usize) -> Option<usize> {
        let mut depth = 0usize;
        for i in open..self.end {
            let t = self.toks.get(i)?;
            if t.is_punct('(') {
                depth += 1;
            } else if t.is_punct(')') {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
        }
        None
    }

    // ----- errors -----

    /// The statement's lines, with Spark's `---^^^` marker under `line`/`col`.
    fn context(&self, line: usize, col: usize) -> String {
        let (Some(first), Some(last)) = (self.toks.first(), self.toks.last()) else {
            return String::new();
        };
        let first_line = self.lines.position(self.src, first.start).0;
        let last_line = self.lines.position(self.src, last.end).0;
        let mut out = String::from("\n\n== SQL ==\n");
        for l in first_line..=last_line {
            out.push_str(self.lines.line_text(self.src, l));
            out.push('\n');
            if l == line {
                out.push_str(&"-".repeat(col));
                out.push_str("^^^\n");
            }
        }
        out
    }

    /// A [`PlanError::Parse`] at byte `offset`: `msg (line N, pos P)` and the statement.
    fn error_at_offset(&self, offset: usize, msg: &str) -> PlanError {
        let (line, col) = self.lines.position(self.src, offset);
        PlanError::Parse(format!(
            "{msg} (line {line}, pos {col}){}",
            self.context(line, col)
        ))
    }

    /// Where token `i` starts (the end of the statement past its last token).
    fn offset_of(&self, i: usize) -> usize {
        match self.toks.get(i) {
            Some(t) => t.start,
            None => self.toks.last().map_or(0, |t| t.end),
        }
    }

    fn error_at(&self, i: usize, msg: &str) -> PlanError {
        self.error_at_offset(self.offset_of(i), msg)
    }

    fn syntax_error_at(&self, i: usize, hint: Option<&str>) -> PlanError {
        // The token that stops a part of a statement (`,` or `)` after a column) is named too.
        let near = match self.toks.get(i) {
            Some(t) => format!("'{}'", self.src.get(t.start..t.end).unwrap_or("")),
            None => "end of input".to_string(),
        };
        let hint = hint.map(|h| format!(": {h}")).unwrap_or_default();
        self.error_at(
            i,
            &format!("[PARSE_SYNTAX_ERROR] Syntax error at or near {near}{hint}. SQLSTATE: 42601"),
        )
    }

    fn syntax_error(&self) -> PlanError {
        self.syntax_error_at(self.pos, None)
    }

    fn syntax_error_hint(&self, hint: &str) -> PlanError {
        self.syntax_error_at(self.pos, Some(hint))
    }

    fn duplicate_clause(&self, clause: &str) -> PlanError {
        self.error_at(
            self.pos,
            &format!(
                "[DUPLICATE_CLAUSES] Found duplicate clauses: {clause}. Please, remove one of \
                 them. SQLSTATE: 42614"
            ),
        )
    }

    /// Records a clause as seen; a second one is an error.
    fn once(&self, seen: &mut Vec<&'static str>, clause: &'static str) -> PlanResult<()> {
        if seen.contains(&clause) {
            return Err(self.duplicate_clause(clause));
        }
        seen.push(clause);
        Ok(())
    }

    fn unsupported_command(&self, command: &str) -> PlanError {
        let line = self
            .toks
            .first()
            .map_or(1, |t| self.lines.position(self.src, t.start).0);
        PlanError::Analysis(format!(
            "[UNSUPPORTED_PIPELINE_SPARK_SQL_COMMAND] '{command}' is not supported in a \
             pipeline SQL file (line {line}): a pipeline SQL file defines datasets and flows \
             (CREATE MATERIALIZED VIEW, CREATE STREAMING TABLE, CREATE [TEMPORARY] VIEW, \
             CREATE FLOW, APPLY CHANGES INTO) and may SET confs and USE a catalog or schema."
        ))
    }

    // ----- small pieces -----

    /// One identifier part: `(name, was_quoted)`.
    fn ident(&mut self) -> PlanResult<(String, bool)> {
        match self.peek() {
            Some(t) if t.is_ident() => {
                self.pos += 1;
                Ok((t.value.clone(), t.kind == TokKind::QuotedIdent))
            }
            _ => Err(self.syntax_error()),
        }
    }

    /// `a.b.c` with plain or backquoted parts.
    fn name_parts(&mut self) -> PlanResult<Vec<(String, bool)>> {
        let mut parts = vec![self.ident()?];
        while self.punct_at(self.pos, '.') && self.tok(self.pos + 1).is_some_and(Tok::is_ident) {
            self.pos += 1;
            parts.push(self.ident()?);
        }
        Ok(parts)
    }

    /// A dataset, flow or target name, `LIVE.` removed.
    fn name(&mut self) -> PlanResult<Vec<String>> {
        Ok(strip_live(self.name_parts()?))
    }

    /// A string literal; adjacent literals are concatenated as in Spark.
    fn string(&mut self) -> PlanResult<String> {
        let mut out = match self.peek() {
            Some(t) if t.kind == TokKind::Str => t.value.clone(),
            _ => return Err(self.syntax_error_hint("expected a string literal")),
        };
        self.pos += 1;
        while let Some(t) = self.peek().filter(|t| t.kind == TokKind::Str) {
            out.push_str(&t.value);
            self.pos += 1;
        }
        Ok(out)
    }

    /// `(a, b, c)`: one or more single-part column names.
    fn paren_names(&mut self) -> PlanResult<Vec<String>> {
        self.expect_punct('(')?;
        let mut out = Vec::new();
        loop {
            out.push(self.ident()?.0);
            if self.eat_punct(',') {
                continue;
            }
            self.expect_punct(')')?;
            return Ok(out);
        }
    }

    // ----- statements -----

    fn statement(&mut self) -> PlanResult<PipelineStatement> {
        let Some(first) = self.peek() else {
            return Err(self.syntax_error());
        };
        if first.is_kw("CREATE") {
            return self.create();
        }
        if first.is_kw("APPLY") && self.kw_at(self.pos + 1, "CHANGES") {
            self.pos += 2;
            return self.auto_cdc(None);
        }
        if first.is_kw("SET") {
            return self.set();
        }
        if first.is_kw("USE") {
            return self.use_();
        }
        if first.is_punct('(') {
            // `(SELECT ...)`: a query.
            return Err(self.unsupported_command("SELECT"));
        }
        let word = first.value.to_ascii_uppercase();
        if first.kind == TokKind::Word && SQL_COMMANDS.contains(&word.as_str()) {
            let mut command = word.clone();
            if TWO_WORD_COMMANDS.contains(&word.as_str()) {
                if let Some(second) = self.tok(self.pos + 1).filter(|t| t.kind == TokKind::Word) {
                    command.push(' ');
                    command.push_str(&second.value.to_ascii_uppercase());
                }
            }
            return Err(self.unsupported_command(&command));
        }
        Err(self.syntax_error())
    }

    fn create(&mut self) -> PlanResult<PipelineStatement> {
        self.pos += 1; // CREATE
        if self.eat_kw("OR") && !(self.eat_kw("REFRESH") || self.eat_kw("REPLACE")) {
            return Err(self.syntax_error_hint("expected OR REFRESH or OR REPLACE"));
        }
        if self.eat_kw("FLOW") {
            return self.flow();
        }
        let private = self.private_table();
        let kind = if self.eat_kw("STREAMING") || self.eat_kw("INCREMENTAL") {
            self.eat_kw("LIVE");
            self.expect_kw("TABLE")?;
            DatasetKind::StreamingTable
        } else if self.eat_kw("MATERIALIZED") {
            self.expect_kw("VIEW")?;
            DatasetKind::MaterializedView
        } else if self.at_kws(&["LIVE", "TABLE"]) {
            self.pos += 2;
            DatasetKind::MaterializedView
        } else if self.at_kws(&["LIVE", "VIEW"]) {
            self.pos += 2;
            DatasetKind::TemporaryView
        } else if self.at_kw("TEMPORARY") || self.at_kw("TEMP") {
            let after = self.pos + 1;
            if self.kw_at(after, "VIEW")
                || (self.kw_at(after, "LIVE") && self.kw_at(after + 1, "VIEW"))
            {
                self.pos = after;
                self.eat_kw("LIVE");
                self.expect_kw("VIEW")?;
                DatasetKind::TemporaryView
            } else if let Some(object) = self.tok(after).filter(|t| t.kind == TokKind::Word) {
                return Err(self.unsupported_command(&format!(
                    "CREATE TEMPORARY {}",
                    object.value.to_ascii_uppercase()
                )));
            } else {
                return Err(self.syntax_error_at(after, None));
            }
        } else if self.eat_kw("VIEW") {
            DatasetKind::PersistedView
        } else if let Some(object) = self
            .peek()
            .filter(|t| t.kind == TokKind::Word)
            .map(|t| t.value.to_ascii_uppercase())
            .filter(|w| OTHER_CREATE_OBJECTS.contains(&w.as_str()))
        {
            let mut command = format!("CREATE {object}");
            let mut i = self.pos + 1;
            // CREATE EXTERNAL TABLE, CREATE GLOBAL TEMPORARY VIEW
            while matches!(object.as_str(), "EXTERNAL" | "GLOBAL") {
                let Some(t) = self.tok(i).filter(|t| t.kind == TokKind::Word) else {
                    break;
                };
                command.push(' ');
                command.push_str(&t.value.to_ascii_uppercase());
                if !(t.is_kw("TEMPORARY") || t.is_kw("TEMP")) {
                    break;
                }
                i += 1;
            }
            return Err(self.unsupported_command(&command));
        } else {
            return Err(self.syntax_error());
        };
        self.eat_kws(&["IF", "NOT", "EXISTS"]);
        self.dataset(kind, private)
    }

    /// Eats DLT's `PRIVATE` (formerly `TEMPORARY`) before a table or materialized view;
    /// `TEMPORARY [LIVE] VIEW` stays a view.
    fn private_table(&mut self) -> bool {
        let prefix = self.at_kw("PRIVATE") || self.at_kw("TEMPORARY") || self.at_kw("TEMP");
        let next = self.pos + 1;
        let table = ["STREAMING", "INCREMENTAL", "MATERIALIZED"]
            .iter()
            .any(|kw| self.kw_at(next, kw))
            || (self.kw_at(next, "LIVE") && self.kw_at(next + 1, "TABLE"));
        if prefix && table {
            self.pos = next;
        }
        prefix && table
    }

    fn dataset(&mut self, kind: DatasetKind, private: bool) -> PlanResult<PipelineStatement> {
        let name = self.name()?;
        let mut def = DatasetDef {
            kind,
            name,
            columns: Vec::new(),
            expectations: Vec::new(),
            comment: None,
            format: None,
            partition_cols: Vec::new(),
            cluster_by: Vec::new(),
            table_properties: Vec::new(),
            location: None,
            private,
            query: None,
        };
        if self.punct_at(self.pos, '(') {
            self.elements(&mut def)?;
        }
        let mut seen = Vec::new();
        while let Some(t) = self.peek() {
            if t.is_kw("USING") {
                self.once(&mut seen, "USING")?;
                self.pos += 1;
                let parts = self.name_parts()?;
                let parts: Vec<String> = parts.into_iter().map(|(p, _)| p).collect();
                def.format = Some(parts.join("."));
            } else if t.is_kw("PARTITIONED") {
                self.once(&mut seen, "PARTITIONED BY")?;
                self.pos += 1;
                self.expect_kw("BY")?;
                def.partition_cols = self.paren_names()?;
            } else if t.is_kw("CLUSTER") {
                self.once(&mut seen, "CLUSTER BY")?;
                self.pos += 1;
                self.expect_kw("BY")?;
                def.cluster_by = self.paren_names()?;
            } else if t.is_kw("COMMENT") {
                self.once(&mut seen, "COMMENT")?;
                self.pos += 1;
                def.comment = Some(self.string()?);
            } else if t.is_kw("TBLPROPERTIES") {
                self.once(&mut seen, "TBLPROPERTIES")?;
                self.pos += 1;
                def.table_properties = self.properties()?;
            } else if t.is_kw("LOCATION") && !def.kind.is_view() {
                self.once(&mut seen, "LOCATION")?;
                self.pos += 1;
                def.location = Some(self.string()?);
            } else if t.is_kw("AS") {
                self.pos += 1;
                if self.at_end() {
                    return Err(self.syntax_error_hint("missing the query after AS"));
                }
                def.query = Some(self.text(self.pos, self.end));
                self.pos = self.end;
            } else {
                return Err(self.syntax_error());
            }
        }
        if def.query.is_none() && kind != DatasetKind::StreamingTable {
            return Err(self.syntax_error_hint("missing 'AS' and the query"));
        }
        Ok(PipelineStatement::Dataset(def))
    }

    /// `( column | constraint, ... )` after a dataset name.
    fn elements(&mut self, def: &mut DatasetDef) -> PlanResult<()> {
        let open = self.pos;
        let Some(close) = self.matching_close(open) else {
            self.pos = self.end;
            return Err(self.syntax_error_hint("missing ')'"));
        };
        let mut start = open + 1;
        let (mut parens, mut angles) = (0usize, 0usize);
        for i in open + 1..=close {
            let Some(t) = self.toks.get(i) else {
                break;
            };
            if i == close || (parens == 0 && angles == 0 && t.is_punct(',')) {
                if start == i {
                    return Err(self.syntax_error_at(i, None));
                }
                let mut part = Parser {
                    pos: start,
                    end: i,
                    ..*self
                };
                part.element(def)?;
                start = i + 1;
            } else if t.is_punct('(') {
                parens += 1;
            } else if t.is_punct(')') {
                parens = parens.saturating_sub(1);
            } else if parens == 0 && t.is_punct('<') {
                angles += 1;
            } else if parens == 0 && t.is_punct('>') {
                angles = angles.saturating_sub(1);
            }
        }
        self.pos = close + 1;
        Ok(())
    }

    /// One column definition or `CONSTRAINT ... EXPECT`.
    fn element(&mut self, def: &mut DatasetDef) -> PlanResult<()> {
        let is_constraint = self.at_kw("CONSTRAINT")
            && self.tok(self.pos + 1).is_some_and(Tok::is_ident)
            && self
                .tok(self.pos + 2)
                .is_some_and(|t| t.kind == TokKind::Word && !t.is_kw("NOT") && !t.is_kw("COMMENT"));
        if is_constraint {
            self.pos += 1;
            let name = self.ident()?.0;
            self.expect_kw("EXPECT")?;
            if !self.punct_at(self.pos, '(') {
                return Err(self.syntax_error_hint("missing '('"));
            }
            let Some(close) = self.matching_close(self.pos) else {
                return Err(self.syntax_error_at(self.end, Some("missing ')'")));
            };
            if close == self.pos + 1 {
                return Err(self.syntax_error_at(close, Some("an expectation needs a condition")));
            }
            let condition = self.text(self.pos + 1, close);
            self.pos = close + 1;
            let violation = if self.eat_kw("ON") {
                self.expect_kw("VIOLATION")?;
                if self.eat_kws(&["DROP", "ROW"]) {
                    Violation::DropRow
                } else if self.eat_kws(&["FAIL", "UPDATE"]) {
                    Violation::FailUpdate
                } else {
                    return Err(self.syntax_error_hint("expected DROP ROW or FAIL UPDATE"));
                }
            } else {
                Violation::Warn
            };
            self.expect_end()?;
            def.expectations.push(Expectation {
                name,
                condition,
                violation,
            });
            return Ok(());
        }

        let name = self.ident()?.0;
        let type_start = self.pos;
        let (mut parens, mut angles) = (0usize, 0usize);
        let mut i = type_start;
        while let Some(t) = self.tok(i) {
            if parens == 0
                && angles == 0
                && (t.is_kw("COMMENT")
                    || (t.is_kw("NOT") && self.kw_at(i + 1, "NULL"))
                    || COLUMN_ATTRIBUTES.iter().any(|kw| t.is_kw(kw)))
            {
                break;
            }
            if t.is_punct('(') {
                parens += 1;
            } else if t.is_punct(')') {
                parens = parens.saturating_sub(1);
            } else if parens == 0 && t.is_punct('<') {
                angles += 1;
            } else if parens == 0 && t.is_punct('>') {
                angles = angles.saturating_sub(1);
            }
            i += 1;
        }
        if i == type_start {
            return Err(self.syntax_error_hint("missing the column type"));
        }
        let data_type = self.text(type_start, i);
        self.pos = i;
        let mut column = ColumnDef {
            name,
            data_type,
            not_null: false,
            comment: None,
        };
        let mut seen = Vec::new();
        while !self.at_end() {
            if self.at_kws(&["NOT", "NULL"]) {
                self.once(&mut seen, "NOT NULL")?;
                self.pos += 2;
                column.not_null = true;
            } else if self.eat_kw("COMMENT") {
                self.once(&mut seen, "COMMENT")?;
                column.comment = Some(self.string()?);
            } else {
                return Err(self.syntax_error());
            }
        }
        def.columns.push(column);
        Ok(())
    }

    /// `TBLPROPERTIES ( key [=] value, ... )`.
    fn properties(&mut self) -> PlanResult<Vec<(String, String)>> {
        self.expect_punct('(')?;
        let mut out = Vec::new();
        loop {
            let key = match self.peek() {
                Some(t) if t.kind == TokKind::Str => {
                    self.pos += 1;
                    t.value.clone()
                }
                Some(t) if t.is_ident() || t.kind == TokKind::Number => {
                    let mut key = t.value.clone();
                    self.pos += 1;
                    while self.punct_at(self.pos, '.') {
                        let Some(part) = self
                            .tok(self.pos + 1)
                            .filter(|t| t.is_ident() || t.kind == TokKind::Number)
                        else {
                            break;
                        };
                        key.push('.');
                        key.push_str(&part.value);
                        self.pos += 2;
                    }
                    key
                }
                _ => return Err(self.syntax_error_hint("expected a property key")),
            };
            self.eat_punct('=');
            let value = match self.peek() {
                Some(t) if t.kind == TokKind::Str => {
                    self.pos += 1;
                    t.value.clone()
                }
                Some(t) if t.kind == TokKind::Number || t.is_kw("TRUE") || t.is_kw("FALSE") => {
                    self.pos += 1;
                    t.value.clone()
                }
                Some(t)
                    if (t.is_punct('-') || t.is_punct('+'))
                        && self
                            .tok(self.pos + 1)
                            .is_some_and(|n| n.kind == TokKind::Number) =>
                {
                    let value = self.text(self.pos, self.pos + 2);
                    self.pos += 2;
                    value
                }
                _ => return Err(self.syntax_error_hint("expected a property value")),
            };
            out.push((key, value));
            if self.eat_punct(',') {
                continue;
            }
            self.expect_punct(')')?;
            return Ok(out);
        }
    }

    /// After `CREATE FLOW`.
    fn flow(&mut self) -> PlanResult<PipelineStatement> {
        let name = self.name()?;
        let comment = if self.eat_kw("COMMENT") {
            Some(self.string()?)
        } else {
            None
        };
        self.expect_kw("AS")?;
        if self.eat_kws(&["AUTO", "CDC"]) || self.eat_kws(&["APPLY", "CHANGES"]) {
            return self.auto_cdc(Some(name));
        }
        if !self.eat_kw("INSERT") {
            return Err(self.syntax_error_hint("expected INSERT INTO, AUTO CDC or APPLY CHANGES"));
        }
        self.expect_kw("INTO")?;
        // ONCE is the keyword unless it is the target's name (`INSERT INTO once BY NAME`).
        let by_name_after = |p: &Self, i: usize| p.kw_at(i, "BY") && p.kw_at(i + 1, "NAME");
        let once = self.at_kw("ONCE")
            && self.tok(self.pos + 1).is_some_and(Tok::is_ident)
            && !by_name_after(self, self.pos + 1);
        if once {
            self.pos += 1;
        }
        if self.at_kw("TABLE")
            && self.tok(self.pos + 1).is_some_and(Tok::is_ident)
            && !by_name_after(self, self.pos + 1)
        {
            self.pos += 1;
        }
        let target = self.name()?;
        if !self.eat_kws(&["BY", "NAME"]) {
            return Err(self.syntax_error_hint("missing 'BY NAME' (a flow inserts by name)"));
        }
        if self.at_end() {
            return Err(self.syntax_error_hint("missing the query after BY NAME"));
        }
        let query = self.text(self.pos, self.end);
        Ok(PipelineStatement::Flow(FlowDef {
            name,
            target,
            query,
            once,
            comment,
        }))
    }

    /// Whether an AUTO CDC clause starts at token `i`.
    fn cdc_clause_at(&self, i: usize) -> bool {
        let Some(t) = self.tok(i) else {
            return false;
        };
        (t.is_kw("KEYS") && self.punct_at(i + 1, '('))
            || (t.is_kw("IGNORE") && self.kw_at(i + 1, "NULL"))
            || (t.is_kw("APPLY") && self.kw_at(i + 1, "AS"))
            || (t.is_kw("SEQUENCE") && self.kw_at(i + 1, "BY"))
            || (t.is_kw("COLUMNS") && (self.punct_at(i + 1, '*') || self.punct_at(i + 1, '(')))
            || (t.is_kw("STORED") && self.kw_at(i + 1, "AS"))
            || (t.is_kw("TRACK") && self.kw_at(i + 1, "HISTORY"))
    }

    /// Source text from the current token up to the next AUTO CDC clause (outside
    /// parentheses) or the end; at least one token.
    fn cdc_text(&mut self) -> PlanResult<String> {
        let start = self.pos;
        let mut depth = 0usize;
        let mut i = start;
        while let Some(t) = self.tok(i) {
            if depth == 0 && self.cdc_clause_at(i) {
                break;
            }
            if t.is_punct('(') {
                depth += 1;
            } else if t.is_punct(')') {
                depth = depth.saturating_sub(1);
            }
            i += 1;
        }
        if i == start {
            return Err(self.syntax_error());
        }
        self.pos = i;
        Ok(self.text(start, i))
    }

    /// `*`, `* EXCEPT (a, b)` or `(a, b)`.
    fn column_selection(&mut self) -> PlanResult<ColumnSelection> {
        if self.eat_punct('*') {
            if self.eat_kw("EXCEPT") {
                return Ok(ColumnSelection::Except(self.paren_names()?));
            }
            return Ok(ColumnSelection::All);
        }
        if self.punct_at(self.pos, '(') {
            return Ok(ColumnSelection::Only(self.paren_names()?));
        }
        Err(self.syntax_error_hint("expected '*' or a column list"))
    }

    /// After `APPLY CHANGES` / `AUTO CDC`: `INTO target FROM source` and the clauses.
    fn auto_cdc(&mut self, flow_name: Option<Vec<String>>) -> PlanResult<PipelineStatement> {
        self.expect_kw("INTO")?;
        let target = self.name()?;
        self.expect_kw("FROM")?;
        let source = self.cdc_text()?;
        let mut def = AutoCdcDef {
            flow_name,
            target,
            source,
            keys: Vec::new(),
            ignore_null_updates: false,
            delete_when: None,
            truncate_when: None,
            sequence_by: String::new(),
            columns: ColumnSelection::All,
            scd_type: 1,
            track_history: ColumnSelection::All,
        };
        let mut seen = Vec::new();
        while !self.at_end() {
            if self.at_kw("KEYS") {
                self.once(&mut seen, "KEYS")?;
                self.pos += 1;
                def.keys = self.paren_names()?;
            } else if self.at_kws(&["IGNORE", "NULL", "UPDATES"]) {
                self.once(&mut seen, "IGNORE NULL UPDATES")?;
                self.pos += 3;
                def.ignore_null_updates = true;
            } else if self.at_kws(&["APPLY", "AS", "DELETE", "WHEN"]) {
                self.once(&mut seen, "APPLY AS DELETE WHEN")?;
                self.pos += 4;
                def.delete_when = Some(self.cdc_text()?);
            } else if self.at_kws(&["APPLY", "AS", "TRUNCATE", "WHEN"]) {
                self.once(&mut seen, "APPLY AS TRUNCATE WHEN")?;
                self.pos += 4;
                def.truncate_when = Some(self.cdc_text()?);
            } else if self.at_kws(&["SEQUENCE", "BY"]) {
                self.once(&mut seen, "SEQUENCE BY")?;
                self.pos += 2;
                def.sequence_by = self.cdc_text()?;
            } else if self.at_kw("COLUMNS") {
                self.once(&mut seen, "COLUMNS")?;
                self.pos += 1;
                def.columns = self.column_selection()?;
            } else if self.at_kws(&["STORED", "AS", "SCD", "TYPE"]) {
                self.once(&mut seen, "STORED AS")?;
                self.pos += 4;
                let scd = match self.peek() {
                    Some(t) if t.kind == TokKind::Number => t,
                    _ => return Err(self.syntax_error_hint("expected SCD TYPE 1 or 2")),
                };
                def.scd_type = match scd.value.parse::<u8>() {
                    Ok(n @ (1 | 2)) => n,
                    _ => {
                        return Err(self.error_at(
                            self.pos,
                            &format!(
                                "STORED AS SCD TYPE {} is not supported: the SCD type is 1 or 2",
                                scd.value
                            ),
                        ))
                    }
                };
                self.pos += 1;
            } else if self.at_kws(&["TRACK", "HISTORY", "ON"]) {
                self.once(&mut seen, "TRACK HISTORY")?;
                self.pos += 3;
                def.track_history = self.column_selection()?;
            } else {
                return Err(self.syntax_error());
            }
        }
        if !seen.contains(&"KEYS") {
            return Err(self.syntax_error_hint("missing 'KEYS (...)'"));
        }
        if !seen.contains(&"SEQUENCE BY") {
            return Err(self.syntax_error_hint("missing 'SEQUENCE BY'"));
        }
        Ok(PipelineStatement::AutoCdc(def))
    }

    /// `SET key = value`.
    fn set(&mut self) -> PlanResult<PipelineStatement> {
        self.pos += 1; // SET
        if (self.at_kw("VAR") || self.at_kw("VARIABLE"))
            && self.tok(self.pos + 1).is_some_and(Tok::is_ident)
        {
            return Err(self.unsupported_command("SET VARIABLE"));
        }
        let Some(eq) = (self.pos..self.end).find(|&i| self.punct_at(i, '=')) else {
            // `SET` / `SET key` read confs; they define nothing.
            return Err(self.unsupported_command("SET"));
        };
        if eq == self.pos {
            return Err(self.syntax_error_hint("missing the key before '='"));
        }
        let key = strip_quotes(&self.text(self.pos, eq)).trim().to_string();
        let value = strip_quotes(&self.text(eq + 1, self.end)).to_string();
        self.pos = self.end;
        Ok(PipelineStatement::Set { key, value })
    }

    /// `USE CATALOG c`, `USE SCHEMA|DATABASE|NAMESPACE s`, `USE s`.
    fn use_(&mut self) -> PlanResult<PipelineStatement> {
        self.pos += 1; // USE
        let has_more = |p: &Self| p.tok(p.pos + 1).is_some();
        let catalog = self.at_kw("CATALOG") && has_more(self);
        if catalog
            || ((self.at_kw("SCHEMA") || self.at_kw("DATABASE") || self.at_kw("NAMESPACE"))
                && has_more(self))
        {
            self.pos += 1;
        }
        let name = match self.peek() {
            Some(t) if t.kind == TokKind::Str => {
                self.pos += 1;
                t.value.clone()
            }
            _ => {
                let parts = self.name_parts()?;
                if parts.len() == 1 {
                    parts.into_iter().map(|(p, _)| p).collect()
                } else {
                    parts
                        .iter()
                        .map(|(p, _)| {
                            if is_plain_identifier(p) {
                                p.clone()
                            } else {
                                crate::error::quote(p)
                            }
                        })
                        .collect::<Vec<_>>()
                        .join(".")
                }
            }
        };
        self.expect_end()?;
        Ok(if catalog {
            PipelineStatement::UseCatalog(name)
        } else {
            PipelineStatement::UseSchema(name)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(sql: &str) -> Vec<Located> {
        match parse(sql) {
            Ok(v) => v,
            Err(e) => panic!("parse failed for {sql:?}: {e}"),
        }
    }

    fn one(sql: &str) -> PipelineStatement {
        let mut v = all(sql);
        assert_eq!(v.len(), 1, "{sql}: {v:?}");
        v.remove(0).statement
    }

    fn dataset(sql: &str) -> DatasetDef {
        match one(sql) {
            PipelineStatement::Dataset(d) => d,
            other => panic!("not a dataset: {other:?}"),
        }
    }

    fn flow(sql: &str) -> FlowDef {
        match one(sql) {
            PipelineStatement::Flow(f) => f,
            other => panic!("not a flow: {other:?}"),
        }
    }

    fn cdc(sql: &str) -> AutoCdcDef {
        match one(sql) {
            PipelineStatement::AutoCdc(c) => c,
            other => panic!("not auto cdc: {other:?}"),
        }
    }

    fn parse_err(sql: &str) -> String {
        match parse(sql) {
            Err(PlanError::Parse(m)) => m,
            other => panic!("expected a parse error for {sql:?}, got {other:?}"),
        }
    }

    fn analysis_err(sql: &str) -> String {
        match parse(sql) {
            Err(PlanError::Analysis(m)) => m,
            other => panic!("expected an analysis error for {sql:?}, got {other:?}"),
        }
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn live_qualifiers_come_off_for_the_catalog() {
        assert_eq!(
            without_live("SELECT a.x FROM LIVE.t a JOIN live.`u v` ON 1 = 1 WHERE s = 'LIVE.t' AND b.live.c > 0"),
            "SELECT a.x FROM t a JOIN `u v` ON 1 = 1 WHERE s = 'LIVE.t' AND b.live.c > 0"
        );
        assert_eq!(without_live("SELECT live FROM t"), "SELECT live FROM t");
    }

    const DLT_EXAMPLE: &str = r#"CREATE OR REFRESH STREAMING LIVE TABLE bronze
COMMENT "raw events"
AS SELECT * FROM cloud_files("/data/in", "json", map("cloudFiles.inferColumnTypes", "true"));

CREATE OR REFRESH STREAMING LIVE TABLE silver (
  CONSTRAINT valid_id EXPECT (id IS NOT NULL) ON VIOLATION DROP ROW,
  CONSTRAINT positive EXPECT (amount > 0)
) PARTITIONED BY (country)
AS SELECT * FROM STREAM(LIVE.bronze) WHERE kind = 'a;b';

CREATE OR REFRESH LIVE TABLE gold AS SELECT country, count(*) AS n FROM LIVE.silver GROUP BY country;
APPLY CHANGES INTO LIVE.customers FROM STREAM(LIVE.cdc) KEYS (id) APPLY AS DELETE WHEN op = 'DELETE' SEQUENCE BY seq COLUMNS * EXCEPT (op, seq) STORED AS SCD TYPE 2;
"#;

    #[test]
    fn dlt_example() {
        let v = all(DLT_EXAMPLE);
        assert_eq!(v.len(), 4);
        assert_eq!(
            v.iter().map(|l| l.line).collect::<Vec<_>>(),
            vec![1, 5, 11, 12]
        );

        let PipelineStatement::Dataset(bronze) = &v[0].statement else {
            panic!("{:?}", v[0]);
        };
        assert_eq!(bronze.kind, DatasetKind::StreamingTable);
        assert_eq!(bronze.name, names(&["bronze"]));
        assert_eq!(bronze.comment.as_deref(), Some("raw events"));
        assert_eq!(
            bronze.query.as_deref(),
            Some(
                r#"SELECT * FROM cloud_files("/data/in", "json", map("cloudFiles.inferColumnTypes", "true"))"#
            )
        );
        assert!(bronze.columns.is_empty() && bronze.expectations.is_empty());

        let PipelineStatement::Dataset(silver) = &v[1].statement else {
            panic!("{:?}", v[1]);
        };
        assert_eq!(silver.kind, DatasetKind::StreamingTable);
        assert_eq!(silver.name, names(&["silver"]));
        assert!(silver.columns.is_empty());
        assert_eq!(
            silver.expectations,
            vec![
                Expectation {
                    name: "valid_id".into(),
                    condition: "id IS NOT NULL".into(),
                    violation: Violation::DropRow,
                },
                Expectation {
                    name: "positive".into(),
                    condition: "amount > 0".into(),
                    violation: Violation::Warn,
                },
            ]
        );
        assert_eq!(silver.partition_cols, names(&["country"]));
        assert_eq!(
            silver.query.as_deref(),
            Some("SELECT * FROM STREAM(LIVE.bronze) WHERE kind = 'a;b'")
        );

        let PipelineStatement::Dataset(gold) = &v[2].statement else {
            panic!("{:?}", v[2]);
        };
        assert_eq!(gold.kind, DatasetKind::MaterializedView);
        assert_eq!(gold.name, names(&["gold"]));
        assert_eq!(
            gold.query.as_deref(),
            Some("SELECT country, count(*) AS n FROM LIVE.silver GROUP BY country")
        );

        let PipelineStatement::AutoCdc(c) = &v[3].statement else {
            panic!("{:?}", v[3]);
        };
        assert_eq!(
            c,
            &AutoCdcDef {
                flow_name: None,
                target: names(&["customers"]),
                source: "STREAM(LIVE.cdc)".into(),
                keys: names(&["id"]),
                ignore_null_updates: false,
                delete_when: Some("op = 'DELETE'".into()),
                truncate_when: None,
                sequence_by: "seq".into(),
                columns: ColumnSelection::Except(names(&["op", "seq"])),
                scd_type: 2,
                track_history: ColumnSelection::All,
            }
        );
    }

    #[test]
    fn sdp_materialized_view_streaming_table_and_flow() {
        let v = all("CREATE MATERIALIZED VIEW x AS SELECT a, b FROM src;\n\
             CREATE STREAMING TABLE t;\n\
             CREATE FLOW f AS INSERT INTO t BY NAME SELECT * FROM STREAM(src);\n");
        assert_eq!(v.len(), 3);
        assert_eq!(v.iter().map(|l| l.line).collect::<Vec<_>>(), vec![1, 2, 3]);
        let PipelineStatement::Dataset(mv) = &v[0].statement else {
            panic!()
        };
        assert_eq!(mv.kind, DatasetKind::MaterializedView);
        assert_eq!(mv.name, names(&["x"]));
        assert_eq!(mv.query.as_deref(), Some("SELECT a, b FROM src"));
        let PipelineStatement::Dataset(st) = &v[1].statement else {
            panic!()
        };
        assert_eq!(
            st,
            &DatasetDef {
                kind: DatasetKind::StreamingTable,
                name: names(&["t"]),
                columns: vec![],
                expectations: vec![],
                comment: None,
                format: None,
                partition_cols: vec![],
                cluster_by: vec![],
                table_properties: vec![],
                location: None,
                private: false,
                query: None,
            }
        );
        assert_eq!(
            v[2].statement,
            PipelineStatement::Flow(FlowDef {
                name: names(&["f"]),
                target: names(&["t"]),
                query: "SELECT * FROM STREAM(src)".into(),
                once: false,
                comment: None,
            })
        );
    }

    #[test]
    fn dataset_kinds() {
        use DatasetKind::*;
        let cases = [
            ("CREATE STREAMING TABLE t", StreamingTable),
            ("CREATE OR REFRESH STREAMING TABLE t", StreamingTable),
            ("CREATE STREAMING LIVE TABLE t", StreamingTable),
            ("create or refresh streaming live table t", StreamingTable),
            ("CREATE INCREMENTAL LIVE TABLE t", StreamingTable),
            ("CREATE STREAMING TABLE t AS SELECT 1", StreamingTable),
            ("CREATE LIVE TABLE t AS SELECT 1", MaterializedView),
            (
                "CREATE OR REFRESH LIVE TABLE t AS SELECT 1",
                MaterializedView,
            ),
            ("CREATE MATERIALIZED VIEW t AS SELECT 1", MaterializedView),
            (
                "CREATE OR REFRESH MATERIALIZED VIEW t AS SELECT 1",
                MaterializedView,
            ),
            ("CREATE TEMPORARY VIEW t AS SELECT 1", TemporaryView),
            (
                "CREATE OR REPLACE TEMPORARY VIEW t AS SELECT 1",
                TemporaryView,
            ),
            ("CREATE TEMPORARY LIVE VIEW t AS SELECT 1", TemporaryView),
            ("CREATE TEMP VIEW t AS SELECT 1", TemporaryView),
            ("CREATE OR REPLACE TEMP VIEW t AS SELECT 1", TemporaryView),
            ("CREATE TEMP LIVE VIEW t AS SELECT 1", TemporaryView),
            ("CREATE LIVE VIEW t AS SELECT 1", TemporaryView),
            ("CREATE VIEW t AS SELECT 1", PersistedView),
            ("CREATE OR REPLACE VIEW t AS SELECT 1", PersistedView),
            (
                "  Create\n  Or   Refresh\tMaterialized\n\nView t\nAs\nSelect 1",
                MaterializedView,
            ),
        ];
        for (sql, kind) in cases {
            let d = dataset(sql);
            assert_eq!(d.kind, kind, "{sql}");
            assert_eq!(d.name, names(&["t"]), "{sql}");
        }
    }

    #[test]
    fn if_not_exists() {
        let d = dataset("CREATE STREAMING TABLE IF NOT EXISTS t");
        assert_eq!(d.name, names(&["t"]));
        let d = dataset("CREATE MATERIALIZED VIEW if not exists live.m AS SELECT 1");
        assert_eq!(d.name, names(&["m"]));
        // A table named `if`.
        let d = dataset("CREATE MATERIALIZED VIEW if AS SELECT 1");
        assert_eq!(d.name, names(&["if"]));
    }

    #[test]
    fn names_and_live() {
        let cases: [(&str, &[&str]); 9] = [
            ("t", &["t"]),
            ("LIVE.t", &["t"]),
            ("live.t", &["t"]),
            ("Live.db.t", &["db", "t"]),
            ("live", &["live"]),
            ("db.t", &["db", "t"]),
            ("cat.db.t", &["cat", "db", "t"]),
            ("`my table`", &["my table"]),
            ("`a``b`.`c.d`", &["a`b", "c.d"]),
        ];
        for (name, want) in cases {
            let d = dataset(&format!("CREATE MATERIALIZED VIEW {name} AS SELECT 1"));
            assert_eq!(d.name, names(want), "{name}");
        }
        // A backquoted `live` is a real schema name.
        let d = dataset("CREATE MATERIALIZED VIEW `live`.t AS SELECT 1");
        assert_eq!(d.name, names(&["live", "t"]));
        let d = dataset("CREATE MATERIALIZED VIEW _x1 . y AS SELECT 1");
        assert_eq!(d.name, names(&["_x1", "y"]));
    }

    #[test]
    fn column_definitions() {
        let d = dataset(
            "CREATE STREAMING TABLE t (\n\
               id BIGINT NOT NULL COMMENT 'the id',\n\
               price DECIMAL(10, 2),\n\
               tags ARRAY<STRUCT<a: INT, b: STRING>> COMMENT \"nested, with commas\",\n\
               m MAP<STRING, INT> NOT NULL,\n\
               `odd name` STRING COMMENT 'it''s' NOT NULL,\n\
               CONSTRAINT ok EXPECT (price > 0 AND tags IS NOT NULL) ON VIOLATION FAIL UPDATE,\n\
               ts TIMESTAMP\n\
             )",
        );
        let col = |name: &str, ty: &str, not_null: bool, comment: Option<&str>| ColumnDef {
            name: name.into(),
            data_type: ty.into(),
            not_null,
            comment: comment.map(Into::into),
        };
        assert_eq!(
            d.columns,
            vec![
                col("id", "BIGINT", true, Some("the id")),
                col("price", "DECIMAL(10, 2)", false, None),
                col(
                    "tags",
                    "ARRAY<STRUCT<a: INT, b: STRING>>",
                    false,
                    Some("nested, with commas")
                ),
                col("m", "MAP<STRING, INT>", true, None),
                col("odd name", "STRING", true, Some("it's")),
                col("ts", "TIMESTAMP", false, None),
            ]
        );
        assert_eq!(
            d.expectations,
            vec![Expectation {
                name: "ok".into(),
                condition: "price > 0 AND tags IS NOT NULL".into(),
                violation: Violation::FailUpdate,
            }]
        );
        assert_eq!(d.query, None);
    }

    #[test]
    fn type_text_keeps_internal_whitespace() {
        let d = dataset("CREATE STREAMING TABLE t (a  DECIMAL( 10 ,2 )  , b struct< x :int >)");
        assert_eq!(d.columns[0].data_type, "DECIMAL( 10 ,2 )");
        assert_eq!(d.columns[1].data_type, "struct< x :int >");
        let d = dataset("CREATE STREAMING TABLE t (s STRING COLLATE UTF8_LCASE NOT NULL, i INTERVAL DAY TO SECOND)");
        assert_eq!(d.columns[0].data_type, "STRING COLLATE UTF8_LCASE");
        assert!(d.columns[0].not_null);
        assert_eq!(d.columns[1].data_type, "INTERVAL DAY TO SECOND");
    }

    #[test]
    fn constraints_only_and_conditions() {
        let d = dataset(
            "CREATE MATERIALIZED VIEW m (\
               CONSTRAINT a EXPECT ((x > 1) OR (y IN ('(', ')', ','))) ON VIOLATION DROP ROW,\
               CONSTRAINT b EXPECT ( len(s) < 10 ),\
               constraint c expect (z) on violation fail update\
             ) AS SELECT 1 AS x",
        );
        assert!(d.columns.is_empty());
        let got: Vec<_> = d
            .expectations
            .iter()
            .map(|e| (e.name.as_str(), e.condition.as_str(), e.violation))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a", "(x > 1) OR (y IN ('(', ')', ','))", Violation::DropRow),
                ("b", "len(s) < 10", Violation::Warn),
                ("c", "z", Violation::FailUpdate),
            ]
        );
    }

    #[test]
    fn clauses_in_any_order() {
        let d = dataset(
            "CREATE OR REFRESH STREAMING TABLE t\n\
             TBLPROPERTIES ('k' = 'v', \"k2\" = \"v2\", k3 = 'v3', delta.appendOnly = true,\n\
                            pipelines.reset.allowed = false, n = 10, f = -1.5, 'q' 'no equals')\n\
             COMMENT 'it\\'s ''quoted'''\n\
             CLUSTER BY (a, `b c`)\n\
             USING delta\n\
             PARTITIONED BY (p1, p2)\n\
             AS SELECT * FROM STREAM(s)",
        );
        assert_eq!(d.format.as_deref(), Some("delta"));
        assert_eq!(d.partition_cols, names(&["p1", "p2"]));
        assert_eq!(d.cluster_by, names(&["a", "b c"]));
        assert_eq!(d.comment.as_deref(), Some("it's 'quoted'"));
        let props: Vec<(&str, &str)> = d
            .table_properties
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            props,
            vec![
                ("k", "v"),
                ("k2", "v2"),
                ("k3", "v3"),
                ("delta.appendOnly", "true"),
                ("pipelines.reset.allowed", "false"),
                ("n", "10"),
                ("f", "-1.5"),
                ("q", "no equals"),
            ]
        );
        assert_eq!(d.query.as_deref(), Some("SELECT * FROM STREAM(s)"));
    }

    #[test]
    fn comment_escapes_and_concatenation() {
        let d = dataset(r#"CREATE STREAMING TABLE t COMMENT 'a\tb\\c\"d' 'e'"#);
        assert_eq!(d.comment.as_deref(), Some("a\tb\\c\"de"));
        let d = dataset(r#"CREATE STREAMING TABLE t COMMENT "say \"hi\" ""x""""#);
        assert_eq!(d.comment.as_deref(), Some(r#"say "hi" "x""#));
        let d = dataset(r"CREATE STREAMING TABLE t COMMENT 'caf\u00e9 \101'");
        assert_eq!(d.comment.as_deref(), Some("café A"));
    }

    #[test]
    fn duplicate_clauses_are_errors() {
        for sql in [
            "CREATE STREAMING TABLE t COMMENT 'a' COMMENT 'b'",
            "CREATE STREAMING TABLE t USING delta PARTITIONED BY (a) USING parquet",
            "CREATE STREAMING TABLE t PARTITIONED BY (a) PARTITIONED BY (b)",
            "CREATE STREAMING TABLE t TBLPROPERTIES (a = 1) TBLPROPERTIES (b = 2)",
            "CREATE STREAMING TABLE t CLUSTER BY (a) CLUSTER BY (b)",
            "CREATE STREAMING TABLE t (a INT NOT NULL NOT NULL)",
        ] {
            let e = parse_err(sql);
            assert!(e.starts_with("[DUPLICATE_CLAUSES]"), "{sql}: {e}");
        }
    }

    #[test]
    fn location_and_private_tables() {
        use DatasetKind::{MaterializedView, StreamingTable};
        let ds = dataset("CREATE STREAMING TABLE t\nLOCATION '/tmp/x' AS SELECT 1");
        assert_eq!(ds.location.as_deref(), Some("/tmp/x"));
        assert!(!ds.private);
        for (sql, kind) in [
            (
                "CREATE TEMPORARY LIVE TABLE t AS SELECT 1",
                MaterializedView,
            ),
            (
                "CREATE OR REFRESH TEMPORARY STREAMING LIVE TABLE t AS SELECT 1",
                StreamingTable,
            ),
            (
                "CREATE PRIVATE MATERIALIZED VIEW t AS SELECT 1",
                MaterializedView,
            ),
            (
                "CREATE OR REFRESH PRIVATE STREAMING TABLE t AS SELECT 1",
                StreamingTable,
            ),
        ] {
            let ds = dataset(sql);
            assert!(ds.private, "{sql}");
            assert_eq!(ds.kind, kind, "{sql}");
        }
        let e = parse_err("CREATE STREAMING TABLE t LOCATION '/a' LOCATION '/b' AS SELECT 1");
        assert!(e.starts_with("[DUPLICATE_CLAUSES]"), "{e}");
        let e = parse_err("CREATE TEMPORARY VIEW v LOCATION '/a' AS SELECT 1");
        assert!(e.contains("'LOCATION'"), "{e}");
    }

    #[test]
    fn query_text_is_verbatim() {
        let sql = "CREATE MATERIALIZED VIEW m AS -- leading comment\n\
                   WITH a AS (SELECT 1 AS x) -- inner comment; with a semicolon\n\
                   SELECT /* block; comment */ x\n\
                   FROM a   -- trailing\n\
                   ;";
        let d = dataset(sql);
        assert_eq!(
            d.query.as_deref(),
            Some(
                "WITH a AS (SELECT 1 AS x) -- inner comment; with a semicolon\n\
                 SELECT /* block; comment */ x\n\
                 FROM a"
            )
        );
        let d = dataset("CREATE MATERIALIZED VIEW m AS\n  FROM src SELECT a  ");
        assert_eq!(d.query.as_deref(), Some("FROM src SELECT a"));
        let d = dataset("CREATE VIEW v AS (SELECT 1)");
        assert_eq!(d.query.as_deref(), Some("(SELECT 1)"));
    }

    #[test]
    fn semicolons_inside_strings_comments_and_parens() {
        let sql = "CREATE MATERIALIZED VIEW a AS SELECT 'x;y' AS s, \"p;q\" AS `c;d`; -- c;\n\
                   /* ; ; */ CREATE MATERIALIZED VIEW b AS SELECT 'it\\'s;' AS s, 'a'';b' AS t;\n\
                   CREATE MATERIALIZED VIEW c AS SELECT * FROM (SELECT 1; SELECT 2)";
        let v = all(sql);
        assert_eq!(v.len(), 3);
        let q = |i: usize| match &v[i].statement {
            PipelineStatement::Dataset(d) => d.query.clone().unwrap_or_default(),
            other => panic!("{other:?}"),
        };
        assert_eq!(q(0), "SELECT 'x;y' AS s, \"p;q\" AS `c;d`");
        assert_eq!(q(1), "SELECT 'it\\'s;' AS s, 'a'';b' AS t");
        assert_eq!(q(2), "SELECT * FROM (SELECT 1; SELECT 2)");
        assert_eq!(v[1].line, 2);
    }

    #[test]
    fn empty_statements_and_last_without_semicolon() {
        assert!(all("").is_empty());
        assert!(all("  \n\t").is_empty());
        assert!(all(";;\n; -- nothing\n/* nothing */;").is_empty());
        let v = all(";;CREATE STREAMING TABLE a;;;CREATE STREAMING TABLE b");
        assert_eq!(v.len(), 2);
        let v = all("CREATE STREAMING TABLE a -- no semicolon, comment at the end");
        assert_eq!(v.len(), 1);
    }

    #[test]
    fn line_numbers_skip_comments_and_blank_lines() {
        let sql = "-- header comment\n\
                   \n\
                   /* a block\n\
                      comment */\n\
                   \n\
                   CREATE STREAMING TABLE a; CREATE STREAMING TABLE b;\n\
                   -- between\n\
                   CREATE MATERIALIZED VIEW c\n\
                   AS SELECT 1; /* x */ SET k = v;\n\
                   \n\
                   \n\
                      USE s";
        let v = all(sql);
        let lines: Vec<usize> = v.iter().map(|l| l.line).collect();
        assert_eq!(lines, vec![6, 6, 8, 9, 12]);
    }

    #[test]
    fn line_numbers_with_crlf() {
        let v = all("-- c\r\nCREATE STREAMING TABLE a;\r\n\r\nCREATE STREAMING TABLE b;\r\n");
        let lines: Vec<usize> = v.iter().map(|l| l.line).collect();
        assert_eq!(lines, vec![2, 4]);
    }

    #[test]
    fn flows() {
        let f = flow("CREATE FLOW f AS INSERT INTO t BY NAME SELECT * FROM STREAM(src)");
        assert!(!f.once);
        assert_eq!(f.name, names(&["f"]));
        assert_eq!(f.target, names(&["t"]));
        assert_eq!(f.query, "SELECT * FROM STREAM(src)");

        let f = flow(
            "create flow backfill comment 'one-off' as\n  insert into once live.t by name\n  select * from old",
        );
        assert!(f.once);
        assert_eq!(f.name, names(&["backfill"]));
        assert_eq!(f.target, names(&["t"]));
        assert_eq!(f.comment.as_deref(), Some("one-off"));
        assert_eq!(f.query, "select * from old");

        // A target named `once`.
        let f = flow("CREATE FLOW f AS INSERT INTO once BY NAME SELECT 1");
        assert!(!f.once);
        assert_eq!(f.target, names(&["once"]));
        let f = flow("CREATE FLOW f AS INSERT INTO ONCE once BY NAME SELECT 1");
        assert!(f.once);
        assert_eq!(f.target, names(&["once"]));
        let f = flow("CREATE FLOW f AS INSERT INTO once.t BY NAME SELECT 1");
        assert!(!f.once);
        assert_eq!(f.target, names(&["once", "t"]));

        let f = flow("CREATE FLOW db.f AS INSERT INTO TABLE cat.db.t BY NAME FROM s SELECT a");
        assert_eq!(f.name, names(&["db", "f"]));
        assert_eq!(f.target, names(&["cat", "db", "t"]));
        assert_eq!(f.query, "FROM s SELECT a");
    }

    #[test]
    fn flow_requires_by_name() {
        let e = parse_err("CREATE FLOW f AS INSERT INTO t SELECT * FROM s");
        assert!(
            e.starts_with("[PARSE_SYNTAX_ERROR] Syntax error at or near 'SELECT'"),
            "{e}"
        );
        assert!(e.contains("BY NAME"), "{e}");
        let e = parse_err("CREATE FLOW f AS INSERT INTO t BY NAME");
        assert!(e.contains("end of input"), "{e}");
        let e = parse_err("CREATE FLOW f AS INSERT OVERWRITE t BY NAME SELECT 1");
        assert!(e.contains("'OVERWRITE'"), "{e}");
        let e = parse_err("CREATE FLOW f INSERT INTO t BY NAME SELECT 1");
        assert!(e.contains("missing 'AS'"), "{e}");
    }

    #[test]
    fn auto_cdc_flow_forms() {
        let sql = "CREATE FLOW upsert AS AUTO CDC INTO live.target\n\
                   FROM stream(cdc)\n\
                   KEYS (a, b)\n\
                   IGNORE NULL UPDATES\n\
                   APPLY AS DELETE WHEN operation = \"DELETE\"\n\
                   APPLY AS TRUNCATE WHEN operation = 'TRUNCATE'\n\
                   SEQUENCE BY struct(ts, id)\n\
                   COLUMNS (a, b, c)\n\
                   STORED AS SCD TYPE 2\n\
                   TRACK HISTORY ON * EXCEPT (c)";
        assert_eq!(
            cdc(sql),
            AutoCdcDef {
                flow_name: Some(names(&["upsert"])),
                target: names(&["target"]),
                source: "stream(cdc)".into(),
                keys: names(&["a", "b"]),
                ignore_null_updates: true,
                delete_when: Some("operation = \"DELETE\"".into()),
                truncate_when: Some("operation = 'TRUNCATE'".into()),
                sequence_by: "struct(ts, id)".into(),
                columns: ColumnSelection::Only(names(&["a", "b", "c"])),
                scd_type: 2,
                track_history: ColumnSelection::Except(names(&["c"])),
            }
        );
        let c = cdc("CREATE FLOW f AS APPLY CHANGES INTO t FROM cdc KEYS (id) SEQUENCE BY seq");
        assert_eq!(c.flow_name, Some(names(&["f"])));
        assert_eq!(c.source, "cdc");
        assert_eq!(c.scd_type, 1);
        assert_eq!(c.columns, ColumnSelection::All);
        assert_eq!(c.track_history, ColumnSelection::All);
        assert!(!c.ignore_null_updates);
        assert_eq!(c.delete_when, None);
    }

    #[test]
    fn auto_cdc_sources() {
        for src in [
            "STREAM(LIVE.cdc)",
            "STREAM LIVE.cdc",
            "stream(cdc)",
            "cdc",
            "cat.db.cdc",
            "STREAM(LIVE.cdc) AS c",
        ] {
            let c = cdc(&format!(
                "APPLY CHANGES INTO t FROM {src}\n  KEYS (id) SEQUENCE BY seq"
            ));
            assert_eq!(c.source, src);
            assert_eq!(c.flow_name, None);
        }
    }

    #[test]
    fn auto_cdc_clauses() {
        let c = cdc("APPLY CHANGES INTO t FROM s KEYS (id) SEQUENCE BY seq COLUMNS *");
        assert_eq!(c.columns, ColumnSelection::All);
        let c = cdc(
            "APPLY CHANGES INTO t FROM s KEYS (id) SEQUENCE BY seq STORED AS SCD TYPE 2 \
             TRACK HISTORY ON (a, b)",
        );
        assert_eq!(c.track_history, ColumnSelection::Only(names(&["a", "b"])));
        let c = cdc(
            "APPLY CHANGES INTO t FROM s KEYS (id) SEQUENCE BY seq STORED AS SCD TYPE 2 \
             TRACK HISTORY ON *",
        );
        assert_eq!(c.track_history, ColumnSelection::All);
        // Expressions with parentheses, strings holding keywords, and CASE.
        let c = cdc("APPLY CHANGES INTO t FROM s KEYS (id)\n\
             APPLY AS DELETE WHEN (op IN ('D', 'SEQUENCE BY')) AND coalesce(x, 0) = 1\n\
             SEQUENCE BY CASE WHEN a IS NULL THEN b ELSE a END");
        assert_eq!(
            c.delete_when.as_deref(),
            Some("(op IN ('D', 'SEQUENCE BY')) AND coalesce(x, 0) = 1")
        );
        assert_eq!(c.sequence_by, "CASE WHEN a IS NULL THEN b ELSE a END");
    }

    #[test]
    fn auto_cdc_is_lenient_about_order() {
        let c = cdc(
            "apply changes into live.t from stream(s) sequence by seq stored as scd type 1 \
             columns * except (x) keys (id) ignore null updates",
        );
        assert_eq!(c.keys, names(&["id"]));
        assert_eq!(c.sequence_by, "seq");
        assert_eq!(c.columns, ColumnSelection::Except(names(&["x"])));
        assert!(c.ignore_null_updates);
        assert_eq!(c.scd_type, 1);
    }

    #[test]
    fn auto_cdc_errors() {
        let e = parse_err("APPLY CHANGES INTO t FROM s SEQUENCE BY seq");
        assert!(e.contains("KEYS"), "{e}");
        let e = parse_err("APPLY CHANGES INTO t FROM s KEYS (id)");
        assert!(e.contains("SEQUENCE BY"), "{e}");
        let e =
            parse_err("APPLY CHANGES INTO t FROM s KEYS (id) SEQUENCE BY seq STORED AS SCD TYPE 3");
        assert!(e.contains("SCD TYPE 3"), "{e}");
        let e =
            parse_err("APPLY CHANGES INTO t FROM s KEYS (id) SEQUENCE BY seq STORED AS SCD TYPE x");
        assert!(e.starts_with("[PARSE_SYNTAX_ERROR]"), "{e}");
        let e = parse_err("APPLY CHANGES INTO t FROM KEYS (id) SEQUENCE BY seq");
        assert!(e.contains("'KEYS'"), "{e}");
        let e = parse_err("APPLY CHANGES INTO t FROM s KEYS (id) KEYS (a) SEQUENCE BY seq");
        assert!(e.starts_with("[DUPLICATE_CLAUSES]"), "{e}");
        let e = parse_err("APPLY CHANGES INTO t FROM s KEYS () SEQUENCE BY seq");
        assert!(e.contains("')'"), "{e}");
        let e = parse_err("APPLY CHANGES INTO t FROM s KEYS (id) SEQUENCE BY");
        assert!(e.contains("end of input"), "{e}");
        let e =
            parse_err("APPLY CHANGES INTO t FROM s KEYS (id) SEQUENCE BY seq TRACK HISTORY ON x");
        assert!(e.contains("'x'"), "{e}");
        let e = parse_err("APPLY CHANGES INTO t FROM s KEYS (id) SEQUENCE BY seq COLUMNS * EXCEPT");
        assert!(e.contains("end of input"), "{e}");
        let e = parse_err("APPLY CHANGES t FROM s KEYS (id) SEQUENCE BY seq");
        assert!(e.contains("missing 'INTO'"), "{e}");
    }

    #[test]
    fn set_statements() {
        let set = |sql: &str| match one(sql) {
            PipelineStatement::Set { key, value } => (key, value),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            set("SET spark.sql.shuffle.partitions = 10"),
            ("spark.sql.shuffle.partitions".into(), "10".into())
        );
        assert_eq!(set("set k=v"), ("k".into(), "v".into()));
        assert_eq!(
            set("SET k = 'quoted; value'"),
            ("k".into(), "quoted; value".into())
        );
        assert_eq!(set("SET k = \"dq\""), ("k".into(), "dq".into()));
        assert_eq!(set("SET `k.x` = a b  c"), ("k.x".into(), "a b  c".into()));
        assert_eq!(set("SET k ="), ("k".into(), "".into()));
        assert_eq!(set("SET k = 'a' -- comment"), ("k".into(), "a".into()));
        assert_eq!(set("SET k = a=b"), ("k".into(), "a=b".into()));
        assert!(analysis_err("SET").contains("'SET'"));
        assert!(analysis_err("SET spark.sql.x").contains("'SET'"));
        assert!(analysis_err("SET VAR x = 1").contains("'SET VARIABLE'"));
        assert!(parse_err("SET = 1").starts_with("[PARSE_SYNTAX_ERROR]"));
    }

    #[test]
    fn use_statements() {
        assert_eq!(
            one("USE CATALOG c"),
            PipelineStatement::UseCatalog("c".into())
        );
        assert_eq!(
            one("use catalog `my cat`"),
            PipelineStatement::UseCatalog("my cat".into())
        );
        assert_eq!(
            one("USE SCHEMA s"),
            PipelineStatement::UseSchema("s".into())
        );
        assert_eq!(
            one("USE DATABASE s"),
            PipelineStatement::UseSchema("s".into())
        );
        assert_eq!(
            one("USE NAMESPACE s"),
            PipelineStatement::UseSchema("s".into())
        );
        assert_eq!(one("USE s"), PipelineStatement::UseSchema("s".into()));
        assert_eq!(
            one("USE 'quoted'"),
            PipelineStatement::UseSchema("quoted".into())
        );
        assert_eq!(
            one("USE SCHEMA c.`s x`"),
            PipelineStatement::UseSchema("c.`s x`".into())
        );
        // A schema named like a keyword.
        assert_eq!(
            one("USE schema"),
            PipelineStatement::UseSchema("schema".into())
        );
        assert!(parse_err("USE").contains("end of input"));
        assert!(parse_err("USE CATALOG a b").contains("'b'"));
    }

    #[test]
    fn unsupported_commands_are_analysis_errors() {
        let cases = [
            ("SELECT 1", "'SELECT'"),
            ("  select * from t", "'SELECT'"),
            ("(SELECT 1)", "'SELECT'"),
            ("WITH a AS (SELECT 1) SELECT * FROM a", "'WITH'"),
            ("INSERT INTO t SELECT 1", "'INSERT INTO'"),
            ("DROP TABLE t", "'DROP TABLE'"),
            ("ALTER TABLE t ADD COLUMN x INT", "'ALTER TABLE'"),
            ("CREATE TABLE t (a INT) USING delta", "'CREATE TABLE'"),
            ("CREATE OR REPLACE TABLE t AS SELECT 1", "'CREATE TABLE'"),
            ("CREATE EXTERNAL TABLE t (a INT)", "'CREATE EXTERNAL TABLE'"),
            (
                "CREATE GLOBAL TEMPORARY VIEW v AS SELECT 1",
                "'CREATE GLOBAL TEMPORARY VIEW'",
            ),
            (
                "CREATE TEMPORARY FUNCTION f AS 'x'",
                "'CREATE TEMPORARY FUNCTION'",
            ),
            (
                "CREATE FUNCTION f() RETURNS INT RETURN 1",
                "'CREATE FUNCTION'",
            ),
            ("CREATE SCHEMA s", "'CREATE SCHEMA'"),
            ("DELETE FROM t WHERE a = 1", "'DELETE FROM'"),
            (
                "MERGE INTO t USING s ON t.a = s.a WHEN MATCHED THEN DELETE",
                "'MERGE INTO'",
            ),
            ("DESCRIBE TABLE t", "'DESCRIBE TABLE'"),
            ("SHOW TABLES", "'SHOW TABLES'"),
            ("EXPLAIN SELECT 1", "'EXPLAIN'"),
            ("REFRESH TABLE t", "'REFRESH TABLE'"),
        ];
        for (sql, command) in cases {
            let e = analysis_err(sql);
            assert!(
                e.starts_with("[UNSUPPORTED_PIPELINE_SPARK_SQL_COMMAND]"),
                "{sql}: {e}"
            );
            assert!(e.contains(command), "{sql}: {e}");
        }
        let e = analysis_err("CREATE STREAMING TABLE a;\n\nSELECT 1;");
        assert!(e.contains("(line 3)"), "{e}");
    }

    #[test]
    fn syntax_errors_name_token_and_file_position() {
        let e = parse_err("CREATE STREAMING TABLE a;\n\n  FOO BAR;");
        assert!(
            e.starts_with(
                "[PARSE_SYNTAX_ERROR] Syntax error at or near 'FOO'. SQLSTATE: 42601 (line 3, pos 2)"
            ),
            "{e}"
        );
        assert!(e.contains("\n\n== SQL ==\n  FOO BAR;\n--^^^\n"), "{e}");

        let e = parse_err("-- c\nCREATE MATERIALIZED VIEW m\n  PARTITIONED (a) AS SELECT 1");
        assert!(
            e.starts_with("[PARSE_SYNTAX_ERROR] Syntax error at or near '('"),
            "{e}"
        );
        assert!(e.contains("(line 3, pos 14)"), "{e}");
        assert!(e.contains("missing 'BY'"), "{e}");

        // Positions count characters, not bytes.
        let e = parse_err("CREATE MATERIALIZED VIEW `é` GARBAGE AS SELECT 1");
        assert!(e.contains("'GARBAGE'"), "{e}");
        assert!(e.contains("(line 1, pos 29)"), "{e}");
    }

    #[test]
    fn dataset_errors() {
        let cases = [
            ("CREATE MATERIALIZED VIEW m", "missing 'AS'"),
            ("CREATE VIEW v", "missing 'AS'"),
            ("CREATE TEMPORARY VIEW v COMMENT 'x'", "missing 'AS'"),
            ("CREATE MATERIALIZED VIEW m AS", "end of input"),
            ("CREATE STREAMING TABLE t ()", "')'"),
            ("CREATE STREAMING TABLE t (a INT,)", "')'"),
            ("CREATE STREAMING TABLE t (a)", "missing the column type"),
            ("CREATE STREAMING TABLE t (a NOT NULL)", "'NOT'"),
            (
                "CREATE STREAMING TABLE t (a BIGINT GENERATED ALWAYS AS (1))",
                "'GENERATED'",
            ),
            ("CREATE STREAMING TABLE t (a INT DEFAULT 0)", "'DEFAULT'"),
            ("CREATE STREAMING TABLE t (a INT", "missing ')'"),
            ("CREATE STREAMING TABLE t (CONSTRAINT c EXPECT () )", "')'"),
            (
                "CREATE STREAMING TABLE t (CONSTRAINT c EXPECT x > 1)",
                "missing '('",
            ),
            (
                "CREATE STREAMING TABLE t (CONSTRAINT c EXPECT (x) ON VIOLATION IGNORE)",
                "DROP ROW or FAIL UPDATE",
            ),
            (
                "CREATE STREAMING TABLE t (CONSTRAINT c EXPECT (x) extra)",
                "'extra'",
            ),
            ("CREATE STREAMING TABLE t COMMENT x", "string literal"),
            (
                "CREATE STREAMING TABLE t TBLPROPERTIES ('a' = )",
                "property value",
            ),
            ("CREATE STREAMING TABLE t TBLPROPERTIES ()", "property key"),
            ("CREATE STREAMING TABLE t PARTITIONED BY (a.b)", "'.'"),
            ("CREATE STREAMING TABLE", "end of input"),
            ("CREATE STREAMING VIEW v AS SELECT 1", "missing 'TABLE'"),
            ("CREATE OR DROP VIEW v AS SELECT 1", "'DROP'"),
            ("CREATE MATERIALIZED TABLE m AS SELECT 1", "missing 'VIEW'"),
            ("CREATE BANANA x", "'BANANA'"),
            ("CREATE", "end of input"),
            (
                "CREATE STREAMING TABLE t WITH ROW FILTER f ON (a)",
                "'WITH'",
            ),
        ];
        for (sql, needle) in cases {
            let e = parse_err(sql);
            assert!(e.contains(needle), "{sql}: {e}");
        }
    }

    #[test]
    fn unclosed_strings_and_comments() {
        let e = parse_err("CREATE STREAMING TABLE a;\nCREATE MATERIALIZED VIEW m AS SELECT 'oops");
        assert!(e.starts_with("[PARSE_SYNTAX_ERROR]"), "{e}");
        assert!(e.contains("unclosed string literal"), "{e}");
        assert!(e.contains("(line 2, pos 37)"), "{e}");
        let e = parse_err("CREATE MATERIALIZED VIEW `m AS SELECT 1");
        assert!(e.contains("unclosed identifier"), "{e}");
        let e = parse_err("CREATE STREAMING TABLE a; /* open /* nested */ still open");
        assert!(e.starts_with("[UNCLOSED_BRACKETED_COMMENT]"), "{e}");
        assert!(e.contains("(line 1, pos 26)"), "{e}");
        // A nested comment that closes is fine.
        assert_eq!(all("/* a /* b */ c */ CREATE STREAMING TABLE t").len(), 1);
        // An unbalanced parenthesis swallows the rest of the file.
        let e = parse_err("CREATE STREAMING TABLE t (a INT;\nCREATE STREAMING TABLE u");
        assert!(e.contains("missing ')'"), "{e}");
    }

    #[test]
    fn unicode_input() {
        let d = dataset(
            "-- données\nCREATE MATERIALIZED VIEW `vue été` COMMENT 'ça ✓' AS SELECT 'é;è' AS ü",
        );
        assert_eq!(d.name, names(&["vue été"]));
        assert_eq!(d.comment.as_deref(), Some("ça ✓"));
        assert_eq!(d.query.as_deref(), Some("SELECT 'é;è' AS ü"));
        let d = dataset("CREATE MATERIALIZED VIEW données AS SELECT 1");
        assert_eq!(d.name, names(&["données"]));
    }

    #[test]
    fn never_panics_on_prefixes_and_noise() {
        let inputs = [
            DLT_EXAMPLE,
            "CREATE FLOW f AS AUTO CDC INTO t FROM s KEYS (a) APPLY AS DELETE WHEN x = 'é' \
             SEQUENCE BY seq COLUMNS * EXCEPT (a) STORED AS SCD TYPE 2 TRACK HISTORY ON * \
             EXCEPT (b); SET k = 'v'; USE CATALOG c; CREATE FLOW g AS INSERT INTO ONCE t BY \
             NAME SELECT 1; CREATE STREAMING TABLE t (a ARRAY<STRUCT<x: INT>> NOT NULL \
             COMMENT 'ü\\'', CONSTRAINT c EXPECT (a > 0) ON VIOLATION FAIL UPDATE) \
             TBLPROPERTIES ('k' = -1) /* ✓ */ -- end",
        ];
        for input in inputs {
            for (i, _) in input.char_indices() {
                let _ = parse(&input[..i]);
                let _ = parse(&input[i..]);
            }
        }
        // Deterministic noise from a token alphabet.
        let alphabet = [
            "CREATE",
            "STREAMING",
            "TABLE",
            "(",
            ")",
            ",",
            ";",
            "'",
            "\"",
            "`",
            "--",
            "/*",
            "*/",
            "\\",
            "<",
            ">",
            "AS",
            "KEYS",
            "SEQUENCE",
            "BY",
            ".",
            "LIVE",
            "x",
            "é",
            "\n",
            " ",
            "*",
            "EXCEPT",
            "APPLY",
            "CHANGES",
            "INTO",
            "FROM",
            "=",
            "SET",
            "USE",
            "1",
            "CONSTRAINT",
            "EXPECT",
            "NOT",
            "NULL",
            "COMMENT",
            "FLOW",
            "INSERT",
            "ONCE",
            "NAME",
        ];
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..3000 {
            let mut s = String::new();
            let len = (state % 24) as usize;
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                s.push_str(alphabet[(state % alphabet.len() as u64) as usize]);
                if state.is_multiple_of(3) {
                    s.push(' ');
                }
            }
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let _ = parse(&s);
        }
    }
}
