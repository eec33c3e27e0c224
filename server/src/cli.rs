//! The operator's command line: serve, migrate, seed, audit verification and key rotation.
#![allow(clippy::print_stdout, clippy::print_stderr)] // This module is the CLI's output.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use app::domain::audit::{AuditContext, verify};
use app::domain::clock::{Clock, SystemClock};
use app::domain::crypto::LocalKeyring;
use app::domain::seed;
use app::domain::state::Services;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::{self, Settings};
use crate::startup::{self, Application};
use crate::{keys, telemetry};

#[derive(Debug, Parser)]
#[command(name = "clinic", version, about = "The clinic platform server and its maintenance commands")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web application (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create synthetic demo patients (never real PHI).
    Seed {
        #[arg(long, default_value_t = 50)]
        patients: u64,
        /// Do nothing when the database already holds audit history (a repeated `run`).
        #[arg(long)]
        if_empty: bool,
        /// MRN prefix (letters and digits); random when not given.
        #[arg(long, value_parser = parse_mrn_prefix)]
        mrn_prefix: Option<String>,
        /// Patients only: no staff, care relationships or clinical history (search benchmarks).
        #[arg(long)]
        demographics_only: bool,
        /// Write the demo accounts' enrollment links to files in this directory (mode 0600)
        /// instead of printing them.
        #[arg(long)]
        link_dir: Option<std::path::PathBuf>,
    },
    /// Audit log maintenance.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Key management.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Accounts.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Exit 0 when this host's server answers ready on /readyz, 1 otherwise: a container
    /// health check that needs no shell or curl.
    Healthcheck {
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 5)]
        timeout_seconds: u64,
    },
    /// Write a self-signed certificate and key for local TLS (cert.pem, key.pem mode 0600).
    DevCert {
        #[arg(long, default_value = "data/tls")]
        dir: std::path::PathBuf,
        /// Names and addresses the certificate is for.
        #[arg(long = "host", default_values_t = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()])]
        hosts: Vec<String>,
        #[arg(long, default_value_t = 90)]
        days: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Print an enrollment link for the first admin. Refused once an admin has a passkey; an
    /// unused earlier link is revoked and replaced.
    Bootstrap {
        #[arg(long, default_value = "Clinic administrator")]
        name: String,
        /// Also write the link to this file (mode 0600), for scripts.
        #[arg(long)]
        link_file: Option<std::path::PathBuf>,
    },
    /// Print a fresh enrollment link for an account waiting to enroll (an invitation or an
    /// approved re-enrollment), where no mail relay delivers it. Earlier unused links are
    /// revoked. Audited as an operator action; refused while the change awaits approval.
    EnrollmentLink {
        /// The account's id, as the admin's account list shows it.
        #[arg(long)]
        user: uuid::Uuid,
        /// Also write the link to this file (mode 0600), for scripts.
        #[arg(long)]
        link_file: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the whole log and chain; name the first row that does not hold. Exits 1 if any.
    Verify {
        /// Rows younger than this may still be waiting to be linked.
        #[arg(long, default_value_t = 300)]
        grace_seconds: i64,
        /// A file of signed checkpoints (the chainer's checkpoint file, or a syslog export):
        /// the log must still reach the newest one and hold the link each one names.
        #[arg(long)]
        checkpoints: Option<std::path::PathBuf>,
        /// This run's own checkpoint file: check only what was added after the newest clean
        /// run recorded there, then record this one (a signed line). Created when missing;
        /// run without it now and then to re-check the whole log.
        #[arg(long, value_name = "FILE")]
        from_checkpoint: Option<std::path::PathBuf>,
    },
    /// Link every committed row into the chain now, and write a signed checkpoint of the head.
    Chain,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Add a new KEK version to the key file, make it active, and re-wrap every data key.
    Rotate,
    /// Re-wrap data keys still under an older KEK version.
    Rewrap,
    /// How many data keys each KEK version wraps, and the audit keys' versions with the public
    /// key that verifies each version's checkpoints.
    Status,
    /// Add a new version of the audit keys (row MAC, chain, checkpoint signing) to the key file
    /// and make it active. Older versions stay, so rows made with them still verify. Restart
    /// the nodes afterwards so that they write with the new version.
    RotateAudit,
}

pub async fn run(cli: Cli) -> ExitCode {
    // Needs no settings: it makes the files the TLS settings then name.
    if let Some(Command::DevCert { dir, hosts, days }) = &cli.command {
        return match crate::tls::dev_cert::write(dir, hosts, *days) {
            Ok(written) => {
                println!("certificate: {}", written.cert_file.display());
                println!("key (mode 0600): {}", written.key_file.display());
                println!(
                    "serve with APP_SERVER__TLS__CERT_FILE={} APP_SERVER__TLS__KEY_FILE={} and an https public_url",
                    written.cert_file.display(),
                    written.key_file.display()
                );
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("error: {err:#}");
                ExitCode::FAILURE
            }
        };
    }
    let settings = match Settings::load(&config::config_dir()) {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    telemetry::init(&settings.log.filter);
    match execute(cli.command.unwrap_or(Command::Serve), &settings).await {
        Ok(code) => code,
        Err(err) => {
            tracing::error!(error = ?err, "command failed");
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(command: Command, settings: &Settings) -> anyhow::Result<ExitCode> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    match command {
        Command::Serve => {
            let app = Application::build(settings).await?;
            let scheme = if app.tls() { "https" } else { "http" };
            tracing::info!(address = %settings.address(), port = app.port(), tls = app.tls(), "serving");
            eprintln!("Clinic is up at {scheme}://{}:{}/", settings.server.host, app.port());
            app.run_until_stopped().await?;
        }
        Command::Healthcheck { timeout_seconds } => {
            return Ok(healthcheck(settings, std::time::Duration::from_secs(timeout_seconds)).await);
        }
        Command::DevCert { .. } => anyhow::bail!("dev-cert runs before the settings are loaded"),
        Command::Migrate => {
            startup::services(settings, clock).await?;
            println!("migrations are current");
        }
        Command::Seed { patients, if_empty, mrn_prefix, demographics_only, link_dir } => {
            let services = startup::services(settings, clock).await?;
            if if_empty && has_history(&services).await? {
                println!("the database already has data; not seeding");
                return Ok(ExitCode::SUCCESS);
            }
            let options = SeedOptions { count: patients, mrn_prefix, demographics_only, link_dir };
            seed_command(&services, settings, options).await?;
        }
        Command::Audit { command: AuditCommand::Chain } => {
            let services = startup::services(settings, clock.clone()).await?;
            let linked = services.chainer.chain_pending(&services.db).await?;
            println!("linked {linked} audit rows");
            let sinks = settings.audit.checkpoint_sinks()?;
            match services.chainer.head(&services.db).await? {
                Some(head) if !sinks.is_empty() => {
                    let checkpoint = startup::write_checkpoint(&services.chainer, &sinks, &head, clock.now()).await?;
                    println!("wrote a signed checkpoint of audit row seq {}", checkpoint.event_seq);
                }
                _ => {}
            }
        }
        Command::Audit { command: AuditCommand::Verify { grace_seconds, checkpoints, from_checkpoint } } => {
            let services = startup::services(settings, clock.clone()).await?;
            let files = VerifyFiles { checkpoints: checkpoints.as_deref(), resume: from_checkpoint.as_deref() };
            return verify_command(&services, clock.as_ref(), grace_seconds, files).await;
        }
        Command::Keys { command } => return keys_command(command, settings, clock).await,
        Command::Admin { command: AdminCommand::Bootstrap { name, link_file } } => {
            let services = startup::services(settings, clock).await?;
            return bootstrap_admin(&services, settings, &name, link_file.as_deref()).await;
        }
        Command::Admin { command: AdminCommand::EnrollmentLink { user, link_file } } => {
            let services = startup::services(settings, clock).await?;
            return enrollment_link(&services, settings, user, link_file.as_deref()).await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn has_history(services: &Services) -> anyhow::Result<bool> {
    use app::domain::entities::patient;
    use sea_orm::{EntityTrait, PaginatorTrait};
    Ok(patient::Entity::find().count(&services.db).await? > 0)
}

fn progress_bar(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(what.to_owned());
    bar
}

fn parse_mrn_prefix(value: &str) -> Result<String, String> {
    if !value.is_empty() && value.len() <= 8 && value.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(value.to_owned())
    } else {
        Err("use 1 to 8 letters or digits".to_owned())
    }
}

struct SeedOptions {
    count: u64,
    mrn_prefix: Option<String>,
    demographics_only: bool,
    link_dir: Option<std::path::PathBuf>,
}

async fn seed_command(services: &Services, settings: &Settings, options: SeedOptions) -> anyhow::Result<()> {
    use app::domain::seed_clinic;
    let started = Instant::now();
    let ctx = AuditContext::system("seed");
    let concurrency = if app::domain::db::backend_name(&services.db) == "postgres" { 8 } else { 1 };
    let run = options.mrn_prefix.unwrap_or_else(|| seed::run_tag(&mut rand::rng()));
    let bar = progress_bar(options.count, "seeding patients");
    let created =
        seed::seed_patients_tagged(&services.patients, &ctx, options.count, concurrency, &run, |n| bar.inc(n)).await?;
    bar.finish_and_clear();
    // Serial 0 first: the demo accounts and browser tests rely on knowing who patient 0 is.
    let mut created = created;
    created.sort_by(|a, b| a.1.mrn.cmp(&b.1.mrn));
    let ids: Vec<_> = created.iter().map(|(id, _)| *id).collect();
    if !options.demographics_only {
        let first: Vec<_> =
            created.iter().take(2).map(|(id, p)| (*id, format!("{} {}", p.given_name, p.family_name))).collect();
        let accounts = seed_clinic::invite_demo_accounts(
            services,
            &ctx,
            first,
            chrono::Duration::hours(settings.auth.enrollment_ttl_hours),
        )
        .await?;
        let clinicians: Vec<_> = accounts.clinicians.iter().map(|(_, invitation)| invitation.user_id).collect();
        let bar = progress_bar(ids.len() as u64, "assigning care teams");
        seed_clinic::relate(services, &ctx, &ids, &clinicians, |n| bar.inc(n)).await?;
        bar.finish_and_clear();
        seed_clinic::demo_workforce_identities(services, &ctx, &created, &clinicians).await?;
        seed_clinic::schedule_demo(services, &ctx, &ids, &clinicians).await?;
        let bar = progress_bar(ids.len() as u64, "writing clinical histories");
        seed_clinic::seed_histories(services, &ctx, &ids, concurrency, |n| bar.inc(n)).await?;
        bar.finish_and_clear();
        write_demo_links(settings, &accounts, options.link_dir.as_deref())?;
    }
    services.chainer.chain_pending(&services.db).await?;
    println!("created {} synthetic patients in {:.1?}", created.len(), started.elapsed());
    Ok(())
}

/// The demo accounts' enrollment links: files for scripts, or printed for a person.
fn write_demo_links(
    settings: &Settings,
    accounts: &app::domain::seed_clinic::DemoAccounts,
    dir: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let base = settings.public_url()?.as_str().trim_end_matches('/').to_owned();
    let link = |invitation: &app::domain::users::Invitation| format!("{base}/enroll#{}", invitation.token.expose());
    let mut links = Vec::new();
    for (index, (name, invitation)) in accounts.clinicians.iter().enumerate() {
        let file = match index {
            0 => "clinician",
            1 => "care-team-clinician",
            _ => "other-clinician",
        };
        links.push((file, format!("clinician {name}"), link(invitation)));
    }
    links.push(("security", "security officer".to_owned(), link(&accounts.security_officer)));
    links.push(("front-desk", "front desk (admin)".to_owned(), link(&accounts.front_desk)));
    for (index, patient) in accounts.patients.iter().enumerate() {
        let (file, who) = match index {
            0 => ("patient", "the first patient".to_owned()),
            n => ("patient-2", format!("patient {}", n + 1)),
        };
        links.push((file, who, link(patient)));
    }
    match dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            for (file, _, url) in links {
                write_private(&dir.join(format!("{file}.link")), &url)?;
            }
        }
        None => {
            println!(
                "Demo accounts (each link works once, within {} hours, to create a passkey):",
                settings.auth.enrollment_ttl_hours
            );
            for (_, who, url) in links {
                println!("  {who}: {url}");
            }
        }
    }
    Ok(())
}

/// The files `audit verify` reads: the chainer's checkpoints, and its own resume file.
struct VerifyFiles<'a> {
    checkpoints: Option<&'a std::path::Path>,
    resume: Option<&'a std::path::Path>,
}

async fn verify_command(
    services: &Services,
    clock: &dyn Clock,
    grace_seconds: i64,
    files: VerifyFiles<'_>,
) -> anyhow::Result<ExitCode> {
    let signer = services.chainer.checkpoint_signer();
    let mut problems = Vec::new();
    let resume = match files.resume {
        Some(path) => newest_clean_run(path, &signer, &mut problems)?,
        None => None,
    };
    let started = Instant::now();
    let bar = progress_bar(0, "verifying audit log");
    let mut options = verify::VerifyOptions::full(clock.now(), chrono::Duration::seconds(grace_seconds));
    options.resume = resume;
    let report =
        verify::verify_with(&services.db, services.audit.event_mac(), &services.chainer, &options, |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        })
        .await?;
    bar.finish_and_clear();
    let elapsed = started.elapsed();
    let rate = report.events_checked as f64 / elapsed.as_secs_f64().max(1e-9);
    if let Some(position) = report.resumed_from {
        println!("resumed after chain position {position}, the newest clean run's checkpoint");
    }
    println!(
        "checked {} audit rows and {} chain links in {:.2?} ({rate:.0} rows/s); {} waiting to be linked",
        report.events_checked, report.links_checked, elapsed, report.pending
    );
    problems.extend(report.findings.iter().map(ToString::to_string));
    if let Some(path) = files.checkpoints {
        let text = std::fs::read_to_string(path)
            .map_err(|err| anyhow::anyhow!("checkpoint file {} could not be read: {err}", path.display()))?;
        let checked = app::domain::audit::checkpoint::check(&services.db, &signer, &text).await?;
        match checked.newest_seq {
            Some(seq) => println!("checked {} signed checkpoints; the newest vouches for seq {seq}", checked.checked),
            None => println!("no genuine checkpoint in {}", path.display()),
        }
        // Checkpoint findings first: they explain the chain findings a truncation leaves.
        let mut first: Vec<String> = checked.findings.iter().map(ToString::to_string).collect();
        first.append(&mut problems);
        problems = first;
    }
    if let (Some(path), Some(head), true) = (files.resume, &report.head, problems.is_empty()) {
        let checkpoint = signer.sign(head, clock.now())?;
        append_line(path, &checkpoint.to_line())?;
        println!("recorded this clean run (through audit row seq {}) in {}", head.event_seq, path.display());
    }
    match problems.split_first() {
        None => {
            println!("audit log intact");
            Ok(ExitCode::SUCCESS)
        }
        Some((first, others)) => {
            println!("AUDIT LOG TAMPERED: {first}");
            for other in others {
                println!("  also: {other}");
            }
            Ok(ExitCode::from(1))
        }
    }
}

/// The newest genuine checkpoint in a resume file; a line that is not one is a problem (a
/// forged line is refused, never resumed from). A missing file means a run over everything.
fn newest_clean_run(
    path: &std::path::Path,
    signer: &app::domain::audit::CheckpointSigner,
    problems: &mut Vec<String>,
) -> anyhow::Result<Option<app::domain::audit::Checkpoint>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => anyhow::bail!("resume file {} could not be read: {err}", path.display()),
    };
    let mut newest: Option<app::domain::audit::Checkpoint> = None;
    for (index, line) in text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty()) {
        match app::domain::audit::Checkpoint::parse(line).filter(|checkpoint| signer.is_genuine(checkpoint)) {
            Some(checkpoint) if newest.as_ref().is_none_or(|n| checkpoint.position >= n.position) => {
                newest = Some(checkpoint);
            }
            Some(_) => {}
            None => problems.push(format!(
                "line {} of {} is not a checkpoint signed by an audit key: refused",
                index + 1,
                path.display()
            )),
        }
    }
    Ok(newest)
}

