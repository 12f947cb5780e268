//! Service tags without a service-tag file, and the address resolvers.
//!
//! # Symbolic tags
//!
//! Without `--service-tags`, amlguard does not know the addresses of a tag,
//! but it knows how the tags relate: the built-in data (`symbolic/data.rs`,
//! generated from one of Microsoft's weekly `ServiceTags_Public_*.json` files)
//! records every tag name and every combination of tags that some address of
//! that file belongs to exactly (an *atom*: one non-empty cell of the Venn
//! diagram of all tags). [`SymbolicTags`] gives each atom a block of synthetic
//! addresses inside `240.0.0.0/4`, space reserved by RFC 1112 that no real
//! rule addresses, and each tag the blocks of its atoms. So, as in the file:
//! `Storage.WestEurope` ⊆ `Storage` ⊆ `AzureCloud`; tags that share addresses
//! share blocks (an allow on one surely reaches part of the other); tags that
//! are disjoint get disjoint blocks; and any Boolean combination of tags
//! (`Storage` less `Storage.WestEurope` less `Storage.NorthEurope`) is empty
//! exactly when it is empty in the file. A tag has blocks of its own, in no
//! tag but its supersets, exactly when the file gives it such addresses. One
//! more block is the *internet-only* block: a public address in no tag.
//!
//! Microsoft changes the tags weekly (new prefixes, new regions), so the
//! relations hold for the file the data came from; exact answers need the
//! current file (`--service-tags`).
//!
//! The layout is IPv4 only: a symbolic tag stands for all of the tag's
//! addresses, IPv4 and IPv6 alike.
//!
//! # Addressing
//!
//! [`Addressing`] implements [`AddressResolver`] over a [`TagSource`] (the
//! file, or the symbolic tags) for one source network:
//!
//! - `VirtualNetwork` is the network's address space as given (Azure: the
//!   VNet's address space, peered VNets and on-premises ranges behind a
//!   gateway); `Internet` is everything else. Microsoft: the `Internet` tag is
//!   the address space outside the virtual network that the public internet
//!   reaches, and it includes Azure's public addresses; the cautious reading
//!   here counts every address outside the VNet.
//! - `AzureLoadBalancer` and `AzurePlatformDNS` are the platform address
//!   `168.63.129.16`; `AzurePlatformIMDS` is `169.254.169.254`;
//!   `AzurePlatformLKM` is Azure's Windows activation (KMS) service,
//!   `kms.core.windows.net` (`23.102.135.246`) and `azkms.core.windows.net`
//!   (`20.118.99.224`, `40.83.235.53`), taken as literal public addresses.
//!   These virtual tags are not in the service-tag file (docs §6).
//! - Service tags come from the file (exact) or the symbolic layout.
//! - In symbolic mode a literal public prefix other than the IPv4 `/0` may
//!   cover part of any tag: it possibly covers every synthetic block, surely
//!   none.

#[rustfmt::skip]
mod data;
mod derive;

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

pub use derive::{DeriveError, render_data};
use derive::{Derived, Family};

use crate::resolve::{AddrBounds, AddressResolver, ResolveError, TagPrefix};
use crate::space::{AddrRange, AddrSet};
use crate::tags::{ServiceTags, UnknownTag, suggest_tag_name, union_balanced};

/// The first synthetic address (`240.0.0.0`).
const SYNTHETIC_BASE: u32 = 0xF000_0000;
/// `240.0.0.0/4` has 2^28 addresses.
const SYNTHETIC_BITS: u32 = 28;
/// Blocks are at most this many bits (65,536 addresses).
const MAX_BLOCK_BITS: u32 = 16;
/// At most this many atoms (blocks of at least 256 addresses).
pub(crate) const MAX_ATOMS: usize = 1 << 20;

/// Addresses that are not on the public internet: private (RFC 1918), shared
/// (RFC 6598), loopback, link-local (with IMDS), Azure's platform address,
/// "this network", multicast, reserved (`240.0.0.0/4`, which holds the
/// synthetic blocks), and the IPv6 loopback, unique-local, link-local and
/// multicast ranges.
const NON_PUBLIC: &[&str] = &[
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "168.63.129.16/32",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::1/128",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
];

