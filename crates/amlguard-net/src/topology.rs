//! The network of a deployment as the engine reads it: computes, the subnets
//! they run in, and what governs each subnet's traffic (NSG, route table, NAT
//! gateway, default outbound access, service endpoints and policies), the
//! firewalls that routes lead to, and the workspaces' managed networks.
//!
//! [`Estate`] is plain data, decoupled from the model, so that a proposed fix
//! can be applied to a copy and the engine run again to check it.

use std::collections::BTreeSet;

use amlguard_model::{Field, Model, Prov, Resource, ResourceKind, Tree, UnknownValue};

use crate::firewall::{Firewall, firewall_from_model};
use crate::nsg::{Rule, rules_from_model};
use crate::route::{RouteEntry, routes_from_model};
use crate::space::AddrSet;

/// A value read from the input: known, or not known offline (with why and
/// what decides it), and where it is written (or would be).
#[derive(Clone, Debug, PartialEq)]
pub struct Fact<T> {
    pub value: Result<T, UnknownValue>,
    pub at: Option<Prov>,
    /// Written in the input (false: Azure's default applies).
    pub written: bool,
}

impl<T> Fact<T> {
    pub fn known(value: T, at: Option<Prov>, written: bool) -> Fact<T> {
        Fact {
            value: Ok(value),
            at,
            written,
        }
    }
    pub fn unknown(u: UnknownValue, at: Option<Prov>) -> Fact<T> {
        Fact {
            value: Err(u),
            at,
            written: true,
        }
    }
    pub fn get(&self) -> Option<&T> {
        self.value.as_ref().ok()
    }
    /// The input that decides an unknown value.
    pub fn deciding_input(&self) -> Option<String> {
        match &self.value {
            Err(u) => Some(u.input.clone().unwrap_or_else(|| u.reason.clone())),
            Ok(_) => None,
        }
    }
}

/// A reference from one resource to another.
#[derive(Clone, Debug, PartialEq)]
pub enum Link {
    /// Nothing referenced.
    None,
    /// A resource of the estate (index into the matching list).
    Index(usize),
    /// A known ID the input does not declare.
    Outside(String),
    /// The ID is not known offline.
    Unknown(UnknownValue),
}

/// The kinds of compute the engine tells apart.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ComputeKind {
    Cluster,
    Instance,
    /// Serverless compute in the workspace's custom subnet.
    Serverless,
    /// Another or unknown `computeType` (the engine treats it as a cluster).
    Other(String),
}

impl ComputeKind {
    pub fn label(&self) -> &'static str {
        match self {
            ComputeKind::Cluster => "compute cluster",
            ComputeKind::Instance => "compute instance",
            ComputeKind::Serverless => "serverless compute",
            ComputeKind::Other(_) => "compute",
        }
    }
}

/// Where a compute's traffic starts.
#[derive(Clone, Debug, PartialEq)]
pub enum Placement {
    /// A subnet of the estate.
    Subnet(usize),
    /// A subnet the input names but does not declare.
    OutsideSubnet(String),
    /// The subnet ID is not known offline.
    UnknownSubnet(UnknownValue),
    /// No subnet; the workspace's managed network (index of the workspace).
    Managed(usize),
    /// No subnet and no managed network: Azure gives the compute open egress.
    Open,
    /// No subnet, and whether the workspace has a managed network is not known.
    UnknownManaged(usize),
    /// No subnet, and the workspace is not in the input (or only referenced
    /// as `existing`): its managed network is not known.
    WorkspaceOutside,
}

/// A compute whose egress is analysed.
#[derive(Clone, Debug)]
pub struct Compute {
    pub id: Option<String>,
    /// The compute's own name (`cpu-cluster`), or the workspace's for serverless.
    pub name: String,
    pub kind: ComputeKind,
    pub workspace: Option<usize>,
    pub placement: Placement,
    /// Whether the nodes have public IP addresses.
    pub public_ip: Fact<bool>,
    /// Where the subnet is referenced (or the compute, when it has none).
    pub placement_at: Prov,
    pub prov: Prov,
}

impl Compute {
    /// "compute cluster `cpu`" or "serverless compute of workspace `ws`".
    pub fn label(&self) -> String {
        match self.kind {
            ComputeKind::Serverless => format!("serverless compute of workspace `{}`", self.name),
            _ => format!("{} `{}`", self.kind.label(), self.name),
        }
    }
}

