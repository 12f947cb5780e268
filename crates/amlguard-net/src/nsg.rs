//! Network security group semantics for traffic leaving a network interface.
//!
//! What Azure does (docs/azure-ml-network.md §4.7): the rules of one direction
//! run in ascending priority and the first rule that matches a packet decides
//! it; the default rules are always there below the user's rules
//! (65000 `AllowVnetOutBound`, 65001 `AllowInternetOutBound`, 65500
//! `DenyAllOutBound`). Outbound traffic passes the NIC's NSG, then the
//! subnet's; both must allow it, and a missing NSG allows everything.
//!
//! What this module computes: for a set of rules, the packets (protocol ×
//! destination × destination port) that the NSG lets out from a given set of
//! source addresses, as an exact [`PacketSet`]; and, for one packet, the rule
//! that decides it ([`Evidence`]).
//!
//! Values not known offline. A rule with an unknown part is kept and flagged
//! ([`Rule::is_unknown`]). It then has two match sets: the packets it surely
//! matches and those it may match. Evaluation gives two bounds ([`Allowed`]):
//! `surely` (allowed whatever the unknowns turn out to be) and `possibly`
//! (allowed for some value of them). Per packet both bounds are exact for
//! independent unknowns: at an unknown rule, the worst case denies the packet
//! if the rule may deny and may match it, and otherwise lets it fall through
//! unless the rule surely matches and allows; the best case is the mirror
//! image. A rule of unknown priority is put first where it can hurt (a rule
//! that may deny, for `surely`; one that may allow, for `possibly`) and left
//! out where it can only help. When nothing is unknown the bounds are equal.
//!
//! The same two-bound treatment covers rules that apply to only some of the
//! possible sources (a rule for one node's address when the source is a whole
//! subnet, or a rule limited to some source ports): they may match, not surely.

mod model;

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use amlguard_model::{Prov, UnknownValue};

use crate::space::{AddrSet, Packet, PacketSet, PortSet, ProtoSet, Protocol};
use crate::tags::{ServiceTags, UnknownTag};

// pub use model::rules_from_model;

/// The direction of a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    Inbound,
    Outbound,
}

/// What a rule does with the packets it matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    Allow,
    Deny,
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
    /// `*`, `Any`, `Tcp`, `Udp`, `Icmp`, `Esp`, `Ah` (any case).
    pub fn parse(text: &str) -> Option<ProtocolSpec> {
        Some(match text.trim().to_ascii_lowercase().as_str() {
            "*" | "any" => ProtocolSpec::Any,
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
    /// Written, but not a value Azure accepts here (the text as written).
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
    /// not known offline or it is only referenced (`existing`).
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

// ---------------------------------------------------------------------------
// Resolving names to addresses.

/// Why a name in a rule has no addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResolveError {
    /// A service tag that the service-tag file does not have.
    UnknownTag(UnknownTag),
    /// A service tag, but no service-tag file was given.
    NoServiceTags { name: String },
    /// An application security group whose members are not known.
    UnknownAsg { id: String },
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolveError::UnknownTag(e) => e.fmt(f),
            ResolveError::NoServiceTags { name } => write!(
                f,
                "service tag `{name}` needs a service-tag file (--service-tags) to be resolved"
            ),
            ResolveError::UnknownAsg { id } => {
                write!(
                    f,
                    "the members of application security group `{id}` are not known"
                )
            }
        }
    }
}

impl std::error::Error for ResolveError {}

/// Turns the names in rules into addresses: tags (service tags and the virtual
/// tags `VirtualNetwork`, `Internet`, …) and application security groups.
pub trait AddressResolver {
    /// A tag, by name (case-insensitive). An unknown name is an error, never an empty set.
    fn tag(&self, name: &str) -> Result<Cow<'_, AddrSet>, ResolveError>;
    /// The addresses of the members of an application security group, by resource ID.
    fn asg(&self, id: &str) -> Result<Cow<'_, AddrSet>, ResolveError>;
}

/// The usual resolver: the caller's VNet (`VirtualNetwork`) and `Internet`,
/// any other virtual tags, a service-tag file, and application security groups.
#[derive(Clone, Debug)]
pub struct Context<'a> {
    virtual_network: AddrSet,
    internet: AddrSet,
    /// Lower-case name → addresses.
    extra_tags: HashMap<String, AddrSet>,
    service_tags: Option<&'a ServiceTags>,
    /// Lower-case resource ID → member addresses.
    asgs: HashMap<String, AddrSet>,
}

