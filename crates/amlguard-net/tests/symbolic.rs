//! Symbolic service tags and the address resolvers.
//!
//! Checked against Microsoft's file in the shared corpus (the file the
//! built-in data comes from): the symbolic layout must never claim that tags
//! share addresses when the file says they do not, must show every overlap the
//! file has, and must keep every containment of the file. Without the corpus
//! the tests that need it return early.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use amlguard_net::resolve::{AddrBounds, AddressResolver, ResolveError};
use amlguard_net::space::AddrSet;
use amlguard_net::symbolic::{Addressing, SymbolicTags, TagSource, render_data};
use amlguard_net::tags::ServiceTags;
use proptest::prelude::*;

fn set(text: &str) -> AddrSet {
    AddrSet::from_prefixes(text.split(',').map(str::trim)).unwrap()
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// The newest public file of the shared corpus, as the generator picks it.
fn corpus_file() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/ryanborMSFT__AzureServiceTagsJson/Public");
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("ServiceTags_Public_") && n.ends_with(".json"))
        })
        .max()
}

/// The corpus file, parsed once.
fn file() -> Option<&'static (PathBuf, ServiceTags)> {
    static FILE: OnceLock<Option<(PathBuf, ServiceTags)>> = OnceLock::new();
    FILE.get_or_init(|| {
        let path = corpus_file()?;
        let text = std::fs::read_to_string(&path).unwrap();
        // The symbolic layout keeps the IPv4 relations: compare with the
        // file's IPv4 prefixes.
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        for t in v["values"].as_array_mut().unwrap() {
            if let Some(p) = t["properties"]["addressPrefixes"].as_array_mut() {
                p.retain(|x| !x.as_str().unwrap_or("").contains(':'));
            }
        }
        Some((path, ServiceTags::from_json(&v.to_string()).unwrap()))
    })
    .as_ref()
}

fn sym() -> &'static SymbolicTags {
    SymbolicTags::builtin()
}

fn vnet() -> AddrSet {
    set("10.0.0.0/16")
}

fn symbolic() -> Addressing<'static> {
    Addressing::new(TagSource::Symbolic(sym()), vnet())
}

// ---------------------------------------------------------------------------
// The committed data.

#[test]
fn symbolic_data_is_current() {
    let Some((path, tags)) = file() else {
        return;
    };
    let name = path.file_name().unwrap().to_str().unwrap();
    let fresh = render_data(tags, name).unwrap();
    let committed = include_str!("../src/symbolic/data.rs");
    if fresh != committed {
        let line = fresh
            .lines()
            .zip(committed.lines())
            .position(|(a, b)| a != b)
            .map_or_else(|| "the end".to_string(), |i| format!("line {}", i + 1));
        panic!(
            "src/symbolic/data.rs is stale (differs from {name} at {line}); \
             regenerate it with `cargo run -p amlguard-net --example gen_symbolic_data`"
        );
    }
    assert!(
        committed.len() < 200_000,
        "data file is {} bytes",
        committed.len()
    );
}

#[test]
fn builtin_knows_every_tag_of_the_file() {
    let s = sym();
    assert_eq!(s.cloud(), "Public");
    assert!(s.source_file().starts_with("ServiceTags_Public_"));
    assert!(!s.change_number().is_empty());
    let Some((_, tags)) = file() else {
        assert!(s.len() > 3000);
        return;
    };
    assert_eq!(s.change_number(), tags.change_number().unwrap());
    assert_eq!(s.len(), tags.len());
    for t in tags.iter() {
        assert_eq!(s.canonical_name(&t.name), Some(t.name.as_str()));
        assert_eq!(s.is_global(&t.name), Some(t.region.is_none()), "{}", t.name);
        // A tag is empty in the layout exactly when it has no IPv4 prefix.
        assert_eq!(
            s.resolve(&t.name).unwrap().is_empty(),
            t.addresses.is_empty(),
            "{}",
            t.name
        );
    }
    let variants = s.regional_variants("storage");
    assert!(variants.contains(&"Storage.WestEurope"));
    assert!(variants.contains(&"Storage.EastUS2Stage"));
    assert_eq!(
        variants.len(),
        tags.iter()
            .filter(|t| t.region.is_some() && t.name.starts_with("Storage."))
            .count()
    );
    assert!(s.regional_variants("AzureFrontDoor.Frontend").is_empty());
    assert!(s.regional_variants("NoSuchFamily").is_empty());
}

