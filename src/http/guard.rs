//! Who the caller is and what the server may touch for them: bearer tokens (re-read when the
//! configuration file changes or on SIGHUP, so a revoked token stops working at once), role
//! checks, the folders and databases a caller may have the server read, and the `Host` check
//! that keeps anonymous-read servers out of reach of DNS rebinding.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppState};
use crate::config::Config;
use crate::privacy::{AccessError, Principal, Role, TokenTable};

impl AppState {
    /// Resolves the caller from the `Authorization` header.
    ///
    /// A present but malformed or unknown token is always a 401, even where anonymous access is
    /// allowed: silently downgrading a bad token to anonymous hides configuration mistakes.
    pub(super) fn principal(&self, headers: &HeaderMap) -> Result<Principal, ApiError> {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            // A browser signed in to the workbench: its session names a token's hash, resolved
            // against the tokens as they are now (a removed token ends its sessions).
            if let Some(session) = self.inner.sessions.find(headers) {
                if let Ok(p) = self.tokens().authenticate_hash(&session.token_hash) {
                    return Ok(p);
                }
            }
            return Ok(Principal::Anonymous);
        };
        let value = value
            .to_str()
            .map_err(|_| ApiError::Unauthorized("Authorization header is not ASCII".into()))?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(|| {
                ApiError::Unauthorized("Authorization must be 'Bearer <token>'".into())
            })?;
        Ok(self.tokens().authenticate(token.trim())?)
    }

    /// The token table as it is now (replaced when the configuration file changes).
    pub(super) fn tokens(&self) -> Arc<crate::privacy::TokenTable> {
        Arc::clone(&self.inner.tokens.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// The caller, who must hold at least `role` (reads are open to anonymous callers only
    /// when `anonymous_read` is on).
    pub(super) fn authorize(
        &self,
        headers: &HeaderMap,
        role: Role,
        what: &str,
    ) -> Result<Principal, ApiError> {
        let p = self.principal(headers)?;
        if p == Principal::Anonymous && (role > Role::Read || !self.config().server.anonymous_read)
        {
            return Err(AccessError::Unauthenticated.into());
        }
        p.require(role, what)?;
        Ok(p)
    }

    /// Where `who` may have the server read files: admins anywhere, writers only under
    /// `[server] file_roots`; nobody inside the store directory (keys, configuration, RocksDB).
    /// Checked per file after resolving `..` and links, so a link cannot climb out.
    pub(super) fn confinement(&self, who: &Principal) -> crate::inventory::Confinement {
        let roots = &self.config().server.file_roots;
        crate::inventory::Confinement::new(
            (who.role() < Role::Admin).then_some(roots.as_slice()),
            std::slice::from_ref(&self.config().data),
        )
    }

    /// Whether `who` may have the server read `path` (a file to scan or ingest); the
    /// confinement that every file opened for the request must also pass. A writer learns
    /// nothing about paths outside the roots: missing and forbidden read the same there.
    pub(super) fn may_read(
        &self,
        who: &Principal,
        path: &std::path::Path,
    ) -> Result<crate::inventory::Confinement, ApiError> {
        let confine = self.confinement(who);
        match confine.check(path) {
            Ok(_) => Ok(confine),
            // Missing, and would be readable if it existed: a plain 404.
            Err(_) if !path.exists() && confine.would_contain(path) => Err(ApiError::NotFound(
                format!("no such file or folder: {}", path.display()),
            )),
            // Admins may learn why; writers get the same answer for a path outside the roots
            // whether it exists or not.
            Err(why) if who.role() >= Role::Admin => Err(ApiError::Forbidden(why)),
            Err(_) => {
                let roots = &self.config().server.file_roots;
                Err(ApiError::Forbidden(format!(
                    "{} is outside the folders writers may have the server read ([server] \
                     file_roots: {}), after resolving links (missing and existing paths there \
                     read the same)",
                    path.display(),
                    if roots.is_empty() {
                        "none configured".to_string()
                    } else {
                        roots
                            .iter()
                            .map(|r| r.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                )))
            }
        }
    }

    /// Whether `who` may have the server connect to the database at `url`: admins any, writers
    /// only hosts listed in `[server] database_hosts` (`host:port`), so a write token cannot
    /// make the server probe the network.
    pub(super) fn may_connect(&self, who: &Principal, url: &str) -> Result<(), ApiError> {
        if who.role() >= Role::Admin {
            return Ok(());
        }
        let allowed = &self.config().server.database_hosts;
        let listed = |(host, port): &(String, u16)| {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            allowed.iter().any(|a| {
                let a = a.trim().to_ascii_lowercase();
                a == format!("{host}:{port}") || a == format!("[{host}]:{port}")
            })
        };
        // Every endpoint the driver would try, as the driver reads the URL.
        if crate::inventory::db::endpoints(url).is_ok_and(|e| e.iter().all(listed)) {
            return Ok(());
        }
        Err(ApiError::Forbidden(
            "database sources need the admin role unless their host:port is listed in \
             [server] database_hosts"
                .into(),
        ))
    }
}

/// Refuses anonymous requests addressed to a host name this server was not told it has, when
/// anonymous reads are on: a web page on another site can point its own DNS name at 127.0.0.1
/// (DNS rebinding) and read an anonymous-read server through the user's browser, but the
/// browser then sends that site's name as `Host`. IP literals and `localhost` always pass;
/// other names only when listed in `[server] allowed_hosts`. Requests with a token are not
/// affected (a browser never adds one on its own).
pub(super) async fn host_guard(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let server = &state.config().server;
    // Health checks say only ok/unhealthy to anonymous callers, whatever the name.
    if server.anonymous_read
        && !request.headers().contains_key(header::AUTHORIZATION)
        && request.uri().path() != "/healthz"
    {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| request.uri().host())
            .unwrap_or("");
        if !host_allowed(host, &server.allowed_hosts) {
            return ApiError::MisdirectedRequest(format!(
                "anonymous requests for host {host:?} are refused: add it to [server] \
                 allowed_hosts, or send a token"
            ))
            .into_response();
        }
    }
    next.run(request).await
}

/// The name in a `Host` header or an `allowed_hosts` entry: without port, brackets or a
/// trailing dot, lower-cased.
fn host_name(host: &str) -> String {
    let host = host.trim();
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':')
            .filter(|(name, port)| !name.contains(':') && port.chars().all(|c| c.is_ascii_digit()))
            .map_or(host, |(name, _)| name)
    };
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Whether `host` (a `Host` header: name or IP, with or without port) may be served anonymously.
fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let name = host_name(host);
    !name.is_empty()
        && (name.parse::<std::net::IpAddr>().is_ok()
            || name == "localhost"
            || allowed.iter().any(|a| host_name(a) == name))
}

