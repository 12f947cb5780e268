//! 3xx: egress and exfiltration paths, judged property by property (the
//! network engine decides reachability). Registration is the list in `rules()`.

use crate::Rule;

mod datastore_foreign_storage;
mod default_outbound_access_enabled;
mod egress_any_storage_account;
mod egress_frontdoor_frontend;
mod egress_internet;
mod egress_writable_service;
#[cfg(test)]
pub(crate) mod fixtures;
mod managed_network_broad_outbound_rule;
mod managed_network_not_approved_only;
mod registry_export_enabled;
mod service_endpoint_policy_too_broad;
mod subnet_without_nsg;
mod subnet_without_service_endpoint_policy;
pub(crate) mod util;

pub use datastore_foreign_storage::DatastoreForeignStorage;
pub use default_outbound_access_enabled::DefaultOutboundAccessEnabled;
pub use egress_any_storage_account::EgressAnyStorageAccount;
pub use egress_frontdoor_frontend::EgressFrontdoorFrontend;
pub use egress_internet::EgressInternet;
pub use egress_writable_service::EgressWritableService;
pub use managed_network_broad_outbound_rule::ManagedNetworkBroadOutboundRule;
pub use managed_network_not_approved_only::ManagedNetworkNotApprovedOnly;
pub use registry_export_enabled::RegistryExportEnabled;
pub use service_endpoint_policy_too_broad::ServiceEndpointPolicyTooBroad;
pub use subnet_without_nsg::SubnetWithoutNsg;
pub use subnet_without_service_endpoint_policy::SubnetWithoutServiceEndpointPolicy;

/// The rules of this category.
pub fn rules() -> Vec<&'static dyn Rule> {
    vec![
        &EgressInternet,
        &EgressAnyStorageAccount,
        &EgressFrontdoorFrontend,
        &EgressWritableService,
        &ManagedNetworkNotApprovedOnly,
        &ManagedNetworkBroadOutboundRule,
        &SubnetWithoutServiceEndpointPolicy,
        &ServiceEndpointPolicyTooBroad,
        &SubnetWithoutNsg,
        &DefaultOutboundAccessEnabled,
        &RegistryExportEnabled,
        &DatastoreForeignStorage,
    ]
}
