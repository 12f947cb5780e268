//! Routing against a brute-force oracle.
//!
//! Random route tables over small pools of prefixes and tags, with and without
//! parts unknown offline, are evaluated by [`Routing`] and, independently, per
//! address: every resolution of the unknowns (existence, prefix, prefix length
//! and precedence class) is enumerated, the longest-prefix winner of each is
//! taken, and the set of next hops the address can go to is compared with
//! `hops()` (`surely` exactly when that set is one hop, `possibly` exactly when
//! it contains the hop) and with `explain`. Addresses are the ends of every
//! pool prefix and their neighbours: between those, every route's coverage is
//! constant, so agreement there is agreement everywhere.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Mutex, OnceLock};

use amlguard_net::nsg::Setting;
use amlguard_net::resolve::{AddrBounds, AddressResolver, ResolveError, TagPrefix};
use amlguard_net::route::{Hop, NextHopKind, RouteEntry, RouteErrorKind, Routing, SystemRoutes};
use amlguard_net::space::AddrSet;
use amlguard_net::tags::UnknownTag;
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// Pools.

/// Literal prefixes user routes draw from.
const POOL: &[&str] = &[
    "0.0.0.0/0",
    "0.0.0.0/1",
    "128.0.0.0/1",
    "10.0.0.0/8",
    "10.0.0.0/16",
    "10.0.0.0/24",
    "10.0.0.0/28",
    "10.0.0.16/28",
    "10.1.0.0/16",
    "172.16.0.0/12",
    "172.16.5.0/24",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "20.0.0.0/8",
    "20.1.0.0/16",
    "20.1.2.0/24",
    "20.1.2.128/25",
    "20.1.3.0/24",
    "52.0.0.0/24",
    "2001:db8::/32",
    "2001:db8::/48",
    "::/0",
];

/// Tags with exact prefixes (a service-tag file).
const EXACT_TAGS: &[(&str, &[&str])] = &[
    ("Alpha", &["20.1.2.0/24", "52.0.0.0/25"]),
    ("Beta.West", &["20.1.2.0/24", "20.1.0.0/16"]),
    ("Gamma", &["20.1.2.128/25", "2001:db8::/48"]),
    ("AzureCloud", &["20.0.0.0/8", "52.0.0.0/24"]),
    ("AzureCloud.west", &["20.1.0.0/16"]),
];

/// Symbolic tags: synthetic blocks of unknown prefix length.
const SYMBOLIC_TAGS: &[(&str, &[&str])] = &[
    ("Alpha", &["240.0.0.0/28"]),
    ("Beta.West", &["240.0.0.0/29", "240.0.0.16/28"]),
    ("Gamma", &["240.0.1.0/28"]),
    ("AzureCloud", &["240.0.0.0/24"]),
    ("AzureCloud.west", &["240.0.0.0/28"]),
];

const SYNTHETIC: &str = "240.0.0.0/4";
const PRIVATE: &[&str] = &[
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    SYNTHETIC,
];
const RESERVED: &[&str] = &[
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
];

/// VNet address spaces (prefixes that do not merge into a larger block).
const VNETS: &[&[&str]] = &[
    &["10.0.0.0/16"],
    &["10.0.0.0/8"],
    &["10.0.0.0/16", "172.16.5.0/24"],
    &["100.64.0.0/9"],
    &["10.0.0.0/24", "10.1.0.0/16"],
    &["192.168.0.0/16", "2001:db8::/48"],
];
/// Peered spaces; the public one only with exact tags (see `config`).
const PEERED: &[&[&str]] = &[&[], &["10.1.0.0/16"], &["172.16.0.0/12"], &["20.1.3.0/24"]];
const GATEWAY: &[&[&str]] = &[
    &[],
    &["10.0.1.0/24"],
    &["192.168.0.0/24", "10.2.0.0/16"],
    &["20.0.0.0/8"],
];

const APPLIANCES: &[&str] = &["10.0.1.4", "10.0.2.4"];

// ---------------------------------------------------------------------------
// Blocks, parsed here rather than through the crate.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Addr {
    V4(u32),
    V6(u128),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Block {
    v6: bool,
    lo: u128,
    hi: u128,
    len: u8,
}