/// A storage service endpoint on a subnet.
#[derive(Clone, Debug, PartialEq)]
pub struct StorageEndpoint {
    /// `Microsoft.Storage.Global` (all regions) rather than `Microsoft.Storage`
    /// (the VNet's region and its pair).
    pub global: bool,
    pub at: Option<Prov>,
}

/// A subnet that compute runs in.
#[derive(Clone, Debug)]
pub struct Subnet {
    pub id: Option<String>,
    /// `vnet/subnet`.
    pub name: String,
    pub prov: Prov,
    /// The subnet's own prefixes.
    pub prefixes: Fact<AddrSet>,
    /// The VNet's address space.
    pub vnet_space: Fact<AddrSet>,
    /// Address spaces of peered VNets the input declares.
    pub peered: AddrSet,
    /// The VNet's region (lower-case, no spaces).
    pub region: Option<String>,
    pub nsg: Link,
    pub nsg_at: Option<Prov>,
    pub route_table: Link,
    pub route_table_at: Option<Prov>,
    /// A NAT gateway is attached.
    pub nat_gateway: Fact<bool>,
    /// Default outbound access (absent: API-version dependent).
    pub default_outbound: Fact<bool>,
    /// The storage service endpoint, if any.
    pub storage_endpoint: Fact<Option<StorageEndpoint>>,
    /// Attached service endpoint policies (`Link::Index` into `Estate::policies`).
    pub policies: Fact<Vec<Link>>,
}

/// A network security group.
#[derive(Clone, Debug)]
pub struct Nsg {
    pub id: Option<String>,
    pub name: String,
    pub prov: Prov,
    pub rules: Vec<Rule>,
}

/// A route table.
#[derive(Clone, Debug)]
pub struct RouteTable {
    pub id: Option<String>,
    pub name: String,
    pub prov: Prov,
    pub routes: Vec<RouteEntry>,
}

/// One entry of a service endpoint policy.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyEntry {
    pub value: String,
    pub at: Option<Prov>,
}

/// A service endpoint policy.
#[derive(Clone, Debug)]
pub struct Policy {
    pub id: Option<String>,
    pub name: String,
    pub prov: Prov,
    /// Every `serviceResources` entry over its definitions.
    pub entries: Fact<Vec<PolicyEntry>>,
}

/// A managed network's isolation mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManagedMode {
    Disabled,
    AllowInternetOutbound,
    AllowOnlyApprovedOutbound,
}

/// What a user-defined managed-network outbound rule allows.
#[derive(Clone, Debug, PartialEq)]
pub enum ManagedRuleKind {
    Fqdn(String),
    ServiceTag {
        tag: String,
        /// `Deny` rules (2026 API) remove rather than add.
        deny: bool,
    },
    PrivateEndpoint {
        resource: Option<String>,
    },
    /// The type or destination is not known offline.
    Unknown(UnknownValue),
}

/// A managed-network outbound rule.
#[derive(Clone, Debug, PartialEq)]
pub struct ManagedRule {
    pub name: String,
    /// `Required` rules are added by Azure and are not exfiltration paths.
    pub required: bool,
    pub kind: ManagedRuleKind,
    pub prov: Prov,
}

/// A workspace.
#[derive(Clone, Debug)]
pub struct Workspace {
    pub id: Option<String>,
    pub name: String,
    pub prov: Prov,
    pub region: String,
    pub managed: Fact<ManagedMode>,
    pub outbound_rules: Vec<ManagedRule>,
    pub default_storage: Option<String>,
    pub key_vault: Option<String>,
    pub registry: Option<String>,
    pub hbi: bool,
}

/// Everything the engine reads.
#[derive(Clone, Debug, Default)]
pub struct Estate {
    pub computes: Vec<Compute>,
    pub subnets: Vec<Subnet>,
    /// Shared, so that a copy of the estate (one per checked fix) copies
    /// only the NSG a fix changes (`Arc::make_mut`).
    pub nsgs: Vec<std::sync::Arc<Nsg>>,
    pub route_tables: Vec<RouteTable>,
    pub firewalls: Vec<Firewall>,
    pub policies: Vec<Policy>,
    pub workspaces: Vec<Workspace>,
    /// Lower-case IDs of every resource the input declares, and of the
    /// resources workspaces link to: destinations that belong to the team.
    pub owned: std::sync::Arc<BTreeSet<String>>,
}

