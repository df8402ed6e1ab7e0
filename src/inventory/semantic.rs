//! Semantic types of columns, PII first, with the evidence for each decision.
//!
//! A column's meaning comes from two independent signals: its *name* (Chinese or English, after
//! splitting `camelCase`, `snake_case` and Chinese compounds) and its *values* (a uniform sample
//! from the profile, checked by the strict validators of `privacy::pii` and by shape rules).
//! Values outrank names: a column named `phone` whose values are not phone numbers is not PII, and
//! an unnamed column full of valid resident IDs is. A name alone decides only when there are no
//! values to check. Every decision carries its confidence and the evidence behind it, in words,
//! so the catalog can say *why* a column is flagged.

use serde::{Deserialize, Serialize};

pub use super::lexicon::name_words;
use super::lexicon::{
    has, looks_like_address, looks_like_en_name, looks_like_zh_name, pii_name_hint, NOT_PERSON,
};
use super::ner::Verdicts;
use super::profile::{ColumnProfile, Physical};
use crate::privacy::pii::{self, PiiType};

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SemanticType {
    Pii(PiiKind),
    Id,
    Price,
    Currency,
    Quantity,
    Rating,
    Timestamp,
    Date,
    Boolean,
    Url,
    Category,
    ProductTitle,
    ReviewText,
    FreeText,
    Number,
    Code,
    Text,
    Empty,
}

/// Serde-friendly mirror of [`PiiType`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PiiKind(#[serde(with = "pii_name")] pub PiiType);

mod pii_name {
    use super::PiiType;
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(t: &PiiType, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(t.name())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PiiType, D::Error> {
        let s = String::deserialize(d)?;
        PiiType::from_name(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown PII {s}")))
    }
}

impl SemanticType {
    /// Readable lowercase name, as stored in the catalog.
    pub fn name(self) -> &'static str {
        match self {
            SemanticType::Pii(PiiKind(p)) => p.name(),
            SemanticType::Id => "id",
            SemanticType::Price => "price",
            SemanticType::Currency => "currency",
            SemanticType::Quantity => "quantity",
            SemanticType::Rating => "rating",
            SemanticType::Timestamp => "timestamp",
            SemanticType::Date => "date",
            SemanticType::Boolean => "boolean",
            SemanticType::Url => "url",
            SemanticType::Category => "category",
            SemanticType::ProductTitle => "product_title",
            SemanticType::ReviewText => "review_text",
            SemanticType::FreeText => "free_text",
            SemanticType::Number => "number",
            SemanticType::Code => "code",
            SemanticType::Text => "text",
            SemanticType::Empty => "empty",
        }
    }

    pub fn pii(self) -> Option<PiiType> {
        match self {
            SemanticType::Pii(PiiKind(p)) => Some(p),
            _ => None,
        }
    }
}

/// The decision for one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Semantic {
    pub kind: SemanticType,
    pub confidence: f64,
    /// Why, in words (name match, validator shares, shape rules).
    pub evidence: Vec<String>,
}

/// Share of `sample` for which `f` holds.
fn share(sample: &[String], f: impl Fn(&str) -> bool) -> f64 {
    if sample.is_empty() {
        return 0.0;
    }
    sample.iter().filter(|v| f(v)).count() as f64 / sample.len() as f64
}

fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

/// Share of sampled values passing each PII check. Names and addresses: the model's verdict
/// for values it read (Chinese ones), the shape rules for the rest.
fn pii_shares(sample: &[String], ner: Option<&Verdicts>) -> Vec<(PiiType, f64)> {
    let mut out: Vec<(PiiType, f64)> = PiiType::ALL
        .into_iter()
        .filter_map(|t| pii::validator(t).map(|f| (t, share(sample, f))))
        .collect();
    let verdict = |v: &str| ner.and_then(|n| n.get(v));
    out.push((
        PiiType::PersonName,
        share(sample, |v| match verdict(v) {
            Some(x) => x.person,
            None => looks_like_zh_name(v) || looks_like_en_name(v),
        }),
    ));
    out.push((
        PiiType::Address,
        share(sample, |v| match verdict(v) {
            Some(x) => x.address,
            None => looks_like_address(v),
        }),
    ));
    out
}

