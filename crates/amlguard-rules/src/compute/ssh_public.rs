use amlguard_model::{Field, Model};

use super::util::{
    Compute, Type, computes, in_subnet, parent_managed_network, public_ip, type_unknown,
};
use crate::workspace::util::{Tri, at_of, input_of, possible, str_in};
use crate::{Confidence, Finding, Rule, declare_rule};

declare_rule! {
    /// ## What it checks
    /// A compute whose SSH port is open on its public IP:
    /// - compute cluster (`AmlCompute`): `properties.properties.remoteLoginPortPublicAccess`
    ///   is `Enabled`, or `NotSpecified`/absent while the cluster has no `subnet`.
    ///   Absent means `NotSpecified` (the API's default), which the API defines as
    ///   "closed if the cluster is in a virtual network, open otherwise". For a
    ///   cluster without a subnet in a workspace with a managed network, the API does
    ///   not say which applies: amlguard reports it with confidence medium.
    ///   (Terraform's `ssh_public_access_enabled` defaults to `false` and sends
    ///   `Disabled`, so Terraform-built clusters pass unless it is set.)
    /// - compute instance (`ComputeInstance`):
    ///   `properties.properties.sshSettings.sshPublicAccess` is `Enabled`. Absent means
    ///   `Disabled`, the API's default for instances.
    ///
    /// A compute whose nodes have no public IP (`enableNodePublicIp: false`) passes:
    /// the port is then reachable only from inside the network.
    ///
    /// ## Why it matters
    /// An SSH port on a public IP is open to password guessing and exploitation from
    /// the whole internet, and a login on a node gives its managed identity, the
    /// mounted datastores and the job's secrets.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.MachineLearningServices/workspaces/computes",
    ///  "properties": {"computeType": "AmlCompute", "properties": {
    ///    "userAccountCredentials": {"adminUserName": "azureuser", "adminUserSshPublicKey": "ssh-rsa …"}}}}
    /// ```
    ///
    /// ## Fix
    /// ARM: `"remoteLoginPortPublicAccess": "Disabled"` for clusters,
    /// `"sshSettings": {"sshPublicAccess": "Disabled"}` for instances (or
    /// `"enableNodePublicIp": false`); connect with `az ml compute connect-ssh` or
    /// from inside the virtual network.
    /// Bicep: `remoteLoginPortPublicAccess: 'Disabled'` / `sshSettings: { sshPublicAccess: 'Disabled' }`.
    /// Terraform: `ssh_public_access_enabled = false` on `azurerm_machine_learning_compute_cluster`;
    /// `node_public_ip_enabled = false` on `azurerm_machine_learning_compute_instance`.
    ///
    /// ## References
    /// MCSB NS-1; ALZ Deny-MachineLearning-ComputeCluster-RemoteLoginPortPublicAccess
    /// (clusters only). No IaC peer checks either setting (prior-art gap (f) 2).
    pub struct ComputeSshPublic {
        code: 202,
        name: "compute-ssh-public",
        title: "The compute's SSH port is open on its public IP",
        severity: High,
        confidence: High,
        category: Compute,
        references: [
            "MCSB NS-1",
            "ALZ Deny-MachineLearning-ComputeCluster-RemoteLoginPortPublicAccess",
        ],
    }
}

const FIX_CLUSTER: &str = "set properties.properties.remoteLoginPortPublicAccess to 'Disabled' (or enableNodePublicIp to false) and reach nodes from inside the virtual network";
const FIX_INSTANCE: &str = "set properties.properties.sshSettings.sshPublicAccess to 'Disabled' (or enableNodePublicIp to false) and use 'az ml compute connect-ssh' or the virtual network";

