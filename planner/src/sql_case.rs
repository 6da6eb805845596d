//! Spark resolves column and table-alias names ignoring case (`spark.sql.caseSensitive`
//! is false by default); DataFusion's SQL planner matches them exactly, and lower-casing
//! every identifier would break columns spelled with capitals. So a statement is planned
//! as written, and when that fails on a name that is in scope under another spelling, the
//! statement takes the scope's spelling and is planned again.
use datafusion::common::{Column, SchemaError};
use datafusion::error::DataFusionError;
use datafusion::sql::sqlparser::ast::{
    Expr as SqlExpr, Ident, ObjectNamePart, Query, SelectItem, SetExpr, Statement, TableFactor,
    Visit, VisitMut, Visitor, VisitorMut,
};
use std::ops::ControlFlow;

/// How many differently-spelled names one statement may have before its error stands.
pub(crate) const MAX_RESPELLINGS: usize = 32;

/// A name as written (`qualifier.name`) and the spelling the scope has for it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Respelling {
    qualifier: Option<(String, String)>,
    name: (String, String),
}

impl Respelling {
    /// The respelling that would fix `e`, when `e` is a missing column whose name (and
    /// qualifier) match exactly one column in scope ignoring case.
    pub(crate) fn of(e: &DataFusionError) -> Option<Self> {
        let DataFusionError::SchemaError(s, _) = e.find_root() else {
            return None;
        };
        let SchemaError::FieldNotFound {
            field,
            valid_fields,
        } = s.as_ref()
        else {
            return None;
        };
        let wanted_qualifier = field.relation.as_ref().map(|r| r.table().to_string());
        let matches: Vec<&Column> = valid_fields
            .iter()
            .filter(|c| c.name.eq_ignore_ascii_case(&field.name))
            .filter(|c| match (&wanted_qualifier, &c.relation) {
                (None, _) => true,
                (Some(q), Some(r)) => r.table().eq_ignore_ascii_case(q),
                (Some(_), None) => false,
            })
            .collect();
        // In ORDER BY the scope is the select list and its input: a name written like an
        // output column and an input column means the output column.
        let outputs: Vec<&Column> = matches
            .iter()
            .copied()
            .filter(|c| c.relation.is_none())
            .collect();
        let found = match (matches.as_slice(), outputs.as_slice()) {
            ([one], _) => *one,
            (_, [output]) if wanted_qualifier.is_none() => *output,
            _ => return None,
        };
        let qualifier = match (wanted_qualifier, &found.relation) {
            (Some(q), Some(r)) => Some((q, r.table().to_string())),
            _ => None,
        };
        let fix = Self {
            qualifier,
            name: (field.name.clone(), found.name.clone()),
        };
        fix.changes().then_some(fix)
    }

    fn changes(&self) -> bool {
        self.name.0 != self.name.1 || self.qualifier.as_ref().is_some_and(|(a, b)| a != b)
    }

    /// Respells the references in `node`; whether any was found.
    pub(crate) fn apply<V: VisitMut>(&self, node: &mut V) -> bool {
        let mut v = Respell {
            fix: self,
            applied: false,
        };
        let _ = VisitMut::visit(node, &mut v);
        v.applied
    }

    /// The parts of an identifier chain this respelling changes, respelled.
    fn respell(&self, parts: &mut [Ident]) -> bool {
        let (wrong, right) = &self.name;
        match &self.qualifier {
            None => match parts.first_mut() {
                // `name` or `name.field`: the column comes first.
                Some(first) if &first.value == wrong => {
                    first.value = right.clone();
                    true
                }
                _ => false,
            },
            Some((wrong_q, right_q)) => {
                let at = parts
                    .windows(2)
                    .position(|w| &w[0].value == wrong_q && &w[1].value == wrong);
                let Some(i) = at else { return false };
                parts[i].value = right_q.clone();
                parts[i + 1].value = right.clone();
                true
            }
        }
    }
}

