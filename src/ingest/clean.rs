//! Cleaning of single values: text normalisation and the parsers that turn what exports
//! actually contain (`￥1,299.00`, `1299元`, `R$ 49,90`, `2024年3月5日`, epoch milliseconds)
//! into typed values, or into a reason the record is quarantined.
//!
//! Pure functions: every rule here is a unit test away from being checked, and the ingest
//! pipeline stays a matter of wiring.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use unicode_normalization::UnicodeNormalization;

/// NFKC (which also folds full-width letters, digits, punctuation and the ideographic space to
/// their ASCII forms), control characters dropped, runs of whitespace collapsed to one space,
/// trimmed.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.nfkc() {
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if c.is_control() || c == '\u{feff}' || c == '\u{200b}' {
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(c);
    }
    out
}

/// A price as a canonical decimal string and the ISO 4217 currency it names, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Price {
    pub amount: String,
    pub value: f64,
    pub currency: Option<&'static str>,
}

/// Currency markers, longest first so `US$` wins over `$` and `R$` is not read as dollars.
const CURRENCIES: &[(&str, &str)] = &[
    ("RMB", "CNY"),
    ("CNY", "CNY"),
    ("USD", "USD"),
    ("US$", "USD"),
    ("EUR", "EUR"),
    ("GBP", "GBP"),
    ("BRL", "BRL"),
    ("JPY", "JPY"),
    ("HKD", "HKD"),
    ("HK$", "HKD"),
    ("R$", "BRL"),
    ("元", "CNY"),
    ("¥", "CNY"),
    ("$", "USD"),
    ("€", "EUR"),
    ("£", "GBP"),
];

/// Parses a price. Thousands separators are dropped; a single comma followed by one or two
/// digits is a decimal comma (`49,90`). Negative, non-numeric and non-finite values are errors.
pub fn price(raw: &str) -> Result<Price, String> {
    let s = text(raw);
    if s.is_empty() {
        return Err("price is empty".into());
    }
    let mut rest = s.to_uppercase();
    let mut currency = None;
    for (mark, code) in CURRENCIES {
        if rest.contains(mark) {
            currency = Some(*code);
            rest = rest.replacen(mark, "", 1);
            break;
        }
    }
    let number: String = rest.chars().filter(|c| !c.is_whitespace()).collect();
    let number = match (number.matches(',').count(), number.contains('.')) {
        (1, false) => {
            let (int, frac) = number.split_once(',').unwrap_or((&number, ""));
            if (1..=2).contains(&frac.len()) {
                format!("{int}.{frac}")
            } else {
                format!("{int}{frac}")
            }
        }
        _ => number.replace(',', ""),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("price {raw:?} is not a number"))?;
    if !value.is_finite() {
        return Err(format!("price {raw:?} is not finite"));
    }
    if value < 0.0 {
        return Err(format!("price {raw:?} is negative"));
    }
    Ok(Price {
        amount: canonical_decimal(&number, value),
        value,
        currency,
    })
}

/// `0012.50` → `12.50`, `12` → `12.0`: xsd:decimal lexical forms that compare as text.
fn canonical_decimal(number: &str, value: f64) -> String {
    let n = number.trim_start_matches('+');
    if n.chars().all(|c| c.is_ascii_digit() || c == '.') && n.matches('.').count() <= 1 {
        let (int, frac) = n.split_once('.').unwrap_or((n, ""));
        let int = int.trim_start_matches('0');
        let int = if int.is_empty() { "0" } else { int };
        let frac = if frac.is_empty() { "0" } else { frac };
        return format!("{int}.{frac}");
    }
    // Exponent forms and the like: through f64.
    let s = format!("{value}");
    if s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

/// An ISO 4217 code as given in a currency column (symbols and names accepted).
pub fn currency(raw: &str) -> Result<&'static str, String> {
    let s = text(raw).to_uppercase();
    CURRENCIES
        .iter()
        .find(|(mark, code)| s == *mark || s == *code)
        .map(|(_, code)| *code)
        .ok_or_else(|| format!("currency {raw:?} is not one this mapping knows (an ISO 4217 code such as CNY, USD, EUR, BRL)"))
}

