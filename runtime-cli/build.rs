//! With `BERTH_LINK_LAYOUT=1` (scripts/build-release.sh sets it), links the `berth` binary with
//! its functions laid out in the order of `berth.order` (scripts/orderfile.sh). It needs lld,
//! the toolchain's default linker on x86_64 Linux; other builds are unaffected.
fn main() {
    println!("cargo:rerun-if-env-changed=BERTH_LINK_LAYOUT");
    println!("cargo:rerun-if-changed=berth.order");
    if std::env::var_os("BERTH_LINK_LAYOUT").is_some_and(|v| v == "1") {
        let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
        println!("cargo:rustc-link-arg-bin=berth=-Wl,--symbol-ordering-file={dir}/berth.order");
        println!("cargo:rustc-link-arg-bin=berth=-Wl,--no-warn-symbol-ordering");
    }
}
