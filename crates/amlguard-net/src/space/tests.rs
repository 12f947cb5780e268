//! The set algebra against a brute-force model.
//!
//! Sets are built from boxes whose ends are drawn from a short list of values
//! per axis (including both ends of each axis). Membership of such a set is
//! constant between two consecutive listed values, so checking every listed
//! value and its neighbours decides equality exactly: the brute-force model is
//! the set of those "witness" points that are members.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::*;

const PROTOS: &[u8] = &[0, 1, 6, 17, 254, 255];
const V4: &[u32] = &[
    0,
    0x0A00_0000,
    0x0A00_0005,
    0x0A00_00FF,
    u32::MAX - 1,
    u32::MAX,
];
const V6: &[u128] = &[0, 1, 1 << 127, u128::MAX - 1, u128::MAX];
const PORTS: &[u16] = &[0, 1, 80, 443, 65534, 65535];

/// The listed values and their neighbours.
fn witnesses<T: Copy + Ord>(
    list: &[T],
    succ: fn(T) -> Option<T>,
    pred: fn(T) -> Option<T>,
) -> Vec<T> {
    let mut out = BTreeSet::new();
    for &v in list {
        out.insert(v);
        if let Some(s) = succ(v) {
            out.insert(s);
        }
        if let Some(p) = pred(v) {
            out.insert(p);
        }
    }
    out.into_iter().collect()
}

fn witness_packets() -> Vec<Packet> {
    let protos = witnesses(PROTOS, |v| v.checked_add(1), |v| v.checked_sub(1));
    let v4 = witnesses(V4, |v| v.checked_add(1), |v| v.checked_sub(1));
    let v6 = witnesses(V6, |v| v.checked_add(1), |v| v.checked_sub(1));
    let ports = witnesses(PORTS, |v| v.checked_add(1), |v| v.checked_sub(1));
    let addrs: Vec<IpAddr> = v4
        .iter()
        .map(|&a| IpAddr::V4(Ipv4Addr::from(a)))
        .chain(v6.iter().map(|&a| IpAddr::V6(Ipv6Addr::from(a))))
        .collect();
    let mut out = Vec::new();
    for &p in &protos {
        for &a in &addrs {
            for &port in &ports {
                out.push(Packet::new(Protocol::from_number(p), a, port));
            }
        }
    }
    out
}

fn range<T: Copy + Ord + std::fmt::Debug + 'static>(
    list: &'static [T],
) -> impl Strategy<Value = (T, T)> {
    (0..list.len(), 0..list.len()).prop_map(move |(i, j)| {
        let (a, b) = (list[i], list[j]);
        (a.min(b), a.max(b))
    })
}

fn addr_box() -> impl Strategy<Value = AddrSet> {
    prop_oneof![
        range(V4).prop_map(|(lo, hi)| AddrSet::v4_range(Ipv4Addr::from(lo), Ipv4Addr::from(hi))),
        range(V6).prop_map(|(lo, hi)| AddrSet::v6_range(Ipv6Addr::from(lo), Ipv6Addr::from(hi))),
    ]
}

fn packet_box() -> impl Strategy<Value = PacketSet> {
    (range(PROTOS), addr_box(), range(PORTS)).prop_map(|((plo, phi), a, (lo, hi))| {
        let protos: Vec<Protocol> = (plo..=phi).map(Protocol::from_number).collect();
        PacketSet::product(&ProtoSet::of(&protos), &a, &PortSet::range(lo, hi))
    })
}

fn packet_set() -> impl Strategy<Value = PacketSet> {
    prop_oneof![
        1 => Just(PacketSet::empty()),
        1 => Just(PacketSet::universe()),
        8 => prop::collection::vec(packet_box(), 1..6).prop_map(|bs| PacketSet::union_all(&bs)),
    ]
}

