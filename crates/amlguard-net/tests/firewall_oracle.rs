//! The firewall's set-based evaluation against a brute-force evaluation,
//! written independently here: for one concrete source address and one
//! concrete packet (or host name), rules are taken in Azure's processing
//! order (parent policy, group priority, collection priority; all network
//! rules before any application rule) and the first match decides. Unknown
//! values are enumerated: every place a collection or group of unknown
//! priority can take, both actions, deployed or not, and whether each
//! unknown item (an address, port or protocol not known offline, an IP
//! group without members, an FQDN tag, a URL path, another name sharing an
//! FQDN's addresses) matches. `surely` must be "allowed in every case" and
//! `possibly` "allowed in some case", exactly.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use amlguard_model::UnknownValue;
use amlguard_net::firewall::{
    AddrItem, AppPort, AppProtocol, AppTarget, ApplicationRule, CollectionKind, Firewall, FwRule,
    GroupInfo, HostQuery, NetProtocol, NetworkRule, RuleCollection, Service,
};
use amlguard_net::fqdn::HostPattern;
use amlguard_net::nsg::{Access, PortSpec, Setting, UnknownPart, Verdict};
use amlguard_net::resolve::{AddrBounds, AddressResolver, ResolveError, TagPrefix};
use amlguard_net::space::{AddrSet, Packet, Protocol};
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// Randomness from a proptest seed.

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn pick_str(&mut self, items: &[&'static str]) -> &'static str {
        items[self.below(items.len())]
    }
}

// ---------------------------------------------------------------------------
// Pools.

const SOURCES: [&str; 4] = ["10.1.0.0", "10.1.0.1", "10.1.0.2", "10.1.0.3"];
const SOURCE_ITEMS: &[&str] = &[
    "*",
    "10.1.0.0/31",
    "10.1.0.2/31",
    "10.1.0.1",
    "10.1.0.0-10.1.0.2",
    "10.1.0.3",
    "192.168.0.0/16",
];
const DEST_ITEMS: &[&str] = &[
    "*",
    "10.0.0.0/28",
    "10.0.0.16/28",
    "10.0.0.8/29",
    "52.1.1.0/24",
    "52.1.2.0/24",
    "52.1.1.128/25",
    "TagA",
    "TagB",
    "52.1.2.10-52.1.2.20",
];
const DESTS: [&str; 8] = [
    "10.0.0.1",
    "10.0.0.9",
    "10.0.0.17",
    "52.1.1.5",
    "52.1.1.200",
    "52.1.2.15",
    "52.1.3.3",
    "8.8.8.8",
];
const PORT_ITEMS: &[&str] = &["*", "80", "443", "443-445", "8000-8100"];
const PORTS: [u16; 5] = [22, 80, 443, 444, 8050];
const PROTO_ITEMS: &[&str] = &["Any", "TCP", "UDP", "ICMP"];
const PROTOS: [Protocol; 4] = [Protocol::Tcp, Protocol::Udp, Protocol::Icmp, Protocol::Esp];
const GROUP_ID: &str = "/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/ipGroups/";
const KNOWN_GROUP: &str = "10.0.0.0/28";

/// Tags of the test: exact sets.
fn tag_set(name: &str) -> Option<&'static [&'static str]> {
    match name.to_ascii_lowercase().as_str() {
        "taga" => Some(&["52.1.1.0/24", "52.1.3.0/24"]),
        "tagb" => Some(&["10.0.0.16/28"]),
        _ => None,
    }
}

struct Resolver;

impl AddressResolver for Resolver {
    fn tag(&self, name: &str) -> Result<AddrBounds, ResolveError> {
        match tag_set(name) {
            Some(p) => Ok(AddrBounds::exact(
                AddrSet::from_prefixes(p.iter().copied()).unwrap(),
            )),
            None => Err(ResolveError::UnknownAsg { id: name.into() }),
        }
    }
    fn tag_prefixes(&self, name: &str) -> Result<Vec<TagPrefix>, ResolveError> {
        Ok(vec![TagPrefix {
            addresses: self.tag(name)?,
            length: None,
        }])
    }
    fn asg(&self, id: &str) -> Result<AddrBounds, ResolveError> {
        Err(ResolveError::UnknownAsg { id: id.into() })
    }
    fn prefix(&self, set: &AddrSet) -> AddrBounds {
        AddrBounds::exact(set.clone())
    }
    fn internet_only(&self) -> AddrBounds {
        AddrBounds::exact(AddrSet::parse("8.0.0.0/8").unwrap())
    }
}

fn unknown_part(field: &str) -> UnknownPart {
    UnknownPart {
        field: field.into(),
        value: UnknownValue {
            reason: "a parameter without a value".into(),
            input: Some(format!("parameter '{field}'")),
            secret: false,
        },
        at: None,
    }
}

// ---------------------------------------------------------------------------
// The brute force: concrete matching, written from Azure's documented rules.

