//! Red zones: [`RED_ZONE`] bytes on each side of a block, filled with [`PATTERN`] when the block
//! is handed out and checked when it is freed (and by the manager's consistency check). A write
//! past either end of the block changes them; the check reports the block's tag and the offset
//! of the first changed byte relative to the block's start.
//!
//! Layout of a guarded block of `size` bytes at alignment `align` (at least 64), carved from a
//! chunk or a mapping of its own at `start`:
//!
//! ```text
//! start           start+front−64   start+front = user    user+size          start+len
//! |  (unused)     |  front zone    |  the caller's bytes  |  back zone        |
//! ```
//!
//! `front` is `align`, so the caller's pointer keeps its alignment; the back zone runs from the
//! block's end to the end of the granule-rounded length and is at least [`RED_ZONE`] bytes.
//! Under valgrind both zones (and the unused front part) are inaccessible to the program.

use super::valgrind;
use crate::memory::PoolKind;
use crate::memory::os::align_up;
use crate::memory::pool::GRANULE;

/// Bytes checked on each side of a block.
pub const RED_ZONE: usize = 64;
/// The byte every red zone is filled with.
pub const PATTERN: u8 = 0xFD;

/// `(front, len)`: where the caller's bytes start inside the block and the block's length, for
/// `size` bytes at alignment `align`; `None` when that overflows.
pub(crate) fn layout(size: usize, align: usize) -> Option<(usize, usize)> {
    let front = align.max(RED_ZONE);
    let len = align_up(front.checked_add(size)?.checked_add(RED_ZONE)?, GRANULE)?;
    Some((front, len))
}

/// The two zones `(address, len)` of the block of `size` caller bytes at `user`.
fn zones(user: usize, size: usize) -> [(usize, usize); 2] {
    // The back zone ends where `layout` ends the block: front + size + RED_ZONE rounded up to
    // a granule, and `user` is granule-aligned, so that end is `user + size + RED_ZONE` rounded.
    let end = align_up(user + size + RED_ZONE, GRANULE).expect("checked by layout");
    [
        (user - RED_ZONE, RED_ZONE),
        (user + size, end - user - size),
    ]
}

/// Fills the zones of the new block of `size` bytes at `user` and, under valgrind, declares the
/// block (`zeroed`: its bytes read as zero) with its zones inaccessible.
///
/// # Safety
/// `[user − RED_ZONE, user + size + back zone)` must lie in memory the manager owns and nobody
/// else uses (a block just carved by [`layout`]).
pub(crate) unsafe fn paint(user: usize, size: usize, zeroed: bool) {
    for (addr, len) in zones(user, size) {
        valgrind::undefined(addr, len);
        // SAFETY: the zone is inside the new block (caller's contract).
        unsafe { std::ptr::write_bytes(addr as *mut u8, PATTERN, len) };
        valgrind::no_access(addr, len);
    }
    valgrind::malloclike(user, size, zeroed);
}

/// A write outside a block's bounds, found in its red zones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Damage {
    /// Offset of the first changed byte from the block's start (negative: before it).
    pub first: isize,
    /// Changed bytes in the zone before the block.
    pub before: usize,
    /// Changed bytes in the zone after the block.
    pub after: usize,
}

/// Checks the zones of the block of `size` bytes at `user`; `None` when both are intact.
///
/// # Safety
/// The block must have been painted by [`paint`] and still be live.
pub(crate) unsafe fn check(user: usize, size: usize) -> Option<Damage> {
    let mut damage = Damage {
        first: 0,
        before: 0,
        after: 0,
    };
    let mut first = None;
    for (zone, (addr, len)) in zones(user, size).into_iter().enumerate() {
        valgrind::defined(addr, len);
        // SAFETY: the zone lies inside the live block (caller's contract); valgrind was told
        // the manager reads it.
        let bytes = unsafe { std::slice::from_raw_parts(addr as *const u8, len) };
        for (i, _) in bytes.iter().enumerate().filter(|&(_, &b)| b != PATTERN) {
            first.get_or_insert((addr + i) as isize - user as isize);
            if zone == 0 {
                damage.before += 1;
            } else {
                damage.after += 1;
            }
        }
        valgrind::no_access(addr, len);
    }
    first.map(|first| Damage { first, ..damage })
}

