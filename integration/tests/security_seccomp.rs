//! The default seccomp profile (seccomp-profiles/default.json) in a real container: ordinary
//! programs run, and the calls that break a container's walls (new namespaces, mounts, the
//! kernel keyring, ptrace) are refused with EPERM.
use berth_integration::TestEnv;
use serde_json::Value;

#[test]
fn default_profile_refuses_the_walls_and_runs_ordinary_programs() {
    let t = TestEnv::new("seccomp-default");
    let mut b = t.bundle();
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../seccomp-profiles/default.json"
    );
    let profile: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    b.linux()["seccomp"] = profile;
    b.sh("/bin/payload walls; ls / >/dev/null && echo ls-ok; echo piped | cat; grep -c Seccomp: /proc/self/status");
    let out = t.run(&b);
    out.ok();
    let mut lines = out.stdout.lines();
    let walls: Value = serde_json::from_str(lines.next().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {out}"));
    for refused in ["unshare", "mount", "keyctl", "ptrace"] {
        assert_eq!(walls[refused], "EPERM", "{refused}: {out}");
    }
    for allowed in ["getpid", "read"] {
        assert_eq!(walls[allowed], "ok", "{allowed}: {out}");
    }
    let rest: Vec<&str> = lines.collect();
    assert_eq!(rest, ["ls-ok", "piped", "1"], "{out}");
}
