//! The admin's pages: accounts, care relationships and the audit log. The security officer
//! shares the audit log.

use leptos::prelude::*;

use super::account_requests::{AccountRequestsData, AccountRequestsPanel};
use super::care_admin::{CareData, CarePanel};
use super::role_home::{PageAccess, RoleGate};
use crate::api::admin::{
    AccountChange, AuditFilter, AuditPage, UserSummary, end_user_sessions, invite_user, list_users, read_audit_log,
    reenroll_user, set_user_enabled, verify_audit_log,
};
use crate::error::AppError;

#[component]
pub fn AdminPage() -> impl IntoView {
    let access = PageAccess::new("admin");
    let refresh = RwSignal::new(0u32);
    let users = Resource::new(
        move || refresh.get(),
        move |_| async move {
            access.granted().await?;
            list_users().await
        },
    );
    let care = CareData::new(access);
    let log = AuditLog::new(access);
    let clinic_day = super::calendar::ClinicDayData::new(access);
    let hours = super::calendar::HoursData::new(access);
    let requests = AccountRequestsData::new(access, refresh);
    view! {
        <RoleGate access title="Administration">
            <InvitePanel refresh/>
            <AccountRequestsPanel data=requests title="Waiting for approval"/>
            <UsersPanel users refresh/>
            <super::workforce_identity::WorkforceIdentityPanel/>
            <CarePanel care/>
            <super::calendar::ClinicDay data=clinic_day/>
            <super::calendar::OnlineBooking data=clinic_day/>
            <super::calendar::HoursPanel data=hours/>
            <AuditLogPanel log/>
        </RoleGate>
    }
}

/// What became of an account change, in words: never a link, which goes to the person. `id`
/// keeps the invitation's notice and the account list's apart on one page.
#[component]
fn ChangeNotice(change: AccountChange, #[prop(default = "account-change")] id: &'static str) -> impl IntoView {
    let text = match change.outcome.as_str() {
        "awaiting-approval" => "Sent for approval. A second person (the security officer; an admin for the security officer's own account) approves it; then the enrollment link goes to the person.".to_owned(),
        "emailed" => "The enrollment link was emailed to the person.".to_owned(),
        "on-host" => format!(
            "No mail relay delivers the link: an operator prints it on the server with `server admin enrollment-link --user {}` and gives it to the person.",
            change.user_id
        ),
        _ => "Done.".to_owned(),
    };
    view! {
        <div class="notice" role="status" id=id>
            <p>{text}</p>
            <p class="muted">"Account id: "<span class="mono" id=format!("{id}-user")>{change.user_id}</span></p>
        </div>
    }
}

#[component]
fn InvitePanel(refresh: RwSignal<u32>) -> impl IntoView {
    let role = RwSignal::new("clinician".to_owned());
    let name = RwSignal::new(String::new());
    let email = RwSignal::new(String::new());
    let mrn = RwSignal::new(String::new());
    let invite = Action::new(move |_: &()| {
        let (role, name, email, mrn) =
            (role.get_untracked(), name.get_untracked(), email.get_untracked(), mrn.get_untracked());
        async move {
            let patient = role == "patient";
            let (email, mrn) = if patient { (None, Some(mrn)) } else { (Some(email), None) };
            let change = invite_user(role, name, email, mrn).await;
            refresh.update(|n| *n += 1);
            change
        }
    });
    view! {
        <section class="panel" aria-labelledby="invite-title">
            <h2 id="invite-title">"Invite someone"</h2>
            <form method="post" class="form-grid" on:submit=move |ev| { ev.prevent_default(); invite.dispatch(()); }>
                <label for="invite-role">"Role"</label>
                <select id="invite-role" on:change=move |ev| role.set(event_target_value(&ev)) prop:value=move || role.get()>
                    <option value="clinician">"Clinician"</option>
                    <option value="patient">"Patient"</option>
                    <option value="admin">"Admin"</option>
                    <option value="security_officer">"Security officer"</option>
                </select>
                <label for="invite-name">"Name"</label>
                <input id="invite-name" type="text" required maxlength="100" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
                <Show
                    when=move || role.get() == "patient"
                    fallback=move || view! {
                        <label for="invite-email">"Email"</label>
                        <input id="invite-email" type="email" required maxlength="254" autocomplete="off" prop:value=move || email.get() on:input=move |ev| email.set(event_target_value(&ev))/>
                    }
                >
                    <label for="invite-mrn">"Patient's MRN"</label>
                    <input id="invite-mrn" type="text" required maxlength="32" prop:value=move || mrn.get() on:input=move |ev| mrn.set(event_target_value(&ev))/>
                </Show>
                <button class="button" type="submit" id="invite-submit">"Invite"</button>
            </form>
            <p class="muted">"The enrollment link goes to the person (to a patient, at the email on their record), never to this page."</p>
            {move || invite.value().get().map(|result| match result {
                Ok(change) => view! { <ChangeNotice change/> }.into_any(),
                Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
            })}
        </section>
    }
}

