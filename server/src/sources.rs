//! File sources for `spark.read`: parquet through DataFusion's reader; csv, json and text
//! through sluice's own readers (Spark's parse modes, inference and quoting rules are not
//! DataFusion's). Files are found as Spark's file index finds them (see `files`), and
//! `key=value` folders become partition columns after the data columns.
pub mod auto_loader;
mod convert;
mod csv;
mod exec;
pub(crate) mod files;
mod json;
mod text;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::ScalarValue;
use datafusion::datasource::provider_as_source;
use datafusion::error::DataFusionError;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{col, lit, Expr, LogicalPlan, LogicalPlanBuilder};
use datafusion::physical_plan::{execute_stream, SendableRecordBatchStream};
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use planner::{DataSource, PlanError, PlanResult};

use exec::{FileDecoder, FileTable, ScanFile};
pub use files::{escape_path_name, DEFAULT_PARTITION};

/// The options each format reads (lower-cased); anything else is refused rather than ignored.
fn known_options(format: &str) -> &'static [&'static str] {
    match format {
        "csv" => &[
            "header",
            "inferschema",
            "sep",
            "delimiter",
            "quote",
            "escape",
            "nullvalue",
            "mode",
            "multiline",
            "dateformat",
            "timestampformat",
            "columnnameofcorruptrecord",
            "encoding",
            "charset",
        ],
        "json" => &[
            "mode",
            "multiline",
            "primitivesasstring",
            "dateformat",
            "timestampformat",
            "columnnameofcorruptrecord",
            "encoding",
        ],
        "text" => &["wholetext", "linesep", "encoding"],
        _ => &[],
    }
}

fn check(source: &DataSource) -> PlanResult<()> {
    for key in source.options.keys() {
        if key != "path" && !known_options(&source.format).contains(&key.as_str()) {
            return Err(PlanError::unsupported(format!(
                "the {} option `{key}`",
                source.format
            )));
        }
    }
    for key in ["encoding", "charset"] {
        if let Some(e) = source
            .options
            .get(key)
            .filter(|e| !matches!(e.to_ascii_lowercase().as_str(), "utf-8" | "utf8"))
        {
            return Err(PlanError::unsupported(format!(
                "the {} encoding {e:?} (only UTF-8)",
                source.format
            )));
        }
    }
    match source.options.get("mode").map(|m| m.to_ascii_uppercase()) {
        None => {}
        Some(m) if m == "FAILFAST" || m == "PERMISSIVE" || m == "DROPMALFORMED" => {}
        Some(m) => {
            return Err(PlanError::invalid(format!(
                "[PARSE_MODE_UNSUPPORTED] The function {} doesn't support the {m} mode. Acceptable modes are PERMISSIVE and FAILFAST.",
                source.format
            )))
        }
    }
    Ok(())
}

/// `schema` with every column nullable, as Spark reads files.
pub fn nullable_schema(schema: &Schema) -> SchemaRef {
    convert::nullable(schema)
}

pub async fn read(ctx: &SessionContext, mut source: DataSource) -> PlanResult<LogicalPlan> {
    check(&source)?;
    if let Some(p) = source.options.get("path") {
        source.paths.push(p.clone());
    }
    if source.paths.is_empty() {
        return Err(unable_to_infer(&source.format));
    }
    let listing = files::list(&source.paths)?;
    if listing.files.is_empty() && source.schema.is_none() {
        return Err(unable_to_infer(&source.format));
    }
    match source.format.as_str() {
        "parquet" => read_parquet(ctx, &source, &listing).await,
        "csv" | "json" | "text" => {
            let time_zone = ctx
                .state()
                .config_options()
                .execution
                .time_zone
                .clone()
                .unwrap_or_else(|| "UTC".into());
            read_text_format(&source, &listing, &time_zone)
        }
        other => Err(PlanError::unsupported(format!(
            "the data source format `{other}`"
        ))),
    }
}

fn unable_to_infer(format: &str) -> PlanError {
    let name = match format {
        "csv" | "json" => format.to_uppercase(),
        other => other[..1].to_uppercase() + &other[1..],
    };
    PlanError::analysis(format!(
        "[UNABLE_TO_INFER_SCHEMA] Unable to infer schema for {name}. It must be specified manually. SQLSTATE: 42KD9"
    ))
}

