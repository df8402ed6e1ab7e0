//! The subcommands' bodies: open the store, call the library, print results.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};

use super::{Cli, Command, TokenAction};
use crate::app::App;
use crate::catalog::{
    CancelToken, DatasetRequest, GraphFormat, GraphTarget, Limits, OutputFormat, ResultsFormat,
};
use crate::config::{self, Config};
use crate::http::{self, AppState};
use crate::privacy::{hash_token, new_token, TokenEntry};

pub(super) fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::Token { action } = &cli.command {
        return token(&cli, action);
    }
    let config = cli.config()?;
    match cli.command {
        Command::Serve { .. } => serve(config),
        Command::Load {
            files,
            graph,
            format,
            base,
        } => load(
            &config,
            &files,
            graph.as_deref(),
            format.as_deref(),
            base.as_deref(),
        ),
        Command::Query { query, format } => query_cmd(&config, &query, format.as_deref()),
        Command::Dump { graph, format, out } => {
            dump(&config, graph.as_deref(), format.as_deref(), out.as_deref())
        }
        Command::Demo { no_serve, .. } => super::demo::run(config, no_serve),
        Command::Models { action } => super::models::run(&config, action),
        Command::Scan(args) => super::scan::run(&config, args),
        Command::Report(args) => super::scan::report(&config, args),
        Command::Ingest(args) => super::ingest::run(&config, args),
        Command::Labels { action } => super::labels::run(&config, action),
        Command::Stock { action } => super::stock::run(&config, action),
        Command::Ontology { action } => super::ontology::run(&config, action),
        Command::Keys { action } => super::vault::keys(&config, action),
        Command::Audit { action } => super::vault::audit(&config, action),
        Command::Train(args) => super::kge::train(&config, args),
        Command::Eval(args) => super::kge::eval(args),
        Command::Predict(args) => super::kge::predict_cmd(args),
        Command::Export {
            what: super::ExportWhat::Embeddings(args),
        } => super::embeddings::export(&config, args),
        Command::Export {
            what: super::ExportWhat::Anonymised(args),
        } => super::privacy::anonymised(&config, args),
        Command::ImportEmbeddings(args) => super::embeddings::import(&config, args),
        Command::Dp(args) => super::privacy::dp(&config, args),
        Command::Token { .. } => unreachable!("handled above"),
    }
}

fn serve(config: Config) -> anyhow::Result<ExitCode> {
    let (app, started) = App::start(config)?;
    tracing::info!(
        models = started.models,
        "model packages described in the models graph"
    );
    serve_app(app)
}

/// Serves `app` (with link prediction and the configured rescans) until SIGTERM or Ctrl-C.
pub(super) fn serve_app(app: App) -> anyhow::Result<ExitCode> {
    let app = Arc::new(app.with_link_prediction());
    let config = app.config();
    if config.tokens.is_empty() {
        tracing::warn!(
            "no tokens configured: only anonymous reads (if enabled) will work; \
             create one with 'stocktake token add NAME --role admin'"
        );
    }
    let bind = config.server.bind.clone();
    // Scheduled and watched rescans run beside the server and stop with it.
    let _rescans = app.start_rescans();
    let _stock_watch = app.start_stock_watch();
    let state = AppState::new(Arc::clone(&app))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let served = runtime.block_on(http::serve(state, &bind));
    // A query that never reaches a cancellation point can outlive its timeout on the blocking
    // pool; do not let it hold the process after shutdown (the store was flushed already).
    runtime.shutdown_timeout(std::time::Duration::from_secs(10));
    served?;
    Ok(ExitCode::SUCCESS)
}

/// A data file to load, decompressed when it ends in `.gz`.
fn open_input(path: &Path) -> anyhow::Result<Box<dyn Read>> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let reader = BufReader::with_capacity(1 << 20, file);
    if path.extension().is_some_and(|e| e == "gz") {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(reader)))
    } else {
        Ok(Box::new(reader))
    }
}

