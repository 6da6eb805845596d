//! Spark's `FROM r LATERAL VIEW [OUTER] explode(e) t AS c`, which DataFusion's SQL planner
//! does not plan: each lateral view becomes a derived table `(SELECT *, explode(e) AS c
//! FROM r) AS t` wrapped around the relation before it (whose generator the sql_generator
//! pass plans), and the outer query reads every column through the last one (`r.x` becomes
//! `t.x`).
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Expr as SqlExpr, Ident, LateralView, ObjectName, Select, SelectItem, SetExpr, TableFactor,
    TableWithJoins, VisitMut, VisitorMut,
};
use datafusion::sql::sqlparser::parser::Parser;

use crate::dialect::SparkDialect;
use crate::error::{PlanError, PlanResult};
use crate::generator::generator_kind;

pub(crate) struct LateralViews;

impl VisitorMut for LateralViews {
    type Break = PlanError;

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<PlanError> {
        if select.lateral_views.is_empty() {
            return ControlFlow::Continue(());
        }
        match rewrite(select) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => ControlFlow::Break(e),
        }
    }
}

fn rewrite(select: &mut Select) -> PlanResult<()> {
    let views = std::mem::take(&mut select.lateral_views);
    let mut qualifiers: Vec<Ident> = select.from.iter().flat_map(relation_names).collect();
    let mut from = std::mem::take(&mut select.from);
    let mut last = None;
    for view in views {
        let name = view
            .lateral_view_name
            .0
            .last()
            .and_then(|p| p.as_ident())
            .cloned()
            .ok_or_else(|| PlanError::Parse("LATERAL VIEW without a name".into()))?;
        from = vec![derived(generated(&view)?, &name, from)?];
        if let Some(previous) = last.replace(name) {
            qualifiers.push(previous);
        }
    }
    select.from = from;
    if let Some(view) = last {
        let mut requalify = Requalify {
            from: qualifiers,
            to: view,
        };
        let _ = select.projection.visit(&mut requalify);
        let _ = select.selection.visit(&mut requalify);
        let _ = select.group_by.visit(&mut requalify);
        let _ = select.having.visit(&mut requalify);
        let _ = select.sort_by.visit(&mut requalify);
    }
    Ok(())
}

/// The select item a lateral view adds: its generator, named by the view's column
/// aliases (the sql_generator pass then expands it). `OUTER` makes it the outer generator.
fn generated(view: &LateralView) -> PlanResult<SelectItem> {
    let SqlExpr::Function(f) = &view.lateral_view else {
        return Err(PlanError::unsupported(format!(
            "LATERAL VIEW of {}",
            view.lateral_view
        )));
    };
    let mut f = f.clone();
    let name = f.name.to_string().to_lowercase();
    let Some(kind) = generator_kind(&name) else {
        return Err(PlanError::unsupported(format!(
            "LATERAL VIEW with the generator {name}"
        )));
    };
    if view.outer && !kind.outer {
        f.name = ObjectName::from(vec![Ident::new(format!("{name}_outer"))]);
    }
    let expr = SqlExpr::Function(f);
    Ok(match view.lateral_col_alias.as_slice() {
        [] => SelectItem::UnnamedExpr(expr),
        [alias] => SelectItem::ExprWithAlias {
            expr,
            alias: alias.clone(),
        },
        aliases => SelectItem::ExprWithAliases {
            expr,
            aliases: aliases.to_vec(),
        },
    })
}

/// `(SELECT *, generator FROM input) AS name`.
fn derived(
    item: SelectItem,
    name: &Ident,
    input: Vec<TableWithJoins>,
) -> PlanResult<TableWithJoins> {
    let template = format!(
        "SELECT * FROM (SELECT *, NULL FROM sluice_lateral_input) AS {}",
        quoted(name)
    );
    let parsed = Parser::new(&SparkDialect)
        .try_with_sql(&template)
        .and_then(|mut p| p.parse_query())
        .map_err(|e| PlanError::Parse(e.to_string()))?;
    let SetExpr::Select(outer) = *parsed.body else {
        return Err(PlanError::Parse("lateral view template".into()));
    };
    let mut table = outer
        .from
        .into_iter()
        .next()
        .ok_or_else(|| PlanError::Parse("lateral view template".into()))?;
    if let TableFactor::Derived { subquery, .. } = &mut table.relation {
        if let SetExpr::Select(inner) = subquery.body.as_mut() {
            inner.projection.truncate(1);
            inner.projection.push(item);
            inner.from = input;
        }
    }
    Ok(table)
}

fn quoted(name: &Ident) -> String {
    format!("`{}`", name.value.replace('`', "``"))
}

/// The names the columns of `t` can be qualified with.
fn relation_names(t: &TableWithJoins) -> Vec<Ident> {
    std::iter::once(&t.relation)
        .chain(t.joins.iter().map(|j| &j.relation))
        .filter_map(|r| match r {
            TableFactor::Table { alias: Some(a), .. }
            | TableFactor::Derived { alias: Some(a), .. } => Some(a.name.clone()),
            TableFactor::Table { name, .. } => name.0.last().and_then(|p| p.as_ident()).cloned(),
            _ => None,
        })
        .collect()
}

/// `r.x` -> `t.x` for every relation `r` a lateral view wrapped.
struct Requalify {
    from: Vec<Ident>,
    to: Ident,
}

impl VisitorMut for Requalify {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &mut SqlExpr) -> ControlFlow<()> {
        if let SqlExpr::CompoundIdentifier(parts) = expr {
            if parts.len() >= 2
                && self
                    .from
                    .iter()
                    .any(|q| q.value.eq_ignore_ascii_case(&parts[0].value))
            {
                parts[0] = self.to.clone();
            }
        }
        ControlFlow::Continue(())
    }
}
