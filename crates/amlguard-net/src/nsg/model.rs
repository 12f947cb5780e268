//! Reading an NSG's security rules from the model.
//!
//! Azure takes the rules of an NSG from two places (docs/azure-ml-network.md
//! §4.7): the inline array `properties.securityRules[]` of the NSG, and child
//! resources of type `Microsoft.Network/networkSecurityGroups/securityRules`.
//! Ingest also turns every inline rule into a child resource (same body, same
//! place); those copies are recognised and skipped here, so a rule is never
//! counted twice. When a rule is declared both inline and on its own under the
//! same name, the separate declaration (deployed after the NSG) replaces the
//! inline one.

use amlguard_model::{Field, Model, Prov, Resource, ResourceKind, Tree, TreeKind, UnknownValue};

use super::{Access, AddressSpec, Direction, PortSpec, ProtocolSpec, Rule, Setting, UnknownPart};

/// The NSG's rules (both directions): inline ones first, in their order, then
/// the separately declared ones in input order. Values not known offline
/// become [`Setting::Unknown`] with an [`UnknownPart`] (the reason and the
/// deciding input); values Azure rejects become [`Setting::Invalid`], which
/// the evaluation reports. Each rule's `prov` points at the rule object.
pub fn rules_from_model(model: &Model, nsg: &Resource) -> Vec<Rule> {
    let mut rules = Vec::new();
    let inline_field = nsg.get("properties.securityRules");
    let inline: &[Tree] = inline_field
        .known()
        .and_then(Tree::as_array)
        .unwrap_or_default();
    let separate = separate_rules(model, nsg, inline);

    match &inline_field {
        Field::Known(t) if t.as_array().is_none() => {
            let at = t.prov.clone().unwrap_or_else(|| nsg.prov.clone());
            let mut r = placeholder("(securityRules)", at);
            r.exists = Setting::Invalid(format!("`securityRules` {t} (an array is expected)"));
            rules.push(r);
        }
        Field::Unknown { value, at } => {
            let mut r = placeholder("(rules not known offline)", at.clone());
            r.unknown.push(part("securityRules", value, at));
            rules.push(r);
        }
        _ => {}
    }

    for item in inline {
        let at = item.prov.clone().unwrap_or_else(|| nsg.prov.clone());
        if let TreeKind::Unknown(u) = &item.kind {
            let mut r = placeholder("(rule not known offline)", at.clone());
            r.unknown.push(part("securityRules", u, &at));
            rules.push(r);
            continue;
        }
        let name_field = item.get_path("name", &at);
        let name = match &name_field {
            Field::Known(t) => t.as_str().map_or_else(|| t.to_string(), str::to_string),
            Field::Unknown { .. } => "(name not known offline)".to_string(),
            Field::Absent { .. } => "(unnamed rule)".to_string(),
        };
        let twin = name_field.str().and_then(|n| {
            separate
                .iter()
                .find(|s| !s.existing && s.short_name().is_some_and(|m| m.eq_ignore_ascii_case(n)))
        });
        let mut rule = read_rule(item, &at, name, false);
        match twin {
            // Deployed after the NSG, the separate declaration replaces this one.
            Some(s) if s.condition == Some(true) => continue,
            Some(s) => {
                rule.exists = Setting::Unknown;
                let value = UnknownValue {
                    reason: format!(
                        "the rule of the same name declared on its own ({}) replaces it when \
                         deployed, and its condition is not known offline",
                        s.display_name()
                    ),
                    input: None,
                    secret: false,
                };
                rule.unknown.push(part("condition", &value, &s.prov));
            }
            None => {}
        }
        if let Field::Unknown { value, at } = &name_field {
            rule.unknown.push(part("name", value, at));
        }
        rules.push(rule);
    }

    for s in &separate {
        // An `existing` reference to a rule declared inline adds nothing.
        let inline_twin = s.existing
            && s.short_name().is_some_and(|n| {
                inline.iter().any(|i| {
                    i.member("name")
                        .and_then(Tree::as_str)
                        .is_some_and(|m| m.eq_ignore_ascii_case(n))
                })
            });
        if inline_twin {
            continue;
        }
        let name = s
            .short_name()
            .map_or_else(|| "(name not known offline)".to_string(), str::to_string);
        let mut rule = read_rule(&s.body, &s.prov, name, s.existing);
        rule.prov = Some(s.prov.clone());
        if s.existing {
            rule.exists = Setting::Unknown;
            rule.unknown.push(part("existing", &elsewhere(), &s.prov));
        } else if s.condition.is_none() {
            rule.exists = Setting::Unknown;
            let value = UnknownValue {
                reason: "whether the rule is deployed (its `condition`) is not known offline"
                    .to_string(),
                input: None,
                secret: false,
            };
            rule.unknown.push(part("condition", &value, &s.prov));
        }
        rules.push(rule);
    }

    if nsg.existing {
        let mut r = placeholder("(rules of an existing NSG)", nsg.prov.clone());
        let value = UnknownValue {
            reason: "the NSG is declared `existing`: its rules are in Azure, not in the input"
                .to_string(),
            input: None,
            secret: false,
        };
        r.unknown.push(part("securityRules", &value, &nsg.prov));
        rules.push(r);
    }
    rules
}

