//! Network security group semantics.
//!
//! What Azure does (docs/azure-ml-network.md §4.7, from the NSG overview
//! [S10]): the rules of one direction run in ascending priority and the first
//! rule that matches a packet decides it; the default rules are always there
//! below the user's rules (priorities 100–4096):
//!
//! - outbound: 65000 `AllowVnetOutBound`, 65001 `AllowInternetOutBound`,
//!   65500 `DenyAllOutBound`;
//! - inbound: 65000 `AllowVNetInBound`, 65001 `AllowAzureLoadBalancerInBound`,
//!   65500 `DenyAllInbound`.
//!
//! Outbound traffic passes the NIC's NSG, then the subnet's; inbound traffic
//! the subnet's, then the NIC's. Both must allow it, and a missing NSG allows
//! everything. Rules are stateful, so only the direction that opens a flow is
//! asked about.
//!
//! What this module computes: for a set of rules and the addresses of the
//! compute's side (the sources of outbound traffic, the destinations of
//! inbound traffic), the packets the NSG lets through, as exact
//! [`PacketSet`]s. A packet is the protocol, the address of the *other* side
//! (the destination outbound, the source inbound) and the destination port.
//! For one packet, [`Evidence`] names the rule that decides it.
//!
//! The compute's own address and the source port are not fixed: a cluster's
//! nodes take any address of the subnet, and source ports are ephemeral. A
//! packet is *surely* allowed when it is allowed whichever they are, and
//! *possibly* allowed when it is for some. The compute's side is split into
//! parts on which every rule either applies or not, and each part is
//! evaluated exactly (up to [`MAX_PARTS`] parts; beyond, the parts are merged
//! and the result stays sound, only wider).
//!
//! Values not known offline. A rule with an unknown part is kept and flagged
//! ([`Rule::is_unknown`]). It then has two match sets: the packets it surely
//! matches and those it may match. An address item the resolver knows only
//! in bounds (a service tag without a service-tag file, a literal public
//! prefix in symbolic mode) adds its `surely` addresses to the first and its
//! `possibly` addresses to the second. Evaluation gives two bounds
//! ([`Allowed`]): `surely` (allowed whatever the unknowns turn out to be) and
//! `possibly` (allowed for some value of them). Per packet both bounds are
//! exact for independent unknowns: at an unknown rule, the worst case denies
//! the packet if the rule may deny and may match it, and otherwise lets it
//! fall through unless the rule surely matches and allows; the best case is
//! the mirror image. A rule of unknown priority (it lies somewhere in
//! 100–4096) is put first where it can hurt (a rule that may deny, for
//! `surely`; one that may allow, for `possibly`) and after every other user
//! rule, still before the default rules, where it can only help. When
//! nothing is unknown and the parts of the compute's side agree, the bounds
//! are equal. The same value used by two rules is taken as two independent
//! unknowns: the bounds stay sound, possibly wider than needed.

mod model;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::Hash;

use amlguard_model::{Prov, UnknownValue};

use crate::resolve::{AddrBounds, AddressResolver, ResolveError};
use crate::space::{AddrSet, Packet, PacketSet, PortSet, ProtoSet, Protocol, atoms};

pub use model::rules_from_model;

/// The direction of a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    /// `Inbound` or `Outbound`, in any case.
    pub fn parse(text: &str) -> Option<Direction> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("inbound") {
            Some(Direction::Inbound)
        } else if t.eq_ignore_ascii_case("outbound") {
            Some(Direction::Outbound)
        } else {
            None
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Inbound => "Inbound",
            Direction::Outbound => "Outbound",
        })
    }
}

/// What a rule does with the packets it matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    Allow,
    Deny,
}

impl Access {
    /// `Allow` or `Deny`, in any case.
    pub fn parse(text: &str) -> Option<Access> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("allow") {
            Some(Access::Allow)
        } else if t.eq_ignore_ascii_case("deny") {
            Some(Access::Deny)
        } else {
            None
        }
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Access::Allow => "Allow",
            Access::Deny => "Deny",
        })
    }
}

/// The protocol of a rule: `*` or one of the five NSGs name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProtocolSpec {
    Any,
    Tcp,
    Udp,
    Icmp,
    Esp,
    Ah,
}

impl ProtocolSpec {
    /// The values Azure accepts (`SecurityRuleProtocol`): `*`, `Tcp`, `Udp`,
    /// `Icmp`, `Esp`, `Ah`, in any case.
    pub fn parse(text: &str) -> Option<ProtocolSpec> {
        Some(match text.trim().to_ascii_lowercase().as_str() {
            "*" => ProtocolSpec::Any,
            "tcp" => ProtocolSpec::Tcp,
            "udp" => ProtocolSpec::Udp,
            "icmp" => ProtocolSpec::Icmp,
            "esp" => ProtocolSpec::Esp,
            "ah" => ProtocolSpec::Ah,
            _ => return None,
        })
    }

