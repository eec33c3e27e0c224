//! The clinician's view of one chart. Whether it opens is decided on the server by the access
//! policy (45 CFR 164.312(a)(1)); without a care relationship the clinician may declare an
//! emergency (break-glass, 164.312(a)(2)(ii)), which is time-limited, shown on every page of the
//! chart while it lasts, and reviewed by the security officer.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::clock::When;
use super::entry_form::EntryForm;
use super::record::{DemographicsHeader, RecordSections, RowActions};
use super::role_home::{PageAccess, RoleGate};
use crate::api::chart::{ChartView, EntryView, declare_break_glass, delete_entry, open_chart};
use crate::error::AppError;

/// How the access rule reads to the clinician.
fn access_label(rule: &str) -> &str {
    match rule {
        "assigned-clinician" => "You are this patient's assigned clinician.",
        "care-team" => "You are on this patient's care team.",
        "patient-consent" => "The patient has given you access.",
        "break-glass" => "You opened this chart through emergency access.",
        other => other,
    }
}

#[component]
pub fn ChartRoute() -> impl IntoView {
    let access = PageAccess::new("clinician");
    let params = use_params_map();
    let patient_id = Signal::derive(move || params.read().get("id").unwrap_or_default());
    let refresh = RwSignal::new(0u32);
    let chart = Resource::new(
        move || (patient_id.get(), refresh.get()),
        move |(id, _)| async move {
            access.granted().await?;
            open_chart(id).await
        },
    );
    view! {
        <RoleGate access title="Patient chart">
            <ChartPage chart patient_id refresh/>
        </RoleGate>
    }
}

#[component]
fn ChartPage(
    chart: Resource<Result<ChartView, AppError>>,
    patient_id: Signal<String>,
    /// Bumped to load the chart again after a change.
    refresh: RwSignal<u32>,
) -> impl IntoView {
    let reload = Callback::new(move |()| refresh.update(|n| *n += 1));
    let editing = RwSignal::new(None::<EntryView>);
    let delete = Action::new(move |entry: &EntryView| {
        let (entry_id, version, patient) = (entry.id.clone(), entry.version, patient_id.get_untracked());
        async move {
            let result = delete_entry(patient, entry_id, version).await;
            if result.is_ok() {
                reload.run(());
            }
            result
        }
    });
    let actions = RowActions {
        edit: Callback::new(move |entry| editing.set(Some(entry))),
        delete: Callback::new(move |entry: EntryView| {
            if confirm("Delete this entry from the chart? The deletion is recorded.") {
                editing.update(|e| {
                    if e.as_ref().is_some_and(|e| e.id == entry.id) {
                        *e = None;
                    }
                });
                delete.dispatch(entry);
            }
        }),
    };
    let open = Memo::new(move |_| matches!(chart.get(), Some(Ok(_))));
    view! {
        <Transition fallback=|| view! { <p>"Opening the chart…"</p> }>
            {move || chart.get().map(|result| match result {
                Ok(chart) => view! { <OpenChart chart actions/> }.into_any(),
                Err(AppError::Forbidden) => view! { <BreakGlassForm patient_id reload/> }.into_any(),
                Err(AppError::NotFound) => view! {
                    <section class="panel"><h2>"No such patient"</h2><p>"There is no chart at this address."</p></section>
                }.into_any(),
                Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
            })}
            <div role="alert" class="form-alert" id="delete-alert">
                {move || delete.value().get().and_then(Result::err).map(|err| view! { <p class="error">{err.to_string()}</p> })}
            </div>
            <Show when=move || open.get()>
                <EntryForm patient_id editing on_saved=reload/>
            </Show>
        </Transition>
    }
}

/// Asks the person to confirm, in the browser.
fn confirm(question: &str) -> bool {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window().and_then(|w| w.confirm_with_message(question).ok()).unwrap_or(false)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = question;
        false
    }
}

#[component]
fn OpenChart(chart: ChartView, actions: RowActions) -> impl IntoView {
    let ChartView { patient, entries, access_rule, emergency_until } = chart;
    let name = format!("{}, {}", patient.family_name, patient.given_name);
    let banner = (access_rule == "break-glass").then(|| {
        view! {
            <div class="emergency-banner" role="status" id="emergency-banner">
                <strong>
                    {match emergency_until {
                        Some(until) => view! { "Emergency access until " <When at=until pattern="%H:%M"/> }.into_any(),
                        None => "Emergency access".into_any(),
                    }}
                </strong>
                <span>" Everything you open or change is recorded and will be reviewed by the security officer."</span>
            </div>
        }
    });
    view! {
        {banner}
        <DemographicsHeader patient heading=name/>
        <p class="muted access-rule">{access_label(&access_rule).to_owned()}</p>
        <RecordSections entries actions/>
    }
}

#[component]
fn BreakGlassForm(patient_id: Signal<String>, reload: Callback<()>) -> impl IntoView {
    let reason = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    let declare = Action::new(move |reason: &String| {
        let (reason, patient) = (reason.clone(), patient_id.get_untracked());
        async move {
            let result = declare_break_glass(patient, reason).await;
            if result.is_ok() {
                reload.run(());
            }
            result
        }
    });
    let pending = declare.pending();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let text = reason.get_untracked();
        let length = text.trim().chars().count();
        if !(10..=1000).contains(&length) {
            declare.value().set(None);
            problem.set(Some("Reason: describe the emergency in 10 to 1000 characters.".to_owned()));
            return;
        }
        problem.set(None);
        declare.dispatch(text.trim().to_owned());
    };
    view! {
        <section class="panel narrow break-glass" aria-labelledby="no-relationship-title">
            <h2 id="no-relationship-title">"You have no care relationship with this patient"</h2>
            <p>
                "You can open this chart only in an emergency. Access lasts a limited time; your reason and "
                "everything you open are recorded and reviewed by the security officer."
            </p>
            <form method="post" novalidate on:submit=submit>
                <label for="break-glass-reason">"Reason for emergency access"</label>
                <textarea id="break-glass-reason" rows="4" required minlength="10" maxlength="1000"
                    aria-describedby="break-glass-hint" aria-invalid=move || problem.get().is_some().then_some("true")
                    prop:value=move || reason.get() on:input=move |ev| reason.set(event_target_value(&ev))></textarea>
                <p class="hint" id="break-glass-hint">"At least 10 characters. Describe the emergency, not the patient's details."</p>
                <button class="button button-danger" type="submit" disabled=move || pending.get()>"Declare emergency access"</button>
            </form>
            <div role="alert" class="form-alert" id="break-glass-alert">
                {move || problem.get().map(|p| view! { <p class="error">{p}</p> })}
                {move || declare.value().get().and_then(Result::err).map(|err| view! { <p class="error">{err.to_string()}</p> })}
            </div>
        </section>
    }
}
