//! Verdicts per compute: which destination classes an insider could write to
//! (exfiltration paths), which dependencies AML needs are reachable, and the
//! evidence for each — the chain of settings a packet passes.
//!
//! For a compute in a subnet, a packet leaves when (in this order, after
//! docs/azure-ml-network.md §1–§3 and §8):
//! 1. the subnet's NSG allows it (outbound rules, first match; no NSG allows
//!    everything);
//! 2. storage traffic in the service endpoint's reach (`Microsoft.Storage`:
//!    the VNet's region; `Microsoft.Storage.Global`: every region) goes over
//!    the service endpoint, and the subnet's service endpoint policies decide
//!    which accounts it may reach (none attached: every account);
//! 3. everything else follows the subnet's routes (system routes and the route
//!    table's user routes, longest prefix): `Internet` needs a way out (node
//!    public IP, NAT gateway or default outbound access), `VirtualAppliance`
//!    leads to the firewall with that address (network rules, then
//!    application rules by host name), `None` drops, `VnetLocal` stays inside,
//!    `VirtualNetworkGateway` leaves for on-premises (not in the input).
//!
//! A managed network decides by its mode and outbound rules; a compute with
//! neither subnet nor managed network has open egress.
//!
//! Everything is computed on exact packet sets with two bounds (surely,
//! possibly): "reachable" when surely, "not reachable" when not even possibly,
//! "possible" otherwise, with the input that decides it.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use amlguard_model::Prov;

use crate::firewall::{CompiledFirewall, HostQuery, Service};
use crate::fqdn;
use crate::nsg::{Allowed, OutboundNsg, Verdict};
use crate::policy::{EntryScope, entry_covers, entry_scope, is_aml_alias};
use crate::resolve::{AddrBounds, AddressResolver};
use crate::route::{Hop, Routing, SystemRoutes};
use crate::space::{AddrSet, Packet, PacketSet, PortSet, ProtoSet, Protocol};
use crate::symbolic::{Addressing, TagSource};
use crate::topology::{
    Compute, ComputeKind, Estate, Fact, Link, ManagedMode, ManagedRuleKind, Placement, Subnet,
};

// ---------------------------------------------------------------------------
// Verdict types.

/// Whether something is reachable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reach {
    Reachable,
    /// Depends on values not known offline.
    Possible,
    NotReachable,
}

impl Reach {
    pub fn as_str(self) -> &'static str {
        match self {
            Reach::Reachable => "reachable",
            Reach::Possible => "possible",
            Reach::NotReachable => "not reachable",
        }
    }
}

impl fmt::Display for Reach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A destination class an insider can write to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// Any public address outside Azure's service tags.
    Internet,
    /// Any storage account (the `Storage` tag, `*.blob.core.windows.net`, …).
    Storage,
    /// Any Front Door endpoint (`AzureFrontDoor.Frontend`).
    FrontDoor,
    /// Other multi-tenant services where anyone can own an endpoint.
    Writable,
}

impl Class {
    pub const ALL: [Class; 4] = [
        Class::Internet,
        Class::Storage,
        Class::FrontDoor,
        Class::Writable,
    ];

    /// The rule code of an open path to this class.
    pub fn code(self) -> u16 {
        match self {
            Class::Internet => 301,
            Class::Storage => 302,
            Class::FrontDoor => 303,
            Class::Writable => 304,
        }
    }
    /// A short name (JSON and the matrix header).
    pub fn key(self) -> &'static str {
        match self {
            Class::Internet => "internet",
            Class::Storage => "any-storage",
            Class::FrontDoor => "frontdoor",
            Class::Writable => "writable-service",
        }
    }
    pub fn describe(self) -> &'static str {
        match self {
            Class::Internet => "any internet host",
            Class::Storage => "any storage account",
            Class::FrontDoor => "any Front Door endpoint (AzureFrontDoor.Frontend)",
            Class::Writable => {
                "other services anyone can own an endpoint of (Cosmos DB, SQL, Event Hubs, Service Bus, App Service, container registries, Azure Monitor ingestion, Azure VMs)"
            }
        }
    }
    /// Host names under which an insider can create an endpoint of this class
    /// (firewall application rules and managed-network FQDN rules match them).
    /// The empty suffix means any host.
    fn host_suffixes(self) -> &'static [&'static str] {
        match self {
            Class::Internet => &[""],
            Class::Storage => &[
                "blob.core.windows.net",
                "dfs.core.windows.net",
                "file.core.windows.net",
                "queue.core.windows.net",
                "table.core.windows.net",
                "web.core.windows.net",
            ],
            Class::FrontDoor => &["azurefd.net", "azureedge.net"],
            Class::Writable => &[
                "documents.azure.com",
                "database.windows.net",
                "servicebus.windows.net",
                "azurewebsites.net",
                "azurecr.io",
                "cloudapp.azure.com",
                "ods.opinsights.azure.com",
                "ingest.monitor.azure.com",
            ],
        }
    }
}

/// Host names standing for "a domain the insider registers": a firewall rule
/// that allows one of them (`*`, `*.com`, …) lets any internet host through.
const INTERNET_PROBES: &[&str] = &[
    "amlguard-probe.com",
    "amlguard-probe.net",
    "amlguard-probe.org",
    "amlguard-probe.io",
    "amlguard-probe.dev",
];

/// A dependency's host: a name, or `*.suffix` for hosts AML creates under a
/// suffix (Batch accounts, compute instances).
fn dep_host(h: &str) -> HostQuery {
    match h.strip_prefix("*.") {
        Some(suffix) => HostQuery::fresh_under(suffix),
        None => HostQuery::name(h),
    }
}

fn host_query(suffix: &str) -> Vec<(HostQuery, String)> {
    if suffix.is_empty() {
        INTERNET_PROBES
            .iter()
            .map(|h| {
                (
                    HostQuery::name(h),
                    format!("a domain the insider registers (`{h}`)"),
                )
            })
            .collect()
    } else {
        vec![(
            HostQuery::fresh_under(suffix),
            format!("a new host under `{suffix}`"),
        )]
    }
}

/// Service tags Microsoft's analysis calls not writable by an insider
/// (docs/azure-ml-network.md §1.1): their addresses are never counted in a
/// writable class, even where tags share addresses.
const NOT_WRITABLE: &[&str] = &[
    "AzureActiveDirectory",
    "AzureResourceManager",
    "AzureMachineLearning",
    "MicrosoftContainerRegistry",
    "BatchNodeManagement",
    "AzureFrontDoor.FirstParty",
];

/// Tags of the extended writable class.
const WRITABLE_TAGS: &[&str] = &[
    "AzureCosmosDB",
    "Sql",
    "EventHub",
    "ServiceBus",
    "AppService",
    "AzureContainerRegistry",
    "AzureMonitor",
    "AzureCloud",
];

/// One link of an evidence chain: a setting and where it is written.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub text: String,
    pub at: Option<Prov>,
    /// For a step that an NSG user rule decides: the rule's name (what a fix
    /// changes).
    pub nsg_rule: Option<String>,
}

impl Step {
    fn new(text: impl Into<String>, at: Option<Prov>) -> Step {
        Step {
            text: text.into(),
            at,
            nsg_rule: None,
        }
    }
}

/// A verdict on one destination class.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassVerdict {
    pub class: Class,
    pub reach: Reach,
    /// Reachable or possible: the path. Not reachable: what blocks it.
    pub chain: Vec<Step>,
    /// For `Possible`: the input that decides it.
    pub deciding_input: Option<String>,
    /// The smallest change found that closes the path without blocking a
    /// dependency, checked by running the engine again (see [`crate::fixes`]).
    pub fix: Option<crate::fixes::Fix>,
}

/// A destination AML needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependency {
    /// `BatchNodeManagement.westeurope TCP 443`.
    pub name: String,
    /// Why AML needs it.
    pub why: String,
}

/// A verdict on one dependency.
#[derive(Clone, Debug, PartialEq)]
pub struct DepVerdict {
    pub dependency: Dependency,
    /// `Reachable`, `Possible`, or `NotReachable` (blocked).
    pub reach: Reach,
    /// Blocked or possible: the setting that blocks it (or may).
    pub chain: Vec<Step>,
    pub deciding_input: Option<String>,
}

/// The verdicts for one compute.
#[derive(Clone, Debug)]
pub struct ComputeVerdicts {
    pub compute: Compute,
    /// The workspace's name, when known.
    pub workspace: Option<String>,
    /// Where the compute's traffic starts, in words.
    pub placement: String,
    pub classes: Vec<ClassVerdict>,
    pub dependencies: Vec<DepVerdict>,
    /// For compute with public IP addresses in a subnet: whether the subnet's
    /// NSG lets AML's management traffic in (TCP 44224 from
    /// `AzureMachineLearning`).
    pub inbound: Option<DepVerdict>,
    /// A problem that kept the engine from deciding (an unknown tag, an
    /// invalid rule): every class is then `Possible`.
    pub error: Option<String>,
}

/// The result for a whole estate.
#[derive(Clone, Debug)]
pub struct Analysis {
    pub computes: Vec<ComputeVerdicts>,
    /// Service tags were symbolic (no service-tag file).
    pub symbolic: bool,
}

// ---------------------------------------------------------------------------
// Packet bounds.

fn pb(surely: PacketSet, possibly: PacketSet) -> Allowed {
    Allowed { surely, possibly }
}

fn pb_empty() -> Allowed {
    pb(PacketSet::empty(), PacketSet::empty())
}

fn pb_inter(a: &Allowed, b: &Allowed) -> Allowed {
    pb(
        a.surely.intersection(&b.surely),
        a.possibly.intersection(&b.possibly),
    )
}

fn pb_union(a: &Allowed, b: &Allowed) -> Allowed {
    pb(a.surely.union(&b.surely), a.possibly.union(&b.possibly))
}

fn addr_packets(a: &AddrBounds) -> Allowed {
    pb(
        PacketSet::product(&ProtoSet::all(), &a.surely, &PortSet::all()),
        PacketSet::product(&ProtoSet::all(), &a.possibly, &PortSet::all()),
    )
}

/// Packets in `a` whose destination is surely / possibly in `addrs`.
fn pb_to(a: &Allowed, addrs: &AddrBounds) -> Allowed {
    pb_inter(a, &addr_packets(addrs))
}

