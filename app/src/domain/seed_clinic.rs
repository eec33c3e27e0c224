//! A demo clinic on top of synthetic patients: staff accounts, assignments and care teams, and
//! a plausible clinical history per patient (problems with their medications, an allergy,
//! vital signs over a year and a half, visits, notes and lab results). Every value is made up;
//! everything goes through the repositories, so it is sealed and audited like real work.

use chrono::Duration;
use rand::Rng;
use rand::seq::IndexedRandom;

use super::Error;
use super::audit::{AuditContext, Role};
use super::care::CareKind;
use super::ids::{PatientId, UserId};
use super::state::Services;
use super::users::{Invitation, NewUser};
use crate::clinical::{
    Allergy, Encounter, EntryBody, LabResult, Medication, MedicationStatus, Note, Problem, ProblemStatus, ResultFlag,
    Severity, Vital,
};

/// The demo staff, with made-up names. Patient 0 is assigned to the first clinician, has the
/// second on their care team, and nothing to do with the third (whom browser tests use for
/// break-glass).
pub const CLINICIANS: [&str; 3] = ["Dana Reyes, MD", "Lee Okafor, NP", "Omar Haddad, MD"];
pub const SECURITY_OFFICER: &str = "Sam Ito";
pub const FRONT_DESK: &str = "Riley Morgan";

/// The accounts made for the demo, each with its single-use enrollment link token.
pub struct DemoAccounts {
    pub clinicians: Vec<(String, Invitation)>,
    pub security_officer: Invitation,
    /// An admin at the front desk: care teams, the clinic day, online-booking switches.
    pub front_desk: Invitation,
    /// The accounts of the first patients (0 and 1), as many as there are.
    pub patients: Vec<Invitation>,
}

/// Invites the demo staff and the first patients' accounts; valid for `ttl`.
pub async fn invite_demo_accounts(
    services: &Services,
    ctx: &AuditContext,
    first_patients: Vec<(PatientId, String)>,
    ttl: Duration,
) -> Result<DemoAccounts, Error> {
    let mut clinicians = Vec::with_capacity(CLINICIANS.len());
    for name in CLINICIANS {
        let new = NewUser { role: Role::Clinician, display_name: name.to_owned(), patient_id: None };
        clinicians.push((name.to_owned(), services.users.invite(ctx, new, ttl).await?));
    }
    let officer = NewUser { role: Role::SecurityOfficer, display_name: SECURITY_OFFICER.to_owned(), patient_id: None };
    let security_officer = services.users.invite(ctx, officer, ttl).await?;
    let desk = NewUser { role: Role::Admin, display_name: FRONT_DESK.to_owned(), patient_id: None };
    let front_desk = services.users.invite(ctx, desk, ttl).await?;
    let mut patients = Vec::with_capacity(first_patients.len());
    for (id, name) in first_patients {
        let new = NewUser { role: Role::Patient, display_name: name, patient_id: Some(id) };
        patients.push(services.users.invite(ctx, new, ttl).await?);
    }
    Ok(DemoAccounts { clinicians, security_officer, front_desk, patients })
}

/// Gives two demo clinicians a workforce identity that the self-access detector catches: the
/// first is linked to patient `n` (assigned to them) as their own record; the second shares the
/// surname and address of patient `n + 1` (assigned to them), a relative. Opening those charts
/// raises a self-access alert. Only blind indexes are stored.
pub async fn demo_workforce_identities(
    services: &Services,
    ctx: &AuditContext,
    created: &[(PatientId, crate::domain::patients::NewPatient)],
    clinicians: &[crate::domain::ids::UserId],
) -> Result<(), Error> {
    use crate::domain::users::WorkforceIdentity;
    let n = clinicians.len();
    let (Some(&first), Some(&second)) = (clinicians.first(), clinicians.get(1)) else { return Ok(()) };
    if let Some((own, _)) = created.get(n) {
        let identity = WorkforceIdentity { own_patient_id: Some(*own), ..Default::default() };
        services.users.set_workforce_identity(ctx, first, identity).await?;
    }
    if let Some((_, relative)) = created.get(n + 1)
        && let Some(address) = &relative.address
    {
        let identity = WorkforceIdentity {
            family_name: Some(relative.family_name.clone()),
            address_line1: Some(address.line1.clone()),
            postal_code: Some(address.postal_code.clone()),
            own_patient_id: None,
        };
        services.users.set_workforce_identity(ctx, second, identity).await?;
    }
    Ok(())
}

