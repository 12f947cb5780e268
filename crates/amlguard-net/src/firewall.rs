//! Azure Firewall semantics for traffic leaving a compute through the firewall.
//!
//! What Azure does (Azure Firewall "rule processing logic", "Firewall Policy
//! rule sets", FAQ; docs/azure-ml-network.md §4.7):
//!
//! - Rules live in rule collections (one action, Allow or Deny, and a
//!   priority 100–65000 each). Classic rules sit on the firewall
//!   (`networkRuleCollections`, `applicationRuleCollections`); a Firewall
//!   Policy groups collections in rule collection groups, themselves with a
//!   priority. Groups are processed by priority, then collections by
//!   priority within a group; lower numbers first.
//! - A policy's parent (`basePolicy`) comes first: its groups are processed
//!   before the child's whatever the priorities.
//! - **Every network rule is processed before any application rule**,
//!   whatever the group or collection priorities and the inheritance.
//! - Rules are terminating: the first rule that matches decides (allow or
//!   deny). If no network rule matches and the traffic is HTTP, HTTPS or
//!   MSSQL, application rules are tried; then the built-in infrastructure
//!   FQDN collection (a few platform names, not modelled); then the
//!   firewall denies.
//! - DNAT rules concern inbound traffic and are ignored here. Threat
//!   intelligence in `Deny` mode can only deny more; it is noted, not
//!   modelled (so an "allowed" verdict may in fact be denied by it).
//! - Network rules match on source, protocol (TCP, UDP, ICMP, Any),
//!   destination port and destination: addresses, CIDR prefixes, ranges,
//!   service tags, IP groups, or FQDNs. An FQDN in a network rule is
//!   resolved by the firewall's DNS proxy and matched **by address**, so it
//!   cannot tell apart two names that share addresses, and it accepts no
//!   wildcard ("FQDN filtering in network rules").
//! - Application rules match HTTP/HTTPS/MSSQL by name (Host header or TLS
//!   SNI): target FQDNs with left-most wildcards (see [`crate::fqdn`]), FQDN
//!   tags (Microsoft-maintained name lists such as `WindowsUpdate`), and on
//!   Premium target URLs and web categories.
//!
//! What this module computes, for a set of source addresses (the compute's
//! subnet): the packets the network rules allow, and those no network rule
//! matches (they go on to the application rules) — as exact packet sets with
//! two bounds, like [`crate::nsg`]; and, for a destination *host* (one name,
//! or a name an insider can create under a suffix) and a service (protocol,
//! port, application protocol), whether the firewall lets it through, with
//! the deciding rule.
//!
//! Values not known offline never count as safe: a rule, a priority, an
//! action, a collection group's condition or an IP group's members that the
//! input does not give make the two bounds differ (`surely` is the worst
//! case, `possibly` the best). Collections whose priority is not known are
//! put where they hurt most (first) or help least (last); a rule group of
//! unknown priority holding both allow and deny collections is tried at
//! every place it could take. The bounds are exact, packet by packet, when
//! the unknowns are independent of one another; they stay sound (only
//! wider) when one unknown is shared: one IP group without members used by
//! several rules, one unknown deployment condition of a group holding both
//! allow and deny collections, two such groups of unknown priority in one
//! policy, or more source or address pieces than the work limits allow.
//!
//! Evaluation is bounded by the input: at most [`MAX_ATOMS`] source or
//! address pieces, [`MAX_PLACEMENTS`] placements of unknown groups, and
//! about [`MAX_HOST_STEPS`] rule steps per host question; beyond them the
//! coarser bounds are used.

mod model;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use amlguard_model::Prov;

use crate::fqdn::{self, FreshHost, HostPattern};
use crate::nsg::{Access, Allowed, PortSpec, Setting, UnknownPart, Verdict};
use crate::resolve::{AddrBounds, AddressResolver, ResolveError};
use crate::space::{AddrSet, Packet, PacketSet, PortSet, ProtoSet, Protocol, atoms};

pub use model::firewall_from_model;

// ---------------------------------------------------------------------------
// The firewall as the input gives it.

/// An Azure Firewall and the rules that apply to its traffic.
#[derive(Clone, Debug, PartialEq)]
pub struct Firewall {
    pub id: Option<String>,
    pub name: String,
    /// The firewall's private IP addresses when the input writes them
    /// (`ipConfigurations[].properties.privateIPAddress`, or
    /// `hubIPAddresses.privateIPAddress` in a secured virtual hub). Azure
    /// assigns them on deployment, so templates usually do not: then
    /// `Unknown`, and [`Firewall::subnet_prefix`] bounds them.
    pub private_ips: Setting<Vec<IpAddr>>,
    /// The address prefix of the firewall's subnet (`AzureFirewallSubnet`)
    /// when the input gives it.
    pub subnet_prefix: Option<AddrSet>,
    /// The Firewall Policy's resource ID, when the firewall uses one.
    pub policy_id: Option<String>,
    /// Every network and application rule collection, classic or from the
    /// policy and its parents (DNAT collections are left out).
    pub collections: Vec<RuleCollection>,
    /// Settings that are read but not modelled (threat intelligence `Deny`,
    /// DNS proxy off with FQDNs in network rules, classic rules beside a
    /// policy, …), as sentences.
    pub notes: Vec<String>,
    pub prov: Option<Prov>,
}

/// Network or application rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CollectionKind {
    Network,
    Application,
    /// A policy filter collection whose rules' type is not known offline.
    Unknown,
}

/// A rule collection group of a Firewall Policy.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupInfo {
    pub name: String,
    pub priority: Setting<u32>,
    /// The name of the policy that holds the group.
    pub policy: Option<String>,
    pub prov: Option<Prov>,
}

/// A rule collection: rules sharing one action and one priority.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleCollection {
    pub name: String,
    pub kind: CollectionKind,
    pub priority: Setting<u32>,
    pub action: Setting<Access>,
    /// The rule collection group (Firewall Policy); `None` for classic rules.
    pub group: Option<GroupInfo>,
    /// Inheritance depth: 0 for classic rules and for the top-most parent
    /// policy, one more for each child. Lower levels are processed first.
    pub level: u32,
    /// Whether the collection is deployed (its group's deployment condition).
    pub exists: Setting<bool>,
    pub rules: Vec<FwRule>,
    /// Why parts of the collection (priority, action, condition) are unknown.
    pub unknown: Vec<UnknownPart>,
    pub prov: Option<Prov>,
}

/// One rule of a collection.
#[derive(Clone, Debug, PartialEq)]
pub enum FwRule {
    Network(NetworkRule),
    Application(ApplicationRule),
    /// Rules the input does not give offline (an unknown `rules` array, a
    /// policy declared elsewhere): they may match anything.
    Unknown(UnknownPart),
}

/// One address item of a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddrItem {
    /// `*`.
    Any,
    /// An address, a CIDR prefix or a range `a-b`, with the text as written.
    Literal(AddrSet, String),
    /// A service tag (destinations of network rules).
    Tag(String),
    /// An IP group by resource ID, with its addresses when the input declares
    /// them (`None`: members not known, so it may match any address).
    IpGroup {
        id: String,
        members: Option<AddrSet>,
    },
}

impl AddrItem {
    /// Reads `*`, an address, a prefix, a range `a-b` of one family, or a
    /// service tag name. Text that looks like an address but is not one is
    /// invalid, not a tag.
    pub fn parse(text: &str) -> Setting<AddrItem> {
        let t = text.trim();
        if t == "*" || t.eq_ignore_ascii_case("any") {
            return Setting::Known(AddrItem::Any);
        }
        if let Some((a, b)) = t.split_once('-') {
            let range = match (a.trim().parse::<IpAddr>(), b.trim().parse::<IpAddr>()) {
                (Ok(IpAddr::V4(lo)), Ok(IpAddr::V4(hi))) if lo <= hi => {
                    Some(AddrSet::v4_range(lo, hi))
                }
                (Ok(IpAddr::V6(lo)), Ok(IpAddr::V6(hi))) if lo <= hi => {
                    Some(AddrSet::v6_range(lo, hi))
                }
                (Ok(_), _) | (_, Ok(_)) => return Setting::Invalid(t.to_string()),
                _ => None,
            };
            if let Some(set) = range {
                return Setting::Known(AddrItem::Literal(set, t.to_string()));
            }
        }
        if let Ok(set) = AddrSet::parse(t) {
            return Setting::Known(AddrItem::Literal(set, t.to_string()));
        }
        let tag_like = t.chars().any(|c| c.is_ascii_alphabetic())
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            && !(t.split('.').count() == 4 && t.chars().all(|c| c.is_ascii_hexdigit() || c == '.'));
        if tag_like {
            Setting::Known(AddrItem::Tag(t.to_string()))
        } else {
            Setting::Invalid(t.to_string())
        }
    }
}

impl fmt::Display for AddrItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddrItem::Any => f.write_str("*"),
            AddrItem::Literal(_, t) | AddrItem::Tag(t) => f.write_str(t),
            AddrItem::IpGroup { id, .. } => write!(f, "IP group {id}"),
        }
    }
}

/// The protocol of a network rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NetProtocol {
    Any,
    Tcp,
    Udp,
    Icmp,
}

impl NetProtocol {
    /// `Any` (or `*`), `TCP`, `UDP`, `ICMP`, in any case.
    pub fn parse(text: &str) -> Option<NetProtocol> {
        Some(match text.trim().to_ascii_lowercase().as_str() {
            "any" | "*" => NetProtocol::Any,
            "tcp" => NetProtocol::Tcp,
            "udp" => NetProtocol::Udp,
            "icmp" => NetProtocol::Icmp,
            _ => return None,
        })
    }

