//! Evaluation of parsed expressions.
//!
//! The [`Evaluator`] walks an [`Expr`] against an [`Env`], which the template
//! expander provides: parameters, variables, copy indexes, user functions,
//! `reference()` and `list*()`, and the deployment [`Scope`]. Functions that do
//! not need the environment live in [`crate::functions`].
//!
//! Unknowns: a function whose argument is unknown returns an unknown, unless the
//! result is decided anyway (`if(unknown, 'a', 'a')`, `and(false, unknown)`,
//! `length(createArray(unknown))`).

use std::cell::Cell;
use std::fmt;
use std::sync::Arc;

use crate::expr::Expr;
use crate::functions;
use crate::value::{Kind, Lambda, Tri, Unknown, Value};

/// An error that makes a template invalid (Azure would reject it too).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvalError {
    pub message: String,
}

impl EvalError {
    pub fn new(message: impl Into<String>) -> EvalError {
        EvalError {
            message: message.into(),
        }
    }
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for EvalError {}

pub type Result<T> = std::result::Result<T, EvalError>;

/// At which level a template is deployed (from its `$schema`, or a nested deployment's scope).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScopeLevel {
    ResourceGroup,
    Subscription,
    ManagementGroup,
    Tenant,
}

/// The runtime context of a deployment: who, where, under which name.
///
/// None of it is in the template; `amlguard` uses documented defaults
/// ([`Scope::default`]) that command-line flags override.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    pub level: ScopeLevel,
    pub tenant_id: String,
    pub management_group: String,
    pub subscription_id: String,
    pub subscription_name: String,
    pub resource_group: String,
    pub resource_group_location: String,
    /// The deployment's location (for subscription, management-group and tenant deployments).
    pub location: String,
    pub deployment_name: String,
    /// The cloud `environment()` describes: `AzureCloud`.
    pub cloud: String,
}

impl Default for Scope {
    fn default() -> Scope {
        Scope {
            level: ScopeLevel::ResourceGroup,
            tenant_id: "00000000-0000-0000-0000-000000000000".into(),
            management_group: "amlguard-mg".into(),
            subscription_id: "00000000-0000-0000-0000-000000000000".into(),
            subscription_name: "amlguard-subscription".into(),
            resource_group: "amlguard-rg".into(),
            resource_group_location: "eastus".into(),
            location: "eastus".into(),
            deployment_name: "amlguard-deployment".into(),
            cloud: "AzureCloud".into(),
        }
    }
}

/// A shared step counter that bounds the work of one expansion.
#[derive(Debug)]
pub struct Budget {
    left: Cell<u64>,
}

impl Budget {
    pub fn new(steps: u64) -> Budget {
        Budget {
            left: Cell::new(steps),
        }
    }
    /// Spends `n` steps; an error once the budget is exhausted.
    pub fn spend(&self, n: u64) -> Result<()> {
        let left = self.left.get();
        if left < n {
            self.left.set(0);
            return Err(EvalError::new(
                "evaluation stopped: the template needs more work than the evaluation budget allows",
            ));
        }
        self.left.set(left - n);
        Ok(())
    }
}

/// What an expression can see beyond its own text.
pub trait Env {
    fn parameter(&self, name: &str) -> Result<Value>;
    fn variable(&self, name: &str) -> Result<Value>;
    /// `copyIndex()` / `copyIndex('loop')`, without the offset.
    fn copy_index(&self, loop_name: Option<&str>) -> Result<i64>;
    /// Calls a user-defined function `namespace.name`.
    fn call_user_function(&self, namespace: &str, name: &str, args: Vec<Value>) -> Result<Value>;
    /// `reference(...)`, with its evaluated arguments.
    fn reference(&self, args: &[Value]) -> Result<Value>;
    /// `references(...)` (the resources of a symbolic copy loop).
    fn references(&self, args: &[Value]) -> Result<Value> {
        let _ = args;
        Ok(Value::unknown(
            "references() of resources outside this template",
        ))
    }
    /// `list*(...)`: keys and secrets, never known offline.
    fn list(&self, function: &str, args: &[Value]) -> Result<Value>;
    /// `deployment()`.
    fn deployment(&self) -> Value;
    fn scope(&self) -> &Scope;
    fn budget(&self) -> &Budget;
}

