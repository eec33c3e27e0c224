//! Envelope encryption against a real database: KEK rotation by re-wrapping only, crypto-shredding
//! one patient, and clear errors for keys that do not exist.

#![allow(clippy::unwrap_used)] // Test code: a failed step should stop the test where it failed.

mod common;

use app::domain::Error;
use app::domain::clock::Clock;
use app::domain::crypto::CryptoError;
use app::domain::entities::{data_key, patient};
use app::domain::state::Services;
use app::on_both_backends;
use common::{TestDb, TestServices, sample_patient, system};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

on_both_backends!(after_kek_rotation_and_rewrap_every_value_opens_under_the_new_version_only, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, keys, clock) = test.services();
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(services.patients.create(&system(), sample_patient(&format!("R{n}"))).await.unwrap());
    }
    let sealed_before: Vec<_> = patient::Entity::find().all(&test.db).await.unwrap();

    let new_version = keys.rotate();
    let rewrapped = services.keys.rewrap_all(&test.db, clock.now()).await.unwrap();

    assert_eq!(rewrapped, 5);
    let by_version = services.keys.count_by_version(&test.db).await.unwrap();
    assert_eq!(by_version, vec![("test-master".to_owned(), new_version as i32, 5)]);
    let old = data_key::Entity::find().filter(data_key::Column::KekVersion.eq(1)).all(&test.db).await.unwrap();
    assert!(old.is_empty(), "a data key is still wrapped under the old KEK version");
    // PHI itself was not rewritten.
    assert_eq!(patient::Entity::find().all(&test.db).await.unwrap(), sealed_before);
    // With the old version gone and no cached keys, everything still opens.
    keys.retire(1);
    let fresh = Services::new(test.db.clone(), keys.clone(), clock.clone());
    for (n, id) in ids.iter().enumerate() {
        let patient = fresh.patients.get(&system(), *id).await.unwrap();
        assert_eq!(patient.details, sample_patient(&format!("R{n}")));
    }
    assert_eq!(services.keys.rewrap_all(&test.db, clock.now()).await.unwrap(), 0);
});

on_both_backends!(destroying_one_patients_data_key_leaves_only_that_patient_unreadable, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, keys, clock) = test.services();
    let shredded = services.patients.create(&system(), sample_patient("S1")).await.unwrap();
    let kept = services.patients.create(&system(), sample_patient("S2")).await.unwrap();
    let key_id = services.keys.id_for_subject(&test.db, shredded.0).await.unwrap().unwrap();

    services.keys.destroy(&test.db, key_id, clock.now()).await.unwrap();

    let fresh = Services::new(test.db.clone(), keys.clone(), clock.clone());
    for repo in [&services.patients, &fresh.patients] {
        match repo.get(&system(), shredded).await {
            Err(Error::Internal(err)) => {
                let crypto = err.downcast_ref::<CryptoError>().expect("a crypto error");
                assert!(matches!(crypto, CryptoError::DestroyedDataKey(id) if *id == key_id));
            }
            other => panic!("expected the shredded patient to be unreadable, got {other:?}"),
        }
        assert_eq!(repo.get(&system(), kept).await.unwrap().details, sample_patient("S2"));
    }
});

on_both_backends!(an_unknown_data_key_id_gives_a_clear_error, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let missing = uuid::Uuid::new_v4();
    let err = services.keys.get(&test.db, missing).await.unwrap_err();
    assert_eq!(format!("{err}"), format!("data key {missing} is not known"));
});