/// Spells each reference to a CTE (`FROM c` for `WITH C AS ...`) as the CTE is named.
pub(crate) fn respell_cte_references(statement: &mut Statement) {
    struct Names(Vec<String>);
    impl Visitor for Names {
        type Break = ();
        fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
            if let Some(with) = &q.with {
                self.0
                    .extend(with.cte_tables.iter().map(|c| c.alias.name.value.clone()));
            }
            ControlFlow::Continue(())
        }
    }
    struct References(Vec<String>);
    impl VisitorMut for References {
        type Break = ();
        fn pre_visit_table_factor(&mut self, f: &mut TableFactor) -> ControlFlow<()> {
            if let TableFactor::Table {
                name, args: None, ..
            } = f
            {
                if let [ObjectNamePart::Identifier(i)] = name.0.as_mut_slice() {
                    let spelled = self
                        .0
                        .iter()
                        .find(|c| **c != i.value && c.eq_ignore_ascii_case(&i.value));
                    if let Some(c) = spelled {
                        i.value = c.clone();
                    }
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut names = Names(vec![]);
    let _ = Visit::visit(&*statement, &mut names);
    if !names.0.is_empty() {
        let _ = VisitMut::visit(statement, &mut References(names.0));
    }
}

struct Respell<'a> {
    fix: &'a Respelling,
    applied: bool,
}

impl VisitorMut for Respell<'_> {
    type Break = ();

    /// A selected column keeps the name it was written with, as Spark shows it: `SELECT
    /// NAME FROM t` has a column `NAME`, also inside a subquery.
    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        keep_select_names(query.body.as_mut(), self.fix);
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &mut SqlExpr) -> ControlFlow<()> {
        let changed = match expr {
            SqlExpr::Identifier(i) => self.fix.respell(std::slice::from_mut(i)),
            SqlExpr::CompoundIdentifier(parts) => self.fix.respell(parts),
            _ => false,
        };
        self.applied |= changed;
        ControlFlow::Continue(())
    }
}

fn keep_select_names(body: &mut SetExpr, fix: &Respelling) {
    match body {
        SetExpr::Select(select) => {
            for item in &mut select.projection {
                let SelectItem::UnnamedExpr(e) = item else {
                    continue;
                };
                let shown = match e {
                    SqlExpr::Identifier(i) => i.clone(),
                    SqlExpr::CompoundIdentifier(parts) => match parts.last() {
                        Some(last) => last.clone(),
                        None => continue,
                    },
                    _ => continue,
                };
                let mut probe = e.clone();
                let mut v = Respell {
                    fix,
                    applied: false,
                };
                let _ = VisitMut::visit(&mut probe, &mut v);
                let renamed = match &probe {
                    SqlExpr::Identifier(i) => i.value != shown.value,
                    SqlExpr::CompoundIdentifier(parts) => {
                        parts.last().is_some_and(|p| p.value != shown.value)
                    }
                    _ => false,
                };
                if renamed {
                    *item = SelectItem::ExprWithAlias {
                        expr: e.clone(),
                        alias: shown,
                    };
                }
            }
        }
        SetExpr::SetOperation { left, right, .. } => {
            keep_select_names(left, fix);
            keep_select_names(right, fix);
        }
        SetExpr::Query(q) => keep_select_names(q.body.as_mut(), fix),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::common::TableReference;
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn missing(q: Option<&str>, name: &str, valid: &[(&str, &str)]) -> DataFusionError {
        DataFusionError::SchemaError(
            Box::new(SchemaError::FieldNotFound {
                // Bare: a parsed reference would be lower-cased, unlike planned SQL's.
                field: Box::new(Column::new(q.map(TableReference::bare), name)),
                valid_fields: valid
                    .iter()
                    .map(|(r, n)| Column::new(Some(TableReference::bare(*r)), *n))
                    .collect(),
            }),
            Box::new(None),
        )
    }

    fn respelled(sql: &str, fix: &Respelling) -> String {
        let mut s = Parser::parse_sql(&GenericDialect {}, sql)
            .unwrap()
            .remove(0);
        assert!(fix.apply(&mut s));
        s.to_string()
    }

    #[test]
    fn respells_bare_and_qualified_names() {
        let fix = Respelling::of(&missing(None, "ID", &[("t", "id"), ("t", "name")])).unwrap();
        assert_eq!(
            respelled("SELECT ID, ID + 1 FROM t WHERE ID = 1", &fix),
            "SELECT id AS ID, id + 1 FROM t WHERE id = 1"
        );
        let fix = Respelling::of(&missing(Some("E"), "Name", &[("e", "name")])).unwrap();
        assert_eq!(
            respelled("SELECT E.Name FROM emp AS e", &fix),
            "SELECT e.name AS Name FROM emp AS e"
        );
    }

    #[test]
    fn leaves_ambiguous_or_absent_names() {
        assert!(Respelling::of(&missing(None, "ID", &[("a", "id"), ("b", "Id")])).is_none());
        assert!(Respelling::of(&missing(None, "x", &[("a", "id")])).is_none());
        assert!(Respelling::of(&missing(Some("q"), "id", &[("a", "id")])).is_none());
        // An output column (unqualified) is preferred over the input column it came from.
        let mut valid = vec![Column::new_unqualified("ID")];
        valid.push(Column::new(Some("t"), "id"));
        let e = DataFusionError::SchemaError(
            Box::new(SchemaError::FieldNotFound {
                field: Box::new(Column::new_unqualified("iD")),
                valid_fields: valid,
            }),
            Box::new(None),
        );
        let fix = Respelling::of(&e).unwrap();
        assert_eq!(fix.name, ("iD".to_string(), "ID".to_string()));
    }
}
