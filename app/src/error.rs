//! The error the browser sees. It carries no PHI and, for internal failures, no text at all:
//! only an incident id that support can find in the server's logs.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// A field that failed validation, named by its form field, never by its value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("you are not allowed to do this")]
    Forbidden,
    #[error("please sign in")]
    Unauthenticated,
    /// Messages are written for people and never quote the value that failed.
    #[error("{}", .0.iter().map(|f| f.message.as_str()).collect::<Vec<_>>().join("; "))]
    Validation(Vec<FieldError>),
    #[error("{0}")]
    Conflict(String),
    #[error("too many attempts; please wait a few minutes and try again")]
    TooManyRequests,
    #[error("something went wrong on our side (incident {incident})")]
    Internal { incident: String },
    /// Transport and encoding failures reported by the server-function layer itself.
    #[error("the request could not be completed: {0}")]
    Transport(String),
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Transport(value.to_string())
    }
}
