//! Value validators for personal data, China first.
//!
//! A column is only called PII when its *values* pass validators like these (or a model says
//! so), not because of its name alone: `ACADEMIC_YEAR_CODE` full of 18-digit numbers is not an ID
//! card column unless the digits carry a valid GB 11643 check character and a real birth date.
//! Each validator is strict (checksums, ranges, dates) so that the share of passing values is a
//! trustworthy signal; callers decide thresholds.

use std::net::IpAddr;

/// The kinds of personal data we detect. `name()` is the readable lowercase form used in the
/// catalog and in `queries/pii-columns.rq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PiiType {
    Phone,
    Email,
    IdCard,
    BankCard,
    PersonName,
    Address,
    Uscc,
    IpAddress,
    Passport,
    BirthDate,
}

impl PiiType {
    pub const ALL: [PiiType; 10] = [
        PiiType::Phone,
        PiiType::Email,
        PiiType::IdCard,
        PiiType::BankCard,
        PiiType::PersonName,
        PiiType::Address,
        PiiType::Uscc,
        PiiType::IpAddress,
        PiiType::Passport,
        PiiType::BirthDate,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PiiType::Phone => "phone",
            PiiType::Email => "email",
            PiiType::IdCard => "id_card",
            PiiType::BankCard => "bank_card",
            PiiType::PersonName => "person_name",
            PiiType::Address => "address",
            PiiType::Uscc => "uscc",
            PiiType::IpAddress => "ip_address",
            PiiType::Passport => "passport",
            PiiType::BirthDate => "birth_date",
        }
    }

    pub fn from_name(s: &str) -> Option<PiiType> {
        PiiType::ALL.into_iter().find(|t| t.name() == s)
    }
}

/// Keeps ASCII digits (and a trailing `X`/`x`), dropping spaces and dashes; `None` when other
/// characters appear.
fn compact(s: &str, allow: impl Fn(char) -> bool) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    for c in s.trim().chars() {
        match c {
            ' ' | '-' | '\u{3000}' => {}
            c if allow(c) => out.push(c),
            _ => return None,
        }
    }
    Some(out)
}

/// An 18-character mainland resident identity number (GB 11643-1999): region code, a real birth
/// date between 1900 and today, sequence, and the ISO 7064 MOD 11-2 check character.
pub fn is_resident_id(s: &str) -> bool {
    let Some(v) = compact(s, |c| c.is_ascii_digit() || c == 'X' || c == 'x') else {
        return false;
    };
    let b = v.as_bytes();
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    // GB/T 2260 province-level codes.
    let province = (b[0] - b'0') * 10 + (b[1] - b'0');
    if !matches!(province, 11..=15 | 21..=23 | 31..=37 | 41..=46 | 50..=54 | 61..=65 | 71 | 81 | 82)
    {
        return false;
    }
    if !valid_date(&v[6..14]) {
        return false;
    }
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = b[..17]
        .iter()
        .zip(W)
        .map(|(d, w)| (d - b'0') as u32 * w)
        .sum();
    let check = b"10X98765432"[(sum % 11) as usize];
    b[17].to_ascii_uppercase() == check
}

/// `YYYYMMDD` naming a real day from 1900 to 2100.
fn valid_date(s: &str) -> bool {
    let (Ok(y), Ok(m), Ok(d)) = (
        s[0..4].parse::<i32>(),
        s[4..6].parse::<u32>(),
        s[6..8].parse::<u32>(),
    ) else {
        return false;
    };
    (1900..=2100).contains(&y) && chrono::NaiveDate::from_ymd_opt(y, m, d).is_some()
}

/// A mainland mobile number: 11 digits `1[3-9]…`, optionally with `+86`/`0086`/`86` and spaces
/// or dashes.
pub fn is_cn_mobile(s: &str) -> bool {
    let t = s.trim();
    let t = t
        .strip_prefix("+86")
        .or_else(|| t.strip_prefix("0086"))
        .or_else(|| t.strip_prefix("(+86)"))
        .unwrap_or(t);
    let Some(v) = compact(t, |c| c.is_ascii_digit()) else {
        return false;
    };
    let v = if v.len() == 13 && v.starts_with("86") {
        &v[2..]
    } else {
        &v[..]
    };
    let b = v.as_bytes();
    b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1])
}

