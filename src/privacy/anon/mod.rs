//! Anonymised exports (数据匿名化): a shareable copy of user-level records, one operator per
//! column — drop, mask (keep the last four), generalise (age → band, address → city, timestamp
//! → day), keyed pseudonym, date shift per person, scrub free text — then k-anonymity and
//! l-diversity over the quasi-identifiers, reached by generalising further and suppressing.
//!
//! Operators come from what each column holds (the inventory's semantic types, passed in as a
//! [`ColumnKind`]) unless a policy file names them. A masked or generalised column is always a
//! quasi-identifier: the last four digits of a phone, or a birth year, are exactly what an
//! attacker joins on. Pseudonyms are keyed per policy name with a key derived from the store's
//! pseudonym secret, so an export cannot be joined to the product graph's user IRIs, or to an
//! export under another policy, by anyone without that secret. Pure: rows in, rows out.

mod hierarchy;
mod kanon;
mod policy;

use std::collections::HashSet;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

pub use hierarchy::{city_of, keep_last, parse_day, province_of_city, Hierarchy, ANY};
pub use kanon::{enforce, Outcome, Quasi, Requirement};
pub use policy::{ColumnPlan, Plan, Policy};

/// Why a policy cannot be applied to a table.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnonError {
    /// The policy file is not valid TOML or has unknown keys.
    #[error("policy: {0}")]
    Policy(String),
    /// The policy names a column the data does not have.
    #[error("policy names column '{0}', which the data does not have (columns: {1})")]
    UnknownColumn(String, String),
    /// The policy's settings contradict each other.
    #[error("policy: {0}")]
    Invalid(String),
}

/// What a column holds, as the inventory read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ColumnKind {
    PersonName,
    Email,
    Phone,
    IdCard,
    BankCard,
    Passport,
    IpAddress,
    Address,
    BirthDate,
    Uscc,
    /// The key of a person (user, customer, member id).
    PersonId,
    /// Any other identifier (product, order).
    OtherId,
    Timestamp,
    Date,
    Age,
    City,
    Postcode,
    Gender,
    FreeText,
    Other,
}

/// What happens to one column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operator {
    /// Left out of the export.
    Drop,
    /// Released as it is.
    Keep,
    /// All but the last four characters replaced by `*`.
    Mask,
    /// Coarsened (age → band, address → city, timestamp → day, date → month, birth date → year).
    #[serde(alias = "generalize")]
    Generalise,
    /// Replaced by a keyed pseudonym (HMAC-SHA-256 under the export key).
    Pseudonym,
    /// Dates and times moved by a per-person offset (intervals within a person survive).
    Shift,
    /// Free text with phones, e-mails, id and bank cards masked.
    Scrub,
}

impl Operator {
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Drop => "drop",
            Operator::Keep => "keep",
            Operator::Mask => "mask",
            Operator::Generalise => "generalise",
            Operator::Pseudonym => "pseudonym",
            Operator::Shift => "shift",
            Operator::Scrub => "scrub",
        }
    }
}

impl ColumnKind {
    /// The operator a privacy engineer would pick for this kind when the policy is silent.
    pub fn default_operator(self) -> Operator {
        use ColumnKind::*;
        match self {
            PersonName | Email | IdCard | Passport | IpAddress => Operator::Drop,
            Phone | BankCard | Uscc => Operator::Mask,
            Address | BirthDate | Timestamp | Age => Operator::Generalise,
            PersonId => Operator::Pseudonym,
            FreeText => Operator::Scrub,
            Date | City | Postcode | Gender | OtherId | Other => Operator::Keep,
        }
    }

    /// Whether a value of this kind names one person by itself.
    fn direct_identifier(self) -> bool {
        use ColumnKind::*;
        matches!(
            self,
            PersonName
                | Email
                | Phone
                | IdCard
                | BankCard
                | Passport
                | IpAddress
                | Address
                | BirthDate
                | Uscc
                | PersonId
        )
    }

    fn describe(self) -> &'static str {
        use ColumnKind::*;
        match self {
            PersonName => "people's names",
            Email => "e-mail addresses",
            Phone => "phone numbers",
            IdCard => "id card numbers",
            BankCard => "bank card numbers",
            Passport => "passport numbers",
            IpAddress => "IP addresses",
            Address => "postal addresses",
            BirthDate => "birth dates",
            Uscc => "credit codes",
            PersonId => "people's ids",
            _ => "values",
        }
    }

    /// Whether a released column of this kind helps single a person out.
    fn identifying(self) -> bool {
        use ColumnKind::*;
        matches!(
            self,
            Address | BirthDate | Timestamp | Date | Age | City | Postcode | Gender
        )
    }

    fn hierarchy(self, width: usize) -> Hierarchy {
        match self {
            ColumnKind::Address => Hierarchy::Address,
            ColumnKind::BirthDate | ColumnKind::Date => Hierarchy::Date,
            ColumnKind::Timestamp => Hierarchy::Timestamp,
            ColumnKind::Age => Hierarchy::Age,
            ColumnKind::City => Hierarchy::City,
            ColumnKind::Postcode => Hierarchy::Prefix(width.clamp(1, 12) as u8),
            _ => Hierarchy::Flat,
        }
    }

    /// The rung `generalise` starts from.
    fn generalise_floor(self) -> u8 {
        match self {
            ColumnKind::BirthDate => 2,
            ColumnKind::Age => 2,
            _ => 1,
        }
    }
}

