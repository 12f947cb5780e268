//! Routing: system routes, user routes, tags, unknowns, and reading the model.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::IpAddr;

use amlguard_model::{Model, Resource, ResourceKind, Tree, TreeKind, UnknownValue, prov};
use amlguard_source::Route as Path;
use serde_json::{Value, json};

use super::*;
use crate::resolve::TagPrefix;
use crate::tags::UnknownTag;

// ---------------------------------------------------------------------------
// A resolver for tests: tags with exact prefixes, or symbolic tags (blocks in
// 240.0.0.0/4 of unknown length, with public literal prefixes possibly
// covering all of that space).

struct Fixture {
    symbolic: bool,
    tags: Vec<(&'static str, Vec<&'static str>)>,
}

const SYNTHETIC: &str = "240.0.0.0/4";

fn set(text: &str) -> AddrSet {
    AddrSet::parse(text).unwrap()
}

fn sets(texts: &[&str]) -> AddrSet {
    AddrSet::from_prefixes(texts.iter().copied()).unwrap()
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

impl Fixture {
    fn exact(tags: Vec<(&'static str, Vec<&'static str>)>) -> Fixture {
        Fixture {
            symbolic: false,
            tags,
        }
    }
    fn symbolic(tags: Vec<(&'static str, Vec<&'static str>)>) -> Fixture {
        Fixture {
            symbolic: true,
            tags,
        }
    }
    fn find(&self, name: &str) -> Result<&Vec<&'static str>, ResolveError> {
        self.tags
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, p)| p)
            .ok_or_else(|| {
                ResolveError::UnknownTag(UnknownTag {
                    name: name.to_string(),
                    suggestion: None,
                })
            })
    }
}

impl AddressResolver for Fixture {
    fn tag(&self, name: &str) -> Result<AddrBounds, ResolveError> {
        Ok(AddrBounds::exact(sets(self.find(name)?)))
    }
    fn tag_prefixes(&self, name: &str) -> Result<Vec<TagPrefix>, ResolveError> {
        Ok(self
            .find(name)?
            .iter()
            .map(|p| TagPrefix {
                addresses: AddrBounds::exact(set(p)),
                length: if self.symbolic { None } else { prefix_len(p) },
            })
            .collect())
    }
    fn asg(&self, id: &str) -> Result<AddrBounds, ResolveError> {
        Err(ResolveError::UnknownAsg { id: id.to_string() })
    }
    fn prefix(&self, s: &AddrSet) -> AddrBounds {
        let private = sets(&[
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "100.64.0.0/10",
            SYNTHETIC,
        ]);
        if self.symbolic && !s.is_subset(&private) && *s != AddrSet::all_v4() && !s.is_all() {
            AddrBounds {
                surely: s.clone(),
                possibly: s.union(&set(SYNTHETIC)),
            }
        } else {
            AddrBounds::exact(s.clone())
        }
    }
    fn internet_only(&self) -> AddrBounds {
        AddrBounds::empty()
    }
}

fn no_tags() -> Fixture {
    Fixture::exact(Vec::new())
}

fn vnet(space: &str) -> SystemRoutes {
    SystemRoutes {
        vnet: set(space),
        ..SystemRoutes::default()
    }
}

/// The one hop an address surely goes to, checking `explain` agrees.
fn hop(r: &Routing, a: &str) -> Option<Hop> {
    let a = ip(a);
    let sure: Vec<Hop> = r
        .hops()
        .into_iter()
        .filter(|(_, b)| b.surely.contains(a))
        .map(|(h, _)| h)
        .collect();
    let ev = r.explain(a);
    assert!(sure.len() <= 1, "{a}: surely to several hops {sure:?}");
    assert_eq!(ev.hop, sure.first().copied(), "{a}: explain disagrees");
    ev.hop
}

/// The hops an address possibly goes to, checking `explain` agrees.
fn possible(r: &Routing, a: &str) -> Vec<Hop> {
    let a = ip(a);
    let v: Vec<Hop> = r
        .hops()
        .into_iter()
        .filter(|(_, b)| b.possibly.contains(a))
        .map(|(h, _)| h)
        .collect();
    assert_eq!(r.explain(a).possible, v, "{a}: explain disagrees");
    v
}

const NVA: &str = "10.0.1.4";

fn nva() -> Hop {
    Hop::Appliance(Some(ip(NVA)))
}

// ---------------------------------------------------------------------------
// System routes.

