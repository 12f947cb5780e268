use amlguard_model::{Field, Model, Resource, ResourceKind, Tree};

use super::util::{field_input, has_workspace, same_resource, undecided};
use crate::{Finding, Rule, declare_rule};

declare_rule! {
    /// ## What it checks
    /// In a deployment with an AML workspace, every network security group and
    /// virtual network needs an enabled flow log
    /// (`Microsoft.Network/networkWatchers/flowLogs` whose
    /// `properties.targetResourceId` is it):
    /// - a virtual network passes with a flow log on itself, or on each of its subnets;
    /// - a network security group passes with a flow log on itself (NSG flow
    ///   logs, which Azure is retiring in favour of VNet flow logs), or when every
    ///   subnet and network interface it is attached to is covered by a flow log
    ///   on that subnet, its virtual network or that interface.
    ///
    /// A flow log counts when `properties.enabled` is `true`. The API documents no
    /// default for `enabled`; amlguard assumes an absent value is off. A target or
    /// `enabled` value that is not known offline gives a finding with confidence low.
    ///
    /// ## Why it matters
    /// Flow logs are the only record of which addresses compute talked to. When
    /// data leaves through an allowed path (a storage endpoint, a public IP, a
    /// firewall rule that is too broad), flow logs show where it went and how much.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.Network/virtualNetworks", "name": "vnet", "properties": {"subnets": [{"name": "training"}]}}
    /// ```
    /// with no `Microsoft.Network/networkWatchers/flowLogs` targeting it.
    ///
    /// ## Fix
    /// ARM: `{"type": "Microsoft.Network/networkWatchers/flowLogs", "apiVersion": "2024-05-01", "name": "NetworkWatcher_eastus/vnet-flow", "properties": {"targetResourceId": "[resourceId('Microsoft.Network/virtualNetworks', 'vnet')]", "storageId": "[parameters('flowLogStorageId')]", "enabled": true}}`.
    /// Bicep: `resource flow 'Microsoft.Network/networkWatchers/flowLogs@2024-05-01' = { parent: networkWatcher, name: 'vnet-flow', properties: { targetResourceId: vnet.id, storageId: flowLogStorageId, enabled: true } }`.
    /// Terraform (`azurerm_network_watcher_flow_log`): `target_resource_id = azurerm_virtual_network.vnet.id` and `enabled = true`.
    ///
    /// ## References
    /// Azure Policy c251913d-7d24-4958-af87-478ed3b9ba41 (flow logs for network
    /// security groups); MCSB LT-4; Prowler network_flow_log_* checks. Unlike an
    /// NSG-only check, amlguard accepts VNet flow logs as coverage for the NSGs of
    /// their subnets: new NSG flow logs can no longer be created.
    pub struct NsgFlowLogsMissing {
        code: 705,
        name: "nsg-flow-logs-missing",
        title: "A network security group or virtual network has no flow log",
        severity: Low,
        confidence: High,
        category: Logging,
        references: [
            "Azure Policy c251913d-7d24-4958-af87-478ed3b9ba41",
            "MCSB LT-4",
            "Prowler network_flow_log_*",
        ],
    }
}

/// Whether flow logs cover a target.
enum Cover<'a> {
    Yes,
    /// Not known offline; the deciding input.
    Undecided(Option<String>),
    /// Flow logs target it but are off.
    Off(&'a Resource),
    No,
}

impl Cover<'_> {
    fn yes(&self) -> bool {
        matches!(self, Cover::Yes)
    }
}

fn cover<'a>(m: &'a Model, target: &str) -> Cover<'a> {
    let mut undecided_input: Option<Option<String>> = None;
    let mut off = None;
    for fl in m.of_kind(ResourceKind::FlowLog) {
        let t = fl.get("properties.targetResourceId");
        let Some(t) = t.str() else {
            if let Field::Unknown { value, .. } = &t {
                undecided_input.get_or_insert(value.input.clone());
            }
            continue;
        };
        if !same_resource(t, target) {
            continue;
        }
        let enabled = fl.get("properties.enabled");
        match &enabled {
            Field::Known(e) if e.as_bool() == Some(true) => {
                if fl.condition.is_none() {
                    undecided_input.get_or_insert(None);
                } else {
                    return Cover::Yes;
                }
            }
            Field::Known(e) if e.contains_unknown() => {
                undecided_input.get_or_insert(field_input(&enabled));
            }
            Field::Unknown { value, .. } => {
                undecided_input.get_or_insert(value.input.clone());
            }
            _ => off = Some(fl),
        }
    }
    match (undecided_input, off) {
        (Some(i), _) => Cover::Undecided(i),
        (None, Some(fl)) => Cover::Off(fl),
        (None, None) => Cover::No,
    }
}

