//! Embedding berth: run a container from a bundle, wait for it, delete it.
//!
//!     cargo run -p berth --example embed -- /path/to/bundle [id]
//!
//! The bundle is an OCI bundle (config.json + rootfs); `berth spec` writes a config.json.
//! Must run as root. The state lives under /run/berth-embed so it never mixes with the CLI's.
use berth::{Container, CreateOptions};

fn main() -> berth::Result<()> {
    let mut args = std::env::args().skip(1);
    let bundle = args.next().expect("usage: embed BUNDLE [ID]");
    let id = args
        .next()
        .unwrap_or_else(|| format!("embed-{}", std::process::id()));

    // Creating leaves the container's process blocked before execve; the caller (this
    // process) stays its parent, so it can wait for it.
    let opts = CreateOptions::new(&id, &bundle)
        .root("/run/berth-embed")
        .detach(false)
        .start_at_once(true);
    let container = Container::create(&opts)?;
    println!("created {} (init pid {})", container.id(), container.pid());
    println!(
        "{}",
        serde_json::to_string_pretty(&container.state()?).unwrap()
    );

    container.start()?;
    let code = container.wait()?;
    println!("container exited with {code}");

    container.delete(false)?;
    std::process::exit(code);
}
