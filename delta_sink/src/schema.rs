//! Delta's schema enforcement on write: data columns are matched to the table's by name
//! (case-insensitively), missing columns become NULL, narrower integers widen, and any other
//! difference fails unless the writer asked for a schema change.
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::logical_expr::{cast, col, lit, Expr, LogicalPlan, LogicalPlanBuilder, Projection};

use crate::error::{DeltaError, DeltaResult};

/// How the data may change the table's schema.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SchemaChange {
    /// Enforce the table's schema.
    None,
    /// `mergeSchema`: add new columns.
    Merge,
    /// `overwriteSchema` (overwrite only): the data's schema replaces the table's.
    Overwrite,
}

/// The type Delta stores for an Arrow type: timestamps are microseconds, UTC-adjusted ones
/// in UTC; strings and binaries in their plain layout.
pub fn storage_type(t: &DataType) -> DataType {
    match t {
        DataType::Timestamp(_, Some(_)) => {
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        }
        DataType::Timestamp(_, None) => DataType::Timestamp(TimeUnit::Microsecond, None),
        DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
        DataType::BinaryView | DataType::LargeBinary => DataType::Binary,
        DataType::List(f) | DataType::LargeList(f) | DataType::ListView(f) => {
            DataType::List(Arc::new(storage_field(f)))
        }
        DataType::Struct(fields) => {
            DataType::Struct(fields.iter().map(|f| storage_field(f)).collect())
        }
        DataType::Map(f, sorted) => DataType::Map(Arc::new(storage_field(f)), *sorted),
        other => other.clone(),
    }
}

fn storage_field(f: &Field) -> Field {
    Field::new(f.name(), storage_type(f.data_type()), f.is_nullable())
}

/// Whether Delta widens `data` into a `table` column implicitly on write.
fn widens(data: &DataType, table: &DataType) -> bool {
    use DataType::*;
    let rank = |t: &DataType| match t {
        Int8 => Some(1),
        Int16 => Some(2),
        Int32 => Some(3),
        Int64 => Some(4),
        _ => None,
    };
    match (rank(data), rank(table)) {
        (Some(d), Some(t)) => d <= t,
        _ => matches!((data, table), (Float32, Float64)),
    }
}

/// Spark's name for a type in schema messages.
fn type_name(t: &DataType) -> String {
    use DataType::*;
    match t {
        Int8 => "byte".into(),
        Int16 => "short".into(),
        Int32 => "integer".into(),
        Int64 => "long".into(),
        Float32 => "float".into(),
        Float64 => "double".into(),
        Utf8 | LargeUtf8 | Utf8View => "string".into(),
        Boolean => "boolean".into(),
        Binary | LargeBinary | BinaryView => "binary".into(),
        Date32 => "date".into(),
        Timestamp(_, Some(_)) => "timestamp".into(),
        Timestamp(_, None) => "timestamp_ntz".into(),
        Decimal128(p, s) => format!("decimal({p},{s})"),
        other => other.to_string().to_lowercase(),
    }
}

fn tree(schema: &Schema) -> String {
    let mut out = String::from("root\n");
    for f in schema.fields() {
        out.push_str(&format!(
            " |-- {}: {} (nullable = {})\n",
            f.name(),
            type_name(f.data_type()),
            f.is_nullable()
        ));
    }
    out
}

fn mismatch(table: &Schema, data: &Schema, detail: &str) -> DeltaError {
    DeltaError::SchemaMismatch(format!(
        "[DELTA_METADATA_MISMATCH] A schema mismatch detected when writing to the Delta table. {detail}\nTo enable schema migration using DataFrameWriter or DataStreamWriter, please set:\n'.option(\"mergeSchema\", \"true\")'.\n\nTable schema:\n{}\nData schema:\n{}",
        tree(table),
        tree(data)
    ))
}