    /// The IP protocols the rule matches. `Icmp` is taken to cover ICMPv6
    /// (protocol 58) too, since an NSG has no separate value for it.
    pub fn protocols(self) -> ProtoSet {
        match self {
            ProtocolSpec::Any => ProtoSet::all(),
            ProtocolSpec::Tcp => ProtoSet::single(Protocol::Tcp),
            ProtocolSpec::Udp => ProtoSet::single(Protocol::Udp),
            ProtocolSpec::Icmp => ProtoSet::of(&[Protocol::Icmp, Protocol::Other(58)]),
            ProtocolSpec::Esp => ProtoSet::single(Protocol::Esp),
            ProtocolSpec::Ah => ProtoSet::single(Protocol::Ah),
        }
    }
}
/// A value of a rule as the input gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Setting<T> {
    Known(T),
    /// Not known offline; [`Rule::unknown`] says why and what decides it.
    Unknown,
    /// Written, but not a value Azure accepts here (the text as written; an
    /// empty text when a required value is missing).
    Invalid(String),
}

impl<T> Setting<T> {
    pub fn known(&self) -> Option<&T> {
        match self {
            Setting::Known(t) => Some(t),
            _ => None,
        }
    }
}

/// One address item of a rule (an element of `…AddressPrefix(es)` or
/// `…ApplicationSecurityGroups`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddressSpec {
    /// `*` or `Any`.
    Any,
    /// An address or CIDR prefix, with the text as written.
    Prefix(AddrSet, String),
    /// A service tag or a virtual tag (`VirtualNetwork`, `Internet`, …).
    Tag(String),
    /// An application security group, by resource ID.
    Asg(String),
}

impl AddressSpec {
    /// Reads one address item: `*`/`Any`, an address or prefix, or a tag name.
    /// Text that looks like an address but is not one is invalid, not a tag.
    pub fn parse(text: &str) -> Setting<AddressSpec> {
        let t = text.trim();
        if t == "*" || t.eq_ignore_ascii_case("any") {
            return Setting::Known(AddressSpec::Any);
        }
        match AddrSet::parse(t) {
            Ok(set) => Setting::Known(AddressSpec::Prefix(set, t.to_string())),
            Err(_) => {
                let tag_like = !t.is_empty()
                    && t.chars().any(|c| c.is_ascii_alphabetic())
                    && t.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
                    && !t.contains(':');
                if tag_like && !looks_numeric(t) {
                    Setting::Known(AddressSpec::Tag(t.to_string()))
                } else {
                    Setting::Invalid(t.to_string())
                }
            }
        }
    }
}

/// Hex digits and dots only, e.g. `10.0.0.a`: a broken address, not a tag.
fn looks_numeric(t: &str) -> bool {
    t.split('.').count() == 4 && t.chars().all(|c| c.is_ascii_hexdigit() || c == '.')
}

impl fmt::Display for AddressSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressSpec::Any => f.write_str("*"),
            AddressSpec::Prefix(_, t) | AddressSpec::Tag(t) => f.write_str(t),
            AddressSpec::Asg(id) => write!(f, "application security group {id}"),
        }
    }
}

/// One port item of a rule: `*`, `443` or `8000-8010`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PortSpec {
    Any,
    Range(u16, u16),
}

impl PortSpec {
    pub fn parse(text: &str) -> Setting<PortSpec> {
        let t = text.trim();
        if t == "*" || t.eq_ignore_ascii_case("any") {
            return Setting::Known(PortSpec::Any);
        }
        let parsed = match t.split_once('-') {
            Some((a, b)) => a
                .trim()
                .parse::<u16>()
                .ok()
                .zip(b.trim().parse::<u16>().ok()),
            None => t.parse::<u16>().ok().map(|p| (p, p)),
        };
        match parsed {
            Some((lo, hi)) if lo <= hi => Setting::Known(PortSpec::Range(lo, hi)),
            _ => Setting::Invalid(t.to_string()),
        }
    }

    pub fn ports(self) -> PortSet {
        match self {
            PortSpec::Any => PortSet::all(),
            PortSpec::Range(lo, hi) => PortSet::range(lo, hi),
        }
    }
}

/// Why part of a rule is not known offline.
#[derive(Clone, Debug, PartialEq)]
pub struct UnknownPart {
    /// The property (`destinationAddressPrefix`, `priority`, `condition`, …).
    pub field: String,
    pub value: UnknownValue,
    pub at: Option<Prov>,
}

/// One security rule, as the input gives it.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub name: String,
    pub priority: Setting<u32>,
    pub direction: Setting<Direction>,
    pub access: Setting<Access>,
    pub protocol: Setting<ProtocolSpec>,
    /// `sourceAddressPrefix(es)` and `sourceApplicationSecurityGroups`, together.
    pub source: Vec<Setting<AddressSpec>>,
    /// `sourcePortRange(s)`, together.
    pub source_ports: Vec<Setting<PortSpec>>,
    /// `destinationAddressPrefix(es)` and `destinationApplicationSecurityGroups`, together.
    pub destination: Vec<Setting<AddressSpec>>,
    /// `destinationPortRange(s)`, together.
    pub destination_ports: Vec<Setting<PortSpec>>,
    /// Whether the rule is deployed: `Unknown` when its deployment condition is
    /// not known offline or it is only referenced (`existing`, its properties
    /// then being in Azure, not in the input).
    pub exists: Setting<bool>,
    /// One of Azure's default rules.
    pub default: bool,
    /// Why the unknown parts are unknown.
    pub unknown: Vec<UnknownPart>,
    /// Where the rule is written.
    pub prov: Option<Prov>,
}

