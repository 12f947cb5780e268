//! The reader: an iterative parser over the bytes of a `&str`.
//!
//! Containers being read are kept on an explicit stack, so deeply nested input
//! cannot overflow the call stack; the nesting limit bounds that stack.

use crate::Span;
use crate::lines::LineIndex;
use crate::node::{Member, Node, NodeKind, Number};
use crate::scan;

/// A parse failure before it is given a path and a line and column.
#[derive(Debug)]
pub(crate) struct RawError {
    pub(crate) offset: usize,
    pub(crate) expected: String,
    pub(crate) found: String,
}

/// Parses `text` (indexed by `lines`) into its root node.
pub(crate) fn parse(text: &str, lines: &LineIndex, max_depth: usize) -> Result<Node, RawError> {
    let mut parser = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        lines,
        max_depth,
    };
    if text.starts_with('\u{FEFF}') {
        parser.pos = '\u{FEFF}'.len_utf8();
    }
    let root = parser.value_tree()?;
    parser.skip_trivia()?;
    if parser.pos < parser.bytes.len() {
        return Err(parser.error(parser.pos, "end of input"));
    }
    Ok(root)
}

/// A container whose closing bracket has not been read yet. Its finished
/// elements or members wait on the parser's scratch stacks from `first` on.
enum Frame {
    Array {
        start: usize,
        first: usize,
    },
    Object {
        start: usize,
        first: usize,
        /// The key of the member whose value is being read.
        key: String,
        key_span: Span,
    },
}

