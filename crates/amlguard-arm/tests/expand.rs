//! Template expansion on hand-written templates, one behaviour each.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

use std::sync::Arc;

use amlguard_arm::template::{self, Expansion, Level, Options};
use amlguard_arm::{Kind, Value};
use amlguard_source::Document;

const SCHEMA: &str =
    "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#";

fn doc(name: &str, text: &str) -> Arc<Document> {
    Arc::new(Document::parse(name, text.replace("$SCHEMA", SCHEMA)).unwrap())
}

fn expand(text: &str) -> Expansion {
    template::expand(doc("t.json", text), &Options::default())
}

fn expand_with(text: &str, opts: Options) -> Expansion {
    template::expand(doc("t.json", text), &opts)
}

fn prop<'a>(v: &'a Value, path: &str) -> &'a Value {
    let mut cur = v;
    for k in path.split('.') {
        cur = cur
            .as_object()
            .and_then(|o| o.get(k))
            .unwrap_or_else(|| panic!("no property {k} in {cur}"));
    }
    cur
}

fn names(x: &Expansion) -> Vec<String> {
    x.resources
        .iter()
        .map(|r| r.name.to_string().trim_matches('"').to_string())
        .collect()
}

fn errors(x: &Expansion) -> Vec<String> {
    x.diagnostics
        .iter()
        .filter(|d| d.level == Level::Error)
        .map(|d| d.message.clone())
        .collect()
}

#[test]
fn evaluates_names_ids_and_defaults() {
    let x = expand(
        r#"{"$schema": "$SCHEMA", "contentVersion": "1.0.0.0",
        "parameters": {"prefix": {"type": "string", "defaultValue": "sa"}},
        "variables": {"name": "[format('{0}{1}', parameters('prefix'), uniqueString(resourceGroup().id))]"},
        "resources": [{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01",
            "name": "[variables('name')]", "location": "[resourceGroup().location]",
            "properties": {"allowBlobPublicAccess": false}}]}"#,
    );
    assert!(errors(&x).is_empty(), "{:?}", errors(&x));
    let r = &x.resources[0];
    let name = r.name.as_str().unwrap();
    assert!(name.starts_with("sa") && name.len() == 15, "{name}");
    assert!(!name.contains('['));
    assert_eq!(
        r.id.as_str().unwrap(),
        format!(
            "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/amlguard-rg/providers/Microsoft.Storage/storageAccounts/{name}"
        )
    );
    assert_eq!(r.location.as_ref().unwrap().as_str(), Some("eastus"));
    assert_eq!(r.api_version.as_deref(), Some("2023-01-01"));
    assert_eq!(
        prop(&r.body, "properties.allowBlobPublicAccess").as_bool(),
        Some(false)
    );
}

#[test]
fn copy_loops_conditions_and_property_copy() {
    let x = expand(
        r#"{"$schema": "$SCHEMA", "contentVersion": "1.0.0.0",
        "parameters": {"n": {"type": "int", "defaultValue": 3}},
        "resources": [{"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2023-04-01",
            "name": "[concat('vnet', copyIndex(1))]",
            "condition": "[not(equals(copyIndex(), 1))]",
            "copy": {"name": "vnets", "count": "[parameters('n')]", "mode": "serial", "batchSize": 1},
            "properties": {"copy": [{"name": "subnets", "count": 2,
                "input": {"name": "[concat('s', copyIndex('subnets'))]", "properties": {"addressPrefix": "[format('10.{0}.{1}.0/24', copyIndex('vnets'), copyIndex('subnets'))]"}}}]}}]}"#,
    );
    assert!(errors(&x).is_empty(), "{:?}", errors(&x));
    assert_eq!(names(&x), vec!["vnet1", "vnet2", "vnet3"]);
    assert_eq!(x.resources[1].condition.as_bool(), Some(false));
    assert_eq!(x.resources[0].condition.as_bool(), Some(true));
    let c = x.resources[2].copy.as_ref().unwrap();
    assert_eq!(
        (c.index, c.count, c.mode.as_str(), c.batch_size),
        (2, Some(3), "serial", Some(1))
    );
    let subnets = prop(&x.resources[2].body, "properties.subnets")
        .as_array()
        .unwrap();
    assert_eq!(subnets.len(), 2);
    assert_eq!(
        prop(&subnets[1], "properties.addressPrefix").as_str(),
        Some("10.2.1.0/24")
    );
}

