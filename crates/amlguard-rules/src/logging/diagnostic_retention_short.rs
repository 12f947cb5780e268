use amlguard_model::{Field, Model, ResourceKind, Tree};

use super::util::{has_workspace, is_diagnostic_setting};
use crate::{Check, Finding, Rule, check_field, declare_rule, report};

declare_rule! {
    /// ## What it checks
    /// In a deployment with an AML workspace, log retention shorter than 90 days:
    /// - a diagnostic setting's `logs[].retentionPolicy` with `enabled: true` and
    ///   `days` between 1 and 89 (`0` keeps logs forever and passes; an absent
    ///   `retentionPolicy` or `enabled` means no retention limit, Azure's default);
    /// - a Log Analytics workspace (`Microsoft.OperationalInsights/workspaces`) whose
    ///   `properties.retentionInDays` is below 90. When it is absent, Azure's
    ///   default for a new workspace applies: 30 days (pay-as-you-go SKU), which
    ///   fails.
    ///
    /// A value that is not known offline gives a finding with confidence low that
    /// names the parameter.
    ///
    /// ## Why it matters
    /// Data theft is often found weeks after it happened. When the workspace, data
    /// and network logs are gone by then, nobody can tell what was taken or by
    /// whom. Ninety days is a floor; Azure Policy afe0c3be-ba3b-4544-ba52-0c99672a8ad6
    /// defaults its required retention to 365 days.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.OperationalInsights/workspaces", "name": "la", "properties": {"sku": {"name": "PerGB2018"}}}
    /// ```
    ///
    /// ## Fix
    /// ARM: `"retentionInDays": 365` in the Log Analytics workspace's `properties`
    /// (and `"retentionPolicy": {"enabled": false, "days": 0}` in diagnostic settings;
    /// storage-side retention is better set with a lifecycle policy).
    /// Bicep: `retentionInDays: 365`.
    /// Terraform (`azurerm_log_analytics_workspace`): `retention_in_days = 365`.
    ///
    /// ## References
    /// MCSB LT-6; Azure Policy afe0c3be-ba3b-4544-ba52-0c99672a8ad6 (parameter
    /// `requiredRetentionDays`); AzTS Azure_MachineLearningWorkspace_Audit_Enable_Diagnostics_Log
    /// (365 days for a storage sink).
    pub struct DiagnosticRetentionShort {
        code: 703,
        name: "diagnostic-retention-short",
        title: "Logs are kept for less than 90 days",
        severity: Low,
        confidence: High,
        category: Logging,
        references: [
            "MCSB LT-6",
            "Azure Policy afe0c3be-ba3b-4544-ba52-0c99672a8ad6",
            "AzTS Azure_MachineLearningWorkspace_Audit_Enable_Diagnostics_Log",
        ],
    }
}

const MIN_DAYS: i64 = 90;

fn short(t: &Tree) -> bool {
    t.as_int().is_some_and(|d| d > 0 && d < MIN_DAYS)
}

