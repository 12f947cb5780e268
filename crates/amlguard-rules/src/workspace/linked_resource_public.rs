use amlguard_model::{Field, Model, Resource, ResourceKind};

use super::util::{Tri, at_of, deployed, input_of, kind_label, possible, str_in};
use crate::{Finding, Rule, declare_rule};

declare_rule! {
    /// ## What it checks
    /// A private workspace (`properties.publicNetworkAccess` is `Disabled`) whose
    /// linked storage account, key vault or container registry
    /// (`properties.storageAccount`, `keyVault`, `containerRegistry`, resolved by
    /// resource ID, case-insensitively) is deployed by the same input and accepts
    /// traffic from every network:
    /// - storage account and key vault: `publicNetworkAccess` is not `Disabled`
    ///   (absent means enabled; a storage account in `SecuredByPerimeter` counts as
    ///   closed) **and** `networkAcls.defaultAction` is `Allow` or absent (Azure's
    ///   default is `Allow`);
    /// - container registry: `publicNetworkAccess` is `Enabled` or absent (the
    ///   default), unless the registry is Premium and `networkRuleSet.defaultAction`
    ///   is `Deny` (network rules only apply to the Premium SKU).
    ///
    /// A linked resource that is not deployed by this input (missing, or declared
    /// `existing`) is skipped: its settings are not known here. When the linked ID is
    /// not known offline, every public resource of that kind in the input may be the
    /// linked one: each gives a finding with confidence low naming the parameter.
    ///
    /// ## Why it matters
    /// The default storage account holds the workspace's data, models, notebooks and
    /// job outputs; the key vault holds its connection secrets; the registry holds the
    /// images jobs run. Closing the workspace while these stay open to the internet
    /// leaves the data reachable around it. Microsoft's exfiltration guidance makes a
    /// private storage account a prerequisite.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.MachineLearningServices/workspaces", "properties": {
    ///   "publicNetworkAccess": "Disabled",
    ///   "storageAccount": "[resourceId('Microsoft.Storage/storageAccounts', 'sa')]"}},
    /// {"type": "Microsoft.Storage/storageAccounts", "name": "sa", "properties": {}}
    /// ```
    ///
    /// ## Fix
    /// ARM: on the linked resource set `"publicNetworkAccess": "Disabled"` (or
    /// `"networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices"}` for storage
    /// and Key Vault) and add private endpoints; a private registry also needs the
    /// workspace's `imageBuildCompute`.
    /// Bicep: `publicNetworkAccess: 'Disabled'` on the storage account, vault and registry.
    /// Terraform: `public_network_access_enabled = false` on `azurerm_storage_account`,
    /// `azurerm_key_vault` and `azurerm_container_registry`.
    ///
    /// ## References
    /// Azure Policy b2982f36-99f2-4db5-8eff-283140c09693 (storage public network access),
    /// 405c5871-3e91-4644-8a63-58e19d68ff5b (Key Vault), 0fdf0491-d080-4575-b627-ad0e843cba0f (ACR);
    /// MCSB NS-2; Checkov CKV2_AZURE_50. CKV2_AZURE_50 means to check the storage of
    /// high-business-impact workspaces but, because of how its filters combine, fires
    /// on storage accounts unrelated to any workspace (checkov#6388); amlguard follows
    /// the workspace's own links and checks all three linked services.
    pub struct WorkspaceLinkedResourcePublic {
        code: 105,
        name: "workspace-linked-resource-public",
        title: "A private workspace uses a storage account, key vault or registry open to all networks",
        severity: High,
        confidence: High,
        category: Workspace,
        references: [
            "Azure Policy b2982f36-99f2-4db5-8eff-283140c09693",
            "Azure Policy 405c5871-3e91-4644-8a63-58e19d68ff5b",
            "Azure Policy 0fdf0491-d080-4575-b627-ad0e843cba0f",
            "MCSB NS-2",
            "Checkov CKV2_AZURE_50",
        ],
    }
}

/// A field is open: `closed` values (known) close it; absent is open; unknown is maybe.
fn open(f: &Field<'_>, closed: &[&str]) -> Tri {
    match f {
        Field::Known(t) if t.contains_unknown() => Tri::Maybe(input_of(f)),
        Field::Known(t) => {
            if str_in(t, closed) {
                Tri::No
            } else {
                Tri::Yes
            }
        }
        Field::Absent { .. } => Tri::Yes,
        Field::Unknown { .. } => Tri::Maybe(input_of(f)),
    }
}

