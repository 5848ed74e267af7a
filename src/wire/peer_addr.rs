//! Where a peer is: an IP socket address, or an overlay address (a Tor v3 onion service,
//! an I2P destination, a CJDNS node) that only a proxy can reach. Text forms:
//! `1.2.3.4:9999`, `[2001:db8::1]:9999`, `<56 base32 chars>.onion:9999`,
//! `<52 base32 chars>.b32.i2p:0`, `cjdns:[fc00::1]:9999`.

use std::fmt;
use std::net::{Ipv6Addr, SocketAddr};
use std::str::FromStr;

use sha3::{Digest, Sha3_256};

use super::address::{AddrV2Address, AddrV2Entry};

/// A peer's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PeerAddr {
    /// IPv4 or IPv6: dialed directly, or through the proxy when one is set.
    Ip(SocketAddr),
    /// A Tor v3 onion service: its ed25519 public key.
    Onion {
        /// The service's public key.
        pubkey: [u8; 32],
        /// The port.
        port: u16,
    },
    /// An I2P destination: the SHA-256 of it.
    I2p {
        /// The destination hash.
        hash: [u8; 32],
        /// The port.
        port: u16,
    },
    /// A CJDNS node (an address in fc00::/8).
    Cjdns {
        /// The address.
        ip: [u8; 16],
        /// The port.
        port: u16,
    },
}

