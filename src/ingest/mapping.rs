//! Ingest mappings: which asset feeds which entity type, and which column holds what.
//!
//! A mapping is a small TOML file a data engineer can read and review:
//!
//! ```toml
//! entity = "product"          # product | review | interaction | user | seller | stock | movement
//! namespace = "shop"          # business keys are unique within it (default: the file stem)
//! [columns]
//! id = "product_id"
//! title = "title"
//! price = "price"
//! brand = "brand"
//! category = "category"
//! weight = "weight_g"         # also length, width, height (bare numbers: g and cm by default)
//! [defaults]
//! currency = "CNY"            # when neither the price nor a currency column says
//! ```
//!
//! Checked against the asset's header before a single record is read, so a typo in a column
//! name is one clear error, not a quarantine full of records.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What a record becomes in the product graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Entity {
    Product,
    Review,
    Interaction,
    User,
    Seller,
    /// A stock snapshot of one product (SKU) in one warehouse, optionally one lot of it.
    Stock,
    /// A stock movement: a receipt, shipment, return or adjustment after a snapshot.
    Movement,
}

impl Entity {
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Product => "product",
            Entity::Review => "review",
            Entity::Interaction => "interaction",
            Entity::User => "user",
            Entity::Seller => "seller",
            Entity::Stock => "stock",
            Entity::Movement => "movement",
        }
    }

    /// Fields this entity reads, and which of them are required.
    pub fn fields(self) -> &'static [(&'static str, bool)] {
        match self {
            Entity::Product => &[
                ("id", true),
                ("title", false),
                ("price", false),
                ("currency", false),
                ("brand", false),
                ("category", false),
                ("seller", false),
                ("description", false),
                ("weight", false),
                ("length", false),
                ("width", false),
                ("height", false),
            ],
            Entity::Review => &[
                ("id", false),
                ("product", true),
                ("user", false),
                ("rating", false),
                ("text", false),
                ("time", false),
            ],
            Entity::Interaction => &[
                ("user", true),
                ("product", true),
                ("kind", false),
                ("time", false),
                ("rating", false),
                ("quantity", false),
                ("warehouse", false),
            ],
            Entity::User => &[
                ("id", true),
                ("name", false),
                ("phone", false),
                ("email", false),
                ("address", false),
            ],
            Entity::Seller => &[("id", true), ("name", false), ("city", false)],
            Entity::Stock => &[
                ("product", true),
                ("warehouse", true),
                ("on_hand", true),
                ("warehouse_name", false),
                ("reserved", false),
                ("in_transit", false),
                ("reorder_point", false),
                ("lead_time", false),
                ("lot", false),
                ("produced", false),
                ("expires", false),
                ("cost", false),
                ("time", false),
            ],
            Entity::Movement => &[
                ("id", false),
                ("product", true),
                ("warehouse", true),
                ("quantity", true),
                ("kind", false),
                ("lot", false),
                ("time", true),
            ],
        }
    }
}

impl Entity {
    /// Fields that hold personal data: mapped only with `[keep] <field> = "encrypted"`, and
    /// then stored sealed (see `vault`), never in the clear.
    pub fn personal_fields(self) -> &'static [&'static str] {
        match self {
            Entity::User => &["name", "phone", "email", "address"],
            _ => &[],
        }
    }
}

/// How a personal field is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Keep {
    /// Sealed with the keyring: opaque in the store, opened only by an audited decryption.
    Encrypted,
}

/// Values used when a column is absent or empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Defaults {
    /// ISO 4217 currency of prices that name none.
    pub currency: Option<String>,
    /// Interaction kind when there is no `kind` column: `viewed`, `purchased` or `rated`; a
    /// movement's: `receipt`, `shipment`, `return` or `adjustment`.
    pub kind: Option<String>,
    /// Unit of weights written as bare numbers (default `g`).
    pub weight_unit: Option<String>,
    /// Unit of lengths written as bare numbers (default `cm`).
    pub length_unit: Option<String>,
}

