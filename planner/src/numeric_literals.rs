//! Spark's numeric literals that DataFusion's SQL front end reads differently: the typed
//! suffixes (`1L` BIGINT, `1S` SMALLINT, `1Y` TINYINT, `1.5D` DOUBLE, `1.5F` FLOAT, `1.5BD`
//! DECIMAL) and exponent literals (`1E3`, a DOUBLE in Spark).
//!
//! Three steps, in the order SQL text goes through them: [`fold_tokens`] makes each such
//! literal one number token (the tokenizer reads `1L` as an identifier and `1E2D` as a
//! number with the alias `D`); the select list is named from that AST with [`spark_name`];
//! then [`TypedLiterals`] turns each literal into a cast of its exact text to its type, a
//! form DataFusion's planner takes.
use std::ops::ControlFlow;
use std::sync::LazyLock;

use datafusion::sql::sqlparser::ast::{
    self, CastKind, ExactNumberInfo, Expr as SqlExpr, UnaryOperator, Value, VisitorMut,
};
use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan};
use regex::Regex;

use crate::error::PlanError;
use crate::literal::{format_double, format_float};

#[derive(Clone, Copy, Debug, PartialEq)]
enum NumericType {
    TinyInt,
    SmallInt,
    BigInt,
    Float,
    Double,
    Decimal,
}

/// Spark's literal suffixes (case-insensitive), `BD` before `D`.
const SUFFIXES: [(&str, NumericType); 6] = [
    ("BD", NumericType::Decimal),
    ("L", NumericType::BigInt),
    ("S", NumericType::SmallInt),
    ("Y", NumericType::TinyInt),
    ("D", NumericType::Double),
    ("F", NumericType::Float),
];

/// The integral types' names and ranges, for the literal range check Spark's parser makes.
const INTEGRAL_RANGES: [(NumericType, &str, i64, i64); 3] = [
    (
        NumericType::TinyInt,
        "tinyint",
        i8::MIN as i64,
        i8::MAX as i64,
    ),
    (
        NumericType::SmallInt,
        "smallint",
        i16::MIN as i64,
        i16::MAX as i64,
    ),
    (NumericType::BigInt, "bigint", i64::MIN, i64::MAX),
];

/// The floating types' names and bounds as Spark prints them in the range error.
const FLOATING_RANGES: [(NumericType, &str, &str); 2] = [
    (NumericType::Float, "float", "3.4028234663852886E+38"),
    (NumericType::Double, "double", "1.7976931348623157E+308"),
];

static INTEGER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[0-9]+$").expect("valid regex"));
static DECIMAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$").expect("valid regex")
});

/// The unsigned number text of a suffixed literal and its type (`1.5D` → `1.5`, DOUBLE).
fn suffixed(text: &str) -> Option<(&str, NumericType)> {
    SUFFIXES.iter().find_map(|(suffix, ty)| {
        let split = text.len().checked_sub(suffix.len())?;
        let (body, tail) = (text.get(..split)?, text.get(split..)?);
        if !tail.eq_ignore_ascii_case(suffix) {
            return None;
        }
        let integral = !matches!(
            ty,
            NumericType::Float | NumericType::Double | NumericType::Decimal
        );
        let shape = if integral { &INTEGER } else { &DECIMAL };
        shape.is_match(body).then_some((body, *ty))
    })
}

/// A number literal whose type DataFusion would get wrong: a suffixed one, or one with an
/// exponent (DOUBLE in Spark; DataFusion reads it as a decimal).
fn classify(text: &str) -> Option<(&str, NumericType)> {
    suffixed(text).or_else(|| {
        (text.contains(['e', 'E']) && DECIMAL.is_match(text)).then_some((text, NumericType::Double))
    })
}

fn has_exponent(number: &str) -> bool {
    number.contains(['e', 'E'])
}

/// Joins each typed numeric literal into one number token (`1.5D`, `1E2D`), so the parser
/// reads it as a literal. A word after a `.` stays a name part (`t.1D`), as does a quoted one.
pub(crate) fn fold_tokens(tokens: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    let mut out: Vec<TokenWithSpan> = Vec::with_capacity(tokens.len());
    for t in tokens {
        let Token::Word(w) = &t.token else {
            out.push(t);
            continue;
        };
        if w.quote_style.is_some() {
            out.push(t);
            continue;
        }
        let prev = out.last_mut();
        // `1E2` directly followed by `D`: the tokenizer ends the number at the exponent.
        if let Some(TokenWithSpan {
            token: Token::Number(n, false),
            span,
        }) = prev
        {
            let joined = format!("{n}{}", w.value);
            if has_exponent(n) && suffixed(&joined).is_some() {
                *n = joined;
                span.end = t.span.end;
                continue;
            }
        }
        let after_period = matches!(
            out.last(),
            Some(TokenWithSpan {
                token: Token::Period,
                ..
            })
        );
        if !after_period && suffixed(&w.value).is_some() {
            out.push(TokenWithSpan {
                token: Token::Number(w.value.clone(), false),
                span: t.span,
            });
        } else {
            out.push(t);
        }
    }
    out
}

