//! The WASM entry point: hydrate the server-rendered page, and nothing else. `hydrate_lazy`
//! loads the chunk of the page the server rendered before hydrating it (the pages are split
//! points, see `app::ui::routes`).

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_lazy(app::App);
}
