use amlguard_model::Model;

use crate::paths::{Paths, dependency_findings};
use crate::{Finding, Rule, declare_rule};

declare_rule! {
    /// ## What it checks
    /// Runs the network engine for every compute in a customer subnet and
    /// checks the outbound destinations AML needs for it
    /// (docs: "Configure inbound and outbound network traffic"):
    /// `AzureActiveDirectory` TCP 443, `AzureMachineLearning` TCP 443 (and
    /// UDP 5831 for compute without public IP), `BatchNodeManagement.<region>`
    /// TCP 443, `AzureResourceManager` TCP 443, `Storage.<region>` TCP 443 to
    /// AML's Microsoft-managed accounts (a service endpoint policy must list
    /// `/services/Azure/MachineLearning`) and to the workspace's default
    /// storage account, `MicrosoftContainerRegistry` and
    /// `AzureFrontDoor.FirstParty` TCP 443. Each must pass the NSG, the
    /// service endpoint policy, the routes and the firewall (by service tag or
    /// by the host names Microsoft lists), and have a way out. The finding
    /// names the setting that blocks it.
    ///
    /// ## Why it matters
    /// A locked-down network that blocks one of these breaks AML: nodes do
    /// not provision, jobs cannot pull images or write outputs, and the
    /// failure shows up only after deployment, often as a timeout.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"name": "DenyAllOutbound", "properties": {"access": "Deny", "direction": "Outbound",
    ///   "priority": 200, "protocol": "*", "destinationAddressPrefix": "*",
    ///   "destinationPortRange": "*", "sourceAddressPrefix": "*", "sourcePortRange": "*"}}
    /// ```
    /// with no allow rule for `BatchNodeManagement.<region>` above it.
    ///
    /// ## Fix
    /// ARM: add outbound `Allow` rules for the tags above (priorities below
    /// the deny rule), list `/services/Azure/MachineLearning` in the service
    /// endpoint policy, and allow the hosts on the firewall.
    /// Bicep: the same `securityRules` and policy definitions.
    /// Terraform: `azurerm_network_security_rule` resources with
    /// `destination_address_prefix = "BatchNodeManagement.<region>"` etc.
    ///
    /// ## References
    /// Microsoft Learn: "Configure inbound and outbound network traffic";
    /// "Prevent data exfiltration in Azure Machine Learning"; "Secure an
    /// Azure Machine Learning training environment with virtual networks".
    pub struct DependencyBlocked {
        code: 401,
        name: "dependency-blocked",
        title: "Compute cannot reach a destination Azure Machine Learning needs",
        severity: High,
        confidence: High,
        category: Dependency,
        references: [
            "Microsoft Learn: how-to-access-azureml-behind-firewall",
            "Microsoft Learn: how-to-prevent-data-loss-exfiltration",
        ],
    }
}

const FIX: &str = "allow the dependency in the NSG, route table, firewall and service endpoint policy of the compute subnet (see the path for the setting that blocks it)";

impl Rule for DependencyBlocked {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        self.check_paths(m, &Paths::of(m, None), out);
    }
    fn uses_paths(&self) -> bool {
        true
    }
    fn check_paths(&self, m: &Model, paths: &Paths, out: &mut Vec<Finding>) {
        dependency_findings(&Self::META, m, paths, FIX, out);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::paths::fixtures::*;
    use crate::testing::run;

    #[test]
    fn a_policy_without_the_alias_blocks_provisioning() {
        let f = run(
            &DependencyBlocked,
            &network(
                &guide_rules(),
                Some(&["[resourceId(\x27Microsoft.Storage/storageAccounts\x27, \x27wsstore\x27)]"]),
                false,
            ),
        );
        assert_eq!(f.len(), 1, "{f:#?}");
        assert!(
            f[0].message.contains("Microsoft-managed"),
            "{}",
            f[0].message
        );
        assert!(
            f[0].flow
                .iter()
                .any(|s| s.message.contains("/services/Azure/MachineLearning"))
        );
    }

    #[test]
    fn a_deny_all_above_the_allows_blocks_everything() {
        // Priority 100 is taken by AllowBatch: replace it (Batch is blocked either way).
        let mut rules: Vec<String> = guide_rules()
            .into_iter()
            .filter(|r| !r.contains("AllowBatch"))
            .collect();
        rules.push(rule("DenyAll", 100, "Outbound", "Deny", "*", "*", "*", "*"));
        let f = run(
            &DependencyBlocked,
            &network(&rules, Some(GUIDE_POLICY), false),
        );
        assert!(f.len() >= 5, "{f:#?}");
        assert!(
            f.iter()
                .all(|x| x.flow.iter().any(|s| s.message.contains("DenyAll"))),
            "{f:#?}"
        );
    }

    #[test]
    fn the_guides_configuration_works() {
        assert!(
            run(
                &DependencyBlocked,
                &network(&guide_rules(), Some(GUIDE_POLICY), false)
            )
            .is_empty()
        );
    }
}
