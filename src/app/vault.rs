//! The use cases of sealed values: the keyring for a run, key rotation (re-encrypting every
//! sealed literal and the pseudonym key in place, resumable), and decryption for admins, which
//! is refused unless it can be recorded in the audit log first.
//!
//! The keyring is read for each use (a key file or a KMS command changes under a running
//! server, and these uses are rare); a store works without any key for everything but
//! ingesting into the quarantine and decrypting.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use super::{App, AppError};
use crate::catalog::SealedValue;
use crate::privacy::{Principal, Role};
use crate::vault::{KeyOrigin, Keyring, VaultError};

/// Values re-encrypted per transaction during a rotation.
const ROTATE_BATCH: usize = 2_000;

/// What a rotation did.
#[derive(Debug, Serialize)]
pub struct Rotation {
    /// The key added to the key file (none when the keys come from elsewhere).
    pub added: Option<String>,
    /// The key everything is now sealed with.
    pub current: String,
    /// Sealed literals re-encrypted now, and sealed literals in the store.
    pub resealed: u64,
    pub sealed: u64,
    /// Values that did not open (altered or inserted by hand): left as they are.
    pub unreadable: u64,
    /// Whether the pseudonym key was re-encrypted.
    pub pseudonym_key: bool,
}

/// One opened value.
#[derive(Debug, Serialize)]
pub struct Opened {
    pub graph: Option<String>,
    pub predicate: String,
    pub value: String,
}

/// The keyring's state: ids, where it comes from, and how many values each key seals.
#[derive(Debug, Serialize)]
pub struct KeyStatus {
    pub origin: String,
    pub keys: Vec<String>,
    pub current: String,
    /// Sealed values per key id (the pseudonym key counts as one).
    pub sealed_by_key: BTreeMap<String, u64>,
    /// The key the pseudonym key is sealed with.
    pub pseudonym_key: Option<String>,
}

impl App {
    /// Whether the store has sealed anything yet: only then may a missing key file be
    /// created (a store with sealed values must never silently get a new key).
    fn may_create_key(&self) -> bool {
        match std::fs::read_to_string(self.config.data.join("pseudonym.key")) {
            Ok(text) => !crate::vault::is_sealed(text.trim()),
            Err(_) => true,
        }
    }

    /// The keyring as configured now (`[vault]`), for sealing: the first seal of a store
    /// may create the default key file. Blocking (a key command may be slow).
    pub fn keyring(&self) -> Result<Arc<Keyring>, AppError> {
        Ok(Arc::new(crate::vault::load(
            &self.config.vault,
            &self.config.data,
            self.may_create_key(),
        )?))
    }

    /// The keyring for reading sealed values (never creates a key).
    fn keyring_to_open(&self) -> Result<Arc<Keyring>, AppError> {
        Ok(Arc::new(crate::vault::load(
            &self.config.vault,
            &self.config.data,
            false,
        )?))
    }

    /// The keyring's ids and how many values each seals (the pseudonym key included).
    /// Blocking (scans the store).
    pub fn key_status(&self) -> Result<KeyStatus, AppError> {
        let ring = self.keyring_to_open()?;
        let mut sealed_by_key = BTreeMap::new();
        self.catalog.each_sealed(|v| {
            let id = crate::vault::key_id(&v.value).unwrap_or("?").to_string();
            *sealed_by_key.entry(id).or_insert(0) += 1;
        })?;
        let pseudonym_key = std::fs::read_to_string(self.config.data.join("pseudonym.key"))
            .ok()
            .and_then(|t| crate::vault::key_id(t.trim()).map(String::from));
        if let Some(id) = &pseudonym_key {
            *sealed_by_key.entry(id.clone()).or_insert(0) += 1;
        }
        Ok(KeyStatus {
            origin: ring.origin().to_string(),
            keys: ring.ids().iter().map(|s| s.to_string()).collect(),
            current: ring.current_id().to_string(),
            sealed_by_key,
            pseudonym_key,
        })
    }

