//! Video visits: the room of one appointment (with the ICE servers the browser needs), the
//! patient's waiting room, the clinician's list of who is waiting, admission, the end of the
//! visit and the consult note. The media and its signaling do not pass through here: the
//! browser connects to `/api/video/{appointment}/signal` (server/src/signaling.rs).

use crate::api::codec::Json;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// One STUN or TURN server, as `RTCIceServer` takes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServerView {
    pub urls: Vec<String>,
    pub username: Option<String>,
    pub credential: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VideoRoomView {
    pub appointment_id: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// When the patient may enter the waiting room.
    pub opens_at: DateTime<Utc>,
    /// waiting, admitted, ended, or None before the patient first arrives.
    pub state: Option<String>,
    /// "patient" or "clinician": which side of the call this browser is.
    pub side: String,
    pub clinician: String,
    /// For a clinician: who the patient is, and their id for the consult note.
    pub patient_name: Option<String>,
    pub patient_id: Option<String>,
    pub ice_servers: Vec<IceServerView>,
    /// Whether this browser's user is the visit's own clinician, who may name a delegate.
    pub can_delegate: bool,
    /// The colleague named to take this visit, if any: (id, name).
    pub delegate: Option<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitingView {
    pub appointment_id: String,
    pub starts_at: DateTime<Utc>,
    /// waiting or admitted.
    pub state: String,
    pub waiting_since: Option<DateTime<Utc>>,
    /// Only for a clinician allowed to see the patient.
    pub patient_name: Option<String>,
}

#[cfg(feature = "ssr")]
fn appointment_id(value: &str) -> Result<uuid::Uuid, AppError> {
    super::context::parse_id("appointment_id", value)
}

#[server(endpoint = "video/room", prefix = "/api", input = Json)]
pub async fn video_room(appointment_id: String) -> Result<VideoRoomView, AppError> {
    use crate::domain::audit::{Action, Role};
    let (services, user, ctx) = super::context::signed_in(Action::VideoJoin).await?;
    let room = services.video.room(&ctx, self::appointment_id(&appointment_id)?).await?;
    let names = services.users.workforce_names(room.delegate_id.into_iter().chain([room.clinician_id])).await?;
    let delegate =
        room.delegate_id.map(|id| (id.to_string(), names.get(&id).map_or_else(String::new, |(_, name)| name.clone())));
    let side = if user.role == Role::Patient { "patient" } else { "clinician" };
    let ice_servers = services
        .video
        .ice
        .servers_for(user.id, services.clock.now())
        .into_iter()
        .map(|s| IceServerView { urls: s.urls, username: s.username, credential: s.credential })
        .collect();
    Ok(VideoRoomView {
        appointment_id: room.appointment_id.to_string(),
        starts_at: room.starts_at,
        ends_at: room.ends_at,
        opens_at: room.opens_at,
        state: room.state.map(|s| s.as_str().to_owned()),
        side: side.to_owned(),
        clinician: names.get(&room.clinician_id).map_or_else(String::new, |(_, name)| name.clone()),
        patient_id: room.patient_name.as_ref().map(|_| room.patient_id.to_string()),
        patient_name: room.patient_name,
        ice_servers,
        can_delegate: user.id == room.clinician_id,
        delegate,
    })
}

#[server(endpoint = "video/enter_waiting_room", prefix = "/api", input = Json)]
pub async fn enter_waiting_room(appointment_id: String) -> Result<String, AppError> {
    use crate::domain::audit::Action;
    let (services, _, ctx) = super::context::signed_in(Action::VideoJoin).await?;
    let state = services.video.enter_waiting_room(&ctx, self::appointment_id(&appointment_id)?).await?;
    Ok(state.as_str().to_owned())
}

#[server(endpoint = "video/waiting_room", prefix = "/api", input = Json)]
pub async fn video_waiting_room() -> Result<Vec<WaitingView>, AppError> {
    use crate::domain::audit::Action;
    let (services, _, ctx) = super::context::signed_in(Action::VideoWaitingList).await?;
    Ok(services
        .video
        .waiting_room(&ctx)
        .await?
        .into_iter()
        .map(|item| WaitingView {
            appointment_id: item.appointment_id.to_string(),
            starts_at: item.starts_at,
            state: item.state.as_str().to_owned(),
            waiting_since: item.waiting_since,
            patient_name: item.patient.map(|(_, name)| name),
        })
        .collect())
}

#[server(endpoint = "video/admit", prefix = "/api", input = Json)]
pub async fn admit_patient(appointment_id: String) -> Result<(), AppError> {
    use crate::domain::audit::Action;
    let (services, _, ctx) = super::context::signed_in(Action::VideoAdmit).await?;
    services.video.admit(&ctx, self::appointment_id(&appointment_id)?).await?;
    Ok(())
}

#[server(endpoint = "video/end", prefix = "/api", input = Json)]
pub async fn end_video_visit(appointment_id: String) -> Result<(), AppError> {
    use crate::domain::audit::Action;
    let (services, _, ctx) = super::context::signed_in(Action::VideoEnd).await?;
    services.video.end(&ctx, self::appointment_id(&appointment_id)?).await?;
    Ok(())
}

/// The visit's clinician names a colleague (a clinician's account id) to join, admit and end
/// this visit in their place, or removes the delegate (`delegate_id` None). Audited.
#[server(endpoint = "video/name_delegate", prefix = "/api", input = Json)]
pub async fn name_delegate(appointment_id: String, delegate_id: Option<String>) -> Result<(), AppError> {
    use crate::domain::audit::Action;
    use crate::domain::ids::UserId;
    let (services, _, ctx) = super::context::signed_in(Action::VideoDelegate).await?;
    let id = self::appointment_id(&appointment_id)?;
    let delegate = match delegate_id.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        Some(value) => Some(UserId(super::context::parse_id("delegate_id", value)?)),
        None => None,
    };
    services.video.name_delegate(&ctx, id, delegate).await?;
    Ok(())
}
