//! Pages from the operating system: anonymous mappings for pool chunks and for allocations too
//! big for a chunk, transparent-huge-page advice, pre-faulting, the system's available memory,
//! the process's resident set, and disk space reserved for files that are about to be mapped.

use crate::error::{Error, ErrorKind, Result};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The system page size in bytes.
pub fn page_size() -> usize {
    static PAGE: OnceLock<usize> = OnceLock::new();
    *PAGE.get_or_init(|| {
        // SAFETY: sysconf has no preconditions; it only reads a system constant.
        let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if size > 0 { size as usize } else { 4096 }
    })
}

/// Rounds `value` up to a multiple of `align` (a power of two); `None` on overflow.
pub fn align_up(value: usize, align: usize) -> Option<usize> {
    debug_assert!(align.is_power_of_two());
    Some(value.checked_add(align - 1)? & !(align - 1))
}

/// How a fresh mapping is prepared.
#[derive(Clone, Copy, Debug, Default)]
pub struct MapOptions {
    /// Advise transparent huge pages (`MADV_HUGEPAGE`) where the kernel allows it.
    pub huge_pages: bool,
    /// Touch every page now (`MAP_POPULATE`) instead of on first use.
    pub prefault: bool,
    /// With `prefault`, touch from this many threads at once (≤ 1: the kernel populates).
    pub prefault_threads: usize,
}

/// An anonymous private read-write mapping of at least `len` bytes whose start is aligned to
/// `align` (a power of two). Returns `(address, mapped length)`; the mapped length is a multiple
/// of the page size and is what must later be given to [`unmap`].
pub fn map(len: usize, align: usize, options: MapOptions) -> Result<(usize, usize)> {
    let page = page_size();
    let len = align_up(len.max(1), page).ok_or_else(|| too_big(len))?;
    let extra = if align > page { align } else { 0 };
    let request = len.checked_add(extra).ok_or_else(|| too_big(len))?;
    let mut flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
    let parallel = options.prefault && options.prefault_threads > 1;
    if options.prefault && extra == 0 && !parallel {
        flags |= libc::MAP_POPULATE;
    }
    // SAFETY: an anonymous mapping at an address of the kernel's choosing touches no existing
    // memory; the result is checked against MAP_FAILED below.
    let raw = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            request,
            libc::PROT_READ | libc::PROT_WRITE,
            flags,
            -1,
            0,
        )
    };
    if raw == libc::MAP_FAILED {
        let os = std::io::Error::last_os_error();
        return Err(Error::new(
            ErrorKind::OutOfMemory,
            format!("the operating system refused to map {request} bytes: {os}"),
        ));
    }
    let raw = raw as usize;
    let start = align_up(raw, align.max(page)).expect("mapping end fits in the address space");
    if extra > 0 {
        // Give back the unaligned head and the unused tail of the over-sized mapping.
        let head = start - raw;
        let tail = request - head - len;
        if head > 0 {
            unmap(raw, head);
        }
        if tail > 0 {
            unmap(start + len, tail);
        }
    }
    if options.huge_pages {
        advise_huge_pages(start, len);
    }
    if parallel {
        prefault_parallel(start, len, options.prefault_threads);
    } else if options.prefault && extra > 0 {
        prefault(start, len);
    }
    Ok((start, len))
}

/// Checks that `len` bytes of address space can be reserved (a `PROT_NONE` mapping, no memory
/// behind it, unmapped at once); the error is the system's.
pub fn probe_address_space(len: usize) -> std::result::Result<(), std::io::Error> {
    // SAFETY: an anonymous PROT_NONE mapping at an address of the kernel's choosing touches no
    // existing memory; it is checked against MAP_FAILED and unmapped before returning.
    let raw = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if raw == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    unmap(raw as usize, len);
    Ok(())
}

