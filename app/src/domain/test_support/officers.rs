//! Security officers with an email address on file, as alert delivery finds them.

use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};

use crate::domain::audit::{AuditContext, Role};
use crate::domain::crypto::FieldRef;
use crate::domain::entities::app_user;
use crate::domain::ids::UserId;
use crate::domain::state::Services;
use crate::domain::users::NewUser;

/// A security officer account whose sealed email is `email`, active or still invited.
pub async fn security_officer(services: &Services, email: &str, active: bool) -> UserId {
    let new = NewUser { role: Role::SecurityOfficer, display_name: "Sam Officer".into(), patient_id: None };
    let system = AuditContext::system("test");
    let invitation = services.users.invite(&system, new, chrono::Duration::hours(1)).await.expect("invite");
    let row = app_user::Entity::find_by_id(invitation.user_id.0).one(&services.db).await.expect("read").expect("row");
    let key = services.keys.get(&services.db, row.data_key_id).await.expect("key");
    let sealed = key.seal_str(FieldRef::new("app_user", "email", row.id), email).expect("seal");
    let mut account: app_user::ActiveModel = row.into();
    account.email = Set(Some(sealed));
    if active {
        account.status = Set("active".to_owned());
    }
    account.update(&services.db).await.expect("update");
    invitation.user_id
}
