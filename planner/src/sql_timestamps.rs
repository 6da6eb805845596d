//! Spark's SQL timestamps. `TIMESTAMP` (Spark's default `spark.sql.timestampType`) and
//! `TIMESTAMP_LTZ` are instants shown in the session time zone; `TIMESTAMP_NTZ` is a
//! wall-clock time without one; both are microseconds. DataFusion reads a bare `TIMESTAMP` as
//! nanoseconds without a zone and knows neither `TIMESTAMP_NTZ` nor `TIMESTAMP_LTZ`, and its
//! datetime functions take chrono patterns where Spark's take `yyyy-MM-dd`. So casts, typed
//! literals and the datetime functions are respelled in the SQL text's tree before planning
//! (after the select list is named, so names stay Spark's).
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    CastKind, DataType as SqlType, Expr as SqlExpr, Function, FunctionArg, FunctionArgExpr,
    FunctionArguments, TimezoneInfo, Value, VisitorMut,
};

use crate::datetime::spark_to_chrono;
use crate::error::PlanError;
use crate::sql_syntax::call;

/// Spark type names DataFusion's SQL does not know, with the type each means.
const TYPE_NAMES: &[(&str, SqlType)] = &[
    ("LONG", SqlType::BigInt(None)),
    ("SHORT", SqlType::SmallInt(None)),
    ("BYTE", SqlType::TinyInt(None)),
];

/// `TIMESTAMP_LTZ '..'` literals as `TIMESTAMP '..'` (the same type in Spark), a spelling the
/// SQL parser reads.
pub(crate) fn ltz_literals(sql: &str) -> std::borrow::Cow<'_, str> {
    static LTZ: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?i)\bTIMESTAMP_LTZ(\s*')").expect("valid regex")
    });
    LTZ.replace_all(sql, "TIMESTAMP$1")
}

/// Respells timestamp types and datetime calls; `zoned` tells whether any now asks for the
/// session time zone (the statement must then be planned with it).
#[derive(Default)]
pub(crate) struct TimestampTypes {
    pub zoned: bool,
}

fn zoned_type() -> SqlType {
    SqlType::Timestamp(Some(6), TimezoneInfo::WithTimeZone)
}

fn ntz_type() -> SqlType {
    SqlType::Timestamp(Some(6), TimezoneInfo::None)
}

impl TimestampTypes {
    fn respell(&mut self, t: &mut SqlType) {
        let custom = match t {
            SqlType::Custom(name, args) if args.is_empty() => {
                Some(name.to_string().to_ascii_uppercase())
            }
            _ => None,
        };
        match (t.clone(), custom.as_deref()) {
            (SqlType::Timestamp(None, TimezoneInfo::None), _) | (_, Some("TIMESTAMP_LTZ")) => {
                *t = zoned_type();
                self.zoned = true;
            }
            (SqlType::TimestampNtz(None), _) | (_, Some("TIMESTAMP_NTZ")) => *t = ntz_type(),
            (_, Some(name)) => {
                if let Some((_, spark)) = TYPE_NAMES.iter().find(|(n, _)| *n == name) {
                    *t = spark.clone();
                }
            }
            _ => {}
        }
    }

    /// Spark's datetime functions in DataFusion's terms: a pattern becomes chrono's, and
    /// `to_timestamp` gives a zoned timestamp (`to_timestamp_ntz`, one without a zone).
    fn datetime_call(&mut self, f: &mut Function) -> Result<Option<SqlExpr>, PlanError> {
        let name = f.name.to_string().to_ascii_lowercase();
        let FunctionArguments::List(list) = &mut f.args else {
            return Ok(None);
        };
        let all = list.args.len();
        let mut args: Vec<&mut SqlExpr> = list
            .args
            .iter_mut()
            .filter_map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
                _ => None,
            })
            .collect();
        if args.len() != all {
            return Ok(None);
        }
        match (name.as_str(), args.as_mut_slice()) {
            ("date_format" | "to_date", [_, pattern]) => {
                chrono_pattern(pattern)?;
                Ok(None)
            }
            ("to_timestamp" | "to_timestamp_ltz" | "to_timestamp_ntz", [x]) => {
                Ok(Some(self.timestamp_cast(&name, (*x).clone())))
            }
            ("to_timestamp" | "to_timestamp_ltz" | "to_timestamp_ntz", [x, pattern]) => {
                if !chrono_pattern(pattern)? {
                    return Ok(None);
                }
                let parsed = call(
                    "to_timestamp_micros",
                    vec![(*x).clone(), (*pattern).clone()],
                );
                Ok(Some(self.timestamp_cast(&name, parsed)))
            }
            ("timestamp_seconds", [x]) => Ok(Some(self.timestamp_cast(&name, (*x).clone()))),
            (_, [x]) => {
                let Some((_, udf, _)) = crate::epoch_timestamp::FUNCTIONS
                    .iter()
                    .find(|(spark, _, _)| *spark == name)
                else {
                    return Ok(None);
                };
                Ok(Some(
                    self.timestamp_cast(&name, call(udf, vec![(*x).clone()])),
                ))
            }
            _ => Ok(None),
        }
    }

    fn timestamp_cast(&mut self, name: &str, x: SqlExpr) -> SqlExpr {
        let data_type = if name == "to_timestamp_ntz" {
            ntz_type()
        } else {
            self.zoned = true;
            zoned_type()
        };
        SqlExpr::Cast {
            kind: CastKind::Cast,
            expr: Box::new(x),
            data_type,
            array: false,
            format: None,
        }
    }
}

