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
    let mut builder = cbindgen::Builder::new().with_config(config);
    let mut sources: Vec<PathBuf> = std::fs::read_dir(crate_dir.join("src/ffi"))
        .expect("src/ffi exists")
        .map(|e| e.expect("src/ffi is readable").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    sources.sort();
    for src in sources {
        builder = builder.with_src(src);
    }
    let bindings = builder.generate().expect("cbindgen can parse src/ffi");
    let mut fresh = Vec::new();
    bindings.write(&mut fresh);
    let path = crate_dir.join("include/dashnet.h");
    if std::fs::read(&path).ok().as_deref() != Some(&fresh[..]) {
        std::fs::create_dir_all(crate_dir.join("include")).expect("can create include/");
        std::fs::write(&path, &fresh).expect("can write include/dashnet.h");
    }
}
