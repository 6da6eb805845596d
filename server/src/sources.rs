//! File sources for `spark.read`: parquet, csv, json and text through DataFusion's readers,
//! with Spark's option names and defaults (no header, strings unless `inferSchema`, JSON
//! fields in alphabetical order, `_c0` column names).
use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::{provider_as_source, MemTable};
use datafusion::logical_expr::{col, Expr, LogicalPlan, LogicalPlanBuilder};
use datafusion::prelude::{CsvReadOptions, JsonReadOptions, ParquetReadOptions, SessionContext};
use planner::{DataSource, PlanError, PlanResult};

/// Options sluice reads; anything else is refused rather than silently ignored.
const KNOWN_OPTIONS: &[&str] =
    &["header", "inferschema", "sep", "delimiter", "multiline", "mode", "path", "encoding", "lineSep", "quote", "escape", "nullvalue"];

fn flag(source: &DataSource, key: &str, default: bool) -> bool {
    source.options.get(key).map(|v| v.eq_ignore_ascii_case("true")).unwrap_or(default)
}

fn check(source: &DataSource) -> PlanResult<()> {
    for key in source.options.keys() {
        if !KNOWN_OPTIONS.iter().any(|k| k.eq_ignore_ascii_case(key)) {
            return Err(PlanError::unsupported(format!("the {} option `{key}`", source.format)));
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
    if flag(source, "multiline", false) && source.format == "json" {
        return Err(PlanError::unsupported("multiLine JSON"));
    }
    for p in &source.paths {
        if !Path::new(p).exists() {
            return Err(PlanError::analysis(format!(
                "[PATH_NOT_FOUND] Path does not exist: file:{}. SQLSTATE: 42K03",
                std::fs::canonicalize(".").map(|c| c.join(p)).unwrap_or_else(|_| p.into()).display()
            )));
        }
    }
    Ok(())
}

/// File name filter: a directory holds files of the format's extension; a file is read as named.
fn extension(source: &DataSource, default: &'static str) -> &'static str {
    if source.paths.iter().all(|p| Path::new(p).is_file()) {
        ""
    } else {
        default
    }
}

pub async fn read(ctx: &SessionContext, source: DataSource) -> PlanResult<LogicalPlan> {
    check(&source)?;
    if source.paths.is_empty() {
        return Err(PlanError::analysis(format!(
            "[UNABLE_TO_INFER_SCHEMA] Unable to infer schema for {}. It must be specified manually.",
            source.format.to_uppercase()
        )));
    }
    let paths = source.paths.clone();
    let df = match source.format.as_str() {
        "parquet" => {
            let mut o = ParquetReadOptions::default().file_extension(extension(&source, ".parquet"));
            if let Some(s) = &source.schema {
                o = o.schema(s);
            }
            ctx.read_parquet(paths, o).await?
        }
        "csv" => return read_csv(ctx, &source).await,
        "json" => return read_json(ctx, &source).await,
        "text" => return read_text(&source),
        other => return Err(PlanError::unsupported(format!("the data source format `{other}`"))),
    };
    Ok(df.into_unoptimized_plan())
}

async fn read_csv(ctx: &SessionContext, source: &DataSource) -> PlanResult<LogicalPlan> {
    let header = flag(source, "header", false);
    let infer = flag(source, "inferschema", false);
    let sep = source.options.get("sep").or_else(|| source.options.get("delimiter")).map(String::as_str).unwrap_or(",");
    let [delimiter] = sep.as_bytes() else {
        return Err(PlanError::unsupported(format!("a multi-character CSV separator {sep:?}")));
    };
    let ext = extension(source, ".csv");
    let base = || CsvReadOptions::new().has_header(header).delimiter(*delimiter).file_extension(ext);
    let df = match &source.schema {
        Some(s) => ctx.read_csv(source.paths.clone(), base().schema(s)).await?,
        None => {
            let inferred = ctx.read_csv(source.paths.clone(), base()).await?;
            // Spark names header-less columns _c0, _c1, ... and reads strings unless asked to infer.
            let fields: Vec<Field> = inferred
                .schema()
                .fields()
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    let name = if header { f.name().clone() } else { format!("_c{i}") };
                    let ty = if infer { spark_csv_type(f.data_type()) } else { DataType::Utf8 };
                    Field::new(name, ty, true)
                })
                .collect();
            let schema = Schema::new(fields);
            ctx.read_csv(source.paths.clone(), base().schema(&schema)).await?
        }
    };
    Ok(df.into_unoptimized_plan())
}

/// Spark infers int for small integers, double for decimals; DataFusion's choice otherwise.
fn spark_csv_type(t: &DataType) -> DataType {
    match t {
        DataType::Int64 => DataType::Int32,
        DataType::Null => DataType::Utf8,
        other => other.clone(),
    }
}

async fn read_json(ctx: &SessionContext, source: &DataSource) -> PlanResult<LogicalPlan> {
    let ext = extension(source, ".json");
    let options = || JsonReadOptions::default().file_extension(ext);
    let df = match &source.schema {
        Some(s) => ctx.read_json(source.paths.clone(), options().schema(s)).await?,
        None => {
            // Spark lists inferred JSON fields alphabetically.
            let df = ctx.read_json(source.paths.clone(), options()).await?;
            let mut names: Vec<String> = df.schema().fields().iter().map(|f| f.name().clone()).collect();
            names.sort();
            let exprs: Vec<Expr> =
                names.iter().map(|n| col(datafusion::common::Column::new_unqualified(n))).collect();
            df.select(exprs)?
        }
    };
    Ok(df.into_unoptimized_plan())
}

/// `spark.read.text`: one `value` string per line.
fn read_text(source: &DataSource) -> PlanResult<LogicalPlan> {
    let mut files = vec![];
    for p in &source.paths {
        let path = Path::new(p);
        if path.is_dir() {
            let mut entries: Vec<_> = std::fs::read_dir(path)
                .map_err(|e| PlanError::analysis(e.to_string()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(['.', '_'])))
                .collect();
            entries.sort();
            files.extend(entries);
        } else {
            files.push(path.to_path_buf());
        }
    }
    let mut lines = vec![];
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|e| PlanError::analysis(format!("{}: {e}", f.display())))?;
        lines.extend(text.lines().map(str::to_string));
    }
    let schema = Arc::new(Schema::new(vec![Field::new("value", DataType::Utf8, true)]));
    let batch = arrow::array::RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(arrow::array::StringArray::from(lines))],
    )?;
    let table = MemTable::try_new(schema, vec![vec![batch]])?;
    Ok(LogicalPlanBuilder::scan("text", provider_as_source(Arc::new(table)), None)?.build()?)
}
