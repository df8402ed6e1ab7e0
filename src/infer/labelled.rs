//! Labelled data for `models eval`, read the way the datasets ship it: CoNLL
//! one-character-per-line files (BIO or BIOES, CRLF tolerated) and JSONL for NER; JSONL or CSV
//! (also inside a `.zip`, with an optional split file selecting rows) for classification.
//! Dataset tags and label names go through the model's `label_aliases`, so one scorer in
//! `eval` serves every dataset. Every malformed line is an error naming the file and line.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use super::InferError;

/// One labelled NER example; spans in Unicode scalar values, end exclusive.
#[derive(Debug, Clone, PartialEq)]
pub struct NerExample {
    pub text: String,
    pub entities: Vec<(usize, usize, String)>,
}

/// One labelled classification example.
#[derive(Debug, Clone, PartialEq)]
pub struct ClsExample {
    pub text: String,
    pub labels: BTreeMap<String, String>,
}

pub(super) fn data_err(path: &Path, line: usize, message: impl Into<String>) -> InferError {
    InferError::Data {
        path: path.to_path_buf(),
        line,
        message: message.into(),
    }
}

fn read_text(path: &Path) -> Result<String, InferError> {
    std::fs::read_to_string(path).map_err(|e| InferError::Io {
        path: path.to_path_buf(),
        source: e,
    })
}

/// Non-blank JSONL lines parsed as `T`, with their 1-based line numbers for error messages.
fn jsonl<T: serde::de::DeserializeOwned>(
    path: &Path,
    text: &str,
) -> Result<Vec<(usize, T)>, InferError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .map(|row| (i + 1, row))
                .map_err(|e| data_err(path, i + 1, e.to_string()))
        })
        .collect()
}

fn alias(aliases: &BTreeMap<String, String>, name: &str) -> String {
    aliases
        .get(name)
        .cloned()
        .unwrap_or_else(|| name.to_string())
}

/// Reads NER data: JSONL when the file starts with `{`, else CoNLL.
pub fn load_ner(
    path: &Path,
    aliases: &BTreeMap<String, String>,
) -> Result<Vec<NerExample>, InferError> {
    let text = read_text(path)?;
    if text.trim_start().starts_with('{') {
        #[derive(serde::Deserialize)]
        struct Ent {
            start: usize,
            end: usize,
            label: String,
        }
        #[derive(serde::Deserialize)]
        struct Row {
            text: String,
            #[serde(default)]
            entities: Vec<Ent>,
        }
        let mut out = Vec::new();
        for (line, row) in jsonl::<Row>(path, &text)? {
            let n = row.text.chars().count();
            let mut entities = Vec::new();
            for e in row.entities {
                if e.start >= e.end || e.end > n {
                    return Err(data_err(
                        path,
                        line,
                        format!(
                            "entity {}..{} is outside the {n}-character text",
                            e.start, e.end
                        ),
                    ));
                }
                entities.push((e.start, e.end, alias(aliases, &e.label)));
            }
            out.push(NerExample {
                text: row.text,
                entities,
            });
        }
        return Ok(out);
    }
    let mut out = Vec::new();
    let (mut chars, mut tags): (Vec<char>, Vec<(usize, String)>) = (Vec::new(), Vec::new());
    let mut flush =
        |chars: &mut Vec<char>, tags: &mut Vec<(usize, String)>| -> Result<(), InferError> {
            if chars.is_empty() {
                return Ok(());
            }
            let mut parsed = Vec::with_capacity(tags.len());
            for (line, t) in tags.iter() {
                let mut tag = super::decode::Tag::parse(t).map_err(|m| data_err(path, *line, m))?;
                tag.kind = tag.kind.map(|k| alias(aliases, &k));
                parsed.push(tag);
            }
            let entities = super::decode::spans(&parsed)
                .into_iter()
                .map(|s| (s.start, s.end, s.kind))
                .collect();
            out.push(NerExample {
                text: chars.iter().collect(),
                entities,
            });
            chars.clear();
            tags.clear();
            Ok(())
        };
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() {
            flush(&mut chars, &mut tags)?;
            continue;
        }
        // The tag is the last field; the token before it is one character (possibly a space).
        let (tok, tag) = line.rsplit_once(['\t', ' ']).ok_or_else(|| {
            data_err(
                path,
                i + 1,
                format!("expected \"<char> <tag>\", got {line:?}"),
            )
        })?;
        let mut cs = tok.chars();
        let c = cs.next().unwrap_or(' ');
        if cs.next().is_some() {
            return Err(data_err(
                path,
                i + 1,
                format!("expected one character per line, got {tok:?}"),
            ));
        }
        chars.push(c);
        tags.push((i + 1, tag.trim().to_string()));
    }
    flush(&mut chars, &mut tags)?;
    Ok(out)
}

