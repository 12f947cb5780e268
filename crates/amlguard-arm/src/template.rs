//! Template expansion: from a template document (and a parameter file) to the
//! resources it would deploy.
//!
//! What is expanded: parameters (defaults, parameter files, `--parameter`
//! overrides, Key Vault references as secret unknowns), variables (with variable
//! copy), user-defined functions, resources with conditions and copy loops,
//! property copy, child resources declared inside their parent, nested
//! deployments (inline templates with inner or outer evaluation scope, linked
//! templates resolved on disk), `languageVersion: 2.0` symbolic resources and
//! `existing`, extension resources with `scope`, and outputs.
//!
//! Bodies of resources are evaluated on demand so that `reference()` to a
//! resource declared in the input reads its declared properties; properties
//! that exist only at run time read as unknown.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use amlguard_source::{Document, Node, NodeKind, Number, Route};

use crate::eval::{Budget, Env, EvalError, Evaluator, Result, Scope, ScopeLevel};
use crate::expr::{self, TemplateString};
use crate::functions::resource as resfn;
use crate::value::{Kind, Object, Prov, Unknown, Value};

/// Bounds on the work of one expansion.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest `copy.count` (ARM's own limit is 800).
    pub max_copy: i64,
    /// Most resources in one expansion, nested deployments included.
    pub max_resources: usize,
    /// Deepest nesting of deployments.
    pub max_deployment_depth: usize,
    /// Evaluation steps (function calls and expression nodes) for the whole expansion.
    pub budget: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_copy: 800,
            max_resources: 20_000,
            max_deployment_depth: 20,
            budget: 20_000_000,
        }
    }
}

/// How to expand a template.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub scope: Scope,
    /// A parameter file to read values from.
    pub parameters: Option<Arc<Document>>,
    /// `--parameter name=value` overrides; the text is read according to the parameter's type.
    pub overrides: Vec<(String, String)>,
    pub limits: Limits,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Note,
    Warning,
    Error,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Note => "note",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

/// Something the user should know about the expansion.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub level: Level,
    pub message: String,
    pub prov: Option<Prov>,
}

/// The position of an instance in its copy loop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyPos {
    pub name: String,
    pub index: i64,
    pub count: Option<i64>,
    pub mode: String,
    pub batch_size: Option<i64>,
}

/// One resource the deployment declares.
#[derive(Clone, Debug)]
pub struct Resource {
    pub symbolic_name: Option<String>,
    /// The full type: `Microsoft.Storage/storageAccounts/blobServices`.
    pub full_type: String,
    /// The full name: `account/default`.
    pub name: Value,
    pub id: Value,
    pub api_version: Option<String>,
    pub location: Option<Value>,
    /// `true`, `false` or unknown.
    pub condition: Value,
    /// Declared with `existing: true`: referenced, not deployed.
    pub existing: bool,
    pub depends_on: Vec<Value>,
    /// The evaluated resource object (properties, sku, kind, identity, tags, …).
    pub body: Value,
    /// The `scope` of an extension resource.
    pub scope: Option<Value>,
    pub copy: Option<CopyPos>,
    /// Names of the nested deployments this resource is declared in, outermost first.
    pub deployment: Vec<String>,
    pub subscription_id: String,
    pub resource_group: String,
    pub prov: Prov,
}

/// A template output.
#[derive(Clone, Debug)]
pub struct Output {
    pub name: String,
    pub value: Value,
    pub deployment: Vec<String>,
    pub prov: Prov,
}

/// The result of expanding a template.
#[derive(Clone, Debug, Default)]
pub struct Expansion {
    pub resources: Vec<Resource>,
    pub outputs: Vec<Output>,
    pub diagnostics: Vec<Diagnostic>,
    /// Every document read, the template first, so routes can be turned into lines.
    pub documents: Vec<Arc<Document>>,
}

impl Expansion {
    pub fn document(&self, path: &str) -> Option<&Arc<Document>> {
        self.documents.iter().find(|d| d.path == path)
    }
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.level == Level::Error)
    }
}

/// Expands a template with the given options.
pub fn expand(template: Arc<Document>, opts: &Options) -> Expansion {
    let x = Expander {
        budget: Budget::new(opts.limits.budget),
        limits: opts.limits.clone(),
        diags: RefCell::new(Vec::new()),
        docs: RefCell::new(vec![template.clone()]),
        resource_count: RefCell::new(0),
        stopped: RefCell::new(false),
    };
    if !is_template(&template.root) {
        x.diag(
            Level::Error,
            "expected an ARM template: an object with \"$schema\" and \"resources\"",
            Some(Prov::new(template.path.as_str().into(), Route::default())),
        );
        return x.finish(Vec::new(), Vec::new());
    }
    let mut supplied = HashMap::new();
    if let Some(pdoc) = &opts.parameters {
        x.docs.borrow_mut().push(pdoc.clone());
        read_parameter_file(&x, pdoc, &mut supplied);
    }
    let mut scope = opts.scope.clone();
    if let Some(level) = level_from_schema(&template.root) {
        scope.level = level;
    }
    let ctx = TplInit {
        doc: template.clone(),
        route: Route::default(),
        scope,
        supplied,
        overrides: opts.overrides.clone(),
        outer: None,
        chain: Vec::new(),
        depth: 0,
        deployment_name: opts.scope.deployment_name.clone(),
        link_uri: Some(file_uri(&template.path)),
    };
    let (resources, outputs) = expand_template(&x, ctx);
    x.finish(resources, outputs)
}

/// True when a JSON document looks like an ARM deployment template.
pub fn is_template(root: &Node) -> bool {
    let schema = root.get("$schema").and_then(Node::as_str).unwrap_or("");
    let lower = schema.to_ascii_lowercase();
    (lower.contains("deploymenttemplate.json") || root.get("$schema").is_none())
        && root.get("resources").is_some()
        && !lower.contains("deploymentparameters")
}

/// The deployment level a template's `$schema` declares.
pub fn level_from_schema(root: &Node) -> Option<ScopeLevel> {
    let schema = root
        .get("$schema")
        .and_then(Node::as_str)?
        .to_ascii_lowercase();
    if schema.contains("subscriptiondeploymenttemplate") {
        Some(ScopeLevel::Subscription)
    } else if schema.contains("managementgroupdeploymenttemplate") {
        Some(ScopeLevel::ManagementGroup)
    } else if schema.contains("tenantdeploymenttemplate") {
        Some(ScopeLevel::Tenant)
    } else if schema.contains("deploymenttemplate") {
        Some(ScopeLevel::ResourceGroup)
    } else {
        None
    }
}

/// True when a JSON document is a parameter file.
pub fn is_parameter_file(root: &Node) -> bool {
    let schema = root.get("$schema").and_then(Node::as_str).unwrap_or("");
    schema.to_ascii_lowercase().contains("deploymentparameters")
        || (root.get("parameters").is_some()
            && root.get("resources").is_none()
            && root.get("contentVersion").is_some())
}

fn file_uri(path: &str) -> String {
    let abs = std::fs::canonicalize(path)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| path.to_string());
    let abs = abs.replace('\\', "/");
    if abs.starts_with('/') {
        format!("file://{abs}")
    } else {
        format!("file:///{abs}")
    }
}

struct Expander {
    budget: Budget,
    limits: Limits,
    diags: RefCell<Vec<Diagnostic>>,
    docs: RefCell<Vec<Arc<Document>>>,
    resource_count: RefCell<usize>,
    stopped: RefCell<bool>,
}

impl Expander {
    fn diag(&self, level: Level, message: impl Into<String>, prov: Option<Prov>) {
        let message = message.into();
        let mut d = self.diags.borrow_mut();
        if d.len() < 10_000
            && !d
                .iter()
                .any(|x| x.message == message && x.prov == prov && x.level == level)
        {
            d.push(Diagnostic {
                level,
                message,
                prov,
            });
        }
    }
    fn finish(self, resources: Vec<Resource>, outputs: Vec<Output>) -> Expansion {
        Expansion {
            resources,
            outputs,
            diagnostics: self.diags.into_inner(),
            documents: self.docs.into_inner(),
        }
    }
    fn stopped(&self) -> bool {
        *self.stopped.borrow()
    }
}

/// A value supplied for a parameter, with where it came from.
#[derive(Clone, Debug)]
enum Supplied {
    Value(Value),
    /// A Key Vault reference: a secret that is never read.
    KeyVault(String),
}

