//! Host names and the host patterns of Azure Firewall rules.
//!
//! What Azure Firewall does with a target FQDN of an application rule
//! (Azure Firewall FAQ, "How do wildcards work in target URLs and target
//! FQDNs in application rules?"):
//!
//! - an asterisk is accepted only as the left-most character; `www.contoso.*`
//!   and `*.contoso.*` are rejected;
//! - the asterisk stands for *anything* to its left, so `*.contoso.com`
//!   matches `any.contoso.com` and also deeper names such as
//!   `sub1.any.contoso.com`, but not `contoso.com` itself (the FAQ says the
//!   apex must be listed on its own);
//! - `*contoso.com` (no dot after the asterisk) matches `contoso.com`,
//!   `sub.contoso.com` and also `anycontoso.com`: any name that ends with the
//!   text, which the FAQ warns about;
//! - `*` alone matches every name.
//!
//! Names compare case-insensitively (DNS names do); a trailing dot is ignored.
//! The same patterns serve target URLs (their host part) and the FQDN
//! outbound rules of an Azure Machine Learning managed network, which are
//! implemented with an Azure Firewall (docs/azure-ml-network.md §3.2).
//! FQDNs in *network* rules do not accept wildcards at all (Azure Firewall
//! "FQDN filtering in network rules"); the firewall module checks that.
//!
//! Questions the engine asks are about a destination *class*: "a host an
//! insider can create under `blob.core.windows.net`" (any storage account),
//! under `azurefd.net` (Front Door), or anywhere (`""`, their own domain).
//! [`covers_fresh`] answers whether a pattern matches every such host;
//! [`fresh_hosts`] gives a finite set of concrete representative names so
//! that a first-match rule list can be evaluated exactly for the class.

use std::collections::HashSet;
use std::fmt;

/// A host pattern of a firewall rule, parsed case-insensitively.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HostPattern {
    /// `*`: every host name.
    Any,
    /// `*.contoso.com` (stored as `contoso.com`): every name strictly under
    /// the domain, at any depth; not the domain itself.
    Suffix(String),
    /// `*contoso.com` (stored as `contoso.com`): every name that ends with
    /// the text, including `contoso.com` itself and `anycontoso.com`.
    Ends(String),
    /// One name, e.g. `ml.azure.com`.
    Exact(String),
}

impl HostPattern {
    /// Reads a pattern: `*`, `*.domain`, `*text` or a host name. `None` for
    /// anything Azure rejects (an asterisk elsewhere than the left-most
    /// character, empty labels, characters outside host names).
    pub fn parse(text: &str) -> Option<HostPattern> {
        let t = text.trim();
        if t == "*" {
            return Some(HostPattern::Any);
        }
        if let Some(rest) = t.strip_prefix("*.") {
            return normalize_host(rest).map(HostPattern::Suffix);
        }
        if let Some(rest) = t.strip_prefix('*') {
            if rest.starts_with('.') || rest.is_empty() {
                return None;
            }
            return normalize_host(rest).map(HostPattern::Ends);
        }
        normalize_host(t).map(HostPattern::Exact)
    }

    /// The text every matching name ends with, for the wildcard forms
    /// (`.contoso.com` for `*.contoso.com`, `contoso.com` for `*contoso.com`).
    fn tail(&self) -> Option<String> {
        match self {
            HostPattern::Suffix(d) => Some(format!(".{d}")),
            HostPattern::Ends(s) => Some(s.clone()),
            HostPattern::Any | HostPattern::Exact(_) => None,
        }
    }

    /// Whether the pattern matches one (normalised) host name.
    pub fn matches_name(&self, host: &str) -> bool {
        match self {
            HostPattern::Any => true,
            HostPattern::Exact(e) => e == host,
            HostPattern::Suffix(d) => {
                host.len() > d.len() + 1
                    && host.ends_with(d.as_str())
                    && host
                        .get(..host.len() - d.len())
                        .is_some_and(|head| head.ends_with('.'))
            }
            HostPattern::Ends(s) => host.ends_with(s.as_str()),
        }
    }

    /// Whether the pattern is a wildcard (matches more than one name).
    pub fn is_wildcard(&self) -> bool {
        !matches!(self, HostPattern::Exact(_))
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPattern::Any => f.write_str("*"),
            HostPattern::Suffix(d) => write!(f, "*.{d}"),
            HostPattern::Ends(s) => write!(f, "*{s}"),
            HostPattern::Exact(e) => f.write_str(e),
        }
    }
}