impl<'a> Context<'a> {
    /// `VirtualNetwork` and `Internet` as the caller defines them for the
    /// source's network (VNet address space plus peered and on-premises
    /// ranges; everything outside the VNet that the internet reaches).
    pub fn new(virtual_network: AddrSet, internet: AddrSet) -> Context<'a> {
        Context {
            virtual_network,
            internet,
            extra_tags: HashMap::new(),
            service_tags: None,
            asgs: HashMap::new(),
        }
    }

    /// `VirtualNetwork` as given and `Internet` as everything else: the
    /// cautious reading for exfiltration (private ranges outside the VNet
    /// count as `Internet`; whether they lead anywhere is routing's question).
    pub fn for_vnet(virtual_network: AddrSet) -> Context<'a> {
        let internet = virtual_network.complement();
        Context::new(virtual_network, internet)
    }

    /// Resolves service tags through this file.
    pub fn with_service_tags(mut self, tags: &'a ServiceTags) -> Context<'a> {
        self.service_tags = Some(tags);
        self
    }

    /// Another tag (e.g. `AzureLoadBalancer`), or a replacement for a service tag.
    pub fn with_tag(mut self, name: &str, addresses: AddrSet) -> Context<'a> {
        self.extra_tags
            .insert(name.trim().to_ascii_lowercase(), addresses);
        self
    }

    /// The member addresses of an application security group.
    pub fn with_asg(mut self, id: &str, addresses: AddrSet) -> Context<'a> {
        self.asgs.insert(id.trim().to_ascii_lowercase(), addresses);
        self
    }
}

impl AddressResolver for Context<'_> {
    fn tag(&self, name: &str) -> Result<Cow<'_, AddrSet>, ResolveError> {
        let key = name.trim().to_ascii_lowercase();
        match key.as_str() {
            "virtualnetwork" => return Ok(Cow::Borrowed(&self.virtual_network)),
            "internet" => return Ok(Cow::Borrowed(&self.internet)),
            _ => {}
        }
        if let Some(a) = self.extra_tags.get(&key) {
            return Ok(Cow::Borrowed(a));
        }
        match self.service_tags {
            Some(t) => t
                .resolve(name)
                .map(Cow::Borrowed)
                .map_err(ResolveError::UnknownTag),
            None => Err(ResolveError::NoServiceTags {
                name: name.trim().to_string(),
            }),
        }
    }

    fn asg(&self, id: &str) -> Result<Cow<'_, AddrSet>, ResolveError> {
        self.asgs
            .get(&id.trim().to_ascii_lowercase())
            .map(Cow::Borrowed)
            .ok_or_else(|| ResolveError::UnknownAsg { id: id.to_string() })
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
    /// A tag or application security group without addresses.
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
// Evaluation.

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

/// What an NSG lets out.
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
}

/// Outbound traffic must pass the NIC's NSG and the subnet's: the packets both
/// allow. A missing NSG allows everything.
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
    /// `None` only when the source set is empty (nothing is sent at all).
    pub decided_by: Option<RuleRef>,
    /// Rules before it that may match the packet (parts unknown offline, or
    /// applying to only some sources): they could decide it instead.
    pub doubts: Vec<Doubt>,
}

/// A rule ready for evaluation: what it surely and possibly matches.
#[derive(Clone, Debug)]
struct Compiled {
    rule: RuleRef,
    access: Option<Access>,
    priority: Option<u32>,
    min: PacketSet,
    max: PacketSet,
    doubts: Vec<String>,
}

impl Compiled {
    fn exact(&self) -> bool {
        self.access.is_some() && self.priority.is_some() && self.min == self.max
    }
}

/// An NSG's outbound rules, evaluated for one set of source addresses.
#[derive(Clone, Debug)]
pub struct OutboundNsg {
    /// In evaluation order: unknown priorities first, then ascending priority.
    rules: Vec<Compiled>,
    allowed: Allowed,
}

