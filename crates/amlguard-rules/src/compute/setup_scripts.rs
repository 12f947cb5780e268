use amlguard_model::{Field, Model, Tree, TreeKind};

use super::util::{Type, computes, type_unknown};
use crate::workspace::util::{Tri, at_of, input_of, possible, str_in};
use crate::{Finding, Rule, declare_rule};

declare_rule! {
    /// ## What it checks
    /// A compute instance (`ComputeInstance`) with setup scripts:
    /// `properties.properties.setupScripts.scripts.creationScript` (runs once, when the
    /// instance is created) or `startupScript` (runs at every start). Each script gives
    /// one informational finding that names where the script comes from: a file of the
    /// workspace's file share (`scriptSource: workspace`, the path is shown) or an
    /// inline script (`scriptSource: inline`; only its length is shown, never its
    /// content). Absent means no script runs. When the scripts are not known offline,
    /// the finding has confidence low and names the parameter.
    ///
    /// ## Why it matters
    /// Setup scripts run as root on the instance, with its managed identity and the
    /// assigned user's access, before anyone looks. They commonly install packages from
    /// the internet, add credentials, or change network settings. A script kept in the
    /// workspace file share can be edited by anyone who can write to that share, and
    /// will run at the next start. Review what they do and who can change them.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.MachineLearningServices/workspaces/computes",
    ///  "properties": {"computeType": "ComputeInstance", "properties": {"setupScripts": {"scripts": {
    ///    "startupScript": {"scriptSource": "workspace", "scriptData": "Users/admin/setup.sh"}}}}}}
    /// ```
    ///
    /// ## Fix
    /// ARM: review the script; keep it in a location only administrators can change, or
    /// remove `setupScripts` and bake the setup into a custom image or environment.
    /// Bicep: the same on `setupScripts.scripts`.
    /// Terraform: `azurerm_machine_learning_compute_instance` has no setup-script
    /// argument; scripts come from `azapi_resource` bodies, review them there.
    ///
    /// ## References
    /// MCSB AM-5 (use only approved applications in virtual machines), the closest
    /// control. No peer reports setup scripts.
    pub struct ComputeSetupScripts {
        code: 206,
        name: "compute-setup-scripts",
        title: "The compute instance runs setup scripts to review",
        severity: Info,
        confidence: High,
        category: Compute,
        references: ["MCSB AM-5"],
    }
}

/// What a script reference says about its source, never its inline content.
fn describe(script: &Tree, fallback: &amlguard_model::Prov) -> String {
    let source = script.get_path("scriptSource", fallback);
    let data = script.get_path("scriptData", fallback);
    let data_text = data.str().map(str::trim);
    let shorten = |s: &str| -> String {
        if s.chars().count() > 120 {
            format!("{}…", s.chars().take(120).collect::<String>())
        } else {
            s.to_string()
        }
    };
    match (&source, data_text) {
        (Field::Known(t), Some(d)) if str_in(t, &["workspace"]) => {
            format!("the workspace file '{}'", shorten(d))
        }
        (Field::Known(t), Some(d)) if str_in(t, &["inline"]) => {
            format!("an inline script ({} characters)", d.chars().count())
        }
        (Field::Known(t), _) => match t.as_str() {
            Some(s) => format!("source '{}' (content not known offline)", shorten(s)),
            None => "a script of unknown source".to_string(),
        },
        _ => "a script whose source is not known offline".to_string(),
    }
}

impl Rule for ComputeSetupScripts {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        let fix = "review the script and who can change it; keep it where only administrators can write, or bake the setup into a custom image";
        for c in computes(m) {
            if c.is(&[Type::Instance]) == Tri::No {
                continue;
            }
            let before = out.len();
            let all = c.r.get("properties.properties.setupScripts.scripts");
            if all.unknown().is_some() {
                out.push(possible(
                    &Self::META,
                    c.r,
                    at_of(c.r, &all),
                    &format!("compute instance '{}' runs setup scripts", c.name()),
                    fix,
                    input_of(&all),
                    "the setup scripts are not known offline",
                ));
                type_unknown(out, before, &c);
                continue;
            }
            for (key, when) in [
                ("creationScript", "when it is created"),
                ("startupScript", "at every start"),
            ] {
                let f =
                    c.r.get(&format!("properties.properties.setupScripts.scripts.{key}"));
                match &f {
                    Field::Absent { .. } => {}
                    Field::Known(t) if matches!(t.kind, TreeKind::Object(_)) => {
                        let at = at_of(c.r, &f);
                        let message = format!(
                            "compute instance '{}' runs {} {when} ({key})",
                            c.name(),
                            describe(t, &at)
                        );
                        out.push(
                            Finding::new(&Self::META, c.r, message)
                                .at_field(&f)
                                .with_fix(fix),
                        );
                    }
                    Field::Known(_) => {}
                    Field::Unknown { .. } => out.push(possible(
                        &Self::META,
                        c.r,
                        at_of(c.r, &f),
                        &format!("compute instance '{}' runs a {key} {when}", c.name()),
                        fix,
                        input_of(&f),
                        "the setup scripts are not known offline",
                    )),
                }
            }
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
            &ComputeSetupScripts,
            &template(
                r#""scripts": {"type": "object"}, "token": {"type": "secureString"}"#,
                resources,
            ),
        )
    }

    #[test]
    fn each_script_is_reported_with_its_source() {
        let f = check(&compute(
            "ComputeInstance",
            r#"{"setupScripts": {"scripts": {"creationScript": {"scriptSource": "inline", "scriptData": "echo secret-value"}, "startupScript": {"scriptSource": "workspace", "scriptData": "Users/admin/start.sh"}}}}"#,
        ));
        assert_eq!(f.len(), 2);
        assert_eq!(
            route(&f[0]),
            "resources[0].properties.properties.setupScripts.scripts.creationScript"
        );
        assert!(f[0].message.contains("an inline script (17 characters)"));
        assert!(!f[0].message.contains("secret-value"));
        assert!(
            f[1].message
                .contains("the workspace file 'Users/admin/start.sh'")
        );
        assert_eq!(f[1].severity, crate::Severity::Info);
    }

    #[test]
    fn no_scripts_passes_and_clusters_are_skipped() {
        assert!(check(&compute("ComputeInstance", "{}")).is_empty());
        assert!(
            check(&compute(
                "ComputeInstance",
                r#"{"setupScripts": {"scripts": {}}}"#
            ))
            .is_empty()
        );
        assert!(
            check(&compute(
                "AmlCompute",
                r#"{"setupScripts": {"scripts": {"startupScript": {"scriptSource": "inline", "scriptData": "x"}}}}"#
            ))
            .is_empty()
        );
    }

    #[test]
    fn secret_script_content_is_never_printed() {
        let f = check(&compute(
            "ComputeInstance",
            r#"{"setupScripts": {"scripts": {"startupScript": {"scriptSource": "inline", "scriptData": "[parameters('token')]"}}}}"#,
        ));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::High);
        assert!(
            f[0].message
                .contains("source 'inline' (content not known offline)")
        );
    }

    #[test]
    fn unknown_reports_low_confidence_with_the_deciding_parameter() {
        let f = check(&compute(
            "ComputeInstance",
            r#"{"setupScripts": "[parameters('scripts')]"}"#,
        ));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'scripts'"));
    }
}
