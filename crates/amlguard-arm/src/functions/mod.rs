//! The function library of the ARM template language, grouped as Microsoft's
//! function reference groups it. Special forms that need lazy arguments or the
//! environment (`if`, `and`, `or`, `lambda`, `lambdaVariables`, `parameters`,
//! `variables`, `copyIndex`, `reference`, `references`, `deployment`, `list*`)
//! are in [`crate::eval`].

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::eval::FnDef;

pub mod collection;
pub mod date;
pub mod resource;
pub mod string;

/// Names handled by the evaluator itself (see the module doc).
pub const SPECIAL_FORMS: &[&str] = &[
    "if",
    "and",
    "or",
    "lambda",
    "lambdaVariables",
    "parameters",
    "variables",
    "copyIndex",
    "reference",
    "references",
    "deployment",
    "fail",
    "listKeys",
    "listSecrets",
    "listAccountSas",
    "listServiceSas",
    "listConnectionStrings",
    "listAdminKeys",
    "listCredentials",
    "listOutputsWithSecureValues",
];

fn table() -> &'static HashMap<String, &'static FnDef> {
    static TABLE: OnceLock<HashMap<String, &'static FnDef>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut m = HashMap::new();
        for group in [collection::DEFS, date::DEFS, resource::DEFS, string::DEFS] {
            for d in group {
                m.insert(d.name.to_ascii_lowercase(), d);
            }
        }
        m
    })
}

/// Finds a function by its lower-case name.
pub fn lookup(lower: &str) -> Option<&'static FnDef> {
    table().get(lower).copied()
}

/// Every native function, sorted by name.
pub fn all() -> Vec<&'static FnDef> {
    let mut v: Vec<&'static FnDef> = table().values().copied().collect();
    v.sort_by_key(|d| d.name);
    v
}

/// The closest known function name, for "did you mean" hints.
pub fn suggest(lower: &str) -> Option<&'static str> {
    let mut best: Option<(usize, &'static str)> = None;
    let names = table()
        .values()
        .map(|d| d.name)
        .chain(SPECIAL_FORMS.iter().copied());
    for n in names {
        let d = edit_distance(lower, &n.to_ascii_lowercase());
        if d <= 2 && best.is_none_or(|(bd, bn)| d < bd || (d == bd && n < bn)) {
            best = Some((d, n));
        }
    }
    best.map(|(_, n)| n)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev.get(j).copied().unwrap_or(0) + usize::from(ca != cb);
            let del = prev.get(j + 1).copied().unwrap_or(0) + 1;
            let ins = cur.get(j).copied().unwrap_or(0) + 1;
            cur.push(sub.min(del).min(ins));
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_function_is_registered_twice() {
        let mut seen = std::collections::HashSet::new();
        for group in [collection::DEFS, date::DEFS, resource::DEFS, string::DEFS] {
            for d in group {
                let lower = d.name.to_ascii_lowercase();
                assert!(
                    seen.insert(lower.clone()),
                    "'{}' is registered twice",
                    d.name
                );
                assert!(
                    !SPECIAL_FORMS.iter().any(|s| s.eq_ignore_ascii_case(&lower)),
                    "'{}' is both a special form and a native function",
                    d.name
                );
            }
        }
    }
    /// Every function of Microsoft's ARM template function reference (array, CIDR,
    /// comparison, date, deployment, lambda, logical, numeric, object, resource,
    /// scope, string), plus `fail`.
    #[test]
    fn the_whole_function_reference_is_covered() {
        let reference = [
            "array",
            "concat",
            "contains",
            "createArray",
            "empty",
            "first",
            "flatten",
            "indexFromEnd",
            "indexOf",
            "intersection",
            "last",
            "lastIndexOf",
            "length",
            "max",
            "min",
            "range",
            "skip",
            "take",
            "tryGet",
            "tryIndexFromEnd",
            "union",
            "parseCidr",
            "cidrSubnet",
            "cidrHost",
            "coalesce",
            "equals",
            "greater",
            "greaterOrEquals",
            "less",
            "lessOrEquals",
            "dateTimeAdd",
            "dateTimeFromEpoch",
            "dateTimeToEpoch",
            "utcNow",
            "deployer",
            "deployment",
            "environment",
            "parameters",
            "variables",
            "filter",
            "groupBy",
            "map",
            "mapValues",
            "reduce",
            "sort",
            "toObject",
            "and",
            "bool",
            "false",
            "if",
            "not",
            "or",
            "true",
            "add",
            "copyIndex",
            "div",
            "float",
            "int",
            "mod",
            "mul",
            "sub",
            "createObject",
            "items",
            "json",
            "null",
            "objectKeys",
            "shallowMerge",
            "extensionResourceId",
            "listAccountSas",
            "listKeys",
            "listSecrets",
            "managementGroupResourceId",
            "pickZones",
            "providers",
            "reference",
            "references",
            "resourceId",
            "subscriptionResourceId",
            "tenantResourceId",
            "managementGroup",
            "resourceGroup",
            "subscription",
            "tenant",
            "base64",
            "base64ToJson",
            "base64ToString",
            "dataUri",
            "dataUriToString",
            "endsWith",
            "format",
            "guid",
            "join",
            "newGuid",
            "padLeft",
            "replace",
            "split",
            "startsWith",
            "string",
            "substring",
            "toLower",
            "toUpper",
            "trim",
            "uniqueString",
            "uri",
            "uriComponent",
            "uriComponentToString",
            "lambda",
            "lambdaVariables",
            "fail",
        ];
        for name in reference {
            let lower = name.to_ascii_lowercase();
            assert!(
                lookup(&lower).is_some()
                    || SPECIAL_FORMS.iter().any(|s| s.eq_ignore_ascii_case(name)),
                "'{name}' is not implemented"
            );
        }
    }
}
