//! Spark's `get(array, i)` and `try_element_at(array | map, key)` for SQL text: an element
//! by position (0-based for `get`, 1-based and negative-from-the-end for `try_element_at`)
//! or a map's value by key, NULL when there is none.
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, UInt64Array};
use arrow::compute::SortOptions;
use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{exec_err, DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

/// How a function reads its position argument: the 0-based offset into a list of `len`
/// elements, or None for no element.
type Position = fn(i64, usize) -> Result<Option<usize>>;

/// Name -> how its position counts.
const FUNCTIONS: [(&str, Position); 4] = [
    ("get", zero_based),
    // `a[i]` under ANSI mode (Spark 4's default).
    (SUBSCRIPT_ANSI, zero_based_in_bounds),
    ("try_element_at", one_based),
    // DataFusion's `element_at` reads maps only (an alias of map_extract).
    ("element_at", one_based_in_bounds),
];

/// The name `a[i]` plans to under ANSI mode; `get` otherwise.
pub(crate) const SUBSCRIPT_ANSI: &str = "__sluice_subscript";

fn zero_based(i: i64, len: usize) -> Result<Option<usize>> {
    Ok(usize::try_from(i).ok().filter(|i| *i < len))
}

fn zero_based_in_bounds(i: i64, len: usize) -> Result<Option<usize>> {
    match zero_based(i, len)? {
        Some(at) => Ok(Some(at)),
        None => Err(DataFusionError::Execution(format!(
            "[INVALID_ARRAY_INDEX] The index {i} is out of bounds. The array has {len} elements. Use the SQL function `get()` to tolerate accessing element at invalid index and return NULL instead. SQLSTATE: 22003"
        ))),
    }
}

/// `element_at` under ANSI mode (Spark 4's default): a position past either end fails.
fn one_based_in_bounds(i: i64, len: usize) -> Result<Option<usize>> {
    match one_based(i, len)? {
        Some(at) => Ok(Some(at)),
        None => Err(DataFusionError::Execution(format!(
            "[INVALID_ARRAY_INDEX_IN_ELEMENT_AT] The index {i} is out of bounds. The array has {len} elements. Use `try_element_at` to tolerate accessing element at invalid index and return NULL instead. If necessary set \"spark.sql.ansi.enabled\" to \"false\" to bypass this error. SQLSTATE: 22003"
        ))),
    }
}

fn one_based(i: i64, len: usize) -> Result<Option<usize>> {
    if i == 0 {
        return Err(DataFusionError::Execution(
            "[INVALID_INDEX_OF_ZERO] The index 0 is invalid. An index shall be either < 0 or > 0 (the first element has index 1). SQLSTATE: 22003".into(),
        ));
    }
    let from_start = if i > 0 {
        usize::try_from(i - 1).ok()
    } else {
        usize::try_from(-i)
            .ok()
            .and_then(|back| len.checked_sub(back))
    };
    Ok(from_start.filter(|i| *i < len))
}

/// The SQL functions this module provides.
pub fn sql_functions() -> Vec<ScalarUDF> {
    FUNCTIONS
        .iter()
        .map(|(name, position)| {
            ScalarUDF::new_from_impl(ElementAt {
                name,
                position: *position,
                signature: Signature::any(2, Volatility::Immutable),
            })
        })
        .collect()
}

#[derive(Debug)]
struct ElementAt {
    name: &'static str,
    position: Position,
    signature: Signature,
}

/// One function per name: the name identifies it.
impl PartialEq for ElementAt {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for ElementAt {}

impl std::hash::Hash for ElementAt {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

/// The element (list) or value (map) type of a collection.
fn element_field(collection: &DataType) -> Option<FieldRef> {
    match collection {
        DataType::List(f) | DataType::LargeList(f) => Some(Arc::clone(f)),
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) => kv.get(1).cloned(),
            _ => None,
        },
        _ => None,
    }
}

impl ScalarUDFImpl for ElementAt {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        match args.first().and_then(element_field) {
            Some(f) => Ok(f.data_type().clone()),
            None => exec_err!("{} takes an array or a map", self.name),
        }
    }
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let types: Vec<DataType> = args
            .arg_fields
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        Ok(Arc::new(Field::new(
            self.name,
            self.return_type(&types)?,
            true,
        )))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [collection, key] = arrays.as_slice() else {
            return exec_err!("{} takes two arguments", self.name);
        };
        let out = match collection.data_type() {
            DataType::Map(..) => map_value(collection, key)?,
            _ => list_element(collection, key, self.position)?,
        };
        Ok(ColumnarValue::Array(out))
    }
}

