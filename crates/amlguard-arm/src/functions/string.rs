//! String functions of Microsoft's reference ("String functions for ARM
//! templates"), except those that also take arrays or objects (`concat`,
//! `contains`, `empty`, `first`, `last`, `indexOf`, `lastIndexOf`, `length`,
//! `skip`, `take`, `json`, `join`), which live with the collection functions.
//!
//! Azure evaluates these functions in .NET, so the details follow .NET:
//! lengths and indexes count UTF-16 code units, `format` is .NET composite
//! formatting with the invariant culture, booleans convert to `True`/`False`,
//! case-insensitive comparisons are ordinal (`OrdinalIgnoreCase`), `uriComponent`
//! is `Uri.EscapeDataString`.

use amlguard_source::{Document, Node, NodeKind, Number};

use crate::eval::{Cx, FnDef, Result};
use crate::value::{Kind, Object, Unknown, Value};

pub const DEFS: &[FnDef] = &[
    def("base64", 1, 1, base64),
    def("base64ToJson", 1, 1, base64_to_json),
    def("base64ToString", 1, 1, base64_to_string),
    def("dataUri", 1, 1, data_uri),
    def("dataUriToString", 1, 1, data_uri_to_string),
    def("endsWith", 2, 2, ends_with),
    FnDef {
        name: "format",
        min_args: 1,
        max_args: usize::MAX,
        // Only the arguments the format string uses matter: handled in `format`.
        propagate_unknown: false,
        f: format,
    },
    def("guid", 1, usize::MAX, guid),
    def("join", 2, 2, join),
    def("newGuid", 0, 0, new_guid),
    def("padLeft", 2, 3, pad_left),
    def("replace", 3, 3, replace),
    def("split", 2, 2, split),
    def("startsWith", 2, 2, starts_with),
    def("string", 1, 1, string),
    def("substring", 1, 3, substring),
    def("toLower", 1, 1, to_lower),
    def("toUpper", 1, 1, to_upper),
    def("trim", 1, 1, trim),
    def("uniqueString", 1, usize::MAX, unique_string),
    def("uri", 2, 2, uri),
    def("uriComponent", 1, 1, uri_component),
    def("uriComponentToString", 1, 1, uri_component_to_string),
];

const fn def(
    name: &'static str,
    min_args: usize,
    max_args: usize,
    f: crate::eval::NativeFn,
) -> FnDef {
    FnDef {
        name,
        min_args,
        max_args,
        propagate_unknown: true,
        f,
    }
}

/// Longest string a function may build (a hostile template gets an error, not an OOM).
pub const MAX_STRING_BYTES: usize = 16 * 1024 * 1024;

/// Largest precision a numeric format may ask for (`{0:N100000}`).
const MAX_PRECISION: usize = 10_000;

/// .NET's limits on composite format items.
const MAX_FORMAT_INDEX: usize = 1_000_000;
const MAX_FORMAT_WIDTH: usize = 1_000_000;

fn too_long(cx: &Cx<'_, '_>, bytes: usize) -> crate::eval::EvalError {
    cx.error(format!(
        "the result would be {bytes} bytes long, more than the limit of {MAX_STRING_BYTES} bytes"
    ))
}

/// Checks a result's size before it is built, and spends budget for it.
fn reserve(cx: &Cx<'_, '_>, bytes: usize) -> Result<()> {
    if bytes > MAX_STRING_BYTES {
        return Err(too_long(cx, bytes));
    }
    cx.spend(u64::try_from(bytes / 1024).unwrap_or(u64::MAX))
}

/// A built string result, checked for size.
fn finish(cx: &Cx<'_, '_>, s: String) -> Result<Value> {
    reserve(cx, s.len())?;
    Ok(Value::string(s))
}

fn unknown_from(u: &Unknown) -> Value {
    Value::unknown_with(u.clone())
}

fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

// ---------------------------------------------------------------- base64, data URIs

fn base64(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let s = cx.str_arg(&args, 0)?;
    reserve(cx, s.len() / 3 * 4 + 4)?;
    finish(cx, base64_encode(s.as_bytes()))
}

fn base64_to_string(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let s = cx.str_arg(&args, 0)?;
    let bytes = base64_decode(s).map_err(|m| cx.error(m))?;
    finish(cx, String::from_utf8_lossy(&bytes).into_owned())
}

fn base64_to_json(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let s = cx.str_arg(&args, 0)?;
    let bytes = base64_decode(s).map_err(|m| cx.error(m))?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    cx.spend(u64::try_from(text.len() / 1024).unwrap_or(u64::MAX))?;
    parse_json_text(&text)
        .map_err(|m| cx.error(format!("the decoded value is not valid JSON: {m}")))
}

const DATA_URI_PREFIX: &str = "data:text/plain;charset=utf8;base64,";

fn data_uri(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let s = cx.str_arg(&args, 0)?;
    reserve(cx, DATA_URI_PREFIX.len() + s.len() / 3 * 4 + 4)?;
    let mut out = String::from(DATA_URI_PREFIX);
    out.push_str(&base64_encode(s.as_bytes()));
    finish(cx, out)
}

fn data_uri_to_string(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let s = cx.str_arg(&args, 0)?;
    let not_data_uri = || {
        cx.error(format!(
            "the value '{}' is not a data URI ('data:[<media type>][;base64],<data>')",
            shorten(s)
        ))
    };
    let rest = s
        .get(..5)
        .filter(|p| p.eq_ignore_ascii_case("data:"))
        .and_then(|_| s.get(5..))
        .ok_or_else(not_data_uri)?;
    let (meta, data) = rest.split_once(',').ok_or_else(not_data_uri)?;
    let is_base64 = meta.len() >= 7
        && meta
            .get(meta.len() - 7..)
            .is_some_and(|t| t.eq_ignore_ascii_case(";base64"));
    if is_base64 {
        let bytes = base64_decode(data).map_err(|m| cx.error(m))?;
        finish(cx, String::from_utf8_lossy(&bytes).into_owned())
    } else {
        finish(cx, unescape_data(data))
    }
}

/// Shortens a value for an error message.
fn shorten(s: &str) -> String {
    if s.chars().count() <= 80 {
        s.to_string()
    } else {
        let head: String = s.chars().take(77).collect();
        format!("{head}...")
    }
}

const BASE64_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (`Convert.ToBase64String`).
pub fn base64_encode(bytes: &[u8]) -> String {
    let sym = |v: u32| -> char {
        BASE64_ALPHABET
            .get(usize::try_from(v & 63).unwrap_or(0))
            .map_or('A', |&b| char::from(b))
    };
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b0 = u32::from(chunk.first().copied().unwrap_or(0));
        let b1 = u32::from(chunk.get(1).copied().unwrap_or(0));
        let b2 = u32::from(chunk.get(2).copied().unwrap_or(0));
        let n = (b0 << 16) | (b1 << 8) | b2;
        out.push(sym(n >> 18));
        out.push(sym(n >> 12));
        out.push(if chunk.len() > 1 { sym(n >> 6) } else { '=' });
        out.push(if chunk.len() > 2 { sym(n) } else { '=' });
    }
    out
}

