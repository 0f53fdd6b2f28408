//! Text reports: the allocation report (the seed's `print_allocation_report`) and the leak
//! report of outstanding allocations.

use super::stats::{AllocationInfo, Stats};
use super::tags::TagStats;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Most individual allocations a leak report lists (the per-tag summary covers all of them).
pub const LEAK_LINES: usize = 100;
/// Tags listed in the allocation report.
pub const TOP_TAGS: usize = 10;

/// `bytes` in the largest binary unit that keeps the number ≥ 1, e.g. `"95.37 MiB"`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.2} {}", UNITS[unit])
    }
}

fn tag_label(tag: &str) -> &str {
    if tag.is_empty() { "(untagged)" } else { tag }
}

/// The outstanding allocations of manager `id`: counts per tag, then each allocation.
pub fn leak_report(id: u64, live: &[AllocationInfo]) -> String {
    let mut out = String::new();
    let total: u64 = live.iter().map(|a| a.size as u64).sum();
    let _ = writeln!(
        out,
        "qdsim-mem leak report, manager #{id}: {} live allocation(s), {total} bytes ({})",
        live.len(),
        human_bytes(total)
    );
    if live.is_empty() {
        return out;
    }
    let mut by_tag: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for a in live {
        let entry = by_tag.entry(tag_label(&a.tag)).or_default();
        entry.0 += 1;
        entry.1 += a.size as u64;
    }
    let _ = writeln!(out, "  {:<32} {:>8} {:>16}", "tag", "count", "bytes");
    for (tag, (count, bytes)) in &by_tag {
        let _ = writeln!(out, "  {tag:<32} {count:>8} {bytes:>16}");
    }
    let mut largest: Vec<&AllocationInfo> = live.iter().collect();
    largest.sort_by(|a, b| b.size.cmp(&a.size).then(a.address.cmp(&b.address)));
    let _ = writeln!(
        out,
        "  {:<18} {:>16} {:<10} {:<6} tag",
        "address", "bytes", "pool", "kind"
    );
    for a in largest.iter().take(LEAK_LINES) {
        let _ = writeln!(
            out,
            "  {:<#18x} {:>16} {:<10} {:<6} {}",
            a.address,
            a.size,
            a.pool.name(),
            if a.direct { "direct" } else { "chunk" },
            tag_label(&a.tag)
        );
    }
    if largest.len() > LEAK_LINES {
        let _ = writeln!(out, "  … and {} more", largest.len() - LEAK_LINES);
    }
    out
}

/// The allocation report of manager `id`.
pub fn allocation_report(
    id: u64,
    total: &Stats,
    pools: &[(super::PoolKind, Stats)],
    tags: &[TagStats],
) -> String {
    let mut out = String::new();
    let limit = if total.limit_bytes == 0 {
        "none".to_string()
    } else {
        format!(
            "{} ({} bytes)",
            human_bytes(total.limit_bytes),
            total.limit_bytes
        )
    };
    let _ = writeln!(out, "qdsim-mem allocation report, manager #{id}");
    let _ = writeln!(
        out,
        "  limit: {limit}; available: {}{}",
        human_bytes(total.available_bytes),
        if total.limit_bytes == 0 {
            " (system)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "  {:<10} {:>6} {:>12} {:>12} {:>12} {:>12} {:>12} {:>6} {:>8} {:>8}",
        "pool",
        "chunks",
        "footprint",
        "in use",
        "peak",
        "free",
        "largest free",
        "frag",
        "live",
        "direct"
    );
    let row = |out: &mut String, name: &str, s: &Stats| {
        let _ = writeln!(
            out,
            "  {:<10} {:>6} {:>12} {:>12} {:>12} {:>12} {:>12} {:>6.3} {:>8} {:>8}",
            name,
            s.chunk_count,
            human_bytes(s.footprint_bytes),
            human_bytes(s.bytes_in_use),
            human_bytes(s.peak_bytes_in_use),
            human_bytes(s.free_bytes),
            human_bytes(s.largest_free_block),
            s.fragmentation,
            s.live_allocations,
            s.direct_allocations
        );
    };
    for (kind, stats) in pools {
        row(&mut out, kind.name(), stats);
    }
    row(&mut out, "total", total);
    let _ = writeln!(
        out,
        "  totals: {} bytes in use (peak {}), {} bytes mapped, {} allocations, {} frees, {} refused",
        total.bytes_in_use,
        total.peak_bytes_in_use,
        total.footprint_bytes,
        total.allocation_count,
        total.free_count,
        total.failed_allocations
    );
    if !tags.is_empty() {
        let _ = writeln!(
            out,
            "  top tags by bytes in use ({} of {}):",
            tags.len().min(TOP_TAGS),
            tags.len()
        );
        let _ = writeln!(
            out,
            "    {:<32} {:>12} {:>12} {:>8} {:>10}",
            "tag", "in use", "peak", "live", "allocs"
        );
        for t in tags.iter().take(TOP_TAGS) {
            let _ = writeln!(
                out,
                "    {:<32} {:>12} {:>12} {:>8} {:>10}",
                tag_label(&t.name),
                human_bytes(t.bytes_in_use),
                human_bytes(t.peak_bytes_in_use),
                t.live_allocations,
                t.allocation_count
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_bytes_picks_the_unit() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1024), "1.00 KiB");
        assert_eq!(human_bytes(100 << 20), "100.00 MiB");
        assert_eq!(human_bytes(3 << 30), "3.00 GiB");
    }
}