fn read_parameter_file(x: &Expander, pdoc: &Arc<Document>, out: &mut HashMap<String, Supplied>) {
    let docname: Arc<str> = pdoc.path.as_str().into();
    let Some(params) = pdoc.root.get("parameters") else {
        x.diag(
            Level::Error,
            "expected a parameter file: an object with \"parameters\"",
            Some(Prov::new(docname, Route::default())),
        );
        return;
    };
    let Some(members) = params.as_object() else {
        x.diag(
            Level::Error,
            "expected \"parameters\" to be an object",
            Some(Prov::new(docname, Route::default().push_key("parameters"))),
        );
        return;
    };
    for m in members {
        let route = Route::default().push_key("parameters").push_key(&m.key);
        if let Some(v) = m.value.get("value") {
            let value = node_to_value(v, &docname, &route.push_key("value"));
            out.insert(m.key.to_ascii_lowercase(), Supplied::Value(value));
        } else if let Some(r) = m.value.get("reference") {
            let secret = r
                .get("secretName")
                .and_then(Node::as_str)
                .unwrap_or("?")
                .to_string();
            out.insert(m.key.to_ascii_lowercase(), Supplied::KeyVault(secret));
        } else {
            x.diag(
                Level::Warning,
                format!(
                    "parameter '{}' in the parameter file has neither \"value\" nor \"reference\"",
                    m.key
                ),
                Some(Prov::new(docname.clone(), route)),
            );
        }
    }
}

/// Converts a JSON node to a value without evaluating expressions, keeping provenance.
pub fn node_to_value(n: &Node, doc: &Arc<str>, route: &Route) -> Value {
    let prov = Some(Prov::new(doc.clone(), route.clone()));
    let v = match &n.kind {
        NodeKind::Null => Value::null(),
        NodeKind::Bool(b) => Value::bool(*b),
        NodeKind::Number(Number::Int(i)) => Value::int(*i),
        NodeKind::Number(Number::Float(f)) => Value::float(*f),
        NodeKind::String(s) => Value::string(s.as_str()),
        NodeKind::Array(items) => Value::array(
            items
                .iter()
                .enumerate()
                .map(|(i, c)| node_to_value(c, doc, &route.push_index(i)))
                .collect(),
        ),
        NodeKind::Object(members) => Value::object(
            members
                .iter()
                .map(|m| {
                    (
                        m.key.clone(),
                        node_to_value(&m.value, doc, &route.push_key(&m.key)),
                    )
                })
                .collect(),
        ),
    };
    v.with_prov(prov)
}

/// What a template needs to start.
struct TplInit<'p> {
    doc: Arc<Document>,
    route: Route,
    scope: Scope,
    supplied: HashMap<String, Supplied>,
    overrides: Vec<(String, String)>,
    /// For outer-scope nested templates: parameters and variables come from here.
    outer: Option<&'p Tpl<'p>>,
    chain: Vec<String>,
    depth: usize,
    deployment_name: String,
    /// The URI the template is known at (a `file://` URI for local files).
    link_uri: Option<String>,
}

enum Slot {
    Pending,
    InProgress,
    Done(Value),
}

struct ParamDecl {
    name: String,
    route: Route,
    secure: bool,
}

struct UserFn {
    params: Vec<String>,
    output_route: Route,
}

/// A declared resource (before copy expansion).
struct Decl {
    route: Route,
    parent: Option<usize>,
    symbolic: Option<String>,
}

/// One instance of a declared resource.
struct Instance {
    decl: usize,
    copy_stack: Vec<(String, i64, bool)>,
    copy: Option<CopyPos>,
    full_type: String,
    name: Value,
    id: Value,
    condition: Value,
    existing: bool,
    body: RefCell<Slot>,
    /// Resources and outputs of a nested deployment.
    nested: RefCell<Vec<Resource>>,
}

struct Tpl<'p> {
    x: &'p Expander,
    doc: Arc<Document>,
    docname: Arc<str>,
    route: Route,
    scope: Scope,
    outer: Option<&'p Tpl<'p>>,
    chain: Vec<String>,
    depth: usize,
    deployment_name: String,
    link_uri: Option<String>,
    params: HashMap<String, ParamDecl>,
    supplied: HashMap<String, Supplied>,
    param_slots: RefCell<HashMap<String, Slot>>,
    var_slots: RefCell<HashMap<String, Slot>>,
    functions: HashMap<String, UserFn>,
    copy: RefCell<Vec<(String, i64, bool)>>,
    decls: Vec<Decl>,
    instances: RefCell<Vec<Rc<Instance>>>,
    symbolic_v2: bool,
    /// Above zero while evaluating a resource whose condition is false.
    quiet: std::cell::Cell<u32>,
}

fn expand_template(x: &Expander, init: TplInit<'_>) -> (Vec<Resource>, Vec<Output>) {
    let docname: Arc<str> = init.doc.path.as_str().into();
    let mut tpl = Tpl {
        x,
        doc: init.doc.clone(),
        docname,
        route: init.route.clone(),
        scope: init.scope,
        outer: init.outer,
        chain: init.chain,
        depth: init.depth,
        deployment_name: init.deployment_name,
        link_uri: init.link_uri,
        params: HashMap::new(),
        supplied: init.supplied,
        param_slots: RefCell::new(HashMap::new()),
        var_slots: RefCell::new(HashMap::new()),
        functions: HashMap::new(),
        copy: RefCell::new(Vec::new()),
        decls: Vec::new(),
        instances: RefCell::new(Vec::new()),
        symbolic_v2: false,
        quiet: std::cell::Cell::new(0),
    };
    let Some(root) = tpl.doc.node(&tpl.route) else {
        return (Vec::new(), Vec::new());
    };
    let root = root.clone();
    tpl.symbolic_v2 = root
        .get("languageVersion")
        .and_then(Node::as_str)
        .is_some_and(|v| v.starts_with('2'));
    tpl.declare_parameters(&root, &init.overrides);
    tpl.declare_functions(&root);
    tpl.declare_resources(&root);
    tpl.instantiate();
    let instances: Vec<Rc<Instance>> = tpl.instances.borrow().clone();
    let mut resources = Vec::new();
    for inst in &instances {
        if x.stopped() {
            break;
        }
        if let Some(r) = tpl.finish_instance(inst) {
            resources.push(r);
        }
        resources.append(&mut inst.nested.borrow_mut());
    }
    let outputs = tpl.outputs(&root);
    (resources, outputs)
}

impl<'p> Tpl<'p> {
    fn prov(&self, route: &Route) -> Option<Prov> {
        Some(Prov::new(self.docname.clone(), route.clone()))
    }

    fn abs(&self, rel: &Route) -> Route {
        let mut r = self.route.clone();
        r.0.extend(rel.0.iter().cloned());
        r
    }

    fn diag(&self, level: Level, message: impl Into<String>, route: &Route) {
        if self.quiet.get() > 0 && level == Level::Error {
            let m = format!(
                "{} (in a resource Azure does not deploy: its condition is false or it is `existing`)",
                message.into()
            );
            self.x.diag(Level::Note, m, self.prov(route));
            return;
        }
        self.x.diag(level, message, self.prov(route));
    }

    // ---------------------------------------------------------------- parameters

    fn declare_parameters(&mut self, root: &Node, overrides: &[(String, String)]) {
        let Some(members) = root.get("parameters").and_then(Node::as_object) else {
            return;
        };
        for m in members {
            let route = self.abs(&Route::default().push_key("parameters").push_key(&m.key));
            let ty = m
                .value
                .get("type")
                .and_then(Node::as_str)
                .unwrap_or("")
                .to_ascii_lowercase();
            let secure = ty == "securestring" || ty == "secureobject";
            self.params.insert(
                m.key.to_ascii_lowercase(),
                ParamDecl {
                    name: m.key.clone(),
                    route,
                    secure,
                },
            );
        }
        for (name, text) in overrides {
            let lower = name.to_ascii_lowercase();
            let Some(decl) = self.params.get(&lower) else {
                self.x.diag(
                    Level::Warning,
                    format!("--parameter {name}: the template declares no parameter '{name}'"),
                    None,
                );
                continue;
            };
            let ty = self
                .doc
                .node(&decl.route)
                .and_then(|n| n.get("type"))
                .and_then(Node::as_str)
                .unwrap_or("string")
                .to_ascii_lowercase();
            let v = match parse_override(&ty, text) {
                Ok(v) => v,
                Err(e) => {
                    self.x
                        .diag(Level::Error, format!("--parameter {name}: {e}"), None);
                    continue;
                }
            };
            self.supplied.insert(lower, Supplied::Value(v));
        }
        let supplied: Vec<String> = self.supplied.keys().cloned().collect();
        for k in supplied {
            if !self.params.contains_key(&k) && self.outer.is_none() && self.depth == 0 {
                self.x.diag(
                    Level::Warning,
                    format!(
                        "a value is given for parameter '{k}', which the template does not declare"
                    ),
                    None,
                );
            }
        }
    }

