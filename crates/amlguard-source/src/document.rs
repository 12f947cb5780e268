//! Documents: text, value tree and positions.

use std::io::Read;
use std::path::Path;

use crate::error::{ParseError, SourceError};
use crate::lines::LineIndex;
use crate::node::Node;
use crate::parser::{self, RawError};
use crate::route::{Route, Seg};
use crate::{Limits, Position, Span};

/// A parsed file: its path, its text and its value tree.
#[derive(Debug, Clone)]
pub struct Document {
    /// The file's path as given (used in messages).
    pub path: String,
    /// The full text, including a byte order mark if there was one.
    pub text: String,
    /// The root value.
    pub root: Node,
    lines: LineIndex,
}

/// Where a [`Route`] leads in a [`Document`]: the deepest node along it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Located {
    /// Span of the deepest node that exists along the route.
    pub node_span: Span,
    /// Position of the start of that node.
    pub position: Position,
    /// Whether the whole route exists (the node is the route's target).
    pub exact: bool,
    /// Number of route steps that were followed.
    pub depth: usize,
}

impl Document {
    /// Parses `text` with the default [`Limits`].
    pub fn parse(path: impl Into<String>, text: String) -> Result<Document, ParseError> {
        Document::parse_with(path, text, &Limits::default())
    }

    /// Parses `text` with the given limits.
    pub fn parse_with(
        path: impl Into<String>,
        text: String,
        limits: &Limits,
    ) -> Result<Document, ParseError> {
        let path = path.into();
        if text.len() > limits.max_bytes {
            return Err(ParseError {
                path,
                line: 1,
                column: 1,
                offset: 0,
                expected: format!("at most {} bytes of input", limits.max_bytes),
                found: format!("{} bytes", text.len()),
            });
        }
        let lines = LineIndex::new(&text);
        match parser::parse(&text, &lines, limits.max_depth) {
            Ok(root) => Ok(Document {
                path,
                text,
                root,
                lines,
            }),
            Err(raw) => Err(located_error(path, &text, &lines, raw)),
        }
    }

    /// Reads and parses the file at `path` with the default [`Limits`].
    pub fn load(path: &Path) -> Result<Document, SourceError> {
        Document::load_with(path, &Limits::default())
    }

    /// Reads and parses the file at `path`. The size is checked against
    /// `limits.max_bytes` before the file is read; text that is not UTF-8 is
    /// reported at the line and column of the first bad byte.
    pub fn load_with(path: &Path, limits: &Limits) -> Result<Document, SourceError> {
        let name = path.display().to_string();
        let io = |e: std::io::Error| SourceError::Io {
            path: name.clone(),
            message: e.to_string(),
        };
        let limit = u64::try_from(limits.max_bytes).unwrap_or(u64::MAX);
        let file = std::fs::File::open(path).map_err(io)?;
        let size = file.metadata().map_err(io)?.len();
        if size > limit {
            return Err(SourceError::TooLarge {
                path: name,
                bytes: size,
                limit,
            });
        }
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        // The file may grow after the size check: never read past the limit.
        file.take(limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(io)?;
        let read = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        if read > limit {
            return Err(SourceError::TooLarge {
                path: name,
                bytes: read,
                limit,
            });
        }
        let text = decode_utf8(&name, bytes)?;
        Ok(Document::parse_with(name, text, limits)?)
    }

    /// The position of byte `offset`, which is clamped to the text's length.
    pub fn position(&self, offset: usize) -> Position {
        self.lines.position(&self.text, offset)
    }

    /// The node at `route`: keys match like [`Node::get`], indexes index
    /// arrays.
    pub fn node(&self, route: &Route) -> Option<&Node> {
        let (node, depth) = self.walk(route);
        (depth == route.segs().len()).then_some(node)
    }

    /// The deepest node that exists along `route`.
    pub fn locate(&self, route: &Route) -> Located {
        let (node, depth) = self.walk(route);
        Located {
            node_span: node.span,
            position: self.position(node.span.start),
            exact: depth == route.segs().len(),
            depth,
        }
    }

    fn walk(&self, route: &Route) -> (&Node, usize) {
        let mut node = &self.root;
        let mut depth = 0;
        for seg in route.segs() {
            let next = match seg {
                Seg::Key(key) => node.get(key),
                Seg::Index(i) => node.as_array().and_then(|items| items.get(*i)),
            };
            match next {
                Some(n) => {
                    node = n;
                    depth += 1;
                }
                None => break,
            }
        }
        (node, depth)
    }

    /// Line `line` (1-based) without its terminator (and, on line 1, without
    /// a byte order mark).
    pub fn line_text(&self, line: usize) -> Option<&str> {
        self.lines.line_text(&self.text, line)
    }

    /// Number of lines (a text ending with a newline has an empty last line).
    pub fn line_count(&self) -> usize {
        self.lines.line_count()
    }

    /// Byte offset where line `line` (1-based) starts.
    pub fn line_start(&self, line: usize) -> Option<usize> {
        self.lines.line_start(line)
    }

    /// The text a span covers (`None` if the span is out of range).
    pub fn slice(&self, span: Span) -> Option<&str> {
        self.text.get(span.start..span.end)
    }
}

fn located_error(path: String, text: &str, lines: &LineIndex, raw: RawError) -> ParseError {
    let p = lines.position(text, raw.offset);
    ParseError {
        path,
        line: p.line,
        column: p.column,
        offset: raw.offset,
        expected: raw.expected,
        found: raw.found,
    }
}

/// The bytes as a `String`, or an error at the first byte that is not UTF-8.
fn decode_utf8(path: &str, bytes: Vec<u8>) -> Result<String, ParseError> {
    String::from_utf8(bytes).map_err(|e| {
        let err = e.utf8_error();
        let bytes = e.as_bytes();
        let offset = err.valid_up_to();
        let prefix = bytes
            .get(..offset)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or_default();
        let p = LineIndex::new(prefix).position(prefix, offset);
        let utf16_bom = bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]);
        let found = match (utf16_bom, err.error_len(), bytes.get(offset)) {
            (true, _, _) => "a UTF-16 byte order mark".to_owned(),
            (false, None, _) => "an incomplete UTF-8 sequence at the end of the file".to_owned(),
            (false, Some(_), Some(b)) => format!("the byte 0x{b:02X}"),
            (false, Some(_), None) => "end of input".to_owned(),
        };
        ParseError {
            path: path.to_owned(),
            line: p.line,
            column: p.column,
            offset,
            expected: "UTF-8 text".to_owned(),
            found,
        }
    })
}