#[test]
fn layout_stays_in_the_synthetic_space() {
    let s = sym();
    let space = SymbolicTags::synthetic_space();
    assert_eq!(space, &set("240.0.0.0/4"));
    let mut all = AddrSet::empty();
    for name in s.names() {
        let a = s.resolve(name).unwrap();
        assert!(a.is_subset(space), "{name}");
        all = all.union(a);
    }
    let io = s.internet_only_block();
    assert!(!io.is_empty());
    assert!(io.is_subset(space));
    assert!(!io.intersects(&all), "the internet-only block is in a tag");
    // Tags use few ranges (the layout keeps each tag's atoms together).
    let ranges: usize = s.names().map(|n| s.resolve(n).unwrap().range_count()).sum();
    assert!(ranges < 3 * s.len(), "{ranges} ranges");
}

// ---------------------------------------------------------------------------
// Relations against the file.

/// The tags the engine cares most about.
const IMPORTANT: &[&str] = &[
    "Storage",
    "Storage.WestEurope",
    "Storage.EastUS",
    "Storage.NorthEurope",
    "AzureFrontDoor.Frontend",
    "AzureFrontDoor.FirstParty",
    "AzureFrontDoor.Backend",
    "AzureMachineLearning",
    "AzureMachineLearning.WestEurope",
    "BatchNodeManagement",
    "BatchNodeManagement.WestEurope",
    "BatchNodeManagement.EastUS",
    "AzureActiveDirectory",
    "AzureResourceManager",
    "MicrosoftContainerRegistry",
    "MicrosoftContainerRegistry.WestEurope",
    "AzureMonitor",
    "AzureMonitor.WestEurope",
    "AzureCloud",
    "AzureCloud.westeurope",
    "AzureCloud.eastus",
    "AzureKeyVault",
    "AzureKeyVault.WestEurope",
    "Sql",
    "EventHub",
    "ServiceBus",
    "AzureCosmosDB",
    "AppService",
    "AzureContainerRegistry",
];

/// Soundness of one pair, both ways round: the symbolic bounds against the
/// file's exact sets. Returns (file intersects, file subset) for the caller.
fn check_pair(file: &Addressing<'_>, symbolic: &Addressing<'_>, a: &str, b: &str) -> (bool, bool) {
    let fa = file.tag(a).unwrap().surely;
    let fb = file.tag(b).unwrap().surely;
    let sa = symbolic.tag(a).unwrap();
    let sb = symbolic.tag(b).unwrap();
    let real_meet = fa.intersects(&fb);
    if sa.surely.intersects(&sb.surely) {
        assert!(
            real_meet,
            "symbolic says {a} and {b} surely share addresses; the file says they do not"
        );
    }
    if real_meet {
        assert!(
            sa.possibly.intersects(&sb.possibly),
            "the file says {a} and {b} share addresses; symbolic says they cannot"
        );
    }
    let real_sub = fa.is_subset(&fb);
    if real_sub {
        assert!(
            sa.possibly.is_subset(&sb.surely),
            "the file says {a} ⊆ {b}; symbolic does not surely keep it"
        );
    }
    (real_meet, real_sub)
}

#[test]
fn important_tags_keep_the_files_relations() {
    let Some((_, tags)) = file() else {
        return;
    };
    let exact = Addressing::new(TagSource::File(tags), vnet());
    let symbolic = symbolic();
    let mut meets = 0;
    let mut subsets = 0;
    for a in IMPORTANT {
        for b in IMPORTANT {
            let (m, s) = check_pair(&exact, &symbolic, a, b);
            meets += usize::from(m);
            subsets += usize::from(s);
        }
    }
    // The checks are not vacuous.
    assert!(meets > IMPORTANT.len() * 4, "{meets}");
    assert!(subsets > IMPORTANT.len() + 20, "{subsets}");
    // Known structure, spelled out.
    let s = |n: &str| symbolic.tag(n).unwrap();
    assert!(
        s("Storage.WestEurope")
            .possibly
            .is_subset(&s("Storage").surely)
    );
    assert!(
        s("Storage.WestEurope")
            .possibly
            .is_subset(&s("AzureCloud.westeurope").surely)
    );
    assert!(
        s("BatchNodeManagement.WestEurope")
            .possibly
            .is_subset(&s("AzureCloud").surely)
    );
    assert!(
        !s("Storage.WestEurope")
            .possibly
            .intersects(&s("Storage.NorthEurope").possibly)
    );
    assert!(
        !s("AzureCloud.westeurope")
            .possibly
            .intersects(&s("AzureCloud.eastus").possibly)
    );
    // Storage is not inside AzureCloud in this file (see tags_corpus.rs), and
    // symbolic mode does not pretend it is.
    assert!(!s("Storage").surely.is_subset(&s("AzureCloud").possibly));
    // Every tag is inside `Internet`.
    let internet = s("Internet").surely;
    for name in sym().names() {
        assert!(sym().resolve(name).unwrap().is_subset(&internet), "{name}");
    }
}

