//! Helpers shared by the data-service rules.

use amlguard_model::{Field, Model, Resource, ResourceKind, Tree};

use crate::{Check, Finding, Related, RuleMeta, report};

/// True when the resource's API version is known and earlier than `date`
/// (`YYYY-MM-DD`; a `-preview` suffix is ignored). An unknown API version counts
/// as current, so the newest API's defaults apply.
pub(crate) fn api_before(r: &Resource, date: &str) -> bool {
    r.api_version
        .as_deref()
        .map(str::trim)
        .is_some_and(|v| v.get(..10).unwrap_or(v) < date)
}

/// Two conditions that must both hold for a finding (e.g. "public access not
/// disabled" and "firewall not Deny"): either one passing passes; both failing
/// fail (located at the first); otherwise the first undecided one decides.
pub(crate) fn both<'a>(a: Check<'a>, b: Check<'a>) -> Check<'a> {
    match (a, b) {
        (Check::Pass, _) | (_, Check::Pass) => Check::Pass,
        (Check::Fail(f), Check::Fail(_)) => Check::Fail(f),
        (Check::Unknown(f), _) | (_, Check::Unknown(f)) => Check::Unknown(f),
    }
}

/// A string field is one of `values` (case-insensitive).
pub(crate) fn is_one_of(t: &Tree, values: &[&str]) -> bool {
    t.as_str()
        .is_some_and(|s| values.iter().any(|v| v.eq_ignore_ascii_case(s.trim())))
}

/// How a field reads in a message: its value, "absent (default …)", or "not known offline".
pub(crate) fn describe(f: &Field<'_>, default: &str) -> String {
    match f {
        Field::Known(t) if t.contains_unknown() => "not known offline".to_string(),
        Field::Known(t) => t.to_string(),
        Field::Absent { .. } => format!("absent (Azure's default: {default})"),
        Field::Unknown { value, .. } if value.secret => "<secret>".to_string(),
        Field::Unknown { .. } => "not known offline".to_string(),
    }
}

/// A related location for a field: where it is written, or where it would be.
pub(crate) fn related_field(f: &Field<'_>, message: impl Into<String>) -> Option<Related> {
    f.at().map(|at| Related {
        at: at.clone(),
        message: message.into(),
    })
}

/// The workspaces that name `r` in one of their dependency properties
/// (`properties.storageAccount`, `properties.keyVault`, `properties.containerRegistry`),
/// as related locations: the finding then shows which workspace depends on it.
pub(crate) fn workspace_links(m: &Model, r: &Resource, property: &str, role: &str) -> Vec<Related> {
    let Some(id) = r.id.as_deref() else {
        return Vec::new();
    };
    m.of_kind(ResourceKind::Workspace)
        .filter_map(|ws| {
            let f = ws.get(property);
            let linked = f.str().is_some_and(|v| v.trim().eq_ignore_ascii_case(id));
            if !linked {
                return None;
            }
            related_field(
                &f,
                format!("workspace '{}' uses this as its {role}", ws.display_name()),
            )
        })
        .collect()
}

/// The parent resource of a child (a datastore's or connection's workspace), as a related location.
pub(crate) fn parent_link(m: &Model, r: &Resource) -> Option<Related> {
    let parent = r.parent_id().and_then(|p| m.get(&p))?;
    Some(Related {
        at: parent.prov.clone(),
        message: format!("declared in workspace '{}'", parent.display_name()),
    })
}

/// [`report`] with related locations attached to the finding it produces.
pub(crate) fn report_related(
    out: &mut Vec<Finding>,
    rule: &'static RuleMeta,
    r: &Resource,
    check: Check<'_>,
    message: impl Into<String>,
    fix: &str,
    related: Vec<Related>,
) {
    let mut found = Vec::new();
    report(&mut found, rule, r, check, message, fix);
    for mut f in found {
        f.related.extend(related.iter().cloned());
        out.push(f);
    }
}

/// Resource texts for the tests of this folder.
#[cfg(test)]
pub(crate) mod fixtures {
    /// A storage account with an API version and a `properties` object text.
    pub(crate) fn storage(api: &str, props: &str) -> String {
        format!(
            r#"{{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "{api}", "name": "sa", "location": "eastus", "sku": {{"name": "Standard_LRS"}}, "kind": "StorageV2", "properties": {props}}}"#
        )
    }
    /// A Key Vault with an API version and a `properties` object text (tenant and SKU added).
    pub(crate) fn vault(api: &str, props: &str) -> String {
        let extra = props.trim().trim_start_matches('{').trim();
        let sep = if extra.starts_with('}') { "" } else { ", " };
        format!(
            r#"{{"type": "Microsoft.KeyVault/vaults", "apiVersion": "{api}", "name": "kv", "location": "eastus", "properties": {{"tenantId": "[subscription().tenantId]", "sku": {{"family": "A", "name": "standard"}}{sep}{extra}}}"#
        )
    }
    /// A Premium container registry with a `properties` object text.
    pub(crate) fn registry(props: &str) -> String {
        format!(
            r#"{{"type": "Microsoft.ContainerRegistry/registries", "apiVersion": "2025-04-01", "name": "acr", "location": "eastus", "sku": {{"name": "Premium"}}, "properties": {props}}}"#
        )
    }
    /// A workspace that names the account `sa`, the vault `kv` and the registry `acr` of the fixtures.
    pub(crate) fn workspace() -> String {
        r#"{"type": "Microsoft.MachineLearningServices/workspaces", "apiVersion": "2024-04-01", "name": "ws", "location": "eastus", "identity": {"type": "SystemAssigned"}, "properties": {"storageAccount": "[resourceId('Microsoft.Storage/storageAccounts', 'sa')]", "keyVault": "[resourceId('Microsoft.KeyVault/vaults', 'kv')]", "containerRegistry": "[resourceId('Microsoft.ContainerRegistry/registries', 'acr')]"}}"#.to_string()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::testing::{model, template};

    fn sa(api: &str) -> Resource {
        let m = model(&template("", &fixtures::storage(api, "{}")));
        m.resources[0].clone()
    }

    #[test]
    fn api_versions_compare_by_date() {
        assert!(api_before(&sa("2022-09-01"), "2023-01-01"));
        assert!(api_before(&sa("2022-12-31-preview"), "2023-01-01"));
        assert!(!api_before(&sa("2023-01-01"), "2023-01-01"));
        assert!(!api_before(&sa("2025-06-01"), "2023-01-01"));
        let mut r = sa("2021-01-01");
        r.api_version = None;
        assert!(!api_before(&r, "2023-01-01"));
    }
}
