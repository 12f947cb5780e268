use amlguard_model::Model;
use amlguard_net::engine::Class;

use crate::paths::{Paths, class_findings};
use crate::{Finding, Rule, declare_rule};

declare_rule! {
    /// ## What it checks
    /// Runs the network engine for every compute and reports those that can
    /// reach other multi-tenant services where anyone can own an endpoint:
    /// the service tags `AzureCosmosDB`, `Sql`, `EventHub`, `ServiceBus`,
    /// `AppService`, `AzureContainerRegistry`, `AzureMonitor` and
    /// `AzureCloud` (which includes any Azure VM's public address), less the
    /// addresses of storage and Front Door (their own rules) and of the tags
    /// Microsoft calls not writable. Firewall application rules and managed
    /// FQDN rules count too (`*.servicebus.windows.net`, `*.azurewebsites.net`,
    /// …), and managed-network private endpoints to resources outside the
    /// deployment are `possible`. This extends Microsoft's list (which names
    /// storage and Front Door) by the same reasoning.
    ///
    /// ## Why it matters
    /// An insider can create a Cosmos DB account, an Event Hub, a web app or a
    /// VM of their own and write to it from the compute. `AzureMonitor` is in
    /// Microsoft's list of outbound needs when Azure Monitor is not behind
    /// Azure Monitor Private Link Scope; it accepts data for any workspace
    /// whose key the sender has, so amlguard reports it and suggests the
    /// private link scope instead.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"name": "AllowAzureCloud", "properties": {"access": "Allow", "direction": "Outbound",
    ///   "priority": 140, "protocol": "*", "destinationAddressPrefix": "AzureCloud",
    ///   "destinationPortRange": "*", "sourceAddressPrefix": "*", "sourcePortRange": "*"}}
    /// ```
    ///
    /// ## Fix
    /// ARM: replace broad tags with the regional tags AML needs, and reach the
    /// team's own services through private endpoints; secure Azure Monitor
    /// with a private link scope (`Microsoft.Insights/privateLinkScopes`).
    /// Bicep: the same `securityRules` change.
    /// Terraform: narrow the `azurerm_network_security_rule`
    /// `destination_address_prefix`; `azurerm_monitor_private_link_scope`.
    ///
    /// ## References
    /// Microsoft Learn: "Prevent data exfiltration in Azure Machine Learning"
    /// (an outbound path carries data out only where the attacker can write);
    /// "Azure service tags overview"; MCSB NS-3, DP-2.
    pub struct EgressWritableService {
        code: 304,
        name: "egress-writable-service",
        title: "Compute can send data to a service anyone can own an endpoint of",
        severity: Medium,
        confidence: High,
        category: Egress,
        references: [
            "MCSB NS-3",
            "MCSB DP-2",
            "Microsoft Learn: service-tags-overview",
        ],
    }
}

const FIX: &str = "allow only the service tags AML needs (regional where possible) and reach your own services through private endpoints";

impl Rule for EgressWritableService {
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
        class_findings(&Self::META, Class::Writable, m, paths, FIX, out);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::paths::fixtures::*;
    use crate::testing::run;

    #[test]
    fn allowing_azure_cloud_opens_writable_services() {
        let mut rules = guide_rules();
        rules.push(rule(
            "AllowCloud",
            140,
            "Outbound",
            "Allow",
            "*",
            "VirtualNetwork",
            "AzureCloud",
            "*",
        ));
        let f = run(
            &EgressWritableService,
            &network(&rules, Some(GUIDE_POLICY), false),
        );
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].rule.code, 304);
    }

    #[test]
    fn the_guides_tags_are_not_writable() {
        assert!(
            run(
                &EgressWritableService,
                &network(&guide_rules(), Some(GUIDE_POLICY), false)
            )
            .is_empty()
        );
    }
}
