//! Runtime values of the ARM template language.
//!
//! A [`Value`] is a JSON-like tree whose leaves may be [`Kind::Unknown`]: a value
//! that cannot be known offline (a parameter without a value, `reference()` to a
//! resource outside the input, a secure parameter). Every node may carry a
//! [`Prov`], the document and route it was written at, so later stages can point
//! at the line that decided it.

use std::fmt;
use std::sync::Arc;

use amlguard_source::Route;
use indexmap::IndexMap;

/// Where a value was written: a document and a route inside it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Prov(pub Arc<ProvInner>);

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProvInner {
    /// Path of the document, as given on the command line (or resolved relative to it).
    pub document: Arc<str>,
    pub route: Route,
}

impl Prov {
    pub fn new(document: Arc<str>, route: Route) -> Prov {
        Prov(Arc::new(ProvInner { document, route }))
    }
    pub fn document(&self) -> &str {
        &self.0.document
    }
    pub fn route(&self) -> &Route {
        &self.0.route
    }
}

/// Why a value is not known, and what input would decide it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unknown {
    pub reason: String,
    /// The input that would decide the value, e.g. "parameter 'enableNodePublicIp'".
    pub input: Option<String>,
    /// The value is secret (a secure parameter or a Key Vault reference): it must never be printed.
    pub secret: bool,
}

/// A user lambda: `lambda('x', 'y', body)`.
#[derive(Debug)]
pub struct Lambda {
    pub params: Vec<String>,
    pub body: crate::expr::Expr,
    /// Lambda variables of enclosing lambdas, captured at creation.
    pub captured: Vec<(String, Value)>,
}

#[derive(Clone, Debug)]
pub enum Kind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(Arc<str>),
    Array(Arc<Vec<Value>>),
    Object(Arc<Object>),
    Unknown(Arc<Unknown>),
    Lambda(Arc<Lambda>),
}

/// A value with its provenance.
#[derive(Clone, Debug)]
pub struct Value {
    pub kind: Kind,
    pub prov: Option<Prov>,
}

/// An object whose property names compare case-insensitively, as in ARM, and keep
/// their order and their original spelling.
#[derive(Clone, Debug, Default)]
pub struct Object {
    map: IndexMap<String, (String, Value)>,
    /// Set for objects that describe a deployed resource (`reference()`): properties
    /// that the input does not declare exist only at run time and read as this unknown.
    open: Option<Arc<Unknown>>,
}

fn fold(key: &str) -> String {
    key.to_ascii_lowercase()
}

impl Object {
    pub fn new() -> Object {
        Object::default()
    }
    pub fn with_capacity(n: usize) -> Object {
        Object {
            map: IndexMap::with_capacity(n),
            open: None,
        }
    }
    /// Inserts or replaces a property (a replaced property keeps its position and takes the new spelling).
    pub fn insert(&mut self, key: impl Into<String>, value: Value) {
        let key = key.into();
        let folded = fold(&key);
        self.map.insert(folded, (key, value));
    }
    pub fn get(&self, key: &str) -> Option<&Value> {
        if let Some((_, v)) = self.map.get(key) {
            return Some(v);
        }
        self.map.get(&fold(key)).map(|(_, v)| v)
    }
    /// The property and its original spelling.
    pub fn entry(&self, key: &str) -> Option<(&str, &Value)> {
        self.map.get(&fold(key)).map(|(k, v)| (k.as_str(), v))
    }
    /// What a property that is not declared reads as, for objects of deployed resources.
    pub fn open(&self) -> Option<&Arc<Unknown>> {
        self.open.as_ref()
    }
    pub fn set_open(&mut self, u: Option<Arc<Unknown>>) {
        self.open = u;
    }
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.map.shift_remove(&fold(key)).map(|(_, v)| v)
    }
    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    /// Properties in order, with their original spelling.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.map.values().map(|(k, v)| (k.as_str(), v))
    }
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.map.values().map(|(k, _)| k.as_str())
    }
}

