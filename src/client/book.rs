//! The address book: where to dial, fed by addr / addrv2 and DNS seeds, with backoff,
//! misbehaviour scores and bans. Pure bookkeeping: no I/O, no clock of its own (every
//! call takes `now`), so it is tested deterministically.
//!
//! Two clocks: schedules (backoff, bans in force, score decay) run on a monotonic clock
//! ([`MonoSecs`]), so a wall clock set backwards cannot stop dialing or stretch a ban;
//! only what is exported or gossiped (address times, ban expiry in the export) is in
//! wall-clock time ([`UnixSecs`]).
//!
//! Against eclipse attacks: addresses learned from gossip must be publicly routable
//! (except on regtest and devnets, where everything is local); gossip may hold at most
//! `per_netgroup` entries of one /16 (IPv4) or /32 (IPv6) and `per_source` entries from
//! one peer; gossip never evicts fresh entries other peers gave us (only stale ones, or
//! its own source's), and its timestamps are clamped to now, so a peer claiming "seen just
//! now" for everything cannot push the rest out. Dials pick distinct netgroups.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use rand::Rng;

use crate::wire::{AddrV2Entry, NetAddr, PeerAddr, TimedAddr};

/// Wall-clock times (address times, exported ban expiry): seconds since the Unix epoch.
pub type UnixSecs = u64;
/// Monotonic times (schedules): seconds since an arbitrary start, never going backwards.
pub type MonoSecs = f64;

/// Both clocks, read once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Now {
    /// The monotonic clock.
    pub mono: MonoSecs,
    /// The wall clock.
    pub wall: UnixSecs,
}

/// Gossiped entries older than this may be evicted by gossip from another peer.
const STALE: UnixSecs = 3 * 24 * 3600;

/// Entries claiming to be seen more than this far in the future are ignored.
const FUTURE_SLACK: UnixSecs = 10 * 60;
/// Entries not seen for this long are ignored (and evicted first).
const MAX_AGE: UnixSecs = 30 * 24 * 3600;
/// The longest ban an import restores (about 136 years).
const MAX_BAN_SECS: UnixSecs = u32::MAX as UnixSecs;
/// Misbehaviour scores halve every this long.
const SCORE_HALF_LIFE: UnixSecs = 3600;

/// One known address.
#[derive(Debug, Clone, PartialEq)]
pub struct BookEntry {
    /// Its services.
    pub services: u64,
    /// Last seen (by whoever told us), Unix seconds.
    pub last_seen: UnixSecs,
    /// The peer that told us (None: DNS, import, or the app).
    pub source: Option<u64>,
    /// Failed dials in a row.
    pub attempts: u32,
    /// Not to be dialed before this (monotonic) time.
    pub next_attempt: MonoSecs,
    /// `services` came from the peer's own version (a handshake), not from gossip: gossip
    /// no longer overwrites it, and 0 then means "serves nothing", not "unknown".
    pub services_known: bool,
}

/// Backoff and ban settings.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Most entries kept.
    pub capacity: usize,
    /// Most entries one peer may contribute.
    pub per_source: usize,
    /// Most entries gossip may put in one netgroup (/16 for IPv4, /32 for IPv6).
    pub per_netgroup: usize,
    /// First retry delay.
    pub backoff_initial: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// Misbehaviour score at which an address is banned.
    pub ban_threshold: u32,
    /// How long a ban lasts.
    pub ban_duration: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            capacity: 2048,
            per_source: 256,
            per_netgroup: 32,
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            ban_threshold: 100,
            ban_duration: Duration::from_secs(24 * 3600),
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Score {
    value: f64,
    at: MonoSecs,
}

/// The book.
#[derive(Debug)]
pub struct AddressBook {
    policy: Policy,
    entries: HashMap<PeerAddr, BookEntry>,
    per_source: HashMap<u64, usize>,
    per_group: HashMap<NetGroup, usize>,
    /// Scores and bans by host: the address with port 0 (an IP, or an overlay name).
    scores: HashMap<PeerAddr, Score>,
    bans: HashMap<PeerAddr, MonoSecs>,
    local_ok: bool,
}

/// True for IP addresses dashnet can dial (not unspecified or multicast, port set).
pub fn dialable(addr: &SocketAddr) -> bool {
    addr.port() != 0 && !addr.ip().is_unspecified() && !addr.ip().is_multicast()
}

/// True for peer addresses worth keeping: a dialable IP, or an overlay address (onion,
/// I2P, CJDNS: dialed only through a proxy that reaches it).
pub fn dialable_peer(addr: &PeerAddr) -> bool {
    match addr {
        PeerAddr::Ip(a) => dialable(a),
        PeerAddr::I2p { .. } => true, // I2P peers use port 0
        other => other.port() != 0,
    }
}

/// The key scores and bans are kept under: the host, without the port.
fn host_key(addr: PeerAddr) -> PeerAddr {
    match addr {
        PeerAddr::Ip(a) => PeerAddr::Ip(SocketAddr::new(a.ip().to_canonical(), 0)),
        PeerAddr::Onion { pubkey, .. } => PeerAddr::Onion { pubkey, port: 0 },
        PeerAddr::I2p { hash, .. } => PeerAddr::I2p { hash, port: 0 },
        PeerAddr::Cjdns { ip, .. } => PeerAddr::Cjdns { ip, port: 0 },
    }
}

/// True for addresses reachable on the public internet: not loopback, private (RFC 1918,
/// unique local), shared (100.64/10), link-local, documentation, benchmarking, reserved or
/// multicast.
pub fn routable(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => routable_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => routable_v4(v4),
            None => routable_v6(v6),
        },
    }
}

fn routable_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b))
        || (a == 198 && (b == 18 || b == 19))
        || (a == 192 && b == 0 && c == 0))
}

fn routable_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8)) // documentation
}