/// Azure's platform address: DNS, DHCP, health probes (`AzureLoadBalancer`).
const PLATFORM_ADDRESS: Ipv4Addr = Ipv4Addr::new(168, 63, 129, 16);
/// The instance metadata service (`AzurePlatformIMDS`).
const IMDS_ADDRESS: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);
/// Azure's Windows activation servers (`AzurePlatformLKM`):
/// `kms.core.windows.net` and `azkms.core.windows.net`.
const KMS_ADDRESSES: [Ipv4Addr; 3] = [
    Ipv4Addr::new(23, 102, 135, 246),
    Ipv4Addr::new(20, 118, 99, 224),
    Ipv4Addr::new(40, 83, 235, 53),
];

/// The virtual tags: resolved per network or by the platform, never in the
/// service-tag file.
pub const VIRTUAL_TAGS: &[&str] = &[
    "VirtualNetwork",
    "Internet",
    "AzureLoadBalancer",
    "AzurePlatformDNS",
    "AzurePlatformIMDS",
    "AzurePlatformLKM",
];

/// The addresses that are not public (see `NON_PUBLIC`).
fn non_public() -> &'static AddrSet {
    static SET: OnceLock<AddrSet> = OnceLock::new();
    SET.get_or_init(|| AddrSet::from_prefixes(NON_PUBLIC.iter().copied()).unwrap_or_default())
}

/// The public addresses: everything not in `NON_PUBLIC`.
fn public() -> &'static AddrSet {
    static SET: OnceLock<AddrSet> = OnceLock::new();
    SET.get_or_init(|| non_public().complement())
}

fn synthetic_space() -> &'static AddrSet {
    static SET: OnceLock<AddrSet> = OnceLock::new();
    SET.get_or_init(|| {
        AddrSet::v4_range(
            Ipv4Addr::from(SYNTHETIC_BASE),
            Ipv4Addr::from(SYNTHETIC_BASE | ((1 << SYNTHETIC_BITS) - 1)),
        )
    })
}

// ---------------------------------------------------------------------------
// Symbolic tags.

/// Service tags laid out as synthetic address blocks (see the module docs).
/// Built once; share it by reference ([`SymbolicTags::builtin`]).
#[derive(Clone)]
pub struct SymbolicTags {
    /// Tag names as the file spells them, numbered as in the data.
    names: Vec<String>,
    /// Family index of each tag.
    family_of: Vec<usize>,
    /// Families: name and member tags (the global tag first, when there is one).
    families: Vec<(String, Vec<usize>)>,
    /// Lower-case name → tag number.
    by_name: HashMap<String, usize>,
    /// Each tag's synthetic addresses.
    sets: Vec<AddrSet>,
    /// Public addresses in no tag.
    internet_only: AddrSet,
    source_file: String,
    cloud: String,
    change_number: String,
}

impl fmt::Debug for SymbolicTags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SymbolicTags")
            .field("tags", &self.names.len())
            .field("source_file", &self.source_file)
            .field("change_number", &self.change_number)
            .finish_non_exhaustive()
    }
}

