//! The video visit page, for the patient and the clinician alike, and the clinician's waiting
//! room list. Who may open a visit is decided by the server when the page loads its room
//! (refusals audited); the call itself runs in the browser (see `call`).

#[cfg(feature = "hydrate")]
mod call;

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::clock::When;
use super::role_home::NotAllowed;
use crate::api::video::{VideoRoomView, WaitingView, admit_patient, end_video_visit, enter_waiting_room, video_room};
use crate::clinical::{EntryBody, Note};
use crate::error::AppError;

/// What the page shows about the call; the call engine writes it.
#[derive(Clone, Copy)]
pub struct CallUi {
    pub status: RwSignal<String>,
    /// The RTCPeerConnection's connectionState, or "new" before there is one.
    pub peer_state: RwSignal<String>,
    pub ended: RwSignal<bool>,
    pub in_call: RwSignal<bool>,
    pub local: NodeRef<leptos::html::Video>,
    pub remote: NodeRef<leptos::html::Video>,
}

#[component]
pub fn VideoVisitPage() -> impl IntoView {
    let params = use_params_map();
    let id = Signal::derive(move || params.read().get("id").unwrap_or_default());
    let room = Resource::new(move || id.get(), video_room);
    view! {
        <Transition fallback=|| view! { <p>"Loading the visit…"</p> }>
            {move || room.get().map(|result| match result {
                Ok(room) => view! { <VideoRoom room/> }.into_any(),
                Err(AppError::Forbidden) | Err(AppError::NotFound) => view! { <NotAllowed/> }.into_any(),
                Err(AppError::Unauthenticated) => view! {
                    <section class="panel narrow" aria-labelledby="please-sign-in">
                        <h1 id="please-sign-in">"Please sign in"</h1>
                        <p>"Sign in to join your video visit."</p>
                        <a class="button" href="/sign-in">"Sign in"</a>
                    </section>
                }.into_any(),
                Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
            })}
        </Transition>
    }
}

/// Starts, steers and stops the browser's call. On the server there is no call.
#[derive(Clone, Copy)]
struct Controls {
    #[cfg(feature = "hydrate")]
    call: StoredValue<call::Call, LocalStorage>,
}

impl Controls {
    fn new(room: &VideoRoomView, ui: CallUi) -> Self {
        #[cfg(feature = "hydrate")]
        {
            let side = if room.side == "patient" { call::Side::Patient } else { call::Side::Clinician };
            let engine = call::Call::new(room.appointment_id.clone(), side, room.ice_servers.clone(), ui);
            Self { call: StoredValue::new_local(engine) }
        }
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = (room, ui);
            Self {}
        }
    }

    fn start(self) {
        #[cfg(feature = "hydrate")]
        {
            let engine = self.call.get_value();
            leptos::task::spawn_local(async move { engine.start().await });
        }
    }

    fn set_muted(self, muted: bool) {
        #[cfg(feature = "hydrate")]
        self.call.get_value().set_muted(muted);
        #[cfg(not(feature = "hydrate"))]
        let _ = muted;
    }

    fn set_camera_off(self, off: bool) {
        #[cfg(feature = "hydrate")]
        self.call.get_value().set_camera_off(off);
        #[cfg(not(feature = "hydrate"))]
        let _ = off;
    }

    fn hang_up(self) {
        #[cfg(feature = "hydrate")]
        self.call.get_value().hang_up("You left the visit. You can rejoin while it lasts.");
    }
}

