//! `stocktake export embeddings` and `stocktake import-embeddings`: trained tables in and out of
//! the DGL-KE and PyTorch-BigGraph formats (the format work itself is in `embed::export` and
//! `embed::pbg`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;

use crate::config::Config;
use crate::embed::{Embedding, Norm};
use crate::kg::Checkpoint;

/// Options of `stocktake export embeddings`.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// Model file written by `stocktake train` [default: embed.model].
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Output format: dglke (.npy tables + entities.tsv/relations.tsv + config.json + train.tsv)
    /// or pbg (a PyTorch-BigGraph checkpoint folder: HDF5 tables, config.json, name lists).
    #[arg(long, default_value = "dglke", value_parser = ["dglke", "pbg"])]
    pub format: String,
    /// Dataset name used in the DGL-KE file names.
    #[arg(long, default_value = "stocktake")]
    pub dataset: String,
    /// Folder to write (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// `stocktake export embeddings`.
pub fn export(config: &Config, args: ExportArgs) -> anyhow::Result<ExitCode> {
    let path = args
        .model
        .clone()
        .unwrap_or_else(|| config.embed.model_path(&config.data));
    let emb = Embedding::from_checkpoint(&Checkpoint::load(&path)?)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let dir = args.out.clone();
    let format = if args.format == "pbg" {
        let out = crate::embed::pbg::write_pbg(&emb)?;
        for w in &out.warnings {
            eprintln!("warning: {w}");
        }
        for (name, bytes) in out.files {
            let p = dir.join(name);
            std::fs::write(&p, bytes).with_context(|| format!("cannot write {}", p.display()))?;
        }
        "PyTorch-BigGraph"
    } else {
        crate::embed::export::write_dglke(&emb, &args.dataset, |name| {
            let f = std::fs::File::create(dir.join(name))?;
            Ok(Box::new(std::io::BufWriter::new(f)) as Box<dyn std::io::Write>)
        })?;
        "DGL-KE"
    };
    println!(
        "wrote {} ({} entities, {} relations, dim {}) in {format} format to {}",
        path.display(),
        emb.ids.entities.len(),
        emb.ids.relations.len(),
        emb.config.dim,
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Options of `stocktake import-embeddings`.
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// Folder with DGL-KE tables (`*_entity.npy`, `*_relation.npy`) and entities.tsv/relations.tsv,
    /// or a PyTorch-BigGraph checkpoint folder (with --format pbg).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// dglke or pbg [default: pbg when DIR holds checkpoint_version.txt, else dglke].
    #[arg(long, value_parser = ["dglke", "pbg"])]
    pub format: Option<String>,
    /// PyTorch-BigGraph: the folder with entity_names_*.json and dynamic_rel_names.json when it
    /// is not DIR (PBG's entity_path).
    #[arg(long, value_name = "DIR")]
    pub entity_dir: Option<PathBuf>,
    /// Distance the tables were trained with [default: from the file names, else l1].
    #[arg(long)]
    pub norm: Option<Norm>,
    /// Model file to write [default: embed.model, served by `serve`].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `stocktake import-embeddings`: DGL-KE or PBG tables → a model file link prediction can serve.
pub fn import(config: &Config, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let pbg = match args.format.as_deref() {
        Some(f) => f == "pbg",
        None => args.dir.join("checkpoint_version.txt").exists(),
    };
    let mut emb = if pbg {
        import_pbg(&args)?
    } else {
        import_dglke(&args)?
    };
    emb.info.trained_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| config.embed.model_path(&config.data));
    emb.to_checkpoint().save(&out)?;
    println!(
        "imported {} entities × {} relations (dim {}, {:?}{}) into {}",
        emb.ids.entities.len(),
        emb.ids.relations.len(),
        emb.config.dim,
        emb.config.norm,
        if emb.model.reciprocal {
            ", reciprocal"
        } else {
            ""
        },
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn import_pbg(args: &ImportArgs) -> anyhow::Result<Embedding> {
    if args.norm == Some(Norm::L1) {
        bail!("PyTorch-BigGraph checkpoints are scored with l2; --norm l1 does not apply");
    }
    let dirs: Vec<PathBuf> = std::iter::once(args.dir.clone())
        .chain(args.entity_dir.clone())
        .collect();
    let read = |name: &str| dirs.iter().find_map(|d| std::fs::read(d.join(name)).ok());
    Ok(crate::embed::pbg::read_pbg(
        &read,
        args.dir.display().to_string(),
    )?)
}

fn import_dglke(args: &ImportArgs) -> anyhow::Result<Embedding> {
    let find = |suffix: &str| -> anyhow::Result<PathBuf> {
        let mut hits: Vec<PathBuf> = std::fs::read_dir(&args.dir)
            .with_context(|| format!("cannot read {}", args.dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with(suffix))
            .collect();
        hits.sort();
        match hits.len() {
            1 => Ok(hits.remove(0)),
            0 => bail!("no *{suffix} file in {}", args.dir.display()),
            _ => bail!(
                "several *{suffix} files in {}: keep one",
                args.dir.display()
            ),
        }
    };
    let ent = find("_entity.npy")?;
    let rel = find("_relation.npy")?;
    let norm = args.norm.unwrap_or_else(|| {
        if ent.to_string_lossy().contains("_l2_") {
            Norm::L2
        } else {
            Norm::L1
        }
    });
    let open = |p: PathBuf| {
        std::fs::File::open(&p).with_context(|| format!("cannot open {}", p.display()))
    };
    let mut emb = crate::embed::export::read_dglke(
        open(ent)?,
        open(rel)?,
        open(args.dir.join("entities.tsv"))?,
        open(args.dir.join("relations.tsv"))?,
        norm,
        args.dir.display().to_string(),
    )?;
    // Known links come along when the export carries its training triples.
    let train = args.dir.join("train.tsv");
    if train.exists() {
        let named = crate::kg::triples::parse_tsv(open(train.clone())?, &train)?;
        for (h, r, t) in named {
            match (
                emb.ids.entities.get(&h),
                emb.ids.relations.get(&r),
                emb.ids.entities.get(&t),
            ) {
                (Some(h), Some(r), Some(t)) => emb.train.push(crate::kg::Triple::new(h, r, t)),
                _ => bail!(
                    "{}: triple ({h}, {r}, {t}) names an entity or relation without a row",
                    train.display()
                ),
            }
        }
    }
    Ok(emb)
}
