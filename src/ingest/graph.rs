//! One cleaned record as product-graph statements (schema.org first, `st:` where it has no
//! term), or the reasons it cannot be one.
//!
//! IRIs come from business keys (`{base}id/product/{namespace}/{key}`), never from row numbers
//! or run ids, so re-ingesting the same input writes the same triples and the store (a set)
//! does not change. Shared nodes — brands, categories, users — are keyed by their normalised
//! name or pseudonym, so every record that mentions them links to one node. Users are
//! pseudonymous: their IRI is a keyed hash of the source's user id, and nothing else about them
//! is written.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

use super::clean::{self, Measure};
use super::mapping::{Entity, Mapping};
use crate::catalog::vocab::{PROV, RDF, SCHEMA, SKOS, ST};
use crate::catalog::{Object, Statement};

/// Characters kept as they are in IRI path segments (RFC 3986 unreserved).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// Interaction kinds and the relation each becomes (the ones TransE learns and
/// `/api/v1/recommend` follows).
pub fn interaction_kind(raw: &str) -> Result<&'static str, String> {
    let k = clean::text(raw).to_lowercase();
    Ok(match k.as_str() {
        "viewed" | "view" | "pv" | "click" | "浏览" | "点击" => "viewed",
        "purchased" | "purchase" | "buy" | "order" | "购买" | "下单" => "purchased",
        "rated" | "rate" | "rating" | "review" | "评分" | "评价" => "rated",
        _ => {
            return Err(format!(
            "interaction kind {raw:?} is not one of viewed, purchased, rated (or their synonyms)"
        ))
        }
    })
}

/// Mints the IRIs of the product graph.
#[derive(Debug, Clone)]
pub struct Minter {
    base: String,
    /// Secret mixed into user pseudonyms, so they cannot be recomputed from known ids.
    secret: Vec<u8>,
    /// Lower-cased brand labels and aliases → the ontology's brand IRI (`ontology/brands.ttl`).
    brand_aliases: HashMap<String, String>,
}

impl Minter {
    pub fn new(base: &str, secret: &[u8]) -> Minter {
        Minter {
            base: base.to_owned(),
            secret: secret.to_vec(),
            brand_aliases: HashMap::new(),
        }
    }

    /// Resolves brands through `aliases` (lower-cased label → brand IRI) before minting.
    pub fn with_brand_aliases(mut self, aliases: HashMap<String, String>) -> Minter {
        self.brand_aliases = aliases;
        self
    }

    /// The base IRI everything is minted under.
    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn entity(&self, kind: &str, namespace: &str, key: &str) -> String {
        format!(
            "{}id/{kind}/{}/{}",
            self.base,
            segment(namespace),
            segment(key)
        )
    }

    /// A brand's IRI: the ontology's when the name is one of its labels or aliases (so `Apple`,
    /// `APPLE` and `苹果` are one node), else one minted from the lower-cased name.
    pub fn brand(&self, name: &str) -> String {
        let key = name.to_lowercase();
        match self.brand_aliases.get(&key) {
            Some(iri) => iri.clone(),
            None => format!("{}id/brand/{}", self.base, segment(&key)),
        }
    }

    pub fn category(&self, name: &str) -> String {
        format!("{}id/category/{}", self.base, segment(&name.to_lowercase()))
    }

    /// A user's pseudonym: keyed SHA-256 of namespace and id, 128 bits in hex. Everything
    /// derived from a user id (the user's IRI, the keys of their interactions and reviews, a
    /// quarantine entry) is derived from this, never from the raw id, so nobody without the
    /// secret can recompute it from a guessed id.
    pub fn pseudonym(&self, namespace: &str, key: &str) -> String {
        let mut h = Sha256::new();
        h.update(&self.secret);
        h.update(namespace.as_bytes());
        h.update([0]);
        h.update(key.as_bytes());
        hex::encode(&h.finalize()[..16])
    }

