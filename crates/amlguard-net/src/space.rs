//! Exact sets of packets.
//!
//! A packet, for the questions amlguard asks, is a protocol, a destination
//! address and a destination port. The universe is every IP protocol number
//! (0–255) × every IPv4 and every IPv6 address (the two families are kept
//! apart, as `u32` and `u128` intervals) × every port (0–65535).
//!
//! A [`PacketSet`] is stored as nested interval maps: protocol intervals, each
//! carrying an address set per family, whose intervals each carry a port set.
//! Every leaf is a box (protocol range × address range × port range); boxes are
//! disjoint, and the layout is canonical (see `imap`), so two sets are equal
//! exactly when their representations are, and `==` and `Hash` are set
//! equality. Union, intersection and difference are one linear sweep per level.
//!
//! The port axis is kept for every protocol, including those without ports
//! (ICMP, ESP, AH): a rule's port condition is applied to them like to any
//! other, and a caller asking about such a packet picks a nominal port.

mod imap;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use imap::{
    FirstMatch, Full, IMap, Lattice, Op, TopSet, apply, first_of_three, one_sided, overlaps,
};

/// An IP protocol. Named variants for the protocols NSG rules name; any other by number.
#[derive(Clone, Copy, Debug)]
pub enum Protocol {
    Tcp,
    Udp,
    Icmp,
    Esp,
    Ah,
    /// Any other protocol number (a named protocol given by number is the same protocol).
    Other(u8),
}

impl Protocol {
    /// The IANA protocol number.
    pub fn number(self) -> u8 {
        match self {
            Protocol::Icmp => 1,
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Esp => 50,
            Protocol::Ah => 51,
            Protocol::Other(n) => n,
        }
    }

    /// The protocol with this number, named when it has a name here.
    pub fn from_number(n: u8) -> Protocol {
        match n {
            1 => Protocol::Icmp,
            6 => Protocol::Tcp,
            17 => Protocol::Udp,
            50 => Protocol::Esp,
            51 => Protocol::Ah,
            n => Protocol::Other(n),
        }
    }
}

impl PartialEq for Protocol {
    fn eq(&self, other: &Self) -> bool {
        self.number() == other.number()
    }
}
impl Eq for Protocol {}
impl std::hash::Hash for Protocol {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.number().hash(state);
    }
}
impl PartialOrd for Protocol {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Protocol {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.number().cmp(&other.number())
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Protocol::from_number(self.number()) {
            Protocol::Tcp => f.write_str("TCP"),
            Protocol::Udp => f.write_str("UDP"),
            Protocol::Icmp => f.write_str("ICMP"),
            Protocol::Esp => f.write_str("ESP"),
            Protocol::Ah => f.write_str("AH"),
            Protocol::Other(n) => write!(f, "protocol {n}"),
        }
    }
}

/// One packet: what a set is asked about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Packet {
    pub protocol: Protocol,
    pub destination: IpAddr,
    pub port: u16,
}

impl Packet {
    pub fn new(protocol: Protocol, destination: impl Into<IpAddr>, port: u16) -> Packet {
        Packet {
            protocol,
            destination: destination.into(),
            port,
        }
    }
}

impl fmt::Display for Packet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.destination {
            IpAddr::V4(a) => write!(f, "{} {a}:{}", self.protocol, self.port),
            IpAddr::V6(a) => write!(f, "{} [{a}]:{}", self.protocol, self.port),
        }
    }
}

// ---------------------------------------------------------------------------
// The address axis: two families side by side.

/// Addresses of both families, each with what lies over them.
///
/// A further family (e.g. symbolic service-tag atoms, see the crate docs)
/// would be one more field here and one more line in each method.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Fam<V> {
    v4: IMap<u32, V>,
    v6: IMap<u128, V>,
}

impl Fam<Full> {
    fn with_value<W: Lattice>(&self, val: &W) -> Fam<W> {
        Fam {
            v4: self.v4.with_value(val),
            v6: self.v6.with_value(val),
        }
    }
}

