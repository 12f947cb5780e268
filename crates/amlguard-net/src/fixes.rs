//! Fixes that are checked: for an open path, candidate changes to the
//! estate, each applied to a copy and the engine run again. A fix is offered
//! only when the path closes and no dependency that was reachable becomes
//! blocked.

use std::sync::Arc;

use amlguard_model::Prov;

/// A checked change that closes a path.
#[derive(Clone, Debug, PartialEq)]
pub struct Fix {
    /// What to change, in words (names the resource and the values).
    pub summary: String,
    /// Where the change goes.
    pub at: Option<Prov>,
}

use crate::engine::{Class, ClassVerdict, DepVerdict, Reach};
use crate::nsg::{Access, Direction, Rule, Setting};
use crate::symbolic::TagSource;
use crate::topology::{Estate, Fact, Link, ManagedMode, Placement, Policy, PolicyEntry};

/// A candidate change: what it says, and how it changes a copy of the estate.
/// `apply` must leave firewalls alone: the engine keeps their compilations by
/// firewall index for the whole analysis, fix checks included.
struct Candidate {
    summary: String,
    at: Option<Prov>,
    apply: Box<dyn Fn(&mut Estate) -> bool>,
}

/// The tag a deny rule names to close a class.
fn class_tag(class: Class) -> &'static str {
    match class {
        Class::Internet => "Internet",
        Class::Storage => "Storage",
        Class::FrontDoor => "AzureFrontDoor.Frontend",
        Class::Writable => "AzureCloud",
    }
}

/// The smallest checked change found that closes `class` for compute `ci`.
/// `deps` are the compute's dependency verdicts before the change: a fix may
/// not turn a reachable one into a blocked or possible one.
pub fn find(
    estate: &Estate,
    ci: usize,
    verdict: &ClassVerdict,
    deps: &[DepVerdict],
    tags: TagSource<'_>,
    shared: &crate::engine::Shared,
) -> Option<Fix> {
    let class = verdict.class;
    let opened_by = opening_rule(verdict);
    let c = estate.computes.get(ci)?;
    let mut candidates: Vec<Candidate> = Vec::new();
    match &c.placement {
        Placement::Subnet(si) => {
            let subnet = estate.subnets.get(*si)?;
            let si = *si;
            // Storage over a service endpoint with no policy: attach one.
            if class == Class::Storage
                && matches!(subnet.storage_endpoint.get(), Some(Some(_)))
                && matches!(subnet.policies.get(), Some(l) if l.is_empty())
            {
                let ws = c.workspace.and_then(|w| estate.workspaces.get(w));
                let mut entries = Vec::new();
                let mut listed = Vec::new();
                if let Some(sa) = ws.and_then(|w| w.default_storage.clone()) {
                    listed.push(format!("`{}`", short(&sa)));
                    entries.push(sa);
                }
                entries.push("/services/Azure/MachineLearning".to_string());
                listed.push("`/services/Azure/MachineLearning`".to_string());
                let name = subnet.name.clone();
                candidates.push(Candidate {
                    summary: format!(
                        "attach a service endpoint policy listing {} to subnet `{name}`",
                        listed.join(" and ")
                    ),
                    at: subnet
                        .policies
                        .at
                        .clone()
                        .or_else(|| Some(subnet.prov.clone())),
                    apply: Box::new(move |e: &mut Estate| {
                        let idx = e.policies.len();
                        e.policies.push(Policy {
                            id: None,
                            name: "amlguard-proposed".to_string(),
                            prov: match e.subnets.get(si) {
                                Some(s) => s.prov.clone(),
                                None => return false,
                            },
                            entries: Fact::known(
                                entries
                                    .iter()
                                    .map(|v| PolicyEntry {
                                        value: v.clone(),
                                        at: None,
                                    })
                                    .collect(),
                                None,
                                true,
                            ),
                        });
                        match e.subnets.get_mut(si) {
                            Some(s) => {
                                s.policies = Fact::known(vec![Link::Index(idx)], None, true);
                                true
                            }
                            None => false,
                        }
                    }),
                });
            }
            if let Link::Index(ni) = subnet.nsg {
                let nsg = estate.nsgs.get(ni)?;
                let tag = class_tag(class);
                let mut allows: Vec<(u32, String, Option<Prov>)> = nsg
                    .rules
                    .iter()
                    .filter(|r| {
                        r.access == Setting::Known(Access::Allow)
                            && r.direction == Setting::Known(Direction::Outbound)
                    })
                    .filter_map(|r| match r.priority {
                        Setting::Known(p) => Some((p, r.name.clone(), r.prov.clone())),
                        _ => None,
                    })
                    .collect();
                allows.sort();
                // Only the rule that lets the path out is a candidate to
                // change (the chain names it); a user rule of every NSG
                // would make the search grow with the NSG.
                allows.retain(|(_, n, _)| opened_by.as_deref() == Some(n.as_str()));
                let used: Vec<u32> = nsg
                    .rules
                    .iter()
                    .filter(|r| r.direction != Setting::Known(Direction::Inbound))
                    .filter_map(|r| match r.priority {
                        Setting::Known(p) => Some(p),
                        _ => None,
                    })
                    .collect();
                let free_below = |p: u32| (100..p).rev().find(|q| !used.contains(q));
                let nsg_name = nsg.name.clone();
                // Deny the class just above each rule that allows (the last
                // allow first: it keeps every earlier allow in front).
                let mut spots: Vec<(u32, Option<Prov>, String)> = allows
                    .iter()
                    .rev()
                    .filter_map(|(p, n, at)| free_below(*p).map(|q| (q, at.clone(), n.clone())))
                    .collect();
                if !used.contains(&4096) {
                    spots.push((4096, Some(nsg.prov.clone()), String::new()));
                }
                for (q, at, above) in spots {
                    let tag = tag.to_string();
                    let place = if above.is_empty() {
                        String::new()
                    } else {
                        format!(", above rule `{above}`")
                    };
                    candidates.push(Candidate {
                        summary: format!(
                            "add an outbound rule to NSG `{nsg_name}`: Deny `{tag}`, any protocol and port, priority {q}{place}"
                        ),
                        at,
                        apply: Box::new(move |e: &mut Estate| match e.nsgs.get_mut(ni).map(Arc::make_mut) {
                            Some(n) => {
                                n.rules.push(
                                    Rule::outbound("amlguard-proposed-deny", q, Access::Deny)
                                        .with_destinations(&[tag.as_str()]),
                                );
                                true
                            }
                            None => false,
                        }),
                    });
                }
                for (_, name, at) in allows.iter().rev() {
                    let name = name.clone();
                    let summary = format!("remove outbound rule `{name}` from NSG `{nsg_name}`");
                    candidates.push(Candidate {
                        summary,
                        at: at.clone(),
                        apply: Box::new(move |e: &mut Estate| {
                            match e.nsgs.get_mut(ni).map(Arc::make_mut) {
                                Some(n) => {
                                    let before = n.rules.len();
                                    n.rules.retain(|r| r.name != name);
                                    n.rules.len() != before
                                }
                                None => false,
                            }
                        }),
                    });
                }
            }
            if class == Class::Internet {
                let name = subnet.name.clone();
                candidates.push(Candidate {
                    summary: format!("set `defaultOutboundAccess` to false on subnet `{name}`"),
                    at: subnet
                        .default_outbound
                        .at
                        .clone()
                        .or_else(|| Some(subnet.prov.clone())),
                    apply: Box::new(move |e: &mut Estate| match e.subnets.get_mut(si) {
                        Some(s) => {
                            s.default_outbound = Fact::known(false, None, true);
                            true
                        }
                        None => false,
                    }),
                });
                candidates.push(Candidate {
                    summary: format!("set `enableNodePublicIp` to false on {}", c.label()),
                    at: c.public_ip.at.clone(),
                    apply: Box::new(move |e: &mut Estate| match e.computes.get_mut(ci) {
                        Some(c) => {
                            c.public_ip = Fact::known(false, None, true);
                            true
                        }
                        None => false,
                    }),
                });
            }
        }
        Placement::Managed(wi) => {
            let wi = *wi;
            let ws = estate.workspaces.get(wi)?;
            if ws.managed.get() == Some(&ManagedMode::AllowInternetOutbound) {
                candidates.push(Candidate {
                    summary: format!(
                        "set `managedNetwork.isolationMode` to `AllowOnlyApprovedOutbound` on workspace `{}`",
                        ws.name
                    ),
                    at: ws.managed.at.clone(),
                    apply: Box::new(move |e: &mut Estate| match e.workspaces.get_mut(wi) {
                        Some(w) => {
                            w.managed = Fact::known(ManagedMode::AllowOnlyApprovedOutbound, None, true);
                            true
                        }
                        None => false,
                    }),
                });
            }
            for r in ws.outbound_rules.iter().filter(|r| !r.required) {
                let name = r.name.clone();
                candidates.push(Candidate {
                    summary: format!("remove outbound rule `{name}` from workspace `{}`", ws.name),
                    at: Some(r.prov.clone()),
                    apply: Box::new(move |e: &mut Estate| match e.workspaces.get_mut(wi) {
                        Some(w) => {
                            w.outbound_rules.retain(|x| x.name != name);
                            true
                        }
                        None => false,
                    }),
                });
            }
        }
        _ => return None,
    }
    let was = shared.checking.replace(true);
    let found = check(estate, ci, class, deps, tags, shared, candidates);
    shared.checking.set(was);
    found
}

