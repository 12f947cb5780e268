//! The service-tag files of the shared corpus (Microsoft's weekly downloads).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

use amlguard_net::space::AddrSet;
use amlguard_net::tags::ServiceTags;

fn corpus() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/ryanborMSFT__AzureServiceTagsJson");
    p.is_dir().then_some(p)
}

fn load(rel: &str) -> Option<ServiceTags> {
    let text = std::fs::read_to_string(corpus()?.join(rel)).unwrap();
    Some(ServiceTags::from_json(&text).unwrap())
}

#[test]
fn public_file() {
    let Some(t) = load("Public/ServiceTags_Public_20251028.json") else {
        return;
    };
    assert_eq!(t.len(), 3039);
    assert_eq!(t.cloud(), Some("Public"));
    assert_eq!(t.change_number(), Some("375"));
    assert_eq!(t.iter().map(|x| x.prefix_count).sum::<usize>(), 93_362);
    // The corpus README: templates write lower-case regions.
    let we = t.resolve("Storage.westeurope").unwrap();
    assert_eq!(we, t.resolve("Storage.WestEurope").unwrap());
    assert!(!we.is_empty());
    let aml = t.resolve("AzureMachineLearning.EastUS").unwrap();
    assert!(aml.contains("20.42.0.240".parse().unwrap()));
    assert!(aml.contains("2603:1030:210:1::2c0".parse().unwrap()));
    assert_eq!(t.get("AzureMachineLearning").unwrap().prefix_count, 336);
    // Regional tags lie within their global tag.
    for service in [
        "Storage",
        "AzureMachineLearning",
        "BatchNodeManagement",
        "AzureCloud",
        "AzureKeyVault",
    ] {
        let global = t.resolve(service).unwrap();
        let prefix = format!("{}.", service.to_ascii_lowercase());
        let regional: Vec<_> = t
            .iter()
            .filter(|x| x.name.to_ascii_lowercase().starts_with(&prefix) && x.region.is_some())
            .collect();
        assert!(regional.len() > 30, "{service}: {}", regional.len());
        for r in regional {
            assert!(r.addresses.is_subset(global), "{} ⊄ {service}", r.name);
        }
    }
    // DESIGN's hierarchy says AzureCloud ⊇ every Azure tag; this file disagrees
    // for five Storage prefixes (parts of them). Symbolic reasoning must not
    // assume more than the file. (Checked against Python's `ipaddress`.)
    let outside = t
        .resolve("Storage")
        .unwrap()
        .difference(t.resolve("AzureCloud").unwrap());
    assert_eq!(
        outside.to_cidrs(),
        [
            "52.239.184.128/27",
            "52.239.185.16/28",
            "52.239.185.64/26",
            "52.239.185.128/25",
            "52.239.191.0/28",
            "52.239.192.80/28",
            "52.239.198.160/27",
            "52.239.207.0/27",
            "52.239.207.48/28",
            "52.239.207.160/27",
            "135.130.25.0/25",
            "135.130.34.192/26",
            "135.130.157.0/24",
            "135.130.164.0/22",
            "135.130.168.0/21",
            "135.130.176.0/20",
            "135.130.192.0/18",
            "145.190.129.0/24",
            "145.190.130.0/23",
            "145.190.132.0/22",
            "145.190.136.0/21",
            "145.190.144.0/20",
            "145.190.160.0/19",
            "145.190.192.0/18",
        ]
    );
    // Not in the file: virtual tags and misspellings.
    for missing in [
        "VirtualNetwork",
        "Internet",
        "AzureLoadBalancer",
        "Keyvault.WestEurope",
    ] {
        assert!(t.resolve(missing).is_err(), "{missing}");
    }
    assert_eq!(
        t.resolve("Keyvault.WestEurope")
            .unwrap_err()
            .suggestion
            .as_deref(),
        Some("AzureKeyVault.WestEurope")
    );
    assert_eq!(
        t.resolve("AzureFrontDoor.FrontEnd").unwrap(),
        t.resolve("AzureFrontDoor.Frontend").unwrap()
    );
    let v4_only = t
        .resolve("Storage")
        .unwrap()
        .intersection(&AddrSet::all_v4());
    assert!(!v4_only.is_empty());
}

#[test]
fn government_and_china_files() {
    let Some(gov) = load("AzureGovernment/ServiceTags_AzureGovernment_20260720.json") else {
        return;
    };
    assert_eq!(gov.cloud(), Some("AzureGovernment"));
    assert!(gov.resolve("storage").is_ok());
    let china = load("China/ServiceTags_China_20260720.json").unwrap();
    assert_eq!(china.cloud(), Some("China"));
    assert!(china.resolve("AzureCloud").is_ok());
}
