//! The models graph: a card for every model whose output enters the graph.
//!
//! Every label points at the exact model version that made it, and every link-prediction
//! answer names the model that gave it, so each model — an ONNX package of the models folder or
//! an embedding trained here — is described in the models graph: name, version, content hash,
//! task, heads and labels, training data, licence, method, hyperparameters, data snapshot and
//! held-out metrics (as DQV measurements). This module owns that mapping, from a package or an
//! embedding to a [`ModelRecord`] and from a record to statements; the catalog only stores them.
//! Describing the same version again replaces its card in one transaction (no duplicates).

use std::path::Path;

use crate::catalog::vocab::{DCTERMS, DQV, RDF, RDFS, ST};
use crate::catalog::{Catalog, CatalogError, Object, Statement};
use crate::embed::Embedding;
use crate::infer::Package;

/// What the catalog records about one model version.
#[derive(Debug, Clone, Default)]
pub struct ModelRecord {
    pub name: String,
    pub version: Option<String>,
    /// SHA-256 of the model file: identifies the version.
    pub sha256: String,
    pub task: String,
    /// (head, labels) pairs.
    pub heads: Vec<(String, Vec<String>)>,
    pub training_data: Vec<String>,
    pub licence: Option<String>,
    pub method: Option<String>,
    /// Held-out metrics as (dotted path, value), e.g. (`taobao_dev.micro.f1`, 0.87).
    pub metrics: Vec<(String, f64)>,
    /// Hyperparameters as (name, value) (trained-here models such as embeddings).
    pub hyperparameters: Vec<(String, String)>,
    /// sha256 of the training data: the data snapshot the model was trained on.
    pub snapshot: Option<String>,
    /// When the model was made (RFC 3339), recorded as `dcterms:created`.
    pub created: Option<String>,
}

/// Turns free text into an IRI path segment.
fn segment(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The IRI of a model version under the catalog's `base`: `{base}model/{name}/{sha256 prefix}`.
pub fn model_iri(base: &str, name: &str, sha256: &str) -> String {
    let short = &sha256[..sha256.len().min(16)];
    format!("{base}model/{}/{short}", segment(name))
}

/// Writes (or rewrites) a model's card in the models graph; returns its IRI. Blocking.
pub fn describe(catalog: &Catalog, m: &ModelRecord) -> Result<String, CatalogError> {
    let iri = model_iri(catalog.layout().base(), &m.name, &m.sha256);
    let statements = card(&iri, m);
    catalog.replace_trees(
        &catalog.layout().models,
        &[],
        std::slice::from_ref(&iri),
        &statements,
        &[],
    )?;
    Ok(iri)
}

/// The card of `m` as statements about `iri` and the nodes under it.
fn card(iri: &str, m: &ModelRecord) -> Vec<Statement> {
    let mut out = Vec::new();
    let mut add = |s: &str, p: String, o: Object| out.push(Statement::new(s, p, o));
    add(iri, format!("{RDF}type"), Object::iri(format!("{ST}Model")));
    add(iri, format!("{DCTERMS}title"), Object::string(&m.name));
    add(iri, format!("{DCTERMS}identifier"), Object::string(&m.name));
    add(iri, format!("{ST}contentHash"), Object::string(&m.sha256));
    add(iri, format!("{ST}task"), Object::string(&m.task));
    let optional = [
        ("http://www.w3.org/2002/07/owl#versionInfo", &m.version),
        ("http://purl.org/dc/terms/license", &m.licence),
        ("http://purl.org/dc/terms/description", &m.method),
        ("https://w3id.org/stocktake/ns#dataSnapshot", &m.snapshot),
    ];
    for (p, v) in optional {
        if let Some(v) = v {
            add(iri, p.to_owned(), Object::string(v));
        }
    }
    for d in &m.training_data {
        add(iri, format!("{DCTERMS}source"), Object::string(d));
    }
    if let Some(created) = &m.created {
        add(iri, format!("{DCTERMS}created"), Object::datetime(created));
    }
    for (head, labels) in &m.heads {
        let h = format!("{iri}/head/{}", segment(head));
        add(iri, format!("{ST}head"), Object::iri(&h));
        add(&h, format!("{RDFS}label"), Object::string(head));
        for l in labels {
            add(&h, format!("{ST}outputLabel"), Object::string(l));
        }
    }
    for (name, value) in &m.hyperparameters {
        let h = format!("{iri}/param/{}", segment(name));
        add(iri, format!("{ST}hyperparameter"), Object::iri(&h));
        add(&h, format!("{RDFS}label"), Object::string(name));
        add(&h, format!("{RDF}value"), Object::string(value));
    }
    for (path, value) in &m.metrics {
        let meas = format!("{iri}/metric/{}", segment(path));
        add(
            iri,
            format!("{DQV}hasQualityMeasurement"),
            Object::iri(&meas),
        );
        add(
            &meas,
            format!("{RDF}type"),
            Object::iri(format!("{DQV}QualityMeasurement")),
        );
        add(&meas, format!("{DQV}computedOn"), Object::iri(iri));
        add(&meas, format!("{ST}metric"), Object::string(path));
        add(&meas, format!("{DQV}value"), Object::double(*value));
    }
    out
}

/// The card of a model package: flattened numeric metrics, provenance from its config.json.
pub fn from_package(p: &Package) -> ModelRecord {
    fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, f64)>) {
        match v {
            serde_json::Value::Number(n) => {
                if let Some(x) = n.as_f64() {
                    out.push((prefix.to_string(), x));
                }
            }
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    let path = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    flatten(&path, v, out);
                }
            }
            _ => {}
        }
    }
    let mut metrics = Vec::new();
    flatten("", &p.config.metrics, &mut metrics);
    let t = &p.config.training;
    let text = |k: &str| t.get(k).and_then(|v| v.as_str()).map(str::to_string);
    ModelRecord {
        name: p.config.name.clone(),
        version: p.config.version.clone(),
        sha256: p.sha256.clone(),
        task: p.config.task.as_str().to_string(),
        heads: p
            .config
            .heads
            .iter()
            .map(|h| (h.name.clone(), p.label_names(&h.labels)))
            .collect(),
        training_data: t
            .get("data")
            .and_then(|d| d.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        licence: text("licence"),
        method: text("method"),
        metrics,
        ..Default::default()
    }
}

