use amlguard_model::{Field, Model, ResourceKind};

use super::util::{EntryScope, entry_scope, strings, undecided};
use crate::{Finding, Rule, declare_rule};

declare_rule! {
    /// ## What it checks
    /// A service endpoint policy definition (inline in
    /// `properties.serviceEndpointPolicyDefinitions` or a separate
    /// `serviceEndpointPolicies/serviceEndpointPolicyDefinitions` resource)
    /// whose `properties.serviceResources` lists a whole subscription
    /// (`/subscriptions/<id>`) or resource group
    /// (`/subscriptions/<id>/resourceGroups/<name>`) instead of storage account
    /// IDs. Definitions whose `service` is `Global` hold aliases and are not
    /// judged. An absent `serviceResources` lists nothing. Entries not known
    /// offline give a low-confidence finding.
    ///
    /// ## Why it matters
    /// A policy entry for a subscription or resource group admits every
    /// storage account in it, including accounts created after the policy.
    /// Anyone who can create a storage account there (often the same data
    /// scientists who use the workspace) can open an account of their own and
    /// copy data to it through the service endpoint. Microsoft's exfiltration
    /// guidance selects the scope "Single account" for the workspace's storage.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"name": "storage", "properties": {"service": "Microsoft.Storage",
    ///   "serviceResources": ["/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/ml-rg"]}}
    /// ```
    ///
    /// ## Fix
    /// ARM: list account IDs, e.g.
    /// `"serviceResources": ["[resourceId('Microsoft.Storage/storageAccounts', 'mlstore')]"]`,
    /// and keep the `/services/Azure/MachineLearning` alias in a `Global` definition.
    /// Bicep: `serviceResources: [ storage.id ]`.
    /// Terraform (`azurerm_subnet_service_endpoint_storage_policy`):
    /// `definition { service = "Microsoft.Storage", service_resources = [azurerm_storage_account.ml.id] }`.
    ///
    /// ## References
    /// No Azure Policy definition mentions service endpoint policies; MCSB
    /// NS-2, DP-2. No peer checks service endpoint policies.
    pub struct ServiceEndpointPolicyTooBroad {
        code: 308,
        name: "service-endpoint-policy-too-broad",
        title: "A service endpoint policy admits every storage account of a subscription or resource group",
        severity: Medium,
        confidence: High,
        category: Egress,
        references: ["MCSB NS-2", "MCSB DP-2"],
    }
}

const FIX: &str = "list the storage account IDs the compute needs instead of a subscription or resource group (keep the alias /services/Azure/MachineLearning in a Global definition)";

impl Rule for ServiceEndpointPolicyTooBroad {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        let meta = &Self::META;
        for d in m.of_kind(ResourceKind::ServiceEndpointPolicyDefinition) {
            if d.get("properties.service").str_is(&["Global"]) == Some(true) {
                continue;
            }
            let policy = d
                .name
                .as_deref()
                .and_then(|n| n.split('/').next())
                .unwrap_or("(unknown)");
            let resources = d.get("properties.serviceResources");
            match strings(&resources) {
                Ok(items) => {
                    for (entry, tree) in items {
                        let what = match entry_scope(entry) {
                            EntryScope::Subscription => "subscription",
                            EntryScope::ResourceGroup => "resource group",
                            _ => continue,
                        };
                        out.push(
                            Finding::new(
                                meta,
                                d,
                                format!(
                                    "service endpoint policy '{policy}' admits every storage account of the {what} '{entry}', including accounts anyone there creates later"
                                ),
                            )
                            .at_field(&Field::Known(tree))
                            .with_fix(FIX),
                        );
                    }
                }
                Err(input) => out.push(undecided(
                    meta,
                    d,
                    &resources,
                    &format!(
                        "service endpoint policy '{policy}' may admit a whole subscription or resource group"
                    ),
                    FIX,
                    input,
                )),
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

    fn t(resources: &str) -> String {
        template(r#""scope": {"type": "string"}"#, resources)
    }

    #[test]
    fn resource_group_and_subscription_scopes_fail() {
        let defs = def(
            "storage",
            "Microsoft.Storage",
            &format!(r#""[resourceGroup().id]", "[subscription().id]", "{ST}""#),
        );
        let f = run(&ServiceEndpointPolicyTooBroad, &t(&sep(&defs)));
        assert_eq!(f.len(), 2, "{f:?}");
        assert_eq!(
            route(&f[0]),
            "resources[0].properties.serviceEndpointPolicyDefinitions[0].properties.serviceResources[0]"
        );
        assert!(f[0].message.contains("resource group"));
        assert!(f[1].message.contains("subscription"));
    }

    #[test]
    fn separate_definition_resource_is_checked() {
        let text = t(&format!(
            r#"{}, {{"type": "Microsoft.Network/serviceEndpointPolicies/serviceEndpointPolicyDefinitions", "apiVersion": "2024-01-01", "name": "sep/broad",
                "properties": {{"service": "Microsoft.Storage", "serviceResources": ["/subscriptions/1111"]}}}}"#,
            sep("")
        ));
        let f = run(&ServiceEndpointPolicyTooBroad, &text);
        assert_eq!(f.len(), 1);
        assert_eq!(route(&f[0]), "resources[1].properties.serviceResources[0]");
    }

    #[test]
    fn accounts_and_aliases_pass() {
        assert!(run(&ServiceEndpointPolicyTooBroad, &t(&good_sep())).is_empty());
    }

    #[test]
    fn absent_resources_pass() {
        let defs = r#"{"name": "storage", "properties": {"service": "Microsoft.Storage"}}"#;
        assert!(run(&ServiceEndpointPolicyTooBroad, &t(&sep(defs))).is_empty());
    }

    #[test]
    fn unknown_entry_is_low_confidence() {
        let defs = def("storage", "Microsoft.Storage", r#""[parameters('scope')]""#);
        let f = run(&ServiceEndpointPolicyTooBroad, &t(&sep(&defs)));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'scope'"));
    }
}
