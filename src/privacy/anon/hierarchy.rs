//! Generalisation hierarchies: for each kind of quasi-identifier, the ladder of ever coarser
//! values the k-anonymity search climbs (a date → its month → its year → `*`; an address → its
//! city → its province → `*`; a masked phone's last four digits → last two → nothing).
//!
//! Full-domain generalisation: every value of a column sits on the same rung, so a released
//! column means one thing (a month is a month in every row) and the recipient can read it.
//! A value a rung cannot read (an unparseable date, a city not in the table) becomes `*` on
//! every rung above the exact one, never a guess.

use chrono::{DateTime, NaiveDate, NaiveDateTime};

/// The top of every ladder: nothing of the value is left.
pub const ANY: &str = "*";

/// The ladder a column climbs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hierarchy {
    /// A calendar date: day, month, year, `*`.
    Date,
    /// A point in time (epoch seconds or milliseconds, ISO 8601): exact, day, month, year, `*`.
    Timestamp,
    /// An age in years: exact, 5-year band, 10-year band, 20-year band, `*`.
    Age,
    /// A postal address: exact, city, province, `*`.
    Address,
    /// A city: exact, province, `*`.
    City,
    /// A masked value: last four characters, last two, nothing.
    Masked,
    /// A code whose prefix is coarser (postcodes): each rung hides one more trailing character.
    Prefix(u8),
    /// Anything else: exact, `*`.
    Flat,
}

impl Hierarchy {
    /// The highest rung (where every value is [`ANY`]).
    pub fn top(self) -> u8 {
        match self {
            Hierarchy::Date => 3,
            Hierarchy::Timestamp | Hierarchy::Age => 4,
            Hierarchy::Address => 3,
            Hierarchy::City | Hierarchy::Masked => 2,
            Hierarchy::Prefix(n) => n,
            Hierarchy::Flat => 1,
        }
    }

    /// What each rung is called in reports.
    pub fn rung_name(self, level: u8) -> &'static str {
        const DATE: [&str; 4] = ["day", "month", "year", "suppressed"];
        const TS: [&str; 5] = ["exact", "day", "month", "year", "suppressed"];
        const AGE: [&str; 5] = [
            "exact",
            "5-year band",
            "10-year band",
            "20-year band",
            "suppressed",
        ];
        const ADDR: [&str; 4] = ["exact", "city", "province", "suppressed"];
        const CITY: [&str; 3] = ["exact", "province", "suppressed"];
        const MASK: [&str; 3] = ["last 4 kept", "last 2 kept", "suppressed"];
        let names: &[&str] = match self {
            Hierarchy::Date => &DATE,
            Hierarchy::Timestamp => &TS,
            Hierarchy::Age => &AGE,
            Hierarchy::Address => &ADDR,
            Hierarchy::City => &CITY,
            Hierarchy::Masked => &MASK,
            Hierarchy::Prefix(n) if level >= n => return "suppressed",
            Hierarchy::Prefix(_) if level == 0 => return "exact",
            Hierarchy::Prefix(_) => return "shorter prefix",
            Hierarchy::Flat => &["exact", "suppressed"],
        };
        names[usize::from(level.min(self.top()))]
    }

    /// `value` on rung `level` (clamped to the top).
    pub fn at(self, value: &str, level: u8) -> String {
        let value = value.trim();
        let level = level.min(self.top());
        if level == self.top() || value.is_empty() {
            return if value.is_empty() && level == 0 {
                String::new()
            } else {
                ANY.to_string()
            };
        }
        match self {
            Hierarchy::Date => match parse_day(value) {
                Some(d) => date_rung(d, level),
                None => ANY.to_string(),
            },
            Hierarchy::Timestamp if level == 0 => value.to_string(),
            Hierarchy::Timestamp => match parse_instant(value) {
                Some(d) => date_rung(d, level - 1),
                None => ANY.to_string(),
            },
            // An age past 150 is not an age: it is withheld, not banded.
            Hierarchy::Age => match value.parse::<f64>() {
                Ok(a) if (0.0..=150.0).contains(&a) && level == 0 => value.to_string(),
                Ok(a) if (0.0..=150.0).contains(&a) => {
                    let width = [1u32, 5, 10, 20][usize::from(level)];
                    let low = (a as u32 / width) * width;
                    format!("{low}-{}", low + width - 1)
                }
                _ => ANY.to_string(),
            },
            Hierarchy::Address if level == 0 => value.to_string(),
            Hierarchy::Address if level == 1 => city_of(value).unwrap_or_else(|| ANY.to_string()),
            Hierarchy::Address => province_of_address(value).unwrap_or_else(|| ANY.to_string()),
            Hierarchy::City if level == 0 => value.to_string(),
            Hierarchy::City => province_of_city(value)
                .map(str::to_string)
                .unwrap_or_else(|| ANY.to_string()),
            Hierarchy::Masked => keep_last(value, if level == 0 { 4 } else { 2 }),
            Hierarchy::Prefix(_) => {
                let chars: Vec<char> = value.chars().collect();
                let keep = chars.len().saturating_sub(usize::from(level));
                let mut s: String = chars[..keep].iter().collect();
                s.extend(std::iter::repeat_n('*', chars.len() - keep));
                s
            }
            Hierarchy::Flat => value.to_string(),
        }
    }
}

