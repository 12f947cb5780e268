//! Turning names in rules (service tags, virtual tags, application security
//! groups) and literal prefixes into addresses, in bounds.
//!
//! Every address item resolves to two sets: the addresses it surely covers
//! and those it possibly covers. With a service-tag file (`--service-tags`)
//! both are equal and exact. Without one, tags are symbolic (see
//! [`crate::symbolic`]): each tag is a synthetic block of addresses laid out so
//! that the known hierarchy holds (`Storage.WestEurope` ⊆ `Storage` ⊆
//! `AzureCloud`, every public tag ⊆ `Internet`), and what is not known (does
//! the literal prefix `20.0.0.0/8` cover part of `Storage`?) makes the two
//! bounds differ.

use std::fmt;

use crate::space::AddrSet;
use crate::tags::UnknownTag;

/// Addresses an item surely covers, and possibly covers (a superset).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AddrBounds {
    pub surely: AddrSet,
    pub possibly: AddrSet,
}

impl AddrBounds {
    /// Known exactly.
    pub fn exact(set: AddrSet) -> AddrBounds {
        AddrBounds {
            possibly: set.clone(),
            surely: set,
        }
    }
    pub fn empty() -> AddrBounds {
        AddrBounds::default()
    }
    pub fn is_exact(&self) -> bool {
        self.surely == self.possibly
    }
    pub fn union(&self, other: &AddrBounds) -> AddrBounds {
        AddrBounds {
            surely: self.surely.union(&other.surely),
            possibly: self.possibly.union(&other.possibly),
        }
    }
    pub fn intersection(&self, other: &AddrBounds) -> AddrBounds {
        AddrBounds {
            surely: self.surely.intersection(&other.surely),
            possibly: self.possibly.intersection(&other.possibly),
        }
    }
}

/// One prefix of a tag as a route prefix: its addresses and, when known, its
/// length (longest prefix match needs it). Symbolic tags have no known length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagPrefix {
    pub addresses: AddrBounds,
    /// `Some(len)` for an exact prefix from a service-tag file; `None` when
    /// the tag is symbolic (its prefixes are longer than /0, otherwise unknown).
    pub length: Option<u8>,
}

/// Why a name in a rule has no addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResolveError {
    /// A service tag that neither the service-tag file nor the built-in list knows.
    UnknownTag(UnknownTag),
    /// An application security group whose members are not known.
    UnknownAsg { id: String },
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolveError::UnknownTag(e) => e.fmt(f),
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

/// Resolves address items for one source network (the compute's VNet decides
/// what `VirtualNetwork` and `Internet` mean).
pub trait AddressResolver {
    /// A tag by name, case-insensitively: a service tag (global or regional)
    /// or a virtual tag (`VirtualNetwork`, `Internet`, `AzureLoadBalancer`, …).
    /// An unknown name is an error, never an empty set.
    fn tag(&self, name: &str) -> Result<AddrBounds, ResolveError>;
    /// A tag used as a route prefix: its prefixes with their lengths.
    fn tag_prefixes(&self, name: &str) -> Result<Vec<TagPrefix>, ResolveError>;
    /// The members of an application security group, by resource ID.
    fn asg(&self, id: &str) -> Result<AddrBounds, ResolveError>;
    /// A literal address or CIDR prefix, as written. Exact with a service-tag
    /// file; in symbolic mode a public prefix other than `/0` possibly covers
    /// part of every tag.
    fn prefix(&self, set: &AddrSet) -> AddrBounds;
    /// Public addresses that belong to no Azure service tag: where an
    /// arbitrary internet host an insider rents would be. Exact with a
    /// service-tag file (outside `AzureCloud` and every other tag, outside the
    /// private ranges and the virtual network); symbolic otherwise, with every
    /// public literal prefix possibly in it.
    fn internet_only(&self) -> AddrBounds;
}
