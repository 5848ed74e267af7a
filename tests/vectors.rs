//! Every vector from the independent implementations decodes and re-encodes byte for byte.

mod support;

use dashnet::wire::{
    FrameDecoder, FrameError, HashedHeader, Message, Network, RawMessage, decode_frame,
    frame::MAX_PAYLOAD_LEN, header, x11,
};
use support::*;

fn magic_of(bytes: &[u8]) -> [u8; 4] {
    bytes[..4].try_into().unwrap()
}

const MALFORMED: &str = "dashcore-p2p-js/version-messagenofrelay.hex";

#[test]
fn every_vector_round_trips_byte_for_byte() {
    let known = [
        Network::Mainnet.magic(),
        Network::Testnet.magic(),
        Network::Regtest.magic(),
    ];
    let mut checked = 0;
    for (name, bytes) in all_hex_vectors() {
        if name == MALFORMED {
            continue;
        }
        let magic = magic_of(&bytes);
        assert!(known.contains(&magic), "{name}: unexpected magic");
        let raw = decode_frame(&bytes, magic, MAX_PAYLOAD_LEN)
            .unwrap_or_else(|e| panic!("{name}: frame: {e}"));
        let msg = Message::from_raw(&raw).unwrap_or_else(|e| panic!("{name}: payload: {e}"));
        assert_eq!(msg.command(), raw.command, "{name}");
        assert_eq!(msg.to_frame(magic), bytes, "{name}: re-encoding differs");
        checked += 1;
    }
    // 81 vector files: 80 well-formed, 1 malformed on purpose (checked below).
    assert_eq!(checked, 80, "vectors checked");
}

/// Exactly which commands the external vectors cover, split by how far they prove our codec:
/// decoded into typed fields and re-encoded, carried as opaque bytes (framing only), or
/// passed through as unknown. The README's coverage sentence is this list; a vector added or
/// removed fails here until both are updated.
#[test]
fn the_vectors_cover_exactly_these_commands() {
    use std::collections::BTreeSet;
    let (mut typed, mut opaque, mut unknown) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    for (name, bytes) in all_hex_vectors() {
        if name == MALFORMED {
            continue;
        }
        let raw = decode_frame(&bytes, magic_of(&bytes), MAX_PAYLOAD_LEN).unwrap();
        let cmd = raw.command.as_str().to_string();
        match Message::from_raw(&raw).unwrap() {
            Message::Unknown { .. } => unknown.insert(cmd),
            Message::Tx(_) | Message::MnListDiff(_) => opaque.insert(cmd),
            _ => typed.insert(cmd),
        };
    }
    let list = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(" ");
    assert_eq!(
        list(&typed),
        "addr block cfcheckpt cfheaders cfilter clsig filteradd filterclear filterload getaddr \
         getblocks getcfcheckpt getcfheaders getcfilters getdata getheaders getheaders2 headers \
         headers2 inv isdlock mempool merkleblock notfound ping pong reject sendaddrv2 \
         sendheaders2 verack version"
    );
    assert_eq!(list(&opaque), "mnlistdiff tx");
    assert_eq!(list(&unknown), "alert dsq getmnlistdif ix ssc");
}

#[test]
fn malformed_version_gives_the_described_error() {
    // Declared length 101, payload 100.
    let bytes = vector(MALFORMED);
    let err = decode_frame(&bytes, magic_of(&bytes), MAX_PAYLOAD_LEN).unwrap_err();
    assert_eq!(
        err,
        FrameError::Truncated {
            needed: 24 + 101,
            available: 24 + 100
        }
    );
    // Streaming, the decoder waits for the missing byte rather than inventing it.
    let mut d = FrameDecoder::new(magic_of(&bytes), MAX_PAYLOAD_LEN);
    let mut input = &bytes[..];
    assert_eq!(d.decode(&mut input), Ok(None));
    assert!(input.is_empty());
    assert_eq!(d.buffered(), bytes.len());
}

