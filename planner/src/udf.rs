//! Spark functions that neither DataFusion nor `datafusion-spark` provide with Spark's
//! semantics. Each is a [`Def`]: a name, a return type rule and an array kernel.
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, ListBuilder, RecordBatch,
    StringArray, StringBuilder, StructArray,
};
use arrow::buffer::NullBuffer;
use arrow::compute::kernels::numeric;
use arrow::datatypes::{DataType, Field, FieldRef, Fields, Schema};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::DFSchema;
use datafusion::common::{exec_err, DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{
    binary_expr, ColumnarValue, Expr, ExprSchemable, Operator, ReturnFieldArgs, ScalarFunctionArgs,
    ScalarUDF, ScalarUDFImpl, Signature, TypeSignature, Volatility,
};

type Kernel = fn(&[ArrayRef], &DataType) -> Result<ArrayRef>;

/// One Spark function implemented here; its name identifies it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Def {
    name: &'static str,
    ret: fn(&[DataType]) -> DataType,
    kernel: Kernel,
    volatile: bool,
    nulls: Nulls,
}

/// When a function's result may be NULL.
#[derive(Debug, Clone, Copy)]
enum Nulls {
    /// Whatever the arguments.
    Any,
    /// Never, whatever the arguments (Spark's `hash`).
    Never,
    /// Only when an argument may be (arithmetic).
    FromArgs,
}

/// Spark's `+`, `-` and `*` on integral types under ANSI mode: an overflow is an error.
pub(crate) const CHECKED_ARITHMETIC: [(Operator, Def); 3] = [
    (
        Operator::Plus,
        Def {
            name: "+",
            ret: wider_integral,
            kernel: |a, t| checked(a, t, numeric::add, "try_add"),
            volatile: false,
            nulls: Nulls::FromArgs,
        },
    ),
    (
        Operator::Minus,
        Def {
            name: "-",
            ret: wider_integral,
            kernel: |a, t| checked(a, t, numeric::sub, "try_subtract"),
            volatile: false,
            nulls: Nulls::FromArgs,
        },
    ),
    (
        Operator::Multiply,
        Def {
            name: "*",
            ret: wider_integral,
            kernel: |a, t| checked(a, t, numeric::mul, "try_multiply"),
            volatile: false,
            nulls: Nulls::FromArgs,
        },
    ),
];

/// `l op r` with Spark's ANSI overflow check when both sides are integral; otherwise
/// DataFusion's operator.
pub(crate) fn arithmetic(l: Expr, op: Operator, r: Expr, schema: &DFSchema, ansi: bool) -> Expr {
    let integral = |e: &Expr| e.get_type(schema).is_ok_and(|t| t.is_integer());
    match CHECKED_ARITHMETIC.iter().find(|(o, _)| *o == op) {
        Some((_, def)) if ansi && integral(&l) && integral(&r) => call(*def, vec![l, r]),
        _ => binary_expr(l, op, r),
    }
}

/// The wider of two integral types, as Spark widens `int + bigint` to BIGINT.
fn wider_integral(args: &[DataType]) -> DataType {
    let width = |t: &DataType| t.primitive_width().unwrap_or(8);
    args.iter()
        .max_by_key(|t| width(t))
        .cloned()
        .unwrap_or(DataType::Int64)
}

type NumericKernel = fn(
    &dyn arrow::array::Datum,
    &dyn arrow::array::Datum,
) -> std::result::Result<ArrayRef, arrow::error::ArrowError>;

fn checked(
    args: &[ArrayRef],
    out: &DataType,
    kernel: NumericKernel,
    tolerant: &str,
) -> Result<ArrayRef> {
    let [l, r] = args else {
        return exec_err!("an arithmetic operator takes two arguments");
    };
    let l = arrow::compute::cast(l, out)?;
    let r = arrow::compute::cast(r, out)?;
    kernel(&l, &r).map_err(|e| match e {
        arrow::error::ArrowError::ArithmeticOverflow(_) => DataFusionError::Execution(format!(
            "[ARITHMETIC_OVERFLOW] overflow. Use '{tolerant}' to tolerate overflow and return NULL instead. If necessary set \"spark.sql.ansi.enabled\" to \"false\" to bypass this error. SQLSTATE: 22003"
        )),
        other => other.into(),
    })
}

/// Spark's `CAST(x AS STRING)` where Arrow's cast prints differently (or not at all):
/// doubles (`1.0E20`), timestamps (`2020-01-02 03:04:05`), arrays, maps (`{a -> 1}`) and
/// structs (`{1, z}`). Named like the cast, so plan nodes above find it by that name.
const CAST_TO_STRING: Def = Def {
    name: "__sluice_cast_string",
    ret: |_| DataType::Utf8,
    kernel: cast_to_string,
    volatile: false,
    nulls: Nulls::FromArgs,
};

