//! Shared helpers of the identity rules: built-in roles, role resolution,
//! action matching, assignment scope and principal type.

use amlguard_model::{Field, Model, Prov, Resource, ResourceKind, Tree, TreeKind};

use crate::logging::util::{Target, extension_target, field_input};
use crate::{Confidence, Finding, RuleMeta};

/// A built-in role amlguard knows. `actions`/`not_actions` are complete for
/// the roles of `docs/azure-ml-network.md` §5.1; for the other roles only the
/// actions that matter to amlguard are listed (those roles grant nothing under
/// `Microsoft.MachineLearningServices` and no global wildcard but `*/read`).
#[derive(Debug)]
pub(crate) struct Builtin {
    pub guid: &'static str,
    pub name: &'static str,
    pub actions: &'static [&'static str],
    pub not_actions: &'static [&'static str],
}

pub(crate) const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
pub(crate) const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";
pub(crate) const USER_ACCESS_ADMINISTRATOR: &str = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9";
pub(crate) const RBAC_ADMINISTRATOR: &str = "f58310d9-a9f6-439a-9e8d-f62e7b41a168";

const ML: &str = "Microsoft.MachineLearningServices";

/// Built-in roles by GUID. Sources: §5.1 of the domain notes (Owner,
/// Contributor, Reader, the AzureML and Azure AI roles); the GUIDs of the
/// others as used by Azure Verified Modules' `builtInRoleNames` maps.
pub(crate) const BUILTINS: &[Builtin] = &[
    Builtin {
        guid: OWNER,
        name: "Owner",
        actions: &["*"],
        not_actions: &[],
    },
    Builtin {
        guid: CONTRIBUTOR,
        name: "Contributor",
        actions: &["*"],
        not_actions: &[
            "Microsoft.Authorization/*/Delete",
            "Microsoft.Authorization/*/Write",
            "Microsoft.Authorization/elevateAccess/Action",
            "Microsoft.Blueprint/blueprintAssignments/write",
            "Microsoft.Blueprint/blueprintAssignments/delete",
            "Microsoft.Compute/galleries/share/action",
            "Microsoft.Purview/consents/write",
            "Microsoft.Purview/consents/delete",
        ],
    },
    Builtin {
        guid: "acdd72a7-3385-48ef-bd42-f606fba81ae7",
        name: "Reader",
        actions: &["*/read"],
        not_actions: &[],
    },
    Builtin {
        guid: USER_ACCESS_ADMINISTRATOR,
        name: "User Access Administrator",
        actions: &["*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"],
        not_actions: &[],
    },
    Builtin {
        guid: RBAC_ADMINISTRATOR,
        name: "Role Based Access Control Administrator",
        actions: &[
            "*/read",
            "Microsoft.Authorization/roleAssignments/write",
            "Microsoft.Authorization/roleAssignments/delete",
            "Microsoft.Support/*",
        ],
        not_actions: &[],
    },
    Builtin {
        guid: "f6c7c914-8db3-469d-8ca1-694a8f32e121",
        name: "AzureML Data Scientist",
        actions: &[
            "Microsoft.MachineLearningServices/workspaces/*/read",
            "Microsoft.MachineLearningServices/workspaces/*/action",
            "Microsoft.MachineLearningServices/workspaces/*/delete",
            "Microsoft.MachineLearningServices/workspaces/*/write",
        ],
        not_actions: &[
            "Microsoft.MachineLearningServices/workspaces/delete",
            "Microsoft.MachineLearningServices/workspaces/write",
            "Microsoft.MachineLearningServices/workspaces/computes/*/write",
            "Microsoft.MachineLearningServices/workspaces/computes/*/delete",
            "Microsoft.MachineLearningServices/workspaces/computes/listKeys/action",
            "Microsoft.MachineLearningServices/workspaces/listKeys/action",
            "Microsoft.MachineLearningServices/workspaces/hubs/write",
            "Microsoft.MachineLearningServices/workspaces/hubs/delete",
            "Microsoft.MachineLearningServices/workspaces/featurestores/write",
            "Microsoft.MachineLearningServices/workspaces/featurestores/delete",
        ],
    },
    Builtin {
        guid: "e503ece1-11d0-4e8e-8e2c-7a6c3bf38815",
        name: "AzureML Compute Operator",
        actions: &[
            "Microsoft.MachineLearningServices/workspaces/computes/*",
            "Microsoft.MachineLearningServices/workspaces/notebooks/vm/*",
        ],
        not_actions: &[],
    },
    Builtin {
        guid: "64702f94-c441-49e6-a78b-ef80e0188fee",
        name: "Azure AI Developer",
        actions: &[
            "Microsoft.MachineLearningServices/workspaces/*/read",
            "Microsoft.MachineLearningServices/workspaces/*/action",
            "Microsoft.MachineLearningServices/workspaces/*/delete",
            "Microsoft.MachineLearningServices/workspaces/*/write",
            "Microsoft.MachineLearningServices/locations/*/read",
            "Microsoft.Authorization/*/read",
            "Microsoft.Resources/deployments/*",
        ],
        not_actions: &[
            "Microsoft.MachineLearningServices/workspaces/delete",
            "Microsoft.MachineLearningServices/workspaces/write",
            "Microsoft.MachineLearningServices/workspaces/listKeys/action",
            "Microsoft.MachineLearningServices/workspaces/hubs/write",
            "Microsoft.MachineLearningServices/workspaces/hubs/delete",
            "Microsoft.MachineLearningServices/workspaces/featurestores/write",
            "Microsoft.MachineLearningServices/workspaces/featurestores/delete",
        ],
    },
    Builtin {
        guid: "1823dd4f-9b8c-4ab6-ab4e-7397a3684615",
        name: "AzureML Registry User",
        actions: &[
            "Microsoft.MachineLearningServices/registries/read",
            "Microsoft.MachineLearningServices/registries/assets/*",
        ],
        not_actions: &[],
    },
    Builtin {
        guid: "b556d68e-0be0-4f35-a333-ad7ee1ce17ea",
        name: "Azure AI Enterprise Network Connection Approver",
        // Only its Microsoft.MachineLearningServices actions are listed.
        actions: &[
            "Microsoft.MachineLearningServices/workspaces/privateEndpointConnectionsApproval/action",
            "Microsoft.MachineLearningServices/workspaces/privateEndpointConnections/read",
            "Microsoft.MachineLearningServices/workspaces/privateEndpointConnections/write",
            "Microsoft.MachineLearningServices/workspaces/privateLinkResources/read",
            "Microsoft.MachineLearningServices/workspaces/read",
        ],
        not_actions: &[],
    },
    // Roles of other services: nothing under Microsoft.MachineLearningServices.
    Builtin {
        guid: "4d97b98b-1d4f-4787-a291-c67834d212e7",
        name: "Network Contributor",
        actions: &[],
        not_actions: &[],
    },
    Builtin {
        guid: "b12aa53e-6015-4669-85d0-8515ebb3ae7f",
        name: "Private DNS Zone Contributor",
        actions: &[],
        not_actions: &[],
    },
    Builtin {
        guid: "befefa01-2a29-4197-83a8-272ff33ce314",
        name: "DNS Zone Contributor",
        actions: &[],
        not_actions: &[],
    },
    Builtin {
        guid: "00482a5a-887f-4fb3-b363-3b7fe8e74483",
        name: "Key Vault Administrator",
        actions: &[],
        not_actions: &[],
    },
    Builtin {
        guid: "a4417e6f-fecd-4de8-b567-7b0420556985",
        name: "Key Vault Certificates Officer",
        actions: &[],
        not_actions: &[],
    },
    Builtin {
        guid: "f25e0fa2-a7c8-4377-a976-54943a77a395",
        name: "Key Vault Contributor",
        actions: &[],
        not_actions: &[],
    },
    Builtin {
        guid: "14b46e9e-c2b7-41b4-b07b-48a6ebf60603",
        name: "Key Vault Crypto Officer",
        actions: &[],
        not_actions: &[],
    },
    Builtin {
        guid: "e147488a-f6f5-4113-8e2d-b22465e65bf6",
        name: "Key Vault Crypto Service Encryption User",
        actions: &[],
        not_actions: &[],
    },
    Builtin {
        guid: "12338af0-0e69-4776-bea7-57ae8d297424",
        name: "Key Vault Crypto User",
        actions: &[],
        not_actions: &[],
    },
    Builtin {
        guid: "21090545-7ca7-4776-b22c-e363652d74d2",
        name: "Key Vault Reader",
        actions: &[],
        not_actions: &[],
    },
    Builtin {
        guid: "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
        name: "Key Vault Secrets Officer",
        actions: &[],
        not_actions: &[],
    },
    Builtin {
        guid: "4633458b-17de-408a-b874-0445c86b69e6",
        name: "Key Vault Secrets User",
        actions: &[],
        not_actions: &[],
    },
    Builtin {
        guid: "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
        name: "Storage Blob Data Contributor",
        actions: &[],
        not_actions: &[],
    },
    Builtin {
        guid: "7f951dda-4ed3-4680-a7ca-43fe172d538d",
        name: "AcrPull",
        actions: &[],
        not_actions: &[],
    },
    Builtin {
        guid: "8311e382-0749-4cb8-b61a-304f252e45ec",
        name: "AcrPush",
        actions: &[],
        not_actions: &[],
    },
];

