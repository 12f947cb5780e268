//! The ARM expression language: `[...]` strings, parsed into [`Expr`].
//!
//! Grammar (what Azure accepts, as its function reference describes it):
//!
//! ```text
//! template-string := '[' '[' any*          (an escaped literal: the first '[' is dropped)
//!                  | '[' expr ']'
//!                  | any*                   (a plain literal)
//! expr    := primary ( '.' ident | '[' expr ']' )*
//! primary := string | number | 'true' | 'false' | 'null'
//!          | ident ( '.' ident )? '(' ( expr ( ',' expr )* )? ')'
//! string  := "'" ( [^'] | "''" )* "'"
//! ```

use std::fmt;
use std::sync::Arc;

/// Deepest nesting of calls, member accesses and indexes in one expression.
pub const MAX_EXPR_DEPTH: usize = 200;
/// Longest expression string accepted.
pub const MAX_EXPR_LEN: usize = 1 << 20;

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Str(Arc<str>),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
    /// A call; `namespace` is set for user-defined functions (`ns.name(...)`).
    Call {
        namespace: Option<String>,
        name: String,
        args: Vec<Expr>,
    },
    Member(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
}

/// A string property of a template: either a literal or an expression.
#[derive(Clone, Debug, PartialEq)]
pub enum TemplateString<'a> {
    Literal(&'a str),
    Expr(&'a str),
}

/// Classifies a template string: `[[...` is an escaped literal, `[...]` an expression.
pub fn classify(s: &str) -> TemplateString<'_> {
    let b = s.as_bytes();
    if b.len() >= 2 && b.first() == Some(&b'[') && b.last() == Some(&b']') {
        if b.get(1) == Some(&b'[') {
            return TemplateString::Literal(s.get(1..).unwrap_or(""));
        }
        return TemplateString::Expr(s.get(1..s.len() - 1).unwrap_or(""));
    }
    TemplateString::Literal(s)
}

/// True when the string is an expression (`[...]` but not `[[...`).
pub fn is_expression(s: &str) -> bool {
    matches!(classify(s), TemplateString::Expr(_))
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset inside the expression text (without the surrounding brackets).
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (at character {} of the expression)",
            self.message,
            self.offset + 1
        )
    }
}

impl std::error::Error for ParseError {}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Ident(String),
    Str(String),
    Int(i64),
    Float(f64),
    End,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::LParen => "'('".into(),
        Tok::RParen => "')'".into(),
        Tok::LBracket => "'['".into(),
        Tok::RBracket => "']'".into(),
        Tok::Comma => "','".into(),
        Tok::Dot => "'.'".into(),
        Tok::Ident(s) => format!("identifier '{s}'"),
        Tok::Str(_) => "a string".into(),
        Tok::Int(i) => format!("number {i}"),
        Tok::Float(f) => format!("number {f}"),
        Tok::End => "end of expression".into(),
    }
}