fn model(s: &PacketSet, points: &[Packet]) -> BTreeSet<usize> {
    points
        .iter()
        .enumerate()
        .filter(|(_, p)| s.contains(p))
        .map(|(i, _)| i)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn operations_match_brute_force(a in packet_set(), b in packet_set()) {
        let points = witness_packets();
        let (ma, mb) = (model(&a, &points), model(&b, &points));
        let all: BTreeSet<usize> = (0..points.len()).collect();
        let u = a.union(&b);
        let i = a.intersection(&b);
        let d = a.difference(&b);
        let c = a.complement();
        for s in [&a, &b, &u, &i, &d, &c] {
            prop_assert!(s.is_canonical());
        }
        prop_assert_eq!(model(&u, &points), ma.union(&mb).copied().collect::<BTreeSet<_>>());
        prop_assert_eq!(model(&i, &points), ma.intersection(&mb).copied().collect::<BTreeSet<_>>());
        prop_assert_eq!(model(&d, &points), ma.difference(&mb).copied().collect::<BTreeSet<_>>());
        prop_assert_eq!(model(&c, &points), all.difference(&ma).copied().collect::<BTreeSet<_>>());
        prop_assert_eq!(a.is_empty(), ma.is_empty());
        prop_assert_eq!(a.intersects(&b), !ma.is_disjoint(&mb));
        prop_assert_eq!(a.first_common(&b), i.sample());
        prop_assert_eq!(a.is_subset(&b), ma.is_subset(&mb));
        // Canonical form: equal sets are equal values, and only they.
        prop_assert_eq!(a == b, ma == mb);
    }

    #[test]
    fn first_match_matches_brute_force(rules in prop::collection::vec((any::<bool>(), packet_set()), 0..7)) {
        let points = witness_packets();
        let list: Vec<(bool, &PacketSet)> = rules.iter().map(|(a, s)| (*a, s)).collect();
        let got = first_match(&list);
        prop_assert!(got.is_canonical());
        // Each witness packet: the first rule containing it decides.
        let want: BTreeSet<usize> = points
            .iter()
            .enumerate()
            .filter(|(_, p)| rules.iter().find(|(_, s)| s.contains(p)).is_some_and(|(a, _)| *a))
            .map(|(i, _)| i)
            .collect();
        prop_assert_eq!(model(&got, &points), want);
    }

    #[test]
    fn first_common3_is_the_first_of_the_intersection(a in packet_set(), b in packet_set(), c in packet_set()) {
        prop_assert_eq!(
            PacketSet::first_common3(&a, &b, &c),
            a.intersection(&b).intersection(&c).sample()
        );
    }

    #[test]
    fn laws_hold_structurally(a in packet_set(), b in packet_set(), c in packet_set()) {
        prop_assert_eq!(a.union(&b), b.union(&a));
        prop_assert_eq!(a.intersection(&b), b.intersection(&a));
        prop_assert_eq!(a.union(&b).union(&c), a.union(&b.union(&c)));
        prop_assert_eq!(a.intersection(&b.union(&c)), a.intersection(&b).union(&a.intersection(&c)));
        prop_assert_eq!(a.difference(&b).union(&a.intersection(&b)), a.clone());
        prop_assert_eq!(a.complement().complement(), a.clone());
        prop_assert_eq!(a.union(&a.complement()), PacketSet::universe());
        prop_assert!(a.intersection(&a.complement()).is_empty());
        prop_assert_eq!(a.union(&b).complement(), a.complement().intersection(&b.complement()));
        prop_assert_eq!(a.difference(&b), a.intersection(&b.complement()));
    }

    #[test]
    fn boxes_rebuild_the_set(a in packet_set()) {
        let mut rebuilt = PacketSet::empty();
        let mut seen: Vec<PacketSet> = Vec::new();
        for bx in a.boxes() {
            let protos: Vec<Protocol> = (bx.protocols.0..=bx.protocols.1).map(Protocol::from_number).collect();
            let addrs = match bx.addresses {
                AddrRange::V4(lo, hi) => AddrSet::v4_range(lo, hi),
                AddrRange::V6(lo, hi) => AddrSet::v6_range(lo, hi),
            };
            let one = PacketSet::product(&ProtoSet::of(&protos), &addrs, &PortSet::range(bx.ports.0, bx.ports.1));
            // Boxes are disjoint.
            for s in &seen {
                prop_assert!(!s.intersects(&one));
            }
            seen.push(one.clone());
            rebuilt = rebuilt.union(&one);
        }
        prop_assert_eq!(a.box_count(), seen.len());
        prop_assert_eq!(rebuilt, a);
    }

    #[test]
    fn cidrs_cover_a_range_exactly(lo in any::<u32>(), hi in any::<u32>(), lo6 in any::<u128>(), len in 0u32..128) {
        let (lo, hi) = (lo.min(hi), lo.max(hi));
        let r = AddrSet::v4_range(Ipv4Addr::from(lo), Ipv4Addr::from(hi));
        let cidrs = r.to_cidrs();
        prop_assert!(cidrs.len() <= 62);
        let back = AddrSet::from_prefixes(cidrs.iter().map(String::as_str)).unwrap();
        prop_assert_eq!(back, r);
        let hi6 = lo6.saturating_add(u128::MAX >> len);
        let r6 = AddrSet::v6_range(Ipv6Addr::from(lo6), Ipv6Addr::from(hi6));
        let back6 = AddrSet::from_prefixes(r6.to_cidrs().iter().map(String::as_str)).unwrap();
        prop_assert_eq!(back6, r6);
    }

    #[test]
    fn port_sets_match_brute_force(xs in prop::collection::vec((0u16..40, 0u16..40), 0..6), ys in prop::collection::vec((0u16..40, 0u16..40), 0..6)) {
        let set = |v: &Vec<(u16, u16)>| PortSet::from_ranges(v.iter().map(|&(a, b)| (a.min(b), a.max(b))));
        let brute = |v: &Vec<(u16, u16)>| -> BTreeSet<u16> {
            v.iter().flat_map(|&(a, b)| a.min(b)..=a.max(b)).collect()
        };
        let (a, b) = (set(&xs), set(&ys));
        let (ma, mb) = (brute(&xs), brute(&ys));
        let members = |s: &PortSet| -> BTreeSet<u16> { (0u16..=41).filter(|p| s.contains(*p)).collect() };
        prop_assert_eq!(members(&a.union(&b)), ma.union(&mb).copied().collect::<BTreeSet<_>>());
        prop_assert_eq!(members(&a.intersection(&b)), ma.intersection(&mb).copied().collect::<BTreeSet<_>>());
        prop_assert_eq!(members(&a.difference(&b)), ma.difference(&mb).copied().collect::<BTreeSet<_>>());
        prop_assert_eq!(a == b, ma == mb);
        prop_assert!(a.union(&b).is_canonical() && a.difference(&b).is_canonical());
        prop_assert!(a.complement().contains(65535) != ma.contains(&65535));
    }
}

