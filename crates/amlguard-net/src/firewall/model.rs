//! Reading a firewall, its Firewall Policy (and the policy's parents) and
//! their rule collection groups from the model.
//!
//! ARM shapes (docs/azure-ml-network.md §4.7): classic collections sit on
//! `Microsoft.Network/azureFirewalls` as `properties.networkRuleCollections[]`
//! and `properties.applicationRuleCollections[]`, each
//! `{name, properties: {priority, action: {type}, rules[]}}`. With a policy
//! (`properties.firewallPolicy.id`), rules are in child resources
//! `Microsoft.Network/firewallPolicies/ruleCollectionGroups`
//! (`properties: {priority, ruleCollections[]}`), each collection
//! `{ruleCollectionType, name, priority, action: {type}, rules[]}` and each
//! rule tagged by `ruleType` (`NetworkRule`, `ApplicationRule`, `NatRule`).
//! A policy's parent is `properties.basePolicy.id`.

use std::collections::HashSet;
use std::net::IpAddr;

use amlguard_model::{Model, Prov, Resource, ResourceKind, Tree, TreeKind, UnknownValue};

use super::{
    AddrItem, AppPort, AppProtocol, AppTarget, ApplicationRule, CollectionKind, Firewall, FwRule,
    GroupInfo, NetProtocol, NetworkRule, RuleCollection, network_fqdn,
};
use crate::fqdn::HostPattern;
use crate::nsg::{Access, PortSpec, Setting, UnknownPart};
use crate::space::AddrSet;

/// How deep a chain of parent policies is followed.
const MAX_POLICY_DEPTH: usize = 16;

/// Reads a firewall (a `Microsoft.Network/azureFirewalls` resource) with its
/// rules: from its Firewall Policy and the policy's parents when it has one,
/// else its classic rule collections.
pub fn firewall_from_model(model: &Model, fw: &Resource) -> Firewall {
    let mut out = Firewall::new(&fw.display_name());
    out.id = fw.id.clone();
    out.prov = Some(fw.prov.clone());
    read_addresses(model, fw, &mut out);

    if fw.get("properties.threatIntelMode").str_is(&["Deny"]) == Some(true) {
        out.notes.push(
            "threat intelligence is in `Deny` mode: traffic to known malicious addresses and \
             names is denied before any rule (not modelled)"
                .to_string(),
        );
    }

    let policy = fw.get("properties.firewallPolicy.id");
    let classic_present = [
        "properties.networkRuleCollections",
        "properties.applicationRuleCollections",
    ]
    .iter()
    .any(|p| {
        fw.get(p)
            .known()
            .and_then(Tree::as_array)
            .is_some_and(|a| !a.is_empty())
    });
    if let Some(value) = policy.unknown() {
        out.collections.push(unknown_collection(
            "(firewall policy not known offline)",
            0,
            UnknownPart {
                field: "firewallPolicy.id".to_string(),
                value: value.clone(),
                at: policy.at().cloned(),
            },
        ));
        return out;
    }
    if let Some(id) = policy.str() {
        out.policy_id = Some(id.to_string());
        if classic_present {
            out.notes.push(
                "the firewall has both a Firewall Policy and classic rule collections; \
                 a firewall uses one or the other, and the policy's rules are the ones read"
                    .to_string(),
            );
        }
        read_policy_chain(model, id, &fw.prov, &mut out);
        return out;
    }

    // Classic rules.
    if fw.existing {
        out.collections.push(unknown_collection(
            "(rules declared outside this input)",
            0,
            UnknownPart {
                field: "rules".to_string(),
                value: outside("the firewall is referenced as `existing`"),
                at: Some(fw.prov.clone()),
            },
        ));
        return out;
    }
    for (path, kind) in [
        ("properties.networkRuleCollections", CollectionKind::Network),
        (
            "properties.applicationRuleCollections",
            CollectionKind::Application,
        ),
    ] {
        let field = fw.get(path);
        if let Some(value) = field.unknown() {
            let mut c = unknown_collection(
                "(rule collections not known offline)",
                0,
                UnknownPart {
                    field: path.trim_start_matches("properties.").to_string(),
                    value: value.clone(),
                    at: field.at().cloned(),
                },
            );
            c.kind = kind;
            out.collections.push(c);
            continue;
        }
        let Some(items) = field.known().and_then(Tree::as_array) else {
            continue;
        };
        for item in items {
            let c = match unknown_item(item, "properties") {
                Some(why) => {
                    let mut c = unknown_collection("(rule collection not known offline)", 0, why);
                    c.kind = kind;
                    c
                }
                None => classic_collection(model, item, kind, &fw.prov),
            };
            out.collections.push(c);
        }
    }
    out
}

