#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use amlguard_model::{Model, Prov, UnknownValue};

use super::*;
use crate::resolve::TagPrefix;
use crate::tags::UnknownTag;

// ---------------------------------------------------------------------------
// A small resolver: tags by name, and literal prefixes exact or widened.

struct TestResolver {
    tags: HashMap<String, AddrBounds>,
    asgs: HashMap<String, AddrBounds>,
    /// Added to `possibly` of every literal prefix that is neither private nor `/0`.
    widen: Option<AddrSet>,
}

fn set(prefixes: &[&str]) -> AddrSet {
    AddrSet::from_prefixes(prefixes.iter().copied()).unwrap()
}

fn private() -> AddrSet {
    set(&["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"])
}

impl TestResolver {
    /// VNet 10.0.0.0/16; `Internet` is the public space (outside the private
    /// ranges); the load balancer's probe address; a few service tags.
    fn new() -> TestResolver {
        let mut r = TestResolver {
            tags: HashMap::new(),
            asgs: HashMap::new(),
            widen: None,
        };
        r.add_tag("VirtualNetwork", AddrBounds::exact(set(&["10.0.0.0/16"])));
        r.add_tag("Internet", AddrBounds::exact(private().complement()));
        r.add_tag(
            "AzureLoadBalancer",
            AddrBounds::exact(set(&["168.63.129.16/32"])),
        );
        r.add_tag("Storage", AddrBounds::exact(set(&["20.60.0.0/16"])));
        r.add_tag(
            "Storage.WestEurope",
            AddrBounds::exact(set(&["20.60.1.0/24"])),
        );
        r.add_tag(
            "AzureMachineLearning",
            AddrBounds::exact(set(&["20.40.0.0/24"])),
        );
        r
    }
    /// Symbolic mode: literal public prefixes may cover the tags' block.
    fn symbolic() -> TestResolver {
        let mut r = TestResolver::new();
        let block = set(&["240.0.0.0/24"]);
        r.add_tag("Storage", AddrBounds::exact(block.clone()));
        r.widen = Some(block);
        r
    }
    fn add_tag(&mut self, name: &str, b: AddrBounds) {
        self.tags.insert(name.to_ascii_lowercase(), b);
    }
}

impl AddressResolver for TestResolver {
    fn tag(&self, name: &str) -> Result<AddrBounds, ResolveError> {
        self.tags
            .get(&name.trim().to_ascii_lowercase())
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
        self.asgs
            .get(&id.to_ascii_lowercase())
            .cloned()
            .ok_or_else(|| ResolveError::UnknownAsg { id: id.to_string() })
    }
    fn prefix(&self, s: &AddrSet) -> AddrBounds {
        match &self.widen {
            Some(w) if !s.is_all() && !s.is_subset(&private()) => AddrBounds {
                surely: s.clone(),
                possibly: s.union(w),
            },
            _ => AddrBounds::exact(s.clone()),
        }
    }
    fn internet_only(&self) -> AddrBounds {
        AddrBounds::exact(AddrSet::empty())
    }
}

fn subnet() -> AddrSet {
    set(&["10.0.1.0/24"])
}

fn ip(a: &str) -> IpAddr {
    a.parse().unwrap()
}

fn tcp(a: &str, port: u16) -> Packet {
    Packet::new(Protocol::Tcp, ip(a), port)
}

fn udp(a: &str, port: u16) -> Packet {
    Packet::new(Protocol::Udp, ip(a), port)
}

fn out(rules: &[Rule]) -> OutboundNsg {
    OutboundNsg::new(rules, &subnet(), &TestResolver::new()).unwrap()
}

fn decided(e: &Evidence) -> &str {
    &e.decided_by.as_ref().unwrap().name
}

fn unknown(reason: &str, input: &str) -> UnknownPart {
    UnknownPart {
        field: "access".to_string(),
        value: UnknownValue {
            reason: reason.to_string(),
            input: Some(input.to_string()),
            secret: false,
        },
        at: None,
    }
}

// ---------------------------------------------------------------------------
// Default rules.

#[test]
fn defaults_allow_vnet_and_internet_and_deny_the_rest_outbound() {
    let n = out(&[]);
    let a = n.allowed();
    assert!(a.exact().is_some());
    assert_eq!(a.verdict(&tcp("10.0.5.4", 22)), Verdict::Allowed);
    assert_eq!(a.verdict(&udp("8.8.8.8", 53)), Verdict::Allowed);
    assert_eq!(a.verdict(&tcp("20.60.1.1", 443)), Verdict::Allowed);
    // Private, outside the VNet, not internet: DenyAllOutBound.
    assert_eq!(a.verdict(&tcp("192.168.1.1", 443)), Verdict::Denied);
    assert_eq!(
        decided(&n.explain(&tcp("10.0.5.4", 22))),
        "AllowVnetOutBound"
    );
    assert_eq!(
        decided(&n.explain(&tcp("8.8.8.8", 80))),
        "AllowInternetOutBound"
    );
    let e = n.explain(&tcp("192.168.1.1", 443));
    assert_eq!(decided(&e), "DenyAllOutBound");
    let r = e.decided_by.unwrap();
    assert!(r.default);
    assert_eq!(r.priority, Some(65500));
    assert_eq!(r.index, None);
    // The exact set: every protocol and port to the VNet and the internet.
    let want = PacketSet::product(
        &ProtoSet::all(),
        &set(&["10.0.0.0/16"]).union(&private().complement()),
        &PortSet::all(),
    );
    assert_eq!(a.surely, want);
}

