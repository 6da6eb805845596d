//! The one error type of `delta_sink`. The server maps each variant to a Spark error class
//! once (`server::error`); messages name the table, path or column at fault.
use deltalake::DeltaTableError;

#[derive(Debug, thiserror::Error)]
pub enum DeltaError {
    /// The path holds no Delta table (`DELTA_MISSING_DELTA_TABLE`).
    #[error("[DELTA_MISSING_DELTA_TABLE] `{0}` is not a Delta table.")]
    NotATable(String),
    /// A write in mode `error` found a table there (`DELTA_PATH_EXISTS`).
    #[error("[DELTA_PATH_EXISTS] Cannot write to already existent path {0} without setting OVERWRITE = 'true'.")]
    PathExists(String),
    /// The data's schema does not fit the table's and no schema change was asked for.
    #[error("{0}")]
    SchemaMismatch(String),
    /// A user option, predicate or statement that cannot be honoured (an analysis error).
    #[error("{0}")]
    Analysis(String),
    /// An argument out of range (Spark's IllegalArgumentException).
    #[error("{0}")]
    IllegalArgument(String),
    /// Another writer committed first in a way this write cannot be reconciled with.
    #[error("{0}")]
    Conflict(String),
    /// Written rows break a NOT NULL column or CHECK constraint; nothing was committed.
    #[error("{0}")]
    Invariant(String),
    /// The transaction log cannot be read (corrupt or unreadable `_delta_log`).
    #[error("[DELTA_LOG_CORRUPTED] The Delta log of {path} cannot be read: {message}")]
    CorruptLog { path: String, message: String },
    /// The object store holding the table cannot be reached or refused the credentials.
    #[error("Cannot access the Delta table at {location}: {message}")]
    StoreAccess { location: String, message: String },
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("{0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),
    #[error("{0}")]
    Delta(DeltaTableError),
}

pub type DeltaResult<T> = Result<T, DeltaError>;

impl From<DeltaTableError> for DeltaError {
    fn from(e: DeltaTableError) -> Self {
        match e {
            DeltaTableError::NotATable(p) => DeltaError::NotATable(p),
            DeltaTableError::SchemaMismatch { msg } => DeltaError::SchemaMismatch(format!(
                "[DELTA_METADATA_MISMATCH] A schema mismatch detected when writing to the Delta table: {msg}"
            )),
            DeltaTableError::VersionAlreadyExists(v) => DeltaError::Conflict(format!(
                "[DELTA_CONCURRENT_WRITE] A concurrent transaction has written new data (version {v}) since the current transaction read the table. Please try the operation again."
            )),
            DeltaTableError::Transaction { source } => DeltaError::Conflict(format!(
                "[DELTA_CONCURRENT_TRANSACTION] {source}"
            )),
            DeltaTableError::Arrow { source } => DeltaError::SchemaMismatch(source.to_string()),
            other => DeltaError::Delta(other),
        }
    }
}