/// A native function: receives its evaluated arguments.
pub type NativeFn = fn(&mut Cx<'_, '_>, Vec<Value>) -> Result<Value>;

/// A function of the ARM function reference.
pub struct FnDef {
    /// The name as Microsoft's reference spells it; lookup ignores case.
    pub name: &'static str,
    pub min_args: usize,
    /// `usize::MAX` for variadic functions.
    pub max_args: usize,
    /// When true, an argument that is itself unknown makes the result unknown
    /// before the function runs. When false, the function handles unknowns.
    pub propagate_unknown: bool,
    pub f: NativeFn,
}

/// Evaluates expressions against an environment.
pub struct Evaluator<'a> {
    env: &'a dyn Env,
    lambda_vars: Vec<(String, Value)>,
    depth: usize,
}

/// Deepest nesting of evaluation (lambda applications count).
pub const MAX_EVAL_DEPTH: usize = 256;

/// What a native function receives besides its arguments.
pub struct Cx<'e, 'a> {
    ev: &'e mut Evaluator<'a>,
    name: &'static str,
}

impl<'e, 'a> Cx<'e, 'a> {
    pub fn env(&self) -> &'a dyn Env {
        self.ev.env
    }
    pub fn scope(&self) -> &'a Scope {
        self.ev.env.scope()
    }
    /// The function's name as the reference spells it.
    pub fn name(&self) -> &'static str {
        self.name
    }
    /// Applies a lambda value to arguments.
    pub fn apply(&mut self, lambda: &Value, args: Vec<Value>) -> Result<Value> {
        self.ev.apply(lambda, args)
    }
    /// Spends evaluation budget for work proportional to `n` (large loops call this).
    pub fn spend(&self, n: u64) -> Result<()> {
        self.ev.env.budget().spend(n)
    }
    /// A type error naming this function and the argument (0-based `index`).
    pub fn type_error(&self, index: usize, expected: &str, got: &Value) -> EvalError {
        EvalError::new(format!(
            "function '{}' expects argument {} to be {expected}, got {}",
            self.name,
            index + 1,
            got.type_name()
        ))
    }
    pub fn error(&self, message: impl fmt::Display) -> EvalError {
        EvalError::new(format!("function '{}': {message}", self.name))
    }
    pub fn str_arg<'v>(&self, args: &'v [Value], i: usize) -> Result<&'v str> {
        let v = arg(args, i, self.name)?;
        v.as_str().ok_or_else(|| self.type_error(i, "a string", v))
    }
    pub fn int_arg(&self, args: &[Value], i: usize) -> Result<i64> {
        let v = arg(args, i, self.name)?;
        match v.kind {
            Kind::Int(n) => Ok(n),
            Kind::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => Ok(f as i64),
            _ => Err(self.type_error(i, "an integer", v)),
        }
    }
    pub fn bool_arg(&self, args: &[Value], i: usize) -> Result<bool> {
        let v = arg(args, i, self.name)?;
        v.as_bool()
            .ok_or_else(|| self.type_error(i, "a boolean", v))
    }
    pub fn array_arg<'v>(&self, args: &'v [Value], i: usize) -> Result<&'v [Value]> {
        let v = arg(args, i, self.name)?;
        v.as_array()
            .ok_or_else(|| self.type_error(i, "an array", v))
    }
    pub fn object_arg<'v>(&self, args: &'v [Value], i: usize) -> Result<&'v crate::value::Object> {
        let v = arg(args, i, self.name)?;
        v.as_object()
            .ok_or_else(|| self.type_error(i, "an object", v))
    }
}

fn arg<'v>(args: &'v [Value], i: usize, name: &str) -> Result<&'v Value> {
    args.get(i)
        .ok_or_else(|| EvalError::new(format!("function '{name}' needs argument {}", i + 1)))
}

