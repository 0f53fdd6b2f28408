//! The allocation event log (off by default): every allocation and free of a manager as
//! `(sequence, op, allocation id, bytes, pool, tag)`, written as CSV, and `replay`, which re-runs
//! a log against a fresh manager and reports the size histogram, the peak and the counts — so a
//! user can send their allocation pattern without their code.

use super::config::ManagerConfig;
use super::manager::MemoryManager;
use super::pool_kind::PoolKind;
use super::report::human_bytes;
use super::tags::MAX_TAG_LEN;
use super::tags::Tag;
use crate::error::{Error, ErrorKind, Result};
use crate::io::open::{MAX_LINE_BYTES, open_regular_file, read_bounded_line, vec_grow_error};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Allocation or free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventOp {
    /// An allocation.
    Alloc,
    /// A free.
    Free,
}

/// One logged event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Position in the log (0, 1, 2, …).
    pub seq: u64,
    /// Allocation or free.
    pub op: EventOp,
    /// The allocation's serial number (the same for its allocation and its free).
    pub id: u64,
    /// Bytes requested.
    pub bytes: u64,
    /// Pool.
    pub pool: PoolKind,
    /// Tag ("" when untagged).
    pub tag: String,
}

/// One recorded event before it is numbered: op, allocation id, bytes, pool, tag.
type RawEvent = (EventOp, u64, u64, PoolKind, Arc<Tag>);

/// The log itself, owned by a manager.
#[derive(Default)]
pub(crate) struct EventLog {
    enabled: AtomicBool,
    events: Mutex<Vec<RawEvent>>,
}

impl EventLog {
    /// True while events are being recorded (one relaxed load on the allocation path).
    #[inline]
    pub(crate) fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    pub(crate) fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
    }

    /// Records one event (called with the pool's lock held, so per-pool order is exact).
    pub(crate) fn record(&self, op: EventOp, id: u64, bytes: u64, pool: PoolKind, tag: &Arc<Tag>) {
        self.events.lock().push((op, id, bytes, pool, tag.clone()));
    }

    pub(crate) fn snapshot(&self) -> Vec<Event> {
        self.events
            .lock()
            .iter()
            .enumerate()
            .map(|(seq, (op, id, bytes, pool, tag))| Event {
                seq: seq as u64,
                op: *op,
                id: *id,
                bytes: *bytes,
                pool: *pool,
                tag: tag.name().to_string(),
            })
            .collect()
    }

    pub(crate) fn clear(&self) {
        self.events.lock().clear();
    }
}

/// The header line of the CSV format.
pub const EVENT_LOG_HEADER: &str = "seq,op,id,bytes,pool,tag";

/// `events` as CSV (header first; tags quoted, `"` doubled).
pub fn events_to_csv(events: &[Event]) -> String {
    let mut out = String::from(EVENT_LOG_HEADER);
    out.push('\n');
    for e in events {
        let op = match e.op {
            EventOp::Alloc => "alloc",
            EventOp::Free => "free",
        };
        let _ = writeln!(
            out,
            "{},{op},{},{},{},\"{}\"",
            e.seq,
            e.id,
            e.bytes,
            e.pool.name(),
            e.tag.replace('"', "\"\"")
        );
    }
    out
}

/// Parses CSV written by [`events_to_csv`]; the error names the line and what is wrong.
pub fn events_from_csv(text: &str) -> Result<Vec<Event>> {
    events_from_reader(text.as_bytes())
}

/// Parses the CSV of [`events_to_csv`] from `reader` line by line (each line at most
/// `MAX_LINE_BYTES` (`io/open.rs`), each tag at most
/// [`MAX_TAG_LEN`](super::MAX_TAG_LEN) bytes), growing the list fallibly: a line that breaks
/// the format is [`ErrorKind::CorruptFile`] naming it, a list that cannot grow
/// [`ErrorKind::OutOfMemory`], a read failure [`ErrorKind::Io`].
pub fn events_from_reader<R: BufRead>(mut reader: R) -> Result<Vec<Event>> {
    let corrupt = |line: usize, what: &str| {
        Error::new(
            ErrorKind::CorruptFile,
            format!("event log line {line}: {what}"),
        )
    };
    let mut text = String::new();
    let mut next_line = |text: &mut String, n: usize| -> Result<bool> {
        read_bounded_line(&mut reader, text, MAX_LINE_BYTES, n)
            .map(|read| read > 0)
            .map_err(|e| e.context("event log"))
    };
    if !next_line(&mut text, 1)? || text.trim() != EVENT_LOG_HEADER {
        return Err(corrupt(
            1,
            &format!("expected the header {EVENT_LOG_HEADER:?}"),
        ));
    }
    let mut events = Vec::new();
    let mut n = 1;
    loop {
        n += 1;
        if !next_line(&mut text, n)? {
            break;
        }
        let line = text.trim_end_matches(['\n', '\r']);
        if line.trim().is_empty() {
            continue;
        }
        let mut fields = line.splitn(6, ',');
        let mut next = |name: &str| {
            fields
                .next()
                .ok_or_else(|| corrupt(n, &format!("missing field {name}")))
        };
        let seq = next("seq")?
            .parse()
            .map_err(|_| corrupt(n, "seq is not a number"))?;
        let op = match next("op")? {
            "alloc" => EventOp::Alloc,
            "free" => EventOp::Free,
            other => return Err(corrupt(n, &format!("op {other:?} is not alloc or free"))),
        };
        let id = next("id")?
            .parse()
            .map_err(|_| corrupt(n, "id is not a number"))?;
        let bytes = next("bytes")?
            .parse()
            .map_err(|_| corrupt(n, "bytes is not a number (0..=2^64-1)"))?;
        let pool_name = next("pool")?;
        let pool = PoolKind::from_name(pool_name)
            .ok_or_else(|| corrupt(n, &format!("unknown pool {pool_name:?}")))?;
        let raw_tag = next("tag")?;
        let tag = raw_tag
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .ok_or_else(|| corrupt(n, "tag is not quoted"))?
            .replace("\"\"", "\"");
        if tag.len() > MAX_TAG_LEN {
            return Err(corrupt(
                n,
                &format!(
                    "tag is {} bytes long; tags are at most {MAX_TAG_LEN} bytes",
                    tag.len()
                ),
            ));
        }
        events
            .try_reserve(1)
            .map_err(|_| vec_grow_error("events", events.len()))?;
        events.push(Event {
            seq,
            op,
            id,
            bytes,
            pool,
            tag,
        });
    }
    Ok(events)
}