/// A pool text's block (parsed once per text).
fn block(text: &'static str) -> Block {
    static CACHE: OnceLock<Mutex<HashMap<&'static str, Block>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let mut map = cache.lock().unwrap();
    *map.entry(text).or_insert_with(|| parse_block(text))
}

fn parse_block(text: &str) -> Block {
    let (a, l) = text.split_once('/').unwrap();
    let len: u8 = l.parse().unwrap();
    match a.parse::<IpAddr>().unwrap() {
        IpAddr::V4(a) => {
            let size = 1u128 << (32 - u32::from(len));
            let lo = u128::from(u32::from(a)) & !(size - 1);
            Block {
                v6: false,
                lo,
                hi: lo + size - 1,
                len,
            }
        }
        IpAddr::V6(a) => {
            let size = 1u128.checked_shl(128 - u32::from(len)).unwrap_or(0);
            let mask = size.wrapping_sub(1);
            let lo = u128::from(a) & !mask;
            Block {
                v6: true,
                lo,
                hi: lo | mask,
                len,
            }
        }
    }
}

impl Block {
    fn contains(&self, a: Addr) -> bool {
        match a {
            Addr::V4(x) => !self.v6 && (self.lo..=self.hi).contains(&u128::from(x)),
            Addr::V6(x) => self.v6 && (self.lo..=self.hi).contains(&x),
        }
    }
    fn within(&self, other: &Block) -> bool {
        self.v6 == other.v6 && other.lo <= self.lo && self.hi <= other.hi
    }
}

fn ip_of(a: Addr) -> IpAddr {
    match a {
        Addr::V4(x) => IpAddr::V4(Ipv4Addr::from(x)),
        Addr::V6(x) => IpAddr::V6(Ipv6Addr::from(x)),
    }
}

/// Whether the union of `blocks` covers `b` (blocks are few and small in number).
fn covered(b: &Block, blocks: &[Block]) -> bool {
    let mut at = b.lo;
    loop {
        match blocks
            .iter()
            .filter(|x| x.v6 == b.v6 && x.lo <= at && at <= x.hi)
            .map(|x| x.hi)
            .max()
        {
            Some(hi) if hi >= b.hi => return true,
            Some(hi) => at = hi + 1,
            None => return false,
        }
    }
}

/// The addresses checked for a configuration: both ends of every block it
/// uses (and of the reserved ranges and tag space), and their neighbours.
fn witnesses(c: &Config) -> Vec<Addr> {
    let tags = if c.symbolic {
        SYMBOLIC_TAGS
    } else {
        EXACT_TAGS
    };
    let mut texts: Vec<&'static str> = vec![SYNTHETIC, "0.0.0.0/0", "::/0"];
    texts.extend(RESERVED);
    texts.extend(VNETS[c.vnet]);
    texts.extend(PEERED[c.peered]);
    texts.extend(GATEWAY[c.gateway]);
    for r in &c.routes {
        match r.prefix {
            Prefix::Literal(p) => texts.push(POOL[p]),
            Prefix::Tag(t) => texts.extend(tags[t].1),
            Prefix::Unknown => {}
        }
    }
    let mut out = BTreeSet::new();
    for t in texts {
        let b = block(t);
        let max = if b.v6 {
            u128::MAX
        } else {
            u128::from(u32::MAX)
        };
        for x in [
            b.lo.checked_sub(1),
            Some(b.lo),
            Some(b.hi),
            b.hi.checked_add(1).filter(|x| *x <= max),
        ]
        .into_iter()
        .flatten()
        {
            out.insert((b.v6, x));
        }
    }
    out.into_iter()
        .map(|(v6, x)| {
            if v6 {
                Addr::V6(x)
            } else {
                Addr::V4(u32::try_from(x).unwrap())
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------
// The resolver the routes are evaluated with.

struct Resolver {
    symbolic: bool,
}

impl Resolver {
    fn tags(&self) -> &'static [(&'static str, &'static [&'static str])] {
        if self.symbolic {
            SYMBOLIC_TAGS
        } else {
            EXACT_TAGS
        }
    }
    fn find(&self, name: &str) -> Result<&'static [&'static str], ResolveError> {
        self.tags()
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, p)| *p)
            .ok_or_else(|| {
                ResolveError::UnknownTag(UnknownTag {
                    name: name.to_string(),
                    suggestion: None,
                })
            })
    }
}

