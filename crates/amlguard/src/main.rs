//! The `amlguard` command line.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};

mod expand;

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

/// An error that ends the run: usage or input (exit 2), or internal (exit 3).
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
