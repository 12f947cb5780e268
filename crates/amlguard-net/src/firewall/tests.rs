#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use amlguard_arm::template::{self, Options};
use amlguard_model::{Model, ResourceKind};
use amlguard_source::Document;

use super::*;
use crate::resolve::TagPrefix;

/// Exact tags (as with a service-tag file) and exact prefixes.
struct Tags(HashMap<String, AddrSet>);

impl Tags {
    fn new() -> Tags {
        let mut m = HashMap::new();
        for (name, p) in [
            ("storage", "20.60.0.0/16"),
            ("storage.westeurope", "20.60.1.0/24"),
            ("azureactivedirectory", "40.126.0.0/18"),
            ("azurecloud", "20.0.0.0/8"),
        ] {
            m.insert(name.to_string(), AddrSet::parse(p).unwrap());
        }
        Tags(m)
    }
}

impl AddressResolver for Tags {
    fn tag(&self, name: &str) -> Result<AddrBounds, ResolveError> {
        self.0
            .get(&name.to_ascii_lowercase())
            .map(|s| AddrBounds::exact(s.clone()))
            .ok_or_else(|| {
                ResolveError::UnknownTag(crate::tags::UnknownTag {
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
        AddrBounds::exact(set.clone())
    }
    fn internet_only(&self) -> AddrBounds {
        AddrBounds::exact(AddrSet::parse("1.0.0.0/8").unwrap())
    }
}

fn subnet() -> AddrSet {
    AddrSet::parse("10.0.1.0/24").unwrap()
}

fn tcp(dst: &str, port: u16) -> Packet {
    Packet::new(Protocol::Tcp, dst.parse::<IpAddr>().unwrap(), port)
}

fn verdict(fw: &Firewall, host: &HostQuery, service: &Service) -> AppVerdict {
    fw.app_verdict(&subnet(), &Tags::new(), host, service)
        .unwrap()
}

fn host(name: &str) -> HostQuery {
    HostQuery::name(name)
}

#[test]
fn empty_firewall_denies_everything() {
    let fw = Firewall::new("fw");
    let stage = fw.network_stage(&subnet(), &Tags::new()).unwrap();
    assert!(stage.allowed.surely.is_empty() && stage.allowed.possibly.is_empty());
    assert!(stage.unmatched.surely.is_all());
    let v = verdict(&fw, &host("ml.azure.com"), &Service::https(443));
    assert_eq!(v.verdict, Verdict::Denied);
    assert_eq!(v.decided_by, None);
    let ev = fw
        .explain_packet(&subnet(), &Tags::new(), &tcp("1.2.3.4", 443))
        .unwrap();
    assert_eq!(ev.outcome, NetOutcome::Unmatched);
}

#[test]
fn network_rules_come_before_application_rules() {
    // The application rule sits in a collection of better priority; the
    // network deny still wins (rule processing logic).
    let fw = Firewall::new("fw")
        .with_collection(RuleCollection::application(
            "web",
            100,
            Access::Allow,
            vec![ApplicationRule::new("all-https").with_fqdns(&["*"])],
        ))
        .with_collection(RuleCollection::network(
            "block",
            65000,
            Access::Deny,
            vec![
                NetworkRule::new("no-443")
                    .with_destinations(&["*"])
                    .with_ports(&["443"])
                    .with_protocols(&["TCP"]),
            ],
        ));
    let v = verdict(&fw, &host("ml.azure.com"), &Service::https(443));
    assert_eq!(v.verdict, Verdict::Denied);
    let by = v.decided_by.unwrap();
    assert_eq!(by.name, "no-443");
    assert_eq!(by.kind, RuleKind::Network);
    // On 80 no network rule matches, so the application rule decides… but
    // it only names Https:443.
    let v = verdict(&fw, &host("ml.azure.com"), &Service::http(80));
    assert_eq!(v.verdict, Verdict::Denied);
    let v = verdict(&fw, &host("ml.azure.com"), &Service::https(443));
    assert!(v.doubts.is_empty());
    // Application rules alone (for traffic no network rule matched).
    let c = fw.compile(&subnet(), &Tags::new()).unwrap();
    let v = c.application_verdict(&host("ml.azure.com"), &Service::https(443));
    assert_eq!(v.verdict, Verdict::Allowed);
    assert_eq!(v.decided_by.unwrap().name, "all-https");
}

#[test]
fn collections_by_priority() {
    let allow = |p| {
        RuleCollection::network(
            "allow",
            p,
            Access::Allow,
            vec![
                NetworkRule::new("a")
                    .with_destinations(&["20.0.0.0/8"])
                    .with_ports(&["443"])
                    .with_protocols(&["TCP"]),
            ],
        )
    };
    let deny = |p| {
        RuleCollection::network(
            "deny",
            p,
            Access::Deny,
            vec![
                NetworkRule::new("d")
                    .with_destinations(&["Storage"])
                    .with_ports(&["*"])
                    .with_protocols(&["Any"]),
            ],
        )
    };
    let p = tcp("20.60.5.5", 443);
    let fw = Firewall::new("fw")
        .with_collection(deny(200))
        .with_collection(allow(100));
    let ev = fw.explain_packet(&subnet(), &Tags::new(), &p).unwrap();
    assert_eq!(ev.outcome, NetOutcome::Allowed);
    assert_eq!(ev.decided_by.unwrap().name, "a");
    let fw = Firewall::new("fw")
        .with_collection(deny(100))
        .with_collection(allow(200));
    let stage = fw.network_stage(&subnet(), &Tags::new()).unwrap();
    assert!(!stage.allowed.possibly.contains(&p));
    assert!(stage.allowed.surely.contains(&tcp("20.1.1.1", 443)));
    assert!(stage.unmatched.surely.contains(&tcp("20.1.1.1", 80)));
    let ev = fw.explain_packet(&subnet(), &Tags::new(), &p).unwrap();
    assert_eq!(ev.outcome, NetOutcome::Denied);
    assert_eq!(ev.decided_by.unwrap().name, "d");
}

#[test]
fn groups_then_collections_then_parent_policy_first() {
    let net = |name: &str, action| {
        RuleCollection::network(
            name,
            100,
            action,
            vec![
                NetworkRule::new(name)
                    .with_destinations(&["*"])
                    .with_ports(&["443"])
                    .with_protocols(&["TCP"]),
            ],
        )
    };
    let p = tcp("1.2.3.4", 443);
    // Group 200 before group 300, whatever the collections' priorities.
    let mut late = net("allow-late-group", Access::Allow).in_group("g300", 300, 0);
    late.priority = Setting::Known(100);
    let mut early = net("deny-early-group", Access::Deny).in_group("g200", 200, 0);
    early.priority = Setting::Known(60000);
    let fw = Firewall::new("fw")
        .with_collection(late.clone())
        .with_collection(early.clone());
    let ev = fw.explain_packet(&subnet(), &Tags::new(), &p).unwrap();
    assert_eq!(ev.outcome, NetOutcome::Denied);
    assert_eq!(ev.decided_by.unwrap().group.as_deref(), Some("g200"));
    // The parent policy (level 0) before the child (level 1), whatever the
    // group priorities.
    let parent = net("parent-allow", Access::Allow).in_group("base", 65000, 0);
    let child = net("child-deny", Access::Deny).in_group("child", 100, 1);
    let fw = Firewall::new("fw")
        .with_collection(child)
        .with_collection(parent);
    let ev = fw.explain_packet(&subnet(), &Tags::new(), &p).unwrap();
    assert_eq!(ev.outcome, NetOutcome::Allowed);
    assert_eq!(ev.decided_by.unwrap().name, "parent-allow");
}

#[test]
fn network_rules_first_across_groups() {
    // An application allow in group 100 does not beat a network deny in
    // group 500.
    let app = RuleCollection::application(
        "web",
        100,
        Access::Allow,
        vec![ApplicationRule::new("pypi").with_fqdns(&["pypi.org"])],
    )
    .in_group("first", 100, 0);
    let net = RuleCollection::network(
        "net",
        100,
        Access::Deny,
        vec![
            NetworkRule::new("deny-all")
                .with_destinations(&["*"])
                .with_protocols(&["Any"]),
        ],
    )
    .in_group("last", 500, 0);
    let fw = Firewall::new("fw")
        .with_collection(app)
        .with_collection(net);
    let v = verdict(&fw, &host("pypi.org"), &Service::https(443));
    assert_eq!(v.verdict, Verdict::Denied);
    assert_eq!(v.decided_by.unwrap().name, "deny-all");
}

fn app_fw(rules: Vec<(Access, &[&str])>) -> Firewall {
    let mut fw = Firewall::new("fw");
    for (i, (access, fqdns)) in rules.into_iter().enumerate() {
        let p = 100 + u32::try_from(i).unwrap() * 100;
        fw = fw.with_collection(RuleCollection::application(
            &format!("c{p}"),
            p,
            access,
            vec![
                ApplicationRule::new(&format!("r{p}"))
                    .with_fqdns(fqdns)
                    .with_protocols(&["Https:443", "Http:80"]),
            ],
        ));
    }
    fw
}

#[test]
fn wildcards_as_azure_applies_them() {
    let https = Service::https(443);
    let fw = app_fw(vec![(Access::Allow, &["*.contoso.com"])]);
    assert_eq!(
        verdict(&fw, &host("contoso.com"), &https).verdict,
        Verdict::Denied
    );
    assert_eq!(
        verdict(&fw, &host("a.b.contoso.com"), &https).verdict,
        Verdict::Allowed
    );
    assert_eq!(
        verdict(&fw, &host("A.Contoso.COM"), &https).verdict,
        Verdict::Allowed
    );
    assert_eq!(
        verdict(&fw, &host("evilcontoso.com"), &https).verdict,
        Verdict::Denied
    );
    let fw = app_fw(vec![(Access::Allow, &["*contoso.com"])]);
    assert_eq!(
        verdict(&fw, &host("contoso.com"), &https).verdict,
        Verdict::Allowed
    );
    assert_eq!(
        verdict(&fw, &host("evilcontoso.com"), &https).verdict,
        Verdict::Allowed
    );
    // A name an insider registers anywhere matches `*contoso.com` only if
    // they pick it so: possible, not certain (the domain is theirs to pick
    // only under a suffix they control).
    let any = verdict(&fw, &HostQuery::fresh_under(""), &https);
    assert_eq!(any.verdict, Verdict::Unknown);
    // Ports: Https:443 and Http:80 only.
    assert_eq!(
        verdict(&fw, &host("contoso.com"), &Service::https(8443)).verdict,
        Verdict::Denied
    );
    // Not HTTP: application rules never match.
    assert_eq!(
        verdict(
            &fw,
            &host("contoso.com"),
            &Service::transport(Protocol::Tcp, 443)
        )
        .verdict,
        Verdict::Denied
    );
}

#[test]
fn fresh_hosts_under_suffixes() {
    let https = Service::https(443);
    let blob = HostQuery::fresh_under("blob.core.windows.net");
    let fw = app_fw(vec![(Access::Allow, &["*.blob.core.windows.net"])]);
    assert_eq!(verdict(&fw, &blob, &https).verdict, Verdict::Allowed);
    let fw = app_fw(vec![(Access::Allow, &["*.core.windows.net"])]);
    assert_eq!(verdict(&fw, &blob, &https).verdict, Verdict::Allowed);
    // The deployment's own account: not a fresh host.
    let fw = app_fw(vec![(Access::Allow, &["mystorage.blob.core.windows.net"])]);
    let v = verdict(&fw, &blob, &https);
    assert_eq!(v.verdict, Verdict::Denied);
    assert!(v.host.unwrap().ends_with(".blob.core.windows.net"));
    // Deny storage, allow the rest: no fresh account, but any internet host.
    let fw = app_fw(vec![
        (Access::Deny, &["*.blob.core.windows.net"]),
        (Access::Allow, &["*"]),
    ]);
    assert_eq!(verdict(&fw, &blob, &https).verdict, Verdict::Denied);
    assert_eq!(
        verdict(&fw, &HostQuery::fresh_under(""), &https).verdict,
        Verdict::Allowed
    );
    // A deny of some names under the suffix does not stop an insider, who
    // picks another name.
    let fw = app_fw(vec![
        (Access::Deny, &["*data.blob.core.windows.net"]),
        (Access::Allow, &["*.blob.core.windows.net"]),
    ]);
    let v = verdict(&fw, &blob, &https);
    assert_eq!(v.verdict, Verdict::Allowed);
    assert!(!v.host.unwrap().ends_with("data.blob.core.windows.net"));
    // An allow of names ending in `data…`: an insider names an account so.
    let fw = app_fw(vec![(Access::Allow, &["*data.blob.core.windows.net"])]);
    assert_eq!(verdict(&fw, &blob, &https).verdict, Verdict::Allowed);
    // Deeper names under the class: whether an insider can own one is not known.
    let fw = app_fw(vec![(Access::Allow, &["*.westeurope.batch.azure.com"])]);
    let batch = HostQuery::fresh_under("batch.azure.com");
    assert_eq!(verdict(&fw, &batch, &https).verdict, Verdict::Unknown);
    assert_eq!(
        verdict(&fw, &host("x.westeurope.batch.azure.com"), &https).verdict,
        Verdict::Allowed
    );
}

#[test]
fn fqdn_tags_web_categories_and_urls_may_match() {
    let https = Service::https(443);
    let fw = Firewall::new("fw").with_collection(RuleCollection::application(
        "tags",
        100,
        Access::Allow,
        vec![ApplicationRule::new("wu").with_fqdn_tags(&["WindowsUpdate"])],
    ));
    let v = verdict(&fw, &host("download.windowsupdate.com"), &https);
    assert_eq!(v.verdict, Verdict::Unknown);
    assert_eq!(v.fqdn_tags, vec!["WindowsUpdate".to_string()]);
    assert!(
        v.doubts[0]
            .reasons
            .iter()
            .any(|r| r.contains("WindowsUpdate"))
    );

    let fw = Firewall::new("fw").with_collection(RuleCollection::application(
        "urls",
        100,
        Access::Allow,
        vec![
            ApplicationRule::new("u").with_urls(&["www.contoso.com/upload/*", "files.contoso.com"]),
        ],
    ));
    assert_eq!(
        verdict(&fw, &host("www.contoso.com"), &https).verdict,
        Verdict::Unknown
    );
    assert_eq!(
        verdict(&fw, &host("files.contoso.com"), &https).verdict,
        Verdict::Allowed
    );
    assert_eq!(
        verdict(&fw, &host("contoso.com"), &https).verdict,
        Verdict::Denied
    );
}

#[test]
fn network_fqdns_match_by_address() {
    let fw = Firewall::new("fw").with_collection(RuleCollection::network(
        "ntp",
        100,
        Access::Allow,
        vec![
            NetworkRule::new("tundra")
                .with_fqdns(&["westeurope.tundra.azureml.ms"])
                .with_ports(&["5831"])
                .with_protocols(&["UDP"]),
        ],
    ));
    let udp = Service::transport(Protocol::Udp, 5831);
    let v = verdict(&fw, &host("WestEurope.tundra.azureml.ms"), &udp);
    assert_eq!(v.verdict, Verdict::Allowed);
    assert_eq!(v.decided_by.unwrap().name, "tundra");
    // Another name may share the addresses.
    let v = verdict(&fw, &host("example.com"), &udp);
    assert_eq!(v.verdict, Verdict::Unknown);
    assert!(v.doubts[0].reasons.iter().any(|r| r.contains("may share")));
    assert_eq!(
        verdict(
            &fw,
            &host("example.com"),
            &Service::transport(Protocol::Udp, 53)
        )
        .verdict,
        Verdict::Denied
    );
    // Packets: the addresses are not known offline.
    let stage = fw.network_stage(&subnet(), &Tags::new()).unwrap();
    assert!(stage.allowed.surely.is_empty());
    let p = Packet::new(Protocol::Udp, Ipv4Addr::new(1, 2, 3, 4), 5831);
    assert!(stage.allowed.possibly.contains(&p));
    // Wildcards are rejected in network rules.
    let bad = Firewall::new("fw").with_collection(RuleCollection::network(
        "bad",
        100,
        Access::Allow,
        vec![NetworkRule::new("wild").with_fqdns(&["*.contoso.com"])],
    ));
    let err = bad.network_stage(&subnet(), &Tags::new()).unwrap_err();
    assert!(err.to_string().contains("network rule `wild`"), "{err}");
    assert!(err.to_string().contains("*.contoso.com"), "{err}");
}

#[test]
fn host_addresses_against_address_rules() {
    let fw = Firewall::new("fw").with_collection(RuleCollection::network(
        "storage",
        100,
        Access::Allow,
        vec![
            NetworkRule::new("st")
                .with_destinations(&["Storage"])
                .with_ports(&["443"])
                .with_protocols(&["TCP"]),
        ],
    ));
    let https = Service::https(443);
    let storage = AddrSet::parse("20.60.0.0/16").unwrap();
    let blob = HostQuery::fresh_under("blob.core.windows.net").within(storage.clone());
    assert_eq!(verdict(&fw, &blob, &https).verdict, Verdict::Allowed);
    // Not knowing where a name resolves: possible.
    assert_eq!(
        verdict(
            &fw,
            &HostQuery::fresh_under("blob.core.windows.net"),
            &https
        )
        .verdict,
        Verdict::Unknown
    );
    // Two rules that together cover the addresses: exact (address atoms).
    let fw = Firewall::new("fw").with_collection(RuleCollection::network(
        "halves",
        100,
        Access::Allow,
        vec![
            NetworkRule::new("low")
                .with_destinations(&["20.60.0.0/17"])
                .with_protocols(&["TCP"]),
            NetworkRule::new("high")
                .with_destinations(&["20.60.128.0-20.60.255.255"])
                .with_protocols(&["TCP"]),
        ],
    ));
    assert_eq!(verdict(&fw, &blob, &https).verdict, Verdict::Allowed);
}

#[test]
fn sources_some_or_all() {
    let rule = |src: &str| {
        NetworkRule::new(src)
            .with_sources(&[src])
            .with_destinations(&["*"])
            .with_protocols(&["TCP"])
    };
    let p = tcp("1.2.3.4", 443);
    let half = Firewall::new("fw").with_collection(RuleCollection::network(
        "half",
        100,
        Access::Allow,
        vec![rule("10.0.1.0/25")],
    ));
    let stage = half.network_stage(&subnet(), &Tags::new()).unwrap();
    assert!(!stage.allowed.surely.contains(&p));
    assert!(stage.allowed.possibly.contains(&p));
    let ev = half.explain_packet(&subnet(), &Tags::new(), &p).unwrap();
    assert_eq!(ev.outcome, NetOutcome::Unknown);
    assert!(ev.doubts[0].reasons[0].contains("only some of the source"));
    // Both halves: every node is allowed.
    let both = Firewall::new("fw").with_collection(RuleCollection::network(
        "both",
        100,
        Access::Allow,
        vec![rule("10.0.1.0/25"), rule("10.0.1.128-10.0.1.255")],
    ));
    let stage = both.network_stage(&subnet(), &Tags::new()).unwrap();
    assert!(stage.allowed.surely.contains(&p));
    // An IP group whose members are not declared may match.
    let mut g = rule("10.0.1.0/24");
    g.sources = vec![Setting::Known(AddrItem::IpGroup {
        id: "/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/ipGroups/g".into(),
        members: None,
    })];
    let fw = Firewall::new("fw").with_collection(RuleCollection::network(
        "g",
        100,
        Access::Allow,
        vec![g],
    ));
    let v = verdict(&fw, &host("x.example"), &Service::https(443));
    assert_eq!(v.verdict, Verdict::Unknown);
    assert!(v.doubts[0].reasons.iter().any(|r| r.contains("IP group")));
}

#[test]
fn unknown_priority_and_action() {
    let https = Service::https(443);
    let mut deny = RuleCollection::application(
        "maybe-first",
        100,
        Access::Deny,
        vec![ApplicationRule::new("d").with_fqdns(&["*"])],
    );
    deny.priority = Setting::Unknown;
    let allow = RuleCollection::application(
        "allow",
        200,
        Access::Allow,
        vec![ApplicationRule::new("a").with_fqdns(&["ml.azure.com"])],
    );
    let fw = Firewall::new("fw")
        .with_collection(allow.clone())
        .with_collection(deny.clone());
    let v = verdict(&fw, &host("ml.azure.com"), &https);
    assert_eq!(v.verdict, Verdict::Unknown);
    assert!(v.decided_by.is_none() || v.doubts.iter().any(|d| d.rule.name == "d"));
    // An allow of unknown priority still lets through what nothing else
    // matches (it may come last, but before the default deny).
    let mut late_allow = allow.clone();
    late_allow.priority = Setting::Unknown;
    let fw = Firewall::new("fw").with_collection(late_allow);
    assert_eq!(
        verdict(&fw, &host("ml.azure.com"), &https).verdict,
        Verdict::Allowed
    );
    // Unknown action.
    let mut unknown = allow;
    unknown.action = Setting::Unknown;
    let fw = Firewall::new("fw").with_collection(unknown);
    assert_eq!(
        verdict(&fw, &host("ml.azure.com"), &https).verdict,
        Verdict::Unknown
    );
    // A group of unknown priority holding an allow before a deny: whatever
    // its place, the allow comes first within it.
    let g_allow = RuleCollection::application(
        "g-allow",
        100,
        Access::Allow,
        vec![ApplicationRule::new("ga").with_fqdns(&["ml.azure.com"])],
    )
    .in_group("g", 100, 0);
    let g_deny = RuleCollection::application(
        "g-deny",
        200,
        Access::Deny,
        vec![ApplicationRule::new("gd").with_fqdns(&["*"])],
    )
    .in_group("g", 100, 0);
    let other = RuleCollection::application(
        "other",
        100,
        Access::Allow,
        vec![ApplicationRule::new("o").with_fqdns(&["ml.azure.com"])],
    )
    .in_group("h", 300, 0);
    let mut fw = Firewall::new("fw")
        .with_collection(g_allow)
        .with_collection(g_deny)
        .with_collection(other);
    for c in fw.collections.iter_mut().take(2) {
        c.group.as_mut().unwrap().priority = Setting::Unknown;
    }
    assert_eq!(
        verdict(&fw, &host("ml.azure.com"), &https).verdict,
        Verdict::Allowed
    );
    assert_eq!(
        verdict(&fw, &host("pypi.org"), &https).verdict,
        Verdict::Denied
    );
}

#[test]
fn invalid_values_name_the_rule() {
    let fw = Firewall::new("hub-fw").with_collection(RuleCollection::network(
        "core",
        100,
        Access::Allow,
        vec![
            NetworkRule::new("dns")
                .with_destinations(&["*"])
                .with_ports(&["53-x"]),
        ],
    ));
    let err = fw.network_stage(&subnet(), &Tags::new()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "firewall `hub-fw`, network rule `dns` in collection `core`: `53-x` is not a valid destination port"
    );
    let fw = Firewall::new("hub-fw").with_collection(RuleCollection::network(
        "core",
        100,
        Access::Allow,
        vec![NetworkRule::new("tag").with_destinations(&["NoSuchTag"])],
    ));
    let err = fw.network_stage(&subnet(), &Tags::new()).unwrap_err();
    assert!(matches!(err.kind, FirewallErrorKind::Resolve(_)));
    assert!(err.to_string().contains("network rule `tag`"));
}

#[test]
fn next_hop() {
    let mut fw = Firewall::new("fw");
    assert_eq!(fw.matches_next_hop("10.0.0.4".parse().unwrap()), None);
    fw.subnet_prefix = Some(AddrSet::parse("10.0.0.0/26").unwrap());
    assert_eq!(fw.matches_next_hop("10.0.0.4".parse().unwrap()), None);
    assert_eq!(
        fw.matches_next_hop("10.0.0.3".parse().unwrap()),
        Some(false)
    );
    assert_eq!(
        fw.matches_next_hop("10.0.0.63".parse().unwrap()),
        Some(false)
    );
    assert_eq!(
        fw.matches_next_hop("10.0.1.4".parse().unwrap()),
        Some(false)
    );
    assert_eq!(fw.usual_private_ip(), Some("10.0.0.4".parse().unwrap()));
    fw.private_ips = Setting::Known(vec!["10.0.0.5".parse().unwrap()]);
    assert_eq!(fw.matches_next_hop("10.0.0.5".parse().unwrap()), Some(true));
    assert_eq!(
        fw.matches_next_hop("10.0.0.4".parse().unwrap()),
        Some(false)
    );
}

// ---------------------------------------------------------------------------
// Reading from templates.

const SCHEMA: &str =
    "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#";

fn model(resources: &str) -> Model {
    model_with(resources, "")
}

fn model_with(resources: &str, parameters: &str) -> Model {
    let text = format!(
        r#"{{"$schema": "{SCHEMA}", "contentVersion": "1.0.0.0", "parameters": {{{parameters}}}, "resources": [{resources}]}}"#
    );
    let doc = Arc::new(Document::parse("fw.json", text).unwrap());
    let x = template::expand(doc, &Options::default());
    assert!(!x.has_errors(), "{:?}", x.diagnostics);
    amlguard_ingest::from_expansion(&x)
}

fn only_firewall(m: &Model) -> Firewall {
    let fw = m.of_kind(ResourceKind::AzureFirewall).next().unwrap();
    firewall_from_model(m, fw)
}

const VNET: &str = r#"{
  "type": "Microsoft.Network/virtualNetworks", "apiVersion": "2024-05-01", "name": "hub", "location": "westeurope",
  "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
    "subnets": [{"name": "AzureFirewallSubnet", "properties": {"addressPrefix": "10.0.0.0/26"}}]}
}"#;

#[test]
fn classic_rules_from_a_template() {
    let fw = r#"{
  "type": "Microsoft.Network/azureFirewalls", "apiVersion": "2024-05-01", "name": "fw", "location": "westeurope",
  "properties": {
    "ipConfigurations": [{"name": "ip", "properties": {
      "subnet": {"id": "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'hub', 'AzureFirewallSubnet')]"}}}],
    "networkRuleCollections": [{"name": "net", "properties": {"priority": 200, "action": {"type": "Allow"},
      "rules": [{"name": "aad", "sourceAddresses": ["10.0.1.0/24"], "destinationAddresses": ["AzureActiveDirectory"],
                 "destinationPorts": ["443"], "protocols": ["TCP"]},
                {"name": "ntp", "sourceAddresses": ["*"], "destinationFqdns": ["time.windows.com"],
                 "destinationPorts": ["123"], "protocols": ["UDP"]}]}}],
    "applicationRuleCollections": [{"name": "web", "properties": {"priority": 300, "action": {"type": "Allow"},
      "rules": [{"name": "ml", "sourceAddresses": ["10.0.1.0/24"], "targetFqdns": ["ml.azure.com", "*.azureml.ms"],
                 "protocols": [{"protocolType": "Https", "port": 443}]},
                {"name": "wu", "sourceAddresses": ["10.0.1.0/24"], "fqdnTags": ["WindowsUpdate"]}]}}],
    "natRuleCollections": [{"name": "in", "properties": {"priority": 100, "action": {"type": "Dnat"}, "rules": []}}],
    "threatIntelMode": "Deny"
  }
}"#;
    let m = model(&format!("{VNET},{fw}"));
    let fw = only_firewall(&m);
    assert_eq!(fw.name, "fw");
    assert_eq!(fw.collections.len(), 2);
    assert_eq!(
        fw.subnet_prefix,
        Some(AddrSet::parse("10.0.0.0/26").unwrap())
    );
    assert_eq!(fw.private_ips, Setting::Unknown);
    assert_eq!(fw.usual_private_ip(), Some("10.0.0.4".parse().unwrap()));
    assert!(fw.notes.iter().any(|n| n.contains("threat intelligence")));
    let FwRule::Application(wu) = &fw.collections[1].rules[1] else {
        panic!()
    };
    assert_eq!(
        wu.targets,
        vec![Setting::Known(AppTarget::FqdnTag("WindowsUpdate".into()))]
    );
    let FwRule::Network(aad) = &fw.collections[0].rules[0] else {
        panic!()
    };
    assert!(aad.prov.is_some());
    let v = verdict(&fw, &host("ml.azure.com"), &Service::https(443));
    assert_eq!(v.verdict, Verdict::Allowed);
    let by = v.decided_by.unwrap();
    assert_eq!((by.name.as_str(), by.collection.as_str()), ("ml", "web"));
    assert!(m.locate(by.prov.as_ref().unwrap()).starts_with("fw.json:"));
    let p = tcp("40.126.0.10", 443);
    let ev = fw.explain_packet(&subnet(), &Tags::new(), &p).unwrap();
    assert_eq!(ev.outcome, NetOutcome::Allowed);
    assert_eq!(ev.decided_by.unwrap().name, "aad");
    assert_eq!(
        verdict(
            &fw,
            &host("time.windows.com"),
            &Service::transport(Protocol::Udp, 123)
        )
        .verdict,
        Verdict::Allowed
    );
}

#[test]
fn policy_with_parent_from_a_template() {
    let res = r#"{
  "type": "Microsoft.Network/firewallPolicies", "apiVersion": "2024-05-01", "name": "base", "location": "westeurope",
  "properties": {"threatIntelMode": "Alert"}
},{
  "type": "Microsoft.Network/firewallPolicies/ruleCollectionGroups", "apiVersion": "2024-05-01", "name": "base/platform",
  "dependsOn": ["[resourceId('Microsoft.Network/firewallPolicies', 'base')]"],
  "properties": {"priority": 65000, "ruleCollections": [
    {"ruleCollectionType": "FirewallPolicyFilterRuleCollection", "name": "deny-storage", "priority": 65000,
     "action": {"type": "Deny"},
     "rules": [{"ruleType": "ApplicationRule", "name": "no-blob", "sourceAddresses": ["*"],
                "targetFqdns": ["*.blob.core.windows.net"], "protocols": [{"protocolType": "Https", "port": 443}]}]}]}
},{
  "type": "Microsoft.Network/firewallPolicies", "apiVersion": "2024-05-01", "name": "child", "location": "westeurope",
  "dependsOn": ["[resourceId('Microsoft.Network/firewallPolicies', 'base')]"],
  "properties": {"basePolicy": {"id": "[resourceId('Microsoft.Network/firewallPolicies', 'base')]"}}
},{
  "type": "Microsoft.Network/ipGroups", "apiVersion": "2024-05-01", "name": "compute", "location": "westeurope",
  "properties": {"ipAddresses": ["10.0.1.0/24"]}
},{
  "type": "Microsoft.Network/firewallPolicies/ruleCollectionGroups", "apiVersion": "2024-05-01", "name": "child/apps",
  "dependsOn": ["[resourceId('Microsoft.Network/firewallPolicies', 'child')]"],
  "properties": {"priority": 100, "ruleCollections": [
    {"ruleCollectionType": "FirewallPolicyNatRuleCollection", "name": "dnat", "priority": 100,
     "action": {"type": "Dnat"}, "rules": [{"ruleType": "NatRule", "name": "rdp"}]},
    {"ruleCollectionType": "FirewallPolicyFilterRuleCollection", "name": "web", "priority": 200,
     "action": {"type": "Allow"},
     "rules": [{"ruleType": "ApplicationRule", "name": "everything", "sourceIpGroups": ["[resourceId('Microsoft.Network/ipGroups', 'compute')]"],
                "targetFqdns": ["*"], "protocols": [{"protocolType": "Https"}]}]},
    {"ruleCollectionType": "FirewallPolicyFilterRuleCollection", "name": "net", "priority": 300,
     "action": {"type": "Allow"},
     "rules": [{"ruleType": "NetworkRule", "name": "batch", "sourceAddresses": ["10.0.1.0/24"],
                "destinationAddresses": ["Storage.WestEurope"], "destinationPorts": ["443"], "ipProtocols": ["TCP"]}]}]}
},{
  "type": "Microsoft.Network/azureFirewalls", "apiVersion": "2024-05-01", "name": "fw", "location": "westeurope",
  "properties": {"firewallPolicy": {"id": "[resourceId('Microsoft.Network/firewallPolicies', 'child')]"},
    "ipConfigurations": [{"name": "ip", "properties": {"privateIPAddress": "10.0.0.4"}}]}
}"#;
    let m = model(res);
    let fw = only_firewall(&m);
    assert!(
        fw.policy_id
            .as_deref()
            .unwrap()
            .ends_with("/firewallPolicies/child")
    );
    assert_eq!(
        fw.private_ips,
        Setting::Known(vec!["10.0.0.4".parse().unwrap()])
    );
    assert_eq!(fw.matches_next_hop("10.0.0.4".parse().unwrap()), Some(true));
    // DNAT left out; parent first.
    let names: Vec<(&str, u32)> = fw
        .collections
        .iter()
        .map(|c| (c.name.as_str(), c.level))
        .collect();
    assert_eq!(names, vec![("deny-storage", 0), ("web", 1), ("net", 1)]);
    assert_eq!(
        fw.collections[1].group.as_ref().unwrap().policy.as_deref(),
        Some("child")
    );
    let https = Service::https(443);
    // The parent's deny (group priority 65000) comes before the child's
    // allow (group priority 100), for accounts outside West Europe (the
    // network rule may allow those in it).
    let elsewhere = AddrSet::parse("20.60.2.0/24").unwrap();
    let blob = HostQuery::fresh_under("blob.core.windows.net");
    assert_eq!(verdict(&fw, &blob, &https).verdict, Verdict::Unknown);
    let v = verdict(&fw, &blob.clone().within(elsewhere), &https);
    assert_eq!(v.verdict, Verdict::Denied);
    assert_eq!(v.decided_by.unwrap().name, "no-blob");
    let v = verdict(&fw, &HostQuery::fresh_under(""), &https);
    assert_eq!(v.verdict, Verdict::Allowed);
    assert_eq!(v.decided_by.unwrap().name, "everything");
    // The network rule comes before both, for storage addresses in West Europe.
    let st = AddrSet::parse("20.60.1.0/24").unwrap();
    let v = verdict(
        &fw,
        &HostQuery::fresh_under("blob.core.windows.net").within(st),
        &https,
    );
    assert_eq!(v.verdict, Verdict::Allowed);
    assert_eq!(v.decided_by.unwrap().name, "batch");
}

