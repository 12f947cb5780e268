//! The text format: rustc-style diagnostics.

use std::fmt::Write as _;

use amlguard_rules::{Confidence, Finding, Severity};

use crate::place::{self, Place, Secrets};
use crate::{Counts, ScanInput, note_level, ordered};

/// The most lines of a multi-line value shown; a longer value shows its first line.
const MAX_FRAME_LINES: usize = 3;
/// Characters of one source line shown; longer lines are cut around the span.
const MAX_LINE_CHARS: usize = 120;
/// Characters kept before the span when a long line is cut.
const CONTEXT_CHARS: usize = 24;
/// Display width of a tab.
const TAB_WIDTH: usize = 4;

const ABSENT: &str = "(the property is absent here; Azure's default applies)";
const INEXACT: &str = "(the exact place was not found; this is the nearest enclosing value)";
const HIDDEN: &str = "(not shown: this line holds a secret value)";

/// Renders every finding rustc-style, then the notes of each template, then a
/// summary line. Suppressed findings are not shown. With `color`, severities,
/// gutters and underlines are coloured with ANSI escapes.
pub fn text(inputs: &[ScanInput], color: bool) -> String {
    let paint = Paint(color);
    let mut out = String::new();
    let mut counts = Counts::default();
    for input in inputs {
        let secrets = Secrets::of(&input.model);
        for f in ordered(&input.model, &input.findings) {
            counts.add(f.severity);
            finding(&mut out, input, &secrets, f, paint);
            out.push('\n');
        }
    }
    let mut noted = false;
    for input in inputs {
        for n in &input.notes {
            let level = note_level(&n.level);
            let _ = writeln!(
                out,
                "{}: {}",
                paint.paint(level_style(level), level),
                paint.paint(BOLD, &clean(&n.message))
            );
            let at = n.location.as_deref().unwrap_or(&input.template);
            let _ = writeln!(out, " {} {}", paint.paint(GUTTER, "-->"), clean(at));
            noted = true;
        }
    }
    if noted {
        out.push('\n');
    }
    out.push_str(&summary(&counts, inputs.len()));
    out.push('\n');
    out
}

/// `3 findings (1 critical, 2 high) in 2 templates`.
fn summary(counts: &Counts, templates: usize) -> String {
    let total = counts.total();
    let templates = plural(templates, "template", "templates");
    if total == 0 {
        return format!("no findings in {templates}");
    }
    let parts: Vec<String> = counts
        .by_severity()
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| format!("{n} {}", s.as_str()))
        .collect();
    format!(
        "{} ({}) in {templates}",
        plural(total, "finding", "findings"),
        parts.join(", ")
    )
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

/// One finding: header, location, code frame, message, details.
fn finding(out: &mut String, input: &ScanInput, secrets: &Secrets, f: &Finding, paint: Paint) {
    let style = severity_style(f.severity);
    let place = place::resolve(&input.model, &f.at, f.absent);
    let frame = Frame::build(&place, secrets);
    let width = frame.as_ref().map_or(1, |fr| digits(fr.last_line).max(1));
    let pad = " ".repeat(width);
    let header = format!("{}[{}]", f.severity.as_str(), f.rule.display_code());
    let _ = writeln!(
        out,
        "{}{}",
        paint.paint(style, &header),
        paint.paint(BOLD, &format!(": {}", clean(f.rule.title)))
    );
    let _ = writeln!(
        out,
        "{pad}{} {}",
        paint.paint(GUTTER, "-->"),
        location(&place)
    );
    let bar = paint.paint(GUTTER, "|");
    let label = if f.absent {
        Some(ABSENT)
    } else if place.doc.is_some() && !place.exact {
        Some(INEXACT)
    } else {
        None
    };
    let mut label_shown = false;
    if let Some(frame) = &frame {
        let _ = writeln!(out, "{pad} {bar}");
        for row in &frame.rows {
            match row {
                Row::Source { line, text, carets } => {
                    let number = paint.paint(GUTTER, &format!("{line:>width$}"));
                    let _ = writeln!(out, "{number} {bar} {text}");
                    if let Some((at, len)) = carets {
                        let marks = paint.paint(style, &"^".repeat(*len));
                        let _ = write!(out, "{pad} {bar} {}{marks}", " ".repeat(*at));
                        if let Some(l) = label {
                            let _ = write!(out, " {}", paint.paint(style, l));
                            label_shown = true;
                        }
                        out.push('\n');
                    }
                }
                Row::Hidden { line } => {
                    let number = paint.paint(GUTTER, &format!("{line:>width$}"));
                    let _ = writeln!(out, "{number} {bar} {HIDDEN}");
                }
                Row::Elided => {
                    let _ = writeln!(out, "{} {bar}", paint.paint(GUTTER, &".".repeat(width)));
                }
            }
        }
        let _ = writeln!(out, "{pad} {bar}");
    }
    let eq = paint.paint(GUTTER, "=");
    if let (Some(l), false) = (label, label_shown) {
        let _ = writeln!(out, "{pad} {eq} {l}");
    }
    let _ = writeln!(out, "{pad} {eq} {}", clean(&f.message));
    if f.confidence != Confidence::High || f.deciding_input.is_some() {
        let _ = write!(out, "{pad} {eq} confidence: {}", f.confidence.as_str());
        if let Some(input) = &f.deciding_input {
            let _ = write!(out, "; decided by {}", clean(input));
        }
        out.push('\n');
    }
    if !f.flow.is_empty() {
        let _ = writeln!(out, "{pad} {eq} path:");
        for (k, step) in f.flow.iter().enumerate() {
            match &step.at {
                Some(p) => {
                    let at = place::resolve(&input.model, p, false);
                    let _ = writeln!(
                        out,
                        "{pad}   {}. {} ({})",
                        k + 1,
                        clean(&step.message),
                        location(&at)
                    );
                }
                None => {
                    let _ = writeln!(out, "{pad}   {}. {}", k + 1, clean(&step.message));
                }
            }
        }
    }
    for r in &f.related {
        let at = place::resolve(&input.model, &r.at, false);
        let _ = writeln!(
            out,
            "{pad}{} {}: {}",
            paint.paint(GUTTER, "-->"),
            location(&at),
            clean(&r.message)
        );
    }
    if !f.fix.is_empty() {
        let _ = writeln!(out, "{pad} {eq} fix: {}", clean(&f.fix));
    }
}

