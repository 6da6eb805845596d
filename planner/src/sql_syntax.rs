//! Spark SQL that DataFusion's SQL planner does not plan, rewritten into what it does: the
//! operators `~a` and `a div b` as calls of the functions computing them, and `x[i]` as
//! Spark counts. Run after the select list is named (`~a`, `(a div b)`).
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    AccessExpr, BinaryOperator, Expr as SqlExpr, Function, FunctionArg, FunctionArgExpr,
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
                *expr = if access_chain.is_empty() {
                    base
                } else {
                    SqlExpr::CompoundFieldAccess {
                        root: Box::new(base),
                        access_chain: std::mem::take(access_chain),
                    }
                };
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}