    /// A user's pseudonymous IRI (see [`Minter::pseudonym`]).
    pub fn user(&self, namespace: &str, key: &str) -> String {
        format!("{}id/user/{}", self.base, self.pseudonym(namespace, key))
    }

    /// A quarantined record, stable per asset and record (key, or line when there is none).
    pub fn quarantined(&self, namespace: &str, entity: Entity, record: &str) -> String {
        format!(
            "{}quarantine/{}/{}/{}",
            self.base,
            entity.as_str(),
            segment(namespace),
            segment(record)
        )
    }
}

/// Hash of several values, for records without a key of their own.
pub fn content_key(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..12])
}

/// What the graph builder needs besides the record.
pub struct Context<'a> {
    pub mapping: &'a Mapping,
    pub fields: &'a HashMap<String, usize>,
    pub namespace: &'a str,
    pub minter: &'a Minter,
    /// Lower-cased SKOS labels and notations → concept IRI (from the ontology graph).
    pub categories: &'a HashMap<String, String>,
    pub now: DateTime<Utc>,
    /// Seals the personal fields a mapping keeps.
    pub vault: Option<&'a crate::vault::Keyring>,
}

/// A record's statements and the subjects they replace.
#[derive(Debug, Default)]
pub struct Built {
    /// The record's own subject (its stable key in the graph).
    pub subject: String,
    /// Subjects whose earlier descriptions this record replaces (it and its owned nodes).
    pub owned: Vec<String>,
    pub statements: Vec<Statement>,
    /// A product's cleaned title, for the title labeller.
    pub title: Option<String>,
    /// A review's cleaned text, for the review labeller.
    pub text: Option<String>,
    /// Whether the mapping gave the product a brand (a mapped column wins over the model).
    pub has_brand: bool,
    /// Products the record points at (source key, IRI): they must already be in the graph.
    pub references: Vec<(String, String)>,
    /// The record's key within its asset (id column, else `line-N`); names its quarantine
    /// entry, which is cleared when the record is accepted.
    pub record_key: String,
}

pub(super) fn rdf_type() -> String {
    format!("{RDF}type")
}
pub(super) fn schema(local: &str) -> String {
    format!("{SCHEMA}{local}")
}
pub(super) fn st(local: &str) -> String {
    format!("{ST}{local}")
}

/// A cleaned optional value: its error (if any) joins `reasons`, its value is kept.
pub(super) fn checked<T>(value: Option<Result<T, String>>, reasons: &mut Vec<String>) -> Option<T> {
    match value? {
        Ok(v) => Some(v),
        Err(e) => {
            reasons.push(e);
            None
        }
    }
}

/// A record's cells, read by field name and cleaned.
pub(super) struct Record<'a> {
    pub(super) ctx: &'a Context<'a>,
    cells: &'a [Option<String>],
}

impl Record<'_> {
    pub(super) fn get(&self, field: &str) -> Option<String> {
        let i = *self.ctx.fields.get(field)?;
        let v = clean::text(self.cells.get(i)?.as_deref()?);
        (!v.is_empty()).then_some(v)
    }

    /// Where the products that reviews and interactions point at live.
    pub(super) fn product_namespace(&self) -> &str {
        self.ctx
            .mapping
            .product_namespace
            .as_deref()
            .unwrap_or("products")
    }
}

impl Built {
    pub(super) fn add(&mut self, s: &str, p: String, o: Object) {
        self.statements.push(Statement::new(s, p, o));
    }
}

/// Builds one record, or returns every reason it cannot be built.
pub fn build(ctx: &Context<'_>, cells: &[Option<String>]) -> Result<Built, Vec<String>> {
    let rec = Record { ctx, cells };
    let mut b = Built::default();
    let subject = match ctx.mapping.entity {
        Entity::Product => product(&rec, &mut b)?,
        Entity::Review => review(&rec, &mut b)?,
        Entity::Interaction => interaction(&rec, &mut b)?,
        Entity::User => user(&rec, &mut b)?,
        Entity::Seller => seller(&rec, &mut b)?,
        Entity::Stock => super::stock::level(&rec, &mut b)?,
        Entity::Movement => super::stock::movement(&rec, &mut b)?,
    };
    b.owned.insert(0, subject.clone());
    b.subject = subject;
    Ok(b)
}

