//! Spark's higher-order functions from the DataFrame API (`F.transform(a, lambda x: x * 2)`).
//! The lambda's body is planned over the input's columns plus one column per lambda variable,
//! typed as the array's elements; those columns then become DataFusion's lambda variables.
use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::DFSchema;
use datafusion::logical_expr::expr::{HigherOrderFunction, Lambda, LambdaVariable};
use datafusion::logical_expr::{Expr, ExprSchemable};
use proto::connect::expression::ExprType;
use proto::connect::Expression;

use crate::error::{PlanError, PlanResult};
use crate::Planner;

/// Spark name -> DataFusion's higher-order function.
const HIGHER_ORDER: &[(&str, &str)] = &[
    ("transform", "array_transform"),
    ("filter", "array_filter"),
    ("exists", "array_any_match"),
];

/// DataFusion's function for Spark's higher-order function `name`, when sluice has one.
pub(crate) fn registered(name: &str) -> Option<&'static str> {
    HIGHER_ORDER
        .iter()
        .find(|(spark, _)| spark.eq_ignore_ascii_case(name))
        .map(|(_, df)| *df)
}

impl Planner<'_> {
    /// `name(array, lambda)`, `name` one of [`HIGHER_ORDER`].
    pub(crate) fn higher_order(
        &self,
        name: &str,
        args: &[Expression],
        schema: &DFSchema,
    ) -> PlanResult<Expr> {
        let df_name = registered(name).ok_or_else(|| PlanError::unsupported(name))?;
        let func = self
            .state
            .higher_order_functions()
            .get(df_name)
            .cloned()
            .ok_or_else(|| PlanError::unsupported(format!("the higher-order function {name}")))?;
        let [array, lambda] = args else {
            return Err(crate::functions::arity(name, 2));
        };
        let Some(ExprType::LambdaFunction(lambda)) = &lambda.expr_type else {
            return Err(PlanError::analysis(format!(
                "[DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE] The second argument of `{name}` must be a lambda function."
            )));
        };
        let array = self.expr(array, schema)?;
        let element = match array.get_type(schema)? {
            DataType::List(f) | DataType::LargeList(f) => f,
            other => {
                return Err(PlanError::analysis(format!(
                    "[DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE] The first argument of `{name}` requires the \"ARRAY\" type, however it has the type \"{}\".",
                    crate::types::sql_name(&other)
                )))
            }
        };
        let [variable] = lambda.arguments.as_slice() else {
            return Err(PlanError::unsupported(format!(
                "{name} with a lambda of {} arguments",
                lambda.arguments.len()
            )));
        };
        let variable = variable.name_parts.join(".");
        let field = Arc::new(element.as_ref().clone().with_name(&variable));
        let with_variable = schema.join(&DFSchema::from_unqualified_fields(
            vec![Field::clone(&field)].into(),
            HashMap::new(),
        )?)?;
        let body = self.expr(
            crate::expression::required(&lambda.function)?,
            &with_variable,
        )?;
        let body = body
            .transform_up(|e| match e {
                Expr::Column(c) if c.relation.is_none() && c.name == variable => {
                    Ok(Transformed::yes(Expr::LambdaVariable(LambdaVariable::new(
                        variable.clone(),
                        Some(field.clone()),
                    ))))
                }
                other => Ok(Transformed::no(other)),
            })?
            .data;
        Ok(Expr::HigherOrderFunction(HigherOrderFunction::new(
            func,
            vec![array, Expr::Lambda(Lambda::new(vec![variable], body))],
        )))
    }
}