impl<V: Lattice> Lattice for Fam<V> {
    fn combine(op: Op, a: Option<&Self>, b: Option<&Self>) -> Option<Self> {
        match one_sided(op, a, b) {
            Ok(done) => done,
            Err((a, b)) => {
                let out = Fam {
                    v4: apply(op, &a.v4, &b.v4),
                    v6: apply(op, &a.v6, &b.v6),
                };
                (!out.is_nothing()).then_some(out)
            }
        }
    }
    fn full() -> Self {
        Fam {
            v4: IMap::full(),
            v6: IMap::full(),
        }
    }
    fn meets(&self, other: &Self) -> bool {
        self.v4.meets(&other.v4) || self.v6.meets(&other.v6)
    }
    fn is_nothing(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }
    #[cfg(test)]
    fn canonical(&self) -> bool {
        self.v4.canonical() && self.v6.canonical()
    }
}

impl<V: FirstMatch> FirstMatch for Fam<V> {
    const DEPTH: usize = V::DEPTH + 1;
    fn is_whole(&self) -> bool {
        self.v4.is_whole() && self.v6.is_whole()
    }
    fn ident(&self) -> Option<(usize, usize)> {
        let (v4, _) = self.v4.ident()?;
        let (v6, _) = self.v6.ident()?;
        Some((v4, v6))
    }
    fn first_match(rules: &[(bool, &Self)]) -> Option<Self> {
        let v4: Vec<_> = rules.iter().map(|(a, f)| (*a, &f.v4)).collect();
        let v6: Vec<_> = rules.iter().map(|(a, f)| (*a, &f.v6)).collect();
        let out = Fam {
            v4: IMap::first_match(&v4).unwrap_or_else(IMap::empty),
            v6: IMap::first_match(&v6).unwrap_or_else(IMap::empty),
        };
        (!out.is_nothing()).then_some(out)
    }
}

impl<V: Lattice> TopSet for Fam<V> {
    fn nothing() -> Self {
        Fam {
            v4: IMap::empty(),
            v6: IMap::empty(),
        }
    }
}

// ---------------------------------------------------------------------------
// The public sets.

macro_rules! set_ops {
    ($t:ident) => {
        impl $t {
            /// The empty set.
            pub fn empty() -> Self {
                $t(TopSet::nothing())
            }
            /// Everything on this set's axes.
            pub fn all() -> Self {
                $t(Lattice::full())
            }
            pub fn is_empty(&self) -> bool {
                self.0.is_nothing()
            }
            /// Whether this is everything on this set's axes.
            pub fn is_all(&self) -> bool {
                *self == Self::all()
            }
            pub fn union(&self, other: &Self) -> Self {
                $t(apply(Op::Union, &self.0, &other.0))
            }
            pub fn intersection(&self, other: &Self) -> Self {
                $t(apply(Op::Intersection, &self.0, &other.0))
            }
            /// `self` less `other`.
            pub fn difference(&self, other: &Self) -> Self {
                $t(apply(Op::Difference, &self.0, &other.0))
            }
            /// Everything on this set's axes that is not in `self`.
            pub fn complement(&self) -> Self {
                Self::all().difference(self)
            }
            pub fn is_subset(&self, other: &Self) -> bool {
                self.difference(other).is_empty()
            }
            /// Whether the sets share a point (without building their
            /// intersection; stops at the first one).
            pub fn intersects(&self, other: &Self) -> bool {
                self.0.meets(&other.0)
            }
            /// The union of many sets.
            /// Pairwise, as a balanced tree: the work grows with the total
            /// size times the logarithm of the count, not with their product.
            pub fn union_all<'a>(sets: impl IntoIterator<Item = &'a Self>) -> Self {
                let mut level: Vec<Self> = Vec::new();
                let mut pending: Option<&'a Self> = None;
                for s in sets {
                    match pending.take() {
                        Some(p) => level.push(p.union(s)),
                        None => pending = Some(s),
                    }
                }
                if let Some(p) = pending {
                    level.push(p.clone());
                }
                while level.len() > 1 {
                    let mut next = Vec::with_capacity(level.len() / 2 + 1);
                    let mut it = level.into_iter();
                    while let Some(a) = it.next() {
                        match it.next() {
                            Some(b) => next.push(a.union(&b)),
                            None => next.push(a),
                        }
                    }
                    level = next;
                }
                level.pop().unwrap_or_else(Self::empty)
            }
            #[cfg(test)]
            pub(crate) fn is_canonical(&self) -> bool {
                self.0.canonical()
            }
        }

        impl Default for $t {
            fn default() -> Self {
                Self::empty()
            }
        }

        impl Cuttable for $t {
            fn meet(&self, other: &Self) -> Self {
                self.intersection(other)
            }
            fn minus(&self, other: &Self) -> Self {
                self.difference(other)
            }
            fn is_none(&self) -> bool {
                self.is_empty()
            }
            fn is_whole(&self) -> bool {
                self.is_all()
            }
        }
    };
}