/// Three-valued match of one item or rule: true, false, or free (decided by
/// an unknown).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum M {
    Yes,
    No,
    Free,
}

fn any_of(ms: impl IntoIterator<Item = M>) -> M {
    let mut out = M::No;
    for m in ms {
        match m {
            M::Yes => return M::Yes,
            M::Free => out = M::Free,
            M::No => {}
        }
    }
    out
}

fn all_of(ms: impl IntoIterator<Item = M>) -> M {
    let mut out = M::Yes;
    for m in ms {
        match m {
            M::No => return M::No,
            M::Free => out = M::Free,
            M::Yes => {}
        }
    }
    out
}

fn v4(s: &str) -> u32 {
    u32::from(s.parse::<Ipv4Addr>().unwrap())
}

/// The interval an address text (address, CIDR, range) stands for,
/// parsed once per text.
fn interval(text: &str) -> (u32, u32) {
    thread_local! {
        static CACHE: std::cell::RefCell<HashMap<String, (u32, u32)>> =
            std::cell::RefCell::new(HashMap::new());
    }
    if let Some(r) = CACHE.with(|c| c.borrow().get(text).copied()) {
        return r;
    }
    let r = if let Some((lo, hi)) = text.split_once('-') {
        (v4(lo.trim()), v4(hi.trim()))
    } else {
        let (base, len) = match text.split_once('/') {
            Some((b, l)) => (v4(b), l.parse::<u32>().unwrap()),
            None => (v4(text), 32),
        };
        let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
        (base & mask, (base & mask) | !mask)
    };
    CACHE.with(|c| c.borrow_mut().insert(text.to_string(), r));
    r
}

/// An address item, parsed: ranges, or free (not known offline).
#[derive(Clone, Debug)]
enum BAddr {
    Ranges(Vec<(u32, u32)>),
    Free,
}

fn baddr(item: &Setting<AddrItem>) -> BAddr {
    match item {
        Setting::Known(AddrItem::Any) => BAddr::Ranges(vec![(0, u32::MAX)]),
        Setting::Known(AddrItem::Literal(_, text)) => BAddr::Ranges(vec![interval(text)]),
        Setting::Known(AddrItem::Tag(t)) => {
            BAddr::Ranges(tag_set(t).unwrap().iter().map(|p| interval(p)).collect())
        }
        Setting::Known(AddrItem::IpGroup {
            members: Some(_), ..
        }) => BAddr::Ranges(vec![interval(KNOWN_GROUP)]),
        Setting::Known(AddrItem::IpGroup { members: None, .. }) | Setting::Unknown => BAddr::Free,
        Setting::Invalid(_) => panic!("invalid item generated"),
    }
}

fn holds(items: &[BAddr], a: u32) -> M {
    any_of(items.iter().map(|i| match i {
        BAddr::Ranges(rs) => {
            if rs.iter().any(|(lo, hi)| *lo <= a && a <= *hi) {
                M::Yes
            } else {
                M::No
            }
        }
        BAddr::Free => M::Free,
    }))
}

/// A protocol item: the protocol numbers it names, or free.
fn bproto(item: &Setting<NetProtocol>) -> Option<Vec<u8>> {
    match item {
        Setting::Known(NetProtocol::Any) => Some((0..=255).collect()),
        Setting::Known(NetProtocol::Tcp) => Some(vec![6]),
        Setting::Known(NetProtocol::Udp) => Some(vec![17]),
        Setting::Known(NetProtocol::Icmp) => Some(vec![1, 58]),
        Setting::Unknown => None,
        Setting::Invalid(_) => panic!(),
    }
}

fn bport(item: &Setting<PortSpec>) -> Option<(u16, u16)> {
    match item {
        Setting::Known(PortSpec::Any) => Some((0, u16::MAX)),
        Setting::Known(PortSpec::Range(lo, hi)) => Some((*lo, *hi)),
        Setting::Unknown => None,
        Setting::Invalid(_) => panic!(),
    }
}

/// A target of an application rule: a pattern (with whether a URL path
/// narrows it), or free.
#[derive(Clone, Debug)]
enum BTarget {
    Pattern(String, bool),
    Free,
}

enum BRule {
    Net {
        src: Vec<BAddr>,
        dst: Vec<BAddr>,
        fqdns: Vec<String>,
        ports: Vec<Option<(u16, u16)>>,
        protos: Vec<Option<Vec<u8>>>,
    },
    App {
        src: Vec<BAddr>,
        targets: Vec<BTarget>,
        protocols: Vec<(AppProtocol, u16)>,
        dst: Option<Vec<BAddr>>,
    },
    Unknown,
}