/// The group an address belongs to for diversity rules: its /16 (IPv4) or /32 (IPv6).
/// Where local addresses are allowed (regtest, devnets) a non-routable address is a group
/// of its own, since every node there is local.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NetGroup {
    /// An IPv4 /16.
    V4([u8; 2]),
    /// An IPv6 /32.
    V6([u8; 4]),
    /// A local address on a local network: no grouping.
    Local(SocketAddr),
    /// An overlay network (BIP155 id) and the top 4 bits of the address: 16 groups each,
    /// as Bitcoin Core groups them.
    Overlay(u8, u8),
}

/// The netgroup of `addr`; `local_ok` as in [`NetGroup::Local`].
pub fn netgroup(addr: &SocketAddr, local_ok: bool) -> NetGroup {
    if local_ok && !routable(addr.ip()) {
        return NetGroup::Local(*addr);
    }
    match addr.ip() {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            NetGroup::V4([o[0], o[1]])
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => {
                let o = v4.octets();
                NetGroup::V4([o[0], o[1]])
            }
            None => {
                let o = v6.octets();
                NetGroup::V6([o[0], o[1], o[2], o[3]])
            }
        },
    }
}

impl AddressBook {
    /// An empty book.
    pub fn new(policy: Policy) -> Self {
        AddressBook {
            policy,
            entries: HashMap::new(),
            per_source: HashMap::new(),
            per_group: HashMap::new(),
            scores: HashMap::new(),
            bans: HashMap::new(),
            local_ok: false,
        }
    }

    /// Allows local (non-routable) addresses from gossip and stops grouping them: for
    /// regtest and devnets, where every node is local. Off by default.
    pub fn set_local_ok(&mut self, ok: bool) {
        self.local_ok = ok;
    }

    /// The netgroup of `addr` under this book's rules.
    pub fn netgroup(&self, addr: impl Into<PeerAddr>) -> NetGroup {
        match addr.into() {
            PeerAddr::Ip(a) => netgroup(&a, self.local_ok),
            PeerAddr::Onion { pubkey, .. } => NetGroup::Overlay(4, pubkey[0] >> 4),
            PeerAddr::I2p { hash, .. } => NetGroup::Overlay(5, hash[0] >> 4),
            PeerAddr::Cjdns { ip, .. } => NetGroup::Overlay(6, ip[1] >> 4),
        }
    }

    /// The `source` key for addresses gossiped by a peer at `from`: its netgroup, so a
    /// peer that reconnects (a new id) or its neighbours in the same /16 share one
    /// `per_source` allowance.
    pub fn source_key(&self, from: impl Into<PeerAddr>) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.netgroup(from).hash(&mut h);
        h.finish()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry for `addr`.
    pub fn get(&self, addr: impl Into<PeerAddr>) -> Option<&BookEntry> {
        self.entries.get(&addr.into())
    }

    /// Adds or refreshes one address; returns true if the book changed. `source` is the
    /// peer that gossiped it (None: the app, an import, or a seed), `now` wall-clock time.
    pub fn add(
        &mut self,
        addr: impl Into<PeerAddr>,
        services: u64,
        last_seen: UnixSecs,
        source: Option<u64>,
        now: UnixSecs,
    ) -> bool {
        let addr = addr.into();
        if !dialable_peer(&addr) || last_seen > now + FUTURE_SLACK || last_seen + MAX_AGE < now {
            return false;
        }
        let gossip = source.is_some();
        if gossip && !self.local_ok && addr.ip().is_some_and(|a| !routable(a.ip())) {
            return false;
        }
        // Gossip cannot claim the future: "seen just now" is the most it may say.
        let last_seen = if gossip {
            last_seen.min(now)
        } else {
            last_seen
        };
        if let Some(e) = self.entries.get_mut(&addr) {
            if last_seen > e.last_seen {
                e.last_seen = last_seen;
                if !e.services_known {
                    e.services = services;
                }
                return true;
            }
            return false;
        }
        let group = self.netgroup(addr);
        if let Some(src) = source
            && (self.per_source.get(&src).copied().unwrap_or(0) >= self.policy.per_source
                || self.per_group.get(&group).copied().unwrap_or(0) >= self.policy.per_netgroup)
        {
            return false;
        }
        if self.entries.len() >= self.policy.capacity && !self.make_room(last_seen, source, now) {
            return false;
        }
        if let Some(src) = source {
            *self.per_source.entry(src).or_default() += 1;
        }
        *self.per_group.entry(group).or_default() += 1;
        self.entries.insert(
            addr,
            BookEntry {
                services,
                last_seen,
                source,
                attempts: 0,
                next_attempt: 0.0,
                services_known: false,
            },
        );
        true
    }

    /// Evicts one entry to make room for one seen at `than` from `source`; true if it did.
    /// The app, imports and seeds may evict the oldest entry older than theirs; gossip may
    /// evict only a stale entry, or the oldest of its own source's.
    fn make_room(&mut self, than: UnixSecs, source: Option<u64>, now: UnixSecs) -> bool {
        let victim = self
            .entries
            .iter()
            .filter(|(_, e)| match source {
                None => true,
                Some(src) => e.source == Some(src) || e.last_seen + STALE < now,
            })
            .min_by_key(|(_, e)| e.last_seen)
            .map(|(a, e)| (*a, e.last_seen));
        match victim {
            Some((addr, seen)) if seen < than => {
                self.remove(&addr);
                true
            }
            _ => false,
        }
    }

    fn remove(&mut self, addr: &PeerAddr) {
        let group = self.netgroup(*addr);
        if let Some(e) = self.entries.remove(addr) {
            if let Some(src) = e.source {
                decrement(&mut self.per_source, &src);
            }
            decrement(&mut self.per_group, &group);
        }
    }

    /// Drops what no longer matters: bans that have ended and scores decayed below half
    /// a point. The manager calls it as it goes, so the side maps stay as small as the
    /// misbehaviour in force (they grew for ever before: review C13).
    pub fn prune(&mut self, now: MonoSecs) {
        self.bans.retain(|_, until| *until > now);
        self.scores.retain(|_, s| {
            s.value * 0.5f64.powf((now - s.at).max(0.0) / SCORE_HALF_LIFE as f64) >= 0.5
        });
    }

