//! Array, object, comparison, logical, numeric, lambda and CIDR functions.
//!
//! Semantics follow Microsoft's ARM template function reference
//! (`template-functions-array`, `-object`, `-comparison`, `-logical`,
//! `-numeric`, `-lambda`, `-cidr`). Several functions are polymorphic over
//! strings and arrays (`concat`, `contains`, `empty`, `first`, `last`,
//! `indexOf`, `lastIndexOf`, `length`, `skip`, `take`); they live here with
//! both behaviours.
//!
//! Strings are measured and cut in UTF-16 code units, as .NET (and so Azure)
//! does.
//!
//! Unknowns: a top-level unknown argument makes most results unknown before the
//! function runs (`propagate_unknown`). Unknowns nested in arrays and objects
//! are carried along by structural functions (`createArray`, `union`,
//! `length`, ...) and make the result unknown where a leaf must be inspected
//! and the answer is not decided anyway (`contains`, `indexOf`, `max`, ...).

use std::cmp::Ordering;
use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use amlguard_source::{Document, Limits, Node, NodeKind, Number};

use crate::eval::{Cx, FnDef, NativeFn, Result};
use crate::value::{Kind, Object, Tri, Unknown, Value, format_float};

/// Longest string a function here builds.
const MAX_STRING_BYTES: usize = 16 << 20;
/// Most elements an array built here may have.
const MAX_ITEMS: usize = 1 << 20;
/// Deepest nesting `json()` and `union()` accept.
const MAX_DEPTH: usize = 256;
/// Largest `count` of `range()` (Microsoft's reference: "up to 10000").
const MAX_RANGE: i64 = 10_000;
const ANY: usize = usize::MAX;

const fn def(
    name: &'static str,
    min_args: usize,
    max_args: usize,
    propagate_unknown: bool,
    f: NativeFn,
) -> FnDef {
    FnDef {
        name,
        min_args,
        max_args,
        propagate_unknown,
        f,
    }
}

pub const DEFS: &[FnDef] = &[
    // Array functions.
    def("array", 1, 1, true, array),
    def("concat", 1, ANY, true, concat),
    def("contains", 2, 2, true, contains),
    def("createArray", 0, ANY, false, create_array),
    def("empty", 1, 1, true, empty),
    def("first", 1, 1, true, first),
    def("flatten", 1, 1, true, flatten),
    def("indexFromEnd", 2, 2, true, index_from_end),
    def("indexOf", 2, 2, true, index_of),
    def("intersection", 2, ANY, true, intersection),
    def("last", 1, 1, true, last),
    def("lastIndexOf", 2, 2, true, last_index_of),
    def("length", 1, 1, true, length),
    def("max", 1, ANY, true, max),
    def("min", 1, ANY, true, min),
    def("range", 2, 2, true, range),
    def("skip", 2, 2, true, skip),
    def("take", 2, 2, true, take),
    def("tryIndexFromEnd", 2, 2, true, try_index_from_end),
    def("union", 2, ANY, true, union),
    // Object functions.
    def("createObject", 0, ANY, false, create_object),
    def("items", 1, 1, true, items),
    def("json", 1, 1, true, json),
    def("null", 0, 0, true, null),
    def("objectKeys", 1, 1, true, object_keys),
    def("shallowMerge", 1, 1, true, shallow_merge),
    def("tryGet", 2, ANY, true, try_get),
    // Comparison functions.
    def("coalesce", 1, ANY, false, coalesce),
    def("equals", 2, 2, true, equals),
    def("greater", 2, 2, true, greater),
    def("greaterOrEquals", 2, 2, true, greater_or_equals),
    def("less", 2, 2, true, less),
    def("lessOrEquals", 2, 2, true, less_or_equals),
    // Logical functions (`and`, `or` and `if` are special forms of the evaluator).
    def("bool", 1, 1, true, bool_fn),
    def("false", 0, 0, true, false_fn),
    def("not", 1, 1, true, not),
    def("true", 0, 0, true, true_fn),
    // Numeric functions.
    def("add", 2, 2, true, add),
    def("div", 2, 2, true, div),
    def("float", 1, 1, true, float),
    def("int", 1, 1, true, int),
    def("mod", 2, 2, true, modulo),
    def("mul", 2, 2, true, mul),
    def("sub", 2, 2, true, sub),
    // Lambda functions.
    def("filter", 2, 2, true, filter),
    def("groupBy", 2, 3, true, group_by),
    def("map", 2, 2, true, map),
    def("mapValues", 2, 2, true, map_values),
    def("reduce", 3, 3, true, reduce),
    def("sort", 2, 2, true, sort),
    def("toObject", 2, 3, true, to_object),
    // CIDR functions.
    def("cidrHost", 2, 2, true, cidr_host),
    def("cidrSubnet", 3, 3, true, cidr_subnet),
    def("parseCidr", 1, 1, true, parse_cidr),
];

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn arg<'v>(cx: &Cx<'_, '_>, args: &'v [Value], i: usize) -> Result<&'v Value> {
    args.get(i)
        .ok_or_else(|| cx.error(format!("needs argument {}", i + 1)))
}

fn lambda_arg<'v>(cx: &Cx<'_, '_>, args: &'v [Value], i: usize) -> Result<&'v Value> {
    let v = arg(cx, args, i)?;
    match v.kind {
        Kind::Lambda(_) => Ok(v),
        _ => Err(cx.type_error(i, "a lambda", v)),
    }
}

/// A new unknown value carrying the same explanation.
fn unknown_from(u: &Unknown) -> Value {
    Value::unknown_with(u.clone())
}

/// The unknown that makes a comparison of `a` and `b` undecided.
fn unknown_of(a: &Value, b: &Value) -> Value {
    match a.first_unknown().or_else(|| b.first_unknown()) {
        Some(u) => unknown_from(u),
        None => Value::unknown("a comparison involves a value that is not known"),
    }
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Spends budget for work linear in the size of a string or an array.
fn spend_linear(cx: &Cx<'_, '_>, v: &Value) -> Result<()> {
    match &v.kind {
        Kind::String(s) => cx.spend(count(s.len() / 64 + 1)),
        Kind::Array(a) => cx.spend(count(a.len() / 8 + 1)),
        _ => Ok(()),
    }
}

fn check_items(cx: &Cx<'_, '_>, n: usize) -> Result<()> {
    if n > MAX_ITEMS {
        return Err(cx.error(format!(
            "the result would have {n} elements, more than the limit of {MAX_ITEMS}"
        )));
    }
    Ok(())
}

fn check_string(cx: &Cx<'_, '_>, n: usize) -> Result<()> {
    if n > MAX_STRING_BYTES {
        return Err(cx.error(format!(
            "the result would be a string of {n} bytes, more than the limit of {MAX_STRING_BYTES}"
        )));
    }
    Ok(())
}

/// Length of a string in UTF-16 code units (.NET's `String.Length`).
fn utf16_len(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().map(char::len_utf16).sum()
    }
}

/// The UTF-16 code units `start..end` of a string (a split surrogate pair becomes U+FFFD).
fn utf16_slice(s: &str, start: usize, end: usize) -> String {
    if s.is_ascii() {
        let end = end.min(s.len());
        return s.get(start.min(end)..end).unwrap_or_default().to_string();
    }
    let units: Vec<u16> = s
        .encode_utf16()
        .skip(start)
        .take(end.saturating_sub(start))
        .collect();
    String::from_utf16_lossy(&units)
}

/// How `string()` and `concat()` write a scalar.
fn scalar_text(v: &Value) -> Option<String> {
    match &v.kind {
        Kind::String(s) => Some(s.to_string()),
        Kind::Int(i) => Some(i.to_string()),
        Kind::Float(f) => Some(format_float(*f)),
        Kind::Bool(b) => Some(if *b { "True" } else { "False" }.to_string()),
        Kind::Null => Some(String::new()),
        _ => None,
    }
}

/// Three-valued search: the first index whose element equals `item`; an
/// element that cannot be compared before the first match makes it undecided.
fn find_index<'a>(
    items: impl Iterator<Item = (usize, &'a Value)>,
    item: &Value,
) -> std::result::Result<Option<usize>, Value> {
    let mut undecided: Option<Value> = None;
    for (i, x) in items {
        match x.loose_eq(item) {
            Tri::True => {
                return match undecided {
                    Some(u) => Err(u),
                    None => Ok(Some(i)),
                };
            }
            Tri::False => {}
            Tri::Unknown => {
                if undecided.is_none() {
                    undecided = Some(unknown_of(x, item));
                }
            }
        }
    }
    match undecided {
        Some(u) => Err(u),
        None => Ok(None),
    }
}

