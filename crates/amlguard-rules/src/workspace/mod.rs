//! 1xx: workspace exposure. Registration is the list in `rules()`.

use crate::Rule;

mod public_network_access;

pub use public_network_access::WorkspacePublicNetworkAccess;

/// The rules of this category.
pub fn rules() -> Vec<&'static dyn Rule> {
    vec![&WorkspacePublicNetworkAccess]
}