#[test]
fn every_pair_of_global_tags_keeps_the_files_relations() {
    let Some((_, tags)) = file() else {
        return;
    };
    let globals: Vec<&str> = tags
        .iter()
        .filter(|t| t.region.is_none())
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(globals.len(), 100);
    let file_sets: Vec<&AddrSet> = globals.iter().map(|n| tags.resolve(n).unwrap()).collect();
    for (i, a) in globals.iter().enumerate() {
        for (j, b) in globals.iter().enumerate() {
            let (fa, fb) = (file_sets[i], file_sets[j]);
            let (sa, sb) = (sym().resolve(a).unwrap(), sym().resolve(b).unwrap());
            // With the data's atoms the relations are the file's exactly.
            assert_eq!(fa.intersects(fb), sa.intersects(sb), "{a} ∩ {b}");
            assert_eq!(fa.is_subset(fb), sa.is_subset(sb), "{a} ⊆ {b}");
        }
    }
}

/// Random pairs and triples of tag names from the whole file.
fn name_index() -> impl Strategy<Value = usize> {
    0usize..3039
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn random_tags_keep_the_files_relations(i in name_index(), j in name_index(), k in name_index()) {
        let Some((_, tags)) = file() else {
            return Ok(());
        };
        let all: Vec<&str> = tags.iter().map(|t| t.name.as_str()).collect();
        let (a, b, c) = (all[i % all.len()], all[j % all.len()], all[k % all.len()]);
        let exact = Addressing::new(TagSource::File(tags), vnet());
        let symbolic = symbolic();
        check_pair(&exact, &symbolic, a, b);
        check_pair(&exact, &symbolic, b, a);
        // A Boolean combination (what an NSG computes with deny-then-allow):
        // a less b less c is empty symbolically exactly when it is in the file.
        let f = |n: &str| exact.tag(n).unwrap().surely;
        let s = |n: &str| symbolic.tag(n).unwrap().surely;
        let real = f(a).difference(&f(b)).difference(&f(c));
        let symb = s(a).difference(&s(b)).difference(&s(c));
        prop_assert_eq!(real.is_empty(), symb.is_empty(), "{} - {} - {}", a, b, c);
        let real = f(a).intersection(&f(b)).difference(&f(c));
        let symb = s(a).intersection(&s(b)).difference(&s(c));
        prop_assert_eq!(real.is_empty(), symb.is_empty(), "{} & {} - {}", a, b, c);
    }
}

// ---------------------------------------------------------------------------
// Names.

