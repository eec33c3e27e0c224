//! Scheduling: visit types and the clinic's self-scheduling switches, open slots, booking,
//! changes, the patient's own visits, and staff calendars. Times travel in UTC; pages show them
//! in the viewer's zone. A calendar names a patient only for a reader allowed to see them.

use crate::api::codec::Json;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::input::{Day, Moment};
use crate::error::AppError;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitTypeView {
    pub id: String,
    pub name: String,
    pub video: bool,
    pub duration_minutes: i64,
    pub self_schedule: bool,
    pub requires_approval: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotView {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppointmentView {
    pub id: String,
    pub clinician: String,
    pub visit_type: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// requested, confirmed, cancelled, no_show or completed.
    pub status: String,
    pub reason: String,
    pub cancel_reason: Option<String>,
    /// A video visit: its page has the waiting room.
    pub video: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarEntry {
    pub id: String,
    pub clinician_id: String,
    pub clinician: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub status: String,
    pub visit_type: String,
    /// Only for a reader allowed to see the patient; otherwise the entry is just "Busy".
    pub patient_name: Option<String>,
}

/// One block of a clinician's weekly hours, on the clinic's wall clock.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HoursBlock {
    /// 0 = Monday .. 6 = Sunday.
    pub weekday: u8,
    /// HH:MM
    pub start: String,
    pub end: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeOffView {
    pub id: String,
    /// None: a holiday for the whole clinic.
    pub clinician: Option<String>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarView {
    pub entries: Vec<CalendarEntry>,
    /// The clinic's IANA time zone.
    pub clinic_zone: String,
}

#[cfg(feature = "ssr")]
mod server {
    pub use crate::api::context::{parse_id, signed_in};
    pub use crate::domain::audit::{Action, Role};
    pub use crate::domain::ids::{PatientId, UserId};

    /// The date `days` after `from`, or a validation error naming `field` past chrono's range.
    pub fn days_after(
        field: &str,
        from: chrono::NaiveDate,
        days: u32,
    ) -> Result<chrono::NaiveDate, crate::error::AppError> {
        from.checked_add_days(chrono::Days::new(u64::from(days)))
            .ok_or_else(|| crate::domain::Error::validation(field, "reaches past the last date").into())
    }

    pub fn user_id(field: &str, value: &str) -> Result<UserId, crate::error::AppError> {
        parse_id(field, value).map(UserId)
    }

    pub async fn type_names(
        services: &crate::domain::state::Services,
    ) -> Result<std::collections::HashMap<uuid::Uuid, String>, crate::error::AppError> {
        Ok(services.schedule.visit_types().await?.into_iter().map(|v| (v.id, v.name)).collect())
    }
}

#[server(endpoint = "schedule/visit_types", prefix = "/api", input = Json)]
pub async fn visit_types() -> Result<Vec<VisitTypeView>, AppError> {
    use server::*;
    let (services, _, _) = signed_in(Action::ClinicianList).await?;
    Ok(services
        .schedule
        .visit_types()
        .await?
        .into_iter()
        .filter(|v| v.active)
        .map(|v| VisitTypeView {
            id: v.id.to_string(),
            name: v.name,
            video: v.video,
            duration_minutes: v.duration.num_minutes(),
            self_schedule: v.self_schedule,
            requires_approval: v.requires_approval,
        })
        .collect())
}

#[server(endpoint = "schedule/set_self_scheduling", prefix = "/api", input = Json)]
pub async fn set_self_scheduling(
    visit_type_id: String,
    self_schedule: bool,
    requires_approval: bool,
) -> Result<(), AppError> {
    use server::*;
    let (services, _, ctx) = signed_in(Action::VisitTypeManage).await?;
    let id = parse_id("visit_type_id", &visit_type_id)?;
    services.schedule.set_self_scheduling(&ctx, id, self_schedule, requires_approval).await?;
    Ok(())
}

/// Open slots with a clinician for the `days` clinic-local dates from `from`. A patient sees
/// slots only for visit types the clinic lets them book online.
#[server(endpoint = "schedule/open_slots", prefix = "/api", input = Json)]
pub async fn open_slots(
    clinician_id: String,
    visit_type_id: String,
    from: Day,
    days: u32,
) -> Result<Vec<SlotView>, AppError> {
    use server::*;
    let (services, user, _) = signed_in(Action::ClinicianList).await?;
    let visit = parse_id("visit_type_id", &visit_type_id)?;
    let kind = services.schedule.visit_types().await?.into_iter().find(|v| v.id == visit);
    if user.role == Role::Patient && !kind.is_some_and(|k| k.self_schedule && k.active) {
        return Ok(Vec::new());
    }
    let from = from.get();
    let to = days_after("days", from, days.clamp(1, 31) - 1)?;
    let slots = services.schedule.open_slots(user_id("clinician_id", &clinician_id)?, visit, from, to).await?;
    Ok(slots.into_iter().map(|s| SlotView { start: s.start, end: s.end }).collect())
}

/// A patient books a visit for themselves; returns the status (confirmed or requested).
#[server(endpoint = "schedule/book_my_visit", prefix = "/api", input = Json)]
pub async fn book_my_visit(
    clinician_id: String,
    visit_type_id: String,
    starts_at: Moment,
    reason: String,
) -> Result<String, AppError> {
    use crate::domain::scheduling::Booking;
    use server::*;
    let (services, user, ctx) = signed_in(Action::AppointmentBook).await?;
    let starts_at = starts_at.get();
    let Some(patient) = user.patient_id else {
        services.guard.check(&ctx, Action::AppointmentBook, "appointment", Some(PatientId(uuid::Uuid::nil()))).await?;
        return Err(AppError::Forbidden);
    };
    let booking = Booking {
        patient,
        clinician: user_id("clinician_id", &clinician_id)?,
        visit_type: parse_id("visit_type_id", &visit_type_id)?,
        starts_at,
        reason,
    };
    let (_, status) = services.schedule.book(&ctx, booking).await?;
    Ok(status.as_str().to_owned())
}

/// Staff book a visit for a patient.
#[server(endpoint = "schedule/book_visit", prefix = "/api", input = Json)]
pub async fn book_visit(
    patient_id: String,
    clinician_id: String,
    visit_type_id: String,
    starts_at: Moment,
    reason: String,
) -> Result<String, AppError> {
    use crate::domain::scheduling::Booking;
    use server::*;
    let (services, _, ctx) = signed_in(Action::AppointmentBook).await?;
    let starts_at = starts_at.get();
    let booking = Booking {
        patient: PatientId(parse_id("patient_id", &patient_id)?),
        clinician: user_id("clinician_id", &clinician_id)?,
        visit_type: parse_id("visit_type_id", &visit_type_id)?,
        starts_at,
        reason,
    };
    let (_, status) = services.schedule.book(&ctx, booking).await?;
    Ok(status.as_str().to_owned())
}

#[server(endpoint = "schedule/my_appointments", prefix = "/api", input = Json)]
pub async fn my_appointments() -> Result<Vec<AppointmentView>, AppError> {
    use server::*;
    let (services, user, ctx) = signed_in(Action::AppointmentRead).await?;
    let patient = user.patient_id.unwrap_or(PatientId(uuid::Uuid::nil()));
    let appointments = services.schedule.for_patient(&ctx, patient).await?;
    let names = services.users.workforce_names(appointments.iter().map(|a| a.clinician_id)).await?;
    let types = type_names(&services).await?;
    let video: std::collections::HashSet<uuid::Uuid> =
        services.schedule.visit_types().await?.into_iter().filter(|v| v.video).map(|v| v.id).collect();
    Ok(appointments
        .into_iter()
        .map(|a| AppointmentView {
            video: video.contains(&a.visit_type),
            id: a.id.to_string(),
            clinician: names.get(&a.clinician_id).map_or_else(String::new, |(_, n)| n.clone()),
            visit_type: types.get(&a.visit_type).cloned().unwrap_or_default(),
            start: a.span.start,
            end: a.span.end,
            status: a.status.as_str().to_owned(),
            reason: a.reason,
            cancel_reason: a.cancel_reason,
        })
        .collect())
}

#[server(endpoint = "schedule/cancel", prefix = "/api", input = Json)]
pub async fn cancel_appointment(appointment_id: String, reason: String) -> Result<(), AppError> {
    use server::*;
    let (services, _, ctx) = signed_in(Action::AppointmentChange).await?;
    services.schedule.cancel(&ctx, parse_id("appointment_id", &appointment_id)?, &reason).await?;
    Ok(())
}

#[server(endpoint = "schedule/reschedule", prefix = "/api", input = Json)]
pub async fn reschedule_appointment(appointment_id: String, starts_at: Moment) -> Result<(), AppError> {
    use server::*;
    let (services, _, ctx) = signed_in(Action::AppointmentChange).await?;
    services.schedule.reschedule(&ctx, parse_id("appointment_id", &appointment_id)?, starts_at.get()).await?;
    Ok(())
}

#[server(endpoint = "schedule/approve", prefix = "/api", input = Json)]
pub async fn approve_appointment(appointment_id: String) -> Result<(), AppError> {
    use server::*;
    let (services, _, ctx) = signed_in(Action::AppointmentConfirm).await?;
    services.schedule.approve(&ctx, parse_id("appointment_id", &appointment_id)?).await?;
    Ok(())
}

#[server(endpoint = "schedule/no_show", prefix = "/api", input = Json)]
pub async fn mark_no_show(appointment_id: String) -> Result<(), AppError> {
    use server::*;
    let (services, _, ctx) = signed_in(Action::AppointmentConfirm).await?;
    services.schedule.mark_no_show(&ctx, parse_id("appointment_id", &appointment_id)?).await?;
    Ok(())
}

/// Staff calendars for `days` days from `from` (UTC): a clinician's own by default, or the
/// whole clinic's for an admin (`whole_clinic`).
#[server(endpoint = "schedule/calendar", prefix = "/api", input = Json)]
pub async fn calendar(from: Moment, days: u32, whole_clinic: bool) -> Result<CalendarView, AppError> {
    use server::*;
    let (services, user, ctx) = signed_in(Action::CalendarRead).await?;
    let clinicians: Vec<UserId> = if whole_clinic || user.role != Role::Clinician {
        services.users.clinicians().await?.into_iter().map(|(id, _)| id).collect()
    } else {
        vec![user.id]
    };
    let from = from.get();
    let to = from
        .checked_add_signed(chrono::Duration::days(i64::from(days.clamp(1, 31))))
        .ok_or_else(|| AppError::from(crate::domain::Error::validation("days", "reaches past the last date")))?;
    let items = services.schedule.calendar(&ctx, &clinicians, from, to).await?;
    let names = services.users.workforce_names(items.iter().map(|i| i.clinician_id)).await?;
    let types = type_names(&services).await?;
    Ok(CalendarView {
        entries: items
            .into_iter()
            .map(|i| CalendarEntry {
                id: i.id.to_string(),
                clinician_id: i.clinician_id.to_string(),
                clinician: names.get(&i.clinician_id).map_or_else(String::new, |(_, n)| n.clone()),
                start: i.span.start,
                end: i.span.end,
                status: i.status.as_str().to_owned(),
                visit_type: types.get(&i.visit_type).cloned().unwrap_or_default(),
                patient_name: i.patient.map(|(_, name)| name),
            })
            .collect(),
        clinic_zone: services.schedule.zone.name().to_owned(),
    })
}

/// A clinician's weekly hours, and the clinic's zone they are written in.
#[server(endpoint = "schedule/weekly_hours", prefix = "/api", input = Json)]
pub async fn weekly_hours(clinician_id: String) -> Result<(Vec<HoursBlock>, String), AppError> {
    use server::*;
    let (services, _, ctx) = signed_in(Action::CalendarRead).await?;
    services.guard.check(&ctx, Action::CalendarRead, "availability", None).await?;
    let hours = services.schedule.weekly_hours(user_id("clinician_id", &clinician_id)?).await?;
    let blocks = hours
        .into_iter()
        .map(|h| HoursBlock {
            weekday: u8::try_from(h.weekday.num_days_from_monday()).unwrap_or(0),
            start: h.start.format("%H:%M").to_string(),
            end: h.end.format("%H:%M").to_string(),
        })
        .collect();
    Ok((blocks, services.schedule.zone.name().to_owned()))
}

/// Replaces a clinician's weekly hours (an admin for anyone, a clinician for themselves).
#[server(endpoint = "schedule/set_weekly_hours", prefix = "/api", input = Json)]
pub async fn set_weekly_hours(clinician_id: String, blocks: Vec<HoursBlock>) -> Result<(), AppError> {
    use crate::domain::scheduling::slots::WeeklyHours;
    use server::*;
    let (services, _, ctx) = signed_in(Action::ScheduleManage).await?;
    let invalid = |field: &str, message: &str| -> AppError { crate::domain::Error::validation(field, message).into() };
    let mut hours = Vec::with_capacity(blocks.len());
    for block in blocks {
        let weekday =
            chrono::Weekday::try_from(block.weekday).map_err(|_| invalid("weekday", "is not a day of the week"))?;
        let time = |value: &str| chrono::NaiveTime::parse_from_str(value.trim(), "%H:%M");
        let (Ok(start), Ok(end)) = (time(&block.start), time(&block.end)) else {
            return Err(invalid("hours", "times must be written as HH:MM"));
        };
        hours.push(WeeklyHours { weekday, start, end });
    }
    services.schedule.set_weekly_hours(&ctx, user_id("clinician_id", &clinician_id)?, &hours).await?;
    Ok(())
}

/// Time off for a clinician, or a holiday for the whole clinic (no clinician).
#[server(endpoint = "schedule/add_time_off", prefix = "/api", input = Json)]
pub async fn add_time_off(clinician_id: Option<String>, starts_at: Moment, ends_at: Moment) -> Result<(), AppError> {
    use crate::domain::scheduling::slots::Span;
    use server::*;
    let (services, _, ctx) = signed_in(Action::ScheduleManage).await?;
    let clinician = match clinician_id.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(id) => Some(user_id("clinician_id", id)?),
        None => None,
    };
    services.schedule.add_exception(&ctx, clinician, Span { start: starts_at.get(), end: ends_at.get() }).await?;
    Ok(())
}

#[server(endpoint = "schedule/time_off", prefix = "/api", input = Json)]
pub async fn upcoming_time_off() -> Result<Vec<TimeOffView>, AppError> {
    use server::*;
    let (services, _, ctx) = signed_in(Action::CalendarRead).await?;
    services.guard.check(&ctx, Action::CalendarRead, "availability", None).await?;
    let now = services.clock.now();
    let spans = services.schedule.exceptions_after(now).await?;
    let names = services.users.workforce_names(spans.iter().filter_map(|(_, c, _)| *c)).await?;
    Ok(spans
        .into_iter()
        .map(|(id, clinician, span)| TimeOffView {
            id: id.to_string(),
            clinician: clinician.map(|c| names.get(&c).map_or_else(String::new, |(_, n)| n.clone())),
            start: span.start,
            end: span.end,
        })
        .collect())
}