fn public(s: &AddrSet) -> bool {
    static PRIVATE_SET: OnceLock<AddrSet> = OnceLock::new();
    let private =
        PRIVATE_SET.get_or_init(|| AddrSet::from_prefixes(PRIVATE.iter().copied()).unwrap());
    !s.is_subset(private) && *s != AddrSet::all_v4() && *s != AddrSet::all_v6()
}

impl AddressResolver for Resolver {
    fn tag(&self, name: &str) -> Result<AddrBounds, ResolveError> {
        Ok(AddrBounds::exact(
            AddrSet::from_prefixes(self.find(name)?.iter().copied()).unwrap(),
        ))
    }
    fn tag_prefixes(&self, name: &str) -> Result<Vec<TagPrefix>, ResolveError> {
        Ok(self
            .find(name)?
            .iter()
            .map(|p| TagPrefix {
                addresses: AddrBounds::exact(AddrSet::parse(p).unwrap()),
                length: (!self.symbolic).then(|| block(p).len),
            })
            .collect())
    }
    fn asg(&self, id: &str) -> Result<AddrBounds, ResolveError> {
        Err(ResolveError::UnknownAsg { id: id.to_string() })
    }
    fn prefix(&self, s: &AddrSet) -> AddrBounds {
        if self.symbolic && public(s) {
            AddrBounds {
                surely: s.clone(),
                possibly: s.union(&AddrSet::parse(SYNTHETIC).unwrap()),
            }
        } else {
            AddrBounds::exact(s.clone())
        }
    }
    fn internet_only(&self) -> AddrBounds {
        AddrBounds::empty()
    }
}

// ---------------------------------------------------------------------------
// Configurations.

#[derive(Clone, Debug)]
enum Prefix {
    Literal(usize),
    Tag(usize),
    Unknown,
}

