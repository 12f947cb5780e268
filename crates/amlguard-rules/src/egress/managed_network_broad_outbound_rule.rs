use amlguard_model::{Field, Model, Resource, ResourceKind, Tree};

use super::util::{
    ManagedMode, Owned, deciding_input, is_unknown, managed_mode, storage_account_of_host,
    undecided, workspace_of,
};
use crate::{Confidence, Finding, Rule, Severity, declare_rule};

declare_rule! {
    /// ## What it checks
    /// User-defined outbound rules of a workspace's managed network in
    /// `AllowOnlyApprovedOutbound` mode, written inline
    /// (`properties.managedNetwork.outboundRules`, a map from rule name to
    /// rule) or as `Microsoft.MachineLearningServices/workspaces/outboundRules`
    /// resources. Rules of category `Required` (added by the service) are
    /// skipped, and so are `Deny` service-tag rules. A rule is judged by the
    /// destination it opens:
    ///
    /// - **FQDN** (severity high): `*`, a wildcard over a whole top-level
    ///   domain, or a wildcard that covers a namespace where anyone can create
    ///   an endpoint of their own: `*.core.windows.net` and every storage
    ///   service under it, `*.azurefd.net`, `*.azureedge.net`,
    ///   `*.azurewebsites.net`, `*.azurestaticapps.net`, `*.azurecontainerapps.io`,
    ///   `*.cloudapp.azure.com`, `*.cloudapp.net`, `*.trafficmanager.net`,
    ///   `*.azure-api.net`, `*.servicebus.windows.net`, `*.database.windows.net`,
    ///   `*.documents.azure.com`, `*.azurecr.io`, `*.vault.azure.net`,
    ///   `*.search.windows.net`, `*.openai.azure.com`,
    ///   `*.cognitiveservices.azure.com`, `*.azuredatabricks.net`,
    ///   `*.azurehdinsight.net`, Application Insights ingestion, tunnel
    ///   services (`*.devtunnels.ms`, `*.ngrok.io`, `*.ngrok-free.app`) and their
    ///   China and US Government counterparts; and hosts where any account
    ///   holder can upload (`github.com`, `ghcr.io`, Docker Hub's `docker.io`,
    ///   `huggingface.co`, `hf.co`, `gitlab.com`, `bitbucket.org`,
    ///   `dc.services.visualstudio.com`). Severity medium: a package index
    ///   (`pypi.org`, `*.pythonhosted.org`, Anaconda, conda-forge, PyTorch,
    ///   TensorFlow, CRAN, npm, NuGet, Ubuntu and Debian archives, Launchpad,
    ///   `*.githubusercontent.com`, `*.docker.com`), where publishing needs only
    ///   a free account; one endpoint under a multi-tenant namespace that the
    ///   deployment does not declare (`other.blob.core.windows.net`); and any
    ///   other host amlguard does not recognise (confidence medium: whoever
    ///   owns it receives what is sent). Not reported: hosts of this
    ///   deployment's own storage accounts, registries and key vaults, and
    ///   Microsoft hosts that accept no customer content (`ml.azure.com`,
    ///   `*.azureml.ms`, `*.azureml.net`, `*.notebooks.azure.net`,
    ///   `mcr.microsoft.com`, `*.data.mcr.microsoft.com`,
    ///   `login.microsoftonline.com`, `management.azure.com`,
    ///   `graph.microsoft.com`, `graph.windows.net`, `*.batch.azure.com`, the
    ///   AutoML and VS Code download hosts).
    /// - **ServiceTag** (severity high): tags whose addresses include
    ///   endpoints anyone can create: `Storage` and `Storage.<region>`,
    ///   `AzureFrontDoor.Frontend`, `AzureCloud`, `Internet`, `EventHub`,
    ///   `ServiceBus`, `Sql`, `AzureCosmosDB`, `AppService`,
    ///   `AzureContainerRegistry`, `AzureMonitor`, `AzureKeyVault`,
    ///   `AzureDataLake`, `AzureSignalR`, `ApiManagement`, `AzureDatabricks`,
    ///   `CognitiveServicesFrontend` (and their regional forms); address
    ///   prefixes `0.0.0.0/0` or `::/0`. Not reported: `AzureActiveDirectory`,
    ///   `AzureResourceManager`, `AzureMachineLearning`,
    ///   `MicrosoftContainerRegistry`, `BatchNodeManagement`,
    ///   `AzureFrontDoor.FirstParty`, `VirtualNetwork` and the platform tags,
    ///   and private address prefixes. Other tags and public prefixes:
    ///   severity medium, confidence medium.
    /// - **PrivateEndpoint** (severity medium): a `destination.serviceResourceId`
    ///   that is neither declared in the input nor linked by a workspace
    ///   (default storage, Key Vault, registry, Application Insights): a data
    ///   source or sink to review.
    ///
    /// A mode or a rule not known offline gives a low-confidence finding.
    ///
    /// ## Why it matters
    /// Approved-only mode is Microsoft's data exfiltration protection for
    /// managed networks, and every user-defined rule is a hole in it: the
    /// service warns that it cannot guarantee protection once rules are added.
    /// A rule to a destination the insider can write to (their own storage
    /// account behind `*.blob.core.windows.net`, their Front Door endpoint
    /// behind `AzureFrontDoor.Frontend`, their repository on GitHub) lets code
    /// on the compute copy data there. FQDN rules run on ports 80 and 443 only,
    /// which is all an upload needs.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"managedNetwork": {"isolationMode": "AllowOnlyApprovedOutbound",
    ///   "outboundRules": {"blobs": {"type": "FQDN", "category": "UserDefined",
    ///                               "destination": "*.blob.core.windows.net"}}}}
    /// ```
    ///
    /// ## Fix
    /// ARM: replace the rule with a `PrivateEndpoint` rule to the resource you
    /// own (`"type": "PrivateEndpoint", "destination": {"serviceResourceId":
    /// "<storage account ID>", "subresourceTarget": "blob"}`), or narrow an
    /// FQDN rule to the exact host.
    /// Bicep: the same objects under `managedNetwork.outboundRules`, or a
    /// `Microsoft.MachineLearningServices/workspaces/outboundRules` resource.
    /// Terraform: `azurerm_machine_learning_workspace_network_outbound_rule_private_endpoint`
    /// instead of `azurerm_machine_learning_workspace_network_outbound_rule_fqdn`
    /// or `azurerm_machine_learning_workspace_network_outbound_rule_service_tag`.
    ///
    /// ## References
    /// No Azure Policy definition; MCSB NS-3. No peer checks the destinations
    /// of outbound rules. Checkov CKV_AZURE_243 only looks for the presence of
    /// a PrivateEndpoint outbound rule (and names it "private endpoint"), which
    /// says nothing about what the other rules open.
    pub struct ManagedNetworkBroadOutboundRule {
        code: 306,
        name: "managed-network-broad-outbound-rule",
        title: "A managed-network outbound rule opens a destination outside the deployment's control",
        severity: High,
        confidence: High,
        category: Egress,
        references: ["MCSB NS-3"],
    }
}