/// A typed literal's value, checked against its type as Spark's parser does.
enum Checked {
    Integral(i64),
    Floating(f64),
    /// Unscaled digits (sign included) and scale.
    Decimal(String, u32),
}

fn range_error(raw: &str, ty: &str, min: &str, max: &str) -> PlanError {
    PlanError::Parse(format!(
        "[INVALID_NUMERIC_LITERAL_RANGE] Numeric literal {raw} is outside the valid range for {ty} with minimum value of {min} and maximum value of {max}. Please adjust the value accordingly. SQLSTATE: 22003"
    ))
}

/// `text` is the signed number without its suffix.
fn check(text: &str, ty: NumericType) -> Result<Checked, PlanError> {
    if let Some((_, name, min, max)) = INTEGRAL_RANGES.iter().find(|r| r.0 == ty) {
        return match text.parse::<i64>() {
            Ok(v) if (*min..=*max).contains(&v) => Ok(Checked::Integral(v)),
            _ => Err(range_error(text, name, &min.to_string(), &max.to_string())),
        };
    }
    if let Some((_, name, max)) = FLOATING_RANGES.iter().find(|r| r.0 == ty) {
        let v: f64 = text.parse().unwrap_or(f64::INFINITY);
        let finite = match ty {
            NumericType::Float => (v as f32).is_finite(),
            _ => v.is_finite(),
        };
        return if finite {
            Ok(Checked::Floating(v))
        } else {
            Err(range_error(text, name, &format!("-{max}"), max))
        };
    }
    decimal(text).map(|(digits, scale)| Checked::Decimal(digits, scale))
}

/// Spark's DECIMAL for a literal's digits: precision from the digits, scale from the
/// fraction (a negative exponent adds to the scale, a positive one multiplies out).
fn decimal(text: &str) -> Result<(String, u32), PlanError> {
    let (sign, unsigned) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text),
    };
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i64>().unwrap_or(i64::MAX)),
        None => (unsigned, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut digits = format!("{int_part}{frac_part}");
    let scale = frac_part.len() as i64 - exponent;
    let scale = if scale < 0 {
        digits.push_str(&"0".repeat(usize::try_from(-scale).unwrap_or(usize::MAX).min(64)));
        0
    } else {
        scale
    };
    let significant = digits.trim_start_matches('0').len().max(1) as i64;
    let precision = significant.max(scale);
    if precision > 38 {
        return Err(PlanError::Parse(format!(
            "[DECIMAL_PRECISION_EXCEEDS_MAX_PRECISION] Decimal precision {precision} exceeds max precision 38. SQLSTATE: 22003"
        )));
    }
    let digits = format!("{sign}{}", digits.trim_start_matches('0'));
    Ok((digits, scale as u32))
}

/// `digits` at `scale` as plain decimal text (`150`, 2 → `1.50`).
fn decimal_text(digits: &str, scale: u32) -> String {
    let (sign, digits) = match digits.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", digits),
    };
    let scale = scale as usize;
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int_part, frac_part) = padded.split_at(padded.len() - scale);
    if scale == 0 {
        format!("{sign}{int_part}")
    } else {
        format!("{sign}{int_part}.{frac_part}")
    }
}

/// Spark's name for a number literal where it differs from the SQL text (`1L` → `1`,
/// `1E3` → `1000.0`, `1.50BD` → `1.50`); None for the others.
pub(crate) fn spark_name(text: &str) -> Option<String> {
    let (sign, unsigned) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text),
    };
    let (number, ty) = classify(unsigned)?;
    Some(match check(&format!("{sign}{number}"), ty).ok()? {
        Checked::Integral(v) => v.to_string(),
        Checked::Floating(v) if ty == NumericType::Float => format_float(v as f32),
        Checked::Floating(v) => format_double(v),
        Checked::Decimal(digits, scale) => decimal_text(&digits, scale),
    })
}

/// The literal as a cast of its exact text to its Spark type.
fn typed(text: &str) -> Result<Option<SqlExpr>, PlanError> {
    let negative = text.starts_with('-');
    let Some((number, ty)) = classify(text.trim_start_matches('-')) else {
        return Ok(None);
    };
    let signed = if negative {
        format!("-{number}")
    } else {
        number.to_string()
    };
    let (value, data_type) = match check(&signed, ty)? {
        Checked::Integral(v) => (
            v.to_string(),
            match ty {
                NumericType::TinyInt => ast::DataType::TinyInt(None),
                NumericType::SmallInt => ast::DataType::SmallInt(None),
                _ => ast::DataType::BigInt(None),
            },
        ),
        Checked::Floating(_) if ty == NumericType::Float => {
            (signed, ast::DataType::Float(ExactNumberInfo::None))
        }
        Checked::Floating(_) => (signed, ast::DataType::Double(ExactNumberInfo::None)),
        Checked::Decimal(digits, scale) => {
            let precision = digits.trim_start_matches('-').len().max(scale as usize);
            (
                decimal_text(&digits, scale),
                ast::DataType::Decimal(ExactNumberInfo::PrecisionAndScale(
                    precision.max(1) as u64,
                    i64::from(scale),
                )),
            )
        }
    };
    Ok(Some(SqlExpr::Cast {
        kind: CastKind::Cast,
        expr: Box::new(SqlExpr::Value(Value::SingleQuotedString(value).into())),
        data_type,
        array: false,
        format: None,
    }))
}

