//! `amlguard.toml`: which rules run, their severities, and ignores.
//!
//! ```toml
//! [rules]
//! disable = ["AMLG205", "compute-setup-scripts"]
//! enable = []                          # when not empty, only these run
//!
//! [rules.severity]
//! AMLG206 = "low"
//!
//! [[ignore]]
//! rule = "AMLG201"
//! resource = "*/workspaces/*/computes/gpu-*"   # glob over resource IDs, case-insensitive
//! reason = "public IP needed for the vendor's licence server"
//! expires = "2027-03-31"
//! ```
//!
//! Unknown keys are errors that name their line. An expired ignore no longer
//! suppresses anything and is reported.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use amlguard_rules::{Rule, Severity};
use serde::Deserialize;

use crate::Failure;

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    rules: RawRules,
    #[serde(default)]
    ignore: Vec<RawIgnore>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct RawRules {
    #[serde(default)]
    enable: Vec<String>,
    #[serde(default)]
    disable: Vec<String>,
    #[serde(default)]
    severity: BTreeMap<String, String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawIgnore {
    rule: String,
    #[serde(default = "any")]
    resource: String,
    reason: String,
    expires: Option<String>,
}

fn any() -> String {
    "*".into()
}

/// An ignore that applies.
#[derive(Debug, Clone)]
pub struct Ignore {
    pub code: u16,
    pub resource: String,
    pub reason: String,
    pub expires: Option<(i32, u32, u32)>,
}

/// A validated configuration.
#[derive(Default)]
pub struct Config {
    pub path: Option<PathBuf>,
    pub rules: Vec<&'static dyn Rule>,
    pub severity: BTreeMap<u16, Severity>,
    pub ignores: Vec<Ignore>,
    /// Ignores past their date, reported and not applied.
    pub expired: Vec<Ignore>,
}

/// Finds `amlguard.toml` by walking up from `start`.
pub fn discover(start: &Path) -> Option<PathBuf> {
    let abs = std::fs::canonicalize(start).ok()?;
    let dir = if abs.is_dir() {
        abs
    } else {
        abs.parent()?.to_path_buf()
    };
    dir.ancestors()
        .map(|d| d.join("amlguard.toml"))
        .find(|p| p.is_file())
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

fn rule_by_key(key: &str) -> Option<&'static dyn Rule> {
    amlguard_rules::find(key)
}

/// Today's date (UTC), or `AMLGUARD_TODAY=YYYY-MM-DD` for reproducible runs.
pub fn today() -> (i32, u32, u32) {
    if let Some(d) = std::env::var("AMLGUARD_TODAY")
        .ok()
        .and_then(|s| parse_date(&s))
    {
        return d;
    }
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    civil_from_days((secs / 86_400) as i64)
}

fn civil_from_days(z: i64) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    (y as i32, m as u32, d as u32)
}

fn parse_date(s: &str) -> Option<(i32, u32, u32)> {
    let mut it = s.trim().split('-');
    let y = it.next()?.parse().ok()?;
    let m: u32 = it.next()?.parse().ok()?;
    let d: u32 = it.next()?.parse().ok()?;
    if it.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some((y, m, d))
}

/// Loads and validates a configuration file; errors name `file:line:col`.
pub fn load(path: &Path) -> Result<Config, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::input(format!("{}: cannot read: {e}", path.display())))?;
    parse(&path.display().to_string(), &text).map(|mut c| {
        c.path = Some(path.to_path_buf());
        c
    })
}

