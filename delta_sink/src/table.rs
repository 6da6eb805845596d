//! Opening a Delta table at a location, at its latest version or one in its history.
use std::path::Path;

use chrono::{DateTime, Utc};
use deltalake::{DeltaTable, DeltaTableBuilder, DeltaTableError};
use url::Url;

use crate::error::{DeltaError, DeltaResult};

/// A table location from what a user wrote: an absolute or relative local path, or a URL.
pub fn location(path: &str) -> DeltaResult<Url> {
    if let Ok(url) = Url::parse(path) {
        // A one-letter "scheme" is a Windows drive, not a URL.
        if url.scheme().len() > 1 {
            return match url.scheme() {
                "file" => Ok(url),
                s if crate::store::is_remote(s) => {
                    crate::store::register();
                    // A table root is a directory: delta-rs joins `_delta_log` onto it.
                    let mut url = url;
                    if !url.path().ends_with('/') {
                        url.set_path(&format!("{}/", url.path()));
                    }
                    Ok(url)
                }
                other => Err(DeltaError::Unsupported(format!(
                    "[UNSUPPORTED_DATASOURCE_FOR_DIRECT_QUERY] sluice writes Delta tables to local paths, file:// URLs and the object stores {}; the {other}:// object store is not built in.",
                    crate::store::schemes_listed()
                ))),
            };
        }
    }
    let p = Path::new(path);
    let absolute = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()?.join(p)
    };
    Url::from_directory_path(&absolute)
        .map_err(|_| DeltaError::IllegalArgument(format!("Invalid table path: {path}")))
}

/// The local directory of a `file://` location.
pub fn local_dir(url: &Url) -> Option<std::path::PathBuf> {
    url.to_file_path().ok()
}

/// Which version of a table to read.
#[derive(Debug, Clone, PartialEq)]
pub enum TimeTravel {
    Latest,
    Version(i64),
    /// The latest version committed at or before this instant.
    Timestamp(DateTime<Utc>),
}

/// Whether a local location has a Delta log; `None` for an object store, which only an
/// (async) listing answers.
pub fn local_log_exists(url: &Url) -> Option<bool> {
    local_dir(url).map(|dir| dir.join("_delta_log").is_dir())
}

/// Whether a Delta log exists at the location (the table may still be unreadable). An
/// object store that cannot be listed (unreachable, refused credentials) is an error naming
/// the location, not an absent table.
pub async fn exists(url: &Url) -> DeltaResult<bool> {
    if let Some(found) = local_log_exists(url) {
        return Ok(found);
    }
    let inaccessible = |e: DeltaTableError| DeltaError::StoreAccess {
        location: display(url),
        message: with_causes(&e),
    };
    let store = DeltaTableBuilder::from_url(url.clone())
        .and_then(|b| b.build_storage())
        .map_err(inaccessible)?;
    store.is_delta_table_location().await.map_err(inaccessible)
}

/// An error and its causes: an object store's own message ("error sending request") leaves
/// the reason (a refused connection, a DNS failure) to its sources.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let part = c.to_string();
        if !text.contains(&part) {
            text = format!("{text}: {part}");
        }
        cause = c.source();
    }
    text
}

/// Opens the table; `NotATable` when the location has no Delta log.
pub async fn open(url: &Url, at: &TimeTravel) -> DeltaResult<DeltaTable> {
    let shown = display(url);
    if !exists(url).await? {
        return Err(DeltaError::NotATable(shown));
    }
    let mut builder = DeltaTableBuilder::from_url(url.clone())?;
    builder = match at {
        TimeTravel::Latest => builder,
        TimeTravel::Version(v) if *v < 0 => {
            return Err(DeltaError::IllegalArgument(format!(
                "[DELTA_VERSION_INVALID] The provided version ({v}) is not a valid version."
            )))
        }
        TimeTravel::Version(v) => builder.with_version(*v as u64),
        TimeTravel::Timestamp(ts) => builder.with_timestamp(*ts),
    };
    let t = builder
        .load()
        .await
        .map_err(|e| opening_error(&shown, at, e))?;
    if let TimeTravel::Timestamp(ts) = at {
        // Every commit is later than the instant: the table did not exist then.
        use futures::TryStreamExt;
        let first = t
            .history(None)
            .try_collect::<Vec<_>>()
            .await?
            .iter()
            .filter_map(|c| c.timestamp)
            .min();
        if first.is_some_and(|c| c > ts.timestamp_millis()) {
            return Err(DeltaError::Analysis(format!(
                "[DELTA_TIMESTAMP_EARLIER_THAN_COMMIT_RETENTION] The provided timestamp ({ts}) is before the earliest version available to this table ({shown})."
            )));
        }
    }
    Ok(t)
}

/// Whether another commit follows the version `table` holds: Delta's log versions are
/// contiguous, so one lookup of the next commit file answers it, where a snapshot update
/// lists the whole log folder.
pub async fn has_newer_commit(table: &DeltaTable) -> DeltaResult<bool> {
    let Some(version) = table.version() else {
        return Ok(true);
    };
    let next = object_store::path::Path::from_iter([
        "_delta_log".to_string(),
        format!("{:020}.json", version + 1),
    ]);
    use object_store::ObjectStoreExt;
    match table.log_store().object_store(None).head(&next).await {
        Ok(_) => Ok(true),
        Err(object_store::Error::NotFound { .. }) => Ok(false),
        Err(e) => Err(DeltaError::from(DeltaTableError::from(e))),
    }
}

/// Opens the latest version if a table exists there.
pub async fn open_if_exists(url: &Url) -> DeltaResult<Option<DeltaTable>> {
    if !exists(url).await? {
        return Ok(None);
    }
    open(url, &TimeTravel::Latest).await.map(Some)
}

