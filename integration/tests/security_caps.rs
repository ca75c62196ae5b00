//! `process.capabilities`: every set is exactly what the config says, as /proc/self/status
//! shows it inside the container, for root and for a non-root user; unknown names are a
//! one-line error naming the set; capabilities the host cannot grant are a warning.
use berth_integration::payload::last_json;
use berth_integration::spec::cap_names;
use berth_integration::{cap_mask, Report, TestEnv};
use serde_json::json;

#[track_caller]
fn assert_sets(r: &Report, want: [(&str, &[&str]); 5]) {
    for (set, names) in want {
        let got = r.caps(set);
        assert_eq!(
            got,
            cap_mask(names),
            "{set}: got {:?}, want {names:?}",
            cap_names(got)
        );
    }
}

const BOUNDING: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_RAW",
    "CAP_SYS_CHROOT",
];
const PERMITTED: &[&str] = &[
    "CAP_CHOWN",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_RAW",
];
const EFFECTIVE: &[&str] = &["CAP_KILL", "CAP_NET_RAW"];
const INHERITABLE: &[&str] = &["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT"];

/// Root without no_new_privs keeps exactly the configured sets (the kernel recomputes
/// permitted and effective at execve for uid 0 from the bounding and inheritable sets, so
/// they are given here as the kernel will show them), and so does an exec'd process.
#[test]
fn root_gets_exactly_the_configured_sets() {
    let t = TestEnv::new("caps-root");
    let mut b = t.bundle();
    // For root, execve makes permitted = effective = (inheritable | bounding); a config
    // that is already a fixed point shows unchanged.
    let all: Vec<&str> = BOUNDING.to_vec();
    b.process()["noNewPrivileges"] = json!(false);
    b.process()["capabilities"] = json!({
        "bounding": BOUNDING, "permitted": all, "effective": all,
        "inheritable": INHERITABLE, "ambient": ["CAP_KILL"],
    });
    b.payload(&["sleep", "100"]);
    t.run_detached(&b).ok();
    let out = t.call(&b, ["exec", &b.id, "/bin/payload"]).run();
    out.ok();
    let r = Report::parse(&out.stdout);
    assert_sets(
        &r,
        [
            ("bnd", BOUNDING),
            ("prm", &all),
            ("eff", &all),
            ("inh", INHERITABLE),
            ("amb", &["CAP_KILL"]),
        ],
    );
}

/// A non-root user: bounding and inheritable as configured; permitted, effective and
/// ambient become the ambient set (the only capabilities a non-root user keeps across
/// execve), here CAP_NET_BIND_SERVICE and CAP_KILL (both permitted and inheritable).
#[test]
fn non_root_user_keeps_its_ambient_set() {
    let t = TestEnv::new("caps-user");
    let mut b = t.bundle();
    b.process()["user"] = json!({"uid": 1000, "gid": 1000});
    b.process()["capabilities"] = json!({
        "bounding": BOUNDING, "permitted": PERMITTED, "effective": EFFECTIVE,
        "inheritable": INHERITABLE, "ambient": ["CAP_NET_BIND_SERVICE", "CAP_KILL"],
    });
    let r = t.report(&b);
    let amb: &[&str] = &["CAP_KILL", "CAP_NET_BIND_SERVICE"];
    assert_sets(
        &r,
        [
            ("bnd", BOUNDING),
            ("inh", INHERITABLE),
            ("amb", amb),
            ("prm", amb),
            ("eff", amb),
        ],
    );
    assert_eq!(r.num("uid"), 1000);
}

/// A non-root user without ambient capabilities has none at all after execve.
#[test]
fn non_root_user_without_ambient_has_none() {
    let t = TestEnv::new("caps-user-none");
    let mut b = t.bundle();
    b.process()["user"] = json!({"uid": 1000, "gid": 1000});
    b.process()["capabilities"] = json!({
        "bounding": BOUNDING, "permitted": PERMITTED, "effective": EFFECTIVE,
        "inheritable": INHERITABLE,
    });
    let r = t.report(&b);
    assert_sets(
        &r,
        [
            ("bnd", BOUNDING),
            ("inh", INHERITABLE),
            ("amb", &[]),
            ("prm", &[]),
            ("eff", &[]),
        ],
    );
}

#[test]
fn unknown_capability_is_a_one_line_error_naming_the_set() {
    let t = TestEnv::new("caps-unknown");
    for set in [
        "bounding",
        "effective",
        "permitted",
        "inheritable",
        "ambient",
    ] {
        let mut b = t.bundle();
        b.process()["capabilities"][set] = json!(["CAP_KILL", "CAP_NOT_A_CAP"]);
        let out = t.create(&b);
        out.failed_with_one_line();
        assert!(
            out.mentions(&format!("process.capabilities.{set}")),
            "{set}:\n{out}"
        );
        assert!(out.mentions("CAP_NOT_A_CAP"), "{out}");
        t.assert_nothing_left(&b);
    }
}

/// The host's own bounding set decides what a container in the host's user namespace can
/// get. This machine's lacks CAP_SYS_RESOURCE (if it has it, the capability is simply
/// granted). Asking for it is a warning, not an error, and the container runs without it.
#[test]
fn capabilities_the_host_cannot_grant_are_a_warning() {
    let t = TestEnv::new("caps-host");
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let bnd = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
        .unwrap();
    let resource = cap_mask(&["CAP_SYS_RESOURCE"]);
    let mut b = t.bundle();
    let set = ["CAP_KILL", "CAP_SYS_RESOURCE"];
    b.process()["capabilities"] = json!({
        "bounding": set, "permitted": set, "effective": set, "inheritable": set,
        "ambient": set,
    });
    let out = t.run(&b);
    out.ok();
    let r = Report::parse(&out.stdout);
    let granted = if bnd & resource == 0 {
        let warned = out.log.iter().any(|l| {
            l["level"] == "warning"
                && l["msg"]
                    .as_str()
                    .is_some_and(|m| m.contains("CAP_SYS_RESOURCE"))
        });
        assert!(warned, "no warning about CAP_SYS_RESOURCE:\n{out}");
        cap_mask(&["CAP_KILL"])
    } else {
        cap_mask(&set)
    };
    assert_eq!(r.caps("prm"), granted);
    assert_eq!(r.caps("amb"), granted);
    assert_eq!(r.caps("bnd") & !resource, cap_mask(&["CAP_KILL"]));
}

/// `exec --cap` adds a capability to the exec'd process's sets.
#[test]
fn exec_cap_adds_to_every_set() {
    let t = TestEnv::new("caps-exec");
    let mut b = t.bundle();
    b.payload(&["sleep", "100"]);
    t.run_detached(&b).ok();
    let out = t
        .call(
            &b,
            ["exec", "--cap", "CAP_SYS_CHROOT", &b.id, "/bin/payload"],
        )
        .run();
    out.ok();
    let r = Report::parse(&out.stdout);
    let chroot = cap_mask(&["CAP_SYS_CHROOT"]);
    for set in ["bnd", "prm", "eff"] {
        assert_ne!(r.caps(set) & chroot, 0, "{set}: {}", last_json(&out.stdout));
    }
    let out = t
        .call(&b, ["exec", "--cap", "CAP_NOPE", &b.id, "/bin/true"])
        .run();
    out.failed_with_one_line();
    assert!(out.mentions("CAP_NOPE"), "{out}");
}
