use amlguard_model::Model;

use super::util::{Type, computes, in_subnet, parent_managed_network, type_unknown};
use crate::workspace::util::{Tri, at_of, possible};
use crate::{Finding, Rule, declare_rule};

declare_rule! {
    /// ## What it checks
    /// A compute cluster (`AmlCompute`) or compute instance (`ComputeInstance`) that
    /// is in no network: `properties.properties.subnet.id` is absent or empty **and**
    /// its workspace has no managed network (`managedNetwork.isolationMode` absent or
    /// `Disabled`; absent means `Disabled`). When the workspace is not deployed by the
    /// input (missing or `existing`), its managed network is not known: the finding
    /// has confidence low and says so.
    ///
    /// ## Why it matters
    /// Compute without a subnet or managed network runs in Azure's shared network
    /// with a public IP and unrestricted egress: nothing filters where a job sends
    /// data, and nothing of the workspace's private endpoints is reachable. Both of
    /// Microsoft's exfiltration controls (customer VNet with service endpoint policies,
    /// or a managed network that allows only approved outbound) need one of the two.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.MachineLearningServices/workspaces/computes",
    ///  "properties": {"computeType": "AmlCompute", "properties": {"vmSize": "STANDARD_DS3_V2"}}}
    /// ```
    /// (in a workspace without `managedNetwork`)
    ///
    /// ## Fix
    /// ARM: `"subnet": {"id": "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', 'training')]"}`
    /// in the compute's inner `properties`, or `"managedNetwork": {"isolationMode": "AllowOnlyApprovedOutbound"}`
    /// on the workspace (then leave `subnet` out: the two cannot be combined).
    /// Bicep: `subnet: { id: trainingSubnet.id }`.
    /// Terraform: `subnet_resource_id = azurerm_subnet.training.id`, or
    /// `managed_network { isolation_mode = "AllowOnlyApprovedOutbound" }` on the workspace.
    ///
    /// ## References
    /// Azure Policy 7804b5c7-01dc-4723-969b-ae300cc07ff1 (computes should be in a virtual network);
    /// MCSB NS-1; PSRule Azure.ML.ComputeVnet; AzTS Azure_MachineLearningWorkspace_Netsec_Configure_VNet;
    /// ALZ Deny-MachineLearning-Compute-SubnetId. The policy and the peers require
    /// `subnet.id` whatever the workspace, so they flag every compute of a workspace
    /// with a managed network, where a subnet is not even allowed; amlguard accepts
    /// the managed network.
    pub struct ComputeOutsideNetwork {
        code: 204,
        name: "compute-outside-network",
        title: "The compute is in neither a subnet nor a managed network",
        severity: Medium,
        confidence: High,
        category: Compute,
        references: [
            "Azure Policy 7804b5c7-01dc-4723-969b-ae300cc07ff1",
            "MCSB NS-1",
            "PSRule Azure.ML.ComputeVnet",
            "AzTS Azure_MachineLearningWorkspace_Netsec_Configure_VNet",
            "ALZ Deny-MachineLearning-Compute-SubnetId",
        ],
    }
}

impl Rule for ComputeOutsideNetwork {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        let fix = "put the compute in a subnet (properties.properties.subnet.id) or give its workspace a managed network (managedNetwork.isolationMode 'AllowOnlyApprovedOutbound')";
        for c in computes(m) {
            if c.is(&[Type::Cluster, Type::Instance]) == Tri::No {
                continue;
            }
            let before = out.len();
            let (subnet, f) = in_subnet(c.r);
            let (managed, ws) = parent_managed_network(m, c.r);
            let message = format!(
                "{} '{}' has no subnet and its workspace has no managed network: its egress is unrestricted",
                c.label(),
                c.name()
            );
            let related = ws.map(|w| {
                let at = w
                    .get("properties.managedNetwork.isolationMode")
                    .at()
                    .cloned()
                    .unwrap_or_else(|| w.prov.clone());
                (
                    at,
                    format!("workspace '{}': no managed network", w.display_name()),
                )
            });
            let mut finding = match subnet.negate().and(managed.negate()) {
                Tri::No => continue,
                Tri::Yes => Finding::new(&Self::META, c.r, message)
                    .at_field(&f)
                    .with_fix(fix),
                Tri::Maybe(input) => possible(
                    &Self::META,
                    c.r,
                    at_of(c.r, &f),
                    &message,
                    fix,
                    input,
                    "a value is not known offline",
                ),
            };
            if let Some((at, msg)) = related {
                finding = finding.related(at, msg);
            }
            out.push(finding);
            type_unknown(out, before, &c);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::Confidence;
    use crate::compute::util::fixtures::{SUBNET, VNET, compute, workspace};
    use crate::testing::{route, run, template};

    fn check(resources: &str) -> Vec<Finding> {
        run(
            &ComputeOutsideNetwork,
            &template(
                r#""subnetId": {"type": "string"}, "wsName": {"type": "string"}"#,
                resources,
            ),
        )
    }

    #[test]
    fn no_subnet_no_managed_network_fails() {
        let f = check(&format!(
            "{}, {}",
            workspace("{}"),
            compute("AmlCompute", "{}")
        ));
        assert_eq!(f.len(), 1);
        assert!(f[0].absent);
        assert_eq!(f[0].confidence, Confidence::High);
        assert_eq!(route(&f[0]), "resources[1].properties.properties");
        assert_eq!(
            f[0].related[0].at.route.to_string(),
            "resources[0].properties"
        );
    }

    #[test]
    fn empty_subnet_id_fails() {
        let c = compute("ComputeInstance", r#"{"subnet": {"id": ""}}"#);
        let f = check(&format!("{}, {c}", workspace("{}")));
        assert_eq!(f.len(), 1);
        assert_eq!(route(&f[0]), "resources[1].properties.properties.subnet.id");
    }

    #[test]
    fn subnet_or_managed_network_passes() {
        let c = compute("AmlCompute", &format!("{{{SUBNET}}}"));
        assert!(check(&format!("{}, {VNET}, {c}", workspace("{}"))).is_empty());
        let ws = workspace(r#"{"managedNetwork": {"isolationMode": "AllowInternetOutbound"}}"#);
        assert!(check(&format!("{ws}, {}", compute("AmlCompute", "{}"))).is_empty());
        let ws = workspace(r#"{"managedNetwork": {"isolationMode": "Disabled"}}"#);
        assert_eq!(
            check(&format!("{ws}, {}", compute("AmlCompute", "{}"))).len(),
            1
        );
    }

    #[test]
    fn workspace_outside_the_input_gives_low_confidence() {
        let f = check(&compute("AmlCompute", "{}"));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert!(
            f[0].deciding_input
                .as_deref()
                .unwrap()
                .contains("workspace 'ws'")
        );
    }

    #[test]
    fn unknown_compute_name_names_the_parameter() {
        let ws = workspace("{}").replace(r#""name": "ws""#, r#""name": "[parameters('wsName')]""#);
        let c = compute("AmlCompute", "{}").replace(
            r#""name": "ws/c1""#,
            r#""name": "[concat(parameters('wsName'), '/c1')]""#,
        );
        let f = check(&format!("{ws}, {c}"));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'wsName'"));
    }

    #[test]
    fn unknown_subnet_reports_low_confidence_with_the_deciding_parameter() {
        let c = compute(
            "AmlCompute",
            r#"{"subnet": {"id": "[parameters('subnetId')]"}}"#,
        );
        let f = check(&format!("{}, {c}", workspace("{}")));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'subnetId'"));
    }
}
