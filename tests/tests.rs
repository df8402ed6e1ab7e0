//! Integration tests, compiled into one binary (see ../shared/STYLE.md).

#[macro_use]
mod util;

mod anonymise;
mod auth;
mod conformance;
mod demo;
mod dp;
mod fuzz;
mod grants;
mod infer;
mod ingest;
mod ingest_http;
mod ingest_kill;
mod ingest_labels;
mod ingest_real;
mod inventory;
mod inventory_db;
mod inventory_ner;
mod kge;
mod kge_http;
mod limits;
mod model_watch;
mod models_cli;
mod monitor;
mod monitor_ops;
mod ontology;
mod ontology_change;
mod privacy;
mod restart;
mod retrain;
mod security;
mod soak;
mod stock;
mod w3c;
mod workbench;
mod workbench_access;
