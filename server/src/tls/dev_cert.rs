//! `server dev-cert`: a self-signed certificate for local TLS (never for a clinic's public
//! address: browsers do not trust it, and neither should people).

use std::path::{Path, PathBuf};

/// The files written.
#[derive(Debug)]
pub struct DevCert {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// Writes `cert.pem` (0644) and `key.pem` (0600) into `dir`: an ECDSA P-256 certificate for
/// `hosts` (names or IP addresses), valid from now for `days` days.
pub fn write(dir: &Path, hosts: &[String], days: u32) -> anyhow::Result<DevCert> {
    anyhow::ensure!(!hosts.is_empty(), "name at least one host");
    anyhow::ensure!((1..=825).contains(&days), "--days must be between 1 and 825, not {days}");
    let mut params = rcgen::CertificateParams::new(hosts.to_vec())?;
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::minutes(5);
    params.not_after = now + time::Duration::days(i64::from(days));
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, hosts[0].clone());
    params.distinguished_name.push(rcgen::DnType::OrganizationName, "Clinic development certificate");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let key = rcgen::KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    std::fs::create_dir_all(dir)?;
    let cert_file = dir.join("cert.pem");
    let key_file = dir.join("key.pem");
    write_file(&key_file, key.serialize_pem().as_bytes(), 0o600)?;
    write_file(&cert_file, cert.pem().as_bytes(), 0o644)?;
    Ok(DevCert { cert_file, key_file })
}

/// Replaces `path` atomically (a temporary file renamed over it), so that a server reading the
/// files on its next handshake never sees half of one.
fn write_file(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(&tmp).map_err(|err| anyhow::anyhow!("{}: {err}", tmp.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path).map_err(|err| anyhow::anyhow!("{}: {err}", path.display()))?;
    Ok(())
}