/// Flow logs that may cover a resource whose ID is not known offline: any
/// whose target is not known, or whose target contains `type_path`.
fn cover_unnamed<'a>(m: &'a Model, type_path: &str, name_input: Option<String>) -> Cover<'a> {
    let type_path = type_path.to_ascii_lowercase();
    for fl in m.of_kind(ResourceKind::FlowLog) {
        let t = fl.get("properties.targetResourceId");
        match t.str() {
            Some(t) if !t.to_ascii_lowercase().contains(&type_path) => {}
            Some(_) => return Cover::Undecided(name_input),
            None => return Cover::Undecided(field_input(&t).or(name_input)),
        }
    }
    Cover::No
}

/// A subnet ID's virtual network (`…/virtualNetworks/v/subnets/s` → `…/virtualNetworks/v`).
fn vnet_of(subnet_id: &str) -> Option<&str> {
    let lower = subnet_id.to_ascii_lowercase();
    let at = lower.rfind("/subnets/")?;
    subnet_id.get(..at)
}

fn subnet_covered(m: &Model, subnet_id: &str) -> bool {
    cover(m, subnet_id).yes() || vnet_of(subnet_id).is_some_and(|v| cover(m, v).yes())
}

fn refers_to(r: &Resource, path: &str, id: &str) -> bool {
    r.get(path).str().is_some_and(|x| same_resource(x, id))
}

/// Every attachment of an NSG is covered by subnet, VNet or NIC flow logs.
fn nsg_covered_by_attachments(m: &Model, nsg_id: &str) -> bool {
    let mut any = false;
    for s in m.of_kind(ResourceKind::Subnet) {
        if !refers_to(s, "properties.networkSecurityGroup.id", nsg_id) {
            continue;
        }
        any = true;
        let Some(sid) = &s.id else { return false };
        if !subnet_covered(m, sid) {
            return false;
        }
    }
    for nic in m.of_kind(ResourceKind::NetworkInterface) {
        if !refers_to(nic, "properties.networkSecurityGroup.id", nsg_id) {
            continue;
        }
        any = true;
        if nic.id.as_deref().is_some_and(|id| cover(m, id).yes()) {
            continue;
        }
        let subnets: Vec<&str> = nic
            .get("properties.ipConfigurations")
            .known()
            .and_then(Tree::as_array)
            .unwrap_or_default()
            .iter()
            .filter_map(|c| c.get_path("properties.subnet.id", &nic.prov).str())
            .collect();
        if subnets.is_empty() || !subnets.iter().all(|s| subnet_covered(m, s)) {
            return false;
        }
    }
    any
}

fn vnet_covered_by_subnets(m: &Model, vnet: &Resource) -> bool {
    let subnets: Vec<&Resource> = m.children(vnet, ResourceKind::Subnet).collect();
    !subnets.is_empty()
        && subnets
            .iter()
            .all(|s| s.id.as_deref().is_some_and(|id| cover(m, id).yes()))
}

const FIX: &str = "add a Microsoft.Network/networkWatchers/flowLogs resource with enabled: true whose targetResourceId is the virtual network (VNet flow logs also cover the NSGs of its subnets)";

fn report_missing(r: &Resource, what: &str, c: Cover<'_>, out: &mut Vec<Finding>) {
    let base = Finding::new(
        &NsgFlowLogsMissing::META,
        r,
        format!("{what} '{}' has no enabled flow log", r.display_name()),
    )
    .with_fix(FIX);
    match c {
        Cover::Yes => {}
        Cover::No => out.push(base),
        Cover::Off(fl) => {
            let enabled = fl.get("properties.enabled");
            let mut f = Finding::new(
                &NsgFlowLogsMissing::META,
                fl,
                format!(
                    "the flow log '{}' of {what} '{}' is not enabled{}",
                    fl.display_name(),
                    r.display_name(),
                    if enabled.is_absent() {
                        " (properties.enabled is absent; amlguard assumes off)"
                    } else {
                        ""
                    }
                ),
            )
            .at_field(&enabled)
            .with_fix("set properties.enabled to true in the flow log");
            f = f.related(r.prov.clone(), format!("the {what}"));
            out.push(f);
        }
        Cover::Undecided(input) => out.push(undecided(
            base,
            input,
            "the target or state of a flow log is not known offline",
        )),
    }
}

