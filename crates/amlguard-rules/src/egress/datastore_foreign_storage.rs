use amlguard_model::{Model, Resource, ResourceKind};

use super::util::{
    Owned, deciding_input, host_of, is_unknown, storage_account_of_host, undecided, workspace_of,
};
use crate::{Finding, Rule, declare_rule};

declare_rule! {
    /// ## What it checks
    /// Workspace datastores and connections that point at storage the
    /// deployment does not own:
    ///
    /// - a `workspaces/datastores` resource of type `AzureBlob`, `AzureFile`
    ///   or `AzureDataLakeGen2` whose `properties.accountName` is not a storage
    ///   account of the deployment;
    /// - a `workspaces/connections` resource of a storage category
    ///   (`AzureBlob`, `ADLSGen2`, `AzureTableStorage`), or any connection
    ///   whose `properties.target` is a storage endpoint
    ///   (`<account>.blob.core.windows.net` and the other storage services),
    ///   whose account is not a storage account of the deployment;
    /// - a connection to storage outside Azure (`S3`, `AmazonS3Compatible`,
    ///   `GoogleCloudStorage`, `OracleCloudStorage`, `AzureOneLake`,
    ///   `FileServer`, `FtpServer`, `Sftp`, `Hdfs`).
    ///
    /// The deployment's storage accounts are those the input declares
    /// (deployed or `existing`) and those a workspace links by ID
    /// (`properties.storageAccount`). Names compare case-insensitively. An
    /// absent `accountName` or `target` is not judged (Azure requires them); a
    /// value not known offline gives a low-confidence finding.
    ///
    /// ## Why it matters
    /// A datastore or connection is a standing read and write channel from the
    /// workspace to a storage account, used with the workspace's identity or
    /// with stored credentials. One pointing at an account outside the
    /// deployment (another team's, another tenant's, or one the insider
    /// controls) is a way for data to come in from, or go out to, a place this
    /// deployment does not govern. It may be legitimate; it should be known
    /// and reviewed. Anyone with `workspaces/datastores/write` can create or
    /// repoint one.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.MachineLearningServices/workspaces/datastores",
    ///  "properties": {"datastoreType": "AzureBlob", "accountName": "someoneelse",
    ///                 "containerName": "drop", "credentials": {"credentialsType": "None"}}}
    /// ```
    ///
    /// ## Fix
    /// ARM: point `accountName` (or the connection's `target`) at a storage
    /// account this deployment declares, e.g.
    /// `"accountName": "[parameters('storageAccountName')]"` with the account in
    /// the same template, or remove the datastore.
    /// Bicep: `accountName: storage.name`.
    /// Terraform: `storage_container_id = azurerm_storage_container.ml.id` on
    /// `azurerm_machine_learning_datastore_blobstorage` (and the fileshare and
    /// Data Lake Gen2 datastore resources).
    ///
    /// ## References
    /// No Azure Policy definition; MCSB DP-2. No peer checks where datastores
    /// point; AzTS checks only their credential type
    /// (Azure_MachineLearningWorkspace_AuthN_Disable_Credential_Based_Access_On_Datastore).
    pub struct DatastoreForeignStorage {
        code: 312,
        name: "datastore-foreign-storage",
        title: "A datastore or connection points at storage outside the deployment",
        severity: Medium,
        confidence: Medium,
        category: Egress,
        references: [
            "MCSB DP-2",
            "AzTS Azure_MachineLearningWorkspace_AuthN_Disable_Credential_Based_Access_On_Datastore",
        ],
    }
}

const FIX: &str = "point it at a storage account this deployment owns, or remove it; if the account is legitimate, declare it (as an existing resource) so the relationship is recorded";

const DATASTORE_TYPES: &[&str] = &["AzureBlob", "AzureFile", "AzureDataLakeGen2"];
const STORAGE_CATEGORIES: &[&str] = &["AzureBlob", "ADLSGen2", "AzureTableStorage"];
const EXTERNAL_CATEGORIES: &[&str] = &[
    "S3",
    "AmazonS3Compatible",
    "GoogleCloudStorage",
    "OracleCloudStorage",
    "AzureOneLake",
    "FileServer",
    "FtpServer",
    "Sftp",
    "Hdfs",
];

fn relate_ws(m: &Model, r: &Resource, f: Finding) -> Finding {
    match workspace_of(m, r) {
        Some(ws) => f.related(
            ws.prov.clone(),
            format!(
                "workspace '{}' can read and write through it",
                ws.display_name()
            ),
        ),
        None => f,
    }
}