#[test]
fn unknown_commands_pass_through() {
    for (name, cmd) in [
        ("dashcore-p2p-js/getmnlistdiff.hex", "getmnlistdif"),
        ("dashcore-p2p-js/ix.hex", "ix"),
        ("dashcore-p2p-js/alert.hex", "alert"),
        ("dashcore-p2p-js/ssc.hex", "ssc"),
        ("dashcore-p2p-js/dsq.hex", "dsq"),
    ] {
        let bytes = vector(name);
        let raw = decode_frame(&bytes, magic_of(&bytes), MAX_PAYLOAD_LEN).unwrap();
        match Message::from_raw(&raw).unwrap() {
            Message::Unknown { command, payload } => {
                assert_eq!(command.as_str(), cmd);
                assert_eq!(payload, raw.payload);
            }
            other => panic!("{name}: expected Unknown, got {other:?}"),
        }
    }
}

fn decode_vector(rel: &str) -> Message {
    let bytes = vector(rel);
    let raw = decode_frame(&bytes, magic_of(&bytes), MAX_PAYLOAD_LEN).unwrap();
    Message::from_raw(&raw).unwrap()
}

#[test]
fn headers2_2000_matches_the_chain_and_re_encodes() {
    let chain = regtest_chain();
    assert_eq!(chain.len(), 2001);
    let Message::Headers2(headers) =
        decode_vector("dashcore-test-framework/regtest-headers2-1-2000-const.hex")
    else {
        panic!("not headers2");
    };
    assert_eq!(headers.len(), 2000);
    for (h, (height, hash, header)) in headers.iter().zip(&chain[1..]) {
        assert_eq!(h.header(), header, "header at height {height}");
        assert_eq!(h.hash(), *hash, "hash at height {height}");
    }
    // Our encoder, from the chain's headers, gives Dash Core's bytes.
    let from_chain: Vec<HashedHeader> = chain[1..]
        .iter()
        .map(|(_, hash, h)| HashedHeader::from_trusted_parts(*h, *hash))
        .collect();
    let bytes = vector("dashcore-test-framework/regtest-headers2-1-2000-const.hex");
    assert_eq!(
        Message::Headers2(from_chain).to_frame(Network::Regtest.magic()),
        bytes
    );
    // The uncompressed vector carries the same headers.
    let Message::Headers(plain) =
        decode_vector("dashcore-test-framework/regtest-headers-1-2000-const.hex")
    else {
        panic!("not headers");
    };
    assert!(plain.iter().zip(&headers).all(|(a, b)| a == b.header()));
}

#[test]
fn regtest_chain_hashes_pow_and_links() {
    let chain = regtest_chain();
    let hashed: Vec<HashedHeader> = chain
        .iter()
        .map(|(height, hash, h)| {
            assert_eq!(h.block_hash(), *hash, "X11 at height {height}");
            HashedHeader::new(*h)
        })
        .collect();
    assert_eq!(Some(chain[0].1), Network::Regtest.genesis_hash());
    header::validate_headers(&hashed, None, Network::Regtest.pow_limit_bits()).unwrap();
    // A nonce change breaks proof of work; a reordering breaks linkage.
    let mut bad = chain[5].2;
    bad.nonce ^= 1;
    let mut hits = 0;
    for n in 0..8u32 {
        let mut h = bad;
        h.nonce = bad.nonce.wrapping_add(n);
        if h.check_pow(Network::Regtest.pow_limit_bits()).is_err() {
            hits += 1;
        }
    }
    assert!(
        hits > 0,
        "regtest target is 1/2 of hashes: some nonces must fail"
    );
    let mut swapped = hashed[1..4].to_vec();
    swapped.swap(0, 1);
    assert!(header::check_linkage(&swapped, None).is_err());
    // Mainnet's limit is far harder than regtest headers.
    assert!(
        chain[1]
            .2
            .check_pow(Network::Mainnet.pow_limit_bits())
            .is_err()
    );
}