/// Packets in `a` whose destination is surely / possibly outside `addrs`.
fn pb_outside(a: &Allowed, addrs: &AddrBounds) -> Allowed {
    let out = addr_packets(addrs);
    pb(
        a.surely.difference(&out.possibly),
        a.possibly.difference(&out.surely),
    )
}

/// Gates packets by a three-way condition.
fn gate(a: &Allowed, t: Tri) -> Allowed {
    match t {
        Tri::Yes => a.clone(),
        Tri::Maybe => pb(PacketSet::empty(), a.possibly.clone()),
        Tri::No => pb_empty(),
    }
}

/// Where the ways out of a question's packets go: into sets, or into the
/// first packets only.
trait Sink {
    /// Packets in both `a` and `b` that get out when `t` holds.
    fn add_meet(&mut self, a: &Allowed, b: &Allowed, t: Tri);
    /// Packets in `a`, `b` and `c` that get out when `t` holds.
    fn add_meet3(&mut self, a: &Allowed, b: &Allowed, c: &Allowed, t: Tri);
}

/// Every packet that gets out.
struct Sets(Allowed);

impl Sets {
    fn add(&mut self, a: Allowed) {
        self.0 = pb_union(&self.0, &a);
    }
}

impl Sink for Sets {
    fn add_meet(&mut self, a: &Allowed, b: &Allowed, t: Tri) {
        if t != Tri::No {
            self.add(gate(&pb_inter(a, b), t));
        }
    }
    fn add_meet3(&mut self, a: &Allowed, b: &Allowed, c: &Allowed, t: Tri) {
        if t != Tri::No {
            self.add(gate(&pb_inter(&pb_inter(a, b), c), t));
        }
    }
}

/// The first packet that surely gets out, and the first that possibly does.
struct Firsts(Option<Packet>, Option<Packet>);

impl Firsts {
    fn offer(slot: &mut Option<Packet>, p: Option<Packet>) {
        if let Some(p) = p
            && slot.is_none_or(|s| packet_order(&p) < packet_order(&s))
        {
            *slot = Some(p);
        }
    }
}

impl Sink for Firsts {
    fn add_meet(&mut self, a: &Allowed, b: &Allowed, t: Tri) {
        if t == Tri::Yes {
            Firsts::offer(&mut self.0, a.surely.first_common(&b.surely));
        }
        if t != Tri::No {
            Firsts::offer(&mut self.1, a.possibly.first_common(&b.possibly));
        }
    }
    fn add_meet3(&mut self, a: &Allowed, b: &Allowed, c: &Allowed, t: Tri) {
        if t == Tri::Yes {
            Firsts::offer(
                &mut self.0,
                PacketSet::first_common3(&a.surely, &b.surely, &c.surely),
            );
        }
        if t != Tri::No {
            Firsts::offer(
                &mut self.1,
                PacketSet::first_common3(&a.possibly, &b.possibly, &c.possibly),
            );
        }
    }
}

/// Both conditions: no when either is no, else maybe when either is maybe.
fn tri_and(a: Tri, b: Tri) -> Tri {
    match (a, b) {
        (Tri::No, _) | (_, Tri::No) => Tri::No,
        (Tri::Maybe, _) | (_, Tri::Maybe) => Tri::Maybe,
        (Tri::Yes, Tri::Yes) => Tri::Yes,
    }
}

/// The order [`PacketSet::sample`] picks in: protocol, IPv4 before IPv6,
/// address, port.
fn packet_order(p: &Packet) -> (u8, u8, u128, u16) {
    let (family, address) = match p.destination {
        IpAddr::V4(a) => (0, u128::from(u32::from(a))),
        IpAddr::V6(a) => (1, u128::from(a)),
    };
    (p.protocol.number(), family, address, p.port)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tri {
    Yes,
    Maybe,
    No,
}

fn tri_of(f: &Fact<bool>) -> Tri {
    match f.get() {
        Some(true) => Tri::Yes,
        Some(false) => Tri::No,
        None => Tri::Maybe,
    }
}

fn tri_or(a: Tri, b: Tri) -> Tri {
    match (a, b) {
        (Tri::Yes, _) | (_, Tri::Yes) => Tri::Yes,
        (Tri::Maybe, _) | (_, Tri::Maybe) => Tri::Maybe,
        _ => Tri::No,
    }
}

// ---------------------------------------------------------------------------
// Questions.

/// What is asked: packets, and the host names the same traffic may be
/// allowed by (firewall application rules, managed FQDN rules).
#[derive(Clone, Debug)]
struct Question {
    packets: Allowed,
    /// Host suffixes under which a fresh host is asked about ("" = any host).
    fresh_hosts: Vec<String>,
    /// Specific hosts (dependencies), all needed.
    hosts: Vec<String>,
    /// A class question (any one way suffices) or a dependency (all packets needed).
    storage: StorageKind,
}

/// What storage a question is about, for service endpoint policies.
#[derive(Clone, Debug, PartialEq)]
enum StorageKind {
    /// Not storage.
    None,
    /// An account an insider creates.
    Foreign,
    /// AML's Microsoft-managed accounts (the `/services/Azure/MachineLearning` alias).
    AmlManaged,
    /// The workspace's default storage account (by ID).
    Default(Option<String>),
}

fn tcp(ports: &[u16]) -> (ProtoSet, PortSet) {
    (
        ProtoSet::single(Protocol::Tcp),
        PortSet::from_ranges(ports.iter().map(|p| (*p, *p))),
    )
}

// ---------------------------------------------------------------------------
// The engine.

/// At most this many candidate fixes are checked per analysis: each check
/// re-runs the engine on a changed copy, and on large estates the search
/// would dominate. Paths found after the budget is spent get the rule's
/// general fix text instead of a checked one.
pub const FIX_CHECKS: usize = 200;

type Memo<K, V> = std::cell::RefCell<std::collections::HashMap<K, V>>;
type CompiledFw = std::rc::Rc<Result<CompiledFirewall, String>>;

/// Work shared by every compute of one analysis and by the re-runs that
/// check fixes (which never change firewalls): each firewall compiled once
/// per source subnet.
#[derive(Default)]
pub struct Shared {
    /// Set while fixes are checked: their changed NSGs are not kept.
    pub(crate) checking: std::cell::Cell<bool>,
    /// Candidate fixes checked so far in this analysis (each one re-runs the
    /// engine); the search stops at [`FIX_CHECKS`].
    pub(crate) fix_checks: std::cell::Cell<usize>,
    /// Compiled NSGs by (rules digest, source, VNet).
    nsgs: Memo<(u64, AddrSet, AddrSet), std::rc::Rc<OutboundNsg>>,
    /// Firewalls evaluated for a source, by (firewall, VNet when a rule
    /// names a tag that depends on it, source): their host plans and stages
    /// serve every compute of the subnet and every fix check.
    firewalls: Memo<(usize, AddrSet, AddrSet), CompiledFw>,
    /// Work shared with the other shards of the analysis.
    common: std::sync::Arc<Common>,
}

/// Key of a firewall's network stage: (firewall, VNet when a rule names a
/// tag that depends on it, stage key). Subnets whose addresses every rule
/// treats alike share one stage.
type StageKey = (usize, AddrSet, Vec<Vec<u8>>);

/// Work shared across the shards of one analysis: the largest things
/// computed, each once. Each is a function of its key, so sharing changes
/// no result.
#[derive(Default)]
pub struct Common {
    /// Firewall network stages.
    stages: OnceMap<StageKey, std::sync::Arc<crate::firewall::NetStage>>,
    /// Class questions by (class, the resolver's VNet, the source's
    /// families): the same for every subnet of a network.
    questions: OnceMap<(Class, AddrSet, bool, bool), Result<Question, String>>,
    /// Firewall rules compiled once, by (firewall, VNet when a rule names a
    /// tag that depends on it); each subnet evaluates them for its source.
    rules:
        OnceMap<(usize, AddrSet), std::sync::Arc<Result<crate::firewall::CompiledRules, String>>>,
}

/// Values by key, each computed once by its first caller; later callers, on
/// any thread, wait for it and share it.
struct OnceMap<K, V>(
    std::sync::Mutex<std::collections::HashMap<K, std::sync::Arc<std::sync::OnceLock<V>>>>,
);

impl<K, V> Default for OnceMap<K, V> {
    fn default() -> Self {
        OnceMap(std::sync::Mutex::new(std::collections::HashMap::new()))
    }
}

impl<K: std::hash::Hash + Eq, V: Clone> OnceMap<K, V> {
    fn get_or_init(&self, key: K, make: impl FnOnce() -> V) -> V {
        let cell = {
            // A poisoned lock means another shard panicked; that panic ends
            // the run (see `analyse_with`), and the map is still whole.
            let mut map = self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            map.entry(key).or_default().clone()
        };
        cell.get_or_init(make).clone()
    }
}

/// A digest of an NSG's rules (their full content), for sharing compilations.
fn rules_digest(rules: &[crate::nsg::Rule]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    format!("{rules:?}").hash(&mut h);
    h.finish()
}

/// Analyses every compute of an estate, with a checked fix for each open path.
pub fn analyse(estate: &Estate, tags: TagSource<'_>) -> Analysis {
    analyse_with(estate, tags, true)
}

/// Shards the computes are split into (by subnet): a fixed number, so results
/// (which paths get a checked fix within the budget) do not depend on the
/// machine. The shards run on as many threads as there are shards.
const SHARDS: usize = 4;

/// Analyses every compute; `fixes` searches for a checked fix per open path.
pub fn analyse_with(estate: &Estate, tags: TagSource<'_>, fixes: bool) -> Analysis {
    let symbolic = matches!(tags, TagSource::Symbolic(_));
    let shard_of = |c: &Compute, ci: usize| match &c.placement {
        Placement::Subnet(si) => si % SHARDS,
        _ => ci % SHARDS,
    };
    let common = std::sync::Arc::new(Common::default());
    let common = &common;
    let mut out: Vec<(usize, ComputeVerdicts)> = if estate.computes.len() < 64 {
        analyse_shard(estate, tags, fixes, &|_| true, FIX_CHECKS, common)
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..SHARDS)
                .map(|k| {
                    scope.spawn(move || {
                        let mine = move |ci: usize| {
                            estate
                                .computes
                                .get(ci)
                                .is_some_and(|c| shard_of(c, ci) == k)
                        };
                        analyse_shard(estate, tags, fixes, &mine, FIX_CHECKS / SHARDS, common)
                    })
                })
                .collect();
            let mut all = Vec::new();
            for h in handles {
                // A shard that panicked is a bug: it ends the run as it would
                // without threads, never with computes silently left out.
                match h.join() {
                    Ok(v) => all.extend(v),
                    Err(e) => std::panic::resume_unwind(e),
                }
            }
            all
        })
    };
    out.sort_by_key(|(ci, _)| *ci);
    Analysis {
        computes: out.into_iter().map(|(_, v)| v).collect(),
        symbolic,
    }
}

