//! Where keys come from: a command (so a KMS or Vault CLI supplies them and nothing is on
//! disk), an environment variable, or a key file the process may read only if nobody else can
//! (mode 0600). A store that has never sealed anything gets a fresh key file beside — never
//! inside — its data directory, so copying or backing up the data directory does not copy the
//! key; a store that has sealed values never gets a new key silently (its values would be lost).

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::{Keyring, VaultError};

/// `[vault]` options: where the keyring comes from (first that is set wins: command,
/// environment variable, key file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VaultConfig {
    /// A shell command printing the keyring on stdout (e.g. `vault kv get -field=keys …`).
    pub key_command: Option<String>,
    /// Environment variable holding the keyring (`;`-separated entries).
    pub key_env: String,
    /// Key file; default `<data>.keys/keyring` beside the data directory.
    pub key_file: Option<PathBuf>,
}

impl Default for VaultConfig {
    fn default() -> Self {
        Self {
            key_command: None,
            key_env: "STOCKTAKE_KEYS".into(),
            key_file: None,
        }
    }
}

/// Where a keyring came from (for messages; never the keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOrigin {
    Command(String),
    Env(String),
    File(PathBuf),
    Generated,
}

impl fmt::Display for KeyOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Never the command itself: it may carry a credential (VAULT_TOKEN=… vault …).
            KeyOrigin::Command(_) => f.write_str("the key command ([vault] key_command)"),
            KeyOrigin::Env(v) => write!(f, "the environment variable {v}"),
            KeyOrigin::File(p) => write!(f, "the key file {}", p.display()),
            KeyOrigin::Generated => f.write_str("a generated key"),
        }
    }
}

/// `<data>.keys/keyring`: beside the data directory, not in it.
pub fn default_key_file(data: &Path) -> PathBuf {
    // Absolute and without `.`/`..` first: for `--data .` the file must still land outside.
    let mut clean = PathBuf::new();
    for c in std::path::absolute(data)
        .unwrap_or_else(|_| data.to_path_buf())
        .components()
    {
        match c {
            std::path::Component::ParentDir => {
                clean.pop();
            }
            std::path::Component::CurDir => {}
            other => clean.push(other),
        }
    }
    let name = clean
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "stocktake".into());
    clean
        .parent()
        .unwrap_or(Path::new("/"))
        .join(format!("{name}.keys"))
        .join("keyring")
}

/// Loads the keyring. With no command, no variable and no key file, a key file is created at
/// the default place when `may_create` (the store has sealed nothing yet); otherwise that is
/// a [`VaultError::NoKey`] naming the three ways to supply one.
pub fn load(config: &VaultConfig, data: &Path, may_create: bool) -> Result<Keyring, VaultError> {
    if let Some(cmd) = config
        .key_command
        .as_deref()
        .filter(|c| !c.trim().is_empty())
    {
        let origin = KeyOrigin::Command(cmd.to_string());
        let out = Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .output()
            .map_err(|e| VaultError::Source {
                origin: origin.to_string(),
                message: format!("cannot run: {e}"),
            })?;
        if !out.status.success() {
            // Its stderr may say why: for the operator's log only (it may echo credentials),
            // never in an answer. Its stdout may hold keys: never shown.
            let why = String::from_utf8_lossy(&out.stderr);
            tracing::error!(
                status = %out.status,
                "the key command failed: {}",
                why.trim().chars().take(300).collect::<String>()
            );
            return Err(VaultError::Source {
                origin: origin.to_string(),
                message: format!(
                    "exited with {} (its message is in the server log)",
                    out.status
                ),
            });
        }
        let text = zeroize::Zeroizing::new(String::from_utf8_lossy(&out.stdout).into_owned());
        return Keyring::parse(&text, origin);
    }
    if let Ok(text) = std::env::var(&config.key_env) {
        if !text.trim().is_empty() {
            let text = zeroize::Zeroizing::new(text);
            return Keyring::parse(&text, KeyOrigin::Env(config.key_env.clone()));
        }
    }
    let path = config
        .key_file
        .clone()
        .unwrap_or_else(|| default_key_file(data));
    // One creator at a time in this process; across processes the link below fails for all
    // but the first, and the others read its file.
    static CREATE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = CREATE.lock().unwrap_or_else(|e| e.into_inner());
    match read_key_file(&path) {
        Err(VaultError::NoKey(_)) if may_create && config.key_file.is_none() => {
            match create_key_file(&path) {
                Ok(()) => {}
                // Another process made it first: use its key.
                Err(_) if path.exists() => return read_key_file(&path),
                Err(e) => return Err(e),
            }
            tracing::warn!(
                file = %path.display(),
                "created an encryption key file for sealed values; back it up apart from the \
                 data (without it they cannot be read), or supply keys from a KMS with \
                 [vault] key_command"
            );
            read_key_file(&path)
        }
        other => other,
    }
}

