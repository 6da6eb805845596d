//! Spark's generators in SQL text: `SELECT explode(m) AS (k, v)`, `posexplode(a)`,
//! `explode_outer(...)`, and the `LATERAL VIEW [OUTER]` derived tables built from them.
//!
//! DataFusion's SQL planner has no generators, so each generator item becomes one select
//! item per output column, `__sluice_generator(collection, 'meta') AS name`: a marker
//! function whose declared type is that column's, so the rest of the query (ORDER BY, outer
//! queries, joins) plans against the right columns. After planning, a projection holding
//! markers is replaced by the generator's unnest ([`crate::generator::project`]).
//!
//! A generator's column count depends on whether it reads a map: the text is first planned
//! reading arrays, and a call found to read a map is planned again with a map's columns.
use std::collections::HashSet;
use std::ops::ControlFlow;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, Expr, LogicalPlan, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};
use datafusion::sql::sqlparser::ast::{
    Expr as SqlExpr, Function, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, Select,
    SelectItem, Visit, Visitor, VisitorMut,
};

use crate::error::{PlanError, PlanResult};
use crate::generator::{generator_kind, output_fields, Kind, ALIAS_SEPARATOR};
use crate::relation::strip_alias;
use crate::Planner;

/// The marker function's name.
pub(crate) const MARKER_FUNCTION: &str = "__sluice_generator";

/// Starts the error that asks for the call with this id to be planned again as a map's.
const READS_A_MAP: &str = "__sluice_generator_reads_a_map:";

/// What one marker column is: the generator call it belongs to, the column's place among
/// the call's columns, how many the call was given, and whether the query named them.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Meta {
    kind: Kind,
    call: usize,
    index: usize,
    count: usize,
    named: bool,
}

impl Meta {
    fn encode(&self) -> String {
        format!(
            "{}:{}:{}:{}:{}:{}",
            self.kind.outer, self.kind.position, self.call, self.index, self.count, self.named
        )
    }

    fn decode(text: &str) -> Option<Self> {
        let parts: Vec<&str> = text.split(':').collect();
        let [outer, position, call, index, count, named] = parts.as_slice() else {
            return None;
        };
        Some(Self {
            kind: Kind {
                outer: *outer == "true",
                position: *position == "true",
            },
            call: call.parse().ok()?,
            index: index.parse().ok()?,
            count: count.parse().ok()?,
            named: *named == "true",
        })
    }
}

/// A generator call `name(x)`: its kind and its one argument.
fn generator_call(e: &SqlExpr) -> Option<(Kind, &Function)> {
    let SqlExpr::Function(f) = e else { return None };
    let kind = generator_kind(&f.name.to_string())?;
    Some((kind, f))
}

pub(crate) fn only_argument(f: &Function) -> PlanResult<SqlExpr> {
    let args = match &f.args {
        FunctionArguments::List(list) => list.args.as_slice(),
        _ => &[],
    };
    match args {
        [FunctionArg::Unnamed(FunctionArgExpr::Expr(e))] => Ok(e.clone()),
        _ => Err(PlanError::analysis(format!(
            "[WRONG_NUM_ARGS.WITHOUT_SUGGESTION] The `{}` requires 1 parameters but the actual number is {}. Please, refer to 'https://spark.apache.org/docs/latest/sql-ref-functions.html' for a fix. SQLSTATE: 42605",
            f.name.to_string().to_lowercase(),
            args.len()
        ))),
    }
}

/// Rewrites the generator items of every SELECT into marker items; `maps` holds the calls
/// (numbered in the order they are met) known to read a map.
pub(crate) struct Generators<'a> {
    pub maps: &'a HashSet<usize>,
    pub next_call: usize,
}

impl VisitorMut for Generators<'_> {
    type Break = PlanError;

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<PlanError> {
        match self.rewrite(select) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => ControlFlow::Break(e),
        }
    }
}

impl Generators<'_> {
    fn rewrite(&mut self, select: &mut Select) -> PlanResult<()> {
        let mut items = Vec::with_capacity(select.projection.len());
        for item in std::mem::take(&mut select.projection) {
            let (expr, names) = match &item {
                SelectItem::UnnamedExpr(e) => (e, None),
                SelectItem::ExprWithAlias { expr, alias } => (expr, Some(vec![alias.clone()])),
                SelectItem::ExprWithAliases { expr, aliases } => (expr, Some(aliases.clone())),
                _ => {
                    items.push(item);
                    continue;
                }
            };
            let Some((kind, f)) = generator_call(expr) else {
                items.push(item);
                continue;
            };
            let argument = only_argument(f)?;
            let call = self.next_call;
            self.next_call += 1;
            let names = names.unwrap_or_else(|| default_names(kind, self.maps.contains(&call)));
            let named = !matches!(item, SelectItem::UnnamedExpr(_));
            for (index, name) in names.iter().enumerate() {
                let meta = Meta {
                    kind,
                    call,
                    index,
                    count: names.len(),
                    named,
                };
                items.push(SelectItem::ExprWithAlias {
                    expr: crate::sql_syntax::call(
                        MARKER_FUNCTION,
                        vec![argument.clone(), crate::sql_syntax::string(meta.encode())],
                    ),
                    alias: name.clone(),
                });
            }
        }
        select.projection = items;
        // Whatever generator is left sits inside another expression or clause.
        for item in &select.projection {
            if find_generator(item).is_some() {
                return Err(nested(&item.to_string()));
            }
        }
        let clauses = [select.selection.as_ref(), select.having.as_ref()];
        if let Some(f) = clauses.into_iter().flatten().find_map(find_generator) {
            return Err(PlanError::analysis(format!(
                "[UNSUPPORTED_GENERATOR.OUTSIDE_SELECT] The generator is not supported: outside the SELECT clause, found: {f}. SQLSTATE: 42K0E"
            )));
        }
        Ok(())
    }
}