fn opening_error(path: &str, at: &TimeTravel, e: DeltaTableError) -> DeltaError {
    match (&e, at) {
        (DeltaTableError::InvalidVersion(v), _) => DeltaError::Analysis(format!(
            "[DELTA_VERSION_NOT_CONTIGUOUS] Cannot time travel Delta table to version {v}. Available versions are those in the history of {path}."
        )),
        (_, TimeTravel::Timestamp(ts)) if e.to_string().contains("ersion") => {
            DeltaError::Analysis(format!(
                "[DELTA_TIMESTAMP_EARLIER_THAN_COMMIT_RETENTION] The provided timestamp ({ts}) is before the earliest version available to this table ({path})."
            ))
        }
        (_, TimeTravel::Version(v)) if e.to_string().contains("ersion") => {
            DeltaError::Analysis(format!(
                "[DELTA_VERSION_NOT_CONTIGUOUS] Cannot time travel Delta table to version {v}: {e}"
            ))
        }
        (DeltaTableError::NotATable(_), _) => DeltaError::NotATable(path.to_string()),
        _ => DeltaError::CorruptLog {
            path: path.to_string(),
            message: e.to_string(),
        },
    }
}

/// A location as Spark prints it (`file:/path` for local tables).
pub fn spark_location(url: &Url) -> String {
    match local_dir(url) {
        Some(_) => format!("file:{}", display(url)),
        None => url.to_string(),
    }
}

/// A location as users wrote it: a local path without the `file://` scheme.
pub fn display(url: &Url) -> String {
    match local_dir(url) {
        Some(p) => p.display().to_string().trim_end_matches('/').to_string(),
        None => url.to_string(),
    }
}

/// What `CREATE TABLE` records for a new (empty) table.
#[derive(Debug, Clone, Default)]
pub struct NewTable {
    pub schema: Option<arrow::datatypes::SchemaRef>,
    pub partition_by: Vec<String>,
    /// Clustering columns (see [`crate::clustering`]).
    pub clustering: Vec<String>,
    pub properties: std::collections::HashMap<String, String>,
    pub name: Option<String>,
    pub comment: Option<String>,
    /// Replace an existing table's schema and contents (`CREATE OR REPLACE`).
    pub replace: bool,
}

/// The field metadata key of a column comment.
const COMMENT_KEY: &str = "comment";

/// Creates an empty table (one `CREATE TABLE` / `CREATE OR REPLACE TABLE` commit) and
/// returns its version.
pub async fn create(url: &Url, mut spec: NewTable) -> DeltaResult<i64> {
    use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
    use deltalake::kernel::StructField;
    use deltalake::operations::create::CreateBuilder;
    use deltalake::protocol::SaveMode;

    crate::properties::validate(&spec.properties)?;
    let schema = spec.schema.ok_or_else(|| {
        DeltaError::Analysis(
            "[DELTA_SCHEMA_NOT_PROVIDED] Table schema is not provided. Please provide the schema (column definition) of the table when using REPLACE table and an AS SELECT query is not provided.".into(),
        )
    })?;
    crate::clustering::record(
        &spec.clustering,
        &spec.partition_by,
        &schema,
        &mut spec.properties,
    )?;
    let storage = crate::schema::storage_schema(&schema);
    let columns: Vec<StructField> = storage
        .fields()
        .iter()
        .zip(schema.fields())
        .map(|(f, original)| {
            let field: StructField = f.as_ref().try_into_kernel()?;
            // Declared NOT NULL columns stay required; a column comment is kept in the
            // field's metadata, where Spark and Delta keep it.
            Ok(StructField::new(
                field.name().clone(),
                field.data_type().clone(),
                original.is_nullable(),
            )
            .with_metadata(
                original
                    .metadata()
                    .get(COMMENT_KEY)
                    .map(|c| (COMMENT_KEY, c.as_str())),
            ))
        })
        .collect::<Result<_, arrow::error::ArrowError>>()
        .map_err(|e| DeltaError::Analysis(format!("Unsupported column type for Delta: {e}")))?;
    let mut b = CreateBuilder::new()
        .with_location(url.to_string())
        .with_columns(columns)
        .with_save_mode(if spec.replace {
            SaveMode::Overwrite
        } else {
            SaveMode::ErrorIfExists
        })
        .with_commit_properties(crate::checkpoint::commit_properties())
        // User properties (not only `delta.*`) are kept, as Delta does.
        .with_raise_if_key_not_exists(false);
    if !spec.partition_by.is_empty() {
        b = b.with_partition_columns(spec.partition_by.clone());
    }
    if let Some(n) = spec.name {
        b = b.with_table_name(n);
    }
    if let Some(c) = spec.comment {
        b = b.with_comment(c);
    }
    if !spec.properties.is_empty() {
        b = b.with_configuration(spec.properties.into_iter().map(|(k, v)| (k, Some(v))));
    }
    let t = b.await?;
    crate::checkpoint::after_commit(&t).await;
    Ok(t.version().unwrap_or(0) as i64)
}

/// Deletes a managed table's directory (DROP TABLE of a managed table).
pub fn remove_local(url: &Url) -> DeltaResult<()> {
    if let Some(dir) = local_dir(url) {
        if dir.exists() {
            std::fs::remove_dir_all(dir)?;
        }
    }
    Ok(())
}

/// The current schema and partition columns of the table at `url`.
pub async fn shape(url: &Url) -> DeltaResult<(arrow::datatypes::SchemaRef, Vec<String>)> {
    let t = open(url, &TimeTravel::Latest).await?;
    let state = t.snapshot()?;
    Ok((
        state.snapshot().arrow_schema(),
        state.metadata().partition_columns().to_vec(),
    ))
}