/// Child rule resources of the NSG that are not ingest's copies of inline
/// rules (deployed or referenced as `existing`; not those whose condition is false).
fn separate_rules<'a>(model: &'a Model, nsg: &Resource, inline: &[Tree]) -> Vec<&'a Resource> {
    let Some(nsg_id) = nsg.id.as_deref() else {
        return Vec::new();
    };
    model
        .under(nsg_id)
        .filter(|r| r.kind == ResourceKind::SecurityRule && r.condition != Some(false))
        .filter(|r| {
            !inline
                .iter()
                .any(|i| i.prov.as_ref().unwrap_or(&nsg.prov) == &r.prov && r.body == *i)
        })
        .collect()
}

fn part(field: &str, value: &UnknownValue, at: &Prov) -> UnknownPart {
    UnknownPart {
        field: field.to_string(),
        value: value.clone(),
        at: Some(at.clone()),
    }
}

fn elsewhere() -> UnknownValue {
    UnknownValue {
        reason: "the rule is declared `existing`: its properties are in Azure, not in the input"
            .to_string(),
        input: None,
        secret: false,
    }
}

/// A rule standing for rules whose content is not known at all: it may match
/// anything, in either direction, at any priority, with either access.
fn placeholder(name: &str, at: Prov) -> Rule {
    Rule {
        name: name.to_string(),
        priority: Setting::Unknown,
        direction: Setting::Unknown,
        access: Setting::Unknown,
        protocol: Setting::Unknown,
        source: vec![Setting::Unknown],
        source_ports: vec![Setting::Unknown],
        destination: vec![Setting::Unknown],
        destination_ports: vec![Setting::Unknown],
        exists: Setting::Unknown,
        default: false,
        unknown: Vec::new(),
        prov: Some(at),
    }
}

/// Reads one rule object (`{name, properties: {…}}`).
fn read_rule(body: &Tree, at: &Prov, name: String, elsewhere: bool) -> Rule {
    let mut r = Reader {
        body,
        at,
        elsewhere,
        unknown: Vec::new(),
    };
    let priority = r.scalar("priority", priority);
    let direction = r.scalar("direction", |t| t.as_str().and_then(Direction::parse));
    let access = r.scalar("access", |t| t.as_str().and_then(Access::parse));
    let protocol = r.scalar("protocol", |t| t.as_str().and_then(ProtocolSpec::parse));
    let mut source = r.list(
        &["sourceAddressPrefix", "sourceAddressPrefixes"],
        AddressSpec::parse,
    );
    source.extend(r.asgs("sourceApplicationSecurityGroups"));
    let source = r.or_elsewhere(source, "sourceAddressPrefix");
    let source_ports = r.list(&["sourcePortRange", "sourcePortRanges"], PortSpec::parse);
    let source_ports = r.or_elsewhere(source_ports, "sourcePortRange");
    let mut destination = r.list(
        &["destinationAddressPrefix", "destinationAddressPrefixes"],
        AddressSpec::parse,
    );
    destination.extend(r.asgs("destinationApplicationSecurityGroups"));
    let destination = r.or_elsewhere(destination, "destinationAddressPrefix");
    let destination_ports = r.list(
        &["destinationPortRange", "destinationPortRanges"],
        PortSpec::parse,
    );
    let destination_ports = r.or_elsewhere(destination_ports, "destinationPortRange");
    Rule {
        name,
        priority,
        direction,
        access,
        protocol,
        source,
        source_ports,
        destination,
        destination_ports,
        exists: Setting::Known(true),
        default: false,
        unknown: r.unknown,
        prov: Some(at.clone()),
    }
}

/// Azure accepts priorities 100–4096 for the user's rules.
fn priority(t: &Tree) -> Option<u32> {
    let n = match t.as_int() {
        Some(n) => n,
        None => t.as_str()?.trim().parse::<i64>().ok()?,
    };
    u32::try_from(n).ok().filter(|p| (100..=4096).contains(p))
}