fn check(
    estate: &Estate,
    ci: usize,
    class: Class,
    deps: &[DepVerdict],
    tags: TagSource<'_>,
    shared: &crate::engine::Shared,
    candidates: Vec<Candidate>,
) -> Option<Fix> {
    for cand in candidates {
        let spent = shared.fix_checks.get();
        if spent >= crate::engine::FIX_CHECKS {
            return None;
        }
        shared.fix_checks.set(spent + 1);
        let mut copy = estate.clone();
        if !(cand.apply)(&mut copy) {
            continue;
        }
        let Some((classes, after)) =
            crate::engine::verdicts_for_fix(&copy, ci, tags, shared, class)
        else {
            continue;
        };
        if !closes(&classes, class) {
            continue;
        }
        let breaks = deps.iter().any(|d| {
            d.reach == Reach::Reachable
                && after
                    .iter()
                    .find(|a| a.dependency == d.dependency)
                    .is_some_and(|a| a.reach != Reach::Reachable)
        });
        if breaks {
            continue;
        }
        return Some(Fix {
            summary: cand.summary,
            at: cand.at,
        });
    }
    None
}

/// The NSG rule that lets the path out, as the chain records it.
fn opening_rule(v: &ClassVerdict) -> Option<String> {
    v.chain.iter().find_map(|s| s.nsg_rule.clone())
}

fn closes(classes: &[ClassVerdict], class: Class) -> bool {
    classes
        .iter()
        .find(|v| v.class == class)
        .is_some_and(|v| v.reach == Reach::NotReachable)
}

fn short(id: &str) -> &str {
    id.trim_end_matches('/').rsplit('/').next().unwrap_or(id)
}
