//! The SSRF guard: which addresses an HTTP target may reach.
//!
//! A scheduler that sends requests on its callers' behalf must not let them reach what only
//! the server can reach: its own loopback, the private network it runs in, the cloud metadata
//! service. [`TargetGuard`] refuses, unless an operator opened them, every address that is
//! loopback, private (RFC 1918), shared (CGNAT, 100.64.0.0/10), link-local, unique-local,
//! multicast, unspecified, broadcast or otherwise reserved, including such an IPv4 address
//! embedded in an IPv6 address by any transition or translation form (mapped, compatible,
//! SIIT, NAT64 well-known and local-use, 6to4, Teredo, ISATAP: see `embedded_v4`), judged by
//! the embedded address.
//!
//! It is applied twice: when a job is written (the URL's literal address, or every address its
//! host name resolves to then) and when a run connects (every address actually dialled), so a
//! name that later re-resolves to a forbidden address fails the run, not the server.
//!
//! URLs are read by the WHATWG parser (`url`), the same one the HTTP client uses, so decimal,
//! octal and hexadecimal IPv4 forms (`http://2130706433/`, `http://0x7f.1/`) are read as the
//! address they denote.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use ipnet::IpNet;

/// Why an address is refused, or `None` when it is an ordinary public unicast address.
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    if ip.is_unspecified() || a == 0 {
        Some("unspecified")
    } else if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private (RFC 1918)")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared (CGNAT)")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if ip.is_broadcast()
        || a >= 240
        || (a == 192 && b == 0 && (c == 0 || c == 2))
        || (a == 198 && (b == 18 || b == 19))
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
    {
        Some("reserved")
    } else {
        None
    }
}

/// The IPv4 addresses an IPv6 address embeds by a transition or translation form — the
/// addresses a packet to it may end up reaching through a translator or tunnel:
/// IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d` (deprecated), SIIT
/// `::ffff:0:a.b.c.d` (RFC 6145), NAT64 with the well-known prefix `64:ff9b::/96` and the
/// local-use prefix `64:ff9b:1::/48` (RFC 6052, RFC 8215: every prefix length it allows), 6to4
/// `2002:AABB:CCDD::/48`, Teredo `2001:0::/32` (the server and the obfuscated client address)
/// and ISATAP interface identifiers (`...:0:5efe:a.b.c.d`, `...:200:5efe:a.b.c.d`).
fn embedded_v4(ip: Ipv6Addr) -> Vec<Ipv4Addr> {
    let s = ip.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    let mut found = Vec::new();
    match s {
        [0, 0, 0, 0, 0, 0xffff, hi, lo]
        | [0, 0, 0, 0, 0, 0, hi, lo]
        | [0, 0, 0, 0, 0xffff, 0, hi, lo]
        | [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => found.push(v4(hi, lo)),
        [0x64, 0xff9b, 1, ..] => found.extend(
            [48, 56, 64, 96]
                .into_iter()
                .filter_map(|prefix| rfc6052_embedded(ip, prefix)),
        ),
        [0x2002, hi, lo, ..] => found.push(v4(hi, lo)),
        [0x2001, 0, server_hi, server_lo, _, _, client_hi, client_lo] => {
            found.push(v4(server_hi, server_lo));
            found.push(v4(!client_hi, !client_lo));
        }
        _ => {}
    }
    // ISATAP: the interface identifier embeds the IPv4 address under any /64 prefix.
    if s[4] & 0xfdff == 0 && s[5] == 0x5efe {
        found.push(v4(s[6], s[7]));
    }
    found
}

/// The IPv4 address embedded after an RFC 6052 prefix of `prefix` bits (32, 40, 48, 56, 64 or
/// 96), when the address is well formed for that length: bits 64-71 zero and the suffix after
/// the IPv4 address zero.
fn rfc6052_embedded(ip: Ipv6Addr, prefix: u32) -> Option<Ipv4Addr> {
    let bytes = ip.octets();
    if bytes[8] != 0 {
        return None;
    }
    let (positions, suffix): ([usize; 4], usize) = match prefix {
        32 => ([4, 5, 6, 7], 9),
        40 => ([5, 6, 7, 9], 10),
        48 => ([6, 7, 9, 10], 11),
        56 => ([7, 9, 10, 11], 12),
        64 => ([9, 10, 11, 12], 13),
        96 => ([12, 13, 14, 15], 16),
        _ => return None,
    };
    if bytes[suffix.min(16)..].iter().any(|b| *b != 0) {
        return None;
    }
    Some(Ipv4Addr::from(positions.map(|at| bytes[at])))
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    let embedded = embedded_v4(ip);
    if let Some(reason) = embedded.iter().find_map(|v4| forbidden_v4(*v4)) {
        return Some(reason);
    }
    let [a, b, ..] = ip.segments();
    if a == 0x64 && b == 0xff9b && embedded.is_empty() {
        // The rest of 64:ff9b::/32, or a local-use NAT64 address in no RFC 6052 form: a
        // translator's address whose IPv4 destination cannot be read.
        Some("NAT64 (no readable IPv4 address)")
    } else if first & 0xfe00 == 0xfc00 {
        Some("unique-local")
    } else if first & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else if first & 0xffc0 == 0xfec0 {
        Some("site-local")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if (first == 0x2001 && ip.segments()[1] == 0x0db8) || first == 0x0100 {
        Some("reserved")
    } else {
        None
    }
}

/// A target refused by the guard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetRefusal {
    /// The URL does not parse as an `http`/`https` URL with a host.
    Unreadable,
    /// The host is a local-only name (`localhost`, `*.localhost`).
    LocalName {
        /// The host as written.
        host: String,
    },
    /// The host is, or resolves to, a forbidden address.
    Address {
        /// The host as written (a name or a literal).
        host: String,
        /// The forbidden address.
        address: IpAddr,
        /// The kind of address ([`forbidden_reason`]).
        reason: &'static str,
    },
}

impl fmt::Display for TargetRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreadable => {
                f.write_str("the URL is not an http:// or https:// URL with a host")
            }
            Self::LocalName { host } => write!(f, "{host} is a local-only host name"),
            Self::Address {
                host,
                address,
                reason,
            } if host.trim_matches(['[', ']']) == address.to_string() => {
                write!(f, "{address} is {} {reason} address", article(reason))
            }
            Self::Address {
                host,
                address,
                reason,
            } => write!(
                f,
                "{host} resolves to {address}, {} {reason} address",
                article(reason)
            ),
        }
    }
}

