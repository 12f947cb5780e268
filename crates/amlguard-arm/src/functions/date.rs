//! Date functions: `dateTimeAdd`, `dateTimeFromEpoch`, `dateTimeToEpoch`, `utcNow`.
//!
//! Times are UTC instants counted in 100-nanosecond ticks since
//! 0001-01-01T00:00:00Z, the range and resolution of .NET's `DateTime`, which
//! Azure uses. Calendar conversion is the proleptic Gregorian calendar
//! (days-from-civil arithmetic).
//!
//! Behaviour, as Microsoft's reference documents it:
//! * durations are ISO 8601 (`P1Y2M3DT4H5M6.5S`, `-P9D`); as in .NET's
//!   `XmlConvert.ToTimeSpan`, a year is 365 days and a month 30 days
//!   (`dateTimeAdd('2024-01-01 00:00:00Z', 'P1Y')` is `2024-12-31T00:00:00Z`);
//! * without a format, `dateTimeAdd` returns the ISO 8601 form
//!   `yyyy-MM-ddTHH:mm:ss[.fffffff]Z` (the reference's examples), and
//!   `dateTimeFromEpoch` returns `yyyy-MM-ddTHH:mm:ssZ`;
//! * formats are .NET date and time format strings, standard (`d`, `o`, `s`,
//!   `u`, ...) or custom (`yyyy-MM-dd`, `HH:mm`, ...), with the invariant culture
//!   (`utcNow('d')` gives `03/05/2019`);
//! * `utcNow()` is the deployment time: never known offline.

use crate::eval::{Cx, FnDef, Result};
use crate::value::Value;

pub const DEFS: &[FnDef] = &[
    FnDef {
        name: "dateTimeAdd",
        min_args: 2,
        max_args: 3,
        propagate_unknown: true,
        f: date_time_add,
    },
    FnDef {
        name: "dateTimeFromEpoch",
        min_args: 1,
        max_args: 1,
        propagate_unknown: true,
        f: date_time_from_epoch,
    },
    FnDef {
        name: "dateTimeToEpoch",
        min_args: 1,
        max_args: 1,
        propagate_unknown: true,
        f: date_time_to_epoch,
    },
    FnDef {
        name: "utcNow",
        min_args: 0,
        max_args: 1,
        propagate_unknown: true,
        f: utc_now,
    },
];

fn date_time_add(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let base_text = cx.str_arg(&args, 0)?;
    let duration_text = cx.str_arg(&args, 1)?;
    let format = if args.len() > 2 {
        Some(cx.str_arg(&args, 2)?)
    } else {
        None
    };
    let base = DateTime::parse(base_text).ok_or_else(|| {
        cx.error(format!(
            "the base value '{base_text}' is not a valid ISO 8601 date and time"
        ))
    })?;
    let duration = parse_duration(duration_text).ok_or_else(|| {
        cx.error(format!(
            "the duration '{duration_text}' is not a valid ISO 8601 duration (such as 'P1D', 'PT1H' or '-P1Y2M')"
        ))
    })?;
    let result = base
        .add_ticks(duration)
        .ok_or_else(|| cx.error("the result is outside the range of dates (years 1 to 9999)"))?;
    let text = match format {
        Some(f) => result.format(f).map_err(|m| cx.error(m))?,
        None => result.iso(),
    };
    Ok(Value::string(text))
}

fn date_time_from_epoch(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let secs = cx.int_arg(&args, 0)?;
    let dt = DateTime::from_unix_seconds(secs).ok_or_else(|| {
        cx.error(format!(
            "the epoch time {secs} is outside the range of dates (years 1 to 9999)"
        ))
    })?;
    Ok(Value::string(dt.iso()))
}

fn date_time_to_epoch(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    let text = cx.str_arg(&args, 0)?;
    let dt = DateTime::parse(text).ok_or_else(|| {
        cx.error(format!(
            "the value '{text}' is not a valid ISO 8601 date and time"
        ))
    })?;
    Ok(Value::int(dt.unix_seconds()))
}

fn utc_now(cx: &mut Cx<'_, '_>, args: Vec<Value>) -> Result<Value> {
    if !args.is_empty() {
        // Only checked for its type: the time itself is never known offline.
        cx.str_arg(&args, 0)?;
    }
    Ok(Value::unknown("utcNow() is the deployment time"))
}

