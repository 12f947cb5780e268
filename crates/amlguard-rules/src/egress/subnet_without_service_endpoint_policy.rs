use amlguard_model::{Field, Model};

use super::util::{
    ManagedMode, SubnetRef, attached_policies, compute_subnets, deciding_input, managed_mode,
    storage_endpoint, undecided,
};
use crate::{Confidence, Finding, Rule, declare_rule};

declare_rule! {
    /// ## What it checks
    /// A subnet that compute runs in (a compute's
    /// `properties.properties.subnet.id`, or a workspace's
    /// `properties.serverlessComputeSettings.serverlessComputeCustomSubnet`)
    /// and that has no service endpoint policy
    /// (`properties.serviceEndpointPolicies` absent or empty) although its
    /// `properties.serviceEndpoints` include `Microsoft.Storage` or
    /// `Microsoft.Storage.Global`. A compute subnet with neither a storage
    /// endpoint nor a policy is reported too, with confidence medium, when its
    /// workspace has no managed network: its storage traffic then takes the
    /// internet path, and whether any storage account is reachable depends on
    /// the NSG, routes and firewall (which the network engine judges).
    /// Absent `serviceEndpoints` and `serviceEndpointPolicies` mean none.
    /// A compute subnet whose ID is not known offline, or that the scanned
    /// input does not declare, gives a low-confidence finding.
    ///
    /// ## Why it matters
    /// Compute instances and clusters must reach Azure Storage, and the
    /// `Storage` service tag that an NSG allows for them covers every storage
    /// account in the region, including one the insider creates. A service
    /// endpoint without a policy lets the subnet reach any storage account
    /// over the Microsoft backbone. Microsoft's data exfiltration guidance
    /// attaches a service endpoint policy that lists only the workspace's
    /// accounts and the `/services/Azure/MachineLearning` alias; every other
    /// account is then refused.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"name": "training", "properties": {"addressPrefix": "10.0.1.0/24",
    ///   "serviceEndpoints": [{"service": "Microsoft.Storage"}]}}
    /// ```
    ///
    /// ## Fix
    /// ARM: on the subnet, `"serviceEndpoints": [{"service": "Microsoft.Storage"}]` and
    /// `"serviceEndpointPolicies": [{"id": "[resourceId('Microsoft.Network/serviceEndpointPolicies', 'aml-sep')]"}]`,
    /// the policy listing the workspace's storage account IDs (service
    /// `Microsoft.Storage`) and the alias `/services/Azure/MachineLearning`
    /// (service `Global`).
    /// Bicep: `serviceEndpointPolicies: [ { id: sep.id } ]` on the subnet.
    /// Terraform: `service_endpoint_policy_ids = [azurerm_subnet_service_endpoint_storage_policy.aml.id]`
    /// on `azurerm_subnet`.
    ///
    /// ## References
    /// No Azure Policy definition mentions service endpoint policies; MCSB
    /// NS-2, DP-2. No peer checks them (PSRule, Checkov, Trivy, Prowler and
    /// Azure Policy all lack the check), although Microsoft's exfiltration
    /// guidance rests on them.
    pub struct SubnetWithoutServiceEndpointPolicy {
        code: 307,
        name: "subnet-without-service-endpoint-policy",
        title: "A compute subnet reaches Azure Storage without a service endpoint policy",
        severity: High,
        confidence: High,
        category: Egress,
        references: ["MCSB NS-2", "MCSB DP-2"],
    }
}

const FIX: &str = "enable the Microsoft.Storage service endpoint on the subnet and attach a service endpoint policy that lists the workspace's storage accounts and the alias /services/Azure/MachineLearning";

