//! Property tests: every message type round-trips; headers2 round-trips over awkward
//! chains; truncated or mutated vectors never panic the decoders.

mod support;

use dashnet::wire::{
    AddrV2Address, AddrV2Entry, BlockHeader, Command, FrameDecoder, Hash256, HashedHeader, Message,
    NetAddr, TimedAddr, decode_frame, frame::MAX_PAYLOAD_LEN, payloads::*,
};
use proptest::collection::vec;
use proptest::prelude::*;

fn hash() -> impl Strategy<Value = Hash256> {
    any::<[u8; 32]>().prop_map(Hash256)
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..=max)
}

fn header() -> impl Strategy<Value = BlockHeader> {
    (
        any::<i32>(),
        hash(),
        hash(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(
            |(version, prev_blockhash, merkle_root, time, bits, nonce)| BlockHeader {
                version,
                prev_blockhash,
                merkle_root,
                time,
                bits,
                nonce,
            },
        )
}

fn net_addr() -> impl Strategy<Value = NetAddr> {
    (any::<u64>(), any::<[u8; 16]>(), any::<u16>()).prop_map(|(services, ip, port)| NetAddr {
        services,
        ip,
        port,
    })
}

fn version() -> impl Strategy<Value = Version> {
    (
        (
            any::<u32>(),
            any::<u64>(),
            any::<i64>(),
            net_addr(),
            net_addr(),
        ),
        (any::<u64>(), bytes(256), any::<i32>()),
        (
            0..5usize,
            any::<bool>(),
            any::<[u8; 32]>(),
            any::<bool>(),
            vec(any::<u8>(), 1..20),
        ),
    )
        .prop_map(|(a, b, (tail, relay, challenge, mn, extra))| Version {
            version: a.0,
            services: a.1,
            timestamp: a.2,
            receiver: a.3,
            sender: a.4,
            nonce: b.0,
            user_agent: b.1,
            start_height: b.2,
            relay: (tail >= 1).then_some(relay),
            mn_auth_challenge: (tail >= 2).then_some(challenge),
            masternode_connection: (tail >= 3).then_some(mn),
            extra: if tail >= 4 { extra } else { Vec::new() },
        })
}

fn locator() -> impl Strategy<Value = Locator> {
    (any::<u32>(), vec(hash(), 0..=101), hash()).prop_map(|(version, hashes, stop)| Locator {
        version,
        hashes,
        stop,
    })
}

fn inventory() -> impl Strategy<Value = Vec<Inventory>> {
    vec(
        (any::<u32>(), hash()).prop_map(|(k, hash)| Inventory {
            kind: InvType(k),
            hash,
        }),
        0..50,
    )
}

fn addrv2_address() -> impl Strategy<Value = AddrV2Address> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(AddrV2Address::Ipv4),
        any::<[u8; 16]>().prop_map(AddrV2Address::Ipv6),
        any::<[u8; 10]>().prop_map(AddrV2Address::TorV2),
        any::<[u8; 32]>().prop_map(AddrV2Address::TorV3),
        any::<[u8; 32]>().prop_map(AddrV2Address::I2p),
        any::<[u8; 16]>().prop_map(AddrV2Address::Cjdns),
        (7u8.., bytes(512))
            .prop_map(|(network_id, bytes)| AddrV2Address::Unknown { network_id, bytes }),
    ]
}

/// A linked chain of `n` headers with versions drawn from `distinct` values, time
/// steps that sometimes leave the i16 range, and bits that sometimes change.
fn awkward_chain(max: usize) -> impl Strategy<Value = Vec<HashedHeader>> {
    vec(
        (
            0..12i32,
            -40_000i64..40_000,
            any::<bool>(),
            any::<u32>(),
            hash(),
            any::<bool>(),
        ),
        1..max,
    )
    .prop_map(|steps| {
        let mut out: Vec<HashedHeader> = Vec::new();
        let mut time = 1_600_000_000i64;
        let mut bits = 0x1d00_ffffu32;
        for (v, dt, new_bits, nonce, merkle, unlinked) in steps {
            time += dt;
            if new_bits {
                bits = bits.wrapping_add(nonce % 7);
            }
            let prev = match out.last() {
                Some(p) if !unlinked => p.hash(),
                _ => Hash256([nonce as u8; 32]),
            };
            out.push(HashedHeader::new(BlockHeader {
                version: 0x2000_0000 + v,
                prev_blockhash: prev,
                merkle_root: merkle,
                time: time as u32,
                bits,
                nonce,
            }));
        }
        out
    })
}

