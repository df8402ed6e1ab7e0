//! Roles, principals and the token table.
//!
//! Tokens are 256-bit random strings; only their SHA-256 is stored (in the config file), so a
//! leaked config does not leak credentials. Because tokens are high-entropy, a fast hash is the
//! right tool here (a password KDF would only slow down every request).

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::AccessError;
use crate::catalog::{ReadGrants, Visibility};

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
    /// A token holder, by the token's name, with what its token grants beyond the role.
    User {
        name: String,
        role: Role,
        grants: Grants,
    },
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

    /// What this principal reads of the store: admins everything, others the unrestricted
    /// graphs plus the restricted graphs, assets and columns their token is granted.
    pub fn visibility(&self) -> Visibility {
        match self {
            _ if self.is_admin() => Visibility::ADMIN,
            Principal::User { grants, .. } => Visibility::granted(ReadGrants {
                graphs: grants.graphs.iter().cloned().collect(),
                subjects: grants.assets.iter().cloned().collect(),
            }),
            _ => Visibility::PUBLIC,
        }
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

/// What a token grants beyond its role.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grants {
    /// The ε this token may spend per dataset on DP answers (in place of `[privacy]
    /// token_epsilon`), as a decimal.
    pub dp_epsilon: Option<String>,
    /// Restricted graphs (IRIs) this token reads.
    pub graphs: Vec<String>,
    /// Assets and columns (IRIs) whose detail — a personal-data column's evidence and
    /// measurements — this token reads.
    pub assets: Vec<String>,
}

/// One configured token: its name, role, the hex SHA-256 of the secret, when it stops working
/// and what it grants beyond the role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenEntry {
    pub name: String,
    pub role: Role,
    pub sha256: String,
    /// RFC 3339 instant (or a date: its midnight, UTC) after which the token is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// See [`Grants::dp_epsilon`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dp_epsilon: Option<String>,
    /// See [`Grants::graphs`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub graphs: Vec<String>,
    /// See [`Grants::assets`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assets: Vec<String>,
}

impl TokenEntry {
    /// A token with its role only: no expiry, no grants.
    pub fn new(name: impl Into<String>, role: Role, sha256: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            role,
            sha256: sha256.into(),
            expires: None,
            dp_epsilon: None,
            graphs: Vec::new(),
            assets: Vec::new(),
        }
    }

    /// When the token stops working; errors say what is wrong with the setting.
    pub fn expiry(&self) -> Result<Option<DateTime<Utc>>, String> {
        self.expires.as_deref().map(parse_expiry).transpose()
    }
}

/// An expiry as written in the configuration: RFC 3339, or a date meaning its midnight UTC.
pub fn parse_expiry(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s.trim()) {
        return Ok(t.with_timezone(&Utc));
    }
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc())
        .map_err(|_| format!("expiry {s:?} is neither RFC 3339 nor YYYY-MM-DD"))
}

#[derive(Debug, Clone)]
struct Known {
    name: String,
    role: Role,
    /// `Err`: the setting does not parse — the token is refused (fail closed).
    expires: Result<Option<DateTime<Utc>>, String>,
    grants: Grants,
}

/// Lookup from token hash to principal, built once from the configuration.
#[derive(Debug, Clone, Default)]
pub struct TokenTable {
    by_hash: HashMap<String, Known>,
}

impl TokenTable {
    /// Builds the table from configured entries.
    pub fn new(entries: &[TokenEntry]) -> Self {
        let by_hash = entries
            .iter()
            .map(|e| {
                (
                    e.sha256.to_ascii_lowercase(),
                    Known {
                        name: e.name.clone(),
                        role: e.role,
                        expires: e.expiry(),
                        grants: Grants {
                            dp_epsilon: e.dp_epsilon.clone(),
                            graphs: e.graphs.clone(),
                            assets: e.assets.clone(),
                        },
                    },
                )
            })
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
        let k = self.by_hash.get(hash).ok_or(AccessError::InvalidToken)?;
        match &k.expires {
            Ok(Some(t)) if *t <= Utc::now() => {
                return Err(AccessError::Expired(format!(
                    "token '{}' expired at {}",
                    k.name,
                    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                )))
            }
            Err(why) => {
                return Err(AccessError::Expired(format!(
                    "token '{}' is refused: {why}",
                    k.name
                )))
            }
            _ => {}
        }
        Ok(Principal::User {
            name: k.name.clone(),
            role: k.role,
            grants: k.grants.clone(),
        })
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
        let table = TokenTable::new(&[TokenEntry::new("svc", Role::Write, hash_token(&secret))]);
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
    fn expired_and_malformed_expiries_are_refused() {
        let entry = |expires: &str| TokenEntry {
            expires: Some(expires.into()),
            dp_epsilon: Some("0.5".into()),
            ..TokenEntry::new("t", Role::Read, hash_token("s"))
        };
        for (expires, ok) in [
            ("2000-01-01", false),
            ("2999-01-01T00:00:00Z", true),
            ("2999-01-01", true),
            ("next tuesday", false),
        ] {
            let got = TokenTable::new(&[entry(expires)]).authenticate("s");
            assert_eq!(got.is_ok(), ok, "{expires}: {got:?}");
            match got {
                Ok(Principal::User { grants, .. }) => {
                    assert_eq!(grants.dp_epsilon.as_deref(), Some("0.5"))
                }
                Err(e) => assert!(matches!(e, AccessError::Expired(_)), "{e}"),
                _ => unreachable!(),
            }
        }
    }

    #[test]
    fn role_parsing() {
        assert_eq!("ADMIN".parse::<Role>().unwrap(), Role::Admin);
        assert!("root".parse::<Role>().is_err());
        assert!(Role::Read < Role::Write && Role::Write < Role::Admin);
    }
}
