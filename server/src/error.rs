//! The server's one error type, mapped once to Spark's error classes and to the gRPC status
//! (with `google.rpc.ErrorInfo`) that PySpark turns into its exception classes.
use std::collections::HashMap;
use std::sync::LazyLock;

use datafusion::error::DataFusionError;
use planner::PlanError;
use regex::Regex;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

pub type SparkResult<T> = Result<T, SparkError>;

#[derive(Debug, thiserror::Error)]
pub enum SparkError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    DataFusion(#[from] DataFusionError),
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
    /// A malformed request (Spark: InvalidPlanInput).
    #[error("{0}")]
    InvalidRequest(String),
    /// Something sluice does not do (yet).
    #[error("{0} is not supported by sluice yet")]
    Unsupported(String),
    /// An operation was interrupted by the client.
    #[error("[OPERATION_CANCELED] Operation has been canceled.")]
    Cancelled,
    /// The server or a session is at a limit.
    #[error("{0}")]
    Limit(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Delta(#[from] delta_sink::DeltaError),
    /// A streaming query ended with an error (the message names the query and the cause).
    #[error("{0}")]
    StreamFailed(String),
}

impl SparkError {
    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::InvalidRequest(msg.into())
    }
    pub fn unsupported(msg: impl Into<String>) -> Self {
        Self::Unsupported(msg.into())
    }
}

/// A Spark exception as the client sees it.
#[derive(Debug, Clone)]
pub struct SparkThrowable {
    /// Java class hierarchy, most specific first.
    pub classes: Vec<&'static str>,
    pub error_class: Option<String>,
    pub sql_state: Option<String>,
    pub message: String,
    pub parameters: HashMap<String, String>,
}

const ANALYSIS: &[&str] = &[
    "org.apache.spark.sql.AnalysisException",
    "java.lang.Exception",
    "java.lang.Throwable",
];
const PARSE: &[&str] = &[
    "org.apache.spark.sql.catalyst.parser.ParseException",
    "org.apache.spark.sql.AnalysisException",
    "java.lang.Exception",
    "java.lang.Throwable",
];
const ILLEGAL_ARGUMENT: &[&str] = &[
    "java.lang.IllegalArgumentException",
    "java.lang.RuntimeException",
    "java.lang.Exception",
    "java.lang.Throwable",
];
const NUMBER_FORMAT: &[&str] = &[
    "org.apache.spark.SparkNumberFormatException",
    "java.lang.NumberFormatException",
    "java.lang.IllegalArgumentException",
    "java.lang.RuntimeException",
    "java.lang.Exception",
    "java.lang.Throwable",
];
const DATE_TIME: &[&str] = &[
    "org.apache.spark.SparkDateTimeException",
    "java.time.DateTimeException",
    "java.lang.RuntimeException",
    "java.lang.Exception",
    "java.lang.Throwable",
];
const ARITHMETIC: &[&str] = &[
    "org.apache.spark.SparkArithmeticException",
    "java.lang.ArithmeticException",
    "java.lang.RuntimeException",
    "java.lang.Exception",
    "java.lang.Throwable",
];
const ARRAY_INDEX: &[&str] = &[
    "org.apache.spark.SparkArrayIndexOutOfBoundsException",
    "java.lang.ArrayIndexOutOfBoundsException",
    "java.lang.IndexOutOfBoundsException",
    "java.lang.RuntimeException",
    "java.lang.Exception",
    "java.lang.Throwable",
];

/// Error classes a kernel raises at run time -> the exception Spark throws for them
/// (SparkRuntimeException for the rest).
const RUNTIME_CLASSES: &[(&str, &[&str])] = &[
    ("ARITHMETIC_OVERFLOW", ARITHMETIC),
    ("INVALID_ARRAY_INDEX", ARRAY_INDEX),
];
const STREAMING_QUERY: &[&str] = &[
    "org.apache.spark.sql.streaming.StreamingQueryException",
    "java.lang.Exception",
    "java.lang.Throwable",
];
const UNSUPPORTED: &[&str] = &[
    "java.lang.UnsupportedOperationException",
    "java.lang.RuntimeException",
    "java.lang.Exception",
    "java.lang.Throwable",
];
const RUNTIME: &[&str] = &[
    "org.apache.spark.SparkRuntimeException",
    "java.lang.RuntimeException",
    "java.lang.Exception",
    "java.lang.Throwable",
];
const SPARK: &[&str] = &[
    "org.apache.spark.SparkException",
    "java.lang.Exception",
    "java.lang.Throwable",
];
const INVARIANT_VIOLATION: &[&str] = &[
    "org.apache.spark.sql.delta.schema.DeltaInvariantViolationException",
    "org.apache.spark.sql.delta.schema.InvariantViolationException",
    "java.lang.RuntimeException",
    "java.lang.Exception",
    "java.lang.Throwable",
];
const CONCURRENT_MODIFICATION: &[&str] = &[
    "io.delta.exceptions.ConcurrentWriteException",
    "java.util.ConcurrentModificationException",
    "java.lang.RuntimeException",
    "java.lang.Exception",
    "java.lang.Throwable",
];
const INVALID_PLAN: &[&str] = &[
    "org.apache.spark.sql.connect.common.InvalidPlanInput",
    "java.lang.Exception",
    "java.lang.Throwable",
];

/// `[ERROR_CLASS] message` → the class, as Spark prefixes its messages.
fn error_class_of(message: &str) -> Option<String> {
    static CLASS: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^\[([A-Z0-9_.]+)\]").expect("valid regex"));
    CLASS.captures(message).map(|c| c[1].to_string())
}

/// Spark's SQLSTATE for the error classes sluice raises.
fn sql_state(class: &str) -> Option<&'static str> {
    const STATES: &[(&str, &str)] = &[
        ("UNRESOLVED_COLUMN", "42703"),
        ("AMBIGUOUS_REFERENCE", "42704"),
        ("CANNOT_RESOLVE_DATAFRAME_COLUMN", "42704"),
        ("TABLE_OR_VIEW_NOT_FOUND", "42P01"),
        ("UNRESOLVED_ROUTINE", "42883"),
        ("PARSE_SYNTAX_ERROR", "42601"),
        ("DIVIDE_BY_ZERO", "22012"),
        ("REMAINDER_BY_ZERO", "22012"),
        ("CAST_INVALID_INPUT", "22018"),
        ("ARITHMETIC_OVERFLOW", "22003"),
        ("NUMERIC_VALUE_OUT_OF_RANGE", "22003"),
        ("DATATYPE_MISMATCH", "42K09"),
        ("NUM_COLUMNS_MISMATCH", "42826"),
        ("UNBOUND_SQL_PARAMETER", "42P02"),
        ("OPERATION_CANCELED", "HY008"),
        ("MALFORMED_RECORD_IN_PARSING", "22023"),
        ("FAILED_READ_FILE", "KD001"),
        ("PATH_NOT_FOUND", "42K03"),
        ("PATH_ALREADY_EXISTS", "42K04"),
        ("TEMP_TABLE_OR_VIEW_ALREADY_EXISTS", "42P07"),
        ("UNSUPPORTED_FEATURE", "0A000"),
        ("UNSUPPORTED_DATATYPE", "0A000"),
        ("TABLE_OR_VIEW_ALREADY_EXISTS", "42P07"),
        ("SCHEMA_ALREADY_EXISTS", "42P06"),
        ("SCHEMA_NOT_FOUND", "42704"),
        ("SCHEMA_NOT_EMPTY", "2BP01"),
        ("DELTA_MISSING_DELTA_TABLE", "42P01"),
        ("DELTA_PATH_EXISTS", "42K04"),
        ("DELTA_METADATA_MISMATCH", "42KDG"),
        ("DELTA_FAILED_TO_MERGE_FIELDS", "22005"),
        ("DELTA_PARTITION_COLUMNS_MISMATCH", "42KD7"),
        ("DELTA_REPLACE_WHERE_MISMATCH", "44000"),
        ("DELTA_VERSION_INVALID", "42815"),
        ("DELTA_CONCURRENT", "2D521"),
        ("DELTA_UNKNOWN_CONFIGURATION", "F0000"),
        ("USER_RAISED_EXCEPTION", "P0001"),
        ("WRONG_NUM_ARGS", "42605"),
        ("MISSING_AGGREGATION", "42803"),
        ("MISSING_GROUP_BY", "42803"),
        ("INVALID_INDEX_OF_ZERO", "22003"),
        ("INVALID_ARRAY_INDEX", "22003"),
        ("PARTITION_BY_NOT_ALLOWED_WITH_INSERT_INTO", "42601"),
    ];
    STATES
        .iter()
        .find(|(c, _)| class.starts_with(c))
        .map(|(_, s)| *s)
}

