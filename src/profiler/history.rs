//! What a profiler recorded: samples, marks, the peak — and its exports: CSV and JSON.

use crate::error::{Error, ErrorKind, Result};
use crate::memory::PoolKind;
use std::fmt::Write as _;

/// One sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Seconds since the profiler was created.
    pub time: f64,
    /// Bytes in use (all pools).
    pub bytes_in_use: u64,
    /// Bytes mapped from the operating system.
    pub footprint_bytes: u64,
    /// Available bytes (limit − in use, or the system's available memory).
    pub available_bytes: u64,
    /// Bytes in use per pool, in [`PoolKind::ALL`] order.
    pub pools: [u64; 5],
    /// Bytes in use per tag, indexed like [`History::tag_names`] (shorter when a tag appeared
    /// later: missing entries are 0).
    pub tags: Vec<u64>,
}

impl Sample {
    /// Bytes in use of tag number `i`.
    pub fn tag(&self, i: usize) -> u64 {
        self.tags.get(i).copied().unwrap_or(0)
    }
}

/// A named event.
#[derive(Clone, Debug, PartialEq)]
pub struct Mark {
    /// Seconds since the profiler was created.
    pub time: f64,
    /// What happened.
    pub label: String,
}

/// Everything a profiler recorded.
#[derive(Clone, Debug, PartialEq)]
pub struct History {
    /// The sampling interval, seconds.
    pub interval: f64,
    /// Samples, oldest first.
    pub samples: Vec<Sample>,
    /// Marks, oldest first.
    pub marks: Vec<Mark>,
    /// Names of the tags the samples refer to.
    pub tag_names: Vec<String>,
    /// Samples dropped because the buffer was full.
    pub dropped_samples: u64,
    /// Marks dropped because the buffer was full.
    pub dropped_marks: u64,
    /// Highest bytes in use seen in a sample, and when.
    pub peak_bytes: u64,
    /// See `peak_bytes`.
    pub peak_time: f64,
    /// The manager's exact peak (sampling can miss short spikes; this cannot).
    pub exact_peak_bytes: u64,
}

fn csv_field(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn tag_label(name: &str) -> &str {
    if name.is_empty() { "(untagged)" } else { name }
}

impl History {
    /// The samples as CSV: marks first as `# mark,<time>,<label>` comment lines, then a header
    /// and one row per sample (time, totals, each pool, each tag; bytes).
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        for m in &self.marks {
            let _ = writeln!(out, "# mark,{:.6},{}", m.time, csv_field(&m.label));
        }
        out.push_str("time_s,bytes_in_use,footprint_bytes,available_bytes");
        for p in PoolKind::ALL {
            let _ = write!(out, ",pool:{}", p.name());
        }
        for t in &self.tag_names {
            let _ = write!(out, ",{}", csv_field(&format!("tag:{}", tag_label(t))));
        }
        out.push('\n');
        for s in &self.samples {
            let _ = write!(
                out,
                "{:.6},{},{},{}",
                s.time, s.bytes_in_use, s.footprint_bytes, s.available_bytes
            );
            for p in s.pools {
                let _ = write!(out, ",{p}");
            }
            for i in 0..self.tag_names.len() {
                let _ = write!(out, ",{}", s.tag(i));
            }
            out.push('\n');
        }
        out
    }

    /// The whole history as JSON.
    pub fn to_json(&self) -> String {
        let mut out = String::from("{\n");
        let _ = writeln!(out, "  \"interval_s\": {},", self.interval);
        let _ = writeln!(
            out,
            "  \"peak\": {{\"bytes\": {}, \"time_s\": {:.6}}},\n  \"exact_peak_bytes\": {},",
            self.peak_bytes, self.peak_time, self.exact_peak_bytes
        );
        let _ = writeln!(
            out,
            "  \"dropped_samples\": {},\n  \"dropped_marks\": {},",
            self.dropped_samples, self.dropped_marks
        );
        let pools: Vec<String> = PoolKind::ALL
            .iter()
            .map(|p| json_string(p.name()))
            .collect();
        let _ = writeln!(out, "  \"pools\": [{}],", pools.join(", "));
        let tags: Vec<String> = self.tag_names.iter().map(|t| json_string(t)).collect();
        let _ = writeln!(out, "  \"tags\": [{}],", tags.join(", "));
        out.push_str("  \"marks\": [");
        for (i, m) in self.marks.iter().enumerate() {
            let _ = write!(
                out,
                "{}{{\"time_s\": {:.6}, \"label\": {}}}",
                if i > 0 { ", " } else { "" },
                m.time,
                json_string(&m.label)
            );
        }
        out.push_str("],\n  \"samples\": [\n");
        for (i, s) in self.samples.iter().enumerate() {
            let tags: Vec<String> = (0..self.tag_names.len())
                .map(|t| s.tag(t).to_string())
                .collect();
            let pools: Vec<String> = s.pools.iter().map(u64::to_string).collect();
            let _ = writeln!(
                out,
                "    {{\"time_s\": {:.6}, \"bytes_in_use\": {}, \"footprint_bytes\": {}, \"available_bytes\": {}, \"pools\": [{}], \"tags\": [{}]}}{}",
                s.time,
                s.bytes_in_use,
                s.footprint_bytes,
                s.available_bytes,
                pools.join(", "),
                tags.join(", "),
                if i + 1 < self.samples.len() { "," } else { "" }
            );
        }
        out.push_str("  ]\n}\n");
        out
    }
}

/// Writes `text` to `path`, naming the path in the error.
pub(crate) fn write_file(path: &std::path::Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| {
        Error::new(
            ErrorKind::Io,
            format!("cannot write {}: {e}", path.display()),
        )
    })
}