#[test]
fn copy_count_over_800_is_an_error() {
    let x = expand(
        r#"{"$schema": "$SCHEMA", "contentVersion": "1.0.0.0", "resources": [
            {"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "[concat('a', copyIndex())]",
             "copy": {"name": "c", "count": 1000000}}]}"#,
    );
    assert!(x.resources.is_empty());
    assert!(
        errors(&x).iter().any(|e| e.contains("at most 800")),
        "{:?}",
        errors(&x)
    );
}

#[test]
fn unknown_parameters_propagate_and_name_the_input() {
    let x = expand(
        r#"{"$schema": "$SCHEMA", "contentVersion": "1.0.0.0",
        "parameters": {"ip": {"type": "bool"}},
        "resources": [{"type": "Microsoft.MachineLearningServices/workspaces/computes", "apiVersion": "2024-04-01",
            "name": "ws/cpu", "properties": {"properties": {
                "enableNodePublicIp": "[parameters('ip')]",
                "same": "[if(parameters('ip'), 'a', 'a')]",
                "either": "[if(parameters('ip'), 'a', 'b')]"}}}]}"#,
    );
    let p = prop(&x.resources[0].body, "properties.properties");
    let u = prop(p, "enableNodePublicIp").as_unknown().unwrap();
    assert_eq!(u.input.as_deref(), Some("parameter 'ip'"));
    assert_eq!(prop(p, "same").as_str(), Some("a"));
    assert!(prop(p, "either").is_unknown());
    assert!(
        x.diagnostics
            .iter()
            .any(|d| d.level == Level::Note && d.message.contains("'ip' has no value"))
    );
}

#[test]
fn parameter_files_match_names_case_insensitively_and_keep_provenance() {
    let params = doc(
        "t.parameters.json",
        r#"{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",
            "contentVersion": "1.0.0.0", "parameters": {"STORAGENAME": {"value": "mystore"},
            "pwd": {"reference": {"keyVault": {"id": "/subscriptions/x/resourceGroups/r/providers/Microsoft.KeyVault/vaults/kv"}, "secretName": "adminPassword"}}}}"#,
    );
    let x = expand_with(
        r#"{"$schema": "$SCHEMA", "contentVersion": "1.0.0.0",
        "parameters": {"storageName": {"type": "string"}, "pwd": {"type": "securestring"}},
        "resources": [{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01",
            "name": "[parameters('storageName')]", "properties": {"secret": "[parameters('pwd')]"}}]}"#,
        Options {
            parameters: Some(params),
            ..Options::default()
        },
    );
    let r = &x.resources[0];
    assert_eq!(r.name.as_str(), Some("mystore"));
    let prov = r.name.prov.as_ref().unwrap();
    assert_eq!(prov.document(), "t.parameters.json");
    assert_eq!(prov.route().to_string(), "parameters.STORAGENAME.value");
    let s = prop(&r.body, "properties.secret").as_unknown().unwrap();
    assert!(s.secret);
    assert!(s.reason.contains("adminPassword"));
}

#[test]
fn secure_parameter_values_are_never_in_the_result() {
    let x = expand(
        r#"{"$schema": "$SCHEMA", "contentVersion": "1.0.0.0",
        "parameters": {"pwd": {"type": "securestring", "defaultValue": "Sup3rSecret!"}},
        "resources": [{"type": "Microsoft.Compute/virtualMachines", "apiVersion": "2023-01-01",
            "name": "vm", "properties": {"p": "[parameters('pwd')]", "c": "[concat('x', parameters('pwd'))]"}}],
        "outputs": {"o": {"type": "string", "value": "[parameters('pwd')]"}}}"#,
    );
    let dump = format!("{:?}", x.resources) + &format!("{:?}", x.outputs);
    assert!(!dump.contains("Sup3rSecret"), "secret leaked: {dump}");
    assert!(x.resources[0].body.contains_secret());
}

