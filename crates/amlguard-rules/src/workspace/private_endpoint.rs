use amlguard_model::{Model, ResourceKind};

use super::util::{Tri, at_of, managed_network, possible, str_in, workspace_endpoints};
use crate::{Finding, Rule, declare_rule};

declare_rule! {
    /// ## What it checks
    /// A workspace that nothing in the input reaches privately: no
    /// `Microsoft.Network/privateEndpoints` resource has an entry in
    /// `privateLinkServiceConnections` (or `manualPrivateLinkServiceConnections`)
    /// whose `properties.privateLinkServiceId` is the workspace's resource ID
    /// (compared case-insensitively) and whose `groupIds` contain `amlworkspace`,
    /// and the workspace has no managed virtual network
    /// (`properties.managedNetwork.isolationMode` is absent or `Disabled`; absent
    /// means `Disabled`). Private endpoints declared in nested deployments count
    /// like any other. For live state, an `Approved` entry of the workspace's
    /// `privateEndpointConnections` also counts. Workspaces of kind `Project` are
    /// skipped: a hub's projects are reached through the hub's private endpoint and
    /// inherit its network settings, and the hub is checked.
    ///
    /// When the workspace's ID or the endpoint's target is not known offline
    /// (a name from a parameter without value), the finding has confidence low and
    /// names the parameter. A private endpoint that points at the workspace with a
    /// group other than `amlworkspace` does not count.
    ///
    /// ## Why it matters
    /// Without a private endpoint, clients and compute reach the workspace only over
    /// its public endpoint, so it cannot be closed (`publicNetworkAccess:
    /// Disabled`), and compute without a public IP cannot reach it at all.
    /// Microsoft's data-exfiltration guidance lists a workspace private endpoint as
    /// a prerequisite. A managed virtual network is accepted instead: AML then
    /// creates the workspace's private endpoint in the managed network itself.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.MachineLearningServices/workspaces", "name": "ws",
    ///  "properties": {"publicNetworkAccess": "Disabled"}}
    /// ```
    /// (and no private endpoint to it anywhere in the template)
    ///
    /// ## Fix
    /// ARM: add a `Microsoft.Network/privateEndpoints` resource with
    /// `"privateLinkServiceConnections": [{"name": "ws", "properties": {"privateLinkServiceId":
    /// "[resourceId('Microsoft.MachineLearningServices/workspaces', 'ws')]", "groupIds": ["amlworkspace"]}}]`,
    /// or set `"managedNetwork": {"isolationMode": "AllowOnlyApprovedOutbound"}` on the workspace.
    /// Bicep: a `Microsoft.Network/privateEndpoints` resource with
    /// `privateLinkServiceId: ws.id` and `groupIds: ['amlworkspace']`.
    /// Terraform: `azurerm_private_endpoint` with
    /// `private_service_connection { private_connection_resource_id = azurerm_machine_learning_workspace.ws.id, subresource_names = ["amlworkspace"] }`.
    ///
    /// ## References
    /// Azure Policy 45e05259-1eb5-4f70-9574-baf73e9d219b (workspaces should use private link);
    /// Azure Policy 7838fd83-5cbb-4b5d-888c-bfa240972597 (deploy the private endpoint);
    /// MCSB NS-2; AzTS Azure_MachineLearningWorkspace_NetSec_Use_Private_Endpoint.
    /// Checkov CKV_AZURE_243 is named for private endpoints but tests managed-network
    /// outbound rules of type `PrivateEndpoint` (traffic from the workspace, not to
    /// it); it is not this check, and amlguard does not treat such a rule as a
    /// private endpoint to the workspace.
    pub struct WorkspaceWithoutPrivateEndpoint {
        code: 102,
        name: "workspace-without-private-endpoint",
        title: "The workspace has no private endpoint and no managed virtual network",
        severity: High,
        confidence: High,
        category: Workspace,
        references: [
            "Azure Policy 45e05259-1eb5-4f70-9574-baf73e9d219b",
            "Azure Policy 7838fd83-5cbb-4b5d-888c-bfa240972597",
            "MCSB NS-2",
            "AzTS Azure_MachineLearningWorkspace_NetSec_Use_Private_Endpoint",
        ],
    }
}

