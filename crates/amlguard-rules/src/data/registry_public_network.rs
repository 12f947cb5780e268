use amlguard_model::{Model, ResourceKind, Tree};

use super::util::{describe, is_one_of, related_field, report_related, workspace_links};
use crate::{Finding, Rule, check_field, declare_rule};

declare_rule! {
    /// ## What it checks
    /// Every deployed container registry (whether or not a workspace uses it)
    /// whose public endpoint is on: `properties.publicNetworkAccess` is not
    /// `Disabled`.
    ///
    /// Default assumed when absent: `Enabled`. A `networkRuleSet` with
    /// `defaultAction: Deny` (Premium SKU only) narrows the public endpoint to the
    /// listed IP ranges but leaves it on, so it does not make the registry pass; the
    /// finding says when such a firewall is present.
    ///
    /// ## Why it matters
    /// The workspace's registry holds the environment images that every job and
    /// endpoint runs: a registry reachable from the internet lets a leaked token or
    /// admin password pull proprietary code and models, or push a poisoned image
    /// that the next training job runs with the workspace's identity. Microsoft's
    /// network-isolation guidance puts the registry behind a private endpoint
    /// (with `imageBuildCompute` set on the workspace so images can still be built).
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.ContainerRegistry/registries", "sku": {"name": "Premium"},
    ///  "properties": {"publicNetworkAccess": "Enabled"}}
    /// ```
    ///
    /// ## Fix
    /// ARM: `"publicNetworkAccess": "Disabled"` in the registry's `properties`, a
    /// private endpoint (group `registry`, Premium SKU), and the workspace's
    /// `imageBuildCompute` set to a compute cluster in the VNet.
    /// Bicep: `publicNetworkAccess: 'Disabled'`.
    /// Terraform (`azurerm_container_registry`): `public_network_access_enabled = false`.
    ///
    /// ## References
    /// Azure Policy 0fdf0491-d080-4575-b627-ad0e843cba0f (container registries should have
    /// public network access disabled) and d0793b48-0edc-4296-a390-4c75d1bdfd71 (container
    /// registries should not allow unrestricted network access); MCSB NS-2; Checkov
    /// CKV_AZURE_139; PSRule Azure.ACR.Firewall; Prowler containerregistry_not_publicly_accessible.
    pub struct RegistryPublicNetwork {
        code: 510,
        name: "registry-public-network",
        title: "A container registry has its public endpoint enabled",
        severity: High,
        confidence: High,
        category: DataService,
        references: [
            "Azure Policy 0fdf0491-d080-4575-b627-ad0e843cba0f",
            "Azure Policy d0793b48-0edc-4296-a390-4c75d1bdfd71",
            "MCSB NS-2",
            "Checkov CKV_AZURE_139",
            "PSRule Azure.ACR.Firewall",
            "Prowler containerregistry_not_publicly_accessible",
        ],
    }
}

impl Rule for RegistryPublicNetwork {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        let fix = "set properties.publicNetworkAccess to 'Disabled', reach the registry through a private endpoint (Premium SKU), and set the workspace's imageBuildCompute";
        for acr in m.of_kind(ResourceKind::ContainerRegistry) {
            let pna = acr.get("properties.publicNetworkAccess");
            let acl = acr.get("properties.networkRuleSet.defaultAction");
            let firewall = if acl.str_is(&["Deny"]) == Some(true) {
                " (its firewall denies by default, but the listed IP ranges still reach it)"
            } else {
                " from every network"
            };
            let message = format!(
                "container registry '{}' is reachable over its public endpoint{firewall} (publicNetworkAccess: {})",
                acr.display_name(),
                describe(&pna, "'Enabled'"),
            );
            let mut related: Vec<_> = if acl.known().is_some() {
                related_field(&acl, "the registry firewall's default action")
                    .into_iter()
                    .collect()
            } else {
                Vec::new()
            };
            related.extend(workspace_links(
                m,
                acr,
                "properties.containerRegistry",
                "container registry",
            ));
            let check = check_field(pna, true, |t: &Tree| !is_one_of(t, &["Disabled"]));
            report_related(out, &Self::META, acr, check, message, fix, related);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::Confidence;
    use crate::data::util::fixtures::{registry, workspace};
    use crate::testing::{route, run, template};

    fn t(props: &str) -> String {
        template(r#""pna": {"type": "string"}"#, &registry(props))
    }

    #[test]
    fn absent_means_enabled() {
        let f = run(&RegistryPublicNetwork, &t("{}"));
        assert_eq!(f.len(), 1);
        assert!(f[0].absent);
        assert_eq!(route(&f[0]), "resources[0].properties");
    }

    #[test]
    fn enabled_fails_disabled_passes() {
        let f = run(
            &RegistryPublicNetwork,
            &t(r#"{"publicNetworkAccess": "Enabled"}"#),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(route(&f[0]), "resources[0].properties.publicNetworkAccess");
        assert!(f[0].message.contains("every network"));
        assert!(
            run(
                &RegistryPublicNetwork,
                &t(r#"{"publicNetworkAccess": "Disabled"}"#)
            )
            .is_empty()
        );
    }

    #[test]
    fn a_deny_firewall_still_leaves_the_endpoint_on() {
        let f = run(
            &RegistryPublicNetwork,
            &t(
                r#"{"publicNetworkAccess": "Enabled", "networkRuleSet": {"defaultAction": "Deny", "ipRules": []}}"#,
            ),
        );
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("denies by default"));
        assert_eq!(
            f[0].related[0].at.route.to_string(),
            "resources[0].properties.networkRuleSet.defaultAction"
        );
    }

    #[test]
    fn unknown_reports_low_confidence_with_the_deciding_parameter() {
        let f = run(
            &RegistryPublicNetwork,
            &t(r#"{"publicNetworkAccess": "[parameters('pna')]"}"#),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'pna'"));
    }

    #[test]
    fn names_the_workspace_that_uses_it() {
        let text = template("", &format!("{}, {}", registry("{}"), workspace()));
        let f = run(&RegistryPublicNetwork, &text);
        assert_eq!(f.len(), 1);
        assert!(
            f[0].related
                .iter()
                .any(|r| r.message.contains("workspace 'ws'"))
        );
    }
}