/// Patient `i` is assigned to clinician `i mod n` and has clinician `i + 1 mod n` on the care
/// team.
pub async fn relate(
    services: &Services,
    ctx: &AuditContext,
    patients: &[PatientId],
    clinicians: &[UserId],
    progress: impl Fn(u64),
) -> Result<(), Error> {
    if clinicians.is_empty() {
        return Ok(());
    }
    for (i, patient) in patients.iter().enumerate() {
        let assigned = clinicians[i % clinicians.len()];
        services.care.start(ctx, *patient, assigned, CareKind::Assignment).await?;
        if clinicians.len() > 1 {
            let team = clinicians[(i + 1) % clinicians.len()];
            services.care.start(ctx, *patient, team, CareKind::CareTeam).await?;
        }
        progress(1);
    }
    Ok(())
}

/// The demo clinic's visit types and hours: every clinician works weekdays 09:00-12:00 and
/// 13:00-17:00 in the clinic's zone. Follow-ups and video visits may be booked online; a new
/// patient visit is a request staff approve. A few of patients 2.. get visits in the coming
/// days (patients 0 and 1 have none, so browser tests start from empty lists).
pub async fn schedule_demo(
    services: &Services,
    ctx: &AuditContext,
    patients: &[PatientId],
    clinicians: &[UserId],
) -> Result<(), Error> {
    use chrono::{Datelike, NaiveTime, Weekday};

    use super::scheduling::slots::WeeklyHours;
    use super::scheduling::{Booking, NewVisitType};
    let hours: Vec<WeeklyHours> = [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri]
        .into_iter()
        .flat_map(|weekday| {
            [(9, 12), (13, 17)].map(|(start, end)| WeeklyHours {
                weekday,
                start: NaiveTime::from_hms_opt(start, 0, 0).unwrap_or_default(),
                end: NaiveTime::from_hms_opt(end, 0, 0).unwrap_or_default(),
            })
        })
        .collect();
    for clinician in clinicians {
        services.schedule.set_weekly_hours(ctx, *clinician, &hours).await?;
    }
    let kinds = [
        ("Follow-up visit", false, 30, true, false),
        ("Video visit", true, 30, true, false),
        ("New patient visit", false, 60, true, true),
    ];
    let mut follow_up = None;
    let mut video_visit = None;
    for (name, video, minutes, self_schedule, requires_approval) in kinds {
        let new =
            NewVisitType { name: name.to_owned(), video, duration_minutes: minutes, self_schedule, requires_approval };
        let id = services.schedule.create_visit_type(ctx, new).await?;
        follow_up.get_or_insert(id);
        if video {
            video_visit = Some(id);
        }
    }
    let Some(follow_up) = follow_up else { return Ok(()) };
    let reasons = ["Blood pressure check", "Medication review", "Follow-up on lab results", "Annual physical"];
    let today = services.clock.now().with_timezone(&services.schedule.zone).date_naive();
    let mut booked = 0;
    for (n, patient) in patients.iter().enumerate().skip(2).take(12) {
        let clinician = clinicians[n % clinicians.len()];
        let mut day = today + Duration::days(1 + (n as i64 % 5));
        while matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            day += Duration::days(1);
        }
        let slots = services.schedule.open_slots(clinician, follow_up, day, day).await?;
        let Some(slot) = slots.get(n % slots.len().max(1)) else { continue };
        let booking = Booking {
            patient: *patient,
            clinician,
            visit_type: follow_up,
            starts_at: slot.start,
            reason: reasons[n % reasons.len()].to_owned(),
        };
        match services.schedule.book(ctx, booking).await {
            Ok(_) => booked += 1,
            // Two demo patients drew the same slot: the database refused the second.
            Err(Error::Conflict(_)) => {}
            Err(err) => return Err(err),
        }
    }
    if let (Some(patient), Some(clinician), Some(video)) = (patients.first(), clinicians.first(), video_visit) {
        video_visit_now(services, ctx, *patient, *clinician, video).await?;
    }
    tracing::info!(booked, "demo appointments booked");
    Ok(())
}