/// A set that [`atoms`] can cut.
pub(crate) trait Cuttable: Clone + Eq + std::hash::Hash {
    fn meet(&self, other: &Self) -> Self;
    fn minus(&self, other: &Self) -> Self;
    fn is_none(&self) -> bool;
    fn is_whole(&self) -> bool;
}

/// Splits `base` into the coarsest parts that each lie wholly inside or
/// wholly outside every cut. `None` when that takes more than `cap` parts.
pub(crate) fn atoms<R: Cuttable>(base: &R, cuts: &[&R], cap: usize) -> Option<Vec<R>> {
    if base.is_none() {
        return Some(Vec::new());
    }
    let mut seen: std::collections::HashSet<&R> = std::collections::HashSet::new();
    let mut parts = vec![base.clone()];
    for cut in cuts {
        if cut.is_none() || cut.is_whole() || !seen.insert(*cut) {
            continue;
        }
        let mut next = Vec::with_capacity(parts.len() + 1);
        for p in parts {
            let inside = p.meet(cut);
            if inside.is_none() {
                next.push(p);
                continue;
            }
            let outside = p.minus(cut);
            next.push(inside);
            if !outside.is_none() {
                next.push(outside);
            }
        }
        if next.len() > cap {
            return None;
        }
        parts = next;
    }
    Some(parts)
}

/// A set of destination ports.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PortSet(IMap<u16, Full>);
set_ops!(PortSet);

impl PortSet {
    /// The ports `lo..=hi` (empty when `lo > hi`).
    pub fn range(lo: u16, hi: u16) -> PortSet {
        PortSet(IMap::from_intervals(vec![(lo, hi)], &Full))
    }
    pub fn single(port: u16) -> PortSet {
        PortSet::range(port, port)
    }
    /// The union of the given inclusive ranges.
    pub fn from_ranges(ranges: impl IntoIterator<Item = (u16, u16)>) -> PortSet {
        PortSet(IMap::from_intervals(ranges.into_iter().collect(), &Full))
    }
    pub fn contains(&self, port: u16) -> bool {
        self.0.get(port).is_some()
    }
    /// The disjoint, maximal ranges, in order.
    pub fn ranges(&self) -> impl Iterator<Item = (u16, u16)> + '_ {
        self.0.segs().iter().map(|s| (s.lo, s.hi))
    }
}

impl fmt::Display for PortSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_all() {
            return f.write_str("*");
        }
        if self.is_empty() {
            return f.write_str("(no port)");
        }
        let mut first = true;
        for (lo, hi) in self.ranges() {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            if lo == hi {
                write!(f, "{lo}")?;
            } else {
                write!(f, "{lo}-{hi}")?;
            }
        }
        Ok(())
    }
}

/// A set of IP protocols.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProtoSet(IMap<u8, Full>);
set_ops!(ProtoSet);

impl ProtoSet {
    pub fn single(p: Protocol) -> ProtoSet {
        ProtoSet::of(&[p])
    }
    pub fn of(ps: &[Protocol]) -> ProtoSet {
        ProtoSet(IMap::from_intervals(
            ps.iter().map(|p| (p.number(), p.number())).collect(),
            &Full,
        ))
    }
    pub fn contains(&self, p: Protocol) -> bool {
        self.0.get(p.number()).is_some()
    }
    /// The disjoint, maximal ranges of protocol numbers, in order.
    pub fn ranges(&self) -> impl Iterator<Item = (u8, u8)> + '_ {
        self.0.segs().iter().map(|s| (s.lo, s.hi))
    }
}

