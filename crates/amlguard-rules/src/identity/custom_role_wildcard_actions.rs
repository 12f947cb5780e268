use amlguard_model::{Field, Model, Prov, ResourceKind, TreeKind};

use crate::logging::util::undecided;
use crate::{Finding, Rule, declare_rule};

declare_rule! {
    /// ## What it checks
    /// Custom role definitions (`Microsoft.Authorization/roleDefinitions`) whose
    /// `permissions[].actions` contain a wildcard over everything or over Azure
    /// Machine Learning: `*`, `*/<verb>` other than `*/read`,
    /// `Microsoft.MachineLearningServices/*` (and `Microsoft.MachineLearningServices/*/<verb>`
    /// other than read), or `Microsoft.MachineLearningServices/workspaces/*`.
    /// `notActions` do not clear the finding: a wildcard grants every action the
    /// provider adds later, whatever is excluded today. A role without
    /// `permissions` grants nothing and passes. An action that is not known
    /// offline gives a finding with confidence low.
    ///
    /// ## Why it matters
    /// A wildcard role silently grows: new AML actions (new compute kinds, new
    /// connection types, key listing) are granted the day they ship. Over AML it
    /// includes `computes/write`, `datastores/write`, `connections/write` and
    /// `listKeys/action` — everything needed to move data out of the workspace.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.Authorization/roleDefinitions", "name": "[guid('ml-admin')]",
    ///  "properties": {"roleName": "ml-admin", "permissions": [{"actions": ["Microsoft.MachineLearningServices/*"]}]}}
    /// ```
    ///
    /// ## Fix
    /// List the actions the role needs.
    /// ARM: `"actions": ["Microsoft.MachineLearningServices/workspaces/*/read", "Microsoft.MachineLearningServices/workspaces/jobs/write"]`.
    /// Bicep: `actions: ['Microsoft.MachineLearningServices/workspaces/*/read', 'Microsoft.MachineLearningServices/workspaces/jobs/write']`.
    /// Terraform (`azurerm_role_definition`): `permissions { actions = ["Microsoft.MachineLearningServices/workspaces/*/read"] }`.
    ///
    /// ## References
    /// MCSB PA-7; tfsec/Trivy azure-authorization-limit-role-actions (which only
    /// looks for a bare `*`; a provider-wide wildcard is as broad for AML).
    pub struct CustomRoleWildcardActions {
        code: 604,
        name: "custom-role-wildcard-actions",
        title: "A custom role grants wildcard actions over Azure Machine Learning",
        severity: Medium,
        confidence: High,
        category: Identity,
        references: [
            "MCSB PA-7",
            "tfsec azure-authorization-limit-role-actions",
        ],
    }
}

/// A wildcard action that reaches every action, or every AML action.
fn too_broad(p: &str) -> bool {
    let p = p.trim().to_ascii_lowercase();
    let ml = "microsoft.machinelearningservices/";
    let not_read = |rest: &str| !rest.eq_ignore_ascii_case("read");
    if p == "*" {
        return true;
    }
    if let Some(rest) = p.strip_prefix("*/") {
        return not_read(rest);
    }
    if let Some(rest) = p.strip_prefix(ml) {
        if rest == "*" || rest == "workspaces/*" {
            return true;
        }
        if let Some(verb) = rest.strip_prefix("*/") {
            return not_read(verb);
        }
    }
    false
}

const FIX: &str = "replace the wildcard with the specific actions the role needs";

