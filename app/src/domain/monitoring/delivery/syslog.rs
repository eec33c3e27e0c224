//! Alerts to a syslog receiver (RFC 5424), the message body in CEF: over TCP with octet-counting
//! framing (RFC 6587 section 3.4.1), or one UDP datagram per alert (RFC 5426).

use std::sync::Arc;

use async_trait::async_trait;
use tokio::io::AsyncWriteExt;

use super::cef::{self, Device};
use super::{AlertFacts, Channel, Deliver, Failure};
use crate::domain::Error;
use crate::domain::clock::Clock;
use crate::domain::monitoring::Severity;
use crate::domain::syslog;

/// How long a connection and a write may take.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyslogTarget {
    Tcp(String),
    Udp(String),
}

impl SyslogTarget {
    /// `tcp://host:port` or `udp://host:port`; the error names the setting.
    pub fn parse(setting: &str, address: &str) -> Result<Self, Error> {
        let (scheme, rest) = address
            .split_once("://")
            .ok_or_else(|| Error::validation(setting, "use tcp://host:port or udp://host:port"))?;
        let ok = rest
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0));
        if !ok {
            return Err(Error::validation(setting, "needs a host and a port"));
        }
        match scheme {
            "tcp" => Ok(SyslogTarget::Tcp(rest.to_owned())),
            "udp" => Ok(SyslogTarget::Udp(rest.to_owned())),
            _ => Err(Error::validation(setting, "use tcp://host:port or udp://host:port")),
        }
    }
}

/// RFC 5424 severity of an alert: critical 2, high 3 (error), medium 4 (warning), low 5 (notice).
pub fn syslog_severity(severity: Severity) -> u8 {
    match severity {
        Severity::Critical => 2,
        Severity::High => 3,
        Severity::Medium => 4,
        Severity::Low => 5,
    }
}

pub struct SyslogChannel {
    pub target: SyslogTarget,
    pub min_severity: Severity,
    pub device: Device,
    pub clock: Arc<dyn Clock>,
}

impl SyslogChannel {
    /// The whole RFC 5424 message (not yet framed).
    pub fn message(&self, alert: &AlertFacts) -> String {
        syslog::message(
            syslog::FACILITY_AUTHPRIV,
            syslog_severity(alert.severity),
            self.clock.now(),
            "clinic",
            "security-alert",
            &cef::event(&self.device, alert),
        )
    }
}

#[async_trait]
impl Deliver for SyslogChannel {
    fn channel(&self) -> Channel {
        Channel::Syslog
    }

    fn min_severity(&self) -> Severity {
        self.min_severity
    }

    async fn deliver(&self, alert: &AlertFacts) -> Result<(), Failure> {
        let message = self.message(alert);
        let send = async {
            match &self.target {
                SyslogTarget::Tcp(address) => {
                    let mut stream = tokio::net::TcpStream::connect(address.as_str())
                        .await
                        .map_err(|_| Failure::new("connection"))?;
                    let framed = syslog::octet_counted(&message);
                    stream.write_all(framed.as_bytes()).await.map_err(|_| Failure::new("write"))?;
                    stream.shutdown().await.map_err(|_| Failure::new("write"))
                }
                SyslogTarget::Udp(address) => {
                    let local = if address.starts_with('[') { "[::]:0" } else { "0.0.0.0:0" };
                    let socket = tokio::net::UdpSocket::bind(local).await.map_err(|_| Failure::new("connection"))?;
                    socket.send_to(message.as_bytes(), address.as_str()).await.map_err(|_| Failure::new("write"))?;
                    Ok(())
                }
            }
        };
        tokio::time::timeout(TIMEOUT, send).await.map_err(|_| Failure::new("timeout"))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_tcp_or_udp_with_a_host_and_port() {
        let parse = |a: &str| SyslogTarget::parse("alerting.syslog.target", a);
        assert_eq!(parse("tcp://127.0.0.1:6514").ok(), Some(SyslogTarget::Tcp("127.0.0.1:6514".into())));
        assert_eq!(parse("udp://siem.test:514").ok(), Some(SyslogTarget::Udp("siem.test:514".into())));
        assert!(parse("udp://siem.test").is_err());
        assert!(parse("unix:/dev/log").is_err());
        assert!(parse("http://siem.test:514").is_err());
    }
}