// ---------------------------------------------------------------------------
// Reading the model.

fn unknown_of(f: &Field<'_>) -> Option<UnknownValue> {
    match f {
        Field::Unknown { value, .. } => Some((*value).clone()),
        Field::Known(t) => t.first_unknown().cloned(),
        Field::Absent { .. } => None,
    }
}

fn at_of(f: &Field<'_>) -> Option<Prov> {
    f.at().cloned()
}

/// A boolean with a default for absence.
fn bool_fact(f: &Field<'_>, default: bool) -> Fact<bool> {
    if let Some(u) = unknown_of(f) {
        return Fact::unknown(u, at_of(f));
    }
    match f {
        Field::Known(t) => {
            let v = match &t.kind {
                amlguard_model::TreeKind::Bool(b) => *b,
                amlguard_model::TreeKind::String(s) => !s.eq_ignore_ascii_case("false"),
                _ => default,
            };
            Fact::known(v, at_of(f), true)
        }
        _ => Fact::known(default, at_of(f), false),
    }
}

fn prefixes_fact(r: &Resource, single: &str, list: &str) -> Fact<AddrSet> {
    let mut set = AddrSet::empty();
    let mut at = None;
    let mut written = false;
    for path in [single, list] {
        let f = r.get(path);
        if let Some(u) = unknown_of(&f) {
            return Fact::unknown(u, at_of(&f));
        }
        if let Field::Known(t) = &f {
            written = true;
            at = at.or_else(|| t.prov.clone());
            let items: Vec<&Tree> = match t.as_array() {
                Some(a) => a.iter().collect(),
                None => vec![*t],
            };
            for item in items {
                if let Some(s) = item.as_str()
                    && let Ok(p) = AddrSet::parse(s)
                {
                    set = set.union(&p);
                }
            }
        }
    }
    Fact::known(set, at.or_else(|| Some(r.prov.clone())), written)
}

/// A reference resolved against the IDs of a list of the estate (case-insensitively).
fn link(f: &Field<'_>, list: &[Option<String>]) -> Link {
    if let Some(u) = unknown_of(f) {
        return Link::Unknown(u);
    }
    let Some(id) = f.str().map(str::trim).filter(|s| !s.is_empty()) else {
        return Link::None;
    };
    let lower = id.to_ascii_lowercase();
    if let Some(i) = list
        .iter()
        .position(|x| x.as_deref().map(str::to_ascii_lowercase).as_deref() == Some(&lower))
    {
        return Link::Index(i);
    }
    Link::Outside(id.to_string())
}

fn region_of(r: &Resource) -> Option<String> {
    r.get("location")
        .str()
        .map(|s| s.replace(' ', "").to_ascii_lowercase())
}

/// The first API version whose new subnets are private by default.
const PRIVATE_BY_DEFAULT: &str = "2025-07-01";

