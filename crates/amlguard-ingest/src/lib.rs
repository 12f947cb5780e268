//! Input formats → the model. ARM templates are expanded by `amlguard-arm`; the
//! expanded resources become model resources, and children declared inline in
//! their parent (a VNet's `subnets`, an NSG's `securityRules`, a route table's
//! `routes`, a service endpoint policy's definitions) become resources of their
//! own, so every analysis finds them the same way whether they were written
//! inline or separately.

use std::collections::HashSet;

use amlguard_arm::template::Expansion;
use amlguard_arm::{Kind, Value};
use amlguard_model::{Model, Prov, Resource, ResourceKind, Tree, TreeKind, UnknownValue};

/// Converts an expanded ARM deployment into the model.
pub fn from_expansion(x: &Expansion) -> Model {
    let mut out: Vec<Resource> = Vec::with_capacity(x.resources.len());
    for r in &x.resources {
        let body = tree(&r.body);
        let prov = prov_of(&r.prov);
        let res = Resource {
            kind: ResourceKind::from_arm_type(&r.full_type),
            arm_type: r.full_type.clone(),
            name: r.name.as_str().map(str::to_string),
            id: r.id.as_str().map(str::to_string),
            api_version: r.api_version.clone(),
            condition: r.condition.as_bool(),
            existing: r.existing,
            body,
            prov,
            scope: r
                .scope
                .as_ref()
                .and_then(|s| s.as_str())
                .map(str::to_string),
        };
        out.push(res);
    }
    let mut inline = Vec::new();
    for r in &out {
        inline.extend(inline_children(r));
    }
    // A child declared on its own replaces the same child declared inline.
    let declared: HashSet<String> = out
        .iter()
        .filter_map(|r| r.id.as_deref().map(str::to_ascii_lowercase))
        .collect();
    out.extend(inline.into_iter().filter(|c| {
        c.id.as_deref()
            .is_none_or(|id| !declared.contains(&id.to_ascii_lowercase()))
    }));
    Model::new(out, x.documents.clone())
}

fn prov_of(p: &amlguard_arm::Prov) -> Prov {
    Prov {
        document: p.document().into(),
        route: p.route().clone(),
    }
}

/// Converts an evaluated value into a model tree.
pub fn tree(v: &Value) -> Tree {
    let prov = v.prov.as_ref().map(prov_of);
    let kind = match &v.kind {
        Kind::Null => TreeKind::Null,
        Kind::Bool(b) => TreeKind::Bool(*b),
        Kind::Int(i) => TreeKind::Int(*i),
        Kind::Float(f) => TreeKind::Float(*f),
        Kind::String(s) => TreeKind::String(s.to_string()),
        Kind::Array(a) => TreeKind::Array(a.iter().map(tree).collect()),
        Kind::Object(o) => {
            TreeKind::Object(o.iter().map(|(k, c)| (k.to_string(), tree(c))).collect())
        }
        Kind::Unknown(u) => TreeKind::Unknown(UnknownValue {
            reason: u.reason.clone(),
            input: u.input.clone(),
            secret: u.secret,
        }),
        Kind::Lambda(_) => TreeKind::Unknown(UnknownValue {
            reason: "a lambda is not a value".into(),
            input: None,
            secret: false,
        }),
    };
    Tree::new(kind, prov)
}

/// Children declared inside a parent's properties.
fn inline_children(parent: &Resource) -> Vec<Resource> {
    let (array, child_type) = match parent.kind {
        ResourceKind::VirtualNetwork => ("properties.subnets", "subnets"),
        ResourceKind::NetworkSecurityGroup => ("properties.securityRules", "securityRules"),
        ResourceKind::RouteTable => ("properties.routes", "routes"),
        ResourceKind::ServiceEndpointPolicy => (
            "properties.serviceEndpointPolicyDefinitions",
            "serviceEndpointPolicyDefinitions",
        ),
        _ => return Vec::new(),
    };
    let Some(items) = parent.get(array).known().and_then(Tree::as_array) else {
        return Vec::new();
    };
    let arm_type = format!("{}/{}", parent.arm_type, child_type);
    items
        .iter()
        .map(|item| {
            let child_name = item
                .member("name")
                .and_then(Tree::as_str)
                .map(str::to_string);
            let name = match (&parent.name, &child_name) {
                (Some(p), Some(c)) => Some(format!("{p}/{c}")),
                _ => None,
            };
            let id = match (&parent.id, &child_name) {
                (Some(p), Some(c)) => Some(format!("{p}/{child_type}/{c}")),
                _ => None,
            };
            Resource {
                kind: ResourceKind::from_arm_type(&arm_type),
                arm_type: arm_type.clone(),
                name,
                id,
                api_version: parent.api_version.clone(),
                condition: parent.condition,
                existing: parent.existing,
                body: item.clone(),
                prov: item.prov.clone().unwrap_or_else(|| parent.prov.clone()),
                scope: None,
            }
        })
        .collect()
}
