//! The security officer's alert inbox (45 CFR 164.308(a)(1)(ii)(D)): alerts by status, rule,
//! actor and severity; one alert with the audit rows behind it, its notes, and the way to an
//! incident; and the open-alert counts on the officer's home. Status and severity are always
//! written out, the colour only repeats them. Ids, counts and times only: no PHI is shown here.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::clock::When;
use super::role_home::{PageAccess, RoleGate};
use crate::api::alerts::{
    AlertCountsView, AlertDetailView, AlertListFilter, AlertListPage, AlertRow, acknowledge_alert, add_alert_note,
    alert_counts, alert_detail, close_alert, list_alerts,
};
use crate::error::AppError;

/// What a rule's name means, for people; the name itself is shown beside it.
pub fn rule_label(rule: &str) -> &str {
    match rule {
        "break_glass" => "Emergency access declared",
        "bulk-access" => "Many patients opened",
        "after-hours" => "Access outside working hours",
        "large-listing" => "Large listing or export",
        "sign-in-failures-account" => "Failed sign-ins on one account",
        "sign-in-failures-address" => "Failed sign-ins from one address",
        "sign-in-spray" => "Sign-ins tried on many accounts",
        "privilege-change" => "Privilege change",
        "break-glass-unreviewed" => "Emergency access not reviewed",
        "break-glass-frequent" => "Frequent emergency access",
        "self-access" => "Own or family record opened",
        "unexplained-access" => "Access with no clinical reason",
        "probing" => "Repeated refused accesses",
        "breach-deadline" => "Breach notification deadline near",
        other => other,
    }
}

pub fn severity_label(severity: &str) -> &str {
    match severity {
        "low" => "Low",
        "medium" => "Medium",
        "high" => "High",
        "critical" => "Critical",
        other => other,
    }
}

pub fn status_label(status: &str) -> &str {
    match status {
        "open" => "Open",
        "acknowledged" => "Acknowledged",
        "closed" => "Closed",
        other => other,
    }
}

#[component]
fn SeverityBadge(severity: String) -> impl IntoView {
    let label = severity_label(&severity).to_owned();
    view! { <span class=format!("badge badge-sev-{severity}")>{label}</span> }
}

#[component]
fn StatusBadge(status: String) -> impl IntoView {
    let label = status_label(&status).to_owned();
    view! { <span class=format!("badge badge-alert-{status}")>{label}</span> }
}

/// The open alerts by severity, on the security officer's home, each linking to the inbox.
#[component]
pub fn AlertCountsPanel(counts: Resource<Result<AlertCountsView, AppError>>) -> impl IntoView {
    view! {
        <section class="panel" aria-labelledby="alert-counts-title">
            <h2 id="alert-counts-title">"Alerts"</h2>
            <Transition fallback=|| view! { <p>"Loading alert counts…"</p> }>
                {move || counts.get().map(|result| match result {
                    Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    Ok(counts) => view! {
                        <p id="alert-counts-summary">
                            <a href="/security/alerts?status=open" id="open-alerts-link">{format!("{} open", counts.open)}</a>
                            {format!(", {} acknowledged, {} closed.", counts.acknowledged, counts.closed)}
                        </p>
                        <ul class="count-list" id="alert-counts">
                            {counts.open_by_severity.into_iter().map(|(severity, n)| {
                                let href = format!("/security/alerts?status=open&severity={severity}");
                                let label = format!("{}: {n} open", severity_label(&severity));
                                view! {
                                    <li><a href=href class=format!("count count-sev-{severity}") data-severity=severity.clone()>{label}</a></li>
                                }
                            }).collect_view()}
                        </ul>
                        <p>
                            <a class="button" href="/security/alerts" id="alert-inbox-link">"Open the alert inbox"</a>
                            " "
                            <a class="button" href="/security/incidents" id="incidents-link">"Incidents"</a>
                        </p>
                    }.into_any(),
                })}
            </Transition>
        </section>
    }
}

