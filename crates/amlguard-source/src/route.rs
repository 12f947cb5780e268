//! Paths from the root of a document to one of its values.

use std::fmt;

/// One step of a [`Route`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Seg {
    /// An object member, matched like [`crate::Node::get`].
    Key(String),
    /// An array element.
    Index(usize),
}

/// A path from the root of a document, e.g. `resources[0].properties.name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Route(pub Vec<Seg>);

impl Route {
    /// The empty route, naming the root value.
    pub fn root() -> Route {
        Route(Vec::new())
    }

    /// This route followed by the object member `key`.
    pub fn push_key(&self, key: &str) -> Route {
        let mut segs = Vec::with_capacity(self.0.len() + 1);
        segs.extend_from_slice(&self.0);
        segs.push(Seg::Key(key.to_owned()));
        Route(segs)
    }

    /// This route followed by the array element `index`.
    pub fn push_index(&self, index: usize) -> Route {
        let mut segs = Vec::with_capacity(self.0.len() + 1);
        segs.extend_from_slice(&self.0);
        segs.push(Seg::Index(index));
        Route(segs)
    }

    /// The steps.
    pub fn segs(&self) -> &[Seg] {
        &self.0
    }

    /// The route without its last step; `None` for the root.
    pub fn parent(&self) -> Option<Route> {
        let (_, init) = self.0.split_last()?;
        Some(Route(init.to_vec()))
    }

    /// The last step; `None` for the root.
    pub fn last(&self) -> Option<&Seg> {
        self.0.last()
    }

    /// Whether this is the empty route.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of steps.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no steps (same as [`Route::is_root`]).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Vec<Seg>> for Route {
    fn from(segs: Vec<Seg>) -> Route {
        Route(segs)
    }
}

impl FromIterator<Seg> for Route {
    fn from_iter<I: IntoIterator<Item = Seg>>(iter: I) -> Route {
        Route(iter.into_iter().collect())
    }
}

/// Whether `key` can be written after a dot: ASCII letters, digits, `_` and
/// `$`, not starting with a digit, and not the lone `$` (which names the root).
fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '$' => {}
        _ => return false,
    }
    key != "$" && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

impl fmt::Display for Route {
    /// `$` for the root; otherwise keys as `.name` (no dot at the start) or
    /// `['odd key']` (with `'` and `\` escaped by a backslash), and indexes as
    /// `[0]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("$");
        }
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Index(n) => write!(f, "[{n}]")?,
                Seg::Key(k) if is_identifier(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                Seg::Key(k) => {
                    f.write_str("['")?;
                    for c in k.chars() {
                        if c == '\'' || c == '\\' {
                            f.write_str("\\")?;
                        }
                        write!(f, "{c}")?;
                    }
                    f.write_str("']")?;
                }
            }
        }
        Ok(())
    }
}