/// A product: id, title, offer (price, currency), measures, brand, category, seller.
fn product(rec: &Record<'_>, b: &mut Built) -> Result<String, Vec<String>> {
    let mut reasons = Vec::new();
    let id = rec.get("id");
    let title = rec.get("title");
    if id.is_none() {
        reasons.push("product id is empty".to_string());
    }
    if title.is_none() && rec.ctx.fields.contains_key("title") {
        reasons.push("title is empty".to_string());
    }
    let price = checked(rec.get("price").map(|p| clean::price(&p)), &mut reasons);
    let currency_col = checked(
        rec.get("currency").map(|c| clean::currency(&c)),
        &mut reasons,
    );
    let weight_unit = rec
        .ctx
        .mapping
        .defaults
        .weight_unit
        .as_deref()
        .unwrap_or("g");
    let length_unit = rec
        .ctx
        .mapping
        .defaults
        .length_unit
        .as_deref()
        .unwrap_or("cm");
    let mut measures = Vec::new();
    for (field, what, unit, property) in [
        ("weight", Measure::Weight, weight_unit, "weight"),
        ("length", Measure::Length, length_unit, "depth"),
        ("width", Measure::Length, length_unit, "width"),
        ("height", Measure::Length, length_unit, "height"),
    ] {
        let value = rec.get(field).map(|v| clean::measure(&v, what, unit));
        if let Some(v) = checked(value, &mut reasons) {
            measures.push((property, what, v));
        }
    }
    let Some(id) = id else {
        return Err(reasons);
    };
    if !reasons.is_empty() {
        return Err(reasons);
    }
    let p = rec.ctx.minter.entity("product", rec.ctx.namespace, &id);
    b.add(&p, rdf_type(), Object::iri(schema("Product")));
    b.add(&p, schema("productID"), Object::string(&id));
    if let Some(title) = &title {
        b.add(&p, schema("name"), Object::string(title));
    }
    for (property, what, v) in measures {
        let node = format!("{p}/{property}");
        b.add(&p, schema(property), Object::iri(&node));
        b.add(&node, rdf_type(), Object::iri(schema("QuantitativeValue")));
        b.add(&node, schema("value"), Object::decimal(v));
        b.add(&node, schema("unitCode"), Object::string(what.unit().1));
        b.owned.push(node);
    }
    if let Some(d) = rec.get("description") {
        b.add(&p, schema("description"), Object::string(d));
    }
    if let Some(price) = price {
        let offer = format!("{p}/offer");
        b.add(&p, schema("offers"), Object::iri(&offer));
        b.add(&offer, rdf_type(), Object::iri(schema("Offer")));
        b.add(
            &offer,
            schema("price"),
            Object::decimal_lexical(&price.amount),
        );
        let currency = price.currency.or(currency_col).or(rec
            .ctx
            .mapping
            .defaults
            .currency
            .as_deref()
            .and_then(|c| clean::currency(c).ok()));
        if let Some(c) = currency {
            b.add(&offer, schema("priceCurrency"), Object::string(c));
        }
        b.owned.push(offer);
    }
    b.title = title.clone();
    if let Some(brand) = rec.get("brand") {
        b.has_brand = true;
        let iri = rec.ctx.minter.brand(&brand);
        b.add(&p, schema("brand"), Object::iri(&iri));
        b.add(&iri, rdf_type(), Object::iri(schema("Brand")));
        b.add(&iri, schema("name"), Object::string(&brand));
    }
    if let Some(cat) = rec.get("category") {
        let iri = match rec.ctx.categories.get(&cat.to_lowercase()) {
            Some(c) => c.clone(),
            None => {
                let iri = rec.ctx.minter.category(&cat);
                b.add(&iri, rdf_type(), Object::iri(format!("{SKOS}Concept")));
                b.add(&iri, format!("{SKOS}prefLabel"), Object::string(&cat));
                iri
            }
        };
        b.add(&p, schema("category"), Object::iri(iri));
    }
    if let Some(seller) = rec.get("seller") {
        let s = rec.ctx.minter.entity("seller", "sellers", &seller);
        b.add(&p, st("soldBy"), Object::iri(s));
    }
    Ok(p)
}

