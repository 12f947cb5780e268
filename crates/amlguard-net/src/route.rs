//! Routing of traffic leaving a subnet: which next hop each destination
//! address goes to.
//!
//! What Azure does ("Virtual network traffic routing", the
//! `virtual-networks-udr-overview` article of the Azure docs):
//!
//! - Every subnet has system routes: one per prefix of the VNet's address
//!   space (next hop `VnetLocal`), one per prefix of each peered VNet's address
//!   space (`VNetPeering`), `0.0.0.0/0` to `Internet`, and `10.0.0.0/8`,
//!   `172.16.0.0/12`, `192.168.0.0/16` (RFC 1918) and `100.64.0.0/10`
//!   (RFC 6598) to `None`, which drops the traffic. A reserved range that the
//!   VNet's address space covers has no `None` route: Azure switches it to the
//!   VNet (the same prefix) or removes it (a larger VNet prefix). A VNet gateway
//!   adds the prefixes it learns (BGP or the local network gateway) with next
//!   hop `VirtualNetworkGateway`, unless the route table sets
//!   `disableBgpRoutePropagation`.
//! - The route table associated with the subnet (`properties.routeTable.id`)
//!   adds user-defined routes: `addressPrefix` is a CIDR prefix or a service
//!   tag (each prefix of the tag is then a route), `nextHopType` is one of
//!   `Internet`, `VirtualAppliance` (with `nextHopIpAddress`),
//!   `VirtualApplianceEcmp`, `None`, `VnetLocal`, `VirtualNetworkGateway`.
//! - The longest prefix that contains the destination wins. At equal length a
//!   user route beats a gateway (BGP) route, which beats a system route; among
//!   user routes a literal prefix beats a service tag, and tags rank regional
//!   (`Storage.EastUS`), then top-level (`Storage`), then `AzureCloud.<region>`,
//!   then `AzureCloud`. System routes for the VNet and its peerings are
//!   preferred to gateway routes even when those are more specific.
//!
//! This module also carries IPv6: `::/0` goes to `Internet` like `0.0.0.0/0`.
//!
//! Choices where Azure leaves no choice or says nothing:
//! - Two deployed routes of a table with the same literal prefix: Azure does
//!   not accept the table, so [`Routing::new`] rejects it
//!   ([`RouteErrorKind::Duplicate`]). When either route's deployment is not
//!   known offline both are kept, and either may decide.
//! - Two routes of the same length and class that cover an address (two tags
//!   sharing a prefix; a dotted tag name, which may be regional or a dotted
//!   global tag such as `AzureFrontDoor.Frontend`, against a top-level tag):
//!   either may decide.
//! - A peered address space equal to a reserved range wins over its `None`
//!   route, as the VNet's own address space does.
//!
//! Values not known offline. A route whose prefix, next hop, next-hop address
//! or existence (deployment condition) is unknown, a service-tag prefix whose
//! length is not known (symbolic tags, see [`crate::resolve::TagPrefix`]), and
//! a literal prefix whose addresses are only bounded (symbolic mode) make the
//! outcome uncertain. [`Routing::hops`] then gives, per next hop, the
//! addresses surely sent there (whatever the unknowns are) and those possibly
//! sent there. Unknowns of different routes are taken as independent, and
//! every route's unknowns range over all values Azure accepts, so the bounds
//! are sound: `surely` ⊆ truth ⊆ `possibly` for every resolution.
//!
//! How it is computed. Each route is a candidate with the addresses it surely
//! and possibly covers and a precedence ("rank": prefix length, then route
//! class) known up to a range. For one address, let `m` be the highest lowest
//! rank of the routes that surely exist and surely cover it: the winner ranks
//! at least `m`. The routes that may cover the address and may rank `m` or
//! more are the possible winners; the address surely goes to hop `h` when all
//! of them surely go to `h`. Over sets this is one sweep over ranks in
//! descending order, keeping the addresses not yet surely claimed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::net::IpAddr;

use amlguard_model::{Field, Model, Prov, Resource, ResourceKind, Tree, TreeKind, UnknownValue};

use crate::nsg::{Setting, UnknownPart};
use crate::resolve::{AddrBounds, AddressResolver, ResolveError};
use crate::space::AddrSet;

// ---------------------------------------------------------------------------
// Routes as the input gives them.

/// Where a route sends traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Hop {
    /// Out to the internet (Azure keeps traffic to Azure services on its backbone).
    Internet,
    /// A virtual appliance (`VirtualAppliance`, `VirtualApplianceEcmp`) at this
    /// private address; `None` when the address is not known offline.
    Appliance(Option<IpAddr>),
    /// Dropped (next hop `None`).
    Drop,
    /// Kept inside the virtual network (`VnetLocal`).
    VnetLocal,
    /// To a peered virtual network (system route `VNetPeering`).
    Peering,
    /// To the virtual network gateway (`VirtualNetworkGateway`).
    Gateway,
}

impl fmt::Display for Hop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hop::Internet => f.write_str("Internet"),
            Hop::Appliance(Some(ip)) => write!(f, "virtual appliance {ip}"),
            Hop::Appliance(None) => f.write_str("virtual appliance (address not known offline)"),
            Hop::Drop => f.write_str("None (dropped)"),
            Hop::VnetLocal => f.write_str("virtual network"),
            Hop::Peering => f.write_str("VNet peering"),
            Hop::Gateway => f.write_str("virtual network gateway"),
        }
    }
}