#[test]
fn system_routes_alone() {
    let sys = SystemRoutes {
        vnet: set("10.0.0.0/16"),
        peered: set("10.1.0.0/16"),
        gateway: AddrSet::empty(),
    };
    let r = Routing::new(&[], &sys, &no_tags()).unwrap();
    assert_eq!(hop(&r, "10.0.3.4"), Some(Hop::VnetLocal));
    assert_eq!(hop(&r, "10.1.255.255"), Some(Hop::Peering));
    assert_eq!(hop(&r, "10.2.0.0"), Some(Hop::Drop));
    assert_eq!(hop(&r, "172.31.255.255"), Some(Hop::Drop));
    assert_eq!(hop(&r, "172.32.0.0"), Some(Hop::Internet));
    assert_eq!(hop(&r, "192.168.1.1"), Some(Hop::Drop));
    assert_eq!(hop(&r, "100.64.0.1"), Some(Hop::Drop));
    assert_eq!(hop(&r, "100.128.0.0"), Some(Hop::Internet));
    assert_eq!(hop(&r, "8.8.8.8"), Some(Hop::Internet));
    assert_eq!(hop(&r, "2001:db8::1"), Some(Hop::Internet));
    // Everything is exact, and the hops partition the address space.
    let hops = r.hops();
    assert!(hops.iter().all(|(_, b)| b.is_exact()));
    let all = AddrSet::union_all(hops.iter().map(|(_, b)| &b.surely));
    assert!(all.is_all());
    let total: usize = hops.iter().map(|(_, b)| b.surely.range_count()).sum();
    assert!(total >= hops.len());
    let drop = r.to_hop(&Hop::Drop).surely;
    let expected = sets(&[
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
    ])
    .difference(&set("10.0.0.0/15"));
    assert_eq!(drop, expected);
    let ev = r.explain(ip("10.2.0.0"));
    let route = ev.route.unwrap();
    assert!(!route.user);
    assert_eq!(route.prefix, "10.0.0.0/8");
    assert!(ev.doubts.is_empty());
}

#[test]
fn address_space_over_a_reserved_range_replaces_its_none_route() {
    // The same prefix: the next hop becomes the VNet.
    let r = Routing::new(&[], &vnet("10.0.0.0/8"), &no_tags()).unwrap();
    assert_eq!(hop(&r, "10.200.0.1"), Some(Hop::VnetLocal));
    assert_eq!(hop(&r, "172.16.0.1"), Some(Hop::Drop));
    // A larger prefix: the reserved route is removed.
    let r = Routing::new(&[], &vnet("100.64.0.0/9"), &no_tags()).unwrap();
    assert_eq!(hop(&r, "100.100.0.1"), Some(Hop::VnetLocal));
    assert_eq!(hop(&r, "100.0.0.1"), Some(Hop::VnetLocal));
    assert_eq!(hop(&r, "100.128.0.1"), Some(Hop::Internet));
}

#[test]
fn gateway_routes() {
    let sys = SystemRoutes {
        vnet: set("10.0.0.0/16"),
        peered: AddrSet::empty(),
        gateway: sets(&["10.0.1.0/24", "192.168.0.0/24", "10.9.0.0/16"]),
    };
    let r = Routing::new(&[], &sys, &no_tags()).unwrap();
    // The VNet's route is preferred even though the gateway's is more specific.
    assert_eq!(hop(&r, "10.0.1.5"), Some(Hop::VnetLocal));
    // Longer than the reserved None routes.
    assert_eq!(hop(&r, "192.168.0.7"), Some(Hop::Gateway));
    assert_eq!(hop(&r, "10.9.3.3"), Some(Hop::Gateway));
    assert_eq!(hop(&r, "192.168.1.7"), Some(Hop::Drop));
    // A user route of the same length beats a gateway route.
    let user = [RouteEntry::appliance("onprem", "10.9.0.0/16", ip(NVA))];
    let r = Routing::new(&user, &sys, &no_tags()).unwrap();
    assert_eq!(hop(&r, "10.9.3.3"), Some(nva()));
}

// ---------------------------------------------------------------------------
// User routes.

#[test]
fn default_route_to_an_appliance_overrides_internet() {
    let user = [RouteEntry::appliance("default-nva", "0.0.0.0/0", ip(NVA))];
    let r = Routing::new(&user, &vnet("10.0.0.0/16"), &no_tags()).unwrap();
    assert_eq!(hop(&r, "8.8.8.8"), Some(nva()));
    assert_eq!(hop(&r, "10.0.9.9"), Some(Hop::VnetLocal));
    // The reserved None routes are longer than /0.
    assert_eq!(hop(&r, "10.3.0.1"), Some(Hop::Drop));
    // IPv6 keeps its own default route.
    assert_eq!(hop(&r, "2001:db8::1"), Some(Hop::Internet));
    let internet = r.to_hop(&Hop::Internet);
    assert_eq!(internet.surely, AddrSet::all_v6());
    let ev = r.explain(ip("8.8.8.8"));
    let route = ev.route.unwrap();
    assert!(route.user);
    assert_eq!(route.name, "default-nva");
    assert_eq!(route.index, Some(0));
}

