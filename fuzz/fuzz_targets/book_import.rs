//! Address-book import: arbitrary bytes are refused or imported; what was imported
//! exports to bytes that import to the same book.
#![no_main]

use dashnet::client::{AddressBook, Now, Policy};
use libfuzzer_sys::fuzz_target;

const NOW: Now = Now {
    mono: 100.0,
    wall: 1_790_000_000,
};

fuzz_target!(|data: &[u8]| {
    let mut book = AddressBook::new(Policy::default());
    if book.import(data, NOW).is_err() {
        return;
    }
    let exported = book.export(NOW);
    let mut again = AddressBook::new(Policy::default());
    again.import(&exported, NOW).expect("our export imports");
    assert_eq!(again.export(NOW), exported);
});
