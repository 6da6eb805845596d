//! Spark function calls to DataFusion expressions.
//!
//! [`SPARK`] lists the functions whose Spark semantics differ from the DataFusion function of
//! the same name (operators, `/` on integers, 0-based `getItem`, Spark datetime patterns...).
//! Everything else resolves by name in the session's function registry, which already holds
//! DataFusion's functions overlaid with `datafusion-spark`'s.
use arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::logical_expr::expr::{AggregateFunction, ScalarFunction, WindowFunction};
use datafusion::logical_expr::{
    binary_expr, cast, in_list, lit, try_cast, when, Expr, ExprSchemable, Operator,
    WindowFunctionDefinition,
};

use crate::error::{PlanError, PlanResult};
use crate::{datetime, generator, udf, Planner};

/// The arguments of one call, already planned.
pub(crate) struct Call<'p, 'a> {
    pub p: &'p Planner<'a>,
    pub args: Vec<Expr>,
    pub distinct: bool,
    pub schema: &'p DFSchema,
}

type Builder = fn(Call) -> PlanResult<Expr>;

/// Spark function name (lower case) -> the registered function that is the same function
/// under DataFusion's name. SQL text is respelled with it too ([`registered_name`]).
const ALIASES: &[(&str, &str)] = &[
    ("rlike", "regexp_like"),
    ("regexp", "regexp_like"),
    ("startswith", "starts_with"),
    ("endswith", "ends_with"),
    ("mean", "avg"),
    ("variance", "var_samp"),
    ("std", "stddev"),
    ("every", "bool_and"),
    ("some", "bool_or"),
    ("first", "first_value"),
    ("last", "last_value"),
    ("transform", "array_transform"),
    ("filter", "array_filter"),
    ("exists", "array_any_match"),
];

/// The registered name of Spark function `name` where only the name differs.
pub(crate) fn registered_name(name: &str) -> Option<&'static str> {
    ALIASES
        .iter()
        .find(|(spark, _)| spark.eq_ignore_ascii_case(name))
        .map(|(_, df)| *df)
}

