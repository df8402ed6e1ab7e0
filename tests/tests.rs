//! Integration tests, compiled into one binary (see ../shared/STYLE.md).

#[macro_use]
mod util;

mod auth;
mod conformance;
mod infer;
mod ingest;
mod inventory;
mod inventory_db;
mod inventory_ner;
mod kge;
mod limits;
mod models_cli;
mod restart;
mod w3c;