/// Source types whose text [`CAST_TO_STRING`] produces.
fn spark_text_differs(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Float32
            | DataType::Float64
            | DataType::Timestamp(..)
            | DataType::Duration(_)
            | DataType::Interval(arrow::datatypes::IntervalUnit::YearMonth)
            | DataType::List(_)
            | DataType::LargeList(_)
            | DataType::FixedSizeList(..)
            | DataType::Map(..)
            | DataType::Struct(_)
    )
}

/// `CAST(e AS to)` for a string type `to`, with Spark's text where Arrow's differs; None
/// when Arrow's cast already matches Spark.
pub(crate) fn spark_cast_string(e: &Expr, to: &DataType, schema: &DFSchema) -> Option<Expr> {
    let string = matches!(
        to,
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
    );
    let from = e.get_type(schema).ok()?;
    (string && spark_text_differs(&from))
        .then(|| udf_expr(CAST_TO_STRING, Some(to.clone()), vec![e.clone()]))
}

fn cast_to_string(args: &[ArrayRef], out: &DataType) -> Result<ArrayRef> {
    let [a] = args else {
        return exec_err!("CAST takes one value");
    };
    let texts: StringArray = (0..a.len())
        .map(|i| (!a.is_null(i)).then(|| crate::show::cast_text(a, i)))
        .collect();
    Ok(arrow::compute::cast(&(Arc::new(texts) as ArrayRef), out)?)
}

pub(crate) const DIVIDE: Def = Def {
    name: "try_divide",
    ret: |_| DataType::Float64,
    kernel: |a, _| divide(a, false),
    volatile: false,
    nulls: Nulls::Any,
};
pub(crate) const DIVIDE_ANSI: Def = Def {
    name: "/",
    ret: |_| DataType::Float64,
    kernel: |a, _| divide(a, true),
    volatile: false,
    nulls: Nulls::Any,
};
/// Spark's `a div b`: integral division truncating toward zero, NULL for a zero divisor.
/// The name SQL text reaches it by (the `DIV` operator is rewritten to it).
const INTEGRAL_DIVIDE: Def = Def {
    name: "div",
    ret: |_| DataType::Int64,
    kernel: |a, _| integral_divide(a, false),
    volatile: false,
    nulls: Nulls::Any,
};
/// `a div b` under ANSI mode: a zero divisor or an overflow is an error.
const INTEGRAL_DIVIDE_ANSI: Def = Def {
    name: "div_ansi",
    ret: |_| DataType::Int64,
    kernel: |a, _| integral_divide(a, true),
    volatile: false,
    nulls: Nulls::Any,
};
/// Spark's `bround(x, scale)` on floating and integral numbers: half-to-even rounding.
pub(crate) const BROUND: Def = Def {
    name: "bround",
    ret: |a| a.first().cloned().unwrap_or(DataType::Float64),
    kernel: bround,
    volatile: false,
    nulls: Nulls::Any,
};
/// Spark's `format_number(x, d)`: `1,234,567.89`; NULL for a negative `d`.
pub(crate) const FORMAT_NUMBER: Def = Def {
    name: "format_number",
    ret: |_| DataType::Utf8,
    kernel: format_number,
    volatile: false,
    nulls: Nulls::Any,
};
/// Spark's `hash(...)`: Murmur3 over the arguments, seed 42; never NULL.
pub(crate) const HASH: Def = Def {
    name: "hash",
    ret: |_| DataType::Int32,
    kernel: |a, _| crate::murmur3::hash(a),
    volatile: false,
    nulls: Nulls::Never,
};
/// Spark's `sequence(start, stop[, step])` over integral types.
pub(crate) const SEQUENCE: Def = Def {
    name: "sequence",
    ret: |a| {
        let bounds = &a[..a.len().min(2)];
        DataType::List(Arc::new(Field::new(
            "element",
            wider_integral(bounds),
            false,
        )))
    },
    kernel: sequence,
    volatile: false,
    nulls: Nulls::FromArgs,
};
pub(crate) const SPLIT: Def = Def {
    name: "split",
    ret: |_| string_list(),
    kernel: split,
    volatile: false,
    nulls: Nulls::FromArgs,
};
pub(crate) const REGEXP_EXTRACT: Def = Def {
    name: "regexp_extract",
    ret: |_| DataType::Utf8,
    kernel: regexp_extract,
    volatile: false,
    nulls: Nulls::FromArgs,
};
pub(crate) const GET_JSON_OBJECT: Def = Def {
    name: "get_json_object",
    ret: |_| DataType::Utf8,
    kernel: get_json_object,
    volatile: false,
    nulls: Nulls::Any,
};
pub(crate) const TO_JSON: Def = Def {
    name: "to_json",
    ret: |_| DataType::Utf8,
    kernel: to_json,
    volatile: false,
    nulls: Nulls::Any,
};
const FROM_JSON: Def = Def {
    name: "from_json",
    ret: |_| DataType::Null,
    kernel: from_json_kernel,
    volatile: false,
    nulls: Nulls::Any,
};