/// Spark function name (lower case) -> how to build it.
const SPARK: &[(&str, Builder)] = &[
    ("+", |c| binary(c, Operator::Plus)),
    ("-", |c| binary(c, Operator::Minus)),
    ("*", |c| binary(c, Operator::Multiply)),
    ("%", |c| binary(c, Operator::Modulo)),
    ("==", |c| binary(c, Operator::Eq)),
    ("!=", |c| binary(c, Operator::NotEq)),
    ("<", |c| binary(c, Operator::Lt)),
    (">", |c| binary(c, Operator::Gt)),
    ("<=", |c| binary(c, Operator::LtEq)),
    (">=", |c| binary(c, Operator::GtEq)),
    ("<=>", |c| binary(c, Operator::IsNotDistinctFrom)),
    ("and", |c| binary(c, Operator::And)),
    ("or", |c| binary(c, Operator::Or)),
    ("&", |c| binary(c, Operator::BitwiseAnd)),
    ("|", |c| binary(c, Operator::BitwiseOr)),
    ("^", |c| binary(c, Operator::BitwiseXor)),
    ("/", divide),
    ("not", |c| Ok(Expr::Not(Box::new(one(c)?)))),
    ("!", |c| Ok(Expr::Not(Box::new(one(c)?)))),
    ("negative", |c| Ok(Expr::Negative(Box::new(one(c)?)))),
    ("isnull", |c| Ok(one(c)?.is_null())),
    ("isnotnull", |c| Ok(one(c)?.is_not_null())),
    ("in", |c| {
        let mut args = c.args.into_iter();
        let x = args.next().ok_or_else(|| arity("in", 1))?;
        Ok(in_list(x, args.collect(), false))
    }),
    ("like", |c| {
        let [x, p] = two("like", c)?;
        Ok(x.like(p))
    }),
    ("ilike", |c| {
        let [x, p] = two("ilike", c)?;
        Ok(x.ilike(p))
    }),
    ("when", case_when),
    ("window", time_window),
    ("count", count),
    ("avg", |c| aggregate(c, "avg")),
    ("count_distinct", |c| {
        aggregate(
            Call {
                distinct: true,
                ..c
            },
            "count",
        )
    }),
    ("countdistinct", |c| {
        aggregate(
            Call {
                distinct: true,
                ..c
            },
            "count",
        )
    }),
    ("collect_list", |c| aggregate(c, "array_agg")),
    ("collect_set", |c| {
        aggregate(
            Call {
                distinct: true,
                ..c
            },
            "array_agg",
        )
    }),
    ("first_value", |c| first_last(c, "first_value")),
    ("last_value", |c| first_last(c, "last_value")),
    ("size", size),
    ("cardinality", size),
    ("log", |c| match c.args.len() {
        1 => scalar(c.p, "ln", c.args),
        _ => scalar(c.p, "log", c.args),
    }),
    ("count_if", count_if),
    ("typeof", |c| {
        let schema = c.schema;
        Ok(lit(crate::types::simple_string(&one(c)?.get_type(schema)?)))
    }),
    // The registry's date_part is datafusion-spark's: DOW is Spark's 1 (Sunday) to 7.
    ("dayofweek", |c| date_part(c, "dow")),
    ("instr", |c| {
        let p = c.p;
        let [s, sub] = two("instr", c)?;
        Ok(cast(scalar(p, "strpos", vec![s, sub])?, DataType::Int32))
    }),
    ("locate", locate),
    ("sort_array", sort_array),
    ("get", |c| {
        let p = c.p;
        let [arr, i] = two("get", c)?;
        let index = binary_expr(cast(i, DataType::Int64), Operator::Plus, lit(1i64));
        scalar(p, "array_element", vec![arr, index])
    }),
    ("try_element_at", element_at),
    ("element_at", element_at),
    ("rand", random),
    ("random", random),
    ("date_add", |c| with_dates(c, "date_add", &[0])),
    ("date_sub", |c| with_dates(c, "date_sub", &[0])),
    ("date_diff", |c| with_dates(c, "date_diff", &[0, 1])),
    ("last_day", |c| with_dates(c, "last_day", &[0])),
    ("add_months", |c| with_dates(c, "add_months", &[0])),
    ("next_day", |c| with_dates(c, "next_day", &[0])),
    ("approx_count_distinct", |c| aggregate(c, "approx_distinct")),
    ("substr", |c| scalar(c.p, "substring", c.args)),
    ("datediff", |c| with_dates(c, "date_diff", &[0, 1])),
    ("struct", make_struct),
    ("year", |c| date_part(c, "year")),
    ("quarter", |c| date_part(c, "quarter")),
    ("month", |c| date_part(c, "month")),
    ("day", |c| date_part(c, "day")),
    ("dayofmonth", |c| date_part(c, "day")),
    ("dayofyear", |c| date_part(c, "doy")),
    // ISO 8601 weeks, as Spark's.
    ("weekofyear", |c| date_part(c, "week")),
    ("months_between", datetime::months_between),
    ("date_trunc", datetime::date_trunc),
    ("hour", |c| timestamp_part(c, "hour")),
    ("minute", |c| timestamp_part(c, "minute")),
    ("second", |c| timestamp_part(c, "second")),
    ("to_timestamp", datetime::to_timestamp),
    ("to_date", datetime::to_date),
    ("timestamp_seconds", datetime::timestamp_seconds),
    ("timestamp_millis", |c| {
        datetime::epoch_timestamp(c, "utc_timestamp_millis")
    }),
    ("timestamp_micros", |c| {
        datetime::epoch_timestamp(c, "utc_timestamp_micros")
    }),
    ("date_format", datetime::date_format),
    ("from_unixtime", datetime::from_unixtime),
    ("unix_timestamp", datetime::unix_timestamp),
    ("to_unix_timestamp", datetime::unix_timestamp),
    ("current_timestamp", datetime::current_timestamp),
    ("now", datetime::current_timestamp),
    ("current_date", |c| scalar(c.p, "current_date", vec![])),
    ("monotonically_increasing_id", monotonically_increasing_id),
    ("explode", generator::explode),
    ("explode_outer", generator::explode_outer),
    ("posexplode", generator::posexplode),
    ("posexplode_outer", generator::posexplode_outer),
    ("split", |c| Ok(udf::call(udf::SPLIT, c.args))),
    ("map", create_map),
    ("sequence", |c| Ok(udf::call(udf::SEQUENCE, c.args))),
    ("bround", |c| Ok(udf::call(udf::BROUND, c.args))),
    ("hash", |c| Ok(udf::call(udf::HASH, c.args))),
    ("format_number", |c| {
        Ok(udf::call(udf::FORMAT_NUMBER, c.args))
    }),
    ("map_contains_key", |c| {
        let p = c.p;
        let [map, key] = two("map_contains_key", c)?;
        scalar(p, "array_has", vec![scalar(p, "map_keys", vec![map])?, key])
    }),
    ("regexp_extract", |c| {
        Ok(udf::call(udf::REGEXP_EXTRACT, c.args))
    }),
    ("regexp_replace", |c| {
        let mut args = c.args;
        args.push(lit("g"));
        scalar(c.p, "regexp_replace", args)
    }),
    ("get_json_object", |c| {
        Ok(udf::call(udf::GET_JSON_OBJECT, c.args))
    }),
    ("to_json", |c| Ok(udf::call(udf::TO_JSON, c.args))),
    ("raise_error", |c| Ok(udf::call(udf::RAISE_ERROR, c.args))),
    ("assert_true", |c| Ok(udf::assert_true_call(c.args))),
    ("from_json", from_json),
    ("equal_null", |c| binary(c, Operator::IsNotDistinctFrom)),
    ("nullifzero", |c| {
        let p = c.p;
        let x = one(c)?;
        scalar(p, "nullif", vec![x, lit(0i32)])
    }),
    ("zeroifnull", |c| {
        let (p, schema) = (c.p, c.schema);
        let x = one(c)?;
        let zero = match x.get_type(schema)? {
            DataType::Null => lit(0i32),
            t => cast(lit(0i32), t),
        };
        scalar(p, "coalesce", vec![x, zero])
    }),
    ("try_divide", crate::try_arith::try_divide),
    ("try_add", |c| crate::try_arith::checked(c, Operator::Plus)),
    ("try_subtract", |c| {
        crate::try_arith::checked(c, Operator::Minus)
    }),
    ("try_multiply", |c| {
        crate::try_arith::checked(c, Operator::Multiply)
    }),
    // Spark's type-named casts: `double(x)` is `CAST(x AS DOUBLE)`.
    ("boolean", |c| cast_named(c, DataType::Boolean)),
    ("tinyint", |c| cast_named(c, DataType::Int8)),
    ("smallint", |c| cast_named(c, DataType::Int16)),
    ("int", |c| cast_named(c, DataType::Int32)),
    ("bigint", |c| cast_named(c, DataType::Int64)),
    ("float", |c| cast_named(c, DataType::Float32)),
    ("double", |c| cast_named(c, DataType::Float64)),
    ("decimal", |c| cast_named(c, DataType::Decimal128(10, 0))),
    ("string", |c| cast_named(c, DataType::Utf8)),
    ("binary", |c| cast_named(c, DataType::Binary)),
    ("date", |c| cast_named(c, DataType::Date32)),
    ("timestamp", |c| {
        let ts = crate::types::timestamp_type(&c.p.config.time_zone);
        cast_named(c, ts)
    }),
    ("input_file_name", |c| match c.args.len() {
        0 => Ok(udf::call(udf::INPUT_FILE_NAME, vec![])),
        _ => Err(arity("input_file_name", 0)),
    }),
];

