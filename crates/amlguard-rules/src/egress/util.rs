//! Helpers shared by the egress (3xx) and dependency (4xx) rules: which subnets
//! the workspace's compute runs in, the service endpoint policies attached to
//! them, private endpoints to a resource, the managed-network mode, and what
//! the deployment owns.

use std::collections::BTreeSet;

use amlguard_model::{Field, Model, Prov, Resource, ResourceKind, Tree, TreeKind};

use crate::{Confidence, Finding, RuleMeta};

/// Compares two resource IDs as ARM does (case-insensitively).
pub(crate) fn ids_eq(a: &str, b: &str) -> bool {
    a.trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim_end_matches('/'))
}

/// The last segment of a resource ID (its own name).
pub(crate) fn id_name(id: &str) -> &str {
    id.trim_end_matches('/').rsplit('/').next().unwrap_or(id)
}

/// A deployed resource of a kind with this ID.
pub(crate) fn deployed<'a>(m: &'a Model, kind: ResourceKind, id: &str) -> Option<&'a Resource> {
    m.of_kind(kind)
        .find(|r| r.id.as_deref().is_some_and(|rid| ids_eq(rid, id)))
}

/// The deployed workspace a child resource (compute, datastore, …) belongs to.
pub(crate) fn workspace_of<'a>(m: &'a Model, child: &Resource) -> Option<&'a Resource> {
    let pid = child.parent_id()?;
    deployed(m, ResourceKind::Workspace, &pid)
}

/// The input that decides a field that is unknown or holds an unknown value.
pub(crate) fn deciding_input(f: &Field<'_>) -> Option<String> {
    match f {
        Field::Unknown { value, .. } => value.input.clone(),
        Field::Known(t) => t.first_unknown().and_then(|u| u.input.clone()),
        Field::Absent { .. } => None,
    }
}

/// True when the field is unknown or holds an unknown value.
pub(crate) fn is_unknown(f: &Field<'_>) -> bool {
    match f {
        Field::Unknown { .. } => true,
        Field::Known(t) => t.contains_unknown(),
        Field::Absent { .. } => false,
    }
}

/// A finding that could not be decided offline: confidence low, message
/// prefixed with "possibly", naming the input that decides it.
pub(crate) fn undecided(
    rule: &'static RuleMeta,
    r: &Resource,
    at: &Field<'_>,
    message: &str,
    fix: &str,
    input: Option<String>,
) -> Finding {
    let decide = match &input {
        Some(i) => format!("set {i} to decide"),
        None => "the value is not known offline".to_string(),
    };
    let mut f = Finding::new(rule, r, format!("possibly: {message} ({decide})"))
        .at_field(at)
        .with_fix(fix);
    f.confidence = Confidence::Low;
    f.deciding_input = input;
    f
}

/// The strings of an array field: `Ok(items)` when every item is a known
/// string (absent gives an empty list), `Err(input)` when some part is unknown.
pub(crate) fn strings<'a>(f: &Field<'a>) -> Result<Vec<(&'a str, &'a Tree)>, Option<String>> {
    match f {
        Field::Absent { .. } => Ok(Vec::new()),
        Field::Unknown { value, .. } => Err(value.input.clone()),
        Field::Known(t) => {
            if t.contains_unknown() {
                return Err(t.first_unknown().and_then(|u| u.input.clone()));
            }
            let items = match t.as_array() {
                Some(a) => a
                    .iter()
                    .filter_map(|i| i.as_str().map(|s| (s, i)))
                    .collect(),
                // A single string where an array is expected: read it as one item.
                None => t.as_str().map(|s| vec![(s, *t)]).unwrap_or_default(),
            };
            Ok(items)
        }
    }
}

// ---------------------------------------------------------------------------
// Compute subnets

/// A resource that places compute in a subnet.
#[derive(Clone, Debug)]
pub(crate) struct SubnetUser<'a> {
    /// The compute, or the workspace for serverless compute.
    pub resource: &'a Resource,
    /// The field holding the subnet ID.
    pub field: Field<'a>,
    /// The workspace the compute belongs to (when deployed by this input).
    pub workspace: Option<&'a Resource>,
    /// "compute 'x'" or "serverless compute of workspace 'w'".
    pub label: String,
}