#[test]
fn defaults_inbound() {
    let n = InboundNsg::new(&[], &subnet(), &TestResolver::new()).unwrap();
    let a = n.allowed();
    assert_eq!(a.verdict(&tcp("10.0.7.7", 22)), Verdict::Allowed);
    assert_eq!(
        decided(&n.explain(&tcp("10.0.7.7", 22))),
        "AllowVNetInBound"
    );
    assert_eq!(a.verdict(&tcp("168.63.129.16", 80)), Verdict::Allowed);
    assert_eq!(
        decided(&n.explain(&tcp("168.63.129.16", 80))),
        "AllowAzureLoadBalancerInBound"
    );
    assert_eq!(a.verdict(&tcp("8.8.8.8", 44224)), Verdict::Denied);
    assert_eq!(decided(&n.explain(&tcp("8.8.8.8", 22))), "DenyAllInbound");
}

#[test]
fn missing_nsg_allows_everything() {
    assert_eq!(effective(None, None), Allowed::everything());
    let e = explain_effective(None, None, &tcp("8.8.8.8", 443));
    assert_eq!(e.verdict, Verdict::Allowed);
}

// ---------------------------------------------------------------------------
// First match.

#[test]
fn first_match_wins_by_priority_not_input_order() {
    let deny = Rule::outbound("DenyInternet", 200, Access::Deny).with_destinations(&["Internet"]);
    let allow = Rule::outbound("AllowStorage", 100, Access::Allow)
        .with_protocol(ProtocolSpec::Tcp)
        .with_destinations(&["Storage"])
        .with_destination_ports(&["443"]);
    let n = out(&[deny.clone(), allow.clone()]);
    let a = n.allowed();
    assert_eq!(a.verdict(&tcp("20.60.3.3", 443)), Verdict::Allowed);
    assert_eq!(decided(&n.explain(&tcp("20.60.3.3", 443))), "AllowStorage");
    // Another port or protocol to storage falls through to the deny.
    assert_eq!(a.verdict(&tcp("20.60.3.3", 80)), Verdict::Denied);
    assert_eq!(a.verdict(&udp("20.60.3.3", 443)), Verdict::Denied);
    assert_eq!(decided(&n.explain(&udp("20.60.3.3", 443))), "DenyInternet");
    // The VNet is still reachable (the default rule).
    assert_eq!(a.verdict(&tcp("10.0.9.9", 8080)), Verdict::Allowed);

    // Swap the priorities: the deny comes first and wins.
    let deny = Rule {
        priority: Setting::Known(100),
        ..deny
    };
    let allow = Rule {
        priority: Setting::Known(200),
        ..allow
    };
    let n = out(&[allow, deny]);
    assert_eq!(n.allowed().verdict(&tcp("20.60.3.3", 443)), Verdict::Denied);
    let e = n.explain(&tcp("20.60.3.3", 443));
    assert_eq!(decided(&e), "DenyInternet");
    assert_eq!(e.decided_by.unwrap().index, Some(1));
}

#[test]
fn port_lists_and_ranges() {
    let r = Rule::outbound("Aml", 100, Access::Allow)
        .with_protocol(ProtocolSpec::Tcp)
        .with_destinations(&["AzureMachineLearning"])
        .with_destination_ports(&["443", "8787", "18000-18881"]);
    let deny = Rule::outbound("DenyAll", 4000, Access::Deny);
    let n = out(&[r, deny]);
    let a = n.allowed();
    for port in [443, 8787, 18000, 18500, 18881] {
        assert_eq!(
            a.verdict(&tcp("20.40.0.9", port)),
            Verdict::Allowed,
            "{port}"
        );
    }
    for port in [442, 444, 8786, 17999, 18882] {
        assert_eq!(
            a.verdict(&tcp("20.40.0.9", port)),
            Verdict::Denied,
            "{port}"
        );
    }
}

#[test]
fn icmp_covers_icmpv6_and_star_covers_every_protocol() {
    let r = Rule::outbound("DenyIcmp", 100, Access::Deny).with_protocol(ProtocolSpec::Icmp);
    let n = out(&[r]);
    let a = n.allowed();
    assert_eq!(
        a.verdict(&Packet::new(Protocol::Icmp, ip("8.8.8.8"), 0)),
        Verdict::Denied
    );
    assert_eq!(
        a.verdict(&Packet::new(Protocol::Other(58), ip("2001:db8::1"), 0)),
        Verdict::Denied
    );
    assert_eq!(
        a.verdict(&Packet::new(Protocol::Other(47), ip("8.8.8.8"), 0)),
        Verdict::Allowed
    );
}

#[test]
fn rules_of_the_other_direction_and_undeployed_rules_are_ignored() {
    let inbound_deny = Rule::inbound("InDeny", 100, Access::Deny);
    let gone = Rule {
        exists: Setting::Known(false),
        ..Rule::outbound("Gone", 100, Access::Deny)
    };
    let n = out(&[inbound_deny.clone(), gone]);
    assert_eq!(n.allowed(), out(&[]).allowed());
    let outbound_deny = Rule::outbound("OutDeny", 100, Access::Deny);
    let i = InboundNsg::new(&[outbound_deny], &subnet(), &TestResolver::new()).unwrap();
    let j = InboundNsg::new(&[], &subnet(), &TestResolver::new()).unwrap();
    assert_eq!(i.allowed(), j.allowed());
    let k = InboundNsg::new(&[inbound_deny], &subnet(), &TestResolver::new()).unwrap();
    assert!(k.allowed().surely.is_empty());
}