    fn eval_parameter(&self, name: &str) -> Result<Value> {
        if let Some(outer) = self.outer {
            return outer.eval_parameter(name);
        }
        let lower = name.to_ascii_lowercase();
        let Some(decl) = self.params.get(&lower) else {
            let mut names: Vec<&str> = self.params.values().map(|d| d.name.as_str()).collect();
            names.sort_unstable();
            return Err(EvalError::new(format!(
                "the template declares no parameter '{name}'{}",
                did_you_mean(name, &names)
            )));
        };
        match self.param_slots.borrow().get(&lower) {
            Some(Slot::Done(v)) => return Ok(v.clone()),
            Some(Slot::InProgress) => {
                return Err(EvalError::new(format!(
                    "parameter '{name}' refers to itself through its default value"
                )));
            }
            _ => {}
        }
        self.param_slots
            .borrow_mut()
            .insert(lower.clone(), Slot::InProgress);
        let v = self.compute_parameter(decl);
        self.param_slots
            .borrow_mut()
            .insert(lower, Slot::Done(v.clone()));
        Ok(v)
    }

    fn compute_parameter(&self, decl: &ParamDecl) -> Value {
        let lower = decl.name.to_ascii_lowercase();
        let node = self.doc.node(&decl.route).cloned();
        let input = format!("parameter '{}'", decl.name);
        let secret_unknown = |why: String| {
            Value::unknown_with(Unknown {
                reason: why,
                input: Some(input.clone()),
                secret: true,
            })
        };
        // A null passed for a parameter with a default value means the default (Bicep relies on this).
        let supplied = self.supplied.get(&lower).filter(|s| {
            !(matches!(s, Supplied::Value(v) if v.is_null())
                && node
                    .as_ref()
                    .is_some_and(|n| n.get("defaultValue").is_some()))
        });
        let value = match supplied {
            Some(Supplied::KeyVault(secret)) => {
                return secret_unknown(format!(
                    "parameter '{}' is the Key Vault secret '{secret}'",
                    decl.name
                ));
            }
            Some(Supplied::Value(v)) => {
                if let Some(s) = v.as_str()
                    && (s.starts_with("GEN-") || s.starts_with("GET-PREREQ-"))
                {
                    return Value::unknown_with(Unknown {
                        reason: format!(
                            "parameter '{}' has the placeholder value '{s}'",
                            decl.name
                        ),
                        input: Some(input),
                        secret: decl.secure,
                    });
                }
                v.clone()
            }
            None => match node.as_ref().and_then(|n| n.get("defaultValue")) {
                Some(d) => {
                    let route = decl.route.push_key("defaultValue");
                    self.eval_node(d, &route, false)
                }
                None => {
                    let nullable = node
                        .as_ref()
                        .and_then(|n| n.get("nullable"))
                        .and_then(Node::as_bool)
                        .unwrap_or(false);
                    if nullable {
                        Value::null().with_prov(self.prov(&decl.route))
                    } else {
                        if self.depth == 0 {
                            self.x.diag(
                                Level::Note,
                                format!(
                                    "parameter '{}' has no value: set it with --parameter {}=… or a parameter file",
                                    decl.name, decl.name
                                ),
                                self.prov(&decl.route),
                            );
                        }
                        return Value::unknown_with(Unknown {
                            reason: format!("parameter '{}' has no value", decl.name),
                            input: Some(input),
                            secret: decl.secure,
                        });
                    }
                }
            },
        };
        if decl.secure && !is_empty_value(&value) {
            return secret_unknown(format!("parameter '{}' is secure", decl.name));
        }
        if let Some(allowed) = node
            .as_ref()
            .and_then(|n| n.get("allowedValues"))
            .and_then(Node::as_array)
            && !value.contains_unknown()
            && !value.is_null()
        {
            let allowed: Vec<Value> = allowed
                .iter()
                .map(|a| node_to_value(a, &self.docname, &Route::default()))
                .collect();
            let ok = match &value.kind {
                Kind::Array(items) => items.iter().all(|i| allowed.contains(i)),
                _ => allowed.contains(&value),
            };
            if !ok {
                self.x.diag(
                    Level::Error,
                    format!(
                        "the value {} of parameter '{}' is not one of its allowed values",
                        value, decl.name
                    ),
                    value.prov.clone().or_else(|| self.prov(&decl.route)),
                );
            }
        }
        value
    }

    // ---------------------------------------------------------------- variables

    fn eval_variable(&self, name: &str) -> Result<Value> {
        if let Some(outer) = self.outer {
            return outer.eval_variable(name);
        }
        let lower = name.to_ascii_lowercase();
        match self.var_slots.borrow().get(&lower) {
            Some(Slot::Done(v)) => return Ok(v.clone()),
            Some(Slot::InProgress) => {
                return Err(EvalError::new(format!(
                    "variable '{name}' refers to itself"
                )));
            }
            _ => {}
        }
        let root = self.doc.node(&self.route).cloned();
        let vars = root.as_ref().and_then(|r| r.get("variables"));
        let vroute = self.route.push_key("variables");
        // A plain variable, or one defined by the variables' copy section.
        let found = vars.and_then(|v| v.member(name)).filter(|m| {
            !m.key.eq_ignore_ascii_case("copy") || !matches!(m.value.kind, NodeKind::Array(_))
        });
        self.var_slots
            .borrow_mut()
            .insert(lower.clone(), Slot::InProgress);
        let v = if let Some(m) = found {
            let route = vroute.push_key(&m.key);
            Ok(self.eval_node(&m.value, &route, true))
        } else if let Some((i, c)) = vars
            .and_then(|v| v.get("copy"))
            .and_then(Node::as_array)
            .and_then(|items| {
                items.iter().enumerate().find(|(_, c)| {
                    c.get("name")
                        .and_then(Node::as_str)
                        .is_some_and(|n| n.eq_ignore_ascii_case(name))
                })
            })
        {
            let route = vroute.push_key("copy").push_index(i);
            Ok(self.eval_copy_array(c, &route))
        } else {
            let mut names: Vec<&str> = vars
                .and_then(Node::as_object)
                .map(|ms| ms.iter().map(|m| m.key.as_str()).collect())
                .unwrap_or_default();
            names.sort_unstable();
            Err(EvalError::new(format!(
                "the template declares no variable '{name}'{}",
                did_you_mean(name, &names)
            )))
        };
        match &v {
            Ok(val) => {
                self.var_slots
                    .borrow_mut()
                    .insert(lower, Slot::Done(val.clone()));
            }
            Err(_) => {
                self.var_slots.borrow_mut().remove(&lower);
            }
        }
        v
    }

    // ---------------------------------------------------------------- functions