impl Estate {
    /// Reads the network of a model.
    pub fn from_model(m: &Model) -> Estate {
        let mut e = Estate::default();
        for r in &m.resources {
            if r.condition == Some(false) {
                continue;
            }
            if let Some(id) = &r.id {
                std::sync::Arc::make_mut(&mut e.owned).insert(id.to_ascii_lowercase());
            }
        }
        for nsg in m.of_kind(ResourceKind::NetworkSecurityGroup) {
            e.nsgs.push(std::sync::Arc::new(Nsg {
                id: nsg.id.clone(),
                name: nsg.display_name(),
                prov: nsg.prov.clone(),
                rules: rules_from_model(m, nsg),
            }));
        }
        for rt in m.of_kind(ResourceKind::RouteTable) {
            e.route_tables.push(RouteTable {
                id: rt.id.clone(),
                name: rt.display_name(),
                prov: rt.prov.clone(),
                routes: routes_from_model(m, rt),
            });
        }
        for fw in m.of_kind(ResourceKind::AzureFirewall) {
            e.firewalls.push(firewall_from_model(m, fw));
        }
        for p in m.of_kind(ResourceKind::ServiceEndpointPolicy) {
            e.policies.push(Policy {
                id: p.id.clone(),
                name: p.display_name(),
                prov: p.prov.clone(),
                entries: policy_entries(m, p),
            });
        }
        for ws in m.of_kind(ResourceKind::Workspace) {
            e.workspaces.push(read_workspace(m, ws));
            for prop in [
                "properties.storageAccount",
                "properties.keyVault",
                "properties.containerRegistry",
                "properties.applicationInsights",
            ] {
                if let Some(id) = ws.get(prop).str() {
                    std::sync::Arc::make_mut(&mut e.owned).insert(id.trim().to_ascii_lowercase());
                }
            }
        }
        // Computes, then the subnets they use.
        let mut subnets: Vec<&Resource> = Vec::new();
        let ws_ids: Vec<Option<String>> = e.workspaces.iter().map(|w| w.id.clone()).collect();
        let ws_index = |r: &Resource| -> Option<usize> {
            let pid = r.parent_id()?.to_ascii_lowercase();
            ws_ids
                .iter()
                .position(|w| w.as_deref().map(str::to_ascii_lowercase).as_deref() == Some(&pid))
        };
        let mut placed: Vec<(Compute, Option<&Resource>)> = Vec::new();
        for c in m.of_kind(ResourceKind::Compute) {
            let ty = c.get("properties.computeType");
            let kind = match ty.str() {
                Some(s) if s.eq_ignore_ascii_case("AmlCompute") => ComputeKind::Cluster,
                Some(s) if s.eq_ignore_ascii_case("ComputeInstance") => ComputeKind::Instance,
                // Attached compute (AKS, VMs, …) is not placed by AML.
                Some(_) => continue,
                // Not known offline: analysed as a cluster.
                None => ComputeKind::Other("unknown".to_string()),
            };
            let sf = c.get("properties.properties.subnet.id");
            let public_ip = bool_fact(&c.get("properties.properties.enableNodePublicIp"), true);
            let wsi = ws_index(c);
            let (placement, subnet) = placement(m, &sf, wsi, &e.workspaces);
            placed.push((
                Compute {
                    id: c.id.clone(),
                    name: c
                        .short_name()
                        .unwrap_or("(name not known offline)")
                        .to_string(),
                    kind,
                    workspace: wsi,
                    placement,
                    public_ip,
                    placement_at: sf.at().cloned().unwrap_or_else(|| c.prov.clone()),
                    prov: c.prov.clone(),
                },
                subnet,
            ));
        }
        for (wi, ws) in m.of_kind(ResourceKind::Workspace).enumerate() {
            let sf = ws.get("properties.serverlessComputeSettings.serverlessComputeCustomSubnet");
            if matches!(sf, Field::Absent { .. }) {
                continue;
            }
            let no_pip = bool_fact(
                &ws.get("properties.serverlessComputeSettings.serverlessComputeNoPublicIP"),
                false,
            );
            let public_ip = Fact {
                value: no_pip.value.map(|b| !b),
                at: no_pip.at,
                written: no_pip.written,
            };
            let (placement, subnet) = placement(m, &sf, Some(wi), &e.workspaces);
            if matches!(
                placement,
                Placement::Open | Placement::Managed(_) | Placement::WorkspaceOutside
            ) {
                continue;
            }
            placed.push((
                Compute {
                    id: ws.id.clone(),
                    name: ws.display_name(),
                    kind: ComputeKind::Serverless,
                    workspace: Some(wi),
                    placement,
                    public_ip,
                    placement_at: sf.at().cloned().unwrap_or_else(|| ws.prov.clone()),
                    prov: ws.prov.clone(),
                },
                subnet,
            ));
        }
        for (mut c, s) in placed {
            if let Some(s) = s {
                let idx = match subnets.iter().position(|x| std::ptr::eq(*x, s)) {
                    Some(i) => i,
                    None => {
                        subnets.push(s);
                        subnets.len() - 1
                    }
                };
                c.placement = Placement::Subnet(idx);
            }
            e.computes.push(c);
        }
        let nsg_ids: Vec<Option<String>> = e.nsgs.iter().map(|n| n.id.clone()).collect();
        let rt_ids: Vec<Option<String>> = e.route_tables.iter().map(|n| n.id.clone()).collect();
        let pol_ids: Vec<Option<String>> = e.policies.iter().map(|n| n.id.clone()).collect();
        for s in subnets {
            e.subnets
                .push(read_subnet(m, s, &nsg_ids, &rt_ids, &pol_ids));
        }
        e
    }
}

