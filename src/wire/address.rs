//! Network addresses: the 26-byte `version` / `addr` form and BIP155 `addrv2` entries.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::codec::{Reader, put_compact_size, put_var_bytes};
use super::error::{DecodeError, DecodeErrorKind};

/// Most entries in one addr or addrv2 message.
pub const MAX_ADDR: usize = 1000;
/// Longest address in an addrv2 entry (BIP155).
pub const MAX_ADDRV2_LEN: usize = 512;

/// Services, IPv6 (IPv4-mapped for IPv4) and port: the address form inside `version` and `addr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NetAddr {
    /// Service bits.
    pub services: u64,
    /// IPv6 bytes; IPv4 is `::ffff:a.b.c.d`.
    pub ip: [u8; 16],
    /// Port (big-endian on the wire).
    pub port: u16,
}

impl NetAddr {
    /// The address of a socket, with `services`.
    pub fn from_socket_addr(addr: SocketAddr, services: u64) -> NetAddr {
        let ip = match addr.ip() {
            IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
            IpAddr::V6(v6) => v6.octets(),
        };
        NetAddr {
            services,
            ip,
            port: addr.port(),
        }
    }

    /// The socket address (IPv4-mapped addresses come back as IPv4).
    pub fn socket_addr(&self) -> SocketAddr {
        let v6 = Ipv6Addr::from(self.ip);
        let ip = match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        };
        SocketAddr::new(ip, self.port)
    }

    pub(crate) fn read(r: &mut Reader<'_>, field: &'static str) -> Result<NetAddr, DecodeError> {
        Ok(NetAddr {
            services: r.u64_le(field)?,
            ip: r.array(field)?,
            port: r.u16_be(field)?,
        })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.services.to_le_bytes());
        out.extend_from_slice(&self.ip);
        out.extend_from_slice(&self.port.to_be_bytes());
    }
}

/// One entry of an `addr` message: last-seen time and address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedAddr {
    /// Last seen, seconds since the epoch.
    pub time: u32,
    /// The address.
    pub addr: NetAddr,
}

/// Length of one `addr` entry on the wire.
pub const TIMED_ADDR_LEN: usize = 30;

pub(crate) fn read_addr_list(r: &mut Reader<'_>) -> Result<Vec<TimedAddr>, DecodeError> {
    let n = r.count("addr.count", MAX_ADDR, TIMED_ADDR_LEN)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let time = r.u32_le("addr.time")?;
        let addr = NetAddr::read(r, "addr.address")?;
        out.push(TimedAddr { time, addr });
    }
    Ok(out)
}

pub(crate) fn write_addr_list(list: &[TimedAddr], out: &mut Vec<u8>) {
    put_compact_size(out, list.len() as u64);
    for a in list {
        out.extend_from_slice(&a.time.to_le_bytes());
        a.addr.write(out);
    }
}

/// A BIP155 address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AddrV2Address {
    /// Network id 1.
    Ipv4([u8; 4]),
    /// Network id 2.
    Ipv6([u8; 16]),
    /// Network id 3 (deprecated, still parsed).
    TorV2([u8; 10]),
    /// Network id 4.
    TorV3([u8; 32]),
    /// Network id 5.
    I2p([u8; 32]),
    /// Network id 6.
    Cjdns([u8; 16]),
    /// A network id BIP155 does not define: kept so the message re-encodes exactly.
    Unknown {
        /// The network id.
        network_id: u8,
        /// The address bytes.
        bytes: Vec<u8>,
    },
}

impl AddrV2Address {
    /// The BIP155 network id.
    pub fn network_id(&self) -> u8 {
        match self {
            AddrV2Address::Ipv4(_) => 1,
            AddrV2Address::Ipv6(_) => 2,
            AddrV2Address::TorV2(_) => 3,
            AddrV2Address::TorV3(_) => 4,
            AddrV2Address::I2p(_) => 5,
            AddrV2Address::Cjdns(_) => 6,
            AddrV2Address::Unknown { network_id, .. } => *network_id,
        }
    }

