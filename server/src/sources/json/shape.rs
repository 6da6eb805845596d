//! The type of JSON values as Spark's schema inference sees them (`JsonInferSchema`), kept as
//! a lattice that a scan merges into in place, and the check that values of a given shape
//! decode through arrow-json exactly as through the per-row reader.
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields};

#[derive(Debug, Clone, PartialEq, Default)]
pub enum Shape {
    /// Nothing seen yet, or only JSON `null`.
    #[default]
    Null,
    Bool,
    /// A JSON integer that fits a long.
    Int,
    /// Any other JSON number.
    Float,
    Str,
    /// Values of kinds that do not widen into one another (Spark's string).
    Conflict,
    List(Box<Shape>),
    /// Fields in the order first seen.
    Struct(Vec<(String, Shape)>),
}

impl Shape {
    /// Spark's `compatibleType`: numbers widen to double, lists and structs merge inside,
    /// anything else that differs is a conflict.
    pub fn merge(&mut self, other: Shape) {
        use Shape::*;
        match (&mut *self, other) {
            (_, Null) | (Conflict, _) => {}
            (Null, other) => *self = other,
            (_, Conflict) => *self = Conflict,
            (Bool, Bool) | (Int, Int) | (Float, Float) | (Float, Int) | (Str, Str) => {}
            (Int, Float) => *self = Float,
            (List(a), List(b)) => a.merge(*b),
            (Struct(a), Struct(b)) => {
                for (name, shape) in b {
                    field_slot(a, &name).merge(shape);
                }
            }
            _ => *self = Conflict,
        }
    }

    /// Spark's `canonicalizeType`: what was never set becomes a string, fields with empty
    /// names and empty structs disappear (None), lists of nothing are dropped with them.
    pub fn data_type(&self, primitives_as_string: bool) -> Option<DataType> {
        use Shape::*;
        Some(match self {
            Null | Str | Conflict => DataType::Utf8,
            Bool | Int | Float if primitives_as_string => DataType::Utf8,
            Bool => DataType::Boolean,
            Int => DataType::Int64,
            Float => DataType::Float64,
            List(element) => DataType::List(Arc::new(Field::new(
                "element",
                element.data_type(primitives_as_string)?,
                true,
            ))),
            Struct(fields) => {
                let fields = sorted_fields(fields, primitives_as_string);
                if fields.is_empty() {
                    return None;
                }
                DataType::Struct(fields)
            }
        })
    }

    /// Whether every value of this shape decodes into `ty` through arrow-json (no primitive
    /// coercion) with the result the per-row reader gives. Other cases (int ranges, strings
    /// parsed as numbers or dates, numbers as strings, ...) are left to the per-row reader.
    pub fn fits(&self, ty: &DataType) -> bool {
        use Shape::*;
        match (self, ty) {
            (Null, _) => true,
            (Bool, DataType::Boolean)
            | (Int, DataType::Int64 | DataType::Float64)
            | (Float, DataType::Float64)
            | (Str, DataType::Utf8) => true,
            (List(element), DataType::List(f)) => element.fits(f.data_type()),
            (Struct(fields), DataType::Struct(target)) => fits_fields(fields, target),
            _ => false,
        }
    }
}

/// The slot of field `name`, added (as Null) when new.
pub fn field_slot<'a>(fields: &'a mut Vec<(String, Shape)>, name: &str) -> &'a mut Shape {
    let at = match fields.iter().position(|(n, _)| n == name) {
        Some(at) => at,
        None => {
            fields.push((name.to_string(), Shape::Null));
            fields.len() - 1
        }
    };
    &mut fields[at].1
}

/// Canonical fields sorted by name, as Spark orders an inferred struct.
pub fn sorted_fields(fields: &[(String, Shape)], primitives_as_string: bool) -> Fields {
    let mut out: Vec<Field> = fields
        .iter()
        .filter(|(name, _)| !name.is_empty())
        .filter_map(|(name, s)| {
            s.data_type(primitives_as_string)
                .map(|t| Field::new(name, t, true))
        })
        .collect();
    out.sort_by(|a, b| a.name().cmp(b.name()));
    out.into()
}

/// Whether the fields of a record fit the target's fields (fields the target lacks are skipped
/// by both readers).
pub fn fits_fields(fields: &[(String, Shape)], target: &Fields) -> bool {
    fields.iter().all(|(name, shape)| {
        target
            .iter()
            .find(|f| f.name() == name)
            .is_none_or(|f| shape.fits(f.data_type()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(fields: &[(&str, Shape)]) -> Shape {
        Shape::Struct(
            fields
                .iter()
                .map(|(n, s)| (n.to_string(), s.clone()))
                .collect(),
        )
    }

    #[test]
    fn merges_like_spark() {
        let mut s = record(&[("b", Shape::Int), ("a", Shape::Str)]);
        s.merge(record(&[("b", Shape::Float), ("c", Shape::Null)]));
        s.merge(record(&[("a", Shape::Int)]));
        let ty = s.data_type(false).unwrap();
        let DataType::Struct(fields) = ty else {
            panic!("{ty}")
        };
        let got: Vec<(String, DataType)> = fields
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a".into(), DataType::Utf8),
                ("b".into(), DataType::Float64),
                ("c".into(), DataType::Utf8)
            ]
        );
        // Empty structs vanish, with lists of them.
        let empty = record(&[("x", Shape::List(Box::new(record(&[]))))]);
        assert_eq!(empty.data_type(false), None);
    }

    #[test]
    fn fits_only_exact_decodes() {
        assert!(Shape::Int.fits(&DataType::Float64));
        assert!(!Shape::Int.fits(&DataType::Int32));
        assert!(!Shape::Int.fits(&DataType::Utf8));
        assert!(!Shape::Conflict.fits(&DataType::Utf8));
        assert!(!Shape::Str.fits(&DataType::Date32));
        let target: Fields = vec![Field::new("a", DataType::Int64, true)].into();
        assert!(fits_fields(
            &[("a".into(), Shape::Int), ("z".into(), Shape::Conflict)],
            &target
        ));
    }
}