const ESCAPES: &str = "a valid escape sequence (\\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX)";

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    lines: &'a LineIndex,
    max_depth: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// `text[start..end]`; the bounds are always at ASCII bytes, hence on
    /// character boundaries.
    fn slice(&self, start: usize, end: usize) -> &'a str {
        self.text.get(start..end).unwrap_or_default()
    }

    fn error(&self, offset: usize, expected: impl Into<String>) -> RawError {
        RawError {
            offset,
            expected: expected.into(),
            found: describe_at(self.text, offset),
        }
    }

    fn error_found(
        &self,
        offset: usize,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> RawError {
        RawError {
            offset,
            expected: expected.into(),
            found: found.into(),
        }
    }

    /// `line:column` of `offset`, for messages that point elsewhere.
    fn place(&self, offset: usize) -> String {
        let p = self.lines.position(self.text, offset);
        format!("{}:{}", p.line, p.column)
    }

    /// Skips whitespace and comments.
    fn skip_trivia(&mut self) -> Result<(), RawError> {
        loop {
            match self.peek() {
                Some(b' ') => self.pos = scan::skip_spaces(self.bytes, self.pos + 1),
                Some(b'\t' | b'\n' | b'\r') => self.pos += 1,
                Some(b'/') => match self.bytes.get(self.pos + 1) {
                    Some(b'/') => {
                        let from = self.pos + 2;
                        let rest = self.bytes.get(from..).unwrap_or_default();
                        self.pos = match rest.iter().position(|&b| b == b'\n' || b == b'\r') {
                            Some(i) => from + i,
                            None => self.bytes.len(),
                        };
                    }
                    Some(b'*') => {
                        let open = self.pos;
                        let from = self.pos + 2;
                        match self.text.get(from..).and_then(|rest| rest.find("*/")) {
                            Some(i) => self.pos = from + i + 2,
                            None => {
                                let expected = format!(
                                    "'*/' to close the comment that starts at {}",
                                    self.place(open)
                                );
                                return Err(self.error_found(
                                    self.bytes.len(),
                                    expected,
                                    "end of input",
                                ));
                            }
                        }
                    }
                    _ => {
                        let found = match describe_at(self.text, self.pos + 1).as_str() {
                            "end of input" => "'/' at the end of input".to_owned(),
                            next => format!("'/' followed by {next}"),
                        };
                        return Err(self.error_found(self.pos, "a comment ('//' or '/*')", found));
                    }
                },
                _ => return Ok(()),
            }
        }
    }

    fn check_depth(&self, open_containers: usize) -> Result<(), RawError> {
        if open_containers >= self.max_depth {
            Err(self.error_found(
                self.pos,
                format!("nesting of at most {} levels", self.max_depth),
                format!("level {}", open_containers + 1),
            ))
        } else {
            Ok(())
        }
    }

    /// Reads one complete value (with everything nested in it).
    fn value_tree(&mut self) -> Result<Node, RawError> {
        let mut stack: Vec<Frame> = Vec::new();
        // Finished elements and members of the open containers; each
        // container takes its own off the top when it closes, so that its
        // vector is allocated once, at its final size.
        let mut items: Vec<Node> = Vec::new();
        let mut members: Vec<Member> = Vec::new();
        loop {
            // Read the start of a value: a scalar, an empty container, or the
            // opening of a container whose first element/member value is read
            // by the next round of this loop.
            self.skip_trivia()?;
            let start = self.pos;
            let mut node = match self.peek() {
                Some(b'{') => {
                    self.check_depth(stack.len())?;
                    self.pos += 1;
                    self.skip_trivia()?;
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                        Node::new(NodeKind::Object(Vec::new()), Span::new(start, self.pos))
                    } else {
                        let (key, key_span) = self.key()?;
                        stack.push(Frame::Object {
                            start,
                            first: members.len(),
                            key,
                            key_span,
                        });
                        continue;
                    }
                }
                Some(b'[') => {
                    self.check_depth(stack.len())?;
                    self.pos += 1;
                    self.skip_trivia()?;
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                        Node::new(NodeKind::Array(Vec::new()), Span::new(start, self.pos))
                    } else {
                        stack.push(Frame::Array {
                            start,
                            first: items.len(),
                        });
                        continue;
                    }
                }
                _ => self.scalar()?,
            };
            // Attach the finished value to its container, then read what
            // follows it; close containers for as long as they end.
            loop {
                let Some(frame) = stack.last_mut() else {
                    return Ok(node);
                };
                let closed = match frame {
                    Frame::Array { .. } => {
                        items.push(node);
                        self.skip_trivia()?;
                        match self.peek() {
                            Some(b',') => {
                                self.pos += 1;
                                self.skip_trivia()?;
                                if self.peek() == Some(b']') {
                                    self.pos += 1;
                                    true
                                } else {
                                    false
                                }
                            }
                            Some(b']') => {
                                self.pos += 1;
                                true
                            }
                            _ => {
                                return Err(
                                    self.error(self.pos, "',' or ']' after an array element")
                                );
                            }
                        }
                    }
                    Frame::Object { key, key_span, .. } => {
                        members.push(Member {
                            key: std::mem::take(key),
                            key_span: *key_span,
                            value: node,
                        });
                        self.skip_trivia()?;
                        match self.peek() {
                            Some(b',') => {
                                self.pos += 1;
                                self.skip_trivia()?;
                                if self.peek() == Some(b'}') {
                                    self.pos += 1;
                                    true
                                } else {
                                    let (k, span) = self.key()?;
                                    *key = k;
                                    *key_span = span;
                                    false
                                }
                            }
                            Some(b'}') => {
                                self.pos += 1;
                                true
                            }
                            _ => {
                                return Err(
                                    self.error(self.pos, "',' or '}' after an object member")
                                );
                            }
                        }
                    }
                };
                if !closed {
                    break;
                }
                node = match stack.pop() {
                    Some(Frame::Array { start, first }) => {
                        let own: Vec<Node> = items.drain(first.min(items.len())..).collect();
                        Node::new(NodeKind::Array(own), Span::new(start, self.pos))
                    }
                    Some(Frame::Object { start, first, .. }) => {
                        let own: Vec<Member> = members.drain(first.min(members.len())..).collect();
                        Node::new(NodeKind::Object(own), Span::new(start, self.pos))
                    }
                    // Not reachable: `stack.last_mut()` returned a frame.
                    None => return Err(self.error(self.pos, "a JSON value")),
                };
            }
        }
    }

    /// Reads `"key"` and the `:` after it.
    fn key(&mut self) -> Result<(String, Span), RawError> {
        let start = self.pos;
        if self.peek() != Some(b'"') {
            return Err(self.error(start, "a string key or '}'"));
        }
        let key = self.string()?;
        let span = Span::new(start, self.pos);
        self.skip_trivia()?;
        if self.peek() != Some(b':') {
            return Err(self.error(self.pos, "':' after an object key"));
        }
        self.pos += 1;
        Ok((key, span))
    }

    fn scalar(&mut self) -> Result<Node, RawError> {
        let start = self.pos;
        let kind = match self.peek() {
            Some(b'"') => NodeKind::String(self.string()?),
            Some(b't') => self.literal("true", NodeKind::Bool(true))?,
            Some(b'f') => self.literal("false", NodeKind::Bool(false))?,
            Some(b'n') => self.literal("null", NodeKind::Null)?,
            Some(b'-' | b'0'..=b'9') => NodeKind::Number(self.number()?),
            _ => return Err(self.error(start, "a JSON value")),
        };
        Ok(Node::new(kind, Span::new(start, self.pos)))
    }

    fn literal(&mut self, word: &str, kind: NodeKind) -> Result<NodeKind, RawError> {
        let end = self.pos + word.len();
        if self.bytes.get(self.pos..end) == Some(word.as_bytes()) {
            self.pos = end;
            Ok(kind)
        } else {
            Err(self.error(self.pos, "a JSON value"))
        }
    }

    fn skip_digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }

    fn number(&mut self) -> Result<Number, RawError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    self.skip_digits();
                    let found = format!("'{}'", self.slice(start, self.pos));
                    return Err(self.error_found(start, "a number without leading zeros", found));
                }
            }
            Some(b'1'..=b'9') => self.skip_digits(),
            _ => return Err(self.error(self.pos, "a digit after '-'")),
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error(self.pos, "a digit after the decimal point"));
            }
            self.skip_digits();
            integer = false;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error(self.pos, "a digit in the exponent"));
            }
            self.skip_digits();
            integer = false;
        }
        let digits = self.slice(start, self.pos);
        if integer && let Ok(i) = digits.parse::<i64>() {
            return Ok(Number::Int(i));
        }
        match digits.parse::<f64>() {
            Ok(f) => Ok(Number::Float(f)),
            // Not reachable: the JSON number grammar is a subset of Rust's.
            Err(_) => Err(self.error(start, "a number")),
        }
    }

    /// Reads a string starting at the opening quote; returns it decoded.
    fn string(&mut self) -> Result<String, RawError> {
        let open = self.pos;
        self.pos += 1;
        let mut chunk_start = self.pos;
        // Allocated only when the first escape is met.
        let mut decoded: Option<String> = None;
        loop {
            let Some(at) = scan::find_quote_or_backslash(self.bytes, self.pos) else {
                self.pos = self.bytes.len();
                return Err(self.unterminated(open));
            };
            let chunk = self.slice(chunk_start, at);
            if self.bytes.get(at) == Some(&b'"') {
                self.pos = at + 1;
                return Ok(match decoded {
                    None => chunk.to_owned(),
                    Some(mut s) => {
                        s.push_str(chunk);
                        s
                    }
                });
            }
            let out = decoded.get_or_insert_with(|| String::with_capacity(chunk.len() + 16));
            out.push_str(chunk);
            self.pos = at;
            self.escape(out, open)?;
            chunk_start = self.pos;
        }
    }

    fn unterminated(&self, open: usize) -> RawError {
        let expected = format!(
            "'\"' to close the string that starts at {}",
            self.place(open)
        );
        self.error_found(self.bytes.len(), expected, "end of input")
    }

    /// Decodes the escape sequence at the backslash at `self.pos`.
    fn escape(&mut self, out: &mut String, open: usize) -> Result<(), RawError> {
        let backslash = self.pos;
        let Some(&c) = self.bytes.get(backslash + 1) else {
            return Err(self.unterminated(open));
        };
        let simple = match c {
            b'"' => Some('"'),
            b'\\' => Some('\\'),
            b'/' => Some('/'),
            b'b' => Some('\u{8}'),
            b'f' => Some('\u{c}'),
            b'n' => Some('\n'),
            b'r' => Some('\r'),
            b't' => Some('\t'),
            _ => None,
        };
        if let Some(ch) = simple {
            out.push(ch);
            self.pos = backslash + 2;
            return Ok(());
        }
        if c != b'u' {
            let next = self
                .text
                .get(backslash + 1..)
                .and_then(|s| s.chars().next())
                .unwrap_or(char::REPLACEMENT_CHARACTER);
            let found = if next.is_control() || next.is_whitespace() {
                format!("'\\' followed by {}", describe_char(next))
            } else {
                format!("'\\{next}'")
            };
            return Err(self.error_found(backslash, ESCAPES, found));
        }
        let high = self.hex4(backslash, open)?;
        let mut len = 6;
        let ch = if (0xD800..0xDC00).contains(&high) {
            let low = if self.bytes.get(backslash + 6..backslash + 8) == Some(b"\\u") {
                hex4_at(self.bytes, backslash + 8)
            } else {
                None
            };
            match low {
                Some(low) if (0xDC00..0xE000).contains(&low) => {
                    len = 12;
                    char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
                }
                _ => None,
            }
        } else {
            char::from_u32(high)
        };
        out.push(ch.unwrap_or(char::REPLACEMENT_CHARACTER));
        self.pos = backslash + len;
        Ok(())
    }

    /// The four hex digits of the `\u` escape at `backslash`.
    fn hex4(&self, backslash: usize, open: usize) -> Result<u32, RawError> {
        let mut value = 0;
        for k in 0..4 {
            let at = backslash + 2 + k;
            let digit = match self.bytes.get(at) {
                None => return Err(self.unterminated(open)),
                Some(&b) => hex_digit(b),
            };
            match digit {
                Some(d) => value = value * 16 + d,
                None => {
                    return Err(self.error_found(
                        backslash,
                        "four hexadecimal digits after '\\u'",
                        self.text
                            .get(at..)
                            .and_then(|s| s.chars().next())
                            .map_or_else(|| "end of input".to_owned(), describe_char),
                    ));
                }
            }
        }
        Ok(value)
    }
}