impl Rule for NsgFlowLogsMissing {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        if !has_workspace(m) {
            return;
        }
        for vnet in m.of_kind(ResourceKind::VirtualNetwork) {
            let Some(id) = &vnet.id else {
                let input = field_input(&vnet.get("name"));
                let c = cover_unnamed(m, "Microsoft.Network/virtualNetworks/", input);
                report_missing(vnet, "virtual network", c, out);
                continue;
            };
            let c = cover(m, id);
            if c.yes() || vnet_covered_by_subnets(m, vnet) {
                continue;
            }
            report_missing(vnet, "virtual network", c, out);
        }
        for nsg in m.of_kind(ResourceKind::NetworkSecurityGroup) {
            let Some(id) = &nsg.id else {
                // A flow log on any network may cover it through an attachment.
                let input = field_input(&nsg.get("name"));
                let c = cover_unnamed(m, "Microsoft.Network/", input);
                report_missing(nsg, "network security group", c, out);
                continue;
            };
            let c = cover(m, id);
            if c.yes() || nsg_covered_by_attachments(m, id) {
                continue;
            }
            report_missing(nsg, "network security group", c, out);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::Confidence;
    use crate::testing::{route, run, template};

    const WS: &str = r#"{"type": "Microsoft.MachineLearningServices/workspaces", "apiVersion": "2024-04-01", "name": "ws", "location": "eastus", "properties": {}}"#;
    const NSG: &str = r#"{"type": "Microsoft.Network/networkSecurityGroups", "apiVersion": "2024-05-01", "name": "nsg", "location": "eastus", "properties": {}}"#;
    const VNET: &str = r#"{"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2024-05-01", "name": "vnet", "location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "subnets": [{"name": "training", "properties": {"addressPrefix": "10.0.0.0/24", "networkSecurityGroup": {"id": "[resourceId('Microsoft.Network/networkSecurityGroups', 'nsg')]"}}}]}}"#;

    fn flow(target: &str, enabled: &str) -> String {
        format!(
            r#", {{"type": "Microsoft.Network/networkWatchers/flowLogs", "apiVersion": "2024-05-01", "name": "NetworkWatcher_eastus/f", "location": "eastus", "properties": {{"targetResourceId": "{target}", "storageId": "sa" {enabled}}}}}"#
        )
    }

    fn text(more: &str) -> String {
        template(
            r#""target": {"type": "string"}"#,
            &format!("{WS}, {NSG}, {VNET}{more}"),
        )
    }

    const ON: &str = r#", "enabled": true"#;

    #[test]
    fn nsg_and_vnet_without_flow_logs_fail() {
        let f = run(&NsgFlowLogsMissing, &text(""));
        assert_eq!(f.len(), 2);
        assert_eq!(route(&f[0]), "resources[2]");
        assert!(f[0].message.contains("virtual network 'vnet'"));
        assert_eq!(route(&f[1]), "resources[1]");
        assert!(f[1].message.contains("network security group 'nsg'"));
    }

    #[test]
    fn a_vnet_flow_log_covers_the_vnet_and_its_nsgs() {
        let more = flow(
            "[resourceId('Microsoft.Network/virtualNetworks', 'vnet')]",
            ON,
        );
        assert!(run(&NsgFlowLogsMissing, &text(&more)).is_empty());
    }

    #[test]
    fn an_nsg_flow_log_covers_only_the_nsg() {
        let more = flow(
            "[resourceId('Microsoft.Network/networkSecurityGroups', 'nsg')]",
            ON,
        );
        let f = run(&NsgFlowLogsMissing, &text(&more));
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("virtual network"));
    }

    #[test]
    fn absent_enabled_is_assumed_off() {
        let more = flow(
            "[resourceId('Microsoft.Network/virtualNetworks', 'vnet')]",
            "",
        );
        let f = run(&NsgFlowLogsMissing, &text(&more));
        assert_eq!(f.len(), 2);
        assert!(f[0].absent);
        assert_eq!(route(&f[0]), "resources[3].properties");
        assert!(f[0].message.contains("assumes off"));
    }

    #[test]
    fn a_vnet_named_by_a_parameter() {
        let vnet = VNET.replace(r#""name": "vnet""#, r#""name": "[parameters('target')]""#);
        let t = template(r#""target": {"type": "string"}"#, &format!("{WS}, {vnet}"));
        // No flow log at all: it has none, whatever its name.
        let f = run(&NsgFlowLogsMissing, &t);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::High);
        let t = template(
            r#""target": {"type": "string"}"#,
            &format!(
                "{WS}, {vnet}{}",
                flow(
                    "[resourceId('Microsoft.Network/virtualNetworks', parameters('target'))]",
                    ON
                )
            ),
        );
        let f = run(&NsgFlowLogsMissing, &t);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'target'"));
    }

    #[test]
    fn only_applies_to_aml_deployments() {
        let t = template("", &format!("{NSG}, {VNET}"));
        assert!(run(&NsgFlowLogsMissing, &t).is_empty());
    }

    #[test]
    fn unknown_target_is_low_confidence() {
        let more = flow("[parameters('target')]", ON);
        let f = run(&NsgFlowLogsMissing, &text(&more));
        assert_eq!(f.len(), 2);
        assert!(f.iter().all(|x| x.confidence == Confidence::Low));
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'target'"));
    }
}