fn placement<'m>(
    m: &'m Model,
    sf: &Field<'_>,
    ws: Option<usize>,
    workspaces: &[Workspace],
) -> (Placement, Option<&'m Resource>) {
    if let Some(u) = unknown_of(sf) {
        return (Placement::UnknownSubnet(u), None);
    }
    if let Some(id) = sf.str().map(str::trim).filter(|s| !s.is_empty()) {
        return match m
            .get(id)
            .filter(|r| r.kind == ResourceKind::Subnet && r.deployed())
        {
            Some(s) => (Placement::Subnet(0), Some(s)),
            None => (Placement::OutsideSubnet(id.to_string()), None),
        };
    }
    let Some(wi) = ws else {
        return (Placement::WorkspaceOutside, None);
    };
    match workspaces.get(wi).map(|w| &w.managed.value) {
        Some(Ok(ManagedMode::Disabled)) | None => (Placement::Open, None),
        Some(Ok(_)) => (Placement::Managed(wi), None),
        Some(Err(_)) => (Placement::UnknownManaged(wi), None),
    }
}

fn read_workspace(m: &Model, ws: &Resource) -> Workspace {
    let mf = ws.get("properties.managedNetwork.isolationMode");
    let managed = match unknown_of(&mf) {
        Some(u) => Fact::unknown(u, at_of(&mf)),
        None => {
            let v = match mf.str() {
                Some(s) if s.eq_ignore_ascii_case("AllowInternetOutbound") => {
                    ManagedMode::AllowInternetOutbound
                }
                Some(s) if s.eq_ignore_ascii_case("AllowOnlyApprovedOutbound") => {
                    ManagedMode::AllowOnlyApprovedOutbound
                }
                _ => ManagedMode::Disabled,
            };
            Fact::known(v, at_of(&mf), mf.known().is_some())
        }
    };
    let mut rules = Vec::new();
    if let Some(obj) = ws
        .get("properties.managedNetwork.outboundRules")
        .known()
        .and_then(Tree::as_object)
    {
        for (name, body) in obj {
            rules.push(managed_rule(
                name,
                body,
                body.prov.clone().unwrap_or_else(|| ws.prov.clone()),
            ));
        }
    }
    for r in m.children(ws, ResourceKind::OutboundRule) {
        let name = r
            .short_name()
            .unwrap_or("(name not known offline)")
            .to_string();
        if rules
            .iter()
            .any(|x: &ManagedRule| x.name.eq_ignore_ascii_case(&name))
        {
            continue;
        }
        match r.get("properties").known() {
            Some(body) => rules.push(managed_rule(&name, body, r.prov.clone())),
            None => {
                let f = r.get("properties");
                let u = unknown_of(&f).unwrap_or(UnknownValue {
                    reason: "the rule has no properties".to_string(),
                    input: None,
                    secret: false,
                });
                rules.push(ManagedRule {
                    name,
                    required: false,
                    kind: ManagedRuleKind::Unknown(u),
                    prov: r.prov.clone(),
                });
            }
        }
    }
    let id_of = |p: &str| ws.get(p).str().map(str::to_string);
    Workspace {
        id: ws.id.clone(),
        name: ws.display_name(),
        prov: ws.prov.clone(),
        region: region_of(ws).unwrap_or_default(),
        managed,
        outbound_rules: rules,
        default_storage: id_of("properties.storageAccount"),
        key_vault: id_of("properties.keyVault"),
        registry: id_of("properties.containerRegistry"),
        hbi: ws.get("properties.hbiWorkspace").bool() == Some(true),
    }
}

