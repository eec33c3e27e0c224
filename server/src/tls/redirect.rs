//! The plain-HTTP listener: every request gets a permanent redirect to the same path on the
//! public https URL. The target is built from `server.public_url`, never from the request's
//! `Host` header, so the redirect cannot be pointed at another site.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, Uri, header};

#[derive(Clone, Debug)]
struct Target(String);

pub fn router(public_url: &url::Url) -> Router {
    let origin = public_url.origin().ascii_serialization();
    Router::new().fallback(redirect).with_state(Target(origin))
}

async fn redirect(State(Target(origin)): State<Target>, uri: Uri) -> Response {
    to_public_origin(&origin, &uri)
}

/// A 308 to the same path and query on `origin` (the public https origin). Also used behind a
/// terminating proxy for requests the proxy says came over plain HTTP.
pub fn to_public_origin(origin: &str, uri: &Uri) -> Response {
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let location = format!("{origin}{path}");
    (
        StatusCode::PERMANENT_REDIRECT,
        [(header::LOCATION, location), (header::CACHE_CONTROL, "no-store".to_owned())],
        "This site is served over HTTPS.\n",
    )
        .into_response()
}
