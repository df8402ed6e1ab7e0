//! Append-only, hash-chained audit log: who, when, what operation, on what, with what outcome —
//! writes, admins' reads of restricted data, decryptions, token changes.
//!
//! One JSON object per line so it can be tailed, grepped and shipped to a log pipeline. Each
//! entry carries a sequence number, the SHA-256 of the entry before it (`prev`) and its own
//! hash over its exact bytes (`hash`), so editing, inserting, reordering or deleting an entry
//! breaks the chain and `stocktake audit verify` says where. The hashes are not keyed: someone
//! who can rewrite the file can also recompute every hash after an edit, or cut entries off
//! the end. Both are caught against a head (`seq` and `hash`) recorded elsewhere — `verify
//! --head`, or a log pipeline that kept the lines — which is what makes the log trustworthy
//! against its own host's administrator. Several processes (the server, CLI commands) append to one file: each append takes
//! an exclusive lock on the file and re-reads the last entry under it, so the chain stays one
//! chain. Each entry is flushed before the operation's response is sent, so an acknowledged
//! write is always on record.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `prev` of the first entry of a chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Longest target kept (a query text, a path); longer ones are cut and marked.
const MAX_TARGET: usize = 2000;

/// One audited operation as written, without its own hash.
#[derive(Debug, Serialize, Deserialize)]
struct Body {
    seq: u64,
    time: String,
    who: String,
    role: String,
    operation: String,
    target: String,
    outcome: String,
    /// Request size in bytes, or quads affected where known.
    size: usize,
    prev: String,
}

/// The open log file.
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<File>,
}

impl AuditLog {
    /// Opens (creating) the log for appending.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut options = OpenOptions::new();
        options.create(true).append(true).read(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(path)?;
        Ok(Self {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        })
    }

    /// Where the log lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records an operation; failures are logged, never allowed to fail the request twice.
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &self,
        who: &str,
        role: &str,
        operation: &str,
        target: &str,
        outcome: &str,
        size: usize,
    ) {
        if let Err(e) = self.try_record(who, role, operation, target, outcome, size) {
            tracing::error!(path = %self.path.display(), "cannot write audit log: {e}");
        }
    }

    /// Records an operation that must not happen unrecorded (a decryption): the caller stops
    /// when this fails.
    #[allow(clippy::too_many_arguments)]
    pub fn try_record(
        &self,
        who: &str,
        role: &str,
        operation: &str,
        target: &str,
        outcome: &str,
        size: usize,
    ) -> std::io::Result<()> {
        let f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        append(&f, who, role, operation, target, outcome, size)
    }
}

/// Appends one entry under an exclusive lock on the file (other processes append too).
#[allow(clippy::too_many_arguments)]
fn append(
    file: &File,
    who: &str,
    role: &str,
    operation: &str,
    target: &str,
    outcome: &str,
    size: usize,
) -> std::io::Result<()> {
    file.lock()?;
    let result = (|| {
        let (seq, prev) = match last_line(file)? {
            Some(line) => match parse_line(&line) {
                Ok(Some((body, hash))) => (body.seq + 1, hash),
                // An entry from before the chain, or a damaged last line: start a new chain
                // on the hash of the line as it is, which `verify` reports.
                _ => (0, hex::encode(Sha256::digest(line.as_bytes()))),
            },
            None => (0, GENESIS.to_string()),
        };
        // A torn last line (a crash mid-write) stays a line of its own; `verify` reports it.
        if !ends_with_newline(file)? {
            let mut w = file;
            w.write_all(b"\n")?;
        }
        let mut target = target.to_string();
        if target.len() > MAX_TARGET {
            let cut = (0..=MAX_TARGET)
                .rev()
                .find(|&i| target.is_char_boundary(i))
                .unwrap_or(0);
            target.truncate(cut);
            target.push_str("…[cut]");
        }
        let body = Body {
            seq,
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            who: who.into(),
            role: role.into(),
            operation: operation.into(),
            target,
            outcome: outcome.into(),
            size,
            prev,
        };
        let text = serde_json::to_string(&body).map_err(std::io::Error::other)?;
        let line = seal_line(&text);
        let mut w = file;
        w.write_all(format!("{line}\n").as_bytes())?;
        w.flush()?;
        file.sync_data()
    })();
    let _ = file.unlock();
    result
}