/// Parses a timestamp; dates without a time are midnight UTC, local times are taken as UTC.
/// Epoch seconds and milliseconds are accepted. More than a day in the future is an error.
pub fn timestamp(raw: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let s = text(raw);
    let parsed =
        parse_time(&s).ok_or_else(|| format!("time {raw:?} is not a date or timestamp"))?;
    if parsed > now + chrono::Duration::days(1) {
        return Err(format!("time {raw:?} is in the future"));
    }
    Ok(parsed)
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) {
        let n: i64 = s.parse().ok()?;
        return match s.len() {
            9 | 10 => DateTime::from_timestamp(n, 0),
            12 | 13 => DateTime::from_timestamp_millis(n),
            _ => None,
        };
    }
    let s = s
        .replace(['年', '月', '/'], "-")
        .replace('日', "")
        .replace('T', " ");
    let s = s.trim();
    for f in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// What a measurement measures (and so which units it may carry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// Normalised to grams.
    Weight,
    /// Normalised to centimetres.
    Length,
}

impl Measure {
    /// The normalised unit's symbol and UN/CEFACT code (`schema:unitCode`).
    pub fn unit(self) -> (&'static str, &'static str) {
        match self {
            Measure::Weight => ("g", "GRM"),
            Measure::Length => ("cm", "CMT"),
        }
    }

    fn factor(self, unit: &str) -> Option<f64> {
        let u = unit.trim().to_lowercase();
        Some(match (self, u.as_str()) {
            (Measure::Weight, "g" | "gram" | "grams" | "克") => 1.0,
            (Measure::Weight, "kg" | "kilogram" | "kilograms" | "公斤" | "千克") => 1000.0,
            (Measure::Weight, "mg" | "毫克") => 0.001,
            (Measure::Weight, "斤") => 500.0,
            (Measure::Weight, "lb" | "lbs" | "pound" | "pounds") => 453.592_37,
            (Measure::Weight, "oz" | "ounce" | "ounces") => 28.349_523_125,
            (Measure::Length, "cm" | "centimetre" | "centimeter" | "厘米" | "公分") => 1.0,
            (Measure::Length, "mm" | "millimetre" | "millimeter" | "毫米") => 0.1,
            (Measure::Length, "m" | "metre" | "meter" | "米") => 100.0,
            (Measure::Length, "in" | "inch" | "inches" | "英寸" | "寸") => 2.54,
            _ => return None,
        })
    }
}

/// A weight or length (`500g`, `1.5 kg`, `30厘米`, or a bare number in `default_unit`),
/// normalised to grams or centimetres. Zero, negative and unknown units are errors: a product
/// cannot weigh nothing.
pub fn measure(raw: &str, what: Measure, default_unit: &str) -> Result<f64, String> {
    let s = text(raw);
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+' || c == ','))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let unit = if unit.trim().is_empty() {
        default_unit
    } else {
        unit
    };
    let name = match what {
        Measure::Weight => "weight",
        Measure::Length => "dimension",
    };
    let v: f64 = number
        .replace(',', "")
        .parse()
        .map_err(|_| format!("{name} {raw:?} is not a number"))?;
    let factor = what
        .factor(unit)
        .ok_or_else(|| format!("{name} {raw:?} has an unknown unit {:?}", unit.trim()))?;
    if !v.is_finite() || v <= 0.0 {
        return Err(format!("{name} {raw:?} is not positive"));
    }
    Ok(v * factor)
}

