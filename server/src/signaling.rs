//! The signaling WebSocket of a video visit: `GET /api/video/{appointment}/signal?after=N`.
//!
//! The socket is opened with the browser's session cookie (same-origin only, like every
//! `/api/` route). Who may connect is decided by the domain's access policy before the upgrade:
//! anyone else gets a plain 401/403/404 and an audit row. Once open, the socket carries JSON
//! text frames both ways; everything a browser sends is stored by [`VideoRepo::send`] and
//! reaches the other browser through the database, whichever node it is connected to.
//!
//! Every `video.session_check_ms` an open socket re-reads its session from the store and asks
//! the access policy again; when either says no, the socket is closed with a close code
//! (4401 signed out, 4403 no longer allowed, 1011 the check failed). A node shutting down
//! closes its sockets with 1012, and browsers reconnect (through the balancer, to another
//! node). Holding the socket open is not activity: automatic logoff ends an idle session
//! during a call too.
//!
//! [`VideoRepo::send`]: app::domain::telemedicine::VideoRepo::send

use std::collections::BTreeSet;

use app::domain::Error;
use app::domain::audit::{Action, Actor, AuditContext, AuditEntry, Outcome, Purpose, Role};
use app::domain::state::Services;
use app::domain::telemedicine::hub::Wake;
use app::domain::telemedicine::{Connection, REREAD_LOOKBACK, SIGNAL_PAGE, Signal, SignalKind};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;
use tower_sessions::Session;

/// Close code sent when the session behind a socket has ended (signed out here or elsewhere,
/// sessions ended by an admin, account disabled, automatic logoff).
const SIGNED_OUT: u16 = 4401;
/// Close code sent when the access policy no longer lets this person into the visit.
const NOT_ALLOWED: u16 = 4403;
/// Close code sent when the check itself failed: the socket closes rather than stay open unchecked.
const CHECK_FAILED: u16 = 1011;
/// Close code sent when this node is shutting down (RFC 6455 "Service Restart"): the browser
/// reconnects at once, and the load balancer sends it to another node.
pub const RECONNECT: u16 = 1012;

#[derive(Debug, Deserialize)]
pub struct Resume {
    /// The last sequence number this browser received, when it reconnects.
    after: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct Incoming {
    kind: String,
    payload: Option<String>,
}

#[derive(Debug, Serialize)]
struct Outgoing<'a> {
    kind: &'a str,
    seq: i64,
    /// "patient" or "clinician": who sent it.
    from: Option<&'a str>,
    payload: Option<&'a str>,
    /// The room's state, on the welcome frame.
    state: Option<&'a str>,
}

