//! 1xx: workspace exposure. Registration is the list in `rules()`.

use crate::Rule;

mod linked_resource_public;
mod private_dns;
mod private_endpoint;
mod public_network_access;
mod system_datastores_auth;
mod user_assigned_identity;
pub(crate) mod util;
mod v1_legacy_mode;

pub use linked_resource_public::WorkspaceLinkedResourcePublic;
pub use private_dns::WorkspacePrivateDnsMissing;
pub use private_endpoint::WorkspaceWithoutPrivateEndpoint;
pub use public_network_access::WorkspacePublicNetworkAccess;
pub use system_datastores_auth::WorkspaceSystemDatastoresKeyAuth;
pub use user_assigned_identity::WorkspaceWithoutUserAssignedIdentity;
pub use v1_legacy_mode::WorkspaceV1LegacyMode;

/// The rules of this category.
pub fn rules() -> Vec<&'static dyn Rule> {
    vec![
        &WorkspacePublicNetworkAccess,
        &WorkspaceWithoutPrivateEndpoint,
        &WorkspacePrivateDnsMissing,
        &WorkspaceV1LegacyMode,
        &WorkspaceLinkedResourcePublic,
        &WorkspaceWithoutUserAssignedIdentity,
        &WorkspaceSystemDatastoresKeyAuth,
    ]
}