fn load(
    config: &Config,
    files: &[std::path::PathBuf],
    graph: Option<&str>,
    format: Option<&str>,
    base: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let app = App::open(config.clone())?;
    let catalog = app.catalog();
    let audit = app.audit()?;
    let target = graph
        .map(|g| {
            catalog
                .layout()
                .resolve(g)
                .map(|n| GraphTarget::Named(n.into_string()))
        })
        .transpose()?;
    for path in files {
        let format = match format {
            Some(f) => {
                GraphFormat::from_name(f).with_context(|| format!("unknown format '{f}'"))?
            }
            None => GraphFormat::from_path(path)?,
        };
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg} {pos} quads ({per_sec})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar.set_message(path.display().to_string());
        let progress = bar.clone();
        let started = std::time::Instant::now();
        let stats = catalog
            .bulk_load(open_input(path)?, format, target.as_ref(), base, move |n| {
                progress.set_position(n)
            })
            .with_context(|| format!("loading {}", path.display()))?;
        bar.finish_and_clear();
        eprintln!(
            "{}: {} quads loaded in {:.1} s",
            path.display(),
            stats.parsed,
            started.elapsed().as_secs_f64()
        );
        audit.record(
            "local",
            "admin",
            "load",
            &path.display().to_string(),
            "ok",
            stats.parsed as usize,
        );
    }
    catalog.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn query_cmd(config: &Config, query: &str, format: Option<&str>) -> anyhow::Result<ExitCode> {
    let text = match query.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read query file {path}"))?,
        None => query.to_owned(),
    };
    let app = App::open(config.clone())?;
    let catalog = app.catalog();
    let prepared = catalog.prepare_query(
        &text,
        None,
        &DatasetRequest::default(),
        &crate::catalog::Visibility::ADMIN,
        config.catalog.union_default_graph,
        &CancelToken::new(),
    )?;
    let output = if prepared.form().returns_graph() {
        let f = format.unwrap_or("turtle");
        OutputFormat::Graph(GraphFormat::from_name(f).with_context(|| {
            format!("'{f}' is not a graph format (turtle, ntriples, nquads, rdfxml, jsonld)")
        })?)
    } else {
        let f = format.unwrap_or("json");
        OutputFormat::Results(
            ResultsFormat::from_name(f)
                .with_context(|| format!("'{f}' is not a results format (json, xml, csv, tsv)"))?,
        )
    };
    let limits = Limits::unbounded();
    let s = catalog.execute_query(prepared, output, limits)?;
    let mut out = std::io::stdout().lock();
    out.write_all(&s.body)?;
    if !s.body.ends_with(b"\n") {
        out.write_all(b"\n")?;
    }
    Ok(ExitCode::SUCCESS)
}

fn dump(
    config: &Config,
    graph: Option<&str>,
    format: Option<&str>,
    out: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let app = App::open(config.clone())?;
    let catalog = app.catalog();
    let target = graph
        .map(|g| {
            catalog
                .layout()
                .resolve(g)
                .map(|n| GraphTarget::Named(n.into_string()))
        })
        .transpose()?;
    let format = match format {
        Some(f) => GraphFormat::from_name(f).with_context(|| format!("unknown format '{f}'"))?,
        None if target.is_some() => GraphFormat::NTriples,
        None => GraphFormat::NQuads,
    };
    let n = match out {
        Some(path) => {
            let file =
                File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
            catalog.dump(
                target.as_ref(),
                format,
                &crate::catalog::Visibility::ADMIN,
                BufWriter::new(file),
            )?
        }
        None => catalog.dump(
            target.as_ref(),
            format,
            &crate::catalog::Visibility::ADMIN,
            BufWriter::new(std::io::stdout().lock()),
        )?,
    };
    eprintln!("{n} quads written");
    Ok(ExitCode::SUCCESS)
}