impl OutboundNsg {
    /// Evaluates `rules` (the NSG's own; the default rules are added) for
    /// traffic from `source` (the addresses the NIC may have, e.g. the
    /// subnet's prefix for a cluster whose nodes come and go).
    pub fn new(
        rules: &[Rule],
        source: &AddrSet,
        resolver: &dyn AddressResolver,
    ) -> Result<OutboundNsg, NsgError> {
        let defaults = default_outbound_rules();
        let mut compiled = Vec::with_capacity(rules.len() + defaults.len());
        for (i, r) in rules.iter().enumerate() {
            if let Some(c) = compile(r, Some(i), source, resolver)? {
                compiled.push(c);
            }
        }
        for r in &defaults {
            if let Some(c) = compile(r, None, source, resolver)? {
                compiled.push(c);
            }
        }
        // Stable: rules of equal priority (which Azure rejects) keep input order.
        compiled.sort_by_key(|c| c.priority.map_or(0, u64::from));
        let surely = first_match(&bound_list(&compiled, Bound::Surely));
        let possibly = if compiled.iter().all(Compiled::exact) {
            surely.clone()
        } else {
            first_match(&bound_list(&compiled, Bound::Possibly))
        };
        Ok(OutboundNsg {
            rules: compiled,
            allowed: Allowed { surely, possibly },
        })
    }

    /// The packets the NSG lets out.
    pub fn allowed(&self) -> &Allowed {
        &self.allowed
    }

    /// Why the NSG allows or denies `p`.
    pub fn explain(&self, p: &Packet) -> Evidence {
        let verdict = if self.allowed.surely.contains(p) {
            Verdict::Allowed
        } else if !self.allowed.possibly.contains(p) {
            Verdict::Denied
        } else {
            Verdict::Unknown
        };
        let mut doubts = Vec::new();
        let mut decided_by = None;
        for c in &self.rules {
            if c.access.is_some() && c.priority.is_some() && c.min.contains(p) {
                decided_by = Some(c.rule.clone());
                break;
            }
            if c.max.contains(p) {
                doubts.push(Doubt {
                    rule: c.rule.clone(),
                    reasons: c.doubts.clone(),
                });
            }
        }
        Evidence {
            verdict,
            decided_by,
            doubts,
        }
    }
}

