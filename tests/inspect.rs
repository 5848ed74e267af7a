//! dashnet-inspect, the capture reader: every vector, streams, hex and binary, and each
//! kind of broken frame (bad checksum, decode error with its offset, truncation).

mod support;

use std::io::Write;
use std::process::{Command as Process, Stdio};

use dashnet::wire::{Command, MAX_PAYLOAD_LEN, decode_frame, encode_frame};
use support::*;

/// Runs the inspector on `input` (standard input); returns (exit code, output lines).
fn inspect(args: &[&str], input: &[u8]) -> (i32, Vec<String>) {
    let mut child = Process::new(env!("CARGO_BIN_EXE_dashnet-inspect"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dashnet-inspect runs");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    (
        out.status.code().unwrap_or(-1),
        text.lines().map(str::to_string).collect(),
    )
}

#[test]
fn every_vector_is_read_with_its_command_and_a_good_checksum() {
    let mut seen = 0;
    for (name, bytes) in all_hex_vectors() {
        let (code, lines) = inspect(&[], hex::encode(&bytes).as_bytes());
        assert_eq!(lines.len(), 1, "{name}: one frame");
        let magic: [u8; 4] = bytes[..4].try_into().unwrap();
        match decode_frame(&bytes, magic, MAX_PAYLOAD_LEN) {
            Ok(raw) => {
                let want = format!("\"command\":\"{}\"", raw.command.as_str());
                assert!(lines[0].contains(&want), "{name}: {}", lines[0]);
                assert!(lines[0].contains("\"checksum_ok\":true"), "{name}");
                assert!(lines[0].contains("\"decoded\":{"), "{name}: {}", lines[0]);
                assert_eq!(code, 0, "{name}");
            }
            Err(_) => {
                assert!(
                    lines[0].contains("\"error\":\"truncated payload\""),
                    "{name}"
                );
                assert_eq!(code, 1, "{name}");
            }
        }
        seen += 1;
    }
    assert_eq!(seen, 81);
}

#[test]
fn a_stream_in_binary_or_spaced_hex_gives_a_line_per_frame() {
    let a = vector("dashcore-test-framework/regtest-version-fixed-dashcore-style.hex");
    let b = vector("dashcore-tf-messages/cfheaders.hex");
    let c = vector("dashcore-test-framework/regtest-ping-0102030405060708.hex");
    let stream = [a.clone(), b.clone(), c.clone()].concat();
    let (code, lines) = inspect(&["--bin"], &stream);
    assert_eq!(code, 0);
    assert_eq!(lines.len(), 3);
    assert!(
        lines[0].starts_with("{\"offset\":0,")
            && lines[0].contains("\"user_agent\":\"/dash-oracle-py:0.1/\"")
    );
    assert!(lines[1].starts_with(&format!("{{\"offset\":{},", a.len())));
    // The cfheaders decode carries the computed filter headers: BIP158's for block 2.
    assert!(lines[1].contains("186afd11ef2b5e7e3504f2e8cbf8df28a1fd251fe53d60dff8b1467d1b386cf0"));
    assert!(lines[2].contains("\"nonce\":578437695752307201"));
    // The same as hex, two digits at a time with spaces and newlines, auto-detected.
    let spaced: String = hex::encode(&stream)
        .as_bytes()
        .chunks(2)
        .enumerate()
        .map(|(i, p)| {
            format!(
                "{}{}",
                std::str::from_utf8(p).unwrap(),
                if i % 16 == 15 { "\n" } else { " " }
            )
        })
        .collect();
    assert_eq!(inspect(&[], spaced.as_bytes()), (0, lines));
}

#[test]
fn broken_frames_say_what_is_wrong_and_exit_1() {
    // A bad checksum.
    let mut ping = vector("dashcore-test-framework/regtest-ping-0102030405060708.hex");
    let last = ping.len() - 1;
    ping[last] ^= 1;
    let (code, lines) = inspect(&["--bin"], &ping);
    assert_eq!(code, 1);
    assert!(lines[0].contains("\"checksum_ok\":false"), "{}", lines[0]);
    // A payload that does not decode: a version cut inside its user agent, in a frame
    // whose length and checksum are right. The error names the field and byte offset.
    let version = vector("dashcore-test-framework/regtest-version-fixed-dashcore-style.hex");
    let payload = &version[24..24 + 90];
    let err =
        dashnet::wire::Message::decode(&Command::new("version").unwrap(), payload).unwrap_err();
    assert!(
        err.offset > 80,
        "the failure is deep in the payload ({})",
        err.offset
    );
    let mut frame = Vec::new();
    encode_frame(
        [0xfc, 0xc1, 0xb7, 0xdc],
        &Command::new("version").unwrap(),
        payload,
        &mut frame,
    );
    let (code, lines) = inspect(&["--bin"], &frame);
    assert_eq!(code, 1);
    assert!(lines[0].contains("\"checksum_ok\":true"), "{}", lines[0]);
    let want = format!(
        "\"decode_error\":{{\"field\":\"{}\",\"offset\":{},",
        err.field, err.offset
    );
    assert!(lines[0].contains(&want), "{} lacks {want}", lines[0]);
    // Truncated: a header cut short, after a good frame.
    let good = vector("dashcore-test-framework/regtest-verack.hex");
    let cut = [good.clone(), good[..10].to_vec()].concat();
    let (code, lines) = inspect(&["--bin"], &cut);
    assert_eq!(code, 1);
    assert_eq!(lines.len(), 2);
    assert!(
        lines[1].contains("\"error\":\"truncated header\""),
        "{}",
        lines[1]
    );
    // Unreadable input: exit 2.
    assert_eq!(inspect(&["--hex"], b"zz").0, 2);
    assert_eq!(inspect(&[], b"").0, 2);
}

#[test]
fn a_reader_that_goes_away_is_not_a_panic() {
    // `dashnet-inspect capture | head -1`: the pipe closes early; before, println! panicked.
    use std::io::{BufRead, BufReader};
    let ping = vector("dashcore-test-framework/regtest-ping-0102030405060708.hex");
    let stream: Vec<u8> = ping
        .iter()
        .copied()
        .cycle()
        .take(ping.len() * 20_000)
        .collect();
    let mut child = Process::new(env!("CARGO_BIN_EXE_dashnet-inspect"))
        .arg("--bin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&stream);
    });
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains("\"command\":\"ping\""));
    // stdout is closed now (dropped with the reader).
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
