use amlguard_model::Model;

use crate::paths::{Paths, inbound_findings};
use crate::{Finding, Rule, declare_rule};

declare_rule! {
    /// ## What it checks
    /// For every compute cluster or compute instance whose nodes have public
    /// IP addresses (`enableNodePublicIp` absent or true) and that runs in a
    /// subnet with an NSG, whether the NSG's inbound rules admit TCP 44224
    /// from the `AzureMachineLearning` service tag to the subnet. The rules
    /// run in priority order after Azure's defaults (65000
    /// `AllowVNetInBound`, 65001 `AllowAzureLoadBalancerInBound`, 65500
    /// `DenyAllInbound`), so a subnet NSG without an allow rule for it blocks
    /// it. When the public IP setting or a rule is not known offline, the
    /// finding is `possible` with the input that decides it.
    ///
    /// ## Why it matters
    /// Azure Machine Learning creates, updates and deletes compute with public
    /// IP addresses through inbound port 44224. AML adds its own NSG on the
    /// compute's load balancer, but a subnet NSG that blocks the port wins:
    /// nodes fail to provision or the compute turns unusable. Compute without
    /// public IP needs no inbound rule at all.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"name": "DenyAllInbound", "properties": {"access": "Deny", "direction": "Inbound",
    ///   "priority": 100, "protocol": "*", "sourceAddressPrefix": "*", "sourcePortRange": "*",
    ///   "destinationAddressPrefix": "*", "destinationPortRange": "*"}}
    /// ```
    ///
    /// ## Fix
    /// ARM: an inbound rule `{"access": "Allow", "direction": "Inbound",
    /// "priority": 100, "protocol": "Tcp", "sourceAddressPrefix":
    /// "AzureMachineLearning", "destinationAddressPrefix": "VirtualNetwork",
    /// "destinationPortRange": "44224", "sourcePortRange": "*"}`, or better,
    /// compute without public IP (`enableNodePublicIp: false`) and a workspace
    /// private endpoint.
    /// Bicep: the same rule in `securityRules`.
    /// Terraform: `azurerm_network_security_rule` with
    /// `source_address_prefix = "AzureMachineLearning"`,
    /// `destination_port_range = "44224"`, `direction = "Inbound"`.
    ///
    /// ## References
    /// Microsoft Learn: "Configure inbound and outbound network traffic"
    /// (inbound AzureMachineLearning TCP 44224); "Prevent data exfiltration
    /// in Azure Machine Learning" (threat model, inbound).
    pub struct InboundManagementBlocked {
        code: 406,
        name: "inbound-management-blocked",
        title: "The subnet NSG blocks AML's management traffic to public-IP compute",
        severity: High,
        confidence: High,
        category: Dependency,
        references: [
            "Microsoft Learn: how-to-access-azureml-behind-firewall",
            "Microsoft Learn: how-to-secure-training-vnet",
        ],
    }
}

const FIX: &str = "allow inbound TCP 44224 from the AzureMachineLearning service tag in the subnet's NSG, or give the compute no public IP (enableNodePublicIp: false) with a workspace private endpoint";

impl Rule for InboundManagementBlocked {
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
        inbound_findings(&Self::META, m, paths, FIX, out);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::paths::fixtures::*;
    use crate::testing::run;

    #[test]
    fn public_ip_compute_behind_the_default_inbound_deny_is_blocked() {
        let f = run(
            &InboundManagementBlocked,
            &network(&guide_rules(), Some(GUIDE_POLICY), true),
        );
        assert_eq!(f.len(), 1, "{f:#?}");
        assert!(
            f[0].flow
                .iter()
                .any(|s| s.message.contains("DenyAllInbound")),
            "{:#?}",
            f[0].flow
        );
    }

    #[test]
    fn an_allow_rule_for_44224_passes() {
        let mut rules = guide_rules();
        rules.push(rule(
            "AllowAmlIn",
            100,
            "Inbound",
            "Allow",
            "Tcp",
            "AzureMachineLearning",
            "VirtualNetwork",
            "44224",
        ));
        assert!(
            run(
                &InboundManagementBlocked,
                &network(&rules, Some(GUIDE_POLICY), true)
            )
            .is_empty()
        );
    }

    #[test]
    fn compute_without_public_ip_needs_no_inbound() {
        assert!(
            run(
                &InboundManagementBlocked,
                &network(&guide_rules(), Some(GUIDE_POLICY), false)
            )
            .is_empty()
        );
    }
}