#[test]
fn names_are_case_insensitive_and_unknown_ones_are_errors() {
    let r = symbolic();
    for (a, b) in [
        ("Storage.WestEurope", "storage.westeurope"),
        ("Storage.WestEurope", "  STORAGE.WESTEUROPE "),
        ("BatchNodeManagement.EastUS", "batchnodemanagement.eastus"),
        ("AzureFrontDoor.Frontend", "AzureFrontDoor.FrontEnd"),
        ("VirtualNetwork", "virtualnetwork"),
        ("Internet", "INTERNET"),
        ("AzureLoadBalancer", "azureloadbalancer"),
    ] {
        assert_eq!(r.tag(a).unwrap(), r.tag(b).unwrap(), "{a} / {b}");
    }
    let err = |name: &str| match r.tag(name) {
        Err(ResolveError::UnknownTag(e)) => e,
        other => panic!("{name}: {other:?}"),
    };
    let e = err("Storage.WestEuropa");
    assert_eq!(e.name, "Storage.WestEuropa");
    assert_eq!(e.suggestion.as_deref(), Some("Storage.WestEurope"));
    assert_eq!(
        err("Keyvault.WestEurope").suggestion.as_deref(),
        Some("AzureKeyVault.WestEurope")
    );
    assert_eq!(
        err("FrontDoor.Frontend").suggestion.as_deref(),
        Some("AzureFrontDoor.Frontend")
    );
    assert_eq!(
        err("VirtualNetworks").suggestion.as_deref(),
        Some("VirtualNetwork")
    );
    assert_eq!(err("NoSuchServiceAtAll").suggestion, None);
    assert!(r.tag("").is_err());
    assert!(r.tag_prefixes("Storage.WestEuropa").is_err());
    // Also with the file.
    if let Some((_, tags)) = file() {
        let f = Addressing::new(TagSource::File(tags), vnet());
        assert!(matches!(
            f.tag("Storage.WestEuropa"),
            Err(ResolveError::UnknownTag(_))
        ));
        match f.tag("Internets") {
            Err(ResolveError::UnknownTag(e)) => {
                assert_eq!(e.suggestion.as_deref(), Some("Internet"))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            f.tag("storage.westeurope").unwrap(),
            AddrBounds::exact(tags.resolve("Storage.WestEurope").unwrap().clone())
        );
    }
}

#[test]
fn virtual_tags() {
    let r = symbolic();
    assert_eq!(r.tag("VirtualNetwork").unwrap(), AddrBounds::exact(vnet()));
    let internet = r.tag("Internet").unwrap();
    assert!(internet.is_exact());
    assert_eq!(internet.surely, vnet().complement());
    assert!(internet.surely.contains(ip("8.8.8.8")));
    assert!(internet.surely.contains(ip("10.1.0.1")));
    assert!(!internet.surely.contains(ip("10.0.3.4")));
    assert!(
        sym()
            .resolve("Storage")
            .unwrap()
            .is_subset(&internet.surely)
    );
    let lb = r.tag("AzureLoadBalancer").unwrap();
    assert_eq!(lb, AddrBounds::exact(set("168.63.129.16/32")));
    assert_eq!(r.tag("AzurePlatformDNS").unwrap(), lb);
    assert_eq!(
        r.tag("AzurePlatformIMDS").unwrap(),
        AddrBounds::exact(set("169.254.169.254/32"))
    );
    // The KMS servers are public addresses: in symbolic mode they may be in any tag.
    let lkm = r.tag("AzurePlatformLKM").unwrap();
    assert_eq!(
        lkm.surely,
        set("23.102.135.246, 20.118.99.224, 40.83.235.53")
    );
    assert!(SymbolicTags::synthetic_space().is_subset(&lkm.possibly));
    assert!(r.is_symbolic());
    assert!(r.source().is_symbolic());
    assert!(r.source().describe().contains("symbolic"));
}

#[test]
fn application_security_groups() {
    let id = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/applicationSecurityGroups/web";
    let members = AddrBounds {
        surely: set("10.0.1.4/32"),
        possibly: set("10.0.1.0/24"),
    };
    let r = symbolic().with_asg(id, members.clone());
    assert_eq!(r.asg(id).unwrap(), members);
    assert_eq!(r.asg(&id.to_ascii_uppercase()).unwrap(), members);
    assert_eq!(
        r.asg("/subscriptions/s/other"),
        Err(ResolveError::UnknownAsg {
            id: "/subscriptions/s/other".to_string()
        })
    );
}

// ---------------------------------------------------------------------------
// Literal prefixes and the internet-only class.

#[test]
fn literal_prefixes_in_symbolic_mode() {
    let r = symbolic();
    let storage = sym().resolve("Storage").unwrap();
    // A public prefix may hold part of any tag: possibly, never surely.
    let p = r.prefix(&set("20.0.0.0/8"));
    assert_eq!(p.surely, set("20.0.0.0/8"));
    assert!(p.possibly.contains(ip("20.1.2.3")));
    assert!(storage.is_subset(&p.possibly));
    assert!(!storage.intersects(&p.surely));
    assert!(sym().internet_only_block().is_subset(&p.possibly));
    // Private and platform addresses are exact.
    for private in [
        "10.0.0.0/8",
        "192.168.1.0/24",
        "172.16.0.0/12",
        "168.63.129.16",
        "169.254.169.254",
        "100.64.0.0/10",
        "127.0.0.1",
        "fd00::/8",
        "fe80::1",
    ] {
        assert_eq!(
            r.prefix(&set(private)),
            AddrBounds::exact(set(private)),
            "{private}"
        );
    }
    // All of IPv4 covers every tag surely.
    let all4 = r.prefix(&AddrSet::all_v4());
    assert!(all4.is_exact());
    assert!(storage.is_subset(&all4.surely));
    assert!(r.prefix(&AddrSet::all()).is_exact());
    // The layout is IPv4 only, so the IPv6 /0 (public) widens like any public prefix.
    let all6 = r.prefix(&AddrSet::all_v6());
    assert_eq!(all6.surely, AddrSet::all_v6());
    assert!(storage.is_subset(&all6.possibly));
    // A mix of private and public widens; the synthetic space itself is nothing.
    let mixed = r.prefix(&set("10.0.0.0/8, 52.0.0.0/8"));
    assert_eq!(mixed.surely, set("10.0.0.0/8, 52.0.0.0/8"));
    assert!(storage.is_subset(&mixed.possibly));
    assert!(r.prefix(&set("240.0.0.0/4")).surely.is_empty());
    assert!(
        r.prefix(&set("2603:1000::/40"))
            .possibly
            .intersects(storage)
    );
}

#[test]
fn literal_prefixes_with_a_file_are_exact() {
    let tags = ServiceTags::from_json(
        r#"{"values": [{"name": "Storage", "properties": {"addressPrefixes": ["20.1.0.0/16"]}}]}"#,
    )
    .unwrap();
    let r = Addressing::new(TagSource::File(&tags), vnet());
    assert!(!r.is_symbolic());
    for p in ["20.0.0.0/8", "10.0.0.0/8", "::/0", "0.0.0.0/0"] {
        assert_eq!(r.prefix(&set(p)), AddrBounds::exact(set(p)));
    }
    let io = r.internet_only();
    assert!(io.is_exact());
    assert!(io.surely.contains(ip("8.8.8.8")));
    assert!(io.surely.contains(ip("2001:db8::1")));
    for not in [
        "20.1.2.3",
        "10.0.0.1",
        "10.9.0.1",
        "192.168.0.1",
        "168.63.129.16",
        "169.254.169.254",
        "127.0.0.1",
        "240.0.0.1",
        "224.0.0.1",
        "fe80::1",
        "fd00::1",
    ] {
        assert!(!io.surely.contains(ip(not)), "{not}");
    }
    // The network's own public range is not "internet only".
    let r = Addressing::new(TagSource::File(&tags), set("10.0.0.0/16, 52.1.0.0/16"));
    assert!(!r.internet_only().surely.contains(ip("52.1.0.1")));
}

#[test]
fn internet_only_in_symbolic_mode() {
    let r = symbolic();
    let io = r.internet_only();
    assert_eq!(&io.surely, sym().internet_only_block());
    assert!(io.possibly.contains(ip("8.8.8.8")));
    assert!(io.possibly.contains(ip("2001:db8::1")));
    assert!(!io.possibly.contains(ip("10.0.0.1")));
    assert!(!io.possibly.contains(ip("192.168.0.1")));
    for name in sym().names() {
        assert!(
            !io.possibly.intersects(sym().resolve(name).unwrap()),
            "{name}"
        );
    }
    // `Internet` surely holds it; a literal public prefix only possibly.
    assert!(io.surely.is_subset(&r.tag("Internet").unwrap().surely));
    let lit = r.prefix(&set("8.8.8.0/24"));
    assert!(!lit.surely.intersects(&io.surely));
    assert!(lit.possibly.intersects(&io.possibly));
}

#[test]
fn internet_only_with_the_file() {
    let Some((_, tags)) = file() else {
        return;
    };
    let r = Addressing::new(TagSource::File(tags), vnet());
    let io = r.internet_only();
    assert!(io.is_exact());
    for name in [
        "AzureCloud",
        "Storage",
        "AzureFrontDoor.Frontend",
        "PowerBI",
    ] {
        assert!(!io.surely.intersects(tags.resolve(name).unwrap()), "{name}");
    }
    assert!(io.surely.contains(ip("8.8.8.8")));
    assert_eq!(&tags.all_addresses().union(&io.surely).union(&vnet()).complement().difference(&set("0.0.0.0/8, 10.0.0.0/8, 100.64.0.0/10, 127.0.0.0/8, 169.254.0.0/16, 168.63.129.16/32, 172.16.0.0/12, 192.168.0.0/16, 224.0.0.0/4, 240.0.0.0/4, ::1/128, fc00::/7, fe80::/10, ff00::/8")), &AddrSet::empty());
}

// ---------------------------------------------------------------------------
// Tags as route prefixes.

#[test]
fn tag_prefixes() {
    let r = symbolic();
    let p = r.tag_prefixes("storage.westeurope").unwrap();
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].length, None);
    assert_eq!(
        &p[0].addresses.surely,
        sym().resolve("Storage.WestEurope").unwrap()
    );
    let v = r.tag_prefixes("VirtualNetwork").unwrap();
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].length, Some(16));
    assert_eq!(v[0].addresses, AddrBounds::exact(vnet()));
    let two = Addressing::new(
        TagSource::Symbolic(sym()),
        set("10.0.0.0/16, 10.1.0.0/24, 10.2.0.0/15"),
    );
    let lens: Vec<_> = two
        .tag_prefixes("virtualnetwork")
        .unwrap()
        .iter()
        .map(|p| p.length)
        .collect();
    assert_eq!(lens, [Some(16), Some(24), Some(15)]);
    let lb = r.tag_prefixes("AzureLoadBalancer").unwrap();
    assert_eq!(lb.len(), 1);
    assert_eq!(lb[0].length, Some(32));
    let internet = r.tag_prefixes("Internet").unwrap();
    let union = internet
        .iter()
        .fold(AddrSet::empty(), |acc, p| acc.union(&p.addresses.surely));
    assert_eq!(union, vnet().complement());
    let none = Addressing::new(TagSource::Symbolic(sym()), AddrSet::empty());
    let lens: Vec<_> = none
        .tag_prefixes("Internet")
        .unwrap()
        .iter()
        .map(|p| p.length)
        .collect();
    assert_eq!(lens, [Some(0), Some(0)]);
    assert_eq!(r.tag_prefixes("AzurePlatformLKM").unwrap().len(), 3);

    let Some((_, tags)) = file() else {
        return;
    };
    let f = Addressing::new(TagSource::File(tags), vnet());
    let t = tags.get("Storage.WestEurope").unwrap();
    let p = f.tag_prefixes("storage.westeurope").unwrap();
    assert_eq!(p.len(), t.prefix_count);
    let union = p
        .iter()
        .fold(AddrSet::empty(), |acc, p| acc.union(&p.addresses.surely));
    assert_eq!(&union, tags.resolve("Storage.WestEurope").unwrap());
    for x in &p {
        assert!(x.addresses.is_exact());
        let len = x.length.unwrap();
        assert!(len > 0 && len <= 128);
        assert_eq!(x.addresses.surely.to_cidrs().len(), 1);
        assert!(x.addresses.surely.to_cidrs()[0].ends_with(&format!("/{len}")));
    }
    // The lengths are the file's, not those of merged ranges.
    let total: usize = tags
        .iter()
        .map(|t| tags.prefixes(&t.name).unwrap().len())
        .sum();
    assert_eq!(total, tags.iter().map(|t| t.prefix_count).sum::<usize>());
}