impl FromIterator<(String, Value)> for Object {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Object {
        let mut o = Object::new();
        for (k, v) in iter {
            o.insert(k, v);
        }
        o
    }
}

/// Three-valued truth: comparisons that involve unknowns may be undecided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tri {
    True,
    False,
    Unknown,
}

impl Tri {
    pub fn from_bool(b: bool) -> Tri {
        if b { Tri::True } else { Tri::False }
    }
    pub fn and(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::False, _) | (_, Tri::False) => Tri::False,
            (Tri::True, Tri::True) => Tri::True,
            _ => Tri::Unknown,
        }
    }
    pub fn or(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::True, _) | (_, Tri::True) => Tri::True,
            (Tri::False, Tri::False) => Tri::False,
            _ => Tri::Unknown,
        }
    }
    pub fn negate(self) -> Tri {
        match self {
            Tri::True => Tri::False,
            Tri::False => Tri::True,
            Tri::Unknown => Tri::Unknown,
        }
    }
}

impl Value {
    pub fn new(kind: Kind) -> Value {
        Value { kind, prov: None }
    }
    pub fn null() -> Value {
        Value::new(Kind::Null)
    }
    pub fn bool(b: bool) -> Value {
        Value::new(Kind::Bool(b))
    }
    pub fn int(i: i64) -> Value {
        Value::new(Kind::Int(i))
    }
    pub fn float(f: f64) -> Value {
        Value::new(Kind::Float(f))
    }
    pub fn string(s: impl Into<Arc<str>>) -> Value {
        Value::new(Kind::String(s.into()))
    }
    pub fn array(items: Vec<Value>) -> Value {
        Value::new(Kind::Array(Arc::new(items)))
    }
    pub fn object(o: Object) -> Value {
        Value::new(Kind::Object(Arc::new(o)))
    }
    pub fn unknown(reason: impl Into<String>) -> Value {
        Value::new(Kind::Unknown(Arc::new(Unknown {
            reason: reason.into(),
            input: None,
            secret: false,
        })))
    }
    pub fn unknown_with(u: Unknown) -> Value {
        Value::new(Kind::Unknown(Arc::new(u)))
    }
    pub fn with_prov(mut self, prov: Option<Prov>) -> Value {
        self.prov = prov;
        self
    }
    /// Sets the provenance where the value has none.
    pub fn or_prov(mut self, prov: &Option<Prov>) -> Value {
        if self.prov.is_none() {
            self.prov = prov.clone();
        }
        self
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::String(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self.kind {
            Kind::Bool(b) => Some(b),
            _ => None,
        }
    }
    pub fn as_int(&self) -> Option<i64> {
        match self.kind {
            Kind::Int(i) => Some(i),
            _ => None,
        }
    }
    pub fn as_array(&self) -> Option<&[Value]> {
        match &self.kind {
            Kind::Array(a) => Some(a),
            _ => None,
        }
    }
    pub fn as_object(&self) -> Option<&Object> {
        match &self.kind {
            Kind::Object(o) => Some(o),
            _ => None,
        }
    }
    pub fn as_unknown(&self) -> Option<&Unknown> {
        match &self.kind {
            Kind::Unknown(u) => Some(u),
            _ => None,
        }
    }
    pub fn is_unknown(&self) -> bool {
        matches!(self.kind, Kind::Unknown(_))
    }
    pub fn is_null(&self) -> bool {
        matches!(self.kind, Kind::Null)
    }
    /// True when an unknown appears anywhere in the tree.
    pub fn contains_unknown(&self) -> bool {
        match &self.kind {
            Kind::Unknown(_) => true,
            Kind::Array(a) => a.iter().any(Value::contains_unknown),
            Kind::Object(o) => o.iter().any(|(_, v)| v.contains_unknown()),
            _ => false,
        }
    }
    /// True when a secret appears anywhere in the tree.
    pub fn contains_secret(&self) -> bool {
        match &self.kind {
            Kind::Unknown(u) => u.secret,
            Kind::Array(a) => a.iter().any(Value::contains_secret),
            Kind::Object(o) => o.iter().any(|(_, v)| v.contains_secret()),
            _ => false,
        }
    }
    /// The first unknown in the tree, depth first.
    pub fn first_unknown(&self) -> Option<&Unknown> {
        match &self.kind {
            Kind::Unknown(u) => Some(u),
            Kind::Array(a) => a.iter().find_map(Value::first_unknown),
            Kind::Object(o) => o.iter().find_map(|(_, v)| v.first_unknown()),
            _ => None,
        }
    }

    /// The ARM type name, as the error messages and `parameters` types use it.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Null => "null",
            Kind::Bool(_) => "bool",
            Kind::Int(_) => "int",
            Kind::Float(_) => "number",
            Kind::String(_) => "string",
            Kind::Array(_) => "array",
            Kind::Object(_) => "object",
            Kind::Unknown(_) => "unknown",
            Kind::Lambda(_) => "lambda",
        }
    }

    /// Deep equality as `equals()` defines it: strings compare case-sensitively,
    /// object property names case-insensitively, ints and floats by value.
    /// Undecided when an unknown is met where it matters.
    pub fn loose_eq(&self, other: &Value) -> Tri {
        match (&self.kind, &other.kind) {
            (Kind::Unknown(_), _) | (_, Kind::Unknown(_)) => Tri::Unknown,
            (Kind::Null, Kind::Null) => Tri::True,
            (Kind::Bool(a), Kind::Bool(b)) => Tri::from_bool(a == b),
            (Kind::Int(a), Kind::Int(b)) => Tri::from_bool(a == b),
            (Kind::Float(a), Kind::Float(b)) => Tri::from_bool(a == b),
            (Kind::Int(a), Kind::Float(b)) | (Kind::Float(b), Kind::Int(a)) => {
                Tri::from_bool((*a as f64) == *b)
            }
            (Kind::String(a), Kind::String(b)) => Tri::from_bool(a == b),
            (Kind::Array(a), Kind::Array(b)) => {
                if a.len() != b.len() {
                    return Tri::False;
                }
                a.iter()
                    .zip(b.iter())
                    .fold(Tri::True, |acc, (x, y)| acc.and(x.loose_eq(y)))
            }
            (Kind::Object(a), Kind::Object(b)) => {
                if a.len() != b.len() {
                    return Tri::False;
                }
                let mut acc = Tri::True;
                for (k, v) in a.iter() {
                    match b.get(k) {
                        None => return Tri::False,
                        Some(w) => acc = acc.and(v.loose_eq(w)),
                    }
                }
                acc
            }
            (Kind::Lambda(a), Kind::Lambda(b)) => Tri::from_bool(Arc::ptr_eq(a, b)),
            _ => Tri::False,
        }
    }

    /// Converts a known value to compact JSON text (as `string()` does for objects and arrays).
    /// Unknowns are written as `<unknown>`; secrets are never written.
    pub fn to_json_text(&self) -> String {
        let mut s = String::new();
        write_json(self, &mut s);
        s
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        self.loose_eq(other) == Tri::True
    }
}

fn write_json_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Formats a float the way JSON writers do: integral values keep a `.0` only when needed.
pub fn format_float(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

fn write_json(v: &Value, out: &mut String) {
    match &v.kind {
        Kind::Null => out.push_str("null"),
        Kind::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Kind::Int(i) => out.push_str(&i.to_string()),
        Kind::Float(f) => out.push_str(&format_float(*f)),
        Kind::String(s) => write_json_str(s, out),
        Kind::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(x, out);
            }
            out.push(']');
        }
        Kind::Object(o) => {
            out.push('{');
            for (i, (k, x)) in o.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_str(k, out);
                out.push(':');
                write_json(x, out);
            }
            out.push('}');
        }
        Kind::Unknown(u) => {
            if u.secret {
                out.push_str("\"<secret>\"");
            } else {
                out.push_str("\"<unknown>\"");
            }
        }
        Kind::Lambda(_) => out.push_str("\"<lambda>\""),
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json_text())
    }
}