fn message() -> impl Strategy<Value = Message> {
    let simple = prop_oneof![
        Just(Message::Verack),
        Just(Message::GetAddr),
        Just(Message::SendAddrV2),
        Just(Message::SendHeaders),
        Just(Message::SendHeaders2),
        Just(Message::Mempool),
        Just(Message::FilterClear),
        any::<u64>().prop_map(Message::Ping),
        any::<u64>().prop_map(Message::Pong),
        any::<i64>().prop_map(Message::FeeFilter),
        any::<bool>().prop_map(Message::SendDsq),
        (any::<bool>(), any::<u64>())
            .prop_map(|(announce, version)| Message::SendCmpct(SendCmpct { announce, version })),
    ];
    let lists = prop_oneof![
        version().prop_map(Message::Version),
        vec(
            (any::<u32>(), net_addr()).prop_map(|(time, addr)| TimedAddr { time, addr }),
            0..40
        )
        .prop_map(Message::Addr),
        vec(
            (any::<u32>(), any::<u64>(), addrv2_address(), any::<u16>()).prop_map(
                |(time, services, addr, port)| AddrV2Entry {
                    time,
                    services,
                    addr,
                    port
                }
            ),
            0..20
        )
        .prop_map(Message::AddrV2),
        inventory().prop_map(Message::Inv),
        inventory().prop_map(Message::GetData),
        inventory().prop_map(Message::NotFound),
        locator().prop_map(Message::GetHeaders),
        locator().prop_map(Message::GetHeaders2),
        locator().prop_map(Message::GetBlocks),
        vec(header(), 0..30).prop_map(Message::Headers),
        awkward_chain(30).prop_map(Message::Headers2),
    ];
    let raw = prop_oneof![
        (header(), bytes(200)).prop_map(|(h, tail)| {
            let mut b = h.to_bytes().to_vec();
            b.extend(tail);
            Message::Block(RawBlock {
                header: h,
                bytes: b,
            })
        }),
        (header(), bytes(200)).prop_map(|(h, tail)| {
            let mut b = h.to_bytes().to_vec();
            b.extend(tail);
            Message::MerkleBlock(RawBlock {
                header: h,
                bytes: b,
            })
        }),
        bytes(300).prop_map(Message::Tx),
        bytes(300).prop_map(Message::MnListDiff),
        bytes(300).prop_map(Message::QrInfo),
        ("[a-z0-9]{1,12}", bytes(100)).prop_filter_map("a known command", |(name, payload)| {
            let command = Command::new(&name)?;
            let probe = Message::decode(&command, &payload);
            matches!(probe, Ok(Message::Unknown { .. }))
                .then_some(Message::Unknown { command, payload })
        }),
    ];
    let filters = prop_oneof![
        (bytes(1000), any::<u32>(), any::<u32>(), any::<u8>()).prop_map(
            |(filter, hash_funcs, tweak, flags)| Message::FilterLoad(FilterLoad {
                filter,
                hash_funcs,
                tweak,
                flags
            })
        ),
        bytes(520).prop_map(Message::FilterAdd),
        (bytes(12), any::<u8>(), bytes(111), bytes(40)).prop_map(
            |(message, code, reason, data)| Message::Reject(Reject {
                message,
                code,
                reason,
                data
            })
        ),
        (any::<u8>(), any::<u32>(), hash()).prop_map(|(filter_type, start_height, stop_hash)| {
            Message::GetCFilters(FilterRange {
                filter_type,
                start_height,
                stop_hash,
            })
        }),
        (any::<u8>(), any::<u32>(), hash()).prop_map(|(filter_type, start_height, stop_hash)| {
            Message::GetCFHeaders(FilterRange {
                filter_type,
                start_height,
                stop_hash,
            })
        }),
        (any::<u8>(), hash(), bytes(300)).prop_map(|(filter_type, block_hash, filter)| {
            Message::CFilter(CFilter {
                filter_type,
                block_hash,
                filter,
            })
        }),
        (any::<u8>(), hash(), hash(), vec(hash(), 0..40)).prop_map(|(t, s, p, f)| {
            Message::CFHeaders(CFHeaders {
                filter_type: t,
                stop_hash: s,
                previous_filter_header: p,
                filter_hashes: f,
            })
        }),
        (any::<u8>(), hash()).prop_map(|(filter_type, stop_hash)| Message::GetCFCheckpt(
            GetCFCheckpt {
                filter_type,
                stop_hash
            }
        )),
        (any::<u8>(), hash(), vec(hash(), 0..40)).prop_map(|(t, s, f)| Message::CFCheckpt(
            CFCheckpt {
                filter_type: t,
                stop_hash: s,
                filter_headers: f
            }
        )),
    ];
    let dash = prop_oneof![
        (hash(), hash()).prop_map(|(base_block_hash, block_hash)| Message::GetMnListDiff(
            GetMnListDiff {
                base_block_hash,
                block_hash
            }
        )),
        (vec(hash(), 0..10), hash(), any::<bool>()).prop_map(|(b, r, e)| Message::GetQrInfo(
            GetQrInfo {
                base_block_hashes: b,
                block_request_hash: r,
                extra_share: e
            }
        )),
        (any::<i32>(), hash(), vec(any::<u8>(), 96)).prop_map(|(height, block_hash, sig)| {
            Message::ClSig(ClSig {
                height,
                block_hash,
                sig: sig.try_into().unwrap(),
            })
        }),
        (
            any::<u8>(),
            vec((hash(), any::<u32>()), 0..10),
            hash(),
            hash(),
            vec(any::<u8>(), 96)
        )
            .prop_map(|(version, inputs, txid, cycle_hash, sig)| {
                Message::IsDLock(IsDLock {
                    version,
                    inputs: inputs
                        .into_iter()
                        .map(|(txid, index)| OutPoint { txid, index })
                        .collect(),
                    txid,
                    cycle_hash,
                    sig: sig.try_into().unwrap(),
                })
            }),
    ];
    prop_oneof![simple, lists, raw, filters, dash]
}

