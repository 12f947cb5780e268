use amlguard_model::{Model, Tree};

use crate::{Finding, Rule, check_field, declare_rule, report};

/// The ARM type of blob containers.
const CONTAINER_TYPE: &str = "Microsoft.Storage/storageAccounts/blobServices/containers";

declare_rule! {
    /// ## What it checks
    /// Every deployed blob container whose `properties.publicAccess` is `Blob` or
    /// `Container`: anonymous readers can fetch its blobs (and, with `Container`,
    /// list them).
    ///
    /// Default assumed when absent: `None` (private).
    ///
    /// ## Why it matters
    /// A container opened to anonymous reads publishes whatever a job or a person
    /// writes into it, to anyone who guesses or learns the URL; for an AML
    /// workspace that is training data, models and outputs. AMLG503 checks the
    /// account-wide switch (`allowBlobPublicAccess`); this rule checks each
    /// container, which is what a template author usually writes.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.Storage/storageAccounts/blobServices/containers",
    ///  "name": "sa/default/data", "properties": {"publicAccess": "Blob"}}
    /// ```
    ///
    /// ## Fix
    /// ARM: `"publicAccess": "None"` in the container's `properties` (and
    /// `"allowBlobPublicAccess": false` on the account).
    /// Bicep: `publicAccess: 'None'`.
    /// Terraform (`azurerm_storage_container`): `container_access_type = "private"`.
    ///
    /// ## References
    /// Azure Policy 4fa4b6c0-31ca-4c0d-b10d-24b96f62a751 (account level); MCSB DP-2;
    /// Checkov CKV_AZURE_34.
    pub struct StorageContainerPublicAccess {
        code: 516,
        name: "storage-container-public-access",
        title: "A blob container allows anonymous reads",
        severity: High,
        confidence: High,
        category: DataService,
        references: [
            "Azure Policy 4fa4b6c0-31ca-4c0d-b10d-24b96f62a751",
            "MCSB DP-2",
            "Checkov CKV_AZURE_34",
        ],
    }
}

impl Rule for StorageContainerPublicAccess {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        let containers = m
            .resources
            .iter()
            .filter(|r| r.deployed() && r.arm_type.eq_ignore_ascii_case(CONTAINER_TYPE));
        for c in containers {
            let check = check_field(c.get("properties.publicAccess"), false, |t: &Tree| {
                !t.as_str().is_some_and(|s| s.eq_ignore_ascii_case("None"))
            });
            report(
                out,
                &Self::META,
                c,
                check,
                format!(
                    "blob container '{}' can be read anonymously (publicAccess is not 'None')",
                    c.display_name()
                ),
                "set properties.publicAccess to 'None' and give readers Entra ID data roles or user-delegation SAS",
            );
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::Confidence;
    use crate::testing::{route, run, template};

    fn container(props: &str) -> String {
        template(
            r#""access": {"type": "string"}"#,
            &format!(
                r#"{{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "sa",
                   "resources": [{{"type": "blobServices/containers", "apiVersion": "2023-01-01", "name": "default/data", "properties": {props}}}]}}"#
            ),
        )
    }

    #[test]
    fn blob_access_fails_at_the_property() {
        let f = run(
            &StorageContainerPublicAccess,
            &container(r#"{"publicAccess": "Blob"}"#),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(
            route(&f[0]),
            "resources[0].resources[0].properties.publicAccess"
        );
        assert!(f[0].message.contains("sa/default/data"));
    }

    #[test]
    fn none_and_absent_pass() {
        assert!(
            run(
                &StorageContainerPublicAccess,
                &container(r#"{"publicAccess": "None"}"#)
            )
            .is_empty()
        );
        assert!(run(&StorageContainerPublicAccess, &container("{}")).is_empty());
    }

    #[test]
    fn unknown_is_low_confidence_and_names_the_parameter() {
        let f = run(
            &StorageContainerPublicAccess,
            &container(r#"{"publicAccess": "[parameters('access')]"}"#),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'access'"));
    }
}