#[component]
fn UsersPanel(users: Resource<Result<Vec<UserSummary>, AppError>>, refresh: RwSignal<u32>) -> impl IntoView {
    let toggle = Action::new(move |(id, enabled): &(String, bool)| {
        let (id, enabled) = (id.clone(), *enabled);
        async move {
            let result = set_user_enabled(id, enabled).await;
            refresh.update(|n| *n += 1);
            result
        }
    });
    let end_sessions = Action::new(|id: &String| end_user_sessions(id.clone()));
    let reenroll = Action::new(move |id: &String| {
        let id = id.clone();
        async move {
            let result = reenroll_user(id).await;
            refresh.update(|n| *n += 1);
            result
        }
    });
    view! {
        <section class="panel" aria-labelledby="users-title">
            <h2 id="users-title">"Accounts"</h2>
            {move || end_sessions.value().get().map(|result| match result {
                Ok(ended) => view! { <p class="notice" role="status">{format!("{ended} session(s) ended.")}</p> }.into_any(),
                Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
            })}
            {move || toggle.value().get().map(|result| match result {
                Ok(change) => view! { <ChangeNotice change id="account-action"/> }.into_any(),
                Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
            })}
            {move || reenroll.value().get().map(|result| match result {
                Ok(change) => view! { <ChangeNotice change id="account-action"/> }.into_any(),
                Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
            })}
            <Transition fallback=|| view! { <p>"Loading accounts…"</p> }>
                {move || users.get().map(|result| match result {
                    Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    Ok(users) => view! {
                        <table class="data-table" id="users-table">
                            <thead><tr><th scope="col">"Account"</th><th scope="col">"Id"</th><th scope="col">"Role"</th><th scope="col">"Status"</th><th scope="col">"Passkeys"</th><th scope="col">"Actions"</th></tr></thead>
                            <tbody>
                                {users.into_iter().map(|user| {
                                    let (id_toggle, id_reenroll, id_end) = (user.id.clone(), user.id.clone(), user.id.clone());
                                    let end_label = format!("Sign out {} everywhere", user.display_name);
                                    let disabled = user.status == "disabled";
                                    let label = format!("{} for {}", if disabled { "Enable" } else { "Disable" }, user.display_name);
                                    let reenroll_label = format!("Re-enroll {} (needs approval)", user.display_name);
                                    view! {
                                        <tr>
                                            <td>{user.display_name.clone()}</td>
                                            <td class="mono">{user.id.clone()}</td>
                                            <td>{super::layout::role_label(&user.role)}</td>
                                            <td><span class=format!("badge badge-{}", user.status)>{user.status.clone()}</span></td>
                                            <td>{user.passkeys}</td>
                                            <td class="actions">
                                                <button class="button button-small button-secondary" aria-label=label
                                                    on:click=move |_| { toggle.dispatch((id_toggle.clone(), disabled)); }>
                                                    {if disabled { "Enable" } else { "Disable" }}
                                                </button>
                                                <button class="button button-small button-secondary" aria-label=end_label
                                                    on:click=move |_| { end_sessions.dispatch(id_end.clone()); }>
                                                    "End sessions"
                                                </button>
                                                <button class="button button-small button-secondary" aria-label=reenroll_label
                                                    on:click=move |_| { reenroll.dispatch(id_reenroll.clone()); }>
                                                    "Re-enroll"
                                                </button>
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                })}
            </Transition>
        </section>
    }
}

/// The audit log's filters, page and rows, created with the page that shows them.
#[derive(Clone, Copy)]
pub struct AuditLog {
    filter: RwSignal<AuditFilter>,
    page: RwSignal<u64>,
    rows: Resource<Result<AuditPage, AppError>>,
}

impl AuditLog {
    pub fn new(access: PageAccess) -> Self {
        let filter = RwSignal::new(AuditFilter::default());
        let page = RwSignal::new(0u64);
        let rows = Resource::new(
            move || (filter.get(), page.get()),
            move |(filter, page)| async move {
                access.granted().await?;
                read_audit_log(filter, page).await
            },
        );
        Self { filter, page, rows }
    }
}

#[component]
pub fn AuditLogPanel(log: AuditLog) -> impl IntoView {
    let AuditLog { filter, page, rows: log } = log;
    let verify = Action::new(|_: &()| verify_audit_log());
    let field = move |get: fn(&AuditFilter) -> &Option<String>, set: fn(&mut AuditFilter, Option<String>)| {
        (
            move || get(&filter.get()).clone().unwrap_or_default(),
            move |ev: leptos::ev::Event| {
                let value = event_target_value(&ev);
                filter.update(|f| set(f, (!value.is_empty()).then_some(value)));
                page.set(0);
            },
        )
    };
    let (action_value, on_action) = field(|f| &f.action, |f, v| f.action = v);
    let (outcome_value, on_outcome) = field(|f| &f.outcome, |f, v| f.outcome = v);
    let (actor_value, on_actor) = field(|f| &f.actor_user_id, |f, v| f.actor_user_id = v);
    let (patient_value, on_patient) = field(|f| &f.patient_id, |f, v| f.patient_id = v);
    let (from_value, on_from) = field(|f| &f.from, |f, v| f.from = v);
    let (to_value, on_to) = field(|f| &f.to, |f, v| f.to = v);
    view! {
        <section class="panel" aria-labelledby="audit-title">
            <h2 id="audit-title">"Audit log"</h2>
            <div class="verify-row">
                <button class="button" id="verify-chain" on:click=move |_| { verify.dispatch(()); }>"Verify chain"</button>
                <span aria-live="polite" id="verify-result">
                    {move || verify.value().get().map(|result| match result {
                        Ok(v) if v.intact => format!("Intact: {} rows checked, {} waiting to be linked.", v.rows_checked, v.pending),
                        Ok(v) => format!("TAMPERED: {}", v.first_problem.unwrap_or_default()),
                        Err(err) => err.to_string(),
                    })}
                </span>
            </div>
            <form method="post" class="filters" on:submit=|ev| ev.prevent_default()>
                <label>"Action"<input type="text" placeholder="patient.read" prop:value=action_value on:change=on_action/></label>
                <label>"Outcome"
                    <select prop:value=outcome_value on:change=on_outcome>
                        <option value="">"Any"</option>
                        <option value="allowed">"Allowed"</option>
                        <option value="denied">"Denied"</option>
                        <option value="error">"Error"</option>
                    </select>
                </label>
                <label>"Actor id"<input type="text" prop:value=actor_value on:change=on_actor/></label>
                <label>"Patient id"<input type="text" prop:value=patient_value on:change=on_patient/></label>
                <label>"From"<input type="date" prop:value=from_value on:change=on_from/></label>
                <label>"To"<input type="date" prop:value=to_value on:change=on_to/></label>
            </form>
            <Transition fallback=|| view! { <p>"Loading the log…"</p> }>
                {move || log.get().map(|result| match result {
                    Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    Ok(log) => {
                        let (current, pages) = (log.page, log.pages.max(1));
                        view! {
                            <table class="data-table" id="audit-table">
                                <thead><tr>
                                    <th scope="col">"#"</th><th scope="col">"When"</th><th scope="col">"Who"</th><th scope="col">"Action"</th>
                                    <th scope="col">"Outcome"</th><th scope="col">"Rule"</th><th scope="col">"Patient"</th><th scope="col">"From"</th>
                                </tr></thead>
                                <tbody>
                                    {log.rows.into_iter().map(|row| view! {
                                        <tr class=format!("outcome-{}", row.outcome)>
                                            <td>{row.seq}</td>
                                            <td>{row.occurred_at}</td>
                                            <td>{row.actor_role}<br/><span class="muted mono">{row.actor_user_id.unwrap_or_default()}</span></td>
                                            <td class="mono">{row.action}</td>
                                            <td><span class=format!("badge badge-{}", row.outcome)>{row.outcome.clone()}</span></td>
                                            <td class="mono">{row.rule.unwrap_or_default()}</td>
                                            <td class="mono">{row.patient_id.unwrap_or_default()}</td>
                                            <td>{row.ip.unwrap_or_default()}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                            <nav class="pager" aria-label="Audit log pages">
                                <button class="button button-small button-secondary" disabled={current == 0} on:click=move |_| page.update(|p| *p = p.saturating_sub(1))>"Newer"</button>
                                <span>{format!("Page {} of {}", current + 1, pages)}</span>
                                <button class="button button-small button-secondary" disabled={current + 1 >= pages} on:click=move |_| page.update(|p| *p += 1)>"Older"</button>
                            </nav>
                        }.into_any()
                    }
                })}
            </Transition>
        </section>
    }
}