/// Parses configuration text.
pub fn parse(name: &str, text: &str) -> Result<Config, Failure> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        let (line, col) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
        Failure::input(format!("{name}:{line}:{col}: {}", e.message().trim_end()))
    })?;
    let locate = |needle: &str| {
        text.find(needle)
            .map(|o| line_col(text, o))
            .unwrap_or((1, 1))
    };
    let unknown_rule = |key: &str| {
        let (line, col) = locate(key);
        Failure::input(format!(
            "{name}:{line}:{col}: expected a rule code (AMLG201) or name, found '{key}'"
        ))
    };
    let mut rules: Vec<&'static dyn Rule> = if raw.rules.enable.is_empty() {
        amlguard_rules::all()
    } else {
        let mut v = Vec::new();
        for k in &raw.rules.enable {
            v.push(rule_by_key(k).ok_or_else(|| unknown_rule(k))?);
        }
        v
    };
    for k in &raw.rules.disable {
        let r = rule_by_key(k).ok_or_else(|| unknown_rule(k))?;
        rules.retain(|x| x.meta().code != r.meta().code);
    }
    let mut severity = BTreeMap::new();
    for (k, v) in &raw.rules.severity {
        let r = rule_by_key(k).ok_or_else(|| unknown_rule(k))?;
        let s = Severity::parse(v).ok_or_else(|| {
            let (line, col) = locate(v);
            Failure::input(format!(
                "{name}:{line}:{col}: expected a severity (info, low, medium, high, critical), found '{v}'"
            ))
        })?;
        severity.insert(r.meta().code, s);
    }
    let today = today();
    let mut ignores = Vec::new();
    let mut expired = Vec::new();
    for i in &raw.ignore {
        let r = rule_by_key(&i.rule).ok_or_else(|| unknown_rule(&i.rule))?;
        let expires = match &i.expires {
            None => None,
            Some(s) => Some(parse_date(s).ok_or_else(|| {
                let (line, col) = locate(s);
                Failure::input(format!(
                    "{name}:{line}:{col}: expected a date YYYY-MM-DD, found '{s}'"
                ))
            })?),
        };
        if i.reason.trim().is_empty() {
            let (line, col) = locate("reason");
            return Err(Failure::input(format!(
                "{name}:{line}:{col}: expected a reason for the ignore"
            )));
        }
        let ig = Ignore {
            code: r.meta().code,
            resource: i.resource.clone(),
            reason: i.reason.clone(),
            expires,
        };
        if expires.is_some_and(|e| e < today) {
            expired.push(ig);
        } else {
            ignores.push(ig);
        }
    }
    Ok(Config {
        path: None,
        rules,
        severity,
        ignores,
        expired,
    })
}

/// Case-insensitive glob: `*` any run of characters, `?` one character.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(c) if *c == '?' || Some(c) == t.get(ti) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..).unwrap_or(&[]).iter().all(|c| *c == '*')
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn parse_err(name: &str, text: &str) -> Failure {
        match parse(name, text) {
            Err(e) => e,
            Ok(_) => panic!("expected an error for {text}"),
        }
    }

    #[test]
    fn globs() {
        assert!(glob_match(
            "*/computes/gpu-*",
            "/subscriptions/x/.../computes/GPU-1"
        ));
        assert!(glob_match("*", "anything"));
        assert!(!glob_match("*/computes/cpu", "/a/computes/cpu2"));
        assert!(glob_match("a?c", "abc"));
    }

    #[test]
    fn unknown_keys_name_their_line() {
        let e = parse_err("c.toml", "[rules]\ndisable = []\nfoo = 1\n");
        assert!(e.message.starts_with("c.toml:3:1:"), "{}", e.message);
        assert_eq!(e.code, 2);
    }

    #[test]
    fn unknown_rules_and_bad_severities_are_errors() {
        let e = parse_err("c.toml", "[rules]\ndisable = [\"AMLG999\"]\n");
        assert!(e.message.contains("c.toml:2:"), "{}", e.message);
        let e = parse_err("c.toml", "[rules.severity]\nAMLG101 = \"huge\"\n");
        assert!(e.message.contains("expected a severity"), "{}", e.message);
    }

    #[test]
    fn disable_and_expired_ignores() {
        let c = parse(
            "c.toml",
            "[rules]\ndisable = [\"workspace-public-network-access\"]\n[[ignore]]\nrule = \"AMLG101\"\nreason = \"r\"\nexpires = \"2000-01-01\"\n[[ignore]]\nrule = \"AMLG101\"\nreason = \"r\"\nexpires = \"2999-01-01\"\n",
        )
        .unwrap();
        assert!(!c.rules.iter().any(|r| r.meta().code == 101));
        assert_eq!(c.expired.len(), 1);
        assert_eq!(c.ignores.len(), 1);
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_415), (2025, 11, 23));
    }
}