/// The `SQLSTATE: XXXXX` suffix Spark writes into its messages, for classes not in the table.
fn stated_sql_state(message: &str) -> Option<String> {
    static STATED: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"SQLSTATE: ([0-9A-Z]{5})\b").expect("valid regex"));
    STATED.captures(message).map(|c| c[1].to_string())
}

fn throwable(
    classes: &[&'static str],
    message: String,
    parameters: HashMap<String, String>,
) -> SparkThrowable {
    let error_class = error_class_of(&message);
    let sql_state = error_class
        .as_deref()
        .and_then(sql_state)
        .map(str::to_string)
        .or_else(|| stated_sql_state(&message));
    SparkThrowable {
        classes: classes.to_vec(),
        sql_state,
        error_class,
        message,
        parameters,
    }
}

/// DataFusion reports some Spark-classified conditions only in its message text.
fn from_datafusion(e: &DataFusionError) -> SparkThrowable {
    static NO_FIELD: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"No field named ([^ .]+(?:\.[^ .]+)*)\.?(?: Valid fields are (.*)\.)?")
            .expect("valid regex")
    });
    static NO_TABLE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"table '([^']+)' not found").expect("valid regex"));
    static NO_FUNCTION: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"Invalid function '([^']+)'").expect("valid regex"));
    static DECIMAL_OVERFLOW: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(\S+) is too large to store in a Decimal(?:32|64|128|256) of precision (\d+)\. Max is (\S+)")
            .expect("valid regex")
    });
    static CAST: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"Cannot cast string '([^']*)' to value of (\w+) type").expect("valid regex")
    });
    static ARITY: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"[Ff]unction '([^']+)' expect(?:s|ed) (\d+) arguments but received (\d+)")
            .expect("valid regex")
    });
    let root = e.find_root();
    if let DataFusionError::External(inner) = root {
        if let Some(p) = inner.downcast_ref::<PlanError>() {
            return from_plan(p);
        }
        if let Some(s) = inner.downcast_ref::<SparkError>() {
            return s.throwable();
        }
        if let Some(d) = inner.downcast_ref::<delta_sink::DeltaError>() {
            return from_delta(d);
        }
    }
    if let DataFusionError::SchemaError(s, _) = root {
        // DataFusion's error does not list the columns the name could mean.
        if let datafusion::common::SchemaError::AmbiguousReference { field } = s.as_ref() {
            let name = planner::error::quote(&field.name);
            return throwable(
                ANALYSIS,
                format!("[AMBIGUOUS_REFERENCE] Reference {name} is ambiguous. SQLSTATE: 42704"),
                HashMap::from([("name".into(), name)]),
            );
        }
        if let datafusion::common::SchemaError::FieldNotFound {
            field,
            valid_fields,
        } = s.as_ref()
        {
            let suggestions: Vec<String> = valid_fields
                .iter()
                .map(|c| format!("`{}`", c.name))
                .collect();
            return from_plan(&PlanError::UnresolvedColumn {
                name: format!("`{}`", field.name),
                suggestions: suggestions.join(", "),
            });
        }
    }
    let text = root.to_string();
    let strip = |s: &str| s.trim_matches('"').to_string();
    if let Some(c) = NO_FIELD.captures(&text) {
        let name = c[1].split('.').next_back().map(strip).unwrap_or_default();
        let proposal = c.get(2).map(|m| m.as_str()).unwrap_or("");
        let proposal: Vec<String> = proposal
            .split(", ")
            .filter(|s| !s.is_empty())
            .map(|s| format!("`{}`", strip(s.rsplit('.').next().unwrap_or(s))))
            .collect();
        return from_plan(&PlanError::UnresolvedColumn {
            name: format!("`{name}`"),
            suggestions: proposal.join(", "),
        });
    }
    if let Some(c) = NO_TABLE.captures(&text) {
        let name = c[1].rsplit('.').next().unwrap_or(&c[1]).to_string();
        return from_plan(&PlanError::TableNotFound(format!("`{name}`")));
    }
    if let Some(c) = ARITY.captures(&text) {
        let (name, expected, actual) = (&c[1], &c[2], &c[3]);
        return throwable(
            ANALYSIS,
            format!("[WRONG_NUM_ARGS.WITHOUT_SUGGESTION] The `{name}` requires {expected} parameters but the actual number is {actual}. Please, refer to 'https://spark.apache.org/docs/latest/sql-ref-functions.html' for a fix. SQLSTATE: 42605"),
            HashMap::from([
                ("functionName".into(), format!("`{name}`")),
                ("expectedNum".into(), expected.to_string()),
                ("actualNum".into(), actual.to_string()),
                ("docroot".into(), "https://spark.apache.org/docs/latest".into()),
            ]),
        );
    }
    if let Some(c) = NO_FUNCTION.captures(&text) {
        return from_plan(&PlanError::UnknownFunction(format!("`{}`", &c[1])));
    }
    if text.contains("Divide by zero") && !text.contains("DIVIDE_BY_ZERO") {
        // DataFusion's own divide-by-zero comes from `%` (sluice's `/` raises DIVIDE_BY_ZERO).
        return throwable(
            ARITHMETIC,
            "[REMAINDER_BY_ZERO] Remainder by zero. Use `try_mod` to tolerate divisor being 0 and return NULL instead. If necessary set \"spark.sql.ansi.enabled\" to \"false\" to bypass this error. SQLSTATE: 22012".into(),
            HashMap::from([("config".into(), "\"spark.sql.ansi.enabled\"".into())]),
        );
    }
    if text.contains("DIVIDE_BY_ZERO") {
        return throwable(
            ARITHMETIC,
            "[DIVIDE_BY_ZERO] Division by zero. Use `try_divide` to tolerate divisor being 0 and return NULL instead. If necessary set \"spark.sql.ansi.enabled\" to \"false\" to bypass this error. SQLSTATE: 22012".into(),
            HashMap::from([("config".into(), "\"spark.sql.ansi.enabled\"".into())]),
        );
    }
    if let DataFusionError::Execution(m) = root {
        if let Some((_, classes)) =
            error_class_of(m).and_then(|c| RUNTIME_CLASSES.iter().find(|(k, _)| c.starts_with(k)))
        {
            return throwable(classes, m.clone(), HashMap::new());
        }
    }
    if text.contains("Overflow") || text.contains("overflow") {
        return throwable(
            ARITHMETIC,
            format!("[ARITHMETIC_OVERFLOW] {text}"),
            HashMap::new(),
        );
    }
    if let Some(c) = DECIMAL_OVERFLOW.captures(&text) {
        let scale = c[3].split_once('.').map_or(0, |(_, f)| f.len());
        return throwable(
            ARITHMETIC,
            format!(
                "[NUMERIC_VALUE_OUT_OF_RANGE.WITH_SUGGESTION]  {} cannot be represented as Decimal({}, {scale}). If necessary set \"spark.sql.ansi.enabled\" to \"false\" to bypass this error, and return NULL instead. SQLSTATE: 22003",
                &c[1], &c[2]
            ),
            HashMap::from([
                ("value".into(), c[1].to_string()),
                ("precision".into(), c[2].to_string()),
                ("scale".into(), scale.to_string()),
                ("config".into(), "\"spark.sql.ansi.enabled\"".into()),
            ]),
        );
    }
    if let Some(c) = CAST.captures(&text) {
        // Arrow's type name -> Spark's, and the exception a malformed value raises.
        const TARGETS: &[(&str, &str, &[&str])] = &[
            ("INT32", "\"INT\"", NUMBER_FORMAT),
            ("INT64", "\"BIGINT\"", NUMBER_FORMAT),
            ("INT16", "\"SMALLINT\"", NUMBER_FORMAT),
            ("INT8", "\"TINYINT\"", NUMBER_FORMAT),
            ("FLOAT64", "\"DOUBLE\"", NUMBER_FORMAT),
            ("FLOAT32", "\"FLOAT\"", NUMBER_FORMAT),
            ("DATE32", "\"DATE\"", DATE_TIME),
            ("DATE64", "\"DATE\"", DATE_TIME),
        ];
        let arrow_type = c[2].to_uppercase();
        let (ty, classes) = TARGETS
            .iter()
            .find(|(a, _, _)| *a == arrow_type)
            .map_or((format!("\"{arrow_type}\""), NUMBER_FORMAT), |(_, t, k)| {
                (t.to_string(), *k)
            });
        let ty = ty.as_str();
        return throwable(
            classes,
            format!("[CAST_INVALID_INPUT] The value '{}' of the type \"STRING\" cannot be cast to {ty} because it is malformed. Correct the value as per the syntax, or change its target type. Use `try_cast` to tolerate malformed input and return NULL instead. SQLSTATE: 22018", &c[1]),
            HashMap::from([
                ("expression".into(), format!("'{}'", &c[1])),
                ("sourceType".into(), "\"STRING\"".into()),
                ("targetType".into(), ty.into()),
            ]),
        );
    }
    // Spark raises the file readers' failures (sources.rs) as a SparkException.
    if let DataFusionError::Execution(m) = root {
        if m.starts_with("[FAILED_READ_FILE") || m.starts_with("[MALFORMED_RECORD_IN_PARSING") {
            return throwable(SPARK, m.clone(), HashMap::new());
        }
        // A kernel that raises a Spark condition (`raise_error`, `assert_true`,
        // `try_element_at(a, 0)`) fails at run time: SparkRuntimeException.
        if let Some(class) = error_class_of(m) {
            let mut parameters = HashMap::new();
            if class == "USER_RAISED_EXCEPTION" {
                let text = m.trim_start_matches("[USER_RAISED_EXCEPTION] ");
                let text = text.trim_end_matches(" SQLSTATE: P0001");
                parameters.insert("errorMessage".into(), text.to_string());
            }
            return throwable(RUNTIME, m.clone(), parameters);
        }
    }
    if text.contains("MALFORMED_RECORD_IN_PARSING")
        || text.contains("Json error")
        || text.contains("Csv error")
    {
        return throwable(RUNTIME, text, HashMap::new());
    }
    match root {
        DataFusionError::SQL(..) => throwable(
            PARSE,
            format!("[PARSE_SYNTAX_ERROR] {text}"),
            HashMap::new(),
        ),
        DataFusionError::Plan(_) | DataFusionError::SchemaError(..) => {
            throwable(ANALYSIS, text, HashMap::new())
        }
        DataFusionError::NotImplemented(_) => throwable(UNSUPPORTED, text, HashMap::new()),
        _ if error_class_of(&text).is_some() => throwable(RUNTIME, text, HashMap::new()),
        _ => throwable(SPARK, text, HashMap::new()),
    }
}

