use amlguard_model::{Field, Model};

use crate::egress::util::{
    AttachedPolicy, SubnetRef, attached_policies, compute_subnets, deciding_input, is_aml_alias,
    policy_entries, undecided,
};
use crate::{Finding, Rule, declare_rule};

declare_rule! {
    /// ## What it checks
    /// The service endpoint policies attached to a subnet that compute runs in
    /// (a compute's `properties.properties.subnet.id`, or a workspace's
    /// `properties.serverlessComputeSettings.serverlessComputeCustomSubnet`):
    /// none of their definitions lists the alias `/services/Azure/MachineLearning`
    /// in `serviceResources`. Several policies on one subnet allow the union of
    /// their entries, so the alias in any of them is enough; the umbrella alias
    /// `/services/Azure` is accepted too. A subnet without any policy is not
    /// this rule's (AMLG307). A policy or entry not known offline, or a
    /// policy the input does not declare, gives a low-confidence finding.
    ///
    /// ## Why it matters
    /// Compute instances and clusters are provisioned by Azure Batch, which
    /// reads from storage accounts in Microsoft's own subscriptions. Once a
    /// service endpoint policy is attached, every storage account it does not
    /// list is refused, including those. The alias `/services/Azure/MachineLearning`
    /// is how a policy admits them; without it, compute in the subnet cannot
    /// be created or scaled up. The Azure CLI and PowerShell cannot add an
    /// alias, so policies built with them often lack it.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"serviceEndpointPolicyDefinitions": [{"name": "storage", "properties": {
    ///   "service": "Microsoft.Storage", "serviceResources": ["<workspace storage ID>"]}}]}
    /// ```
    ///
    /// ## Fix
    /// ARM: add a definition `{"name": "azureml", "properties": {"service": "Global",
    /// "serviceResources": ["/services/Azure/MachineLearning"]}}` to the policy's
    /// `serviceEndpointPolicyDefinitions`.
    /// Bicep: the same object in `serviceEndpointPolicyDefinitions`.
    /// Terraform (`azurerm_subnet_service_endpoint_storage_policy`):
    /// `definition { name = "azureml", service = "Global", service_resources = ["/services/Azure/MachineLearning"] }`.
    ///
    /// ## References
    /// No Azure Policy definition and no MCSB control (a functional
    /// dependency of Microsoft's exfiltration guidance). No peer checks
    /// whether a lockdown breaks compute provisioning.
    pub struct ServiceEndpointPolicyMissingAmlAlias {
        code: 402,
        name: "service-endpoint-policy-missing-aml-alias",
        title: "A compute subnet's service endpoint policy lacks the Azure Machine Learning alias",
        severity: High,
        confidence: High,
        category: Dependency,
        references: [],
    }
}

const FIX: &str = "add a definition with service 'Global' and serviceResources ['/services/Azure/MachineLearning'] to the service endpoint policy";

impl Rule for ServiceEndpointPolicyMissingAmlAlias {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        let meta = &Self::META;
        // One finding per policy set; later subnets with the same set add related locations.
        let mut found: Vec<(Vec<String>, Finding)> = Vec::new();
        for cs in compute_subnets(m) {
            let SubnetRef::Declared(subnet) = cs.subnet else {
                continue;
            };
            let sname = subnet.display_name();
            let policies = match attached_policies(m, subnet) {
                Ok(p) => p,
                Err(f) => {
                    let msg = format!(
                        "the service endpoint policies of subnet '{sname}' are not known offline and may lack the alias /services/Azure/MachineLearning"
                    );
                    out.push(cs.relate(undecided(meta, subnet, &f, &msg, FIX, deciding_input(&f))));
                    continue;
                }
            };
            if policies.is_empty() {
                continue;
            }
            let mut has_alias = false;
            let mut unknown: Option<(Field<'_>, Option<String>)> = None;
            let mut declared = Vec::new();
            for p in &policies {
                match p {
                    AttachedPolicy::Declared(policy, at) => {
                        declared.push(*policy);
                        match policy_entries(m, policy) {
                            Ok(entries) => {
                                has_alias |= entries.iter().any(|e| is_aml_alias(e.value));
                            }
                            Err(input) => {
                                unknown.get_or_insert((at.clone(), input));
                            }
                        }
                    }
                    AttachedPolicy::Outside(id, at) => {
                        unknown.get_or_insert((
                            at.clone(),
                            Some(format!("the service endpoint policy '{}' (not declared in the scanned input)", crate::egress::util::id_name(id))),
                        ));
                    }
                    AttachedPolicy::Unknown(at) => {
                        unknown.get_or_insert((at.clone(), deciding_input(at)));
                    }
                }
            }
            if has_alias {
                continue;
            }
            let names: Vec<String> = declared
                .iter()
                .map(|p| format!("'{}'", p.display_name()))
                .collect();
            let msg = format!(
                "the service endpoint policy {} on subnet '{sname}' does not admit /services/Azure/MachineLearning: {} cannot be provisioned",
                if names.is_empty() {
                    "set".to_string()
                } else {
                    names.join(", ")
                },
                cs.user_labels()
            );
            let finding = match (&unknown, declared.first()) {
                (None, Some(policy)) => {
                    let defs = policy.get("properties.serviceEndpointPolicyDefinitions");
                    let mut f = Finding::new(meta, policy, msg)
                        .at_field(&defs)
                        .with_fix(FIX);
                    for other in declared.iter().skip(1) {
                        f = f.related(other.prov.clone(), "another policy on the same subnet");
                    }
                    f
                }
                (Some((at, input)), _) => undecided(meta, subnet, at, &msg, FIX, input.clone()),
                (None, None) => continue,
            };
            let finding = match subnet.get("properties.serviceEndpointPolicies").at() {
                Some(p) if unknown.is_none() => {
                    finding.related(p.clone(), format!("attached to subnet '{sname}'"))
                }
                _ => finding,
            };
            let finding = cs.relate(finding);
            let mut key: Vec<String> = declared
                .iter()
                .filter_map(|p| p.id.as_deref().map(str::to_ascii_lowercase))
                .collect();
            key.sort();
            match found
                .iter_mut()
                .find(|(k, _)| unknown.is_none() && !k.is_empty() && *k == key)
            {
                Some((_, f)) => f.related.extend(finding.related),
                None => found.push((key, finding)),
            }
        }
        out.extend(found.into_iter().map(|(_, f)| f));
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
        template(
            r#""alias": {"type": "string"}, "sepId": {"type": "string"}"#,
            &resources.join(", "),
        )
    }