pub async fn connect(
    State(services): State<Services>,
    Path(appointment): Path<String>,
    Query(resume): Query<Resume>,
    // Resolved from the TCP peer and the trusted proxies by the `client_address` middleware.
    axum::Extension(client): axum::Extension<app::domain::client_address::ClientAddress>,
    headers: HeaderMap,
    session: Session,
    ws: WebSocketUpgrade,
) -> Response {
    let header =
        |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(|v| v.chars().take(512).collect::<String>());
    let ip = client.0.to_string();
    let context = |actor: Actor| AuditContext {
        actor,
        purpose: Purpose::Treatment,
        justification: None,
        request_id: header("x-request-id"),
        ip: Some(ip.clone()),
        user_agent: header("user-agent"),
    };
    let user = match app::api::context::current_user(&services, &session).await {
        Ok(Some(user)) => user,
        Ok(None) => {
            let anonymous = context(Actor { user_id: None, role: Role::Anonymous, patient_id: None });
            return match refuse_anonymous(&services, &anonymous).await {
                Ok(()) => (StatusCode::UNAUTHORIZED, "sign in first").into_response(),
                Err(err) => failure(err),
            };
        }
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    let ctx = context(user.actor());
    let Ok(id) = uuid::Uuid::parse_str(&appointment) else {
        return (StatusCode::BAD_REQUEST, "appointment is not a valid id").into_response();
    };
    let connection = match services.video.connect(&ctx, id).await {
        Ok(connection) => connection,
        Err(err) => return failure(err),
    };
    let start = match resume.after {
        Some(after) => after,
        None => match services.video.latest_seq(id).await {
            Ok(seq) => seq,
            Err(err) => return failure(err),
        },
    };
    tracing::info!(appointment_id = %id, connection_id = %connection.id, "signaling connected");
    ws.max_message_size(64 * 1024)
        .on_upgrade(move |socket| run(socket, services, session, ctx, connection, start, resume.after.is_some()))
}

async fn refuse_anonymous(services: &Services, ctx: &AuditContext) -> Result<(), Error> {
    let entry = AuditEntry {
        action: Action::VideoJoin,
        resource_type: "video_session",
        resource_id: None,
        patient_id: None,
        outcome: Outcome::Denied,
        rule: Some("not-signed-in".to_owned()),
    };
    services.anonymous.record_refusal(ctx, entry).await
}

fn failure(err: Error) -> Response {
    match err {
        Error::Unauthenticated => (StatusCode::UNAUTHORIZED, "sign in first").into_response(),
        Error::Forbidden => (StatusCode::FORBIDDEN, "you may not join this visit").into_response(),
        Error::NotFound => (StatusCode::NOT_FOUND, "no such visit").into_response(),
        Error::Conflict(message) => (StatusCode::CONFLICT, message).into_response(),
        Error::Validation(_) => (StatusCode::BAD_REQUEST, "this is not a video visit").into_response(),
        other => {
            let incident = uuid::Uuid::new_v4();
            tracing::error!(%incident, error = ?other, "signaling failed");
            (StatusCode::INTERNAL_SERVER_ERROR, format!("something went wrong (incident {incident})")).into_response()
        }
    }
}

/// Carries one browser's socket until it closes, the session ends or the visit ends.
async fn run(
    mut socket: WebSocket,
    services: Services,
    session: Session,
    ctx: AuditContext,
    connection: Connection,
    start: i64,
    resumed: bool,
) {
    // Counted, so that a node shutting down waits for this socket's close frame to go out.
    let _open = services.lifecycle.open();
    let mut wakes = services.video.hub.subscribe();
    let mut delivered = BTreeSet::new();
    let mut newest = start;
    let state = services.video.state(connection.appointment_id).await.ok().flatten();
    let welcome = Outgoing { kind: "welcome", seq: start, from: None, payload: None, state: state.map(|s| s.as_str()) };
    if send_json(&mut socket, &welcome).await.is_err() {
        return;
    }
    // A reconnecting browser gets what it missed at once.
    let from = if resumed { start.saturating_sub(REREAD_LOOKBACK) } else { start };
    let mut outcome = deliver(&mut socket, &services, &connection, from, &mut delivered, &mut newest).await;
    let mut session_check = tokio::time::interval(services.video.session_check);
    session_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    session_check.tick().await;
    let mut withdrawn = false;
    while outcome.is_ok() {
        tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    if let Err(reason) = receive(&services, &connection, text.as_str()).await {
                        let _ = send_json(&mut socket, &Outgoing { kind: "error", seq: newest, from: None, payload: Some(reason), state: None }).await;
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    let _ = send_json(&mut socket, &Outgoing { kind: "error", seq: newest, from: None, payload: Some("text frames only"), state: None }).await;
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
            },
            wake = wakes.recv() => {
                let relevant = match wake {
                    Ok(Wake::Appointment(id)) => id == connection.appointment_id,
                    Ok(Wake::Everything) | Err(RecvError::Lagged(_)) => true,
                    Err(RecvError::Closed) => break,
                };
                if relevant {
                    let from = newest.saturating_sub(REREAD_LOOKBACK);
                    outcome = deliver(&mut socket, &services, &connection, from, &mut delivered, &mut newest).await;
                }
            }
            () = services.lifecycle.draining() => {
                tracing::info!(appointment_id = %connection.appointment_id, "signaling closed: this node is shutting down");
                let frame = CloseFrame { code: RECONNECT, reason: Utf8Bytes::from_static("server restarting; reconnect") };
                let _ = socket.send(Message::Close(Some(frame))).await;
                break;
            }
            _ = session_check.tick() => {
                if let Some((code, reason)) = recheck(&services, &session, &ctx, &connection).await {
                    withdrawn = code == NOT_ALLOWED;
                    tracing::info!(appointment_id = %connection.appointment_id, code, "signaling closed by its check");
                    let frame = CloseFrame { code, reason: Utf8Bytes::from_static(reason) };
                    let _ = socket.send(Message::Close(Some(frame))).await;
                    break;
                }
            }
        }
    }
    // Someone the policy no longer lets in has not "left" the visit: their refusal is audited.
    if withdrawn {
        return;
    }
    if let Err(err) = services.video.leave(&ctx, &connection).await {
        tracing::warn!(appointment_id = %connection.appointment_id, error = %err, "leaving a visit was not recorded");
    }
    tracing::info!(appointment_id = %connection.appointment_id, connection_id = %connection.id, "signaling closed");
}