const TICKS_PER_SECOND: i64 = 10_000_000;
const TICKS_PER_MINUTE: i64 = 60 * TICKS_PER_SECOND;
const TICKS_PER_HOUR: i64 = 60 * TICKS_PER_MINUTE;
const TICKS_PER_DAY: i64 = 24 * TICKS_PER_HOUR;
/// Days from 0001-01-01 to 1970-01-01.
const DAYS_TO_UNIX_EPOCH: i64 = 719_162;
/// Ticks of 9999-12-31T23:59:59.9999999 (.NET's `DateTime.MaxValue`).
const MAX_TICKS: i64 = 3_652_059 * TICKS_PER_DAY - 1;

/// A UTC instant: 100-nanosecond ticks since 0001-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DateTime {
    ticks: i64,
}

/// The calendar fields of a [`DateTime`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    /// Fraction of the second in ticks (0 to 9,999,999).
    pub fraction: u32,
    /// 0 = Sunday ... 6 = Saturday.
    pub weekday: u32,
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let year_of_era = y - era * 400;
    // Months counted from March, so that the leap day ends the year.
    let m = i64::from((month + 9) % 12);
    let day_of_year = (153 * m + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian date of a day counted from 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let m = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * m + 2) / 5 + 1;
    let month = if m < 10 { m + 3 } else { m - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

impl DateTime {
    /// The instant of a calendar date and time (UTC), if it is valid and in range.
    pub fn from_civil(
        year: i64,
        month: u32,
        day: u32,
        hour: u32,
        minute: u32,
        second: u32,
        fraction: u32,
    ) -> Option<DateTime> {
        if !(1..=9999).contains(&year)
            || !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 59
            || i64::from(fraction) >= TICKS_PER_SECOND
        {
            return None;
        }
        let days = days_from_civil(year, month, day) + DAYS_TO_UNIX_EPOCH;
        let ticks = days * TICKS_PER_DAY
            + i64::from(hour) * TICKS_PER_HOUR
            + i64::from(minute) * TICKS_PER_MINUTE
            + i64::from(second) * TICKS_PER_SECOND
            + i64::from(fraction);
        DateTime::from_ticks(ticks)
    }

    /// The instant `ticks` after 0001-01-01T00:00:00Z, if in range.
    pub fn from_ticks(ticks: i64) -> Option<DateTime> {
        (0..=MAX_TICKS)
            .contains(&ticks)
            .then_some(DateTime { ticks })
    }

    pub fn ticks(self) -> i64 {
        self.ticks
    }

    /// The instant `secs` seconds after 1970-01-01T00:00:00Z, if in range.
    pub fn from_unix_seconds(secs: i64) -> Option<DateTime> {
        let ticks = secs
            .checked_add(DAYS_TO_UNIX_EPOCH * 86_400)?
            .checked_mul(TICKS_PER_SECOND)?;
        DateTime::from_ticks(ticks)
    }

    /// Whole seconds since 1970-01-01T00:00:00Z (rounded down).
    pub fn unix_seconds(self) -> i64 {
        self.ticks.div_euclid(TICKS_PER_SECOND) - DAYS_TO_UNIX_EPOCH * 86_400
    }

    /// Adds (or, when negative, subtracts) ticks; `None` outside the range.
    pub fn add_ticks(self, ticks: i64) -> Option<DateTime> {
        DateTime::from_ticks(self.ticks.checked_add(ticks)?)
    }

    pub fn civil(self) -> Civil {
        let days = self.ticks.div_euclid(TICKS_PER_DAY);
        let rest = self.ticks.rem_euclid(TICKS_PER_DAY);
        let (year, month, day) = civil_from_days(days - DAYS_TO_UNIX_EPOCH);
        let part = |v: i64| u32::try_from(v).unwrap_or(0);
        Civil {
            year,
            month,
            day,
            hour: part(rest / TICKS_PER_HOUR),
            minute: part(rest % TICKS_PER_HOUR / TICKS_PER_MINUTE),
            second: part(rest % TICKS_PER_MINUTE / TICKS_PER_SECOND),
            fraction: part(rest % TICKS_PER_SECOND),
            // 0001-01-01 was a Monday.
            weekday: part((days + 1).rem_euclid(7)),
        }
    }

    /// `yyyy-MM-ddTHH:mm:ss[.fffffff]Z`, the fraction without trailing zeros
    /// (how Azure writes a date and time value).
    pub fn iso(self) -> String {
        let c = self.civil();
        let mut s = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            c.year, c.month, c.day, c.hour, c.minute, c.second
        );
        if c.fraction != 0 {
            let frac = format!("{:07}", c.fraction);
            s.push('.');
            s.push_str(frac.trim_end_matches('0'));
        }
        s.push('Z');
        s
    }

    /// Parses an ISO 8601 date and time: `2020-04-07T14:53:14Z`,
    /// `2020-04-07 14:53:14Z` (`u`), `2020-04-07T14:53:14.1234567+02:00`,
    /// `20200407T145314Z` (`utcNow()`'s basic form), `2020-04-07`; also the
    /// invariant culture's `04/07/2020 14:53:14`. A time without a zone is UTC;
    /// one with an offset is converted to UTC.
    pub fn parse(text: &str) -> Option<DateTime> {
        let mut c = Cursor::new(text.trim());
        let us = c.peek_at(2) == Some(b'/') || c.peek_at(1) == Some(b'/');
        let (year, month, day) = if us {
            let month = c.digits_between(1, 2)?;
            c.expect(b'/')?;
            let day = c.digits_between(1, 2)?;
            c.expect(b'/')?;
            let year = c.digits(4)?;
            (year, month, day)
        } else {
            let year = c.digits(4)?;
            if c.eat(b'-') {
                let month = c.digits(2)?;
                c.expect(b'-')?;
                (year, month, c.digits(2)?)
            } else {
                let month = c.digits(2)?;
                (year, month, c.digits(2)?)
            }
        };
        let (mut hour, mut minute, mut second, mut fraction) = (0, 0, 0, 0);
        let mut offset_minutes: i64 = 0;
        if !c.at_end() {
            match c.next()? {
                b'T' | b't' | b' ' => {}
                _ => return None,
            }
            hour = if us {
                c.digits_between(1, 2)?
            } else {
                c.digits(2)?
            };
            if c.eat(b':') {
                minute = c.digits(2)?;
                if c.eat(b':') {
                    second = c.digits(2)?;
                }
            } else if c.peek_digit() {
                minute = c.digits(2)?;
                if c.peek_digit() {
                    second = c.digits(2)?;
                }
            }
            if c.eat(b'.') || c.eat(b',') {
                let mut n = 0;
                let mut scale = TICKS_PER_SECOND;
                while let Some(d) = c.digit() {
                    n += 1;
                    if scale > 1 {
                        scale /= 10;
                        fraction += u32::from(d) * u32::try_from(scale).unwrap_or(0);
                    }
                }
                if n == 0 {
                    return None;
                }
            }
            // An optional space before an AM/PM designator or the zone is not ISO; only the zone follows.
            match c.peek() {
                None => {}
                Some(b'Z' | b'z') => {
                    c.next();
                }
                Some(sign @ (b'+' | b'-')) => {
                    c.next();
                    let h = i64::from(c.digits(2)?);
                    let m = if c.eat(b':') || c.peek_digit() {
                        i64::from(c.digits(2)?)
                    } else {
                        0
                    };
                    if h > 14 || m > 59 {
                        return None;
                    }
                    offset_minutes = (h * 60 + m) * if sign == b'-' { -1 } else { 1 };
                }
                Some(b' ') if us => {
                    // `MM/dd/yyyy h:mm:ss AM`
                    c.next();
                    let pm = match (
                        c.next()?.to_ascii_uppercase(),
                        c.next()?.to_ascii_uppercase(),
                    ) {
                        (b'A', b'M') => false,
                        (b'P', b'M') => true,
                        _ => return None,
                    };
                    if !(1..=12).contains(&hour) {
                        return None;
                    }
                    hour = (hour % 12) + if pm { 12 } else { 0 };
                }
                Some(_) => return None,
            }
        }
        if !c.at_end() {
            return None;
        }
        let local =
            DateTime::from_civil(i64::from(year), month, day, hour, minute, second, fraction)?;
        local.add_ticks(-offset_minutes * TICKS_PER_MINUTE)
    }

    /// Formats with a .NET standard or custom date and time format string
    /// (invariant culture). The error message says what is wrong.
    pub fn format(self, format: &str) -> std::result::Result<String, String> {
        let mut chars = format.chars();
        let pattern = match (chars.next(), chars.next()) {
            (None, _) => return Ok(self.iso()),
            (Some(c), None) => match standard_pattern(c) {
                Some(p) => p,
                None => {
                    return Err(format!(
                        "'{format}' is not a valid date and time format: '{c}' is not a standard format specifier"
                    ));
                }
            },
            _ => format,
        };
        format_custom(&self.civil(), pattern)
    }
}