// ---------------------------------------------------------------------------
// Small files: relations, including those the pairs alone do not decide.

fn small_file(tags: &[(&str, &str, &[&str])]) -> ServiceTags {
    let values: Vec<String> = tags
        .iter()
        .map(|(name, region, prefixes)| {
            let p: Vec<String> = prefixes.iter().map(|p| format!("{p:?}")).collect();
            format!(
                r#"{{"name": {name:?}, "properties": {{"region": {region:?}, "addressPrefixes": [{}]}}}}"#,
                p.join(",")
            )
        })
        .collect();
    ServiceTags::from_json(&format!(
        r#"{{"changeNumber": 7, "cloud": "Test", "values": [{}]}}"#,
        values.join(",")
    ))
    .unwrap()
}

#[test]
fn a_tag_covered_by_others_has_no_addresses_of_its_own() {
    // A = B ∪ C; B and C overlap A pairwise, and A has nothing of its own.
    let f = small_file(&[
        ("A", "", &["20.0.0.0/24"]),
        ("B", "", &["20.0.0.0/25"]),
        ("C", "", &["20.0.0.128/25", "20.0.1.0/24"]),
        ("D", "", &["30.0.0.0/24"]),
        ("D.x", "x", &["30.0.0.0/25"]),
        ("D.y", "y", &["30.0.0.128/26"]),
    ]);
    let s = SymbolicTags::from_service_tags(&f).unwrap();
    let g = |n: &str| s.resolve(n).unwrap().clone();
    assert!(g("B").is_subset(&g("A")));
    assert!(g("A").intersects(&g("C")) && !g("C").is_subset(&g("A")));
    assert!(g("A").difference(&g("B")).difference(&g("C")).is_empty());
    assert!(!g("A").intersects(&g("D")));
    assert!(g("D.x").is_subset(&g("D")) && g("D.y").is_subset(&g("D")));
    assert!(!g("D.x").intersects(&g("D.y")));
    // D has addresses outside its variants.
    assert!(
        !g("D")
            .difference(&g("D.x"))
            .difference(&g("D.y"))
            .is_empty()
    );
    assert_eq!(s.regional_variants("d"), ["D.x", "D.y"]);
    assert_eq!(s.change_number(), "7");
    assert_eq!(s.cloud(), "Test");
}