/// Ordinal case-insensitive folding of one character (.NET's `OrdinalIgnoreCase`).
fn fold_upper(c: char) -> char {
    let mut up = c.to_uppercase();
    match (up.next(), up.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// Case-insensitive substring search; the result is a UTF-16 index.
fn string_index(hay: &str, needle: &str, from_end: bool) -> i64 {
    let fold = |s: &str| -> String { s.chars().map(fold_upper).collect() };
    let (h, n) = (fold(hay), fold(needle));
    let found = if from_end { h.rfind(&n) } else { h.find(&n) };
    match found {
        None => -1,
        Some(byte) => {
            let chars = h.get(..byte).map(|p| p.chars().count()).unwrap_or(0);
            to_i64(hay.chars().take(chars).map(char::len_utf16).sum())
        }
    }
}

/// String ordering of `less`/`greater`: Azure compares strings with a
/// culture-aware comparer (its reference shows `greater('A', 'a')` is true):
/// letters compare ignoring case first, then lower case sorts before upper
/// case; punctuation sorts before digits, digits before letters.
fn culture_cmp(a: &str, b: &str) -> Ordering {
    fn lower(c: char) -> char {
        let mut l = c.to_lowercase();
        match (l.next(), l.next()) {
            (Some(x), None) => x,
            _ => c,
        }
    }
    fn primary(c: char) -> (u8, char) {
        let class = if c.is_alphabetic() {
            2
        } else if c.is_numeric() {
            1
        } else {
            0
        };
        (class, lower(c))
    }
    let p = a.chars().map(primary).cmp(b.chars().map(primary));
    if p != Ordering::Equal {
        return p;
    }
    for (x, y) in a.chars().zip(b.chars()) {
        if x != y {
            return match (x.is_lowercase(), y.is_lowercase()) {
                (true, false) => Ordering::Less,
                (false, true) => Ordering::Greater,
                _ => x.cmp(&y),
            };
        }
    }
    a.len().cmp(&b.len())
}

// ---------------------------------------------------------------------------
// Array functions
// ---------------------------------------------------------------------------

fn array(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let v = arg(cx, &args, 0)?;
    match v.kind {
        Kind::Array(_) => Ok(v.clone()),
        Kind::Null => Ok(Value::array(Vec::new())),
        Kind::Lambda(_) => Err(cx.type_error(0, "a value", v)),
        _ => Ok(Value::array(vec![v.clone()])),
    }
}

fn concat(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    if args.iter().any(|a| matches!(a.kind, Kind::Array(_))) {
        let mut out = Vec::new();
        for (i, a) in args.iter().enumerate() {
            match &a.kind {
                Kind::Array(items) => {
                    cx.spend(count(items.len()))?;
                    check_items(cx, out.len().saturating_add(items.len()))?;
                    out.extend(items.iter().cloned());
                }
                Kind::Null => {}
                _ => {
                    return Err(cx.error(format!(
                        "either all or none of the arguments must be arrays (argument {} is {})",
                        i + 1,
                        a.type_name()
                    )));
                }
            }
        }
        return Ok(Value::array(out));
    }
    let mut s = String::new();
    for (i, a) in args.iter().enumerate() {
        let t = scalar_text(a)
            .ok_or_else(|| cx.type_error(i, "a string, an integer, a boolean or an array", a))?;
        check_string(cx, s.len().saturating_add(t.len()))?;
        cx.spend(count(t.len() / 64 + 1))?;
        s.push_str(&t);
    }
    Ok(Value::string(s))
}

fn contains(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let c = arg(cx, &args, 0)?;
    let item = arg(cx, &args, 1)?;
    match &c.kind {
        Kind::String(s) => {
            let needle = match &item.kind {
                Kind::String(t) => t.to_string(),
                Kind::Int(n) => n.to_string(),
                _ => return Err(cx.type_error(1, "a string or an integer", item)),
            };
            cx.spend(count(s.len() / 64 + 1))?;
            Ok(Value::bool(s.contains(needle.as_str())))
        }
        Kind::Array(a) => {
            cx.spend(count(a.len()))?;
            match find_index(a.iter().enumerate(), item) {
                Ok(found) => Ok(Value::bool(found.is_some())),
                // A known match decides it even after an undecided element.
                Err(u) => {
                    if a.iter().any(|x| x.loose_eq(item) == Tri::True) {
                        Ok(Value::bool(true))
                    } else {
                        Ok(u)
                    }
                }
            }
        }
        Kind::Object(o) => {
            let key = match &item.kind {
                Kind::String(t) => t.to_string(),
                Kind::Int(n) => n.to_string(),
                _ => return Err(cx.type_error(1, "a string or an integer", item)),
            };
            match o.open() {
                // A deployed resource may have the property at run time.
                Some(u) if !o.contains_key(&key) => Ok(Value::new(Kind::Unknown(u.clone()))),
                _ => Ok(Value::bool(o.contains_key(&key))),
            }
        }
        _ => Err(cx.type_error(0, "an array, an object or a string", c)),
    }
}

fn create_array(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    check_items(cx, args.len())?;
    if let Some((i, l)) = args
        .iter()
        .enumerate()
        .find(|(_, a)| matches!(a.kind, Kind::Lambda(_)))
    {
        return Err(cx.type_error(i, "a value", l));
    }
    Ok(Value::array(args))
}

fn empty(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let v = arg(cx, &args, 0)?;
    let e = match &v.kind {
        Kind::Null => true,
        Kind::String(s) => s.is_empty(),
        Kind::Array(a) => a.is_empty(),
        Kind::Object(o) => o.is_empty(),
        _ => return Err(cx.type_error(0, "an array, an object or a string", v)),
    };
    Ok(Value::bool(e))
}

fn first(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let v = arg(cx, &args, 0)?;
    match &v.kind {
        Kind::String(s) => Ok(Value::string(utf16_slice(s, 0, 1))),
        Kind::Array(a) => Ok(a.first().cloned().unwrap_or_else(Value::null)),
        Kind::Null => Ok(Value::null()),
        _ => Err(cx.type_error(0, "an array or a string", v)),
    }
}

fn last(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let v = arg(cx, &args, 0)?;
    match &v.kind {
        Kind::String(s) => {
            cx.spend(count(s.len() / 64 + 1))?;
            let n = utf16_len(s);
            Ok(Value::string(utf16_slice(s, n.saturating_sub(1), n)))
        }
        Kind::Array(a) => Ok(a.last().cloned().unwrap_or_else(Value::null)),
        Kind::Null => Ok(Value::null()),
        _ => Err(cx.type_error(0, "an array or a string", v)),
    }
}

fn flatten(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let a = cx.array_arg(&args, 0)?;
    let mut out = Vec::new();
    for (i, x) in a.iter().enumerate() {
        match &x.kind {
            Kind::Array(inner) => {
                cx.spend(count(inner.len()))?;
                check_items(cx, out.len().saturating_add(inner.len()))?;
                out.extend(inner.iter().cloned());
            }
            // The elements an unknown array would contribute are not known.
            Kind::Unknown(u) => return Ok(unknown_from(u)),
            _ => {
                return Err(cx.error(format!(
                    "expects an array of arrays, element {i} is {}",
                    x.type_name()
                )));
            }
        }
    }
    Ok(Value::array(out))
}

fn index_from_end(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let a = cx.array_arg(&args, 0)?;
    let n = cx.int_arg(&args, 1)?;
    from_end(a, n).ok_or_else(|| {
        cx.error(format!(
            "index {n} from the end is outside the array (length {}); it must be between 1 and the length",
            a.len()
        ))
    })
}

fn try_index_from_end(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let a = cx.array_arg(&args, 0)?;
    let n = cx.int_arg(&args, 1)?;
    Ok(from_end(a, n).unwrap_or_else(Value::null))
}

fn from_end(a: &[Value], n: i64) -> Option<Value> {
    let n = usize::try_from(n).ok()?;
    if n == 0 {
        return None;
    }
    a.len().checked_sub(n).and_then(|i| a.get(i)).cloned()
}

fn index_of(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    index_of_impl(cx, &args, false)
}

fn last_index_of(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    index_of_impl(cx, &args, true)
}

fn index_of_impl(cx: &Cx<'_, '_>, args: &[Value], from_end: bool) -> Result<Value> {
    let c = arg(cx, args, 0)?;
    let item = arg(cx, args, 1)?;
    match &c.kind {
        Kind::Array(a) => {
            cx.spend(count(a.len()))?;
            let found = if from_end {
                find_index(a.iter().enumerate().rev(), item)
            } else {
                find_index(a.iter().enumerate(), item)
            };
            match found {
                Ok(Some(i)) => Ok(Value::int(to_i64(i))),
                Ok(None) => Ok(Value::int(-1)),
                Err(u) => Ok(u),
            }
        }
        Kind::String(s) => {
            let needle = match &item.kind {
                Kind::String(t) => t,
                Kind::Unknown(u) => return Ok(unknown_from(u)),
                _ => return Err(cx.type_error(1, "a string", item)),
            };
            cx.spend(count(s.len() / 64 + 1))?;
            Ok(Value::int(string_index(s, needle, from_end)))
        }
        _ => Err(cx.type_error(0, "an array or a string", c)),
    }
}

fn intersection(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let head = arg(cx, &args, 0)?;
    match &head.kind {
        Kind::Array(first) => {
            let mut others = Vec::new();
            for (i, a) in args.iter().enumerate().skip(1) {
                others.push(
                    a.as_array()
                        .ok_or_else(|| cx.type_error(i, "an array like argument 1", a))?,
                );
            }
            let mut out: Vec<Value> = Vec::new();
            for x in first.iter() {
                let mut keep = true;
                for other in &others {
                    cx.spend(count(other.len()))?;
                    match find_index(other.iter().enumerate(), x) {
                        Ok(Some(_)) => {}
                        Ok(None) => {
                            keep = false;
                            break;
                        }
                        Err(u) => return Ok(u),
                    }
                }
                if !keep {
                    continue;
                }
                cx.spend(count(out.len()))?;
                match find_index(out.iter().enumerate(), x) {
                    Ok(Some(_)) => {}
                    Ok(None) => out.push(x.clone()),
                    Err(u) => return Ok(u),
                }
            }
            Ok(Value::array(out))
        }
        Kind::Object(first) => {
            let mut others = Vec::new();
            for (i, a) in args.iter().enumerate().skip(1) {
                others.push(
                    a.as_object()
                        .ok_or_else(|| cx.type_error(i, "an object like argument 1", a))?,
                );
            }
            let mut out = Object::new();
            for (k, v) in first.iter() {
                cx.spend(count(others.len()))?;
                let mut keep = true;
                for other in &others {
                    match other.get(k) {
                        None => {
                            keep = false;
                            break;
                        }
                        Some(w) => match v.loose_eq(w) {
                            Tri::True => {}
                            Tri::False => {
                                keep = false;
                                break;
                            }
                            Tri::Unknown => return Ok(unknown_of(v, w)),
                        },
                    }
                }
                if keep {
                    out.insert(k, v.clone());
                }
            }
            Ok(Value::object(out))
        }
        _ => Err(cx.type_error(0, "an array or an object", head)),
    }
}

fn length(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let v = arg(cx, &args, 0)?;
    if let Kind::String(s) = &v.kind {
        cx.spend(count(s.len() / 64 + 1))?;
    }
    let n = match &v.kind {
        Kind::String(s) => utf16_len(s),
        Kind::Array(a) => a.len(),
        Kind::Object(o) => o.len(),
        _ => return Err(cx.type_error(0, "an array, an object or a string", v)),
    };
    Ok(Value::int(to_i64(n)))
}

fn max(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    extreme(cx, &args, Ordering::Greater)
}

fn min(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    extreme(cx, &args, Ordering::Less)
}

fn extreme(cx: &Cx<'_, '_>, args: &[Value], want: Ordering) -> Result<Value> {
    let items: &[Value] = match args {
        [only] => match &only.kind {
            Kind::Array(a) => a,
            _ => args,
        },
        _ => args,
    };
    cx.spend(count(items.len()))?;
    let mut best: Option<&Value> = None;
    for (i, x) in items.iter().enumerate() {
        match &x.kind {
            Kind::Int(_) | Kind::Float(_) => {}
            Kind::Unknown(u) => return Ok(unknown_from(u)),
            _ => {
                return Err(cx.error(format!(
                    "expects integers or an array of integers, element {} is {}",
                    i + 1,
                    x.type_name()
                )));
            }
        }
        best = match best {
            Some(b) if num_cmp(x, b) != Some(want) => Some(b),
            _ => Some(x),
        };
    }
    best.cloned()
        .ok_or_else(|| cx.error("expects at least one integer (the array is empty)"))
}

fn num_cmp(a: &Value, b: &Value) -> Option<Ordering> {
    match (&a.kind, &b.kind) {
        (Kind::Int(x), Kind::Int(y)) => Some(x.cmp(y)),
        (Kind::Int(x), Kind::Float(y)) => (*x as f64).partial_cmp(y),
        (Kind::Float(x), Kind::Int(y)) => x.partial_cmp(&(*y as f64)),
        (Kind::Float(x), Kind::Float(y)) => x.partial_cmp(y),
        _ => None,
    }
}

fn range(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let start = cx.int_arg(&args, 0)?;
    let n = cx.int_arg(&args, 1)?;
    if !(0..=MAX_RANGE).contains(&n) {
        return Err(cx.error(format!(
            "the count must be between 0 and {MAX_RANGE}, got {n}"
        )));
    }
    if start.checked_add(n).is_none_or(|end| end > 2_147_483_647) {
        return Err(cx.error(format!(
            "the sum of the start index ({start}) and the count ({n}) must be at most 2147483647"
        )));
    }
    cx.spend(count(usize::try_from(n).unwrap_or(0)))?;
    Ok(Value::array((start..start + n).map(Value::int).collect()))
}

fn skip(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let v = arg(cx, &args, 0)?;
    let n = usize::try_from(cx.int_arg(&args, 1)?.max(0)).unwrap_or(usize::MAX);
    spend_linear(cx, v)?;
    match &v.kind {
        Kind::Array(a) => Ok(Value::array(a.iter().skip(n).cloned().collect())),
        Kind::String(s) => Ok(Value::string(utf16_slice(s, n, usize::MAX))),
        _ => Err(cx.type_error(0, "an array or a string", v)),
    }
}

fn take(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let v = arg(cx, &args, 0)?;
    let n = usize::try_from(cx.int_arg(&args, 1)?.max(0)).unwrap_or(usize::MAX);
    spend_linear(cx, v)?;
    match &v.kind {
        Kind::Array(a) => Ok(Value::array(a.iter().take(n).cloned().collect())),
        Kind::String(s) => Ok(Value::string(utf16_slice(s, 0, n))),
        _ => Err(cx.type_error(0, "an array or a string", v)),
    }
}

fn union(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let is_array = args
        .iter()
        .find(|a| !a.is_null())
        .map(|a| a.as_array().is_some());
    match is_array {
        None => Ok(Value::null()),
        Some(true) => {
            let mut out: Vec<Value> = Vec::new();
            for (i, a) in args.iter().enumerate() {
                if a.is_null() {
                    continue;
                }
                let items = a
                    .as_array()
                    .ok_or_else(|| cx.type_error(i, "an array like the other arguments", a))?;
                for x in items.iter() {
                    cx.spend(count(out.len() + 1))?;
                    // An element that cannot be compared is kept (carried along).
                    if !out.iter().any(|y| y.loose_eq(x) == Tri::True) {
                        check_items(cx, out.len() + 1)?;
                        out.push(x.clone());
                    }
                }
            }
            Ok(Value::array(out))
        }
        Some(false) => {
            let mut acc = Object::new();
            for (i, a) in args.iter().enumerate() {
                if a.is_null() {
                    continue;
                }
                let o = a
                    .as_object()
                    .ok_or_else(|| cx.type_error(i, "an object like the other arguments", a))?;
                acc = merge_objects(cx, &acc, o, 0)?;
            }
            Ok(Value::object(acc))
        }
    }
}

/// `union` of two objects: later values win; nested objects are merged
/// recursively, everything else (arrays included) is replaced.
fn merge_objects(cx: &Cx<'_, '_>, base: &Object, over: &Object, depth: usize) -> Result<Object> {
    if depth > MAX_DEPTH {
        return Err(cx.error(format!(
            "objects are nested more than {MAX_DEPTH} levels deep"
        )));
    }
    cx.spend(count(over.len() + 1))?;
    let mut out = base.clone();
    for (k, v) in over.iter() {
        let merged = match (out.get(k).map(|e| &e.kind), &v.kind) {
            (Some(Kind::Object(a)), Kind::Object(b)) => {
                Value::object(merge_objects(cx, a, b, depth + 1)?)
            }
            // Merging into a value that is not known: the result is not known either.
            (Some(Kind::Unknown(u)), Kind::Object(_)) => unknown_from(u),
            _ => v.clone(),
        };
        out.insert(k, merged);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Object functions
// ---------------------------------------------------------------------------

fn create_object(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    if !args.len().is_multiple_of(2) {
        return Err(cx.error(format!(
            "takes an even number of arguments (key, value pairs), got {}",
            args.len()
        )));
    }
    let mut o = Object::with_capacity(args.len() / 2);
    let mut it = args.into_iter().enumerate();
    while let (Some((ki, k)), Some((vi, v))) = (it.next(), it.next()) {
        let key = match &k.kind {
            Kind::String(s) => s.to_string(),
            Kind::Unknown(u) => return Ok(unknown_from(u)),
            _ => return Err(cx.type_error(ki, "a string (a property name)", &k)),
        };
        if matches!(v.kind, Kind::Lambda(_)) {
            return Err(cx.type_error(vi, "a value", &v));
        }
        if o.entry(&key).is_some_and(|(existing, _)| existing == key) {
            return Err(cx.error(format!("the property '{key}' is given more than once")));
        }
        o.insert(key, v);
    }
    Ok(Value::object(o))
}

fn items(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let o = cx.object_arg(&args, 0)?;
    cx.spend(count(o.len()))?;
    let mut entries: Vec<(&str, &Value)> = o.iter().collect();
    // Microsoft's reference: items() returns the entries sorted by key.
    entries.sort_by(|(a, _), (b, _)| culture_cmp(a, b).then_with(|| a.cmp(b)));
    let out = entries
        .into_iter()
        .map(|(k, v)| {
            let mut e = Object::with_capacity(2);
            e.insert("key", Value::string(k));
            e.insert("value", v.clone());
            Value::object(e)
        })
        .collect();
    Ok(Value::array(out))
}

fn json(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let text = cx.str_arg(&args, 0)?;
    cx.spend(count(text.len() / 64 + 1))?;
    let limits = Limits {
        max_bytes: MAX_STRING_BYTES,
        max_depth: MAX_DEPTH,
    };
    match Document::parse_with("json()", text.to_string(), &limits) {
        Ok(doc) => node_to_value(cx, &doc.root),
        // Azure's reader also takes single quotes and unquoted names ({'one': 'a'}).
        Err(e) if e.expected.contains("nesting") || e.expected.contains("bytes") => {
            Err(cx.error(format!(
                "the argument is not accepted: expected {}, found {}",
                e.expected, e.found
            )))
        }
        Err(e) => crate::functions::string::parse_json_lenient(text).map_err(|_| {
            cx.error(format!(
                "the argument is not valid JSON: at line {}, character {}: expected {}, found {}",
                e.line, e.column, e.expected, e.found
            ))
        }),
    }
}

/// Converts parsed JSON to a value (the parser bounds the depth).
fn node_to_value(cx: &Cx<'_, '_>, n: &Node) -> Result<Value> {
    Ok(match &n.kind {
        NodeKind::Null => Value::null(),
        NodeKind::Bool(b) => Value::bool(*b),
        NodeKind::Number(Number::Int(i)) => Value::int(*i),
        NodeKind::Number(Number::Float(f)) => {
            if !f.is_finite() {
                return Err(cx.error("the argument contains a number too large to represent"));
            }
            Value::float(*f)
        }
        NodeKind::String(s) => Value::string(s.as_str()),
        NodeKind::Array(items) => {
            cx.spend(count(items.len()))?;
            Value::array(
                items
                    .iter()
                    .map(|x| node_to_value(cx, x))
                    .collect::<Result<Vec<_>>>()?,
            )
        }
        NodeKind::Object(members) => {
            cx.spend(count(members.len()))?;
            let mut o = Object::with_capacity(members.len());
            for m in members {
                o.insert(m.key.as_str(), node_to_value(cx, &m.value)?);
            }
            Value::object(o)
        }
    })
}

fn null(_cx: &mut Cx<'_, '_>, _args: Vec<Value>) -> Result<Value> {
    Ok(Value::null())
}

fn object_keys(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let o = cx.object_arg(&args, 0)?;
    cx.spend(count(o.len()))?;
    Ok(Value::array(o.keys().map(Value::string).collect()))
}

fn shallow_merge(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let a = cx.array_arg(&args, 0)?;
    let mut out = Object::new();
    for (i, x) in a.iter().enumerate() {
        match &x.kind {
            Kind::Object(o) => {
                cx.spend(count(o.len()))?;
                for (k, v) in o.iter() {
                    out.insert(k, v.clone());
                }
            }
            Kind::Null => {}
            // Which properties an unknown object would override is not known.
            Kind::Unknown(u) => return Ok(unknown_from(u)),
            _ => {
                return Err(cx.error(format!(
                    "expects an array of objects, element {i} is {}",
                    x.type_name()
                )));
            }
        }
    }
    Ok(Value::object(out))
}

fn try_get(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let mut cur = arg(cx, &args, 0)?.clone();
    for (i, key) in args.iter().enumerate().skip(1) {
        let next = match (&cur.kind, &key.kind) {
            (Kind::Null, _) => return Ok(Value::null()),
            (Kind::Unknown(u), _) => return Ok(unknown_from(u)),
            (Kind::Object(o), Kind::String(k)) => match (o.get(k), o.open()) {
                (Some(v), _) => Some(v.clone()),
                // A deployed resource may have the property at run time.
                (None, Some(u)) => return Ok(Value::new(Kind::Unknown(u.clone()))),
                (None, None) => None,
            },
            (Kind::Array(a), Kind::Int(n)) => {
                usize::try_from(*n).ok().and_then(|n| a.get(n)).cloned()
            }
            (Kind::Object(_), _) => {
                return Err(cx.type_error(i, "a string (a property name)", key));
            }
            (Kind::Array(_), _) => return Err(cx.type_error(i, "an integer (an index)", key)),
            _ => {
                return Err(cx.error(format!(
                    "expects an object or an array to look into, got {}",
                    cur.type_name()
                )));
            }
        };
        match next {
            Some(v) => cur = v,
            None => return Ok(Value::null()),
        }
    }
    Ok(cur)
}

// ---------------------------------------------------------------------------
// Comparison functions
// ---------------------------------------------------------------------------

fn coalesce(_cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    for a in args {
        match a.kind {
            Kind::Null => {}
            Kind::Unknown(_) => return Ok(a.with_prov(None)),
            _ => return Ok(a),
        }
    }
    Ok(Value::null())
}

fn equals(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let a = arg(cx, &args, 0)?;
    let b = arg(cx, &args, 1)?;
    match a.loose_eq(b) {
        Tri::True => Ok(Value::bool(true)),
        Tri::False => Ok(Value::bool(false)),
        Tri::Unknown => Ok(unknown_of(a, b)),
    }
}

fn compare(cx: &Cx<'_, '_>, args: &[Value]) -> Result<Ordering> {
    let a = arg(cx, args, 0)?;
    let b = arg(cx, args, 1)?;
    match (&a.kind, &b.kind) {
        (Kind::String(x), Kind::String(y)) => Ok(culture_cmp(x, y)),
        (Kind::Int(_) | Kind::Float(_), Kind::Int(_) | Kind::Float(_)) => {
            num_cmp(a, b).ok_or_else(|| cx.error("cannot compare these numbers"))
        }
        _ => Err(cx.error(format!(
            "expects two integers or two strings, got {} and {}",
            a.type_name(),
            b.type_name()
        ))),
    }
}

fn greater(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    Ok(Value::bool(compare(cx, &args)? == Ordering::Greater))
}

fn greater_or_equals(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    Ok(Value::bool(compare(cx, &args)? != Ordering::Less))
}

fn less(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    Ok(Value::bool(compare(cx, &args)? == Ordering::Less))
}

fn less_or_equals(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    Ok(Value::bool(compare(cx, &args)? != Ordering::Greater))
}

// ---------------------------------------------------------------------------
// Logical functions
// ---------------------------------------------------------------------------

fn bool_fn(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let v = arg(cx, &args, 0)?;
    match &v.kind {
        Kind::Bool(b) => Ok(Value::bool(*b)),
        Kind::Int(i) => Ok(Value::bool(*i != 0)),
        Kind::String(s) if s.trim().eq_ignore_ascii_case("true") => Ok(Value::bool(true)),
        Kind::String(s) if s.trim().eq_ignore_ascii_case("false") => Ok(Value::bool(false)),
        Kind::String(s) => Err(cx.error(format!(
            "cannot convert the string '{}' to a boolean (expected 'true' or 'false')",
            s.chars().take(40).collect::<String>()
        ))),
        _ => Err(cx.type_error(0, "a string, an integer or a boolean", v)),
    }
}

fn false_fn(_cx: &mut Cx<'_, '_>, _args: Vec<Value>) -> Result<Value> {
    Ok(Value::bool(false))
}

fn true_fn(_cx: &mut Cx<'_, '_>, _args: Vec<Value>) -> Result<Value> {
    Ok(Value::bool(true))
}

fn not(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    Ok(Value::bool(!cx.bool_arg(&args, 0)?))
}

// ---------------------------------------------------------------------------
// Numeric functions
// ---------------------------------------------------------------------------

fn arith(
    cx: &Cx<'_, '_>,
    args: &[Value],
    op: fn(i64, i64) -> Option<i64>,
    what: &str,
) -> Result<Value> {
    let a = cx.int_arg(args, 0)?;
    let b = cx.int_arg(args, 1)?;
    op(a, b).map(Value::int).ok_or_else(|| {
        cx.error(format!(
            "the {what} of {a} and {b} overflows a 64-bit integer"
        ))
    })
}

fn add(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    arith(cx, &args, i64::checked_add, "sum")
}

fn sub(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    arith(cx, &args, i64::checked_sub, "difference")
}

fn mul(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    arith(cx, &args, i64::checked_mul, "product")
}

fn div(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    if cx.int_arg(&args, 1)? == 0 {
        return Err(cx.error("cannot divide by zero"));
    }
    arith(cx, &args, i64::checked_div, "quotient")
}

fn modulo(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    if cx.int_arg(&args, 1)? == 0 {
        return Err(cx.error("cannot divide by zero"));
    }
    arith(
        cx,
        &args,
        |a, b| if b == -1 { Some(0) } else { a.checked_rem(b) },
        "remainder",
    )
}

fn float(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let v = arg(cx, &args, 0)?;
    match &v.kind {
        Kind::Int(i) => Ok(Value::float(*i as f64)),
        Kind::Float(f) => Ok(Value::float(*f)),
        Kind::String(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Value::float)
            .ok_or_else(|| {
                cx.error(format!(
                    "cannot convert the string '{}' to a number",
                    s.chars().take(40).collect::<String>()
                ))
            }),
        _ => Err(cx.type_error(0, "a string or an integer", v)),
    }
}

fn int(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let v = arg(cx, &args, 0)?;
    match &v.kind {
        Kind::Int(i) => Ok(Value::int(*i)),
        Kind::Float(f) => {
            let r = f.round_ties_even();
            if r.is_finite() && r.abs() < 9.2e18 {
                Ok(Value::int(r as i64))
            } else {
                Err(cx.error(format!(
                    "the number {} does not fit in an integer",
                    format_float(*f)
                )))
            }
        }
        Kind::String(s) => s.trim().parse::<i64>().map(Value::int).map_err(|_| {
            cx.error(format!(
                "cannot convert the string '{}' to an integer",
                s.chars().take(40).collect::<String>()
            ))
        }),
        _ => Err(cx.type_error(0, "a string or an integer", v)),
    }
}

// ---------------------------------------------------------------------------
// Lambda functions
// ---------------------------------------------------------------------------

fn filter(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let a = cx.array_arg(&args, 0)?;
    let f = lambda_arg(cx, &args, 1)?;
    let mut out = Vec::new();
    for (i, x) in a.iter().enumerate() {
        let r = cx.apply(f, vec![x.clone(), Value::int(to_i64(i))])?;
        match &r.kind {
            Kind::Bool(true) => out.push(x.clone()),
            Kind::Bool(false) => {}
            // Whether this element stays is not known, so the result is not known.
            Kind::Unknown(u) => return Ok(unknown_from(u)),
            _ => {
                return Err(cx.error(format!(
                    "the lambda must return a boolean, it returned {}",
                    r.type_name()
                )));
            }
        }
    }
    Ok(Value::array(out))
}

fn map(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let a = cx.array_arg(&args, 0)?;
    let f = lambda_arg(cx, &args, 1)?;
    let mut out = Vec::with_capacity(a.len());
    for (i, x) in a.iter().enumerate() {
        out.push(cx.apply(f, vec![x.clone(), Value::int(to_i64(i))])?);
    }
    Ok(Value::array(out))
}

fn reduce(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let a = cx.array_arg(&args, 0)?;
    let mut acc = arg(cx, &args, 1)?.clone();
    let f = lambda_arg(cx, &args, 2)?;
    for (i, x) in a.iter().enumerate() {
        acc = cx.apply(f, vec![acc, x.clone(), Value::int(to_i64(i))])?;
    }
    Ok(acc)
}

fn sort(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let a = cx.array_arg(&args, 0)?;
    let f = lambda_arg(cx, &args, 1)?;
    match merge_sort(cx, f, a.to_vec())? {
        Ok(sorted) => Ok(Value::array(sorted)),
        Err(u) => Ok(u),
    }
}

/// Whether `a` goes before `b`; `Err` carries an unknown answer.
fn before(
    cx: &mut Cx<'_, '_>,
    f: &Value,
    a: &Value,
    b: &Value,
) -> Result<std::result::Result<bool, Value>> {
    let r = cx.apply(f, vec![a.clone(), b.clone()])?;
    match &r.kind {
        Kind::Bool(x) => Ok(Ok(*x)),
        Kind::Unknown(u) => Ok(Err(unknown_from(u))),
        _ => Err(cx.error(format!(
            "the lambda must return a boolean, it returned {}",
            r.type_name()
        ))),
    }
}

/// A stable merge sort driven by the lambda; an unknown comparison stops it.
fn merge_sort(
    cx: &mut Cx<'_, '_>,
    f: &Value,
    mut v: Vec<Value>,
) -> Result<std::result::Result<Vec<Value>, Value>> {
    if v.len() <= 1 {
        return Ok(Ok(v));
    }
    let right = v.split_off(v.len() / 2);
    let left = match merge_sort(cx, f, v)? {
        Ok(l) => l,
        Err(u) => return Ok(Err(u)),
    };
    let right = match merge_sort(cx, f, right)? {
        Ok(r) => r,
        Err(u) => return Ok(Err(u)),
    };
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut li = left.into_iter().peekable();
    let mut ri = right.into_iter().peekable();
    while let (Some(l), Some(r)) = (li.peek(), ri.peek()) {
        let take_right = match before(cx, f, r, l)? {
            Ok(b) => b,
            Err(u) => return Ok(Err(u)),
        };
        let next = if take_right { ri.next() } else { li.next() };
        out.extend(next);
    }
    out.extend(li);
    out.extend(ri);
    Ok(Ok(out))
}

fn to_object(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let a = cx.array_arg(&args, 0)?;
    let key_fn = lambda_arg(cx, &args, 1)?;
    let value_fn = match args.get(2) {
        Some(_) => Some(lambda_arg(cx, &args, 2)?),
        None => None,
    };
    let mut out = Object::with_capacity(a.len());
    for x in a.iter() {
        let k = cx.apply(key_fn, vec![x.clone()])?;
        let key = match &k.kind {
            Kind::String(s) => s.to_string(),
            Kind::Unknown(u) => return Ok(unknown_from(u)),
            _ => {
                return Err(cx.error(format!(
                    "the key lambda must return a string, it returned {}",
                    k.type_name()
                )));
            }
        };
        let v = match value_fn {
            Some(vf) => cx.apply(vf, vec![x.clone()])?,
            None => x.clone(),
        };
        out.insert(key, v);
    }
    Ok(Value::object(out))
}

fn group_by(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let a = cx.array_arg(&args, 0)?;
    let key_fn = lambda_arg(cx, &args, 1)?;
    let value_fn = match args.get(2) {
        Some(_) => Some(lambda_arg(cx, &args, 2)?),
        None => None,
    };
    let mut groups: Vec<(String, Vec<Value>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for x in a.iter() {
        let k = cx.apply(key_fn, vec![x.clone()])?;
        let key = match &k.kind {
            Kind::String(s) => s.to_string(),
            Kind::Unknown(u) => return Ok(unknown_from(u)),
            _ => {
                return Err(cx.error(format!(
                    "the key lambda must return a string, it returned {}",
                    k.type_name()
                )));
            }
        };
        let v = match value_fn {
            Some(vf) => cx.apply(vf, vec![x.clone()])?,
            None => x.clone(),
        };
        let folded = key.to_ascii_lowercase();
        match index.get(&folded).and_then(|&i| groups.get_mut(i)) {
            Some((_, members)) => members.push(v),
            None => {
                index.insert(folded, groups.len());
                groups.push((key, vec![v]));
            }
        }
    }
    Ok(Value::object(
        groups
            .into_iter()
            .map(|(k, members)| (k, Value::array(members)))
            .collect(),
    ))
}

fn map_values(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let o = cx.object_arg(&args, 0)?;
    let f = lambda_arg(cx, &args, 1)?;
    let mut out = Object::with_capacity(o.len());
    for (k, v) in o.iter() {
        let r = cx.apply(f, vec![v.clone(), Value::string(k)])?;
        out.insert(k, r);
    }
    Ok(Value::object(out))
}

// ---------------------------------------------------------------------------
// CIDR functions
// ---------------------------------------------------------------------------

/// A parsed network: the address (host bits cleared), the prefix length and
/// the address width (32 or 128).
#[derive(Clone, Copy, Debug)]
struct Net {
    network: u128,
    prefix: u32,
    bits: u32,
}

impl Net {
    fn host_mask(&self) -> u128 {
        let host_bits = self.bits - self.prefix;
        if host_bits >= 128 {
            u128::MAX
        } else {
            (1u128 << host_bits) - 1
        }
    }
    fn net_mask(&self) -> u128 {
        let all = if self.bits == 32 {
            u128::from(u32::MAX)
        } else {
            u128::MAX
        };
        all & !self.host_mask()
    }
    fn last(&self) -> u128 {
        self.network | self.host_mask()
    }
    fn fmt(&self, addr: u128) -> String {
        if self.bits == 32 {
            Ipv4Addr::from(u32::try_from(addr).unwrap_or(u32::MAX)).to_string()
        } else {
            Ipv6Addr::from(addr).to_string()
        }
    }
}

fn parse_net(cx: &Cx<'_, '_>, s: &str) -> Result<Net> {
    let bad = || {
        cx.error(format!(
            "'{}' is not an IP address range in CIDR notation (like '10.0.0.0/16' or 'fd00::/48')",
            s.chars().take(60).collect::<String>()
        ))
    };
    let (addr, prefix) = s.trim().split_once('/').ok_or_else(bad)?;
    if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) || prefix.len() > 3 {
        return Err(bad());
    }
    let prefix: u32 = prefix.parse().map_err(|_| bad())?;
    let (value, bits) = if let Ok(v4) = addr.parse::<Ipv4Addr>() {
        (u128::from(u32::from(v4)), 32)
    } else if let Ok(v6) = addr.parse::<Ipv6Addr>() {
        (u128::from(v6), 128)
    } else {
        return Err(bad());
    };
    if prefix > bits {
        return Err(cx.error(format!(
            "the prefix length /{prefix} is larger than {bits} in '{}'",
            s.chars().take(60).collect::<String>()
        )));
    }
    let mut net = Net {
        network: value,
        prefix,
        bits,
    };
    net.network = value & net.net_mask();
    Ok(net)
}

/// First and last addresses usable by hosts. IPv4 reserves the network and
/// broadcast addresses except in /31 and /32 (RFC 3021); IPv6 has no
/// broadcast address (as Microsoft's reference shows).
fn usable(net: &Net) -> (u128, u128) {
    if net.bits == 32 && net.prefix <= 30 {
        (net.network + 1, net.last() - 1)
    } else {
        (net.network, net.last())
    }
}

fn parse_cidr(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let net = parse_net(cx, cx.str_arg(&args, 0)?)?;
    let (first, last) = usable(&net);
    let mut o = Object::new();
    o.insert("network", Value::string(net.fmt(net.network)));
    o.insert("netmask", Value::string(net.fmt(net.net_mask())));
    if net.bits == 32 {
        o.insert("broadcast", Value::string(net.fmt(net.last())));
    }
    o.insert("firstUsable", Value::string(net.fmt(first)));
    o.insert("lastUsable", Value::string(net.fmt(last)));
    o.insert("cidr", Value::int(i64::from(net.prefix)));
    Ok(Value::object(o))
}

fn cidr_subnet(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let net = parse_net(cx, cx.str_arg(&args, 0)?)?;
    let new_prefix = cx.int_arg(&args, 1)?;
    let index = cx.int_arg(&args, 2)?;
    let new_prefix = u32::try_from(new_prefix)
        .ok()
        .filter(|p| (net.prefix..=net.bits).contains(p))
        .ok_or_else(|| {
            cx.error(format!(
                "the new prefix length must be between {} and {}, got {new_prefix}",
                net.prefix, net.bits
            ))
        })?;
    let extra = new_prefix - net.prefix;
    let subnets = if extra >= 128 {
        u128::MAX
    } else {
        1u128 << extra
    };
    let index_ok = u128::try_from(index).ok().filter(|i| *i < subnets);
    let index = index_ok.ok_or_else(|| {
        cx.error(format!(
            "the subnet index must be between 0 and {}, got {index}",
            subnets - 1
        ))
    })?;
    let shift = net.bits - new_prefix;
    let offset = if shift >= 128 { 0 } else { index << shift };
    Ok(Value::string(format!(
        "{}/{new_prefix}",
        net.fmt(net.network | offset)
    )))
}

fn cidr_host(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let net = parse_net(cx, cx.str_arg(&args, 0)?)?;
    let index = cx.int_arg(&args, 1)?;
    // Index 0 is the first address after the network address (Microsoft's
    // reference, for IPv4 and IPv6); in IPv4 /31 and /32 every address is a host.
    let (base, last) = if net.bits == 32 && net.prefix >= 31 {
        (Some(net.network), net.last())
    } else if net.bits == 32 {
        (Some(net.network + 1), net.last() - 1)
    } else {
        (net.network.checked_add(1), net.last())
    };
    let base = base.filter(|b| *b <= last);
    let host = u128::try_from(index)
        .ok()
        .zip(base)
        .and_then(|(i, b)| b.checked_add(i))
        .filter(|h| *h <= last)
        .ok_or_else(|| {
            cx.error(format!(
                "the host index {index} is outside the usable addresses of the range (0 to {})",
                base.map_or(0, |b| last.saturating_sub(b))
            ))
        })?;
    Ok(Value::string(net.fmt(host)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::eval::{Budget, Evaluator, Scope};
    use crate::testenv::TestEnv;

    fn parse_json(text: &str) -> Value {
        fn conv(n: &Node) -> Value {
            match &n.kind {
                NodeKind::Null => Value::null(),
                NodeKind::Bool(b) => Value::bool(*b),
                NodeKind::Number(Number::Int(i)) => Value::int(*i),
                NodeKind::Number(Number::Float(f)) => Value::float(*f),
                NodeKind::String(s) => Value::string(s.as_str()),
                NodeKind::Array(a) => Value::array(a.iter().map(conv).collect()),
                NodeKind::Object(m) => {
                    Value::object(m.iter().map(|m| (m.key.clone(), conv(&m.value))).collect())
                }
            }
        }
        conv(&Document::parse("test", text.to_string()).unwrap().root)
    }

    fn env_with(params: &[(&str, &str)]) -> TestEnv {
        params
            .iter()
            .fold(TestEnv::new(), |env, (k, v)| env.with(k, parse_json(v)))
    }

    fn eval_with(params: &[(&str, &str)], src: &str) -> Result<Value> {
        let env = env_with(params);
        let e = crate::expr::parse(src).unwrap();
        Evaluator::new(&env).eval(&e)
    }

    /// Evaluates with parameters and returns compact JSON.
    fn okp(params: &[(&str, &str)], src: &str) -> String {
        match eval_with(params, src) {
            Ok(v) => v.to_json_text(),
            Err(e) => panic!("{src}: {e}"),
        }
    }

    fn ok(src: &str) -> String {
        okp(&[], src)
    }

    fn err(src: &str) -> String {
        match eval_with(&[], src) {
            Ok(v) => panic!("{src}: expected an error, got {v}"),
            Err(e) => e.message,
        }
    }

    fn is_unknown(src: &str) -> bool {
        eval_with(&[], src).unwrap().is_unknown()
    }

    /// Compact JSON of a JSON text, for comparing documented outputs.
    fn j(text: &str) -> String {
        parse_json(text).to_json_text()
    }

    const DOGS: &str = r#"[
        {"name": "Evie", "age": 5, "interests": ["Ball", "Frisbee"]},
        {"name": "Casper", "age": 3, "interests": ["Other dogs"]},
        {"name": "Indy", "age": 2, "interests": ["Butter"]},
        {"name": "Kira", "age": 8, "interests": ["Rubs"]}
    ]"#;

    // ----- array -----

    #[test]
    fn array_examples() {
        assert_eq!(ok("array(1)"), "[1]");
        assert_eq!(ok("array('efgh')"), r#"["efgh"]"#);
        assert_eq!(
            okp(
                &[("o", r#"{"a": "b", "c": "d"}"#)],
                "array(parameters('o'))"
            ),
            r#"[{"a":"b","c":"d"}]"#
        );
        assert_eq!(ok("array(createArray(1, 2))"), "[1,2]");
    }

    #[test]
    fn concat_examples() {
        let p = [
            ("firstArray", r#"["1-1", "1-2", "1-3"]"#),
            ("secondArray", r#"["2-1", "2-2", "2-3"]"#),
        ];
        assert_eq!(
            okp(
                &p,
                "concat(parameters('firstArray'), parameters('secondArray'))"
            ),
            j(r#"["1-1", "1-2", "1-3", "2-1", "2-2", "2-3"]"#)
        );
        assert_eq!(
            okp(
                &[("prefix", r#""prefix""#)],
                "concat(parameters('prefix'), '-', '5yj4yjf5mbg72')"
            ),
            r#""prefix-5yj4yjf5mbg72""#
        );
        assert_eq!(
            ok("concat('a', 1, true, '-', false())"),
            r#""a1True-False""#
        );
        assert!(err("concat(createArray(1), 'a')").contains("'concat'"));
        assert!(err("concat('a', createObject())").contains("'concat'"));
    }

    #[test]
    fn contains_examples() {
        let p = [
            ("stringToTest", r#""OneTwoThree""#),
            ("objectToTest", r#"{"one": "a", "two": "b", "three": "c"}"#),
            ("arrayToTest", r#"["one", "two", "three"]"#),
        ];
        assert_eq!(okp(&p, "contains(parameters('stringToTest'), 'e')"), "true");
        assert_eq!(
            okp(&p, "contains(parameters('stringToTest'), 'z')"),
            "false"
        );
        assert_eq!(
            okp(&p, "contains(parameters('objectToTest'), 'one')"),
            "true"
        );
        assert_eq!(
            okp(&p, "contains(parameters('objectToTest'), 'a')"),
            "false"
        );
        assert_eq!(
            okp(&p, "contains(parameters('arrayToTest'), 'three')"),
            "true"
        );
        assert_eq!(
            okp(&p, "contains(parameters('arrayToTest'), 'four')"),
            "false"
        );
        // Strings are case-sensitive, object keys are not.
        assert_eq!(
            okp(&p, "contains(parameters('stringToTest'), 'one')"),
            "false"
        );
        assert_eq!(
            okp(&p, "contains(parameters('objectToTest'), 'ONE')"),
            "true"
        );
        assert!(err("contains(1, 1)").contains("'contains'"));
    }

    #[test]
    fn create_array_examples() {
        let p = [
            ("objectToTest", r#"{"one": "a", "two": "b", "three": "c"}"#),
            ("arrayToTest", r#"["one", "two", "three"]"#),
        ];
        assert_eq!(ok("createArray('a', 'b', 'c')"), r#"["a","b","c"]"#);
        assert_eq!(ok("createArray(1, 2, 3)"), "[1,2,3]");
        assert_eq!(
            okp(&p, "createArray(parameters('objectToTest'))"),
            r#"[{"one":"a","two":"b","three":"c"}]"#
        );
        assert_eq!(
            okp(&p, "createArray(parameters('arrayToTest'))"),
            r#"[["one","two","three"]]"#
        );
        assert_eq!(ok("createArray()"), "[]");
    }

    #[test]
    fn empty_examples() {
        assert_eq!(ok("empty(createArray())"), "true");
        assert_eq!(ok("empty(createObject())"), "true");
        assert_eq!(ok("empty('')"), "true");
        assert_eq!(ok("empty(null())"), "true");
        assert_eq!(ok("empty(json('null'))"), "true");
        assert_eq!(ok("empty(' ')"), "false");
        assert!(err("empty(1)").contains("'empty'"));
    }

    #[test]
    fn first_and_last_examples() {
        let p = [("arrayToTest", r#"["one", "two", "three"]"#)];
        assert_eq!(okp(&p, "first(parameters('arrayToTest'))"), r#""one""#);
        assert_eq!(ok("first('One Two Three')"), r#""O""#);
        assert_eq!(okp(&p, "last(parameters('arrayToTest'))"), r#""three""#);
        assert_eq!(ok("last('One Two Three')"), r#""e""#);
        assert_eq!(ok("first('')"), r#""""#);
        assert_eq!(ok("last('')"), r#""""#);
        assert_eq!(ok("first(createArray())"), "null");
        assert_eq!(ok("last(createArray())"), "null");
        assert!(err("first(1)").contains("'first'"));
    }

    #[test]
    fn flatten_examples() {
        assert_eq!(
            ok("flatten(createArray(createArray(0, 1), createArray(2, 3), createArray(4, 5)))"),
            "[0,1,2,3,4,5]"
        );
        assert_eq!(ok("flatten(createArray())"), "[]");
        assert_eq!(
            ok("flatten(createArray(createArray(createArray(1)), createArray()))"),
            "[[1]]"
        );
        assert!(err("flatten(createArray(1))").contains("'flatten'"));
    }

    #[test]
    fn index_from_end_examples() {
        let p = [("items", r#"["apple", "banana", "orange", "grape"]"#)];
        assert_eq!(
            okp(&p, "indexFromEnd(parameters('items'), 2)"),
            r#""orange""#
        );
        assert_eq!(
            okp(&p, "tryIndexFromEnd(parameters('items'), 2)"),
            r#""orange""#
        );
        assert_eq!(okp(&p, "tryIndexFromEnd(parameters('items'), 5)"), "null");
        assert_eq!(okp(&p, "tryIndexFromEnd(parameters('items'), 0)"), "null");
        assert_eq!(okp(&p, "tryIndexFromEnd(parameters('items'), -1)"), "null");
        assert_eq!(
            okp(&p, "indexFromEnd(parameters('items'), 4)"),
            r#""apple""#
        );
        assert!(
            eval_with(&p, "indexFromEnd(parameters('items'), 5)")
                .unwrap_err()
                .message
                .contains("'indexFromEnd'")
        );
    }

    #[test]
    fn index_of_examples() {
        let p = [
            ("names", r#"["one", "two", "three"]"#),
            ("numbers", "[4, 5, 6]"),
            ("collection", r#"[["one", "two", "three"], [4, 5, 6]]"#),
            ("duplicates", "[1, 2, 3, 1]"),
        ];
        assert_eq!(okp(&p, "lastIndexOf(parameters('names'), 'two')"), "1");
        assert_eq!(okp(&p, "indexOf(parameters('names'), 'one')"), "0");
        assert_eq!(okp(&p, "lastIndexOf(parameters('names'), 'Three')"), "-1");
        assert_eq!(okp(&p, "lastIndexOf(parameters('numbers'), 4)"), "0");
        assert_eq!(okp(&p, "indexOf(parameters('numbers'), 6)"), "2");
        assert_eq!(okp(&p, "lastIndexOf(parameters('numbers'), '5')"), "-1");
        assert_eq!(
            okp(
                &p,
                "indexOf(parameters('collection'), parameters('numbers'))"
            ),
            "1"
        );
        assert_eq!(okp(&p, "indexOf(parameters('duplicates'), 1)"), "0");
        assert_eq!(okp(&p, "lastIndexOf(parameters('duplicates'), 1)"), "3");
    }

    #[test]
    fn index_of_strings() {
        // The string forms (template-functions-string): case-insensitive.
        assert_eq!(ok("indexOf('test', 't')"), "0");
        assert_eq!(ok("indexOf('abcdef', 'CD')"), "2");
        assert_eq!(ok("lastIndexOf('test', 't')"), "3");
        assert_eq!(ok("lastIndexOf('abcdef', 'AB')"), "0");
        assert_eq!(ok("indexOf('abcdef', 'z')"), "-1");
        assert_eq!(ok("indexOf('äbc😀x', 'X')"), "5");
        assert!(err("indexOf(1, 1)").contains("'indexOf'"));
    }

    #[test]
    fn intersection_examples() {
        let p = [
            ("firstObject", r#"{"one": "a", "two": "b", "three": "c"}"#),
            ("secondObject", r#"{"one": "a", "two": "z", "three": "c"}"#),
            ("firstArray", r#"["one", "two", "three"]"#),
            ("secondArray", r#"["two", "three"]"#),
        ];
        assert_eq!(
            okp(
                &p,
                "intersection(parameters('firstObject'), parameters('secondObject'))"
            ),
            j(r#"{"one": "a", "three": "c"}"#)
        );
        assert_eq!(
            okp(
                &p,
                "intersection(parameters('firstArray'), parameters('secondArray'))"
            ),
            j(r#"["two", "three"]"#)
        );
        assert_eq!(
            ok("intersection(createArray(1, 1, 2), createArray(1), createArray(2, 1))"),
            "[1]"
        );
        assert!(err("intersection(createArray(1), createObject())").contains("'intersection'"));
    }

    #[test]
    fn length_examples() {
        let p = [
            ("arrayToTest", r#"["one", "two", "three"]"#),
            ("stringToTest", r#""One Two Three""#),
            (
                "objectToTest",
                r#"{"propA": "one", "propB": "two", "propC": "three",
                    "propD": {"propD-1": "sub", "propD-2": "sub"}}"#,
            ),
        ];
        assert_eq!(okp(&p, "length(parameters('arrayToTest'))"), "3");
        assert_eq!(okp(&p, "length(parameters('stringToTest'))"), "13");
        assert_eq!(okp(&p, "length(parameters('objectToTest'))"), "4");
        // UTF-16 code units, as .NET counts.
        assert_eq!(ok("length('a😀')"), "3");
        assert!(err("length(1)").contains("'length'"));
    }

    #[test]
    fn max_min_examples() {
        let p = [("arrayToTest", "[0, 3, 2, 5, 4]")];
        assert_eq!(okp(&p, "max(parameters('arrayToTest'))"), "5");
        assert_eq!(ok("max(0,3,2,5,4)"), "5");
        assert_eq!(okp(&p, "min(parameters('arrayToTest'))"), "0");
        assert_eq!(ok("min(0,3,2,5,4)"), "0");
        assert_eq!(ok("max(-7)"), "-7");
        assert!(err("max(createArray())").contains("'max'"));
        assert!(err("min(1, 'a')").contains("'min'"));
    }

    #[test]
    fn range_examples() {
        assert_eq!(ok("range(5, 3)"), "[5,6,7]");
        assert_eq!(ok("range(-2, 0)"), "[]");
        assert_eq!(ok("length(range(0, 10000))"), "10000");
        assert!(err("range(0, 10001)").contains("'range'"));
        assert!(err("range(0, -1)").contains("'range'"));
        assert!(err("range(2147483647, 1)").contains("'range'"));
        assert_eq!(ok("range(2147483646, 1)"), "[2147483646]");
    }

    #[test]
    fn skip_take_examples() {
        let p = [
            ("testArray", r#"["one", "two", "three"]"#),
            ("testString", r#""one two three""#),
        ];
        assert_eq!(okp(&p, "skip(parameters('testArray'), 2)"), r#"["three"]"#);
        assert_eq!(
            okp(&p, "skip(parameters('testString'), 4)"),
            r#""two three""#
        );
        assert_eq!(
            okp(&p, "take(parameters('testArray'), 2)"),
            r#"["one","two"]"#
        );
        assert_eq!(okp(&p, "take(parameters('testString'), 2)"), r#""on""#);
        assert_eq!(
            okp(&p, "skip(parameters('testArray'), -1)"),
            r#"["one","two","three"]"#
        );
        assert_eq!(okp(&p, "skip(parameters('testArray'), 9)"), "[]");
        assert_eq!(okp(&p, "take(parameters('testString'), -5)"), r#""""#);
        assert_eq!(
            okp(&p, "take(parameters('testString'), 99)"),
            r#""one two three""#
        );
        assert!(err("take(1, 1)").contains("'take'"));
    }

    #[test]
    fn union_examples() {
        let p = [
            ("firstObject", r#"{"one": "a", "two": "b", "three": "c1"}"#),
            (
                "secondObject",
                r#"{"three": "c2", "four": "d", "five": "e"}"#,
            ),
            ("firstArray", r#"["one", "two", "three"]"#),
            ("secondArray", r#"["three", "four"]"#),
        ];
        assert_eq!(
            okp(
                &p,
                "union(parameters('firstObject'), parameters('secondObject'))"
            ),
            j(r#"{"one": "a", "two": "b", "three": "c2", "four": "d", "five": "e"}"#)
        );
        assert_eq!(
            okp(
                &p,
                "union(parameters('firstArray'), parameters('secondArray'))"
            ),
            j(r#"["one", "two", "three", "four"]"#)
        );
    }

    #[test]
    fn union_deep_merge_example() {
        let p = [
            (
                "firstObject",
                r#"{"property": {"one": "a", "two": "b", "three": "c1"}, "nestedArray": [1, 2]}"#,
            ),
            (
                "secondObject",
                r#"{"property": {"three": "c2", "four": "d", "five": "e"}, "nestedArray": [3, 4]}"#,
            ),
            ("firstArray", r#"[["one", "two"], ["three"]]"#),
            ("secondArray", r#"[["three"], ["four", "two"]]"#),
        ];
        assert_eq!(
            okp(
                &p,
                "union(parameters('firstObject'), parameters('secondObject'))"
            ),
            r#"{"property":{"one":"a","two":"b","three":"c2","four":"d","five":"e"},"nestedArray":[3,4]}"#
        );
        assert_eq!(
            okp(
                &p,
                "union(parameters('firstArray'), parameters('secondArray'))"
            ),
            r#"[["one","two"],["three"],["four","two"]]"#
        );
        assert!(err("union(createArray(1), createObject())").contains("'union'"));
    }

    // ----- object -----

    #[test]
    fn create_object_example() {
        assert_eq!(
            ok(
                "createObject('intProp', 1, 'stringProp', 'abc', 'boolProp', true(), 'arrayProp', createArray('a', 'b', 'c'), 'objectProp', createObject('key1', 'value1'))"
            ),
            j(r#"{"intProp": 1, "stringProp": "abc", "boolProp": true,
                 "arrayProp": ["a", "b", "c"], "objectProp": {"key1": "value1"}}"#)
        );
        assert_eq!(ok("createObject()"), "{}");
        assert!(err("createObject('a')").contains("'createObject'"));
        assert!(err("createObject(1, 2)").contains("'createObject'"));
        assert!(err("createObject('a', 1, 'a', 2)").contains("'createObject'"));
    }

    #[test]
    fn items_examples() {
        let entities = r#"{
            "item002": {"enabled": false, "displayName": "Example item 2", "number": 200},
            "item001": {"enabled": true, "displayName": "Example item 1", "number": 300}
        }"#;
        let p = [("entities", entities)];
        assert_eq!(
            okp(&p, "items(parameters('entities'))"),
            j(r#"[
                {"key": "item001", "value": {"enabled": true, "displayName": "Example item 1", "number": 300}},
                {"key": "item002", "value": {"enabled": false, "displayName": "Example item 2", "number": 200}}
            ]"#)
        );
        assert_eq!(
            okp(&p, "items(parameters('entities'))[1].value.displayName"),
            r#""Example item 2""#
        );
        assert!(err("items(createArray())").contains("'items'"));
    }

    #[test]
    fn json_examples() {
        assert_eq!(ok("empty(json('null'))"), "true");
        assert_eq!(ok(r#"json('{"a": "b"}')"#), r#"{"a":"b"}"#);
        assert_eq!(ok(r#"json('"test"')"#), r#""test""#);
        assert_eq!(ok("json('true')"), "true");
        assert_eq!(ok("json('3')"), "3");
        assert_eq!(ok("json('[1,2,3 ]')"), "[1,2,3]");
        assert_eq!(
            okp(
                &[("concatValue", r#""demo value""#)],
                r#"json(concat('{"a": "', parameters('concatValue'), '"}'))"#
            ),
            r#"{"a":"demo value"}"#
        );
        assert_eq!(ok("json('1.5')"), "1.5");
        assert_eq!(ok(r#"json('{"a": {"b": [null]}}').a.b"#), "[null]");
        assert!(err("json('{')").contains("'json'"));
        assert!(err("json(1)").contains("'json'"));
        let deep = format!("json('{}{}')", "[".repeat(300), "]".repeat(300));
        assert!(err(&deep).contains("'json'"));
    }

    #[test]
    fn null_example() {
        assert_eq!(ok("empty(null())"), "true");
        assert_eq!(ok("null()"), "null");
    }

    #[test]
    fn object_keys_example() {
        assert_eq!(
            okp(
                &[("obj", r#"{"a": 1, "b": 2}"#)],
                "objectKeys(parameters('obj'))"
            ),
            r#"["a","b"]"#
        );
        assert!(err("objectKeys('a')").contains("'objectKeys'"));
    }

    #[test]
    fn shallow_merge_examples() {
        let p = [
            (
                "firstArray",
                r#"[{"one": "a"}, {"two": "b"}, {"two": "c"}]"#,
            ),
            (
                "secondArray",
                r#"[{"one": "a", "nested": {"a": 1, "nested": {"c": 3}}},
                    {"two": "b", "nested": {"b": 2}}]"#,
            ),
        ];
        assert_eq!(
            okp(&p, "shallowMerge(parameters('firstArray'))"),
            r#"{"one":"a","two":"c"}"#
        );
        assert_eq!(
            okp(&p, "shallowMerge(parameters('secondArray'))"),
            r#"{"one":"a","nested":{"b":2},"two":"b"}"#
        );
        assert!(err("shallowMerge(createArray(1))").contains("'shallowMerge'"));
    }

    #[test]
    fn try_get_examples() {
        let p = [
            ("users", r#"{"name": "John Doe", "age": 30}"#),
            ("colors", r#"["red", "green"]"#),
        ];
        assert_eq!(okp(&p, "tryGet(parameters('users'), 'region')"), "null");
        assert_eq!(
            okp(&p, "tryGet(parameters('users'), 'name')"),
            r#""John Doe""#
        );
        assert_eq!(okp(&p, "tryGet(parameters('colors'), 0)"), r#""red""#);
        assert_eq!(okp(&p, "tryGet(parameters('colors'), 2)"), "null");
        assert_eq!(
            ok("tryGet(createObject('a', createObject('b', createArray(7))), 'A', 'b', 0)"),
            "7"
        );
        assert_eq!(ok("tryGet(createObject('a', null()), 'a', 'b')"), "null");
        assert!(err("tryGet('abc', 0)").contains("'tryGet'"));
        assert!(err("tryGet(createArray(1), 'a')").contains("'tryGet'"));
    }

    // ----- comparison -----

    #[test]
    fn coalesce_examples() {
        let p = [(
            "objectToTest",
            r#"{"null1": null, "null2": null, "string": "default", "int": 1,
                "object": {"first": "default"}, "array": [1]}"#,
        )];
        let o = "parameters('objectToTest')";
        assert_eq!(
            okp(&p, &format!("coalesce({o}.null1, {o}.null2, {o}.string)")),
            r#""default""#
        );
        assert_eq!(
            okp(&p, &format!("coalesce({o}.null1, {o}.null2, {o}.int)")),
            "1"
        );
        assert_eq!(
            okp(&p, &format!("coalesce({o}.null1, {o}.null2, {o}.object)")),
            r#"{"first":"default"}"#
        );
        assert_eq!(
            okp(&p, &format!("coalesce({o}.null1, {o}.null2, {o}.array)")),
            "[1]"
        );
        assert_eq!(
            okp(&p, &format!("empty(coalesce({o}.null1, {o}.null2))")),
            "true"
        );
        assert_eq!(ok("coalesce('', 'a')"), r#""""#);
    }

    #[test]
    fn equals_examples() {
        assert_eq!(ok("equals(1, 1)"), "true");
        assert_eq!(ok("equals('a', 'a')"), "true");
        assert_eq!(
            ok("equals(createArray('a', 'b'), createArray('a', 'b'))"),
            "true"
        );
        assert_eq!(
            ok("equals(createObject('a', 'b'), createObject('a', 'b'))"),
            "true"
        );
        assert_eq!(ok("not(equals(1, 2))"), "true");
        assert_eq!(ok("equals('a', 'A')"), "false");
        assert_eq!(ok("equals(1, '1')"), "false");
    }

    #[test]
    fn ordering_examples() {
        assert_eq!(ok("greater(1, 2)"), "false");
        assert_eq!(ok("greater('A', 'a')"), "true");
        assert_eq!(ok("greaterOrEquals(1, 2)"), "false");
        assert_eq!(ok("greaterOrEquals('A', 'a')"), "true");
        assert_eq!(ok("less(1, 2)"), "true");
        assert_eq!(ok("less('A', 'a')"), "false");
        assert_eq!(ok("lessOrEquals(1, 2)"), "true");
        assert_eq!(ok("lessOrEquals('A', 'a')"), "false");
        assert_eq!(ok("lessOrEquals(2, 2)"), "true");
        assert_eq!(ok("less('abc', 'abd')"), "true");
        assert_eq!(ok("less('B', 'a')"), "false");
        assert_eq!(ok("less('10', 'a')"), "true");
        assert_eq!(ok("less(1, float('1.5'))"), "true");
        assert!(err("less(1, 'a')").contains("'less'"));
        assert!(err("greater(createArray(), createArray())").contains("'greater'"));
    }

    // ----- logical -----

    #[test]
    fn logical_examples() {
        assert_eq!(ok("and(bool('true'), bool('false'))"), "false");
        assert_eq!(ok("or(bool('true'), bool('false'))"), "true");
        assert_eq!(ok("not(bool('true'))"), "false");
        assert_eq!(ok("bool('true')"), "true");
        assert_eq!(ok("bool('false')"), "false");
        assert_eq!(ok("bool(1)"), "true");
        assert_eq!(ok("bool(0)"), "false");
        assert_eq!(ok("bool('TRUE')"), "true");
        assert_eq!(ok("true()"), "true");
        assert_eq!(ok("false()"), "false");
        assert!(err("bool('yes')").contains("'bool'"));
        assert!(err("not(1)").contains("'not'"));
    }

    // ----- numeric -----

    #[test]
    fn numeric_examples() {
        assert_eq!(ok("add(5, 3)"), "8");
        assert_eq!(ok("div(8, 3)"), "2");
        assert_eq!(ok("div(-7, 2)"), "-3");
        assert_eq!(ok("float('3.0')"), "3");
        assert_eq!(ok("float(3)"), "3");
        assert_eq!(ok("float('2.5')"), "2.5");
        assert_eq!(ok("int('4')"), "4");
        assert_eq!(ok("int(json('2.5'))"), "2");
        assert_eq!(ok("mod(7, 3)"), "1");
        assert_eq!(ok("mod(-7, 3)"), "-1");
        assert_eq!(ok("mul(5, 3)"), "15");
        assert_eq!(ok("sub(7, 3)"), "4");
        assert!(err("div(1, 0)").contains("'div'"));
        assert!(err("mod(1, 0)").contains("'mod'"));
        assert!(err("add(9223372036854775807, 1)").contains("'add'"));
        assert!(err("mul(9223372036854775807, 2)").contains("'mul'"));
        assert!(err("add('a', 1)").contains("'add'"));
        assert!(err("int('four')").contains("'int'"));
        assert!(err("float('NaN')").contains("'float'"));
    }

    // ----- lambda -----

    #[test]
    fn filter_examples() {
        let p = [("dogs", DOGS)];
        assert_eq!(
            okp(
                &p,
                "filter(parameters('dogs'), lambda('dog', greaterOrEquals(lambdaVariables('dog').age, 5)))"
            ),
            j(
                r#"[{"name":"Evie","age":5,"interests":["Ball","Frisbee"]},{"name":"Kira","age":8,"interests":["Rubs"]}]"#
            )
        );
        assert_eq!(
            ok("filter(range(0, 10), lambda('i', greater(lambdaVariables('i'), 5)))"),
            "[6,7,8,9]"
        );
        assert_eq!(
            ok("filter(range(0, 10), lambda('i', equals(0, mod(lambdaVariables('i'), 2))))"),
            "[0,2,4,6,8]"
        );
        // The optional index parameter (Bicep's dogNameIndex example).
        assert_eq!(
            okp(
                &p,
                "filter(parameters('dogs'), lambda('val', 'i', and(less(lambdaVariables('i'), 2), equals(first(lambdaVariables('val').name), 'C'))))"
            ),
            j(r#"[{"name":"Casper","age":3,"interests":["Other dogs"]}]"#)
        );
        assert!(err("filter(createArray(1), lambda('x', 1))").contains("'filter'"));
        assert!(err("filter(createArray(1), 1)").contains("'filter'"));
    }

    #[test]
    fn map_examples() {
        let p = [("dogs", DOGS)];
        assert_eq!(
            okp(
                &p,
                "map(parameters('dogs'), lambda('dog', lambdaVariables('dog').name))"
            ),
            r#"["Evie","Casper","Indy","Kira"]"#
        );
        assert_eq!(
            okp(
                &p,
                "map(parameters('dogs'), lambda('dog', concat('Hello ', lambdaVariables('dog').name, '!')))"
            ),
            r#"["Hello Evie!","Hello Casper!","Hello Indy!","Hello Kira!"]"#
        );
        assert_eq!(
            okp(
                &p,
                "map(range(0, length(parameters('dogs'))), lambda('i', createObject('i', lambdaVariables('i'), 'dog', parameters('dogs')[lambdaVariables('i')].name, 'greeting', concat('Ahoy, ', parameters('dogs')[lambdaVariables('i')].name, '!'))))"
            ),
            r#"[{"i":0,"dog":"Evie","greeting":"Ahoy, Evie!"},{"i":1,"dog":"Casper","greeting":"Ahoy, Casper!"},{"i":2,"dog":"Indy","greeting":"Ahoy, Indy!"},{"i":3,"dog":"Kira","greeting":"Ahoy, Kira!"}]"#
        );
        assert_eq!(
            okp(
                &p,
                "map(parameters('dogs'), lambda('x', 'i', createObject('index', lambdaVariables('i'), 'val', lambdaVariables('x').name)))"
            ),
            r#"[{"index":0,"val":"Evie"},{"index":1,"val":"Casper"},{"index":2,"val":"Indy"},{"index":3,"val":"Kira"}]"#
        );
        assert_eq!(ok("map(createArray(), lambda('x', 1))"), "[]");
    }

    #[test]
    fn reduce_examples() {
        let p = [("dogs", DOGS)];
        let ages = "map(parameters('dogs'), lambda('dog', lambdaVariables('dog').age))";
        assert_eq!(
            okp(
                &p,
                &format!(
                    "reduce({ages}, 0, lambda('cur', 'next', add(lambdaVariables('cur'), lambdaVariables('next'))))"
                )
            ),
            "18"
        );
        assert_eq!(
            okp(
                &p,
                &format!(
                    "reduce({ages}, 1, lambda('cur', 'next', add(lambdaVariables('cur'), lambdaVariables('next'))))"
                )
            ),
            "19"
        );
        assert_eq!(
            okp(
                &p,
                &format!(
                    "reduce({ages}, 0, lambda('cur', 'next', 'i', if(equals(mod(lambdaVariables('i'), 2), 0), add(lambdaVariables('cur'), lambdaVariables('next')), lambdaVariables('cur'))))"
                )
            ),
            "7"
        );
        assert_eq!(
            ok(
                "reduce(createArray(createObject('foo', 123), createObject('bar', 456), createObject('baz', 789)), createObject(), lambda('cur', 'next', union(lambdaVariables('cur'), lambdaVariables('next'))))"
            ),
            r#"{"foo":123,"bar":456,"baz":789}"#
        );
        assert_eq!(
            ok("reduce(createArray(), 0, lambda('cur', 'next', 1))"),
            "0"
        );
    }

    #[test]
    fn sort_examples() {
        let p = [("dogs", DOGS)];
        assert_eq!(
            okp(
                &p,
                "sort(parameters('dogs'), lambda('a', 'b', less(lambdaVariables('a').age, lambdaVariables('b').age)))"
            ),
            j(
                r#"[{"name":"Indy","age":2,"interests":["Butter"]},{"name":"Casper","age":3,"interests":["Other dogs"]},{"name":"Evie","age":5,"interests":["Ball","Frisbee"]},{"name":"Kira","age":8,"interests":["Rubs"]}]"#
            )
        );
        assert_eq!(
            ok(
                "sort(createArray(8, 3, 10, -13, 5), lambda('x', 'y', less(lambdaVariables('x'), lambdaVariables('y'))))"
            ),
            "[-13,3,5,8,10]"
        );
        assert_eq!(
            ok(
                "sort(createArray('ghi', 'abc', 'def'), lambda('x', 'y', greater(lambdaVariables('x'), lambdaVariables('y'))))"
            ),
            r#"["ghi","def","abc"]"#
        );
        // Stable: equal keys keep their order.
        assert_eq!(
            ok(
                "map(sort(createArray(createObject('k', 1, 'n', 'a'), createObject('k', 0, 'n', 'b'), createObject('k', 1, 'n', 'c'), createObject('k', 0, 'n', 'd')), lambda('x', 'y', less(lambdaVariables('x').k, lambdaVariables('y').k))), lambda('x', lambdaVariables('x').n))"
            ),
            r#"["b","d","a","c"]"#
        );
        assert_eq!(ok("sort(createArray(), lambda('x', 'y', true()))"), "[]");
        assert!(err("sort(createArray(1, 2), lambda('x', 'y', 'no'))").contains("'sort'"));
        // An error inside the lambda is reported.
        assert!(err("sort(createArray(1, 2), lambda('x', 'y', div(1, 0)))").contains("'div'"));
    }

    #[test]
    fn to_object_examples() {
        let p = [("dogs", DOGS)];
        let expected = j(
            r#"{"Evie":{"name":"Evie","age":5,"interests":["Ball","Frisbee"]},"Casper":{"name":"Casper","age":3,"interests":["Other dogs"]},"Indy":{"name":"Indy","age":2,"interests":["Butter"]},"Kira":{"name":"Kira","age":8,"interests":["Rubs"]}}"#,
        );
        assert_eq!(
            okp(
                &p,
                "toObject(parameters('dogs'), lambda('entry', lambdaVariables('entry').name))"
            ),
            expected
        );
        assert_eq!(
            okp(
                &p,
                "toObject(parameters('dogs'), lambda('entry', lambdaVariables('entry').name), lambda('entry', lambdaVariables('entry')))"
            ),
            expected
        );
        let dogs2 = r#"[
            {"name": "Evie", "properties": {"age": 5, "interests": ["Ball", "Frisbee"]}},
            {"name": "Casper", "properties": {"age": 3, "interests": ["Other dogs"]}},
            {"name": "Indy", "properties": {"age": 2, "interests": ["Butter"]}},
            {"name": "Kira", "properties": {"age": 8, "interests": ["Rubs"]}}
        ]"#;
        assert_eq!(
            okp(
                &[("dogs", dogs2)],
                "toObject(parameters('dogs'), lambda('entry', lambdaVariables('entry').name), lambda('entry', lambdaVariables('entry').properties))"
            ),
            j(
                r#"{"Evie":{"age":5,"interests":["Ball","Frisbee"]},"Casper":{"age":3,"interests":["Other dogs"]},"Indy":{"age":2,"interests":["Butter"]},"Kira":{"age":8,"interests":["Rubs"]}}"#
            )
        );
        assert!(
            err("toObject(createArray(1), lambda('x', lambdaVariables('x')))")
                .contains("'toObject'")
        );
    }

    #[test]
    fn group_by_examples() {
        assert_eq!(
            ok(
                "groupBy(createArray('foo', 'bar', 'baz'), lambda('x', first(lambdaVariables('x'))))"
            ),
            r#"{"f":["foo"],"b":["bar","baz"]}"#
        );
        assert_eq!(
            ok(
                "groupBy(createArray(createObject('type', 'a', 'value', 123), createObject('type', 'b', 'value', 456), createObject('type', 'a', 'value', 789)), lambda('arg', lambdaVariables('arg').type), lambda('arg', lambdaVariables('arg').value))"
            ),
            r#"{"a":[123,789],"b":[456]}"#
        );
        assert!(err("groupBy(createArray(1), lambda('x', 1))").contains("'groupBy'"));
    }

    #[test]
    fn map_values_examples() {
        assert_eq!(
            ok(
                "mapValues(createObject('a', 123, 'b', 456), lambda('val', mul(lambdaVariables('val'), 2)))"
            ),
            r#"{"a":246,"b":912}"#
        );
        assert_eq!(
            ok(
                "mapValues(createObject('foo', 'foo', 'bar', 'bar'), lambda('val', concat(lambdaVariables('val'), '!')))"
            ),
            r#"{"foo":"foo!","bar":"bar!"}"#
        );
        assert!(err("mapValues(createArray(), lambda('v', 1))").contains("'mapValues'"));
    }

    // ----- CIDR -----

    #[test]
    fn parse_cidr_examples() {
        assert_eq!(
            ok("parseCidr('10.144.0.0/20')"),
            j(
                r#"{"network":"10.144.0.0","netmask":"255.255.240.0","broadcast":"10.144.15.255",
                 "firstUsable":"10.144.0.1","lastUsable":"10.144.15.254","cidr":20}"#
            )
        );
        assert_eq!(
            ok("parseCidr('fdad:3236:5555::/48')"),
            j(
                r#"{"network":"fdad:3236:5555::","netmask":"ffff:ffff:ffff::",
                 "firstUsable":"fdad:3236:5555::","lastUsable":"fdad:3236:5555:ffff:ffff:ffff:ffff:ffff","cidr":48}"#
            )
        );
        assert_eq!(ok("parseCidr('10.144.3.7/24').network"), r#""10.144.3.0""#);
        assert_eq!(ok("parseCidr('0.0.0.0/0').netmask"), r#""0.0.0.0""#);
        assert_eq!(ok("parseCidr('10.0.0.5/32').lastUsable"), r#""10.0.0.5""#);
        assert!(err("parseCidr('10.0.0.0')").contains("'parseCidr'"));
        assert!(err("parseCidr('10.0.0.0/33')").contains("'parseCidr'"));
        assert!(err("parseCidr('10.0.0/8')").contains("'parseCidr'"));
        assert!(err("parseCidr('::/129')").contains("'parseCidr'"));
    }

    #[test]
    fn cidr_subnet_examples() {
        let v4 = (0..5)
            .map(|i| ok(&format!("cidrSubnet('10.144.0.0/20', 24, {i})")))
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(
            v4,
            r#""10.144.0.0/24","10.144.1.0/24","10.144.2.0/24","10.144.3.0/24","10.144.4.0/24""#
        );
        let v6 = (0..5)
            .map(|i| ok(&format!("cidrSubnet('fdad:3236:5555::/48', 52, {i})")))
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(
            v6,
            r#""fdad:3236:5555::/52","fdad:3236:5555:1000::/52","fdad:3236:5555:2000::/52","fdad:3236:5555:3000::/52","fdad:3236:5555:4000::/52""#
        );
        assert_eq!(
            ok("cidrSubnet('10.144.0.0/20', 24, 15)"),
            r#""10.144.15.0/24""#
        );
        assert_eq!(
            ok("cidrSubnet('10.144.0.0/20', 20, 0)"),
            r#""10.144.0.0/20""#
        );
        assert_eq!(ok("cidrSubnet('::/0', 128, 5)"), r#""::5/128""#);
        assert!(err("cidrSubnet('10.144.0.0/20', 24, 16)").contains("'cidrSubnet'"));
        assert!(err("cidrSubnet('10.144.0.0/20', 19, 0)").contains("'cidrSubnet'"));
        assert!(err("cidrSubnet('10.144.0.0/20', 33, 0)").contains("'cidrSubnet'"));
        assert!(err("cidrSubnet('10.144.0.0/20', 24, -1)").contains("'cidrSubnet'"));
    }

    #[test]
    fn cidr_host_examples() {
        let v4 = (0..5)
            .map(|i| ok(&format!("cidrHost('10.144.3.0/24', {i})")))
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(
            v4,
            r#""10.144.3.1","10.144.3.2","10.144.3.3","10.144.3.4","10.144.3.5""#
        );
        let v6 = (0..5)
            .map(|i| ok(&format!("cidrHost('fdad:3236:5555:3000::/52', {i})")))
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(
            v6,
            r#""fdad:3236:5555:3000::1","fdad:3236:5555:3000::2","fdad:3236:5555:3000::3","fdad:3236:5555:3000::4","fdad:3236:5555:3000::5""#
        );
        assert_eq!(ok("cidrHost('192.168.1.0/24', 253)"), r#""192.168.1.254""#);
        assert!(err("cidrHost('192.168.1.0/24', 254)").contains("'cidrHost'"));
        assert!(err("cidrHost('192.168.1.0/24', -1)").contains("'cidrHost'"));
        assert!(err("cidrHost('fd00::/128', 0)").contains("'cidrHost'"));
    }

    // ----- unknowns -----

    #[test]
    fn unknowns_are_carried_or_decide_the_result() {
        assert_eq!(ok("length(createArray(parameters('u'), 1))"), "2");
        assert!(is_unknown("contains(createArray(parameters('u')), 'a')"));
        assert_eq!(
            ok("contains(createArray(parameters('u'), 'a'), 'a')"),
            "true"
        );
        assert!(is_unknown("coalesce(null(), parameters('u'))"));
        assert_eq!(ok("coalesce(null(), 'x', parameters('u'))"), r#""x""#);
        assert_eq!(ok("coalesce(null(), null())"), "null");
        assert_eq!(
            ok("map(createArray(1, parameters('u')), lambda('x', lambdaVariables('x')))"),
            r#"[1,"<unknown>"]"#
        );
        assert!(is_unknown("length(parameters('u'))"));
        assert!(is_unknown("equals(parameters('u'), 1)"));
        assert!(is_unknown(
            "equals(createArray(parameters('u')), createArray(1))"
        ));
        assert_eq!(
            ok("equals(createArray(parameters('u')), createArray(1, 2))"),
            "false"
        );
        assert_eq!(ok("empty(createArray(parameters('u')))"), "false");
        assert_eq!(
            ok("first(createArray(parameters('u'), 1))"),
            r#""<unknown>""#
        );
        assert!(is_unknown(
            "indexOf(createArray(parameters('u'), 'a'), 'a')"
        ));
        assert_eq!(ok("indexOf(createArray('a', parameters('u')), 'a')"), "0");
        assert!(is_unknown("max(createArray(1, parameters('u')))"));
        assert_eq!(
            ok("createObject('a', parameters('u'))"),
            r#"{"a":"<unknown>"}"#
        );
        assert!(is_unknown("createObject(parameters('u'), 1)"));
        assert_eq!(
            ok("union(createObject('a', parameters('u')), createObject('b', 1))"),
            r#"{"a":"<unknown>","b":1}"#
        );
        assert_eq!(
            ok("union(createArray(parameters('u')), createArray(1))"),
            r#"["<unknown>",1]"#
        );
        assert!(is_unknown("union(parameters('u'), createArray(1))"));
        assert!(is_unknown(
            "filter(createArray(1, 2), lambda('x', equals(lambdaVariables('x'), parameters('u'))))"
        ));
        assert!(is_unknown(
            "sort(createArray(1, 2), lambda('x', 'y', parameters('u')))"
        ));
        assert!(is_unknown(
            "toObject(createArray(1), lambda('x', parameters('u')))"
        ));
        assert_eq!(
            ok("objectKeys(createObject('a', parameters('u')))"),
            r#"["a"]"#
        );
        assert!(is_unknown(
            "tryGet(createObject('a', parameters('u')), 'a', 'b')"
        ));
        assert_eq!(
            ok("tryGet(createObject('a', parameters('u')), 'b')"),
            "null"
        );
        assert!(is_unknown(
            "intersection(createArray(parameters('u')), createArray(1))"
        ));
        assert!(is_unknown(
            "shallowMerge(createArray(createObject('a', 1), parameters('u')))"
        ));
        assert!(is_unknown(
            "flatten(createArray(createArray(1), parameters('u')))"
        ));
        assert!(is_unknown("not(parameters('u'))"));
        assert!(is_unknown("add(parameters('u'), 1)"));
        assert!(is_unknown("parseCidr(parameters('u'))"));
    }

    #[test]
    fn budget_bounds_large_work() {
        let env = TestEnv {
            params: HashMap::new(),
            scope: Scope::default(),
            budget: Budget::new(1000),
        };
        let e =
            crate::expr::parse("map(range(0, 10000), lambda('x', lambdaVariables('x')))").unwrap();
        assert!(Evaluator::new(&env).eval(&e).is_err());
    }

    #[test]
    fn culture_order_helper() {
        assert_eq!(culture_cmp("a", "A"), Ordering::Less);
        assert_eq!(culture_cmp("a", "b"), Ordering::Less);
        assert_eq!(culture_cmp("B", "a"), Ordering::Greater);
        assert_eq!(culture_cmp("abc", "abc"), Ordering::Equal);
        assert_eq!(culture_cmp("ab", "abc"), Ordering::Less);
        assert_eq!(culture_cmp("_", "a"), Ordering::Less);
        assert_eq!(culture_cmp("9", "a"), Ordering::Less);
    }
}