/// Spark's `raise_error(message)`: fails the query with USER_RAISED_EXCEPTION when a row
/// reaches it (volatile, so planning never folds it into an error of its own).
pub(crate) const RAISE_ERROR: Def = Def {
    name: "raise_error",
    ret: |_| DataType::Null,
    kernel: raise_error,
    volatile: true,
    nulls: Nulls::Any,
};
/// Spark's `assert_true(condition, message)`: NULL while the condition holds, else fails
/// with the message. A call without a message gets Spark's (see [`with_assert_message`]).
pub(crate) const ASSERT_TRUE: Def = Def {
    name: "assert_true",
    ret: |_| DataType::Null,
    kernel: assert_true,
    volatile: true,
    nulls: Nulls::Any,
};

/// The name of [`INPUT_FILE_NAME`], which `input_file::resolve` looks for.
pub(crate) const INPUT_FILE_NAME_NAME: &str = "input_file_name";
/// Spark's `input_file_name()` where no file scan is below it: `""`, as Spark answers when it
/// does not know the file. Volatile, so that it is never folded before
/// [`crate::input_file::resolve`] replaces it.
pub(crate) const INPUT_FILE_NAME: Def = Def {
    name: INPUT_FILE_NAME_NAME,
    ret: |_| DataType::Utf8,
    kernel: |a, _| {
        let n = a.first().map_or(0, |a| a.len());
        Ok(Arc::new(StringArray::from(vec![""; n])))
    },
    volatile: true,
    nulls: Nulls::Never,
};