    /// The IP protocols matched. `Any` is read as every protocol (the
    /// cautious reading); `ICMP` covers ICMPv6 too.
    pub fn protocols(self) -> ProtoSet {
        match self {
            NetProtocol::Any => ProtoSet::all(),
            NetProtocol::Tcp => ProtoSet::single(Protocol::Tcp),
            NetProtocol::Udp => ProtoSet::single(Protocol::Udp),
            NetProtocol::Icmp => ProtoSet::of(&[Protocol::Icmp, Protocol::Other(58)]),
        }
    }
}

/// A network rule.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkRule {
    pub name: String,
    /// `sourceAddresses` and `sourceIpGroups`, together.
    pub sources: Vec<Setting<AddrItem>>,
    /// `destinationAddresses` and `destinationIpGroups`, together.
    pub destinations: Vec<Setting<AddrItem>>,
    /// `destinationFqdns`, normalised (no wildcards: Azure rejects them).
    pub destination_fqdns: Vec<Setting<String>>,
    pub ports: Vec<Setting<PortSpec>>,
    /// `protocols` (classic) or `ipProtocols` (policy).
    pub protocols: Vec<Setting<NetProtocol>>,
    pub unknown: Vec<UnknownPart>,
    pub prov: Option<Prov>,
}

impl NetworkRule {
    /// A rule from everywhere to nowhere, to fill with the `with_…` methods
    /// (texts as a template writes them).
    pub fn new(name: &str) -> NetworkRule {
        NetworkRule {
            name: name.to_string(),
            sources: vec![Setting::Known(AddrItem::Any)],
            destinations: Vec::new(),
            destination_fqdns: Vec::new(),
            ports: vec![Setting::Known(PortSpec::Any)],
            protocols: vec![Setting::Known(NetProtocol::Any)],
            unknown: Vec::new(),
            prov: None,
        }
    }
    pub fn with_sources(mut self, items: &[&str]) -> NetworkRule {
        self.sources = items.iter().map(|t| AddrItem::parse(t)).collect();
        self
    }
    pub fn with_destinations(mut self, items: &[&str]) -> NetworkRule {
        self.destinations = items.iter().map(|t| AddrItem::parse(t)).collect();
        self
    }
    pub fn with_fqdns(mut self, items: &[&str]) -> NetworkRule {
        self.destination_fqdns = items.iter().map(|t| network_fqdn(t)).collect();
        self
    }
    pub fn with_ports(mut self, items: &[&str]) -> NetworkRule {
        self.ports = items.iter().map(|t| PortSpec::parse(t)).collect();
        self
    }
    pub fn with_protocols(mut self, items: &[&str]) -> NetworkRule {
        self.protocols = items
            .iter()
            .map(|t| match NetProtocol::parse(t) {
                Some(p) => Setting::Known(p),
                None => Setting::Invalid(t.to_string()),
            })
            .collect();
        self
    }
}

/// An FQDN of a network rule: a plain host name (wildcards are rejected).
pub fn network_fqdn(text: &str) -> Setting<String> {
    match fqdn::normalize_host(text) {
        Some(h) => Setting::Known(h),
        None => Setting::Invalid(text.trim().to_string()),
    }
}

/// The application protocols of application rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AppProtocol {
    Http,
    Https,
    Mssql,
}

impl AppProtocol {
    pub fn parse(text: &str) -> Option<AppProtocol> {
        Some(match text.trim().to_ascii_lowercase().as_str() {
            "http" => AppProtocol::Http,
            "https" => AppProtocol::Https,
            "mssql" => AppProtocol::Mssql,
            _ => return None,
        })
    }
    /// The port used when a rule names the protocol without one.
    pub fn default_port(self) -> u16 {
        match self {
            AppProtocol::Http => 80,
            AppProtocol::Https => 443,
            AppProtocol::Mssql => 1433,
        }
    }
}

impl fmt::Display for AppProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AppProtocol::Http => "Http",
            AppProtocol::Https => "Https",
            AppProtocol::Mssql => "Mssql",
        })
    }
}

/// One `{protocolType, port}` of an application rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AppPort {
    pub protocol: AppProtocol,
    pub port: u16,
}

impl AppPort {
    /// `Https:443`, `http:8080`, or a protocol alone (its default port).
    pub fn parse(text: &str) -> Option<AppPort> {
        let (p, port) = match text.split_once(':') {
            Some((p, port)) => (p, Some(port.trim().parse::<u16>().ok()?)),
            None => (text, None),
        };
        let protocol = AppProtocol::parse(p)?;
        Some(AppPort {
            protocol,
            port: port.unwrap_or(protocol.default_port()),
        })
    }
}

/// What an application rule's destinations are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppTarget {
    /// A target FQDN.
    Fqdn(HostPattern),
    /// A target URL (Premium): its host pattern, and whether it names a path
    /// (then only some requests to the host match).
    Url {
        host: HostPattern,
        path: bool,
        text: String,
    },
    /// An FQDN tag: a list of Microsoft names kept by Azure (not known offline).
    FqdnTag(String),
    /// A web category (Premium): names not known offline.
    WebCategory(String),
}

impl AppTarget {
    /// Reads a target URL: `host[/path]`, with a left-most wildcard in the host.
    pub fn url(text: &str) -> Setting<AppTarget> {
        let t = text.trim();
        let t_ = t
            .strip_prefix("https://")
            .or_else(|| t.strip_prefix("http://"))
            .unwrap_or(t);
        let (host, path) = match t_.split_once('/') {
            Some((h, p)) => (h, p),
            None => (t_, ""),
        };
        match HostPattern::parse(host) {
            Some(h) => Setting::Known(AppTarget::Url {
                host: h,
                path: !(path.is_empty() || path == "*"),
                text: t.to_string(),
            }),
            None => Setting::Invalid(t.to_string()),
        }
    }
}

impl fmt::Display for AppTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppTarget::Fqdn(p) => write!(f, "{p}"),
            AppTarget::Url { text, .. } => write!(f, "URL {text}"),
            AppTarget::FqdnTag(t) => write!(f, "FQDN tag {t}"),
            AppTarget::WebCategory(c) => write!(f, "web category {c}"),
        }
    }
}

/// An application rule.
#[derive(Clone, Debug, PartialEq)]
pub struct ApplicationRule {
    pub name: String,
    /// `sourceAddresses` and `sourceIpGroups`, together.
    pub sources: Vec<Setting<AddrItem>>,
    /// `targetFqdns`, `targetUrls`, `fqdnTags` and `webCategories`, together.
    pub targets: Vec<Setting<AppTarget>>,
    /// `protocols`. Empty: `Http:80` and `Https:443` (what FQDN tags use).
    pub protocols: Vec<Setting<AppPort>>,
    /// `destinationAddresses` of a policy application rule; empty for none.
    pub destination_addresses: Vec<Setting<AddrItem>>,
    pub unknown: Vec<UnknownPart>,
    pub prov: Option<Prov>,
}

impl ApplicationRule {
    /// A rule from everywhere to nothing on `Https:443`, to fill with the
    /// `with_…` methods.
    pub fn new(name: &str) -> ApplicationRule {
        ApplicationRule {
            name: name.to_string(),
            sources: vec![Setting::Known(AddrItem::Any)],
            targets: Vec::new(),
            protocols: vec![Setting::Known(AppPort {
                protocol: AppProtocol::Https,
                port: 443,
            })],
            destination_addresses: Vec::new(),
            unknown: Vec::new(),
            prov: None,
        }
    }
    pub fn with_sources(mut self, items: &[&str]) -> ApplicationRule {
        self.sources = items.iter().map(|t| AddrItem::parse(t)).collect();
        self
    }
    /// Adds target FQDNs.
    pub fn with_fqdns(mut self, items: &[&str]) -> ApplicationRule {
        self.targets
            .extend(items.iter().map(|t| match HostPattern::parse(t) {
                Some(p) => Setting::Known(AppTarget::Fqdn(p)),
                None => Setting::Invalid(t.trim().to_string()),
            }));
        self
    }
    /// Adds target URLs.
    pub fn with_urls(mut self, items: &[&str]) -> ApplicationRule {
        self.targets.extend(items.iter().map(|t| AppTarget::url(t)));
        self
    }
    /// Adds FQDN tags.
    pub fn with_fqdn_tags(mut self, items: &[&str]) -> ApplicationRule {
        self.targets.extend(
            items
                .iter()
                .map(|t| Setting::Known(AppTarget::FqdnTag(t.trim().to_string()))),
        );
        self
    }
    /// Sets the protocols: `Https:443`, `Http:8080`, `Mssql:1433`.
    pub fn with_protocols(mut self, items: &[&str]) -> ApplicationRule {
        self.protocols = items
            .iter()
            .map(|t| match AppPort::parse(t) {
                Some(p) => Setting::Known(p),
                None => Setting::Invalid(t.trim().to_string()),
            })
            .collect();
        self
    }
}

impl RuleCollection {
    /// A classic network rule collection.
    pub fn network(
        name: &str,
        priority: u32,
        action: Access,
        rules: Vec<NetworkRule>,
    ) -> RuleCollection {
        RuleCollection::new(
            name,
            CollectionKind::Network,
            priority,
            action,
            rules.into_iter().map(FwRule::Network).collect(),
        )
    }
    /// A classic application rule collection.
    pub fn application(
        name: &str,
        priority: u32,
        action: Access,
        rules: Vec<ApplicationRule>,
    ) -> RuleCollection {
        RuleCollection::new(
            name,
            CollectionKind::Application,
            priority,
            action,
            rules.into_iter().map(FwRule::Application).collect(),
        )
    }
    fn new(
        name: &str,
        kind: CollectionKind,
        priority: u32,
        action: Access,
        rules: Vec<FwRule>,
    ) -> RuleCollection {
        RuleCollection {
            name: name.to_string(),
            kind,
            priority: Setting::Known(priority),
            action: Setting::Known(action),
            group: None,
            level: 0,
            exists: Setting::Known(true),
            rules,
            unknown: Vec::new(),
            prov: None,
        }
    }
    /// Puts the collection in a policy's rule collection group.
    pub fn in_group(mut self, group: &str, priority: u32, level: u32) -> RuleCollection {
        self.group = Some(GroupInfo {
            name: group.to_string(),
            priority: Setting::Known(priority),
            policy: None,
            prov: None,
        });
        self.level = level;
        self
    }
}