impl Rule for CustomRoleWildcardActions {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        for rd in m.of_kind(ResourceKind::RoleDefinition) {
            let name = rd
                .get("properties.roleName")
                .str()
                .map_or_else(|| rd.display_name(), str::to_string);
            let perms = rd.get("properties.permissions");
            let blocks = match &perms {
                Field::Known(t) => t.as_array().unwrap_or_default(),
                Field::Unknown { value, .. } => {
                    let f = Finding::new(
                        &Self::META,
                        rd,
                        format!("custom role '{name}' may grant wildcard actions"),
                    )
                    .at_field(&perms)
                    .with_fix(FIX);
                    out.push(undecided(
                        f,
                        value.input.clone(),
                        "the permissions are not known offline",
                    ));
                    continue;
                }
                Field::Absent { .. } => continue,
            };
            let mut broad: Vec<(String, Option<Prov>)> = Vec::new();
            let mut unknown: Option<(Option<String>, Option<Prov>)> = None;
            for block in blocks {
                let actions = match &block.kind {
                    TreeKind::Unknown(u) => {
                        unknown.get_or_insert((u.input.clone(), block.prov.clone()));
                        continue;
                    }
                    _ => block.member("actions"),
                };
                let Some(actions) = actions else { continue };
                if let TreeKind::Unknown(u) = &actions.kind {
                    unknown.get_or_insert((u.input.clone(), actions.prov.clone()));
                    continue;
                }
                for a in actions.as_array().unwrap_or_default() {
                    match &a.kind {
                        TreeKind::String(s) if too_broad(s) => {
                            broad.push((s.clone(), a.prov.clone()));
                        }
                        TreeKind::Unknown(u) => {
                            unknown.get_or_insert((u.input.clone(), a.prov.clone()));
                        }
                        _ => {}
                    }
                }
            }
            if let Some((_, at)) = broad.first() {
                let list: Vec<String> = broad.iter().map(|(s, _)| format!("'{s}'")).collect();
                let mut f = Finding::new(
                    &Self::META,
                    rd,
                    format!(
                        "custom role '{name}' grants wildcard actions: {}",
                        list.join(", ")
                    ),
                )
                .with_fix(FIX);
                if let Some(at) = at {
                    f.at = at.clone();
                }
                out.push(f);
            } else if let Some((input, at)) = unknown {
                let mut f = Finding::new(
                    &Self::META,
                    rd,
                    format!("custom role '{name}' may grant wildcard actions"),
                )
                .with_fix(FIX);
                if let Some(at) = at {
                    f.at = at;
                }
                out.push(undecided(f, input, "an action is not known offline"));
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::Confidence;
    use crate::testing::{route, run, template};

    fn rd(props: &str) -> String {
        template(
            r#""act": {"type": "string"}"#,
            &format!(
                r#"{{"type": "Microsoft.Authorization/roleDefinitions", "apiVersion": "2022-04-01", "name": "[guid('r')]", "properties": {props}}}"#
            ),
        )
    }

    #[test]
    fn provider_wildcard_fails() {
        let f = run(
            &CustomRoleWildcardActions,
            &rd(
                r#"{"roleName": "ml-admin", "permissions": [{"actions": ["Microsoft.MachineLearningServices/workspaces/*/read", "Microsoft.MachineLearningServices/*"]}]}"#,
            ),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(
            route(&f[0]),
            "resources[0].properties.permissions[0].actions[1]"
        );
        assert!(
            f[0].message
                .contains("'Microsoft.MachineLearningServices/*'")
        );
        assert!(!f[0].message.contains("*/read"));
    }

    #[test]
    fn global_wildcard_fails_even_with_not_actions() {
        let f = run(
            &CustomRoleWildcardActions,
            &rd(
                r#"{"roleName": "almost-owner", "permissions": [{"actions": ["*"], "notActions": ["Microsoft.Authorization/*/Write"]}]}"#,
            ),
        );
        assert_eq!(f.len(), 1);
    }

    #[test]
    fn specific_actions_pass() {
        let f = run(
            &CustomRoleWildcardActions,
            &rd(
                r#"{"roleName": "restricted", "permissions": [{"actions": ["*/read", "Microsoft.MachineLearningServices/workspaces/*/read", "Microsoft.MachineLearningServices/workspaces/computes/start/action"]}]}"#,
            ),
        );
        assert!(f.is_empty());
    }

    #[test]
    fn absent_permissions_grant_nothing() {
        assert!(run(&CustomRoleWildcardActions, &rd(r#"{"roleName": "empty"}"#)).is_empty());
    }

    #[test]
    fn unknown_action_is_low_confidence() {
        let f = run(
            &CustomRoleWildcardActions,
            &rd(r#"{"roleName": "p", "permissions": [{"actions": ["[parameters('act')]"]}]}"#),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'act'"));
    }
}