#[derive(Clone, Copy, Debug)]
enum NextHop {
    Internet,
    Appliance(usize),
    ApplianceUnknownIp,
    Ecmp,
    Drop,
    VnetLocal,
    Gateway,
    /// `nextHopType` not known; `nextHopIpAddress` given or not.
    Unknown(Option<usize>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Exists {
    Yes,
    No,
    Unknown,
}

#[derive(Clone, Debug)]
struct UserRoute {
    prefix: Prefix,
    hop: NextHop,
    exists: Exists,
}

#[derive(Clone, Debug)]
struct Config {
    symbolic: bool,
    vnet: usize,
    peered: usize,
    gateway: usize,
    routes: Vec<UserRoute>,
}

fn prefix_strategy(uncertain: bool) -> BoxedStrategy<Prefix> {
    let known = prop_oneof![
        3 => (0..POOL.len()).prop_map(Prefix::Literal),
        1 => (0..EXACT_TAGS.len()).prop_map(Prefix::Tag),
    ];
    if uncertain {
        prop_oneof![12 => known, 1 => Just(Prefix::Unknown)].boxed()
    } else {
        known.boxed()
    }
}

fn hop_strategy(uncertain: bool) -> BoxedStrategy<NextHop> {
    let known = prop_oneof![
        Just(NextHop::Internet),
        (0..APPLIANCES.len()).prop_map(NextHop::Appliance),
        Just(NextHop::Ecmp),
        Just(NextHop::Drop),
        Just(NextHop::VnetLocal),
        Just(NextHop::Gateway),
    ];
    if uncertain {
        prop_oneof![
            8 => known,
            1 => Just(NextHop::ApplianceUnknownIp),
            1 => proptest::option::of(0..APPLIANCES.len()).prop_map(NextHop::Unknown),
        ]
        .boxed()
    } else {
        known.boxed()
    }
}

fn exists_strategy(uncertain: bool) -> BoxedStrategy<Exists> {
    if uncertain {
        prop_oneof![
            6 => Just(Exists::Yes),
            2 => Just(Exists::Unknown),
            1 => Just(Exists::No),
        ]
        .boxed()
    } else {
        Just(Exists::Yes).boxed()
    }
}

fn config(uncertain: bool, max_routes: usize) -> impl Strategy<Value = Config> {
    let route = (
        prefix_strategy(uncertain),
        hop_strategy(uncertain),
        exists_strategy(uncertain),
    )
        .prop_map(|(prefix, hop, exists)| UserRoute {
            prefix,
            hop,
            exists,
        });
    (
        if uncertain {
            any::<bool>().boxed()
        } else {
            Just(false).boxed()
        },
        0..VNETS.len(),
        0..PEERED.len(),
        0..GATEWAY.len(),
        proptest::collection::vec(route, 0..=max_routes),
    )
        .prop_map(|(symbolic, vnet, mut peered, mut gateway, mut routes)| {
            // Public system prefixes stay out of symbolic configurations (their
            // possible coverage of tag space and the gateway's exclusion would
            // be one fact, which the evaluation treats as two).
            if symbolic {
                peered %= 3;
                gateway %= 3;
            }
            // At most one route with an unknown prefix (it multiplies the cases).
            let mut seen = false;
            for r in &mut routes {
                if matches!(r.prefix, Prefix::Unknown) {
                    if seen {
                        r.prefix = Prefix::Literal(0);
                    }
                    seen = true;
                }
            }
            Config {
                symbolic,
                vnet,
                peered,
                gateway,
                routes,
            }
        })
}

fn entries(c: &Config) -> Vec<RouteEntry> {
    let tags = if c.symbolic {
        SYMBOLIC_TAGS
    } else {
        EXACT_TAGS
    };
    c.routes
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let prefix = match r.prefix {
                Prefix::Literal(p) => POOL[p],
                Prefix::Tag(t) => tags[t].0,
                Prefix::Unknown => "0.0.0.0/0",
            };
            let (kind, ip) = match r.hop {
                NextHop::Internet => (Setting::Known(NextHopKind::Internet), None),
                NextHop::Appliance(a) => (
                    Setting::Known(NextHopKind::VirtualAppliance),
                    Some(Setting::Known(APPLIANCES[a].parse().unwrap())),
                ),
                NextHop::ApplianceUnknownIp => (
                    Setting::Known(NextHopKind::VirtualAppliance),
                    Some(Setting::Unknown),
                ),
                NextHop::Ecmp => (Setting::Known(NextHopKind::VirtualApplianceEcmp), None),
                NextHop::Drop => (Setting::Known(NextHopKind::None), None),
                NextHop::VnetLocal => (Setting::Known(NextHopKind::VnetLocal), None),
                NextHop::Gateway => (Setting::Known(NextHopKind::VirtualNetworkGateway), None),
                NextHop::Unknown(a) => (
                    Setting::Unknown,
                    a.map(|a| Setting::Known(APPLIANCES[a].parse().unwrap())),
                ),
            };
            let mut e = RouteEntry::new(&format!("r{i}"), prefix, NextHopKind::Internet);
            if matches!(r.prefix, Prefix::Unknown) {
                e.prefix = Setting::Unknown;
            }
            e.next_hop = kind;
            e.next_hop_ip = ip;
            e.exists = match r.exists {
                Exists::Yes => Setting::Known(true),
                Exists::No => Setting::Known(false),
                Exists::Unknown => Setting::Unknown,
            };
            e
        })
        .collect()
}

fn system(c: &Config) -> SystemRoutes {
    let set = |l: &[&str]| AddrSet::from_prefixes(l.iter().copied()).unwrap();
    SystemRoutes {
        vnet: set(VNETS[c.vnet]),
        peered: set(PEERED[c.peered]),
        gateway: set(GATEWAY[c.gateway]),
    }
}

// ---------------------------------------------------------------------------
// The oracle.

// Precedence classes at equal length, lowest first.
const SYSTEM: u8 = 0;
const SYSTEM_VNET: u8 = 1;
const GATEWAY_ROUTE: u8 = 2;
const CLOUD: u8 = 3;
const CLOUD_REGIONAL: u8 = 4;
const TOP: u8 = 5;
const REGIONAL: u8 = 6;
const LITERAL: u8 = 7;

type Rank = (u8, u8);