/// The `nextHopType` of a user-defined route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NextHopKind {
    Internet,
    VirtualAppliance,
    /// Equal-cost multi-path over several appliances: which one a packet takes
    /// is not known, so it counts as an appliance of unknown address.
    VirtualApplianceEcmp,
    /// Drop the traffic.
    None,
    VnetLocal,
    VirtualNetworkGateway,
}

impl NextHopKind {
    /// The ARM value, compared case-insensitively.
    pub fn parse(text: &str) -> Option<NextHopKind> {
        let t = text.trim();
        [
            NextHopKind::Internet,
            NextHopKind::VirtualAppliance,
            NextHopKind::VirtualApplianceEcmp,
            NextHopKind::None,
            NextHopKind::VnetLocal,
            NextHopKind::VirtualNetworkGateway,
        ]
        .into_iter()
        .find(|k| k.as_str().eq_ignore_ascii_case(t))
    }

    /// The ARM value.
    pub fn as_str(self) -> &'static str {
        match self {
            NextHopKind::Internet => "Internet",
            NextHopKind::VirtualAppliance => "VirtualAppliance",
            NextHopKind::VirtualApplianceEcmp => "VirtualApplianceEcmp",
            NextHopKind::None => "None",
            NextHopKind::VnetLocal => "VnetLocal",
            NextHopKind::VirtualNetworkGateway => "VirtualNetworkGateway",
        }
    }
}

impl fmt::Display for NextHopKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `addressPrefix` of a user-defined route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoutePrefix {
    /// A CIDR prefix: its addresses, its length, and the text as written.
    Prefix(AddrSet, u8, String),
    /// A service tag (each of its prefixes is a route).
    Tag(String),
}

impl RoutePrefix {
    /// Reads an `addressPrefix`: a CIDR prefix (a bare address is a /32 or
    /// /128), or a service-tag name. The virtual tags of NSG rules
    /// (`Internet`, `VirtualNetwork`, `AzureLoadBalancer`) are not accepted in
    /// routes, and text that is neither is invalid.
    pub fn parse(text: &str) -> Setting<RoutePrefix> {
        let t = text.trim();
        if let Ok(set) = AddrSet::parse(t) {
            let len = match t.split_once('/') {
                Some((_, l)) => l.trim().parse::<u8>().ok(),
                None if t.contains(':') => Some(128),
                None => Some(32),
            };
            return match len {
                Some(len) => Setting::Known(RoutePrefix::Prefix(set, len, t.to_string())),
                None => Setting::Invalid(t.to_string()),
            };
        }
        // Tag names start with a letter (`10.0.0.x` is a broken address).
        let tag_like = t.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        let virtual_tag = [
            "Internet",
            "VirtualNetwork",
            "AzureLoadBalancer",
            "*",
            "Any",
        ]
        .iter()
        .any(|v| v.eq_ignore_ascii_case(t));
        if tag_like && !virtual_tag {
            Setting::Known(RoutePrefix::Tag(t.to_string()))
        } else {
            Setting::Invalid(t.to_string())
        }
    }
}

impl fmt::Display for RoutePrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RoutePrefix::Prefix(_, _, t) | RoutePrefix::Tag(t) => f.write_str(t),
        }
    }
}

/// The address of a virtual appliance as the input gives it.
pub type NextHopIp = Option<Setting<IpAddr>>;

/// One user-defined route, as the input gives it.
#[derive(Clone, Debug, PartialEq)]
pub struct RouteEntry {
    pub name: String,
    /// `addressPrefix`. `Invalid("")` when it is not set.
    pub prefix: Setting<RoutePrefix>,
    /// `nextHopType`. `Invalid("")` when it is not set.
    pub next_hop: Setting<NextHopKind>,
    /// `nextHopIpAddress`; `None` when not set.
    pub next_hop_ip: NextHopIp,
    /// Whether the route is deployed: `Unknown` when its deployment condition
    /// is not known offline.
    pub exists: Setting<bool>,
    /// Why the unknown parts are unknown.
    pub unknown: Vec<UnknownPart>,
    /// Where the route is written.
    pub prov: Option<Prov>,
}

impl RouteEntry {
    /// A deployed route with a known prefix (CIDR or tag) and next hop.
    pub fn new(name: &str, prefix: &str, next_hop: NextHopKind) -> RouteEntry {
        RouteEntry {
            name: name.to_string(),
            prefix: RoutePrefix::parse(prefix),
            next_hop: Setting::Known(next_hop),
            next_hop_ip: None,
            exists: Setting::Known(true),
            unknown: Vec::new(),
            prov: None,
        }
    }

    /// A route to the virtual appliance at `ip`.
    pub fn appliance(name: &str, prefix: &str, ip: IpAddr) -> RouteEntry {
        RouteEntry::new(name, prefix, NextHopKind::VirtualAppliance).with_ip(ip)
    }

    /// Sets `nextHopIpAddress`.
    pub fn with_ip(mut self, ip: IpAddr) -> RouteEntry {
        self.next_hop_ip = Some(Setting::Known(ip));
        self
    }

    /// Whether any part of the route is not known offline.
    pub fn is_unknown(&self) -> bool {
        !self.unknown.is_empty()
            || matches!(self.prefix, Setting::Unknown)
            || matches!(self.next_hop, Setting::Unknown)
            || matches!(self.next_hop_ip, Some(Setting::Unknown))
            || matches!(self.exists, Setting::Unknown)
    }
}

// ---------------------------------------------------------------------------
// Reading routes from the model.

