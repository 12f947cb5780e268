//! Resource functions, scope functions and `environment()` / `deployer()`:
//! the functions of Microsoft's reference pages *template-functions-resource*,
//! *template-functions-scope* and *template-functions-deployment* that do not
//! need the template's resources. `reference`, `references`, `list*` and
//! `deployment` are special forms of [`crate::eval`].
//!
//! Resource IDs follow the formats of the reference:
//!
//! ```text
//! /subscriptions/{sub}/resourceGroups/{rg}/providers/{ns}/{type1}/{name1}/{type2}/{name2}
//! /subscriptions/{sub}/providers/{ns}/{type}/{name}                      (subscription level)
//! /providers/{ns}/{type}/{name}                                          (tenant level)
//! /providers/Microsoft.Management/managementGroups/{mg}/providers/{ns}/{type}/{name}
//! {baseResourceId}/providers/{ns}/{type}/{name}                          (extension resources)
//! ```
//!
//! Argument rules, as Azure applies them: the resource type is the one argument
//! that contains a `/` (a trailing `/` is ignored); names never contain `/`; a
//! type `ns/t1/t2` needs exactly one name per type segment.
//!
//! Runtime facts no template states (a tenant's display name, a region's
//! availability zones, a resource group's tags) are unknowns.

use crate::eval::{Cx, EvalError, FnDef, NativeFn, Result, Scope, ScopeLevel};
use crate::value::{Object, Value};

/// Longest resource ID built (a hostile template must not build gigabyte strings).
const MAX_ID_LEN: usize = 16 << 20;

/// The identifier prefix of a management group (the reference's format).
const MANAGEMENT_GROUPS: &str = "/providers/Microsoft.Management/managementGroups/";

const fn def(name: &'static str, min_args: usize, max_args: usize, f: NativeFn) -> FnDef {
    FnDef {
        name,
        min_args,
        max_args,
        propagate_unknown: true,
        f,
    }
}

pub const DEFS: &[FnDef] = &[
    def("resourceId", 2, usize::MAX, resource_id),
    def(
        "subscriptionResourceId",
        2,
        usize::MAX,
        subscription_resource_id,
    ),
    def("tenantResourceId", 2, usize::MAX, tenant_resource_id),
    def(
        "managementGroupResourceId",
        2,
        usize::MAX,
        management_group_resource_id,
    ),
    def("extensionResourceId", 3, usize::MAX, extension_resource_id),
    def("resourceGroup", 0, 0, resource_group),
    def("subscription", 0, 0, subscription),
    def("tenant", 0, 0, tenant),
    def("managementGroup", 0, 0, management_group),
    def("environment", 0, 0, environment),
    def("deployer", 0, 0, deployer),
    def("pickZones", 3, 5, pick_zones),
    def("providers", 1, 2, providers),
];

// ---------------------------------------------------------------------------
// Helpers for the template expander
// ---------------------------------------------------------------------------

/// A resource ID taken apart by [`parse_resource_id`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedId {
    /// The value of the ID's `subscriptions/{id}` segment, if it has one.
    pub subscription: Option<String>,
    /// The value of the ID's `resourceGroups/{name}` segment, if it has one.
    pub resource_group: Option<String>,
    /// The full type of the resource the ID names, e.g.
    /// `Microsoft.Network/virtualNetworks/subnets`. For extension resources,
    /// the type of the last `providers` section.
    pub full_type: String,
    /// One name per type segment, e.g. `["vnet", "subnet"]`.
    pub names: Vec<String>,
    /// For IDs with more than one `providers` section (extension resources, and
    /// resources of a management group), the ID of the resource extended:
    /// everything before the last `providers` section.
    pub parent: Option<String>,
}

/// Splits a full resource type into its provider namespace and type segments:
/// `Microsoft.Network/virtualNetworks/subnets` → `("Microsoft.Network",
/// ["virtualNetworks", "subnets"])`. Trailing `/` are ignored, as Azure ignores
/// them. `None` when there is no type segment or a segment is empty.
pub fn split_type(full_type: &str) -> Option<(&str, Vec<&str>)> {
    let mut parts = full_type.trim_end_matches('/').split('/');
    let namespace = parts.next().filter(|s| !s.is_empty())?;
    let types: Vec<&str> = parts.collect();
    if types.is_empty() || types.iter().any(|s| s.is_empty()) {
        return None;
    }
    Some((namespace, types))
}

/// Builds the ID of a resource of type `full_type` with one name per type
/// segment:
///
/// * `resource_group` is `Some`: a resource-group-level ID,
///   `/subscriptions/{sub}/resourceGroups/{rg}/providers/...`, in `subscription`
///   or else the scope's subscription;
/// * only `subscription`: a subscription-level ID, `/subscriptions/{sub}/providers/...`;
/// * neither: a tenant-level ID, `/providers/{ns}/{type}/{name}`.
///
/// Errors (as Azure's): the name count does not match the type's depth, the
/// type has no namespace or an empty segment, a name contains `/`.
pub fn resource_id_at(
    scope: &Scope,
    subscription: Option<&str>,
    resource_group: Option<&str>,
    full_type: &str,
    names: &[&str],
) -> Result<String> {
    let prefix = match (subscription, resource_group) {
        (sub, Some(rg)) => {
            let sub = sub.unwrap_or(&scope.subscription_id);
            check_segment("subscription id", sub)?;
            check_segment("resource group name", rg)?;
            format!("/subscriptions/{sub}/resourceGroups/{rg}")
        }
        (Some(sub), None) => {
            check_segment("subscription id", sub)?;
            format!("/subscriptions/{sub}")
        }
        (None, None) => String::new(),
    };
    typed_id(prefix, full_type, names).map_err(EvalError::new)
}

/// Parses a resource ID in any of the formats of the module doc. The ID of a
/// subscription (`/subscriptions/{id}`) parses as type
/// `Microsoft.Resources/subscriptions`, the ID of a resource group as
/// `Microsoft.Resources/resourceGroups`. `None` for anything else (no leading
/// `/`, empty segments, a type without a name, a missing `providers`).
pub fn parse_resource_id(id: &str) -> Option<ParsedId> {
    let segs: Vec<&str> = id.strip_prefix('/')?.split('/').collect();
    if segs.iter().any(|s| s.is_empty()) {
        return None;
    }
    let at = |i: usize| segs.get(i).copied();
    let is = |i: usize, word: &str| at(i).is_some_and(|s| s.eq_ignore_ascii_case(word));

    let mut i = 0;
    let mut subscription = None;
    let mut resource_group = None;
    if is(0, "subscriptions") {
        subscription = Some(at(1)?.to_string());
        i = 2;
        if is(2, "resourceGroups") {
            resource_group = Some(at(3)?.to_string());
            i = 4;
        }
    }
    if i == segs.len() {
        let (full_type, name) = match (&subscription, &resource_group) {
            (Some(_), Some(rg)) => ("Microsoft.Resources/resourceGroups", rg.clone()),
            (Some(sub), None) => ("Microsoft.Resources/subscriptions", sub.clone()),
            _ => return None,
        };
        return Some(ParsedId {
            subscription,
            resource_group,
            full_type: full_type.to_string(),
            names: vec![name],
            parent: None,
        });
    }

    let first_section = i;
    loop {
        if !is(i, "providers") {
            return None;
        }
        let namespace = at(i + 1)?;
        let mut types = Vec::new();
        let mut names = Vec::new();
        let mut j = i + 2;
        while j < segs.len() && !is(j, "providers") {
            types.push(at(j)?);
            names.push(at(j + 1)?.to_string());
            j += 2;
        }
        if types.is_empty() {
            return None;
        }
        if j >= segs.len() {
            let parent = if i > first_section {
                Some(format!("/{}", segs.get(..i)?.join("/")))
            } else {
                None
            };
            return Some(ParsedId {
                subscription,
                resource_group,
                full_type: format!("{namespace}/{}", types.join("/")),
                names,
                parent,
            });
        }
        i = j;
    }
}

