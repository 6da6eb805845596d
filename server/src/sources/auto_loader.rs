//! Auto Loader (`readStream.format("cloudFiles")`) file semantics for the streaming engine:
//! which files a stream may ingest, the stream's schema (inferred as Auto Loader infers it,
//! with schema hints, `key=value` folder columns and the rescued data column, kept in the
//! Databricks schema log under `cloudFiles.schemaLocation`), the columns new files add, the
//! error that stops a stream to evolve its schema, and the plan that reads one micro-batch.
//! The engine decides when each is called; this module keeps no state between calls apart
//! from the schema log and the JSON scan cache shared with `spark.read`.
mod hints;
mod infer;
mod listing;
mod options;
mod read_binary;
mod read_csv;
mod read_json;
mod read_parquet;
mod schema_log;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};
use datafusion::common::{Column, ScalarValue};
use datafusion::datasource::provider_as_source;
use datafusion::logical_expr::{col, LogicalPlan, LogicalPlanBuilder};
use planner::types::simple_string;
use planner::{PlanError, PlanResult};

pub use options::{CloudFilesOptions, EvolutionMode};

use super::exec::{FileDecoder, FileTable, ScanFile};
use super::files::DEFAULT_PARTITION;
use super::json::{JsonDecoder, JsonOptions};
use super::text::TextDecoder;

/// The schema of a stream over `files` under `root`: the latest one in the schema log when
/// there is one, else inferred from `files` and written to the log as version 0. Data
/// columns first, then the folder columns (strings unless hinted), then the rescued data
/// column. Schema hints apply either way (they may change between runs).
pub fn stream_schema(
    files: &[PathBuf],
    root: &Path,
    opts: &CloudFilesOptions,
    time_zone: &str,
) -> PlanResult<SchemaRef> {
    let logged = match &opts.schema_location {
        Some(location) => schema_log::latest(location, time_zone)?,
        None => None,
    };
    let (data, partition) = match logged {
        Some(logged) => (logged.data, logged.partition),
        None => {
            if files.is_empty() && !fixed_schema(opts) {
                return Err(listing::empty_dir(root));
            }
            let data = infer::data_fields(files, opts, time_zone)?;
            let partition: Vec<Field> = listing::partition_columns(root, files, opts)
                .into_iter()
                .filter(|name| !data.iter().any(|f| f.name().eq_ignore_ascii_case(name)))
                .map(|name| Field::new(name, DataType::Utf8, true))
                .collect();
            let (data, partition) = with_hints(data, partition, opts, time_zone)?;
            if let Some(location) = &opts.schema_location {
                schema_log::write(location, 0, &data, &partition)?;
            }
            (data, partition)
        }
    };
    let (data, partition) = with_hints(data, partition, opts, time_zone)?;
    Ok(full_schema(data, partition, opts))
}

/// A schema given with `.schema()`, with the rescued data column added last when one is
/// configured (`rescuedDataColumn`, or `schemaEvolutionMode` rescue).
pub fn user_schema(schema: &Schema, opts: &CloudFilesOptions) -> SchemaRef {
    let fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    full_schema(fields, vec![], opts)
}

/// Fields found in `files` that `schema` lacks (compared ignoring case: a field that differs
/// only by case is rescued, not new), in file order, typed as inference types them and with
/// the schema hints that name them applied.
pub fn new_columns(
    schema: &Schema,
    files: &[PathBuf],
    opts: &CloudFilesOptions,
    time_zone: &str,
) -> PlanResult<Vec<Field>> {
    let found = infer::new_fields(schema, files, opts, time_zone)?;
    let hints = match &opts.schema_hints {
        Some(h) => hints::parse(h, time_zone)?,
        None => vec![],
    };
    found
        .into_iter()
        .filter(|f| opts.rescued_column.as_deref() != Some(f.name().as_str()))
        .map(|field| {
            let mine: Vec<hints::Hint> = hints
                .iter()
                .filter(|h| {
                    h.path
                        .first()
                        .is_some_and(|p| p.eq_ignore_ascii_case(field.name()))
                })
                .cloned()
                .collect();
            let name = field.name().clone();
            let typed = hints::apply(vec![field], &mine)?;
            Ok(typed
                .into_iter()
                .next()
                .unwrap_or_else(|| Field::new(name, DataType::Utf8, true)))
        })
        .collect()
}

