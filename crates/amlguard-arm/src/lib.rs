//! The Azure Resource Manager template language: expressions, the function
//! library, and the expansion of a template (parameters, variables, copy loops,
//! conditions, nested deployments) into the resources it would deploy.

pub mod discover;
pub mod eval;
pub mod expr;
pub mod functions;
pub mod hash;
pub mod template;
#[cfg(test)]
mod testenv;
pub mod value;

pub use eval::{Budget, Env, EvalError, Evaluator, Scope, ScopeLevel};
pub use value::{Kind, Object, Prov, Tri, Unknown, Value};
