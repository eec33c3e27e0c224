//! Video visits: the waiting room, admission, the signaling that lets two browsers set up a
//! direct WebRTC call, and the end of the visit.
//!
//! A video visit is an appointment of a video visit type. Its patient may enter the waiting
//! room from [`EARLY_ENTRY`] before it starts until it ends; the appointment's clinician, or the
//! one colleague they name as delegate for it (the access policy's `video.*` actions), admits
//! them and ends the visit. Joining,
//! admitting, leaving and ending are audited like any other access to the patient; signaling
//! messages are not audited one by one (a call exchanges dozens of ICE candidates), the
//! connection that carries them is.
//!
//! Media never passes through the app: the server only relays signaling, stored in
//! `video_signal` so that any node can deliver it (see [`hub`]).

mod delegate;
pub mod hub;
pub mod ice;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use uuid::Uuid;

use self::hub::SignalHub;
use self::ice::IceConfig;
use super::Error;
use super::access::{Guard, Permit};
use super::audit::{Action, AuditContext, AuditLog, Role};
use super::clock::Clock;
use super::crypto::{DataKeys, FieldRef};
use super::entities::{appointment, video_session, video_signal, visit_type};
use super::ids::{PatientId, UserId};
use super::patients::display_name;

const TABLE: &str = "video_session";
const SIGNAL_TABLE: &str = "video_signal";

/// How long before its start a patient may enter the waiting room.
pub const EARLY_ENTRY: Duration = Duration::minutes(15);
/// The largest signaling payload accepted: an SDP with many candidates is a few KiB.
pub const MAX_PAYLOAD: usize = 16 * 1024;
/// How far back, in sequence numbers, a re-read looks behind the newest signal seen. On
/// PostgreSQL sequence numbers are taken before commit, so a row can become visible after a
/// later one; connections remember what they delivered and skip it.
pub const REREAD_LOOKBACK: i64 = 1_000;
/// How often an open connection is re-checked unless configured otherwise.
pub const DEFAULT_SESSION_CHECK: std::time::Duration = std::time::Duration::from_secs(30);
/// At most this many signals are read at once; a reader that gets a full page reads again.
pub const SIGNAL_PAGE: usize = 500;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoomState {
    Waiting,
    Admitted,
    Ended,
}

impl RoomState {
    pub fn as_str(self) -> &'static str {
        match self {
            RoomState::Waiting => "waiting",
            RoomState::Admitted => "admitted",
            RoomState::Ended => "ended",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        match value {
            "waiting" => Some(RoomState::Waiting),
            "admitted" => Some(RoomState::Admitted),
            "ended" => Some(RoomState::Ended),
            _ => None,
        }
    }
}

/// What a signaling message is. Browsers send the first five; the server writes the rest
/// when the room changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignalKind {
    /// "I am here with my camera": the clinician's browser answers a patient's with an offer.
    Hello,
    Offer,
    Answer,
    Ice,
    /// The sender hung up.
    Bye,
    Waiting,
    Admitted,
    Left,
    Ended,
}

impl SignalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SignalKind::Hello => "hello",
            SignalKind::Offer => "offer",
            SignalKind::Answer => "answer",
            SignalKind::Ice => "ice",
            SignalKind::Bye => "bye",
            SignalKind::Waiting => "waiting",
            SignalKind::Admitted => "admitted",
            SignalKind::Left => "left",
            SignalKind::Ended => "ended",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "hello" => SignalKind::Hello,
            "offer" => SignalKind::Offer,
            "answer" => SignalKind::Answer,
            "ice" => SignalKind::Ice,
            "bye" => SignalKind::Bye,
            "waiting" => SignalKind::Waiting,
            "admitted" => SignalKind::Admitted,
            "left" => SignalKind::Left,
            "ended" => SignalKind::Ended,
            _ => return None,
        })
    }

    /// May a browser send this kind? Room events come from the server only.
    pub fn from_browser(self) -> bool {
        matches!(self, SignalKind::Hello | SignalKind::Offer | SignalKind::Answer | SignalKind::Ice | SignalKind::Bye)
    }
}

/// A video appointment as its room shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VideoRoom {
    pub appointment_id: Uuid,
    pub patient_id: PatientId,
    pub clinician_id: UserId,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// None until the patient first enters the waiting room.
    pub state: Option<RoomState>,
    /// When the waiting room opens for the patient.
    pub opens_at: DateTime<Utc>,
    /// The patient's name, for a clinician (the patient knows their own).
    pub patient_name: Option<String>,
    /// The colleague the clinician named for this visit, if any.
    pub delegate_id: Option<UserId>,
}