/// All but the last `n` characters replaced by `*` (a value of `n` or fewer characters is
/// masked whole: keeping it would keep everything).
pub fn keep_last(value: &str, n: usize) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= n {
        return "*".repeat(chars.len().max(1));
    }
    let mut s = "*".repeat(chars.len() - n);
    s.extend(&chars[chars.len() - n..]);
    s
}

fn date_rung(d: NaiveDate, level: u8) -> String {
    match level {
        0 => d.format("%Y-%m-%d").to_string(),
        1 => d.format("%Y-%m").to_string(),
        _ => d.format("%Y").to_string(),
    }
}

/// A calendar day from the common spellings (`2024-09-07`, `2024/9/7`, `20240907`, or the date
/// part of a date-time).
pub fn parse_day(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    for f in ["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, f) {
            return Some(d);
        }
    }
    s.get(..10)
        .and_then(|p| NaiveDate::parse_from_str(p, "%Y-%m-%d").ok())
}

/// The day of a point in time: epoch seconds (10 digits) or milliseconds (13), RFC 3339, or
/// `YYYY-MM-DD HH:MM:SS`; dates in UTC.
pub fn parse_instant(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    if s.bytes().all(|b| b.is_ascii_digit()) && (9..=13).contains(&s.len()) {
        let n: i64 = s.parse().ok()?;
        let secs = if s.len() >= 12 { n / 1000 } else { n };
        return DateTime::from_timestamp(secs, 0).map(|t| t.date_naive());
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.naive_utc().date());
    }
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y/%m/%d %H:%M:%S",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t.date());
        }
    }
    None
}

/// The city of an address: in Chinese, the part ending in 市 after any province (广东省广州市
/// 天河区… → 广州市), a municipality (北京市朝阳区… → 北京市) or a known city at its start; in
/// Western form, the comma-separated part before the region (12 Main St, Springfield, IL →
/// Springfield).
pub fn city_of(address: &str) -> Option<String> {
    let a = address.trim();
    let after_province = strip_province(a).unwrap_or(a);
    if let Some(i) = after_province.find('市') {
        let city = &after_province[..i + '市'.len_utf8()];
        if city.chars().count() >= 2 {
            return Some(city.to_string());
        }
    }
    if let Some((city, _)) = CITIES.iter().find(|(c, _)| after_province.starts_with(c)) {
        return Some(format!("{city}市"));
    }
    let parts: Vec<&str> = a.split(',').map(str::trim).collect();
    (parts.len() >= 3)
        .then(|| parts[parts.len() - 2].to_string())
        .filter(|c| !c.is_empty())
}

fn strip_province(a: &str) -> Option<&str> {
    for suffix in ["省", "自治区"] {
        if let Some(i) = a.find(suffix) {
            if a[..i].chars().count() <= 8 {
                return Some(&a[i + suffix.len()..]);
            }
        }
    }
    None
}

fn province_of_address(a: &str) -> Option<String> {
    let a = a.trim();
    for suffix in ["省", "自治区"] {
        if let Some(i) = a.find(suffix) {
            if a[..i].chars().count() <= 8 {
                return Some(a[..i + suffix.len()].to_string());
            }
        }
    }
    city_of(a)
        .and_then(|c| province_of_city(&c))
        .map(str::to_string)
}

/// The province (or municipality) of a Chinese city, with or without its 市.
pub fn province_of_city(city: &str) -> Option<&'static str> {
    let c = city.trim().trim_end_matches('市');
    CITIES.iter().find(|(name, _)| *name == c).map(|(_, p)| *p)
}

