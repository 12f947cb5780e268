use amlguard_model::{Field, Model, Resource, ResourceKind, Tree};

use super::util::{describe, is_one_of, parent_link, related_field, report_related};
use crate::{Check, Finding, Rule, check_field, declare_rule};

/// Credential types that store a secret in the workspace.
const SECRET_TYPES: &[&str] = &[
    "AccountKey",
    "Sas",
    "ServicePrincipal",
    "Certificate",
    "KerberosKeytab",
    "KerberosPassword",
];

/// Properties of the 2020 preview datastore schema that hold a secret.
const LEGACY_SECRETS: &[&str] = &["AccountKey", "SasToken", "ClientSecret", "Password"];

declare_rule! {
    /// ## What it checks
    /// Every deployed datastore (`Microsoft.MachineLearningServices/workspaces/datastores`)
    /// whose `properties.credentials.credentialsType` stores a secret in the
    /// workspace: `AccountKey`, `Sas`, `ServicePrincipal`, `Certificate` (and the
    /// preview HDFS types `KerberosKeytab`, `KerberosPassword`). `None` — access with
    /// the caller's or the workspace's identity — passes.
    ///
    /// Older schemas are read too: the 2021 preview's
    /// `properties.contents.credentials.credentialsType`, and the flat 2020 preview
    /// schema (`2020-05-01-preview`, still used by Microsoft's quickstarts), where a
    /// value in `AccountKey`, `SasToken`, `ClientSecret` or `Password` — including a
    /// secure parameter — is a stored secret.
    ///
    /// Default assumed when absent: `credentials` is required by the API, so a
    /// datastore without any credential property has nothing to judge and passes.
    /// Secret values are never shown; only the credential type or property name is.
    ///
    /// ## Why it matters
    /// A stored key, SAS token or client secret lets every user who can use the
    /// datastore reach the data with the datastore's rights, not their own: no
    /// per-user authorization or audit at the storage side, and `listSecrets`
    /// hands the secret itself to anyone with that action. A datastore can also
    /// point at any account, including one outside the tenant, so a key-based
    /// datastore is a ready-made, credentialed path out. Identity-based
    /// datastores (`None`) make storage decide per caller.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.MachineLearningServices/workspaces/datastores",
    ///  "properties": {"datastoreType": "AzureBlob", "accountName": "sa", "containerName": "data",
    ///   "credentials": {"credentialsType": "AccountKey", "secrets": {"secretsType": "AccountKey", "key": "…"}}}}
    /// ```
    ///
    /// ## Fix
    /// ARM: `"credentials": {"credentialsType": "None"}` in the datastore's `properties`
    /// (optionally `"serviceDataAccessAuthIdentity": "WorkspaceSystemAssignedIdentity"`),
    /// and grant users (or the workspace identity) Storage Blob Data roles on the account.
    /// Bicep: `credentials: { credentialsType: 'None' }`.
    /// Terraform (`azurerm_machine_learning_datastore_blobstorage`, `…_datalake_gen2`,
    /// `…_fileshare`): leave out `account_key`, `shared_access_signature` and
    /// `client_secret`, and set `service_data_auth_identity`; with azapi, the same
    /// `credentials` object in the body.
    ///
    /// ## References
    /// MCSB IM-3; AzTS Azure_MachineLearningWorkspace_AuthN_Disable_Credential_Based_Access_On_Datastore
    /// (the only peer, and only on live resources). No Azure Policy built-in covers it.
    /// AzTS's list (account key, SAS, user name/password) misses service-principal
    /// and certificate credentials, which store a secret just the same; amlguard
    /// reports every secret-bearing type, before deployment.
    pub struct DatastoreSecretCredentials {
        code: 514,
        name: "datastore-secret-credentials",
        title: "A datastore stores a key, SAS token or client secret instead of using identities",
        severity: Medium,
        confidence: High,
        category: DataService,
        references: [
            "MCSB IM-3",
            "AzTS Azure_MachineLearningWorkspace_AuthN_Disable_Credential_Based_Access_On_Datastore",
        ],
    }
}