impl Rule {
    /// An outbound rule for everything (`*` protocol, sources, ports and
    /// destinations), to narrow with the `with_…` methods.
    pub fn outbound(name: &str, priority: u32, access: Access) -> Rule {
        Rule {
            name: name.to_string(),
            priority: Setting::Known(priority),
            direction: Setting::Known(Direction::Outbound),
            access: Setting::Known(access),
            protocol: Setting::Known(ProtocolSpec::Any),
            source: vec![Setting::Known(AddressSpec::Any)],
            source_ports: vec![Setting::Known(PortSpec::Any)],
            destination: vec![Setting::Known(AddressSpec::Any)],
            destination_ports: vec![Setting::Known(PortSpec::Any)],
            exists: Setting::Known(true),
            default: false,
            unknown: Vec::new(),
            prov: None,
        }
    }

    /// An inbound rule for everything, to narrow with the `with_…` methods.
    pub fn inbound(name: &str, priority: u32, access: Access) -> Rule {
        Rule {
            direction: Setting::Known(Direction::Inbound),
            ..Rule::outbound(name, priority, access)
        }
    }

    pub fn with_protocol(mut self, p: ProtocolSpec) -> Rule {
        self.protocol = Setting::Known(p);
        self
    }
    /// Destinations: `*`, prefixes or tags.
    pub fn with_destinations(mut self, items: &[&str]) -> Rule {
        self.destination = items.iter().map(|t| AddressSpec::parse(t)).collect();
        self
    }
    /// Destination ports: `*`, `443`, `8000-8010`.
    pub fn with_destination_ports(mut self, items: &[&str]) -> Rule {
        self.destination_ports = items.iter().map(|t| PortSpec::parse(t)).collect();
        self
    }
    /// Sources: `*`, prefixes or tags.
    pub fn with_sources(mut self, items: &[&str]) -> Rule {
        self.source = items.iter().map(|t| AddressSpec::parse(t)).collect();
        self
    }
    /// Source ports: `*`, `443`, `8000-8010`.
    pub fn with_source_ports(mut self, items: &[&str]) -> Rule {
        self.source_ports = items.iter().map(|t| PortSpec::parse(t)).collect();
        self
    }

    /// Whether any part of the rule is not known offline.
    pub fn is_unknown(&self) -> bool {
        !self.unknown.is_empty()
            || matches!(self.priority, Setting::Unknown)
            || matches!(self.direction, Setting::Unknown)
            || matches!(self.access, Setting::Unknown)
            || matches!(self.protocol, Setting::Unknown)
            || matches!(self.exists, Setting::Unknown)
            || self.source.iter().any(|s| matches!(s, Setting::Unknown))
            || self
                .source_ports
                .iter()
                .any(|s| matches!(s, Setting::Unknown))
            || self
                .destination
                .iter()
                .any(|s| matches!(s, Setting::Unknown))
            || self
                .destination_ports
                .iter()
                .any(|s| matches!(s, Setting::Unknown))
    }
}

/// Azure's default outbound rules, which every NSG has below its own.
pub fn default_outbound_rules() -> Vec<Rule> {
    let mut vnet = Rule::outbound("AllowVnetOutBound", 65000, Access::Allow)
        .with_sources(&["VirtualNetwork"])
        .with_destinations(&["VirtualNetwork"]);
    let mut internet = Rule::outbound("AllowInternetOutBound", 65001, Access::Allow)
        .with_destinations(&["Internet"]);
    let mut deny = Rule::outbound("DenyAllOutBound", 65500, Access::Deny);
    for r in [&mut vnet, &mut internet, &mut deny] {
        r.default = true;
    }
    vec![vnet, internet, deny]
}

/// Azure's default inbound rules, which every NSG has below its own.
pub fn default_inbound_rules() -> Vec<Rule> {
    let mut vnet = Rule::inbound("AllowVNetInBound", 65000, Access::Allow)
        .with_sources(&["VirtualNetwork"])
        .with_destinations(&["VirtualNetwork"]);
    let mut lb = Rule::inbound("AllowAzureLoadBalancerInBound", 65001, Access::Allow)
        .with_sources(&["AzureLoadBalancer"]);
    let mut deny = Rule::inbound("DenyAllInbound", 65500, Access::Deny);
    for r in [&mut vnet, &mut lb, &mut deny] {
        r.default = true;
    }
    vec![vnet, lb, deny]
}

/// The default rules of a direction.
pub fn default_rules(direction: Direction) -> Vec<Rule> {
    match direction {
        Direction::Outbound => default_outbound_rules(),
        Direction::Inbound => default_inbound_rules(),
    }
}

// ---------------------------------------------------------------------------
// Errors.

/// A rule that cannot be evaluated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NsgError {
    pub rule: String,
    pub kind: NsgErrorKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NsgErrorKind {
    /// A tag the resolver does not know (an unknown tag is an error, never an
    /// empty set).
    Resolve(ResolveError),
    /// A value Azure does not accept.
    Invalid { field: &'static str, value: String },
    /// A required value is missing.
    Missing { field: &'static str },
}

impl fmt::Display for NsgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "security rule `{}`: ", self.rule)?;
        match &self.kind {
            NsgErrorKind::Resolve(e) => e.fmt(f),
            NsgErrorKind::Invalid { field, value } => {
                write!(f, "`{value}` is not a valid {field}")
            }
            NsgErrorKind::Missing { field } => write!(f, "no {field} is set"),
        }
    }
}