/// The user-defined routes of a route table: the ones written inline in
/// `properties.routes` and the `routeTables/routes` child resources. Ingest
/// also turns inline routes into child resources; those copies are recognised
/// and not counted twice, and a child declared on its own replaces an inline
/// route of the same name (as ingest does).
///
/// Whether the route table itself is deployed is the caller's question; an
/// inline route exists when the table does. A routes list that is not known
/// offline, or a table declared `existing` without routes in the input, gives
/// one route whose every part is unknown (any address may go anywhere).
pub fn routes_from_model(model: &Model, route_table: &Resource) -> Vec<RouteEntry> {
    let mut out = Vec::new();
    let mut inline: Vec<&Tree> = Vec::new();
    match route_table.get("properties.routes") {
        Field::Known(t) => match t.as_array() {
            Some(items) => inline.extend(items.iter()),
            None => out.push(RouteEntry {
                name: "(routes)".to_string(),
                prefix: Setting::Invalid(format!("`routes` is {t}, not an array")),
                next_hop: Setting::Unknown,
                next_hop_ip: None,
                exists: Setting::Known(true),
                unknown: Vec::new(),
                prov: t.prov.clone(),
            }),
        },
        Field::Unknown { value, at } => out.push(unknown_route("routes", value.clone(), at)),
        Field::Absent { at } => {
            if route_table.existing {
                let value = UnknownValue {
                    reason:
                        "the route table is declared `existing`: its routes are not in the input"
                            .to_string(),
                    input: None,
                    secret: false,
                };
                out.push(unknown_route("routes", value, at));
            }
        }
    }

    let children: Vec<&Resource> = model
        .resources
        .iter()
        .filter(|r| {
            r.kind == ResourceKind::Route
                && r.condition != Some(false)
                && is_child(r, route_table)
                && !inline.iter().any(|item| **item == r.body)
        })
        .collect();

    for item in &inline {
        let name = item.member("name").and_then(Tree::as_str);
        let replaced = name.is_some_and(|n| {
            children
                .iter()
                .any(|c| c.short_name().is_some_and(|s| s.eq_ignore_ascii_case(n)))
        });
        if replaced {
            continue;
        }
        let prov = item
            .prov
            .clone()
            .unwrap_or_else(|| route_table.prov.clone());
        out.push(read_route(
            item,
            &prov,
            name.map_or_else(unnamed, str::to_string),
            Setting::Known(true),
            Vec::new(),
            false,
        ));
    }
    for c in children {
        let mut unknown = Vec::new();
        let exists = match c.condition {
            Some(true) => Setting::Known(true),
            Some(false) => Setting::Known(false),
            None => {
                unknown.push(UnknownPart {
                    field: "condition".to_string(),
                    value: UnknownValue {
                        reason: "the route's deployment condition is not known offline".to_string(),
                        input: None,
                        secret: false,
                    },
                    at: Some(c.prov.clone()),
                });
                Setting::Unknown
            }
        };
        out.push(read_route(
            &c.body,
            &c.prov,
            c.short_name().map_or_else(unnamed, str::to_string),
            exists,
            unknown,
            c.existing,
        ));
    }
    out
}

/// Whether gateway-learned routes reach subnets using this route table:
/// `false` when `disableBgpRoutePropagation` is true. The caller leaves
/// [`SystemRoutes::gateway`] empty then.
pub fn gateway_routes_propagate(route_table: &Resource) -> Setting<bool> {
    match route_table.get("properties.disableBgpRoutePropagation") {
        Field::Known(t) => match t.as_bool() {
            Some(b) => Setting::Known(!b),
            None => Setting::Invalid(t.to_string()),
        },
        Field::Absent { .. } => Setting::Known(true),
        Field::Unknown { .. } => Setting::Unknown,
    }
}

fn unnamed() -> String {
    "(name not known offline)".to_string()
}

/// A route every part of which is unknown.
fn unknown_route(field: &str, value: UnknownValue, at: Prov) -> RouteEntry {
    RouteEntry {
        name: format!("({field} not known offline)"),
        prefix: Setting::Unknown,
        next_hop: Setting::Unknown,
        next_hop_ip: Some(Setting::Unknown),
        exists: Setting::Unknown,
        unknown: vec![UnknownPart {
            field: field.to_string(),
            value,
            at: Some(at.clone()),
        }],
        prov: Some(at),
    }
}

/// Whether `r` is a child route of `table`: by resource ID, or by name when an
/// ID is not known offline.
fn is_child(r: &Resource, table: &Resource) -> bool {
    match (r.parent_id(), table.id.as_deref()) {
        (Some(p), Some(t)) => p.eq_ignore_ascii_case(t),
        _ => match (r.name.as_deref(), table.name.as_deref()) {
            (Some(n), Some(t)) => n
                .rsplit_once('/')
                .is_some_and(|(head, _)| head.eq_ignore_ascii_case(t)),
            _ => false,
        },
    }
}

/// A string property: the text, absent, unknown (recorded), or not a string.
enum Text<'a> {
    Known(&'a str),
    Absent,
    Unknown,
    Other(String),
}

fn text<'a>(field: Field<'a>, name: &str, unknown: &mut Vec<UnknownPart>) -> Text<'a> {
    match field {
        Field::Known(t) => match &t.kind {
            TreeKind::String(s) => Text::Known(s),
            _ => Text::Other(t.to_string()),
        },
        Field::Absent { .. } => Text::Absent,
        Field::Unknown { value, at } => {
            unknown.push(UnknownPart {
                field: name.to_string(),
                value: value.clone(),
                at: Some(at),
            });
            Text::Unknown
        }
    }
}

