//! The browser side of a video visit: camera and microphone, one `RTCPeerConnection`, and the
//! signaling WebSocket. Compiled for the browser only.
//!
//! Who offers is fixed so the two sides never offer at once: the clinician's browser offers
//! whenever it hears the patient's `hello`. The patient says `hello` once admitted, whenever
//! it hears the clinician's `hello` (the clinician arrived or came back), and when its
//! connection fails; so a network blip on either side ends in a fresh offer. The WebSocket
//! reconnects by itself and asks for what it missed by sequence number; signals already seen
//! are skipped.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    CloseEvent, MediaStream, MediaStreamConstraints, MediaStreamTrack, MessageEvent, RtcConfiguration,
    RtcIceCandidateInit, RtcIceServer, RtcPeerConnection, RtcPeerConnectionIceEvent, RtcSessionDescriptionInit,
    RtcTrackEvent, WebSocket,
};

use super::CallUi;
use crate::api::video::IceServerView;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Patient,
    Clinician,
}

struct Inner {
    appointment: String,
    side: Side,
    ice: Vec<IceServerView>,
    ui: CallUi,
    local: Option<MediaStream>,
    ws: Option<WebSocket>,
    pc: Option<RtcPeerConnection>,
    /// Bumped for every new peer connection and socket, so handlers of an old one do nothing.
    pc_generation: u32,
    ws_generation: u32,
    last_seq: Option<i64>,
    seen: HashSet<i64>,
    pending_ice: Vec<String>,
    outbox: Vec<String>,
    admitted: bool,
    /// Hung up or ended: nothing reconnects.
    closed: bool,
    failures: u32,
}

#[derive(Clone)]
pub struct Call(Rc<RefCell<Inner>>);

fn describe(err: JsValue) -> String {
    err.dyn_ref::<web_sys::DomException>().map_or_else(|| "an unexpected browser error".to_owned(), |e| e.message())
}

impl Call {
    pub fn new(appointment: String, side: Side, ice: Vec<IceServerView>, ui: CallUi) -> Self {
        Self(Rc::new(RefCell::new(Inner {
            appointment,
            side,
            ice,
            ui,
            local: None,
            ws: None,
            pc: None,
            pc_generation: 0,
            ws_generation: 0,
            last_seq: None,
            seen: HashSet::new(),
            pending_ice: Vec::new(),
            outbox: Vec::new(),
            admitted: side == Side::Clinician,
            closed: false,
            failures: 0,
        })))
    }

    fn ui(&self) -> CallUi {
        self.0.borrow().ui
    }

    fn status(&self, text: &str) {
        self.ui().status.set(text.to_owned());
    }

    /// Turns on the camera and microphone and connects to the visit.
    pub async fn start(&self) {
        self.0.borrow_mut().closed = false;
        if self.0.borrow().local.is_none() {
            self.status("Starting your camera and microphone…");
            match media().await {
                Ok(stream) => {
                    if let Some(video) = self.ui().local.get_untracked() {
                        video.set_src_object(Some(&stream));
                    }
                    self.0.borrow_mut().local = Some(stream);
                }
                Err(err) => {
                    self.status(&format!("Your camera or microphone could not be started: {err}"));
                    return;
                }
            }
        }
        self.ui().in_call.set(true);
        if self.0.borrow().ws_generation == 0 {
            self.keep_alive();
        }
        self.open_socket();
    }

    pub fn set_muted(&self, muted: bool) {
        if let Some(stream) = &self.0.borrow().local {
            for track in stream.get_audio_tracks().iter() {
                track.unchecked_into::<MediaStreamTrack>().set_enabled(!muted);
            }
        }
    }

    pub fn set_camera_off(&self, off: bool) {
        if let Some(stream) = &self.0.borrow().local {
            for track in stream.get_video_tracks().iter() {
                track.unchecked_into::<MediaStreamTrack>().set_enabled(!off);
            }
        }
    }

    /// Leaves the visit: the other side is told, the camera is released.
    pub fn hang_up(&self, status: &str) {
        self.send("bye", None);
        self.close(status);
    }

