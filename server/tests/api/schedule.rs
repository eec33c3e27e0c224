//! Scheduling over HTTP: a calendar shows busy time, without the patient's name, to a clinician
//! who may not see that patient; the patient books and cancels their own visit.

use app::domain::audit::{AuditContext, Role};
use app::domain::care::CareKind;
use app::domain::scheduling::NewVisitType;
use app::domain::scheduling::slots::WeeklyHours;
use app::on_both_backends;
use chrono::{Duration, NaiveTime, Weekday};

use crate::helpers::spawn_app;

on_both_backends!(
    a_calendar_shows_busy_time_without_the_name_to_a_clinician_who_may_not_see_the_patient,
    |backend| async move {
        let app = spawn_app(backend).await;
        let system = AuditContext::system("test");
        let (own_clinician, own_cookie) = app.signed_in(Role::Clinician).await;
        let (_, other_cookie) = app.signed_in(Role::Clinician).await;
        let (patient_user, patient_cookie) = app.signed_in(Role::Patient).await;
        let patient = patient_user.patient_id.unwrap();
        let name = {
            let record = app.services.patients.get(&system, patient).await.unwrap().details;
            format!("{} {}", record.given_name, record.family_name)
        };
        app.services.care.start(&system, patient, own_clinician.id, CareKind::Assignment).await.unwrap();
        let every_day =
            [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun].map(
                |weekday| WeeklyHours {
                    weekday,
                    start: NaiveTime::MIN,
                    end: NaiveTime::from_hms_opt(23, 45, 0).unwrap(),
                },
            );
        app.services.schedule.set_weekly_hours(&system, own_clinician.id, &every_day).await.unwrap();
        let new = NewVisitType {
            name: "Check-up".into(),
            video: false,
            duration_minutes: 30,
            self_schedule: true,
            requires_approval: false,
        };
        let visit = app.services.schedule.create_visit_type(&system, new).await.unwrap();
        let tomorrow = (chrono::Utc::now() + Duration::days(1)).date_naive();

        // The patient finds a slot and books it with a reason.
        let slots: serde_json::Value = app
        .call_as(&patient_cookie, "schedule/open_slots", serde_json::json!({
            "clinician_id": own_clinician.id.to_string(), "visit_type_id": visit.to_string(), "from": tomorrow, "days": 1
        }))
        .await
        .json()
        .await
        .unwrap();
        let start = slots[3]["start"].clone();
        let booked = app
        .call_as(&patient_cookie, "schedule/book_my_visit", serde_json::json!({
            "clinician_id": own_clinician.id.to_string(), "visit_type_id": visit.to_string(), "starts_at": start,
            "reason": "Rash on both hands"
        }))
        .await;
        assert_eq!(booked.status(), 200);

        let window = serde_json::json!({"from": tomorrow.and_hms_opt(0, 0, 0).unwrap().and_utc(), "days": 2, "whole_clinic": true});
        let own: serde_json::Value =
            app.call_as(&own_cookie, "schedule/calendar", window.clone()).await.json().await.unwrap();
        let other = app.call_as(&other_cookie, "schedule/calendar", window).await;
        assert_eq!(other.status(), 200);
        let other_text = other.text().await.unwrap();
        let other: serde_json::Value = serde_json::from_str(&other_text).unwrap();

        assert_eq!(own["entries"][0]["patient_name"], name.as_str());
        assert_eq!(other["entries"][0]["start"], start);
        assert!(other["entries"][0]["patient_name"].is_null(), "busy, without the name");
        for phi in [name.as_str(), "Rash"] {
            assert!(!other_text.contains(phi), "the other clinician's calendar carries PHI");
        }

        // The patient cancels with a reason; the slot opens again.
        let mine: serde_json::Value =
            app.call_as(&patient_cookie, "schedule/my_appointments", serde_json::json!({})).await.json().await.unwrap();
        assert_eq!(mine[0]["reason"], "Rash on both hands");
        let id = mine[0]["id"].as_str().unwrap().to_owned();
        let cancelled = app
            .call_as(
                &patient_cookie,
                "schedule/cancel",
                serde_json::json!({"appointment_id": id, "reason": "Better now"}),
            )
            .await;
        assert_eq!(cancelled.status(), 200);
        let mine: serde_json::Value =
            app.call_as(&patient_cookie, "schedule/my_appointments", serde_json::json!({})).await.json().await.unwrap();
        assert_eq!(mine[0]["status"], "cancelled");
        assert_eq!(mine[0]["cancel_reason"], "Better now");
        // Another patient's account cannot cancel it, nor see it.
        let (_, stranger) = app.signed_in(Role::Patient).await;
        let refused = app
            .call_as(&stranger, "schedule/cancel", serde_json::json!({"appointment_id": mine[0]["id"], "reason": "x"}))
            .await;
        assert_eq!(refused.status(), 403);
    }
);