impl SymbolicTags {
    /// The tags of the built-in data (derived from the file its header names).
    pub fn builtin() -> &'static SymbolicTags {
        static TAGS: OnceLock<SymbolicTags> = OnceLock::new();
        TAGS.get_or_init(|| {
            // The data is generated and checked by tests; should it ever be
            // inconsistent, no tag is known and every tag name is an error
            // (never an empty set).
            SymbolicTags::build(&builtin_data()).unwrap_or_else(|_| SymbolicTags::empty())
        })
    }

    /// Symbolic tags with the relations of another service-tag file (for
    /// example a national cloud's).
    pub fn from_service_tags(tags: &ServiceTags) -> Result<SymbolicTags, DeriveError> {
        SymbolicTags::build(&Derived::from_service_tags(tags, "(given file)")?)
    }

    fn empty() -> SymbolicTags {
        SymbolicTags {
            names: Vec::new(),
            family_of: Vec::new(),
            families: Vec::new(),
            by_name: HashMap::new(),
            sets: Vec::new(),
            internet_only: AddrSet::empty(),
            source_file: String::new(),
            cloud: String::new(),
            change_number: String::new(),
        }
    }

    fn build(d: &Derived) -> Result<SymbolicTags, DeriveError> {
        let named = d.tag_names();
        let n = named.len();
        let mut names = Vec::with_capacity(n);
        let mut family_of = Vec::with_capacity(n);
        let mut families: Vec<(String, Vec<usize>)> = d
            .families
            .iter()
            .map(|f| (f.name.clone(), Vec::new()))
            .collect();
        let mut by_name = HashMap::with_capacity(n);
        for (k, (name, fi, _)) in named.into_iter().enumerate() {
            if by_name.insert(name.to_ascii_lowercase(), k).is_some() {
                return Err(DeriveError::Invalid("a tag name is listed twice"));
            }
            if let Some((_, members)) = families.get_mut(fi) {
                members.push(k);
            }
            names.push(name);
            family_of.push(fi);
        }

        // Slots: one per atom, then the internet-only block.
        let slots = d.atoms.len() + 1;
        if slots > MAX_ATOMS {
            return Err(DeriveError::TooLarge("distinct tag combinations"));
        }
        let slot_bits = usize::BITS - (slots - 1).leading_zeros();
        let block_bits = SYNTHETIC_BITS.saturating_sub(slot_bits).min(MAX_BLOCK_BITS);
        let block = |i: usize| -> Option<(u32, u32)> {
            let i = u32::try_from(i).ok()?;
            let lo = SYNTHETIC_BASE.checked_add(i.checked_shl(block_bits)?)?;
            let hi = lo.checked_add((1u32 << block_bits) - 1)?;
            Some((lo, hi))
        };

        // Each tag's atoms, in layout order.
        let mut atoms_of: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, (g, regional)) in d.atoms.iter().enumerate() {
            let globals = d
                .global_sets
                .get(usize::from(*g))
                .ok_or(DeriveError::Invalid(
                    "an atom names a missing set of global tags",
                ))?;
            for &k in globals.iter().chain(regional) {
                atoms_of
                    .get_mut(usize::from(k))
                    .ok_or(DeriveError::Invalid("an atom names a missing tag"))?
                    .push(i);
            }
        }
        let mut sets = Vec::with_capacity(n);
        for atoms in &atoms_of {
            let mut runs: Vec<(usize, usize)> = Vec::new();
            for &i in atoms {
                match runs.last_mut() {
                    Some((_, end)) if *end + 1 == i => *end = i,
                    _ => runs.push((i, i)),
                }
            }
            let mut parts = Vec::with_capacity(runs.len());
            for (a, b) in runs {
                let (lo, _) = block(a).ok_or(DeriveError::TooLarge("atoms"))?;
                let (_, hi) = block(b).ok_or(DeriveError::TooLarge("atoms"))?;
                parts.push(AddrSet::v4_range(Ipv4Addr::from(lo), Ipv4Addr::from(hi)));
            }
            sets.push(union_balanced(parts.iter().collect()));
        }
        let (lo, hi) = block(d.atoms.len()).ok_or(DeriveError::TooLarge("atoms"))?;
        let internet_only = AddrSet::v4_range(Ipv4Addr::from(lo), Ipv4Addr::from(hi));

        Ok(SymbolicTags {
            names,
            family_of,
            families,
            by_name,
            sets,
            internet_only,
            source_file: d.source_file.clone(),
            cloud: d.cloud.clone(),
            change_number: d.change_number.clone(),
        })
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.by_name.get(&name.trim().to_ascii_lowercase()).copied()
    }

    /// The synthetic addresses of a service tag, by name (case-insensitive,
    /// global or regional: `Storage`, `storage.westeurope`). Virtual tags
    /// (`VirtualNetwork`, `Internet`, …) are not here: see [`Addressing`].
    pub fn resolve(&self, name: &str) -> Result<&AddrSet, UnknownTag> {
        self.index(name)
            .and_then(|k| self.sets.get(k))
            .ok_or_else(|| UnknownTag {
                name: name.to_string(),
                suggestion: self.suggest(name),
            })
    }

    /// The name as the file spells it, for a name in any case.
    pub fn canonical_name(&self, name: &str) -> Option<&str> {
        self.index(name)
            .and_then(|k| self.names.get(k))
            .map(String::as_str)
    }

    /// Whether the tag is a family's global tag (`Storage`, `AzureFrontDoor.Frontend`)
    /// rather than a regional variant (`Storage.WestEurope`). `None` for an unknown name.
    pub fn is_global(&self, name: &str) -> Option<bool> {
        let k = self.index(name)?;
        let fi = self.family_of.get(k)?;
        let (family, _) = self.families.get(*fi)?;
        self.names.get(k).map(|n| n == family)
    }

    /// The regional variants of a family, by the family's name
    /// (case-insensitive): `Storage` → `Storage.AustraliaCentral`, ….
    /// Empty for a family without variants or an unknown name.
    pub fn regional_variants(&self, family: &str) -> Vec<&str> {
        let want = family.trim().to_ascii_lowercase();
        self.families
            .iter()
            .filter(|(f, _)| f.to_ascii_lowercase() == want)
            .flat_map(|(f, members)| {
                members
                    .iter()
                    .filter_map(|&k| self.names.get(k))
                    .filter(move |n| *n != f)
                    .map(String::as_str)
            })
            .collect()
    }

    /// Every tag name, in data order (a family's global tag, then its variants).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The name of the file the relations come from.
    pub fn source_file(&self) -> &str {
        &self.source_file
    }

    /// That file's cloud (`Public`).
    pub fn cloud(&self) -> &str {
        &self.cloud
    }

    /// That file's `changeNumber`.
    pub fn change_number(&self) -> &str {
        &self.change_number
    }

    /// The block of public addresses that are in no tag.
    pub fn internet_only_block(&self) -> &AddrSet {
        &self.internet_only
    }

    /// Every address the layout may use (`240.0.0.0/4`): what a literal
    /// public prefix possibly covers in symbolic mode.
    pub fn synthetic_space() -> &'static AddrSet {
        synthetic_space()
    }

    fn suggest(&self, name: &str) -> Option<String> {
        suggest_tag_name(
            name,
            |n| self.canonical_name(n),
            self.names.iter().map(String::as_str),
        )
    }
}