fn mutate(bytes: &[u8], cut: usize, flips: &[(usize, u8)]) -> Vec<u8> {
    let mut b = bytes[..cut.min(bytes.len())].to_vec();
    if !b.is_empty() {
        for (at, x) in flips {
            let i = at % b.len();
            b[i] ^= x;
        }
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_message_round_trips(msg in message()) {
        let magic = [0xfc, 0xc1, 0xb7, 0xdc];
        let frame = msg.to_frame(magic);
        let raw = decode_frame(&frame, magic, MAX_PAYLOAD_LEN).unwrap();
        prop_assert_eq!(raw.command, msg.command());
        let back = Message::from_raw(&raw).unwrap();
        prop_assert_eq!(&back, &msg);
        prop_assert_eq!(back.to_frame(magic), frame);
    }

    #[test]
    fn headers2_round_trips_awkward_chains(chain in awkward_chain(60)) {
        let distinct: std::collections::HashSet<i32> =
            chain.iter().map(|h| h.header().version).collect();
        let msg = Message::Headers2(chain.clone());
        let payload = msg.payload();
        let back = Message::decode(&msg.command(), &payload).unwrap();
        prop_assert_eq!(back, Message::Headers2(chain.clone()));
        // Compression actually happened when versions repeat.
        if chain.len() > 20 && distinct.len() < 8 {
            prop_assert!(payload.len() < chain.len() * 81);
        }
    }

    #[test]
    fn mutated_vectors_never_panic(
        which in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
        flips in vec((any::<usize>(), 1u8..), 0..6),
    ) {
        let vectors = vectors();
        let (_, bytes) = which.get(vectors);
        let magic: [u8; 4] = bytes[..4].try_into().unwrap();
        let cut_at = cut.index(bytes.len() + 1);
        let mutated = mutate(bytes, cut_at, &flips);
        // Whole-frame and streaming decoders.
        let _ = decode_frame(&mutated, magic, MAX_PAYLOAD_LEN);
        let mut d = FrameDecoder::new(magic, MAX_PAYLOAD_LEN);
        let mut input = &mutated[..];
        while !input.is_empty() {
            if d.decode(&mut input).is_err() {
                break;
            }
        }
        // The payload decoder, behind the checksum.
        if bytes.len() >= 24 {
            let command = Command::from_wire(bytes[4..16].try_into().unwrap()).unwrap();
            let payload = mutate(&bytes[24..], cut_at.saturating_sub(24), &flips);
            let _ = Message::decode(&command, &payload);
        }
    }

    #[test]
    fn random_bytes_never_panic_any_decoder(
        cmd in prop::sample::select(command_names()),
        payload in bytes(400),
    ) {
        let command = Command::new(cmd).unwrap();
        if let Ok(msg) = Message::decode(&command, &payload) {
            // Whatever decodes also re-encodes without panicking.
            let _ = msg.payload();
        }
    }
}

/// Every command with a typed decoder (the library's own list).
fn command_names() -> Vec<&'static str> {
    dashnet::wire::message::commands::ALL
        .iter()
        .map(|c| c.as_str())
        .collect()
}

fn vectors() -> &'static [(String, Vec<u8>)] {
    static V: std::sync::OnceLock<Vec<(String, Vec<u8>)>> = std::sync::OnceLock::new();
    V.get_or_init(support::all_hex_vectors)
}