/// The first unknown among the arguments (top level only).
pub fn first_unknown_arg(args: &[Value]) -> Option<Value> {
    args.iter().find(|a| a.is_unknown()).cloned()
}

impl<'a> Evaluator<'a> {
    pub fn new(env: &'a dyn Env) -> Evaluator<'a> {
        Evaluator {
            env,
            lambda_vars: Vec::new(),
            depth: 0,
        }
    }

    pub fn env(&self) -> &'a dyn Env {
        self.env
    }

    /// Evaluates an expression.
    pub fn eval(&mut self, e: &Expr) -> Result<Value> {
        self.depth += 1;
        let r = if self.depth > MAX_EVAL_DEPTH {
            Err(EvalError::new(format!(
                "evaluation nested more than {MAX_EVAL_DEPTH} levels deep"
            )))
        } else {
            self.env.budget().spend(1).and_then(|()| self.eval_inner(e))
        };
        self.depth -= 1;
        r
    }

    fn eval_inner(&mut self, e: &Expr) -> Result<Value> {
        match e {
            Expr::Str(s) => Ok(Value::new(Kind::String(s.clone()))),
            Expr::Int(i) => Ok(Value::int(*i)),
            Expr::Float(f) => Ok(Value::float(*f)),
            Expr::Bool(b) => Ok(Value::bool(*b)),
            Expr::Null => Ok(Value::null()),
            Expr::Member(target, name) => {
                let t = self.eval(target)?;
                member(&t, name)
            }
            Expr::Index(target, index) => {
                let t = self.eval(target)?;
                let i = self.eval(index)?;
                index_value(&t, &i)
            }
            Expr::Call {
                namespace: Some(ns),
                name,
                args,
            } => {
                let vals = self.eval_args(args)?;
                self.env.call_user_function(ns, name, vals)
            }
            Expr::Call {
                namespace: None,
                name,
                args,
            } => self.call(name, args),
        }
    }

    fn eval_args(&mut self, args: &[Expr]) -> Result<Vec<Value>> {
        args.iter().map(|a| self.eval(a)).collect()
    }