/// Rewrites `input` so its columns line up with `table`'s (order, names, types); data
/// columns the table lacks stay at the end when `change` is `Merge`.
pub fn align(
    input: LogicalPlan,
    table: &SchemaRef,
    change: SchemaChange,
) -> DeltaResult<LogicalPlan> {
    if change == SchemaChange::Overwrite {
        return storage_plan(input);
    }
    let data: Schema = input.schema().as_arrow().clone();
    let find = |name: &str| {
        data.fields()
            .iter()
            .position(|f| f.name().eq_ignore_ascii_case(name))
    };
    let mut exprs = Vec::new();
    for tf in table.fields() {
        match find(tf.name()) {
            Some(i) => {
                let df = data.field(i);
                let source = col(datafusion::common::Column::from_name(df.name()));
                let want = tf.data_type();
                let have = storage_type(df.data_type());
                let e = if &have == want {
                    source
                } else if widens(&have, want) || compatible_layout(&have, want) {
                    cast(source, want.clone())
                } else if matches!(have, DataType::Null) {
                    cast(lit(ScalarValue::Null), want.clone())
                } else if change == SchemaChange::Merge && widens(want, &have) {
                    return Err(DeltaError::SchemaMismatch(format!(
                        "[DELTA_MERGE_INCOMPATIBLE_DATATYPE] Failed to merge incompatible data types {} and {} for column `{}` (type widening is not enabled on this table).",
                        type_name(want), type_name(&have), tf.name()
                    )));
                } else if widens(want, &have) {
                    return Err(mismatch(
                        table,
                        &data,
                        &format!(
                            "Column `{}` is {} in the table but {} in the data.",
                            tf.name(),
                            type_name(want),
                            type_name(&have)
                        ),
                    ));
                } else {
                    return Err(DeltaError::SchemaMismatch(format!(
                        "[DELTA_FAILED_TO_MERGE_FIELDS] Failed to merge fields '{}' and '{}': the table has type {} and the data has type {}.",
                        tf.name(), df.name(), type_name(want), type_name(&have)
                    )));
                };
                exprs.push(e.alias(tf.name()));
            }
            None => {
                exprs.push(cast(lit(ScalarValue::Null), tf.data_type().clone()).alias(tf.name()))
            }
        }
    }
    let extra: Vec<&Arc<Field>> = data
        .fields()
        .iter()
        .filter(|f| {
            !table
                .fields()
                .iter()
                .any(|t| t.name().eq_ignore_ascii_case(f.name()))
        })
        .collect();
    if !extra.is_empty() {
        if change != SchemaChange::Merge {
            let names: Vec<String> = extra.iter().map(|f| format!("`{}`", f.name())).collect();
            return Err(mismatch(
                table,
                &data,
                &format!(
                    "The data has columns the table does not: {}.",
                    names.join(", ")
                ),
            ));
        }
        for f in extra {
            let c = col(datafusion::common::Column::from_name(f.name()));
            exprs.push(cast(c, storage_type(f.data_type())).alias(f.name()));
        }
    }
    nullable(LogicalPlanBuilder::from(input).project(exprs)?.build()?)
}

/// Same shape with only a different physical layout (views, time units).
fn compatible_layout(have: &DataType, want: &DataType) -> bool {
    &storage_type(have) == want
}

/// The data in Delta's storage types, all columns nullable (Delta stores DataFrame columns
/// as nullable, so later writes may carry NULLs).
pub fn storage_plan(input: LogicalPlan) -> DeltaResult<LogicalPlan> {
    let exprs: Vec<Expr> = input
        .schema()
        .fields()
        .iter()
        .map(|f| {
            let c = col(datafusion::common::Column::from_name(f.name()));
            let t = storage_type(f.data_type());
            if &t == f.data_type() {
                c
            } else {
                cast(c, t).alias(f.name())
            }
        })
        .collect();
    let plan = LogicalPlanBuilder::from(input).project(exprs)?.build()?;
    nullable(plan)
}

/// Marks every output column of `plan` nullable (the rows are unchanged).
pub fn nullable(plan: LogicalPlan) -> DeltaResult<LogicalPlan> {
    let LogicalPlan::Projection(p) = plan else {
        return Ok(plan);
    };
    let fields: Vec<Field> = p
        .schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_nullable(true))
        .collect();
    let qualified = p
        .schema
        .iter()
        .zip(fields)
        .map(|((q, _), f)| (q.cloned(), Arc::new(f)))
        .collect::<Vec<_>>();
    let schema = DFSchema::new_with_metadata(qualified, p.schema.metadata().clone())?;
    Ok(LogicalPlan::Projection(Projection::try_new_with_schema(
        p.expr,
        p.input,
        Arc::new(schema),
    )?))
}

/// The table schema as Delta will store a new table made from `schema`.
pub fn storage_schema(schema: &Schema) -> SchemaRef {
    Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| storage_field(f).with_nullable(true))
            .collect::<Vec<_>>(),
    ))
}
