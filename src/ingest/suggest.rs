//! `stocktake ingest --suggest ASSET`: a first mapping proposed from the inventory's reading of
//! the asset, for a person to review before the first run.
//!
//! The scan already knows what each column holds (semantic type, with evidence) and its name
//! in words; the entity type follows from which roles are present (a product title → products,
//! review text → reviews, a user and a product key with an action or a time → interactions), and
//! each field takes the best column for its role. Personal data is never proposed: a column the
//! inventory flags as PII is listed in a comment as deliberately left out. Every choice is
//! explained in a comment, so the mapping can be checked against the data before it is trusted.

use std::collections::BTreeMap;

use super::mapping::{Entity, Mapping};
use crate::inventory::semantic::{name_words, PiiKind, SemanticType};
use crate::inventory::AssetScan;
use crate::privacy::pii::PiiType;

/// A proposed mapping and the reasons for it.
#[derive(Debug, Clone)]
pub struct Suggestion {
    pub mapping: Mapping,
    /// TOML with a comment per choice; parses back to `mapping`.
    pub toml: String,
}

/// Column facts the rules read.
struct Col<'a> {
    name: &'a str,
    words: String,
    kind: SemanticType,
    confidence: f64,
}

fn named(words: &str, keys: &[&str]) -> bool {
    keys.iter().any(|k| {
        if k.is_ascii() {
            words.contains(&format!(" {k} "))
        } else {
            words.contains(k)
        }
    })
}

const PRODUCT: &[&str] = &[
    "product", "item", "sku", "goods", "spu", "asin", "商品", "货品", "宝贝",
];
const USER: &[&str] = &[
    "user", "uid", "customer", "buyer", "member", "visitor", "用户", "买家", "会员", "顾客",
];
const REVIEW: &[&str] = &["review", "comment", "feedback", "评论", "评价"];
const SELLER: &[&str] = &[
    "seller", "shop", "store", "merchant", "vendor", "店铺", "商家", "卖家",
];
const BRAND: &[&str] = &["brand", "manufacturer", "maker", "品牌", "厂商"];
const CATEGORY: &[&str] = &["category", "cat", "class", "type", "类目", "分类", "品类"];
const ACTION: &[&str] = &[
    "action",
    "behavior",
    "behaviour",
    "event",
    "kind",
    "btype",
    "行为",
    "动作",
    "类型",
];
const TIME: &[&str] = &[
    "time",
    "ts",
    "timestamp",
    "date",
    "at",
    "datetime",
    "时间",
    "日期",
];
const PRICE: &[&str] = &["price", "cost", "amount", "价格", "售价", "单价", "金额"];
const CITY: &[&str] = &["city", "城市", "所在地"];
const WAREHOUSE: &[&str] = &["warehouse", "wh", "depot", "dc", "仓库", "仓"];
const ON_HAND: &[&str] = &[
    "on hand",
    "onhand",
    "stock",
    "inventory",
    "available",
    "库存",
    "在库",
];
const MOVE_KIND: &[&str] = &["movement", "move", "receipt", "shipment", "出入库", "变动"];
const NAME: &[&str] = &["name", "名称", "名字"];
const ID: &[&str] = &["id", "key", "code", "no", "编号", "号"];

/// Product titles, but not a shop's name, which reads like one ("杭州手机专营店"): its column
/// name says whose.
fn is_title(c: &Col<'_>) -> bool {
    c.kind == SemanticType::ProductTitle && !named(&c.words, SELLER) && !named(&c.words, USER)
}

fn is_key(c: &Col<'_>) -> bool {
    matches!(
        c.kind,
        SemanticType::Id | SemanticType::Code | SemanticType::Number
    ) || (named(&c.words, ID) && !matches!(c.kind, SemanticType::Pii(_)))
}