impl std::error::Error for NsgError {}

// ---------------------------------------------------------------------------
// Results.

/// A rule as named in evidence.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleRef {
    pub name: String,
    pub priority: Option<u32>,
    pub access: Option<Access>,
    pub default: bool,
    /// Its index in the rules given (`None` for a default rule).
    pub index: Option<usize>,
    pub prov: Option<Prov>,
}

impl fmt::Display for RuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.default {
            f.write_str("default ")?;
        }
        write!(f, "rule `{}` (", self.name)?;
        match self.priority {
            Some(p) => write!(f, "priority {p}")?,
            None => f.write_str("priority unknown")?,
        }
        match self.access {
            Some(a) => write!(f, ", {a})"),
            None => f.write_str(", access unknown)"),
        }
    }
}

/// What an NSG lets through, in one direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allowed {
    /// Allowed whatever the unknown values are.
    pub surely: PacketSet,
    /// Allowed for some value of the unknowns (a superset of `surely`).
    pub possibly: PacketSet,
}

impl Allowed {
    /// Everything, exactly (no NSG).
    pub fn everything() -> Allowed {
        Allowed {
            surely: PacketSet::universe(),
            possibly: PacketSet::universe(),
        }
    }
    /// Nothing, exactly.
    pub fn nothing() -> Allowed {
        Allowed {
            surely: PacketSet::empty(),
            possibly: PacketSet::empty(),
        }
    }
    /// The one answer, when nothing unknown affects it.
    pub fn exact(&self) -> Option<&PacketSet> {
        (self.surely == self.possibly).then_some(&self.surely)
    }
    /// Both must allow.
    pub fn intersection(&self, other: &Allowed) -> Allowed {
        Allowed {
            surely: self.surely.intersection(&other.surely),
            possibly: self.possibly.intersection(&other.possibly),
        }
    }
    /// The verdict on one packet.
    pub fn verdict(&self, p: &Packet) -> Verdict {
        if self.surely.contains(p) {
            Verdict::Allowed
        } else if self.possibly.contains(p) {
            Verdict::Unknown
        } else {
            Verdict::Denied
        }
    }
}

/// Traffic must pass both NSGs (NIC and subnet, in either direction): the
/// packets both allow. A missing NSG allows everything.
pub fn effective(nic: Option<&Allowed>, subnet: Option<&Allowed>) -> Allowed {
    match (nic, subnet) {
        (Some(a), Some(b)) => a.intersection(b),
        (Some(a), None) | (None, Some(a)) => a.clone(),
        (None, None) => Allowed::everything(),
    }
}

/// A verdict on one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    Allowed,
    Denied,
    /// Depends on values not known offline.
    Unknown,
}

/// A rule that may decide a packet before the deciding rule, and why it is not sure to.
#[derive(Clone, Debug, PartialEq)]
pub struct Doubt {
    pub rule: RuleRef,
    pub reasons: Vec<String>,
}

/// Why one NSG allows or denies one packet.
#[derive(Clone, Debug, PartialEq)]
pub struct Evidence {
    pub verdict: Verdict,
    /// The first rule, in priority order, that surely matches the packet.
    /// `None` only when the compute's side is empty (no traffic at all).
    pub decided_by: Option<RuleRef>,
    /// Rules before it that may match the packet (parts unknown offline), or
    /// that decide it differently for some of the compute's addresses or
    /// source ports: they could decide it instead.
    pub doubts: Vec<Doubt>,
}

// ---------------------------------------------------------------------------
// Evaluation.

/// At most this many parts of the compute's side (addresses × source ports)
/// are evaluated apart. Beyond, parts are merged: still sound, less precise.
pub const MAX_PARTS: usize = 64;

/// How surely a rule applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Tri {
    No,
    Maybe,
    Sure,
}

impl Tri {
    fn of(sure: bool, may: bool) -> Tri {
        if sure {
            Tri::Sure
        } else if may {
            Tri::Maybe
        } else {
            Tri::No
        }
    }
}

/// A rule ready for evaluation.
#[derive(Clone, Debug)]
struct Compiled {
    rule: RuleRef,
    access: Option<Access>,
    priority: Option<u32>,
    /// Whether it exists and is of the direction evaluated.
    applies: Tri,
    /// The addresses of the compute's side it covers (its sources outbound,
    /// its destinations inbound).
    local: AddrBounds,
    /// The source ports it covers: (surely, possibly).
    source_ports: (PortSet, PortSet),
    /// The packets it surely / possibly matches, where it applies.
    min: PacketSet,
    max: PacketSet,
    doubts: Vec<String>,
}

impl Compiled {
    /// How surely the rule applies to every address and source port of a part.
    fn status(&self, addrs: &AddrSet, ports: &PortSet) -> Tri {
        let a = Tri::of(
            addrs.is_subset(&self.local.surely),
            addrs.intersects(&self.local.possibly),
        );
        let p = Tri::of(
            ports.is_subset(&self.source_ports.0),
            ports.intersects(&self.source_ports.1),
        );
        self.applies.min(a).min(p)
    }
}

/// Parts of the compute's side on which every rule has the same status.
#[derive(Clone, Debug)]
struct Part {
    /// The first region (addresses × source ports) with these statuses.
    addrs: AddrSet,
    ports: PortSet,
    /// Every region with these statuses is one region (nothing to tell apart).
    whole: bool,
    /// Per rule (in evaluation order).
    status: Vec<Tri>,
    allowed: Allowed,
}