fn nested(item: &str) -> PlanError {
    PlanError::analysis(format!(
        "[UNSUPPORTED_GENERATOR.NESTED_IN_EXPRESSIONS] The generator is not supported: nested in expressions \"{item}\". SQLSTATE: 42K0E"
    ))
}

/// The first generator call in `node`, as text.
fn find_generator<V: Visit>(node: &V) -> Option<String> {
    struct Find;
    impl Visitor for Find {
        type Break = String;
        fn pre_visit_expr(&mut self, e: &SqlExpr) -> ControlFlow<String> {
            match generator_call(e) {
                Some(_) => ControlFlow::Break(e.to_string()),
                None => ControlFlow::Continue(()),
            }
        }
    }
    match node.visit(&mut Find) {
        ControlFlow::Break(f) => Some(f),
        ControlFlow::Continue(()) => None,
    }
}

/// The error for a generator inside a standalone expression (`selectExpr("explode(a) + 1")`).
pub(crate) fn check_not_nested(e: &SqlExpr) -> PlanResult<()> {
    match find_generator(e) {
        Some(_) => Err(nested(&e.to_string())),
        None => Ok(()),
    }
}

/// Spark's column names for a generator whose output the query does not name.
fn default_names(kind: Kind, map: bool) -> Vec<Ident> {
    let mut names: Vec<&str> = if map {
        vec!["key", "value"]
    } else {
        vec!["col"]
    };
    if kind.position {
        names.insert(0, "pos");
    }
    names.into_iter().map(Ident::new).collect()
}

/// The id of the generator call a failed plan asks to plan again as reading a map.
pub(crate) fn reads_a_map(e: &PlanError) -> Option<usize> {
    let text = e.to_string();
    let at = text.find(READS_A_MAP)? + READS_A_MAP.len();
    let digits: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The marker function: typed as the generator column it stands for; never run.
#[derive(Debug, PartialEq, Eq, Hash)]
struct GeneratorColumn {
    signature: Signature,
}

pub fn marker_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(GeneratorColumn {
        signature: Signature::any(2, Volatility::Immutable),
    })
}

fn analysis(message: String) -> DataFusionError {
    DataFusionError::External(Box::new(PlanError::analysis(message)))
}

impl ScalarUDFImpl for GeneratorColumn {
    fn name(&self) -> &str {
        MARKER_FUNCTION
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Err(DataFusionError::Internal(
            "a generator column is typed from its arguments".into(),
        ))
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let meta = match args.scalar_arguments.get(1) {
            Some(Some(ScalarValue::Utf8(Some(text)))) => Meta::decode(text),
            _ => None,
        }
        .ok_or_else(|| DataFusionError::Internal("generator column metadata".into()))?;
        let collection = args
            .arg_fields
            .first()
            .map(|f| f.data_type().clone())
            .unwrap_or(DataType::Null);
        let fields = output_fields(meta.kind, &collection).map_err(analysis)?;
        if fields.len() != meta.count {
            if meta.named {
                return Err(analysis(format!(
                    "[UDTF_ALIAS_NUMBER_MISMATCH] The number of aliases supplied in the AS clause does not match the number of columns output by the UDTF. Expected {} aliases, but got {}. Please ensure that the number of aliases provided matches the number of columns output by the UDTF. SQLSTATE: 42802",
                    fields.len(),
                    meta.count
                )));
            }
            return Err(DataFusionError::Plan(format!("{READS_A_MAP}{}", meta.call)));
        }
        let (name, data_type, nullable) = fields[meta.index].clone();
        Ok(Arc::new(Field::new(name, data_type, nullable)))
    }

    fn invoke_with_args(&self, _: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Err(DataFusionError::Execution(
            "a generator ran outside the select list that owns it".into(),
        ))
    }
}

