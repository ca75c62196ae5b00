//! `berth features`: the runtime-spec features document, listing exactly what is implemented.
//! A test keeps it honest: every listed item is exercised or checked against the code's tables.
use serde_json::{json, Value};

/// The mount options berth understands (see `rootfs`).
pub fn mount_options() -> &'static [&'static str] {
    crate::rootfs::MOUNT_OPTIONS
}

/// The features document.
pub fn features() -> Value {
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": crate::OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": mount_options(),
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": crate::process::known_capabilities(),
            "cgroup": crate::cgroups::features(),
            "seccomp": crate::seccomp::features(),
            // runtime-spec: "whether AppArmor (SELinux) support is compiled in; unrelated to
            // whether the host supports it". berth implements both (see `lsm`); on a host
            // without the LSM a profile or label is an error at create.
            "apparmor": {"enabled": true},
            "selinux": {"enabled": true},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": false}},
        },
        "annotations": {
            "org.opencontainers.runc.checkpoint.enabled": "false",
            "io.github.berth.version": env!("CARGO_PKG_VERSION"),
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn spec(edit: impl FnOnce(&mut Value)) -> oci_spec::runtime::Spec {
        let mut v = json!({
            "ociVersion": "1.3.0",
            "process": {"args": ["true"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
            "root": {"path": "rootfs"},
            "linux": {"namespaces": [{"type": "mount"}]}
        });
        edit(&mut v);
        serde_json::from_value(v).unwrap()
    }

    fn accepted(s: &oci_spec::runtime::Spec) -> bool {
        crate::spec::validate(s).is_ok()
    }

    #[test]
    fn document_has_the_runtime_spec_shape() {
        let f: oci_spec::runtime::Features = serde_json::from_value(features()).unwrap();
        assert_eq!(f.oci_version_max(), crate::OCI_VERSION);
    }

    #[test]
    fn every_listed_mount_option_is_accepted_and_others_are_not() {
        for opt in mount_options() {
            let as_tmpfs = spec(|v| {
                v["mounts"] = json!([{"destination": "/x", "type": "tmpfs", "source": "tmpfs", "options": [opt]}]);
            });
            let as_bind = spec(|v| {
                v["mounts"] = json!([{"destination": "/x", "type": "bind", "source": "/tmp", "options": ["rbind", opt]}]);
            });
            assert!(
                accepted(&as_tmpfs) || accepted(&as_bind),
                "{opt} is listed but rejected"
            );
        }
        let unknown = spec(|v| {
            v["mounts"] = json!([{"destination": "/x", "type": "tmpfs", "source": "tmpfs", "options": ["nosiud"]}]);
        });
        assert!(!accepted(&unknown));
    }

    #[test]
    fn every_listed_namespace_is_accepted() {
        let doc = features();
        for ns in doc["linux"]["namespaces"].as_array().unwrap() {
            let s = spec(|v| {
                v["linux"]["namespaces"] = json!([{"type": "mount"}]);
                if ns != "mount" {
                    v["linux"]["namespaces"]
                        .as_array_mut()
                        .unwrap()
                        .push(json!({"type": ns}));
                }
                if ns == "user" {
                    let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
                    v["linux"]["uidMappings"] = map.clone();
                    v["linux"]["gidMappings"] = map;
                }
            });
            crate::spec::validate(&s).unwrap_or_else(|e| panic!("{ns}: {e}"));
        }
    }

    #[test]
    fn every_listed_capability_parses() {
        let doc = features();
        for cap in doc["linux"]["capabilities"].as_array().unwrap() {
            serde_json::from_value::<oci_spec::runtime::Capability>(cap.clone())
                .unwrap_or_else(|e| panic!("{cap}: {e}"));
        }
    }

    #[test]
    fn every_listed_hook_kind_is_accepted() {
        let doc = features();
        for kind in doc["hooks"].as_array().unwrap() {
            let s = spec(|v| {
                v["hooks"] = json!({kind.as_str().unwrap(): [{"path": "/bin/true"}]});
            });
            crate::spec::validate(&s).unwrap_or_else(|e| panic!("{kind}: {e}"));
            let parsed = s.hooks().clone().unwrap_or_default();
            let set = [
                parsed.prestart().is_some(),
                parsed.create_runtime().is_some(),
                parsed.create_container().is_some(),
                parsed.start_container().is_some(),
                parsed.poststart().is_some(),
                parsed.poststop().is_some(),
            ];
            assert_eq!(
                set.iter().filter(|b| **b).count(),
                1,
                "{kind} not a hook kind"
            );
        }
    }

    #[test]
    fn disabled_features_are_rejected() {
        let doc = features();
        assert_eq!(doc["linux"]["intelRdt"]["enabled"], false);
        assert!(!accepted(&spec(|v| {
            v["linux"]["intelRdt"] = json!({"closID": "x"});
        })));
        assert_eq!(doc["linux"]["mountExtensions"]["idmap"]["enabled"], false);
        assert!(!accepted(&spec(|v| {
            v["mounts"] = json!([{"destination": "/x", "type": "bind", "source": "/tmp", "options": ["rbind", "idmap"]}]);
        })));
    }
}
