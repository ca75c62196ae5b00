use serde_json::json;

use super::*;

const NONE: Host = Host {
    apparmor: false,
    selinux: false,
};
const BOTH: Host = Host {
    apparmor: true,
    selinux: true,
};

fn process(extra: serde_json::Value) -> Process {
    let mut p = json!({"user": {"uid": 0, "gid": 0}, "args": ["sh"], "cwd": "/"});
    for (k, v) in extra.as_object().unwrap() {
        p[k] = v.clone();
    }
    serde_json::from_value(p).unwrap()
}

fn spec(mount_label: &str) -> Spec {
    serde_json::from_value(json!({
        "ociVersion": "1.3.0",
        "root": {"path": "rootfs"},
        "linux": {"mountLabel": mount_label}
    }))
    .unwrap()
}

#[test]
fn absent_or_empty_values_need_nothing() {
    validate_process_on(&process(json!({})), NONE).unwrap();
    let empty = process(json!({"apparmorProfile": "", "selinuxLabel": ""}));
    validate_process_on(&empty, NONE).unwrap();
    validate_mount_label_on(&spec(""), NONE).unwrap();
    assert_eq!(mount_label(&spec("")), None);
}

#[test]
fn a_missing_lsm_is_an_error_naming_the_field() {
    let p = process(json!({"apparmorProfile": "berth-test"}));
    let err = validate_process_on(&p, NONE).unwrap_err().to_string();
    assert_eq!(
        err,
        "process.apparmorProfile: cannot apply profile \"berth-test\": AppArmor is not enabled on this host"
    );
    validate_process_on(&p, BOTH).unwrap();
    let p = process(json!({"selinuxLabel": "system_u:system_r:container_t:s0"}));
    let err = validate_process_on(&p, NONE).unwrap_err().to_string();
    assert!(
        err.starts_with("process.selinuxLabel: cannot apply label"),
        "{err}"
    );
    validate_process_on(&p, BOTH).unwrap();
    let s = spec("system_u:object_r:container_file_t:s0:c1,c2");
    let err = validate_mount_label_on(&s, NONE).unwrap_err().to_string();
    assert!(
        err.starts_with("linux.mountLabel: cannot apply label"),
        "{err}"
    );
    validate_mount_label_on(&s, BOTH).unwrap();
}

#[test]
fn malformed_values_are_rejected() {
    let p = process(json!({"apparmorProfile": "a\nchangeprofile b"}));
    let err = validate_process_on(&p, BOTH).unwrap_err().to_string();
    assert!(err.starts_with("process.apparmorProfile:"), "{err}");
    for bad in ["container_t", "a::c", "u:r:t\n"] {
        let p = process(json!({"selinuxLabel": bad}));
        let err = validate_process_on(&p, BOTH).unwrap_err().to_string();
        assert!(err.starts_with("process.selinuxLabel:"), "{bad:?}: {err}");
    }
}

#[test]
fn mount_label_goes_into_the_data_of_new_filesystems() {
    let label = Some("system_u:object_r:container_file_t:s0:c1,c2");
    assert_eq!(
        label_mount_data("mode=755,size=65536k".into(), "tmpfs", label),
        "mode=755,size=65536k,context=\"system_u:object_r:container_file_t:s0:c1,c2\""
    );
    assert_eq!(
        label_mount_data(String::new(), "mqueue", label),
        "context=\"system_u:object_r:container_file_t:s0:c1,c2\""
    );
    assert!(label_mount_data("gid=5".into(), "devpts", label).starts_with("gid=5,context="));
    for kernel_labelled in ["proc", "sysfs", "cgroup", "cgroup2", "bind"] {
        assert_eq!(label_mount_data("ro".into(), kernel_labelled, label), "ro");
    }
    assert_eq!(
        label_mount_data("mode=755".into(), "tmpfs", None),
        "mode=755"
    );
}

#[test]
fn host_probe_matches_the_kernel() {
    let apparmor = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|v| v.trim() == "Y");
    assert_eq!(apparmor_enabled(), apparmor);
    let lsms = std::fs::read_to_string("/sys/kernel/security/lsm").unwrap_or_default();
    if !lsms.split(',').any(|l| l == "selinux") {
        assert!(!selinux_enabled());
    }
}

/// The exec attribute is written through the verified procfs handle: on a host without
/// AppArmor the attribute files are absent or refuse the write, and the error names the file.
#[test]
fn exec_labels_fail_cleanly_without_the_lsm() {
    let proc = ProcFs::open_host().unwrap();
    apply_exec_labels(&process(json!({})), &proc).unwrap();
    if apparmor_enabled() {
        return;
    }
    let p = process(json!({"apparmorProfile": "berth-no-such-profile"}));
    let err = apply_exec_labels(&p, &proc).unwrap_err().to_string();
    assert!(err.contains("/proc/thread-self/attr/"), "{err}");
}