/// Reads a pattern (see [`HostPattern::parse`]).
pub fn parse(text: &str) -> Option<HostPattern> {
    HostPattern::parse(text)
}

/// A host name in canonical form: trimmed, lower case, without a trailing
/// dot. `None` when it is not a host name (empty labels, characters other
/// than letters, digits, `-` and `_`, longer than 253 characters).
pub fn normalize_host(text: &str) -> Option<String> {
    let t = text.trim();
    let t = t.strip_suffix('.').unwrap_or(t);
    if t.is_empty() || t.len() > 253 {
        return None;
    }
    let lower = t.to_ascii_lowercase();
    let ok = lower.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    });
    ok.then_some(lower)
}

/// Whether `pattern` matches `host`. `host` is a name (`ml.azure.com`), or
/// `*.domain` meaning "some host under the domain" (true when the pattern
/// matches at least one of them: `*.batch.azure.com` matches
/// `*.westeurope.batch.azure.com`), or `*` meaning "some host". A host that
/// is not a valid name matches nothing.
pub fn matches(pattern: &HostPattern, host: &str) -> bool {
    let Some(query) = HostPattern::parse(host) else {
        return false;
    };
    intersects(pattern, &query)
}

/// Whether two patterns have a host name in common.
pub fn intersects(a: &HostPattern, b: &HostPattern) -> bool {
    match (a, b) {
        (HostPattern::Any, _) | (_, HostPattern::Any) => true,
        (HostPattern::Exact(x), other) | (other, HostPattern::Exact(x)) => other.matches_name(x),
        _ => match (a.tail(), b.tail()) {
            // Both are "ends with" conditions: some name ends with both
            // exactly when one tail ends with the other.
            (Some(ta), Some(tb)) => ta.ends_with(tb.as_str()) || tb.ends_with(ta.as_str()),
            _ => false,
        },
    }
}

/// The tail a fresh host under `suffix` ends with: `.suffix`, or `""` for
/// "any host" (`suffix` empty or `*`). `*.domain` is read as `domain`.
/// `None` when the suffix is not a host name.
fn class_tail(suffix: &str) -> Option<String> {
    let s = suffix.trim();
    if s.is_empty() || s == "*" {
        return Some(String::new());
    }
    let s = s.strip_prefix("*.").unwrap_or(s);
    normalize_host(s).map(|d| format!(".{d}"))
}

/// Whether `pattern` matches *every* host name under `suffix` (whatever
/// fresh labels an insider picks): `*` always; `*.core.windows.net` for
/// `blob.core.windows.net`; `*.blob.core.windows.net` for
/// `blob.core.windows.net`. An exact name never covers a fresh host, and
/// for "any host" (`suffix` empty or `*`) only `*` does.
pub fn covers_fresh(pattern: &HostPattern, suffix: &str) -> bool {
    let Some(class) = class_tail(suffix) else {
        return false;
    };
    match pattern {
        HostPattern::Any => true,
        HostPattern::Exact(_) => false,
        _ => !class.is_empty() && pattern.tail().is_some_and(|t| class.ends_with(t.as_str())),
    }
}

/// How a pattern meets the hosts an insider can create under a suffix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FreshMatch {
    /// Every such host matches (see [`covers_fresh`]).
    Every,
    /// Not every host, but an insider can pick a matching name: a label
    /// right under the suffix ending with the pattern's text
    /// (`*data.blob.core.windows.net`: an account named `exfildata`).
    Chosen,
    /// Some hosts under the suffix match, but whether an insider can own one
    /// is not known (a wildcard deeper under the suffix, such as
    /// `*.westeurope.batch.azure.com` for `batch.azure.com`, or any wildcard
    /// other than `*` for "any host").
    Perhaps,
    /// No host an insider can create matches (an exact name, or a pattern
    /// outside the suffix).
    Never,
}

