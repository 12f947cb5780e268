use amlguard_model::{Model, Tree};

use super::util::{Type, computes, type_unknown};
use crate::workspace::util::{Tri, non_blank, str_in};
use crate::{Finding, Rule, check_field, declare_rule, report};

declare_rule! {
    /// ## What it checks
    /// A compute instance (`ComputeInstance`) that is not personal to one named user:
    /// - `properties.properties.applicationSharingPolicy` is `Shared` or absent. Absent
    ///   means `Shared`: the API's default for this property is `Shared`
    ///   (`computeInstanceAuthorizationType` defaults to `personal`, which is a
    ///   different setting);
    /// - `properties.properties.personalComputeInstanceSettings.assignedUser` is absent
    ///   (or has no `objectId`). Absent means the instance belongs to whoever creates
    ///   it; from a template, that is the deploying identity, often a pipeline's
    ///   service principal, not a person.
    ///
    /// Each condition gives its own finding.
    ///
    /// ## Why it matters
    /// A compute instance runs notebooks and terminals as its owner, with the owner's
    /// tokens, mounted data and the instance's managed identity. With `Shared`, every
    /// workspace user whose role allows application access can open its Jupyter,
    /// JupyterLab, RStudio and terminal, and so act with those credentials. An
    /// instance assigned to nobody in particular cannot be held to one person.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.MachineLearningServices/workspaces/computes",
    ///  "properties": {"computeType": "ComputeInstance", "properties": {"vmSize": "STANDARD_DS3_V2"}}}
    /// ```
    ///
    /// ## Fix
    /// ARM: `"applicationSharingPolicy": "Personal"` and
    /// `"personalComputeInstanceSettings": {"assignedUser": {"objectId": "<user>", "tenantId": "<tenant>"}}`
    /// in the instance's inner `properties`.
    /// Bicep: `applicationSharingPolicy: 'Personal'` with `personalComputeInstanceSettings.assignedUser`.
    /// Terraform (`azurerm_machine_learning_compute_instance`): `assign_to_user { object_id = ..., tenant_id = ... }`;
    /// the sharing policy is not exposed there (use `azapi_resource` to set it).
    ///
    /// ## References
    /// MCSB PA-7 (follow just enough administration). No peer checks the sharing
    /// policy or the assigned user.
    pub struct ComputeInstanceShared {
        code: 208,
        name: "compute-instance-shared",
        title: "The compute instance is shared or assigned to no named user",
        severity: Medium,
        confidence: High,
        category: Compute,
        references: ["MCSB PA-7"],
    }
}

impl Rule for ComputeInstanceShared {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        for c in computes(m) {
            if c.is(&[Type::Instance]) == Tri::No {
                continue;
            }
            let before = out.len();
            let sharing = check_field(
                c.r.get("properties.properties.applicationSharingPolicy"),
                true,
                |t: &Tree| !str_in(t, &["Personal"]),
            );
            report(
                out,
                &Self::META,
                c.r,
                sharing,
                format!(
                    "compute instance '{}' shares its applications with every workspace user (applicationSharingPolicy is Shared or absent; the default is Shared)",
                    c.name()
                ),
                "set properties.properties.applicationSharingPolicy to 'Personal'",
            );
            let assigned = check_field(
                c.r.get("properties.properties.personalComputeInstanceSettings.assignedUser"),
                true,
                |t: &Tree| t.member("objectId").and_then(non_blank).is_none(),
            );
            report(
                out,
                &Self::META,
                c.r,
                assigned,
                format!(
                    "compute instance '{}' is assigned to no named user (personalComputeInstanceSettings.assignedUser); it belongs to whoever deploys it",
                    c.name()
                ),
                "set properties.properties.personalComputeInstanceSettings.assignedUser to the objectId and tenantId of the user who will use the instance",
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

    const USER: &str = r#""personalComputeInstanceSettings": {"assignedUser": {"objectId": "00000000-0000-0000-0000-0000000000aa", "tenantId": "00000000-0000-0000-0000-0000000000bb"}}"#;

    fn check(resources: &str) -> Vec<Finding> {
        run(
            &ComputeInstanceShared,
            &template(
                r#""policy": {"type": "string"}, "user": {"type": "string"}"#,
                resources,
            ),
        )
    }

    #[test]
    fn defaults_are_shared_and_unassigned() {
        let f = check(&compute("ComputeInstance", "{}"));
        assert_eq!(f.len(), 2);
        assert!(f.iter().all(|x| x.absent));
        assert_eq!(route(&f[0]), "resources[0].properties.properties");
        assert!(f[0].message.contains("applicationSharingPolicy"));
        assert!(f[1].message.contains("assignedUser"));
    }

    #[test]
    fn shared_fails_personal_with_user_passes() {
        let f = check(&compute(
            "ComputeInstance",
            &format!(r#"{{"applicationSharingPolicy": "Shared", {USER}}}"#),
        ));
        assert_eq!(f.len(), 1);
        assert_eq!(
            route(&f[0]),
            "resources[0].properties.properties.applicationSharingPolicy"
        );
        assert!(
            check(&compute(
                "ComputeInstance",
                &format!(r#"{{"applicationSharingPolicy": "Personal", {USER}}}"#)
            ))
            .is_empty()
        );
        assert!(check(&compute("AmlCompute", "{}")).is_empty());
    }

    #[test]
    fn assigned_user_without_object_id_fails() {
        let f = check(&compute(
            "ComputeInstance",
            r#"{"applicationSharingPolicy": "Personal", "personalComputeInstanceSettings": {"assignedUser": {"objectId": ""}}}"#,
        ));
        assert_eq!(f.len(), 1);
        assert_eq!(
            route(&f[0]),
            "resources[0].properties.properties.personalComputeInstanceSettings.assignedUser"
        );
    }

    #[test]
    fn unknown_reports_low_confidence_with_the_deciding_parameter() {
        let f = check(&compute(
            "ComputeInstance",
            &format!(r#"{{"applicationSharingPolicy": "[parameters('policy')]", {USER}}}"#),
        ));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'policy'"));
        let f = check(&compute(
            "ComputeInstance",
            r#"{"applicationSharingPolicy": "Personal", "personalComputeInstanceSettings": {"assignedUser": {"objectId": "[parameters('user')]", "tenantId": "t"}}}"#,
        ));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'user'"));
    }
}