/// Appends one line, creating the file readable by its owner only.
fn append_line(path: &std::path::Path, line: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(|err| anyhow::anyhow!("resume file {} could not be written: {err}", path.display()))?;
    writeln!(file, "{line}")?;
    file.sync_all()?;
    Ok(())
}

async fn keys_command(command: KeysCommand, settings: &Settings, clock: Arc<dyn Clock>) -> anyhow::Result<ExitCode> {
    if let KeysCommand::RotateAudit = command {
        let path = settings
            .keys
            .file
            .clone()
            .ok_or_else(|| anyhow::anyhow!("keys rotate-audit works on a key file; set APP_KEYS__FILE"))?;
        let mut ring: LocalKeyring = keys::load(settings)?;
        let version = ring.add_audit_version();
        keys::write_key_file(&path, &ring)?;
        let public = app::domain::audit::CheckpointSigner::new(Arc::new(ring)).public_key(version)?;
        println!("audit key version {version} is now active in {}", path.display());
        println!("checkpoint public key (Ed25519) for version {version}: {}", hex::encode(public.as_bytes()));
        println!("restart the nodes so that new audit rows use it; older versions stay for verifying");
        return Ok(ExitCode::SUCCESS);
    }
    if let KeysCommand::Rotate = command {
        let path = settings
            .keys
            .file
            .clone()
            .ok_or_else(|| anyhow::anyhow!("keys rotate works on a key file; set APP_KEYS__FILE"))?;
        let mut ring: LocalKeyring = keys::load(settings)?;
        let version = ring.add_version();
        keys::write_key_file(&path, &ring)?;
        println!("KEK version {version} is now active in {}", path.display());
    }
    let services = startup::services(settings, clock.clone()).await?;
    match command {
        KeysCommand::Rotate | KeysCommand::Rewrap => {
            let started = Instant::now();
            let count = services.keys.rewrap_all(&services.db, clock.now()).await?;
            println!("re-wrapped {count} data keys in {:.1?}", started.elapsed());
        }
        KeysCommand::Status | KeysCommand::RotateAudit => {}
    }
    for (kek_id, version, count) in services.keys.count_by_version(&services.db).await? {
        println!("{kek_id} version {version}: {count} data keys");
    }
    let ring = keys::load(settings)?;
    let active = app::domain::crypto::KekProvider::audit_active_version(&ring);
    let versions = ring.audit_versions();
    let signer = app::domain::audit::CheckpointSigner::new(Arc::new(ring));
    for version in versions {
        let public = hex::encode(signer.public_key(version)?.as_bytes());
        let state = if version == active { "active" } else { "verify only" };
        println!("audit keys version {version} ({state}): checkpoint public key {public}");
    }
    Ok(ExitCode::SUCCESS)
}

