//! Scheduling of the calling process: sched_setattr(2) (all policies, including
//! SCHED_DEADLINE) and ioprio_set(2). Neither is in nix or libc's function list.
use nix::errno::Errno;

/// `struct sched_attr` (linux/sched/types.h), SCHED_ATTR_SIZE_VER1 (56 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchedAttr {
    pub size: u32,
    pub policy: u32,
    pub flags: u64,
    pub nice: i32,
    pub priority: u32,
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
    pub util_min: u32,
    pub util_max: u32,
}

/// The size of [`SchedAttr`] that the kernel expects in `size`.
pub const SCHED_ATTR_SIZE: u32 = std::mem::size_of::<SchedAttr>() as u32;

/// Applies `attr` to the calling thread (pid 0).
pub fn sched_setattr(attr: &SchedAttr) -> nix::Result<()> {
    let mut attr = *attr;
    attr.size = SCHED_ATTR_SIZE;
    // SAFETY: attr is a valid sched_attr of the size it declares; the kernel only reads it.
    let ret = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) };
    Errno::result(ret).map(drop)
}

/// `IOPRIO_WHO_PROCESS`.
const IOPRIO_WHO_PROCESS: libc::c_int = 1;
/// The class is stored above the 13 bits of priority data.
const IOPRIO_CLASS_SHIFT: u32 = 13;

/// Sets the I/O scheduling class and priority of the calling process.
pub fn ioprio_set(class: u32, data: u32) -> nix::Result<()> {
    let prio = (class << IOPRIO_CLASS_SHIFT) | data;
    // SAFETY: plain syscall with integer arguments.
    let ret = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, prio) };
    Errno::result(ret).map(drop)
}

/// The I/O priority of the calling process, as (class, data).
#[cfg(test)]
pub fn ioprio_get() -> nix::Result<(u32, u32)> {
    // SAFETY: plain syscall with integer arguments.
    let ret = unsafe { libc::syscall(libc::SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0) };
    Errno::result(ret).map(|p| ((p as u32) >> IOPRIO_CLASS_SHIFT, (p as u32) & 0x1fff))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sched_attr_has_the_kernel_layout() {
        assert_eq!(SCHED_ATTR_SIZE, 56);
        assert_eq!(std::mem::offset_of!(SchedAttr, runtime), 24);
    }
}