/// The GUID at the end of a role definition ID (or the text itself).
pub(crate) fn role_guid(id: &str) -> &str {
    id.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(id)
        .trim()
}

/// A built-in role by GUID.
pub(crate) fn builtin(guid: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.guid.eq_ignore_ascii_case(guid))
}

/// The role an assignment names.
#[derive(Debug)]
pub(crate) enum Role<'a> {
    Builtin(&'static Builtin),
    /// A custom role declared (and deployed) in this input.
    Custom(&'a Resource),
    /// A GUID that is neither a built-in role amlguard knows nor declared here.
    Unlisted(String),
}

impl Role<'_> {
    /// A name for messages.
    pub fn display(&self) -> String {
        match self {
            Role::Builtin(b) => format!("'{}'", b.name),
            Role::Custom(r) => match r.get("properties.roleName").str() {
                Some(n) => format!("custom role '{n}'"),
                None => format!("custom role '{}'", r.display_name()),
            },
            Role::Unlisted(g) => format!("role definition '{g}'"),
        }
    }
}

/// The role a role assignment names: `Err` carries the `roleDefinitionId`
/// field when it is not known offline (or absent).
pub(crate) fn assignment_role<'a>(m: &'a Model, ra: &'a Resource) -> Result<Role<'a>, Field<'a>> {
    let f = ra.get("properties.roleDefinitionId");
    let Some(id) = f.str() else { return Err(f) };
    let guid = role_guid(id);
    if let Some(b) = builtin(guid) {
        return Ok(Role::Builtin(b));
    }
    let custom = m.of_kind(ResourceKind::RoleDefinition).find(|d| {
        let by_name = d
            .name
            .as_deref()
            .is_some_and(|n| role_guid(n).eq_ignore_ascii_case(guid));
        let by_id =
            d.id.as_deref()
                .is_some_and(|i| role_guid(i).eq_ignore_ascii_case(guid));
        by_name || by_id
    });
    Ok(match custom {
        Some(d) => Role::Custom(d),
        None => Role::Unlisted(guid.to_string()),
    })
}

