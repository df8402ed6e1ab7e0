//! What of a column's profile may be published: raw values leave the profiles here, before the
//! catalog records them (readers see the catalog), so that a profile never singles a person out.

use super::{profile, semantic, ColumnScan};
use crate::privacy::pii::mask;

/// Fewest occurrences a value needs before a profile publishes it as a top value, unless
/// `[access] min_top_count` says otherwise: rarer values single people out (a free-text column's
/// one-off phone number, a user's id).
pub const MIN_TOP_COUNT: u64 = 5;

/// Removes raw values from the profiles before they are published: every column loses its
/// sample (it served typing) and top values seen fewer than `min_top` times or that
/// are personal data by the validators; identifier columns lose min/max (they show the format
/// of user and order ids); PII columns keep only masked min/max and no statistics.
pub(super) fn scrub(c: &mut ColumnScan, min_top: u64) {
    c.profile.sample.clear();
    c.profile
        .top
        .retain(|(v, n)| *n >= min_top && !crate::privacy::pii::contains_personal(v));
    // Min/max of text are two records' raw values (a phone in a notes column, a user's id):
    // only numbers and dates keep them.
    if c.profile.physical == profile::Physical::Text {
        c.profile.min = None;
        c.profile.max = None;
    }
    if c.semantic.kind == semantic::SemanticType::Id || names_a_person(&c.profile.name) {
        // Ids show their format in min/max; a person's key (user, customer, member) is personal
        // however often it occurs.
        c.profile.min = None;
        c.profile.max = None;
        if names_a_person(&c.profile.name) {
            c.profile.top.clear();
        }
    }
    if c.semantic.kind.pii().is_some() {
        c.profile.top.clear();
        c.profile.min = c.profile.min.as_deref().map(mask);
        c.profile.max = c.profile.max.as_deref().map(mask);
        c.profile.quantiles = None;
        c.profile.time_quantiles = None;
        c.profile.time_mean = None;
        c.profile.mean = None;
        c.profile.stddev = None;
    }
}

/// Whether a column's name says it holds a key of a person: a word of it (split at `_`, `-`,
/// `.`, spaces and camelCase) names one (`user_id`, `customerId`, `buyer`, `uid`), or it holds
/// a Chinese word for one (`用户ID`, `会员号`). `guid`, `fluid` or `account_type` do not.
fn names_a_person(name: &str) -> bool {
    const WORDS: [&str; 10] = [
        "user",
        "users",
        "uid",
        "userid",
        "customer",
        "customerid",
        "member",
        "memberid",
        "buyer",
        "reviewer",
    ];
    const ZH: [&str; 5] = ["用户", "会员", "买家", "客户", "账号"];
    if ZH.iter().any(|w| name.contains(w)) {
        return true;
    }
    let mut spaced = String::with_capacity(name.len() + 4);
    let mut prev_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() && prev_lower {
            spaced.push(' ');
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        spaced.push(c.to_ascii_lowercase());
    }
    spaced
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| WORDS.contains(&w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn person_keys_are_recognised_by_whole_words() {
        for yes in [
            "user_id",
            "userId",
            "UserID",
            "uid",
            "customer",
            "buyer-id",
            "会员号",
            "用户ID",
            "reviewer",
        ] {
            assert!(names_a_person(yes), "{yes}");
        }
        for no in [
            "guid",
            "fluid",
            "account_type",
            "username_policy_version",
            "product_id",
            "status",
        ] {
            assert!(!names_a_person(no), "{no}");
        }
    }
}
