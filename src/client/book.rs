//! The address book: where to dial, fed by addr / addrv2 and DNS seeds, with backoff,
//! misbehaviour scores and bans. Pure bookkeeping: no I/O, no clock of its own (every
//! call takes `now`), so it is tested deterministically.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use rand::Rng;

use crate::wire::{AddrV2Entry, NetAddr, TimedAddr};

/// Times in the book are seconds since the Unix epoch.
pub type UnixSecs = u64;

/// Entries claiming to be seen more than this far in the future are ignored.
const FUTURE_SLACK: UnixSecs = 10 * 60;
/// Entries not seen for this long are ignored (and evicted first).
const MAX_AGE: UnixSecs = 30 * 24 * 3600;
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
    /// Not to be dialed before this time (Unix seconds, fractional).
    pub next_attempt: f64,
}

/// Backoff and ban settings.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Most entries kept.
    pub capacity: usize,
    /// Most entries one peer may contribute.
    pub per_source: usize,
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
    at: UnixSecs,
}

/// The book.
#[derive(Debug)]
pub struct AddressBook {
    policy: Policy,
    entries: HashMap<SocketAddr, BookEntry>,
    per_source: HashMap<u64, usize>,
    scores: HashMap<IpAddr, Score>,
    bans: HashMap<IpAddr, UnixSecs>,
}

/// True for addresses dashnet can dial (IPv4 and IPv6, not unspecified, port set).
pub fn dialable(addr: &SocketAddr) -> bool {
    addr.port() != 0 && !addr.ip().is_unspecified() && !addr.ip().is_multicast()
}

