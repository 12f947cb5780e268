//! 5xx: data services — storage accounts, Key Vaults and container registries
//! (every one in the deployment, not only those a workspace names), workspace
//! encryption, datastores and connections. Registration is the list in `rules()`.

use crate::Rule;

mod connection_shared_secret;
mod datastore_secret_credentials;
mod keyvault_access_policy_model;
mod keyvault_public_network;
mod keyvault_purge_protection;
mod registry_admin_user;
mod registry_anonymous_pull;
mod registry_public_network;
mod storage_blob_anonymous_access;
mod storage_container_public_access;
mod storage_cross_tenant_replication;
mod storage_min_tls;
mod storage_public_network;
mod storage_shared_key;
mod storage_trusted_services_bypass;
mod util;
mod workspace_without_cmk;

pub use connection_shared_secret::ConnectionSharedSecret;
pub use datastore_secret_credentials::DatastoreSecretCredentials;
pub use keyvault_access_policy_model::KeyVaultAccessPolicyModel;
pub use keyvault_public_network::KeyVaultPublicNetwork;
pub use keyvault_purge_protection::KeyVaultPurgeProtectionDisabled;
pub use registry_admin_user::RegistryAdminUser;
pub use registry_anonymous_pull::RegistryAnonymousPull;
pub use registry_public_network::RegistryPublicNetwork;
pub use storage_blob_anonymous_access::StorageBlobAnonymousAccess;
pub use storage_container_public_access::StorageContainerPublicAccess;
pub use storage_cross_tenant_replication::StorageCrossTenantReplication;
pub use storage_min_tls::StorageMinTls;
pub use storage_public_network::StoragePublicNetwork;
pub use storage_shared_key::StorageSharedKeyEnabled;
pub use storage_trusted_services_bypass::StorageTrustedServicesBypass;
pub use workspace_without_cmk::WorkspaceWithoutCmk;

/// The rules of this category.
pub fn rules() -> Vec<&'static dyn Rule> {
    vec![
        &StoragePublicNetwork,
        &StorageSharedKeyEnabled,
        &StorageBlobAnonymousAccess,
        &StorageContainerPublicAccess,
        &StorageMinTls,
        &StorageCrossTenantReplication,
        &StorageTrustedServicesBypass,
        &KeyVaultPublicNetwork,
        &KeyVaultPurgeProtectionDisabled,
        &KeyVaultAccessPolicyModel,
        &RegistryPublicNetwork,
        &RegistryAdminUser,
        &RegistryAnonymousPull,
        &WorkspaceWithoutCmk,
        &DatastoreSecretCredentials,
        &ConnectionSharedSecret,
    ]
}
