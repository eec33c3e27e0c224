//! Automatic logoff, as the person sees it: a countdown from the session's idle limit, a
//! warning two minutes before with a way to stay signed in, and the sign-in page at zero. The
//! server enforces the limit on its own; this only keeps the page honest about it.

use leptos::prelude::*;

use crate::api::auth::get_session;

const WARN_SECS: i64 = 120;

#[component]
pub fn IdleWatch(idle_timeout_secs: i64) -> impl IntoView {
    let remaining = RwSignal::new(idle_timeout_secs);
    let deadline = StoredValue::new(now_secs() + idle_timeout_secs as f64);
    #[cfg(feature = "hydrate")]
    {
        let handle = set_interval_with_handle(
            move || {
                let left = (deadline.get_value() - now_secs()).ceil() as i64;
                remaining.set(left.max(0));
                if left <= 0 {
                    leptos::task::spawn_local(async move {
                        let _ = crate::api::auth::sign_out().await;
                        super::webauthn::go_to("/sign-in?reason=idle");
                    });
                }
            },
            std::time::Duration::from_secs(1),
        );
        on_cleanup(move || {
            if let Ok(handle) = handle {
                handle.clear();
            }
        });
    }
    let stay = Action::new(move |_: &()| async move {
        let result = get_session().await;
        if let Ok(Some(info)) = &result {
            deadline.set_value(now_secs() + info.idle_timeout_secs as f64);
            remaining.set(info.idle_timeout_secs);
        }
        result
    });
    view! {
        <Show when=move || { remaining.get() <= WARN_SECS }>
            <div class="idle-warning" role="alertdialog" aria-labelledby="idle-title" aria-describedby="idle-text">
                <h2 id="idle-title">"Are you still there?"</h2>
                <p id="idle-text">
                    "For your security you will be signed out in "
                    <strong id="idle-countdown">{move || format_mm_ss(remaining.get())}</strong>"."
                </p>
                <button class="button" id="stay-signed-in" on:click=move |_| { stay.dispatch(()); }>"Stay signed in"</button>
            </div>
        </Show>
    }
}

fn format_mm_ss(secs: i64) -> String {
    format!("{}:{:02}", secs / 60, secs % 60)
}

fn now_secs() -> f64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now() / 1000.0
    }
    #[cfg(not(feature = "hydrate"))]
    {
        0.0
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_countdown_reads_as_minutes_and_seconds() {
        assert_eq!(super::format_mm_ss(120), "2:00");
        assert_eq!(super::format_mm_ss(61), "1:01");
        assert_eq!(super::format_mm_ss(9), "0:09");
    }
}
