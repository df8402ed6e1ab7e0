//! Fuzz targets for the parsers we own, as property tests bounded in cases (they run in every
//! `cargo test`): mapping TOML, configuration TOML, model package configs, named-query
//! parameters, and the file sniffing of the inventory (encoding, delimiter, header, rows). Each
//! must answer any input with a value or a clear error — never a panic, never a hang. Content
//! negotiation has its target beside the code (`src/http/negotiate.rs`).

use std::collections::BTreeMap;

use proptest::prelude::*;

use stocktake::catalog::{CancelToken, Catalog, GraphLayout, NamedQuery, Visibility};
use stocktake::config::Config;
use stocktake::infer::package::parse_config;
use stocktake::ingest::mapping::Mapping;

/// TOML-ish text: keys, tables, strings and numbers in random order, plus raw noise.
fn tomlish() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        "[a-z_.]{1,12}",
        "\\[[a-z_.]{1,16}\\]",
        "\\[\\[[a-z_]{1,10}\\]\\]",
        "[a-z_]{1,12} = \"[^\"\n]{0,20}\"",
        "[a-z_]{1,12} = -?[0-9]{1,12}(\\.[0-9]{1,3})?",
        "[a-z_]{1,12} = (true|false|\\[\\]|\\{\\})",
        ".{0,30}",
    ];
    proptest::collection::vec(line, 0..12).prop_map(|l| l.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn mapping_toml(text in tomlish()) {
        let _ = Mapping::parse(&text);
        for entity in ["product", "review", "interaction", "user", "seller"] {
            let _ = Mapping::parse(&format!("entity = \"{entity}\"\n{text}"));
        }
    }

    #[test]
    fn config_toml(text in tomlish()) {
        if let Ok(c) = Config::from_toml(&text) {
            let _ = c.validate();
        }
    }

    #[test]
    fn model_package_config(text in ".{0,200}", keys in proptest::collection::vec("[a-z_]{1,12}", 0..6)) {
        let _ = parse_config(&text, "m");
        let json = format!(
            "{{{}}}",
            keys.iter().map(|k| format!("\"{k}\": {text:?}")).collect::<Vec<_>>().join(",")
        );
        let _ = parse_config(&json, "m");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Arbitrary parameter values (and names) bind as terms or are refused with a 4xx error:
    /// never spliced into the query, never a panic.
    #[test]
    fn named_query_parameters(value in ".{0,80}", name in "[a-z]{1,8}") {
        let catalog = catalog();
        for q in queries() {
            let mut args = BTreeMap::new();
            for p in &q.params {
                args.insert(p.name.clone(), value.clone());
            }
            match catalog.prepare_named(q, &args, &Visibility::PUBLIC, false, &CancelToken::new()) {
                Ok(_) => {}
                Err(e) => prop_assert!(
                    matches!(e, stocktake::catalog::CatalogError::Invalid(_) | stocktake::catalog::CatalogError::InvalidIri(_)),
                    "{}: {e:?}", q.name
                ),
            }
            let mut unknown = BTreeMap::new();
            unknown.insert(format!("zz{name}"), value.clone());
            prop_assert!(catalog.prepare_named(q, &unknown, &Visibility::PUBLIC, false, &CancelToken::new()).is_err());
        }
    }

    /// Any bytes under any of the inventory's file names are profiled or reported as a scan
    /// error of that asset.
    #[test]
    fn inventory_sniffing(bytes in proptest::collection::vec(any::<u8>(), 0..600), seps in proptest::collection::vec(prop_oneof![Just(b','), Just(b'\t'), Just(b';'), Just(b'|'), Just(b'\n'), Just(b'"')], 0..60)) {
        let dir = tempfile::tempdir().unwrap();
        let mut mixed = bytes.clone();
        for (i, s) in seps.iter().enumerate() {
            let at = (i * 7919) % (mixed.len() + 1);
            mixed.insert(at, *s);
        }
        for name in ["a.csv", "a.tsv", "a.jsonl", "a.csv.gz", "a.parquet"] {
            let path = dir.path().join(name);
            std::fs::write(&path, &mixed).unwrap();
            let scan = stocktake::inventory::files::scan_file(dir.path(), &path, None);
            // Rows are records of the file: never more than its lines (a header takes one).
            let lines = mixed.iter().filter(|b| matches!(**b, b'\n' | b'\r')).count() as u64 + 1;
            prop_assert!(scan.error.is_some() || scan.rows <= lines, "{name}: {} rows, {lines} lines", scan.rows);
        }
    }
}

fn catalog() -> &'static Catalog {
    static C: std::sync::OnceLock<Catalog> = std::sync::OnceLock::new();
    C.get_or_init(|| {
        Catalog::in_memory(GraphLayout::new("https://example.org/st/").unwrap()).unwrap()
    })
}

fn queries() -> &'static [NamedQuery] {
    static Q: std::sync::OnceLock<Vec<NamedQuery>> = std::sync::OnceLock::new();
    Q.get_or_init(|| NamedQuery::load_dir(&crate::util::repo().join("queries")).unwrap())
}