fn from_plan(e: &PlanError) -> SparkThrowable {
    let msg = e.to_string();
    match e {
        PlanError::UnresolvedColumn { name, suggestions } => throwable(
            ANALYSIS,
            msg,
            HashMap::from([
                ("objectName".into(), name.clone()),
                ("proposal".into(), suggestions.clone()),
            ]),
        ),
        PlanError::AmbiguousColumn { name, candidates } => throwable(
            ANALYSIS,
            msg,
            HashMap::from([
                ("name".into(), name.clone()),
                ("referenceNames".into(), format!("[{candidates}]")),
            ]),
        ),
        PlanError::TableNotFound(name) => throwable(
            ANALYSIS,
            msg,
            HashMap::from([("relationName".into(), name.clone())]),
        ),
        PlanError::UnknownFunction(name) => throwable(
            ANALYSIS,
            msg,
            HashMap::from([
                ("routineName".into(), name.clone()),
                (
                    "searchPath".into(),
                    "[`system`.`builtin`, `system`.`session`, `spark_catalog`.`default`]".into(),
                ),
            ]),
        ),
        PlanError::Parse(_) => throwable(PARSE, msg, HashMap::new()),
        PlanError::Analysis(_) => throwable(ANALYSIS, msg, HashMap::new()),
        PlanError::InvalidArgument(_) => throwable(ILLEGAL_ARGUMENT, msg, HashMap::new()),
        PlanError::Unsupported(_) => throwable(UNSUPPORTED, msg, HashMap::new()),
        PlanError::DataFusion(d) => from_datafusion(d),
        PlanError::Arrow(a) => from_datafusion(&DataFusionError::ArrowError(
            Box::new(a.clone_for_report()),
            None,
        )),
    }
}

