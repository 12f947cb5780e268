//! The model: the resources of a deployment, normalised, whatever the input
//! format (ARM, Terraform, live state). Rules and the network engine read only
//! this.
//!
//! Property trees keep ARM's property names (`properties.publicNetworkAccess`);
//! ingest maps other formats onto them. Reading a property gives a [`Field`]:
//! `Known` (with the place it was written), `Absent` (Azure's default applies;
//! the place is the nearest parent that is written), or `Unknown` (cannot be
//! known offline; with the reason and the input that would decide it).

use std::collections::HashMap;
use std::sync::Arc;

use amlguard_source::Route;

mod kind;
mod value;

pub use kind::ResourceKind;
pub use value::{Field, Prov, Tree, TreeKind, UnknownValue};

/// A resource of the deployment.
#[derive(Clone, Debug)]
pub struct Resource {
    pub kind: ResourceKind,
    /// The full ARM type, e.g. `Microsoft.MachineLearningServices/workspaces/computes`.
    pub arm_type: String,
    /// The full name, e.g. `ws/cpu-cluster`; `None` when not known offline.
    pub name: Option<String>,
    /// The resource ID; `None` when not known offline.
    pub id: Option<String>,
    pub api_version: Option<String>,
    /// `Some(false)`: declared with a condition that is false (not deployed).
    /// `None`: the condition is not known offline.
    pub condition: Option<bool>,
    /// Declared as `existing` (referenced, not deployed by this input).
    pub existing: bool,
    /// The whole resource body (`properties`, `sku`, `kind`, `identity`, `location`, …).
    pub body: Tree,
    /// Where the resource is declared.
    pub prov: Prov,
    /// For extension resources: the resource ID they apply to.
    pub scope: Option<String>,
}

impl Resource {
    /// Reads a property by a dotted path: `properties.publicNetworkAccess`.
    pub fn get(&self, path: &str) -> Field<'_> {
        self.body.get_path(path, &self.prov)
    }
    /// A display name: the name, or the type with "(name unknown)".
    pub fn display_name(&self) -> String {
        match &self.name {
            Some(n) => n.clone(),
            None => format!("{} (name not known offline)", self.arm_type),
        }
    }
    /// The last segment of the name (a compute's own name without the workspace).
    pub fn short_name(&self) -> Option<&str> {
        self.name.as_deref().and_then(|n| n.rsplit('/').next())
    }
    /// The ID of the parent resource, for child resources (`…/workspaces/ws/computes/c` → `…/workspaces/ws`).
    pub fn parent_id(&self) -> Option<String> {
        let id = self.id.as_deref()?;
        let (head, _) = id.rsplit_once('/')?;
        let (parent, _) = head.rsplit_once('/')?;
        if parent.to_ascii_lowercase().ends_with("/providers") {
            return None;
        }
        Some(parent.to_string())
    }
    /// Deployed (condition not false and not `existing`).
    pub fn deployed(&self) -> bool {
        self.condition != Some(false) && !self.existing
    }
}

/// A document the model was read from (for locations).
pub type Documents = Vec<Arc<amlguard_source::Document>>;

/// The resources of one deployment.
#[derive(Clone, Debug, Default)]
pub struct Model {
    pub resources: Vec<Resource>,
    pub documents: Documents,
    by_id: HashMap<String, usize>,
    /// Lower-case parent ID → the resources declared under it, in order
    /// (so finding children does not scan every resource).
    by_parent: HashMap<String, Vec<usize>>,
}

impl Model {
    pub fn new(resources: Vec<Resource>, documents: Documents) -> Model {
        let mut by_id = HashMap::new();
        let mut by_parent: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, r) in resources.iter().enumerate() {
            if let Some(id) = &r.id {
                // The first declaration wins; a later duplicate is usually a condition variant.
                by_id.entry(id.to_ascii_lowercase()).or_insert(i);
            }
            if let Some(p) = r.parent_id() {
                by_parent.entry(p.to_ascii_lowercase()).or_default().push(i);
            }
        }
        Model {
            resources,
            documents,
            by_id,
            by_parent,
        }
    }

    /// Every resource whose parent is `parent_id` (compared
    /// case-insensitively), deployed or not, in declaration order.
    pub fn under(&self, parent_id: &str) -> impl Iterator<Item = &Resource> {
        self.by_parent
            .get(&parent_id.to_ascii_lowercase())
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .filter_map(|i| self.resources.get(*i))
    }

    /// Resources of a kind that are deployed (condition not false, not `existing`).
    pub fn of_kind(&self, kind: ResourceKind) -> impl Iterator<Item = &Resource> {
        self.resources
            .iter()
            .filter(move |r| r.kind == kind && r.deployed())
    }

    /// A resource by ID, compared case-insensitively as ARM does.
    pub fn get(&self, id: &str) -> Option<&Resource> {
        self.by_id
            .get(&id.to_ascii_lowercase())
            .and_then(|i| self.resources.get(*i))
    }

    /// Deployed children of a resource, of a kind.
    pub fn children<'a>(
        &'a self,
        parent: &'a Resource,
        kind: ResourceKind,
    ) -> impl Iterator<Item = &'a Resource> {
        parent
            .id
            .as_deref()
            .into_iter()
            .flat_map(|pid| self.under(pid))
            .filter(move |c| c.kind == kind && c.deployed())
    }

    /// Deployed extension resources of a kind whose `scope` is this resource.
    pub fn extensions<'a>(
        &'a self,
        target: &'a Resource,
        kind: ResourceKind,
    ) -> impl Iterator<Item = &'a Resource> {
        let tid = target.id.as_deref().map(str::to_ascii_lowercase);
        self.of_kind(kind).filter(move |e| {
            tid.is_some() && e.scope.as_deref().map(str::to_ascii_lowercase) == tid
        })
    }

    /// The document a provenance points into.
    pub fn document(&self, path: &str) -> Option<&Arc<amlguard_source::Document>> {
        self.documents.iter().find(|d| d.path == path)
    }

    /// `file:line:col` of a provenance.
    pub fn locate(&self, prov: &Prov) -> String {
        match self.document(&prov.document) {
            Some(d) => {
                let l = d.locate(&prov.route);
                format!("{}:{}:{}", d.path, l.position.line, l.position.column)
            }
            None => prov.document.to_string(),
        }
    }
}

/// Provenance helper for tests and ingest.
pub fn prov(document: &str, route: Route) -> Prov {
    Prov {
        document: document.into(),
        route,
    }
}
