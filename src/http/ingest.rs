//! `/api/v1/ingest`: ingestion runs started over HTTP while the server keeps serving.
//!
//! `POST /api/v1/ingest` (write role, audited) takes `{"asset": PATH, "mapping": TOML, "label":
//! bool, "force": bool}`, checks the mapping against the asset's header at once (a wrong column
//! is a 400, not a failed job), and answers 202 with a job to poll at `GET /api/v1/ingest/{job}`.
//! The run itself is a blocking task outside the query concurrency bound, writing in batched
//! transactions, so SPARQL queries keep being answered (from consistent snapshots) while it
//! runs. One run at a time: a second POST while one runs gets 409 with the running job's
//! address. `GET /api/v1/ingest` lists recent jobs. The asset is a path on the server, which is
//! why starting a run needs the write role, like scanning a source does.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Mutex;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::{ApiError, AppJson, AppState};
use crate::app::{App, IngestJob};
use crate::ingest::RunReport;
use crate::privacy::Role;

/// Jobs remembered for `GET /api/v1/ingest`.
const KEPT_JOBS: usize = 100;

/// Body of `POST /api/v1/ingest`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct IngestRequest {
    /// Path of the file on the server.
    asset: PathBuf,
    /// The mapping, as TOML text.
    mapping: String,
    /// Label product titles with `[ingest] title_model` (default true).
    #[serde(default = "yes")]
    label: bool,
    /// Run even when this exact input was already ingested.
    #[serde(default)]
    force: bool,
}

fn yes() -> bool {
    true
}

/// One run started over HTTP.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Job {
    id: String,
    asset: String,
    by: String,
    /// `running`, `done` or `failed`.
    status: &'static str,
    started: String,
    ended: Option<String>,
    report: Option<RunReport>,
    error: Option<String>,
}

impl Job {
    /// The job as `who` may see it: anonymous callers (anonymous reads on) get no server paths,
    /// token names or error texts, only the file's name and the outcome.
    fn view(&self, who: &crate::privacy::Principal) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if *who == crate::privacy::Principal::Anonymous {
            let name = std::path::Path::new(&self.asset)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            v["asset"] = serde_json::Value::String(name);
            v["by"] = serde_json::Value::Null;
            if self.error.is_some() {
                v["error"] = "the run failed; ask a user with a token for the reason".into();
            }
            if let Some(report) = v.get_mut("report").and_then(|r| r.as_object_mut()) {
                report.retain(|k, _| {
                    matches!(
                        k.as_str(),
                        "records_in" | "accepted" | "quarantined" | "skipped_unchanged"
                    )
                });
            }
        }
        v
    }
}

/// Recent jobs, newest last.
#[derive(Default)]
pub(crate) struct Jobs {
    jobs: Mutex<VecDeque<Job>>,
}

impl Jobs {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Job>> {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn finish(&self, id: &str, result: Result<RunReport, String>) {
        let mut jobs = self.lock();
        if let Some(j) = jobs.iter_mut().find(|j| j.id == id) {
            j.ended = Some(now());
            match result {
                Ok(r) => {
                    j.status = "done";
                    j.report = Some(r);
                }
                Err(e) => {
                    j.status = "failed";
                    j.error = Some(e);
                }
            }
        }
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn href(id: &str) -> String {
    format!("/api/v1/ingest/{id}")
}

/// `POST /api/v1/ingest`.
pub(super) async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<AppJson<IngestRequest>, ApiError>,
) -> Result<Response, ApiError> {
    let who = state.authorize(&headers, Role::Write, "ingesting")?;
    let AppJson(req) = body?;
    let mapping = App::parse_mapping(&req.mapping)?;
    // Checked before anything else touches the path: a writer learns nothing about paths
    // outside the roots (missing or present read the same).
    state.may_read(&who, &req.asset)?;
    let asset = req.asset.clone();
    let checked = mapping.clone();
    tokio::task::spawn_blocking(move || App::check_mapping(&asset, &checked)).await??;
    let id = hex::encode(rand::random::<[u8; 8]>());
    {
        let mut jobs = state.inner.jobs.lock();
        if let Some(running) = jobs.iter().find(|j| j.status == "running") {
            return Err(ApiError::Conflict(format!(
                "an ingest is running ({} of {}); poll {} and retry when it is done",
                running.id,
                running.asset,
                href(&running.id)
            )));
        }
        jobs.push_back(Job {
            id: id.clone(),
            asset: req.asset.display().to_string(),
            by: who.name().to_string(),
            status: "running",
            started: now(),
            ended: None,
            report: None,
            error: None,
        });
        while jobs.len() > KEPT_JOBS {
            jobs.pop_front();
        }
    }
    state.audit(
        &who,
        "ingest",
        &req.asset.display().to_string(),
        "started",
        0,
    );
    let worker = state.clone();
    let job = id.clone();
    tokio::task::spawn_blocking(move || {
        // A panic must not leave the job "running" for ever (it would block every later run).
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            // Checked again on the file the run opens (the request may have waited): a path
            // swapped for a link since is refused, not read.
            let confine = worker.confinement(&who);
            let job = IngestJob {
                asset: &req.asset,
                mapping: &mapping,
                mapping_text: &req.mapping,
                label: req.label,
                force: req.force,
                confine: Some(&confine),
            };
            worker
                .app()
                .ingest(&job)
                .map(|done| done.report)
                .map_err(|e| e.to_string())
        }))
        .unwrap_or_else(|_| Err("the run failed unexpectedly; see the server log".into()));
        let outcome = match &result {
            Ok(r) => format!(
                "{} in, {} accepted, {} quarantined",
                r.records_in, r.accepted, r.quarantined
            ),
            Err(e) => format!("error: {e}"),
        };
        worker.audit(
            &who,
            "ingest-finished",
            &req.asset.display().to_string(),
            &outcome,
            0,
        );
        let changed = matches!(&result, Ok(r) if !r.skipped && r.triples_written > 0);
        worker.inner.jobs.finish(&job, result);
        if changed {
            worker.app().keep_embeddings_up();
        }
    });
    Ok((
        StatusCode::ACCEPTED,
        [(axum::http::header::LOCATION, href(&id))],
        Json(serde_json::json!({ "job": id, "status": "running", "href": href(&id) })),
    )
        .into_response())
}

/// `GET /api/v1/ingest/{job}`.
pub(super) async fn status(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let who = state.authorize(&headers, Role::Read, "reading ingest jobs")?;
    let jobs = state.inner.jobs.lock();
    let job = jobs.iter().find(|j| j.id == id).ok_or_else(|| {
        ApiError::NotFound(format!(
            "no ingest job {id:?} (jobs are kept until the server restarts)"
        ))
    })?;
    Ok(Json(job.view(&who)).into_response())
}

/// `GET /api/v1/ingest`: recent jobs, newest first, without their full reports.
pub(super) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let who = state.authorize(&headers, Role::Read, "reading ingest jobs")?;
    let jobs: Vec<serde_json::Value> = state
        .inner
        .jobs
        .lock()
        .iter()
        .rev()
        .map(|j| {
            let v = j.view(&who);
            serde_json::json!({
                "job": j.id, "asset": v["asset"], "by": v["by"], "status": j.status,
                "started": j.started, "ended": j.ended, "href": href(&j.id),
                "records_in": j.report.as_ref().map(|r| r.records_in),
                "error": v["error"],
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "jobs": jobs })).into_response())
}