/// Whether a role grants an action.
#[derive(Debug)]
pub(crate) enum Grant {
    /// Granted by this action pattern; `at` is where it is written (custom roles).
    Yes {
        pattern: String,
        at: Option<Prov>,
    },
    No,
    /// Not known offline.
    Undecided {
        input: Option<String>,
        why: String,
    },
}

/// Whether `role` grants `action` (a control-plane action, e.g.
/// `Microsoft.MachineLearningServices/workspaces/computes/write`).
pub(crate) fn grants(role: &Role<'_>, action: &str) -> Grant {
    match role {
        Role::Builtin(b) => {
            if b.not_actions.iter().any(|p| action_matches(p, action)) {
                return Grant::No;
            }
            match b.actions.iter().find(|p| action_matches(p, action)) {
                Some(p) => Grant::Yes {
                    pattern: (*p).to_string(),
                    at: None,
                },
                None => Grant::No,
            }
        }
        Role::Unlisted(g) => Grant::Undecided {
            input: None,
            why: format!(
                "role definition '{g}' is not a built-in role amlguard knows and is not declared in this input"
            ),
        },
        Role::Custom(d) => custom_grants(d, action),
    }
}

fn custom_grants(d: &Resource, action: &str) -> Grant {
    let perms = d.get("properties.permissions");
    let blocks = match &perms {
        Field::Known(t) => match t.as_array() {
            Some(b) => b,
            None => return Grant::No,
        },
        Field::Unknown { value, .. } => {
            return Grant::Undecided {
                input: value.input.clone(),
                why: "the permissions of the custom role are not known offline".into(),
            };
        }
        Field::Absent { .. } => return Grant::No,
    };
    let mut undecided: Option<Option<String>> = None;
    for block in blocks {
        if let TreeKind::Unknown(u) = &block.kind {
            undecided.get_or_insert(u.input.clone());
            continue;
        }
        let (not_match, not_unknown) = scan(block.member("notActions"), action);
        if not_match.is_some() {
            continue;
        }
        let (hit, unknown) = scan(block.member("actions"), action);
        match (hit, not_unknown, unknown) {
            (Some(t), None, _) => {
                return Grant::Yes {
                    pattern: t.as_str().unwrap_or_default().to_string(),
                    at: t.prov.clone(),
                };
            }
            (Some(_), Some(i), _) | (None, _, Some(i)) => {
                undecided.get_or_insert(i);
            }
            (None, _, None) => {}
        }
    }
    match undecided {
        Some(input) => Grant::Undecided {
            input,
            why: "an action of the custom role is not known offline".into(),
        },
        None => Grant::No,
    }
}