/// The computes `mine` selects, with their own shared work and fix budget.
fn analyse_shard(
    estate: &Estate,
    tags: TagSource<'_>,
    fixes: bool,
    mine: &dyn Fn(usize) -> bool,
    budget: usize,
    common: &std::sync::Arc<Common>,
) -> Vec<(usize, ComputeVerdicts)> {
    let shared = Shared {
        common: common.clone(),
        ..Shared::default()
    };
    shared.fix_checks.set(FIX_CHECKS.saturating_sub(budget));
    type Entry = (String, Vec<ClassVerdict>, Vec<DepVerdict>, Option<String>);
    let mut cache: BTreeMap<(usize, u8, usize), Entry> = BTreeMap::new();
    let mut out = Vec::new();
    for (ci, c) in estate.computes.iter().enumerate() {
        if !mine(ci) {
            continue;
        }
        let ws = c.workspace.and_then(|i| estate.workspaces.get(i));
        // Computes of one subnet share verdicts, except where the compute's
        // own public IP setting is part of the evidence.
        let key = match &c.placement {
            Placement::Subnet(si) => {
                let pip = match c.public_ip.get() {
                    Some(false) => 0,
                    Some(true) => 1,
                    None => 2,
                };
                Some((
                    *si,
                    pip + 4 * kind_key(&c.kind),
                    if pip == 0 { usize::MAX } else { ci },
                ))
            }
            _ => None,
        };
        let cached = key.and_then(|k| cache.get(&k).cloned());
        let (placement, mut classes, deps, error) = match cached {
            Some(e) => e,
            None => {
                let (placement, mut classes, deps, error) =
                    compute_entry(estate, c, tags, &shared, None);
                if fixes {
                    for v in &mut classes {
                        if v.reach == Reach::Reachable {
                            v.fix = crate::fixes::find(estate, ci, v, &deps, tags, &shared);
                        }
                    }
                }
                let e = (placement, classes, deps, error);
                if let Some(k) = key {
                    cache.insert(k, e.clone());
                }
                e
            }
        };
        if !fixes {
            for v in &mut classes {
                v.fix = None;
            }
        }
        out.push((
            ci,
            ComputeVerdicts {
                compute: c.clone(),
                workspace: ws.map(|w| w.name.clone()),
                placement,
                classes,
                dependencies: deps,
                inbound: inbound_verdict(estate, c, tags),
                error,
            },
        ));
    }
    out
}

/// The step for an NSG rule that may decide a packet instead of the one
/// shown (its match or place depends on values not known offline).
fn nsg_doubt_step(nsg: &str, d: &crate::nsg::Doubt) -> Step {
    Step::new(
        format!(
            "NSG `{nsg}` rule `{}` may decide it instead: {}",
            d.rule.name,
            d.reasons.join("; ")
        ),
        d.rule.prov.clone(),
    )
}

/// Whether the subnet NSG admits AML's management traffic to a compute with
/// public IP addresses: TCP 44224 from `AzureMachineLearning`
/// (docs/azure-ml-network.md §2.2). `None` when the compute has no public IP
/// or no subnet.
pub fn inbound_verdict(estate: &Estate, c: &Compute, tags: TagSource<'_>) -> Option<DepVerdict> {
    if c.public_ip.get() == Some(&false) {
        return None;
    }
    let Placement::Subnet(si) = &c.placement else {
        return None;
    };
    let subnet = estate.subnets.get(*si)?;
    let dependency = Dependency {
        name: "inbound TCP 44224 from AzureMachineLearning".to_string(),
        why: "AML manages compute with public IP addresses through this port".to_string(),
    };
    let mut chain = Vec::new();
    if c.public_ip.get().is_none() {
        chain.push(Step::new(
            format!(
                "whether {} has public IP addresses is not known offline",
                c.label()
            ),
            c.public_ip.at.clone(),
        ));
    }
    let nsg = match &subnet.nsg {
        Link::None => return None,
        Link::Index(i) => estate.nsgs.get(*i)?,
        Link::Outside(_) | Link::Unknown(_) => {
            chain.push(Step::new(
                "the subnet's NSG is not in the input or not known offline",
                subnet.nsg_at.clone(),
            ));
            return Some(DepVerdict {
                dependency,
                reach: Reach::Possible,
                chain,
                deciding_input: Some("the subnet's network security group".to_string()),
            });
        }
    };
    let vnet = subnet.vnet_space.get().cloned().unwrap_or_default();
    let dest = subnet
        .prefixes
        .get()
        .cloned()
        .unwrap_or_else(|| vnet.clone());
    let resolver = Addressing::new(tags, vnet.union(&subnet.peered));
    let fail = |e: String| DepVerdict {
        dependency: dependency.clone(),
        reach: Reach::Possible,
        chain: vec![Step::new(e.clone(), Some(nsg.prov.clone()))],
        deciding_input: Some(e),
    };
    let aml = match resolver.tag("AzureMachineLearning") {
        Ok(a) => a,
        Err(e) => return Some(fail(e.to_string())),
    };
    let n = match crate::nsg::InboundNsg::new(&nsg.rules, &dest, &resolver) {
        Ok(n) => n,
        Err(e) => return Some(fail(format!("NSG `{}`: {e}", nsg.name))),
    };
    let (tcp_p, port) = tcp(&[44224]);
    let want = PacketSet::product(&tcp_p, &aml.surely, &port);
    let allowed = n.allowed();
    let mut reach = if want.is_subset(&allowed.surely) {
        Reach::Reachable
    } else if !want.is_subset(&allowed.possibly) {
        Reach::NotReachable
    } else {
        Reach::Possible
    };
    if reach == Reach::NotReachable && c.public_ip.get().is_none() {
        reach = Reach::Possible;
    }
    if reach == Reach::Reachable {
        return Some(DepVerdict {
            dependency,
            reach,
            chain: Vec::new(),
            deciding_input: None,
        });
    }
    let mut input = c.public_ip.deciding_input();
    let sample = want.difference(&allowed.surely).sample();
    if let Some(p) = sample {
        let ev = n.explain(&p);
        for d in &ev.doubts {
            chain.push(nsg_doubt_step(&nsg.name, d));
            input = input.or_else(|| d.reasons.first().cloned());
        }
        if let Some(r) = &ev.decided_by {
            chain.push(Step::new(
                format!("NSG `{}` {r} decides inbound TCP 44224 from AzureMachineLearning to subnet `{}`", nsg.name, subnet.name),
                r.prov.clone().or_else(|| Some(nsg.prov.clone())),
            ));
        }
    }
    Some(DepVerdict {
        dependency,
        reach,
        chain,
        deciding_input: if reach == Reach::Possible {
            input
        } else {
            None
        },
    })
}

/// The verdicts for one compute (no fixes): what [`crate::fixes`] checks a
/// changed estate with.
pub fn verdicts_of(
    estate: &Estate,
    ci: usize,
    tags: TagSource<'_>,
) -> Option<(Vec<ClassVerdict>, Vec<DepVerdict>)> {
    verdicts_shared(estate, ci, tags, &Shared::default())
}

/// [`verdicts_of`] reusing the work of an analysis.
pub fn verdicts_shared(
    estate: &Estate,
    ci: usize,
    tags: TagSource<'_>,
    shared: &Shared,
) -> Option<(Vec<ClassVerdict>, Vec<DepVerdict>)> {
    let c = estate.computes.get(ci)?;
    let (_, classes, deps, _) = compute_entry(estate, c, tags, shared, None);
    Some((classes, deps))
}

/// What a fix check needs: the verdict for `class` alone, and the
/// dependency verdicts only when that class is closed (otherwise the
/// candidate fails whatever they are, and they are left empty).
pub(crate) fn verdicts_for_fix(
    estate: &Estate,
    ci: usize,
    tags: TagSource<'_>,
    shared: &Shared,
    class: Class,
) -> Option<(Vec<ClassVerdict>, Vec<DepVerdict>)> {
    let c = estate.computes.get(ci)?;
    let (_, classes, deps, _) = compute_entry(estate, c, tags, shared, Some(class));
    Some((classes, deps))
}

/// `only`: compute just this class (see [`verdicts_for_fix`]).
fn compute_entry(
    estate: &Estate,
    c: &Compute,
    tags: TagSource<'_>,
    shared: &Shared,
    only: Option<Class>,
) -> (String, Vec<ClassVerdict>, Vec<DepVerdict>, Option<String>) {
    let ws = c.workspace.and_then(|i| estate.workspaces.get(i));
    let region = ws.map(|w| w.region.clone()).unwrap_or_default();
    match &c.placement {
        Placement::Subnet(si) => {
            let Some(subnet) = estate.subnets.get(*si) else {
                return (
                    "subnet (missing)".to_string(),
                    Vec::new(),
                    Vec::new(),
                    Some("the compute's subnet is missing from the estate".to_string()),
                );
            };
            let (classes, deps, error) =
                subnet_verdicts(estate, c, subnet, &region, tags, shared, only);
            (format!("subnet `{}`", subnet.name), classes, deps, error)
        }
        Placement::Managed(wi) => {
            let (classes, deps) = managed_verdicts(estate, *wi, tags);
            let mode = estate
                .workspaces
                .get(*wi)
                .and_then(|w| w.managed.get().copied())
                .map_or("unknown", |m| mode_name(&m));
            (format!("managed network ({mode})"), classes, deps, None)
        }
        Placement::Open => (
            "no subnet and no managed network".to_string(),
            all_classes(
                Reach::Reachable,
                vec![Step::new(
                    format!(
                        "{} has no subnet and its workspace has no managed network: Azure gives it unrestricted outbound access",
                        c.label()
                    ),
                    Some(c.placement_at.clone()),
                )],
                None,
            ),
            Vec::new(),
            None,
        ),
        Placement::UnknownManaged(wi) => {
            let w = estate.workspaces.get(*wi);
            let input = w.and_then(|w| w.managed.deciding_input());
            (
                "no subnet; managed network not known".to_string(),
                all_classes(
                    Reach::Possible,
                    vec![Step::new(
                        format!(
                            "{} has no subnet and whether its workspace has a managed network is not known offline",
                            c.label()
                        ),
                        w.and_then(|w| w.managed.at.clone()),
                    )],
                    input,
                ),
                Vec::new(),
                None,
            )
        }
        Placement::WorkspaceOutside => (
            "no subnet; workspace not in the input".to_string(),
            all_classes(
                Reach::Possible,
                vec![Step::new(
                    format!(
                        "{} has no subnet and its workspace is not in the scanned input: without a managed network in AllowOnlyApprovedOutbound mode its egress is unrestricted",
                        c.label()
                    ),
                    Some(c.placement_at.clone()),
                )],
                Some("the workspace's managed network (`managedNetwork.isolationMode`; scan the template that deploys the workspace)".to_string()),
            ),
            Vec::new(),
            None,
        ),
        Placement::OutsideSubnet(id) => (
            format!("subnet `{}` (not in the input)", short_id(id)),
            all_classes(
                Reach::Possible,
                vec![Step::new(
                    format!(
                        "{} runs in subnet `{}`, which the scanned input does not declare",
                        c.label(),
                        short_id(id)
                    ),
                    Some(c.placement_at.clone()),
                )],
                Some(format!(
                    "the subnet `{}` (scan the template that deploys it)",
                    short_id(id)
                )),
            ),
            Vec::new(),
            None,
        ),
        Placement::UnknownSubnet(u) => (
            "subnet not known offline".to_string(),
            all_classes(
                Reach::Possible,
                vec![Step::new(
                    format!(
                        "the subnet of {} is not known offline: {}",
                        c.label(),
                        u.reason
                    ),
                    Some(c.placement_at.clone()),
                )],
                Some(u.input.clone().unwrap_or_else(|| u.reason.clone())),
            ),
            Vec::new(),
            None,
        ),
    }
}