impl SubnetUser<'_> {
    /// Where the subnet is referenced.
    pub fn at(&self) -> Prov {
        self.field
            .at()
            .cloned()
            .unwrap_or_else(|| self.resource.prov.clone())
    }
}

/// How a compute subnet reference resolves.
#[derive(Clone, Debug)]
pub(crate) enum SubnetRef<'a> {
    /// A subnet declared (and deployed) in the input.
    Declared(&'a Resource),
    /// The subnet ID is not known offline.
    Unknown,
    /// A known ID of a subnet that this input does not deploy.
    Outside(String),
}

/// A subnet that some compute runs in, with everything that uses it.
#[derive(Clone, Debug)]
pub(crate) struct ComputeSubnet<'a> {
    pub subnet: SubnetRef<'a>,
    /// Never empty.
    pub users: Vec<SubnetUser<'a>>,
}

impl<'a> ComputeSubnet<'a> {
    /// The first user (the one a finding about an undecidable subnet is located at).
    pub fn first(&self) -> Option<&SubnetUser<'a>> {
        self.users.first()
    }
    /// Adds "compute X runs in this subnet" related locations.
    pub fn relate(&self, mut f: Finding) -> Finding {
        for u in &self.users {
            f = f.related(u.at(), format!("{} runs in this subnet", u.label));
        }
        f
    }
    /// Names of the users, for messages.
    pub fn user_labels(&self) -> String {
        let v: Vec<&str> = self.users.iter().map(|u| u.label.as_str()).collect();
        v.join(", ")
    }
    /// The deployed workspaces whose compute runs here.
    pub fn workspaces(&self) -> Vec<&'a Resource> {
        let mut out: Vec<&'a Resource> = Vec::new();
        for u in &self.users {
            if let Some(w) = u.workspace
                && !out.iter().any(|o| std::ptr::eq(*o, w))
            {
                out.push(w);
            }
        }
        out
    }
    /// A finding for a subnet that cannot be inspected (ID unknown, or not in
    /// the input), located at the reference. `what` names the property.
    pub fn undecided(&self, rule: &'static RuleMeta, what: &str, fix: &str) -> Option<Finding> {
        let u = self.first()?;
        let (message, input) = match &self.subnet {
            SubnetRef::Declared(_) => return None,
            SubnetRef::Unknown => (
                format!(
                    "the subnet of {} is not known offline, so its {what} cannot be checked",
                    u.label
                ),
                deciding_input(&u.field),
            ),
            SubnetRef::Outside(id) => (
                format!(
                    "{} runs in subnet '{}', which the scanned input does not declare, so its {what} cannot be checked",
                    u.label,
                    short_subnet(id)
                ),
                Some(format!(
                    "the subnet '{}' (scan the template that deploys it)",
                    short_subnet(id)
                )),
            ),
        };
        let f = undecided(rule, u.resource, &u.field, &message, fix, input);
        Some(self.relate_others(f))
    }
    fn relate_others(&self, mut f: Finding) -> Finding {
        for u in self.users.iter().skip(1) {
            f = f.related(u.at(), format!("{} also uses this subnet", u.label));
        }
        f
    }
}

/// `vnet/subnet` from a subnet ID.
pub(crate) fn short_subnet(id: &str) -> String {
    let parts: Vec<&str> = id.trim_end_matches('/').rsplit('/').collect();
    match (parts.first(), parts.get(2)) {
        (Some(s), Some(v)) => format!("{v}/{s}"),
        (Some(s), None) => (*s).to_string(),
        _ => id.to_string(),
    }
}

