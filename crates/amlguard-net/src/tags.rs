//! Azure service tags as exact address sets.
//!
//! Reads Microsoft's weekly "Azure IP Ranges and Service Tags" file
//! (`ServiceTags_Public_<date>.json`, also Government and China) and the
//! output of `az network list-service-tags`: both are an object with a
//! `values` array of `{name, id, properties: {region, systemService,
//! addressPrefixes, networkFeatures, …}}`. Other members are ignored, and
//! `changeNumber` may be a number (the file) or a string (the CLI).
//!
//! Tag names compare case-insensitively, as NSGs compare them
//! (`Storage.westeurope` is `Storage.WestEurope`). A name that is not in the
//! file is an error ([`UnknownTag`]), never an empty set: an empty set would
//! make a rule that names a misspelt tag look as if it allowed nothing.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::space::{AddrSet, PrefixError};

/// One service tag of the file.
#[derive(Clone, Debug)]
pub struct ServiceTag {
    /// The name as the file writes it (`Storage.WestEurope`).
    pub name: String,
    /// The region (`westeurope`); `None` for a global tag.
    pub region: Option<String>,
    /// The service (`AzureStorage`); `None` when the file leaves it empty.
    pub system_service: Option<String>,
    /// Where the tag may be used (`API`, `NSG`, `UDR`, `FW`, `VSE`); empty when not given.
    pub network_features: Vec<String>,
    /// Its addresses, IPv4 and IPv6.
    pub addresses: AddrSet,
    /// How many prefixes the file lists (before merging).
    pub prefix_count: usize,
}

/// The service tags of one cloud.
#[derive(Clone, Debug, Default)]
pub struct ServiceTags {
    cloud: Option<String>,
    change_number: Option<String>,
    tags: Vec<ServiceTag>,
    /// Lower-case name → index into `tags`.
    by_name: HashMap<String, usize>,
    /// Each tag's prefixes as the file writes them, joined by commas, parallel
    /// to `tags` (parsed again only when asked for: few callers need them).
    prefix_texts: Vec<String>,
    /// The union of every tag's addresses, computed on first use.
    all_addresses: OnceLock<AddrSet>,
}

/// Why a service-tag file could not be read.
#[derive(Debug)]
pub enum TagsError {
    /// Not JSON, or not the expected shape.
    Json(serde_json::Error),
    /// The document has no `values` array.
    NoValues,
    /// A prefix of a tag is not an address or CIDR prefix.
    BadPrefix { tag: String, error: PrefixError },
    /// Two entries have the same name (compared case-insensitively).
    Duplicate { name: String },
}

impl fmt::Display for TagsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TagsError::Json(e) => write!(f, "not a service-tag file: {e}"),
            TagsError::NoValues => f.write_str(
                "not a service-tag file: expected an object with a `values` array \
                 (Microsoft's ServiceTags_*.json or `az network list-service-tags` output)",
            ),
            TagsError::BadPrefix { tag, error } => write!(f, "service tag `{tag}`: {error}"),
            TagsError::Duplicate { name } => {
                write!(
                    f,
                    "service tag `{name}` is listed twice (names compare case-insensitively)"
                )
            }
        }
    }
}

impl std::error::Error for TagsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TagsError::Json(e) => Some(e),
            TagsError::BadPrefix { error, .. } => Some(error),
            TagsError::NoValues | TagsError::Duplicate { .. } => None,
        }
    }
}

/// A tag name that the service-tag file does not have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownTag {
    pub name: String,
    /// A tag of the file the name may have meant.
    pub suggestion: Option<String>,
}

impl fmt::Display for UnknownTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown service tag `{}`", self.name)?;
        if let Some(s) = &self.suggestion {
            write!(f, " (did you mean `{s}`?)")?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownTag {}

// The wire shape. Strings are borrowed from the input where they have no escapes.

#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(default, borrow)]
    cloud: Option<Cow<'a, str>>,
    #[serde(default, rename = "changeNumber")]
    change_number: Option<NumberOrText<'a>>,
    #[serde(default, borrow)]
    values: Option<Vec<WireTag<'a>>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrText<'a> {
    Number(i64),
    Text(#[serde(borrow)] Cow<'a, str>),
}

#[derive(Deserialize)]
struct WireTag<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(default, borrow)]
    properties: Option<WireProps<'a>>,
}

