use amlguard_model::{Field, Model, ResourceKind};

use crate::egress::util::{
    PeLookup, SubnetRef, compute_subnets, deciding_input, deployed, ids_eq, is_unknown,
    private_endpoint_to, undecided,
};
use crate::{Finding, Rule, declare_rule};

declare_rule! {
    /// ## What it checks
    /// A workspace whose default storage account (`properties.storageAccount`,
    /// deployed by the input) has a firewall that admits neither the
    /// workspace nor its compute: `properties.networkAcls.defaultAction` is
    /// `Deny`, and
    ///
    /// - no private endpoint targets the account;
    /// - `networkAcls.virtualNetworkRules` lists none of the subnets the
    ///   workspace's compute runs in;
    /// - `networkAcls.bypass` does not contain `AzureServices` (absent means
    ///   `AzureServices`, Azure's default);
    /// - `networkAcls.resourceAccessRules` has no rule whose `resourceId` is the
    ///   workspace (a `*` wildcard in the rule matches any text).
    ///
    /// An absent `networkAcls` or `defaultAction` means `Allow`. A value not
    /// known offline gives a low-confidence finding.
    ///
    /// ## Why it matters
    /// The workspace service reads and writes its default storage (job
    /// snapshots, outputs, the studio's file browser and notebooks) from
    /// Microsoft's network, not from the customer's. A storage firewall that
    /// denies by default must let it in, as a trusted resource instance
    /// (`resourceAccessRules` with the workspace's ID) or through the trusted
    /// services exception; compute needs a private endpoint or a virtual
    /// network rule for its subnet. With none of these, the workspace cannot
    /// use its own storage and the deployment does not work.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.Storage/storageAccounts",
    ///  "properties": {"networkAcls": {"defaultAction": "Deny", "bypass": "None"}}}
    /// ```
    ///
    /// ## Fix
    /// ARM: add `"resourceAccessRules": [{"tenantId": "[subscription().tenantId]",
    /// "resourceId": "<workspace ID>"}]` to the account's `networkAcls` (and a
    /// private endpoint or a virtual network rule for the compute subnet).
    /// Bicep: `resourceAccessRules: [ { tenantId: tenant().tenantId, resourceId: workspace.id } ]`.
    /// Terraform (`azurerm_storage_account`): `network_rules { private_link_access { endpoint_resource_id = azurerm_machine_learning_workspace.ml.id } }`.
    ///
    /// ## References
    /// No Azure Policy definition and no MCSB control (a functional
    /// dependency). Peers push the other way: Checkov CKV_AZURE_35, Trivy
    /// AZU-0012 and PSRule Azure.Storage.Firewall require `Deny`, and Checkov
    /// CKV_AZURE_36, Trivy AZU-0010 and Azure Policy
    /// c9d007d0-c057-4772-b18c-01e546713bcd require the trusted-services
    /// bypass, which admits every trusted Microsoft service rather than this
    /// workspace. amlguard accepts the narrower resource instance rule as
    /// sufficient and reports only a firewall that leaves the workspace out.
    pub struct StorageFirewallBlocksWorkspace {
        code: 407,
        name: "storage-firewall-blocks-workspace",
        title: "The default storage account's firewall shuts out the workspace",
        severity: High,
        confidence: High,
        category: Dependency,
        references: [],
    }
}

const FIX: &str = "admit the workspace in the storage firewall: add a networkAcls.resourceAccessRules entry with the workspace's resource ID (and a private endpoint or a virtual network rule for the compute subnet)";

/// `pattern` (with `*` wildcards) matches `text`, case-insensitively.
fn glob(pattern: &str, text: &str) -> bool {
    let p = pattern.to_ascii_lowercase();
    let t = text.to_ascii_lowercase();
    let parts: Vec<&str> = p.split('*').collect();
    if parts.len() == 1 {
        return p.trim_end_matches('/') == t.trim_end_matches('/');
    }
    let mut rest = t.as_str();
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(pos) => rest = rest.get(pos + part.len()..).unwrap_or(""),
                None => return false,
            }
        }
    }
    true
}

