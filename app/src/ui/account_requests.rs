//! Account changes waiting for a second person (the two-person rule): the admin sees what is
//! pending, and whoever the policy names (the security officer for admins' changes, an admin
//! for changes to the security officer's account) approves or refuses. With the rule off the
//! same list holds changes that took effect and wait for the security officer's review.

use leptos::prelude::*;

use super::role_home::PageAccess;
use crate::api::admin::{AccountRequestView, account_requests, decide_account_request};
use crate::error::AppError;

/// The list of requests, created with the page that shows it (see [`PageAccess`]).
#[derive(Clone, Copy)]
pub struct AccountRequestsData {
    requests: Resource<Result<Vec<AccountRequestView>, AppError>>,
    decided: RwSignal<u32>,
}

impl AccountRequestsData {
    pub fn new(access: PageAccess, refresh: RwSignal<u32>) -> Self {
        let decided = RwSignal::new(0u32);
        let requests = Resource::new(
            move || (refresh.get(), decided.get()),
            move |_| async move {
                access.granted().await?;
                account_requests().await
            },
        );
        Self { requests, decided }
    }
}

fn kind_label(kind: &str) -> &'static str {
    match kind {
        "invite" => "New account",
        "enable" => "Enable account",
        "reenroll" => "Re-enroll (new passkey)",
        _ => "Account change",
    }
}

#[component]
pub fn AccountRequestsPanel(data: AccountRequestsData, title: &'static str) -> impl IntoView {
    let AccountRequestsData { requests, decided } = data;
    let decide = Action::new(move |(id, approve): &(String, bool)| {
        let (id, approve) = (id.clone(), *approve);
        async move {
            let result = decide_account_request(id, approve).await;
            decided.update(|n| *n += 1);
            result
        }
    });
    view! {
        <section class="panel" aria-labelledby="account-requests-title">
            <h2 id="account-requests-title">{title}</h2>
            <div role="alert" class="form-alert" id="account-request-alert">
                {move || decide.value().get().and_then(Result::err).map(|err| view! { <p class="error">{err.to_string()}</p> })}
            </div>
            <Transition fallback=|| view! { <p>"Loading requests…"</p> }>
                {move || requests.get().map(|result| match result {
                    Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    Ok(list) if list.is_empty() => view! { <p id="account-requests-empty">"Nothing is waiting for approval."</p> }.into_any(),
                    Ok(list) => view! {
                        <table class="data-table" id="account-requests-table">
                            <thead><tr>
                                <th scope="col">"Change"</th><th scope="col">"Account"</th><th scope="col">"Role"</th>
                                <th scope="col">"Asked by"</th><th scope="col">"When"</th><th scope="col">"Status"</th>
                                <th scope="col">"Decision"</th>
                            </tr></thead>
                            <tbody>
                                {list.into_iter().map(|request| {
                                    let (approve_id, refuse_id) = (request.id.clone(), request.id.clone());
                                    let waiting = request.status == "pending";
                                    let (approve_word, refuse_word) = if waiting { ("Approve", "Refuse") } else { ("Mark reviewed", "Object") };
                                    let approve_label = format!("{approve_word} for {}", request.account);
                                    let refuse_label = format!("{refuse_word} for {}", request.account);
                                    view! {
                                        <tr>
                                            <td>{kind_label(&request.kind)}</td>
                                            <td>{request.account.clone()}<br/><span class="muted mono">{request.user_id}</span></td>
                                            <td>{super::layout::role_label(&request.target_role)}</td>
                                            <td>{request.requested_by}</td>
                                            <td>{request.requested_at}</td>
                                            <td>{if waiting { "Waiting for approval" } else { "Done; waiting for review" }}</td>
                                            <td class="actions">
                                                {if request.decidable {
                                                    view! {
                                                        <button class="button button-small" aria-label=approve_label
                                                            on:click=move |_| { decide.dispatch((approve_id.clone(), true)); }>{approve_word}</button>
                                                        <button class="button button-small button-secondary" aria-label=refuse_label
                                                            on:click=move |_| { decide.dispatch((refuse_id.clone(), false)); }>{refuse_word}</button>
                                                    }.into_any()
                                                } else {
                                                    view! { <span class="muted">"Another person decides"</span> }.into_any()
                                                }}
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
