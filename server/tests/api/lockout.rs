//! The account lockout counts only failures whose signature verified: a credential id is not a
//! secret, so forged assertions naming it must not lock its owner out.

use app::domain::entities::audit_event;
use app::on_both_backends;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::helpers::spawn_app;
use crate::soft_passkey::{SoftPasskey, challenge};

async fn sign_in_rules(app: &crate::helpers::TestApp, user: uuid::Uuid) -> Vec<String> {
    audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("auth.sign_in"))
        .filter(audit_event::Column::ResourceId.eq(user.to_string()))
        .order_by_asc(audit_event::Column::Seq)
        .all(&app.services.db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.rule.unwrap_or_default())
        .collect()
}

on_both_backends!(
    forged_assertions_naming_a_patients_real_credential_do_not_lock_the_patient_out,
    |backend| async move {
        let app = spawn_app(backend).await;
        let (patient, mut key) = SoftPasskey::enrolled_patient(&app).await;
        for attempt in 0..6 {
            challenge(&app).await;
            let forged = app.call_json("auth/finish_sign_in", key.forged()).await;
            assert_eq!(forged.status(), 401, "forged attempt {attempt}");
        }

        let challenge = challenge(&app).await;
        let response = app.call_json("auth/finish_sign_in", key.assertion(&challenge, &app.address)).await;

        assert_eq!(response.status(), 200, "the patient signs in: {}", response.text().await.unwrap());
        let mut expected = vec!["verification-failed".to_owned(); 6];
        expected.push("passkey".to_owned());
        assert_eq!(sign_in_rules(&app, patient.id.0).await, expected);
    }
);

on_both_backends!(signed_assertions_whose_counter_went_back_lock_the_account, |backend| async move {
    let app = spawn_app(backend).await;
    let (patient, mut key) = SoftPasskey::enrolled_patient(&app).await;
    let first = challenge(&app).await;
    assert_eq!(app.call_json("auth/finish_sign_in", key.assertion(&first, &app.address)).await.status(), 200);
    // A clone of the key, signing with the counter the server has already seen.
    for attempt in 0..app::domain::throttle::MAX_FAILURES_PER_ACCOUNT {
        key.counter = 1;
        let challenge = challenge(&app).await;
        let cloned = app.call_json("auth/finish_sign_in", key.assertion(&challenge, &app.address)).await;
        assert_eq!(cloned.status(), 401, "cloned attempt {attempt}");
    }

    key.counter = 100;
    let challenge = challenge(&app).await;
    let response = app.call_json("auth/finish_sign_in", key.assertion(&challenge, &app.address)).await;

    assert_eq!(response.status(), 429);
    let mut expected = vec!["passkey".to_owned()];
    expected.extend(vec!["signature-counter-regressed".to_owned(); 5]);
    expected.push("rate-limited-account".to_owned());
    assert_eq!(sign_in_rules(&app, patient.id.0).await, expected);
});
