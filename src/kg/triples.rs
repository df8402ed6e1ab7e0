//! Triples and their train/valid/test splits.
//!
//! Link-prediction datasets come as `train.txt`, `valid.txt`, `test.txt` with one
//! `head<TAB>relation<TAB>tail` per line (FB15k-237 ships with CRLF endings, inside a tarball),
//! and from the catalog as IRI triples. Both end up as one [`Dataset`] whose id maps are built from
//! training first, so ids of trained rows never depend on what valid/test happen to mention.
//!
//! Policy for valid/test triples naming an entity or relation absent from training (stated
//! because published numbers depend on it): [`UnseenPolicy::Keep`] (the default, as LibKGE and
//! the original dataset papers do) adds the name to the id maps, so the triple is ranked with an
//! untrained row and usually ranks badly; [`UnseenPolicy::Drop`] (as PyKEEN does) removes it.
//! Either way each split reports how many triples were affected.

use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{IdMaps, KgError};

/// One fact as dense ids: `head --relation--> tail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Triple {
    pub h: u32,
    pub r: u32,
    pub t: u32,
}

impl Triple {
    pub fn new(h: u32, r: u32, t: u32) -> Self {
        Triple { h, r, t }
    }
}

/// What to do with valid/test triples whose entity or relation never occurs in training.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnseenPolicy {
    /// Keep them; the unseen names get ids (and untrained embeddings).
    #[default]
    Keep,
    /// Leave them out of the split.
    Drop,
}

impl std::str::FromStr for UnseenPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "keep" => Ok(UnseenPolicy::Keep),
            "drop" => Ok(UnseenPolicy::Drop),
            other => Err(format!("unknown unseen policy {other:?}: use keep or drop")),
        }
    }
}

impl fmt::Display for UnseenPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UnseenPolicy::Keep => "keep",
            UnseenPolicy::Drop => "drop",
        })
    }
}

/// How one split was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitReport {
    pub split: String,
    /// Triples read (duplicates included).
    pub read: usize,
    /// Triples in the split after the unseen policy.
    pub kept: usize,
    /// Triples naming an entity or relation absent from training.
    pub unseen: usize,
    /// Of those, how many were dropped (0 under `keep`).
    pub dropped: usize,
}

/// A training split plus optional validation and test splits sharing one pair of id maps.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    pub ids: IdMaps,
    pub train: Vec<Triple>,
    pub valid: Vec<Triple>,
    pub test: Vec<Triple>,
    pub reports: Vec<SplitReport>,
    /// Where the triples came from (a path or a description).
    pub source: String,
    /// sha256 over the three splits as read: the data snapshot a model was trained on.
    pub fingerprint: String,
}

type Named = (String, String, String);