/// A subscription id or resource group name must be one path segment.
fn check_segment(what: &str, value: &str) -> Result<()> {
    if value.contains('/') {
        return Err(EvalError::new(format!(
            "the {what} '{}' contains '/'",
            shorten(value)
        )));
    }
    Ok(())
}

/// Appends `/providers/{ns}/{type1}/{name1}/...` to `prefix`.
fn typed_id(
    mut prefix: String,
    full_type: &str,
    names: &[&str],
) -> std::result::Result<String, String> {
    let trimmed = full_type.trim_end_matches('/');
    let needed = trimmed.split('/').count().saturating_sub(1);
    if needed == 0 {
        return Err(format!(
            "'{}' is not a resource type: expected the resource provider namespace and the type, such as 'Microsoft.Storage/storageAccounts'",
            shorten(full_type)
        ));
    }
    if needed != names.len() {
        return Err(format!(
            "the type '{}' requires '{needed}' resource name argument(s), got {}",
            shorten(trimmed),
            names.len()
        ));
    }
    let Some((namespace, types)) = split_type(trimmed) else {
        return Err(format!(
            "the resource type '{}' has an empty segment",
            shorten(full_type)
        ));
    };
    if let Some(n) = names.iter().find(|n| n.contains('/')) {
        return Err(format!(
            "the resource name '{}' contains '/': give each name segment as its own argument",
            shorten(n)
        ));
    }
    let len = prefix.len()
        + "/providers/".len()
        + trimmed.len()
        + names.iter().map(|n| n.len() + 1).sum::<usize>();
    if len > MAX_ID_LEN {
        return Err(format!(
            "the resource ID would be {len} characters long, more than the {MAX_ID_LEN} allowed"
        ));
    }
    prefix.reserve(len.saturating_sub(prefix.len()));
    prefix.push_str("/providers/");
    prefix.push_str(namespace);
    for (t, n) in types.iter().zip(names) {
        prefix.push('/');
        prefix.push_str(t);
        prefix.push('/');
        prefix.push_str(n);
    }
    Ok(prefix)
}

/// At most 100 characters of a value, for error messages.
fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(100).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

fn level_name(level: ScopeLevel) -> &'static str {
    match level {
        ScopeLevel::ResourceGroup => "resource group",
        ScopeLevel::Subscription => "subscription",
        ScopeLevel::ManagementGroup => "management group",
        ScopeLevel::Tenant => "tenant",
    }
}

// ---------------------------------------------------------------------------
// The *ResourceId functions
// ---------------------------------------------------------------------------

/// All arguments as strings (the ID functions take only strings).
fn string_args<'v>(cx: &Cx<'_, '_>, args: &'v [Value]) -> Result<Vec<&'v str>> {
    let strs = (0..args.len())
        .map(|i| cx.str_arg(args, i))
        .collect::<Result<Vec<&str>>>()?;
    let total: usize = strs.iter().map(|s| s.len()).sum();
    cx.spend(1 + (total / 1024) as u64)?;
    Ok(strs)
}

/// The arguments as Azure quotes them in its errors.
fn quoted_args(args: &[&str]) -> String {
    args.iter()
        .take(20)
        .map(|a| shorten(a))
        .collect::<Vec<_>>()
        .join(",")
}

/// Splits the arguments at the one argument that contains a `/`, the resource
/// type: (arguments before it, type, names).
fn split_at_type<'a, 'v>(
    cx: &Cx<'_, '_>,
    args: &'a [&'v str],
) -> Result<(&'a [&'v str], &'v str, &'a [&'v str])> {
    let mut multi = args
        .iter()
        .enumerate()
        .filter(|(_, a)| a.contains('/'))
        .map(|(i, _)| i);
    let (Some(at), None) = (multi.next(), multi.next()) else {
        return Err(cx.error(format!(
            "function requires exactly one multi-segmented argument which must be resource type including resource provider namespace. Current function arguments '{}'",
            quoted_args(args)
        )));
    };
    let (lead, rest) = args
        .split_at_checked(at)
        .ok_or_else(|| cx.error("internal error: the resource type argument is missing"))?;
    let (ty, names) = rest
        .split_first()
        .ok_or_else(|| cx.error("internal error: the resource type argument is missing"))?;
    Ok((lead, ty, names))
}

fn id_value(cx: &Cx<'_, '_>, r: Result<String>) -> Result<Value> {
    r.map(Value::string).map_err(|e| cx.error(e.message))
}

/// `resourceId([subscriptionId], [resourceGroupName], resourceType, resourceName1, [resourceName2], ...)`
fn resource_id(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let strs = string_args(cx, &args)?;
    let (lead, ty, names) = split_at_type(cx, &strs)?;
    let scope = cx.scope();
    let r = match (lead, scope.level) {
        ([], ScopeLevel::ResourceGroup) => {
            resource_id_at(scope, None, Some(&scope.resource_group), ty, names)
        }
        ([], ScopeLevel::Subscription) => {
            resource_id_at(scope, Some(&scope.subscription_id), None, ty, names)
        }
        ([], ScopeLevel::ManagementGroup | ScopeLevel::Tenant) => {
            resource_id_at(scope, None, None, ty, names)
        }
        ([rg], ScopeLevel::ResourceGroup | ScopeLevel::Subscription) => {
            resource_id_at(scope, None, Some(rg), ty, names)
        }
        ([rg], level @ (ScopeLevel::ManagementGroup | ScopeLevel::Tenant)) => {
            // Validate the arguments, but a resource group without a subscription
            // has no documented meaning where there is no current subscription.
            id_value(cx, resource_id_at(scope, Some("x"), Some(rg), ty, names))?;
            return Ok(Value::unknown(format!(
                "resourceId() with resource group '{}' but no subscription id in a {} deployment, which has no current subscription",
                shorten(rg),
                level_name(level)
            )));
        }
        ([sub, rg], _) => resource_id_at(scope, Some(sub), Some(rg), ty, names),
        _ => {
            return Err(cx.error(format!(
                "at most two arguments (subscriptionId, resourceGroupName) may come before the resource type, got {}. Current function arguments '{}'",
                lead.len(),
                quoted_args(&strs)
            )));
        }
    };
    id_value(cx, r)
}

/// `subscriptionResourceId([subscriptionId], resourceType, resourceName1, [resourceName2], ...)`
fn subscription_resource_id(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let strs = string_args(cx, &args)?;
    let (lead, ty, names) = split_at_type(cx, &strs)?;
    let scope = cx.scope();
    let sub = match lead {
        [sub] => *sub,
        [] => match scope.level {
            ScopeLevel::ResourceGroup | ScopeLevel::Subscription => scope.subscription_id.as_str(),
            level => {
                id_value(cx, resource_id_at(scope, Some("x"), None, ty, names))?;
                return Ok(Value::unknown(format!(
                    "subscriptionResourceId() without a subscription id in a {} deployment, which has no current subscription",
                    level_name(level)
                )));
            }
        },
        _ => {
            return Err(cx.error(format!(
                "at most one argument (subscriptionId) may come before the resource type, got {}. Current function arguments '{}'",
                lead.len(),
                quoted_args(&strs)
            )));
        }
    };
    id_value(cx, resource_id_at(scope, Some(sub), None, ty, names))
}

