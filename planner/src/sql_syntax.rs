//! Spark SQL that DataFusion's SQL planner does not plan, rewritten into what it does: the
//! operators `~a` and `a div b` as calls of the functions computing them, `x[i]` and
//! `x[i].f` as Spark reads them, and the Spark semantics of `regexp_replace` (every match)
//! and ANSI `size` (NULL for NULL). Run after the select list is named (`~a`, `(a div b)`).
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::helpers::attached_token::AttachedToken;
use datafusion::sql::sqlparser::ast::{
    AccessExpr, BinaryOperator, CaseWhen, Expr as SqlExpr, Function, FunctionArg, FunctionArgExpr,
    FunctionArgumentList, FunctionArguments, Ident, ObjectName, Subscript, UnaryOperator,
    VisitorMut,
};

/// Unary operator -> the function computing it.
const UNARY: [(UnaryOperator, &str); 1] = [(UnaryOperator::BitwiseNot, "bitwise_not")];

/// Binary operator -> the function computing it.
const BINARY: [(BinaryOperator, &str); 1] = [(BinaryOperator::MyIntegerDivide, "div")];

/// The function computing `x[i]`: out-of-bounds positions are an error under ANSI mode,
/// NULL otherwise.
fn subscript(ansi: bool) -> &'static str {
    if ansi {
        crate::element_at::SUBSCRIPT_ANSI
    } else {
        "get"
    }
}

/// The string literal `'value'`.
pub(crate) fn string(value: impl Into<String>) -> SqlExpr {
    SqlExpr::Value(datafusion::sql::sqlparser::ast::Value::SingleQuotedString(value.into()).into())
}

pub(crate) fn call(name: &str, args: Vec<SqlExpr>) -> SqlExpr {
    SqlExpr::Function(Function {
        name: ObjectName::from(vec![Ident::new(name)]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: args
                .into_iter()
                .map(|e| FunctionArg::Unnamed(FunctionArgExpr::Expr(e)))
                .collect(),
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })
}

/// `struct(...)` as `named_struct('name', value, ...)`, each field named as Spark names it:
/// `x AS name` by its alias, a column by its name, anything else `col<position>`.
fn named_struct<'a>(values: impl Iterator<Item = Option<&'a SqlExpr>>) -> Option<SqlExpr> {
    let mut pairs = vec![];
    for (i, value) in values.enumerate() {
        let (name, value) = match value? {
            SqlExpr::Named { expr, name } => (name.value.clone(), expr.as_ref()),
            v @ SqlExpr::Identifier(id) => (id.value.clone(), v),
            v @ SqlExpr::CompoundIdentifier(ids) => (ids.last()?.value.clone(), v),
            v => (format!("col{}", i + 1), v),
        };
        pairs.push(string(name));
        pairs.push(value.clone());
    }
    (!pairs.is_empty()).then(|| call("named_struct", pairs))
}

/// `first(v, true)` / `last(v, true)`: Spark's ignore-nulls flag as DataFusion's
/// `first_value(v) IGNORE NULLS`.
fn ignore_nulls_flag(f: &mut Function) {
    let name = f.name.to_string();
    if name != "first_value" && name != "last_value" {
        return;
    }
    let FunctionArguments::List(list) = &mut f.args else {
        return;
    };
    let flag = match list.args.get(1) {
        Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(SqlExpr::Value(v)))) => match &v.value {
            datafusion::sql::sqlparser::ast::Value::Boolean(b) => *b,
            _ => return,
        },
        _ => return,
    };
    list.args.truncate(1);
    if flag {
        f.null_treatment = Some(datafusion::sql::sqlparser::ast::NullTreatment::IgnoreNulls);
    }
}

pub(crate) struct SparkSyntax {
    pub ansi: bool,
}

