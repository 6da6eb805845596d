//! Spark's generators in a select list: `explode`, `explode_outer`, `posexplode`,
//! `posexplode_outer`, over arrays (one column, `col`) and maps (`key`, `value`), with
//! `pos` first for the positional ones. Each is planned as a DataFusion unnest: a map is
//! unnested as its entries, and a position as the list `0 .. size` unnested beside it.
use arrow::datatypes::DataType;
use datafusion::common::{Column, DFSchema, ScalarValue};
use datafusion::logical_expr::expr::Unnest;
use datafusion::logical_expr::{
    cast, lit, when, Expr, ExprSchemable, LogicalPlan, LogicalPlanBuilder,
};

use crate::error::{PlanError, PlanResult};
use crate::functions::{scalar, Call};
use crate::not_null::known_not_null;
use crate::relation::strip_alias;
use crate::Planner;

/// Marks a generator's collection inside its `Expr::Unnest` with what kind it is.
const MARKER: &str = "__sluice_generator";

/// Joins the names of a multi-name alias (`explode(m).alias("k", "v")`) into one alias.
pub(crate) const ALIAS_SEPARATOR: char = '\u{1f}';

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Kind {
    /// A NULL or empty collection still gives one row, of NULLs.
    pub outer: bool,
    /// A `pos` column (0-based INT) comes first.
    pub position: bool,
}

impl Kind {
    fn marker(self) -> String {
        format!("{MARKER}:{}:{}", self.outer, self.position)
    }

    /// The kind an unnested expression was marked with, and the collection under it.
    pub(crate) fn of(unnested: &Expr) -> (Self, &Expr) {
        if let Expr::Alias(a) = unnested {
            let mut parts = a.name.split(':');
            if parts.next() == Some(MARKER) {
                let flag = |p: Option<&str>| p == Some("true");
                let kind = Kind {
                    outer: flag(parts.next()),
                    position: flag(parts.next()),
                };
                return (kind, a.expr.as_ref());
            }
        }
        (Kind::default(), unnested)
    }

    /// The generator over `collection`, as an unnest marked with this kind.
    pub(crate) fn unnest(self, collection: Expr) -> Expr {
        Expr::Unnest(Unnest::new(collection.alias(self.marker())))
    }

    /// The generator over the single argument of `c`.
    fn call(self, c: Call) -> PlanResult<Expr> {
        let [x] = <[Expr; 1]>::try_from(c.args)
            .map_err(|_| PlanError::analysis("A generator takes exactly one argument"))?;
        Ok(self.unnest(x))
    }
}

const EXPLODE: Kind = Kind {
    outer: false,
    position: false,
};
const EXPLODE_OUTER: Kind = Kind {
    outer: true,
    position: false,
};
const POSEXPLODE: Kind = Kind {
    outer: false,
    position: true,
};
const POSEXPLODE_OUTER: Kind = Kind {
    outer: true,
    position: true,
};

/// Spark's generator functions by name.
const GENERATORS: [(&str, Kind); 4] = [
    ("explode", EXPLODE),
    ("explode_outer", EXPLODE_OUTER),
    ("posexplode", POSEXPLODE),
    ("posexplode_outer", POSEXPLODE_OUTER),
];

/// The kind of the generator function `name`, if it is one.
pub(crate) fn generator_kind(name: &str) -> Option<Kind> {
    GENERATORS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, k)| *k)
}

pub(crate) fn explode(c: Call) -> PlanResult<Expr> {
    EXPLODE.call(c)
}

pub(crate) fn explode_outer(c: Call) -> PlanResult<Expr> {
    EXPLODE_OUTER.call(c)
}

pub(crate) fn posexplode(c: Call) -> PlanResult<Expr> {
    POSEXPLODE.call(c)
}

pub(crate) fn posexplode_outer(c: Call) -> PlanResult<Expr> {
    POSEXPLODE_OUTER.call(c)
}

/// The columns (name, type, nullable) a generator of `kind` gives over a `collection`, or
/// Spark's message when it is not an array or a map.
pub(crate) fn output_fields(
    kind: Kind,
    collection: &DataType,
) -> Result<Vec<(&'static str, DataType, bool)>, String> {
    let mut fields = match collection {
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(f) if f.len() == 2 => vec![
                ("key", f[0].data_type().clone(), kind.outer),
                (
                    "value",
                    f[1].data_type().clone(),
                    kind.outer || f[1].is_nullable(),
                ),
            ],
            _ => return Err("a map without key and value".into()),
        },
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            vec![("col", f.data_type().clone(), kind.outer || f.is_nullable())]
        }
        DataType::Null => vec![("col", DataType::Null, true)],
        other => return Err(unexpected_input(other)),
    };
    if kind.position {
        fields.insert(0, ("pos", DataType::Int32, kind.outer));
    }
    Ok(fields)
}

fn unexpected_input(t: &DataType) -> String {
    format!(
        "[DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE] Cannot resolve the generator's input: the parameter requires the \"ARRAY\" or \"MAP\" type, however it has the type \"{}\". SQLSTATE: 42K09",
        crate::types::sql_name(t)
    )
}

