//! Reading Azure Resource Manager (ARM) template files as JSON while keeping
//! the byte span of every value, so that later stages can report findings as
//! `file:line:col`.
//!
//! # Accepted dialect
//!
//! ARM (like the `Newtonsoft.Json` reader behind it) accepts more than strict
//! JSON (RFC 8259). This crate accepts exactly these extensions:
//!
//! * a UTF-8 byte order mark (U+FEFF) at the very start of the text;
//! * `// line comments` (up to the end of the line) and `/* block comments */`
//!   (not nested) wherever whitespace is allowed;
//! * raw, unescaped control characters inside strings: newlines (`\n`, `\r`),
//!   tabs and every other character below U+0020;
//! * one trailing comma after the last element of an array or the last member
//!   of an object (`[1, 2,]`, `{"a": 1,}`).
//!
//! Everything else is strict JSON and is rejected with a [`ParseError`] that
//! names the position, what was expected and what was found: keys must be
//! double-quoted strings; strings use the standard escapes (`\"` `\\` `\/`
//! `\b` `\f` `\n` `\r` `\t` `\uXXXX`, where surrogate pairs are combined and a
//! lone surrogate becomes U+FFFD); numbers follow the JSON grammar (no leading
//! zeros, no `+`, no `NaN`/`Infinity`, no hexadecimal); the only literals are
//! `true`, `false` and `null`; whitespace is space, tab, line feed and carriage
//! return; nothing but whitespace and comments may follow the root value.
//! Duplicate keys are kept, in document order.
//!
//! # Positions
//!
//! Spans are byte offsets into [`Document::text`]; the span of a string or a
//! key includes its quotes. [`Document::position`] turns an offset into a
//! 1-based line and column. Lines end at `\n`, `\r\n` or a lone `\r`; columns
//! count Unicode scalar values ([`Position::column`]) and UTF-16 code units
//! ([`Position::column_utf16`], what LSP clients expect). A byte order mark is
//! not part of line 1.
//!
//! # Limits
//!
//! Inputs are bounded by [`Limits`] (size and nesting depth). Parsing is
//! iterative, runs in linear time and never panics.
//!
//! # Example
//!
//! ```
//! use amlguard_source::{Document, Route};
//!
//! let text = "{\n  // ARM allows comments\n  \"a\": [1, 2,],\n}".to_owned();
//! let doc = Document::parse("t.json", text)?;
//! let route = Route::root().push_key("a").push_index(1);
//! assert_eq!(route.to_string(), "a[1]");
//! assert_eq!(doc.node(&route).and_then(|n| n.as_i64()), Some(2));
//! let at = doc.locate(&route);
//! assert_eq!((at.position.line, at.position.column), (3, 12));
//!
//! let err = Document::parse("t.json", "{\"a\": tru}".to_owned()).unwrap_err();
//! assert_eq!(err.to_string(), "t.json:1:7: expected a JSON value, found 'tru'");
//! # Ok::<(), amlguard_source::ParseError>(())
//! ```

mod document;
mod error;
mod lines;
mod node;
mod parser;
mod route;
mod scan;

pub use document::{Document, Located};
pub use error::{ParseError, SourceError};
pub use node::{Member, Node, NodeKind, Number};
pub use route::{Route, Seg};

/// A range of byte offsets `start..end` into a document's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Span {
    /// Offset of the first byte.
    pub start: usize,
    /// Offset one past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end`.
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// Number of bytes covered.
    pub fn len(&self) -> usize {
        self.end.saturating_sub(self.start)
    }

    /// Whether the span covers no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `offset` lies inside `start..end`.
    pub fn contains(&self, offset: usize) -> bool {
        self.start <= offset && offset < self.end
    }
}

/// A position in a text; every field is 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Position {
    /// Line number.
    pub line: usize,
    /// Column counted in Unicode scalar values.
    pub column: usize,
    /// Column counted in UTF-16 code units.
    pub column_utf16: usize,
}

/// Bounds on what the reader accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Largest accepted input, in bytes.
    pub max_bytes: usize,
    /// Deepest accepted nesting of arrays and objects (the root container is
    /// level 1). The parser itself does not recurse, but code that walks the
    /// tree recursively (including the derived `Drop`, `Clone` and `Debug`)
    /// relies on this bound to stay within the stack.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_bytes: 64 * 1024 * 1024,
            max_depth: 512,
        }
    }
}