pub(crate) fn arity(name: &str, n: usize) -> PlanError {
    PlanError::analysis(format!(
        "[WRONG_NUM_ARGS.WITHOUT_SUGGESTION] The `{name}` requires {n} parameters but the actual number is different."
    ))
}

pub(crate) fn one(c: Call) -> PlanResult<Expr> {
    let mut args = c.args;
    match args.len() {
        1 => Ok(args.remove(0)),
        _ => Err(arity("function", 1)),
    }
}

fn two(name: &str, c: Call) -> PlanResult<[Expr; 2]> {
    <[Expr; 2]>::try_from(c.args).map_err(|_| arity(name, 2))
}

fn binary(c: Call, op: Operator) -> PlanResult<Expr> {
    let (schema, ansi) = (c.schema, c.p.config.ansi);
    let [l, r] = two(&op.to_string(), c)?;
    Ok(udf::arithmetic(l, op, r, schema, ansi))
}

/// Spark's `/` divides decimals as decimals and everything else as doubles; a zero divisor
/// is an error under ANSI mode and NULL otherwise.
fn divide(c: Call) -> PlanResult<Expr> {
    let schema = c.schema;
    let ansi = c.p.config.ansi;
    let [l, r] = two("/", c)?;
    Ok(spark_divide(l, r, schema, ansi))
}