    /// Adds the entries of an `addr` message from `source`; returns how many changed.
    pub fn add_addr(&mut self, list: &[TimedAddr], source: u64, now: UnixSecs) -> usize {
        list.iter()
            .filter(|a| {
                self.add(
                    a.addr.socket_addr(),
                    a.addr.services,
                    u64::from(a.time),
                    Some(source),
                    now,
                )
            })
            .count()
    }

    /// Adds the entries of an `addrv2` message from `source`: IP, TorV3, I2P and CJDNS
    /// (the overlay ones are dialed only through a proxy that reaches them).
    pub fn add_addrv2(&mut self, list: &[AddrV2Entry], source: u64, now: UnixSecs) -> usize {
        list.iter()
            .filter_map(|e| Some((PeerAddr::from_addrv2(e)?, e)))
            .filter(|(sa, e)| self.add(*sa, e.services, u64::from(e.time), Some(source), now))
            .count()
    }

    /// Records a failed dial: exponential backoff with jitter, capped. Never a ban.
    pub fn dial_failed(&mut self, addr: impl Into<PeerAddr>, now: MonoSecs) {
        let policy = self.policy;
        if let Some(e) = self.entries.get_mut(&addr.into()) {
            e.attempts = e.attempts.saturating_add(1);
            e.next_attempt = now + backoff(&policy, e.attempts);
        }
    }

    /// Records a successful handshake: the backoff starts over.
    pub fn dial_succeeded(&mut self, addr: impl Into<PeerAddr>, now: Now) {
        if let Some(e) = self.entries.get_mut(&addr.into()) {
            e.attempts = 0;
            e.next_attempt = 0.0;
            e.last_seen = e.last_seen.max(now.wall);
        }
    }

    /// After a connection ends: wait the initial backoff before dialing it again.
    pub fn connection_ended(&mut self, addr: impl Into<PeerAddr>, now: MonoSecs) {
        let policy = self.policy;
        if let Some(e) = self.entries.get_mut(&addr.into()) {
            e.next_attempt = now + backoff(&policy, e.attempts.max(1));
        }
    }

    /// Every address may be dialed again at once (network changed, resume).
    pub fn reset_backoff(&mut self) {
        for e in self.entries.values_mut() {
            e.attempts = 0;
            e.next_attempt = 0.0;
        }
    }

    /// Adds `points` to the score of `ip` (scores halve every hour); bans it at the
    /// threshold. Returns true if it is now banned.
    pub fn misbehaved(&mut self, who: impl Into<PeerAddr>, points: u32, now: MonoSecs) -> bool {
        let ip = host_key(who.into());
        let s = self.scores.entry(ip).or_default();
        let halvings = (now - s.at).max(0.0) / SCORE_HALF_LIFE as f64;
        s.value = s.value * 0.5f64.powf(halvings) + f64::from(points);
        s.at = now;
        if s.value >= f64::from(self.policy.ban_threshold) {
            let secs = self.policy.ban_duration.as_secs().clamp(1, MAX_BAN_SECS);
            self.bans.insert(ip, now + secs as f64);
            self.scores.remove(&ip);
            return true;
        }
        false
    }

    /// The current (decayed) score of `ip`.
    pub fn score(&self, who: impl Into<PeerAddr>, now: MonoSecs) -> f64 {
        self.scores.get(&host_key(who.into())).map_or(0.0, |s| {
            s.value * 0.5f64.powf((now - s.at).max(0.0) / SCORE_HALF_LIFE as f64)
        })
    }

    /// True while `ip` is banned.
    pub fn is_banned(&self, who: impl Into<PeerAddr>, now: MonoSecs) -> bool {
        self.bans
            .get(&host_key(who.into()))
            .is_some_and(|until| *until > now)
    }

    /// Number of bans in force.
    pub fn bans_in_force(&self, now: MonoSecs) -> usize {
        self.bans.values().filter(|u| **u > now).count()
    }

    /// What a peer's version said it serves (the handshake knows better than gossip).
    pub fn set_services(&mut self, addr: impl Into<PeerAddr>, services: u64) {
        if let Some(e) = self.entries.get_mut(&addr.into()) {
            e.services = services;
            e.services_known = true;
        }
    }

    /// Addresses due for a dial, excluding `skip` and banned IPs, at most one per netgroup
    /// and none in the netgroups of `groups_in_use` (the peers already connected or being
    /// dialed). Entries known to lack the `required` services are skipped (unknown
    /// services, 0, may be tried); those known to have them come first, then the fewest
    /// failures, then the most recently seen.
    pub fn due(
        &self,
        now: MonoSecs,
        skip: &dyn Fn(&PeerAddr) -> bool,
        groups_in_use: &HashSet<NetGroup>,
        required: u64,
        max: usize,
    ) -> Vec<PeerAddr> {
        let has = |e: &BookEntry| e.services & required == required;
        let mut v: Vec<(&PeerAddr, &BookEntry)> = self
            .entries
            .iter()
            .filter(|(a, e)| e.next_attempt <= now && !skip(a) && !self.is_banned(**a, now))
            // Unknown services (0 from gossip or an import) may be tried.
            .filter(|(_, e)| has(e) || (e.services == 0 && !e.services_known))
            .collect();
        v.sort_by(|a, b| {
            (
                !has(a.1),
                a.1.attempts,
                std::cmp::Reverse(a.1.last_seen),
                a.0,
            )
                .cmp(&(
                    !has(b.1),
                    b.1.attempts,
                    std::cmp::Reverse(b.1.last_seen),
                    b.0,
                ))
        });
        let mut groups = groups_in_use.clone();
        v.into_iter()
            .map(|(a, _)| *a)
            .filter(|a| groups.insert(self.netgroup(*a)))
            .take(max)
            .collect()
    }

