//! Sealed values (加密存储): the raw sensitive values the store must keep — quarantined records'
//! cells, personal fields a mapping marks `keep = "encrypted"`, the pseudonym key — are kept
//! only as authenticated ciphertext.
//!
//! XChaCha20-Poly1305 (RustCrypto's `chacha20poly1305`) with a fresh random 192-bit nonce per
//! value: a nonce that large can be drawn at random for as many values as a store will ever
//! hold without a collision worth worrying about, so no counter has to survive crashes. A
//! sealed value reads `stv1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`; the key id and a
//! context (what the value is: `quarantine-record`, the predicate of a kept field) are bound
//! as associated data, so a value cannot be moved to another key id or another field
//! unnoticed, and any altered byte fails authentication loudly. The keyring comes from a key
//! file, an environment variable or a command (`keys`); keys never reach the store, its dumps
//! or the logs, and `Debug` shows only key ids.
//!
//! This module owns `chacha20poly1305` and knows nothing of RDF: the catalog stores sealed
//! values as literals of datatype `st:sealed`, `ingest` seals, `app` rotates and decrypts.

mod keys;

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use zeroize::Zeroizing;

pub use keys::{add_key, default_key_file, load, KeyOrigin, VaultConfig};

/// Prefix of every sealed value (format version 1).
pub const PREFIX: &str = "stv1:";

const NONCE: usize = 24;
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// What goes wrong with keys and sealed values. Messages never carry key material or
/// plaintext.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// No key is configured or reachable.
    #[error("no encryption key available: {0}")]
    NoKey(String),
    /// A value was sealed with a key the keyring does not hold.
    #[error(
        "the value was sealed with key '{0}', which the keyring does not hold (keep retired keys \
         in the keyring until `stocktake keys rotate` has re-encrypted everything)"
    )]
    UnknownKey(String),
    /// Authentication failed: the ciphertext, its key id or its context was altered.
    #[error(
        "sealed value failed authentication: it was altered, or it belongs to another field \
         ({0}) — refusing to return anything"
    )]
    Tampered(String),
    /// Not a sealed value at all.
    #[error("not a sealed value: {0}")]
    Malformed(String),
    /// The keyring's source could not be read or is not in the expected form.
    #[error("keys from {origin}: {message}")]
    Source { origin: String, message: String },
}

/// One key: its id and 256 bits, wiped from memory when dropped.
struct Key {
    id: String,
    bytes: Zeroizing<[u8; 32]>,
}

impl Key {
    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new_from_slice(&self.bytes[..]).expect("keys are 32 bytes")
    }
}

/// The keys a process holds: the last one seals, all of them open.
pub struct Keyring {
    keys: Vec<Key>,
    origin: KeyOrigin,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("ids", &self.ids())
            .field("origin", &self.origin)
            .finish()
    }
}

impl Keyring {
    /// Parses `<id> <64 hex digits>` entries, one per line (or `;`-separated, for an
    /// environment variable); `#` starts a comment. The last entry is the current key.
    pub fn parse(text: &str, origin: KeyOrigin) -> Result<Self, VaultError> {
        let bad = |message: String| VaultError::Source {
            origin: origin.to_string(),
            message,
        };
        let mut keys: Vec<Key> = Vec::new();
        for (n, entry) in text
            .lines()
            .flat_map(|l| l.split('#').next().unwrap_or("").split(';'))
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .enumerate()
        {
            let mut parts = entry.split_whitespace();
            let (Some(id), Some(hex_key), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(bad(format!(
                    "entry {} is not '<id> <64 hex digits>'",
                    n + 1
                )));
            };
            if !valid_id(id) {
                // Never echoed: an entry written the wrong way round has the key here.
                return Err(bad(format!(
                    "entry {}: the key id must be 1-40 letters, digits, '-' or '_' and come \
                     first",
                    n + 1
                )));
            }
            let mut bytes = Zeroizing::new([0u8; 32]);
            let decoded = Zeroizing::new(hex::decode(hex_key).unwrap_or_default());
            if decoded.len() != 32 {
                return Err(bad(format!("key '{id}' is not 64 hex digits (256 bits)")));
            }
            bytes.copy_from_slice(&decoded);
            if keys.iter().any(|k| k.id == id) {
                return Err(bad(format!("key id '{id}' appears twice")));
            }
            keys.push(Key {
                id: id.to_string(),
                bytes,
            });
        }
        if keys.is_empty() {
            return Err(VaultError::NoKey(format!("{origin} holds no key")));
        }
        Ok(Self { keys, origin })
    }