#[test]
fn tag_route_to_internet_beats_default_route_to_appliance() {
    let tags = vec![(
        "AzureMachineLearning",
        vec!["20.42.0.240/28", "40.74.0.0/18", "2603:1030:210:1::2c0/122"],
    )];
    let user = [
        RouteEntry::appliance("default-nva", "0.0.0.0/0", ip(NVA)),
        RouteEntry::new("aml", "AzureMachineLearning", NextHopKind::Internet),
    ];
    let r = Routing::new(&user, &vnet("10.0.0.0/16"), &Fixture::exact(tags.clone())).unwrap();
    assert_eq!(hop(&r, "20.42.0.241"), Some(Hop::Internet));
    assert_eq!(hop(&r, "40.74.63.255"), Some(Hop::Internet));
    assert_eq!(hop(&r, "40.74.64.0"), Some(nva()));
    assert_eq!(hop(&r, "20.42.1.0"), Some(nva()));
    assert_eq!(hop(&r, "2603:1030:210:1::2c1"), Some(Hop::Internet));
    let ev = r.explain(ip("20.42.0.241"));
    assert_eq!(
        ev.route.unwrap().prefix,
        "AzureMachineLearning: 20.42.0.240/28"
    );
    assert!(r.hops().iter().all(|(_, b)| b.is_exact()));

    // Without a service-tag file the tag's prefixes have unknown lengths, but
    // every one of them is longer than /0.
    let tags = vec![("AzureMachineLearning", vec!["240.0.0.0/24"])];
    let r = Routing::new(&user, &vnet("10.0.0.0/16"), &Fixture::symbolic(tags)).unwrap();
    assert_eq!(hop(&r, "240.0.0.9"), Some(Hop::Internet));
    assert_eq!(hop(&r, "240.0.1.9"), Some(nva()));
}

#[test]
fn none_drops() {
    let user = [RouteEntry::new(
        "blackhole",
        "20.0.0.0/8",
        NextHopKind::None,
    )];
    let r = Routing::new(&user, &vnet("10.0.0.0/16"), &no_tags()).unwrap();
    assert_eq!(hop(&r, "20.1.2.3"), Some(Hop::Drop));
    assert_eq!(hop(&r, "21.0.0.0"), Some(Hop::Internet));
}

#[test]
fn user_route_beats_system_route_at_equal_length() {
    let user = [
        RouteEntry::appliance("within-vnet", "10.0.0.0/16", ip(NVA)),
        RouteEntry::new("private", "172.16.0.0/12", NextHopKind::Internet),
        RouteEntry::new("subnet", "10.0.1.0/24", NextHopKind::VnetLocal),
    ];
    let r = Routing::new(&user, &vnet("10.0.0.0/16"), &no_tags()).unwrap();
    assert_eq!(hop(&r, "10.0.0.7"), Some(nva()));
    assert_eq!(hop(&r, "10.0.1.7"), Some(Hop::VnetLocal));
    assert_eq!(hop(&r, "172.20.0.1"), Some(Hop::Internet));
    assert_eq!(hop(&r, "10.1.0.1"), Some(Hop::Drop));
}

#[test]
fn literal_prefix_beats_tag_with_the_same_prefix() {
    let tags = vec![
        ("Storage", vec!["20.60.0.0/16"]),
        ("Storage.WestEurope", vec!["20.60.0.0/16"]),
        ("AzureCloud", vec!["20.60.0.0/16", "20.61.0.0/16"]),
    ];
    let user = [
        RouteEntry::new("cloud", "AzureCloud", NextHopKind::None),
        RouteEntry::new("storage", "Storage", NextHopKind::Internet),
        RouteEntry::appliance("literal", "20.60.0.0/16", ip(NVA)),
    ];
    let r = Routing::new(&user, &vnet("10.0.0.0/16"), &Fixture::exact(tags.clone())).unwrap();
    assert_eq!(hop(&r, "20.60.1.1"), Some(nva()));
    assert_eq!(hop(&r, "20.61.1.1"), Some(Hop::Drop));
    // A top-level tag beats AzureCloud.
    let r = Routing::new(
        &user[..2],
        &vnet("10.0.0.0/16"),
        &Fixture::exact(tags.clone()),
    )
    .unwrap();
    assert_eq!(hop(&r, "20.60.1.1"), Some(Hop::Internet));
    // A dotted name may be regional (ahead of `Storage`) or a dotted global
    // tag (level with it): not decided from the name alone.
    let user = [
        RouteEntry::new("storage", "Storage", NextHopKind::Internet),
        RouteEntry::new("regional", "Storage.WestEurope", NextHopKind::None),
    ];
    let r = Routing::new(&user, &vnet("10.0.0.0/16"), &Fixture::exact(tags)).unwrap();
    assert_eq!(hop(&r, "20.60.1.1"), None);
    assert_eq!(possible(&r, "20.60.1.1"), vec![Hop::Internet, Hop::Drop]);
}