    /// The earliest (monotonic) time an entry not yet due becomes due, for the dial timer.
    pub fn next_due(&self, now: MonoSecs, skip: &dyn Fn(&PeerAddr) -> bool) -> Option<MonoSecs> {
        let next_entry = self
            .entries
            .iter()
            .filter(|(a, e)| e.next_attempt > now && !skip(a))
            .map(|(_, e)| e.next_attempt)
            .fold(None, |m: Option<f64>, t| Some(m.map_or(t, |m| m.min(t))));
        let next_unban = self
            .bans
            .values()
            .filter(|u| **u > now)
            .copied()
            .fold(None, |m: Option<f64>, t| Some(m.map_or(t, |m| m.min(t))));
        match (next_entry, next_unban) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The book as bytes, for the app to keep between launches, bans included (so a
    /// peer banned for misbehaving stays banned after a restart), onion, I2P and CJDNS
    /// entries too: `"DNAB" | version 3 | count u32 LE | count x (address | port u16 BE |
    /// services u64 LE | last_seen u64 LE) | bans u32 LE | bans x (address |
    /// banned_until u64 LE)`, where an address is `BIP155 network id u8 | length u8 |
    /// bytes` and `banned_until` is wall-clock Unix seconds. Versions 1 and 2 (IP only,
    /// 16-byte IPv4-mapped addresses; version 1 without bans) still import.
    pub fn export(&self, now: Now) -> Vec<u8> {
        fn put_addr(out: &mut Vec<u8>, a: &PeerAddr) {
            let v2 = a.to_addrv2();
            out.push(v2.network_id());
            out.push(v2.bytes().len() as u8);
            out.extend_from_slice(v2.bytes());
        }
        let mut out = Vec::with_capacity(13 + self.entries.len() * 36 + self.bans.len() * 26);
        out.extend_from_slice(b"DNAB\x03");
        out.extend_from_slice(&(self.entries.len() as u32).to_le_bytes());
        let mut entries: Vec<_> = self.entries.iter().collect();
        entries.sort_by_key(|(a, _)| **a);
        for (addr, e) in entries {
            put_addr(&mut out, addr);
            out.extend_from_slice(&addr.port().to_be_bytes());
            out.extend_from_slice(&e.services.to_le_bytes());
            out.extend_from_slice(&e.last_seen.to_le_bytes());
        }
        let mut bans: Vec<(PeerAddr, UnixSecs)> = self
            .bans
            .iter()
            .filter(|(_, until)| **until > now.mono)
            .map(|(who, until)| {
                let left = (until - now.mono).round() as UnixSecs;
                (*who, now.wall.saturating_add(left))
            })
            .collect();
        bans.sort();
        out.extend_from_slice(&(bans.len() as u32).to_le_bytes());
        for (who, until) in bans {
            put_addr(&mut out, &who);
            out.extend_from_slice(&until.to_le_bytes());
        }
        out
    }

    /// Adds the entries (and, from version 2, the bans still in force) of an exported
    /// book; returns how many entries were added.
    pub fn import(&mut self, bytes: &[u8], now: Now) -> Result<usize, &'static str> {
        let (version, body) = match bytes.strip_prefix(b"DNAB") {
            Some([v @ 1..=3, rest @ ..]) => (*v, rest),
            _ => return Err("not a dashnet address book (bad magic or version)"),
        };
        let mut r = ImportReader(body);
        let count = r.u32()? as usize;
        // Every record takes at least 20 bytes: refuse a count the rest cannot hold
        // before allocating for it.
        if count > r.0.len() / 20 {
            return Err("length does not match the count");
        }
        let mut entries = Vec::with_capacity(count);
        for _ in 0..count {
            let addr = if version == 3 {
                r.addr()?
            } else {
                r.legacy_ip()?
            };
            let port = u16::from_be_bytes(r.take::<2>()?);
            let services = u64::from_le_bytes(r.take::<8>()?);
            let seen = u64::from_le_bytes(r.take::<8>()?);
            entries.push((addr.map(|a| with_port(a, port)), services, seen));
        }
        let mut bans = Vec::new();
        if version >= 2 {
            let n = r.u32()? as usize;
            if n > r.0.len() / 10 {
                return Err("length does not match the ban count");
            }
            for _ in 0..n {
                let who = if version == 3 {
                    r.addr()?
                } else {
                    r.legacy_ip()?
                };
                let until = u64::from_le_bytes(r.take::<8>()?);
                bans.push((who, until));
            }
        }
        if !r.0.is_empty() {
            return Err("trailing bytes after the last record");
        }
        let mut added = 0;
        for (addr, services, seen) in entries {
            // Networks this version does not know are skipped, not refused.
            if let Some(addr) = addr
                && self.add(addr, services, seen, None, now.wall)
            {
                added += 1;
            }
        }
        for (who, until) in bans {
            if let Some(who) = who
                && until > now.wall
            {
                // Longer than any ban could be (and beyond what f64 seconds hold exactly):
                // capped, so a hostile or corrupt file cannot overflow the clocks.
                let left = (until - now.wall).min(MAX_BAN_SECS);
                let until = now.mono + left as f64;
                let b = self.bans.entry(host_key(who)).or_insert(until);
                *b = b.max(until);
            }
        }
        Ok(added)
    }
}

fn with_port(a: PeerAddr, port: u16) -> PeerAddr {
    match a {
        PeerAddr::Ip(s) => PeerAddr::Ip(SocketAddr::new(s.ip(), port)),
        PeerAddr::Onion { pubkey, .. } => PeerAddr::Onion { pubkey, port },
        PeerAddr::I2p { hash, .. } => PeerAddr::I2p { hash, port },
        PeerAddr::Cjdns { ip, .. } => PeerAddr::Cjdns { ip, port },
    }
}

/// Reads an exported book.
struct ImportReader<'a>(&'a [u8]);