/// `tenantResourceId(resourceType, resourceName1, [resourceName2], ...)`
fn tenant_resource_id(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let strs = string_args(cx, &args)?;
    let (lead, ty, names) = split_at_type(cx, &strs)?;
    if !lead.is_empty() {
        return Err(cx.error(format!(
            "the first argument must be the resource type including resource provider namespace. Current function arguments '{}'",
            quoted_args(&strs)
        )));
    }
    id_value(cx, resource_id_at(cx.scope(), None, None, ty, names))
}

/// `managementGroupResourceId([managementGroupResourceId], resourceType, resourceName1, [resourceName2], ...)`
fn management_group_resource_id(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let strs = string_args(cx, &args)?;
    let (lead, ty, names) = split_at_type(cx, &strs)?;
    let scope = cx.scope();
    let mg = match lead {
        [mg] => *mg,
        [] if scope.level == ScopeLevel::ManagementGroup => scope.management_group.as_str(),
        [] => {
            id_value(
                cx,
                typed_id(String::new(), ty, names).map_err(EvalError::new),
            )?;
            return Ok(Value::unknown(format!(
                "managementGroupResourceId() without a management group in a {} deployment, which has no current management group",
                level_name(scope.level)
            )));
        }
        _ => {
            return Err(cx.error(format!(
                "at most one argument (the management group) may come before the resource type, got {}. Current function arguments '{}'",
                lead.len(),
                quoted_args(&strs)
            )));
        }
    };
    let r = check_segment("management group name", mg).and_then(|()| {
        typed_id(format!("{MANAGEMENT_GROUPS}{mg}"), ty, names).map_err(EvalError::new)
    });
    id_value(cx, r)
}

/// `extensionResourceId(baseResourceId, resourceType, resourceName1, [resourceName2], ...)`
fn extension_resource_id(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let strs = string_args(cx, &args)?;
    let multi: Vec<usize> = strs
        .iter()
        .enumerate()
        .filter(|(_, a)| a.contains('/'))
        .map(|(i, _)| i)
        .collect();
    let (&[base, ty], names) = (
        strs.first_chunk::<2>()
            .ok_or_else(|| cx.error("needs at least 3 arguments"))?,
        strs.get(2..).unwrap_or_default(),
    );
    if multi != [0, 1] {
        return Err(cx.error(format!(
            "function requires exactly two multi-segmented arguments. The first must be the parent resource id while the second must be resource type including resource provider namespace. Current function arguments '{}'",
            quoted_args(&strs)
        )));
    }
    let prefix = base.trim_end_matches('/').to_string();
    id_value(cx, typed_id(prefix, ty, names).map_err(EvalError::new))
}

// ---------------------------------------------------------------------------
// Scope functions
// ---------------------------------------------------------------------------

fn object(pairs: Vec<(&str, Value)>) -> Value {
    let mut o = Object::with_capacity(pairs.len());
    for (k, v) in pairs {
        o.insert(k, v);
    }
    Value::object(o)
}

/// `resourceGroup()`: only in resource group deployments.
fn resource_group(cx: &mut Cx<'_, '_>, _args: Vec<Value>) -> Result<Value> {
    let s = cx.scope();
    if s.level != ScopeLevel::ResourceGroup {
        return Err(cx.error(format!(
            "resourceGroup() can only be used in a template deployed to a resource group, not in a {} deployment (use a nested deployment that targets a resource group)",
            level_name(s.level)
        )));
    }
    Ok(object(vec![
        (
            "id",
            Value::string(format!(
                "/subscriptions/{}/resourceGroups/{}",
                s.subscription_id, s.resource_group
            )),
        ),
        ("name", Value::string(s.resource_group.as_str())),
        ("type", Value::string("Microsoft.Resources/resourceGroups")),
        (
            "location",
            Value::string(s.resource_group_location.as_str()),
        ),
        (
            "tags",
            Value::unknown(format!(
                "the tags of resource group '{}' are known only to Azure",
                s.resource_group
            )),
        ),
        (
            "properties",
            object(vec![("provisioningState", Value::string("Succeeded"))]),
        ),
    ]))
}

/// `subscription()`: in resource group and subscription deployments.
fn subscription(cx: &mut Cx<'_, '_>, _args: Vec<Value>) -> Result<Value> {
    let s = cx.scope();
    if !matches!(
        s.level,
        ScopeLevel::ResourceGroup | ScopeLevel::Subscription
    ) {
        return Err(cx.error(format!(
            "subscription() can only be used in templates deployed to a resource group or a subscription, not in a {} deployment",
            level_name(s.level)
        )));
    }
    Ok(object(vec![
        (
            "id",
            Value::string(format!("/subscriptions/{}", s.subscription_id)),
        ),
        ("subscriptionId", Value::string(s.subscription_id.as_str())),
        ("tenantId", Value::string(s.tenant_id.as_str())),
        ("displayName", Value::string(s.subscription_name.as_str())),
    ]))
}

/// `tenant()`: at every scope.
fn tenant(cx: &mut Cx<'_, '_>, _args: Vec<Value>) -> Result<Value> {
    let s = cx.scope();
    Ok(object(vec![
        (
            "countryCode",
            Value::unknown("tenant().countryCode is known only at deployment"),
        ),
        (
            "displayName",
            Value::unknown("tenant().displayName is known only at deployment"),
        ),
        ("id", Value::string(format!("/tenants/{}", s.tenant_id))),
        ("tenantId", Value::string(s.tenant_id.as_str())),
    ]))
}

/// `managementGroup()`: only in management group deployments.
fn management_group(cx: &mut Cx<'_, '_>, _args: Vec<Value>) -> Result<Value> {
    let s = cx.scope();
    if s.level != ScopeLevel::ManagementGroup {
        return Err(cx.error(format!(
            "managementGroup() can only be used in a template deployed to a management group, not in a {} deployment",
            level_name(s.level)
        )));
    }
    let mg = &s.management_group;
    Ok(object(vec![
        ("id", Value::string(format!("{MANAGEMENT_GROUPS}{mg}"))),
        ("name", Value::string(mg.as_str())),
        (
            "properties",
            object(vec![
                (
                    "details",
                    Value::unknown(format!(
                        "the details (parent, version) of management group '{mg}' are known only to Azure"
                    )),
                ),
                (
                    "displayName",
                    Value::unknown(format!(
                        "the display name of management group '{mg}' is known only to Azure"
                    )),
                ),
                ("tenantId", Value::string(s.tenant_id.as_str())),
            ]),
        ),
        (
            "type",
            Value::string("/providers/Microsoft.Management/managementGroups"),
        ),
    ]))
}

// ---------------------------------------------------------------------------
// environment(), deployer()
// ---------------------------------------------------------------------------

/// The `environment()` object of global Azure, as the reference shows it.
const AZURE_CLOUD: &[(&str, &str)] = &[
    ("name", "AzureCloud"),
    ("gallery", "https://gallery.azure.com/"),
    ("graph", "https://graph.windows.net/"),
    ("portal", "https://portal.azure.com"),
    ("graphAudience", "https://graph.windows.net/"),
    ("activeDirectoryDataLake", "https://datalake.azure.net/"),
    ("batch", "https://batch.core.windows.net/"),
    ("media", "https://rest.media.azure.net"),
    ("sqlManagement", "https://management.core.windows.net:8443/"),
    (
        "vmImageAliasDoc",
        "https://raw.githubusercontent.com/Azure/azure-rest-api-specs/master/arm-compute/quickstart-templates/aliases.json",
    ),
    ("resourceManager", "https://management.azure.com/"),
];

const AZURE_CLOUD_AUTH_LOGIN: &str = "https://login.microsoftonline.com/";
const AZURE_CLOUD_AUDIENCES: &[&str] = &[
    "https://management.core.windows.net/",
    "https://management.azure.com/",
];