/// The custom pattern of a standard format specifier, in the invariant culture
/// (for a UTC value).
fn standard_pattern(c: char) -> Option<&'static str> {
    Some(match c {
        'd' => "MM/dd/yyyy",
        'D' => "dddd, dd MMMM yyyy",
        'f' => "dddd, dd MMMM yyyy HH:mm",
        'F' | 'U' => "dddd, dd MMMM yyyy HH:mm:ss",
        'g' => "MM/dd/yyyy HH:mm",
        'G' => "MM/dd/yyyy HH:mm:ss",
        'M' | 'm' => "MMMM dd",
        'O' | 'o' => "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffffK",
        'R' | 'r' => "ddd, dd MMM yyyy HH':'mm':'ss 'GMT'",
        's' => "yyyy'-'MM'-'dd'T'HH':'mm':'ss",
        't' => "HH:mm",
        'T' => "HH:mm:ss",
        'u' => "yyyy'-'MM'-'dd HH':'mm':'ss'Z'",
        'Y' | 'y' => "yyyy MMMM",
        _ => return None,
    })
}

const DAY_NAMES: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn abbreviation(name: &str) -> &str {
    name.get(..3).unwrap_or(name)
}

/// Pushes `value` with at least `width` digits.
fn push_padded(out: &mut String, value: i64, width: usize) {
    out.push_str(&format!("{value:0width$}"));
}