/// The rules of a firewall, parsed for the brute force.
fn brute_rules(fw: &Firewall) -> Vec<Vec<BRule>> {
    fw.collections
        .iter()
        .map(|c| {
            c.rules
                .iter()
                .map(|r| match r {
                    FwRule::Network(n) => BRule::Net {
                        src: n.sources.iter().map(baddr).collect(),
                        dst: n.destinations.iter().map(baddr).collect(),
                        fqdns: n
                            .destination_fqdns
                            .iter()
                            .map(|f| f.known().unwrap().clone())
                            .collect(),
                        ports: n.ports.iter().map(bport).collect(),
                        protos: n.protocols.iter().map(bproto).collect(),
                    },
                    FwRule::Application(a) => BRule::App {
                        src: a.sources.iter().map(baddr).collect(),
                        targets: a
                            .targets
                            .iter()
                            .map(|t| match t {
                                Setting::Known(AppTarget::Fqdn(p)) => {
                                    BTarget::Pattern(p.to_string(), false)
                                }
                                Setting::Known(AppTarget::Url { host, path, .. }) => {
                                    BTarget::Pattern(host.to_string(), *path)
                                }
                                _ => BTarget::Free,
                            })
                            .collect(),
                        protocols: if a.protocols.is_empty() {
                            vec![(AppProtocol::Http, 80), (AppProtocol::Https, 443)]
                        } else {
                            a.protocols
                                .iter()
                                .map(|p| {
                                    let p = p.known().unwrap();
                                    (p.protocol, p.port)
                                })
                                .collect()
                        },
                        dst: (!a.destination_addresses.is_empty())
                            .then(|| a.destination_addresses.iter().map(baddr).collect()),
                    },
                    FwRule::Unknown(_) => BRule::Unknown,
                })
                .collect()
        })
        .collect()
}

/// Azure's wildcard rule: a left-most `*` stands for anything.
fn pattern_holds(pattern: &str, host: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match pattern.strip_prefix('*') {
        Some(tail) => host.ends_with(tail),
        None => pattern == host,
    }
}

/// What is asked of one rule.
struct Probe<'a> {
    source: u32,
    /// A packet, or a host (lower case) with its address and the service.
    packet: Option<Packet>,
    host: Option<(&'a str, u32, Service)>,
}

fn rule_match(r: &BRule, q: &Probe<'_>) -> [M; 2] {
    let web = q
        .host
        .is_some_and(|h| h.2.app.is_some() && h.2.protocol == Protocol::Tcp);
    match r {
        BRule::Unknown => [M::Free, if web { M::Free } else { M::No }],
        BRule::Net {
            src,
            dst,
            fqdns,
            ports,
            protos,
        } => {
            let (dst_addr, port, proto, name) = match (&q.packet, &q.host) {
                (Some(p), _) => {
                    let IpAddr::V4(a) = p.destination else {
                        panic!()
                    };
                    (u32::from(a), p.port, p.protocol, None)
                }
                (None, Some((h, a, s))) => (*a, s.port, s.protocol, Some(*h)),
                _ => panic!(),
            };
            // An FQDN matches by the addresses it resolves to: not known
            // offline, except that a name resolves to its own addresses.
            let by_name = any_of(fqdns.iter().map(|f| {
                if Some(f.as_str()) == name {
                    M::Yes
                } else {
                    M::Free
                }
            }));
            let port = any_of(ports.iter().map(|p| match p {
                Some((lo, hi)) if *lo <= port && port <= *hi => M::Yes,
                Some(_) => M::No,
                None => M::Free,
            }));
            let n = proto.number();
            let proto = any_of(protos.iter().map(|p| match p {
                Some(ns) if ns.contains(&n) => M::Yes,
                Some(_) => M::No,
                None => M::Free,
            }));
            let m = all_of([
                holds(src, q.source),
                any_of([holds(dst, dst_addr), by_name]),
                port,
                proto,
            ]);
            [m, M::No]
        }
        BRule::App {
            src,
            targets,
            protocols,
            dst,
        } => {
            let Some((host, addr, service)) = &q.host else {
                return [M::No, M::No];
            };
            let Some(app) = service.app.filter(|_| web) else {
                return [M::No, M::No];
            };
            let proto = if protocols
                .iter()
                .any(|(p, port)| *p == app && *port == service.port)
            {
                M::Yes
            } else {
                M::No
            };
            let target = any_of(targets.iter().map(|t| match t {
                BTarget::Pattern(p, path) => match (pattern_holds(p, host), path) {
                    (false, _) => M::No,
                    (true, false) => M::Yes,
                    (true, true) => M::Free,
                },
                BTarget::Free => M::Free,
            }));
            let dst = match dst {
                Some(d) => holds(d, *addr),
                None => M::Yes,
            };
            [M::No, all_of([holds(src, q.source), proto, target, dst])]
        }
    }
}

/// One way the unknowns of collections and groups can be.
#[derive(Clone)]
struct World {
    /// Per collection: (group priority, collection priority, action, exists).
    colls: Vec<(u64, u64, Access, bool)>,
}