/// One asset's mapping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    pub entity: Entity,
    /// Business keys are unique within a namespace; default: the asset's file stem.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Namespace of the products an interaction or review points at (default: `products`).
    #[serde(default)]
    pub product_namespace: Option<String>,
    /// Text encoding of the file (detected when absent).
    #[serde(default)]
    pub encoding: Option<String>,
    /// Field → column name.
    pub columns: BTreeMap<String, String>,
    #[serde(default)]
    pub defaults: Defaults,
    /// Personal field → how it is kept (`[keep] phone = "encrypted"`).
    #[serde(default)]
    pub keep: BTreeMap<String, Keep>,
}

/// Mapping file name → the terms its records write ([`Mapping::terms_written`]), for every
/// `*.toml` mapping in `dir`: what an ontology change must not remove or deprecate.
pub fn terms_of_folder(
    dir: &std::path::Path,
) -> Result<BTreeMap<String, Vec<String>>, MappingError> {
    let read =
        |e: std::io::Error| MappingError(format!("reading mappings in {}: {e}", dir.display()));
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).map_err(read)? {
        let path = entry.map_err(read)?.path();
        if path.extension().is_none_or(|x| x != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| MappingError(format!("{}: {e}", path.display())))?;
        let mapping =
            Mapping::parse(&text).map_err(|e| MappingError(format!("{}: {e}", path.display())))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.insert(name, mapping.terms_written().into_iter().collect());
    }
    Ok(out)
}

/// A mapping that cannot be used, with what to change.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct MappingError(pub String);

impl Mapping {
    /// Parses TOML.
    pub fn parse(text: &str) -> Result<Mapping, MappingError> {
        toml::from_str(text).map_err(|e| MappingError(format!("invalid mapping: {e}")))
    }