impl Rule for SubnetWithoutServiceEndpointPolicy {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        let meta = &Self::META;
        for cs in compute_subnets(m) {
            let SubnetRef::Declared(subnet) = cs.subnet else {
                out.extend(cs.undecided(meta, "service endpoint policy", FIX));
                continue;
            };
            let sname = subnet.display_name();
            let policies = match attached_policies(m, subnet) {
                Ok(p) => p,
                Err(f) => {
                    let msg = format!("subnet '{sname}' may have no service endpoint policy");
                    out.push(cs.relate(undecided(meta, subnet, &f, &msg, FIX, deciding_input(&f))));
                    continue;
                }
            };
            if !policies.is_empty() {
                continue;
            }
            let at = subnet.get("properties.serviceEndpointPolicies");
            match storage_endpoint(subnet) {
                Ok(Some(ep)) => {
                    let f = Finding::new(
                        meta,
                        subnet,
                        format!(
                            "subnet '{sname}' has a storage service endpoint but no service endpoint policy: {} can reach any storage account",
                            cs.user_labels()
                        ),
                    )
                    .at_field(&at)
                    .with_fix(FIX);
                    let f = match ep.at() {
                        Some(p) => f.related(p.clone(), "the storage service endpoint"),
                        None => f,
                    };
                    out.push(cs.relate(f));
                }
                Ok(None) => {
                    // A workspace known to have no managed network (or compute
                    // whose workspace is not in the input) decides it; otherwise
                    // an unknown mode leaves it open.
                    let wss = cs.workspaces();
                    let mut off = wss.is_empty();
                    let mut unknown_mode: Option<Field<'_>> = None;
                    for ws in &wss {
                        match managed_mode(ws) {
                            ManagedMode::Unknown(f) => unknown_mode = Some(f),
                            m if m.is_on() => {}
                            _ => off = true,
                        }
                    }
                    let msg = format!(
                        "subnet '{sname}' has neither a storage service endpoint nor a service endpoint policy: storage traffic of {} takes the internet path, unfiltered by any policy",
                        cs.user_labels()
                    );
                    let f = match (&unknown_mode, off) {
                        (_, true) => {
                            let mut f = Finding::new(meta, subnet, msg).at_field(&at).with_fix(FIX);
                            f.confidence = Confidence::Medium;
                            f
                        }
                        (Some(mf), false) => {
                            undecided(meta, subnet, &at, &msg, FIX, deciding_input(mf))
                        }
                        (None, false) => continue,
                    };
                    out.push(cs.relate(f));
                }
                Err(input) => {
                    let msg = format!(
                        "subnet '{sname}' has no service endpoint policy and its service endpoints are not known offline"
                    );
                    let ep = subnet.get("properties.serviceEndpoints");
                    out.push(cs.relate(undecided(meta, subnet, &ep, &msg, FIX, input)));
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::egress::fixtures::*;
    use crate::testing::{route, run, template};

    fn t(resources: &[String]) -> String {
        template(
            r#""subnetId": {"type": "string"}, "svc": {"type": "string"}"#,
            &resources.join(", "),
        )
    }

    #[test]
    fn storage_endpoint_without_policy_fails() {
        let f = run(
            &SubnetWithoutServiceEndpointPolicy,
            &t(&[
                vnet(
                    r#"{"addressPrefix": "10.0.0.0/24", "serviceEndpoints": [{"service": "Microsoft.Storage"}]}"#,
                ),
                workspace_with(""),
                cluster_in_snet(),
            ]),
        );
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].absent);
        assert_eq!(
            route(&f[0]),
            "resources[0].properties.subnets[0].properties"
        );
        assert_eq!(f[0].confidence, Confidence::High);
        assert_eq!(f[0].related.len(), 2);
        assert_eq!(
            f[0].related[0].at.route.to_string(),
            "resources[0].properties.subnets[0].properties.serviceEndpoints[0].service"
        );
    }

    #[test]
    fn empty_policy_list_on_a_separate_subnet_fails_at_the_list() {
        let f = run(
            &SubnetWithoutServiceEndpointPolicy,
            &t(&[
                subnet(
                    "snet",
                    "2024-01-01",
                    r#"{"addressPrefix": "10.0.0.0/24", "serviceEndpoints": [{"service": "Microsoft.Storage.Global"}], "serviceEndpointPolicies": []}"#,
                ),
                workspace_with(""),
                cluster_in_snet(),
            ]),
        );
        assert_eq!(f.len(), 1);
        assert!(!f[0].absent);
        assert_eq!(
            route(&f[0]),
            "resources[0].properties.serviceEndpointPolicies"
        );
    }

    #[test]
    fn subnet_with_policy_passes_and_unused_subnet_is_ignored() {
        assert!(
            run(
                &SubnetWithoutServiceEndpointPolicy,
                &t(&[
                    vnet(GOOD_SUBNET),
                    good_sep(),
                    workspace_with(""),
                    cluster_in_snet()
                ]),
            )
            .is_empty()
        );
        // No compute in the subnet: not a compute subnet.
        assert!(
            run(
                &SubnetWithoutServiceEndpointPolicy,
                &t(&[
                    vnet(r#"{"serviceEndpoints": [{"service": "Microsoft.Storage"}]}"#),
                    workspace_with("")
                ]),
            )
            .is_empty()
        );
    }

    #[test]
    fn absent_endpoints_and_policies_are_medium_confidence() {
        let f = run(
            &SubnetWithoutServiceEndpointPolicy,
            &t(&[
                vnet(r#"{"addressPrefix": "10.0.0.0/24"}"#),
                workspace_with(""),
                cluster_in_snet(),
            ]),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Medium);
        assert!(f[0].message.contains("internet path"));
    }

    #[test]
    fn serverless_subnet_counts() {
        let f = run(
            &SubnetWithoutServiceEndpointPolicy,
            &t(&[
                vnet(r#"{"serviceEndpoints": [{"service": "Microsoft.Storage"}]}"#),
                workspace_with(&format!(
                    r#""serverlessComputeSettings": {{"serverlessComputeCustomSubnet": "{SNET}", "serverlessComputeNoPublicIP": true}}"#
                )),
            ]),
        );
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("serverless compute"));
    }

    #[test]
    fn unknown_subnet_or_endpoints_are_low_confidence() {
        let f = run(
            &SubnetWithoutServiceEndpointPolicy,
            &t(&[
                vnet(r#"{"serviceEndpoints": [{"service": "Microsoft.Storage"}]}"#),
                workspace_with(""),
                compute(
                    "cpu",
                    "AmlCompute",
                    r#"{"subnet": {"id": "[parameters('subnetId')]"}}"#,
                ),
            ]),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'subnetId'"));
        assert_eq!(route(&f[0]), "resources[2].properties.properties.subnet.id");

        let f = run(
            &SubnetWithoutServiceEndpointPolicy,
            &t(&[
                vnet(r#"{"serviceEndpoints": [{"service": "[parameters('svc')]"}]}"#),
                workspace_with(""),
                cluster_in_snet(),
            ]),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'svc'"));
    }

    #[test]
    fn subnet_outside_the_input_is_low_confidence() {
        let f = run(
            &SubnetWithoutServiceEndpointPolicy,
            &t(&[
                workspace_with(""),
                compute(
                    "cpu",
                    "AmlCompute",
                    r#"{"subnet": {"id": "/subscriptions/1/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/hub/subnets/ml"}}"#,
                ),
            ]),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert!(f[0].deciding_input.as_deref().unwrap().contains("hub/ml"));
    }
}