fn kind_key(k: &ComputeKind) -> u8 {
    match k {
        ComputeKind::Cluster | ComputeKind::Other(_) => 0,
        ComputeKind::Instance => 1,
        ComputeKind::Serverless => 2,
    }
}

fn mode_name(m: &ManagedMode) -> &'static str {
    match m {
        ManagedMode::Disabled => "Disabled",
        ManagedMode::AllowInternetOutbound => "AllowInternetOutbound",
        ManagedMode::AllowOnlyApprovedOutbound => "AllowOnlyApprovedOutbound",
    }
}

fn short_id(id: &str) -> String {
    let parts: Vec<&str> = id.trim_end_matches('/').rsplit('/').collect();
    match (parts.first(), parts.get(2)) {
        (Some(s), Some(v)) => format!("{v}/{s}"),
        (Some(s), None) => (*s).to_string(),
        _ => id.to_string(),
    }
}

fn all_classes(reach: Reach, chain: Vec<Step>, input: Option<String>) -> Vec<ClassVerdict> {
    Class::ALL
        .iter()
        .map(|c| ClassVerdict {
            class: *c,
            reach,
            chain: chain.clone(),
            deciding_input: input.clone(),
            fix: None,
        })
        .collect()
}

/// Title-case region as the service-tag file spells it does not matter: tags
/// compare case-insensitively.
fn regional(tag: &str, region: &str) -> String {
    if region.is_empty() {
        tag.to_string()
    } else {
        format!("{tag}.{region}")
    }
}

/// Resolves a tag, falling back to the global tag when the regional one is unknown.
fn tag_or_global(
    r: &dyn AddressResolver,
    tag: &str,
    region: &str,
) -> Result<(String, AddrBounds), String> {
    let name = regional(tag, region);
    match r.tag(&name) {
        Ok(a) => Ok((name, a)),
        Err(_) => r
            .tag(tag)
            .map(|a| (tag.to_string(), a))
            .map_err(|e| e.to_string()),
    }
}

fn class_addresses(r: &dyn AddressResolver, class: Class) -> Result<AddrBounds, String> {
    let mut not_writable = AddrBounds::empty();
    for t in NOT_WRITABLE {
        not_writable = not_writable.union(&r.tag(t).map_err(|e| e.to_string())?);
    }
    let minus = |a: AddrBounds, b: &AddrBounds| AddrBounds {
        surely: a.surely.difference(&b.possibly),
        possibly: a.possibly.difference(&b.surely),
    };
    let a = match class {
        Class::Internet => r.internet_only(),
        Class::Storage => r.tag("Storage").map_err(|e| e.to_string())?,
        Class::FrontDoor => r
            .tag("AzureFrontDoor.Frontend")
            .map_err(|e| e.to_string())?,
        Class::Writable => {
            let mut a = AddrBounds::empty();
            for t in WRITABLE_TAGS {
                a = a.union(&r.tag(t).map_err(|e| e.to_string())?);
            }
            let storage = r.tag("Storage").map_err(|e| e.to_string())?;
            let fd = r
                .tag("AzureFrontDoor.Frontend")
                .map_err(|e| e.to_string())?;
            minus(minus(a, &storage), &fd)
        }
    };
    Ok(minus(a, &not_writable))
}

fn class_question(r: &dyn AddressResolver, class: Class) -> Result<Question, String> {
    let a = class_addresses(r, class)?;
    let (protos, ports) = match class {
        Class::Internet | Class::Writable => (ProtoSet::all(), PortSet::all()),
        Class::Storage => tcp(&[80, 443, 445]),
        Class::FrontDoor => tcp(&[80, 443]),
    };
    Ok(Question {
        packets: pb(
            PacketSet::product(&protos, &a.surely, &ports),
            PacketSet::product(&protos, &a.possibly, &ports),
        ),
        fresh_hosts: class
            .host_suffixes()
            .iter()
            .map(|s| s.to_string())
            .collect(),
        hosts: Vec::new(),
        storage: if class == Class::Storage {
            StorageKind::Foreign
        } else {
            StorageKind::None
        },
    })
}

/// A dependency: a tag (regional where the file has it), protocol and ports,
/// and the host names a firewall may allow instead.
struct DepSpec {
    tag: &'static str,
    regional: bool,
    protocol: Protocol,
    ports: &'static [u16],
    hosts: &'static [&'static str],
    why: &'static str,
    storage: u8,
}

const DEPS: &[DepSpec] = &[
    DepSpec {
        tag: "AzureActiveDirectory",
        regional: false,
        protocol: Protocol::Tcp,
        ports: &[443],
        hosts: &["login.microsoftonline.com"],
        why: "authentication with Microsoft Entra ID",
        storage: 0,
    },
    DepSpec {
        tag: "AzureMachineLearning",
        regional: false,
        protocol: Protocol::Tcp,
        ports: &[443],
        hosts: &["*.instances.azureml.ms", "*.instances.azureml.net"],
        why: "the Azure Machine Learning service",
        storage: 0,
    },
    DepSpec {
        tag: "AzureMachineLearning",
        regional: false,
        protocol: Protocol::Udp,
        ports: &[5831],
        hosts: &[],
        why: "creating, updating and deleting compute without public IP",
        storage: 0,
    },
    DepSpec {
        tag: "BatchNodeManagement",
        regional: true,
        protocol: Protocol::Tcp,
        ports: &[443],
        hosts: &[
            "*.{region}.batch.azure.com",
            "*.{region}.service.batch.azure.com",
        ],
        why: "Azure Batch node management: nodes will not provision",
        storage: 0,
    },
    DepSpec {
        tag: "AzureResourceManager",
        regional: false,
        protocol: Protocol::Tcp,
        ports: &[443],
        hosts: &["management.azure.com"],
        why: "Azure Resource Manager",
        storage: 0,
    },
    DepSpec {
        tag: "Storage",
        regional: true,
        protocol: Protocol::Tcp,
        ports: &[443],
        hosts: &[
            "*.blob.core.windows.net",
            "*.queue.core.windows.net",
            "*.table.core.windows.net",
        ],
        why: "AML's Microsoft-managed storage accounts: compute will not provision",
        storage: 1,
    },
    DepSpec {
        tag: "Storage",
        regional: true,
        protocol: Protocol::Tcp,
        ports: &[443],
        hosts: &["*.blob.core.windows.net", "*.file.core.windows.net"],
        why: "the workspace's default storage account",
        storage: 2,
    },
    DepSpec {
        tag: "MicrosoftContainerRegistry",
        regional: false,
        protocol: Protocol::Tcp,
        ports: &[443],
        hosts: &["mcr.microsoft.com", "*.data.mcr.microsoft.com"],
        why: "Microsoft's container images",
        storage: 0,
    },
    DepSpec {
        tag: "AzureFrontDoor.FirstParty",
        regional: false,
        protocol: Protocol::Tcp,
        ports: &[443],
        hosts: &["*.data.mcr.microsoft.com"],
        why: "Microsoft Container Registry's content delivery",
        storage: 0,
    },
];