fn tag_classes(name: &str) -> Vec<u8> {
    if name == "AzureCloud" {
        vec![CLOUD]
    } else if name.starts_with("AzureCloud.") {
        vec![CLOUD_REGIONAL]
    } else if name.contains('.') {
        vec![TOP, REGIONAL]
    } else {
        vec![TOP]
    }
}

fn is_public(b: &Block) -> bool {
    b.len > 0 && !PRIVATE.iter().any(|p| b.within(&block(p)))
}

fn user_hops(h: NextHop) -> Vec<Hop> {
    let ip = |i: usize| Some(APPLIANCES[i].parse::<IpAddr>().unwrap());
    match h {
        NextHop::Internet => vec![Hop::Internet],
        NextHop::Appliance(i) => vec![Hop::Appliance(ip(i))],
        NextHop::ApplianceUnknownIp | NextHop::Ecmp => vec![Hop::Appliance(None)],
        NextHop::Drop => vec![Hop::Drop],
        NextHop::VnetLocal => vec![Hop::VnetLocal],
        NextHop::Gateway => vec![Hop::Gateway],
        NextHop::Unknown(i) => vec![
            Hop::Internet,
            Hop::Appliance(i.and_then(ip)),
            Hop::Drop,
            Hop::VnetLocal,
            Hop::Gateway,
        ],
    }
}

/// What a route's prefix is, parsed once per configuration.
enum Cover {
    /// A literal prefix of known length with a precedence class; `fuzzy`: in
    /// symbolic mode it may also cover tag space.
    Literal {
        block: Block,
        class: u8,
        fuzzy: bool,
    },
    /// A tag's prefixes, with known lengths or not, and its possible classes.
    Tag {
        blocks: Vec<Block>,
        symbolic: bool,
        classes: Vec<u8>,
    },
    /// Any prefix of any length and class.
    Unknown,
}

/// A route of the configuration: coverage, whether it may not exist, hops.
struct Prepared {
    cover: Cover,
    maybe_absent: bool,
    /// Gateway routes never win inside the VNet or its peerings.
    gateway: bool,
    /// The hops it may send to, as a mask over [`all_hops`].
    mask: u16,
}

struct Table {
    routes: Vec<Prepared>,
    local: Vec<Block>,
    synthetic: Block,
}