/// How many sampled values the model read.
fn model_read(sample: &[String], ner: Option<&Verdicts>) -> usize {
    ner.map_or(0, |n| sample.iter().filter(|v| n.get(v).is_some()).count())
}

/// Values must pass at this rate to make a column PII without a name hint …
const VALUES_ALONE: f64 = 0.9;
/// … and at this rate when the name agrees.
const WITH_NAME: f64 = 0.5;

/// Decides a column's semantic type; `ner` holds a name/address model's verdicts on sampled
/// values when one is installed (see `ner`).
pub fn infer(p: &ColumnProfile, ner: Option<&Verdicts>) -> Semantic {
    let words = name_words(&p.name);
    let sample = &p.sample;
    let hint = pii_name_hint(&words);
    let shares = pii_shares(sample, ner);
    let best = shares
        .iter()
        .copied()
        .filter(|(t, _)| !matches!(t, PiiType::PersonName | PiiType::Address))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    let validator_name = |t: PiiType| match t {
        PiiType::IdCard => "valid resident ID numbers (GB 11643 check character, real birth date)",
        PiiType::BankCard => "valid card numbers (Luhn, issuer prefix)",
        PiiType::Uscc => "valid Unified Social Credit Codes (GB 32100 check character)",
        PiiType::Phone => "phone numbers (mainland mobile or E.164)",
        PiiType::Email => "e-mail addresses",
        PiiType::IpAddress => "IP addresses",
        PiiType::Passport => "mainland passport numbers",
        PiiType::PersonName => "personal names (surname lexicon / capitalised name shape)",
        PiiType::Address => "postal addresses (administrative units / street and ZIP)",
        PiiType::BirthDate => "dates",
    };
    let n = sample.len();
    let pii = |t: PiiType, conf: f64, evidence: Vec<String>| Semantic {
        kind: SemanticType::Pii(PiiKind(t)),
        confidence: (conf * 1000.0).round() / 1000.0,
        evidence,
    };
    // 1. Values that validate strictly, with or without a name.
    if let Some((t, s)) = best {
        let named = hint == Some(t);
        if s >= VALUES_ALONE || (named && s >= WITH_NAME) {
            let mut ev = vec![format!(
                "{} of {n} sampled values are {}",
                pct(s),
                validator_name(t)
            )];
            if named {
                ev.push(format!("column name {:?} suggests {}", p.name, t.name()));
            }
            return pii(t, if named { s.max(0.95) } else { s }, ev);
        }
    }
    // 2. Names and addresses: shape rules, which need the column name's support or a very
    //    high share (and for names, many distinct values: a column of five city names is not a
    //    list of people).
    let distinct_ratio = p.distinct as f64 / (p.rows - p.nulls).max(1) as f64;
    for t in [PiiType::PersonName, PiiType::Address] {
        let s = shares
            .iter()
            .find(|(x, _)| *x == t)
            .map(|x| x.1)
            .unwrap_or(0.0);
        let named = hint == Some(t);
        let varied = t == PiiType::Address || distinct_ratio >= 0.2 || p.rows < 50;
        if t == PiiType::PersonName && has(&words, &NOT_PERSON) {
            continue;
        }
        if varied && (s >= VALUES_ALONE || (named && s >= WITH_NAME)) {
            let read = model_read(sample, ner);
            let mut ev = vec![if read > 0 {
                let model = ner.map_or("", |n| n.model.as_str());
                let what = if t == PiiType::PersonName {
                    "personal names (PER spans cover the value)"
                } else {
                    "postal addresses (LOC spans down to street level)"
                };
                format!(
                    "{} of {n} sampled values are {what}; model {model} read {read} of them, rules the rest",
                    pct(s)
                )
            } else {
                format!(
                    "{} of {n} sampled values look like {}",
                    pct(s),
                    validator_name(t)
                )
            }];
            if named {
                ev.push(format!("column name {:?} suggests {}", p.name, t.name()));
            }
            return pii(t, if named { s.max(0.9) } else { s * 0.9 }, ev);
        }
    }
    // 3. Birth dates: a date column whose name says so.
    if hint == Some(PiiType::BirthDate) && matches!(p.physical, Physical::Date | Physical::Datetime)
    {
        return pii(
            PiiType::BirthDate,
            0.9,
            vec![format!("dates in a column named {:?}", p.name)],
        );
    }
    // 4. A PII name with nothing to check.
    if let Some(t) = hint.filter(|_| n == 0) {
        return pii(
            t,
            0.5,
            vec![format!(
                "column name {:?} suggests {}; no values to check",
                p.name,
                t.name()
            )],
        );
    }
    let mut ev = Vec::new();
    if let (Some(t), Some((bt, s))) = (hint, best) {
        if t != PiiType::PersonName && t != PiiType::Address && bt == t {
            ev.push(format!(
                "column name suggests {} but only {} of {n} sampled values are {}",
                t.name(),
                pct(s),
                validator_name(t)
            ));
        }
    }
    let mut other = business_type(p, &words, distinct_ratio);
    other.evidence.extend(ev);
    other
}

