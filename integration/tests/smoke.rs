use berth_integration::TestEnv;

#[test]
fn smoke_report() {
    let t = TestEnv::new("smoke");
    let b = t.bundle();
    let r = t.report(&b);
    assert_eq!(r.num("pid"), 1);
}