#[derive(Deserialize)]
struct WireProps<'a> {
    #[serde(default, borrow)]
    region: Option<Cow<'a, str>>,
    #[serde(default, borrow, rename = "systemService")]
    system_service: Option<Cow<'a, str>>,
    #[serde(default, borrow, rename = "addressPrefixes")]
    address_prefixes: Option<Vec<Cow<'a, str>>>,
    #[serde(default, borrow, rename = "networkFeatures")]
    network_features: Option<Vec<Cow<'a, str>>>,
}

fn non_empty(s: Option<Cow<'_, str>>) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(Cow::into_owned)
}

impl ServiceTags {
    /// Reads Microsoft's service-tag file or `az network list-service-tags` output.
    pub fn from_json(text: &str) -> Result<ServiceTags, TagsError> {
        let wire: Wire<'_> = serde_json::from_str(text).map_err(TagsError::Json)?;
        let values = wire.values.ok_or(TagsError::NoValues)?;
        let mut tags = Vec::with_capacity(values.len());
        let mut by_name = HashMap::with_capacity(values.len());
        let mut prefix_texts = Vec::with_capacity(values.len());
        for v in values {
            let name = v.name.into_owned();
            if by_name
                .insert(name.to_ascii_lowercase(), tags.len())
                .is_some()
            {
                return Err(TagsError::Duplicate { name });
            }
            let props = v.properties;
            let (region, system_service, prefixes, features) = match props {
                Some(p) => (
                    non_empty(p.region),
                    non_empty(p.system_service),
                    p.address_prefixes.unwrap_or_default(),
                    p.network_features.unwrap_or_default(),
                ),
                None => (None, None, Vec::new(), Vec::new()),
            };
            let addresses =
                AddrSet::from_prefixes(prefixes.iter().map(|p| p.as_ref())).map_err(|error| {
                    TagsError::BadPrefix {
                        tag: name.clone(),
                        error,
                    }
                })?;
            prefix_texts.push(prefixes.join(","));
            tags.push(ServiceTag {
                name,
                region,
                system_service,
                network_features: features.into_iter().map(Cow::into_owned).collect(),
                addresses,
                prefix_count: prefixes.len(),
            });
        }
        Ok(ServiceTags {
            cloud: non_empty(wire.cloud),
            change_number: wire.change_number.map(|c| match c {
                NumberOrText::Number(n) => n.to_string(),
                NumberOrText::Text(t) => t.into_owned(),
            }),
            tags,
            by_name,
            prefix_texts,
            all_addresses: OnceLock::new(),
        })
    }

    /// The addresses of a tag, by name (case-insensitive).
    pub fn resolve(&self, name: &str) -> Result<&AddrSet, UnknownTag> {
        self.get(name)
            .map(|t| &t.addresses)
            .ok_or_else(|| UnknownTag {
                name: name.to_string(),
                suggestion: self.suggest(name),
            })
    }

    /// A tag by name (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&ServiceTag> {
        self.by_name
            .get(&name.trim().to_ascii_lowercase())
            .and_then(|&i| self.tags.get(i))
    }

    /// The tags in file order.
    pub fn iter(&self) -> impl Iterator<Item = &ServiceTag> {
        self.tags.iter()
    }

    pub fn len(&self) -> usize {
        self.tags.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tags.is_empty()
    }

    /// `Public`, `AzureGovernment`, `China`, … when the file says.
    pub fn cloud(&self) -> Option<&str> {
        self.cloud.as_deref()
    }

    /// The file's version (`changeNumber`), when it says.
    pub fn change_number(&self) -> Option<&str> {
        self.change_number.as_deref()
    }

    /// The prefixes of a tag (case-insensitive name) as the file lists them:
    /// each address with its prefix length (a bare address has length 32 or
    /// 128). Route tables need the lengths: a route whose prefix is a service
    /// tag stands for one route per prefix of the tag.
    pub fn prefixes(&self, name: &str) -> Result<Vec<(IpAddr, u8)>, UnknownTag> {
        self.by_name
            .get(&name.trim().to_ascii_lowercase())
            .and_then(|&i| self.prefix_texts.get(i))
            // `from_json` accepted every prefix, so each one parses here too.
            .map(|text| {
                text.split(',')
                    .filter(|p| !p.is_empty())
                    .filter_map(prefix_parts)
                    .collect()
            })
            .ok_or_else(|| UnknownTag {
                name: name.to_string(),
                suggestion: self.suggest(name),
            })
    }

    /// The addresses of every tag of the file together (computed once).
    pub fn all_addresses(&self) -> &AddrSet {
        self.all_addresses
            .get_or_init(|| union_balanced(self.tags.iter().map(|t| &t.addresses).collect()))
    }

    /// The tag a mistyped name most likely meant (see [`suggest_tag_name`]).
    fn suggest(&self, name: &str) -> Option<String> {
        suggest_tag_name(
            name,
            |n| self.get(n).map(|t| t.name.as_str()),
            self.tags.iter().map(|t| t.name.as_str()),
        )
    }
}

