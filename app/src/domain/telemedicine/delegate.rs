//! The delegate of a video visit: the one colleague the appointment's clinician names to join,
//! admit and end it in their place (a covering clinician). Naming, replacing and removing are
//! the visit's clinician's alone, decided by the access policy (`video.delegate`) and audited;
//! the delegate's id is in the audit row, so the patient's access history can say who it was.

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use uuid::Uuid;

use super::{RoomState, TABLE, VideoRepo};
use crate::domain::Error;
use crate::domain::audit::{Action, AuditContext, Role};
use crate::domain::entities::{app_user, video_delegate, video_session};
use crate::domain::ids::UserId;

impl VideoRepo {
    /// Names `delegate` for the visit `id` (replacing any earlier one), or removes the delegate
    /// (None). Only the visit's clinician may; the delegate must be a clinician's account that is not disabled.
    #[tracing::instrument(skip_all, fields(appointment_id = %id))]
    pub async fn name_delegate(&self, ctx: &AuditContext, id: Uuid, delegate: Option<UserId>) -> Result<(), Error> {
        let (row, permit) = self.permit(ctx, id, Action::VideoDelegate).await?;
        if let Some(delegate) = delegate {
            if delegate.0 == row.clinician_id {
                return Err(Error::validation("delegate_id", "is this visit's own clinician"));
            }
            let account = app_user::Entity::find_by_id(delegate.0).one(&self.db).await?;
            // An invited clinician may be named ahead of their first sign-in; a disabled one not.
            let usable = account.is_some_and(|a| a.role == Role::Clinician.as_str() && a.status != "disabled");
            if !usable {
                return Err(Error::validation("delegate_id", "is not a clinician's account in use"));
            }
        }
        let state = video_session::Entity::find_by_id(id).one(&self.db).await?.and_then(|s| RoomState::parse(&s.state));
        if state == Some(RoomState::Ended) {
            return Err(Error::Conflict("this visit has ended".to_owned()));
        }
        let named_by = ctx.actor.user_id.ok_or(Error::Unauthenticated)?;
        let txn = self.db.begin().await?;
        video_delegate::Entity::delete_many().filter(video_delegate::Column::AppointmentId.eq(id)).exec(&txn).await?;
        let what = match delegate {
            Some(delegate) => {
                video_delegate::ActiveModel {
                    appointment_id: Set(id),
                    delegate_id: Set(delegate.0),
                    named_by: Set(named_by.0),
                    named_at: Set(self.clock.now()),
                }
                .insert(&txn)
                .await?;
                format!("delegate-named {delegate}")
            }
            None => "delegate-removed".to_owned(),
        };
        self.audit.append(&txn, &permit.ctx, permit.step(Action::VideoDelegate, TABLE, id, &what)).await?;
        txn.commit().await?;
        Ok(())
    }

    /// The delegate named for the visit `id`, if any.
    pub async fn delegate_of(&self, id: Uuid) -> Result<Option<UserId>, Error> {
        let row = video_delegate::Entity::find_by_id(id).one(&self.db).await?;
        Ok(row.map(|r| UserId(r.delegate_id)))
    }

    /// Which of the visits `among` are delegated to `user`.
    pub(super) async fn delegated_to(&self, user: UserId, among: &[Uuid]) -> Result<Vec<Uuid>, Error> {
        let rows = video_delegate::Entity::find()
            .filter(video_delegate::Column::DelegateId.eq(user.0))
            .filter(video_delegate::Column::AppointmentId.is_in(among.iter().copied()))
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|r| r.appointment_id).collect())
    }
}
