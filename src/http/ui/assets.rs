//! The workbench's static files, compiled into the binary: nothing to install, nothing fetched
//! from the internet (the server may run where there is none).
//!
//! Each file is addressed by its content hash (`/assets/<hash>/<path>`), so a browser may keep it
//! forever and a new build's files are new URLs; a stale hash still answers (the current bytes,
//! not cached) so a page open across an upgrade keeps working. Files are gzip-compressed once,
//! at first use, and sent compressed to every client that accepts it: YASGUI alone is 1 MB of
//! script and 0.3 MB on the wire.

use std::collections::HashMap;
use std::io::Write;
use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "web/static/"]
struct Files;

struct Asset {
    hash: String,
    raw: Vec<u8>,
    /// Only kept when it saves something.
    gzip: Option<Vec<u8>>,
    content_type: &'static str,
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, e)| e) {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("json") => "application/json",
        Some("txt") | Some("md") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn gzip(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).ok()?;
    let out = enc.finish().ok()?;
    (out.len() < bytes.len()).then_some(out)
}

fn all() -> &'static HashMap<String, Asset> {
    static ALL: OnceLock<HashMap<String, Asset>> = OnceLock::new();
    ALL.get_or_init(|| {
        Files::iter()
            .filter_map(|path| {
                let file = Files::get(&path)?;
                let raw = file.data.into_owned();
                let hash = hex::encode(&file.metadata.sha256_hash()[..8]);
                let compressible = !matches!(
                    path.rsplit_once('.').map(|(_, e)| e),
                    Some("png") | Some("woff2")
                );
                let gzip = if compressible { gzip(&raw) } else { None };
                Some((
                    path.to_string(),
                    Asset {
                        hash,
                        content_type: content_type(&path),
                        gzip,
                        raw,
                    },
                ))
            })
            .collect()
    })
}

/// Compresses every file now (the server calls this at start, off the async runtime), so the
/// first page load does not wait for it.
pub fn warm() {
    all();
}

/// The URL a page links `path` (relative to `web/static/`) by. An unknown path is a bug in a
/// template; it links a URL that answers 404 rather than failing the page.
pub fn url(path: &str) -> String {
    match all().get(path) {
        Some(a) => format!("/assets/{}/{path}", a.hash),
        None => {
            tracing::error!(path, "template links an asset that is not embedded");
            format!("/assets/missing/{path}")
        }
    }
}

/// `GET /assets/{hash}/{*path}`.
pub async fn serve(Path((hash, path)): Path<(String, String)>, headers: HeaderMap) -> Response {
    let Some(asset) = all().get(&path) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let cache = if asset.hash == hash {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let accepts_gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',').any(|e| {
                let mut parts = e.split(';');
                let name = parts.next().unwrap_or("").trim();
                let refused = parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00"));
                name.eq_ignore_ascii_case("gzip") && !refused
            })
        });
    let mut response = match (&asset.gzip, accepts_gzip) {
        (Some(z), true) => {
            let mut r = z.clone().into_response();
            r.headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            r
        }
        _ => asset.raw.clone().into_response(),
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_a_hash_url_and_scripts_are_compressed() {
        let yasgui = "vendor/yasgui/yasgui.min.js";
        let u = url(yasgui);
        assert!(u.starts_with("/assets/") && u.ends_with(yasgui), "{u}");
        let a = &all()[yasgui];
        let z = a.gzip.as_ref().expect("YASGUI compresses");
        assert!(z.len() * 2 < a.raw.len(), "{} of {}", z.len(), a.raw.len());
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&z[..]), &mut back).unwrap();
        assert_eq!(back, a.raw);
        assert!(url("no/such.js").starts_with("/assets/missing/"));
    }
}
