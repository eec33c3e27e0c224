//! The admin's workforce-identity form over HTTP: only an admin may set it, bad input is a 422
//! naming the field, and what is stored is blind indexes only.

use app::domain::audit::Role;
use app::domain::entities::app_user;
use app::on_both_backends;
use sea_orm::EntityTrait;
use serde_json::json;

use crate::helpers::spawn_app;

on_both_backends!(an_admin_sets_a_members_identity_and_only_indexes_are_stored, |backend| async move {
    let app = spawn_app(backend).await;
    let (_, admin) = app.signed_in(Role::Admin).await;
    let (doctor, doctor_cookie) = app.signed_in(Role::Clinician).await;
    let input = |user: String, family: Option<&str>| {
        json!({"input": {
            "user_id": user, "family_name": family, "address_line1": "7 Synthetic Row",
            "postal_code": "00001", "own_patient_mrn": null
        }})
    };

    let refused =
        app.call_as(&doctor_cookie, "admin/set_workforce_identity", input(doctor.id.to_string(), Some("Zed"))).await;
    assert_eq!(refused.status(), 403);
    let bad_id = app.call_as(&admin, "admin/set_workforce_identity", input("not-an-id".into(), Some("Zed"))).await;
    assert_eq!(bad_id.status(), 422);
    assert!(bad_id.text().await.unwrap().contains("user_id"));
    let partial = app.call_as(&admin, "admin/set_workforce_identity", input(doctor.id.to_string(), None)).await;
    assert_eq!(partial.status(), 422);
    assert!(partial.text().await.unwrap().contains("family_name"));

    let saved =
        app.call_as(&admin, "admin/set_workforce_identity", input(doctor.id.to_string(), Some("Zedwardson"))).await;
    assert_eq!(saved.status(), 200);
    let row = app_user::Entity::find_by_id(doctor.id.0).one(&app.services.db).await.unwrap().unwrap();
    let (family, address) = (row.family_name_bidx.unwrap(), row.address_bidx.unwrap());
    assert_eq!((family.len(), address.len()), (32, 32), "HMAC-SHA256 indexes");
    assert!(!String::from_utf8_lossy(&family).to_lowercase().contains("zedwardson"));
    assert!(!String::from_utf8_lossy(&address).to_lowercase().contains("synthetic row"));
});