    fn declare_functions(&mut self, root: &Node) {
        let Some(namespaces) = root.get("functions").and_then(Node::as_array) else {
            return;
        };
        for (i, ns) in namespaces.iter().enumerate() {
            let Some(nsname) = ns.get("namespace").and_then(Node::as_str) else {
                continue;
            };
            let Some(members) = ns.get("members").and_then(Node::as_object) else {
                continue;
            };
            for m in members {
                let params = m
                    .value
                    .get("parameters")
                    .and_then(Node::as_array)
                    .map(|ps| {
                        ps.iter()
                            .filter_map(|p| p.get("name").and_then(Node::as_str))
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                let output_route = self.abs(
                    &Route::default()
                        .push_key("functions")
                        .push_index(i)
                        .push_key("members")
                        .push_key(&m.key)
                        .push_key("output")
                        .push_key("value"),
                );
                self.functions.insert(
                    format!("{}.{}", nsname, m.key).to_ascii_lowercase(),
                    UserFn {
                        params,
                        output_route,
                    },
                );
            }
        }
    }

    // ---------------------------------------------------------------- evaluation of JSON

    /// Evaluates a JSON node of the template: strings that are expressions are
    /// evaluated, objects with a property `copy` array are expanded.
    fn eval_node(&self, n: &Node, route: &Route, property_copy: bool) -> Value {
        self.eval_node_with(self, n, route, property_copy)
    }

    fn eval_node_with(&self, env: &dyn Env, n: &Node, route: &Route, property_copy: bool) -> Value {
        let prov = self.prov(route);
        match &n.kind {
            NodeKind::String(s) => match expr::classify(s) {
                TemplateString::Literal(l) => Value::string(l).with_prov(prov),
                TemplateString::Expr(src) => self.eval_expr_text(env, src, route),
            },
            NodeKind::Array(items) => Value::array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, c)| self.eval_node_with(env, c, &route.push_index(i), property_copy))
                    .collect(),
            )
            .with_prov(prov),
            NodeKind::Object(members) => {
                let mut o = Object::with_capacity(members.len());
                for m in members {
                    let r = route.push_key(&m.key);
                    if property_copy
                        && m.key.eq_ignore_ascii_case("copy")
                        && let Some(loops) = m.value.as_array()
                        && loops.iter().all(|l| l.get("input").is_some())
                    {
                        for (i, l) in loops.iter().enumerate() {
                            let name = l.get("name").and_then(Node::as_str).unwrap_or("copy");
                            let v = self.eval_copy_array_with(env, l, &r.push_index(i));
                            o.insert(name.to_string(), v);
                        }
                        continue;
                    }
                    let key = match expr::classify(&m.key) {
                        TemplateString::Literal(l) => l.to_string(),
                        TemplateString::Expr(src) => {
                            let k = self.eval_expr_text(env, src, &r);
                            match k.as_str() {
                                Some(s) => s.to_string(),
                                None => {
                                    self.diag(
                                        Level::Warning,
                                        "a property name is not known offline; the property is left out",
                                        &r,
                                    );
                                    continue;
                                }
                            }
                        }
                    };
                    o.insert(key, self.eval_node_with(env, &m.value, &r, property_copy));
                }
                Value::object(o).with_prov(prov)
            }
            _ => node_to_value(n, &self.docname, route),
        }
    }

    fn eval_expr_text(&self, env: &dyn Env, src: &str, route: &Route) -> Value {
        let prov = self.prov(route);
        let parsed = match expr::parse(src) {
            Ok(e) => e,
            Err(e) => {
                self.diag(Level::Error, format!("invalid expression: {e}"), route);
                return Value::unknown(format!("invalid expression: {}", e.message))
                    .with_prov(prov);
            }
        };
        let mut ev = Evaluator::new(env);
        match ev.eval(&parsed) {
            Ok(v) => {
                if let Kind::Lambda(_) = v.kind {
                    self.diag(Level::Error, "a lambda cannot be a value", route);
                }
                v.or_prov(&prov)
            }
            Err(e) => {
                if e.message.starts_with("evaluation stopped") {
                    *self.x.stopped.borrow_mut() = true;
                }
                self.diag(Level::Error, e.message.clone(), route);
                Value::unknown(format!("the expression failed: {}", e.message)).with_prov(prov)
            }
        }
    }

    fn eval_copy_array(&self, c: &Node, route: &Route) -> Value {
        self.eval_copy_array_with(self, c, route)
    }

    /// `{"name": …, "count": …, "input": …}` → the array of inputs.
    fn eval_copy_array_with(&self, env: &dyn Env, c: &Node, route: &Route) -> Value {
        let name = c
            .get("name")
            .and_then(Node::as_str)
            .unwrap_or("copy")
            .to_string();
        let count = match c.get("count") {
            Some(n) => self.eval_node_with(env, n, &route.push_key("count"), false),
            None => {
                self.diag(Level::Error, "expected \"count\" in the copy loop", route);
                return Value::unknown("copy loop without a count");
            }
        };
        let count = match self.copy_count(&count, &route.push_key("count")) {
            Ok(Some(n)) => n,
            Ok(None) => {
                return Value::unknown_with(Unknown {
                    reason: format!("the count of copy loop '{name}' is not known"),
                    input: count.first_unknown().and_then(|u| u.input.clone()),
                    secret: false,
                })
                .with_prov(self.prov(route));
            }
            Err(()) => return Value::unknown("invalid copy count"),
        };
        let Some(input) = c.get("input") else {
            self.diag(Level::Error, "expected \"input\" in the copy loop", route);
            return Value::unknown("copy loop without an input");
        };
        let mut items = Vec::new();
        for i in 0..count {
            self.copy.borrow_mut().push((name.clone(), i, false));
            items.push(self.eval_node_with(env, input, &route.push_key("input"), true));
            self.copy.borrow_mut().pop();
        }
        Value::array(items).with_prov(self.prov(route))
    }

    /// Checks a copy count: `Ok(None)` when unknown, `Err` (reported) when invalid.
    fn copy_count(&self, v: &Value, route: &Route) -> std::result::Result<Option<i64>, ()> {
        match v.kind {
            Kind::Int(n) if n < 0 => {
                self.diag(
                    Level::Error,
                    format!("expected a copy count of at least 0, found {n}"),
                    route,
                );
                Err(())
            }
            Kind::Int(n) if n > self.x.limits.max_copy => {
                self.diag(
                    Level::Error,
                    format!(
                        "expected a copy count of at most {}, found {n}",
                        self.x.limits.max_copy
                    ),
                    route,
                );
                Err(())
            }
            Kind::Int(n) => Ok(Some(n)),
            Kind::Unknown(_) => Ok(None),
            _ => {
                self.diag(
                    Level::Error,
                    format!("expected an integer copy count, found {}", v.type_name()),
                    route,
                );
                Err(())
            }
        }
    }

    // ---------------------------------------------------------------- resources

    fn declare_resources(&mut self, root: &Node) {
        let rroute = self.abs(&Route::default().push_key("resources"));
        match root.get("resources").map(|n| &n.kind) {
            Some(NodeKind::Array(items)) => {
                for (i, r) in items.iter().enumerate() {
                    self.declare_resource(r, rroute.push_index(i), None, None);
                }
            }
            Some(NodeKind::Object(members)) => {
                for m in members {
                    self.declare_resource(
                        &m.value,
                        rroute.push_key(&m.key),
                        None,
                        Some(m.key.clone()),
                    );
                }
            }
            _ => {}
        }
    }

    fn declare_resource(
        &mut self,
        r: &Node,
        route: Route,
        parent: Option<usize>,
        symbolic: Option<String>,
    ) {
        let idx = self.decls.len();
        self.decls.push(Decl {
            route: route.clone(),
            parent,
            symbolic,
        });
        if let Some(children) = r.get("resources").and_then(Node::as_array) {
            for (i, c) in children.iter().enumerate() {
                self.declare_resource(
                    c,
                    route.push_key("resources").push_index(i),
                    Some(idx),
                    None,
                );
            }
        }
    }

    /// Evaluates the header (copy, condition, type, name, id) of every declared resource.
    fn instantiate(&self) {
        for (i, d) in self.decls.iter().enumerate() {
            if d.parent.is_none() {
                self.instantiate_decl(i, None);
            }
        }
    }

    fn instantiate_decl(&self, di: usize, parent: Option<&Rc<Instance>>) {
        let Some(d) = self.decls.get(di) else { return };
        let Some(node) = self.doc.node(&d.route).cloned() else {
            return;
        };
        if !matches!(node.kind, NodeKind::Object(_)) {
            self.diag(Level::Error, "expected a resource object", &d.route);
            return;
        }
        let base_stack: Vec<(String, i64, bool)> =
            parent.map(|p| p.copy_stack.clone()).unwrap_or_default();
        let copy = node.get("copy");
        let iterations: Vec<Option<CopyPos>> = match copy {
            None => vec![None],
            Some(c) => {
                *self.copy.borrow_mut() = base_stack.clone();
                let name = c
                    .get("name")
                    .and_then(Node::as_str)
                    .unwrap_or("copy")
                    .to_string();
                let croute = d.route.push_key("copy");
                let count = match c.get("count") {
                    Some(n) => self.eval_node(n, &croute.push_key("count"), false),
                    None => {
                        self.diag(Level::Error, "expected \"count\" in the copy loop", &croute);
                        return;
                    }
                };
                let mode = c
                    .get("mode")
                    .and_then(Node::as_str)
                    .unwrap_or("parallel")
                    .to_string();
                let batch_size = c
                    .get("batchSize")
                    .map(|b| self.eval_node(b, &croute.push_key("batchSize"), false))
                    .and_then(|v| v.as_int());
                match self.copy_count(&count, &croute.push_key("count")) {
                    Ok(Some(n)) => (0..n)
                        .map(|i| {
                            Some(CopyPos {
                                name: name.clone(),
                                index: i,
                                count: Some(n),
                                mode: mode.clone(),
                                batch_size,
                            })
                        })
                        .collect(),
                    Ok(None) => {
                        let why = count
                            .first_unknown()
                            .and_then(|u| u.input.clone())
                            .map(|i| format!(" ({i} decides it)"))
                            .unwrap_or_default();
                        self.diag(
                            Level::Note,
                            format!("the count of copy loop '{name}' is not known{why}: one representative instance (index 0) is expanded"),
                            &croute,
                        );
                        vec![Some(CopyPos {
                            name: name.clone(),
                            index: 0,
                            count: None,
                            mode: mode.clone(),
                            batch_size,
                        })]
                    }
                    Err(()) => return,
                }
            }
        };
        for pos in iterations {
            if self.x.stopped() {
                return;
            }
            {
                let mut n = self.x.resource_count.borrow_mut();
                *n += 1;
                if *n > self.x.limits.max_resources {
                    drop(n);
                    self.diag(
                        Level::Error,
                        format!(
                            "expected at most {} resources in one expansion; expansion stopped",
                            self.x.limits.max_resources
                        ),
                        &d.route,
                    );
                    *self.x.stopped.borrow_mut() = true;
                    return;
                }
            }
            let mut stack = base_stack.clone();
            if let Some(p) = &pos {
                stack.push((p.name.clone(), p.index, true));
            }
            *self.copy.borrow_mut() = stack.clone();
            let inst = self.instance_header(di, d, &node, parent, pos, stack);
            let inst = Rc::new(inst);
            self.instances.borrow_mut().push(inst.clone());
            let children: Vec<usize> = self
                .decls
                .iter()
                .enumerate()
                .filter(|(_, c)| c.parent == Some(di))
                .map(|(i, _)| i)
                .collect();
            for c in children {
                self.instantiate_decl(c, Some(&inst));
            }
        }
        self.copy.borrow_mut().clear();
    }

    fn instance_header(
        &self,
        di: usize,
        d: &Decl,
        node: &Node,
        parent: Option<&Rc<Instance>>,
        copy: Option<CopyPos>,
        copy_stack: Vec<(String, i64, bool)>,
    ) -> Instance {
        let field = |k: &str| {
            node.member(k)
                .map(|m| self.eval_node(&m.value, &d.route.push_key(&m.key), false))
        };
        let existing = node
            .get("existing")
            .and_then(Node::as_bool)
            .unwrap_or(false);
        let mut condition = field("condition").unwrap_or_else(|| Value::bool(true));
        if let Some(p) = parent
            && p.condition.as_bool() == Some(false)
        {
            condition = Value::bool(false);
        }
        // Azure does not evaluate the rest of a resource whose condition is false.
        let off = condition.as_bool() == Some(false) || existing;
        if off {
            self.quiet.set(self.quiet.get() + 1);
        }
        let ty = field("type")
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        if ty.is_empty() {
            self.diag(
                Level::Error,
                "expected a resource \"type\" string",
                &d.route,
            );
        }
        let name = field("name").unwrap_or_else(|| Value::unknown("the resource has no name"));
        let (full_type, full_name) = match parent {
            // A child's type is relative (`blobServices/containers`) unless it names
            // its provider namespace (`Microsoft.Storage/...`), which has a dot.
            Some(p) if !ty.split('/').next().unwrap_or("").contains('.') => {
                let full_type = format!("{}/{}", p.full_type, ty);
                let full_name = match (p.name.as_str(), name.as_str()) {
                    (Some(a), Some(b)) => {
                        Value::string(format!("{a}/{b}")).with_prov(name.prov.clone())
                    }
                    _ => Value::unknown("the name of the parent resource is not known")
                        .with_prov(name.prov.clone()),
                };
                (full_type, full_name)
            }
            _ => (ty.clone(), name.clone()),
        };
        let scope_v = field("scope");
        let mut scope = self.scope.clone();
        if let Some(sub) = field("subscriptionId").and_then(|v| v.as_str().map(str::to_string)) {
            scope.subscription_id = sub;
        }
        if let Some(rg) = field("resourceGroup").and_then(|v| v.as_str().map(str::to_string)) {
            scope.resource_group = rg;
            scope.level = ScopeLevel::ResourceGroup;
        }
        let id = self.resource_id(&scope, &full_type, &full_name, scope_v.as_ref(), &d.route);
        if off {
            self.quiet.set(self.quiet.get() - 1);
        }
        Instance {
            decl: di,
            copy_stack,
            copy,
            full_type,
            name: full_name,
            id,
            condition,
            existing,
            body: RefCell::new(Slot::Pending),
            nested: RefCell::new(Vec::new()),
        }
    }

    fn resource_id(
        &self,
        scope: &Scope,
        full_type: &str,
        name: &Value,
        ext_scope: Option<&Value>,
        route: &Route,
    ) -> Value {
        let Some(name) = name.as_str() else {
            return Value::unknown_with(Unknown {
                reason: "the resource name is not known".into(),
                input: name.first_unknown().and_then(|u| u.input.clone()),
                secret: false,
            });
        };
        let names: Vec<&str> = name.split('/').collect();
        if let Some(s) = ext_scope {
            let Some(s) = s.as_str() else {
                return Value::unknown("the scope of the extension resource is not known");
            };
            let abs = absolute_scope(scope, s);
            let s = abs.trim_end_matches('/');
            let Some((ns, types)) = resfn::split_type(full_type) else {
                return Value::unknown("the resource type is not valid");
            };
            let mut id = format!("{s}/providers/{ns}");
            for (t, n) in types.iter().zip(names.iter()) {
                id.push('/');
                id.push_str(t);
                id.push('/');
                id.push_str(n);
            }
            return Value::string(id);
        }
        let (sub, rg) = match scope.level {
            ScopeLevel::ResourceGroup => (
                Some(scope.subscription_id.as_str()),
                Some(scope.resource_group.as_str()),
            ),
            ScopeLevel::Subscription => (Some(scope.subscription_id.as_str()), None),
            _ => (None, None),
        };
        match resfn::resource_id_at(scope, sub, rg, full_type, &names) {
            Ok(id) => Value::string(id),
            Err(e) => {
                self.diag(
                    Level::Warning,
                    format!("cannot build the resource ID: {e}"),
                    route,
                );
                Value::unknown(format!("the resource ID cannot be built: {e}"))
            }
        }
    }

    /// Evaluates an instance's body (memoized); nested deployments are expanded here.
    fn body(&self, inst: &Rc<Instance>) -> Value {
        match &*inst.body.borrow() {
            Slot::Done(v) => return v.clone(),
            Slot::InProgress => {
                return Value::unknown(
                    "the resource's properties depend on themselves through reference()",
                );
            }
            Slot::Pending => {}
        }
        *inst.body.borrow_mut() = Slot::InProgress;
        let saved = self.copy.replace(inst.copy_stack.clone());
        let off = inst.condition.as_bool() == Some(false) || inst.existing;
        if off {
            self.quiet.set(self.quiet.get() + 1);
        }
        let v = self.compute_body(inst);
        if off {
            self.quiet.set(self.quiet.get() - 1);
        }
        *self.copy.borrow_mut() = saved;
        *inst.body.borrow_mut() = Slot::Done(v.clone());
        v
    }

    fn compute_body(&self, inst: &Rc<Instance>) -> Value {
        let Some(d) = self.decls.get(inst.decl) else {
            return Value::null();
        };
        let Some(node) = self.doc.node(&d.route).cloned() else {
            return Value::null();
        };
        let Some(members) = node.as_object() else {
            return Value::null();
        };
        let is_deployment = inst
            .full_type
            .eq_ignore_ascii_case("Microsoft.Resources/deployments");
        let mut o = Object::with_capacity(members.len());
        for m in members {
            let k = m.key.to_ascii_lowercase();
            if matches!(
                k.as_str(),
                "copy" | "condition" | "dependson" | "resources" | "existing"
            ) {
                continue;
            }
            let r = d.route.push_key(&m.key);
            if is_deployment && k == "properties" {
                o.insert(
                    m.key.clone(),
                    self.deployment_properties(inst, &m.value, &r),
                );
                continue;
            }
            o.insert(m.key.clone(), self.eval_node(&m.value, &r, true));
        }
        Value::object(o).with_prov(self.prov(&d.route))
    }

    fn depends_on(&self, inst: &Instance) -> Vec<Value> {
        let Some(d) = self.decls.get(inst.decl) else {
            return Vec::new();
        };
        let Some(deps) = self.doc.node(&d.route.push_key("dependsOn")) else {
            return Vec::new();
        };
        let saved = self.copy.replace(inst.copy_stack.clone());
        let v = self.eval_node(deps, &d.route.push_key("dependsOn"), false);
        *self.copy.borrow_mut() = saved;
        match &v.kind {
            Kind::Array(items) => items.iter().cloned().collect(),
            _ => Vec::new(),
        }
    }

    fn finish_instance(&self, inst: &Rc<Instance>) -> Option<Resource> {
        let d = self.decls.get(inst.decl)?;
        let body = self.body(inst);
        let depends_on = self.depends_on(inst);
        let obj = body.as_object();
        let api_version = obj
            .and_then(|o| o.get("apiVersion"))
            .and_then(|v| v.as_str().map(str::to_string));
        let location = obj.and_then(|o| o.get("location")).cloned();
        let scope = obj.and_then(|o| o.get("scope")).map(|v| match v.as_str() {
            Some(s) => Value::string(absolute_scope(&self.scope, s)).with_prov(v.prov.clone()),
            None => v.clone(),
        });
        Some(Resource {
            symbolic_name: d.symbolic.clone(),
            full_type: inst.full_type.clone(),
            name: inst.name.clone(),
            id: inst.id.clone(),
            api_version,
            location,
            condition: inst.condition.clone(),
            existing: inst.existing,
            depends_on,
            body,
            scope,
            copy: inst.copy.clone(),
            deployment: self.chain.clone(),
            subscription_id: self.scope.subscription_id.clone(),
            resource_group: self.scope.resource_group.clone(),
            prov: Prov::new(self.docname.clone(), d.route.clone()),
        })
    }

    // ---------------------------------------------------------------- nested deployments

    fn deployment_properties(&self, inst: &Rc<Instance>, props: &Node, route: &Route) -> Value {
        let Some(members) = props.as_object() else {
            return self.eval_node(props, route, false);
        };
        let mut o = Object::with_capacity(members.len());
        for m in members {
            let k = m.key.to_ascii_lowercase();
            if k == "template" || k == "parameters" {
                continue;
            }
            o.insert(
                m.key.clone(),
                self.eval_node(&m.value, &route.push_key(&m.key), false),
            );
        }
        if inst.condition.as_bool() == Some(false) {
            return Value::object(o).with_prov(self.prov(route));
        }
        let inner = o
            .get("expressionEvaluationOptions")
            .and_then(|e| e.as_object())
            .and_then(|e| e.get("scope"))
            .and_then(|s| s.as_str())
            .is_some_and(|s| s.eq_ignore_ascii_case("inner"));
        // Parameters passed to the nested template, evaluated here.
        let mut supplied = HashMap::new();
        if let Some(pm) = props.get("parameters").and_then(Node::as_object) {
            let proute = route.push_key("parameters");
            for p in pm {
                let r = proute.push_key(&p.key);
                if let Some(v) = p.value.get("value") {
                    let val = self.eval_node(v, &r.push_key("value"), true);
                    supplied.insert(p.key.to_ascii_lowercase(), Supplied::Value(val));
                } else if let Some(rf) = p.value.get("reference") {
                    let secret = rf
                        .get("secretName")
                        .map(|s| self.eval_node(s, &r.push_key("reference"), false))
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_else(|| "?".into());
                    supplied.insert(p.key.to_ascii_lowercase(), Supplied::KeyVault(secret));
                }
            }
        }
        let name = inst.name.as_str().unwrap_or("(unknown name)").to_string();
        let mut scope = self.scope.clone();
        if let Some(sub) = o.get("subscriptionId").and_then(|v| v.as_str()) {
            scope.subscription_id = sub.to_string();
        }
        let body_node = self
            .doc
            .node(
                &self
                    .decls
                    .get(inst.decl)
                    .map(|d| d.route.clone())
                    .unwrap_or_default(),
            )
            .cloned();
        let field = |k: &str| {
            body_node.as_ref().and_then(|b| b.member(k)).map(|m| {
                let r = self
                    .decls
                    .get(inst.decl)
                    .map(|d| d.route.push_key(&m.key))
                    .unwrap_or_default();
                self.eval_node(&m.value, &r, false)
            })
        };
        let sub_v = field("subscriptionId");
        let rg_v = field("resourceGroup");
        if let Some(s) = sub_v.as_ref().and_then(|v| v.as_str()) {
            scope.subscription_id = s.to_string();
            if rg_v.is_none() && self.scope.level != ScopeLevel::ResourceGroup {
                scope.level = ScopeLevel::Subscription;
            }
        }
        if let Some(rg) = rg_v.as_ref().and_then(|v| v.as_str()) {
            scope.resource_group = rg.to_string();
            scope.level = ScopeLevel::ResourceGroup;
        }
        if field("scope").is_some() && self.scope.level == ScopeLevel::Tenant {
            scope.level = ScopeLevel::ManagementGroup;
        }
        if self.depth + 1 > self.x.limits.max_deployment_depth {
            self.diag(
                Level::Error,
                format!(
                    "expected deployments nested at most {} deep",
                    self.x.limits.max_deployment_depth
                ),
                route,
            );
            return Value::object(o).with_prov(self.prov(route));
        }
        let mut chain = self.chain.clone();
        chain.push(name.clone());
        scope.deployment_name = name.clone();
        // Where is the template?
        let (doc, troute, link_uri) = if props.get("template").is_some() {
            (
                self.doc.clone(),
                route.push_key("template"),
                self.link_uri.clone(),
            )
        } else if let Some(link) = props.get("templateLink") {
            match self.load_linked(link, &route.push_key("templateLink")) {
                Some((d, uri)) => (d, Route::default(), Some(uri)),
                None => {
                    let mut oo = o.clone();
                    oo.insert(
                        "outputs",
                        Value::unknown(format!(
                            "the linked template of deployment '{name}' was not expanded"
                        )),
                    );
                    return Value::object(oo).with_prov(self.prov(route));
                }
            }
        } else {
            self.diag(
                Level::Error,
                "expected \"template\" or \"templateLink\" in the deployment's properties",
                route,
            );
            return Value::object(o).with_prov(self.prov(route));
        };
        let linked = props.get("template").is_none();
        let outer: Option<&Tpl<'_>> = if inner || linked { None } else { Some(self) };
        let tpl_node = doc.node(&troute).cloned();
        if tpl_node
            .as_ref()
            .is_none_or(|n| n.get("resources").is_none())
        {
            self.diag(
                Level::Error,
                "expected a template object with \"resources\"",
                &troute,
            );
            return Value::object(o).with_prov(self.prov(route));
        }
        let init = TplInit {
            doc,
            route: troute,
            scope,
            supplied,
            overrides: Vec::new(),
            outer,
            chain,
            depth: self.depth + 1,
            deployment_name: name,
            link_uri,
        };
        let (resources, outputs) = expand_template(self.x, init);
        inst.nested.borrow_mut().extend(resources);
        let mut outs = Object::new();
        for out in outputs {
            let mut entry = Object::new();
            entry.insert("value", out.value);
            outs.insert(out.name, Value::object(entry));
        }
        o.insert("outputs", Value::object(outs));
        Value::object(o).with_prov(self.prov(route))
    }

    fn load_linked(&self, link: &Node, route: &Route) -> Option<(Arc<Document>, String)> {
        let base_dir = Path::new(self.doc.path.as_str())
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let rel = link
            .get("relativePath")
            .map(|n| self.eval_node(n, &route.push_key("relativePath"), false));
        let uri = link
            .get("uri")
            .map(|n| self.eval_node(n, &route.push_key("uri"), false));
        let candidate: Option<PathBuf> = if let Some(rel) = &rel {
            match rel.as_str() {
                Some(r) => Some(base_dir.join(r)),
                None => {
                    self.diag(
                        Level::Warning,
                        "the linked template's relativePath is not known: it is not expanded",
                        route,
                    );
                    return None;
                }
            }
        } else if let Some(u) = &uri {
            match u.as_str() {
                Some(u) => self.local_for_uri(u, &base_dir),
                None => {
                    self.diag(
                        Level::Warning,
                        "the linked template's URI is not known offline: it is not expanded",
                        route,
                    );
                    return None;
                }
            }
        } else {
            None
        };
        let Some(path) = candidate.filter(|p| p.is_file()) else {
            let what = uri
                .as_ref()
                .and_then(|u| u.as_str().map(str::to_string))
                .or_else(|| rel.as_ref().and_then(|r| r.as_str().map(str::to_string)))
                .unwrap_or_default();
            self.diag(
                Level::Warning,
                format!("the linked template '{what}' has no local copy at the same relative path: it is not expanded (nothing is fetched)"),
                route,
            );
            return None;
        };
        let key = path.to_string_lossy().replace('\\', "/");
        let key = normalize_path(&key);
        if let Some(d) = self.x.docs.borrow().iter().find(|d| d.path == key) {
            return Some((d.clone(), file_uri(&key)));
        }
        match Document::load(Path::new(&key)) {
            Ok(mut d) => {
                d.path = key.clone();
                let d = Arc::new(d);
                self.x.docs.borrow_mut().push(d.clone());
                Some((d, file_uri(&key)))
            }
            Err(e) => {
                self.diag(
                    Level::Error,
                    format!("the linked template cannot be read: {e}"),
                    route,
                );
                None
            }
        }
    }

    /// A URI resolves to a local file at the same relative path: a `file://` URI
    /// directly, or the longest tail of the URI's path that exists below the
    /// template's folder.
    fn local_for_uri(&self, uri: &str, base_dir: &Path) -> Option<PathBuf> {
        let no_query = uri.split(['?', '#']).next().unwrap_or(uri);
        if let Some(p) = no_query.strip_prefix("file://") {
            return Some(PathBuf::from(p));
        }
        let path = no_query
            .split_once("://")
            .map(|(_, rest)| rest.split_once('/').map(|(_, p)| p).unwrap_or(""))
            .unwrap_or(no_query);
        let segs: Vec<&str> = path
            .split('/')
            .filter(|s| !s.is_empty() && *s != "." && *s != "..")
            .collect();
        let this = std::fs::canonicalize(self.doc.path.as_str()).ok();
        // The template's folder and its ancestors: a repository's layout below some root.
        let roots: Vec<&Path> = base_dir.ancestors().take(8).collect();
        for start in 0..segs.len() {
            let tail = segs.get(start..).unwrap_or(&[]).join("/");
            let single = segs.len() - start == 1;
            for (depth, root) in roots.iter().enumerate() {
                if single && depth > 0 {
                    break;
                }
                let p = root.join(&tail);
                if p.is_file() && std::fs::canonicalize(&p).ok() != this {
                    return Some(p);
                }
            }
        }
        None
    }

    fn outputs(&self, root: &Node) -> Vec<Output> {
        let Some(members) = root.get("outputs").and_then(Node::as_object) else {
            return Vec::new();
        };
        let oroute = self.route.push_key("outputs");
        let mut out = Vec::new();
        for m in members {
            let r = oroute.push_key(&m.key);
            if let Some(c) = m.value.get("condition") {
                let cv = self.eval_node(c, &r.push_key("condition"), false);
                if cv.as_bool() == Some(false) {
                    continue;
                }
            }
            let secure = m
                .value
                .get("type")
                .and_then(Node::as_str)
                .is_some_and(|t| t.to_ascii_lowercase().starts_with("secure"));
            let value = if secure {
                Value::unknown_with(Unknown {
                    reason: format!("output '{}' is secure", m.key),
                    input: None,
                    secret: true,
                })
            } else if let Some(c) = m.value.get("copy") {
                self.eval_copy_array(c, &r.push_key("copy"))
            } else if let Some(v) = m.value.get("value") {
                self.eval_node(v, &r.push_key("value"), false)
            } else {
                Value::null()
            };
            out.push(Output {
                name: m.key.clone(),
                value,
                deployment: self.chain.clone(),
                prov: Prov::new(self.docname.clone(), r),
            });
        }
        out
    }

    // ---------------------------------------------------------------- reference()

    fn find_instance(&self, key: &str) -> Option<Rc<Instance>> {
        let instances = self.instances.borrow();
        let lower = key.to_ascii_lowercase();
        if lower.starts_with("/subscriptions/") || lower.starts_with("/providers/") {
            return instances
                .iter()
                .find(|i| i.id.as_str().is_some_and(|id| id.eq_ignore_ascii_case(key)))
                .cloned();
        }
        if self.symbolic_v2 {
            // `name` or `name[3]` for a symbolic copy loop.
            let (sym, index) = match key.strip_suffix(']').and_then(|k| k.split_once('[')) {
                Some((s, i)) => (s, i.parse::<i64>().ok()),
                None => (key, None),
            };
            if let Some(found) = instances.iter().find(|i| {
                self.decls
                    .get(i.decl)
                    .and_then(|d| d.symbolic.as_deref())
                    .is_some_and(|s| s.eq_ignore_ascii_case(sym))
                    && index.is_none_or(|ix| i.copy.as_ref().is_some_and(|c| c.index == ix))
            }) {
                return Some(found.clone());
            }
        }
        let matches: Vec<&Rc<Instance>> = instances
            .iter()
            .filter(|i| i.name.as_str().is_some_and(|n| n.eq_ignore_ascii_case(key)))
            .collect();
        match matches.as_slice() {
            [one] => Some((*one).clone()),
            _ => None,
        }
    }

    fn reference_value(&self, args: &[Value]) -> Result<Value> {
        let Some(target) = args.first() else {
            return Err(EvalError::new(
                "function 'reference' needs a resource name or ID",
            ));
        };
        let full = args
            .get(2)
            .and_then(|v| v.as_str())
            .is_some_and(|s| s.eq_ignore_ascii_case("full"));
        let Some(key) = target.as_str() else {
            return Ok(Value::unknown_with(Unknown {
                reason: "reference() to a resource whose name is not known".into(),
                input: target.first_unknown().and_then(|u| u.input.clone()),
                secret: false,
            }));
        };
        let runtime = |what: &str| {
            Arc::new(Unknown {
                reason: format!("{what} of '{key}' is known only after deployment"),
                input: None,
                secret: false,
            })
        };
        let Some(inst) = self
            .find_instance(key)
            .or_else(|| self.outer.and_then(|o| o.find_instance(key)))
        else {
            return Ok(Value::unknown_with(Unknown {
                reason: format!("reference() to '{key}', which is not declared in the input"),
                input: Some(format!("the resource '{key}'")),
                secret: false,
            }));
        };
        if inst.existing {
            let mut o = Object::new();
            o.insert("id", inst.id.clone());
            o.insert("name", inst.name.clone());
            o.set_open(Some(runtime("a property of the existing resource")));
            let v = Value::object(o);
            return Ok(if full {
                v
            } else {
                Value::unknown_with(Unknown {
                    reason: format!(
                        "the properties of the existing resource '{key}' are not in the input"
                    ),
                    input: Some(format!("the resource '{key}'")),
                    secret: false,
                })
            });
        }
        let body = self.body(&inst);
        let open = runtime("a run-time property");
        if full {
            let mut o = body.as_object().cloned().unwrap_or_default();
            o.insert("id", inst.id.clone());
            o.insert("name", inst.name.clone());
            o.insert("type", Value::string(inst.full_type.as_str()));
            return Ok(open_deep(Value::object(o), &open));
        }
        let props = body
            .as_object()
            .and_then(|o| o.get("properties"))
            .cloned()
            .unwrap_or_else(|| Value::object(Object::new()));
        Ok(open_deep(props, &open))
    }

    fn deployment_value(&self) -> Value {
        let mut tpl = Object::new();
        let root = self.doc.node(&self.route);
        for k in ["$schema", "contentVersion"] {
            if let Some(v) = root.and_then(|r| r.get(k)) {
                tpl.insert(k, node_to_value(v, &self.docname, &self.route.push_key(k)));
            }
        }
        let mut props = Object::new();
        if let Some(uri) = &self.link_uri {
            let mut link = Object::new();
            link.insert("uri", Value::string(uri.as_str()));
            props.insert("templateLink", Value::object(link));
        }
        props.insert("template", Value::object(tpl));
        props.insert("mode", Value::string("Incremental"));
        props.insert("provisioningState", Value::string("Accepted"));
        let mut o = Object::new();
        o.insert("name", Value::string(self.deployment_name.as_str()));
        if self.scope.level != ScopeLevel::ResourceGroup {
            o.insert("location", Value::string(self.scope.location.as_str()));
        }
        o.insert("properties", Value::object(props));
        Value::object(o)
    }
}

