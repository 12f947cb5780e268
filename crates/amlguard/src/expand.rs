//! `amlguard expand`: prints the expanded deployment.

use std::fmt::Write as _;
use std::path::PathBuf;

use amlguard_arm::template::{self, Expansion, Level, Options};
use amlguard_arm::{Kind, Prov, Value};
use serde_json::{Map, Value as Json, json};

use crate::{ContextArgs, Failure, Format};

pub struct Request {
    pub template: PathBuf,
    pub parameters: Option<PathBuf>,
    pub parameter: Vec<String>,
    pub format: Format,
    pub context: ContextArgs,
}

/// Parses `name=value` pairs.
pub fn parse_overrides(items: &[String]) -> Result<Vec<(String, String)>, Failure> {
    items
        .iter()
        .map(|s| match s.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
            _ => Err(Failure::input(format!(
                "--parameter {s}: expected NAME=VALUE"
            ))),
        })
        .collect()
}

/// Runs the command; returns the output and the exit code.
pub fn run(req: &Request) -> Result<(String, u8), Failure> {
    let doc = crate::load(&req.template)?;
    let params = req.parameters.as_deref().map(crate::load).transpose()?;
    let opts = Options {
        scope: crate::scope_from(&req.context),
        parameters: params,
        overrides: parse_overrides(&req.parameter)?,
        ..Options::default()
    };
    let x = template::expand(doc, &opts);
    let text = match req.format {
        Format::Text => render_text(&x),
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&to_json(&x)).map_err(|e| Failure {
                message: format!("cannot write JSON: {e}"),
                code: 3,
            })?;
            s.push('\n');
            s
        }
    };
    Ok((text, if x.has_errors() { 2 } else { 0 }))
}

/// `file:line:col` of a provenance.
pub fn locate(x: &Expansion, prov: &Prov) -> String {
    match x.document(prov.document()) {
        Some(d) => {
            let l = d.locate(prov.route());
            format!("{}:{}:{}", d.path, l.position.line, l.position.column)
        }
        None => prov.document().to_string(),
    }
}

fn diag_line(x: &Expansion, d: &template::Diagnostic) -> String {
    match &d.prov {
        Some(p) => format!("{}: {}: {}", d.level.as_str(), locate(x, p), d.message),
        None => format!("{}: {}", d.level.as_str(), d.message),
    }
}

/// A leaf or subtree for text output: unknowns are marked with their reason.
fn text_value(v: &Value) -> String {
    match &v.kind {
        Kind::Unknown(u) => {
            let what = if u.secret { "secret" } else { "unknown" };
            match &u.input {
                Some(i) => format!("<{what}: {}; {i} decides it>", u.reason),
                None => format!("<{what}: {}>", u.reason),
            }
        }
        Kind::String(s) => s.to_string(),
        _ => v.to_json_text(),
    }
}

fn write_tree(out: &mut String, v: &Value, indent: usize) {
    let pad = "  ".repeat(indent);
    match &v.kind {
        Kind::Object(o) => {
            for (k, c) in o.iter() {
                match &c.kind {
                    Kind::Object(co) if !co.is_empty() => {
                        let _ = writeln!(out, "{pad}{k}:");
                        write_tree(out, c, indent + 1);
                    }
                    Kind::Array(a) if a.iter().any(|e| matches!(e.kind, Kind::Object(_))) => {
                        let _ = writeln!(out, "{pad}{k}:");
                        write_tree(out, c, indent + 1);
                    }
                    _ => {
                        let _ = writeln!(out, "{pad}{k}: {}", text_value(c));
                    }
                }
            }
        }
        Kind::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                match &c.kind {
                    Kind::Object(_) | Kind::Array(_) => {
                        let _ = writeln!(out, "{pad}[{i}]:");
                        write_tree(out, c, indent + 1);
                    }
                    _ => {
                        let _ = writeln!(out, "{pad}[{i}]: {}", text_value(c));
                    }
                }
            }
        }
        _ => {
            let _ = writeln!(out, "{pad}{}", text_value(v));
        }
    }
}

