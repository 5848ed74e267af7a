//! Generates include/dashnet.h from src/ffi with cbindgen.
//!
//! The header is committed. The file is rewritten only when its contents change, so
//! `git diff --exit-code include/dashnet.h` after a build tells whether the committed
//! header is stale (the test script checks exactly that).

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets this"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is valid");
    // cbindgen follows the `pub mod` lines of src/ffi/mod.rs into each file.
    let builder = cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir.join("src/ffi/mod.rs"));
    let bindings = builder.generate().expect("cbindgen can parse src/ffi");
    let mut fresh = Vec::new();
    bindings.write(&mut fresh);
    let path = crate_dir.join("include/dashnet.h");
    if std::fs::read(&path).ok().as_deref() != Some(&fresh[..]) {
        std::fs::create_dir_all(crate_dir.join("include")).expect("can create include/");
        std::fs::write(&path, &fresh).expect("can write include/dashnet.h");
    }
}