/// Returns a mapping made by [`map`] (or a page-aligned part of one) to the system.
pub fn unmap(addr: usize, len: usize) {
    // SAFETY: callers pass a range they obtained from `map` and no longer hand out; unmapping it
    // cannot affect memory the program still uses. A failure leaves the mapping in place (a leak,
    // not a corruption), so the result is only checked in debug builds.
    let rc = unsafe { libc::munmap(addr as *mut libc::c_void, len) };
    debug_assert_eq!(rc, 0, "munmap({addr:#x}, {len}) failed");
}

/// Asks for transparent huge pages on `[addr, addr+len)`; a kernel that says no is not an error.
fn advise_huge_pages(addr: usize, len: usize) {
    // SAFETY: madvise with MADV_HUGEPAGE only changes how the kernel backs this mapping, which
    // we own; it never changes its contents.
    unsafe {
        libc::madvise(addr as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
    }
}

/// Touches one byte per page so every page is backed now (first touch on this thread).
pub fn prefault(addr: usize, len: usize) {
    let page = page_size();
    let mut offset = 0;
    while offset < len {
        // SAFETY: `addr + offset` lies inside a live read-write mapping that we own and that no
        // one else uses yet; a volatile read-write of one byte keeps its value.
        unsafe {
            let p = (addr + offset) as *mut u8;
            p.write_volatile(p.read_volatile());
        }
        offset += page;
    }
}

/// Touches the pages of `[addr, addr+len)` from `threads` threads, each its own contiguous
/// slice, so on a NUMA machine each slice lands on the node of the thread that touched it.
pub fn prefault_parallel(addr: usize, len: usize, threads: usize) {
    let page = page_size();
    let pages = len.div_ceil(page);
    let per = pages.div_ceil(threads.max(1));
    std::thread::scope(|scope| {
        for t in 0..threads {
            let first = t * per;
            let last = ((t + 1) * per).min(pages);
            if first < last {
                scope.spawn(move || prefault(addr + first * page, (last - first) * page));
            }
        }
    });
}

fn too_big(len: usize) -> Error {
    Error::new(
        ErrorKind::OutOfMemory,
        format!("a mapping of {len} bytes does not fit in the address space"),
    )
}

/// Sets `file`'s length to `len` with its blocks allocated on disk (`posix_fallocate`), so
/// that a full disk is an error now rather than SIGBUS when a page of a mapping is first
/// written. File systems that cannot reserve space (`EOPNOTSUPP`, `EINVAL`) get a plain,
/// sparse `set_len` instead.
pub fn reserve_file_space(file: &std::fs::File, len: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let Ok(off) = libc::off_t::try_from(len) else {
        return Err(std::io::Error::from_raw_os_error(libc::EFBIG));
    };
    if len > 0 {
        // SAFETY: posix_fallocate on an open descriptor; the result is an errno value.
        match unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, off) } {
            0 => {}
            libc::EOPNOTSUPP | libc::EINVAL => {}
            rc => return Err(std::io::Error::from_raw_os_error(rc)),
        }
    }
    // Shrinks a longer file (posix_fallocate never does) and sizes unreserved ones.
    file.set_len(len)
}

/// Copies `len` bytes of `from` at offset `from_offset` into `to` at offset `to_offset` inside
/// the kernel (`copy_file_range`): page cache to page cache, without mapping or faulting
/// either range into the process, and without reading the target's pages first (a mapped copy
/// reads, i.e. zero-fills, every fresh page before it overwrites it). Neither file's position
/// moves. An error (`EXDEV`, `ENOSYS`, `EINVAL` where the kernel or file system cannot do it,
/// or an I/O error) may come after part of the range was copied.
pub fn copy_file_range(
    from: &std::fs::File,
    from_offset: u64,
    to: &std::fs::File,
    to_offset: u64,
    len: usize,
) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let offset = |o: u64| {
        libc::loff_t::try_from(o).map_err(|_| std::io::Error::from_raw_os_error(libc::EFBIG))
    };
    let (mut from_off, mut to_off) = (offset(from_offset)?, offset(to_offset)?);
    let mut left = len;
    while left > 0 {
        // SAFETY: two open descriptors and offsets we own; the kernel reads and writes the
        // files only, and advances the two offsets by what it copied.
        let copied = unsafe {
            libc::copy_file_range(
                from.as_raw_fd(),
                &mut from_off,
                to.as_raw_fd(),
                &mut to_off,
                left,
                0,
            )
        };
        match copied {
            n if n > 0 => left -= n as usize,
            // The source ends early: not a range of the file.
            0 => return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof)),
            _ => {
                let e = std::io::Error::last_os_error();
                if e.kind() != std::io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
    Ok(())
}