#[test]
fn the_derivation_handles_odd_files() {
    // Regional tags without a global tag, a global tag with a dot, an empty
    // tag, IPv6 up to the last address, and a regional name without a dot.
    let f = small_file(&[
        ("Fam.r1", "r1", &["20.0.0.0/24"]),
        ("AzureFrontDoor.Frontend", "", &["20.0.0.0/23"]),
        ("Empty", "", &[]),
        ("Six", "", &["ffff::/16", "2001:db8::/32"]),
        ("Lonely", "r2", &["21.0.0.0/24"]),
        ("Fam.r2", "r2", &["21.0.0.0/25"]),
    ]);
    let s = SymbolicTags::from_service_tags(&f).unwrap();
    assert_eq!(s.len(), 6);
    assert!(s.resolve("Empty").unwrap().is_empty());
    // IPv6-only: the layout keeps IPv4 relations only.
    assert!(s.resolve("Six").unwrap().is_empty());
    assert!(s.resolve("Fam").is_err());
    assert_eq!(s.regional_variants("Fam"), ["Fam.r1", "Fam.r2"]);
    assert!(
        s.resolve("Fam.r1")
            .unwrap()
            .is_subset(s.resolve("AzureFrontDoor.Frontend").unwrap())
    );
    assert!(
        s.resolve("Fam.r2")
            .unwrap()
            .is_subset(s.resolve("Lonely").unwrap())
    );
    assert_eq!(s.is_global("Lonely"), Some(true));
    assert_eq!(s.is_global("Fam.r1"), Some(false));
    let data = render_data(&f, "small.json").unwrap();
    assert!(data.contains("`small.json` (cloud `Test`, changeNumber 7)"));
    assert!(data.contains("--service-tags"));
}