/// Proposes a mapping for `asset`, or says why none fits.
pub fn suggest(asset: &AssetScan) -> Result<Suggestion, String> {
    let cols: Vec<Col<'_>> = asset
        .scanned_columns
        .iter()
        .map(|c| Col {
            name: &c.profile.name,
            words: name_words(&c.profile.name),
            kind: c.semantic.kind,
            confidence: c.semantic.confidence,
        })
        .collect();
    if cols.is_empty() {
        return Err(format!("{} has no columns to map", asset.location));
    }
    let Some(entity) = entity_of(&cols) else {
        return Err(format!(
            "no entity fits {}: it has no product title, review text, user or product key, or seller key \
             (write the mapping by hand; see demo/mappings for examples)",
            asset.location
        ));
    };
    let mut picker = Picker {
        cols: &cols,
        taken: Vec::new(),
        why: BTreeMap::new(),
        columns: BTreeMap::new(),
    };
    pick(entity, &mut picker);
    let Picker { why, columns, .. } = picker;
    let missing: Vec<&str> = entity
        .fields()
        .iter()
        .filter(|(f, required)| *required && !columns.contains_key(*f))
        .map(|(f, _)| *f)
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "{} looks like {} records but no column fits the required field(s) {}",
            asset.location,
            entity.as_str(),
            missing.join(", ")
        ));
    }
    let mut defaults = super::mapping::Defaults::default();
    if entity == Entity::Interaction && !columns.contains_key("kind") {
        defaults.kind = Some("viewed".into());
    }
    let mapping = Mapping {
        entity,
        namespace: None,
        product_namespace: None,
        encoding: None,
        keep: entity
            .personal_fields()
            .iter()
            .filter(|f| columns.contains_key(**f))
            .map(|f| (f.to_string(), super::mapping::Keep::Encrypted))
            .collect(),
        columns,
        defaults,
    };
    let toml = render(asset, &mapping, &why, &cols);
    Ok(Suggestion { mapping, toml })
}