/// `{...body...,"hash":"<sha256 of the body's bytes>"}`.
fn seal_line(body: &str) -> String {
    let hash = hex::encode(Sha256::digest(body.as_bytes()));
    format!("{},\"hash\":\"{hash}\"}}", &body[..body.len() - 1])
}

/// Splits a chained line into its body and hash, checking the hash; `Ok(None)` for a line
/// without a chain (written before the chain existed), `Err` for a line whose hash is wrong.
fn parse_line(line: &str) -> Result<Option<(Body, String)>, String> {
    let Some(cut) = line.rfind(",\"hash\":\"") else {
        return Ok(None);
    };
    let hash = line[cut + 9..]
        .strip_suffix("\"}")
        .ok_or("the hash is not the entry's last field")?;
    let body_text = format!("{}}}", &line[..cut]);
    if hex::encode(Sha256::digest(body_text.as_bytes())) != hash {
        return Err("the entry's content does not match its hash (edited)".into());
    }
    let body: Body =
        serde_json::from_str(&body_text).map_err(|e| format!("not an audit entry: {e}"))?;
    Ok(Some((body, hash.to_string())))
}

/// Whether the file is empty or ends with a newline.
fn ends_with_newline(file: &File) -> std::io::Result<bool> {
    let mut f = file;
    let len = f.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok(true);
    }
    f.seek(SeekFrom::Start(len - 1))?;
    let mut last = [0u8];
    f.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

/// The last non-empty line of the file.
fn last_line(file: &File) -> std::io::Result<Option<String>> {
    let mut f = file;
    let len = f.seek(SeekFrom::End(0))?;
    let mut window = 4096u64;
    loop {
        let start = len.saturating_sub(window);
        f.seek(SeekFrom::Start(start))?;
        let mut buf = Vec::new();
        Read::by_ref(&mut f)
            .take(len - start)
            .read_to_end(&mut buf)?;
        let trimmed = buf.trim_ascii_end();
        match trimmed.iter().rposition(|&b| b == b'\n') {
            Some(i) => return Ok(Some(String::from_utf8_lossy(&trimmed[i + 1..]).into())),
            None if start == 0 => {
                return Ok((!trimmed.is_empty()).then(|| String::from_utf8_lossy(trimmed).into()))
            }
            None => window *= 4,
        }
    }
}