#[test]
fn unknown_next_hop_is_possible() {
    let mut route = RouteEntry::new("mystery", "20.0.0.0/8", NextHopKind::Internet);
    route.next_hop = Setting::Unknown;
    route.unknown.push(UnknownPart {
        field: "nextHopType".to_string(),
        value: UnknownValue {
            reason: "it depends on a parameter".to_string(),
            input: Some("parameter 'hopType'".to_string()),
            secret: false,
        },
        at: None,
    });
    let r = Routing::new(&[route], &vnet("10.0.0.0/16"), &no_tags()).unwrap();
    assert_eq!(hop(&r, "20.1.2.3"), None);
    assert_eq!(
        possible(&r, "20.1.2.3"),
        vec![
            Hop::Internet,
            Hop::Appliance(None),
            Hop::Drop,
            Hop::VnetLocal,
            Hop::Gateway
        ]
    );
    // Outside its prefix nothing changes.
    assert_eq!(hop(&r, "21.0.0.1"), Some(Hop::Internet));
    let ev = r.explain(ip("20.1.2.3"));
    assert_eq!(ev.route.unwrap().name, "mystery");
    assert_eq!(ev.doubts.len(), 1);
    assert!(
        ev.doubts[0].contains("parameter 'hopType'"),
        "{:?}",
        ev.doubts
    );
}

#[test]
fn unknown_appliance_address() {
    let mut route = RouteEntry::new("nva", "0.0.0.0/0", NextHopKind::VirtualAppliance);
    route.next_hop_ip = Some(Setting::Unknown);
    let r = Routing::new(&[route], &vnet("10.0.0.0/16"), &no_tags()).unwrap();
    assert_eq!(hop(&r, "8.8.8.8"), Some(Hop::Appliance(None)));
    let ecmp = RouteEntry::new("ecmp", "0.0.0.0/0", NextHopKind::VirtualApplianceEcmp);
    let r = Routing::new(&[ecmp], &vnet("10.0.0.0/16"), &no_tags()).unwrap();
    assert_eq!(hop(&r, "8.8.8.8"), Some(Hop::Appliance(None)));
}

#[test]
fn unknown_existence_and_prefix() {
    let mut maybe = RouteEntry::appliance("maybe", "0.0.0.0/0", ip(NVA));
    maybe.exists = Setting::Unknown;
    let r = Routing::new(&[maybe], &vnet("10.0.0.0/16"), &no_tags()).unwrap();
    assert_eq!(hop(&r, "8.8.8.8"), None);
    assert_eq!(possible(&r, "8.8.8.8"), vec![Hop::Internet, nva()]);
    assert_eq!(hop(&r, "10.0.0.1"), Some(Hop::VnetLocal));
    assert!(r.explain(ip("8.8.8.8")).doubts[0].contains("deployed"));

    let mut anywhere = RouteEntry::new("anywhere", "0.0.0.0/0", NextHopKind::None);
    anywhere.prefix = Setting::Unknown;
    let r = Routing::new(&[anywhere], &vnet("10.0.0.0/16"), &no_tags()).unwrap();
    // It may be a /32 for any address: nothing is sure but that it goes to
    // where the system route says or is dropped.
    assert_eq!(possible(&r, "10.0.0.1"), vec![Hop::Drop, Hop::VnetLocal]);
    assert_eq!(possible(&r, "8.8.8.8"), vec![Hop::Internet, Hop::Drop]);
    // Only what the system drops is sure: dropped either way.
    for (h, b) in r.hops() {
        assert_eq!(b.surely.is_empty(), h != Hop::Drop, "{h}");
    }
    assert_eq!(hop(&r, "10.1.0.1"), Some(Hop::Drop));
    // A known user /32 of the same length still cannot be beaten.
    let mut anywhere = RouteEntry::new("anywhere", "0.0.0.0/0", NextHopKind::None);
    anywhere.prefix = Setting::Unknown;
    let host = RouteEntry::new("host", "8.8.8.8/32", NextHopKind::Internet);
    let r = Routing::new(&[anywhere, host], &vnet("10.0.0.0/16"), &no_tags()).unwrap();
    assert_eq!(hop(&r, "8.8.8.8"), None);
}