// ---------------------------------------------------------------------------
// NIC then subnet.

#[test]
fn effective_needs_both_nic_and_subnet() {
    let nic = out(&[Rule::outbound("NicDenyDns", 100, Access::Deny)
        .with_protocol(ProtocolSpec::Udp)
        .with_destination_ports(&["53"])]);
    let subnet_nsg = out(&[Rule::outbound("SubnetDenyWeb", 100, Access::Deny)
        .with_protocol(ProtocolSpec::Tcp)
        .with_destination_ports(&["80", "443"])]);
    let both = effective(Some(nic.allowed()), Some(subnet_nsg.allowed()));
    assert_eq!(both.verdict(&udp("8.8.8.8", 53)), Verdict::Denied);
    assert_eq!(both.verdict(&tcp("8.8.8.8", 443)), Verdict::Denied);
    assert_eq!(both.verdict(&tcp("8.8.8.8", 22)), Verdict::Allowed);
    assert_eq!(
        both,
        nic.allowed().intersection(subnet_nsg.allowed()),
        "intersection"
    );

    let e = explain_effective(Some(&nic), Some(&subnet_nsg), &tcp("8.8.8.8", 443));
    assert_eq!(e.verdict, Verdict::Denied);
    assert_eq!(decided(e.nic.as_ref().unwrap()), "AllowInternetOutBound");
    assert_eq!(decided(e.subnet.as_ref().unwrap()), "SubnetDenyWeb");
    let e = explain_effective(Some(&nic), None, &udp("8.8.8.8", 53));
    assert_eq!(e.verdict, Verdict::Denied);
    assert_eq!(decided(e.nic.as_ref().unwrap()), "NicDenyDns");
    assert!(e.subnet.is_none());
    let e = explain_effective(None, Some(&subnet_nsg), &udp("8.8.8.8", 53));
    assert_eq!(e.verdict, Verdict::Allowed);
}

// ---------------------------------------------------------------------------
// Inbound: the question the engine asks for public-IP compute.

fn aml_44224() -> Rule {
    Rule::inbound("AllowAml44224", 100, Access::Allow)
        .with_protocol(ProtocolSpec::Tcp)
        .with_sources(&["AzureMachineLearning"])
        .with_destinations(&["VirtualNetwork"])
        .with_destination_ports(&["44224"])
}

#[test]
fn inbound_44224_from_azure_machine_learning() {
    let res = TestResolver::new();
    let aml = Packet::new(Protocol::Tcp, ip("20.40.0.7"), 44224);

    // Without a rule, the default DenyAllInbound blocks it.
    let none = InboundNsg::new(&[], &subnet(), &res).unwrap();
    assert_eq!(none.allowed().verdict(&aml), Verdict::Denied);
    assert_eq!(decided(&none.explain(&aml)), "DenyAllInbound");

    // The rule Microsoft documents lets it in, and nothing else from there.
    let n = InboundNsg::new(&[aml_44224()], &subnet(), &res).unwrap();
    let a = n.allowed();
    assert_eq!(a.verdict(&aml), Verdict::Allowed);
    assert_eq!(decided(&n.explain(&aml)), "AllowAml44224");
    assert_eq!(
        a.verdict(&Packet::new(Protocol::Tcp, ip("20.40.0.7"), 22)),
        Verdict::Denied
    );
    assert_eq!(
        a.verdict(&Packet::new(Protocol::Udp, ip("20.40.0.7"), 44224)),
        Verdict::Denied
    );
    assert_eq!(
        a.verdict(&Packet::new(Protocol::Tcp, ip("8.8.8.8"), 44224)),
        Verdict::Denied
    );
    let whole = PacketSet::product(
        &ProtoSet::single(Protocol::Tcp),
        &set(&["20.40.0.0/24"]),
        &PortSet::single(44224),
    );
    assert!(whole.is_subset(&a.surely));

    // A deny of the internet before it wins.
    let deny = Rule::inbound("DenyInternet", 90, Access::Deny).with_sources(&["Internet"]);
    let n = InboundNsg::new(&[aml_44224(), deny], &subnet(), &res).unwrap();
    assert_eq!(n.allowed().verdict(&aml), Verdict::Denied);
    assert_eq!(decided(&n.explain(&aml)), "DenyInternet");

    // A rule whose destination is another subnet does not apply here.
    let elsewhere = Rule {
        destination: vec![AddressSpec::parse("10.0.2.0/24")],
        ..aml_44224()
    };
    let n = InboundNsg::new(&[elsewhere], &subnet(), &res).unwrap();
    assert_eq!(n.allowed().verdict(&aml), Verdict::Denied);

    // Subnet then NIC: both must allow.
    let subnet_nsg = InboundNsg::new(&[aml_44224()], &subnet(), &res).unwrap();
    let nic = InboundNsg::new(&[], &subnet(), &res).unwrap();
    let e = explain_effective_inbound(Some(&subnet_nsg), Some(&nic), &aml);
    assert_eq!(e.verdict, Verdict::Denied);
    assert_eq!(decided(e.subnet.as_ref().unwrap()), "AllowAml44224");
    assert_eq!(decided(e.nic.as_ref().unwrap()), "DenyAllInbound");
    let e = explain_effective_inbound(Some(&subnet_nsg), None, &aml);
    assert_eq!(e.verdict, Verdict::Allowed);
    assert_eq!(
        allowed_inbound(&[aml_44224()], &subnet(), &res).unwrap(),
        subnet_nsg.allowed().clone()
    );
}

