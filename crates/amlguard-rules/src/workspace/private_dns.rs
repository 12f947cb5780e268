use amlguard_model::{Model, Resource, ResourceKind};

use super::util::{Tri, declared, input_of, name_input, possible, same_id, workspace_endpoints};
use crate::{Finding, Rule, declare_rule};

/// The private DNS zone of the workspace API.
const ZONE: &str = "privatelink.api.azureml.ms";

declare_rule! {
    /// ## What it checks
    /// A private endpoint to a workspace (group `amlworkspace`; see AMLG102 for how
    /// endpoints are matched) that has no `privateDnsZoneGroups` child resource,
    /// while the input declares no `Microsoft.Network/privateDnsZones` named
    /// `privatelink.api.azureml.ms` (compared case-insensitively; a zone declared as
    /// `existing` counts, because referencing it proves it exists).
    ///
    /// The finding has confidence medium: many organisations keep their private DNS
    /// zones in a central hub and register endpoints there (for example with the
    /// DeployIfNotExists policy ee40564d-486e-4f68-a5ca-7a621edae0fb), which this
    /// input cannot show. Suppress the finding in that case. When the zone's name or
    /// whether the endpoint targets the workspace is not known offline, the finding
    /// has confidence low and names the parameter.
    ///
    /// ## Why it matters
    /// A private endpoint only helps if the workspace's host names
    /// (`<id>.workspace.<region>.api.azureml.ms` and the notebook host) resolve to its
    /// private address. Without a zone group or a zone, clients and compute keep
    /// resolving the public address: calls either fail once public access is
    /// disabled, or go over the public endpoint while it is still open.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.Network/privateEndpoints", "name": "pe-ws",
    ///  "properties": {"privateLinkServiceConnections": [{"properties": {
    ///    "privateLinkServiceId": "[resourceId('Microsoft.MachineLearningServices/workspaces', 'ws')]",
    ///    "groupIds": ["amlworkspace"]}}]}}
    /// ```
    /// (and no zone group, no `privatelink.api.azureml.ms` zone)
    ///
    /// ## Fix
    /// ARM: add a `Microsoft.Network/privateEndpoints/privateDnsZoneGroups` child
    /// (`"name": "pe-ws/default"`) whose `privateDnsZoneConfigs` reference the zones
    /// `privatelink.api.azureml.ms` and `privatelink.notebooks.azure.net`, linked to the
    /// virtual network with `virtualNetworkLinks`.
    /// Bicep: `resource group 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2023-04-01' = { parent: pe, name: 'default', properties: { privateDnsZoneConfigs: [...] } }`.
    /// Terraform: `private_dns_zone_group { name = "default", private_dns_zone_ids = [azurerm_private_dns_zone.api.id, azurerm_private_dns_zone.notebooks.id] }`
    /// in the `azurerm_private_endpoint`.
    ///
    /// ## References
    /// Azure Policy ee40564d-486e-4f68-a5ca-7a621edae0fb (configure workspaces to use private DNS zones);
    /// MCSB NS-2. No peer checks this offline; the policy deploys the zone group
    /// instead of auditing it.
    pub struct WorkspacePrivateDnsMissing {
        code: 103,
        name: "workspace-private-dns-missing",
        title: "The workspace's private endpoint has no private DNS zone",
        severity: Medium,
        confidence: Medium,
        category: Workspace,
        references: [
            "Azure Policy ee40564d-486e-4f68-a5ca-7a621edae0fb",
            "MCSB NS-2",
        ],
    }
}

/// Whether a private endpoint has a `privateDnsZoneGroups` child in the input.
fn has_zone_group(m: &Model, pe: &Resource) -> Tri {
    let mut result = Tri::No;
    for g in m.resources.iter().filter(|g| {
        g.condition != Some(false)
            && g.arm_type
                .eq_ignore_ascii_case("Microsoft.Network/privateEndpoints/privateDnsZoneGroups")
    }) {
        let parent_is_pe = match (g.parent_id(), &pe.id) {
            (Some(p), Some(id)) => same_id(&p, id),
            _ => match (&g.name, &pe.name) {
                (Some(gn), Some(pn)) => gn
                    .rsplit_once('/')
                    .is_some_and(|(head, _)| head.eq_ignore_ascii_case(pn)),
                // Either name is not known offline: the group may belong to this endpoint.
                _ => {
                    let input = name_input(g).or_else(|| name_input(pe));
                    if result == Tri::No {
                        result = Tri::Maybe(input);
                    }
                    false
                }
            },
        };
        if parent_is_pe {
            return Tri::Yes;
        }
    }
    result
}

/// Whether the input declares the `privatelink.api.azureml.ms` zone.
fn has_zone(m: &Model) -> Tri {
    let mut result = Tri::No;
    for z in declared(m, ResourceKind::PrivateDnsZone) {
        match &z.name {
            Some(n) if n.trim().eq_ignore_ascii_case(ZONE) => return Tri::Yes,
            Some(_) => {}
            None => {
                if result == Tri::No {
                    result = Tri::Maybe(input_of(&z.get("name")));
                }
            }
        }
    }
    result
}