/// The key of an export's pseudonyms and date shifts, derived from the store's pseudonym
/// secret and the policy name (HMAC-SHA-256), so it is never stored and differs per policy.
pub struct ExportKey(zeroize::Zeroizing<Vec<u8>>);

type HmacSha256 = Hmac<Sha256>;

impl ExportKey {
    pub fn derive(secret: &[u8], policy_name: &str) -> ExportKey {
        let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(b"stocktake anonymised export v1\0");
        mac.update(policy_name.as_bytes());
        ExportKey(zeroize::Zeroizing::new(
            mac.finalize().into_bytes().to_vec(),
        ))
    }

    fn mac(&self, domain: &[u8], value: &str) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(domain);
        mac.update(&[0]);
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// A keyed pseudonym of `value` (80 bits, hex).
    pub fn pseudonym(&self, value: &str) -> String {
        hex::encode(&self.mac(b"pseudonym", value)[..10])
    }

    /// A person's date offset in days, in `[-max, max]` and never 0.
    pub fn shift(&self, person: &str, max: u32) -> i64 {
        if max == 0 {
            return 0;
        }
        let h = u64::from_le_bytes(self.mac(b"shift", person)[..8].try_into().expect("8 bytes"));
        let span = 2 * u64::from(max);
        let v = (h % span) as i64 - i64::from(max);
        if v >= 0 {
            v + 1
        } else {
            v
        }
    }
}

/// What an export released and what it cost.
#[derive(Debug, Clone, Serialize)]
pub struct ExportReport {
    pub policy: String,
    pub k: usize,
    pub l: usize,
    pub rows_in: usize,
    pub rows_out: usize,
    pub rows_suppressed: usize,
    /// Distinct people in and out (when a person column is known).
    pub people_in: Option<usize>,
    pub people_out: Option<usize>,
    pub classes: usize,
    /// People in the smallest released class: at least `k`, or 0 when nothing is released.
    pub smallest_class: usize,
    pub lowest_diversity: Option<usize>,
    /// A prosecutor's best chance to single out a released person from the quasi-identifiers.
    pub max_reidentification_risk: f64,
    /// 1 − mean generalisation height over the quasi-identifiers (1 = nothing coarsened).
    pub precision: f64,
    /// Values of shifted columns that were not dates, left blank rather than released.
    pub blanked: usize,
    pub columns: Vec<ColumnReport>,
    pub steps: Vec<String>,
}

/// One column of the report.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnReport {
    pub name: String,
    pub kind: ColumnKind,
    pub operator: Operator,
    pub quasi_identifier: bool,
    /// The rung released (quasi-identifiers).
    pub released_as: Option<String>,
    pub distinct_before: usize,
    pub distinct_after: usize,
}

/// The released table.
#[derive(Debug, Clone)]
pub struct Anonymised {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub report: ExportReport,
}

