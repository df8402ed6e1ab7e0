//! The workbench: the web face of the same API, for people in a browser.
//!
//! Pages are rendered on the server from Askama templates (`web/templates/`, escaped by
//! default, checked at compile time) and read through the caller's visibility exactly as the API
//! does: a page calls the same catalog functions with the same principal, so a read token sees no
//! restricted graph on any page. Browsers authenticate with a session cookie ([`session`]); the
//! token never appears in a URL or in the page. Every page carries a Content-Security-Policy that
//! allows only this server's own scripts, so a stored `<script>` that escaped escaping still
//! would not run. Static files are embedded ([`assets`]); the chrome speaks Chinese and English
//! ([`text`]).

mod asset;
pub(super) mod assets;
mod explore;
mod review;
pub(super) mod session;
mod tables;
mod text;

pub(super) use asset::asset_page;
pub(super) use explore::{entity_page, taxonomy_page};
pub(super) use review::review_page;
pub(super) use tables::{changes_page, models_page, ontology_page};
pub(super) use text::Lang;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Request, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::{ApiError, AppState};
use crate::privacy::{Principal, Role};
use text::Text;

/// The cookie holding the chosen chrome language.
const LANG_COOKIE: &str = "st_lang";

/// What every page's frame needs: who is looking, in which language, and the CSRF token their
/// scripts send back.
pub struct Chrome {
    pub lang: Lang,
    pub t: &'static Text,
    /// The signed-in user's name (`None`: anonymous).
    pub user: Option<String>,
    pub role: &'static str,
    /// Whether the user came by session cookie (and can sign out here).
    pub session: bool,
    /// Empty without a session (nothing to protect).
    pub csrf: String,
    /// The nav entry to mark.
    pub section: &'static str,
    here: String,
}

impl Chrome {
    /// The URL of an embedded static file (content-hashed).
    pub fn asset(&self, path: &str) -> String {
        assets::url(path)
    }

    /// This page's path and query, for `?next=` links.
    pub fn here_encoded(&self) -> String {
        form_urlencoded::byte_serialize(self.here.as_bytes()).collect()
    }
}

/// The language a request asks for: the cookie, else the browser's preference.
fn lang_of(headers: &HeaderMap) -> Lang {
    session::cookie_value(headers, LANG_COOKIE)
        .and_then(Lang::parse)
        .unwrap_or_else(|| {
            Lang::from_accept(
                headers
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok()),
            )
        })
}

/// The page frame for this request, or — where the server needs a signed-in user and there is
/// none — the redirect to the sign-in page.
pub(super) fn chrome(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    section: &'static str,
) -> Result<(Chrome, Principal), Box<Response>> {
    let here = uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    let who = match state.authorize(headers, Role::Read, "the workbench") {
        Ok(p) => p,
        Err(ApiError::Unauthorized(_)) => {
            let next: String = form_urlencoded::byte_serialize(here.as_bytes()).collect();
            return Err(Box::new(
                Redirect::to(&format!("/ui/login?needed=1&next={next}")).into_response(),
            ));
        }
        Err(e) => return Err(Box::new(e.into_response())),
    };
    let session = state.inner.sessions.find(headers);
    let lang = lang_of(headers);
    let user = match &who {
        Principal::Anonymous => None,
        p => Some(p.name().to_owned()),
    };
    Ok((
        Chrome {
            lang,
            t: lang.text(),
            user,
            role: who.role().as_str(),
            session: session.is_some(),
            csrf: session.map(|s| s.csrf).unwrap_or_default(),
            section,
            here,
        },
        who,
    ))
}

/// The label to show in `lang` (its tag, else untagged, else any) and, beside it, one in the
/// other language when the graph has it.
pub(super) fn pick_label(
    names: &[(String, String)],
    lang: Lang,
) -> (Option<String>, Option<String>) {
    let tagged = |code: &str| {
        names
            .iter()
            .find(|(_, l)| l.split('-').next() == Some(code))
            .map(|(v, _)| v.clone())
    };
    let mine = tagged(lang.code())
        .or_else(|| {
            names
                .iter()
                .find(|(_, l)| l.is_empty())
                .map(|(v, _)| v.clone())
        })
        .or_else(|| names.first().map(|(v, _)| v.clone()));
    let other = tagged(lang.other().code()).filter(|o| Some(o) != mine.as_ref());
    (mine, other)
}

/// A rendered page with the headers every page carries.
pub(super) fn page(status: StatusCode, t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => {
            let mut r = (status, html).into_response();
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            // Only our own scripts run; styles inline are allowed (YASGUI sets them).
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                     img-src 'self' data:; connect-src 'self'; font-src 'self' data:; \
                     object-src 'none'; base-uri 'none'; form-action 'self'; \
                     frame-ancestors 'none'",
                ),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("same-origin"),
            );
            h.insert(
                "x-content-type-options",
                HeaderValue::from_static("nosniff"),
            );
            h.insert(header::VARY, HeaderValue::from_static("accept, cookie"));
            r
        }
        Err(e) => ApiError::Internal(format!("page failed to render: {e}")).into_response(),
    }
}

