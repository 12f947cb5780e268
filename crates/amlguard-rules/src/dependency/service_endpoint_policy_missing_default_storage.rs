use amlguard_model::{Field, Model};

use crate::egress::util::{
    AttachedPolicy, PeLookup, SubnetRef, attached_policies, compute_subnets, deciding_input,
    entry_covers, id_name, policy_entries, private_endpoint_to, undecided,
};
use crate::{Finding, Rule, declare_rule};

declare_rule! {
    /// ## What it checks
    /// The service endpoint policies attached to a subnet that a workspace's
    /// compute runs in (a compute's `properties.properties.subnet.id`, or the
    /// workspace's `properties.serverlessComputeSettings.serverlessComputeCustomSubnet`):
    /// none of their `Microsoft.Storage` entries covers the workspace's default
    /// storage account (`properties.storageAccount`), either by its ID or by its
    /// resource group or subscription, and no private endpoint with group
    /// `blob` reaches that account. Several policies on one subnet allow the
    /// union of their entries. A subnet without any policy is not this rule's
    /// (AMLG307). A policy, entry, storage ID or private endpoint not known
    /// offline, or a policy the input does not declare, gives a
    /// low-confidence finding.
    ///
    /// ## Why it matters
    /// A service endpoint policy refuses every storage account it does not
    /// list, and the workspace's default storage holds job code, snapshots,
    /// outputs, logs and the default datastores. Compute that cannot reach it
    /// fails at the first job. Traffic to a storage private endpoint does not
    /// go through the service endpoint, so an account reached that way need
    /// not be listed (Microsoft's guidance says so explicitly).
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"serviceEndpointPolicyDefinitions": [{"name": "azureml", "properties": {
    ///   "service": "Global", "serviceResources": ["/services/Azure/MachineLearning"]}}]}
    /// ```
    ///
    /// ## Fix
    /// ARM: add `{"name": "storage", "properties": {"service": "Microsoft.Storage",
    /// "serviceResources": ["[resourceId('Microsoft.Storage/storageAccounts', 'mlstore')]"]}}`
    /// to `serviceEndpointPolicyDefinitions`, or give the account a `blob`
    /// private endpoint in the compute's network.
    /// Bicep: `serviceResources: [ storage.id ]` in a `Microsoft.Storage` definition.
    /// Terraform (`azurerm_subnet_service_endpoint_storage_policy`):
    /// `definition { service = "Microsoft.Storage", service_resources = [azurerm_storage_account.ml.id] }`.
    ///
    /// ## References
    /// No Azure Policy definition and no MCSB control (a functional
    /// dependency of Microsoft's exfiltration guidance). No peer checks it.
    pub struct ServiceEndpointPolicyMissingDefaultStorage {
        code: 403,
        name: "service-endpoint-policy-missing-default-storage",
        title: "A compute subnet's service endpoint policy refuses the workspace's default storage",
        severity: High,
        confidence: High,
        category: Dependency,
        references: [],
    }
}

const FIX: &str = "add the workspace's default storage account ID to a Microsoft.Storage definition of the service endpoint policy, or reach the account through a blob private endpoint";

impl Rule for ServiceEndpointPolicyMissingDefaultStorage {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        let meta = &Self::META;
        let mut seen: Vec<(String, String)> = Vec::new();
        for cs in compute_subnets(m) {
            let SubnetRef::Declared(subnet) = cs.subnet else {
                continue;
            };
            // An unknown policy list is reported by AMLG402.
            let Ok(policies) = attached_policies(m, subnet) else {
                continue;
            };
            if policies.is_empty() {
                continue;
            }
            let sname = subnet.display_name();
            // The union of the entries, and what keeps it undecided.
            let mut entries = Vec::new();
            let mut unknown: Option<(Field<'_>, Option<String>)> = None;
            let mut declared = Vec::new();
            for p in &policies {
                match p {
                    AttachedPolicy::Declared(policy, at) => {
                        declared.push(*policy);
                        match policy_entries(m, policy) {
                            Ok(e) => entries.extend(e),
                            Err(input) => {
                                unknown.get_or_insert((at.clone(), input));
                            }
                        }
                    }
                    AttachedPolicy::Outside(id, at) => {
                        unknown.get_or_insert((
                            at.clone(),
                            Some(format!(
                                "the service endpoint policy '{}' (not declared in the scanned input)",
                                id_name(id)
                            )),
                        ));
                    }
                    AttachedPolicy::Unknown(at) => {
                        unknown.get_or_insert((at.clone(), deciding_input(at)));
                    }
                }
            }
            for ws in cs.workspaces() {
                let st = ws.get("properties.storageAccount");
                let wname = ws.display_name();
                let st_id = match &st {
                    Field::Absent { .. } => continue,
                    Field::Known(t) => match t.as_str() {
                        Some(s) => s,
                        None => continue,
                    },
                    Field::Unknown { .. } => {
                        let msg = format!(
                            "the service endpoint policy on subnet '{sname}' may not admit the default storage account of workspace '{wname}'"
                        );
                        out.push(cs.relate(undecided(
                            meta,
                            ws,
                            &st,
                            &msg,
                            FIX,
                            deciding_input(&st),
                        )));
                        continue;
                    }
                };
                let covered = entries.iter().any(|e| {
                    !e.service.is_some_and(|s| s.eq_ignore_ascii_case("Global"))
                        && entry_covers(e.value, st_id)
                });
                if covered {
                    continue;
                }
                let pe_unknown = match private_endpoint_to(m, st_id, &["blob"]) {
                    PeLookup::Found => continue,
                    PeLookup::Unknown(input) => Some(input),
                    PeLookup::None => None,
                };
                let key = (
                    declared
                        .first()
                        .and_then(|p| p.id.clone())
                        .unwrap_or_else(|| sname.clone())
                        .to_ascii_lowercase(),
                    st_id.to_ascii_lowercase(),
                );
                if seen.contains(&key) {
                    continue;
                }
                seen.push(key);
                let msg = format!(
                    "the service endpoint policy on subnet '{sname}' does not admit storage account '{}', the default storage of workspace '{wname}', and no blob private endpoint reaches it: {} cannot read or write the workspace's storage",
                    id_name(st_id),
                    cs.user_labels()
                );
                let finding = match (&unknown, pe_unknown, declared.first()) {
                    (None, None, Some(policy)) => {
                        let defs = policy.get("properties.serviceEndpointPolicyDefinitions");
                        Finding::new(meta, policy, msg)
                            .at_field(&defs)
                            .with_fix(FIX)
                    }
                    (Some((at, input)), _, _) => {
                        undecided(meta, subnet, at, &msg, FIX, input.clone())
                    }
                    (None, Some(input), Some(policy)) => {
                        let defs = policy.get("properties.serviceEndpointPolicyDefinitions");
                        undecided(meta, policy, &defs, &msg, FIX, input)
                    }
                    (None, _, None) => continue,
                };
                let finding = match st.at() {
                    Some(p) => finding.related(
                        p.clone(),
                        format!("the default storage of workspace '{wname}'"),
                    ),
                    None => finding,
                };
                out.push(cs.relate(finding));
            }
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
        template(
            r#""st": {"type": "string"}, "res": {"type": "string"}"#,
            &resources.join(", "),
        )
    }

    fn alias_only_sep() -> String {
        sep(&def(
            "aml",
            "Global",
            r#""/services/Azure/MachineLearning""#,
        ))
    }

    #[test]
    fn policy_without_the_default_storage_fails() {
        let f = run(
            &ServiceEndpointPolicyMissingDefaultStorage,
            &t(&[
                vnet(GOOD_SUBNET),
                alias_only_sep(),
                storage("{}"),
                workspace_with(""),
                cluster_in_snet(),
            ]),
        );
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(
            route(&f[0]),
            "resources[1].properties.serviceEndpointPolicyDefinitions"
        );
        assert!(f[0].message.contains("stdefault"));
        assert_eq!(f[0].confidence, Confidence::High);
    }

    #[test]
    fn account_resource_group_or_private_endpoint_pass() {
        assert!(
            run(
                &ServiceEndpointPolicyMissingDefaultStorage,
                &t(&[
                    vnet(GOOD_SUBNET),
                    good_sep(),
                    storage("{}"),
                    workspace_with(""),
                    cluster_in_snet()
                ]),
            )
            .is_empty()
        );
        let rg = sep(&format!(
            "{}, {}",
            def("rg", "Microsoft.Storage", r#""[resourceGroup().id]""#),
            def("aml", "Global", r#""/services/Azure/MachineLearning""#)
        ));
        assert!(
            run(
                &ServiceEndpointPolicyMissingDefaultStorage,
                &t(&[vnet(GOOD_SUBNET), rg, workspace_with(""), cluster_in_snet()]),
            )
            .is_empty()
        );
        assert!(
            run(
                &ServiceEndpointPolicyMissingDefaultStorage,
                &t(&[
                    vnet(GOOD_SUBNET),
                    alias_only_sep(),
                    storage("{}"),
                    private_endpoint("pe-st", ST, "blob"),
                    workspace_with(""),
                    cluster_in_snet()
                ]),
            )
            .is_empty()
        );
    }

    #[test]
    fn no_policy_or_no_storage_is_not_this_rule() {
        // No policy on the subnet: AMLG307.
        assert!(
            run(
                &ServiceEndpointPolicyMissingDefaultStorage,
                &t(&[
                    vnet(r#"{"serviceEndpoints": [{"service": "Microsoft.Storage"}]}"#),
                    workspace_with(""),
                    cluster_in_snet()
                ]),
            )
            .is_empty()
        );
        // Absent storageAccount: nothing to compare.
        assert!(
            run(
                &ServiceEndpointPolicyMissingDefaultStorage,
                &t(&[
                    vnet(GOOD_SUBNET),
                    alias_only_sep(),
                    workspace("{}"),
                    cluster_in_snet()
                ]),
            )
            .is_empty()
        );
    }

    #[test]
    fn unknown_storage_or_entries_are_low_confidence() {
        let f = run(
            &ServiceEndpointPolicyMissingDefaultStorage,
            &t(&[
                vnet(GOOD_SUBNET),
                alias_only_sep(),
                workspace(r#"{"storageAccount": "[parameters('st')]"}"#),
                cluster_in_snet(),
            ]),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'st'"));

        let f = run(
            &ServiceEndpointPolicyMissingDefaultStorage,
            &t(&[
                vnet(GOOD_SUBNET),
                sep(&def(
                    "storage",
                    "Microsoft.Storage",
                    r#""[parameters('res')]""#,
                )),
                workspace_with(""),
                cluster_in_snet(),
            ]),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'res'"));
    }
}