/// `file:line:col`, or the file alone when it cannot be resolved.
fn location(p: &Place<'_>) -> String {
    match p.start {
        Some(s) => format!("{}:{}:{}", clean(p.file), s.line, s.column),
        None => clean(p.file),
    }
}

/// The source lines shown for a location.
struct Frame {
    rows: Vec<Row>,
    last_line: usize,
}

enum Row {
    /// A source line; `carets` is (display column, width) of the underline.
    Source {
        line: usize,
        text: String,
        carets: Option<(usize, usize)>,
    },
    /// A line that holds a secret.
    Hidden { line: usize },
    /// Lines left out.
    Elided,
}

impl Frame {
    fn build(place: &Place<'_>, secrets: &Secrets) -> Option<Frame> {
        let doc = place.doc?;
        let span = place.span?;
        let first = place.start?.line;
        let end_line = place.end.map_or(first, |e| e.line).max(first);
        // A short value is shown whole; of a long one, only its first line.
        let last = if end_line < first.saturating_add(MAX_FRAME_LINES) {
            end_line
        } else {
            first
        };
        let mut rows = Vec::new();
        for line in first..=last {
            let Some(text) = doc.line_text(line) else {
                break;
            };
            let Some(start) = doc.line_start(line) else {
                break;
            };
            let end = start + text.len();
            if secrets.overlaps(&doc.path, start, end) {
                rows.push(Row::Hidden { line });
                continue;
            }
            let highlight = (line == first).then(|| {
                (
                    span.start.saturating_sub(start),
                    span.end.min(end).saturating_sub(start),
                )
            });
            let (shown, carets) = show_line(text, highlight);
            rows.push(Row::Source {
                line,
                text: shown,
                carets,
            });
        }
        if rows.is_empty() {
            return None;
        }
        if end_line > last {
            rows.push(Row::Elided);
        }
        Some(Frame {
            rows,
            last_line: last,
        })
    }
}

/// A source line as shown (tabs expanded, control characters replaced, long
/// lines cut around the highlight), and where the underline goes. `highlight`
/// is a byte range within `line`.
fn show_line(line: &str, highlight: Option<(usize, usize)>) -> (String, Option<(usize, usize)>) {
    let chars: Vec<(usize, char)> = line.trim_end().char_indices().collect();
    let n = chars.len();
    let char_at = |byte: usize| chars.partition_point(|(i, _)| *i < byte);
    let (hs, he) = highlight.map_or((0, 0), |(s, e)| (char_at(s), char_at(e).max(char_at(s))));
    let (ws, we) = if n <= MAX_LINE_CHARS {
        (0, n)
    } else {
        let ws = hs.min(n).saturating_sub(CONTEXT_CHARS);
        (ws, (ws + MAX_LINE_CHARS).min(n))
    };
    let mut text = String::new();
    if ws > 0 {
        text.push_str("...");
    }
    let prefix = text.chars().count();
    let mut caret_at = prefix;
    let mut caret_len = 0;
    for (k, (_, c)) in chars.iter().enumerate().take(we).skip(ws) {
        let shown = shown_char(*c);
        let w = shown.chars().count();
        if k < hs {
            caret_at += w;
        } else if k < he {
            caret_len += w;
        }
        text.push_str(&shown);
    }
    if we < n {
        text.push_str("...");
    }
    let carets = highlight.map(|_| (caret_at, caret_len.max(1)));
    (text, carets)
}

/// A character of source text as shown: tabs as spaces, control and
/// bidirectional-override characters (which could restyle a terminal or
/// reorder what is shown) as U+FFFD.
fn shown_char(c: char) -> String {
    match c {
        '\t' => " ".repeat(TAB_WIDTH),
        c if unsafe_char(c) => '\u{FFFD}'.to_string(),
        c => c.to_string(),
    }
}

fn unsafe_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Text from the inputs (names, messages, paths) made safe for one terminal line.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => ' ',
            c if unsafe_char(c) => '\u{FFFD}',
            c => c,
        })
        .collect()
}

fn digits(n: usize) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

const BOLD: &str = "1";
const GUTTER: &str = "1;34";

fn severity_style(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "1;35",
        Severity::High => "1;31",
        Severity::Medium => "1;33",
        Severity::Low => "1;36",
        Severity::Info => "1;32",
    }
}

fn level_style(level: &str) -> &'static str {
    match level {
        "error" => "1;31",
        "warning" => "1;33",
        _ => "1;36",
    }
}

/// ANSI colouring, or none.
#[derive(Clone, Copy)]
struct Paint(bool);

impl Paint {
    fn paint(self, style: &str, s: &str) -> String {
        if self.0 {
            format!("\u{1b}[{style}m{s}\u{1b}[0m")
        } else {
            s.to_string()
        }
    }
}