// ---------------------------------------------------------------------------
// The oracle: first-match rule lists over tags and literal prefixes, decided
// per address with a small file, against the set computation with the
// symbolic bounds (and with the file's exact sets).

/// Four public /24s cut into /26 pieces: 16 pieces, each one representative.
const POOL: [&str; 4] = ["20.0.0.", "20.0.1.", "52.0.0.", "13.0.0."];

fn piece(i: usize) -> String {
    format!("{}{}/26", POOL[i / 4], (i % 4) * 64)
}

fn piece_address(i: usize) -> IpAddr {
    ip(&format!("{}{}", POOL[i / 4], (i % 4) * 64 + 5))
}

/// Literal prefixes rules may name.
const LITERALS: &[&str] = &[
    "20.0.0.0/24",
    "20.0.0.0/23",
    "52.0.0.0/8",
    "13.0.0.128/25",
    "8.8.8.0/24",
    "10.0.0.0/8",
    "0.0.0.0/0",
    "0.0.0.0/1",
    "128.0.0.0/1",
    "192.0.0.0/2",
    "168.63.129.16/32",
];

#[derive(Clone, Debug)]
enum Item {
    Tag(usize),
    Literal(usize),
    Piece(usize),
    Internet,
    VirtualNetwork,
}

#[derive(Clone, Debug)]
struct Config {
    /// Per tag: which pieces it has, and whether it is a regional variant of tag 0.
    tags: Vec<(u16, bool)>,
    rules: Vec<(bool, Item)>,
    default_allow: bool,
}

fn config() -> impl Strategy<Value = Config> {
    let tags = prop::collection::vec((any::<u16>(), any::<bool>()), 1..6);
    tags.prop_flat_map(|tags| {
        let n = tags.len();
        let item = prop_oneof![
            4 => (0..n).prop_map(Item::Tag),
            2 => (0..LITERALS.len()).prop_map(Item::Literal),
            2 => (0usize..16).prop_map(Item::Piece),
            1 => Just(Item::Internet),
            1 => Just(Item::VirtualNetwork),
        ];
        (
            Just(tags),
            prop::collection::vec((any::<bool>(), item), 0..6),
            any::<bool>(),
        )
            .prop_map(|(tags, rules, default_allow)| Config {
                tags,
                rules,
                default_allow,
            })
    })
}

fn tag_name(i: usize, regional: bool) -> String {
    if regional && i > 0 {
        format!("T0.r{i}")
    } else {
        format!("T{i}")
    }
}