impl Dataset {
    /// Reads `train.txt` and, when present, `valid.txt` and `test.txt` from a directory or from a
    /// `.tar.gz`/`.tgz` archive holding them (at any depth).
    pub fn load(path: &Path, policy: UnseenPolicy) -> Result<Dataset, KgError> {
        let mut splits: [Option<Vec<Named>>; 3] = [None, None, None];
        let name = |i: usize| ["train.txt", "valid.txt", "test.txt"][i];
        let is_archive = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(".tar.gz") || n.ends_with(".tgz"));
        if is_archive {
            let file = std::fs::File::open(path).map_err(|e| KgError::io(path, e))?;
            let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
            let entries = archive.entries().map_err(|e| KgError::io(path, e))?;
            for entry in entries {
                let entry = entry.map_err(|e| KgError::io(path, e))?;
                let inner = entry.path().map_err(|e| KgError::io(path, e))?.into_owned();
                let base = inner.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if let Some(i) = (0..3).find(|&i| name(i) == base) {
                    let label = path.join(&inner);
                    splits[i] = Some(parse_tsv(entry, &label)?);
                }
            }
        } else if path.is_dir() {
            for (i, split) in splits.iter_mut().enumerate() {
                let file = path.join(name(i));
                if file.exists() {
                    let f = std::fs::File::open(&file).map_err(|e| KgError::io(&file, e))?;
                    *split = Some(parse_tsv(f, &file)?);
                }
            }
        } else {
            return Err(KgError::Invalid(format!(
                "{}: not a directory or a .tar.gz of train.txt/valid.txt/test.txt",
                path.display()
            )));
        }
        let [train, valid, test] = splits;
        let train = train
            .ok_or_else(|| KgError::Invalid(format!("{}: no train.txt found", path.display())))?;
        Dataset::from_named(
            train,
            valid.unwrap_or_default(),
            test.unwrap_or_default(),
            policy,
            path.display().to_string(),
        )
    }

    /// Builds a dataset from named triples (IRIs or any strings). Ids are assigned in order of
    /// first appearance in training, then (under `keep`) valid, then test.
    pub fn from_named(
        train: Vec<Named>,
        valid: Vec<Named>,
        test: Vec<Named>,
        policy: UnseenPolicy,
        source: String,
    ) -> Result<Dataset, KgError> {
        if train.is_empty() {
            return Err(KgError::Invalid(format!(
                "{source}: the training split has no triples; there is nothing to learn from"
            )));
        }
        let mut hasher = Sha256::new();
        for (label, split) in [("train", &train), ("valid", &valid), ("test", &test)] {
            hasher.update(label.as_bytes());
            for (h, r, t) in split.iter() {
                for part in [h, r, t] {
                    hasher.update(part.as_bytes());
                    hasher.update([0u8]);
                }
            }
        }
        let mut ids = IdMaps::default();
        let mut reports = Vec::new();
        let train_ids: Vec<Triple> = train
            .iter()
            .map(|(h, r, t)| {
                let h = ids.entities.intern(h);
                let r = ids.relations.intern(r);
                let t = ids.entities.intern(t);
                Triple::new(h, r, t)
            })
            .collect();
        reports.push(SplitReport {
            split: "train".into(),
            read: train.len(),
            kept: train.len(),
            unseen: 0,
            dropped: 0,
        });
        let (n_ent, n_rel) = (ids.entities.len() as u32, ids.relations.len() as u32);
        let mut map_split = |label: &str, split: &[Named]| {
            let mut out = Vec::with_capacity(split.len());
            let mut unseen = 0;
            for (h, r, t) in split {
                let seen = |id: Option<u32>, n: u32| id.is_some_and(|i| i < n);
                let known = seen(ids.entities.get(h), n_ent)
                    && seen(ids.relations.get(r), n_rel)
                    && seen(ids.entities.get(t), n_ent);
                if !known {
                    unseen += 1;
                    if policy == UnseenPolicy::Drop {
                        continue;
                    }
                }
                out.push(Triple::new(
                    ids.entities.intern(h),
                    ids.relations.intern(r),
                    ids.entities.intern(t),
                ));
            }
            reports.push(SplitReport {
                split: label.into(),
                read: split.len(),
                kept: out.len(),
                unseen,
                dropped: split.len() - out.len(),
            });
            out
        };
        let valid_ids = map_split("valid", &valid);
        let test_ids = map_split("test", &test);
        Ok(Dataset {
            ids,
            train: train_ids,
            valid: valid_ids,
            test: test_ids,
            reports,
            source,
            fingerprint: hex::encode(hasher.finalize()),
        })
    }

    /// A split by name (`train`, `valid`, `test`).
    pub fn split(&self, name: &str) -> Result<&[Triple], KgError> {
        match name {
            "train" => Ok(&self.train),
            "valid" | "validation" => Ok(&self.valid),
            "test" => Ok(&self.test),
            other => Err(KgError::Invalid(format!(
                "unknown split {other:?}: use train, valid or test"
            ))),
        }
    }

    pub fn num_entities(&self) -> usize {
        self.ids.entities.len()
    }

    pub fn num_relations(&self) -> usize {
        self.ids.relations.len()
    }
}

/// Splits named triples into (train, valid, test) by a hash of each triple, so the same triple
/// always lands in the same split however the input is ordered or grown: a rescan that adds
/// triples does not reshuffle what the model was validated on. `valid_per_mille` and
/// `test_per_mille` are shares out of 1000. Duplicates are removed; output is sorted.
pub fn split_by_hash(
    mut triples: Vec<Named>,
    valid_per_mille: u64,
    test_per_mille: u64,
) -> (Vec<Named>, Vec<Named>, Vec<Named>) {
    triples.sort_unstable();
    triples.dedup();
    let (mut train, mut valid, mut test) = (Vec::new(), Vec::new(), Vec::new());
    for t in triples {
        let mut h = Sha256::new();
        for part in [&t.0, &t.1, &t.2] {
            h.update(part.as_bytes());
            h.update([0u8]);
        }
        let d = h.finalize();
        let bucket = u64::from_le_bytes(d[..8].try_into().expect("8 bytes")) % 1000;
        if bucket < valid_per_mille {
            valid.push(t);
        } else if bucket < valid_per_mille + test_per_mille {
            test.push(t);
        } else {
            train.push(t);
        }
    }
    (train, valid, test)
}