/// The first pattern of a list that matches `action`, and whether an
/// element is not known offline (with its deciding input).
fn scan<'t>(list: Option<&'t Tree>, action: &str) -> (Option<&'t Tree>, Option<Option<String>>) {
    let mut unknown = None;
    let Some(list) = list else {
        return (None, None);
    };
    if let TreeKind::Unknown(u) = &list.kind {
        return (None, Some(u.input.clone()));
    }
    for item in list.as_array().unwrap_or_default() {
        match &item.kind {
            TreeKind::String(p) if action_matches(p, action) => return (Some(item), unknown),
            TreeKind::Unknown(u) => {
                unknown.get_or_insert(u.input.clone());
            }
            _ => {}
        }
    }
    (None, unknown)
}

/// Longest action pattern or action compared (longer ones never match).
const MAX_ACTION_LEN: usize = 512;

/// Azure RBAC action matching, case-insensitive: `*` matches any run of
/// characters (slashes included). A `/*/` segment also matches a single `/`,
/// so `…/computes/*/write` covers `…/computes/write`: Microsoft documents
/// that the AzureML Data Scientist role, whose notActions use that form,
/// cannot create compute.
pub(crate) fn action_matches(pattern: &str, action: &str) -> bool {
    let p = pattern.trim().as_bytes();
    let t = action.trim().as_bytes();
    if p.len() > MAX_ACTION_LEN || t.len() > MAX_ACTION_LEN {
        return false;
    }
    let (n, m) = (p.len(), t.len());
    // dp[i * (m + 1) + j]: p[i..] matches t[j..].
    let w = m + 1;
    let mut dp = vec![false; (n + 1) * w];
    let set = |dp: &mut Vec<bool>, i: usize, j: usize, v: bool| {
        if let Some(c) = dp.get_mut(i * w + j) {
            *c = v;
        }
    };
    let get = |dp: &Vec<bool>, i: usize, j: usize| dp.get(i * w + j).copied().unwrap_or(false);
    set(&mut dp, n, m, true);
    for i in (0..n).rev() {
        for j in (0..=m).rev() {
            let pc = p.get(i).copied().unwrap_or(0);
            let mut v = if pc == b'*' {
                get(&dp, i + 1, j) || (j < m && get(&dp, i, j + 1))
            } else {
                j < m
                    && t.get(j).is_some_and(|tc| tc.eq_ignore_ascii_case(&pc))
                    && get(&dp, i + 1, j + 1)
            };
            if !v && p.get(i..i + 3) == Some(b"/*/") {
                v = get(&dp, i + 2, j);
            }
            set(&mut dp, i, j, v);
        }
    }
    get(&dp, 0, 0)
}

/// `Microsoft.MachineLearningServices/<suffix>`.
pub(crate) fn ml_action(suffix: &str) -> String {
    format!("{ML}/{suffix}")
}

/// The scope of a role assignment.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Scope {
    /// The tenant root (`/`).
    Root,
    ManagementGroup,
    Subscription,
    ResourceGroup,
    /// A resource (or a relative resource path).
    Resource(String),
    /// Not known offline; the input that decides it.
    Undecided(Option<String>),
}

