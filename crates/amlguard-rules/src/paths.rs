//! The network engine's verdicts as findings: one analysis per model, shared
//! by the path rules (AMLG301–304 open paths, AMLG401 blocked dependencies,
//! AMLG406 blocked inbound management).

use amlguard_model::{Model, Prov, Resource};
use amlguard_net::engine::{Analysis, Class, ClassVerdict, ComputeVerdicts, Reach, Step};
use amlguard_net::symbolic::{SymbolicTags, TagSource};
use amlguard_net::tags::ServiceTags;
use amlguard_net::topology::Estate;

use crate::{Confidence, Finding, FlowStep, RuleMeta};

/// The network of a model and the engine's verdicts on it.
#[derive(Clone, Debug)]
pub struct Paths {
    pub estate: Estate,
    pub analysis: Analysis,
}

impl Paths {
    /// Reads the network and runs the engine: exact with a service-tag file,
    /// symbolic otherwise.
    pub fn of(model: &Model, tags: Option<&ServiceTags>) -> Paths {
        let estate = Estate::from_model(model);
        let analysis = match tags {
            Some(t) => amlguard_net::engine::analyse(&estate, TagSource::File(t)),
            None => {
                amlguard_net::engine::analyse(&estate, TagSource::Symbolic(SymbolicTags::builtin()))
            }
        };
        Paths { estate, analysis }
    }
}

/// The resource a finding about a compute is reported on: the compute, or
/// the workspace for serverless compute.
fn resource_of<'m>(model: &'m Model, v: &ComputeVerdicts) -> Option<&'m Resource> {
    v.compute
        .id
        .as_deref()
        .and_then(|id| model.get(id))
        .or_else(|| model.resources.iter().find(|r| r.prov == v.compute.prov))
}

fn flow(chain: &[Step]) -> Vec<FlowStep> {
    chain
        .iter()
        .map(|s| FlowStep {
            at: s.at.clone(),
            message: s.text.clone(),
        })
        .collect()
}

/// The setting a finding is located at: the last located step of the chain
/// (the one that opens the path or blocks the dependency).
fn key_location(chain: &[Step]) -> Option<Prov> {
    chain.iter().rev().find_map(|s| s.at.clone())
}

/// A group of computes with the same verdict at the same setting.
struct Group<'a> {
    at: Option<Prov>,
    placement: String,
    reach: Reach,
    verdicts: Vec<(&'a ComputeVerdicts, &'a ClassVerdict)>,
}

/// Findings for one destination class: one per setting that opens the path,
/// naming every compute it opens it for.
pub(crate) fn class_findings(
    meta: &'static RuleMeta,
    class: Class,
    model: &Model,
    paths: &Paths,
    default_fix: &str,
    out: &mut Vec<Finding>,
) {
    let mut groups: Vec<Group<'_>> = Vec::new();
    for v in &paths.analysis.computes {
        let Some(cv) = v.classes.iter().find(|c| c.class == class) else {
            continue;
        };
        if cv.reach == Reach::NotReachable {
            continue;
        }
        // The setting the checked fix changes, else the last setting of the chain.
        let at = cv
            .fix
            .as_ref()
            .and_then(|f| f.at.clone())
            .or_else(|| key_location(&cv.chain));
        match groups
            .iter_mut()
            .find(|g| g.at == at && g.placement == v.placement && g.reach == cv.reach)
        {
            Some(g) => g.verdicts.push((v, cv)),
            None => groups.push(Group {
                at,
                placement: v.placement.clone(),
                reach: cv.reach,
                verdicts: vec![(v, cv)],
            }),
        }
    }
    for g in groups {
        let Some((first, cv)) = g.verdicts.first() else {
            continue;
        };
        let Some(r) = resource_of(model, first) else {
            continue;
        };
        let labels: Vec<String> = g.verdicts.iter().map(|(v, _)| v.compute.label()).collect();
        let who = labels.join(", ");
        let message = match g.reach {
            Reach::Reachable => format!(
                "{who} ({}) can send data to {}",
                g.placement,
                class.describe()
            ),
            _ => format!(
                "possibly: {who} ({}) can send data to {}",
                g.placement,
                class.describe()
            ),
        };
        let mut f = Finding::new(meta, r, message);
        if let Some(at) = &g.at {
            f.at = at.clone();
        }
        f.flow = flow(&cv.chain);
        f.fix = match &cv.fix {
            Some(x) => format!(
                "{} (checked: the path closes and every dependency stays reachable)",
                x.summary
            ),
            None => default_fix.to_string(),
        };
        if g.reach == Reach::Possible {
            f.confidence = Confidence::Low;
            f.deciding_input = cv.deciding_input.clone();
        }
        for (v, _) in g.verdicts.iter().skip(1) {
            f = f.related(
                v.compute.prov.clone(),
                format!("{} has the same path", v.compute.label()),
            );
        }
        out.push(f);
    }
}