/// The packets an NSG's outbound rules let out from `source`.
pub fn allowed_outbound(
    rules: &[Rule],
    source: &AddrSet,
    resolver: &dyn AddressResolver,
) -> Result<Allowed, NsgError> {
    OutboundNsg::new(rules, source, resolver).map(|n| n.allowed)
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
    let nic = nic.map(|n| n.explain(p));
    let subnet = subnet.map(|n| n.explain(p));
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

#[derive(Clone, Copy, PartialEq, Eq)]
enum Bound {
    Surely,
    Possibly,
}

/// The concrete rule list whose first-match result is the bound: each
/// uncertain rule in its worst (or best) role.
fn bound_list(rules: &[Compiled], bound: Bound) -> Vec<(Access, &PacketSet)> {
    let mut out = Vec::with_capacity(rules.len());
    for c in rules {
        let (hurts, helps) = match bound {
            Bound::Surely => (Access::Deny, Access::Allow),
            Bound::Possibly => (Access::Allow, Access::Deny),
        };
        match c.access {
            // May act against the bound: wherever it may match, at its place
            // (first, when its place is unknown).
            None => out.push((hurts, &c.max)),
            Some(a) if a == hurts => out.push((hurts, &c.max)),
            // Can only act for the bound: only where it surely matches, and
            // only when its place is known.
            Some(_) => {
                if c.priority.is_some() {
                    out.push((helps, &c.min));
                }
            }
        }
    }
    out
}

/// First match wins: the packets the first rule matching them allows.
fn first_match(rules: &[(Access, &PacketSet)]) -> PacketSet {
    let mut remaining = PacketSet::universe();
    let mut allowed = PacketSet::empty();
    for (access, matches) in rules {
        if remaining.is_empty() {
            break;
        }
        if *access == Access::Allow {
            allowed = allowed.union(&matches.intersection(&remaining));
        }
        remaining = remaining.difference(matches);
    }
    allowed
}

/// Union of a rule's address items: (surely, possibly).
fn addresses(
    rule: &Rule,
    items: &[Setting<AddressSpec>],
    field: &'static str,
    resolver: &dyn AddressResolver,
) -> Result<(AddrSet, AddrSet), NsgError> {
    let err = |kind| NsgError {
        rule: rule.name.clone(),
        kind,
    };
    if items.is_empty() {
        return Err(err(NsgErrorKind::Missing { field }));
    }
    let mut known = AddrSet::empty();
    let mut unknown = false;
    for item in items {
        match item {
            Setting::Known(AddressSpec::Any) => known = AddrSet::all(),
            Setting::Known(AddressSpec::Prefix(set, _)) => known = known.union(set),
            Setting::Known(AddressSpec::Tag(name)) => {
                let set = resolver
                    .tag(name)
                    .map_err(|e| err(NsgErrorKind::Resolve(e)))?;
                known = known.union(&set);
            }
            Setting::Known(AddressSpec::Asg(id)) => {
                let set = resolver
                    .asg(id)
                    .map_err(|e| err(NsgErrorKind::Resolve(e)))?;
                known = known.union(&set);
            }
            Setting::Unknown => unknown = true,
            Setting::Invalid(v) => {
                return Err(err(NsgErrorKind::Invalid {
                    field,
                    value: v.clone(),
                }));
            }
        }
    }
    let possibly = if unknown {
        AddrSet::all()
    } else {
        known.clone()
    };
    Ok((known, possibly))
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

/// A scalar setting: `Ok(Some)` known, `Ok(None)` unknown, `Err` invalid.
fn scalar<T: Copy>(
    rule: &Rule,
    s: &Setting<T>,
    field: &'static str,
) -> Result<Option<T>, NsgError> {
    match s {
        Setting::Known(t) => Ok(Some(*t)),
        Setting::Unknown => Ok(None),
        Setting::Invalid(v) => Err(NsgError {
            rule: rule.name.clone(),
            kind: NsgErrorKind::Invalid {
                field,
                value: v.clone(),
            },
        }),
    }
}

/// A rule's match sets for outbound traffic from `source`; `None` when it
/// cannot apply (inbound, or not deployed).
fn compile(
    rule: &Rule,
    index: Option<usize>,
    source: &AddrSet,
    resolver: &dyn AddressResolver,
) -> Result<Option<Compiled>, NsgError> {
    let exists = scalar(rule, &rule.exists, "deployment condition")?;
    let direction = scalar(rule, &rule.direction, "direction")?;
    if exists == Some(false) || direction == Some(Direction::Inbound) {
        return Ok(None);
    }
    let priority = scalar(rule, &rule.priority, "priority")?;
    let access = scalar(rule, &rule.access, "access")?;
    let protocol = scalar(rule, &rule.protocol, "protocol")?;
    let (src_min, src_max) = addresses(rule, &rule.source, "source address", resolver)?;
    let (sport_min, _) = ports(rule, &rule.source_ports, "source port range")?;
    let (dst_min, dst_max) = addresses(rule, &rule.destination, "destination address", resolver)?;
    let (port_min, port_max) = ports(rule, &rule.destination_ports, "destination port range")?;

    let mut doubts = Vec::new();
    for u in &rule.unknown {
        let mut reason = format!("`{}` is not known offline: {}", u.field, u.value.reason);
        if let Some(input) = &u.value.input {
            reason.push_str(&format!(" (set {input} to decide)"));
        }
        doubts.push(reason);
    }
    let mut note = |cond: bool, what: &str| {
        if cond && rule.unknown.is_empty() {
            doubts.push(what.to_string());
        }
    };
    note(priority.is_none(), "its priority is not known");
    note(access.is_none(), "its access is not known");
    note(direction.is_none(), "its direction is not known");
    note(exists.is_none(), "whether it is deployed is not known");
    note(protocol.is_none(), "its protocol is not known");
    note(dst_min != dst_max, "its destination is not fully known");
    note(
        port_min != port_max,
        "its destination ports are not fully known",
    );

    let may_source = source.intersects(&src_max);
    let sure_source = may_source && source.is_subset(&src_min);
    if may_source && !sure_source {
        doubts.push(format!(
            "it applies to only some of the source addresses ({source} against {})",
            rule_sources(rule)
        ));
    }
    let all_source_ports = sport_min.is_all();
    if may_source && !all_source_ports {
        doubts.push(format!(
            "it applies to only some source ports ({sport_min})"
        ));
    }
    let sure = sure_source
        && all_source_ports
        && direction == Some(Direction::Outbound)
        && exists == Some(true);
    let (proto_min, proto_max) = match protocol {
        Some(p) => (p.protocols(), p.protocols()),
        None => (ProtoSet::empty(), ProtoSet::all()),
    };
    let max = if may_source {
        PacketSet::product(&proto_max, &dst_max, &port_max)
    } else {
        PacketSet::empty()
    };
    let min = if sure {
        PacketSet::product(&proto_min, &dst_min, &port_min)
    } else {
        PacketSet::empty()
    };
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
        min,
        max,
        doubts,
    }))
}

fn rule_sources(rule: &Rule) -> String {
    let items: Vec<String> = rule
        .source
        .iter()
        .map(|s| match s {
            Setting::Known(a) => a.to_string(),
            Setting::Unknown => "(unknown)".to_string(),
            Setting::Invalid(v) => v.clone(),
        })
        .collect();
    items.join(", ")
}

#[cfg(test)]
mod tests;