/// One person waiting (or in the visit) for a clinician's waiting-room list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitingItem {
    pub appointment_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub state: RoomState,
    pub waiting_since: Option<DateTime<Utc>>,
    /// Named only to a clinician allowed to see the patient.
    pub patient: Option<(PatientId, String)>,
}

/// An open signaling connection of one browser to one visit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    pub id: Uuid,
    pub appointment_id: Uuid,
    pub patient_id: PatientId,
    pub user_id: UserId,
    pub role: Role,
    data_key_id: Uuid,
}

/// A signal as delivered to a browser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signal {
    pub seq: i64,
    pub kind: SignalKind,
    pub from_patient: bool,
    pub connection_id: Uuid,
    pub payload: Option<String>,
}

#[derive(Clone)]
pub struct VideoRepo {
    db: DatabaseConnection,
    keys: Arc<DataKeys>,
    audit: Arc<AuditLog>,
    clock: Arc<dyn Clock>,
    guard: Guard,
    pub hub: SignalHub,
    pub ice: IceConfig,
    /// How often an open signaling connection re-reads its session and re-asks the policy.
    pub session_check: std::time::Duration,
}

impl std::fmt::Debug for VideoRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VideoRepo")
    }
}

impl VideoRepo {
    pub fn new(
        db: DatabaseConnection,
        keys: Arc<DataKeys>,
        audit: Arc<AuditLog>,
        clock: Arc<dyn Clock>,
        guard: Guard,
    ) -> Self {
        let hub = SignalHub::new(db.get_database_backend());
        Self { db, keys, audit, clock, guard, hub, ice: IceConfig::default(), session_check: DEFAULT_SESSION_CHECK }
    }

    /// The visit's room, for its page. Audited as a join of kind `page`.
    #[tracing::instrument(skip_all, fields(appointment_id = %id))]
    pub async fn room(&self, ctx: &AuditContext, id: Uuid) -> Result<VideoRoom, Error> {
        let (row, permit) = self.permit(ctx, id, Action::VideoJoin).await?;
        let session = video_session::Entity::find_by_id(id).one(&self.db).await?;
        let patient_name = match ctx.actor.role {
            Role::Clinician => Some(display_name(&self.keys, &self.db, PatientId(row.patient_id)).await?),
            _ => None,
        };
        let delegate_id = self.delegate_of(id).await?;
        self.record(&permit, Action::VideoJoin, id, "page").await?;
        Ok(VideoRoom { patient_name, delegate_id, ..room(&row, session.as_ref()) })
    }

    /// The patient enters the waiting room: from [`EARLY_ENTRY`] before the start until the end.
    #[tracing::instrument(skip_all, fields(appointment_id = %id))]
    pub async fn enter_waiting_room(&self, ctx: &AuditContext, id: Uuid) -> Result<RoomState, Error> {
        let (row, permit) = self.permit(ctx, id, Action::VideoJoin).await?;
        if ctx.actor.role != Role::Patient {
            return Err(Error::validation("appointment_id", "only the patient waits in the waiting room"));
        }
        let now = self.clock.now();
        if now < row.starts_at - EARLY_ENTRY {
            return Err(Error::validation(
                "appointment_id",
                "the waiting room opens 15 minutes before the visit starts",
            ));
        }
        if now >= row.ends_at {
            return Err(Error::validation("appointment_id", "the time of this visit has passed"));
        }
        let txn = self.db.begin().await?;
        let existing = video_session::Entity::find_by_id(id).one(&txn).await?;
        let state = match existing.as_ref().and_then(|s| RoomState::parse(&s.state)) {
            Some(RoomState::Ended) => {
                txn.rollback().await?;
                return Err(Error::Conflict("this visit has ended".to_owned()));
            }
            Some(state) => state,
            None => {
                video_session::ActiveModel {
                    appointment_id: Set(id),
                    state: Set(RoomState::Waiting.as_str().to_owned()),
                    waiting_since: Set(Some(now)),
                    admitted_at: Set(None),
                    admitted_by: Set(None),
                    ended_at: Set(None),
                    ended_by: Set(None),
                    updated_at: Set(now),
                }
                .insert(&txn)
                .await?;
                RoomState::Waiting
            }
        };
        self.audit.append(&txn, &permit.ctx, permit.step(Action::VideoJoin, TABLE, id, "waiting")).await?;
        self.insert_signal(&txn, &origin(&row, ctx, Uuid::nil())?, SignalKind::Waiting, None).await?;
        txn.commit().await?;
        self.hub.committed(id);
        Ok(state)
    }