/// Marks every object in a tree as describing a deployed resource.
fn open_deep(v: Value, open: &Arc<Unknown>) -> Value {
    let prov = v.prov.clone();
    match v.kind {
        Kind::Object(o) => {
            let mut n: Object = o
                .iter()
                .map(|(k, c)| (k.to_string(), open_deep(c.clone(), open)))
                .collect();
            n.set_open(Some(open.clone()));
            Value::object(n).with_prov(prov)
        }
        Kind::Array(a) => {
            Value::array(a.iter().map(|c| open_deep(c.clone(), open)).collect()).with_prov(prov)
        }
        // A property declared null is filled in by Azure at run time.
        Kind::Null => Value::new(Kind::Unknown(open.clone())).with_prov(prov),
        _ => v,
    }
}

/// An extension resource's `scope` as a full resource ID: Bicep writes scopes in
/// the deployment's resource group relative to it (`Microsoft.Storage/storageAccounts/sa`).
fn absolute_scope(scope: &Scope, s: &str) -> String {
    if s.starts_with('/') {
        return s.to_string();
    }
    match scope.level {
        ScopeLevel::ResourceGroup => format!(
            "/subscriptions/{}/resourceGroups/{}/providers/{s}",
            scope.subscription_id, scope.resource_group
        ),
        ScopeLevel::Subscription => {
            format!("/subscriptions/{}/providers/{s}", scope.subscription_id)
        }
        _ => format!("/providers/{s}"),
    }
}

