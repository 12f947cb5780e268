//! Helpers shared by the workspace rules (and the compute rules, which need the
//! parent workspace's managed network).

use amlguard_model::{Field, Model, Prov, Resource, ResourceKind, Tree, TreeKind};

use crate::{Confidence, Finding, RuleMeta};

/// A three-valued answer. `Maybe` carries the input that would decide it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Tri {
    Yes,
    No,
    Maybe(Option<String>),
}

impl Tri {
    /// Both must hold: `No` wins, then `Maybe` (the first one's input), then `Yes`.
    pub(crate) fn and(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::No, _) | (_, Tri::No) => Tri::No,
            (Tri::Maybe(i), _) | (_, Tri::Maybe(i)) => Tri::Maybe(i),
            (Tri::Yes, Tri::Yes) => Tri::Yes,
        }
    }
    /// The negation; `Maybe` stays `Maybe`.
    pub(crate) fn negate(self) -> Tri {
        match self {
            Tri::Yes => Tri::No,
            Tri::No => Tri::Yes,
            m @ Tri::Maybe(_) => m,
        }
    }
}

/// ARM resource IDs compare case-insensitively; a trailing `/` is ignored.
pub(crate) fn same_id(a: &str, b: &str) -> bool {
    a.trim()
        .trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim().trim_end_matches('/'))
}