    /// A clinician admits the waiting patient into the visit.
    #[tracing::instrument(skip_all, fields(appointment_id = %id))]
    pub async fn admit(&self, ctx: &AuditContext, id: Uuid) -> Result<(), Error> {
        let (row, permit) = self.permit(ctx, id, Action::VideoAdmit).await?;
        let txn = self.db.begin().await?;
        let existing = video_session::Entity::find_by_id(id).one(&txn).await?;
        match existing.as_ref().and_then(|s| RoomState::parse(&s.state)) {
            None => {
                txn.rollback().await?;
                return Err(Error::Conflict("the patient is not in the waiting room".to_owned()));
            }
            Some(RoomState::Ended) => {
                txn.rollback().await?;
                return Err(Error::Conflict("this visit has ended".to_owned()));
            }
            Some(RoomState::Waiting | RoomState::Admitted) => {}
        }
        let now = self.clock.now();
        video_session::Entity::update_many()
            .col_expr(video_session::Column::State, Expr::value(RoomState::Admitted.as_str()))
            .col_expr(video_session::Column::AdmittedAt, Expr::value(now))
            .col_expr(video_session::Column::AdmittedBy, Expr::value(ctx.actor.user_id.map(|u| u.0)))
            .col_expr(video_session::Column::UpdatedAt, Expr::value(now))
            .filter(video_session::Column::AppointmentId.eq(id))
            .exec(&txn)
            .await?;
        self.audit.append(&txn, &permit.ctx, permit.step(Action::VideoAdmit, TABLE, id, "admitted")).await?;
        self.insert_signal(&txn, &origin(&row, ctx, Uuid::nil())?, SignalKind::Admitted, None).await?;
        txn.commit().await?;
        self.hub.committed(id);
        Ok(())
    }

    /// Opens a signaling connection (the browser's WebSocket). The patient connects once in the
    /// waiting room; a clinician allowed to see the patient at any time before the end.
    /// Refusals are audited by the policy; the connection itself is audited as a join.
    #[tracing::instrument(skip_all, fields(appointment_id = %id))]
    pub async fn connect(&self, ctx: &AuditContext, id: Uuid) -> Result<Connection, Error> {
        let (row, permit) = self.permit(ctx, id, Action::VideoJoin).await?;
        let state = video_session::Entity::find_by_id(id).one(&self.db).await?.and_then(|s| RoomState::parse(&s.state));
        let refusal = match (ctx.actor.role, state) {
            (_, Some(RoomState::Ended)) => Some("ended"),
            (Role::Patient, None) => Some("not-in-waiting-room"),
            _ => None,
        };
        if let Some(reason) = refusal {
            let entry = permit.failure(Action::VideoJoin, TABLE, Some(id.to_string()), reason);
            self.audit.record(&self.db, &permit.ctx, entry).await?;
            return Err(Error::Conflict(match reason {
                "ended" => "this visit has ended".to_owned(),
                _ => "enter the waiting room first".to_owned(),
            }));
        }
        let user_id = ctx.actor.user_id.ok_or(Error::Unauthenticated)?;
        self.record(&permit, Action::VideoJoin, id, "connect").await?;
        Ok(Connection {
            id: Uuid::now_v7(),
            appointment_id: id,
            patient_id: PatientId(row.patient_id),
            user_id,
            role: ctx.actor.role,
            data_key_id: row.data_key_id,
        })
    }

    /// Asks the policy again whether the connection's user may still be in the visit (a
    /// delegate removed, an account's role changed, the appointment cancelled). A refusal is
    /// audited; an allowed re-check writes no row, the connection's join already did.
    pub async fn recheck(&self, ctx: &AuditContext, connection: &Connection) -> Result<(), Error> {
        if ctx.actor.user_id != Some(connection.user_id) {
            return Err(Error::Forbidden);
        }
        self.permit(ctx, connection.appointment_id, Action::VideoJoin).await.map(|_| ())
    }