/// The rules of one NSG and one direction, evaluated for one compute's side.
#[derive(Clone, Debug)]
struct Evaluated {
    direction: Direction,
    /// In evaluation order: unknown priorities first, then ascending priority.
    rules: Vec<Compiled>,
    parts: Vec<Part>,
    allowed: Allowed,
}

impl Evaluated {
    fn new(
        direction: Direction,
        rules: &[Rule],
        local: &AddrSet,
        resolver: &dyn AddressResolver,
    ) -> Result<Evaluated, NsgError> {
        let defaults = default_rules(direction);
        let mut compiled = Vec::with_capacity(rules.len() + defaults.len());
        for (i, r) in rules.iter().enumerate() {
            if let Some(c) = compile(r, Some(i), direction, resolver)? {
                compiled.push(c);
            }
        }
        for r in &defaults {
            if let Some(c) = compile(r, None, direction, resolver)? {
                compiled.push(c);
            }
        }
        // Stable: rules of equal priority (which Azure rejects) keep input order.
        compiled.sort_by_key(|c| c.priority.map_or(0, u64::from));
        let parts = parts(&compiled, local);
        let mut surely: Option<PacketSet> = None;
        let mut possibly = PacketSet::empty();
        for p in &parts {
            surely = Some(match surely {
                None => p.allowed.surely.clone(),
                Some(s) => s.intersection(&p.allowed.surely),
            });
            possibly = possibly.union(&p.allowed.possibly);
        }
        let allowed = Allowed {
            surely: surely.unwrap_or_else(PacketSet::empty),
            possibly,
        };
        Ok(Evaluated {
            direction,
            rules: compiled,
            parts,
            allowed,
        })
    }

    fn explain(&self, p: &Packet) -> Evidence {
        let verdict = self.allowed.verdict(p);
        let traces: Vec<(&Part, Verdict, Trace)> = self
            .parts
            .iter()
            .map(|part| {
                let v = part.allowed.verdict(p);
                (part, v, trace(&self.rules, &part.status, p))
            })
            .collect();
        // A part that shows the verdict: any part for a sure verdict; for an
        // uncertain one, a part uncertain in itself, else a part that denies
        // (the parts that allow are added as doubts).
        let pick = match verdict {
            Verdict::Unknown => traces
                .iter()
                .position(|(_, v, _)| *v == Verdict::Unknown)
                .or_else(|| traces.iter().position(|(_, v, _)| *v == Verdict::Denied)),
            _ => traces.first().map(|_| 0),
        };
        let Some((_, shown, chosen)) = pick.and_then(|i| traces.get(i)) else {
            return Evidence {
                verdict,
                decided_by: None,
                doubts: Vec::new(),
            };
        };
        let mut doubts = chosen.doubts.clone();
        if verdict == Verdict::Unknown && *shown == Verdict::Denied {
            let mut named: HashSet<Option<usize>> = HashSet::new();
            for (part, v, t) in &traces {
                if *v != Verdict::Allowed {
                    continue;
                }
                let Some(r) = &t.decided_by else { continue };
                if chosen.decided_by.as_ref() == Some(r) || !named.insert(r.index) {
                    continue;
                }
                doubts.push(Doubt {
                    rule: r.clone(),
                    reasons: vec![self.part_reason(part)],
                });
            }
        }
        Evidence {
            verdict,
            decided_by: chosen.decided_by.clone(),
            doubts,
        }
    }

    /// Why a rule decides differently for one part of the compute's side.
    fn part_reason(&self, part: &Part) -> String {
        let (side, prep) = match self.direction {
            Direction::Outbound => ("source addresses", "from"),
            Direction::Inbound => ("destination addresses", "to"),
        };
        let mut text = format!("it decides the packet for traffic {prep} {}", part.addrs);
        if !part.ports.is_all() {
            text.push_str(&format!(" with source ports {}", part.ports));
        }
        if !part.whole {
            text.push_str(" (among others)");
        }
        text.push_str(&format!(
            ": the rules apply to only some of the {side} or source ports"
        ));
        text
    }
}

/// The deciding rule and the doubts for one packet in one part.
struct Trace {
    decided_by: Option<RuleRef>,
    doubts: Vec<Doubt>,
}

fn trace(rules: &[Compiled], status: &[Tri], p: &Packet) -> Trace {
    let mut doubts = Vec::new();
    for (c, st) in rules.iter().zip(status) {
        if *st == Tri::No {
            continue;
        }
        let sure = *st == Tri::Sure && c.min.contains(p);
        if sure && c.access.is_some() && c.priority.is_some() {
            return Trace {
                decided_by: Some(c.rule.clone()),
                doubts,
            };
        }
        if c.max.contains(p) {
            doubts.push(Doubt {
                rule: c.rule.clone(),
                reasons: c.doubts.clone(),
            });
        }
    }
    Trace {
        decided_by: None,
        doubts,
    }
}