impl VisitorMut for SparkSyntax {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut SqlExpr) -> ControlFlow<()> {
        let placeholder = || SqlExpr::Value(datafusion::sql::sqlparser::ast::Value::Null.into());
        match expr {
            SqlExpr::UnaryOp { op, expr: inner } => {
                if let Some((_, f)) = UNARY.iter().find(|(o, _)| o == op) {
                    let arg = std::mem::replace(inner.as_mut(), placeholder());
                    *expr = call(f, vec![arg]);
                }
            }
            SqlExpr::BinaryOp { left, op, right } => {
                if let Some((_, f)) = BINARY.iter().find(|(o, _)| o == op) {
                    let l = std::mem::replace(left.as_mut(), placeholder());
                    let r = std::mem::replace(right.as_mut(), placeholder());
                    *expr = call(f, vec![l, r]);
                }
            }
            // `x[i]`: Spark counts array positions from 0 (DataFusion from 1) and looks maps
            // up by key; `get` does both. Leading subscripts only: a `.field` after one stays.
            SqlExpr::CompoundFieldAccess { root, access_chain } => {
                let leading = access_chain
                    .iter()
                    .take_while(|a| matches!(a, AccessExpr::Subscript(Subscript::Index { .. })))
                    .count();
                if leading == 0 {
                    return ControlFlow::Continue(());
                }
                let mut base = std::mem::replace(root.as_mut(), placeholder());
                for access in access_chain.drain(..leading) {
                    if let AccessExpr::Subscript(Subscript::Index { index }) = access {
                        base = call(subscript(self.ansi), vec![base, index]);
                    }
                }
                // `.field` after a subscript (`v[1].s`): DataFusion reads a dot only after a
                // column, so each becomes a field access of its own.
                while let Some(AccessExpr::Dot(SqlExpr::Identifier(field))) = access_chain.first() {
                    base = call("get_field", vec![base, string(field.value.clone())]);
                    access_chain.remove(0);
                }
                *expr = if access_chain.is_empty() {
                    base
                } else {
                    SqlExpr::CompoundFieldAccess {
                        root: Box::new(base),
                        access_chain: std::mem::take(access_chain),
                    }
                };
            }
            // Under ANSI mode Spark's size(NULL) is NULL; datafusion-spark's is the legacy -1.
            SqlExpr::Function(f)
                if self.ansi && f.name.to_string().eq_ignore_ascii_case("size") =>
            {
                if let FunctionArguments::List(l) = &f.args {
                    if let [FunctionArg::Unnamed(FunctionArgExpr::Expr(arg))] = l.args.as_slice() {
                        *expr = SqlExpr::Case {
                            case_token: AttachedToken::empty(),
                            end_token: AttachedToken::empty(),
                            operand: None,
                            conditions: vec![CaseWhen {
                                condition: SqlExpr::IsNull(Box::new(arg.clone())),
                                result: placeholder(),
                            }],
                            else_result: Some(Box::new(SqlExpr::Function(f.clone()))),
                        };
                    }
                }
            }
            // Spark's names for functions DataFusion registers under another.
            SqlExpr::Function(f)
                if crate::functions::registered_name(&f.name.to_string()).is_some() =>
            {
                if let Some(df) = crate::functions::registered_name(&f.name.to_string()) {
                    f.name = ObjectName::from(vec![Ident::new(df)]);
                    ignore_nulls_flag(f);
                }
            }
            // Spark names `struct(a, t.b, 1)`'s fields `a`, `b`, `col3`; DataFusion `c0`...
            SqlExpr::Function(f) if f.name.to_string().eq_ignore_ascii_case("struct") => {
                if let FunctionArguments::List(list) = &f.args {
                    let values = list.args.iter().map(|a| match a {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(v)) => Some(v),
                        _ => None,
                    });
                    if let Some(named) = named_struct(values) {
                        *expr = named;
                    }
                }
            }
            SqlExpr::Struct { values, fields } if fields.is_empty() => {
                if let Some(named) = named_struct(values.iter().map(Some)) {
                    *expr = named;
                }
            }
            // Spark's regexp_replace replaces every match; DataFusion's only with flag 'g'.
            SqlExpr::Function(f) if f.name.to_string().eq_ignore_ascii_case("regexp_replace") => {
                if let FunctionArguments::List(list) = &mut f.args {
                    if list.args.len() == 3 {
                        let g = FunctionArg::Unnamed(FunctionArgExpr::Expr(string("g")));
                        list.args.push(g);
                    }
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}