fn is_empty_value(v: &Value) -> bool {
    match &v.kind {
        Kind::Null => true,
        Kind::String(s) => s.is_empty(),
        Kind::Object(o) => o.is_empty(),
        Kind::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn normalize_path(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let absolute = p.starts_with('/');
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !absolute {
                    out.push("..");
                }
            }
            s => out.push(s),
        }
    }
    let joined = out.join("/");
    if absolute {
        format!("/{joined}")
    } else {
        joined
    }
}

fn did_you_mean(name: &str, names: &[&str]) -> String {
    let lower = name.to_ascii_lowercase();
    let best = names
        .iter()
        .filter(|n| {
            let nl = n.to_ascii_lowercase();
            nl.contains(&lower) || lower.contains(&nl) || common_prefix(&nl, &lower) >= 4
        })
        .min_by_key(|n| n.len().abs_diff(name.len()));
    match best {
        Some(b) => format!(" (did you mean '{b}'?)"),
        None => String::new(),
    }
}

fn common_prefix(a: &str, b: &str) -> usize {
    a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count()
}

/// Reads `--parameter name=value` text according to the parameter's declared type.
fn parse_override(ty: &str, text: &str) -> std::result::Result<Value, String> {
    match ty {
        "int" => text
            .trim()
            .parse::<i64>()
            .map(Value::int)
            .map_err(|_| format!("expected an integer, found '{text}'")),
        "bool" => match text.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Value::bool(true)),
            "false" => Ok(Value::bool(false)),
            _ => Err(format!("expected true or false, found '{text}'")),
        },
        "array" | "object" | "secureobject" => {
            let doc = Document::parse("--parameter", text.to_string())
                .map_err(|e| format!("expected JSON: {e}"))?;
            let v = node_to_value(&doc.root, &Arc::from("--parameter"), &Route::default());
            Ok(v.with_prov(None))
        }
        _ => Ok(Value::string(text)),
    }
}

