//! The `amlguard` command line.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};

mod config;
mod expand;
mod paths;
mod scan;

/// A faster allocator for the path engine's many small sets (see Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Finds data-exfiltration paths and missing hardening in Azure Machine Learning deployments.
#[derive(Parser, Debug)]
#[command(name = "amlguard", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// The runtime context of the deployment; none of it is in a template.
#[derive(clap::Args, Debug, Clone)]
pub struct ContextArgs {
    /// Subscription ID the template is deployed to.
    #[arg(long, default_value = "00000000-0000-0000-0000-000000000000")]
    pub subscription_id: String,
    /// Resource group the template is deployed to.
    #[arg(long, default_value = "amlguard-rg")]
    pub resource_group: String,
    /// Location of the resource group (and of subscription-level deployments).
    #[arg(long, default_value = "eastus")]
    pub location: String,
    /// Name of the deployment.
    #[arg(long, default_value = "amlguard-deployment")]
    pub deployment_name: String,
    /// Tenant ID.
    #[arg(long, default_value = "00000000-0000-0000-0000-000000000000")]
    pub tenant_id: String,
    /// Management group (for management-group deployments).
    #[arg(long, default_value = "amlguard-mg")]
    pub management_group: String,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Scans ARM templates (files, or folders searched recursively) and reports
    /// findings: exfiltration paths, missing hardening, lockdowns that break AML.
    Scan {
        /// Files or folders; templates are recognised by their `$schema`.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// A parameter file for every template (default: the sibling
        /// `X.parameters.json` / `azuredeploy.parameters.json`).
        #[arg(long, short = 'p')]
        parameters: Option<PathBuf>,
        /// A parameter value, `name=value` (repeatable).
        #[arg(long = "parameter", value_name = "NAME=VALUE")]
        parameter: Vec<String>,
        #[arg(long, value_enum, default_value_t = scan::ScanFormat::Text)]
        format: scan::ScanFormat,
        /// Write the report to this file.
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
        /// Exit 1 when a finding is at or above this severity.
        #[arg(long, default_value = "low", value_parser = parse_severity)]
        fail_on: amlguard_rules::Severity,
        /// Report only findings at or above this confidence.
        #[arg(long, default_value = "low", value_parser = parse_confidence)]
        min_confidence: amlguard_rules::Confidence,
        /// Configuration file (default: `amlguard.toml` found walking up from the first path).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Microsoft's service-tag file (`ServiceTags_Public_<date>.json`) or the
        /// output of `az network list-service-tags`: service tags become exact
        /// address sets (without it they are symbolic).
        #[arg(long, value_name = "FILE")]
        service_tags: Option<PathBuf>,
        #[command(flatten)]
        context: ContextArgs,
    },
    /// Shows, for each compute, which destinations an insider could write to
    /// (internet, any storage account, Front Door, other writable services) and
    /// whether the destinations AML needs are reachable, with the chain of
    /// settings behind each answer.
    Paths {
        /// Files or folders; templates are recognised by their `$schema`.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// A parameter file for every template.
        #[arg(long, short = 'p')]
        parameters: Option<PathBuf>,
        /// A parameter value, `name=value` (repeatable).
        #[arg(long = "parameter", value_name = "NAME=VALUE")]
        parameter: Vec<String>,
        #[arg(long, value_enum, default_value_t = paths::PathsFormat::Text)]
        format: paths::PathsFormat,
        /// Write the output to this file.
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
        /// Microsoft's service-tag file (exact tags instead of symbolic ones).
        #[arg(long, value_name = "FILE")]
        service_tags: Option<PathBuf>,
        #[command(flatten)]
        context: ContextArgs,
    },
    /// Lists every rule.
    Rules {
        /// `markdown` prints the table the README carries.
        #[arg(long, value_enum, default_value_t = RulesFormat::Text)]
        format: RulesFormat,
    },
    /// Prints a rule's documentation: `amlguard explain AMLG201` (or its name).
    Explain { rule: String },
    /// Expands an ARM template as Azure would and prints the resources it deploys,
    /// with every value that cannot be known offline marked and explained.
    Expand {
        /// The template (JSON; Bicep compiled with `bicep build`).
        template: PathBuf,
        /// A parameter file.
        #[arg(long, short = 'p')]
        parameters: Option<PathBuf>,
        /// A parameter value, `name=value` (repeatable); arrays and objects as JSON.
        #[arg(long = "parameter", value_name = "NAME=VALUE")]
        parameter: Vec<String>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Write the output to this file instead of standard output.
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
        #[command(flatten)]
        context: ContextArgs,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RulesFormat {
    Text,
    Markdown,
}

fn parse_severity(s: &str) -> Result<amlguard_rules::Severity, String> {
    amlguard_rules::Severity::parse(s)
        .ok_or_else(|| format!("expected info, low, medium, high or critical, found '{s}'"))
}

fn parse_confidence(s: &str) -> Result<amlguard_rules::Confidence, String> {
    amlguard_rules::Confidence::parse(s)
        .ok_or_else(|| format!("expected low, medium or high, found '{s}'"))
}

/// The rule table, from rule metadata.
pub fn rules_table(format: RulesFormat) -> String {
    let mut out = String::new();
    match format {
        RulesFormat::Markdown => {
            out.push_str("| code | name | severity | title |\n|---|---|---|---|\n");
            for r in amlguard_rules::all() {
                let m = r.meta();
                out.push_str(&format!(
                    "| {} | `{}` | {} | {} |\n",
                    m.display_code(),
                    m.name,
                    m.severity.as_str(),
                    m.title
                ));
            }
        }
        RulesFormat::Text => {
            for r in amlguard_rules::all() {
                let m = r.meta();
                out.push_str(&format!(
                    "{:<8} {:<9} {:<45} {}\n",
                    m.display_code(),
                    m.severity.as_str(),
                    m.name,
                    m.title
                ));
            }
        }
    }
    out
}

/// An error that ends the run: usage or input (exit 2), or internal (exit 3).
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub code: u8,
}

impl Failure {
    pub fn input(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: 2,
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Scan {
            paths,
            parameters,
            parameter,
            format,
            output,
            fail_on,
            min_confidence,
            config,
            service_tags,
            context,
        } => {
            use std::io::IsTerminal;
            let color = output.is_none()
                && format == scan::ScanFormat::Text
                && std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none();
            scan::run(&scan::Request {
                paths,
                parameters,
                parameter,
                format,
                fail_on,
                min_confidence,
                config,
                service_tags,
                context,
                color,
            })
            .and_then(|(text, code)| write_output(output.as_ref(), &text).map(|()| code))
        }
        Command::Paths {
            paths,
            parameters,
            parameter,
            format,
            output,
            service_tags,
            context,
        } => paths::run(&paths::Request {
            paths,
            parameters,
            parameter,
            format,
            service_tags,
            context,
        })
        .and_then(|(text, code)| write_output(output.as_ref(), &text).map(|()| code)),
        Command::Rules { format } => write_output(None, &rules_table(format)).map(|()| 0),
        Command::Explain { rule } => match amlguard_rules::find(&rule) {
            Some(r) => {
                let m = r.meta();
                let text = format!(
                    "{} {} ({}, {}, confidence {})\n{}\n\n{}",
                    m.display_code(),
                    m.name,
                    m.category.as_str(),
                    m.severity.as_str(),
                    m.confidence.as_str(),
                    m.title,
                    m.doc
                );
                write_output(None, &text).map(|()| 0)
            }
            None => Err(Failure::input(format!(
                "no rule '{rule}': `amlguard rules` lists them"
            ))),
        },
        Command::Expand {
            template,
            parameters,
            parameter,
            format,
            output,
            context,
        } => expand::run(&expand::Request {
            template,
            parameters,
            parameter,
            format,
            context,
        })
        .and_then(|(text, code)| write_output(output.as_ref(), &text).map(|()| code)),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            let _ = writeln!(std::io::stderr(), "error: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn write_output(path: Option<&PathBuf>, text: &str) -> Result<(), Failure> {
    match path {
        Some(p) => std::fs::write(p, text)
            .map_err(|e| Failure::input(format!("{}: cannot write: {e}", p.display()))),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .or_else(|e| {
                    if e.kind() == std::io::ErrorKind::BrokenPipe {
                        Ok(())
                    } else {
                        Err(e)
                    }
                })
                .map_err(|e| Failure {
                    message: format!("cannot write to standard output: {e}"),
                    code: 3,
                })
        }
    }
}

/// Reads a service-tag file; errors name the file (and `line:col` for JSON errors).
pub fn load_service_tags(
    path: &std::path::Path,
) -> Result<amlguard_net::tags::ServiceTags, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::input(format!("{}: cannot read: {e}", path.display())))?;
    amlguard_net::tags::ServiceTags::from_json(&text).map_err(|e| match &e {
        amlguard_net::tags::TagsError::Json(j) => Failure::input(format!(
            "{}:{}:{}: expected a service-tag file (an object with a `values` array): {j}",
            path.display(),
            j.line(),
            j.column()
        )),
        _ => Failure::input(format!("{}: {e}", path.display())),
    })
}

/// Builds the deployment scope from the flags.
pub fn scope_from(c: &ContextArgs) -> amlguard_arm::Scope {
    amlguard_arm::Scope {
        subscription_id: c.subscription_id.clone(),
        resource_group: c.resource_group.clone(),
        resource_group_location: c.location.clone(),
        location: c.location.clone(),
        deployment_name: c.deployment_name.clone(),
        tenant_id: c.tenant_id.clone(),
        management_group: c.management_group.clone(),
        ..amlguard_arm::Scope::default()
    }
}

/// Loads a JSON document, turning errors into input failures that name `file:line:col`.
pub fn load(path: &std::path::Path) -> Result<Arc<amlguard_source::Document>, Failure> {
    amlguard_source::Document::load(path)
        .map(Arc::new)
        .map_err(|e| Failure::input(e.to_string()))
}
