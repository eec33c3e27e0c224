//! A person's own passkeys: add one on this device (after confirming with an existing one),
//! rename, remove (never the last).

use leptos::prelude::*;

use super::webauthn;
use crate::api::auth::{
    finish_add_passkey, finish_step_up, my_passkeys, remove_passkey, rename_passkey, start_add_passkey, start_step_up,
};
use crate::error::AppError;

#[component]
pub fn AccountPage() -> impl IntoView {
    let refresh = RwSignal::new(0u32);
    let passkeys = Resource::new(move || refresh.get(), |_| my_passkeys());
    let new_name = RwSignal::new("Another device".to_owned());
    let add = Action::new_local(move |_: &()| {
        let name = new_name.get_untracked();
        async move {
            // First prove it is you with a passkey you already have (the server asks for one
            // within the last 5 minutes), then create the new one.
            let check = start_step_up().await.map_err(|e| e.to_string())?;
            let assertion = webauthn::get(check).await?;
            finish_step_up(assertion).await.map_err(|e| e.to_string())?;
            let challenge = start_add_passkey().await.map_err(|e| e.to_string())?;
            let credential = webauthn::create(challenge).await?;
            finish_add_passkey(name, credential).await.map_err(|e| e.to_string())?;
            refresh.update(|n| *n += 1);
            Ok::<(), String>(())
        }
    });
    let remove = Action::new(move |id: &String| {
        let id = id.clone();
        async move {
            let result = remove_passkey(id).await;
            refresh.update(|n| *n += 1);
            result
        }
    });
    let rename = Action::new(move |(id, name): &(String, String)| {
        let (id, name) = (id.clone(), name.clone());
        async move {
            let result = rename_passkey(id, name).await;
            refresh.update(|n| *n += 1);
            result
        }
    });
    view! {
        <h1 class="page-title">"My passkeys"</h1>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || passkeys.get().map(|result| match result {
                Err(AppError::Unauthenticated) => view! {
                    <section class="panel narrow"><p>"Please sign in first."</p><a class="button" href="/sign-in">"Sign in"</a></section>
                }.into_any(),
                Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                Ok(list) => view! {
                    <section class="panel" aria-labelledby="passkeys-title">
                        <h2 id="passkeys-title">"Devices that can sign in as you"</h2>
                        <table class="data-table" id="passkeys-table">
                            <thead><tr><th scope="col">"Name"</th><th scope="col">"Added"</th><th scope="col">"Last used"</th><th scope="col">"Actions"</th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|key| {
                                    let name = RwSignal::new(key.name.clone());
                                    let (id_rename, id_remove) = (key.id.clone(), key.id.clone());
                                    let input_label = format!("Name of passkey {}", key.name);
                                    let remove_label = format!("Remove passkey {}", key.name);
                                    view! {
                                        <tr>
                                            <td><input type="text" maxlength="60" aria-label=input_label prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/></td>
                                            <td>{key.created}</td>
                                            <td>{key.last_used.unwrap_or_else(|| "never".to_owned())}</td>
                                            <td class="actions">
                                                <button class="button button-small button-secondary" on:click=move |_| { rename.dispatch((id_rename.clone(), name.get_untracked())); }>"Save name"</button>
                                                <button class="button button-small button-secondary" aria-label=remove_label on:click=move |_| { remove.dispatch(id_remove.clone()); }>"Remove"</button>
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                        <div aria-live="polite">
                            {move || remove.value().get().and_then(Result::err).map(|err| view! { <p class="error" role="alert">{err.to_string()}</p> })}
                            {move || rename.value().get().and_then(Result::err).map(|err| view! { <p class="error" role="alert">{err.to_string()}</p> })}
                        </div>
                    </section>
                }.into_any(),
            })}
        </Transition>
        <section class="panel" aria-labelledby="add-title">
            <h2 id="add-title">"Add a passkey on this device"</h2>
            <p class="muted">"You will be asked for one of your passkeys first, to confirm it is you."</p>
            <form method="post" class="form-grid" on:submit=move |ev| { ev.prevent_default(); add.dispatch(()); }>
                <label for="new-passkey-name">"Device name"</label>
                <input id="new-passkey-name" type="text" maxlength="60" required prop:value=move || new_name.get() on:input=move |ev| new_name.set(event_target_value(&ev))/>
                <button class="button" type="submit" id="add-passkey">"Add passkey"</button>
            </form>
            <div aria-live="polite">
                {move || add.value().get().map(|result| match result {
                    Ok(()) => view! { <p class="notice" role="status">"Passkey added."</p> }.into_any(),
                    Err(message) => view! { <p class="error" role="alert">{message}</p> }.into_any(),
                })}
            </div>
        </section>
    }
}