#[test]
fn nested_inline_deployments_inner_and_outer_scope() {
    let x = expand(
        r#"{"$schema": "$SCHEMA", "contentVersion": "1.0.0.0",
        "parameters": {"p": {"type": "string", "defaultValue": "outer"}},
        "variables": {"v": "outer-var"},
        "resources": [
          {"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "innerDep",
           "properties": {"mode": "Incremental", "expressionEvaluationOptions": {"scope": "inner"},
             "parameters": {"p": {"value": "[concat(parameters('p'), '-passed')]"}},
             "template": {"$schema": "$SCHEMA", "contentVersion": "1.0.0.0",
               "parameters": {"p": {"type": "string"}}, "variables": {"v": "inner-var"},
               "resources": [{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01",
                  "name": "[concat(parameters('p'), '-', variables('v'))]"}],
               "outputs": {"o": {"type": "string", "value": "[variables('v')]"}}}}},
          {"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "outerDep",
           "properties": {"mode": "Incremental",
             "template": {"$schema": "$SCHEMA", "contentVersion": "1.0.0.0",
               "resources": [{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01",
                  "name": "[concat(parameters('p'), '-', variables('v'))]"}]}}},
          {"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01",
           "name": "[reference('innerDep').outputs.o.value]"}]}"#,
    );
    assert!(errors(&x).is_empty(), "{:?}", errors(&x));
    let n = names(&x);
    assert!(n.contains(&"outer-passed-inner-var".to_string()), "{n:?}");
    assert!(n.contains(&"outer-outer-var".to_string()), "{n:?}");
    assert!(n.contains(&"inner-var".to_string()), "{n:?}");
    let nested = x
        .resources
        .iter()
        .find(|r| r.name.as_str() == Some("outer-passed-inner-var"))
        .unwrap();
    assert_eq!(nested.deployment, vec!["innerDep".to_string()]);
}

#[test]
fn reference_reads_declared_properties_and_unknowns_for_runtime_ones() {
    let x = expand(
        r#"{"$schema": "$SCHEMA", "contentVersion": "1.0.0.0",
        "resources": [
          {"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "sa",
           "properties": {"minimumTlsVersion": "TLS1_2"}},
          {"type": "Microsoft.Web/sites", "apiVersion": "2023-01-01", "name": "app",
           "properties": {"tls": "[reference('sa').minimumTlsVersion]",
                          "blob": "[reference(resourceId('Microsoft.Storage/storageAccounts', 'sa')).primaryEndpoints.blob]",
                          "other": "[reference('/subscriptions/1/resourceGroups/r/providers/Microsoft.Storage/storageAccounts/elsewhere').x]",
                          "key": "[listKeys('sa', '2023-01-01').keys[0].value]"}}]}"#,
    );
    assert!(errors(&x).is_empty(), "{:?}", errors(&x));
    let p = prop(&x.resources[1].body, "properties");
    assert_eq!(prop(p, "tls").as_str(), Some("TLS1_2"));
    assert!(
        prop(p, "blob")
            .as_unknown()
            .unwrap()
            .reason
            .contains("after deployment")
    );
    assert!(
        prop(p, "other")
            .as_unknown()
            .unwrap()
            .reason
            .contains("not declared in the input")
    );
    assert!(prop(p, "key").as_unknown().unwrap().secret);
}

#[test]
fn language_version_2_symbolic_resources_and_existing() {
    let x = expand(
        r#"{"$schema": "$SCHEMA", "languageVersion": "2.0", "contentVersion": "1.0.0.0",
        "resources": {
          "vnet": {"existing": true, "type": "Microsoft.Network/virtualNetworks", "apiVersion": "2023-04-01", "name": "shared"},
          "ws": {"type": "Microsoft.MachineLearningServices/workspaces", "apiVersion": "2024-04-01", "name": "ws",
                 "properties": {"friendlyName": "[reference('st').minimumTlsVersion]"},
                 "dependsOn": ["st"]},
          "st": {"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "st",
                 "properties": {"minimumTlsVersion": "TLS1_2"}}}}"#,
    );
    assert!(errors(&x).is_empty(), "{:?}", errors(&x));
    let vnet = &x.resources[0];
    assert!(vnet.existing);
    assert_eq!(vnet.symbolic_name.as_deref(), Some("vnet"));
    let ws = &x.resources[1];
    assert_eq!(
        prop(&ws.body, "properties.friendlyName").as_str(),
        Some("TLS1_2")
    );
    assert_eq!(ws.depends_on[0].as_str(), Some("st"));
}

