use std::io::{IoSliceMut, Read};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use libseccomp::{ScmpNotifReq, ScmpNotifResp, ScmpNotifRespFlags};
use nix::errno::Errno;
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, UnixAddr};
use oci_spec::runtime::{Arch, Capability, LinuxSeccomp, Spec};
use serde_json::{json, Value};

use super::*;

const PROFILE_JSON: &str = include_str!("../../../seccomp-profiles/default.json");
const PROFILE_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../seccomp-profiles/default.json"
);

fn parse(v: Value) -> LinuxSeccomp {
    serde_json::from_value(v).expect("valid LinuxSeccomp JSON")
}

fn field_of(err: Error) -> String {
    match err {
        Error::InvalidSpec { field, .. } => field,
        e => panic!("not a spec error: {e}"),
    }
}

#[test]
fn validate_names_the_field() {
    let cases = [
        (
            json!({"defaultAction": "SCMP_ACT_KILL", "defaultErrnoRet": 5}),
            "linux.seccomp.defaultErrnoRet",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/x"}),
            "linux.seccomp.defaultAction",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["write"], "action": "SCMP_ACT_LOG", "errnoRet": 1}]}),
            "linux.seccomp.syscalls[1].errnoRet",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 70000}]}),
            "linux.seccomp.syscalls[0].errnoRet",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": [], "action": "SCMP_ACT_ERRNO"}]}),
            "linux.seccomp.syscalls[0].names",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["read", ""], "action": "SCMP_ACT_ERRNO"}]}),
            "linux.seccomp.syscalls[0].names[1]",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["write"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["open"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["close"], "action": "SCMP_ACT_ERRNO", "args": [
                    {"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}),
            "linux.seccomp.syscalls[3].args[0].index",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [
                    {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                    {"index": 1, "value": 1, "valueTwo": 2, "op": "SCMP_CMP_GT"}]}]}),
            "linux.seccomp.syscalls[0].args[1].valueTwo",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
            "linux.seccomp.listenerPath",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock"}),
            "linux.seccomp.listenerPath",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "agent.sock",
                   "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
            "linux.seccomp.listenerPath",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerMetadata": "x"}),
            "linux.seccomp.listenerMetadata",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/a",
                   "syscalls": [{"names": ["sendmsg"], "action": "SCMP_ACT_NOTIFY"}]}),
            "linux.seccomp.syscalls[0].action",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW",
                   "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]}),
            "linux.seccomp.flags[1]",
        ),
    ];
    for (spec, field) in cases {
        let err = validate(&parse(spec.clone())).expect_err(&spec.to_string());
        assert!(!err.to_string().contains('\n'));
        assert_eq!(field_of(err), field, "{spec}");
    }
}

#[test]
fn unknown_action_is_a_parse_error() {
    let r: std::result::Result<LinuxSeccomp, _> =
        serde_json::from_value(json!({"defaultAction": "SCMP_ACT_NOPE"}));
    assert!(r.is_err());
}