/// The built-in data as owned structures.
fn builtin_data() -> Derived {
    Derived {
        source_file: data::SOURCE_FILE.to_string(),
        cloud: data::CLOUD.to_string(),
        change_number: data::CHANGE_NUMBER.to_string(),
        families: data::FAMILIES
            .iter()
            .map(|(name, global, regional)| Family {
                name: (*name).to_string(),
                global: *global,
                regional: regional.iter().map(|r| (*r).to_string()).collect(),
            })
            .collect(),
        global_sets: data::GLOBAL_SETS.iter().map(|g| g.to_vec()).collect(),
        atoms: data::ATOMS.iter().map(|(g, r)| (*g, r.to_vec())).collect(),
    }
}

// ---------------------------------------------------------------------------
// Addressing.

/// Where service tags come from.
#[derive(Clone, Copy)]
pub enum TagSource<'a> {
    /// A service-tag file (`--service-tags`): exact.
    File(&'a ServiceTags),
    /// The built-in symbolic tags.
    Symbolic(&'a SymbolicTags),
}

impl TagSource<'_> {
    pub fn is_symbolic(&self) -> bool {
        matches!(self, TagSource::Symbolic(_))
    }

    /// For messages: `service-tag file (changeNumber 375)` or
    /// `built-in symbolic service tags (from ServiceTags_Public_20251028.json, changeNumber 375)`.
    pub fn describe(&self) -> String {
        match self {
            TagSource::File(t) => match t.change_number() {
                Some(c) => format!("service-tag file (changeNumber {c})"),
                None => "service-tag file".to_string(),
            },
            TagSource::Symbolic(s) => format!(
                "built-in symbolic service tags (from {}, changeNumber {})",
                s.source_file(),
                s.change_number()
            ),
        }
    }
}

