use amlguard_model::Model;
use amlguard_net::engine::Class;

use crate::paths::{Paths, class_findings};
use crate::{Finding, Rule, declare_rule};

declare_rule! {
    /// ## What it checks
    /// Runs the network engine for every compute and reports those that can
    /// write to a storage account an insider creates: storage traffic (the
    /// `Storage` service tag, TCP 80/443/445) that the subnet's NSG lets out
    /// and that either goes over a `Microsoft.Storage` service endpoint with
    /// no service endpoint policy (or one that admits whole subscriptions or
    /// resource groups), or reaches storage outside the endpoint's regions
    /// through the internet, or passes a firewall rule such as
    /// `*.blob.core.windows.net`; and managed networks whose outbound rules
    /// open storage. Addresses of the tags Microsoft calls not writable
    /// (Entra ID, Resource Manager, Azure Machine Learning, Batch, Microsoft
    /// Container Registry) never count. The finding shows the chain of
    /// settings.
    ///
    /// ## Why it matters
    /// AML compute needs outbound storage access, and anyone can create a
    /// storage account of their own: without a service endpoint policy the
    /// same path carries data to it. Microsoft's guidance attaches a policy
    /// listing the team's accounts and the alias
    /// `/services/Azure/MachineLearning` to the compute subnet.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"name": "training", "properties": {"addressPrefix": "10.0.1.0/24",
    ///   "serviceEndpoints": [{"service": "Microsoft.Storage"}]}}
    /// ```
    ///
    /// ## Fix
    /// ARM: a `Microsoft.Network/serviceEndpointPolicies` resource with a
    /// `Microsoft.Storage` definition listing the workspace's storage account
    /// ID and a `Global` definition listing `/services/Azure/MachineLearning`,
    /// attached in the subnet's `serviceEndpointPolicies`; outbound NSG rules
    /// for `Storage.<region>` rather than `Storage`.
    /// Bicep: the same resource and `serviceEndpointPolicies: [{ id: sep.id }]`
    /// on the subnet.
    /// Terraform: `azurerm_subnet_service_endpoint_storage_policy` with
    /// `definition { service = "Microsoft.Storage" … }` and
    /// `definition { service = "Global", service_resources = ["/services/Azure/MachineLearning"] }`,
    /// and `service_endpoint_policy_ids` on `azurerm_subnet`.
    ///
    /// ## References
    /// Microsoft Learn: "Prevent data exfiltration in Azure Machine
    /// Learning" (service endpoint policy with the AML alias); "Virtual
    /// network service endpoint policies for Azure Storage"; MCSB DP-2,
    /// NS-3. No peer checks this path.
    pub struct EgressAnyStorageAccount {
        code: 302,
        name: "egress-any-storage-account",
        title: "Compute can send data to any storage account",
        severity: High,
        confidence: High,
        category: Egress,
        references: [
            "MCSB DP-2",
            "MCSB NS-3",
            "Microsoft Learn: how-to-prevent-data-loss-exfiltration",
        ],
    }
}

const FIX: &str = "attach a service endpoint policy that lists the workspace's storage accounts and the alias /services/Azure/MachineLearning to the compute subnet, and allow only Storage.<region> outbound";

impl Rule for EgressAnyStorageAccount {
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
        class_findings(&Self::META, Class::Storage, m, paths, FIX, out);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::paths::fixtures::*;
    use crate::testing::run;

    #[test]
    fn an_endpoint_without_a_policy_opens_storage_and_the_fix_is_checked() {
        let f = run(
            &EgressAnyStorageAccount,
            &network(&guide_rules(), None, false),
        );
        assert_eq!(f.len(), 1, "{f:#?}");
        assert!(
            f[0].message.contains("any storage account"),
            "{}",
            f[0].message
        );
        assert!(
            f[0].fix.contains("/services/Azure/MachineLearning") && f[0].fix.contains("checked"),
            "{}",
            f[0].fix
        );
        assert!(
            f[0].flow
                .iter()
                .any(|s| s.message.contains("no service endpoint policy"))
        );
    }

    #[test]
    fn a_policy_with_the_own_account_and_the_alias_closes_it() {
        assert!(
            run(
                &EgressAnyStorageAccount,
                &network(&guide_rules(), Some(GUIDE_POLICY), false)
            )
            .is_empty()
        );
    }

    #[test]
    fn a_subscription_wide_policy_entry_leaves_it_possible() {
        let f = run(
            &EgressAnyStorageAccount,
            &network(
                &guide_rules(),
                Some(&["[subscription().id]", "/services/Azure/MachineLearning"]),
                false,
            ),
        );
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].confidence, crate::Confidence::Low);
        assert!(
            f[0].deciding_input
                .as_deref()
                .unwrap_or("")
                .contains("who can create storage accounts")
        );
    }
}
