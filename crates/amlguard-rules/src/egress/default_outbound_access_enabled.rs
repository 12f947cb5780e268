use amlguard_model::{Field, Model, Resource};

use super::util::{SubnetRef, compute_subnets, deciding_input, is_unknown, undecided};
use crate::{Finding, Rule, declare_rule};

declare_rule! {
    /// ## What it checks
    /// A subnet that compute runs in (a compute's
    /// `properties.properties.subnet.id`, or a workspace's
    /// `properties.serverlessComputeSettings.serverlessComputeCustomSubnet`)
    /// whose `properties.defaultOutboundAccess` is not `false` and that has no
    /// NAT gateway (`properties.natGateway`). The default is API-version
    /// dependent: with `Microsoft.Network` API versions before `2025-07-01` an
    /// absent value means `true` (default outbound access on); from
    /// `2025-07-01` Azure creates subnets of new virtual networks private, so
    /// an absent value passes. A virtual network that already exists keeps its
    /// setting whatever the API version, so write the property explicitly. A
    /// compute subnet whose ID is not known offline, or that the scanned input
    /// does not declare, gives a low-confidence finding.
    ///
    /// ## Why it matters
    /// With default outbound access, a machine that has no explicit way out
    /// (no public IP, NAT gateway or load balancer outbound rule) still gets a
    /// hidden Microsoft-owned public address and reaches the internet. That is
    /// the path a "no public IP" compute instance or cluster takes to the
    /// internet when the NSG allows it: Microsoft's AML guidance calls it not
    /// recommended and points to a NAT gateway or a firewall route instead. A
    /// private subnet makes every way out explicit and reviewable. Whether the
    /// path is actually usable (NSG, routes) is for the network engine.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"name": "training", "properties": {"addressPrefix": "10.0.1.0/24"}}
    /// ```
    ///
    /// ## Fix
    /// ARM: `"defaultOutboundAccess": false` in the subnet's `properties`, and an
    /// explicit way out where one is needed (a UDR `0.0.0.0/0` to a firewall, or
    /// a NAT gateway).
    /// Bicep: `defaultOutboundAccess: false`.
    /// Terraform (`azurerm_subnet`): `default_outbound_access_enabled = false`.
    ///
    /// ## References
    /// Azure Policy 7bca8353-aa3b-429b-904a-9229c4385837 (subnets should be
    /// private); MCSB NS-1; PSRule Azure.VNET.PrivateSubnet. The Azure Policy
    /// definition and PSRule judge `defaultOutboundAccess` alone; amlguard also
    /// accepts a subnet whose traffic leaves through an attached NAT gateway
    /// (then the default outbound address is not used).
    pub struct DefaultOutboundAccessEnabled {
        code: 310,
        name: "default-outbound-access-enabled",
        title: "A compute subnet gives its machines default outbound internet access",
        severity: Medium,
        confidence: High,
        category: Egress,
        references: [
            "Azure Policy 7bca8353-aa3b-429b-904a-9229c4385837",
            "MCSB NS-1",
            "PSRule Azure.VNET.PrivateSubnet",
        ],
    }
}

const FIX: &str = "set properties.defaultOutboundAccess to false on the subnet and give it an explicit, controlled way out (a route to a firewall or a NAT gateway) if it needs one";

/// The first API version whose new subnets are private by default.
const PRIVATE_BY_DEFAULT: &str = "2025-07-01";

fn private_by_default(subnet: &Resource) -> bool {
    subnet
        .api_version
        .as_deref()
        .is_some_and(|v| v >= PRIVATE_BY_DEFAULT)
}