/// The text of a value, for messages: a string as written, else its display.
fn text(t: &Tree) -> String {
    match &t.kind {
        TreeKind::String(s) => s.clone(),
        TreeKind::Int(i) => i.to_string(),
        _ => t.to_string(),
    }
}

struct Reader<'a> {
    body: &'a Tree,
    at: &'a Prov,
    /// Declared `existing`: absent properties are in Azure, hence unknown.
    elsewhere: bool,
    unknown: Vec<UnknownPart>,
}

impl<'a> Reader<'a> {
    fn field(&self, prop: &str) -> Field<'a> {
        self.body.get_path(&format!("properties.{prop}"), self.at)
    }

    /// A required single value.
    fn scalar<T>(&mut self, prop: &str, parse: impl Fn(&Tree) -> Option<T>) -> Setting<T> {
        match self.field(prop) {
            Field::Known(t) => match parse(t) {
                Some(v) => Setting::Known(v),
                None => Setting::Invalid(text(t)),
            },
            Field::Unknown { value, at } => {
                let p = part(prop, value, &at);
                self.unknown.push(p);
                Setting::Unknown
            }
            Field::Absent { at } => {
                if self.elsewhere {
                    self.unknown.push(part(prop, &elsewhere(), &at));
                    Setting::Unknown
                } else {
                    Setting::Invalid(String::new())
                }
            }
        }
    }

    /// The items of a single-value property and its plural (array) form,
    /// together. Empty strings and empty arrays are ignored (exported
    /// templates write both forms, one of them empty).
    fn list<T>(&mut self, props: &[&str], parse: fn(&str) -> Setting<T>) -> Vec<Setting<T>> {
        let mut out = Vec::new();
        for prop in props {
            match self.field(prop) {
                Field::Known(t) => match &t.kind {
                    TreeKind::Array(items) => {
                        for item in items {
                            out.extend(self.item(prop, item, t.prov.as_ref(), parse));
                        }
                    }
                    _ => out.extend(self.item(prop, t, None, parse)),
                },
                Field::Unknown { value, at } => {
                    let p = part(prop, value, &at);
                    self.unknown.push(p);
                    out.push(Setting::Unknown);
                }
                Field::Absent { .. } => {}
            }
        }
        out
    }

    fn item<T>(
        &mut self,
        prop: &str,
        item: &Tree,
        parent: Option<&Prov>,
        parse: fn(&str) -> Setting<T>,
    ) -> Option<Setting<T>> {
        match &item.kind {
            TreeKind::String(s) if s.trim().is_empty() => None,
            TreeKind::String(s) => Some(parse(s)),
            TreeKind::Int(i) => Some(parse(&i.to_string())),
            TreeKind::Null => None,
            TreeKind::Unknown(u) => {
                let at = item.prov.as_ref().or(parent).unwrap_or(self.at);
                self.unknown.push(part(prop, u, at));
                Some(Setting::Unknown)
            }
            _ => Some(Setting::Invalid(text(item))),
        }
    }

    /// `…ApplicationSecurityGroups[].id`.
    fn asgs(&mut self, prop: &str) -> Vec<Setting<AddressSpec>> {
        let mut out = Vec::new();
        match self.field(prop) {
            Field::Known(t) => match t.as_array() {
                Some(items) => {
                    for item in items {
                        let at = item
                            .prov
                            .clone()
                            .or_else(|| t.prov.clone())
                            .unwrap_or_else(|| self.at.clone());
                        match item.get_path("id", &at) {
                            Field::Known(id) => match id.as_str() {
                                Some(s) if !s.trim().is_empty() => {
                                    out.push(Setting::Known(AddressSpec::Asg(
                                        s.trim().to_string(),
                                    )));
                                }
                                _ => out.push(Setting::Invalid(text(id))),
                            },
                            Field::Unknown { value, at } => {
                                let p = part(prop, value, &at);
                                self.unknown.push(p);
                                out.push(Setting::Unknown);
                            }
                            Field::Absent { .. } => out.push(Setting::Invalid(text(item))),
                        }
                    }
                }
                None => out.push(Setting::Invalid(text(t))),
            },
            Field::Unknown { value, at } => {
                let p = part(prop, value, &at);
                self.unknown.push(p);
                out.push(Setting::Unknown);
            }
            Field::Absent { .. } => {}
        }
        out
    }

    /// For an `existing` rule, nothing written means not known.
    fn or_elsewhere<T>(&mut self, items: Vec<Setting<T>>, prop: &str) -> Vec<Setting<T>> {
        if items.is_empty() && self.elsewhere {
            let at = self.at.clone();
            self.unknown.push(part(prop, &elsewhere(), &at));
            return vec![Setting::Unknown];
        }
        items
    }
}
