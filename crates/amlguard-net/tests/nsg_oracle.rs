//! The NSG evaluation (exact packet sets, two bounds) against a brute force
//! written independently here: for one concrete packet, one concrete address
//! and source port of the compute, and one resolution of every unknown part,
//! walk the rules in priority order and take the first that matches.
//!
//! Random NSGs (0–12 rules of either direction, random priorities, access,
//! protocols, address items from a small pool of literal prefixes and tags,
//! port ranges and lists, some parts unknown). The packets checked are one per
//! cell of the grid cut at every boundary of the pool's addresses, the rules'
//! ports and protocols, and the sets computed are checked to have no other
//! boundary: so agreement on the grid is equality of the sets.
//!
//! With unknowns, the brute force enumerates every resolution (each unknown
//! access Allow/Deny, existence and direction either way, protocol any or
//! none, an unknown item everything or nothing, an item known only in bounds
//! either bound, an unknown priority at every place between the known ones)
//! and every address and source port of the compute, and checks
//! `surely` = ∩ and `possibly` = ∪ over them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use amlguard_net::nsg::{
    Access, AddressSpec, Allowed, Direction, PortSpec, ProtocolSpec, Rule, Setting,
    allowed_inbound, allowed_outbound,
};
use amlguard_net::resolve::{AddrBounds, AddressResolver, ResolveError, TagPrefix};
use amlguard_net::space::{AddrRange, AddrSet, Packet, Protocol};
use amlguard_net::tags::UnknownTag;
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// Addresses, written twice: as text for the rules and the resolver, and as
// plain intervals for the brute force.

/// An interval of one family: 4 or 6.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Iv {
    fam: u8,
    lo: u128,
    hi: u128,
}

fn v4(a: [u8; 4], len: u32) -> Iv {
    let base = u32::from(Ipv4Addr::from(a));
    let size = if len == 0 {
        u32::MAX
    } else {
        (1u32 << (32 - len)) - 1
    };
    Iv {
        fam: 4,
        lo: u128::from(base),
        hi: u128::from(base | size),
    }
}

fn v6(a: &str, len: u32) -> Iv {
    let base = u128::from(a.parse::<Ipv6Addr>().unwrap());
    let size = if len == 0 {
        u128::MAX
    } else {
        (1u128 << (128 - len)) - 1
    };
    Iv {
        fam: 6,
        lo: base,
        hi: base | size,
    }
}

fn all_addresses() -> Vec<Iv> {
    vec![
        Iv {
            fam: 4,
            lo: 0,
            hi: u128::from(u32::MAX),
        },
        Iv {
            fam: 6,
            lo: 0,
            hi: u128::MAX,
        },
    ]
}

fn max_of(fam: u8) -> u128 {
    if fam == 4 {
        u128::from(u32::MAX)
    } else {
        u128::MAX
    }
}

/// The synthetic block a literal public prefix may cover (symbolic mode).
fn synthetic() -> Iv {
    v4([240, 0, 0, 0], 28)
}

/// One address item of the pool: its text, and what it surely and possibly covers.
struct PoolItem {
    text: &'static str,
    surely: Vec<Iv>,
    possibly: Vec<Iv>,
}

fn pool() -> &'static [PoolItem] {
    static POOL: std::sync::OnceLock<Vec<PoolItem>> = std::sync::OnceLock::new();
    POOL.get_or_init(make_pool)
}

fn make_pool() -> Vec<PoolItem> {
    let exact = |text, ivs: Vec<Iv>| PoolItem {
        text,
        surely: ivs.clone(),
        possibly: ivs,
    };
    let internet = vec![
        Iv {
            fam: 4,
            lo: 0,
            hi: u128::from(u32::from(Ipv4Addr::new(9, 255, 255, 255))),
        },
        Iv {
            fam: 4,
            lo: u128::from(u32::from(Ipv4Addr::new(11, 0, 0, 0))),
            hi: u128::from(u32::MAX),
        },
        Iv {
            fam: 6,
            lo: 0,
            hi: u128::MAX,
        },
    ];
    vec![
        exact("*", all_addresses()),
        exact("VirtualNetwork", vec![v4([10, 0, 0, 0], 23)]),
        exact("Internet", internet),
        exact("AzureLoadBalancer", vec![v4([168, 63, 129, 16], 32)]),
        exact("TagA", vec![v4([20, 0, 0, 0], 25), v4([52, 0, 0, 0], 25)]),
        PoolItem {
            text: "TagB",
            surely: vec![v4([20, 0, 1, 0], 26)],
            possibly: vec![v4([20, 0, 1, 0], 24), synthetic()],
        },
        exact("10.0.0.0/28", vec![v4([10, 0, 0, 0], 28)]),
        exact("10.0.0.16/28", vec![v4([10, 0, 0, 16], 28)]),
        exact("10.0.0.8/29", vec![v4([10, 0, 0, 8], 29)]),
        exact("10.0.1.0/28", vec![v4([10, 0, 1, 0], 28)]),
        exact("10.0.0.0/27", vec![v4([10, 0, 0, 0], 27)]),
        exact("20.0.0.0/24", vec![v4([20, 0, 0, 0], 24)]),
        exact("20.0.1.0/24", vec![v4([20, 0, 1, 0], 24)]),
        PoolItem {
            text: "52.0.0.0/24",
            surely: vec![v4([52, 0, 0, 0], 24)],
            possibly: vec![v4([52, 0, 0, 0], 24), synthetic()],
        },
        exact("2001:db8::/120", vec![v6("2001:db8::", 120)]),
    ]
}

