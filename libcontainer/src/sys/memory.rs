//! Memory of the waiting init: a container's init sits in the created state (possibly for a
//! long time, possibly by the thousand) holding pages it touched while it set the container up.
//! Most of them are pages of read-only, file-backed ELF segments (berth's code and rodata,
//! libc's code), which the kernel maps around each fault (fault-around). Dropping those
//! mappings costs nothing: they are clean copies of the page cache and fault back in, from
//! the page cache, when init runs again.
use nix::errno::Errno;

/// `madvise(MADV_DONTNEED)` on every loaded object's non-writable `PT_LOAD` segment.
/// Writable segments (data, bss, relro — which hold copy-on-write private pages) are never
/// touched: dropping them would lose their contents.
pub fn drop_readonly_segments() -> nix::Result<()> {
    let mut failed = 0i32;
    // SAFETY: dl_iterate_phdr calls `callback` synchronously with valid `dl_phdr_info`
    // pointers for each loaded object; `data` points to `failed`, which outlives the call.
    unsafe {
        libc::dl_iterate_phdr(Some(callback), (&mut failed as *mut i32).cast());
    }
    if failed != 0 {
        return Err(Errno::from_raw(failed));
    }
    Ok(())
}

unsafe extern "C" fn callback(
    info: *mut libc::dl_phdr_info,
    _size: libc::size_t,
    data: *mut libc::c_void,
) -> libc::c_int {
    // SAFETY: the loader passes a valid info whose dlpi_phdr points to dlpi_phnum headers.
    let info = unsafe { &*info };
    if info.dlpi_phdr.is_null() {
        return 0;
    }
    // SAFETY: as above: dlpi_phnum program headers at dlpi_phdr.
    let phdrs = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize) };
    let page = 4096usize;
    for ph in phdrs {
        if ph.p_type != libc::PT_LOAD || ph.p_flags & libc::PF_W != 0 || ph.p_memsz == 0 {
            continue;
        }
        let start = (info.dlpi_addr as usize + ph.p_vaddr as usize) & !(page - 1);
        let end =
            (info.dlpi_addr as usize + (ph.p_vaddr + ph.p_memsz) as usize + page - 1) & !(page - 1);
        // SAFETY: the range is a mapped, read-only, file-backed segment of a loaded object;
        // MADV_DONTNEED only drops its page-table entries, and the next access refaults the
        // same bytes from the file (pages of a running executable cannot change: ETXTBSY).
        let ret =
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
        if ret != 0 {
            // SAFETY: `data` is the `*mut i32` passed by drop_readonly_segments.
            unsafe { *(data as *mut i32) = Errno::last_raw() };
        }
    }
    0
}