/// Whether a linked resource accepts traffic from every network, and the field to point at.
fn public(r: &Resource) -> (Tri, Field<'_>) {
    let pna = r.get("properties.publicNetworkAccess");
    let pna_open = open(&pna, &["Disabled", "SecuredByPerimeter"]);
    let (acl, acl_open) = match r.kind {
        ResourceKind::ContainerRegistry => {
            let acl = r.get("properties.networkRuleSet.defaultAction");
            let deny = open(&acl, &["Deny"]).negate();
            // Network rules only apply to Premium registries.
            let premium = match r.get("sku.name") {
                f @ Field::Unknown { .. } => Tri::Maybe(input_of(&f)),
                f => {
                    if f.known().is_some_and(|t| str_in(t, &["Premium"])) {
                        Tri::Yes
                    } else {
                        Tri::No
                    }
                }
            };
            (acl, deny.and(premium).negate())
        }
        _ => {
            let acl = r.get("properties.networkAcls.defaultAction");
            let acl_open = open(&acl, &["Deny"]);
            (acl, acl_open)
        }
    };
    let verdict = pna_open.and(acl_open);
    // Point at what is written: publicNetworkAccess when it is, else an explicit
    // defaultAction Allow, else where publicNetworkAccess would go.
    let at = if pna.is_absent() && acl.known().is_some() {
        acl
    } else {
        pna
    };
    (verdict, at)
}

