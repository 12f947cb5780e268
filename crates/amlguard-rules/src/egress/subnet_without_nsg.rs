use amlguard_model::{Model, Tree};

use super::util::{SubnetRef, compute_subnets};
use crate::{Finding, Rule, check_field, declare_rule, report};

declare_rule! {
    /// ## What it checks
    /// A subnet that compute runs in (a compute's
    /// `properties.properties.subnet.id`, or a workspace's
    /// `properties.serverlessComputeSettings.serverlessComputeCustomSubnet`)
    /// without a network security group: `properties.networkSecurityGroup.id`
    /// absent or empty. Absent means no NSG, so every flow is allowed. A
    /// compute subnet whose ID is not known offline, or that the scanned input
    /// does not declare, gives a low-confidence finding.
    ///
    /// ## Why it matters
    /// The subnet's NSG is where outbound traffic from compute instances and
    /// clusters is limited to the service tags AML needs (Microsoft's guidance
    /// lists `AzureMachineLearning`, `BatchNodeManagement.<region>`,
    /// `Storage.<region>` and a few more) and everything else is denied. With
    /// no NSG, nothing on the subnet restricts where compute may connect, and
    /// inbound traffic reaches public-IP nodes unfiltered by the customer.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"name": "training", "properties": {"addressPrefix": "10.0.1.0/24"}}
    /// ```
    ///
    /// ## Fix
    /// ARM: `"networkSecurityGroup": {"id": "[resourceId('Microsoft.Network/networkSecurityGroups', 'nsg-training')]"}`
    /// in the subnet's `properties`, with outbound rules that allow the AML
    /// service tags and deny the rest.
    /// Bicep: `networkSecurityGroup: { id: nsg.id }`.
    /// Terraform: `azurerm_subnet_network_security_group_association`.
    ///
    /// ## References
    /// MCSB NS-1; PSRule Azure.VNET.UseNSGs; Checkov CKV2_AZURE_31; Prowler
    /// network_subnet_nsg_associated. amlguard judges only the subnets compute
    /// runs in, whether the subnet is declared inside its virtual network or
    /// as a resource of its own (PSRule has reported false results when
    /// subnets are declared separately).
    pub struct SubnetWithoutNsg {
        code: 309,
        name: "subnet-without-nsg",
        title: "A compute subnet has no network security group",
        severity: Medium,
        confidence: High,
        category: Egress,
        references: [
            "MCSB NS-1",
            "PSRule Azure.VNET.UseNSGs",
            "Checkov CKV2_AZURE_31",
            "Prowler network_subnet_nsg_associated",
        ],
    }
}

const FIX: &str = "attach a network security group to the subnet (properties.networkSecurityGroup.id) whose outbound rules allow the service tags AML needs and deny everything else";

impl Rule for SubnetWithoutNsg {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        for cs in compute_subnets(m) {
            let SubnetRef::Declared(subnet) = cs.subnet else {
                out.extend(cs.undecided(&Self::META, "network security group", FIX));
                continue;
            };
            let nsg = check_field(
                subnet.get("properties.networkSecurityGroup.id"),
                true,
                |t: &Tree| t.as_str().is_none_or(|s| s.trim().is_empty()),
            );
            let mut found = Vec::new();
            report(
                &mut found,
                &Self::META,
                subnet,
                nsg,
                format!(
                    "subnet '{}' has no network security group: nothing on it restricts the traffic of {}",
                    subnet.display_name(),
                    cs.user_labels()
                ),
                FIX,
            );
            out.extend(found.into_iter().map(|f| cs.relate(f)));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::Confidence;
    use crate::egress::fixtures::*;
    use crate::testing::{route, run, template};

    fn t(resources: &[String]) -> String {
        template(r#""nsg": {"type": "string"}"#, &resources.join(", "))
    }

    #[test]
    fn absent_nsg_fails_at_the_subnet_properties() {
        let f = run(
            &SubnetWithoutNsg,
            &t(&[
                vnet(r#"{"addressPrefix": "10.0.0.0/24"}"#),
                workspace_with(""),
                cluster_in_snet(),
            ]),
        );
        assert_eq!(f.len(), 1);
        assert!(f[0].absent);
        assert_eq!(
            route(&f[0]),
            "resources[0].properties.subnets[0].properties"
        );
        assert_eq!(f[0].related.len(), 1);
    }

    #[test]
    fn empty_id_fails_at_the_id() {
        let f = run(
            &SubnetWithoutNsg,
            &t(&[
                subnet(
                    "snet",
                    "2024-01-01",
                    r#"{"networkSecurityGroup": {"id": ""}}"#,
                ),
                cluster_in_snet(),
            ]),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(
            route(&f[0]),
            "resources[0].properties.networkSecurityGroup.id"
        );
    }

    #[test]
    fn nsg_passes_and_subnet_without_compute_is_ignored() {
        assert!(
            run(
                &SubnetWithoutNsg,
                &t(&[vnet(GOOD_SUBNET), cluster_in_snet()])
            )
            .is_empty()
        );
        assert!(run(&SubnetWithoutNsg, &t(&[vnet("{}")])).is_empty());
    }

    #[test]
    fn unknown_nsg_is_low_confidence() {
        let f = run(
            &SubnetWithoutNsg,
            &t(&[
                vnet(r#"{"networkSecurityGroup": {"id": "[parameters('nsg')]"}}"#),
                cluster_in_snet(),
            ]),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'nsg'"));
    }
}
