//! Spark's field access: `a.b` of a NULL struct is NULL (DataFusion's `get_field` returns
//! whatever the child column holds there), and `a.b` on an array of structs is the array of
//! each element's `b` (`items.name` on `items array<struct<name, qty>>`, as JSON ingestion
//! gives). Both are the session's `get_field`; a SQL planner placed before DataFusion's own
//! plans every `a.b.c` path with it.
use std::sync::{Arc, LazyLock};

use arrow::array::{Array, ArrayRef, AsArray, ListArray};
use arrow::datatypes::{DataType, Field, FieldRef, Fields};
use datafusion::common::{Column, DataFusionError, Result, ScalarValue, TableReference};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult};
use datafusion::logical_expr::{
    lit, ColumnarValue, Expr, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature,
};

/// Plans `column.name...` paths that pass through an array of structs.
#[derive(Debug, Default)]
pub struct SparkFieldAccess;

impl ExprPlanner for SparkFieldAccess {
    fn plan_compound_identifier(
        &self,
        field: &Field,
        qualifier: Option<&TableReference>,
        nested_names: &[String],
    ) -> Result<PlannerResult<Vec<Expr>>> {
        let mut expr = Expr::Column(Column::from((qualifier, field)));
        let mut ty = field.data_type().clone();
        for name in nested_names {
            let Some((fields, over_array)) = struct_fields(&ty) else {
                return Ok(PlannerResult::Original(vec![]));
            };
            let Some(f) = find(fields, name) else {
                return Ok(PlannerResult::Original(vec![]));
            };
            let value = f.data_type().clone();
            expr = get_field(expr, f.name());
            ty = if over_array {
                DataType::List(Arc::new(Field::new("element", value, true)))
            } else {
                value
            };
        }
        Ok(PlannerResult::Planned(expr))
    }
}

/// The struct fields `a.b` reads on a value of type `t`: a struct's own, or the element's
/// of an array of structs (`true`: the result is an array of the field).
pub(crate) fn struct_fields(t: &DataType) -> Option<(&Fields, bool)> {
    match t {
        DataType::Struct(fields) => Some((fields, false)),
        DataType::List(element) => match element.data_type() {
            DataType::Struct(fields) => Some((fields, true)),
            _ => None,
        },
        _ => None,
    }
}

/// `get_field(base, name)` with Spark's NULL for a NULL struct.
pub(crate) fn get_field(base: Expr, name: &str) -> Expr {
    static GET_FIELD: LazyLock<Arc<ScalarUDF>> = LazyLock::new(|| Arc::new(get_field_udf()));
    Expr::ScalarFunction(ScalarFunction::new_udf(
        GET_FIELD.clone(),
        vec![base, lit(name.to_string())],
    ))
}

/// DataFusion's `get_field`, under its own name, with a NULL struct giving NULL and an
/// array of structs giving the array of the field.
pub fn get_field_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(NullSafeGetField {
        inner: datafusion::functions::core::get_field(),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct NullSafeGetField {
    inner: Arc<ScalarUDF>,
}

impl ScalarUDFImpl for NullSafeGetField {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        self.inner.return_type(args)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        if let ([list, _], [_, Some(ScalarValue::Utf8(Some(name)))]) =
            (args.arg_fields, args.scalar_arguments)
        {
            if matches!(list.data_type(), DataType::List(_)) {
                let element = element(list.data_type(), name)?;
                return Ok(Arc::new(Field::new(
                    self.name(),
                    DataType::List(element),
                    list.is_nullable(),
                )));
            }
        }
        self.inner.return_field_from_args(args)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }

    fn schema_name(&self, args: &[Expr]) -> Result<String> {
        self.inner.schema_name(args)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let base = args.args.first().cloned();
        let rows = args.number_rows;
        if let (Some(list), Some(ColumnarValue::Scalar(ScalarValue::Utf8(Some(name))))) =
            (&base, args.args.get(1))
        {
            if matches!(list.data_type(), DataType::List(_)) {
                return Ok(match list {
                    ColumnarValue::Array(a) => ColumnarValue::Array(array_field(a, name)?),
                    ColumnarValue::Scalar(v) => {
                        let one = array_field(&v.to_array()?, name)?;
                        ColumnarValue::Scalar(ScalarValue::try_from_array(&one, 0)?)
                    }
                });
            }
        }
        let out = self.inner.invoke_with_args(args)?;
        let Some(base) = base.filter(|b| matches!(b.data_type(), DataType::Struct(_))) else {
            return Ok(out);
        };
        match (base, out) {
            (ColumnarValue::Scalar(b), out) if b.is_null() => {
                let null = ScalarValue::try_from(&out.data_type())?;
                Ok(ColumnarValue::Scalar(null))
            }
            (ColumnarValue::Array(b), out) if b.null_count() > 0 => {
                let out = out.to_array(rows)?;
                let missing = arrow::compute::is_null(&b)?;
                Ok(ColumnarValue::Array(arrow::compute::nullif(
                    &out, &missing,
                )?))
            }
            (_, out) => Ok(out),
        }
    }
}

/// A struct's field by name, matched ignoring case as Spark resolves names.
fn find<'f>(fields: &'f Fields, name: &str) -> Option<&'f FieldRef> {
    fields
        .iter()
        .find(|f| f.name() == name)
        .or_else(|| fields.iter().find(|f| f.name().eq_ignore_ascii_case(name)))
}

/// The element field of `list.name`: the struct field, nullable when a struct may be NULL.
fn element(list: &DataType, name: &str) -> Result<FieldRef> {
    let f = match (struct_fields(list), list) {
        (Some((fields, true)), DataType::List(element)) => fields
            .iter()
            .find(|f| f.name() == name)
            .map(|f| (f, element.is_nullable())),
        _ => None,
    };
    let Some((f, element_nullable)) = f else {
        return Err(DataFusionError::Plan(format!(
            "[INVALID_EXTRACT_BASE_FIELD_TYPE] Can't extract a value from {list}: need an array of structs to take the field `{name}` of each element. SQLSTATE: 42000"
        )));
    };
    Ok(Arc::new(Field::new(
        "element",
        f.data_type().clone(),
        f.is_nullable() || element_nullable,
    )))
}

/// `list.name` over an array of structs: the list of each element's field, a NULL struct
/// giving NULL.
fn array_field(list: &ArrayRef, name: &str) -> Result<ArrayRef> {
    let element = element(list.data_type(), name)?;
    let list = list.as_list::<i32>();
    let structs = list.values().as_struct();
    let column = structs
        .column_by_name(name)
        .ok_or_else(|| DataFusionError::Internal(format!("no field {name}")))?;
    // A NULL struct element gives a NULL field value.
    let values: ArrayRef = match structs.nulls() {
        Some(nulls) if structs.null_count() > 0 => {
            let combined = arrow::buffer::NullBuffer::union(Some(nulls), column.nulls());
            arrow::array::make_array(column.to_data().into_builder().nulls(combined).build()?)
        }
        _ => column.clone(),
    };
    let out = ListArray::try_new(
        element,
        list.offsets().clone(),
        values,
        list.nulls().cloned(),
    )?;
    Ok(Arc::new(out))
}