/// Whether a cluster's SSH port is open, and whether the answer rests on the
/// managed-network assumption.
fn cluster_ssh_open(m: &Model, c: &Compute<'_>, f: &Field<'_>) -> (Tri, bool) {
    let not_specified = match f {
        Field::Known(t) if t.contains_unknown() => return (Tri::Maybe(input_of(f)), false),
        Field::Known(t) if str_in(t, &["Enabled"]) => return (Tri::Yes, false),
        Field::Known(t) => str_in(t, &["NotSpecified"]),
        Field::Absent { .. } => true,
        Field::Unknown { .. } => return (Tri::Maybe(input_of(f)), false),
    };
    if !not_specified {
        return (Tri::No, false);
    }
    // NotSpecified: closed with a virtual network, open without.
    match in_subnet(c.r).0 {
        Tri::Yes => (Tri::No, false),
        Tri::Maybe(i) => (Tri::Maybe(i), false),
        Tri::No => match parent_managed_network(m, c.r).0 {
            Tri::Yes => (Tri::Yes, true),
            Tri::No => (Tri::Yes, false),
            Tri::Maybe(i) => (Tri::Maybe(i), false),
        },
    }
}

fn emit(
    out: &mut Vec<Finding>,
    c: &Compute<'_>,
    verdict: Tri,
    f: &Field<'_>,
    message: String,
    fix: &str,
    assumed: bool,
) {
    match verdict {
        Tri::No => {}
        Tri::Yes => {
            let mut finding = Finding::new(&ComputeSshPublic::META, c.r, message)
                .at_field(f)
                .with_fix(fix);
            if assumed {
                finding.confidence = Confidence::Medium;
                finding.message.push_str(
                    " (the workspace has a managed network; the API does not say whether that counts as a virtual network for NotSpecified)",
                );
            }
            out.push(finding);
        }
        Tri::Maybe(input) => out.push(possible(
            &ComputeSshPublic::META,
            c.r,
            at_of(c.r, f),
            &message,
            fix,
            input,
            "a value is not known offline",
        )),
    }
}

impl Rule for ComputeSshPublic {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        for c in computes(m) {
            let before = out.len();
            let (pip, pip_f) = public_ip(c.r);
            if pip == Tri::No {
                continue;
            }
            if c.is(&[Type::Cluster]) != Tri::No {
                let f = c.r.get("properties.properties.remoteLoginPortPublicAccess");
                let (open, assumed) = cluster_ssh_open(m, &c, &f);
                let message = if f.known().is_some_and(|t| str_in(t, &["Enabled"])) {
                    format!(
                        "compute cluster '{}' opens the SSH port on its nodes' public IPs (remoteLoginPortPublicAccess is Enabled)",
                        c.name()
                    )
                } else {
                    format!(
                        "compute cluster '{}' leaves remoteLoginPortPublicAccess NotSpecified (the default) without a subnet, which opens the SSH port on its nodes' public IPs",
                        c.name()
                    )
                };
                emit(
                    out,
                    &c,
                    pip.clone().and(open),
                    &f,
                    message,
                    FIX_CLUSTER,
                    assumed,
                );
            }
            if c.is(&[Type::Instance]) != Tri::No {
                let f = c.r.get("properties.properties.sshSettings.sshPublicAccess");
                let open = match &f {
                    Field::Known(t) if t.contains_unknown() => Tri::Maybe(input_of(&f)),
                    Field::Known(t) if str_in(t, &["Enabled"]) => Tri::Yes,
                    Field::Unknown { .. } => Tri::Maybe(input_of(&f)),
                    // Absent: Disabled, the API's default for instances.
                    _ => Tri::No,
                };
                let message = format!(
                    "compute instance '{}' opens the SSH port on its public IP (sshSettings.sshPublicAccess is Enabled)",
                    c.name()
                );
                emit(
                    out,
                    &c,
                    pip.clone().and(open),
                    &f,
                    message,
                    FIX_INSTANCE,
                    false,
                );
            }
            if let Some(at) = pip_f.at().cloned() {
                for finding in out.iter_mut().skip(before) {
                    finding.related.push(crate::Related {
                        at: at.clone(),
                        message: "enableNodePublicIp (default true) gives the nodes public IPs"
                            .into(),
                    });
                }
            }
            type_unknown(out, before, &c);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::compute::util::fixtures::{SUBNET, VNET, compute, workspace};
    use crate::testing::{route, run, template};

