//! A synthetic clinic day for the detectors' tests, and planted incidents, one per access rule.
//!
//! [`normal_day`] builds a small clinic through the real repositories (accounts, patients, care
//! teams, a visit type; consent links and their appointments written directly), then writes a
//! seeded day of ordinary work through [`AuditLog::append`] (real MACs): clinicians reading and
//! writing the charts of their own patients in working hours, a consent-based read only where
//! an appointment explains it, patients reading their own chart, admins doing admin work. A
//! normal day must raise nothing.
//!
//! Each `plant_*` appends the rows a real occurrence of one incident leaves and returns their
//! sequence numbers as [`Planted`]. Synthetic data only.
#![allow(clippy::expect_used)] // Test support: a broken fixture should stop the test loudly.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QuerySelect,
    TransactionTrait,
};
use uuid::Uuid;

use crate::domain::Error;
use crate::domain::audit::{Action, Actor, AuditContext, AuditEntry, AuditLog, Outcome, Purpose, Role};
use crate::domain::clock::{Clock, FixedClock};
use crate::domain::crypto::FieldRef;
use crate::domain::entities::{app_user, appointment, audit_event, care_relationship, patient};
use crate::domain::ids::{PatientId, UserId};
use crate::domain::monitoring::rules::WorkingHours;
use crate::domain::state::Services;
use crate::domain::users::NewUser;

/// An incident written into the audit log: the rule that must catch it, whose it is, and the
/// rows that make it up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Planted {
    pub rule: &'static str,
    pub actor: Option<UserId>,
    pub seqs: Vec<i64>,
}

/// How big the day is.
#[derive(Clone, Debug)]
pub struct DayPlan {
    pub seed: u64,
    /// The local date of the day.
    pub day: NaiveDate,
    /// Audit rows the day's work writes (the clinic's setup adds a few more).
    pub events: usize,
    pub clinicians: usize,
    pub patients_per_clinician: usize,
}

/// Who works at the synthetic clinic.
#[derive(Clone, Debug)]
pub struct SyntheticClinic {
    pub admin: UserId,
    pub clinicians: Vec<UserId>,
    /// Each clinician's own patients (they registered them, so they are on their care team).
    pub panels: Vec<Vec<PatientId>>,
    /// A clinician another's patient consented to, with an appointment that day.
    pub consents: Vec<(UserId, PatientId)>,
    /// Patients with their own account.
    pub patient_accounts: Vec<(UserId, PatientId)>,
}

/// Moves the audit log's clock to `at` (it only moves forward or back by a difference).
pub fn set_clock(clock: &FixedClock, at: DateTime<Utc>) {
    clock.advance(at - clock.now());
}

/// `day` at `time` in the clinic's zone, as UTC.
pub fn local(hours: &WorkingHours, day: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    hours.zone.from_local_datetime(&day.and_time(time)).earliest().expect("a local time that exists").to_utc()
}

pub fn context(user: UserId, role: Role, own: Option<PatientId>) -> AuditContext {
    AuditContext {
        actor: Actor { user_id: Some(user), role, patient_id: own },
        purpose: Purpose::Treatment,
        justification: None,
        request_id: Some(format!("req-{}", Uuid::new_v4().simple())),
        ip: Some("192.0.2.20".to_owned()),
        user_agent: Some("synthetic/1.0".to_owned()),
    }
}

pub fn row(action: Action, patient: Option<PatientId>, outcome: Outcome, rule: &str) -> AuditEntry {
    AuditEntry {
        action,
        resource_type: "patient",
        resource_id: patient.map(|p| p.to_string()),
        patient_id: patient.map(|p| p.0),
        outcome,
        rule: Some(rule.to_owned()),
    }
}

/// Appends `rows` in one transaction, each at its own time, and returns their seqs.
pub async fn append_rows(
    db: &DatabaseConnection,
    audit: &AuditLog,
    clock: &FixedClock,
    rows: Vec<(DateTime<Utc>, AuditContext, AuditEntry)>,
) -> Result<Vec<i64>, Error> {
    let txn = db.begin().await?;
    let mut seqs = Vec::with_capacity(rows.len());
    for (at, ctx, entry) in rows {
        set_clock(clock, at);
        audit.append(&txn, &ctx, entry).await?;
        seqs.push(last_seq(&txn).await?);
    }
    txn.commit().await?;
    Ok(seqs)
}

