//! Shared helpers: a real server on a loopback port over an on-disk store in a temp dir.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use stocktake::app::App;
use stocktake::catalog::{Catalog, GraphLayout};
use stocktake::config::Config;
use stocktake::http::{serve_listener, AppState};
use stocktake::privacy::{hash_token, Role, TokenEntry};

pub const READ: &str = "st_test_read_token";
pub const WRITE: &str = "st_test_write_token";
pub const ADMIN: &str = "st_test_admin_token";

/// The repository root (for ontology/ and queries/).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `stocktake` binary, run from the repository root.
pub fn bin() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_stocktake"));
    c.current_dir(repo());
    c
}

/// Runs the binary with `args`: (success, stdout, stderr).
pub fn stocktake(args: &[&str]) -> (bool, String, String) {
    let out = bin().args(args).output().expect("run stocktake");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// An on-disk catalog under `https://example.org/st/` with the repository's ontology loaded.
pub fn ontology_catalog(dir: &Path) -> Catalog {
    let c = Catalog::open(dir, GraphLayout::new("https://example.org/st/").unwrap()).unwrap();
    c.load_ontology(&repo().join("ontology")).unwrap();
    c
}

/// A trusted SELECT with the `schema:`, `st:` and `skos:` prefixes declared.
pub fn select(c: &Catalog, q: &str) -> Vec<std::collections::HashMap<String, String>> {
    c.select(&format!(
        "PREFIX schema: <http://schema.org/> PREFIX st: <https://w3id.org/stocktake/ns#> \
         PREFIX skos: <http://www.w3.org/2004/02/skos/core#> {q}"
    ))
    .unwrap()
}

/// `../shared/data` (or `STOCKTAKE_SHARED_DATA`) when present; tests needing it skip otherwise.
pub fn shared_data() -> Option<PathBuf> {
    let p = std::env::var_os("STOCKTAKE_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/data"));
    p.is_dir().then_some(p)
}

/// A prerequisite a test cannot run without (a dataset, a model package, a service) is
/// missing. Under CI (`CI` set) that fails the test: a suite that passes by running nothing
/// proves nothing. Elsewhere it prints why the test is skipped, and the caller returns.
pub fn missing(what: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "{what}: under CI no test may skip (scripts/setup installs models; CI has ../shared/data \
         and the services)"
    );
    eprintln!("SKIPPED: {what}");
}

/// `../shared/data`, or [`missing`] and return.
#[macro_export]
macro_rules! need_shared_data {
    () => {
        match $crate::util::shared_data() {
            Some(p) => p,
            None => {
                $crate::util::missing("../shared/data not found (set STOCKTAKE_SHARED_DATA)");
                return;
            }
        }
    };
}

pub fn test_config(data: &Path) -> Config {
    let mut c = Config {
        data: data.to_path_buf(),
        ..Default::default()
    };
    c.catalog.ontology_dir = repo().join("ontology");
    c.catalog.queries_dir = repo().join("queries");
    c.tokens = [
        ("reader", Role::Read, READ),
        ("writer", Role::Write, WRITE),
        ("root", Role::Admin, ADMIN),
    ]
    .into_iter()
    .map(|(n, r, t)| TokenEntry::new(n, r, hash_token(t)))
    .collect();
    c
}

/// A running in-process server.
pub struct TestServer {
    pub base: String,
    pub dir: tempfile::TempDir,
    pub catalog: Arc<Catalog>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    pub fn start() -> Self {
        Self::start_with(|_| {})
    }

    pub fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(&dir.path().join("store"));
        adjust(&mut config);
        let layout = GraphLayout::new(&config.catalog.base_iri).unwrap();
        let catalog = Arc::new(
            Catalog::open(&config.data, layout)
                .unwrap()
                .with_restricted_graphs(&config.access.restricted_graphs)
                .unwrap(),
        );
        // The W3C suites need an empty store: they point ontology_dir at a missing folder.
        if config.catalog.ontology_dir.is_dir() {
            catalog.load_ontology(&config.catalog.ontology_dir).unwrap();
        }
        let app = App::with_catalog(Arc::clone(&catalog), config).with_link_prediction();
        let state = AppState::new(Arc::new(app)).unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                serve_listener(listener, state, async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
            });
            // Do not wait for a runaway blocking task (see http::serve_listener).
            rt.shutdown_timeout(std::time::Duration::from_secs(5));
        });
        let addr = addr_rx.recv().unwrap();
        Self {
            base: format!("http://{addr}"),
            dir,
            catalog,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn audit_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("store/audit.log")).unwrap_or_default()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap()
}

/// POSTs a SPARQL update as admin and asserts success.
pub fn admin_update(server: &TestServer, update: &str) {
    let r = client()
        .post(server.url("/sparql"))
        .bearer_auth(ADMIN)
        .header("content-type", "application/sparql-update")
        .body(update.to_owned())
        .send()
        .unwrap();
    assert!(r.status().is_success(), "update failed: {:?}", r.text());
}
