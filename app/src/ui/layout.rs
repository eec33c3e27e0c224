//! The application shell: header, navigation and the main landmark.

use leptos::prelude::*;

#[component]
pub fn Shell(children: Children) -> impl IntoView {
    // Effects run only in the browser, so this flips once the page is hydrated and interactive:
    // browser tests wait for it instead of guessing.
    let (hydrated, set_hydrated) = signal(false);
    Effect::new(move |_| set_hydrated.set(true));
    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <header class="app-header">
            <a class="brand" href="/" aria-label="Clinic home">
                <span class="brand-mark" aria-hidden="true">"+"</span>
                <span>"Clinic"</span>
            </a>
            <nav aria-label="Main">
                <ul class="nav-list">
                    <li><a href="/">"Home"</a></li>
                </ul>
            </nav>
            <a class="button button-secondary" href="/sign-in">"Sign in"</a>
        </header>
        <main id="main" tabindex="-1" data-hydrated=move || hydrated.get().to_string()>{children()}</main>
        <footer class="app-footer">
            <p>"Every access to patient information is recorded."</p>
        </footer>
    }
}