impl Rule for WorkspacePrivateDnsMissing {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        let missing_zone = has_zone(m).negate();
        if missing_zone == Tri::No {
            return;
        }
        let fix = "add a privateDnsZoneGroups child to the private endpoint that references the privatelink.api.azureml.ms and privatelink.notebooks.azure.net zones (linked to the virtual network), or declare those zones";
        let mut seen: Vec<&Resource> = Vec::new();
        for ws in m.of_kind(ResourceKind::Workspace) {
            for e in workspace_endpoints(m, ws) {
                let Some(pe) = e.pe else {
                    continue;
                };
                if seen.iter().any(|s| std::ptr::eq(*s, pe)) {
                    continue;
                }
                let fires = e
                    .reaches
                    .clone()
                    .and(has_zone_group(m, pe).negate())
                    .and(missing_zone.clone());
                let message = format!(
                    "private endpoint '{}' to workspace '{}' has no private DNS zone group, and no {ZONE} zone is declared",
                    pe.display_name(),
                    ws.display_name()
                );
                match fires {
                    Tri::No => continue,
                    Tri::Yes => {
                        let mut f = Finding::new(&Self::META, pe, message)
                            .with_fix(fix)
                            .related(ws.prov.clone(), "the workspace it reaches");
                        f.absent = true;
                        out.push(f);
                    }
                    Tri::Maybe(input) => out.push(
                        possible(
                            &Self::META,
                            pe,
                            pe.prov.clone(),
                            &message,
                            fix,
                            input,
                            "a name or target is not known offline",
                        )
                        .related(ws.prov.clone(), "the workspace it may reach"),
                    ),
                }
                seen.push(pe);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::Confidence;
    use crate::testing::{route, run, template};

    const WS: &str = r#"{"type": "Microsoft.MachineLearningServices/workspaces", "apiVersion": "2024-04-01", "name": "ws", "location": "eastus", "properties": {"publicNetworkAccess": "Disabled"}}"#;
    const PE: &str = r#"{"type": "Microsoft.Network/privateEndpoints", "apiVersion": "2023-04-01", "name": "pe-ws", "location": "eastus", "properties": {"privateLinkServiceConnections": [{"name": "c", "properties": {"privateLinkServiceId": "[resourceId('Microsoft.MachineLearningServices/workspaces', 'ws')]", "groupIds": ["amlworkspace"]}}]}}"#;
    const GROUP: &str = r#"{"type": "Microsoft.Network/privateEndpoints/privateDnsZoneGroups", "apiVersion": "2023-04-01", "name": "pe-ws/default", "properties": {"privateDnsZoneConfigs": []}}"#;

    fn zone(name: &str) -> String {
        format!(
            r#"{{"type": "Microsoft.Network/privateDnsZones", "apiVersion": "2020-06-01", "name": "{name}", "location": "global"}}"#
        )
    }

    #[test]
    fn endpoint_without_group_or_zone_fails_at_the_endpoint() {
        let f = run(
            &WorkspacePrivateDnsMissing,
            &template("", &format!("{WS}, {PE}")),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(route(&f[0]), "resources[1]");
        assert!(f[0].absent);
        assert_eq!(f[0].confidence, Confidence::Medium);
        assert_eq!(f[0].related.len(), 1);
        assert_eq!(f[0].related[0].at.route.to_string(), "resources[0]");
    }

    #[test]
    fn zone_group_child_passes() {
        let t = template("", &format!("{WS}, {PE}, {GROUP}"));
        assert!(run(&WorkspacePrivateDnsMissing, &t).is_empty());
    }

    #[test]
    fn zone_group_of_another_endpoint_does_not_count() {
        let other = GROUP.replace("pe-ws/default", "pe-other/default");
        let t = template("", &format!("{WS}, {PE}, {other}"));
        assert_eq!(run(&WorkspacePrivateDnsMissing, &t).len(), 1);
    }

    #[test]
    fn declared_zone_passes_case_insensitively() {
        let t = template(
            "",
            &format!("{WS}, {PE}, {}", zone("PrivateLink.API.AzureML.ms")),
        );
        assert!(run(&WorkspacePrivateDnsMissing, &t).is_empty());
        let t = template(
            "",
            &format!("{WS}, {PE}, {}", zone("privatelink.blob.core.windows.net")),
        );
        assert_eq!(run(&WorkspacePrivateDnsMissing, &t).len(), 1);
    }

    #[test]
    fn no_endpoint_means_nothing_to_check() {
        assert!(run(&WorkspacePrivateDnsMissing, &template("", WS)).is_empty());
    }

    #[test]
    fn unknown_zone_name_gives_low_confidence() {
        let t = template(
            r#""zoneName": {"type": "string"}"#,
            &format!("{WS}, {PE}, {}", zone("[parameters('zoneName')]")),
        );
        let f = run(&WorkspacePrivateDnsMissing, &t);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'zoneName'"));
    }
}