/// Spark's `l / r`: decimals divide as decimals, everything else as doubles, with NULL (or
/// an error under ANSI) for a zero divisor.
pub(crate) fn spark_divide(l: Expr, r: Expr, schema: &DFSchema, ansi: bool) -> Expr {
    let (lt, rt) = (l.get_type(schema).ok(), r.get_type(schema).ok());
    let is_decimal = |t: &Option<DataType>| {
        matches!(t, Some(DataType::Decimal128(..) | DataType::Decimal256(..)))
    };
    if is_decimal(&lt) || is_decimal(&rt) {
        if let (Some(l), Some(r)) = (decimal_operand(&l, lt), decimal_operand(&r, rt)) {
            return binary_expr(l, Operator::Divide, r);
        }
    }
    let args = vec![cast(l, DataType::Float64), cast(r, DataType::Float64)];
    udf::call(if ansi { udf::DIVIDE_ANSI } else { udf::DIVIDE }, args)
}

/// Integral types as the decimals Spark widens them to beside a decimal operand.
const INTEGRAL_DECIMAL_PRECISION: [(DataType, u8); 4] = [
    (DataType::Int8, 3),
    (DataType::Int16, 5),
    (DataType::Int32, 10),
    (DataType::Int64, 20),
];

/// An operand of decimal arithmetic as a decimal: decimals as they are, integral columns at
/// their type's width, integral literals at their own digits (`3` is DECIMAL(1,0)).
fn decimal_operand(e: &Expr, t: Option<DataType>) -> Option<Expr> {
    let t = t?;
    if matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..)) {
        return Some(e.clone());
    }
    let (_, width) = INTEGRAL_DECIMAL_PRECISION.iter().find(|(i, _)| *i == t)?;
    // A SQL integer literal arrives as CAST(n AS INT).
    let literal = match e {
        Expr::Cast(c) => c.expr.as_ref(),
        other => other,
    };
    let precision = match literal {
        Expr::Literal(v, _) if !v.is_null() => {
            let digits = v.to_string().trim_start_matches('-').len();
            u8::try_from(digits).unwrap_or(*width).min(*width)
        }
        _ => *width,
    };
    Some(cast(e.clone(), DataType::Decimal128(precision, 0)))
}

fn case_when(c: Call) -> PlanResult<Expr> {
    let mut pairs = c.args.chunks_exact(2);
    let (first_c, first_v) = match pairs.next() {
        Some([cond, value]) => (cond.clone(), value.clone()),
        _ => return Err(arity("when", 2)),
    };
    let mut builder = when(first_c, first_v);
    for pair in pairs.by_ref() {
        builder = builder.when(pair[0].clone(), pair[1].clone());
    }
    Ok(match pairs.remainder() {
        [otherwise] => builder.otherwise(otherwise.clone())?,
        _ => builder.end()?,
    })
}

fn count(c: Call) -> PlanResult<Expr> {
    // `count(*)` reaches here as `count(1)` from the client; both count rows.
    aggregate(c, "count")
}

fn aggregate_udf(
    p: &Planner,
    name: &str,
) -> PlanResult<std::sync::Arc<datafusion::logical_expr::AggregateUDF>> {
    p.state
        .aggregate_functions()
        .get(name)
        .cloned()
        .ok_or_else(|| PlanError::UnknownFunction(crate::error::quote(name)))
}

fn aggregate(c: Call, name: &str) -> PlanResult<Expr> {
    let f = aggregate_udf(c.p, name)?;
    Ok(Expr::AggregateFunction(AggregateFunction::new_udf(
        f,
        c.args,
        c.distinct,
        None,
        vec![],
        None,
    )))
}