#[test]
fn headers2_small_vectors_match_their_chains() {
    let Message::Headers2(h) = decode_vector("rust-dashcore/mainnet-headers2-4.hex") else {
        panic!("not headers2");
    };
    let text =
        std::fs::read_to_string(vectors_dir().join("rust-dashcore/mainnet-headers2-4.chain.txt"))
            .unwrap();
    let expected: Vec<Vec<u8>> = text
        .lines()
        .map(|l| hex::decode(l.trim()).unwrap())
        .collect();
    assert_eq!(h.len(), 4);
    for (got, want) in h.iter().zip(&expected) {
        assert_eq!(&got.header().to_bytes()[..], &want[..]);
    }
    assert_eq!(Some(h[0].hash()), Network::Mainnet.genesis_hash());
    // The 10-header regtest vectors (Dash Core's and the JS package's) agree.
    let Message::Headers2(ten) =
        decode_vector("dashcore-test-framework/regtest-headers2-1-10-const.hex")
    else {
        panic!("not headers2");
    };
    let Message::Headers(plain) = decode_vector("dashcore-p2p-js/regtest-headers-1-10-const.hex")
    else {
        panic!("not headers");
    };
    assert!(ten.iter().map(|h| *h.header()).eq(plain));
}

#[test]
fn x11_vector() {
    let text = std::fs::read_to_string(vectors_dir().join("rust-dashcore/x11.tsv")).unwrap();
    let mut n = 0;
    for line in text.lines().skip(1) {
        let (header, hash) = line.split_once('\t').unwrap();
        assert_eq!(x11(&hex::decode(header).unwrap()).to_display_hex(), hash);
        n += 1;
    }
    assert_eq!(n, 1);
}

#[test]
fn version_fields_decode_as_described() {
    let Message::Version(v) =
        decode_vector("dashcore-test-framework/regtest-version-fixed-dashcore-style.hex")
    else {
        panic!("not version");
    };
    assert_eq!(v.version, 70235);
    assert_eq!(v.services, 0x801);
    assert_eq!(v.timestamp, 1_700_000_000);
    assert_eq!(v.nonce, 0x0807_0605_0403_0201);
    assert_eq!(v.user_agent, b"/dash-oracle-py:0.1/");
    assert_eq!(v.start_height, 2000);
    assert_eq!(v.relay, Some(true));
    assert_eq!(v.mn_auth_challenge, Some([0x11; 32]));
    assert_eq!(v.masternode_connection, Some(false));

    let Message::Version(b) =
        decode_vector("dashcore-test-framework/regtest-version-fixed-bitcoinstyle.hex")
    else {
        panic!("not version");
    };
    assert_eq!(
        (b.relay, b.mn_auth_challenge, b.masternode_connection),
        (Some(true), None, None)
    );

    let Message::Version(m) = decode_vector("rust-dashcore/mainnet-version-70237.hex") else {
        panic!("not version");
    };
    assert_eq!(m.version, 70237);
    assert_eq!(m.receiver.socket_addr().to_string(), "1.2.3.4:9999");
    assert_eq!(m.receiver.services, 1);
    assert_eq!(m.sender.socket_addr().to_string(), "127.0.0.1:0");
    assert_eq!(m.nonce, 0x1122_3344_5566_7788);
    assert_eq!(m.user_agent_lossy(), "/test:0.1/");
    assert_eq!(m.relay, Some(false));
    assert_eq!(m.mn_auth_challenge, Some([0; 32]));
}

#[test]
fn locators_and_pings_decode_as_described() {
    let Message::GetHeaders2(l) = decode_vector("rust-dashcore/mainnet-getheaders2-genesis.hex")
    else {
        panic!("not getheaders2");
    };
    assert_eq!(l.version, 70237);
    assert_eq!(l.hashes, vec![Network::Mainnet.genesis_hash().unwrap()]);
    assert_eq!(l.stop, Default::default());
    assert_eq!(
        decode_vector("dashcore-test-framework/regtest-pong-0102030405060708.hex"),
        Message::Pong(0x0807_0605_0403_0201)
    );
}

#[test]
fn byte_at_a_time_equals_all_at_once() {
    let vectors = all_hex_vectors();
    for magic in [Network::Mainnet.magic(), Network::Regtest.magic()] {
        let stream: Vec<u8> = vectors
            .iter()
            .filter(|(name, b)| name != MALFORMED && magic_of(b) == magic)
            .flat_map(|(_, b)| b.clone())
            .collect();
        let all = frames(&stream, magic, stream.len());
        let one = frames(&stream, magic, 1);
        let odd = frames(&stream, magic, 7);
        assert!(all.len() > 10);
        assert_eq!(all, one);
        assert_eq!(all, odd);
    }
}