impl Rule for DefaultOutboundAccessEnabled {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        let meta = &Self::META;
        for cs in compute_subnets(m) {
            let SubnetRef::Declared(subnet) = cs.subnet else {
                out.extend(cs.undecided(meta, "default outbound access", FIX));
                continue;
            };
            let doa = subnet.get("properties.defaultOutboundAccess");
            let nat = subnet.get("properties.natGateway");
            // A known NAT gateway decides it: the default outbound address is not used.
            let nat_known = match &nat {
                Field::Known(t) => !t.contains_unknown(),
                _ => false,
            };
            if nat_known {
                continue;
            }
            let enabled = match &doa {
                Field::Known(t) if t.contains_unknown() => None,
                Field::Known(t) => Some(t.as_bool() != Some(false)),
                Field::Absent { .. } => Some(!private_by_default(subnet)),
                Field::Unknown { .. } => None,
            };
            let sname = subnet.display_name();
            let msg = match &doa {
                Field::Absent { .. } => format!(
                    "subnet '{sname}' has default outbound access (defaultOutboundAccess is absent, which means true for API versions before {PRIVATE_BY_DEFAULT}) and no NAT gateway: {} can reach the internet through a hidden public address",
                    cs.user_labels()
                ),
                _ => format!(
                    "subnet '{sname}' has default outbound access and no NAT gateway: {} can reach the internet through a hidden public address",
                    cs.user_labels()
                ),
            };
            match enabled {
                Some(false) => {}
                Some(true) if !is_unknown(&nat) => {
                    out.push(
                        cs.relate(Finding::new(meta, subnet, msg).at_field(&doa).with_fix(FIX)),
                    );
                }
                Some(true) => {
                    out.push(cs.relate(undecided(
                        meta,
                        subnet,
                        &nat,
                        &msg,
                        FIX,
                        deciding_input(&nat),
                    )));
                }
                None => {
                    out.push(cs.relate(undecided(
                        meta,
                        subnet,
                        &doa,
                        &msg,
                        FIX,
                        deciding_input(&doa),
                    )));
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
    use crate::egress::fixtures::*;
    use crate::testing::{route, run, template};

    fn t(resources: &[String]) -> String {
        template(
            r#""doa": {"type": "bool"}, "nat": {"type": "string"}"#,
            &resources.join(", "),
        )
    }

    #[test]
    fn explicit_true_fails_at_the_property() {
        let f = run(
            &DefaultOutboundAccessEnabled,
            &t(&[
                vnet(r#"{"defaultOutboundAccess": true}"#),
                cluster_in_snet(),
            ]),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(
            route(&f[0]),
            "resources[0].properties.subnets[0].properties.defaultOutboundAccess"
        );
        assert_eq!(f[0].confidence, Confidence::High);
    }

    #[test]
    fn absent_depends_on_the_api_version() {
        let f = run(
            &DefaultOutboundAccessEnabled,
            &t(&[
                vnet(r#"{"addressPrefix": "10.0.0.0/24"}"#),
                cluster_in_snet(),
            ]),
        );
        assert_eq!(f.len(), 1);
        assert!(f[0].absent);
        assert_eq!(
            route(&f[0]),
            "resources[0].properties.subnets[0].properties"
        );
        // Subnets created with 2025-07-01 or later are private by default.
        let f = run(
            &DefaultOutboundAccessEnabled,
            &t(&[
                subnet("snet", "2025-07-01", r#"{"addressPrefix": "10.0.0.0/24"}"#),
                cluster_in_snet(),
            ]),
        );
        assert!(f.is_empty());
    }

    #[test]
    fn private_subnet_or_nat_gateway_passes() {
        assert!(
            run(
                &DefaultOutboundAccessEnabled,
                &t(&[vnet(GOOD_SUBNET), cluster_in_snet()])
            )
            .is_empty()
        );
        assert!(
            run(
                &DefaultOutboundAccessEnabled,
                &t(&[
                    vnet(r#"{"natGateway": {"id": "[resourceId('Microsoft.Network/natGateways', 'nat')]"}}"#),
                    cluster_in_snet()
                ]),
            )
            .is_empty()
        );
        // Not a compute subnet.
        assert!(run(&DefaultOutboundAccessEnabled, &t(&[vnet("{}")])).is_empty());
    }

    #[test]
    fn unknown_values_are_low_confidence() {
        let f = run(
            &DefaultOutboundAccessEnabled,
            &t(&[
                vnet(r#"{"defaultOutboundAccess": "[parameters('doa')]"}"#),
                cluster_in_snet(),
            ]),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'doa'"));

        let f = run(
            &DefaultOutboundAccessEnabled,
            &t(&[
                vnet(r#"{"natGateway": {"id": "[parameters('nat')]"}}"#),
                cluster_in_snet(),
            ]),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'nat'"));
    }
}