/// `first(x, ignoreNulls)` / `last(...)`: the flag becomes DataFusion's null treatment.
fn first_last(c: Call, name: &str) -> PlanResult<Expr> {
    let mut args = c.args.clone();
    let ignore_nulls = match args.get(1) {
        Some(Expr::Literal(ScalarValue::Boolean(Some(b)), _)) => {
            let b = *b;
            args.truncate(1);
            b
        }
        _ => false,
    };
    let f = aggregate_udf(c.p, name)?;
    let treatment =
        ignore_nulls.then_some(datafusion::sql::sqlparser::ast::NullTreatment::IgnoreNulls.into());
    Ok(Expr::AggregateFunction(AggregateFunction::new_udf(
        f,
        args,
        c.distinct,
        None,
        vec![],
        treatment,
    )))
}

/// `count_if(cond)`: rows where the condition holds (0 when none).
fn count_if(c: Call) -> PlanResult<Expr> {
    let p = c.p;
    let schema = c.schema;
    let cond = one(Call {
        p,
        args: c.args,
        distinct: false,
        schema,
    })?;
    let counted = when(cond, lit(1i32)).end()?;
    aggregate(
        Call {
            p,
            args: vec![counted],
            distinct: false,
            schema,
        },
        "count",
    )
}

/// `locate(substr, str[, pos])`: 1-based position, 0 when absent.
fn locate(c: Call) -> PlanResult<Expr> {
    let mut args = c.args.into_iter();
    let (Some(sub), Some(s)) = (args.next(), args.next()) else {
        return Err(arity("locate", 2));
    };
    let from_start = |s, sub| Ok(cast(scalar(c.p, "strpos", vec![s, sub])?, DataType::Int32));
    let pos = match args.next() {
        None | Some(Expr::Literal(ScalarValue::Int32(Some(1)), _)) => return from_start(s, sub),
        Some(pos) => cast(pos, DataType::Int32),
    };
    // As Spark's StringLocate: a NULL position is 0, a position below 1 is 0, and the empty
    // string is found at 1 wherever the search starts.
    let tail = scalar(c.p, "substr", vec![s.clone(), pos.clone()])?;
    let found = from_start(tail, sub.clone())?;
    let shifted = binary_expr(
        binary_expr(found.clone(), Operator::Plus, pos.clone()),
        Operator::Minus,
        lit(1i32),
    );
    Ok(when(pos.clone().is_null(), lit(0i32))
        .when(
            sub.clone().is_null().or(s.is_null()),
            cast(lit(ScalarValue::Null), DataType::Int32),
        )
        .when(pos.lt(lit(1i32)), lit(0i32))
        .when(sub.eq(lit("")), lit(1i32))
        .when(found.eq(lit(0i32)), lit(0i32))
        .otherwise(shifted)?)
}

/// `sort_array(arr, asc)`: ascending puts nulls first, descending last.
fn sort_array(c: Call) -> PlanResult<Expr> {
    let mut args = c.args.into_iter();
    let arr = args.next().ok_or_else(|| arity("sort_array", 1))?;
    let asc = !matches!(
        args.next(),
        Some(Expr::Literal(ScalarValue::Boolean(Some(false)), _))
    );
    let (dir, nulls) = if asc {
        ("ASC", "NULLS FIRST")
    } else {
        ("DESC", "NULLS LAST")
    };
    scalar(c.p, "array_sort", vec![arr, lit(dir), lit(nulls)])
}

/// `element_at(array, i)` (1-based) / `element_at(map, key)`; NULL when absent.
fn element_at(c: Call) -> PlanResult<Expr> {
    let p = c.p;
    let schema = c.schema;
    let [base, key] = two("element_at", c)?;
    match base.get_type(schema)? {
        DataType::Map(..) => scalar(p, "get_field", vec![base, key]),
        _ => scalar(p, "array_element", vec![base, key]),
    }
}

/// `rand(seed)` repeats for a seed; `rand()` does not.
fn random(c: Call) -> PlanResult<Expr> {
    Ok(crate::random::call(c.args.first().cloned()))
}

