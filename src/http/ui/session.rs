//! Browser sessions for the workbench: a signed-in browser holds an opaque session cookie, never
//! the bearer token.
//!
//! Why a session and not the token in `localStorage`: a script that ever ran on the page could
//! read a stored token, and a token in a URL ends up in logs and history. The cookie is
//! `HttpOnly` (scripts cannot read it), `SameSite=Strict` (other sites' pages do not send it) and
//! names a server-side entry that keeps only the token's *hash*: every request re-resolves that
//! hash against the current token table, so a token removed from the configuration signs its
//! sessions out at once. Requests that change state with a session cookie must also carry the
//! session's CSRF token in `X-CSRF-Token` (pages read it from a `<meta>` tag), and a request whose
//! `Origin` is another site is refused whatever it carries. Sessions live in memory: a restart
//! signs browsers out, which is the safe direction.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap, Method};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The cookie naming a session.
pub const COOKIE: &str = "st_session";
/// The header state-changing browser requests carry the session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// A session ends this long after sign-in, used or not.
const LIFETIME: Duration = Duration::from_secs(8 * 3600);
/// At most this many live sessions; signing in beyond it ends the oldest.
const MAX_SESSIONS: usize = 10_000;

/// One signed-in browser.
#[derive(Clone)]
pub struct Session {
    /// SHA-256 of the bearer token the browser signed in with.
    pub token_hash: String,
    /// Sent back by the page on every state-changing request.
    pub csrf: String,
    started: Instant,
}

/// The live sessions, keyed by the SHA-256 of the cookie value (a memory dump does not yield
/// usable cookies).
#[derive(Default)]
pub struct Sessions {
    live: Mutex<HashMap<String, Session>>,
}

fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn key(cookie: &str) -> String {
    hex::encode(Sha256::digest(cookie.as_bytes()))
}

impl Sessions {
    /// Starts a session for a token already checked; returns the cookie value.
    pub fn start(&self, token_hash: String) -> (String, Session) {
        let cookie = random_hex();
        let session = Session {
            token_hash,
            csrf: random_hex(),
            started: Instant::now(),
        };
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        live.retain(|_, s| s.started.elapsed() < LIFETIME);
        if live.len() >= MAX_SESSIONS {
            if let Some(oldest) = live
                .iter()
                .min_by_key(|(_, s)| s.started)
                .map(|(k, _)| k.clone())
            {
                live.remove(&oldest);
            }
        }
        live.insert(key(&cookie), session.clone());
        (cookie, session)
    }

    /// The live session a request's cookie names, if any.
    pub fn find(&self, headers: &HeaderMap) -> Option<Session> {
        let cookie = cookie_value(headers, COOKIE)?;
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        let k = key(cookie);
        match live.get(&k) {
            Some(s) if s.started.elapsed() < LIFETIME => Some(s.clone()),
            Some(_) => {
                live.remove(&k);
                None
            }
            None => None,
        }
    }

    /// Ends the session a request's cookie names.
    pub fn end(&self, headers: &HeaderMap) {
        if let Some(cookie) = cookie_value(headers, COOKIE) {
            let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
            live.remove(&key(cookie));
        }
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The `Set-Cookie` value for a new session (or, with `None`, one that deletes it). `Secure`
/// when the request reached us over HTTPS through a proxy that says so.
pub fn set_cookie(value: Option<&str>, headers: &HeaderMap) -> String {
    let secure = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    let (value, age) = match value {
        Some(v) => (v, LIFETIME.as_secs()),
        None => ("", 0),
    };
    format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={age}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// Why a browser request that would change state is refused, if it is.
pub fn refusal(
    method: &Method,
    headers: &HeaderMap,
    session: Option<&Session>,
) -> Option<&'static str> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
        let origin_host = origin.split_once("://").map(|(_, h)| h);
        // `Origin: null` (sandboxed frames, some redirects) is no site of ours either.
        if origin_host.is_none() || origin_host != host {
            return Some("cross-site request refused: its Origin is not this server");
        }
    }
    // A bearer token is not sent by browsers on their own, so it needs no CSRF token.
    if headers.contains_key(header::AUTHORIZATION) {
        return None;
    }
    let session = session?;
    let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    match sent {
        Some(t) if bool::from(t.as_bytes().ct_eq(session.csrf.as_bytes())) => None,
        Some(_) => Some("CSRF token does not match this session; reload the page"),
        None => Some("missing X-CSRF-Token header (browser sessions must send it)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn a_session_is_found_by_its_cookie_only_and_ends() {
        let s = Sessions::default();
        let (cookie, session) = s.start("abc".into());
        let h = headers(&[("cookie", &format!("lang=zh; {COOKIE}={cookie}"))]);
        assert_eq!(s.find(&h).unwrap().token_hash, "abc");
        assert_eq!(s.find(&h).unwrap().csrf, session.csrf);
        let wrong = headers(&[("cookie", &format!("{COOKIE}={}", random_hex()))]);
        assert!(s.find(&wrong).is_none());
        s.end(&h);
        assert!(s.find(&h).is_none());
    }

    #[test]
    fn state_changes_need_the_csrf_token_and_our_origin() {
        let s = Sessions::default();
        let (_, session) = s.start("abc".into());
        let post = Method::POST;
        let none = headers(&[("host", "127.0.0.1:7878")]);
        assert!(refusal(&Method::GET, &none, Some(&session)).is_none());
        assert!(refusal(&post, &none, Some(&session)).is_some());
        let ok = headers(&[
            ("host", "127.0.0.1:7878"),
            ("origin", "http://127.0.0.1:7878"),
            (CSRF_HEADER, &session.csrf),
        ]);
        assert!(refusal(&post, &ok, Some(&session)).is_none());
        let bad = headers(&[("host", "127.0.0.1:7878"), (CSRF_HEADER, "nope")]);
        assert!(refusal(&post, &bad, Some(&session)).is_some());
        let foreign = headers(&[
            ("host", "127.0.0.1:7878"),
            ("origin", "https://evil.example"),
            ("authorization", "Bearer x"),
        ]);
        assert!(refusal(&post, &foreign, None).is_some());
        let null = headers(&[("host", "127.0.0.1:7878"), ("origin", "null")]);
        assert!(refusal(&post, &null, None).is_some());
        // No session: nothing to forge; the handler's own authorization decides.
        assert!(refusal(&post, &none, None).is_none());
    }

    #[test]
    fn cookies_are_http_only_strict_and_secure_behind_https() {
        let plain = set_cookie(Some("v"), &HeaderMap::new());
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Strict"));
        assert!(!plain.contains("Secure"));
        let tls = set_cookie(Some("v"), &headers(&[("x-forwarded-proto", "https")]));
        assert!(tls.ends_with("; Secure"));
        assert!(set_cookie(None, &HeaderMap::new()).contains("Max-Age=0"));
    }
}