/// Stops a stream that met new columns `added` in `file`. With addNewColumns the next schema
/// (`schema`'s data columns, then `added`) goes to the schema log first, so that a restart
/// reads the new columns; failOnNewColumns leaves the log alone. Returns Databricks'
/// UnknownFieldException for the query to fail with.
pub fn evolve(
    schema: &Schema,
    added: &[Field],
    file: &Path,
    opts: &CloudFilesOptions,
) -> PlanResult<PlanError> {
    let retry = opts.evolution == EvolutionMode::AddNewColumns;
    if let (true, Some(location)) = (retry, &opts.schema_location) {
        let logged = schema_log::latest(location, "UTC")?;
        let partition_names: Vec<String> = logged
            .as_ref()
            .map(|l| l.partition.iter().map(|f| f.name().clone()).collect())
            .unwrap_or_default();
        let is_partition = |f: &Field| partition_names.iter().any(|p| p == f.name());
        let rescue = opts.rescued_column.as_deref();
        let mut data: Vec<Field> = schema
            .fields()
            .iter()
            .filter(|f| !is_partition(f) && Some(f.name().as_str()) != rescue)
            .map(|f| f.as_ref().clone())
            .collect();
        for f in added {
            if !data.iter().any(|d| d.name().eq_ignore_ascii_case(f.name())) {
                data.push(f.clone().with_nullable(true));
            }
        }
        let partition: Vec<Field> = schema
            .fields()
            .iter()
            .filter(|f| is_partition(f))
            .map(|f| f.as_ref().clone())
            .collect();
        let version = logged.map_or(0, |l| l.version + 1);
        schema_log::write(location, version, &data, &partition)?;
    }
    let names: Vec<String> = added
        .iter()
        .map(|f| serde_json::Value::String(f.name().clone()).to_string())
        .collect();
    let record_schema = simple_string(&DataType::Struct(Fields::from(added.to_vec())));
    Ok(PlanError::analysis(format!(
        "[UNKNOWN_FIELD_EXCEPTION.NEW_FIELDS_IN_RECORD_WITH_FILE_PATH] Encountered unknown fields during parsing: [{}], which can be fixed by an automatic retry: {retry}\nUnknown fields inside file path: {}\nRescued record schema: {record_schema} SQLSTATE: KD003",
        names.join(","),
        listing::file_uri(file),
    )))
}

/// A plan reading exactly `files` under `schema` (as `stream_schema` or `user_schema` give
/// it): the data columns decoded from each file, the folder columns from its path, the
/// rescued data column filled as Databricks fills it.
pub fn scan(
    files: &[PathBuf],
    root: &Path,
    schema: SchemaRef,
    opts: &CloudFilesOptions,
    time_zone: &str,
) -> PlanResult<LogicalPlan> {
    let rescue = opts
        .rescued_column
        .as_deref()
        .filter(|r| schema.field_with_name(r).is_ok());
    let folders: Vec<Vec<(String, String)>> = files
        .iter()
        .map(|f| listing::partition_values(root, f))
        .collect();
    let mut partition_names: Vec<&str> = opts
        .partition_columns
        .iter()
        .flatten()
        .map(String::as_str)
        .collect();
    for (key, _) in folders.iter().flatten() {
        if !partition_names.contains(&key.as_str()) {
            partition_names.push(key);
        }
    }
    let fixed: Option<Vec<Field>> = match opts.format.as_str() {
        "text" => Some(vec![Field::new("value", DataType::Utf8, true)]),
        "binaryfile" => Some(infer::binary_fields(time_zone)),
        _ => None,
    };
    let is_partition = |f: &Field| match &fixed {
        Some(fixed) => !fixed.iter().any(|d| d.name() == f.name()),
        None => partition_names.contains(&f.name().as_str()) && Some(f.name().as_str()) != rescue,
    };
    let partition: Vec<Field> = schema
        .fields()
        .iter()
        .filter(|f| is_partition(f))
        .map(|f| f.as_ref().clone())
        .collect();
    let data = Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .filter(|f| !is_partition(f) && Some(f.name().as_str()) != rescue)
            .map(|f| f.as_ref().clone())
            .collect::<Vec<_>>(),
    ));
    let case_sensitive = opts.case_sensitive();
    let decoder: Arc<dyn FileDecoder> = match opts.format.as_str() {
        "json" => {
            let o: JsonOptions = infer::json_options(opts)?;
            match rescue {
                Some(r) => Arc::new(read_json::RescueJsonDecoder::new(
                    data,
                    r,
                    o,
                    case_sensitive,
                )),
                None => Arc::new(JsonDecoder::new(data, o)),
            }
        }
        "csv" => Arc::new(read_csv::CsvReader::new(
            data,
            rescue,
            infer::csv_options(opts, time_zone)?,
            opts.csv_header(),
            case_sensitive,
        )),
        "parquet" => Arc::new(read_parquet::ParquetReader::new(
            data,
            rescue,
            case_sensitive,
            time_zone,
        )),
        "text" => Arc::new(TextDecoder::new(&opts.reader_options)),
        "binaryfile" => Arc::new(read_binary::BinaryReader::new(time_zone)),
        other => {
            return Err(PlanError::unsupported(format!(
                "cloudFiles.format `{other}`"
            )))
        }
    };
    let mut table_fields: Vec<Field> = decoder
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    table_fields.extend(partition.iter().cloned());
    table_fields.push(super::exec::input_file_field());
    let scan_files = files
        .iter()
        .zip(&folders)
        .map(|(path, folders)| {
            let partition_values = partition
                .iter()
                .map(|field| {
                    let raw = folders
                        .iter()
                        .find(|(k, _)| k == field.name())
                        .map(|(_, v)| v.as_str())
                        .filter(|v| *v != DEFAULT_PARTITION);
                    partition_value(raw, field.data_type())
                })
                .chain([Ok(super::exec::file_url(path))])
                .collect::<PlanResult<Vec<_>>>()?;
            Ok(ScanFile {
                size: std::fs::metadata(path).map_or(0, |m| m.len()),
                path: path.clone(),
                partition_values,
            })
        })
        .collect::<PlanResult<Vec<_>>>()?;
    let table_schema = Arc::new(Schema::new(table_fields));
    let table = FileTable::new("cloudFiles", table_schema.clone(), decoder, scan_files);
    let builder =
        LogicalPlanBuilder::scan("cloud_files", provider_as_source(Arc::new(table)), None)?;
    let same_order = table_schema
        .fields()
        .iter()
        .map(|f| f.name())
        .eq(schema.fields().iter().map(|f| f.name()));
    if same_order {
        return Ok(builder.build()?);
    }
    let columns = schema
        .fields()
        .iter()
        .map(|f| col(Column::new_unqualified(f.name())))
        .collect::<Vec<_>>();
    Ok(builder.project(columns)?.build()?)
}