#[test]
fn user_defined_functions_and_lambdas() {
    let x = expand(
        r#"{"$schema": "$SCHEMA", "contentVersion": "1.0.0.0",
        "functions": [{"namespace": "my", "members": {"name": {"parameters": [{"name": "p", "type": "string"}],
            "output": {"type": "string", "value": "[toUpper(parameters('p'))]"}}}}],
        "resources": [{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01",
            "name": "[my.name('abc')]",
            "properties": {"doubled": "[map(createArray(1, 2, 3), lambda('x', mul(lambdaVariables('x'), 2)))]"}}]}"#,
    );
    assert!(errors(&x).is_empty(), "{:?}", errors(&x));
    assert_eq!(x.resources[0].name.as_str(), Some("ABC"));
    assert_eq!(
        prop(&x.resources[0].body, "properties.doubled").to_string(),
        "[2,4,6]"
    );
}

#[test]
fn child_resources_get_full_types_and_names() {
    let x = expand(
        r#"{"$schema": "$SCHEMA", "contentVersion": "1.0.0.0", "resources": [
          {"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "sa",
           "resources": [{"type": "blobServices", "apiVersion": "2023-01-01", "name": "default"}]}]}"#,
    );
    let child = &x.resources[1];
    assert_eq!(
        child.full_type,
        "Microsoft.Storage/storageAccounts/blobServices"
    );
    assert_eq!(child.name.as_str(), Some("sa/default"));
    assert!(
        child
            .id
            .as_str()
            .unwrap()
            .ends_with("/storageAccounts/sa/blobServices/default")
    );
}

#[test]
fn extension_resources_with_scope() {
    let x = expand(
        r#"{"$schema": "$SCHEMA", "contentVersion": "1.0.0.0", "resources": [
          {"type": "Microsoft.Insights/diagnosticSettings", "apiVersion": "2021-05-01-preview", "name": "diag",
           "scope": "[resourceId('Microsoft.MachineLearningServices/workspaces', 'ws')]", "properties": {}}]}"#,
    );
    let id = x.resources[0].id.as_str().unwrap();
    assert!(
        id.ends_with("/workspaces/ws/providers/Microsoft.Insights/diagnosticSettings/diag"),
        "{id}"
    );
}

#[test]
fn self_referencing_variables_are_an_error_not_a_hang() {
    let x = expand(
        r#"{"$schema": "$SCHEMA", "contentVersion": "1.0.0.0",
        "variables": {"a": "[variables('b')]", "b": "[variables('a')]"},
        "resources": [{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "[variables('a')]"}]}"#,
    );
    assert!(
        errors(&x).iter().any(|e| e.contains("refers to itself")),
        "{:?}",
        errors(&x)
    );
}

#[test]
fn unknown_functions_are_errors_with_a_hint() {
    let x = expand(
        r#"{"$schema": "$SCHEMA", "contentVersion": "1.0.0.0",
        "resources": [{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "[concatt('a', 'b')]"}]}"#,
    );
    assert!(
        errors(&x)
            .iter()
            .any(|e| e.contains("unknown function 'concatt'") && e.contains("concat")),
        "{:?}",
        errors(&x)
    );
    let d = x
        .diagnostics
        .iter()
        .find(|d| d.level == Level::Error)
        .unwrap();
    assert_eq!(
        d.prov.as_ref().unwrap().route().to_string(),
        "resources[0].name"
    );
}

#[test]
fn overrides_are_typed() {
    let x = expand_with(
        r#"{"$schema": "$SCHEMA", "contentVersion": "1.0.0.0",
        "parameters": {"n": {"type": "int"}, "flag": {"type": "bool"}, "tags": {"type": "object"}},
        "resources": [{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "sa",
           "properties": {"n": "[add(parameters('n'), 1)]", "f": "[not(parameters('flag'))]", "t": "[parameters('tags').env]"}}]}"#,
        Options {
            overrides: vec![
                ("N".into(), "41".into()),
                ("flag".into(), "true".into()),
                ("tags".into(), r#"{"env": "prod"}"#.into()),
            ],
            ..Options::default()
        },
    );
    assert!(errors(&x).is_empty(), "{:?}", errors(&x));
    let p = prop(&x.resources[0].body, "properties");
    assert_eq!(prop(p, "n").as_int(), Some(42));
    assert_eq!(prop(p, "f").as_bool(), Some(false));
    assert_eq!(prop(p, "t").as_str(), Some("prod"));
}

