//! File sources: directories of CSV/TSV, JSONL and Parquet files, plain or gzip-compressed.
//!
//! Each file is streamed once: raw bytes are hashed (SHA-256, the change-detection watermark)
//! while they are decompressed, transcoded to UTF-8 (BOM, else valid UTF-8, else a guess by
//! `chardetng` — in practice GBK/GB18030 for Chinese exports), parsed, and fed cell by cell to
//! the column profilers. Nothing is held per row, so memory stays bounded whatever the file size.
//! A malformed row is counted and a few are kept as samples (line and reason); a file that cannot
//! be read at all, or breaks off (a truncated gzip), is reported as a failed part of the scan while
//! the rest of the directory carries on.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::pipeline;
use super::profile::ColumnProfiler;
use super::{AssetScan, InventoryError, Malformed, MAX_COLUMNS};

/// File formats we profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Tsv,
    Jsonl,
    Parquet,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Tsv => "tsv",
            Format::Jsonl => "jsonl",
            Format::Parquet => "parquet",
        }
    }
}

/// The format of a file by its name (`.gz` stripped first), or `None` for files we skip.
pub fn format_of(path: &Path) -> Option<(Format, bool)> {
    let name = path.file_name()?.to_str()?.to_ascii_lowercase();
    let (stem, gz) = match name.strip_suffix(".gz") {
        Some(s) => (s.to_string(), true),
        None => (name, false),
    };
    let ext = stem.rsplit('.').next()?;
    let f = match ext {
        "csv" => Format::Csv,
        "tsv" | "tab" => Format::Tsv,
        "jsonl" | "ndjson" => Format::Jsonl,
        "parquet" | "pq" if !gz => Format::Parquet,
        _ => return None,
    };
    Some((f, gz))
}

/// Every profilable file under `root`, sorted (deterministic order, stable asset IRIs).
pub fn walk(root: &Path) -> Result<Vec<PathBuf>, InventoryError> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| InventoryError::Io {
            path: dir.display().to_string(),
            source: e,
        })?;
        for e in entries.flatten() {
            let p = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                if !e.file_name().to_string_lossy().starts_with('.') {
                    stack.push(p);
                }
            } else if format_of(&p).is_some() {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Hashes what passes through.
struct Hashing<R> {
    inner: R,
    hash: Sha256,
    bytes: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Shared by the hashing reader and the scan, so the hash can be read after parsing.
struct Shared<R>(std::rc::Rc<std::cell::RefCell<Hashing<R>>>);

impl<R: Read> Read for Shared<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().read(buf)
    }
}

/// Detects the text encoding from the first bytes: BOM, valid UTF-8, else `chardetng`'s guess.
pub(crate) fn detect(head: &[u8], complete: bool) -> &'static encoding_rs::Encoding {
    if let Some((enc, _)) = encoding_rs::Encoding::for_bom(head) {
        return enc;
    }
    // A prefix may end inside a multi-byte character: only the tail may be incomplete.
    let valid = match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && !complete,
    };
    if valid {
        return encoding_rs::UTF_8;
    }
    let mut d = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    d.feed(head, complete);
    d.guess(None, chardetng::Utf8Detection::Allow)
}

