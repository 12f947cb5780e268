//! Test support: build a model from ARM template text and run one rule on it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use amlguard_arm::template::{self, Options};
use amlguard_model::Model;
use amlguard_source::Document;

use crate::{Finding, Rule};

/// The `$schema` of resource-group templates, for fixtures.
pub const SCHEMA: &str =
    "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#";

/// Expands a template (with `$SCHEMA` replaced) and builds its model.
pub fn model(text: &str) -> Model {
    let text = text.replace("$SCHEMA", SCHEMA);
    let doc = Arc::new(Document::parse("fixture.json", text).unwrap());
    let x = template::expand(doc, &Options::default());
    assert!(
        !x.has_errors(),
        "fixture does not expand: {:?}",
        x.diagnostics
    );
    amlguard_ingest::from_expansion(&x)
}

/// Wraps resources (a JSON array body) into a template with parameters (a JSON object body).
pub fn template(parameters: &str, resources: &str) -> String {
    format!(
        r#"{{"$schema": "$SCHEMA", "contentVersion": "1.0.0.0", "parameters": {{{parameters}}}, "resources": [{resources}]}}"#
    )
}

/// Runs one rule on a template.
pub fn run(rule: &dyn Rule, text: &str) -> Vec<Finding> {
    let m = model(text);
    let mut out = Vec::new();
    rule.check(&m, &mut out);
    out
}

/// `route` of a finding's location, as text.
pub fn route(f: &Finding) -> String {
    f.at.route.to_string()
}