/// What `stocktake audit verify` found.
#[derive(Debug, Serialize)]
pub struct Verification {
    /// Chained entries checked.
    pub entries: u64,
    /// Lines before the first chained entry (written by a release without the chain).
    pub legacy: u64,
    /// The last entry's sequence number and hash (record it elsewhere to detect truncation).
    pub head_seq: Option<u64>,
    pub head_hash: Option<String>,
    /// Every break found: line number and why.
    pub problems: Vec<(u64, String)>,
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks the whole chain. `head` is a `(seq, hash)` recorded earlier: the log must still
/// hold that entry, unchanged (entries after it are fine).
pub fn verify(path: &Path, head: Option<(u64, &str)>) -> std::io::Result<Verification> {
    let file = File::open(path)?;
    let mut v = Verification {
        entries: 0,
        legacy: 0,
        head_seq: None,
        head_hash: None,
        problems: Vec::new(),
    };
    let mut prev: Option<(u64, String)> = None;
    let mut chained = false;
    let mut head_found = false;
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let n = i as u64 + 1;
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match parse_line(&line) {
            Ok(None) if !chained => {
                v.legacy += 1;
                prev = Some((u64::MAX, hex::encode(Sha256::digest(line.as_bytes()))));
            }
            Ok(None) => {
                v.problems.push((
                    n,
                    "an entry without a hash inside the chain (a torn write, or an edit)".into(),
                ));
                // Appends after a torn line chain on to it, as they found it.
                prev = Some((u64::MAX, hex::encode(Sha256::digest(line.as_bytes()))));
            }
            Err(why) => {
                v.problems.push((n, why));
                // Go on from this line's claimed hash so one bad line is reported once.
                prev = None;
            }
            Ok(Some((body, hash))) => {
                let expected_prev = match &prev {
                    Some((_, h)) => h.as_str(),
                    None if !chained && v.legacy == 0 => GENESIS,
                    None => body.prev.as_str(),
                };
                if body.prev != expected_prev {
                    v.problems.push((
                        n,
                        "its previous-hash does not match the entry before it (an entry was \
                         removed, inserted or reordered here)"
                            .into(),
                    ));
                }
                if let Some((seq, _)) = &prev {
                    if *seq != u64::MAX && body.seq != seq + 1 {
                        v.problems
                            .push((n, format!("sequence jumps from {seq} to {}", body.seq)));
                    }
                }
                if let Some((hs, hh)) = head {
                    if body.seq == hs {
                        head_found = true;
                        if hash != hh {
                            v.problems
                                .push((n, format!("entry {hs} is not the recorded head")));
                        }
                    }
                }
                chained = true;
                v.entries += 1;
                v.head_seq = Some(body.seq);
                v.head_hash = Some(hash.clone());
                prev = Some((body.seq, hash));
            }
        }
    }
    if let Some((hs, _)) = head {
        if !head_found {
            v.problems.push((
                0,
                format!("the recorded head (entry {hs}) is gone: entries were cut off the end"),
            ));
        }
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_some(path: &Path, n: usize) {
        let log = AuditLog::open(path).unwrap();
        for i in 0..n {
            log.record("alice", "admin", "update", &format!("graph {i}"), "ok", i);
        }
    }

    #[test]
    fn a_clean_chain_verifies_and_every_tampering_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        write_some(&path, 5);
        // A second handle (another process) continues the same chain.
        write_some(&path, 2);
        let v = verify(&path, None).unwrap();
        assert!(v.ok(), "{:?}", v.problems);
        assert_eq!((v.entries, v.head_seq), (7, Some(6)));
        let head = v.head_hash.clone().unwrap();
        assert!(verify(&path, Some((6, &head))).unwrap().ok());

        let lines: Vec<String> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(String::from)
            .collect();
        let check = |lines: &[String]| {
            std::fs::write(&path, lines.join("\n") + "\n").unwrap();
            verify(&path, Some((6, &head))).unwrap()
        };
        // Edited: the outcome of entry 2 changed.
        let mut edited = lines.clone();
        edited[2] = edited[2].replace("\"ok\"", "\"denied\"");
        assert!(!check(&edited).ok());
        // Edited and re-hashed by someone who knows the format: the next entry's prev breaks.
        let mut rehashed = lines.clone();
        let body = rehashed[2].rsplit_once(",\"hash\"").unwrap().0.to_string() + "}";
        rehashed[2] = seal_line(&body.replace("\"ok\"", "\"denied\""));
        let v = check(&rehashed);
        assert_eq!(v.problems.len(), 1, "{:?}", v.problems);
        assert_eq!(v.problems[0].0, 4);
        // Deleted from the middle.
        let mut deleted = lines.clone();
        deleted.remove(3);
        assert!(!check(&deleted).ok());
        // Reordered.
        let mut swapped = lines.clone();
        swapped.swap(1, 2);
        assert!(!check(&swapped).ok());
        // Cut off the end: only the recorded head tells.
        let cut = lines[..5].to_vec();
        assert!(!check(&cut).ok());
        std::fs::write(&path, cut.join("\n") + "\n").unwrap();
        assert!(verify(&path, None).unwrap().ok());
    }

    #[test]
    fn a_torn_last_line_is_reported_once_and_the_log_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        write_some(&path, 2);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"seq\":2,\"time\":\"2026-");
        std::fs::write(&path, text).unwrap();
        write_some(&path, 2);
        let v = verify(&path, None).unwrap();
        assert_eq!(v.problems.len(), 1, "{:?}", v.problems);
        assert_eq!(v.problems[0].0, 3);
        assert_eq!(v.entries, 4);
    }

    #[test]
    fn legacy_lines_come_before_the_chain_and_long_targets_are_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        std::fs::write(&path, "{\"time\":\"t\",\"who\":\"old\"}\n").unwrap();
        let log = AuditLog::open(&path).unwrap();
        log.record("a", "read", "q", &"x".repeat(10_000), "ok", 0);
        log.record("a", "read", "q", "y", "ok", 0);
        let v = verify(&path, None).unwrap();
        assert!(v.ok(), "{:?}", v.problems);
        assert_eq!((v.legacy, v.entries), (1, 2));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.lines().nth(1).unwrap().len() < 2300);
    }
}
