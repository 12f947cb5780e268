//! A stub environment for evaluating expressions in unit tests: parameters from a
//! map (the parameter `u` is unknown unless given), no variables, copy loops or
//! user functions; `reference()`, `list*()` and `deployment()` are unknown.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use crate::eval::{Budget, Env, EvalError, Result, Scope};
use crate::value::Value;

pub struct TestEnv {
    pub params: HashMap<String, Value>,
    pub scope: Scope,
    pub budget: Budget,
}

impl TestEnv {
    pub fn new() -> TestEnv {
        TestEnv {
            params: HashMap::new(),
            scope: Scope::default(),
            budget: Budget::new(10_000_000),
        }
    }
    pub fn with(mut self, name: &str, v: Value) -> TestEnv {
        self.params.insert(name.to_string(), v);
        self
    }
}

impl Env for TestEnv {
    fn parameter(&self, name: &str) -> Result<Value> {
        match self.params.get(name) {
            Some(v) => Ok(v.clone()),
            None if name == "u" => Ok(Value::unknown("test")),
            None => Err(EvalError::new(format!("no parameter '{name}'"))),
        }
    }
    fn variable(&self, name: &str) -> Result<Value> {
        Err(EvalError::new(format!("no variable '{name}'")))
    }
    fn copy_index(&self, _: Option<&str>) -> Result<i64> {
        Err(EvalError::new("no copy loop"))
    }
    fn call_user_function(&self, ns: &str, name: &str, _: Vec<Value>) -> Result<Value> {
        Err(EvalError::new(format!("no function '{ns}.{name}'")))
    }
    fn reference(&self, _: &[Value]) -> Result<Value> {
        Ok(Value::unknown("reference"))
    }
    fn list(&self, _: &str, _: &[Value]) -> Result<Value> {
        Ok(Value::unknown("list"))
    }
    fn deployment(&self) -> Value {
        Value::unknown("deployment")
    }
    fn scope(&self) -> &Scope {
        &self.scope
    }
    fn budget(&self) -> &Budget {
        &self.budget
    }
}
