//! Where signed audit checkpoints go: places outside the database, so whoever owns the database
//! cannot make the log end earlier than it did unseen.
//!
//! - A local file, opened for appending only (mode 0600) and fsynced after each line.
//! - Syslog, when configured: one RFC 5424 message per checkpoint over UDP or a Unix datagram
//!   socket (`/dev/log`), facility "log audit" (13), severity informational, so a central log
//!   server keeps a copy the clinic's own hosts cannot rewrite.

use std::io::Write;
use std::path::PathBuf;

use app::domain::audit::Checkpoint;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyslogTarget {
    Udp(String),
    Unix(PathBuf),
}

impl SyslogTarget {
    /// `udp://host:port` or `unix:/path` (also `unix:///path`). The error says what is wrong.
    pub fn parse(address: &str) -> Result<Self, &'static str> {
        if let Some(rest) = address.strip_prefix("udp://") {
            let (host, port) = rest.rsplit_once(':').ok_or("needs a port")?;
            if host.is_empty() || port.parse::<u16>().is_err() {
                return Err("needs a host and a port");
            }
            return Ok(SyslogTarget::Udp(rest.to_owned()));
        }
        if let Some(rest) = address.strip_prefix("unix:") {
            let path = rest.trim_start_matches("//");
            if !path.starts_with('/') {
                return Err("needs an absolute socket path");
            }
            return Ok(SyslogTarget::Unix(PathBuf::from(path)));
        }
        Err("has an unknown scheme")
    }
}

/// Every destination a checkpoint is written to.
#[derive(Clone, Debug, Default)]
pub struct Sinks {
    pub file: Option<PathBuf>,
    pub syslog: Option<SyslogTarget>,
}

/// Severity 6 (informational), facility 13 (log audit).
const SEVERITY: u8 = 6;

impl Sinks {
    pub fn is_empty(&self) -> bool {
        self.file.is_none() && self.syslog.is_none()
    }

    /// Writes one checkpoint to every destination. Blocking: call from `spawn_blocking`.
    pub fn write(&self, checkpoint: &Checkpoint) -> std::io::Result<()> {
        let line = checkpoint.to_line();
        if let Some(path) = &self.file {
            append_line(path, &line)?;
        }
        if let Some(target) = &self.syslog {
            send_syslog(target, &rfc5424(&line, checkpoint))?;
        }
        Ok(())
    }
}

fn append_line(path: &std::path::Path, line: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(format!("{line}\n").as_bytes())?;
    file.sync_data()
}

/// One RFC 5424 message (the format shared with security alerts, `app::domain::syslog`).
fn rfc5424(line: &str, checkpoint: &Checkpoint) -> String {
    use app::domain::syslog;
    syslog::message(syslog::FACILITY_LOG_AUDIT, SEVERITY, checkpoint.at, "clinic", "audit-checkpoint", line)
}

fn send_syslog(target: &SyslogTarget, message: &str) -> std::io::Result<()> {
    match target {
        SyslogTarget::Udp(address) => {
            let socket = std::net::UdpSocket::bind(if address.starts_with('[') { "[::]:0" } else { "0.0.0.0:0" })?;
            socket.send_to(message.as_bytes(), address.as_str())?;
        }
        SyslogTarget::Unix(path) => {
            #[cfg(unix)]
            {
                let socket = std::os::unix::net::UnixDatagram::unbound()?;
                socket.send_to(message.as_bytes(), path)?;
            }
            #[cfg(not(unix))]
            {
                let _ = path;
                return Err(std::io::Error::other("unix sockets need a Unix system"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syslog_addresses_are_udp_or_unix_and_say_what_is_wrong() {
        assert_eq!(SyslogTarget::parse("udp://127.0.0.1:514"), Ok(SyslogTarget::Udp("127.0.0.1:514".into())));
        assert_eq!(SyslogTarget::parse("unix:/dev/log"), Ok(SyslogTarget::Unix("/dev/log".into())));
        assert_eq!(SyslogTarget::parse("unix:///dev/log"), Ok(SyslogTarget::Unix("/dev/log".into())));
        assert_eq!(SyslogTarget::parse("udp://127.0.0.1"), Err("needs a port"));
        assert_eq!(SyslogTarget::parse("tcp://h:1"), Err("has an unknown scheme"));
        assert_eq!(SyslogTarget::parse("unix:dev/log"), Err("needs an absolute socket path"));
    }
}