    fn close(&self, status: &str) {
        let mut inner = self.0.borrow_mut();
        inner.closed = true;
        inner.pc_generation += 1;
        inner.ws_generation += 1;
        if let Some(pc) = inner.pc.take() {
            pc.close();
        }
        if let Some(ws) = inner.ws.take() {
            let _ = ws.close();
        }
        if let Some(stream) = inner.local.take() {
            for track in stream.get_tracks().iter() {
                track.unchecked_into::<MediaStreamTrack>().stop();
            }
        }
        inner.ui.peer_state.set("closed".to_owned());
        inner.ui.in_call.set(false);
        inner.ui.status.set(status.to_owned());
    }

    fn open_socket(&self) {
        let (url, generation) = {
            let mut inner = self.0.borrow_mut();
            inner.ws_generation += 1;
            let Some(location) = web_sys::window().map(|w| w.location()) else { return };
            let scheme = if location.protocol().ok().as_deref() == Some("https:") { "wss" } else { "ws" };
            let host = location.host().unwrap_or_default();
            let mut url = format!("{scheme}://{host}/api/video/{}/signal", inner.appointment);
            if let Some(seq) = inner.last_seq {
                url.push_str(&format!("?after={seq}"));
            }
            (url, inner.ws_generation)
        };
        let ws = match WebSocket::new(&url) {
            Ok(ws) => ws,
            Err(err) => {
                self.status(&format!("Could not reach the visit: {}", describe(err)));
                return;
            }
        };
        let current = {
            let call = self.clone();
            move || call.0.borrow().ws_generation == generation
        };
        let on_open = {
            let (call, current) = (self.clone(), current.clone());
            Closure::<dyn FnMut()>::new(move || {
                if current() {
                    call.on_open();
                }
            })
        };
        let on_message = {
            let (call, current) = (self.clone(), current.clone());
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                if let (true, Some(text)) = (current(), event.data().as_string()) {
                    call.on_frame(&text);
                }
            })
        };
        let on_close = {
            let call = self.clone();
            Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
                if current() {
                    call.on_socket_closed(event.code());
                }
            })
        };
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        // The socket lives as long as the page; its handlers with it.
        on_open.forget();
        on_message.forget();
        on_close.forget();
        self.0.borrow_mut().ws = Some(ws);
    }

    fn on_open(&self) {
        let (side, admitted, connected) = {
            let mut inner = self.0.borrow_mut();
            inner.failures = 0;
            let connected = inner.ui.peer_state.get_untracked() == "connected";
            (inner.side, inner.admitted, connected)
        };
        let outbox = std::mem::take(&mut self.0.borrow_mut().outbox);
        for frame in outbox {
            self.send_raw(frame);
        }
        if connected {
            self.status("Connected");
            return;
        }
        match (side, admitted) {
            (Side::Clinician, _) => {
                self.status("Waiting for the patient to connect…");
                self.send("hello", None);
            }
            (Side::Patient, true) => {
                self.status("Connecting…");
                self.send("hello", None);
            }
            (Side::Patient, false) => self.status("You are in the waiting room. Your clinician will let you in."),
        }
    }

    fn on_socket_closed(&self, code: u16) {
        // 1012: the node is shutting down; the next attempt reaches another one, so it is
        // made at once and is not counted as a failure.
        let restarting = code == 1012;
        let failures = {
            let mut inner = self.0.borrow_mut();
            inner.ws = None;
            if inner.closed {
                return;
            }
            if !restarting {
                inner.failures += 1;
            }
            inner.failures
        };
        if code == 4401 {
            self.close("You were signed out. Sign in again to rejoin the visit.");
            return;
        }
        if failures > 6 {
            self.close("The visit cannot be reached. Check your connection and reload the page.");
            return;
        }
        if self.ui().peer_state.get_untracked() != "connected" {
            self.status("Connection lost. Reconnecting…");
        }
        let delay = if restarting { 100 } else { 500 * 2_i32.pow(failures.min(4)) };
        let call = self.clone();
        let retry = Closure::once_into_js(move || {
            if !call.0.borrow().closed {
                call.open_socket();
            }
        });
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(retry.unchecked_ref(), delay);
        }
    }

    fn on_frame(&self, text: &str) {
        let Ok(frame) = js_sys::JSON::parse(text) else { return };
        let field = |name: &str| js_sys::Reflect::get(&frame, &JsValue::from_str(name)).ok();
        let kind = field("kind").and_then(|v| v.as_string()).unwrap_or_default();
        let seq = field("seq").and_then(|v| v.as_f64()).map(|v| v as i64);
        let from = field("from").and_then(|v| v.as_string()).unwrap_or_default();
        let payload = field("payload").and_then(|v| v.as_string());
        if kind == "welcome" {
            let state = field("state").and_then(|v| v.as_string());
            let mut inner = self.0.borrow_mut();
            if inner.last_seq.is_none() {
                inner.last_seq = seq;
            }
            match state.as_deref() {
                Some("admitted") => inner.admitted = true,
                Some("ended") => {
                    drop(inner);
                    self.end();
                }
                _ => {}
            }
            return;
        }
        if kind == "error" {
            leptos::logging::warn!("signaling refused a message");
            return;
        }
        if let Some(seq) = seq {
            let mut inner = self.0.borrow_mut();
            if !inner.seen.insert(seq) {
                return;
            }
            inner.last_seq = Some(inner.last_seq.map_or(seq, |last| last.max(seq)));
        }
        let side = self.0.borrow().side;
        let from_other = match side {
            Side::Patient => from == "clinician",
            Side::Clinician => from == "patient",
        };
        match kind.as_str() {
            "waiting" if side == Side::Clinician => self.status("The patient is in the waiting room."),
            "admitted" if side == Side::Patient => {
                self.0.borrow_mut().admitted = true;
                self.status("You have been let in. Connecting…");
                self.send("hello", None);
            }
            "hello" if from_other => match side {
                Side::Clinician => self.offer(),
                Side::Patient if self.0.borrow().admitted => self.send("hello", None),
                Side::Patient => {}
            },
            "offer" if from_other && side == Side::Patient => {
                if let Some(sdp) = payload {
                    self.answer(sdp);
                }
            }
            "answer" if from_other && side == Side::Clinician => {
                if let Some(sdp) = payload {
                    self.accept_answer(sdp);
                }
            }
            "ice" if from_other => {
                if let Some(candidate) = payload {
                    self.add_candidate(candidate);
                }
            }
            "bye" if from_other => {
                self.drop_peer();
                self.status(match side {
                    Side::Clinician => "The patient left the visit. They can rejoin from their portal.",
                    Side::Patient => "Your clinician stepped out. Stay here; they can reconnect.",
                });
            }
            "ended" => self.end(),
            _ => {}
        }
    }

    fn end(&self) {
        self.ui().ended.set(true);
        self.close("The visit has ended. Thank you.");
    }

    fn send(&self, kind: &str, payload: Option<String>) {
        let frame = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&frame, &JsValue::from_str("kind"), &JsValue::from_str(kind));
        if let Some(payload) = payload {
            let _ = js_sys::Reflect::set(&frame, &JsValue::from_str("payload"), &JsValue::from_str(&payload));
        }
        if let Some(text) = js_sys::JSON::stringify(&frame).ok().and_then(|s| s.as_string()) {
            self.send_raw(text);
        }
    }

    /// Keeps the socket alive through proxies that close quiet connections.
    fn keep_alive(&self) {
        let call = self.clone();
        let ping = Closure::<dyn FnMut()>::new(move || {
            let inner = call.0.borrow();
            if let Some(ws) = inner.ws.as_ref().filter(|ws| ws.ready_state() == WebSocket::OPEN) {
                let _ = ws.send_with_str(r#"{"kind":"ping"}"#);
            }
        });
        if let Some(window) = web_sys::window() {
            let _ =
                window.set_interval_with_callback_and_timeout_and_arguments_0(ping.as_ref().unchecked_ref(), 25_000);
        }
        ping.forget();
    }

    fn send_raw(&self, frame: String) {
        let mut inner = self.0.borrow_mut();
        match &inner.ws {
            Some(ws) if ws.ready_state() == WebSocket::OPEN => {
                if ws.send_with_str(&frame).is_err() {
                    inner.outbox.push(frame);
                }
            }
            _ => inner.outbox.push(frame),
        }
    }

    fn drop_peer(&self) {
        let mut inner = self.0.borrow_mut();
        inner.pc_generation += 1;
        if let Some(pc) = inner.pc.take() {
            pc.close();
        }
        inner.pending_ice.clear();
        inner.ui.peer_state.set("new".to_owned());
    }

    /// A fresh peer connection carrying the local camera and microphone.
    fn new_peer(&self) -> Option<RtcPeerConnection> {
        self.drop_peer();
        let (config, generation) = {
            let inner = self.0.borrow();
            (configuration(&inner.ice), inner.pc_generation)
        };
        let pc = match RtcPeerConnection::new_with_configuration(&config) {
            Ok(pc) => pc,
            Err(err) => {
                self.status(&format!("The call could not be set up: {}", describe(err)));
                return None;
            }
        };
        if let Some(stream) = &self.0.borrow().local {
            for track in stream.get_tracks().iter() {
                pc.add_track(&track.unchecked_into::<MediaStreamTrack>(), stream, &js_sys::Array::new());
            }
        }
        let current = {
            let call = self.clone();
            move || call.0.borrow().pc_generation == generation
        };
        let on_candidate = {
            let (call, current) = (self.clone(), current.clone());
            Closure::<dyn FnMut(RtcPeerConnectionIceEvent)>::new(move |event: RtcPeerConnectionIceEvent| {
                if !current() {
                    return;
                }
                if let Some(candidate) = event.candidate()
                    && let Ok(json) = js_sys::JSON::stringify(&candidate)
                {
                    call.send("ice", json.as_string());
                }
            })
        };
        let on_track = {
            let (call, current) = (self.clone(), current.clone());
            Closure::<dyn FnMut(RtcTrackEvent)>::new(move |event: RtcTrackEvent| {
                if !current() {
                    return;
                }
                let stream = event.streams().get(0);
                if let (Some(video), Ok(stream)) = (call.ui().remote.get_untracked(), stream.dyn_into::<MediaStream>())
                {
                    video.set_src_object(Some(&stream));
                }
            })
        };
        let on_state = {
            let (call, pc) = (self.clone(), pc.clone());
            Closure::<dyn FnMut()>::new(move || {
                if !current() {
                    return;
                }
                let state = js_sys::Reflect::get(&pc, &JsValue::from_str("connectionState"))
                    .ok()
                    .and_then(|v| v.as_string())
                    .unwrap_or_default();
                call.ui().peer_state.set(state.clone());
                match state.as_str() {
                    "connected" => call.status("Connected"),
                    "disconnected" => call.status("The connection is unstable. Reconnecting…"),
                    "failed" => {
                        call.status("The connection dropped. Reconnecting…");
                        call.send("hello", None);
                    }
                    _ => {}
                }
            })
        };
        pc.set_onicecandidate(Some(on_candidate.as_ref().unchecked_ref()));
        pc.set_ontrack(Some(on_track.as_ref().unchecked_ref()));
        pc.set_onconnectionstatechange(Some(on_state.as_ref().unchecked_ref()));
        on_candidate.forget();
        on_track.forget();
        on_state.forget();
        self.0.borrow_mut().pc = Some(pc.clone());
        Some(pc)
    }

    fn offer(&self) {
        let Some(pc) = self.new_peer() else { return };
        self.status("Connecting to the patient…");
        let call = self.clone();
        leptos::task::spawn_local(async move {
            let result = async {
                let offer = JsFuture::from(pc.create_offer()).await?;
                JsFuture::from(pc.set_local_description(offer.unchecked_ref::<RtcSessionDescriptionInit>())).await?;
                Ok::<_, JsValue>(())
            }
            .await;
            match result {
                Ok(()) => call.send("offer", local_description(&pc)),
                Err(err) => call.status(&format!("The call could not be set up: {}", describe(err))),
            }
        });
    }

    fn answer(&self, sdp: String) {
        let Some(pc) = self.new_peer() else { return };
        let call = self.clone();
        leptos::task::spawn_local(async move {
            let result = async {
                let offer: RtcSessionDescriptionInit = js_sys::JSON::parse(&sdp)?.unchecked_into();
                JsFuture::from(pc.set_remote_description(&offer)).await?;
                call.flush_candidates(&pc).await;
                let answer = JsFuture::from(pc.create_answer()).await?;
                JsFuture::from(pc.set_local_description(answer.unchecked_ref::<RtcSessionDescriptionInit>())).await?;
                Ok::<_, JsValue>(())
            }
            .await;
            match result {
                Ok(()) => call.send("answer", local_description(&pc)),
                Err(err) => call.status(&format!("The call could not be set up: {}", describe(err))),
            }
        });
    }

    fn accept_answer(&self, sdp: String) {
        let Some(pc) = self.0.borrow().pc.clone() else { return };
        let call = self.clone();
        leptos::task::spawn_local(async move {
            let result = async {
                let answer: RtcSessionDescriptionInit = js_sys::JSON::parse(&sdp)?.unchecked_into();
                JsFuture::from(pc.set_remote_description(&answer)).await?;
                Ok::<_, JsValue>(())
            }
            .await;
            match result {
                Ok(()) => call.flush_candidates(&pc).await,
                Err(err) => call.status(&format!("The call could not be set up: {}", describe(err))),
            }
        });
    }

    fn add_candidate(&self, candidate: String) {
        let pc = self.0.borrow().pc.clone();
        match pc {
            Some(pc) if pc.remote_description().is_some() => {
                leptos::task::spawn_local(async move {
                    add_ice(&pc, &candidate).await;
                });
            }
            _ => self.0.borrow_mut().pending_ice.push(candidate),
        }
    }

    async fn flush_candidates(&self, pc: &RtcPeerConnection) {
        let pending = std::mem::take(&mut self.0.borrow_mut().pending_ice);
        for candidate in pending {
            add_ice(pc, &candidate).await;
        }
    }
}