/// The parts of the compute's side and what each lets through.
fn parts(rules: &[Compiled], local: &AddrSet) -> Vec<Part> {
    let addr_cuts: Vec<&AddrSet> = rules
        .iter()
        .flat_map(|c| [&c.local.surely, &c.local.possibly])
        .collect();
    let port_cuts: Vec<&PortSet> = rules
        .iter()
        .flat_map(|c| [&c.source_ports.0, &c.source_ports.1])
        .collect();
    // Just the whole side when the cuts make too many parts.
    let mut addrs = atoms(local, &addr_cuts, MAX_PARTS).unwrap_or_else(|| vec![local.clone()]);
    let mut ports =
        atoms(&PortSet::all(), &port_cuts, MAX_PARTS).unwrap_or_else(|| vec![PortSet::all()]);
    if addrs.len().saturating_mul(ports.len()) > MAX_PARTS {
        ports = vec![PortSet::all()];
    }
    if addrs.len() > MAX_PARTS {
        addrs = vec![local.clone()];
    }
    let mut groups: HashMap<Vec<Tri>, usize> = HashMap::new();
    let mut out: Vec<Part> = Vec::new();
    for a in &addrs {
        for p in &ports {
            let status: Vec<Tri> = rules.iter().map(|c| c.status(a, p)).collect();
            match groups.get(&status).and_then(|i| out.get_mut(*i)) {
                Some(part) => part.whole = false,
                None => {
                    groups.insert(status.clone(), out.len());
                    let allowed = evaluate(rules, &status);
                    out.push(Part {
                        addrs: a.clone(),
                        ports: p.clone(),
                        whole: true,
                        status,
                        allowed,
                    });
                }
            }
        }
    }
    out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Bound {
    Surely,
    Possibly,
}

/// Both bounds for one part, given each rule's status there.
fn evaluate(rules: &[Compiled], status: &[Tri]) -> Allowed {
    let surely = first_match(&bound_list(rules, status, Bound::Surely));
    let exact = rules.iter().zip(status).all(|(c, st)| match st {
        Tri::No => true,
        Tri::Maybe => false,
        Tri::Sure => c.access.is_some() && c.priority.is_some() && c.min == c.max,
    });
    let possibly = if exact {
        surely.clone()
    } else {
        first_match(&bound_list(rules, status, Bound::Possibly))
    };
    Allowed { surely, possibly }
}

/// The concrete rule list whose first-match result is the bound: each
/// uncertain rule in its worst (or best) role and place.
fn bound_list<'a>(
    rules: &'a [Compiled],
    status: &[Tri],
    bound: Bound,
) -> Vec<(Access, &'a PacketSet)> {
    let (hurts, helps) = match bound {
        Bound::Surely => (Access::Deny, Access::Allow),
        Bound::Possibly => (Access::Allow, Access::Deny),
    };
    let mut out = Vec::with_capacity(rules.len());
    // Rules of unknown priority that can only help: after every user rule,
    // before the default rules (user priorities are 100–4096).
    let mut late = Vec::new();
    let mut late_placed = false;
    for (c, st) in rules.iter().zip(status) {
        if c.rule.default && !late_placed {
            out.append(&mut late);
            late_placed = true;
        }
        if *st == Tri::No {
            continue;
        }
        match c.access {
            // May act against the bound: wherever it may match, at its place
            // (first, when its place is unknown: the list starts with them).
            None => out.push((hurts, &c.max)),
            Some(a) if a == hurts => out.push((hurts, &c.max)),
            // Can only act for the bound: only where it surely matches.
            Some(_) => {
                if *st == Tri::Sure {
                    if c.priority.is_some() {
                        out.push((helps, &c.min));
                    } else {
                        late.push((helps, &c.min));
                    }
                }
            }
        }
    }
    out.append(&mut late);
    out
}

/// First match wins: the packets the first rule matching them allows.
fn first_match(rules: &[(Access, &PacketSet)]) -> PacketSet {
    let list: Vec<(bool, &PacketSet)> = rules
        .iter()
        .map(|(a, m)| (*a == Access::Allow, *m))
        .collect();
    crate::space::first_match(&list)
}

// ---------------------------------------------------------------------------
// The public evaluators.

/// An NSG's outbound rules, evaluated for traffic from one compute.
#[derive(Clone, Debug)]
pub struct OutboundNsg(Evaluated);

impl OutboundNsg {
    /// Evaluates `rules` (the NSG's own; the default rules are added) for
    /// traffic from `source` (the addresses the NIC may have, e.g. the
    /// subnet's prefix for a cluster whose nodes come and go). Packets name
    /// the destination address and port.
    pub fn new(
        rules: &[Rule],
        source: &AddrSet,
        resolver: &dyn AddressResolver,
    ) -> Result<OutboundNsg, NsgError> {
        Evaluated::new(Direction::Outbound, rules, source, resolver).map(OutboundNsg)
    }

    /// The packets the NSG lets out.
    pub fn allowed(&self) -> &Allowed {
        &self.0.allowed
    }

    /// Why the NSG allows or denies `p`.
    pub fn explain(&self, p: &Packet) -> Evidence {
        self.0.explain(p)
    }
}

/// An NSG's inbound rules, evaluated for traffic to one compute.
#[derive(Clone, Debug)]
pub struct InboundNsg(Evaluated);

impl InboundNsg {
    /// Evaluates `rules` (the NSG's own; the default rules are added) for
    /// traffic to `destination` (the addresses the compute may have). A
    /// packet's address is the *source* of the traffic; its port is the
    /// destination port (e.g. TCP 44224 from `AzureMachineLearning`).
    pub fn new(
        rules: &[Rule],
        destination: &AddrSet,
        resolver: &dyn AddressResolver,
    ) -> Result<InboundNsg, NsgError> {
        Evaluated::new(Direction::Inbound, rules, destination, resolver).map(InboundNsg)
    }