/// Decodes base64 as `Convert.FromBase64String` does: white space is ignored,
/// the length must be a multiple of 4, `=` may only pad the end.
pub fn base64_decode(text: &str) -> std::result::Result<Vec<u8>, String> {
    let invalid = || {
        "the input is not a valid base64 string: it contains a character outside the base64 alphabet, \
         more than two padding characters, or a length that is not a multiple of 4"
            .to_string()
    };
    let symbols: Vec<u8> = text
        .bytes()
        .filter(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .collect();
    if !symbols.len().is_multiple_of(4) {
        return Err(invalid());
    }
    let padding = symbols.iter().rev().take_while(|&&b| b == b'=').count();
    if padding > 2 {
        return Err(invalid());
    }
    let data_len = symbols.len() - padding;
    let mut out = Vec::with_capacity(symbols.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &b in symbols.get(..data_len).unwrap_or(&[]) {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return Err(invalid()),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xFF).unwrap_or(0));
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- JSON text

/// Parses JSON text into a value: first with the project's JSON reader, then
/// (for what Azure's Newtonsoft.Json reader also accepts, such as
/// `{'one': 'a'}` in the reference's `base64ToJson` example) leniently:
/// single-quoted strings and unquoted property names.
pub fn parse_json_text(text: &str) -> std::result::Result<Value, String> {
    match Document::parse("json", text.to_string()) {
        Ok(doc) => Ok(node_to_value(&doc.root)),
        Err(strict) => parse_json_lenient(text).map_err(|_| {
            format!(
                "line {}, column {}: expected {}, found {}",
                strict.line, strict.column, strict.expected, strict.found
            )
        }),
    }
}

/// Converts a parsed JSON node to a value (without provenance). Duplicate
/// property names keep the last value, as Azure does.
pub fn node_to_value(node: &Node) -> Value {
    match &node.kind {
        NodeKind::Null => Value::null(),
        NodeKind::Bool(b) => Value::bool(*b),
        NodeKind::Number(Number::Int(i)) => Value::int(*i),
        NodeKind::Number(Number::Float(f)) => Value::float(*f),
        NodeKind::String(s) => Value::string(s.as_str()),
        NodeKind::Array(items) => Value::array(items.iter().map(node_to_value).collect()),
        NodeKind::Object(members) => {
            let mut o = Object::with_capacity(members.len());
            for m in members {
                o.insert(m.key.clone(), node_to_value(&m.value));
            }
            Value::object(o)
        }
    }
}

/// Deepest nesting the lenient JSON reader accepts.
const MAX_JSON_DEPTH: usize = 512;

/// A JSON reader with Newtonsoft.Json's common extensions: strings in single
/// or double quotes, unquoted property names, comments, trailing commas.
pub fn parse_json_lenient(text: &str) -> std::result::Result<Value, String> {
    let mut p = JsonReader {
        chars: text.trim_start_matches('\u{feff}').chars().collect(),
        pos: 0,
    };
    p.skip_space()?;
    let v = p.value(0)?;
    p.skip_space()?;
    if p.pos < p.chars.len() {
        return Err(p.error("the end of the text"));
    }
    Ok(v)
}

struct JsonReader {
    chars: Vec<char>,
    pos: usize,
}

impl JsonReader {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }
    fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }
    fn error(&self, expected: &str) -> String {
        let found = match self.peek() {
            None => "the end of the text".to_string(),
            Some(c) => format!("'{c}'"),
        };
        format!(
            "at character {}: expected {expected}, found {found}",
            self.pos + 1
        )
    }
    fn skip_space(&mut self) -> std::result::Result<(), String> {
        loop {
            match (self.peek(), self.peek_at(1)) {
                (Some(c), _) if c.is_whitespace() => self.pos += 1,
                (Some('/'), Some('/')) => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.pos += 1;
                    }
                }
                (Some('/'), Some('*')) => {
                    self.pos += 2;
                    loop {
                        match (self.peek(), self.peek_at(1)) {
                            (None, _) => return Err(self.error("'*/' to close the comment")),
                            (Some('*'), Some('/')) => {
                                self.pos += 2;
                                break;
                            }
                            _ => self.pos += 1,
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }
    fn value(&mut self, depth: usize) -> std::result::Result<Value, String> {
        match self.peek() {
            Some('{') => {
                self.enter(depth)?;
                self.pos += 1;
                let mut o = Object::new();
                loop {
                    self.skip_space()?;
                    if self.peek() == Some('}') {
                        self.pos += 1;
                        return Ok(Value::object(o));
                    }
                    let key = match self.peek() {
                        Some(q @ ('"' | '\'')) => self.string(q)?,
                        Some(c) if c.is_alphanumeric() || c == '_' || c == '$' => {
                            let start = self.pos;
                            while self
                                .peek()
                                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$')
                            {
                                self.pos += 1;
                            }
                            self.chars
                                .get(start..self.pos)
                                .unwrap_or(&[])
                                .iter()
                                .collect()
                        }
                        _ => return Err(self.error("a property name or '}'")),
                    };
                    self.skip_space()?;
                    if self.peek() != Some(':') {
                        return Err(self.error("':' after a property name"));
                    }
                    self.pos += 1;
                    self.skip_space()?;
                    let v = self.value(depth + 1)?;
                    o.insert(key, v);
                    self.skip_space()?;
                    match self.peek() {
                        Some(',') => self.pos += 1,
                        Some('}') => {}
                        _ => return Err(self.error("',' or '}' after a property")),
                    }
                }
            }
            Some('[') => {
                self.enter(depth)?;
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_space()?;
                    if self.peek() == Some(']') {
                        self.pos += 1;
                        return Ok(Value::array(items));
                    }
                    items.push(self.value(depth + 1)?);
                    self.skip_space()?;
                    match self.peek() {
                        Some(',') => self.pos += 1,
                        Some(']') => {}
                        _ => return Err(self.error("',' or ']' after an array element")),
                    }
                }
            }
            Some(q @ ('"' | '\'')) => Ok(Value::string(self.string(q)?)),
            Some(c) if c == '-' || c.is_ascii_digit() => self.number(),
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.pos;
                while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
                    self.pos += 1;
                }
                let word: String = self
                    .chars
                    .get(start..self.pos)
                    .unwrap_or(&[])
                    .iter()
                    .collect();
                match word.as_str() {
                    "true" => Ok(Value::bool(true)),
                    "false" => Ok(Value::bool(false)),
                    "null" => Ok(Value::null()),
                    _ => {
                        self.pos = start;
                        Err(self.error("a value"))
                    }
                }
            }
            _ => Err(self.error("a value")),
        }
    }
    fn enter(&self, depth: usize) -> std::result::Result<(), String> {
        if depth >= MAX_JSON_DEPTH {
            return Err(format!(
                "at character {}: the value is nested more than {MAX_JSON_DEPTH} levels deep",
                self.pos + 1
            ));
        }
        Ok(())
    }
    fn string(&mut self, quote: char) -> std::result::Result<String, String> {
        self.pos += 1;
        let mut s = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.error("the closing quote of a string"));
            };
            self.pos += 1;
            if c == quote {
                return Ok(s);
            }
            if c != '\\' {
                s.push(c);
                continue;
            }
            let Some(e) = self.peek() else {
                return Err(self.error("an escape sequence"));
            };
            self.pos += 1;
            match e {
                '"' | '\'' | '\\' | '/' => s.push(e),
                'b' => s.push('\u{8}'),
                'f' => s.push('\u{c}'),
                'n' => s.push('\n'),
                'r' => s.push('\r'),
                't' => s.push('\t'),
                'u' => {
                    let hi = self.hex4()?;
                    let c = if (0xD800..0xDC00).contains(&hi)
                        && self.peek() == Some('\\')
                        && self.peek_at(1) == Some('u')
                    {
                        let save = self.pos;
                        self.pos += 2;
                        let lo = self.hex4()?;
                        if (0xDC00..0xE000).contains(&lo) {
                            char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                        } else {
                            self.pos = save;
                            None
                        }
                    } else {
                        char::from_u32(hi)
                    };
                    s.push(c.unwrap_or('\u{fffd}'));
                }
                _ => {
                    self.pos -= 1;
                    return Err(self.error("a valid escape sequence"));
                }
            }
        }
    }
    fn hex4(&mut self) -> std::result::Result<u32, String> {
        let mut v = 0;
        for _ in 0..4 {
            let d = self
                .peek()
                .and_then(|c| c.to_digit(16))
                .ok_or_else(|| self.error("four hexadecimal digits"))?;
            v = v * 16 + d;
            self.pos += 1;
        }
        Ok(v)
    }
    fn number(&mut self) -> std::result::Result<Value, String> {
        let start = self.pos;
        if self.peek() == Some('-') {
            self.pos += 1;
        }
        let digits_from = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        if self.pos == digits_from {
            return Err(self.error("a digit"));
        }
        let mut float = false;
        if self.peek() == Some('.') {
            float = true;
            self.pos += 1;
            let f = self.pos;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1;
            }
            if self.pos == f {
                return Err(self.error("a digit after '.'"));
            }
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            float = true;
            self.pos += 1;
            if matches!(self.peek(), Some('+' | '-')) {
                self.pos += 1;
            }
            let f = self.pos;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1;
            }
            if self.pos == f {
                return Err(self.error("a digit in the exponent"));
            }
        }
        let text: String = self
            .chars
            .get(start..self.pos)
            .unwrap_or(&[])
            .iter()
            .collect();
        if !float && let Ok(i) = text.parse::<i64>() {
            return Ok(Value::int(i));
        }
        text.parse::<f64>()
            .map(Value::float)
            .map_err(|_| format!("at character {}: '{text}' is not a number", start + 1))
    }
}

// ---------------------------------------------------------------- comparisons, case

/// .NET's simple (one-to-one) upper-case mapping, as `OrdinalIgnoreCase` and
/// `ToUpperInvariant` use it.
fn upper_char(c: char) -> char {
    let mut up = c.to_uppercase();
    match (up.next(), up.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// .NET's simple lower-case mapping (`ToLowerInvariant`).
fn lower_char(c: char) -> char {
    // The only multi-character lower-case mapping is U+0130, whose simple mapping is 'i'.
    c.to_lowercase().next().unwrap_or(c)
}

fn fold(s: &str) -> Vec<char> {
    s.chars().map(upper_char).collect()
}

fn starts_with(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let s = fold(cx.str_arg(&args, 0)?);
    let find = fold(cx.str_arg(&args, 1)?);
    Ok(Value::bool(s.starts_with(&find)))
}

fn ends_with(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let s = fold(cx.str_arg(&args, 0)?);
    let find = fold(cx.str_arg(&args, 1)?);
    Ok(Value::bool(s.ends_with(&find)))
}

fn to_lower(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let s = cx.str_arg(&args, 0)?;
    finish(cx, s.chars().map(lower_char).collect())
}

fn to_upper(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let s = cx.str_arg(&args, 0)?;
    finish(cx, s.chars().map(upper_char).collect())
}

fn trim(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    // `char::is_whitespace` is Unicode's White_Space, the set .NET's `Char.IsWhiteSpace` uses.
    let s = cx.str_arg(&args, 0)?;
    Ok(Value::string(s.trim()))
}

// ---------------------------------------------------------------- hashes

fn string_args<'v>(cx: &Cx<'_, '_>, args: &'v [Value]) -> Result<Vec<&'v str>> {
    (0..args.len()).map(|i| cx.str_arg(args, i)).collect()
}

fn guid(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let parts = string_args(cx, &args)?;
    Ok(Value::string(crate::hash::guid(&parts)))
}

fn unique_string(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let parts = string_args(cx, &args)?;
    Ok(Value::string(crate::hash::unique_string(&parts)))
}

fn new_guid(_cx: &mut Cx<'_, '_>, _args: Vec<Value>) -> Result<Value> {
    Ok(Value::unknown(
        "newGuid() returns a new value at every deployment",
    ))
}

// ---------------------------------------------------------------- join

/// `join(inputArray, delimiter)`: the elements (strings; numbers and booleans
/// as `string()` writes them) separated by the delimiter.
fn join(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let items = cx.array_arg(&args, 0)?;
    let delimiter = cx.str_arg(&args, 1)?;
    let mut out = String::new();
    for (k, item) in items.iter().enumerate() {
        if matches!(
            item.kind,
            Kind::Array(_) | Kind::Object(_) | Kind::Lambda(_)
        ) {
            return Err(cx.error(format!(
                "expects an array of strings, but element {k} is {}",
                item.type_name()
            )));
        }
        match display_value(item) {
            Ok(text) => {
                if k > 0 {
                    out.push_str(delimiter);
                }
                out.push_str(&text);
                if out.len() > MAX_STRING_BYTES {
                    return Err(too_long(cx, out.len()));
                }
            }
            Err(u) => return Ok(unknown_from(&u)),
        }
    }
    finish(cx, out)
}

// ---------------------------------------------------------------- padLeft, replace, split, substring

fn pad_left(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let first = args.first().cloned().unwrap_or_else(Value::null);
    let text = match &first.kind {
        Kind::String(s) => s.to_string(),
        Kind::Int(i) => i.to_string(),
        _ => return Err(cx.type_error(0, "a string or an integer", &first)),
    };
    let total = cx.int_arg(&args, 1)?;
    let pad = if args.len() > 2 {
        let p = cx.str_arg(&args, 2)?;
        let mut chars = p.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) if c.len_utf16() == 1 => c,
            _ => {
                return Err(cx.error(format!(
                    "the padding character must be a single character, got '{}'",
                    shorten(p)
                )));
            }
        }
    } else {
        ' '
    };
    if total < 0 {
        return Err(cx.error(format!(
            "the total length must not be negative, got {total}"
        )));
    }
    let have = utf16_len(&text);
    let want = usize::try_from(total).unwrap_or(usize::MAX);
    if want <= have {
        return Ok(if first.as_str().is_some() {
            first
        } else {
            Value::string(text)
        });
    }
    let missing = want - have;
    reserve(
        cx,
        missing
            .saturating_mul(pad.len_utf8())
            .saturating_add(text.len()),
    )?;
    let mut out = String::with_capacity(missing * pad.len_utf8() + text.len());
    out.extend(std::iter::repeat_n(pad, missing));
    out.push_str(&text);
    Ok(Value::string(out))
}