/// The firewall's private addresses and its subnet's prefix.
fn read_addresses(model: &Model, fw: &Resource, out: &mut Firewall) {
    let mut ips: Vec<IpAddr> = Vec::new();
    let mut invalid: Option<String> = None;
    let mut record = |t: Option<&Tree>| {
        if let Some(TreeKind::String(s)) = t.map(|t| &t.kind) {
            match s.trim().parse::<IpAddr>() {
                Ok(ip) => {
                    if !ips.contains(&ip) {
                        ips.push(ip);
                    }
                }
                Err(_) => invalid = Some(s.clone()),
            }
        }
    };
    let configs = fw.get("properties.ipConfigurations");
    let configs = configs.known().and_then(Tree::as_array).unwrap_or_default();
    let mut prefix: Option<AddrSet> = None;
    for c in configs {
        let props = c.member("properties");
        record(props.and_then(|p| p.member("privateIPAddress")));
        let subnet_id = props
            .and_then(|p| p.member("subnet"))
            .and_then(|s| s.member("id"))
            .and_then(Tree::as_str);
        if let Some(set) = subnet_id
            .and_then(|id| model.get(id))
            .and_then(subnet_prefixes)
        {
            prefix = Some(match prefix {
                Some(p) => p.union(&set),
                None => set,
            });
        }
    }
    record(fw.get("properties.hubIPAddresses.privateIPAddress").known());
    out.subnet_prefix = prefix;
    out.private_ips = match (invalid, ips.is_empty()) {
        (Some(v), _) => Setting::Invalid(v),
        (None, false) => Setting::Known(ips),
        (None, true) => Setting::Unknown,
    };
}

/// A subnet's `addressPrefix` and `addressPrefixes`, when all are known.
fn subnet_prefixes(subnet: &Resource) -> Option<AddrSet> {
    let mut texts: Vec<&str> = Vec::new();
    if let Some(p) = subnet.get("properties.addressPrefix").str() {
        texts.push(p);
    }
    if let Some(list) = subnet
        .get("properties.addressPrefixes")
        .known()
        .and_then(Tree::as_array)
    {
        for t in list {
            texts.push(t.as_str()?);
        }
    }
    if texts.is_empty() {
        return None;
    }
    AddrSet::from_prefixes(texts).ok()
}

/// One link of a policy chain.
enum Link<'m> {
    Declared(&'m Resource),
    /// Referenced, not in the input.
    Missing(String),
    /// A `basePolicy.id` not known offline.
    Unknown(UnknownPart),
}

fn read_policy_chain(model: &Model, id: &str, fallback: &Prov, out: &mut Firewall) {
    let mut chain: Vec<Link<'_>> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut next = Some(id.to_string());
    while let Some(id) = next.take() {
        if chain.len() >= MAX_POLICY_DEPTH || !seen.insert(id.to_ascii_lowercase()) {
            break;
        }
        match model.get(&id) {
            Some(p) if p.kind == ResourceKind::FirewallPolicy => {
                chain.push(Link::Declared(p));
                let base = p.get("properties.basePolicy.id");
                if let Some(value) = base.unknown() {
                    chain.push(Link::Unknown(UnknownPart {
                        field: "basePolicy.id".to_string(),
                        value: value.clone(),
                        at: base.at().cloned(),
                    }));
                } else if let Some(b) = base.str() {
                    next = Some(b.to_string());
                }
            }
            _ => chain.push(Link::Missing(id)),
        }
    }
    // The top-most parent first, at level 0.
    for (k, link) in chain.iter().rev().enumerate() {
        let level = u32::try_from(k).unwrap_or(u32::MAX);
        match link {
            Link::Declared(p) => read_policy(model, p, level, out),
            Link::Missing(id) => out.collections.push(unknown_collection(
                "(policy not in this input)",
                level,
                UnknownPart {
                    field: "firewallPolicy".to_string(),
                    value: outside(&format!(
                        "the Firewall Policy `{id}` is not declared in this input"
                    )),
                    at: Some(fallback.clone()),
                },
            )),
            Link::Unknown(u) => out.collections.push(unknown_collection(
                "(parent policy not known offline)",
                level,
                u.clone(),
            )),
        }
    }
}