/// The marker's collection and metadata, when `e` (under its alias) is a marker.
fn marker(e: &Expr) -> Option<(&Expr, Meta)> {
    let Expr::ScalarFunction(f) = strip_alias(e).0 else {
        return None;
    };
    if f.func.name() != MARKER_FUNCTION {
        return None;
    }
    match f.args.as_slice() {
        [collection, Expr::Literal(ScalarValue::Utf8(Some(text)), _)] => {
            Some((collection, Meta::decode(text)?))
        }
        _ => None,
    }
}

/// Replaces every projection holding markers with its generators' unnest.
pub(crate) fn expand(p: &Planner, plan: LogicalPlan) -> PlanResult<LogicalPlan> {
    let mut failure = None;
    let out = plan.transform_up_with_subqueries(|node| {
        let LogicalPlan::Projection(projection) = &node else {
            return Ok(Transformed::no(node));
        };
        if !projection.expr.iter().any(|e| marker(e).is_some()) {
            return Ok(Transformed::no(node));
        }
        match expand_projection(p, projection) {
            Ok(plan) => Ok(Transformed::yes(plan)),
            Err(e) => {
                let text = e.to_string();
                failure = Some(e);
                Err(DataFusionError::Plan(text))
            }
        }
    });
    match (out, failure) {
        (_, Some(e)) => Err(e),
        (Ok(t), None) => Ok(t.data),
        (Err(e), None) => Err(e.into()),
    }
}

fn expand_projection(
    p: &Planner,
    projection: &datafusion::logical_expr::Projection,
) -> PlanResult<LogicalPlan> {
    let mut items = vec![];
    let mut seen: HashSet<usize> = HashSet::new();
    for e in &projection.expr {
        let Some((collection, meta)) = marker(e) else {
            items.push(e.clone());
            continue;
        };
        if !seen.insert(meta.call) {
            continue;
        }
        let names: Vec<String> = projection
            .expr
            .iter()
            .filter(|other| marker(other).is_some_and(|(_, m)| m.call == meta.call))
            .map(|other| other.schema_name().to_string())
            .collect();
        let unnest = meta.kind.unnest(collection.clone());
        items.push(unnest.alias(names.join(&ALIAS_SEPARATOR.to_string())));
    }
    crate::generator::project(p, projection.input.as_ref().clone(), items)
}

/// `__sluice_generator(x, meta)` as a DataFusion call, for tests of the marker's typing.
#[cfg(test)]
fn marker_call(x: Expr, meta: Meta) -> Expr {
    use datafusion::logical_expr::expr::ScalarFunction;
    Expr::ScalarFunction(ScalarFunction::new_udf(
        Arc::new(marker_udf()),
        vec![x, datafusion::logical_expr::lit(meta.encode())],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::common::DFSchema;
    use datafusion::logical_expr::{col, ExprSchemable};

    fn schema() -> DFSchema {
        let map = DataType::Map(
            Arc::new(Field::new(
                "entries",
                DataType::Struct(
                    vec![
                        Field::new("key", DataType::Utf8, false),
                        Field::new("value", DataType::Int32, true),
                    ]
                    .into(),
                ),
                false,
            )),
            false,
        );
        let list = DataType::List(Arc::new(Field::new("item", DataType::Int64, false)));
        DFSchema::try_from(arrow::datatypes::Schema::new(vec![
            Field::new("m", map, true),
            Field::new("a", list, true),
        ]))
        .unwrap()
    }

    #[test]
    fn markers_are_typed_as_their_columns() {
        let s = schema();
        let meta = |kind, index, count, named| Meta {
            kind,
            call: 7,
            index,
            count,
            named,
        };
        let pos = Kind {
            outer: false,
            position: true,
        };
        let field = |e: Expr| {
            e.to_field(&s)
                .map(|(_, f)| (f.data_type().clone(), f.is_nullable()))
        };
        assert_eq!(
            field(marker_call(col("a"), meta(Kind::default(), 0, 1, false))).unwrap(),
            (DataType::Int64, false)
        );
        assert_eq!(
            field(marker_call(col("m"), meta(pos, 0, 3, false))).unwrap(),
            (DataType::Int32, false)
        );
        assert_eq!(
            field(marker_call(col("m"), meta(pos, 2, 3, false))).unwrap(),
            (DataType::Int32, true)
        );
        // A map read as an array asks to be planned again, naming the call.
        let e = field(marker_call(col("m"), meta(Kind::default(), 0, 1, false))).unwrap_err();
        assert_eq!(reads_a_map(&PlanError::from(e)), Some(7));
        // Named columns of the wrong count are Spark's error.
        let e = field(marker_call(col("m"), meta(Kind::default(), 0, 1, true))).unwrap_err();
        assert!(e.to_string().contains("UDTF_ALIAS_NUMBER_MISMATCH"));
    }

    #[test]
    fn meta_round_trips() {
        let m = Meta {
            kind: Kind {
                outer: true,
                position: false,
            },
            call: 3,
            index: 1,
            count: 2,
            named: true,
        };
        assert_eq!(Meta::decode(&m.encode()), Some(m));
    }
}
