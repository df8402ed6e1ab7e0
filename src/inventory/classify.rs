//! Business kinds of assets: product catalog, reviews, behaviour log, orders, user profiles,
//! inventory, sellers, other.
//!
//! An asset's kind follows from what its columns *are* (semantic types from `semantic`) and what
//! it and its columns are *called*. Each signal adds weight to a kind and a reason in words; the
//! heaviest kind wins, with a confidence that is its share of all the weight (so an asset that
//! looks equally like orders and reviews gets about 0.5). Weak evidence (less than two points)
//! leaves the asset as `other` rather than guessing.

use serde::{Deserialize, Serialize};

use super::semantic::{name_words, Semantic, SemanticType};
use crate::privacy::pii::PiiType;

/// What an asset is for the business.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssetKind {
    ProductCatalog,
    Reviews,
    UserBehaviourLog,
    Orders,
    UserProfiles,
    Inventory,
    Sellers,
    Other,
}

impl AssetKind {
    pub const ALL: [AssetKind; 8] = [
        AssetKind::ProductCatalog,
        AssetKind::Reviews,
        AssetKind::UserBehaviourLog,
        AssetKind::Orders,
        AssetKind::UserProfiles,
        AssetKind::Inventory,
        AssetKind::Sellers,
        AssetKind::Other,
    ];

    pub fn name(self) -> &'static str {
        match self {
            AssetKind::ProductCatalog => "product_catalog",
            AssetKind::Reviews => "reviews",
            AssetKind::UserBehaviourLog => "user_behaviour_log",
            AssetKind::Orders => "orders",
            AssetKind::UserProfiles => "user_profiles",
            AssetKind::Inventory => "inventory",
            AssetKind::Sellers => "sellers",
            AssetKind::Other => "other",
        }
    }

    pub fn from_name(s: &str) -> Option<AssetKind> {
        AssetKind::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// The decision for one asset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    pub kind: AssetKind,
    pub confidence: f64,
    pub reasons: Vec<String>,
}

fn has(words: &str, keys: &[&str]) -> bool {
    keys.iter().any(|k| {
        if k.is_ascii() {
            words.contains(&format!(" {k} ")) || words.contains(&format!(" {k}s "))
        } else {
            words.contains(k)
        }
    })
}

const NAME_KEYS: [(AssetKind, &[&str]); 7] = [
    (
        AssetKind::ProductCatalog,
        &[
            "product",
            "item",
            "goods",
            "sku",
            "catalog",
            "catalogue",
            "title",
            "商品",
            "产品",
        ],
    ),
    (
        AssetKind::Reviews,
        &["review", "comment", "rating", "feedback", "评论", "评价"],
    ),
    (
        AssetKind::UserBehaviourLog,
        &[
            "behavior",
            "behaviour",
            "event",
            "click",
            "log",
            "action",
            "interaction",
            "view",
            "行为",
            "日志",
            "点击",
        ],
    ),
    (
        AssetKind::Orders,
        &[
            "order",
            "payment",
            "transaction",
            "trade",
            "purchase",
            "订单",
            "交易",
            "支付",
        ],
    ),
    (
        AssetKind::UserProfiles,
        &[
            "user", "customer", "member", "account", "profile", "buyer", "用户", "客户", "会员",
        ],
    ),
    (
        AssetKind::Inventory,
        &["stock", "inventory", "warehouse", "库存", "仓库"],
    ),
    (
        AssetKind::Sellers,
        &[
            "seller", "shop", "merchant", "store", "vendor", "商家", "卖家", "店铺",
        ],
    ),
];

/// Classifies an asset from its name and its columns' names and semantic types: each rule
/// votes for a kind with a weight and a reason; the kind with the most votes wins when it has
/// enough of them.
pub fn classify(asset_name: &str, columns: &[(String, Semantic)]) -> Classification {
    let mut v = Votes {
        score: [0.0; 8],
        reasons: vec![Vec::new(); 8],
    };
    let c = Columns(columns);
    by_name(asset_name, &mut v);
    by_products(&c, &mut v);
    by_people(&c, &mut v);
    by_trade(&c, &mut v);
    v.verdict()
}