impl Firewall {
    /// Whether a rule names a tag whose addresses depend on the source's
    /// network (`VirtualNetwork`, `Internet`): only then do compilations
    /// for subnets of different networks differ beyond their sources.
    pub fn names_network_tags(&self) -> bool {
        let relative = |i: &Setting<AddrItem>| {
            matches!(i, Setting::Known(AddrItem::Tag(t))
                if t.eq_ignore_ascii_case("VirtualNetwork") || t.eq_ignore_ascii_case("Internet"))
        };
        self.collections
            .iter()
            .flat_map(|c| &c.rules)
            .any(|r| match r {
                FwRule::Network(n) => n.sources.iter().chain(&n.destinations).any(relative),
                FwRule::Application(a) => a
                    .sources
                    .iter()
                    .chain(&a.destination_addresses)
                    .any(relative),
                FwRule::Unknown(_) => false,
            })
    }

    /// A firewall without rules (it denies everything).
    pub fn new(name: &str) -> Firewall {
        Firewall {
            id: None,
            name: name.to_string(),
            private_ips: Setting::Unknown,
            subnet_prefix: None,
            policy_id: None,
            collections: Vec::new(),
            notes: Vec::new(),
            prov: None,
        }
    }

    pub fn with_collection(mut self, c: RuleCollection) -> Firewall {
        self.collections.push(c);
        self
    }

    /// Whether `ip` (a route's next hop) is this firewall: `Some(true)` for
    /// one of its known private addresses; `Some(false)` when its addresses
    /// are known and `ip` is none of them, or `ip` is outside its subnet or
    /// one of the addresses Azure reserves in every subnet (the first four
    /// and the last); `None` when `ip` is a usable address of its subnet and
    /// its own address is not written (see [`Firewall::usual_private_ip`]).
    pub fn matches_next_hop(&self, ip: IpAddr) -> Option<bool> {
        if let Setting::Known(ips) = &self.private_ips
            && !ips.is_empty()
        {
            return Some(ips.contains(&ip));
        }
        let prefix = self.subnet_prefix.as_ref()?;
        if !prefix.contains(ip) {
            return Some(false);
        }
        Some(false).filter(|_| reserved_in_subnet(prefix, ip))
    }

    /// The fourth address of the firewall's subnet (e.g. `10.0.1.4` in
    /// `10.0.1.0/26`): the first one Azure can hand out, where deployments
    /// observe the firewall. Microsoft does not document this, so it is a
    /// guess for the engine to use as such, never a fact.
    pub fn usual_private_ip(&self) -> Option<IpAddr> {
        let prefix = self.subnet_prefix.as_ref()?;
        let first = prefix.ranges().next()?;
        match first {
            crate::space::AddrRange::V4(lo, hi) => {
                let a = u32::from(lo).checked_add(4)?;
                (a <= u32::from(hi)).then(|| IpAddr::V4(a.into()))
            }
            crate::space::AddrRange::V6(lo, hi) => {
                let a = u128::from(lo).checked_add(4)?;
                (a <= u128::from(hi)).then(|| IpAddr::V6(a.into()))
            }
        }
    }

    /// Compiles the rules for traffic from `source` (the addresses the
    /// compute's nodes may have).
    pub fn compile(
        &self,
        source: &AddrSet,
        resolver: &dyn AddressResolver,
    ) -> Result<CompiledFirewall, FirewallError> {
        CompiledFirewall::new(self, source, resolver)
    }

    /// The rules compiled once, for evaluation from many sources (the same
    /// as [`Firewall::compile`] for each).
    pub fn compile_rules(
        &self,
        resolver: &dyn AddressResolver,
    ) -> Result<CompiledRules, FirewallError> {
        Ok(CompiledRules {
            name: self.name.clone(),
            entries: Arc::new(CompiledFirewall::compile_entries(self, resolver)?),
        })
    }

    /// What the network rules do with packets from `source`.
    pub fn network_stage(
        &self,
        source: &AddrSet,
        resolver: &dyn AddressResolver,
    ) -> Result<NetStage, FirewallError> {
        Ok(self
            .compile(source, resolver)?
            .network_stage()
            .as_ref()
            .clone())
    }

    /// Whether the firewall lets `service` traffic from `source` reach
    /// `host`, network rules first, then application rules.
    pub fn app_verdict(
        &self,
        source: &AddrSet,
        resolver: &dyn AddressResolver,
        host: &HostQuery,
        service: &Service,
    ) -> Result<AppVerdict, FirewallError> {
        Ok(self.compile(source, resolver)?.host_verdict(host, service))
    }

    /// Why the network rules allow, deny or pass on `packet` from `source`.
    pub fn explain_packet(
        &self,
        source: &AddrSet,
        resolver: &dyn AddressResolver,
        packet: &Packet,
    ) -> Result<NetEvidence, FirewallError> {
        Ok(self.compile(source, resolver)?.explain_packet(packet))
    }
}

/// Azure reserves the first four addresses and the last one of every subnet.
fn reserved_in_subnet(prefix: &AddrSet, ip: IpAddr) -> bool {
    prefix.ranges().any(|r| match (r, ip) {
        (crate::space::AddrRange::V4(lo, hi), IpAddr::V4(a)) => {
            let (lo, hi, a) = (u32::from(lo), u32::from(hi), u32::from(a));
            a >= lo && a <= hi && (a - lo < 4 || a == hi)
        }
        (crate::space::AddrRange::V6(lo, hi), IpAddr::V6(a)) => {
            let (lo, hi, a) = (u128::from(lo), u128::from(hi), u128::from(a));
            a >= lo && a <= hi && (a - lo < 4 || a == hi)
        }
        _ => false,
    })
}

// ---------------------------------------------------------------------------
// Errors.

/// A rule that cannot be evaluated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirewallError {
    pub firewall: String,
    /// The rule, e.g. "network rule `AllowDns` in collection `core`".
    pub rule: String,
    pub kind: FirewallErrorKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FirewallErrorKind {
    /// A tag without addresses.
    Resolve(ResolveError),
    /// A value Azure does not accept.
    Invalid { field: &'static str, value: String },
    /// A required value is missing.
    Missing { field: &'static str },
}

impl fmt::Display for FirewallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "firewall `{}`, {}: ", self.firewall, self.rule)?;
        match &self.kind {
            FirewallErrorKind::Resolve(e) => e.fmt(f),
            FirewallErrorKind::Invalid { field, value } => {
                write!(f, "`{value}` is not a valid {field}")
            }
            FirewallErrorKind::Missing { field } => write!(f, "no {field} is set"),
        }
    }
}

impl std::error::Error for FirewallError {}

// ---------------------------------------------------------------------------
// Results and evidence.

/// Which kind of rule decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RuleKind {
    Network,
    Application,
    /// Rules not known offline.
    Unknown,
}

/// A firewall rule as named in evidence.
#[derive(Clone, Debug, PartialEq)]
pub struct FwRuleRef {
    pub name: String,
    pub kind: RuleKind,
    pub collection: String,
    pub collection_priority: Option<u32>,
    pub action: Option<Access>,
    /// The rule collection group and its priority (Firewall Policy).
    pub group: Option<String>,
    pub group_priority: Option<u32>,
    /// The policy holding the group.
    pub policy: Option<String>,
    pub prov: Option<Prov>,
}

impl fmt::Display for FwRuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            RuleKind::Network => "network rule",
            RuleKind::Application => "application rule",
            RuleKind::Unknown => "rules",
        };
        write!(
            f,
            "{kind} `{}` in collection `{}` (",
            self.name, self.collection
        )?;
        match self.collection_priority {
            Some(p) => write!(f, "priority {p}")?,
            None => f.write_str("priority unknown")?,
        }
        match self.action {
            Some(a) => write!(f, ", {a})")?,
            None => f.write_str(", action unknown)")?,
        }
        if let Some(g) = &self.group {
            write!(f, " of group `{g}` (")?;
            match self.group_priority {
                Some(p) => write!(f, "priority {p})")?,
                None => f.write_str("priority unknown)")?,
            }
        }
        if let Some(p) = &self.policy {
            write!(f, " in policy `{p}`")?;
        }
        Ok(())
    }
}

/// A rule that may match before the deciding one, and why it is not sure to.
#[derive(Clone, Debug, PartialEq)]
pub struct FwDoubt {
    pub rule: FwRuleRef,
    pub reasons: Vec<String>,
}

/// What the network rules do with the packets from a source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetStage {
    /// Packets a network rule allows.
    pub allowed: Allowed,
    /// Packets no network rule matches: they go on to the application rules
    /// (HTTP, HTTPS, MSSQL by name) or are denied. `surely`: matched by no
    /// network rule whatever the unknowns; `possibly`: for some value.
    pub unmatched: Allowed,
}

/// The network rules' outcome for one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NetOutcome {
    Allowed,
    Denied,
    /// No network rule matches: application rules decide, or the default denies.
    Unmatched,
    /// Depends on values not known offline.
    Unknown,
}

/// Why the network rules allow, deny or pass on one packet.
#[derive(Clone, Debug, PartialEq)]
pub struct NetEvidence {
    pub outcome: NetOutcome,
    /// The first network rule, in processing order, that surely matches.
    pub decided_by: Option<FwRuleRef>,
    /// Rules before it that may match (parts unknown offline, or applying to
    /// only some sources).
    pub doubts: Vec<FwDoubt>,
}

/// A destination host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostSpec {
    /// One name, e.g. `ml.azure.com`.
    Name(String),
    /// A name an insider can create under this suffix
    /// (`blob.core.windows.net`: any storage account); empty: anywhere.
    FreshUnder(String),
}

