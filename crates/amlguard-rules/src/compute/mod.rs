//! 2xx: compute clusters and instances. Registration is the list in `rules()`.

use crate::Rule;

mod idle_shutdown;
mod instance_shared;
mod local_auth;
mod node_public_ip;
mod outside_network;
mod password_credentials;
mod setup_scripts;
mod ssh_public;
pub(crate) mod util;

pub use idle_shutdown::ComputeInstanceIdleShutdownMissing;
pub use instance_shared::ComputeInstanceShared;
pub use local_auth::ComputeLocalAuthEnabled;
pub use node_public_ip::ComputeNodePublicIp;
pub use outside_network::ComputeOutsideNetwork;
pub use password_credentials::ComputePasswordCredentials;
pub use setup_scripts::ComputeSetupScripts;
pub use ssh_public::ComputeSshPublic;

/// The rules of this category.
pub fn rules() -> Vec<&'static dyn Rule> {
    vec![
        &ComputeNodePublicIp,
        &ComputeSshPublic,
        &ComputeLocalAuthEnabled,
        &ComputeOutsideNetwork,
        &ComputeInstanceIdleShutdownMissing,
        &ComputeSetupScripts,
        &ComputePasswordCredentials,
        &ComputeInstanceShared,
    ]
}
