//! The path engine's benchmark: a generated estate of 1,000 computes over 200
//! subnets, 200 NSGs of 200 rules, 20 route tables and 2 firewalls of 500
//! rules, analysed with the full public service-tag file.
//!
//! `cargo run --release -p amlguard-net --example bench_estate [TAGS_FILE]`
//! (default: the newest public file of the shared corpus). Prints the time of
//! each phase, the median time per compute, and the peak memory.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(clippy::print_stdout)]

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use amlguard_arm::template::{self, Options};
use amlguard_net::engine::{Reach, Shared, analyse, analyse_with, verdicts_of, verdicts_shared};
use amlguard_net::symbolic::TagSource;
use amlguard_net::tags::ServiceTags;
use amlguard_net::topology::Estate;
use amlguard_source::Document;

/// The allocator the `amlguard` binary uses, so the numbers are the tool's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const VNETS: usize = 20;
const SUBNETS_PER_VNET: usize = 10;
const COMPUTES_PER_SUBNET: usize = 5;
const NSG_RULES: usize = 200;
const FIREWALL_RULES: usize = 500;

/// A small deterministic generator (xorshift), so every run builds the same estate.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const TAGS: &[&str] = &[
    "AzureMachineLearning",
    "BatchNodeManagement.WestEurope",
    "Storage.WestEurope",
    "Storage.NorthEurope",
    "AzureActiveDirectory",
    "AzureResourceManager",
    "MicrosoftContainerRegistry",
    "AzureFrontDoor.FirstParty",
    "AzureMonitor",
    "AzureKeyVault.WestEurope",
    "Sql.WestEurope",
    "EventHub",
    "AzureCosmosDB",
    "AppService.WestEurope",
    "AzureContainerRegistry.WestEurope",
];

