//! The ontology check's cross-check and speed (`cargo bench --profile dev --bench ontology`):
//! our SKOS checks side by side with skosify's (PyPI, `benches/ontology_peer.py` in
//! `runtime/peers/skosify`, see `scripts/install-peers --skosify`) on the same files in the same
//! run — Google's product taxonomy as SKOS (5,595 concepts, zh/en), the UNESCO thesaurus (4,482
//! concepts, five languages) from `../shared/data/ontology`, and the test fixtures with every
//! SKOS defect planted at once. Per check: what each found, how many resources both name, and
//! agreement (|both| / |either|; 1 when both find nothing). Time: ours (parse + every check)
//! against skosify's (rdflib parse + its checks), best of three for ours.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use stocktake::catalog::ontology::check::{check, CheckOptions};
use stocktake::catalog::ontology::source::OntologySource;

const CHECKS: &[&str] = &[
    "skos_cycle",
    "orphan_concept",
    "multiple_pref_labels",
    "label_clash",
    "related_hierarchical_clash",
    "hierarchical_redundancy",
];

fn local(iri: &str) -> String {
    iri.rsplit(['/', '#']).next().unwrap_or(iri).to_string()
}

/// What one side names per check, as comparable keys: cycles by the local names of their
/// concepts (skosify logs those), pairs as unordered pairs, others by resource.
fn keys(check: &str, terms: &[Vec<String>]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for t in terms {
        match check {
            "skos_cycle" => out.extend(t.iter().map(|x| local(x))),
            "related_hierarchical_clash" | "hierarchical_redundancy" => {
                let mut p = t.clone();
                p.sort();
                p.dedup();
                out.insert(p.join(" "));
            }
            _ => out.extend(t.first().cloned()),
        }
    }
    out
}

fn run(name: &str, file: &Path, languages: &[&str]) {
    let opts = CheckOptions {
        languages: languages.iter().map(|s| s.to_string()).collect(),
        ..CheckOptions::default()
    };
    let mut secs = f64::INFINITY;
    let mut report = None;
    for _ in 0..3 {
        let t = Instant::now();
        let src = OntologySource::read(&[file.to_path_buf()]).unwrap();
        let r = check(&src, &opts);
        secs = secs.min(t.elapsed().as_secs_f64());
        report = Some(r);
    }
    let report = report.unwrap();
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("runtime/peers/skosify/bin/python");
    let out = std::process::Command::new(&python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/ontology_peer.py"))
        .arg(file)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run scripts/install-peers --skosify)",
                python.display()
            )
        });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let peer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let peer_secs =
        peer["parse_seconds"].as_f64().unwrap() + peer["check_seconds"].as_f64().unwrap();
    println!(
        "\n{name}: {} triples, {} concepts; skosify {} (rdflib {})",
        report.counts.triples, report.counts.concepts, peer["skosify"], peer["rdflib"]
    );
    println!(
        "{:<28} {:>7} {:>8} {:>6} {:>10}  differences",
        "check", "ours", "skosify", "both", "agreement"
    );
    for c in CHECKS {
        let ours_terms: Vec<Vec<String>> = report
            .findings
            .iter()
            .filter(|f| f.check == *c)
            .map(|f| f.terms.clone())
            .collect();
        let peer_terms: Vec<Vec<String>> = peer["findings"][*c]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|x| {
                        x.as_array()
                            .unwrap()
                            .iter()
                            .map(|s| s.as_str().unwrap().to_string())
                            .collect()
                    })
                    .collect()
            })
            .unwrap_or_default();
        let (a, b) = (keys(c, &ours_terms), keys(c, &peer_terms));
        let both = a.intersection(&b).count();
        let either = a.union(&b).count();
        let agreement = if either == 0 {
            1.0
        } else {
            both as f64 / either as f64
        };
        let only_ours: Vec<String> = a.difference(&b).take(3).map(|s| local(s)).collect();
        let only_peer: Vec<String> = b.difference(&a).take(3).map(|s| local(s)).collect();
        println!(
            "{c:<28} {:>7} {:>8} {both:>6} {agreement:>10.3}  {}{}",
            a.len(),
            b.len(),
            if only_ours.is_empty() {
                String::new()
            } else {
                format!("only ours: {} ", only_ours.join(", "))
            },
            if only_peer.is_empty() {
                String::new()
            } else {
                format!("only skosify: {}", only_peer.join(", "))
            }
        );
    }
    let all: BTreeMap<&str, usize> = report.checks.iter().map(|c| (c.id, c.found)).collect();
    println!("all our checks: {all:?}");
    println!(
        "time: ours {secs:.3} s (parse + {} checks), skosify {peer_secs:.3} s (parse {:.3} + checks {:.3}); ours is {:.1}x faster",
        report.checks.len(),
        peer["parse_seconds"].as_f64().unwrap(),
        peer["check_seconds"].as_f64().unwrap(),
        peer_secs / secs
    );
}

fn main() {
    let shared = std::env::var_os("STOCKTAKE_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    let onto = shared.join("ontology");
    // The fixtures with every SKOS defect planted at once (one Turtle file; prefixes repeat).
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ontology");
    let mut text = std::fs::read_to_string(fixtures.join("base.ttl")).unwrap();
    for d in [
        "skos_cycle",
        "orphan_concept",
        "multiple_pref_labels",
        "label_clash",
        "related_hierarchical_clash",
        "hierarchical_redundancy",
        "exact_match_contradiction",
    ] {
        text.push_str(&std::fs::read_to_string(fixtures.join(format!("defects/{d}.ttl"))).unwrap());
    }
    let planted = std::env::temp_dir().join("stocktake-ontology-bench-planted.ttl");
    std::fs::write(&planted, text).unwrap();
    run(
        "test fixtures, SKOS defects planted",
        &planted,
        &["zh", "en"],
    );
    run(
        "Google product taxonomy (SKOS, zh/en)",
        &onto.join("google-product-taxonomy/gpt-2021-09-21-skos-en-zh.ttl"),
        &["zh", "en"],
    );
    run(
        "UNESCO thesaurus",
        &onto.join("unesco-thesaurus/unesco-thesaurus.ttl"),
        &["en", "es", "fr", "ar", "ru"],
    );
}