/// Every subnet that deployed compute runs in: `properties.properties.subnet.id`
/// of each compute, and each workspace's
/// `properties.serverlessComputeSettings.serverlessComputeCustomSubnet`.
/// Subnets are grouped by ID (case-insensitively); a reference whose ID is not
/// known offline is a group of its own.
pub(crate) fn compute_subnets(m: &Model) -> Vec<ComputeSubnet<'_>> {
    let mut users: Vec<SubnetUser<'_>> = Vec::new();
    for c in m.of_kind(ResourceKind::Compute) {
        let field = c.get("properties.properties.subnet.id");
        users.push(SubnetUser {
            resource: c,
            field,
            workspace: workspace_of(m, c),
            label: format!(
                "compute '{}'",
                c.short_name().unwrap_or("(name not known offline)")
            ),
        });
    }
    for ws in m.of_kind(ResourceKind::Workspace) {
        let field = ws.get("properties.serverlessComputeSettings.serverlessComputeCustomSubnet");
        users.push(SubnetUser {
            resource: ws,
            field,
            workspace: Some(ws),
            label: format!("serverless compute of workspace '{}'", ws.display_name()),
        });
    }
    let mut out: Vec<ComputeSubnet<'_>> = Vec::new();
    for u in users {
        let subnet = match &u.field {
            Field::Absent { .. } => continue,
            Field::Known(t) => match t.as_str() {
                Some(id) if !id.trim().is_empty() => match deployed(m, ResourceKind::Subnet, id) {
                    Some(s) => SubnetRef::Declared(s),
                    None => SubnetRef::Outside(id.to_string()),
                },
                _ => continue,
            },
            Field::Unknown { .. } => SubnetRef::Unknown,
        };
        let key = match &subnet {
            SubnetRef::Declared(s) => s.id.as_deref().map(str::to_ascii_lowercase),
            SubnetRef::Outside(id) => Some(id.to_ascii_lowercase()),
            SubnetRef::Unknown => None,
        };
        let existing = key.as_ref().and_then(|k| {
            out.iter_mut().find(|g| match &g.subnet {
                SubnetRef::Declared(s) => {
                    s.id.as_deref().map(str::to_ascii_lowercase).as_ref() == Some(k)
                }
                SubnetRef::Outside(id) => &id.to_ascii_lowercase() == k,
                SubnetRef::Unknown => false,
            })
        });
        match existing {
            Some(g) => g.users.push(u),
            None => out.push(ComputeSubnet {
                subnet,
                users: vec![u],
            }),
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Service endpoints and policies

/// Service endpoint names that carry storage traffic.
pub(crate) const STORAGE_ENDPOINTS: &[&str] = &["Microsoft.Storage", "Microsoft.Storage.Global"];

/// Whether a subnet has a storage service endpoint: `Ok(Some(field))` with the
/// entry, `Ok(None)` when it has none, `Err(input)` when unknown.
pub(crate) fn storage_endpoint<'a>(
    subnet: &'a Resource,
) -> Result<Option<Field<'a>>, Option<String>> {
    let f = subnet.get("properties.serviceEndpoints");
    match &f {
        Field::Absent { .. } => Ok(None),
        Field::Unknown { value, .. } => Err(value.input.clone()),
        Field::Known(t) => {
            let Some(items) = t.as_array() else {
                return Ok(None);
            };
            let mut unknown = None;
            for i in 0..items.len() {
                let s = subnet.get(&format!("properties.serviceEndpoints.{i}.service"));
                match s.str_is(STORAGE_ENDPOINTS) {
                    Some(true) => return Ok(Some(s)),
                    Some(false) => {}
                    None => unknown = Some(deciding_input(&s)),
                }
            }
            match unknown {
                Some(input) => Err(input),
                None => Ok(None),
            }
        }
    }
}

/// A service endpoint policy attached to a subnet.
#[derive(Clone, Debug)]
pub(crate) enum AttachedPolicy<'a> {
    /// Declared in the input.
    Declared(&'a Resource, Field<'a>),
    /// Known ID, not deployed by this input.
    Outside(String, Field<'a>),
    /// ID not known offline.
    Unknown(Field<'a>),
}

/// The policies of a subnet's `properties.serviceEndpointPolicies[*].id`, or
/// `Err(field)` when the list itself is unknown.
pub(crate) fn attached_policies<'a>(
    m: &'a Model,
    subnet: &'a Resource,
) -> Result<Vec<AttachedPolicy<'a>>, Field<'a>> {
    let list = subnet.get("properties.serviceEndpointPolicies");
    let n = match &list {
        Field::Absent { .. } => return Ok(Vec::new()),
        Field::Unknown { .. } => return Err(list),
        Field::Known(t) => match t.as_array() {
            Some(a) => a.len(),
            None => return Ok(Vec::new()),
        },
    };
    let mut out = Vec::new();
    for i in 0..n {
        let f = subnet.get(&format!("properties.serviceEndpointPolicies.{i}.id"));
        match &f {
            Field::Known(t) => {
                if let Some(id) = t.as_str() {
                    match deployed(m, ResourceKind::ServiceEndpointPolicy, id) {
                        Some(p) => out.push(AttachedPolicy::Declared(p, f.clone())),
                        None => out.push(AttachedPolicy::Outside(id.to_string(), f.clone())),
                    }
                }
            }
            Field::Unknown { .. } => out.push(AttachedPolicy::Unknown(f.clone())),
            Field::Absent { .. } => {}
        }
    }
    Ok(out)
}