/// Findings for dependencies that are blocked (or may be).
pub(crate) fn dependency_findings(
    meta: &'static RuleMeta,
    model: &Model,
    paths: &Paths,
    default_fix: &str,
    out: &mut Vec<Finding>,
) {
    // (dependency, location, reach) → computes
    type DepGroup<'a> = (String, Option<Prov>, Reach, Vec<&'a ComputeVerdicts>, usize);
    let mut groups: Vec<DepGroup<'_>> = Vec::new();
    for v in &paths.analysis.computes {
        for (k, d) in v.dependencies.iter().enumerate() {
            if d.reach == Reach::Reachable {
                continue;
            }
            let at = key_location(&d.chain);
            match groups
                .iter_mut()
                .find(|g| g.0 == d.dependency.name && g.1 == at && g.2 == d.reach)
            {
                Some(g) => g.3.push(v),
                None => groups.push((d.dependency.name.clone(), at, d.reach, vec![v], k)),
            }
        }
    }
    for (name, at, reach, computes, k) in groups {
        let Some(first) = computes.first() else {
            continue;
        };
        let Some(d) = first.dependencies.get(k) else {
            continue;
        };
        let Some(r) = resource_of(model, first) else {
            continue;
        };
        let labels: Vec<String> = computes.iter().map(|v| v.compute.label()).collect();
        let message = format!(
            "{}{} cannot reach {name} ({})",
            if reach == Reach::Possible {
                "possibly: "
            } else {
                ""
            },
            labels.join(", "),
            d.dependency.why,
        );
        let mut f = Finding::new(meta, r, message);
        if let Some(at) = at {
            f.at = at;
        }
        f.flow = flow(&d.chain);
        f.fix = default_fix.to_string();
        if reach == Reach::Possible {
            f.confidence = Confidence::Low;
            f.deciding_input = d.deciding_input.clone();
        }
        for v in computes.iter().skip(1) {
            f = f.related(
                v.compute.prov.clone(),
                format!("{} is affected too", v.compute.label()),
            );
        }
        out.push(f);
    }
}

/// Findings for public-IP compute whose subnet NSG blocks (or may block)
/// AML's inbound management traffic.
pub(crate) fn inbound_findings(
    meta: &'static RuleMeta,
    model: &Model,
    paths: &Paths,
    default_fix: &str,
    out: &mut Vec<Finding>,
) {
    for v in &paths.analysis.computes {
        let Some(d) = &v.inbound else {
            continue;
        };
        if d.reach == Reach::Reachable {
            continue;
        }
        let Some(r) = resource_of(model, v) else {
            continue;
        };
        let message = format!(
            "{}the NSG of {} ({}) does not let {} in",
            if d.reach == Reach::Possible {
                "possibly: "
            } else {
                ""
            },
            v.compute.label(),
            v.placement,
            d.dependency.name
        );
        let mut f = Finding::new(meta, r, message);
        if let Some(at) = key_location(&d.chain) {
            f.at = at;
        }
        f.flow = flow(&d.chain);
        f.fix = default_fix.to_string();
        if d.reach == Reach::Possible {
            f.confidence = Confidence::Low;
            f.deciding_input = d.deciding_input.clone();
        }
        out.push(f);
    }
}

/// Fixtures for the path rules' tests: one workspace, one cluster in subnet
/// `vnet/training` with an NSG, optionally a service endpoint policy.
#[cfg(test)]
pub(crate) mod fixtures {
    use crate::testing::template;

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn rule(
        name: &str,
        priority: u32,
        dir: &str,
        access: &str,
        proto: &str,
        src: &str,
        dest: &str,
        ports: &str,
    ) -> String {
        format!(
            r#"{{"name": "{name}", "properties": {{"priority": {priority}, "direction": "{dir}", "access": "{access}", "protocol": "{proto}", "sourceAddressPrefix": "{src}", "sourcePortRange": "*", "destinationAddressPrefix": "{dest}", "destinationPortRange": "{ports}"}}}}"#
        )
    }

