//! The resource kinds the analyses read.

/// A kind of resource; anything else is `Other`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceKind {
    Workspace,
    Compute,
    Datastore,
    Connection,
    OutboundRule,
    MlRegistry,
    PrivateEndpointConnection,
    PrivateEndpoint,
    PrivateDnsZone,
    PrivateDnsZoneLink,
    VirtualNetwork,
    Subnet,
    VirtualNetworkPeering,
    NetworkInterface,
    NetworkSecurityGroup,
    SecurityRule,
    ApplicationSecurityGroup,
    RouteTable,
    Route,
    NatGateway,
    PublicIp,
    AzureFirewall,
    FirewallPolicy,
    FirewallRuleCollectionGroup,
    ServiceEndpointPolicy,
    ServiceEndpointPolicyDefinition,
    StorageAccount,
    KeyVault,
    ContainerRegistry,
    ApplicationInsights,
    LogAnalytics,
    DiagnosticSetting,
    RoleAssignment,
    RoleDefinition,
    FlowLog,
    Other,
}

impl ResourceKind {
    /// The kind of an ARM type (case-insensitive).
    pub fn from_arm_type(t: &str) -> ResourceKind {
        use ResourceKind::*;
        match t.to_ascii_lowercase().as_str() {
            "microsoft.machinelearningservices/workspaces" => Workspace,
            "microsoft.machinelearningservices/workspaces/computes" => Compute,
            "microsoft.machinelearningservices/workspaces/datastores" => Datastore,
            "microsoft.machinelearningservices/workspaces/connections" => Connection,
            "microsoft.machinelearningservices/workspaces/outboundrules" => OutboundRule,
            "microsoft.machinelearningservices/workspaces/privateendpointconnections" => {
                PrivateEndpointConnection
            }
            "microsoft.machinelearningservices/registries" => MlRegistry,
            "microsoft.network/privateendpoints" => PrivateEndpoint,
            "microsoft.network/privatednszones" => PrivateDnsZone,
            "microsoft.network/privatednszones/virtualnetworklinks" => PrivateDnsZoneLink,
            "microsoft.network/virtualnetworks" => VirtualNetwork,
            "microsoft.network/virtualnetworks/subnets" => Subnet,
            "microsoft.network/virtualnetworks/virtualnetworkpeerings" => VirtualNetworkPeering,
            "microsoft.network/networkinterfaces" => NetworkInterface,
            "microsoft.network/networksecuritygroups" => NetworkSecurityGroup,
            "microsoft.network/networksecuritygroups/securityrules" => SecurityRule,
            "microsoft.network/applicationsecuritygroups" => ApplicationSecurityGroup,
            "microsoft.network/routetables" => RouteTable,
            "microsoft.network/routetables/routes" => Route,
            "microsoft.network/natgateways" => NatGateway,
            "microsoft.network/publicipaddresses" => PublicIp,
            "microsoft.network/azurefirewalls" => AzureFirewall,
            "microsoft.network/firewallpolicies" => FirewallPolicy,
            "microsoft.network/firewallpolicies/rulecollectiongroups" => {
                FirewallRuleCollectionGroup
            }
            "microsoft.network/serviceendpointpolicies" => ServiceEndpointPolicy,
            "microsoft.network/serviceendpointpolicies/serviceendpointpolicydefinitions" => {
                ServiceEndpointPolicyDefinition
            }
            "microsoft.network/networkwatchers/flowlogs" => FlowLog,
            "microsoft.storage/storageaccounts" => StorageAccount,
            "microsoft.keyvault/vaults" => KeyVault,
            "microsoft.containerregistry/registries" => ContainerRegistry,
            "microsoft.insights/components" => ApplicationInsights,
            "microsoft.operationalinsights/workspaces" => LogAnalytics,
            "microsoft.insights/diagnosticsettings" => DiagnosticSetting,
            "microsoft.authorization/roleassignments" => RoleAssignment,
            "microsoft.authorization/roledefinitions" => RoleDefinition,
            _ => Other,
        }
    }
}