fn hex_digit(b: u8) -> Option<u32> {
    char::from(b).to_digit(16)
}

fn hex4_at(bytes: &[u8], at: usize) -> Option<u32> {
    bytes
        .get(at..at + 4)?
        .iter()
        .try_fold(0, |acc, &b| Some(acc * 16 + hex_digit(b)?))
}

/// Describes the token at `offset` for the `found` part of a message: a word
/// (`'True'`), a single character (`'x'`), a named character (`a newline`) or
/// `end of input`.
pub(crate) fn describe_at(text: &str, offset: usize) -> String {
    let Some(rest) = text.get(offset..) else {
        return "end of input".to_owned();
    };
    let mut chars = rest.chars();
    match chars.next() {
        None => "end of input".to_owned(),
        Some(c) if c.is_alphanumeric() || c == '_' => {
            const MAX: usize = 24;
            let word: String = rest
                .chars()
                .take_while(|&c| c.is_alphanumeric() || c == '_')
                .take(MAX + 1)
                .collect();
            if word.chars().count() > MAX {
                let short: String = word.chars().take(MAX).collect();
                format!("'{short}...'")
            } else {
                format!("'{word}'")
            }
        }
        Some(c) => describe_char(c),
    }
}

/// Describes one character.
pub(crate) fn describe_char(c: char) -> String {
    match c {
        '\n' => "a newline".to_owned(),
        '\r' => "a carriage return".to_owned(),
        '\t' => "a tab".to_owned(),
        ' ' => "a space".to_owned(),
        '\'' => "a single quote (')".to_owned(),
        '\u{FEFF}' => "a byte order mark (U+FEFF)".to_owned(),
        c if c.is_control() || c.is_whitespace() => format!("U+{:04X}", u32::from(c)),
        c => format!("'{c}'"),
    }
}