impl fmt::Debug for TagSource<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TagSource::File(t) => f
                .debug_struct("File")
                .field("tags", &t.len())
                .field("change_number", &t.change_number())
                .finish(),
            TagSource::Symbolic(s) => f.debug_tuple("Symbolic").field(s).finish(),
        }
    }
}

/// Resolves address items for one source network (see the module docs).
#[derive(Clone, Debug)]
pub struct Addressing<'a> {
    source: TagSource<'a>,
    virtual_network: AddrSet,
    internet: AddrSet,
    /// Lower-case resource ID → members.
    asgs: HashMap<String, AddrBounds>,
    internet_only: OnceLock<AddrBounds>,
}

impl<'a> Addressing<'a> {
    /// A resolver for a network whose `VirtualNetwork` is `virtual_network`
    /// (the VNet's address space with peered and on-premises ranges).
    pub fn new(source: TagSource<'a>, virtual_network: AddrSet) -> Addressing<'a> {
        Addressing {
            source,
            internet: virtual_network.complement(),
            virtual_network,
            asgs: HashMap::new(),
            internet_only: OnceLock::new(),
        }
    }

    /// Registers the members of an application security group (by resource
    /// ID, compared case-insensitively as ARM compares IDs).
    pub fn with_asg(mut self, id: &str, members: AddrBounds) -> Self {
        self.asgs.insert(id.trim().to_ascii_lowercase(), members);
        self
    }

    pub fn is_symbolic(&self) -> bool {
        self.source.is_symbolic()
    }

    pub fn source(&self) -> TagSource<'a> {
        self.source
    }

    pub fn virtual_network(&self) -> &AddrSet {
        &self.virtual_network
    }

    /// A virtual tag by lower-case name: exact addresses, or the KMS servers
    /// as literal addresses.
    fn virtual_tag(&self, key: &str) -> Option<AddrBounds> {
        let v4 = |a: Ipv4Addr| AddrSet::single(IpAddr::V4(a));
        Some(match key {
            "virtualnetwork" => AddrBounds::exact(self.virtual_network.clone()),
            "internet" => AddrBounds::exact(self.internet.clone()),
            "azureloadbalancer" | "azureplatformdns" => AddrBounds::exact(v4(PLATFORM_ADDRESS)),
            "azureplatformimds" => AddrBounds::exact(v4(IMDS_ADDRESS)),
            "azureplatformlkm" => {
                let kms: Vec<AddrSet> = KMS_ADDRESSES.iter().map(|a| v4(*a)).collect();
                self.prefix(&union_balanced(kms.iter().collect()))
            }
            _ => return None,
        })
    }

    fn unknown_tag(&self, e: UnknownTag) -> ResolveError {
        let suggestion = e.suggestion.or_else(|| {
            suggest_tag_name(
                &e.name,
                |n| {
                    VIRTUAL_TAGS
                        .iter()
                        .copied()
                        .find(|v| v.eq_ignore_ascii_case(n))
                },
                VIRTUAL_TAGS.iter().copied(),
            )
        });
        ResolveError::UnknownTag(UnknownTag {
            name: e.name,
            suggestion,
        })
    }

    /// Exact prefixes with their lengths for an exact set.
    fn exact_prefixes(set: &AddrSet) -> Vec<TagPrefix> {
        set.ranges()
            .flat_map(range_prefixes)
            .map(|(s, len)| TagPrefix {
                addresses: AddrBounds::exact(s),
                length: Some(len),
            })
            .collect()
    }
}

/// The exact prefixes of a range, as (set, length).
fn range_prefixes(r: AddrRange) -> Vec<(AddrSet, u8)> {
    r.cidrs()
        .iter()
        .filter_map(|c| {
            let (_, len) = c.split_once('/')?;
            let len: u8 = len.parse().ok()?;
            Some((AddrSet::parse(c).ok()?, len))
        })
        .collect()
}