// ---------------------------------------------------------------------------
// Evidence.

#[test]
fn evidence_names_the_deciding_rule_with_its_place() {
    let at = Prov {
        document: Arc::from("nsg.json"),
        route: Default::default(),
    };
    let r = Rule {
        prov: Some(at.clone()),
        ..Rule::outbound("AllowStorage", 120, Access::Allow)
            .with_protocol(ProtocolSpec::Tcp)
            .with_destinations(&["Storage.WestEurope"])
            .with_destination_ports(&["443"])
    };
    let n = out(&[
        Rule::outbound("DenyWeb", 110, Access::Deny).with_destination_ports(&["80"]),
        r,
    ]);
    let e = n.explain(&tcp("20.60.1.10", 443));
    assert_eq!(e.verdict, Verdict::Allowed);
    let d = e.decided_by.unwrap();
    assert_eq!(d.name, "AllowStorage");
    assert_eq!(d.priority, Some(120));
    assert_eq!(d.access, Some(Access::Allow));
    assert_eq!(d.index, Some(1));
    assert_eq!(d.prov, Some(at));
    assert!(!d.default);
    assert_eq!(d.to_string(), "rule `AllowStorage` (priority 120, Allow)");
    assert!(e.doubts.is_empty());
}

#[test]
fn unknown_access_gives_two_bounds_and_a_doubt_with_the_deciding_input() {
    let r = Rule {
        access: Setting::Unknown,
        unknown: vec![unknown(
            "the value comes from a parameter",
            "parameter 'storageAccess'",
        )],
        ..Rule::outbound("StorageRule", 100, Access::Allow).with_destinations(&["Storage"])
    };
    let deny = Rule::outbound("DenyInternet", 200, Access::Deny).with_destinations(&["Internet"]);
    let n = out(&[r, deny]);
    let a = n.allowed();
    let p = tcp("20.60.9.9", 443);
    assert_eq!(a.verdict(&p), Verdict::Unknown);
    assert_eq!(a.verdict(&tcp("8.8.8.8", 443)), Verdict::Denied);
    let e = n.explain(&p);
    assert_eq!(e.verdict, Verdict::Unknown);
    assert_eq!(decided(&e), "DenyInternet");
    assert_eq!(e.doubts.len(), 1);
    assert_eq!(e.doubts[0].rule.name, "StorageRule");
    assert_eq!(e.doubts[0].rule.access, None);
    assert!(
        e.doubts[0].reasons[0].contains("parameter 'storageAccess'"),
        "{:?}",
        e.doubts
    );
}

#[test]
fn unknown_priority_allow_still_comes_before_the_default_rules() {
    // 192.168.5.0/24 is denied only by the default DenyAllOutBound.
    let allow = Rule {
        priority: Setting::Unknown,
        ..Rule::outbound("AllowOnPrem", 100, Access::Allow).with_destinations(&["192.168.5.0/24"])
    };
    let p = tcp("192.168.5.5", 443);
    let n = out(std::slice::from_ref(&allow));
    assert_eq!(n.allowed().verdict(&p), Verdict::Allowed);
    // With a deny of known priority, the order decides: not known.
    let deny =
        Rule::outbound("DenyOnPrem", 300, Access::Deny).with_destinations(&["192.168.0.0/16"]);
    let n = out(&[allow, deny]);
    assert_eq!(n.allowed().verdict(&p), Verdict::Unknown);
    let e = n.explain(&p);
    assert_eq!(decided(&e), "DenyOnPrem");
    assert_eq!(e.doubts[0].rule.name, "AllowOnPrem");
    assert!(e.doubts[0].reasons.iter().any(|r| r.contains("priority")));
}

#[test]
fn unknown_priority_deny_may_come_first() {
    let deny = Rule {
        priority: Setting::Unknown,
        ..Rule::outbound("MaybeDeny", 100, Access::Deny).with_destination_ports(&["443"])
    };
    let allow = Rule::outbound("Allow443", 100, Access::Allow).with_destination_ports(&["443"]);
    let n = out(&[allow, deny]);
    let a = n.allowed();
    assert_eq!(a.verdict(&tcp("8.8.8.8", 443)), Verdict::Unknown);
    assert_eq!(a.verdict(&tcp("192.168.0.1", 443)), Verdict::Unknown);
    assert_eq!(a.verdict(&tcp("192.168.0.1", 80)), Verdict::Denied);
}

#[test]
fn unknown_existence() {
    let deny = Rule {
        exists: Setting::Unknown,
        ..Rule::outbound("MaybeThere", 100, Access::Deny)
    };
    let n = out(&[deny]);
    assert!(n.allowed().surely.is_empty());
    assert_eq!(n.allowed().possibly, out(&[]).allowed().surely);
    let e = n.explain(&tcp("8.8.8.8", 443));
    assert_eq!(e.verdict, Verdict::Unknown);
    assert_eq!(
        e.doubts[0].reasons,
        vec!["whether it is deployed is not known"]
    );
}

