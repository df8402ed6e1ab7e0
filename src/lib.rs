//! Stocktake takes stock (盘点) of an e-commerce platform's data assets and serves them as one
//! knowledge graph.
//!
//! The RDF store *is* the catalog: an embedded Oxigraph store holds the ontology, the data-asset
//! catalog and the product graph in named graphs, and everything else reads and writes through it.
//! Modules are layered and each heavy dependency lives in exactly one of them; imports only flow
//! downwards:
//!
//! ```text
//! faces      cli           clap → app call → printed text (no logic of its own)
//!            http          axum only → app call → response: router, SPARQL protocol, graph
//!                          store, named queries; the guard (tokens re-read on change, files and
//!                          databases a caller may have the server read, the Host check); ApiError
//!                          and the one table mapping every domain error to a status; `http::ui`,
//!                          the workbench: Askama pages from web/templates (catalog, assets,
//!                          search, explorer, taxonomy, review queue, changes, models, ontology,
//!                          YASGUI), web/static embedded, browser sessions with CSRF, zh/en chrome
//! ─────────────────────────────────────────────────────────────────────────────────────────────
//! use cases  app           every use case once: open the store (migrated) with ontology and
//!                          model cards, scan, ingest (labellers, name model, pseudonym key,
//!                          commit size), label decisions, train and the retrain after an
//!                          ingest, report, rescans beside the server, the search index kept in
//!                          step with the store, the explorer's and asset page's views; AppError keeps domain
//!                          errors whole as causes; sealed values' rotation and audited decryption;
//!                          anonymised exports (PROV-recorded), DP queries over a snapshot of the
//!                          product graph with the budget ledger, the shareable report; ontology
//!                          plan/apply (data moves, SHACL delta, versions) and its docs page
//!            config        layered configuration (defaults → file → env → flags); it gathers
//!                          the option structs the modules below own and imports them, never
//!                          the reverse; audit (the hash-chained log of writes, restricted reads and
//!                          decryptions); telemetry (Prometheus recorder)
//! ─────────────────────────────────────────────────────────────────────────────────────────────
//! domain     ingest        records → product graph: mappings (and suggestions from the
//!                          inventory), cleaning, stable IRIs from business keys, quarantine with
//!                          reasons, labels with provenance, duplicates and outliers, the run's
//!                          PROV counts; incremental per record (content hashes)
//!            inventory     scans files (CSV/TSV/JSONL/Parquet, gzip, GBK) and databases (SQLite,
//!                          PostgreSQL, MySQL): streaming column profiles (columns dealt to
//!                          every core, same result on any count), semantic types and PII
//!                          (LAC through `infer` for Chinese names and addresses), business kinds
//!            monitor       rescans that skip unchanged assets, diffs of two scans (schema, rows,
//!                          nulls, distincts, PSI/KS drift, new PII) as change events, alerts
//!            stock         the stock watch (库存预警): stock snapshots, movements and purchases
//!                          read back per product and warehouse, demand forecasts (SES, weekly
//!                          ETS, Croston SBA by demand class), safety stock and reorder points at
//!                          a service level, stock-out/low/overstock/dead/expiry events once per
//!                          episode through the monitor's alerting, replenishment proposals a
//!                          person decides (accepted ones POSTed to purchasing), the report section
//!            recommend     link prediction as a service: a trained embedding joined with the
//!                          catalog (known links, restricted entities, range classes, labels),
//!                          hot-swapped, retrained warm when the product graph has grown
//!            registry      the models graph: a card per model package and trained embedding
//!            privacy       roles, bearer tokens and their grants, PII validators and
//!                          the masking of PII spans in free text; `anon`: per-column operators,
//!                          k-anonymity and l-diversity by generalisation and suppression; `dp`:
//!                          exact discrete Laplace, contribution bounding, DP aggregates (pure)
//! ─────────────────────────────────────────────────────────────────────────────────────────────
//! adapters   catalog       oxigraph only: store, graph layout, vocabulary, ontology (loading,
//!                          and the maintainers' check and semantic diff of the files), SPARQL
//!                          (limits; the evaluator is carried patched in vendor/spareval), named
//!                          queries, typed rows, SHACL over SPARQL; system graphs admins write;
//!                          the visibility every read goes through (restricted graphs, personal
//!                          columns' detail graphs, a token's grants on graphs/assets/columns)
//!            infer         ort + tokenizers only: model packages, the one ONNX Runtime
//!                          environment, batched classification and NER, CRF decoding, evaluator
//!            embed         ndarray + rayon (+ pulp SIMD) only: TransE (optionally reciprocal),
//!                          sparse optimizers, the deterministic parallel trainer, the filtered
//!                          evaluator, exact, SQ8 and PQ4 top-k search, DGL-KE and PBG formats
//!            search        tantivy only: full-text index of names, titles and descriptions
//!                          (character and pair grams: Chinese and English substrings), synced
//!                          with the store by content hash, hidden graphs filtered out
//!            vault         chacha20poly1305 only: sealed values (XChaCha20-Poly1305, key id and
//!                          field bound as associated data), the keyring from a command, an
//!                          environment variable or a 0600 key file, new keys for rotation
//!            kg            pure data: id maps, triples and splits, filter index, checkpoints
//! ```
//!
//! `infer` and `catalog` do not know each other: `registry` turns a model package (or an
//! embedding) into a card for the models graph. `embed` and `kg` never import the store, the server or
//! ONNX Runtime. No module below `app` imports `config`: each owns its options struct and default
//! (`infer::InferConfig`, `ingest::IngestConfig`, `inventory::InventoryConfig`,
//! `monitor::MonitorConfig`, `recommend::EmbedConfig`), and `config` gathers them.

pub mod app;
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
pub mod registry;
pub mod search;
pub mod stock;
pub mod telemetry;
pub mod vault;