/// Reads one route from its body (`{name, properties: {…}}`).
fn read_route(
    body: &Tree,
    prov: &Prov,
    name: String,
    exists: Setting<bool>,
    mut unknown: Vec<UnknownPart>,
    existing: bool,
) -> RouteEntry {
    // A route declared `existing` is in Azure, but its properties are not in the input.
    let not_in_input = |field: &str, unknown: &mut Vec<UnknownPart>| {
        unknown.push(UnknownPart {
            field: field.to_string(),
            value: UnknownValue {
                reason: "the route is declared `existing`: its properties are not in the input"
                    .to_string(),
                input: None,
                secret: false,
            },
            at: Some(prov.clone()),
        });
    };
    let prefix = match text(
        body.get_path("properties.addressPrefix", prov),
        "addressPrefix",
        &mut unknown,
    ) {
        Text::Known(s) => RoutePrefix::parse(s),
        Text::Unknown => Setting::Unknown,
        Text::Other(s) => Setting::Invalid(s),
        Text::Absent if existing => {
            not_in_input("addressPrefix", &mut unknown);
            Setting::Unknown
        }
        Text::Absent => Setting::Invalid(String::new()),
    };
    let next_hop = match text(
        body.get_path("properties.nextHopType", prov),
        "nextHopType",
        &mut unknown,
    ) {
        Text::Known(s) => match NextHopKind::parse(s) {
            Some(k) => Setting::Known(k),
            None => Setting::Invalid(s.to_string()),
        },
        Text::Unknown => Setting::Unknown,
        Text::Other(s) => Setting::Invalid(s),
        Text::Absent if existing => {
            not_in_input("nextHopType", &mut unknown);
            Setting::Unknown
        }
        Text::Absent => Setting::Invalid(String::new()),
    };
    let next_hop_ip = match text(
        body.get_path("properties.nextHopIpAddress", prov),
        "nextHopIpAddress",
        &mut unknown,
    ) {
        Text::Known(s) => Some(match s.trim().parse::<IpAddr>() {
            Ok(ip) => Setting::Known(ip),
            Err(_) => Setting::Invalid(s.to_string()),
        }),
        Text::Unknown => Some(Setting::Unknown),
        Text::Other(s) => Some(Setting::Invalid(s)),
        Text::Absent if existing => Some(Setting::Unknown),
        Text::Absent => None,
    };
    RouteEntry {
        name,
        prefix,
        next_hop,
        next_hop_ip,
        exists,
        unknown,
        prov: body.prov.clone().or_else(|| Some(prov.clone())),
    }
}

// ---------------------------------------------------------------------------
// Errors.

/// A route that cannot be evaluated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteError {
    /// The route's name.
    pub route: String,
    pub kind: RouteErrorKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteErrorKind {
    /// A service tag without addresses.
    Resolve(ResolveError),
    /// A value Azure does not accept.
    Invalid { field: &'static str, value: String },
    /// A required value is missing.
    Missing { field: &'static str },
    /// Two deployed routes of the table have the same prefix, which Azure
    /// does not accept.
    Duplicate { other: String, prefix: String },
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "route `{}`: ", self.route)?;
        match &self.kind {
            RouteErrorKind::Resolve(e) => e.fmt(f),
            RouteErrorKind::Invalid { field, value } => {
                write!(f, "`{value}` is not a valid {field}")
            }
            RouteErrorKind::Missing { field } => write!(f, "no {field} is set"),
            RouteErrorKind::Duplicate { other, prefix } => write!(
                f,
                "route `{other}` has the same address prefix {prefix} (Azure rejects the route table)"
            ),
        }
    }
}

impl std::error::Error for RouteError {}

// ---------------------------------------------------------------------------
// Evaluation.

/// The system routes of a subnet, by next hop. Each set is taken as the
/// routes of its largest aligned blocks (its shortest CIDR cover): exact for
/// an address space whose prefixes do not merge into a larger aligned block.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SystemRoutes {
    /// The VNet's address space (next hop `VnetLocal`).
    pub vnet: AddrSet,
    /// The address spaces of peered VNets (next hop `VNetPeering`).
    pub peered: AddrSet,
    /// Prefixes the VNet gateway learns (next hop `VirtualNetworkGateway`);
    /// empty when the route table disables gateway route propagation.
    pub gateway: AddrSet,
}

/// A route as named in evidence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteRef {
    pub name: String,
    /// The prefix as written (a tag with the prefix of it that applies, when known).
    pub prefix: String,
    /// A user-defined route (else a system or gateway route).
    pub user: bool,
    /// Its index in the user routes given.
    pub index: Option<usize>,
    pub prov: Option<Prov>,
}

impl fmt::Display for RouteRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.user { "user" } else { "system" };
        write!(f, "{kind} route `{}` ({})", self.name, self.prefix)
    }
}

/// Why one address goes where it goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteEvidence {
    /// The next hop; `None` when it depends on values not known offline.
    pub hop: Option<Hop>,
    /// The next hops the address may go to (one when `hop` is known).
    pub possible: Vec<Hop>,
    /// The route that decides, or, when uncertain, the most specific route
    /// that surely applies.
    pub route: Option<RouteRef>,
    /// Routes that may decide instead, and why each is not known.
    pub doubts: Vec<String>,
}

/// Precedence at equal prefix length, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Class {
    /// `0.0.0.0/0`, the reserved ranges.
    System,
    /// The VNet's address space and its peerings.
    SystemVnet,
    /// Gateway (BGP) routes.
    Gateway,
    /// User route with the `AzureCloud` tag.
    UserCloud,
    /// `AzureCloud.<region>`.
    UserCloudRegional,
    /// A top-level tag (`Storage`).
    UserTop,
    /// A regional tag (`Storage.EastUS`).
    UserRegional,
    /// A literal CIDR prefix.
    UserLiteral,
}