#[test]
fn symbolic_prefixes_are_possible_matches_with_a_reason() {
    let res = TestResolver::symbolic();
    let deny = Rule::outbound("DenyTwenty", 100, Access::Deny).with_destinations(&["20.0.0.0/8"]);
    let n = OutboundNsg::new(&[deny], &subnet(), &res).unwrap();
    let a = n.allowed();
    // The literal prefix itself: surely denied.
    assert_eq!(a.verdict(&tcp("20.1.1.1", 443)), Verdict::Denied);
    // The symbolic storage block: the prefix may or may not cover it.
    let storage = tcp("240.0.0.9", 443);
    assert_eq!(a.verdict(&storage), Verdict::Unknown);
    let e = n.explain(&storage);
    assert!(
        e.doubts[0].reasons[0].contains("`20.0.0.0/8`")
            && e.doubts[0].reasons[0].contains("--service-tags"),
        "{:?}",
        e.doubts
    );
    // Private prefixes stay exact.
    let deny = Rule::outbound("DenyPrivate", 100, Access::Deny).with_destinations(&["10.0.0.0/8"]);
    let n = OutboundNsg::new(&[deny], &subnet(), &res).unwrap();
    assert_eq!(n.allowed().verdict(&storage), Verdict::Allowed);
}

#[test]
fn inexact_tags_are_possible_matches() {
    let mut res = TestResolver::new();
    res.add_tag(
        "Sym",
        AddrBounds {
            surely: set(&["20.70.0.0/24"]),
            possibly: set(&["20.70.0.0/16"]),
        },
    );
    let deny = Rule::outbound("DenySym", 100, Access::Deny).with_destinations(&["Sym"]);
    let n = OutboundNsg::new(&[deny], &subnet(), &res).unwrap();
    let a = n.allowed();
    assert_eq!(a.verdict(&tcp("20.70.0.1", 1)), Verdict::Denied);
    assert_eq!(a.verdict(&tcp("20.70.5.1", 1)), Verdict::Unknown);
    assert_eq!(a.verdict(&tcp("20.71.0.1", 1)), Verdict::Allowed);
    let e = n.explain(&tcp("20.70.5.1", 1));
    assert!(e.doubts[0].reasons[0].contains("`Sym`"), "{:?}", e.doubts);
}

#[test]
fn application_security_groups() {
    let mut res = TestResolver::new();
    res.asgs.insert(
        "/asg/web".to_string(),
        AddrBounds::exact(set(&["10.0.1.0/28"])),
    );
    let rule = |asg: &str| Rule {
        destination: vec![Setting::Known(AddressSpec::Asg(asg.to_string()))],
        ..Rule::outbound("DenyToAsg", 100, Access::Deny)
    };
    let n = OutboundNsg::new(&[rule("/ASG/web")], &subnet(), &res).unwrap();
    assert_eq!(n.allowed().verdict(&tcp("10.0.1.5", 80)), Verdict::Denied);
    assert_eq!(n.allowed().verdict(&tcp("10.0.1.50", 80)), Verdict::Allowed);
    // Members not known: any address may be one.
    let n = OutboundNsg::new(&[rule("/asg/other")], &subnet(), &res).unwrap();
    assert_eq!(n.allowed().verdict(&tcp("10.0.1.50", 80)), Verdict::Unknown);
    let e = n.explain(&tcp("10.0.1.50", 80));
    assert!(e.doubts[0].reasons[0].contains("/asg/other"));
}

// ---------------------------------------------------------------------------
// The compute's own address and source port.

#[test]
fn rules_for_part_of_the_subnet_are_evaluated_per_part() {
    let low = Rule::outbound("AllowLow", 100, Access::Allow)
        .with_sources(&["10.0.1.0/25"])
        .with_destinations(&["192.168.9.0/24"]);
    let high = Rule::outbound("DenyHigh", 110, Access::Deny)
        .with_sources(&["10.0.1.128/25"])
        .with_destinations(&["192.168.9.0/24"]);
    let p = tcp("192.168.9.9", 443);
    // Low half allowed, high half denied: depends on the node's address.
    let n = out(&[low.clone(), high.clone()]);
    assert_eq!(n.allowed().verdict(&p), Verdict::Unknown);
    let e = n.explain(&p);
    assert_eq!(decided(&e), "DenyHigh");
    assert_eq!(e.doubts.len(), 1);
    assert_eq!(e.doubts[0].rule.name, "AllowLow");
    assert!(
        e.doubts[0].reasons[0].contains("10.0.1.0/25"),
        "{:?}",
        e.doubts
    );
    // Both halves allowed by two rules: surely allowed, though neither rule
    // covers the whole subnet.
    let high_allow = Rule {
        access: Setting::Known(Access::Allow),
        ..high.clone()
    };
    let n = out(&[low.clone(), high_allow]);
    assert_eq!(n.allowed().verdict(&p), Verdict::Allowed);
    // Both halves denied: surely denied (not merely possibly allowed).
    let low_deny = Rule {
        access: Setting::Known(Access::Deny),
        ..low
    };
    let n = out(&[low_deny, high]);
    assert_eq!(n.allowed().verdict(&p), Verdict::Denied);
    let a = n.allowed();
    assert!(a.exact().is_some());
}