fn lex(src: &str) -> Result<Vec<(usize, Tok)>, ParseError> {
    let mut out = Vec::new();
    let b = src.as_bytes();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let start = i;
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'(' => out.push((start, Tok::LParen)),
            b')' => out.push((start, Tok::RParen)),
            b'[' => out.push((start, Tok::LBracket)),
            b']' => out.push((start, Tok::RBracket)),
            b',' => out.push((start, Tok::Comma)),
            b'.' => out.push((start, Tok::Dot)),
            b'\'' => {
                let mut s = String::new();
                let mut j = i + 1;
                let mut seg = j;
                loop {
                    match b.get(j) {
                        None => {
                            return Err(ParseError {
                                offset: start,
                                message: "expected a closing ' for the string that starts here"
                                    .into(),
                            });
                        }
                        Some(b'\'') => {
                            s.push_str(src.get(seg..j).unwrap_or(""));
                            if b.get(j + 1) == Some(&b'\'') {
                                s.push('\'');
                                j += 2;
                                seg = j;
                            } else {
                                j += 1;
                                break;
                            }
                        }
                        Some(_) => j += 1,
                    }
                }
                out.push((start, Tok::Str(s)));
                i = j;
                continue;
            }
            b'-' | b'0'..=b'9' => {
                let mut j = i + 1;
                while matches!(b.get(j), Some(b'0'..=b'9')) {
                    j += 1;
                }
                let mut float = false;
                if b.get(j) == Some(&b'.') && matches!(b.get(j + 1), Some(b'0'..=b'9')) {
                    float = true;
                    j += 1;
                    while matches!(b.get(j), Some(b'0'..=b'9')) {
                        j += 1;
                    }
                }
                let text = src.get(i..j).unwrap_or("");
                if text == "-" {
                    return Err(ParseError {
                        offset: start,
                        message: "expected a digit after '-'".into(),
                    });
                }
                let tok = if float {
                    text.parse::<f64>().ok().map(Tok::Float)
                } else {
                    text.parse::<i64>().ok().map(Tok::Int)
                };
                match tok {
                    Some(t) => out.push((start, t)),
                    None => {
                        return Err(ParseError {
                            offset: start,
                            message: format!("expected a 64-bit integer, found '{text}'"),
                        });
                    }
                }
                i = j;
                continue;
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c == b'$' => {
                let mut j = i + 1;
                while matches!(b.get(j), Some(c) if c.is_ascii_alphanumeric() || *c == b'_' || *c == b'$')
                {
                    j += 1;
                }
                out.push((start, Tok::Ident(src.get(i..j).unwrap_or("").to_string())));
                i = j;
                continue;
            }
            _ => {
                let ch = src.get(i..).and_then(|r| r.chars().next()).unwrap_or('?');
                return Err(ParseError {
                    offset: start,
                    message: format!("unexpected character '{ch}'"),
                });
            }
        }
        i += 1;
    }
    out.push((src.len(), Tok::End));
    Ok(out)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        self.toks.get(self.pos).map(|(_, t)| t).unwrap_or(&Tok::End)
    }
    fn offset(&self) -> usize {
        self.toks.get(self.pos).map(|(o, _)| *o).unwrap_or(0)
    }
    fn next(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.pos < self.toks.len() {
            self.pos += 1;
        }
        t
    }
    fn err<T>(&self, expected: &str) -> Result<T, ParseError> {
        Err(ParseError {
            offset: self.offset(),
            message: format!("expected {expected}, found {}", describe(self.peek())),
        })
    }
    fn expect(&mut self, t: Tok, what: &str) -> Result<(), ParseError> {
        if *self.peek() == t {
            self.next();
            Ok(())
        } else {
            self.err(what)
        }
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_EXPR_DEPTH {
            return Err(ParseError {
                offset: self.offset(),
                message: format!("expected at most {MAX_EXPR_DEPTH} levels of nesting"),
            });
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        let mut e = self.primary()?;
        loop {
            match self.peek() {
                Tok::Dot => {
                    self.next();
                    match self.next() {
                        Tok::Ident(name) => e = Expr::Member(Box::new(e), name),
                        _ => {
                            self.pos = self.pos.saturating_sub(1);
                            return self.err("a property name after '.'");
                        }
                    }
                }
                Tok::LBracket => {
                    self.next();
                    let idx = self.expr()?;
                    self.expect(Tok::RBracket, "']' to close the index")?;
                    e = Expr::Index(Box::new(e), Box::new(idx));
                }
                _ => break,
            }
        }
        self.depth -= 1;
        Ok(e)
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        match self.peek().clone() {
            Tok::Str(s) => {
                self.next();
                Ok(Expr::Str(s.into()))
            }
            Tok::Int(i) => {
                self.next();
                Ok(Expr::Int(i))
            }
            Tok::Float(f) => {
                self.next();
                Ok(Expr::Float(f))
            }
            Tok::Ident(first) => {
                self.next();
                let (namespace, name) = if *self.peek() == Tok::Dot
                    && matches!(self.toks.get(self.pos + 1), Some((_, Tok::Ident(_))))
                    && matches!(self.toks.get(self.pos + 2), Some((_, Tok::LParen)))
                {
                    self.next();
                    match self.next() {
                        Tok::Ident(n) => (Some(first), n),
                        _ => return self.err("a function name"),
                    }
                } else {
                    (None, first)
                };
                if *self.peek() != Tok::LParen {
                    if namespace.is_none() {
                        match name.to_ascii_lowercase().as_str() {
                            "true" => return Ok(Expr::Bool(true)),
                            "false" => return Ok(Expr::Bool(false)),
                            "null" => return Ok(Expr::Null),
                            _ => {}
                        }
                    }
                    return self.err(&format!("'(' after the function name '{name}'"));
                }
                self.next();
                let mut args = Vec::new();
                if *self.peek() == Tok::RParen {
                    self.next();
                } else {
                    loop {
                        args.push(self.expr()?);
                        match self.next() {
                            Tok::Comma => continue,
                            Tok::RParen => break,
                            _ => {
                                self.pos = self.pos.saturating_sub(1);
                                return self.err("',' or ')' in the argument list");
                            }
                        }
                    }
                }
                Ok(Expr::Call {
                    namespace,
                    name,
                    args,
                })
            }
            _ => self.err("a function call, a string or a number"),
        }
    }
}

