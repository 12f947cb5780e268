use amlguard_model::{Model, ResourceKind, Tree};

use super::util::{describe, report_related, workspace_links};
use crate::{Finding, Rule, check_field, declare_rule};

declare_rule! {
    /// ## What it checks
    /// Every deployed storage account that still accepts Shared Key
    /// authorization: `properties.allowSharedKeyAccess` is not `false`.
    ///
    /// Default assumed when absent: `true` (the Storage API documents a missing
    /// value as equivalent to `true`, in every API version).
    ///
    /// ## Why it matters
    /// The two account keys, and every SAS token signed with them, grant full data
    /// access without an identity: no Entra ID sign-in, no conditional access, no
    /// per-user audit trail, and they keep working wherever they were copied. An
    /// AML workspace lists its storage keys to anyone with `listKeys`, so a key
    /// leaked from a notebook or a job log is a standing way out for the data.
    /// With shared keys off, every request must carry an Entra ID token.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.Storage/storageAccounts", "properties": {"allowSharedKeyAccess": true}}
    /// ```
    ///
    /// ## Fix
    /// ARM: `"allowSharedKeyAccess": false` in the account's `properties`; for an AML
    /// default storage account also set the workspace's
    /// `"systemDatastoresAuthMode": "Identity"` (otherwise AML fails with
    /// `KeyBasedAuthenticationNotPermitted`).
    /// Bicep: `allowSharedKeyAccess: false`.
    /// Terraform (`azurerm_storage_account`): `shared_access_key_enabled = false`.
    ///
    /// ## References
    /// Azure Policy 8c6a50c6-9ffd-4ae7-986f-5fa6111f9a54 (storage accounts should prevent
    /// shared key access); MCSB IM-1; Checkov CKV2_AZURE_40; PSRule Azure.Storage.LocalAuth;
    /// Prowler storage_account_key_access_disabled.
    pub struct StorageSharedKeyEnabled {
        code: 502,
        name: "storage-shared-key-enabled",
        title: "A storage account accepts Shared Key (account key and SAS) authorization",
        severity: Medium,
        confidence: High,
        category: DataService,
        references: [
            "Azure Policy 8c6a50c6-9ffd-4ae7-986f-5fa6111f9a54",
            "MCSB IM-1",
            "Checkov CKV2_AZURE_40",
            "PSRule Azure.Storage.LocalAuth",
            "Prowler storage_account_key_access_disabled",
        ],
    }
}

impl Rule for StorageSharedKeyEnabled {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        let fix = "set properties.allowSharedKeyAccess to false and grant data access through Entra ID roles (for a workspace's default storage, also set the workspace's systemDatastoresAuthMode to 'Identity')";
        for sa in m.of_kind(ResourceKind::StorageAccount) {
            let f = sa.get("properties.allowSharedKeyAccess");
            let message = format!(
                "storage account '{}' accepts account keys and SAS tokens (allowSharedKeyAccess: {})",
                sa.display_name(),
                describe(&f, "true"),
            );
            let check = check_field(f, true, |t: &Tree| t.as_bool() != Some(false));
            report_related(
                out,
                &Self::META,
                sa,
                check,
                message,
                fix,
                workspace_links(m, sa, "properties.storageAccount", "default storage"),
            );
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::Confidence;
    use crate::data::util::fixtures::storage;
    use crate::testing::{route, run, template};

    fn t(props: &str) -> String {
        template(r#""keys": {"type": "bool"}"#, &storage("2025-06-01", props))
    }

    #[test]
    fn absent_means_true() {
        let f = run(
            &StorageSharedKeyEnabled,
            &t(r#"{"minimumTlsVersion": "TLS1_2"}"#),
        );
        assert_eq!(f.len(), 1);
        assert!(f[0].absent);
        assert_eq!(route(&f[0]), "resources[0].properties");
    }

    #[test]
    fn true_fails_false_passes() {
        let f = run(
            &StorageSharedKeyEnabled,
            &t(r#"{"allowSharedKeyAccess": true}"#),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(route(&f[0]), "resources[0].properties.allowSharedKeyAccess");
        assert!(!f[0].fix.is_empty());
        assert!(
            run(
                &StorageSharedKeyEnabled,
                &t(r#"{"allowSharedKeyAccess": false}"#)
            )
            .is_empty()
        );
    }

    #[test]
    fn unknown_reports_low_confidence_with_the_deciding_parameter() {
        let f = run(
            &StorageSharedKeyEnabled,
            &t(r#"{"allowSharedKeyAccess": "[parameters('keys')]"}"#),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'keys'"));
    }
}