fn managed_rule(name: &str, body: &Tree, prov: Prov) -> ManagedRule {
    let str_at = |t: &Tree, k: &str| t.member(k).and_then(Tree::as_str).map(str::to_string);
    let unknown = |t: Option<&Tree>| t.and_then(Tree::first_unknown).cloned();
    let category = str_at(body, "category");
    let required = category
        .as_deref()
        .is_some_and(|c| c.eq_ignore_ascii_case("Required"));
    let ty = body.member("type");
    let dest = body.member("destination");
    let kind = if let Some(u) = unknown(ty).or_else(|| unknown(dest)) {
        ManagedRuleKind::Unknown(u)
    } else {
        match ty.and_then(Tree::as_str) {
            Some(t) if t.eq_ignore_ascii_case("FQDN") => {
                ManagedRuleKind::Fqdn(dest.and_then(Tree::as_str).unwrap_or("").to_string())
            }
            Some(t) if t.eq_ignore_ascii_case("ServiceTag") => {
                let d = dest
                    .cloned()
                    .unwrap_or(Tree::new(amlguard_model::TreeKind::Null, None));
                ManagedRuleKind::ServiceTag {
                    tag: str_at(&d, "serviceTag").unwrap_or_default(),
                    deny: str_at(&d, "action").is_some_and(|a| a.eq_ignore_ascii_case("Deny")),
                }
            }
            Some(t) if t.eq_ignore_ascii_case("PrivateEndpoint") => {
                ManagedRuleKind::PrivateEndpoint {
                    resource: dest.and_then(|d| str_at(d, "serviceResourceId")),
                }
            }
            other => ManagedRuleKind::Unknown(UnknownValue {
                reason: format!(
                    "the rule type {} is not one amlguard knows",
                    other.map_or("(absent)".to_string(), |s| format!("`{s}`"))
                ),
                input: None,
                secret: false,
            }),
        }
    };
    ManagedRule {
        name: name.to_string(),
        required,
        kind,
        prov: body.prov.clone().unwrap_or(prov),
    }
}

fn read_subnet(
    m: &Model,
    s: &Resource,
    nsg_ids: &[Option<String>],
    rt_ids: &[Option<String>],
    pol_ids: &[Option<String>],
) -> Subnet {
    let vnet = s
        .parent_id()
        .and_then(|p| m.get(&p))
        .filter(|v| v.kind == ResourceKind::VirtualNetwork);
    let vnet_space = match vnet {
        Some(v) => prefixes_fact(
            v,
            "properties.addressSpace.addressPrefix",
            "properties.addressSpace.addressPrefixes",
        ),
        None => Fact::unknown(
            UnknownValue {
                reason: "the subnet's virtual network is not in the input".to_string(),
                input: None,
                secret: false,
            },
            Some(s.prov.clone()),
        ),
    };
    let mut peered = AddrSet::empty();
    if let Some(v) = vnet {
        for p in m.children(v, ResourceKind::VirtualNetworkPeering) {
            if let Some(remote) = p
                .get("properties.remoteVirtualNetwork.id")
                .str()
                .and_then(|id| m.get(id))
                && let Some(space) = prefixes_fact(
                    remote,
                    "properties.addressSpace.addressPrefix",
                    "properties.addressSpace.addressPrefixes",
                )
                .get()
            {
                peered = peered.union(space);
            }
            if let Some(space) = prefixes_fact(
                p,
                "properties.remoteAddressSpace.addressPrefix",
                "properties.remoteAddressSpace.addressPrefixes",
            )
            .get()
            {
                peered = peered.union(space);
            }
        }
    }
    let nsg_f = s.get("properties.networkSecurityGroup.id");
    let rt_f = s.get("properties.routeTable.id");
    let nat_f = s.get("properties.natGateway.id");
    let nat_gateway = match unknown_of(&nat_f) {
        Some(u) => Fact::unknown(u, at_of(&nat_f)),
        None => Fact::known(
            nat_f.str().is_some(),
            at_of(&nat_f),
            nat_f.known().is_some(),
        ),
    };
    let private_by_default = s
        .api_version
        .as_deref()
        .is_some_and(|v| v >= PRIVATE_BY_DEFAULT);
    let default_outbound = bool_fact(
        &s.get("properties.defaultOutboundAccess"),
        !private_by_default,
    );
    Subnet {
        id: s.id.clone(),
        name: s.name.clone().unwrap_or_else(|| s.display_name()),
        prov: s.prov.clone(),
        prefixes: prefixes_fact(s, "properties.addressPrefix", "properties.addressPrefixes"),
        vnet_space,
        peered,
        region: vnet.and_then(region_of).or_else(|| region_of(s)),
        nsg: link(&nsg_f, nsg_ids),
        nsg_at: at_of(&nsg_f),
        route_table: link(&rt_f, rt_ids),
        route_table_at: at_of(&rt_f),
        nat_gateway,
        default_outbound,
        storage_endpoint: storage_endpoint(s),
        policies: attached_policies(s, pol_ids),
    }
}