/// Delta errors: Delta Lake on Spark raises most as AnalysisException (DeltaAnalysisException).
fn from_delta(e: &delta_sink::DeltaError) -> SparkThrowable {
    use delta_sink::DeltaError as D;
    let msg = e.to_string();
    match e {
        D::NotATable(_)
        | D::PathExists(_)
        | D::SchemaMismatch(_)
        | D::Analysis(_)
        | D::CorruptLog { .. }
        | D::StoreAccess { .. } => throwable(ANALYSIS, msg, HashMap::new()),
        D::IllegalArgument(_) => throwable(ILLEGAL_ARGUMENT, msg, HashMap::new()),
        D::Invariant(_) => throwable(INVARIANT_VIOLATION, msg, HashMap::new()),
        D::Conflict(_) => throwable(CONCURRENT_MODIFICATION, msg, HashMap::new()),
        D::Unsupported(_) => throwable(UNSUPPORTED, msg, HashMap::new()),
        D::DataFusion(d) => from_datafusion(d),
        D::Arrow(a) => from_datafusion(&DataFusionError::ArrowError(
            Box::new(a.clone_for_report()),
            None,
        )),
        D::Io(_) | D::Delta(_) => throwable(SPARK, msg, HashMap::new()),
    }
}

/// Arrow errors are not `Clone`; the report only needs the text.
trait CloneForReport {
    fn clone_for_report(&self) -> arrow::error::ArrowError;
}