/// Formats with a .NET custom date and time format string.
fn format_custom(c: &Civil, pattern: &str) -> std::result::Result<String, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut i = 0;
    while let Some(&ch) = chars.get(i) {
        // Length of the run of the same letter.
        let run = chars
            .get(i..)
            .map_or(0, |rest| rest.iter().take_while(|&&x| x == ch).count());
        match ch {
            'd' => {
                match run {
                    1 => push_padded(&mut out, i64::from(c.day), 1),
                    2 => push_padded(&mut out, i64::from(c.day), 2),
                    3 => out.push_str(abbreviation(day_name(c.weekday))),
                    _ => out.push_str(day_name(c.weekday)),
                }
                i += run;
            }
            'f' | 'F' => {
                if run > 7 {
                    return Err(format!(
                        "'{pattern}' is not a valid date and time format: at most 7 '{ch}' in a row"
                    ));
                }
                let digits = format!("{:07}", c.fraction);
                let mut part = digits.get(..run).unwrap_or("").to_string();
                if ch == 'F' {
                    while part.ends_with('0') {
                        part.pop();
                    }
                    if part.is_empty() && out.ends_with('.') {
                        out.pop();
                    }
                }
                out.push_str(&part);
                i += run;
            }
            'g' => {
                out.push_str("A.D.");
                i += run;
            }
            'h' => {
                let h12 = if c.hour.is_multiple_of(12) {
                    12
                } else {
                    c.hour % 12
                };
                push_padded(&mut out, i64::from(h12), run.min(2));
                i += run;
            }
            'H' => {
                push_padded(&mut out, i64::from(c.hour), run.min(2));
                i += run;
            }
            'm' => {
                push_padded(&mut out, i64::from(c.minute), run.min(2));
                i += run;
            }
            's' => {
                push_padded(&mut out, i64::from(c.second), run.min(2));
                i += run;
            }
            'M' => {
                let name = month_name(c.month);
                match run {
                    1 => push_padded(&mut out, i64::from(c.month), 1),
                    2 => push_padded(&mut out, i64::from(c.month), 2),
                    3 => out.push_str(abbreviation(name)),
                    _ => out.push_str(name),
                }
                i += run;
            }
            't' => {
                let designator = if c.hour < 12 { "AM" } else { "PM" };
                if run == 1 {
                    out.push_str(designator.get(..1).unwrap_or(""));
                } else {
                    out.push_str(designator);
                }
                i += run;
            }
            'y' => {
                if run <= 2 {
                    push_padded(&mut out, c.year % 100, run);
                } else {
                    push_padded(&mut out, c.year, run);
                }
                i += run;
            }
            'K' => {
                out.push('Z');
                i += run;
            }
            'z' => {
                out.push_str(match run {
                    1 => "+0",
                    2 => "+00",
                    _ => "+00:00",
                });
                i += run;
            }
            ':' | '/' => {
                out.push(ch);
                i += 1;
            }
            '\'' | '"' => {
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(format!(
                                "'{pattern}' is not a valid date and time format: a quoted text is not closed"
                            ));
                        }
                        Some(&q) if q == ch => {
                            i += 1;
                            break;
                        }
                        Some('\\') => {
                            let Some(&next) = chars.get(i + 1) else {
                                return Err(format!(
                                    "'{pattern}' is not a valid date and time format: '\\' at the end"
                                ));
                            };
                            out.push(next);
                            i += 2;
                        }
                        Some(&other) => {
                            out.push(other);
                            i += 1;
                        }
                    }
                }
            }
            '%' => {
                // `%d`: a single custom specifier.
                match chars.get(i + 1) {
                    Some('%') | None => {
                        return Err(format!(
                            "'{pattern}' is not a valid date and time format: '%' must be followed by a format specifier"
                        ));
                    }
                    Some(&next) => {
                        let single: String = std::iter::once(next).collect();
                        out.push_str(&format_custom(c, &single)?);
                        i += 2;
                    }
                }
            }
            '\\' => {
                let Some(&next) = chars.get(i + 1) else {
                    return Err(format!(
                        "'{pattern}' is not a valid date and time format: '\\' at the end"
                    ));
                };
                out.push(next);
                i += 2;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    Ok(out)
}

