//! The security officer's review of emergency access (break-glass, 45 CFR 164.312(a)(2)(ii)):
//! each declaration waits for an outcome, justified or not, with a note; and the counts of open
//! alerts, linking to the inbox (`ui::alerts`). The officer sees the clinician, the patient's id
//! and the stated reason, never the chart.

use leptos::prelude::*;

use super::account_requests::{AccountRequestsData, AccountRequestsPanel};
use super::admin::{AuditLog, AuditLogPanel};
use super::clock::When;
use super::role_home::{PageAccess, RoleGate};
use crate::api::security::{BreakGlassView, break_glass_queue, review_break_glass};
use crate::error::AppError;

#[component]
pub fn SecurityPage() -> impl IntoView {
    let access = PageAccess::new("security_officer");
    let reviewed = RwSignal::new(0u32);
    let queue = Resource::new(
        move || reviewed.get(),
        move |_| async move {
            access.granted().await?;
            break_glass_queue().await
        },
    );
    let counts = super::alerts::counts_resource(access, reviewed);
    let log = AuditLog::new(access);
    let requests = AccountRequestsData::new(access, reviewed);
    view! {
        <RoleGate access title="Security office">
            <super::alerts::AlertCountsPanel counts/>
            <AccountRequestsPanel data=requests title="Account approvals"/>
            <BreakGlassReview queue reviewed/>
            <AuditLogPanel log/>
        </RoleGate>
    }
}

type Review = (String, String, String);

#[component]
fn BreakGlassReview(
    queue: Resource<Result<Vec<BreakGlassView>, AppError>>,
    /// Bumped after an outcome is recorded, to load the queue and the alerts again.
    reviewed: RwSignal<u32>,
) -> impl IntoView {
    let review = Action::new(move |(id, outcome, note): &Review| {
        let (id, outcome, note) = (id.clone(), outcome.clone(), note.clone());
        async move {
            let result = review_break_glass(id, outcome, note).await;
            if result.is_ok() {
                reviewed.update(|n| *n += 1);
            }
            result
        }
    });
    view! {
        <section class="panel" aria-labelledby="break-glass-review-title">
            <h2 id="break-glass-review-title">"Break-glass review"</h2>
            <Transition fallback=|| view! { <p>"Loading declarations…"</p> }>
                {move || queue.get().map(|result| match result {
                    Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    Ok(all) => {
                        let (pending, reviewed): (Vec<_>, Vec<_>) = all.into_iter().partition(|d| d.status == "pending");
                        view! {
                            <h3>"Waiting for review"</h3>
                            {if pending.is_empty() {
                                view! { <p>"No emergency access is waiting for review."</p> }.into_any()
                            } else {
                                view! {
                                    <ul class="review-list" id="break-glass-pending">
                                        {pending.into_iter().map(|item| view! { <li><PendingDeclaration item review/></li> }).collect_view()}
                                    </ul>
                                }.into_any()
                            }}
                            <h3>"Reviewed"</h3>
                            <Reviewed items=reviewed/>
                        }.into_any()
                    }
                })}
            </Transition>
            <div role="alert" class="form-alert" id="review-alert">
                {move || review.value().get().and_then(Result::err).map(|err| view! { <p class="error">{err.to_string()}</p> })}
            </div>
        </section>
    }
}

#[component]
fn PendingDeclaration(item: BreakGlassView, review: Action<Review, Result<(), AppError>>) -> impl IntoView {
    let outcome = RwSignal::new(String::new());
    let note = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<&'static str>);
    let id = item.id.clone();
    let base = format!("review-{}", item.id);
    let (justified, unjustified, note_id, heading_id) =
        (format!("{base}-justified"), format!("{base}-unjustified"), format!("{base}-note"), format!("{base}-title"));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match outcome.get_untracked() {
            chosen if chosen.is_empty() => problem.set(Some("Choose Justified or Unjustified first.")),
            chosen => {
                problem.set(None);
                review.dispatch((id.clone(), chosen, note.get_untracked().trim().to_owned()));
            }
        }
    };
    let radio = move |value: &'static str, id: String, label: &'static str| {
        view! {
            <div class="choice">
                <input type="radio" id=id.clone() name=format!("{base}-outcome") value=value
                    prop:checked=move || outcome.get() == value on:change=move |_| outcome.set(value.to_owned())/>
                <label for=id>{label}</label>
            </div>
        }
    };
    let radios = (radio("justified", justified, "Justified"), radio("unjustified", unjustified, "Unjustified"));
    view! {
        <article class="review-card" aria-labelledby=heading_id.clone()>
            <h4 id=heading_id.clone()>{item.clinician.clone()}</h4>
            <dl class="facts">
                <div><dt>"Clinician"</dt><dd>{item.clinician}</dd></div>
                <div><dt>"Patient id"</dt><dd class="mono">{item.patient_id}</dd></div>
                <div><dt>"Declared"</dt><dd><When at=item.declared_at/></dd></div>
                <div><dt>"Expires"</dt><dd><When at=item.expires_at/></dd></div>
            </dl>
            <p class="reason"><strong>"Reason: "</strong>{item.reason}</p>
            <form method="post" novalidate on:submit=submit>
                <fieldset>
                    <legend>"Outcome"</legend>
                    {radios}
                </fieldset>
                <label for=note_id.clone()>"Note"</label>
                <textarea id=note_id rows="3" maxlength="2000" prop:value=move || note.get()
                    on:input=move |ev| note.set(event_target_value(&ev))></textarea>
                <button class="button" type="submit">"Record outcome"</button>
                <div role="alert" class="form-alert">{move || problem.get().map(|p| view! { <p class="error">{p}</p> })}</div>
            </form>
        </article>
    }
}

#[component]
fn Reviewed(items: Vec<BreakGlassView>) -> impl IntoView {
    if items.is_empty() {
        return view! { <p>"Nothing reviewed yet."</p> }.into_any();
    }
    view! {
        <div class="table-scroll">
            <table class="data-table" id="break-glass-reviewed">
                <caption class="sr-only">"Reviewed emergency access declarations, newest first"</caption>
                <thead><tr>
                    <th scope="col">"Clinician"</th><th scope="col">"Patient id"</th><th scope="col">"Reason"</th>
                    <th scope="col">"Declared"</th><th scope="col">"Outcome"</th><th scope="col">"Reviewed by"</th>
                    <th scope="col">"Note"</th>
                </tr></thead>
                <tbody>
                    {items.into_iter().map(|item| view! {
                        <tr>
                            <th scope="row">{item.clinician}</th>
                            <td class="mono">{item.patient_id}</td>
                            <td>{item.reason}</td>
                            <td><When at=item.declared_at/></td>
                            <td><span class=format!("badge badge-{}", item.status)>{outcome_label(&item.status).to_owned()}</span></td>
                            <td>{item.reviewed_by.unwrap_or_else(|| "—".to_owned())}</td>
                            <td>{item.note.unwrap_or_else(|| "—".to_owned())}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

fn outcome_label(status: &str) -> &str {
    match status {
        "justified" => "Justified",
        "unjustified" => "Unjustified",
        "pending" => "Waiting",
        other => other,
    }
}