/// A route's precedence: longer prefix first, then class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Rank {
    len: u8,
    class: Class,
}

/// What a route is, apart from its addresses.
#[derive(Clone, Debug)]
struct Info {
    route: RouteRef,
    /// The next hops it may send to, sorted, without repeats.
    hops: Vec<Hop>,
    sure_exists: bool,
    /// Why its parts are not known.
    doubts: Vec<String>,
}

/// One prefix of a route, ready for evaluation.
#[derive(Clone, Debug)]
struct Cand {
    info: usize,
    /// The addresses it surely and possibly covers.
    addrs: AddrBounds,
    /// Its lowest and highest possible precedence.
    lo: Rank,
    hi: Rank,
    /// The prefix text for evidence; `None` for a tag's prefix (the tag name,
    /// with the prefix when it is known exactly: built when asked).
    prefix: Option<String>,
    /// Why its coverage or length is not known.
    note: Note,
}

/// Why a candidate's coverage or length is not known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Note {
    Known,
    /// A literal prefix or a tag prefix whose addresses are only bounded.
    Coverage,
    /// A tag prefix of unknown length (symbolic tags).
    Length,
}

impl Cand {
    fn prefix_text(&self, info: &Info) -> String {
        match &self.prefix {
            Some(p) => p.clone(),
            None => match self.addrs.surely.to_cidrs().as_slice() {
                [one] if self.note == Note::Known => format!("{}: {one}", info.route.prefix),
                _ => info.route.prefix.clone(),
            },
        }
    }

    fn note_text(&self, info: &Info) -> Option<String> {
        let what = match &self.prefix {
            Some(p) => p.as_str(),
            None => info.route.prefix.as_str(),
        };
        match self.note {
            Note::Known => None,
            Note::Coverage => Some(format!(
                "which service-tag addresses `{what}` covers is not known without a \
                 service-tag file (--service-tags)"
            )),
            Note::Length => Some(format!(
                "the prefixes of service tag `{what}` and their lengths are not known without \
                 a service-tag file (--service-tags)"
            )),
        }
    }
}

/// The routing of one subnet: system routes plus the route table's routes.
#[derive(Clone, Debug)]
pub struct Routing {
    infos: Vec<Info>,
    cands: Vec<Cand>,
    hops: Vec<(Hop, AddrBounds)>,
}

const RESERVED: [(&str, &str); 4] = [
    ("10.0.0.0/8", "reserved (RFC 1918)"),
    ("172.16.0.0/12", "reserved (RFC 1918)"),
    ("192.168.0.0/16", "reserved (RFC 1918)"),
    ("100.64.0.0/10", "reserved (RFC 6598)"),
];

impl Routing {
    /// Evaluates `user` (the route table's routes, in input order) over the
    /// subnet's `system` routes. Tags are resolved through `resolver`, and
    /// literal prefixes are bounded by it.
    pub fn new(
        user: &[RouteEntry],
        system: &SystemRoutes,
        resolver: &dyn AddressResolver,
    ) -> Result<Routing, RouteError> {
        let mut b = Builder::default();
        b.system(system, resolver);
        let mut literal: HashMap<(AddrSet, u8), &str> = HashMap::new();
        for (i, e) in user.iter().enumerate() {
            b.user(i, e, resolver, &mut literal)?;
        }
        let hops = sweep(&b.infos, &b.cands);
        Ok(Routing {
            infos: b.infos,
            cands: b.cands,
            hops,
        })
    }

    /// Every next hop that possibly gets some address, with the addresses it
    /// surely and possibly gets, in the order of [`Hop`].
    pub fn hops(&self) -> Vec<(Hop, AddrBounds)> {
        self.hops.clone()
    }

    /// The addresses surely and possibly sent to `hop`.
    pub fn to_hop(&self, hop: &Hop) -> AddrBounds {
        self.hops
            .iter()
            .find(|(h, _)| h == hop)
            .map_or_else(AddrBounds::empty, |(_, b)| b.clone())
    }

    /// Why `addr` goes where it goes.
    pub fn explain(&self, addr: IpAddr) -> RouteEvidence {
        let surely_applies = |c: &Cand| {
            self.infos.get(c.info).is_some_and(|i| i.sure_exists) && c.addrs.surely.contains(addr)
        };
        let floor = self
            .cands
            .iter()
            .filter(|c| surely_applies(c))
            .map(|c| c.lo)
            .max();
        let winners: Vec<&Cand> = self
            .cands
            .iter()
            .filter(|c| c.addrs.possibly.contains(addr) && floor.is_none_or(|m| c.hi >= m))
            .collect();
        let possible: BTreeSet<Hop> = winners
            .iter()
            .filter_map(|c| self.infos.get(c.info))
            .flat_map(|i| i.hops.iter().copied())
            .collect();
        let hop = match possible.len() {
            1 => possible.iter().next().copied(),
            _ => None,
        };
        let anchor = winners
            .iter()
            .find(|c| surely_applies(c) && Some(c.lo) == floor)
            .copied();
        let route = anchor.and_then(|c| {
            self.infos.get(c.info).map(|i| RouteRef {
                prefix: c.prefix_text(i),
                ..i.route.clone()
            })
        });
        let mut doubts = Vec::new();
        if let Some(c) = anchor
            && let Some(i) = self.infos.get(c.info)
            && i.hops.len() > 1
        {
            doubts.push(format!(
                "{} may send it to {}: {}",
                describe(i, c),
                hop_list(&i.hops),
                reasons(i)
            ));
        }
        let mut seen = BTreeSet::new();
        if let Some(c) = anchor {
            seen.insert(c.info);
        }
        for c in &winners {
            if !seen.insert(c.info) {
                continue;
            }
            let Some(i) = self.infos.get(c.info) else {
                continue;
            };
            let mut why = Vec::new();
            if !i.doubts.is_empty() {
                why.push(reasons(i));
            }
            if let Some(n) = c.note_text(i) {
                why.push(n);
            }
            if why.is_empty() {
                why.push("it matches the address with the same precedence".to_string());
            }
            doubts.push(format!(
                "{} may decide instead (next hop {}): {}",
                describe(i, c),
                hop_list(&i.hops),
                why.join("; ")
            ));
        }
        if let Some(c) = anchor
            && let Some(i) = self.infos.get(c.info)
            && let Some(n) = c.note_text(i)
            && hop.is_none()
        {
            doubts.push(n);
        }
        RouteEvidence {
            hop,
            possible: possible.into_iter().collect(),
            route,
            doubts,
        }
    }
}