/// Which rows of a CSV to use: `FILE` with a JSON object of row-index arrays, and the key.
pub struct Split<'a> {
    pub file: &'a Path,
    pub name: &'a str,
}

/// Reads classification data: JSONL, CSV, or the first CSV inside a `.zip`.
pub fn load_cls(
    path: &Path,
    columns: &BTreeMap<String, String>,
    aliases: &BTreeMap<String, String>,
    split: Option<Split<'_>>,
) -> Result<Vec<ClsExample>, InferError> {
    let text = read_text_or_zipped_csv(path)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let rows = if text.trim_start().starts_with('{') {
        cls_from_jsonl(path, text, aliases)?
    } else {
        cls_from_csv(path, text, columns, aliases)?
    };
    match split {
        Some(split) => split.pick(&rows),
        None => Ok(rows),
    }
}

/// The file's text, or that of the first CSV inside it when it is a `.zip`.
fn read_text_or_zipped_csv(path: &Path) -> Result<String, InferError> {
    let is_zip = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
    if !is_zip {
        return read_text(path);
    }
    let f = std::fs::File::open(path).map_err(|e| InferError::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let mut z = zip::ZipArchive::new(f).map_err(|e| data_err(path, 0, e.to_string()))?;
    let name = z
        .file_names()
        .find(|n| n.ends_with(".csv"))
        .map(str::to_string)
        .ok_or_else(|| data_err(path, 0, "the archive holds no .csv file"))?;
    let mut s = String::new();
    z.by_name(&name)
        .map_err(|e| data_err(path, 0, e.to_string()))?
        .read_to_string(&mut s)
        .map_err(|e| data_err(path, 0, e.to_string()))?;
    Ok(s)
}

/// JSONL rows `{"text": …, "labels": {head: label}}`.
fn cls_from_jsonl(
    path: &Path,
    text: &str,
    aliases: &BTreeMap<String, String>,
) -> Result<Vec<ClsExample>, InferError> {
    #[derive(serde::Deserialize)]
    struct Row {
        text: String,
        labels: BTreeMap<String, String>,
    }
    Ok(jsonl::<Row>(path, text)?
        .into_iter()
        .map(|(_, r)| ClsExample {
            text: r.text,
            labels: r
                .labels
                .into_iter()
                .map(|(h, v)| (h, alias(aliases, &v)))
                .collect(),
        })
        .collect())
}

/// CSV rows: the text column (named by `columns["text"]`, else a usual name) and every other
/// column a head, named by `eval_columns` when it maps one to it.
fn cls_from_csv(
    path: &Path,
    text: &str,
    columns: &BTreeMap<String, String>,
    aliases: &BTreeMap<String, String>,
) -> Result<Vec<ClsExample>, InferError> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| data_err(path, 1, e.to_string()))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_string())
        .collect();
    let col = |name: &str| header.iter().position(|h| h == name);
    let text_col = columns
        .get("text")
        .and_then(|c| col(c))
        .or_else(|| {
            ["text", "review", "content", "sentence"]
                .iter()
                .find_map(|c| col(c))
        })
        .ok_or_else(|| data_err(path, 1, format!("no text column among {header:?}")))?;
    let head_of = |column: &str| {
        columns
            .iter()
            .find(|(h, c)| h.as_str() != "text" && c.as_str() == column)
            .map_or_else(|| column.to_string(), |(h, _)| h.clone())
    };
    let heads: Vec<(String, usize)> = header
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != text_col)
        .map(|(i, h)| (head_of(h), i))
        .collect();
    let mut rows = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| data_err(path, i + 2, e.to_string()))?;
        let labels = heads
            .iter()
            .filter_map(|(h, c)| rec.get(*c).map(|v| (h.clone(), alias(aliases, v))))
            .collect();
        rows.push(ClsExample {
            text: rec.get(text_col).unwrap_or("").to_string(),
            labels,
        });
    }
    Ok(rows)
}

impl Split<'_> {
    /// The rows the split file lists under this split's name, in its order.
    fn pick(&self, rows: &[ClsExample]) -> Result<Vec<ClsExample>, InferError> {
        let v: serde_json::Value = serde_json::from_str(&read_text(self.file)?)
            .map_err(|e| data_err(self.file, 0, e.to_string()))?;
        let idx = v.get(self.name).and_then(|a| a.as_array()).ok_or_else(|| {
            data_err(
                self.file,
                0,
                format!("no array {:?} in the split file", self.name),
            )
        })?;
        let mut picked = Vec::with_capacity(idx.len());
        for i in idx {
            let i = i
                .as_u64()
                .ok_or_else(|| data_err(self.file, 0, "row indices must be integers"))?
                as usize;
            let row = rows.get(i).ok_or_else(|| {
                data_err(
                    self.file,
                    0,
                    format!("row {i} is beyond the {} rows of the data", rows.len()),
                )
            })?;
            picked.push(row.clone());
        }
        Ok(picked)
    }
}
