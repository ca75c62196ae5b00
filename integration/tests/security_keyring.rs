//! The session keyring: a new one per container, named after the container, unless
//! `--no-new-keyring`, when the container shares the caller's.
use berth_integration::payload::last_json;
use berth_integration::TestEnv;

/// This process's session keyring serial (KEYCTL_GET_KEYRING_ID, without creating one).
fn own_session_keyring() -> i64 {
    // SAFETY: keyctl with integer arguments only.
    unsafe { libc::syscall(libc::SYS_keyctl, 0, -3i64, 0) }
}

#[test]
fn each_container_gets_its_own_session_keyring() {
    let t = TestEnv::new("keyring");
    let mut serials = Vec::new();
    for _ in 0..2 {
        let mut b = t.bundle();
        b.payload(&["keyring"]);
        let out = t.run(&b);
        out.ok();
        let k = last_json(&out.stdout);
        let serial = k["session"].as_i64().unwrap_or_else(|| panic!("{k}"));
        let desc = k["describe"].as_str().unwrap();
        assert!(desc.starts_with("keyring;"), "{desc}");
        assert!(desc.ends_with(&format!(";{}", b.id)), "{desc}");
        serials.push(serial);
    }
    let own = own_session_keyring();
    assert!(own > 0);
    assert!(
        !serials.contains(&own),
        "a container shares the caller's keyring"
    );
    assert_ne!(serials[0], serials[1], "two containers share one keyring");
}

#[test]
fn no_new_keyring_shares_the_callers() {
    let t = TestEnv::new("keyring-none");
    let mut b = t.bundle();
    b.payload(&["keyring"]);
    let bundle = b.dir.display().to_string();
    b.write_config();
    let out = t
        .call(&b, ["run", "--no-new-keyring", "--bundle", &bundle, &b.id])
        .container_io(&b.dir)
        .run();
    out.ok();
    let k = last_json(&out.stdout);
    assert_eq!(k["session"].as_i64(), Some(own_session_keyring()), "{k}");
}