/// Date functions take date strings too, as Spark casts them implicitly.
fn with_dates(c: Call, name: &str, positions: &[usize]) -> PlanResult<Expr> {
    let schema = c.schema;
    let args = c
        .args
        .into_iter()
        .enumerate()
        .map(|(i, a)| {
            let is_string = matches!(
                a.get_type(schema),
                Ok(DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
            );
            if positions.contains(&i) && is_string {
                cast(a, DataType::Date32)
            } else {
                a
            }
        })
        .collect();
    scalar(c.p, name, args)
}

/// `create_map(k1, v1, k2, v2, ...)`: DataFusion's `map` takes the keys and the values as
/// two arrays (its SQL planner pairs them up the same way).
fn create_map(c: Call) -> PlanResult<Expr> {
    if !c.args.len().is_multiple_of(2) {
        return Err(PlanError::analysis(format!(
            "[WRONG_NUM_ARGS.WITHOUT_SUGGESTION] The `map` requires 2n (n > 0) parameters but the actual number is {}. SQLSTATE: 42605",
            c.args.len()
        )));
    }
    let p = c.p;
    let (mut keys, mut values) = (vec![], vec![]);
    for (i, a) in c.args.into_iter().enumerate() {
        if i % 2 == 0 {
            keys.push(a);
        } else {
            values.push(a);
        }
    }
    let keys = scalar(p, "make_array", keys)?;
    let values = scalar(p, "make_array", values)?;
    // A map built from its entries is never NULL.
    Ok(crate::not_null::known_not_null(scalar(
        p,
        "map",
        vec![keys, values],
    )?))
}

/// Spark's `size`: -1 for a NULL collection, but NULL under ANSI mode (which overrides
/// `spark.sql.legacy.sizeOfNull`); `datafusion-spark`'s `size` is the legacy one.
fn size(c: Call) -> PlanResult<Expr> {
    let p = c.p;
    let x = one(c)?;
    let n = scalar(p, "size", vec![x.clone()])?;
    if !p.config.ansi {
        return Ok(n);
    }
    Ok(when(x.is_null(), lit(ScalarValue::Int32(None))).otherwise(n)?)
}

/// Calls the registered scalar function `name`.
pub(crate) fn scalar(p: &Planner, name: &str, args: Vec<Expr>) -> PlanResult<Expr> {
    let f = p
        .state
        .scalar_functions()
        .get(name)
        .cloned()
        .ok_or_else(|| PlanError::UnknownFunction(crate::error::quote(name)))?;
    Ok(Expr::ScalarFunction(ScalarFunction::new_udf(f, args)))
}

/// Spark's `year(x)` etc. return INT and accept dates, timestamps and date strings.
fn date_part(c: Call, part: &str) -> PlanResult<Expr> {
    let schema = c.schema;
    let p = c.p;
    let x = one(c)?;
    let x = match x.get_type(schema)? {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => cast(x, DataType::Date32),
        _ => x,
    };
    Ok(cast(
        scalar(p, "date_part", vec![lit(part), x])?,
        DataType::Int32,
    ))
}

/// `hour(x)` etc. accept timestamp strings, cast in the session time zone.
fn timestamp_part(c: Call, name: &str) -> PlanResult<Expr> {
    let schema = c.schema;
    let p = c.p;
    let x = one(c)?;
    let x = match x.get_type(schema)? {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            cast(x, crate::types::timestamp_type(&p.config.time_zone))
        }
        _ => x,
    };
    scalar(p, name, vec![x])
}

