use amlguard_model::{Model, ResourceKind, Tree};

use super::util::{describe, is_one_of, related_field};
use crate::{Check, Confidence, Finding, Rule, check_field, declare_rule, report};

declare_rule! {
    /// ## What it checks
    /// Every deployed AML workspace — except AI Foundry projects (`kind: Project`),
    /// which inherit encryption from their hub and cannot carry the setting — whose
    /// `properties.encryption.status` is not `Enabled`.
    ///
    /// Default assumed when absent: no `encryption` object (or no `status`) means the
    /// workspace's data is encrypted with Microsoft-managed keys. A missing `kind`
    /// means `Default`. The encryption settings can only be chosen when the
    /// workspace is created.
    ///
    /// ## Why it matters
    /// With Microsoft-managed keys the customer cannot revoke access to the
    /// workspace's metadata and the service-side stores (Cosmos DB, search index,
    /// storage) by disabling a key, cannot rotate on their own schedule and has no
    /// key-use audit trail. Regulated data (and many security baselines) require a
    /// customer-managed key. Note the cost: a CMK workspace provisions extra
    /// Microsoft-managed resources in a separate resource group.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.MachineLearningServices/workspaces", "kind": "Default",
    ///  "properties": {"encryption": {"status": "Disabled"}}}
    /// ```
    ///
    /// ## Fix
    /// ARM: `"encryption": {"status": "Enabled", "keyVaultProperties": {"keyVaultArmId":
    /// "<vault id>", "keyIdentifier": "<key URI>"}}` in the workspace's `properties` (set at
    /// creation; the vault needs purge protection).
    /// Bicep: `encryption: { status: 'Enabled', keyVaultProperties: { keyVaultArmId: kv.id, keyIdentifier: key.properties.keyUriWithVersion } }`.
    /// Terraform (`azurerm_machine_learning_workspace`): an `encryption { key_vault_id = …
    /// key_id = … }` block.
    ///
    /// ## References
    /// Azure Policy ba769a63-b8cc-4b2d-abf6-ac33c7204be8 (and its v2
    /// 7f40cee6-e933-4d0f-a782-b96615e0f4a6) (Azure Machine Learning workspaces should be
    /// encrypted with a customer-managed key); MCSB DP-5; CloudSploit mlWorkspaceCMKEncrypted;
    /// Steampipe machine_learning_workspace_encrypted_with_cmk; AzTS
    /// Azure_MachineLearningWorkspace_DP_Enable_Encryption_With_Customer_Managed_Keys.
    /// The Terraform Steampipe control only asks that an `encryption` block exist, so
    /// `status: Disabled` would pass it; the first version of the policy also hit
    /// project workspaces (azure-policy issue #1344). amlguard reads `status` and
    /// skips projects.
    pub struct WorkspaceWithoutCmk {
        code: 513,
        name: "workspace-without-cmk",
        title: "A workspace is encrypted with Microsoft-managed keys, not a customer-managed key",
        severity: Medium,
        confidence: High,
        category: DataService,
        references: [
            "Azure Policy ba769a63-b8cc-4b2d-abf6-ac33c7204be8",
            "Azure Policy 7f40cee6-e933-4d0f-a782-b96615e0f4a6",
            "MCSB DP-5",
            "CloudSploit mlWorkspaceCMKEncrypted",
            "Steampipe machine_learning_workspace_encrypted_with_cmk",
            "AzTS Azure_MachineLearningWorkspace_DP_Enable_Encryption_With_Customer_Managed_Keys",
        ],
    }
}

impl Rule for WorkspaceWithoutCmk {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        let fix = "create the workspace with properties.encryption.status 'Enabled' and keyVaultProperties naming a customer-managed key (encryption can only be set at creation)";
        for ws in m.of_kind(ResourceKind::Workspace) {
            let kind = ws.get("kind");
            if kind.str_is(&["Project"]) == Some(true) {
                continue;
            }
            let status = ws.get("properties.encryption.status");
            let message = format!(
                "workspace '{}' is encrypted with Microsoft-managed keys (encryption.status: {})",
                ws.display_name(),
                describe(&status, "Microsoft-managed keys"),
            );
            let check = check_field(status, true, |t: &Tree| !is_one_of(t, &["Enabled"]));
            match (kind.unknown(), check) {
                // It fails, unless the unknown kind turns out to be a project.
                (Some(k), Check::Fail(f)) => {
                    let decide = match &k.input {
                        Some(i) => format!("set {i} to decide whether it is a project"),
                        None => "its kind is not known offline; projects are exempt".to_string(),
                    };
                    let mut finding =
                        Finding::new(&Self::META, ws, format!("possibly: {message} ({decide})"))
                            .at_field(&f)
                            .with_fix(fix);
                    finding.confidence = Confidence::Low;
                    finding.deciding_input = k.input.clone();
                    if let Some(r) =
                        related_field(&kind, "the workspace kind decides whether this applies")
                    {
                        finding.related.push(r);
                    }
                    out.push(finding);
                }
                (_, check) => report(out, &Self::META, ws, check, message, fix),
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::testing::{route, run, template};

    fn t(kind: &str, props: &str) -> String {
        template(
            r#""status": {"type": "string"}, "kind": {"type": "string"}"#,
            &format!(
                r#"{{"type": "Microsoft.MachineLearningServices/workspaces", "apiVersion": "2024-04-01", "name": "ws", "location": "eastus", {kind} "properties": {props}}}"#
            ),
        )
    }

    const CMK: &str = r#"{"encryption": {"status": "Enabled", "keyVaultProperties": {"keyVaultArmId": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv", "keyIdentifier": "https://kv.vault.azure.net/keys/k/1"}}}"#;

    #[test]
    fn absent_means_microsoft_managed_keys() {
        let f = run(&WorkspaceWithoutCmk, &t("", "{}"));
        assert_eq!(f.len(), 1);
        assert!(f[0].absent);
        assert_eq!(route(&f[0]), "resources[0].properties");
        assert_eq!(f[0].confidence, Confidence::High);
    }

    #[test]
    fn disabled_fails_enabled_passes() {
        let f = run(
            &WorkspaceWithoutCmk,
            &t(
                r#""kind": "Hub","#,
                r#"{"encryption": {"status": "Disabled"}}"#,
            ),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(route(&f[0]), "resources[0].properties.encryption.status");
        assert!(run(&WorkspaceWithoutCmk, &t("", CMK)).is_empty());
    }

    #[test]
    fn projects_are_exempt() {
        assert!(run(&WorkspaceWithoutCmk, &t(r#""kind": "project","#, "{}")).is_empty());
    }

    #[test]
    fn unknown_status_reports_low_confidence_with_the_deciding_parameter() {
        let f = run(
            &WorkspaceWithoutCmk,
            &t(
                "",
                r#"{"encryption": {"status": "[parameters('status')]"}}"#,
            ),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'status'"));
    }

    #[test]
    fn unknown_kind_reports_low_confidence_naming_the_kind() {
        let f = run(
            &WorkspaceWithoutCmk,
            &t(r#""kind": "[parameters('kind')]","#, "{}"),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'kind'"));
        assert!(f[0].message.starts_with("possibly:"));
        // With a customer-managed key the kind does not matter.
        assert!(
            run(
                &WorkspaceWithoutCmk,
                &t(r#""kind": "[parameters('kind')]","#, CMK)
            )
            .is_empty()
        );
    }
}