#[test]
fn parses_prefixes_and_addresses() {
    let s = AddrSet::parse("10.0.0.5/24").unwrap();
    assert_eq!(s, AddrSet::parse("10.0.0.0/24").unwrap());
    assert!(s.contains("10.0.0.255".parse().unwrap()));
    assert!(!s.contains("10.0.1.0".parse().unwrap()));
    assert_eq!(AddrSet::parse("0.0.0.0/0").unwrap(), AddrSet::all_v4());
    assert_eq!(AddrSet::parse("::/0").unwrap(), AddrSet::all_v6());
    assert_eq!(
        AddrSet::parse(" 2001:db8::/32 ").unwrap().to_cidrs(),
        vec!["2001:db8::/32"]
    );
    assert_eq!(
        AddrSet::parse("192.168.1.1").unwrap().to_cidrs(),
        vec!["192.168.1.1/32"]
    );
    for bad in [
        "",
        "10.0.0.0/33",
        "::/129",
        "10.0.0/8",
        "Storage",
        "10.0.0.0/",
        "10.0.0.0/-1",
        "300.0.0.0",
    ] {
        assert!(AddrSet::parse(bad).is_err(), "{bad}");
    }
    let merged = AddrSet::from_prefixes(["10.0.0.0/25", "10.0.0.128/25", "10.0.0.7"]).unwrap();
    assert_eq!(merged.to_cidrs(), vec!["10.0.0.0/24"]);
    assert_eq!(merged.range_count(), 1);
}