async fn last_seq<C: ConnectionTrait>(conn: &C) -> Result<i64, Error> {
    let max: Option<i64> = audit_event::Entity::find()
        .select_only()
        .column_as(audit_event::Column::Seq.max(), "max")
        .into_tuple()
        .one(conn)
        .await?
        .flatten();
    max.ok_or_else(|| Error::Internal(anyhow::anyhow!("no audit row after an append")))
}

/// Builds the clinic and writes its day: `plan.events` rows of ordinary work between an hour
/// after opening and an hour before closing. `clock` must be the services' clock.
pub async fn normal_day(
    services: &Services,
    clock: &FixedClock,
    hours: &WorkingHours,
    plan: &DayPlan,
) -> Result<SyntheticClinic, Error> {
    let clinic = build_clinic(services, clock, hours, plan).await?;
    write_day(services, clock, hours, &clinic, plan).await?;
    Ok(clinic)
}

pub async fn build_clinic(
    services: &Services,
    clock: &FixedClock,
    hours: &WorkingHours,
    plan: &DayPlan,
) -> Result<SyntheticClinic, Error> {
    set_clock(clock, local(hours, plan.day, hours.start + Duration::minutes(15)));
    let system = AuditContext::system("synthetic clinic");
    let ttl = Duration::hours(1);
    let invite = |role: Role, name: String, patient: Option<PatientId>| {
        let new = NewUser { role, display_name: name, patient_id: patient };
        let system = system.clone();
        async move { services.users.invite(&system, new, ttl).await.map(|i| i.user_id) }
    };
    let admin = invite(Role::Admin, "Synthetic Admin".to_owned(), None).await?;
    let mut clinicians = Vec::new();
    let mut panels = Vec::new();
    let mut rng = StdRng::seed_from_u64(plan.seed);
    for c in 0..plan.clinicians {
        let clinician = invite(Role::Clinician, format!("Synthetic Clinician {c}"), None).await?;
        let ctx = context(clinician, Role::Clinician, None);
        let mut panel = Vec::new();
        for p in 0..plan.patients_per_clinician {
            let new = crate::domain::seed::synthetic_patient(&mut rng, &format!("S{}C{c}", plan.seed), p as u64);
            panel.push(services.patients.create(&ctx, new).await?);
        }
        clinicians.push(clinician);
        panels.push(panel);
    }
    let mut patient_accounts = Vec::new();
    for panel in &panels {
        if let Some(&first) = panel.first() {
            patient_accounts.push((invite(Role::Patient, "Synthetic Patient".to_owned(), Some(first)).await?, first));
        }
    }
    // Each clinician sees one patient of the next clinician's panel on consent, with a visit
    // booked that day: a consent-based read that an appointment explains.
    let visit_type = services
        .schedule
        .create_visit_type(
            &system,
            crate::domain::scheduling::NewVisitType {
                name: "Synthetic visit".to_owned(),
                video: false,
                duration_minutes: 30,
                self_schedule: false,
                requires_approval: false,
            },
        )
        .await?;
    let mut consents = Vec::new();
    let noon = local(hours, plan.day, NaiveTime::from_hms_opt(12, 0, 0).expect("noon"));
    for (c, &clinician) in clinicians.iter().enumerate() {
        let Some(&patient_id) = panels.get((c + 1) % panels.len()).and_then(|p| p.last()) else { continue };
        if panels[c].contains(&patient_id) {
            continue;
        }
        let now = clock.now();
        care_relationship::ActiveModel {
            id: Set(Uuid::now_v7()),
            patient_id: Set(patient_id.0),
            clinician_id: Set(clinician.0),
            kind: Set("consent".to_owned()),
            created_at: Set(now),
            created_by: Set(None),
            ended_at: Set(None),
            ended_by: Set(None),
        }
        .insert(&services.db)
        .await?;
        book(services, visit_type, clinician, patient_id, noon).await?;
        consents.push((clinician, patient_id));
    }
    Ok(SyntheticClinic { admin, clinicians, panels, consents, patient_accounts })
}