    /// The classes and properties records of this mapping write, found by building one sample
    /// record through the real builder (so the answer cannot drift from what ingest does):
    /// what `ontology check` holds deprecations against. Personal fields are left out (they
    /// are sealed, not described by terms).
    pub fn terms_written(&self) -> std::collections::BTreeSet<String> {
        let sample = |field: &str| -> Option<&'static str> {
            Some(match (self.entity, field) {
                (Entity::Movement, "kind") => "receipt",
                (_, "kind") => "purchased",
                (_, "time") => "2024-01-01T00:00:00Z",
                (_, "produced") => "2024-01-01",
                (_, "expires") => "2025-01-01",
                (_, "rating") => "5",
                (_, "price" | "cost") => "1.00",
                (_, "currency") => "CNY",
                (_, "reserved" | "in_transit") => "0",
                (_, "quantity" | "on_hand" | "reorder_point" | "lead_time") => "1",
                (_, "weight" | "length" | "width" | "height") => "1",
                (_, "text" | "description" | "title") => "sample 样品",
                (_, f) if self.entity.personal_fields().contains(&f) => return None,
                _ => "sample",
            })
        };
        let names: Vec<&String> = self.columns.keys().collect();
        let fields: std::collections::HashMap<String, usize> = names
            .iter()
            .enumerate()
            .map(|(i, f)| ((*f).clone(), i))
            .collect();
        let cells: Vec<Option<String>> =
            names.iter().map(|f| sample(f).map(str::to_owned)).collect();
        let minter = super::graph::Minter::new("https://example.org/", b"terms");
        let categories = std::collections::HashMap::new();
        let ctx = super::graph::Context {
            mapping: self,
            fields: &fields,
            namespace: "sample",
            minter: &minter,
            categories: &categories,
            now: chrono::Utc::now(),
            vault: None,
        };
        let mut out = std::collections::BTreeSet::new();
        if let Ok(built) = super::graph::build(&ctx, &cells) {
            let rdf_type = format!("{}type", crate::catalog::vocab::RDF);
            for st in built.statements {
                if st.predicate == rdf_type {
                    if let crate::catalog::Object::Iri(c) = &st.object {
                        out.insert(c.clone());
                    }
                }
                out.insert(st.predicate);
            }
        }
        out
    }

    /// Checks fields and columns against `header`; returns field → column index.
    pub fn resolve(&self, header: &[String]) -> Result<BTreeMap<String, usize>, MappingError> {
        let fields = self.entity.fields();
        let mut out = BTreeMap::new();
        let mut missing = Vec::new();
        for (field, column) in &self.columns {
            if !fields.iter().any(|(f, _)| f == field) {
                return Err(MappingError(format!(
                    "a {} has no field {field:?}; its fields are {}",
                    self.entity.as_str(),
                    fields
                        .iter()
                        .map(|(f, _)| *f)
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            match header.iter().position(|h| h == column) {
                Some(i) => {
                    out.insert(field.clone(), i);
                }
                None => missing.push(format!("column {column:?} for {field}")),
            }
        }
        if !missing.is_empty() {
            return Err(MappingError(format!(
                "the mapping reads {}, but the asset's columns are {}",
                missing.join(", "),
                header.join(", ")
            )));
        }
        for (field, required) in fields {
            if *required && !out.contains_key(*field) {
                return Err(MappingError(format!(
                    "a {} needs a column for {field:?} ([columns] {field} = \"…\")",
                    self.entity.as_str()
                )));
            }
        }
        let personal = self.entity.personal_fields();
        for field in out.keys() {
            if personal.contains(&field.as_str()) && !self.keep.contains_key(field) {
                return Err(MappingError(format!(
                    "{field} is personal data: add `[keep] {field} = \"encrypted\"` to store it \
                     sealed (readable only through an audited decryption), or leave it unmapped"
                )));
            }
        }
        for field in self.keep.keys() {
            if !personal.contains(&field.as_str()) || !out.contains_key(field) {
                return Err(MappingError(format!(
                    "[keep] {field}: only mapped personal fields are kept sealed (a {}'s are {})",
                    self.entity.as_str(),
                    if personal.is_empty() {
                        "none".to_string()
                    } else {
                        personal.join(", ")
                    }
                )));
            }
        }
        if let Some(c) = &self.defaults.currency {
            super::clean::currency(c).map_err(MappingError)?;
        }
        use super::clean::{measure, Measure};
        for (unit, what) in [
            (&self.defaults.weight_unit, Measure::Weight),
            (&self.defaults.length_unit, Measure::Length),
        ] {
            if let Some(u) = unit {
                measure("1", what, u)
                    .map_err(|_| MappingError(format!("[defaults] has an unknown unit {u:?}")))?;
            }
        }
        if let Some(k) = &self.defaults.kind {
            match self.entity {
                Entity::Movement => super::stock::movement_kind(k).map(|_| ()),
                _ => super::graph::interaction_kind(k).map(|_| ()),
            }
            .map_err(MappingError)?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(cols: &[&str]) -> Vec<String> {
        cols.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn resolves_columns_and_explains_mistakes() {
        let m = Mapping::parse(
            r#"entity = "product"
               [columns]
               id = "sku"
               title = "name"
               price = "price""#,
        )
        .unwrap();
        let r = m.resolve(&header(&["sku", "name", "price"])).unwrap();
        assert_eq!(r["title"], 1);

        let e = m.resolve(&header(&["sku", "title", "price"])).unwrap_err();
        assert!(e.0.contains("column \"name\" for title"), "{e}");
        assert!(e.0.contains("sku, title, price"), "{e}");

        let m = Mapping::parse("entity = \"product\"\n[columns]\ntitle = \"name\"").unwrap();
        let e = m.resolve(&header(&["name"])).unwrap_err();
        assert!(e.0.contains("needs a column for \"id\""), "{e}");

        let m = Mapping::parse(
            "entity = \"product\"\n[columns]\nid = \"sku\"\n[defaults]\nweight_unit = \"stone\"",
        )
        .unwrap();
        let e = m.resolve(&header(&["sku"])).unwrap_err();
        assert!(e.0.contains("unknown unit \"stone\""), "{e}");

        let m = Mapping::parse("entity = \"user\"\n[columns]\nid = \"u\"\ncolour = \"c\"").unwrap();
        assert!(m
            .resolve(&header(&["u", "c"]))
            .unwrap_err()
            .0
            .contains("no field \"colour\""));

        assert!(Mapping::parse("entity = \"planet\"\n[columns]").is_err());
        let m = Mapping::parse(
            "entity = \"user\"\n[columns]\nid = \"u\"\n[defaults]\ncurrency = \"doubloons\"",
        )
        .unwrap();
        assert!(m.resolve(&header(&["u"])).is_err());
    }
}
