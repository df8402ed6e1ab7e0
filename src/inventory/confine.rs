//! Where the server may read files for a caller: the folders allowed, the store directory
//! never, judged after resolving `..` and links, and again on the handle actually opened.

use std::path::{Path, PathBuf};

/// Where a scan or an ingest may read files: every file is checked after resolving `..` and
/// symbolic links, so a link inside an allowed folder cannot bring in a file from outside it.
#[derive(Debug, Clone, Default)]
pub struct Confinement {
    /// Folders the files must lie in (canonical); `None`: anywhere (admins).
    pub roots: Option<Vec<PathBuf>>,
    /// Folders never read, whoever asks (the store directory: keys, configuration, RocksDB).
    pub deny: Vec<PathBuf>,
}

impl Confinement {
    /// Reads confined to `roots`, never inside `deny` (both canonicalised; missing folders are
    /// dropped, so they confine to nothing rather than to anything).
    pub fn new(roots: Option<&[PathBuf]>, deny: &[PathBuf]) -> Self {
        let canon = |ps: &[PathBuf]| -> Vec<PathBuf> {
            ps.iter().filter_map(|p| p.canonicalize().ok()).collect()
        };
        Self {
            roots: roots.map(canon),
            deny: canon(deny),
        }
    }

    /// Whether `path`, which need not exist, would lie inside the allowed folders: its nearest
    /// existing ancestor resolved, the rest taken as written (a `..` in the rest says no).
    pub fn would_contain(&self, path: &Path) -> bool {
        let Ok(abs) = std::path::absolute(path) else {
            return false;
        };
        let mut base = abs.as_path();
        let mut rest = Vec::new();
        let resolved = loop {
            if let Ok(r) = base.canonicalize() {
                break r;
            }
            let (Some(parent), Some(name)) = (base.parent(), base.file_name()) else {
                return false;
            };
            rest.push(name.to_owned());
            base = parent;
        };
        if abs
            .components()
            .skip(base.components().count())
            .any(|c| c == std::path::Component::ParentDir)
        {
            return false;
        }
        let mut full = resolved;
        full.extend(rest.iter().rev());
        !self.deny.iter().any(|d| full.starts_with(d))
            && self
                .roots
                .as_ref()
                .is_none_or(|roots| roots.iter().any(|r| full.starts_with(r)))
    }

    /// Checks the file behind an open handle (Linux: `/proc/self/fd`), so that a path swapped
    /// for a link between [`Confinement::check`] and the open is caught: what was opened is
    /// what is judged.
    pub fn check_open(&self, file: &std::fs::File) -> Result<(), String> {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let opened = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))
                .map_err(|e| format!("cannot tell which file was opened: {e}"))?;
            self.check(&opened).map(|_| ())
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = file;
            Ok(())
        }
    }

    /// The resolved path of `path` when it may be read, else why not.
    pub fn check(&self, path: &Path) -> Result<PathBuf, String> {
        let resolved = path
            .canonicalize()
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if self.deny.iter().any(|d| resolved.starts_with(d)) {
            return Err(format!(
                "{} is inside the server's store directory, which is never read as a source",
                path.display()
            ));
        }
        match &self.roots {
            Some(roots) if !roots.iter().any(|r| resolved.starts_with(r)) => Err(format!(
                "{} resolves to {}, outside the folders this caller may have the server read",
                path.display(),
                resolved.display()
            )),
            _ => Ok(resolved),
        }
    }
}
