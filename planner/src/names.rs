//! Spark's default column names for unaliased expressions: `(a + b)`, `count(1)`,
//! `CAST(x AS INT)`. PySpark users see these names, so they must match Spark's.
use arrow::datatypes::DataType;
use datafusion::common::DFSchema;
use proto::connect::expression::{self as pexpr, ExprType};
use proto::connect::Expression;

use crate::expression::split_name;
use crate::{literal, types, Planner};

/// Infix operators as the client sends them, with Spark's spelling in names.
const INFIX: &[(&str, &str)] = &[
    ("+", "+"),
    ("-", "-"),
    ("*", "*"),
    ("/", "/"),
    ("%", "%"),
    ("==", "="),
    ("<", "<"),
    (">", ">"),
    ("<=", "<="),
    (">=", ">="),
    ("<=>", "<=>"),
    ("and", "AND"),
    ("or", "OR"),
    ("&", "&"),
    ("|", "|"),
    ("^", "^"),
];

impl Planner<'_> {
    /// The name Spark gives `e` when it is selected without an alias.
    pub(crate) fn name_of(&self, e: &Expression, schema: &DFSchema) -> String {
        match e.expr_type.as_ref() {
            // `col("a").cast(...)` selected keeps the column's name; inside another
            // expression the cast shows (`sum(CAST(i AS DECIMAL(10,2)))`).
            Some(ExprType::Cast(c))
                if matches!(
                    c.expr.as_deref().and_then(|x| x.expr_type.as_ref()),
                    Some(ExprType::UnresolvedAttribute(_))
                ) =>
            {
                c.expr
                    .as_deref()
                    .map(|x| self.sql_of(x, schema))
                    .unwrap_or_default()
            }
            Some(ExprType::Alias(a)) => a.name.join("."),
            _ => self.sql_of(e, schema),
        }
    }

    /// How `e` reads inside a name: Spark's SQL text for it.
    fn sql_of(&self, e: &Expression, schema: &DFSchema) -> String {
        let Some(kind) = e.expr_type.as_ref() else {
            return String::new();
        };
        match kind {
            ExprType::Literal(l) => literal::to_scalar(l, &self.config.time_zone)
                .map(|v| literal::spark_name(&v))
                .unwrap_or_default(),
            ExprType::UnresolvedAttribute(a) => {
                let parts = split_name(&a.unparsed_identifier);
                let last = parts.last().cloned().unwrap_or_default();
                // A bare column keeps the case of the schema's field, as Spark resolves it.
                schema
                    .columns()
                    .into_iter()
                    .find(|c| c.name.eq_ignore_ascii_case(&last))
                    .filter(|_| parts.len() == 1 || parts.len() == 2)
                    .map(|c| c.name)
                    .unwrap_or(last)
            }
            // An alias inside another expression shows with its child, as Spark's
            // `struct(id, x AS s)`.
            ExprType::Alias(a) => {
                let child = a
                    .expr
                    .as_deref()
                    .map(|x| self.sql_of(x, schema))
                    .unwrap_or_default();
                format!("{child} AS {}", quote_if_needed(&a.name.join(".")))
            }
            ExprType::UnresolvedFunction(f) => {
                self.function_name(&f.function_name, &f.arguments, f.is_distinct, schema)
            }
            ExprType::CallFunction(f) => {
                self.function_name(&f.function_name, &f.arguments, false, schema)
            }
            ExprType::ExpressionString(s) => crate::sql::expression_name(&s.expression),
            ExprType::Cast(c) => {
                let inner = c
                    .expr
                    .as_deref()
                    .map(|x| self.sql_of(x, schema))
                    .unwrap_or_default();
                let tz = &self.config.time_zone;
                let ty = match &c.cast_to_type {
                    Some(pexpr::cast::CastToType::Type(t)) => types::from_proto(t, tz).ok(),
                    Some(pexpr::cast::CastToType::TypeStr(s)) => types::parse_data_type(s, tz).ok(),
                    None => None,
                };
                // Spark shows a cast to an array, map or struct as its input alone.
                if ty.as_ref().is_some_and(DataType::is_nested) {
                    return inner;
                }
                let kind = if c.eval_mode() == pexpr::cast::EvalMode::Try {
                    "TRY_CAST"
                } else {
                    "CAST"
                };
                format!(
                    "{kind}({inner} AS {})",
                    ty.map(|t| types::sql_name(&t)).unwrap_or_default()
                )
            }
            ExprType::UnresolvedExtractValue(x) => {
                let child = x
                    .child
                    .as_deref()
                    .map(|c| self.sql_of(c, schema))
                    .unwrap_or_default();
                let key = x
                    .extraction
                    .as_deref()
                    .map(|k| self.sql_of(k, schema))
                    .unwrap_or_default();
                // A struct's field reads `st.n`; an array's or map's element `m[k]`.
                let of_struct = x
                    .child
                    .as_deref()
                    .and_then(|c| self.expr(c, schema).ok())
                    .and_then(|e| {
                        datafusion::logical_expr::ExprSchemable::get_type(&e, schema).ok()
                    })
                    .is_some_and(|t| crate::field_access::struct_fields(&t).is_some());
                if of_struct {
                    format!("{child}.{key}")
                } else {
                    format!("{child}[{key}]")
                }
            }
            ExprType::UnresolvedStar(_) => "*".into(),
            // Spark shows every lambda variable as `namedlambdavariable()`.
            ExprType::UnresolvedNamedLambdaVariable(_) => "namedlambdavariable()".into(),
            ExprType::LambdaFunction(l) => {
                let body = l
                    .function
                    .as_deref()
                    .map(|f| self.sql_of(f, schema))
                    .unwrap_or_default();
                let variables = vec!["namedlambdavariable()"; l.arguments.len()].join(", ");
                format!("lambdafunction({body}, {variables})")
            }
            ExprType::Window(w) => {
                let f = w
                    .window_function
                    .as_deref()
                    .map(|f| self.sql_of(f, schema))
                    .unwrap_or_default();
                let mut spec = vec![];
                if !w.partition_spec.is_empty() {
                    spec.push(format!(
                        "PARTITION BY {}",
                        w.partition_spec
                            .iter()
                            .map(|p| self.sql_of(p, schema))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                if !w.order_spec.is_empty() {
                    spec.push(format!(
                        "ORDER BY {}",
                        w.order_spec
                            .iter()
                            .map(|o| self.sort_name(o, schema))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                spec.push(window_frame_name(w));
                format!("{f} OVER ({})", spec.join(" "))
            }
            _ => String::new(),
        }
    }

    fn sort_name(&self, o: &pexpr::SortOrder, schema: &DFSchema) -> String {
        use pexpr::sort_order::{NullOrdering, SortDirection};
        let child = o
            .child
            .as_deref()
            .map(|c| self.sql_of(c, schema))
            .unwrap_or_default();
        let asc = o.direction() != SortDirection::Descending;
        let nulls_first = match o.null_ordering() {
            NullOrdering::SortNullsFirst => true,
            NullOrdering::SortNullsLast => false,
            NullOrdering::SortNullsUnspecified => asc,
        };
        format!(
            "{child} {} NULLS {}",
            if asc { "ASC" } else { "DESC" },
            if nulls_first { "FIRST" } else { "LAST" }
        )
    }

    fn function_name(
        &self,
        name: &str,
        args: &[Expression],
        distinct: bool,
        schema: &DFSchema,
    ) -> String {
        let a: Vec<String> = args
            .iter()
            .map(|x| match &x.expr_type {
                Some(ExprType::UnresolvedStar(_)) if name == "count" => "1".to_string(),
                _ => self.sql_of(x, schema),
            })
            .collect();
        if let (Some((_, op)), [l, r]) = (INFIX.iter().find(|(n, _)| *n == name), a.as_slice()) {
            return format!("({l} {op} {r})");
        }
        match (name, a.as_slice()) {
            ("not", [x]) => format!("(NOT {x})"),
            ("isNull" | "isnull", [x]) => format!("({x} IS NULL)"),
            ("isNotNull" | "isnotnull", [x]) => format!("({x} IS NOT NULL)"),
            ("isNaN", [x]) => format!("isnan({x})"),
            ("in", [x, rest @ ..]) => format!("({x} IN ({}))", rest.join(", ")),
            ("like", [x, p]) => format!("{x} LIKE {p}"),
            ("ilike", [x, p]) => format!("ilike({x}, {p})"),
            ("rlike", [x, p]) => format!("RLIKE({x}, {p})"),
            ("startsWith", [x, p]) => format!("startswith({x}, {p})"),
            ("endsWith", [x, p]) => format!("endswith({x}, {p})"),
            ("first" | "last", [x, flag]) if flag == "false" => format!("{name}({x})"),
            ("explode" | "explode_outer", _) => "col".into(),
            ("window", _) => "window".into(),
            ("regexp_replace", [s, p, r]) => format!("regexp_replace({s}, {p}, {r}, 1)"),
            ("log", [x]) => format!("ln({x})"),
            // Spark fills in the default scale.
            ("round" | "bround", [x]) => format!("{name}({x}, 0)"),
            ("when", conds) => {
                let mut s = String::from("CASE");
                for pair in conds.chunks(2) {
                    match pair {
                        [c, v] => s.push_str(&format!(" WHEN {c} THEN {v}")),
                        [e] => s.push_str(&format!(" ELSE {e}")),
                        _ => {}
                    }
                }
                s + " END"
            }
            _ => {
                let distinct = if distinct { "DISTINCT " } else { "" };
                format!("{}({distinct}{})", spark_function_alias(name), a.join(", "))
            }
        }
    }
}

/// Functions Spark names after their canonical form, not the alias the user called.
fn spark_function_alias(name: &str) -> &str {
    const ALIASES: &[(&str, &str)] = &[
        ("mean", "avg"),
        ("substr", "substring"),
        ("signum", "SIGNUM"),
        ("sqrt", "SQRT"),
        ("pow", "POWER"),
        ("power", "POWER"),
        ("exp", "EXP"),
        ("log10", "LOG10"),
        ("log2", "LOG2"),
        ("ceil", "CEIL"),
        ("ceiling", "CEIL"),
        ("floor", "FLOOR"),
    ];
    ALIASES
        .iter()
        .find(|(from, _)| *from == name)
        .map(|(_, to)| *to)
        .unwrap_or(name)
}

fn window_frame_name(w: &pexpr::Window) -> String {
    use pexpr::window::window_frame::{frame_boundary::Boundary, FrameType};
    // Ranking functions carry their own frame in Spark, whatever the window says.
    const RANKING: &[&str] = &[
        "row_number",
        "rank",
        "dense_rank",
        "percent_rank",
        "cume_dist",
        "ntile",
    ];
    let function = w.window_function.as_ref().and_then(|f| match &f.expr_type {
        Some(ExprType::UnresolvedFunction(u)) => Some(u.function_name.to_lowercase()),
        _ => None,
    });
    if function.is_some_and(|f| RANKING.contains(&f.as_str())) {
        return "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW".into();
    }
    let Some(f) = &w.frame_spec else {
        return if w.order_spec.is_empty() {
            "ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING".into()
        } else {
            "RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW".into()
        };
    };
    let units = if f.frame_type() == FrameType::Row {
        "ROWS"
    } else {
        "RANGE"
    };
    let bound = |b: &Option<Box<pexpr::window::window_frame::FrameBoundary>>, lower: bool| match b
        .as_ref()
        .and_then(|b| b.boundary.as_ref())
    {
        Some(Boundary::Unbounded(_)) if lower => "UNBOUNDED PRECEDING".to_string(),
        Some(Boundary::Unbounded(_)) => "UNBOUNDED FOLLOWING".to_string(),
        Some(Boundary::Value(v)) => match &v.expr_type {
            Some(ExprType::Literal(l)) => {
                let n = literal::to_scalar(l, "UTC")
                    .map(|s| s.to_string())
                    .unwrap_or_default();
                match n.strip_prefix('-') {
                    Some(m) => format!("{m} PRECEDING"),
                    None if n == "0" => "CURRENT ROW".into(),
                    None => format!("{n} FOLLOWING"),
                }
            }
            _ => "?".into(),
        },
        _ => "CURRENT ROW".into(),
    };
    format!(
        "{units} BETWEEN {} AND {}",
        bound(&f.lower, true),
        bound(&f.upper, false)
    )
}

/// A name as Spark's SQL text shows it: back-quoted unless it is a plain identifier.
fn quote_if_needed(name: &str) -> String {
    let plain = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.chars().all(|c| c.is_ascii_digit());
    if plain {
        name.to_string()
    } else {
        crate::error::quote(name)
    }
}
