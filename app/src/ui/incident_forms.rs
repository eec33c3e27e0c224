//! The incident's forms: the four-factor risk assessment of 45 CFR 164.402(2) with the
//! encryption (safe harbor) question, the decision, and the answers of the HHS breach report.

use leptos::prelude::*;

use super::incidents::decision_label;
use crate::api::incidents::{decide_incident, save_incident_assessment, save_incident_hhs};
use crate::breach::{ACQUIRED, ACTIONS, Assessment, BREACH_TYPES, HhsAnswers, LOCATIONS, PHI_KINDS, SAFEGUARDS};
use crate::error::AppError;

fn acquired_label(value: &str) -> &str {
    match value {
        "acquired" => "Acquired (copied, downloaded, sent or taken)",
        "viewed" => "Viewed only",
        "not-acquired-or-viewed" => "Neither acquired nor viewed",
        _ => "Unknown",
    }
}

/// A group of checkboxes writing the chosen values into `chosen`.
#[component]
fn CheckList(
    id: &'static str,
    legend: &'static str,
    options: Vec<(String, String)>,
    chosen: RwSignal<Vec<String>>,
) -> impl IntoView {
    view! {
        <fieldset id=id>
            <legend>{legend}</legend>
            {options.into_iter().enumerate().map(|(n, (value, label))| {
                let input_id = format!("{id}-{n}");
                let v = value.clone();
                let toggle = move |ev: leptos::ev::Event| {
                    let on = event_target_checked(&ev);
                    chosen.update(|list| {
                        list.retain(|x| *x != v);
                        if on {
                            list.push(v.clone());
                        }
                    });
                };
                let checked = value.clone();
                view! {
                    <div class="choice">
                        <input type="checkbox" id=input_id.clone() prop:checked=move || chosen.get().contains(&checked) on:change=toggle/>
                        <label for=input_id>{label}</label>
                    </div>
                }
            }).collect_view()}
        </fieldset>
    }
    .into_any()
}

/// Yes / No radios for an optional answer.
#[component]
fn YesNo(id: &'static str, legend: &'static str, value: RwSignal<Option<bool>>) -> impl IntoView {
    let radio = move |answer: bool, label: &'static str| {
        let input_id = format!("{id}-{}", if answer { "yes" } else { "no" });
        view! {
            <div class="choice">
                <input type="radio" id=input_id.clone() name=id prop:checked=move || value.get() == Some(answer)
                    on:change=move |_| value.set(Some(answer))/>
                <label for=input_id>{label}</label>
            </div>
        }
    };
    view! { <fieldset id=id><legend>{legend}</legend>{radio(true, "Yes")}{radio(false, "No")}</fieldset> }
}

fn saved_status(result: Option<Result<(), AppError>>, message: &'static str) -> impl IntoView {
    match result {
        Some(Ok(())) => view! { <p role="status" class="notice">{message}</p> }.into_any(),
        Some(Err(err)) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
        None => ().into_any(),
    }
}