/// Non-personal semantic types from name and shape: what the physical type settles, then
/// identifiers, then numbers by name, then text by name and shape.
fn business_type(p: &ColumnProfile, words: &str, distinct_ratio: f64) -> Semantic {
    if let Some(found) = by_shape(p).or_else(|| identifier(p, words, distinct_ratio)) {
        return found;
    }
    if matches!(p.physical, Physical::Integer | Physical::Decimal) {
        return number(p, words);
    }
    text_type(p, words, distinct_ratio)
}

/// A semantic type with one piece of evidence.
fn s(kind: SemanticType, confidence: f64, why: String) -> Semantic {
    Semantic {
        kind,
        confidence,
        evidence: vec![why],
    }
}

/// Types the values' shape settles: empty, URLs, booleans, date-times, dates.
fn by_shape(p: &ColumnProfile) -> Option<Semantic> {
    let sample = &p.sample;
    if p.physical == Physical::Empty {
        return Some(s(SemanticType::Empty, 1.0, "no non-null values".into()));
    }
    let url = share(sample, |v| {
        v.starts_with("http://") || v.starts_with("https://")
    });
    if url >= 0.9 {
        return Some(s(
            SemanticType::Url,
            url,
            format!("{} of values are http(s) URLs", pct(url)),
        ));
    }
    if p.physical == Physical::Boolean {
        return Some(s(
            SemanticType::Boolean,
            1.0,
            "values are true/false".into(),
        ));
    }
    if p.physical == Physical::Datetime {
        return Some(s(
            SemanticType::Timestamp,
            1.0,
            "values parse as date-times".into(),
        ));
    }
    if p.physical == Physical::Date {
        return Some(s(SemanticType::Date, 1.0, "values parse as dates".into()));
    }
    None
}

/// Identifiers, by name or by unique hexadecimal values.
fn identifier(p: &ColumnProfile, words: &str, distinct_ratio: f64) -> Option<Semantic> {
    let sample = &p.sample;
    let named = |keys: &[&str]| has(words, keys);
    let id_words = ["id", "uuid", "guid", "key", "no", "编号", "单号", "订单号"];
    if named(&id_words) {
        return Some(s(
            SemanticType::Id,
            0.9,
            format!("column name {:?} names an identifier", p.name),
        ));
    }
    let hexish = share(sample, |v| {
        v.len() >= 16 && v.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
    });
    if hexish >= 0.95 && distinct_ratio >= 0.5 {
        return Some(s(
            SemanticType::Id,
            0.8,
            format!("{} of values are hexadecimal keys", pct(hexish)),
        ));
    }
    None
}