fn describe(i: &Info, c: &Cand) -> String {
    let kind = if i.route.user { "user" } else { "system" };
    format!("{kind} route `{}` ({})", i.route.name, c.prefix_text(i))
}

fn hop_list(hops: &[Hop]) -> String {
    let v: Vec<String> = hops.iter().map(Hop::to_string).collect();
    v.join(" or ")
}

fn reasons(i: &Info) -> String {
    i.doubts.join("; ")
}

#[derive(Default)]
struct Builder {
    infos: Vec<Info>,
    cands: Vec<Cand>,
}

impl Builder {
    fn info(&mut self, info: Info) -> usize {
        self.infos.push(info);
        self.infos.len() - 1
    }

    /// A system route per aligned block of `set`.
    fn blocks(
        &mut self,
        name: &str,
        set: &AddrSet,
        class: Class,
        hop: Hop,
        resolver: &dyn AddressResolver,
        exclude: Option<&AddrBounds>,
    ) {
        for (block, len, text) in cidr_blocks(set) {
            let mut addrs = resolver.prefix(&block);
            if let Some(x) = exclude {
                addrs = AddrBounds {
                    surely: addrs.surely.difference(&x.possibly),
                    possibly: addrs.possibly.difference(&x.surely),
                };
            }
            self.system_route(name, addrs, len, class, hop, text);
        }
    }

    fn system_route(
        &mut self,
        name: &str,
        addrs: AddrBounds,
        len: u8,
        class: Class,
        hop: Hop,
        prefix: String,
    ) {
        if addrs.possibly.is_empty() {
            return;
        }
        let info = self.info(Info {
            route: RouteRef {
                name: name.to_string(),
                prefix: prefix.clone(),
                user: false,
                index: None,
                prov: None,
            },
            hops: vec![hop],
            sure_exists: true,
            doubts: Vec::new(),
        });
        let rank = Rank { len, class };
        let note = if addrs.is_exact() {
            Note::Known
        } else {
            Note::Coverage
        };
        self.cands.push(Cand {
            info,
            addrs,
            lo: rank,
            hi: rank,
            prefix: Some(prefix),
            note,
        });
    }

    fn system(&mut self, system: &SystemRoutes, resolver: &dyn AddressResolver) {
        self.blocks(
            "address space",
            &system.vnet,
            Class::SystemVnet,
            Hop::VnetLocal,
            resolver,
            None,
        );
        self.blocks(
            "peering",
            &system.peered,
            Class::SystemVnet,
            Hop::Peering,
            resolver,
            None,
        );
        // VNet and peering routes are preferred to gateway routes whatever the lengths.
        let local = system.vnet.union(&system.peered);
        let local = resolver.prefix(&local);
        self.blocks(
            "gateway",
            &system.gateway,
            Class::Gateway,
            Hop::Gateway,
            resolver,
            Some(&local),
        );
        for (text, name) in RESERVED {
            if let Ok(set) = AddrSet::parse(text)
                && !set.is_subset(&system.vnet)
                && let Some(len) = prefix_len(text)
            {
                let addrs = resolver.prefix(&set);
                self.system_route(name, addrs, len, Class::System, Hop::Drop, text.to_string());
            }
        }
        self.system_route(
            "default",
            resolver.prefix(&AddrSet::all_v4()),
            0,
            Class::System,
            Hop::Internet,
            "0.0.0.0/0".to_string(),
        );
        self.system_route(
            "default",
            resolver.prefix(&AddrSet::all_v6()),
            0,
            Class::System,
            Hop::Internet,
            "::/0".to_string(),
        );
    }