impl Rule for DatastoreForeignStorage {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        let meta = &Self::META;
        let owned = Owned::of(m);
        for ds in m.of_kind(ResourceKind::Datastore) {
            let ty = ds.get("properties.datastoreType");
            if ty.str_is(DATASTORE_TYPES) == Some(false) {
                continue;
            }
            let acct = ds.get("properties.accountName");
            let name = ds.display_name();
            if is_unknown(&acct) || is_unknown(&ty) {
                let decide = if is_unknown(&acct) { &acct } else { &ty };
                let msg = format!(
                    "datastore '{name}' may point at a storage account outside the deployment"
                );
                out.push(relate_ws(
                    m,
                    ds,
                    undecided(meta, ds, decide, &msg, FIX, deciding_input(decide)),
                ));
                continue;
            }
            let Some(a) = acct.str() else { continue };
            if owned.has_storage(a) {
                continue;
            }
            let f = Finding::new(
                meta,
                ds,
                format!(
                    "datastore '{name}' points at storage account '{a}', which this deployment does not declare: a data source or sink to review"
                ),
            )
            .at_field(&acct)
            .with_fix(FIX);
            out.push(relate_ws(m, ds, f));
        }
        for c in m.of_kind(ResourceKind::Connection) {
            let category = c.get("properties.category");
            let target = c.get("properties.target");
            let name = c.display_name();
            if category.str_is(EXTERNAL_CATEGORIES) == Some(true) {
                let cat = category.str().unwrap_or_default();
                let at = if target.is_absent() {
                    &category
                } else {
                    &target
                };
                let f = Finding::new(
                    meta,
                    c,
                    format!(
                        "connection '{name}' ({cat}) reaches storage outside Azure and outside this deployment: a data source or sink to review"
                    ),
                )
                .at_field(at)
                .with_fix(FIX);
                out.push(relate_ws(m, c, f));
                continue;
            }
            let storage_category = category.str_is(STORAGE_CATEGORIES);
            if is_unknown(&target) {
                if storage_category != Some(false) {
                    let msg = format!(
                        "connection '{name}' may point at a storage account outside the deployment"
                    );
                    out.push(relate_ws(
                        m,
                        c,
                        undecided(meta, c, &target, &msg, FIX, deciding_input(&target)),
                    ));
                }
                continue;
            }
            let Some(t) = target.str() else { continue };
            let host = host_of(t);
            let account = storage_account_of_host(&host).or_else(|| {
                c.get("properties.metadata.AccountName")
                    .str()
                    .filter(|_| storage_category == Some(true))
                    .map(str::to_string)
            });
            let msg = match (&account, storage_category) {
                (Some(a), _) if owned.has_storage(a) => continue,
                (Some(a), _) => format!(
                    "connection '{name}' points at storage account '{a}', which this deployment does not declare: a data source or sink to review"
                ),
                (None, Some(true)) => format!(
                    "connection '{name}' is a storage connection to '{host}', which is not a storage account of this deployment: a data source or sink to review"
                ),
                (None, _) => continue,
            };
            let f = Finding::new(meta, c, msg).at_field(&target).with_fix(FIX);
            out.push(relate_ws(m, c, f));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::Confidence;
    use crate::egress::fixtures::*;
    use crate::testing::{route, run, template};

    fn datastore(props: &str) -> String {
        format!(
            r#"{{"type": "Microsoft.MachineLearningServices/workspaces/datastores", "apiVersion": "2024-10-01", "name": "ws/ds", "properties": {props}}}"#
        )
    }

    fn connection(props: &str) -> String {
        format!(
            r#"{{"type": "Microsoft.MachineLearningServices/workspaces/connections", "apiVersion": "2024-10-01", "name": "ws/conn", "properties": {props}}}"#
        )
    }

    fn t(resources: &[String]) -> String {
        template(r#""acct": {"type": "string"}"#, &resources.join(", "))
    }

    #[test]
    fn foreign_datastore_account_fails() {
        let f = run(
            &DatastoreForeignStorage,
            &t(&[
                storage("{}"),
                workspace_with(""),
                datastore(
                    r#"{"datastoreType": "AzureBlob", "accountName": "someoneelse", "containerName": "drop", "credentials": {"credentialsType": "None"}}"#,
                ),
            ]),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(route(&f[0]), "resources[2].properties.accountName");
        assert_eq!(f[0].confidence, Confidence::Medium);
        assert_eq!(f[0].related.len(), 1);
    }

    #[test]
    fn own_account_passes_and_other_types_are_ignored() {
        assert!(
            run(
                &DatastoreForeignStorage,
                &t(&[
                    storage("{}"),
                    workspace_with(""),
                    datastore(r#"{"datastoreType": "AzureFile", "accountName": "StDefault", "fileShareName": "x", "credentials": {"credentialsType": "None"}}"#),
                    datastore(r#"{"datastoreType": "AzureDataLakeGen1", "storeName": "far", "credentials": {"credentialsType": "None"}}"#),
                ]),
            )
            .is_empty()
        );
    }

    #[test]
    fn absent_account_name_is_not_judged() {
        assert!(
            run(
                &DatastoreForeignStorage,
                &t(&[
                    workspace_with(""),
                    datastore(r#"{"datastoreType": "AzureBlob"}"#)
                ]),
            )
            .is_empty()
        );
    }

    #[test]
    fn connections() {
        let f = run(
            &DatastoreForeignStorage,
            &t(&[
                storage("{}"),
                workspace_with(""),
                connection(
                    r#"{"category": "AzureBlob", "target": "https://stdefault.blob.core.windows.net/data", "authType": "AAD"}"#,
                ),
                connection(
                    r#"{"category": "ADLSGen2", "target": "https://far.dfs.core.windows.net/", "authType": "AAD"}"#,
                ),
                connection(
                    r#"{"category": "S3", "target": "https://bucket.s3.amazonaws.com", "authType": "AccessKey"}"#,
                ),
                connection(
                    r#"{"category": "AzureOpenAI", "target": "https://x.openai.azure.com/", "authType": "AAD"}"#,
                ),
            ]),
        );
        assert_eq!(f.len(), 2, "{f:?}");
        assert_eq!(route(&f[0]), "resources[3].properties.target");
        assert!(f[0].message.contains("'far'"));
        assert!(f[1].message.contains("outside Azure"));
    }

    #[test]
    fn unknown_account_is_low_confidence() {
        let f = run(
            &DatastoreForeignStorage,
            &t(&[
                workspace_with(""),
                datastore(
                    r#"{"datastoreType": "AzureBlob", "accountName": "[parameters('acct')]"}"#,
                ),
            ]),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'acct'"));
    }
}
