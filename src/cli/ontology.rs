//! `stocktake ontology check|diff`: the ontology maintainers' commands. `check` runs in the CI
//! of an ontology repository: it reads files only (no store), prints a report (text or JSON)
//! and exits 1 when a finding at `--fail-on` level (default: error) or worse exists, 2 when a
//! path cannot be read at all.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use crate::catalog::ontology::check::{self, CheckOptions, Level, CHECKS};
use crate::catalog::ontology::diff;
use crate::catalog::ontology::source::OntologySource;
use crate::config::Config;

/// `stocktake ontology …`
#[derive(Debug, Clone, Subcommand)]
pub enum OntologyAction {
    /// Check ontology files: parse errors with file:line, then ROBOT-report- and qSKOS-style
    /// checks (labels, definitions, duplicates, deprecated terms in use, SKOS cycles, orphans,
    /// label clashes, schemes, mapping contradictions, brand aliases, SHACL Core shapes).
    Check {
        /// Folders or files (default: the configured ontology folder).
        paths: Vec<PathBuf>,
        #[arg(long, default_value = "text", value_parser = ["text", "json"])]
        format: String,
        /// Languages every class, property and concept must be labelled in.
        #[arg(long, default_value = "zh,en", value_delimiter = ',')]
        languages: Vec<String>,
        /// Check ids not to run (comma-separated; `--list` names them).
        #[arg(long, value_delimiter = ',')]
        skip: Vec<String>,
        /// Exit 1 when a finding at this level or worse exists.
        #[arg(long, default_value = "error", value_parser = ["error", "warning", "info"])]
        fail_on: String,
        /// Folder of ingest mappings (*.toml): a deprecated term they write is an error.
        #[arg(long, value_name = "DIR")]
        mappings: Option<PathBuf>,
        /// Findings printed per check in text output.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// List the checks and exit.
        #[arg(long)]
        list: bool,
    },
    /// What a new ontology folder would change in the store, without writing: the check, the
    /// diff against the loaded ontology, data moves (merges, brand aliases, category labels),
    /// moved concepts, what would break, and the SHACL results on the migrated data.
    Plan {
        /// The folder (default: the configured ontology folder).
        dir: Option<PathBuf>,
        /// Folder of ingest mappings whose terms must survive the change.
        #[arg(long, value_name = "DIR")]
        mappings: Option<PathBuf>,
        #[arg(long, default_value = "text", value_parser = ["text", "json"])]
        format: String,
    },
    /// The plan, then the change in one transaction: the ontology replaced, the data migrated,
    /// a version recorded (refused when the files have errors).
    Apply {
        dir: Option<PathBuf>,
        #[arg(long, value_name = "DIR")]
        mappings: Option<PathBuf>,
        #[arg(long, default_value = "text", value_parser = ["text", "json"])]
        format: String,
    },
    /// The ontology as an HTML documentation page (classes, properties, concept trees in zh/en,
    /// brands, shapes in words), from the files; `serve` has it at `/ontology`.
    Docs {
        /// The folder or files (default: the configured ontology folder).
        paths: Vec<PathBuf>,
        /// Write to this file instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// A semantic diff of two versions of an ontology (folders or files): classes,
    /// properties, concepts, labels, shapes and brand aliases added, removed or changed.
    Diff {
        old: PathBuf,
        new: PathBuf,
        #[arg(long, default_value = "markdown", value_parser = ["markdown", "json"])]
        format: String,
    },
}

/// `stocktake ontology`.
pub fn run(config: &Config, action: OntologyAction) -> anyhow::Result<ExitCode> {
    let apply = matches!(action, OntologyAction::Apply { .. });
    match action {
        OntologyAction::Check {
            paths,
            format,
            languages,
            skip,
            fail_on,
            mappings,
            limit,
            list,
        } => {
            if list {
                for c in CHECKS {
                    println!("{:<27} {:<8} {}", c.id, c.level.name(), c.about);
                }
                return Ok(ExitCode::SUCCESS);
            }
            if let Some(bad) = skip.iter().find(|s| !CHECKS.iter().any(|c| c.id == *s)) {
                anyhow::bail!(
                    "--skip {bad:?}: no such check (`stocktake ontology check --list` names them)"
                );
            }
            let paths = if paths.is_empty() {
                vec![config.catalog.ontology_dir.clone()]
            } else {
                paths
            };
            let source = match OntologySource::read(&paths) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("ontology check: {e}");
                    return Ok(ExitCode::from(2));
                }
            };
            let mut opts = CheckOptions {
                languages,
                skip,
                ..CheckOptions::default()
            };
            if let Some(dir) = mappings {
                opts.mapped_terms = crate::app::ontology::mapped_terms(&dir)?;
            }
            let report = check::check(&source, &opts);
            if format == "json" {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.text(limit));
            }
            let level = Level::parse(&fail_on).unwrap_or(Level::Error);
            Ok(if report.fails(level) {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        OntologyAction::Plan {
            dir,
            mappings,
            format,
        }
        | OntologyAction::Apply {
            dir,
            mappings,
            format,
        } => {
            let app = crate::app::App::open(config.clone())?;
            let plan = app.ontology_change(
                &super::local_admin(),
                dir.as_deref(),
                mappings.as_deref(),
                apply,
            )?;
            if format == "json" {
                println!("{}", serde_json::to_string_pretty(&plan)?);
            } else {
                print!("{}", plan_text(&plan));
            }
            Ok(if plan.errors > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        OntologyAction::Docs { paths, out } => {
            let paths = if paths.is_empty() {
                vec![config.catalog.ontology_dir.clone()]
            } else {
                paths
            };
            let source = OntologySource::read(&paths)?;
            if let Some(problem) = source.problems.first() {
                anyhow::bail!("{problem} (fix it, `stocktake ontology check` lists all)");
            }
            let mut prefixes = source.prefixes();
            prefixes.extend(crate::app::ontology::docs_prefixes());
            let html = crate::catalog::ontology::docs::render(&source.union(), &prefixes, &[]);
            match out {
                Some(f) => {
                    std::fs::write(&f, html)
                        .map_err(|e| anyhow::anyhow!("writing {}: {e}", f.display()))?;
                    eprintln!("wrote {}", f.display());
                }
                None => print!("{html}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        OntologyAction::Diff { old, new, format } => {
            let read = |p: &PathBuf| -> anyhow::Result<OntologySource> {
                let s = OntologySource::read(std::slice::from_ref(p))?;
                if let Some(problem) = s.problems.first() {
                    anyhow::bail!("{problem} (fix it, `stocktake ontology check` lists all)");
                }
                Ok(s)
            };
            let d = diff::diff(&read(&old)?, &read(&new)?);
            if format == "json" {
                println!("{}", serde_json::to_string_pretty(&d)?);
            } else {
                print!("{}", d.markdown());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A plan for people.
fn plan_text(p: &crate::app::ontology::OntologyPlan) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "ontology {} in {} ({}): {} errors, {} warnings",
        if p.applied { "applied" } else { "plan" },
        p.dir,
        if p.unchanged { "unchanged" } else { "changed" },
        p.errors,
        p.warnings
    );
    for f in p.findings.iter().filter(|f| f.level == Level::Error) {
        let _ = writeln!(
            s,
            "  {}: [{}] {}",
            f.location.as_deref().unwrap_or("-"),
            f.check,
            f.message
        );
    }
    let d = &p.diff;
    let _ = writeln!(
        s,
        "terms: {} added, {} removed, {} changed; brand aliases {} added, {} removed",
        d.added.len(),
        d.removed.len(),
        d.changed.len(),
        d.aliases_added.len(),
        d.aliases_removed.len()
    );
    for r in &p.rewrites {
        let _ = writeln!(
            s,
            "  move [{}] {} → {}: {} statements of {} subjects ({})",
            r.rewrite.kind, r.rewrite.from, r.rewrite.to, r.statements, r.subjects, r.rewrite.why
        );
    }
    for h in &p.hierarchy {
        let _ = writeln!(
            s,
            "  {} moves from [{}] to [{}]: {} products/reviews at or below it",
            h.concept,
            h.before.join(", "),
            h.after.join(", "),
            h.subjects
        );
    }
    for b in &p.breakage {
        let _ = writeln!(s, "  breaks [{}] {}", b.kind, b.message);
    }
    if let Some(sh) = &p.shacl {
        let _ = writeln!(
            s,
            "SHACL: {} results now, {} after; {} new, {} resolved",
            sh.before, sh.after, sh.new, sh.resolved
        );
        for r in sh.new_samples.iter().take(20) {
            let _ = writeln!(s, "  new: {} — {}", r.focus, r.message);
        }
    }
    if let Some(v) = &p.version {
        let _ = writeln!(s, "version {v}");
    }
    let _ = writeln!(s, "{:.2} s", p.seconds);
    s
}
