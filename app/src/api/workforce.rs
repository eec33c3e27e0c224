//! A workforce member's identity for the self-access detector: an admin types the member's
//! surname and home address (and, if they are a patient here, their MRN); only blind indexes
//! and the patient id are kept (`UserRepo::set_workforce_identity`). Nothing typed comes back.

use crate::api::codec::Json;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// What the admin's form sends. Surname, address line and postal code together, or none.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkforceIdentityInput {
    pub user_id: String,
    pub family_name: Option<String>,
    pub address_line1: Option<String>,
    pub postal_code: Option<String>,
    /// The member's own patient record, by MRN, if they are a patient here.
    pub own_patient_mrn: Option<String>,
}

impl std::fmt::Debug for WorkforceIdentityInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkforceIdentityInput").field("user_id", &self.user_id).finish_non_exhaustive()
    }
}

#[server(endpoint = "admin/set_workforce_identity", prefix = "/api", input = Json)]
pub async fn set_workforce_identity(input: WorkforceIdentityInput) -> Result<(), AppError> {
    use super::context::{authorize_operation, parse_id};
    use crate::domain::audit::Action;
    use crate::domain::ids::UserId;
    use crate::domain::users::WorkforceIdentity;
    let (services, _, ctx) = authorize_operation(Action::WorkforceIdentitySet).await?;
    let user = UserId(parse_id("user_id", &input.user_id)?);
    let own_patient_id = match input.own_patient_mrn.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
        Some(mrn) => Some(
            services
                .patients
                .id_by_mrn(&ctx, mrn)
                .await?
                .ok_or_else(|| crate::domain::Error::validation("own_patient_mrn", "no patient has this MRN"))?,
        ),
        None => None,
    };
    let identity = WorkforceIdentity {
        family_name: input.family_name,
        address_line1: input.address_line1,
        postal_code: input.postal_code,
        own_patient_id,
    };
    services.users.set_workforce_identity(&ctx, user, identity).await?;
    Ok(())
}