    fn user<'e>(
        &mut self,
        index: usize,
        e: &'e RouteEntry,
        resolver: &dyn AddressResolver,
        literal: &mut HashMap<(AddrSet, u8), &'e str>,
    ) -> Result<(), RouteError> {
        let err = |kind| RouteError {
            route: e.name.clone(),
            kind,
        };
        let sure_exists = match &e.exists {
            Setting::Known(true) => true,
            Setting::Known(false) => return Ok(()),
            Setting::Unknown => false,
            Setting::Invalid(v) => {
                return Err(err(RouteErrorKind::Invalid {
                    field: "deployment condition",
                    value: v.clone(),
                }));
            }
        };
        let hops = user_hops(e)?;
        let doubts = user_doubts(e);
        let prefix_text = match &e.prefix {
            Setting::Known(p) => p.to_string(),
            _ => "prefix not known offline".to_string(),
        };
        let info = Info {
            route: RouteRef {
                name: e.name.clone(),
                prefix: prefix_text,
                user: true,
                index: Some(index),
                prov: e.prov.clone(),
            },
            hops,
            sure_exists,
            doubts,
        };
        match &e.prefix {
            Setting::Known(RoutePrefix::Prefix(set, len, text)) => {
                if sure_exists && let Some(other) = literal.insert((set.clone(), *len), &e.name) {
                    return Err(err(RouteErrorKind::Duplicate {
                        other: other.to_string(),
                        prefix: text.clone(),
                    }));
                }
                let addrs = resolver.prefix(set);
                let note = if addrs.is_exact() {
                    Note::Known
                } else {
                    Note::Coverage
                };
                let rank = Rank {
                    len: *len,
                    class: Class::UserLiteral,
                };
                let info = self.info(info);
                self.cands.push(Cand {
                    info,
                    addrs,
                    lo: rank,
                    hi: rank,
                    prefix: Some(text.clone()),
                    note,
                });
            }
            Setting::Known(RoutePrefix::Tag(name)) => {
                let prefixes = resolver
                    .tag_prefixes(name)
                    .map_err(|e| err(RouteErrorKind::Resolve(e)))?;
                let (class_lo, class_hi) = tag_classes(name);
                let info = self.info(info);
                for tp in prefixes {
                    if tp.addresses.possibly.is_empty() {
                        continue;
                    }
                    let (lo_len, hi_len, note) = match tp.length {
                        Some(l) if tp.addresses.is_exact() => (l, l, Note::Known),
                        Some(l) => (l, l, Note::Coverage),
                        None => {
                            let max = if tp.addresses.possibly.is_subset(&AddrSet::all_v4()) {
                                32
                            } else {
                                128
                            };
                            (1, max, Note::Length)
                        }
                    };
                    self.cands.push(Cand {
                        info,
                        addrs: tp.addresses,
                        lo: Rank {
                            len: lo_len,
                            class: class_lo,
                        },
                        hi: Rank {
                            len: hi_len,
                            class: class_hi,
                        },
                        prefix: None,
                        note,
                    });
                }
            }
            Setting::Unknown => {
                let info = self.info(info);
                self.cands.push(Cand {
                    info,
                    addrs: AddrBounds {
                        surely: AddrSet::empty(),
                        possibly: AddrSet::all(),
                    },
                    lo: Rank {
                        len: 0,
                        class: Class::UserCloud,
                    },
                    hi: Rank {
                        len: 128,
                        class: Class::UserLiteral,
                    },
                    prefix: Some("prefix not known offline".to_string()),
                    note: Note::Known,
                });
            }
            Setting::Invalid(v) if v.is_empty() => {
                return Err(err(RouteErrorKind::Missing {
                    field: "addressPrefix",
                }));
            }
            Setting::Invalid(v) => {
                return Err(err(RouteErrorKind::Invalid {
                    field: "addressPrefix",
                    value: v.clone(),
                }));
            }
        }
        Ok(())
    }
}

/// The class range of a tag route, from the tag's name: `AzureCloud`,
/// `AzureCloud.<region>`, a name without a dot (top-level), or a dotted name,
/// which is regional or a dotted global tag (`AzureFrontDoor.Frontend`).
fn tag_classes(name: &str) -> (Class, Class) {
    let n = name.trim();
    if n.eq_ignore_ascii_case("AzureCloud") {
        (Class::UserCloud, Class::UserCloud)
    } else if n
        .get(..11)
        .is_some_and(|p| p.eq_ignore_ascii_case("AzureCloud."))
    {
        (Class::UserCloudRegional, Class::UserCloudRegional)
    } else if n.contains('.') {
        (Class::UserTop, Class::UserRegional)
    } else {
        (Class::UserTop, Class::UserTop)
    }
}

/// The next hops a user route may send to.
fn user_hops(e: &RouteEntry) -> Result<Vec<Hop>, RouteError> {
    let err = |kind| RouteError {
        route: e.name.clone(),
        kind,
    };
    // `Err(())`: absent.
    let ip: Result<Option<IpAddr>, ()> = match &e.next_hop_ip {
        None => Err(()),
        Some(Setting::Known(ip)) => Ok(Some(*ip)),
        Some(Setting::Unknown) => Ok(None),
        Some(Setting::Invalid(v)) => {
            return Err(err(RouteErrorKind::Invalid {
                field: "nextHopIpAddress",
                value: v.clone(),
            }));
        }
    };
    let hops = match &e.next_hop {
        Setting::Known(NextHopKind::Internet) => vec![Hop::Internet],
        Setting::Known(NextHopKind::VirtualAppliance) => match ip {
            Ok(ip) => vec![Hop::Appliance(ip)],
            Err(()) => {
                return Err(err(RouteErrorKind::Missing {
                    field: "nextHopIpAddress",
                }));
            }
        },
        Setting::Known(NextHopKind::VirtualApplianceEcmp) => vec![Hop::Appliance(None)],
        Setting::Known(NextHopKind::None) => vec![Hop::Drop],
        Setting::Known(NextHopKind::VnetLocal) => vec![Hop::VnetLocal],
        Setting::Known(NextHopKind::VirtualNetworkGateway) => vec![Hop::Gateway],
        Setting::Unknown => {
            let mut v = vec![
                Hop::Internet,
                Hop::Appliance(ip.ok().flatten()),
                Hop::Drop,
                Hop::VnetLocal,
                Hop::Gateway,
            ];
            v.sort();
            v
        }
        Setting::Invalid(v) if v.is_empty() => {
            return Err(err(RouteErrorKind::Missing {
                field: "nextHopType",
            }));
        }
        Setting::Invalid(v) => {
            return Err(err(RouteErrorKind::Invalid {
                field: "nextHopType",
                value: v.clone(),
            }));
        }
    };
    Ok(hops)
}

