//! 6xx: identity and access (role assignments and role definitions).
//! Registration is the list in `rules()`.

use crate::Rule;

mod custom_role_wildcard_actions;
mod privileged_role_broad_scope;
mod role_assigned_to_user;
mod role_can_connect_data;
mod role_can_create_compute;
pub(crate) mod util;

pub use custom_role_wildcard_actions::CustomRoleWildcardActions;
pub use privileged_role_broad_scope::PrivilegedRoleBroadScope;
pub use role_assigned_to_user::RoleAssignedToUser;
pub use role_can_connect_data::RoleCanConnectData;
pub use role_can_create_compute::RoleCanCreateCompute;

/// The rules of this category.
pub fn rules() -> Vec<&'static dyn Rule> {
    vec![
        &PrivilegedRoleBroadScope,
        &RoleCanCreateCompute,
        &RoleCanConnectData,
        &CustomRoleWildcardActions,
        &RoleAssignedToUser,
    ]
}