impl fmt::Display for ProtoSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_protocols(f, self.ranges(), self.is_all())
    }
}

fn write_protocols(
    f: &mut fmt::Formatter<'_>,
    ranges: impl Iterator<Item = (u8, u8)>,
    all: bool,
) -> fmt::Result {
    if all {
        return f.write_str("*");
    }
    let mut first = true;
    for (lo, hi) in ranges {
        if !first {
            f.write_str(",")?;
        }
        first = false;
        if lo == hi {
            write!(f, "{}", Protocol::from_number(lo))?;
        } else {
            write!(f, "protocols {lo}-{hi}")?;
        }
    }
    if first {
        f.write_str("(no protocol)")?;
    }
    Ok(())
}

/// A range of addresses of one family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AddrRange {
    V4(Ipv4Addr, Ipv4Addr),
    V6(Ipv6Addr, Ipv6Addr),
}

impl AddrRange {
    /// The prefixes that exactly cover the range, in order.
    pub fn cidrs(&self) -> Vec<String> {
        match *self {
            AddrRange::V4(lo, hi) => {
                cover(u128::from(u32::from(lo)), u128::from(u32::from(hi)), 32)
                    .into_iter()
                    .map(|(a, len)| {
                        // `cover` stays within the 32-bit range it was given.
                        let a = u32::try_from(a).unwrap_or(u32::MAX);
                        format!("{}/{len}", Ipv4Addr::from(a))
                    })
                    .collect()
            }
            AddrRange::V6(lo, hi) => cover(u128::from(lo), u128::from(hi), 128)
                .into_iter()
                .map(|(a, len)| format!("{}/{len}", Ipv6Addr::from(a)))
                .collect(),
        }
    }
}

/// The smallest list of aligned blocks covering `[lo, hi]` in a `bits`-bit space.
fn cover(mut lo: u128, hi: u128, bits: u32) -> Vec<(u128, u32)> {
    let mut out = Vec::new();
    loop {
        // The largest block aligned at `lo` that stays within `hi`.
        let align = if lo == 0 {
            bits
        } else {
            lo.trailing_zeros().min(bits)
        };
        let room = match (hi - lo).checked_add(1) {
            // `hi - lo + 1` overflows only for the whole 128-bit space.
            None => 128,
            Some(n) => 127 - n.leading_zeros(),
        };
        let size = align.min(room);
        out.push((lo, bits - size));
        let step = 1u128.checked_shl(size).unwrap_or(0);
        match lo.checked_add(step) {
            Some(next) if step != 0 && next <= hi && next > lo => lo = next,
            _ => break,
        }
    }
    out
}

impl fmt::Display for AddrRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cidrs = self.cidrs();
        if let [one] = cidrs.as_slice() {
            return f.write_str(one);
        }
        match self {
            AddrRange::V4(lo, hi) => write!(f, "{lo}-{hi}"),
            AddrRange::V6(lo, hi) => write!(f, "{lo}-{hi}"),
        }
    }
}

/// A text that is not an IP address or CIDR prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrefixError {
    pub text: String,
}