fn location_of(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// A file's modification time as recorded: RFC 3339 with the file system's sub-second digits,
/// so a rewrite within the same second still shows.
fn modified(meta: &std::fs::Metadata) -> Option<String> {
    meta.modified().ok().map(|t| {
        chrono::DateTime::<chrono::Utc>::from(t)
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
    })
}

/// The file as the previous scan left it, when it provably did not change: same size and
/// modification time (a `stat`, no read), or same size and same SHA-256 (a file touched or
/// copied over with the same bytes: read once, not parsed). `None`: profile it again.
pub fn unchanged(root: &Path, path: &Path, known: &super::Known) -> Option<AssetScan> {
    let location = location_of(root, path);
    let before = known.get(&location)?;
    let meta = std::fs::metadata(path).ok()?;
    if before.size_bytes != Some(meta.len()) {
        return None;
    }
    let now = modified(&meta);
    let format = format_of(path).map(|(f, _)| f.name()).unwrap_or("csv");
    let same_time =
        matches!((&before.modified, &now), (Some(a), Some(b)) if super::same_time(a, b));
    if same_time {
        return Some(AssetScan::unchanged(location, format, before.clone()));
    }
    let hash = super::parquet::hash_file(path).ok()?;
    (before.content_hash.as_deref() == Some(hash.as_str())).then(|| {
        AssetScan::unchanged(
            location,
            format,
            super::Fingerprint {
                size_bytes: Some(meta.len()),
                modified: now,
                content_hash: Some(hash),
            },
        )
    })
}

/// Profiles one file. `encoding` forces a text encoding (WHATWG label such as `gbk`).
pub fn scan_file(root: &Path, path: &Path, encoding: Option<&str>) -> AssetScan {
    scan_file_confined(root, path, encoding, None)
}

/// Like [`scan_file`]; with `confine`, the file actually opened must pass it (a path swapped
/// for a link after the walk checked it is refused, not read).
pub fn scan_file_confined(
    root: &Path,
    path: &Path,
    encoding: Option<&str>,
    confine: Option<&super::Confinement>,
) -> AssetScan {
    let location = location_of(root, path);
    let (format, gz) = format_of(path).unwrap_or((Format::Csv, false));
    let meta = std::fs::metadata(path).ok();
    let mut asset = AssetScan::new(location, format.name());
    asset.compressed = gz.then(|| "gzip".to_string());
    asset.size_bytes = meta.as_ref().map(|m| m.len());
    asset.modified = meta.as_ref().and_then(modified);
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) => {
            asset.error = Some(format!("cannot open: {e}"));
            return asset;
        }
    };
    if let Some(Err(why)) = confine.map(|c| c.check_open(&file)) {
        asset.error = Some(format!("not read: {why}"));
        return asset;
    }
    if format == Format::Parquet {
        // Read through the handle just checked (the same open file, not the path again).
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let fd = std::path::PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
            super::parquet::scan(&fd, &mut asset);
        }
        #[cfg(not(target_os = "linux"))]
        super::parquet::scan(path, &mut asset);
        drop(file);
        return asset;
    }
    let hashing = std::rc::Rc::new(std::cell::RefCell::new(Hashing {
        inner: file,
        hash: Sha256::new(),
        bytes: 0,
    }));
    let raw: Box<dyn Read> = Box::new(Shared(hashing.clone()));
    let plain: Box<dyn Read> = if gz {
        Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(raw)))
    } else {
        raw
    };
    let mut plain = BufReader::with_capacity(1 << 16, plain);
    let result = (|| -> Result<(), String> {
        let head = plain.fill_buf().map_err(|e| read_error(e, gz))?.to_vec();
        let enc = match encoding {
            Some(label) => encoding_rs::Encoding::for_label(label.as_bytes())
                .ok_or_else(|| format!("unknown encoding {label:?}"))?,
            None => detect(&head, head.len() < (1 << 16)),
        };
        asset.encoding = Some(enc.name().to_string());
        // CSV of plain UTF-8 is parsed from the bytes as they are: delimiters and quotes are
        // ASCII, which no UTF-8 sequence (valid or not) contains, so the fields come out the
        // same, and each cell is checked (and invalid bytes replaced) by the profiling workers
        // instead of by a decoding pass on the reading thread.
        let plain_utf8 =
            enc == encoding_rs::UTF_8 && encoding_rs::Encoding::for_bom(&head).is_none();
        if plain_utf8 && matches!(format, Format::Csv | Format::Tsv) {
            return csv_rows(plain, format, &head, &mut asset, gz);
        }
        let text = encoding_rs_io::DecodeReaderBytesBuilder::new()
            .encoding(Some(enc))
            .bom_override(true)
            .build(plain);
        match format {
            Format::Csv | Format::Tsv => csv_rows(text, format, &head, &mut asset, gz),
            Format::Jsonl => jsonl_rows(text, &mut asset, gz),
            Format::Parquet => unreachable!("handled above"),
        }
    })();
    if let Err(e) = result {
        asset.error = Some(e);
    }
    let h = hashing.borrow();
    if asset.error.is_none() {
        asset.content_hash = Some(hex::encode(h.hash.clone().finalize()));
    }
    asset
}

pub(crate) fn read_error(e: std::io::Error, gz: bool) -> String {
    if gz
        && matches!(
            e.kind(),
            std::io::ErrorKind::UnexpectedEof
                | std::io::ErrorKind::InvalidInput
                | std::io::ErrorKind::InvalidData
        )
    {
        format!("truncated or corrupt gzip: {e}")
    } else {
        format!("read error: {e}")
    }
}

/// Picks the delimiter whose field count is most consistent (and > 1) over the first lines.
pub(crate) fn sniff_delimiter(head: &str, format: Format) -> u8 {
    if format == Format::Tsv {
        return b'\t';
    }
    let lines: Vec<&str> = head.lines().take(20).collect();
    let mut best = (b',', 0usize);
    for d in [b',', b'\t', b';', b'|'] {
        let counts: Vec<usize> = lines.iter().map(|l| l.matches(d as char).count()).collect();
        let Some(&first) = counts.first() else {
            continue;
        };
        let agree = counts.iter().filter(|&&c| c == first).count();
        if first > 0 && agree * first > best.1 {
            best = (d, agree * first);
        }
    }
    best.0
}

/// Whether the first row is a header: no cell of it is numeric while the second row has some,
/// or its cells are all distinct non-empty words.
fn looks_like_header(first: &csv::StringRecord, second: Option<&csv::StringRecord>) -> bool {
    let numeric = |s: &str| s.trim().parse::<f64>().is_ok();
    if first.iter().any(|c| c.trim().is_empty() || numeric(c)) {
        return false;
    }
    let mut seen = std::collections::HashSet::new();
    if !first.iter().all(|c| seen.insert(c)) {
        return false;
    }
    match second {
        Some(s) => s.iter().any(numeric) || first.iter().all(|c| c.chars().count() <= 40),
        None => true,
    }
}