/// What a subnet compute needs and can reach.
fn subnet_verdicts(
    estate: &Estate,
    c: &Compute,
    subnet: &Subnet,
    region: &str,
    tags: TagSource<'_>,
    shared: &Shared,
    only: Option<Class>,
) -> (Vec<ClassVerdict>, Vec<DepVerdict>, Option<String>) {
    let region = if region.is_empty() {
        subnet.region.clone().unwrap_or_default()
    } else {
        region.to_string()
    };
    let ctx = match SubnetCtx::new(estate, c, subnet, &region, tags, shared) {
        Ok(x) => x,
        Err(e) => {
            let step = Step::new(e.clone(), Some(subnet.prov.clone()));
            return (
                all_classes(Reach::Possible, vec![step], Some(e.clone())),
                Vec::new(),
                Some(e),
            );
        }
    };
    // The symbolic layout keeps the tags' IPv4 relations: for a subnet with
    // IPv6 space, a symbolic "closed" or "reachable dependency" is not
    // decisive (softened below).
    let soften = ctx.resolver.is_symbolic() && ctx.source.intersects(&AddrSet::all_v6());
    let mut classes = Vec::new();
    for class in Class::ALL {
        if only.is_some_and(|o| o != class) {
            continue;
        }
        let q = match ctx.class_question(class) {
            Ok(q) => q,
            Err(e) => {
                classes.push(ClassVerdict {
                    class,
                    reach: Reach::Possible,
                    chain: vec![Step::new(e.clone(), None)],
                    deciding_input: Some(e),
                    fix: None,
                });
                continue;
            }
        };
        let (surely, possibly) = ctx.first_exits(&q);
        let reach = if surely.is_some() {
            Reach::Reachable
        } else if possibly.is_some() {
            Reach::Possible
        } else {
            Reach::NotReachable
        };
        let (chain, deciding_input) = match reach {
            Reach::Reachable => ctx.trace(&q, surely, class.describe()),
            Reach::Possible => ctx.trace(&q, possibly, class.describe()),
            Reach::NotReachable => ctx.blocked(&q, class.describe()),
        };
        classes.push(ClassVerdict {
            class,
            reach,
            chain,
            deciding_input,
            fix: None,
        });
    }
    let mut deps = Vec::new();
    // A fix check whose class stays open needs nothing more (softened
    // first: a class only symbolically closed is not closed).
    if only.is_some() && (soften || classes.iter().any(|v| v.reach != Reach::NotReachable)) {
        if soften {
            soften_verdicts(&mut classes, &mut deps);
        }
        return (classes, deps, None);
    }
    let ws = c.workspace.and_then(|i| estate.workspaces.get(i));
    for d in DEPS {
        if d.protocol == Protocol::Udp && c.public_ip.get() == Some(&true) {
            continue;
        }
        let reg = if d.regional { region.as_str() } else { "" };
        let (name, addrs) = match tag_or_global(&ctx.resolver, d.tag, reg) {
            Ok(x) => x,
            Err(_) => continue,
        };
        let storage = match d.storage {
            1 => StorageKind::AmlManaged,
            2 => {
                let Some(ws) = ws else { continue };
                StorageKind::Default(ws.default_storage.clone())
            }
            _ => StorageKind::None,
        };
        let ports = PortSet::from_ranges(d.ports.iter().map(|p| (*p, *p)));
        let protos = ProtoSet::single(d.protocol);
        let q = Question {
            packets: pb(
                PacketSet::product(&protos, &addrs.surely, &ports),
                PacketSet::product(&protos, &addrs.possibly, &ports),
            ),
            fresh_hosts: Vec::new(),
            hosts: d
                .hosts
                .iter()
                .map(|h| h.replace("{region}", &region))
                .collect(),
            storage,
        };
        let q = ctx.own_families(q);
        let ports_text: Vec<String> = d.ports.iter().map(u16::to_string).collect();
        let label = format!("{name} {} {}", d.protocol, ports_text.join(","));
        let exits = ctx.exits(&q);
        let reach = if q.packets.surely.is_subset(&exits.surely)
            && q.packets.surely == q.packets.possibly
        {
            Reach::Reachable
        } else if !q.packets.surely.is_subset(&exits.possibly) {
            Reach::NotReachable
        } else {
            Reach::Possible
        };
        let (chain, deciding_input) = match reach {
            Reach::Reachable => (Vec::new(), None),
            Reach::NotReachable => ctx.trace(
                &q,
                q.packets.surely.difference(&exits.possibly).sample(),
                &label,
            ),
            Reach::Possible => ctx.trace(
                &q,
                q.packets.possibly.difference(&exits.surely).sample(),
                &label,
            ),
        };
        deps.push(DepVerdict {
            dependency: Dependency {
                name: label,
                why: d.why.to_string(),
            },
            reach,
            chain,
            deciding_input,
        });
    }
    if soften {
        soften_verdicts(&mut classes, &mut deps);
    }
    (classes, deps, None)
}

/// For a subnet with IPv6 space under symbolic tags (which describe IPv4
/// relations only): a closed class or a reachable dependency is not decisive.
fn soften_verdicts(classes: &mut [ClassVerdict], deps: &mut [DepVerdict]) {
    let why = "the subnet has IPv6 space and symbolic service tags describe IPv4 only: give --service-tags to decide".to_string();
    for v in classes {
        if v.reach == Reach::NotReachable {
            v.reach = Reach::Possible;
            v.deciding_input = Some(why.clone());
        }
    }
    for d in deps {
        if d.reach == Reach::Reachable {
            d.reach = Reach::Possible;
            d.deciding_input = Some(why.clone());
        }
    }
}

/// Everything about one subnet (and one compute's public IP setting) that
/// questions are asked against.
struct SubnetCtx<'a> {
    estate: &'a Estate,
    compute: &'a Compute,
    subnet: &'a Subnet,
    resolver: Addressing<'a>,
    source: AddrSet,
    nsg: Option<(&'a crate::topology::Nsg, std::rc::Rc<OutboundNsg>)>,
    /// The NSG link is unknown or outside the input.
    nsg_unknown: Option<Step>,
    routing: Routing,
    routes_unknown: Option<Step>,
    hops: Vec<(Hop, AddrBounds)>,
    /// The storage endpoint's reach, when the subnet has one (or may).
    endpoint: Option<(Tri, AddrBounds, Step)>,
    internet_way_out: (Tri, Vec<Step>),
    /// Work shared with other computes (firewalls compiled for this
    /// source among it, on first use).
    shared: &'a Shared,
}