#[test]
fn compiles_every_action_operator_and_flag() {
    let ops = [
        "SCMP_CMP_NE",
        "SCMP_CMP_LT",
        "SCMP_CMP_LE",
        "SCMP_CMP_EQ",
        "SCMP_CMP_GE",
        "SCMP_CMP_GT",
    ];
    let mut rules: Vec<Value> = ops
        .iter()
        .enumerate()
        .map(|(i, op)| {
            json!({"names": ["lseek"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22,
                              "args": [{"index": 2, "value": i, "op": op}]})
        })
        .collect();
    rules.extend([
        json!({"names": ["ioctl"], "action": "SCMP_ACT_ERRNO",
               "args": [{"index": 1, "value": 0xffff_ffffu64, "valueTwo": 0x5412, "op": "SCMP_CMP_MASKED_EQ"}]}),
        // several conditions on different arguments: AND
        json!({"names": ["socket"], "action": "SCMP_ACT_ERRNO",
               "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_EQ"},
                        {"index": 1, "value": 1, "op": "SCMP_CMP_EQ"}]}),
        // several conditions on one argument: one rule each
        json!({"names": ["personality"], "action": "SCMP_ACT_ERRNO",
               "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                        {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]}),
        json!({"names": ["kill"], "action": "SCMP_ACT_KILL"}),
        json!({"names": ["tkill"], "action": "SCMP_ACT_KILL_THREAD"}),
        json!({"names": ["tgkill"], "action": "SCMP_ACT_KILL_PROCESS"}),
        json!({"names": ["acct"], "action": "SCMP_ACT_TRAP"}),
        json!({"names": ["swapon"], "action": "SCMP_ACT_TRACE", "errnoRet": 3}),
        json!({"names": ["swapoff"], "action": "SCMP_ACT_TRACE"}),
        json!({"names": ["syslog"], "action": "SCMP_ACT_LOG"}),
        json!({"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}),
        // the default action: skipped, not an error
        json!({"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}),
        // names no libseccomp knows: skipped
        json!({"names": ["not_a_syscall_berth", "read"], "action": "SCMP_ACT_ERRNO"}),
        // a name that exists on other architectures only (x86's socketcall on x86_64)
        json!({"names": ["socketcall"], "action": "SCMP_ACT_ERRNO"}),
    ]);
    let seccomp = parse(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64"],
        "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                  "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        "listenerPath": "/run/agent.sock",
        "syscalls": rules,
    }));
    let filter = compile(&seccomp).expect("compiles");
    assert!(filter.notifies());
    assert!(filter.len() > 40, "{} instructions", filter.len());
    for flag in [
        sys::FLAG_TSYNC,
        sys::FLAG_LOG,
        sys::FLAG_SPEC_ALLOW,
        sys::FLAG_WAIT_KILLABLE_RECV,
        sys::FLAG_TSYNC_ESRCH,
    ] {
        assert_ne!(filter.flags & flag, 0, "flag {flag:#x}");
    }
}

#[test]
fn every_known_architecture_compiles() {
    let features = features();
    let archs = features["archs"].as_array().unwrap().clone();
    assert!(archs.contains(&json!("SCMP_ARCH_X86_64")));
    assert!(archs.contains(&json!("SCMP_ARCH_AARCH64")));
    let seccomp = parse(
        json!({"defaultAction": "SCMP_ACT_ERRNO", "architectures": archs,
                               "syscalls": [{"names": ["read", "write", "open"], "action": "SCMP_ACT_ALLOW"}]}),
    );
    compile(&seccomp).expect("compiles for every architecture libseccomp knows");
}

#[test]
fn features_are_truthful() {
    let f = features();
    assert_eq!(f["enabled"], json!(true));
    for a in [
        "SCMP_ACT_ALLOW",
        "SCMP_ACT_ERRNO",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_NOTIFY",
        "SCMP_ACT_LOG",
    ] {
        assert!(f["actions"].as_array().unwrap().contains(&json!(a)), "{a}");
    }
    assert_eq!(f["operators"].as_array().unwrap().len(), 7);
    assert_eq!(f["knownFlags"].as_array().unwrap().len(), 4);
    // every supported flag really compiles and installs (probed, not loaded here)
    for flag in f["supportedFlags"].as_array().unwrap() {
        let mut spec = json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": [flag]});
        if flag == "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" {
            spec["listenerPath"] = json!("/a");
            spec["syscalls"] = json!([{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]);
        }
        compile(&parse(spec)).expect("supported flag compiles");
    }
    // an architecture reported as unknown is rejected, naming it
    for arch in ARCHES {
        let known = f["archs"]
            .as_array()
            .unwrap()
            .contains(&json!(arch.to_string()));
        let r = validate(&parse(
            json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": [arch]}),
        ));
        assert_eq!(r.is_ok(), known, "{arch}");
    }
}

#[test]
fn process_state_has_the_spec_shape() {
    let state = br#"{"ociVersion":"1.3.0","id":"c1","status":"creating","pid":42,"bundle":"/b","annotations":{}}"#;
    let msg: Value = serde_json::from_slice(&process_state(42, Some("meta"), state)).unwrap();
    assert_eq!(msg["fds"], json!(["seccompFd"]));
    assert_eq!(msg["pid"], json!(42));
    assert_eq!(msg["metadata"], json!("meta"));
    assert_eq!(msg["state"]["status"], json!("creating"));
    assert_eq!(msg["ociVersion"], json!(crate::OCI_VERSION));
    let msg: Value = serde_json::from_slice(&process_state(1, None, state)).unwrap();
    assert!(msg.get("metadata").is_none());
}

#[test]
fn default_profile_file_matches_the_generator() {
    let generated = default_profile(DEFAULT_CAPABILITIES, Arch::ScmpArchX86_64);
    let text = serde_json::to_string_pretty(&generated).unwrap() + "\n";
    if std::env::var_os("BERTH_WRITE_PROFILE").is_some() {
        std::fs::write(PROFILE_PATH, &text).unwrap();
        return;
    }
    let file: LinuxSeccomp = serde_json::from_str(PROFILE_JSON).expect("default.json parses");
    assert_eq!(
        file, generated,
        "seccomp-profiles/default.json is stale: rerun this test with BERTH_WRITE_PROFILE=1"
    );
}

#[test]
fn default_profile_compiles_for_x86_64_and_aarch64() {
    let file: LinuxSeccomp = serde_json::from_str(PROFILE_JSON).unwrap();
    for profile in [
        file,
        default_profile(DEFAULT_CAPABILITIES, Arch::ScmpArchAarch64),
        default_profile(
            &[Capability::SysAdmin, Capability::SysPtrace],
            Arch::ScmpArchAarch64,
        ),
        default_profile(DEFAULT_CAPABILITIES, Arch::ScmpArchRiscv64),
    ] {
        let filter = compile(&profile).expect("default profile compiles");
        assert!(!filter.notifies());
    }
    // the time the runtime pays (printed with --nocapture)
    let profile = default_profile(DEFAULT_CAPABILITIES, host_arch());
    let runs = 20;
    let start = Instant::now();
    let mut len = 0;
    for _ in 0..runs {
        len = compile(&profile).unwrap().len();
    }
    let each = start.elapsed() / runs;
    println!(
        "default profile ({:?}): {len} BPF instructions, compiled in {each:?}",
        host_arch()
    );
}

#[test]
fn cache_returns_the_same_filter_and_survives_bad_entries() {
    let dir = std::env::temp_dir().join(format!("berth-seccomp-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let profile = default_profile(DEFAULT_CAPABILITIES, host_arch());
    let bytes = |f: &Filter| (compile::program_to_bytes(&f.program), f.flags);
    let fresh = bytes(&compile(&profile).unwrap());

    let start = Instant::now();
    let miss = compile_cached(&profile, &dir).unwrap();
    let miss_time = start.elapsed();
    let start = Instant::now();
    let hit = compile_cached(&profile, &dir).unwrap();
    let hit_time = start.elapsed();
    println!("default profile: cache miss {miss_time:?}, hit {hit_time:?}");
    assert_eq!(bytes(&miss), fresh);
    assert_eq!(bytes(&hit), fresh);
    let entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");

    // a truncated entry, and an entry for another profile under the same name, are recompiled
    let data = std::fs::read(&entries[0]).unwrap();
    std::fs::write(&entries[0], &data[..data.len() - 3]).unwrap();
    assert_eq!(bytes(&compile_cached(&profile, &dir).unwrap()), fresh);
    let other = parse(json!({"defaultAction": "SCMP_ACT_ALLOW"}));
    let other_entry = {
        let d = std::env::temp_dir().join(format!("berth-seccomp-cache2-{}", std::process::id()));
        compile_cached(&other, &d).unwrap();
        let e = std::fs::read_dir(&d)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let data = std::fs::read(&e).unwrap();
        std::fs::remove_dir_all(&d).unwrap();
        data
    };
    std::fs::write(&entries[0], other_entry).unwrap();
    assert_eq!(bytes(&compile_cached(&profile, &dir).unwrap()), fresh);
    // an invalid profile is rejected even when cached entries exist
    let mut bad = profile.clone();
    bad.set_default_errno_ret(Some(1 << 20));
    assert!(compile_cached(&bad, &dir).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn capabilities_open_their_syscalls() {
    let names = |caps: &[Capability]| -> Vec<String> {
        default_profile(caps, Arch::ScmpArchX86_64)
            .syscalls()
            .as_ref()
            .unwrap()[0]
            .names()
            .clone()
    };
    let plain = names(DEFAULT_CAPABILITIES);
    for denied in [
        "mount",
        "unshare",
        "setns",
        "keyctl",
        "ptrace",
        "bpf",
        "kexec_load",
        "init_module",
        "clone",
    ] {
        assert!(
            !plain.iter().any(|n| n == denied),
            "{denied} allowed by default"
        );
    }
    for allowed in [
        "chroot",
        "getrandom",
        "read",
        "openat",
        "execve",
        "futex",
        "rt_sigreturn",
    ] {
        assert!(
            plain.iter().any(|n| n == allowed),
            "{allowed} denied by default"
        );
    }
    let admin = names(&[Capability::SysAdmin]);
    assert!(admin.iter().any(|n| n == "mount") && admin.iter().any(|n| n == "clone"));
    assert!(!admin.iter().any(|n| n == "chroot"));
    assert!(names(&[Capability::SysPtrace])
        .iter()
        .any(|n| n == "ptrace"));
}

// Tests below re-run this test binary as a child process (`CHILD` names the test to run), so
// that the filter never lands on the test runner's own threads.
const CHILD: &str = "BERTH_SECCOMP_CHILD";

fn is_child(name: &str) -> bool {
    std::env::var(CHILD).as_deref() == Ok(name)
}

fn run_child(name: &str, env: &[(&str, &std::ffi::OsStr)]) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            &format!("seccomp::tests::{name}"),
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, name)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child {name} failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn default_profile_denies_in_a_child() {
    run_child("default_profile_child", &[]);
}

#[test]
fn default_profile_child() {
    if !is_child("default_profile_child") {
        return;
    }
    use nix::sched::{unshare, CloneFlags};
    use nix::sys::personality::{self, Persona};
    let filter = compile(&default_profile(DEFAULT_CAPABILITIES, host_arch())).unwrap();
    nix::sys::prctl::set_no_new_privs().unwrap();
    assert!(load(&filter).unwrap().is_none());

    assert_eq!(unshare(CloneFlags::CLONE_NEWNS), Err(Errno::EPERM));
    assert_eq!(unshare(CloneFlags::CLONE_NEWUSER), Err(Errno::EPERM));
    let target = "/nonexistent-berth-seccomp-test";
    let mounted = nix::mount::mount(
        Some("none"),
        target,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    );
    assert_eq!(mounted, Err(Errno::EPERM));
    assert_eq!(
        crate::sys::process::join_session_keyring("berth-test"),
        Err(Errno::EPERM)
    );
    assert_eq!(sys::ptrace_attach_nobody(), Err(Errno::EPERM));
    assert_eq!(
        personality::set(Persona::ADDR_NO_RANDOMIZE),
        Err(Errno::EPERM)
    );
    assert!(personality::get().is_ok());
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
    let vsock = socket(
        AddressFamily::Vsock,
        SockType::Stream,
        SockFlag::empty(),
        None,
    );
    assert_eq!(vsock.err(), Some(Errno::EPERM));
    assert!(socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::empty(),
        None
    )
    .is_ok());
    assert!(socket(
        AddressFamily::Inet6,
        SockType::Datagram,
        SockFlag::empty(),
        None
    )
    .is_ok());

    // what ordinary programs do still works
    assert_eq!(nix::unistd::getpid().as_raw() as u32, std::process::id());
    let dir = std::env::temp_dir().join(format!("berth-seccomp-{}", std::process::id()));
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("f"), b"hello").unwrap();
    assert_eq!(std::fs::read(dir.join("f")).unwrap(), b"hello");
    std::fs::remove_dir_all(&dir).unwrap();
    // threads (clone3 gets ENOSYS, the C library falls back to clone without namespace flags)
    assert_eq!(std::thread::spawn(|| 7).join().unwrap(), 7);
    assert!(Command::new("/bin/true").status().unwrap().success());
}

#[test]
fn notify_listener_fakes_mkdir() {
    let dir = std::env::temp_dir().join(format!("berth-seccomp-notify-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).unwrap();
    let sock = dir.join("agent.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let target = dir.join("made-by-child");

    let agent = std::thread::spawn(move || -> (Value, String) {
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 4096];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let (n, fd) = {
            let mut iov = [IoSliceMut::new(&mut buf)];
            let msg = recvmsg::<UnixAddr>(
                conn.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::empty(),
            )
            .unwrap();
            let fd = msg.cmsgs().unwrap().find_map(|c| match c {
                ControlMessageOwned::ScmRights(fds) => fds.first().copied(),
                _ => None,
            });
            (msg.bytes, fd.expect("notify fd attached"))
        };
        buf.truncate(n);
        conn.read_to_end(&mut buf).unwrap();
        let state: Value = serde_json::from_slice(&buf).unwrap();
        // answer the child's mkdir with success, without making the directory
        let req = ScmpNotifReq::receive(fd).unwrap();
        let name = req.data.syscall.get_name().unwrap();
        ScmpNotifResp::new_val(req.id, 0, ScmpNotifRespFlags::empty())
            .respond(fd)
            .unwrap();
        nix::unistd::close(fd).unwrap();
        (state, name)
    });

    run_child(
        "notify_child",
        &[
            ("BERTH_SOCK", sock.as_os_str()),
            ("BERTH_TARGET", target.as_os_str()),
        ],
    );
    let (state, name) = agent.join().unwrap();
    assert!(name == "mkdir" || name == "mkdirat", "{name}");
    assert_eq!(state["fds"], json!(["seccompFd"]));
    assert_eq!(state["metadata"], json!("agent-data"));
    assert_eq!(state["state"]["id"], json!("c1"));
    assert!(!target.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn notify_child() {
    if !is_child("notify_child") {
        return;
    }
    let sock = PathBuf::from(std::env::var_os("BERTH_SOCK").unwrap());
    let target = PathBuf::from(std::env::var_os("BERTH_TARGET").unwrap());
    let spec: Spec = serde_json::from_value(json!({
        "ociVersion": "1.3.0",
        "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}, "noNewPrivileges": true},
        "linux": {"seccomp": {
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": sock,
            "listenerMetadata": "agent-data",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}],
        }},
    }))
    .unwrap();
    let linux_seccomp = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref());
    let seccomp = Seccomp::prepare(linux_seccomp, true, None)
        .unwrap()
        .unwrap();
    assert!(!seccomp.before_capabilities());
    let listener = connect_listener(&sock).unwrap();
    let state = br#"{"ociVersion":"1.3.0","id":"c1","status":"creating","pid":1,"bundle":"/b","annotations":{}}"#;
    seccomp
        .install(Some(listener), std::process::id() as i32, state)
        .unwrap();
    std::fs::create_dir(&target).expect("the agent answers success");
    assert!(!target.exists(), "the agent only pretended");
}

#[test]
fn unreachable_listener_is_an_error() {
    let err = connect_listener(std::path::Path::new("/nonexistent/berth-agent.sock")).unwrap_err();
    assert!(
        err.to_string().contains("/nonexistent/berth-agent.sock"),
        "{err}"
    );
}