#[test]
fn symbolic_tag_against_a_literal_prefix() {
    // Without a tag file, whether 20.1.0.0/16 holds some of Storage's
    // addresses, and which prefix is longer there, is not known.
    let tags = vec![("Storage", vec!["240.0.0.0/24"])];
    let user = [
        RouteEntry::appliance("literal", "20.1.0.0/16", ip(NVA)),
        RouteEntry::new("storage", "Storage", NextHopKind::Internet),
    ];
    let r = Routing::new(&user, &vnet("10.0.0.0/16"), &Fixture::symbolic(tags)).unwrap();
    assert_eq!(hop(&r, "240.0.0.5"), None);
    assert_eq!(possible(&r, "240.0.0.5"), vec![Hop::Internet, nva()]);
    assert_eq!(hop(&r, "20.1.2.3"), Some(nva()));
    let ev = r.explain(ip("240.0.0.5"));
    assert!(
        ev.doubts.iter().any(|d| d.contains("literal")),
        "{:?}",
        ev.doubts
    );
    // Outside the tag, synthetic space only possibly goes to the literal route.
    assert_eq!(possible(&r, "240.1.0.0"), vec![Hop::Internet, nva()]);
}

#[test]
fn errors_name_the_route() {
    let sys = vnet("10.0.0.0/16");
    let dup = [
        RouteEntry::appliance("a", "20.0.0.0/8", ip(NVA)),
        RouteEntry::new("b", "20.0.0.0/8", NextHopKind::Internet),
    ];
    let e = Routing::new(&dup, &sys, &no_tags()).unwrap_err();
    assert_eq!(e.route, "b");
    assert!(matches!(e.kind, RouteErrorKind::Duplicate { .. }));
    assert!(e.to_string().contains("route `a`"), "{e}");
    // With a condition not known offline the two may not coexist: no error.
    let mut dup = dup;
    dup[1].exists = Setting::Unknown;
    let r = Routing::new(&dup, &sys, &no_tags()).unwrap();
    assert_eq!(possible(&r, "20.0.0.1"), vec![Hop::Internet, nva()]);

    let no_ip = RouteEntry::new("x", "0.0.0.0/0", NextHopKind::VirtualAppliance);
    let e = Routing::new(&[no_ip], &sys, &no_tags()).unwrap_err();
    assert_eq!(
        e.kind,
        RouteErrorKind::Missing {
            field: "nextHopIpAddress"
        }
    );
    assert_eq!(e.to_string(), "route `x`: no nextHopIpAddress is set");

    let bad = RouteEntry::new("y", "10.0.0.0/33", NextHopKind::Internet);
    let e = Routing::new(&[bad], &sys, &no_tags()).unwrap_err();
    assert!(matches!(e.kind, RouteErrorKind::Invalid { .. }), "{e}");

    let tag = RouteEntry::new("z", "NoSuchTag", NextHopKind::Internet);
    let e = Routing::new(&[tag], &sys, &no_tags()).unwrap_err();
    assert!(matches!(e.kind, RouteErrorKind::Resolve(_)));
    assert!(e.to_string().contains("NoSuchTag"), "{e}");

    let virt = RouteEntry::new("v", "Internet", NextHopKind::Internet);
    assert!(Routing::new(&[virt], &sys, &no_tags()).is_err());

    // A route that is not deployed is not evaluated.
    let mut off = RouteEntry::new("off", "NoSuchTag", NextHopKind::Internet);
    off.exists = Setting::Known(false);
    assert!(Routing::new(&[off], &sys, &no_tags()).is_ok());
}

#[test]
fn parsing() {
    assert_eq!(
        NextHopKind::parse("virtualappliance"),
        Some(NextHopKind::VirtualAppliance)
    );
    assert_eq!(
        NextHopKind::parse("VNetLocal"),
        Some(NextHopKind::VnetLocal)
    );
    assert_eq!(NextHopKind::parse("Null"), None);
    assert!(matches!(
        RoutePrefix::parse("10.1.0.0/16"),
        Setting::Known(RoutePrefix::Prefix(_, 16, _))
    ));
    assert!(matches!(
        RoutePrefix::parse("10.1.0.7"),
        Setting::Known(RoutePrefix::Prefix(_, 32, _))
    ));
    assert!(matches!(
        RoutePrefix::parse("2001:db8::/32"),
        Setting::Known(RoutePrefix::Prefix(_, 32, _))
    ));
    assert_eq!(
        RoutePrefix::parse("Storage.WestEurope"),
        Setting::Known(RoutePrefix::Tag("Storage.WestEurope".to_string()))
    );
    assert!(matches!(
        RoutePrefix::parse("10.0.0.x"),
        Setting::Invalid(_)
    ));
    assert!(matches!(
        RoutePrefix::parse("10.0.0.1/a"),
        Setting::Invalid(_)
    ));
    assert!(matches!(RoutePrefix::parse(""), Setting::Invalid(_)));
    assert!(matches!(
        RoutePrefix::parse("VirtualNetwork"),
        Setting::Invalid(_)
    ));
}

// ---------------------------------------------------------------------------
// Reading the model.