fn replace(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let s = cx.str_arg(&args, 0)?;
    let old = cx.str_arg(&args, 1)?;
    let new = cx.str_arg(&args, 2)?;
    if old.is_empty() {
        return Err(cx.error("the string to replace (oldString) must not be empty"));
    }
    let count = s.matches(old).count();
    let size =
        (s.len() - count.saturating_mul(old.len())).saturating_add(count.saturating_mul(new.len()));
    reserve(cx, size)?;
    Ok(Value::string(s.replace(old, new)))
}

fn split(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let s = cx.str_arg(&args, 0)?;
    let delim_arg = args.get(1).cloned().unwrap_or_else(Value::null);
    let delims: Vec<&str> = match &delim_arg.kind {
        Kind::String(d) => vec![d],
        Kind::Array(items) => {
            if let Some(u) = delim_arg.first_unknown() {
                return Ok(unknown_from(u));
            }
            let mut v = Vec::with_capacity(items.len());
            for item in items.iter() {
                match item.as_str() {
                    Some(d) => v.push(d),
                    None => {
                        return Err(cx.error(format!(
                            "expects the delimiters to be strings, got {}",
                            item.type_name()
                        )));
                    }
                }
            }
            v
        }
        _ => return Err(cx.type_error(1, "a string or an array of strings", &delim_arg)),
    };
    // As .NET's String.Split(string[]): empty delimiters are ignored; with none
    // left, white space separates.
    let delims: Vec<&str> = delims.into_iter().filter(|d| !d.is_empty()).collect();
    let work = s.len().saturating_mul(delims.len().max(1));
    cx.spend(u64::try_from(work / 1024).unwrap_or(u64::MAX))?;
    let mut parts: Vec<Value> = Vec::new();
    let mut piece_start = 0;
    let mut i = 0;
    while i < s.len() {
        let rest = s.get(i..).unwrap_or("");
        let matched = if delims.is_empty() {
            rest.chars()
                .next()
                .filter(|c| c.is_whitespace())
                .map(char::len_utf8)
        } else {
            delims
                .iter()
                .find(|d| rest.starts_with(**d))
                .map(|d| d.len())
        };
        match matched {
            Some(len) => {
                parts.push(Value::string(s.get(piece_start..i).unwrap_or("")));
                i += len;
                piece_start = i;
            }
            None => i += rest.chars().next().map_or(1, char::len_utf8),
        }
    }
    parts.push(Value::string(s.get(piece_start..).unwrap_or("")));
    cx.spend(u64::try_from(parts.len() / 64).unwrap_or(u64::MAX))?;
    Ok(Value::array(parts))
}

fn substring(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let s = cx.str_arg(&args, 0)?;
    let units: Vec<u16> = s.encode_utf16().collect();
    let len = i64::try_from(units.len()).unwrap_or(i64::MAX);
    let start = if args.len() > 1 {
        cx.int_arg(&args, 1)?
    } else {
        0
    };
    let length = if args.len() > 2 {
        Some(cx.int_arg(&args, 2)?)
    } else {
        None
    };
    if start < 0 || start > len {
        return Err(cx.error(format!(
            "the index parameter must refer to a location within the string. The index parameter: '{start}', the length of the string parameter: '{len}'."
        )));
    }
    let length = length.unwrap_or(len - start);
    if length < 0 || start.saturating_add(length) > len {
        return Err(cx.error(format!(
            "The index and length parameters must refer to a location within the string. The index parameter: '{start}', the length parameter: '{length}', the length of the string parameter: '{len}'."
        )));
    }
    let from = usize::try_from(start).unwrap_or(0);
    let to = usize::try_from(start + length).unwrap_or(0);
    let part = units.get(from..to).unwrap_or(&[]);
    Ok(Value::string(String::from_utf16_lossy(part)))
}

// ---------------------------------------------------------------- string()

fn string(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let v = args.into_iter().next().unwrap_or_else(Value::null);
    match &v.kind {
        Kind::String(_) => Ok(v),
        Kind::Unknown(u) => Ok(unknown_from(u)),
        Kind::Lambda(_) => Err(cx.type_error(0, "a value", &v)),
        _ => match display_value(&v) {
            Ok(text) => finish(cx, text),
            Err(u) => Ok(unknown_from(&u)),
        },
    }
}

/// A value as .NET writes it (`JToken.ToString()` of a primitive, compact JSON
/// of an object or array): strings as they are, `True`/`False`, `null` as the
/// empty string. An unknown anywhere in it is returned as the error.
fn display_value(v: &Value) -> std::result::Result<String, Unknown> {
    if let Some(u) = v.first_unknown() {
        return Err(u.clone());
    }
    Ok(match &v.kind {
        Kind::String(s) => s.to_string(),
        Kind::Int(i) => i.to_string(),
        Kind::Float(f) => net_double(*f),
        Kind::Bool(true) => "True".to_string(),
        Kind::Bool(false) => "False".to_string(),
        Kind::Null => String::new(),
        Kind::Array(_) | Kind::Object(_) | Kind::Unknown(_) | Kind::Lambda(_) => v.to_json_text(),
    })
}

// ---------------------------------------------------------------- uri

fn uri(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let base = cx.str_arg(&args, 0)?;
    let relative = cx.str_arg(&args, 1)?;
    let text = resolve_uri(base, relative).ok_or_else(|| {
        cx.error(format!(
            "the base URI '{}' is not an absolute URI (such as 'https://contoso.com/path/')",
            shorten(base)
        ))
    })?;
    finish(cx, text)
}

/// The five parts of a URI reference (RFC 3986, appendix B).
struct UriParts<'a> {
    scheme: Option<&'a str>,
    authority: Option<&'a str>,
    path: &'a str,
    query: Option<&'a str>,
    fragment: Option<&'a str>,
}

fn split_uri(s: &str) -> UriParts<'_> {
    let (rest, fragment) = match s.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (s, None),
    };
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let mut scheme = None;
    let mut rest = rest;
    if let Some(colon) = rest.find(':') {
        let candidate = rest.get(..colon).unwrap_or("");
        let valid = candidate
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && candidate
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if valid && !candidate.contains('/') {
            scheme = Some(candidate);
            rest = rest.get(colon + 1..).unwrap_or("");
        }
    }
    let mut authority = None;
    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find('/').unwrap_or(after.len());
        authority = Some(after.get(..end).unwrap_or(""));
        rest = after.get(end..).unwrap_or("");
    }
    UriParts {
        scheme,
        authority,
        path: rest,
        query,
        fragment,
    }
}

/// RFC 3986, 5.2.4.
fn remove_dot_segments(path: &str) -> String {
    let mut input = path.to_string();
    let mut out = String::new();
    while !input.is_empty() {
        if let Some(r) = input.strip_prefix("../") {
            input = r.to_string();
        } else if let Some(r) = input.strip_prefix("./") {
            input = r.to_string();
        } else if input.starts_with("/./") {
            input = input.get(2..).unwrap_or("").to_string();
        } else if input == "/." {
            input = "/".to_string();
        } else if input.starts_with("/../") || input == "/.." {
            input = if input == "/.." {
                "/".to_string()
            } else {
                input.get(3..).unwrap_or("").to_string()
            };
            match out.rfind('/') {
                Some(i) => out.truncate(i),
                None => out.clear(),
            }
        } else if input == "." || input == ".." {
            input.clear();
        } else {
            let skip = usize::from(input.starts_with('/'));
            let end = input
                .get(skip..)
                .and_then(|r| r.find('/'))
                .map_or(input.len(), |i| i + skip);
            out.push_str(input.get(..end).unwrap_or(""));
            input = input.get(end..).unwrap_or("").to_string();
        }
    }
    out
}

/// Combines a base URI and a relative URI as the reference describes: RFC 3986
/// resolution, except that a relative path starting with `/` is appended to a
/// base ending with `/` (the two slashes become one). `None` when the base is
/// not absolute.
pub fn resolve_uri(base: &str, relative: &str) -> Option<String> {
    let b = split_uri(base);
    let b_scheme = b.scheme?;
    let r = split_uri(relative);
    let (scheme, authority, path, query);
    if let Some(rs) = r.scheme {
        scheme = rs;
        authority = r.authority;
        path = remove_dot_segments(r.path);
        query = r.query;
    } else if r.authority.is_some() {
        scheme = b_scheme;
        authority = r.authority;
        path = remove_dot_segments(r.path);
        query = r.query;
    } else {
        scheme = b_scheme;
        authority = b.authority;
        if r.path.is_empty() {
            path = b.path.to_string();
            query = r.query.or(b.query);
        } else {
            query = r.query;
            if let Some(stripped) = r.path.strip_prefix('/') {
                path = if b.path.ends_with('/') {
                    remove_dot_segments(&format!("{}{stripped}", b.path))
                } else {
                    remove_dot_segments(r.path)
                };
            } else {
                let merged = if b.authority.is_some() && b.path.is_empty() {
                    format!("/{}", r.path)
                } else {
                    let dir = b
                        .path
                        .rfind('/')
                        .map_or("", |i| b.path.get(..=i).unwrap_or(""));
                    format!("{dir}{}", r.path)
                };
                path = remove_dot_segments(&merged);
            }
        }
    }
    let mut out = String::with_capacity(base.len() + relative.len());
    out.push_str(scheme);
    out.push(':');
    if let Some(a) = authority {
        out.push_str("//");
        out.push_str(a);
    }
    out.push_str(&path);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    if let Some(f) = r.fragment {
        out.push('#');
        out.push_str(f);
    }
    Some(out)
}

fn uri_component(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let s = cx.str_arg(&args, 0)?;
    reserve(cx, s.len().saturating_mul(3))?;
    finish(cx, escape_data(s))
}

fn uri_component_to_string(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let s = cx.str_arg(&args, 0)?;
    finish(cx, unescape_data(s))
}

