//! Roles, principals and the token table.
//!
//! Tokens are 256-bit random strings; only their SHA-256 is stored (in the config file), so a
//! leaked config does not leak credentials. Because tokens are high-entropy, a fast hash is the
//! right tool here (a password KDF would only slow down every request).

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::AccessError;

/// What a principal may do. Ordered: each role includes the rights of the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Query non-restricted graphs, call read-only APIs.
    Read,
    /// Also update non-restricted graphs and run ingestion.
    Write,
    /// Everything, including restricted graphs (quarantine, personal data) and dumps.
    Admin,
}

impl Role {
    /// The lowercase name used in configuration and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Write => "write",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = AccessError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "read" => Ok(Role::Read),
            "write" => Ok(Role::Write),
            "admin" => Ok(Role::Admin),
            _ => Err(AccessError::UnknownRole(s.to_owned())),
        }
    }
}

/// The party a request acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// No credentials were sent (only allowed where anonymous read is switched on).
    Anonymous,
    /// A token holder, by the token's name.
    User { name: String, role: Role },
    /// The local operator running a CLI command against the data directory.
    Local,
}

impl Principal {
    /// The effective role; anonymous callers can at most read.
    pub fn role(&self) -> Role {
        match self {
            Principal::Anonymous => Role::Read,
            Principal::User { role, .. } => *role,
            Principal::Local => Role::Admin,
        }
    }

    /// Whether this principal sees restricted graphs.
    pub fn is_admin(&self) -> bool {
        self.role() == Role::Admin
    }

    /// Name for logs and the audit trail.
    pub fn name(&self) -> &str {
        match self {
            Principal::Anonymous => "anonymous",
            Principal::User { name, .. } => name,
            Principal::Local => "local",
        }
    }

    /// Fails with the right error when the principal's role is below `needed`.
    pub fn require(&self, needed: Role, what: &str) -> Result<(), AccessError> {
        if self.role() >= needed {
            return Ok(());
        }
        if *self == Principal::Anonymous {
            return Err(AccessError::Unauthenticated);
        }
        Err(AccessError::Forbidden(format!(
            "{what} needs the '{needed}' role; token '{}' has '{}'",
            self.name(),
            self.role()
        )))
    }
}

/// One configured token: its name, role and the hex SHA-256 of the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenEntry {
    pub name: String,
    pub role: Role,
    pub sha256: String,
}

/// Lookup from token hash to principal, built once from the configuration.
#[derive(Debug, Clone, Default)]
pub struct TokenTable {
    by_hash: HashMap<String, (String, Role)>,
}

impl TokenTable {
    /// Builds the table from configured entries.
    pub fn new(entries: &[TokenEntry]) -> Self {
        let by_hash = entries
            .iter()
            .map(|e| (e.sha256.to_ascii_lowercase(), (e.name.clone(), e.role)))
            .collect();
        Self { by_hash }
    }

    /// Resolves a presented secret to its principal.
    pub fn authenticate(&self, token: &str) -> Result<Principal, AccessError> {
        self.authenticate_hash(&hash_token(token))
    }

    /// Resolves the hash of a secret presented earlier (a browser session keeps the hash, never
    /// the secret): a token removed from the configuration stops working for its sessions too.
    pub fn authenticate_hash(&self, hash: &str) -> Result<Principal, AccessError> {
        self.by_hash
            .get(hash)
            .map(|(name, role)| Principal::User {
                name: name.clone(),
                role: *role,
            })
            .ok_or(AccessError::InvalidToken)
    }

    /// Number of configured tokens.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether no token is configured.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }
}

/// Hex SHA-256 of a token secret.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.trim().as_bytes()))
}

/// A fresh random token secret (`st_` + 64 hex digits).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("st_{}", hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_round_trip_and_roles() {
        let secret = new_token();
        let table = TokenTable::new(&[TokenEntry {
            name: "svc".into(),
            role: Role::Write,
            sha256: hash_token(&secret),
        }]);
        let p = table.authenticate(&secret).unwrap();
        assert_eq!(p.role(), Role::Write);
        assert!(p.require(Role::Read, "query").is_ok());
        assert!(matches!(
            p.require(Role::Admin, "dump"),
            Err(AccessError::Forbidden(_))
        ));
        assert!(matches!(
            table.authenticate("st_nope"),
            Err(AccessError::InvalidToken)
        ));
        assert!(matches!(
            Principal::Anonymous.require(Role::Write, "update"),
            Err(AccessError::Unauthenticated)
        ));
    }

    #[test]
    fn role_parsing() {
        assert_eq!("ADMIN".parse::<Role>().unwrap(), Role::Admin);
        assert!("root".parse::<Role>().is_err());
        assert!(Role::Read < Role::Write && Role::Write < Role::Admin);
    }
}