    fn storage_only_sep() -> String {
        sep(&def("storage", "Microsoft.Storage", &format!(r#""{ST}""#)))
    }

    #[test]
    fn policy_without_alias_fails_at_its_definitions() {
        let f = run(
            &ServiceEndpointPolicyMissingAmlAlias,
            &t(&[
                vnet(GOOD_SUBNET),
                storage_only_sep(),
                workspace_with(""),
                cluster_in_snet(),
            ]),
        );
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(
            route(&f[0]),
            "resources[1].properties.serviceEndpointPolicyDefinitions"
        );
        assert_eq!(f[0].confidence, Confidence::High);
        assert!(f[0].message.contains("cannot be provisioned"));
    }

    #[test]
    fn alias_in_any_attached_policy_passes() {
        assert!(
            run(
                &ServiceEndpointPolicyMissingAmlAlias,
                &t(&[vnet(GOOD_SUBNET), good_sep(), cluster_in_snet()]),
            )
            .is_empty()
        );
        // The alias in a second policy on the same subnet (union semantics).
        let subnet = r#"{"serviceEndpoints": [{"service": "Microsoft.Storage"}], "serviceEndpointPolicies": [
            {"id": "[resourceId('Microsoft.Network/serviceEndpointPolicies', 'sep')]"},
            {"id": "[resourceId('Microsoft.Network/serviceEndpointPolicies', 'sep2')]"}]}"#;
        let sep2 = r#"{"type": "Microsoft.Network/serviceEndpointPolicies", "apiVersion": "2024-01-01", "name": "sep2", "location": "eastus",
            "properties": {"serviceEndpointPolicyDefinitions": [{"name": "aml", "properties": {"service": "Global", "serviceResources": ["/services/Azure/MachineLearning"]}}]}}"#;
        assert!(
            run(
                &ServiceEndpointPolicyMissingAmlAlias,
                &t(&[
                    vnet(subnet),
                    storage_only_sep(),
                    sep2.to_string(),
                    cluster_in_snet()
                ]),
            )
            .is_empty()
        );
    }

    #[test]
    fn absent_policies_are_not_this_rule() {
        assert!(
            run(
                &ServiceEndpointPolicyMissingAmlAlias,
                &t(&[
                    vnet(r#"{"serviceEndpoints": [{"service": "Microsoft.Storage"}]}"#),
                    cluster_in_snet()
                ]),
            )
            .is_empty()
        );
        // A policy with no definitions at all lacks the alias.
        let f = run(
            &ServiceEndpointPolicyMissingAmlAlias,
            &t(&[vnet(GOOD_SUBNET), sep(""), cluster_in_snet()]),
        );
        assert_eq!(f.len(), 1);
    }

    #[test]
    fn unknown_entries_are_low_confidence() {
        let f = run(
            &ServiceEndpointPolicyMissingAmlAlias,
            &t(&[
                vnet(GOOD_SUBNET),
                sep(&def("aml", "Global", r#""[parameters('alias')]""#)),
                cluster_in_snet(),
            ]),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'alias'"));
    }

    #[test]
    fn policy_outside_the_input_is_low_confidence() {
        let subnet = r#"{"serviceEndpoints": [{"service": "Microsoft.Storage"}], "serviceEndpointPolicies": [{"id": "[parameters('sepId')]"}]}"#;
        let f = run(
            &ServiceEndpointPolicyMissingAmlAlias,
            &t(&[vnet(subnet), cluster_in_snet()]),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'sepId'"));
    }
}