    /// The guide's outbound rules (docs/azure-ml-network.md §1.5, §2.3).
    pub(crate) fn guide_rules() -> Vec<String> {
        let o = |n, p, proto, d, ports| {
            rule(n, p, "Outbound", "Allow", proto, "VirtualNetwork", d, ports)
        };
        vec![
            o("AllowBatch", 100, "*", "BatchNodeManagement.eastus", "443"),
            o("AllowAml", 110, "Tcp", "AzureMachineLearning", "443"),
            o("AllowAmlUdp", 115, "Udp", "AzureMachineLearning", "5831"),
            o("AllowStorage", 120, "Tcp", "Storage.eastus", "443"),
            o("AllowEntra", 130, "Tcp", "AzureActiveDirectory", "443"),
            o("AllowArm", 131, "Tcp", "AzureResourceManager", "443"),
            o("AllowMcr", 132, "Tcp", "MicrosoftContainerRegistry", "443"),
            o("AllowMcrFd", 133, "Tcp", "AzureFrontDoor.FirstParty", "443"),
            rule(
                "DenyInternet",
                4000,
                "Outbound",
                "Deny",
                "*",
                "*",
                "Internet",
                "*",
            ),
        ]
    }

    /// A template: NSG rules, whether the subnet has the storage endpoint
    /// with a policy (`Some(entries)`), and the cluster's `enableNodePublicIp`.
    pub(crate) fn network(rules: &[String], policy: Option<&[&str]>, public_ip: bool) -> String {
        let mut res = vec![format!(
            r#"{{"type": "Microsoft.Network/networkSecurityGroups", "apiVersion": "2024-05-01", "name": "nsg", "location": "eastus", "properties": {{"securityRules": [{}]}}}}"#,
            rules.join(",")
        )];
        let mut subnet = String::from(
            r#""addressPrefix": "10.0.1.0/24", "defaultOutboundAccess": false, "natGateway": {"id": "[resourceId('Microsoft.Network/natGateways', 'nat')]"}, "networkSecurityGroup": {"id": "[resourceId('Microsoft.Network/networkSecurityGroups', 'nsg')]"}, "serviceEndpoints": [{"service": "Microsoft.Storage"}]"#,
        );
        if let Some(entries) = policy {
            let (ids, aliases): (Vec<&&str>, Vec<&&str>) =
                entries.iter().partition(|e| !e.starts_with("/services/"));
            let q = |v: &[&&str]| {
                v.iter()
                    .map(|e| format!("\"{e}\""))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let mut defs = Vec::new();
            if !ids.is_empty() {
                defs.push(format!(r#"{{"name": "own", "properties": {{"service": "Microsoft.Storage", "serviceResources": [{}]}}}}"#, q(&ids)));
            }
            if !aliases.is_empty() {
                defs.push(format!(r#"{{"name": "aml", "properties": {{"service": "Global", "serviceResources": [{}]}}}}"#, q(&aliases)));
            }
            res.push(format!(
                r#"{{"type": "Microsoft.Network/serviceEndpointPolicies", "apiVersion": "2024-05-01", "name": "sep", "location": "eastus", "properties": {{"serviceEndpointPolicyDefinitions": [{}]}}}}"#,
                defs.join(",")
            ));
            subnet.push_str(r#", "serviceEndpointPolicies": [{"id": "[resourceId('Microsoft.Network/serviceEndpointPolicies', 'sep')]"}]"#);
        }
        res.push(r#"{"type": "Microsoft.Network/natGateways", "apiVersion": "2024-05-01", "name": "nat", "location": "eastus", "properties": {}}"#.to_string());
        res.push(format!(
            r#"{{"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2024-05-01", "name": "vnet", "location": "eastus", "properties": {{"addressSpace": {{"addressPrefixes": ["10.0.0.0/16"]}}, "subnets": [{{"name": "training", "properties": {{{subnet}}}}}]}}}}"#
        ));
        res.push(r#"{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-05-01", "name": "wsstore", "location": "eastus", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}, "properties": {}}"#.to_string());
        res.push(r#"{"type": "Microsoft.MachineLearningServices/workspaces", "apiVersion": "2024-04-01", "name": "ws", "location": "eastus", "properties": {"storageAccount": "[resourceId('Microsoft.Storage/storageAccounts', 'wsstore')]"}}"#.to_string());
        res.push(format!(
            r#"{{"type": "Microsoft.MachineLearningServices/workspaces/computes", "apiVersion": "2024-04-01", "name": "ws/cpu", "location": "eastus", "properties": {{"computeType": "AmlCompute", "properties": {{"enableNodePublicIp": {public_ip}, "subnet": {{"id": "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', 'training')]"}}}}}}}}"#
        ));
        template("", &res.join(","))
    }

    pub(crate) const GUIDE_POLICY: &[&str] = &[
        "[resourceId('Microsoft.Storage/storageAccounts', 'wsstore')]",
        "/services/Azure/MachineLearning",
    ];
}