    fn call(&mut self, name: &str, args: &[Expr]) -> Result<Value> {
        let lower = name.to_ascii_lowercase();
        // Special forms: lazy arguments or access to the environment.
        match lower.as_str() {
            "if" => return self.call_if(args),
            "and" | "or" => return self.call_and_or(lower == "and", args),
            "lambda" => return self.make_lambda(args),
            "lambdavariables" => {
                let vals = self.eval_args(args)?;
                let n = match vals.as_slice() {
                    [v] => v.as_str().ok_or_else(|| {
                        EvalError::new("function 'lambdaVariables' expects a string")
                    })?,
                    _ => {
                        return Err(EvalError::new(
                            "function 'lambdaVariables' takes exactly 1 argument",
                        ));
                    }
                };
                return self
                    .lambda_vars
                    .iter()
                    .rev()
                    .find(|(k, _)| k.eq_ignore_ascii_case(n))
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| {
                        EvalError::new(format!("lambda variable '{n}' is not defined here"))
                    });
            }
            "parameters" | "variables" => {
                let vals = self.eval_args(args)?;
                let n = match vals.as_slice() {
                    [v] if v.is_unknown() => return Ok(v.clone()),
                    [v] => v.as_str().ok_or_else(|| {
                        EvalError::new(format!("function '{name}' expects a string name"))
                    })?,
                    _ => {
                        return Err(EvalError::new(format!(
                            "function '{name}' takes exactly 1 argument"
                        )));
                    }
                };
                return if lower == "parameters" {
                    self.env.parameter(n)
                } else {
                    self.env.variable(n)
                };
            }
            "copyindex" => {
                let vals = self.eval_args(args)?;
                let (loop_name, offset) = match vals.as_slice() {
                    [] => (None, 0),
                    [a] => match &a.kind {
                        Kind::Int(i) => (None, *i),
                        Kind::String(s) => (Some(s.to_string()), 0),
                        _ => {
                            return Err(EvalError::new(
                                "function 'copyIndex' expects a loop name or an offset",
                            ));
                        }
                    },
                    [a, b] => match (&a.kind, &b.kind) {
                        (Kind::String(s), Kind::Int(i)) => (Some(s.to_string()), *i),
                        _ => {
                            return Err(EvalError::new(
                                "function 'copyIndex' expects a loop name and an offset",
                            ));
                        }
                    },
                    _ => {
                        return Err(EvalError::new(
                            "function 'copyIndex' takes at most 2 arguments",
                        ));
                    }
                };
                let i = self.env.copy_index(loop_name.as_deref())?;
                return Ok(Value::int(i.saturating_add(offset)));
            }
            "reference" => {
                let vals = self.eval_args(args)?;
                return self.env.reference(&vals);
            }
            "references" => {
                let vals = self.eval_args(args)?;
                return self.env.references(&vals);
            }
            "fail" => {
                let vals = self.eval_args(args)?;
                let msg = match vals.as_slice() {
                    [v] => v
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_json_text()),
                    _ => return Err(EvalError::new("function 'fail' takes exactly 1 argument")),
                };
                return Err(EvalError::new(format!(
                    "the template fails on purpose: {msg}"
                )));
            }
            "deployment" => {
                if !args.is_empty() {
                    return Err(EvalError::new("function 'deployment' takes no arguments"));
                }
                return Ok(self.env.deployment());
            }
            _ => {}
        }
        if lower.starts_with("list") && functions::lookup(&lower).is_none() {
            let vals = self.eval_args(args)?;
            return self.env.list(name, &vals);
        }
        let def = functions::lookup(&lower).ok_or_else(|| {
            let hint = functions::suggest(&lower)
                .map(|s| format!(" (did you mean '{s}'?)"))
                .unwrap_or_default();
            EvalError::new(format!("unknown function '{name}'{hint}"))
        })?;
        if args.len() < def.min_args || args.len() > def.max_args {
            let expected = if def.min_args == def.max_args {
                format!("{}", def.min_args)
            } else if def.max_args == usize::MAX {
                format!("at least {}", def.min_args)
            } else {
                format!("{} to {}", def.min_args, def.max_args)
            };
            return Err(EvalError::new(format!(
                "function '{}' takes {expected} argument{}, got {}",
                def.name,
                if expected == "1" { "" } else { "s" },
                args.len()
            )));
        }
        let vals = self.eval_args(args)?;
        if def.propagate_unknown
            && let Some(u) = first_unknown_arg(&vals)
        {
            return Ok(u.with_prov(None));
        }
        let mut cx = Cx {
            ev: self,
            name: def.name,
        };
        (def.f)(&mut cx, vals)
    }

    fn call_if(&mut self, args: &[Expr]) -> Result<Value> {
        let [c, t, f] = args else {
            return Err(EvalError::new(format!(
                "function 'if' takes 3 arguments, got {}",
                args.len()
            )));
        };
        let cond = self.eval(c)?;
        match &cond.kind {
            Kind::Bool(true) => self.eval(t),
            Kind::Bool(false) => self.eval(f),
            Kind::Unknown(_) => {
                // Both branches may be evaluated only if both are valid; an error in one
                // branch leaves the result unknown.
                let a = self.eval(t);
                let b = self.eval(f);
                match (a, b) {
                    (Ok(a), Ok(b)) if a.loose_eq(&b) == Tri::True => Ok(a),
                    _ => Ok(cond.with_prov(None)),
                }
            }
            _ => Err(EvalError::new(format!(
                "function 'if' expects a boolean condition, got {}",
                cond.type_name()
            ))),
        }
    }

    fn call_and_or(&mut self, is_and: bool, args: &[Expr]) -> Result<Value> {
        let name = if is_and { "and" } else { "or" };
        if args.len() < 2 {
            return Err(EvalError::new(format!(
                "function '{name}' takes at least 2 arguments, got {}",
                args.len()
            )));
        }
        let mut unknown: Option<Value> = None;
        for a in args {
            let v = self.eval(a)?;
            match &v.kind {
                Kind::Bool(b) if *b != is_and => return Ok(Value::bool(*b)),
                Kind::Bool(_) => {}
                Kind::Unknown(_) => {
                    if unknown.is_none() {
                        unknown = Some(v.with_prov(None));
                    }
                }
                _ => {
                    return Err(EvalError::new(format!(
                        "function '{name}' expects boolean arguments, got {}",
                        v.type_name()
                    )));
                }
            }
        }
        Ok(unknown.unwrap_or_else(|| Value::bool(is_and)))
    }

    fn make_lambda(&mut self, args: &[Expr]) -> Result<Value> {
        let Some((body, names)) = args.split_last() else {
            return Err(EvalError::new("function 'lambda' needs a body"));
        };
        let mut params = Vec::with_capacity(names.len());
        for n in names {
            match n {
                Expr::Str(s) => params.push(s.to_string()),
                _ => {
                    return Err(EvalError::new(
                        "function 'lambda' expects its parameter names as string literals",
                    ));
                }
            }
        }
        Ok(Value::new(Kind::Lambda(Arc::new(Lambda {
            params,
            body: body.clone(),
            captured: self.lambda_vars.clone(),
        }))))
    }

    /// Applies a lambda to arguments.
    pub fn apply(&mut self, f: &Value, args: Vec<Value>) -> Result<Value> {
        let Kind::Lambda(l) = &f.kind else {
            return Err(EvalError::new(format!(
                "expected a lambda, got {}",
                f.type_name()
            )));
        };
        if args.len() < l.params.len() {
            return Err(EvalError::new(format!(
                "the lambda takes {} argument(s), got {}",
                l.params.len(),
                args.len()
            )));
        }
        let saved = std::mem::replace(&mut self.lambda_vars, l.captured.clone());
        for (p, a) in l.params.iter().zip(args) {
            self.lambda_vars.push((p.clone(), a));
        }
        let r = self.eval(&l.body);
        self.lambda_vars = saved;
        r
    }
}