fn token(cli: &Cli, action: &TokenAction) -> anyhow::Result<ExitCode> {
    let path = cli.config_path();
    // Token changes are admin actions: recorded in the audit log of the configured store.
    let audit = |operation: &str, target: &str, outcome: &str| {
        let config = Config::load(Some(&path)).unwrap_or_default();
        let log_path = match &cli.data {
            Some(d) if config.server.audit_log.is_none() => d.join("audit.log"),
            _ => config.audit_log_path(),
        };
        let who = super::local_admin();
        match crate::audit::AuditLog::open(&log_path) {
            Ok(log) => log.record(who.name(), "admin", operation, target, outcome, 0),
            Err(e) => eprintln!("warning: not recorded in {}: {e}", log_path.display()),
        }
    };
    let clear = |v: &Option<String>| v.as_ref().map(|s| (s != "none").then(|| s.clone()));
    match action {
        TokenAction::Add {
            name,
            role,
            expires,
            dp_epsilon,
        } => {
            if name.trim().is_empty() || name.contains(char::is_whitespace) {
                bail!("token name must be non-empty and without spaces");
            }
            let secret = new_token();
            let entry = TokenEntry {
                expires: expires.clone(),
                dp_epsilon: dp_epsilon.clone(),
                ..TokenEntry::new(name.clone(), *role, hash_token(&secret))
            };
            config::check_token_entry(&entry)?;
            config::store_token(&path, &entry)?;
            audit("token-add", name, &format!("role {role}"));
            eprintln!(
                "token '{name}' ({role}) stored in {} (hash only); it is shown once:",
                path.display()
            );
            println!("{secret}");
        }
        TokenAction::List => {
            let config = Config::load(Some(&path)).or_else(|e| {
                if path.exists() {
                    Err(e)
                } else {
                    Ok(Config::default())
                }
            })?;
            let now = chrono::Utc::now();
            for t in &config.tokens {
                let expiry = match t.expiry() {
                    Ok(Some(when)) if when <= now => {
                        format!("EXPIRED {}", t.expires.as_deref().unwrap_or(""))
                    }
                    Ok(Some(_)) => format!("expires {}", t.expires.as_deref().unwrap_or("")),
                    Ok(None) => "no expiry".into(),
                    Err(e) => format!("REFUSED: {e}"),
                };
                let dp = t
                    .dp_epsilon
                    .as_deref()
                    .map(|e| format!("dp ε {e}"))
                    .unwrap_or_else(|| format!("dp ε {} (default)", config.privacy.token_epsilon));
                let mut grants: Vec<String> = Vec::new();
                grants.extend(t.graphs.iter().map(|g| format!("graph <{g}>")));
                grants.extend(t.assets.iter().map(|a| format!("asset <{a}>")));
                let grants = if grants.is_empty() {
                    "no read grants".to_owned()
                } else {
                    grants.join(", ")
                };
                println!("{}\t{}\t{expiry}\t{dp}\t{grants}", t.name, t.role);
            }
        }
        TokenAction::Grant {
            name,
            expires,
            dp_epsilon,
            graphs,
            assets,
            withdraw,
        } => {
            if expires.is_none()
                && dp_epsilon.is_none()
                && graphs.is_empty()
                && assets.is_empty()
                && withdraw.is_empty()
            {
                bail!(
                    "say what to grant: --expires WHEN|none, --dp-epsilon E|none, --graph IRI, \
                     --asset IRI or --withdraw IRI"
                );
            }
            let change = config::GrantChange {
                expires: clear(expires),
                dp_epsilon: clear(dp_epsilon),
                graphs: graphs.clone(),
                assets: assets.clone(),
                remove: withdraw.clone(),
            };
            let t = config::grant_token(&path, name, change)?;
            let what = format!(
                "expires {}, dp ε {}, graphs [{}], assets [{}]",
                t.expires.as_deref().unwrap_or("never"),
                t.dp_epsilon.as_deref().unwrap_or("default"),
                t.graphs.join(" "),
                t.assets.join(" ")
            );
            audit("token-grant", name, &what);
            eprintln!("token '{name}': {what} (a running server picks it up within a second)");
        }
        TokenAction::Revoke { name } => {
            config::revoke_token(&path, name)?;
            audit("token-revoke", name, "revoked");
            eprintln!("token '{name}' revoked");
        }
    }
    Ok(ExitCode::SUCCESS)
}
