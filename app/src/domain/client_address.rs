//! The client's real address behind a reverse proxy, for the audit log (45 CFR 164.312(b):
//! "from where") and the per-address limits.
//!
//! A forwarding header is only as honest as whoever wrote it: anyone can send
//! `X-Forwarded-For: 10.0.0.1`. So it is read only when the TCP peer is one of the operator's
//! `server.trusted_proxies`, and then from the right: each trusted proxy appends the peer it
//! saw, so the rightmost hop that is not itself a trusted proxy is the first address no one we
//! trust could have been lied to about (RFC 7239 section 8.1; MDN "X-Forwarded-For", security
//! and privacy concerns). Only the header the operator names is read, so a client cannot pick
//! the one its proxy leaves untouched.

use std::net::IpAddr;

use http::HeaderMap;
use ipnet::IpNet;

/// The address a request is attributed to, put in the request's extensions by the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

/// Which forwarding header the trusted proxies write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2`
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for=proxy1`
    Forwarded,
}

impl ForwardedHeader {
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Some(Self::XForwardedFor),
            "forwarded" => Some(Self::Forwarded),
            _ => None,
        }
    }
}

/// The operator's reverse proxies. Empty (the default): every request is attributed to its
/// TCP peer and forwarding headers are ignored.
#[derive(Clone, Debug)]
pub struct TrustedProxies {
    networks: Vec<IpNet>,
    header: ForwardedHeader,
}

impl Default for TrustedProxies {
    fn default() -> Self {
        Self { networks: Vec::new(), header: ForwardedHeader::XForwardedFor }
    }
}

impl TrustedProxies {
    /// Parses CIDRs (`10.0.0.0/8`, `::1/128`) or single addresses; the error names the entry's
    /// position, for the startup message.
    pub fn parse(entries: &[String], header: ForwardedHeader) -> Result<Self, String> {
        let mut networks = Vec::with_capacity(entries.len());
        for (index, entry) in entries.iter().enumerate() {
            let entry = entry.trim();
            let net = entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("server.trusted_proxies[{index}] is not a CIDR such as 10.0.0.0/8"))?;
            networks.push(net);
        }
        Ok(Self { networks, header })
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.networks.iter().any(|net| net.contains(&ip))
    }

    /// The scheme the client used as the trusted proxy in front says it (`X-Forwarded-Proto`,
    /// or `proto=` of the nearest RFC 7239 element): None when `peer` is not a trusted proxy or
    /// the proxy said nothing. Anyone else's claim is never believed.
    pub fn forwarded_proto(&self, peer: IpAddr, headers: &HeaderMap) -> Option<String> {
        if !self.trusts(canonical(peer)) {
            return None;
        }
        let nearest =
            |name: &str| headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).next_back().map(str::to_owned);
        let proto = match self.header {
            ForwardedHeader::XForwardedFor => nearest("x-forwarded-proto")?.rsplit(',').next()?.trim().to_owned(),
            ForwardedHeader::Forwarded => nearest(http::header::FORWARDED.as_str())?
                .rsplit(',')
                .next()?
                .split(';')
                .find_map(|pair| pair.trim().strip_prefix("proto=").map(|p| p.trim_matches('"').to_owned()))?,
        };
        Some(proto.to_ascii_lowercase())
    }

    /// The address to attribute a request from `peer` with `headers` to.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        // Hops as the proxies wrote them, leftmost first; the peer is the last hop of all.
        let hops: Vec<Option<IpAddr>> = match self.header {
            ForwardedHeader::XForwardedFor => headers
                .get_all("x-forwarded-for")
                .iter()
                .flat_map(|value| value.to_str().map(|v| v.split(',').collect::<Vec<_>>()).unwrap_or_else(|_| vec![""]))
                .map(parse_node)
                .collect(),
            ForwardedHeader::Forwarded => headers
                .get_all(http::header::FORWARDED)
                .iter()
                .flat_map(|value| value.to_str().map(|v| v.split(',').collect::<Vec<_>>()).unwrap_or_else(|_| vec![""]))
                .map(forwarded_for)
                .collect(),
        };
        let mut nearest = peer;
        for hop in hops.into_iter().rev() {
            match hop {
                Some(ip) if self.trusts(ip) => nearest = ip,
                Some(ip) => return ip,
                // "unknown", an obfuscated name or garbage: the proxy that wrote it is the last
                // address anyone we trust vouches for.
                None => return nearest,
            }
        }
        nearest
    }
}

/// `for=` of one RFC 7239 forwarded-element (`for=192.0.2.60;proto=http;by=203.0.113.43`).
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        key.trim().eq_ignore_ascii_case("for").then(|| parse_node(value))?
    })
}

/// One node: `192.0.2.43`, `192.0.2.43:47011`, `2001:db8::1`, `[2001:db8::1]:4711`, quoted or not.
fn parse_node(value: &str) -> Option<IpAddr> {
    let value = value.trim().trim_matches('"');
    if let Some(rest) = value.strip_prefix('[') {
        return rest
            .split_once(']')
            .and_then(|(ip, _)| ip.parse::<std::net::Ipv6Addr>().ok())
            .map(|ip| canonical(ip.into()));
    }
    if let Ok(ip) = value.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    let (host, port) = value.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// An IPv4 peer on a dual-stack socket arrives as `::ffff:a.b.c.d`; it is the same client.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test code: a failed step should stop the test where it failed.

    use super::*;

    fn proxies(entries: &[&str], header: ForwardedHeader) -> TrustedProxies {
        TrustedProxies::parse(&entries.iter().map(|e| e.to_string()).collect::<Vec<_>>(), header).unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    fn ip(value: &str) -> IpAddr {
        value.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_the_headers_say() {
        let none = TrustedProxies::default();
        let sent = headers(&[("x-forwarded-for", "203.0.113.7"), ("forwarded", "for=203.0.113.8")]);
        assert_eq!(none.client(ip("127.0.0.1"), &sent), ip("127.0.0.1"));
    }

    #[test]
    fn a_trusted_peer_is_believed_up_to_the_rightmost_untrusted_hop() {
        let lb = proxies(&["10.0.0.0/8", "127.0.0.1"], ForwardedHeader::XForwardedFor);
        // The client claimed 198.51.100.1 itself; the first proxy saw 203.0.113.7 and appended it.
        let sent = headers(&[("x-forwarded-for", "198.51.100.1, 203.0.113.7"), ("x-forwarded-for", "10.1.2.3")]);
        assert_eq!(lb.client(ip("127.0.0.1"), &sent), ip("203.0.113.7"));
        // Every hop trusted: the leftmost one.
        assert_eq!(lb.client(ip("127.0.0.1"), &headers(&[("x-forwarded-for", "10.9.9.9")])), ip("10.9.9.9"));
        // No header: the proxy itself.
        assert_eq!(lb.client(ip("10.0.0.5"), &HeaderMap::new()), ip("10.0.0.5"));
    }

    #[test]
    fn an_untrusted_peer_cannot_forward_anything() {
        let lb = proxies(&["10.0.0.0/8"], ForwardedHeader::XForwardedFor);
        let sent = headers(&[("x-forwarded-for", "203.0.113.7")]);
        assert_eq!(lb.client(ip("192.0.2.1"), &sent), ip("192.0.2.1"));
    }

    #[test]
    fn only_the_configured_header_is_read() {
        let xff = proxies(&["127.0.0.1/32"], ForwardedHeader::XForwardedFor);
        let forwarded = proxies(&["127.0.0.1/32"], ForwardedHeader::Forwarded);
        let sent = headers(&[("forwarded", "for=198.51.100.9"), ("x-forwarded-for", "203.0.113.7")]);
        assert_eq!(xff.client(ip("127.0.0.1"), &sent), ip("203.0.113.7"));
        assert_eq!(forwarded.client(ip("127.0.0.1"), &sent), ip("198.51.100.9"));
    }

    #[test]
    fn rfc_7239_elements_with_ports_quotes_and_ipv6_are_read() {
        let lb = proxies(&["127.0.0.1/32", "2001:db8:cafe::/48"], ForwardedHeader::Forwarded);
        let sent = headers(&[(
            "forwarded",
            "for=192.0.2.43, for=\"[2001:db8:1::17]:4711\";proto=https, For=\"2001:db8:cafe::17\";by=10.0.0.1",
        )]);
        assert_eq!(lb.client(ip("127.0.0.1"), &sent), ip("2001:db8:1::17"));
        let with_port = headers(&[("forwarded", "for=\"198.51.100.4:8443\"")]);
        assert_eq!(lb.client(ip("127.0.0.1"), &with_port), ip("198.51.100.4"));
    }

    #[test]
    fn an_unreadable_hop_is_attributed_to_the_proxy_that_wrote_it() {
        let lb = proxies(&["127.0.0.1/32", "10.0.0.0/8"], ForwardedHeader::Forwarded);
        let sent = headers(&[("forwarded", "for=203.0.113.7, for=unknown, for=10.0.0.2")]);
        assert_eq!(lb.client(ip("127.0.0.1"), &sent), ip("10.0.0.2"));
        let xff = proxies(&["127.0.0.1/32"], ForwardedHeader::XForwardedFor);
        assert_eq!(
            xff.client(ip("127.0.0.1"), &headers(&[("x-forwarded-for", "203.0.113.7, garbage")])),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn an_ipv4_mapped_peer_is_the_ipv4_client() {
        let lb = proxies(&["127.0.0.1/32"], ForwardedHeader::XForwardedFor);
        let sent = headers(&[("x-forwarded-for", "::ffff:203.0.113.7")]);
        assert_eq!(lb.client(ip("::ffff:127.0.0.1"), &sent), ip("203.0.113.7"));
    }

    #[test]
    fn a_bad_entry_is_named_by_position_and_single_addresses_are_accepted() {
        let err = TrustedProxies::parse(&["10.0.0.0/8".into(), "not-a-network".into()], ForwardedHeader::Forwarded)
            .unwrap_err();
        assert_eq!(err, "server.trusted_proxies[1] is not a CIDR such as 10.0.0.0/8");
        assert!(TrustedProxies::parse(&["192.0.2.1".into(), "::1".into()], ForwardedHeader::Forwarded).is_ok());
        assert_eq!(ForwardedHeader::parse("X-Forwarded-For"), Some(ForwardedHeader::XForwardedFor));
        assert_eq!(ForwardedHeader::parse("x-real-ip"), None);
    }
}
