//! Malformed inputs: exact positions and messages.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

use amlguard_source::{Document, Limits, ParseError, SourceError};

fn err(text: &str) -> ParseError {
    match Document::parse("t.json", text.to_owned()) {
        Ok(doc) => panic!("{text:?} parsed as {:?}", doc.root),
        Err(e) => e,
    }
}

fn msg(text: &str) -> String {
    err(text).to_string()
}

#[test]
fn empty_input() {
    assert_eq!(
        msg(""),
        "t.json:1:1: expected a JSON value, found end of input"
    );
    let e = err("");
    assert_eq!((e.line, e.column, e.offset), (1, 1, 0));
    assert_eq!(e.expected, "a JSON value");
    assert_eq!(e.found, "end of input");
}

#[test]
fn only_whitespace_and_comments() {
    assert_eq!(
        msg("  \n  // nothing\n  "),
        "t.json:3:3: expected a JSON value, found end of input"
    );
    assert_eq!(
        msg("\u{FEFF}"),
        "t.json:1:1: expected a JSON value, found end of input"
    );
}

#[test]
fn missing_comma_between_members() {
    assert_eq!(
        msg("{\n  \"a\": 1\n  \"b\": 2\n}"),
        "t.json:3:3: expected ',' or '}' after an object member, found '\"'"
    );
    assert_eq!(
        msg("{\n  \"a\": 1,\n  \"b\":1 x\n}"),
        "t.json:3:9: expected ',' or '}' after an object member, found 'x'"
    );
}

#[test]
fn missing_comma_between_elements() {
    assert_eq!(
        msg("[1, 2 3]"),
        "t.json:1:7: expected ',' or ']' after an array element, found '3'"
    );
    assert_eq!(
        msg("[1, 2"),
        "t.json:1:6: expected ',' or ']' after an array element, found end of input"
    );
}

#[test]
fn missing_colon() {
    assert_eq!(
        msg("{\"a\" 1}"),
        "t.json:1:6: expected ':' after an object key, found '1'"
    );
}

#[test]
fn keys_must_be_double_quoted() {
    assert_eq!(
        msg("{'a': 1}"),
        "t.json:1:2: expected a string key or '}', found a single quote (')"
    );
    assert_eq!(
        msg("{a: 1}"),
        "t.json:1:2: expected a string key or '}', found 'a'"
    );
}

#[test]
fn bad_literals() {
    assert_eq!(
        msg("[tru]"),
        "t.json:1:2: expected a JSON value, found 'tru'"
    );
    assert_eq!(
        msg("True"),
        "t.json:1:1: expected a JSON value, found 'True'"
    );
    assert_eq!(msg("NaN"), "t.json:1:1: expected a JSON value, found 'NaN'");
    assert_eq!(
        msg("{\"a\": undefined}"),
        "t.json:1:7: expected a JSON value, found 'undefined'"
    );
    assert_eq!(msg("nul"), "t.json:1:1: expected a JSON value, found 'nul'");
    assert_eq!(msg("+1"), "t.json:1:1: expected a JSON value, found '+'");
}

#[test]
fn bad_numbers() {
    assert_eq!(
        msg("[012]"),
        "t.json:1:2: expected a number without leading zeros, found '012'"
    );
    assert_eq!(
        msg("-00"),
        "t.json:1:1: expected a number without leading zeros, found '-00'"
    );
    assert_eq!(
        msg("[-]"),
        "t.json:1:3: expected a digit after '-', found ']'"
    );
    assert_eq!(
        msg("[1.]"),
        "t.json:1:4: expected a digit after the decimal point, found ']'"
    );
    assert_eq!(
        msg("[1e+]"),
        "t.json:1:5: expected a digit in the exponent, found ']'"
    );
    assert_eq!(msg("[.5]"), "t.json:1:2: expected a JSON value, found '.'");
    assert_eq!(
        msg("[0x10]"),
        "t.json:1:3: expected ',' or ']' after an array element, found 'x10'"
    );
}

#[test]
fn bad_escapes() {
    assert_eq!(
        msg("\"ab\\qc\""),
        "t.json:1:4: expected a valid escape sequence (\\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX), found '\\q'"
    );
    assert_eq!(
        msg("[\"\\u12G4\"]"),
        "t.json:1:3: expected four hexadecimal digits after '\\u', found 'G'"
    );
    assert_eq!(
        msg("\"\\\n\""),
        "t.json:1:2: expected a valid escape sequence (\\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX), found '\\' followed by a newline"
    );
}

