//! Secure messaging pages: the patient's conversations with their care team (`/portal/messages`)
//! and a clinician's inbox of their patients' conversations (`/dashboard/messages`), each with a
//! thread view to read and answer. Who may read is decided on the server for every call; the
//! pages only show the answer. Attachments are read in the browser, checked for count and size
//! for a quick answer, and checked again (including their real type) by the server.

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};

use super::clock::When;
use super::role_home::{PageAccess, RoleGate};
use crate::api::messages::{
    AttachmentUpload, AttachmentView, MAX_ATTACHMENTS, MAX_BODY_CHARS, MAX_SUBJECT_CHARS, MessageView, ThreadRow,
    ThreadView, download_attachment, message_inbox, my_threads, open_thread, reply, start_thread,
};
use crate::error::AppError;

/// "3 unread", in words as well as a badge, so the count never depends on colour.
fn unread_label(unread: u64) -> String {
    format!("{unread} unread")
}

fn size_label(bytes: u64) -> String {
    match bytes {
        b if b >= 1024 * 1024 => format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0)),
        b if b >= 1024 => format!("{:.0} KiB", b as f64 / 1024.0),
        b => format!("{b} bytes"),
    }
}

#[component]
pub fn PortalMessagesPage() -> impl IntoView {
    let access = PageAccess::new("patient");
    let threads = Resource::new(
        || (),
        move |_| async move {
            access.granted().await?;
            my_threads().await
        },
    );
    view! {
        <RoleGate access title="Messages">
            <p><a href="/portal">"Back to my record"</a></p>
            <section class="panel" aria-labelledby="threads-title">
                <h2 id="threads-title">"My conversations with my care team"</h2>
                <p class="muted">"Only you and the clinicians who care for you can read these messages. Every reading is recorded."</p>
                <ThreadTable threads base="/portal/messages" show_patient=false/>
            </section>
            <NewMessage/>
        </RoleGate>
    }
}

#[component]
pub fn ClinicianMessagesPage() -> impl IntoView {
    let access = PageAccess::new("clinician");
    let threads = Resource::new(
        || (),
        move |_| async move {
            access.granted().await?;
            message_inbox().await
        },
    );
    view! {
        <RoleGate access title="Messages">
            <p><a href="/dashboard">"Back to the dashboard"</a></p>
            <section class="panel" aria-labelledby="inbox-title">
                <h2 id="inbox-title">"Inbox"</h2>
                <p class="muted">"Conversations of the patients you are assigned to, on the care team of, or given access by."</p>
                <ThreadTable threads base="/dashboard/messages" show_patient=true/>
            </section>
        </RoleGate>
    }
}