/// The deployed definitions of a service endpoint policy (inline or separate).
pub(crate) fn policy_definitions<'a>(m: &'a Model, policy: &'a Resource) -> Vec<&'a Resource> {
    m.children(policy, ResourceKind::ServiceEndpointPolicyDefinition)
        .collect()
}

/// One entry of a policy definition's `serviceResources`.
#[derive(Clone, Debug)]
pub(crate) struct PolicyEntry<'a> {
    pub value: &'a str,
    /// The definition's `service`, when known.
    pub service: Option<&'a str>,
}

/// The entries a policy allows, over all its definitions (inline or separate);
/// `Err(input)` when some of them are not known offline.
pub(crate) fn policy_entries<'a>(
    m: &'a Model,
    policy: &'a Resource,
) -> Result<Vec<PolicyEntry<'a>>, Option<String>> {
    let mut out = Vec::new();
    let mut unknown: Option<Option<String>> = None;
    let inline = policy.get("properties.serviceEndpointPolicyDefinitions");
    match &inline {
        Field::Unknown { value, .. } => return Err(value.input.clone()),
        Field::Known(t) => {
            // Inline definitions without a (known) name do not become
            // resources of their own: read them here.
            for item in t.as_array().unwrap_or_default() {
                match item.member("name").map(|n| &n.kind) {
                    Some(TreeKind::String(_)) => {}
                    Some(TreeKind::Unknown(u)) => unknown = Some(u.input.clone()),
                    _ => {
                        let service = item
                            .member("properties")
                            .and_then(|p| p.member("service"))
                            .and_then(Tree::as_str);
                        let res = item
                            .member("properties")
                            .and_then(|p| p.member("serviceResources"));
                        if let Some(res) = res {
                            if res.contains_unknown() {
                                unknown = Some(res.first_unknown().and_then(|u| u.input.clone()));
                            }
                            for e in res.as_array().unwrap_or_default() {
                                if let Some(v) = e.as_str() {
                                    out.push(PolicyEntry { value: v, service });
                                }
                            }
                        }
                    }
                }
            }
        }
        Field::Absent { .. } => {}
    }
    for d in policy_definitions(m, policy) {
        let service = d.get("properties.service");
        let resources = d.get("properties.serviceResources");
        match strings(&resources) {
            Ok(items) => {
                for (v, _) in items {
                    out.push(PolicyEntry {
                        value: v,
                        service: service.str(),
                    });
                }
            }
            Err(input) => unknown = Some(input),
        }
    }
    match unknown {
        Some(input) => Err(input),
        None => Ok(out),
    }
}

pub(crate) use amlguard_net::policy::{EntryScope, entry_covers, entry_scope, is_aml_alias};

// ---------------------------------------------------------------------------
// Private endpoints

/// Result of looking for a private endpoint to a resource.
#[derive(Clone, Debug)]
pub(crate) enum PeLookup {
    /// A deployed private endpoint targets it (with a matching group, when asked).
    Found,
    /// None is known to, but some private endpoint's target or groups are not
    /// known offline (the input that decides it).
    Unknown(Option<String>),
    /// No private endpoint targets it.
    None,
}