#[test]
fn unknown_parts_from_a_template() {
    let res = r#"{
  "type": "Microsoft.Network/azureFirewalls", "apiVersion": "2024-05-01", "name": "fw", "location": "westeurope",
  "properties": {
    "networkRuleCollections": "[parameters('netRules')]",
    "applicationRuleCollections": [{"name": "web", "properties": {"priority": "[parameters('prio')]", "action": {"type": "Allow"},
      "rules": [{"name": "ml", "sourceAddresses": ["*"], "targetFqdns": ["ml.azure.com"],
                 "protocols": [{"protocolType": "Https", "port": 443}]}]}},
      "[parameters('coll')]"]
  }
}"#;
    let m = model_with(
        res,
        r#""netRules": {"type": "array"}, "prio": {"type": "int"}, "coll": {"type": "object"}"#,
    );
    let fw = only_firewall(&m);
    assert_eq!(fw.collections.len(), 3);
    assert_eq!(fw.collections[0].rules.len(), 1);
    assert!(matches!(fw.collections[0].rules[0], FwRule::Unknown(_)));
    assert_eq!(fw.collections[1].priority, Setting::Unknown);
    // A collection given by a parameter: application rules not known.
    assert_eq!(fw.collections[2].kind, CollectionKind::Application);
    assert!(matches!(fw.collections[2].rules[0], FwRule::Unknown(_)));
    let v = verdict(&fw, &host("ml.azure.com"), &Service::https(443));
    // Network rules not known offline may deny before.
    assert_eq!(v.verdict, Verdict::Unknown);
    assert!(
        v.doubts
            .iter()
            .any(|d| d.reasons.iter().any(|r| r.contains("netRules"))),
        "{:?}",
        v.doubts
    );
}

#[test]
fn policy_not_in_the_input() {
    let res = r#"{
  "type": "Microsoft.Network/azureFirewalls", "apiVersion": "2024-05-01", "name": "fw", "location": "westeurope",
  "properties": {"firewallPolicy": {"id": "/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/firewallPolicies/elsewhere"}}
}"#;
    let m = model(res);
    let fw = only_firewall(&m);
    let v = verdict(&fw, &host("ml.azure.com"), &Service::https(443));
    assert_eq!(v.verdict, Verdict::Unknown);
    let stage = fw.network_stage(&subnet(), &Tags::new()).unwrap();
    assert!(stage.allowed.surely.is_empty());
    assert!(stage.allowed.possibly.is_all());
}
