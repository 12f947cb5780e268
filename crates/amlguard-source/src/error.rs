//! Errors.

/// Text that is not accepted: where, what was expected and what was found.
///
/// Displays as `{path}:{line}:{column}: expected {expected}, found {found}`.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
#[error("{path}:{line}:{column}: expected {expected}, found {found}")]
pub struct ParseError {
    /// The file (as given to the reader).
    pub path: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in Unicode scalar values.
    pub column: usize,
    /// Byte offset of the error in the text (for code frames).
    pub offset: usize,
    /// What the reader expected, e.g. `',' or '}' after an object member`.
    pub expected: String,
    /// What it found instead, e.g. `end of input`, `'x'`, `a newline`.
    pub found: String,
}

/// A file that could not be loaded. Every variant displays its path first.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum SourceError {
    /// The file could not be opened or read.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's message.
        message: String,
    },
    /// The file is larger than [`crate::Limits::max_bytes`].
    #[error("{path}: the file has {bytes} bytes, more than the limit of {limit} bytes")]
    TooLarge {
        /// The file.
        path: String,
        /// Its size (or as much of it as was read before giving up).
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// The file is not valid UTF-8 or not valid JSON (with comments).
    #[error(transparent)]
    Parse(#[from] ParseError),
}

impl SourceError {
    /// The file the error is about.
    pub fn path(&self) -> &str {
        match self {
            SourceError::Io { path, .. } | SourceError::TooLarge { path, .. } => path,
            SourceError::Parse(e) => &e.path,
        }
    }
}
