//! The admin's form for a workforce member's identity (the self-access detector compares it,
//! as blind indexes, with the patients'). What is typed is sent once and never shown again.

use leptos::prelude::*;

use crate::api::workforce::{WorkforceIdentityInput, set_workforce_identity};

#[component]
pub fn WorkforceIdentityPanel() -> impl IntoView {
    let user_id = RwSignal::new(String::new());
    let family = RwSignal::new(String::new());
    let line1 = RwSignal::new(String::new());
    let postal = RwSignal::new(String::new());
    let mrn = RwSignal::new(String::new());
    let save = Action::new(move |_: &()| {
        let some = |s: String| Some(s).filter(|v| !v.trim().is_empty());
        let input = WorkforceIdentityInput {
            user_id: user_id.get_untracked(),
            family_name: some(family.get_untracked()),
            address_line1: some(line1.get_untracked()),
            postal_code: some(postal.get_untracked()),
            own_patient_mrn: some(mrn.get_untracked()),
        };
        async move {
            let result = set_workforce_identity(input).await;
            if result.is_ok() {
                // Nothing typed stays on the page.
                for field in [family, line1, postal, mrn] {
                    field.set(String::new());
                }
            }
            result
        }
    });
    let text = |id: &'static str, label: &'static str, value: RwSignal<String>, max: &'static str| {
        view! {
            <label for=id>{label}</label>
            <input id=id type="text" maxlength=max autocomplete="off" prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))/>
        }
    };
    view! {
        <section class="panel" aria-labelledby="identity-title">
            <h2 id="identity-title">"Staff identity for self-access monitoring"</h2>
            <p class="muted">"A staff member's surname and home address (and their MRN, if they are a patient here) let the monitor flag them opening their own or a relative's chart. Only keyed fingerprints are stored; nobody can read them back."</p>
            <form method="post" class="form-grid" on:submit=move |ev| { ev.prevent_default(); save.dispatch(()); }>
                <label for="identity-user">"Account id"</label>
                <input id="identity-user" type="text" required maxlength="36" class="mono" prop:value=move || user_id.get() on:input=move |ev| user_id.set(event_target_value(&ev))/>
                {text("identity-family", "Surname", family, "100")}
                {text("identity-line1", "Address line 1", line1, "200")}
                {text("identity-postal", "Postal code", postal, "20")}
                {text("identity-mrn", "Own MRN (optional)", mrn, "32")}
                <button class="button" type="submit" id="identity-submit">"Save"</button>
            </form>
            {move || save.value().get().map(|result| match result {
                Ok(()) => view! { <p class="notice" role="status" id="identity-saved">"Saved."</p> }.into_any(),
                Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
            })}
        </section>
    }
}