fn read_policy(model: &Model, policy: &Resource, level: u32, out: &mut Firewall) {
    let policy_name = policy.display_name();
    if policy.get("properties.threatIntelMode").str_is(&["Deny"]) == Some(true) {
        out.notes.push(format!(
            "policy `{policy_name}`: threat intelligence is in `Deny` mode (not modelled)"
        ));
    }
    if policy.existing {
        out.collections.push(unknown_collection(
            &format!("(rules of policy `{policy_name}` declared outside this input)"),
            level,
            UnknownPart {
                field: "ruleCollectionGroups".to_string(),
                value: outside(
                    "the policy is referenced as `existing`: its rule collection groups \
                     may not all be in this input",
                ),
                at: Some(policy.prov.clone()),
            },
        ));
    }
    let pid = policy.id.as_deref().map(str::to_ascii_lowercase);
    let mut network_fqdns = false;
    for group in model.resources.iter().filter(|r| {
        r.kind == ResourceKind::FirewallRuleCollectionGroup
            && pid.is_some()
            && r.parent_id().map(|p| p.to_ascii_lowercase()) == pid
    }) {
        if group.condition == Some(false) {
            continue;
        }
        let gname = group
            .short_name()
            .map(str::to_string)
            .unwrap_or_else(|| group.display_name());
        let mut unknown = Vec::new();
        let priority = match group.get("properties.priority") {
            amlguard_model::Field::Unknown { value, at } => {
                unknown.push(part("priority", value, Some(at)));
                Setting::Unknown
            }
            f => priority_of(f.known(), "priority", &mut unknown),
        };
        let info = GroupInfo {
            name: gname.clone(),
            priority,
            policy: Some(policy_name.clone()),
            prov: Some(group.prov.clone()),
        };
        let exists = match group.condition {
            Some(_) => Setting::Known(true),
            None => Setting::Unknown,
        };
        let cond_unknown = group.condition.is_none().then(|| UnknownPart {
            field: "condition".to_string(),
            value: outside("the rule collection group's deployment condition is not known offline"),
            at: Some(group.prov.clone()),
        });
        let with_group = |mut c: RuleCollection| {
            c.group = Some(info.clone());
            c.level = level;
            if c.exists == Setting::Known(true) {
                c.exists = exists.clone();
            }
            c.unknown.extend(unknown.iter().cloned());
            c.unknown.extend(cond_unknown.iter().cloned());
            c
        };
        if group.existing {
            out.collections.push(with_group(unknown_collection(
                "(rules declared outside this input)",
                level,
                UnknownPart {
                    field: "ruleCollections".to_string(),
                    value: outside("the rule collection group is referenced as `existing`"),
                    at: Some(group.prov.clone()),
                },
            )));
            continue;
        }
        let field = group.get("properties.ruleCollections");
        if let Some(value) = field.unknown() {
            out.collections.push(with_group(unknown_collection(
                "(rule collections not known offline)",
                level,
                UnknownPart {
                    field: "ruleCollections".to_string(),
                    value: value.clone(),
                    at: field.at().cloned(),
                },
            )));
            continue;
        }
        let Some(items) = field.known().and_then(Tree::as_array) else {
            continue;
        };
        for item in items {
            if let Some(why) = unknown_item(item, "") {
                out.collections.push(with_group(unknown_collection(
                    "(rule collection not known offline)",
                    level,
                    why,
                )));
                continue;
            }
            if let Some(c) = policy_collection(model, item, &group.prov) {
                network_fqdns |= c
                    .rules
                    .iter()
                    .any(|r| matches!(r, FwRule::Network(n) if !n.destination_fqdns.is_empty()));
                out.collections.push(with_group(c));
            }
        }
    }
    if network_fqdns && policy.get("properties.dnsSettings.enableProxy").bool() != Some(true) {
        out.notes.push(format!(
            "policy `{policy_name}`: network rules name FQDNs but the DNS proxy is not shown \
             enabled (`dnsSettings.enableProxy`); Azure needs it for FQDNs in network rules"
        ));
    }
}

