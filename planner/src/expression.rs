//! Spark Connect expressions to DataFusion expressions, resolving columns as Spark does
//! (case-insensitively, qualified by alias or by the `plan_id` of `df["col"]`).
use crate::field_access::get_field;
use datafusion::common::{Column, DFSchema};
use datafusion::logical_expr::expr::{Sort, WindowFunction, WindowFunctionParams};
use datafusion::logical_expr::{
    lit, Expr, ExprFunctionExt, WindowFrame, WindowFrameBound, WindowFrameUnits,
    WindowFunctionDefinition,
};
use proto::connect::expression::sort_order::{NullOrdering, SortDirection};
use proto::connect::expression::window::window_frame::{frame_boundary::Boundary, FrameType};
use proto::connect::expression::{self as pexpr, ExprType};
use proto::connect::Expression;

use crate::error::{quote, PlanError, PlanResult};
use crate::{functions, literal, types, Planner};

/// Splits `a.b.c` / `` `a.b`.c `` into parts, honouring backquotes.
pub(crate) fn split_name(name: &str) -> Vec<String> {
    let mut parts = vec![];
    let mut cur = String::new();
    let mut chars = name.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '`' if quoted && chars.peek() == Some(&'`') => {
                chars.next();
                cur.push('`');
            }
            '`' => quoted = !quoted,
            '.' if !quoted => parts.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    parts.push(cur);
    parts
}

fn eq_name(a: &str, b: &str, case_sensitive: bool) -> bool {
    if case_sensitive {
        a == b
    } else {
        a.eq_ignore_ascii_case(b)
    }
}

