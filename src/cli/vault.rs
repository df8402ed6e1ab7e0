//! `stocktake keys status|rotate|decrypt` and `stocktake audit verify`: the keyring of sealed
//! values and the audit log from the command line, for someone with the store on disk (local
//! access is the admin role, as for `load`). A decryption is recorded in the audit log like
//! one through the API, with the login name and the reason given.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;

use crate::app::App;
use crate::config::Config;

/// `stocktake keys …`
#[derive(Debug, Clone, Subcommand)]
pub enum KeysAction {
    /// The keyring's ids, where it comes from, and how many values each key seals.
    Status,
    /// Add a fresh key to the key file and re-encrypt everything with it (in place, a batch
    /// per transaction; run again to finish an interrupted rotation).
    Rotate {
        /// Do not add a key (the new one was added to the KMS or variable already, or a
        /// rotation was interrupted): only re-encrypt with the current key.
        #[arg(long)]
        reencrypt_only: bool,
    },
    /// Print the sealed values of one subject (audited, with the reason).
    Decrypt {
        /// The subject's IRI (e.g. a quarantined record or a user).
        subject: String,
        /// Why: kept in the audit log.
        #[arg(long)]
        reason: String,
    },
}

/// `stocktake audit …`
#[derive(Debug, Clone, Subcommand)]
pub enum AuditAction {
    /// Check the hash chain of the audit log; exit 1 when any entry was edited, removed,
    /// inserted or reordered.
    Verify {
        /// A head recorded earlier (`SEQ:HASH`, as verify prints it): also detects entries cut
        /// off the end.
        #[arg(long, value_name = "SEQ:HASH")]
        head: Option<String>,
    },
}

/// `stocktake keys`.
pub fn keys(config: &Config, action: KeysAction) -> anyhow::Result<ExitCode> {
    let app = App::open(config.clone())?;
    match action {
        KeysAction::Status => {
            let s = app.key_status()?;
            println!("keys from {}", s.origin);
            for id in &s.keys {
                let current = if *id == s.current { " (current)" } else { "" };
                let n = s.sealed_by_key.get(id).copied().unwrap_or(0);
                println!("  {id}{current}: {n} sealed values");
            }
            if let Some(id) = &s.pseudonym_key {
                println!("  the pseudonym key is sealed with {id}");
            }
            for (id, n) in s
                .sealed_by_key
                .iter()
                .filter(|(id, _)| !s.keys.contains(*id))
            {
                println!("  {id}: {n} sealed values — NOT in the keyring, cannot be opened");
            }
        }
        KeysAction::Rotate { reencrypt_only } => {
            let r = app.rotate_keys(!reencrypt_only)?;
            if let Some(id) = &r.added {
                println!("added key {id} to the key file");
            }
            println!(
                "re-encrypted {} of {} sealed values{} with key {}",
                r.resealed,
                r.sealed,
                if r.pseudonym_key {
                    " and the pseudonym key"
                } else {
                    ""
                },
                r.current
            );
            if r.unreadable > 0 {
                println!(
                    "{} values did not open (altered, or not sealed by Stocktake) and were left \
                     as they are: see the log",
                    r.unreadable
                );
            } else {
                println!(
                    "every sealed value now uses {}: older keys may be retired",
                    r.current
                );
            }
        }
        KeysAction::Decrypt { subject, reason } => {
            let who = super::local_admin();
            let values = app.decrypt(&who, &subject, &reason)?;
            if values.is_empty() {
                eprintln!("{subject} has no sealed values");
            }
            println!("{}", serde_json::to_string_pretty(&values)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `stocktake audit`.
pub fn audit(config: &Config, action: AuditAction) -> anyhow::Result<ExitCode> {
    let AuditAction::Verify { head } = action;
    let head = head
        .as_deref()
        .map(|h| {
            let (seq, hash) = h
                .split_once(':')
                .context("--head is SEQ:HASH, as `audit verify` prints it")?;
            Ok::<_, anyhow::Error>((seq.parse::<u64>().context("--head SEQ")?, hash.to_string()))
        })
        .transpose()?;
    let path = config.audit_log_path();
    let v = crate::audit::verify(&path, head.as_ref().map(|(s, h)| (*s, h.as_str())))
        .with_context(|| format!("reading {}", path.display()))?;
    for (line, why) in &v.problems {
        if *line == 0 {
            println!("BROKEN: {why}");
        } else {
            println!("BROKEN at line {line}: {why}");
        }
    }
    println!(
        "{}: {} chained entries{}",
        path.display(),
        v.entries,
        if v.legacy > 0 {
            format!(" (after {} entries from before the chain)", v.legacy)
        } else {
            String::new()
        }
    );
    if let (Some(seq), Some(hash)) = (v.head_seq, &v.head_hash) {
        println!("head {seq}:{hash}  (keep it elsewhere; --head detects cut-off entries)");
    }
    if v.ok() {
        println!("ok: the chain is intact");
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "the audit log was tampered with: {} problem(s)",
            v.problems.len()
        );
        Ok(ExitCode::from(1))
    }
}
