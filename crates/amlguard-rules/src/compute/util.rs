//! Helpers shared by the compute rules.

use amlguard_model::{Field, Model, Prov, Resource, ResourceKind, Tree};

use crate::workspace::util::{Tri, bool_of, input_of, managed_network, non_blank, str_in};
use crate::{Confidence, Finding};

/// The kinds of compute the rules tell apart (`properties.computeType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Type {
    /// `AmlCompute`: a compute cluster.
    Cluster,
    /// `ComputeInstance`.
    Instance,
    /// `VirtualMachine` or `HDInsight`: attached compute reached over SSH.
    Attached,
    /// Anything else (AKS, Kubernetes, Databricks, …).
    Other,
}

impl Type {
    /// How the rules name it in messages.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Type::Cluster => "compute cluster",
            Type::Instance => "compute instance",
            Type::Attached => "attached compute",
            Type::Other => "compute",
        }
    }
}

/// A deployed compute, its type, and — when the type is not known offline — the
/// input that decides it (findings are then of low confidence).
pub(crate) struct Compute<'a> {
    pub r: &'a Resource,
    /// `None`: the type is not known offline; every type-specific check applies.
    pub ty: Option<Type>,
    pub type_input: Option<String>,
}

impl Compute<'_> {
    /// Whether a check for `wanted` applies: `Yes`, `No`, or `Maybe` (unknown type).
    pub(crate) fn is(&self, wanted: &[Type]) -> Tri {
        match self.ty {
            Some(t) if wanted.contains(&t) => Tri::Yes,
            Some(_) => Tri::No,
            None => Tri::Maybe(self.type_input.clone()),
        }
    }
    /// A label for messages.
    pub(crate) fn label(&self) -> &'static str {
        self.ty.map_or("compute", Type::label)
    }
    pub(crate) fn name(&self) -> String {
        self.r.display_name()
    }
}

/// Every deployed compute of the model with its type.
pub(crate) fn computes(m: &Model) -> impl Iterator<Item = Compute<'_>> {
    m.of_kind(ResourceKind::Compute).map(|r| {
        let f = r.get("properties.computeType");
        let (ty, type_input) = match &f {
            Field::Known(t) if !t.contains_unknown() => {
                let ty = if str_in(t, &["AmlCompute"]) {
                    Type::Cluster
                } else if str_in(t, &["ComputeInstance"]) {
                    Type::Instance
                } else if str_in(t, &["VirtualMachine", "HDInsight"]) {
                    Type::Attached
                } else {
                    Type::Other
                };
                (Some(ty), None)
            }
            Field::Absent { .. } => (Some(Type::Other), None),
            _ => (None, input_of(&f)),
        };
        Compute { r, ty, type_input }
    })
}

/// Lowers findings pushed since `from` to low confidence when the compute's type is
/// not known offline, naming the input that decides the type.
pub(crate) fn type_unknown(out: &mut [Finding], from: usize, c: &Compute<'_>) {
    if c.ty.is_some() {
        return;
    }
    for f in out.iter_mut().skip(from) {
        f.confidence = Confidence::Low;
        if f.deciding_input.is_none() {
            f.deciding_input = c.type_input.clone();
        }
        if !f.message.starts_with("possibly: ") {
            f.message = format!(
                "possibly: {} (the compute type is not known offline)",
                f.message
            );
        }
    }
}

/// The workspace a compute belongs to (by the compute's ID, else by the first
/// segment of its name), `existing` declarations included.
pub(crate) fn parent_workspace<'a>(m: &'a Model, c: &Resource) -> Option<&'a Resource> {
    if let Some(ws) = c.parent_id().and_then(|id| m.get(&id)) {
        return Some(ws);
    }
    let ws_name = c.name.as_deref()?.split('/').next()?;
    m.resources.iter().find(|r| {
        r.kind == ResourceKind::Workspace
            && r.condition != Some(false)
            && r.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(ws_name))
    })
}