/// Numbers by their column's name: prices, ratings, quantities, timestamps, else plain numbers.
fn number(p: &ColumnProfile, words: &str) -> Semantic {
    let named = |keys: &[&str]| has(words, keys);
    if named(&[
        "price", "amount", "cost", "fee", "value", "total", "payment", "revenue", "gmv", "价格",
        "金额", "售价", "单价", "价", "费",
    ]) {
        return s(
            SemanticType::Price,
            0.9,
            format!("numeric column named {:?}", p.name),
        );
    }
    if named(&["rating", "score", "stars", "star", "评分", "星级", "打分"]) {
        return s(
            SemanticType::Rating,
            0.9,
            format!("numeric column named {:?}", p.name),
        );
    }
    if p.physical == Physical::Integer
        && named(&[
            "qty",
            "quantity",
            "count",
            "num",
            "stock",
            "inventory",
            "installments",
            "数量",
            "库存",
            "件数",
        ])
    {
        return s(
            SemanticType::Quantity,
            0.9,
            format!("integer column named {:?}", p.name),
        );
    }
    if named(&["time", "timestamp", "ts", "时间", "时间戳"]) {
        return s(
            SemanticType::Timestamp,
            0.7,
            format!("numeric column named {:?}", p.name),
        );
    }
    s(SemanticType::Number, 0.6, "numeric values".into())
}