fn frames(stream: &[u8], magic: [u8; 4], chunk: usize) -> Vec<RawMessage> {
    let mut d = FrameDecoder::new(magic, MAX_PAYLOAD_LEN);
    let mut out = Vec::new();
    for piece in stream.chunks(chunk) {
        let mut input = piece;
        while !input.is_empty() {
            if let Some(f) = d.decode(&mut input).unwrap() {
                out.push(f);
            }
        }
    }
    assert_eq!(d.buffered(), 0);
    out
}

/// BIP157 filter headers against BIP158's test vectors (Bitcoin Core's
/// src/test/data/blockfilters.json, testnet blocks 0 and 2: the encoded basic filter, the
/// previous filter header and the filter header, in display hex). The header rule is the
/// same on Dash: SHA256d(SHA256d(filter) || previous header).
#[test]
fn filter_headers_match_bip158_vectors() {
    use dashnet::wire::Hash256;
    use dashnet::wire::payloads::{CFHeaders, CFilter, filter_hash, filter_header};
    let h = |s: &str| Hash256::from_display_hex(s).unwrap();
    let cases = [
        (
            "019dfca8",
            "0000000000000000000000000000000000000000000000000000000000000000",
            "21584579b7eb08997773e5aeff3a7f932700042d0ed2a6129012b7d7ae81b750",
        ),
        (
            "0174a170",
            "d7bdac13a59d745b1add0d2ce852f1a0442e8945fc1bf3848d3cbffd88c24fe1",
            "186afd11ef2b5e7e3504f2e8cbf8df28a1fd251fe53d60dff8b1467d1b386cf0",
        ),
    ];
    for (filter, prev, want) in cases {
        let filter = hex::decode(filter).unwrap();
        assert_eq!(filter_header(&filter_hash(&filter), &h(prev)), h(want));
        let cf = CFilter {
            filter_type: 0,
            block_hash: Hash256::default(),
            filter,
        };
        assert_eq!(cf.header(&h(prev)), h(want));
    }
    // A cfheaders reply chains from its previous header through its hashes.
    let hashes: Vec<Hash256> = ["019dfca8", "0174a170"]
        .iter()
        .map(|f| filter_hash(&hex::decode(f).unwrap()))
        .collect();
    let reply = CFHeaders {
        filter_type: 0,
        stop_hash: Hash256::default(),
        previous_filter_header: Hash256::default(),
        filter_hashes: hashes.clone(),
    };
    let chain = reply.filter_headers();
    assert_eq!(chain[0], h(cases[0].2));
    assert_eq!(chain[1], filter_header(&hashes[1], &chain[0]));
}

/// The fields of one line of `dashcore-tf-messages/fields.tsv`.
fn tf_fields(file: &str) -> std::collections::HashMap<String, String> {
    let text =
        std::fs::read_to_string(vectors_dir().join("dashcore-tf-messages/fields.tsv")).unwrap();
    let line = text
        .lines()
        .find(|l| l.split('\t').next() == Some(file))
        .unwrap_or_else(|| panic!("{file} not in fields.tsv"));
    line.split('\t')
        .skip(1)
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect()
}

