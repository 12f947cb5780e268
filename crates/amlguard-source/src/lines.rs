//! Line-start table: byte offsets to line and column.

use crate::Position;
use crate::scan;

/// Where each line starts, and whether it is pure ASCII (so that columns can be
/// computed without decoding).
#[derive(Debug, Clone, Default)]
pub(crate) struct LineIndex {
    starts: Vec<usize>,
    ascii: Vec<bool>,
}

impl LineIndex {
    /// Indexes `text`. Lines end at `\n`, `\r\n` or a lone `\r`. A leading byte
    /// order mark is not part of line 1.
    pub(crate) fn new(text: &str) -> LineIndex {
        let bytes = text.as_bytes();
        let first = if text.starts_with('\u{FEFF}') { 3 } else { 0 };
        let mut index = LineIndex {
            starts: Vec::with_capacity(bytes.len() / 40 + 1),
            ascii: Vec::with_capacity(bytes.len() / 40 + 1),
        };
        index.starts.push(first);
        let mut line_ascii = true;
        let mut look = |at: usize, b: u8| {
            let ends_line = match b {
                b'\n' => true,
                b'\r' => bytes.get(at + 1) != Some(&b'\n'),
                0x80.. => {
                    line_ascii = false;
                    false
                }
                _ => false,
            };
            if ends_line {
                index.ascii.push(line_ascii);
                index.starts.push(at + 1);
                line_ascii = true;
            }
        };
        let body = bytes.get(first..).unwrap_or_default();
        let mut chunks = body.chunks_exact(8);
        let mut at = first;
        for chunk in chunks.by_ref() {
            // Visit only the line terminators and non-ASCII bytes.
            let mut flagged = scan::line_breaks_and_non_ascii(scan::word(chunk));
            while flagged != 0 {
                let k = (flagged.trailing_zeros() / 8) as usize;
                flagged &= flagged - 1;
                if let Some(&b) = chunk.get(k) {
                    look(at + k, b);
                }
            }
            at += 8;
        }
        for (k, &b) in chunks.remainder().iter().enumerate() {
            look(at + k, b);
        }
        index.ascii.push(line_ascii);
        index
    }

    /// Number of lines (at least 1).
    pub(crate) fn line_count(&self) -> usize {
        self.starts.len()
    }

    /// The position of byte `offset` of `text` (the text this index was built
    /// from). Offsets past the end are clamped; offsets inside a character
    /// are moved back to its first byte.
    pub(crate) fn position(&self, text: &str, offset: usize) -> Position {
        let mut offset = offset.min(text.len());
        while offset > 0 && !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let idx = self
            .starts
            .partition_point(|&s| s <= offset)
            .saturating_sub(1);
        let line = idx + 1;
        let line_start = self.starts.get(idx).copied().unwrap_or(0);
        if offset <= line_start {
            return Position {
                line,
                column: 1,
                column_utf16: 1,
            };
        }
        let mut before = text.get(line_start..offset).unwrap_or_default();
        // The `\r` of a `\r\n` pair is part of the line terminator, not a column.
        if text.as_bytes().get(offset) == Some(&b'\n') {
            before = before.strip_suffix('\r').unwrap_or(before);
        }
        if self.ascii.get(idx).copied().unwrap_or(false) {
            Position {
                line,
                column: before.len() + 1,
                column_utf16: before.len() + 1,
            }
        } else {
            let (chars, units) = before
                .chars()
                .fold((0, 0), |(n, u), c| (n + 1, u + c.len_utf16()));
            Position {
                line,
                column: chars + 1,
                column_utf16: units + 1,
            }
        }
    }

    /// Line `line` (1-based) of `text`, without its terminator.
    pub(crate) fn line_text<'t>(&self, text: &'t str, line: usize) -> Option<&'t str> {
        let idx = line.checked_sub(1)?;
        let start = *self.starts.get(idx)?;
        let end = self.starts.get(idx + 1).copied().unwrap_or(text.len());
        let t = text.get(start..end)?;
        let t = t.strip_suffix('\n').unwrap_or(t);
        Some(t.strip_suffix('\r').unwrap_or(t))
    }

    /// Byte offset where line `line` (1-based) starts.
    pub(crate) fn line_start(&self, line: usize) -> Option<usize> {
        self.starts.get(line.checked_sub(1)?).copied()
    }
}
