//! Property trees and the fields read from them.

use std::fmt;
use std::sync::Arc;

use amlguard_source::Route;

/// Where a value was written.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prov {
    pub document: Arc<str>,
    pub route: Route,
}

/// A value that cannot be known offline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownValue {
    pub reason: String,
    /// The input that decides it, e.g. "parameter 'enableNodePublicIp'".
    pub input: Option<String>,
    /// The value is a secret: it is never printed.
    pub secret: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TreeKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Array(Vec<Tree>),
    /// Properties in order; names compare case-insensitively.
    Object(Vec<(String, Tree)>),
    Unknown(UnknownValue),
}

/// A node of a property tree, with where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Tree {
    pub kind: TreeKind,
    pub prov: Option<Prov>,
}

/// A property read from a resource.
#[derive(Clone, Debug)]
pub enum Field<'a> {
    /// Written (or computed) with a known value.
    Known(&'a Tree),
    /// Not written (or written as `null`): Azure's default applies. `at` is the
    /// nearest written parent, where a fix would go.
    Absent { at: Prov },
    /// Not known offline.
    Unknown { value: &'a UnknownValue, at: Prov },
}

impl Tree {
    pub fn new(kind: TreeKind, prov: Option<Prov>) -> Tree {
        Tree { kind, prov }
    }

    /// A property of an object (case-insensitive).
    pub fn member(&self, key: &str) -> Option<&Tree> {
        match &self.kind {
            TreeKind::Object(ms) => ms
                .iter()
                .find(|(k, _)| k == key)
                .or_else(|| ms.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// Reads a dotted path (`properties.subnet.id`; numeric segments index arrays).
    pub fn get_path(&self, path: &str, fallback: &Prov) -> Field<'_> {
        let mut cur = self;
        let mut at = self.prov.clone().unwrap_or_else(|| fallback.clone());
        for seg in path.split('.').filter(|s| !s.is_empty()) {
            if let Some(p) = &cur.prov {
                at = p.clone();
            }
            let next = match &cur.kind {
                TreeKind::Unknown(u) => return Field::Unknown { value: u, at },
                TreeKind::Object(_) => cur.member(seg),
                TreeKind::Array(items) => seg.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            };
            match next {
                Some(n) => cur = n,
                None => return Field::Absent { at },
            }
        }
        let here = cur.prov.clone().unwrap_or(at);
        match &cur.kind {
            TreeKind::Null => Field::Absent { at: here },
            TreeKind::Unknown(u) => Field::Unknown { value: u, at: here },
            _ => Field::Known(cur),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            TreeKind::String(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self.kind {
            TreeKind::Bool(b) => Some(b),
            _ => None,
        }
    }
    pub fn as_int(&self) -> Option<i64> {
        match self.kind {
            TreeKind::Int(i) => Some(i),
            TreeKind::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => Some(f as i64),
            _ => None,
        }
    }
    pub fn as_array(&self) -> Option<&[Tree]> {
        match &self.kind {
            TreeKind::Array(a) => Some(a),
            _ => None,
        }
    }
    pub fn as_object(&self) -> Option<&[(String, Tree)]> {
        match &self.kind {
            TreeKind::Object(o) => Some(o),
            _ => None,
        }
    }
    /// True when an unknown appears anywhere below.
    pub fn contains_unknown(&self) -> bool {
        match &self.kind {
            TreeKind::Unknown(_) => true,
            TreeKind::Array(a) => a.iter().any(Tree::contains_unknown),
            TreeKind::Object(o) => o.iter().any(|(_, v)| v.contains_unknown()),
            _ => false,
        }
    }
    /// The first unknown below, depth first.
    pub fn first_unknown(&self) -> Option<&UnknownValue> {
        match &self.kind {
            TreeKind::Unknown(u) => Some(u),
            TreeKind::Array(a) => a.iter().find_map(Tree::first_unknown),
            TreeKind::Object(o) => o.iter().find_map(|(_, v)| v.first_unknown()),
            _ => None,
        }
    }
}

impl<'a> Field<'a> {
    /// Where the field is, or where it would be written.
    pub fn at(&self) -> Option<&Prov> {
        match self {
            Field::Known(t) => t.prov.as_ref(),
            Field::Absent { at } | Field::Unknown { at, .. } => Some(at),
        }
    }
    pub fn is_absent(&self) -> bool {
        matches!(self, Field::Absent { .. })
    }
    pub fn known(&self) -> Option<&'a Tree> {
        match self {
            Field::Known(t) => Some(t),
            _ => None,
        }
    }
    pub fn unknown(&self) -> Option<&'a UnknownValue> {
        match self {
            Field::Unknown { value, .. } => Some(value),
            _ => None,
        }
    }
    /// A known string.
    pub fn str(&self) -> Option<&'a str> {
        self.known().and_then(Tree::as_str)
    }
    /// A known boolean.
    pub fn bool(&self) -> Option<bool> {
        self.known().and_then(Tree::as_bool)
    }
    /// Three-way: a known string equal (case-insensitively) to one of `values`.
    pub fn str_is(&self, values: &[&str]) -> Option<bool> {
        match self {
            Field::Known(t) => Some(
                t.as_str()
                    .is_some_and(|s| values.iter().any(|v| v.eq_ignore_ascii_case(s))),
            ),
            Field::Absent { .. } => Some(false),
            Field::Unknown { .. } => None,
        }
    }
}

impl fmt::Display for Tree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            TreeKind::Null => write!(f, "null"),
            TreeKind::Bool(b) => write!(f, "{b}"),
            TreeKind::Int(i) => write!(f, "{i}"),
            TreeKind::Float(x) => write!(f, "{x}"),
            TreeKind::String(s) => write!(f, "'{s}'"),
            TreeKind::Array(a) => write!(f, "[{} items]", a.len()),
            TreeKind::Object(o) => write!(f, "{{{} properties}}", o.len()),
            TreeKind::Unknown(u) if u.secret => write!(f, "<secret>"),
            TreeKind::Unknown(_) => write!(f, "<unknown>"),
        }
    }
}
