use amlguard_model::{Model, ResourceKind, Tree};

use crate::{Finding, Rule, check_field, declare_rule, report};

declare_rule! {
    /// ## What it checks
    /// A container registry (`Microsoft.ContainerRegistry/registries`) whose
    /// `properties.policies.exportPolicy.status` is not `disabled`. Absent
    /// means `enabled` (Azure's default; only Premium registries can turn it
    /// off, and only with `publicNetworkAccess` `Disabled`).
    ///
    /// ## Why it matters
    /// The workspace's registry holds the images that training and inference
    /// run, often with models and data baked in. With export enabled, anyone
    /// with pull rights can copy whole repositories to another registry with
    /// `az acr import` or an ACR transfer pipeline, a copy that goes through
    /// the registry service rather than through the network paths that the
    /// workspace's NSG, firewall or private endpoints control. Disabling
    /// export leaves `docker pull` over the data plane as the only way out.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.ContainerRegistry/registries", "sku": {"name": "Premium"},
    ///  "properties": {"policies": {"exportPolicy": {"status": "enabled"}}}}
    /// ```
    ///
    /// ## Fix
    /// ARM: `"policies": {"exportPolicy": {"status": "disabled"}}` and
    /// `"publicNetworkAccess": "Disabled"` in the registry's `properties`
    /// (Premium SKU).
    /// Bicep: `policies: { exportPolicy: { status: 'disabled' } }`.
    /// Terraform (`azurerm_container_registry`): `export_policy_enabled = false`
    /// with `public_network_access_enabled = false`.
    ///
    /// ## References
    /// Azure Policy 524b0254-c285-4903-bee6-bb8126cde579 (container registries
    /// should have exports disabled); MCSB DP-2; PSRule Azure.ACR.ExportPolicy.
    /// Checkov, Trivy and Prowler have no export check.
    pub struct RegistryExportEnabled {
        code: 311,
        name: "registry-export-enabled",
        title: "The container registry allows its images to be exported",
        severity: Medium,
        confidence: High,
        category: Egress,
        references: [
            "Azure Policy 524b0254-c285-4903-bee6-bb8126cde579",
            "MCSB DP-2",
            "PSRule Azure.ACR.ExportPolicy",
        ],
    }
}

impl Rule for RegistryExportEnabled {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        for acr in m.of_kind(ResourceKind::ContainerRegistry) {
            let premium = acr
                .get("sku.name")
                .str()
                .is_some_and(|s| s.eq_ignore_ascii_case("Premium"));
            let fix = if premium {
                "set properties.policies.exportPolicy.status to 'disabled' (with properties.publicNetworkAccess 'Disabled')"
            } else {
                "use the Premium SKU and set properties.policies.exportPolicy.status to 'disabled' (with properties.publicNetworkAccess 'Disabled')"
            };
            let status = check_field(
                acr.get("properties.policies.exportPolicy.status"),
                true,
                |t: &Tree| {
                    !t.as_str()
                        .is_some_and(|s| s.eq_ignore_ascii_case("disabled"))
                },
            );
            report(
                out,
                &Self::META,
                acr,
                status,
                format!(
                    "container registry '{}' allows export: its images can be copied to another registry outside the network controls",
                    acr.display_name()
                ),
                fix,
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

    fn acr(props: &str) -> String {
        template(
            r#""exp": {"type": "string"}"#,
            &format!(
                r#"{{"type": "Microsoft.ContainerRegistry/registries", "apiVersion": "2023-07-01", "name": "acrws", "location": "eastus", "sku": {{"name": "Premium"}}, "properties": {props}}}"#
            ),
        )
    }

    #[test]
    fn enabled_fails() {
        let f = run(
            &RegistryExportEnabled,
            &acr(r#"{"policies": {"exportPolicy": {"status": "enabled"}}}"#),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(
            route(&f[0]),
            "resources[0].properties.policies.exportPolicy.status"
        );
    }

    #[test]
    fn absent_means_enabled() {
        let f = run(&RegistryExportEnabled, &acr("{}"));
        assert_eq!(f.len(), 1);
        assert!(f[0].absent);
        assert_eq!(route(&f[0]), "resources[0].properties");
    }

    #[test]
    fn disabled_passes() {
        assert!(
            run(
                &RegistryExportEnabled,
                &acr(r#"{"publicNetworkAccess": "Disabled", "policies": {"exportPolicy": {"status": "disabled"}}}"#),
            )
            .is_empty()
        );
    }

    #[test]
    fn unknown_is_low_confidence() {
        let f = run(
            &RegistryExportEnabled,
            &acr(r#"{"policies": {"exportPolicy": {"status": "[parameters('exp')]"}}}"#),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'exp'"));
    }
}