/// The addresses of a prefix as the file lists it.
fn prefix_set(addr: IpAddr, len: u8) -> AddrSet {
    match addr {
        IpAddr::V4(a) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(len.min(32)))
                .unwrap_or(0);
            let lo = u32::from(a) & mask;
            AddrSet::v4_range(Ipv4Addr::from(lo), Ipv4Addr::from(lo | !mask))
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(len.min(128)))
                .unwrap_or(0);
            let lo = u128::from(a) & mask;
            AddrSet::v6_range(Ipv6Addr::from(lo), Ipv6Addr::from(lo | !mask))
        }
    }
}

impl AddressResolver for Addressing<'_> {
    fn tag(&self, name: &str) -> Result<AddrBounds, ResolveError> {
        let key = name.trim().to_ascii_lowercase();
        if let Some(b) = self.virtual_tag(&key) {
            return Ok(b);
        }
        let found = match self.source {
            TagSource::File(t) => t.resolve(name),
            TagSource::Symbolic(s) => s.resolve(name),
        };
        found
            .map(|set| AddrBounds::exact(set.clone()))
            .map_err(|e| self.unknown_tag(e))
    }

    fn tag_prefixes(&self, name: &str) -> Result<Vec<TagPrefix>, ResolveError> {
        let key = name.trim().to_ascii_lowercase();
        match key.as_str() {
            "virtualnetwork" => return Ok(Addressing::exact_prefixes(&self.virtual_network)),
            "internet" => return Ok(Addressing::exact_prefixes(&self.internet)),
            "azureplatformlkm" => {
                return Ok(KMS_ADDRESSES
                    .iter()
                    .map(|a| TagPrefix {
                        addresses: self.prefix(&AddrSet::single(IpAddr::V4(*a))),
                        length: Some(32),
                    })
                    .collect());
            }
            _ => {}
        }
        if let Some(b) = self.virtual_tag(&key) {
            // The single-address platform tags.
            return Ok(vec![TagPrefix {
                addresses: b,
                length: Some(32),
            }]);
        }
        match self.source {
            TagSource::File(t) => t
                .prefixes(name)
                .map(|ps| {
                    ps.iter()
                        .map(|&(a, len)| TagPrefix {
                            addresses: AddrBounds::exact(prefix_set(a, len)),
                            length: Some(len),
                        })
                        .collect()
                })
                .map_err(|e| self.unknown_tag(e)),
            TagSource::Symbolic(s) => s
                .resolve(name)
                .map(|set| {
                    vec![TagPrefix {
                        addresses: AddrBounds::exact(set.clone()),
                        length: None,
                    }]
                })
                .map_err(|e| self.unknown_tag(e)),
        }
    }

    fn asg(&self, id: &str) -> Result<AddrBounds, ResolveError> {
        self.asgs
            .get(&id.trim().to_ascii_lowercase())
            .cloned()
            .ok_or_else(|| ResolveError::UnknownAsg { id: id.to_string() })
    }

    fn prefix(&self, set: &AddrSet) -> AddrBounds {
        match self.source {
            TagSource::File(_) => AddrBounds::exact(set.clone()),
            TagSource::Symbolic(_) => {
                // All of IPv4 covers every synthetic block, as the real /0
                // covers every tag.
                if AddrSet::all_v4().is_subset(set) {
                    return AddrBounds::exact(set.clone());
                }
                let surely = set.difference(synthetic_space());
                if surely.intersects(public()) {
                    AddrBounds {
                        possibly: surely.union(synthetic_space()),
                        surely,
                    }
                } else {
                    AddrBounds::exact(surely)
                }
            }
        }
    }

    fn internet_only(&self) -> AddrBounds {
        self.internet_only
            .get_or_init(|| match self.source {
                TagSource::File(t) => AddrBounds::exact(
                    t.all_addresses()
                        .union(non_public())
                        .union(&self.virtual_network)
                        .complement(),
                ),
                TagSource::Symbolic(s) => {
                    let block = s.internet_only_block().difference(&self.virtual_network);
                    let public = public().difference(&self.virtual_network);
                    AddrBounds {
                        possibly: public.union(&block),
                        surely: block,
                    }
                }
            })
            .clone()
    }
}
