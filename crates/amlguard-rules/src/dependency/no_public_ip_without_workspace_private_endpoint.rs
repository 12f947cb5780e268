use amlguard_model::{Field, Model, Resource, ResourceKind};

use crate::egress::util::{
    ManagedMode, PeLookup, deciding_input, is_unknown, managed_mode, private_endpoint_to,
    undecided, workspace_of,
};
use crate::{Finding, Rule, declare_rule};

declare_rule! {
    /// ## What it checks
    /// Compute without public IP addresses whose workspace has neither a
    /// private endpoint nor a managed network:
    ///
    /// - a compute cluster or instance with
    ///   `properties.properties.enableNodePublicIp` `false` (absent means `true`,
    ///   Azure's default, which is not this rule's);
    /// - serverless compute: a workspace with
    ///   `properties.serverlessComputeSettings.serverlessComputeNoPublicIP` `true`
    ///   and a `serverlessComputeCustomSubnet`;
    ///
    /// where the workspace (declared in the input) has no private endpoint
    /// (a `Microsoft.Network/privateEndpoints` resource whose
    /// `privateLinkServiceConnections` or `manualPrivateLinkServiceConnections`
    /// target the workspace with group `amlworkspace`) and no managed network
    /// (`properties.managedNetwork.isolationMode` absent or `Disabled`). A
    /// value not known offline gives a low-confidence finding.
    ///
    /// ## Why it matters
    /// Nodes without a public IP talk to the workspace over its private
    /// endpoint; Microsoft's secure-training guidance makes a workspace private
    /// endpoint a prerequisite for no-public-IP compute. Without one (and
    /// without a managed network, which creates it for you), cluster nodes and
    /// instances cannot reach the workspace: they fail to provision or to run
    /// jobs. Whether the endpoint is reachable from the compute's network (DNS
    /// zones, peering) is for the network engine.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.MachineLearningServices/workspaces/computes",
    ///  "properties": {"computeType": "AmlCompute",
    ///    "properties": {"enableNodePublicIp": false, "subnet": {"id": "<subnet ID>"}}}}
    /// ```
    ///
    /// ## Fix
    /// ARM: a `Microsoft.Network/privateEndpoints` resource in the compute's
    /// virtual network with `"privateLinkServiceConnections": [{"name": "ws",
    /// "properties": {"privateLinkServiceId": "<workspace ID>", "groupIds": ["amlworkspace"]}}]`
    /// and the private DNS zones `privatelink.api.azureml.ms` and
    /// `privatelink.notebooks.azure.net`.
    /// Bicep: the same private endpoint resource with `groupIds: ['amlworkspace']`.
    /// Terraform: `azurerm_private_endpoint` with
    /// `private_service_connection { subresource_names = ["amlworkspace"] }`.
    ///
    /// ## References
    /// Azure Policy 45e05259-1eb5-4f70-9574-baf73e9d219b (workspaces should use
    /// private link) checks the workspace alone; no MCSB control (a functional
    /// dependency). No peer links no-public-IP compute to the workspace's
    /// private endpoint.
    pub struct NoPublicIpWithoutWorkspacePrivateEndpoint {
        code: 405,
        name: "no-public-ip-without-workspace-private-endpoint",
        title: "Compute without public IPs cannot reach a workspace that has no private endpoint",
        severity: High,
        confidence: High,
        category: Dependency,
        references: ["Azure Policy 45e05259-1eb5-4f70-9574-baf73e9d219b"],
    }
}

const FIX: &str = "give the workspace a private endpoint (group 'amlworkspace') in the compute's virtual network, with the private DNS zones privatelink.api.azureml.ms and privatelink.notebooks.azure.net, or use a managed network";

/// Whether the workspace lacks both a private endpoint and a managed network:
/// `Ok(true)` lacks, `Ok(false)` has one, `Err(input)` undecided.
fn unreachable(m: &Model, ws: &Resource) -> Result<bool, Option<String>> {
    let mode = managed_mode(ws);
    if mode.is_on() {
        return Ok(false);
    }
    let Some(id) = ws.id.as_deref() else {
        return Err(Some(format!(
            "the name of workspace '{}'",
            ws.display_name()
        )));
    };
    match private_endpoint_to(m, id, &["amlworkspace"]) {
        PeLookup::Found => Ok(false),
        PeLookup::Unknown(input) => Err(input),
        PeLookup::None => match mode {
            ManagedMode::Unknown(f) => Err(deciding_input(&f)),
            _ => Ok(true),
        },
    }
}

fn emit(out: &mut Vec<Finding>, m: &Model, r: &Resource, ws: &Resource, at: &Field<'_>, who: &str) {
    let meta = &NoPublicIpWithoutWorkspacePrivateEndpoint::META;
    let msg = format!(
        "{who} has no public IP, but workspace '{}' has neither a private endpoint nor a managed network: the nodes cannot reach the workspace",
        ws.display_name()
    );
    let finding = if is_unknown(at) {
        match unreachable(m, ws) {
            Ok(false) => return,
            Ok(true) => undecided(meta, r, at, &msg, FIX, deciding_input(at)),
            Err(input) => undecided(meta, r, at, &msg, FIX, input.or_else(|| deciding_input(at))),
        }
    } else {
        match unreachable(m, ws) {
            Ok(false) => return,
            Ok(true) => Finding::new(meta, r, msg).at_field(at).with_fix(FIX),
            Err(input) => undecided(meta, r, at, &msg, FIX, input),
        }
    };
    let finding = if std::ptr::eq(r, ws) {
        finding
    } else {
        finding.related(ws.prov.clone(), "the workspace")
    };
    out.push(finding);
}