/// How `pattern` meets the hosts an insider can create under `suffix`
/// (`""` or `*`: anywhere), for lists without order or deny rules (such as
/// the FQDN outbound rules of a managed network).
pub fn fresh_match(pattern: &HostPattern, suffix: &str) -> FreshMatch {
    let Some(class) = class_tail(suffix) else {
        return FreshMatch::Never;
    };
    let tail = match pattern {
        HostPattern::Any => return FreshMatch::Every,
        HostPattern::Exact(_) => return FreshMatch::Never,
        _ => match pattern.tail() {
            Some(t) => t,
            None => return FreshMatch::Never,
        },
    };
    if class.is_empty() {
        return FreshMatch::Perhaps;
    }
    if class.ends_with(tail.as_str()) {
        return FreshMatch::Every;
    }
    if tail.len() > class.len() && tail.ends_with(class.as_str()) {
        let head = tail.get(..tail.len() - class.len()).unwrap_or_default();
        return if !head.is_empty() && !head.contains('.') {
            FreshMatch::Chosen
        } else {
            FreshMatch::Perhaps
        };
    }
    FreshMatch::Never
}

/// A concrete name standing for hosts an insider can create under a suffix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FreshHost {
    pub host: String,
    /// The insider can surely create a host like this one (a fresh label
    /// right under the suffix, or one ending with text a pattern names).
    /// `false`: such hosts exist, but whether an insider can own one is not
    /// known (it needs a name deeper under the suffix, e.g. under
    /// `z01.azurefd.net`, or under a domain for "any host").
    pub certain: bool,
}

/// Representative hosts for "a host an insider can create under `suffix`"
/// (`suffix` empty or `*`: anywhere), given the patterns a rule list uses.
///
/// Every name under the suffix that is not one of the exact names of the
/// patterns matches the same patterns as one of the hosts returned, so a
/// first-match evaluation over the returned hosts covers the whole class:
/// the class has an allowed host exactly when a returned host is allowed.
/// Exact names are never returned: a listed name belongs to someone (the
/// deployment, Microsoft, a package index), not to a fresh insider.
/// At most one host per distinct wildcard pattern, plus one.
pub fn fresh_hosts<'a>(
    suffix: &str,
    patterns: impl IntoIterator<Item = &'a HostPattern>,
) -> Vec<FreshHost> {
    let Some(class) = class_tail(suffix) else {
        return Vec::new();
    };
    let mut tails: Vec<String> = Vec::new();
    let mut exact: HashSet<String> = HashSet::new();
    for p in patterns {
        match p {
            HostPattern::Exact(e) => {
                exact.insert(e.clone());
            }
            HostPattern::Any => {}
            _ => {
                if let Some(t) = p.tail() {
                    tails.push(t);
                }
            }
        }
    }
    tails.sort();
    tails.dedup();
    // Candidate tails: the class itself, and every pattern tail strictly
    // inside it.
    let mut candidates = vec![class.clone()];
    candidates.extend(
        tails
            .iter()
            .filter(|t| t.len() > class.len() && t.ends_with(class.as_str()))
            .cloned(),
    );
    let mut out = Vec::new();
    for tail in &candidates {
        let Some(host) = witness(tail, &tails, &exact) else {
            continue;
        };
        let certain = if *tail == class {
            true
        } else if class.is_empty() {
            false
        } else {
            // `r.suffix` with `r` part of one label: a label ending with `r`
            // is the insider's to pick.
            tail.get(..tail.len() - class.len())
                .is_some_and(|r| !r.is_empty() && !r.contains('.'))
        };
        out.push(FreshHost { host, certain });
    }
    out
}