#[component]
fn VideoRoom(room: VideoRoomView) -> impl IntoView {
    let patient_side = room.side == "patient";
    let initial = match (patient_side, room.state.as_deref()) {
        (_, Some("ended")) => "This visit has ended.",
        (true, Some("admitted")) => "Your clinician has let you in. Join when you are ready.",
        (true, _) => "Enter the waiting room when you are ready. Your clinician will let you in.",
        (false, Some("waiting")) => "The patient is in the waiting room.",
        (false, Some("admitted")) => "The patient has been let in. Join to continue the visit.",
        (false, _) => "The patient has not arrived yet. You can join and wait for them.",
    };
    let ui = CallUi {
        status: RwSignal::new(initial.to_owned()),
        peer_state: RwSignal::new("new".to_owned()),
        ended: RwSignal::new(room.state.as_deref() == Some("ended")),
        in_call: RwSignal::new(false),
        local: NodeRef::new(),
        remote: NodeRef::new(),
    };
    let controls = Controls::new(&room, ui);
    let state = RwSignal::new(room.state.clone());
    let error = RwSignal::new(None::<String>);
    let muted = RwSignal::new(false);
    let camera_off = RwSignal::new(false);
    let id = room.appointment_id.clone();

    let join = Action::new_local(move |id: &String| {
        let id = id.clone();
        async move {
            error.set(None);
            let entered = if patient_side {
                enter_waiting_room(id).await.map(Some)
            } else if state.get_untracked().as_deref() == Some("waiting") {
                admit_patient(id).await.map(|()| Some("admitted".to_owned()))
            } else {
                Ok(state.get_untracked())
            };
            match entered {
                Ok(now) => {
                    state.set(now);
                    controls.start();
                }
                Err(err) => error.set(Some(err.to_string())),
            }
        }
    });
    let end = Action::new(move |id: &String| {
        let id = id.clone();
        async move {
            match end_video_visit(id).await {
                Ok(()) => {
                    ui.ended.set(true);
                    controls.hang_up();
                    ui.status.set("You ended the visit for everyone.".to_owned());
                }
                Err(err) => error.set(Some(err.to_string())),
            }
        }
    });

    let other = if patient_side {
        room.clinician.clone()
    } else {
        room.patient_name.clone().unwrap_or_else(|| "the patient".to_owned())
    };
    let join_label = {
        let other = other.clone();
        move || match (patient_side, state.get().as_deref()) {
            (true, None | Some("waiting")) => "Enter the waiting room".to_owned(),
            (true, _) => "Rejoin the visit".to_owned(),
            (false, Some("waiting")) => format!("Let {other} in and join"),
            (false, _) => "Join the visit".to_owned(),
        }
    };
    let remote_label = format!("Video of {other}");
    view! {
        <section class="panel video-visit" aria-labelledby="visit-title">
            <h1 id="visit-title">"Video visit with " {other.clone()}</h1>
            <p class="muted">
                <When at=room.starts_at pattern="%a %b %-d, %Y %H:%M"/> " – " <When at=room.ends_at pattern="%H:%M"/>
                {patient_side.then(|| view! { " · The waiting room opens at " <When at=room.opens_at pattern="%H:%M"/> })}
            </p>
            <p id="call-status" class="call-status" role="status" aria-live="polite"
                data-peer-state=move || ui.peer_state.get()>{move || ui.status.get()}</p>
            <div role="alert" class="form-alert">
                {move || error.get().map(|e| view! { <p class="error">{e}</p> })}
            </div>
            <div class="video-grid">
                <figure class="remote-view">
                    <video id="remote-video" node_ref=ui.remote autoplay=true playsinline=true aria-label=remote_label></video>
                    <figcaption>{other.clone()}</figcaption>
                </figure>
                <figure class="self-view">
                    <video id="local-video" node_ref=ui.local autoplay=true playsinline=true prop:muted=true aria-label="Your camera"></video>
                    <figcaption>"You"</figcaption>
                </figure>
            </div>
            <div class="call-controls" role="toolbar" aria-label="Call controls">
                <Show when=move || !ui.in_call.get() && !ui.ended.get()>
                    <button class="button" type="button" id="join-visit" disabled=move || join.pending().get()
                        on:click={
                            let id = id.clone();
                            move |_| { join.dispatch(id.clone()); }
                        }>{join_label.clone()}</button>
                </Show>
                <Show when=move || ui.in_call.get()>
                    <button class="button button-secondary" type="button" aria-pressed=move || muted.get().to_string()
                        on:click=move |_| { let next = !muted.get_untracked(); muted.set(next); controls.set_muted(next); }>
                        {move || if muted.get() { "Unmute" } else { "Mute" }}
                    </button>
                    <button class="button button-secondary" type="button" aria-pressed=move || camera_off.get().to_string()
                        on:click=move |_| { let next = !camera_off.get_untracked(); camera_off.set(next); controls.set_camera_off(next); }>
                        {move || if camera_off.get() { "Turn camera on" } else { "Turn camera off" }}
                    </button>
                    <button class="button button-danger" type="button" id="hang-up" on:click=move |_| controls.hang_up()>"Hang up"</button>
                </Show>
                {(!patient_side).then(|| {
                    let id = room.appointment_id.clone();
                    view! {
                        <Show when=move || !ui.ended.get()>
                            <button class="button button-danger" type="button" id="end-visit" disabled=move || end.pending().get()
                                on:click={
                                    let id = id.clone();
                                    move |_| { end.dispatch(id.clone()); }
                                }>"End the visit for everyone"</button>
                        </Show>
                    }
                })}
            </div>
        </section>
        {room.can_delegate.then(|| {
            let appointment_id = room.appointment_id.clone();
            let current = room.delegate.clone();
            view! { <DelegateControl appointment_id current/> }
        })}
        {room.patient_id.clone().map(|patient_id| view! { <ConsultNote patient_id/> })}
    }
}