    /// Rotates: with `add_key`, a fresh key is appended to the key file first (it becomes the
    /// current one; keys from a command or the environment are added there by the operator);
    /// then the pseudonym key and every sealed literal sealed with another key are
    /// re-encrypted with the current key, a batch per transaction. An interrupted rotation is
    /// finished by running it again without `add_key`. Blocking.
    pub fn rotate_keys(&self, add_key: bool) -> Result<Rotation, AppError> {
        let before = self.keyring()?;
        let added = if add_key {
            let KeyOrigin::File(path) = before.origin() else {
                return Err(AppError::Invalid(format!(
                    "the keys come from {}: add the new key there (last entry), then run \
                     `stocktake keys rotate --reencrypt-only`",
                    before.origin()
                )));
            };
            Some(crate::vault::add_key(path)?)
        } else {
            None
        };
        let ring = self.keyring()?;
        // The pseudonym key: read (and re-sealed when needed) by the ingest's own reader.
        let key_file = self.config.data.join("pseudonym.key");
        let pseudonym_key = match std::fs::read_to_string(&key_file) {
            Ok(text) if crate::vault::key_id(text.trim()) != Some(ring.current_id()) => {
                crate::ingest::pseudonym_secret(&self.config.data, &ring)?;
                true
            }
            _ => false,
        };
        // One scan finds what is left to do; each batch is its own transaction, so an
        // interrupted rotation is finished by running it again. A value that does not open
        // (altered, or inserted by hand) is left as it is and counted, not allowed to stop
        // the others.
        let (todo, sealed) = self
            .catalog
            .sealed_with_other_keys(ring.current_id(), usize::MAX)?;
        let (mut resealed, mut unreadable) = (0u64, 0u64);
        for batch in todo.chunks(ROTATE_BATCH) {
            let mut changes: Vec<(SealedValue, String)> = Vec::with_capacity(batch.len());
            for v in batch {
                let context = crate::vault::field_context(&v.subject, &v.predicate);
                match ring.open(&v.value, &context) {
                    Ok(plain) => changes.push((v.clone(), ring.seal(&plain, &context))),
                    Err(e) => {
                        unreadable += 1;
                        tracing::error!(subject = %v.subject, predicate = %v.predicate, "not re-encrypted: {e}");
                    }
                }
            }
            resealed += self.catalog.replace_sealed(&changes)? as u64;
            tracing::info!(resealed, "key rotation: re-encrypted a batch");
        }
        self.catalog.flush()?;
        self.audit()?.record(
            "local",
            "admin",
            "key-rotate",
            &format!(
                "{}{}",
                ring.current_id(),
                added
                    .as_deref()
                    .map_or(String::new(), |a| format!(" (added {a})"))
            ),
            &format!("ok: {resealed} of {sealed} re-encrypted, {unreadable} unreadable"),
            resealed as usize,
        );
        Ok(Rotation {
            added,
            current: ring.current_id().to_string(),
            resealed,
            sealed,
            unreadable,
            pseudonym_key,
        })
    }

    /// Opens the sealed values of `subject` for an admin, with the reason they gave. Recorded
    /// in the audit log *before* anything is returned; if it cannot be recorded, nothing is.
    /// Blocking.
    pub fn decrypt(
        &self,
        who: &Principal,
        subject: &str,
        reason: &str,
    ) -> Result<Vec<Opened>, AppError> {
        who.require(Role::Admin, "decrypting sealed values")
            .map_err(|e| AppError::Forbidden(e.to_string()))?;
        let reason = reason.trim();
        if reason.chars().count() < 4 {
            return Err(AppError::Invalid(
                "say why you decrypt (reason, at least 4 characters): it goes to the audit log"
                    .into(),
            ));
        }
        let audit = self.audit()?;
        let target = format!("{subject} — reason: {reason}");
        let record = |outcome: &str, n: usize| {
            audit
                .try_record(
                    who.name(),
                    who.role().as_str(),
                    "decrypt",
                    &target,
                    outcome,
                    n,
                )
                .map_err(|source| AppError::Io {
                    what: "decryption refused: the audit log cannot be written".into(),
                    source,
                })
        };
        let found = self.catalog.sealed_of(subject)?;
        let opened = (|| {
            if found.is_empty() {
                return Ok(Vec::new());
            }
            let ring = self.keyring_to_open()?;
            found
                .iter()
                .map(|v| -> Result<Opened, AppError> {
                    let context = crate::vault::field_context(&v.subject, &v.predicate);
                    let plain = ring.open_str(&v.value, &context)?;
                    Ok(Opened {
                        graph: v.graph.clone(),
                        predicate: v.predicate.clone(),
                        value: plain.to_string(),
                    })
                })
                .collect::<Result<Vec<_>, AppError>>()
        })();
        match opened {
            Ok(values) => {
                record("ok", values.len())?;
                Ok(values)
            }
            Err(e) => {
                record(&format!("failed: {e}"), 0)?;
                if matches!(e, AppError::Vault(VaultError::Tampered(_))) {
                    tracing::error!(subject, "a sealed value failed authentication: {e}");
                }
                Err(e)
            }
        }
    }
}