/// Why an array item (or its `inner` member, when given) is not known
/// offline, if it is not.
fn unknown_item(item: &Tree, inner: &str) -> Option<UnknownPart> {
    let t = if inner.is_empty() {
        item
    } else {
        item.member(inner).unwrap_or(item)
    };
    match &t.kind {
        TreeKind::Unknown(u) => Some(part(
            "rule collection",
            u,
            t.prov.clone().or(item.prov.clone()),
        )),
        _ => None,
    }
}

/// A collection standing for rules not known offline.
fn unknown_collection(name: &str, level: u32, why: UnknownPart) -> RuleCollection {
    RuleCollection {
        name: name.to_string(),
        kind: CollectionKind::Unknown,
        priority: Setting::Unknown,
        action: Setting::Unknown,
        group: None,
        level,
        exists: Setting::Known(true),
        prov: why.at.clone(),
        unknown: vec![why.clone()],
        rules: vec![FwRule::Unknown(why)],
    }
}

fn outside(reason: &str) -> UnknownValue {
    UnknownValue {
        reason: reason.to_string(),
        input: None,
        secret: false,
    }
}

/// A classic collection `{name, properties: {priority, action: {type}, rules}}`.
fn classic_collection(
    model: &Model,
    item: &Tree,
    kind: CollectionKind,
    fallback: &Prov,
) -> RuleCollection {
    let mut unknown = Vec::new();
    let name = name_of(item);
    let props = item.member("properties");
    let priority = priority_of(
        props.and_then(|p| p.member("priority")),
        "priority",
        &mut unknown,
    );
    let action = action_of(props, &mut unknown);
    let prov = item.prov.clone().or_else(|| Some(fallback.clone()));
    let rules = rules_of(
        model,
        props.and_then(|p| p.member("rules")),
        Some(kind),
        &prov,
    );
    RuleCollection {
        name,
        kind,
        priority,
        action: match action {
            Some(a) => a,
            None => Setting::Invalid(String::new()),
        },
        group: None,
        level: 0,
        exists: Setting::Known(true),
        rules,
        unknown,
        prov,
    }
}

/// A policy collection; `None` for DNAT collections (inbound).
fn policy_collection(model: &Model, item: &Tree, fallback: &Prov) -> Option<RuleCollection> {
    let mut unknown = Vec::new();
    let ctype = item.member("ruleCollectionType").and_then(Tree::as_str);
    if ctype.is_some_and(|t| t.eq_ignore_ascii_case("FirewallPolicyNatRuleCollection")) {
        return None;
    }
    let action = action_of(Some(item), &mut unknown);
    if let Some(Setting::Invalid(v)) = &action
        && v.eq_ignore_ascii_case("dnat")
    {
        return None;
    }
    let name = name_of(item);
    let priority = priority_of(item.member("priority"), "priority", &mut unknown);
    let prov = item.prov.clone().or_else(|| Some(fallback.clone()));
    let rules = rules_of(model, item.member("rules"), None, &prov);
    let network = rules
        .iter()
        .filter(|r| matches!(r, FwRule::Network(_)))
        .count();
    let app = rules
        .iter()
        .filter(|r| matches!(r, FwRule::Application(_)))
        .count();
    let kind = if rules.iter().any(|r| matches!(r, FwRule::Unknown(_))) || (network > 0 && app > 0)
    {
        CollectionKind::Unknown
    } else if app > 0 {
        CollectionKind::Application
    } else {
        CollectionKind::Network
    };
    Some(RuleCollection {
        name,
        kind,
        priority,
        action: match action {
            Some(a) => a,
            None => Setting::Invalid(String::new()),
        },
        group: None,
        level: 0,
        exists: Setting::Known(true),
        rules,
        unknown,
        prov,
    })
}

fn name_of(item: &Tree) -> String {
    item.member("name")
        .and_then(Tree::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| "(unnamed)".to_string())
}