impl PartialEq for Def {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Def {}

impl std::hash::Hash for Def {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

fn string_list() -> DataType {
    DataType::List(Arc::new(Field::new("element", DataType::Utf8, true)))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct SparkUdf {
    def: Def,
    signature: Signature,
    /// A return type fixed at planning time (from_json's schema).
    fixed: Option<DataType>,
}

impl ScalarUDFImpl for SparkUdf {
    fn name(&self) -> &str {
        self.def.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(self.fixed.clone().unwrap_or_else(|| (self.def.ret)(args)))
    }
    fn schema_name(&self, args: &[Expr]) -> Result<String> {
        // Checked arithmetic keeps the operator's name, so plan nodes above that refer to
        // `a + b` by name still find it.
        match args {
            [e] if self.def.name == CAST_TO_STRING.name => Ok(e.schema_name().to_string()),
            [l, r]
                if CHECKED_ARITHMETIC
                    .iter()
                    .any(|(_, d)| d.name == self.def.name) =>
            {
                Ok(format!(
                    "{} {} {}",
                    l.schema_name(),
                    self.def.name,
                    r.schema_name()
                ))
            }
            _ => Ok(format!(
                "{}({})",
                self.name(),
                args.iter()
                    .map(|a| a.schema_name().to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            )),
        }
    }
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let types: Vec<DataType> = args
            .arg_fields
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        let nullable = match self.def.nulls {
            Nulls::Any => true,
            Nulls::Never => false,
            Nulls::FromArgs => args.arg_fields.iter().any(|f| f.is_nullable()),
        };
        Ok(Arc::new(Field::new(
            self.name(),
            self.return_type(&types)?,
            nullable,
        )))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        // Every argument as one value per row: with only literal arguments a call that is
        // not folded at planning (raise_error('x') in a CASE branch) must still answer one
        // value per row of the batch, not one for the whole batch.
        let mut arrays = args
            .args
            .iter()
            .map(|a| a.to_array(args.number_rows))
            .collect::<Result<Vec<_>>>()?;
        if arrays.is_empty() {
            // A call without arguments still answers one value per row.
            arrays.push(arrow::array::new_null_array(
                &DataType::Null,
                args.number_rows,
            ));
        }
        let out_type = self
            .fixed
            .clone()
            .unwrap_or_else(|| args.return_type().clone());
        Ok(ColumnarValue::Array((self.def.kernel)(&arrays, &out_type)?))
    }
}

/// Any number of arguments of any type, none included (`input_file_name()`), with the
/// function's volatility.
fn signature(def: &Def) -> Signature {
    let volatility = if def.volatile {
        Volatility::Volatile
    } else {
        Volatility::Immutable
    };
    Signature::one_of(
        vec![TypeSignature::Nullary, TypeSignature::VariadicAny],
        volatility,
    )
}

fn udf_expr(def: Def, fixed: Option<DataType>, args: Vec<Expr>) -> Expr {
    let udf = SparkUdf {
        signature: signature(&def),
        def,
        fixed,
    };
    Expr::ScalarFunction(ScalarFunction::new_udf(
        Arc::new(ScalarUDF::new_from_impl(udf)),
        args,
    ))
}

/// The functions here that SQL text can call by name (DataFusion's SQL planner resolves
/// names through the session's registry).
pub fn sql_functions() -> Vec<ScalarUDF> {
    [
        SPLIT,
        SEQUENCE,
        REGEXP_EXTRACT,
        GET_JSON_OBJECT,
        TO_JSON,
        INTEGRAL_DIVIDE,
        BROUND,
        FORMAT_NUMBER,
        HASH,
        RAISE_ERROR,
        ASSERT_TRUE,
        INPUT_FILE_NAME,
    ]
    .into_iter()
    .map(|def| {
        ScalarUDF::new_from_impl(SparkUdf {
            signature: signature(&def),
            def,
            fixed: None,
        })
    })
    .chain([
        crate::sql_generator::marker_udf(),
        crate::field_access::get_field_udf(),
        ScalarUDF::new_from_impl(TypeOf::default()),
        crate::random::udf(),
        crate::nvl2::udf(),
        crate::interval::udf(),
        crate::not_null::sql_udf(),
        crate::months_between::udf(),
    ])
    .chain(crate::element_at::sql_functions())
    .chain(crate::epoch_timestamp::udfs())
    .collect()
}

/// Spark's `typeof(x)`: the argument's type as Spark spells it, never NULL. The DataFrame
/// API folds it to a literal at planning; SQL text reaches it through the registry.
#[derive(Debug, PartialEq, Eq, Hash)]
struct TypeOf {
    signature: Signature,
}

impl Default for TypeOf {
    fn default() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for TypeOf {
    fn name(&self) -> &str {
        "typeof"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn return_field_from_args(&self, _args: ReturnFieldArgs) -> Result<FieldRef> {
        Ok(Arc::new(Field::new(self.name(), DataType::Utf8, false)))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [field] = args.arg_fields.as_slice() else {
            return exec_err!("typeof takes one argument");
        };
        Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(
            crate::types::simple_string(field.data_type()),
        ))))
    }
}

/// The planned call of SQL's `div` in the variant the session's ANSI mode asks for.
pub(crate) fn with_ansi_divide(e: Expr, ansi: bool) -> Transformed<Expr> {
    match e {
        Expr::ScalarFunction(f) if ansi && f.name() == INTEGRAL_DIVIDE.name => {
            Transformed::yes(call(INTEGRAL_DIVIDE_ANSI, f.args))
        }
        other => Transformed::no(other),
    }
}

/// `assert_true(c)` without a message fails with Spark's: `'<c as SQL>' is not true!`.
pub(crate) fn with_assert_message(e: Expr) -> Transformed<Expr> {
    match e {
        Expr::ScalarFunction(f) if f.name() == ASSERT_TRUE.name && f.args.len() == 1 => {
            Transformed::yes(assert_true_call(f.args))
        }
        other => Transformed::no(other),
    }
}

/// `assert_true(condition[, message])`, giving a lone condition Spark's message.
pub(crate) fn assert_true_call(mut args: Vec<Expr>) -> Expr {
    if args.len() == 1 {
        // The message shows the condition as written: `(1 > 2)`, not the casts the SQL
        // planner put around its literals.
        let written = args[0]
            .clone()
            .transform_up(|x| match x {
                Expr::Cast(c) if matches!(*c.expr, Expr::Literal(..)) => {
                    Ok(Transformed::yes(*c.expr))
                }
                other => Ok(Transformed::no(other)),
            })
            .map(|t| t.data)
            .unwrap_or_else(|_| args[0].clone());
        let text = datafusion::sql::unparser::expr_to_sql(&written)
            .map(|sql| sql.to_string())
            .unwrap_or_else(|_| args[0].to_string());
        args.push(Expr::Literal(
            ScalarValue::Utf8(Some(format!("'{text}' is not true!"))),
            None,
        ));
    }
    call(ASSERT_TRUE, args)
}

pub(crate) fn call(def: Def, args: Vec<Expr>) -> Expr {
    udf_expr(def, None, args)
}

pub(crate) fn from_json(json: Expr, ty: DataType) -> Expr {
    udf_expr(FROM_JSON, Some(ty), vec![json])
}

fn strings(a: &ArrayRef) -> Result<StringArray> {
    let cast = arrow::compute::cast(a, &DataType::Utf8)?;
    Ok(cast.as_string::<i32>().clone())
}

fn ints(a: &ArrayRef) -> Result<Vec<Option<i64>>> {
    let cast = arrow::compute::cast(a, &DataType::Int64)?;
    Ok(cast
        .as_primitive::<arrow::datatypes::Int64Type>()
        .iter()
        .collect())
}

fn divide(args: &[ArrayRef], ansi: bool) -> Result<ArrayRef> {
    let [l, r] = args else {
        return exec_err!("/ takes two arguments");
    };
    let l = l.as_primitive::<arrow::datatypes::Float64Type>();
    let r = r.as_primitive::<arrow::datatypes::Float64Type>();
    let out: Float64Array = l
        .iter()
        .zip(r.iter())
        .map(|(a, b)| match (a, b) {
            (Some(a), Some(b)) => match (b == 0.0, ansi) {
                (false, _) => Ok(Some(a / b)),
                (true, false) => Ok(None),
                (true, true) => Err(DataFusionError::Execution(
                    "[DIVIDE_BY_ZERO] Division by zero. Use `try_divide` to tolerate divisor being 0 and return NULL instead. If necessary set \"spark.sql.ansi.enabled\" to \"false\" to bypass this error.".into(),
                )),
            },
            _ => Ok(None),
        })
        .collect::<Result<_>>()?;
    Ok(Arc::new(out))
}

fn integral_divide(args: &[ArrayRef], ansi: bool) -> Result<ArrayRef> {
    let [l, r] = args else {
        return exec_err!("div takes two arguments");
    };
    let (l, r) = (ints(l)?, ints(r)?);
    let out: Int64Array = l
        .iter()
        .zip(&r)
        .map(|(a, b)| match (*a, *b) {
            (Some(_), Some(0)) if ansi => Err(DataFusionError::Execution(
                "[DIVIDE_BY_ZERO] Division by zero. Use `try_divide` to tolerate divisor being 0 and return NULL instead. If necessary set \"spark.sql.ansi.enabled\" to \"false\" to bypass this error.".into(),
            )),
            (Some(a), Some(b)) if b != 0 => match a.checked_div(b) {
                Some(q) => Ok(Some(q)),
                None if ansi => Err(DataFusionError::Execution(
                    "[ARITHMETIC_OVERFLOW] Overflow in integral divide. Use 'try_divide' to tolerate overflow and return NULL instead. If necessary set \"spark.sql.ansi.enabled\" to \"false\" to bypass this error.".into(),
                )),
                None => Ok(Some(a.wrapping_div(b))),
            },
            _ => Ok(None),
        })
        .collect::<Result<_>>()?;
    Ok(Arc::new(out))
}

/// The scale argument of `bround` / `format_number`: a constant, so its first value.
fn scale_arg(args: &[ArrayRef], name: &str) -> Result<(ArrayRef, Option<i64>)> {
    match args {
        [x] => Ok((Arc::clone(x), Some(0))),
        [x, scale] => Ok((Arc::clone(x), ints(scale)?.first().copied().flatten())),
        _ => exec_err!("{name} takes one or two arguments"),
    }
}

fn bround(args: &[ArrayRef], out: &DataType) -> Result<ArrayRef> {
    let (x, scale) = scale_arg(args, "bround")?;
    let scale = i32::try_from(scale.unwrap_or(0)).unwrap_or(0);
    let doubles = arrow::compute::cast(&x, &DataType::Float64)?;
    let rounded: Float64Array = doubles
        .as_primitive::<arrow::datatypes::Float64Type>()
        .iter()
        .map(|v| v.map(|v| crate::decimal_text::bround(v, scale)))
        .collect();
    Ok(arrow::compute::cast(&rounded, out)?)
}

fn format_number(args: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let (x, decimals) = scale_arg(args, "format_number")?;
    let decimals = decimals
        .and_then(|d| i32::try_from(d).ok())
        .filter(|d| *d >= 0);
    let floating = matches!(x.data_type(), DataType::Float32 | DataType::Float64);
    let texts = if floating {
        let doubles = arrow::compute::cast(&x, &DataType::Float64)?;
        doubles
            .as_primitive::<arrow::datatypes::Float64Type>()
            .iter()
            .map(|v| v.map(crate::decimal_text::plain))
            .collect::<Vec<_>>()
    } else {
        strings(&x)?.iter().map(|v| v.map(str::to_string)).collect()
    };
    let out: StringArray = texts
        .into_iter()
        .map(|t| Some(crate::decimal_text::format_number(&t?, decimals?)))
        .collect();
    Ok(Arc::new(out))
}

/// A regex compiled once per distinct pattern within a batch.
struct Patterns(Vec<(String, regex::Regex)>);

impl Patterns {
    fn get(&mut self, p: &str) -> Result<&regex::Regex> {
        if let Some(i) = self.0.iter().position(|(s, _)| s == p) {
            return Ok(&self.0[i].1);
        }
        let re = regex::Regex::new(p).map_err(|e| {
            DataFusionError::Execution(format!(
                "[INVALID_PARAMETER_VALUE.PATTERN] The value of parameter(s) `regexp` is invalid: {p}: {e}"
            ))
        })?;
        self.0.push((p.to_string(), re));
        Ok(&self.0[self.0.len() - 1].1)
    }
}

/// `split(str, regex[, limit])`: Java's `String.split` with a limit (-1: keep trailing empties).
fn split(args: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let s = strings(&args[0])?;
    let p = strings(
        args.get(1)
            .ok_or_else(|| DataFusionError::Execution("split needs a pattern".into()))?,
    )?;
    let limit = match args.get(2) {
        Some(a) => ints(a)?,
        None => vec![Some(-1); s.len()],
    };
    let mut patterns = Patterns(vec![]);
    let mut out = ListBuilder::new(StringBuilder::new()).with_field(Arc::new(Field::new(
        "element",
        DataType::Utf8,
        true,
    )));
    for i in 0..s.len() {
        if s.is_null(i) || p.is_null(i) {
            out.append(false);
            continue;
        }
        let re = patterns.get(p.value(i))?;
        let text = s.value(i);
        let limit = limit[i].unwrap_or(-1);
        let parts: Vec<&str> = if limit > 0 {
            re.splitn(text, limit as usize).collect()
        } else {
            re.split(text).collect()
        };
        for part in parts {
            out.values().append_value(part);
        }
        out.append(true);
    }
    Ok(Arc::new(out.finish()))
}

/// Spark refuses more elements in one array.
const MAX_ARRAY_LENGTH: i128 = i32::MAX as i128 - 15;

/// `sequence(start, stop[, step])`: start to stop inclusive, by step (1, or -1 when stop is
/// below start); a step leading away from stop is Spark's IllegalArgumentException.
fn sequence(args: &[ArrayRef], out: &DataType) -> Result<ArrayRef> {
    let integral = |a: &ArrayRef| a.data_type().is_integer() || a.data_type().is_null();
    let element = match out {
        DataType::List(f) if f.data_type().is_integer() && args.iter().all(integral) => f,
        _ => {
            let types: Vec<String> = args
                .iter()
                .map(|a| crate::types::sql_name(a.data_type()))
                .collect();
            return Err(DataFusionError::External(Box::new(crate::error::PlanError::analysis(format!(
                "[DATATYPE_MISMATCH.SEQUENCE_WRONG_INPUT_TYPES] Cannot resolve \"sequence\" due to data type mismatch: `sequence` uses the wrong parameter type ({}): start and stop must be of the same integral type (dates and timestamps with interval steps are not supported by sluice yet). SQLSTATE: 42K09",
                types.join(", ")
            )))));
        }
    };
    let (Some(start), Some(stop)) = (args.first(), args.get(1)) else {
        return exec_err!("sequence takes a start and a stop");
    };
    let (start, stop) = (ints(start)?, ints(stop)?);
    let step = args.get(2).map(ints).transpose()?;
    let mut list = ListBuilder::new(arrow::array::Int64Builder::new())
        .with_field(Arc::new(Field::new("element", DataType::Int64, false)));
    for i in 0..start.len() {
        let step = match &step {
            Some(s) => s[i],
            None => match (start[i], stop[i]) {
                (Some(a), Some(b)) => Some(if a <= b { 1 } else { -1 }),
                _ => None,
            },
        };
        let (Some(a), Some(b), Some(by)) = (start[i], stop[i], step) else {
            list.append(false);
            continue;
        };
        let (a, b, by) = (a as i128, b as i128, by as i128);
        if by == 0 || (b > a && by < 0) || (b < a && by > 0) {
            return Err(DataFusionError::External(Box::new(
                crate::error::PlanError::invalid(format!(
                    "requirement failed: Illegal sequence boundaries: {a} to {b} by {by}"
                )),
            )));
        }
        let length = (b - a) / by + 1;
        if length > MAX_ARRAY_LENGTH {
            return Err(DataFusionError::External(Box::new(
                crate::error::PlanError::invalid(format!(
                    "[COLLECTION_SIZE_LIMIT_EXCEEDED.PARAMETER] Can't create array with {length} elements which exceeding the array size limit {MAX_ARRAY_LENGTH}. SQLSTATE: 54000"
                )),
            )));
        }
        for k in 0..length {
            list.values().append_value((a + k * by) as i64);
        }
        list.append(true);
    }
    let list: ArrayRef = Arc::new(list.finish());
    let target = DataType::List(element.clone());
    Ok(arrow::compute::cast(&list, &target)?)
}

/// `regexp_extract(str, regex, idx)`: group `idx` of the first match, "" when nothing matches.
fn regexp_extract(args: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let s = strings(&args[0])?;
    let p = strings(
        args.get(1)
            .ok_or_else(|| DataFusionError::Execution("regexp_extract needs a pattern".into()))?,
    )?;
    let idx = match args.get(2) {
        Some(a) => ints(a)?,
        None => vec![Some(1); s.len()],
    };
    let mut patterns = Patterns(vec![]);
    let mut out = StringBuilder::new();
    for (i, group) in idx.iter().enumerate() {
        let Some(group) = *group else {
            out.append_null();
            continue;
        };
        if s.is_null(i) || p.is_null(i) {
            out.append_null();
            continue;
        }
        let re = patterns.get(p.value(i))?;
        if group < 0 || group as usize >= re.captures_len() {
            return exec_err!(
                "[INVALID_PARAMETER_VALUE.REGEX_GROUP_INDEX] The value of parameter(s) `idx` in `regexp_extract` is invalid: Expects group index between 0 and {}, but got {group}.",
                re.captures_len() - 1
            );
        }
        let value = re
            .captures(s.value(i))
            .and_then(|c| c.get(group as usize).map(|m| m.as_str().to_string()))
            .unwrap_or_default();
        out.append_value(value);
    }
    Ok(Arc::new(out.finish()))
}

/// A step of a JSON path: `.name`, `['name']` or `[index]`.
enum Step {
    Key(String),
    Index(usize),
}

fn parse_json_path(path: &str) -> Option<Vec<Step>> {
    let mut rest = path.strip_prefix('$')?;
    let mut steps = vec![];
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end == 0 {
                return None;
            }
            steps.push(Step::Key(r[..end].to_string()));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix("['") {
            let end = r.find("']")?;
            steps.push(Step::Key(r[..end].to_string()));
            rest = &r[end + 2..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            steps.push(Step::Index(r[..end].trim().parse().ok()?));
            rest = &r[end + 1..];
        } else {
            return None;
        }
    }
    Some(steps)
}

/// `get_json_object(json, path)`: strings unquoted, other values as compact JSON, NULL on
/// malformed JSON, a bad path or a missing value.
fn get_json_object(args: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let s = strings(&args[0])?;
    let p = strings(
        args.get(1)
            .ok_or_else(|| DataFusionError::Execution("get_json_object needs a path".into()))?,
    )?;
    let mut out = StringBuilder::new();
    for i in 0..s.len() {
        let found = (!s.is_null(i) && !p.is_null(i))
            .then(|| {
                let steps = parse_json_path(p.value(i))?;
                let mut v: serde_json::Value = serde_json::from_str(s.value(i)).ok()?;
                for step in steps {
                    v = match (step, v) {
                        (Step::Key(k), serde_json::Value::Object(mut m)) => m.remove(&k)?,
                        (Step::Index(n), serde_json::Value::Array(mut a)) if n < a.len() => {
                            a.swap_remove(n)
                        }
                        _ => return None,
                    };
                }
                match v {
                    serde_json::Value::Null => None,
                    serde_json::Value::String(s) => Some(s),
                    other => Some(other.to_string()),
                }
            })
            .flatten();
        out.append_option(found);
    }
    Ok(Arc::new(out.finish()))
}

/// `to_json(struct | map | array)`: one JSON text per row, null struct fields left out as
/// Spark does.
fn to_json(args: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let Some(value) = args.first() else {
        return exec_err!("to_json needs a value");
    };
    match value.data_type() {
        DataType::Struct(_) => json_lines(value.as_struct()),
        // A map or array is written as the only field of a struct, then taken back out.
        DataType::Map(..) | DataType::List(_) | DataType::LargeList(_) => {
            let field = Field::new("v", value.data_type().clone(), true);
            let wrapped = StructArray::try_new(vec![field].into(), vec![value.clone()], None)?;
            let lines = json_lines(&wrapped)?;
            let lines = lines.as_string::<i32>();
            let mut out = StringBuilder::new();
            for line in lines.iter() {
                let inner = line.and_then(|l| l.strip_prefix("{\"v\":")?.strip_suffix('}'));
                out.append_option(inner);
            }
            Ok(Arc::new(out.finish()))
        }
        other => exec_err!("to_json expects a struct, a map or an array, got {other}"),
    }
}

fn json_lines(st: &StructArray) -> Result<ArrayRef> {
    let batch = RecordBatch::from(st.clone());
    let mut buf = Vec::new();
    {
        let mut w = arrow::json::LineDelimitedWriter::new(&mut buf);
        w.write(&batch)?;
        w.finish()?;
    }
    let text = String::from_utf8(buf).map_err(|e| DataFusionError::Execution(e.to_string()))?;
    let mut lines = text.lines();
    let mut out = StringBuilder::new();
    for i in 0..st.len() {
        let line = lines.next().unwrap_or("{}");
        if st.is_null(i) {
            out.append_null();
        } else {
            out.append_value(line);
        }
    }
    Ok(Arc::new(out.finish()))
}

/// `from_json(str, schema)`: rows that are not JSON objects (or do not fit) become NULL.
fn from_json_kernel(args: &[ArrayRef], ty: &DataType) -> Result<ArrayRef> {
    let DataType::Struct(fields) = ty else {
        return exec_err!("from_json supports a struct schema, got {ty}");
    };
    let s = strings(&args[0])?;
    let mut valid = Vec::with_capacity(s.len());
    let mut lines = String::new();
    for i in 0..s.len() {
        let ok = !s.is_null(i)
            && matches!(
                serde_json::from_str::<serde_json::Value>(s.value(i)),
                Ok(serde_json::Value::Object(_))
            );
        valid.push(ok);
        // Each value goes on one line; a JSON object re-serialised cannot contain a newline.
        let obj = if ok {
            serde_json::from_str::<serde_json::Value>(s.value(i))
                .map(|v| v.to_string())
                .unwrap_or_default()
        } else {
            "{}".to_string()
        };
        lines.push_str(&obj);
        lines.push('\n');
    }
    let decoded = match decode_rows(fields, &lines, s.len()) {
        Ok(d) => d,
        // A value that does not fit its field (`"a": "bad"` for an INT) makes that record's
        // fields NULL, as Spark's PERMISSIVE mode does; the others decode as they are.
        Err(_) => {
            let fitting: String = lines
                .lines()
                .map(|line| match decode_rows(fields, line, 1) {
                    Ok(_) => format!("{line}\n"),
                    Err(_) => "{}\n".to_string(),
                })
                .collect();
            decode_rows(fields, &fitting, s.len())?
        }
    };
    let nulls = NullBuffer::from(BooleanArray::from(valid).values().clone());
    let (f, cols, _) = decoded.into_parts();
    Ok(Arc::new(StructArray::try_new(f, cols, Some(nulls))?))
}

fn decode_rows(fields: &Fields, lines: &str, n: usize) -> Result<StructArray> {
    let schema = Arc::new(Schema::new(fields.clone()));
    let mut decoder = arrow::json::ReaderBuilder::new(schema.clone())
        .with_batch_size(n.max(1))
        .build_decoder()?;
    decoder.decode(lines.as_bytes())?;
    let batch = decoder
        .flush()?
        .unwrap_or_else(|| RecordBatch::new_empty(schema));
    Ok(StructArray::from(batch))
}

fn user_raised(message: &str) -> DataFusionError {
    DataFusionError::Execution(format!("[USER_RAISED_EXCEPTION] {message} SQLSTATE: P0001"))
}

fn raise_error(args: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let Some(messages) = args.first() else {
        return exec_err!("raise_error needs a message");
    };
    if messages.is_empty() {
        return Ok(arrow::array::new_null_array(&DataType::Null, 0));
    }
    let messages = strings(messages)?;
    let first = if messages.is_null(0) {
        "null"
    } else {
        messages.value(0)
    };
    Err(user_raised(first))
}

fn assert_true(args: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let [condition, messages] = args else {
        return exec_err!("assert_true needs a condition and a message");
    };
    let holds = arrow::compute::cast(condition, &DataType::Boolean)?;
    let holds = holds.as_boolean();
    let messages = strings(messages)?;
    if let Some(i) = (0..holds.len()).find(|&i| holds.is_null(i) || !holds.value(i)) {
        let message = if messages.is_null(i) {
            "null"
        } else {
            messages.value(i)
        };
        return Err(user_raised(message));
    }
    Ok(arrow::array::new_null_array(&DataType::Null, holds.len()))
}