/// `window(time, duration[, slide[, startTime]])`: the windows holding `time`, each
/// a struct of `start` and `end` in the time's own timestamp type, computed by the grouping or
/// projection that holds it: see [`crate::time_window`].
fn time_window(c: Call) -> PlanResult<Expr> {
    let mut args = c.args.into_iter();
    let time = args.next().ok_or_else(|| arity("window", 2))?;
    let micros = |e: Option<Expr>, what: &str| -> PlanResult<Option<i64>> {
        match e {
            None => Ok(None),
            Some(Expr::Literal(ScalarValue::Utf8(Some(s)), _)) => datetime::interval_micros(&s)
                .map(Some)
                .ok_or_else(|| {
                    PlanError::invalid(format!(
                        "The provided interval ({s}) did not correspond to a correct interval string for the window {what}."
                    ))
                }),
            Some(other) => Err(PlanError::invalid(format!(
                "The window {what} must be a string literal, got {other}"
            ))),
        }
    };
    let duration = micros(args.next(), "duration")?.ok_or_else(|| arity("window", 2))?;
    let slide = micros(args.next(), "slide duration")?.unwrap_or(duration);
    let start = micros(args.next(), "start time")?.unwrap_or(0);
    if duration <= 0 || slide <= 0 {
        return Err(PlanError::analysis(
            "[DATATYPE_MISMATCH.VALUE_OUT_OF_RANGE] The window duration and slide duration must be greater than 0.",
        ));
    }
    let violation = |rule: String| {
        let name = match &time {
            Expr::Column(c) => c.name.clone(),
            other => other.schema_name().to_string(),
        };
        PlanError::analysis(format!(
            "[DATATYPE_MISMATCH.PARAMETER_CONSTRAINT_VIOLATION] Cannot resolve \"window({name}, {duration}, {slide}, {start})\" due to data type mismatch: {rule}."
        ))
    };
    if slide > duration {
        return Err(violation(format!(
            "The `slide_duration`({slide}L) must be <= the `window_duration`({duration}L)"
        )));
    }
    if start.abs() >= slide {
        return Err(violation(format!(
            "The `abs(start_time)`({}L) must be < the `slide_duration`({slide}L)",
            start.abs()
        )));
    }
    let ts_type = time.get_type(c.schema)?;
    if !matches!(ts_type, DataType::Timestamp(_, _)) {
        return Err(PlanError::analysis(format!(
            "[DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE] Cannot resolve \"window\" due to data type mismatch: the first parameter requires \"TIMESTAMP\" or \"TIMESTAMP_NTZ\" type, however it has the type \"{ts_type}\"."
        )));
    }
    Ok(crate::time_window::TimeWindow::call(
        time, duration, slide, start,
    ))
}

/// `struct(a, b)` names its fields after the columns it is given, `colN` otherwise.
fn make_struct(c: Call) -> PlanResult<Expr> {
    let mut pairs = vec![];
    for (i, e) in c.args.into_iter().enumerate() {
        let name = match &e {
            Expr::Column(col) => col.name.clone(),
            Expr::Alias(a) => a.name.clone(),
            _ => format!("col{}", i + 1),
        };
        pairs.push(lit(name));
        pairs.push(e);
    }
    // A struct built from its fields is never NULL.
    Ok(crate::not_null::known_not_null(scalar(
        c.p,
        "named_struct",
        pairs,
    )?))
}

/// A unique, increasing id per row: the row number in this plan's output, from 0.
fn monotonically_increasing_id(c: Call) -> PlanResult<Expr> {
    let f =
        c.p.state
            .window_functions()
            .get("row_number")
            .cloned()
            .ok_or_else(|| PlanError::UnknownFunction("`row_number`".into()))?;
    let rn = Expr::WindowFunction(Box::new(WindowFunction::new(
        WindowFunctionDefinition::WindowUDF(f),
        vec![],
    )));
    Ok(binary_expr(
        cast(rn, DataType::Int64),
        Operator::Minus,
        lit(1i64),
    ))
}

fn from_json(c: Call) -> PlanResult<Expr> {
    let tz = c.p.config.time_zone.clone();
    let mut args = c.args.into_iter();
    let (Some(json), Some(Expr::Literal(ScalarValue::Utf8(Some(schema)), _))) =
        (args.next(), args.next())
    else {
        return Err(PlanError::analysis(
            "[INVALID_SCHEMA.NON_STRING_LITERAL] The input schema of from_json must be a string literal.",
        ));
    };
    // Spark reports a schema string it cannot parse here as an AnalysisException that keeps
    // the parse error's condition.
    let ty = crate::types::parse_schema_string(&schema, &tz).map_err(|e| match e {
        PlanError::Parse(m) => PlanError::analysis(m),
        other => other,
    })?;
    Ok(udf::from_json(json, ty))
}

fn cast_named(c: Call, to: DataType) -> PlanResult<Expr> {
    let (p, schema) = (c.p, c.schema);
    cast_to(p, one(c)?, to, schema)
}