/// A tree from JSON, each node's provenance its path under `at`.
fn tree(v: &Value, at: Path) -> Tree {
    let p = Some(prov("main.json", at.clone()));
    let kind = match v {
        Value::Null => TreeKind::Null,
        Value::Bool(b) => TreeKind::Bool(*b),
        Value::Number(n) => TreeKind::Int(n.as_i64().unwrap()),
        Value::String(s) if s == "<unknown>" => TreeKind::Unknown(UnknownValue {
            reason: "it depends on a parameter".to_string(),
            input: Some("parameter 'p'".to_string()),
            secret: false,
        }),
        Value::String(s) => TreeKind::String(s.clone()),
        Value::Array(a) => TreeKind::Array(
            a.iter()
                .enumerate()
                .map(|(i, x)| tree(x, at.push_index(i)))
                .collect(),
        ),
        Value::Object(o) => TreeKind::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), tree(x, at.push_key(k))))
                .collect(),
        ),
    };
    Tree::new(kind, p)
}

const RT: &str = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/routeTables/rt";

fn resource(kind: ResourceKind, arm_type: &str, name: &str, id: &str, body: Tree) -> Resource {
    Resource {
        kind,
        arm_type: arm_type.to_string(),
        name: Some(name.to_string()),
        id: Some(id.to_string()),
        api_version: None,
        condition: Some(true),
        existing: false,
        prov: body.prov.clone().unwrap(),
        body,
        scope: None,
    }
}

/// A model as ingest builds it: the table, a copy of each inline route as a
/// child resource, and separately declared children.
fn model(routes: Value, separate: Vec<(&str, Value, Option<bool>)>) -> Model {
    let table_body = tree(
        &json!({"properties": {"routes": routes}}),
        Path::root().push_key("resources").push_index(0),
    );
    let table = resource(
        ResourceKind::RouteTable,
        "Microsoft.Network/routeTables",
        "rt",
        RT,
        table_body,
    );
    let mut resources = vec![table.clone()];
    if let Some(items) = table
        .get("properties.routes")
        .known()
        .and_then(Tree::as_array)
    {
        for item in items {
            let Some(name) = item.member("name").and_then(Tree::as_str) else {
                continue;
            };
            let mut copy = resource(
                ResourceKind::Route,
                "Microsoft.Network/routeTables/routes",
                &format!("rt/{name}"),
                &format!("{RT}/routes/{name}"),
                item.clone(),
            );
            copy.prov = item.prov.clone().unwrap();
            resources.push(copy);
        }
    }
    for (i, (name, body, condition)) in separate.into_iter().enumerate() {
        let mut r = resource(
            ResourceKind::Route,
            "Microsoft.Network/routeTables/routes",
            &format!("rt/{name}"),
            &format!("{RT}/routes/{name}"),
            tree(&body, Path::root().push_key("resources").push_index(i + 1)),
        );
        r.condition = condition;
        resources.push(r);
    }
    Model::new(resources, Vec::new())
}

fn table(m: &Model) -> &Resource {
    m.of_kind(ResourceKind::RouteTable).next().unwrap()
}

#[test]
fn reads_inline_and_child_routes_once() {
    let m = model(
        json!([
            {"name": "default", "properties": {"addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.0.1.4"}},
            {"name": "aml", "properties": {"addressPrefix": "AzureMachineLearning", "nextHopType": "Internet"}},
            {"name": "replaced", "properties": {"addressPrefix": "20.0.0.0/8", "nextHopType": "None"}}
        ]),
        vec![
            (
                "replaced",
                json!({"properties": {"addressPrefix": "20.0.0.0/8", "nextHopType": "Internet"}}),
                Some(true),
            ),
            (
                "maybe",
                json!({"properties": {"addressPrefix": "30.0.0.0/8", "nextHopType": "None"}}),
                None,
            ),
            (
                "off",
                json!({"properties": {"addressPrefix": "40.0.0.0/8", "nextHopType": "None"}}),
                Some(false),
            ),
        ],
    );
    let routes = routes_from_model(&m, table(&m));
    let names: Vec<&str> = routes.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["default", "aml", "replaced", "maybe"]);
    let default = &routes[0];
    assert_eq!(
        default.next_hop,
        Setting::Known(NextHopKind::VirtualAppliance)
    );
    assert_eq!(default.next_hop_ip, Some(Setting::Known(ip(NVA))));
    assert_eq!(default.exists, Setting::Known(true));
    assert!(!default.is_unknown());
    assert_eq!(
        default.prov.as_ref().unwrap().route,
        Path::root()
            .push_key("resources")
            .push_index(0)
            .push_key("properties")
            .push_key("routes")
            .push_index(0)
    );
    assert_eq!(
        routes[1].prefix,
        Setting::Known(RoutePrefix::Tag("AzureMachineLearning".to_string()))
    );
    assert_eq!(routes[1].next_hop_ip, None);
    assert_eq!(routes[2].next_hop, Setting::Known(NextHopKind::Internet));
    assert_eq!(routes[3].exists, Setting::Unknown);
    assert_eq!(routes[3].unknown[0].field, "condition");
}