/// Whether the compute's workspace has a managed network. A workspace that this
/// input does not deploy (missing, or declared `existing`) is a `Maybe`: its
/// settings are not known here.
pub(crate) fn parent_managed_network<'a>(
    m: &'a Model,
    c: &Resource,
) -> (Tri, Option<&'a Resource>) {
    let ws = parent_workspace(m, c);
    let name = ws.map(Resource::display_name).or_else(|| {
        c.name
            .as_deref()
            .and_then(|n| n.split('/').next())
            .map(str::to_string)
    });
    let outside = || {
        Tri::Maybe(Some(match &name {
            Some(n) => {
                format!("the managed network of workspace '{n}' (not deployed by this input)")
            }
            None => "the managed network of the compute's workspace".to_string(),
        }))
    };
    // The compute's name is not known offline: which workspace it belongs to is not either.
    if ws.is_none() && c.name.is_none() {
        return (
            Tri::Maybe(input_of(&c.get("name")).or_else(|| {
                Some("the compute's workspace (its name is not known offline)".to_string())
            })),
            None,
        );
    }
    match ws {
        Some(w) if w.deployed() => {
            let (t, _) = managed_network(w);
            (t, Some(w))
        }
        Some(w) => (outside(), Some(w)),
        None => (outside(), None),
    }
}

/// Whether a compute sits in a customer subnet (`properties.properties.subnet.id`
/// set and not blank), and the field read.
pub(crate) fn in_subnet(c: &Resource) -> (Tri, Field<'_>) {
    let f = c.get("properties.properties.subnet.id");
    let t = match &f {
        Field::Known(t) if t.contains_unknown() => Tri::Maybe(input_of(&f)),
        Field::Known(t) => {
            if non_blank(t).is_some() {
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

/// Whether the compute's nodes get public IPs (`enableNodePublicIp`, absent = true).
pub(crate) fn public_ip(c: &Resource) -> (Tri, Field<'_>) {
    let f = c.get("properties.properties.enableNodePublicIp");
    let t = match &f {
        Field::Known(t) if t.contains_unknown() => Tri::Maybe(input_of(&f)),
        Field::Known(t) => {
            if bool_of(t) == Some(false) {
                Tri::No
            } else {
                Tri::Yes
            }
        }
        Field::Absent { .. } => Tri::Yes,
        Field::Unknown { .. } => Tri::Maybe(input_of(&f)),
    };
    (t, f)
}

/// The subnet a compute names, as a related location: the subnet's declaration
/// when it is in the input, else the compute's `subnet.id`.
pub(crate) fn subnet_related(m: &Model, c: &Resource) -> Option<(Prov, String)> {
    let f = c.get("properties.properties.subnet.id");
    let id = f.str().and_then(|s| non_blank_str(s))?;
    match m.get(id) {
        Some(s) => Some((s.prov.clone(), format!("subnet '{}'", s.display_name()))),
        None => f
            .known()
            .and_then(|t: &Tree| t.prov.clone())
            .map(|p| (p, "the compute's subnet (not in this input)".to_string())),
    }
}

fn non_blank_str(s: &str) -> Option<&str> {
    let s = s.trim();
    (!s.is_empty()).then_some(s)
}

/// Fixtures for the compute rules' tests.
#[cfg(test)]
pub(crate) mod fixtures {
    /// A compute `ws/c1` of a type with inner properties.
    pub(crate) fn compute(ty: &str, props: &str) -> String {
        compute_with(ty, "", props)
    }

    /// A compute `ws/c1` with extra outer properties (`, "disableLocalAuth": true`).
    pub(crate) fn compute_with(ty: &str, outer: &str, props: &str) -> String {
        format!(
            r#"{{"type": "Microsoft.MachineLearningServices/workspaces/computes", "apiVersion": "2024-04-01", "name": "ws/c1", "location": "eastus", "properties": {{"computeType": "{ty}"{outer}, "properties": {props}}}}}"#
        )
    }

    /// The workspace `ws` with properties.
    pub(crate) fn workspace(props: &str) -> String {
        format!(
            r#"{{"type": "Microsoft.MachineLearningServices/workspaces", "apiVersion": "2024-04-01", "name": "ws", "location": "eastus", "properties": {props}}}"#
        )
    }

    /// A subnet reference to `vnet/train`.
    pub(crate) const SUBNET: &str = r#""subnet": {"id": "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', 'train')]"}"#;

    /// The VNet `vnet` with the subnet `train`.
    pub(crate) const VNET: &str = r#"{"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2023-04-01", "name": "vnet", "location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "subnets": [{"name": "train", "properties": {"addressPrefix": "10.0.1.0/24"}}]}}"#;
}
