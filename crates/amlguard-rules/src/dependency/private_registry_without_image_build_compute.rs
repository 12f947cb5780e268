use amlguard_model::{Field, Model, Resource, ResourceKind};

use crate::egress::util::{
    ManagedMode, deciding_input, ids_eq, is_unknown, managed_mode, undecided,
};
use crate::{Finding, Rule, declare_rule};

declare_rule! {
    /// ## What it checks
    /// A workspace whose container registry (`properties.containerRegistry`,
    /// declared in the input) is behind a network boundary
    /// (`properties.publicNetworkAccess` `Disabled`, or
    /// `properties.networkRuleSet.defaultAction` `Deny`) while the workspace
    /// has no `properties.imageBuildCompute` and no managed network
    /// (`properties.managedNetwork.isolationMode` absent or `Disabled`).
    /// An absent `publicNetworkAccess` means `Enabled` and an absent
    /// `networkRuleSet` means allow; an absent `imageBuildCompute` means none.
    /// An absent `containerRegistry` is not judged (the workspace then creates
    /// a public registry on first use). A value not known offline gives a
    /// low-confidence finding.
    ///
    /// ## Why it matters
    /// Azure Machine Learning builds environment images with the registry's
    /// build service by default, which cannot run inside a registry that is
    /// closed to public networks. With a private registry and no image-build
    /// compute, every job or deployment that needs a custom environment fails
    /// at image build. Naming a compute cluster or instance in
    /// `imageBuildCompute` makes AML build the images there, inside the
    /// network (that compute then needs egress to the package repositories).
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.MachineLearningServices/workspaces",
    ///  "properties": {"containerRegistry": "<ID of a registry with publicNetworkAccess Disabled>"}}
    /// ```
    ///
    /// ## Fix
    /// ARM: `"imageBuildCompute": "cpu-cluster"` in the workspace's `properties`,
    /// naming a compute cluster of the workspace.
    /// Bicep: `imageBuildCompute: 'cpu-cluster'`.
    /// Terraform (`azurerm_machine_learning_workspace`): `image_build_compute_name = "cpu-cluster"`.
    ///
    /// ## References
    /// No Azure Policy definition and no MCSB control (a functional
    /// dependency). No peer checks it; peers that require private registries
    /// (Azure Policy 0fdf0491-d080-4575-b627-ad0e843cba0f, Checkov
    /// CKV_AZURE_139) do not say that the workspace then needs an
    /// image-build compute.
    pub struct PrivateRegistryWithoutImageBuildCompute {
        code: 404,
        name: "private-registry-without-image-build-compute",
        title: "The workspace's private container registry cannot build images",
        severity: Medium,
        confidence: High,
        category: Dependency,
        references: [],
    }
}

const FIX: &str = "set properties.imageBuildCompute to the name of a compute cluster or instance of the workspace (it then needs egress to the package repositories)";

/// Whether a registry is closed to public networks: `Ok(Some(field))` with the
/// deciding field, `Ok(None)` when open, `Err(field)` when unknown.
fn private_registry<'a>(acr: &'a Resource) -> Result<Option<Field<'a>>, Field<'a>> {
    let pna = acr.get("properties.publicNetworkAccess");
    let deny = acr.get("properties.networkRuleSet.defaultAction");
    if pna.str_is(&["Disabled"]) == Some(true) {
        return Ok(Some(pna));
    }
    if deny.str_is(&["Deny"]) == Some(true) {
        return Ok(Some(deny));
    }
    if is_unknown(&pna) {
        return Err(pna);
    }
    if is_unknown(&deny) {
        return Err(deny);
    }
    Ok(None)
}

