//! Service endpoint policy entries (`serviceResources`): what scope an entry
//! has and what it covers. Shared by the engine and the 3xx/4xx rules.

/// The scope kind of a service endpoint policy entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryScope {
    Subscription,
    ResourceGroup,
    Account,
    /// `/services/…`, e.g. `/services/Azure/MachineLearning`.
    Alias,
    Other,
}

/// The scope of an entry: `/subscriptions/<id>`, a resource group, one
/// account, an alias, or something else.
pub fn entry_scope(entry: &str) -> EntryScope {
    let e = entry.trim().trim_end_matches('/');
    if e.to_ascii_lowercase().starts_with("/services/") {
        return EntryScope::Alias;
    }
    let parts: Vec<&str> = e.split('/').collect();
    // "", "subscriptions", id, "resourceGroups", rg, "providers", ns, type, name
    let is = |i: usize, s: &str| parts.get(i).is_some_and(|p| p.eq_ignore_ascii_case(s));
    if !is(0, "") || !is(1, "subscriptions") || parts.get(2).is_none_or(|p| p.is_empty()) {
        return EntryScope::Other;
    }
    match parts.len() {
        3 => EntryScope::Subscription,
        5 if is(3, "resourceGroups") => EntryScope::ResourceGroup,
        _ if is(3, "resourceGroups") && is(5, "providers") => EntryScope::Account,
        _ => EntryScope::Other,
    }
}

/// Whether an entry is the AML alias (or the umbrella `/services/Azure`
/// alias, which contains it).
pub fn is_aml_alias(entry: &str) -> bool {
    let e = entry.trim().trim_end_matches('/');
    e.eq_ignore_ascii_case("/services/Azure/MachineLearning")
        || e.eq_ignore_ascii_case("/services/Azure")
}

/// Whether an entry (account, resource group or subscription) covers a
/// resource ID, compared case-insensitively as ARM does.
pub fn entry_covers(entry: &str, id: &str) -> bool {
    let e = entry.trim().trim_end_matches('/').to_ascii_lowercase();
    let i = id.trim().trim_end_matches('/').to_ascii_lowercase();
    match entry_scope(entry) {
        EntryScope::Subscription | EntryScope::ResourceGroup => {
            i == e || i.starts_with(&format!("{e}/"))
        }
        EntryScope::Account => i == e,
        EntryScope::Alias | EntryScope::Other => false,
    }
}