fn storage_endpoint(s: &Resource) -> Fact<Option<StorageEndpoint>> {
    let f = s.get("properties.serviceEndpoints");
    let Field::Known(t) = &f else {
        return match unknown_of(&f) {
            Some(u) => Fact::unknown(u, at_of(&f)),
            None => Fact::known(None, at_of(&f), false),
        };
    };
    let mut found = None;
    for item in t.as_array().unwrap_or_default() {
        let svc = item.member("service");
        if let Some(u) = svc.and_then(Tree::first_unknown) {
            return Fact::unknown(u.clone(), item.prov.clone());
        }
        match svc.and_then(Tree::as_str) {
            Some(x) if x.eq_ignore_ascii_case("Microsoft.Storage.Global") => {
                found = Some(StorageEndpoint {
                    global: true,
                    at: svc.and_then(|t| t.prov.clone()),
                });
            }
            Some(x) if x.eq_ignore_ascii_case("Microsoft.Storage") && found.is_none() => {
                found = Some(StorageEndpoint {
                    global: false,
                    at: svc.and_then(|t| t.prov.clone()),
                });
            }
            _ => {}
        }
    }
    Fact::known(found, at_of(&f), true)
}

fn attached_policies(s: &Resource, pol_ids: &[Option<String>]) -> Fact<Vec<Link>> {
    let f = s.get("properties.serviceEndpointPolicies");
    let Field::Known(t) = &f else {
        return match unknown_of(&f) {
            Some(u) => Fact::unknown(u, at_of(&f)),
            None => Fact::known(Vec::new(), at_of(&f), false),
        };
    };
    let mut out = Vec::new();
    for item in t.as_array().unwrap_or_default() {
        let idf = match item.member("id") {
            Some(x) => Field::Known(x),
            None => continue,
        };
        let idf = match &idf {
            Field::Known(x) => match &x.kind {
                amlguard_model::TreeKind::Unknown(u) => Field::Unknown {
                    value: u,
                    at: x.prov.clone().unwrap_or_else(|| s.prov.clone()),
                },
                _ => idf.clone(),
            },
            _ => idf.clone(),
        };
        out.push(link(&idf, pol_ids));
    }
    Fact::known(out, at_of(&f), true)
}

fn policy_entries(m: &Model, p: &Resource) -> Fact<Vec<PolicyEntry>> {
    let mut out: Vec<PolicyEntry> = Vec::new();
    let mut push = |t: &Tree| -> Result<(), UnknownValue> {
        if let Some(u) = t.first_unknown() {
            return Err(u.clone());
        }
        for e in t.as_array().unwrap_or_default() {
            if let Some(v) = e.as_str() {
                out.push(PolicyEntry {
                    value: v.to_string(),
                    at: e.prov.clone(),
                });
            }
        }
        Ok(())
    };
    let inline = p.get("properties.serviceEndpointPolicyDefinitions");
    if let Some(u) = match &inline {
        Field::Unknown { value, .. } => Some((*value).clone()),
        _ => None,
    } {
        return Fact::unknown(u, at_of(&inline));
    }
    let children: Vec<&Resource> = m
        .children(p, ResourceKind::ServiceEndpointPolicyDefinition)
        .collect();
    if let Field::Known(t) = &inline {
        for item in t.as_array().unwrap_or_default() {
            // Inline definitions with a name became child resources (read below).
            if item.member("name").and_then(Tree::as_str).is_some() && !children.is_empty() {
                continue;
            }
            if let Some(res) = item
                .member("properties")
                .and_then(|x| x.member("serviceResources"))
                && let Err(u) = push(res)
            {
                return Fact::unknown(u, res.prov.clone());
            }
        }
    }
    for d in children {
        let f = d.get("properties.serviceResources");
        match &f {
            Field::Known(t) => {
                if let Err(u) = push(t) {
                    return Fact::unknown(u, at_of(&f));
                }
            }
            Field::Unknown { value, .. } => return Fact::unknown((*value).clone(), at_of(&f)),
            Field::Absent { .. } => {}
        }
    }
    Fact::known(out, Some(p.prov.clone()), true)
}