/// Rewrites a string-literal Spark pattern to chrono's in place; false when the pattern is
/// not a literal (it is then left to DataFusion as written).
fn chrono_pattern(e: &mut SqlExpr) -> Result<bool, PlanError> {
    let SqlExpr::Value(v) = e else {
        return Ok(false);
    };
    let (Value::SingleQuotedString(p) | Value::DoubleQuotedString(p)) = &v.value else {
        return Ok(false);
    };
    let chrono = spark_to_chrono(p)?;
    v.value = Value::SingleQuotedString(chrono);
    Ok(true)
}

impl VisitorMut for TimestampTypes {
    type Break = PlanError;

    fn pre_visit_expr(&mut self, expr: &mut SqlExpr) -> ControlFlow<PlanError> {
        match expr {
            SqlExpr::Cast { data_type, .. } => self.respell(data_type),
            SqlExpr::TypedString(ts) => self.respell(&mut ts.data_type),
            SqlExpr::Function(f) => match self.datetime_call(f) {
                Ok(Some(replacement)) => *expr = replacement,
                Ok(None) => {}
                Err(e) => return ControlFlow::Break(e),
            },
            _ => {}
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut SqlExpr) -> ControlFlow<PlanError> {
        if let SqlExpr::TypedString(_) = expr {
            *expr = call(crate::not_null::KNOWN_NOT_NULL, vec![expr.clone()]);
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::ast::VisitMut;
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    use super::*;

    fn respelled(sql: &str) -> (String, bool) {
        let mut statements = Parser::parse_sql(&GenericDialect {}, sql).expect("parses");
        let mut v = TimestampTypes::default();
        let _ = statements[0].visit(&mut v);
        (statements[0].to_string(), v.zoned)
    }

    #[test]
    fn spark_timestamp_is_zoned_microseconds() {
        let (sql, zoned) =
            respelled("SELECT CAST(x AS TIMESTAMP), TIMESTAMP '2024-01-01 00:00:00'");
        assert!(zoned);
        assert_eq!(
            sql,
            "SELECT CAST(x AS TIMESTAMP(6) WITH TIME ZONE), known_not_null(TIMESTAMP(6) WITH TIME ZONE '2024-01-01 00:00:00')"
        );
    }

    #[test]
    fn datetime_functions_take_chrono_patterns() {
        let (sql, zoned) = respelled(
            "SELECT to_timestamp(s, 'yyyy-MM-dd'), date_format(t, 'yyyy'), to_timestamp_ntz(s), CAST(1 AS LONG)",
        );
        assert!(zoned);
        assert_eq!(
            sql,
            "SELECT CAST(to_timestamp_micros(s, '%Y-%m-%d') AS TIMESTAMP(6) WITH TIME ZONE), date_format(t, '%Y'), CAST(s AS TIMESTAMP(6)), CAST(1 AS BIGINT)"
        );
    }

    #[test]
    fn epoch_functions_are_casts_to_the_session_zone() {
        let (sql, zoned) = respelled("SELECT timestamp_seconds(1), timestamp_millis(x)");
        assert!(zoned);
        assert_eq!(
            sql,
            "SELECT CAST(1 AS TIMESTAMP(6) WITH TIME ZONE), CAST(utc_timestamp_millis(x) AS TIMESTAMP(6) WITH TIME ZONE)"
        );
    }

    #[test]
    fn ntz_has_no_zone() {
        let (sql, zoned) = respelled("SELECT CAST(x AS TIMESTAMP_NTZ)");
        assert!(!zoned);
        assert_eq!(sql, "SELECT CAST(x AS TIMESTAMP(6))");
    }
}