/// How a destination is judged.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Verdict {
    Pass,
    /// Anyone can write there: severity high.
    Writable(String),
    /// Someone else controls it: severity medium; `confident` false when the
    /// destination is merely not recognised.
    Review {
        reason: String,
        confident: bool,
    },
}

/// Namespaces under which anyone can create an endpoint of their own.
const MULTI_TENANT: &[&str] = &[
    "core.windows.net",
    "blob.core.windows.net",
    "dfs.core.windows.net",
    "file.core.windows.net",
    "queue.core.windows.net",
    "table.core.windows.net",
    "web.core.windows.net",
    "blob.storage.azure.net",
    "core.chinacloudapi.cn",
    "core.usgovcloudapi.net",
    "azurefd.net",
    "azureedge.net",
    "trafficmanager.net",
    "azurewebsites.net",
    "azurestaticapps.net",
    "azurecontainerapps.io",
    "cloudapp.azure.com",
    "cloudapp.net",
    "azure-api.net",
    "servicebus.windows.net",
    "database.windows.net",
    "documents.azure.com",
    "azurecr.io",
    "vault.azure.net",
    "search.windows.net",
    "openai.azure.com",
    "cognitiveservices.azure.com",
    "azuredatabricks.net",
    "azurehdinsight.net",
    "applicationinsights.azure.com",
    "applicationinsights.microsoft.com",
    "ods.opinsights.azure.com",
    "devtunnels.ms",
    "ngrok.io",
    "ngrok-free.app",
];

/// Hosts (and their subdomains) where any account holder can upload content.
const UPLOAD: &[&str] = &[
    "github.com",
    "ghcr.io",
    "docker.io",
    "huggingface.co",
    "hf.co",
    "gitlab.com",
    "bitbucket.org",
    "dc.services.visualstudio.com",
];