#[component]
pub fn AssessmentForm(id: String, initial: Assessment, reload: Callback<()>) -> impl IntoView {
    let kinds = RwSignal::new(initial.phi_kinds);
    let nature = RwSignal::new(initial.nature_extent);
    let person = RwSignal::new(initial.unauthorized_person);
    let acquired = RwSignal::new(initial.acquired_or_viewed);
    let acquired_detail = RwSignal::new(initial.acquired_detail);
    let mitigation = RwSignal::new(initial.mitigation);
    let encrypted = RwSignal::new(initial.encrypted_at_rest);
    let keys = RwSignal::new(initial.keys_compromised);
    // No reload after a save: it would rebuild this form and lose the "saved" notice; the
    // answers on screen are what was saved, and the decision reads them on the server.
    let _ = reload;
    let save = Action::new(move |answers: &Assessment| {
        let (id, answers) = (id.clone(), answers.clone());
        async move { save_incident_assessment(id, answers).await }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        save.dispatch(Assessment {
            phi_kinds: kinds.get_untracked(),
            nature_extent: nature.get_untracked(),
            unauthorized_person: person.get_untracked(),
            acquired_or_viewed: acquired.get_untracked(),
            acquired_detail: acquired_detail.get_untracked(),
            mitigation: mitigation.get_untracked(),
            encrypted_at_rest: encrypted.get_untracked(),
            keys_compromised: keys.get_untracked(),
        });
    };
    let text = move |id: &'static str, label: &'static str, value: RwSignal<String>| {
        view! {
            <label for=id>{label}</label>
            <textarea id=id rows="3" maxlength="4000" prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))></textarea>
        }
        .into_any()
    };
    let kind_options = PHI_KINDS.iter().map(|(k, label)| ((*k).to_owned(), (*label).to_owned())).collect::<Vec<_>>();
    let factors_1_2 = view! {
                <h3>"1. Nature and extent of the PHI involved"</h3>
                <CheckList id="phi-kinds" legend="Kinds of PHI involved" options=kind_options chosen=kinds/>
                {text("nature-extent", "Nature and extent (identifiers, how much, how sensitive)", nature)}
                <h3>"2. The unauthorized person"</h3>
                {text("unauthorized-person", "Who used the PHI or received it", person)}
    }
    .into_any();
    let factors_3_4 = view! {
                <h3>"3. Acquired or viewed"</h3>
                <fieldset id="acquired-or-viewed">
                    <legend>"Was the PHI actually acquired or viewed?"</legend>
                    {ACQUIRED.iter().map(|value| {
                        let input_id = format!("acquired-{value}");
                        view! {
                            <div class="choice">
                                <input type="radio" id=input_id.clone() name="acquired-or-viewed"
                                    prop:checked=move || acquired.get().as_deref() == Some(*value)
                                    on:change=move |_| acquired.set(Some((*value).to_owned()))/>
                                <label for=input_id>{acquired_label(value)}</label>
                            </div>
                        }
                    }).collect_view()}
                </fieldset>
                {text("acquired-detail", "What shows it", acquired_detail)}
                <h3>"4. Mitigation"</h3>
                {text("mitigation", "The extent to which the risk has been mitigated", mitigation)}
    }
    .into_any();
    let encryption = view! {
                <h3>"Encryption (unsecured PHI)"</h3>
                <YesNo id="encrypted-at-rest" legend="Was the PHI involved encrypted at rest when it was taken?" value=encrypted/>
                <YesNo id="keys-compromised" legend="Were the encryption keys compromised?" value=keys/>
                <div aria-live="polite" id="safe-harbor">
                    {move || match (encrypted.get(), keys.get()) {
                        (Some(true), Some(false)) => Some(view! { <p class="notice">"Safe harbor: encrypted PHI whose keys were not compromised is not unsecured PHI. No breach notification duty arises (45 CFR 164.402, HHS guidance); record the decision as not a breach."</p> }.into_any()),
                        (Some(false), _) | (_, Some(true)) => Some(view! { <p class="notice">"The PHI was unsecured (not encrypted, or its keys were compromised): the notification rules apply unless the four factors show a low probability of compromise."</p> }.into_any()),
                        _ => None,
                    }}
                </div>
    }
    .into_any();
    view! {
        <section class="panel" aria-labelledby="assessment-title">
            <h2 id="assessment-title">"Risk assessment (45 CFR 164.402(2))"</h2>
            <p class="muted">"An impermissible use or disclosure is presumed a breach unless these four factors show a low probability that the PHI was compromised. All four are needed before a decision."</p>
            <form method="post" novalidate on:submit=submit id="assessment-form">
                {factors_1_2}
                {factors_3_4}
                {encryption}
                <button class="button" type="submit">"Save assessment"</button>
            </form>
            <div class="form-alert" id="assessment-alert">{move || saved_status(save.value().get(), "Assessment saved.")}</div>
        </section>
    }
    .into_any()
}

#[component]
pub fn DecisionForm(id: String, current: Option<String>, safe_harbor: bool, reload: Callback<()>) -> impl IntoView {
    let chosen = RwSignal::new(current.unwrap_or_default());
    let decide = Action::new(move |decision: &String| {
        let (id, decision) = (id.clone(), decision.clone());
        async move {
            let result = decide_incident(id, decision).await;
            if result.is_ok() {
                reload.run(());
            }
            result
        }
    });
    view! {
        <section class="panel" aria-labelledby="decision-title">
            <h2 id="decision-title">"Decision"</h2>
            {safe_harbor.then(|| view! { <p class="notice">"The saved assessment meets the safe harbor: this is not a breach of unsecured PHI."</p> })}
            <form method="post" novalidate id="decision-form" on:submit=move |ev| { ev.prevent_default(); decide.dispatch(chosen.get_untracked()); }>
                <fieldset>
                    <legend>"Outcome of the assessment"</legend>
                    {["not-a-breach", "low-probability", "breach"].into_iter().map(|value| {
                        let input_id = format!("decision-{value}");
                        view! {
                            <div class="choice">
                                <input type="radio" id=input_id.clone() name="decision" prop:checked=move || chosen.get() == value
                                    on:change=move |_| chosen.set(value.to_owned())/>
                                <label for=input_id>{decision_label(value).to_owned()}</label>
                            </div>
                        }
                    }).collect_view()}
                </fieldset>
                <button class="button" type="submit">"Record decision"</button>
            </form>
            <div class="form-alert" id="decision-alert">{move || saved_status(decide.value().get(), "Decision recorded.")}</div>
        </section>
    }
    .into_any()
}