/// `value.name`: a property of an object (case-insensitive).
pub fn member(t: &Value, name: &str) -> Result<Value> {
    match &t.kind {
        Kind::Object(o) if o.get(name).is_none() && o.open().is_some() => Ok(o
            .open()
            .map(|u| Value::new(Kind::Unknown(u.clone())))
            .unwrap_or_else(Value::null)),
        Kind::Object(o) => o.get(name).cloned().ok_or_else(|| {
            let names: Vec<&str> = o.keys().take(20).collect();
            EvalError::new(format!(
                "the object has no property '{name}' (it has: {})",
                if names.is_empty() {
                    "no properties".to_string()
                } else {
                    names.join(", ")
                }
            ))
        }),
        Kind::Unknown(u) => Ok(Value::unknown_with(Unknown {
            reason: u.reason.clone(),
            input: u.input.clone(),
            secret: u.secret,
        })),
        _ => Err(EvalError::new(format!(
            "cannot read property '{name}' of {}",
            t.type_name()
        ))),
    }
}

/// `value[index]`: an array element or an object property.
pub fn index_value(t: &Value, i: &Value) -> Result<Value> {
    match (&t.kind, &i.kind) {
        (Kind::Unknown(_), _) => Ok(t.clone().with_prov(None)),
        (_, Kind::Unknown(_)) => Ok(i.clone().with_prov(None)),
        (Kind::Array(a), Kind::Int(n)) => usize::try_from(*n)
            .ok()
            .and_then(|n| a.get(n))
            .cloned()
            .ok_or_else(|| {
                EvalError::new(format!(
                    "index {n} is outside the array (length {})",
                    a.len()
                ))
            }),
        (Kind::Object(_), Kind::String(s)) => member(t, s),
        _ => Err(EvalError::new(format!(
            "cannot index {} with {}",
            t.type_name(),
            i.type_name()
        ))),
    }
}