#[component]
fn ThreadTable(
    threads: Resource<Result<Vec<ThreadRow>, AppError>>,
    base: &'static str,
    show_patient: bool,
) -> impl IntoView {
    view! {
        <Transition fallback=|| view! { <p>"Loading conversations…"</p> }>
            {move || threads.get().map(|result| match result {
                Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                Ok(rows) if rows.is_empty() => view! { <p id="no-threads">"No conversations yet."</p> }.into_any(),
                Ok(rows) => view! {
                    <div class="table-scroll">
                        <table class="data-table" id="threads-table">
                            <caption class="sr-only">"Conversations, most recent first"</caption>
                            <thead><tr>
                                {show_patient.then(|| view! { <th scope="col">"Patient"</th> })}
                                <th scope="col">"Subject"</th><th scope="col">"Last message"</th>
                                <th scope="col">"Messages"</th><th scope="col">"Unread"</th>
                            </tr></thead>
                            <tbody>
                                {rows.into_iter().map(|row| {
                                    let href = format!("{base}/{}", row.id);
                                    let unread = row.unread > 0;
                                    view! {
                                        <tr class:unread-row=unread>
                                            {row.patient_name.clone().map(|name| view! { <td>{name}</td> })}
                                            <th scope="row"><a href=href>{row.subject}</a></th>
                                            <td><When at=row.last_message_at/></td>
                                            <td>{row.messages}</td>
                                            <td>
                                                {if row.unread > 0 {
                                                    view! { <span class="badge badge-unread">{unread_label(row.unread)}</span> }.into_any()
                                                } else {
                                                    view! { <span class="muted">"None"</span> }.into_any()
                                                }}
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any(),
            })}
        </Transition>
    }
}

/// The files chosen for a message, read in the browser.
#[derive(Clone, Copy)]
struct FilePicker {
    files: RwSignal<Vec<AttachmentUpload>>,
    problem: RwSignal<Option<String>>,
    /// Bumped to clear the file input after sending.
    reset: RwSignal<u32>,
}

impl FilePicker {
    fn new() -> Self {
        Self { files: RwSignal::new(Vec::new()), problem: RwSignal::new(None), reset: RwSignal::new(0) }
    }

    fn clear(self) {
        self.files.set(Vec::new());
        self.problem.set(None);
        self.reset.update(|n| *n += 1);
    }
}

#[component]
fn FileInput(picker: FilePicker, id: &'static str) -> impl IntoView {
    let FilePicker { files, problem, reset } = picker;
    let on_change = move |ev: leptos::ev::Event| {
        problem.set(None);
        files.set(Vec::new());
        #[cfg(feature = "hydrate")]
        {
            let input: web_sys::HtmlInputElement = event_target(&ev);
            leptos::task::spawn_local(async move {
                match read_files(&input).await {
                    Ok(read) => files.set(read),
                    Err(message) => {
                        input.set_value("");
                        problem.set(Some(message));
                    }
                }
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    };
    let hint = format!("{id}-hint");
    view! {
        <div class="field">
            <label for=id>"Attach files (optional)"</label>
            <p class="hint muted" id=hint.clone()>
                {format!("PDF, PNG or JPEG; at most {MAX_ATTACHMENTS} files of 5 MiB each.")}
            </p>
            // Recreated after sending, which clears the browser's chosen files.
            {move || {
                reset.track();
                view! {
                    <input id=id type="file" multiple accept="application/pdf,image/png,image/jpeg,.pdf,.png,.jpg,.jpeg"
                        aria-describedby=hint.clone() on:change=on_change/>
                }
            }}
            <ul class="file-list" aria-live="polite">
                {move || files.get().into_iter().map(|file| {
                    let bytes = (file.data_base64.len() / 4 * 3) as u64;
                    view! { <li>{file.file_name}" · "{size_label(bytes)}</li> }
                }).collect_view()}
            </ul>
        </div>
    }
}

/// Reads the chosen files, refusing too many or too large before reading them.
#[cfg(feature = "hydrate")]
async fn read_files(input: &web_sys::HtmlInputElement) -> Result<Vec<AttachmentUpload>, String> {
    use base64::Engine as _;

    use crate::api::messages::MAX_ATTACHMENT_BYTES;
    let Some(list) = input.files() else { return Ok(Vec::new()) };
    if list.length() as usize > MAX_ATTACHMENTS {
        return Err(format!("Attachments: at most {MAX_ATTACHMENTS} files per message"));
    }
    let mut out = Vec::new();
    for n in 0..list.length() {
        let Some(file) = list.get(n) else { continue };
        if file.size() > MAX_ATTACHMENT_BYTES as f64 {
            return Err(format!("Attachment {}: the file is larger than 5 MiB", n + 1));
        }
        let buffer = wasm_bindgen_futures::JsFuture::from(file.array_buffer())
            .await
            .map_err(|_| format!("Attachment {}: the file could not be read", n + 1))?;
        let bytes = js_sys::Uint8Array::new(&buffer).to_vec();
        out.push(AttachmentUpload {
            file_name: file.name(),
            content_type: file.type_(),
            data_base64: base64::engine::general_purpose::STANDARD.encode(bytes),
        });
    }
    Ok(out)
}

/// Checks what the browser can check before sending: the server checks again and decides.
fn check_text(subject: Option<&str>, body: &str) -> Option<String> {
    if let Some(subject) = subject {
        let n = subject.trim().chars().count();
        if n == 0 {
            return Some("Subject: please write a subject".to_owned());
        }
        if n > MAX_SUBJECT_CHARS {
            return Some(format!("Subject: at most {MAX_SUBJECT_CHARS} characters"));
        }
    }
    match body.trim().chars().count() {
        0 => Some("Message: please write a message".to_owned()),
        n if n > MAX_BODY_CHARS => Some(format!("Message: at most {MAX_BODY_CHARS} characters")),
        _ => None,
    }
}

#[component]
fn NewMessage() -> impl IntoView {
    let subject = RwSignal::new(String::new());
    let body = RwSignal::new(String::new());
    let picker = FilePicker::new();
    let problem = RwSignal::new(None::<String>);
    let send = Action::new(move |(subject, body, files): &(String, String, Vec<AttachmentUpload>)| {
        start_thread(subject.clone(), body.clone(), files.clone())
    });
    let pending = send.pending();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(thread)) = send.value().get() {
            navigate(&format!("/portal/messages/{thread}"), Default::default());
        }
    });
    view! {
        <section class="panel" aria-labelledby="new-message-title" id="new-message">
            <h2 id="new-message-title">"Write to my care team"</h2>
            <p class="muted">"For emergencies, call 911. Messages are read during clinic hours."</p>
            <form method="post" class="message-form" on:submit=move |ev| {
                ev.prevent_default();
                send.value().set(None);
                let (s, b) = (subject.get_untracked(), body.get_untracked());
                match check_text(Some(&s), &b).or_else(|| picker.problem.get_untracked()) {
                    Some(found) => problem.set(Some(found)),
                    None => {
                        problem.set(None);
                        send.dispatch((s, b, picker.files.get_untracked()));
                    }
                }
            }>
                <div class="field">
                    <label for="message-subject">"Subject"</label>
                    <input id="message-subject" type="text" maxlength=MAX_SUBJECT_CHARS.to_string() autocomplete="off"
                        prop:value=move || subject.get() on:input=move |ev| subject.set(event_target_value(&ev))/>
                </div>
                <div class="field">
                    <label for="message-body">"Message"</label>
                    <textarea id="message-body" rows="6" maxlength=MAX_BODY_CHARS.to_string()
                        prop:value=move || body.get() on:input=move |ev| body.set(event_target_value(&ev))></textarea>
                </div>
                <FileInput picker id="message-files"/>
                <div class="form-actions">
                    <button class="button" type="submit" disabled=move || pending.get()>
                        {move || if pending.get() { "Sending…" } else { "Send message" }}
                    </button>
                </div>
            </form>
            <div role="alert" class="form-alert" id="new-message-alert">
                {move || problem.get().map(|p| view! { <p class="error">{p}</p> })}
                {move || picker.problem.get().map(|p| view! { <p class="error">{p}</p> })}
                {move || send.value().get().and_then(Result::err).map(|err| view! { <p class="error">{err.to_string()}</p> })}
            </div>
        </section>
    }
}

#[component]
pub fn PortalThreadPage() -> impl IntoView {
    view! { <ThreadRoute role="patient" back="/portal/messages"/> }
}

#[component]
pub fn ClinicianThreadPage() -> impl IntoView {
    view! { <ThreadRoute role="clinician" back="/dashboard/messages"/> }
}

#[component]
fn ThreadRoute(role: &'static str, back: &'static str) -> impl IntoView {
    let access = PageAccess::new(role);
    let params = use_params_map();
    let thread_id = Signal::derive(move || params.read().get("id").unwrap_or_default());
    let refresh = RwSignal::new(0u32);
    let thread = Resource::new(
        move || (thread_id.get(), refresh.get()),
        move |(id, _)| async move {
            access.granted().await?;
            open_thread(id).await
        },
    );
    view! {
        <RoleGate access title="Conversation">
            <p><a href=back>"Back to messages"</a></p>
            <Transition fallback=|| view! { <p>"Opening the conversation…"</p> }>
                {move || thread.get().map(|result| match result {
                    Ok(view) => view! { <OpenThread thread=view show_patient=role == "clinician"/> }.into_any(),
                    Err(AppError::Forbidden) => view! {
                        <section class="panel" id="thread-refused" aria-labelledby="thread-refused-title">
                            <h2 id="thread-refused-title">"You cannot read this conversation"</h2>
                            <p>"Messages are only for the patient and the clinicians who care for them. This attempt was recorded."</p>
                        </section>
                    }.into_any(),
                    Err(AppError::NotFound) => view! {
                        <section class="panel"><h2>"No such conversation"</h2><p>"There is no conversation at this address."</p></section>
                    }.into_any(),
                    Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                })}
                <Show when=move || matches!(thread.get(), Some(Ok(_)))>
                    <ReplyForm thread_id refresh/>
                </Show>
            </Transition>
        </RoleGate>
    }
}

#[component]
fn OpenThread(thread: ThreadView, show_patient: bool) -> impl IntoView {
    let ThreadView { subject, patient_name, messages, .. } = thread;
    view! {
        <section class="panel" aria-labelledby="thread-subject">
            <h2 id="thread-subject">{subject}</h2>
            {show_patient.then(|| view! { <p class="muted" id="thread-patient">"Patient: "{patient_name}</p> })}
            <ol class="message-list" id="message-list">
                {messages.into_iter().map(|message| view! { <MessageItem message/> }).collect_view()}
            </ol>
        </section>
    }
}

#[component]
fn MessageItem(message: MessageView) -> impl IntoView {
    let MessageView { from, from_you, body, sent_at, new, attachments, .. } = message;
    let label = format!("Message from {from}");
    view! {
        <li class="message" class:message-mine=from_you>
            <article aria-label=label>
                <header class="message-meta">
                    <strong>{from}</strong>" · "<When at=sent_at/>
                    {new.then(|| view! { " " <span class="badge badge-unread">"New"</span> })}
                </header>
                <p class="message-body">{body}</p>
                {(!attachments.is_empty()).then(|| view! {
                    <ul class="attachment-list" aria-label="Attachments">
                        {attachments.into_iter().map(|file| view! { <AttachmentItem file/> }).collect_view()}
                    </ul>
                })}
            </article>
        </li>
    }
}

#[component]
fn AttachmentItem(file: AttachmentView) -> impl IntoView {
    let AttachmentView { id, file_name, content_type, size_bytes } = file;
    let download = Action::new(move |id: &String| {
        let id = id.clone();
        async move {
            let file = download_attachment(id).await?;
            save_file(&file).map_err(AppError::Transport)
        }
    });
    let label = format!("Download {file_name}");
    let kind = match content_type.as_str() {
        "application/pdf" => "PDF",
        "image/png" => "PNG image",
        "image/jpeg" => "JPEG image",
        _ => "file",
    };
    view! {
        <li>
            <button class="button button-small button-secondary" type="button" aria-label=label
                on:click=move |_| { download.dispatch(id.clone()); }>
                {file_name.clone()}
            </button>
            " "<span class="muted">{format!("{kind}, {}", size_label(size_bytes))}</span>
            {move || download.value().get().and_then(Result::err).map(|err| view! { <span class="error" role="alert">" "{err.to_string()}</span> })}
        </li>
    }
}

/// Hands downloaded bytes to the browser as a file to save.
fn save_file(file: &crate::api::messages::AttachmentDownload) -> Result<(), String> {
    #[cfg(feature = "hydrate")]
    {
        use base64::Engine as _;
        use wasm_bindgen::JsCast;
        let failed = |_| "The file could not be saved.".to_owned();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(file.data_base64.as_bytes())
            .map_err(|_| "The file could not be read.".to_owned())?;
        let parts = js_sys::Array::new();
        parts.push(&js_sys::Uint8Array::from(bytes.as_slice()));
        let options = web_sys::BlobPropertyBag::new();
        options.set_type(&file.content_type);
        let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options).map_err(failed)?;
        let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(failed)?;
        let document = web_sys::window().and_then(|w| w.document()).ok_or("No browser window.")?;
        let link: web_sys::HtmlAnchorElement =
            document.create_element("a").map_err(failed)?.dyn_into().map_err(|_| "No link element.".to_owned())?;
        link.set_href(&url);
        link.set_download(&file.file_name);
        link.click();
        // The object URL holds PHI in memory: let the download start, then free it.
        set_timeout(
            move || {
                let _ = web_sys::Url::revoke_object_url(&url);
            },
            std::time::Duration::from_secs(30),
        );
        Ok(())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = file;
        Err("Downloads happen in the browser.".to_owned())
    }
}

#[component]
fn ReplyForm(thread_id: Signal<String>, refresh: RwSignal<u32>) -> impl IntoView {
    let body = RwSignal::new(String::new());
    let picker = FilePicker::new();
    let problem = RwSignal::new(None::<String>);
    let send = Action::new(move |(thread, body, files): &(String, String, Vec<AttachmentUpload>)| {
        let (thread, body, files) = (thread.clone(), body.clone(), files.clone());
        async move {
            let result = reply(thread, body, files).await;
            if result.is_ok() {
                refresh.update(|n| *n += 1);
            }
            result
        }
    });
    let pending = send.pending();
    Effect::new(move |_| {
        if let Some(Ok(_)) = send.value().get() {
            body.set(String::new());
            picker.clear();
        }
    });
    view! {
        <section class="panel" aria-labelledby="reply-title" id="reply">
            <h2 id="reply-title">"Reply"</h2>
            <form method="post" class="message-form" on:submit=move |ev| {
                ev.prevent_default();
                send.value().set(None);
                let text = body.get_untracked();
                match check_text(None, &text).or_else(|| picker.problem.get_untracked()) {
                    Some(found) => problem.set(Some(found)),
                    None => {
                        problem.set(None);
                        send.dispatch((thread_id.get_untracked(), text, picker.files.get_untracked()));
                    }
                }
            }>
                <div class="field">
                    <label for="reply-body">"Your reply"</label>
                    <textarea id="reply-body" rows="5" maxlength=MAX_BODY_CHARS.to_string()
                        prop:value=move || body.get() on:input=move |ev| body.set(event_target_value(&ev))></textarea>
                </div>
                <FileInput picker id="reply-files"/>
                <div class="form-actions">
                    <button class="button" type="submit" disabled=move || pending.get()>
                        {move || if pending.get() { "Sending…" } else { "Send reply" }}
                    </button>
                </div>
            </form>
            <div role="alert" class="form-alert" id="reply-alert">
                {move || problem.get().map(|p| view! { <p class="error">{p}</p> })}
                {move || picker.problem.get().map(|p| view! { <p class="error">{p}</p> })}
                {move || send.value().get().and_then(Result::err).map(|err| view! { <p class="error">{err.to_string()}</p> })}
            </div>
            <div role="status" id="reply-status">
                {move || matches!(send.value().get(), Some(Ok(_))).then(|| view! { <p class="notice">"Reply sent."</p> })}
            </div>
        </section>
    }
}
