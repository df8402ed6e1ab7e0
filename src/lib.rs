//! Stocktake takes stock (盘点) of an e-commerce platform's data assets and serves them as one
//! knowledge graph.
//!
//! The RDF store *is* the catalog: an embedded Oxigraph store holds the ontology, the data-asset
//! catalog and the product graph in named graphs, and everything else reads and writes through it.
//! Modules are layered and each heavy dependency lives in exactly one of them; imports only flow
//! downwards:
//!
//! ```text
//! cli, config      argument parsing, layered configuration (no logic); audit (write log);
//!                  telemetry (the Prometheus recorder every layer writes to, rendered by http)
//!   ├─ http        axum only: router, SPARQL protocol, graph store, named queries, ApiError;
//!   │              the guard (tokens re-read on change, files and databases a caller may have
//!   │              the server read, the Host check against DNS rebinding)
//!   │    ├─ privacy  roles, bearer tokens, per-graph visibility policy, PII validators and the
//!   │    │           masking of PII spans in free text (pure)
//!   │    └─ catalog  oxigraph only: store, graph layout, vocabulary, ontology, SPARQL (limits:
//!   │                the evaluator is carried patched in vendor/spareval), named queries, model
//!   │                cards in the models graph, SHACL validation over SPARQL; system graphs
//!   │                only admins write
//!   ├─ ingest      records → product graph: mappings (and suggestions from the inventory),
//!   │              cleaning, stable IRIs from business keys, quarantine with reasons, labels
//!   │              with provenance, duplicates and outliers, the run's PROV counts;
//!   │              incremental per record (content hashes)
//!   ├─ inventory   scans files (CSV/TSV/JSONL/Parquet, gzip, GBK) and databases (SQLite,
//!   │              PostgreSQL, MySQL): streaming column profiles, semantic types and PII (LAC
//!   │              through `infer` for Chinese names and addresses), business kinds of assets —
//!   │              plain data the catalog records
//!   ├─ monitor     rescans that skip unchanged assets (size/time/hash, table statistics),
//!   │              diffs of two scans (schema, row counts, null rates, distinct counts, PSI/KS
//!   │              drift, new PII) as events in the changes graph, alert rules and webhooks
//!   ├─ recommend   link prediction as a service: a trained embedding joined with the catalog
//!   │              (known links, restricted entities, range classes, labels), hot-swapped,
//!   │              retrained warm when the product graph has grown
//!   ├─ infer       ort + tokenizers only: model packages, the one ONNX Runtime environment,
//!   │              batched classification and NER, decoding (CRF), the Rust evaluator
//!   └─ embed       ndarray + rayon (+ pulp SIMD) only: TransE (optionally with reciprocal
//!        │         relations), sparse optimizers, the deterministic parallel trainer, the
//!        │         filtered evaluator, exact, SQ8- and PQ4-indexed top-k search, DGL-KE and
//!        │         PyTorch-BigGraph (HDF5) formats
//!        └─ kg     pure data: id maps, triples and splits, filter index, checkpoint format
//! ```
//!
//! `infer` and `catalog` do not know each other: `ingest::label::model_record` turns a model
//! package into a `catalog::ModelRecord`. `embed` and `kg` never import the store, the server or ONNX Runtime.

pub mod audit;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod embed;
pub mod http;
pub mod infer;
pub mod ingest;
pub mod inventory;
pub mod kg;
pub mod monitor;
pub mod privacy;
pub mod recommend;
pub mod telemetry;
