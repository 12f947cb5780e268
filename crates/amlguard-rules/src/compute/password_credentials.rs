use amlguard_model::{Field, Model, TreeKind};

use super::util::{Compute, Type, computes, type_unknown};
use crate::workspace::util::{Tri, at_of, input_of, possible};
use crate::{Finding, Rule, declare_rule};

declare_rule! {
    /// ## What it checks
    /// A compute that sets an administrator password:
    /// - compute cluster (`AmlCompute`):
    ///   `properties.properties.userAccountCredentials.adminUserPassword`;
    /// - attached virtual machine or HDInsight (`VirtualMachine`, `HDInsight`):
    ///   `properties.properties.administratorAccount.password`.
    ///
    /// A password whose value is not known offline (a `secureString` parameter, a
    /// Key Vault reference) is still set: the finding has full confidence. An empty
    /// string or an absent property passes. Compute instances have no password setting
    /// in the API (SSH to an instance takes only `sshSettings.adminPublicKey`), so
    /// they are not checked. The value is never printed. When the whole credentials
    /// object is not known offline, the finding has confidence low.
    ///
    /// ## Why it matters
    /// A password lets the SSH service accept password logins, which can be guessed
    /// or sprayed (and a cluster's SSH port is public by default without a subnet, see
    /// AMLG202). The same password is set on every node, is rarely rotated, and, when
    /// written in a template or parameter file, ends up in source control and in the
    /// deployment history. SSH keys, or no local account at all, avoid all of this.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.MachineLearningServices/workspaces/computes",
    ///  "properties": {"computeType": "AmlCompute", "properties": {"userAccountCredentials": {
    ///    "adminUserName": "azureuser", "adminUserPassword": "[parameters('adminPassword')]"}}}}
    /// ```
    ///
    /// ## Fix
    /// ARM: remove `adminUserPassword` and set `adminUserSshPublicKey` instead (or
    /// remove `userAccountCredentials`); for attached compute use `publicKeyData`/`privateKeyData`.
    /// Bicep: `userAccountCredentials: { adminUserName: 'azureuser', adminUserSshPublicKey: sshKey }`.
    /// Terraform (`azurerm_machine_learning_compute_cluster`): in the `ssh` block use
    /// `key_value` and drop `admin_password`.
    ///
    /// ## References
    /// MCSB IM-6 (use strong authentication controls). No peer checks compute
    /// passwords.
    pub struct ComputePasswordCredentials {
        code: 207,
        name: "compute-password-credentials",
        title: "The compute has an administrator password",
        severity: Medium,
        confidence: High,
        category: Compute,
        references: ["MCSB IM-6"],
    }
}

fn check_password(out: &mut Vec<Finding>, c: &Compute<'_>, parent: &str, leaf: &str) {
    let fix = "remove the password and authenticate with an SSH public key (or no local account)";
    let path = format!("properties.properties.{parent}");
    let holder = c.r.get(&path);
    let message = format!(
        "{} '{}' sets an administrator password ({parent}.{leaf}); SSH then accepts password logins",
        c.label(),
        c.name()
    );
    match &holder {
        Field::Absent { .. } => return,
        Field::Unknown { .. } => {
            out.push(possible(
                &ComputePasswordCredentials::META,
                c.r,
                at_of(c.r, &holder),
                &message,
                fix,
                input_of(&holder),
                "the credentials are not known offline",
            ));
            return;
        }
        Field::Known(_) => {}
    }
    let f = c.r.get(&format!("{path}.{leaf}"));
    let set = match &f {
        Field::Absent { .. } => false,
        // A secure parameter or Key Vault reference: not known, but set.
        Field::Unknown { .. } => true,
        Field::Known(t) => match &t.kind {
            TreeKind::String(s) => !s.trim().is_empty(),
            TreeKind::Null => false,
            _ => true,
        },
    };
    if set {
        let mut finding =
            Finding::new(&ComputePasswordCredentials::META, c.r, message).with_fix(fix);
        finding.at = at_of(c.r, &f);
        out.push(finding);
    }
}

impl Rule for ComputePasswordCredentials {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        for c in computes(m) {
            let before = out.len();
            if c.is(&[Type::Cluster]) != Tri::No {
                check_password(out, &c, "userAccountCredentials", "adminUserPassword");
            }
            if c.is(&[Type::Attached]) != Tri::No {
                check_password(out, &c, "administratorAccount", "password");
            }
            type_unknown(out, before, &c);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::Confidence;
    use crate::compute::util::fixtures::compute;
    use crate::testing::{route, run, template};

    fn check(resources: &str) -> Vec<Finding> {
        run(
            &ComputePasswordCredentials,
            &template(
                r#""pw": {"type": "secureString"}, "creds": {"type": "object"}"#,
                resources,
            ),
        )
    }

    #[test]
    fn literal_password_fails_without_printing_it() {
        let f = check(&compute(
            "AmlCompute",
            r#"{"userAccountCredentials": {"adminUserName": "azureuser", "adminUserPassword": "Hunter2-Hunter2"}}"#,
        ));
        assert_eq!(f.len(), 1);
        assert_eq!(
            route(&f[0]),
            "resources[0].properties.properties.userAccountCredentials.adminUserPassword"
        );
        assert!(!f[0].message.contains("Hunter2"));
        assert!(!f[0].fix.contains("Hunter2"));
    }

    #[test]
    fn secure_parameter_without_value_is_still_set() {
        let f = check(&compute(
            "AmlCompute",
            r#"{"userAccountCredentials": {"adminUserName": "azureuser", "adminUserPassword": "[parameters('pw')]"}}"#,
        ));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::High);
        assert_eq!(f[0].deciding_input, None);
    }

    #[test]
    fn key_only_empty_or_absent_passes() {
        assert!(
            check(&compute(
                "AmlCompute",
                r#"{"userAccountCredentials": {"adminUserName": "azureuser", "adminUserSshPublicKey": "ssh-rsa AAAA"}}"#
            ))
            .is_empty()
        );
        assert!(
            check(&compute(
                "AmlCompute",
                r#"{"userAccountCredentials": {"adminUserName": "azureuser", "adminUserPassword": ""}}"#
            ))
            .is_empty()
        );
        assert!(check(&compute("AmlCompute", "{}")).is_empty());
    }

    #[test]
    fn attached_virtual_machine_password_fails() {
        let f = check(&compute(
            "VirtualMachine",
            r#"{"address": "10.0.0.4", "administratorAccount": {"username": "azureuser", "password": "[parameters('pw')]"}}"#,
        ));
        assert_eq!(f.len(), 1);
        assert_eq!(
            route(&f[0]),
            "resources[0].properties.properties.administratorAccount.password"
        );
    }

    #[test]
    fn unknown_credentials_object_gives_low_confidence() {
        let f = check(&compute(
            "AmlCompute",
            r#"{"userAccountCredentials": "[parameters('creds')]"}"#,
        ));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'creds'"));
    }
}