/// `action.type` of `holder`: `Some(setting)`, or `None` when missing.
fn action_of(holder: Option<&Tree>, unknown: &mut Vec<UnknownPart>) -> Option<Setting<Access>> {
    let action = holder.and_then(|h| h.member("action"))?;
    let t = match &action.kind {
        TreeKind::Unknown(u) => {
            unknown.push(part("action", u, action.prov.clone()));
            return Some(Setting::Unknown);
        }
        _ => action.member("type")?,
    };
    Some(match &t.kind {
        TreeKind::String(s) if s.eq_ignore_ascii_case("allow") => Setting::Known(Access::Allow),
        TreeKind::String(s) if s.eq_ignore_ascii_case("deny") => Setting::Known(Access::Deny),
        TreeKind::Unknown(u) => {
            unknown.push(part("action.type", u, t.prov.clone()));
            Setting::Unknown
        }
        _ => Setting::Invalid(text_of(t)),
    })
}

fn part(field: &str, u: &UnknownValue, at: Option<Prov>) -> UnknownPart {
    UnknownPart {
        field: field.to_string(),
        value: u.clone(),
        at,
    }
}

fn text_of(t: &Tree) -> String {
    match &t.kind {
        TreeKind::String(s) => s.clone(),
        TreeKind::Int(i) => i.to_string(),
        _ => t.to_string(),
    }
}

/// A priority 100–65000 (missing: invalid, with an empty text).
fn priority_of(t: Option<&Tree>, field: &str, unknown: &mut Vec<UnknownPart>) -> Setting<u32> {
    let Some(t) = t else {
        return Setting::Invalid(String::new());
    };
    match &t.kind {
        TreeKind::Unknown(u) => {
            unknown.push(part(field, u, t.prov.clone()));
            Setting::Unknown
        }
        TreeKind::Null => Setting::Invalid(String::new()),
        _ => match t
            .as_int()
            .or_else(|| t.as_str().and_then(|s| s.trim().parse().ok()))
        {
            Some(p) if (100..=65000).contains(&p) => match u32::try_from(p) {
                Ok(p) => Setting::Known(p),
                Err(_) => Setting::Invalid(text_of(t)),
            },
            _ => Setting::Invalid(text_of(t)),
        },
    }
}

/// The strings of a list property: absent → empty; an unknown list → one
/// unknown item; items other than strings and numbers are invalid.
fn list_of(t: Option<&Tree>, field: &str, unknown: &mut Vec<UnknownPart>) -> Vec<Setting<String>> {
    let Some(t) = t else {
        return Vec::new();
    };
    let item = |t: &Tree, unknown: &mut Vec<UnknownPart>| match &t.kind {
        TreeKind::String(s) => Setting::Known(s.clone()),
        TreeKind::Int(i) => Setting::Known(i.to_string()),
        TreeKind::Unknown(u) => {
            unknown.push(part(field, u, t.prov.clone()));
            Setting::Unknown
        }
        _ => Setting::Invalid(text_of(t)),
    };
    match &t.kind {
        TreeKind::Null => Vec::new(),
        TreeKind::Array(items) => items.iter().map(|i| item(i, unknown)).collect(),
        _ => vec![item(t, unknown)],
    }
}

fn map_setting<T>(s: Setting<String>, f: impl FnOnce(&str) -> Setting<T>) -> Setting<T> {
    match s {
        Setting::Known(t) => f(&t),
        Setting::Unknown => Setting::Unknown,
        Setting::Invalid(v) => Setting::Invalid(v),
    }
}

/// Address items and IP groups of a rule, together.
fn address_items(
    model: &Model,
    rule: &Tree,
    addresses: &str,
    groups: &str,
    unknown: &mut Vec<UnknownPart>,
) -> Vec<Setting<AddrItem>> {
    let mut out: Vec<Setting<AddrItem>> = list_of(rule.member(addresses), addresses, unknown)
        .into_iter()
        .map(|s| map_setting(s, AddrItem::parse))
        .collect();
    out.extend(
        list_of(rule.member(groups), groups, unknown)
            .into_iter()
            .map(|s| {
                map_setting(s, |id| {
                    Setting::Known(AddrItem::IpGroup {
                        id: id.to_string(),
                        members: ip_group_members(model, id),
                    })
                })
            }),
    );
    out
}