#[test]
fn evaluation_budget_stops_runaway_templates() {
    // 800 × 800 nested map over range: far beyond the budget given here.
    let x = expand_with(
        r#"{"$schema": "$SCHEMA", "contentVersion": "1.0.0.0",
        "resources": [{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "sa",
           "properties": {"big": "[map(range(0, 800), lambda('i', map(range(0, 800), lambda('j', add(lambdaVariables('i'), lambdaVariables('j'))))))]"}}]}"#,
        Options {
            limits: template::Limits {
                budget: 100_000,
                ..template::Limits::default()
            },
            ..Options::default()
        },
    );
    assert!(
        errors(&x).iter().any(|e| e.contains("budget")),
        "{:?}",
        errors(&x)
    );
    assert!(matches!(
        prop(&x.resources[0].body, "properties.big").kind,
        Kind::Unknown(_)
    ));
}

#[test]
fn run_time_properties_of_references_are_unknown_in_try_get_and_contains() {
    let x = expand(
        r#"{"$schema": "$SCHEMA", "contentVersion": "1.0.0.0", "resources": [
          {"type": "Microsoft.Network/azureFirewalls", "apiVersion": "2023-01-01", "name": "fw",
           "properties": {"sku": {"tier": "Premium"}, "ipConfigurations": null}},
          {"type": "Microsoft.Web/sites", "apiVersion": "2023-01-01", "name": "app", "properties": {
             "declared": "[tryGet(reference('fw'), 'sku', 'tier')]",
             "runtime": "[tryGet(reference('fw'), 'hubIPAddresses')]",
             "has": "[contains(reference('fw'), 'provisioningState')]",
             "hasDeclared": "[contains(reference('fw'), 'sku')]",
             "nullDeclared": "[reference('fw').ipConfigurations[0]]"}}]}"#,
    );
    assert!(errors(&x).is_empty(), "{:?}", errors(&x));
    let p = prop(&x.resources[1].body, "properties");
    assert_eq!(prop(p, "declared").as_str(), Some("Premium"));
    assert!(prop(p, "runtime").is_unknown());
    assert!(prop(p, "has").is_unknown());
    assert_eq!(prop(p, "hasDeclared").as_bool(), Some(true));
    assert!(prop(p, "nullDeclared").is_unknown());
}

#[test]
fn json_accepts_single_quoted_text_as_azure_does() {
    let x = expand(
        r#"{"$schema": "$SCHEMA", "contentVersion": "1.0.0.0", "resources": [
          {"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "sa",
           "properties": {"one": "[json('{''one'': ''a''}').one]", "strict": "[json('{\"b\": [1, 2]}').b[1]]"}}]}"#,
    );
    assert!(errors(&x).is_empty(), "{:?}", errors(&x));
    let p = prop(&x.resources[0].body, "properties");
    assert_eq!(prop(p, "one").as_str(), Some("a"));
    assert_eq!(prop(p, "strict").as_int(), Some(2));
}

#[test]
fn relative_extension_scopes_resolve_against_the_resource_group() {
    // Bicep writes `scope` relative to the deployment's resource group.
    let x = expand(
        r#"{"$schema": "$SCHEMA", "contentVersion": "1.0.0.0", "resources": [
          {"type": "Microsoft.Insights/diagnosticSettings", "apiVersion": "2021-05-01-preview", "name": "diag",
           "scope": "[format('Microsoft.MachineLearningServices/workspaces/{0}', 'ws')]", "properties": {}}]}"#,
    );
    let want = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/amlguard-rg/providers/Microsoft.MachineLearningServices/workspaces/ws";
    assert_eq!(x.resources[0].scope.as_ref().unwrap().as_str(), Some(want));
    assert_eq!(
        x.resources[0].id.as_str().unwrap(),
        format!("{want}/providers/Microsoft.Insights/diagnosticSettings/diag")
    );
}

#[test]
fn nested_children_with_multi_segment_relative_types() {
    // From the quickstart machine-learning-dataset-create-file-from-relative-path prereqs.
    let x = expand(
        r#"{"$schema": "$SCHEMA", "contentVersion": "1.0.0.0", "resources": [
          {"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "sa",
           "resources": [{"type": "blobServices/containers", "apiVersion": "2019-06-01", "name": "default/data"}]}]}"#,
    );
    assert!(x.diagnostics.is_empty(), "{:?}", x.diagnostics);
    let c = &x.resources[1];
    assert_eq!(
        c.full_type,
        "Microsoft.Storage/storageAccounts/blobServices/containers"
    );
    assert_eq!(c.name.as_str(), Some("sa/default/data"));
    assert!(
        c.id.as_str()
            .unwrap()
            .ends_with("/storageAccounts/sa/blobServices/default/containers/data")
    );
}