fn day_name(weekday: u32) -> &'static str {
    DAY_NAMES
        .get(usize::try_from(weekday).unwrap_or(0))
        .copied()
        .unwrap_or("Sunday")
}

fn month_name(month: u32) -> &'static str {
    MONTH_NAMES
        .get(usize::try_from(month).unwrap_or(1).saturating_sub(1))
        .copied()
        .unwrap_or("January")
}

/// Parses an ISO 8601 duration as .NET's `XmlConvert.ToTimeSpan` does:
/// `[-]P[nY][nM][nD][T[nH][nM][n[.f]S]]`, a year being 365 days and a month
/// 30 days. Returns ticks; `None` when invalid or too large.
pub fn parse_duration(text: &str) -> Option<i64> {
    let mut c = Cursor::new(text.trim());
    let negative = c.eat(b'-');
    if !c.eat(b'P') {
        return None;
    }
    let mut total: i64 = 0;
    let mut any = false;
    let mut in_time = false;
    // Units in the order they must appear; `rank` enforces the order.
    let mut rank = 0;
    while !c.at_end() {
        if c.eat(b'T') {
            if in_time {
                return None;
            }
            in_time = true;
            // `T` must be followed by at least one time component.
            if c.at_end() {
                return None;
            }
            continue;
        }
        let mut n: i64 = 0;
        let mut digits = 0;
        while let Some(d) = c.digit() {
            n = n.checked_mul(10)?.checked_add(i64::from(d))?;
            digits += 1;
        }
        if digits == 0 {
            return None;
        }
        let mut fraction: i64 = 0;
        let mut has_fraction = false;
        if c.eat(b'.') {
            has_fraction = true;
            let mut scale = TICKS_PER_SECOND;
            let mut fd = 0;
            while let Some(d) = c.digit() {
                fd += 1;
                if scale > 1 {
                    scale /= 10;
                    fraction += i64::from(d) * scale;
                }
            }
            if fd == 0 {
                return None;
            }
        }
        let unit = c.next()?;
        let (unit_rank, ticks_per_unit) = match (in_time, unit) {
            (false, b'Y') => (1, 365 * TICKS_PER_DAY),
            (false, b'M') => (2, 30 * TICKS_PER_DAY),
            (false, b'D') => (3, TICKS_PER_DAY),
            (true, b'H') => (4, TICKS_PER_HOUR),
            (true, b'M') => (5, TICKS_PER_MINUTE),
            (true, b'S') => (6, TICKS_PER_SECOND),
            _ => return None,
        };
        if unit_rank <= rank || (has_fraction && unit != b'S') {
            return None;
        }
        rank = unit_rank;
        any = true;
        total = total
            .checked_add(n.checked_mul(ticks_per_unit)?)?
            .checked_add(fraction)?;
    }
    if !any {
        return None;
    }
    Some(if negative { -total } else { total })
}