/// `Uri.EscapeDataString`: every byte of the UTF-8 form except the RFC 3986
/// unreserved characters becomes `%XX`.
pub fn escape_data(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `Uri.UnescapeDataString`: `%XX` sequences that form UTF-8 are decoded;
/// anything else is left as written.
pub fn unescape_data(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < bytes.len() {
        // Gather a run of %XX escapes.
        let mut run: Vec<u8> = Vec::new();
        let mut j = i;
        while bytes.get(j) == Some(&b'%') {
            let hex = |k: usize| bytes.get(k).and_then(|&b| char::from(b).to_digit(16));
            match (hex(j + 1), hex(j + 2)) {
                (Some(h), Some(l)) => {
                    run.push(u8::try_from(h * 16 + l).unwrap_or(0));
                    j += 3;
                }
                _ => break,
            }
        }
        if run.is_empty() {
            let ch = s
                .get(i..)
                .and_then(|r| r.chars().next())
                .unwrap_or('\u{fffd}');
            out.push(ch);
            i += ch.len_utf8().max(1);
            continue;
        }
        for chunk in run.utf8_chunks() {
            out.push_str(chunk.valid());
            for b in chunk.invalid() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        i = j;
    }
    out
}

// ---------------------------------------------------------------- format()

fn format(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let Some(first) = args.first() else {
        return Err(cx.error("needs a format string"));
    };
    if let Some(u) = first.as_unknown() {
        return Ok(unknown_from(u));
    }
    let pattern = cx.str_arg(&args, 0)?;
    let items = args.get(1..).unwrap_or(&[]);
    let bad = |why: &str| {
        cx.error(format!(
            "the format string '{}' is not valid: {why}",
            shorten(pattern)
        ))
    };
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut unknown: Option<Unknown> = None;
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        i += 1;
        match c {
            '{' if chars.get(i) == Some(&'{') => {
                out.push('{');
                i += 1;
            }
            '}' if chars.get(i) == Some(&'}') => {
                out.push('}');
                i += 1;
            }
            '}' => {
                return Err(bad(
                    "a '}' that closes nothing (write '}}' for a literal '}')",
                ));
            }
            '{' => {
                // {index[,alignment][:formatString]}
                let mut index: usize = 0;
                let mut digits = 0;
                while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
                    index = index.saturating_mul(10).saturating_add(d as usize);
                    digits += 1;
                    i += 1;
                }
                if digits == 0 {
                    return Err(bad(
                        "a '{' must be followed by an argument index (write '{{' for a literal '{')",
                    ));
                }
                if index >= MAX_FORMAT_INDEX {
                    return Err(bad("the argument index is too large"));
                }
                while chars.get(i) == Some(&' ') {
                    i += 1;
                }
                let mut width: usize = 0;
                let mut left = false;
                if chars.get(i) == Some(&',') {
                    i += 1;
                    while chars.get(i) == Some(&' ') {
                        i += 1;
                    }
                    if chars.get(i) == Some(&'-') {
                        left = true;
                        i += 1;
                    }
                    let mut wd = 0;
                    while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
                        width = width.saturating_mul(10).saturating_add(d as usize);
                        wd += 1;
                        i += 1;
                    }
                    if wd == 0 {
                        return Err(bad("an alignment needs a number after ','"));
                    }
                    if width >= MAX_FORMAT_WIDTH {
                        return Err(bad("the alignment is too large"));
                    }
                    while chars.get(i) == Some(&' ') {
                        i += 1;
                    }
                }
                let mut spec = String::new();
                if chars.get(i) == Some(&':') {
                    i += 1;
                    loop {
                        match chars.get(i) {
                            None => return Err(bad("a format item is not closed with '}'")),
                            Some('}') => break,
                            Some('{') => return Err(bad("a '{' inside a format item")),
                            Some(&c) => {
                                spec.push(c);
                                i += 1;
                            }
                        }
                    }
                }
                if chars.get(i) != Some(&'}') {
                    return Err(bad("a format item is not closed with '}'"));
                }
                i += 1;
                let Some(arg) = items.get(index) else {
                    return Err(bad(&format!(
                        "it uses argument {index} but only {} argument{} given (indexes start at 0)",
                        items.len(),
                        if items.len() == 1 { " is" } else { "s are" }
                    )));
                };
                if let Kind::Lambda(_) = arg.kind {
                    return Err(cx.type_error(index + 1, "a value", arg));
                }
                let text = match display_value(arg) {
                    Err(u) => {
                        if unknown.is_none() {
                            unknown = Some(u);
                        }
                        continue;
                    }
                    Ok(text) => match &arg.kind {
                        Kind::Int(n) => format_number(Num::Int(*n), &spec).map_err(|m| bad(&m))?,
                        Kind::Float(f) => {
                            format_number(Num::Float(*f), &spec).map_err(|m| bad(&m))?
                        }
                        _ => text,
                    },
                };
                let len = utf16_len(&text);
                let fill = width.saturating_sub(len);
                if fill > 0 && !left {
                    out.extend(std::iter::repeat_n(' ', fill));
                }
                out.push_str(&text);
                if fill > 0 && left {
                    out.extend(std::iter::repeat_n(' ', fill));
                }
                if out.len() > MAX_STRING_BYTES {
                    return Err(too_long(cx, out.len()));
                }
            }
            c => out.push(c),
        }
    }
    if let Some(u) = unknown {
        return Ok(Value::unknown_with(u));
    }
    finish(cx, out)
}

// ---------------------------------------------------------------- numbers as .NET writes them

#[derive(Clone, Copy, Debug)]
enum Num {
    Int(i64),
    Float(f64),
}

/// A decimal number: `0.d1d2d3... × 10^exp`, digits without trailing zeros
/// (none for zero).
#[derive(Clone, Debug)]
struct Dec {
    neg: bool,
    digits: Vec<u8>,
    exp: i64,
}

impl Dec {
    fn from_num(n: Num) -> Dec {
        match n {
            Num::Int(i) => {
                let text = i128::from(i).abs().to_string();
                let mut d = Dec {
                    neg: i < 0,
                    digits: text.bytes().map(|b| b - b'0').collect(),
                    exp: i64::try_from(text.len()).unwrap_or(0),
                };
                d.normalize();
                d
            }
            Num::Float(f) => {
                if f == 0.0 || !f.is_finite() {
                    return Dec {
                        neg: f.is_sign_negative() && f != 0.0,
                        digits: Vec::new(),
                        exp: 0,
                    };
                }
                // Shortest round-trip digits, as .NET Core 3.0 and later use.
                let sci = format!("{:e}", f.abs());
                let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
                let exponent: i64 = exponent.parse().unwrap_or(0);
                let mut d = Dec {
                    neg: f < 0.0,
                    digits: mantissa
                        .bytes()
                        .filter(u8::is_ascii_digit)
                        .map(|b| b - b'0')
                        .collect(),
                    exp: exponent + 1,
                };
                d.normalize();
                d
            }
        }
    }

    fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    fn normalize(&mut self) {
        while self.digits.last() == Some(&0) {
            self.digits.pop();
        }
        let leading = self.digits.iter().take_while(|&&d| d == 0).count();
        if leading > 0 {
            self.digits.drain(..leading);
            self.exp -= i64::try_from(leading).unwrap_or(0);
        }
        if self.digits.is_empty() {
            self.exp = 0;
        }
    }

    /// Keeps the first `keep` digits, rounding half away from zero.
    fn round_at(&mut self, keep: i64) {
        if keep < 0 {
            self.digits.clear();
            self.normalize();
            return;
        }
        let keep = usize::try_from(keep).unwrap_or(usize::MAX);
        if keep >= self.digits.len() {
            return;
        }
        let up = self.digits.get(keep).is_some_and(|&d| d >= 5);
        self.digits.truncate(keep);
        if up {
            let mut carry = true;
            for d in self.digits.iter_mut().rev() {
                if *d == 9 {
                    *d = 0;
                } else {
                    *d += 1;
                    carry = false;
                    break;
                }
            }
            if carry {
                self.digits.insert(0, 1);
                self.exp += 1;
            }
        }
        self.normalize();
    }

    fn round_fraction(&mut self, frac: usize) {
        let keep = self
            .exp
            .saturating_add(i64::try_from(frac).unwrap_or(i64::MAX));
        self.round_at(keep);
    }

    fn digit(&self, index: i64) -> u8 {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.digits.get(i).copied())
            .unwrap_or(0)
    }

    /// The integer part's digits, without leading zeros ("" for zero).
    fn int_digits(&self) -> String {
        (0..self.exp.max(0))
            .map(|i| char::from(b'0' + self.digit(i)))
            .collect()
    }

    /// The first `n` digits after the decimal point.
    fn frac_digits(&self, n: usize) -> String {
        (0..i64::try_from(n).unwrap_or(0))
            .map(|k| char::from(b'0' + self.digit(self.exp + k)))
            .collect()
    }

    /// Number of significant digits after the decimal point.
    fn frac_len(&self) -> usize {
        usize::try_from(i64::try_from(self.digits.len()).unwrap_or(0) - self.exp).unwrap_or(0)
    }
}