#[test]
fn unterminated_string() {
    assert_eq!(
        msg("{\n  \"name\": \"abc\n"),
        "t.json:3:1: expected '\"' to close the string that starts at 2:11, found end of input"
    );
    assert_eq!(
        msg("\"abc\\"),
        "t.json:1:6: expected '\"' to close the string that starts at 1:1, found end of input"
    );
    assert_eq!(
        msg("\"\\u00"),
        "t.json:1:6: expected '\"' to close the string that starts at 1:1, found end of input"
    );
}

#[test]
fn unterminated_block_comment() {
    assert_eq!(
        msg("[1] /* never closed"),
        "t.json:1:20: expected '*/' to close the comment that starts at 1:5, found end of input"
    );
    assert_eq!(
        msg("/*/ {}"),
        "t.json:1:7: expected '*/' to close the comment that starts at 1:1, found end of input"
    );
}

#[test]
fn lone_slash() {
    assert_eq!(
        msg("[1 / 2]"),
        "t.json:1:4: expected a comment ('//' or '/*'), found '/' followed by a space"
    );
    assert_eq!(
        msg("{}/"),
        "t.json:1:3: expected a comment ('//' or '/*'), found '/' at the end of input"
    );
}

#[test]
fn trailing_content() {
    assert_eq!(msg("{} x"), "t.json:1:4: expected end of input, found 'x'");
    assert_eq!(
        msg("[1]\r\n]"),
        "t.json:2:1: expected end of input, found ']'"
    );
    assert_eq!(msg("1 2"), "t.json:1:3: expected end of input, found '2'");
}

#[test]
fn misplaced_commas() {
    assert_eq!(
        msg("[1,,2]"),
        "t.json:1:4: expected a JSON value, found ','"
    );
    assert_eq!(msg("[,]"), "t.json:1:2: expected a JSON value, found ','");
    assert_eq!(
        msg("{\"a\":1,,}"),
        "t.json:1:8: expected a string key or '}', found ','"
    );
    assert_eq!(
        msg("{,}"),
        "t.json:1:2: expected a string key or '}', found ','"
    );
    assert_eq!(msg("1,"), "t.json:1:2: expected end of input, found ','");
}

#[test]
fn mismatched_brackets() {
    assert_eq!(
        msg("[1}"),
        "t.json:1:3: expected ',' or ']' after an array element, found '}'"
    );
    assert_eq!(
        msg("{\"a\":1]"),
        "t.json:1:7: expected ',' or '}' after an object member, found ']'"
    );
}

#[test]
fn columns_count_characters() {
    // `"é😀"` is four characters, so the `x` is in column 6.
    assert_eq!(
        msg("\"é😀\" x"),
        "t.json:1:6: expected end of input, found 'x'"
    );
}

#[test]
fn odd_characters_are_named() {
    assert_eq!(
        msg("[1,\u{1}]"),
        "t.json:1:4: expected a JSON value, found U+0001"
    );
    assert_eq!(
        msg("[\u{FEFF}1]"),
        "t.json:1:2: expected a JSON value, found a byte order mark (U+FEFF)"
    );
    assert_eq!(
        msg("[\u{A0}1]"),
        "t.json:1:2: expected a JSON value, found U+00A0"
    );
    assert_eq!(
        msg("[\t\n"),
        "t.json:2:1: expected a JSON value, found end of input"
    );
    assert_eq!(
        msg("-\n"),
        "t.json:1:2: expected a digit after '-', found a newline"
    );
}

fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

#[test]
fn depth_limit() {
    assert!(Document::parse("t.json", nested(512)).is_ok());
    assert_eq!(
        msg(&nested(513)),
        "t.json:1:513: expected nesting of at most 512 levels, found level 513"
    );
    let objects = "{\"a\":".repeat(600);
    assert_eq!(
        msg(&objects),
        "t.json:1:2561: expected nesting of at most 512 levels, found level 513"
    );
    let limits = Limits {
        max_depth: 2,
        ..Limits::default()
    };
    assert!(Document::parse_with("t.json", "[[1]]".to_owned(), &limits).is_ok());
    let e = Document::parse_with("t.json", "[{\"a\": []}]".to_owned(), &limits).unwrap_err();
    assert_eq!(
        e.to_string(),
        "t.json:1:8: expected nesting of at most 2 levels, found level 3"
    );
}