/// The card of an embedding written to `path` (its hash is the file's).
pub fn from_embedding(name: &str, e: &Embedding, path: &Path) -> std::io::Result<ModelRecord> {
    use sha2::{Digest, Sha256};
    let sha = hex::encode(Sha256::digest(std::fs::read(path)?));
    let mut hyper: Vec<(String, String)> = Vec::new();
    if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(&e.config) {
        for (k, v) in map {
            hyper.push((k, v.to_string().trim_matches('"').to_string()));
        }
    }
    Ok(ModelRecord {
        name: name.into(),
        version: Some(e.model_id()),
        sha256: sha,
        task: "link-prediction".into(),
        heads: Vec::new(),
        training_data: vec![e.info.source.clone()],
        licence: None,
        method: Some(format!(
            "TransE ({:?}, dim {}), {} entities, {} relations, {} training triples",
            e.config.norm,
            e.config.dim,
            e.ids.entities.len(),
            e.ids.relations.len(),
            e.train.len()
        )),
        metrics: e
            .info
            .metrics
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect(),
        hyperparameters: hyper,
        snapshot: Some(e.info.snapshot.clone()),
        created: Some(e.info.trained_at.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::GraphLayout;

    #[test]
    fn describing_twice_does_not_duplicate_and_drops_what_went() {
        let c = Catalog::in_memory(GraphLayout::new("http://ex.org/").unwrap()).unwrap();
        let mut rec = ModelRecord {
            name: "product-ner".into(),
            sha256: "ab".repeat(32),
            task: "token-classification".into(),
            heads: vec![("entities".into(), vec!["brand".into(), "product".into()])],
            metrics: vec![
                ("taobao_dev.micro.f1".into(), 0.9),
                ("taobao_dev.micro.p".into(), 0.8),
            ],
            created: Some("2026-12-01T00:00:00Z".into()),
            ..Default::default()
        };
        let iri = describe(&c, &rec).unwrap();
        let n1 = c.len().unwrap();
        describe(&c, &rec).unwrap();
        assert_eq!(c.len().unwrap(), n1);
        assert!(iri.starts_with("http://ex.org/model/product-ner/abab"));
        assert!(n1 > 8);
        // A metric the new description lacks is gone with its measurement node.
        rec.metrics.pop();
        describe(&c, &rec).unwrap();
        assert_eq!(c.len().unwrap(), n1 - 5);
    }
}
