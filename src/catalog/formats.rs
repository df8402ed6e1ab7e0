//! The serialization formats we speak, named without leaking Oxigraph types to other modules.
//!
//! Query results (SELECT/ASK) go out as SPARQL JSON, XML, CSV or TSV; graphs and datasets as
//! Turtle, N-Triples, N-Quads, TriG, RDF/XML or JSON-LD. The HTTP layer negotiates among the
//! `CANDIDATES` lists in the order given here (first = preferred when the client does not care).

use oxigraph::io::{JsonLdProfileSet, RdfFormat};
use oxigraph::sparql::results::QueryResultsFormat;

use super::CatalogError;

/// A format for SELECT and ASK results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultsFormat {
    Json,
    Xml,
    Csv,
    Tsv,
}

impl ResultsFormat {
    /// Server preference order for content negotiation.
    pub const CANDIDATES: [ResultsFormat; 4] = [Self::Json, Self::Xml, Self::Csv, Self::Tsv];

    /// The media type sent as `Content-Type`.
    pub fn media_type(self) -> &'static str {
        self.inner().media_type()
    }

    /// Other media types clients use for the same format.
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            Self::Json => &["application/json"],
            Self::Xml => &["application/xml", "text/xml"],
            Self::Csv => &[],
            Self::Tsv => &[],
        }
    }

    /// Parses a `--format` name (`json`, `xml`, `csv`, `tsv`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "json" | "srj" => Some(Self::Json),
            "xml" | "srx" => Some(Self::Xml),
            "csv" => Some(Self::Csv),
            "tsv" => Some(Self::Tsv),
            _ => None,
        }
    }

    pub(crate) fn inner(self) -> QueryResultsFormat {
        match self {
            Self::Json => QueryResultsFormat::Json,
            Self::Xml => QueryResultsFormat::Xml,
            Self::Csv => QueryResultsFormat::Csv,
            Self::Tsv => QueryResultsFormat::Tsv,
        }
    }
}

/// A format for RDF graphs and datasets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphFormat {
    Turtle,
    NTriples,
    NQuads,
    TriG,
    RdfXml,
    JsonLd,
}

impl GraphFormat {
    /// Server preference order for graphs (CONSTRUCT/DESCRIBE, graph store GET).
    pub const GRAPH_CANDIDATES: [GraphFormat; 6] = [
        Self::Turtle,
        Self::NTriples,
        Self::RdfXml,
        Self::JsonLd,
        Self::NQuads,
        Self::TriG,
    ];
    /// Server preference order for whole datasets (dumps).
    pub const DATASET_CANDIDATES: [GraphFormat; 3] = [Self::NQuads, Self::TriG, Self::JsonLd];

    /// The media type sent as `Content-Type`.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Turtle => "text/turtle",
            Self::NTriples => "application/n-triples",
            Self::NQuads => "application/n-quads",
            Self::TriG => "application/trig",
            Self::RdfXml => "application/rdf+xml",
            Self::JsonLd => "application/ld+json",
        }
    }

    /// Other media types clients use for the same format.
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            Self::NTriples => &["text/plain"],
            Self::RdfXml => &["application/xml", "text/xml"],
            _ => &[],
        }
    }

    /// Whether the format can carry named graphs.
    pub fn supports_datasets(self) -> bool {
        matches!(self, Self::NQuads | Self::TriG | Self::JsonLd)
    }

    /// Parses a `Content-Type` value (parameters such as `charset` are ignored).
    pub fn from_media_type(media_type: &str) -> Option<Self> {
        RdfFormat::from_media_type(media_type).and_then(Self::from_inner)
    }

    /// Parses a `--format` name (`turtle`, `ntriples`, `nquads`, `trig`, `rdfxml`, `jsonld`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name
            .to_ascii_lowercase()
            .replace(['-', '_', '/'], "")
            .as_str()
        {
            "turtle" | "ttl" => Some(Self::Turtle),
            "ntriples" | "nt" => Some(Self::NTriples),
            "nquads" | "nq" => Some(Self::NQuads),
            "trig" => Some(Self::TriG),
            "rdfxml" | "rdf" | "xml" | "owl" => Some(Self::RdfXml),
            "jsonld" => Some(Self::JsonLd),
            _ => None,
        }
    }

    /// Guesses the format from a file name, looking through a trailing `.gz`.
    pub fn from_path(path: &std::path::Path) -> Result<Self, CatalogError> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
        RdfFormat::from_extension(ext)
            .and_then(Self::from_inner)
            .ok_or_else(|| {
                CatalogError::UnsupportedFormat(format!(
                    "cannot tell the RDF format of '{}' from its extension; use --format",
                    path.display()
                ))
            })
    }

    fn from_inner(f: RdfFormat) -> Option<Self> {
        Some(match f {
            RdfFormat::Turtle => Self::Turtle,
            RdfFormat::NTriples => Self::NTriples,
            RdfFormat::NQuads => Self::NQuads,
            RdfFormat::TriG => Self::TriG,
            RdfFormat::RdfXml => Self::RdfXml,
            RdfFormat::JsonLd { .. } => Self::JsonLd,
            _ => return None,
        })
    }

    pub(crate) fn inner(self) -> RdfFormat {
        match self {
            Self::Turtle => RdfFormat::Turtle,
            Self::NTriples => RdfFormat::NTriples,
            Self::NQuads => RdfFormat::NQuads,
            Self::TriG => RdfFormat::TriG,
            Self::RdfXml => RdfFormat::RdfXml,
            Self::JsonLd => RdfFormat::JsonLd {
                profile: JsonLdProfileSet::empty(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn formats_from_names_paths_and_media_types() {
        assert_eq!(
            GraphFormat::from_path(Path::new("x/bsbm.nt.gz")).unwrap(),
            GraphFormat::NTriples
        );
        assert_eq!(
            GraphFormat::from_path(Path::new("a.TTL")).unwrap(),
            GraphFormat::Turtle
        );
        assert!(GraphFormat::from_path(Path::new("a.csv")).is_err());
        assert_eq!(
            GraphFormat::from_media_type("text/turtle; charset=utf-8"),
            Some(GraphFormat::Turtle)
        );
        assert_eq!(ResultsFormat::from_name("TSV"), Some(ResultsFormat::Tsv));
        assert_eq!(
            ResultsFormat::Json.media_type(),
            "application/sparql-results+json"
        );
    }
}