/// A boolean, also when written as the strings `"true"` / `"false"`.
pub(crate) fn bool_of(t: &Tree) -> Option<bool> {
    match &t.kind {
        TreeKind::Bool(b) => Some(*b),
        TreeKind::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        TreeKind::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// A known string equal (case-insensitively) to one of `values`.
pub(crate) fn str_in(t: &Tree, values: &[&str]) -> bool {
    t.as_str()
        .is_some_and(|s| values.iter().any(|v| v.eq_ignore_ascii_case(s.trim())))
}

/// A known, non-blank string.
pub(crate) fn non_blank(t: &Tree) -> Option<&str> {
    t.as_str().map(str::trim).filter(|s| !s.is_empty())
}

/// The input that decides an unknown field (or an unknown inside a known one).
pub(crate) fn input_of(f: &Field<'_>) -> Option<String> {
    f.unknown().and_then(|u| u.input.clone()).or_else(|| {
        f.known()
            .and_then(Tree::first_unknown)
            .and_then(|u| u.input.clone())
    })
}

/// The input that decides a resource's name (and so its ID) when it is not known.
pub(crate) fn name_input(r: &Resource) -> Option<String> {
    if r.id.is_some() {
        return None;
    }
    input_of(&r.get("name"))
}

/// Where a field is, or where it would be written; the resource's declaration otherwise.
pub(crate) fn at_of(r: &Resource, f: &Field<'_>) -> Prov {
    f.at().cloned().unwrap_or_else(|| r.prov.clone())
}

/// A finding whose answer depends on a value not known offline: confidence low,
/// the message says what would decide it (worded as [`crate::report`] does).
pub(crate) fn possible(
    rule: &'static RuleMeta,
    r: &Resource,
    at: Prov,
    message: &str,
    fix: &str,
    input: Option<String>,
    why: &str,
) -> Finding {
    let decide = match &input {
        Some(i) => format!("set {i} to decide"),
        None => why.to_string(),
    };
    let mut f = Finding::new(rule, r, format!("possibly: {message} ({decide})")).with_fix(fix);
    f.at = at;
    f.confidence = Confidence::Low;
    f.deciding_input = input;
    f
}

/// Whether a workspace has a managed virtual network
/// (`properties.managedNetwork.isolationMode` is `AllowOnlyApprovedOutbound` or
/// `AllowInternetOutbound`; absent or `Disabled` means none), and the field read.
pub(crate) fn managed_network(ws: &Resource) -> (Tri, Field<'_>) {
    let f = ws.get("properties.managedNetwork.isolationMode");
    let t = match &f {
        Field::Known(t) if t.contains_unknown() => Tri::Maybe(input_of(&f)),
        Field::Known(t) => {
            if str_in(t, &["AllowOnlyApprovedOutbound", "AllowInternetOutbound"]) {
                Tri::Yes
            } else {
                Tri::No
            }
        }
        Field::Absent { .. } => Tri::No,
        Field::Unknown { .. } => Tri::Maybe(input_of(&f)),
    };
    (t, f)
}

/// Whether a resource is deployed: a condition not known offline is a `Maybe`.
pub(crate) fn deployed(r: &Resource, what: &str) -> Tri {
    if !r.deployed() {
        return Tri::No;
    }
    match r.condition {
        None => Tri::Maybe(Some(format!(
            "the condition of {what} '{}'",
            r.display_name()
        ))),
        Some(_) => Tri::Yes,
    }
}

/// A private endpoint (or an approved private endpoint connection) that reaches a workspace.
#[derive(Debug)]
pub(crate) struct Endpoint<'a> {
    /// The private endpoint resource, when it is in the model.
    pub pe: Option<&'a Resource>,
    /// Where the evidence is (the connection entry).
    pub at: Prov,
    /// `Yes`: it certainly reaches the workspace; `Maybe`: it may (input that decides).
    pub reaches: Tri,
}

/// Does a resource ID (a `privateLinkServiceId`) name this workspace?
fn targets(ws: &Resource, link: &Field<'_>) -> Tri {
    match link {
        Field::Known(t) if t.contains_unknown() => Tri::Maybe(input_of(link)),
        Field::Known(t) => {
            let Some(s) = t.as_str() else {
                return Tri::No;
            };
            match &ws.id {
                Some(id) => {
                    if same_id(s, id) {
                        Tri::Yes
                    } else {
                        Tri::No
                    }
                }
                // The workspace's ID is not known: a link to some workspace may be this one.
                None => {
                    if s.to_ascii_lowercase()
                        .contains("/microsoft.machinelearningservices/workspaces/")
                    {
                        Tri::Maybe(name_input(ws))
                    } else {
                        Tri::No
                    }
                }
            }
        }
        Field::Absent { .. } => Tri::No,
        Field::Unknown { .. } => Tri::Maybe(input_of(link)),
    }
}

/// Does a `groupIds` array contain `amlworkspace`?
fn has_workspace_group(groups: &Field<'_>) -> Tri {
    match groups {
        Field::Known(t) => {
            let Some(items) = t.as_array() else {
                return if t.contains_unknown() {
                    Tri::Maybe(input_of(groups))
                } else {
                    Tri::No
                };
            };
            if items.iter().any(|g| str_in(g, &["amlworkspace"])) {
                Tri::Yes
            } else if t.contains_unknown() {
                Tri::Maybe(input_of(groups))
            } else {
                Tri::No
            }
        }
        Field::Absent { .. } => Tri::No,
        Field::Unknown { .. } => Tri::Maybe(input_of(groups)),
    }
}

/// The private endpoints of the model that reach a workspace: a
/// `Microsoft.Network/privateEndpoints` whose `privateLinkServiceConnections` or
/// `manualPrivateLinkServiceConnections` entry names the workspace's ID
/// (case-insensitively) with group `amlworkspace`; and, for live state, the
/// workspace's own approved `privateEndpointConnections`.
pub(crate) fn workspace_endpoints<'a>(m: &'a Model, ws: &'a Resource) -> Vec<Endpoint<'a>> {
    let mut out = Vec::new();
    for pe in m.of_kind(ResourceKind::PrivateEndpoint) {
        let live = deployed(pe, "private endpoint");
        for list in [
            "properties.privateLinkServiceConnections",
            "properties.manualPrivateLinkServiceConnections",
        ] {
            let f = pe.get(list);
            match &f {
                Field::Known(t) => {
                    let Some(items) = t.as_array() else {
                        continue;
                    };
                    for conn in items {
                        let fallback = conn.prov.clone().unwrap_or_else(|| pe.prov.clone());
                        let link = conn.get_path("properties.privateLinkServiceId", &fallback);
                        let groups = conn.get_path("properties.groupIds", &fallback);
                        let reaches = live
                            .clone()
                            .and(targets(ws, &link))
                            .and(has_workspace_group(&groups));
                        if reaches != Tri::No {
                            out.push(Endpoint {
                                pe: Some(pe),
                                at: fallback,
                                reaches,
                            });
                        }
                    }
                }
                Field::Unknown { .. } => out.push(Endpoint {
                    pe: Some(pe),
                    at: at_of(pe, &f),
                    reaches: live.clone().and(Tri::Maybe(input_of(&f))),
                }),
                Field::Absent { .. } => {}
            }
        }
    }
    // Live state: the workspace lists its approved private endpoint connections.
    let approved = |c: &Tree, fallback: &Prov| {
        c.get_path(
            "properties.privateLinkServiceConnectionState.status",
            fallback,
        )
        .known()
        .is_some_and(|s| str_in(s, &["Approved"]))
    };
    if let Some(items) = ws
        .get("properties.privateEndpointConnections")
        .known()
        .and_then(Tree::as_array)
    {
        for c in items {
            let fallback = c.prov.clone().unwrap_or_else(|| ws.prov.clone());
            if approved(c, &fallback) {
                let pe = c
                    .get_path("properties.privateEndpoint.id", &fallback)
                    .str()
                    .and_then(|id| m.get(id));
                out.push(Endpoint {
                    pe,
                    at: fallback,
                    reaches: Tri::Yes,
                });
            }
        }
    }
    for c in m.children(ws, ResourceKind::PrivateEndpointConnection) {
        if approved(&c.body, &c.prov) {
            let pe = c
                .get("properties.privateEndpoint.id")
                .str()
                .and_then(|id| m.get(id));
            out.push(Endpoint {
                pe,
                at: c.prov.clone(),
                reaches: Tri::Yes,
            });
        }
    }
    out
}

/// Every resource of a kind declared in the input whose condition is not false,
/// `existing` ones included (a reference proves the resource exists).
pub(crate) fn declared(m: &Model, kind: ResourceKind) -> impl Iterator<Item = &Resource> {
    m.resources
        .iter()
        .filter(move |r| r.kind == kind && r.condition != Some(false))
}

/// A short human name of a resource kind, for messages.
pub(crate) fn kind_label(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::StorageAccount => "storage account",
        ResourceKind::KeyVault => "key vault",
        ResourceKind::ContainerRegistry => "container registry",
        ResourceKind::Workspace => "workspace",
        ResourceKind::PrivateEndpoint => "private endpoint",
        _ => "resource",
    }
}