impl Rule for NoPublicIpWithoutWorkspacePrivateEndpoint {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        for c in m.of_kind(ResourceKind::Compute) {
            if c.get("properties.computeType")
                .str_is(&["AmlCompute", "ComputeInstance"])
                == Some(false)
            {
                continue;
            }
            let Some(ws) = workspace_of(m, c) else {
                continue;
            };
            let npi = c.get("properties.properties.enableNodePublicIp");
            // Absent means true (nodes have public IPs).
            if npi.is_absent() || npi.bool() == Some(true) {
                continue;
            }
            let who = format!(
                "compute '{}'",
                c.short_name().unwrap_or("(name not known offline)")
            );
            emit(out, m, c, ws, &npi, &who);
        }
        for ws in m.of_kind(ResourceKind::Workspace) {
            let subnet =
                ws.get("properties.serverlessComputeSettings.serverlessComputeCustomSubnet");
            if subnet.is_absent() {
                continue;
            }
            let nopip = ws.get("properties.serverlessComputeSettings.serverlessComputeNoPublicIP");
            if nopip.is_absent() || nopip.bool() == Some(false) {
                continue;
            }
            emit(out, m, ws, ws, &nopip, "serverless compute");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::Confidence;
    use crate::egress::fixtures::*;
    use crate::testing::{route, run, template};

    fn t(resources: &[String]) -> String {
        template(
            r#""pip": {"type": "bool"}, "target": {"type": "string"}"#,
            &resources.join(", "),
        )
    }

    fn private_cluster() -> String {
        compute(
            "cpu",
            "AmlCompute",
            &format!(r#"{{"enableNodePublicIp": false, "subnet": {{"id": "{SNET}"}}}}"#),
        )
    }

    #[test]
    fn no_public_ip_without_private_endpoint_fails() {
        let f = run(
            &NoPublicIpWithoutWorkspacePrivateEndpoint,
            &t(&[workspace_with(""), private_cluster()]),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(
            route(&f[0]),
            "resources[1].properties.properties.enableNodePublicIp"
        );
        assert_eq!(f[0].confidence, Confidence::High);
        assert_eq!(f[0].related.len(), 1);
    }

    #[test]
    fn serverless_without_public_ip_fails() {
        let f = run(
            &NoPublicIpWithoutWorkspacePrivateEndpoint,
            &t(&[workspace_with(&format!(
                r#""serverlessComputeSettings": {{"serverlessComputeCustomSubnet": "{SNET}", "serverlessComputeNoPublicIP": true}}"#
            ))]),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(
            route(&f[0]),
            "resources[0].properties.serverlessComputeSettings.serverlessComputeNoPublicIP"
        );
    }

    #[test]
    fn private_endpoint_or_managed_network_passes() {
        assert!(
            run(
                &NoPublicIpWithoutWorkspacePrivateEndpoint,
                &t(&[
                    workspace_with(""),
                    private_endpoint("pe-ws", WS, "amlworkspace"),
                    private_cluster()
                ]),
            )
            .is_empty()
        );
        // A private endpoint for another group does not count.
        assert_eq!(
            run(
                &NoPublicIpWithoutWorkspacePrivateEndpoint,
                &t(&[
                    workspace_with(""),
                    private_endpoint("pe-ws", WS, "blob"),
                    private_cluster()
                ]),
            )
            .len(),
            1
        );
        assert!(
            run(
                &NoPublicIpWithoutWorkspacePrivateEndpoint,
                &t(&[
                    workspace_with(
                        r#""managedNetwork": {"isolationMode": "AllowInternetOutbound"}"#
                    ),
                    private_cluster()
                ]),
            )
            .is_empty()
        );
    }

    #[test]
    fn absent_means_public_ip() {
        assert!(
            run(
                &NoPublicIpWithoutWorkspacePrivateEndpoint,
                &t(&[workspace_with(""), cluster_in_snet()]),
            )
            .is_empty()
        );
    }

    #[test]
    fn unknown_values_are_low_confidence() {
        let f = run(
            &NoPublicIpWithoutWorkspacePrivateEndpoint,
            &t(&[
                workspace_with(""),
                compute(
                    "cpu",
                    "AmlCompute",
                    r#"{"enableNodePublicIp": "[parameters('pip')]"}"#,
                ),
            ]),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'pip'"));

        let f = run(
            &NoPublicIpWithoutWorkspacePrivateEndpoint,
            &t(&[
                workspace_with(""),
                private_endpoint("pe", "[parameters('target')]", "amlworkspace"),
                private_cluster(),
            ]),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'target'"));
    }
}