/// Applies `plan` to `rows` (cells aligned with the plan's columns; missing cells empty).
pub fn anonymise(plan: &Plan, rows: &[Vec<String>], key: &ExportKey) -> Anonymised {
    let quasi: Vec<Quasi> = plan
        .columns
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            c.quasi.map(|(hierarchy, floor)| Quasi {
                column: i,
                hierarchy,
                floor,
            })
        })
        .collect();
    let names: Vec<String> = plan.columns.iter().map(|c| c.name.clone()).collect();
    let outcome = enforce(
        rows,
        &quasi,
        plan.person,
        plan.sensitive,
        plan.requirement,
        &names,
    );
    let released: Vec<usize> = (0..rows.len())
        .filter(|&r| !outcome.suppressed[r])
        .collect();
    let level_of = |i: usize| {
        quasi
            .iter()
            .position(|q| q.column == i)
            .map(|p| outcome.levels[p])
    };
    let mut blanked = 0;
    let kept: Vec<usize> = (0..plan.columns.len())
        .filter(|&i| plan.columns[i].operator != Operator::Drop)
        .collect();
    let out_rows: Vec<Vec<String>> = released
        .iter()
        .map(|&r| {
            let row = &rows[r];
            kept.iter()
                .map(|&i| {
                    let c = &plan.columns[i];
                    let v = row[i].as_str();
                    if let (Some((h, _)), Some(level)) = (c.quasi, level_of(i)) {
                        return h.at(v, level);
                    }
                    match c.operator {
                        Operator::Drop => unreachable!("dropped columns are not kept"),
                        Operator::Keep => v.to_string(),
                        Operator::Mask => keep_last(v, 4),
                        Operator::Generalise => c
                            .kind
                            .hierarchy(v.chars().count())
                            .at(v, c.kind.generalise_floor()),
                        Operator::Pseudonym if v.is_empty() => String::new(),
                        Operator::Pseudonym => key.pseudonym(v),
                        Operator::Scrub => crate::privacy::pii::scrub_text(v).into_owned(),
                        Operator::Shift => {
                            let p = plan.person.map(|p| row[p].as_str()).unwrap_or("");
                            match shift_value(v, key.shift(p, plan.shift_days)) {
                                Some(s) => s,
                                None => {
                                    blanked += usize::from(!v.is_empty());
                                    String::new()
                                }
                            }
                        }
                    }
                })
                .collect()
        })
        .collect();
    let distinct = |values: &mut dyn Iterator<Item = &str>| values.collect::<HashSet<_>>().len();
    let columns: Vec<ColumnReport> = kept
        .iter()
        .enumerate()
        .map(|(o, &i)| {
            let c = &plan.columns[i];
            ColumnReport {
                name: c.name.clone(),
                kind: c.kind,
                operator: c.operator,
                quasi_identifier: c.quasi.is_some(),
                released_as: c
                    .quasi
                    .zip(level_of(i))
                    .map(|((h, _), l)| h.rung_name(l).to_string()),
                distinct_before: distinct(&mut rows.iter().map(|r| r[i].as_str())),
                distinct_after: distinct(&mut out_rows.iter().map(|r| r[o].as_str())),
            }
        })
        .chain(
            plan.columns
                .iter()
                .enumerate()
                .filter(|(_, c)| c.operator == Operator::Drop)
                .map(|(i, c)| ColumnReport {
                    name: c.name.clone(),
                    kind: c.kind,
                    operator: c.operator,
                    quasi_identifier: false,
                    released_as: None,
                    distinct_before: distinct(&mut rows.iter().map(|r| r[i].as_str())),
                    distinct_after: 0,
                }),
        )
        .collect();
    let people = |rs: &mut dyn Iterator<Item = usize>| {
        plan.person.map(|p| {
            rs.map(|r| rows[r][p].as_str())
                .collect::<HashSet<_>>()
                .len()
        })
    };
    let precision = if quasi.is_empty() {
        1.0
    } else {
        1.0 - quasi
            .iter()
            .zip(&outcome.levels)
            .map(|(q, &l)| f64::from(l) / f64::from(q.hierarchy.top()))
            .sum::<f64>()
            / quasi.len() as f64
    };
    let report = ExportReport {
        policy: plan.name.clone(),
        k: plan.requirement.k,
        l: plan.requirement.l,
        rows_in: rows.len(),
        rows_out: released.len(),
        rows_suppressed: rows.len() - released.len(),
        people_in: people(&mut (0..rows.len())),
        people_out: people(&mut released.iter().copied()),
        classes: outcome.classes,
        smallest_class: outcome.smallest_class,
        lowest_diversity: outcome.lowest_diversity,
        max_reidentification_risk: if outcome.smallest_class == 0 {
            0.0
        } else {
            1.0 / outcome.smallest_class as f64
        },
        precision,
        blanked,
        columns,
        steps: outcome.steps,
    };
    Anonymised {
        header: kept.iter().map(|&i| plan.columns[i].name.clone()).collect(),
        rows: out_rows,
        report,
    }
}

/// `value` (a date or a point in time) moved by `days`, in the spelling it came in where it
/// can be (epoch seconds or milliseconds stay numbers; other spellings become ISO 8601).
fn shift_value(value: &str, days: i64) -> Option<String> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    let delta = chrono::Duration::try_days(days)?;
    if v.bytes().all(|b| b.is_ascii_digit()) && (9..=13).contains(&v.len()) {
        let n: i64 = v.parse().ok()?;
        let unit = if v.len() >= 12 { 1000 } else { 1 };
        return n
            .checked_add(days.checked_mul(86_400 * unit)?)
            .map(|x| x.to_string());
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return t.checked_add_signed(delta).map(|t| t.to_rfc3339());
    }
    for f in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(v, f) {
            return t.checked_add_signed(delta).map(|t| t.format(f).to_string());
        }
    }
    let d = parse_day(v)?;
    d.checked_add_signed(delta)
        .map(|d| d.format("%Y-%m-%d").to_string())
}

#[cfg(test)]
mod tests;
