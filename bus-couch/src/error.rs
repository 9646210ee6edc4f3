//! [`CouchError`]: every refusal, with CouchDB's status and `{error, reason}` body.

use http::StatusCode;

/// Why a request was refused; each variant maps to CouchDB's status and `error` name.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CouchError {
    /// Malformed input: invalid JSON, a bad parameter, a bad selector (400 `bad_request`).
    #[error("{0}")]
    BadRequest(String),
    /// Query parameters that contradict each other, e.g. `keys` with `key` (400
    /// `query_parse_error`).
    #[error("{0}")]
    QueryParse(String),
    /// A document body CouchDB would refuse, e.g. an unknown `_` field (400 `doc_validation`).
    #[error("{0}")]
    DocValidation(String),
    /// A database name outside CouchDB's rules (400 `illegal_database_name`).
    #[error(
        "Name: '{0}'. Only lowercase characters (a-z), digits (0-9), and any of the characters _, $, (, ), +, -, and / are allowed. Must begin with a letter."
    )]
    IllegalDbName(String),
    /// Missing database, document, revision or attachment (404 `not_found`); the reason
    /// is CouchDB's (`missing`, `deleted`, `Database does not exist.`).
    #[error("{0}")]
    NotFound(String),
    /// The method is not allowed on this path (405 `method_not_allowed`).
    #[error("Only {0} allowed")]
    MethodNotAllowed(&'static str),
    /// A write whose `rev` is not a current leaf (409 `conflict`).
    #[error("Document update conflict.")]
    Conflict,
    /// `PUT /{db}` on an existing database (412 `file_exists`).
    #[error("The database could not be created, the file already exists.")]
    FileExists,
    /// An attachment stub naming nothing stored (412 `missing_stub`).
    #[error("{0}")]
    MissingStub(String),
    /// A request or attachment over the configured limits (413 `too_large`).
    #[error("{0}")]
    TooLarge(String),
    /// An unsatisfiable `Range` (416 `requested_range_not_satisfiable`).
    #[error("Requested range not satisfiable")]
    RangeNotSatisfiable {
        /// The attachment's length, for `Content-Range: bytes */len`.
        length: u64,
    },
    /// A content type the endpoint does not take (415 `bad_content_type`).
    #[error("{0}")]
    BadContentType(String),
    /// A CouchDB feature this store does not have: views and other design-document
    /// functions, `_find`, `_purge`, … (501 `not_implemented`).
    #[error("{0}")]
    NotImplemented(String),
    /// SQLite failed (500 `internal_server_error`); the database is left as the last
    /// committed transaction left it.
    #[error("storage: {0}")]
    Storage(#[from] rusqlite::Error),
    /// Something else failed inside the store (500).
    #[error("{0}")]
    Internal(String),
}

impl CouchError {
    /// The HTTP status CouchDB answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            CouchError::BadRequest(_)
            | CouchError::QueryParse(_)
            | CouchError::DocValidation(_)
            | CouchError::IllegalDbName(_) => StatusCode::BAD_REQUEST,
            CouchError::NotFound(_) => StatusCode::NOT_FOUND,
            CouchError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            CouchError::Conflict => StatusCode::CONFLICT,
            CouchError::FileExists | CouchError::MissingStub(_) => StatusCode::PRECONDITION_FAILED,
            CouchError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            CouchError::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            CouchError::BadContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            CouchError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            CouchError::Storage(_) | CouchError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// CouchDB's `error` field.
    pub fn error_name(&self) -> &'static str {
        match self {
            CouchError::BadRequest(_) => "bad_request",
            CouchError::QueryParse(_) => "query_parse_error",
            CouchError::DocValidation(_) => "doc_validation",
            CouchError::IllegalDbName(_) => "illegal_database_name",
            CouchError::NotFound(_) => "not_found",
            CouchError::MethodNotAllowed(_) => "method_not_allowed",
            CouchError::Conflict => "conflict",
            CouchError::FileExists => "file_exists",
            CouchError::MissingStub(_) => "missing_stub",
            CouchError::TooLarge(_) => "too_large",
            CouchError::RangeNotSatisfiable { .. } => "requested_range_not_satisfiable",
            CouchError::BadContentType(_) => "bad_content_type",
            CouchError::NotImplemented(_) => "not_implemented",
            CouchError::Storage(_) | CouchError::Internal(_) => "internal_server_error",
        }
    }

    /// `{"error": …, "reason": …}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "error": self.error_name(), "reason": self.to_string() })
    }

    pub(crate) fn missing() -> CouchError {
        CouchError::NotFound("missing".into())
    }

    pub(crate) fn no_db() -> CouchError {
        CouchError::NotFound("Database does not exist.".into())
    }
}