// ---------------------------------------------------------------- Env

impl Env for Tpl<'_> {
    fn parameter(&self, name: &str) -> Result<Value> {
        self.eval_parameter(name)
    }
    fn variable(&self, name: &str) -> Result<Value> {
        self.eval_variable(name)
    }
    fn copy_index(&self, loop_name: Option<&str>) -> Result<i64> {
        let stack = self.copy.borrow();
        // Unnamed, copyIndex() means the resource's loop, even inside a property loop.
        let found = match loop_name {
            None => stack
                .iter()
                .rev()
                .find(|(_, _, resource)| *resource)
                .or_else(|| stack.last()),
            Some(n) => stack
                .iter()
                .rev()
                .find(|(k, _, _)| k.eq_ignore_ascii_case(n)),
        };
        match found {
            Some((_, i, _)) => Ok(*i),
            None => match self.outer {
                Some(o) => o.copy_index(loop_name),
                None => Err(EvalError::new(match loop_name {
                    Some(n) => format!("copyIndex('{n}') is used outside the copy loop '{n}'"),
                    None => "copyIndex() is used outside a copy loop".to_string(),
                })),
            },
        }
    }
    fn call_user_function(&self, namespace: &str, name: &str, args: Vec<Value>) -> Result<Value> {
        let key = format!("{namespace}.{name}").to_ascii_lowercase();
        let Some(f) = self
            .functions
            .get(&key)
            .or_else(|| self.outer.and_then(|o| o.functions.get(&key)))
        else {
            return Err(EvalError::new(format!(
                "unknown user-defined function '{namespace}.{name}'"
            )));
        };
        if args.len() != f.params.len() {
            return Err(EvalError::new(format!(
                "function '{namespace}.{name}' takes {} argument(s), got {}",
                f.params.len(),
                args.len()
            )));
        }
        let Some(body) = self.doc.node(&f.output_route).cloned() else {
            return Err(EvalError::new(format!(
                "function '{namespace}.{name}' has no output value"
            )));
        };
        let env = FnEnv {
            tpl: self,
            args: f
                .params
                .iter()
                .map(|p| p.to_ascii_lowercase())
                .zip(args)
                .collect(),
        };
        Ok(self.eval_node_with(&env, &body, &f.output_route, false))
    }
    fn reference(&self, args: &[Value]) -> Result<Value> {
        self.reference_value(args)
    }
    fn list(&self, function: &str, args: &[Value]) -> Result<Value> {
        let what = args
            .first()
            .and_then(|v| v.as_str())
            .unwrap_or("a resource")
            .to_string();
        Ok(Value::unknown_with(Unknown {
            reason: format!("{function}() of '{what}' returns secrets known only to Azure"),
            input: None,
            secret: true,
        }))
    }
    fn deployment(&self) -> Value {
        self.deployment_value()
    }
    fn scope(&self) -> &Scope {
        &self.scope
    }
    fn budget(&self) -> &Budget {
        &self.x.budget
    }
}