impl Rule for DiagnosticRetentionShort {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        if !has_workspace(m) {
            return;
        }
        for la in m.of_kind(ResourceKind::LogAnalytics) {
            let days = la.get("properties.retentionInDays");
            let shown = days
                .known()
                .and_then(Tree::as_int)
                .map_or_else(|| "30 (the default)".to_string(), |d| d.to_string());
            report(
                out,
                &Self::META,
                la,
                check_field(days, true, |t| t.as_int().is_some_and(|d| d < MIN_DAYS)),
                format!(
                    "Log Analytics workspace '{}' keeps logs for {shown} days, less than {MIN_DAYS}",
                    la.display_name()
                ),
                "set properties.retentionInDays to 90 or more (365 recommended)",
            );
        }
        for d in m
            .resources
            .iter()
            .filter(|r| r.deployed() && is_diagnostic_setting(r))
        {
            let n = d
                .get("properties.logs")
                .known()
                .and_then(Tree::as_array)
                .map_or(0, <[Tree]>::len);
            for i in 0..n {
                let base = format!("properties.logs.{i}.retentionPolicy");
                let enabled = d.get(&format!("{base}.enabled"));
                let days = d.get(&format!("{base}.days"));
                let shown = days
                    .known()
                    .and_then(Tree::as_int)
                    .map_or_else(|| "a few".to_string(), |v| v.to_string());
                let message = format!(
                    "diagnostic setting '{}' deletes logs after {shown} days, less than {MIN_DAYS}",
                    d.display_name()
                );
                let fix = "set retentionPolicy.days to 0 (keep) or 90 or more, or disable the retention policy";
                let on = check_field(enabled, false, |t| t.as_bool() == Some(true));
                let short_days = check_field(days, false, short);
                match (on, short_days) {
                    (Check::Pass, _) | (_, Check::Pass) => {}
                    (Check::Fail(_), c) => report(out, &Self::META, d, c, message, fix),
                    (Check::Unknown(e), Check::Fail(_)) => {
                        report(out, &Self::META, d, Check::Unknown(e), message, fix);
                    }
                    (Check::Unknown(_), c @ Check::Unknown(_)) => {
                        report(out, &Self::META, d, c, message, fix);
                    }
                }
            }
            let logs = d.get("properties.logs");
            if let Field::Unknown { .. } = logs {
                report(
                    out,
                    &Self::META,
                    d,
                    Check::Unknown(logs),
                    format!(
                        "diagnostic setting '{}' may delete logs after less than {MIN_DAYS} days",
                        d.display_name()
                    ),
                    "set retentionPolicy.days to 0 (keep) or 90 or more, or disable the retention policy",
                );
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

    fn la(props: &str) -> String {
        template(
            r#""days": {"type": "int"}, "on": {"type": "bool"}"#,
            &format!(
                r#"{WS}, {{"type": "Microsoft.OperationalInsights/workspaces", "apiVersion": "2023-09-01", "name": "la", "location": "eastus", "properties": {props}}}"#
            ),
        )
    }

    fn diag(retention: &str) -> String {
        template(
            r#""days": {"type": "int"}, "on": {"type": "bool"}"#,
            &format!(
                r#"{WS}, {{"type": "Microsoft.Insights/diagnosticSettings", "apiVersion": "2021-05-01-preview", "name": "d", "scope": "Microsoft.MachineLearningServices/workspaces/ws", "properties": {{"storageAccountId": "sa", "logs": [{{"categoryGroup": "allLogs", "enabled": true, "retentionPolicy": {retention}}}]}}}}"#
            ),
        )
    }

    #[test]
    fn short_log_analytics_retention_fails() {
        let f = run(&DiagnosticRetentionShort, &la(r#"{"retentionInDays": 30}"#));
        assert_eq!(f.len(), 1);
        assert_eq!(route(&f[0]), "resources[1].properties.retentionInDays");
        assert!(
            run(
                &DiagnosticRetentionShort,
                &la(r#"{"retentionInDays": 365}"#)
            )
            .is_empty()
        );
    }

    #[test]
    fn absent_retention_is_the_30_day_default() {
        let f = run(&DiagnosticRetentionShort, &la("{}"));
        assert_eq!(f.len(), 1);
        assert!(f[0].absent);
        assert!(f[0].message.contains("30 (the default)"));
    }

    #[test]
    fn only_applies_to_aml_deployments() {
        let text = template(
            "",
            r#"{"type": "Microsoft.OperationalInsights/workspaces", "apiVersion": "2023-09-01", "name": "la", "location": "eastus", "properties": {}}"#,
        );
        assert!(run(&DiagnosticRetentionShort, &text).is_empty());
    }

    #[test]
    fn short_diagnostic_retention_fails_forever_and_off_pass() {
        let f = run(
            &DiagnosticRetentionShort,
            &diag(r#"{"enabled": true, "days": 30}"#),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(
            route(&f[0]),
            "resources[1].properties.logs[0].retentionPolicy.days"
        );
        assert!(
            run(
                &DiagnosticRetentionShort,
                &diag(r#"{"enabled": true, "days": 0}"#)
            )
            .is_empty()
        );
        assert!(
            run(
                &DiagnosticRetentionShort,
                &diag(r#"{"enabled": false, "days": 7}"#)
            )
            .is_empty()
        );
        assert!(run(&DiagnosticRetentionShort, &diag(r#"{"days": 7}"#)).is_empty());
    }

    #[test]
    fn unknown_days_or_enabled_is_low_confidence() {
        let f = run(
            &DiagnosticRetentionShort,
            &la(r#"{"retentionInDays": "[parameters('days')]"}"#),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'days'"));

        let f = run(
            &DiagnosticRetentionShort,
            &diag(r#"{"enabled": "[parameters('on')]", "days": 7}"#),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'on'"));
    }
}
