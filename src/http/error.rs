//! `ApiError`: the one error type handlers return, and its exhaustive mapping to HTTP statuses.
//!
//! Domain errors reach the face as causes; the `From` table below is the one place that decides
//! what each means over HTTP (the way a store error becomes an HTTP error in one conversion), and
//! a 503 tells the client when to come back only where the cause knows (`Retry-After`). Bodies
//! that do not parse are rejected through [`AppJson`] and [`AppQuery`], so every rejection has
//! the same JSON shape as every other error. 4xx answers echo the message so the client can fix
//! the request; 5xx answers say little and the cause goes to the log.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::app::AppError;
use crate::catalog::CatalogError;
use crate::ingest::IngestError;
use crate::inventory::InventoryError;
use crate::monitor::MonitorError;
use crate::privacy::AccessError;
use crate::recommend::RecommendError;

/// Errors a handler can return.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// 400: the request is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// 401: credentials missing or invalid.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: credentials valid but insufficient.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such resource (or invisible to the caller).
    #[error("{0}")]
    NotFound(String),
    /// 405: method not allowed on this resource.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 406: no acceptable representation.
    #[error("{0}")]
    NotAcceptable(String),
    /// 409: conflicts with work in progress (e.g. an ingest already running).
    #[error("{0}")]
    Conflict(String),
    /// 413: request body too large.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 422: well-formed, but past a bound of this server (e.g. strings a query builds).
    #[error("{0}")]
    Unprocessable(String),
    /// 421: this server does not answer (anonymously) for the requested host.
    #[error("{0}")]
    MisdirectedRequest(String),
    /// 415: request body media type not supported.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 502: a database or other upstream the request depends on failed.
    #[error("{0}")]
    BadGateway(String),
    /// 503: timed out, overloaded or not ready; `retry_after` (seconds) when the cause knows
    /// when trying again makes sense.
    #[error("{message}")]
    Unavailable {
        message: String,
        retry_after: Option<u64>,
    },
    /// 500: a bug or an environment failure; details only in the log.
    #[error("internal error: {0}")]
    Internal(String),
    /// 500: stored data failed its integrity check (a sealed value that does not
    /// authenticate); the message names what, never any value, and is shown.
    #[error("{0}")]
    Integrity(String),
}

impl ApiError {
    /// A 503 with no promise of when to retry.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::Unavailable {
            message: message.into(),
            retry_after: None,
        }
    }

    /// The status code for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::MisdirectedRequest(_) => StatusCode::MISDIRECTED_REQUEST,
            Self::BadGateway(_) => StatusCode::BAD_GATEWAY,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) | Self::Integrity(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            Self::Internal(cause) => {
                tracing::error!("internal error: {cause}");
                "internal error; see the server log".to_owned()
            }
            other => other.to_string(),
        };
        let body = json!({ "error": message, "status": status.as_u16() });
        let mut response = (status, axum::Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"stocktake\""),
            );
        }
        if let Self::Unavailable {
            retry_after: Some(secs),
            ..
        } = self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        response
    }
}

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        Self::from_catalog(&e)
    }
}

impl ApiError {
    /// The answer for a catalog error (borrowed, so a worker can audit the outcome and still
    /// hand the error back).
    pub fn from_catalog(e: &CatalogError) -> Self {
        match e {
            CatalogError::Syntax(m) | CatalogError::Invalid(m) | CatalogError::RdfSyntax(m) => {
                Self::BadRequest(m.clone())
            }
            CatalogError::InvalidIri(_) => Self::BadRequest(e.to_string()),
            CatalogError::Evaluation(m) => Self::BadRequest(m.clone()),
            CatalogError::UnsupportedFormat(_) => Self::UnsupportedMediaType(e.to_string()),
            // The same query would run out of time again: no Retry-After.
            CatalogError::Timeout(_) => Self::unavailable(e.to_string()),
            CatalogError::ResourceLimit(m) => Self::Unprocessable(m.clone()),
            CatalogError::NotAllowed(m) => Self::Forbidden(m.clone()),
            CatalogError::NotFound(m) => Self::NotFound(m.clone()),
            CatalogError::Storage(_) | CatalogError::Io { .. } => Self::Internal(e.to_string()),
        }
    }

    /// How the audit log records this outcome: the status and the message.
    pub fn audit_outcome(&self) -> String {
        format!("{} {self}", self.status().as_u16())
    }
}

impl From<AccessError> for ApiError {
    fn from(e: AccessError) -> Self {
        match e {
            AccessError::Unauthenticated | AccessError::InvalidToken | AccessError::Expired(_) => {
                Self::Unauthorized(e.to_string())
            }
            AccessError::Forbidden(m) => Self::Forbidden(m),
            other => Self::BadRequest(other.to_string()),
        }
    }
}

impl From<MonitorError> for ApiError {
    fn from(e: MonitorError) -> Self {
        match e {
            MonitorError::Inventory(e) => e.into(),
            MonitorError::Catalog(e) => e.into(),
            MonitorError::Config(m) => Self::Internal(m),
        }
    }
}

impl From<InventoryError> for ApiError {
    fn from(e: InventoryError) -> Self {
        match e {
            InventoryError::BadSource(_) => Self::BadRequest(e.to_string()),
            InventoryError::Io { .. } => Self::NotFound(e.to_string()),
            InventoryError::Database { .. } => Self::BadGateway(e.to_string()),
            InventoryError::Refused(_) => Self::Forbidden(e.to_string()),
        }
    }
}

