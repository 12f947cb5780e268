use std::collections::HashSet;

use amlguard_model::{Field, Model, Prov, Resource, ResourceKind};

use super::util::{log_coverage, settings_for, undecided};
use crate::{Finding, Rule, declare_rule};

declare_rule! {
    /// ## What it checks
    /// The storage account, Key Vault and container registry that a workspace
    /// links (`properties.storageAccount`, `properties.keyVault`,
    /// `properties.containerRegistry`), when they are deployed by the same input:
    /// each needs a diagnostic setting that enables at least one log category
    /// (or `allLogs`). For the storage account the setting must target its blob
    /// service, `<account>/blobServices/default`: a setting on the account itself
    /// carries metrics only. Linked resources that the input does not deploy
    /// (`existing` ones, or IDs of resources declared elsewhere) are not checked.
    /// A link, target, condition or log entry that is not known offline gives a
    /// finding with confidence low.
    ///
    /// ## Why it matters
    /// The workspace's data lives in its storage account, its secrets in the Key
    /// Vault and its images in the registry. Their resource logs (blob reads and
    /// writes, secret reads, image pulls and pushes) show who took data out,
    /// including through credentials that bypass the workspace.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.MachineLearningServices/workspaces", "name": "ws",
    ///  "properties": {"storageAccount": "[resourceId('Microsoft.Storage/storageAccounts', 'sa')]"}}
    /// ```
    /// with no diagnostic setting scoped to `Microsoft.Storage/storageAccounts/sa/blobServices/default`.
    ///
    /// ## Fix
    /// ARM: `{"type": "Microsoft.Insights/diagnosticSettings", "apiVersion": "2021-05-01-preview", "name": "blob-logs", "scope": "[format('Microsoft.Storage/storageAccounts/{0}/blobServices/default', 'sa')]", "properties": {"workspaceId": "[parameters('logAnalyticsId')]", "logs": [{"categoryGroup": "allLogs", "enabled": true}]}}`
    /// (and the same with the Key Vault's or registry's ID as `scope`).
    /// Bicep: a `Microsoft.Insights/diagnosticSettings` resource with `scope: blobService` (or `scope: keyVault`, `scope: registry`).
    /// Terraform: `azurerm_monitor_diagnostic_setting` with `target_resource_id = "${azurerm_storage_account.sa.id}/blobServices/default"` and `enabled_log { category_group = "allLogs" }`.
    ///
    /// ## References
    /// MCSB LT-3; PSRule Azure.KeyVault.Logs (Key Vault only). No peer checks
    /// the logs of the storage account or registry that a workspace uses.
    pub struct DataServiceWithoutDiagnosticSettings {
        code: 704,
        name: "data-service-without-diagnostic-settings",
        title: "A storage account, Key Vault or registry linked to the workspace keeps no resource logs",
        severity: Medium,
        confidence: High,
        category: Logging,
        references: ["MCSB LT-3", "PSRule Azure.KeyVault.Logs"],
    }
}

struct Link {
    prop: &'static str,
    kind: ResourceKind,
    /// Appended to the resource's ID to get the diagnostic target.
    suffix: &'static str,
    label: &'static str,
}

const LINKS: &[Link] = &[
    Link {
        prop: "properties.storageAccount",
        kind: ResourceKind::StorageAccount,
        suffix: "/blobServices/default",
        label: "storage account",
    },
    Link {
        prop: "properties.keyVault",
        kind: ResourceKind::KeyVault,
        suffix: "",
        label: "Key Vault",
    },
    Link {
        prop: "properties.containerRegistry",
        kind: ResourceKind::ContainerRegistry,
        suffix: "",
        label: "container registry",
    },
];

/// Checks one data service; `link_input` is set when the link itself is not known offline.
fn check_service(
    m: &Model,
    r: &Resource,
    link: &Link,
    ws: &Resource,
    link_at: Option<Prov>,
    link_input: Option<Option<String>>,
    out: &mut Vec<Finding>,
) {
    let Some(id) = &r.id else { return };
    let target = format!("{id}{}", link.suffix);
    let s = settings_for(m, &target);
    let cov = log_coverage(&s.matched);
    if cov.any_enabled() {
        return;
    }
    let where_ = if link.suffix.is_empty() {
        String::new()
    } else {
        format!(
            " on its blob service ({})",
            link.suffix.trim_start_matches('/')
        )
    };
    let fix = format!(
        "add a Microsoft.Insights/diagnosticSettings resource scoped to the {}{} that enables categoryGroup 'allLogs'",
        link.label,
        if link.suffix.is_empty() {
            ""
        } else {
            "'s blobServices/default"
        }
    );
    let mut f = match s.matched.first() {
        None => Finding::new(
            &DataServiceWithoutDiagnosticSettings::META,
            r,
            format!(
                "{} '{}' used by workspace '{}' has no diagnostic setting{where_}",
                link.label,
                r.display_name(),
                ws.display_name()
            ),
        ),
        Some(first) => Finding::new(
            &DataServiceWithoutDiagnosticSettings::META,
            first,
            format!(
                "the diagnostic settings of {} '{}' (used by workspace '{}') enable no logs",
                link.label,
                r.display_name(),
                ws.display_name()
            ),
        )
        .at_field(&first.get("properties.logs")),
    }
    .with_fix(fix);
    if let Some(at) = link_at {
        f = f.related(at, format!("linked from workspace '{}'", ws.display_name()));
    }
    if let Some(input) = link_input {
        out.push(undecided(
            f,
            input,
            "the workspace's link is not known offline",
        ));
        return;
    }
    let input = cov
        .first_input()
        .or_else(|| s.undecided.iter().find_map(|(_, i)| i.clone()));
    if !cov.undecided.is_empty() || !s.undecided.is_empty() {
        out.push(undecided(
            f,
            input,
            "a diagnostic setting or log entry is not known offline",
        ));
    } else {
        out.push(f);
    }
}