/// Package indexes and content hosts (and their subdomains): publishing needs a free account.
const PACKAGES: &[&str] = &[
    "pypi.org",
    "pythonhosted.org",
    "anaconda.com",
    "anaconda.org",
    "conda-forge.org",
    "pytorch.org",
    "tensorflow.org",
    "r-project.org",
    "npmjs.org",
    "npmjs.com",
    "nuget.org",
    "ubuntu.com",
    "debian.org",
    "launchpad.net",
    "githubusercontent.com",
    "docker.com",
];

/// Microsoft hosts that accept no customer content (`*.` = and subdomains).
const MICROSOFT: &[&str] = &[
    "ml.azure.com",
    "*.azureml.ms",
    "*.azureml.net",
    "*.notebooks.azure.net",
    "*.aznbcontent.net",
    "mcr.microsoft.com",
    "*.data.mcr.microsoft.com",
    "login.microsoftonline.com",
    "management.azure.com",
    "graph.microsoft.com",
    "graph.windows.net",
    "*.batch.azure.com",
    "aka.ms",
    "automlresources-prod.azureedge.net",
    "automlresources-prod-d0eaehh7g8andvav.b02.azurefd.net",
    "code.visualstudio.com",
    "update.code.visualstudio.com",
    "marketplace.visualstudio.com",
    "vscode.download.prss.microsoft.com",
    "vscode.blob.core.windows.net",
    "*.gallerycdn.vsassets.io",
    "*.vscode-cdn.net",
    "*.vscode-unpkg.net",
    "*.vscodeexperiments.azureedge.net",
    "*.vscode.dev",
    "default.exp-tas.com",
];

/// Service tags whose addresses include endpoints anyone can create.
const WRITABLE_TAGS: &[&str] = &[
    "storage",
    "azurefrontdoor.frontend",
    "azurecloud",
    "internet",
    "eventhub",
    "servicebus",
    "sql",
    "azurecosmosdb",
    "appservice",
    "azurecontainerregistry",
    "azuremonitor",
    "azurekeyvault",
    "azuredatalake",
    "azuresignalr",
    "apimanagement",
    "azuredatabricks",
    "cognitiveservicesfrontend",
];

/// Service tags of Microsoft services where a customer cannot receive data.
const SAFE_TAGS: &[&str] = &[
    "azureactivedirectory",
    "azureresourcemanager",
    "azuremachinelearning",
    "microsoftcontainerregistry",
    "batchnodemanagement",
    "azurefrontdoor.firstparty",
    "virtualnetwork",
    "azureplatformdns",
    "azureplatformimds",
    "azureplatformlkm",
];

/// `host` is `domain` or below it.
fn under(host: &str, domain: &str) -> bool {
    host == domain || host.ends_with(&format!(".{domain}"))
}

fn microsoft(host: &str) -> bool {
    MICROSOFT.iter().any(|p| match p.strip_prefix("*.") {
        Some(d) => host.ends_with(&format!(".{d}")) || host == d,
        None => host == *p,
    })
}

/// Whether the first label of a host under a multi-tenant namespace is one of the deployment's resources.
fn owned_endpoint(host: &str, domain: &str, owned: &Owned) -> bool {
    if let Some(acct) = storage_account_of_host(host) {
        return owned.has_storage(&acct);
    }
    let label = host.split('.').next().unwrap_or(host);
    match domain {
        "azurecr.io" => owned.has_registry(label),
        "vault.azure.net" => owned.has_vault(label),
        _ => false,
    }
}

