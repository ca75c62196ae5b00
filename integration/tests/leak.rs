//! Many lifecycles in a row leave nothing behind: no processes, mounts, state dirs, cgroups,
//! and no fds piling up in the engine-side process. (Its own test binary, so that no other
//! test runs at the same time and the host-wide comparisons are exact.)
use berth_integration::{host, TestEnv};

const CYCLES: usize = 200;

#[test]
fn create_start_wait_delete_200_times() {
    let t = TestEnv::new("leak");
    let mut b = t.bundle();
    b.payload(&["exit", "0"]);
    let mounts_before: Vec<String> = host::mountinfo().into_iter().map(|m| m.line).collect();
    let fds_before = host::open_fds();
    let mut last_pid = 0;
    for cycle in 0..CYCLES {
        t.create(&b).ok();
        let pid = b.pid();
        assert_ne!(pid, last_pid, "cycle {cycle}: pid file not rewritten");
        last_pid = pid;
        t.start(&b).ok();
        assert_eq!(host::exit_status(pid), 0, "cycle {cycle}");
        t.delete(&b).ok();
        assert!(
            !t.rt.root.join(&b.id).exists(),
            "cycle {cycle}: state dir left"
        );
    }
    // The last container still saw only its stdio.
    b.payload(&[]);
    let pid = t.create_and_start(&b);
    assert_eq!(host::exit_status(pid), 0);
    t.delete(&b).ok();
    assert_eq!(b.report().fd_numbers(), [0, 1, 2]);

    t.assert_nothing_left(&b);
    t.assert_root_empty();
    let mounts_after: Vec<String> = host::mountinfo().into_iter().map(|m| m.line).collect();
    assert_eq!(mounts_before, mounts_after, "the mount table changed");
    // The env's pidfds of the (exited) containers are not a leak.
    t.forget_exited();
    assert_eq!(
        fds_before,
        host::open_fds(),
        "fds leaked into the test process"
    );
}