/// A name `c + tail` that ends with no longer pattern tail and is no exact
/// name: it matches exactly the patterns every generic name with this tail
/// matches. `None` when every such name ends with a longer tail (then the
/// longer tails' witnesses stand for them).
fn witness(tail: &str, tails: &[String], exact: &HashSet<String>) -> Option<String> {
    // What a prefix must avoid: ending with the head of a longer tail, or
    // completing an exact name.
    let mut wild_heads: HashSet<&str> = HashSet::new();
    for t in tails {
        if t.len() > tail.len()
            && t.ends_with(tail)
            && let Some(head) = t.get(..t.len() - tail.len())
        {
            wild_heads.insert(head);
        }
    }
    const ALPHABET: &[u8] = b"xqz0123456789abcdefghijklmnoprstuvwy";
    let ok = |c: &str| {
        let host = format!("{c}{tail}");
        let blocked = (0..c.len()).any(|i| c.get(i..).is_some_and(|s| wild_heads.contains(s)));
        (!blocked && !exact.contains(&host) && normalize_host(&host).as_deref() == Some(&host))
            .then_some(host)
    };
    let chars = ALPHABET.iter().map(|&b| char::from(b));
    for a in chars.clone() {
        if let Some(h) = ok(&a.to_string()) {
            return Some(h);
        }
    }
    for a in chars.clone() {
        for b in chars.clone() {
            if let Some(h) = ok(&format!("{a}{b}")) {
                return Some(h);
            }
        }
    }
    // Three characters; the middle one may be `-` (never first or last).
    for a in chars.clone() {
        for b in chars.clone().chain(std::iter::once('-')) {
            for c in chars.clone() {
                if let Some(h) = ok(&format!("{a}{b}{c}")) {
                    return Some(h);
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    fn p(t: &str) -> HostPattern {
        HostPattern::parse(t).unwrap()
    }

    #[test]
    fn parsing() {
        assert_eq!(p("*"), HostPattern::Any);
        assert_eq!(
            p(" *.Contoso.COM "),
            HostPattern::Suffix("contoso.com".into())
        );
        assert_eq!(p("*contoso.com"), HostPattern::Ends("contoso.com".into()));
        assert_eq!(
            p("ML.Azure.com."),
            HostPattern::Exact("ml.azure.com".into())
        );
        for bad in [
            "www.contoso.*",
            "*.contoso.*",
            "www.*contoso.com",
            "",
            "*.",
            "**",
            "*.*",
            "a..b",
            "a b.com",
            "*..com",
            "a.*.com",
        ] {
            assert_eq!(HostPattern::parse(bad), None, "{bad}");
        }
        assert_eq!(p("*.contoso.com").to_string(), "*.contoso.com");
        assert_eq!(p("*contoso.com").to_string(), "*contoso.com");
    }

    #[test]
    fn faq_examples() {
        // Azure Firewall FAQ: `*.contoso.com` matches any.contoso.com and
        // deeper names, not the apex; `*contoso.com` matches the apex and
        // anycontoso.com.
        let star_dot = p("*.contoso.com");
        assert!(star_dot.matches_name("any.contoso.com"));
        assert!(star_dot.matches_name("sub1.any.contoso.com"));
        assert!(!star_dot.matches_name("contoso.com"));
        assert!(!star_dot.matches_name("anycontoso.com"));
        let star = p("*contoso.com");
        assert!(star.matches_name("contoso.com"));
        assert!(star.matches_name("example.anycontoso.com"));
        assert!(star.matches_name("th3re4lcontoso.com"));
        assert!(!star.matches_name("contoso.org"));
        assert!(p("www.contoso.com").matches_name("www.contoso.com"));
        assert!(!p("www.contoso.com").matches_name("contoso.com"));
        assert!(p("*").matches_name("anything.example"));
    }

    #[test]
    fn matches_hosts_and_classes() {
        assert!(matches(
            &p("*.batch.azure.com"),
            "*.westeurope.batch.azure.com"
        ));
        assert!(matches(
            &p("*.westeurope.batch.azure.com"),
            "*.batch.azure.com"
        ));
        assert!(matches(
            &p("a.westeurope.batch.azure.com"),
            "*.batch.azure.com"
        ));
        assert!(!matches(
            &p("westeurope.batch.azure.com"),
            "*.westeurope.batch.azure.com"
        ));
        assert!(matches(&p("ml.azure.com"), "ML.azure.com"));
        assert!(!matches(&p("ml.azure.com"), "mcr.microsoft.com"));
        assert!(matches(&p("*contoso.com"), "*.com"));
        assert!(!matches(&p("*contoso.com"), "*.org"));
        assert!(matches(&p("*.com"), "*contoso.com"));
        assert!(!matches(&p("*.contoso.com"), "*.fabrikam.com"));
        assert!(matches(&p("mcr.microsoft.com"), "*"));
        assert!(!matches(&p("*"), "not a host"));
    }

    #[test]
    fn fresh_coverage() {
        assert!(covers_fresh(&p("*"), ""));
        assert!(covers_fresh(&p("*"), "blob.core.windows.net"));
        assert!(covers_fresh(
            &p("*.core.windows.net"),
            "blob.core.windows.net"
        ));
        assert!(covers_fresh(
            &p("*.blob.core.windows.net"),
            "blob.core.windows.net"
        ));
        assert!(covers_fresh(
            &p("*.blob.core.windows.net"),
            "*.blob.core.windows.net"
        ));
        assert!(covers_fresh(&p("*windows.net"), "blob.core.windows.net"));
        assert!(!covers_fresh(
            &p("*.westeurope.batch.azure.com"),
            "batch.azure.com"
        ));
        assert!(!covers_fresh(
            &p("mystorage.blob.core.windows.net"),
            "blob.core.windows.net"
        ));
        assert!(!covers_fresh(&p("*.com"), ""));
        assert!(!covers_fresh(
            &p("*.queue.core.windows.net"),
            "blob.core.windows.net"
        ));
    }

    #[test]
    fn fresh_match_grades() {
        let blob = "blob.core.windows.net";
        assert_eq!(fresh_match(&p("*"), blob), FreshMatch::Every);
        assert_eq!(
            fresh_match(&p("*.core.windows.net"), blob),
            FreshMatch::Every
        );
        assert_eq!(fresh_match(&p("*windows.net"), blob), FreshMatch::Every);
        assert_eq!(
            fresh_match(&p("*data.blob.core.windows.net"), blob),
            FreshMatch::Chosen
        );
        assert_eq!(
            fresh_match(&p("*.x.blob.core.windows.net"), blob),
            FreshMatch::Perhaps
        );
        assert_eq!(
            fresh_match(&p("a.blob.core.windows.net"), blob),
            FreshMatch::Never
        );
        assert_eq!(
            fresh_match(&p("*.queue.core.windows.net"), blob),
            FreshMatch::Never
        );
        assert_eq!(
            fresh_match(&p("*.westeurope.batch.azure.com"), "batch.azure.com"),
            FreshMatch::Perhaps
        );
        assert_eq!(fresh_match(&p("*.com"), ""), FreshMatch::Perhaps);
        assert_eq!(fresh_match(&p("*"), ""), FreshMatch::Every);
        assert_eq!(fresh_match(&p("pypi.org"), ""), FreshMatch::Never);
        // Agrees with the witnesses.
        for pat in [
            "*data.blob.core.windows.net",
            "*.x.blob.core.windows.net",
            "*.blob.core.windows.net",
        ] {
            let pat = p(pat);
            let hosts = fresh_hosts(blob, [pat.clone()].iter());
            let certain = hosts.iter().any(|h| h.certain && pat.matches_name(&h.host));
            let some = hosts.iter().any(|h| pat.matches_name(&h.host));
            let m = fresh_match(&pat, blob);
            assert_eq!(
                certain,
                matches!(m, FreshMatch::Every | FreshMatch::Chosen),
                "{pat}"
            );
            assert_eq!(some, m != FreshMatch::Never, "{pat}");
        }
    }

    #[test]
    fn fresh_host_witnesses() {
        let pats = [
            p("*.blob.core.windows.net"),
            p("*data.blob.core.windows.net"),
            p("*.z.blob.core.windows.net"),
            p("mine.blob.core.windows.net"),
            p("*.queue.core.windows.net"),
        ];
        let hosts = fresh_hosts("blob.core.windows.net", pats.iter());
        // The class itself, `*data…` and `*.z…`.
        assert_eq!(hosts.len(), 3, "{hosts:?}");
        let base = &hosts[0];
        assert!(base.certain);
        assert!(base.host.ends_with(".blob.core.windows.net"));
        assert!(!pats[1].matches_name(&base.host));
        let data = hosts
            .iter()
            .find(|h| pats[1].matches_name(&h.host))
            .unwrap();
        assert!(data.certain);
        let deep = hosts
            .iter()
            .find(|h| pats[2].matches_name(&h.host))
            .unwrap();
        assert!(!deep.certain);
        for h in &hosts {
            assert_ne!(h.host, "mine.blob.core.windows.net");
            assert!(pats[0].matches_name(&h.host));
            assert!(!pats[4].matches_name(&h.host));
        }
        // A prefix avoids longer tails: every one-letter start of `*data` is taken.
        let crowded: Vec<HostPattern> = "xqz0123456789abcdefghijklmnoprstuvwy"
            .chars()
            .map(|c| p(&format!("*{c}.example.com")))
            .collect();
        let hosts = fresh_hosts("example.com", crowded.iter());
        // Every name under example.com ends with one of the 36 tails: the
        // class witness is not needed, each tail has its own.
        assert_eq!(hosts.len(), 36);
        assert!(hosts.iter().all(|h| h.certain));
        // Any host: a name of the insider's own, matched by no listed pattern.
        let hosts = fresh_hosts("", [p("*.com"), p("pypi.org")].iter());
        assert!(hosts[0].certain);
        assert!(!p("*.com").matches_name(&hosts[0].host));
        assert!(hosts[1..].iter().all(|h| !h.certain));
    }
}