/// A scan of csv, json or text files that reads them when the plan runs (the schema is
/// inferred now when not given).
fn read_text_format(
    source: &DataSource,
    listing: &files::Listing,
    time_zone: &str,
) -> PlanResult<LogicalPlan> {
    let paths: Vec<PathBuf> = listing.files.iter().map(|f| f.path.clone()).collect();
    let schema = source.schema.clone();
    let decoder: Arc<dyn FileDecoder> = match source.format.as_str() {
        "csv" => {
            let options = csv::CsvOptions::new(&source.options, time_zone)?;
            let schema = convert::nullable(csv::schema(&paths, schema, &options)?.as_ref());
            Arc::new(csv::CsvDecoder { schema, options })
        }
        "json" => Arc::new(json::decoder(
            &paths,
            schema,
            &json::JsonOptions::new(&source.options)?,
        )?),
        _ => Arc::new(text::TextDecoder::new(&source.options)),
    };
    let table = file_table(source.format.as_str(), listing, decoder)?;
    let scan = LogicalPlanBuilder::scan(
        source.format.as_str(),
        provider_as_source(Arc::new(table)),
        None,
    )?
    .build()?;
    planner::input_file::hide(scan)
}

/// JSON files read with a fixed schema and options (lower-case keys, as `spark.read` takes
/// them), for instance the files of a streaming micro-batch: their rows as one stream, the
/// files decoded in parallel on up to `partitions` partitions.
#[cfg_attr(not(test), allow(dead_code))]
pub fn read_json_files(
    paths: &[PathBuf],
    schema: SchemaRef,
    options: &HashMap<String, String>,
    partitions: usize,
) -> PlanResult<SendableRecordBatchStream> {
    let decoder = json::JsonDecoder::new(schema, json::JsonOptions::new(options)?);
    let files = paths
        .iter()
        .map(|path| ScanFile {
            size: std::fs::metadata(path).map_or(0, |m| m.len()),
            path: path.clone(),
            partition_values: vec![],
        })
        .collect();
    let table = FileTable::new("json", decoder.schema().clone(), Arc::new(decoder), files);
    let plan = table.exec(None, partitions, None)?;
    Ok(execute_stream(plan, Arc::new(TaskContext::default()))?)
}

/// The table of a listing's files read by `decoder`, with the folder columns the data lacks.
fn file_table(
    name: &str,
    listing: &files::Listing,
    decoder: Arc<dyn FileDecoder>,
) -> PlanResult<FileTable> {
    let data = decoder.schema().clone();
    let extra = partition_fields(listing, &data);
    let mut fields: Vec<Field> = data.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.extend(extra.iter().map(|(_, f)| f.clone()));
    let mut fields = convert::nullable(&Schema::new(fields)).fields().to_vec();
    fields.push(Arc::new(exec::input_file_field()));
    let schema = Arc::new(Schema::new(fields));
    let files = listing
        .files
        .iter()
        .map(|file| {
            let partition_values = extra
                .iter()
                .map(|(i, field)| partition_value(listing.value(file, *i), field.data_type()))
                .chain([Ok(exec::file_url(&file.path))])
                .collect::<PlanResult<Vec<_>>>()?;
            Ok(ScanFile {
                size: std::fs::metadata(&file.path).map_or(0, |m| m.len()),
                path: file.path.clone(),
                partition_values,
            })
        })
        .collect::<PlanResult<Vec<_>>>()?;
    Ok(FileTable::new(name, schema, decoder, files))
}

/// The partition columns a listing adds to `schema` (those the data does not hold already).
fn partition_fields(listing: &files::Listing, schema: &Schema) -> Vec<(usize, Field)> {
    listing
        .partition_columns
        .iter()
        .enumerate()
        .filter(|(_, (name, _))| schema.field_with_name(name).is_err())
        .map(|(i, (name, ty))| (i, Field::new(name, ty.clone(), true)))
        .collect()
}

