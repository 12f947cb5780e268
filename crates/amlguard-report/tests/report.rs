//! The three formats on a hand-built model.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

use std::path::PathBuf;
use std::sync::Arc;

use amlguard_model::{Model, Prov, Resource, ResourceKind, Tree, TreeKind, UnknownValue};
use amlguard_report::{Note, ScanInput, Suppressed, fingerprint, json, sarif, sort_findings, text};
use amlguard_rules::{Confidence, Finding, RuleMeta, Severity};
use amlguard_source::{Document, Route, Seg};
use serde_json::Value;

const TEMPLATE: &str = r#"{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  "contentVersion": "1.0.0.0",
  "parameters": {
    "adminPassword": {"type": "secureString", "defaultValue": "Hunter2-do-not-print"}
  },
  "resources": [
    {
      "type": "Microsoft.MachineLearningServices/workspaces",
      "apiVersion": "2024-04-01",
      "name": "ws",
      "properties": {
	"publicNetworkAccess": "Enabled",
        "adminPassword": "[parameters('adminPassword')]"
      }
    },
    {
      "type": "Microsoft.MachineLearningServices/workspaces",
      "apiVersion": "2024-04-01",
      "name": "ws-two",
      "properties": {}
    }
  ]
}
"#;

const FILE: &str = "infra/main.json";

/// `resources[i]` followed by keys.
fn route(index: usize, keys: &[&str]) -> Route {
    let mut r = Route::root().push_key("resources").push_index(index);
    for k in keys {
        r = r.push_key(k);
    }
    r
}

fn prov(route: Route) -> Prov {
    Prov {
        document: FILE.into(),
        route,
    }
}

fn workspace(index: usize, name: &str) -> Resource {
    let at = route(index, &[]);
    let props = Tree::new(
        TreeKind::Object(vec![(
            "adminPassword".to_string(),
            Tree::new(
                TreeKind::Unknown(UnknownValue {
                    reason: "a secure parameter".into(),
                    input: Some("parameter 'adminPassword'".into()),
                    secret: true,
                }),
                Some(prov(route(index, &["properties", "adminPassword"]))),
            ),
        )]),
        Some(prov(route(index, &["properties"]))),
    );
    Resource {
        kind: ResourceKind::Workspace,
        arm_type: "Microsoft.MachineLearningServices/workspaces".into(),
        name: Some(name.into()),
        id: Some(format!(
            "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/{name}"
        )),
        api_version: Some("2024-04-01".into()),
        condition: None,
        existing: false,
        body: Tree::new(
            TreeKind::Object(vec![("properties".into(), props)]),
            Some(prov(at.clone())),
        ),
        prov: prov(at),
        scope: None,
    }
}

fn meta() -> &'static RuleMeta {
    amlguard_rules::find("101")
        .expect("rule 101 is in the catalogue")
        .meta()
}

/// The workspace `ws` with `publicNetworkAccess: Enabled` (known, line 13),
/// `ws-two` with no `publicNetworkAccess` (absent, at its `properties`).
/// `ws` passes a secure parameter on as `adminPassword`.
fn input() -> ScanInput {
    let doc = Arc::new(Document::parse(FILE, TEMPLATE.to_string()).unwrap());
    let ws = workspace(0, "ws");
    let two = workspace(1, "ws-two");
    let mut known = Finding::new(
        meta(),
        &ws,
        "workspace 'ws' has public network access enabled",
    )
    .with_fix("set properties.publicNetworkAccess to 'Disabled'")
    .related(prov(route(0, &["name"])), "the workspace is declared here");
    known.at = prov(route(0, &["properties", "publicNetworkAccess"]));
    let mut absent = Finding::new(
        meta(),
        &two,
        "workspace 'ws-two' has public network access enabled",
    )
    .with_fix("set properties.publicNetworkAccess to 'Disabled'");
    absent.at = prov(route(1, &["properties"]));
    absent.absent = true;
    absent.confidence = Confidence::Low;
    absent.deciding_input = Some("parameter 'pna'".into());
    let model = Model::new(vec![ws, two], vec![doc]);
    ScanInput {
        template: FILE.into(),
        parameters: None,
        model,
        // Deliberately out of order.
        findings: vec![absent, known],
        notes: vec![Note {
            level: "warning".into(),
            message: "linked template 'nested.json' was not scanned".into(),
            location: Some(format!("{FILE}:9:7")),
        }],
    }
}

