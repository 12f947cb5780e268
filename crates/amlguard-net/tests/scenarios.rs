//! Scenarios from Microsoft's exfiltration guidance (docs/azure-ml-network.md
//! §1, §3, §8), written as ARM templates, run through the whole pipeline
//! (expansion, model, estate, engine) with symbolic tags and again with the
//! service-tag file of the shared corpus: both must give the same verdicts.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::{Arc, OnceLock};

use amlguard_arm::template::{self, Options};
use amlguard_net::engine::{Analysis, Class, Reach, analyse};
use amlguard_net::symbolic::{SymbolicTags, TagSource};
use amlguard_net::tags::ServiceTags;
use amlguard_net::topology::Estate;
use amlguard_source::Document;

const SCHEMA: &str =
    "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#";

fn service_tags() -> &'static ServiceTags {
    static TAGS: OnceLock<ServiceTags> = OnceLock::new();
    TAGS.get_or_init(|| {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/corpus/ryanborMSFT__AzureServiceTagsJson/Public"
        );
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        let text = std::fs::read_to_string(files.last().unwrap()).unwrap();
        ServiceTags::from_json(&text).unwrap()
    })
}

/// Both analyses of a template: symbolic and with the service-tag file.
fn run(resources: &[String]) -> (Analysis, Analysis) {
    let text = format!(
        r#"{{"$schema": "{SCHEMA}", "contentVersion": "1.0.0.0", "resources": [{}]}}"#,
        resources.join(",")
    );
    let doc = Arc::new(Document::parse("scenario.json", text).unwrap());
    let x = template::expand(doc, &Options::default());
    assert!(!x.has_errors(), "{:?}", x.diagnostics);
    let model = amlguard_ingest::from_expansion(&x);
    let estate = Estate::from_model(&model);
    let symbolic = analyse(&estate, TagSource::Symbolic(SymbolicTags::builtin()));
    let exact = analyse(&estate, TagSource::File(service_tags()));
    (symbolic, exact)
}

fn class(a: &Analysis, compute: &str, c: Class) -> Reach {
    let v = a
        .computes
        .iter()
        .find(|v| v.compute.name == compute)
        .unwrap_or_else(|| panic!("no compute {compute}"));
    v.classes.iter().find(|x| x.class == c).unwrap().reach
}

fn dep(a: &Analysis, compute: &str, starts: &str, why: &str) -> Reach {
    let v = a
        .computes
        .iter()
        .find(|v| v.compute.name == compute)
        .unwrap();
    let d = v
        .dependencies
        .iter()
        .find(|d| d.dependency.name.starts_with(starts) && d.dependency.why.contains(why))
        .unwrap_or_else(|| {
            panic!(
                "no dependency {starts} ({why}) in {:?}",
                v.dependencies
                    .iter()
                    .map(|d| &d.dependency.name)
                    .collect::<Vec<_>>()
            )
        });
    d.reach
}

/// Asserts the same verdict in both modes.
fn both(pair: &(Analysis, Analysis), compute: &str, c: Class, want: Reach) {
    assert_eq!(
        class(&pair.0, compute, c),
        want,
        "symbolic, {c:?}: {:#?}",
        pair.0.computes[0].classes
    );
    assert_eq!(
        class(&pair.1, compute, c),
        want,
        "service-tag file, {c:?}: {:#?}",
        pair.1.computes[0].classes
    );
}

fn rule(
    name: &str,
    priority: u32,
    access: &str,
    protocol: &str,
    dest: &str,
    ports: &str,
) -> String {
    format!(
        r#"{{"name": "{name}", "properties": {{"priority": {priority}, "direction": "Outbound", "access": "{access}", "protocol": "{protocol}", "sourceAddressPrefix": "VirtualNetwork", "sourcePortRange": "*", "destinationAddressPrefix": "{dest}", "destinationPortRange": "{ports}"}}}}"#
    )
}