/// A North American number: optional `+1`/`1`/`001`, a 10-digit number whose area code and
/// exchange start with 2–9, written with the usual separators, optionally with an `x` extension.
pub fn is_nanp_phone(s: &str) -> bool {
    let t = s.trim();
    let t = t
        .split_once(['x', 'X'])
        .map(|(n, ext)| {
            if ext.chars().all(|c| c.is_ascii_digit()) && !ext.is_empty() {
                n
            } else {
                t
            }
        })
        .unwrap_or(t);
    if !t
        .chars()
        .all(|c| c.is_ascii_digit() || " -.()+".contains(c))
    {
        return false;
    }
    let digits: String = t.chars().filter(|c| c.is_ascii_digit()).collect();
    let national = match digits.len() {
        10 => &digits[..],
        11 if digits.starts_with('1') => &digits[1..],
        13 if digits.starts_with("001") => &digits[3..],
        _ => return false,
    };
    let b = national.as_bytes();
    // A bare 10-digit run is too ambiguous (order numbers); require some formatting.
    let formatted = t.contains(['-', '.', '(', ' ', '+']);
    formatted && (b'2'..=b'9').contains(&b[0]) && (b'2'..=b'9').contains(&b[3])
}

/// A phone number: a mainland mobile, a North American number, or E.164 (`+` and 8–15 digits).
pub fn is_phone(s: &str) -> bool {
    if is_cn_mobile(s) || is_nanp_phone(s) {
        return true;
    }
    let t = s.trim();
    let Some(rest) = t.strip_prefix('+') else {
        return false;
    };
    let digits: String = rest
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
        .collect();
    (8..=15).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.starts_with('0')
}

/// The Luhn (mod 10) checksum over a digit string.
pub fn luhn(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, c) in digits.bytes().rev().enumerate() {
        if !c.is_ascii_digit() {
            return false;
        }
        let mut d = (c - b'0') as u32;
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    !digits.is_empty() && sum.is_multiple_of(10)
}

/// A payment card number: 13–19 digits (spaces and dashes allowed) passing Luhn, with a known
/// issuer prefix (UnionPay 62/81, Visa 4, Mastercard 51–55/22–27, Amex 34/37, JCB 35, Discover
/// 6011/65). Repeated-digit strings are refused.
pub fn is_bank_card(s: &str) -> bool {
    let Some(v) = compact(s, |c| c.is_ascii_digit()) else {
        return false;
    };
    if !(13..=19).contains(&v.len()) || !luhn(&v) {
        return false;
    }
    if v.bytes().all(|b| b == v.as_bytes()[0]) {
        return false;
    }
    let p2: u32 = v[..2].parse().unwrap_or(0);
    v.starts_with('4')
        || matches!(p2, 62 | 81 | 34 | 37 | 35 | 65)
        || (51..=55).contains(&p2)
        || (22..=27).contains(&p2)
        || v.starts_with("6011")
}

/// A Unified Social Credit Code (GB 32100-2015): 18 characters from the 31-symbol alphabet with
/// the mod-31 check character.
pub fn is_uscc(s: &str) -> bool {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    const W: [u32; 17] = [
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
    ];
    let v = s.trim().to_ascii_uppercase();
    let b = v.as_bytes();
    if b.len() != 18 {
        return false;
    }
    let mut vals = [0u32; 18];
    for (i, c) in b.iter().enumerate() {
        match ALPHABET.iter().position(|a| a == c) {
            Some(p) => vals[i] = p as u32,
            None => return false,
        }
    }
    // Registration authority codes 1–9, A, N, Y; a value made of one repeated symbol is noise.
    if !matches!(b[0], b'1'..=b'9' | b'A' | b'N' | b'Y') || b.iter().all(|&c| c == b[0]) {
        return false;
    }
    let sum: u32 = vals[..17].iter().zip(W).map(|(v, w)| v * w).sum();
    let check = (31 - sum % 31) % 31;
    vals[17] == check
}