/// For the visit's own clinician: name the one colleague who may join, admit and end this visit
/// in their place (a covering clinician), or remove them. The server decides and audits.
#[component]
fn DelegateControl(appointment_id: String, current: Option<(String, String)>) -> impl IntoView {
    let clinicians = Resource::new(|| (), |_| crate::api::portal::clinician_directory());
    let chosen = RwSignal::new(current.as_ref().map(|(id, _)| id.clone()).unwrap_or_default());
    let named = RwSignal::new(current.map(|(_, name)| name));
    let save = Action::new(move |(appointment_id, delegate): &(String, String)| {
        let (appointment_id, delegate) = (appointment_id.clone(), delegate.clone());
        async move {
            let choice = (!delegate.is_empty()).then_some(delegate);
            crate::api::video::name_delegate(appointment_id, choice).await
        }
    });
    // Once saved, the sentence above the form names whom the server now has.
    Effect::new(move || {
        if let Some(Ok(())) = save.value().get() {
            let id = chosen.get_untracked();
            let list = clinicians.get_untracked().and_then(Result::ok).unwrap_or_default();
            named.set(list.into_iter().find(|c| c.id == id).map(|c| c.name));
        }
    });
    view! {
        <section class="panel" aria-labelledby="delegate-title">
            <h2 id="delegate-title">"Delegate this visit"</h2>
            <p class="muted" id="delegate-current">
                {move || match named.get() {
                    Some(name) => format!("{name} may join, admit the patient and end this visit."),
                    None => "Only you can join this visit. You may name one colleague to take it.".to_owned(),
                }}
            </p>
            <form method="post" on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                save.dispatch((appointment_id.clone(), chosen.get_untracked()));
            }>
                <div class="field">
                    <label for="delegate-select">"Colleague"</label>
                    <select id="delegate-select" on:change=move |ev| chosen.set(event_target_value(&ev))>
                        <option value="" selected=move || chosen.get().is_empty()>"Nobody (only me)"</option>
                        <Transition fallback=|| ()>
                            {move || clinicians.get().map(|result| result.unwrap_or_default().into_iter().map(|c| {
                                let value = c.id.clone();
                                let selected = move || chosen.get() == value;
                                view! { <option value=c.id.clone() selected=selected>{c.name}</option> }
                            }).collect_view())}
                        </Transition>
                    </select>
                </div>
                <button class="button button-secondary" type="submit" id="save-delegate" disabled=move || save.pending().get()>"Save delegate"</button>
            </form>
            <div role="status" class="form-alert">
                {move || save.value().get().map(|result| match result {
                    Ok(()) => view! { <p class="success">"Saved."</p> }.into_any(),
                    Err(err) => view! { <p class="error">{err.to_string()}</p> }.into_any(),
                })}
            </div>
        </section>
    }
}