fn group_thousands(int_digits: &str) -> String {
    let n = int_digits.len();
    let mut out = String::with_capacity(n + n / 3);
    for (k, c) in int_digits.chars().enumerate() {
        if k > 0 && (n - k).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn or_zero(s: String) -> String {
    if s.is_empty() { "0".to_string() } else { s }
}

/// Fixed-point text of a rounded decimal: integer part (grouped or not) and `frac` digits.
fn fixed(d: &Dec, frac: usize, grouped: bool) -> String {
    let int = or_zero(d.int_digits());
    let mut s = if grouped { group_thousands(&int) } else { int };
    if frac > 0 {
        s.push('.');
        s.push_str(&d.frac_digits(frac));
    }
    s
}

fn signed(d: &Dec, body: String) -> String {
    if d.neg && !d.is_zero() {
        format!("-{body}")
    } else {
        body
    }
}

/// Scientific notation: `d.ddd` + `E` + sign + at least `min_exp_digits` digits.
fn scientific(d: &Dec, frac: usize, trim: bool, e: char, min_exp_digits: usize) -> String {
    let mut mantissa = String::new();
    mantissa.push(char::from(b'0' + d.digit(0)));
    let mut rest: String = (1..=i64::try_from(frac).unwrap_or(0))
        .map(|k| char::from(b'0' + d.digit(k)))
        .collect();
    if trim {
        while rest.ends_with('0') {
            rest.pop();
        }
    }
    if !rest.is_empty() {
        mantissa.push('.');
        mantissa.push_str(&rest);
    }
    let exponent = if d.is_zero() { 0 } else { d.exp - 1 };
    let sign = if exponent < 0 { '-' } else { '+' };
    format!(
        "{mantissa}{e}{sign}{:0width$}",
        exponent.unsigned_abs(),
        width = min_exp_digits
    )
}

/// .NET Core's `double.ToString()`: shortest round-trip digits, scientific
/// notation from 1E+15 and below 1E-04 (exponents -5 and less).
pub fn net_double(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    let d = Dec::from_num(Num::Float(f));
    if d.is_zero() {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    general(&d, 15)
}

/// The `G` format of a rounded decimal with `precision` significant digits.
fn general(d: &Dec, precision: i64) -> String {
    let exponent = d.exp - 1;
    let body = if exponent >= precision || exponent < -4 {
        scientific(d, d.digits.len().saturating_sub(1), true, 'E', 2)
    } else {
        let frac = d.frac_len();
        fixed(d, frac, false)
    };
    signed(d, body)
}

/// Formats a number with a .NET standard or custom numeric format string
/// (invariant culture).
fn format_number(n: Num, spec: &str) -> std::result::Result<String, String> {
    if spec.is_empty() {
        return Ok(match n {
            Num::Int(i) => i.to_string(),
            Num::Float(f) => format_float_default(f),
        });
    }
    let mut chars = spec.chars();
    let letter = chars.next().unwrap_or('G');
    let rest = chars.as_str();
    let standard =
        letter.is_ascii_alphabetic() && rest.len() <= 9 && rest.bytes().all(|b| b.is_ascii_digit());
    if !standard {
        return custom_number(n, spec);
    }
    let precision: Option<usize> = if rest.is_empty() {
        None
    } else {
        rest.parse().ok()
    };
    if precision.is_some_and(|p| p > MAX_PRECISION) {
        return Err(format!(
            "the precision in '{spec}' is larger than {MAX_PRECISION}"
        ));
    }
    let mut d = Dec::from_num(n);
    let upper = letter.is_ascii_uppercase();
    Ok(match letter.to_ascii_uppercase() {
        'C' => {
            let p = precision.unwrap_or(2);
            d.round_fraction(p);
            signed(&d, format!("¤{}", fixed(&d, p, true)))
        }
        'D' => match n {
            Num::Int(i) => {
                let digits = i128::from(i).abs().to_string();
                let width = precision.unwrap_or(0);
                let body = format!("{digits:0>width$}");
                if i < 0 { format!("-{body}") } else { body }
            }
            Num::Float(_) => {
                return Err(format!("the format '{spec}' is only for integers"));
            }
        },
        'E' => {
            let p = precision.unwrap_or(6);
            d.round_at(i64::try_from(p).unwrap_or(0) + 1);
            signed(
                &d,
                scientific(&d, p, false, if upper { 'E' } else { 'e' }, 3),
            )
        }
        'F' => {
            let p = precision.unwrap_or(2);
            d.round_fraction(p);
            signed(&d, fixed(&d, p, false))
        }
        'G' => match (n, precision) {
            (Num::Int(i), None | Some(0)) => i.to_string(),
            (Num::Float(f), None | Some(0)) => format_float_default(f),
            (_, Some(p)) => {
                let p = i64::try_from(p).unwrap_or(0);
                d.round_at(p);
                let text = general(&d, p);
                if upper { text } else { text.replace('E', "e") }
            }
        },
        'N' => {
            let p = precision.unwrap_or(2);
            d.round_fraction(p);
            signed(&d, fixed(&d, p, true))
        }
        'P' => {
            let p = precision.unwrap_or(2);
            if !d.is_zero() {
                d.exp += 2;
            }
            d.round_fraction(p);
            signed(&d, format!("{} %", fixed(&d, p, true)))
        }
        'R' => match n {
            Num::Float(f) => net_double(f),
            Num::Int(_) => {
                return Err(format!(
                    "the format '{spec}' is only for floating-point numbers"
                ));
            }
        },
        'X' => match n {
            Num::Int(i) => {
                // Negative numbers in two's complement, as .NET writes an Int64.
                let hex = if upper {
                    format!("{:X}", i.cast_unsigned())
                } else {
                    format!("{:x}", i.cast_unsigned())
                };
                let width = precision.unwrap_or(0);
                format!("{hex:0>width$}")
            }
            Num::Float(_) => {
                return Err(format!("the format '{spec}' is only for integers"));
            }
        },
        _ => {
            return Err(format!(
                "'{letter}' is not a standard numeric format specifier"
            ));
        }
    })
}

fn format_float_default(f: f64) -> String {
    net_double(f)
}

/// One section of a custom numeric format, analysed.
struct Section {
    chars: Vec<char>,
    int_placeholders: usize,
    /// Integer digits always written (from the first `0` before the point).
    min_int: usize,
    frac_placeholders: usize,
    /// Fraction digits always written (up to the last `0` after the point).
    min_frac: usize,
    grouping: bool,
    /// Powers of ten the value is multiplied by (`%` +2, `‰` +3, scaling `,` -3).
    scale: i64,
    /// `E+0`: (explicit plus sign, minimum exponent digits).
    exponent: Option<(bool, usize)>,
}

/// Splits a custom format into its `;`-separated sections (quotes and escapes respected).
fn custom_sections(spec: &str) -> Vec<Vec<char>> {
    let mut sections = vec![Vec::new()];
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in spec.chars() {
        let current = sections.last_mut();
        if escaped {
            escaped = false;
        } else if let Some(q) = quote {
            if c == q {
                quote = None;
            }
        } else if c == '\\' {
            escaped = true;
        } else if c == '\'' || c == '"' {
            quote = Some(c);
        } else if c == ';' {
            sections.push(Vec::new());
            continue;
        }
        if let Some(cur) = current {
            cur.push(c);
        }
    }
    sections
}

/// Iterates over the format characters that are not inside quotes or escaped,
/// with their positions.
fn analyse(chars: Vec<char>) -> Section {
    let mut s = Section {
        chars,
        int_placeholders: 0,
        min_int: 0,
        frac_placeholders: 0,
        min_frac: 0,
        grouping: false,
        scale: 0,
        exponent: None,
    };
    let mut in_frac = false;
    let mut first_zero: Option<usize> = None;
    let mut pending_commas = 0_i64;
    let mut i = 0;
    while let Some(&c) = s.chars.get(i) {
        match c {
            '\\' => i += 1,
            '\'' | '"' => {
                i += 1;
                while s.chars.get(i).is_some_and(|&q| q != c) {
                    i += 1;
                }
            }
            '0' | '#' if !in_frac => {
                if pending_commas > 0 && s.int_placeholders > 0 {
                    s.grouping = true;
                }
                pending_commas = 0;
                if c == '0' && first_zero.is_none() {
                    first_zero = Some(s.int_placeholders);
                }
                s.int_placeholders += 1;
            }
            '0' | '#' => {
                s.frac_placeholders += 1;
                if c == '0' {
                    s.min_frac = s.frac_placeholders;
                }
            }
            ',' if !in_frac => pending_commas += 1,
            '.' if !in_frac => {
                in_frac = true;
                s.scale -= 3 * pending_commas;
                pending_commas = 0;
            }
            '%' => s.scale += 2,
            '‰' => s.scale += 3,
            'E' | 'e' if s.exponent.is_none() => {
                let mut j = i + 1;
                let plus = s.chars.get(j) == Some(&'+');
                if matches!(s.chars.get(j), Some('+' | '-')) {
                    j += 1;
                }
                let zeros = s
                    .chars
                    .get(j..)
                    .map_or(0, |r| r.iter().take_while(|&&z| z == '0').count());
                if zeros > 0 {
                    s.exponent = Some((plus, zeros));
                    i = j + zeros - 1;
                    // Commas before the exponent scale too.
                    if !in_frac {
                        s.scale -= 3 * pending_commas;
                        pending_commas = 0;
                    }
                    in_frac = true;
                }
            }
            _ => {}
        }
        i += 1;
    }
    if !in_frac {
        s.scale -= 3 * pending_commas;
    }
    s.min_int = first_zero.map_or(0, |z| s.int_placeholders - z);
    s
}

/// A .NET custom numeric format (`000`, `#,##0.00`, `0.0%`, `0.00E+00`,
/// sections `pos;neg;zero`, quoted literals and `\` escapes).
fn custom_number(n: Num, spec: &str) -> std::result::Result<String, String> {
    if spec.chars().count() > MAX_PRECISION {
        return Err(format!(
            "the numeric format is longer than {MAX_PRECISION} characters"
        ));
    }
    let value = Dec::from_num(n);
    let mut sections = custom_sections(spec);
    let count = sections.len();
    let (chosen, auto_sign) = if value.neg && !value.is_zero() && count >= 2 {
        (1, false)
    } else if value.is_zero() && count >= 3 {
        (2, true)
    } else {
        (0, true)
    };
    let chars = if sections.get(chosen).is_some_and(|s| !s.is_empty()) {
        sections.swap_remove(chosen)
    } else {
        sections.swap_remove(0)
    };
    let sec = analyse(chars);
    let mut d = value.clone();
    if !d.is_zero() {
        d.exp += sec.scale;
    }
    let mut exponent_value: i64 = 0;
    if sec.exponent.is_some() {
        let int_digits = i64::try_from(sec.int_placeholders.max(1)).unwrap_or(1);
        if !d.is_zero() {
            exponent_value = d.exp - int_digits;
            d.exp = int_digits;
        }
        d.round_fraction(sec.frac_placeholders);
        if !d.is_zero() && d.exp > int_digits {
            // Rounding carried into a new digit.
            exponent_value += d.exp - int_digits;
            d.exp = int_digits;
        }
    } else {
        d.round_fraction(sec.frac_placeholders);
    }
    let int_str = {
        let s = d.int_digits();
        let width = sec.min_int;
        format!("{s:0>width$}")
    };
    let int_len = int_str.len();
    let int_chars: Vec<char> = int_str.chars().collect();
    let frac_emit = d.frac_len().min(sec.frac_placeholders).max(sec.min_frac);
    let frac_str = d.frac_digits(sec.frac_placeholders);
    let frac_chars: Vec<char> = frac_str.chars().collect();

    let mut out = String::new();
    let push_int_digit = |out: &mut String, j: usize| {
        if let Some(&c) = int_chars.get(j) {
            out.push(c);
        }
        let remaining = int_len - j - 1;
        if sec.grouping && remaining > 0 && remaining.is_multiple_of(3) {
            out.push(',');
        }
    };
    let mut int_seen = 0;
    let mut frac_seen = 0;
    let mut in_frac = false;
    let mut int_written = false;
    let mut point_at: Option<usize> = None;
    let mut frac_written = 0;
    let mut exp_written = false;
    let mut i = 0;
    // Writes the integer digits that have no placeholder of their own.
    let write_extra = |out: &mut String, int_written: &mut bool| {
        if !*int_written {
            *int_written = true;
            let extra = int_len.saturating_sub(sec.int_placeholders);
            for j in 0..extra {
                push_int_digit(out, j);
            }
        }
    };
    while let Some(&c) = sec.chars.get(i) {
        i += 1;
        match c {
            '\\' => {
                if let Some(&next) = sec.chars.get(i) {
                    out.push(next);
                    i += 1;
                }
            }
            '\'' | '"' => {
                while let Some(&q) = sec.chars.get(i) {
                    i += 1;
                    if q == c {
                        break;
                    }
                    out.push(q);
                }
            }
            '0' | '#' if !in_frac => {
                write_extra(&mut out, &mut int_written);
                let k = int_seen;
                int_seen += 1;
                // Placeholder k of P shows digit k + L - P, when there is one.
                if let Some(j) = (k + int_len).checked_sub(sec.int_placeholders) {
                    push_int_digit(&mut out, j);
                }
            }
            '0' | '#' => {
                let m = frac_seen;
                frac_seen += 1;
                if m < frac_emit
                    && let Some(&fc) = frac_chars.get(m)
                {
                    out.push(fc);
                    frac_written += 1;
                }
            }
            ',' if !in_frac => {}
            '.' if !in_frac => {
                write_extra(&mut out, &mut int_written);
                in_frac = true;
                point_at = Some(out.len());
                out.push('.');
            }
            '.' => {}
            'E' | 'e' if sec.exponent.is_some() && !exp_written => {
                let mut j = i;
                if matches!(sec.chars.get(j), Some('+' | '-')) {
                    j += 1;
                }
                let zeros = sec
                    .chars
                    .get(j..)
                    .map_or(0, |r| r.iter().take_while(|&&z| z == '0').count());
                if zeros == 0 {
                    out.push(c);
                    continue;
                }
                write_extra(&mut out, &mut int_written);
                exp_written = true;
                let (plus, min_digits) = sec.exponent.unwrap_or((false, 1));
                out.push(c);
                if exponent_value < 0 {
                    out.push('-');
                } else if plus {
                    out.push('+');
                }
                out.push_str(&format!(
                    "{:0width$}",
                    exponent_value.unsigned_abs(),
                    width = min_digits
                ));
                i = j + zeros;
                in_frac = true;
            }
            other => out.push(other),
        }
    }
    if let Some(p) = point_at
        && frac_written == 0
    {
        out.remove(p);
    }
    if auto_sign && d.neg && !d.is_zero() {
        out.insert(0, '-');
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::eval::{EvalError, Evaluator};
    use crate::testenv::TestEnv;

    fn eval_env(env: &TestEnv, src: &str) -> Result<Value> {
        let expr = crate::expr::parse(src).map_err(|e| EvalError::new(e.to_string()))?;
        Evaluator::new(env).eval(&expr)
    }

    fn json_env(env: &TestEnv, src: &str) -> String {
        match eval_env(env, src) {
            Ok(v) => v.to_json_text(),
            Err(e) => panic!("{src}: {e}"),
        }
    }

    fn json(src: &str) -> String {
        json_env(&TestEnv::new(), src)
    }

    /// The string result of an expression.
    fn text(src: &str) -> String {
        match eval_env(&TestEnv::new(), src) {
            Ok(v) => match v.as_str() {
                Some(s) => s.to_string(),
                None => panic!("{src}: not a string: {v}"),
            },
            Err(e) => panic!("{src}: {e}"),
        }
    }

    fn err(src: &str) -> String {
        match eval_env(&TestEnv::new(), src) {
            Ok(v) => panic!("{src}: expected an error, got {v}"),
            Err(e) => e.message,
        }
    }

    fn obj(pairs: &[(&str, Value)]) -> Value {
        let mut o = Object::new();
        for (k, v) in pairs {
            o.insert(*k, v.clone());
        }
        Value::object(o)
    }

    fn secret() -> Value {
        Value::unknown_with(Unknown {
            reason: "secure parameter".into(),
            input: Some("parameter 'pw'".into()),
            secret: true,
        })
    }

    #[test]
    fn base64_reference_example() {
        assert_eq!(
            json("base64('one, two, three')"),
            "\"b25lLCB0d28sIHRocmVl\""
        );
        assert_eq!(
            json("base64ToString('b25lLCB0d28sIHRocmVl')"),
            "\"one, two, three\""
        );
        assert_eq!(
            json("base64ToJson(base64('{''one'': ''a'', ''two'': ''b''}'))"),
            "{\"one\":\"a\",\"two\":\"b\"}"
        );
        assert_eq!(
            json("base64ToJson(base64('{\"one\": \"a\", \"two\": [1, 2.5, true, null]}'))"),
            "{\"one\":\"a\",\"two\":[1,2.5,true,null]}"
        );
    }

    #[test]
    fn base64_round_trips_and_errors() {
        for s in ["", "a", "ab", "abc", "abcd", "héllo wörld ✓", "🙂"] {
            let encoded = base64_encode(s.as_bytes());
            assert_eq!(base64_decode(&encoded).unwrap(), s.as_bytes(), "{s}");
        }
        assert_eq!(base64_encode(b"Hello"), "SGVsbG8=");
        assert_eq!(base64_decode(" SGVs\r\nbG8= ").unwrap(), b"Hello");
        assert!(err("base64ToString('abc')").contains("not a valid base64"));
        assert!(err("base64ToString('ab=c')").contains("not a valid base64"));
        assert!(err("base64ToString('a===')").contains("not a valid base64"));
        assert!(err("base64ToString('ab!=')").contains("not a valid base64"));
        assert!(err("base64ToJson(base64('{oops'))").contains("not valid JSON"));
        assert!(err("base64(1)").contains("expects argument 1 to be a string"));
    }

    #[test]
    fn lenient_json() {
        assert_eq!(
            parse_json_lenient("{a: 'x', \"b\": [1,], // c\n 'c': {}/* d */,}")
                .unwrap()
                .to_json_text(),
            "{\"a\":\"x\",\"b\":[1],\"c\":{}}"
        );
        assert_eq!(
            parse_json_lenient("'\\u00e9\\ud83d\\ude42\\n'")
                .unwrap()
                .to_json_text(),
            "\"é🙂\\n\""
        );
        assert_eq!(
            parse_json_lenient("-1.5e3").unwrap().to_json_text(),
            "-1500"
        );
        assert_eq!(
            parse_json_lenient("12345678901234567890").unwrap().as_int(),
            None
        );
        assert!(parse_json_lenient("[1 2]").is_err());
        assert!(parse_json_lenient("{a 1}").is_err());
        assert!(parse_json_lenient("nul").is_err());
        assert!(parse_json_lenient("'abc").is_err());
        assert!(parse_json_lenient("1 2").is_err());
        let deep = "[".repeat(600) + &"]".repeat(600);
        assert!(parse_json_lenient(&deep).unwrap_err().contains("nested"));
        assert!(parse_json_text(&deep).is_err());
    }

    #[test]
    fn node_conversion() {
        let doc = Document::parse(
            "t",
            "{\"a\": 1, \"A\": 2, \"f\": 1.5, \"n\": null, \"l\": [true, \"s\"]}".to_string(),
        )
        .unwrap();
        let v = node_to_value(&doc.root);
        assert_eq!(
            v.to_json_text(),
            "{\"A\":2,\"f\":1.5,\"n\":null,\"l\":[true,\"s\"]}"
        );
        assert!(v.prov.is_none());
    }

    #[test]
    fn data_uri_reference_example() {
        assert_eq!(
            json("dataUri('Hello')"),
            "\"data:text/plain;charset=utf8;base64,SGVsbG8=\""
        );
        assert_eq!(
            json("dataUriToString('data:;base64,SGVsbG8sIFdvcmxkIQ==')"),
            "\"Hello, World!\""
        );
        assert_eq!(json("dataUriToString(dataUri('héllo'))"), "\"héllo\"");
        assert_eq!(
            json("dataUriToString('data:text/plain,Hello%2C%20World')"),
            "\"Hello, World\""
        );
        assert!(err("dataUriToString('Hello')").contains("not a data URI"));
        assert!(err("dataUriToString('data:text/plain')").contains("not a data URI"));
        assert!(err("dataUriToString('data:;base64,!!!!')").contains("base64"));
    }

    #[test]
    fn starts_ends_with_reference_example() {
        assert_eq!(json("startsWith('abcdef', 'ab')"), "true");
        assert_eq!(json("startsWith('abcdef', 'A')"), "true");
        assert_eq!(json("startsWith('abcdef', 'e')"), "false");
        assert_eq!(json("endsWith('abcdef', 'ef')"), "true");
        assert_eq!(json("endsWith('abcdef', 'F')"), "true");
        assert_eq!(json("endsWith('abcdef', 'e')"), "false");
        assert_eq!(json("startsWith('abc', '')"), "true");
        assert_eq!(json("endsWith('', 'a')"), "false");
        assert_eq!(json("startsWith('ÉCOLE', 'éc')"), "true");
        assert!(err("startsWith('abc', 1)").contains("argument 2 to be a string"));
    }

    #[test]
    fn format_reference_example() {
        assert_eq!(
            text("format('{0}, {1}. Formatted number: {2:N0}', 'Hello', 'User', 8175133)"),
            "Hello, User. Formatted number: 8,175,133"
        );
        let env = TestEnv::new()
            .with("greeting", Value::string("Hello"))
            .with("name", Value::string("User"))
            .with("numberToFormat", Value::int(8175133));
        assert_eq!(
            json_env(
                &env,
                "format('{0}, {1}. Formatted number: {2:N0}', parameters('greeting'), parameters('name'), parameters('numberToFormat'))"
            ),
            "\"Hello, User. Formatted number: 8,175,133\""
        );
    }

    #[test]
    fn format_items() {
        assert_eq!(text("format('{0}-{0}-{1}', 'a', 'b')"), "a-a-b");
        assert_eq!(text("format('[{0,5}]', 'ab')"), "[   ab]");
        assert_eq!(text("format('[{0,-5}]', 'ab')"), "[ab   ]");
        assert_eq!(text("format('[{0 , -5 :D2}]', 7)"), "[07   ]");
        assert_eq!(text("format('[{0,2}]', 'abcd')"), "[abcd]");
        assert_eq!(text("format('{{0}} {{{0}}}', 1)"), "{0} {1}");
        assert_eq!(
            text("format('{0} {1} {2}', true, false, null())"),
            "True False "
        );
        assert_eq!(text("format('{0}', 1.5)"), "1.5");
        assert_eq!(
            text("format('{0}|{1}', createObject('a', 1, 'b', 'x'), createArray(1, 'two'))"),
            "{\"a\":1,\"b\":\"x\"}|[1,\"two\"]"
        );
        assert_eq!(text("format('no items')"), "no items");
        assert_eq!(
            text("format('{0:N2}', 'text ignores formats')"),
            "text ignores formats"
        );
        assert_eq!(text("format('{0:X}', true)"), "True");
    }

    #[test]
    fn format_numbers() {
        let f = |spec: &str, v: &str| text(&format!("format('{{0:{spec}}}', {v})"));
        assert_eq!(f("N0", "8175133"), "8,175,133");
        assert_eq!(f("N", "8175133"), "8,175,133.00");
        assert_eq!(f("N2", "-1234"), "-1,234.00");
        assert_eq!(f("n1", "1234.56"), "1,234.6");
        assert_eq!(f("D3", "7"), "007");
        assert_eq!(f("D", "-7"), "-7");
        assert_eq!(f("D5", "-42"), "-00042");
        assert_eq!(f("X", "255"), "FF");
        assert_eq!(f("x4", "255"), "00ff");
        assert_eq!(f("X", "-1"), "FFFFFFFFFFFFFFFF");
        assert_eq!(f("F", "5"), "5.00");
        assert_eq!(f("F1", "2.25"), "2.3");
        assert_eq!(f("F0", "-0.4"), "0");
        assert_eq!(f("E", "8175133"), "8.175133E+006");
        assert_eq!(f("e2", "-0.000123"), "-1.23e-004");
        assert_eq!(f("P", "0.5"), "50.00 %");
        assert_eq!(f("P0", "3"), "300 %");
        assert_eq!(f("C", "1234.5"), "¤1,234.50");
        assert_eq!(f("G", "8175133"), "8175133");
        assert_eq!(f("G3", "8175133"), "8.18E+06");
        assert_eq!(f("G10", "8175133"), "8175133");
        assert_eq!(f("g2", "0.000001234"), "1.2e-06");
        assert_eq!(f("R", "0.1"), "0.1");
        assert_eq!(f("000", "7"), "007");
        assert_eq!(f("#,##0.00", "1234567.891"), "1,234,567.89");
        assert_eq!(f("#,#", "1234567"), "1,234,567");
        assert_eq!(f("0.##", "3.14159"), "3.14");
        assert_eq!(f("0.##", "3"), "3");
        assert_eq!(f("#.##", "0.5"), ".5");
        assert_eq!(f("#", "0"), "");
        assert_eq!(f("0%", "0.25"), "25%");
        assert_eq!(f("0,,", "1234567890"), "1235");
        assert_eq!(f("0.00E+00", "1234"), "1.23E+03");
        assert_eq!(f("0.0e0", "0.000123"), "1.2e-4");
        assert_eq!(f("+0;(0);zero", "5"), "+5");
        assert_eq!(f("+0;(0);zero", "-5"), "(5)");
        assert_eq!(f("+0;(0);zero", "0"), "zero");
        assert_eq!(f("0 \\# ''items''", "3"), "3 # items");
        assert_eq!(f("00", "-3"), "-03");
        assert_eq!(f("(000) 000-0000", "1234567890"), "(123) 456-7890");
        assert_eq!(f("0", "123456"), "123456");
        assert_eq!(f("000", "123456"), "123456");
        assert_eq!(f("#,##0", "-1234567"), "-1,234,567");
    }

    #[test]
    fn format_errors() {
        assert!(err("format('{0}')").contains("uses argument 0 but only 0 arguments are given"));
        assert!(err("format('{1}', 'a')").contains("only 1 argument is given"));
        assert!(err("format('{', 'a')").contains("argument index"));
        assert!(err("format('}', 'a')").contains("closes nothing"));
        assert!(err("format('{0', 'a')").contains("not closed"));
        assert!(err("format('{0:N2', 1)").contains("not closed"));
        assert!(err("format('{x}', 1)").contains("argument index"));
        assert!(err("format('{0,}', 1)").contains("alignment"));
        assert!(err("format('{0,1000000}', 1)").contains("alignment is too large"));
        assert!(err("format('{0:Z}', 1)").contains("not a standard numeric format"));
        assert!(err("format('{0:D}', 1.5)").contains("only for integers"));
        assert!(err("format('{0:N100000}', 1)").contains("precision"));
        assert!(err("format(1, 2)").contains("argument 1 to be a string"));
        assert!(err("format('{0}', lambda('x', 1))").contains("argument 2"));
        assert!(err("format()").contains("at least 1"));
    }

    #[test]
    fn format_unknowns() {
        let env = TestEnv::new()
            .with("u", Value::unknown("parameter u"))
            .with(
                "o",
                obj(&[("a", Value::int(1)), ("b", Value::unknown("nested"))]),
            )
            .with("s", secret());
        let v = eval_env(&env, "format('{0}-{1}', 'a', parameters('u'))").unwrap();
        assert_eq!(v.as_unknown().unwrap().reason, "parameter u");
        // An unused unknown argument does not matter.
        assert_eq!(
            json_env(&env, "format('{0}', 'a', parameters('u'))"),
            "\"a\""
        );
        let v = eval_env(&env, "format('{0}', parameters('o'))").unwrap();
        assert_eq!(v.as_unknown().unwrap().reason, "nested");
        assert!(
            eval_env(&env, "format(parameters('u'), 1)")
                .unwrap()
                .is_unknown()
        );
        let v = eval_env(&env, "format('pw={0}', parameters('s'))").unwrap();
        assert!(v.as_unknown().unwrap().secret);
        // A malformed format string is an error even with unknown arguments.
        assert!(eval_env(&env, "format('{0', parameters('u'))").is_err());
    }

    #[test]
    fn guid_and_unique_string_use_the_hashes() {
        assert_eq!(
            json("uniqueString('a', 'b')"),
            Value::string(crate::hash::unique_string(&["a", "b"])).to_json_text()
        );
        assert_eq!(
            json("guid('a', 'b', 'c')"),
            Value::string(crate::hash::guid(&["a", "b", "c"])).to_json_text()
        );
        assert_eq!(
            json("guid('x')"),
            Value::string(crate::hash::guid(&["x"])).to_json_text()
        );
        assert!(err("uniqueString()").contains("at least 1"));
        assert!(err("guid('a', 1)").contains("argument 2 to be a string"));
        let env = TestEnv::new().with("u", Value::unknown("parameter u"));
        assert!(
            eval_env(&env, "uniqueString('a', parameters('u'))")
                .unwrap()
                .is_unknown()
        );
        assert!(
            eval_env(&env, "guid(parameters('u'))")
                .unwrap()
                .is_unknown()
        );
    }

    #[test]
    fn join_reference_example() {
        assert_eq!(
            json("join(createArray('one', 'two', 'three'), ',')"),
            "\"one,two,three\""
        );
        assert_eq!(
            json("join(createArray('one', 'two', 'three'), ';')"),
            "\"one;two;three\""
        );
        assert_eq!(json("join(createArray(), ',')"), "\"\"");
        assert_eq!(json("join(createArray('a', 1, true), '-')"), "\"a-1-True\"");
        assert!(err("join(createArray(createArray()), ',')").contains("element 0 is array"));
        assert!(err("join('abc', ',')").contains("an array"));
        let env = TestEnv::new().with(
            "a",
            Value::array(vec![Value::string("x"), Value::unknown("u")]),
        );
        assert!(
            eval_env(&env, "join(parameters('a'), ',')")
                .unwrap()
                .is_unknown()
        );
    }

    #[test]
    fn new_guid_is_unknown() {
        let v = eval_env(&TestEnv::new(), "newGuid()").unwrap();
        assert!(v.as_unknown().unwrap().reason.contains("newGuid()"));
        assert!(err("newGuid('a')").contains("takes 0 arguments"));
    }

    #[test]
    fn pad_left_reference_example() {
        assert_eq!(json("padLeft('123', 10, '0')"), "\"0000000123\"");
        assert_eq!(json("padLeft(123, 5)"), "\"  123\"");
        assert_eq!(json("padLeft(-5, 4, '0')"), "\"00-5\"");
        assert_eq!(json("padLeft('abcdef', 3, '0')"), "\"abcdef\"");
        assert_eq!(json("padLeft('é', 3, 'ü')"), "\"üüé\"");
        assert!(err("padLeft('1', 3, '00')").contains("single character"));
        assert!(err("padLeft('1', 3, '')").contains("single character"));
        assert!(err("padLeft('1', -1)").contains("negative"));
        assert!(err("padLeft(true, 3)").contains("a string or an integer"));
        assert!(err("padLeft('1', 9223372036854775807)").contains("more than the limit"));
    }

    #[test]
    fn replace_reference_example() {
        assert_eq!(json("replace('123-123-1234', '-', '')"), "\"1231231234\"");
        assert_eq!(
            json("replace('123-123-1234', '1234', 'xxxx')"),
            "\"123-123-xxxx\""
        );
        assert_eq!(json("replace('aAa', 'a', 'b')"), "\"bAb\"");
        assert_eq!(json("replace('aaa', 'aa', 'b')"), "\"ba\"");
        assert!(err("replace('abc', '', 'x')").contains("must not be empty"));
        // A hostile template gets an error, not an out-of-memory.
        let big = "a".repeat(1000);
        let src =
            format!("replace(replace(replace('{big}', 'a', '{big}'), 'a', '{big}'), 'a', '{big}')");
        assert!(err(&src).contains("more than the limit"));
    }

    #[test]
    fn split_reference_example() {
        assert_eq!(
            json("split('one,two,three', ',')"),
            "[\"one\",\"two\",\"three\"]"
        );
        assert_eq!(
            json("split('one;two,three', createArray(',', ';'))"),
            "[\"one\",\"two\",\"three\"]"
        );
        assert_eq!(json("split('a,,b,', ',')"), "[\"a\",\"\",\"b\",\"\"]");
        assert_eq!(json("split('', ',')"), "[\"\"]");
        assert_eq!(
            json("split('a--b-c', createArray('-', '--'))"),
            "[\"a\",\"\",\"b\",\"c\"]"
        );
        assert_eq!(
            json("split('a--b-c', createArray('--', '-'))"),
            "[\"a\",\"b\",\"c\"]"
        );
        assert_eq!(json("split('a b\tc', '')"), "[\"a\",\"b\",\"c\"]");
        assert_eq!(json("split('héllo wörld', 'ö')"), "[\"héllo w\",\"rld\"]");
        assert!(err("split('a', 1)").contains("a string or an array of strings"));
        assert!(err("split('a', createArray(1))").contains("delimiters to be strings"));
        let env = TestEnv::new().with(
            "d",
            Value::array(vec![Value::string(","), Value::unknown("d")]),
        );
        assert!(
            eval_env(&env, "split('a,b', parameters('d'))")
                .unwrap()
                .is_unknown()
        );
    }

    #[test]
    fn string_reference_example() {
        let env = TestEnv::new()
            .with(
                "testObject",
                obj(&[
                    ("valueA", Value::int(10)),
                    ("valueB", Value::string("Example Text")),
                ]),
            )
            .with(
                "testArray",
                Value::array(vec![
                    Value::string("a"),
                    Value::string("b"),
                    Value::string("c"),
                ]),
            )
            .with("testInt", Value::int(5));
        let s = |src: &str| eval_env(&env, src).unwrap().as_str().unwrap().to_string();
        assert_eq!(
            s("string(parameters('testObject'))"),
            "{\"valueA\":10,\"valueB\":\"Example Text\"}"
        );
        assert_eq!(s("string(parameters('testArray'))"), "[\"a\",\"b\",\"c\"]");
        assert_eq!(s("string(parameters('testInt'))"), "5");
    }

    #[test]
    fn string_conversions() {
        assert_eq!(text("string(true)"), "True");
        assert_eq!(text("string(false)"), "False");
        assert_eq!(text("string(null())"), "");
        assert_eq!(text("string('abc')"), "abc");
        assert_eq!(text("string(-12)"), "-12");
        assert_eq!(text("string(1.5)"), "1.5");
        assert_eq!(text("string(createArray(true, null()))"), "[true,null]");
        assert_eq!(net_double(1e15), "1E+15");
        assert_eq!(net_double(123456789012345.0), "123456789012345");
        assert_eq!(net_double(0.0001), "0.0001");
        assert_eq!(net_double(0.00001), "1E-05");
        assert_eq!(net_double(-2.5e-7), "-2.5E-07");
        assert_eq!(net_double(1.0 / 3.0), "0.3333333333333333");
        let env = TestEnv::new()
            .with("o", obj(&[("a", Value::unknown("nested"))]))
            .with("s", secret());
        assert_eq!(
            eval_env(&env, "string(parameters('o'))")
                .unwrap()
                .as_unknown()
                .unwrap()
                .reason,
            "nested"
        );
        assert!(
            eval_env(&env, "string(parameters('s'))")
                .unwrap()
                .as_unknown()
                .unwrap()
                .secret
        );
        assert!(err("string(lambda('x', 1))").contains("argument 1"));
    }

    #[test]
    fn string_keeps_provenance_of_strings() {
        let prov = crate::value::Prov::new("t.json".into(), amlguard_source::Route::default());
        let env = TestEnv::new().with("p", Value::string("x").with_prov(Some(prov.clone())));
        let v = eval_env(&env, "string(parameters('p'))").unwrap();
        assert_eq!(v.prov, Some(prov));
    }

    #[test]
    fn substring_reference_example() {
        assert_eq!(json("substring('one two three', 4, 3)"), "\"two\"");
        assert_eq!(json("substring('one two three', 4)"), "\"two three\"");
        assert_eq!(json("substring('abc')"), "\"abc\"");
        assert_eq!(json("substring('abc', 3)"), "\"\"");
        assert_eq!(json("substring('abc', 1, 0)"), "\"\"");
        assert_eq!(
            err("substring('1234567890', 0, 11)"),
            "function 'substring': The index and length parameters must refer to a location within the string. The index parameter: '0', the length parameter: '11', the length of the string parameter: '10'."
        );
        assert!(err("substring('abc', -1)").contains("location within the string"));
        assert!(err("substring('abc', 4)").contains("location within the string"));
        assert!(err("substring('abc', 1, -1)").contains("location within the string"));
        assert!(err("substring('abc', 1, 9223372036854775807)").contains("location within"));
    }

    #[test]
    fn case_and_trim_reference_examples() {
        assert_eq!(json("toLower('One Two Three')"), "\"one two three\"");
        assert_eq!(json("toUpper('One Two Three')"), "\"ONE TWO THREE\"");
        assert_eq!(json("trim('    one two three   ')"), "\"one two three\"");
        assert_eq!(json("toUpper('straße')"), "\"STRAßE\"");
        assert_eq!(json("toLower('İ')"), "\"i\"");
        assert_eq!(json("trim('\u{a0}\tx\n')"), "\"x\"");
        assert!(err("toLower(1)").contains("a string"));
    }

    #[test]
    fn uri_reference_examples() {
        let cases = [
            (
                "http://contoso.org/firstpath",
                "myscript.sh",
                "http://contoso.org/myscript.sh",
            ),
            (
                "http://contoso.org/firstpath/",
                "myscript.sh",
                "http://contoso.org/firstpath/myscript.sh",
            ),
            (
                "http://contoso.org/firstpath/",
                "/myscript.sh",
                "http://contoso.org/firstpath/myscript.sh",
            ),
            (
                "http://contoso.org/firstpath/azuredeploy.json",
                "myscript.sh",
                "http://contoso.org/firstpath/myscript.sh",
            ),
            (
                "http://contoso.org/firstpath/azuredeploy.json/",
                "myscript.sh",
                "http://contoso.org/firstpath/azuredeploy.json/myscript.sh",
            ),
            (
                "http://contoso.com/resources/",
                "nested/azuredeploy.json",
                "http://contoso.com/resources/nested/azuredeploy.json",
            ),
        ];
        for (base, rel, want) in cases {
            assert_eq!(
                text(&format!("uri('{base}', '{rel}')")),
                want,
                "{base} + {rel}"
            );
        }
    }

    #[test]
    fn uri_resolution() {
        let r = |b: &str, rel: &str| resolve_uri(b, rel).unwrap();
        assert_eq!(r("http://contoso.org", "a.sh"), "http://contoso.org/a.sh");
        assert_eq!(
            r(
                "https://acct.blob.core.windows.net/c/main.json?sv=1&sig=x",
                "nested/n.json"
            ),
            "https://acct.blob.core.windows.net/c/nested/n.json"
        );
        assert_eq!(r("http://a/b/c/d", "../x"), "http://a/b/x");
        assert_eq!(r("http://a/b/c/d", "./x?q#f"), "http://a/b/c/x?q#f");
        assert_eq!(r("http://a/b/c/d", "/x"), "http://a/x");
        assert_eq!(r("http://a/b/c/d?q", ""), "http://a/b/c/d?q");
        assert_eq!(r("http://a/b/c/d", "?y"), "http://a/b/c/d?y");
        assert_eq!(r("http://a/b/c/d", "//other/x"), "http://other/x");
        assert_eq!(r("http://a/b/c/d", "https://z/y"), "https://z/y");
        assert!(resolve_uri("contoso.org/path", "x").is_none());
        assert!(err("uri('relative/path', 'x')").contains("not an absolute URI"));
    }

    #[test]
    fn uri_component_reference_example() {
        assert_eq!(
            json("uriComponent(uri('http://contoso.com/resources/', 'nested/azuredeploy.json'))"),
            "\"http%3A%2F%2Fcontoso.com%2Fresources%2Fnested%2Fazuredeploy.json\""
        );
        assert_eq!(
            json(
                "uriComponentToString('http%3A%2F%2Fcontoso.com%2Fresources%2Fnested%2Fazuredeploy.json')"
            ),
            "\"http://contoso.com/resources/nested/azuredeploy.json\""
        );
        assert_eq!(json("uriComponent('a b~é')"), "\"a%20b~%C3%A9\"");
        assert_eq!(json("uriComponentToString('a%20b~%C3%A9+')"), "\"a b~é+\"");
        assert_eq!(json("uriComponentToString('100%')"), "\"100%\"");
        assert_eq!(json("uriComponentToString('%zz%4')"), "\"%zz%4\"");
        assert_eq!(json("uriComponentToString('%C3%28x')"), "\"%C3(x\"");
    }

    #[test]
    fn top_level_unknowns_propagate() {
        let env = TestEnv::new().with("u", Value::unknown("parameter u"));
        for src in [
            "base64(parameters('u'))",
            "base64ToJson(parameters('u'))",
            "dataUri(parameters('u'))",
            "endsWith('abc', parameters('u'))",
            "padLeft('a', parameters('u'))",
            "replace(parameters('u'), 'a', 'b')",
            "split(parameters('u'), ',')",
            "string(parameters('u'))",
            "substring('abc', parameters('u'))",
            "toLower(parameters('u'))",
            "uri(parameters('u'), 'x')",
            "uriComponent(parameters('u'))",
        ] {
            let v = eval_env(&env, src).unwrap();
            assert_eq!(
                v.as_unknown().map(|u| u.reason.as_str()),
                Some("parameter u"),
                "{src}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn numeric_formats_never_panic(
            spec in "[0#.,;%‰Ee+\\-'\"xXNnDdFfGgPpCcRr0-9 ]{0,12}",
            i in proptest::num::i64::ANY,
            f in proptest::num::f64::ANY,
        ) {
            let _ = format_number(Num::Int(i), &spec);
            let _ = format_number(Num::Float(f), &spec);
            let _ = net_double(f);
        }

        #[test]
        fn string_functions_never_panic(s in "\\PC{0,24}", t in "\\PC{0,6}", n in -30_i64..30) {
            let _ = parse_json_lenient(&s);
            let _ = resolve_uri(&s, &t);
            let _ = unescape_data(&s);
            let _ = base64_decode(&s);
            let env = TestEnv::new()
                .with("s", Value::string(s.as_str()))
                .with("t", Value::string(t.as_str()))
                .with("n", Value::int(n));
            for src in [
                "format(parameters('s'), parameters('n'), parameters('t'), 1.5)",
                "substring(parameters('s'), parameters('n'))",
                "substring(parameters('s'), 1, parameters('n'))",
                "padLeft(parameters('s'), parameters('n'), 'x')",
                "split(parameters('s'), parameters('t'))",
                "replace(parameters('s'), parameters('t'), 'ab')",
                "dataUriToString(parameters('s'))",
                "startsWith(parameters('s'), parameters('t'))",
            ] {
                let _ = eval_env(&env, src);
            }
        }
    }
}