impl Rule for DatastoreSecretCredentials {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        let fix = "set properties.credentials to {\"credentialsType\": \"None\"} (identity-based access) and grant the users or the workspace identity data roles on the storage";
        for ds in m.of_kind(ResourceKind::Datastore) {
            let mut related: Vec<_> = parent_link(m, ds).into_iter().collect();
            // Current schema, then the 2021 preview schema (`properties.contents`).
            let mut base = "properties.credentials";
            let mut f = ds.get("properties.credentials.credentialsType");
            if f.is_absent() {
                let preview = ds.get("properties.contents.credentials.credentialsType");
                if !preview.is_absent() {
                    base = "properties.contents.credentials";
                    f = preview;
                }
            }
            if f.is_absent() {
                legacy(self, ds, out, fix, related);
                continue;
            }
            let message = format!(
                "datastore '{}' stores a secret credential in the workspace (credentialsType: {})",
                ds.display_name(),
                describe(&f, "none given"),
            );
            let secrets = ds.get(&format!("{base}.secrets"));
            if secrets.known().is_some() || secrets.unknown().is_some() {
                related.extend(related_field(
                    &secrets,
                    "the secret is written here (value not shown)",
                ));
            }
            let check = check_field(f, false, |t: &Tree| is_one_of(t, SECRET_TYPES));
            report_related(out, &Self::META, ds, check, message, fix, related);
        }
    }
}