/// A rating on the 1–5 scale (halves allowed).
pub fn rating(raw: &str) -> Result<f64, String> {
    let s = text(raw);
    let v: f64 = s
        .trim_end_matches(['星', '分'])
        .parse()
        .map_err(|_| format!("rating {raw:?} is not a number"))?;
    if !(1.0..=5.0).contains(&v) {
        return Err(format!("rating {raw:?} is outside 1–5"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_normalise_units_and_refuse_impossible_values() {
        let w = |s: &str| measure(s, Measure::Weight, "g");
        let l = |s: &str| measure(s, Measure::Length, "cm");
        assert_eq!(w("500"), Ok(500.0));
        assert_eq!(w("1.5 kg"), Ok(1500.0));
        assert_eq!(w("２斤"), Ok(1000.0), "full-width digits, Chinese unit");
        assert_eq!(w("1,200g"), Ok(1200.0));
        assert_eq!(l("30厘米"), Ok(30.0));
        assert_eq!(l("25 mm"), Ok(2.5));
        assert_eq!(measure("2", Measure::Length, "m"), Ok(200.0));
        assert!(w("0").unwrap_err().contains("not positive"));
        assert!(w("-3").unwrap_err().contains("not positive"));
        assert!(w("heavy").unwrap_err().contains("not a number"));
        assert!(w("3 cm").unwrap_err().contains("unknown unit"));
    }

    #[test]
    fn text_is_nfkc_with_whitespace_collapsed() {
        assert_eq!(
            text("  Ａｐｐｌｅ\u{3000}iPhone　１５ \t Pro\n"),
            "Apple iPhone 15 Pro"
        );
        assert_eq!(text("华为\u{200b}手机\u{0007}"), "华为手机");
        assert_eq!(text("\u{feff}"), "");
    }

    #[test]
    fn prices_in_the_forms_exports_use() {
        let p = |s| price(s).unwrap();
        assert_eq!(p("￥1,299.00").amount, "1299.00");
        assert_eq!(p("￥1,299.00").currency, Some("CNY"));
        assert_eq!(p("1299元").currency, Some("CNY"));
        assert_eq!(p("R$ 49,90").amount, "49.90");
        assert_eq!(p("R$ 49,90").currency, Some("BRL"));
        assert_eq!(p("US$12").amount, "12.0");
        assert_eq!(p("US$12").currency, Some("USD"));
        assert_eq!(p("0012.5").amount, "12.5");
        assert_eq!(p("1,234,567").amount, "1234567.0");
        assert_eq!(p("59.9").currency, None);
        assert!(price("-3").unwrap_err().contains("negative"));
        assert!(price("free").unwrap_err().contains("not a number"));
        assert!(price("").unwrap_err().contains("empty"));
        assert!(price("NaN").is_err());
    }

    #[test]
    fn timestamps_and_the_future() {
        let now = "2026-11-29T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let t = |s| timestamp(s, now).unwrap().to_rfc3339();
        assert_eq!(t("2024-03-05"), "2024-03-05T00:00:00+00:00");
        assert_eq!(t("2024年3月5日"), "2024-03-05T00:00:00+00:00");
        assert_eq!(t("2024/03/05 12:30"), "2024-03-05T12:30:00+00:00");
        assert_eq!(t("2017-10-02 10:56:33"), "2017-10-02T10:56:33+00:00");
        assert_eq!(t("1700000000"), "2023-11-14T22:13:20+00:00");
        assert_eq!(t("1700000000000"), "2023-11-14T22:13:20+00:00");
        assert!(timestamp("2031-01-01", now).unwrap_err().contains("future"));
        assert!(timestamp("yesterday", now).is_err());
    }

    #[test]
    fn ratings_and_currencies() {
        assert_eq!(rating("4").unwrap(), 4.0);
        assert_eq!(rating("４.5").unwrap(), 4.5);
        assert_eq!(rating("5星").unwrap(), 5.0);
        assert!(rating("0").unwrap_err().contains("outside"));
        assert!(rating("7").is_err());
        assert_eq!(currency("rmb").unwrap(), "CNY");
        assert_eq!(currency("BRL").unwrap(), "BRL");
        assert!(currency("doubloons").is_err());
    }
}