#[test]
fn very_deep_input_does_not_overflow_the_stack() {
    let text = "[".repeat(1_000_000);
    let e = err(&text);
    assert_eq!((e.line, e.column), (1, 513));
    let limits = Limits {
        max_depth: usize::MAX,
        ..Limits::default()
    };
    let e = Document::parse_with("t.json", text, &limits).unwrap_err();
    assert_eq!(
        e.to_string(),
        "t.json:1:1000001: expected a JSON value, found end of input"
    );
    let doc = Document::parse_with("t.json", nested(200_000), &limits).unwrap();
    assert_eq!(doc.root.span.end, 400_000);
    // Dropping a deep tree recurses; leak-free but do it on a big stack.
    std::thread::Builder::new()
        .stack_size(256 * 1024 * 1024)
        .spawn(move || drop(doc))
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn size_limit() {
    let limits = Limits {
        max_bytes: 4,
        ..Limits::default()
    };
    assert!(Document::parse_with("t.json", "[1 ]".to_owned(), &limits).is_ok());
    assert_eq!(
        Document::parse_with("t.json", "[1, ]".to_owned(), &limits)
            .unwrap_err()
            .to_string(),
        "t.json:1:1: expected at most 4 bytes of input, found 5 bytes"
    );
}

/// A file in the temporary directory, removed when dropped.
struct TempFile(std::path::PathBuf);

impl std::ops::Deref for TempFile {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn temp_file(name: &str, bytes: &[u8]) -> TempFile {
    let path = std::env::temp_dir().join(format!(
        "amlguard-source-test-{}-{name}",
        std::process::id()
    ));
    std::fs::write(&path, bytes).unwrap();
    TempFile(path)
}

#[test]
fn load_reports_invalid_utf8_position() {
    let path = temp_file("bad-utf8.json", b"{\"a\":\n \"x\xff\"}");
    let e = Document::load(&path).unwrap_err();
    let shown = path.display().to_string();
    assert_eq!(
        e.to_string(),
        format!("{shown}:2:4: expected UTF-8 text, found the byte 0xFF")
    );
    assert!(matches!(
        e,
        SourceError::Parse(ParseError {
            line: 2,
            column: 4,
            offset: 9,
            ..
        })
    ));

    let path = temp_file("utf16.json", b"\xff\xfe{\0}\0");
    let e = Document::load(&path).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}:1:1: expected UTF-8 text, found a UTF-16 byte order mark",
            path.display()
        )
    );

    let path = temp_file("truncated.json", b"\"\xc3");
    let e = Document::load(&path).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}:1:2: expected UTF-8 text, found an incomplete UTF-8 sequence at the end of the file",
            path.display()
        )
    );
}

#[test]
fn load_checks_size_before_reading() {
    let path = temp_file("big.json", b"[1, 2, 3]");
    let limits = Limits {
        max_bytes: 8,
        ..Limits::default()
    };
    let e = Document::load_with(&path, &limits).unwrap_err();
    assert!(matches!(
        e,
        SourceError::TooLarge {
            bytes: 9,
            limit: 8,
            ..
        }
    ));
    assert!(e.to_string().starts_with(&path.display().to_string()));
    assert_eq!(e.path(), path.display().to_string());
    let doc = Document::load(&path).unwrap();
    assert_eq!(doc.path, path.display().to_string());
    assert_eq!(doc.root.as_array().unwrap().len(), 3);
}

#[test]
fn load_reports_io_errors_with_path() {
    let path = std::path::Path::new("/nonexistent/amlguard/nothing.json");
    let e = Document::load(path).unwrap_err();
    assert!(matches!(e, SourceError::Io { .. }));
    assert!(
        e.to_string()
            .starts_with("/nonexistent/amlguard/nothing.json: ")
    );
}

#[test]
fn load_reports_parse_errors_with_path() {
    let path = temp_file("broken.json", b"{\n  \"a\": [1,\n}");
    let e = Document::load(&path).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{}:3:1: expected a JSON value, found '}}'", path.display())
    );
}