/// Whether a browser is asking for a page (HTML before any other type it accepts).
pub(super) fn wants_page(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let first = accept.split(',').next().unwrap_or("").trim();
    first.starts_with("text/html") || first.starts_with("application/xhtml+xml")
}

/// A `?next=` target that stays on this server (no `//host` or `https://…`).
fn local_path(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.chars().any(|c| c.is_control()) =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    chrome: Chrome,
    graphs: Vec<String>,
    queries: usize,
    model: Option<String>,
}

/// `GET /` for browsers.
pub(super) async fn home(state: AppState, headers: HeaderMap, uri: Uri) -> Response {
    let (chrome, who) = match chrome(&state, &headers, &uri, "home") {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let catalog = std::sync::Arc::clone(state.catalog());
    let vis = who.visibility();
    let graphs = match state
        .run_blocking(None, move || catalog.visible_graphs(&vis))
        .await
    {
        Ok(g) => g,
        Err(e) => return e.into_response(),
    };
    let model = state
        .app()
        .link_prediction()
        .and_then(|s| s.model_info())
        .and_then(|m| m["model_id"].as_str().map(str::to_owned));
    page(
        StatusCode::OK,
        &HomePage {
            chrome,
            graphs,
            queries: state.inner.queries.len(),
            model,
        },
    )
}

#[derive(Template)]
#[template(path = "query.html")]
struct QueryPage {
    chrome: Chrome,
    /// JSON for the page's script (escaped into an attribute by the template).
    config: String,
}

/// `GET /sparql` for browsers (no query given): YASGUI.
pub(super) async fn query_page(state: AppState, headers: HeaderMap, uri: Uri) -> Response {
    let (chrome, who) = match chrome(&state, &headers, &uri, "query") {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let prefixes: String = crate::catalog::vocab::PREFIXES
        .iter()
        .map(|(p, iri)| format!("PREFIX {p}: <{iri}>\n"))
        .collect();
    let start = format!("{prefixes}\nSELECT * WHERE {{\n  ?s ?p ?o\n}}\nLIMIT 10\n");
    let named: Vec<_> = state
        .inner
        .queries
        .values()
        .map(|q| {
            serde_json::json!({
                "name": q.name, "title": q.title, "description": q.description, "text": q.text,
            })
        })
        .collect();
    let config = serde_json::json!({
        "user": who.name(),
        "start": start,
        "named": named,
    })
    .to_string();
    page(StatusCode::OK, &QueryPage { chrome, config })
}

/// One source with its assets, as the catalog page lists them.
struct SourceView {
    summary: crate::inventory::report::SourceSummary,
    assets: Vec<crate::inventory::report::AssetSummary>,
}

#[derive(Template)]
#[template(path = "catalog.html")]
struct CatalogPage {
    chrome: Chrome,
    totals: crate::inventory::report::Totals,
    sources: Vec<SourceView>,
}

/// `GET /ui/catalog`: sources → assets → columns, from the same report the API serves (so a
/// reader sees exactly what `/api/v1/report` shows them).
pub(super) async fn catalog_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let (chrome, who) = match chrome(&state, &headers, &uri, "catalog") {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let app = std::sync::Arc::clone(state.app());
    let vis = who.visibility();
    let report = match tokio::task::spawn_blocking(move || app.report(&vis)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return ApiError::from(e).into_response(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let mut assets = report.assets;
    let sources = report
        .sources
        .into_iter()
        .map(|summary| {
            let (mine, rest): (Vec<_>, Vec<_>) =
                assets.drain(..).partition(|a| a.source == summary.iri);
            assets = rest;
            SourceView {
                summary,
                assets: mine,
            }
        })
        .collect();
    page(
        StatusCode::OK,
        &CatalogPage {
            chrome,
            totals: report.totals,
            sources,
        },
    )
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    next: String,
    needed: bool,
    failed: bool,
}

fn anonymous_chrome(headers: &HeaderMap, uri: &Uri) -> Chrome {
    let lang = lang_of(headers);
    Chrome {
        lang,
        t: lang.text(),
        user: None,
        role: Role::Read.as_str(),
        session: false,
        csrf: String::new(),
        section: "login",
        here: uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default(),
    }
}

#[derive(Deserialize)]
pub(super) struct LoginParams {
    next: Option<String>,
    needed: Option<String>,
}

/// `GET /ui/login`.
pub(super) async fn login_page(
    headers: HeaderMap,
    uri: Uri,
    Query(p): Query<LoginParams>,
) -> Response {
    page(
        StatusCode::OK,
        &LoginPage {
            chrome: anonymous_chrome(&headers, &uri),
            next: local_path(p.next.as_deref()),
            needed: p.needed.is_some(),
            failed: false,
        },
    )
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    token: String,
    next: Option<String>,
}

/// `POST /ui/login`: checks the token, starts a session, goes on to `next`.
pub(super) async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = local_path(form.next.as_deref());
    let table = state.tokens();
    let hash = crate::privacy::hash_token(&form.token);
    match table.authenticate_hash(&hash) {
        Ok(who) => {
            let (cookie, _) = state.inner.sessions.start(hash);
            state.audit(&who, "sign-in", "/ui/login", "ok", 0);
            let mut r = Redirect::to(&next).into_response();
            if let Ok(v) = HeaderValue::from_str(&session::set_cookie(Some(&cookie), &headers)) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Err(_) => {
            state.audit(
                &Principal::Anonymous,
                "sign-in",
                "/ui/login",
                "invalid token",
                0,
            );
            page(
                StatusCode::UNAUTHORIZED,
                &LoginPage {
                    chrome: anonymous_chrome(&headers, &uri),
                    next,
                    needed: false,
                    failed: true,
                },
            )
        }
    }
}

#[derive(Deserialize)]
pub(super) struct LogoutForm {
    csrf: String,
}

/// `POST /ui/logout`: ends the session (the form carries its CSRF token).
pub(super) async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Response {
    if let Some(s) = state.inner.sessions.find(&headers) {
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            s.csrf.as_bytes(),
            form.csrf.as_bytes(),
        )) {
            return ApiError::Forbidden("CSRF token does not match this session".into())
                .into_response();
        }
        state.inner.sessions.end(&headers);
    }
    let mut r = Redirect::to("/").into_response();
    if let Ok(v) = HeaderValue::from_str(&session::set_cookie(None, &headers)) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

#[derive(Deserialize)]
pub(super) struct NextParam {
    next: Option<String>,
}

/// `GET /ui/lang/{zh|en}`: remembers the chrome language, back to `next`.
pub(super) async fn set_lang(Path(code): Path<String>, Query(p): Query<NextParam>) -> Response {
    let Some(lang) = Lang::parse(&code) else {
        return ApiError::NotFound(format!("no language {code:?}; zh or en")).into_response();
    };
    let mut r = Redirect::to(&local_path(p.next.as_deref())).into_response();
    let cookie = format!(
        "{LANG_COOKIE}={}; Path=/; SameSite=Lax; Max-Age=31536000",
        lang.code()
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// `GET /api/v1/vocabulary`: the prefixes, classes and properties the query editor completes,
/// from this store's ontology graph (the public completion services are unreachable offline).
pub(super) async fn vocabulary(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let who = state.authorize(&headers, Role::Read, "the vocabulary")?;
    let catalog = std::sync::Arc::clone(state.catalog());
    let vis = who.visibility();
    let (classes, properties) = state
        .run_blocking(None, move || catalog.vocabulary_terms(&vis))
        .await?;
    let prefixes: serde_json::Map<String, serde_json::Value> = crate::catalog::vocab::PREFIXES
        .iter()
        .map(|(p, iri)| ((*p).to_owned(), serde_json::Value::from(*iri)))
        .collect();
    Ok(axum::Json(serde_json::json!({
        "prefixes": prefixes,
        "classes": classes,
        "properties": properties,
    }))
    .into_response())
}

/// Refuses cross-site requests and session requests without their CSRF token before any
/// handler runs (see [`session::refusal`]). The sign-in form has no session yet and the
/// sign-out form carries its token in the body; both still get the Origin check.
pub(super) async fn csrf_guard(
    State(state): State<AppState>,
    request: Request<axum::body::Body>,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let own_check = path == "/ui/login" || path == "/ui/logout";
    let session = if own_check {
        None
    } else {
        state.inner.sessions.find(request.headers())
    };
    if let Some(why) = session::refusal(request.method(), request.headers(), session.as_ref()) {
        return ApiError::Forbidden(why.into()).into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_targets_stay_on_this_server() {
        assert_eq!(local_path(Some("/sparql?x=1")), "/sparql?x=1");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "evil",
            "",
        ] {
            assert_eq!(local_path(Some(bad)), "/", "{bad}");
        }
        assert_eq!(local_path(None), "/");
    }

    #[test]
    fn pages_are_for_browsers_that_put_html_first() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
            m
        };
        assert!(wants_page(&h(
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        )));
        assert!(!wants_page(&h("application/json")));
        assert!(!wants_page(&h("*/*")));
        assert!(!wants_page(&HeaderMap::new()));
    }
}