/// Parses `head<TAB>relation<TAB>tail` lines (CRLF tolerated, blank lines skipped). A line without
/// tabs may separate its three fields by spaces. Anything else is reported with its line number.
pub fn parse_tsv(reader: impl Read, path: &Path) -> Result<Vec<Named>, KgError> {
    let mut out = Vec::new();
    let reader = BufReader::new(reader);
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| KgError::io(path, e))?;
        let line = line.trim_end_matches(['\r', '\n']);
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = if line.contains('\t') {
            line.split('\t').collect()
        } else {
            line.split_whitespace().collect()
        };
        let malformed = |message: String| KgError::Malformed {
            path: PathBuf::from(path),
            line: i + 1,
            message,
        };
        if fields.len() != 3 {
            return Err(malformed(format!(
                "expected 3 tab-separated fields (head, relation, tail), found {}",
                fields.len()
            )));
        }
        if let Some(pos) = fields.iter().position(|f| f.trim().is_empty()) {
            let which = ["head", "relation", "tail"][pos];
            return Err(malformed(format!("the {which} field is empty")));
        }
        out.push((
            fields[0].trim().to_owned(),
            fields[1].trim().to_owned(),
            fields[2].trim().to_owned(),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(rows: &[(&str, &str, &str)]) -> Vec<Named> {
        rows.iter()
            .map(|(h, r, t)| (h.to_string(), r.to_string(), t.to_string()))
            .collect()
    }

    #[test]
    fn crlf_and_blank_lines_are_tolerated() {
        let text = "a\tr\tb\r\n\r\nb\tr\tc\r\n";
        let rows = parse_tsv(text.as_bytes(), Path::new("x.txt")).unwrap();
        assert_eq!(rows, named(&[("a", "r", "b"), ("b", "r", "c")]));
    }

    #[test]
    fn malformed_lines_name_their_line() {
        let err = parse_tsv("a\tr\tb\na\tr\n".as_bytes(), Path::new("x.txt")).unwrap_err();
        assert!(err.to_string().contains("x.txt line 2"), "{err}");
        assert!(err.to_string().contains("found 2"), "{err}");
        let err = parse_tsv("a\t\tb\n".as_bytes(), Path::new("x.txt")).unwrap_err();
        assert!(err.to_string().contains("relation field is empty"), "{err}");
    }

    #[test]
    fn unseen_policy_keeps_or_drops_and_reports() {
        let train = named(&[("a", "r", "b"), ("b", "r", "c")]);
        let valid = named(&[("a", "r", "c"), ("a", "r", "zz"), ("a", "q", "b")]);
        let keep = Dataset::from_named(
            train.clone(),
            valid.clone(),
            vec![],
            UnseenPolicy::Keep,
            "t".into(),
        )
        .unwrap();
        assert_eq!(keep.valid.len(), 3);
        assert_eq!(keep.reports[1].unseen, 2);
        assert_eq!(keep.reports[1].dropped, 0);
        // Training rows come first: "zz" and "q" get ids after every training name.
        assert_eq!(keep.ids.entities.get("zz"), Some(3));
        assert_eq!(keep.ids.relations.get("q"), Some(1));
        let drop =
            Dataset::from_named(train, valid, vec![], UnseenPolicy::Drop, "t".into()).unwrap();
        assert_eq!(drop.valid, vec![Triple::new(0, 0, 2)]);
        assert_eq!(drop.reports[1].dropped, 2);
        assert_eq!(drop.num_entities(), 3);
        assert_eq!(
            keep.fingerprint, drop.fingerprint,
            "same input, same snapshot"
        );
    }

    #[test]
    fn hash_split_is_stable_under_reordering_and_growth() {
        let rows: Vec<Named> = (0..2000)
            .map(|i| (format!("e{i}"), "r".to_string(), format!("e{}", i + 1)))
            .collect();
        let (tr, va, te) = split_by_hash(rows.clone(), 50, 50);
        assert_eq!(tr.len() + va.len() + te.len(), 2000);
        assert!(
            (60..140).contains(&va.len()) && (60..140).contains(&te.len()),
            "{} {}",
            va.len(),
            te.len()
        );
        let mut more = rows;
        more.reverse();
        more.push(("x".into(), "r".into(), "y".into()));
        let (_, va2, te2) = split_by_hash(more, 50, 50);
        assert!(va.iter().all(|t| va2.contains(t)));
        assert!(te.iter().all(|t| te2.contains(t)));
    }

    #[test]
    fn empty_training_split_is_an_error() {
        let err = Dataset::from_named(vec![], vec![], vec![], UnseenPolicy::Keep, "empty".into())
            .unwrap_err();
        assert!(err.to_string().contains("nothing to learn"), "{err}");
    }
}
