//! The sign-in rules over the rows real refusals write (not plants), on both backends: five
//! forged assertions naming one patient's credential, sent from one client, raise exactly one
//! alert for the account (naming it) and one for the address, with the five rows behind each.

use app::domain::entities::{audit_event, security_alert, security_alert_event};
use app::domain::monitoring::rules::{Rule, Scan, sign_in_failures_account, sign_in_failures_address, sign_in_spray};
use app::on_both_backends;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait};

use crate::helpers::{TestApp, spawn_app};
use crate::soft_passkey::{SoftPasskey, challenge};

async fn raise_all(app: &TestApp, rule: &dyn Rule, settings: app::domain::monitoring::rules::RuleSettings) -> usize {
    let db = &app.services.db;
    let last = audit_event::Entity::find().order_by_desc(audit_event::Column::Seq).one(db).await.unwrap().unwrap();
    let now = app.services.clock.now();
    let scan = Scan { after_seq: 0, up_to_seq: last.seq, now, settings };
    // Scanned before the transaction begins: SQLite has one connection.
    let found = rule.scan(db, &scan).await.unwrap();
    let txn = db.begin().await.unwrap();
    let mut raised = 0;
    for alert in found {
        raised += usize::from(app::domain::monitoring::raise(&txn, alert, now).await.unwrap().is_some());
    }
    txn.commit().await.unwrap();
    raised
}

on_both_backends!(forged_sign_ins_raise_one_alert_for_the_account_and_one_for_the_address, |backend| async move {
    let app = spawn_app(backend).await;
    let (patient, key) = SoftPasskey::enrolled_patient(&app).await;
    for attempt in 0..5 {
        challenge(&app).await;
        let forged = app.call_json("auth/finish_sign_in", key.forged()).await;
        assert_eq!(forged.status(), 401, "forged attempt {attempt}");
    }
    let refused: Vec<i64> = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("auth.sign_in"))
        .filter(audit_event::Column::Outcome.eq("denied"))
        .order_by_asc(audit_event::Column::Seq)
        .all(&app.services.db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.seq)
        .collect();
    assert_eq!(refused.len(), 5);

    let account =
        raise_all(&app, &sign_in_failures_account::SignInFailuresAccount, sign_in_failures_account::default_settings())
            .await;
    let address =
        raise_all(&app, &sign_in_failures_address::SignInFailuresAddress, sign_in_failures_address::default_settings())
            .await;
    let spray = raise_all(&app, &sign_in_spray::SignInSpray, sign_in_spray::default_settings()).await;

    assert_eq!((account, address, spray), (1, 1, 0));
    for (kind, actor) in [("sign-in-failures-account", Some(patient.id.0)), ("sign-in-failures-address", None)] {
        let alert = security_alert::Entity::find()
            .filter(security_alert::Column::Kind.eq(kind))
            .one(&app.services.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((alert.user_id, alert.observed, alert.severity.as_str()), (actor, Some(5), "medium"), "{kind}");
        let seqs: Vec<i64> = security_alert_event::Entity::find()
            .filter(security_alert_event::Column::AlertId.eq(alert.id))
            .order_by_asc(security_alert_event::Column::Seq)
            .all(&app.services.db)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(seqs, refused, "{kind}");
    }
});