impl Rule for StorageFirewallBlocksWorkspace {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        let meta = &Self::META;
        let subnets = compute_subnets(m);
        for ws in m.of_kind(ResourceKind::Workspace) {
            let st_ref = ws.get("properties.storageAccount");
            let Some(st) = st_ref
                .str()
                .and_then(|id| deployed(m, ResourceKind::StorageAccount, id))
            else {
                continue;
            };
            let Some(st_id) = st.id.as_deref() else {
                continue;
            };
            let wname = ws.display_name();
            let deny = st.get("properties.networkAcls.defaultAction");
            let mut unknown: Option<Option<String>> = None;
            match deny.str_is(&["Deny"]) {
                Some(false) => continue,
                Some(true) => {}
                None => unknown = Some(deciding_input(&deny)),
            }
            // A private endpoint to the account (any group).
            match private_endpoint_to(m, st_id, &[]) {
                PeLookup::Found => continue,
                PeLookup::Unknown(input) => {
                    unknown.get_or_insert(input);
                }
                PeLookup::None => {}
            }
            // Trusted services (absent = AzureServices).
            let bypass = st.get("properties.networkAcls.bypass");
            match &bypass {
                Field::Absent { .. } => continue,
                _ if is_unknown(&bypass) => {
                    unknown.get_or_insert(deciding_input(&bypass));
                }
                _ => {
                    let has = bypass.str().is_some_and(|s| {
                        s.split(',')
                            .any(|p| p.trim().eq_ignore_ascii_case("AzureServices"))
                    });
                    if has {
                        continue;
                    }
                }
            }
            // A resource instance rule for the workspace.
            let ws_id = ws.id.as_deref();
            let rules = st.get("properties.networkAcls.resourceAccessRules");
            let mut admitted = false;
            match &rules {
                Field::Known(t) if !t.contains_unknown() => {
                    for rule in t.as_array().unwrap_or_default() {
                        let rid = rule.member("resourceId").and_then(|r| r.as_str());
                        if let (Some(rid), Some(wid)) = (rid, ws_id)
                            && glob(rid, wid)
                        {
                            admitted = true;
                        }
                    }
                }
                Field::Absent { .. } => {}
                _ => {
                    unknown.get_or_insert(deciding_input(&rules));
                }
            }
            if admitted {
                continue;
            }
            // A virtual network rule for a subnet the workspace's compute runs in.
            let vnet_rules = st.get("properties.networkAcls.virtualNetworkRules");
            let mut listed: Vec<&str> = Vec::new();
            match &vnet_rules {
                Field::Known(t) if !t.contains_unknown() => {
                    for rule in t.as_array().unwrap_or_default() {
                        if let Some(id) = rule.member("id").and_then(|r| r.as_str()) {
                            listed.push(id);
                        }
                    }
                }
                Field::Absent { .. } => {}
                _ => {
                    unknown.get_or_insert(deciding_input(&vnet_rules));
                }
            }
            let mut subnet_rule = false;
            for cs in subnets
                .iter()
                .filter(|cs| cs.workspaces().iter().any(|w| std::ptr::eq(*w, ws)))
            {
                let id = match &cs.subnet {
                    SubnetRef::Declared(s) => s.id.as_deref(),
                    SubnetRef::Outside(id) => Some(id.as_str()),
                    SubnetRef::Unknown => {
                        if !listed.is_empty() {
                            let input = cs.first().and_then(|u| deciding_input(&u.field));
                            unknown.get_or_insert(input);
                        }
                        None
                    }
                };
                if id.is_some_and(|id| listed.iter().any(|l| ids_eq(l, id))) {
                    subnet_rule = true;
                }
            }
            if subnet_rule {
                continue;
            }
            let msg = format!(
                "the firewall of storage account '{}', the default storage of workspace '{wname}', denies by default and admits neither the workspace (no resource instance rule, no trusted-services bypass) nor its compute (no private endpoint, no rule for its subnet): the workspace cannot use its own storage",
                st.display_name()
            );
            let finding = match unknown {
                None => Finding::new(meta, st, msg).at_field(&deny).with_fix(FIX),
                Some(input) => undecided(meta, st, &deny, &msg, FIX, input),
            };
            let finding = match st_ref.at() {
                Some(p) => finding.related(
                    p.clone(),
                    format!("workspace '{wname}' uses this account as its default storage"),
                ),
                None => finding,
            };
            out.push(finding);
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

    fn t(resources: &[String]) -> String {
        template(
            r#""action": {"type": "string"}, "bypass": {"type": "string"}"#,
            &resources.join(", "),
        )
    }

    const LOCKED: &str = r#"{"networkAcls": {"defaultAction": "Deny", "bypass": "None"}}"#;

    #[test]
    fn locked_storage_fails_at_the_default_action() {
        let f = run(
            &StorageFirewallBlocksWorkspace,
            &t(&[storage(LOCKED), workspace_with("")]),
        );
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(
            route(&f[0]),
            "resources[0].properties.networkAcls.defaultAction"
        );
        assert_eq!(f[0].confidence, Confidence::High);
        assert_eq!(
            f[0].related[0].at.route.to_string(),
            "resources[1].properties.storageAccount"
        );
    }

    #[test]
    fn each_way_in_passes() {
        let cases = [
            // trusted services
            r#"{"networkAcls": {"defaultAction": "Deny", "bypass": "Logging, AzureServices"}}"#.to_string(),
            // absent bypass = AzureServices
            r#"{"networkAcls": {"defaultAction": "Deny"}}"#.to_string(),
            // resource instance rule (wildcard)
            r#"{"networkAcls": {"defaultAction": "Deny", "bypass": "None", "resourceAccessRules": [{"tenantId": "t", "resourceId": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/*/providers/Microsoft.MachineLearningServices/workspaces/*"}]}}"#.to_string(),
            // subnet rule for the compute subnet
            format!(r#"{{"networkAcls": {{"defaultAction": "Deny", "bypass": "None", "virtualNetworkRules": [{{"id": "{SNET}", "action": "Allow"}}]}}}}"#),
            // allow
            r#"{"networkAcls": {"defaultAction": "Allow", "bypass": "None"}}"#.to_string(),
        ];
        for c in cases {
            let f = run(
                &StorageFirewallBlocksWorkspace,
                &t(&[
                    vnet(GOOD_SUBNET),
                    storage(&c),
                    workspace_with(""),
                    cluster_in_snet(),
                ]),
            );
            assert!(f.is_empty(), "{c}: {f:?}");
        }
        // A private endpoint to the account.
        assert!(
            run(
                &StorageFirewallBlocksWorkspace,
                &t(&[
                    storage(LOCKED),
                    private_endpoint("pe-st", ST, "file"),
                    workspace_with("")
                ]),
            )
            .is_empty()
        );
    }

    #[test]
    fn absent_acls_mean_allow() {
        assert!(
            run(
                &StorageFirewallBlocksWorkspace,
                &t(&[storage("{}"), workspace_with("")])
            )
            .is_empty()
        );
    }

    #[test]
    fn unknown_values_are_low_confidence() {
        let f = run(
            &StorageFirewallBlocksWorkspace,
            &t(&[
                storage(
                    r#"{"networkAcls": {"defaultAction": "[parameters('action')]", "bypass": "None"}}"#,
                ),
                workspace_with(""),
            ]),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'action'"));

        let f = run(
            &StorageFirewallBlocksWorkspace,
            &t(&[
                storage(
                    r#"{"networkAcls": {"defaultAction": "Deny", "bypass": "[parameters('bypass')]"}}"#,
                ),
                workspace_with(""),
            ]),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'bypass'"));
    }

    #[test]
    fn glob_matches() {
        assert!(glob("/a/*/c", "/A/b/C"));
        assert!(glob("/a/b", "/a/b/"));
        assert!(!glob("/a/*/c", "/a/b/d"));
        assert!(glob("*", "anything"));
    }
}
