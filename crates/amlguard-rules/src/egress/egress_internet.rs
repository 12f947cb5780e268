use amlguard_model::Model;
use amlguard_net::engine::Class;

use crate::paths::{Paths, class_findings};
use crate::{Finding, Rule, declare_rule};

declare_rule! {
    /// ## What it checks
    /// Runs the network engine for every compute cluster, compute instance and
    /// serverless compute (in a custom subnet) and reports those that can send
    /// packets to an arbitrary internet host: a public address outside every
    /// Azure service tag. A path needs the subnet's NSG to let the traffic
    /// out (the default rule `AllowInternetOutBound` does, unless a rule of
    /// higher priority denies it), a route that leads out (`0.0.0.0/0` to
    /// `Internet`, or to a firewall that allows it), and a way out at the
    /// end: node public IPs (`enableNodePublicIp`, absent means true), a NAT
    /// gateway, or default outbound access. Compute with no subnet and no
    /// managed network, and a managed network in `AllowInternetOutbound`
    /// mode, have open egress. The finding shows the chain of settings the
    /// packet passes; values not known offline make it `possible` (low
    /// confidence) with the input that decides it.
    ///
    /// ## Why it matters
    /// Anyone with access to the workspace can run code on its compute. With
    /// internet egress, that code can upload training data, models or
    /// secrets to a server the person controls. Microsoft's exfiltration
    /// guidance sends internet traffic through a firewall that allows only
    /// the hosts AML needs.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"name": "training", "properties": {"addressPrefix": "10.0.1.0/24",
    ///   "networkSecurityGroup": {"id": "[resourceId('Microsoft.Network/networkSecurityGroups', 'nsg-open')]"}}}
    /// ```
    /// with a cluster whose `enableNodePublicIp` is absent and an NSG without
    /// an outbound deny rule.
    ///
    /// ## Fix
    /// ARM: add an outbound rule `{"access": "Deny", "direction": "Outbound",
    /// "priority": 4096, "protocol": "*", "destinationAddressPrefix":
    /// "Internet", …}` below rules that allow the service tags AML needs, set
    /// `enableNodePublicIp` to `false`, `defaultOutboundAccess` to `false`,
    /// and route `0.0.0.0/0` to a firewall (`nextHopType: VirtualAppliance`).
    /// Bicep: the same properties in `securityRules`, `enableNodePublicIp:
    /// false`, `defaultOutboundAccess: false`.
    /// Terraform: an `azurerm_network_security_rule` with `access = "Deny"`,
    /// `destination_address_prefix = "Internet"`;
    /// `node_public_ip_enabled = false` on `azurerm_machine_learning_compute_cluster`;
    /// `default_outbound_access_enabled = false` on `azurerm_subnet`.
    ///
    /// ## References
    /// Microsoft Learn: "Prevent data exfiltration in Azure Machine
    /// Learning"; "Configure inbound and outbound network traffic"; MCSB
    /// NS-3, DP-2. No peer computes reachability: Checkov and PSRule check
    /// single properties (e.g. CKV_AZURE_144 for node public IPs).
    pub struct EgressInternet {
        code: 301,
        name: "egress-internet",
        title: "Compute can send data to any internet host",
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

const FIX: &str = "deny outbound traffic to `Internet` in the compute subnet's NSG (below rules that allow the service tags AML needs) and send the rest through a firewall, or use a managed network in AllowOnlyApprovedOutbound mode";

impl Rule for EgressInternet {
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
        class_findings(&Self::META, Class::Internet, m, paths, FIX, out);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::paths::fixtures::*;
    use crate::testing::run;

    #[test]
    fn default_rules_and_a_public_ip_open_the_internet() {
        let f = run(&EgressInternet, &network(&[], Some(GUIDE_POLICY), true));
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].rule.code, 301);
        assert!(
            f[0].flow
                .iter()
                .any(|s| s.message.contains("AllowInternetOutBound")),
            "{:#?}",
            f[0].flow
        );
        assert!(!f[0].fix.is_empty());
    }

    #[test]
    fn the_guides_rules_close_it() {
        assert!(
            run(
                &EgressInternet,
                &network(&guide_rules(), Some(GUIDE_POLICY), false)
            )
            .is_empty()
        );
    }
}
