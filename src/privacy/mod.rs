//! Who may see and change what, and what is personal: roles, bearer tokens, the per-graph
//! visibility policy, and the validators that recognise personal data (`pii`).
//!
//! This module is pure (no store, no server): the HTTP layer turns a request into a
//! [`Principal`], and the catalog turns a principal plus the restricted-graph set into a query
//! dataset. Keeping the decision logic here means every entry point (SPARQL, graph store, named
//! queries, dumps) asks the same questions and gets the same answers.

mod access;
pub mod anon;
pub mod dp;
pub mod pii;

pub use access::{
    hash_token, new_token, parse_expiry, Grants, Principal, Role, TokenEntry, TokenTable,
};

/// Errors raised while checking credentials or access rights.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccessError {
    /// No credentials were sent where some are required.
    #[error("authentication required: send 'Authorization: Bearer <token>'")]
    Unauthenticated,
    /// The credentials sent are not known (wrong or revoked token).
    #[error("invalid or revoked bearer token")]
    InvalidToken,
    /// The token is known but past its expiry (or its expiry setting is malformed).
    #[error("{0}: ask an admin for a new one or an extension (stocktake token grant)")]
    Expired(String),
    /// The principal is known but its role does not allow the operation.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// A role name in the configuration or on the command line is not one of read/write/admin.
    #[error("unknown role '{0}' (expected read, write or admin)")]
    UnknownRole(String),
}