async fn bootstrap_admin(
    services: &Services,
    settings: &Settings,
    name: &str,
    link_file: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    use app::domain::audit::Role;
    use app::domain::users::{NewUser, UserStatus};
    let ctx = AuditContext::system("admin bootstrap");
    let ttl = chrono::Duration::hours(settings.auth.enrollment_ttl_hours);
    let admins = services.users.ids_by_role(Role::Admin).await?;
    if admins.iter().any(|(_, status)| *status != UserStatus::Invited) {
        println!("an admin account already exists; invite further admins from the admin pages");
        return Ok(ExitCode::SUCCESS);
    }
    let invitation = match admins.first() {
        Some((id, _)) => services.users.reenroll(&ctx, *id, ttl).await?,
        None => {
            let new = NewUser { role: Role::Admin, display_name: name.to_owned(), patient_id: None };
            services.users.invite(&ctx, new, ttl).await?
        }
    };
    let base = settings.public_url()?;
    let link = format!("{}/enroll#{}", base.as_str().trim_end_matches('/'), invitation.token.expose());
    if let Some(path) = link_file {
        write_private(path, &link)?;
    }
    println!("First admin: open this link within {} hours to set up a passkey:", settings.auth.enrollment_ttl_hours);
    println!("  {link}");
    Ok(ExitCode::SUCCESS)
}