/// Reads the CSV event log at `path` (written by [`MemoryManager::write_event_log`]); only a
/// regular file is read (a FIFO or a device is refused with [`ErrorKind::Io`]).
pub fn read_event_log(path: &Path) -> Result<Vec<Event>> {
    let file = open_regular_file(path, "the event log", false)?;
    events_from_reader(BufReader::with_capacity(1 << 16, file))
        .map_err(|e| e.context(&path.display().to_string()))
}

impl MemoryManager {
    /// Writes the events recorded so far to `path` as CSV (see [`events_to_csv`]).
    pub fn write_event_log(&self, path: &Path) -> Result<()> {
        std::fs::write(path, events_to_csv(&self.event_log())).map_err(|e| {
            Error::new(
                ErrorKind::Io,
                format!("cannot write event log {}: {e}", path.display()),
            )
        })
    }
}

/// What a replay measured.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayReport {
    /// Allocations replayed.
    pub allocations: u64,
    /// Frees replayed.
    pub frees: u64,
    /// Highest bytes in use during the replay.
    pub peak_bytes_in_use: u64,
    /// Allocations still live at the end of the log.
    pub live_at_end: u64,
    /// Allocation sizes by power-of-two bucket: `(upper bound in bytes, count)`; the bucket of
    /// upper bound 2^b holds sizes in (2^(b−1), 2^b] (and 0 in the first).
    pub histogram: Vec<(u64, u64)>,
}

impl ReplayReport {
    /// The report as text.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "replay: {} allocations, {} frees, peak {} bytes ({}), {} live at the end",
            self.allocations,
            self.frees,
            self.peak_bytes_in_use,
            human_bytes(self.peak_bytes_in_use),
            self.live_at_end
        );
        let _ = writeln!(out, "  {:>14} {:>10}", "size ≤", "count");
        for &(upper, count) in &self.histogram {
            let _ = writeln!(out, "  {:>14} {:>10}", human_bytes(upper), count);
        }
        out
    }
}

/// Re-runs `events` against a fresh manager (default configuration) and reports what happened.
/// A free of an id that is not live, or an allocation id seen twice, is a corrupt log.
pub fn replay(events: &[Event]) -> Result<ReplayReport> {
    let manager = MemoryManager::new(ManagerConfig {
        report_leaks_on_destroy: false,
        ..ManagerConfig::default()
    })?;
    let mut live: HashMap<u64, *mut u8> = HashMap::new();
    let mut buckets: Vec<u64> = Vec::new();
    let (mut allocations, mut frees) = (0, 0);
    for e in events {
        match e.op {
            EventOp::Alloc => {
                let bytes = usize::try_from(e.bytes).map_err(|_| {
                    Error::new(
                        ErrorKind::CorruptFile,
                        format!(
                            "event {}: {} bytes do not fit this machine's address space",
                            e.seq, e.bytes
                        ),
                    )
                })?;
                live.try_reserve(1)
                    .map_err(|_| vec_grow_error("live allocations", live.len()))?;
                // What the log asks for is data: a request no manager could accept (too large,
                // a bad tag) is a corrupt log, not a bad argument of the caller.
                let ptr =
                    manager
                        .allocate(e.pool, bytes, 0, &e.tag)
                        .map_err(|err| match err.kind() {
                            ErrorKind::InvalidArgument => Error::new(
                                ErrorKind::CorruptFile,
                                format!("event {}: {}", e.seq, err.message()),
                            ),
                            _ => err.context(&format!("event {}", e.seq)),
                        })?;
                if live.insert(e.id, ptr.as_ptr()).is_some() {
                    return Err(Error::new(
                        ErrorKind::CorruptFile,
                        format!("event {}: allocation id {} allocated twice", e.seq, e.id),
                    ));
                }
                let bucket = if e.bytes <= 1 {
                    0
                } else {
                    64 - (e.bytes - 1).leading_zeros() as usize
                };
                if buckets.len() <= bucket {
                    // At most 65 buckets: a bounded allocation.
                    buckets.resize(bucket + 1, 0);
                }
                buckets[bucket] += 1;
                allocations += 1;
            }
            EventOp::Free => {
                let ptr = live.remove(&e.id).ok_or_else(|| {
                    Error::new(
                        ErrorKind::CorruptFile,
                        format!("event {}: free of id {} that is not live", e.seq, e.id),
                    )
                })?;
                // SAFETY: `ptr` was allocated above by this manager and is freed once.
                unsafe { manager.free(ptr)? };
                frees += 1;
            }
        }
    }
    let peak = manager.stats().peak_bytes_in_use;
    Ok(ReplayReport {
        allocations,
        frees,
        peak_bytes_in_use: peak,
        live_at_end: live.len() as u64,
        histogram: buckets
            .iter()
            .enumerate()
            .filter(|&(_, &c)| c > 0)
            .map(|(b, &c)| (1u64 << b, c))
            .collect(),
    })
}