fn build_file(c: &Config) -> ServiceTags {
    let entries: Vec<(String, String, Vec<String>)> = c
        .tags
        .iter()
        .enumerate()
        .map(|(i, (mask, regional))| {
            let region = if *regional && i > 0 {
                format!("r{i}")
            } else {
                String::new()
            };
            let prefixes = (0..16)
                .filter(|b| mask & (1 << b) != 0)
                .map(piece)
                .collect();
            (tag_name(i, *regional), region, prefixes)
        })
        .collect();
    let values: Vec<String> = entries
        .iter()
        .map(|(name, region, prefixes)| {
            let p: Vec<String> = prefixes.iter().map(|p| format!("{p:?}")).collect();
            format!(
                r#"{{"name": {name:?}, "properties": {{"region": {region:?}, "addressPrefixes": [{}]}}}}"#,
                p.join(",")
            )
        })
        .collect();
    ServiceTags::from_json(&format!(r#"{{"values": [{}]}}"#, values.join(","))).unwrap()
}

fn resolve_item(r: &Addressing<'_>, c: &Config, item: &Item) -> AddrBounds {
    match item {
        Item::Tag(i) => r.tag(&tag_name(*i, c.tags[*i].1)).unwrap(),
        Item::Literal(i) => r.prefix(&set(LITERALS[*i])),
        Item::Piece(i) => r.prefix(&set(&piece(*i))),
        Item::Internet => r.tag("Internet").unwrap(),
        Item::VirtualNetwork => r.tag("VirtualNetwork").unwrap(),
    }
}

/// The first-match computation with bounds: what an NSG does with them.
fn allowed(r: &Addressing<'_>, c: &Config) -> AddrBounds {
    let mut surely = AddrSet::empty();
    let mut possibly = AddrSet::empty();
    let mut denied_surely = AddrSet::empty();
    let mut denied_possibly = AddrSet::empty();
    let rules = c
        .rules
        .iter()
        .map(|(allow, item)| (*allow, resolve_item(r, c, item)));
    let default = (c.default_allow, AddrBounds::exact(AddrSet::all()));
    for (allow, m) in rules.chain(std::iter::once(default)) {
        if allow {
            surely = surely.union(&m.surely.difference(&denied_possibly));
            possibly = possibly.union(&m.possibly.difference(&denied_surely));
        } else {
            denied_surely = denied_surely.union(&m.surely.difference(&possibly));
            denied_possibly = denied_possibly.union(&m.possibly.difference(&surely));
        }
    }
    AddrBounds { surely, possibly }
}

/// Per address, with the file: does the first matching rule allow it?
fn allows(tags: &ServiceTags, c: &Config, a: IpAddr) -> bool {
    for (allow, item) in &c.rules {
        let hit = match item {
            Item::Tag(i) => tags
                .resolve(&tag_name(*i, c.tags[*i].1))
                .unwrap()
                .contains(a),
            Item::Literal(i) => set(LITERALS[*i]).contains(a),
            Item::Piece(i) => set(&piece(*i)).contains(a),
            Item::Internet => !vnet().contains(a),
            Item::VirtualNetwork => vnet().contains(a),
        };
        if hit {
            return *allow;
        }
    }
    c.default_allow
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

    #[test]
    fn symbolic_bounds_are_sound_against_the_file(c in config()) {
        let tags = build_file(&c);
        let symbolic_tags = SymbolicTags::from_service_tags(&tags).unwrap();
        let sym_r = Addressing::new(TagSource::Symbolic(&symbolic_tags), vnet());
        let file_r = Addressing::new(TagSource::File(&tags), vnet());
        let sym_allowed = allowed(&sym_r, &c);
        let file_allowed = allowed(&file_r, &c);
        prop_assert!(file_allowed.is_exact());
        prop_assert!(sym_allowed.surely.is_subset(&sym_allowed.possibly));

        // Representatives: one address per piece, one public address in no
        // piece, a VNet address, a private one outside it, the platform's.
        let mut reps: Vec<IpAddr> = (0..16).map(piece_address).collect();
        reps.extend(
            ["8.8.8.8", "1.1.1.1", "52.9.9.9", "130.0.0.1", "200.0.0.1", "2600::1", "10.0.0.9", "10.7.0.1", "168.63.129.16"]
                .map(ip),
        );
        let real: Vec<(IpAddr, bool)> = reps.iter().map(|&a| (a, allows(&tags, &c, a))).collect();

        let mut questions: Vec<(String, AddrBounds, AddrBounds)> = Vec::new();
        for t in tags.iter() {
            questions.push((t.name.clone(), sym_r.tag(&t.name).unwrap(), file_r.tag(&t.name).unwrap()));
        }
        questions.push(("internet only".into(), sym_r.internet_only(), file_r.internet_only()));
        for (name, sq, fq) in &questions {
            let in_q: Vec<bool> = real.iter().map(|(a, _)| fq.surely.contains(*a)).collect();
            let some = real.iter().zip(&in_q).any(|((_, ok), q)| *ok && *q);
            let all = real.iter().zip(&in_q).all(|((_, ok), q)| *ok || !*q);
            // The file's sets give exactly the per-address answer.
            prop_assert_eq!(file_allowed.surely.intersects(&fq.surely), some, "file, {}", name);
            // Symbolic: surely reachable ⇒ reachable; reachable ⇒ possibly.
            if sym_allowed.surely.intersects(&sq.surely) {
                prop_assert!(some, "symbolic claims {} surely reachable: {:?}", name, c);
            }
            if some {
                prop_assert!(sym_allowed.possibly.intersects(&sq.possibly), "symbolic misses {}: {:?}", name, c);
            }
            // All of a tag surely allowed ⇒ every address of it is.
            if !sq.possibly.is_empty() && sq.possibly.is_subset(&sym_allowed.surely) {
                prop_assert!(all, "symbolic claims all of {} allowed: {:?}", name, c);
            }
        }
    }
}
