//! `DESCRIBE [TABLE] [EXTENDED] name [column]` and `DESCRIBE QUERY`: a relation's columns,
//! a Delta table's partition and clustering sections and (EXTENDED) its detailed
//! information, laid out as Spark prints them for a Delta table.
use std::sync::Arc;

use arrow::array::{RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::logical_expr::LogicalPlan;
use delta_sink::describe::TableInfo;
use planner::types::{self, COMMENT_KEY};
use planner::PlanError;
use proto::connect::relation::RelType;
use proto::connect::Relation;

use crate::error::{SparkError, SparkResult};
use crate::execute::plan_relation;
use crate::session::Session;
use crate::statements::strings;
use crate::tables::{self, Target};

/// The statistics rows `DESCRIBE EXTENDED t col` adds; sluice keeps no column statistics,
/// so each is NULL, as Spark shows for a table never analysed.
const COLUMN_STATISTICS: &[&str] = &[
    "min",
    "max",
    "num_nulls",
    "distinct_count",
    "avg_col_len",
    "max_col_len",
    "histogram",
];

/// `DESCRIBE [QUERY] query`: the query's output columns.
pub fn query_columns(plan: &LogicalPlan) -> SparkResult<RecordBatch> {
    rows(columns(plan))
}

pub async fn table(
    session: &Session,
    name: &[String],
    extended: bool,
    column: Option<&[String]>,
) -> SparkResult<RecordBatch> {
    let read = Relation {
        common: None,
        rel_type: Some(RelType::Read(proto::connect::Read {
            is_streaming: false,
            read_type: Some(proto::connect::read::ReadType::NamedTable(
                proto::connect::read::NamedTable {
                    unparsed_identifier: crate::delta_ops::quote_name(name),
                    options: Default::default(),
                },
            )),
        })),
    };
    let plan = plan_relation(session, &read).await?;
    if let Some(column) = column {
        return describe_column(&plan, column, extended);
    }
    let mut out = columns(&plan);
    // A temp view shows its columns only, as Spark describes views, even over a Delta scan.
    let temp_view = name.len() == 1 && session.views().table_exist(&name[0]);
    let Some(url) = delta_location(&plan).filter(|_| !temp_view) else {
        return rows(out);
    };
    let info = delta_sink::describe::info(&url).await?;
    for (title, names) in [
        ("# Partition Information", &info.partition_columns),
        ("# Clustering Information", &info.clustering),
    ] {
        if names.is_empty() {
            continue;
        }
        out.push(row(title, "", Some("")));
        out.push(row("# col_name", "data_type", Some("comment")));
        let fields = plan.schema().fields();
        for c in names {
            let field = fields.iter().find(|f| f.name().eq_ignore_ascii_case(c));
            let data_type = field.map_or(String::new(), |f| types::simple_string(f.data_type()));
            out.push((c.clone(), data_type, field.and_then(|f| comment(f))));
        }
    }
    if extended {
        let t = tables::target(session.catalog(), &session.current_database(), name)?;
        details(&mut out, &t, &url, &info);
    }
    rows(out)
}

/// Spark's `# Detailed Table Information` for a Delta table (its DescribeTableExec over
/// Delta's table properties): name, type, comment, location, provider, table properties.
fn details(out: &mut Vec<Row>, t: &Target, url: &delta_sink::Url, info: &TableInfo) {
    let (name, external) = match t {
        Target::Named { db, name, entry } => (
            format!("spark_catalog.{db}.{name}"),
            entry.as_ref().is_some_and(|e| e.external),
        ),
        Target::Path(u) => (format!("delta.`{}`", delta_sink::table::display(u)), false),
    };
    out.push(row("", "", Some("")));
    out.push(row("# Detailed Table Information", "", Some("")));
    out.push(row("Name", &name, Some("")));
    out.push(row(
        "Type",
        if external { "EXTERNAL" } else { "MANAGED" },
        Some(""),
    ));
    if let Some(c) = &info.description {
        out.push(row("Comment", c, Some("")));
    }
    out.push(row("Location", &location(url), Some("")));
    out.push(row("Provider", "delta", Some("")));
    let properties: Vec<String> = info
        .properties
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    out.push(row(
        "Table Properties",
        &format!("[{}]", properties.join(",")),
        Some(""),
    ));
}

/// A location as Hadoop prints a local path's URI (`file:/dir`), other URLs as they are.
fn location(url: &delta_sink::Url) -> String {
    let shown = delta_sink::table::display(url);
    if shown.starts_with('/') {
        format!("file:{shown}")
    } else {
        shown
    }
}

/// `DESCRIBE t col`: the column's name, type and comment (`NULL` when none); EXTENDED adds
/// the statistics rows.
fn describe_column(
    plan: &LogicalPlan,
    column: &[String],
    extended: bool,
) -> SparkResult<RecordBatch> {
    let [column] = column else {
        return Err(SparkError::Plan(PlanError::analysis(format!(
            "[UNSUPPORTED_FEATURE.DESC_TABLE_COLUMN_PARTITION] DESC TABLE COLUMN for a nested column {} is not supported.",
            column.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(".")
        ))));
    };
    let field = plan
        .schema()
        .fields()
        .iter()
        .find(|f| f.name().eq_ignore_ascii_case(column))
        .ok_or_else(|| {
            SparkError::Plan(PlanError::analysis(format!(
                "[COLUMN_NOT_FOUND] The column `{column}` cannot be found. Verify the spelling and correctness of the column name according to the SQL config \"spark.sql.caseSensitive\". SQLSTATE: 42703"
            )))
        })?;
    let mut info = vec![
        ("col_name".to_string(), field.name().clone()),
        (
            "data_type".to_string(),
            types::simple_string(field.data_type()),
        ),
        (
            "comment".to_string(),
            comment(field).unwrap_or_else(|| "NULL".into()),
        ),
    ];
    if extended {
        info.extend(
            COLUMN_STATISTICS
                .iter()
                .map(|s| (s.to_string(), "NULL".to_string())),
        );
    }
    let (names, values): (Vec<String>, Vec<String>) = info.into_iter().unzip();
    strings(&[("info_name", names), ("info_value", values)])
}

/// (col_name, data_type, comment) of DESCRIBE's result.
type Row = (String, String, Option<String>);

fn row(name: &str, data_type: &str, comment: Option<&str>) -> Row {
    (name.into(), data_type.into(), comment.map(str::to_string))
}

fn comment(field: &Field) -> Option<String> {
    field.metadata().get(COMMENT_KEY).cloned()
}

/// One row per output column of `plan`; the comment is NULL when there is none.
fn columns(plan: &LogicalPlan) -> Vec<Row> {
    plan.schema()
        .fields()
        .iter()
        .map(|f| {
            (
                f.name().clone(),
                types::simple_string(f.data_type()),
                comment(f),
            )
        })
        .collect()
}

fn rows(rows: Vec<Row>) -> SparkResult<RecordBatch> {
    let schema = Schema::new(vec![
        Field::new("col_name", DataType::Utf8, false),
        Field::new("data_type", DataType::Utf8, false),
        Field::new("comment", DataType::Utf8, true),
    ]);
    let mut names = Vec::with_capacity(rows.len());
    let mut types = Vec::with_capacity(rows.len());
    let mut comments = Vec::with_capacity(rows.len());
    for (n, t, c) in rows {
        names.push(n);
        types.push(t);
        comments.push(c);
    }
    Ok(RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(StringArray::from(names)),
            Arc::new(StringArray::from(types)),
            Arc::new(StringArray::from(comments)),
        ],
    )?)
}

/// The Delta table a plan reads when it is nothing but that table's scan.
fn delta_location(plan: &LogicalPlan) -> Option<delta_sink::Url> {
    match plan {
        LogicalPlan::SubqueryAlias(a) => delta_location(&a.input),
        LogicalPlan::TableScan(scan) => {
            let provider = datafusion::datasource::source_as_provider(&scan.source).ok()?;
            let identity = delta_sink::read::identity(provider.as_ref())?;
            delta_sink::Url::parse(&identity.location).ok()
        }
        _ => None,
    }
}