/// An appointment row for `clinician` and `patient` at `at` (confirmed, 30 minutes).
pub async fn book(
    services: &Services,
    visit_type: Uuid,
    clinician: UserId,
    patient_id: PatientId,
    at: DateTime<Utc>,
) -> Result<Uuid, Error> {
    let row = patient::Entity::find_by_id(patient_id.0).one(&services.db).await?.ok_or(Error::NotFound)?;
    let key = services.keys.get(&services.db, row.data_key_id).await?;
    let id = Uuid::now_v7();
    let reason = key.seal_str(FieldRef::new("appointment", "reason", id), "Synthetic follow-up")?;
    appointment::ActiveModel {
        id: Set(id),
        patient_id: Set(patient_id.0),
        clinician_id: Set(clinician.0),
        visit_type_id: Set(visit_type),
        starts_at: Set(at),
        ends_at: Set(at + Duration::minutes(30)),
        status: Set("confirmed".to_owned()),
        data_key_id: Set(row.data_key_id),
        reason: Set(reason),
        cancel_reason: Set(None),
        version: Set(1),
        created_at: Set(at - Duration::days(3)),
        created_by: Set(None),
        updated_at: Set(at - Duration::days(3)),
        updated_by: Set(None),
    }
    .insert(&services.db)
    .await?;
    Ok(id)
}

/// The day's ordinary work, in time order, written in transactions of a few hundred rows.
pub async fn write_day(
    services: &Services,
    clock: &FixedClock,
    hours: &WorkingHours,
    clinic: &SyntheticClinic,
    plan: &DayPlan,
) -> Result<usize, Error> {
    let mut rng = StdRng::seed_from_u64(plan.seed ^ 0x5eed);
    let open = local(hours, plan.day, hours.start + Duration::hours(1));
    let close = local(hours, plan.day, hours.end - Duration::hours(1));
    let span = (close - open).num_seconds().max(1);
    let mut times: Vec<DateTime<Utc>> =
        (0..plan.events).map(|_| open + Duration::seconds(rng.random_range(0..span))).collect();
    times.sort_unstable();
    let mut rows = Vec::with_capacity(plan.events);
    let mut i = 0;
    while rows.len() < plan.events {
        let at = times[i.min(times.len() - 1)];
        i += 1;
        let c = rng.random_range(0..clinic.clinicians.len());
        let clinician = clinic.clinicians[c];
        let panel = &clinic.panels[c];
        let own = panel[rng.random_range(0..panel.len())];
        let as_clinician = context(clinician, Role::Clinician, None);
        match rng.random_range(0..100) {
            0..55 => {
                let action = if rng.random_bool(0.5) { Action::ChartRead } else { Action::PatientRead };
                rows.push((at, as_clinician, row(action, Some(own), Outcome::Allowed, "care-team")));
            }
            55..62 => match clinic.consents.iter().find(|(who, _)| *who == clinician) {
                Some(&(_, patient)) => rows.push((
                    at,
                    as_clinician,
                    row(Action::ChartRead, Some(patient), Outcome::Allowed, "patient-consent"),
                )),
                None => rows.push((at, as_clinician, row(Action::ChartRead, Some(own), Outcome::Allowed, "care-team"))),
            },
            62..72 => rows.push((at, as_clinician, row(Action::EntryCreate, Some(own), Outcome::Allowed, "care-team"))),
            72..82 => {
                let (user, patient) = clinic.patient_accounts[rng.random_range(0..clinic.patient_accounts.len())];
                let ctx = context(user, Role::Patient, Some(patient));
                rows.push((at, ctx, row(Action::ChartRead, Some(patient), Outcome::Allowed, "patient-self")));
            }
            82..93 => {
                let ctx = context(clinic.admin, Role::Admin, None);
                let (action, rule) = match rng.random_range(0..3) {
                    0 => (Action::UserList, "admin-manages-accounts"),
                    1 => (Action::CalendarRead, "staff-calendar"),
                    _ => (Action::ScheduleManage, "admin-manages-schedule"),
                };
                let mut entry = row(action, None, Outcome::Allowed, rule);
                entry.resource_type = "admin";
                rows.push((at, ctx, entry));
            }
            93..96 => {
                // The clinician's list of their own patients: a summary row, then one per patient.
                let mut summary = row(Action::PatientList, None, Outcome::Allowed, "clinician-finds-patients");
                summary.resource_id = Some(format!("rows:{}", panel.len()));
                rows.push((at, as_clinician.clone(), summary));
                for &p in panel {
                    rows.push((
                        at,
                        as_clinician.clone(),
                        row(Action::PatientList, Some(p), Outcome::Allowed, "clinician-finds-patients"),
                    ));
                }
            }
            _ => rows.push((at, as_clinician, row(Action::MessageRead, Some(own), Outcome::Allowed, "care-team"))),
        }
    }
    rows.truncate(plan.events);
    let written = rows.len();
    let mut batch = Vec::new();
    for r in rows {
        batch.push(r);
        if batch.len() == 500 {
            write_batch(&services.db, &services.audit, clock, std::mem::take(&mut batch)).await?;
        }
    }
    write_batch(&services.db, &services.audit, clock, batch).await?;
    Ok(written)
}