impl ImportReader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], &'static str> {
        let (head, rest) = self.0.split_first_chunk::<N>().ok_or("truncated record")?;
        self.0 = rest;
        Ok(*head)
    }

    fn u32(&mut self) -> Result<u32, &'static str> {
        Ok(u32::from_le_bytes(self.take::<4>()?))
    }

    /// A version 3 address (port 0): None for a network dashnet does not dial.
    fn addr(&mut self) -> Result<Option<PeerAddr>, &'static str> {
        let [net, len] = self.take::<2>()?;
        let (bytes, rest) = self
            .0
            .split_at_checked(len as usize)
            .ok_or("truncated address")?;
        self.0 = rest;
        Ok(PeerAddr::from_parts(net, bytes, 0))
    }

    /// A version 1 or 2 address: 16 bytes, IPv4-mapped for IPv4 (port 0).
    fn legacy_ip(&mut self) -> Result<Option<PeerAddr>, &'static str> {
        let ip = self.take::<16>()?;
        Ok(Some(PeerAddr::Ip(
            NetAddr {
                services: 0,
                ip,
                port: 0,
            }
            .socket_addr(),
        )))
    }
}

/// Counts one fewer under `key`, forgetting the key at zero.
fn decrement<K: std::hash::Hash + Eq>(map: &mut HashMap<K, usize>, key: &K) {
    if let Some(n) = map.get_mut(key) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            map.remove(key);
        }
    }
}