/// Every world: unknown priorities at every place, both actions, both
/// existences.
fn worlds(fw: &Firewall) -> Vec<World> {
    // Group priorities: known, or every place among the known ones of the
    // same level.
    let mut group_keys: Vec<(u32, String)> = Vec::new();
    for c in &fw.collections {
        if let Some(g) = &c.group {
            let k = (c.level, g.name.clone());
            if !group_keys.contains(&k) {
                group_keys.push(k);
            }
        }
    }
    let mut group_choices: Vec<Vec<u64>> = Vec::new();
    for (level, name) in &group_keys {
        let g = fw
            .collections
            .iter()
            .find(|c| c.level == *level && c.group.as_ref().is_some_and(|g| &g.name == name))
            .unwrap()
            .group
            .clone()
            .unwrap();
        group_choices.push(match g.priority {
            Setting::Known(p) => vec![u64::from(p) * 10],
            _ => {
                let mut v = vec![5, 1_000_000];
                for c in &fw.collections {
                    if let Some(o) = &c.group
                        && c.level == *level
                        && let Setting::Known(p) = o.priority
                    {
                        v.push(u64::from(p) * 10 + 5);
                    }
                }
                v.sort();
                v.dedup();
                v
            }
        });
    }
    let mut coll_choices: Vec<Vec<(u64, Access, bool)>> = Vec::new();
    for (ci, c) in fw.collections.iter().enumerate() {
        let prios: Vec<u64> = match c.priority {
            Setting::Known(p) => vec![u64::from(p) * 10],
            _ => {
                // Every gap, entered from both ends so that two collections
                // of unknown priority in one gap take both orders.
                let ci = ci as u64;
                let mut v = vec![1 + ci, 9 - ci.min(8), 1_000_001 + ci, 1_000_009 - ci.min(8)];
                let same_group = |o: &RuleCollection| {
                    o.level == c.level
                        && o.group.as_ref().map(|g| &g.name) == c.group.as_ref().map(|g| &g.name)
                };
                for o in fw.collections.iter().filter(|o| same_group(o)) {
                    if let Setting::Known(p) = o.priority {
                        v.push(u64::from(p) * 10 + 1 + ci.min(8));
                        v.push(u64::from(p) * 10 + 9 - ci.min(8));
                    }
                }
                v.sort();
                v.dedup();
                v
            }
        };
        let actions: Vec<Access> = match c.action {
            Setting::Known(a) => vec![a],
            _ => vec![Access::Allow, Access::Deny],
        };
        let exists: Vec<bool> = match c.exists {
            Setting::Known(b) => vec![b],
            _ => vec![true, false],
        };
        let mut v = Vec::new();
        for p in &prios {
            for a in &actions {
                for e in &exists {
                    v.push((*p, *a, *e));
                }
            }
        }
        coll_choices.push(v);
    }
    // Cartesian product.
    // (group priorities, per collection (priority, action, exists))
    type Partial = (Vec<u64>, Vec<(u64, Access, bool)>);
    let mut out: Vec<Partial> = vec![(Vec::new(), Vec::new())];
    for g in &group_choices {
        out = out
            .into_iter()
            .flat_map(|(gs, cs)| {
                g.iter().map(move |p| {
                    let mut gs = gs.clone();
                    gs.push(*p);
                    (gs, cs.clone())
                })
            })
            .collect();
    }
    for c in &coll_choices {
        out = out
            .into_iter()
            .flat_map(|(gs, cs)| {
                c.iter().map(move |x| {
                    let mut cs = cs.clone();
                    cs.push(*x);
                    (gs.clone(), cs)
                })
            })
            .collect();
    }
    out.into_iter()
        .map(|(gs, cs)| World {
            colls: fw
                .collections
                .iter()
                .zip(cs)
                .map(|(c, (p, a, e))| {
                    let gp = match &c.group {
                        Some(g) => {
                            let k = group_keys
                                .iter()
                                .position(|(l, n)| *l == c.level && *n == g.name)
                                .unwrap();
                            gs[k]
                        }
                        None => 0,
                    };
                    (gp, p, a, e)
                })
                .collect(),
        })
        .collect()
}