/// The environment of a user-defined function: only its own parameters.
struct FnEnv<'t, 'p> {
    tpl: &'t Tpl<'p>,
    args: HashMap<String, Value>,
}

impl Env for FnEnv<'_, '_> {
    fn parameter(&self, name: &str) -> Result<Value> {
        self.args
            .get(&name.to_ascii_lowercase())
            .cloned()
            .ok_or_else(|| EvalError::new(format!("the function has no parameter '{name}'")))
    }
    fn variable(&self, name: &str) -> Result<Value> {
        // languageVersion 2.0 lets functions read the template's variables.
        self.tpl.eval_variable(name)
    }
    fn copy_index(&self, _loop_name: Option<&str>) -> Result<i64> {
        Err(EvalError::new(
            "user-defined functions cannot use copyIndex()",
        ))
    }
    fn call_user_function(&self, namespace: &str, name: &str, args: Vec<Value>) -> Result<Value> {
        self.tpl.call_user_function(namespace, name, args)
    }
    fn reference(&self, _args: &[Value]) -> Result<Value> {
        Err(EvalError::new(
            "user-defined functions cannot use reference()",
        ))
    }
    fn list(&self, function: &str, args: &[Value]) -> Result<Value> {
        self.tpl.list(function, args)
    }
    fn deployment(&self) -> Value {
        self.tpl.deployment_value()
    }
    fn scope(&self) -> &Scope {
        &self.tpl.scope
    }
    fn budget(&self) -> &Budget {
        &self.tpl.x.budget
    }
}