async fn enrollment_link(
    services: &Services,
    settings: &Settings,
    user: uuid::Uuid,
    link_file: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    use app::domain::Error;
    let ctx = AuditContext::system("admin enrollment-link");
    let ttl = chrono::Duration::hours(settings.auth.enrollment_ttl_hours);
    let invitation = match services.users.operator_link(&ctx, app::domain::ids::UserId(user), ttl).await {
        Ok(invitation) => invitation,
        Err(Error::NotFound) => {
            eprintln!("error: no account has this id");
            return Ok(ExitCode::FAILURE);
        }
        Err(Error::Conflict(message)) => {
            eprintln!("error: {message}");
            return Ok(ExitCode::FAILURE);
        }
        Err(err) => return Err(err.into()),
    };
    let base = settings.public_url()?;
    let link = format!("{}/enroll#{}", base.as_str().trim_end_matches('/'), invitation.token.expose());
    if let Some(path) = link_file {
        write_private(path, &link)?;
    }
    println!(
        "Give this link to the account's holder only; it works once, within {} hours:",
        settings.auth.enrollment_ttl_hours
    );
    println!("  {link}");
    Ok(ExitCode::SUCCESS)
}

fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())
}

/// GET /readyz on this host's own listener: exit 0 on 200, 1 on anything else. Over TLS the
/// certificate is not checked: this probe talks to loopback only, to the server on this host,
/// and must work with a self-signed or not-yet-renewed certificate.
async fn healthcheck(settings: &Settings, timeout: std::time::Duration) -> ExitCode {
    let host = match settings.server.host.as_str() {
        "0.0.0.0" | "" => "127.0.0.1".to_owned(),
        "::" | "[::]" => "[::1]".to_owned(),
        host if host.contains(':') && !host.starts_with('[') => format!("[{host}]"),
        host => host.to_owned(),
    };
    let scheme = if settings.server.tls.in_process() { "https" } else { "http" };
    let url = format!("{scheme}://{host}:{}/readyz", settings.server.port);
    let client = match reqwest::Client::builder().timeout(timeout).danger_accept_invalid_certs(true).build() {
        Ok(client) => client,
        Err(err) => {
            eprintln!("unhealthy: {err}");
            return ExitCode::FAILURE;
        }
    };
    match client.get(&url).send().await {
        Ok(response) if response.status() == reqwest::StatusCode::OK => {
            println!("ready");
            ExitCode::SUCCESS
        }
        Ok(response) => {
            eprintln!("not ready: {url} answered {}", response.status());
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("unhealthy: {url}: {err}");
            ExitCode::FAILURE
        }
    }
}