/// The rules that exist in one world, in processing order: (stage,
/// collection, rule, action). Stage 0 holds network rules, 1 application
/// rules.
fn processing_order(fw: &Firewall, world: &World) -> Vec<(u8, usize, usize, Access)> {
    // Sort key: stage, level, group priority, group, collection priority,
    // collection, rule.
    type Key = (u8, u32, u64, usize, u64, usize, usize);
    let mut rules: Vec<(Key, Access)> = Vec::new();
    for (ci, c) in fw.collections.iter().enumerate() {
        let (gp, cp, action, exists) = world.colls[ci];
        if !exists {
            continue;
        }
        let gi = c
            .group
            .as_ref()
            .map(|g| {
                fw.collections
                    .iter()
                    .position(|o| {
                        o.level == c.level && o.group.as_ref().is_some_and(|h| h.name == g.name)
                    })
                    .unwrap()
            })
            .unwrap_or(0);
        for (ri, r) in c.rules.iter().enumerate() {
            let stages: &[u8] = match (r, c.kind) {
                (FwRule::Network(_), _) | (FwRule::Unknown(_), CollectionKind::Network) => &[0],
                (FwRule::Application(_), _) | (FwRule::Unknown(_), CollectionKind::Application) => {
                    &[1]
                }
                (FwRule::Unknown(_), CollectionKind::Unknown) => &[0, 1],
            };
            for s in stages {
                rules.push(((*s, c.level, gp, gi, cp, ci, ri), action));
            }
        }
    }
    rules.sort_by_key(|r| r.0);
    rules.into_iter().map(|(k, a)| (k.0, k.5, k.6, a)).collect()
}

/// How each rule matches one probe, per stage: `[network, application]`.
fn rule_matches(rules: &[Vec<BRule>], q: &Probe<'_>) -> Vec<Vec<[M; 2]>> {
    rules
        .iter()
        .map(|c| c.iter().map(|r| rule_match(r, q)).collect())
        .collect()
}

/// Every outcome of one probe in one world: Some(true) allowed, Some(false)
/// denied, None no rule matched (with `apps`, application rules follow the
/// network rules and the default denies: never None).
fn outcomes(
    order: &[(u8, usize, usize, Access)],
    matches: &[Vec<[M; 2]>],
    apps: bool,
    mut each: impl FnMut(Option<bool>) -> bool,
) {
    // (action, match, bit of a free match)
    let mut rules: Vec<(Access, M, u32)> = Vec::with_capacity(order.len());
    let mut nfree = 0u32;
    for &(s, ci, ri, a) in order {
        if !apps && s != 0 {
            continue;
        }
        let m = matches[ci][ri][usize::from(s)];
        let bit = if m == M::Free {
            nfree += 1;
            1 << (nfree - 1)
        } else {
            0
        };
        rules.push((a, m, bit));
    }
    assert!(nfree <= 12, "too many free matches: {nfree}");
    for bits in 0u32..(1 << nfree) {
        let mut result = None;
        for (action, m, bit) in &rules {
            let matched = match m {
                M::Yes => true,
                M::No => false,
                M::Free => bits & bit != 0,
            };
            if matched {
                result = Some(*action == Access::Allow);
                break;
            }
        }
        let r = if apps {
            Some(result == Some(true))
        } else {
            result
        };
        if !each(r) {
            return;
        }
    }
}

// ---------------------------------------------------------------------------
// Random firewalls.

struct Budget {
    /// Unknown items and rules (each an independent free match).
    free_items: usize,
    /// Unknown priorities, actions, conditions.
    structural: usize,
    group_unknown: bool,
    group_counter: usize,
}

impl Budget {
    fn new() -> Budget {
        Budget {
            free_items: 3,
            structural: 2,
            group_unknown: false,
            group_counter: 0,
        }
    }
    fn take_free(&mut self, rng: &mut Rng, percent: u64) -> bool {
        if self.free_items > 0 && rng.chance(percent) {
            self.free_items -= 1;
            true
        } else {
            false
        }
    }
    fn take_structural(&mut self, rng: &mut Rng, percent: u64) -> bool {
        if self.structural > 0 && rng.chance(percent) {
            self.structural -= 1;
            true
        } else {
            false
        }
    }
}