#[test]
fn source_ports_are_the_computes_choice() {
    // A deny for some source ports: the node may use others.
    let deny = Rule::outbound("DenyLowSourcePorts", 100, Access::Deny)
        .with_source_ports(&["0-1023"])
        .with_destination_ports(&["443"]);
    let n = out(std::slice::from_ref(&deny));
    assert_eq!(n.allowed().verdict(&tcp("8.8.8.8", 443)), Verdict::Unknown);
    // Denying every source port in two rules denies surely.
    let rest = Rule {
        name: "DenyHighSourcePorts".to_string(),
        ..deny.clone().with_source_ports(&["1024-65535"])
    };
    let n = out(&[deny, rest]);
    assert_eq!(n.allowed().verdict(&tcp("8.8.8.8", 443)), Verdict::Denied);
}

#[test]
fn empty_source_sends_nothing() {
    let n = OutboundNsg::new(&[], &AddrSet::empty(), &TestResolver::new()).unwrap();
    assert_eq!(n.allowed(), &Allowed::nothing());
    let e = n.explain(&tcp("8.8.8.8", 443));
    assert_eq!(e.verdict, Verdict::Denied);
    assert!(e.decided_by.is_none());
}

#[test]
fn many_source_parts_stay_sound() {
    // More parts than MAX_PARTS: merged, never less cautious.
    let mut rules = Vec::new();
    for i in 0..(MAX_PARTS as u32 + 10) {
        let a = Ipv4Addr::new(10, 0, 1, i as u8);
        rules.push(
            Rule::outbound(&format!("Deny{i}"), 100 + i, Access::Deny)
                .with_sources(&[&format!("{a}/32")])
                .with_destinations(&["8.8.8.8"]),
        );
    }
    let n = out(&rules);
    let a = n.allowed();
    assert_eq!(a.verdict(&tcp("8.8.8.8", 53)), Verdict::Unknown);
    assert_eq!(a.verdict(&tcp("8.8.4.4", 53)), Verdict::Allowed);
}

// ---------------------------------------------------------------------------
// Errors.

#[test]
fn unknown_tags_and_invalid_values_are_errors() {
    let r = Rule::outbound("Typo", 100, Access::Allow).with_destinations(&["Storrage"]);
    let e = OutboundNsg::new(&[r], &subnet(), &TestResolver::new()).unwrap_err();
    assert_eq!(e.rule, "Typo");
    assert!(matches!(
        e.kind,
        NsgErrorKind::Resolve(ResolveError::UnknownTag(_))
    ));
    assert!(e.to_string().contains("Storrage"));

    let r = Rule::outbound("BadPort", 100, Access::Allow).with_destination_ports(&["70000"]);
    let e = OutboundNsg::new(&[r], &subnet(), &TestResolver::new()).unwrap_err();
    assert_eq!(
        e.kind,
        NsgErrorKind::Invalid {
            field: "destination port range",
            value: "70000".to_string()
        }
    );
    let r = Rule {
        access: Setting::Invalid(String::new()),
        ..Rule::outbound("NoAccess", 100, Access::Allow)
    };
    let e = OutboundNsg::new(&[r], &subnet(), &TestResolver::new()).unwrap_err();
    assert_eq!(e.kind, NsgErrorKind::Missing { field: "access" });
    assert_eq!(e.to_string(), "security rule `NoAccess`: no access is set");
    let r = Rule {
        destination: Vec::new(),
        ..Rule::outbound("NoDestination", 100, Access::Allow)
    };
    assert!(OutboundNsg::new(&[r], &subnet(), &TestResolver::new()).is_err());
    // An inbound rule does not break outbound evaluation.
    let r = Rule::inbound("InTypo", 100, Access::Allow).with_sources(&["Storrage"]);
    assert!(OutboundNsg::new(std::slice::from_ref(&r), &subnet(), &TestResolver::new()).is_ok());
    assert!(InboundNsg::new(&[r], &subnet(), &TestResolver::new()).is_err());
}

#[test]
fn parsing_items() {
    assert_eq!(ProtocolSpec::parse("TCP"), Some(ProtocolSpec::Tcp));
    assert_eq!(ProtocolSpec::parse("*"), Some(ProtocolSpec::Any));
    assert_eq!(ProtocolSpec::parse("ah"), Some(ProtocolSpec::Ah));
    assert_eq!(ProtocolSpec::parse("Any"), None);
    assert_eq!(ProtocolSpec::parse("gre"), None);
    assert_eq!(Direction::parse("OUTBOUND"), Some(Direction::Outbound));
    assert_eq!(Access::parse("deny"), Some(Access::Deny));
    assert_eq!(
        PortSpec::parse("80-79"),
        Setting::Invalid("80-79".to_string())
    );
    assert_eq!(
        PortSpec::parse(" 8000 - 8010 "),
        Setting::Known(PortSpec::Range(8000, 8010))
    );
    assert!(matches!(
        AddressSpec::parse("Storage.WestEurope"),
        Setting::Known(AddressSpec::Tag(_))
    ));
    assert!(matches!(
        AddressSpec::parse("10.0.0.300"),
        Setting::Invalid(_)
    ));
}

// ---------------------------------------------------------------------------
// Reading rules from the model.

fn model_of(resources: &[&str], parameters: &str) -> Model {
    use amlguard_arm::template::{self, Options};
    let text = format!(
        r#"{{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#", "contentVersion": "1.0.0.0", "parameters": {{{parameters}}}, "resources": [{}]}}"#,
        resources.join(",")
    );
    let doc = Arc::new(amlguard_source::Document::parse("nsg.json", text).unwrap());
    let x = template::expand(doc, &Options::default());
    assert!(!x.has_errors(), "{:?}", x.diagnostics);
    amlguard_ingest::from_expansion(&x)
}