/// Why a user route's parts are not known.
fn user_doubts(e: &RouteEntry) -> Vec<String> {
    let mut out: Vec<String> = e
        .unknown
        .iter()
        .map(|u| {
            let mut s = format!("`{}` is not known offline: {}", u.field, u.value.reason);
            if let Some(input) = &u.value.input {
                s.push_str(&format!(" (set {input} to decide)"));
            }
            s
        })
        .collect();
    if out.is_empty() {
        let mut note = |cond: bool, what: &str| {
            if cond {
                out.push(what.to_string());
            }
        };
        note(
            matches!(e.prefix, Setting::Unknown),
            "its address prefix is not known offline",
        );
        note(
            matches!(e.next_hop, Setting::Unknown),
            "its next hop type is not known offline",
        );
        note(
            matches!(e.next_hop_ip, Some(Setting::Unknown)),
            "its next hop address is not known offline",
        );
        note(
            matches!(e.exists, Setting::Unknown),
            "whether it is deployed is not known offline",
        );
    }
    out
}

/// The largest aligned blocks of a set, with their lengths and texts.
fn cidr_blocks(set: &AddrSet) -> Vec<(AddrSet, u8, String)> {
    set.to_cidrs()
        .into_iter()
        .filter_map(|text| {
            let block = AddrSet::parse(&text).ok()?;
            let len = prefix_len(&text)?;
            Some((block, len, text))
        })
        .collect()
}

fn prefix_len(text: &str) -> Option<u8> {
    text.split_once('/').and_then(|(_, l)| l.parse::<u8>().ok())
}

/// The union of many sets, merged pairwise (n log k rather than n k).
fn union_many(mut sets: Vec<AddrSet>) -> AddrSet {
    while sets.len() > 1 {
        let mut next = Vec::with_capacity(sets.len().div_ceil(2));
        let mut it = sets.into_iter();
        while let Some(a) = it.next() {
            match it.next() {
                Some(b) => next.push(a.union(&b)),
                None => next.push(a),
            }
        }
        sets = next;
    }
    sets.pop().unwrap_or_default()
}

/// The routes starting and ending at one precedence.
#[derive(Default)]
struct Level {
    /// Candidates whose highest precedence is this one.
    reach: Vec<usize>,
    /// Candidates that surely apply and whose lowest precedence is this one.
    claim: Vec<usize>,
}

/// The addresses each next hop surely and possibly gets.
///
/// In descending precedence: a candidate may win wherever it may cover and no
/// route of a strictly higher precedence surely covers (`unclaimed` when its
/// highest precedence is reached); then the candidates that surely apply at
/// this precedence claim their addresses.
fn sweep(infos: &[Info], cands: &[Cand]) -> Vec<(Hop, AddrBounds)> {
    let mut levels: BTreeMap<Rank, Level> = BTreeMap::new();
    for (i, c) in cands.iter().enumerate() {
        levels.entry(c.hi).or_default().reach.push(i);
        let sure = infos.get(c.info).is_some_and(|x| x.sure_exists);
        if sure && !c.addrs.surely.is_empty() {
            levels.entry(c.lo).or_default().claim.push(i);
        }
    }
    let mut unclaimed = AddrSet::all();
    let mut pieces: BTreeMap<&[Hop], Vec<AddrSet>> = BTreeMap::new();
    for level in levels.values().rev() {
        if unclaimed.is_empty() {
            break;
        }
        let mut by_hops: BTreeMap<&[Hop], Vec<AddrSet>> = BTreeMap::new();
        for c in level.reach.iter().filter_map(|i| cands.get(*i)) {
            if let Some(info) = infos.get(c.info) {
                by_hops
                    .entry(info.hops.as_slice())
                    .or_default()
                    .push(c.addrs.possibly.clone());
            }
        }
        for (hops, sets) in by_hops {
            let won = union_many(sets).intersection(&unclaimed);
            if !won.is_empty() {
                pieces.entry(hops).or_default().push(won);
            }
        }
        let claimed = union_many(
            level
                .claim
                .iter()
                .filter_map(|i| cands.get(*i))
                .map(|c| c.addrs.surely.clone())
                .collect(),
        );
        unclaimed = unclaimed.difference(&claimed);
    }
    let reach: Vec<(&[Hop], AddrSet)> = pieces
        .into_iter()
        .map(|(hops, sets)| (hops, union_many(sets)))
        .collect();
    let all: BTreeSet<Hop> = reach
        .iter()
        .flat_map(|(hops, _)| hops.iter().copied())
        .collect();
    let mut out = Vec::new();
    for h in all {
        let possibly = union_many(
            reach
                .iter()
                .filter(|(hops, _)| hops.contains(&h))
                .map(|(_, s)| s.clone())
                .collect(),
        );
        let elsewhere = union_many(
            reach
                .iter()
                .filter(|(hops, _)| *hops != [h])
                .map(|(_, s)| s.clone())
                .collect(),
        );
        let surely = possibly.difference(&elsewhere);
        if !possibly.is_empty() {
            out.push((h, AddrBounds { surely, possibly }));
        }
    }
    out
}

#[cfg(test)]
mod tests;
