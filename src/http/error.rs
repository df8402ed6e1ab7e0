//! `ApiError`: the one error type handlers return, and its exhaustive mapping to HTTP statuses.
//!
//! 4xx answers echo the message so the client can fix the request; 5xx answers say little and
//! the cause goes to the log.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::catalog::CatalogError;
use crate::privacy::AccessError;

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
    /// 503: timed out or overloaded; the client may retry.
    #[error("{0}")]
    Unavailable(String),
    /// 500: a bug or an environment failure; details only in the log.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
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
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
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
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
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
            CatalogError::Syntax(m) | CatalogError::BadRequest(m) | CatalogError::RdfSyntax(m) => {
                Self::BadRequest(m.clone())
            }
            CatalogError::InvalidIri(_) => Self::BadRequest(e.to_string()),
            CatalogError::Evaluation(m) => Self::BadRequest(m.clone()),
            CatalogError::UnsupportedFormat(_) => Self::UnsupportedMediaType(e.to_string()),
            CatalogError::Timeout(_) => Self::Unavailable(e.to_string()),
            CatalogError::ResourceLimit(m) => Self::Unprocessable(m.clone()),
            CatalogError::Forbidden(m) => Self::Forbidden(m.clone()),
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
            AccessError::Unauthenticated | AccessError::InvalidToken => {
                Self::Unauthorized(e.to_string())
            }
            AccessError::Forbidden(m) => Self::Forbidden(m),
            other => Self::BadRequest(other.to_string()),
        }
    }
}