fn suppressed(input: &ScanInput) -> Vec<Suppressed> {
    let mut f = input.findings[0].clone();
    f.message = "an ignored finding".into();
    f.severity = Severity::Medium;
    vec![Suppressed {
        finding: f,
        template: FILE.into(),
        reason: "accepted until the network team moves it".into(),
    }]
}

/// The 1-based line of the template that contains `needle` first.
fn line_of(needle: &str) -> usize {
    TEMPLATE.lines().position(|l| l.contains(needle)).unwrap() + 1
}

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn load_json(path: &PathBuf) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn assert_valid(schema: &Value, instance: &Value) {
    let validator = jsonschema::options()
        .offline()
        .should_validate_formats(true)
        .build(schema)
        .expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "invalid output:\n{}", errors.join("\n"));
}

/// The official SARIF schema's pattern for `language` properties has a stray
/// `]`, which a strict validator refuses as a regular expression. amlguard
/// never writes `language`, so the test uses the evident intent.
fn repair_language_patterns(v: &mut Value) {
    const BROKEN: &str = "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$";
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if k == "pattern" && child == BROKEN {
                    *child = Value::from("^[a-zA-Z]{2}$|^[a-zA-Z]{2}-[a-zA-Z]{2}$");
                } else {
                    repair_language_patterns(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(repair_language_patterns),
        _ => {}
    }
}

#[test]
fn sort_orders_by_position() {
    let mut i = input();
    sort_findings(&mut i);
    assert!(!i.findings[0].absent, "line 13 comes before line 21");
    assert!(i.findings[1].absent);
}

#[test]
fn text_shows_the_line_and_underlines_the_value() {
    let out = text(&[input()], false);
    let n = line_of("publicNetworkAccess");
    assert_eq!(n, 13);
    let line = TEMPLATE.lines().nth(n - 1).unwrap();
    // The tab is shown as four spaces.
    let shown = line.replace('\t', "    ");
    assert!(
        out.contains(&format!("{n} | {shown}\n")),
        "no code frame line in:\n{out}"
    );
    let col = shown.find("\"Enabled\"").unwrap();
    let carets = format!(
        "   | {}{}\n",
        " ".repeat(col),
        "^".repeat("\"Enabled\"".len())
    );
    assert!(out.contains(&carets), "caret row missing in:\n{out}");
    assert!(
        out.contains("high[AMLG101]: The workspace accepts connections from the public internet\n")
    );
    // The column counts the tab as one code point.
    assert!(out.contains("  --> infra/main.json:13:25\n"), "{out}");
    assert!(out.contains("   = workspace 'ws' has public network access enabled\n"));
    assert!(out.contains("   = fix: set properties.publicNetworkAccess to 'Disabled'\n"));
    assert!(out.contains("  --> infra/main.json:11:15: the workspace is declared here\n"));
    assert!(
        out.ends_with("2 findings (2 high) in 1 template\n"),
        "{out}"
    );
    assert!(out.contains(
        "warning: linked template 'nested.json' was not scanned\n --> infra/main.json:9:7\n"
    ));
    assert!(!out.contains('\u{1b}'));
}

#[test]
fn text_says_when_the_property_is_absent() {
    let out = text(&[input()], false);
    let n = line_of(r#""properties": {}"#);
    assert_eq!(n, 21);
    let line = TEMPLATE.lines().nth(n - 1).unwrap();
    let col = line.find('{').unwrap();
    let expected = format!(
        "{n} | {line}\n   | {}^ (the property is absent here; Azure's default applies)\n",
        " ".repeat(col)
    );
    assert!(out.contains(&expected), "absent frame missing in:\n{out}");
    assert!(out.contains("   = confidence: low; decided by parameter 'pna'\n"));
}

#[test]
fn text_never_shows_a_secret() {
    let mut i = input();
    let mut f = i.findings[1].clone();
    f.at = Prov {
        document: FILE.into(),
        route: Route(vec![
            Seg::Key("parameters".into()),
            Seg::Key("adminPassword".into()),
            Seg::Key("defaultValue".into()),
        ]),
    };
    f.absent = false;
    i.findings = vec![f];
    let out = text(&[i], false);
    assert!(!out.contains("Hunter2"), "{out}");
    assert!(out.contains("5 | (not shown: this line holds a secret value)"));
}

#[test]
fn text_shows_the_expression_that_passes_a_secret_but_not_a_literal_one() {
    let mut i = input();
    i.findings.truncate(1);
    i.findings[0].at = prov(route(0, &["properties", "adminPassword"]));
    i.findings[0].absent = false;
    let out = text(std::slice::from_ref(&i), false);
    assert!(
        out.contains(r#"14 |         "adminPassword": "[parameters('adminPassword')]""#),
        "{out}"
    );

    // Were the secret written as a literal, its line would be hidden.
    let secret = prov(route(0, &["name"]));
    if let TreeKind::Object(members) = &mut i.model.resources[0].body.kind
        && let TreeKind::Object(props) = &mut members[0].1.kind
    {
        props[0].1.prov = Some(secret.clone());
    }
    i.findings[0].at = secret;
    let out = text(&[i], false);
    assert!(!out.contains(r#""ws""#), "{out}");
    assert!(out.contains("11 | (not shown: this line holds a secret value)"));
}

#[test]
fn text_colours_only_when_asked_and_cleans_control_characters() {
    let mut i = input();
    i.findings[0].message = "evil \u{1b}[31mname\u{202e} here".into();
    let plain = text(std::slice::from_ref(&i), false);
    assert!(!plain.contains('\u{1b}'));
    assert!(!plain.contains('\u{202e}'));
    let coloured = text(&[i], true);
    assert!(coloured.contains("\u{1b}[1;31mhigh[AMLG101]\u{1b}[0m"));
}

#[test]
fn text_without_findings() {
    let mut i = input();
    i.findings.clear();
    i.notes.clear();
    assert_eq!(text(&[i], false), "no findings in 1 template\n");
}

#[test]
fn json_matches_its_schema() {
    let i = input();
    let s = suppressed(&i);
    let out = json(std::slice::from_ref(&i), &s);
    assert!(out.ends_with("}\n"));
    let value: Value = serde_json::from_str(&out).unwrap();
    let schema = load_json(&crate_dir().join("../../docs/json-output.schema.json"));
    assert_valid(&schema, &value);
    // The schema is strict: an unknown member is refused.
    let mut extra = value.clone();
    extra["templates"][0]["findings"][0]["location"]["offset"] = Value::from(3);
    assert!(!jsonschema::is_valid(&schema, &extra));

    assert_eq!(value["version"], 1);
    assert_eq!(value["summary"]["findings"], 2);
    assert_eq!(value["summary"]["high"], 2);
    assert_eq!(value["summary"]["suppressed"], 1);
    let first = &value["templates"][0]["findings"][0];
    assert_eq!(first["rule"], "AMLG101");
    assert_eq!(first["name"], "workspace-public-network-access");
    assert_eq!(first["location"]["line"], 13);
    assert_eq!(first["location"]["column"], 25);
    assert_eq!(first["location"]["endColumn"], 34);
    assert_eq!(first["location"]["absent"], false);
    assert_eq!(first["resource"]["name"], "ws");
    assert_eq!(first["related"][0]["line"], 11);
    let second = &value["templates"][0]["findings"][1];
    assert_eq!(second["location"]["absent"], true);
    assert_eq!(second["decidingInput"], "parameter 'pna'");
    assert_eq!(second["confidence"], "low");
    assert_eq!(
        value["suppressed"][0]["reason"],
        "accepted until the network team moves it"
    );
    assert_eq!(value["suppressed"][0]["finding"]["severity"], "medium");
    // The suppressed finding is the same rule at the same place as `second`:
    // the first by message keeps the plain fingerprint, the other differs.
    let base = fingerprint(&i.findings[0]);
    assert_eq!(fingerprint(&s[0].finding), base);
    let other = &value["suppressed"][0]["finding"]["fingerprint"];
    assert_eq!(other, &Value::from(base));
    assert_ne!(other, &second["fingerprint"]);
}

#[test]
fn json_with_an_unresolvable_location_still_matches_the_schema() {
    let mut i = input();
    i.findings[0].at.document = "elsewhere.json".into();
    i.notes[0].location = None;
    let value: Value = serde_json::from_str(&json(&[i], &[])).unwrap();
    let schema = load_json(&crate_dir().join("../../docs/json-output.schema.json"));
    assert_valid(&schema, &value);
}

#[test]
fn sarif_matches_the_official_schema() {
    let i = input();
    let s = suppressed(&i);
    let out = sarif(std::slice::from_ref(&i), &s, &amlguard_rules::all());
    let value: Value = serde_json::from_str(&out).unwrap();
    let path = crate_dir().join("../../../shared/schemas/sarif-schema-2.1.0.json");
    if path.exists() {
        let mut schema = load_json(&path);
        repair_language_patterns(&mut schema);
        assert_valid(&schema, &value);
        let mut wrong = value.clone();
        wrong["runs"][0]["columnKind"] = Value::from("bytes");
        assert!(!jsonschema::is_valid(&schema, &wrong));
    } else {
        eprintln!(
            "note: {} is absent; SARIF schema validation skipped",
            path.display()
        );
    }

    let run = &value["runs"][0];
    assert_eq!(value["version"], "2.1.0");
    assert_eq!(run["columnKind"], "unicodeCodePoints");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), amlguard_rules::all().len());
    let rule = &rules[0];
    assert_eq!(rule["id"], "AMLG101");
    assert_eq!(rule["name"], "workspace-public-network-access");
    assert_eq!(rule["defaultConfiguration"]["level"], "error");
    assert_eq!(rule["properties"]["security-severity"], "8.0");
    assert!(
        rule["help"]["markdown"]
            .as_str()
            .unwrap()
            .starts_with("## What it checks")
    );
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    let first = &results[0];
    assert_eq!(first["ruleId"], "AMLG101");
    assert_eq!(first["ruleIndex"], 0);
    assert_eq!(first["level"], "error");
    let region = &first["locations"][0]["physicalLocation"]["region"];
    assert_eq!(region["startLine"], 13);
    assert_eq!(region["startColumn"], 25);
    assert_eq!(
        first["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "infra/main.json"
    );
    assert_eq!(
        first["partialFingerprints"]["amlguardFingerprint/v1"],
        fingerprint(&i.findings[1])
    );
    assert_eq!(first["suppressions"].as_array().unwrap().len(), 0);
    assert_eq!(first["relatedLocations"][0]["id"], 1);
    let last = &results[2];
    assert_eq!(last["suppressions"][0]["kind"], "external");
    assert_eq!(
        last["suppressions"][0]["justification"],
        "accepted until the network team moves it"
    );
    assert_eq!(last["level"], "warning");
    let notes = &run["invocations"][0]["toolExecutionNotifications"];
    assert_eq!(notes[0]["level"], "warning");
    assert_eq!(
        notes[0]["locations"][0]["physicalLocation"]["region"]["startLine"],
        9
    );
}

#[test]
fn outputs_are_deterministic() {
    let a = [input()];
    let mut b = [input()];
    b[0].findings.reverse();
    let sa = suppressed(&a[0]);
    let rules = amlguard_rules::all();
    assert_eq!(text(&a, true), text(&b, true));
    assert_eq!(json(&a, &sa), json(&b, &sa));
    assert_eq!(sarif(&a, &sa, &rules), sarif(&b, &sa, &rules));
    assert_eq!(sarif(&a, &sa, &rules), sarif(&a, &sa, &rules));
}

#[test]
fn fingerprints_are_stable_and_follow_the_route() {
    let i = input();
    let known = &i.findings[1];
    assert_eq!(fingerprint(known), fingerprint(&known.clone()));
    assert_eq!(fingerprint(known).len(), 16);
    // Pinned: a change here breaks code-scanning history for every user.
    assert_eq!(fingerprint(known), "2c5276c53ee34b95");

    let mut moved = known.clone();
    moved.at.route = route(0, &["properties"]);
    assert_ne!(fingerprint(known), fingerprint(&moved));

    // Messages, severities and the file do not matter; the resource's case does not either.
    let mut reworded = known.clone();
    reworded.message = "something else".into();
    reworded.severity = Severity::Low;
    reworded.at.document = "elsewhere/main.json".into();
    reworded.resource_id = reworded.resource_id.map(|s| s.to_uppercase());
    assert_eq!(fingerprint(known), fingerprint(&reworded));

    let mut other = known.clone();
    other.resource_id = Some("/subscriptions/0000/other".into());
    assert_ne!(fingerprint(known), fingerprint(&other));
}

/// Real scans: the bundled examples and every quickstart ML template, rendered as
/// JSON and SARIF and validated against the schemas.
#[test]
fn real_scans_match_both_schemas() {
    use amlguard_arm::discover::sibling_parameter_files;
    use amlguard_arm::template::{self, Options};

    let root = crate_dir().join("../..");
    let mut files = vec![
        root.join("examples/insecure/azuredeploy.json"),
        root.join("examples/hardened/azuredeploy.json"),
    ];
    let qs = root.join("../shared/corpus/Azure__azure-quickstart-templates/quickstarts/microsoft.machinelearningservices");
    if let Ok(rd) = std::fs::read_dir(&qs) {
        let mut dirs: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        dirs.sort();
        files.extend(
            dirs.into_iter()
                .map(|d| d.join("azuredeploy.json"))
                .filter(|p| p.is_file()),
        );
    }
    let mut inputs = Vec::new();
    for f in &files {
        let doc = Arc::new(Document::load(f).unwrap());
        let parameters = sibling_parameter_files(f)
            .first()
            .map(|p| Arc::new(Document::load(p).unwrap()));
        let x = template::expand(
            doc.clone(),
            &Options {
                parameters,
                ..Options::default()
            },
        );
        let model = amlguard_ingest::from_expansion(&x);
        let findings = amlguard_rules::run(&model, &amlguard_rules::all());
        inputs.push(ScanInput {
            template: doc.path.clone(),
            parameters: None,
            model,
            findings,
            notes: Vec::new(),
        });
    }
    assert!(inputs.iter().map(|i| i.findings.len()).sum::<usize>() > 50);
    let json_schema = load_json(&crate_dir().join("../../docs/json-output.schema.json"));
    let out: Value = serde_json::from_str(&json(&inputs, &[])).unwrap();
    assert_valid(&json_schema, &out);
    let sarif_path = crate_dir().join("../../../shared/schemas/sarif-schema-2.1.0.json");
    if sarif_path.is_file() {
        let mut schema = load_json(&sarif_path);
        repair_language_patterns(&mut schema);
        let out: Value =
            serde_json::from_str(&sarif(&inputs, &[], &amlguard_rules::all())).unwrap();
        assert_valid(&schema, &out);
    }
}