#[component]
pub fn HhsForm(id: String, initial: HhsAnswers, reload: Callback<()>) -> impl IntoView {
    let report = format!("/security/incidents/{id}/hhs-report.json");
    let types = RwSignal::new(initial.type_of_breach);
    let locations = RwSignal::new(initial.location_of_breached_information);
    let safeguards = RwSignal::new(initial.safeguards_in_place_prior_to_breach);
    let actions = RwSignal::new(initial.actions_taken_in_response);
    let description = RwSignal::new(initial.description);
    let associate = RwSignal::new(initial.business_associate_involved);
    let associate_name = RwSignal::new(initial.business_associate_name.unwrap_or_default());
    let notice_date = RwSignal::new(initial.individual_notice_date.map(|d| d.to_string()).unwrap_or_default());
    let substitute = RwSignal::new(initial.substitute_notice_required);
    let problem = RwSignal::new(None::<&'static str>);
    let save = Action::new(move |answers: &HhsAnswers| {
        let (id, answers) = (id.clone(), answers.clone());
        async move {
            let result = save_incident_hhs(id, answers).await;
            if result.is_ok() {
                reload.run(());
            }
            result
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let date = notice_date.get_untracked();
        let parsed = if date.trim().is_empty() { Ok(None) } else { date.parse::<chrono::NaiveDate>().map(Some) };
        let Ok(individual_notice_date) = parsed else {
            problem.set(Some("The individual notice date is not a date."));
            return;
        };
        problem.set(None);
        let name = associate_name.get_untracked();
        save.dispatch(HhsAnswers {
            type_of_breach: types.get_untracked(),
            location_of_breached_information: locations.get_untracked(),
            safeguards_in_place_prior_to_breach: safeguards.get_untracked(),
            actions_taken_in_response: actions.get_untracked(),
            description: description.get_untracked(),
            business_associate_involved: associate.get_untracked(),
            business_associate_name: Some(name).filter(|n| !n.trim().is_empty()),
            individual_notice_date,
            substitute_notice_required: substitute.get_untracked(),
        });
    };
    let options = |list: &[&str]| list.iter().map(|s| ((*s).to_owned(), (*s).to_owned())).collect::<Vec<_>>();
    view! {
        <section class="panel" aria-labelledby="hhs-title">
            <h2 id="hhs-title">"Report to HHS (45 CFR 164.408)"</h2>
            <p><a class="button button-secondary" href=report download id="hhs-download">"Download the HHS report (JSON)"</a></p>
            <form method="post" novalidate on:submit=submit id="hhs-form">
                <CheckList id="breach-type" legend="Type of breach" options=options(BREACH_TYPES) chosen=types/>
                <CheckList id="breach-location" legend="Location of breached information" options=options(LOCATIONS) chosen=locations/>
                <CheckList id="safeguards" legend="Safeguards in place before the breach" options=options(SAFEGUARDS) chosen=safeguards/>
                <CheckList id="actions" legend="Actions taken in response" options=options(ACTIONS) chosen=actions/>
                <label for="hhs-description">"Brief description (no patient names)"</label>
                <textarea id="hhs-description" rows="3" maxlength="4000" prop:value=move || description.get()
                    on:input=move |ev| description.set(event_target_value(&ev))></textarea>
                <div class="choice">
                    <input type="checkbox" id="hhs-associate" prop:checked=move || associate.get()
                        on:change=move |ev| associate.set(event_target_checked(&ev))/>
                    <label for="hhs-associate">"A business associate was involved"</label>
                </div>
                <label for="hhs-associate-name">"Business associate's name"</label>
                <input id="hhs-associate-name" type="text" maxlength="200" prop:value=move || associate_name.get()
                    on:input=move |ev| associate_name.set(event_target_value(&ev))/>
                <label for="hhs-notice-date">"Individual notice date"</label>
                <input id="hhs-notice-date" type="date" prop:value=move || notice_date.get()
                    on:input=move |ev| notice_date.set(event_target_value(&ev))/>
                <div class="choice">
                    <input type="checkbox" id="hhs-substitute" prop:checked=move || substitute.get()
                        on:change=move |ev| substitute.set(event_target_checked(&ev))/>
                    <label for="hhs-substitute">"Substitute notice required (10 or more without a current address)"</label>
                </div>
                <button class="button" type="submit">"Save HHS answers"</button>
            </form>
            <div class="form-alert" id="hhs-alert">
                {move || problem.get().map(|p| view! { <p class="error" role="alert">{p}</p> })}
                {move || saved_status(save.value().get(), "HHS answers saved.")}
            </div>
        </section>
    }
    .into_any()
}
