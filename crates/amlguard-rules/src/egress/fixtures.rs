//! Test fixtures for the egress and dependency rules: JSON resource snippets
//! for `crate::testing::template`.

#![allow(dead_code)]

/// A virtual network `vnet` with one inline subnet `snet` with these properties.
pub fn vnet(subnet_props: &str) -> String {
    format!(
        r#"{{"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2024-01-01", "name": "vnet", "location": "eastus",
  "properties": {{"addressSpace": {{"addressPrefixes": ["10.0.0.0/16"]}},
    "subnets": [{{"name": "snet", "properties": {subnet_props}}}]}}}}"#
    )
}

/// A subnet `vnet/<name>` declared as a resource of its own.
pub fn subnet(name: &str, api: &str, props: &str) -> String {
    format!(
        r#"{{"type": "Microsoft.Network/virtualNetworks/subnets", "apiVersion": "{api}", "name": "vnet/{name}", "properties": {props}}}"#
    )
}

/// `resourceId()` of subnet `vnet/snet`.
pub const SNET: &str = "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', 'snet')]";
/// `resourceId()` of policy `sep`.
pub const SEP: &str = "[resourceId('Microsoft.Network/serviceEndpointPolicies', 'sep')]";
/// `resourceId()` of storage account `stdefault`.
pub const ST: &str = "[resourceId('Microsoft.Storage/storageAccounts', 'stdefault')]";
/// `resourceId()` of workspace `ws`.
pub const WS: &str = "[resourceId('Microsoft.MachineLearningServices/workspaces', 'ws')]";
/// `resourceId()` of registry `acrws`.
pub const ACR: &str = "[resourceId('Microsoft.ContainerRegistry/registries', 'acrws')]";

/// Subnet properties: storage endpoint + policy `sep` + an NSG + private.
pub const GOOD_SUBNET: &str = r#"{"addressPrefix": "10.0.0.0/24",
  "serviceEndpoints": [{"service": "Microsoft.Storage"}],
  "serviceEndpointPolicies": [{"id": "[resourceId('Microsoft.Network/serviceEndpointPolicies', 'sep')]"}],
  "networkSecurityGroup": {"id": "[resourceId('Microsoft.Network/networkSecurityGroups', 'nsg')]"},
  "defaultOutboundAccess": false}"#;

/// A service endpoint policy `sep` with inline definitions (a JSON array body).
pub fn sep(definitions: &str) -> String {
    format!(
        r#"{{"type": "Microsoft.Network/serviceEndpointPolicies", "apiVersion": "2024-01-01", "name": "sep", "location": "eastus",
  "properties": {{"serviceEndpointPolicyDefinitions": [{definitions}]}}}}"#
    )
}

/// An inline policy definition.
pub fn def(name: &str, service: &str, resources: &str) -> String {
    format!(
        r#"{{"name": "{name}", "properties": {{"service": "{service}", "serviceResources": [{resources}]}}}}"#
    )
}

/// The policy Microsoft documents: the default storage account + the AML alias.
pub fn good_sep() -> String {
    sep(&format!(
        r#"{}, {}"#,
        def("storage", "Microsoft.Storage", &format!(r#""{ST}""#)),
        def("aml", "Global", r#""/services/Azure/MachineLearning""#)
    ))
}

/// Workspace `ws` with these properties (storage account `stdefault` is added
/// when the properties do not name one).
pub fn workspace(props: &str) -> String {
    format!(
        r#"{{"type": "Microsoft.MachineLearningServices/workspaces", "apiVersion": "2024-10-01", "name": "ws", "location": "eastus", "properties": {props}}}"#
    )
}

/// Workspace `ws` using `stdefault`, with extra properties (a JSON object body without braces).
pub fn workspace_with(extra: &str) -> String {
    let sep = if extra.trim().is_empty() { "" } else { ", " };
    workspace(&format!(r#"{{"storageAccount": "{ST}"{sep}{extra}}}"#))
}

/// A compute `ws/<name>` of this type with these inner properties.
pub fn compute(name: &str, compute_type: &str, inner: &str) -> String {
    format!(
        r#"{{"type": "Microsoft.MachineLearningServices/workspaces/computes", "apiVersion": "2024-10-01", "name": "ws/{name}", "location": "eastus",
  "properties": {{"computeType": "{compute_type}", "properties": {inner}}}}}"#
    )
}

/// A cluster `ws/cpu` in subnet `vnet/snet`.
pub fn cluster_in_snet() -> String {
    compute(
        "cpu",
        "AmlCompute",
        &format!(r#"{{"subnet": {{"id": "{SNET}"}}}}"#),
    )
}

/// Storage account `stdefault` with these properties.
pub fn storage(props: &str) -> String {
    format!(
        r#"{{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-05-01", "name": "stdefault", "location": "eastus", "kind": "StorageV2", "sku": {{"name": "Standard_LRS"}}, "properties": {props}}}"#
    )
}

/// A private endpoint `<name>` to `target` (an expression or ID) with one group.
pub fn private_endpoint(name: &str, target: &str, group: &str) -> String {
    format!(
        r#"{{"type": "Microsoft.Network/privateEndpoints", "apiVersion": "2024-01-01", "name": "{name}", "location": "eastus",
  "properties": {{"subnet": {{"id": "{SNET}"}},
    "privateLinkServiceConnections": [{{"name": "c", "properties": {{"privateLinkServiceId": "{target}", "groupIds": ["{group}"]}}}}]}}}}"#
    )
}