/// A review of a product: author (pseudonym), body with personal data masked, rating, time.
fn review(rec: &Record<'_>, b: &mut Built) -> Result<String, Vec<String>> {
    let mut reasons = Vec::new();
    let product = rec.get("product");
    if product.is_none() {
        reasons.push("the reviewed product is empty".to_string());
    }
    let rating = checked(rec.get("rating").map(|r| clean::rating(&r)), &mut reasons);
    let time = checked(
        rec.get("time").map(|t| clean::timestamp(&t, rec.ctx.now)),
        &mut reasons,
    );
    // Review bodies are published: phones, e-mails and ids written into them are masked.
    let raw_text = rec.get("text");
    let text = raw_text
        .as_deref()
        .map(|t| crate::privacy::pii::scrub_text(t).into_owned());
    let user = rec.get("user");
    let pseudonym = user
        .as_deref()
        .map(|u| rec.ctx.minter.pseudonym("users", u));
    let Some(product) = product else {
        return Err(reasons);
    };
    if !reasons.is_empty() {
        return Err(reasons);
    }
    let key = rec.get("id").unwrap_or_else(|| {
        // The raw text keeps two reviews apart that differ only in a masked phone; keyed,
        // so the key is no oracle for guessing what was masked.
        content_key(&[
            &product,
            pseudonym.as_deref().unwrap_or(""),
            &rec.get("time").unwrap_or_default(),
            &rec.ctx
                .minter
                .pseudonym("review-text", raw_text.as_deref().unwrap_or("")),
        ])
    });
    let r = rec.ctx.minter.entity("review", rec.ctx.namespace, &key);
    b.add(&r, rdf_type(), Object::iri(schema("Review")));
    let p = rec
        .ctx
        .minter
        .entity("product", rec.product_namespace(), &product);
    b.references.push((product.clone(), p.clone()));
    b.add(&r, schema("itemReviewed"), Object::iri(p));
    if let Some(u) = user {
        let u = rec.ctx.minter.user("users", &u);
        b.add(&u, rdf_type(), Object::iri(st("User")));
        b.add(&r, schema("author"), Object::iri(u));
    }
    if let Some(t) = text {
        b.add(&r, schema("reviewBody"), Object::string(&t));
        b.text = Some(t);
    }
    if let Some(v) = rating {
        let node = format!("{r}/rating");
        b.add(&r, schema("reviewRating"), Object::iri(&node));
        b.add(&node, rdf_type(), Object::iri(schema("Rating")));
        b.add(&node, schema("ratingValue"), Object::double(v));
        b.owned.push(node);
    }
    if let Some(t) = time {
        b.add(&r, schema("dateCreated"), Object::datetime(rfc3339(t)));
    }
    Ok(r)
}