fn csv_rows(
    text: impl Read,
    format: Format,
    head: &[u8],
    asset: &mut AssetScan,
    gz: bool,
) -> Result<(), String> {
    let head_text = String::from_utf8_lossy(&head[..head.len().min(16_384)]);
    let delimiter = sniff_delimiter(&head_text, format);
    asset.delimiter = Some((delimiter as char).to_string());
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text);
    let mut pending: Vec<csv::ByteRecord> = Vec::new();
    for _ in 0..2 {
        let mut r = csv::ByteRecord::new();
        match rdr.read_byte_record(&mut r) {
            Ok(true) => pending.push(r),
            Ok(false) => break,
            Err(e) => return Err(csv_error(e, gz)),
        }
    }
    let Some(first) = pending.first() else {
        return Ok(()); // empty file: an asset with no rows
    };
    let first = csv::StringRecord::from_byte_record_lossy(first.clone());
    let second = pending
        .get(1)
        .map(|r| csv::StringRecord::from_byte_record_lossy(r.clone()));
    let header = looks_like_header(&first, second.as_ref());
    let names: Vec<String> = if header {
        first.iter().map(|s| s.trim().to_string()).collect()
    } else {
        (1..=first.len()).map(|i| format!("column_{i}")).collect()
    };
    let mut profilers: Vec<ColumnProfiler> = names
        .into_iter()
        .take(MAX_COLUMNS)
        .map(|n| ColumnProfiler::new(n, None))
        .collect();
    let width = first.len();
    let result = pipeline::run(&mut profilers, pipeline::threads(), |sink| {
        let mut feed = |r: &csv::ByteRecord, asset: &mut AssetScan| {
            asset.rows += 1;
            if r.len() != width {
                asset.malformed(Malformed {
                    line: r.position().map(|p| p.line()).unwrap_or(0),
                    reason: format!("{} fields where the header has {width}", r.len()),
                });
                return;
            }
            sink.row(r.iter());
        };
        for r in pending.iter().skip(usize::from(header)) {
            feed(r, asset);
        }
        // One record, reused: no allocation per row.
        let mut r = csv::ByteRecord::new();
        loop {
            match rdr.read_byte_record(&mut r) {
                Ok(true) => feed(&r, asset),
                Ok(false) => return Ok(()),
                Err(e) if matches!(e.kind(), csv::ErrorKind::Io(_)) => {
                    return Err(csv_error(e, gz))
                }
                Err(e) => {
                    asset.rows += 1;
                    asset.malformed(Malformed {
                        line: e.position().map(|p| p.line()).unwrap_or(0),
                        reason: e.to_string(),
                    });
                }
            }
        }
    });
    asset.columns = profilers.into_iter().map(ColumnProfiler::finish).collect();
    result
}

fn csv_error(e: csv::Error, gz: bool) -> String {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => read_error(io, gz),
        other => format!("{other:?}"),
    }
}

fn jsonl_rows(text: impl Read, asset: &mut AssetScan, gz: bool) -> Result<(), String> {
    let mut names: Vec<String> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut profilers: Vec<ColumnProfiler> = Vec::new();
    let reader = BufReader::new(text);
    let mut valid = 0u64;
    for (i, line) in reader.lines().enumerate() {
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                asset.columns = profilers.into_iter().map(ColumnProfiler::finish).collect();
                return Err(read_error(e, gz));
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        asset.rows += 1;
        let obj = match serde_json::from_str::<serde_json::Value>(&line) {
            Ok(serde_json::Value::Object(o)) => o,
            Ok(_) => {
                asset.malformed(Malformed {
                    line: i as u64 + 1,
                    reason: "not a JSON object".into(),
                });
                continue;
            }
            Err(e) => {
                asset.malformed(Malformed {
                    line: i as u64 + 1,
                    reason: format!("invalid JSON: {e}"),
                });
                continue;
            }
        };
        for k in obj.keys() {
            if !index.contains_key(k) && names.len() < MAX_COLUMNS {
                index.insert(k.clone(), names.len());
                names.push(k.clone());
                let mut p = ColumnProfiler::new(k.clone(), None);
                // Rows before this key appeared had it missing: nulls.
                for _ in 0..valid {
                    p.push(None);
                }
                profilers.push(p);
            }
        }
        valid += 1;
        for (j, p) in profilers.iter_mut().enumerate() {
            match obj.get(&names[j]) {
                None | Some(serde_json::Value::Null) => p.push(None),
                Some(serde_json::Value::String(s)) => p.push(Some(s)),
                Some(other) => p.push(Some(&other.to_string())),
            }
        }
    }
    asset.columns = profilers.into_iter().map(ColumnProfiler::finish).collect();
    Ok(())
}