/// A host, and the addresses its name may resolve to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostQuery {
    pub host: HostSpec,
    /// Where the name's address surely lies (every address when unknown):
    /// network rules with address destinations are compared with it.
    pub addresses: AddrSet,
}

impl HostQuery {
    /// One name, resolving anywhere.
    pub fn name(host: &str) -> HostQuery {
        HostQuery {
            host: HostSpec::Name(host.to_string()),
            addresses: AddrSet::all(),
        }
    }
    /// A name an insider can create under `suffix` (`""`: anywhere).
    pub fn fresh_under(suffix: &str) -> HostQuery {
        HostQuery {
            host: HostSpec::FreshUnder(suffix.to_string()),
            addresses: AddrSet::all(),
        }
    }
    /// The same host, resolving within `addresses`.
    pub fn within(mut self, addresses: AddrSet) -> HostQuery {
        self.addresses = addresses;
        self
    }
}

/// What is sent to the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Service {
    pub protocol: Protocol,
    pub port: u16,
    /// The application protocol, when application rules can see the name
    /// (HTTP, HTTPS, MSSQL over TCP); `None` for anything else.
    pub app: Option<AppProtocol>,
}

impl Service {
    /// HTTPS on a port (TCP).
    pub fn https(port: u16) -> Service {
        Service::app(AppProtocol::Https, port)
    }
    /// HTTP on a port (TCP).
    pub fn http(port: u16) -> Service {
        Service::app(AppProtocol::Http, port)
    }
    /// An application protocol on a port (TCP).
    pub fn app(app: AppProtocol, port: u16) -> Service {
        Service {
            protocol: Protocol::Tcp,
            port,
            app: Some(app),
        }
    }
    /// Any other traffic: only network rules can match it.
    pub fn transport(protocol: Protocol, port: u16) -> Service {
        Service {
            protocol,
            port,
            app: None,
        }
    }
}

/// Whether the firewall lets traffic reach a host.
#[derive(Clone, Debug, PartialEq)]
pub struct AppVerdict {
    pub verdict: Verdict,
    /// The rule that decides for the host shown in [`AppVerdict::host`]: the
    /// first rule in processing order (network rules, then application
    /// rules) that surely matches; `None` when none does (the default deny).
    pub decided_by: Option<FwRuleRef>,
    /// Rules before it that may match instead.
    pub doubts: Vec<FwDoubt>,
    /// FQDN tags of rules that may match (Microsoft's name lists, which only
    /// the engine can judge).
    pub fqdn_tags: Vec<String>,
    /// The concrete name the evidence is for: the name asked about, or for a
    /// fresh host a representative one (the most permissive found).
    pub host: Option<String>,
}

// ---------------------------------------------------------------------------
// Compilation.

/// Three-valued match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Tri {
    No,
    Maybe,
    Sure,
}

