//! Commands on one id from separate processes at the same time, as shims do.
use berth_integration::{host, runc_differs, Bundle, TestEnv};

/// Two `create`s of the same id at once: exactly one succeeds, the other fails cleanly, and
/// the winner is intact. Repeated to give the race a chance.
#[test]
fn concurrent_creates_of_one_id() {
    if runc_differs(
        "runc 1.1.5 does not lock the id: both creates can fail, or the loser removes the \
         winner's state",
    ) {
        return;
    }
    let t = TestEnv::new("race-create");
    for round in 0..10 {
        let a = t.bundle();
        // A second bundle with the same id and config.
        let mut other = t.bundle();
        other.id = a.id.clone();
        other.tag = a.tag.clone();
        other.spec = a.spec.clone();
        a.write_config();
        other.write_config();
        let first = t.create_call(&a, &[]).spawn();
        let second = t.create_call(&other, &[]).spawn();
        let outs = [first.wait(), second.wait()];
        let winners: Vec<&Bundle> = outs
            .iter()
            .zip([&a, &other])
            .filter(|(o, _)| o.success())
            .map(|(_, b)| b)
            .collect();
        assert_eq!(
            winners.len(),
            1,
            "round {round}: {} succeeded:\n{}\n{}",
            winners.len(),
            outs[0],
            outs[1]
        );
        let loser = outs.iter().find(|o| !o.success()).unwrap();
        loser.failed();
        let winner = winners[0];
        let state = t.state_json(winner);
        assert_eq!(state["status"], "created", "round {round}");
        assert_eq!(state["pid"], winner.pid(), "round {round}");
        assert!(host::alive(winner.pid()));
        t.start(winner).ok();
        assert_eq!(host::exit_status(winner.pid()), 0);
        t.delete(winner).ok();
        t.assert_nothing_left(&a);
    }
}

/// Many containers created, started and deleted in parallel do not disturb each other.
#[test]
fn parallel_lifecycles_of_different_ids() {
    let t = TestEnv::new("parallel");
    let bundles: Vec<Bundle> = (0..6)
        .map(|_| {
            let mut b = t.bundle();
            b.payload(&["exit", "7"]);
            b.write_config();
            b
        })
        .collect();
    let creates: Vec<_> = bundles
        .iter()
        .map(|b| t.create_call(b, &[]).spawn())
        .collect();
    for (out, b) in creates.into_iter().map(|r| r.wait()).zip(&bundles) {
        out.ok();
        t.track_pid(b.pid());
    }
    let starts: Vec<_> = bundles
        .iter()
        .map(|b| t.call(b, ["start", &b.id]).spawn())
        .collect();
    for out in starts {
        out.wait().ok();
    }
    for b in &bundles {
        assert_eq!(host::exit_status(b.pid()), 7);
    }
    let deletes: Vec<_> = bundles
        .iter()
        .map(|b| t.call(b, ["delete", &b.id]).spawn())
        .collect();
    for out in deletes {
        out.wait().ok();
    }
    for b in &bundles {
        t.assert_nothing_left(b);
    }
    t.assert_root_empty();
}