/// The votes of the rules, per kind.
struct Votes {
    score: [f64; 8],
    reasons: Vec<Vec<String>>,
}

impl Votes {
    fn add(&mut self, k: AssetKind, w: f64, why: String) {
        self.score[k as usize] += w;
        self.reasons[k as usize].push(why);
    }

    fn verdict(mut self) -> Classification {
        let total: f64 = self.score.iter().sum();
        let (best, &top) = self
            .score
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))
            .expect("eight kinds");
        if top < 2.0 {
            return Classification {
                kind: AssetKind::Other,
                confidence: 1.0 - top / 4.0,
                reasons: vec!["no kind has enough evidence".into()],
            };
        }
        Classification {
            kind: AssetKind::ALL[best],
            confidence: ((top / total) * 1000.0).round() / 1000.0,
            reasons: std::mem::take(&mut self.reasons[best]),
        }
    }
}

/// An asset's columns as the rules read them.
struct Columns<'a>(&'a [(String, Semantic)]);

impl Columns<'_> {
    /// Columns of semantic type `t`.
    fn count(&self, t: SemanticType) -> usize {
        self.0.iter().filter(|(_, s)| s.kind == t).count()
    }

    /// Columns whose name has one of `keys`.
    fn named(&self, keys: &[&str]) -> usize {
        self.0
            .iter()
            .filter(|(n, _)| has(&name_words(n), keys))
            .count()
    }
}

/// The asset's own name (its file stem or table name).
fn by_name(asset_name: &str, v: &mut Votes) {
    let stem = asset_name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(asset_name)
        .split('.')
        .next()
        .unwrap_or(asset_name);
    let asset_words = name_words(stem);
    for (kind, keys) in NAME_KEYS {
        if has(&asset_words, keys) {
            v.add(
                kind,
                2.0,
                format!("asset name {stem:?} suggests {}", kind.name()),
            );
        }
    }
}

/// Reviews and product catalogues: review texts, ratings, titles, brands, categories, sizes.
fn by_products(c: &Columns<'_>, v: &mut Votes) {
    if c.count(SemanticType::ReviewText) > 0 {
        v.add(AssetKind::Reviews, 3.0, "has review text".into());
    }
    if c.count(SemanticType::Rating) > 0 {
        v.add(AssetKind::Reviews, 1.0, "has a rating column".into());
    }
    if c.count(SemanticType::ProductTitle) > 0 {
        v.add(AssetKind::ProductCatalog, 2.0, "has product titles".into());
    }
    if c.named(&["brand", "品牌"]) > 0 {
        v.add(AssetKind::ProductCatalog, 1.0, "has a brand column".into());
    }
    if c.count(SemanticType::Category) > 0 && c.named(&["category", "类目", "分类"]) > 0 {
        v.add(
            AssetKind::ProductCatalog,
            1.0,
            "has a product category column".into(),
        );
    }
    let dims = c.named(&["weight", "length", "height", "width", "photos", "重量"]);
    if dims >= 2 {
        v.add(
            AssetKind::ProductCatalog,
            1.5,
            format!("{dims} product dimension columns"),
        );
    }
}

/// User profiles (personal data) and behaviour logs (users, items and times).
fn by_people(c: &Columns<'_>, v: &mut Votes) {
    let pii: Vec<PiiType> = c.0.iter().filter_map(|(_, s)| s.kind.pii()).collect();
    let people = pii
        .iter()
        .filter(|p| {
            matches!(
                p,
                PiiType::PersonName
                    | PiiType::Phone
                    | PiiType::Email
                    | PiiType::IdCard
                    | PiiType::Address
                    | PiiType::BirthDate
            )
        })
        .count();
    if people > 0 {
        v.add(
            AssetKind::UserProfiles,
            1.5 + people as f64 * 0.5,
            format!("{people} personal-data columns"),
        );
    }
    let has_user = c.named(&[
        "user", "customer", "buyer", "member", "用户", "客户", "会员",
    ]) > 0;
    let has_item = c.named(&["item", "product", "sku", "goods", "商品"]) > 0;
    let has_time = c.count(SemanticType::Timestamp) + c.count(SemanticType::Date) > 0;
    if has_user && has_item && has_time {
        v.add(
            AssetKind::UserBehaviourLog,
            2.0,
            "links users to items with a time".into(),
        );
    }
    if c.named(&[
        "behavior",
        "behaviour",
        "action",
        "event",
        "event type",
        "行为",
    ]) > 0
    {
        v.add(
            AssetKind::UserBehaviourLog,
            2.0,
            "has an action/event column".into(),
        );
    }
}

