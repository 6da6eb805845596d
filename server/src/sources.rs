//! File sources for `spark.read`: parquet through DataFusion's reader; csv, json and text
//! through sluice's own readers (Spark's parse modes, inference and quoting rules are not
//! DataFusion's). Files are found as Spark's file index finds them (see `files`), and
//! `key=value` folders become partition columns after the data columns.
mod convert;
mod csv;
mod files;
mod json;

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::ScalarValue;
use datafusion::datasource::{provider_as_source, MemTable};
use datafusion::logical_expr::{col, lit, Expr, LogicalPlan, LogicalPlanBuilder};
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use planner::{DataSource, PlanError, PlanResult};

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

/// Reads every file's text, parses it with the format's reader, and serves the rows from memory.
fn read_text_format(
    source: &DataSource,
    listing: &files::Listing,
    time_zone: &str,
) -> PlanResult<LogicalPlan> {
    let texts = listing
        .files
        .iter()
        .map(|f| files::read_text(&f.path))
        .collect::<PlanResult<Vec<_>>>()?;
    let paths: Vec<&Path> = listing.files.iter().map(|f| f.path.as_path()).collect();
    let schema = source.schema.clone();
    let (schema, batches) = match source.format.as_str() {
        "csv" => csv::read(
            &texts,
            &paths,
            schema,
            &csv::CsvOptions::new(&source.options, time_zone)?,
        )?,
        "json" => json::read(
            &texts,
            &paths,
            schema,
            &json::JsonOptions::new(&source.options)?,
        )?,
        _ => read_text(&texts, source)?,
    };
    let (schema, batches) = with_partition_columns(listing, &schema, batches)?;
    let table = MemTable::try_new(schema, vec![batches])?;
    Ok(LogicalPlanBuilder::scan(
        source.format.as_str(),
        provider_as_source(Arc::new(table)),
        None,
    )?
    .build()?)
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

/// Appends each file's partition values to its batch as constant columns.
fn with_partition_columns(
    listing: &files::Listing,
    schema: &SchemaRef,
    batches: Vec<RecordBatch>,
) -> PlanResult<(SchemaRef, Vec<RecordBatch>)> {
    let extra = partition_fields(listing, schema);
    if extra.is_empty() {
        return Ok((convert::nullable(schema), batches));
    }
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.extend(extra.iter().map(|(_, f)| f.clone()));
    let full = convert::nullable(&Schema::new(fields));
    let out = batches
        .into_iter()
        .zip(&listing.files)
        .map(|(batch, file)| {
            let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
            for (i, field) in &extra {
                let value = partition_value(listing.value(file, *i), field.data_type())?;
                columns.push(value.to_array_of_size(batch.num_rows())?);
            }
            let options =
                arrow::array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
            Ok(RecordBatch::try_new_with_options(
                full.clone(),
                columns,
                &options,
            )?)
        })
        .collect::<PlanResult<Vec<_>>>()?;
    Ok((full, out))
}

/// `spark.read.text`: one `value` row per line (`lineSep`, or any of `\n`, `\r\n`, `\r`),
/// or one per file with `wholetext`.
fn read_text(texts: &[String], source: &DataSource) -> PlanResult<(SchemaRef, Vec<RecordBatch>)> {
    let whole = source
        .options
        .get("wholetext")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let separator = source.options.get("linesep").filter(|s| !s.is_empty());
    let schema = Arc::new(Schema::new(vec![Field::new("value", DataType::Utf8, true)]));
    let batches = texts
        .iter()
        .map(|text| {
            let lines: Vec<&str> = match (whole, separator) {
                (true, _) => vec![text.as_str()],
                (false, Some(sep)) => {
                    let mut parts: Vec<&str> = text.split(sep.as_str()).collect();
                    if parts.last() == Some(&"") {
                        parts.pop();
                    }
                    parts
                }
                (false, None) => text.lines().flat_map(|l| l.split('\r')).collect(),
            };
            Ok(RecordBatch::try_new(
                schema.clone(),
                vec![Arc::new(StringArray::from(lines))],
            )?)
        })
        .collect::<PlanResult<Vec<_>>>()?;
    Ok((schema, batches))
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
