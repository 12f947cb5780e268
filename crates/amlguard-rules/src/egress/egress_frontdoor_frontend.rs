use amlguard_model::Model;
use amlguard_net::engine::Class;

use crate::paths::{Paths, class_findings};
use crate::{Finding, Rule, declare_rule};

declare_rule! {
    /// ## What it checks
    /// Runs the network engine for every compute and reports those that can
    /// reach the `AzureFrontDoor.Frontend` service tag (TCP 80/443), or a new
    /// host under `azurefd.net` or `azureedge.net` through a firewall or a
    /// managed-network FQDN rule. The tag is usually opened because the
    /// studio and AutoML use Front Door; the finding shows which setting
    /// opens it.
    ///
    /// ## Why it matters
    /// Anyone can create a Front Door endpoint in their own subscription, and
    /// every endpoint shares the tag's addresses: allowing the tag lets code
    /// on the compute upload data to an endpoint the insider controls.
    /// Microsoft's guidance replaces the tag with FQDN rules for `ml.azure.com`
    /// and the AutoML host.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"name": "AllowFrontDoor", "properties": {"access": "Allow", "direction": "Outbound",
    ///   "priority": 130, "protocol": "Tcp", "destinationAddressPrefix": "AzureFrontDoor.Frontend",
    ///   "destinationPortRange": "443", "sourceAddressPrefix": "*", "sourcePortRange": "*"}}
    /// ```
    ///
    /// ## Fix
    /// ARM: remove the rule that allows `AzureFrontDoor.Frontend` (or add a
    /// `Deny` rule for it at a higher priority) and allow `ml.azure.com` and
    /// `automlresources-prod-d0eaehh7g8andvav.b02.azurefd.net` as application
    /// rules on the firewall.
    /// Bicep: the same `securityRules` change and firewall application rules.
    /// Terraform: remove the `azurerm_network_security_rule`; add
    /// `azurerm_firewall_policy_rule_collection_group` application rules with
    /// `destination_fqdns`.
    ///
    /// ## References
    /// Microsoft Learn: "Prevent data exfiltration in Azure Machine Learning"
    /// (AzureFrontDoor.frontend outbound); MCSB NS-3, DP-2.
    pub struct EgressFrontdoorFrontend {
        code: 303,
        name: "egress-frontdoor-frontend",
        title: "Compute can send data to any Front Door endpoint",
        severity: High,
        confidence: High,
        category: Egress,
        references: [
            "MCSB NS-3",
            "MCSB DP-2",
            "Microsoft Learn: how-to-prevent-data-loss-exfiltration",
        ],
    }
}

const FIX: &str = "do not allow the AzureFrontDoor.Frontend tag; allow ml.azure.com and the AutoML host by FQDN on a firewall instead";

impl Rule for EgressFrontdoorFrontend {
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
        class_findings(&Self::META, Class::FrontDoor, m, paths, FIX, out);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::paths::fixtures::*;
    use crate::testing::run;

    #[test]
    fn allowing_the_frontend_tag_opens_front_door() {
        let mut rules = guide_rules();
        rules.push(rule(
            "AllowFd",
            140,
            "Outbound",
            "Allow",
            "Tcp",
            "VirtualNetwork",
            "AzureFrontDoor.Frontend",
            "443",
        ));
        let f = run(
            &EgressFrontdoorFrontend,
            &network(&rules, Some(GUIDE_POLICY), false),
        );
        assert_eq!(f.len(), 1, "{f:#?}");
        assert!(
            f[0].flow.iter().any(|s| s.message.contains("AllowFd")),
            "{:#?}",
            f[0].flow
        );
    }

    #[test]
    fn first_party_front_door_is_not_the_frontend() {
        assert!(
            run(
                &EgressFrontdoorFrontend,
                &network(&guide_rules(), Some(GUIDE_POLICY), false)
            )
            .is_empty()
        );
    }
}