impl fmt::Display for PrefixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` is not an IP address or CIDR prefix", self.text)
    }
}

impl std::error::Error for PrefixError {}

/// One parsed prefix, as an interval of its family.
#[derive(Clone, Copy, Debug)]
enum Interval {
    V4(u32, u32),
    V6(u128, u128),
}

/// Parses `a.b.c.d`, `a.b.c.d/n`, an IPv6 address, or an IPv6 prefix. Host
/// bits below the prefix length are ignored (`10.0.0.5/24` is `10.0.0.0/24`).
fn parse_interval(text: &str) -> Result<Interval, PrefixError> {
    let err = || PrefixError {
        text: text.to_string(),
    };
    let t = text.trim();
    let (addr, len) = match t.split_once('/') {
        Some((a, l)) => (a, Some(l.parse::<u32>().map_err(|_| err())?)),
        None => (t, None),
    };
    match addr.parse::<IpAddr>().map_err(|_| err())? {
        IpAddr::V4(a) => {
            let len = len.unwrap_or(32);
            if len > 32 {
                return Err(err());
            }
            let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
            let lo = u32::from(a) & mask;
            Ok(Interval::V4(lo, lo | !mask))
        }
        IpAddr::V6(a) => {
            let len = len.unwrap_or(128);
            if len > 128 {
                return Err(err());
            }
            let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
            let lo = u128::from(a) & mask;
            Ok(Interval::V6(lo, lo | !mask))
        }
    }
}

/// A set of destination addresses, IPv4 and IPv6.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AddrSet(Fam<Full>);
set_ops!(AddrSet);

impl AddrSet {
    /// Every IPv4 address.
    pub fn all_v4() -> AddrSet {
        AddrSet(Fam {
            v4: IMap::full(),
            v6: IMap::empty(),
        })
    }
    /// Every IPv6 address.
    pub fn all_v6() -> AddrSet {
        AddrSet(Fam {
            v4: IMap::empty(),
            v6: IMap::full(),
        })
    }
    /// One address.
    pub fn single(a: IpAddr) -> AddrSet {
        match a {
            IpAddr::V4(a) => AddrSet::v4_range(a, a),
            IpAddr::V6(a) => AddrSet::v6_range(a, a),
        }
    }
    /// The IPv4 addresses `lo..=hi`.
    pub fn v4_range(lo: Ipv4Addr, hi: Ipv4Addr) -> AddrSet {
        AddrSet(Fam {
            v4: IMap::from_intervals(vec![(u32::from(lo), u32::from(hi))], &Full),
            v6: IMap::empty(),
        })
    }
    /// The IPv6 addresses `lo..=hi`.
    pub fn v6_range(lo: Ipv6Addr, hi: Ipv6Addr) -> AddrSet {
        AddrSet(Fam {
            v4: IMap::empty(),
            v6: IMap::from_intervals(vec![(u128::from(lo), u128::from(hi))], &Full),
        })
    }
    /// One address or CIDR prefix, IPv4 or IPv6.
    pub fn parse(text: &str) -> Result<AddrSet, PrefixError> {
        AddrSet::from_prefixes([text])
    }
    /// The union of many addresses or prefixes (sorted and merged once, so a
    /// list of thousands costs one sort).
    pub fn from_prefixes<'a>(
        texts: impl IntoIterator<Item = &'a str>,
    ) -> Result<AddrSet, PrefixError> {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for t in texts {
            match parse_interval(t)? {
                Interval::V4(lo, hi) => v4.push((lo, hi)),
                Interval::V6(lo, hi) => v6.push((lo, hi)),
            }
        }
        Ok(AddrSet(Fam {
            v4: IMap::from_intervals(v4, &Full),
            v6: IMap::from_intervals(v6, &Full),
        }))
    }
    pub fn contains(&self, a: IpAddr) -> bool {
        match a {
            IpAddr::V4(a) => self.0.v4.get(u32::from(a)).is_some(),
            IpAddr::V6(a) => self.0.v6.get(u128::from(a)).is_some(),
        }
    }
    /// The disjoint, maximal ranges: IPv4 first, then IPv6, each in order.
    pub fn ranges(&self) -> impl Iterator<Item = AddrRange> + '_ {
        let v4 = self
            .0
            .v4
            .segs()
            .iter()
            .map(|s| AddrRange::V4(Ipv4Addr::from(s.lo), Ipv4Addr::from(s.hi)));
        let v6 = self
            .0
            .v6
            .segs()
            .iter()
            .map(|s| AddrRange::V6(Ipv6Addr::from(s.lo), Ipv6Addr::from(s.hi)));
        v4.chain(v6)
    }
    /// The shortest list of CIDR prefixes that is exactly this set.
    pub fn to_cidrs(&self) -> Vec<String> {
        self.ranges().flat_map(|r| r.cidrs()).collect()
    }
    /// How many maximal ranges the set has (a measure of its size in memory).
    pub fn range_count(&self) -> usize {
        self.0.v4.segs().len() + self.0.v6.segs().len()
    }
}

impl fmt::Display for AddrSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_all() {
            return f.write_str("*");
        }
        if self.is_empty() {
            return f.write_str("(no address)");
        }
        let mut first = true;
        for r in self.ranges() {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// A set of packets: protocol × destination address × destination port.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PacketSet(IMap<u8, Fam<IMap<u16, Full>>>);
set_ops!(PacketSet);

/// One box of a [`PacketSet`]: every protocol × address × port in the ranges.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PacketBox {
    pub protocols: (u8, u8),
    pub addresses: AddrRange,
    pub ports: (u16, u16),
}

impl PacketSet {
    /// Every packet (all protocols, all addresses of both families, all ports).
    pub fn universe() -> PacketSet {
        PacketSet::all()
    }

    /// `protocols × addresses × ports`.
    pub fn product(protocols: &ProtoSet, addresses: &AddrSet, ports: &PortSet) -> PacketSet {
        if protocols.is_empty() || addresses.is_empty() || ports.is_empty() {
            return PacketSet::empty();
        }
        let over_addr = addresses.0.with_value(&ports.0);
        PacketSet(protocols.0.with_value(&over_addr))
    }

    pub fn contains(&self, p: &Packet) -> bool {
        let Some(fam) = self.0.get(p.protocol.number()) else {
            return false;
        };
        let ports = match p.destination {
            IpAddr::V4(a) => fam.v4.get(u32::from(a)),
            IpAddr::V6(a) => fam.v6.get(u128::from(a)),
        };
        ports.is_some_and(|ps| ps.get(p.port).is_some())
    }

    /// The disjoint boxes that make up the set, in order (protocol, then
    /// address with IPv4 first, then port).
    pub fn boxes(&self) -> impl Iterator<Item = PacketBox> + '_ {
        self.0.segs().iter().flat_map(|ps| {
            let v4 = ps.val.v4.segs().iter().flat_map(move |a| {
                a.val.segs().iter().map(move |p| PacketBox {
                    protocols: (ps.lo, ps.hi),
                    addresses: AddrRange::V4(Ipv4Addr::from(a.lo), Ipv4Addr::from(a.hi)),
                    ports: (p.lo, p.hi),
                })
            });
            let v6 = ps.val.v6.segs().iter().flat_map(move |a| {
                a.val.segs().iter().map(move |p| PacketBox {
                    protocols: (ps.lo, ps.hi),
                    addresses: AddrRange::V6(Ipv6Addr::from(a.lo), Ipv6Addr::from(a.hi)),
                    ports: (p.lo, p.hi),
                })
            });
            v4.chain(v6)
        })
    }

    /// The destinations some packet of the set goes to.
    pub fn addresses(&self) -> AddrSet {
        let mut out = AddrSet::empty();
        for ps in self.0.segs() {
            let here = AddrSet(Fam {
                v4: ps.val.v4.domain(),
                v6: ps.val.v6.domain(),
            });
            out = out.union(&here);
        }
        out
    }

    /// The protocols some packet of the set has.
    pub fn protocols(&self) -> ProtoSet {
        ProtoSet(self.0.domain())
    }

    /// One packet of the set (the lowest protocol, address and port of its
    /// first box), to ask a component why it decides the way it does.
    pub fn sample(&self) -> Option<Packet> {
        let b = self.boxes().next()?;
        let destination = match b.addresses {
            AddrRange::V4(lo, _) => IpAddr::V4(lo),
            AddrRange::V6(lo, _) => IpAddr::V6(lo),
        };
        Some(Packet {
            protocol: Protocol::from_number(b.protocols.0),
            destination,
            port: b.ports.0,
        })
    }

    /// The first packet (in the order of [`PacketSet::sample`]) that is in
    /// both sets, found without building their intersection: the same
    /// packet as `self.intersection(other).sample()`.
    pub fn first_common(&self, other: &PacketSet) -> Option<Packet> {
        for (proto, fa, fb) in overlaps(self.0.segs(), other.0.segs()) {
            for (addr, pa, pb) in overlaps(fa.v4.segs(), fb.v4.segs()) {
                if let Some((port, _, _)) = overlaps(pa.segs(), pb.segs()).next() {
                    return Some(Packet::new(
                        Protocol::from_number(proto),
                        Ipv4Addr::from(addr),
                        port,
                    ));
                }
            }
            for (addr, pa, pb) in overlaps(fa.v6.segs(), fb.v6.segs()) {
                if let Some((port, _, _)) = overlaps(pa.segs(), pb.segs()).next() {
                    return Some(Packet::new(
                        Protocol::from_number(proto),
                        Ipv6Addr::from(addr),
                        port,
                    ));
                }
            }
        }
        None
    }

    /// The first packet common to three sets (in the order of
    /// [`PacketSet::sample`]), without building any intersection.
    pub fn first_common3(a: &PacketSet, b: &PacketSet, c: &PacketSet) -> Option<Packet> {
        let ports = |x: &IMap<u16, Full>, y: &IMap<u16, Full>, z: &IMap<u16, Full>| {
            first_of_three(x.segs(), y.segs(), z.segs(), |_, _, _| Some(())).map(|(p, ())| p)
        };
        first_of_three(a.0.segs(), b.0.segs(), c.0.segs(), |fa, fb, fc| {
            if let Some((addr, port)) =
                first_of_three(fa.v4.segs(), fb.v4.segs(), fc.v4.segs(), ports)
            {
                return Some((IpAddr::V4(Ipv4Addr::from(addr)), port));
            }
            first_of_three(fa.v6.segs(), fb.v6.segs(), fc.v6.segs(), ports)
                .map(|(addr, port)| (IpAddr::V6(Ipv6Addr::from(addr)), port))
        })
        .map(|(proto, (addr, port))| Packet::new(Protocol::from_number(proto), addr, port))
    }

    /// How many boxes the set has (a measure of its size in memory).
    pub fn box_count(&self) -> usize {
        self.0
            .segs()
            .iter()
            .map(|ps| {
                let v4: usize = ps.val.v4.segs().iter().map(|a| a.val.segs().len()).sum();
                let v6: usize = ps.val.v6.segs().iter().map(|a| a.val.segs().len()).sum();
                v4 + v6
            })
            .sum()
    }
}

/// First match wins over a list of rules (`allow`, what the rule matches):
/// the packets whose first matching rule allows them.
///
/// One sweep per axis (see `imap`): protocols, then addresses, then ports.
/// Between two boundaries of any rule the same rules apply, so each such
/// piece is decided once, and pieces with the same port sets share the work.
pub fn first_match(rules: &[(bool, &PacketSet)]) -> PacketSet {
    let list: Vec<_> = rules.iter().map(|(a, m)| (*a, &m.0)).collect();
    PacketSet(IMap::first_match(&list).unwrap_or_else(IMap::empty))
}

impl fmt::Display for PacketSet {
    /// `TCP 10.0.0.0/24 443; UDP * 53`, grouped per protocol range and address range.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("(nothing)");
        }
        if self.is_all() {
            return f.write_str("(everything)");
        }
        let mut first = true;
        for ps in self.0.segs() {
            let all_protocols = ps.lo == u8::MIN && ps.hi == u8::MAX;
            let ranges = ps
                .val
                .v4
                .segs()
                .iter()
                .map(|a| {
                    (
                        AddrRange::V4(Ipv4Addr::from(a.lo), Ipv4Addr::from(a.hi)),
                        &a.val,
                    )
                })
                .chain(ps.val.v6.segs().iter().map(|a| {
                    (
                        AddrRange::V6(Ipv6Addr::from(a.lo), Ipv6Addr::from(a.hi)),
                        &a.val,
                    )
                }));
            for (addr, ports) in ranges {
                if !first {
                    f.write_str("; ")?;
                }
                first = false;
                write_protocols(f, std::iter::once((ps.lo, ps.hi)), all_protocols)?;
                write!(f, " {addr} {}", PortSet(ports.clone()))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
