use amlguard_model::{Model, Tree};

use super::util::{Type, computes, type_unknown};
use crate::workspace::util::{Tri, bool_of};
use crate::{Finding, Rule, check_field, declare_rule, report};

declare_rule! {
    /// ## What it checks
    /// A compute cluster (`AmlCompute`) or compute instance (`ComputeInstance`) whose
    /// `properties.disableLocalAuth` is not `true`. Absent means `false`: local
    /// authentication stays on (Terraform's `local_auth_enabled` also defaults to
    /// `true`).
    ///
    /// ## Why it matters
    /// With local authentication on, the compute accepts credentials other than
    /// Entra ID tokens, such as the keys that `listKeys` returns. They are not tied
    /// to a person, bypass Conditional Access and MFA, and survive the
    /// removal of the user's role assignments. With it off, only Entra ID identities
    /// and managed identities can use the compute.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.MachineLearningServices/workspaces/computes",
    ///  "properties": {"computeType": "ComputeInstance", "properties": {}}}
    /// ```
    ///
    /// ## Fix
    /// ARM: `"disableLocalAuth": true` in the compute's outer `properties` (next to `computeType`).
    /// Bicep: `disableLocalAuth: true`.
    /// Terraform (`azurerm_machine_learning_compute_cluster` / `_compute_instance`): `local_auth_enabled = false`.
    ///
    /// ## References
    /// Azure Policy e96a9a5f-07ca-471b-9bc5-6a0f33cbd68f (computes should have local authentication methods disabled);
    /// Azure Policy a6f9a2d0-cff7-4855-83ad-4cd750666512 (modify);
    /// MCSB IM-1; PSRule Azure.ML.DisableLocalAuth; Checkov CKV_AZURE_142 (clusters only, Terraform);
    /// AzTS Azure_MachineLearningWorkspace_AuthN_Disable_SSH_Authentication.
    pub struct ComputeLocalAuthEnabled {
        code: 203,
        name: "compute-local-auth-enabled",
        title: "The compute accepts local (non-Entra ID) authentication",
        severity: Medium,
        confidence: High,
        category: Compute,
        references: [
            "Azure Policy e96a9a5f-07ca-471b-9bc5-6a0f33cbd68f",
            "Azure Policy a6f9a2d0-cff7-4855-83ad-4cd750666512",
            "MCSB IM-1",
            "PSRule Azure.ML.DisableLocalAuth",
            "Checkov CKV_AZURE_142",
            "AzTS Azure_MachineLearningWorkspace_AuthN_Disable_SSH_Authentication",
        ],
    }
}

impl Rule for ComputeLocalAuthEnabled {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        for c in computes(m) {
            if c.is(&[Type::Cluster, Type::Instance]) == Tri::No {
                continue;
            }
            let before = out.len();
            let check = check_field(c.r.get("properties.disableLocalAuth"), true, |t: &Tree| {
                bool_of(t) != Some(true)
            });
            report(
                out,
                &Self::META,
                c.r,
                check,
                format!(
                    "{} '{}' keeps local authentication on (disableLocalAuth is not true; absent means false)",
                    c.label(),
                    c.name()
                ),
                "set properties.disableLocalAuth to true so that only Entra ID and managed identities can use the compute",
            );
            type_unknown(out, before, &c);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::Confidence;
    use crate::compute::util::fixtures::compute_with;
    use crate::testing::{route, run, template};

    fn check(resources: &str) -> Vec<Finding> {
        run(
            &ComputeLocalAuthEnabled,
            &template(r#""dla": {"type": "bool"}"#, resources),
        )
    }

    #[test]
    fn absent_means_local_auth_on() {
        let f = check(&compute_with("ComputeInstance", "", "{}"));
        assert_eq!(f.len(), 1);
        assert!(f[0].absent);
        assert_eq!(route(&f[0]), "resources[0].properties");
    }

    #[test]
    fn false_fails_true_passes() {
        let f = check(&compute_with(
            "AmlCompute",
            r#", "disableLocalAuth": false"#,
            "{}",
        ));
        assert_eq!(f.len(), 1);
        assert_eq!(route(&f[0]), "resources[0].properties.disableLocalAuth");
        assert!(
            check(&compute_with(
                "AmlCompute",
                r#", "disableLocalAuth": true"#,
                "{}"
            ))
            .is_empty()
        );
        assert!(check(&compute_with("Kubernetes", "", "{}")).is_empty());
    }

    #[test]
    fn unknown_reports_low_confidence_with_the_deciding_parameter() {
        let f = check(&compute_with(
            "AmlCompute",
            r#", "disableLocalAuth": "[parameters('dla')]""#,
            "{}",
        ));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'dla'"));
    }
}