/// Whether the token file may be believed: not writable by group or others (whoever could
/// write it could give themselves any role).
fn trusted(path: &std::path::Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o022 != 0 {
            return Err(format!(
                "{} is writable by group or others (mode {:o}); chmod go-w it",
                path.display(),
                mode & 0o777
            ));
        }
    }
    let _ = path;
    Ok(())
}

pub(super) async fn follow_tokens(state: AppState, path: std::path::PathBuf) {
    let stamp = |p: &std::path::Path| {
        std::fs::metadata(p)
            .ok()
            .map(|m| (m.modified().ok(), m.len()))
    };
    let mut seen = stamp(&path);
    #[cfg(unix)]
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    loop {
        #[cfg(unix)]
        let hangup = async {
            match hup.as_mut() {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let hangup = std::future::pending::<()>();
        let forced = tokio::select! {
            _ = hangup => true,
            _ = tokio::time::sleep(Duration::from_secs(1)) => false,
        };
        let now = stamp(&path);
        if !forced && now == seen {
            continue;
        }
        // Let a write in progress finish: read only once the file has stopped changing.
        tokio::time::sleep(Duration::from_millis(200)).await;
        if stamp(&path) != now {
            continue;
        }
        seen = now;
        if let Err(why) = trusted(&path) {
            tracing::error!("tokens not reloaded, the previous ones stay in force: {why}");
            continue;
        }
        let p = path.clone();
        match tokio::task::spawn_blocking(move || Config::tokens_from(&p)).await {
            Ok(Ok(tokens)) => {
                let table = Arc::new(TokenTable::new(&tokens));
                *state
                    .inner
                    .tokens
                    .write()
                    .unwrap_or_else(|e| e.into_inner()) = table;
                tracing::info!(tokens = tokens.len(), file = %path.display(), "tokens reloaded");
            }
            Ok(Err(e)) => {
                tracing::error!("tokens not reloaded, the previous ones stay in force: {e}")
            }
            Err(e) => tracing::error!("token reload failed: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::host_allowed;

    #[test]
    fn anonymous_hosts_are_ip_literals_localhost_or_listed_names() {
        let listed = ["KG.example.com.:443".to_string(), " [fd00::1] ".to_string()];
        for ok in [
            "127.0.0.1:7878",
            "127.0.0.1",
            "[::1]:7878",
            "localhost:7878",
            "LOCALHOST.",
            "10.1.2.3:80",
            "kg.example.com",
            "KG.example.com:443",
            "[fd00::1]:80",
            "::1",
        ] {
            assert!(host_allowed(ok, &listed), "{ok}");
        }
        for bad in [
            "evil.example:7878",
            "attacker.test",
            "",
            "localhost.evil.test",
            "127.0.0.1.nip.io:7878",
        ] {
            assert!(!host_allowed(bad, &listed), "{bad}");
        }
    }
}