impl Rule for DataServiceWithoutDiagnosticSettings {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        let mut seen: HashSet<String> = HashSet::new();
        // Known links first, so that a resource linked by one workspace for sure
        // is not reported as "possibly" linked by another.
        for ws in m.of_kind(ResourceKind::Workspace) {
            for link in LINKS {
                let f = ws.get(link.prop);
                let Some(id) = f.str() else { continue };
                let Some(r) = m.get(id) else { continue };
                if !r.deployed() || r.kind != link.kind {
                    continue;
                }
                let key = r.id.as_deref().unwrap_or(id).to_ascii_lowercase();
                if !seen.insert(key) {
                    continue;
                }
                check_service(m, r, link, ws, f.at().cloned(), None, out);
            }
        }
        for ws in m.of_kind(ResourceKind::Workspace) {
            for link in LINKS {
                let f = ws.get(link.prop);
                let Field::Unknown { value, at } = &f else {
                    continue;
                };
                for r in m.of_kind(link.kind) {
                    let Some(id) = &r.id else { continue };
                    if !seen.insert(id.to_ascii_lowercase()) {
                        continue;
                    }
                    check_service(
                        m,
                        r,
                        link,
                        ws,
                        Some(at.clone()),
                        Some(value.input.clone()),
                        out,
                    );
                }
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

    fn text(ws_props: &str, more: &str) -> String {
        template(
            r#""kv": {"type": "string"}"#,
            &format!(
                r#"{{"type": "Microsoft.MachineLearningServices/workspaces", "apiVersion": "2024-04-01", "name": "ws", "location": "eastus", "properties": {ws_props}}},
                {{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "sa", "location": "eastus", "kind": "StorageV2", "sku": {{"name": "Standard_LRS"}}, "properties": {{}}}},
                {{"type": "Microsoft.KeyVault/vaults", "apiVersion": "2023-07-01", "name": "kv", "location": "eastus", "properties": {{}}}}{more}"#
            ),
        )
    }

    const LINKED: &str = r#"{"storageAccount": "[resourceId('Microsoft.Storage/storageAccounts', 'sa')]", "keyVault": "[resourceId('Microsoft.KeyVault/vaults', 'kv')]"}"#;

    fn diag(scope: &str, logs: &str) -> String {
        format!(
            r#", {{"type": "Microsoft.Insights/diagnosticSettings", "apiVersion": "2021-05-01-preview", "name": "d", "scope": "{scope}", "properties": {{"workspaceId": "la" {logs}}}}}"#
        )
    }

    const ALL: &str = r#", "logs": [{"categoryGroup": "allLogs", "enabled": true}]"#;

    #[test]
    fn linked_services_without_settings_fail() {
        let f = run(&DataServiceWithoutDiagnosticSettings, &text(LINKED, ""));
        assert_eq!(f.len(), 2);
        assert_eq!(route(&f[0]), "resources[1]");
        assert!(f[0].message.contains("blobServices/default"));
        assert_eq!(
            f[0].related[0].at.route.to_string(),
            "resources[0].properties.storageAccount"
        );
        assert_eq!(route(&f[1]), "resources[2]");
        assert!(f[1].message.contains("Key Vault 'kv'"));
    }

    #[test]
    fn settings_with_logs_pass() {
        let more = format!(
            "{}{}",
            diag(
                "Microsoft.Storage/storageAccounts/sa/blobServices/default",
                ALL
            ),
            diag("[resourceId('Microsoft.KeyVault/vaults', 'kv')]", ALL)
        );
        assert!(run(&DataServiceWithoutDiagnosticSettings, &text(LINKED, &more)).is_empty());
    }

    #[test]
    fn a_setting_on_the_account_or_without_logs_does_not_count() {
        let more = format!(
            "{}{}",
            diag("Microsoft.Storage/storageAccounts/sa", ALL),
            diag(
                "[resourceId('Microsoft.KeyVault/vaults', 'kv')]",
                r#", "metrics": [{"category": "AllMetrics", "enabled": true}]"#
            )
        );
        let f = run(&DataServiceWithoutDiagnosticSettings, &text(LINKED, &more));
        assert_eq!(f.len(), 2);
        assert!(f[1].absent);
        assert_eq!(route(&f[1]), "resources[4].properties");
        assert!(f[1].message.contains("enable no logs"));
    }

    #[test]
    fn unlinked_or_absent_links_are_not_checked() {
        assert!(run(&DataServiceWithoutDiagnosticSettings, &text("{}", "")).is_empty());
    }

    #[test]
    fn unknown_link_is_low_confidence() {
        let f = run(
            &DataServiceWithoutDiagnosticSettings,
            &text(r#"{"keyVault": "[parameters('kv')]"}"#, ""),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'kv'"));
    }
}
