//! The container's filesystem view, built inside its new mount namespace: the rootfs bind,
//! `mounts` in order with every Linux mount option, propagation, devices, `/dev` symlinks,
//! `/dev/pts` + `/dev/ptmx`, `pivot_root` (or `--no-pivot`), `maskedPaths`, `readonlyPaths`,
//! `root.readonly` and `sysctl`.
//!
//! Every destination is resolved inside the rootfs (never following a symlink out of it), so an
//! image cannot redirect a mount onto the host: see `paths`.
//!
//! Files: `validate` (spec checks), `options` (mount option words), `paths` (resolution inside
//! the root), `mounts` (root propagation and `mounts`), `cgroup` (mounts of type `cgroup`),
//! `devices`, `pivot`, `masked` (the steps after pivot), `sysctl`, `mountinfo`.
use std::path::Path;

use oci_spec::runtime::Spec;

use crate::procfs::ProcFs;
use crate::Result;

mod cgroup;
mod devices;
mod masked;
mod mountinfo;
mod mounts;
mod options;
mod paths;
mod pivot;
mod sysctl;
#[cfg(test)]
mod tests;
mod validate;

pub(crate) use options::MOUNT_OPTIONS;

/// What the rootfs steps need to know, besides the spec.
pub(crate) struct RootfsConfig<'a> {
    pub spec: &'a Spec,
    /// Absolute host path of the root filesystem (`root.path` resolved against the bundle).
    pub rootfs: &'a Path,
    /// Absolute path of the bundle: relative bind sources are resolved against it.
    pub bundle: &'a Path,
    /// `create --no-pivot`: move the rootfs onto `/` and chroot instead of `pivot_root`.
    pub no_pivot: bool,
    /// The container has its own user namespace (device nodes must be bind-mounted).
    pub userns: bool,
    /// The container has its own cgroup namespace (the `cgroup` mount type mounts fresh
    /// hierarchies instead of binding the container's cgroups).
    pub cgroupns: bool,
    /// Puts init in its cgroups (and its cgroup namespace): called once, before the first
    /// `cgroup` mount or bind from `/sys/fs/cgroup`, or else after the last mount; always
    /// before any device node is made.
    pub join_cgroups: &'a dyn Fn() -> Result<()>,
}

/// Checks the rootfs-related fields of the spec (mounts, devices, propagation, paths, sysctl)
/// before anything is created. Unknown mount options and unsupported fields are errors here.
pub(crate) fn validate(spec: &Spec) -> Result<()> {
    validate::validate(spec)
}

/// Runs in init, in the new mount namespace, before the createRuntime hooks: makes `/`
/// private/slave as configured, binds the rootfs onto itself, performs `mounts`, creates devices
/// and `/dev` symlinks. The host's `/proc` is still at `/proc` during this step.
pub(crate) fn prepare(cfg: &RootfsConfig) -> Result<()> {
    let host_mounts = mounts::prepare_root(cfg)?;
    let root = paths::Root::open(cfg.rootfs)?;
    let joined = std::cell::Cell::new(false);
    let join = || match joined.replace(true) {
        false => (cfg.join_cgroups)(),
        true => Ok(()),
    };
    mounts::mount_all(cfg, &root, &host_mounts, &join)?;
    join()?;
    devices::create(cfg, &root)
}

/// Writes `linux.sysctl` through the host's procfs handle (so that nothing in the container,
/// nor a joined mount namespace, can redirect the writes); init is already in the container's
/// namespaces, and `/proc/sys/net` and the ipc keys follow the writer's namespaces.
pub(crate) fn apply_sysctl(cfg: &RootfsConfig, proc: &ProcFs) -> Result<()> {
    sysctl::apply(cfg.spec, proc)
}

/// Makes the rootfs the process's `/` (pivot_root, or MS_MOVE + chroot with `no_pivot`) and
/// leaves the cwd at the new `/`.
pub(crate) fn pivot(cfg: &RootfsConfig) -> Result<()> {
    pivot::pivot(cfg.rootfs, cfg.no_pivot)
}

/// After `pivot_root` (and after the console is bound): `readonlyPaths`, `maskedPaths`,
/// `root.readonly`, and the final `rootfsPropagation`.
pub(crate) fn finalize(cfg: &RootfsConfig) -> Result<()> {
    masked::finalize(cfg.spec)
}