async fn add_ice(pc: &RtcPeerConnection, candidate: &str) {
    let Ok(init) = js_sys::JSON::parse(candidate) else { return };
    let init: RtcIceCandidateInit = init.unchecked_into();
    // A candidate that does not apply (an old negotiation's) is harmless to drop.
    let _ = JsFuture::from(pc.add_ice_candidate_with_opt_rtc_ice_candidate_init(Some(&init))).await;
}

fn local_description(pc: &RtcPeerConnection) -> Option<String> {
    pc.local_description().and_then(|d| js_sys::JSON::stringify(&d).ok()).and_then(|s| s.as_string())
}

fn configuration(servers: &[IceServerView]) -> RtcConfiguration {
    let config = RtcConfiguration::new();
    let list = js_sys::Array::new();
    for server in servers {
        let ice = RtcIceServer::new();
        let urls = js_sys::Array::new();
        for url in &server.urls {
            urls.push(&JsValue::from_str(url));
        }
        ice.set_urls(&urls);
        if let (Some(username), Some(credential)) = (&server.username, &server.credential) {
            ice.set_username(username);
            ice.set_credential(credential);
        }
        list.push(&ice);
    }
    config.set_ice_servers(&list);
    config
}

async fn media() -> Result<MediaStream, String> {
    let devices = web_sys::window()
        .ok_or_else(|| "no browser window".to_owned())?
        .navigator()
        .media_devices()
        .map_err(|_| "this browser gives no access to cameras (a secure connection is needed)".to_owned())?;
    let constraints = MediaStreamConstraints::new();
    constraints.set_audio(&JsValue::TRUE);
    constraints.set_video(&JsValue::TRUE);
    let promise = devices.get_user_media_with_constraints(&constraints).map_err(describe)?;
    let stream = JsFuture::from(promise).await.map_err(describe)?;
    stream.dyn_into::<MediaStream>().map_err(|_| "the browser returned no stream".to_owned())
}