#[test]
fn compact_filter_and_finality_vectors_decode_to_their_fields() {
    use dashnet::wire::Hash256;
    use dashnet::wire::payloads::{FilterCheckError, filter_hash};
    let wire = |f: &std::collections::HashMap<String, String>, k: &str| {
        let b = hex::decode(&f[k]).unwrap();
        Hash256(b.try_into().unwrap())
    };
    let msg = |file: &str| decode_vector(&format!("dashcore-tf-messages/{file}"));

    let f = tf_fields("getcfilters.hex");
    let Message::GetCFilters(r) = msg("getcfilters.hex") else {
        panic!("getcfilters")
    };
    assert_eq!(r.filter_type.to_string(), f["filter_type"]);
    assert_eq!(r.start_height.to_string(), f["start_height"]);
    assert_eq!(r.stop_hash, wire(&f, "stop_hash_wire"));

    let f = tf_fields("getcfheaders.hex");
    let Message::GetCFHeaders(r) = msg("getcfheaders.hex") else {
        panic!("getcfheaders")
    };
    assert_eq!((r.filter_type, r.start_height), (0, 0));
    assert_eq!(r.stop_hash, wire(&f, "stop_hash_wire"));
    assert_eq!(r.stop_hash.to_string(), f["stop_hash_display"]);

    let f = tf_fields("getcfcheckpt.hex");
    let Message::GetCFCheckpt(g) = msg("getcfcheckpt.hex") else {
        panic!("getcfcheckpt")
    };
    assert_eq!(g.stop_hash, wire(&f, "stop_hash_wire"));

    let f = tf_fields("cfilter.hex");
    let Message::CFilter(cf) = msg("cfilter.hex") else {
        panic!("cfilter")
    };
    assert_eq!(cf.block_hash, wire(&f, "block_hash_wire"));
    assert_eq!(hex::encode(&cf.filter), f["filter_data"]);

    let f = tf_fields("cfcheckpt.hex");
    let Message::CFCheckpt(cp) = msg("cfcheckpt.hex") else {
        panic!("cfcheckpt")
    };
    assert_eq!(cp.filter_headers.len().to_string(), f["count"]);
    assert_eq!(cp.filter_headers[0], wire(&f, "header[0]_wire"));
    assert_eq!(cp.filter_headers[1], wire(&f, "header[1]_wire"));

    let f = tf_fields("clsig.hex");
    let Message::ClSig(c) = msg("clsig.hex") else {
        panic!("clsig")
    };
    assert_eq!(c.height.to_string(), f["height"]);
    assert_eq!(c.block_hash, wire(&f, "block_hash_wire"));
    assert_eq!(hex::encode(c.sig), f["sig"]);

    let f = tf_fields("isdlock.hex");
    let Message::IsDLock(l) = msg("isdlock.hex") else {
        panic!("isdlock")
    };
    assert_eq!(l.version.to_string(), f["version"]);
    assert_eq!(l.inputs.len().to_string(), f["count"]);
    for (i, input) in l.inputs.iter().enumerate() {
        assert_eq!(input.txid, wire(&f, &format!("input[{i}].txid_wire")));
        assert_eq!(input.index.to_string(), f[&format!("input[{i}].vout")]);
    }
    assert_eq!(l.txid, wire(&f, "txid_wire"));
    assert_eq!(l.cycle_hash, wire(&f, "cycle_hash_wire"));
    assert_eq!(hex::encode(l.sig), f["sig"]);

    // The cfheaders reply: its hashes are BIP158's testnet filters for blocks 0-2, so its
    // chain ends at BIP158's filter header for block 2; the filter of block 0 checks
    // against its header; one wrong hash anywhere is caught.
    let f = tf_fields("cfheaders.hex");
    let Message::CFHeaders(mut h) = msg("cfheaders.hex") else {
        panic!("cfheaders")
    };
    assert_eq!(h.stop_hash, wire(&f, "stop_hash_wire"));
    let d = |s: &str| Hash256::from_display_hex(s).unwrap();
    let block0 = d("21584579b7eb08997773e5aeff3a7f932700042d0ed2a6129012b7d7ae81b750");
    let block2 = d("186afd11ef2b5e7e3504f2e8cbf8df28a1fd251fe53d60dff8b1467d1b386cf0");
    assert_eq!(
        h.filter_hashes[0],
        filter_hash(&hex::decode("019dfca8").unwrap())
    );
    let chain = h.check(Some(&block2)).unwrap();
    assert_eq!(chain[0], block0);
    assert_eq!(chain[2], block2);
    assert_eq!(cf.check(&Hash256::ZERO, &block0), Ok(()));
    assert!(matches!(
        cf.check(&Hash256::ZERO, &block2),
        Err(FilterCheckError::Mismatch { .. })
    ));
    for i in 0..3 {
        let mut bad = h.clone();
        bad.filter_hashes[i].0[7] ^= 1;
        assert!(
            matches!(
                bad.check(Some(&block2)),
                Err(FilterCheckError::Mismatch { .. })
            ),
            "a wrong hash at {i} is caught"
        );
    }
    h.filter_type = 1;
    assert_eq!(h.check(None), Err(FilterCheckError::UnknownType(1)));
}