fn nsg_rules(m: &Model) -> Vec<Rule> {
    let nsg = m
        .of_kind(amlguard_model::ResourceKind::NetworkSecurityGroup)
        .next()
        .unwrap();
    rules_from_model(m, nsg)
}

const INLINE: &str = r#"{"type": "Microsoft.Network/networkSecurityGroups", "apiVersion": "2024-05-01", "name": "nsg", "location": "westeurope", "properties": {"securityRules": [
    {"name": "AllowStorage", "properties": {"priority": 120, "direction": "OUTBOUND", "access": "allow", "protocol": "TCP", "sourceAddressPrefix": "VirtualNetwork", "sourcePortRange": "*", "destinationAddressPrefix": "Storage.WestEurope", "destinationPortRange": "443"}},
    {"name": "AllowAml", "properties": {"priority": 130, "direction": "Outbound", "access": "Allow", "protocol": "Tcp", "sourceAddressPrefix": "", "sourceAddressPrefixes": ["10.0.1.0/24", "10.0.2.0/24"], "sourcePortRange": "*", "destinationAddressPrefixes": ["AzureMachineLearning"], "destinationPortRange": "", "destinationPortRanges": ["443", "8787", "18881"]}},
    {"name": "DenyInternet", "properties": {"priority": 4000, "direction": "Outbound", "access": "Deny", "protocol": "*", "sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefix": "Internet", "destinationPortRange": "*"}},
    {"name": "In44224", "properties": {"priority": 100, "direction": "Inbound", "access": "Allow", "protocol": "Tcp", "sourceAddressPrefix": "AzureMachineLearning", "sourcePortRange": "*", "destinationAddressPrefix": "VirtualNetwork", "destinationPortRange": 44224}}
]}}"#;

#[test]
fn reads_inline_rules_once() {
    let m = model_of(&[INLINE], "");
    // Ingest made child resources of the inline rules too.
    let nsg = m
        .of_kind(amlguard_model::ResourceKind::NetworkSecurityGroup)
        .next()
        .unwrap();
    assert_eq!(
        m.children(nsg, amlguard_model::ResourceKind::SecurityRule)
            .count(),
        4
    );
    let rules = nsg_rules(&m);
    let names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        ["AllowStorage", "AllowAml", "DenyInternet", "In44224"]
    );
    let s = &rules[0];
    assert_eq!(s.priority, Setting::Known(120));
    assert_eq!(s.direction, Setting::Known(Direction::Outbound));
    assert_eq!(s.access, Setting::Known(Access::Allow));
    assert_eq!(s.protocol, Setting::Known(ProtocolSpec::Tcp));
    assert_eq!(
        s.destination,
        vec![Setting::Known(AddressSpec::Tag(
            "Storage.WestEurope".to_string()
        ))]
    );
    assert_eq!(
        s.destination_ports,
        vec![Setting::Known(PortSpec::Range(443, 443))]
    );
    assert_eq!(s.exists, Setting::Known(true));
    assert!(!s.is_unknown());
    // The rule's place is the rule object, inside the NSG's document.
    let at = s.prov.as_ref().unwrap();
    assert_eq!(&*at.document, "nsg.json");
    assert!(m.locate(at).starts_with("nsg.json:2:"), "{}", m.locate(at));
    let a = &rules[1];
    assert_eq!(a.source.len(), 2);
    assert_eq!(a.destination_ports.len(), 3);
    assert_eq!(
        rules[3].destination_ports,
        vec![Setting::Known(PortSpec::Range(44224, 44224))]
    );

    // Evaluated: storage in West Europe on 443 only; the internet denied.
    let res = TestResolver::new();
    let n = OutboundNsg::new(&rules, &subnet(), &res).unwrap();
    assert_eq!(
        n.allowed().verdict(&tcp("20.60.1.1", 443)),
        Verdict::Allowed
    );
    assert_eq!(n.allowed().verdict(&tcp("20.60.2.1", 443)), Verdict::Denied);
    assert_eq!(
        n.allowed().verdict(&tcp("20.40.0.1", 8787)),
        Verdict::Allowed
    );
    let e = n.explain(&tcp("8.8.8.8", 443));
    assert_eq!(decided(&e), "DenyInternet");
    assert_eq!(e.decided_by.unwrap().prov, rules[2].prov);
    let i = InboundNsg::new(&rules, &subnet(), &res).unwrap();
    assert_eq!(
        i.allowed().verdict(&tcp("20.40.0.1", 44224)),
        Verdict::Allowed
    );
}