fn classify_fqdn(dest: &str, owned: &Owned) -> Verdict {
    let h = dest.trim().trim_end_matches('.').to_ascii_lowercase();
    if h.is_empty() || h == "*" {
        return Verdict::Writable("'*' allows every host".into());
    }
    let (wild, base) = match h.strip_prefix("*.") {
        Some(b) => (true, b.to_string()),
        None => (false, h.clone()),
    };
    if wild {
        if !base.contains('.') {
            return Verdict::Writable(format!("'*.{base}' covers a whole top-level domain"));
        }
        if let Some(d) = MULTI_TENANT.iter().chain(UPLOAD).find(|d| under(d, &base)) {
            return Verdict::Writable(format!(
                "it covers {d}, where anyone can create an endpoint or upload content of their own"
            ));
        }
    }
    if microsoft(&base) {
        return Verdict::Pass;
    }
    if let Some(d) = UPLOAD.iter().find(|d| under(&base, d)) {
        return Verdict::Writable(format!("any account holder can upload to {d}"));
    }
    if let Some(d) = MULTI_TENANT
        .iter()
        .filter(|d| under(&base, d))
        .max_by_key(|d| d.len())
    {
        if base.as_str() != *d && owned_endpoint(&base, d, owned) {
            return Verdict::Pass;
        }
        return Verdict::Review {
            reason: format!(
                "'{h}' is under {d}, where anyone can create an endpoint, and the deployment does not declare it"
            ),
            confident: true,
        };
    }
    if let Some(d) = PACKAGES.iter().find(|d| under(&base, d)) {
        return Verdict::Review {
            reason: format!("{d} accepts uploads from anyone with a free account"),
            confident: true,
        };
    }
    Verdict::Review {
        reason: format!(
            "'{h}' is not a host of this deployment or a Microsoft host amlguard knows: whoever controls it receives what is sent"
        ),
        confident: false,
    }
}

fn tag_key(tag: &str) -> String {
    let t = tag.trim().to_ascii_lowercase();
    if t.starts_with("azurefrontdoor.") {
        return t;
    }
    t.split('.').next().unwrap_or(&t).to_string()
}

fn classify_tag(tag: &str) -> Verdict {
    let k = tag_key(tag);
    if SAFE_TAGS.contains(&k.as_str()) {
        Verdict::Pass
    } else if WRITABLE_TAGS.contains(&k.as_str()) {
        Verdict::Writable(format!(
            "service tag '{tag}' includes endpoints anyone can create and write to"
        ))
    } else {
        Verdict::Review {
            reason: format!("service tag '{tag}' is not one amlguard classifies as safe"),
            confident: false,
        }
    }
}

fn private_prefix(p: &str) -> bool {
    let p = p.trim().to_ascii_lowercase();
    let ip = p.split('/').next().unwrap_or(&p);
    let octets: Vec<u8> = ip.split('.').filter_map(|o| o.parse().ok()).collect();
    match octets.as_slice() {
        [10, _, _, _] => true,
        [172, b, _, _] => (16..=31).contains(b),
        [192, 168, _, _] => true,
        _ => ip.starts_with("fd") || ip.starts_with("fc"),
    }
}

fn classify_prefixes(prefixes: &[&str]) -> Verdict {
    if let Some(p) = prefixes.iter().find(|p| {
        let p = p.trim();
        p == "0.0.0.0/0" || p == "::/0" || p == "*" || p.eq_ignore_ascii_case("internet")
    }) {
        return Verdict::Writable(format!("address prefix '{p}' is every address"));
    }
    match prefixes.iter().find(|p| !private_prefix(p)) {
        Some(p) => Verdict::Review {
            reason: format!("public address prefix '{p}' belongs to whoever holds those addresses"),
            confident: false,
        },
        None => Verdict::Pass,
    }
}

const FQDN_FIX: &str = "remove the rule or narrow it to the exact host the workload needs; reach storage and other services you own through PrivateEndpoint rules";
const TAG_FIX: &str = "remove the rule and reach the resources you own through PrivateEndpoint rules (or FQDN rules for exact hosts)";
const PE_FIX: &str = "remove the rule, or confirm that the target belongs to your organisation (declaring it in the deployment records that)";

/// The mode a rule is judged under.
enum Mode {
    Approved,
    Undecided(Option<String>),
}

impl Rule for ManagedNetworkBroadOutboundRule {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        let owned = Owned::of(m);
        for ws in m.of_kind(ResourceKind::Workspace) {
            let Some(mode) = mode_of(ws) else { continue };
            let rules = ws.get("properties.managedNetwork.outboundRules");
            match &rules {
                Field::Known(t) => {
                    for (name, rule) in t.as_object().unwrap_or_default() {
                        judge(out, &owned, &mode, ws, Some(ws), name, rule);
                    }
                }
                Field::Unknown { .. } => out.push(undecided(
                    &Self::META,
                    ws,
                    &rules,
                    &format!(
                        "the managed-network outbound rules of workspace '{}' are not known offline and may open writable destinations",
                        ws.display_name()
                    ),
                    FQDN_FIX,
                    deciding_input(&rules),
                )),
                Field::Absent { .. } => {}
            }
        }
        for r in m.of_kind(ResourceKind::OutboundRule) {
            let ws = workspace_of(m, r);
            let mode = match ws {
                Some(w) => match mode_of(w) {
                    Some(mode) => mode,
                    None => continue,
                },
                None => Mode::Undecided(Some(format!(
                    "the isolation mode of workspace '{}' (not declared in the scanned input)",
                    r.name
                        .as_deref()
                        .and_then(|n| n.split('/').next())
                        .unwrap_or("(unknown)")
                ))),
            };
            let Field::Known(body) = r.get("properties") else {
                continue;
            };
            let name = r
                .short_name()
                .unwrap_or("(name not known offline)")
                .to_string();
            judge(out, &owned, &mode, r, ws, &name, body);
        }
    }
}