    /// The browser hung up (or its connection closed): audited, and the other side told.
    #[tracing::instrument(skip_all, fields(appointment_id = %connection.appointment_id))]
    pub async fn leave(&self, ctx: &AuditContext, connection: &Connection) -> Result<(), Error> {
        let (row, permit) = self.permit(ctx, connection.appointment_id, Action::VideoLeave).await?;
        let txn = self.db.begin().await?;
        self.audit.append(&txn, &permit.ctx, permit.step(Action::VideoLeave, TABLE, row.id, "left")).await?;
        self.insert_signal(&txn, &origin(&row, ctx, connection.id)?, SignalKind::Left, None).await?;
        txn.commit().await?;
        self.hub.committed(row.id);
        Ok(())
    }

    /// A clinician ends the visit: the room closes for everyone and the appointment is
    /// completed.
    #[tracing::instrument(skip_all, fields(appointment_id = %id))]
    pub async fn end(&self, ctx: &AuditContext, id: Uuid) -> Result<(), Error> {
        let (row, permit) = self.permit(ctx, id, Action::VideoEnd).await?;
        let now = self.clock.now();
        let txn = self.db.begin().await?;
        let existing = video_session::Entity::find_by_id(id).one(&txn).await?;
        match existing {
            Some(session) if session.state == RoomState::Ended.as_str() => {
                txn.rollback().await?;
                return Err(Error::Conflict("this visit has already ended".to_owned()));
            }
            Some(_) => {
                video_session::Entity::update_many()
                    .col_expr(video_session::Column::State, Expr::value(RoomState::Ended.as_str()))
                    .col_expr(video_session::Column::EndedAt, Expr::value(now))
                    .col_expr(video_session::Column::EndedBy, Expr::value(ctx.actor.user_id.map(|u| u.0)))
                    .col_expr(video_session::Column::UpdatedAt, Expr::value(now))
                    .filter(video_session::Column::AppointmentId.eq(id))
                    .exec(&txn)
                    .await?;
            }
            None => {
                video_session::ActiveModel {
                    appointment_id: Set(id),
                    state: Set(RoomState::Ended.as_str().to_owned()),
                    waiting_since: Set(None),
                    admitted_at: Set(None),
                    admitted_by: Set(None),
                    ended_at: Set(Some(now)),
                    ended_by: Set(ctx.actor.user_id.map(|u| u.0)),
                    updated_at: Set(now),
                }
                .insert(&txn)
                .await?;
            }
        }
        appointment::Entity::update_many()
            .col_expr(appointment::Column::Status, Expr::value("completed"))
            .col_expr(appointment::Column::Version, Expr::value(row.version + 1))
            .col_expr(appointment::Column::UpdatedAt, Expr::value(now))
            .col_expr(appointment::Column::UpdatedBy, Expr::value(ctx.actor.user_id.map(|u| u.0)))
            .filter(appointment::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        self.audit.append(&txn, &permit.ctx, permit.step(Action::VideoEnd, TABLE, id, "ended")).await?;
        self.insert_signal(&txn, &origin(&row, ctx, Uuid::nil())?, SignalKind::Ended, None).await?;
        txn.commit().await?;
        self.hub.committed(id);
        Ok(())
    }

    /// Stores a browser's signal for the other side and wakes the nodes that carry the visit.
    pub async fn send(&self, connection: &Connection, kind: SignalKind, payload: Option<&str>) -> Result<i64, Error> {
        if !kind.from_browser() {
            return Err(Error::validation("kind", "this kind of signal comes from the server only"));
        }
        if payload.is_some_and(|p| p.len() > MAX_PAYLOAD) {
            return Err(Error::validation("payload", "a signaling message is limited to 16 KiB"));
        }
        let origin = Origin {
            appointment_id: connection.appointment_id,
            data_key_id: connection.data_key_id,
            sender: connection.user_id.0,
            connection: connection.id,
        };
        let txn = self.db.begin().await?;
        let seq = self.insert_signal(&txn, &origin, kind, payload).await?;
        txn.commit().await?;
        self.hub.committed(connection.appointment_id);
        Ok(seq)
    }

    /// Signals of the connection's visit after `after`, oldest first, except its own and those
    /// in `delivered`.
    pub async fn signals_after(
        &self,
        connection: &Connection,
        after: i64,
        delivered: &std::collections::BTreeSet<i64>,
    ) -> Result<Vec<Signal>, Error> {
        // Sequence numbers first (cheap), so a window full of delivered rows never hides a
        // new one behind the page limit; then the rows still to deliver, oldest first.
        let seqs: Vec<i64> = video_signal::Entity::find()
            .select_only()
            .column(video_signal::Column::Seq)
            .filter(video_signal::Column::AppointmentId.eq(connection.appointment_id))
            .filter(video_signal::Column::Seq.gt(after))
            .filter(video_signal::Column::ConnectionId.ne(connection.id))
            .order_by_asc(video_signal::Column::Seq)
            .into_tuple()
            .all(&self.db)
            .await?;
        let missing: Vec<i64> = seqs.into_iter().filter(|seq| !delivered.contains(seq)).take(SIGNAL_PAGE).collect();
        if missing.is_empty() {
            return Ok(Vec::new());
        }
        let rows = video_signal::Entity::find()
            .filter(video_signal::Column::Seq.is_in(missing))
            .order_by_asc(video_signal::Column::Seq)
            .all(&self.db)
            .await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let key = self.keys.get(&self.db, connection.data_key_id).await?;
        let patient_user = self.patient_user(connection.patient_id).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let Some(kind) = SignalKind::parse(&row.kind) else { continue };
            let payload = row
                .payload
                .as_ref()
                .map(|p| key.open_string(FieldRef::new(SIGNAL_TABLE, "payload", row.id), p))
                .transpose()?;
            out.push(Signal {
                seq: row.seq,
                kind,
                from_patient: patient_user == Some(row.sender_id),
                connection_id: row.connection_id,
                payload,
            });
        }
        Ok(out)
    }

