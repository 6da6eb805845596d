//! The planner's one error type. The server maps each variant to a Spark error class once.
use datafusion::error::DataFusionError;

pub type PlanResult<T> = Result<T, PlanError>;

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A column reference that matches nothing in its input (Spark: UNRESOLVED_COLUMN).
    #[error("[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column, variable, or function parameter with name {name} cannot be resolved. Did you mean one of the following? [{suggestions}].")]
    UnresolvedColumn { name: String, suggestions: String },
    /// A reference that matches more than one column (Spark: AMBIGUOUS_REFERENCE).
    #[error("[AMBIGUOUS_REFERENCE] Reference {name} is ambiguous, could be: [{candidates}].")]
    AmbiguousColumn { name: String, candidates: String },
    #[error("[TABLE_OR_VIEW_NOT_FOUND] The table or view {0} cannot be found. Verify the spelling and correctness of the schema and catalog.\nIf you did not qualify the name with a schema, verify the current_schema() output, or qualify the name with the correct schema and catalog.\nTo tolerate the error on drop use DROP VIEW IF EXISTS or DROP TABLE IF EXISTS.")]
    TableNotFound(String),
    #[error("[UNRESOLVED_ROUTINE] Cannot resolve routine {0} on search path [`system`.`builtin`, `system`.`session`, `spark_catalog`.`default`].")]
    UnknownFunction(String),
    /// Malformed SQL, DDL or expression text (Spark: ParseException).
    #[error("{0}")]
    Parse(String),
    /// Well-formed input that fails analysis for another reason (Spark: AnalysisException).
    #[error("{0}")]
    Analysis(String),
    /// A bad argument value (Spark: IllegalArgumentException).
    #[error("{0}")]
    InvalidArgument(String),
    /// Something Spark does that sluice does not (yet).
    #[error("{0} is not supported by sluice yet")]
    Unsupported(String),
    #[error(transparent)]
    DataFusion(#[from] DataFusionError),
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
}

impl PlanError {
    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::InvalidArgument(msg.into())
    }
    pub fn unsupported(what: impl Into<String>) -> Self {
        Self::Unsupported(what.into())
    }
    pub fn analysis(msg: impl Into<String>) -> Self {
        Self::Analysis(msg.into())
    }
}

/// Quotes an identifier the way Spark's messages do: `name`.
pub fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}