async fn write_batch(
    db: &DatabaseConnection,
    audit: &AuditLog,
    clock: &FixedClock,
    rows: Vec<(DateTime<Utc>, AuditContext, AuditEntry)>,
) -> Result<(), Error> {
    let txn = db.begin().await?;
    for (at, ctx, entry) in rows {
        set_clock(clock, at);
        audit.append(&txn, &ctx, entry).await?;
    }
    txn.commit().await?;
    Ok(())
}

/// `bulk-access`: `clinician` opens each of `patients` once, 8 seconds apart.
pub async fn plant_bulk_access(
    db: &DatabaseConnection,
    audit: &AuditLog,
    clock: &FixedClock,
    at: DateTime<Utc>,
    clinician: UserId,
    patients: &[PatientId],
) -> Result<Planted, Error> {
    let ctx = context(clinician, Role::Clinician, None);
    let rows = patients
        .iter()
        .enumerate()
        .map(|(i, &p)| {
            let action = if i % 2 == 0 { Action::ChartRead } else { Action::PatientRead };
            (at + Duration::seconds(8 * i as i64), ctx.clone(), row(action, Some(p), Outcome::Allowed, "care-team"))
        })
        .collect();
    let seqs = append_rows(db, audit, clock, rows).await?;
    Ok(Planted { rule: "bulk-access", actor: Some(clinician), seqs })
}

/// `after-hours`: `clinician` reads the chart of `patient` twice, at `at` and a minute later
/// (`at` should be outside working hours).
pub async fn plant_after_hours(
    db: &DatabaseConnection,
    audit: &AuditLog,
    clock: &FixedClock,
    at: DateTime<Utc>,
    clinician: UserId,
    patient: PatientId,
) -> Result<Planted, Error> {
    let ctx = context(clinician, Role::Clinician, None);
    let rows = vec![
        (at, ctx.clone(), row(Action::ChartRead, Some(patient), Outcome::Allowed, "care-team")),
        (at + Duration::minutes(1), ctx, row(Action::PatientRead, Some(patient), Outcome::Allowed, "care-team")),
    ];
    let seqs = append_rows(db, audit, clock, rows).await?;
    Ok(Planted { rule: "after-hours", actor: Some(clinician), seqs })
}

/// `large-listing`: one listing call that returned `rows` patients (its summary row).
pub async fn plant_large_listing(
    db: &DatabaseConnection,
    audit: &AuditLog,
    clock: &FixedClock,
    at: DateTime<Utc>,
    clinician: UserId,
    rows: usize,
) -> Result<Planted, Error> {
    let ctx = context(clinician, Role::Clinician, None);
    let mut summary = row(Action::PatientList, None, Outcome::Allowed, "clinician-finds-patients");
    summary.resource_id = Some(format!("rows:{rows}"));
    let seqs = append_rows(db, audit, clock, vec![(at, ctx, summary)]).await?;
    Ok(Planted { rule: "large-listing", actor: Some(clinician), seqs })
}

