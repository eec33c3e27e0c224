//! Scheduling: visit types with the clinic's self-scheduling switches, clinicians' weekly hours
//! and exceptions in the clinic's time zone, and appointments. Times are stored in UTC and
//! turned into local time only for slots and display.
//!
//! Double-booking is refused by the database (one `appointment_slot` row per 15-minute cell,
//! keyed by clinician and cell), so concurrent bookings of one slot leave exactly one winner on
//! both backends. The reason for the visit is PHI: sealed under the patient's data key, and
//! every booking, change and read of it is audited under the access policy.

pub mod reminders;
pub mod slots;

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};
use uuid::Uuid;

use self::slots::{Span, WeeklyHours};
use super::Error;
use super::access::{Guard, Permit};
use super::audit::{Action, AuditContext, AuditLog, Role};
use super::clock::Clock;
use super::crypto::{DataKeys, FieldRef};
use super::entities::{appointment, appointment_slot, availability, availability_exception, job, visit_type};
use super::ids::{PatientId, UserId};
use super::patients::{display_names, live};

const TABLE: &str = "appointment";
pub const REMINDER_JOB: &str = "appointment_reminder";
/// The most rows a list of visits or time off holds: a bound on every answer.
pub const LIST_LIMIT: u64 = 200;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Requested,
    Confirmed,
    Cancelled,
    NoShow,
    Completed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Requested => "requested",
            Status::Confirmed => "confirmed",
            Status::Cancelled => "cancelled",
            Status::NoShow => "no_show",
            Status::Completed => "completed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Status::Requested, Status::Confirmed, Status::Cancelled, Status::NoShow, Status::Completed]
            .into_iter()
            .find(|s| s.as_str() == value)
    }

    /// Whether the appointment still holds its time.
    pub fn is_active(self) -> bool {
        matches!(self, Status::Requested | Status::Confirmed)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VisitType {
    pub id: Uuid,
    pub name: String,
    pub video: bool,
    pub duration: Duration,
    pub self_schedule: bool,
    pub requires_approval: bool,
    pub active: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewVisitType {
    pub name: String,
    pub video: bool,
    pub duration_minutes: i32,
    pub self_schedule: bool,
    pub requires_approval: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Booking {
    pub patient: PatientId,
    pub clinician: UserId,
    pub visit_type: Uuid,
    pub starts_at: DateTime<Utc>,
    pub reason: String,
}

/// An appointment as its patient, or a clinician allowed to see the patient, sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appointment {
    pub id: Uuid,
    pub patient_id: PatientId,
    pub clinician_id: UserId,
    pub visit_type: Uuid,
    pub span: Span,
    pub status: Status,
    pub reason: String,
    pub cancel_reason: Option<String>,
    pub version: i32,
}

/// One appointment on a calendar. The patient is named only to a reader allowed to see them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalendarItem {
    pub id: Uuid,
    pub clinician_id: UserId,
    pub span: Span,
    pub status: Status,
    pub visit_type: Uuid,
    /// The patient's id and name, or None: "busy".
    pub patient: Option<(PatientId, String)>,
}

#[derive(Clone)]
pub struct ScheduleRepo {
    db: DatabaseConnection,
    keys: Arc<DataKeys>,
    audit: Arc<AuditLog>,
    clock: Arc<dyn Clock>,
    guard: Guard,
    /// The clinic's time zone: weekly hours are written in it.
    pub zone: Tz,
    /// How long before a visit its reminder goes out.
    pub reminder_lead: Duration,
}

impl std::fmt::Debug for ScheduleRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ScheduleRepo")
    }
}

impl ScheduleRepo {
    pub fn new(
        db: DatabaseConnection,
        keys: Arc<DataKeys>,
        audit: Arc<AuditLog>,
        clock: Arc<dyn Clock>,
        guard: Guard,
    ) -> Self {
        Self { db, keys, audit, clock, guard, zone: chrono_tz::UTC, reminder_lead: Duration::hours(24) }
    }