/// A partition value (None for the default partition) as a scalar of the column's type.
fn partition_value(value: Option<&str>, ty: &DataType) -> PlanResult<ScalarValue> {
    match value {
        Some(v) => Ok(ScalarValue::try_from_string(v.to_string(), ty)?),
        None => Ok(ScalarValue::try_from(ty)?),
    }
}

/// A reader's error raised while the plan runs.
fn plan_to_df(e: PlanError) -> DataFusionError {
    match e {
        PlanError::DataFusion(e) => e,
        PlanError::Arrow(e) => e.into(),
        other => DataFusionError::Execution(other.to_string()),
    }
}

/// Parquet through DataFusion: one scan over the files, or per partition folder a scan with
/// the folder's values as literal columns, all unioned.
async fn read_parquet(
    ctx: &SessionContext,
    source: &DataSource,
    listing: &files::Listing,
) -> PlanResult<LogicalPlan> {
    let urls = |files: &[&files::DataFile]| -> Vec<String> {
        files.iter().map(|f| files::absolute(&f.path)).collect()
    };
    let all: Vec<&files::DataFile> = listing.files.iter().collect();
    let schema = match &source.schema {
        Some(s) => s.clone(),
        None => {
            let inferred = ctx
                .read_parquet(urls(&all), ParquetReadOptions::default().file_extension(""))
                .await?;
            convert::nullable(inferred.schema().as_arrow())
        }
    };
    let options = || {
        ParquetReadOptions::default()
            .file_extension("")
            .schema(&schema)
    };
    let extra = partition_fields(listing, &schema);
    if extra.is_empty() {
        return Ok(ctx
            .read_parquet(urls(&all), options())
            .await?
            .into_unoptimized_plan());
    }
    let mut groups: Vec<Vec<&files::DataFile>> = vec![];
    for f in &listing.files {
        match groups.last_mut() {
            Some(g) if g[0].partition == f.partition => g.push(f),
            _ => groups.push(vec![f]),
        }
    }
    // Spark's partition columns are nullable; a branch of NULLs without rows says so even
    // when no folder is the default partition.
    let mut plan: Option<LogicalPlanBuilder> = None;
    if let Some(first) = groups.first() {
        let scan = ctx
            .read_parquet(urls(first), options())
            .await?
            .limit(0, Some(0))?;
        let mut exprs: Vec<Expr> = data_columns(&schema);
        for (_, field) in &extra {
            exprs.push(lit(partition_value(None, field.data_type())?).alias(field.name()));
        }
        plan = Some(LogicalPlanBuilder::from(
            scan.select(exprs)?.into_unoptimized_plan(),
        ));
    }
    for group in groups {
        let scan = ctx.read_parquet(urls(&group), options()).await?;
        let mut exprs: Vec<Expr> = data_columns(&schema);
        for (i, field) in &extra {
            let value = partition_value(listing.value(group[0], *i), field.data_type())?;
            exprs.push(lit(value).alias(field.name()));
        }
        let part = scan.select(exprs)?.into_unoptimized_plan();
        plan = Some(match plan {
            None => LogicalPlanBuilder::from(part),
            Some(p) => p.union(part)?,
        });
    }
    match plan {
        Some(p) => Ok(p.build()?),
        None => Err(unable_to_infer("parquet")),
    }
}

fn data_columns(schema: &Schema) -> Vec<Expr> {
    schema
        .fields()
        .iter()
        .map(|f| col(datafusion::common::Column::new_unqualified(f.name())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;

    #[tokio::test(flavor = "multi_thread")]
    async fn json_files_with_a_fixed_schema() {
        let dir = std::env::temp_dir().join(format!("sluice-json-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let clean = dir.join("a.json");
        let bad = dir.join("b.json");
        std::fs::write(&clean, "{\"a\": 1, \"b\": \"x\"}\n{\"a\": 2}\n").unwrap();
        std::fs::write(&bad, "{\"a\": 3}\n{\"a\": \"three\"}\n{\"a\"\n").unwrap();
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("b", DataType::Utf8, true),
        ]));
        let stream = read_json_files(&[clean, bad], schema, &HashMap::new(), 2).unwrap();
        let batches: Vec<_> = stream.try_collect().await.unwrap();
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        // PERMISSIVE keeps the malformed rows (as NULLs).
        assert_eq!(rows, 5);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