/// The tag a mistyped name most likely meant: the docs' short spellings
/// (`KeyVault.<region>`, `FrontDoor.FirstParty`) lack the `Azure` prefix of
/// the file, otherwise the nearest name within two edits. `lookup` finds a
/// tag by name case-insensitively; `names` are every tag name.
pub(crate) fn suggest_tag_name<'a>(
    name: &str,
    lookup: impl Fn(&str) -> Option<&'a str>,
    names: impl Iterator<Item = &'a str>,
) -> Option<String> {
    let want = name.trim().to_ascii_lowercase();
    let prefixed = format!("azure{want}");
    if let Some(t) = lookup(&prefixed) {
        return Some(t.to_string());
    }
    if let Some(rest) = want.strip_prefix("frontdoor.")
        && let Some(t) = lookup(&format!("azurefrontdoor.{rest}"))
    {
        return Some(t.to_string());
    }
    names
        .filter(|t| t.len().abs_diff(want.len()) <= 2)
        .map(|t| (edit_distance(&t.to_ascii_lowercase(), &want), t))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, t)| t.to_string())
}

/// `a.b.c.d/n`, an IPv6 prefix, or a bare address, as (address, length).
fn prefix_parts(text: &str) -> Option<(IpAddr, u8)> {
    let t = text.trim();
    let (addr, len) = match t.split_once('/') {
        Some((a, l)) => (a, Some(l.parse::<u8>().ok()?)),
        None => (t, None),
    };
    let addr: IpAddr = addr.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = len.unwrap_or(max);
    (len <= max).then_some((addr, len))
}

/// The union of many sets, merged pairwise so that the work stays near
/// linear in their total size.
pub(crate) fn union_balanced(mut sets: Vec<&AddrSet>) -> AddrSet {
    let mut owned: Vec<AddrSet> = Vec::with_capacity(sets.len().div_ceil(2));
    // First round from the borrowed sets, then rounds over owned ones.
    let mut it = sets.drain(..);
    while let Some(a) = it.next() {
        owned.push(match it.next() {
            Some(b) => a.union(b),
            None => a.clone(),
        });
    }
    while owned.len() > 1 {
        let mut next = Vec::with_capacity(owned.len().div_ceil(2));
        let mut it = owned.into_iter();
        while let Some(a) = it.next() {
            next.push(match it.next() {
                Some(b) => a.union(&b),
                None => a,
            });
        }
        owned = next;
    }
    owned.pop().unwrap_or_default()
}