const AZURE_CLOUD_SUFFIXES: &[(&str, &str)] = &[
    ("acrLoginServer", ".azurecr.io"),
    (
        "azureDatalakeAnalyticsCatalogAndJob",
        "azuredatalakeanalytics.net",
    ),
    ("azureDatalakeStoreFileSystem", "azuredatalakestore.net"),
    ("azureFrontDoorEndpointSuffix", "azurefd.net"),
    ("keyvaultDns", ".vault.azure.net"),
    ("sqlServerHostname", ".database.windows.net"),
    ("storage", "core.windows.net"),
];

/// `environment()`: the cloud of [`Scope::cloud`]. Global Azure (`AzureCloud`)
/// is known; for any other cloud only the name is.
fn environment(cx: &mut Cx<'_, '_>, _args: Vec<Value>) -> Result<Value> {
    let cloud = cx.scope().cloud.as_str();
    let known = cloud.eq_ignore_ascii_case("AzureCloud");
    let leaf = |key: &str, value: &str| -> Value {
        if known {
            Value::string(value)
        } else {
            Value::unknown(format!(
                "environment().{key} of cloud '{cloud}' is not known to amlguard"
            ))
        }
    };
    let mut pairs: Vec<(&str, Value)> = AZURE_CLOUD
        .iter()
        .map(|&(k, v)| {
            if k == "name" {
                (k, Value::string(if known { v } else { cloud }))
            } else {
                (k, leaf(k, v))
            }
        })
        .collect();
    pairs.push((
        "authentication",
        object(vec![
            (
                "loginEndpoint",
                leaf("authentication.loginEndpoint", AZURE_CLOUD_AUTH_LOGIN),
            ),
            (
                "audiences",
                if known {
                    Value::array(
                        AZURE_CLOUD_AUDIENCES
                            .iter()
                            .map(|a| Value::string(*a))
                            .collect(),
                    )
                } else {
                    leaf("authentication.audiences", "")
                },
            ),
            ("tenant", leaf("authentication.tenant", "common")),
            (
                "identityProvider",
                leaf("authentication.identityProvider", "AAD"),
            ),
        ]),
    ));
    pairs.push((
        "suffixes",
        object(
            AZURE_CLOUD_SUFFIXES
                .iter()
                .map(|&(k, v)| (k, leaf(k, v)))
                .collect(),
        ),
    ));
    Ok(object(pairs))
}

/// `deployer()`: the principal that deploys; only its tenant is known offline.
fn deployer(cx: &mut Cx<'_, '_>, _args: Vec<Value>) -> Result<Value> {
    let s = cx.scope();
    Ok(object(vec![
        (
            "objectId",
            Value::unknown("deployer().objectId is known only at deployment"),
        ),
        ("tenantId", Value::string(s.tenant_id.as_str())),
        (
            "userPrincipalName",
            Value::unknown("deployer().userPrincipalName is known only at deployment"),
        ),
    ]))
}

// ---------------------------------------------------------------------------
// pickZones(), providers()
// ---------------------------------------------------------------------------

/// `pickZones(providerNamespace, resourceType, location, [numberOfZones], [offset])`:
/// the arguments are checked as the reference states (1 to 3 zones, the
/// offset plus the count at most 3); which zones a region offers is known
/// only to Azure.
fn pick_zones(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let namespace = cx.str_arg(&args, 0)?;
    let resource_type = cx.str_arg(&args, 1)?;
    let location = cx.str_arg(&args, 2)?;
    let count = if args.len() > 3 {
        cx.int_arg(&args, 3)?
    } else {
        1
    };
    let offset = if args.len() > 4 {
        cx.int_arg(&args, 4)?
    } else {
        0
    };
    if !(1..=3).contains(&count) {
        return Err(cx.error(format!(
            "numberOfZones must be an integer from 1 to 3, got {count}"
        )));
    }
    if offset < 0 {
        return Err(cx.error(format!("offset must not be negative, got {offset}")));
    }
    if offset.saturating_add(count) > 3 {
        return Err(cx.error(format!(
            "offset ({offset}) plus numberOfZones ({count}) exceeds the number of zones a region can support (3)"
        )));
    }
    Ok(Value::unknown(format!(
        "the availability zones of '{}' for {}/{} are known only to Azure",
        shorten(location),
        shorten(namespace),
        shorten(resource_type)
    )))
}

