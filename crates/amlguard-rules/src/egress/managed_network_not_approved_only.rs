use amlguard_model::{Model, ResourceKind, Tree};

use crate::{Finding, Rule, check_field, declare_rule, report};

declare_rule! {
    /// ## What it checks
    /// A workspace with a managed virtual network whose
    /// `properties.managedNetwork.isolationMode` is `AllowInternetOutbound`.
    /// An absent mode means `Disabled` (no managed network); that case is not
    /// this rule's (the compute and subnet rules judge a workspace that uses
    /// the customer's own network), and neither is `AllowOnlyApprovedOutbound`.
    ///
    /// ## Why it matters
    /// In `AllowInternetOutbound` mode the managed network lets compute
    /// instances, clusters, serverless compute and managed online endpoints
    /// open connections to any address on the internet. Code running there can
    /// upload training data to any storage account or web service. Microsoft
    /// gives data exfiltration protection only in `AllowOnlyApprovedOutbound`
    /// mode, where outbound traffic is limited to the required service tags and
    /// the rules you approve. The mode cannot be tightened later for existing
    /// compute without recreating it, so choose it at creation.
    ///
    /// A name is not a setting: the quickstart `aifoundry-networking-aoao` is
    /// named for approved-only outbound but its `isolationMode` parameter
    /// defaults to `AllowInternetOutbound`.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.MachineLearningServices/workspaces",
    ///  "properties": {"managedNetwork": {"isolationMode": "AllowInternetOutbound"}}}
    /// ```
    ///
    /// ## Fix
    /// ARM: `"managedNetwork": {"isolationMode": "AllowOnlyApprovedOutbound"}` in the
    /// workspace's `properties`, and add outbound rules only for what the
    /// workloads need.
    /// Bicep: `managedNetwork: { isolationMode: 'AllowOnlyApprovedOutbound' }`.
    /// Terraform (`azurerm_machine_learning_workspace`):
    /// `managed_network { isolation_mode = "AllowOnlyApprovedOutbound" }`.
    ///
    /// ## References
    /// Azure Policy 6ddb1705-c8cf-450e-aa4b-19ad6703c440 (Azure Machine Learning
    /// workspaces should use the "Allow Only Approved Outbound" managed network
    /// mode); MCSB NS-3. No IaC peer checks the mode.
    /// The policy compares the mode with a parameter whose default is
    /// `Disabled`, so assigned with its defaults it flags approved-only
    /// workspaces and passes workspaces with no isolation at all; amlguard
    /// flags exactly the internet-outbound mode.
    pub struct ManagedNetworkNotApprovedOnly {
        code: 305,
        name: "managed-network-not-approved-only",
        title: "The workspace's managed network allows all internet outbound traffic",
        severity: High,
        confidence: High,
        category: Egress,
        references: [
            "Azure Policy 6ddb1705-c8cf-450e-aa4b-19ad6703c440",
            "MCSB NS-3",
        ],
    }
}

impl Rule for ManagedNetworkNotApprovedOnly {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        for ws in m.of_kind(ResourceKind::Workspace) {
            let mode = check_field(
                ws.get("properties.managedNetwork.isolationMode"),
                false,
                |t: &Tree| {
                    t.as_str()
                        .is_some_and(|s| s.eq_ignore_ascii_case("AllowInternetOutbound"))
                },
            );
            report(
                out,
                &Self::META,
                ws,
                mode,
                format!(
                    "workspace '{}' has a managed network in AllowInternetOutbound mode: its compute can send data to any internet destination",
                    ws.display_name()
                ),
                "set properties.managedNetwork.isolationMode to 'AllowOnlyApprovedOutbound' and add outbound rules only for the destinations the workloads need (existing compute must be recreated)",
            );
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::Confidence;
    use crate::testing::{model, route, run, template};

    fn ws(props: &str) -> String {
        template(
            r#""mode": {"type": "string"}"#,
            &format!(
                r#"{{"type": "Microsoft.MachineLearningServices/workspaces", "apiVersion": "2024-10-01", "name": "ws", "location": "eastus", "properties": {props}}}"#
            ),
        )
    }

    #[test]
    fn internet_outbound_fails() {
        let f = run(
            &ManagedNetworkNotApprovedOnly,
            &ws(r#"{"managedNetwork": {"isolationMode": "AllowInternetOutbound"}}"#),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(
            route(&f[0]),
            "resources[0].properties.managedNetwork.isolationMode"
        );
        assert_eq!(f[0].confidence, Confidence::High);
    }

    #[test]
    fn approved_only_and_disabled_pass() {
        for mode in ["AllowOnlyApprovedOutbound", "Disabled"] {
            let f = run(
                &ManagedNetworkNotApprovedOnly,
                &ws(&format!(
                    r#"{{"managedNetwork": {{"isolationMode": "{mode}"}}}}"#
                )),
            );
            assert!(f.is_empty(), "{mode}");
        }
    }

    #[test]
    fn absent_means_disabled_and_is_not_this_rule() {
        assert!(run(&ManagedNetworkNotApprovedOnly, &ws("{}")).is_empty());
        assert!(
            run(
                &ManagedNetworkNotApprovedOnly,
                &ws(r#"{"managedNetwork": {}}"#)
            )
            .is_empty()
        );
    }

    #[test]
    fn unknown_mode_is_low_confidence_with_the_parameter() {
        let f = run(
            &ManagedNetworkNotApprovedOnly,
            &ws(r#"{"managedNetwork": {"isolationMode": "[parameters('mode')]"}}"#),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'mode'"));
    }

    /// The corpus trap: named for approved-only, defaults to internet outbound.
    #[test]
    #[allow(clippy::print_stderr)]
    fn corpus_aoao_quickstart_defaults_to_internet_outbound() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/corpus/Azure__azure-quickstart-templates/quickstarts/microsoft.machinelearningservices/aifoundry-networking-aoao/azuredeploy.json"
        );
        let Ok(text) = std::fs::read_to_string(path) else {
            eprintln!("corpus not found at {path}: skipped");
            return;
        };
        let m = model(&text);
        let mut out = Vec::new();
        ManagedNetworkNotApprovedOnly.check(&m, &mut out);
        assert!(
            out.iter()
                .any(|f| f.message.contains("AllowInternetOutbound")),
            "{out:?}"
        );
    }
}