/// Orders, stock and sellers.
fn by_trade(c: &Columns<'_>, v: &mut Votes) {
    let has_time = c.count(SemanticType::Timestamp) + c.count(SemanticType::Date) > 0;
    if c.named(&["order status", "order", "payment", "installments", "订单"]) > 0 {
        v.add(
            AssetKind::Orders,
            1.5,
            "has order or payment columns".into(),
        );
    }
    if c.count(SemanticType::Price) > 0 && has_time {
        v.add(AssetKind::Orders, 1.0, "has amounts with a time".into());
    }
    if c.named(&["stock", "inventory", "warehouse", "库存", "仓库"]) > 0 {
        v.add(
            AssetKind::Inventory,
            3.0,
            "has stock or warehouse columns".into(),
        );
    }
    let seller_cols = c.named(&[
        "seller", "shop", "merchant", "vendor", "商家", "卖家", "店铺",
    ]);
    if seller_cols >= 2 || (seller_cols == 1 && c.0.len() <= 5) {
        v.add(
            AssetKind::Sellers,
            1.5,
            format!("{seller_cols} seller columns"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sem(kind: SemanticType) -> Semantic {
        Semantic {
            kind,
            confidence: 1.0,
            evidence: vec![],
        }
    }

    fn cols(c: &[(&str, SemanticType)]) -> Vec<(String, Semantic)> {
        c.iter().map(|(n, k)| (n.to_string(), sem(*k))).collect()
    }

    #[test]
    fn typical_tables_get_their_kind() {
        use SemanticType::*;
        let reviews = cols(&[
            ("review_id", Id),
            ("review_comment_message", ReviewText),
            ("review_score", Rating),
        ]);
        assert_eq!(
            classify("olist_order_reviews_dataset.csv", &reviews).kind,
            AssetKind::Reviews
        );
        let log = cols(&[
            ("user_id", Id),
            ("item_id", Id),
            ("behavior_type", Category),
            ("time", Timestamp),
        ]);
        assert_eq!(
            classify("UserBehavior.csv", &log).kind,
            AssetKind::UserBehaviourLog
        );
        let products = cols(&[
            ("product_id", Id),
            ("title", ProductTitle),
            ("brand", Text),
            ("price", Price),
        ]);
        assert_eq!(classify("goods", &products).kind, AssetKind::ProductCatalog);
        let phone = SemanticType::Pii(super::super::semantic::PiiKind(PiiType::Phone));
        let name = SemanticType::Pii(super::super::semantic::PiiKind(PiiType::PersonName));
        let users = cols(&[("id", Id), ("姓名", name), ("手机", phone)]);
        let c = classify("t_member", &users);
        assert_eq!(c.kind, AssetKind::UserProfiles);
        assert!(
            c.reasons.iter().any(|r| r.contains("personal-data")),
            "{c:?}"
        );
        let stock = cols(&[
            ("sku", Code),
            ("warehouse", Category),
            ("stock_qty", Quantity),
        ]);
        assert_eq!(classify("t_stock", &stock).kind, AssetKind::Inventory);
        let sellers = cols(&[
            ("seller_id", Id),
            ("seller_zip_code_prefix", Number),
            ("seller_city", Category),
        ]);
        assert_eq!(
            classify("olist_sellers_dataset", &sellers).kind,
            AssetKind::Sellers
        );
        assert_eq!(
            classify("misc", &cols(&[("a", Number)])).kind,
            AssetKind::Other
        );
    }
}