/// Whether sluice builds Spark function `name` itself (rather than finding it registered).
pub(crate) fn has_builder(name: &str) -> bool {
    SPARK.iter().any(|(n, _)| *n == name)
}

/// Plans `name(args)` with Spark's semantics.
pub(crate) fn call(
    p: &Planner,
    name: &str,
    args: Vec<Expr>,
    distinct: bool,
    schema: &DFSchema,
) -> PlanResult<Expr> {
    let key = registered_name(name)
        .map(str::to_string)
        .unwrap_or_else(|| name.to_ascii_lowercase());
    let c = Call {
        p,
        args,
        distinct,
        schema,
    };
    if let Some((_, build)) = SPARK.iter().find(|(n, _)| *n == key) {
        return build(c);
    }
    if let Some(f) = p.state.scalar_functions().get(&key) {
        return Ok(Expr::ScalarFunction(ScalarFunction::new_udf(
            f.clone(),
            c.args,
        )));
    }
    if p.state.aggregate_functions().contains_key(&key) {
        return aggregate(c, &key);
    }
    if let Some(f) = p.state.window_functions().get(&key) {
        return Ok(Expr::WindowFunction(Box::new(WindowFunction::new(
            WindowFunctionDefinition::WindowUDF(f.clone()),
            c.args,
        ))));
    }
    Err(PlanError::UnknownFunction(crate::error::quote(name)))
}

/// Spark's `CAST`: ANSI mode fails on bad input, legacy mode yields NULL.
pub(crate) fn cast_to(p: &Planner, e: Expr, to: DataType, schema: &DFSchema) -> PlanResult<Expr> {
    let from = e.get_type(schema)?;
    if from == to {
        return Ok(e);
    }
    if let Some(e) = crate::timestamp_cast::spark_timestamp_cast(&e, &from, &to, !p.config.ansi) {
        return Ok(e);
    }
    // Spark prints timestamps in its own style, not Arrow's ISO form.
    if matches!(to, DataType::Utf8) {
        if let DataType::Timestamp(..) = from {
            return scalar(p, "to_char", vec![e, lit("%Y-%m-%d %H:%M:%S")]);
        }
    }
    // Doubles, collections and structs as Spark's CAST prints them.
    if !matches!(from, DataType::Timestamp(..)) {
        if let Some(text) = udf::spark_cast_string(&e, &to, schema) {
            return Ok(text);
        }
    }
    if matches!(to, DataType::Timestamp(TimeUnit::Microsecond, _)) && matches!(from, DataType::Utf8)
    {
        return Ok(Expr::Cast(datafusion::logical_expr::Cast::new(
            Box::new(e),
            to,
        )));
    }
    Ok(if p.config.ansi {
        cast(e, to)
    } else {
        try_cast(e, to)
    })
}

/// `col[key]` / `getItem` / `getField`: 0-based for arrays, by key for maps, by name for structs.
pub(crate) fn extract_value(
    p: &Planner,
    child: Expr,
    key: Expr,
    schema: &DFSchema,
) -> PlanResult<Expr> {
    let ty = child.get_type(schema)?;
    // A name over an array of structs is Spark's GetArrayStructFields: each element's field.
    if let (Some((_, true)), Expr::Literal(ScalarValue::Utf8(Some(name)), _)) =
        (crate::field_access::struct_fields(&ty), &key)
    {
        return Ok(crate::field_access::get_field(child, name));
    }
    match ty {
        DataType::List(_) | DataType::LargeList(_) if p.config.ansi => {
            scalar(p, crate::element_at::SUBSCRIPT_ANSI, vec![child, key])
        }
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..) => {
            let index = binary_expr(cast(key, DataType::Int64), Operator::Plus, lit(1i64));
            scalar(p, "array_element", vec![child, index])
        }
        DataType::Struct(_) | DataType::Map(..) => scalar(p, "get_field", vec![child, key]),
        other => Err(PlanError::analysis(format!(
            "[INVALID_EXTRACT_BASE_FIELD_TYPE] Can't extract a value from {child}. Need a complex type [STRUCT, ARRAY, MAP] but got \"{}\".",
            crate::types::sql_name(&other)
        ))),
    }
}