    /// A keyring of one fresh random key (tests, throwaway stores).
    pub fn generate(id: &str) -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(&mut bytes[..]);
        Self {
            keys: vec![Key {
                id: id.into(),
                bytes,
            }],
            origin: KeyOrigin::Generated,
        }
    }

    /// Key ids, oldest first; the last seals.
    pub fn ids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.id.as_str()).collect()
    }

    /// The id of the key that seals.
    pub fn current_id(&self) -> &str {
        &self.current().id
    }

    /// Where the keys came from.
    pub fn origin(&self) -> &KeyOrigin {
        &self.origin
    }

    fn current(&self) -> &Key {
        self.keys.last().expect("a keyring is never empty")
    }

    /// Seals `plain` for `context` with the current key.
    pub fn seal(&self, plain: &[u8], context: &str) -> String {
        let key = self.current();
        let mut nonce = [0u8; NONCE];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = associated(&key.id, context);
        let cipher = key.cipher();
        let ct = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: aad.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory input");
        let mut payload = nonce.to_vec();
        payload.extend_from_slice(&ct);
        format!("{PREFIX}{}:{}", key.id, B64.encode(payload))
    }

    /// Seals a string.
    pub fn seal_str(&self, plain: &str, context: &str) -> String {
        self.seal(plain.as_bytes(), context)
    }

    /// Opens a value sealed for `context`; fails loudly on any alteration.
    pub fn open(&self, sealed: &str, context: &str) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let (id, payload) = split(sealed)?;
        let key = self
            .keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| VaultError::UnknownKey(id.to_string()))?;
        let bytes = B64
            .decode(payload)
            .map_err(|_| VaultError::Tampered(context.to_string()))?;
        if bytes.len() < NONCE + 16 {
            return Err(VaultError::Tampered(context.to_string()));
        }
        let aad = associated(id, context);
        key.cipher()
            .decrypt(
                XNonce::from_slice(&bytes[..NONCE]),
                Payload {
                    msg: &bytes[NONCE..],
                    aad: aad.as_bytes(),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| VaultError::Tampered(context.to_string()))
    }

    /// Opens a sealed UTF-8 string.
    pub fn open_str(&self, sealed: &str, context: &str) -> Result<Zeroizing<String>, VaultError> {
        let bytes = self.open(sealed, context)?;
        String::from_utf8(bytes.to_vec())
            .map(Zeroizing::new)
            .map_err(|_| VaultError::Tampered(context.to_string()))
    }

    /// The value sealed again with the current key, or `None` when it already is.
    pub fn reseal(&self, sealed: &str, context: &str) -> Result<Option<String>, VaultError> {
        if key_id(sealed) == Some(self.current_id()) {
            return Ok(None);
        }
        let plain = self.open(sealed, context)?;
        Ok(Some(self.seal(&plain, context)))
    }
}

/// Whether `s` looks like a sealed value.
pub fn is_sealed(s: &str) -> bool {
    split(s).is_ok()
}

/// The key id a sealed value names.
pub fn key_id(sealed: &str) -> Option<&str> {
    split(sealed).ok().map(|(id, _)| id)
}

fn split(sealed: &str) -> Result<(&str, &str), VaultError> {
    sealed
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.split_once(':'))
        .filter(|(id, _)| valid_id(id))
        .ok_or_else(|| VaultError::Malformed(format!("expected {PREFIX}<key id>:<data>")))
}