/// A user's view, purchase or rating of a product, keyed by the user's pseudonym.
fn interaction(rec: &Record<'_>, b: &mut Built) -> Result<String, Vec<String>> {
    let mut reasons = Vec::new();
    let user = rec.get("user");
    let product = rec.get("product");
    if user.is_none() {
        reasons.push("user is empty".to_string());
    }
    if product.is_none() {
        reasons.push("product is empty".to_string());
    }
    let kind = match (rec.get("kind"), rec.ctx.mapping.defaults.kind.as_deref()) {
        (Some(k), _) => interaction_kind(&k),
        (None, Some(d)) => interaction_kind(d),
        (None, None) => Err("interaction kind is empty and the mapping sets no default".into()),
    };
    if let Err(e) = &kind {
        reasons.push(e.clone());
    }
    let time = checked(
        rec.get("time").map(|t| clean::timestamp(&t, rec.ctx.now)),
        &mut reasons,
    );
    let rating = checked(rec.get("rating").map(|r| clean::rating(&r)), &mut reasons);
    let quantity = checked(
        rec.get("quantity")
            .map(|q| super::stock::quantity("quantity", &q, false)),
        &mut reasons,
    );
    let warehouse = rec.get("warehouse");
    let (Some(user), Some(product), Ok(kind)) = (user, product, kind) else {
        return Err(reasons);
    };
    if !reasons.is_empty() {
        return Err(reasons);
    }
    let u = rec.ctx.minter.user("users", &user);
    let p = rec
        .ctx
        .minter
        .entity("product", rec.product_namespace(), &product);
    b.references.push((product.clone(), p.clone()));
    let when = time.as_ref().map(|t| rfc3339(*t));
    // Keyed by the pseudonym, never the raw id: an unkeyed hash of the raw id would let
    // anyone who can guess ids link interactions back to users.
    let key = content_key(&[
        &rec.ctx.minter.pseudonym("users", &user),
        &product,
        kind,
        when.as_deref().unwrap_or(""),
    ]);
    let i = rec
        .ctx
        .minter
        .entity("interaction", rec.ctx.namespace, &key);
    b.add(&u, rdf_type(), Object::iri(st("User")));
    b.add(&u, st(kind), Object::iri(&p));
    b.add(&i, rdf_type(), Object::iri(st("Interaction")));
    b.add(&i, st("user"), Object::iri(&u));
    b.add(&i, st("product"), Object::iri(&p));
    b.add(&i, st("interactionKind"), Object::iri(st(kind)));
    if let Some(t) = when {
        b.add(&i, format!("{PROV}atTime"), Object::datetime(t));
    }
    if let Some(v) = rating {
        b.add(&i, schema("ratingValue"), Object::double(v));
    }
    // Units sold and the warehouse that shipped them: what the stock watch forecasts from.
    if let Some(q) = quantity {
        b.add(&i, st("quantity"), Object::double(q));
    }
    if let Some(w) = warehouse {
        b.add(
            &i,
            st("warehouse"),
            Object::iri(super::stock::warehouse_iri(rec, &w)),
        );
    }
    Ok(i)
}

/// A user: nothing but the keyed pseudonym.
fn user(rec: &Record<'_>, b: &mut Built) -> Result<String, Vec<String>> {
    let Some(id) = rec.get("id") else {
        return Err(vec!["user id is empty".to_string()]);
    };
    let u = rec.ctx.minter.user("users", &id);
    b.add(&u, rdf_type(), Object::iri(st("User")));
    // Personal fields the mapping keeps (`[keep] phone = "encrypted"`): sealed, the predicate
    // bound into each value. `ingest_with` refuses such a mapping without a keyring.
    for (field, predicate) in [
        ("name", "name"),
        ("phone", "telephone"),
        ("email", "email"),
        ("address", "address"),
    ] {
        let (Some(value), Some(vault)) = (rec.get(field), rec.ctx.vault) else {
            continue;
        };
        let p = schema(predicate);
        let sealed = vault.seal_str(&value, &crate::vault::field_context(&u, &p));
        b.add(&u, p, Object::sealed(sealed));
    }
    Ok(u)
}

/// A seller: identifier, name, city.
fn seller(rec: &Record<'_>, b: &mut Built) -> Result<String, Vec<String>> {
    let Some(id) = rec.get("id") else {
        return Err(vec!["seller id is empty".to_string()]);
    };
    let s = rec.ctx.minter.entity("seller", "sellers", &id);
    b.add(&s, rdf_type(), Object::iri(st("Seller")));
    b.add(&s, schema("identifier"), Object::string(&id));
    if let Some(n) = rec.get("name") {
        b.add(&s, schema("name"), Object::string(n));
    }
    if let Some(c) = rec.get("city") {
        b.add(&s, st("city"), Object::string(c));
    }
    Ok(s)
}

pub(super) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
