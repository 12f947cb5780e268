use amlguard_model::{Model, Tree};

use super::util::{Type, computes, subnet_related, type_unknown};
use crate::workspace::util::{Tri, bool_of};
use crate::{Finding, Rule, check_field, declare_rule, report};

declare_rule! {
    /// ## What it checks
    /// A compute cluster (`AmlCompute`) or compute instance (`ComputeInstance`) whose
    /// nodes get public IP addresses: `properties.properties.enableNodePublicIp` is
    /// `true` or absent. Absent means `true`, the API's default for both types (and
    /// Terraform's `node_public_ip_enabled` also defaults to `true`).
    ///
    /// ## Why it matters
    /// A node with a public IP has its own way to the internet, so keeping data in
    /// rests entirely on the subnet's NSG rules and routes being right; a node
    /// without one can leave the network only through what the network provides
    /// (NAT gateway, firewall). The node is also reachable
    /// from outside: AML opens TCP 44224 from `AzureMachineLearning` through a load
    /// balancer it creates, and SSH when enabled (AMLG202). Microsoft's exfiltration
    /// guidance uses compute without public IPs.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.MachineLearningServices/workspaces/computes",
    ///  "properties": {"computeType": "AmlCompute", "properties": {"vmSize": "STANDARD_DS3_V2"}}}
    /// ```
    ///
    /// ## Fix
    /// ARM: `"enableNodePublicIp": false` in the compute's inner `properties`, with a
    /// `subnet` (or a workspace managed network) and a workspace private endpoint.
    /// Bicep: `enableNodePublicIp: false`.
    /// Terraform (`azurerm_machine_learning_compute_cluster` / `_compute_instance`):
    /// `node_public_ip_enabled = false` with `subnet_resource_id`.
    ///
    /// ## References
    /// MCSB NS-1. No peer checks this: Checkov has the check only for AKS node pools,
    /// PSRule and Azure Policy have no rule for it (prior-art gap (f) 2).
    pub struct ComputeNodePublicIp {
        code: 201,
        name: "compute-node-public-ip",
        title: "The compute's nodes have public IP addresses",
        severity: High,
        confidence: High,
        category: Compute,
        references: ["MCSB NS-1"],
    }
}

impl Rule for ComputeNodePublicIp {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        for c in computes(m) {
            if c.is(&[Type::Cluster, Type::Instance]) == Tri::No {
                continue;
            }
            let before = out.len();
            let check = check_field(
                c.r.get("properties.properties.enableNodePublicIp"),
                true,
                |t: &Tree| bool_of(t) != Some(false),
            );
            report(
                out,
                &Self::META,
                c.r,
                check,
                format!(
                    "{} '{}' gives its nodes public IP addresses (enableNodePublicIp is true or absent; the default is true)",
                    c.label(),
                    c.name()
                ),
                "set properties.properties.enableNodePublicIp to false; the compute then needs a subnet (or the workspace's managed network) and a workspace private endpoint",
            );
            if let Some((at, what)) = subnet_related(m, c.r) {
                for f in out.iter_mut().skip(before) {
                    f.related.push(crate::Related {
                        at: at.clone(),
                        message: format!("{what}: its outbound path"),
                    });
                }
            }
            type_unknown(out, before, &c);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::Confidence;
    use crate::compute::util::fixtures::{SUBNET, VNET, compute};
    use crate::testing::{route, run, template};

    fn check(resources: &str) -> Vec<Finding> {
        run(
            &ComputeNodePublicIp,
            &template(
                r#""pip": {"type": "bool"}, "ty": {"type": "string"}"#,
                resources,
            ),
        )
    }

    #[test]
    fn absent_means_public_ip() {
        let f = check(&compute("AmlCompute", "{}"));
        assert_eq!(f.len(), 1);
        assert!(f[0].absent);
        assert_eq!(route(&f[0]), "resources[0].properties.properties");
        assert!(f[0].message.contains("compute cluster 'ws/c1'"));
    }

    #[test]
    fn true_fails_false_passes() {
        let f = check(&compute(
            "ComputeInstance",
            r#"{"enableNodePublicIp": true}"#,
        ));
        assert_eq!(f.len(), 1);
        assert_eq!(
            route(&f[0]),
            "resources[0].properties.properties.enableNodePublicIp"
        );
        assert!(check(&compute("AmlCompute", r#"{"enableNodePublicIp": false}"#)).is_empty());
    }

    #[test]
    fn other_compute_types_are_not_checked() {
        assert!(check(&compute("Kubernetes", "{}")).is_empty());
    }

    #[test]
    fn subnet_is_related() {
        let c = compute("AmlCompute", &format!("{{{SUBNET}}}"));
        let f = check(&format!("{VNET}, {c}"));
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0].related[0].at.route.to_string(),
            "resources[0].properties.subnets[0]"
        );
    }

    #[test]
    fn unknown_reports_low_confidence_with_the_deciding_parameter() {
        let f = check(&compute(
            "AmlCompute",
            r#"{"enableNodePublicIp": "[parameters('pip')]"}"#,
        ));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'pip'"));
    }

    #[test]
    fn unknown_compute_type_gives_low_confidence() {
        let f = check(&compute("[parameters('ty')]", "{}"));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'ty'"));
    }
}