/// The guide's rules: Batch, AML (TCP 443 and UDP 5831), regional storage,
/// Entra ID, Resource Manager, MCR and its Front Door, then deny the internet.
fn guide_rules() -> Vec<String> {
    vec![
        rule(
            "AllowBatch",
            100,
            "Allow",
            "*",
            "BatchNodeManagement.eastus",
            "443",
        ),
        rule(
            "AllowAml",
            110,
            "Allow",
            "Tcp",
            "AzureMachineLearning",
            "443",
        ),
        rule(
            "AllowAmlUdp",
            115,
            "Allow",
            "Udp",
            "AzureMachineLearning",
            "5831",
        ),
        rule("AllowStorage", 120, "Allow", "Tcp", "Storage.eastus", "443"),
        rule(
            "AllowEntra",
            130,
            "Allow",
            "Tcp",
            "AzureActiveDirectory",
            "443",
        ),
        rule(
            "AllowArm",
            131,
            "Allow",
            "Tcp",
            "AzureResourceManager",
            "443",
        ),
        rule(
            "AllowMcr",
            132,
            "Allow",
            "Tcp",
            "MicrosoftContainerRegistry",
            "443",
        ),
        rule(
            "AllowMcrFrontDoor",
            133,
            "Allow",
            "Tcp",
            "AzureFrontDoor.FirstParty",
            "443",
        ),
        rule("DenyInternet", 4000, "Deny", "*", "Internet", "*"),
    ]
}

struct Net {
    rules: Vec<String>,
    policy: Option<Vec<&'static str>>,
    endpoint: bool,
    route_table: Option<String>,
    nat: bool,
    extra: Vec<String>,
}

impl Net {
    fn guide() -> Net {
        Net {
            rules: guide_rules(),
            policy: Some(vec![
                "[resourceId('Microsoft.Storage/storageAccounts', 'wsstore')]",
                "/services/Azure/MachineLearning",
            ]),
            endpoint: true,
            route_table: None,
            nat: true,
            extra: Vec::new(),
        }
    }

