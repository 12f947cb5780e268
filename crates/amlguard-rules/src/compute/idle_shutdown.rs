use amlguard_model::{Model, Tree};

use super::util::{Type, computes, type_unknown};
use crate::workspace::util::{Tri, non_blank};
use crate::{Finding, Rule, check_field, declare_rule, report};

declare_rule! {
    /// ## What it checks
    /// A compute instance (`ComputeInstance`) without
    /// `properties.properties.idleTimeBeforeShutdown` (absent or empty). Absent means
    /// the instance never stops on its own. The property takes an ISO 8601 duration
    /// between 15 minutes and 3 days (`PT30M`); among stable API versions only
    /// 2026-05-01 accepts it in the body (the Azure Policy alias exists for all),
    /// so the fix may need a newer `apiVersion`. Start/stop `schedules` are not
    /// counted as a substitute, as in the policy.
    ///
    /// ## Why it matters
    /// An instance left running keeps a live node with the user's credentials, a
    /// managed identity and mounted data available around the clock, widening the
    /// window for misuse, and costs money while idle.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.MachineLearningServices/workspaces/computes",
    ///  "properties": {"computeType": "ComputeInstance", "properties": {"vmSize": "STANDARD_DS3_V2"}}}
    /// ```
    ///
    /// ## Fix
    /// ARM: `"idleTimeBeforeShutdown": "PT60M"` in the instance's inner `properties`.
    /// Bicep: `idleTimeBeforeShutdown: 'PT60M'`.
    /// Terraform: `azurerm_machine_learning_compute_instance` has no argument for it;
    /// use `azapi_resource` (type `Microsoft.MachineLearningServices/workspaces/computes`)
    /// with `properties.properties.idleTimeBeforeShutdown = "PT60M"`.
    ///
    /// ## References
    /// Azure Policy 679ddf89-ab8f-48a5-9029-e76054077449 (compute instance should have idle shutdown);
    /// PSRule Azure.ML.ComputeIdleShutdown.
    pub struct ComputeInstanceIdleShutdownMissing {
        code: 205,
        name: "compute-instance-idle-shutdown-missing",
        title: "The compute instance never shuts down when idle",
        severity: Low,
        confidence: High,
        category: Compute,
        references: [
            "Azure Policy 679ddf89-ab8f-48a5-9029-e76054077449",
            "PSRule Azure.ML.ComputeIdleShutdown",
        ],
    }
}

impl Rule for ComputeInstanceIdleShutdownMissing {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        for c in computes(m) {
            if c.is(&[Type::Instance]) == Tri::No {
                continue;
            }
            let before = out.len();
            let check = check_field(
                c.r.get("properties.properties.idleTimeBeforeShutdown"),
                true,
                |t: &Tree| non_blank(t).is_none(),
            );
            report(
                out,
                &Self::META,
                c.r,
                check,
                format!(
                    "compute instance '{}' has no idle shutdown (idleTimeBeforeShutdown is not set)",
                    c.name()
                ),
                "set properties.properties.idleTimeBeforeShutdown to an ISO 8601 duration between PT15M and P3D, e.g. 'PT60M'",
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
    use crate::compute::util::fixtures::compute;
    use crate::testing::{route, run, template};

    fn check(resources: &str) -> Vec<Finding> {
        run(
            &ComputeInstanceIdleShutdownMissing,
            &template(r#""idle": {"type": "string"}"#, resources),
        )
    }

    #[test]
    fn absent_means_no_shutdown() {
        let f = check(&compute("ComputeInstance", "{}"));
        assert_eq!(f.len(), 1);
        assert!(f[0].absent);
        assert_eq!(route(&f[0]), "resources[0].properties.properties");
    }

    #[test]
    fn empty_fails_duration_passes_clusters_skipped() {
        let f = check(&compute(
            "ComputeInstance",
            r#"{"idleTimeBeforeShutdown": ""}"#,
        ));
        assert_eq!(f.len(), 1);
        assert_eq!(
            route(&f[0]),
            "resources[0].properties.properties.idleTimeBeforeShutdown"
        );
        assert!(
            check(&compute(
                "ComputeInstance",
                r#"{"idleTimeBeforeShutdown": "PT30M"}"#
            ))
            .is_empty()
        );
        assert!(check(&compute("AmlCompute", "{}")).is_empty());
    }

    #[test]
    fn unknown_reports_low_confidence_with_the_deciding_parameter() {
        let f = check(&compute(
            "ComputeInstance",
            r#"{"idleTimeBeforeShutdown": "[parameters('idle')]"}"#,
        ));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'idle'"));
    }
}