/// How long [`recent_available_memory`] reuses a reading.
const AVAILABLE_TTL: Duration = Duration::from_millis(100);

/// [`system_available_memory`] read at most every 0.1 s (a `/proc/meminfo` read costs about
/// 20 µs, which made `qdsim_manager_stats` 1000× slower than its other work): for statistics,
/// which report a value that changes under them anyway.
pub fn recent_available_memory() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    // The reading and when it was taken (ns since START, plus 1: 0 means never).
    static VALUE: AtomicU64 = AtomicU64::new(0);
    static TAKEN: AtomicU64 = AtomicU64::new(0);
    let start = *START.get_or_init(Instant::now);
    let now = start.elapsed().as_nanos() as u64 + 1;
    let taken = TAKEN.load(Ordering::Acquire);
    if taken != 0 && now.saturating_sub(taken) < AVAILABLE_TTL.as_nanos() as u64 {
        return VALUE.load(Ordering::Relaxed);
    }
    let value = system_available_memory();
    // Racing refreshes store readings taken within microseconds of each other: any is right.
    VALUE.store(value, Ordering::Relaxed);
    TAKEN.store(now, Ordering::Release);
    value
}

/// Memory the system could give to a new program without swapping (`MemAvailable`), in bytes.
pub fn system_available_memory() -> u64 {
    if let Some(bytes) = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| kib_field(&text, "MemAvailable:"))
    {
        return bytes;
    }
    // SAFETY: sysconf has no preconditions.
    let (pages, size) = unsafe {
        (
            libc::sysconf(libc::_SC_AVPHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    (pages.max(0) as u64).saturating_mul(size.max(0) as u64)
}

/// The process's resident memory in bytes: now, and the highest it has been.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resident {
    /// Bytes resident now (`VmRSS`).
    pub now: u64,
    /// The process's peak so far (`VmHWM`).
    pub peak: u64,
}

/// The process's resident memory (`/proc/self/status`), or `None` where that cannot be read
/// (not Linux). What a dependency's allocations cost in memory, measured around its calls: it
/// counts the pages written, not the capacity reserved (faer reserves far more for a sparse LU
/// factor than it fills), and the peak shows what the call held for a moment when that raised
/// the process's peak. Process-wide: other threads' work shows in it too.
pub fn resident() -> Option<Resident> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    Some(Resident {
        now: kib_field(&text, "VmRSS:")?,
        peak: kib_field(&text, "VmHWM:")?,
    })
}

/// The value of the line `name   1234 kB` of a `/proc` file's `text`, in bytes.
fn kib_field(text: &str, name: &str) -> Option<u64> {
    let rest = text.lines().find_map(|line| line.strip_prefix(name))?;
    let kib: u64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib.saturating_mul(1024))
}