/// Parses the text between the brackets of an expression string.
pub fn parse(src: &str) -> Result<Expr, ParseError> {
    if src.len() > MAX_EXPR_LEN {
        return Err(ParseError {
            offset: 0,
            message: format!("expected an expression of at most {MAX_EXPR_LEN} bytes"),
        });
    }
    let toks = lex(src)?;
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
    };
    let e = p.expr()?;
    if *p.peek() != Tok::End {
        return p.err("end of expression");
    }
    Ok(e)
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Str(s) => write!(f, "'{}'", s.replace('\'', "''")),
            Expr::Int(i) => write!(f, "{i}"),
            Expr::Float(x) => {
                let s = format!("{x}");
                if s.contains('.') {
                    f.write_str(&s)
                } else {
                    write!(f, "{s}.0")
                }
            }
            Expr::Bool(b) => write!(f, "{b}"),
            Expr::Null => write!(f, "null"),
            Expr::Call {
                namespace,
                name,
                args,
            } => {
                if let Some(ns) = namespace {
                    write!(f, "{ns}.")?;
                }
                write!(f, "{name}(")?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{a}")?;
                }
                write!(f, ")")
            }
            Expr::Member(e, n) => write!(f, "{e}.{n}"),
            Expr::Index(e, i) => write!(f, "{e}[{i}]"),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn classifies_strings() {
        assert_eq!(classify("[[x]"), TemplateString::Literal("[x]"));
        assert_eq!(classify("[a()]"), TemplateString::Expr("a()"));
        assert_eq!(classify("abc"), TemplateString::Literal("abc"));
        assert_eq!(classify("[abc"), TemplateString::Literal("[abc"));
    }

    #[test]
    fn parses_calls_members_indexes() {
        let e = parse("parameters('a').b[0]['c']").unwrap();
        assert_eq!(e.to_string(), "parameters('a').b[0]['c']");
        let e = parse("ns.fn(1, -2, 'it''s')").unwrap();
        assert_eq!(
            e,
            Expr::Call {
                namespace: Some("ns".into()),
                name: "fn".into(),
                args: vec![Expr::Int(1), Expr::Int(-2), Expr::Str("it's".into())]
            }
        );
        assert_eq!(parse(" true ").unwrap(), Expr::Bool(true));
    }

    #[test]
    fn reports_errors_with_offsets() {
        let e = parse("concat('a' 'b')").unwrap_err();
        assert_eq!(e.offset, 11);
        assert!(e.message.contains("',' or ')'"), "{}", e.message);
        let e = parse("concat('a'").unwrap_err();
        assert!(e.message.contains("end of expression"), "{}", e.message);
        let e = parse("'abc").unwrap_err();
        assert_eq!(e.offset, 0);
        let e = parse("a(").unwrap_err();
        assert!(e.message.starts_with("expected a function call"));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let src = format!("{}1{}", "a(".repeat(100_000), ")".repeat(100_000));
        let e = parse(&src).unwrap_err();
        assert!(e.message.contains("levels of nesting"));
    }
}
