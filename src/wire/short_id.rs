//! BIP324 v2 transport's one-byte message IDs, as Dash assigns them.
//!
//! A v2 packet's contents start with a one-byte ID for the commonest commands, or with
//! 0 and the 12-byte command for any other. IDs 1-28 are BIP324's (5, `feefilter`, is
//! unused: Dash has no fee filter), 128-167 are Dash's own, and 168 (`platformban`) is
//! used only when both sides speak protocol 70240 or later (dash#7082); below that it
//! goes in long form. Table: Dash Core `src/net.cpp` (V2_MESSAGE_IDS), as summarised in
//! PROTOCOL.md.

use super::frame::Command;

/// The protocol version from which ID 168 (`platformban`) is used.
pub const PLATFORMBAN_SHORT_ID_VERSION: u32 = 70240;

const PLATFORMBAN: u8 = 168;

/// (ID, command) for every ID in use; the position is the ID's order, not the ID.
const TABLE: &[(u8, &str)] = &[
    (1, "addr"),
    (2, "block"),
    (3, "blocktxn"),
    (4, "cmpctblock"),
    (6, "filteradd"),
    (7, "filterclear"),
    (8, "filterload"),
    (9, "getblocks"),
    (10, "getblocktxn"),
    (11, "getdata"),
    (12, "getheaders"),
    (13, "headers"),
    (14, "inv"),
    (15, "mempool"),
    (16, "merkleblock"),
    (17, "notfound"),
    (18, "ping"),
    (19, "pong"),
    (20, "sendcmpct"),
    (21, "tx"),
    (22, "getcfilters"),
    (23, "cfilter"),
    (24, "getcfheaders"),
    (25, "cfheaders"),
    (26, "getcfcheckpt"),
    (27, "cfcheckpt"),
    (28, "addrv2"),
    (128, "spork"),
    (129, "getsporks"),
    (130, "senddsq"),
    (131, "dsa"),
    (132, "dsi"),
    (133, "dsf"),
    (134, "dss"),
    (135, "dsc"),
    (136, "dssu"),
    (137, "dstx"),
    (138, "dsq"),
    (139, "ssc"),
    (140, "govsync"),
    (141, "govobj"),
    (142, "govobjvote"),
    (143, "getmnlistd"),
    (144, "mnlistdiff"),
    (145, "qsendrecsigs"),
    (146, "qfcommit"),
    (147, "qcontrib"),
    (148, "qcomplaint"),
    (149, "qjustify"),
    (150, "qpcommit"),
    (151, "qwatch"),
    (152, "qsigsesann"),
    (153, "qsigsinv"),
    (154, "qgetsigs"),
    (155, "qbsigs"),
    (156, "qsigrec"),
    (157, "qsigshare"),
    (158, "qgetdata"),
    (159, "qdata"),
    (160, "clsig"),
    (161, "isdlock"),
    (162, "mnauth"),
    (163, "getheaders2"),
    (164, "sendheaders2"),
    (165, "headers2"),
    (166, "getqrinfo"),
    (167, "qrinfo"),
    (PLATFORMBAN, "platformban"),
];

/// The short ID `command` is sent under, or `None` for the long form. `negotiated` is
/// the protocol version both sides speak (0 before the version exchange).
pub fn short_id(command: &str, negotiated: u32) -> Option<u8> {
    let (id, _) = TABLE.iter().find(|(_, name)| *name == command)?;
    if *id == PLATFORMBAN && negotiated < PLATFORMBAN_SHORT_ID_VERSION {
        return None;
    }
    Some(*id)
}

/// The command short ID `id` stands for, or `None` when the ID is not in use (a
/// protocol error). `negotiated` as for [`short_id`].
pub fn command_for(id: u8, negotiated: u32) -> Option<Command> {
    if id == PLATFORMBAN && negotiated < PLATFORMBAN_SHORT_ID_VERSION {
        return None;
    }
    let (_, name) = TABLE.iter().find(|(i, _)| *i == id)?;
    Command::new(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_maps_both_ways_and_ids_are_unique() {
        for (id, name) in TABLE {
            assert_eq!(short_id(name, 70240), Some(*id), "{name}");
            assert_eq!(command_for(*id, 70240).unwrap().as_str(), *name);
            assert_eq!(TABLE.iter().filter(|(i, _)| i == id).count(), 1);
        }
        assert_eq!(TABLE.len(), 27 + 41);
    }

    #[test]
    fn unused_ids_are_refused() {
        for id in [0u8, 5, 29, 127, 169, 255] {
            assert!(command_for(id, 70240).is_none(), "{id}");
        }
        assert_eq!(short_id("feefilter", 70240), None);
        assert_eq!(short_id("version", 70240), None);
        assert_eq!(short_id("verack", 70240), None);
    }

    #[test]
    fn platformban_is_short_only_from_70240() {
        assert_eq!(short_id("platformban", 70239), None);
        assert!(command_for(168, 70239).is_none());
        assert_eq!(short_id("platformban", 70240), Some(168));
        assert_eq!(command_for(168, 70240).unwrap().as_str(), "platformban");
    }

    #[test]
    fn spot_checks_against_the_table_in_protocol_md() {
        assert_eq!(short_id("headers2", 0), Some(165));
        assert_eq!(short_id("getheaders2", 0), Some(163));
        assert_eq!(short_id("ping", 0), Some(18));
        assert_eq!(short_id("addrv2", 0), Some(28));
        assert_eq!(short_id("clsig", 0), Some(160));
        assert_eq!(short_id("qrinfo", 0), Some(167));
    }
}