/// Pool items that are exact, to replace an inexact one when a configuration
/// has too many unknowns.
fn exact_twin(i: usize) -> usize {
    match pool()[i].text {
        "TagB" => 12,
        "52.0.0.0/24" => 4,
        _ => i,
    }
}

/// The compute's side: two /28s of the VNet.
fn scope() -> Vec<Iv> {
    vec![v4([10, 0, 0, 0], 27)]
}

fn to_set(ivs: &[Iv]) -> AddrSet {
    let mut s = AddrSet::empty();
    for iv in ivs {
        let part = if iv.fam == 4 {
            AddrSet::v4_range(
                Ipv4Addr::from(u32::try_from(iv.lo).unwrap()),
                Ipv4Addr::from(u32::try_from(iv.hi).unwrap()),
            )
        } else {
            AddrSet::v6_range(Ipv6Addr::from(iv.lo), Ipv6Addr::from(iv.hi))
        };
        s = s.union(&part);
    }
    s
}

/// Tags as the pool says; literal prefixes exact, except that a prefix in
/// 52.0.0.0/8 may also cover the synthetic block.
struct PoolResolver {
    tags: HashMap<String, AddrBounds>,
}

impl PoolResolver {
    fn new() -> PoolResolver {
        let mut tags = HashMap::new();
        for item in pool() {
            if item
                .text
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic())
            {
                tags.insert(
                    item.text.to_ascii_lowercase(),
                    AddrBounds {
                        surely: to_set(&item.surely),
                        possibly: to_set(&item.possibly),
                    },
                );
            }
        }
        PoolResolver { tags }
    }
}

impl AddressResolver for PoolResolver {
    fn tag(&self, name: &str) -> Result<AddrBounds, ResolveError> {
        self.tags
            .get(&name.to_ascii_lowercase())
            .cloned()
            .ok_or_else(|| {
                ResolveError::UnknownTag(UnknownTag {
                    name: name.to_string(),
                    suggestion: None,
                })
            })
    }
    fn tag_prefixes(&self, name: &str) -> Result<Vec<TagPrefix>, ResolveError> {
        Ok(vec![TagPrefix {
            addresses: self.tag(name)?,
            length: None,
        }])
    }
    fn asg(&self, id: &str) -> Result<AddrBounds, ResolveError> {
        Err(ResolveError::UnknownAsg { id: id.to_string() })
    }
    fn prefix(&self, set: &AddrSet) -> AddrBounds {
        let wide = AddrSet::parse("52.0.0.0/8").unwrap();
        if set.intersects(&wide) && !set.is_all() {
            AddrBounds {
                surely: set.clone(),
                possibly: set.union(&to_set(&[synthetic()])),
            }
        } else {
            AddrBounds::exact(set.clone())
        }
    }
    fn internet_only(&self) -> AddrBounds {
        AddrBounds::exact(AddrSet::empty())
    }
}

// ---------------------------------------------------------------------------
// Random configurations.

const DEST_PORTS: [&str; 9] = [
    "*",
    "22",
    "80",
    "443",
    "80-443",
    "1000-2000",
    "5831",
    "65535",
    "0-79",
];
const SOURCE_PORTS: [&str; 5] = ["*", "0-1023", "1024-65535", "443", "80-90"];