fn read_key_file(path: &Path) -> Result<Keyring, VaultError> {
    let origin = KeyOrigin::File(path.to_path_buf());
    let text = match std::fs::read_to_string(path) {
        Ok(t) => zeroize::Zeroizing::new(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(VaultError::NoKey(format!(
                "{} does not exist; supply keys with [vault] key_command, the {} environment \
                 variable or [vault] key_file",
                path.display(),
                VaultConfig::default().key_env
            )))
        }
        Err(e) => {
            return Err(VaultError::Source {
                origin: origin.to_string(),
                message: e.to_string(),
            })
        }
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0);
        if mode & 0o077 != 0 {
            return Err(VaultError::Source {
                origin: origin.to_string(),
                message: format!(
                    "mode {mode:o} lets others read or change it; `chmod 600 {}`",
                    path.display()
                ),
            });
        }
    }
    Keyring::parse(&text, origin)
}

/// A new key id: the date and time plus a random suffix.
fn new_id() -> String {
    let mut tail = [0u8; 3];
    rand::rngs::OsRng.fill_bytes(&mut tail);
    format!(
        "k{}-{}",
        chrono::Utc::now().format("%Y%m%d%H%M%S"),
        hex::encode(tail)
    )
}

fn entry() -> (String, zeroize::Zeroizing<String>) {
    let mut key = zeroize::Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(&mut key[..]);
    let id = new_id();
    let line = zeroize::Zeroizing::new(format!("{id} {}\n", hex::encode(&key[..])));
    (id, line)
}

fn create_key_file(path: &Path) -> Result<(), VaultError> {
    let err = |e: std::io::Error| VaultError::Source {
        origin: KeyOrigin::File(path.to_path_buf()).to_string(),
        message: format!("cannot create: {e}"),
    };
    if let Some(dir) = path.parent() {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(dir).map_err(err)?;
    }
    let (_, line) = entry();
    let header =
        "# Stocktake keyring: '<id> <64 hex digits>' per line; the last line seals, every \
                  line opens.\n# Keep retired keys until `stocktake keys rotate` has finished.\n";
    write_private(path, &format!("{header}{}", line.as_str()), true).map_err(err)
}

/// Appends a fresh key to a key file (it becomes the current one) and returns its id.
pub fn add_key(path: &Path) -> Result<String, VaultError> {
    let err = |e: std::io::Error| VaultError::Source {
        origin: KeyOrigin::File(path.to_path_buf()).to_string(),
        message: e.to_string(),
    };
    let ring = read_key_file(path)?;
    let (id, line) = entry();
    let old = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(err)?);
    let mut text = zeroize::Zeroizing::new(old.to_string());
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&line);
    // The new file must still parse before it replaces the old one.
    Keyring::parse(&text, ring.origin().clone())?;
    write_private(path, &text, false).map_err(err)?;
    Ok(id)
}

/// Writes a 0600 file through a temporary file and a rename (a crash leaves the old file).
/// A new key file is published with a hard link, which fails when one exists (never
/// replacing a key something may already be sealed with); a changed one with a rename. The
/// directory is synced so a crash cannot bring back the old file after values were sealed
/// with the new key.
fn write_private(path: &Path, text: &str, create_new: bool) -> std::io::Result<()> {
    let mut suffix = [0u8; 6];
    rand::rngs::OsRng.fill_bytes(&mut suffix);
    let tmp = path.with_extension(format!("{}.tmp", hex::encode(suffix)));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    let published = if create_new {
        let linked = std::fs::hard_link(&tmp, path);
        let _ = std::fs::remove_file(&tmp);
        linked
    } else {
        std::fs::rename(&tmp, path)
    };
    published?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_default_key_file_is_made_beside_the_data_once_and_kept_private() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("store");
        let config = VaultConfig {
            key_env: "STOCKTAKE_TEST_KEYS_UNSET".into(),
            ..Default::default()
        };
        assert!(matches!(
            load(&config, &data, false),
            Err(VaultError::NoKey(_))
        ));
        let ring = load(&config, &data, true).unwrap();
        let file = default_key_file(&data);
        assert_eq!(file, dir.path().join("store.keys/keyring"));
        let dot = default_key_file(&data.join("."));
        assert_eq!(dot, file, "`--data store/.` still lands beside it");
        assert!(!file.starts_with(&data));
        let again = load(&config, &data, true).unwrap();
        assert_eq!(ring.ids(), again.ids(), "made once");
        let id = add_key(&file).unwrap();
        let rotated = load(&config, &data, false).unwrap();
        assert_eq!(rotated.current_id(), id);
        assert_eq!(rotated.ids().len(), 2);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&file), 0o600);
            assert_eq!(mode(file.parent().unwrap()), 0o700);
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
            let e = load(&config, &data, true).unwrap_err().to_string();
            assert!(e.contains("chmod 600"), "{e}");
        }
    }

    #[test]
    fn a_command_supplies_keys_and_its_failure_is_explained() {
        let dir = tempfile::tempdir().unwrap();
        let cmd = VaultConfig {
            key_command: Some(format!("echo 'kms1 {}'", "ab".repeat(32))),
            ..Default::default()
        };
        assert_eq!(load(&cmd, dir.path(), false).unwrap().current_id(), "kms1");
        let failing = VaultConfig {
            key_command: Some("echo denied >&2; exit 3".into()),
            ..Default::default()
        };
        let e = load(&failing, dir.path(), true).unwrap_err().to_string();
        // Its message goes to the log only (it may echo a credential).
        assert!(!e.contains("denied") && e.contains("exit"), "{e}");
    }
}