#[test]
fn displays_sets() {
    let tcp = ProtoSet::single(Protocol::Tcp);
    let a = AddrSet::parse("10.0.0.0/24").unwrap();
    let s = PacketSet::product(&tcp, &a, &PortSet::from_ranges([(443, 443), (8000, 8010)]));
    assert_eq!(s.to_string(), "TCP 10.0.0.0/24 443,8000-8010");
    assert_eq!(PacketSet::universe().to_string(), "(everything)");
    assert_eq!(PacketSet::empty().to_string(), "(nothing)");
    let odd = AddrSet::v4_range("10.0.0.1".parse().unwrap(), "10.0.0.6".parse().unwrap());
    assert_eq!(odd.to_string(), "10.0.0.1-10.0.0.6");
    assert_eq!(
        odd.to_cidrs(),
        vec!["10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32"]
    );
    assert_eq!(
        ProtoSet::of(&[Protocol::Udp, Protocol::Tcp]).to_string(),
        "TCP,UDP"
    );
    assert_eq!(ProtoSet::all().to_string(), "*");
    assert_eq!(PortSet::all().to_string(), "*");
    assert_eq!(
        Packet::new(Protocol::Tcp, Ipv6Addr::LOCALHOST, 443).to_string(),
        "TCP [::1]:443"
    );
}

#[test]
fn protocols_compare_by_number() {
    assert_eq!(Protocol::Other(6), Protocol::Tcp);
    assert_eq!(Protocol::from_number(51), Protocol::Ah);
    assert_eq!(Protocol::Other(47).to_string(), "protocol 47");
    assert!(ProtoSet::single(Protocol::Other(17)).contains(Protocol::Udp));
}

#[test]
fn projections() {
    let a = AddrSet::parse("10.0.0.0/24").unwrap();
    let b = AddrSet::parse("10.0.1.0/24").unwrap();
    // Touching address ranges with different port sets: the projection merges them.
    let s = PacketSet::product(&ProtoSet::single(Protocol::Tcp), &a, &PortSet::single(80))
        .union(&PacketSet::product(
            &ProtoSet::single(Protocol::Udp),
            &b,
            &PortSet::single(53),
        ))
        .union(&PacketSet::product(
            &ProtoSet::single(Protocol::Tcp),
            &b,
            &PortSet::single(81),
        ));
    let both = a.union(&b);
    assert_eq!(s.addresses(), both);
    assert_eq!(s.addresses().to_cidrs(), vec!["10.0.0.0/23"]);
    assert!(s.addresses().is_canonical());
    assert_eq!(s.protocols(), ProtoSet::of(&[Protocol::Tcp, Protocol::Udp]));
    assert!(s.protocols().is_canonical());
    let tcp = PacketSet::product(
        &ProtoSet::of(&[Protocol::Tcp]),
        &AddrSet::all(),
        &PortSet::all(),
    );
    let other = PacketSet::product(
        &ProtoSet::of(&[Protocol::Other(7)]),
        &AddrSet::all(),
        &PortSet::all(),
    );
    assert_eq!(tcp.union(&other).protocols().to_string(), "protocols 6-7");
    assert!(tcp.union(&other).protocols().contains(Protocol::Other(7)));
}