#[test]
fn reads_separate_rules_and_lets_them_replace_inline_ones() {
    let separate = r#"{"type": "Microsoft.Network/networkSecurityGroups/securityRules", "apiVersion": "2024-05-01", "name": "nsg/DenyInternet", "dependsOn": ["[resourceId('Microsoft.Network/networkSecurityGroups', 'nsg')]"], "properties": {"priority": 3000, "direction": "Outbound", "access": "Deny", "protocol": "Udp", "sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefix": "Internet", "destinationPortRange": "*"}}"#;
    let extra = r#"{"type": "Microsoft.Network/networkSecurityGroups/securityRules", "apiVersion": "2024-05-01", "name": "nsg/DenyDns", "properties": {"priority": 200, "direction": "Outbound", "access": "Deny", "protocol": "Udp", "sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "53"}}"#;
    let m = model_of(&[INLINE, separate, extra], "");
    let rules = nsg_rules(&m);
    let names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "AllowStorage",
            "AllowAml",
            "In44224",
            "DenyInternet",
            "DenyDns"
        ]
    );
    let deny = &rules[3];
    assert_eq!(deny.priority, Setting::Known(3000));
    assert_eq!(deny.protocol, Setting::Known(ProtocolSpec::Udp));
    assert_eq!(
        deny.prov,
        Some(
            m.resources
                .iter()
                .find(|r| r.name.as_deref() == Some("nsg/DenyInternet")
                    && r.body
                        .member("properties")
                        .and_then(|p| p.member("priority"))
                        .and_then(|p| p.as_int())
                        == Some(3000))
                .unwrap()
                .prov
                .clone()
        )
    );
}

#[test]
fn unknown_values_carry_their_reason_and_input() {
    let t = r#"{"type": "Microsoft.Network/networkSecurityGroups", "apiVersion": "2024-05-01", "name": "nsg", "location": "westeurope", "properties": {"securityRules": [
        {"name": "Param", "properties": {"priority": "[parameters('prio')]", "direction": "Outbound", "access": "[parameters('access')]", "protocol": "Tcp", "sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefixes": ["Storage", "[parameters('dest')]"], "destinationPortRange": "443"}}
    ]}}"#;
    let separate = r#"{"condition": "[parameters('deployIt')]", "type": "Microsoft.Network/networkSecurityGroups/securityRules", "apiVersion": "2024-05-01", "name": "nsg/Maybe", "properties": {"priority": 300, "direction": "Outbound", "access": "Deny", "protocol": "*", "sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "*"}}"#;
    let params = r#""prio": {"type": "int"}, "access": {"type": "string"}, "dest": {"type": "string"}, "deployIt": {"type": "bool"}"#;
    let m = model_of(&[t, separate], params);
    let rules = nsg_rules(&m);
    assert_eq!(rules.len(), 2);
    let r = &rules[0];
    assert_eq!(r.priority, Setting::Unknown);
    assert_eq!(r.access, Setting::Unknown);
    assert_eq!(r.destination[1], Setting::Unknown);
    assert!(r.is_unknown());
    let fields: Vec<&str> = r.unknown.iter().map(|u| u.field.as_str()).collect();
    assert_eq!(fields, ["priority", "access", "destinationAddressPrefixes"]);
    assert!(
        r.unknown[1]
            .value
            .input
            .as_deref()
            .unwrap()
            .contains("access"),
        "{:?}",
        r.unknown[1]
    );
    assert!(r.unknown.iter().all(|u| u.at.is_some()));
    let maybe = &rules[1];
    assert_eq!(maybe.name, "Maybe");
    assert_eq!(maybe.exists, Setting::Unknown);
    assert_eq!(maybe.unknown[0].field, "condition");

    let n = OutboundNsg::new(&rules, &subnet(), &TestResolver::new()).unwrap();
    let e = n.explain(&tcp("20.60.0.1", 443));
    assert_eq!(e.verdict, Verdict::Unknown);
    assert!(
        e.doubts
            .iter()
            .any(|d| d.rule.name == "Param" && d.reasons.iter().any(|r| r.contains("`access`")))
    );
}

#[test]
fn invalid_values_are_reported_on_evaluation() {
    let t = r#"{"type": "Microsoft.Network/networkSecurityGroups", "apiVersion": "2024-05-01", "name": "nsg", "location": "westeurope", "properties": {"securityRules": [
        {"name": "Bad", "properties": {"priority": 120, "direction": "Outbound", "access": "Allow", "protocol": "Gre", "sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "443"}},
        {"name": "Low", "properties": {"priority": 50, "direction": "Outbound", "access": "Allow", "protocol": "Tcp", "sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "443"}},
        {"name": "NoAccess", "properties": {"priority": 130, "direction": "Outbound", "protocol": "Tcp", "sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "443"}}
    ]}}"#;
    let m = model_of(&[t], "");
    let rules = nsg_rules(&m);
    assert_eq!(rules[0].protocol, Setting::Invalid("Gre".to_string()));
    assert_eq!(rules[1].priority, Setting::Invalid("50".to_string()));
    assert_eq!(rules[2].access, Setting::Invalid(String::new()));
    for (r, want) in rules.iter().zip([
        "security rule `Bad`: `Gre` is not a valid protocol",
        "security rule `Low`: `50` is not a valid priority",
        "security rule `NoAccess`: no access is set",
    ]) {
        let e =
            OutboundNsg::new(std::slice::from_ref(r), &subnet(), &TestResolver::new()).unwrap_err();
        assert_eq!(e.to_string(), want);
    }
}

#[test]
fn rules_of_an_unknown_array_may_do_anything() {
    let t = r#"{"type": "Microsoft.Network/networkSecurityGroups", "apiVersion": "2024-05-01", "name": "nsg", "location": "westeurope", "properties": {"securityRules": "[parameters('rules')]"}}"#;
    let m = model_of(&[t], r#""rules": {"type": "array"}"#);
    let rules = nsg_rules(&m);
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].unknown[0].field, "securityRules");
    let n = OutboundNsg::new(&rules, &subnet(), &TestResolver::new()).unwrap();
    assert!(n.allowed().surely.is_empty());
    assert_eq!(n.allowed().possibly, PacketSet::universe());
}
