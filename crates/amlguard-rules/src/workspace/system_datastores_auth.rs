use amlguard_model::{Field, Model, ResourceKind, Tree};

use super::util::{bool_of, str_in};
use crate::{Finding, Rule, check_field, declare_rule, report};

declare_rule! {
    /// ## What it checks
    /// A workspace whose system datastores (the default blob container and file
    /// share on its storage account) are reached with the storage account key:
    /// `properties.systemDatastoresAuthMode` is `AccessKey` or absent. Absent means
    /// `AccessKey`, the service's behaviour before the property existed.
    /// `Identity` and `UserDelegationSAS` pass (neither uses the account key). The
    /// property exists from API version 2025-06-01; with an older `apiVersion` it
    /// cannot be set, so the fix needs a newer API version.
    ///
    /// When the linked storage account is in the input with
    /// `allowSharedKeyAccess: false`, the message says so: in that combination the
    /// system datastores do not work at all (`KeyBasedAuthenticationNotPermitted`),
    /// and `Identity` is required.
    ///
    /// ## Why it matters
    /// With key authentication the workspace stores the account key and hands out
    /// access derived from it: anyone who can read the datastore secrets gets full,
    /// unaudited, non-expiring access to the whole storage account, and the account
    /// cannot turn shared keys off. Identity-based access uses Entra ID and RBAC, is
    /// logged per caller, and lets the storage account set
    /// `allowSharedKeyAccess: false`.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.MachineLearningServices/workspaces", "apiVersion": "2025-06-01",
    ///  "properties": {"systemDatastoresAuthMode": "AccessKey"}}
    /// ```
    ///
    /// ## Fix
    /// ARM (apiVersion 2025-06-01 or later): `"systemDatastoresAuthMode": "Identity"`
    /// in the workspace's `properties`, and grant the workspace identity
    /// Storage Blob Data Contributor and Storage File Data Privileged Contributor on the account.
    /// Bicep: `systemDatastoresAuthMode: 'Identity'`.
    /// Terraform: the azurerm workspace has no argument for it; set it with
    /// `azapi_update_resource` (type `Microsoft.MachineLearningServices/workspaces@2025-06-01`,
    /// `body = { properties = { systemDatastoresAuthMode = "Identity" } }`).
    ///
    /// ## References
    /// MCSB IM-1; related: Azure Policy 8c6a50c6-9ffd-4ae7-986f-5fa6111f9a54
    /// (storage accounts should prevent shared key access), which cannot be met while
    /// the workspace uses key authentication. No peer checks the workspace setting.
    pub struct WorkspaceSystemDatastoresKeyAuth {
        code: 108,
        name: "workspace-system-datastores-key-auth",
        title: "The workspace reaches its default storage with the account key",
        severity: Medium,
        confidence: High,
        category: Workspace,
        references: [
            "MCSB IM-1",
            "Azure Policy 8c6a50c6-9ffd-4ae7-986f-5fa6111f9a54",
        ],
    }
}

impl Rule for WorkspaceSystemDatastoresKeyAuth {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        for ws in m.of_kind(ResourceKind::Workspace) {
            let mode = check_field(
                ws.get("properties.systemDatastoresAuthMode"),
                true,
                |t: &Tree| !str_in(t, &["Identity", "UserDelegationSAS"]),
            );
            // A linked storage account in the input that refuses shared keys.
            let keyless = ws
                .get("properties.storageAccount")
                .str()
                .and_then(|id| m.get(id))
                .filter(|sa| sa.kind == ResourceKind::StorageAccount && sa.deployed())
                .and_then(|sa| match sa.get("properties.allowSharedKeyAccess") {
                    Field::Known(t) if bool_of(t) == Some(false) => t.prov.clone().map(|p| (sa, p)),
                    _ => None,
                });
            let mut message = format!(
                "workspace '{}' reaches its system datastores with the storage account key (systemDatastoresAuthMode is AccessKey or absent)",
                ws.display_name()
            );
            if let Some((sa, _)) = &keyless {
                message.push_str(&format!(
                    "; storage account '{}' disallows shared keys, so the system datastores will fail (KeyBasedAuthenticationNotPermitted)",
                    sa.display_name()
                ));
            }
            let before = out.len();
            report(
                out,
                &Self::META,
                ws,
                mode,
                message,
                "set properties.systemDatastoresAuthMode to 'Identity' (API version 2025-06-01 or later) and grant the workspace identity data roles on the storage account",
            );
            if let (Some((sa, at)), Some(f)) = (keyless, out.get_mut(before)) {
                f.related.push(crate::Related {
                    at,
                    message: format!(
                        "storage account '{}' sets allowSharedKeyAccess to false",
                        sa.display_name()
                    ),
                });
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

    fn ws(props: &str) -> String {
        format!(
            r#"{{"type": "Microsoft.MachineLearningServices/workspaces", "apiVersion": "2025-06-01", "name": "ws", "location": "eastus", "properties": {props}}}"#
        )
    }

    fn check(resources: &str) -> Vec<Finding> {
        run(
            &WorkspaceSystemDatastoresKeyAuth,
            &template(r#""mode": {"type": "string"}"#, resources),
        )
    }

    #[test]
    fn absent_means_access_key() {
        let f = check(&ws("{}"));
        assert_eq!(f.len(), 1);
        assert!(f[0].absent);
        assert_eq!(route(&f[0]), "resources[0].properties");
    }

    #[test]
    fn access_key_fails_identity_and_user_delegation_pass() {
        let f = check(&ws(r#"{"systemDatastoresAuthMode": "AccessKey"}"#));
        assert_eq!(f.len(), 1);
        assert_eq!(
            route(&f[0]),
            "resources[0].properties.systemDatastoresAuthMode"
        );
        assert!(check(&ws(r#"{"systemDatastoresAuthMode": "Identity"}"#)).is_empty());
        assert!(check(&ws(r#"{"systemDatastoresAuthMode": "identity"}"#)).is_empty());
        assert!(check(&ws(r#"{"systemDatastoresAuthMode": "UserDelegationSAS"}"#)).is_empty());
    }

    #[test]
    fn keyless_storage_is_named_and_related() {
        let sa = r#"{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "sa", "location": "eastus", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}, "properties": {"allowSharedKeyAccess": false}}"#;
        let link =
            r#"{"storageAccount": "[resourceId('Microsoft.Storage/storageAccounts', 'sa')]"}"#;
        let f = check(&format!("{}, {sa}", ws(link)));
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("KeyBasedAuthenticationNotPermitted"));
        assert_eq!(
            f[0].related[0].at.route.to_string(),
            "resources[1].properties.allowSharedKeyAccess"
        );
    }

    #[test]
    fn unknown_reports_low_confidence_with_the_deciding_parameter() {
        let f = check(&ws(
            r#"{"systemDatastoresAuthMode": "[parameters('mode')]"}"#,
        ));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'mode'"));
    }
}