const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// RFC 4648 base32, lowercase, without padding.
fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in bytes {
        acc = (acc << 8) | u32::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(BASE32[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(BASE32[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Decodes unpadded base32 (either case); None on a bad character or non-zero trailing bits.
fn unbase32(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = BASE32.iter().position(|x| *x == c.to_ascii_lowercase())? as u32;
        acc = (acc << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
        acc &= (1 << bits) - 1;
    }
    (acc == 0).then_some(out)
}

/// The two checksum bytes of a v3 onion address.
fn onion_checksum(pubkey: &[u8; 32]) -> [u8; 2] {
    let mut h = Sha3_256::new();
    h.update(b".onion checksum");
    h.update(pubkey);
    h.update([3u8]);
    let d = h.finalize();
    [d[0], d[1]]
}

impl PeerAddr {
    /// The port.
    pub fn port(&self) -> u16 {
        match self {
            PeerAddr::Ip(a) => a.port(),
            PeerAddr::Onion { port, .. }
            | PeerAddr::I2p { port, .. }
            | PeerAddr::Cjdns { port, .. } => *port,
        }
    }

    /// The IP socket address, for IP peers.
    pub fn ip(&self) -> Option<SocketAddr> {
        match self {
            PeerAddr::Ip(a) => Some(*a),
            _ => None,
        }
    }

    /// True for the addresses only a proxy can reach (onion, I2P, CJDNS).
    pub fn is_overlay(&self) -> bool {
        !matches!(self, PeerAddr::Ip(_))
    }

    /// True for a Tor onion service.
    pub fn is_onion(&self) -> bool {
        matches!(self, PeerAddr::Onion { .. })
    }

    /// The host part as a proxy takes it: a domain name for onion and I2P (never resolved
    /// here), the IP otherwise.
    pub fn host(&self) -> String {
        match self {
            PeerAddr::Ip(a) => a.ip().to_string(),
            PeerAddr::Onion { pubkey, .. } => {
                let mut b = pubkey.to_vec();
                b.extend_from_slice(&onion_checksum(pubkey));
                b.push(3);
                format!("{}.onion", base32(&b))
            }
            PeerAddr::I2p { hash, .. } => format!("{}.b32.i2p", base32(hash)),
            PeerAddr::Cjdns { ip, .. } => Ipv6Addr::from(*ip).to_string(),
        }
    }

    /// The address of an addrv2 entry, for the networks dashnet knows (not TorV2, which
    /// Tor no longer serves).
    pub fn from_addrv2(e: &AddrV2Entry) -> Option<PeerAddr> {
        let port = e.port;
        Some(match &e.addr {
            // BIP155: an IPv4 address in IPv6 form is invalid (it would dodge a ban and
            // double an entry).
            AddrV2Address::Ipv6(b) if std::net::Ipv6Addr::from(*b).to_ipv4_mapped().is_some() => {
                return None;
            }
            AddrV2Address::Ipv4(_) | AddrV2Address::Ipv6(_) => PeerAddr::Ip(e.socket_addr()?),
            AddrV2Address::TorV3(k) => PeerAddr::Onion { pubkey: *k, port },
            AddrV2Address::I2p(h) => PeerAddr::I2p { hash: *h, port },
            AddrV2Address::Cjdns(ip) if ip[0] == 0xfc => PeerAddr::Cjdns { ip: *ip, port },
            _ => return None,
        })
    }

    /// The BIP155 form (network id and bytes).
    pub fn to_addrv2(&self) -> AddrV2Address {
        match self {
            PeerAddr::Ip(a) => match a.ip() {
                std::net::IpAddr::V4(v4) => AddrV2Address::Ipv4(v4.octets()),
                std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                    Some(v4) => AddrV2Address::Ipv4(v4.octets()),
                    None => AddrV2Address::Ipv6(v6.octets()),
                },
            },
            PeerAddr::Onion { pubkey, .. } => AddrV2Address::TorV3(*pubkey),
            PeerAddr::I2p { hash, .. } => AddrV2Address::I2p(*hash),
            PeerAddr::Cjdns { ip, .. } => AddrV2Address::Cjdns(*ip),
        }
    }

    /// The address for a BIP155 network id, address bytes and port; None for networks
    /// dashnet does not dial or bytes of the wrong length.
    pub fn from_parts(network_id: u8, bytes: &[u8], port: u16) -> Option<PeerAddr> {
        let e = AddrV2Entry {
            time: 0,
            services: 0,
            addr: AddrV2Address::from_parts(network_id, bytes)?,
            port,
        };
        PeerAddr::from_addrv2(&e)
    }
}

/// An IPv4 address in IPv6 form (`::ffff:a.b.c.d`) becomes plain IPv4: one host, one key.
impl From<SocketAddr> for PeerAddr {
    fn from(a: SocketAddr) -> PeerAddr {
        PeerAddr::Ip(SocketAddr::new(a.ip().to_canonical(), a.port()))
    }
}

impl From<&SocketAddr> for PeerAddr {
    fn from(a: &SocketAddr) -> PeerAddr {
        PeerAddr::from(*a)
    }
}

impl From<&PeerAddr> for PeerAddr {
    fn from(a: &PeerAddr) -> PeerAddr {
        *a
    }
}

/// An IP host (port 0): how scores and bans name a host.
impl From<std::net::IpAddr> for PeerAddr {
    fn from(ip: std::net::IpAddr) -> PeerAddr {
        PeerAddr::Ip(SocketAddr::new(ip, 0))
    }
}

impl PartialEq<SocketAddr> for PeerAddr {
    fn eq(&self, other: &SocketAddr) -> bool {
        *self == PeerAddr::Ip(*other)
    }
}

impl fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerAddr::Ip(a) => write!(f, "{a}"),
            PeerAddr::Cjdns { port, .. } => write!(f, "cjdns:[{}]:{port}", self.host()),
            _ => write!(f, "{}:{}", self.host(), self.port()),
        }
    }
}

/// Why a peer address did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerAddrError(pub String);

impl fmt::Display for PeerAddrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PeerAddrError {}

impl FromStr for PeerAddr {
    type Err = PeerAddrError;

    fn from_str(s: &str) -> Result<PeerAddr, PeerAddrError> {
        let bad = |why: &str| PeerAddrError(format!("{s:?}: {why}"));
        if let Ok(a) = s.parse::<SocketAddr>() {
            return Ok(PeerAddr::Ip(a));
        }
        let (host, port) = s.rsplit_once(':').ok_or_else(|| bad("no port"))?;
        let port: u16 = port.parse().map_err(|_| bad("bad port"))?;
        let lower = host.to_ascii_lowercase();
        if let Some(name) = lower.strip_suffix(".onion") {
            if name.len() != 56 {
                return Err(bad("an onion name has 56 characters (v3)"));
            }
            let b = unbase32(name).ok_or_else(|| bad("not base32"))?;
            let pubkey: [u8; 32] = b[..32].try_into().map_err(|_| bad("short key"))?;
            if b.len() != 35 || b[34] != 3 {
                return Err(bad("not a v3 onion address"));
            }
            if b[32..34] != onion_checksum(&pubkey) {
                return Err(bad("onion checksum mismatch"));
            }
            return Ok(PeerAddr::Onion { pubkey, port });
        }
        if let Some(name) = lower.strip_suffix(".b32.i2p") {
            let b = unbase32(name).ok_or_else(|| bad("not base32"))?;
            let hash: [u8; 32] = b
                .try_into()
                .map_err(|_| bad("an I2P b32 name is 52 characters"))?;
            return Ok(PeerAddr::I2p { hash, port });
        }
        if let Some(rest) = lower.strip_prefix("cjdns:") {
            let ip: std::net::SocketAddrV6 = format!("{rest}:{port}")
                .parse()
                .map_err(|_| bad("cjdns:[IPv6]:PORT"))?;
            let ip = ip.ip().octets();
            if ip[0] != 0xfc {
                return Err(bad("a CJDNS address is in fc00::/8"));
            }
            return Ok(PeerAddr::Cjdns { ip, port });
        }
        Err(bad(
            "not IP:PORT, [IPv6]:PORT, NAME.onion:PORT, NAME.b32.i2p:PORT or cjdns:[IPv6]:PORT",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_round_trips() {
        for n in 0..40u8 {
            let b: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37)).collect();
            assert_eq!(unbase32(&base32(&b)).unwrap(), b);
        }
        assert_eq!(base32(b"foobar"), "mzxw6ytboi"); // RFC 4648's vector, lowercase
    }

    #[test]
    fn onion_names_round_trip_and_checksums_are_checked() {
        let a = PeerAddr::Onion {
            pubkey: [7; 32],
            port: 9999,
        };
        let text = a.to_string();
        assert!(
            text.ends_with(".onion:9999") && text.len() == 56 + 6 + 5,
            "{text}"
        );
        assert_eq!(text.parse::<PeerAddr>(), Ok(a));
        assert_eq!(
            text.to_uppercase()
                .replace("ONION", "onion")
                .parse::<PeerAddr>(),
            Ok(a)
        );
        let mut broken = text.clone().into_bytes();
        broken[3] = if broken[3] == b'a' { b'b' } else { b'a' };
        let err = String::from_utf8(broken)
            .unwrap()
            .parse::<PeerAddr>()
            .unwrap_err();
        assert!(err.0.contains("checksum"), "{err}");
    }

    #[test]
    fn real_onion_and_i2p_names_from_core_tests_parse_and_print_back() {
        // Names used in Bitcoin Core's and Dash Core's functional tests: the onion
        // checksum check passes only if the SHA3 checksum is computed as Tor does.
        for text in [
            "pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion:8333",
            "udhdrtrcetjm5sxzskjyr5ztpeszydbh4dpl3pl4utgqqw2v4jna.b32.i2p:0",
        ] {
            let a: PeerAddr = text.parse().unwrap();
            assert!(a.is_overlay());
            assert_eq!(a.to_string(), text);
            let e = AddrV2Entry {
                time: 0,
                services: 0,
                addr: a.to_addrv2(),
                port: a.port(),
            };
            assert_eq!(PeerAddr::from_addrv2(&e), Some(a));
        }
    }

    #[test]
    fn other_forms_parse() {
        assert_eq!(
            "1.2.3.4:9999".parse::<PeerAddr>(),
            Ok(PeerAddr::Ip("1.2.3.4:9999".parse().unwrap()))
        );
        let i2p = PeerAddr::I2p {
            hash: [9; 32],
            port: 0,
        };
        assert_eq!(i2p.to_string().parse::<PeerAddr>(), Ok(i2p));
        let cj = PeerAddr::Cjdns {
            ip: Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 1).octets(),
            port: 9999,
        };
        assert_eq!(cj.to_string(), "cjdns:[fc00::1]:9999");
        assert_eq!(cj.to_string().parse::<PeerAddr>(), Ok(cj));
        for bad in [
            "x.onion:1",
            "nope",
            "1.2.3.4",
            "cjdns:[2001::1]:1",
            "abc.b32.i2p:1",
        ] {
            assert!(bad.parse::<PeerAddr>().is_err(), "{bad}");
        }
    }
}