/// A byte cursor for the small parsers of this module.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Cursor<'a> {
        Cursor {
            bytes: text.as_bytes(),
            pos: 0,
        }
    }
    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }
    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.pos + ahead).copied()
    }
    fn peek_digit(&self) -> bool {
        self.peek().is_some_and(|b| b.is_ascii_digit())
    }
    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }
    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, b: u8) -> Option<()> {
        self.eat(b).then_some(())
    }
    fn digit(&mut self) -> Option<u8> {
        let b = self.peek().filter(u8::is_ascii_digit)?;
        self.pos += 1;
        Some(b - b'0')
    }
    /// Exactly `n` digits.
    fn digits(&mut self, n: usize) -> Option<u32> {
        self.digits_between(n, n)
    }
    /// Between `min` and `max` digits (as many as there are, up to `max`).
    fn digits_between(&mut self, min: usize, max: usize) -> Option<u32> {
        let mut v: u32 = 0;
        let mut count = 0;
        while count < max {
            match self.digit() {
                Some(d) => {
                    v = v * 10 + u32::from(d);
                    count += 1;
                }
                None => break,
            }
        }
        (count >= min).then_some(v)
    }
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

    fn eval(src: &str) -> Result<Value> {
        eval_env(&TestEnv::new(), src)
    }

    /// Evaluates and returns the JSON text of the result.
    fn json(src: &str) -> String {
        match eval(src) {
            Ok(v) => v.to_json_text(),
            Err(e) => panic!("{src}: {e}"),
        }
    }

    fn err(src: &str) -> String {
        match eval(src) {
            Ok(v) => panic!("{src}: expected an error, got {v}"),
            Err(e) => e.message,
        }
    }

    fn is_unknown(src: &str) -> bool {
        eval(src).unwrap().is_unknown()
    }

    #[test]
    fn date_time_add_reference_remarks() {
        // The reference's remarks: a year is 365 days, a month 30 days.
        assert_eq!(
            json("dateTimeAdd('2023-01-01 00:00:00Z', 'P1Y')"),
            "\"2024-01-01T00:00:00Z\""
        );
        assert_eq!(
            json("dateTimeAdd('2024-01-01 00:00:00Z', 'P1Y')"),
            "\"2024-12-31T00:00:00Z\""
        );
        assert_eq!(
            json("dateTimeAdd('2023-02-01 00:00:00Z', 'P1M')"),
            "\"2023-03-03T00:00:00Z\""
        );
        assert_eq!(
            json("dateTimeAdd('2024-02-01 00:00:00Z', 'P1M')"),
            "\"2024-03-02T00:00:00Z\""
        );
    }

    #[test]
    fn date_time_add_reference_example() {
        // Base time 2020-04-07 14:53:14Z (utcNow('u')); the reference shows
        // 4/7/2023 2:53:14 PM, 3/29/2020 2:53:14 PM, 4/7/2020 3:53:14 PM.
        let base = "'2020-04-07 14:53:14Z'";
        assert_eq!(
            json(&format!("dateTimeAdd({base}, 'P3Y')")),
            "\"2023-04-07T14:53:14Z\""
        );
        assert_eq!(
            json(&format!("dateTimeAdd({base}, '-P9D')")),
            "\"2020-03-29T14:53:14Z\""
        );
        assert_eq!(
            json(&format!("dateTimeAdd({base}, 'PT1H')")),
            "\"2020-04-07T15:53:14Z\""
        );
        // With the en-US general format the reference's table shows:
        assert_eq!(
            json(&format!(
                "dateTimeAdd({base}, 'P3Y', 'M/d/yyyy h:mm:ss tt')"
            )),
            "\"4/7/2023 2:53:14 PM\""
        );
    }

    #[test]
    fn date_time_add_formats() {
        let base = "'2020-04-07T14:53:14Z'";
        let f = |fmt: &str| json(&format!("dateTimeAdd({base}, 'PT0S', '{fmt}')"));
        assert_eq!(f("yyyy-MM-dd"), "\"2020-04-07\"");
        assert_eq!(f("u"), "\"2020-04-07 14:53:14Z\"");
        assert_eq!(f("s"), "\"2020-04-07T14:53:14\"");
        assert_eq!(f("o"), "\"2020-04-07T14:53:14.0000000Z\"");
        assert_eq!(f("d"), "\"04/07/2020\"");
        assert_eq!(f("D"), "\"Tuesday, 07 April 2020\"");
        assert_eq!(f("R"), "\"Tue, 07 Apr 2020 14:53:14 GMT\"");
        assert_eq!(f("t"), "\"14:53\"");
        assert_eq!(f("T"), "\"14:53:14\"");
        assert_eq!(f("g"), "\"04/07/2020 14:53\"");
        assert_eq!(f("G"), "\"04/07/2020 14:53:14\"");
        assert_eq!(f("M"), "\"April 07\"");
        assert_eq!(f("y"), "\"2020 April\"");
        assert_eq!(f("yyyyMMddTHHmmssZ"), "\"20200407T145314Z\"");
        assert_eq!(f("M d"), "\"4 7\"");
        assert_eq!(f("yyyyMMdd_hhmmss"), "\"20200407_025314\"");
        assert_eq!(f("ddd MMM yy h:m:s t"), "\"Tue Apr 20 2:53:14 P\"");
        assert_eq!(f("yyyy-MM-ddTHH:mm:ss.FFFK"), "\"2020-04-07T14:53:14Z\"");
        assert_eq!(f("%d"), "\"7\"");
        assert_eq!(f("\\d \"at\" HH"), "\"d at 14\"");
        assert_eq!(f("dd ''MMM''"), "\"07 MMM\"");
        assert!(err(&format!("dateTimeAdd({base}, 'PT0S', 'Q')")).contains("standard format"));
        assert!(err(&format!("dateTimeAdd({base}, 'PT0S', 'ffffffff')")).contains("at most 7"));
    }

    #[test]
    fn date_time_add_fractions_and_zones() {
        assert_eq!(
            json("dateTimeAdd('2020-04-07T14:53:14.5+02:00', 'PT0.25S')"),
            "\"2020-04-07T12:53:14.75Z\""
        );
        assert_eq!(
            json("dateTimeAdd('2020-04-07T14:53:14-0130', 'PT1M')"),
            "\"2020-04-07T16:24:14Z\""
        );
        assert_eq!(
            json("dateTimeAdd('20190305T175318Z', 'P1Y2M3DT4H5M6S')"),
            "\"2020-05-06T21:58:24Z\""
        );
        assert_eq!(
            json("dateTimeAdd('2020-02-28', 'P1D')"),
            "\"2020-02-29T00:00:00Z\""
        );
        assert_eq!(
            json("dateTimeAdd('04/07/2020 2:53:14 PM', 'PT1H')"),
            "\"2020-04-07T15:53:14Z\""
        );
    }

    #[test]
    fn date_time_add_errors() {
        assert!(err("dateTimeAdd('not a date', 'P1D')").contains("not a valid ISO 8601 date"));
        assert!(err("dateTimeAdd('2020-02-30T00:00:00Z', 'P1D')").contains("not a valid"));
        assert!(err("dateTimeAdd('2020-01-01', '1D')").contains("not a valid ISO 8601 duration"));
        assert!(err("dateTimeAdd('2020-01-01', 'P')").contains("duration"));
        assert!(err("dateTimeAdd('2020-01-01', 'PT')").contains("duration"));
        assert!(err("dateTimeAdd('2020-01-01', 'P1H')").contains("duration"));
        assert!(err("dateTimeAdd('2020-01-01', 'P1D2Y')").contains("duration"));
        assert!(err("dateTimeAdd('2020-01-01', 'P1W')").contains("duration"));
        assert!(err("dateTimeAdd('2020-01-01', 'P99999999999999999999D')").contains("duration"));
        assert!(err("dateTimeAdd('9999-12-31', 'P1D')").contains("outside the range"));
        assert!(err("dateTimeAdd('0001-01-01', '-PT1S')").contains("outside the range"));
        assert!(err("dateTimeAdd(1, 'P1D')").contains("expects argument 1 to be a string"));
        assert!(err("dateTimeAdd('2020-01-01')").contains("takes 2 to 3 arguments"));
    }

    #[test]
    fn epoch_reference_example() {
        assert_eq!(
            json("dateTimeFromEpoch(1683040573)"),
            "\"2023-05-02T15:16:13Z\""
        );
        assert_eq!(
            json("dateTimeToEpoch('2023-05-02T15:16:13Z')"),
            "1683040573"
        );
        assert_eq!(
            json("dateTimeToEpoch(dateTimeFromEpoch(1683040573))"),
            "1683040573"
        );
        assert_eq!(json("dateTimeFromEpoch(0)"), "\"1970-01-01T00:00:00Z\"");
        assert_eq!(json("dateTimeFromEpoch(-1)"), "\"1969-12-31T23:59:59Z\"");
        assert_eq!(json("dateTimeToEpoch('1969-12-31T23:59:59.5Z')"), "-1");
        assert_eq!(
            json("dateTimeToEpoch('2023-05-02 15:16:13Z')"),
            "1683040573"
        );
        assert!(err("dateTimeFromEpoch(253402300800)").contains("outside the range"));
        assert_eq!(
            json("dateTimeFromEpoch(253402300799)"),
            "\"9999-12-31T23:59:59Z\""
        );
        assert!(err("dateTimeFromEpoch(-9223372036854775807)").contains("outside the range"));
        assert!(err("dateTimeFromEpoch('1')").contains("an integer"));
        assert!(err("dateTimeToEpoch('yesterday')").contains("not a valid"));
    }

    #[test]
    fn utc_now_is_unknown() {
        assert!(is_unknown("utcNow()"));
        assert!(is_unknown("utcNow('u')"));
        assert!(is_unknown("dateTimeAdd(utcNow(), 'P1D')"));
        assert!(is_unknown("dateTimeToEpoch(dateTimeAdd(utcNow(), 'P1Y'))"));
        assert!(err("utcNow(1)").contains("a string"));
        assert!(err("utcNow('u', 'v')").contains("takes 0 to 1 arguments"));
    }

    #[test]
    fn unknown_arguments() {
        let mut env = TestEnv::new();
        env.params.insert("p".into(), Value::unknown("parameter p"));
        for src in [
            "dateTimeAdd(parameters('p'), 'P1D')",
            "dateTimeAdd('2020-01-01', parameters('p'))",
            "dateTimeAdd('2020-01-01', 'P1D', parameters('p'))",
            "dateTimeFromEpoch(parameters('p'))",
            "dateTimeToEpoch(parameters('p'))",
        ] {
            assert!(eval_env(&env, src).unwrap().is_unknown(), "{src}");
        }
    }

    #[test]
    fn civil_round_trip() {
        for days in [-719_162_i64, -1, 0, 1, 59, 60, 365, 10_957, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-719_162), (1, 1, 1));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        let max = DateTime::from_ticks(MAX_TICKS).unwrap().civil();
        assert_eq!((max.year, max.month, max.day), (9999, 12, 31));
        assert_eq!(DateTime::from_ticks(0).unwrap().civil().weekday, 1);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("PT1H"), Some(TICKS_PER_HOUR));
        assert_eq!(parse_duration("-P1D"), Some(-TICKS_PER_DAY));
        assert_eq!(parse_duration("P1Y"), Some(365 * TICKS_PER_DAY));
        assert_eq!(parse_duration("P1M"), Some(30 * TICKS_PER_DAY));
        assert_eq!(parse_duration("PT1M"), Some(TICKS_PER_MINUTE));
        assert_eq!(parse_duration("PT1.5S"), Some(15_000_000));
        assert_eq!(parse_duration(" P0D "), Some(0));
        assert_eq!(parse_duration("P1.5D"), None);
        assert_eq!(parse_duration("PT1S1M"), None);
        assert_eq!(parse_duration("P1DT"), None);
        assert_eq!(parse_duration("P1TD"), None);
        assert_eq!(parse_duration("p1d"), None);
    }

    proptest::proptest! {
        #[test]
        fn dates_never_panic(
            s in "[0-9T:+\\-Z./ PMA]{0,26}",
            fmt in "[dfFghHKmMstyz:/'\"%\\\\ a-cx]{0,10}",
            ticks in 0_i64..=MAX_TICKS,
            d in "-?P[0-9YMDTHS.]{0,12}",
        ) {
            let _ = DateTime::parse(&s);
            let _ = parse_duration(&d);
            let _ = DateTime::from_ticks(ticks).map(|t| t.format(&fmt));
        }
    }
}
