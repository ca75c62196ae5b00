//! AppArmor and SELinux on a host that has neither (this one: no /sys/module/apparmor, no
//! selinuxfs): every profile or label is a one-line error naming its field, at create and at
//! exec. And `features`: what it reports for seccomp is accepted by berth in real containers.
use std::os::unix::net::UnixListener;

use berth_integration::{host, TestEnv};
use serde_json::{json, Value};

fn apparmor_on_host() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|v| v.starts_with('Y'))
}

fn selinux_on_host() -> bool {
    std::path::Path::new("/sys/fs/selinux/enforce").exists()
}

#[test]
fn profiles_and_labels_are_errors_without_the_lsm() {
    let t = TestEnv::new("lsm-create");
    let cases: [(&str, &str, Value, bool); 3] = [
        (
            "process",
            "apparmorProfile",
            json!("berth-test"),
            apparmor_on_host(),
        ),
        (
            "process",
            "selinuxLabel",
            json!("system_u:system_r:container_t:s0"),
            selinux_on_host(),
        ),
        (
            "linux",
            "mountLabel",
            json!("system_u:object_r:container_file_t:s0"),
            selinux_on_host(),
        ),
    ];
    for (section, field, value, present) in cases {
        if present {
            eprintln!("{section}.{field}: the host has the LSM, case skipped");
            continue;
        }
        let mut b = t.bundle();
        b.spec[section][field] = value;
        let out = t.create(&b);
        out.failed_with_one_line();
        assert!(out.mentions(&format!("{section}.{field}:")), "{out}");
        assert!(out.mentions("not enabled on this host"), "{out}");
        t.assert_nothing_left(&b);
    }
    // Empty values ask for nothing.
    let mut b = t.bundle();
    b.process()["apparmorProfile"] = json!("");
    b.process()["selinuxLabel"] = json!("");
    b.linux()["mountLabel"] = json!("");
    t.report(&b);
}

#[test]
fn exec_flags_are_errors_without_the_lsm() {
    let t = TestEnv::new("lsm-exec");
    let mut b = t.bundle();
    b.payload(&["sleep", "100"]);
    t.run_detached(&b).ok();
    let cases = [
        (
            "--apparmor",
            "berth-test",
            "process.apparmorProfile",
            apparmor_on_host(),
        ),
        (
            "--process-label",
            "u:r:t:s0",
            "process.selinuxLabel",
            selinux_on_host(),
        ),
    ];
    for (flag, value, field, present) in cases {
        if present {
            continue;
        }
        let out = t.call(&b, ["exec", flag, value, &b.id, "/bin/true"]).run();
        out.failed_with_one_line();
        assert!(out.mentions(field), "{out}");
    }
    t.call(&b, ["exec", &b.id, "/bin/true"]).run().ok();
}

/// runtime-spec: `apparmor.enabled`/`selinux.enabled` say whether support is compiled in,
/// not whether the host has the LSM (the errors above say that).
#[test]
fn features_lsm_sections() {
    let t = TestEnv::new("lsm-features");
    let out = t.call_here(["features"]).run();
    out.ok();
    let f: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(f["linux"]["apparmor"], json!({"enabled": true}));
    assert_eq!(f["linux"]["selinux"], json!({"enabled": true}));
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// Runs `payload exit 0` under `seccomp`; a notify rule gets a listener that takes the fd.
#[track_caller]
fn runs_with(t: &TestEnv, mut seccomp: Value, what: &str) {
    let mut b = t.bundle();
    let notify = seccomp.to_string().contains("SCMP_ACT_NOTIFY");
    let _listener = notify.then(|| {
        let path = b.dir.join("agent.sock");
        let l = UnixListener::bind(&path).unwrap();
        seccomp["listenerPath"] = json!(path);
        std::thread::spawn({
            let l = l.try_clone().unwrap();
            move || {
                if let Ok((s, _)) = l.accept() {
                    std::thread::sleep(std::time::Duration::from_secs(2));
                    drop(s);
                }
            }
        });
        l
    });
    b.linux()["seccomp"] = seccomp;
    b.payload(&["exit", "0"]);
    t.create(&b).ok();
    t.start(&b).ok();
    assert_eq!(host::exit_status(b.pid()), 0, "{what}");
    t.delete(&b).ok();
}

fn rule(action: &str, args: Value) -> Value {
    let mut r = json!({"names": ["swapoff"], "action": action, "args": args});
    if action == "SCMP_ACT_ERRNO" || action == "SCMP_ACT_TRACE" {
        r["errnoRet"] = json!(1);
    }
    r
}

/// Every action, operator, architecture and flag that `features` lists is accepted in a
/// real container (validated, compiled, installed), on a syscall the payload never makes.
#[test]
fn features_seccomp_section_is_accepted_by_berth() {
    let t = TestEnv::new("lsm-seccomp");
    let out = t.call_here(["features"]).run();
    out.ok();
    let f: Value = serde_json::from_str(&out.stdout).unwrap();
    let s = &f["linux"]["seccomp"];
    assert_eq!(s["enabled"], true);
    for action in strings(&s["actions"]) {
        let default = if action == "SCMP_ACT_ALLOW" {
            "SCMP_ACT_LOG"
        } else {
            "SCMP_ACT_ALLOW"
        };
        let filter = json!({"defaultAction": default, "syscalls": [rule(&action, json!([]))]});
        runs_with(&t, filter, &action);
    }
    let ops = strings(&s["operators"]);
    let rules: Vec<Value> = ops
        .iter()
        .map(|op| {
            let mut arg = json!({"index": 0, "value": 7, "op": op});
            if op == "SCMP_CMP_MASKED_EQ" {
                arg["valueTwo"] = json!(7);
            }
            rule("SCMP_ACT_ERRNO", json!([arg]))
        })
        .collect();
    let filter = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules});
    runs_with(&t, filter, &format!("operators {ops:?}"));
    let archs = strings(&s["archs"]);
    let filter = json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": archs,
                        "syscalls": [rule("SCMP_ACT_ERRNO", json!([]))]});
    runs_with(&t, filter, &format!("archs {archs:?}"));
    let known = strings(&s["knownFlags"]);
    for flag in strings(&s["supportedFlags"]) {
        assert!(known.contains(&flag), "{flag} supported but not known");
        let action = if flag == "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" {
            "SCMP_ACT_NOTIFY"
        } else {
            "SCMP_ACT_ERRNO"
        };
        let filter = json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": [flag],
                            "syscalls": [rule(action, json!([]))]});
        runs_with(&t, filter, &flag);
    }
}