/// `self-access`: `member` (an existing workforce account) is linked to `own` as their own
/// patient record, then opens that chart.
pub async fn plant_self_access(
    db: &DatabaseConnection,
    audit: &AuditLog,
    clock: &FixedClock,
    at: DateTime<Utc>,
    member: UserId,
    own: PatientId,
) -> Result<Planted, Error> {
    app_user::Entity::update(app_user::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(member.0),
        own_patient_id: Set(Some(own.0)),
        ..Default::default()
    })
    .exec(db)
    .await?;
    let ctx = context(member, Role::Clinician, None);
    let seqs = append_rows(
        db,
        audit,
        clock,
        vec![(at, ctx, row(Action::ChartRead, Some(own), Outcome::Allowed, "care-team"))],
    )
    .await?;
    Ok(Planted { rule: "self-access", actor: Some(member), seqs })
}

/// `unexplained-access` (refusals): `clinician` is refused three charts for want of any care
/// relationship, ten minutes apart.
pub async fn plant_unexplained_refusals(
    db: &DatabaseConnection,
    audit: &AuditLog,
    clock: &FixedClock,
    at: DateTime<Utc>,
    clinician: UserId,
    patients: [PatientId; 3],
) -> Result<Planted, Error> {
    let ctx = context(clinician, Role::Clinician, None);
    let rows = patients
        .iter()
        .enumerate()
        .map(|(i, &p)| {
            let when = at + Duration::minutes(10 * i as i64);
            (when, ctx.clone(), row(Action::ChartRead, Some(p), Outcome::Denied, "no-care-relationship"))
        })
        .collect();
    let seqs = append_rows(db, audit, clock, rows).await?;
    Ok(Planted { rule: "unexplained-access", actor: Some(clinician), seqs })
}

/// `unexplained-access` (consent, no visit): `clinician` reads `patient`'s chart allowed only by
/// the patient's consent, with no appointment between them.
pub async fn plant_consent_without_visit(
    db: &DatabaseConnection,
    audit: &AuditLog,
    clock: &FixedClock,
    at: DateTime<Utc>,
    clinician: UserId,
    patient: PatientId,
) -> Result<Planted, Error> {
    let ctx = context(clinician, Role::Clinician, None);
    let entry = row(Action::ChartRead, Some(patient), Outcome::Allowed, "patient-consent");
    let seqs = append_rows(db, audit, clock, vec![(at, ctx, entry)]).await?;
    Ok(Planted { rule: "unexplained-access", actor: Some(clinician), seqs })
}

/// `probing`: `user` (a clinician) is refused ten times in ten minutes, by assorted rules that
/// are not about care relationships (admin pages, the audit trail, other roles' pages).
pub async fn plant_probing(
    db: &DatabaseConnection,
    audit: &AuditLog,
    clock: &FixedClock,
    at: DateTime<Utc>,
    user: UserId,
) -> Result<Planted, Error> {
    let ctx = context(user, Role::Clinician, None);
    let refusals = [
        (Action::UserList, "not-an-admin"),
        (Action::AuditRead, "not-an-auditor"),
        (Action::PageOpen, "another-roles-page"),
        (Action::AccountRequestList, "not-an-account-reviewer"),
        (Action::VisitTypeManage, "not-an-admin"),
    ];
    let rows = (0..10)
        .map(|i| {
            let (action, rule) = refusals[i % refusals.len()];
            let mut entry = row(action, None, Outcome::Denied, rule);
            entry.resource_type = "admin";
            (at + Duration::minutes(i as i64), ctx.clone(), entry)
        })
        .collect();
    let seqs = append_rows(db, audit, clock, rows).await?;
    Ok(Planted { rule: "probing", actor: Some(user), seqs })
}