impl<'a> SubnetCtx<'a> {
    fn new(
        estate: &'a Estate,
        compute: &'a Compute,
        subnet: &'a Subnet,
        region: &str,
        tags: TagSource<'a>,
        shared: &'a Shared,
    ) -> Result<SubnetCtx<'a>, String> {
        let vnet = subnet
            .vnet_space
            .get()
            .cloned()
            .unwrap_or_else(|| subnet.prefixes.get().cloned().unwrap_or_default());
        let resolver_vnet = vnet.union(&subnet.peered);
        let resolver = Addressing::new(tags, resolver_vnet.clone());
        let source = match subnet.prefixes.get() {
            Some(p) if !p.is_empty() => p.clone(),
            _ => vnet.clone(),
        };
        let (nsg, nsg_unknown) = match &subnet.nsg {
            Link::None => (None, None),
            Link::Index(i) => match estate.nsgs.get(*i).map(std::sync::Arc::as_ref) {
                Some(n) => {
                    // One compilation per NSG content, source and VNet: the
                    // computes of a subnet, and fixes that leave the NSG alone,
                    // share it.
                    let key = (
                        rules_digest(&n.rules),
                        source.clone(),
                        vnet.union(&subnet.peered),
                    );
                    let known = shared.nsgs.borrow().get(&key).cloned();
                    let compiled = match known {
                        Some(c) => c,
                        None => {
                            let c = std::rc::Rc::new(
                                OutboundNsg::new(&n.rules, &source, &resolver)
                                    .map_err(|e| format!("NSG `{}`: {e}", n.name))?,
                            );
                            if !shared.checking.get() {
                                shared.nsgs.borrow_mut().insert(key, c.clone());
                            }
                            c
                        }
                    };
                    (Some((n, compiled)), None)
                }
                None => (None, None),
            },
            Link::Outside(id) => (
                None,
                Some(Step::new(
                    format!("the subnet's NSG `{}` is not in the input", short_id(id)),
                    subnet.nsg_at.clone(),
                )),
            ),
            Link::Unknown(u) => (
                None,
                Some(Step::new(
                    format!("the subnet's NSG is not known offline: {}", u.reason),
                    subnet.nsg_at.clone(),
                )),
            ),
        };
        let mut routes_unknown = None;
        let user_routes: &[crate::route::RouteEntry] = match &subnet.route_table {
            Link::Index(i) => estate
                .route_tables
                .get(*i)
                .map_or(&[], |t| t.routes.as_slice()),
            Link::None => &[],
            Link::Outside(id) => {
                routes_unknown = Some(Step::new(
                    format!(
                        "the subnet's route table `{}` is not in the input",
                        short_id(id)
                    ),
                    subnet.route_table_at.clone(),
                ));
                &[]
            }
            Link::Unknown(u) => {
                routes_unknown = Some(Step::new(
                    format!(
                        "the subnet's route table is not known offline: {}",
                        u.reason
                    ),
                    subnet.route_table_at.clone(),
                ));
                &[]
            }
        };
        let system = SystemRoutes {
            vnet: vnet.clone(),
            peered: subnet.peered.clone(),
            gateway: AddrSet::empty(),
        };
        let routing = Routing::new(user_routes, &system, &resolver)
            .map_err(|e| format!("route table of subnet `{}`: {e}", subnet.name))?;
        let hops = routing.hops();
        let endpoint = match &subnet.storage_endpoint.value {
            Ok(None) => None,
            Ok(Some(se)) => {
                let (name, a) = if se.global {
                    (
                        "Storage".to_string(),
                        resolver.tag("Storage").map_err(|e| e.to_string())?,
                    )
                } else {
                    tag_or_global(&resolver, "Storage", region)?
                };
                let svc = if se.global {
                    "Microsoft.Storage.Global"
                } else {
                    "Microsoft.Storage"
                };
                Some((
                    Tri::Yes,
                    a,
                    Step::new(
                        format!(
                            "subnet `{}` has a `{svc}` service endpoint: traffic to {name} goes over it",
                            subnet.name
                        ),
                        se.at.clone(),
                    ),
                ))
            }
            Err(u) => Some((
                Tri::Maybe,
                resolver.tag("Storage").map_err(|e| e.to_string())?,
                Step::new(
                    format!(
                        "whether subnet `{}` has a storage service endpoint is not known offline: {}",
                        subnet.name, u.reason
                    ),
                    subnet.storage_endpoint.at.clone(),
                ),
            )),
        };
        // Ways out to the internet.
        let mut steps = Vec::new();
        let pip = tri_of(&compute.public_ip);
        if pip != Tri::No {
            steps.push(Step::new(
                if compute.public_ip.written {
                    format!("{} has public IP addresses", compute.label())
                } else {
                    format!(
                        "{} has public IP addresses (`enableNodePublicIp` is absent, which means true)",
                        compute.label()
                    )
                },
                compute.public_ip.at.clone(),
            ));
        }
        let nat = tri_of(&subnet.nat_gateway);
        if nat != Tri::No {
            steps.push(Step::new(
                format!("subnet `{}` has a NAT gateway", subnet.name),
                subnet.nat_gateway.at.clone(),
            ));
        }
        let doa = tri_of(&subnet.default_outbound);
        if doa != Tri::No {
            steps.push(Step::new(
                if subnet.default_outbound.written {
                    format!("subnet `{}` has default outbound access", subnet.name)
                } else {
                    format!(
                        "subnet `{}` has default outbound access (`defaultOutboundAccess` is absent, which means true for its API version)",
                        subnet.name
                    )
                },
                subnet.default_outbound.at.clone().or_else(|| Some(subnet.prov.clone())),
            ));
        }
        let way = tri_or(tri_or(pip, nat), doa);
        if way == Tri::No {
            steps.push(Step::new(
                format!(
                    "no way out to the internet: the compute has no public IP, subnet `{}` has no NAT gateway and default outbound access is off",
                    subnet.name
                ),
                subnet.default_outbound.at.clone().or_else(|| Some(subnet.prov.clone())),
            ));
        }
        Ok(SubnetCtx {
            estate,
            compute,
            subnet,
            resolver,
            source,
            nsg,
            nsg_unknown,
            routing,
            routes_unknown,
            hops,
            endpoint,
            internet_way_out: (way, steps),
            shared,
        })
    }

    /// Only destinations of the address families the subnet has: a compute
    /// in an IPv4-only subnet sends no IPv6 packets.
    /// The question for a class, restricted to the source's families;
    /// shared by every subnet of the same network (see [`Common`]).
    fn class_question(&self, class: Class) -> Result<Question, String> {
        let key = (
            class,
            self.resolver.virtual_network().clone(),
            self.source.intersects(&AddrSet::all_v4()),
            self.source.intersects(&AddrSet::all_v6()),
        );
        self.shared.common.questions.get_or_init(key, || {
            class_question(&self.resolver, class).map(|q| self.own_families(q))
        })
    }

    fn own_families(&self, mut q: Question) -> Question {
        // Symbolic tags are synthetic IPv4 blocks that stand for both
        // families; subnets with IPv6 space get their symbolic answers
        // softened instead (see `subnet_verdicts`).
        if self.resolver.is_symbolic() {
            return q;
        }
        let mut fam = AddrSet::empty();
        if self.source.intersects(&AddrSet::all_v4()) {
            fam = fam.union(&AddrSet::all_v4());
        }
        if self.source.intersects(&AddrSet::all_v6()) {
            fam = fam.union(&AddrSet::all_v6());
        }
        let f = addr_packets(&AddrBounds::exact(fam));
        q.packets = pb_inter(&q.packets, &f);
        q
    }

    /// The NSG stage: the packets of `q` it lets out.
    fn after_nsg(&self, q: &Allowed) -> Allowed {
        match (&self.nsg, &self.nsg_unknown) {
            (Some((_, n)), _) => pb_inter(q, n.allowed()),
            (None, Some(_)) => pb(PacketSet::empty(), q.possibly.clone()),
            (None, None) => q.clone(),
        }
    }

    /// Whether the subnet's service endpoint policies let storage traffic of
    /// this kind through, with the evidence.
    fn policy_gate(&self, kind: &StorageKind) -> (Tri, Vec<Step>, Option<String>) {
        let subnet = self.subnet;
        let links = match &subnet.policies.value {
            Err(u) => {
                return (
                    Tri::Maybe,
                    vec![Step::new(
                        format!(
                            "the service endpoint policies of subnet `{}` are not known offline",
                            subnet.name
                        ),
                        subnet.policies.at.clone(),
                    )],
                    Some(u.input.clone().unwrap_or_else(|| u.reason.clone())),
                );
            }
            Ok(l) => l,
        };
        if links.is_empty() {
            return (
                Tri::Yes,
                vec![Step::new(
                    format!(
                        "subnet `{}` has no service endpoint policy: every storage account is reachable over the endpoint",
                        subnet.name
                    ),
                    subnet
                        .policies
                        .at
                        .clone()
                        .or_else(|| Some(subnet.prov.clone())),
                )],
                None,
            );
        }
        let mut entries = Vec::new();
        for l in links {
            match l {
                Link::Index(i) => {
                    let Some(p) = self.estate.policies.get(*i) else {
                        continue;
                    };
                    match &p.entries.value {
                        Ok(es) => entries.extend(es.iter().map(|e| (e.clone(), p))),
                        Err(u) => {
                            return (
                                Tri::Maybe,
                                vec![Step::new(
                                    format!(
                                        "the entries of service endpoint policy `{}` are not known offline",
                                        p.name
                                    ),
                                    p.entries.at.clone().or_else(|| Some(p.prov.clone())),
                                )],
                                Some(u.input.clone().unwrap_or_else(|| u.reason.clone())),
                            );
                        }
                    }
                }
                Link::Outside(id) => {
                    return (
                        Tri::Maybe,
                        vec![Step::new(
                            format!(
                                "service endpoint policy `{}` is not in the input",
                                short_id(id)
                            ),
                            subnet.policies.at.clone(),
                        )],
                        Some(format!("the service endpoint policy `{}`", short_id(id))),
                    );
                }
                Link::Unknown(u) => {
                    return (
                        Tri::Maybe,
                        vec![Step::new(
                            "a service endpoint policy of the subnet is not known offline",
                            subnet.policies.at.clone(),
                        )],
                        Some(u.input.clone().unwrap_or_else(|| u.reason.clone())),
                    );
                }
                Link::None => {}
            }
        }
        let names: Vec<String> = links
            .iter()
            .filter_map(|l| match l {
                Link::Index(i) => self
                    .estate
                    .policies
                    .get(*i)
                    .map(|p| format!("`{}`", p.name)),
                _ => None,
            })
            .collect();
        let at = links.iter().find_map(|l| match l {
            Link::Index(i) => self.estate.policies.get(*i).map(|p| p.prov.clone()),
            _ => None,
        });
        let names = names.join(", ");
        match kind {
            StorageKind::Foreign => {
                if let Some((e, _)) = entries.iter().find(|(e, _)| {
                    matches!(
                        entry_scope(&e.value),
                        EntryScope::Subscription | EntryScope::ResourceGroup
                    )
                }) {
                    return (
                        Tri::Maybe,
                        vec![Step::new(
                            format!(
                                "service endpoint policy {names} allows every account in `{}`: anyone who can create a storage account there can write out",
                                e.value
                            ),
                            e.at.clone().or(at),
                        )],
                        Some(format!("who can create storage accounts in `{}`", e.value)),
                    );
                }
                (
                    Tri::No,
                    vec![Step::new(
                        format!(
                            "service endpoint policy {names} allows only the listed accounts and aliases"
                        ),
                        at,
                    )],
                    None,
                )
            }
            StorageKind::AmlManaged => {
                if entries.iter().any(|(e, _)| is_aml_alias(&e.value)) {
                    (Tri::Yes, Vec::new(), None)
                } else {
                    (
                        Tri::No,
                        vec![Step::new(
                            format!(
                                "service endpoint policy {names} does not list the alias `/services/Azure/MachineLearning`, so AML's Microsoft-managed storage accounts are blocked"
                            ),
                            at,
                        )],
                        None,
                    )
                }
            }
            StorageKind::Default(id) => {
                let Some(id) = id else {
                    return (
                        Tri::Maybe,
                        Vec::new(),
                        Some("the workspace's storage account".to_string()),
                    );
                };
                if entries.iter().any(|(e, _)| entry_covers(&e.value, id)) {
                    (Tri::Yes, Vec::new(), None)
                } else {
                    (
                        Tri::No,
                        vec![Step::new(
                            format!(
                                "service endpoint policy {names} does not list the workspace's storage account `{}`",
                                short_id(id)
                            ),
                            at,
                        )],
                        None,
                    )
                }
            }
            StorageKind::None => (Tri::Yes, Vec::new(), None),
        }
    }

    /// The packets of `q` that leave the network towards their destination.
    fn exits(&self, q: &Question) -> Allowed {
        let mut sets = Sets(pb_empty());
        self.exits_into(q, &mut sets);
        sets.0
    }

    /// The first packet (as [`PacketSet::sample`] orders them) of the
    /// surely and of the possibly exiting packets: what a class question
    /// needs, found without building the large intersections of the last
    /// steps. The same packets as `exits(q).surely.sample()` and
    /// `exits(q).possibly.sample()`.
    fn first_exits(&self, q: &Question) -> (Option<Packet>, Option<Packet>) {
        let mut firsts = Firsts(None, None);
        self.exits_into(q, &mut firsts);
        debug_assert_eq!(
            (firsts.0, firsts.1),
            {
                let e = self.exits(q);
                (e.surely.sample(), e.possibly.sample())
            },
            "first exits disagree with the exit sets"
        );
        (firsts.0, firsts.1)
    }

    /// The packets of `q` that get out, each way out given to `sink`.
    ///
    /// The NSG is met last, by the part of `q` each way out takes: the ways
    /// out split by destination address, which a question (a few boxes)
    /// takes cheaply and the NSG's sets (many) do not. Every step is an
    /// intersection or difference, so the order changes no result; a sink
    /// that only wants the first packets never builds the large meets.
    fn exits_into(&self, q: &Question, sink: &mut dyn Sink) {
        let nsg = self.nsg_bound();
        let n = &q.packets;
        if !n.possibly.intersects(&nsg.possibly) {
            return;
        }
        let rest = match &self.endpoint {
            Some((t, addrs, _)) if q.storage != StorageKind::None => {
                let (g, _, _) = self.policy_gate(&q.storage);
                sink.add_meet(&pb_to(n, addrs), &nsg, tri_and(*t, g));
                match t {
                    Tri::Yes => pb_outside(n, addrs),
                    _ => pb(
                        n.surely.difference(&addr_packets(addrs).possibly),
                        n.possibly.clone(),
                    ),
                }
            }
            _ => n.clone(),
        };
        let rest = if self.routes_unknown.is_some() {
            pb(PacketSet::empty(), rest.possibly)
        } else {
            rest
        };
        for (hop, addrs) in &self.hops {
            let routed = pb_to(&rest, addrs);
            if routed.possibly.is_empty() {
                continue;
            }
            match hop {
                Hop::Internet => sink.add_meet(&routed, &nsg, self.internet_way_out.0),
                Hop::Appliance(ip) => self.through_appliance(*ip, &routed, &nsg, q, sink),
                Hop::Gateway => sink.add_meet(&routed, &nsg, Tri::Maybe),
                Hop::Drop | Hop::VnetLocal | Hop::Peering => {}
            }
        }
    }

    /// What the subnet's NSG lets out, as bounds (everything when there is
    /// no NSG; possibly everything when it is not known).
    fn nsg_bound(&self) -> Allowed {
        match (&self.nsg, &self.nsg_unknown) {
            (Some((_, n)), _) => n.allowed().clone(),
            (None, Some(_)) => pb(PacketSet::empty(), PacketSet::universe()),
            (None, None) => pb(PacketSet::universe(), PacketSet::universe()),
        }
    }

    /// The firewall an appliance hop leads to: `(index, certain)`. A firewall
    /// whose private address is not written is matched by the address Azure
    /// usually gives it (the subnet's fourth), as a guess: then what it
    /// blocks stays possible.
    fn firewall_at(&self, ip: Option<IpAddr>) -> Option<(usize, bool)> {
        let ip = ip?;
        let fws = &self.estate.firewalls;
        if let Some(i) = fws
            .iter()
            .position(|f| f.matches_next_hop(ip) == Some(true))
        {
            return Some((i, true));
        }
        fws.iter()
            .position(|f| f.matches_next_hop(ip).is_none() && f.usual_private_ip() == Some(ip))
            .map(|i| (i, false))
    }

    fn compiled(&self, i: usize) -> Option<std::rc::Rc<Result<CompiledFirewall, String>>> {
        let fw = self.estate.firewalls.get(i)?;
        let vnet = if fw.names_network_tags() {
            self.resolver.virtual_network().clone()
        } else {
            AddrSet::empty()
        };
        let key = (i, vnet.clone(), self.source.clone());
        if let Some(c) = self.shared.firewalls.borrow().get(&key) {
            return Some(c.clone());
        }
        let rules = self.shared.common.rules.get_or_init((i, vnet.clone()), || {
            std::sync::Arc::new(fw.compile_rules(&self.resolver).map_err(|e| e.to_string()))
        });
        let c = match rules.as_ref() {
            Ok(r) => Ok(r.for_source(&self.source)),
            Err(e) => Err(e.clone()),
        };
        if let Ok(cf) = &c {
            let stage = self
                .shared
                .common
                .stages
                .get_or_init((i, vnet, cf.stage_key()), || cf.network_stage().clone());
            cf.share_network_stage(stage);
        }
        let c = std::rc::Rc::new(c);
        self.shared.firewalls.borrow_mut().insert(key, c.clone());
        Some(c)
    }

    /// Packets routed to a virtual appliance (`routed`, before the NSG
    /// bound `nsg`): what its firewall lets out.
    fn through_appliance(
        &self,
        ip: Option<IpAddr>,
        routed: &Allowed,
        nsg: &Allowed,
        q: &Question,
        sink: &mut dyn Sink,
    ) {
        let Some((i, certain)) = self.firewall_at(ip) else {
            return sink.add_meet(routed, nsg, Tri::Maybe);
        };
        let Some(compiled) = self.compiled(i) else {
            return sink.add_meet(routed, nsg, Tri::Maybe);
        };
        let Ok(fw) = compiled.as_ref() else {
            return sink.add_meet(routed, nsg, Tri::Maybe);
        };
        let stage = fw.network_stage();
        sink.add_meet3(routed, nsg, &stage.allowed, Tri::Yes);
        let (web_protos, web_ports) = tcp(&[80, 443]);
        let web = pb(
            PacketSet::product(&web_protos, &AddrSet::all(), &web_ports),
            PacketSet::product(&web_protos, &AddrSet::all(), &web_ports),
        );
        // Web traffic first: a thin slice, so what is left to meet the
        // (large) NSG and unmatched sets stays small.
        let web_routed = pb_inter(routed, &web);
        if PacketSet::first_common3(
            &web_routed.possibly,
            &nsg.possibly,
            &stage.unmatched.possibly,
        )
        .is_some()
        {
            let t = self.app_gate(fw, q);
            sink.add_meet3(&web_routed, nsg, &stage.unmatched, t);
        }
        // A guessed firewall: everything routed to it may get out (what it
        // surely lets out stays sure).
        if !certain {
            sink.add_meet(routed, nsg, Tri::Maybe);
        }
    }

    /// Whether the firewall's application rules let the question's hosts out.
    fn app_gate(&self, fw: &CompiledFirewall, q: &Question) -> Tri {
        if !q.fresh_hosts.is_empty() {
            let mut t = Tri::No;
            for s in &q.fresh_hosts {
                for (h, _) in host_query(s) {
                    for svc in [Service::https(443), Service::http(80)] {
                        let v = fw.application_verdict(&h, &svc);
                        t = tri_or(t, app_tri(&v.verdict));
                    }
                }
            }
            t
        } else if !q.hosts.is_empty() {
            let mut all = Tri::Yes;
            for h in &q.hosts {
                let v = fw.application_verdict(&dep_host(h), &Service::https(443));
                match app_tri(&v.verdict) {
                    Tri::No => return Tri::No,
                    Tri::Maybe => all = Tri::Maybe,
                    Tri::Yes => {}
                }
            }
            all
        } else {
            Tri::No
        }
    }

    /// The evidence chain for one packet of a question (reachable or possible).
    fn trace(
        &self,
        q: &Question,
        p: Option<crate::space::Packet>,
        what: &str,
    ) -> (Vec<Step>, Option<String>) {
        let mut steps = Vec::new();
        let mut input = None;
        let Some(p) = p else {
            return (steps, input);
        };
        // NSG.
        match (&self.nsg, &self.nsg_unknown) {
            (Some((n, compiled)), _) => {
                let ev = compiled.explain(&p);
                if let Some(r) = &ev.decided_by {
                    let mut step = Step::new(
                        format!("NSG `{}` {} {} to {what}", n.name, r, verb(r.access)),
                        r.prov.clone().or_else(|| Some(n.prov.clone())),
                    );
                    step.nsg_rule = Some(r.name.clone());
                    steps.push(step);
                }
                for d in &ev.doubts {
                    steps.push(nsg_doubt_step(&n.name, d));
                    input = input.or_else(|| d.reasons.first().cloned());
                }
                if matches!(ev.verdict, crate::nsg::Verdict::Denied) {
                    return (steps, input);
                }
            }
            (None, Some(s)) => {
                steps.push(s.clone());
                input = input.or_else(|| Some(s.text.clone()));
            }
            (None, None) => steps.push(Step::new(
                format!(
                    "subnet `{}` has no NSG: all outbound traffic is allowed",
                    self.subnet.name
                ),
                self.subnet
                    .nsg_at
                    .clone()
                    .or_else(|| Some(self.subnet.prov.clone())),
            )),
        }
        // Service endpoint.
        if let Some((t, addrs, step)) = &self.endpoint
            && q.storage != StorageKind::None
            && addrs.possibly.contains(p.destination)
        {
            steps.push(step.clone());
            let (g, mut gsteps, ginput) = self.policy_gate(&q.storage);
            steps.append(&mut gsteps);
            if *t == Tri::Maybe {
                input = input.or_else(|| self.subnet.storage_endpoint.deciding_input());
            }
            input = input.or(ginput);
            if g != Tri::No || addrs.surely.contains(p.destination) {
                if g != Tri::No {
                    steps.push(Step::new(format!("→ {what}"), None));
                }
                return (steps, input);
            }
        }
        // Routing.
        if let Some(s) = &self.routes_unknown {
            steps.push(s.clone());
            input = input.or_else(|| Some(s.text.clone()));
        }
        let ev = self.routing.explain(p.destination);
        let route_text = match &ev.route {
            Some(r) => format!(
                "{} route `{}` ({})",
                if r.user { "user" } else { "system" },
                r.name,
                r.prefix
            ),
            None => "the routes".to_string(),
        };
        let route_at = ev.route.as_ref().and_then(|r| r.prov.clone());
        // Doubts matter only when another route could send it elsewhere.
        let other_hop = ev.hop.is_none() || ev.possible.iter().any(|h| Some(*h) != ev.hop);
        if other_hop {
            for d in &ev.doubts {
                steps.push(Step::new(d.clone(), route_at.clone()));
                input = input.or_else(|| Some(d.clone()));
            }
        }
        match ev.hop {
            Some(Hop::Internet) => {
                steps.push(Step::new(
                    format!("{route_text} sends it to the internet"),
                    route_at,
                ));
                steps.extend(self.internet_way_out.1.iter().cloned());
                if self.internet_way_out.0 == Tri::Maybe {
                    input = input
                        .or_else(|| self.compute.public_ip.deciding_input())
                        .or_else(|| self.subnet.nat_gateway.deciding_input())
                        .or_else(|| self.subnet.default_outbound.deciding_input());
                }
            }
            Some(Hop::Appliance(ip)) => {
                let ip_text = ip.map_or("an address not known offline".to_string(), |i| {
                    i.to_string()
                });
                steps.push(Step::new(
                    format!("{route_text} sends it to the virtual appliance at {ip_text}"),
                    route_at,
                ));
                match self.firewall_at(ip) {
                    Some((i, certain)) => {
                        if !certain {
                            steps.push(Step::new(
                                format!("assuming the appliance is firewall `{}` (the usual address of its subnet; its private address is not written)", self.estate.firewalls.get(i).map_or("", |f| f.name.as_str())),
                                self.estate.firewalls.get(i).and_then(|f| f.prov.clone()),
                            ));
                            input = input.or_else(|| {
                                Some(format!("the private address of the appliance at {ip_text}"))
                            });
                        }
                        let (s, i) = self.firewall_steps(i, q, &p);
                        steps.extend(s);
                        input = input.or(i);
                    }
                    None => {
                        steps.push(Step::new(
                            format!("no firewall of the input has the address {ip_text}: what the appliance allows is not known"),
                            None,
                        ));
                        input = input.or_else(|| {
                            Some(format!("the rules of the virtual appliance at {ip_text}"))
                        });
                    }
                }
            }
            Some(Hop::Drop) => steps.push(Step::new(
                format!("{route_text} drops it (next hop None)"),
                route_at,
            )),
            Some(Hop::VnetLocal) | Some(Hop::Peering) => steps.push(Step::new(
                format!("{route_text} keeps it inside the virtual network"),
                route_at,
            )),
            Some(Hop::Gateway) => {
                steps.push(Step::new(
                    format!("{route_text} sends it to the virtual network gateway (on-premises, not in the input)"),
                    route_at,
                ));
                input = input.or_else(|| Some("what the on-premises network allows".to_string()));
            }
            None => {}
        }
        if !steps.is_empty() {
            steps.push(Step::new(format!("→ {what}"), None));
        }
        (steps, input)
    }

    fn firewall_steps(
        &self,
        i: usize,
        q: &Question,
        p: &crate::space::Packet,
    ) -> (Vec<Step>, Option<String>) {
        let mut steps = Vec::new();
        let Some(fwr) = self.estate.firewalls.get(i) else {
            return (steps, None);
        };
        let compiled = self.compiled(i);
        let fw = match compiled.as_deref() {
            Some(Ok(fw)) => fw,
            Some(Err(e)) => {
                steps.push(Step::new(
                    format!("firewall `{}` cannot be evaluated: {e}", fwr.name),
                    fwr.prov.clone(),
                ));
                return (steps, Some(e.clone()));
            }
            None => return (steps, None),
        };
        let mut input = None;
        let ev = fw.explain_packet(p);
        for d in &ev.doubts {
            steps.push(Step::new(
                format!(
                    "firewall `{}`: {} may decide it instead: {}",
                    fwr.name,
                    d.rule,
                    d.reasons.join("; ")
                ),
                d.rule.prov.clone(),
            ));
            input = input.or_else(|| d.reasons.first().cloned());
        }
        match ev.outcome {
            crate::firewall::NetOutcome::Allowed | crate::firewall::NetOutcome::Denied => {
                if let Some(r) = &ev.decided_by {
                    let verb = if ev.outcome == crate::firewall::NetOutcome::Allowed {
                        "allows"
                    } else {
                        "denies"
                    };
                    steps.push(Step::new(
                        format!("firewall `{}`: {r} {verb} it", fwr.name),
                        r.prov.clone().or_else(|| fwr.prov.clone()),
                    ));
                }
                return (steps, input);
            }
            _ => {}
        }
        let hosts: Vec<(HostQuery, String)> = if !q.fresh_hosts.is_empty() {
            q.fresh_hosts.iter().flat_map(|s| host_query(s)).collect()
        } else {
            q.hosts
                .iter()
                .map(|h| (dep_host(h), format!("`{h}`")))
                .collect()
        };
        steps.push(Step::new(
            format!(
                "firewall `{}`: no network rule matches it; application rules decide by host name",
                fwr.name
            ),
            fwr.prov.clone(),
        ));
        let mut shown = false;
        for (h, label) in &hosts {
            let v = fw.application_verdict(h, &Service::https(443));
            let keep = if q.fresh_hosts.is_empty() {
                v.verdict != Verdict::Allowed
            } else {
                v.verdict != Verdict::Denied
            };
            if !keep {
                continue;
            }
            let what = match v.verdict {
                Verdict::Allowed => "allows",
                Verdict::Denied => "denies",
                Verdict::Unknown => "may allow",
            };
            match &v.decided_by {
                Some(r) => steps.push(Step::new(
                    format!("firewall `{}`: {r} {what} {label}", fwr.name),
                    r.prov.clone(),
                )),
                None => steps.push(Step::new(
                    format!(
                        "firewall `{}`: no application rule allows {label}",
                        fwr.name
                    ),
                    fwr.prov.clone(),
                )),
            }
            for d in &v.doubts {
                input = input.or_else(|| d.reasons.first().cloned());
            }
            shown = true;
            break;
        }
        if !shown && q.fresh_hosts.is_empty() {
            steps.push(Step::new(
                format!(
                    "firewall `{}`: application rules allow every host it needs",
                    fwr.name
                ),
                fwr.prov.clone(),
            ));
        } else if !shown {
            steps.push(Step::new(
                format!(
                    "firewall `{}`: no application rule allows such a host",
                    fwr.name
                ),
                fwr.prov.clone(),
            ));
        }
        (steps, input)
    }

    /// Why nothing of a class gets out: the first stage that stops it on each branch.
    fn blocked(&self, q: &Question, what: &str) -> (Vec<Step>, Option<String>) {
        // A packet the NSG may let out shows what stops it later; when the
        // NSG stops everything, any packet of the question shows the NSG.
        let n = self.after_nsg(&q.packets);
        let nsg_stops_all = n.possibly.is_empty();
        let sample = if nsg_stops_all {
            q.packets.possibly.sample()
        } else {
            n.possibly.sample()
        };
        let (mut steps, input) = self.trace(q, sample, what);
        steps.retain(|s| !s.text.starts_with('→'));
        (steps, if nsg_stops_all { None } else { input })
    }
}