/// The addresses of an IP group declared in the input with a known list.
fn ip_group_members(model: &Model, id: &str) -> Option<AddrSet> {
    let g = model.get(id)?;
    if !g
        .arm_type
        .eq_ignore_ascii_case("Microsoft.Network/ipGroups")
        || g.condition.is_none()
        || g.existing
    {
        return None;
    }
    let items = g
        .get("properties.ipAddresses")
        .known()?
        .as_array()?
        .to_vec();
    let mut set = AddrSet::empty();
    for t in &items {
        match AddrItem::parse(t.as_str()?) {
            Setting::Known(AddrItem::Literal(s, _)) => set = set.union(&s),
            _ => return None,
        }
    }
    Some(set)
}

/// The rules of a collection. `kind` is the classic collection's type;
/// policy rules carry their own `ruleType`.
fn rules_of(
    model: &Model,
    rules: Option<&Tree>,
    kind: Option<CollectionKind>,
    coll_prov: &Option<Prov>,
) -> Vec<FwRule> {
    let Some(rules) = rules else {
        return Vec::new();
    };
    let items = match &rules.kind {
        TreeKind::Unknown(u) => {
            return vec![FwRule::Unknown(part(
                "rules",
                u,
                rules.prov.clone().or_else(|| coll_prov.clone()),
            ))];
        }
        TreeKind::Array(items) => items,
        _ => return Vec::new(),
    };
    let mut out = Vec::new();
    for r in items {
        if let TreeKind::Unknown(u) = &r.kind {
            out.push(FwRule::Unknown(part(
                "rules",
                u,
                r.prov.clone().or_else(|| coll_prov.clone()),
            )));
            continue;
        }
        let is_app = match kind {
            Some(CollectionKind::Application) => true,
            Some(_) => false,
            None => match r.member("ruleType").map(|t| &t.kind) {
                Some(TreeKind::String(s)) if s.eq_ignore_ascii_case("NatRule") => continue,
                Some(TreeKind::String(s)) if s.eq_ignore_ascii_case("ApplicationRule") => true,
                Some(TreeKind::String(s)) if s.eq_ignore_ascii_case("NetworkRule") => false,
                Some(TreeKind::Unknown(u)) => {
                    out.push(FwRule::Unknown(part(
                        "ruleType",
                        u,
                        r.prov.clone().or_else(|| coll_prov.clone()),
                    )));
                    continue;
                }
                // Missing or other: by the fields present.
                _ => ["targetFqdns", "targetUrls", "fqdnTags", "webCategories"]
                    .iter()
                    .any(|f| r.member(f).is_some()),
            },
        };
        out.push(if is_app {
            FwRule::Application(application_rule(model, r, coll_prov))
        } else {
            FwRule::Network(network_rule(model, r, coll_prov))
        });
    }
    out
}

fn network_rule(model: &Model, r: &Tree, coll_prov: &Option<Prov>) -> NetworkRule {
    let mut unknown = Vec::new();
    let sources = address_items(model, r, "sourceAddresses", "sourceIpGroups", &mut unknown);
    let destinations = address_items(
        model,
        r,
        "destinationAddresses",
        "destinationIpGroups",
        &mut unknown,
    );
    let destination_fqdns = list_of(
        r.member("destinationFqdns"),
        "destinationFqdns",
        &mut unknown,
    )
    .into_iter()
    .map(|s| map_setting(s, network_fqdn))
    .collect();
    let ports = list_of(
        r.member("destinationPorts"),
        "destinationPorts",
        &mut unknown,
    )
    .into_iter()
    .map(|s| map_setting(s, PortSpec::parse))
    .collect();
    let proto_field = if r.member("ipProtocols").is_some() {
        "ipProtocols"
    } else {
        "protocols"
    };
    let protocols = list_of(r.member(proto_field), proto_field, &mut unknown)
        .into_iter()
        .map(|s| {
            map_setting(s, |t| match NetProtocol::parse(t) {
                Some(p) => Setting::Known(p),
                None => Setting::Invalid(t.to_string()),
            })
        })
        .collect();
    NetworkRule {
        name: name_of(r),
        sources,
        destinations,
        destination_fqdns,
        ports,
        protocols,
        unknown,
        prov: r.prov.clone().or_else(|| coll_prov.clone()),
    }
}