/// Municipalities, provincial capitals and the other large cities (the ones an e-commerce
/// user table mostly holds), with their province. A city not here generalises to `*`.
const CITIES: &[(&str, &str)] = &[
    ("北京", "北京市"),
    ("上海", "上海市"),
    ("天津", "天津市"),
    ("重庆", "重庆市"),
    ("广州", "广东省"),
    ("深圳", "广东省"),
    ("东莞", "广东省"),
    ("佛山", "广东省"),
    ("珠海", "广东省"),
    ("杭州", "浙江省"),
    ("宁波", "浙江省"),
    ("温州", "浙江省"),
    ("南京", "江苏省"),
    ("苏州", "江苏省"),
    ("无锡", "江苏省"),
    ("常州", "江苏省"),
    ("武汉", "湖北省"),
    ("成都", "四川省"),
    ("西安", "陕西省"),
    ("郑州", "河南省"),
    ("长沙", "湖南省"),
    ("济南", "山东省"),
    ("青岛", "山东省"),
    ("沈阳", "辽宁省"),
    ("大连", "辽宁省"),
    ("哈尔滨", "黑龙江省"),
    ("长春", "吉林省"),
    ("石家庄", "河北省"),
    ("太原", "山西省"),
    ("合肥", "安徽省"),
    ("福州", "福建省"),
    ("厦门", "福建省"),
    ("南昌", "江西省"),
    ("南宁", "广西壮族自治区"),
    ("海口", "海南省"),
    ("贵阳", "贵州省"),
    ("昆明", "云南省"),
    ("兰州", "甘肃省"),
    ("西宁", "青海省"),
    ("银川", "宁夏回族自治区"),
    ("乌鲁木齐", "新疆维吾尔自治区"),
    ("拉萨", "西藏自治区"),
    ("呼和浩特", "内蒙古自治区"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ladders_climb_to_any() {
        for h in [
            Hierarchy::Date,
            Hierarchy::Timestamp,
            Hierarchy::Age,
            Hierarchy::Address,
            Hierarchy::City,
            Hierarchy::Masked,
            Hierarchy::Prefix(5),
            Hierarchy::Flat,
        ] {
            assert_eq!(h.at("2024-09-07", h.top()), ANY, "{h:?}");
            assert_eq!(h.rung_name(h.top()), "suppressed", "{h:?}");
        }
    }

    #[test]
    fn dates_and_instants() {
        let d = Hierarchy::Date;
        assert_eq!(d.at("2024/9/7", 0), "2024-09-07");
        assert_eq!(d.at("2024-09-07", 1), "2024-09");
        assert_eq!(d.at("20240907", 2), "2024");
        assert_eq!(d.at("not a date", 1), ANY);
        let t = Hierarchy::Timestamp;
        assert_eq!(t.at("1704068231", 0), "1704068231");
        assert_eq!(t.at("1704068231", 1), "2024-01-01");
        assert_eq!(t.at("1704068231000", 2), "2024-01");
        assert_eq!(t.at("2024-03-05T10:00:00+08:00", 1), "2024-03-05");
        assert_eq!(t.at("2024-03-05 10:00:00", 3), "2024");
    }

    #[test]
    fn ages_and_codes() {
        assert_eq!(Hierarchy::Age.at("37", 1), "35-39");
        assert_eq!(Hierarchy::Age.at("37", 2), "30-39");
        assert_eq!(Hierarchy::Age.at("37", 3), "20-39");
        assert_eq!(Hierarchy::Age.at("-3", 2), ANY);
        assert_eq!(Hierarchy::Prefix(6).at("310000", 2), "3100**");
        assert_eq!(Hierarchy::Masked.at("13406541579", 0), "*******1579");
        assert_eq!(Hierarchy::Masked.at("13406541579", 1), "*********79");
        assert_eq!(keep_last("123", 4), "***");
    }

    #[test]
    fn addresses_and_cities() {
        let a = Hierarchy::Address;
        assert_eq!(a.at("广东省广州市天河区体育西路1号", 1), "广州市");
        assert_eq!(a.at("广东省广州市天河区体育西路1号", 2), "广东省");
        assert_eq!(a.at("北京市朝阳区建国路88号", 1), "北京市");
        assert_eq!(a.at("北京市朝阳区建国路88号", 2), "北京市");
        assert_eq!(a.at("杭州西湖区文三路", 1), "杭州市");
        assert_eq!(a.at("12 Main St, Springfield, IL 62704", 1), "Springfield");
        assert_eq!(a.at("somewhere", 1), ANY);
        assert_eq!(Hierarchy::City.at("深圳", 1), "广东省");
        assert_eq!(Hierarchy::City.at("成都市", 1), "四川省");
        assert_eq!(Hierarchy::City.at("Atlantis", 1), ANY);
    }
}