impl CloneForReport for arrow::error::ArrowError {
    fn clone_for_report(&self) -> arrow::error::ArrowError {
        match self {
            arrow::error::ArrowError::DivideByZero => arrow::error::ArrowError::DivideByZero,
            other => arrow::error::ArrowError::ComputeError(other.to_string()),
        }
    }
}

impl SparkError {
    pub fn throwable(&self) -> SparkThrowable {
        match self {
            SparkError::Plan(p) => from_plan(p),
            SparkError::DataFusion(d) => from_datafusion(d),
            SparkError::Arrow(a) => from_datafusion(&DataFusionError::ArrowError(
                Box::new(a.clone_for_report()),
                None,
            )),
            SparkError::InvalidRequest(m) => throwable(INVALID_PLAN, m.clone(), HashMap::new()),
            SparkError::Unsupported(_) => throwable(UNSUPPORTED, self.to_string(), HashMap::new()),
            SparkError::Cancelled => throwable(SPARK, self.to_string(), HashMap::new()),
            SparkError::Limit(m) => throwable(RUNTIME, m.clone(), HashMap::new()),
            SparkError::Io(e) => throwable(SPARK, e.to_string(), HashMap::new()),
            SparkError::Delta(d) => from_delta(d),
            SparkError::StreamFailed(m) => {
                let mut t = throwable(STREAMING_QUERY, m.clone(), HashMap::new());
                t.error_class = Some("STREAM_FAILED".into());
                t.sql_state = Some("XXKST".to_string());
                t
            }
        }
    }