fn application_rule(model: &Model, r: &Tree, coll_prov: &Option<Prov>) -> ApplicationRule {
    let mut unknown = Vec::new();
    let sources = address_items(model, r, "sourceAddresses", "sourceIpGroups", &mut unknown);
    let mut targets: Vec<Setting<AppTarget>> = Vec::new();
    targets.extend(
        list_of(r.member("targetFqdns"), "targetFqdns", &mut unknown)
            .into_iter()
            .map(|s| {
                map_setting(s, |t| match HostPattern::parse(t) {
                    Some(p) => Setting::Known(AppTarget::Fqdn(p)),
                    None => Setting::Invalid(t.trim().to_string()),
                })
            }),
    );
    targets.extend(
        list_of(r.member("targetUrls"), "targetUrls", &mut unknown)
            .into_iter()
            .map(|s| map_setting(s, AppTarget::url)),
    );
    targets.extend(
        list_of(r.member("fqdnTags"), "fqdnTags", &mut unknown)
            .into_iter()
            .map(|s| {
                map_setting(s, |t| {
                    Setting::Known(AppTarget::FqdnTag(t.trim().to_string()))
                })
            }),
    );
    targets.extend(
        list_of(r.member("webCategories"), "webCategories", &mut unknown)
            .into_iter()
            .map(|s| {
                map_setting(s, |t| {
                    Setting::Known(AppTarget::WebCategory(t.trim().to_string()))
                })
            }),
    );
    let protocols = match r.member("protocols") {
        None => Vec::new(),
        Some(t) => match &t.kind {
            TreeKind::Null => Vec::new(),
            TreeKind::Unknown(u) => {
                unknown.push(part("protocols", u, t.prov.clone()));
                vec![Setting::Unknown]
            }
            TreeKind::Array(items) => items.iter().map(|p| app_port(p, &mut unknown)).collect(),
            _ => vec![Setting::Invalid(text_of(t))],
        },
    };
    let destination_addresses = list_of(
        r.member("destinationAddresses"),
        "destinationAddresses",
        &mut unknown,
    )
    .into_iter()
    .map(|s| map_setting(s, AddrItem::parse))
    .collect();
    ApplicationRule {
        name: name_of(r),
        sources,
        targets,
        protocols,
        destination_addresses,
        unknown,
        prov: r.prov.clone().or_else(|| coll_prov.clone()),
    }
}

/// `{protocolType, port}`; the port defaults to the protocol's own.
fn app_port(p: &Tree, unknown: &mut Vec<UnknownPart>) -> Setting<AppPort> {
    if let TreeKind::Unknown(u) = &p.kind {
        unknown.push(part("protocols", u, p.prov.clone()));
        return Setting::Unknown;
    }
    let ptype = p.member("protocolType");
    let protocol = match ptype.map(|t| &t.kind) {
        Some(TreeKind::String(s)) => match AppProtocol::parse(s) {
            Some(a) => a,
            None => return Setting::Invalid(s.clone()),
        },
        Some(TreeKind::Unknown(u)) => {
            unknown.push(part("protocolType", u, ptype.and_then(|t| t.prov.clone())));
            return Setting::Unknown;
        }
        _ => return Setting::Invalid(text_of(p)),
    };
    let port_tree = p.member("port");
    let port = match port_tree.map(|t| &t.kind) {
        None | Some(TreeKind::Null) => protocol.default_port(),
        Some(TreeKind::Unknown(u)) => {
            unknown.push(part("port", u, port_tree.and_then(|t| t.prov.clone())));
            return Setting::Unknown;
        }
        Some(_) => match port_tree
            .and_then(|t| {
                t.as_int()
                    .or_else(|| t.as_str().and_then(|s| s.trim().parse().ok()))
            })
            .and_then(|i| u16::try_from(i).ok())
        {
            Some(port) if port > 0 => port,
            _ => return Setting::Invalid(port_tree.map(text_of).unwrap_or_default()),
        },
    };
    Setting::Known(AppPort { protocol, port })
}
