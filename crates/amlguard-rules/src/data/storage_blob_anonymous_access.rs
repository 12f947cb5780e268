use amlguard_model::{Model, ResourceKind, Tree};

use super::util::{api_before, describe, report_related, workspace_links};
use crate::{Finding, Rule, check_field, declare_rule};

/// The Storage API version from which an absent `allowBlobPublicAccess` means `false`.
const DEFAULT_FALSE_FROM: &str = "2023-01-01";

declare_rule! {
    /// ## What it checks
    /// Every deployed storage account that lets containers be opened to anonymous
    /// readers: `properties.allowBlobPublicAccess` is `true`, or it is absent and the
    /// resource's `apiVersion` is earlier than `2023-01-01`.
    ///
    /// Default assumed when absent, by API version (compared on the `YYYY-MM-DD`
    /// prefix of the resource's `apiVersion`): before `2023-01-01` the Storage API
    /// documents the default as `true`; from `2023-01-01` on, as `false`. When the
    /// API version is not known (e.g. non-ARM input), the current default (`false`)
    /// is assumed. Microsoft also changed the service-side default for all new
    /// accounts during the second half of 2023, so an old API version is reported
    /// even though a brand-new account may in practice be created closed: the
    /// template does not state it, and an older account updated by it keeps `true`.
    ///
    /// ## Why it matters
    /// With the account-level switch on, one container set to `Blob` or `Container`
    /// access serves its contents to anyone on the internet who knows the URL, with
    /// no key, token or identity — a one-property exfiltration path for training
    /// data and models. Turning it off account-wide makes every container private
    /// whatever its own setting.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2022-09-01", "properties": {}}
    /// ```
    ///
    /// ## Fix
    /// ARM: `"allowBlobPublicAccess": false` in the account's `properties` (state it
    /// explicitly whatever the API version).
    /// Bicep: `allowBlobPublicAccess: false`.
    /// Terraform (`azurerm_storage_account`): `allow_nested_items_to_be_public = false`.
    ///
    /// ## References
    /// Azure Policy 4fa4b6c0-31ca-4c0d-b10d-24b96f62a751 (storage account public access
    /// should be disallowed); MCSB PA-7; Checkov CKV_AZURE_190, CKV2_AZURE_47 (Terraform),
    /// CKV_AZURE_34 (container level); PSRule Azure.Storage.BlobPublicAccess; Trivy AZU-0007
    /// (container level); Prowler storage_blob_public_access_level_is_disabled.
    /// Peers read an absent value differently (Checkov's graph check CKV2_AZURE_47
    /// requires the Terraform attribute to be written); amlguard decides by the API
    /// version the template uses (see the defaults above).
    pub struct StorageBlobAnonymousAccess {
        code: 503,
        name: "storage-blob-anonymous-access",
        title: "A storage account allows anonymous (public) read access to blobs",
        severity: High,
        confidence: High,
        category: DataService,
        references: [
            "Azure Policy 4fa4b6c0-31ca-4c0d-b10d-24b96f62a751",
            "MCSB PA-7",
            "Checkov CKV_AZURE_190",
            "Checkov CKV2_AZURE_47",
            "PSRule Azure.Storage.BlobPublicAccess",
            "Trivy AZU-0007",
            "Prowler storage_blob_public_access_level_is_disabled",
        ],
    }
}

impl Rule for StorageBlobAnonymousAccess {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        let fix = "set properties.allowBlobPublicAccess to false (explicitly: older API versions default it to true)";
        for sa in m.of_kind(ResourceKind::StorageAccount) {
            let old_api = api_before(sa, DEFAULT_FALSE_FROM);
            let default = if old_api {
                format!(
                    "true for apiVersion {} (before {DEFAULT_FALSE_FROM})",
                    sa.api_version.as_deref().unwrap_or("?")
                )
            } else {
                "false".to_string()
            };
            let f = sa.get("properties.allowBlobPublicAccess");
            let message = format!(
                "storage account '{}' allows containers to be opened to anonymous readers (allowBlobPublicAccess: {})",
                sa.display_name(),
                describe(&f, &default),
            );
            let check = check_field(f, old_api, |t: &Tree| t.as_bool() == Some(true));
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

    fn t(api: &str, props: &str) -> String {
        template(r#""anon": {"type": "bool"}"#, &storage(api, props))
    }

    #[test]
    fn absent_depends_on_the_api_version() {
        let f = run(&StorageBlobAnonymousAccess, &t("2022-09-01", "{}"));
        assert_eq!(f.len(), 1);
        assert!(f[0].absent);
        assert_eq!(route(&f[0]), "resources[0].properties");
        assert!(f[0].message.contains("2022-09-01"));
        assert!(run(&StorageBlobAnonymousAccess, &t("2023-01-01", "{}")).is_empty());
        assert!(run(&StorageBlobAnonymousAccess, &t("2025-06-01", "{}")).is_empty());
    }

    #[test]
    fn true_fails_false_passes_whatever_the_version() {
        let f = run(
            &StorageBlobAnonymousAccess,
            &t("2025-06-01", r#"{"allowBlobPublicAccess": true}"#),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(
            route(&f[0]),
            "resources[0].properties.allowBlobPublicAccess"
        );
        assert!(
            run(
                &StorageBlobAnonymousAccess,
                &t("2021-04-01", r#"{"allowBlobPublicAccess": false}"#)
            )
            .is_empty()
        );
    }

    #[test]
    fn unknown_reports_low_confidence_with_the_deciding_parameter() {
        let f = run(
            &StorageBlobAnonymousAccess,
            &t(
                "2025-06-01",
                r#"{"allowBlobPublicAccess": "[parameters('anon')]"}"#,
            ),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'anon'"));
    }
}