    /// The packets (protocol × source address × destination port) the NSG lets in.
    pub fn allowed(&self) -> &Allowed {
        &self.0.allowed
    }

    /// Why the NSG allows or denies `p` (its address is the source).
    pub fn explain(&self, p: &Packet) -> Evidence {
        self.0.explain(p)
    }
}

/// The packets an NSG's outbound rules let out from `source`.
pub fn allowed_outbound(
    rules: &[Rule],
    source: &AddrSet,
    resolver: &dyn AddressResolver,
) -> Result<Allowed, NsgError> {
    OutboundNsg::new(rules, source, resolver).map(|n| n.0.allowed)
}

/// The packets an NSG's inbound rules let in to `destination` (addresses in
/// the packets are sources).
pub fn allowed_inbound(
    rules: &[Rule],
    destination: &AddrSet,
    resolver: &dyn AddressResolver,
) -> Result<Allowed, NsgError> {
    InboundNsg::new(rules, destination, resolver).map(|n| n.0.allowed)
}

/// The verdict of both NSGs on one packet, with each one's evidence.
#[derive(Clone, Debug, PartialEq)]
pub struct EffectiveEvidence {
    pub verdict: Verdict,
    /// `None`: the NIC has no NSG.
    pub nic: Option<Evidence>,
    /// `None`: the subnet has no NSG.
    pub subnet: Option<Evidence>,
}

/// Why `p` gets out (or not) past the NIC's NSG and then the subnet's.
pub fn explain_effective(
    nic: Option<&OutboundNsg>,
    subnet: Option<&OutboundNsg>,
    p: &Packet,
) -> EffectiveEvidence {
    combine(nic.map(|n| n.explain(p)), subnet.map(|n| n.explain(p)))
}

/// Why `p` (its address being the source) gets in (or not) past the subnet's
/// NSG and then the NIC's.
pub fn explain_effective_inbound(
    subnet: Option<&InboundNsg>,
    nic: Option<&InboundNsg>,
    p: &Packet,
) -> EffectiveEvidence {
    combine(nic.map(|n| n.explain(p)), subnet.map(|n| n.explain(p)))
}

fn combine(nic: Option<Evidence>, subnet: Option<Evidence>) -> EffectiveEvidence {
    let verdicts = [&nic, &subnet].map(|e| e.as_ref().map_or(Verdict::Allowed, |e| e.verdict));
    let verdict = if verdicts.contains(&Verdict::Denied) {
        Verdict::Denied
    } else if verdicts.contains(&Verdict::Unknown) {
        Verdict::Unknown
    } else {
        Verdict::Allowed
    };
    EffectiveEvidence {
        verdict,
        nic,
        subnet,
    }
}

// ---------------------------------------------------------------------------
// Compiling one rule.

/// Union of a rule's address items, with why it is not exact.
fn addresses(
    rule: &Rule,
    items: &[Setting<AddressSpec>],
    field: &'static str,
    resolver: &dyn AddressResolver,
    doubts: &mut Vec<String>,
) -> Result<AddrBounds, NsgError> {
    let err = |kind| NsgError {
        rule: rule.name.clone(),
        kind,
    };
    if items.is_empty() {
        return Err(err(NsgErrorKind::Missing { field }));
    }
    let unknown_bounds = || AddrBounds {
        surely: AddrSet::empty(),
        possibly: AddrSet::all(),
    };
    let mut out = AddrBounds::empty();
    for item in items {
        let b = match item {
            Setting::Known(AddressSpec::Any) => AddrBounds::exact(AddrSet::all()),
            Setting::Known(AddressSpec::Prefix(set, text)) => {
                let b = resolver.prefix(set);
                if !b.is_exact() {
                    doubts.push(format!(
                        "whether {field} `{text}` covers part of a service tag is not known \
                         without a service-tag file (--service-tags)"
                    ));
                }
                b
            }
            Setting::Known(AddressSpec::Tag(name)) => {
                let b = resolver
                    .tag(name)
                    .map_err(|e| err(NsgErrorKind::Resolve(e)))?;
                if !b.is_exact() {
                    doubts.push(format!(
                        "the addresses of {field} `{name}` are not known exactly offline \
                         (a service-tag file, --service-tags, gives service tags' prefixes)"
                    ));
                }
                b
            }
            Setting::Known(AddressSpec::Asg(id)) => match resolver.asg(id) {
                Ok(b) => {
                    if !b.is_exact() {
                        doubts.push(format!(
                            "the members of application security group `{id}` are not fully known"
                        ));
                    }
                    b
                }
                Err(ResolveError::UnknownAsg { .. }) => {
                    doubts.push(format!(
                        "the members of application security group `{id}` are not known offline"
                    ));
                    unknown_bounds()
                }
                Err(e) => return Err(err(NsgErrorKind::Resolve(e))),
            },
            Setting::Unknown => unknown_bounds(),
            Setting::Invalid(v) if v.is_empty() => {
                return Err(err(NsgErrorKind::Missing { field }));
            }
            Setting::Invalid(v) => {
                return Err(err(NsgErrorKind::Invalid {
                    field,
                    value: v.clone(),
                }));
            }
        };
        out = out.union(&b);
    }
    Ok(out)
}

