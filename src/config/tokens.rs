//! Editing the token table of a configuration file (`stocktake token add|revoke`): hashes only,
//! comments and layout kept, written so that a crash never leaves half a file and the file is
//! never more readable than it was.

use std::path::Path;

use super::{Config, ConfigError};
use crate::privacy::TokenEntry;

/// Adds or replaces a token entry in a config file, keeping its comments and layout.
pub fn store_token(path: &Path, entry: &TokenEntry) -> Result<(), ConfigError> {
    edit_tokens(path, |tokens| {
        tokens.retain(|t| t.name != entry.name);
        tokens.push(entry.clone());
        Ok(())
    })
}

/// Removes a token by name; fails when no such token exists.
pub fn revoke_token(path: &Path, name: &str) -> Result<(), ConfigError> {
    edit_tokens(path, |tokens| {
        let before = tokens.len();
        tokens.retain(|t| t.name != name);
        if tokens.len() == before {
            return Err(ConfigError::Invalid(format!("no token named '{name}'")));
        }
        Ok(())
    })
}

/// Changes what a token grants (expiry, DP budget) in place; fails when no such token exists.
/// `Some(None)` clears a setting, `None` leaves it.
pub fn grant_token(
    path: &Path,
    name: &str,
    change: GrantChange,
) -> Result<TokenEntry, ConfigError> {
    let mut changed = None;
    edit_tokens(path, |tokens| {
        let t = tokens
            .iter_mut()
            .find(|t| t.name == name)
            .ok_or_else(|| ConfigError::Invalid(format!("no token named '{name}'")))?;
        if let Some(e) = change.expires {
            t.expires = e;
        }
        if let Some(d) = change.dp_epsilon {
            t.dp_epsilon = d;
        }
        for (list, add) in [
            (&mut t.graphs, change.graphs),
            (&mut t.assets, change.assets),
        ] {
            for iri in add {
                if !list.contains(&iri) {
                    list.push(iri);
                }
            }
        }
        for iri in &change.remove {
            let before = t.graphs.len() + t.assets.len();
            t.graphs.retain(|g| g != iri);
            t.assets.retain(|a| a != iri);
            if t.graphs.len() + t.assets.len() == before {
                return Err(ConfigError::Invalid(format!(
                    "token '{name}' has no grant on <{iri}> to withdraw"
                )));
            }
        }
        check_token(t)?;
        changed = Some(t.clone());
        Ok(())
    })?;
    Ok(changed.expect("set by the edit"))
}

/// What `stocktake token grant` changes: `None` leaves a setting as it is, `Some(None)` clears
/// it; graphs and assets are added to the token's grants, `remove` withdraws grants.
#[derive(Debug, Clone, Default)]
pub struct GrantChange {
    pub expires: Option<Option<String>>,
    pub dp_epsilon: Option<Option<String>>,
    pub graphs: Vec<String>,
    pub assets: Vec<String>,
    pub remove: Vec<String>,
}

/// A token's settings that would only fail at authentication.
pub fn check_token(t: &TokenEntry) -> Result<(), ConfigError> {
    t.expiry()
        .map_err(|e| ConfigError::Invalid(format!("token '{}': {e}", t.name)))?;
    for iri in t.graphs.iter().chain(&t.assets) {
        if !crate::catalog::is_iri(iri) {
            return Err(ConfigError::Invalid(format!(
                "token '{}': grant {iri:?} is not an absolute IRI (graphs, assets and columns \
                 are granted by IRI; find them with the graphs and pii-columns queries)",
                t.name
            )));
        }
    }
    if let Some(d) = &t.dp_epsilon {
        if crate::privacy::dp::Ratio::parse_decimal(d).is_none_or(|r| r.num == 0) {
            return Err(ConfigError::Invalid(format!(
                "token '{}': dp_epsilon {d:?} is not a positive decimal (at most 6 decimals)",
                t.name
            )));
        }
    }
    Ok(())
}