/// Levenshtein distance over bytes.
fn edit_distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.bytes().enumerate() {
        if let Some(c) = cur.first_mut() {
            *c = i + 1;
        }
        for (j, cb) in b.iter().enumerate() {
            let sub = prev.get(j).copied().unwrap_or(usize::MAX) + usize::from(ca != *cb);
            let del = prev
                .get(j + 1)
                .copied()
                .unwrap_or(usize::MAX)
                .saturating_add(1);
            let ins = cur.get(j).copied().unwrap_or(usize::MAX).saturating_add(1);
            if let Some(c) = cur.get_mut(j + 1) {
                *c = sub.min(del).min(ins);
            }
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    const CLI: &str = r#"{
      "changeNumber": "63", "cloud": "Public", "id": "/subscriptions/s/providers/Microsoft.Network/serviceTags/public",
      "name": "public", "nextLink": null, "type": "Microsoft.Network/serviceTags",
      "values": [
        {"id": "Storage", "name": "Storage", "properties": {"addressPrefixes": ["13.64.0.0/16", "2603:1000::/40"],
          "changeNumber": "7", "region": "", "state": "GA", "systemService": "AzureStorage", "networkFeatures": ["API", "NSG"]}},
        {"id": "Storage.WestEurope", "name": "Storage.WestEurope", "properties": {"addressPrefixes": ["13.64.1.0/24"],
          "changeNumber": "2", "region": "westeurope", "systemService": "AzureStorage"}},
        {"id": "AzureKeyVault.WestEurope", "name": "AzureKeyVault.WestEurope", "properties": {"addressPrefixes": ["20.0.0.0/24"],
          "region": "westeurope", "systemService": "AzureKeyVault", "networkFeatures": null}},
        {"id": "AzureFrontDoor.FirstParty", "name": "AzureFrontDoor.FirstParty", "properties": {"addressPrefixes": []}}
      ]}"#;

    #[test]
    fn reads_cli_output_and_compares_names_case_insensitively() {
        let t = ServiceTags::from_json(CLI).unwrap();
        assert_eq!(t.len(), 4);
        assert_eq!(t.cloud(), Some("Public"));
        assert_eq!(t.change_number(), Some("63"));
        let we = t.resolve("storage.westeurope").unwrap();
        assert_eq!(we, &AddrSet::parse("13.64.1.0/24").unwrap());
        assert_eq!(t.resolve("STORAGE.WESTEUROPE").unwrap(), we);
        let s = t.get("Storage").unwrap();
        assert_eq!(s.region, None);
        assert_eq!(s.system_service.as_deref(), Some("AzureStorage"));
        assert_eq!(s.network_features, vec!["API", "NSG"]);
        assert_eq!(
            s.addresses.to_cidrs(),
            vec!["13.64.0.0/16", "2603:1000::/40"]
        );
        assert!(we.is_subset(&s.addresses));
        assert_eq!(
            t.get("Storage.WestEurope").unwrap().region.as_deref(),
            Some("westeurope")
        );
        // A tag with no prefixes is an empty set because the file says so, not because it is unknown.
        assert!(t.resolve("AzureFrontDoor.FirstParty").unwrap().is_empty());
    }

    #[test]
    fn an_unknown_tag_is_an_error_with_a_suggestion() {
        let t = ServiceTags::from_json(CLI).unwrap();
        let e = t.resolve("Storage.WestEuropa").unwrap_err();
        assert_eq!(e.suggestion.as_deref(), Some("Storage.WestEurope"));
        assert_eq!(
            e.to_string(),
            "unknown service tag `Storage.WestEuropa` (did you mean `Storage.WestEurope`?)"
        );
        let e = t.resolve("KeyVault.westeurope").unwrap_err();
        assert_eq!(e.suggestion.as_deref(), Some("AzureKeyVault.WestEurope"));
        let e = t.resolve("Frontdoor.FirstParty").unwrap_err();
        assert_eq!(e.suggestion.as_deref(), Some("AzureFrontDoor.FirstParty"));
        let e = t.resolve("Sql").unwrap_err();
        assert_eq!(e.suggestion, None);
        assert_eq!(e.to_string(), "unknown service tag `Sql`");
    }

    #[test]
    fn rejects_what_is_not_a_tag_file() {
        assert!(matches!(
            ServiceTags::from_json("{}"),
            Err(TagsError::NoValues)
        ));
        assert!(matches!(
            ServiceTags::from_json("[1]"),
            Err(TagsError::Json(_))
        ));
        let bad =
            r#"{"values": [{"name": "X", "properties": {"addressPrefixes": ["10.0.0.0/40"]}}]}"#;
        let e = ServiceTags::from_json(bad).unwrap_err();
        assert_eq!(
            e.to_string(),
            "service tag `X`: `10.0.0.0/40` is not an IP address or CIDR prefix"
        );
        let dup = r#"{"values": [{"name": "A.b", "properties": {}}, {"name": "a.B"}]}"#;
        assert!(matches!(
            ServiceTags::from_json(dup),
            Err(TagsError::Duplicate { .. })
        ));
        let numeric = r#"{"changeNumber": 375, "values": [{"name": "A", "properties": {"changeNumber": 3, "addressPrefixes": ["1.2.3.4/32"]}}]}"#;
        assert_eq!(
            ServiceTags::from_json(numeric).unwrap().change_number(),
            Some("375")
        );
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("storage", "storage"), 0);
        assert_eq!(edit_distance("storage", "storaeg"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("sql", "sqlx"), 1);
    }
}