impl From<RecommendError> for ApiError {
    fn from(e: RecommendError) -> Self {
        match e {
            // Someone has to train one first: no time to promise.
            RecommendError::NoModel(_) => Self::unavailable(e.to_string()),
            RecommendError::Unknown { .. } => Self::NotFound(e.to_string()),
            RecommendError::Invalid(m) => Self::BadRequest(m),
            RecommendError::Catalog(c) => c.into(),
            RecommendError::Embed(_) | RecommendError::Kg(_) => Self::Internal(e.to_string()),
        }
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::Mapping(_) | IngestError::Input(_) => Self::BadRequest(e.to_string()),
            IngestError::Catalog(c) => c.into(),
            IngestError::Label(_) | IngestError::Secret { .. } => Self::Internal(e.to_string()),
        }
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Catalog(c) => c.into(),
            AppError::Inventory(i) => i.into(),
            AppError::Monitor(m) => m.into(),
            AppError::Recommend(r) => r.into(),
            AppError::Ingest(i) => i.into(),
            AppError::Mapping(_)
            | AppError::Invalid(_)
            | AppError::Anon(_)
            | AppError::Search(crate::search::SearchError::Invalid(_)) => {
                Self::BadRequest(e.to_string())
            }
            AppError::Forbidden(m) => Self::Forbidden(m),
            AppError::Stock(crate::stock::StockError::NotFound(m)) => {
                Self::NotFound(format!("no proposal {m}"))
            }
            AppError::Stock(crate::stock::StockError::Proposal(m)) => Self::Conflict(m),
            AppError::Stock(crate::stock::StockError::Catalog(c)) => c.into(),
            AppError::Stock(crate::stock::StockError::Config(_)) => Self::Internal(e.to_string()),
            // No key (or not the one a value needs): the rest of the server works; this
            // request can succeed once the keys are supplied.
            AppError::Vault(
                crate::vault::VaultError::NoKey(_)
                | crate::vault::VaultError::UnknownKey(_)
                | crate::vault::VaultError::Source { .. },
            ) => Self::unavailable(e.to_string()),
            AppError::Vault(_) => {
                tracing::error!("{e}");
                Self::Integrity(e.to_string())
            }
            AppError::Busy {
                message,
                retry_after,
            } => Self::Unavailable {
                message,
                retry_after: Some(retry_after),
            },
            AppError::Open { .. }
            | AppError::Infer(_)
            | AppError::Labeler { .. }
            | AppError::Embed(_)
            | AppError::Kg(_)
            | AppError::Config(_)
            | AppError::Search(_)
            | AppError::Io { .. } => Self::Internal(e.to_string()),
        }
    }
}

/// A blocking task that panicked or was cancelled: a bug or a shutdown, never the client's.
impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        Self::Internal(format!("worker failed: {e}"))
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        rejected(e.status(), e.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        rejected(e.status(), e.body_text())
    }
}

/// A body or query string the extractor refused: too large and wrong media type keep their
/// statuses, everything else (bad syntax, missing or mistyped fields) is the client's 400.
fn rejected(status: StatusCode, message: String) -> ApiError {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(message),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(message),
        _ => ApiError::BadRequest(message),
    }
}

/// A JSON body whose rejection is an [`ApiError`] (the same JSON error shape as the rest).
pub struct AppJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for AppJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let axum::Json(value) = axum::Json::<T>::from_request(req, state).await?;
        Ok(AppJson(value))
    }
}

/// A query string whose rejection is an [`ApiError`].
pub struct AppQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for AppQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Query(value) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(AppQuery(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_only_where_the_cause_knows() {
        let busy = ApiError::Unavailable {
            message: "busy".into(),
            retry_after: Some(30),
        }
        .into_response();
        assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(busy.headers()[header::RETRY_AFTER], "30");
        let timeout = ApiError::from(CatalogError::Timeout(5)).into_response();
        assert_eq!(timeout.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(timeout.headers().get(header::RETRY_AFTER).is_none());
        let no_model = ApiError::from(RecommendError::NoModel("m.stk".into())).into_response();
        assert_eq!(no_model.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(no_model.headers().get(header::RETRY_AFTER).is_none());
        let app_busy = ApiError::from(AppError::Busy {
            message: "a retrain runs".into(),
            retry_after: 0,
        })
        .into_response();
        // Never "retry at once": at least a second.
        assert_eq!(app_busy.headers()[header::RETRY_AFTER], "1");
    }

    #[test]
    fn app_errors_keep_their_domain_status() {
        use crate::inventory::InventoryError;
        let cases: Vec<(AppError, StatusCode)> = vec![
            (
                AppError::Inventory(InventoryError::BadSource("x".into())),
                StatusCode::BAD_REQUEST,
            ),
            (
                AppError::Inventory(InventoryError::Refused("x".into())),
                StatusCode::FORBIDDEN,
            ),
            (
                AppError::Catalog(CatalogError::NotFound("g".into())),
                StatusCode::NOT_FOUND,
            ),
            (AppError::Invalid("bad".into()), StatusCode::BAD_REQUEST),
            (
                AppError::Labeler {
                    setting: "title model",
                    model: "m".into(),
                    message: "missing".into(),
                },
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
        ];
        for (e, status) in cases {
            let shown = e.to_string();
            assert_eq!(ApiError::from(e).status(), status, "{shown}");
        }
    }
}