/// Patient 0's video visit with the first clinician, starting at this quarter hour whatever
/// the time of day, so the waiting room can be tried as soon as the demo (or a browser test)
/// starts. Booked as the platform, outside the clinician's hours.
async fn video_visit_now(
    services: &Services,
    ctx: &AuditContext,
    patient: PatientId,
    clinician: UserId,
    video: uuid::Uuid,
) -> Result<(), Error> {
    use chrono::{DurationRound, Timelike};
    let now = services.clock.now();
    let quarter = now.duration_trunc(Duration::minutes(15)).unwrap_or(now.with_second(0).unwrap_or(now));
    for attempt in 0..4 {
        let booking = super::scheduling::Booking {
            patient,
            clinician,
            visit_type: video,
            starts_at: quarter + Duration::minutes(15 * attempt),
            reason: "Video follow-up".to_owned(),
        };
        match services.schedule.book(ctx, booking).await {
            Ok(_) => return Ok(()),
            Err(Error::Conflict(_)) => continue,
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

/// Writes a clinical history for each patient, `concurrency` patients at a time.
pub async fn seed_histories(
    services: &Services,
    ctx: &AuditContext,
    patients: &[PatientId],
    concurrency: usize,
    progress: impl Fn(u64),
) -> Result<(), Error> {
    use futures::{StreamExt, TryStreamExt};
    let today = services.clock.now();
    let histories: Vec<(PatientId, Vec<EntryBody>)> = {
        let mut rng = rand::rng();
        patients.iter().map(|id| (*id, synthetic_history(&mut rng, today))).collect()
    };
    futures::stream::iter(histories.into_iter().map(|(patient, entries)| async move {
        for body in entries {
            services.charts.add(ctx, patient, body).await?;
        }
        Ok::<_, Error>(())
    }))
    .buffer_unordered(concurrency.max(1))
    .inspect_ok(|()| progress(1))
    .try_collect::<Vec<()>>()
    .await?;
    Ok(())
}

struct Condition {
    code: &'static str,
    description: &'static str,
    medication: (&'static str, &'static str, &'static str),
}

const CONDITIONS: &[Condition] = &[
    Condition {
        code: "I10",
        description: "Essential (primary) hypertension",
        medication: ("Lisinopril", "10 mg", "once daily"),
    },
    Condition {
        code: "E11.9",
        description: "Type 2 diabetes mellitus without complications",
        medication: ("Metformin", "500 mg", "twice daily"),
    },
    Condition {
        code: "E78.5",
        description: "Hyperlipidemia, unspecified",
        medication: ("Atorvastatin", "20 mg", "once daily at night"),
    },
    Condition {
        code: "J45.909",
        description: "Unspecified asthma, uncomplicated",
        medication: ("Albuterol inhaler", "90 mcg, 2 puffs", "as needed"),
    },
    Condition {
        code: "K21.9",
        description: "Gastro-esophageal reflux disease without esophagitis",
        medication: ("Omeprazole", "20 mg", "once daily"),
    },
    Condition {
        code: "F41.1",
        description: "Generalized anxiety disorder",
        medication: ("Sertraline", "50 mg", "once daily"),
    },
    Condition {
        code: "E03.9",
        description: "Hypothyroidism, unspecified",
        medication: ("Levothyroxine", "50 mcg", "once daily before breakfast"),
    },
];

const ALLERGIES: &[(&str, &str, Severity)] = &[
    ("Penicillin", "Hives", Severity::Moderate),
    ("Sulfonamides", "Rash", Severity::Mild),
    ("Peanuts", "Anaphylaxis", Severity::Severe),
    ("Latex", "Contact dermatitis", Severity::Mild),
    ("Codeine", "Nausea and vomiting", Severity::Moderate),
];

/// About sixteen entries: two problems with their medications, an allergy, six sets of vital
/// signs trending over 18 months, three visits, two notes (one released), two lab results.
pub fn synthetic_history(rng: &mut impl Rng, now: chrono::DateTime<chrono::Utc>) -> Vec<EntryBody> {
    let today = now.date_naive();
    let days_ago = |days: i64| today - Duration::days(days);
    let mut entries = Vec::with_capacity(16);
    let first = rng.random_range(0..CONDITIONS.len());
    let second = (first + rng.random_range(1..CONDITIONS.len())) % CONDITIONS.len();
    for index in [first, second] {
        let condition = &CONDITIONS[index];
        let onset = days_ago(rng.random_range(400..3000));
        entries.push(EntryBody::Problem(Problem {
            code: condition.code.to_owned(),
            description: condition.description.to_owned(),
            onset: Some(onset),
            status: ProblemStatus::Active,
        }));
        let (name, dose, frequency) = condition.medication;
        entries.push(EntryBody::Medication(Medication {
            name: name.to_owned(),
            dose: dose.to_owned(),
            frequency: frequency.to_owned(),
            start: Some(onset + Duration::days(14)),
            status: MedicationStatus::Active,
        }));
    }
    if let Some((substance, reaction, severity)) = ALLERGIES.choose(rng) {
        entries.push(EntryBody::Allergy(Allergy {
            substance: (*substance).to_owned(),
            reaction: (*reaction).to_owned(),
            severity: *severity,
        }));
    }
    let mut systolic: i32 = rng.random_range(118..158);
    let mut weight: f32 = rng.random_range(52.0..110.0);
    let height: f32 = rng.random_range(150.0..195.0);
    for visit in 0..6i64 {
        systolic = (systolic + rng.random_range(-8..5)).clamp(100, 190);
        weight = (weight + rng.random_range(-1.5..1.0)).max(40.0);
        let taken = now - Duration::days(540 - visit * 100) - Duration::minutes(rng.random_range(0..600));
        entries.push(EntryBody::Vital(Vital {
            taken_at: taken,
            systolic: Some(u16::try_from(systolic).unwrap_or(120)),
            diastolic: Some(u16::try_from(systolic - rng.random_range(35..55)).unwrap_or(80)),
            heart_rate: Some(rng.random_range(58..96)),
            temperature_c: Some((rng.random_range(361..374) as f32) / 10.0),
            weight_kg: Some((weight * 10.0).round() / 10.0),
            height_cm: Some(height.round()),
            spo2: Some(rng.random_range(94..100)),
        }));
    }
    for (days, kind, reason) in [
        (440, "Office visit", "Annual physical"),
        (240, "Office visit", "Follow-up of chronic conditions"),
        (40, "Video visit", "Medication review"),
    ] {
        entries.push(EntryBody::Encounter(Encounter {
            date: days_ago(days),
            encounter_type: kind.to_owned(),
            reason: reason.to_owned(),
        }));
    }
    entries.push(EntryBody::Note(Note {
        title: "Follow-up visit".to_owned(),
        text: "Doing well on current medications. Continue the plan; recheck labs in three months.".to_owned(),
        released: true,
    }));
    entries.push(EntryBody::Note(Note {
        title: "Internal: care coordination".to_owned(),
        text: "Coordinate with the care team before changing doses.".to_owned(),
        released: false,
    }));
    let a1c = f32::from(rng.random_range(52u8..92)) / 10.0;
    entries.push(EntryBody::Result(LabResult {
        test: "Hemoglobin A1c".to_owned(),
        value: format!("{a1c:.1}"),
        unit: "%".to_owned(),
        reference_range: "4.0-5.6".to_owned(),
        flag: if a1c > 5.6 { ResultFlag::High } else { ResultFlag::Normal },
        collected_on: days_ago(45),
    }));
    let ldl = rng.random_range(70..190);
    entries.push(EntryBody::Result(LabResult {
        test: "LDL cholesterol".to_owned(),
        value: ldl.to_string(),
        unit: "mg/dL".to_owned(),
        reference_range: "<100".to_owned(),
        flag: if ldl >= 100 { ResultFlag::High } else { ResultFlag::Normal },
        collected_on: days_ago(45),
    }));
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_synthetic_entry_passes_validation() {
        let mut rng = rand::rng();
        let now = chrono::Utc::now();
        for _ in 0..200 {
            for entry in synthetic_history(&mut rng, now) {
                assert_eq!(entry.validate(now.date_naive()), Ok(()), "{entry:?}");
            }
        }
    }
}