/// Lists the files under `root` this source may ingest (`pathGlobFilter` applied, hidden
/// names skipped), with size and modification time in ms, sorted by modification time then
/// path.
pub fn list(root: &Path, opts: &CloudFilesOptions) -> PlanResult<Vec<(PathBuf, u64, i64)>> {
    listing::list(root, opts)
}

/// Whether a file name matches a `pathGlobFilter` pattern (`* ? [..] {..}`).
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    listing::glob(pattern, name)
}

fn fixed_schema(opts: &CloudFilesOptions) -> bool {
    matches!(opts.format.as_str(), "text" | "binaryfile")
}

/// Data and folder columns with the schema hints applied (a hint may type a folder column
/// or add a data column).
fn with_hints(
    data: Vec<Field>,
    partition: Vec<Field>,
    opts: &CloudFilesOptions,
    time_zone: &str,
) -> PlanResult<(Vec<Field>, Vec<Field>)> {
    let Some(text) = opts.schema_hints.as_deref().filter(|_| !fixed_schema(opts)) else {
        return Ok((data, partition));
    };
    let hints = hints::parse(text, time_zone)?;
    let partition_names: Vec<String> = partition.iter().map(|f| f.name().clone()).collect();
    let n_data = data.len();
    let mut all = data;
    all.extend(partition);
    let hinted = hints::apply(all, &hints)?;
    // Hinted data columns keep their place, added ones follow them, folder columns stay last.
    let (mut data, mut partition) = (vec![], vec![]);
    for (i, f) in hinted.into_iter().enumerate() {
        if i >= n_data && partition_names.contains(f.name()) {
            partition.push(f);
        } else {
            data.push(f);
        }
    }
    Ok((data, partition))
}

/// Data columns, folder columns the data lacks, then the rescued data column.
fn full_schema(data: Vec<Field>, partition: Vec<Field>, opts: &CloudFilesOptions) -> SchemaRef {
    let mut fields = data;
    for p in partition {
        if !fields
            .iter()
            .any(|f| f.name().eq_ignore_ascii_case(p.name()))
        {
            fields.push(p);
        }
    }
    if let Some(r) = &opts.rescued_column {
        if !fields.iter().any(|f| f.name() == r) {
            fields.push(Field::new(r, DataType::Utf8, true));
        }
    }
    Arc::new(Schema::new(fields))
}

/// A folder value as a scalar of its column's type (NULL for the default partition, or when
/// a hinted type does not parse it).
fn partition_value(value: Option<&str>, ty: &DataType) -> PlanResult<ScalarValue> {
    match value.and_then(|v| ScalarValue::try_from_string(v.to_string(), ty).ok()) {
        Some(v) => Ok(v),
        None => Ok(ScalarValue::try_from(ty)?),
    }
}