fn addr_items(
    rng: &mut Rng,
    pool: &[&'static str],
    budget: &mut Budget,
    n: usize,
) -> Vec<Setting<AddrItem>> {
    let mut out = Vec::new();
    for _ in 0..n {
        if budget.take_free(rng, 6) {
            out.push(Setting::Unknown);
        } else if budget.take_free(rng, 6) {
            budget.group_counter += 1;
            out.push(Setting::Known(AddrItem::IpGroup {
                id: format!("{GROUP_ID}g{}", budget.group_counter),
                members: None,
            }));
        } else if rng.chance(5) {
            out.push(Setting::Known(AddrItem::IpGroup {
                id: format!("{GROUP_ID}known"),
                members: Some(AddrSet::parse(KNOWN_GROUP).unwrap()),
            }));
        } else {
            out.push(AddrItem::parse(rng.pick_str(pool)));
        }
    }
    out
}

fn network_rule(rng: &mut Rng, name: String, budget: &mut Budget, fqdns: &[&str]) -> NetworkRule {
    let mut r = NetworkRule::new(&name);
    let ns = 1 + rng.below(2);
    r.sources = addr_items(rng, SOURCE_ITEMS, budget, ns);
    let nd = 1 + rng.below(2);
    r.destinations = addr_items(rng, DEST_ITEMS, budget, nd);
    if !fqdns.is_empty() && budget.take_free(rng, 15) {
        r.destination_fqdns = vec![Setting::Known(rng.pick(fqdns).to_string())];
        if rng.chance(50) {
            r.destinations.clear();
        }
    }
    let np = 1 + rng.below(2);
    r.ports = (0..np)
        .map(|_| {
            if budget.take_free(rng, 5) {
                Setting::Unknown
            } else {
                PortSpec::parse(rng.pick_str(PORT_ITEMS))
            }
        })
        .collect();
    let nq = 1 + rng.below(2);
    r.protocols = (0..nq)
        .map(|_| {
            if budget.take_free(rng, 5) {
                Setting::Unknown
            } else {
                Setting::Known(NetProtocol::parse(rng.pick_str(PROTO_ITEMS)).unwrap())
            }
        })
        .collect();
    r
}

const PATTERNS: &[&str] = &[
    "*",
    "*.contoso.com",
    "*contoso.com",
    "contoso.com",
    "a.contoso.com",
    "*a.contoso.com",
    "*.com",
    "*.blob.core.windows.net",
    "*.core.windows.net",
    "mystorage.blob.core.windows.net",
    "*data.blob.core.windows.net",
    "ml.azure.com",
    "*.batch.azure.com",
    "*.westeurope.batch.azure.com",
    "pypi.org",
    "*.org",
];

/// Hosts and their addresses.
const HOSTS: &[(&str, &str)] = &[
    ("contoso.com", "52.1.1.5"),
    ("a.contoso.com", "52.1.1.200"),
    ("b.a.contoso.com", "52.1.1.200"),
    ("xcontoso.com", "8.8.8.8"),
    ("contoso.org", "52.1.3.3"),
    ("mystorage.blob.core.windows.net", "52.1.2.15"),
    ("evildata.blob.core.windows.net", "52.1.2.15"),
    ("x.queue.core.windows.net", "52.1.2.15"),
    ("ml.azure.com", "10.0.0.17"),
    ("x.westeurope.batch.azure.com", "10.0.0.9"),
    ("pypi.org", "8.8.8.8"),
];

fn app_rule(rng: &mut Rng, name: String, budget: &mut Budget) -> ApplicationRule {
    let mut r = ApplicationRule::new(&name);
    let ns = 1 + rng.below(2);
    r.sources = addr_items(rng, SOURCE_ITEMS, budget, ns);
    let nt = 1 + rng.below(3);
    r.targets = (0..nt)
        .map(|_| {
            if budget.take_free(rng, 5) {
                Setting::Known(AppTarget::FqdnTag("WindowsUpdate".into()))
            } else if budget.take_free(rng, 4) {
                Setting::Unknown
            } else if rng.chance(8) {
                let with_path = budget.take_free(rng, 50);
                let p = rng.pick_str(PATTERNS);
                AppTarget::url(&if with_path {
                    format!("{p}/upload/*")
                } else {
                    p.to_string()
                })
            } else {
                Setting::Known(AppTarget::Fqdn(
                    HostPattern::parse(rng.pick_str(PATTERNS)).unwrap(),
                ))
            }
        })
        .collect();
    let protos = ["Https:443", "Http:80", "Https:8443", "Mssql:1433", "Https"];
    r.protocols = match rng.below(4) {
        0 => Vec::new(),
        _ => (0..1 + rng.below(2))
            .map(|_| Setting::Known(AppPort::parse(rng.pick_str(&protos)).unwrap()))
            .collect(),
    };
    if rng.chance(10) {
        r.destination_addresses = addr_items(rng, DEST_ITEMS, budget, 1);
    }
    r
}

/// A random firewall: classic collections, or a policy with groups on one
/// or two levels (parent and child).
fn random_firewall(rng: &mut Rng, with_apps: bool, fqdns: &[&str]) -> Firewall {
    let mut budget = Budget::new();
    let mut fw = Firewall::new("fw");
    let policy = rng.chance(50);
    let levels = if policy { 1 + rng.below(2) } else { 1 };
    let mut prio_used: HashMap<(u32, String), Vec<u32>> = HashMap::new();
    let ncoll = 1 + rng.below(4);
    let mut groups: Vec<(u32, String, Setting<u32>)> = Vec::new();
    if policy {
        for level in 0..levels {
            let ng = 1 + rng.below(2);
            let mut used = Vec::new();
            for g in 0..ng {
                let mut p = 100 * (1 + rng.below(5) as u32);
                while used.contains(&p) {
                    p += 100;
                }
                used.push(p);
                let prio = if !budget.group_unknown && budget.take_structural(rng, 15) {
                    budget.group_unknown = true;
                    Setting::Unknown
                } else {
                    Setting::Known(p)
                };
                groups.push((level as u32, format!("g{level}{g}"), prio));
            }
        }
    }
    for ci in 0..ncoll {
        let kind = if with_apps && rng.chance(50) {
            CollectionKind::Application
        } else {
            CollectionKind::Network
        };
        let (level, group) = if policy {
            let (l, n, p) = rng.pick(&groups).clone();
            (
                l,
                Some(GroupInfo {
                    name: n,
                    priority: p,
                    policy: Some(format!("p{l}")),
                    prov: None,
                }),
            )
        } else {
            (0, None)
        };
        let key = (
            level,
            group.as_ref().map(|g| g.name.clone()).unwrap_or_default(),
        );
        let used = prio_used.entry(key).or_default();
        let mut p = 100 * (1 + rng.below(6) as u32);
        while used.contains(&p) {
            p += 100;
        }
        used.push(p);
        let priority = if budget.take_structural(rng, 12) {
            Setting::Unknown
        } else {
            Setting::Known(p)
        };
        let action = if budget.take_structural(rng, 8) {
            Setting::Unknown
        } else if rng.chance(50) {
            Setting::Known(Access::Allow)
        } else {
            Setting::Known(Access::Deny)
        };
        let exists = if budget.take_structural(rng, 8) {
            Setting::Unknown
        } else {
            Setting::Known(true)
        };
        let nrules = 1 + rng.below(3);
        let mut rules = Vec::new();
        for ri in 0..nrules {
            let name = format!("r{ci}{ri}");
            if budget.take_free(rng, 3) {
                rules.push(FwRule::Unknown(unknown_part("rules")));
                continue;
            }
            rules.push(match kind {
                CollectionKind::Application => {
                    FwRule::Application(app_rule(rng, name, &mut budget))
                }
                _ => FwRule::Network(network_rule(rng, name, &mut budget, fqdns)),
            });
        }
        fw.collections.push(RuleCollection {
            name: format!("c{ci}"),
            kind,
            priority,
            action,
            group,
            level,
            exists,
            rules,
            unknown: Vec::new(),
            prov: None,
        });
    }
    fw
}

fn source_set() -> AddrSet {
    AddrSet::parse("10.1.0.0/30").unwrap()
}

fn describe(fw: &Firewall) -> String {
    format!("{:#?}", fw.collections)
}

// ---------------------------------------------------------------------------
// The oracles.

/// Packets checked per random firewall.
const PACKETS_PER_CASE: usize = 24;

fn check_network(seed: u64) {
    let mut rng = Rng(seed);
    let fw = random_firewall(&mut rng, false, &[]);
    let stage = fw.network_stage(&source_set(), &Resolver).unwrap();
    let orders: Vec<_> = worlds(&fw)
        .iter()
        .map(|w| processing_order(&fw, w))
        .collect();
    let rules = brute_rules(&fw);
    let sources = SOURCES.map(v4);
    // A sample of the packet grid (every destination, port and protocol of
    // the pools appears across cases).
    for _ in 0..PACKETS_PER_CASE {
        {
            {
                let d = rng.pick_str(&DESTS);
                let port = *rng.pick(&PORTS);
                let proto = *rng.pick(&PROTOS);
                let packet = Packet::new(proto, d.parse::<IpAddr>().unwrap(), port);
                let mut all_allowed = true;
                let mut some_allowed = false;
                let mut all_unmatched = true;
                let mut some_unmatched = false;
                for s in sources {
                    let probe = Probe {
                        source: s,
                        packet: Some(packet),
                        host: None,
                    };
                    let matches = rule_matches(&rules, &probe);
                    for order in &orders {
                        outcomes(order, &matches, false, |r| {
                            all_allowed &= r == Some(true);
                            some_allowed |= r == Some(true);
                            all_unmatched &= r.is_none();
                            some_unmatched |= r.is_none();
                            // Stop once nothing more can change.
                            all_allowed || !some_allowed || all_unmatched || !some_unmatched
                        });
                    }
                }
                let ctx = || format!("packet {packet}, firewall {}", describe(&fw));
                assert_eq!(
                    stage.allowed.surely.contains(&packet),
                    all_allowed,
                    "surely allowed: {}",
                    ctx()
                );
                assert_eq!(
                    stage.allowed.possibly.contains(&packet),
                    some_allowed,
                    "possibly allowed: {}",
                    ctx()
                );
                assert_eq!(
                    stage.unmatched.surely.contains(&packet),
                    all_unmatched,
                    "surely unmatched: {}",
                    ctx()
                );
                assert_eq!(
                    stage.unmatched.possibly.contains(&packet),
                    some_unmatched,
                    "possibly unmatched: {}",
                    ctx()
                );
            }
        }
    }
}

const SERVICES: [Service; 5] = [
    Service {
        protocol: Protocol::Tcp,
        port: 443,
        app: Some(AppProtocol::Https),
    },
    Service {
        protocol: Protocol::Tcp,
        port: 80,
        app: Some(AppProtocol::Http),
    },
    Service {
        protocol: Protocol::Tcp,
        port: 8443,
        app: Some(AppProtocol::Https),
    },
    Service {
        protocol: Protocol::Tcp,
        port: 443,
        app: None,
    },
    Service {
        protocol: Protocol::Udp,
        port: 8050,
        app: None,
    },
];

fn truth_for_host(
    rules: &[Vec<BRule>],
    orders: &[Vec<(u8, usize, usize, Access)>],
    host: &str,
    addr: u32,
    service: Service,
) -> (bool, bool) {
    let host = host.to_ascii_lowercase();
    let mut all = true;
    let mut some = false;
    for s in SOURCES {
        let probe = Probe {
            source: v4(s),
            packet: None,
            host: Some((&host, addr, service)),
        };
        let matches = rule_matches(rules, &probe);
        for order in orders {
            outcomes(order, &matches, true, |r| {
                all &= r == Some(true);
                some |= r == Some(true);
                all || !some
            });
        }
    }
    (all, some)
}

fn check_hosts(seed: u64) {
    let mut rng = Rng(seed);
    let names: Vec<&str> = HOSTS.iter().map(|h| h.0).collect();
    let fw = random_firewall(&mut rng, true, &names);
    let compiled = fw.compile(&source_set(), &Resolver).unwrap();
    let orders: Vec<_> = worlds(&fw)
        .iter()
        .map(|w| processing_order(&fw, w))
        .collect();
    let rules = brute_rules(&fw);
    for _ in 0..4 {
        let (host, addr) = *rng.pick(HOSTS);
        let service = *rng.pick(&SERVICES);
        let a = v4(addr);
        let q = HostQuery::name(host).within(AddrSet::single(IpAddr::V4(a.into())));
        let v = compiled.host_verdict(&q, &service);
        let (all, some) = truth_for_host(&rules, &orders, host, a, service);
        let want = if all {
            Verdict::Allowed
        } else if some {
            Verdict::Unknown
        } else {
            Verdict::Denied
        };
        assert_eq!(
            v.verdict,
            want,
            "host {host} {service:?}: {}",
            describe(&fw)
        );
        if v.verdict != Verdict::Denied {
            assert_eq!(v.host.as_deref(), Some(host));
        }
    }
}

/// Fresh hosts: the verdict agrees with the brute force on the host it
/// shows, and a denial holds for every candidate name under the suffix.
fn check_fresh(seed: u64) {
    let mut rng = Rng(seed);
    let fw = random_firewall(&mut rng, true, &["pypi.org", "contoso.com"]);
    let compiled = fw.compile(&source_set(), &Resolver).unwrap();
    let orders: Vec<_> = worlds(&fw)
        .iter()
        .map(|w| processing_order(&fw, w))
        .collect();
    let rules = brute_rules(&fw);
    let suffix = *rng.pick(&[
        "contoso.com",
        "blob.core.windows.net",
        "",
        "batch.azure.com",
        "com",
    ]);
    let addr = v4(rng.pick_str(&DESTS));
    let service = *rng.pick(&SERVICES[..3]);
    let q = HostQuery::fresh_under(suffix).within(AddrSet::single(IpAddr::V4(addr.into())));
    let v = compiled.host_verdict(&q, &service);
    let shown = v.host.clone().unwrap();
    let dotted = if suffix.is_empty() {
        String::new()
    } else {
        format!(".{suffix}")
    };
    assert!(shown.ends_with(&dotted), "{shown} under {suffix}");
    let (all, some) = truth_for_host(&rules, &orders, &shown, addr, service);
    match v.verdict {
        Verdict::Allowed => assert!(
            all,
            "{shown} (suffix {suffix:?}, {addr}, {service:?}, {v:?}): {}",
            describe(&fw)
        ),
        Verdict::Unknown => assert!(some, "{shown}: {}", describe(&fw)),
        Verdict::Denied => {
            // Names an insider could pick: fresh labels, and labels ending
            // with what the patterns name.
            let mut candidates = vec![format!("q7x{dotted}"), format!("zz9{dotted}")];
            for p in PATTERNS {
                if let Some(tail) = p.strip_prefix('*')
                    && tail.ends_with(&dotted)
                    && tail.len() > dotted.len()
                {
                    candidates.push(format!("k3{tail}"));
                }
            }
            for c in candidates {
                let (_, some) = truth_for_host(&rules, &orders, &c, addr, service);
                assert!(
                    !some,
                    "{c} under {suffix} may be allowed: {}",
                    describe(&fw)
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]
    #[test]
    fn network_rules_match_brute_force(seed in any::<u64>()) {
        check_network(seed);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 5000, ..ProptestConfig::default() })]
    #[test]
    fn host_verdicts_match_brute_force(seed in any::<u64>()) {
        check_hosts(seed);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]
    #[test]
    fn fresh_host_verdicts_agree_with_brute_force(seed in any::<u64>()) {
        check_fresh(seed);
    }
}

#[test]
fn fresh_host_regression_seeds() {
    check_fresh(5041245735052951275);
}
