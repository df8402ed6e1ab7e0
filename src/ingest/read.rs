//! Records from a file, one at a time, with their line numbers: CSV/TSV with a header row and
//! JSONL, plain or gzip-compressed, in the encoding the inventory detects (or the mapping sets).
//!
//! A row that cannot be parsed is not skipped: it comes out as an error with its line, and the
//! pipeline quarantines it like any other failing record, so the counts always add up.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use crate::inventory::files::{self, Format};

/// One record: its line (1-based, the header is line 1 for CSV) and cells aligned with the
/// reader's columns; or the line and why it could not be read.
pub type Row = Result<(u64, Vec<Option<String>>), (u64, String)>;

/// An open file of records.
pub struct Records {
    /// Column names (CSV header; for JSONL, the keys asked for).
    pub columns: Vec<String>,
    /// The text encoding used.
    pub encoding: String,
    rows: Box<dyn Iterator<Item = Row>>,
}

impl Iterator for Records {
    type Item = Row;
    fn next(&mut self) -> Option<Row> {
        self.rows.next()
    }
}

/// Opens `path`. `keys` names the JSONL keys to extract (CSV files name their own columns).
/// Errors: unreadable file, unknown encoding, unsupported format, CSV without a header row.
///
/// With `confine`, the file actually opened must lie where it allows (checked on the open
/// handle, after resolving links).
pub fn open(
    path: &Path,
    encoding: Option<&str>,
    keys: &[String],
    confine: Option<&crate::inventory::Confinement>,
) -> Result<Records, String> {
    let (format, gz) = files::format_of(path).ok_or_else(|| {
        format!(
            "{}: not a CSV, TSV or JSONL file (by its extension, .gz allowed)",
            path.display()
        )
    })?;
    if format == Format::Parquet {
        return Err(format!(
            "{}: Parquet files are profiled by `stocktake scan` but not ingested; export the table as CSV or JSONL",
            path.display()
        ));
    }
    let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    if let Some(c) = confine {
        c.check_open(&file)
            .map_err(|why| format!("not ingested: {why}"))?;
    }
    let raw: Box<dyn Read> = if gz {
        Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(file)))
    } else {
        Box::new(file)
    };
    let mut plain = BufReader::with_capacity(1 << 16, raw);
    let head = plain
        .fill_buf()
        .map_err(|e| files::read_error(e, gz))?
        .to_vec();
    let enc = match encoding {
        Some(label) => encoding_rs::Encoding::for_label(label.as_bytes())
            .ok_or_else(|| format!("unknown encoding {label:?}"))?,
        None => files::detect(&head, head.len() < (1 << 16)),
    };
    let text = encoding_rs_io::DecodeReaderBytesBuilder::new()
        .encoding(Some(enc))
        .bom_override(true)
        .build(plain);
    let encoding = enc.name().to_string();
    match format {
        Format::Csv | Format::Tsv => {
            let head_text = String::from_utf8_lossy(&head[..head.len().min(16_384)]);
            let delimiter = files::sniff_delimiter(&head_text, format);
            let mut rdr = csv::ReaderBuilder::new()
                .delimiter(delimiter)
                .has_headers(true)
                .flexible(true)
                .from_reader(text);
            let columns: Vec<String> = rdr
                .headers()
                .map_err(|e| format!("{}: cannot read the header row: {e}", path.display()))?
                .iter()
                .map(|h| h.trim().to_string())
                .collect();
            if columns.iter().all(|c| c.is_empty()) {
                return Err(format!("{}: empty file (no header row)", path.display()));
            }
            let width = columns.len();
            let rows = rdr.into_records().map(move |r| match r {
                Ok(r) => {
                    let line = r.position().map(|p| p.line()).unwrap_or(0);
                    if r.len() != width {
                        return Err((
                            line,
                            format!("{} fields where the header has {width}", r.len()),
                        ));
                    }
                    Ok((line, r.iter().map(|c| Some(c.to_string())).collect()))
                }
                Err(e) => {
                    let line = e.position().map(|p| p.line()).unwrap_or(0);
                    Err((line, format!("unreadable row: {e}")))
                }
            });
            Ok(Records {
                columns,
                encoding,
                rows: Box::new(rows),
            })
        }
        Format::Jsonl => {
            let keys = keys.to_vec();
            let columns = keys.clone();
            let rows = BufReader::new(text)
                .lines()
                .enumerate()
                .filter(|(_, l)| l.as_ref().map_or(true, |l| !l.trim().is_empty()))
                .map(move |(i, line)| {
                    let n = i as u64 + 1;
                    let line = line.map_err(|e| (n, format!("unreadable line: {e}")))?;
                    let obj = match serde_json::from_str::<serde_json::Value>(&line) {
                        Ok(serde_json::Value::Object(o)) => o,
                        Ok(_) => return Err((n, "not a JSON object".to_string())),
                        Err(e) => return Err((n, format!("invalid JSON: {e}"))),
                    };
                    let cells = keys
                        .iter()
                        .map(|k| match obj.get(k) {
                            None | Some(serde_json::Value::Null) => None,
                            Some(serde_json::Value::String(s)) => Some(s.clone()),
                            Some(other) => Some(other.to_string()),
                        })
                        .collect();
                    Ok((n, cells))
                });
            Ok(Records {
                columns,
                encoding,
                rows: Box::new(rows),
            })
        }
        Format::Parquet => unreachable!("refused above"),
    }
}