impl AddressBook {
    /// An empty book.
    pub fn new(policy: Policy) -> Self {
        AddressBook {
            policy,
            entries: HashMap::new(),
            per_source: HashMap::new(),
            scores: HashMap::new(),
            bans: HashMap::new(),
        }
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
    pub fn get(&self, addr: &SocketAddr) -> Option<&BookEntry> {
        self.entries.get(addr)
    }

    /// Adds or refreshes one address; returns true if the book changed.
    pub fn add(
        &mut self,
        addr: SocketAddr,
        services: u64,
        last_seen: UnixSecs,
        source: Option<u64>,
        now: UnixSecs,
    ) -> bool {
        if !dialable(&addr) || last_seen > now + FUTURE_SLACK || last_seen + MAX_AGE < now {
            return false;
        }
        if let Some(e) = self.entries.get_mut(&addr) {
            if last_seen > e.last_seen {
                e.last_seen = last_seen;
                e.services = services;
                return true;
            }
            return false;
        }
        if let Some(src) = source
            && self.per_source.get(&src).copied().unwrap_or(0) >= self.policy.per_source
        {
            return false;
        }
        if self.entries.len() >= self.policy.capacity && !self.evict_older_than(last_seen) {
            return false;
        }
        if let Some(src) = source {
            *self.per_source.entry(src).or_default() += 1;
        }
        self.entries.insert(
            addr,
            BookEntry {
                services,
                last_seen,
                source,
                attempts: 0,
                next_attempt: 0.0,
            },
        );
        true
    }

    /// Removes the oldest entry if it is older than `than`; true if room was made.
    fn evict_older_than(&mut self, than: UnixSecs) -> bool {
        let Some((addr, e)) = self
            .entries
            .iter()
            .min_by_key(|(_, e)| e.last_seen)
            .map(|(a, e)| (*a, e.clone()))
        else {
            return false;
        };
        if e.last_seen >= than {
            return false;
        }
        self.remove(&addr);
        true
    }

    fn remove(&mut self, addr: &SocketAddr) {
        if let Some(e) = self.entries.remove(addr)
            && let Some(src) = e.source
            && let Some(n) = self.per_source.get_mut(&src)
        {
            *n = n.saturating_sub(1);
        }
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

    /// Adds the dialable entries of an `addrv2` message from `source`.
    pub fn add_addrv2(&mut self, list: &[AddrV2Entry], source: u64, now: UnixSecs) -> usize {
        list.iter()
            .filter_map(|e| Some((e.socket_addr()?, e)))
            .filter(|(sa, e)| self.add(*sa, e.services, u64::from(e.time), Some(source), now))
            .count()
    }

    /// Records a failed dial: exponential backoff with jitter, capped. Never a ban.
    pub fn dial_failed(&mut self, addr: &SocketAddr, now: f64) {
        let policy = self.policy;
        if let Some(e) = self.entries.get_mut(addr) {
            e.attempts = e.attempts.saturating_add(1);
            e.next_attempt = now + backoff(&policy, e.attempts);
        }
    }

    /// Records a successful handshake: the backoff starts over.
    pub fn dial_succeeded(&mut self, addr: &SocketAddr, now: UnixSecs) {
        if let Some(e) = self.entries.get_mut(addr) {
            e.attempts = 0;
            e.next_attempt = 0.0;
            e.last_seen = e.last_seen.max(now);
        }
    }

    /// After a connection ends: wait the initial backoff before dialing it again.
    pub fn connection_ended(&mut self, addr: &SocketAddr, now: f64) {
        let policy = self.policy;
        if let Some(e) = self.entries.get_mut(addr) {
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
    pub fn misbehaved(&mut self, ip: IpAddr, points: u32, now: UnixSecs) -> bool {
        let s = self.scores.entry(ip).or_default();
        let halvings = now.saturating_sub(s.at) as f64 / SCORE_HALF_LIFE as f64;
        s.value = s.value * 0.5f64.powf(halvings) + f64::from(points);
        s.at = now;
        if s.value >= f64::from(self.policy.ban_threshold) {
            self.bans
                .insert(ip, now + self.policy.ban_duration.as_secs().max(1));
            self.scores.remove(&ip);
            return true;
        }
        false
    }

    /// The current (decayed) score of `ip`.
    pub fn score(&self, ip: IpAddr, now: UnixSecs) -> f64 {
        self.scores.get(&ip).map_or(0.0, |s| {
            s.value * 0.5f64.powf(now.saturating_sub(s.at) as f64 / SCORE_HALF_LIFE as f64)
        })
    }

    /// True while `ip` is banned.
    pub fn is_banned(&self, ip: IpAddr, now: UnixSecs) -> bool {
        self.bans.get(&ip).is_some_and(|until| *until > now)
    }

    /// Number of bans in force.
    pub fn bans_in_force(&self, now: UnixSecs) -> usize {
        self.bans.values().filter(|u| **u > now).count()
    }

    /// Addresses due for a dial, oldest attempt first, excluding `skip` and banned IPs.
    pub fn due(&self, now: f64, skip: &dyn Fn(&SocketAddr) -> bool, max: usize) -> Vec<SocketAddr> {
        let unix = now as UnixSecs;
        let mut v: Vec<(&SocketAddr, &BookEntry)> = self
            .entries
            .iter()
            .filter(|(a, e)| e.next_attempt <= now && !skip(a) && !self.is_banned(a.ip(), unix))
            .collect();
        // Fewest failures first, then the most recently seen.
        v.sort_by(|a, b| {
            (a.1.attempts, std::cmp::Reverse(a.1.last_seen))
                .cmp(&(b.1.attempts, std::cmp::Reverse(b.1.last_seen)))
        });
        v.into_iter().take(max).map(|(a, _)| *a).collect()
    }

    /// The earliest time an entry not yet due becomes due (for the dial timer).
    pub fn next_due(&self, now: f64, skip: &dyn Fn(&SocketAddr) -> bool) -> Option<f64> {
        let unix = now as UnixSecs;
        let next_entry = self
            .entries
            .iter()
            .filter(|(a, e)| e.next_attempt > now && !skip(a))
            .map(|(_, e)| e.next_attempt)
            .fold(None, |m: Option<f64>, t| Some(m.map_or(t, |m| m.min(t))));
        let next_unban = self
            .bans
            .values()
            .filter(|u| **u > unix)
            .map(|u| *u as f64)
            .fold(None, |m: Option<f64>, t| Some(m.map_or(t, |m| m.min(t))));
        match (next_entry, next_unban) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The book as bytes, for the app to keep between launches, bans included (so a
    /// peer banned for misbehaving stays banned after a restart):
    /// `"DNAB" | version 2 | count u32 LE | count x (ip[16] | port u16 BE | services u64 LE |
    /// last_seen u64 LE) | bans u32 LE | bans x (ip[16] | banned_until u64 LE)`.
    /// IPv4 addresses are IPv4-mapped IPv6. Version 1 (no ban section) still imports.
    pub fn export(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(13 + self.entries.len() * 34 + self.bans.len() * 24);
        out.extend_from_slice(b"DNAB\x02");
        out.extend_from_slice(&(self.entries.len() as u32).to_le_bytes());
        let mut entries: Vec<_> = self.entries.iter().collect();
        entries.sort_by_key(|(a, _)| **a);
        for (addr, e) in entries {
            let na = NetAddr::from_socket_addr(*addr, e.services);
            out.extend_from_slice(&na.ip);
            out.extend_from_slice(&na.port.to_be_bytes());
            out.extend_from_slice(&e.services.to_le_bytes());
            out.extend_from_slice(&e.last_seen.to_le_bytes());
        }
        let mut bans: Vec<_> = self.bans.iter().collect();
        bans.sort();
        out.extend_from_slice(&(bans.len() as u32).to_le_bytes());
        for (ip, until) in bans {
            let na = NetAddr::from_socket_addr(SocketAddr::new(*ip, 0), 0);
            out.extend_from_slice(&na.ip);
            out.extend_from_slice(&until.to_le_bytes());
        }
        out
    }

    /// Adds the entries (and, from version 2, the bans still in force) of an exported
    /// book; returns how many entries were added.
    pub fn import(&mut self, bytes: &[u8], now: UnixSecs) -> Result<usize, &'static str> {
        let (version, body) = match bytes.strip_prefix(b"DNAB") {
            Some([1, rest @ ..]) => (1, rest),
            Some([2, rest @ ..]) => (2, rest),
            _ => return Err("not a dashnet address book (bad magic or version)"),
        };
        let (count, body) = body.split_first_chunk::<4>().ok_or("truncated count")?;
        let count = u32::from_le_bytes(*count) as usize;
        let entries_len = count.checked_mul(34).ok_or("count overflows")?;
        let (records, mut rest) = body
            .split_at_checked(entries_len)
            .ok_or("length does not match the count")?;
        let mut bans = Vec::new();
        if version == 2 {
            let (n, tail) = rest.split_first_chunk::<4>().ok_or("truncated ban count")?;
            let n = u32::from_le_bytes(*n) as usize;
            if tail.len() != n.checked_mul(24).ok_or("ban count overflows")? {
                return Err("length does not match the ban count");
            }
            for rec in tail.chunks_exact(24) {
                let mut ip = [0u8; 16];
                ip.copy_from_slice(&rec[..16]);
                let until = u64::from_le_bytes(rec[16..24].try_into().map_err(|_| "bad ban")?);
                let ip = NetAddr {
                    services: 0,
                    ip,
                    port: 0,
                }
                .socket_addr()
                .ip();
                bans.push((ip, until));
            }
            rest = &[];
        }
        if !rest.is_empty() {
            return Err("length does not match the count");
        }
        let mut added = 0;
        for rec in records.chunks_exact(34) {
            let mut ip = [0u8; 16];
            ip.copy_from_slice(&rec[..16]);
            let port = u16::from_be_bytes([rec[16], rec[17]]);
            let services = u64::from_le_bytes(rec[18..26].try_into().map_err(|_| "bad record")?);
            let seen = u64::from_le_bytes(rec[26..34].try_into().map_err(|_| "bad record")?);
            let addr = NetAddr { services, ip, port }.socket_addr();
            if self.add(addr, services, seen, None, now) {
                added += 1;
            }
        }
        for (ip, until) in bans {
            if until > now {
                let b = self.bans.entry(ip).or_insert(until);
                *b = (*b).max(until);
            }
        }
        Ok(added)
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

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn keeps_newest_dedups_and_ignores_bad_times() {
        let mut b = AddressBook::new(Policy::default());
        assert!(b.add(sa("1.2.3.4:9999"), 1, NOW - 100, None, NOW));
        assert!(!b.add(sa("1.2.3.4:9999"), 1, NOW - 200, None, NOW)); // older: no change
        assert!(b.add(sa("1.2.3.4:9999"), 5, NOW - 50, None, NOW)); // newer: refresh
        assert_eq!(b.get(&sa("1.2.3.4:9999")).unwrap().services, 5);
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
                sa(&format!("10.0.0.{i}:9999")),
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
        assert!(b.get(&sa("10.1.0.19:9999")).is_some());
        assert!(b.get(&sa("10.0.0.0:9999")).is_none());
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
        assert!(!b.misbehaved(ip, 60, NOW));
        // An hour later the 60 has decayed to 30: another 60 makes 90, still no ban.
        assert!(!b.misbehaved(ip, 60, NOW + 3600));
        assert!((b.score(ip, NOW + 3600) - 90.0).abs() < 1e-6);
        assert!(b.misbehaved(ip, 60, NOW + 3600));
        assert!(b.is_banned(ip, NOW + 3601));
        assert!(!b.is_banned(ip, NOW + 3600 + 24 * 3600 + 1));
    }

    #[test]
    fn export_import_round_trip_and_bad_input() {
        let mut b = AddressBook::new(Policy::default());
        b.add(sa("1.2.3.4:9999"), 1, NOW - 10, None, NOW);
        b.add(sa("[2001:db8::7]:19999"), 0x800, NOW - 20, None, NOW);
        let bytes = b.export();
        let mut c = AddressBook::new(Policy::default());
        assert_eq!(c.import(&bytes, NOW), Ok(2));
        assert_eq!(c.export(), bytes);
        assert!(c.import(b"nope", NOW).is_err());
        assert!(c.import(&bytes[..bytes.len() - 1], NOW).is_err());
        let mut huge = b"DNAB\x02".to_vec();
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(c.import(&huge, NOW).is_err());
    }

    #[test]
    fn bans_survive_export_and_import_and_version_1_still_imports() {
        let mut b = AddressBook::new(Policy::default());
        b.add(sa("1.2.3.4:9999"), 1, NOW - 10, None, NOW);
        let bad: IpAddr = "5.6.7.8".parse().unwrap();
        let bad6: IpAddr = "2001:db8::9".parse().unwrap();
        assert!(b.misbehaved(bad, 100, NOW));
        assert!(b.misbehaved(bad6, 100, NOW));
        let bytes = b.export();
        let mut c = AddressBook::new(Policy::default());
        assert_eq!(c.import(&bytes, NOW + 60), Ok(1));
        assert!(c.is_banned(bad, NOW + 60) && c.is_banned(bad6, NOW + 60));
        assert_eq!(c.export(), bytes, "the same bytes after a round trip");
        // Expired by the time of the import: not restored.
        let mut d = AddressBook::new(Policy::default());
        d.import(&bytes, NOW + 2 * 24 * 3600).unwrap();
        assert!(!d.is_banned(bad, NOW + 2 * 24 * 3600));
        // A version 1 book: entries only.
        let mut v1 = b"DNAB\x01".to_vec();
        v1.extend_from_slice(&1u32.to_le_bytes());
        v1.extend_from_slice(&bytes[9..9 + 34]);
        let mut e = AddressBook::new(Policy::default());
        assert_eq!(e.import(&v1, NOW), Ok(1));
        // A truncated ban section is refused.
        assert!(e.import(&bytes[..bytes.len() - 1], NOW).is_err());
    }
}
