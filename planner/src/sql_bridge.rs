//! Spark functions that SQL text reaches only through sluice's builders.
//!
//! DataFusion's SQL planner resolves a call by name in the function registry; the functions
//! sluice builds itself ([`crate::functions`]: `locate`, `unix_timestamp`, `dayofweek`...)
//! are expressions, not registered functions. For each such name a SQL statement calls, the
//! statement is planned with a stand-in registered under that name. The stand-in types a
//! call by building it over columns of the argument types, so everything above it is planned
//! with the right type; after planning each stand-in is replaced by the built expression.
use std::collections::{BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DFSchema, DataFusionError};
use datafusion::execution::SessionState;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::{
    lit, utils::find_window_exprs, ColumnarValue, Expr, ExprSchemable, LogicalPlan,
    LogicalPlanBuilder, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    TypeSignature, Volatility,
};
use datafusion::sql::sqlparser::ast::{Expr as SqlExpr, Visit, Visitor};
use futures::future::BoxFuture;

use crate::error::{PlanError, PlanResult};
use crate::{functions, Planner, PlannerConfig, Resolver};

/// Builders the SQL planner must not reach through a stand-in: aggregates and generators
/// (planned by their own passes) and syntax it plans itself.
const NOT_BRIDGED: &[&str] = &[
    "count",
    "avg",
    "count_distinct",
    "countdistinct",
    "collect_list",
    "collect_set",
    "first_value",
    "last_value",
    "approx_count_distinct",
    "count_if",
    "explode",
    "explode_outer",
    "posexplode",
    "posexplode_outer",
    "window",
    "struct",
    "when",
    "in",
    "like",
    "ilike",
    "not",
];

/// Names the registry holds with semantics other than Spark's: the builder wins in SQL too.
const OVERRIDDEN: &[&str] = &["date_trunc"];

/// The bridged function names `statement` calls.
fn called(state: &SessionState, statement: &impl Visit) -> BTreeSet<String> {
    let mut names = Calls::default();
    let _ = statement.visit(&mut names);
    names.0.into_iter().filter(|n| bridged(state, n)).collect()
}

fn bridged(state: &SessionState, name: &str) -> bool {
    if !functions::has_builder(name) || NOT_BRIDGED.contains(&name) {
        return false;
    }
    OVERRIDDEN.contains(&name)
        || !(state.scalar_functions().contains_key(name)
            || state.aggregate_functions().contains_key(name)
            || state.window_functions().contains_key(name))
}

#[derive(Default)]
struct Calls(BTreeSet<String>);

impl Visitor for Calls {
    type Break = ();
    fn pre_visit_expr(&mut self, expr: &SqlExpr) -> std::ops::ControlFlow<()> {
        if let SqlExpr::Function(f) = expr {
            self.0.insert(f.name.to_string().to_ascii_lowercase());
        }
        std::ops::ControlFlow::Continue(())
    }
}

/// `state` with a stand-in for each bridged function `statement` calls; `None` when it calls
/// none, so that only statements that need one pay for the copy.
pub(crate) fn with_stand_ins(
    state: &SessionState,
    config: &PlannerConfig,
    statement: &impl Visit,
) -> Option<SessionState> {
    let names = called(state, statement);
    if names.is_empty() {
        return None;
    }
    let typing = Arc::new(state.clone());
    let mut bridged = state.clone();
    for name in names {
        let stand_in = StandIn {
            name: name.clone(),
            typing: typing.clone(),
            config: config.clone(),
            signature: Signature::one_of(
                vec![TypeSignature::Nullary, TypeSignature::VariadicAny],
                Volatility::Volatile,
            ),
        };
        // Registering only adds to this statement's copy of the registry.
        let _ = datafusion::execution::FunctionRegistry::register_udf(
            &mut bridged,
            Arc::new(ScalarUDF::new_from_impl(stand_in)),
        );
    }
    Some(bridged)
}

#[derive(Debug)]
struct StandIn {
    name: String,
    /// The registry without stand-ins, for building calls while typing them.
    typing: Arc<SessionState>,
    config: PlannerConfig,
    signature: Signature,
}

