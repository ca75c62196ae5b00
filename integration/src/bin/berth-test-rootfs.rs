//! Builds (or refreshes) the cached test rootfs, building the payload if needed, and prints its
//! path. scripts/test.sh runs it before the end-to-end tests.
fn main() {
    println!("{}", berth_integration::rootfs::cached().display());
}