fn valid_id(id: &str) -> bool {
    (1..=40).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The context a field's value is sealed for: its subject and predicate, so a sealed value
/// copied onto another subject or field does not open.
pub fn field_context(subject: &str, predicate: &str) -> String {
    format!("{subject} {predicate}")
}

fn associated(id: &str, context: &str) -> String {
    format!("{PREFIX}{id}:{context}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn seal_open_round_trip_and_nonces_differ() {
        let ring = Keyring::generate("k1");
        let a = ring.seal_str("13812345678 张伟", "phone");
        let b = ring.seal_str("13812345678 张伟", "phone");
        assert_ne!(a, b, "a fresh nonce per value");
        assert!(a.starts_with("stv1:k1:") && !a.contains("1381"));
        assert_eq!(&*ring.open_str(&a, "phone").unwrap(), "13812345678 张伟");
        assert_eq!(format!("{ring:?}").matches("k1").count(), 1);
    }

    #[test]
    fn tampering_of_any_kind_fails_loudly() {
        let ring = Keyring::generate("k1");
        let sealed = ring.seal_str("secret", "phone");
        // Another field's context.
        assert!(matches!(
            ring.open(&sealed, "email"),
            Err(VaultError::Tampered(_))
        ));
        // Every single character of the payload flipped in turn.
        let head = "stv1:k1:".len();
        for i in head..sealed.len() {
            let mut bytes = sealed.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let altered = String::from_utf8(bytes).unwrap();
            if altered != sealed {
                assert!(ring.open(&altered, "phone").is_err(), "byte {i}");
            }
        }
        // Truncated, relabelled to another key id, not sealed at all.
        assert!(ring.open(&sealed[..sealed.len() - 3], "phone").is_err());
        let other = Keyring::generate("k2");
        let moved = sealed.replacen("k1", "k2", 1);
        assert!(matches!(
            other.open(&moved, "phone"),
            Err(VaultError::Tampered(_))
        ));
        assert!(matches!(
            other.open(&sealed, "phone"),
            Err(VaultError::UnknownKey(_))
        ));
        assert!(matches!(
            ring.open("secret", "phone"),
            Err(VaultError::Malformed(_))
        ));
    }

    #[test]
    fn the_last_key_seals_and_older_ones_still_open() {
        let old = Keyring::parse(&format!("a {}", "11".repeat(32)), KeyOrigin::Generated).unwrap();
        let sealed = old.seal_str("v", "c");
        let both = Keyring::parse(
            &format!(
                "# keys\na {}\nb {} # new\n",
                "11".repeat(32),
                "22".repeat(32)
            ),
            KeyOrigin::Generated,
        )
        .unwrap();
        assert_eq!(both.current_id(), "b");
        let resealed = both.reseal(&sealed, "c").unwrap().unwrap();
        assert_eq!(key_id(&resealed), Some("b"));
        assert!(both.reseal(&resealed, "c").unwrap().is_none());
        assert_eq!(&*both.open_str(&sealed, "c").unwrap(), "v");
        for bad in [
            "",
            "a 1234",
            "a b c",
            &format!("bad/id {}", "11".repeat(32)),
            &format!("a {0};a {0}", "11".repeat(32)),
        ] {
            let e = Keyring::parse(bad, KeyOrigin::Generated).unwrap_err();
            assert!(!e.to_string().contains("1111"), "no key material in {e}");
        }
    }

    proptest! {
        #[test]
        fn any_value_round_trips(plain in proptest::collection::vec(any::<u8>(), 0..300), ctx in ".{0,20}") {
            let ring = Keyring::generate("p");
            let s = ring.seal(&plain, &ctx);
            prop_assert!(is_sealed(&s));
            prop_assert_eq!(ring.open(&s, &ctx).unwrap().to_vec(), plain);
        }
    }
}