/// `providers(providerNamespace, [resourceType])` (deprecated): runtime data of Azure.
fn providers(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let namespace = cx.str_arg(&args, 0)?;
    if args.len() > 1 {
        cx.str_arg(&args, 1)?;
    }
    Ok(Value::unknown(format!(
        "providers('{}') returns Azure's runtime data about the resource provider (the function is deprecated)",
        shorten(namespace)
    )))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::eval::{Budget, Evaluator};
    use crate::expr::parse;
    use crate::testenv::TestEnv;

    const SUB: &str = "00000000-0000-0000-0000-000000000000";

    fn scope_at(level: ScopeLevel) -> Scope {
        Scope {
            level,
            resource_group: "examplegroup".into(),
            resource_group_location: "southcentralus".into(),
            management_group: "examplemg1".into(),
            ..Scope::default()
        }
    }

    fn env_at(level: ScopeLevel) -> TestEnv {
        let mut params = HashMap::new();
        params.insert("lockName".to_string(), Value::string("mylock"));
        params.insert("unknownName".to_string(), Value::unknown("no value"));
        TestEnv {
            params,
            scope: scope_at(level),
            budget: Budget::new(10_000_000),
        }
    }

    fn eval_at(level: ScopeLevel, src: &str) -> Result<Value> {
        let env = env_at(level);
        let e = parse(src).unwrap();
        Evaluator::new(&env).eval(&e)
    }

    fn ok_at(level: ScopeLevel, src: &str) -> String {
        match eval_at(level, src) {
            Ok(v) => v.to_json_text(),
            Err(e) => panic!("{src}: {e}"),
        }
    }

    fn ok(src: &str) -> String {
        ok_at(ScopeLevel::ResourceGroup, src)
    }

    fn err_at(level: ScopeLevel, src: &str) -> String {
        match eval_at(level, src) {
            Ok(v) => panic!("{src}: expected an error, got {v}"),
            Err(e) => e.message,
        }
    }

    fn err(src: &str) -> String {
        err_at(ScopeLevel::ResourceGroup, src)
    }

    fn q(s: &str) -> String {
        format!("\"{s}\"")
    }

    // --- resourceId -------------------------------------------------------

    #[test]
    fn resource_id_doc_examples() {
        // template-functions-resource, "Resource ID example".
        assert_eq!(
            ok("resourceId('Microsoft.Storage/storageAccounts','examplestorage')"),
            q(&format!(
                "/subscriptions/{SUB}/resourceGroups/examplegroup/providers/Microsoft.Storage/storageAccounts/examplestorage"
            ))
        );
        assert_eq!(
            ok(
                "resourceId('otherResourceGroup', 'Microsoft.Storage/storageAccounts','examplestorage')"
            ),
            q(&format!(
                "/subscriptions/{SUB}/resourceGroups/otherResourceGroup/providers/Microsoft.Storage/storageAccounts/examplestorage"
            ))
        );
        assert_eq!(
            ok(
                "resourceId('11111111-1111-1111-1111-111111111111', 'otherResourceGroup', 'Microsoft.Storage/storageAccounts','examplestorage')"
            ),
            q(
                "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/otherResourceGroup/providers/Microsoft.Storage/storageAccounts/examplestorage"
            )
        );
        assert_eq!(
            ok("resourceId('Microsoft.SQL/servers/databases', 'serverName', 'databaseName')"),
            q(&format!(
                "/subscriptions/{SUB}/resourceGroups/examplegroup/providers/Microsoft.SQL/servers/serverName/databases/databaseName"
            ))
        );
    }

    #[test]
    fn resource_id_remarks_examples() {
        assert_eq!(
            ok("resourceId('Microsoft.ServiceBus/namespaces', 'namespace1')"),
            q(&format!(
                "/subscriptions/{SUB}/resourceGroups/examplegroup/providers/Microsoft.ServiceBus/namespaces/namespace1"
            ))
        );
        assert_eq!(
            ok(
                "resourceId('Microsoft.ServiceBus/namespaces/queues/authorizationRules', 'namespace1', 'queue1', 'auth1')"
            ),
            q(&format!(
                "/subscriptions/{SUB}/resourceGroups/examplegroup/providers/Microsoft.ServiceBus/namespaces/namespace1/queues/queue1/authorizationRules/auth1"
            ))
        );
        // Scope functions page: a subnet in another resource group.
        assert_eq!(
            ok(
                "resourceId('vnetRg', 'Microsoft.Network/virtualNetworks/subnets', 'vnet', 'subnet1')"
            ),
            q(&format!(
                "/subscriptions/{SUB}/resourceGroups/vnetRg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/subnet1"
            ))
        );
        // Names are case-insensitive; the values keep their case.
        assert_eq!(
            ok("RESOURCEID('Microsoft.Storage/storageAccounts', 'MyStorage')"),
            q(&format!(
                "/subscriptions/{SUB}/resourceGroups/examplegroup/providers/Microsoft.Storage/storageAccounts/MyStorage"
            ))
        );
    }

    #[test]
    fn resource_id_trailing_slash_of_type_is_ignored() {
        assert_eq!(
            ok("resourceId('rg', 'Microsoft.Network/virtualNetworks/subnets/', 'vnet', 'sn')"),
            q(&format!(
                "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/sn"
            ))
        );
    }

    #[test]
    fn resource_id_errors() {
        // Too few names for a child type.
        let e = err("resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet')");
        assert!(
            e.contains("the type 'Microsoft.Network/virtualNetworks/subnets' requires '2' resource name argument(s)"),
            "{e}"
        );
        // Too many.
        let e = err("resourceId('Microsoft.Storage/storageAccounts', 'a', 'b')");
        assert!(e.contains("requires '1' resource name argument(s)"), "{e}");
        // A name with '/' (a documented Azure error).
        let e = err(
            "resourceId('Microsoft.ServiceBus/namespaces/queues/authorizationRules','my-namespace-name/my-queue-name/my-role-name')",
        );
        assert!(
            e.contains("function requires exactly one multi-segmented argument which must be resource type including resource provider namespace"),
            "{e}"
        );
        assert!(e.starts_with("function 'resourceId'"), "{e}");
        // No type at all.
        let e = err("resourceId('storageAccounts', 'a')");
        assert!(e.contains("exactly one multi-segmented argument"), "{e}");
        // A leading '/' makes an empty namespace: Azure counts 3 names.
        let e = err("resourceId('rg', '/Microsoft.Network/virtualNetworks/subnets/', 'v', 's')");
        assert!(
            e.contains("the type '/Microsoft.Network/virtualNetworks/subnets' requires '3' resource name argument(s)"),
            "{e}"
        );
        let e =
            err("resourceId('rg', '/Microsoft.Network/virtualNetworks/subnets', 'x', 'v', 's')");
        assert!(e.contains("empty segment"), "{e}");
        // Three arguments before the type.
        let e = err("resourceId('s', 'rg', 'x', 'Microsoft.Storage/storageAccounts', 'a')");
        assert!(e.contains("at most two arguments"), "{e}");
        // Argument counts and types.
        let e = err("resourceId('Microsoft.Storage/storageAccounts')");
        assert!(e.contains("at least 2"), "{e}");
        let e = err("resourceId('Microsoft.Storage/storageAccounts', 1)");
        assert!(e.contains("argument 2 to be a string"), "{e}");
    }

    #[test]
    fn resource_id_at_subscription_scope() {
        let sub = ScopeLevel::Subscription;
        assert_eq!(
            ok_at(
                sub,
                "resourceId('Microsoft.Authorization/policyDefinitions', 'p1')"
            ),
            q(&format!(
                "/subscriptions/{SUB}/providers/Microsoft.Authorization/policyDefinitions/p1"
            ))
        );
        assert_eq!(
            ok_at(
                sub,
                "resourceId('rg1', 'Microsoft.Storage/storageAccounts', 'sa')"
            ),
            q(&format!(
                "/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts/sa"
            ))
        );
        assert_eq!(
            ok_at(
                sub,
                "resourceId('s2', 'rg1', 'Microsoft.Storage/storageAccounts', 'sa')"
            ),
            q(
                "/subscriptions/s2/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts/sa"
            )
        );
    }

    #[test]
    fn resource_id_at_management_group_and_tenant_scope() {
        for level in [ScopeLevel::ManagementGroup, ScopeLevel::Tenant] {
            assert_eq!(
                ok_at(
                    level,
                    "resourceId('Microsoft.Authorization/policyDefinitions', 'p1')"
                ),
                q("/providers/Microsoft.Authorization/policyDefinitions/p1")
            );
            assert_eq!(
                ok_at(
                    level,
                    "resourceId('s2', 'rg1', 'Microsoft.Storage/storageAccounts', 'sa')"
                ),
                q(
                    "/subscriptions/s2/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts/sa"
                )
            );
            let v = eval_at(
                level,
                "resourceId('rg1', 'Microsoft.Storage/storageAccounts', 'sa')",
            )
            .unwrap();
            assert!(v.is_unknown());
            let e = err_at(
                level,
                "resourceId('rg1', 'Microsoft.Storage/storageAccounts', 'sa', 'b')",
            );
            assert!(e.contains("requires '1'"), "{e}");
        }
    }

    #[test]
    fn resource_id_with_unknown_argument_is_unknown() {
        let v = eval_at(
            ScopeLevel::ResourceGroup,
            "resourceId('Microsoft.Storage/storageAccounts', parameters('unknownName'))",
        )
        .unwrap();
        assert!(v.is_unknown());
        let v = eval_at(
            ScopeLevel::ResourceGroup,
            "extensionResourceId(resourceGroup().id, 'Microsoft.Authorization/locks', parameters('unknownName'))",
        )
        .unwrap();
        assert!(v.is_unknown());
    }

    // --- subscriptionResourceId, tenantResourceId, managementGroupResourceId

    #[test]
    fn subscription_resource_id_doc_examples() {
        for level in [ScopeLevel::ResourceGroup, ScopeLevel::Subscription] {
            assert_eq!(
                ok_at(
                    level,
                    "subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'acdd72a7-3385-48ef-bd42-f606fba81ae7')"
                ),
                q(&format!(
                    "/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7"
                ))
            );
        }
        // tenantresourceid.json: the ID of the current resource group.
        assert_eq!(
            ok(
                "subscriptionResourceId('Microsoft.Resources/resourceGroups', resourceGroup().name)"
            ),
            q(&format!(
                "/subscriptions/{SUB}/providers/Microsoft.Resources/resourceGroups/examplegroup"
            ))
        );
        assert_eq!(
            ok(
                "subscriptionResourceId('11111111-1111-1111-1111-111111111111', 'Microsoft.Authorization/roleDefinitions', 'r')"
            ),
            q(
                "/subscriptions/11111111-1111-1111-1111-111111111111/providers/Microsoft.Authorization/roleDefinitions/r"
            )
        );
        let e = err(
            "subscriptionResourceId('s', 'rg', 'Microsoft.Authorization/roleDefinitions', 'r')",
        );
        assert!(e.contains("at most one argument"), "{e}");
        let e = err("subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'a/b')");
        assert!(e.contains("exactly one multi-segmented argument"), "{e}");
        let v = eval_at(
            ScopeLevel::ManagementGroup,
            "subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'r')",
        )
        .unwrap();
        assert!(v.is_unknown());
        assert_eq!(
            ok_at(
                ScopeLevel::ManagementGroup,
                "subscriptionResourceId('s1', 'Microsoft.Authorization/roleDefinitions', 'r')"
            ),
            q("/subscriptions/s1/providers/Microsoft.Authorization/roleDefinitions/r")
        );
    }

    #[test]
    fn tenant_resource_id_doc_examples() {
        assert_eq!(
            ok(
                "tenantResourceId('Microsoft.Authorization/policyDefinitions', '0a914e76-4921-4c19-b460-a2d36003525a')"
            ),
            q(
                "/providers/Microsoft.Authorization/policyDefinitions/0a914e76-4921-4c19-b460-a2d36003525a"
            )
        );
        assert_eq!(
            ok_at(
                ScopeLevel::ManagementGroup,
                "tenantResourceId('Microsoft.Management/managementGroups', 'targetMG')"
            ),
            q("/providers/Microsoft.Management/managementGroups/targetMG")
        );
        let e = err("tenantResourceId('x', 'Microsoft.Management/managementGroups', 'mg')");
        assert!(
            e.contains("first argument must be the resource type"),
            "{e}"
        );
        let e = err("tenantResourceId('Microsoft.Management/managementGroups', 'a', 'b')");
        assert!(e.contains("requires '1'"), "{e}");
    }

    #[test]
    fn management_group_resource_id_doc_example() {
        let mg = ScopeLevel::ManagementGroup;
        assert_eq!(
            ok_at(
                mg,
                "managementGroupResourceId('Microsoft.Authorization/policyDefinitions', 'LocationRestriction')"
            ),
            q(
                "/providers/Microsoft.Management/managementGroups/examplemg1/providers/Microsoft.Authorization/policyDefinitions/LocationRestriction"
            )
        );
        assert_eq!(
            ok(
                "managementGroupResourceId('otherMg', 'Microsoft.Authorization/policyDefinitions', 'p')"
            ),
            q(
                "/providers/Microsoft.Management/managementGroups/otherMg/providers/Microsoft.Authorization/policyDefinitions/p"
            )
        );
        let v = eval_at(
            ScopeLevel::ResourceGroup,
            "managementGroupResourceId('Microsoft.Authorization/policyDefinitions', 'p')",
        )
        .unwrap();
        assert!(v.is_unknown());
        let e = err_at(
            mg,
            "managementGroupResourceId('Microsoft.Authorization/policyDefinitions', 'p', 'q')",
        );
        assert!(e.contains("requires '1'"), "{e}");
    }

    // --- extensionResourceId ----------------------------------------------

    #[test]
    fn extension_resource_id_doc_examples() {
        // extensionresourceid.json: a resource group lock.
        assert_eq!(
            ok(
                "extensionResourceId(resourceGroup().Id , 'Microsoft.Authorization/locks', parameters('lockName'))"
            ),
            q(&format!(
                "/subscriptions/{SUB}/resourceGroups/examplegroup/providers/Microsoft.Authorization/locks/mylock"
            ))
        );
        // Management group policy definition.
        assert_eq!(
            ok_at(
                ScopeLevel::ManagementGroup,
                "extensionResourceId(tenantResourceId('Microsoft.Management/managementGroups', 'targetMG'), 'Microsoft.Authorization/policyDefinitions', 'LocationRestriction')"
            ),
            q(
                "/providers/Microsoft.Management/managementGroups/targetMG/providers/Microsoft.Authorization/policyDefinitions/LocationRestriction"
            )
        );
        // On a resource.
        assert_eq!(
            ok(
                "extensionResourceId(resourceId('Microsoft.Storage/storageAccounts', 'sa'), 'Microsoft.Insights/diagnosticSettings', 'd')"
            ),
            q(&format!(
                "/subscriptions/{SUB}/resourceGroups/examplegroup/providers/Microsoft.Storage/storageAccounts/sa/providers/Microsoft.Insights/diagnosticSettings/d"
            ))
        );
        // On a subscription.
        assert_eq!(
            ok(
                "extensionResourceId(subscription().id, 'Microsoft.Authorization/roleAssignments', 'ra')"
            ),
            q(&format!(
                "/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments/ra"
            ))
        );
    }

    #[test]
    fn extension_resource_id_errors() {
        // The documented Azure error: a name with '/'.
        let e = err(
            "extensionResourceId('/providers/Microsoft.Management/managementGroups/ESD', 'Microsoft.Authorization/roleDefinitions', '/subscriptions/x/providers/Microsoft.Authorization/roleDefinitions/y')",
        );
        assert!(
            e.contains("function requires exactly two multi-segmented arguments. The first must be the parent resource id"),
            "{e}"
        );
        let e = err("extensionResourceId('rg', 'Microsoft.Authorization/locks', 'l')");
        assert!(e.contains("exactly two multi-segmented"), "{e}");
        let e = err(
            "extensionResourceId(resourceGroup().id, 'Microsoft.Authorization/locks', 'l', 'm')",
        );
        assert!(e.contains("requires '1'"), "{e}");
        let e = err("extensionResourceId(resourceGroup().id, 'Microsoft.Authorization/locks')");
        assert!(e.contains("at least 3"), "{e}");
    }

    // --- scope functions -----------------------------------------------------

    #[test]
    fn resource_group_doc_example() {
        let v = eval_at(ScopeLevel::ResourceGroup, "resourceGroup()").unwrap();
        let o = v.as_object().unwrap();
        let keys: Vec<&str> = o.keys().collect();
        assert_eq!(
            keys,
            ["id", "name", "type", "location", "tags", "properties"]
        );
        assert_eq!(
            ok("resourceGroup().id"),
            q(&format!("/subscriptions/{SUB}/resourceGroups/examplegroup"))
        );
        assert_eq!(ok("resourceGroup().name"), q("examplegroup"));
        assert_eq!(
            ok("resourceGroup().type"),
            q("Microsoft.Resources/resourceGroups")
        );
        assert_eq!(ok("resourceGroup().location"), q("southcentralus"));
        assert_eq!(
            ok("resourceGroup().properties"),
            r#"{"provisioningState":"Succeeded"}"#
        );
        assert!(
            eval_at(ScopeLevel::ResourceGroup, "resourceGroup().tags.costCenter")
                .unwrap()
                .is_unknown()
        );
        for level in [
            ScopeLevel::Subscription,
            ScopeLevel::ManagementGroup,
            ScopeLevel::Tenant,
        ] {
            let e = err_at(level, "resourceGroup()");
            assert!(e.contains("resource group"), "{e}");
        }
        let e = err("resourceGroup('x')");
        assert!(e.contains("takes 0 arguments"), "{e}");
    }

    #[test]
    fn subscription_doc_format() {
        for level in [ScopeLevel::ResourceGroup, ScopeLevel::Subscription] {
            assert_eq!(
                ok_at(level, "subscription()"),
                format!(
                    r#"{{"id":"/subscriptions/{SUB}","subscriptionId":"{SUB}","tenantId":"{SUB}","displayName":"amlguard-subscription"}}"#
                )
            );
        }
        for level in [ScopeLevel::ManagementGroup, ScopeLevel::Tenant] {
            let e = err_at(level, "subscription()");
            assert!(e.contains("resource group or a subscription"), "{e}");
        }
    }

    #[test]
    fn tenant_doc_format() {
        for level in [
            ScopeLevel::ResourceGroup,
            ScopeLevel::Subscription,
            ScopeLevel::ManagementGroup,
            ScopeLevel::Tenant,
        ] {
            let v = eval_at(level, "tenant()").unwrap();
            let keys: Vec<&str> = v.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["countryCode", "displayName", "id", "tenantId"]);
            assert_eq!(ok_at(level, "tenant().id"), q(&format!("/tenants/{SUB}")));
            assert_eq!(ok_at(level, "tenant().tenantId"), q(SUB));
            assert!(eval_at(level, "tenant().displayName").unwrap().is_unknown());
            assert!(eval_at(level, "tenant().countryCode").unwrap().is_unknown());
        }
    }

    #[test]
    fn management_group_doc_example() {
        let mg = ScopeLevel::ManagementGroup;
        assert_eq!(
            ok_at(mg, "managementGroup().id"),
            q("/providers/Microsoft.Management/managementGroups/examplemg1")
        );
        assert_eq!(ok_at(mg, "managementGroup().name"), q("examplemg1"));
        assert_eq!(
            ok_at(mg, "managementGroup().type"),
            q("/providers/Microsoft.Management/managementGroups")
        );
        assert_eq!(ok_at(mg, "managementGroup().properties.tenantId"), q(SUB));
        assert!(
            eval_at(mg, "managementGroup().properties.details.parent.id")
                .unwrap()
                .is_unknown()
        );
        assert!(
            eval_at(mg, "managementGroup().properties.displayName")
                .unwrap()
                .is_unknown()
        );
        for level in [
            ScopeLevel::ResourceGroup,
            ScopeLevel::Subscription,
            ScopeLevel::Tenant,
        ] {
            let e = err_at(level, "managementGroup()");
            assert!(e.contains("management group"), "{e}");
        }
    }

    // --- environment(), deployer() ------------------------------------------

    #[test]
    fn environment_doc_example() {
        let expected = concat!(
            r#"{"name":"AzureCloud","gallery":"https://gallery.azure.com/","graph":"https://graph.windows.net/","#,
            r#""portal":"https://portal.azure.com","graphAudience":"https://graph.windows.net/","#,
            r#""activeDirectoryDataLake":"https://datalake.azure.net/","batch":"https://batch.core.windows.net/","#,
            r#""media":"https://rest.media.azure.net","sqlManagement":"https://management.core.windows.net:8443/","#,
            r#""vmImageAliasDoc":"https://raw.githubusercontent.com/Azure/azure-rest-api-specs/master/arm-compute/quickstart-templates/aliases.json","#,
            r#""resourceManager":"https://management.azure.com/","#,
            r#""authentication":{"loginEndpoint":"https://login.microsoftonline.com/","#,
            r#""audiences":["https://management.core.windows.net/","https://management.azure.com/"],"#,
            r#""tenant":"common","identityProvider":"AAD"},"#,
            r#""suffixes":{"acrLoginServer":".azurecr.io","azureDatalakeAnalyticsCatalogAndJob":"azuredatalakeanalytics.net","#,
            r#""azureDatalakeStoreFileSystem":"azuredatalakestore.net","azureFrontDoorEndpointSuffix":"azurefd.net","#,
            r#""keyvaultDns":".vault.azure.net","sqlServerHostname":".database.windows.net","storage":"core.windows.net"}}"#
        );
        assert_eq!(ok("environment()"), expected);
        assert_eq!(ok("environment().suffixes.storage"), q("core.windows.net"));
        assert_eq!(
            ok("environment().authentication.audiences[1]"),
            q("https://management.azure.com/")
        );
        assert_eq!(
            ok("environment().suffixes.keyvaultDns"),
            q(".vault.azure.net")
        );
    }

    #[test]
    fn environment_of_another_cloud_is_unknown_except_its_name() {
        let mut env = env_at(ScopeLevel::ResourceGroup);
        env.scope.cloud = "AzureChinaCloud".into();
        let e = parse("environment()").unwrap();
        let v = Evaluator::new(&env).eval(&e).unwrap();
        let o = v.as_object().unwrap();
        assert_eq!(o.get("name").unwrap().as_str(), Some("AzureChinaCloud"));
        assert!(o.get("resourceManager").unwrap().is_unknown());
        let suffixes = o.get("suffixes").unwrap().as_object().unwrap();
        assert!(suffixes.get("storage").unwrap().is_unknown());
        let keys: Vec<&str> = o.keys().collect();
        assert_eq!(keys.len(), 13);
    }

    #[test]
    fn deployer_format() {
        let v = eval_at(ScopeLevel::ResourceGroup, "deployer()").unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["objectId", "tenantId", "userPrincipalName"]);
        assert_eq!(ok("deployer().tenantId"), q(SUB));
        assert!(
            eval_at(ScopeLevel::ResourceGroup, "deployer().objectId")
                .unwrap()
                .is_unknown()
        );
    }

    // --- pickZones(), providers() -------------------------------------------

    #[test]
    fn pick_zones_is_unknown_offline() {
        // pickzones.json: Azure answers ["1"], [], []; offline none is known.
        for src in [
            "pickZones('Microsoft.Compute', 'virtualMachines', 'westus2')",
            "pickZones('Microsoft.Compute', 'virtualMachines', 'westus')",
            "pickZones('Microsoft.Cdn', 'profiles', 'westus2')",
            "pickZones('Microsoft.Compute', 'virtualMachines', 'westus2', 3)",
            "pickZones('Microsoft.Compute', 'virtualMachines', 'westus2', 2, 1)",
        ] {
            assert!(
                eval_at(ScopeLevel::ResourceGroup, src)
                    .unwrap()
                    .is_unknown(),
                "{src}"
            );
        }
        let e = err("pickZones('Microsoft.Compute', 'virtualMachines', 'westus2', 0)");
        assert!(e.contains("from 1 to 3"), "{e}");
        let e = err("pickZones('Microsoft.Compute', 'virtualMachines', 'westus2', 4)");
        assert!(e.contains("from 1 to 3"), "{e}");
        let e = err("pickZones('Microsoft.Compute', 'virtualMachines', 'westus2', 2, 2)");
        assert!(e.contains("exceeds"), "{e}");
        let e = err("pickZones('Microsoft.Compute', 'virtualMachines', 'westus2', 1, -1)");
        assert!(e.contains("negative"), "{e}");
        let e = err("pickZones('Microsoft.Compute', 'virtualMachines')");
        assert!(e.contains("3 to 5"), "{e}");
        let e = err("pickZones('Microsoft.Compute', 'virtualMachines', 'westus2', '1')");
        assert!(e.contains("an integer"), "{e}");
    }

    #[test]
    fn providers_is_unknown() {
        assert!(
            eval_at(
                ScopeLevel::ResourceGroup,
                "providers('Microsoft.Web', 'sites')"
            )
            .unwrap()
            .is_unknown()
        );
        assert!(
            eval_at(ScopeLevel::ResourceGroup, "providers('Microsoft.Web')")
                .unwrap()
                .is_unknown()
        );
        let e = err("providers(1)");
        assert!(e.contains("a string"), "{e}");
    }

    // --- helpers for the expander --------------------------------------------

    #[test]
    fn split_type_cases() {
        assert_eq!(
            split_type("Microsoft.Network/virtualNetworks/subnets"),
            Some(("Microsoft.Network", vec!["virtualNetworks", "subnets"]))
        );
        assert_eq!(
            split_type("Microsoft.Storage/storageAccounts/"),
            Some(("Microsoft.Storage", vec!["storageAccounts"]))
        );
        assert_eq!(split_type("Microsoft.Storage"), None);
        assert_eq!(split_type("/Microsoft.Storage/storageAccounts"), None);
        assert_eq!(split_type("Microsoft.Storage//storageAccounts"), None);
        assert_eq!(split_type(""), None);
        assert_eq!(split_type("/"), None);
    }

    #[test]
    fn resource_id_at_levels() {
        let s = Scope::default();
        assert_eq!(
            resource_id_at(
                &s,
                None,
                Some("rg"),
                "Microsoft.Network/virtualNetworks/subnets",
                &["v", "s"]
            )
            .unwrap(),
            format!(
                "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s"
            )
        );
        assert_eq!(
            resource_id_at(
                &s,
                Some("sub"),
                Some("rg"),
                "Microsoft.Storage/storageAccounts",
                &["a"]
            )
            .unwrap(),
            "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a"
        );
        assert_eq!(
            resource_id_at(
                &s,
                Some("sub"),
                None,
                "Microsoft.Authorization/roleDefinitions",
                &["r"]
            )
            .unwrap(),
            "/subscriptions/sub/providers/Microsoft.Authorization/roleDefinitions/r"
        );
        assert_eq!(
            resource_id_at(
                &s,
                None,
                None,
                "Microsoft.Management/managementGroups",
                &["mg"]
            )
            .unwrap(),
            "/providers/Microsoft.Management/managementGroups/mg"
        );
        let e = resource_id_at(
            &s,
            None,
            None,
            "Microsoft.Network/virtualNetworks/subnets",
            &["v"],
        )
        .unwrap_err();
        assert!(e.message.contains("requires '2'"), "{e}");
        let e = resource_id_at(
            &s,
            None,
            Some("a/b"),
            "Microsoft.Storage/storageAccounts",
            &["x"],
        )
        .unwrap_err();
        assert!(e.message.contains("contains '/'"), "{e}");
        let e = resource_id_at(
            &s,
            None,
            None,
            "Microsoft.Storage/storageAccounts",
            &["x/y"],
        )
        .unwrap_err();
        assert!(e.message.contains("contains '/'"), "{e}");
        let e = resource_id_at(&s, None, None, "storageAccounts", &["x"]).unwrap_err();
        assert!(e.message.contains("not a resource type"), "{e}");
    }

    #[test]
    fn resource_id_at_rejects_huge_ids() {
        let s = Scope::default();
        let big = "x".repeat(MAX_ID_LEN);
        let e = resource_id_at(&s, None, None, "Microsoft.Storage/storageAccounts", &[&big])
            .unwrap_err();
        assert!(e.message.contains("characters long"), "{e}");
    }

    fn parsed(
        sub: Option<&str>,
        rg: Option<&str>,
        ty: &str,
        names: &[&str],
        parent: Option<&str>,
    ) -> ParsedId {
        ParsedId {
            subscription: sub.map(str::to_string),
            resource_group: rg.map(str::to_string),
            full_type: ty.to_string(),
            names: names.iter().map(|n| n.to_string()).collect(),
            parent: parent.map(str::to_string),
        }
    }

    #[test]
    fn parse_resource_id_formats() {
        assert_eq!(
            parse_resource_id(
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/sn"
            ),
            Some(parsed(
                Some("s"),
                Some("rg"),
                "Microsoft.Network/virtualNetworks/subnets",
                &["v", "sn"],
                None
            ))
        );
        // Segment keywords are case-insensitive; values keep their case.
        assert_eq!(
            parse_resource_id(
                "/SUBSCRIPTIONS/S/resourcegroups/RG/PROVIDERS/Microsoft.Storage/storageAccounts/SA"
            ),
            Some(parsed(
                Some("S"),
                Some("RG"),
                "Microsoft.Storage/storageAccounts",
                &["SA"],
                None
            ))
        );
        assert_eq!(
            parse_resource_id(
                "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/r"
            ),
            Some(parsed(
                Some("s"),
                None,
                "Microsoft.Authorization/roleDefinitions",
                &["r"],
                None
            ))
        );
        assert_eq!(
            parse_resource_id("/providers/Microsoft.Authorization/policyDefinitions/p"),
            Some(parsed(
                None,
                None,
                "Microsoft.Authorization/policyDefinitions",
                &["p"],
                None
            ))
        );
        assert_eq!(
            parse_resource_id(
                "/providers/Microsoft.Management/managementGroups/mg/providers/Microsoft.Authorization/policyDefinitions/p"
            ),
            Some(parsed(
                None,
                None,
                "Microsoft.Authorization/policyDefinitions",
                &["p"],
                Some("/providers/Microsoft.Management/managementGroups/mg")
            ))
        );
        assert_eq!(
            parse_resource_id(
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa/providers/Microsoft.Insights/diagnosticSettings/d"
            ),
            Some(parsed(
                Some("s"),
                Some("rg"),
                "Microsoft.Insights/diagnosticSettings",
                &["d"],
                Some(
                    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa"
                )
            ))
        );
        assert_eq!(
            parse_resource_id("/subscriptions/s/resourceGroups/rg"),
            Some(parsed(
                Some("s"),
                Some("rg"),
                "Microsoft.Resources/resourceGroups",
                &["rg"],
                None
            ))
        );
        assert_eq!(
            parse_resource_id("/subscriptions/s"),
            Some(parsed(
                Some("s"),
                None,
                "Microsoft.Resources/subscriptions",
                &["s"],
                None
            ))
        );
        // A resource literally named 'providers' is a name, not a section.
        assert_eq!(
            parse_resource_id("/providers/Microsoft.X/things/providers"),
            Some(parsed(
                None,
                None,
                "Microsoft.X/things",
                &["providers"],
                None
            ))
        );
    }

    #[test]
    fn parse_resource_id_rejects_malformed() {
        for bad in [
            "",
            "/",
            "subscriptions/s/resourceGroups/rg",
            "/subscriptions",
            "/subscriptions/s/resourceGroups",
            "/subscriptions/s/resourceGroups/rg/",
            "/subscriptions/s/resourceGroups/rg/Microsoft.Storage/storageAccounts/sa",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa/blobServices",
            "/subscriptions/s//providers/Microsoft.Storage/storageAccounts/sa",
            "/providers/Microsoft.Storage/storageAccounts/sa/providers",
            "/providers/Microsoft.Storage/storageAccounts/sa/providers/Microsoft.Insights",
            "/tenants/t",
        ] {
            assert_eq!(parse_resource_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn built_ids_parse_back() {
        let s = Scope::default();
        let id = resource_id_at(
            &s,
            Some("sub"),
            Some("rg"),
            "Microsoft.MachineLearningServices/workspaces/computes",
            &["ws", "cpu"],
        )
        .unwrap();
        assert_eq!(
            parse_resource_id(&id),
            Some(parsed(
                Some("sub"),
                Some("rg"),
                "Microsoft.MachineLearningServices/workspaces/computes",
                &["ws", "cpu"],
                None
            ))
        );
        let ext = ok(
            "extensionResourceId(resourceId('Microsoft.KeyVault/vaults', 'kv'), 'Microsoft.Authorization/roleAssignments', 'ra')",
        );
        let ext = ext.trim_matches('"');
        let p = parse_resource_id(ext).unwrap();
        assert_eq!(p.full_type, "Microsoft.Authorization/roleAssignments");
        assert_eq!(p.names, ["ra"]);
        assert_eq!(
            p.parent.as_deref(),
            Some(format!("/subscriptions/{SUB}/resourceGroups/examplegroup/providers/Microsoft.KeyVault/vaults/kv").as_str())
        );
    }
}