    /// The newest signal of the visit: where a fresh connection starts.
    pub async fn latest_seq(&self, appointment: Uuid) -> Result<i64, Error> {
        let row = video_signal::Entity::find()
            .filter(video_signal::Column::AppointmentId.eq(appointment))
            .order_by_desc(video_signal::Column::Seq)
            .one(&self.db)
            .await?;
        Ok(row.map_or(0, |r| r.seq))
    }

    /// The room's state now.
    pub async fn state(&self, appointment: Uuid) -> Result<Option<RoomState>, Error> {
        let session = video_session::Entity::find_by_id(appointment).one(&self.db).await?;
        Ok(session.and_then(|s| RoomState::parse(&s.state)))
    }

    /// The clinician's video visits today (their own and those delegated to them) that have a
    /// patient waiting or in progress.
    #[tracing::instrument(skip_all)]
    pub async fn waiting_room(&self, ctx: &AuditContext) -> Result<Vec<WaitingItem>, Error> {
        let permit = self.guard.check(ctx, Action::VideoWaitingList, TABLE, None).await?;
        let me = ctx.actor.user_id.ok_or(Error::Unauthenticated)?;
        let now = self.clock.now();
        let sessions = video_session::Entity::find()
            .filter(video_session::Column::State.is_in([RoomState::Waiting.as_str(), RoomState::Admitted.as_str()]))
            .all(&self.db)
            .await?;
        let ids: Vec<Uuid> = sessions.iter().map(|s| s.appointment_id).collect();
        let delegated = self.delegated_to(me, &ids).await?;
        let appointments = appointment::Entity::find()
            .filter(appointment::Column::Id.is_in(ids))
            .filter(
                sea_orm::Condition::any()
                    .add(appointment::Column::ClinicianId.eq(me.0))
                    .add(appointment::Column::Id.is_in(delegated)),
            )
            .filter(appointment::Column::EndsAt.gt(now - Duration::hours(2)))
            .order_by_asc(appointment::Column::StartsAt)
            .all(&self.db)
            .await?;
        let mut items = Vec::with_capacity(appointments.len());
        let txn = self.db.begin().await?;
        self.audit.append(&txn, &permit.ctx, permit.entry(Action::VideoWaitingList, TABLE, None)).await?;
        for row in appointments {
            let Some(session) = sessions.iter().find(|s| s.appointment_id == row.id) else { continue };
            let patient = PatientId(row.patient_id);
            let (relationship, _) = self.guard.relationship(&txn, me, patient).await?;
            let named = if relationship.any() {
                let mut shown = permit.entry(Action::AppointmentRead, TABLE, Some(row.id.to_string()));
                shown.patient_id = Some(patient.0);
                self.audit.append(&txn, &permit.ctx, shown).await?;
                Some((patient, display_name(&self.keys, &txn, patient).await?))
            } else {
                None
            };
            items.push(WaitingItem {
                appointment_id: row.id,
                starts_at: row.starts_at,
                state: RoomState::parse(&session.state).unwrap_or(RoomState::Waiting),
                waiting_since: session.waiting_since,
                patient: named,
            });
        }
        txn.commit().await?;
        Ok(items)
    }

