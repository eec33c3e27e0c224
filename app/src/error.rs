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
    /// A request the server could not read (not JSON, too large, the wrong content type). The
    /// message is the server's own and never quotes the request.
    #[error("{0}")]
    BadRequest(String),
    /// Transport and encoding failures reported by the server-function layer itself.
    #[error("the request could not be completed: {0}")]
    Transport(String),
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    /// On the server, server_fn reports here the arguments it could not decode (and, rarely,
    /// a response it could not encode); its text quotes the request, so it is replaced by the
    /// field's name and a status that says whose fault it was. In the browser, this wraps
    /// failures to reach the server.
    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        #[cfg(feature = "ssr")]
        {
            server_side(value)
        }
        #[cfg(not(feature = "ssr"))]
        {
            AppError::Transport(value.to_string())
        }
    }

    /// On the server, an error whose status nobody set yet gets the one its kind means, so an
    /// `AppError` returned straight from a server function is never a bare 500.
    fn ser(&self) -> leptos::server_fn::Bytes {
        #[cfg(feature = "ssr")]
        if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            let unset = response.0.read().map(|parts| parts.status.is_none()).unwrap_or(false);
            if unset {
                response.set_status(self.status());
            }
        }
        <JsonEncoding as leptos::server_fn::Encodes<Self>>::encode(self).unwrap_or_default()
    }
}

#[cfg(feature = "ssr")]
impl AppError {
    /// The HTTP status this kind of error means.
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode;
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Forbidden => StatusCode::FORBIDDEN,
            AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
            AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Internal { .. } | AppError::Transport(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

#[cfg(feature = "ssr")]
fn server_side(value: ServerFnErrorErr) -> AppError {
    use crate::api::codec::DecodeFailure;
    use http::StatusCode;
    let set_status = |status: StatusCode| {
        if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(status);
        }
    };
    match value {
        ServerFnErrorErr::Args(text) | ServerFnErrorErr::Deserialization(text) => match DecodeFailure::parse(&text) {
            Some(DecodeFailure { status: 422, field, message }) => {
                set_status(StatusCode::UNPROCESSABLE_ENTITY);
                let field = field.unwrap_or_else(|| "body".to_owned());
                AppError::Validation(vec![FieldError { message: format!("{field} {message}"), field }])
            }
            Some(DecodeFailure { message, .. }) => {
                set_status(StatusCode::BAD_REQUEST);
                AppError::BadRequest(message)
            }
            // Reading the body failed (a client that went away, a body over the limit).
            None => {
                set_status(StatusCode::BAD_REQUEST);
                AppError::BadRequest("the request body could not be read".to_owned())
            }
        },
        ServerFnErrorErr::MissingArg(_) => {
            set_status(StatusCode::UNPROCESSABLE_ENTITY);
            AppError::BadRequest("the request is missing an argument".to_owned())
        }
        ServerFnErrorErr::UnsupportedRequestMethod(_) => {
            set_status(StatusCode::METHOD_NOT_ALLOWED);
            AppError::BadRequest("this method is not supported here".to_owned())
        }
        other => {
            let incident = uuid::Uuid::new_v4().to_string();
            tracing::error!(incident = %incident, error = %other, "server function failure");
            set_status(StatusCode::INTERNAL_SERVER_ERROR);
            AppError::Internal { incident }
        }
    }
}
