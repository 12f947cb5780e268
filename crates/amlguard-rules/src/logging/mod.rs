//! 7xx: logging and monitoring (diagnostic settings, retention, flow logs).
//! Registration is the list in `rules()`.

use crate::Rule;

mod data_service_without_diagnostic_settings;
mod diagnostic_retention_short;
mod firewall_logs_missing;
mod nsg_flow_logs_missing;
pub(crate) mod util;
mod workspace_diagnostic_categories_incomplete;
mod workspace_without_diagnostic_settings;

pub use data_service_without_diagnostic_settings::DataServiceWithoutDiagnosticSettings;
pub use diagnostic_retention_short::DiagnosticRetentionShort;
pub use firewall_logs_missing::FirewallLogsMissing;
pub use nsg_flow_logs_missing::NsgFlowLogsMissing;
pub use workspace_diagnostic_categories_incomplete::WorkspaceDiagnosticCategoriesIncomplete;
pub use workspace_without_diagnostic_settings::WorkspaceWithoutDiagnosticSettings;

/// The rules of this category.
pub fn rules() -> Vec<&'static dyn Rule> {
    vec![
        &WorkspaceWithoutDiagnosticSettings,
        &WorkspaceDiagnosticCategoriesIncomplete,
        &DiagnosticRetentionShort,
        &DataServiceWithoutDiagnosticSettings,
        &NsgFlowLogsMissing,
        &FirewallLogsMissing,
    ]
}