impl Rule for WorkspaceWithoutPrivateEndpoint {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        let fix = "add a Microsoft.Network/privateEndpoints resource whose privateLinkServiceId is the workspace's ID with groupIds ['amlworkspace'], or give the workspace a managed network (managedNetwork.isolationMode 'AllowOnlyApprovedOutbound')";
        for ws in m.of_kind(ResourceKind::Workspace) {
            // A hub's project is reached through the hub's endpoint; the hub is checked.
            if ws
                .get("kind")
                .known()
                .is_some_and(|k| str_in(k, &["Project"]))
            {
                continue;
            }
            let (managed, iso) = managed_network(ws);
            if managed == Tri::Yes {
                continue;
            }
            let endpoints = workspace_endpoints(m, ws);
            if endpoints.iter().any(|e| e.reaches == Tri::Yes) {
                continue;
            }
            let message = format!(
                "workspace '{}' has no private endpoint (group 'amlworkspace') and no managed network",
                ws.display_name()
            );
            let maybe = endpoints.iter().find_map(|e| match &e.reaches {
                Tri::Maybe(i) => Some((e, i.clone())),
                _ => None,
            });
            if let Tri::Maybe(input) = managed {
                out.push(possible(
                    &Self::META,
                    ws,
                    at_of(ws, &iso),
                    &message,
                    fix,
                    input,
                    "the managed network mode is not known offline",
                ));
            } else if let Some((e, input)) = maybe {
                let name = e.pe.map(|p| p.display_name()).unwrap_or_default();
                out.push(
                    possible(
                        &Self::META,
                        ws,
                        at_of(ws, &iso),
                        &message,
                        fix,
                        input,
                        "whether the private endpoint targets this workspace is not known offline",
                    )
                    .related(
                        e.at.clone(),
                        format!("private endpoint '{name}' may target this workspace"),
                    ),
                );
            } else {
                out.push(
                    Finding::new(&Self::META, ws, message)
                        .at_field(&iso)
                        .with_fix(fix),
                );
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

    fn pe(target: &str, groups: &str) -> String {
        format!(
            r#"{{"type": "Microsoft.Network/privateEndpoints", "apiVersion": "2023-04-01", "name": "pe-ws", "location": "eastus", "properties": {{"subnet": {{"id": "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', 'pe')]"}}, "privateLinkServiceConnections": [{{"name": "c", "properties": {{"privateLinkServiceId": "{target}", "groupIds": {groups}}}}}]}}}}"#
        )
    }

    const WS_ID: &str = "[resourceId('Microsoft.MachineLearningServices/workspaces', 'ws')]";

    #[test]
    fn workspace_alone_fails_at_its_properties() {
        let f = run(&WorkspaceWithoutPrivateEndpoint, &template("", WS));
        assert_eq!(f.len(), 1);
        assert!(f[0].absent);
        assert_eq!(f[0].confidence, Confidence::High);
        assert_eq!(route(&f[0]), "resources[0].properties");
    }

    #[test]
    fn projects_are_left_to_their_hub() {
        let project = WS.replace(
            r#""location": "eastus","#,
            r#""location": "eastus", "kind": "Project","#,
        );
        assert!(run(&WorkspaceWithoutPrivateEndpoint, &template("", &project)).is_empty());
    }

    #[test]
    fn private_endpoint_with_amlworkspace_group_passes() {
        let t = template("", &format!("{WS}, {}", pe(WS_ID, r#"["amlworkspace"]"#)));
        assert!(run(&WorkspaceWithoutPrivateEndpoint, &t).is_empty());
    }

    #[test]
    fn id_compares_case_insensitively_and_manual_connections_count() {
        let upper = "[toUpper(resourceId('Microsoft.MachineLearningServices/workspaces', 'ws'))]";
        let t = template(
            "",
            &format!(
                r#"{WS}, {{"type": "Microsoft.Network/privateEndpoints", "apiVersion": "2023-04-01", "name": "pe-ws", "location": "eastus", "properties": {{"manualPrivateLinkServiceConnections": [{{"name": "c", "properties": {{"privateLinkServiceId": "{upper}", "groupIds": ["AMLWorkspace"]}}}}]}}}}"#
            ),
        );
        assert!(run(&WorkspaceWithoutPrivateEndpoint, &t).is_empty());
    }

    #[test]
    fn wrong_group_or_other_target_does_not_count() {
        let t = template("", &format!("{WS}, {}", pe(WS_ID, r#"["blob"]"#)));
        assert_eq!(run(&WorkspaceWithoutPrivateEndpoint, &t).len(), 1);
        let other = "[resourceId('Microsoft.MachineLearningServices/workspaces', 'other')]";
        let t = template("", &format!("{WS}, {}", pe(other, r#"["amlworkspace"]"#)));
        assert_eq!(run(&WorkspaceWithoutPrivateEndpoint, &t).len(), 1);
    }

    #[test]
    fn endpoint_in_a_nested_deployment_counts() {
        let nested = format!(
            r#"{{"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "net", "properties": {{"mode": "Incremental", "template": {{"$schema": "$SCHEMA", "contentVersion": "1.0.0.0", "resources": [{}]}}}}}}"#,
            pe(WS_ID, r#"["amlworkspace"]"#)
        );
        let t = template("", &format!("{WS}, {nested}"));
        assert!(run(&WorkspaceWithoutPrivateEndpoint, &t).is_empty());
    }

    #[test]
    fn endpoint_with_false_condition_does_not_count() {
        let p = pe(WS_ID, r#"["amlworkspace"]"#).replacen('{', r#"{"condition": false, "#, 1);
        let t = template("", &format!("{WS}, {p}"));
        assert_eq!(run(&WorkspaceWithoutPrivateEndpoint, &t).len(), 1);
    }

    #[test]
    fn managed_network_passes_and_disabled_fails_at_the_mode() {
        let managed = WS.replace(
            r#""publicNetworkAccess": "Disabled""#,
            r#""managedNetwork": {"isolationMode": "AllowOnlyApprovedOutbound"}"#,
        );
        assert!(run(&WorkspaceWithoutPrivateEndpoint, &template("", &managed)).is_empty());
        let disabled = WS.replace(
            r#""publicNetworkAccess": "Disabled""#,
            r#""managedNetwork": {"isolationMode": "Disabled"}"#,
        );
        let f = run(&WorkspaceWithoutPrivateEndpoint, &template("", &disabled));
        assert_eq!(f.len(), 1);
        assert!(!f[0].absent);
        assert_eq!(
            route(&f[0]),
            "resources[0].properties.managedNetwork.isolationMode"
        );
    }

    #[test]
    fn unknown_workspace_name_gives_low_confidence() {
        let ws = WS.replace(r#""name": "ws""#, r#""name": "[parameters('wsName')]""#);
        let target =
            "[resourceId('Microsoft.MachineLearningServices/workspaces', parameters('wsName'))]";
        let t = template(
            r#""wsName": {"type": "string"}"#,
            &format!("{ws}, {}", pe(target, r#"["amlworkspace"]"#)),
        );
        let f = run(&WorkspaceWithoutPrivateEndpoint, &t);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'wsName'"));
        assert_eq!(f[0].related.len(), 1);
    }

    #[test]
    fn unknown_isolation_mode_gives_low_confidence() {
        let ws = WS.replace(
            r#""publicNetworkAccess": "Disabled""#,
            r#""managedNetwork": {"isolationMode": "[parameters('mode')]"}"#,
        );
        let f = run(
            &WorkspaceWithoutPrivateEndpoint,
            &template(r#""mode": {"type": "string"}"#, &ws),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'mode'"));
        assert_eq!(
            route(&f[0]),
            "resources[0].properties.managedNetwork.isolationMode"
        );
    }
}