#[test]
fn reads_unknown_parts() {
    let m = model(
        json!([
            {"name": "u", "properties": {"addressPrefix": "<unknown>", "nextHopType": "VirtualAppliance", "nextHopIpAddress": "<unknown>"}},
            {"name": "bad", "properties": {"addressPrefix": "10.0.0.0/8", "nextHopType": "Elsewhere"}},
            {"name": "none", "properties": {"nextHopType": "Internet"}}
        ]),
        Vec::new(),
    );
    let routes = routes_from_model(&m, table(&m));
    assert_eq!(routes.len(), 3);
    let u = &routes[0];
    assert_eq!(u.prefix, Setting::Unknown);
    assert_eq!(u.next_hop_ip, Some(Setting::Unknown));
    let fields: Vec<&str> = u.unknown.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["addressPrefix", "nextHopIpAddress"]);
    assert_eq!(u.unknown[0].value.input.as_deref(), Some("parameter 'p'"));
    assert_eq!(
        routes[1].next_hop,
        Setting::Invalid("Elsewhere".to_string())
    );
    assert_eq!(routes[2].prefix, Setting::Invalid(String::new()));
    let e = Routing::new(&routes[2..], &vnet("10.0.0.0/16"), &no_tags()).unwrap_err();
    assert_eq!(e.to_string(), "route `none`: no addressPrefix is set");
    let r = Routing::new(&routes[..1], &vnet("10.0.0.0/16"), &no_tags()).unwrap();
    assert_eq!(
        possible(&r, "8.8.8.8"),
        vec![Hop::Internet, Hop::Appliance(None)]
    );
    let ev = r.explain(ip("8.8.8.8"));
    assert!(
        ev.doubts.iter().any(|d| d.contains("parameter 'p'")),
        "{:?}",
        ev.doubts
    );

    // A routes list that is not known offline: any route.
    let m = model(json!("<unknown>"), Vec::new());
    let routes = routes_from_model(&m, table(&m));
    assert_eq!(routes.len(), 1);
    assert!(routes[0].is_unknown());
    let r = Routing::new(&routes, &vnet("10.0.0.0/16"), &no_tags()).unwrap();
    assert!(r.hops().iter().all(|(_, b)| b.surely.is_empty()));
    assert_eq!(possible(&r, "10.0.0.1").len(), 5);
}

#[test]
fn bgp_propagation() {
    let m = model(json!([]), Vec::new());
    assert_eq!(gateway_routes_propagate(table(&m)), Setting::Known(true));
    let body = tree(
        &json!({"properties": {"disableBgpRoutePropagation": true}}),
        Path::root(),
    );
    let t = resource(
        ResourceKind::RouteTable,
        "Microsoft.Network/routeTables",
        "rt",
        RT,
        body,
    );
    assert_eq!(gateway_routes_propagate(&t), Setting::Known(false));
}

// ---------------------------------------------------------------------------
// Scale: a full service-tag file and a large route table.

/// Tags from Microsoft's file, each as its largest aligned blocks (worked
/// out beforehand for the tags routes use, as a resolver would cache them).
struct FileTags(crate::tags::ServiceTags, Vec<(String, Vec<TagPrefix>)>);

impl FileTags {
    fn new(tags: crate::tags::ServiceTags, names: &[&str]) -> FileTags {
        let prefixes = names
            .iter()
            .map(|n| {
                let set = tags.resolve(n).unwrap();
                let v = cidr_blocks(set)
                    .into_iter()
                    .map(|(block, len, _)| TagPrefix {
                        addresses: AddrBounds::exact(block),
                        length: Some(len),
                    })
                    .collect();
                (n.to_ascii_lowercase(), v)
            })
            .collect();
        FileTags(tags, prefixes)
    }
}

impl AddressResolver for FileTags {
    fn tag(&self, name: &str) -> Result<AddrBounds, ResolveError> {
        self.0
            .resolve(name)
            .map(|s| AddrBounds::exact(s.clone()))
            .map_err(ResolveError::UnknownTag)
    }
    fn tag_prefixes(&self, name: &str) -> Result<Vec<TagPrefix>, ResolveError> {
        let key = name.to_ascii_lowercase();
        match self.1.iter().find(|(n, _)| *n == key) {
            Some((_, v)) => Ok(v.clone()),
            None => Err(ResolveError::UnknownTag(UnknownTag {
                name: name.to_string(),
                suggestion: None,
            })),
        }
    }
    fn asg(&self, id: &str) -> Result<AddrBounds, ResolveError> {
        Err(ResolveError::UnknownAsg { id: id.to_string() })
    }
    fn prefix(&self, set: &AddrSet) -> AddrBounds {
        AddrBounds::exact(set.clone())
    }
    fn internet_only(&self) -> AddrBounds {
        AddrBounds::empty()
    }
}

