//! JSON logs, one object per line. Inside a request every line carries the request's id (from
//! the request span). Fields carry ids and outcomes, never PHI values.

use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::{EnvFilter, layer::SubscriberExt};

pub fn subscriber<W>(filter: &str, writer: W) -> impl Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let json = tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(true)
        .with_writer(writer);
    tracing_subscriber::registry().with(filter).with(json)
}

/// Installs the subscriber for the whole process. A second call is ignored.
pub fn init(filter: &str) {
    let _ = tracing::subscriber::set_global_default(subscriber(filter, std::io::stderr));
}
