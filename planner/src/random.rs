//! `rand(seed)`, `rand()` and the draws of `df.sample(fraction, seed)`.
//!
//! Each call site in a plan is its own generator: splitmix64 over a counter of the rows it
//! has drawn, so a seed gives the same values on every run of a query (in one partition, as
//! Spark's are per partition) and no value repeats from one batch to the next. The counter
//! lives in the function, so every plan gets fresh ones ([`fresh`]).
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array};
use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{
    ColumnarValue, Expr, LogicalPlan, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, TypeSignature, Volatility,
};

use crate::PlanResult;

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

#[derive(Debug)]
pub(crate) struct SeededRandom {
    signature: Signature,
    /// Rows drawn so far by this call site.
    drawn: AtomicU64,
    /// The seed of `rand()` without one, picked when the plan is made.
    default_seed: u64,
}

// Two call sites are the same function only if they are the same generator.
impl PartialEq for SeededRandom {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Eq for SeededRandom {}

impl std::hash::Hash for SeededRandom {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        "rand".hash(state);
    }
}

impl SeededRandom {
    fn new() -> Self {
        SeededRandom {
            signature: Signature::one_of(
                vec![TypeSignature::Nullary, TypeSignature::Any(1)],
                Volatility::Volatile,
            ),
            drawn: AtomicU64::new(0),
            default_seed: unseeded(),
        }
    }
}

/// A new generator, for the SQL registry (every plan replaces it with its own).
pub fn udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(SeededRandom::new())
}

/// `rand(seed)` (or `rand()` when `seed` is None) as an expression.
pub(crate) fn call(seed: Option<Expr>) -> Expr {
    Expr::ScalarFunction(ScalarFunction::new_udf(
        Arc::new(udf()),
        seed.into_iter().collect(),
    ))
}

/// `plan` with a new generator at every `rand` call site, so that running a query again
/// draws the same values again.
pub fn fresh(plan: LogicalPlan) -> PlanResult<LogicalPlan> {
    let uses = plan.exists(|node| Ok(node.expressions().iter().any(calls_rand)))?;
    if !uses {
        return Ok(plan);
    }
    Ok(plan
        .transform_up_with_subqueries(|node| {
            node.map_expressions(|e| {
                e.transform_up(|x| match x {
                    Expr::ScalarFunction(f) if is_rand(&f.func) => Ok(Transformed::yes(
                        Expr::ScalarFunction(ScalarFunction::new_udf(Arc::new(udf()), f.args)),
                    )),
                    other => Ok(Transformed::no(other)),
                })
            })
        })?
        .data)
}

fn is_rand(f: &ScalarUDF) -> bool {
    f.inner().downcast_ref::<SeededRandom>().is_some()
}

fn calls_rand(e: &Expr) -> bool {
    e.exists(|x| Ok(matches!(x, Expr::ScalarFunction(f) if is_rand(&f.func))))
        .unwrap_or(false)
}

/// A seed for `rand()` without one: differs between plans, as Spark picks one per query.
fn unseeded() -> u64 {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    now ^ CALLS.fetch_add(GOLDEN, Ordering::Relaxed)
}

/// splitmix64's output for counter value `state`.
fn mix(state: u64) -> f64 {
    let mut z = state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

fn seed_of(arg: Option<&ColumnarValue>) -> Result<Option<u64>> {
    let value = match arg {
        None => return Ok(None),
        Some(ColumnarValue::Scalar(s)) => s.clone(),
        Some(ColumnarValue::Array(a)) if a.is_empty() => return Ok(None),
        Some(ColumnarValue::Array(a)) => ScalarValue::try_from_array(a, 0)?,
    };
    if value.is_null() {
        // Spark seeds rand(NULL) with 0.
        return Ok(Some(0));
    }
    Ok(Some(value.cast_to(&DataType::Int64).and_then(
        |v| match v {
            ScalarValue::Int64(Some(i)) => Ok(i as u64),
            other => datafusion::common::exec_err!("rand takes an integer seed, got {other}"),
        },
    )?))
}

impl ScalarUDFImpl for SeededRandom {
    fn name(&self) -> &str {
        "rand"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }
    fn return_field_from_args(&self, _: ReturnFieldArgs) -> Result<FieldRef> {
        // Spark declares rand's result non-null.
        Ok(Arc::new(Field::new("rand", DataType::Float64, false)))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let seed = seed_of(args.args.first())?.unwrap_or(self.default_seed);
        let n = args.number_rows as u64;
        let start = self.drawn.fetch_add(n, Ordering::Relaxed);
        let out: Float64Array = (1..=n)
            .map(|k| Some(mix(seed.wrapping_add((start + k).wrapping_mul(GOLDEN)))))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out) as ArrayRef))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draw(r: &SeededRandom, seed: i64, rows: usize) -> Vec<f64> {
        let args = ScalarFunctionArgs {
            args: vec![ColumnarValue::Scalar(ScalarValue::Int64(Some(seed)))],
            arg_fields: vec![Arc::new(Field::new("s", DataType::Int64, false))],
            number_rows: rows,
            return_field: Arc::new(Field::new("rand", DataType::Float64, false)),
            config_options: Arc::new(Default::default()),
        };
        let ColumnarValue::Array(a) = r.invoke_with_args(args).expect("draw") else {
            panic!("an array")
        };
        a.as_any()
            .downcast_ref::<Float64Array>()
            .expect("doubles")
            .values()
            .to_vec()
    }

    #[test]
    fn batches_continue_and_plans_repeat() {
        let first = SeededRandom::new();
        let a = draw(&first, 42, 4);
        let b = draw(&first, 42, 4);
        assert_ne!(a, b, "a second batch draws new values");
        let again = SeededRandom::new();
        let all = draw(&again, 42, 8);
        assert_eq!(all, [a, b].concat(), "a new plan draws the same values");
        assert!(all.iter().all(|v| (0.0..1.0).contains(v)));
    }
}
