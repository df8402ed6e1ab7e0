//! Model cards in the models graph.
//!
//! Every label elsewhere in the catalog points at the exact model version that made it, so each
//! model package is described here — name, version, content hash, task, heads and labels,
//! training data, licence, method and held-out metrics (as DQV measurements). The description
//! is plain data ([`ModelRecord`]) so this module needs nothing from the inference layer.
//! Describing the same version again replaces its triples in one transaction (no duplicates).

use oxigraph::model::{GraphNameRef, Literal, NamedNode, NamedOrBlankNode, QuadRef};

use super::vocab::{st, DCTERMS, DQV, RDF, RDFS, XSD};
use super::{Catalog, CatalogError};

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

fn node(s: String) -> Result<NamedNode, CatalogError> {
    NamedNode::new(s.clone()).map_err(|e| CatalogError::InvalidIri(format!("{s}: {e}")))
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

impl Catalog {
    /// The IRI of a model version: `{base}model/{name}/{sha256 prefix}`.
    pub fn model_iri(&self, name: &str, sha256: &str) -> Result<NamedNode, CatalogError> {
        let short = &sha256[..sha256.len().min(16)];
        node(format!(
            "{}model/{}/{}",
            self.layout.base(),
            segment(name),
            short
        ))
    }

    /// Writes (or rewrites) a model's description; returns its IRI.
    pub fn describe_model(&self, m: &ModelRecord) -> Result<NamedNode, CatalogError> {
        let iri = self.model_iri(&m.name, &m.sha256)?;
        let g = GraphNameRef::NamedNode(self.layout.models.as_ref());
        let prefix = iri.as_str().to_string();
        let rdf_type = node(format!("{RDF}type"))?;
        let p = |s: &str| node(s.to_string());
        let mut tx = self.store.start_transaction()?;
        let old: Vec<_> = tx
            .quads_for_pattern(None, None, None, Some(g))
            .filter(|q| match q {
                Ok(q) => matches!(&q.subject, NamedOrBlankNode::NamedNode(n)
                    if n.as_str() == prefix || n.as_str().starts_with(&format!("{prefix}/"))),
                Err(_) => true,
            })
            .collect::<Result<_, _>>()?;
        for q in old {
            tx.remove(q.as_ref());
        }
        let mut add = |s: &NamedNode, pr: &NamedNode, o: oxigraph::model::TermRef<'_>| {
            tx.insert(QuadRef::new(s, pr, o, g));
        };
        add(&iri, &rdf_type, st("Model").as_ref().into());
        add(
            &iri,
            &p(&format!("{DCTERMS}title"))?,
            Literal::from(m.name.as_str()).as_ref().into(),
        );
        add(
            &iri,
            &p(&format!("{DCTERMS}identifier"))?,
            Literal::from(m.name.as_str()).as_ref().into(),
        );
        add(
            &iri,
            &st("contentHash"),
            Literal::from(m.sha256.as_str()).as_ref().into(),
        );
        add(
            &iri,
            &st("task"),
            Literal::from(m.task.as_str()).as_ref().into(),
        );
        if let Some(v) = &m.version {
            add(
                &iri,
                &p("http://www.w3.org/2002/07/owl#versionInfo")?,
                Literal::from(v.as_str()).as_ref().into(),
            );
        }
        if let Some(l) = &m.licence {
            add(
                &iri,
                &p(&format!("{DCTERMS}license"))?,
                Literal::from(l.as_str()).as_ref().into(),
            );
        }
        if let Some(method) = &m.method {
            add(
                &iri,
                &p(&format!("{DCTERMS}description"))?,
                Literal::from(method.as_str()).as_ref().into(),
            );
        }
        for d in &m.training_data {
            add(
                &iri,
                &p(&format!("{DCTERMS}source"))?,
                Literal::from(d.as_str()).as_ref().into(),
            );
        }
        for (head, labels) in &m.heads {
            let h = node(format!("{prefix}/head/{}", segment(head)))?;
            add(&iri, &st("head"), h.as_ref().into());
            add(
                &h,
                &p(&format!("{RDFS}label"))?,
                Literal::from(head.as_str()).as_ref().into(),
            );
            for l in labels {
                add(
                    &h,
                    &st("outputLabel"),
                    Literal::from(l.as_str()).as_ref().into(),
                );
            }
        }
        if let Some(snapshot) = &m.snapshot {
            add(
                &iri,
                &st("dataSnapshot"),
                Literal::from(snapshot.as_str()).as_ref().into(),
            );
        }
        if let Some(created) = &m.created {
            add(
                &iri,
                &p(&format!("{DCTERMS}created"))?,
                Literal::new_typed_literal(created, p(&format!("{XSD}dateTime"))?)
                    .as_ref()
                    .into(),
            );
        }
        for (name, value) in &m.hyperparameters {
            let h = node(format!("{prefix}/param/{}", segment(name)))?;
            add(&iri, &st("hyperparameter"), h.as_ref().into());
            add(
                &h,
                &p(&format!("{RDFS}label"))?,
                Literal::from(name.as_str()).as_ref().into(),
            );
            add(
                &h,
                &p(&format!("{RDF}value"))?,
                Literal::from(value.as_str()).as_ref().into(),
            );
        }
        for (path, value) in &m.metrics {
            let meas = node(format!("{prefix}/metric/{}", segment(path)))?;
            add(
                &iri,
                &p(&format!("{DQV}hasQualityMeasurement"))?,
                meas.as_ref().into(),
            );
            add(
                &meas,
                &rdf_type,
                p(&format!("{DQV}QualityMeasurement"))?.as_ref().into(),
            );
            add(&meas, &p(&format!("{DQV}computedOn"))?, iri.as_ref().into());
            add(
                &meas,
                &st("metric"),
                Literal::from(path.as_str()).as_ref().into(),
            );
            add(
                &meas,
                &p(&format!("{DQV}value"))?,
                Literal::from(*value).as_ref().into(),
            );
        }
        tx.commit()?;
        Ok(iri)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::GraphLayout;

    #[test]
    fn describing_twice_does_not_duplicate() {
        let c = Catalog::in_memory(GraphLayout::new("http://ex.org/").unwrap()).unwrap();
        let rec = ModelRecord {
            name: "product-ner".into(),
            sha256: "ab".repeat(32),
            task: "token-classification".into(),
            heads: vec![("entities".into(), vec!["brand".into(), "product".into()])],
            metrics: vec![("taobao_dev.micro.f1".into(), 0.9)],
            ..Default::default()
        };
        let iri = c.describe_model(&rec).unwrap();
        let n1 = c.len().unwrap();
        c.describe_model(&rec).unwrap();
        assert_eq!(c.len().unwrap(), n1);
        assert!(iri
            .as_str()
            .starts_with("http://ex.org/model/product-ner/abab"));
        assert!(n1 > 8);
    }
}