fn port_range(text: &str) -> (u16, u16) {
    match PortSpec::parse(text) {
        Setting::Known(PortSpec::Any) => (0, u16::MAX),
        Setting::Known(PortSpec::Range(a, b)) => (a, b),
        other => panic!("{other:?}"),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AddrItem {
    Pool(usize),
    Unknown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PortItem {
    Range(u16, u16),
    Unknown,
}

/// A generated rule. `None` is unknown.
#[derive(Clone, Debug)]
struct Gen {
    priority: Option<u32>,
    access: Option<Access>,
    exists: Option<bool>,
    direction: Option<Direction>,
    protocol: Option<ProtocolSpec>,
    /// The packet's side: destinations outbound, sources inbound.
    remote: Vec<AddrItem>,
    /// The compute's side.
    local: Vec<AddrItem>,
    dports: Vec<PortItem>,
    sports: Vec<PortItem>,
}

#[derive(Clone, Debug)]
struct Config {
    direction: Direction,
    rules: Vec<Gen>,
}

fn pick<T: Copy>(xs: &[T], r: u32) -> T {
    xs[r as usize % xs.len()]
}

/// Maps raw random numbers to a rule (so that shrinking works on numbers).
fn gen_rule(dir: Direction, r: &[u32; 12], unknowns: bool) -> Gen {
    let n_pool = pool().len() as u32;
    let chance = |x: u32, pct: u32| unknowns && x % 100 < pct;
    let flags = r[1];
    let priority = (!chance(flags, 10)).then_some(110 + 10 * (r[0] % 20));
    let access = (!chance(flags >> 7, 12)).then_some(if r[2].is_multiple_of(2) {
        Access::Allow
    } else {
        Access::Deny
    });
    let exists = if chance(flags >> 14, 8) {
        None
    } else {
        Some(!r[2].is_multiple_of(23))
    };
    let direction = if chance(flags >> 21, 6) {
        None
    } else if r[4].is_multiple_of(5) {
        Some(match dir {
            Direction::Inbound => Direction::Outbound,
            Direction::Outbound => Direction::Inbound,
        })
    } else {
        Some(dir)
    };
    let protocol = if chance(r[3] >> 8, 5) {
        None
    } else {
        Some(pick(
            &[
                ProtocolSpec::Any,
                ProtocolSpec::Any,
                ProtocolSpec::Any,
                ProtocolSpec::Tcp,
                ProtocolSpec::Tcp,
                ProtocolSpec::Tcp,
                ProtocolSpec::Udp,
                ProtocolSpec::Udp,
                ProtocolSpec::Icmp,
                ProtocolSpec::Esp,
                ProtocolSpec::Ah,
            ],
            r[3],
        ))
    };
    let items = |x: u32, y: u32, star_pct: u32| -> Vec<AddrItem> {
        if x % 100 < star_pct {
            return vec![AddrItem::Pool(0)];
        }
        let count = 1 + (x / 100) % 3;
        (0..count)
            .map(|k| {
                let v = y.rotate_left(k * 9);
                if chance(v >> 20, 7) {
                    AddrItem::Unknown
                } else {
                    let k = 1 + (v % (n_pool - 1)) as usize;
                    AddrItem::Pool(if unknowns { k } else { exact_twin(k) })
                }
            })
            .collect()
    };
    let remote = items(r[5], r[6], 15);
    let local = items(r[7], r[11], 90);
    let ports = |x: u32, pool: &[&str], star_pct: u32| -> Vec<PortItem> {
        if x % 100 < star_pct {
            return vec![PortItem::Range(0, u16::MAX)];
        }
        let count = 1 + (x / 100) % 3;
        (0..count)
            .map(|k| {
                let v = x.rotate_left(k * 11 + 3);
                if chance(v >> 24, 6) {
                    PortItem::Unknown
                } else {
                    let (a, b) = port_range(pick(pool, v));
                    PortItem::Range(a, b)
                }
            })
            .collect()
    };
    let dports = ports(r[8], &DEST_PORTS, 25);
    let sports = ports(r[9], &SOURCE_PORTS, 94);
    Gen {
        priority,
        access,
        exists,
        direction,
        protocol,
        remote,
        local,
        dports,
        sports,
    }
}

/// Keeps the number of resolutions the brute force enumerates small: clears
/// unknowns (and replaces items known only in bounds) until it is.
fn repair(c: &mut Config) {
    const CAP: usize = 64;
    let pool = pool();
    let mut step = 0;
    while resolutions(c, pool).1 > CAP {
        // Undo unknowns from the last rule backwards, one kind at a time.
        let n = c.rules.len();
        let Some(g) = c.rules.get_mut(n - 1 - (step % n)) else {
            return;
        };
        match (step / n) % 4 {
            0 => {
                for it in g.remote.iter_mut().chain(g.local.iter_mut()) {
                    match *it {
                        AddrItem::Unknown => *it = AddrItem::Pool(11),
                        AddrItem::Pool(i) => *it = AddrItem::Pool(exact_twin(i)),
                    }
                }
                for p in g.dports.iter_mut().chain(g.sports.iter_mut()) {
                    if *p == PortItem::Unknown {
                        *p = PortItem::Range(443, 443);
                    }
                }
            }
            1 => {
                g.exists = Some(g.exists.unwrap_or(true));
                g.direction = Some(g.direction.unwrap_or(c.direction));
                g.protocol = Some(g.protocol.unwrap_or(ProtocolSpec::Tcp));
            }
            2 => g.access = Some(g.access.unwrap_or(Access::Deny)),
            _ => g.priority = Some(g.priority.unwrap_or(4000)),
        }
        step += 1;
    }
}

fn config(dir: Direction, unknowns: bool) -> impl Strategy<Value = Config> {
    prop::collection::vec(any::<[u32; 12]>(), 0..=12).prop_map(move |raw| {
        let mut c = Config {
            direction: dir,
            rules: raw.iter().map(|r| gen_rule(dir, r, unknowns)).collect(),
        };
        repair(&mut c);
        c
    })
}

fn known<T>(o: Option<T>) -> Setting<T> {
    o.map_or(Setting::Unknown, Setting::Known)
}

/// The rules as the module takes them.
fn rules_of(c: &Config) -> Vec<Rule> {
    let pool = pool();
    let addr = |items: &[AddrItem]| -> Vec<Setting<AddressSpec>> {
        items
            .iter()
            .map(|it| match it {
                AddrItem::Pool(i) => AddressSpec::parse(pool[*i].text),
                AddrItem::Unknown => Setting::Unknown,
            })
            .collect()
    };
    let ports = |items: &[PortItem]| -> Vec<Setting<PortSpec>> {
        items
            .iter()
            .map(|it| match it {
                PortItem::Range(0, u16::MAX) => Setting::Known(PortSpec::Any),
                PortItem::Range(a, b) => Setting::Known(PortSpec::Range(*a, *b)),
                PortItem::Unknown => Setting::Unknown,
            })
            .collect()
    };
    c.rules
        .iter()
        .enumerate()
        .map(|(i, g)| {
            // The compute is the source outbound, the destination inbound.
            let (src, dst) = match c.direction {
                Direction::Outbound => (addr(&g.local), addr(&g.remote)),
                Direction::Inbound => (addr(&g.remote), addr(&g.local)),
            };
            Rule {
                name: format!("r{i}"),
                priority: known(g.priority),
                direction: known(g.direction),
                access: known(g.access),
                protocol: known(g.protocol),
                source: src,
                source_ports: ports(&g.sports),
                destination: dst,
                destination_ports: ports(&g.dports),
                exists: known(g.exists),
                default: false,
                unknown: Vec::new(),
                prov: None,
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------
// The brute force.

/// The protocol numbers a rule's protocol names (ICMP covers ICMPv6, 58).
fn proto_numbers(p: ProtocolSpec) -> Vec<(u8, u8)> {
    match p {
        ProtocolSpec::Any => vec![(0, 255)],
        ProtocolSpec::Tcp => vec![(6, 6)],
        ProtocolSpec::Udp => vec![(17, 17)],
        ProtocolSpec::Icmp => vec![(1, 1), (58, 58)],
        ProtocolSpec::Esp => vec![(50, 50)],
        ProtocolSpec::Ah => vec![(51, 51)],
    }
}

/// One rule with every unknown resolved.
#[derive(Clone, Debug)]
struct Concrete {
    /// Sort key: priority, then input order (defaults last).
    key: (u32, usize),
    allow: bool,
    protos: Vec<(u8, u8)>,
    remote: Vec<Iv>,
    local: Vec<Iv>,
    dports: Vec<(u16, u16)>,
    sports: Vec<(u16, u16)>,
}

fn has(ivs: &[Iv], fam: u8, a: u128) -> bool {
    ivs.iter()
        .any(|iv| iv.fam == fam && iv.lo <= a && a <= iv.hi)
}

fn has_port(rs: &[(u16, u16)], p: u16) -> bool {
    rs.iter().any(|(a, b)| *a <= p && p <= *b)
}

fn defaults(dir: Direction) -> Vec<Concrete> {
    let p = pool();
    let find = |t: &str| p.iter().find(|i| i.text == t).unwrap().surely.clone();
    let rule = |key, allow, remote: Vec<Iv>, local: Vec<Iv>| Concrete {
        key: (key, usize::MAX),
        allow,
        protos: vec![(0, 255)],
        remote,
        local,
        dports: vec![(0, u16::MAX)],
        sports: vec![(0, u16::MAX)],
    };
    match dir {
        Direction::Outbound => vec![
            rule(65000, true, find("VirtualNetwork"), find("VirtualNetwork")),
            rule(65001, true, find("Internet"), all_addresses()),
            rule(65500, false, all_addresses(), all_addresses()),
        ],
        Direction::Inbound => vec![
            rule(65000, true, find("VirtualNetwork"), find("VirtualNetwork")),
            rule(65001, true, find("AzureLoadBalancer"), all_addresses()),
            rule(65500, false, all_addresses(), all_addresses()),
        ],
    }
}

/// The places an unknown priority can take: two before every known
/// priority, two after all of them (so two rules of unknown priority can come
/// in either order), and one in the middle.
fn slots(c: &Config) -> Vec<u32> {
    let known: Vec<u32> = c
        .rules
        .iter()
        .filter_map(|g| g.priority)
        .collect::<BTreeSet<u32>>()
        .into_iter()
        .collect();
    match (known.first(), known.last()) {
        (Some(first), Some(last)) => {
            let mut out = vec![first - 8, first - 5];
            if known.len() >= 2 {
                out.push(known[(known.len() - 1) / 2] + 5);
            }
            out.extend([last + 2, last + 5]);
            out
        }
        _ => vec![100, 200],
    }
}

/// The choice points of a configuration, and how many resolutions they make.
fn resolutions(c: &Config, pool: &[PoolItem]) -> (Vec<usize>, usize) {
    let n_slots = slots(c).len();
    let mut radix = Vec::new();
    for g in &c.rules {
        radix.extend(choices(g, pool, n_slots));
    }
    let total = radix
        .iter()
        .try_fold(1usize, |acc, r| acc.checked_mul(*r))
        .unwrap_or(usize::MAX);
    (radix, total)
}

/// The choice points of one rule, in the order [`resolve`] reads them.
fn choices(g: &Gen, pool: &[PoolItem], n_slots: usize) -> Vec<usize> {
    let mut out = Vec::new();
    if g.priority.is_none() {
        out.push(n_slots);
    }
    for unknown in [
        g.access.is_none(),
        g.exists.is_none(),
        g.direction.is_none(),
        g.protocol.is_none(),
    ] {
        if unknown {
            out.push(2);
        }
    }
    for it in g.remote.iter().chain(&g.local) {
        match it {
            AddrItem::Unknown => out.push(2),
            AddrItem::Pool(i) if pool[*i].surely != pool[*i].possibly => out.push(2),
            AddrItem::Pool(_) => {}
        }
    }
    for p in g.dports.iter().chain(&g.sports) {
        if *p == PortItem::Unknown {
            out.push(2);
        }
    }
    out
}

/// Rule `i` under one resolution of its unknown parts (`digits`, one per
/// choice point of [`choices`]); `None` when it does not apply then.
fn resolve_rule(
    c: &Config,
    i: usize,
    pool: &[PoolItem],
    slots: &[u32],
    digits: &[usize],
) -> Option<Concrete> {
    let g = &c.rules[i];
    let mut d = digits.iter().copied();
    {
        let priority = match g.priority {
            Some(p) => p,
            None => slots[d.next().unwrap()],
        };
        let mut bit = |known: bool| known || d.next().unwrap() == 1;
        let allow = match g.access {
            Some(a) => a == Access::Allow,
            None => bit(false),
        };
        let exists = match g.exists {
            Some(e) => e,
            None => bit(false),
        };
        let same_direction = match g.direction {
            Some(dir) => dir == c.direction,
            None => bit(false),
        };
        let protos = match g.protocol {
            Some(p) => proto_numbers(p),
            None => {
                if bit(false) {
                    vec![(0, 255)]
                } else {
                    Vec::new()
                }
            }
        };
        let mut items = |list: &[AddrItem]| -> Vec<Iv> {
            let mut ivs = Vec::new();
            for it in list {
                match it {
                    AddrItem::Unknown => {
                        if d.next().unwrap() == 1 {
                            ivs.extend(all_addresses());
                        }
                    }
                    AddrItem::Pool(k) => {
                        let item = &pool[*k];
                        if item.surely != item.possibly && d.next().unwrap() == 1 {
                            ivs.extend(item.possibly.iter().copied());
                        } else {
                            ivs.extend(item.surely.iter().copied());
                        }
                    }
                }
            }
            ivs
        };
        let remote = items(&g.remote);
        let local = items(&g.local);
        let mut ports = |list: &[PortItem]| -> Vec<(u16, u16)> {
            let mut rs = Vec::new();
            for p in list {
                match p {
                    PortItem::Range(a, b) => rs.push((*a, *b)),
                    PortItem::Unknown => {
                        if d.next().unwrap() == 1 {
                            rs.push((0, u16::MAX));
                        }
                    }
                }
            }
            rs
        };
        let dports = ports(&g.dports);
        let sports = ports(&g.sports);
        assert!(d.next().is_none(), "every choice is read");
        (exists && same_direction).then_some(Concrete {
            key: (priority, i),
            allow,
            protos,
            remote,
            local,
            dports,
            sports,
        })
    }
}

/// Every resolution of rule `i` (all combinations of its choice points).
fn variants(c: &Config, i: usize, pool: &[PoolItem], slots: &[u32]) -> Vec<Option<Concrete>> {
    let radix = choices(&c.rules[i], pool, slots.len());
    let mut out = Vec::new();
    let mut digits = vec![0usize; radix.len()];
    loop {
        out.push(resolve_rule(c, i, pool, slots, &digits));
        if !next(&mut digits, &radix) {
            return out;
        }
    }
}

/// The next combination in mixed radix; false after the last.
fn next(digits: &mut [usize], radix: &[usize]) -> bool {
    for (d, r) in digits.iter_mut().zip(radix) {
        *d += 1;
        if *d < *r {
            return true;
        }
        *d = 0;
    }
    false
}

/// One cell of the compute's side: an address and a source port.
#[derive(Clone, Copy, Debug)]
struct Cell {
    fam: u8,
    addr: u128,
    sport: u16,
}

/// The grid packets a concrete rule matches, one bit each (index: protocol,
/// then address, then port), and where it applies on the compute's side.
struct Bits<'a> {
    rule: &'a Concrete,
    matches: Vec<u64>,
}

fn bits<'a>(r: &'a Concrete, g: &Grid) -> Bits<'a> {
    let n = g.protos.len() * g.addrs.len() * g.ports.len();
    let mut matches = vec![0u64; n.div_ceil(64)];
    let ports: Vec<bool> = g
        .ports
        .iter()
        .map(|p| has_port(&r.dports, u16::try_from(*p).unwrap()))
        .collect();
    let addrs: Vec<bool> = g
        .addrs
        .iter()
        .map(|(f, a)| has(&r.remote, *f, *a))
        .collect();
    let mut idx = 0;
    for p in &g.protos {
        let proto = r
            .protos
            .iter()
            .any(|(a, b)| u32::from(*a) <= *p && *p <= u32::from(*b));
        if !proto {
            idx += addrs.len() * ports.len();
            continue;
        }
        for addr in &addrs {
            if !*addr {
                idx += ports.len();
                continue;
            }
            for port in &ports {
                if *port {
                    matches[idx / 64] |= 1 << (idx % 64);
                }
                idx += 1;
            }
        }
    }
    Bits { rule: r, matches }
}

/// For one resolution (its rules in evaluation order) and one cell of the
/// compute's side, the grid packets allowed: each packet goes down the
/// rules, and the first rule matching it decides.
fn allowed_bits(rules: &[&Bits], cell: &Cell, words: usize) -> Vec<u64> {
    let mut undecided = vec![u64::MAX; words];
    let mut allowed = vec![0u64; words];
    for b in rules {
        let r = b.rule;
        if !(has(&r.local, cell.fam, cell.addr) && has_port(&r.sports, cell.sport)) {
            continue;
        }
        let mut left = 0;
        for ((u, a), m) in undecided.iter_mut().zip(allowed.iter_mut()).zip(&b.matches) {
            if r.allow {
                *a |= *u & *m;
            }
            *u &= !*m;
            left |= *u;
        }
        if left == 0 {
            break;
        }
    }
    allowed
}

// ---------------------------------------------------------------------------
// The grid.

fn add_bounds(points: &mut BTreeSet<(u8, u128)>, ivs: &[Iv]) {
    for iv in ivs {
        points.insert((iv.fam, iv.lo));
        if iv.hi < max_of(iv.fam) {
            points.insert((iv.fam, iv.hi + 1));
        }
    }
}

fn add_port_bounds(points: &mut BTreeSet<u32>, a: u16, b: u16) {
    points.insert(u32::from(a));
    points.insert(u32::from(b) + 1);
}

struct Grid {
    protos: BTreeSet<u32>,
    addrs: BTreeSet<(u8, u128)>,
    ports: BTreeSet<u32>,
    /// The same points, in order, to index.
    pv: Vec<u32>,
    av: Vec<(u8, u128)>,
    qv: Vec<u32>,
    cells: Vec<Cell>,
}

fn grid(c: &Config, pool: &[PoolItem]) -> Grid {
    let mut protos: BTreeSet<u32> = [0].into();
    let mut addrs: BTreeSet<(u8, u128)> = [(4, 0), (6, 0)].into();
    let mut ports: BTreeSet<u32> = [0].into();
    let mut local_addrs: BTreeSet<(u8, u128)> = BTreeSet::new();
    let mut sports: BTreeSet<u32> = [0].into();
    add_bounds(&mut local_addrs, &scope());
    let item_ivs = |it: &AddrItem| -> Vec<Iv> {
        match it {
            AddrItem::Pool(k) => pool[*k]
                .surely
                .iter()
                .chain(&pool[*k].possibly)
                .copied()
                .collect(),
            AddrItem::Unknown => Vec::new(),
        }
    };
    for g in &c.rules {
        for p in [
            ProtocolSpec::Any,
            ProtocolSpec::Tcp,
            ProtocolSpec::Udp,
            ProtocolSpec::Icmp,
            ProtocolSpec::Esp,
            ProtocolSpec::Ah,
        ] {
            if g.protocol == Some(p) {
                for (a, b) in proto_numbers(p) {
                    protos.insert(u32::from(a));
                    protos.insert(u32::from(b) + 1);
                }
            }
        }
        for it in &g.remote {
            add_bounds(&mut addrs, &item_ivs(it));
        }
        for it in &g.local {
            add_bounds(&mut local_addrs, &item_ivs(it));
        }
        for p in &g.dports {
            if let PortItem::Range(a, b) = p {
                add_port_bounds(&mut ports, *a, *b);
            }
        }
        for p in &g.sports {
            if let PortItem::Range(a, b) = p {
                add_port_bounds(&mut sports, *a, *b);
            }
        }
    }
    for d in defaults(c.direction) {
        add_bounds(&mut addrs, &d.remote);
        add_bounds(&mut local_addrs, &d.local);
    }
    protos.remove(&256);
    ports.remove(&65536);
    sports.remove(&65536);
    let scope = scope();
    let mut cells = Vec::new();
    for (fam, a) in &local_addrs {
        if !has(&scope, *fam, *a) {
            continue;
        }
        for sp in &sports {
            cells.push(Cell {
                fam: *fam,
                addr: *a,
                sport: u16::try_from(*sp).unwrap(),
            });
        }
    }
    Grid {
        pv: protos.iter().copied().collect(),
        av: addrs.iter().copied().collect(),
        qv: ports.iter().copied().collect(),
        protos,
        addrs,
        ports,
        cells,
    }
}

fn packet(proto: u32, fam: u8, addr: u128, port: u32) -> Packet {
    let dest = if fam == 4 {
        IpAddr::V4(Ipv4Addr::from(u32::try_from(addr).unwrap()))
    } else {
        IpAddr::V6(Ipv6Addr::from(addr))
    };
    Packet::new(
        Protocol::from_number(u8::try_from(proto).unwrap()),
        dest,
        u16::try_from(port).unwrap(),
    )
}

/// Every box of `set` starts and ends on grid boundaries: the set is a union
/// of grid cells, so checking one packet per cell checks all of it.
fn on_grid(set: &amlguard_net::space::PacketSet, g: &Grid) -> Result<(), String> {
    for b in set.boxes() {
        let (plo, phi) = b.protocols;
        let proto_ok = g.protos.contains(&u32::from(plo))
            && (phi == 255 || g.protos.contains(&(u32::from(phi) + 1)));
        let (fam, lo, hi) = match b.addresses {
            AddrRange::V4(lo, hi) => (4, u128::from(u32::from(lo)), u128::from(u32::from(hi))),
            AddrRange::V6(lo, hi) => (6, u128::from(lo), u128::from(hi)),
        };
        let addr_ok =
            g.addrs.contains(&(fam, lo)) && (hi == max_of(fam) || g.addrs.contains(&(fam, hi + 1)));
        let (qlo, qhi) = b.ports;
        let port_ok = g.ports.contains(&u32::from(qlo))
            && (qhi == u16::MAX || g.ports.contains(&(u32::from(qhi) + 1)));
        if !(proto_ok && addr_ok && port_ok) {
            return Err(format!("box off the grid: {b:?}"));
        }
    }
    Ok(())
}

/// The grid packets a set holds, one bit each (the set is a union of cells,
/// see [`on_grid`]).
fn grid_bits(set: &amlguard_net::space::PacketSet, g: &Grid) -> Vec<u64> {
    let (na, nq) = (g.av.len(), g.qv.len());
    let mut out = vec![0u64; (g.pv.len() * na * nq).div_ceil(64)];
    let range = |lo: usize, hi: usize| lo..hi;
    for b in set.boxes() {
        let (plo, phi) = (u32::from(b.protocols.0), u32::from(b.protocols.1));
        let ps = range(
            g.pv.partition_point(|p| *p < plo),
            g.pv.partition_point(|p| *p <= phi),
        );
        let (fam, lo, hi) = match b.addresses {
            AddrRange::V4(lo, hi) => (4, u128::from(u32::from(lo)), u128::from(u32::from(hi))),
            AddrRange::V6(lo, hi) => (6, u128::from(lo), u128::from(hi)),
        };
        let r#as = range(
            g.av.partition_point(|a| *a < (fam, lo)),
            g.av.partition_point(|a| *a <= (fam, hi)),
        );
        let (qlo, qhi) = (u32::from(b.ports.0), u32::from(b.ports.1));
        let qs = range(
            g.qv.partition_point(|q| *q < qlo),
            g.qv.partition_point(|q| *q <= qhi),
        );
        for pi in ps {
            for ai in r#as.clone() {
                for qi in qs.clone() {
                    let i = (pi * na + ai) * nq + qi;
                    out[i / 64] |= 1 << (i % 64);
                }
            }
        }
    }
    out
}

/// Compares the module's answer with the brute force.
fn check(c: &Config) -> Result<(), TestCaseError> {
    let pool = pool();
    let resolver = PoolResolver::new();
    let rules = rules_of(c);
    let local = to_set(&scope());
    let got: Allowed = match c.direction {
        Direction::Outbound => allowed_outbound(&rules, &local, &resolver),
        Direction::Inbound => allowed_inbound(&rules, &local, &resolver),
    }
    .map_err(|e| TestCaseError::fail(format!("evaluation failed: {e}")))?;
    let g = grid(c, pool);
    on_grid(&got.surely, &g).map_err(TestCaseError::fail)?;
    on_grid(&got.possibly, &g).map_err(TestCaseError::fail)?;

    let slots = slots(c);
    let (_, total) = resolutions(c, pool);
    let per_rule: Vec<Vec<Option<Concrete>>> = (0..c.rules.len())
        .map(|i| variants(c, i, pool, &slots))
        .collect();
    let rule_bits: Vec<Vec<Option<Bits>>> = per_rule
        .iter()
        .map(|vs| vs.iter().map(|v| v.as_ref().map(|r| bits(r, &g))).collect())
        .collect();
    let default_rules = defaults(c.direction);
    let default_bits: Vec<Bits> = default_rules.iter().map(|r| bits(r, &g)).collect();
    let n = g.protos.len() * g.addrs.len() * g.ports.len();
    let words = n.div_ceil(64);
    let (mut any_allow, mut all_allow) = (vec![0u64; words], vec![u64::MAX; words]);
    let radix: Vec<usize> = per_rule.iter().map(Vec::len).collect();
    let mut digits = vec![0usize; radix.len()];
    let mut worlds = 0;
    loop {
        worlds += 1;
        let mut rules: Vec<&Bits> = rule_bits
            .iter()
            .zip(&digits)
            .filter_map(|(vs, d)| vs[*d].as_ref())
            .collect();
        rules.sort_by_key(|b| b.rule.key);
        rules.extend(default_bits.iter());
        for cell in &g.cells {
            let allowed = allowed_bits(&rules, cell, words);
            for w in 0..words {
                any_allow[w] |= allowed[w];
                all_allow[w] &= allowed[w];
            }
        }
        if !next(&mut digits, &radix) {
            break;
        }
    }
    prop_assert_eq!(worlds, total);
    let bit = |v: &[u64], i: usize| v[i / 64] >> (i % 64) & 1 == 1;
    let exact = total == 1 && g.cells.len() <= 1;
    if exact {
        prop_assert_eq!(
            &got.surely,
            &got.possibly,
            "an exact configuration has one answer"
        );
    }
    for (what, set, want) in [
        ("surely", &got.surely, &all_allow),
        ("possibly", &got.possibly, &any_allow),
    ] {
        let have = grid_bits(set, &g);
        if let Some(i) = (0..n).find(|i| bit(&have, *i) != bit(want, *i)) {
            let (pi, rest) = (
                i / (g.addrs.len() * g.ports.len()),
                i % (g.addrs.len() * g.ports.len()),
            );
            let (ai, qi) = (rest / g.ports.len(), rest % g.ports.len());
            let (fam, addr) = g.av[ai];
            let p = packet(g.pv[pi], fam, addr, g.qv[qi]);
            return Err(TestCaseError::fail(format!(
                "{what}: packet {p}: module says {}, brute force {} ({total} resolutions × {} cells)",
                bit(&have, i),
                bit(want, i),
                g.cells.len()
            )));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn outbound_exact_configurations(c in config(Direction::Outbound, false)) {
        check(&c)?;
    }

    #[test]
    fn inbound_exact_configurations(c in config(Direction::Inbound, false)) {
        check(&c)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn outbound_with_unknowns(c in config(Direction::Outbound, true)) {
        check(&c)?;
    }

    #[test]
    fn inbound_with_unknowns(c in config(Direction::Inbound, true)) {
        check(&c)?;
    }
}

/// The generator does produce what the oracle is meant to cover.
#[test]
fn the_generator_covers_the_cases() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = config(Direction::Outbound, true);
    let mut seen = HashMap::new();
    for _ in 0..400 {
        let c = strategy.new_tree(&mut runner).unwrap().current();
        let pool = pool();
        let (_, total) = resolutions(&c, pool);
        let g = grid(&c, pool);
        let mut mark = |k: &'static str, b: bool| *seen.entry(k).or_insert(0) += usize::from(b);
        mark("many rules", c.rules.len() >= 8);
        mark(
            "unknown priority",
            c.rules.iter().any(|r| r.priority.is_none()),
        );
        mark(
            "two unknown priorities",
            c.rules.iter().filter(|r| r.priority.is_none()).count() >= 2,
        );
        mark("unknown access", c.rules.iter().any(|r| r.access.is_none()));
        mark(
            "unknown existence",
            c.rules.iter().any(|r| r.exists.is_none()),
        );
        mark(
            "unknown direction",
            c.rules.iter().any(|r| r.direction.is_none()),
        );
        mark(
            "unknown protocol",
            c.rules.iter().any(|r| r.protocol.is_none()),
        );
        mark(
            "unknown item",
            c.rules
                .iter()
                .any(|r| r.remote.contains(&AddrItem::Unknown)),
        );
        mark(
            "unknown port",
            c.rules
                .iter()
                .any(|r| r.dports.contains(&PortItem::Unknown)),
        );
        mark(
            "inexact item",
            c.rules.iter().any(|r| {
                r.remote
                    .iter()
                    .any(|i| matches!(i, AddrItem::Pool(k) if pool[*k].surely != pool[*k].possibly))
            }),
        );
        mark("several cells", g.cells.len() > 1);
        mark("many resolutions", total >= 16);
        mark(
            "other direction",
            c.rules
                .iter()
                .any(|r| r.direction == Some(Direction::Inbound)),
        );
    }
    for (k, n) in &seen {
        assert!(*n >= 5, "only {n} of 400 configurations have {k}: {seen:?}");
    }
}
