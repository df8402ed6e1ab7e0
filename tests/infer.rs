//! The inference layer through real ONNX Runtime: tiny fixture models (tests/fixtures/models,
//! built by models/train/make_tiny.py) for edge cases whose right answer is a rule, the bad
//! packages users will hand us, and the real default models on fixed inputs.

use std::path::{Path, PathBuf};

use stocktake::infer::{InferError, Model, Options, Task};

fn fixtures() -> PathBuf {
    crate::util::repo().join("tests/fixtures/models")
}

fn load(name: &str) -> Model {
    Model::load(&fixtures().join(name), &Options::default())
        .unwrap_or_else(|e| panic!("loading {name}: {e} (run scripts/install-ort?)"))
}

/// The fixture taggers' rule: entities are maximal runs of digits after NFKC (so full-width
/// digits count), with offsets in Unicode scalar values of the original text.
fn digit_runs(text: &str) -> Vec<(usize, usize)> {
    let is_digit = |c: char| c.is_ascii_digit() || ('０'..='９').contains(&c);
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if is_digit(chars[i]) {
            let s = i;
            while i < chars.len() && is_digit(chars[i]) {
                i += 1;
            }
            out.push((s, i));
        } else {
            i += 1;
        }
    }
    out
}

fn spans(m: &Model, text: &str) -> Vec<(usize, usize)> {
    let p = m.predict(&[text]).unwrap();
    p[0].entities.iter().map(|e| (e.start, e.end)).collect()
}

#[test]
fn tiny_taggers_give_exact_offsets_on_mixed_scripts() {
    let texts = [
        "华为 Mate60 Pro 手机 5G",
        "ＡＢ１２３ 全角数字",
        "😀emoji 42 👍🏽 7",
        "no digits here",
        "123",
        "  9  ",
        "苹果iPhone15ProMax256G",
    ];
    for name in ["tiny-ner", "tiny-ner-argmax", "tiny-hf-ner"] {
        let m = load(name);
        assert_eq!(m.task(), Task::TokenClassification);
        for t in texts {
            assert_eq!(spans(&m, t), digit_runs(t), "{name} on {t:?}");
        }
        let p = m.predict(&["x 12"]).unwrap();
        let e = &p[0].entities[0];
        assert_eq!(e.label, "num");
        assert!(e.score > 0.5 && e.score <= 1.0, "{e:?}");
    }
}

#[test]
fn empty_text_and_long_text_truncation() {
    let m = load("tiny-ner");
    let p = m.predict(&[""]).unwrap();
    assert!(p[0].entities.is_empty());
    assert!(!p[0].truncated);
    // 10,000 characters against max_length 64: truncated, flagged, still answered.
    let long: String = "ab12".repeat(2500);
    let p = m.predict(&[long.as_str()]).unwrap();
    assert!(p[0].truncated);
    assert_eq!(p[0].entities.len(), 16, "64 tokens hold 16 digit pairs");
    assert_eq!((p[0].entities[15].start, p[0].entities[15].end), (62, 64));
    let c = load("tiny-cls");
    let p = c.predict(&["", long.as_str()]).unwrap();
    assert!(p[1].truncated);
    assert_eq!(p[1].heads[0].1[0].label, "number");
}

#[test]
fn batches_of_1_and_512_agree_in_input_order() {
    let m = load("tiny-ner");
    let texts: Vec<String> = (0..512)
        .map(|i| format!("{}商品{}x{}", "a".repeat(i % 37), i, "９".repeat(i % 3)))
        .collect();
    let batched = m.predict(&texts).unwrap();
    assert_eq!(batched.len(), 512);
    for (t, p) in texts.iter().zip(&batched).step_by(17) {
        let one = m.predict(&[t.as_str()]).unwrap();
        assert_eq!(one[0].entities, p.entities, "{t}");
        let got: Vec<_> = p.entities.iter().map(|e| (e.start, e.end)).collect();
        assert_eq!(got, digit_runs(t), "{t}");
    }
    let c = load("tiny-cls");
    let p = c.predict(&texts).unwrap();
    assert!(p.iter().all(|x| x.heads[0].1[0].label == "number"));
    let p = c.predict(&["茶杯", "茶杯1"]).unwrap();
    assert_eq!(p[0].heads[0].1[0].label, "text");
    assert_eq!(p[1].heads[0].1[0].label, "number");
    let probs: f32 = p[0].heads[0].1.iter().map(|s| s.score).sum();
    assert!((probs - 1.0).abs() < 1e-5);
}

fn copy_fixture(name: &str, dir: &Path) -> PathBuf {
    let dst = dir.join(name);
    std::fs::create_dir_all(&dst).unwrap();
    for f in std::fs::read_dir(fixtures().join(name)).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, dst.join(f.file_name().unwrap())).unwrap();
    }
    dst
}

