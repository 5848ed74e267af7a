//! headers2 (DIP-0025) decoding: arbitrary bytes either fail cleanly or give headers that
//! re-encode to bytes that decode to the same headers (hashes included).
#![no_main]

use dashnet::wire::codec::Reader;
use dashnet::wire::headers2;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(headers) = headers2::decode(&mut Reader::new(data), 8000) else {
        return;
    };
    let mut bytes = Vec::new();
    headers2::encode(&headers, &mut bytes);
    let again = headers2::decode(&mut Reader::new(&bytes), 8000).expect("our encoding decodes");
    assert_eq!(headers, again);
});