    fn code(&self) -> Code {
        match self {
            SparkError::InvalidRequest(_) => Code::InvalidArgument,
            SparkError::Cancelled => Code::Cancelled,
            SparkError::Limit(_) => Code::ResourceExhausted,
            _ => Code::Internal,
        }
    }

    /// The gRPC status PySpark decodes; `error_id` lets FetchErrorDetails find the details.
    pub fn to_status(&self, error_id: &str) -> Status {
        let t = self.throwable();
        let mut metadata = HashMap::new();
        metadata.insert(
            "classes".to_string(),
            serde_json::to_string(&t.classes).unwrap_or_default(),
        );
        if let Some(c) = &t.error_class {
            metadata.insert("errorClass".into(), c.clone());
        }
        if let Some(s) = &t.sql_state {
            metadata.insert("sqlState".into(), s.clone());
        }
        metadata.insert(
            "messageParameters".into(),
            serde_json::to_string(&t.parameters).unwrap_or_default(),
        );
        metadata.insert("errorId".into(), error_id.to_string());
        let reason = t
            .classes
            .first()
            .copied()
            .unwrap_or("org.apache.spark.SparkException");
        let details = ErrorDetails::with_error_info(reason, "org.apache.spark", metadata);
        // gRPC metadata must stay small: Spark truncates the status message too.
        let message: String = t.message.chars().take(2048).collect();
        Status::with_error_details(self.code(), message, details)
    }
}