impl Planner<'_> {
    pub(crate) fn expr(&self, e: &Expression, schema: &DFSchema) -> PlanResult<Expr> {
        let kind = e
            .expr_type
            .as_ref()
            .ok_or_else(|| PlanError::invalid("expression without a kind"))?;
        match kind {
            ExprType::Literal(l) => Ok(lit(literal::to_scalar(l, &self.config.time_zone)?)),
            ExprType::UnresolvedAttribute(a) => {
                self.resolve_column(&a.unparsed_identifier, a.plan_id, schema)
            }
            ExprType::UnresolvedFunction(f) => {
                self.function(&f.function_name, &f.arguments, f.is_distinct, schema)
            }
            ExprType::CallFunction(f) => {
                self.function(&f.function_name, &f.arguments, false, schema)
            }
            ExprType::ExpressionString(s) => {
                crate::sql::plan_expression(self, &s.expression, schema)
            }
            ExprType::Alias(a) => {
                let inner = self.expr(required(&a.expr)?, schema)?;
                match a.name.as_slice() {
                    [name] => Ok(inner.alias(name)),
                    // Only a generator has several output columns to name.
                    names if matches!(inner, Expr::Unnest(_)) => Ok(inner.alias(
                        names.join(&crate::generator::ALIAS_SEPARATOR.to_string()),
                    )),
                    _ => Err(PlanError::analysis(format!(
                        "[MULTI_ALIAS_WITHOUT_GENERATOR] Multi part aliasing ({}) is not supported with \"{}\" as it is not a generator function. SQLSTATE: 42K0E",
                        a.name.join(", "),
                        self.name_of(required(&a.expr)?, schema)
                    ))),
                }
            }
            ExprType::Cast(c) => {
                let inner = self.expr(required(&c.expr)?, schema)?;
                let to = match &c.cast_to_type {
                    Some(pexpr::cast::CastToType::Type(t)) => {
                        types::from_proto(t, &self.config.time_zone)?
                    }
                    Some(pexpr::cast::CastToType::TypeStr(s)) => {
                        types::parse_data_type(s, &self.config.time_zone)?
                    }
                    None => return Err(PlanError::invalid("cast without a target type")),
                };
                if c.eval_mode() == pexpr::cast::EvalMode::Try {
                    return Ok(datafusion::logical_expr::try_cast(inner, to));
                }
                functions::cast_to(self, inner, to, schema)
            }
            ExprType::UnresolvedExtractValue(x) => {
                let child = self.expr(required(&x.child)?, schema)?;
                let key = self.expr(required(&x.extraction)?, schema)?;
                functions::extract_value(self, child, key, schema)
            }
            ExprType::Window(w) => self.window(w, schema),
            // A lambda's variable, planned as the column [`crate::lambda`] adds for it.
            ExprType::UnresolvedNamedLambdaVariable(v) => Ok(Expr::Column(
                datafusion::common::Column::new_unqualified(v.name_parts.join(".")),
            )),
            ExprType::SortOrder(_) => Err(PlanError::analysis(
                "a sort order is only valid in orderBy or a window specification",
            )),
            ExprType::UnresolvedStar(_) => Err(PlanError::analysis(
                "[INVALID_USAGE_OF_STAR_OR_REGEX] Invalid usage of '*' in expression.",
            )),
            other => Err(PlanError::unsupported(format!(
                "expression {}",
                format!("{other:?}").split('(').next().unwrap_or("?")
            ))),
        }
    }

    fn function(
        &self,
        name: &str,
        args: &[Expression],
        distinct: bool,
        schema: &DFSchema,
    ) -> PlanResult<Expr> {
        if crate::lambda::registered(name).is_some() {
            return self.higher_order(name, args, schema);
        }
        let args = args
            .iter()
            .map(|a| match &a.expr_type {
                // `count(*)` counts rows, as `count(1)` does.
                Some(ExprType::UnresolvedStar(_)) if name.eq_ignore_ascii_case("count") => {
                    Ok(lit(1i32))
                }
                _ => self.expr(a, schema),
            })
            .collect::<PlanResult<Vec<_>>>()?;
        functions::call(self, name, args, distinct, schema)
    }

    pub(crate) fn sort(&self, s: &pexpr::SortOrder, schema: &DFSchema) -> PlanResult<Sort> {
        let e = self.expr(required(&s.child)?, schema)?;
        let asc = s.direction() != SortDirection::Descending;
        let nulls_first = match s.null_ordering() {
            NullOrdering::SortNullsFirst => true,
            NullOrdering::SortNullsLast => false,
            // Spark: ascending puts nulls first, descending last.
            NullOrdering::SortNullsUnspecified => asc,
        };
        Ok(e.sort(asc, nulls_first))
    }

    fn window(&self, w: &pexpr::Window, schema: &DFSchema) -> PlanResult<Expr> {
        let function = self.expr(required(&w.window_function)?, schema)?;
        let partition_by = w
            .partition_spec
            .iter()
            .map(|p| self.expr(p, schema))
            .collect::<PlanResult<Vec<_>>>()?;
        let order_by = w
            .order_spec
            .iter()
            .map(|s| self.sort(s, schema))
            .collect::<PlanResult<Vec<_>>>()?;
        // The arguments as the call planned them (`count(*)` already reads `count(1)`).
        let (fun, args) = match function {
            Expr::AggregateFunction(a) => (
                WindowFunctionDefinition::AggregateUDF(a.func.clone()),
                a.params.args,
            ),
            Expr::WindowFunction(wf) => (wf.fun.clone(), wf.params.args),
            other => {
                return Err(PlanError::analysis(format!(
                    "[UNSUPPORTED_EXPR_FOR_WINDOW] Expression {other} not supported within a window function."
                )))
            }
        };
        let frame = match &w.frame_spec {
            Some(f) => Some(self.window_frame(f, schema)?),
            None => None,
        };
        let mut builder = Expr::WindowFunction(Box::new(WindowFunction {
            fun,
            params: WindowFunctionParams {
                args,
                partition_by: vec![],
                order_by: vec![],
                window_frame: WindowFrame::new(None),
                filter: None,
                null_treatment: None,
                distinct: false,
            },
        }))
        .partition_by(partition_by)
        .order_by(order_by.clone());
        builder = match frame {
            Some(f) => builder.window_frame(f),
            // Spark's default: whole partition without ordering, RANGE up to the current row with it.
            None if order_by.is_empty() => builder.window_frame(WindowFrame::new(None)),
            None => builder.window_frame(WindowFrame::new(Some(false))),
        };
        let out = builder.build()?;
        // Spark's ranking functions return INT; DataFusion's return unsigned or BIGINT.
        Ok(if ranks_are_int(&out) {
            datafusion::logical_expr::cast(out, arrow::datatypes::DataType::Int32)
        } else {
            out
        })
    }

    fn window_frame(
        &self,
        f: &pexpr::window::WindowFrame,
        schema: &DFSchema,
    ) -> PlanResult<WindowFrame> {
        let units = match f.frame_type() {
            FrameType::Row => WindowFrameUnits::Rows,
            _ => WindowFrameUnits::Range,
        };
        let bound = |b: &Option<Box<pexpr::window::window_frame::FrameBoundary>>,
                     lower: bool|
         -> PlanResult<WindowFrameBound> {
            let b = b.as_ref().and_then(|b| b.boundary.as_ref());
            Ok(match b {
                Some(Boundary::CurrentRow(_)) | None => WindowFrameBound::CurrentRow,
                Some(Boundary::Unbounded(_)) if lower => {
                    WindowFrameBound::Preceding(datafusion::common::ScalarValue::Null)
                }
                Some(Boundary::Unbounded(_)) => {
                    WindowFrameBound::Following(datafusion::common::ScalarValue::Null)
                }
                Some(Boundary::Value(v)) => {
                    let Expr::Literal(value, _) = self.expr(v, schema)? else {
                        return Err(PlanError::analysis(
                            "window frame boundary must be a literal",
                        ));
                    };
                    let n = value.to_string().parse::<i64>().map_err(|_| {
                        PlanError::analysis(format!(
                            "window frame boundary {value} is not an integer"
                        ))
                    })?;
                    let magnitude = datafusion::common::ScalarValue::UInt64(Some(n.unsigned_abs()));
                    match n.cmp(&0) {
                        std::cmp::Ordering::Less => WindowFrameBound::Preceding(magnitude),
                        std::cmp::Ordering::Equal => WindowFrameBound::CurrentRow,
                        std::cmp::Ordering::Greater => WindowFrameBound::Following(magnitude),
                    }
                }
            })
        };
        Ok(WindowFrame::new_bounds(
            units,
            bound(&f.lower, true)?,
            bound(&f.upper, false)?,
        ))
    }

    /// Resolves `name` (possibly `qualifier.col` or `col.field`) against `schema`.
    pub(crate) fn resolve_column(
        &self,
        name: &str,
        plan_id: Option<i64>,
        schema: &DFSchema,
    ) -> PlanResult<Expr> {
        let parts = split_name(name);
        if let Some(id) = plan_id {
            // A column of a DataFrame that is not part of this plan (`df1.select(df2.a)`).
            if self.plan_id_schema(id).is_none() {
                return Err(PlanError::analysis(format!(
                    "[CANNOT_RESOLVE_DATAFRAME_COLUMN] Cannot resolve dataframe column \"{name}\". It's probably because of illegal references like `df1.select(df2.col(\"a\"))`."
                )));
            }
            if let Some(expr) = self.resolve_by_plan_id(&parts, id, schema) {
                return Ok(expr);
            }
        }
        self.resolve_parts(&parts, schema)?
            .ok_or_else(|| PlanError::UnresolvedColumn {
                name: quote(name),
                suggestions: schema
                    .columns()
                    .iter()
                    .map(|c| quote(&c.name))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    fn resolve_by_plan_id(&self, parts: &[String], id: i64, schema: &DFSchema) -> Option<Expr> {
        let origin = self.plan_id_schema(id)?;
        let Ok(Some(Expr::Column(c))) = self.resolve_parts(&parts[..1], &origin) else {
            return None;
        };
        // The same (qualifier, name) must still be visible in the current input.
        let col = schema
            .columns()
            .into_iter()
            .find(|x| x.name == c.name && x.relation == c.relation)?;
        Some(nested(Expr::Column(col), &parts[1..]))
    }

    fn resolve_parts(&self, parts: &[String], schema: &DFSchema) -> PlanResult<Option<Expr>> {
        let cs = self.config.case_sensitive;
        let columns = schema.columns();
        // `qualifier.name...` first, then `name.field...`, as Spark tries them.
        if parts.len() > 1 {
            let matches: Vec<&Column> = columns
                .iter()
                .filter(|c| {
                    eq_name(&c.name, &parts[1], cs)
                        && c.relation
                            .as_ref()
                            .is_some_and(|r| eq_name(r.table(), &parts[0], cs))
                })
                .collect();
            if let Some(c) = unique(&matches, &parts[..2].join("."))? {
                return Ok(Some(nested(Expr::Column(c.clone()), &parts[2..])));
            }
        }
        let exact: Vec<&Column> = columns.iter().filter(|c| c.name == parts[0]).collect();
        let matches = if exact.is_empty() && !cs {
            columns
                .iter()
                .filter(|c| eq_name(&c.name, &parts[0], false))
                .collect()
        } else {
            exact
        };
        Ok(unique(&matches, &parts[0])?.map(|c| nested(Expr::Column(c.clone()), &parts[1..])))
    }
}

fn unique<'c>(matches: &[&'c Column], name: &str) -> PlanResult<Option<&'c Column>> {
    match matches {
        [] => Ok(None),
        [one] => Ok(Some(*one)),
        many => Err(PlanError::AmbiguousColumn {
            name: quote(name),
            candidates: many
                .iter()
                .map(|c| quote(&c.flat_name()))
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

fn nested(mut e: Expr, fields: &[String]) -> Expr {
    for f in fields {
        e = get_field(e, f.as_str());
    }
    e
}

fn ranks_are_int(e: &Expr) -> bool {
    match e {
        Expr::WindowFunction(w) => {
            matches!(w.fun.name(), "row_number" | "rank" | "dense_rank" | "ntile")
        }
        _ => false,
    }
}

pub(crate) fn required<T>(x: &Option<Box<T>>) -> PlanResult<&T> {
    x.as_deref()
        .ok_or_else(|| PlanError::invalid("missing expression"))
}

/// A column of `schema` by position, as an expression.
pub(crate) fn column_at(schema: &DFSchema, i: usize) -> Expr {
    let (q, f) = schema.qualified_field(i);
    Expr::Column(Column::new(q.cloned(), f.name()))
}