    /// Loads a video appointment and asks the policy about `action` on it (its patient, and
    /// whether the actor is its clinician or delegate). An unknown appointment is refused (and
    /// audited) like one the actor may not see.
    async fn permit(
        &self,
        ctx: &AuditContext,
        id: Uuid,
        action: Action,
    ) -> Result<(appointment::Model, Permit), Error> {
        let row = appointment::Entity::find_by_id(id).one(&self.db).await?;
        let permit = self.guard.check_visit(ctx, action, TABLE, row.as_ref()).await?;
        let row = row.ok_or(Error::NotFound)?;
        let kind = visit_type::Entity::find_by_id(row.visit_type_id).one(&self.db).await?.ok_or(Error::NotFound)?;
        if kind.modality != "video" {
            return Err(Error::validation("appointment_id", "this is not a video visit"));
        }
        if !matches!(row.status.as_str(), "confirmed" | "completed") {
            return Err(Error::Conflict("this appointment is not confirmed".to_owned()));
        }
        Ok((row, permit))
    }

    async fn record(&self, permit: &Permit, action: Action, id: Uuid, what: &str) -> Result<(), Error> {
        self.audit.record(&self.db, &permit.ctx, permit.step(action, TABLE, id, what)).await
    }

    /// Writes one signal in `txn`, its payload sealed and bound to the row, and has it
    /// NOTIFYed to the other nodes when `txn` commits.
    async fn insert_signal(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        origin: &Origin,
        kind: SignalKind,
        payload: Option<&str>,
    ) -> Result<i64, Error> {
        let id = Uuid::now_v7();
        let sealed = match payload {
            Some(payload) => {
                let key = self.keys.get(txn, origin.data_key_id).await?;
                Some(key.seal_str(FieldRef::new(SIGNAL_TABLE, "payload", id), payload)?)
            }
            None => None,
        };
        let inserted = video_signal::ActiveModel {
            seq: sea_orm::ActiveValue::NotSet,
            id: Set(id),
            appointment_id: Set(origin.appointment_id),
            sender_id: Set(origin.sender),
            connection_id: Set(origin.connection),
            kind: Set(kind.as_str().to_owned()),
            data_key_id: Set(origin.data_key_id),
            payload: Set(sealed),
            created_at: Set(self.clock.now()),
        }
        .insert(txn)
        .await?;
        self.hub.notify_in(txn, origin.appointment_id, inserted.seq).await?;
        Ok(inserted.seq)
    }

    async fn patient_user(&self, patient: PatientId) -> Result<Option<Uuid>, Error> {
        use super::entities::app_user;
        let user = app_user::Entity::find().filter(app_user::Column::PatientId.eq(patient.0)).one(&self.db).await?;
        Ok(user.map(|u| u.id))
    }
}

/// Where a signal comes from: its visit and the patient's data key, the user, and the browser
/// connection (nil for the room events the server writes).
struct Origin {
    appointment_id: Uuid,
    data_key_id: Uuid,
    sender: Uuid,
    connection: Uuid,
}

/// The origin of a room event `ctx`'s user caused.
fn origin(row: &appointment::Model, ctx: &AuditContext, connection: Uuid) -> Result<Origin, Error> {
    let sender = ctx.actor.user_id.ok_or(Error::Unauthenticated)?;
    Ok(Origin { appointment_id: row.id, data_key_id: row.data_key_id, sender: sender.0, connection })
}

fn room(row: &appointment::Model, session: Option<&video_session::Model>) -> VideoRoom {
    VideoRoom {
        appointment_id: row.id,
        patient_id: PatientId(row.patient_id),
        clinician_id: UserId(row.clinician_id),
        starts_at: row.starts_at,
        ends_at: row.ends_at,
        state: session.and_then(|s| RoomState::parse(&s.state)),
        opens_at: row.starts_at - EARLY_ENTRY,
        patient_name: None,
        delegate_id: None,
    }
}