impl Scope {
    pub fn describe(&self) -> String {
        match self {
            Scope::Root => "the tenant root".into(),
            Scope::ManagementGroup => "a management group".into(),
            Scope::Subscription => "the subscription".into(),
            Scope::ResourceGroup => "the resource group".into(),
            Scope::Resource(r) => format!("resource '{r}'"),
            Scope::Undecided(_) => "a scope not known offline".into(),
        }
    }
    /// Resource group or wider.
    pub fn broad(&self) -> Option<bool> {
        match self {
            Scope::Root | Scope::ManagementGroup | Scope::Subscription | Scope::ResourceGroup => {
                Some(true)
            }
            Scope::Resource(_) => Some(false),
            Scope::Undecided(_) => None,
        }
    }
    /// The scope can contain an AML workspace: a workspace (or something in
    /// it), or a resource group or wider.
    pub fn may_hold_workspace(&self) -> Option<bool> {
        match self {
            Scope::Resource(r) => Some(
                r.to_ascii_lowercase()
                    .contains("microsoft.machinelearningservices/workspaces/"),
            ),
            Scope::Undecided(_) => None,
            _ => Some(true),
        }
    }
}

/// Classifies a scope ID.
pub(crate) fn classify_scope(s: &str) -> Scope {
    let segs: Vec<&str> = s.split('/').filter(|x| !x.is_empty()).collect();
    let is = |i: usize, w: &str| segs.get(i).is_some_and(|x| x.eq_ignore_ascii_case(w));
    match segs.len() {
        0 => Scope::Root,
        2 if is(0, "subscriptions") => Scope::Subscription,
        4 if is(0, "subscriptions") && is(2, "resourceGroups") => Scope::ResourceGroup,
        4 if is(0, "providers") && is(1, "Microsoft.Management") && is(2, "managementGroups") => {
            Scope::ManagementGroup
        }
        _ => Scope::Resource(s.to_string()),
    }
}

/// The scope of a role assignment: its `scope`, else where it is deployed
/// (read from its own ID).
pub(crate) fn assignment_scope(ra: &Resource) -> Scope {
    match extension_target(ra) {
        Target::Known(s) => classify_scope(&s),
        Target::Undecided(i) => Scope::Undecided(i),
    }
}

/// The principal type of a role assignment.
#[derive(Debug)]
pub(crate) enum Principal {
    /// `User`, `Group` or `ForeignGroup`: people.
    People(String),
    /// `ServicePrincipal`, `Device`, …
    Other,
    /// Not declared: Azure looks the principal up at deployment.
    Absent,
    Undecided(Option<String>),
}

pub(crate) fn principal_type(ra: &Resource) -> Principal {
    let f = ra.get("properties.principalType");
    match &f {
        Field::Known(t) => match t.as_str() {
            Some(s)
                if ["User", "Group", "ForeignGroup"]
                    .iter()
                    .any(|p| p.eq_ignore_ascii_case(s)) =>
            {
                Principal::People(s.to_string())
            }
            Some(_) => Principal::Other,
            None => Principal::Undecided(field_input(&f)),
        },
        Field::Absent { .. } => Principal::Absent,
        Field::Unknown { value, .. } => Principal::Undecided(value.input.clone()),
    }
}

/// The principal ID for messages.
pub(crate) fn principal_id(ra: &Resource) -> String {
    match ra.get("properties.principalId").str() {
        Some(p) => format!("'{p}'"),
        None => "(principal ID not known offline)".into(),
    }
}