#[test]
fn large_table_with_a_full_tag_file() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../../../shared/corpus/ryanborMSFT__AzureServiceTagsJson/Public/ServiceTags_Public_20251028.json",
    );
    let Ok(text) = std::fs::read_to_string(&path) else {
        return;
    };
    // Azure allows 25 routes with service tags per route table.
    let tag_names = [
        "AzureCloud",
        "AzureMonitor",
        "AzureContainerRegistry",
        "DataFactory",
        "AzureKeyVault",
        "Storage",
        "BatchNodeManagement",
        "AzureResourceManager",
        "MicrosoftContainerRegistry",
        "AzureMachineLearning",
        "AzureActiveDirectory",
        "AzureFrontDoor.Frontend",
        "AzureFrontDoor.FirstParty",
        "AzureMachineLearningInference",
        "Storage.WestEurope",
        "Storage.EastUS",
        "AzureCloud.westeurope",
        "AzureCloud.eastus",
        "AzureMonitor.WestEurope",
        "BatchNodeManagement.WestEurope",
        "AzureMachineLearning.WestEurope",
        "AzureKeyVault.WestEurope",
        "AzureContainerRegistry.WestEurope",
        "AzureResourceManager.WestEurope",
        "MicrosoftContainerRegistry.WestEurope",
    ];
    let tags = FileTags::new(
        crate::tags::ServiceTags::from_json(&text).unwrap(),
        &tag_names,
    );
    let prefix_count: usize = tags.1.iter().map(|(_, v)| v.len()).sum();
    assert!(prefix_count > 10_000, "{prefix_count}");
    let mut user: Vec<RouteEntry> = tag_names
        .iter()
        .map(|t| RouteEntry::new(t, t, NextHopKind::Internet))
        .collect();
    user.push(RouteEntry::appliance("default", "0.0.0.0/0", ip(NVA)));
    for i in 0..500u32 {
        let prefix = format!(
            "{}.{}.{}.0/{}",
            100 + i % 100,
            i / 100,
            (i * 7) % 256,
            16 + i % 9
        );
        let kind = if i % 3 == 0 {
            NextHopKind::None
        } else {
            NextHopKind::VnetLocal
        };
        let mut e = RouteEntry::new(&format!("r{i}"), &prefix, kind);
        // Keep prefixes distinct (a duplicate is an error).
        if user.iter().any(|u| u.prefix == e.prefix) {
            e.exists = Setting::Known(false);
        }
        user.push(e);
    }
    let sys = vnet("10.0.0.0/16");
    let start = std::time::Instant::now();
    let r = Routing::new(&user, &sys, &tags).unwrap();
    let hops = r.hops();
    let took = start.elapsed();
    if !cfg!(debug_assertions) {
        assert!(took.as_millis() < 100, "took {took:?}");
    }
    // Every tag route goes to the internet, so nothing is uncertain.
    assert!(hops.iter().all(|(_, b)| b.is_exact()));
    assert_eq!(hop(&r, "20.42.0.241"), Some(Hop::Internet));
    assert_eq!(hop(&r, "8.8.8.8"), Some(nva()));
    assert_eq!(hop(&r, "10.0.0.4"), Some(Hop::VnetLocal));
    // Where no literal, reserved or VNet route lies, every tag address goes
    // to the internet, and nothing outside the tags does.
    let tagged = AddrSet::union_all(
        tag_names
            .iter()
            .map(|t| tags.tag(t).unwrap().surely)
            .collect::<Vec<_>>()
            .iter(),
    );
    let internet = r.to_hop(&Hop::Internet).surely;
    let v4 = AddrSet::all_v4();
    assert!(internet.intersection(&v4).is_subset(&tagged));
    let other = AddrSet::from_prefixes(
        user.iter()
            .filter(|u| u.exists == Setting::Known(true))
            .filter_map(|u| match &u.prefix {
                Setting::Known(RoutePrefix::Prefix(_, _, t)) if t != "0.0.0.0/0" => {
                    Some(t.as_str())
                }
                _ => None,
            })
            .chain(RESERVED.iter().map(|(p, _)| *p))
            .chain(["10.0.0.0/16"]),
    )
    .unwrap();
    assert!(
        tagged
            .intersection(&v4)
            .difference(&other)
            .is_subset(&internet)
    );
    assert!(!internet.is_empty());
}