/// Looks for a deployed private endpoint whose connections (automatic or
/// manual) target `target_id`, with one of `groups` (any group when empty).
pub(crate) fn private_endpoint_to(m: &Model, target_id: &str, groups: &[&str]) -> PeLookup {
    let mut unknown: Option<Option<String>> = None;
    for pe in m.of_kind(ResourceKind::PrivateEndpoint) {
        for list in [
            "properties.privateLinkServiceConnections",
            "properties.manualPrivateLinkServiceConnections",
        ] {
            let lf = pe.get(list);
            let n = match &lf {
                Field::Known(t) => t.as_array().map_or(0, <[Tree]>::len),
                Field::Unknown { value, .. } => {
                    unknown.get_or_insert(value.input.clone());
                    0
                }
                Field::Absent { .. } => 0,
            };
            for i in 0..n {
                let target = pe.get(&format!("{list}.{i}.properties.privateLinkServiceId"));
                let hit = match &target {
                    Field::Known(t) => t.as_str().is_some_and(|s| ids_eq(s, target_id)),
                    Field::Unknown { value, .. } => {
                        unknown.get_or_insert(value.input.clone());
                        false
                    }
                    Field::Absent { .. } => false,
                };
                if !hit {
                    continue;
                }
                if groups.is_empty() {
                    return PeLookup::Found;
                }
                let g = pe.get(&format!("{list}.{i}.properties.groupIds"));
                match strings(&g) {
                    Ok(items) => {
                        if items
                            .iter()
                            .any(|(s, _)| groups.iter().any(|w| w.eq_ignore_ascii_case(s)))
                        {
                            return PeLookup::Found;
                        }
                    }
                    Err(input) => {
                        unknown.get_or_insert(input);
                    }
                }
            }
        }
    }
    match unknown {
        Some(input) => PeLookup::Unknown(input),
        None => PeLookup::None,
    }
}

// ---------------------------------------------------------------------------
// Managed network

/// A workspace's managed-network isolation mode.
#[derive(Clone, Debug)]
pub(crate) enum ManagedMode<'a> {
    /// Absent or `Disabled`: no managed network.
    Off,
    AllowInternetOutbound,
    AllowOnlyApprovedOutbound,
    /// Not known offline.
    Unknown(Field<'a>),
}

impl ManagedMode<'_> {
    /// True when a managed network is known to be on.
    pub fn is_on(&self) -> bool {
        matches!(
            self,
            ManagedMode::AllowInternetOutbound | ManagedMode::AllowOnlyApprovedOutbound
        )
    }
}

/// Reads `properties.managedNetwork.isolationMode` (absent means `Disabled`).
pub(crate) fn managed_mode(ws: &Resource) -> ManagedMode<'_> {
    let f = ws.get("properties.managedNetwork.isolationMode");
    if is_unknown(&f) {
        return ManagedMode::Unknown(f);
    }
    match f.str() {
        Some(s) if s.eq_ignore_ascii_case("AllowInternetOutbound") => {
            ManagedMode::AllowInternetOutbound
        }
        Some(s) if s.eq_ignore_ascii_case("AllowOnlyApprovedOutbound") => {
            ManagedMode::AllowOnlyApprovedOutbound
        }
        _ => ManagedMode::Off,
    }
}

// ---------------------------------------------------------------------------
// What the deployment owns

/// Resources and names that belong to the deployment: everything the input
/// declares (deployed or `existing`), plus the resources the workspaces link
/// to by ID (default storage, Key Vault, registry, Application Insights), which
/// may live outside the input.
#[derive(Clone, Debug, Default)]
pub(crate) struct Owned {
    ids: BTreeSet<String>,
    storage: BTreeSet<String>,
    registries: BTreeSet<String>,
    vaults: BTreeSet<String>,
}

impl Owned {
    pub fn of(m: &Model) -> Owned {
        let mut o = Owned::default();
        for r in &m.resources {
            if r.condition == Some(false) {
                continue;
            }
            if let Some(id) = &r.id {
                o.ids.insert(id.to_ascii_lowercase());
            }
            let name = r.short_name().map(str::to_ascii_lowercase);
            if let Some(n) = name {
                match r.kind {
                    ResourceKind::StorageAccount => {
                        o.storage.insert(n);
                    }
                    ResourceKind::ContainerRegistry => {
                        o.registries.insert(n);
                    }
                    ResourceKind::KeyVault => {
                        o.vaults.insert(n);
                    }
                    _ => {}
                }
            }
        }
        for ws in m.of_kind(ResourceKind::Workspace) {
            for (prop, kind) in [
                ("properties.storageAccount", 's'),
                ("properties.containerRegistry", 'r'),
                ("properties.keyVault", 'v'),
                ("properties.applicationInsights", 'a'),
            ] {
                if let Some(id) = ws.get(prop).str() {
                    o.ids.insert(id.to_ascii_lowercase());
                    let n = id_name(id).to_ascii_lowercase();
                    match kind {
                        's' => {
                            o.storage.insert(n);
                        }
                        'r' => {
                            o.registries.insert(n);
                        }
                        'v' => {
                            o.vaults.insert(n);
                        }
                        _ => {}
                    }
                }
            }
        }
        o
    }
    pub fn has_id(&self, id: &str) -> bool {
        self.ids
            .contains(&id.trim_end_matches('/').to_ascii_lowercase())
    }
    pub fn has_storage(&self, name: &str) -> bool {
        self.storage.contains(&name.to_ascii_lowercase())
    }
    pub fn has_registry(&self, name: &str) -> bool {
        self.registries.contains(&name.to_ascii_lowercase())
    }
    pub fn has_vault(&self, name: &str) -> bool {
        self.vaults.contains(&name.to_ascii_lowercase())
    }
}