/// Re-reads the session from the store and re-runs the access decision; why to close, or None
/// to carry on. A refusal is audited by the policy; a session that ended is audited by the
/// logoff (or by whoever ended it).
async fn recheck(
    services: &Services,
    session: &Session,
    ctx: &AuditContext,
    connection: &Connection,
) -> Option<(u16, &'static str)> {
    let context = |actor: Actor| AuditContext { actor, ..ctx.clone() };
    let user = match app::api::context::recheck_user(services, session, &context).await {
        Ok(Some(user)) if user.id == connection.user_id => user,
        Ok(_) => return Some((SIGNED_OUT, "signed out")),
        Err(err) => {
            tracing::error!(error = %err, "re-checking a signaling session failed");
            return Some((CHECK_FAILED, "check failed"));
        }
    };
    match services.video.recheck(&context(user.actor()), connection).await {
        Ok(()) => None,
        Err(Error::Forbidden | Error::NotFound | Error::Conflict(_) | Error::Validation(_)) => {
            Some((NOT_ALLOWED, "not allowed"))
        }
        Err(err) => {
            tracing::error!(error = %err, "re-checking access to a visit failed");
            Some((CHECK_FAILED, "check failed"))
        }
    }
}

/// Stores one frame from the browser. The reason for a refusal names no value.
async fn receive(services: &Services, connection: &Connection, text: &str) -> Result<(), &'static str> {
    let incoming: Incoming = serde_json::from_str(text).map_err(|_| "not a signaling message")?;
    if incoming.kind == "ping" {
        return Ok(());
    }
    let kind = SignalKind::parse(&incoming.kind).filter(|k| k.from_browser()).ok_or("unknown kind of signal")?;
    match services.video.send(connection, kind, incoming.payload.as_deref()).await {
        Ok(_) => Ok(()),
        Err(Error::Validation(_)) => Err("a signaling message is limited to 16 KiB"),
        Err(err) => {
            tracing::error!(appointment_id = %connection.appointment_id, error = %err, "storing a signal failed");
            Err("the message could not be stored; try again")
        }
    }
}

/// Sends every signal after `from` not yet delivered. An error ends the socket.
async fn deliver(
    socket: &mut WebSocket,
    services: &Services,
    connection: &Connection,
    from: i64,
    delivered: &mut BTreeSet<i64>,
    newest: &mut i64,
) -> Result<(), ()> {
    loop {
        let signals = services.video.signals_after(connection, from, delivered).await.map_err(|err| {
            tracing::error!(appointment_id = %connection.appointment_id, error = %err, "reading signals failed");
        })?;
        for Signal { seq, kind, from_patient, payload, .. } in &signals {
            let frame = Outgoing {
                kind: kind.as_str(),
                seq: *seq,
                from: Some(if *from_patient { "patient" } else { "clinician" }),
                payload: payload.as_deref(),
                state: None,
            };
            send_json(socket, &frame).await?;
            delivered.insert(*seq);
            *newest = (*newest).max(*seq);
        }
        // A full page may have left more behind it.
        if signals.len() < SIGNAL_PAGE {
            break;
        }
    }
    // Remember only what a re-read could still return.
    let floor = newest.saturating_sub(REREAD_LOOKBACK);
    delivered.retain(|seq| *seq > floor);
    Ok(())
}

async fn send_json(socket: &mut WebSocket, frame: &Outgoing<'_>) -> Result<(), ()> {
    let text = serde_json::to_string(frame).map_err(|_| ())?;
    socket.send(Message::Text(text.into())).await.map_err(|_| ())
}
