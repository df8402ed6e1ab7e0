//! Rescans nobody has to ask for: per source on a schedule (`every_secs`) and, for directory
//! sources with `watch = true`, when their files change.
//!
//! Both run on plain threads beside the server (a scan is blocking work: it reads files and
//! databases and writes the store), so they never hold an async worker. Watching uses the
//! operating system's notifications (`notify`: inotify here) and waits for the directory to be
//! quiet for a moment before rescanning, so a file being copied in is scanned once, complete.
//! Dropping the [`Scheduler`] stops both.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use notify::Watcher;

use super::{scan_and_record, MonitorConfig, WatchedSource};
use crate::catalog::Catalog;
use crate::inventory::{ScanOptions, Source};

/// How long a watched directory must be quiet before it is rescanned.
pub const QUIET: Duration = Duration::from_secs(2);

/// Builds the options of each scheduled scan (so the name model is loaded once, lazily).
pub type OptionsFn = Arc<dyn Fn() -> ScanOptions + Send + Sync>;

/// Running schedules and watchers; dropping it stops them.
pub struct Scheduler {
    _stop: mpsc::Sender<()>,
    _watchers: Vec<notify::RecommendedWatcher>,
}

/// Starts the schedules and watchers of `config.sources`. Sources that cannot be parsed were
/// refused when the configuration was validated.
pub fn start(catalog: Arc<Catalog>, config: MonitorConfig, options: OptionsFn) -> Scheduler {
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let (due_tx, due_rx) = mpsc::channel::<usize>();
    let mut watchers = Vec::new();
    let sources: Vec<WatchedSource> = config.sources.clone();
    for (i, s) in sources.iter().enumerate() {
        if !s.watch {
            continue;
        }
        let Ok(Source::Files(dir)) = Source::parse(&s.source) else {
            tracing::warn!(source = %s.source, "watch = true applies to directory sources only");
            continue;
        };
        match watch(&dir, i, due_tx.clone()) {
            Ok(w) => watchers.push(w),
            Err(e) => tracing::error!(dir = %dir.display(), "cannot watch: {e}"),
        }
    }
    std::thread::Builder::new()
        .name("stocktake-rescans".into())
        .spawn(move || run(catalog, config, sources, options, stop_rx, due_rx))
        .expect("spawn the rescan thread");
    Scheduler {
        _stop: stop_tx,
        _watchers: watchers,
    }
}

fn watch(
    dir: &Path,
    i: usize,
    due: mpsc::Sender<usize>,
) -> notify::Result<notify::RecommendedWatcher> {
    let mut w = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
        if let Ok(ev) = ev {
            // Reads and metadata-only access do not change data.
            if !matches!(ev.kind, notify::EventKind::Access(_)) {
                let _ = due.send(i);
            }
        }
    })?;
    w.watch(dir, notify::RecursiveMode::Recursive)?;
    Ok(w)
}

fn run(
    catalog: Arc<Catalog>,
    config: MonitorConfig,
    sources: Vec<WatchedSource>,
    options: OptionsFn,
    stop: mpsc::Receiver<()>,
    due: mpsc::Receiver<usize>,
) {
    let start = Instant::now();
    let mut next: Vec<Option<Instant>> = sources
        .iter()
        .map(|s| (s.every_secs > 0).then(|| start + Duration::from_secs(s.every_secs)))
        .collect();
    // Watched sources with a pending change: rescan once quiet since the last notification.
    let mut pending: Vec<Option<Instant>> = vec![None; sources.len()];
    loop {
        let wake = next
            .iter()
            .chain(&pending)
            .flatten()
            .min()
            .copied()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        let wait = wake.saturating_duration_since(Instant::now());
        match due.recv_timeout(wait.min(Duration::from_millis(500))) {
            Ok(i) => pending[i] = Some(Instant::now() + QUIET),
            Err(RecvTimeoutError::Timeout) => {}
            // No watcher holds a sender (only schedules): wait here instead of spinning.
            Err(RecvTimeoutError::Disconnected) => {
                std::thread::sleep(wait.min(Duration::from_millis(500)))
            }
        }
        if matches!(stop.try_recv(), Err(mpsc::TryRecvError::Disconnected)) {
            return;
        }
        let now = Instant::now();
        for i in 0..sources.len() {
            let timed = next[i].is_some_and(|t| t <= now);
            let changed = pending[i].is_some_and(|t| t <= now);
            if !(timed || changed) {
                continue;
            }
            pending[i] = None;
            let s = &sources[i];
            if let Ok(source) = Source::parse(&s.source) {
                let why = if changed {
                    "files changed"
                } else {
                    "scheduled"
                };
                match scan_and_record(&catalog, &source, options(), &config, false) {
                    Ok(o) => tracing::info!(
                        source = %source.display(), why, assets = o.report.assets.len(),
                        unchanged = o.report.unchanged(), changes = o.events.len(), "rescanned"
                    ),
                    Err(e) => {
                        tracing::error!(source = %source.display(), why, "rescan failed: {e}")
                    }
                }
            }
            if let Some(t) = next[i].as_mut() {
                *t = Instant::now() + Duration::from_secs(s.every_secs);
            }
        }
    }
}