/// Text by name and shape: currencies, review texts, titles, categories, free text, codes.
fn text_type(p: &ColumnProfile, words: &str, distinct_ratio: f64) -> Semantic {
    let sample = &p.sample;
    let mean_len = p.mean_length.unwrap_or(0.0);
    let named = |keys: &[&str]| has(words, keys);
    let iso = share(sample, |v| {
        v.len() == 3
            && [
                "CNY", "RMB", "USD", "EUR", "JPY", "HKD", "GBP", "BRL", "KRW",
            ]
            .contains(&v)
    });
    if named(&["currency", "币种"]) || iso >= 0.9 {
        return s(SemanticType::Currency, 0.9, "currency codes".into());
    }
    if named(&[
        "review", "comment", "comments", "评论", "评价", "content", "text", "message", "内容",
    ]) && mean_len >= 8.0
    {
        return s(
            SemanticType::ReviewText,
            0.8,
            format!("text column named {:?}", p.name),
        );
    }
    if named(&[
        "title",
        "product name",
        "item name",
        "goods name",
        "name",
        "商品名称",
        "标题",
        "品名",
        "商品名",
    ]) && mean_len >= 6.0
    {
        return s(
            SemanticType::ProductTitle,
            0.8,
            format!("text column named {:?}", p.name),
        );
    }
    if named(&[
        "category", "cat", "type", "class", "kind", "类目", "分类", "品类", "类别",
    ]) || (distinct_ratio < 0.05 && p.distinct <= 2000 && mean_len < 40.0 && p.rows >= 50)
    {
        return s(
            SemanticType::Category,
            0.7,
            format!("{} distinct values over {} rows", p.distinct, p.rows),
        );
    }
    if mean_len >= 40.0 {
        return s(
            SemanticType::FreeText,
            0.6,
            format!("long text (mean {mean_len:.0} characters)"),
        );
    }
    if distinct_ratio >= 0.9 && mean_len <= 24.0 && !sample.iter().any(|v| v.contains(' ')) {
        return s(
            SemanticType::Code,
            0.6,
            "short unique values without spaces".into(),
        );
    }
    s(SemanticType::Text, 0.5, "text".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::profile::ColumnProfiler;

    fn col(name: &str, values: &[&str]) -> Semantic {
        let mut p = ColumnProfiler::new(name, None);
        for v in values {
            p.push(Some(v));
        }
        infer(&p.finish(), None)
    }

    #[test]
    fn names_are_split_into_words() {
        assert_eq!(name_words("customerPhoneNo"), " customer phone no ");
        assert_eq!(name_words("ACADEMIC_YEAR_CODE"), " academic year code ");
        assert_eq!(name_words("收货人手机"), " 收货人手机 ");
    }

    #[test]
    fn values_decide_over_names() {
        let ids = ["11010519491231002X", "440524198001010013"];
        assert_eq!(col("x1", &ids).kind.pii(), Some(PiiType::IdCard));
        let phones = ["13812345678", "15912345678", "18612345678"];
        let c = col("联系电话", &phones);
        assert_eq!(c.kind.pii(), Some(PiiType::Phone));
        assert!(
            c.evidence.iter().any(|e| e.contains("suggests phone")),
            "{c:?}"
        );
        // A phone-named column of order codes is not PII, and says why.
        let c = col("phone", &["A-1", "B-2", "C-3"]);
        assert_eq!(c.kind.pii(), None);
        // Year codes that look like IDs are not IDs.
        let c = col(
            "ACADEMIC_YEAR_CODE",
            &["202120222023202427", "201920202021202212"],
        );
        assert_eq!(c.kind.pii(), None, "{c:?}");
    }

    #[test]
    fn names_and_addresses_by_shape() {
        let c = col("收货人", &["王芳", "李伟", "张秀英", "刘洋"]);
        assert_eq!(c.kind.pii(), Some(PiiType::PersonName));
        let c = col(
            "customer",
            &["John Smith", "Mary Johnson", "Dr. Alan Turing"],
        );
        assert_eq!(c.kind.pii(), Some(PiiType::PersonName), "{c:?}");
        let c = col(
            "addr",
            &[
                "浙江省杭州市西湖区文三路90号",
                "广东省深圳市南山区科技园路1号",
            ],
        );
        assert_eq!(c.kind.pii(), Some(PiiType::Address));
        let c = col(
            "where",
            &[
                "0487 Hull Village Suite 759\nLake Debra, SD 93587",
                "12 Main St, Springfield, IL 62704",
            ],
        );
        assert_eq!(c.kind.pii(), Some(PiiType::Address), "{c:?}");
        // UK style: titles without dots, postcodes instead of ZIP codes.
        let c = col(
            "holder",
            &["Mr Sean Dickinson", "Dr Joel Moore", "Holly Harris"],
        );
        assert_eq!(c.kind.pii(), Some(PiiType::PersonName), "{c:?}");
        let c = col(
            "deliver_to",
            &[
                "Studio 6\nShaw Fort\nEast Cameron\nG43 9ZW",
                "117 Elliott Place\nHopetown\nE5W 2BU",
            ],
        );
        assert_eq!(c.kind.pii(), Some(PiiType::Address), "{c:?}");
        // Brand and street names are capitalised words too, but the column says what they are.
        let c = col("brand_name", &["Green Valley", "Blue Ocean"]);
        assert_eq!(c.kind.pii(), None);
        let c = col("street", &["Jack Gateway", "Bowman Trail"]);
        assert_eq!(c.kind.pii(), None);
    }

    #[test]
    fn business_types() {
        assert_eq!(col("price", &["9.9", "19.5"]).kind, SemanticType::Price);
        assert_eq!(col("order_id", &["a1", "b2"]).kind, SemanticType::Id);
        assert_eq!(
            col("created", &["2017-10-02 10:56:33"]).kind,
            SemanticType::Timestamp
        );
        assert_eq!(
            col("url", &["https://a.cn/x", "http://b.com"]).kind,
            SemanticType::Url
        );
        assert_eq!(
            col("评论内容", &["质量很好，物流也快，推荐购买"]).kind,
            SemanticType::ReviewText
        );
        assert_eq!(
            col("商品名称", &["Apple iPhone 15 Pro 256GB 黑色"]).kind,
            SemanticType::ProductTitle
        );
        assert_eq!(col("review_score", &["5", "4"]).kind, SemanticType::Rating);
        assert_eq!(col("qty", &["5", "4"]).kind, SemanticType::Quantity);
    }
}