fn load_err(dir: &Path) -> String {
    match Model::load(dir, &Options::default()) {
        Ok(_) => panic!("{} loaded but should not", dir.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_packages_fail_at_load_with_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();

    let d = copy_fixture("tiny-ner", tmp.path());
    std::fs::remove_file(d.join("tokenizer.json")).unwrap();
    let e = load_err(&d);
    assert!(e.contains("tokenizer.json") && e.contains("missing"), "{e}");

    let d = copy_fixture("tiny-cls", tmp.path());
    std::fs::write(d.join("model.onnx"), b"this is not an onnx file").unwrap();
    let e = load_err(&d);
    assert!(
        e.contains("ONNX Runtime rejected") && e.contains("model.onnx"),
        "{e}"
    );

    let d = copy_fixture("tiny-ner-argmax", tmp.path());
    let cfg = std::fs::read_to_string(d.join("config.json")).unwrap();
    std::fs::write(
        d.join("config.json"),
        cfg.replace("\"input_ids\": \"input_ids\"", "\"input_ids\": \"ids\""),
    )
    .unwrap();
    let e = load_err(&d);
    assert!(e.contains("\"ids\"") && e.contains("input_ids"), "{e}");

    let d = copy_fixture("tiny-hf-ner", tmp.path());
    let cfg = std::fs::read_to_string(d.join("config.json")).unwrap();
    std::fs::write(
        d.join("config.json"),
        cfg.replace("\"2\": \"I-num\"", "\"2\": \"I-num\", \"3\": \"B-x\""),
    )
    .unwrap();
    let e = load_err(&d);
    assert!(
        e.contains("4 labels") && e.contains("does not match"),
        "{e}"
    );

    let d = tmp.path().join("tiny-cls-wrong-output");
    copy_fixture("tiny-cls", tmp.path());
    std::fs::rename(tmp.path().join("tiny-cls"), &d).unwrap();
    let cfg = std::fs::read_to_string(d.join("config.json")).unwrap();
    std::fs::write(
        d.join("config.json"),
        cfg.replace("\"output\": \"logits\"", "\"output\": \"scores\""),
    )
    .unwrap();
    let e = load_err(&d);
    assert!(e.contains("\"scores\"") && e.contains("logits"), "{e}");

    let d = copy_fixture("tiny-ner", tmp.path().join("x").as_path());
    std::fs::write(d.join("config.json"), "{\"format\": \"stocktake-model/1\"").unwrap();
    let e = load_err(&d);
    assert!(
        e.contains("invalid model config") && e.contains("JSON"),
        "{e}"
    );

    let missing =
        stocktake::infer::runtime::discover(Some(Path::new("/no/such/libonnxruntime.so")));
    assert!(matches!(missing, Err(InferError::Runtime { .. })));
}

/// A default model package, or `None` (with the reason printed) while it is not committed yet:
/// models are committed only once they meet the quality bars (see models/train/README.md).
fn default_model(name: &str) -> Option<Model> {
    let dir = crate::util::repo().join("models").join(name);
    if !dir.join("model.onnx").is_file() {
        crate::util::missing(&format!(
            "models/{name} is not present (scripts/setup installs it; models/train/ trains it)"
        ));
        return None;
    }
    Some(Model::load(&dir, &Options::default()).unwrap_or_else(|e| panic!("loading {name}: {e}")))
}

fn metric(v: &serde_json::Value, path: &str) -> f64 {
    path.split('.')
        .fold(v, |v, k| &v[k])
        .as_f64()
        .unwrap_or_else(|| panic!("no metric {path}"))
}

/// The Rust evaluator must reproduce the training script's dev numbers (recorded in
/// config.json) to within 0.5 points.
#[test]
fn ner_evaluator_agrees_with_training_script() {
    let data = need_shared_data!();
    let Some(ner) = default_model("product-ner") else {
        return;
    };
    let recorded = ner.package.config.metrics.clone();
    for (set, file, types) in [
        ("taobao", "ner/taobao-ner-jie2019/dev.txt", vec![]),
        (
            "ding",
            "ner/ecommerce-ner-ding2019/dev.txt.bieos",
            vec!["brand".to_string(), "product".to_string()],
        ),
    ] {
        let got =
            stocktake::infer::eval::evaluate(&ner, &data.join(file), None, &types, None).unwrap();
        let ours = metric(&got, "micro.f1");
        let theirs = metric(&recorded, &format!("{set}_dev.micro.f1"));
        assert!(
            (ours - theirs).abs() <= 0.005,
            "{set}: Rust {ours:.4} vs training script {theirs:.4}"
        );
    }
}

/// Same for the review classifier on the fixed test split.
#[test]
fn classifier_evaluator_agrees_with_training_script() {
    let data = need_shared_data!();
    let Some(cls) = default_model("review-classifier") else {
        return;
    };
    let recorded = cls.package.config.metrics.clone();
    let dir = data.join("text/online_shopping_10_cats");
    let split_file = dir.join("split_seed42.json");
    let split = stocktake::infer::eval::Split {
        file: &split_file,
        name: "test",
    };
    let got = stocktake::infer::eval::evaluate(
        &cls,
        &dir.join("online_shopping_10_cats.zip"),
        Some(split),
        &[],
        None,
    )
    .unwrap();
    assert_eq!(got["examples"], 6278);
    for (ours, theirs) in [
        ("heads.category.macro_f1", "test.category.macro_f1"),
        ("heads.category.accuracy", "test.category.accuracy"),
        ("heads.sentiment.accuracy", "test.sentiment.accuracy"),
    ] {
        let (a, b) = (metric(&got, ours), metric(&recorded, theirs));
        assert!(
            (a - b).abs() <= 0.005,
            "{ours}: Rust {a:.4} vs training script {b:.4}"
        );
    }
}

/// An expected entity: start, end (Unicode scalar values), label.
type Span = (usize, usize, &'static str);

/// The shipped product-ner on fixed titles: brands and product types with exact character
/// offsets (Chinese, Latin, digits, spaces), each more likely than not (span score > 0.5).
#[test]
fn product_ner_known_outputs() {
    let Some(ner) = default_model("product-ner") else {
        return;
    };
    let cases: [(&str, &[Span]); 4] = [
        (
            "华为Mate60Pro手机 5G全网通 黑色",
            &[(0, 2, "brand"), (2, 11, "model"), (11, 13, "product")],
        ),
        (
            "小米空气净化器家用除甲醛",
            &[(0, 2, "brand"), (2, 7, "product")],
        ),
        (
            "耐克NIKE男子运动鞋AIR MAX 90休闲跑步鞋",
            &[(0, 2, "brand"), (2, 6, "brand"), (8, 11, "product")],
        ),
        (
            "蒙牛纯牛奶250ml*24盒整箱",
            &[(0, 2, "brand"), (2, 5, "product")],
        ),
    ];
    let texts: Vec<&str> = cases.iter().map(|c| c.0).collect();
    let preds = ner.predict(&texts).unwrap();
    for ((text, want), p) in cases.iter().zip(&preds) {
        for &(s, e, label) in want.iter() {
            let hit = p
                .entities
                .iter()
                .find(|x| x.start == s && x.end == e && x.label == label);
            let hit =
                hit.unwrap_or_else(|| panic!("{text}: no {label} at {s}..{e} in {:?}", p.entities));
            assert!(hit.score > 0.5, "{text}: {hit:?}");
        }
    }
    assert_eq!(ner.package.config.name, "product-ner");
}

/// The shipped review-classifier on fixed reviews: category (the data's own names) and
/// sentiment, each the top label with a probability above one half.
#[test]
fn review_classifier_known_outputs() {
    let Some(cls) = default_model("review-classifier") else {
        return;
    };
    let cases = [
        ("这款手机信号很好，通话清晰，待机时间长", "手机", "positive"),
        ("平板电脑屏幕大，看电影很爽", "平板", "positive"),
        ("笔记本电脑运行速度快，键盘手感好", "计算机", "positive"),
        (
            "酒店房间又小又脏，前台服务态度很差，不会再住了",
            "酒店",
            "negative",
        ),
        ("书的纸张很差，错别字很多", "书籍", "negative"),
        ("洗发水用完头皮很痒，头发还干枯，差评", "洗发水", "negative"),
        ("牛奶味道很醇，孩子很喜欢喝，一直买蒙牛", "蒙牛", "positive"),
        ("热水器安装师傅乱收费，加热也很慢", "热水器", "negative"),
        ("苹果很新鲜，又脆又甜，下次还买", "水果", "positive"),
        ("衣服质量很好，穿着舒服，尺码也合适", "衣服", "positive"),
    ];
    let texts: Vec<&str> = cases.iter().map(|c| c.0).collect();
    let preds = cls.predict(&texts).unwrap();
    for ((text, category, sentiment), p) in cases.iter().zip(&preds) {
        let head = |name: &str| {
            let (_, labels) = p.heads.iter().find(|(h, _)| h == name).unwrap();
            let sum: f32 = labels.iter().map(|s| s.score).sum();
            assert!(
                (sum - 1.0).abs() < 1e-4,
                "{text}: {name} probabilities sum to {sum}"
            );
            labels[0].clone()
        };
        let (c, s) = (head("category"), head("sentiment"));
        assert_eq!(
            (c.label.as_str(), s.label.as_str()),
            (*category, *sentiment),
            "{text}"
        );
        assert!(c.score > 0.5 && s.score > 0.5, "{text}: {c:?} {s:?}");
        assert!(!p.truncated);
    }
    // Degenerate inputs still get a full distribution per head (the in-graph n-gram features
    // handle sequences shorter than a trigram).
    for p in cls.predict(&["", "好", "😀"]).unwrap() {
        assert_eq!(p.heads.len(), 2);
        for (_, labels) in &p.heads {
            let sum: f32 = labels.iter().map(|s| s.score).sum();
            assert!((sum - 1.0).abs() < 1e-4 && labels.iter().all(|s| s.score.is_finite()));
        }
    }
    assert_eq!(cls.package.config.name, "review-classifier");
}
