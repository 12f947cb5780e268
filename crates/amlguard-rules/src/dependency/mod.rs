//! 4xx: dependencies (a locked-down deployment that will not work).
//! Registration is the list in `rules()`. The helpers are shared with the
//! egress rules (`crate::egress::util`).

use crate::Rule;

mod dependency_blocked;
mod inbound_management_blocked;
mod no_public_ip_without_workspace_private_endpoint;
mod private_registry_without_image_build_compute;
mod service_endpoint_policy_missing_aml_alias;
mod service_endpoint_policy_missing_default_storage;
mod storage_firewall_blocks_workspace;

pub use dependency_blocked::DependencyBlocked;
pub use inbound_management_blocked::InboundManagementBlocked;
pub use no_public_ip_without_workspace_private_endpoint::NoPublicIpWithoutWorkspacePrivateEndpoint;
pub use private_registry_without_image_build_compute::PrivateRegistryWithoutImageBuildCompute;
pub use service_endpoint_policy_missing_aml_alias::ServiceEndpointPolicyMissingAmlAlias;
pub use service_endpoint_policy_missing_default_storage::ServiceEndpointPolicyMissingDefaultStorage;
pub use storage_firewall_blocks_workspace::StorageFirewallBlocksWorkspace;

/// The rules of this category.
pub fn rules() -> Vec<&'static dyn Rule> {
    vec![
        &DependencyBlocked,
        &ServiceEndpointPolicyMissingAmlAlias,
        &ServiceEndpointPolicyMissingDefaultStorage,
        &PrivateRegistryWithoutImageBuildCompute,
        &NoPublicIpWithoutWorkspacePrivateEndpoint,
        &InboundManagementBlocked,
        &StorageFirewallBlocksWorkspace,
    ]
}