/// The flat schema of the 2020 preview API (`properties.AccountKey`, `SasToken`,
/// `ClientSecret`, `Password`): a secret is stored when one of them has a value.
/// A secure (secret) parameter in one of these places is a stored secret; any
/// other unknown value leaves it undecided.
fn legacy(
    rule: &DatastoreSecretCredentials,
    ds: &Resource,
    out: &mut Vec<Finding>,
    fix: &str,
    related: Vec<crate::Related>,
) {
    let mut undecided: Option<(&str, Check<'_>)> = None;
    for name in LEGACY_SECRETS {
        let f = ds.get(&format!("properties.{name}"));
        if let Field::Unknown { value, .. } = &f
            && value.secret
        {
            // A secure parameter here is a secret, whatever its value: decided.
            let mut finding = Finding::new(
                rule.meta(),
                ds,
                format!(
                    "datastore '{}' stores a secret credential in the workspace ({name} is set from a secure value; not shown)",
                    ds.display_name(),
                ),
            )
            .at_field(&f)
            .with_fix(fix);
            finding.confidence = rule.meta().confidence;
            finding.deciding_input = None;
            finding.related = related;
            out.push(finding);
            return;
        }
        let check = check_field(
            f,
            false,
            |t: &Tree| !matches!(t.as_str(), Some(s) if s.trim().is_empty()),
        );
        match check {
            Check::Pass => {}
            Check::Fail(_) => {
                let message = format!(
                    "datastore '{}' stores a secret credential in the workspace ({name} is set; value not shown)",
                    ds.display_name(),
                );
                report_related(out, rule.meta(), ds, check, message, fix, related);
                return;
            }
            Check::Unknown(_) => {
                if undecided.is_none() {
                    undecided = Some((name, check));
                }
            }
        }
    }
    if let Some((name, check)) = undecided {
        let message = format!(
            "datastore '{}' stores a secret credential in the workspace ({name} may be set; value not shown)",
            ds.display_name(),
        );
        report_related(out, rule.meta(), ds, check, message, fix, related);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::Confidence;
    use crate::testing::{route, run, template};

    const SECRET: &str = "c2VjcmV0LWtleS1kby1ub3QtcHJpbnQ=";

    fn t(credentials: &str) -> String {
        template(
            r#""ctype": {"type": "string"}, "key": {"type": "securestring"}"#,
            &format!(
                r#"{{"type": "Microsoft.MachineLearningServices/workspaces", "apiVersion": "2024-04-01", "name": "ws", "location": "eastus", "properties": {{}}}},
                {{"type": "Microsoft.MachineLearningServices/workspaces/datastores", "apiVersion": "2024-04-01", "name": "ws/data",
                  "dependsOn": ["[resourceId('Microsoft.MachineLearningServices/workspaces', 'ws')]"],
                  "properties": {{"datastoreType": "AzureBlob", "accountName": "sa", "containerName": "data"{credentials}}}}}"#
            ),
        )
    }

    #[test]
    fn account_key_fails_without_printing_the_secret() {
        let f = run(
            &DatastoreSecretCredentials,
            &t(&format!(
                r#", "credentials": {{"credentialsType": "AccountKey", "secrets": {{"secretsType": "AccountKey", "key": "{SECRET}"}}}}"#
            )),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(
            route(&f[0]),
            "resources[1].properties.credentials.credentialsType"
        );
        assert!(f[0].message.contains("AccountKey"));
        assert!(!f[0].message.contains(SECRET) && !f[0].fix.contains(SECRET));
        assert!(f[0].related.iter().all(|r| !r.message.contains(SECRET)));
        assert!(
            f[0].related
                .iter()
                .any(|r| r.at.route.to_string() == "resources[1].properties.credentials.secrets")
        );
        assert!(
            f[0].related
                .iter()
                .any(|r| r.message.contains("workspace 'ws'"))
        );
    }

    #[test]
    fn every_secret_type_fails() {
        for ty in ["Sas", "ServicePrincipal", "Certificate", "sas"] {
            let f = run(
                &DatastoreSecretCredentials,
                &t(&format!(
                    r#", "credentials": {{"credentialsType": "{ty}"}}"#
                )),
            );
            assert_eq!(f.len(), 1, "{ty}");
        }
    }

    #[test]
    fn identity_based_passes() {
        assert!(
            run(
                &DatastoreSecretCredentials,
                &t(r#", "credentials": {"credentialsType": "None"}"#)
            )
            .is_empty()
        );
    }

    #[test]
    fn absent_credentials_pass() {
        assert!(run(&DatastoreSecretCredentials, &t("")).is_empty());
    }

    #[test]
    fn unknown_reports_low_confidence_with_the_deciding_parameter() {
        let f = run(
            &DatastoreSecretCredentials,
            &t(
                r#", "credentials": {"credentialsType": "[parameters('ctype')]", "secrets": {"key": "[parameters('key')]"}}"#,
            ),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'ctype'"));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod older_schemas {
    use super::*;
    use crate::Confidence;
    use crate::testing::{route, run, template};

    fn legacy(props: &str) -> String {
        template(
            r#""authenticationType": {"type": "string", "defaultValue": "Account Key"}, "key": {"type": "securestring"}, "mode": {"type": "string"}"#,
            &format!(
                r#"{{"type": "Microsoft.MachineLearningServices/workspaces/datastores", "apiVersion": "2020-05-01-preview", "name": "ws/blob",
                  "properties": {{"DataStoreType": "blob", "AccountName": "sa", "ContainerName": "c"{props}}}}}"#
            ),
        )
    }

    #[test]
    fn a_secure_parameter_in_a_secret_slot_is_a_stored_secret() {
        let f = run(
            &DatastoreSecretCredentials,
            &legacy(
                r#", "AccountKey": "[if(equals(parameters('authenticationType'), 'Account Key'), parameters('key'), json('null'))]", "SasToken": "[if(equals(parameters('authenticationType'), 'SAS token'), parameters('key'), json('null'))]""#,
            ),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::High);
        assert_eq!(route(&f[0]), "resources[0].properties.AccountKey");
        assert!(f[0].message.contains("AccountKey is set"));
        assert!(f[0].deciding_input.is_none());
    }

    #[test]
    fn no_secret_property_passes() {
        assert!(run(&DatastoreSecretCredentials, &legacy(r#", "SasToken": """#)).is_empty());
        assert!(run(&DatastoreSecretCredentials, &legacy("")).is_empty());
    }

    #[test]
    fn an_undecided_value_is_low_confidence() {
        let f = run(
            &DatastoreSecretCredentials,
            &legacy(
                r#", "SasToken": "[if(equals(parameters('mode'), 'sas'), 'sv=2020', json('null'))]""#,
            ),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'mode'"));
    }

    #[test]
    fn the_2021_preview_contents_schema_is_read() {
        let text = template(
            "",
            r#"{"type": "Microsoft.MachineLearningServices/workspaces/datastores", "apiVersion": "2021-03-01-preview", "name": "ws/blob",
               "properties": {"contents": {"contentsType": "AzureBlob", "accountName": "sa", "containerName": "c",
                 "credentials": {"credentialsType": "Sas", "secrets": {"secretsType": "Sas", "sasToken": "x"}}}}}"#,
        );
        let f = run(&DatastoreSecretCredentials, &text);
        assert_eq!(f.len(), 1);
        assert_eq!(
            route(&f[0]),
            "resources[0].properties.contents.credentials.credentialsType"
        );
    }
}