impl Rule for WorkspaceLinkedResourcePublic {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        for ws in m.of_kind(ResourceKind::Workspace) {
            let ws_pna = ws.get("properties.publicNetworkAccess");
            let ws_private = match &ws_pna {
                Field::Known(t) if t.contains_unknown() => Tri::Maybe(input_of(&ws_pna)),
                Field::Known(t) if str_in(t, &["Disabled"]) => Tri::Yes,
                Field::Unknown { .. } => Tri::Maybe(input_of(&ws_pna)),
                // Public workspaces are AMLG101's business.
                _ => continue,
            };
            for (prop, kind) in [
                ("storageAccount", ResourceKind::StorageAccount),
                ("keyVault", ResourceKind::KeyVault),
                ("containerRegistry", ResourceKind::ContainerRegistry),
            ] {
                let link = ws.get(&format!("properties.{prop}"));
                let candidates: Vec<(&Resource, Tri)> = match &link {
                    Field::Absent { .. } => Vec::new(),
                    Field::Known(t) if !t.contains_unknown() => {
                        match t.as_str().and_then(|id| m.get(id)) {
                            Some(r) if r.kind == kind => {
                                vec![(r, deployed(r, kind_label(kind)))]
                            }
                            // Not in the input: its settings are not known here.
                            _ => Vec::new(),
                        }
                    }
                    // Not known offline: any resource of the kind may be the linked one.
                    _ => m
                        .of_kind(kind)
                        .map(|r| {
                            let linked = Tri::Maybe(input_of(&link));
                            (r, deployed(r, kind_label(kind)).and(linked))
                        })
                        .collect(),
                };
                for (r, linked) in candidates {
                    let (is_public, at) = public(r);
                    let verdict = ws_private.clone().and(linked).and(is_public);
                    let label = kind_label(kind);
                    let message = format!(
                        "workspace '{}' is private but its {label} '{}' accepts traffic from all networks",
                        ws.display_name(),
                        r.display_name()
                    );
                    let fix = match kind {
                        ResourceKind::StorageAccount => format!(
                            "set publicNetworkAccess to 'Disabled' on storage account '{}' (or networkAcls.defaultAction to 'Deny'), reach it through private endpoints (blob, file), and admit the workspace with networkAcls.resourceAccessRules or bypass 'AzureServices'",
                            r.display_name()
                        ),
                        ResourceKind::KeyVault => format!(
                            "set publicNetworkAccess to 'Disabled' on key vault '{}' (or networkAcls.defaultAction to 'Deny' with bypass 'AzureServices') and reach it through a private endpoint",
                            r.display_name()
                        ),
                        _ => format!(
                            "set publicNetworkAccess to 'Disabled' on container registry '{}' (Premium SKU with a private endpoint) and set the workspace's imageBuildCompute",
                            r.display_name()
                        ),
                    };
                    let related =
                        format!("workspace '{}' links it as its {label}", ws.display_name());
                    match verdict {
                        Tri::No => {}
                        Tri::Yes => out.push(
                            Finding::new(&Self::META, r, message)
                                .at_field(&at)
                                .with_fix(fix)
                                .related(at_of(ws, &link), related),
                        ),
                        Tri::Maybe(input) => out.push(
                            possible(
                                &Self::META,
                                r,
                                at_of(r, &at),
                                &message,
                                &fix,
                                input,
                                "a value is not known offline",
                            )
                            .related(at_of(ws, &link), related),
                        ),
                    }
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

    fn ws(pna: &str, links: &str) -> String {
        format!(
            r#"{{"type": "Microsoft.MachineLearningServices/workspaces", "apiVersion": "2024-04-01", "name": "ws", "location": "eastus", "properties": {{"publicNetworkAccess": "{pna}"{links}}}}}"#
        )
    }
    const SA_LINK: &str =
        r#", "storageAccount": "[resourceId('Microsoft.Storage/storageAccounts', 'sa')]""#;

    fn sa(props: &str) -> String {
        format!(
            r#"{{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "sa", "location": "eastus", "kind": "StorageV2", "sku": {{"name": "Standard_LRS"}}, "properties": {props}}}"#
        )
    }

    const PARAMS: &str = r#""saId": {"type": "string"}, "pna": {"type": "string"}"#;

    fn check(resources: &str) -> Vec<Finding> {
        run(&WorkspaceLinkedResourcePublic, &template(PARAMS, resources))
    }

    #[test]
    fn open_storage_fails_at_its_property_with_the_workspace_related() {
        let f = check(&format!(
            "{}, {}",
            ws("Disabled", SA_LINK),
            sa(r#"{"publicNetworkAccess": "Enabled"}"#)
        ));
        assert_eq!(f.len(), 1);
        assert_eq!(route(&f[0]), "resources[1].properties.publicNetworkAccess");
        assert_eq!(f[0].resource_name, "sa");
        assert_eq!(
            f[0].related[0].at.route.to_string(),
            "resources[0].properties.storageAccount"
        );
    }

    #[test]
    fn absent_settings_mean_open() {
        let f = check(&format!("{}, {}", ws("Disabled", SA_LINK), sa("{}")));
        assert_eq!(f.len(), 1);
        assert!(f[0].absent);
        assert_eq!(route(&f[0]), "resources[1].properties");
    }

    #[test]
    fn disabled_or_firewalled_storage_passes() {
        for props in [
            r#"{"publicNetworkAccess": "Disabled"}"#,
            r#"{"networkAcls": {"defaultAction": "Deny"}}"#,
            r#"{"publicNetworkAccess": "Enabled", "networkAcls": {"defaultAction": "Deny"}}"#,
        ] {
            assert!(
                check(&format!("{}, {}", ws("Disabled", SA_LINK), sa(props))).is_empty(),
                "{props}"
            );
        }
    }

    #[test]
    fn public_workspace_or_storage_outside_the_input_is_skipped() {
        assert!(check(&format!("{}, {}", ws("Enabled", SA_LINK), sa("{}"))).is_empty());
        assert!(check(&ws("Disabled", SA_LINK)).is_empty());
        let existing = r#"{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "sa", "existing": true}"#;
        let t = format!(
            r#"{{"$schema": "$SCHEMA", "languageVersion": "2.0", "contentVersion": "1.0.0.0", "resources": {{"w": {}, "s": {existing}}}}}"#,
            ws("Disabled", SA_LINK)
        );
        assert!(run(&WorkspaceLinkedResourcePublic, &t).is_empty());
    }

    #[test]
    fn open_key_vault_and_registry_fail() {
        let links = r#", "keyVault": "[resourceId('Microsoft.KeyVault/vaults', 'kv')]", "containerRegistry": "[resourceId('Microsoft.ContainerRegistry/registries', 'acr')]""#;
        let kv = r#"{"type": "Microsoft.KeyVault/vaults", "apiVersion": "2023-07-01", "name": "kv", "location": "eastus", "properties": {"tenantId": "[subscription().tenantId]", "sku": {"family": "A", "name": "standard"}, "networkAcls": {"defaultAction": "Allow"}}}"#;
        let acr = r#"{"type": "Microsoft.ContainerRegistry/registries", "apiVersion": "2023-07-01", "name": "acr", "location": "eastus", "sku": {"name": "Premium"}, "properties": {}}"#;
        let f = check(&format!("{}, {kv}, {acr}", ws("Disabled", links)));
        assert_eq!(f.len(), 2);
        assert_eq!(
            route(&f[0]),
            "resources[1].properties.networkAcls.defaultAction"
        );
        assert_eq!(route(&f[1]), "resources[2].properties");
        // A Premium registry whose firewall denies by default passes; a Basic one does not.
        let acr_deny = acr.replace(
            r#""properties": {}"#,
            r#""properties": {"networkRuleSet": {"defaultAction": "Deny"}}"#,
        );
        assert!(check(&format!("{}, {acr_deny}", ws("Disabled", links))).is_empty());
        let basic = acr_deny.replace("Premium", "Basic");
        assert_eq!(
            check(&format!("{}, {basic}", ws("Disabled", links))).len(),
            1
        );
    }

    #[test]
    fn unknown_link_or_workspace_access_gives_low_confidence() {
        let link = r#", "storageAccount": "[parameters('saId')]""#;
        let f = check(&format!("{}, {}", ws("Disabled", link), sa("{}")));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'saId'"));
        // No public candidate: nothing to report.
        let closed = sa(r#"{"publicNetworkAccess": "Disabled"}"#);
        assert!(check(&format!("{}, {closed}", ws("Disabled", link))).is_empty());

        let f = check(&format!(
            "{}, {}",
            ws("[parameters('pna')]", SA_LINK),
            sa("{}")
        ));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'pna'"));
    }
}