fn nsg(name: &str, rng: &mut Rng) -> String {
    let mut rules = Vec::new();
    for i in 0..NSG_RULES {
        let access = if rng.below(4) == 0 { "Deny" } else { "Allow" };
        let proto = rng.pick(&["Tcp", "Udp", "*"]);
        let dest = match rng.below(3) {
            0 => rng.pick(TAGS).to_string(),
            1 => format!(
                "{}.{}.{}.0/24",
                20 + rng.below(180),
                rng.below(256),
                rng.below(256)
            ),
            _ => format!("10.{}.{}.0/24", rng.below(256), rng.below(256)),
        };
        let port = match rng.below(3) {
            0 => "443".to_string(),
            1 => format!("{}-{}", 1000 + rng.below(1000), 3000 + rng.below(1000)),
            _ => "*".to_string(),
        };
        let _ = i;
        rules.push(format!(
            r#"{{"name": "r{i}", "properties": {{"priority": {}, "direction": "Outbound", "access": "{access}", "protocol": "{proto}", "sourceAddressPrefix": "VirtualNetwork", "sourcePortRange": "*", "destinationAddressPrefix": "{dest}", "destinationPortRange": "{port}"}}}}"#,
            100 + i * 10
        ));
    }
    rules.push(r#"{"name": "deny-internet", "properties": {"priority": 4096, "direction": "Outbound", "access": "Deny", "protocol": "*", "sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefix": "Internet", "destinationPortRange": "*"}}"#.to_string());
    format!(
        r#"{{"type": "Microsoft.Network/networkSecurityGroups", "apiVersion": "2024-05-01", "name": "{name}", "location": "westeurope", "properties": {{"securityRules": [{}]}}}}"#,
        rules.join(",")
    )
}

fn firewall(name: &str, ip: &str, subnet: &str, rng: &mut Rng) -> String {
    let mut net = Vec::new();
    let mut app = Vec::new();
    for i in 0..FIREWALL_RULES / 2 {
        let dest = match rng.below(2) {
            0 => rng.pick(TAGS).to_string(),
            _ => format!(
                "{}.{}.{}.0/24",
                20 + rng.below(180),
                rng.below(256),
                rng.below(256)
            ),
        };
        net.push(format!(
            r#"{{"name": "n{i}", "sourceAddresses": ["10.0.0.0/8"], "destinationAddresses": ["{dest}"], "destinationPorts": ["{}"], "protocols": ["{}"]}}"#,
            rng.pick(&["443", "80", "1433", "5671-5672", "*"]),
            rng.pick(&["TCP", "UDP", "Any"])
        ));
        app.push(format!(
            r#"{{"name": "a{i}", "sourceAddresses": ["10.0.0.0/8"], "protocols": [{{"protocolType": "Https", "port": 443}}], "targetFqdns": ["{}"]}}"#,
            rng.pick(&[
                "pypi.org",
                "*.pythonhosted.org",
                "*.westeurope.batch.azure.com",
                "mcr.microsoft.com",
                "*.data.mcr.microsoft.com",
                "login.microsoftonline.com",
                "management.azure.com",
                "*.instances.azureml.ms",
                "ml.azure.com",
                "github.com",
            ])
        ));
    }
    format!(
        r#"{{"type": "Microsoft.Network/azureFirewalls", "apiVersion": "2024-05-01", "name": "{name}", "location": "westeurope", "properties": {{"ipConfigurations": [{{"name": "ip", "properties": {{"privateIPAddress": "{ip}", "subnet": {{"id": "{subnet}"}}}}}}], "networkRuleCollections": [{{"name": "net", "properties": {{"priority": 100, "action": {{"type": "Allow"}}, "rules": [{}]}}}}], "applicationRuleCollections": [{{"name": "app", "properties": {{"priority": 200, "action": {{"type": "Allow"}}, "rules": [{}]}}}}]}}}}"#,
        net.join(","),
        app.join(",")
    )
}

fn template() -> String {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut res: Vec<String> = Vec::new();
    // The hub with two firewalls.
    res.push(r#"{"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2024-05-01", "name": "hub", "location": "westeurope", "properties": {"addressSpace": {"addressPrefixes": ["10.255.0.0/16"]}, "subnets": [{"name": "AzureFirewallSubnet", "properties": {"addressPrefix": "10.255.0.0/26"}}]}}"#.to_string());
    let fw_subnet =
        "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'hub', 'AzureFirewallSubnet')]";
    res.push(firewall("fw-a", "10.255.0.4", fw_subnet, &mut rng));
    res.push(firewall("fw-b", "10.255.0.5", fw_subnet, &mut rng));
    res.push(r#"{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-05-01", "name": "wsstore", "location": "westeurope", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}, "properties": {}}"#.to_string());
    res.push(r#"{"type": "Microsoft.MachineLearningServices/workspaces", "apiVersion": "2024-04-01", "name": "ws", "location": "westeurope", "properties": {"storageAccount": "[resourceId('Microsoft.Storage/storageAccounts', 'wsstore')]"}}"#.to_string());
    res.push(r#"{"type": "Microsoft.Network/serviceEndpointPolicies", "apiVersion": "2024-05-01", "name": "sep", "location": "westeurope", "properties": {"serviceEndpointPolicyDefinitions": [{"name": "own", "properties": {"service": "Microsoft.Storage", "serviceResources": ["[resourceId('Microsoft.Storage/storageAccounts', 'wsstore')]"]}}, {"name": "aml", "properties": {"service": "Global", "serviceResources": ["/services/Azure/MachineLearning"]}}]}}"#.to_string());
    for v in 0..VNETS {
        let fw_ip = if v % 2 == 0 {
            "10.255.0.4"
        } else {
            "10.255.0.5"
        };
        let mut routes = vec![format!(
            r#"{{"name": "default", "properties": {{"addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualAppliance", "nextHopIpAddress": "{fw_ip}"}}}}"#
        )];
        routes.push(r#"{"name": "aml", "properties": {"addressPrefix": "AzureMachineLearning", "nextHopType": "Internet"}}"#.to_string());
        for r in 0..8 {
            routes.push(format!(
                r#"{{"name": "r{r}", "properties": {{"addressPrefix": "{}.{}.0.0/16", "nextHopType": "{}"}}}}"#,
                20 + rng.below(180),
                rng.below(256),
                rng.pick(&["None", "Internet", "VnetLocal"])
            ));
        }
        res.push(format!(
            r#"{{"type": "Microsoft.Network/routeTables", "apiVersion": "2024-05-01", "name": "rt{v}", "location": "westeurope", "properties": {{"routes": [{}]}}}}"#,
            routes.join(",")
        ));
        let mut subnets = Vec::new();
        for s in 0..SUBNETS_PER_VNET {
            let nsg_name = format!("nsg{v}-{s}");
            res.push(nsg(&nsg_name, &mut rng));
            let sep = if s % 2 == 0 {
                r#", "serviceEndpoints": [{"service": "Microsoft.Storage"}], "serviceEndpointPolicies": [{"id": "[resourceId('Microsoft.Network/serviceEndpointPolicies', 'sep')]"}]"#
            } else {
                ""
            };
            subnets.push(format!(
                r#"{{"name": "s{s}", "properties": {{"addressPrefix": "10.{v}.{s}.0/24", "defaultOutboundAccess": false, "networkSecurityGroup": {{"id": "[resourceId('Microsoft.Network/networkSecurityGroups', '{nsg_name}')]"}}, "routeTable": {{"id": "[resourceId('Microsoft.Network/routeTables', 'rt{v}')]"}}{sep}}}}}"#
            ));
            for c in 0..COMPUTES_PER_SUBNET {
                let (ty, pip) = if c == 0 {
                    ("ComputeInstance", "true")
                } else {
                    ("AmlCompute", "false")
                };
                res.push(format!(
                    r#"{{"type": "Microsoft.MachineLearningServices/workspaces/computes", "apiVersion": "2024-04-01", "name": "ws/c{v}-{s}-{c}", "location": "westeurope", "properties": {{"computeType": "{ty}", "properties": {{"vmSize": "Standard_DS3_v2", "enableNodePublicIp": {pip}, "subnet": {{"id": "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet{v}', 's{s}')]"}}}}}}}}"#
                ));
            }
        }
        res.push(format!(
            r#"{{"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2024-05-01", "name": "vnet{v}", "location": "westeurope", "properties": {{"addressSpace": {{"addressPrefixes": ["10.{v}.0.0/16"]}}, "subnets": [{}]}}}}"#,
            subnets.join(",")
        ));
    }
    let mut out = String::new();
    let _ = write!(
        out,
        r#"{{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#", "contentVersion": "1.0.0.0", "resources": [{}]}}"#,
        res.join(",\n")
    );
    out
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

fn main() {
    let tags_path = std::env::args().nth(1).unwrap_or_else(|| {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/corpus/ryanborMSFT__AzureServiceTagsJson/Public"
        );
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .expect("the shared corpus")
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files.last().unwrap().display().to_string()
    });
    let t0 = Instant::now();
    let tags = ServiceTags::from_json(&std::fs::read_to_string(&tags_path).unwrap()).unwrap();
    let t_tags = t0.elapsed();

    let text = template();
    let t1 = Instant::now();
    let doc = Arc::new(Document::parse("estate.json", text.clone()).unwrap());
    let t_parse = t1.elapsed();
    let x = template::expand(doc, &Options::default());
    assert!(!x.has_errors(), "{:?}", x.diagnostics.first());
    let t_expand = t1.elapsed();
    let model = amlguard_ingest::from_expansion(&x);
    let t_ingest = t1.elapsed();
    let estate = Estate::from_model(&model);
    let t_model = t1.elapsed();
    println!(
        "parse {:.0} ms, expand {:.0} ms, model {:.0} ms, estate {:.0} ms",
        t_parse.as_secs_f64() * 1e3,
        (t_expand - t_parse).as_secs_f64() * 1e3,
        (t_ingest - t_expand).as_secs_f64() * 1e3,
        (t_model - t_ingest).as_secs_f64() * 1e3
    );

    let t3 = Instant::now();
    let plain = analyse_with(&estate, TagSource::File(&tags), false);
    let t_plain = t3.elapsed();
    let _ = plain;
    println!(
        "analysis without fixes: {:>8.1} ms",
        t_plain.as_secs_f64() * 1e3
    );
    let t2 = Instant::now();
    let analysis = analyse(&estate, TagSource::File(&tags));
    let t_analysis = t2.elapsed();

    // Each compute analysed on its own (nothing shared): every 20th, 50 in all.
    let mut per = Vec::new();
    for ci in (0..estate.computes.len()).step_by(20) {
        let t = Instant::now();
        let _ = verdicts_of(&estate, ci, TagSource::File(&tags));
        per.push(t.elapsed());
    }
    per.sort();
    let median = per[per.len() / 2];

    // Every compute in turn on one thread, with the caches an analysis
    // shares (compiled NSGs, firewall rules and stages, class questions) but
    // not the per-subnet results: what each compute costs within a run.
    let shared = Shared::default();
    let mut within = Vec::new();
    for ci in 0..estate.computes.len() {
        let t = Instant::now();
        let _ = verdicts_shared(&estate, ci, TagSource::File(&tags), &shared);
        within.push(t.elapsed());
    }
    within.sort();
    let median_within = within[within.len() / 2];
    let rules: usize = estate.nsgs.iter().map(|n| n.rules.len()).sum();
    let open = analysis
        .computes
        .iter()
        .filter(|c| c.classes.iter().any(|v| v.reach == Reach::Reachable))
        .count();
    println!(
        "estate: {} computes, {} subnets, {} NSGs ({} rules), {} route tables, {} firewalls; template {:.1} MB; service tags: {} ({} tags)",
        estate.computes.len(),
        estate.subnets.len(),
        estate.nsgs.len(),
        rules,
        estate.route_tables.len(),
        estate.firewalls.len(),
        text.len() as f64 / 1e6,
        tags_path,
        tags.len()
    );
    println!(
        "load service tags:        {:>8.1} ms",
        t_tags.as_secs_f64() * 1e3
    );
    println!(
        "expand + model + estate:  {:>8.1} ms",
        t_model.as_secs_f64() * 1e3
    );
    println!(
        "analysis (all computes, with checked fixes): {:>8.1} ms",
        t_analysis.as_secs_f64() * 1e3
    );
    println!(
        "total (tags + model + analysis): {:>8.1} ms",
        (t_tags + t_model + t_analysis).as_secs_f64() * 1e3
    );
    println!(
        "per compute analysed alone, nothing shared (median of {}): {:>8.2} ms",
        per.len(),
        median.as_secs_f64() * 1e3
    );
    println!(
        "per compute with shared caches, one thread, no fixes (median of {}): {:>8.2} ms",
        within.len(),
        median_within.as_secs_f64() * 1e3
    );
    println!(
        "per compute in the whole analysis (total / computes): {:>8.2} ms",
        t_analysis.as_secs_f64() * 1e3 / estate.computes.len().max(1) as f64
    );
    println!("computes with an open path: {open}");
    let t4 = Instant::now();
    let sym = analyse(
        &estate,
        TagSource::Symbolic(amlguard_net::symbolic::SymbolicTags::builtin()),
    );
    println!(
        "analysis with symbolic tags (with checked fixes): {:>8.1} ms ({} computes)",
        t4.elapsed().as_secs_f64() * 1e3,
        sym.computes.len()
    );
    if let Some(kib) = peak_rss_kib() {
        println!("peak memory (VmHWM): {:>8.1} MiB", kib as f64 / 1024.0);
    }
}