/// Storage endpoint suffixes per cloud (`<account>.<service>.<suffix>`).
const STORAGE_SUFFIXES: &[&str] = &[
    "core.windows.net",
    "core.chinacloudapi.cn",
    "core.usgovcloudapi.net",
];
const STORAGE_SERVICES: &[&str] = &["blob", "dfs", "file", "queue", "table", "web"];

/// The host of a URL or host string (`https://a.b/c` → `a.b`), lower-cased.
pub(crate) fn host_of(target: &str) -> String {
    let t = target.trim();
    let t = t.split_once("://").map_or(t, |(_, rest)| rest);
    let t = t.split(['/', '?', '#']).next().unwrap_or(t);
    let t = t.rsplit_once('@').map_or(t, |(_, h)| h);
    let t = t.split(':').next().unwrap_or(t);
    t.trim_end_matches('.').to_ascii_lowercase()
}

/// The storage account of a storage endpoint host
/// (`acct.blob.core.windows.net` → `acct`, also `acct-secondary` and
/// zone-prefixed static-website hosts `acct.z6.web.core.windows.net`).
pub(crate) fn storage_account_of_host(host: &str) -> Option<String> {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    for suffix in STORAGE_SUFFIXES {
        let Some(head) = h.strip_suffix(&format!(".{suffix}")) else {
            continue;
        };
        let labels: Vec<&str> = head.split('.').collect();
        let (Some(acct), Some(service)) = (labels.first(), labels.last()) else {
            continue;
        };
        if labels.len() >= 2 && STORAGE_SERVICES.contains(service) {
            return Some(acct.trim_end_matches("-secondary").to_string());
        }
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn entry_scopes() {
        assert_eq!(entry_scope("/subscriptions/x"), EntryScope::Subscription);
        assert_eq!(entry_scope("/subscriptions/x/"), EntryScope::Subscription);
        assert_eq!(
            entry_scope("/subscriptions/x/resourceGroups/rg"),
            EntryScope::ResourceGroup
        );
        assert_eq!(
            entry_scope(
                "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a"
            ),
            EntryScope::Account
        );
        assert_eq!(
            entry_scope("/services/Azure/MachineLearning"),
            EntryScope::Alias
        );
        assert_eq!(entry_scope("nonsense"), EntryScope::Other);
        assert!(entry_covers(
            "/subscriptions/X/resourceGroups/RG",
            "/subscriptions/x/resourcegroups/rg/providers/Microsoft.Storage/storageAccounts/a"
        ));
        assert!(!entry_covers(
            "/subscriptions/x/resourceGroups/rg",
            "/subscriptions/x/resourceGroups/rg2/providers/Microsoft.Storage/storageAccounts/a"
        ));
    }

    #[test]
    fn hosts_and_accounts() {
        assert_eq!(
            host_of("https://Acct.blob.core.windows.net:443/c?x"),
            "acct.blob.core.windows.net"
        );
        assert_eq!(
            storage_account_of_host("acct.blob.core.windows.net").as_deref(),
            Some("acct")
        );
        assert_eq!(
            storage_account_of_host("acct-secondary.dfs.core.windows.net").as_deref(),
            Some("acct")
        );
        assert_eq!(
            storage_account_of_host("acct.z6.web.core.windows.net").as_deref(),
            Some("acct")
        );
        assert_eq!(storage_account_of_host("x.vault.azure.net"), None);
        assert_eq!(
            short_subnet(
                "/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/virtualNetworks/v/subnets/a"
            ),
            "v/a"
        );
    }
}