impl Rule for PrivateRegistryWithoutImageBuildCompute {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        let meta = &Self::META;
        for ws in m.of_kind(ResourceKind::Workspace) {
            let wname = ws.display_name();
            let mode = managed_mode(ws);
            if mode.is_on() {
                continue;
            }
            let build = ws.get("properties.imageBuildCompute");
            let has_build = match &build {
                Field::Known(t) if t.contains_unknown() => None,
                Field::Known(t) => Some(t.as_str().is_some_and(|s| !s.trim().is_empty())),
                Field::Absent { .. } => Some(false),
                Field::Unknown { .. } => None,
            };
            if has_build == Some(true) {
                continue;
            }
            let reg = ws.get("properties.containerRegistry");
            let acr = match &reg {
                Field::Known(t) => match t.as_str() {
                    Some(id) if !id.trim().is_empty() => m
                        .of_kind(ResourceKind::ContainerRegistry)
                        .find(|r| r.id.as_deref().is_some_and(|rid| ids_eq(rid, id))),
                    _ => None,
                },
                _ => None,
            };
            let Some(acr) = acr else { continue };
            let msg = format!(
                "workspace '{wname}' uses container registry '{}', which is closed to public networks, and has no image-build compute: environment images cannot be built",
                acr.display_name()
            );
            let (decider, input) = match (private_registry(acr), has_build, &mode) {
                (Ok(None), _, _) => continue,
                (Err(f), _, _) => (None, Some(deciding_input(&f))),
                (Ok(Some(f)), None, _) => (Some(f), Some(deciding_input(&build))),
                (Ok(Some(f)), Some(false), ManagedMode::Unknown(mf)) => {
                    (Some(f), Some(deciding_input(mf)))
                }
                (Ok(Some(f)), _, _) => (Some(f), None),
            };
            let finding = match input {
                None => Finding::new(meta, ws, msg).at_field(&build).with_fix(FIX),
                Some(input) => undecided(meta, ws, &build, &msg, FIX, input),
            };
            let finding = match decider.as_ref().and_then(Field::at) {
                Some(p) => {
                    finding.related(p.clone(), "the registry is closed to public networks here")
                }
                None => finding.related(acr.prov.clone(), "the workspace's container registry"),
            };
            out.push(finding);
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

    fn acr(props: &str) -> String {
        format!(
            r#"{{"type": "Microsoft.ContainerRegistry/registries", "apiVersion": "2023-07-01", "name": "acrws", "location": "eastus", "sku": {{"name": "Premium"}}, "properties": {props}}}"#
        )
    }

    fn t(resources: &[String]) -> String {
        template(
            r#""build": {"type": "string"}, "pna": {"type": "string"}"#,
            &resources.join(", "),
        )
    }

    #[test]
    fn private_registry_without_build_compute_fails() {
        let f = run(
            &PrivateRegistryWithoutImageBuildCompute,
            &t(&[
                acr(r#"{"publicNetworkAccess": "Disabled"}"#),
                workspace_with(&format!(r#""containerRegistry": "{ACR}""#)),
            ]),
        );
        assert_eq!(f.len(), 1);
        assert!(f[0].absent);
        assert_eq!(route(&f[0]), "resources[1].properties");
        assert_eq!(
            f[0].related[0].at.route.to_string(),
            "resources[0].properties.publicNetworkAccess"
        );
        // A firewall that denies by default counts too.
        let f = run(
            &PrivateRegistryWithoutImageBuildCompute,
            &t(&[
                acr(r#"{"networkRuleSet": {"defaultAction": "Deny"}}"#),
                workspace_with(&format!(r#""containerRegistry": "{ACR}""#)),
            ]),
        );
        assert_eq!(f.len(), 1);
    }

    #[test]
    fn build_compute_managed_network_or_public_registry_pass() {
        let ws_build = workspace_with(&format!(
            r#""containerRegistry": "{ACR}", "imageBuildCompute": "cpu""#
        ));
        assert!(
            run(
                &PrivateRegistryWithoutImageBuildCompute,
                &t(&[acr(r#"{"publicNetworkAccess": "Disabled"}"#), ws_build])
            )
            .is_empty()
        );
        let ws_managed = workspace_with(&format!(
            r#""containerRegistry": "{ACR}", "managedNetwork": {{"isolationMode": "AllowOnlyApprovedOutbound"}}"#
        ));
        assert!(
            run(
                &PrivateRegistryWithoutImageBuildCompute,
                &t(&[acr(r#"{"publicNetworkAccess": "Disabled"}"#), ws_managed])
            )
            .is_empty()
        );
    }

    #[test]
    fn absent_registry_settings_mean_public() {
        assert!(
            run(
                &PrivateRegistryWithoutImageBuildCompute,
                &t(&[
                    acr("{}"),
                    workspace_with(&format!(r#""containerRegistry": "{ACR}""#))
                ]),
            )
            .is_empty()
        );
    }

    #[test]
    fn unknown_values_are_low_confidence() {
        let f = run(
            &PrivateRegistryWithoutImageBuildCompute,
            &t(&[
                acr(r#"{"publicNetworkAccess": "[parameters('pna')]"}"#),
                workspace_with(&format!(r#""containerRegistry": "{ACR}""#)),
            ]),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'pna'"));

        let f = run(
            &PrivateRegistryWithoutImageBuildCompute,
            &t(&[
                acr(r#"{"publicNetworkAccess": "Disabled"}"#),
                workspace_with(&format!(
                    r#""containerRegistry": "{ACR}", "imageBuildCompute": "[parameters('build')]""#
                )),
            ]),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'build'"));
    }
}
