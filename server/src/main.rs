use clap::Parser;

/// Server-side rendering of the larger pages (the clinician dashboard) is deeply nested: an
/// unoptimised build needs more than a worker's default 2 MiB of stack for it, and an overflow
/// aborts the whole process. Stacks are reserved, not committed, so this costs no resident memory.
const WORKER_STACK_BYTES: usize = 8 * 1024 * 1024;

#[allow(clippy::print_stderr)] // Without a runtime there is no tracing yet: the CLI's own output.
fn main() -> std::process::ExitCode {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().thread_stack_size(WORKER_STACK_BYTES).build();
    match runtime {
        Ok(runtime) => runtime.block_on(server::cli::run(server::cli::Cli::parse())),
        Err(err) => {
            // allow-print: CLI output, before tracing exists.
            eprintln!("error: could not start the async runtime: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}
