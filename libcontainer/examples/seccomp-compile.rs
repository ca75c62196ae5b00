//! Compiles a seccomp profile the way `berth create` does and reports how long it took:
//! `cargo run -p berth --example seccomp-compile -- FILE [CACHE_DIR]` where FILE holds a
//! `linux.seccomp` object or a whole config.json; with CACHE_DIR the on-disk cache is used (run
//! twice to see a hit). Nothing is installed.
use std::time::Instant;

use oci_spec::runtime::{LinuxSeccomp, Spec};

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: seccomp-compile FILE (linux.seccomp JSON or config.json)");
        std::process::exit(2);
    };
    let data = std::fs::read(&path).unwrap_or_else(|e| fail(&format!("read {path}: {e}")));
    let value: serde_json::Value =
        serde_json::from_slice(&data).unwrap_or_else(|e| fail(&format!("parse {path}: {e}")));
    let seccomp: LinuxSeccomp = if value.get("linux").is_some() {
        let spec: Spec = serde_json::from_value(value).unwrap_or_else(|e| fail(&e.to_string()));
        spec.linux()
            .as_ref()
            .and_then(|l| l.seccomp().clone())
            .unwrap_or_else(|| fail("config.json has no linux.seccomp"))
    } else {
        serde_json::from_value(value).unwrap_or_else(|e| fail(&format!("parse {path}: {e}")))
    };
    let start = Instant::now();
    let filter = match std::env::args().nth(2) {
        Some(dir) => berth::seccomp::compile_cached(&seccomp, dir.as_ref()),
        None => berth::seccomp::compile(&seccomp),
    }
    .unwrap_or_else(|e| fail(&e.to_string()));
    let took = start.elapsed();
    println!(
        "{path}: {} BPF instructions, compiled in {took:?}{}",
        filter.len(),
        if filter.notifies() { ", notifies" } else { "" }
    );
}

fn fail(msg: &str) -> ! {
    eprintln!("seccomp-compile: {msg}");
    std::process::exit(1);
}