/// Reports role assignments that give people (principal type `User`, `Group`,
/// `ForeignGroup`, or not declared) a role granting any of `actions` at a
/// scope that can hold a workspace. `what` says what the actions allow.
pub(crate) fn check_grants(
    m: &Model,
    out: &mut Vec<Finding>,
    meta: &'static RuleMeta,
    actions: &[String],
    what: &str,
    fix: &str,
) {
    for ra in m.of_kind(ResourceKind::RoleAssignment) {
        let mut inputs: Vec<(Option<String>, String)> = Vec::new();
        let mut medium = false;
        let who = match principal_type(ra) {
            Principal::Other => continue,
            Principal::People(t) => t,
            Principal::Absent => {
                medium = true;
                "principal type not declared".to_string()
            }
            Principal::Undecided(i) => {
                inputs.push((i, "the principal type is not known offline".into()));
                "principal type not known offline".to_string()
            }
        };
        let scope = assignment_scope(ra);
        match (scope.may_hold_workspace(), &scope) {
            (Some(false), _) => continue,
            (None, Scope::Undecided(i)) => {
                inputs.push((i.clone(), "the scope is not known offline".into()));
            }
            _ => {}
        }
        let role_field = ra.get("properties.roleDefinitionId");
        let (role_text, granted, related) = match assignment_role(m, ra) {
            Err(Field::Absent { .. }) => continue,
            Err(f) => {
                inputs.insert(
                    0,
                    (
                        field_input(&f),
                        "the role definition ID is not known offline".into(),
                    ),
                );
                ("a role not known offline".to_string(), Vec::new(), None)
            }
            Ok(role) => {
                let mut granted = Vec::new();
                let mut related = None;
                let mut role_undecided = None;
                for a in actions {
                    match grants(&role, a) {
                        Grant::Yes { pattern, at } => {
                            if related.is_none() {
                                related = at.map(|p| (p, pattern));
                            }
                            granted.push(a.clone());
                        }
                        Grant::No => {}
                        Grant::Undecided { input, why } => {
                            role_undecided.get_or_insert((input, why));
                        }
                    }
                }
                if granted.is_empty() {
                    match role_undecided {
                        Some(u) => inputs.insert(0, u),
                        None => continue,
                    }
                }
                (role.display(), granted, related)
            }
        };
        let acts = if granted.is_empty() {
            actions.join(", ")
        } else {
            granted.join(", ")
        };
        let mut f = Finding::new(
            meta,
            ra,
            format!(
                "role assignment '{}' gives {role_text} to principal {} ({who}), which can {what} ({acts})",
                ra.display_name(),
                principal_id(ra),
            ),
        )
        .at_field(&role_field)
        .with_fix(fix);
        if let Some((at, pattern)) = related {
            f = f.related(at, format!("the role grants it through '{pattern}'"));
        }
        match inputs.into_iter().next() {
            Some((input, why)) => out.push(crate::logging::util::undecided(f, input, &why)),
            None => {
                if medium {
                    f.confidence = f.confidence.min(Confidence::Medium);
                }
                out.push(f);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_like_azure_rbac() {
        let cw = "Microsoft.MachineLearningServices/workspaces/computes/write";
        assert!(action_matches("*", cw));
        assert!(action_matches("microsoft.machinelearningservices/*", cw));
        assert!(action_matches(
            "Microsoft.MachineLearningServices/workspaces/*/write",
            cw
        ));
        assert!(action_matches(
            "Microsoft.MachineLearningServices/workspaces/computes/*",
            cw
        ));
        assert!(action_matches(
            "Microsoft.MachineLearningServices/workspaces/computes/*/write",
            cw
        ));
        assert!(!action_matches("*/read", cw));
        assert!(!action_matches(
            "Microsoft.MachineLearningServices/workspaces/datastores/*",
            cw
        ));
        assert!(!action_matches(&"*".repeat(600), cw));
    }

    #[test]
    fn builtins_follow_the_documented_permissions() {
        let cw = ml_action("workspaces/computes/write");
        let dw = ml_action("workspaces/datastores/write");
        let role = |g: &str| Role::Builtin(builtin(g).unwrap());
        let yes = |r: &Role<'_>, a: &str| matches!(grants(r, a), Grant::Yes { .. });
        // Data Scientist: no compute, but datastores.
        let ds = role("f6c7c914-8db3-469d-8ca1-694a8f32e121");
        assert!(!yes(&ds, &cw));
        assert!(yes(&ds, &dw));
        // AI Developer: compute too.
        let aid = role("64702f94-c441-49e6-a78b-ef80e0188fee");
        assert!(yes(&aid, &cw));
        // Compute Operator: compute only.
        let co = role("e503ece1-11d0-4e8e-8e2c-7a6c3bf38815");
        assert!(yes(&co, &cw));
        assert!(!yes(&co, &dw));
        assert!(yes(&role(CONTRIBUTOR), &cw));
        assert!(!yes(&role("acdd72a7-3385-48ef-bd42-f606fba81ae7"), &cw));
    }

    #[test]
    fn scopes_are_classified() {
        assert_eq!(classify_scope("/subscriptions/s"), Scope::Subscription);
        assert_eq!(
            classify_scope("/subscriptions/s/resourceGroups/rg"),
            Scope::ResourceGroup
        );
        assert_eq!(
            classify_scope("/providers/Microsoft.Management/managementGroups/mg"),
            Scope::ManagementGroup
        );
        assert!(matches!(
            classify_scope("Microsoft.Storage/storageAccounts/sa"),
            Scope::Resource(_)
        ));
    }
}