/// An e-mail address: one `@`, a plausible local part, a dotted domain with a 2+ letter TLD.
pub fn is_email(s: &str) -> bool {
    let t = s.trim();
    let Some((local, domain)) = t.split_once('@') else {
        return false;
    };
    if local.is_empty()
        || local.len() > 64
        || domain.contains('@')
        || t.contains(char::is_whitespace)
    {
        return false;
    }
    let local_ok = local
        .chars()
        .all(|c| c.is_alphanumeric() || "._%+-!#$&'*/=?^`{|}~".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let tld = labels.last().copied().unwrap_or("");
    local_ok
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && tld.len() >= 2
        && tld.chars().all(|c| c.is_alphabetic())
}

/// An IPv4 or IPv6 address (dotted IPv4 must have four parts).
pub fn is_ip(s: &str) -> bool {
    let t = s.trim();
    match t.parse::<IpAddr>() {
        Ok(IpAddr::V4(_)) => t.split('.').count() == 4,
        Ok(IpAddr::V6(_)) => t.contains(':'),
        Err(_) => false,
    }
}

/// A mainland passport number (`E`/`G` + 8 digits, or `EA`–`EZ` + 7 digits).
pub fn is_cn_passport(s: &str) -> bool {
    let b = s.trim().as_bytes();
    match b {
        [b'E' | b'G', rest @ ..] if rest.len() == 8 && rest.iter().all(u8::is_ascii_digit) => true,
        [b'E', l, rest @ ..] if l.is_ascii_uppercase() && rest.len() == 7 => {
            rest.iter().all(u8::is_ascii_digit)
        }
        _ => false,
    }
}

/// The validator for a PII type whose values can be checked one by one (names and addresses
/// need a model or a lexicon; see `inventory::semantic`).
pub fn validator(t: PiiType) -> Option<fn(&str) -> bool> {
    match t {
        PiiType::Phone => Some(is_phone),
        PiiType::Email => Some(is_email),
        PiiType::IdCard => Some(is_resident_id),
        PiiType::BankCard => Some(is_bank_card),
        PiiType::Uscc => Some(is_uscc),
        PiiType::IpAddress => Some(is_ip),
        PiiType::Passport => Some(is_cn_passport),
        PiiType::PersonName | PiiType::Address | PiiType::BirthDate => None,
    }
}

/// Replaces a value by a mask that keeps only its shape: the first and last character of long
/// values, `*` elsewhere. Used where a profile must show *something* of a PII column (min/max).
pub fn mask(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    match chars.len() {
        0 => String::new(),
        1..=4 => "*".repeat(chars.len()),
        n => {
            let mut out = String::new();
            out.push(chars[0]);
            out.extend(std::iter::repeat_n('*', n - 2));
            out.push(chars[n - 1]);
            out
        }
    }
}

/// Whether one value (a cell, a top value) is personal data by the validators.
pub fn is_personal(s: &str) -> bool {
    let t = s.trim();
    [
        is_phone,
        is_email,
        is_resident_id,
        is_bank_card,
        is_uscc,
        is_ip,
        is_cn_passport,
    ]
    .iter()
    .any(|v| v(t))
}

/// Candidate spans of free text: runs of ASCII letters, digits and the punctuation phones,
/// e-mails and ids are written with, and inside each run its digit runs (a phone glued to
/// Chinese text or to `tel:`).
fn candidate_spans(text: &str) -> Vec<(usize, usize)> {
    let is_part = |c: char| c.is_ascii_alphanumeric() || "@._%+-()".contains(c);
    let mut spans = Vec::new();
    let mut start = None;
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        match (
            start,
            is_part(c) || (c == ' ' && start.is_some() && i < text.len()),
        ) {
            (None, true) if c != ' ' => start = Some(i),
            (Some(b), false) => {
                spans.push((b, i));
                start = None;
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (b, e) in spans {
        // Trailing separators are not part of a value.
        let run = text[b..e].trim_end_matches([' ', '.', '-', ')', '(']);
        let e = b + run.len();
        out.push((b, e));
        let mut d = None;
        for (i, c) in run.char_indices().chain(std::iter::once((run.len(), ' '))) {
            match (d, c.is_ascii_digit() || c == 'X' || c == 'x') {
                (None, true) => d = Some(i),
                (Some(s0), false) => {
                    out.push((b + s0, b + i));
                    d = None;
                }
                _ => {}
            }
        }
        // Windows of up to five words split at spaces, for runs that joined a value with its
        // neighbours (`call +1 (415) 555-2671 now`).
        let mut words = Vec::new();
        let mut off = 0;
        for w in run.split(' ') {
            if !w.is_empty() {
                words.push((b + off, b + off + w.len()));
            }
            off += w.len() + 1;
        }
        for i in 0..words.len() {
            for j in i..words.len().min(i + 5) {
                out.push((words[i].0, words[j].1));
            }
        }
    }
    out
}

/// Whether free text contains a phone number, e-mail address, id card, bank card, USCC, IP
/// address or passport number anywhere in it.
pub fn contains_personal(text: &str) -> bool {
    candidate_spans(text)
        .into_iter()
        .any(|(b, e)| is_personal(&text[b..e]))
}

/// Masks ([`mask`]) every span of free text the validators call personal data (phones, e-mails,
/// id and bank cards, USCC, IP addresses, passports); the rest of the text is kept. Names and
/// addresses in running text need a model and are not found here.
pub fn scrub_text(text: &str) -> std::borrow::Cow<'_, str> {
    let mut hits: Vec<(usize, usize)> = candidate_spans(text)
        .into_iter()
        .filter(|&(b, e)| e > b && is_personal(&text[b..e]))
        .collect();
    if hits.is_empty() {
        return std::borrow::Cow::Borrowed(text);
    }
    // Longest first, then drop spans inside one already taken.
    hits.sort_by_key(|&(b, e)| (b, std::cmp::Reverse(e)));
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (b, e) in hits {
        if b < at {
            continue;
        }
        out.push_str(&text[at..b]);
        out.push_str(&mask(&text[b..e]));
        at = e;
    }
    out.push_str(&text[at..]);
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn personal_spans_in_free_text_are_masked_and_the_rest_kept() {
        let t =
            "质量很好，有问题联系13812345678或者 li.lei@example.com，身份证11010519491231002X。";
        assert!(contains_personal(t));
        let s = scrub_text(t);
        assert!(!s.contains("13812345678"), "{s}");
        assert!(!s.contains("li.lei@example.com"), "{s}");
        assert!(!s.contains("11010519491231002X"), "{s}");
        assert!(s.starts_with("质量很好，有问题联系1*********8"), "{s}");
        assert!(s.contains("或者"), "{s}");
        let call = "call me at +1 (415) 555-2671 tomorrow";
        assert!(
            !scrub_text(call).contains("555-2671"),
            "{}",
            scrub_text(call)
        );
        for clean in [
            "iPhone 15 Pro Max 256GB",
            "好评！物流很快，5星",
            "order 2024-11-11",
        ] {
            assert!(!contains_personal(clean), "{clean}");
            assert_eq!(scrub_text(clean), clean);
        }
    }

    #[test]
    fn resident_ids_need_the_check_character_and_a_real_date() {
        // GB 11643's worked example and a check character X.
        assert!(is_resident_id("11010519491231002X"));
        assert!(is_resident_id("11010519491231002x"));
        assert!(is_resident_id("440524198001010013"));
        assert!(
            !is_resident_id("110105194912310021"),
            "wrong check character"
        );
        assert!(!is_resident_id("110105194913310025"), "month 13");
        assert!(!is_resident_id("990105194912310021"), "no province 99");
        assert!(!is_resident_id("11010519491231002"), "17 characters");
        assert!(
            !is_resident_id("202120222023202427"),
            "a year-code trap with a valid check"
        );
    }

    #[test]
    fn mobiles_cards_and_codes() {
        for ok in [
            "13812345678",
            "+86 138-1234-5678",
            "008615912345678",
            "8618612345678",
        ] {
            assert!(is_cn_mobile(ok), "{ok}");
        }
        for bad in ["12812345678", "1381234567", "23812345678", "138123456789"] {
            assert!(!is_cn_mobile(bad), "{bad}");
        }
        assert!(is_phone("+1 415 555 2671") && is_phone("+44 20 7946 0958"));
        assert!(!is_phone("2024") && !is_phone("+0123"));
        for ok in [
            "747.340.1897",
            "001-211-556-5015x66676",
            "(724)424-3242x2193",
            "+1-432-818-8475",
        ] {
            assert!(is_nanp_phone(ok), "{ok}");
        }
        for bad in ["4149970473", "123.456.7890", "2017-10-02", "555-1234"] {
            assert!(!is_nanp_phone(bad), "{bad}");
        }
        assert!(is_bank_card("4111 1111 1111 1111"));
        assert!(!is_bank_card("6212261202011584349"), "Luhn fails");
        assert!(!is_bank_card("4111 1111 1111 1112"), "Luhn fails");
        assert!(!is_bank_card("0000000000000000"));
        assert!(is_uscc("91350100M000100Y43"));
        assert!(is_uscc("91110000802100433B"));
        assert!(!is_uscc("91350100M000100Y44"));
        assert!(!is_uscc("ORDER2023000000001"));
        assert!(is_email("wang.fang@example.com.cn") && is_email("张伟@例子.中国"));
        assert!(!is_email("a@b") && !is_email("not an email") && !is_email("@x.com"));
        assert!(is_ip("192.168.1.20") && is_ip("2001:db8::1"));
        assert!(!is_ip("1.2.3") && !is_ip("3.14"));
        assert!(is_cn_passport("E12345678") && !is_cn_passport("E1234567"));
    }

    #[test]
    fn masks_keep_only_the_shape() {
        assert_eq!(mask("13812345678"), "1*********8");
        assert_eq!(mask("王五"), "**");
        assert_eq!(mask(""), "");
    }

    fn with_check(body: &str) -> String {
        const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
        let sum: u32 = body
            .bytes()
            .zip(W)
            .map(|(d, w)| (d - b'0') as u32 * w)
            .sum();
        format!("{body}{}", b"10X98765432"[(sum % 11) as usize] as char)
    }

    proptest! {
        #[test]
        fn generated_ids_validate_and_any_single_digit_change_fails(
            region in prop::sample::select(vec![110105u32, 310101, 440305, 510104, 650102, 820000]), y in 1930i32..2020, m in 1u32..13, d in 1u32..29,
            seq in 0u32..1000, pos in 0usize..17, delta in 1u8..10,
        ) {
            let body = format!("{region:06}{y:04}{m:02}{d:02}{seq:03}");
            let id = with_check(&body);
            prop_assert!(is_resident_id(&id));
            let mut bytes = id.into_bytes();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            let changed = String::from_utf8(bytes).unwrap();
            // MOD 11-2 detects every single-digit substitution.
            let sum_ok = with_check(&changed[..17]) == changed;
            prop_assert!(!sum_ok);
        }

        #[test]
        fn luhn_detects_single_digit_errors(digits in "[0-9]{15}", pos in 0usize..16, delta in 1u8..10) {
            let check = (0..10).map(|c| format!("{digits}{c}")).find(|s| luhn(s)).unwrap();
            let mut bytes = check.into_bytes();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            prop_assert!(!luhn(&String::from_utf8(bytes).unwrap()));
        }
    }
}