    /// The address bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            AddrV2Address::Ipv4(b) => b,
            AddrV2Address::Ipv6(b) | AddrV2Address::Cjdns(b) => b,
            AddrV2Address::TorV2(b) => b,
            AddrV2Address::TorV3(b) | AddrV2Address::I2p(b) => b,
            AddrV2Address::Unknown { bytes, .. } => bytes,
        }
    }

    /// The IP address, for the networks dashnet can dial (IPv4 and IPv6).
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            AddrV2Address::Ipv4(b) => Some(IpAddr::V4(Ipv4Addr::from(*b))),
            AddrV2Address::Ipv6(b) => Some(IpAddr::V6(Ipv6Addr::from(*b))),
            _ => None,
        }
    }

    pub(crate) fn from_parts(network_id: u8, bytes: &[u8]) -> Option<AddrV2Address> {
        fn arr<const N: usize>(b: &[u8]) -> Option<[u8; N]> {
            b.try_into().ok()
        }
        Some(match network_id {
            1 => AddrV2Address::Ipv4(arr(bytes)?),
            2 => AddrV2Address::Ipv6(arr(bytes)?),
            3 => AddrV2Address::TorV2(arr(bytes)?),
            4 => AddrV2Address::TorV3(arr(bytes)?),
            5 => AddrV2Address::I2p(arr(bytes)?),
            6 => AddrV2Address::Cjdns(arr(bytes)?),
            _ => AddrV2Address::Unknown {
                network_id,
                bytes: bytes.to_vec(),
            },
        })
    }
}

/// One entry of an `addrv2` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrV2Entry {
    /// Last seen, seconds since the epoch.
    pub time: u32,
    /// Service bits (a CompactSize on the wire).
    pub services: u64,
    /// The address.
    pub addr: AddrV2Address,
    /// Port.
    pub port: u16,
}

impl AddrV2Entry {
    /// The socket address, for IPv4 and IPv6 entries.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        self.addr.ip().map(|ip| SocketAddr::new(ip, self.port))
    }
}

// time + services + network id + length + port, with an empty address.
const MIN_ADDRV2_LEN: usize = 4 + 1 + 1 + 1 + 2;

pub(crate) fn read_addrv2_list(r: &mut Reader<'_>) -> Result<Vec<AddrV2Entry>, DecodeError> {
    let n = r.count("addrv2.count", MAX_ADDR, MIN_ADDRV2_LEN)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let time = r.u32_le("addrv2.time")?;
        let services = r.compact_size("addrv2.services")?;
        let network_id = r.u8("addrv2.network_id")?;
        let at = r.position();
        let bytes = r.var_bytes("addrv2.address", MAX_ADDRV2_LEN)?;
        let addr = AddrV2Address::from_parts(network_id, bytes).ok_or_else(|| {
            DecodeError::new(
                DecodeErrorKind::Invalid("address length does not match its network id"),
                "addrv2.address",
                at,
            )
        })?;
        let port = r.u16_be("addrv2.port")?;
        out.push(AddrV2Entry {
            time,
            services,
            addr,
            port,
        });
    }
    Ok(out)
}

pub(crate) fn write_addrv2_list(list: &[AddrV2Entry], out: &mut Vec<u8>) {
    put_compact_size(out, list.len() as u64);
    for e in list {
        out.extend_from_slice(&e.time.to_le_bytes());
        put_compact_size(out, e.services);
        out.push(e.addr.network_id());
        put_var_bytes(out, e.addr.bytes());
        out.extend_from_slice(&e.port.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_addr_round_trip() {
        for s in ["1.2.3.4:9999", "[2001:db8::1]:19999"] {
            let a: SocketAddr = s.parse().unwrap();
            assert_eq!(NetAddr::from_socket_addr(a, 1).socket_addr(), a);
        }
    }

    #[test]
    fn wrong_length_for_known_network_is_an_error() {
        // one entry: time, services 0, IPv4 id with a 5-byte address, port
        let bytes = [1, 0, 0, 0, 0, 0, 1, 5, 1, 2, 3, 4, 5, 0x27, 0x0f];
        let err = read_addrv2_list(&mut Reader::new(&bytes)).unwrap_err();
        assert_eq!(err.field, "addrv2.address");
    }
}
