//! Network parameters: magic, default port, genesis hash, DNS seeds, proof-of-work limit.

use super::hash::Hash256;

/// Dash Core's current protocol version (v23.1, 2026).
pub const PROTOCOL_VERSION: u32 = 70240;
/// Peers below this version are disconnected (Dash Core v23's MIN_PEER_PROTO_VERSION; it
/// was 70216 in v22).
pub const MIN_PEER_PROTO_VERSION: u32 = 70221;
/// From this version on, `sendaddrv2` / `addrv2` are used.
pub const ADDRV2_VERSION: u32 = 70223;
/// From this version on, a headers2 message may carry up to 8000 headers (else 2000).
pub const HEADERS2_8000_VERSION: u32 = 70235;

/// Most headers one headers (`compressed` false) or headers2 message may carry at the
/// `negotiated` protocol version.
pub fn headers_per_message(compressed: bool, negotiated: u32) -> usize {
    if compressed && negotiated >= HEADERS2_8000_VERSION {
        8000
    } else {
        2000
    }
}

/// Service bits a node advertises in `version` and `addr`.
pub mod services {
    /// Full node that serves blocks.
    pub const NETWORK: u64 = 1 << 0;
    /// Serves bloom-filtered blocks (BIP37).
    pub const BLOOM: u64 = 1 << 2;
    /// Serves compact block filters (BIP157/158).
    pub const COMPACT_FILTERS: u64 = 1 << 6;
    /// Serves only recent blocks.
    pub const NETWORK_LIMITED: u64 = 1 << 10;
    /// Understands headers2 (DIP-0025 compressed headers).
    pub const HEADERS_COMPRESSED: u64 = 1 << 11;
    /// Speaks the v2 transport.
    pub const P2P_V2: u64 = 1 << 12;
}

/// The names of the service bits in `bits` (unknown bits by number), for messages.
pub fn service_names(bits: u64) -> String {
    const NAMES: [(u64, &str); 6] = [
        (services::NETWORK, "NETWORK"),
        (services::BLOOM, "BLOOM"),
        (services::COMPACT_FILTERS, "COMPACT_FILTERS"),
        (services::NETWORK_LIMITED, "NETWORK_LIMITED"),
        (services::HEADERS_COMPRESSED, "HEADERS_COMPRESSED"),
        (services::P2P_V2, "P2P_V2"),
    ];
    let mut out: Vec<String> = Vec::new();
    for bit in 0..64 {
        let b = 1u64 << bit;
        if bits & b != 0 {
            out.push(
                NAMES
                    .iter()
                    .find(|(v, _)| *v == b)
                    .map_or_else(|| format!("bit {bit}"), |(_, n)| (*n).to_string()),
            );
        }
    }
    if out.is_empty() {
        "none".into()
    } else {
        out.join("|")
    }
}

/// The service a request needs from the peer it goes to, if any: compact-filter requests
/// need COMPACT_FILTERS, BIP37 filter messages BLOOM, getheaders2 HEADERS_COMPRESSED.
pub fn service_for(command: &str) -> Option<u64> {
    match command {
        "getcfilters" | "getcfheaders" | "getcfcheckpt" => Some(services::COMPACT_FILTERS),
        "filterload" | "filteradd" | "filterclear" => Some(services::BLOOM),
        "getheaders2" => Some(services::HEADERS_COMPRESSED),
        _ => None,
    }
}

/// Which Dash network a peer speaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Network {
    /// The main network.
    Mainnet,
    /// The public test network.
    Testnet,
    /// A named developer network (`devnet.<name>` goes in the user agent).
    Devnet {
        /// The devnet's name.
        name: String,
        /// Its genesis hash, when known.
        genesis: Option<Hash256>,
    },
    /// A local regression-test network.
    Regtest,
    /// Any other magic, for private test networks.
    Custom {
        /// The four magic bytes as they appear on the wire.
        magic: [u8; 4],
        /// The default port.
        port: u16,
        /// The genesis hash, when known.
        genesis: Option<Hash256>,
    },
}

// Proof-of-work limits as compact targets (Dash Core chainparams).
const POW_LIMIT_MAIN: u32 = 0x1e0f_ffff;
const POW_LIMIT_REGTEST: u32 = 0x207f_ffff;

impl Network {
    /// Parses `mainnet`, `testnet`, `regtest` or `devnet` (a devnet named `devnet`);
    /// `devnet.<name>` names a devnet.
    pub fn from_name(name: &str) -> Option<Network> {
        match name {
            "mainnet" | "main" => Some(Network::Mainnet),
            "testnet" | "test" => Some(Network::Testnet),
            "regtest" => Some(Network::Regtest),
            "devnet" => Some(Network::Devnet {
                name: "devnet".into(),
                genesis: None,
            }),
            _ => name.strip_prefix("devnet.").and_then(|n| {
                (!n.is_empty()).then(|| Network::Devnet {
                    name: n.into(),
                    genesis: None,
                })
            }),
        }
    }

    /// The four magic bytes in wire order.
    pub fn magic(&self) -> [u8; 4] {
        match self {
            Network::Mainnet => [0xbf, 0x0c, 0x6b, 0xbd],
            Network::Testnet => [0xce, 0xe2, 0xca, 0xff],
            Network::Devnet { .. } => [0xe2, 0xca, 0xff, 0xce],
            Network::Regtest => [0xfc, 0xc1, 0xb7, 0xdc],
            Network::Custom { magic, .. } => *magic,
        }
    }

    /// True for networks whose nodes are all local (regtest, devnets, custom magic):
    /// gossiped private addresses are kept there, and netgroup rules do not apply.
    pub fn is_local(&self) -> bool {
        !matches!(self, Network::Mainnet | Network::Testnet)
    }