    fn check(resources: &str) -> Vec<Finding> {
        run(
            &ComputeSshPublic,
            &template(
                r#""ssh": {"type": "string"}, "pip": {"type": "bool"}"#,
                resources,
            ),
        )
    }

    #[test]
    fn cluster_without_subnet_is_open_by_default() {
        let f = check(&format!(
            "{}, {}",
            workspace("{}"),
            compute("AmlCompute", "{}")
        ));
        assert_eq!(f.len(), 1);
        assert!(f[0].absent);
        assert_eq!(route(&f[0]), "resources[1].properties.properties");
        assert_eq!(f[0].confidence, Confidence::High);
    }

    #[test]
    fn workspace_outside_the_input_gives_low_confidence() {
        let f = check(&compute("AmlCompute", "{}"));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert!(
            f[0].deciding_input
                .as_deref()
                .unwrap()
                .contains("managed network of workspace 'ws'")
        );
    }

    #[test]
    fn cluster_enabled_fails_disabled_or_subnet_passes() {
        let f = check(&compute(
            "AmlCompute",
            &format!(r#"{{{SUBNET}, "remoteLoginPortPublicAccess": "Enabled"}}"#),
        ));
        assert_eq!(f.len(), 1);
        assert_eq!(
            route(&f[0]),
            "resources[0].properties.properties.remoteLoginPortPublicAccess"
        );
        assert!(
            check(&compute(
                "AmlCompute",
                r#"{"remoteLoginPortPublicAccess": "Disabled"}"#
            ))
            .is_empty()
        );
        let in_subnet = compute(
            "AmlCompute",
            &format!(r#"{{{SUBNET}, "remoteLoginPortPublicAccess": "NotSpecified"}}"#),
        );
        assert!(check(&format!("{VNET}, {in_subnet}")).is_empty());
    }

    #[test]
    fn no_public_ip_passes() {
        assert!(
            check(&compute(
                "AmlCompute",
                r#"{"enableNodePublicIp": false, "remoteLoginPortPublicAccess": "Enabled"}"#
            ))
            .is_empty()
        );
    }

    #[test]
    fn managed_network_gives_medium_confidence() {
        let ws = workspace(r#"{"managedNetwork": {"isolationMode": "AllowOnlyApprovedOutbound"}}"#);
        let f = check(&format!("{ws}, {}", compute("AmlCompute", "{}")));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Medium);
    }

    #[test]
    fn instance_absent_means_disabled_enabled_fails() {
        assert!(check(&compute("ComputeInstance", "{}")).is_empty());
        let f = check(&compute(
            "ComputeInstance",
            r#"{"sshSettings": {"sshPublicAccess": "Enabled", "adminPublicKey": "ssh-rsa AAAA"}}"#,
        ));
        assert_eq!(f.len(), 1);
        assert_eq!(
            route(&f[0]),
            "resources[0].properties.properties.sshSettings.sshPublicAccess"
        );
        assert_eq!(
            f[0].related[0].at.route.to_string(),
            "resources[0].properties.properties"
        );
    }

    #[test]
    fn unknown_reports_low_confidence_with_the_deciding_parameter() {
        let f = check(&compute(
            "ComputeInstance",
            r#"{"sshSettings": {"sshPublicAccess": "[parameters('ssh')]"}}"#,
        ));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'ssh'"));
        let f = check(&compute(
            "AmlCompute",
            r#"{"enableNodePublicIp": "[parameters('pip')]", "remoteLoginPortPublicAccess": "Enabled"}"#,
        ));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'pip'"));
    }
}