/// Takes the columns of `entity`'s fields, each the first free column its rule picks.
fn pick(entity: Entity, p: &mut Picker<'_>) {
    let key = |keys: &'static [&'static str]| move |c: &Col<'_>| is_key(c) && named(&c.words, keys);
    let kind = |k: SemanticType| move |c: &Col<'_>| c.kind == k;
    match entity {
        Entity::Product => {
            p.take("id", "the product key", &key(PRODUCT))
                .or_else(|| p.take("id", "the first key column", &is_key));
            p.take("title", "product titles", &is_title);
            p.take("price", "prices", &kind(SemanticType::Price))
                .or_else(|| {
                    // A price column with a few words in it ("面议") reads as text to the
                    // inventory; its name still says what it is, and cleaning quarantines the words.
                    p.take("price", "named as a price", &|c| {
                        named(&c.words, PRICE) && !matches!(c.kind, SemanticType::Pii(_))
                    })
                });
            p.take("currency", "currency codes", &kind(SemanticType::Currency));
            p.take("brand", "named as a brand", &|c| named(&c.words, BRAND));
            p.take("category", "categories", &kind(SemanticType::Category))
                .or_else(|| {
                    p.take("category", "named as a category", &|c| {
                        named(&c.words, CATEGORY)
                    })
                });
            p.take("seller", "the seller key", &key(SELLER));
            p.take("description", "free text", &|c| {
                matches!(c.kind, SemanticType::FreeText | SemanticType::ReviewText)
            });
        }
        Entity::Review => {
            p.take("id", "the review key", &key(REVIEW));
            p.take("product", "the reviewed product's key", &key(PRODUCT));
            p.take(
                "user",
                "the reviewer's key (pseudonymised on ingest)",
                &key(USER),
            );
            p.take("rating", "ratings", &kind(SemanticType::Rating));
            p.take("text", "review text", &kind(SemanticType::ReviewText))
                .or_else(|| {
                    p.take("text", "free text", &|c| {
                        matches!(c.kind, SemanticType::FreeText | SemanticType::Text)
                    })
                });
            p.take("time", "times", &|c| {
                matches!(c.kind, SemanticType::Timestamp | SemanticType::Date)
            })
            .or_else(|| p.take("time", "named as a time", &|c| named(&c.words, TIME)));
        }
        Entity::Interaction => {
            p.take(
                "user",
                "the user's key (pseudonymised on ingest)",
                &key(USER),
            );
            p.take("product", "the product's key", &key(PRODUCT));
            p.take("kind", "named as an action", &|c| named(&c.words, ACTION));
            p.take("time", "times", &|c| {
                matches!(c.kind, SemanticType::Timestamp | SemanticType::Date)
            })
            .or_else(|| p.take("time", "named as a time", &|c| named(&c.words, TIME)));
            p.take("rating", "ratings", &kind(SemanticType::Rating));
        }
        Entity::Stock | Entity::Movement => {
            let named_as = |keys: &'static [&'static str]| move |c: &Col<'_>| named(&c.words, keys);
            p.take("product", "the product key", &key(PRODUCT));
            p.take("warehouse", "named as a warehouse", &named_as(WAREHOUSE));
            if entity == Entity::Stock {
                p.take("on_hand", "named as stock on hand", &named_as(ON_HAND));
                p.take(
                    "reserved",
                    "named as reserved",
                    &named_as(&["reserved", "预留", "锁定"]),
                );
                p.take(
                    "in_transit",
                    "named as in transit",
                    &named_as(&["transit", "在途"]),
                );
                p.take(
                    "lot",
                    "named as a lot",
                    &named_as(&["lot", "batch", "批次"]),
                );
                p.take(
                    "expires",
                    "named as an expiry date",
                    &named_as(&["expiry", "expires", "expiration", "到期", "保质"]),
                );
                p.take(
                    "lead_time",
                    "named as a lead time",
                    &named_as(&["lead", "提前期", "补货周期"]),
                );
                p.take("cost", "named as a cost", &named_as(&["cost", "成本"]));
            } else {
                p.take("kind", "named as a movement kind", &named_as(MOVE_KIND));
                p.take(
                    "quantity",
                    "named as a quantity",
                    &named_as(&["quantity", "qty", "数量"]),
                );
            }
            p.take("time", "times", &|c| {
                matches!(c.kind, SemanticType::Timestamp | SemanticType::Date)
            });
        }
        Entity::Seller => {
            p.take("id", "the seller key", &key(SELLER));
            p.take("name", "named as a name", &|c| named(&c.words, NAME));
            p.take("city", "named as a city", &|c| named(&c.words, CITY));
        }
        Entity::User => {
            p.take("id", "the user key (pseudonymised on ingest)", &key(USER));
            for (field, pii) in [
                ("name", PiiType::PersonName),
                ("phone", PiiType::Phone),
                ("email", PiiType::Email),
                ("address", PiiType::Address),
            ] {
                p.take_personal(field, pii);
            }
        }
    }
}

/// Which entity a table's columns describe, if any.
fn entity_of(cols: &[Col<'_>]) -> Option<Entity> {
    let has_kind = |k: SemanticType| cols.iter().any(|c| c.kind == k);
    let key_named = |keys: &[&str]| cols.iter().any(|c| is_key(c) && named(&c.words, keys));
    Some(
        if cols.iter().any(is_title) && (key_named(PRODUCT) || !key_named(SELLER)) {
            Entity::Product
        } else if (has_kind(SemanticType::ReviewText) || key_named(REVIEW)) && key_named(PRODUCT) {
            Entity::Review
        } else if key_named(PRODUCT)
            && !key_named(USER)
            && cols.iter().any(|c| named(&c.words, WAREHOUSE))
        {
            if cols.iter().any(|c| named(&c.words, MOVE_KIND)) {
                Entity::Movement
            } else {
                Entity::Stock
            }
        } else if key_named(USER) && key_named(PRODUCT) {
            Entity::Interaction
        } else if key_named(SELLER) {
            Entity::Seller
        } else if key_named(USER) {
            Entity::User
        } else {
            return None;
        },
    )
}

/// The columns taken so far for a mapping, and why each was.
struct Picker<'a> {
    cols: &'a [Col<'a>],
    taken: Vec<&'a str>,
    why: BTreeMap<String, String>,
    columns: BTreeMap<String, String>,
}