impl PartialEq for StandIn {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for StandIn {}
impl Hash for StandIn {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for StandIn {
    fn name(&self) -> &str {
        &self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> datafusion::error::Result<DataType> {
        Err(DataFusionError::Internal(
            "typed through return_field_from_args".into(),
        ))
    }
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> datafusion::error::Result<FieldRef> {
        let fields: Vec<Field> = args
            .arg_fields
            .iter()
            .enumerate()
            .map(|(i, f)| Field::new(format!("a{i}"), f.data_type().clone(), f.is_nullable()))
            .collect();
        let schema = DFSchema::from_unqualified_fields(fields.into(), HashMap::new())?;
        // Literal arguments stay literals: some builders read their value (a pattern, a unit).
        let values = (0..args.arg_fields.len())
            .map(|i| match args.scalar_arguments.get(i).copied().flatten() {
                Some(v) => lit(v.clone()),
                None => Expr::Column(Column::new_unqualified(format!("a{i}"))),
            })
            .collect();
        let planner = Planner::new(&self.typing, &NoRelations, self.config.clone());
        let built = functions::call(&planner, &self.name, values, false, &schema)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let (_, field) = built.to_field(&schema)?;
        Ok(Arc::new(field.as_ref().clone().with_name(&self.name)))
    }
    fn invoke_with_args(&self, _: ScalarFunctionArgs) -> datafusion::error::Result<ColumnarValue> {
        Err(DataFusionError::Internal(format!(
            "{} was not replaced by its Spark expression",
            self.name
        )))
    }
}

/// Replaces each stand-in in `plan` by the expression its builder makes over the node's input.
pub(crate) fn expand(p: &Planner, plan: LogicalPlan) -> PlanResult<LogicalPlan> {
    let out = plan.transform_up_with_subqueries(|node| {
        if !node.expressions().iter().any(has_stand_in) {
            return Ok(Transformed::no(node));
        }
        let mut schema = DFSchema::empty();
        for input in node.inputs() {
            schema.merge(input.schema());
        }
        let names = NamePreserver::new(&node);
        let node = node.map_expressions(|e| {
            let saved = names.save(&e);
            let replaced = e.transform_up(|e| replace(p, e, &schema))?;
            Ok(if replaced.transformed {
                replaced.update_data(|e| saved.restore(e))
            } else {
                replaced
            })
        })?;
        node.map_data(|n| with_windows(n.recompute_schema()?))
    })?;
    Ok(out.data)
}

/// A projection whose built expressions hold window functions (`monotonically_increasing_id`
/// is a row number) computes them in a window node below it, as the SQL planner would have.
fn with_windows(node: LogicalPlan) -> datafusion::error::Result<LogicalPlan> {
    let LogicalPlan::Projection(projection) = &node else {
        return Ok(node);
    };
    let windows = find_window_exprs(&projection.expr);
    if windows.is_empty() {
        return Ok(node);
    }
    let input =
        LogicalPlanBuilder::window_plan(projection.input.as_ref().clone(), windows.clone())?;
    let exprs = projection
        .expr
        .iter()
        .cloned()
        .map(|e| {
            e.transform_down(|x| match windows.iter().find(|w| **w == x) {
                Some(w) => Ok(Transformed::yes(Expr::Column(Column::from_name(
                    w.schema_name().to_string(),
                )))),
                None => Ok(Transformed::no(x)),
            })
            .map(|t| t.data)
        })
        .collect::<datafusion::error::Result<Vec<_>>>()?;
    LogicalPlanBuilder::from(input).project(exprs)?.build()
}

fn stand_in(e: &Expr) -> Option<&StandIn> {
    match e {
        Expr::ScalarFunction(f) => f.func.inner().downcast_ref::<StandIn>(),
        _ => None,
    }
}

fn has_stand_in(e: &Expr) -> bool {
    e.exists(|x| Ok(stand_in(x).is_some())).unwrap_or(false)
}

pub(crate) fn replace(
    p: &Planner,
    e: Expr,
    schema: &DFSchema,
) -> datafusion::error::Result<Transformed<Expr>> {
    let Some(name) = stand_in(&e).map(|s| s.name.clone()) else {
        return Ok(Transformed::no(e));
    };
    let Expr::ScalarFunction(ScalarFunction { args, .. }) = e else {
        return Ok(Transformed::no(e));
    };
    functions::call(p, &name, args, false, schema)
        .map(Transformed::yes)
        .map_err(|e| DataFusionError::External(Box::new(e)))
}

/// Typing a call reads no relations.
struct NoRelations;

impl Resolver for NoRelations {
    fn data_source(&self, _: crate::DataSource) -> BoxFuture<'_, PlanResult<LogicalPlan>> {
        Box::pin(async { Err(PlanError::unsupported("relations while typing a function")) })
    }
    fn table(&self, _: Vec<String>) -> BoxFuture<'_, PlanResult<LogicalPlan>> {
        Box::pin(async { Err(PlanError::unsupported("relations while typing a function")) })
    }
    fn cached_bytes(&self, _: &str) -> PlanResult<Vec<u8>> {
        Err(PlanError::unsupported("relations while typing a function"))
    }
    fn collect(
        &self,
        _: LogicalPlan,
    ) -> BoxFuture<'_, PlanResult<Vec<arrow::record_batch::RecordBatch>>> {
        Box::pin(async { Err(PlanError::unsupported("relations while typing a function")) })
    }
}