impl Tri {
    fn and(self, o: Tri) -> Tri {
        self.min(o)
    }
    fn or(self, o: Tri) -> Tri {
        self.max(o)
    }
    fn of(sure: bool, maybe: bool) -> Tri {
        if sure {
            Tri::Sure
        } else if maybe {
            Tri::Maybe
        } else {
            Tri::No
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Network,
    Application,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bound {
    Surely,
    Possibly,
}

/// A rule's destinations in a network rule.
#[derive(Clone, Debug)]
struct NetBody {
    proto: (ProtoSet, ProtoSet),
    ports: (PortSet, PortSet),
    /// Address items (literals, tags, IP groups, unknown items).
    dst: AddrBounds,
    fqdns: Vec<String>,
    fqdn_unknown: bool,
    /// Packets surely and possibly matched, for sources the rule applies
    /// to; computed on first use (host questions do not need them).
    sets: OnceLock<(PacketSet, PacketSet)>,
}

impl NetBody {
    fn sets(&self) -> &(PacketSet, PacketSet) {
        self.sets.get_or_init(|| {
            // FQDNs are matched by the addresses they resolve to: not known
            // offline.
            let dst_max = if self.fqdn_unknown || !self.fqdns.is_empty() {
                AddrSet::all()
            } else {
                self.dst.possibly.clone()
            };
            (
                PacketSet::product(&self.proto.0, &self.dst.surely, &self.ports.0),
                PacketSet::product(&self.proto.1, &dst_max, &self.ports.1),
            )
        })
    }
}

#[derive(Clone, Debug)]
struct AppBody {
    targets: Vec<Setting<AppTarget>>,
    protocols: Vec<AppPort>,
    protocols_unknown: bool,
    /// `destinationAddresses`, when given.
    dst: Option<AddrBounds>,
}

#[derive(Clone, Debug)]
enum Body {
    Network(NetBody),
    Application(AppBody),
    Unknown,
}

/// One rule ready for evaluation.
#[derive(Clone, Debug)]
struct Entry {
    rule: FwRuleRef,
    stage: Stage,
    level: u32,
    /// Index of the group (unique per group; 0 for classic rules).
    group: usize,
    group_priority: Option<u32>,
    /// Index of the collection (unique per collection).
    collection: usize,
    collection_priority: Option<u32>,
    /// Input order, for ties.
    order: usize,
    access: Option<Access>,
    exists: Option<bool>,
    src: AddrBounds,
    body: Body,
    doubts: Vec<String>,
}

impl Entry {
    /// Whether the rule can act against the bound (deny for `surely`, allow
    /// for `possibly`).
    fn hurts(&self, bound: Bound) -> bool {
        matches!(
            (self.access, bound),
            (None, _)
                | (Some(Access::Deny), Bound::Surely)
                | (Some(Access::Allow), Bound::Possibly)
        )
    }
    fn placed(&self) -> bool {
        self.collection_priority.is_some() && (self.group == 0 || self.group_priority.is_some())
    }
    fn exists_tri(&self) -> Tri {
        match self.exists {
            Some(true) => Tri::Sure,
            Some(false) => Tri::No,
            None => Tri::Maybe,
        }
    }
}

/// Sort key of an entry: level, group slot, group, collection slot,
/// collection, input order.
type OrderKey = (u32, u64, usize, u64, usize, usize);

/// Where groups of unknown priority are tried, for one bound: group index →
/// slot. Groups not listed go first if they hurt, last otherwise.
type Placement = HashMap<usize, u64>;

/// Most pieces a source (or a host's addresses) is split into, so that each
/// rule applies to all or none of a piece; beyond, the whole set is one
/// piece (coarser, still sound bounds).
pub const MAX_ATOMS: usize = 64;
/// Most placements tried for groups of unknown priority holding both allow
/// and deny collections; beyond, each collection is placed on its own.
pub const MAX_PLACEMENTS: usize = 16;
/// About how many rule steps one host question may take before it falls
/// back to coarser pieces.
pub const MAX_HOST_STEPS: usize = 4_000_000;

/// What host questions over one selection of stages share: the entries,
/// their processing orders per bound, and the source views.
#[derive(Clone, Debug)]
struct HostPlan {
    members: Vec<usize>,
    /// Per bound (`surely`, `possibly`): one order per placement tried.
    orders: [Vec<Vec<usize>>; 2],
    /// Per source atom, the source status of each member.
    views: Vec<Vec<Tri>>,
    /// The whole source as one view.
    coarse: Vec<Vec<Tri>>,
}

/// A firewall's rules compiled for one set of source addresses.
#[derive(Clone, Debug)]
pub struct CompiledFirewall {
    name: String,
    source: AddrSet,
    /// The compiled rules, shared by every source they are compiled for.
    entries: Arc<Vec<Entry>>,
    /// Per entry, how surely it applies to the whole source.
    coarse_src: Vec<Tri>,
    /// Entry indices in the order evidence walks them.
    display: Vec<usize>,
    /// Source atoms (each rule applies to all or none of an atom, surely or
    /// possibly); `None` when there are too many.
    source_atoms: Option<Vec<AddrSet>>,
    /// The network stage, computed on first use (or shared).
    stage: OnceLock<Arc<NetStage>>,
    /// What host questions reuse, computed on first use: for both stages,
    /// and for application rules alone.
    plan_all: OnceLock<HostPlan>,
    plan_app: OnceLock<HostPlan>,
}

/// A firewall's rules compiled once (they do not depend on the source), to
/// be evaluated for any number of sources ([`CompiledRules::for_source`]).
#[derive(Clone, Debug)]
pub struct CompiledRules {
    name: String,
    entries: Arc<Vec<Entry>>,
}

impl CompiledRules {
    /// The rules evaluated for traffic from `source`.
    pub fn for_source(&self, source: &AddrSet) -> CompiledFirewall {
        CompiledFirewall::with_entries(self.name.clone(), source, self.entries.clone())
    }
}

impl CompiledFirewall {
    fn new(
        fw: &Firewall,
        source: &AddrSet,
        resolver: &dyn AddressResolver,
    ) -> Result<CompiledFirewall, FirewallError> {
        Ok(CompiledFirewall::with_entries(
            fw.name.clone(),
            source,
            Arc::new(CompiledFirewall::compile_entries(fw, resolver)?),
        ))
    }

    fn with_entries(name: String, source: &AddrSet, entries: Arc<Vec<Entry>>) -> CompiledFirewall {
        let mut cuts: Vec<&AddrSet> = Vec::new();
        for e in entries.iter() {
            cuts.push(&e.src.surely);
            cuts.push(&e.src.possibly);
        }
        let source_atoms = atoms(source, &cuts, MAX_ATOMS);
        let coarse_src = entries
            .iter()
            .map(|e| source_status(source, &e.src))
            .collect();
        let mut compiled = CompiledFirewall {
            name,
            source: source.clone(),
            entries,
            coarse_src,
            display: Vec::new(),
            source_atoms,
            stage: OnceLock::new(),
            plan_all: OnceLock::new(),
            plan_app: OnceLock::new(),
        };
        compiled.display = compiled.display_order();
        compiled
    }

    /// The firewall's rules, in input order, compiled to packet sets.
    fn compile_entries(
        fw: &Firewall,
        resolver: &dyn AddressResolver,
    ) -> Result<Vec<Entry>, FirewallError> {
        let mut entries = Vec::new();
        let mut groups: HashMap<(u32, String, Option<String>), usize> = HashMap::new();
        let mut order = 0usize;
        for (ci, c) in fw.collections.iter().enumerate() {
            let ctx =
                |rule: &str, kind: &str| format!("{kind} `{rule}` in collection `{}`", c.name);
            let err = |rule: String, kind| FirewallError {
                firewall: fw.name.clone(),
                rule,
                kind,
            };
            let coll_name = format!("collection `{}`", c.name);
            let exists = match &c.exists {
                Setting::Known(b) => Some(*b),
                Setting::Unknown => None,
                Setting::Invalid(v) => {
                    return Err(err(
                        coll_name,
                        FirewallErrorKind::Invalid {
                            field: "deployment condition",
                            value: v.clone(),
                        },
                    ));
                }
            };
            if exists == Some(false) {
                continue;
            }
            let priority = scalar(&c.priority, "collection priority")
                .map_err(|k| err(coll_name.clone(), k))?;
            let action =
                scalar(&c.action, "collection action").map_err(|k| err(coll_name.clone(), k))?;
            let (group, group_priority) = match &c.group {
                None => (0, None),
                Some(g) => {
                    let gp = scalar(&g.priority, "rule collection group priority")
                        .map_err(|k| err(format!("rule collection group `{}`", g.name), k))?;
                    let key = (c.level, g.name.to_ascii_lowercase(), g.policy.clone());
                    let next = groups.len() + 1;
                    (*groups.entry(key).or_insert(next), gp)
                }
            };
            let mut coll_doubts = Vec::new();
            for u in &c.unknown {
                coll_doubts.push(unknown_reason(u));
            }
            if c.unknown.is_empty() {
                note(
                    &mut coll_doubts,
                    priority.is_none(),
                    "its collection's priority is not known",
                );
                note(
                    &mut coll_doubts,
                    action.is_none(),
                    "its collection's action is not known",
                );
                note(
                    &mut coll_doubts,
                    exists.is_none(),
                    "whether its collection is deployed is not known",
                );
                note(
                    &mut coll_doubts,
                    c.group.is_some() && group_priority.is_none(),
                    "its rule collection group's priority is not known",
                );
            }
            for rule in &c.rules {
                order += 1;
                let (name, kind) = match rule {
                    FwRule::Network(r) => (r.name.clone(), RuleKind::Network),
                    FwRule::Application(r) => (r.name.clone(), RuleKind::Application),
                    FwRule::Unknown(_) => ("(not known offline)".to_string(), RuleKind::Unknown),
                };
                let rref = FwRuleRef {
                    name,
                    kind,
                    collection: c.name.clone(),
                    collection_priority: priority,
                    action,
                    group: c.group.as_ref().map(|g| g.name.clone()),
                    group_priority,
                    policy: c.group.as_ref().and_then(|g| g.policy.clone()),
                    prov: match rule {
                        FwRule::Network(r) => r.prov.clone(),
                        FwRule::Application(r) => r.prov.clone(),
                        FwRule::Unknown(u) => u.at.clone(),
                    }
                    .or_else(|| c.prov.clone()),
                };
                let mut doubts = coll_doubts.clone();
                let base = |stage, src: AddrBounds, body, doubts| Entry {
                    rule: rref.clone(),
                    stage,
                    level: c.level,
                    group,
                    group_priority,
                    collection: ci + 1,
                    collection_priority: priority,
                    order,
                    access: action,
                    exists,
                    src,
                    body,
                    doubts,
                };
                match rule {
                    FwRule::Network(r) => {
                        let label = ctx(&r.name, "network rule");
                        let (body, src) =
                            compile_network(r, resolver, &mut doubts).map_err(|k| err(label, k))?;
                        entries.push(base(Stage::Network, src, Body::Network(body), doubts));
                    }
                    FwRule::Application(r) => {
                        let label = ctx(&r.name, "application rule");
                        let (body, src) = compile_application(r, resolver, &mut doubts)
                            .map_err(|k| err(label, k))?;
                        entries.push(base(
                            Stage::Application,
                            src,
                            Body::Application(body),
                            doubts,
                        ));
                    }
                    FwRule::Unknown(u) => {
                        doubts.push(unknown_reason(u));
                        let all = AddrBounds {
                            surely: AddrSet::empty(),
                            possibly: AddrSet::all(),
                        };
                        let stages: &[Stage] = match c.kind {
                            CollectionKind::Network => &[Stage::Network],
                            CollectionKind::Application => &[Stage::Application],
                            CollectionKind::Unknown => &[Stage::Network, Stage::Application],
                        };
                        for s in stages {
                            entries.push(base(*s, all.clone(), Body::Unknown, doubts.clone()));
                        }
                    }
                }
            }
        }
        Ok(entries)
    }

    /// The firewall's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the network rules do with the packets from the source.
    pub fn network_stage(&self) -> &Arc<NetStage> {
        self.stage.get_or_init(|| Arc::new(self.compute_stage()))
    }

    /// What the network stage depends on besides the rules: for each part
    /// of the source, whether each network rule applies to it (no, maybe,
    /// surely). Two compilations of one firewall with equal keys (and the
    /// same resolver) have equal network stages, so callers may share one.
    pub fn stage_key(&self) -> Vec<Vec<u8>> {
        let net: Vec<usize> = (0..self.entries.len())
            .filter(|&i| {
                self.entries
                    .get(i)
                    .is_some_and(|e| e.stage == Stage::Network)
            })
            .collect();
        self.source_views(&net)
            .into_iter()
            .map(|v| v.into_iter().map(|t| t as u8).collect())
            .collect()
    }

    /// Supplies the network stage computed by another compilation with the
    /// same [`CompiledFirewall::stage_key`]. Ignored when already computed.
    pub fn share_network_stage(&self, stage: Arc<NetStage>) {
        let _ = self.stage.set(stage);
    }

    /// Per source atom, the source status of each of `members`.
    fn source_views(&self, members: &[usize]) -> Vec<Vec<Tri>> {
        match &self.source_atoms {
            Some(atoms) => atoms
                .iter()
                .map(|a| {
                    members
                        .iter()
                        .filter_map(|&i| self.entries.get(i))
                        .map(|e| source_status(a, &e.src))
                        .collect()
                })
                .collect(),
            None => self.coarse_view(members),
        }
    }

    /// The whole source as one view (a sound, coarser bound).
    fn coarse_view(&self, members: &[usize]) -> Vec<Vec<Tri>> {
        if self.source.is_empty() {
            return Vec::new();
        }
        vec![
            members
                .iter()
                .map(|&i| self.coarse_src.get(i).copied().unwrap_or(Tri::No))
                .collect(),
        ]
    }

    fn compute_stage(&self) -> NetStage {
        let empty = || Allowed {
            surely: PacketSet::empty(),
            possibly: PacketSet::empty(),
        };
        if self.source.is_empty() {
            return NetStage {
                allowed: empty(),
                unmatched: empty(),
            };
        }
        let net: Vec<usize> = (0..self.entries.len())
            .filter(|&i| {
                self.entries
                    .get(i)
                    .is_some_and(|e| e.stage == Stage::Network)
            })
            .collect();
        let views = self.source_views(&net);
        // Per bound, one processing order (positions into `net`) per placement.
        let orders: [Vec<Vec<usize>>; 2] = [Bound::Surely, Bound::Possibly].map(|bound| {
            self.placements(&net, bound)
                .iter()
                .map(|p| self.ordered(&net, bound, p))
                .collect()
        });
        let mut allowed_surely: Option<PacketSet> = None;
        let mut allowed_possibly = PacketSet::empty();
        let mut unmatched_surely: Option<PacketSet> = None;
        let mut unmatched_possibly = PacketSet::empty();
        for view in &views {
            let sets: Vec<(PacketSet, PacketSet)> = net
                .iter()
                .enumerate()
                .map(|(k, &i)| {
                    let (e, st) = (self.entries.get(i), view.get(k).copied());
                    match (e, st) {
                        (Some(e), Some(st)) => packet_sets(e, st),
                        _ => (PacketSet::empty(), PacketSet::empty()),
                    }
                })
                .collect();
            // Nothing unknown for these sources: both bounds are the same.
            let exact = net
                .iter()
                .zip(view)
                .zip(&sets)
                .all(|((&i, st), (min, max))| {
                    self.entries.get(i).is_some_and(|e| {
                        e.access.is_some()
                            && e.placed()
                            && (*st == Tri::No || (e.exists == Some(true) && min == max))
                    })
                });
            let bound_result = |bound: Bound| {
                let k = usize::from(bound == Bound::Possibly);
                let mut acc: Option<PacketSet> = None;
                for order in orders.get(k).map(Vec::as_slice).unwrap_or_default() {
                    let list: Vec<(Access, &PacketSet)> = order
                        .iter()
                        .filter_map(|&k| {
                            let e = self.entries.get(net.get(k).copied()?)?;
                            let (min, max) = sets.get(k)?;
                            Some(if e.hurts(bound) {
                                (hurt_access(bound), max)
                            } else {
                                (help_access(bound), min)
                            })
                        })
                        .collect();
                    let r = first_match(&list);
                    acc = Some(match (acc, bound) {
                        (None, _) => r,
                        (Some(a), Bound::Surely) => a.intersection(&r),
                        (Some(a), Bound::Possibly) => a.union(&r),
                    });
                }
                acc.unwrap_or_else(PacketSet::empty)
            };
            let surely = bound_result(Bound::Surely);
            let possibly = if exact {
                surely.clone()
            } else {
                bound_result(Bound::Possibly)
            };
            allowed_surely = Some(match allowed_surely {
                None => surely,
                Some(a) => a.intersection(&surely),
            });
            allowed_possibly = allowed_possibly.union(&possibly);
            let any_max = PacketSet::union_all(sets.iter().map(|(_, max)| max));
            let us = any_max.complement();
            let up = if exact {
                us.clone()
            } else {
                PacketSet::union_all(sets.iter().map(|(min, _)| min)).complement()
            };
            unmatched_surely = Some(match unmatched_surely {
                None => us,
                Some(a) => a.intersection(&us),
            });
            unmatched_possibly = unmatched_possibly.union(&up);
        }
        NetStage {
            allowed: Allowed {
                surely: allowed_surely.unwrap_or_else(PacketSet::empty),
                possibly: allowed_possibly,
            },
            unmatched: Allowed {
                surely: unmatched_surely.unwrap_or_else(PacketSet::empty),
                possibly: unmatched_possibly,
            },
        }
    }

    /// The placements to try for groups of unknown priority that hold both
    /// rules that hurt and rules that help the bound, among `members`
    /// (indices into entries). One empty placement when there are none;
    /// also when there are too many, since then each collection is placed on
    /// its own, which is still a bound.
    fn placements(&self, members: &[usize], bound: Bound) -> Vec<Placement> {
        let mut roles: HashMap<usize, (bool, bool, u32)> = HashMap::new();
        for &i in members {
            let Some(e) = self.entries.get(i) else {
                continue;
            };
            if e.group != 0 && e.group_priority.is_none() {
                let r = roles.entry(e.group).or_insert((false, false, e.level));
                if e.hurts(bound) {
                    r.0 = true;
                } else {
                    r.1 = true;
                }
            }
        }
        let mut mixed: Vec<(usize, u32)> = roles
            .iter()
            .filter(|(_, r)| r.0 && r.1)
            .map(|(g, r)| (*g, r.2))
            .collect();
        mixed.sort();
        if mixed.is_empty() {
            return vec![Placement::new()];
        }
        // At most one mixed group per level: two would also need their
        // relative order tried.
        let levels: HashSet<u32> = mixed.iter().map(|m| m.1).collect();
        if levels.len() != mixed.len() {
            return vec![Placement::new()];
        }
        let mut out = vec![Placement::new()];
        for (g, level) in mixed {
            let mut slots: Vec<u64> = members
                .iter()
                .filter_map(|&i| self.entries.get(i))
                .filter(|e| e.level == level && e.group != g && e.group != 0)
                .filter_map(|e| e.group_priority.map(|p| 2 * u64::from(p)))
                .collect();
            slots.push(0);
            slots.push(u64::MAX);
            slots.sort_unstable();
            slots.dedup();
            let mut next = Vec::new();
            for p in &out {
                for s in &slots {
                    let mut q = p.clone();
                    q.insert(g, *s);
                    next.push(q);
                }
            }
            if next.len() > MAX_PLACEMENTS {
                return vec![Placement::new()];
            }
            out = next;
        }
        out
    }

    /// The processing order of `members` (indices into entries) for a bound,
    /// as positions into `members`.
    fn ordered(&self, members: &[usize], bound: Bound, place: &Placement) -> Vec<usize> {
        let mut keyed: Vec<(OrderKey, usize)> = members
            .iter()
            .enumerate()
            .filter_map(|(k, &i)| {
                let e = self.entries.get(i)?;
                let extreme = if e.hurts(bound) { 0 } else { u64::MAX };
                let gslot = if e.group == 0 {
                    0
                } else {
                    match e.group_priority {
                        Some(p) => 2 * u64::from(p) + 1,
                        None => place.get(&e.group).copied().unwrap_or(extreme),
                    }
                };
                let cslot = match e.collection_priority {
                    Some(p) => 2 * u64::from(p) + 1,
                    None => extreme,
                };
                Some(((e.level, gslot, e.group, cslot, e.collection, e.order), k))
            })
            .collect();
        keyed.sort();
        keyed.into_iter().map(|(_, k)| k).collect()
    }

    /// The processing order used for evidence: unknown priorities first.
    fn display_order(&self) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..self.entries.len()).collect();
        idx.sort_by_key(|&i| {
            self.entries.get(i).map(|e| {
                let stage = u8::from(e.stage == Stage::Application);
                let g = if e.group == 0 {
                    0
                } else {
                    e.group_priority.map_or(0, |p| u64::from(p) + 1)
                };
                let c = e.collection_priority.map_or(0, |p| u64::from(p) + 1);
                (stage, e.level, g, e.group, c, e.collection, e.order)
            })
        });
        idx
    }

    /// Why the network rules allow, deny or pass on `packet`.
    pub fn explain_packet(&self, packet: &Packet) -> NetEvidence {
        let s = self.network_stage();
        let outcome = if s.allowed.surely.contains(packet) {
            NetOutcome::Allowed
        } else if !s.allowed.possibly.contains(packet) && !s.unmatched.possibly.contains(packet) {
            NetOutcome::Denied
        } else if s.unmatched.surely.contains(packet) {
            NetOutcome::Unmatched
        } else {
            NetOutcome::Unknown
        };
        let mut doubts = Vec::new();
        let mut decided_by = None;
        for &i in &self.display {
            let Some(e) = self.entries.get(i) else {
                continue;
            };
            if e.stage != Stage::Network {
                continue;
            }
            let st = self.coarse_src.get(i).copied().unwrap_or(Tri::No);
            let (min, max) = packet_sets(e, st);
            if e.access.is_some() && e.placed() && min.contains(packet) {
                decided_by = Some(e.rule.clone());
                break;
            }
            if max.contains(packet) {
                doubts.push(self.doubt(e, st));
            }
        }
        NetEvidence {
            outcome,
            decided_by,
            doubts,
        }
    }

    fn doubt(&self, e: &Entry, source: Tri) -> FwDoubt {
        let mut reasons = e.doubts.clone();
        if source == Tri::Maybe {
            reasons.push(format!(
                "it applies to only some of the source addresses ({})",
                self.source
            ));
        }
        FwDoubt {
            rule: e.rule.clone(),
            reasons,
        }
    }

    /// Whether `service` traffic from the source reaches `host` through the
    /// firewall: network rules, then application rules, then the default
    /// deny.
    pub fn host_verdict(&self, host: &HostQuery, service: &Service) -> AppVerdict {
        self.host_eval(host, service, &[Stage::Network, Stage::Application])
    }

    /// Whether the application rules alone let `service` traffic reach
    /// `host`: the verdict for traffic no network rule matched (see
    /// [`NetStage::unmatched`]). Traffic without an application protocol
    /// is denied.
    pub fn application_verdict(&self, host: &HostQuery, service: &Service) -> AppVerdict {
        self.host_eval(host, service, &[Stage::Application])
    }

    fn host_plan(&self, stages: &[Stage]) -> &HostPlan {
        let build = || {
            let members: Vec<usize> = (0..self.entries.len())
                .filter(|&i| {
                    self.entries
                        .get(i)
                        .is_some_and(|e| stages.contains(&e.stage))
                })
                .collect();
            let orders = [Bound::Surely, Bound::Possibly].map(|bound| {
                self.placements(&members, bound)
                    .iter()
                    .map(|p| self.ordered_stages(&members, bound, p))
                    .collect()
            });
            HostPlan {
                views: self.source_views(&members),
                coarse: self.coarse_view(&members),
                orders,
                members,
            }
        };
        if stages.contains(&Stage::Network) {
            self.plan_all.get_or_init(build)
        } else {
            self.plan_app.get_or_init(build)
        }
    }

    fn host_eval(&self, host: &HostQuery, service: &Service, stages: &[Stage]) -> AppVerdict {
        let plan = self.host_plan(stages);
        let members = &plan.members;
        // Fresh witnesses are valid names; a name asked about may not be.
        let mut valid = true;
        let witnesses: Vec<FreshHost> = match &host.host {
            HostSpec::Name(n) => vec![FreshHost {
                host: match fqdn::normalize_host(n) {
                    Some(h) => h,
                    None => {
                        valid = false;
                        n.trim().to_ascii_lowercase()
                    }
                },
                certain: true,
            }],
            HostSpec::FreshUnder(suffix) => {
                let patterns = self.patterns();
                fqdn::fresh_hosts(suffix, patterns.iter())
            }
        };
        let orders = &plan.orders;
        let per_view = members.len().max(1)
            * witnesses.len().max(1)
            * orders.iter().map(Vec::len).sum::<usize>().max(1);
        // Source atoms, or the whole source when that is too much work.
        let views = if plan.views.len().saturating_mul(per_view) > MAX_HOST_STEPS {
            &plan.coarse
        } else {
            &plan.views
        };
        // Address atoms: each rule's destination addresses hold all or none
        // of one, surely or possibly.
        let mut cuts: Vec<&AddrSet> = Vec::new();
        for e in members.iter().filter_map(|&i| self.entries.get(i)) {
            match &e.body {
                Body::Network(n) => {
                    cuts.push(&n.dst.surely);
                    cuts.push(&n.dst.possibly);
                }
                Body::Application(a) => {
                    if let Some(d) = &a.dst {
                        cuts.push(&d.surely);
                        cuts.push(&d.possibly);
                    }
                }
                Body::Unknown => {}
            }
        }
        let addr_atoms = atoms(&host.addresses, &cuts, MAX_ATOMS)
            .filter(|a| {
                a.len().saturating_mul(views.len()).saturating_mul(per_view) <= MAX_HOST_STEPS
            })
            .unwrap_or_else(|| vec![host.addresses.clone()]);

        // Per source view and witness: surely allowed whatever the address,
        // possibly allowed for some address.
        let nw = witnesses.len();
        let mut sure = vec![vec![!addr_atoms.is_empty(); nw]; views.len()];
        let mut poss = vec![vec![false; nw]; views.len()];
        for (wi, w) in witnesses.iter().enumerate() {
            for a in &addr_atoms {
                let body: Vec<Tri> = members
                    .iter()
                    .filter_map(|&i| self.entries.get(i))
                    .map(|e| {
                        e.exists_tri()
                            .and(self.body_status(e, &w.host, valid, a, service))
                    })
                    .collect();
                for (vi, view) in views.iter().enumerate() {
                    let statuses: Vec<Tri> =
                        body.iter().zip(view).map(|(b, s)| b.and(*s)).collect();
                    let s = orders.first().is_some_and(|os| {
                        !os.is_empty()
                            && os.iter().all(|o| {
                                eval_tri(&self.entries, members, &statuses, o, Bound::Surely)
                            })
                    });
                    let p = orders.get(1).is_some_and(|os| {
                        os.iter().any(|o| {
                            eval_tri(&self.entries, members, &statuses, o, Bound::Possibly)
                        })
                    });
                    if let Some(x) = sure.get_mut(vi).and_then(|r| r.get_mut(wi)) {
                        *x &= s;
                    }
                    if let Some(x) = poss.get_mut(vi).and_then(|r| r.get_mut(wi)) {
                        *x |= p;
                    }
                }
            }
        }
        let certain = |wi: usize| witnesses.get(wi).is_some_and(|w| w.certain);
        // Surely allowed: one name works from every source. (Sources that
        // each need a different name are only possibly allowed: the path's
        // evidence names one host, and that host must hold for all of them.)
        let sure_w = (0..nw).find(|&wi| {
            certain(wi) && !views.is_empty() && sure.iter().all(|row| row.get(wi) == Some(&true))
        });
        let surely = sure_w.is_some();
        let possibly = poss.iter().any(|row| row.iter().any(|p| *p));
        let verdict = if surely {
            Verdict::Allowed
        } else if possibly {
            Verdict::Unknown
        } else {
            Verdict::Denied
        };

        // Evidence for the most permissive witness.
        let poss_w = (0..nw).find(|&wi| poss.iter().any(|row| row.get(wi) == Some(&true)));
        let shown_host = sure_w
            .or(poss_w)
            .or(if nw > 0 { Some(0) } else { None })
            .and_then(|i| witnesses.get(i))
            .map(|w| w.host.clone());
        let mut decided_by = None;
        let mut doubts = Vec::new();
        let mut fqdn_tags = Vec::new();
        if let Some(h) = &shown_host {
            for &i in &self.display {
                let Some(e) = self.entries.get(i) else {
                    continue;
                };
                if !stages.contains(&e.stage) {
                    continue;
                }
                let src = self.coarse_src.get(i).copied().unwrap_or(Tri::No);
                let st = src.and(e.exists_tri()).and(self.body_status(
                    e,
                    h,
                    valid,
                    &host.addresses,
                    service,
                ));
                if st == Tri::No {
                    continue;
                }
                if let Body::Application(a) = &e.body {
                    for t in a.targets.iter().filter_map(Setting::known) {
                        if let AppTarget::FqdnTag(tag) = t
                            && !fqdn_tags.contains(tag)
                        {
                            fqdn_tags.push(tag.clone());
                        }
                    }
                }
                if st == Tri::Sure && e.access.is_some() && e.placed() {
                    decided_by = Some(e.rule.clone());
                    break;
                }
                let mut d = self.doubt(e, src);
                d.reasons.extend(self.match_doubts(e, h, service));
                doubts.push(d);
            }
        }
        AppVerdict {
            verdict,
            decided_by,
            doubts,
            fqdn_tags,
            host: shown_host,
        }
    }

    /// Every host pattern the rules use (for fresh-host witnesses).
    fn patterns(&self) -> Vec<HostPattern> {
        let mut out = Vec::new();
        for e in self.entries.iter() {
            match &e.body {
                Body::Network(n) => {
                    out.extend(n.fqdns.iter().map(|f| HostPattern::Exact(f.clone())));
                }
                Body::Application(a) => {
                    for t in a.targets.iter().filter_map(Setting::known) {
                        match t {
                            AppTarget::Fqdn(p) => out.push(p.clone()),
                            AppTarget::Url { host, .. } => out.push(host.clone()),
                            AppTarget::FqdnTag(_) | AppTarget::WebCategory(_) => {}
                        }
                    }
                }
                Body::Unknown => {}
            }
        }
        out
    }

    /// `members` (indices into entries) in processing order: network
    /// entries, then application entries. Returns indices into entries.
    fn ordered_stages(&self, members: &[usize], bound: Bound, place: &Placement) -> Vec<usize> {
        let mut out = Vec::with_capacity(members.len());
        for stage in [Stage::Network, Stage::Application] {
            let part: Vec<usize> = members
                .iter()
                .copied()
                .filter(|&i| self.entries.get(i).is_some_and(|e| e.stage == stage))
                .collect();
            for k in self.ordered(&part, bound, place) {
                if let Some(&i) = part.get(k) {
                    out.push(i);
                }
            }
        }
        out
    }

    /// How surely a rule's body (not its source or existence) matches
    /// `service` traffic to `host`, whose address lies in `addresses`.
    /// `host` is in canonical form when `valid`; otherwise it is not a host
    /// name (only `*` patterns match it).
    fn body_status(
        &self,
        e: &Entry,
        host: &str,
        valid: bool,
        addresses: &AddrSet,
        service: &Service,
    ) -> Tri {
        match &e.body {
            // Application rules see only HTTP, HTTPS and MSSQL (over TCP).
            Body::Unknown
                if e.stage == Stage::Application
                    && (service.app.is_none() || service.protocol != Protocol::Tcp) =>
            {
                Tri::No
            }
            Body::Unknown => Tri::Maybe,
            Body::Network(n) => {
                let proto = Tri::of(
                    n.proto.0.contains(service.protocol),
                    n.proto.1.contains(service.protocol),
                );
                let port = Tri::of(
                    n.ports.0.contains(service.port),
                    n.ports.1.contains(service.port),
                );
                let ip = addr_status(addresses, &n.dst);
                // An FQDN matches by its addresses: the same name surely,
                // any other name possibly (shared addresses).
                let by_name = if n.fqdns.iter().any(|f| f == host) {
                    Tri::Sure
                } else if n.fqdn_unknown || !n.fqdns.is_empty() {
                    Tri::Maybe
                } else {
                    Tri::No
                };
                proto.and(port).and(ip.or(by_name))
            }
            Body::Application(a) => {
                let Some(app) = service.app else {
                    return Tri::No;
                };
                if service.protocol != Protocol::Tcp {
                    return Tri::No;
                }
                let proto = if a
                    .protocols
                    .iter()
                    .any(|p| p.protocol == app && p.port == service.port)
                {
                    Tri::Sure
                } else if a.protocols_unknown {
                    Tri::Maybe
                } else {
                    Tri::No
                };
                let name = valid.then_some(host);
                let mut target = Tri::No;
                for t in &a.targets {
                    let st = match t {
                        Setting::Known(AppTarget::Fqdn(p)) => Tri::of(
                            name.map_or(*p == HostPattern::Any, |h| p.matches_name(h)),
                            false,
                        ),
                        Setting::Known(AppTarget::Url { host: p, path, .. }) => {
                            let m = name.map_or(*p == HostPattern::Any, |h| p.matches_name(h));
                            Tri::of(m && !path, m)
                        }
                        Setting::Known(AppTarget::FqdnTag(_) | AppTarget::WebCategory(_))
                        | Setting::Unknown => Tri::Maybe,
                        Setting::Invalid(_) => Tri::No,
                    };
                    target = target.or(st);
                }
                let dst = match &a.dst {
                    Some(d) => addr_status(addresses, d),
                    None => Tri::Sure,
                };
                proto.and(target).and(dst)
            }
        }
    }

    /// Why a rule only may match `host` (for evidence).
    fn match_doubts(&self, e: &Entry, host: &str, service: &Service) -> Vec<String> {
        let mut out = Vec::new();
        match &e.body {
            Body::Network(n) => {
                if !n.fqdns.is_empty() && !n.fqdns.iter().any(|f| f == host) {
                    out.push(format!(
                        "it matches the addresses {} resolve to; `{host}` may share them",
                        n.fqdns
                            .iter()
                            .map(|f| format!("`{f}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                if n.dst.surely != n.dst.possibly {
                    out.push("its destination addresses are not fully known".to_string());
                }
            }
            Body::Application(a) => {
                for t in a.targets.iter().filter_map(Setting::known) {
                    match t {
                        AppTarget::FqdnTag(tag) => out.push(format!(
                            "FQDN tag `{tag}` is a list of Microsoft names kept by Azure, not known offline"
                        )),
                        AppTarget::WebCategory(c) => out.push(format!(
                            "web category `{c}` depends on Microsoft's classification of `{host}`"
                        )),
                        AppTarget::Url { host: p, path: true, text } if p.matches_name(host) => {
                            out.push(format!("URL `{text}` admits only some paths of `{host}`"))
                        }
                        _ => {}
                    }
                }
                if service.app.is_some() && a.protocols_unknown {
                    out.push("its protocols are not fully known".to_string());
                }
            }
            Body::Unknown => {}
        }
        out
    }
}

/// First match over tri-valued statuses, for one bound and one order.
/// `statuses` follow `members`; `order` lists entry indices.
fn eval_tri(
    entries: &[Entry],
    members: &[usize],
    statuses: &[Tri],
    order: &[usize],
    bound: Bound,
) -> bool {
    for &i in order {
        let Some(e) = entries.get(i) else {
            continue;
        };
        let Some(st) = members.binary_search(&i).ok().and_then(|k| statuses.get(k)) else {
            continue;
        };
        if e.hurts(bound) {
            if *st >= Tri::Maybe {
                return bound == Bound::Possibly;
            }
        } else if *st == Tri::Sure {
            return bound == Bound::Surely;
        }
    }
    false
}

fn hurt_access(bound: Bound) -> Access {
    match bound {
        Bound::Surely => Access::Deny,
        Bound::Possibly => Access::Allow,
    }
}

fn help_access(bound: Bound) -> Access {
    match bound {
        Bound::Surely => Access::Allow,
        Bound::Possibly => Access::Deny,
    }
}

/// A network entry's packets for a source status: (surely, possibly) matched.
fn packet_sets(e: &Entry, source: Tri) -> (PacketSet, PacketSet) {
    let st = source.and(e.exists_tri());
    match &e.body {
        Body::Network(n) => {
            let max = if st >= Tri::Maybe {
                n.sets().1.clone()
            } else {
                PacketSet::empty()
            };
            let min = if st == Tri::Sure {
                n.sets().0.clone()
            } else {
                PacketSet::empty()
            };
            (min, max)
        }
        Body::Unknown => {
            let max = if st >= Tri::Maybe {
                PacketSet::universe()
            } else {
                PacketSet::empty()
            };
            (PacketSet::empty(), max)
        }
        Body::Application(_) => (PacketSet::empty(), PacketSet::empty()),
    }
}

/// First match wins: the packets the first rule matching them allows.
fn first_match(rules: &[(Access, &PacketSet)]) -> PacketSet {
    let list: Vec<(bool, &PacketSet)> = rules
        .iter()
        .map(|(a, m)| (*a == Access::Allow, *m))
        .collect();
    crate::space::first_match(&list)
}

/// How surely a rule with sources `src` applies to every address of `atom`.
fn source_status(atom: &AddrSet, src: &AddrBounds) -> Tri {
    if atom.is_empty() {
        return Tri::No;
    }
    Tri::of(atom.is_subset(&src.surely), atom.intersects(&src.possibly))
}

/// How surely an address somewhere in `addresses` lies in `dst`.
fn addr_status(addresses: &AddrSet, dst: &AddrBounds) -> Tri {
    if addresses.is_empty() {
        return Tri::No;
    }
    Tri::of(
        addresses.is_subset(&dst.surely),
        addresses.intersects(&dst.possibly),
    )
}

fn note(doubts: &mut Vec<String>, cond: bool, what: &str) {
    if cond {
        doubts.push(what.to_string());
    }
}

fn unknown_reason(u: &UnknownPart) -> String {
    let mut reason = format!("`{}` is not known offline: {}", u.field, u.value.reason);
    if let Some(input) = &u.value.input {
        reason.push_str(&format!(" (set {input} to decide)"));
    }
    reason
}

/// A scalar setting: `Ok(Some)` known, `Ok(None)` unknown, `Err` invalid.
fn scalar<T: Copy>(s: &Setting<T>, field: &'static str) -> Result<Option<T>, FirewallErrorKind> {
    match s {
        Setting::Known(t) => Ok(Some(*t)),
        Setting::Unknown => Ok(None),
        Setting::Invalid(v) if v.is_empty() => Err(FirewallErrorKind::Missing { field }),
        Setting::Invalid(v) => Err(FirewallErrorKind::Invalid {
            field,
            value: v.clone(),
        }),
    }
}

/// The union of address items: what they surely and possibly cover.
fn addresses(
    items: &[Setting<AddrItem>],
    field: &'static str,
    resolver: &dyn AddressResolver,
) -> Result<AddrBounds, FirewallErrorKind> {
    let mut out = AddrBounds::empty();
    for item in items {
        let b = match item {
            Setting::Known(AddrItem::Any) => AddrBounds::exact(AddrSet::all()),
            Setting::Known(AddrItem::Literal(set, _)) => resolver.prefix(set),
            Setting::Known(AddrItem::Tag(name)) => {
                resolver.tag(name).map_err(FirewallErrorKind::Resolve)?
            }
            Setting::Known(AddrItem::IpGroup { members, .. }) => match members {
                Some(set) => resolver.prefix(set),
                None => AddrBounds {
                    surely: AddrSet::empty(),
                    possibly: AddrSet::all(),
                },
            },
            Setting::Unknown => AddrBounds {
                surely: AddrSet::empty(),
                possibly: AddrSet::all(),
            },
            Setting::Invalid(v) => {
                return Err(FirewallErrorKind::Invalid {
                    field,
                    value: v.clone(),
                });
            }
        };
        out = out.union(&b);
    }
    Ok(out)
}

fn source_bounds(
    items: &[Setting<AddrItem>],
    resolver: &dyn AddressResolver,
    doubts: &mut Vec<String>,
) -> Result<AddrBounds, FirewallErrorKind> {
    if items.is_empty() {
        return Err(FirewallErrorKind::Missing {
            field: "source address or IP group",
        });
    }
    for item in items {
        match item {
            Setting::Known(AddrItem::IpGroup { id, members: None }) => doubts.push(format!(
                "the members of source IP group `{id}` are not known offline"
            )),
            Setting::Unknown => doubts.push("a source is not known offline".to_string()),
            _ => {}
        }
    }
    addresses(items, "source address", resolver)
}

fn compile_network(
    r: &NetworkRule,
    resolver: &dyn AddressResolver,
    doubts: &mut Vec<String>,
) -> Result<(NetBody, AddrBounds), FirewallErrorKind> {
    for u in &r.unknown {
        doubts.push(unknown_reason(u));
    }
    let src = source_bounds(&r.sources, resolver, doubts)?;
    if r.destinations.is_empty() && r.destination_fqdns.is_empty() {
        return Err(FirewallErrorKind::Missing {
            field: "destination (address, IP group or FQDN)",
        });
    }
    let dst = addresses(&r.destinations, "destination address", resolver)?;
    let mut fqdns = Vec::new();
    let mut fqdn_unknown = false;
    for f in &r.destination_fqdns {
        match f {
            Setting::Known(h) => fqdns.push(h.clone()),
            Setting::Unknown => fqdn_unknown = true,
            Setting::Invalid(v) => {
                return Err(FirewallErrorKind::Invalid {
                    field: "destination FQDN (network rules take no wildcard)",
                    value: v.clone(),
                });
            }
        }
    }
    if r.ports.is_empty() {
        return Err(FirewallErrorKind::Missing {
            field: "destination port",
        });
    }
    let mut known_ports = Vec::new();
    let mut ports_unknown = false;
    for p in &r.ports {
        match p {
            Setting::Known(PortSpec::Any) => known_ports.push((u16::MIN, u16::MAX)),
            Setting::Known(PortSpec::Range(lo, hi)) => known_ports.push((*lo, *hi)),
            Setting::Unknown => ports_unknown = true,
            Setting::Invalid(v) => {
                return Err(FirewallErrorKind::Invalid {
                    field: "destination port",
                    value: v.clone(),
                });
            }
        }
    }
    let port_min = PortSet::from_ranges(known_ports);
    let port_max = if ports_unknown {
        PortSet::all()
    } else {
        port_min.clone()
    };
    if r.protocols.is_empty() {
        return Err(FirewallErrorKind::Missing { field: "protocol" });
    }
    let mut proto_min = ProtoSet::empty();
    let mut proto_unknown = false;
    for p in &r.protocols {
        match p {
            Setting::Known(p) => proto_min = proto_min.union(&p.protocols()),
            Setting::Unknown => proto_unknown = true,
            Setting::Invalid(v) => {
                return Err(FirewallErrorKind::Invalid {
                    field: "protocol",
                    value: v.clone(),
                });
            }
        }
    }
    let proto_max = if proto_unknown {
        ProtoSet::all()
    } else {
        proto_min.clone()
    };
    if r.unknown.is_empty() {
        note(
            doubts,
            dst.surely != dst.possibly,
            "its destination addresses are not fully known",
        );
        note(
            doubts,
            ports_unknown,
            "its destination ports are not fully known",
        );
        note(doubts, proto_unknown, "its protocols are not fully known");
    }
    Ok((
        NetBody {
            proto: (proto_min, proto_max),
            ports: (port_min, port_max),
            dst,
            fqdns,
            fqdn_unknown,
            sets: OnceLock::new(),
        },
        src,
    ))
}

fn compile_application(
    r: &ApplicationRule,
    resolver: &dyn AddressResolver,
    doubts: &mut Vec<String>,
) -> Result<(AppBody, AddrBounds), FirewallErrorKind> {
    for u in &r.unknown {
        doubts.push(unknown_reason(u));
    }
    let src = source_bounds(&r.sources, resolver, doubts)?;
    if r.targets.is_empty() {
        return Err(FirewallErrorKind::Missing {
            field: "target (FQDN, URL, FQDN tag or web category)",
        });
    }
    for t in &r.targets {
        if let Setting::Invalid(v) = t {
            return Err(FirewallErrorKind::Invalid {
                field: "target FQDN or URL",
                value: v.clone(),
            });
        }
    }
    let mut protocols = Vec::new();
    let mut protocols_unknown = false;
    for p in &r.protocols {
        match p {
            Setting::Known(p) => protocols.push(*p),
            Setting::Unknown => protocols_unknown = true,
            Setting::Invalid(v) => {
                return Err(FirewallErrorKind::Invalid {
                    field: "application protocol",
                    value: v.clone(),
                });
            }
        }
    }
    if r.protocols.is_empty() {
        protocols = vec![
            AppPort {
                protocol: AppProtocol::Http,
                port: 80,
            },
            AppPort {
                protocol: AppProtocol::Https,
                port: 443,
            },
        ];
    }
    let dst = if r.destination_addresses.is_empty() {
        None
    } else {
        Some(addresses(
            &r.destination_addresses,
            "destination address",
            resolver,
        )?)
    };
    Ok((
        AppBody {
            targets: r.targets.clone(),
            protocols,
            protocols_unknown,
            dst,
        },
        src,
    ))
}

#[cfg(test)]
mod tests;