fn edit_tokens(
    path: &Path,
    change: impl FnOnce(&mut Vec<TokenEntry>) -> Result<(), ConfigError>,
) -> Result<(), ConfigError> {
    let io = |source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io(e)),
    };
    // Validate the whole file first so we never rewrite a file we misunderstand.
    let current = Config::from_toml(&text).map_err(|message| ConfigError::Parse {
        path: path.to_path_buf(),
        message,
    })?;
    let mut tokens = current.tokens;
    change(&mut tokens)?;
    let mut doc: toml_edit::DocumentMut =
        text.parse()
            .map_err(|e: toml_edit::TomlError| ConfigError::Parse {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
    let mut array = toml_edit::ArrayOfTables::new();
    for t in &tokens {
        let mut table = toml_edit::Table::new();
        table["name"] = toml_edit::value(t.name.clone());
        table["role"] = toml_edit::value(t.role.as_str());
        table["sha256"] = toml_edit::value(t.sha256.clone());
        if let Some(e) = &t.expires {
            table["expires"] = toml_edit::value(e.clone());
        }
        if let Some(e) = &t.dp_epsilon {
            table["dp_epsilon"] = toml_edit::value(e.clone());
        }
        for (key, list) in [("graphs", &t.graphs), ("assets", &t.assets)] {
            if !list.is_empty() {
                table[key] = toml_edit::value(list.iter().collect::<toml_edit::Array>());
            }
        }
        array.push(table);
    }
    doc.remove("tokens");
    if !array.is_empty() {
        doc.insert("tokens", toml_edit::Item::ArrayOfTables(array));
    }
    // Write-then-rename so a crash never leaves a half-written config. The file holds token
    // hashes: it keeps its mode (a new file is 0600), and the temporary file is never more
    // readable than the result, not even for a moment.
    let tmp = path.with_extension("toml.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    let mode = {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let mode = std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o7777)
            .unwrap_or(0o600);
        options.mode(mode & 0o600);
        mode
    };
    {
        use std::io::Write;
        let mut f = options.open(&tmp).map_err(io)?;
        f.write_all(doc.to_string().as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode)).map_err(io)?;
    }
    std::fs::rename(&tmp, path).map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privacy::{hash_token, Role};

    #[test]
    fn grants_are_stored_changed_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stocktake.toml");
        store_token(&path, &TokenEntry::new("bob", Role::Read, hash_token("s"))).unwrap();
        let change = |expires: Option<Option<&str>>, dp: Option<Option<&str>>| GrantChange {
            expires: expires.map(|e| e.map(str::to_owned)),
            dp_epsilon: dp.map(|d| d.map(str::to_owned)),
            ..GrantChange::default()
        };
        let t = grant_token(
            &path,
            "bob",
            change(Some(Some("2030-01-01")), Some(Some("0.5"))),
        )
        .unwrap();
        assert_eq!(t.expires.as_deref(), Some("2030-01-01"));
        let c = Config::load(Some(&path)).unwrap();
        assert_eq!(c.tokens[0].dp_epsilon.as_deref(), Some("0.5"));
        assert!(grant_token(&path, "bob", change(Some(Some("soon")), None)).is_err());
        assert!(grant_token(&path, "bob", change(None, Some(Some("-1")))).is_err());
        assert!(grant_token(&path, "eve", change(None, None)).is_err());
        grant_token(&path, "bob", change(Some(None), Some(None))).unwrap();
        // Read grants are added once, kept in the file, withdrawn one by one.
        let graph = "https://example.org/st/graph/quarantine".to_owned();
        let asset = "https://example.org/st/source/1/asset/2".to_owned();
        let add = GrantChange {
            graphs: vec![graph.clone(), graph.clone()],
            assets: vec![asset.clone()],
            ..GrantChange::default()
        };
        grant_token(&path, "bob", add.clone()).unwrap();
        let t = grant_token(&path, "bob", add).unwrap();
        assert_eq!((t.graphs.len(), t.assets.len()), (1, 1));
        assert_eq!(Config::load(Some(&path)).unwrap().tokens[0], t);
        let bad = GrantChange {
            assets: vec!["source/1".into()],
            ..GrantChange::default()
        };
        assert!(grant_token(&path, "bob", bad).is_err());
        for iri in [graph, asset] {
            let withdraw = GrantChange {
                remove: vec![iri],
                ..GrantChange::default()
            };
            grant_token(&path, "bob", withdraw.clone()).unwrap();
            assert!(grant_token(&path, "bob", withdraw).is_err());
        }
        let c = Config::load(Some(&path)).unwrap();
        assert_eq!(
            c.tokens[0],
            TokenEntry::new("bob", Role::Read, hash_token("s"))
        );
    }

    #[test]
    fn tokens_are_stored_as_hashes_and_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stocktake.toml");
        std::fs::write(&path, "# keep me\n[server]\nanonymous_read = true\n").unwrap();
        let entry = TokenEntry::new("alice", Role::Admin, hash_token("secret"));
        store_token(&path, &entry).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("# keep me") && !text.contains("\"secret\""));
        let c = Config::load(Some(&path)).unwrap();
        assert_eq!(c.tokens, vec![entry]);
        assert!(c.server.anonymous_read);
        revoke_token(&path, "alice").unwrap();
        assert!(Config::load(Some(&path)).unwrap().tokens.is_empty());
        assert!(revoke_token(&path, "alice").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn token_edits_keep_the_file_mode_and_new_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let entry = |name: &str| TokenEntry::new(name, Role::Read, hash_token(name));
        let fresh = dir.path().join("new.toml");
        store_token(&fresh, &entry("a")).unwrap();
        assert_eq!(
            mode(&fresh),
            0o600,
            "a new file holding token hashes is private"
        );
        let kept = dir.path().join("kept.toml");
        std::fs::write(&kept, "").unwrap();
        std::fs::set_permissions(&kept, std::fs::Permissions::from_mode(0o600)).unwrap();
        store_token(&kept, &entry("b")).unwrap();
        revoke_token(&kept, "b").unwrap();
        assert_eq!(mode(&kept), 0o600, "0600 stays 0600");
        std::fs::set_permissions(&kept, std::fs::Permissions::from_mode(0o640)).unwrap();
        store_token(&kept, &entry("c")).unwrap();
        assert_eq!(mode(&kept), 0o640, "an operator's own mode is kept");
    }
}
