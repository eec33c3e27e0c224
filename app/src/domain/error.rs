//! Domain errors. Messages name fields and ids, never values: a message that quotes its input
//! would carry PHI into a log line.

use crate::error::{AppError, FieldError};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    #[error("unauthenticated")]
    Unauthenticated,
    #[error("validation failed for {}", .0.iter().map(|f| f.field.as_str()).collect::<Vec<_>>().join(", "))]
    Validation(Vec<FieldError>),
    #[error("conflict: {0}")]
    Conflict(String),
    /// A budget (searches per clinician) is used up for now.
    #[error("too many requests")]
    TooManyRequests,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Error {
    pub fn validation(field: &str, message: &str) -> Self {
        Error::Validation(vec![FieldError { field: field.to_owned(), message: message.to_owned() }])
    }
}

/// Named unique constraints that mean "this already exists": the constraint's name (what
/// PostgreSQL reports), the columns SQLite names instead ("UNIQUE constraint failed:
/// app_user.patient_id"), and the message. Matched by name, never by message text.
const CONFLICT_CONSTRAINTS: &[(&str, &str, &str)] = &[
    ("patient_mrn_bidx_unique", "patient.mrn_bidx", "a patient with this MRN already exists"),
    ("app_user_patient_unique", "app_user.patient_id", "this patient already has an account"),
    (
        "account_request_one_pending",
        "account_request.user_id",
        "a change to this account is already waiting for approval",
    ),
];

/// The conflict a unique-constraint violation stands for, if it is one of ours.
fn unique_conflict(err: &sea_orm::DbErr) -> Option<&'static str> {
    use sea_orm::{DbErr, RuntimeErr};
    let (DbErr::Exec(RuntimeErr::SqlxError(sqlx)) | DbErr::Query(RuntimeErr::SqlxError(sqlx))) = err else {
        return None;
    };
    let sqlx::Error::Database(db) = sqlx.as_ref() else {
        return None;
    };
    if !db.is_unique_violation() {
        return None;
    }
    let found = match db.constraint() {
        Some(name) => CONFLICT_CONSTRAINTS.iter().find(|(constraint, _, _)| *constraint == name),
        None => {
            let columns = db.message().strip_prefix("UNIQUE constraint failed: ")?;
            CONFLICT_CONSTRAINTS.iter().find(|(_, sqlite, _)| *sqlite == columns)
        }
    };
    found.map(|(_, _, message)| *message)
}

impl From<sea_orm::DbErr> for Error {
    fn from(err: sea_orm::DbErr) -> Self {
        match unique_conflict(&err) {
            Some(message) => Error::Conflict(message.to_owned()),
            None => Error::Internal(anyhow::Error::new(err)),
        }
    }
}

impl From<super::crypto::CryptoError> for Error {
    fn from(err: super::crypto::CryptoError) -> Self {
        Error::Internal(anyhow::Error::new(err))
    }
}

impl From<Error> for AppError {
    /// Internal failures are logged here with their full chain under a fresh incident id; the
    /// browser gets only the id.
    fn from(err: Error) -> Self {
        // Inside a request, the HTTP status says what kind of failure this was.
        if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(match &err {
                Error::NotFound => http::StatusCode::NOT_FOUND,
                Error::Forbidden => http::StatusCode::FORBIDDEN,
                Error::Unauthenticated => http::StatusCode::UNAUTHORIZED,
                Error::Validation(_) => http::StatusCode::UNPROCESSABLE_ENTITY,
                Error::Conflict(_) => http::StatusCode::CONFLICT,
                Error::TooManyRequests => http::StatusCode::TOO_MANY_REQUESTS,
                Error::Internal(_) => http::StatusCode::INTERNAL_SERVER_ERROR,
            });
        }
        match err {
            Error::NotFound => AppError::NotFound,
            Error::Forbidden => AppError::Forbidden,
            Error::Unauthenticated => AppError::Unauthenticated,
            Error::Validation(fields) => AppError::Validation(fields),
            Error::Conflict(message) => AppError::Conflict(message),
            Error::TooManyRequests => AppError::TooManyRequests,
            Error::Internal(err) => {
                let incident = uuid::Uuid::new_v4().to_string();
                tracing::error!(incident = %incident, error = ?err, "internal error");
                AppError::Internal { incident }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_reach_the_browser_as_an_incident_id_only() {
        let err = Error::Internal(anyhow::anyhow!("database at 10.0.0.1 refused"));
        match AppError::from(err) {
            AppError::Internal { incident } => assert_eq!(incident.len(), 36),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn validation_messages_name_fields_not_values() {
        let err = Error::validation("email", "is not a valid address");
        assert_eq!(err.to_string(), "validation failed for email");
    }
}