    fn resources(&self) -> Vec<String> {
        let mut out = Vec::new();
        out.push(format!(
            r#"{{"type": "Microsoft.Network/networkSecurityGroups", "apiVersion": "2024-05-01", "name": "nsg", "location": "eastus", "properties": {{"securityRules": [{}]}}}}"#,
            self.rules.join(",")
        ));
        let mut subnet_props = vec![
            r#""addressPrefix": "10.0.1.0/24""#.to_string(),
            r#""defaultOutboundAccess": false"#.to_string(),
            r#""networkSecurityGroup": {"id": "[resourceId('Microsoft.Network/networkSecurityGroups', 'nsg')]"}"#.to_string(),
        ];
        if self.endpoint {
            subnet_props.push(r#""serviceEndpoints": [{"service": "Microsoft.Storage", "locations": ["eastus"]}]"#.to_string());
        }
        if let Some(entries) = &self.policy {
            let (ids, aliases): (Vec<&&str>, Vec<&&str>) =
                entries.iter().partition(|e| !e.starts_with("/services/"));
            let mut defs = Vec::new();
            if !ids.is_empty() {
                defs.push(format!(
                    r#"{{"name": "own", "properties": {{"service": "Microsoft.Storage", "serviceResources": [{}]}}}}"#,
                    ids.iter().map(|e| format!("\"{e}\"")).collect::<Vec<_>>().join(",")
                ));
            }
            if !aliases.is_empty() {
                defs.push(format!(
                    r#"{{"name": "aml", "properties": {{"service": "Global", "serviceResources": [{}]}}}}"#,
                    aliases.iter().map(|e| format!("\"{e}\"")).collect::<Vec<_>>().join(",")
                ));
            }
            out.push(format!(
                r#"{{"type": "Microsoft.Network/serviceEndpointPolicies", "apiVersion": "2024-05-01", "name": "sep", "location": "eastus", "properties": {{"serviceEndpointPolicyDefinitions": [{}]}}}}"#,
                defs.join(",")
            ));
            subnet_props.push(r#""serviceEndpointPolicies": [{"id": "[resourceId('Microsoft.Network/serviceEndpointPolicies', 'sep')]"}]"#.to_string());
        }
        if let Some(rt) = &self.route_table {
            out.push(rt.clone());
            subnet_props.push(
                r#""routeTable": {"id": "[resourceId('Microsoft.Network/routeTables', 'rt')]"}"#
                    .to_string(),
            );
        }
        if self.nat {
            out.push(r#"{"type": "Microsoft.Network/natGateways", "apiVersion": "2024-05-01", "name": "nat", "location": "eastus", "sku": {"name": "Standard"}, "properties": {}}"#.to_string());
            subnet_props.push(
                r#""natGateway": {"id": "[resourceId('Microsoft.Network/natGateways', 'nat')]"}"#
                    .to_string(),
            );
        }
        out.push(format!(
            r#"{{"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2024-05-01", "name": "vnet", "location": "eastus", "properties": {{"addressSpace": {{"addressPrefixes": ["10.0.0.0/16"]}}, "subnets": [{{"name": "training", "properties": {{{}}}}}, {{"name": "AzureFirewallSubnet", "properties": {{"addressPrefix": "10.0.2.0/26"}}}}]}}}}"#,
            subnet_props.join(",")
        ));
        out.push(r#"{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-05-01", "name": "wsstore", "location": "eastus", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}, "properties": {}}"#.to_string());
        out.push(r#"{"type": "Microsoft.MachineLearningServices/workspaces", "apiVersion": "2024-04-01", "name": "ws", "location": "eastus", "properties": {"storageAccount": "[resourceId('Microsoft.Storage/storageAccounts', 'wsstore')]"}}"#.to_string());
        out.push(r#"{"type": "Microsoft.MachineLearningServices/workspaces/computes", "apiVersion": "2024-04-01", "name": "ws/cpu", "location": "eastus", "properties": {"computeType": "AmlCompute", "properties": {"vmSize": "Standard_DS3_v2", "enableNodePublicIp": false, "subnet": {"id": "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', 'training')]"}}}}"#.to_string());
        out.extend(self.extra.iter().cloned());
        out
    }
}

#[test]
fn the_guides_configuration_has_no_path_and_every_dependency() {
    let pair = run(&Net::guide().resources());
    for c in Class::ALL {
        both(&pair, "cpu", c, Reach::NotReachable);
    }
    for a in [&pair.0, &pair.1] {
        for d in &a.computes[0].dependencies {
            assert_eq!(
                d.reach,
                Reach::Reachable,
                "{}: {:#?}",
                d.dependency.name,
                d.chain
            );
        }
    }
}

#[test]
fn removing_the_policy_opens_any_storage_account() {
    let mut net = Net::guide();
    net.policy = None;
    let pair = run(&net.resources());
    both(&pair, "cpu", Class::Storage, Reach::Reachable);
    for c in [Class::Internet, Class::FrontDoor, Class::Writable] {
        both(&pair, "cpu", c, Reach::NotReachable);
    }
    // The chain names the missing policy.
    let v = &pair.0.computes[0]
        .classes
        .iter()
        .find(|v| v.class == Class::Storage)
        .unwrap();
    assert!(
        v.chain
            .iter()
            .any(|s| s.text.contains("no service endpoint policy")),
        "{:#?}",
        v.chain
    );
    // The checked fix attaches a policy with the alias.
    let fix = v.fix.as_ref().expect("a checked fix");
    assert!(
        fix.summary.contains("/services/Azure/MachineLearning"),
        "{}",
        fix.summary
    );
}

#[test]
fn removing_the_alias_blocks_provisioning() {
    let mut net = Net::guide();
    net.policy = Some(vec![
        "[resourceId('Microsoft.Storage/storageAccounts', 'wsstore')]",
    ]);
    let pair = run(&net.resources());
    for a in [&pair.0, &pair.1] {
        assert_eq!(
            dep(a, "cpu", "Storage", "Microsoft-managed"),
            Reach::NotReachable
        );
        assert_eq!(
            dep(a, "cpu", "Storage", "default storage"),
            Reach::Reachable
        );
        assert_eq!(
            dep(a, "cpu", "BatchNodeManagement", "Batch"),
            Reach::Reachable
        );
    }
    both(&pair, "cpu", Class::Storage, Reach::NotReachable);
}

#[test]
fn allowing_frontdoor_frontend_opens_front_door() {
    let mut net = Net::guide();
    net.rules.push(rule(
        "AllowFrontDoor",
        140,
        "Allow",
        "Tcp",
        "AzureFrontDoor.Frontend",
        "443",
    ));
    let pair = run(&net.resources());
    both(&pair, "cpu", Class::FrontDoor, Reach::Reachable);
    both(&pair, "cpu", Class::Storage, Reach::NotReachable);
    both(&pair, "cpu", Class::Internet, Reach::NotReachable);
}

#[test]
fn an_fqdn_rule_for_blob_storage_in_an_approved_only_managed_network_opens_storage() {
    let resources = vec![
        r#"{"type": "Microsoft.MachineLearningServices/workspaces", "apiVersion": "2024-04-01", "name": "ws", "location": "eastus", "properties": {"managedNetwork": {"isolationMode": "AllowOnlyApprovedOutbound", "outboundRules": {"blob": {"type": "FQDN", "category": "UserDefined", "destination": "*.blob.core.windows.net"}, "pypi": {"type": "FQDN", "category": "UserDefined", "destination": "pypi.org"}}}}}"#.to_string(),
        r#"{"type": "Microsoft.MachineLearningServices/workspaces/computes", "apiVersion": "2024-04-01", "name": "ws/cpu", "location": "eastus", "properties": {"computeType": "AmlCompute", "properties": {"vmSize": "Standard_DS3_v2"}}}"#.to_string(),
    ];
    let pair = run(&resources);
    both(&pair, "cpu", Class::Storage, Reach::Reachable);
    both(&pair, "cpu", Class::Internet, Reach::NotReachable);
    both(&pair, "cpu", Class::FrontDoor, Reach::NotReachable);
}

#[test]
fn a_default_route_to_a_firewall_that_allows_only_required_hosts_closes_internet_egress() {
    let mut net = Net::guide();
    // The NSG allows everything out (default rules only); the route table
    // sends everything to the firewall; no NAT gateway.
    net.rules = Vec::new();
    net.nat = false;
    net.route_table = Some(r#"{"type": "Microsoft.Network/routeTables", "apiVersion": "2024-05-01", "name": "rt", "location": "eastus", "properties": {"routes": [{"name": "default", "properties": {"addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.0.2.4"}}]}}"#.to_string());
    net.extra.push(r#"{"type": "Microsoft.Network/azureFirewalls", "apiVersion": "2024-05-01", "name": "fw", "location": "eastus", "properties": {"ipConfigurations": [{"name": "ip", "properties": {"privateIPAddress": "10.0.2.4", "subnet": {"id": "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', 'AzureFirewallSubnet')]"}}}], "applicationRuleCollections": [{"name": "aml", "properties": {"priority": 200, "action": {"type": "Allow"}, "rules": [{"name": "aml-hosts", "sourceAddresses": ["10.0.1.0/24"], "protocols": [{"protocolType": "Https", "port": 443}], "targetFqdns": ["login.microsoftonline.com", "management.azure.com", "*.instances.azureml.ms", "*.instances.azureml.net", "*.eastus.batch.azure.com", "*.eastus.service.batch.azure.com", "mcr.microsoft.com", "*.data.mcr.microsoft.com", "ml.azure.com"]}]}}], "networkRuleCollections": [{"name": "aml-udp", "properties": {"priority": 100, "action": {"type": "Allow"}, "rules": [{"name": "tundra", "sourceAddresses": ["10.0.1.0/24"], "protocols": ["UDP"], "destinationAddresses": ["AzureMachineLearning"], "destinationPorts": ["5831"]}]}}]}}"#.to_string());
    let pair = run(&net.resources());
    both(&pair, "cpu", Class::Internet, Reach::NotReachable);
    both(&pair, "cpu", Class::FrontDoor, Reach::NotReachable);
    // With a policy on the endpoint, storage stays closed too.
    both(&pair, "cpu", Class::Storage, Reach::NotReachable);
    // The chain of the closed internet class names the firewall.
    for a in [&pair.0, &pair.1] {
        assert_eq!(
            dep(a, "cpu", "BatchNodeManagement", "Batch"),
            Reach::Reachable
        );
        assert_eq!(
            dep(a, "cpu", "AzureMachineLearning", "without public IP"),
            Reach::Reachable
        );
    }
}

#[test]
fn a_public_ip_cluster_with_the_default_rules_reaches_everything() {
    let mut net = Net::guide();
    net.rules = Vec::new();
    net.policy = None;
    net.nat = false;
    let mut res = net.resources();
    for r in &mut res {
        *r = r.replace(r#""enableNodePublicIp": false, "#, "");
    }
    let pair = run(&res);
    for c in Class::ALL {
        both(&pair, "cpu", c, Reach::Reachable);
    }
    let v = pair.0.computes[0]
        .classes
        .iter()
        .find(|v| v.class == Class::Internet)
        .unwrap();
    assert!(
        v.chain
            .iter()
            .any(|s| s.text.contains("AllowInternetOutBound")),
        "{:#?}",
        v.chain
    );
    assert!(
        v.chain.iter().any(|s| s.text.contains("public IP")),
        "{:#?}",
        v.chain
    );
}

#[test]
fn a_private_subnet_without_a_way_out_blocks_the_dependencies() {
    let mut net = Net::guide();
    net.nat = false;
    let pair = run(&net.resources());
    for a in [&pair.0, &pair.1] {
        let d = a.computes[0]
            .dependencies
            .iter()
            .find(|d| d.dependency.name.starts_with("BatchNodeManagement"))
            .unwrap();
        assert_eq!(d.reach, Reach::NotReachable);
        assert!(
            d.chain.iter().any(|s| s.text.contains("no way out")),
            "{:#?}",
            d.chain
        );
        // Storage over the service endpoint needs no way out.
        assert_eq!(
            dep(a, "cpu", "Storage", "default storage"),
            Reach::Reachable
        );
    }
}

/// A dual-stack subnet whose NSG allows the internet, behind a NAT gateway;
/// `deny` adds the deny rule a fix would propose.
fn dual_stack(deny: bool) -> Vec<String> {
    let mut rules = vec![rule("AllowWeb", 200, "Allow", "*", "Internet", "*")];
    if deny {
        rules.push(rule("DenyWeb", 199, "Deny", "*", "Internet", "*"));
    }
    vec![
        format!(
            r#"{{"type": "Microsoft.Network/networkSecurityGroups", "apiVersion": "2024-05-01", "name": "nsg", "location": "eastus", "properties": {{"securityRules": [{}]}}}}"#,
            rules.join(",")
        ),
        r#"{"type": "Microsoft.Network/natGateways", "apiVersion": "2024-05-01", "name": "nat", "location": "eastus", "sku": {"name": "Standard"}, "properties": {}}"#.to_string(),
        r#"{"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2024-05-01", "name": "vnet", "location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16", "fd00:1::/48"]}, "subnets": [{"name": "training", "properties": {"addressPrefixes": ["10.0.1.0/24", "fd00:1:0:1::/64"], "defaultOutboundAccess": false, "networkSecurityGroup": {"id": "[resourceId('Microsoft.Network/networkSecurityGroups', 'nsg')]"}, "natGateway": {"id": "[resourceId('Microsoft.Network/natGateways', 'nat')]"}}}]}}"#.to_string(),
        r#"{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-05-01", "name": "wsstore", "location": "eastus", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}, "properties": {}}"#.to_string(),
        r#"{"type": "Microsoft.MachineLearningServices/workspaces", "apiVersion": "2024-04-01", "name": "ws", "location": "eastus", "properties": {"storageAccount": "[resourceId('Microsoft.Storage/storageAccounts', 'wsstore')]"}}"#.to_string(),
        r#"{"type": "Microsoft.MachineLearningServices/workspaces/computes", "apiVersion": "2024-04-01", "name": "ws/cpu", "location": "eastus", "properties": {"computeType": "AmlCompute", "properties": {"vmSize": "Standard_DS3_v2", "enableNodePublicIp": false, "subnet": {"id": "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', 'training')]"}}}}"#.to_string(),
    ]
}

/// Found in review: a fix check on a subnet with IPv6 space under symbolic
/// tags took a class that is closed only symbolically for closed, and
/// offered a fix after which the engine itself still calls the path
/// possible. A checked fix must close the path by the engine's own verdict.
#[test]
fn a_fix_is_offered_only_when_the_engine_calls_the_path_closed_after_it() {
    let (symbolic, exact) = run(&dual_stack(false));
    let (sym_after, exact_after) = run(&dual_stack(true));
    assert_eq!(class(&symbolic, "cpu", Class::Internet), Reach::Reachable);
    assert_eq!(class(&exact, "cpu", Class::Internet), Reach::Reachable);
    // Symbolic tags cannot close anything for this subnet: no fix.
    assert_eq!(class(&sym_after, "cpu", Class::Internet), Reach::Possible);
    for v in &symbolic.computes[0].classes {
        assert!(v.fix.is_none(), "{:?}: {:?}", v.class, v.fix);
    }
    // With the file the deny does close the internet, but it also blocks
    // every dependency (the `Internet` tag covers Azure's services), so it
    // is not offered either.
    assert_eq!(
        class(&exact_after, "cpu", Class::Internet),
        Reach::NotReachable
    );
    let internet = exact.computes[0]
        .classes
        .iter()
        .find(|v| v.class == Class::Internet)
        .unwrap();
    assert!(internet.fix.is_none(), "{:?}", internet.fix);
}

// ---------------------------------------------------------------------------
// Symbolic and exact tags agree wherever symbolic mode is decisive, on random
// subnets (NSG rules over real tags, literal prefixes and ports; service
// endpoint and policy; public IP; NAT gateway).

use proptest::prelude::*;

const DESTS: &[&str] = &[
    "Storage",
    "Storage.eastus",
    "Storage.westeurope",
    "AzureFrontDoor.Frontend",
    "AzureFrontDoor.FirstParty",
    "AzureMachineLearning",
    "BatchNodeManagement.eastus",
    "AzureActiveDirectory",
    "AzureResourceManager",
    "MicrosoftContainerRegistry",
    "AzureCloud",
    "AzureMonitor",
    "Sql",
    "EventHub",
    "Internet",
    "VirtualNetwork",
    "*",
    "20.50.0.0/16",
    "10.1.0.0/16",
];
const PORTS: &[&str] = &["443", "80", "*", "5831", "1000-2000"];
const PROTOS: &[&str] = &["Tcp", "Udp", "*"];

fn random_net() -> impl Strategy<Value = (Vec<String>, bool, u8, bool, bool)> {
    (
        prop::collection::vec(
            (
                0..DESTS.len(),
                0..PORTS.len(),
                0..PROTOS.len(),
                any::<bool>(),
            ),
            0..7,
        ),
        any::<bool>(),
        0u8..3,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(rules, endpoint, policy, nat, public_ip)| {
            let rules = rules
                .into_iter()
                .enumerate()
                .map(|(i, (d, p, pr, allow))| {
                    rule(
                        &format!("r{i}"),
                        100 + 10 * i as u32,
                        if allow { "Allow" } else { "Deny" },
                        PROTOS[pr],
                        DESTS[d],
                        PORTS[p],
                    )
                })
                .collect();
            (rules, endpoint, policy, nat, public_ip)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 120, ..ProptestConfig::default() })]

    #[test]
    fn symbolic_verdicts_agree_with_the_service_tag_file_where_decisive(
        (rules, endpoint, policy, nat, public_ip) in random_net()
    ) {
        let mut net = Net::guide();
        net.rules = rules;
        net.endpoint = endpoint;
        net.nat = nat;
        net.policy = match policy {
            0 => None,
            1 => Some(vec!["[resourceId('Microsoft.Storage/storageAccounts', 'wsstore')]", "/services/Azure/MachineLearning"]),
            _ => Some(vec!["[subscription().id]"]),
        };
        let mut res = net.resources();
        if public_ip {
            for r in &mut res {
                *r = r.replace(r#""enableNodePublicIp": false"#, r#""enableNodePublicIp": true"#);
            }
        }
        let text = format!(
            r#"{{"$schema": "{SCHEMA}", "contentVersion": "1.0.0.0", "resources": [{}]}}"#,
            res.join(",")
        );
        let doc = Arc::new(Document::parse("random.json", text).unwrap());
        let x = template::expand(doc, &Options::default());
        prop_assert!(!x.has_errors());
        let estate = Estate::from_model(&amlguard_ingest::from_expansion(&x));
        let sym = amlguard_net::engine::analyse_with(&estate, TagSource::Symbolic(SymbolicTags::builtin()), false);
        let exact = amlguard_net::engine::analyse_with(&estate, TagSource::File(service_tags()), false);
        let (s, e) = (&sym.computes[0], &exact.computes[0]);
        for (a, b) in s.classes.iter().zip(&e.classes) {
            if a.reach != Reach::Possible {
                prop_assert_eq!(a.reach, b.reach, "{:?}: symbolic {:#?}\nfile {:#?}", a.class, a.chain, b.chain);
            }
        }
        for (a, b) in s.dependencies.iter().zip(&e.dependencies) {
            prop_assert_eq!(&a.dependency.why, &b.dependency.why);
            if a.reach != Reach::Possible {
                prop_assert_eq!(a.reach, b.reach, "{}: symbolic {:#?}\nfile {:#?}", a.dependency.name, a.chain, b.chain);
            }
        }
        if let (Some(a), Some(b)) = (&s.inbound, &e.inbound)
            && a.reach != Reach::Possible
        {
            prop_assert_eq!(a.reach, b.reach);
        }
    }
}

/// Large inputs are analysed in shards on several threads: the verdicts are
/// the same as analysing each compute on its own, in the input's order.
#[test]
fn sharded_analysis_matches_computes_analysed_one_by_one() {
    let mut net = Net::guide();
    net.policy = None;
    let mut res = net.resources();
    for i in 0..80 {
        let pip = if i % 3 == 0 { "true" } else { "false" };
        res.push(format!(
            r#"{{"type": "Microsoft.MachineLearningServices/workspaces/computes", "apiVersion": "2024-04-01", "name": "ws/c{i}", "location": "eastus", "properties": {{"computeType": "{}", "properties": {{"enableNodePublicIp": {pip}, "subnet": {{"id": "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', 'training')]"}}}}}}}}"#,
            if i % 2 == 0 { "AmlCompute" } else { "ComputeInstance" }
        ));
    }
    let text = format!(
        r#"{{"$schema": "{SCHEMA}", "contentVersion": "1.0.0.0", "resources": [{}]}}"#,
        res.join(",")
    );
    let doc = Arc::new(Document::parse("many.json", text).unwrap());
    let x = template::expand(doc, &Options::default());
    assert!(!x.has_errors());
    let estate = Estate::from_model(&amlguard_ingest::from_expansion(&x));
    assert_eq!(estate.computes.len(), 81);
    let tags = TagSource::Symbolic(SymbolicTags::builtin());
    let all = analyse(&estate, tags);
    assert_eq!(all.computes.len(), 81);
    for (ci, v) in all.computes.iter().enumerate() {
        assert_eq!(v.compute.name, estate.computes[ci].name);
        let (classes, deps) = amlguard_net::engine::verdicts_of(&estate, ci, tags).unwrap();
        let a: Vec<Reach> = v.classes.iter().map(|c| c.reach).collect();
        let b: Vec<Reach> = classes.iter().map(|c| c.reach).collect();
        assert_eq!(a, b, "{}", v.compute.name);
        let a: Vec<Reach> = v.dependencies.iter().map(|d| d.reach).collect();
        let b: Vec<Reach> = deps.iter().map(|d| d.reach).collect();
        assert_eq!(a, b, "{}", v.compute.name);
        // Storage is open (no policy) and every compute gets the checked fix.
        assert!(
            v.classes
                .iter()
                .any(|c| c.class == Class::Storage && c.fix.is_some()),
            "{}",
            v.compute.name
        );
    }
    // Public-IP computes have an inbound verdict; the others do not.
    assert!(all.computes.iter().any(|v| v.inbound.is_some()));
    assert!(all.computes.iter().any(|v| v.inbound.is_none()));
}