    pub async fn create_visit_type(&self, ctx: &AuditContext, new: NewVisitType) -> Result<Uuid, Error> {
        let permit = self.guard.check(ctx, Action::VisitTypeManage, "visit_type", None).await?;
        let name = new.name.trim();
        if name.is_empty() || name.chars().count() > 80 {
            return Err(Error::validation("name", "must be 1 to 80 characters"));
        }
        if !(15..=240).contains(&new.duration_minutes) || new.duration_minutes % 15 != 0 {
            return Err(Error::validation("duration_minutes", "must be 15 to 240 minutes, in steps of 15"));
        }
        let now = self.clock.now();
        let id = Uuid::now_v7();
        let txn = self.db.begin().await?;
        visit_type::ActiveModel {
            id: Set(id),
            name: Set(name.to_owned()),
            modality: Set(if new.video { "video" } else { "in_person" }.to_owned()),
            duration_minutes: Set(new.duration_minutes),
            self_schedule: Set(new.self_schedule),
            requires_approval: Set(new.requires_approval),
            active: Set(true),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await?;
        self.audit
            .append(&txn, &permit.ctx, permit.entry(Action::VisitTypeManage, "visit_type", Some(id.to_string())))
            .await?;
        txn.commit().await?;
        Ok(id)
    }

    /// The admin's switches: may patients book this visit type online, and does a portal
    /// booking wait for staff approval?
    pub async fn set_self_scheduling(
        &self,
        ctx: &AuditContext,
        id: Uuid,
        self_schedule: bool,
        requires_approval: bool,
    ) -> Result<(), Error> {
        let permit = self.guard.check(ctx, Action::VisitTypeManage, "visit_type", None).await?;
        let txn = self.db.begin().await?;
        let result = visit_type::Entity::update_many()
            .col_expr(visit_type::Column::SelfSchedule, Expr::value(self_schedule))
            .col_expr(visit_type::Column::RequiresApproval, Expr::value(requires_approval))
            .col_expr(visit_type::Column::UpdatedAt, Expr::value(self.clock.now()))
            .filter(visit_type::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        if result.rows_affected == 0 {
            txn.rollback().await?;
            return Err(Error::NotFound);
        }
        let mut changed = permit.entry(Action::VisitTypeManage, "visit_type", Some(id.to_string()));
        changed.rule =
            Some(format!("{}:self_schedule={self_schedule},approval={requires_approval}", permit.decision.rule));
        self.audit.append(&txn, &permit.ctx, changed).await?;
        txn.commit().await?;
        Ok(())
    }

    pub async fn visit_types(&self) -> Result<Vec<VisitType>, Error> {
        Ok(visit_type::Entity::find()
            .order_by_asc(visit_type::Column::Name)
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_visit_type)
            .collect())
    }

    /// Replaces a clinician's weekly hours. An admin sets anyone's; a clinician their own.
    pub async fn set_weekly_hours(
        &self,
        ctx: &AuditContext,
        clinician: UserId,
        hours: &[WeeklyHours],
    ) -> Result<(), Error> {
        let permit = self.manage(ctx).await?;
        if ctx.actor.role == Role::Clinician && ctx.actor.user_id != Some(clinician) {
            return Err(self.refuse(ctx, "availability", "not-own-hours").await);
        }
        if hours.iter().any(|h| h.end <= h.start) {
            return Err(Error::validation("hours", "each block must end after it starts"));
        }
        let now = self.clock.now();
        let txn = self.db.begin().await?;
        availability::Entity::delete_many()
            .filter(availability::Column::ClinicianId.eq(clinician.0))
            .exec(&txn)
            .await?;
        for block in hours {
            availability::ActiveModel {
                id: Set(Uuid::now_v7()),
                clinician_id: Set(clinician.0),
                weekday: Set(i32::try_from(block.weekday.num_days_from_monday()).unwrap_or(0)),
                start_time: Set(block.start.format("%H:%M").to_string()),
                end_time: Set(block.end.format("%H:%M").to_string()),
                created_at: Set(now),
            }
            .insert(&txn)
            .await?;
        }
        self.audit
            .append(
                &txn,
                &permit.ctx,
                permit.entry(Action::ScheduleManage, "availability", Some(clinician.to_string())),
            )
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Time off for one clinician, or a holiday for the whole clinic (`clinician` None).
    pub async fn add_exception(
        &self,
        ctx: &AuditContext,
        clinician: Option<UserId>,
        span: Span,
    ) -> Result<Uuid, Error> {
        let permit = self.manage(ctx).await?;
        if ctx.actor.role == Role::Clinician && (clinician.is_none() || ctx.actor.user_id != clinician) {
            return Err(self.refuse(ctx, "availability_exception", "not-own-hours").await);
        }
        if span.end <= span.start {
            return Err(Error::validation("ends_at", "must be after the start"));
        }
        let id = Uuid::now_v7();
        let txn = self.db.begin().await?;
        availability_exception::ActiveModel {
            id: Set(id),
            clinician_id: Set(clinician.map(|c| c.0)),
            kind: Set(if clinician.is_some() { "time_off" } else { "holiday" }.to_owned()),
            starts_at: Set(span.start),
            ends_at: Set(span.end),
            created_at: Set(self.clock.now()),
            created_by: Set(ctx.actor.user_id.map(|u| u.0)),
        }
        .insert(&txn)
        .await?;
        self.audit
            .append(
                &txn,
                &permit.ctx,
                permit.entry(Action::ScheduleManage, "availability_exception", Some(id.to_string())),
            )
            .await?;
        txn.commit().await?;
        Ok(id)
    }

    /// Open slots of `visit_type` with `clinician` on the clinic-local dates `from..=to`. A slot
    /// shows no patient, so anyone signed in may ask.
    pub async fn open_slots(
        &self,
        clinician: UserId,
        visit_type: Uuid,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Span>, Error> {
        let kind = self.visit_type(visit_type).await?;
        let (hours, mut busy) = self.hours_and_exceptions(clinician, from, to).await?;
        let window = self.window(from, to);
        let taken = appointment::Entity::find()
            .filter(appointment::Column::ClinicianId.eq(clinician.0))
            .filter(appointment::Column::Status.is_in([Status::Requested.as_str(), Status::Confirmed.as_str()]))
            .filter(appointment::Column::StartsAt.lt(window.end))
            .filter(appointment::Column::EndsAt.gt(window.start))
            .all(&self.db)
            .await?;
        busy.extend(taken.into_iter().map(|a| Span { start: a.starts_at, end: a.ends_at }));
        Ok(slots::open_slots(self.zone, &hours, &busy, kind.duration, from, to, self.clock.now()))
    }

    /// Books a visit. A patient books their own, only for a visit type open to self-scheduling;
    /// it is confirmed at once or waits for approval, as the visit type says. Staff book for
    /// patients they may schedule for. A slot someone else holds is a conflict.
    #[tracing::instrument(skip_all, fields(patient_id = %booking.patient, clinician_id = %booking.clinician))]
    pub async fn book(&self, ctx: &AuditContext, booking: Booking) -> Result<(Uuid, Status), Error> {
        let permit = self.guard.check(ctx, Action::AppointmentBook, TABLE, Some(booking.patient)).await?;
        let kind = self.visit_type(booking.visit_type).await?;
        if !kind.active {
            return Err(Error::validation("visit_type", "this visit type is no longer offered"));
        }
        let by_patient = ctx.actor.role == Role::Patient;
        if by_patient && !kind.self_schedule {
            return Err(Error::validation(
                "visit_type",
                "this visit type cannot be booked online; please call the clinic",
            ));
        }
        let reason = validate_reason(&booking.reason)?;
        let span = Span::starting(booking.starts_at, kind.duration)?;
        // The platform itself (seeding a demo, importing a clinic's existing visits) books what
        // was already agreed; people book only within the clinician's hours.
        if ctx.actor.role != Role::System {
            self.require_open_hours(booking.clinician, &kind, span).await?;
        }
        let status = if by_patient && kind.requires_approval { Status::Requested } else { Status::Confirmed };
        let now = self.clock.now();
        let id = Uuid::now_v7();
        let txn = self.db.begin().await?;
        let Some(patient_row) = live(booking.patient).one(&txn).await? else {
            txn.rollback().await?;
            return Err(Error::NotFound);
        };
        let key = self.keys.get(&txn, patient_row.data_key_id).await?;
        appointment::ActiveModel {
            id: Set(id),
            patient_id: Set(booking.patient.0),
            clinician_id: Set(booking.clinician.0),
            visit_type_id: Set(kind.id),
            starts_at: Set(span.start),
            ends_at: Set(span.end),
            status: Set(status.as_str().to_owned()),
            data_key_id: Set(key.id()),
            reason: Set(key.seal_str(FieldRef::new(TABLE, "reason", id), reason)?),
            cancel_reason: Set(None),
            version: Set(1),
            created_at: Set(now),
            created_by: Set(ctx.actor.user_id.map(|u| u.0)),
            updated_at: Set(now),
            updated_by: Set(ctx.actor.user_id.map(|u| u.0)),
        }
        .insert(&txn)
        .await?;
        if let Err(err) = hold_cells(&txn, booking.clinician, id, &span).await {
            txn.rollback().await?;
            return Err(self.slot_refused(&permit, Action::AppointmentBook, err).await);
        }
        if status == Status::Confirmed {
            self.enqueue_reminder(&txn, id, span.start).await?;
        }
        self.audit.append(&txn, &permit.ctx, permit.step(Action::AppointmentBook, TABLE, id, status.as_str())).await?;
        txn.commit().await?;
        Ok((id, status))
    }

    /// Cancels with a reason (PHI, sealed); frees the time and drops the reminder.
    pub async fn cancel(&self, ctx: &AuditContext, id: Uuid, reason: &str) -> Result<(), Error> {
        let (row, permit) = self.change(ctx, id, Action::AppointmentChange).await?;
        let reason = validate_reason(reason)?;
        let txn = self.db.begin().await?;
        let key = self.keys.get(&txn, row.data_key_id).await?;
        let sealed = key.seal_str(FieldRef::new(TABLE, "cancel_reason", id), reason)?;
        self.set_status(&txn, &row, Status::Cancelled, ctx, Some(sealed)).await?;
        appointment_slot::Entity::delete_many()
            .filter(appointment_slot::Column::AppointmentId.eq(id))
            .exec(&txn)
            .await?;
        cancel_jobs(&txn, id, self.clock.now()).await?;
        self.audit.append(&txn, &permit.ctx, permit.step(Action::AppointmentChange, TABLE, id, "cancelled")).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Moves the visit to another start; the new time must be open.
    pub async fn reschedule(&self, ctx: &AuditContext, id: Uuid, starts_at: DateTime<Utc>) -> Result<(), Error> {
        let (row, permit) = self.change(ctx, id, Action::AppointmentChange).await?;
        let kind = self.visit_type(row.visit_type_id).await?;
        let span = Span::starting(starts_at, kind.duration)?;
        self.require_open_hours(UserId(row.clinician_id), &kind, span).await?;
        let txn = self.db.begin().await?;
        appointment_slot::Entity::delete_many()
            .filter(appointment_slot::Column::AppointmentId.eq(id))
            .exec(&txn)
            .await?;
        if let Err(err) = hold_cells(&txn, UserId(row.clinician_id), id, &span).await {
            txn.rollback().await?;
            return Err(self.slot_refused(&permit, Action::AppointmentChange, err).await);
        }
        let result = appointment::Entity::update_many()
            .col_expr(appointment::Column::StartsAt, Expr::value(span.start))
            .col_expr(appointment::Column::EndsAt, Expr::value(span.end))
            .col_expr(appointment::Column::Version, Expr::value(row.version + 1))
            .col_expr(appointment::Column::UpdatedAt, Expr::value(self.clock.now()))
            .col_expr(appointment::Column::UpdatedBy, Expr::value(ctx.actor.user_id.map(|u| u.0)))
            .filter(appointment::Column::Id.eq(id))
            .filter(appointment::Column::Version.eq(row.version))
            .exec(&txn)
            .await?;
        if result.rows_affected == 0 {
            txn.rollback().await?;
            return Err(Error::Conflict(
                "this appointment was changed by someone else; reload and try again".to_owned(),
            ));
        }
        cancel_jobs(&txn, id, self.clock.now()).await?;
        if Status::parse(&row.status) == Some(Status::Confirmed) {
            self.enqueue_reminder(&txn, id, span.start).await?;
        }
        self.audit.append(&txn, &permit.ctx, permit.step(Action::AppointmentChange, TABLE, id, "rescheduled")).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Staff confirm a patient's booking request.
    pub async fn approve(&self, ctx: &AuditContext, id: Uuid) -> Result<(), Error> {
        let (row, permit) = self.change(ctx, id, Action::AppointmentConfirm).await?;
        if Status::parse(&row.status) != Some(Status::Requested) {
            return Err(Error::Conflict("only a requested appointment can be approved".to_owned()));
        }
        let txn = self.db.begin().await?;
        self.set_status(&txn, &row, Status::Confirmed, ctx, None).await?;
        self.enqueue_reminder(&txn, id, row.starts_at).await?;
        self.audit.append(&txn, &permit.ctx, permit.step(Action::AppointmentConfirm, TABLE, id, "approved")).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Staff record that the patient did not come; the visit must have started.
    pub async fn mark_no_show(&self, ctx: &AuditContext, id: Uuid) -> Result<(), Error> {
        let (row, permit) = self.change(ctx, id, Action::AppointmentConfirm).await?;
        if row.starts_at > self.clock.now() {
            return Err(Error::validation("status", "a visit can be marked as missed only after it starts"));
        }
        let txn = self.db.begin().await?;
        self.set_status(&txn, &row, Status::NoShow, ctx, None).await?;
        cancel_jobs(&txn, id, self.clock.now()).await?;
        self.audit.append(&txn, &permit.ctx, permit.step(Action::AppointmentConfirm, TABLE, id, "no_show")).await?;
        txn.commit().await?;
        Ok(())
    }

    /// A patient's appointments, soonest first, with their reasons: for the patient or a
    /// clinician allowed to see them. Audited as one read.
    pub async fn for_patient(&self, ctx: &AuditContext, patient: PatientId) -> Result<Vec<Appointment>, Error> {
        let permit = self.guard.check(ctx, Action::AppointmentRead, TABLE, Some(patient)).await?;
        let txn = self.db.begin().await?;
        // Bounded: the latest LIST_LIMIT visits, returned oldest first.
        let mut rows = appointment::Entity::find()
            .filter(appointment::Column::PatientId.eq(patient.0))
            .order_by_desc(appointment::Column::StartsAt)
            .limit(LIST_LIMIT)
            .all(&txn)
            .await?;
        rows.reverse();
        self.audit.append(&txn, &permit.ctx, permit.entry(Action::AppointmentRead, TABLE, None)).await?;
        txn.commit().await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(self.open(row).await?);
        }
        Ok(out)
    }

    /// The calendar of `clinicians` between two instants, for staff. Each appointment names its
    /// patient only if the reader may see that patient (and that is audited); otherwise it
    /// is just busy time.
    pub async fn calendar(
        &self,
        ctx: &AuditContext,
        clinicians: &[UserId],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<CalendarItem>, Error> {
        let permit = self.guard.check(ctx, Action::CalendarRead, "calendar", None).await?;
        let rows = appointment::Entity::find()
            .filter(appointment::Column::ClinicianId.is_in(clinicians.iter().map(|c| c.0)))
            .filter(appointment::Column::Status.ne(Status::Cancelled.as_str()))
            .filter(appointment::Column::StartsAt.lt(to))
            .filter(appointment::Column::EndsAt.gt(from))
            .order_by_asc(appointment::Column::StartsAt)
            .all(&self.db)
            .await?;
        // Who may be named is loaded for all rows at once: no query per appointment.
        let mut patients: Vec<PatientId> = rows.iter().map(|row| PatientId(row.patient_id)).collect();
        patients.sort();
        patients.dedup();
        let relationships = match (ctx.actor.role, ctx.actor.user_id) {
            (Role::Clinician, Some(user)) => self.guard.relationships(&self.db, user, &patients).await?,
            _ => std::collections::HashMap::new(),
        };
        let may_see = |patient: PatientId| relationships.get(&patient).is_some_and(|r| r.any());
        let mut shown = Vec::new();
        let mut items = Vec::with_capacity(rows.len());
        for row in rows {
            let patient = PatientId(row.patient_id);
            let named = may_see(patient);
            if named {
                shown.push(patient);
            }
            items.push((row, named));
        }
        let txn = self.db.begin().await?;
        self.audit.append(&txn, &permit.ctx, permit.entry(Action::CalendarRead, "calendar", None)).await?;
        for patient in &shown {
            let mut named = permit.entry(Action::AppointmentRead, "calendar", None);
            named.patient_id = Some(patient.0);
            self.audit.append(&txn, &permit.ctx, named).await?;
        }
        txn.commit().await?;
        patients.retain(|p| may_see(*p));
        let names = display_names(&self.keys, &self.db, &patients).await?;
        let mut out = Vec::with_capacity(items.len());
        for (row, may_see) in items {
            let patient = PatientId(row.patient_id);
            let patient = match (may_see, names.get(&patient)) {
                (true, Some(name)) => Some((patient, name.clone())),
                (true, None) => return Err(Error::NotFound),
                (false, _) => None,
            };
            out.push(CalendarItem {
                id: row.id,
                clinician_id: UserId(row.clinician_id),
                span: Span { start: row.starts_at, end: row.ends_at },
                status: Status::parse(&row.status).unwrap_or(Status::Confirmed),
                visit_type: row.visit_type_id,
                patient,
            });
        }
        Ok(out)
    }

    async fn open(&self, row: appointment::Model) -> Result<Appointment, Error> {
        let key = self.keys.get(&self.db, row.data_key_id).await?;
        let open = |column, sealed| key.open_string(FieldRef::new(TABLE, column, row.id), sealed);
        Ok(Appointment {
            id: row.id,
            patient_id: PatientId(row.patient_id),
            clinician_id: UserId(row.clinician_id),
            visit_type: row.visit_type_id,
            span: Span { start: row.starts_at, end: row.ends_at },
            status: Status::parse(&row.status)
                .ok_or_else(|| Error::Internal(anyhow::anyhow!("appointment {} has an unknown status", row.id)))?,
            reason: open("reason", &row.reason)?,
            cancel_reason: row.cancel_reason.as_ref().map(|r| open("cancel_reason", r)).transpose()?,
            version: row.version,
        })
    }

    /// A refusal the policy cannot see (it depends on whose hours these are), audited here.
    async fn refuse(&self, ctx: &AuditContext, resource: &'static str, rule: &str) -> Error {
        let denied = super::audit::AuditEntry {
            action: Action::ScheduleManage,
            resource_type: resource,
            resource_id: None,
            patient_id: None,
            outcome: super::audit::Outcome::Denied,
            rule: Some(rule.to_owned()),
        };
        match self.audit.record(&self.db, ctx, denied).await {
            Ok(()) => Error::Forbidden,
            Err(err) => err,
        }
    }

    async fn manage(&self, ctx: &AuditContext) -> Result<Permit, Error> {
        self.guard.check(ctx, Action::ScheduleManage, "schedule", None).await
    }

    /// The appointment, if the actor may change it and it still holds its time.
    async fn change(
        &self,
        ctx: &AuditContext,
        id: Uuid,
        action: Action,
    ) -> Result<(appointment::Model, Permit), Error> {
        let row = appointment::Entity::find_by_id(id).one(&self.db).await?;
        let patient = row.as_ref().map(|r| PatientId(r.patient_id));
        let permit = self.guard.check(ctx, action, TABLE, patient).await?;
        let row = row.ok_or(Error::NotFound)?;
        if !Status::parse(&row.status).is_some_and(Status::is_active) {
            return Err(Error::Conflict("this appointment is no longer active".to_owned()));
        }
        Ok((row, permit))
    }

    async fn set_status(
        &self,
        txn: &DatabaseTransaction,
        row: &appointment::Model,
        status: Status,
        ctx: &AuditContext,
        cancel_reason: Option<super::crypto::Sealed>,
    ) -> Result<(), Error> {
        let mut update = appointment::Entity::update_many()
            .col_expr(appointment::Column::Status, Expr::value(status.as_str()))
            .col_expr(appointment::Column::Version, Expr::value(row.version + 1))
            .col_expr(appointment::Column::UpdatedAt, Expr::value(self.clock.now()))
            .col_expr(appointment::Column::UpdatedBy, Expr::value(ctx.actor.user_id.map(|u| u.0)));
        if let Some(reason) = cancel_reason {
            update = update.col_expr(appointment::Column::CancelReason, Expr::value(reason));
        }
        let result = update
            .filter(appointment::Column::Id.eq(row.id))
            .filter(appointment::Column::Version.eq(row.version))
            .exec(txn)
            .await?;
        if result.rows_affected == 0 {
            return Err(Error::Conflict(
                "this appointment was changed by someone else; reload and try again".to_owned(),
            ));
        }
        Ok(())
    }

    async fn visit_type(&self, id: Uuid) -> Result<VisitType, Error> {
        visit_type::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .map(to_visit_type)
            .ok_or_else(|| Error::validation("visit_type", "is not a visit type of this clinic"))
    }

    /// The span must be one of the clinician's slots (within hours, not in time off, not past).
    async fn require_open_hours(&self, clinician: UserId, kind: &VisitType, span: Span) -> Result<(), Error> {
        let day = span.start.with_timezone(&self.zone).date_naive();
        let (hours, busy) = self.hours_and_exceptions(clinician, day, day).await?;
        let offered = slots::open_slots(self.zone, &hours, &busy, kind.duration, day, day, self.clock.now());
        if offered.contains(&span) {
            Ok(())
        } else {
            Err(Error::validation("starts_at", "this time is not one of the clinician's open slots"))
        }
    }

    /// A clinician's weekly hours, in the clinic's zone, Monday first. Working hours are not PHI.
    pub async fn weekly_hours(&self, clinician: UserId) -> Result<Vec<WeeklyHours>, Error> {
        let rows = availability::Entity::find()
            .filter(availability::Column::ClinicianId.eq(clinician.0))
            .all(&self.db)
            .await?;
        let mut hours: Vec<WeeklyHours> = rows.into_iter().filter_map(|row| weekly_hours(&row)).collect();
        hours.sort_by_key(|h| (h.weekday.num_days_from_monday(), h.start));
        Ok(hours)
    }

    /// Time off and holidays that end after `from`, soonest first: (id, clinician or None for
    /// the whole clinic, span).
    pub async fn exceptions_after(&self, from: DateTime<Utc>) -> Result<Vec<(Uuid, Option<UserId>, Span)>, Error> {
        Ok(availability_exception::Entity::find()
            .filter(availability_exception::Column::EndsAt.gt(from))
            .order_by_asc(availability_exception::Column::StartsAt)
            .limit(LIST_LIMIT)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|e| (e.id, e.clinician_id.map(UserId), Span { start: e.starts_at, end: e.ends_at }))
            .collect())
    }

    async fn hours_and_exceptions(
        &self,
        clinician: UserId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<(Vec<WeeklyHours>, Vec<Span>), Error> {
        let rows = availability::Entity::find()
            .filter(availability::Column::ClinicianId.eq(clinician.0))
            .all(&self.db)
            .await?;
        let hours = rows.into_iter().filter_map(|row| weekly_hours(&row)).collect();
        let window = self.window(from, to);
        let exceptions = availability_exception::Entity::find()
            .filter(
                sea_orm::Condition::any()
                    .add(availability_exception::Column::ClinicianId.eq(clinician.0))
                    .add(availability_exception::Column::ClinicianId.is_null()),
            )
            .filter(availability_exception::Column::StartsAt.lt(window.end))
            .filter(availability_exception::Column::EndsAt.gt(window.start))
            .all(&self.db)
            .await?;
        Ok((hours, exceptions.into_iter().map(|e| Span { start: e.starts_at, end: e.ends_at }).collect()))
    }

    /// The UTC span covering the local dates `from..=to`, with a day to spare on each side.
    fn window(&self, from: NaiveDate, to: NaiveDate) -> Span {
        // Saturating: a date at chrono's edge widens the window to that edge, never panics.
        let start = from
            .and_time(NaiveTime::MIN)
            .and_utc()
            .checked_sub_signed(Duration::days(1))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let end = to
            .and_time(NaiveTime::MIN)
            .and_utc()
            .checked_add_signed(Duration::days(2))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        Span { start, end }
    }

    async fn enqueue_reminder(
        &self,
        txn: &DatabaseTransaction,
        appointment: Uuid,
        starts_at: DateTime<Utc>,
    ) -> Result<(), Error> {
        let now = self.clock.now();
        let run_at = starts_at.checked_sub_signed(self.reminder_lead).unwrap_or(now).max(now);
        reminders::enqueue(txn, REMINDER_JOB, appointment, run_at, now).await
    }

    async fn slot_refused(&self, permit: &Permit, action: Action, err: Error) -> Error {
        if !matches!(err, Error::Conflict(_)) {
            return err;
        }
        match self.audit.record(&self.db, &permit.ctx, permit.failure(action, TABLE, None, "slot-taken")).await {
            Ok(()) => err,
            Err(audit_err) => audit_err,
        }
    }
}

fn to_visit_type(row: visit_type::Model) -> VisitType {
    VisitType {
        id: row.id,
        name: row.name,
        video: row.modality == "video",
        duration: Duration::minutes(i64::from(row.duration_minutes)),
        self_schedule: row.self_schedule,
        requires_approval: row.requires_approval,
        active: row.active,
    }
}

fn validate_reason(reason: &str) -> Result<&str, Error> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(Error::validation("reason", "describe the reason in 1 to 500 characters"));
    }
    Ok(reason)
}

fn weekly_hours(row: &availability::Model) -> Option<WeeklyHours> {
    let weekday = Weekday::try_from(u8::try_from(row.weekday).ok()?).ok()?;
    let start = NaiveTime::parse_from_str(&row.start_time, "%H:%M").ok()?;
    let end = NaiveTime::parse_from_str(&row.end_time, "%H:%M").ok()?;
    Some(WeeklyHours { weekday, start, end })
}

/// Takes every 15-minute cell of `span` for the appointment. The primary key refuses a cell
/// another appointment holds: that is the slot being taken, reported as a conflict.
async fn hold_cells(txn: &DatabaseTransaction, clinician: UserId, appointment: Uuid, span: &Span) -> Result<(), Error> {
    let cells = slots::cells(span).into_iter().map(|cell| appointment_slot::ActiveModel {
        clinician_id: Set(clinician.0),
        slot_start: Set(cell),
        appointment_id: Set(appointment),
    });
    match appointment_slot::Entity::insert_many(cells).exec(txn).await {
        Ok(_) => Ok(()),
        Err(err) if matches!(err.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))) => {
            Err(Error::Conflict(SLOT_TAKEN.to_owned()))
        }
        Err(err) => Err(err.into()),
    }
}

pub const SLOT_TAKEN: &str = "this slot has just been taken; please choose another time";

async fn cancel_jobs(txn: &DatabaseTransaction, subject: Uuid, now: DateTime<Utc>) -> Result<(), Error> {
    job::Entity::update_many()
        .col_expr(job::Column::Status, Expr::value("cancelled"))
        .col_expr(job::Column::FinishedAt, Expr::value(now))
        .filter(job::Column::SubjectId.eq(subject))
        .filter(job::Column::Status.eq("pending"))
        .exec(txn)
        .await?;
    Ok(())
}

/// The weekday of a date in the clinic's zone, for callers that group by day.
pub fn local_date(zone: Tz, at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&zone).date_naive()
}