/// One generator as a projection below the unnest, the columns to unnest, and the output
/// columns above it.
pub(crate) struct Planned {
    pub inner: Vec<Expr>,
    pub unnest: Vec<String>,
    pub outer: Vec<Expr>,
    pub outer_kind: bool,
}

/// Plans the generator `unnested` (the expression under `Expr::Unnest`), selected as item
/// `i` with `alias` (names joined by [`ALIAS_SEPARATOR`]) over `schema`.
pub(crate) fn plan(
    p: &Planner,
    unnested: &Expr,
    alias: Option<&str>,
    i: usize,
    schema: &DFSchema,
) -> PlanResult<Planned> {
    let (kind, collection) = Kind::of(unnested);
    let tmp = format!("__sluice_generator_{i}");
    let pos_tmp = format!("__sluice_generator_pos_{i}");
    let column = || Expr::Column(Column::from_name(&tmp));
    let ty = collection.get_type(schema)?;
    let fields = output_fields(kind, &ty).map_err(PlanError::analysis)?;
    // The collection to unnest and, read from its unnested column, each output column
    // (after `pos`, which is unnested beside it).
    let (value, mut columns) = match ty {
        DataType::Map(..) => {
            let field = |f: &str| scalar(p, "get_field", vec![column(), lit(f)]);
            let entries = scalar(p, "map_entries", vec![collection.clone()])?;
            (entries, vec![field("key")?, field("value")?])
        }
        _ => (collection.clone(), vec![column()]),
    };
    let value = if kind.outer {
        // Unnesting keeps a row only for a NULL collection: make an empty one NULL.
        let size = scalar(p, "cardinality", vec![collection.clone()])?;
        when(size.eq(lit(0u64)), lit(ScalarValue::Null)).otherwise(value)?
    } else {
        value
    };
    let mut inner = vec![value.alias(&tmp)];
    let mut unnest = vec![tmp.clone()];
    if kind.position {
        // The positions 0 .. size, unnested in step with the collection.
        let size = cast(
            scalar(p, "cardinality", vec![collection.clone()])?,
            DataType::Int64,
        );
        inner.push(scalar(p, "range", vec![lit(0i64), size])?.alias(&pos_tmp));
        unnest.push(pos_tmp.clone());
        let pos = cast(Expr::Column(Column::from_name(&pos_tmp)), DataType::Int32);
        columns.insert(0, pos);
    }
    // DataFusion's unnest declares every column nullable; Spark's nullability is
    // `output_fields`'s, so the columns that cannot be null say so.
    let outer: Vec<Expr> = columns
        .into_iter()
        .zip(&fields)
        .map(|(e, (_, _, nullable))| if *nullable { e } else { known_not_null(e) })
        .collect();
    let mut names: Vec<&str> = fields.iter().map(|(name, _, _)| *name).collect();
    if let Some(alias) = alias {
        let given: Vec<&str> = alias.split(ALIAS_SEPARATOR).collect();
        if given.len() != names.len() {
            return Err(PlanError::analysis(format!(
                "[UDTF_ALIAS_NUMBER_MISMATCH] The number of aliases supplied in the AS clause does not match the number of columns output by the UDTF. Expected {} aliases, but got {}. Please ensure that the number of aliases provided matches the number of columns output by the UDTF. SQLSTATE: 42802",
                names.len(),
                given.join(", ")
            )));
        }
        names = given;
    }
    Ok(Planned {
        inner,
        unnest,
        outer: outer
            .into_iter()
            .zip(names)
            .map(|(e, n)| e.alias(n))
            .collect(),
        outer_kind: kind.outer,
    })
}

/// Projects `items` over `input` where some items are generators (`Expr::Unnest`, possibly
/// aliased): the generators' collections and the other items are projected under temporary
/// names, unnested, then named as Spark names them. Several generators multiply: each is
/// unnested in turn, the first varying slowest.
pub(crate) fn project(
    p: &Planner,
    input: LogicalPlan,
    items: Vec<Expr>,
) -> PlanResult<LogicalPlan> {
    let input_schema = input.schema().clone();
    let mut inner = vec![];
    let mut outer = vec![];
    let mut unnests = vec![];
    for (i, e) in items.into_iter().enumerate() {
        if let (Expr::Unnest(u), alias) = strip_alias(&e) {
            let g = plan(p, &u.expr, alias, i, &input_schema)?;
            inner.extend(g.inner);
            let columns: Vec<Column> = g.unnest.iter().map(Column::from_name).collect();
            unnests.push((columns, g.outer_kind));
            outer.extend(g.outer);
        } else {
            // The column keeps its qualifier (`t.k`) for the operators above it.
            let (qualifier, name) = e.qualified_name();
            let tmp = format!("__sluice_keep_{i}");
            inner.push(e.alias(&tmp));
            outer.push(Expr::Column(Column::from_name(tmp)).alias_qualified(qualifier, name));
        }
    }
    let mut builder = LogicalPlanBuilder::from(input).project(inner)?;
    for (columns, preserve_nulls) in unnests {
        let options = datafusion::common::UnnestOptions::new().with_preserve_nulls(preserve_nulls);
        builder = builder.unnest_columns_with_options(columns, options)?;
    }
    Ok(builder.project(outer)?.build()?)
}
