//! Security headers on every response and the per-response CSP nonce.
//!
//! The CSP allows scripts from this origin plus the one inline hydration script that carries
//! the nonce minted here, and WebAssembly compilation ('wasm-unsafe-eval'). Nothing else inline
//! runs, no page may frame ours, and pages are never stored by caches (they may show PHI).

use app::domain::CspNonce;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderValue, header};
use rand::RngCore;

#[derive(Clone, Copy, Debug)]
pub struct HeaderPolicy {
    /// Served over TLS (by this server or the proxy in front): send HSTS, mark cookies Secure.
    pub tls: bool,
    /// A trusted proxy terminates TLS: believe its forwarded scheme.
    pub proxy_terminates_tls: bool,
}

pub fn mint_nonce() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; font-src 'self'; connect-src 'self'; media-src 'self' blob:; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

pub async fn security_headers(State(policy): State<HeaderPolicy>, mut request: Request, next: Next) -> Response {
    let nonce = mint_nonce();
    let is_static = request.uri().path().starts_with("/pkg/");
    request.extensions_mut().insert(CspNonce(nonce.clone()));
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&content_security_policy(&nonce)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    headers.insert("permissions-policy", HeaderValue::from_static("camera=(self), microphone=(self), geolocation=()"));
    if policy.tls {
        headers
            .insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=63072000; includeSubDomains"));
    }
    // The bundle holds no PHI: kept by the browser and revalidated (a 304, no body) on each
    // load, so a repeat visit downloads no WASM yet a new release is picked up at once.
    // Everything else is never stored.
    let cache = if is_static { "no-cache" } else { "no-store" };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if is_static {
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    response
}

/// Behind a TLS-terminating proxy: what it says about the client's scheme, from the trusted
/// proxies only.
#[derive(Clone, Debug)]
pub struct ProxyScheme {
    pub proxies: app::domain::client_address::TrustedProxies,
    /// The public origin (`https://clinic.example.org`) redirects go to.
    pub origin: String,
    pub enforce: bool,
}

/// A request the trusted proxy says came over plain HTTP is sent to https (308, same path),
/// built from the public URL rather than the request's Host.
pub async fn https_behind_proxy(
    State(scheme): State<std::sync::Arc<ProxyScheme>>,
    request: Request,
    next: Next,
) -> Response {
    if scheme.enforce {
        let peer = request.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|info| info.0);
        let proto = peer.and_then(|peer| scheme.proxies.forwarded_proto(peer.ip(), request.headers()));
        if proto.as_deref() == Some("http") {
            return crate::tls::redirect::to_public_origin(&scheme.origin, request.uri());
        }
    }
    next.run(request).await
}

/// Attributes each request to its real client (see `app::domain::client_address`): the TCP
/// peer, or, when that peer is a trusted proxy, the rightmost untrusted hop of the configured
/// forwarding header. The audit context and the per-address limits read the result.
pub async fn client_address(
    State(proxies): State<std::sync::Arc<app::domain::client_address::TrustedProxies>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|info| info.0);
    if let Some(peer) = peer {
        let client = proxies.client(peer.ip(), request.headers());
        request.extensions_mut().insert(app::domain::client_address::ClientAddress(client));
    }
    next.run(request).await
}

/// Server functions accept only same-origin requests: the `Origin` header must have the scheme,
/// host and port of the configured public URL (never the request's own `Host`, which the client
/// writes), or, without an `Origin`, the browser must say `Sec-Fetch-Site: same-origin`.
/// SameSite=Strict cookies already keep other sites' requests unauthenticated; this refuses
/// them outright.
pub async fn same_origin_only(
    State(allowed): State<std::sync::Arc<AllowedOrigin>>,
    request: Request,
    next: Next,
) -> Response {
    if request.uri().path().starts_with("/api/") && !is_same_origin(&request, &allowed) {
        tracing::warn!(path = %request.uri().path(), "cross-origin server function call refused");
        return (http::StatusCode::FORBIDDEN, "cross-origin requests are not allowed").into_response();
    }
    next.run(request).await
}

/// The configured public origin, e.g. `https://clinic.example.org` (port 443 implied).
#[derive(Clone, Debug)]
pub struct AllowedOrigin(pub url::Origin);

fn is_same_origin(request: &Request, allowed: &AllowedOrigin) -> bool {
    let headers = request.headers();
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        // Parsed, so `https://clinic.example.org:443` and `https://clinic.example.org` are one
        // origin; an opaque origin (`null`) never matches.
        Some(origin) => url::Url::parse(origin).is_ok_and(|url| url.origin().is_tuple() && url.origin() == allowed.0),
        None => headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) == Some("same-origin"),
    }
}

/// Every server function takes JSON (`app::api::codec::Json`). A call with another content
/// type (a form post, `text/plain`, which a cross-site form can send without a preflight) is
/// refused with 415 before its body is read.
pub async fn json_calls_only(request: Request, next: Next) -> Response {
    let is_call = request.method() == http::Method::POST && request.uri().path().starts_with("/api/");
    if is_call && !is_json(request.headers()) {
        return refusal(http::StatusCode::UNSUPPORTED_MEDIA_TYPE, "server functions take application/json");
    }
    next.run(request).await
}

fn is_json(headers: &http::HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// A refusal the browser's typed client can read: an `AppError` as JSON, a message of our own
/// that quotes nothing from the request.
pub fn refusal(status: http::StatusCode, message: &str) -> Response {
    let body = serde_json::to_string(&app::AppError::BadRequest(message.to_owned())).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The most a server-function body may hold, except messaging's.
pub const MAX_REQUEST_BYTES: usize = 2 * 1024 * 1024;

/// Server functions read their body under a limit of 2 MB. Messaging carries attachments, so
/// its routes alone get a limit sized for them (three files of 5 MiB as base64, and the text
/// around them). A larger body is refused with 413 before it is read further.
pub async fn message_body_limit(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if !path.starts_with("/api/") || request.method() != http::Method::POST {
        return next.run(request).await;
    }
    let limit =
        if path.starts_with("/api/messages/") { app::api::messages::MAX_REQUEST_BYTES } else { MAX_REQUEST_BYTES };
    let too_large = || refusal(http::StatusCode::PAYLOAD_TOO_LARGE, "the request is too large");
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return too_large();
    }
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => {
            let request = Request::from_parts(parts, axum::body::Body::from(bytes));
            let raised = tower::Layer::layer(&axum::extract::DefaultBodyLimit::max(limit), next);
            match tower::ServiceExt::oneshot(raised, request).await {
                Ok(response) => response,
                Err(never) => match never {},
            }
        }
        Err(_) => too_large(),
    }
}
