//! Reading one cell: the narrowest physical type its text fits (boolean, integer, decimal, date,
//! date-time, text) and, for numbers and dates, its value — the per-cell step of profiling.
//!
//! Dates and date-times are read with chrono in a fixed set of layouts (ISO 8601 with `-` or `/`,
//! `年月日`, RFC 3339, with or without seconds and fractions). The layouts are parsed once, not
//! per cell, and the caller keeps the index of the layout its column matched last, which is tried
//! first: a date column costs one parse per cell, not ten. Digit strings that look like codes
//! (leading zeros, more than 15 digits) stay text, so phone numbers, ids and cards keep their
//! digits.

use std::sync::LazyLock;

use chrono::format::{Item, Parsed, StrftimeItems};

use super::profile::Physical;

/// The narrowest physical type of one value.
pub fn classify(v: &str) -> Physical {
    read_with(v, &mut 0).0
}

/// The date and date-time layouts read, in order of preference: a strftime layout and whether
/// it is a date alone, or RFC 3339 (`None`).
const LAYOUTS: [Option<(&str, bool)>; 10] = [
    Some(("%Y-%m-%d", true)),
    Some(("%Y/%m/%d", true)),
    Some(("%Y年%m月%d日", true)),
    None,
    Some(("%Y-%m-%d %H:%M:%S", false)),
    Some(("%Y-%m-%d %H:%M:%S%.f", false)),
    Some(("%Y-%m-%dT%H:%M:%S", false)),
    Some(("%Y-%m-%dT%H:%M:%S%.f", false)),
    Some(("%Y/%m/%d %H:%M:%S", false)),
    Some(("%Y-%m-%d %H:%M", false)),
];

/// The layouts parsed once: chrono's `parse_from_str` would parse the format string again for
/// every cell.
/// A strftime layout parsed into chrono's items, and whether it is a date alone.
type Layout = (Vec<Item<'static>>, bool);

static PARSED_LAYOUTS: LazyLock<Vec<Option<Layout>>> = LazyLock::new(|| {
    LAYOUTS
        .iter()
        .map(|l| l.map(|(f, date)| (StrftimeItems::new(f).parse().expect("valid layout"), date)))
        .collect()
});

/// The narrowest physical type of one value and, for numbers and dates, its value (dates as
/// epoch seconds) — parsed once, since this runs for every cell. `layout` is the index of the
/// date layout to try first (the one the column's previous date matched), updated on a match.
pub(super) fn read_with(v: &str, layout: &mut usize) -> (Physical, Option<f64>) {
    if v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false") {
        return (Physical::Boolean, None);
    }
    let digits = v.strip_prefix(['-', '+']).unwrap_or(v);
    // Leading zeros ("007", phone numbers) and long digit strings (IDs, cards) are codes, not
    // numbers: treating them as integers would lose them.
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        let code = (digits.len() > 1 && digits.starts_with('0')) || digits.len() > 15;
        return if code {
            (Physical::Text, None)
        } else {
            (Physical::Integer, v.parse::<f64>().ok())
        };
    }
    if v.bytes().any(|b| b == b'.' || b == b'e' || b == b'E')
        && v.bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
    {
        if let Some(x) = v.parse::<f64>().ok().filter(|x| x.is_finite()) {
            return (Physical::Decimal, Some(x));
        }
    }
    // Every layout starts with a four-digit year and is at least eight bytes long.
    if v.len() >= 8 && v.as_bytes()[..4].iter().all(u8::is_ascii_digit) {
        let layouts = &*PARSED_LAYOUTS;
        let first = (*layout).min(layouts.len() - 1);
        let order = std::iter::once(first).chain((0..layouts.len()).filter(|&i| i != first));
        for i in order {
            let read = match &layouts[i] {
                Some((items, date)) => parse_layout(v, items, *date).map(|t| (t, *date)),
                None => chrono::DateTime::parse_from_rfc3339(v)
                    .ok()
                    .map(|t| (t.timestamp(), false)),
            };
            if let Some((t, date)) = read {
                *layout = i;
                let kind = if date {
                    Physical::Date
                } else {
                    Physical::Datetime
                };
                return (kind, Some(t as f64));
            }
        }
    }
    (Physical::Text, None)
}

/// Seconds since the epoch of `v` read with one layout (naive date-times as UTC, dates at
/// midnight UTC), as `NaiveDate`/`NaiveDateTime::parse_from_str` would read it.
fn parse_layout(v: &str, items: &[Item<'static>], date: bool) -> Option<i64> {
    let mut p = Parsed::new();
    chrono::format::parse(&mut p, v, items.iter()).ok()?;
    let t = if date {
        p.to_naive_date().ok()?.and_hms_opt(0, 0, 0)?
    } else {
        p.to_naive_datetime_with_offset(0).ok()?
    };
    Some(t.and_utc().timestamp())
}

/// An epoch second as the text of a date or a date-time.
pub(super) fn fmt_time(secs: f64, date_only: bool) -> String {
    let t = chrono::DateTime::from_timestamp(secs.round() as i64, 0).unwrap_or_default();
    if date_only {
        t.format("%Y-%m-%d").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }
}

/// The narrowest type both fit.
pub(super) fn widen(a: Physical, b: Physical) -> Physical {
    use Physical::*;
    match (a, b) {
        (Empty, x) | (x, Empty) => x,
        (x, y) if x == y => x,
        (Integer, Decimal) | (Decimal, Integer) => Decimal,
        (Date, Datetime) | (Datetime, Date) => Datetime,
        _ => Text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_hints_do_not_change_what_a_value_reads_as() {
        let values = [
            "2024-01-05",
            "2024/01/05",
            "2024年01月05日",
            "2024-01-05T10:00:00+08:00",
            "2024-01-05T10:00:00Z",
            "2024-01-05 10:00:00",
            "2024-01-05 10:00:00.250",
            "2024-01-05T10:00:00",
            "2024/01/05 10:00:00",
            "2024-01-05 10:00",
            "20240105",
            "2024-13-05",
            "2024 is a year",
        ];
        for v in values {
            let fresh = read_with(v, &mut 0);
            for hint in 0..LAYOUTS.len() + 2 {
                assert_eq!(
                    read_with(v, &mut hint.clone()),
                    fresh,
                    "{v} with hint {hint}"
                );
            }
        }
        assert_eq!(classify("2024-01-05T10:00:00+08:00"), Physical::Datetime);
        assert_eq!(
            read_with("2024-01-05T10:00:00+08:00", &mut 0).1,
            Some(1_704_420_000.0)
        );
        assert_eq!(classify("2024-13-05"), Physical::Text);
    }
}