fn number(e: &SqlExpr) -> Option<&str> {
    match e {
        SqlExpr::Value(v) => match &v.value {
            Value::Number(n, false) => Some(n),
            _ => None,
        },
        _ => None,
    }
}

/// Rewrites the typed numeric literals of a parsed statement or expression into casts.
/// Run after the select list is named: the casts would name differently.
#[derive(Default)]
pub(crate) struct TypedLiterals;

impl VisitorMut for TypedLiterals {
    type Break = PlanError;

    fn pre_visit_expr(&mut self, expr: &mut SqlExpr) -> ControlFlow<PlanError> {
        // Spark's literal takes its sign (`-128Y` is in range), so fold the minus in first.
        if let SqlExpr::UnaryOp {
            op: UnaryOperator::Minus,
            expr: inner,
        } = expr
        {
            if let Some(n) = number(inner).filter(|n| classify(n).is_some()) {
                *expr = SqlExpr::Value(Value::Number(format!("-{n}"), false).into());
            }
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut SqlExpr) -> ControlFlow<PlanError> {
        let Some(n) = number(expr) else {
            return ControlFlow::Continue(());
        };
        match typed(n) {
            Ok(Some(cast)) => {
                *expr = crate::sql_syntax::call(crate::not_null::KNOWN_NOT_NULL, vec![cast])
            }
            Ok(None) => {}
            Err(e) => return ControlFlow::Break(e),
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_spark() {
        let cases = [
            ("1L", Some("1")),
            ("007L", Some("7")),
            ("1S", Some("1")),
            ("1y", Some("1")),
            ("1.5D", Some("1.5")),
            ("1D", Some("1.0")),
            ("1E20D", Some("1.0E20")),
            ("1e3", Some("1000.0")),
            ("1.5F", Some("1.5")),
            ("0.1F", Some("0.1")),
            ("1.50BD", Some("1.50")),
            ("1BD", Some("1")),
            ("1.5E2BD", Some("150")),
            ("1.5", None),
            ("12", None),
            ("1.5L", None),
            ("-128Y", Some("-128")),
            ("-0.0D", Some("-0.0")),
        ];
        for (text, name) in cases {
            assert_eq!(spark_name(text).as_deref(), name, "{text}");
        }
    }

    fn folded(sql: &str) -> Vec<String> {
        let dialect = crate::dialect::SparkDialect;
        let tokens = datafusion::sql::sqlparser::tokenizer::Tokenizer::new(&dialect, sql)
            .tokenize_with_location()
            .unwrap_or_default();
        fold_tokens(tokens)
            .into_iter()
            .filter(|t| !matches!(t.token, Token::Whitespace(_)))
            .map(|t| match t.token {
                Token::Number(n, _) => format!("number {n}"),
                Token::Word(w) => format!("word {}", w.value),
                other => other.to_string(),
            })
            .collect()
    }

    #[test]
    fn only_literals_fold() {
        assert_eq!(folded("1L + 1E2D"), ["number 1L", "+", "number 1E2D"]);
        assert_eq!(
            folded("t1L, t.1D"),
            ["word t1L", ",", "word t", ".", "word 1D"]
        );
        assert_eq!(folded("'1L' `2D`"), ["'1L'", "word 2D"]);
        assert_eq!(folded("1E2 D"), ["number 1E2", "word D"]);
    }

    #[test]
    fn ranges_are_checked_with_the_sign() {
        assert!(typed("-128Y").is_ok_and(|e| e.is_some()));
        assert!(typed("128Y").is_err());
        assert!(typed("40000S").is_err());
        assert!(typed("1E400D").is_err());
        assert!(typed("1E39F").is_err());
        assert!(typed("9223372036854775808L").is_err());
    }

    #[test]
    fn decimals_take_precision_from_digits() {
        let cast = |t: &str| typed(t).ok().flatten().map(|e| e.to_string());
        assert_eq!(
            cast("1.50BD").as_deref(),
            Some("CAST('1.50' AS DECIMAL(3,2))")
        );
        assert_eq!(
            cast("0.001BD").as_deref(),
            Some("CAST('0.001' AS DECIMAL(3,3))")
        );
        assert_eq!(cast("-1BD").as_deref(), Some("CAST('-1' AS DECIMAL(1,0))"));
        assert_eq!(
            cast("1.5E2BD").as_deref(),
            Some("CAST('150' AS DECIMAL(3,0))")
        );
    }
}
