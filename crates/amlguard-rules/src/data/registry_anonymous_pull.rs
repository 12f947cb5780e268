use amlguard_model::{Model, ResourceKind, Tree};

use super::util::{report_related, workspace_links};
use crate::{Finding, Rule, check_field, declare_rule};

declare_rule! {
    /// ## What it checks
    /// Every deployed container registry that serves pulls without
    /// authentication: `properties.anonymousPullEnabled` is `true`.
    ///
    /// Default assumed when absent: `false`.
    ///
    /// ## Why it matters
    /// With anonymous pull, anyone who can reach the registry's endpoint can list
    /// and download every image in it without a credential. AML environment and
    /// model-serving images carry training code, dependencies, sometimes model
    /// weights and baked-in configuration: the registry becomes a public download
    /// site for them.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.ContainerRegistry/registries", "sku": {"name": "Standard"},
    ///  "properties": {"anonymousPullEnabled": true}}
    /// ```
    ///
    /// ## Fix
    /// ARM: `"anonymousPullEnabled": false` in the registry's `properties` (or leave
    /// it out).
    /// Bicep: `anonymousPullEnabled: false`.
    /// Terraform (`azurerm_container_registry`): `anonymous_pull_enabled = false`.
    ///
    /// ## References
    /// Azure Policy 9f2dea28-e834-476c-99c5-3507b4728395 (container registries should have
    /// anonymous authentication disabled); MCSB IM-1; Checkov CKV_AZURE_138; PSRule
    /// Azure.ACR.AnonymousAccess.
    pub struct RegistryAnonymousPull {
        code: 512,
        name: "registry-anonymous-pull",
        title: "A container registry allows anonymous pulls",
        severity: High,
        confidence: High,
        category: DataService,
        references: [
            "Azure Policy 9f2dea28-e834-476c-99c5-3507b4728395",
            "MCSB IM-1",
            "Checkov CKV_AZURE_138",
            "PSRule Azure.ACR.AnonymousAccess",
        ],
    }
}

impl Rule for RegistryAnonymousPull {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        let fix = "set properties.anonymousPullEnabled to false and grant AcrPull to the identities that pull images";
        for acr in m.of_kind(ResourceKind::ContainerRegistry) {
            let check = check_field(
                acr.get("properties.anonymousPullEnabled"),
                false,
                |t: &Tree| t.as_bool() == Some(true),
            );
            report_related(
                out,
                &Self::META,
                acr,
                check,
                format!(
                    "container registry '{}' lets anyone pull its images without credentials",
                    acr.display_name()
                ),
                fix,
                workspace_links(m, acr, "properties.containerRegistry", "container registry"),
            );
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::Confidence;
    use crate::data::util::fixtures::registry;
    use crate::testing::{route, run, template};

    fn t(props: &str) -> String {
        template(r#""anon": {"type": "bool"}"#, &registry(props))
    }

    #[test]
    fn true_fails_at_the_property() {
        let f = run(
            &RegistryAnonymousPull,
            &t(r#"{"anonymousPullEnabled": true}"#),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(route(&f[0]), "resources[0].properties.anonymousPullEnabled");
    }

    #[test]
    fn absent_or_false_passes() {
        assert!(run(&RegistryAnonymousPull, &t("{}")).is_empty());
        assert!(
            run(
                &RegistryAnonymousPull,
                &t(r#"{"anonymousPullEnabled": false}"#)
            )
            .is_empty()
        );
    }

    #[test]
    fn unknown_reports_low_confidence_with_the_deciding_parameter() {
        let f = run(
            &RegistryAnonymousPull,
            &t(r#"{"anonymousPullEnabled": "[parameters('anon')]"}"#),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'anon'"));
    }
}
