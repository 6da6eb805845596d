//! Spark's `array(...)` constructor with Spark's element nullability: `containsNull` is
//! false when no argument can be null (`array(1, 2)` is `array<int>` with non-null
//! elements), so `explode` of it gives a non-null column. The constructor registered by
//! datafusion-spark always declares nullable elements; this wraps it and narrows the type.
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
};

#[derive(Debug, PartialEq, Eq, Hash)]
struct SparkArrayCtor {
    inner: Arc<ScalarUDF>,
}

/// The `array` function to register in place of `inner` (the session's own `array`).
pub fn wrap(inner: Arc<ScalarUDF>) -> ScalarUDF {
    ScalarUDF::new_from_impl(SparkArrayCtor { inner })
}

impl ScalarUDFImpl for SparkArrayCtor {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        // Spark's CreateArray: containsNull when any argument is nullable (so not for `array()`).
        let elements_nullable = args.arg_fields.iter().any(|f| f.is_nullable());
        let field = self.inner.return_field_from_args(args)?;
        match field.data_type() {
            DataType::List(item) if item.is_nullable() && !elements_nullable => {
                let item = Field::new(item.name(), item.data_type().clone(), false);
                Ok(Arc::new(
                    field
                        .as_ref()
                        .clone()
                        .with_data_type(DataType::List(Arc::new(item))),
                ))
            }
            _ => Ok(field),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let declared = args.return_field.data_type().clone();
        // The implementation itself: the registered function would check its result
        // against the narrowed type and fail before the cast below.
        let value = self.inner.inner().invoke_with_args(args)?;
        if value.data_type() == declared {
            return Ok(value);
        }
        // Only the elements' nullability differs, and no element is null.
        value.cast_to(&declared, None)
    }
}
