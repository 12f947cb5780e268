//! Resolving provenance into positions, and finding where secrets are written.

use amlguard_model::{Model, Prov, TreeKind};
use amlguard_source::{Document, Node, Position, Span};

/// Where a finding or a related location is, resolved in its document.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Place<'a> {
    /// The document's path, as given.
    pub file: &'a str,
    /// The document, when the model has it.
    pub doc: Option<&'a Document>,
    /// The bytes to point at.
    pub span: Option<Span>,
    /// Start of `span` (1-based line; column in Unicode code points).
    pub start: Option<Position>,
    /// The position just past `span`.
    pub end: Option<Position>,
    /// Whether the route was found whole (else `span` is its deepest existing parent).
    pub exact: bool,
}

/// Resolves `prov` through the model's documents. When `absent`, `prov` is the
/// object where the missing property would go, and only its opening character
/// is pointed at.
pub(crate) fn resolve<'a>(model: &'a Model, prov: &'a Prov, absent: bool) -> Place<'a> {
    let Some(doc) = model.document(&prov.document) else {
        return Place {
            file: &prov.document,
            doc: None,
            span: None,
            start: None,
            end: None,
            exact: false,
        };
    };
    let located = doc.locate(&prov.route);
    let mut span = located.node_span;
    if absent {
        let first = doc
            .text
            .get(span.start..)
            .and_then(|rest| rest.chars().next())
            .map_or(0, char::len_utf8);
        span = Span::new(span.start, span.start.saturating_add(first).min(span.end));
    }
    Place {
        file: &prov.document,
        doc: Some(doc),
        span: Some(span),
        start: Some(located.position),
        end: Some(doc.position(span.end)),
        exact: located.exact,
    }
}

/// The byte spans, per document, whose text must never be shown.
#[derive(Debug, Default)]
pub(crate) struct Secrets {
    spans: Vec<(String, Span)>,
}

impl Secrets {
    /// Values the model marks secret, and the defaults and supplied values of
    /// parameters declared `secureString` or `secureObject` in any document.
    pub(crate) fn of(model: &Model) -> Secrets {
        let mut spans = Vec::new();
        for r in &model.resources {
            let mut stack = vec![&r.body];
            while let Some(t) = stack.pop() {
                match &t.kind {
                    TreeKind::Unknown(u) if u.secret => {
                        // Where the secret comes from an expression (`[parameters('pw')]`,
                        // `[listKeys(…)]`), the text is the expression, which may be shown;
                        // where it is a literal, the text is the secret.
                        if let Some(p) = &t.prov
                            && let Some(doc) = model.document(&p.document)
                            && let Some(node) = doc.node(&p.route)
                            && !node.as_str().is_some_and(is_expression)
                        {
                            spans.push((doc.path.clone(), node.span));
                        }
                    }
                    TreeKind::Array(items) => stack.extend(items.iter()),
                    TreeKind::Object(members) => stack.extend(members.iter().map(|(_, v)| v)),
                    _ => {}
                }
            }
        }
        let mut secure_names: Vec<String> = Vec::new();
        for doc in &model.documents {
            for decls in parameter_objects(&doc.root) {
                for m in decls {
                    let secure = m
                        .value
                        .get("type")
                        .and_then(Node::as_str)
                        .is_some_and(|t| t.to_ascii_lowercase().starts_with("secure"));
                    if secure {
                        secure_names.push(m.key.to_ascii_lowercase());
                        if let Some(d) = m.value.get("defaultValue") {
                            spans.push((doc.path.clone(), d.span));
                        }
                    }
                }
            }
        }
        for doc in &model.documents {
            for values in parameter_objects(&doc.root) {
                for m in values {
                    if secure_names.contains(&m.key.to_ascii_lowercase())
                        && let Some(v) = m.value.get("value")
                    {
                        spans.push((doc.path.clone(), v.span));
                    }
                }
            }
        }
        Secrets { spans }
    }

    /// Whether bytes `start..end` of `file` overlap a secret.
    pub(crate) fn overlaps(&self, file: &str, start: usize, end: usize) -> bool {
        self.spans
            .iter()
            .any(|(f, s)| f == file && s.start < end.max(start + 1) && start < s.end)
    }
}

/// The members of every object named `parameters` in a document: parameter
/// declarations in templates (and nested templates), parameter values in
/// parameter files and nested deployments.
fn parameter_objects(root: &Node) -> Vec<&[amlguard_source::Member]> {
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(n) = stack.pop() {
        if let Some(members) = n.as_object() {
            for m in members {
                if m.key.eq_ignore_ascii_case("parameters")
                    && let Some(inner) = m.value.as_object()
                {
                    out.push(inner);
                }
                stack.push(&m.value);
            }
        } else if let Some(items) = n.as_array() {
            stack.extend(items.iter());
        }
    }
    out
}

/// An ARM template expression: `[…]`, but not the escaped literal `[[…`.
fn is_expression(s: &str) -> bool {
    let t = s.trim();
    t.starts_with('[') && !t.starts_with("[[") && t.ends_with(']')
}