fn mode_of(ws: &Resource) -> Option<Mode> {
    match managed_mode(ws) {
        ManagedMode::AllowOnlyApprovedOutbound => Some(Mode::Approved),
        ManagedMode::Unknown(f) => Some(Mode::Undecided(deciding_input(&f))),
        ManagedMode::Off | ManagedMode::AllowInternetOutbound => None,
    }
}

#[allow(clippy::too_many_arguments)]
fn judge(
    out: &mut Vec<Finding>,
    owned: &Owned,
    mode: &Mode,
    res: &Resource,
    ws: Option<&Resource>,
    name: &str,
    rule: &Tree,
) {
    let meta = &ManagedNetworkBroadOutboundRule::META;
    let get = |p: &str| rule.get_path(p, &res.prov);
    if get("category").str_is(&["Required"]) == Some(true) {
        return;
    }
    let ws_name = ws.map_or_else(
        || {
            res.name
                .as_deref()
                .and_then(|n| n.split('/').next())
                .unwrap_or("(unknown)")
                .to_string()
        },
        Resource::display_name,
    );
    let what = format!("outbound rule '{name}' of workspace '{ws_name}'");
    let ty = get("type");
    let (field, verdict, fix): (Field<'_>, Verdict, &str) = if is_unknown(&ty) {
        (ty.clone(), Verdict::Pass, FQDN_FIX)
    } else if ty.str_is(&["FQDN"]) == Some(true) {
        let f = get("destination");
        let v = f.str().map_or(Verdict::Pass, |d| classify_fqdn(d, owned));
        (f, v, FQDN_FIX)
    } else if ty.str_is(&["ServiceTag"]) == Some(true) {
        if get("destination.action").str_is(&["Deny"]) == Some(true) {
            return;
        }
        let prefixes = get("destination.addressPrefixes");
        let listed: Vec<&str> = prefixes
            .known()
            .and_then(Tree::as_array)
            .map(|a| a.iter().filter_map(Tree::as_str).collect())
            .unwrap_or_default();
        if !listed.is_empty() || is_unknown(&prefixes) {
            let v = classify_prefixes(&listed);
            (prefixes, v, TAG_FIX)
        } else {
            let f = get("destination.serviceTag");
            let v = f.str().map_or(Verdict::Pass, classify_tag);
            (f, v, TAG_FIX)
        }
    } else if ty.str_is(&["PrivateEndpoint"]) == Some(true) {
        let f = get("destination.serviceResourceId");
        let v = match f.str() {
            Some(id) if !owned.has_id(id) => Verdict::Review {
                reason: format!(
                    "its target '{id}' is not a resource of this deployment: a data source or sink to review"
                ),
                confident: true,
            },
            _ => Verdict::Pass,
        };
        (f, v, PE_FIX)
    } else {
        return;
    };

    let relate = |f: Finding| match ws {
        Some(w) if !std::ptr::eq(w, res) => {
            let at = w.get("properties.managedNetwork.isolationMode");
            match at.at() {
                Some(p) => f.related(
                    p.clone(),
                    format!("workspace '{ws_name}' uses this managed network"),
                ),
                None => f,
            }
        }
        _ => f,
    };

    if is_unknown(&field) {
        let msg = format!("{what} has a destination that may be writable by anyone");
        out.push(relate(undecided(
            meta,
            res,
            &field,
            &msg,
            fix,
            deciding_input(&field),
        )));
        return;
    }
    let (severity, confidence, reason) = match verdict {
        Verdict::Pass => return,
        Verdict::Writable(r) => (Severity::High, Confidence::High, r),
        Verdict::Review { reason, confident } => (
            Severity::Medium,
            if confident {
                Confidence::High
            } else {
                Confidence::Medium
            },
            reason,
        ),
    };
    let msg = format!("{what} opens a destination outside the deployment's control: {reason}");
    match mode {
        Mode::Approved => {
            let mut f = Finding::new(meta, res, msg).at_field(&field).with_fix(fix);
            f.severity = severity;
            f.confidence = confidence;
            out.push(relate(f));
        }
        Mode::Undecided(input) => {
            let mut f = undecided(
                meta,
                res,
                &field,
                &format!("{msg} (if the managed network is in AllowOnlyApprovedOutbound mode)"),
                fix,
                input.clone(),
            );
            f.severity = severity;
            out.push(relate(f));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::testing::{route, run, template};

    fn ws_rules(mode: &str, rules: &str) -> String {
        template(
            r#""mode": {"type": "string"}, "dest": {"type": "string"}"#,
            &format!(
                r#"{{"type": "Microsoft.MachineLearningServices/workspaces", "apiVersion": "2024-10-01", "name": "ws", "location": "eastus",
  "properties": {{"storageAccount": "[resourceId('Microsoft.Storage/storageAccounts', 'stdefault')]",
    "managedNetwork": {{"isolationMode": "{mode}", "outboundRules": {{{rules}}}}}}}}}"#
            ),
        )
    }

    fn fqdn(name: &str, dest: &str) -> String {
        format!(
            r#""{name}": {{"type": "FQDN", "category": "UserDefined", "destination": "{dest}"}}"#
        )
    }

    #[test]
    fn wildcard_storage_fqdn_fails_at_the_destination() {
        let f = run(
            &ManagedNetworkBroadOutboundRule,
            &ws_rules(
                "AllowOnlyApprovedOutbound",
                &fqdn("blobs", "*.blob.core.windows.net"),
            ),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(
            route(&f[0]),
            "resources[0].properties.managedNetwork.outboundRules.blobs.destination"
        );
        assert_eq!(f[0].severity, Severity::High);
        assert!(f[0].message.contains("blob.core.windows.net"));
    }

    #[test]
    fn fqdn_table() {
        let o = Owned::default();
        for w in [
            "*",
            "*.core.windows.net",
            "*.azurefd.net",
            "*.azureedge.net",
            "*.windows.net",
            "*.com",
            "github.com",
            "*.docker.io",
        ] {
            assert!(matches!(classify_fqdn(w, &o), Verdict::Writable(_)), "{w}");
        }
        for p in [
            "mcr.microsoft.com",
            "*.data.mcr.microsoft.com",
            "ml.azure.com",
            "automlresources-prod.azureedge.net",
            "*.vscodeexperiments.azureedge.net",
        ] {
            assert_eq!(classify_fqdn(p, &o), Verdict::Pass, "{p}");
        }
        assert!(matches!(
            classify_fqdn("pypi.org", &o),
            Verdict::Review {
                confident: true,
                ..
            }
        ));
        assert!(matches!(
            classify_fqdn("evil.blob.core.windows.net", &o),
            Verdict::Review {
                confident: true,
                ..
            }
        ));
        assert!(matches!(
            classify_fqdn("example.com", &o),
            Verdict::Review {
                confident: false,
                ..
            }
        ));
    }

    #[test]
    fn own_storage_host_passes_foreign_one_is_reviewed() {
        let own = run(
            &ManagedNetworkBroadOutboundRule,
            &ws_rules(
                "AllowOnlyApprovedOutbound",
                &fqdn("own", "stdefault.blob.core.windows.net"),
            ),
        );
        assert!(own.is_empty(), "{own:?}");
        let foreign = run(
            &ManagedNetworkBroadOutboundRule,
            &ws_rules(
                "AllowOnlyApprovedOutbound",
                &fqdn("other", "other.blob.core.windows.net"),
            ),
        );
        assert_eq!(foreign.len(), 1);
        assert_eq!(foreign[0].severity, Severity::Medium);
    }

    #[test]
    fn service_tags() {
        let rules = r#""st": {"type": "ServiceTag", "destination": {"serviceTag": "Storage.westeurope", "protocol": "TCP", "portRanges": "443", "action": "Allow"}},
            "fd": {"type": "ServiceTag", "destination": {"serviceTag": "AzureFrontDoor.FrontEnd", "protocol": "TCP", "portRanges": "443"}},
            "aad": {"type": "ServiceTag", "destination": {"serviceTag": "AzureActiveDirectory", "protocol": "TCP", "portRanges": "443"}},
            "deny": {"type": "ServiceTag", "destination": {"serviceTag": "Storage", "action": "Deny"}},
            "req": {"type": "ServiceTag", "category": "Required", "destination": {"serviceTag": "Storage"}}"#;
        let f = run(
            &ManagedNetworkBroadOutboundRule,
            &ws_rules("AllowOnlyApprovedOutbound", rules),
        );
        assert_eq!(f.len(), 2, "{f:?}");
        assert_eq!(
            route(&f[0]),
            "resources[0].properties.managedNetwork.outboundRules.st.destination.serviceTag"
        );
        assert!(f[1].message.contains("AzureFrontDoor.FrontEnd"));
    }

    #[test]
    fn private_endpoint_rule_to_a_foreign_resource_is_reviewed() {
        let rules = r#""own": {"type": "PrivateEndpoint", "destination": {"serviceResourceId": "[resourceId('Microsoft.Storage/storageAccounts', 'stdefault')]", "subresourceTarget": "blob"}},
            "far": {"type": "PrivateEndpoint", "destination": {"serviceResourceId": "/subscriptions/1111/resourceGroups/x/providers/Microsoft.Storage/storageAccounts/far", "subresourceTarget": "blob"}}"#;
        let f = run(
            &ManagedNetworkBroadOutboundRule,
            &ws_rules("AllowOnlyApprovedOutbound", rules),
        );
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].severity, Severity::Medium);
        assert_eq!(
            route(&f[0]),
            "resources[0].properties.managedNetwork.outboundRules.far.destination.serviceResourceId"
        );
    }

    #[test]
    fn separate_rule_resources_are_judged() {
        let t = template(
            "",
            r#"{"type": "Microsoft.MachineLearningServices/workspaces", "apiVersion": "2024-10-01", "name": "ws", "location": "eastus",
                "properties": {"managedNetwork": {"isolationMode": "AllowOnlyApprovedOutbound"}}},
               {"type": "Microsoft.MachineLearningServices/workspaces/outboundRules", "apiVersion": "2024-10-01", "name": "ws/anything",
                "properties": {"type": "FQDN", "category": "UserDefined", "destination": "*"}}"#,
        );
        let f = run(&ManagedNetworkBroadOutboundRule, &t);
        assert_eq!(f.len(), 1);
        assert_eq!(route(&f[0]), "resources[1].properties.destination");
        assert_eq!(f[0].related.len(), 1);
    }

    #[test]
    fn good_rules_and_other_modes_pass() {
        let good = format!(
            "{}, {}",
            fqdn("mcr", "mcr.microsoft.com"),
            fqdn("data", "*.data.mcr.microsoft.com")
        );
        assert!(
            run(
                &ManagedNetworkBroadOutboundRule,
                &ws_rules("AllowOnlyApprovedOutbound", &good)
            )
            .is_empty()
        );
        // Outside approved-only mode the rules are not this rule's (305 reports internet outbound).
        let bad = fqdn("any", "*");
        assert!(
            run(
                &ManagedNetworkBroadOutboundRule,
                &ws_rules("AllowInternetOutbound", &bad)
            )
            .is_empty()
        );
        assert!(
            run(
                &ManagedNetworkBroadOutboundRule,
                &ws_rules("Disabled", &bad)
            )
            .is_empty()
        );
    }

    #[test]
    fn absent_rules_pass() {
        let t = template(
            "",
            r#"{"type": "Microsoft.MachineLearningServices/workspaces", "apiVersion": "2024-10-01", "name": "ws", "location": "eastus",
                "properties": {"managedNetwork": {"isolationMode": "AllowOnlyApprovedOutbound"}}}"#,
        );
        assert!(run(&ManagedNetworkBroadOutboundRule, &t).is_empty());
    }

    #[test]
    fn unknown_destination_and_unknown_mode_are_low_confidence() {
        let f = run(
            &ManagedNetworkBroadOutboundRule,
            &ws_rules(
                "AllowOnlyApprovedOutbound",
                &fqdn("p", "[parameters('dest')]"),
            ),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'dest'"));

        let f = run(
            &ManagedNetworkBroadOutboundRule,
            &ws_rules("[parameters('mode')]", &fqdn("any", "*")),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'mode'"));
    }
}