pub fn render_text(x: &Expansion) -> String {
    let mut out = String::new();
    let template = x.documents.first().map(|d| d.path.as_str()).unwrap_or("");
    let unknowns = x
        .resources
        .iter()
        .filter(|r| r.body.contains_unknown() || r.name.is_unknown())
        .count();
    let _ = writeln!(
        out,
        "{template}: {} resource(s), {} output(s); {} resource(s) with values unknown offline",
        x.resources.len(),
        x.outputs.len(),
        unknowns
    );
    for r in &x.resources {
        let _ = writeln!(out);
        let cond = match &r.condition.kind {
            Kind::Bool(true) => String::new(),
            Kind::Bool(false) => " (condition false: not deployed)".into(),
            _ => format!(" (condition {})", text_value(&r.condition)),
        };
        let existing = if r.existing { " (existing)" } else { "" };
        let _ = writeln!(
            out,
            "{} {}{cond}{existing}",
            r.full_type,
            text_value(&r.name)
        );
        let _ = writeln!(out, "  at: {}", locate(x, &r.prov));
        let _ = writeln!(out, "  id: {}", text_value(&r.id));
        if let Some(s) = &r.symbolic_name {
            let _ = writeln!(out, "  symbolic name: {s}");
        }
        if !r.deployment.is_empty() {
            let _ = writeln!(out, "  deployment: {}", r.deployment.join(" > "));
        }
        if let Some(c) = &r.copy {
            let count = c
                .count
                .map(|n| n.to_string())
                .unwrap_or_else(|| "unknown".into());
            let _ = writeln!(
                out,
                "  copy: {} index {} of {count} ({})",
                c.name, c.index, c.mode
            );
        }
        if !r.depends_on.is_empty() {
            let deps: Vec<String> = r.depends_on.iter().map(text_value).collect();
            let _ = writeln!(out, "  dependsOn: {}", deps.join(", "));
        }
        let mut body = r.body.clone();
        if let Kind::Object(o) = &body.kind {
            let mut o = (**o).clone();
            for k in ["type", "name"] {
                o.remove(k);
            }
            body = Value::object(o);
        }
        write_tree(&mut out, &body, 1);
    }
    if !x.outputs.is_empty() {
        let _ = writeln!(out, "\noutputs:");
        for o in &x.outputs {
            let scope = if o.deployment.is_empty() {
                String::new()
            } else {
                format!(" (deployment {})", o.deployment.join(" > "))
            };
            match &o.value.kind {
                Kind::Object(_) | Kind::Array(_) => {
                    let _ = writeln!(out, "  {}{scope}:", o.name);
                    write_tree(&mut out, &o.value, 2);
                }
                _ => {
                    let _ = writeln!(out, "  {}{scope}: {}", o.name, text_value(&o.value));
                }
            }
        }
    }
    if !x.diagnostics.is_empty() {
        let _ = writeln!(out, "\ndiagnostics:");
        let mut ds: Vec<String> = x.diagnostics.iter().map(|d| diag_line(x, d)).collect();
        ds.sort();
        for d in ds {
            let _ = writeln!(out, "  {d}");
        }
    }
    out
}

/// JSON for a value: unknowns become `{"$unknown": {...}}`; secrets never carry a value.
pub fn value_json(v: &Value) -> Json {
    match &v.kind {
        Kind::Null => Json::Null,
        Kind::Bool(b) => Json::Bool(*b),
        Kind::Int(i) => json!(i),
        Kind::Float(f) => serde_json::Number::from_f64(*f)
            .map(Json::Number)
            .unwrap_or(Json::Null),
        Kind::String(s) => Json::String(s.to_string()),
        Kind::Array(a) => Json::Array(a.iter().map(value_json).collect()),
        Kind::Object(o) => {
            let mut m = Map::new();
            for (k, c) in o.iter() {
                m.insert(k.to_string(), value_json(c));
            }
            Json::Object(m)
        }
        Kind::Unknown(u) => {
            let mut m = Map::new();
            m.insert("reason".into(), Json::String(u.reason.clone()));
            if let Some(i) = &u.input {
                m.insert("input".into(), Json::String(i.clone()));
            }
            m.insert("secret".into(), Json::Bool(u.secret));
            json!({ "$unknown": m })
        }
        Kind::Lambda(_) => json!({ "$unknown": { "reason": "a lambda", "secret": false } }),
    }
}

pub fn to_json(x: &Expansion) -> Json {
    let resources: Vec<Json> = x
        .resources
        .iter()
        .map(|r| {
            let mut m = Map::new();
            m.insert("type".into(), Json::String(r.full_type.clone()));
            m.insert("name".into(), value_json(&r.name));
            m.insert("id".into(), value_json(&r.id));
            if let Some(s) = &r.symbolic_name {
                m.insert("symbolicName".into(), Json::String(s.clone()));
            }
            m.insert(
                "apiVersion".into(),
                r.api_version.clone().map(Json::String).unwrap_or(Json::Null),
            );
            m.insert(
                "location".into(),
                r.location.as_ref().map(value_json).unwrap_or(Json::Null),
            );
            m.insert("condition".into(), value_json(&r.condition));
            m.insert("existing".into(), Json::Bool(r.existing));
            m.insert(
                "dependsOn".into(),
                Json::Array(r.depends_on.iter().map(value_json).collect()),
            );
            if let Some(c) = &r.copy {
                m.insert(
                    "copy".into(),
                    json!({"name": c.name, "index": c.index, "count": c.count, "mode": c.mode, "batchSize": c.batch_size}),
                );
            }
            m.insert(
                "deployment".into(),
                Json::Array(r.deployment.iter().cloned().map(Json::String).collect()),
            );
            m.insert("subscriptionId".into(), Json::String(r.subscription_id.clone()));
            m.insert("resourceGroup".into(), Json::String(r.resource_group.clone()));
            m.insert("source".into(), Json::String(locate(x, &r.prov)));
            m.insert("body".into(), value_json(&r.body));
            Json::Object(m)
        })
        .collect();
    let outputs: Vec<Json> = x
        .outputs
        .iter()
        .map(|o| {
            json!({
                "name": o.name,
                "deployment": o.deployment,
                "value": value_json(&o.value),
                "source": locate(x, &o.prov),
            })
        })
        .collect();
    let diagnostics: Vec<Json> = x
        .diagnostics
        .iter()
        .map(|d| {
            json!({
                "level": d.level.as_str(),
                "message": d.message,
                "source": d.prov.as_ref().map(|p| locate(x, p)),
            })
        })
        .collect();
    json!({
        "version": 1,
        "template": x.documents.first().map(|d| d.path.clone()),
        "errors": x.diagnostics.iter().filter(|d| d.level == Level::Error).count(),
        "resources": resources,
        "outputs": outputs,
        "diagnostics": diagnostics,
    })
}
