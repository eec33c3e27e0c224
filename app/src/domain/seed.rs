//! Synthetic demographics for demos, tests and benchmarks. Never real PHI: SSNs start with 9
//! (a range never issued as an SSN), phone numbers use the fictional 555 exchange, and email
//! addresses are at example.org, a domain reserved for examples (RFC 2606).

use chrono::NaiveDate;
use fake::Fake;
use fake::faker::address::en::{BuildingNumber, CityName, StateAbbr, StreetSuffix, ZipCode};
use fake::faker::name::en::{FirstName, LastName};
use rand::Rng;

use super::Error;
use super::audit::AuditContext;
use super::ids::PatientId;
use super::patients::{NewPatient, PatientRepo, PostalAddress, Sex};

/// Creates `count` synthetic patients through the repository (so each is sealed and audited
/// like any other), `concurrency` at a time, calling `progress` after each. Returns what was
/// created, for tests that then look for these values where they must not be.
pub async fn seed_patients(
    repo: &PatientRepo,
    ctx: &AuditContext,
    count: u64,
    concurrency: usize,
    progress: impl Fn(u64),
) -> Result<Vec<(PatientId, NewPatient)>, Error> {
    let run = run_tag(&mut rand::rng());
    seed_patients_tagged(repo, ctx, count, concurrency, &run, progress).await
}

/// As [`seed_patients`], with MRNs `{run}-0000000`, `{run}-0000001`, ...: scripts that need a
/// known patient (browser tests) choose the prefix.
pub async fn seed_patients_tagged(
    repo: &PatientRepo,
    ctx: &AuditContext,
    count: u64,
    concurrency: usize,
    run: &str,
    progress: impl Fn(u64),
) -> Result<Vec<(PatientId, NewPatient)>, Error> {
    use futures::{StreamExt, TryStreamExt};
    let patients: Vec<NewPatient> = {
        let mut rng = rand::rng();
        (0..count).map(|serial| synthetic_patient(&mut rng, run, serial)).collect()
    };
    let created = futures::stream::iter(patients.into_iter().map(|patient| async {
        let id = repo.create(ctx, patient.clone()).await?;
        Ok::<_, Error>((id, patient))
    }))
    .buffer_unordered(concurrency.max(1))
    .inspect_ok(|_| progress(1))
    .try_collect()
    .await?;
    Ok(created)
}

/// One synthetic patient. `serial` makes the MRN unique within a run; `run` (a few random
/// letters chosen once per run) keeps MRNs unique across runs.
pub fn synthetic_patient(rng: &mut impl Rng, run: &str, serial: u64) -> NewPatient {
    let given_name: String = FirstName().fake_with_rng(rng);
    let family_name: String = LastName().fake_with_rng(rng);
    let birth_date =
        NaiveDate::from_ymd_opt(rng.random_range(1935..2024), rng.random_range(1..=12), rng.random_range(1..=28))
            .unwrap_or_default();
    let sex = match rng.random_range(0..100) {
        0..48 => Sex::Female,
        48..96 => Sex::Male,
        96..98 => Sex::Other,
        _ => Sex::Unknown,
    };
    let street: String = LastName().fake_with_rng(rng);
    let suffix: String = StreetSuffix().fake_with_rng(rng);
    let number: String = BuildingNumber().fake_with_rng(rng);
    let email_user = format!("{}.{}{}", given_name.to_lowercase(), family_name.to_lowercase(), serial)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
        .collect::<String>();
    NewPatient {
        ssn: Some(format!(
            "9{:02}-{:02}-{:04}",
            rng.random_range(0..100),
            rng.random_range(1..100),
            rng.random_range(1..10_000)
        )),
        mrn: format!("{run}-{serial:07}"),
        phone: Some(format!("({}) 555-{:04}", rng.random_range(201..990), rng.random_range(0..10_000))),
        email: Some(format!("{email_user}@example.org")),
        address: Some(PostalAddress {
            line1: format!("{number} {street} {suffix}"),
            line2: None,
            city: CityName().fake_with_rng(rng),
            state: StateAbbr().fake_with_rng(rng),
            postal_code: ZipCode().fake_with_rng(rng),
            country: "US".to_owned(),
        }),
        given_name,
        family_name,
        birth_date,
        sex,
    }
}

/// A few letters that prefix this run's MRNs.
pub fn run_tag(rng: &mut impl Rng) -> String {
    (0..4).map(|_| char::from(rng.random_range(b'A'..=b'Z'))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::patients::validate;

    #[test]
    fn synthetic_patients_pass_validation_and_stay_in_reserved_ranges() {
        let mut rng = rand::rng();
        for serial in 0..500 {
            let patient = synthetic_patient(&mut rng, "TEST", serial);
            validate(&patient).unwrap();
            assert!(patient.ssn.as_deref().unwrap().starts_with('9'));
            assert!(patient.email.as_deref().unwrap().ends_with("@example.org"));
            assert!(patient.phone.as_deref().unwrap().contains(" 555-"));
        }
    }
}