/// Held by the unit test that reads the process's resident set, and by unit tests that map
/// tens of MiB: the unit tests share one process, and such a test's pages coming and going
/// meanwhile would make the resident set jump by more than the reading's slack.
#[cfg(test)]
pub(crate) fn process_memory_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_file_range_copies_between_offsets_and_reports_a_short_source() {
        use std::io::{Read, Seek, Write};
        let mut from = tempfile_in_temp_dir("from");
        let mut to = tempfile_in_temp_dir("to");
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        from.write_all(&data).unwrap();
        to.set_len(500_000).unwrap();
        // 200 000 bytes from offset 70 000 to offset 4096 (more than one kernel call may take).
        copy_file_range(&from, 70_000, &to, 4096, 200_000).unwrap();
        let mut back = Vec::new();
        to.rewind().unwrap();
        to.read_to_end(&mut back).unwrap();
        assert_eq!(&back[4096..204_096], &data[70_000..270_000]);
        assert!(back[..4096].iter().chain(&back[204_096..]).all(|&b| b == 0));
        // Neither file's position moved.
        assert_eq!(from.stream_position().unwrap(), 300_000);
        // A range past the source's end is an error, not a silent short copy.
        let err = copy_file_range(&from, 250_000, &to, 0, 100_000).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof, "{err}");
    }

    /// A new file in the temporary directory, unlinked at once (nothing is left behind).
    fn tempfile_in_temp_dir(what: &str) -> std::fs::File {
        let path = std::env::temp_dir().join(format!(
            "qdsim-os-test-{what}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        file
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn resident_memory_sees_written_pages_not_reserved_ones_and_keeps_the_peak() {
        // 64 MiB mapped, written, unmapped: the peak keeps them. Other tests run on other
        // threads meanwhile and their pages come and go: one clean reading out of five
        // suffices.
        const BYTES: usize = 64 << 20;
        const SLACK: u64 = 8 << 20;
        let _alone = process_memory_lock();
        let clean = (0..5).any(|_| {
            let before = resident().expect("Linux has /proc/self/status");
            let (addr, len) = map(BYTES, 4096, MapOptions::default()).unwrap();
            let reserved = resident().unwrap().now.saturating_sub(before.now);
            // SAFETY: the mapping is ours and `len` bytes long.
            unsafe { std::ptr::write_bytes(addr as *mut u8, 1, len) };
            let written = resident().unwrap().now.saturating_sub(before.now);
            unmap(addr, len);
            let after = resident().unwrap();
            // The kernel's counters lag by a few pages (per-thread caches): 8 MiB either way.
            let near = |value: u64, expected: u64| value.abs_diff(expected) < SLACK;
            reserved < SLACK
                && near(written, BYTES as u64)
                && after.now < before.now + SLACK
                && after.peak + SLACK > before.now + BYTES as u64
        });
        assert!(clean, "the resident set did not follow the pages written");
    }

    #[test]
    fn aligned_mappings_are_aligned_and_writable() {
        for align in [64, 4096, 1 << 16, 1 << 21] {
            let (addr, len) = map(10_000, align, MapOptions::default()).unwrap();
            assert_eq!(addr % align, 0);
            assert!(len >= 10_000 && len % page_size() == 0);
            // SAFETY: the mapping is ours and at least `len` bytes long.
            unsafe { std::ptr::write_bytes(addr as *mut u8, 0xAB, len) };
            unmap(addr, len);
        }
    }

    #[test]
    fn parallel_prefault_backs_every_page() {
        let options = MapOptions {
            prefault: true,
            prefault_threads: 3,
            ..MapOptions::default()
        };
        let (addr, len) = map(10 << 20, 4096, options).unwrap();
        let page = page_size();
        let mut resident = vec![0u8; len / page];
        // SAFETY: mincore reads the residency of our own mapping into a buffer of one byte per
        // page, as sized above.
        let rc = unsafe { libc::mincore(addr as *mut libc::c_void, len, resident.as_mut_ptr()) };
        assert_eq!(rc, 0);
        assert!(
            resident.iter().all(|&r| r & 1 == 1),
            "a page was not faulted in"
        );
        unmap(addr, len);
    }

    #[test]
    fn available_memory_is_positive() {
        assert!(system_available_memory() > 0);
    }
}