/// The clinician's note of the consultation, saved to the chart (sealed and audited there) and
/// not released to the patient until the clinician chooses to.
#[component]
fn ConsultNote(patient_id: String) -> impl IntoView {
    let text = RwSignal::new(String::new());
    let save = Action::new(move |(patient_id, text): &(String, String)| {
        let note =
            EntryBody::Note(Note { title: "Video visit consult note".to_owned(), text: text.clone(), released: false });
        crate::api::chart::add_entry(patient_id.clone(), note)
    });
    let chart = format!("/dashboard/patients/{patient_id}");
    view! {
        <section class="panel" aria-labelledby="consult-note-title">
            <h2 id="consult-note-title">"Consult note"</h2>
            <form method="post" on:submit={
                let patient_id = patient_id.clone();
                move |ev: leptos::ev::SubmitEvent| {
                    ev.prevent_default();
                    save.dispatch((patient_id.clone(), text.get_untracked()));
                }
            }>
                <div class="field">
                    <label for="consult-note">"Note (saved to the chart; not shown to the patient unless you release it)"</label>
                    <textarea id="consult-note" rows="6" maxlength="10000" required prop:value=move || text.get()
                        on:input=move |ev| text.set(event_target_value(&ev))></textarea>
                </div>
                <button class="button" type="submit" disabled=move || save.pending().get()>"Save note to chart"</button>
            </form>
            <div role="status" class="form-alert">
                {move || save.value().get().map(|result| match result {
                    Ok(_) => view! { <p class="success">"Saved to the chart. " <a href=chart.clone()>"Open the chart"</a></p> }.into_any(),
                    Err(err) => view! { <p class="error">{err.to_string()}</p> }.into_any(),
                })}
            </div>
        </section>
    }
}

/// The clinician's waiting-room list, created with the page (outside its role gate) so that
/// rendering it on the server calls the server once; `tick` refreshes it.
#[derive(Clone, Copy)]
pub struct WaitingData {
    tick: RwSignal<u32>,
    waiting: Resource<Result<Vec<WaitingView>, AppError>>,
}

impl WaitingData {
    pub fn new(access: super::role_home::PageAccess) -> Self {
        let tick = RwSignal::new(0u32);
        let waiting = Resource::new(
            move || tick.get(),
            move |_| async move {
                access.granted().await?;
                crate::api::video::video_waiting_room().await
            },
        );
        Self { tick, waiting }
    }
}

/// Who is waiting for this clinician's video visits, refreshed every ten seconds.
#[component]
pub fn WaitingRoom(data: WaitingData) -> impl IntoView {
    let WaitingData { tick, waiting } = data;
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let refresh = wasm_bindgen::closure::Closure::<dyn FnMut()>::new(move || tick.update(|n| *n += 1));
        if let Some(window) = web_sys::window() {
            let _ =
                window.set_interval_with_callback_and_timeout_and_arguments_0(refresh.as_ref().unchecked_ref(), 10_000);
        }
        refresh.forget();
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = tick;
    view! {
        <section class="panel" aria-labelledby="waiting-room-title">
            <h2 id="waiting-room-title">"Video waiting room"</h2>
            <Transition fallback=|| view! { <p>"Checking who is waiting…"</p> }>
                {move || waiting.get().map(|result| match result {
                    Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    Ok(items) if items.is_empty() => view! { <p class="muted" id="waiting-empty">"Nobody is waiting for a video visit."</p> }.into_any(),
                    Ok(items) => view! {
                        <ul class="waiting-list" id="waiting-list">
                            {items.into_iter().map(|item| view! { <WaitingRow item/> }).collect_view()}
                        </ul>
                    }.into_any(),
                })}
            </Transition>
        </section>
    }
}

#[component]
fn WaitingRow(item: WaitingView) -> impl IntoView {
    let name = item.patient_name.clone().unwrap_or_else(|| "A patient".to_owned());
    let href = format!("/visit/{}", item.appointment_id);
    let (label, state) = match item.state.as_str() {
        "admitted" => (format!("Rejoin the visit with {name}"), "In the visit"),
        _ => (format!("Open the visit with {name}"), "Waiting"),
    };
    view! {
        <li>
            <strong>{name}</strong> " · visit at " <When at=item.starts_at pattern="%H:%M"/>
            " · " <span class="badge">{state}</span>
            {item.waiting_since.map(|since| view! { " since " <When at=since pattern="%H:%M"/> })}
            " " <a class="button button-small" href=href>{label}</a>
        </li>
    }
}