/// Delay before dial number `attempts + 1`: initial * 2^(attempts-1), capped, times a
/// jitter factor in [0.5, 1.5).
pub fn backoff(policy: &Policy, attempts: u32) -> f64 {
    let base =
        policy.backoff_initial.as_secs_f64() * 2f64.powi(attempts.saturating_sub(1).min(30) as i32);
    let capped = base.min(policy.backoff_max.as_secs_f64());
    capped * rand::rng().random_range(0.5..1.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: UnixSecs = 1_800_000_000;
    /// The monotonic clock at NOW (any value: it has no relation to the wall clock).
    const MONO: MonoSecs = 5_000.0;

    fn at(offset: u64) -> Now {
        Now {
            mono: MONO + offset as f64,
            wall: NOW + offset,
        }
    }

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn keeps_newest_dedups_and_ignores_bad_times() {
        let mut b = AddressBook::new(Policy::default());
        assert!(b.add(sa("1.2.3.4:9999"), 1, NOW - 100, None, NOW));
        assert!(!b.add(sa("1.2.3.4:9999"), 1, NOW - 200, None, NOW)); // older: no change
        assert!(b.add(sa("1.2.3.4:9999"), 5, NOW - 50, None, NOW)); // newer: refresh
        assert_eq!(b.get(sa("1.2.3.4:9999")).unwrap().services, 5);
        assert!(!b.add(sa("1.2.3.5:9999"), 1, NOW + 3600, None, NOW)); // far future
        assert!(!b.add(sa("1.2.3.6:9999"), 1, NOW - 40 * 86400, None, NOW)); // too old
        assert!(!b.add(sa("0.0.0.0:9999"), 1, NOW, None, NOW)); // not dialable
        assert!(!b.add(sa("1.2.3.7:0"), 1, NOW, None, NOW));
        assert_eq!(b.len(), 1);
    }

    #[test]
    fn one_source_cannot_flood_and_capacity_evicts_oldest() {
        let mut b = AddressBook::new(Policy {
            capacity: 10,
            per_source: 4,
            ..Policy::default()
        });
        for i in 0..20u8 {
            b.add(
                sa(&format!("20.0.0.{i}:9999")),
                1,
                NOW - 100 + u64::from(i),
                Some(7),
                NOW,
            );
        }
        assert_eq!(b.len(), 4);
        for i in 0..20u8 {
            b.add(
                sa(&format!("10.1.0.{i}:9999")),
                1,
                NOW - 50 + u64::from(i),
                None,
                NOW,
            );
        }
        assert_eq!(b.len(), 10);
        // The newest ten survive.
        assert!(b.get(sa("10.1.0.19:9999")).is_some());
        assert!(b.get(sa("20.0.0.0:9999")).is_none());
    }

    #[test]
    fn backoff_grows_with_jitter_and_caps() {
        let p = Policy::default();
        for attempts in 1..12 {
            let d = backoff(&p, attempts);
            let base = (2f64.powi(attempts as i32 - 1)).min(300.0);
            assert!(d >= base * 0.5 && d < base * 1.5, "{attempts}: {d}");
        }
    }

    #[test]
    fn scores_decay_and_ban_at_threshold() {
        let mut b = AddressBook::new(Policy::default());
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(!b.misbehaved(ip, 60, MONO));
        // An hour later the 60 has decayed to 30: another 60 makes 90, still no ban.
        assert!(!b.misbehaved(ip, 60, MONO + 3600.0));
        assert!((b.score(ip, MONO + 3600.0) - 90.0).abs() < 1e-6);
        assert!(b.misbehaved(ip, 60, MONO + 3600.0));
        assert!(b.is_banned(ip, MONO + 3601.0));
        assert!(!b.is_banned(ip, MONO + 3600.0 + 24.0 * 3600.0 + 1.0));
    }

    #[test]
    fn export_import_round_trip_and_bad_input() {
        let mut b = AddressBook::new(Policy::default());
        b.add(sa("1.2.3.4:9999"), 1, NOW - 10, None, NOW);
        b.add(sa("[2001:db8::7]:19999"), 0x800, NOW - 20, None, NOW);
        let bytes = b.export(at(0));
        let mut c = AddressBook::new(Policy::default());
        assert_eq!(c.import(&bytes, at(0)), Ok(2));
        assert_eq!(c.export(at(0)), bytes);
        assert!(c.import(b"nope", at(0)).is_err());
        assert!(c.import(&bytes[..bytes.len() - 1], at(0)).is_err());
        let mut huge = b"DNAB\x02".to_vec();
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(c.import(&huge, at(0)).is_err());
    }

    #[test]
    fn bans_survive_export_and_import_and_version_1_still_imports() {
        let mut b = AddressBook::new(Policy::default());
        b.add(sa("1.2.3.4:9999"), 1, NOW - 10, None, NOW);
        let bad: IpAddr = "5.6.7.8".parse().unwrap();
        let bad6: IpAddr = "2001:db8::9".parse().unwrap();
        assert!(b.misbehaved(bad, 100, MONO));
        assert!(b.misbehaved(bad6, 100, MONO));
        let bytes = b.export(at(0));
        // The expiry is exported in wall-clock time: a day after NOW.
        let until = u64::from_le_bytes(bytes[bytes.len() - 8..].try_into().unwrap());
        assert_eq!(until, NOW + 24 * 3600);
        // Imported after a restart a minute later, by a process whose monotonic clock
        // started elsewhere: banned for the rest of the day, no longer.
        let later = Now {
            mono: 7.0,
            wall: NOW + 60,
        };
        let mut c = AddressBook::new(Policy::default());
        assert_eq!(c.import(&bytes, later), Ok(1));
        assert!(c.is_banned(bad, 7.0) && c.is_banned(bad6, 7.0));
        assert!(c.is_banned(bad, 7.0 + 24.0 * 3600.0 - 61.0));
        assert!(!c.is_banned(bad, 7.0 + 24.0 * 3600.0 - 59.0));
        assert_eq!(c.export(later), bytes, "the same bytes after a round trip");
        // Expired by the time of the import: not restored.
        let mut d = AddressBook::new(Policy::default());
        d.import(&bytes, at(2 * 24 * 3600)).unwrap();
        assert!(!d.is_banned(bad, MONO + 2.0 * 24.0 * 3600.0));
        assert_eq!(d.bans_in_force(0.0), 0);
        // Versions 1 and 2 (IP only, 16-byte IPv4-mapped addresses; 1 without bans).
        let legacy = |version: u8, bans: bool| {
            let mut v = vec![b'D', b'N', b'A', b'B', version];
            v.extend_from_slice(&1u32.to_le_bytes());
            v.extend_from_slice(&NetAddr::from_socket_addr(sa("1.2.3.4:9999"), 1).ip);
            v.extend_from_slice(&9999u16.to_be_bytes());
            v.extend_from_slice(&1u64.to_le_bytes());
            v.extend_from_slice(&(NOW - 10).to_le_bytes());
            if bans {
                v.extend_from_slice(&1u32.to_le_bytes());
                v.extend_from_slice(&NetAddr::from_socket_addr(sa("5.6.7.8:0"), 0).ip);
                v.extend_from_slice(&(NOW + 3600).to_le_bytes());
            }
            v
        };
        let mut e = AddressBook::new(Policy::default());
        assert_eq!(e.import(&legacy(1, false), at(0)), Ok(1));
        assert!(e.get(sa("1.2.3.4:9999")).is_some());
        let mut f = AddressBook::new(Policy::default());
        assert_eq!(f.import(&legacy(2, true), at(0)), Ok(1));
        assert!(f.is_banned(bad, MONO + 3000.0) && !f.is_banned(bad, MONO + 3700.0));
        // A truncated ban section is refused.
        assert!(e.import(&bytes[..bytes.len() - 1], at(0)).is_err());
        assert!(e.import(&legacy(2, true)[..60], at(0)).is_err());
    }

    #[test]
    fn a_ban_until_the_end_of_time_imports_capped_and_exports_without_overflow() {
        // Found by the book_import fuzz target: an expiry of u64::MAX overflowed the
        // conversion from the monotonic clock back to wall-clock time on export.
        let mut bytes = b"DNAB\x02".to_vec();
        bytes.extend_from_slice(&0u32.to_le_bytes());
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(&NetAddr::from_socket_addr(sa("5.6.7.8:0"), 0).ip);
        bytes.extend_from_slice(&u64::MAX.to_le_bytes());
        let mut b = AddressBook::new(Policy::default());
        assert_eq!(b.import(&bytes, at(0)), Ok(0));
        assert!(b.is_banned("5.6.7.8".parse::<IpAddr>().unwrap(), MONO + 1e9));
        let out = b.export(at(0));
        let until = u64::from_le_bytes(out[out.len() - 8..].try_into().unwrap());
        assert_eq!(until, NOW + MAX_BAN_SECS);
        let mut c = AddressBook::new(Policy::default());
        c.import(&out, at(0)).unwrap();
        assert_eq!(c.export(at(0)), out, "stable after the cap");
    }

    #[test]
    fn schedules_ignore_the_wall_clock() {
        // Backoff and bans are in monotonic time: the wall clock is not an argument of
        // due() or is_banned(), so setting it back an hour changes nothing. What matters
        // is that time moving on the monotonic clock releases them.
        let mut b = AddressBook::new(Policy::default());
        let a = sa("1.2.3.4:9999");
        b.add(a, 1, NOW, None, NOW);
        b.dial_failed(a, MONO);
        let none = HashSet::new();
        assert!(b.due(MONO, &|_| false, &none, 0, 8).is_empty());
        let next = b.next_due(MONO, &|_| false).unwrap();
        assert!(next > MONO && next < MONO + 2.0, "{next}");
        assert_eq!(b.due(next, &|_| false, &none, 0, 8), vec![a]);
        assert!(b.misbehaved(a.ip(), 100, MONO));
        assert!(b.due(next, &|_| false, &none, 0, 8).is_empty(), "banned");
        let unban = b.next_due(next, &|_| false).unwrap();
        assert_eq!(unban, MONO + 24.0 * 3600.0);
        assert_eq!(b.due(unban, &|_| false, &none, 0, 8), vec![a]);
    }

    #[test]
    fn gossip_must_be_routable_except_on_local_networks() {
        let mut b = AddressBook::new(Policy::default());
        for local in [
            "127.0.0.1:9999",
            "10.1.2.3:9999",
            "172.16.0.1:9999",
            "192.168.1.1:9999",
            "169.254.1.1:9999",
            "100.64.0.1:9999",
            "[::1]:9999",
            "[fd00::1]:9999",
            "[fe80::1]:9999",
            "[::ffff:192.168.0.1]:9999",
        ] {
            assert!(!b.add(sa(local), 1, NOW, Some(1), NOW), "{local}");
            // The app (or an import, or a seed) may still add it.
            assert!(b.add(sa(local), 1, NOW, None, NOW), "{local}");
        }
        assert!(b.add(sa("1.2.3.4:9999"), 1, NOW, Some(1), NOW));
        assert!(b.add(sa("[2a01:4f8::1]:9999"), 1, NOW, Some(1), NOW));
        let mut r = AddressBook::new(Policy::default());
        r.set_local_ok(true);
        assert!(r.add(sa("127.0.0.1:9999"), 1, NOW, Some(1), NOW));
        // Locally, every address is its own group.
        assert_ne!(
            r.netgroup(sa("127.0.0.1:9999")),
            r.netgroup(sa("127.0.0.1:9998"))
        );
        assert_eq!(
            b.netgroup(sa("1.2.3.4:9999")),
            b.netgroup(sa("[::ffff:1.2.250.250]:1"))
        );
    }

    #[test]
    fn gossip_from_one_netgroup_or_one_peer_cannot_take_over() {
        let policy = Policy {
            capacity: 200,
            ..Policy::default()
        };
        let mut b = AddressBook::new(policy);
        // An honest book: 150 addresses in 150 netgroups, from 50 peers, an hour old.
        for i in 0..150u32 {
            let addr = sa(&format!("{}.{}.1.1:9999", 20 + i / 200, i % 200));
            assert!(b.add(addr, 1, NOW - 3600, Some(u64::from(i % 50)), NOW));
        }
        // One peer floods 10,000 addresses of one /16, "seen" ten minutes from now.
        let flood: Vec<AddrV2Entry> = (0..10_000u32)
            .map(|i| AddrV2Entry {
                time: (NOW + 500) as u32,
                services: 1,
                addr: crate::wire::AddrV2Address::Ipv4([45, 9, (i >> 8) as u8, i as u8]),
                port: 9999,
            })
            .collect();
        let added = b.add_addrv2(&flood, 999, NOW);
        assert_eq!(added, policy.per_netgroup);
        // Another floods 10,000 addresses across netgroups: its per-source share, and it
        // fills the free room only; nobody honest is evicted.
        let spread: Vec<AddrV2Entry> = (0..10_000u32)
            .map(|i| AddrV2Entry {
                time: (NOW + 500) as u32,
                services: 1,
                addr: crate::wire::AddrV2Address::Ipv4([
                    60 + (i % 100) as u8,
                    (i / 100) as u8,
                    0,
                    1,
                ]),
                port: 9999,
            })
            .collect();
        let added2 = b.add_addrv2(&spread, 998, NOW);
        assert_eq!(b.len(), 200);
        assert_eq!(added2, 200 - 150 - policy.per_netgroup);
        for i in 0..150u32 {
            let addr = sa(&format!("{}.{}.1.1:9999", 20 + i / 200, i % 200));
            assert!(b.get(addr).is_some(), "{addr} was pushed out");
        }
        // Clamped: no gossiped entry claims to be newer than now.
        assert!(b.entries.values().all(|e| e.last_seen <= NOW));
        // A flood of loopback and private addresses adds nothing.
        let local: Vec<AddrV2Entry> = (0..1000u32)
            .map(|i| AddrV2Entry {
                time: NOW as u32,
                services: 1,
                addr: crate::wire::AddrV2Address::Ipv4([
                    if i % 2 == 0 { 127 } else { 10 },
                    0,
                    (i >> 8) as u8,
                    i as u8,
                ]),
                port: 9999,
            })
            .collect();
        let mut fresh = AddressBook::new(Policy::default());
        assert_eq!(fresh.add_addrv2(&local, 5, NOW), 0);
        // Stale gossip can be replaced by fresh gossip from another peer.
        let mut s = AddressBook::new(Policy {
            capacity: 2,
            ..Policy::default()
        });
        assert!(s.add(sa("1.1.1.1:9999"), 1, NOW - 4 * 24 * 3600, Some(1), NOW));
        assert!(s.add(sa("2.2.2.2:9999"), 1, NOW - 60, Some(1), NOW));
        assert!(s.add(sa("3.3.3.3:9999"), 1, NOW, Some(2), NOW));
        assert!(s.get(sa("1.1.1.1:9999")).is_none());
        // Full of fresh entries: more gossip from peer 2 is refused, nothing evicted.
        assert!(!s.add(sa("4.4.4.4:9999"), 1, NOW, Some(2), NOW));
        assert!(s.get(sa("2.2.2.2:9999")).is_some());
    }

    #[test]
    fn onion_i2p_and_cjdns_entries_are_kept_exported_and_imported() {
        let entry = |addr: crate::wire::AddrV2Address, port: u16| AddrV2Entry {
            time: NOW as u32,
            services: 1,
            addr,
            port,
        };
        use crate::wire::AddrV2Address as A;
        let mut cj = [0u8; 16];
        cj[0] = 0xfc;
        cj[15] = 1;
        let list = vec![
            entry(A::TorV3([7; 32]), 9999),
            entry(A::I2p([8; 32]), 0),
            entry(A::Cjdns(cj), 9999),
            entry(A::TorV2([1; 10]), 9999), // Tor no longer serves v2: not kept
            entry(A::Ipv4([8, 8, 8, 8]), 9999),
        ];
        let mut b = AddressBook::new(Policy::default());
        assert_eq!(b.add_addrv2(&list, 1, NOW), 4);
        let onion = PeerAddr::Onion {
            pubkey: [7; 32],
            port: 9999,
        };
        assert!(b.get(onion).is_some());
        assert!(b.misbehaved(onion, 100, MONO));
        let bytes = b.export(at(0));
        let mut c = AddressBook::new(Policy::default());
        assert_eq!(c.import(&bytes, at(0)), Ok(4));
        assert!(c.is_banned(onion, MONO + 1.0));
        assert_eq!(c.export(at(0)), bytes);
        // A network this version does not know is skipped on import, not refused.
        let mut odd = b"DNAB\x03".to_vec();
        odd.extend_from_slice(&1u32.to_le_bytes());
        odd.extend_from_slice(&[9, 3, 1, 2, 3]);
        odd.extend_from_slice(&9999u16.to_be_bytes());
        odd.extend_from_slice(&[0; 16]);
        odd.extend_from_slice(&0u32.to_le_bytes());
        assert_eq!(
            AddressBook::new(Policy::default()).import(&odd, at(0)),
            Ok(0)
        );
        // The dialer's skip decides what is reachable: here, IP only.
        let picks = c.due(MONO, &|a| a.is_overlay(), &HashSet::new(), 0, 8);
        assert_eq!(picks, vec![PeerAddr::from(sa("8.8.8.8:9999"))]);
    }

    #[test]
    fn side_maps_shrink_back_as_scores_decay_bans_end_and_entries_go() {
        let mut b = AddressBook::new(Policy {
            capacity: 4,
            ..Policy::default()
        });
        for i in 0..50u8 {
            b.misbehaved(sa(&format!("20.0.{i}.1:1")), 10, MONO);
            b.misbehaved(sa(&format!("21.0.{i}.1:1")), 100, MONO); // banned
        }
        assert_eq!((b.scores.len(), b.bans.len()), (50, 50));
        b.prune(MONO + 3600.0); // 10 points decay to 5: kept; bans in force: kept
        assert_eq!((b.scores.len(), b.bans.len()), (50, 50));
        b.prune(MONO + 25.0 * 3600.0); // a day on: scores below half a point, bans over
        assert_eq!((b.scores.len(), b.bans.len()), (0, 0));
        // Gossip counters forget sources and netgroups whose entries are all gone: four
        // gossiped entries, then four newer ones from the app push them out.
        for i in 0..4u8 {
            let seen = NOW - 3600 + u64::from(i);
            assert!(b.add(
                sa(&format!("30.{i}.0.1:9999")),
                1,
                seen,
                Some(u64::from(i)),
                NOW
            ));
        }
        assert_eq!((b.per_source.len(), b.per_group.len()), (4, 4));
        for i in 0..4u8 {
            assert!(b.add(sa(&format!("31.{i}.0.1:9999")), 1, NOW, None, NOW));
        }
        assert_eq!(b.len(), 4);
        assert_eq!((b.per_source.len(), b.per_group.len()), (0, 4));
    }

    #[test]
    fn an_ipv4_host_in_ipv6_form_is_one_host_and_a_ban_for_ever_is_capped() {
        let mut b = AddressBook::new(Policy {
            ban_duration: Duration::MAX,
            ..Policy::default()
        });
        let mapped = AddrV2Entry {
            time: NOW as u32,
            services: 1,
            addr: crate::wire::AddrV2Address::Ipv6(
                "::ffff:1.2.3.4".parse::<Ipv6Addr>().unwrap().octets(),
            ),
            port: 9999,
        };
        assert_eq!(b.add_addrv2(&[mapped], 1, NOW), 0, "BIP155: invalid");
        assert!(b.misbehaved("1.2.3.4".parse::<IpAddr>().unwrap(), 100, MONO));
        assert!(b.is_banned(sa("[::ffff:1.2.3.4]:9999"), MONO + 1.0));
        assert!(b.add(sa("[::ffff:1.2.3.5]:9999"), 1, NOW, None, NOW));
        assert!(b.get(sa("1.2.3.5:9999")).is_some(), "stored as IPv4");
        // Duration::MAX as a ban: capped, so schedules stay finite.
        let next = b.next_due(MONO, &|_| false).unwrap();
        assert_eq!(next, MONO + MAX_BAN_SECS as f64);
    }

    #[test]
    fn services_from_a_handshake_beat_gossip_and_zero_then_means_none() {
        use crate::wire::network::services::{COMPACT_FILTERS, NETWORK};
        let mut b = AddressBook::new(Policy::default());
        let (a, z) = (sa("1.2.3.4:9999"), sa("5.6.7.8:9999"));
        b.add(a, 0, NOW - 100, None, NOW);
        b.add(z, 0, NOW - 100, None, NOW);
        let none = HashSet::new();
        // Unknown: both may be tried for COMPACT_FILTERS.
        assert_eq!(b.due(MONO, &|_| false, &none, COMPACT_FILTERS, 8).len(), 2);
        // Their versions said: a serves NETWORK only, z nothing at all.
        b.set_services(a, NETWORK);
        b.set_services(z, 0);
        assert!(
            b.due(MONO, &|_| false, &none, COMPACT_FILTERS, 8)
                .is_empty()
        );
        // Newer gossip claiming COMPACT_FILTERS does not override what the handshake said.
        assert!(b.add(a, NETWORK | COMPACT_FILTERS, NOW, Some(1), NOW));
        assert_eq!(b.get(a).unwrap().services, NETWORK);
        assert!(
            b.due(MONO, &|_| false, &none, COMPACT_FILTERS, 8)
                .is_empty()
        );
    }

    #[test]
    fn dials_pick_distinct_netgroups() {
        let mut b = AddressBook::new(Policy::default());
        for a in [
            "1.2.3.4:9999",
            "1.2.9.9:9999",
            "5.6.7.8:9999",
            "5.6.1.1:9999",
            "9.9.9.9:9999",
        ] {
            b.add(sa(a), 1, NOW, None, NOW);
        }
        let in_use: HashSet<NetGroup> = [b.netgroup(sa("9.9.1.1:1"))].into();
        let picks = b.due(MONO, &|_| false, &in_use, 0, 8);
        assert_eq!(picks.len(), 2, "{picks:?}");
        let groups: HashSet<NetGroup> = picks.iter().map(|a| b.netgroup(a)).collect();
        assert_eq!(groups.len(), 2);
        assert!(!groups.contains(&b.netgroup(sa("9.9.9.9:9999"))));
    }
}