/// Offsets (start, length) of each row of a list or map, None for NULL rows.
fn rows(collection: &ArrayRef) -> Result<Vec<Option<(usize, usize)>>> {
    let offsets: Vec<usize> = match collection.data_type() {
        DataType::List(_) => collection
            .as_list::<i32>()
            .value_offsets()
            .iter()
            .map(|o| *o as usize)
            .collect(),
        DataType::LargeList(_) => collection
            .as_list::<i64>()
            .value_offsets()
            .iter()
            .map(|o| *o as usize)
            .collect(),
        DataType::Map(..) => collection
            .as_map()
            .value_offsets()
            .iter()
            .map(|o| *o as usize)
            .collect(),
        other => return exec_err!("an array or a map was expected, not {other}"),
    };
    Ok((0..collection.len())
        .map(|row| {
            collection
                .is_valid(row)
                .then(|| (offsets[row], offsets[row + 1] - offsets[row]))
        })
        .collect())
}

fn list_element(list: &ArrayRef, index: &ArrayRef, position: Position) -> Result<ArrayRef> {
    let values = match list.data_type() {
        DataType::LargeList(_) => Arc::clone(list.as_list::<i64>().values()),
        _ => Arc::clone(list.as_list::<i32>().values()),
    };
    let index = arrow::compute::cast(index, &DataType::Int64)?;
    let index = index.as_primitive::<arrow::datatypes::Int64Type>();
    let take = rows(list)?
        .into_iter()
        .enumerate()
        .map(|(row, span)| match (span, index.is_valid(row)) {
            (Some((start, len)), true) => {
                Ok(position(index.value(row), len)?.map(|i| (start + i) as u64))
            }
            _ => Ok(None),
        })
        .collect::<Result<UInt64Array>>()?;
    Ok(arrow::compute::take(&values, &take, None)?)
}

fn map_value(map: &ArrayRef, key: &ArrayRef) -> Result<ArrayRef> {
    let entries = map.as_map();
    let (keys, values) = (entries.keys(), entries.values());
    let key = arrow::compute::cast(key, keys.data_type())?;
    let equal = arrow::array::make_comparator(keys.as_ref(), key.as_ref(), SortOptions::default())?;
    let take = rows(map)?
        .into_iter()
        .enumerate()
        .map(|(row, span)| {
            let (start, len) = span.filter(|_| key.is_valid(row))?;
            (start..start + len)
                .find(|i| equal(*i, row).is_eq())
                .map(|i| i as u64)
        })
        .collect::<UInt64Array>();
    Ok(arrow::compute::take(values.as_ref(), &take, None)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_as_spark() {
        assert_eq!(zero_based(0, 3).ok().flatten(), Some(0));
        assert_eq!(zero_based(3, 3).ok().flatten(), None);
        assert_eq!(zero_based(-1, 3).ok().flatten(), None);
        assert_eq!(one_based(1, 3).ok().flatten(), Some(0));
        assert_eq!(one_based(-1, 3).ok().flatten(), Some(2));
        assert_eq!(one_based(5, 3).ok().flatten(), None);
        assert_eq!(one_based(-4, 3).ok().flatten(), None);
        assert!(one_based(0, 3).is_err());
    }
}