impl std::error::Error for TargetRefusal {}

/// "an" before a vowel ("an unspecified address"), "a" otherwise.
fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// One entry of an allow list.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostRule {
    /// Exactly this host name.
    Exact(String),
    /// This name and every name under it (`*.svc.cluster.local`).
    Suffix(String),
}

/// What a URL's host needs after [`TargetGuard::check_url`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostCheck {
    /// Nothing more: an allowed literal address or an allowed name.
    Done,
    /// A name whose addresses must each pass [`TargetGuard::check_resolved`].
    Resolve {
        /// The host name, lowercase, without a trailing dot.
        host: String,
        /// The port (the scheme's default when the URL has none).
        port: u16,
    },
}

/// The refusal policy plus the operator's allow list (CIDRs and host names).
///
/// The default refuses every forbidden address and allows nothing extra.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetGuard {
    /// Address ranges opened by the operator.
    nets: Vec<IpNet>,
    /// Host names opened by the operator: reached whatever they resolve to.
    hosts: Vec<HostRule>,
}

/// A lowercase host name without its trailing dot.
fn normal_host(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

impl TargetGuard {
    /// Reads an allow list: entries separated by commas or white space, each a CIDR
    /// (`10.0.0.0/8`, `fd00::/8`), a single address (`127.0.0.1`, `::1`), a host name
    /// (`hooks.internal`) or a domain wildcard (`*.svc.cluster.local`).
    ///
    /// # Errors
    /// The first entry that is none of these, with the reason.
    pub fn from_allow_list(list: &str) -> Result<Self, String> {
        let mut guard = Self::default();
        for entry in list
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|e| !e.is_empty())
        {
            if let Ok(net) = IpNet::from_str(entry) {
                guard.nets.push(net.trunc());
            } else if let Ok(ip) = IpAddr::from_str(entry.trim_matches(['[', ']'])) {
                guard.nets.push(IpNet::from(ip));
            } else if let Some(domain) = entry.strip_prefix("*.") {
                guard
                    .hosts
                    .push(HostRule::Suffix(Self::host_entry(domain)?));
            } else {
                guard.hosts.push(HostRule::Exact(Self::host_entry(entry)?));
            }
        }
        Ok(guard)
    }

    fn host_entry(entry: &str) -> Result<String, String> {
        let host = normal_host(entry);
        let valid = !host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            });
        if valid {
            Ok(host)
        } else {
            Err(format!(
                "{entry:?} is neither a CIDR, an IP address nor a host name"
            ))
        }
    }

    /// True when nothing is opened beyond the default.
    pub fn is_default(&self) -> bool {
        self.nets.is_empty() && self.hosts.is_empty()
    }

    /// Whether the operator opened this host name.
    pub fn host_allowed(&self, host: &str) -> bool {
        let host = normal_host(host);
        self.hosts.iter().any(|rule| match rule {
            HostRule::Exact(name) => *name == host,
            HostRule::Suffix(domain) => {
                host == *domain
                    || host
                        .strip_suffix(domain.as_str())
                        .is_some_and(|rest| rest.ends_with('.'))
            }
        })
    }

    /// Whether the operator opened this address.
    pub fn address_allowed(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// Checks one address `host` resolved to (or `host` itself when it is a literal).
    ///
    /// # Errors
    /// [`TargetRefusal::Address`] when the address is forbidden and neither it nor the host
    /// name is allowed.
    pub fn check_resolved(&self, host: &str, ip: IpAddr) -> Result<(), TargetRefusal> {
        match forbidden_reason(ip) {
            Some(_) if self.host_allowed(host) || self.address_allowed(ip) => Ok(()),
            Some(reason) => Err(TargetRefusal::Address {
                host: host.to_string(),
                address: ip,
                reason,
            }),
            None => Ok(()),
        }
    }

    /// Checks what can be checked of a URL without resolving its host: a literal address,
    /// or a local-only name.
    ///
    /// # Errors
    /// [`TargetRefusal`] saying why.
    pub fn check_url(&self, url: &str) -> Result<HostCheck, TargetRefusal> {
        let parsed = url::Url::parse(url).map_err(|_| TargetRefusal::Unreadable)?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(TargetRefusal::Unreadable);
        }
        let port = parsed
            .port_or_known_default()
            .ok_or(TargetRefusal::Unreadable)?;
        match parsed.host() {
            None => Err(TargetRefusal::Unreadable),
            Some(url::Host::Ipv4(ip)) => self
                .check_resolved(&ip.to_string(), IpAddr::V4(ip))
                .map(|()| HostCheck::Done),
            Some(url::Host::Ipv6(ip)) => self
                .check_resolved(&format!("[{ip}]"), IpAddr::V6(ip))
                .map(|()| HostCheck::Done),
            Some(url::Host::Domain(name)) => {
                let host = normal_host(name);
                if self.host_allowed(&host) {
                    Ok(HostCheck::Done)
                } else if host == "localhost" || host.ends_with(".localhost") {
                    Err(TargetRefusal::LocalName { host })
                } else {
                    Ok(HostCheck::Resolve { host, port })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(guard: &TargetGuard, url: &str) -> bool {
        guard.check_url(url).is_err()
    }

    #[test]
    fn forbidden_literals_in_every_spelling_are_refused() {
        let guard = TargetGuard::default();
        for url in [
            "http://127.0.0.1/",
            "http://127.1.2.3:8080/x",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0x7f.1/",
            "http://0177.0.0.1/",
            "http://017700000001/",
            "http://127.1/",
            "http://0.0.0.0/",
            "http://0/",
            "http://[::1]/",
            "http://[::]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://[::127.0.0.1]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[2002:a9fe:a9fe::1]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[fe80::1]/",
            "http://[fd00::1]/",
            "http://[fc00::1]/",
            "http://10.0.0.1/",
            "http://172.16.0.1/",
            "http://172.31.255.255/",
            "http://192.168.1.1/",
            "http://100.64.0.1/",
            "http://100.127.255.255/",
            "http://224.0.0.1/",
            "http://[ff02::1]/",
            "http://255.255.255.255/",
            "http://localhost/",
            "http://LOCALHOST./",
            "http://api.localhost:8080/",
            "https://user:pw@127.0.0.1/",
        ] {
            assert!(refused(&guard, url), "{url} was not refused");
        }
    }

    #[test]
    fn ipv4_embedded_in_every_ipv6_form_is_judged_by_the_embedded_address() {
        let guard = TargetGuard::default();
        for (url, reason) in [
            // SIIT (IPv4-translated, RFC 6145).
            ("http://[::ffff:0:7f00:1]/", "loopback"),
            ("http://[::ffff:0:a9fe:a9fe]/", "link-local"),
            ("http://[0:0:0:0:ffff:0:10.0.0.1]/", "private (RFC 1918)"),
            // NAT64, well-known prefix, in both spellings.
            ("http://[64:ff9b::7f00:1]/", "loopback"),
            ("http://[64:ff9b::192.168.0.1]/", "private (RFC 1918)"),
            // NAT64, local-use prefix (RFC 8215) at each RFC 6052 length.
            ("http://[64:ff9b:1::7f00:1]/", "loopback"),
            ("http://[64:ff9b:1::a9fe:a9fe]/", "link-local"),
            ("http://[64:ff9b:1:7f00:0:100::]/", "loopback"),
            ("http://[64:ff9b:1:7f:0:1::]/", "loopback"),
            ("http://[64:ff9b:1:0:7f:0:100::]/", "loopback"),
            (
                "http://[64:ff9b:1:0:ff00::1]/",
                "NAT64 (no readable IPv4 address)",
            ),
            (
                "http://[64:ff9b:2::808:808]/",
                "NAT64 (no readable IPv4 address)",
            ),
            // 6to4.
            ("http://[2002:7f00:1::]/", "loopback"),
            ("http://[2002:c0a8:101::1]/", "private (RFC 1918)"),
            // Teredo: the server address, or the client address (bits inverted).
            ("http://[2001:0:7f00:1::]/", "loopback"),
            ("http://[2001:0:808:808:0:0:80ff:fffe]/", "loopback"),
            (
                "http://[2001:0000:0808:0808::f5ff:fffe]/",
                "private (RFC 1918)",
            ),
            // ISATAP interface identifiers under a global prefix.
            ("http://[2001:db9::5efe:7f00:1]/", "loopback"),
            ("http://[2600::200:5efe:a00:1]/", "private (RFC 1918)"),
            // Mapped and compatible, as before.
            ("http://[::ffff:127.0.0.1]/", "loopback"),
            ("http://[::10.0.0.1]/", "private (RFC 1918)"),
        ] {
            let refusal = guard
                .check_url(url)
                .expect_err(&format!("{url} was not refused"));
            assert!(
                refusal.to_string().ends_with(&format!("{reason} address")),
                "{url}: {refusal}"
            );
            // The same address met at dial time (a name resolving to it) is refused too.
            let host = url.trim_start_matches("http://[").trim_end_matches("]/");
            let ip: IpAddr = host.parse().unwrap();
            assert!(guard.check_resolved("hooks.example", ip).is_err(), "{url}");
        }
        // Embedded public addresses pass.
        for url in [
            "http://[64:ff9b::808:808]/",
            "http://[64:ff9b:1::808:808]/",
            "http://[2002:808:808::1]/",
            "http://[2001:0:808:808:0:0:f7f7:f7f7]/",
            "http://[2600::5efe:808:808]/",
            "http://[::ffff:0:808:808]/",
        ] {
            assert!(!refused(&guard, url), "{url} was refused");
        }
    }

    #[test]
    fn public_addresses_and_names_pass() {
        let guard = TargetGuard::default();
        for url in [
            "https://example.com/hook",
            "http://93.184.216.34/",
            "http://[2606:2800:220:1:248:1893:25c8:1946]/",
            "http://100.128.0.1/",
            "http://172.32.0.1/",
            "http://8.8.8.8:8080/",
        ] {
            assert!(!refused(&guard, url), "{url} was refused");
        }
        assert_eq!(
            guard.check_url("https://Example.COM./x"),
            Ok(HostCheck::Resolve {
                host: "example.com".into(),
                port: 443
            })
        );
    }

    #[test]
    fn the_allow_list_opens_ranges_addresses_and_names() {
        let guard =
            TargetGuard::from_allow_list("127.0.0.1, 10.1.0.0/16 ::1 hooks.internal *.svc.local")
                .unwrap();
        assert!(!refused(&guard, "http://127.0.0.1:9000/"));
        assert!(!refused(&guard, "http://[::ffff:127.0.0.1]/"));
        assert!(refused(&guard, "http://127.0.0.2/"));
        assert!(!refused(&guard, "http://10.1.200.3/"));
        assert!(refused(&guard, "http://10.2.0.1/"));
        assert!(!refused(&guard, "http://[::1]/"));
        assert_eq!(
            guard.check_url("http://hooks.internal/"),
            Ok(HostCheck::Done)
        );
        assert_eq!(
            guard.check_url("http://a.b.svc.local/"),
            Ok(HostCheck::Done)
        );
        assert!(
            guard
                .check_resolved("x.svc.local", "10.9.9.9".parse().unwrap())
                .is_ok()
        );
        assert!(
            guard
                .check_resolved("xsvc.local", "10.9.9.9".parse().unwrap())
                .is_err()
        );
        assert!(TargetGuard::from_allow_list("not a/host").is_err());
        assert!(TargetGuard::from_allow_list("10.0.0.0/33").is_err());
    }

    #[test]
    fn a_resolved_forbidden_address_is_refused_with_its_name() {
        let guard = TargetGuard::default();
        let refusal = guard
            .check_resolved("evil.example", "169.254.169.254".parse().unwrap())
            .unwrap_err();
        assert_eq!(
            refusal.to_string(),
            "evil.example resolves to 169.254.169.254, a link-local address"
        );
        assert_eq!(
            guard.check_url("http://[::1]/").unwrap_err().to_string(),
            "::1 is a loopback address"
        );
        assert_eq!(
            guard.check_url("http://0.0.0.0/").unwrap_err().to_string(),
            "0.0.0.0 is an unspecified address"
        );
    }
}