impl<'a> Picker<'a> {
    /// Takes the first free, non-personal column matching `pick` for `field`.
    fn take(
        &mut self,
        field: &str,
        reason: &str,
        pick: &dyn Fn(&Col<'_>) -> bool,
    ) -> Option<&'a str> {
        let cols = self.cols;
        let found = cols
            .iter()
            .filter(|c| !self.taken.contains(&c.name) && !matches!(c.kind, SemanticType::Pii(_)))
            .find(|c| pick(c))?;
        self.taken.push(found.name);
        self.columns.insert(field.to_owned(), found.name.to_owned());
        self.why.insert(
            field.to_owned(),
            format!(
                "{reason} (inventory: {}, confidence {:.2})",
                found.kind.name(),
                found.confidence
            ),
        );
        Some(found.name)
    }

    /// Takes the first free column the inventory found to hold `pii` personal data, for a
    /// field that is kept only sealed.
    fn take_personal(&mut self, field: &str, pii: PiiType) {
        let Some(found) = self
            .cols
            .iter()
            .find(|c| !self.taken.contains(&c.name) && c.kind == SemanticType::Pii(PiiKind(pii)))
        else {
            return;
        };
        self.taken.push(found.name);
        self.columns.insert(field.to_owned(), found.name.to_owned());
        self.why.insert(
            field.to_owned(),
            format!(
                "personal data, kept only sealed (inventory: {}, confidence {:.2})",
                found.kind.name(),
                found.confidence
            ),
        );
    }
}

fn render(
    asset: &AssetScan,
    m: &Mapping,
    why: &BTreeMap<String, String>,
    cols: &[Col<'_>],
) -> String {
    let q = |s: &str| toml::Value::String(s.to_owned()).to_string();
    let mut out = format!(
        "# Suggested by `stocktake ingest --suggest` from the inventory's reading of {}.\n\
         # Review every line before the first run.\n\
         entity = {}\n",
        asset.location,
        q(m.entity.as_str())
    );
    if matches!(m.entity, Entity::Review | Entity::Interaction) {
        out.push_str(
            "# product_namespace = \"products\"   # the namespace the products were ingested under\n",
        );
    }
    out.push_str("[columns]\n");
    for (field, column) in &m.columns {
        out.push_str(&format!(
            "{field} = {}   # {}\n",
            q(column),
            why.get(field).map_or("", String::as_str)
        ));
    }
    if !m.keep.is_empty() {
        out.push_str(
            "[keep]   # personal fields: stored only sealed (XChaCha20-Poly1305), opened by an \
             audited decryption\n",
        );
        for field in m.keep.keys() {
            out.push_str(&format!("{field} = \"encrypted\"\n"));
        }
    }
    for c in cols {
        if m.columns.values().any(|v| v == c.name) {
            continue;
        }
        if let SemanticType::Pii(p) = c.kind {
            out.push_str(&format!(
                "# {:?} is left out: the inventory found personal data ({})\n",
                c.name,
                p.0.name()
            ));
        } else {
            out.push_str(&format!(
                "# {:?} ({}) is not mapped\n",
                c.name,
                c.kind.name()
            ));
        }
    }
    if let Some(k) = &m.defaults.kind {
        out.push_str(&format!(
            "[defaults]\nkind = {}   # no action column: every row is one kind of interaction\n",
            q(k)
        ));
    }
    if m.entity == Entity::Product
        && m.columns.contains_key("price")
        && !m.columns.contains_key("currency")
    {
        out.push_str("# [defaults]\n# currency = \"CNY\"   # when prices name no currency\n");
    }
    out
}