fn prepare(c: &Config) -> Table {
    let blocks = |l: &[&'static str]| l.iter().map(|t| block(t)).collect::<Vec<_>>();
    let vnet = blocks(VNETS[c.vnet]);
    let peered = blocks(PEERED[c.peered]);
    let literal = |b: Block, class: u8, hops: Vec<Hop>| Prepared {
        cover: Cover::Literal {
            block: b,
            class,
            fuzzy: c.symbolic && is_public(&b),
        },
        maybe_absent: false,
        gateway: class == GATEWAY_ROUTE,
        mask: mask_of(&hops),
    };
    let mut routes = Vec::new();
    for b in &vnet {
        routes.push(literal(*b, SYSTEM_VNET, vec![Hop::VnetLocal]));
    }
    for b in &peered {
        routes.push(literal(*b, SYSTEM_VNET, vec![Hop::Peering]));
    }
    for b in blocks(GATEWAY[c.gateway]) {
        routes.push(literal(b, GATEWAY_ROUTE, vec![Hop::Gateway]));
    }
    // A reserved range inside the VNet's address space has no None route.
    for r in RESERVED {
        let b = block(r);
        if !covered(&b, &vnet) {
            routes.push(literal(b, SYSTEM, vec![Hop::Drop]));
        }
    }
    for d in ["0.0.0.0/0", "::/0"] {
        routes.push(literal(block(d), SYSTEM, vec![Hop::Internet]));
    }
    let tags = if c.symbolic {
        SYMBOLIC_TAGS
    } else {
        EXACT_TAGS
    };
    for r in &c.routes {
        if r.exists == Exists::No {
            continue;
        }
        let mut p = match r.prefix {
            Prefix::Literal(i) => literal(block(POOL[i]), LITERAL, Vec::new()),
            Prefix::Tag(t) => Prepared {
                cover: Cover::Tag {
                    blocks: tags[t].1.iter().map(|p| block(p)).collect(),
                    symbolic: c.symbolic,
                    classes: tag_classes(tags[t].0),
                },
                maybe_absent: false,
                gateway: false,
                mask: 0,
            },
            Prefix::Unknown => Prepared {
                cover: Cover::Unknown,
                maybe_absent: false,
                gateway: false,
                mask: 0,
            },
        };
        p.maybe_absent = r.exists == Exists::Unknown;
        p.mask = mask_of(&user_hops(r.hop));
        routes.push(p);
    }
    Table {
        routes,
        local: vnet.into_iter().chain(peered).collect(),
        synthetic: block(SYNTHETIC),
    }
}

/// Every hop a route of the tests can have, for masks.
fn all_hops() -> Vec<Hop> {
    let mut v = vec![
        Hop::Internet,
        Hop::Appliance(None),
        Hop::Drop,
        Hop::VnetLocal,
        Hop::Peering,
        Hop::Gateway,
    ];
    v.extend(
        APPLIANCES
            .iter()
            .map(|a| Hop::Appliance(Some(a.parse().unwrap()))),
    );
    v
}

fn mask_of(hops: &[Hop]) -> u16 {
    let all = all_hops();
    hops.iter()
        .map(|h| 1u16 << all.iter().position(|u| u == h).unwrap())
        .fold(0, |m, b| m | b)
}

/// The precedences route `r` may apply to `a` with (`None`: it does not
/// apply), into `out`.
fn options_at(t: &Table, r: &Prepared, a: Addr, in_local: bool, out: &mut Vec<Option<Rank>>) {
    out.clear();
    let max_len = if matches!(a, Addr::V4(_)) { 32 } else { 128 };
    if r.gateway && in_local {
        out.push(None);
        return;
    }
    match &r.cover {
        Cover::Literal {
            block,
            class,
            fuzzy,
        } => {
            if block.contains(a) {
                out.push(Some((block.len, *class)));
            } else if *fuzzy && t.synthetic.contains(a) {
                out.extend([None, Some((block.len, *class))]);
            } else {
                out.push(None);
            }
        }
        Cover::Tag {
            blocks,
            symbolic,
            classes,
        } => match blocks.iter().filter(|b| b.contains(a)).map(|b| b.len).max() {
            None => out.push(None),
            // Each prefix has some length from /1 to the family's longest.
            Some(_) if *symbolic => {
                for class in classes {
                    out.extend((1..=max_len).map(|len| Some((len, *class))));
                }
            }
            Some(len) => out.extend(classes.iter().map(|class| Some((len, *class)))),
        },
        Cover::Unknown => {
            out.push(None);
            for len in 0..=max_len {
                out.extend((CLOUD..=LITERAL).map(|class| Some((len, class))));
            }
        }
    }
    if r.maybe_absent && !out.contains(&None) {
        out.push(None);
    }
}

/// The hops `a` goes to over every resolution of the unknowns: every choice
/// of one option per route, longest prefix (then class) wins, and equal
/// winners all count. The product is folded one route at a time over the
/// distinct states (best precedence so far, mask of the hops of the routes at
/// it), which loses no combination.
fn oracle(t: &Table, a: Addr) -> BTreeSet<Hop> {
    // Precedence code: 0 is "no route yet".
    let code = |r: Rank| u16::from(r.0) * 8 + u16::from(r.1) + 1;
    let step = |(best, hops): (u16, u16), o: &Option<Rank>, m: u16| match o {
        None => (best, hops),
        Some(rank) => {
            let k = code(*rank);
            match k.cmp(&best) {
                std::cmp::Ordering::Less => (best, hops),
                std::cmp::Ordering::Equal => (best, hops | m),
                std::cmp::Ordering::Greater => (k, m),
            }
        }
    };
    let in_local = t.local.iter().any(|b| b.contains(a));
    // Routes with one option fold in directly; the others are enumerated.
    let mut fixed = (0u16, 0u16);
    let mut variable: Vec<(Vec<Option<Rank>>, u16)> = Vec::new();
    let mut buf = Vec::new();
    for r in &t.routes {
        options_at(t, r, a, in_local, &mut buf);
        match buf.as_slice() {
            [one] => fixed = step(fixed, one, r.mask),
            _ => variable.push((std::mem::take(&mut buf), r.mask)),
        }
    }
    // The order of the fold does not matter; the routes with the most options
    // last keep the state list short.
    variable.sort_by_key(|(o, _)| o.len());
    let mut states = vec![fixed];
    let mut all = fixed.1;
    if let Some(((last, last_mask), rest)) = variable.split_last() {
        for (options, m) in rest {
            let mut next = Vec::with_capacity(states.len() * options.len());
            for &s in &states {
                next.extend(options.iter().map(|o| step(s, o, *m)));
            }
            next.sort_unstable();
            next.dedup();
            states = next;
        }
        all = 0;
        for &s in &states {
            for o in last {
                all |= step(s, o, *last_mask).1;
            }
        }
    }
    all_hops()
        .into_iter()
        .enumerate()
        .filter(|(i, _)| all & (1 << i) != 0)
        .map(|(_, h)| h)
        .collect()
}

/// Azure rejects two deployed routes with the same literal prefix.
fn duplicate(c: &Config) -> bool {
    let mut seen = BTreeSet::new();
    c.routes.iter().any(|r| match r.prefix {
        Prefix::Literal(p) if r.exists == Exists::Yes => !seen.insert(p),
        _ => false,
    })
}

fn check(c: &Config, addrs: &[Addr]) -> Result<(), TestCaseError> {
    let table = prepare(c);
    let resolver = Resolver {
        symbolic: c.symbolic,
    };
    let result = Routing::new(&entries(c), &system(c), &resolver);
    if duplicate(c) {
        let e = result.expect_err("a duplicate prefix is an error");
        prop_assert!(matches!(e.kind, RouteErrorKind::Duplicate { .. }), "{e}");
        return Ok(());
    }
    let routing = result.map_err(|e| TestCaseError::fail(e.to_string()))?;
    let hops = routing.hops();
    for (h, b) in &hops {
        prop_assert!(b.surely.is_subset(&b.possibly), "{h}: surely ⊄ possibly");
        prop_assert!(!b.possibly.is_empty(), "{h}: listed without addresses");
    }
    let listed: Vec<Hop> = hops.iter().map(|(h, _)| *h).collect();
    let mut sorted = listed.clone();
    sorted.sort();
    sorted.dedup();
    prop_assert_eq!(&listed, &sorted, "hops are not in order");
    for &a in addrs {
        let want = oracle(&table, a);
        let ip = ip_of(a);
        let possibly: BTreeSet<Hop> = hops
            .iter()
            .filter(|(_, b)| b.possibly.contains(ip))
            .map(|(h, _)| *h)
            .collect();
        let surely: Vec<Hop> = hops
            .iter()
            .filter(|(_, b)| b.surely.contains(ip))
            .map(|(h, _)| *h)
            .collect();
        prop_assert_eq!(&possibly, &want, "possible hops of {}", ip);
        let one = (want.len() == 1)
            .then(|| want.iter().next().copied())
            .flatten();
        prop_assert_eq!(surely.first().copied(), one, "sure hop of {}", ip);
        prop_assert!(surely.len() <= 1, "{} surely goes to {:?}", ip, surely);
        let ev = routing.explain(ip);
        prop_assert_eq!(ev.hop, one, "explain's hop for {}", ip);
        prop_assert_eq!(
            ev.possible.iter().copied().collect::<BTreeSet<_>>(),
            want,
            "explain's possible hops for {}",
            ip
        );
        if one.is_some() && ev.route.is_some() {
            prop_assert!(ev.doubts.iter().all(|d| !d.is_empty()));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 5000, ..ProptestConfig::default() })]

    /// Exact prefixes and tags, nothing unknown.
    #[test]
    fn exact_route_tables_match_the_oracle(c in config(false, 8)) {
        check(&c, &witnesses(&c))?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 5000, ..ProptestConfig::default() })]

    /// Unknown existence, prefix and next hop, symbolic tags and symbolic
    /// literal prefixes: every resolution enumerated.
    #[test]
    fn uncertain_route_tables_match_the_oracle(c in config(true, 6)) {
        check(&c, &witnesses(&c))?;
    }
}