/// Restores the zones of the block at `user` and, under valgrind, declares the whole block
/// freed (inaccessible): called when the block goes back to its pool.
///
/// # Safety
/// As for [`check`]; the caller no longer uses the block.
pub(crate) unsafe fn retire(user: usize, size: usize) {
    valgrind::freelike(user);
    for (addr, len) in zones(user, size) {
        valgrind::undefined(addr, len);
        // SAFETY: the zone lies inside the block the manager is taking back.
        unsafe { std::ptr::write_bytes(addr as *mut u8, PATTERN, len) };
        valgrind::no_access(addr, len);
    }
}

/// The report of `damage` to the `size`-byte block at `user` (tag `tag`, pool `pool`).
pub(crate) fn message(
    user: usize,
    size: usize,
    tag: &str,
    pool: PoolKind,
    damage: Damage,
) -> String {
    let mut parts = Vec::new();
    if damage.before > 0 {
        parts.push(format!(
            "{} of the {RED_ZONE} guard bytes before it",
            damage.before
        ));
    }
    if damage.after > 0 {
        parts.push(format!(
            "{} of the guard bytes after it (the first {} past its end)",
            damage.after,
            damage.first - size as isize
        ));
    }
    let first = damage.first;
    let place = if first < 0 {
        format!("offset {first}, {} bytes before its start", -first)
    } else {
        format!(
            "offset +{first}, {} bytes past its end",
            first - size as isize
        )
    };
    format!(
        "block {user:#x} ({size} bytes, tag {tag:?}, pool {pool}) was written outside its \
         bounds: {} changed; the first changed byte is at {place} (red zones of the debug mode, \
         {}=red-zones)",
        parts.join(" and "),
        super::DEBUG_ENV
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_keeps_alignment_and_a_full_zone_on_each_side() {
        for size in [0, 1, 8, 63, 64, 65, 1000] {
            for align in [64, 128, 4096] {
                let (front, len) = layout(size, align).unwrap();
                assert_eq!(front % align, 0);
                assert!(front >= RED_ZONE);
                assert_eq!(len % GRANULE, 0);
                assert!(len - front - size >= RED_ZONE, "size {size} align {align}");
            }
        }
    }

    /// A block in a plain buffer: the zone arithmetic and the damage report.
    #[test]
    fn a_write_past_the_end_is_found_with_its_offset() {
        let mut buffer = vec![0u64; 64]; // 512 bytes, 8-byte aligned
        let base = align_up(buffer.as_mut_ptr() as usize, GRANULE).unwrap();
        let user = base + RED_ZONE;
        let size = 80;
        // SAFETY: the zones (64 before, 48..111 after) lie inside `buffer`.
        unsafe { paint(user, size, false) };
        // SAFETY: as above.
        assert_eq!(unsafe { check(user, size) }, None);
        // SAFETY: one 8-byte element past the end, inside the back zone.
        unsafe { ((user + size) as *mut u64).write_unaligned(42) };
        // SAFETY: as above.
        let damage = unsafe { check(user, size) }.unwrap();
        assert_eq!(damage.first, 80);
        assert_eq!(damage.before, 0);
        assert!(damage.after >= 1 && damage.after <= 8, "{damage:?}");
        let text = message(user, size, "psi", PoolKind::F64, damage);
        assert!(
            text.contains("tag \"psi\"") && text.contains("offset +80"),
            "{text}"
        );
        // SAFETY: the byte just before the start, in the front zone.
        unsafe { ((user - 1) as *mut u8).write(0) };
        // SAFETY: as above.
        let damage = unsafe { check(user, size) }.unwrap();
        assert_eq!((damage.first, damage.before), (-1, 1));
        // SAFETY: as above; `retire` repaints the zones.
        unsafe { retire(user, size) };
        // SAFETY: as above.
        assert_eq!(unsafe { check(user, size) }, None);
        drop(buffer);
    }
}