/// Union of a rule's port items: (surely, possibly).
fn ports(
    rule: &Rule,
    items: &[Setting<PortSpec>],
    field: &'static str,
) -> Result<(PortSet, PortSet), NsgError> {
    let err = |kind| NsgError {
        rule: rule.name.clone(),
        kind,
    };
    if items.is_empty() {
        return Err(err(NsgErrorKind::Missing { field }));
    }
    let mut known = Vec::new();
    let mut unknown = false;
    for item in items {
        match item {
            Setting::Known(PortSpec::Any) => known.push((u16::MIN, u16::MAX)),
            Setting::Known(PortSpec::Range(lo, hi)) => known.push((*lo, *hi)),
            Setting::Unknown => unknown = true,
            Setting::Invalid(v) if v.is_empty() => {
                return Err(err(NsgErrorKind::Missing { field }));
            }
            Setting::Invalid(v) => {
                return Err(err(NsgErrorKind::Invalid {
                    field,
                    value: v.clone(),
                }));
            }
        }
    }
    let known = PortSet::from_ranges(known);
    let possibly = if unknown {
        PortSet::all()
    } else {
        known.clone()
    };
    Ok((known, possibly))
}

/// A scalar setting: `Ok(Some)` known, `Ok(None)` unknown, `Err` invalid or
/// missing (an empty invalid text).
fn scalar<T: Copy>(
    rule: &Rule,
    s: &Setting<T>,
    field: &'static str,
) -> Result<Option<T>, NsgError> {
    let kind = match s {
        Setting::Known(t) => return Ok(Some(*t)),
        Setting::Unknown => return Ok(None),
        Setting::Invalid(v) if v.is_empty() => NsgErrorKind::Missing { field },
        Setting::Invalid(v) => NsgErrorKind::Invalid {
            field,
            value: v.clone(),
        },
    };
    Err(NsgError {
        rule: rule.name.clone(),
        kind,
    })
}

/// A rule's match sets for traffic of `dir`; `None` when it cannot apply
/// (the other direction, or not deployed).
fn compile(
    rule: &Rule,
    index: Option<usize>,
    dir: Direction,
    resolver: &dyn AddressResolver,
) -> Result<Option<Compiled>, NsgError> {
    let exists = scalar(rule, &rule.exists, "rule declaration")?;
    let direction = scalar(rule, &rule.direction, "direction")?;
    if exists == Some(false) || direction.is_some_and(|d| d != dir) {
        return Ok(None);
    }
    let priority = scalar(rule, &rule.priority, "priority")?;
    let access = scalar(rule, &rule.access, "access")?;
    let protocol = scalar(rule, &rule.protocol, "protocol")?;

    let mut doubts = Vec::new();
    for u in &rule.unknown {
        let mut reason = format!("`{}` is not known offline: {}", u.field, u.value.reason);
        if let Some(input) = &u.value.input {
            reason.push_str(&format!(" (set {input} to decide)"));
        }
        doubts.push(reason);
    }
    let (local_items, local_field, remote_items, remote_field) = match dir {
        Direction::Outbound => (
            &rule.source,
            "source address",
            &rule.destination,
            "destination address",
        ),
        Direction::Inbound => (
            &rule.destination,
            "destination address",
            &rule.source,
            "source address",
        ),
    };
    let local = addresses(rule, local_items, local_field, resolver, &mut doubts)?;
    let remote = addresses(rule, remote_items, remote_field, resolver, &mut doubts)?;
    let source_ports = ports(rule, &rule.source_ports, "source port range")?;
    let (port_min, port_max) = ports(rule, &rule.destination_ports, "destination port range")?;

    if rule.unknown.is_empty() {
        let mut note = |cond: bool, what: &str| {
            if cond {
                doubts.push(what.to_string());
            }
        };
        note(priority.is_none(), "its priority is not known");
        note(access.is_none(), "its access is not known");
        note(direction.is_none(), "its direction is not known");
        note(exists.is_none(), "whether it is deployed is not known");
        note(protocol.is_none(), "its protocol is not known");
        let unknown_item =
            |items: &[Setting<AddressSpec>]| items.iter().any(|s| matches!(s, Setting::Unknown));
        note(
            unknown_item(remote_items) || unknown_item(local_items),
            "its addresses are not fully known",
        );
        note(
            port_min != port_max || source_ports.0 != source_ports.1,
            "its ports are not fully known",
        );
    }

    let applies = if exists == Some(true) && direction == Some(dir) {
        Tri::Sure
    } else {
        Tri::Maybe
    };
    let (proto_min, proto_max) = match protocol {
        Some(p) => (p.protocols(), p.protocols()),
        None => (ProtoSet::empty(), ProtoSet::all()),
    };
    let min = PacketSet::product(&proto_min, &remote.surely, &port_min);
    let max = PacketSet::product(&proto_max, &remote.possibly, &port_max);
    Ok(Some(Compiled {
        rule: RuleRef {
            name: rule.name.clone(),
            priority,
            access,
            default: rule.default,
            index,
            prov: rule.prov.clone(),
        },
        access,
        priority,
        applies,
        local,
        source_ports,
        min,
        max,
        doubts,
    }))
}

#[cfg(test)]
mod tests;