#[component]
pub fn AlertInboxPage() -> impl IntoView {
    let access = PageAccess::new("security_officer");
    let query = use_query_map();
    let initial = query.with_untracked(|q| {
        let get = |name: &str| q.get(name).filter(|v| !v.is_empty());
        AlertListFilter { status: get("status"), rule: get("rule"), actor: get("actor"), severity: get("severity") }
    });
    let filter = RwSignal::new(initial);
    let page = RwSignal::new(0u64);
    let alerts = Resource::new(
        move || (filter.get(), page.get()),
        move |(filter, page)| async move {
            access.granted().await?;
            list_alerts(filter, page).await
        },
    );
    view! {
        <RoleGate access title="Alert inbox">
            <p class="page-links"><a href="/security">"Back to the security office"</a></p>
            <AlertList alerts filter page/>
        </RoleGate>
    }
}

#[component]
fn AlertList(
    alerts: Resource<Result<AlertListPage, AppError>>,
    filter: RwSignal<AlertListFilter>,
    page: RwSignal<u64>,
) -> impl IntoView {
    let field = move |get: fn(&AlertListFilter) -> &Option<String>, set: fn(&mut AlertListFilter, Option<String>)| {
        (
            move || get(&filter.get()).clone().unwrap_or_default(),
            move |ev: leptos::ev::Event| {
                let value = event_target_value(&ev).trim().to_owned();
                filter.update(|f| set(f, (!value.is_empty()).then_some(value)));
                page.set(0);
            },
        )
    };
    let (status_value, on_status) = field(|f| &f.status, |f, v| f.status = v);
    let (severity_value, on_severity) = field(|f| &f.severity, |f, v| f.severity = v);
    let (rule_value, on_rule) = field(|f| &f.rule, |f, v| f.rule = v);
    let (actor_value, on_actor) = field(|f| &f.actor, |f, v| f.actor = v);
    // The rules seen so far, for the rule filter (kept while a filtered page loads).
    let rules = Memo::new(move |previous: Option<&Vec<String>>| {
        alerts.get().and_then(Result::ok).map(|p| p.rules).or_else(|| previous.cloned()).unwrap_or_default()
    });
    view! {
        <section class="panel" aria-labelledby="inbox-title">
            <h2 id="inbox-title">"Alerts"</h2>
            <form method="post" class="filters" id="alert-filters" on:submit=|ev| ev.prevent_default()>
                <label>"Status"
                    <select id="filter-status" prop:value=status_value on:change=on_status>
                        <option value="">"Any"</option>
                        <option value="open">"Open"</option>
                        <option value="acknowledged">"Acknowledged"</option>
                        <option value="closed">"Closed"</option>
                    </select>
                </label>
                <label>"Severity"
                    <select id="filter-severity" prop:value=severity_value on:change=on_severity>
                        <option value="">"Any"</option>
                        <option value="critical">"Critical"</option>
                        <option value="high">"High"</option>
                        <option value="medium">"Medium"</option>
                        <option value="low">"Low"</option>
                    </select>
                </label>
                <label>"Rule"
                    <select id="filter-rule" prop:value=rule_value on:change=on_rule>
                        <option value="">"Any"</option>
                        {move || {
                            let chosen = rule_value();
                            let mut all = rules.get();
                            if !chosen.is_empty() && !all.contains(&chosen) {
                                all.push(chosen.clone());
                            }
                            all.into_iter().map(|rule| {
                                let label = format!("{} ({rule})", rule_label(&rule));
                                let selected = rule == chosen;
                                view! { <option value=rule selected=selected>{label}</option> }
                            }).collect_view()
                        }}
                    </select>
                </label>
                <label>"Actor id"<input type="text" id="filter-actor" autocomplete="off" prop:value=actor_value on:change=on_actor/></label>
            </form>
            <Transition fallback=|| view! { <p>"Loading alerts…"</p> }>
                {move || alerts.get().map(|result| match result {
                    Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    Ok(list) => {
                        let (current, pages, total) = (list.page, list.pages.max(1), list.total);
                        view! {
                            <p aria-live="polite" id="alert-total">{format!("{total} alert(s).")}</p>
                            {if list.alerts.is_empty() {
                                view! { <p id="alerts-empty">"No alert matches these filters."</p> }.into_any()
                            } else {
                                view! { <AlertTable rows=list.alerts/> }.into_any()
                            }}
                            <nav class="pager" aria-label="Alert pages">
                                <button class="button button-small button-secondary" disabled={current == 0}
                                    on:click=move |_| page.update(|p| *p = p.saturating_sub(1))>"Newer"</button>
                                <span>{format!("Page {} of {}", current + 1, pages)}</span>
                                <button class="button button-small button-secondary" disabled={current + 1 >= pages}
                                    on:click=move |_| page.update(|p| *p += 1)>"Older"</button>
                            </nav>
                        }.into_any()
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn AlertTable(rows: Vec<AlertRow>) -> impl IntoView {
    view! {
        <div class="table-scroll">
            <table class="data-table" id="alerts-table">
                <caption class="sr-only">"Alerts, newest first"</caption>
                <thead><tr>
                    <th scope="col">"Alert"</th><th scope="col">"Severity"</th><th scope="col">"Status"</th>
                    <th scope="col">"Actor"</th><th scope="col">"Patients"</th><th scope="col">"Observed"</th>
                    <th scope="col">"Raised"</th>
                </tr></thead>
                <tbody>
                    {rows.into_iter().map(|row| {
                        let href = format!("/security/alerts/{}", row.id);
                        view! {
                            <tr data-alert-id=row.id.clone() data-rule=row.rule.clone()>
                                <th scope="row">
                                    <a href=href>{rule_label(&row.rule).to_owned()}</a>
                                    <br/><span class="muted mono">{row.rule.clone()}</span>
                                </th>
                                <td><SeverityBadge severity=row.severity/></td>
                                <td>
                                    <StatusBadge status=row.status/>
                                    {row.response.map(|r| view! { <br/><span class="muted">{response_label(&r).to_owned()}</span> })}
                                </td>
                                <td><Actor name=row.actor id=row.actor_id/></td>
                                <td>{row.patients}</td>
                                <td>{row.observed.map_or_else(|| "—".to_owned(), |n| n.to_string())}</td>
                                <td><When at=row.created_at/></td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

fn response_label(response: &str) -> &str {
    match response {
        "account-disabled" => "Account disabled automatically",
        other => other,
    }
}

#[component]
fn Actor(name: Option<String>, id: Option<String>) -> impl IntoView {
    match (name, id) {
        (Some(name), Some(id)) => view! { {name}<br/><span class="muted mono">{id}</span> }.into_any(),
        (None, Some(id)) => view! { <span class="mono">{id}</span> }.into_any(),
        _ => view! { <span class="muted">"—"</span> }.into_any(),
    }
}

#[component]
pub fn AlertDetailPage() -> impl IntoView {
    let access = PageAccess::new("security_officer");
    let params = use_params_map();
    let alert_id = Signal::derive(move || params.read().get("id").unwrap_or_default());
    let refresh = RwSignal::new(0u32);
    let detail = Resource::new(
        move || (alert_id.get(), refresh.get()),
        move |(id, _)| async move {
            access.granted().await?;
            alert_detail(id).await
        },
    );
    view! {
        <RoleGate access title="Alert">
            <p class="page-links"><a href="/security/alerts">"Back to the alert inbox"</a></p>
            <Transition fallback=|| view! { <p>"Loading the alert…"</p> }>
                {move || detail.get().map(|result| match result {
                    Err(AppError::NotFound) => view! { <p class="error" role="alert">"There is no such alert."</p> }.into_any(),
                    Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    Ok(detail) => view! { <AlertView detail refresh/> }.into_any(),
                })}
            </Transition>
        </RoleGate>
    }
}

#[component]
fn AlertView(detail: AlertDetailView, refresh: RwSignal<u32>) -> impl IntoView {
    let alert = detail.alert.clone();
    let id = alert.id.clone();
    let done = move |result: &Result<(), AppError>| {
        if result.is_ok() {
            refresh.update(|n| *n += 1);
        }
    };
    let acknowledge = Action::new(move |id: &String| {
        let id = id.clone();
        async move {
            let result = acknowledge_alert(id).await;
            done(&result);
            result
        }
    });
    let close = Action::new(move |(id, note): &(String, String)| {
        let (id, note) = (id.clone(), note.clone());
        async move {
            let result = close_alert(id, note).await;
            done(&result);
            result
        }
    });
    let window = match (alert.window_start, alert.window_end) {
        (Some(start), Some(end)) => view! { <When at=start/>" – "<When at=end/> }.into_any(),
        _ => view! { "—" }.into_any(),
    };
    let incident_href = format!("/security/incidents/new?alert={}", alert.id);
    let (ack_id, close_id) = (id.clone(), id.clone());
    let close_note = RwSignal::new(String::new());
    let close_problem = RwSignal::new(None::<&'static str>);
    let submit_close = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let note = close_note.get_untracked().trim().to_owned();
        if note.is_empty() {
            close_problem.set(Some("Write a note saying why the alert is closed."));
            return;
        }
        close_problem.set(None);
        close.dispatch((close_id.clone(), note));
    };
    let errors = move || {
        acknowledge
            .value()
            .get()
            .and_then(Result::err)
            .or_else(|| close.value().get().and_then(Result::err))
            .map(|err| view! { <p class="error">{err.to_string()}</p> })
    };
    view! {
        <section class="panel" aria-labelledby="alert-title" id="alert-detail" data-alert-id=alert.id.clone()>
            <h2 id="alert-title">{rule_label(&alert.rule).to_owned()}</h2>
            <dl class="facts">
                <div><dt>"Rule"</dt><dd class="mono" id="alert-rule">{alert.rule.clone()}</dd></div>
                <div><dt>"Severity"</dt><dd id="alert-severity"><SeverityBadge severity=alert.severity.clone()/></dd></div>
                <div><dt>"Status"</dt><dd id="alert-status"><StatusBadge status=alert.status.clone()/></dd></div>
                <div><dt>"Actor"</dt><dd id="alert-actor"><Actor name=alert.actor.clone() id=alert.actor_id.clone()/></dd></div>
                <div><dt>"Raised"</dt><dd><When at=alert.created_at/></dd></div>
                <div><dt>"Window"</dt><dd>{window}</dd></div>
                <div><dt>"Observed"</dt><dd id="alert-observed">{alert.observed.map_or_else(|| "—".to_owned(), |n| n.to_string())}</dd></div>
                <div><dt>"Automatic response"</dt><dd id="alert-response">{alert.response.as_deref().map_or("None", response_label).to_owned()}</dd></div>
                {detail.acknowledged_by.clone().map(|who| view! { <div><dt>"Acknowledged by"</dt><dd>{who}</dd></div> })}
                {detail.closed_by.clone().map(|who| view! { <div><dt>"Closed by"</dt><dd>{who}</dd></div> })}
                {detail.subject_id.clone().map(|s| view! { <div><dt>"About record"</dt><dd class="mono">{s}</dd></div> })}
            </dl>
            <div class="alert-actions">
                {(alert.status == "open").then(|| view! {
                    <button class="button" id="acknowledge-alert" on:click=move |_| { acknowledge.dispatch(ack_id.clone()); }>"Acknowledge"</button>
                })}
                {match alert.incident_id.clone() {
                    Some(incident) => view! {
                        <a class="button button-secondary" id="alert-incident" href=format!("/security/incidents/{incident}")>"Go to its incident"</a>
                    }.into_any(),
                    None => view! { <a class="button button-secondary" id="open-incident" href=incident_href>"Open incident"</a> }.into_any(),
                }}
            </div>
            {(alert.status != "closed").then(|| view! {
                <form method="post" class="close-form" novalidate on:submit=submit_close>
                    <label for="close-note">"Why is it closed? (required)"</label>
                    <textarea id="close-note" rows="3" maxlength="2000" required
                        prop:value=move || close_note.get() on:input=move |ev| close_note.set(event_target_value(&ev))></textarea>
                    <button class="button button-danger" type="submit" id="close-alert">"Close"</button>
                    <div role="alert" class="form-alert">{move || close_problem.get().map(|p| view! { <p class="error">{p}</p> })}</div>
                </form>
            })}
            <div role="alert" class="form-alert" id="alert-action-error">{errors}</div>
        </section>
        <section class="panel" aria-labelledby="alert-patients-title">
            <h2 id="alert-patients-title">{format!("Patients concerned ({})", detail.patients.len())}</h2>
            {if detail.patients.is_empty() {
                view! { <p>"None: this alert is not about a patient's record."</p> }.into_any()
            } else {
                view! {
                    <ul class="id-list" id="alert-patients">
                        {detail.patients.iter().map(|p| view! { <li class="mono">{p.clone()}</li> }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
        <AlertEvents detail=detail.clone()/>
        <AlertNotes id=id notes=detail.notes refresh/>
    }
}

#[component]
fn AlertEvents(detail: AlertDetailView) -> impl IntoView {
    let shown = detail.events.len() as u64;
    let summary = if shown < detail.events_total {
        format!("Audit rows behind this alert ({} of {})", shown, detail.events_total)
    } else {
        format!("Audit rows behind this alert ({shown})")
    };
    view! {
        <section class="panel" aria-label="Audit rows behind this alert">
            <details id="alert-events-details">
                <summary id="alert-events-toggle">{summary}</summary>
                <div class="table-scroll">
                    <table class="data-table" id="alert-events">
                        <caption class="sr-only">"The audit rows that raised this alert, oldest first"</caption>
                        <thead><tr>
                            <th scope="col">"#"</th><th scope="col">"When"</th><th scope="col">"Who"</th><th scope="col">"Action"</th>
                            <th scope="col">"Outcome"</th><th scope="col">"Rule"</th><th scope="col">"Patient"</th><th scope="col">"From"</th>
                        </tr></thead>
                        <tbody>
                            {detail.events.into_iter().map(|row| view! {
                                <tr class=format!("outcome-{}", row.outcome)>
                                    <td>{row.seq}</td>
                                    <td><When at=row.occurred_at pattern="%Y-%m-%d %H:%M:%S"/></td>
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
                </div>
            </details>
        </section>
    }
}

#[component]
fn AlertNotes(id: String, notes: Vec<crate::api::alerts::AlertNoteView>, refresh: RwSignal<u32>) -> impl IntoView {
    let body = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<&'static str>);
    let add = Action::new(move |(id, body): &(String, String)| {
        let (id, text) = (id.clone(), body.clone());
        async move {
            let result = add_alert_note(id, text).await;
            if result.is_ok() {
                refresh.update(|n| *n += 1);
            }
            result
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let text = body.get_untracked().trim().to_owned();
        if text.is_empty() {
            problem.set(Some("Write the note first."));
            return;
        }
        problem.set(None);
        add.dispatch((id.clone(), text));
    };
    view! {
        <section class="panel" aria-labelledby="alert-notes-title">
            <h2 id="alert-notes-title">"Notes"</h2>
            {if notes.is_empty() {
                view! { <p id="alert-notes-empty">"No notes yet."</p> }.into_any()
            } else {
                view! {
                    <ul class="note-list" id="alert-notes">
                        {notes.into_iter().map(|n| view! {
                            <li><p class="note-text">{n.body}</p><p class="muted">{n.author}" · "<When at=n.created_at/></p></li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
            <form method="post" class="note-form" novalidate on:submit=submit>
                <label for="alert-note">"Add a note"</label>
                <textarea id="alert-note" rows="3" maxlength="2000"
                    prop:value=move || body.get() on:input=move |ev| body.set(event_target_value(&ev))></textarea>
                <button class="button" type="submit" id="add-note">"Add note"</button>
                <div role="alert" class="form-alert">
                    {move || problem.get().map(|p| view! { <p class="error">{p}</p> })}
                    {move || add.value().get().and_then(Result::err).map(|err| view! { <p class="error">{err.to_string()}</p> })}
                </div>
            </form>
        </section>
    }
}

/// The counts on the officer's home, loaded once the page access is known, and again when
/// `changed` is bumped (a break-glass review closes its alert).
pub fn counts_resource(access: PageAccess, changed: RwSignal<u32>) -> Resource<Result<AlertCountsView, AppError>> {
    Resource::new(
        move || changed.get(),
        move |_| async move {
            access.granted().await?;
            alert_counts().await
        },
    )
}
