//! The SQL dialect sluice parses Spark SQL with: sqlparser's Databricks dialect (the closest
//! to Spark's grammar) plus Spark's `a DIV b` integral division.
use std::any::TypeId;

use datafusion::sql::sqlparser::ast::{BinaryOperator, Expr};
use datafusion::sql::sqlparser::dialect::{DatabricksDialect, Dialect};
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct SparkDialect;

const BASE: DatabricksDialect = DatabricksDialect {};

/// Forwards the dialect switches the Databricks dialect sets.
macro_rules! forward {
    ($($name:ident),* $(,)?) => {
        $(fn $name(&self) -> bool {
            BASE.$name()
        })*
    };
}

impl Dialect for SparkDialect {
    /// The parser's `dialect_of!(... DatabricksDialect)` checks hold for this dialect too.
    fn dialect(&self) -> TypeId {
        TypeId::of::<DatabricksDialect>()
    }
    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        BASE.is_delimited_identifier_start(ch)
    }
    fn is_identifier_start(&self, ch: char) -> bool {
        BASE.is_identifier_start(ch)
    }
    fn is_identifier_part(&self, ch: char) -> bool {
        BASE.is_identifier_part(ch)
    }
    forward!(
        supports_numeric_prefix,
        supports_filter_during_aggregation,
        supports_group_by_expr,
        supports_table_versioning,
        supports_lambda_functions,
        supports_select_wildcard_except,
        require_interval_qualifier,
        supports_struct_literal,
        supports_nested_comments,
        supports_group_by_with_modifier,
        supports_values_as_table_factor,
        supports_optimize_table,
        supports_bang_not_operator,
        supports_cte_without_as,
        supports_select_item_multi_column_alias,
    );

    /// Spark reads `'it\'s'`, `'\t'` and `'\\'` in string literals as escapes.
    fn supports_string_literal_backslash_escape(&self) -> bool {
        true
    }

    /// `'a' 'b'` is the one literal `'ab'`, as in Spark.
    fn supports_string_literal_concatenation(&self) -> bool {
        true
    }

    /// `a DIV b`, binding as tightly as `*` and `/` (the default precedence of `DIV`).
    fn parse_infix(
        &self,
        parser: &mut Parser,
        expr: &Expr,
        precedence: u8,
    ) -> Option<Result<Expr, ParserError>> {
        if !parser.parse_keyword(Keyword::DIV) {
            return None;
        }
        Some(
            parser
                .parse_subexpr(precedence)
                .map(|right| Expr::BinaryOp {
                    left: Box::new(expr.clone()),
                    op: BinaryOperator::MyIntegerDivide,
                    right: Box::new(right),
                }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn div_binds_like_multiplication() {
        let e = Parser::new(&SparkDialect)
            .try_with_sql("a div b + 1")
            .and_then(|mut p| p.parse_expr())
            .map(|e| e.to_string());
        assert_eq!(e.ok().as_deref(), Some("a DIV b + 1"));
        let Ok(Expr::BinaryOp { op, .. }) = Parser::new(&SparkDialect)
            .try_with_sql("a div b + 1")
            .and_then(|mut p| p.parse_expr())
        else {
            panic!("a binary expression")
        };
        assert_eq!(op, BinaryOperator::Plus);
    }
}