    /// The default P2P port.
    pub fn default_port(&self) -> u16 {
        match self {
            Network::Mainnet => 9999,
            Network::Testnet => 19999,
            Network::Devnet { .. } => 19799,
            Network::Regtest => 19899,
            Network::Custom { port, .. } => *port,
        }
    }

    /// The genesis block hash, when known.
    pub fn genesis_hash(&self) -> Option<Hash256> {
        let hex = match self {
            Network::Mainnet => "00000ffd590b1485b3caadc19b22e6379c733355108f107a430458cdf3407ab6",
            Network::Testnet => "00000bafbc94add76cb75e2ec92894837288a481e5c005f6563d91623bf8bc2c",
            Network::Regtest => "000008ca1832a4baf228eb1553c03d3a2c8e02399550dd6ea8d65cec3ef23d2e",
            Network::Devnet { genesis, .. } | Network::Custom { genesis, .. } => return *genesis,
        };
        Hash256::from_display_hex(hex)
    }

    /// DNS seeds to discover peers from (none for devnet, regtest and custom networks).
    pub fn dns_seeds(&self) -> &'static [&'static str] {
        match self {
            Network::Mainnet => &["dnsseed.dash.org"],
            Network::Testnet => &["testnet-seed.dashdot.io"],
            _ => &[],
        }
    }

    /// Dash Core's built-in seed nodes for this network (`data/seeds/`, decoded from Dash
    /// Core's `chainparamsseeds.h`; the file names its source and commit). Empty for
    /// regtest and devnets.
    pub fn fixed_seeds(&self) -> Vec<std::net::SocketAddr> {
        let text = match self {
            Network::Mainnet => include_str!("../../data/seeds/mainnet.txt"),
            Network::Testnet => include_str!("../../data/seeds/testnet.txt"),
            _ => "",
        };
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| l.parse().ok())
            .collect()
    }

    /// Dash Core's checkpoints for this network, (height, block hash) in height order,
    /// genesis first (`data/checkpoints/`, from Dash Core's `chainparams.cpp`; the files
    /// name the source and commit). Regtest, devnets and custom networks have their
    /// genesis only (when known).
    pub fn checkpoints(&self) -> Vec<(u32, super::Hash256)> {
        let text = match self {
            Network::Mainnet => include_str!("../../data/checkpoints/mainnet.txt"),
            Network::Testnet => include_str!("../../data/checkpoints/testnet.txt"),
            _ => "",
        };
        let genesis = self.genesis_hash().map(|g| (0, g));
        genesis
            .into_iter()
            .chain(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .filter_map(|l| {
                        let (height, hash) = l.split_once(' ')?;
                        Some((
                            height.parse().ok()?,
                            super::Hash256::from_display_hex(hash.trim())?,
                        ))
                    }),
            )
            .collect()
    }

    /// The easiest target a header may claim, as a compact `bits` value.
    pub fn pow_limit_bits(&self) -> u32 {
        match self {
            Network::Mainnet | Network::Testnet => POW_LIMIT_MAIN,
            _ => POW_LIMIT_REGTEST,
        }
    }

    /// A short name (`mainnet`, `testnet`, `devnet.<name>`, `regtest`, `custom`).
    pub fn name(&self) -> String {
        match self {
            Network::Mainnet => "mainnet".into(),
            Network::Testnet => "testnet".into(),
            Network::Devnet { name, .. } => format!("devnet.{name}"),
            Network::Regtest => "regtest".into(),
            Network::Custom { .. } => "custom".into(),
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn checkpoints_are_ordered_meet_proof_of_work_and_start_at_genesis() {
        for (network, count, last) in [
            (Network::Mainnet, 29, 1_796_500u32),
            (Network::Testnet, 9, 794_950),
        ] {
            let cps = network.checkpoints();
            assert_eq!(cps.len(), count, "{network:?}: every line parsed");
            assert_eq!(cps[0], (0, network.genesis_hash().unwrap()));
            assert_eq!(cps.last().unwrap().0, last);
            assert!(
                cps.windows(2).all(|w| w[0].0 < w[1].0),
                "{network:?}: heights rise"
            );
            // Every checkpoint is a mined block: its hash meets the network's easiest
            // target (a mistyped hash almost never does).
            let limit = crate::wire::Target::from_compact(network.pow_limit_bits()).unwrap();
            for (height, hash) in &cps {
                assert!(limit.is_met_by(hash), "{network:?} {height}");
            }
        }
        let regtest = Network::Regtest.checkpoints();
        assert_eq!(regtest, vec![(0, Network::Regtest.genesis_hash().unwrap())]);
    }
    use super::*;

    #[test]
    fn names_parse() {
        assert_eq!(Network::from_name("mainnet"), Some(Network::Mainnet));
        assert_eq!(Network::from_name("regtest"), Some(Network::Regtest));
        assert_eq!(
            Network::from_name("devnet.ouzo").unwrap().name(),
            "devnet.ouzo"
        );
        assert_eq!(Network::from_name("devnet."), None);
        assert_eq!(Network::from_name("moonnet"), None);
    }

    #[test]
    fn params_match_protocol() {
        assert_eq!(Network::Regtest.magic(), [0xfc, 0xc1, 0xb7, 0xdc]);
        assert_eq!(Network::Testnet.default_port(), 19999);
        assert_eq!(
            Network::Mainnet.genesis_hash().unwrap().to_string(),
            "00000ffd590b1485b3caadc19b22e6379c733355108f107a430458cdf3407ab6"
        );
    }
}
