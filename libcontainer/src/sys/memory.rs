//! Memory of the waiting init: a container's init sits in the created state (possibly for a
//! long time, possibly by the thousand) holding pages it touched while it set the container up.
//! Most of them are pages of read-only, file-backed ELF segments (berth's code and rodata,
//! libc's code), which the kernel maps 64 KiB at a time around each fault (fault-around).
//! Dropping those mappings costs nothing: they are clean copies of the page cache and fault
//! back in, from the page cache, when init runs again after `start`.
//!
//! Every function that runs after the drop faults its page (and 64 KiB around it) back in,
//! so the drop and the wait for `start` happen in one function with raw system calls: only
//! that function's own page comes back before init blocks.
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::errno::Errno;

/// Read-only `PT_LOAD` segments of every loaded object, page-aligned.
pub struct Segments {
    ranges: [(usize, usize); 32],
    len: usize,
}

/// Finds every loaded object's non-writable `PT_LOAD` segment. Writable segments (data, bss,
/// relro, which hold copy-on-write private pages) are never included: dropping them would
/// lose their contents.
pub fn readonly_segments() -> Segments {
    let mut segs = Segments {
        ranges: [(0, 0); 32],
        len: 0,
    };
    // SAFETY: dl_iterate_phdr calls `collect` synchronously with valid `dl_phdr_info`
    // pointers for each loaded object; `data` points to `segs`, which outlives the call.
    unsafe {
        libc::dl_iterate_phdr(Some(collect), (&mut segs as *mut Segments).cast());
    }
    segs
}

unsafe extern "C" fn collect(
    info: *mut libc::dl_phdr_info,
    _size: libc::size_t,
    data: *mut libc::c_void,
) -> libc::c_int {
    // SAFETY: `data` is the `*mut Segments` passed by readonly_segments; the loader passes a
    // valid info.
    let (segs, info) = unsafe { (&mut *(data as *mut Segments), &*info) };
    if info.dlpi_phdr.is_null() {
        return 0;
    }
    // SAFETY: dlpi_phnum program headers live at dlpi_phdr.
    let phdrs = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize) };
    const PAGE: usize = 4096;
    for ph in phdrs {
        if ph.p_type != libc::PT_LOAD || ph.p_flags & libc::PF_W != 0 || ph.p_memsz == 0 {
            continue;
        }
        if segs.len == segs.ranges.len() {
            return 1; // enough: stop iterating
        }
        let base = info.dlpi_addr as usize + ph.p_vaddr as usize;
        let start = base & !(PAGE - 1);
        let end = (base + ph.p_memsz as usize + PAGE - 1) & !(PAGE - 1);
        segs.ranges[segs.len] = (start, end - start);
        segs.len += 1;
    }
    0
}

/// Drops the pages of `segs`, if given (MADV_DONTNEED), then blocks in `accept4` on `listener`
/// until `start` connects. Returns the accepted connection (close-on-exec).
#[inline(never)]
pub fn drop_then_accept(segs: Option<&Segments>, listener: BorrowedFd) -> nix::Result<OwnedFd> {
    let ranges = segs.map_or(&[][..], |s| &s.ranges[..s.len]);
    for &(start, len) in ranges {
        // SAFETY: each range is a mapped, read-only, file-backed segment of a loaded object;
        // MADV_DONTNEED only drops its page-table entries, and the next access refaults the
        // same bytes from the file (the files of running executables cannot change: ETXTBSY).
        // A failure only costs memory, so it is ignored.
        unsafe {
            raw_syscall(
                libc::SYS_madvise,
                start,
                len,
                libc::MADV_DONTNEED as usize,
                0,
            )
        };
    }
    loop {
        // SAFETY: accept4 with NULL address arguments on a listening socket we borrow; the
        // returned fd is new and owned by the caller.
        let ret = unsafe {
            raw_syscall(
                libc::SYS_accept4,
                listener.as_raw_fd() as usize,
                0,
                0,
                libc::SOCK_CLOEXEC as usize,
            )
        };
        match ret {
            // SAFETY: the kernel returned a new fd that nothing else owns.
            fd if fd >= 0 => return Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) }),
            err if -err == libc::EINTR as isize => continue,
            err => return Err(Errno::from_raw(-err as i32)),
        }
    }
}

/// A system call of up to four arguments without going through libc (whose pages were just dropped).
/// Returns the raw result: negative errno on failure.
///
/// # Safety
/// The caller guarantees the arguments are valid for `nr`.
#[inline(always)]
unsafe fn raw_syscall(nr: libc::c_long, a1: usize, a2: usize, a3: usize, a4: usize) -> isize {
    #[cfg(target_arch = "x86_64")]
    {
        let ret: isize;
        // SAFETY: the x86-64 Linux syscall ABI: number in rax, arguments in rdi, rsi, rdx,
        // r10; the kernel clobbers rcx and r11.
        unsafe {
            std::arch::asm!(
                "syscall",
                inlateout("rax") nr as isize => ret,
                in("rdi") a1,
                in("rsi") a2,
                in("rdx") a3,
                in("r10") a4,
                lateout("rcx") _,
                lateout("r11") _,
                options(nostack),
            );
        }
        ret
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        // SAFETY: forwarded to libc's generic syscall(2) wrapper.
        let ret = unsafe { libc::syscall(nr, a1, a2, a3, a4) };
        if ret < 0 {
            -(Errno::last_raw() as isize)
        } else {
            ret as isize
        }
    }
}
