use amlguard_model::{Model, ResourceKind, Tree};

use super::util::{describe, is_one_of, parent_link, related_field, report_related};
use crate::{Finding, Rule, check_field, declare_rule};

/// Authentication types whose credentials are a secret stored in the workspace.
const SECRET_AUTH: &[&str] = &[
    "AccessKey",
    "AccountKey",
    "ApiKey",
    "CustomKeys",
    "PAT",
    "SAS",
    "UsernamePassword",
    "ServicePrincipal",
    "OAuth2",
];

declare_rule! {
    /// ## What it checks
    /// Every deployed workspace connection
    /// (`Microsoft.MachineLearningServices/workspaces/connections`) whose
    /// `properties.authType` stores a shared secret: `AccessKey`, `AccountKey`,
    /// `ApiKey`, `CustomKeys`, `PAT`, `SAS`, `UsernamePassword`, `ServicePrincipal`,
    /// or `OAuth2` (a client secret and refresh token). `ManagedIdentity`, `AAD` and
    /// `None` pass.
    ///
    /// Default assumed when absent: `authType` is the API's required discriminator,
    /// so a connection without it has nothing to judge and passes. Secret values
    /// are never shown; only the authentication type is.
    ///
    /// ## Why it matters
    /// A connection's secret is usable by everyone the connection is shared with
    /// (`isSharedToAll` makes that the whole workspace) and can be read back with
    /// `listsecrets`; the target service sees one shared principal, not the user.
    /// Keys and tokens copied this way outlive people's access and are a ready
    /// credential for sending data to the target — which may be any external
    /// service (`Git`, `Snowflake`, `AmazonS3Compatible`, custom keys…).
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.MachineLearningServices/workspaces/connections",
    ///  "properties": {"category": "AzureOpenAI", "target": "https://x.openai.azure.com/",
    ///   "authType": "ApiKey", "credentials": {"key": "…"}}}
    /// ```
    ///
    /// ## Fix
    /// ARM: `"authType": "AAD"` (the caller's Entra ID identity) or `"authType":
    /// "ManagedIdentity"` with `"credentials": {"clientId": …, "resourceId": …}` in the
    /// connection's `properties`, and grant that identity a role on the target.
    /// Bicep: `authType: 'AAD'`.
    /// Terraform: with `azapi_resource` (type
    /// `Microsoft.MachineLearningServices/workspaces/connections`), `authType = "AAD"` in
    /// the body; azurerm has no connection resource.
    ///
    /// ## References
    /// MCSB IM-3. No peer checks connection authentication: there is no Azure Policy
    /// built-in, and Checkov, PSRule, Trivy and Prowler have no rule for it.
    pub struct ConnectionSharedSecret {
        code: 515,
        name: "connection-shared-secret",
        title: "A workspace connection authenticates with a stored shared secret",
        severity: Medium,
        confidence: High,
        category: DataService,
        references: ["MCSB IM-3"],
    }
}

impl Rule for ConnectionSharedSecret {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        let fix = "set properties.authType to 'AAD' or 'ManagedIdentity' and grant that identity a role on the target instead of storing a key";
        for conn in m.of_kind(ResourceKind::Connection) {
            let f = conn.get("properties.authType");
            let target = conn
                .get("properties.target")
                .str()
                .map(|t| format!(" to '{t}'"))
                .unwrap_or_default();
            let message = format!(
                "connection '{}'{target} stores a shared secret in the workspace (authType: {})",
                conn.display_name(),
                describe(&f, "none given"),
            );
            let mut related: Vec<_> = parent_link(m, conn).into_iter().collect();
            let credentials = conn.get("properties.credentials");
            if credentials.known().is_some() || credentials.unknown().is_some() {
                related.extend(related_field(
                    &credentials,
                    "the credentials are written here (values not shown)",
                ));
            }
            let check = check_field(f, false, |t: &Tree| is_one_of(t, SECRET_AUTH));
            report_related(out, &Self::META, conn, check, message, fix, related);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::Confidence;
    use crate::testing::{route, run, template};

    const SECRET: &str = "sk-do-not-print-0123456789";

    fn t(props: &str) -> String {
        template(
            r#""auth": {"type": "string"}"#,
            &format!(
                r#"{{"type": "Microsoft.MachineLearningServices/workspaces", "apiVersion": "2024-04-01", "name": "ws", "location": "eastus", "properties": {{}}}},
                {{"type": "Microsoft.MachineLearningServices/workspaces/connections", "apiVersion": "2024-04-01", "name": "ws/aoai",
                  "dependsOn": ["[resourceId('Microsoft.MachineLearningServices/workspaces', 'ws')]"],
                  "properties": {{"category": "AzureOpenAI", "target": "https://x.openai.azure.com/"{props}}}}}"#
            ),
        )
    }

    #[test]
    fn api_key_fails_without_printing_the_secret() {
        let f = run(
            &ConnectionSharedSecret,
            &t(&format!(
                r#", "authType": "ApiKey", "credentials": {{"key": "{SECRET}"}}"#
            )),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(route(&f[0]), "resources[1].properties.authType");
        assert!(f[0].message.contains("ApiKey"));
        assert!(!f[0].message.contains(SECRET) && !f[0].fix.contains(SECRET));
        assert!(f[0].related.iter().all(|r| !r.message.contains(SECRET)));
        assert!(
            f[0].related
                .iter()
                .any(|r| r.message.contains("workspace 'ws'"))
        );
    }

    #[test]
    fn every_secret_type_fails() {
        for ty in SECRET_AUTH {
            let f = run(
                &ConnectionSharedSecret,
                &t(&format!(r#", "authType": "{ty}""#)),
            );
            assert_eq!(f.len(), 1, "{ty}");
        }
    }

    #[test]
    fn identities_pass() {
        for ty in ["ManagedIdentity", "AAD", "None"] {
            assert!(
                run(
                    &ConnectionSharedSecret,
                    &t(&format!(r#", "authType": "{ty}""#))
                )
                .is_empty(),
                "{ty}"
            );
        }
    }

    #[test]
    fn absent_auth_type_passes() {
        assert!(run(&ConnectionSharedSecret, &t("")).is_empty());
    }

    #[test]
    fn unknown_reports_low_confidence_with_the_deciding_parameter() {
        let f = run(
            &ConnectionSharedSecret,
            &t(r#", "authType": "[parameters('auth')]""#),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'auth'"));
    }
}
