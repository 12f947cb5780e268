use amlguard_model::{Model, ResourceKind};

use super::util::{
    field_input, has_workspace, log_coverage, settings_for, settings_for_unnamed, undecided,
};
use crate::{Finding, Rule, declare_rule};

declare_rule! {
    /// ## What it checks
    /// In a deployment with an AML workspace, every Azure Firewall
    /// (`Microsoft.Network/azureFirewalls`) needs a diagnostic setting that
    /// enables at least one log category — the rule logs
    /// (`AzureFirewallApplicationRule`, `AzureFirewallNetworkRule`,
    /// `AzureFirewallDnsProxy`, or the structured `AZFW*` tables) or `allLogs`.
    /// Without a diagnostic setting Azure keeps no firewall logs (there is no
    /// default one). A setting whose target, condition or log entries are not
    /// known offline gives a finding with confidence low.
    ///
    /// ## Why it matters
    /// When compute egress is forced through the firewall, its application and
    /// network rule logs are the record of every destination compute reached or
    /// tried to reach — the first place to look for data leaving through an
    /// allowed FQDN, and the evidence that a deny rule worked.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.Network/azureFirewalls", "name": "fw", "properties": {"firewallPolicy": {"id": "…"}}}
    /// ```
    /// with no `Microsoft.Insights/diagnosticSettings` scoped to it.
    ///
    /// ## Fix
    /// ARM: `{"type": "Microsoft.Insights/diagnosticSettings", "apiVersion": "2021-05-01-preview", "name": "fw-logs", "scope": "[resourceId('Microsoft.Network/azureFirewalls', 'fw')]", "properties": {"workspaceId": "[parameters('logAnalyticsId')]", "logAnalyticsDestinationType": "Dedicated", "logs": [{"categoryGroup": "allLogs", "enabled": true}]}}`.
    /// Bicep: a `Microsoft.Insights/diagnosticSettings` resource with `scope: firewall` and `logs: [ { categoryGroup: 'allLogs', enabled: true } ]`.
    /// Terraform: `azurerm_monitor_diagnostic_setting` with `target_resource_id = azurerm_firewall.fw.id` and `enabled_log { category_group = "allLogs" }`.
    ///
    /// ## References
    /// MCSB LT-4 (network logging). No peer in amlguard's sources checks
    /// firewall logs, and no built-in Azure Policy definition for them is listed there.
    pub struct FirewallLogsMissing {
        code: 706,
        name: "firewall-logs-missing",
        title: "The Azure Firewall keeps no logs",
        severity: Medium,
        confidence: High,
        category: Logging,
        references: ["MCSB LT-4"],
    }
}

const FIX: &str = "add a Microsoft.Insights/diagnosticSettings resource scoped to the firewall that enables categoryGroup 'allLogs' and sends them to Log Analytics";

impl Rule for FirewallLogsMissing {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        if !has_workspace(m) {
            return;
        }
        for fw in m.of_kind(ResourceKind::AzureFirewall) {
            let (s, name_input) = match &fw.id {
                Some(id) => (settings_for(m, id), None),
                None => (
                    settings_for_unnamed(m, "Microsoft.Network/azureFirewalls/"),
                    field_input(&fw.get("name")),
                ),
            };
            let cov = log_coverage(&s.matched);
            if cov.any_enabled() {
                continue;
            }
            let f = match s.matched.first() {
                None => Finding::new(
                    &Self::META,
                    fw,
                    format!(
                        "Azure Firewall '{}' has no diagnostic setting: its rule logs are not kept",
                        fw.display_name()
                    ),
                ),
                Some(d) => Finding::new(
                    &Self::META,
                    d,
                    format!(
                        "the diagnostic settings of Azure Firewall '{}' enable no logs",
                        fw.display_name()
                    ),
                )
                .at_field(&d.get("properties.logs"))
                .related(fw.prov.clone(), "the firewall"),
            }
            .with_fix(FIX);
            if cov.undecided.is_empty() && s.undecided.is_empty() {
                out.push(f);
            } else {
                let input = cov
                    .first_input()
                    .or_else(|| s.undecided.iter().find_map(|(_, i)| i.clone()))
                    .or(name_input);
                out.push(undecided(
                    f,
                    input,
                    "a diagnostic setting or log entry is not known offline",
                ));
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

    const WS: &str = r#"{"type": "Microsoft.MachineLearningServices/workspaces", "apiVersion": "2024-04-01", "name": "ws", "location": "eastus", "properties": {}}"#;
    const FW: &str = r#"{"type": "Microsoft.Network/azureFirewalls", "apiVersion": "2024-05-01", "name": "fw", "location": "eastus", "properties": {}}"#;

    fn text(more: &str) -> String {
        template(r#""on": {"type": "bool"}"#, &format!("{WS}, {FW}{more}"))
    }

    fn diag(logs: &str) -> String {
        format!(
            r#", {{"type": "Microsoft.Insights/diagnosticSettings", "apiVersion": "2021-05-01-preview", "name": "d", "scope": "[resourceId('Microsoft.Network/azureFirewalls', 'fw')]", "properties": {{"workspaceId": "la" {logs}}}}}"#
        )
    }

    #[test]
    fn firewall_without_settings_fails() {
        let f = run(&FirewallLogsMissing, &text(""));
        assert_eq!(f.len(), 1);
        assert_eq!(route(&f[0]), "resources[1]");
        assert_eq!(f[0].confidence, Confidence::High);
    }

    #[test]
    fn firewall_with_rule_logs_passes() {
        let d = diag(r#", "logs": [{"category": "AzureFirewallNetworkRule", "enabled": true}]"#);
        assert!(run(&FirewallLogsMissing, &text(&d)).is_empty());
    }

    #[test]
    fn absent_logs_fail_at_the_settings_properties() {
        let d = diag(r#", "metrics": [{"category": "AllMetrics", "enabled": true}]"#);
        let f = run(&FirewallLogsMissing, &text(&d));
        assert_eq!(f.len(), 1);
        assert!(f[0].absent);
        assert_eq!(route(&f[0]), "resources[2].properties");
    }

    #[test]
    fn only_applies_to_aml_deployments() {
        assert!(run(&FirewallLogsMissing, &template("", FW)).is_empty());
    }

    #[test]
    fn unknown_enabled_is_low_confidence() {
        let d =
            diag(r#", "logs": [{"categoryGroup": "allLogs", "enabled": "[parameters('on')]"}]"#);
        let f = run(&FirewallLogsMissing, &text(&d));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'on'"));
    }
}
