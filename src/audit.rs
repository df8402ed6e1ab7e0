//! Append-only audit log of writes: who, when, what operation, on what, with what outcome.
//!
//! One JSON object per line so it can be tailed, grepped and shipped to a log pipeline. Each
//! entry is flushed before the write's response is sent, so an acknowledged write is always
//! on record.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

/// One audited operation.
#[derive(Debug, Serialize)]
pub struct AuditEntry<'a> {
    pub time: String,
    pub who: &'a str,
    pub role: &'a str,
    pub operation: &'a str,
    pub target: &'a str,
    pub outcome: &'a str,
    /// Request size in bytes, or quads affected where known.
    pub size: usize,
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
        let file = OpenOptions::new().create(true).append(true).open(path)?;
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
        let entry = AuditEntry {
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            who,
            role,
            operation,
            target,
            outcome,
            size,
        };
        let line = match serde_json::to_string(&entry) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("audit entry not serializable: {e}");
                return;
            }
        };
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = writeln!(f, "{line}").and_then(|_| f.flush()) {
            tracing::error!(path = %self.path.display(), "cannot write audit log: {e}");
        }
    }
}
