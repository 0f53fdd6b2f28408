//! The sampling profiler: a background thread that samples a manager at a fixed interval into
//! a bounded ring buffer (in use, footprint, available, per pool, per tag), remembers the peak
//! and when it happened, and keeps the named marks a program sets ("assembly done", …).

use super::history::{History, Mark, Sample};
use crate::error::{Error, Result};
use crate::memory::{MemoryManager, PoolKind};
use parking_lot::{Condvar, Mutex};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Longest mark label, in bytes.
pub const MAX_MARK_LEN: usize = 200;

/// How a profiler samples.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfilerConfig {
    /// Time between samples (default 100 ms; at least 1 ms).
    pub interval: Duration,
    /// Samples kept; older ones are dropped first (default 10 000: 16 minutes at 100 ms).
    pub capacity: usize,
    /// Marks kept; older ones are dropped first (default 10 000).
    pub max_marks: usize,
}

impl Default for ProfilerConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_millis(100),
            capacity: 10_000,
            max_marks: 10_000,
        }
    }
}

struct State {
    samples: VecDeque<Sample>,
    marks: VecDeque<Mark>,
    tag_index: HashMap<String, usize>,
    tag_names: Vec<String>,
    dropped_samples: u64,
    dropped_marks: u64,
    peak: (u64, f64),
}

struct Shared {
    manager: MemoryManager,
    config: ProfilerConfig,
    start: Instant,
    state: Mutex<State>,
    running: Mutex<bool>,
    wake: Condvar,
}

impl Shared {
    fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Takes one sample. The state lock is held throughout (it is never taken under a pool
    /// lock), so samples and marks from any thread are recorded in time order.
    fn sample(&self) {
        let mut state = self.state.lock();
        let time = self.now();
        let stats = self.manager.stats();
        let pools = PoolKind::ALL.map(|p| self.manager.pool_stats(p).bytes_in_use);
        let tags = self.manager.tags();
        let mut per_tag = vec![0u64; state.tag_names.len()];
        for t in tags {
            let i = match state.tag_index.get(&t.name) {
                Some(&i) => i,
                None => {
                    let i = state.tag_names.len();
                    state.tag_index.insert(t.name.clone(), i);
                    state.tag_names.push(t.name.clone());
                    per_tag.push(0);
                    i
                }
            };
            per_tag[i] = t.bytes_in_use;
        }
        if stats.bytes_in_use >= state.peak.0 {
            state.peak = (stats.bytes_in_use, time);
        }
        if state.samples.len() == self.config.capacity {
            state.samples.pop_front();
            state.dropped_samples += 1;
        }
        state.samples.push_back(Sample {
            time,
            bytes_in_use: stats.bytes_in_use,
            footprint_bytes: stats.footprint_bytes,
            available_bytes: stats.available_bytes,
            pools,
            tags: per_tag,
        });
    }

    /// The sampling loop: one sample per interval on a fixed schedule (no drift), until stopped.
    fn run(self: Arc<Self>) {
        let mut tick: u32 = 0;
        loop {
            self.sample();
            tick += 1;
            let deadline = self.start + self.config.interval * tick;
            let mut running = self.running.lock();
            while *running && Instant::now() < deadline {
                self.wake.wait_until(&mut running, deadline);
            }
            if !*running {
                break;
            }
            drop(running);
            // If sampling fell behind (a suspended process), skip the missed ticks.
            let behind = self.start.elapsed().as_secs_f64() / self.config.interval.as_secs_f64();
            tick = tick.max(behind as u32);
        }
    }
}

/// A sampling profiler attached to a manager. Start and stop it from any thread; dropping it
/// stops it.
pub struct Profiler {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Profiler {
    /// A profiler for `manager` (not started).
    pub fn new(manager: &MemoryManager, config: ProfilerConfig) -> Result<Self> {
        if config.interval < Duration::from_millis(1) {
            return Err(Error::invalid_argument(format!(
                "sampling interval {:?} is below the 1 ms minimum",
                config.interval
            )));
        }
        if config.capacity < 2 || config.max_marks < 1 {
            return Err(Error::invalid_argument(format!(
                "capacity {} (at least 2 samples) and max_marks {} (at least 1) are too small",
                config.capacity, config.max_marks
            )));
        }
        Ok(Self {
            shared: Arc::new(Shared {
                manager: manager.clone(),
                config,
                start: Instant::now(),
                state: Mutex::new(State {
                    samples: VecDeque::new(),
                    marks: VecDeque::new(),
                    tag_index: HashMap::new(),
                    tag_names: Vec::new(),
                    dropped_samples: 0,
                    dropped_marks: 0,
                    peak: (0, 0.0),
                }),
                running: Mutex::new(false),
                wake: Condvar::new(),
            }),
            thread: Mutex::new(None),
        })
    }

    /// Starts the sampling thread (a no-op when it runs already).
    pub fn start(&self) -> Result<()> {
        let mut thread = self.thread.lock();
        if thread.is_some() {
            return Ok(());
        }
        *self.shared.running.lock() = true;
        let shared = self.shared.clone();
        let handle = std::thread::Builder::new()
            .name("qdsim-profiler".into())
            .spawn(move || shared.run())
            .map_err(|e| {
                Error::new(
                    crate::ErrorKind::Internal,
                    format!("cannot start the sampling thread: {e}"),
                )
            })?;
        *thread = Some(handle);
        Ok(())
    }

    /// Stops the sampling thread and waits for it (a no-op when it is not running). The
    /// history stays readable.
    pub fn stop(&self) {
        let mut thread = self.thread.lock();
        if let Some(handle) = thread.take() {
            *self.shared.running.lock() = false;
            self.shared.wake.notify_all();
            let _ = handle.join();
        }
    }

    /// True while the sampling thread runs.
    pub fn is_running(&self) -> bool {
        self.thread.lock().is_some()
    }

    /// Records a sample now (in addition to the periodic ones).
    pub fn sample_now(&self) {
        self.shared.sample();
    }

    /// Records a named event at the current time (and a sample, so the plot shows the memory
    /// at that moment).
    pub fn mark(&self, label: &str) -> Result<()> {
        if label.is_empty() || label.len() > MAX_MARK_LEN {
            return Err(Error::invalid_argument(format!(
                "mark label must have 1 to {MAX_MARK_LEN} bytes, has {}",
                label.len()
            )));
        }
        {
            let mut state = self.shared.state.lock();
            let time = self.shared.now();
            if state.marks.len() == self.shared.config.max_marks {
                state.marks.pop_front();
                state.dropped_marks += 1;
            }
            state.marks.push_back(Mark {
                time,
                label: label.to_string(),
            });
        }
        self.shared.sample();
        Ok(())
    }

    /// A copy of everything recorded so far.
    pub fn history(&self) -> History {
        let state = self.shared.state.lock();
        History {
            interval: self.shared.config.interval.as_secs_f64(),
            samples: state.samples.iter().cloned().collect(),
            marks: state.marks.iter().cloned().collect(),
            tag_names: state.tag_names.clone(),
            dropped_samples: state.dropped_samples,
            dropped_marks: state.dropped_marks,
            peak_bytes: state.peak.0,
            peak_time: state.peak.1,
            exact_peak_bytes: self.shared.manager.stats().peak_bytes_in_use,
        }
    }
}

impl Drop for Profiler {
    fn drop(&mut self) {
        self.stop();
    }
}