fn verb(a: Option<crate::nsg::Access>) -> &'static str {
    match a {
        Some(crate::nsg::Access::Allow) => "lets traffic out",
        Some(crate::nsg::Access::Deny) => "blocks traffic",
        None => "decides traffic",
    }
}

fn app_tri(v: &Verdict) -> Tri {
    match v {
        Verdict::Allowed => Tri::Yes,
        Verdict::Denied => Tri::No,
        Verdict::Unknown => Tri::Maybe,
    }
}

// ---------------------------------------------------------------------------
// Managed networks.

fn managed_verdicts(
    estate: &Estate,
    wi: usize,
    tags: TagSource<'_>,
) -> (Vec<ClassVerdict>, Vec<DepVerdict>) {
    let Some(ws) = estate.workspaces.get(wi) else {
        return (Vec::new(), Vec::new());
    };
    let mode_step = |text: String| {
        Step::new(
            text,
            ws.managed.at.clone().or_else(|| Some(ws.prov.clone())),
        )
    };
    match ws.managed.get() {
        Some(ManagedMode::AllowInternetOutbound) => (
            all_classes(
                Reach::Reachable,
                vec![mode_step(format!(
                    "workspace `{}` has a managed network in `AllowInternetOutbound` mode: all internet egress is allowed",
                    ws.name
                ))],
                None,
            ),
            Vec::new(),
        ),
        Some(ManagedMode::AllowOnlyApprovedOutbound) => {
            let resolver = Addressing::new(tags, AddrSet::empty());
            let mut out = Vec::new();
            for class in Class::ALL {
                let mut reach = Reach::NotReachable;
                let mut chain = vec![mode_step(format!(
                    "workspace `{}` has a managed network in `AllowOnlyApprovedOutbound` mode",
                    ws.name
                ))];
                let mut input = None;
                let class_addrs = class_addresses(&resolver, class).ok();
                for r in ws.outbound_rules.iter().filter(|r| !r.required) {
                    let here = match &r.kind {
                        ManagedRuleKind::Fqdn(dest) => match fqdn::parse(dest) {
                            Some(pat) => {
                                if class
                                    .host_suffixes()
                                    .iter()
                                    .any(|s| fqdn::covers_fresh(&pat, s))
                                {
                                    Reach::Reachable
                                } else {
                                    Reach::NotReachable
                                }
                            }
                            None => Reach::NotReachable,
                        },
                        ManagedRuleKind::ServiceTag { tag, deny } => {
                            if *deny {
                                Reach::NotReachable
                            } else {
                                match (resolver.tag(tag), &class_addrs) {
                                    (Ok(a), Some(c)) => {
                                        if a.surely.intersects(&c.surely) {
                                            Reach::Reachable
                                        } else if a.possibly.intersects(&c.possibly) {
                                            Reach::Possible
                                        } else {
                                            Reach::NotReachable
                                        }
                                    }
                                    _ => Reach::Possible,
                                }
                            }
                        }
                        ManagedRuleKind::PrivateEndpoint { resource } => match resource {
                            Some(id) if estate.owned.contains(&id.trim().to_ascii_lowercase()) => {
                                Reach::NotReachable
                            }
                            Some(id) => {
                                let is_storage = id
                                    .to_ascii_lowercase()
                                    .contains("/providers/microsoft.storage/storageaccounts/");
                                if (class == Class::Storage) == is_storage
                                    && class != Class::Internet
                                    && class != Class::FrontDoor
                                {
                                    Reach::Possible
                                } else {
                                    Reach::NotReachable
                                }
                            }
                            None => {
                                if class == Class::Storage || class == Class::Writable {
                                    Reach::Possible
                                } else {
                                    Reach::NotReachable
                                }
                            }
                        },
                        ManagedRuleKind::Unknown(_) => Reach::Possible,
                    };
                    if here == Reach::NotReachable {
                        continue;
                    }
                    let text = match &r.kind {
                        ManagedRuleKind::Fqdn(d) => {
                            format!("outbound rule `{}` allows FQDN `{d}`", r.name)
                        }
                        ManagedRuleKind::ServiceTag { tag, .. } => {
                            format!("outbound rule `{}` allows service tag `{tag}`", r.name)
                        }
                        ManagedRuleKind::PrivateEndpoint { resource } => format!(
                            "outbound rule `{}` adds a private endpoint to {}, which the deployment does not own",
                            r.name,
                            resource.as_deref().map_or(
                                "a resource not known offline".to_string(),
                                |i| format!("`{}`", short_id(i))
                            )
                        ),
                        ManagedRuleKind::Unknown(u) => {
                            format!(
                                "outbound rule `{}` is not known offline: {}",
                                r.name, u.reason
                            )
                        }
                    };
                    if here == Reach::Possible {
                        input = input.or_else(|| match &r.kind {
                            ManagedRuleKind::Unknown(u) => {
                                u.input.clone().or_else(|| Some(u.reason.clone()))
                            }
                            ManagedRuleKind::PrivateEndpoint { resource } => Some(format!(
                                "who owns {}",
                                resource
                                    .as_deref()
                                    .map_or("the private endpoint's target".to_string(), short_id)
                            )),
                            _ => Some("a service-tag file (--service-tags)".to_string()),
                        });
                    }
                    if here < reach {
                        reach = here;
                        chain.truncate(1);
                        chain.push(Step::new(text, Some(r.prov.clone())));
                    } else if here == reach && chain.len() < 2 {
                        chain.push(Step::new(text, Some(r.prov.clone())));
                    }
                }
                if reach == Reach::NotReachable {
                    chain.push(Step::new(
                        "no user-defined outbound rule allows it; the required rules Azure adds lead only to services an insider cannot write to",
                        None,
                    ));
                } else {
                    chain.push(Step::new(format!("→ {}", class.describe()), None));
                }
                out.push(ClassVerdict {
                    class,
                    reach,
                    chain,
                    deciding_input: if reach == Reach::Possible {
                        input
                    } else {
                        None
                    },
                    fix: None,
                });
            }
            (out, Vec::new())
        }
        Some(ManagedMode::Disabled) | None => (
            all_classes(
                Reach::Possible,
                vec![mode_step(format!(
                    "the managed network of workspace `{}` is not known offline",
                    ws.name
                ))],
                ws.managed.deciding_input(),
            ),
            Vec::new(),
        ),
    }
}
