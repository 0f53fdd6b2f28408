//! The profile plot: a hand-written SVG (no dependency, ~200 lines) that any browser opens —
//! bytes in use over time as areas stacked by tag, the footprint as a dashed line, marks as
//! dashed vertical lines with their labels, and the peak annotated.
//!
//! Layout: a 960 × 540 canvas, the plot on the left, the legend on the right. Tags beyond the
//! ten largest (by their highest bytes in use) are drawn together as "other tags" so the
//! legend stays readable.

use super::history::History;
use crate::memory::report::human_bytes;
use std::fmt::Write as _;

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 540.0;
const LEFT: f64 = 90.0;
const RIGHT: f64 = 250.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 60.0;
const MAX_LAYERS: usize = 10;
/// Up to this many marks are numbered and listed in the legend; beyond, only their lines show.
const MAX_NUMBERED_MARKS: usize = 60;
const LEGEND_ROW: f64 = 16.0;
/// Colour-blind-safe palette (Okabe–Ito plus two greys).
const PALETTE: [&str; 11] = [
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
    "#999999", "#6A3D9A", "#BBBBBB",
];

/// Escapes text for SVG content and attribute values.
fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A "nice" axis step (1, 2 or 5 × a power of `base`) giving about `target` ticks over `span`.
fn nice_step(span: f64, target: f64, base: f64) -> f64 {
    let raw = (span / target).max(f64::MIN_POSITIVE);
    let mut magnitude = 1.0;
    while magnitude * base <= raw {
        magnitude *= base;
    }
    while magnitude > raw {
        magnitude /= base;
    }
    [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0]
        .into_iter()
        .map(|f| f * magnitude)
        .find(|&s| s >= raw)
        .unwrap_or(raw)
}

/// Bytes axis step: a power of two times 1, 2 or 5 of the matching binary unit, so that tick
/// labels read "64 MiB" rather than "67.1 MB".
fn byte_step(max: f64) -> f64 {
    let mut unit = 1.0;
    while unit * 1024.0 <= max / 2.0 {
        unit *= 1024.0;
    }
    nice_step(max / unit, 5.0, 10.0) * unit
}

/// A byte tick label without trailing zeros: "250 MiB", "1.5 GiB".
fn tick_bytes(bytes: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text} {}", UNITS[unit])
}

/// The layers to stack: indices of the largest tags, and whether an "other tags" layer is
/// needed for the rest.
fn choose_layers(history: &History) -> (Vec<usize>, bool) {
    let mut peaks: Vec<(usize, u64)> = (0..history.tag_names.len())
        .map(|t| {
            (
                t,
                history.samples.iter().map(|s| s.tag(t)).max().unwrap_or(0),
            )
        })
        .filter(|&(_, peak)| peak > 0)
        .collect();
    peaks.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let other = peaks.len() > MAX_LAYERS;
    peaks.truncate(if other { MAX_LAYERS - 1 } else { MAX_LAYERS });
    (peaks.into_iter().map(|(t, _)| t).collect(), other)
}

struct Frame {
    t0: f64,
    t1: f64,
    max_bytes: f64,
}

impl Frame {
    fn x(&self, t: f64) -> f64 {
        LEFT + (t - self.t0) / (self.t1 - self.t0) * (WIDTH - LEFT - RIGHT)
    }
    fn y(&self, bytes: f64) -> f64 {
        HEIGHT - BOTTOM - bytes / self.max_bytes * (HEIGHT - TOP - BOTTOM)
    }
}

/// The history as an SVG document.
pub fn history_to_svg(history: &History, title: &str) -> String {
    let samples = &history.samples;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        out,
        r#"<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#
    );
    let _ = writeln!(
        out,
        r#"<text x="{LEFT}" y="24" font-size="16" font-weight="bold">{}</text>"#,
        xml_escape(title)
    );
    let _ = writeln!(
        out,
        r##"<text x="{LEFT}" y="40" fill="#444">{} samples every {} ms; exact peak {} (the manager's own counter)</text>"##,
        samples.len(),
        (history.interval * 1000.0).round(),
        human_bytes(history.exact_peak_bytes)
    );
    if samples.is_empty() {
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}">no samples recorded</text>"#,
            WIDTH / 2.0 - 60.0,
            HEIGHT / 2.0
        );
        out.push_str("</svg>\n");
        return out;
    }
    // From the profiler's start, unless the ring buffer has dropped the early samples.
    let first = samples[0]
        .time
        .min(history.marks.first().map_or(f64::MAX, |m| m.time));
    let t0 = if history.dropped_samples == 0 {
        0.0f64.min(first)
    } else {
        first
    };
    let mut t1 = samples[samples.len() - 1]
        .time
        .max(history.marks.last().map_or(0.0, |m| m.time));
    if t1 <= t0 {
        t1 = t0 + history.interval.max(1e-3);
    }
    let top = samples
        .iter()
        .map(|s| s.bytes_in_use.max(s.footprint_bytes))
        .max()
        .unwrap_or(0)
        .max(history.exact_peak_bytes)
        .max(1) as f64;
    let step = byte_step(top * 1.1);
    let frame = Frame {
        t0,
        t1,
        max_bytes: (top * 1.1 / step).ceil() * step,
    };
    write_axes(&mut out, &frame, step);
    let (layers, other) = choose_layers(history);
    write_layers(&mut out, history, &frame, &layers, other);
    write_lines(&mut out, history, &frame);
    write_marks(&mut out, history, &frame);
    write_peak(&mut out, history, &frame);
    write_legend(&mut out, history, &layers, other);
    out.push_str("</svg>\n");
    out
}

fn write_axes(out: &mut String, f: &Frame, step: f64) {
    let (x0, x1, y0, y1) = (LEFT, WIDTH - RIGHT, HEIGHT - BOTTOM, TOP);
    let mut bytes = 0.0;
    while bytes <= f.max_bytes * (1.0 + 1e-9) {
        let y = f.y(bytes);
        let _ = writeln!(
            out,
            r##"<line x1="{x0}" y1="{y:.1}" x2="{x1}" y2="{y:.1}" stroke="#e4e4e4"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            x0 - 6.0,
            y + 4.0,
            tick_bytes(bytes)
        );
        bytes += step;
    }
    let tstep = nice_step(f.t1 - f.t0, 8.0, 10.0);
    let mut t = (f.t0 / tstep).ceil() * tstep;
    while t <= f.t1 + 1e-12 {
        let x = f.x(t);
        let decimals = if tstep >= 1.0 {
            0
        } else {
            (-tstep.log10()).ceil() as usize
        };
        let _ = writeln!(
            out,
            r##"<line x1="{x:.1}" y1="{y0}" x2="{x:.1}" y2="{}" stroke="#444"/><text x="{x:.1}" y="{}" text-anchor="middle">{t:.decimals$}</text>"##,
            y0 + 5.0,
            y0 + 18.0
        );
        t += tstep;
    }
    let _ = writeln!(
        out,
        r##"<path d="M{x0},{y1} V{y0} H{x1}" fill="none" stroke="#444"/>
<text x="{:.1}" y="{}" text-anchor="middle">time (s)</text>
<text transform="translate(18 {:.1}) rotate(-90)" text-anchor="middle">bytes in use</text>"##,
        (x0 + x1) / 2.0,
        HEIGHT - 18.0,
        (y0 + y1) / 2.0
    );
}

/// Stacked areas: each layer is the band between the running sum before and after it.
fn write_layers(out: &mut String, h: &History, f: &Frame, layers: &[usize], other: bool) {
    let n = h.samples.len();
    let mut below = vec![0u64; n];
    let mut bands: Vec<Vec<u64>> = layers
        .iter()
        .map(|&t| h.samples.iter().map(|s| s.tag(t)).collect())
        .collect();
    if other {
        let chosen: std::collections::HashSet<usize> = layers.iter().copied().collect();
        bands.push(
            h.samples
                .iter()
                .map(|s| {
                    (0..h.tag_names.len())
                        .filter(|t| !chosen.contains(t))
                        .map(|t| s.tag(t))
                        .sum()
                })
                .collect(),
        );
    }
    for (i, band) in bands.iter().enumerate() {
        let above: Vec<u64> = below.iter().zip(band).map(|(b, v)| b + v).collect();
        let mut d = String::new();
        for (k, s) in h.samples.iter().enumerate() {
            let _ = write!(
                d,
                "{}{:.1},{:.1} ",
                if k == 0 { "M" } else { "L" },
                f.x(s.time),
                f.y(above[k] as f64)
            );
        }
        for k in (0..n).rev() {
            let _ = write!(
                d,
                "L{:.1},{:.1} ",
                f.x(h.samples[k].time),
                f.y(below[k] as f64)
            );
        }
        let colour = if i < layers.len() {
            PALETTE[i]
        } else {
            PALETTE[10]
        };
        let _ = writeln!(
            out,
            r#"<path d="{}Z" fill="{colour}" fill-opacity="0.75" stroke="none"/>"#,
            d.trim_end()
        );
        below = above;
    }
}

fn polyline(h: &History, f: &Frame, value: impl Fn(&super::history::Sample) -> u64) -> String {
    h.samples
        .iter()
        .map(|s| format!("{:.1},{:.1}", f.x(s.time), f.y(value(s) as f64)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn write_lines(out: &mut String, h: &History, f: &Frame) {
    let _ = writeln!(
        out,
        r##"<polyline points="{}" fill="none" stroke="#555" stroke-width="1.5" stroke-dasharray="6 3"/>"##,
        polyline(h, f, |s| s.footprint_bytes)
    );
    let _ = writeln!(
        out,
        r##"<polyline points="{}" fill="none" stroke="#000" stroke-width="1.5"/>"##,
        polyline(h, f, |s| s.bytes_in_use)
    );
}

/// Marks are numbered on the plot (the legend lists the numbers with labels and times): long
/// labels on the plot itself would collide whenever marks come close together.
fn write_marks(out: &mut String, h: &History, f: &Frame) {
    let numbered = h.marks.len() <= MAX_NUMBERED_MARKS;
    for (i, m) in h.marks.iter().enumerate() {
        let x = f.x(m.time);
        let _ = write!(
            out,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{}" stroke="#B22222" stroke-width="0.8" stroke-dasharray="4 3"/>"##,
            HEIGHT - BOTTOM
        );
        if numbered {
            // Numbers alternate between three heights so neighbouring marks stay legible.
            let y = TOP + 10.0 + (i % 3) as f64 * 12.0;
            let _ = write!(
                out,
                r##"<text x="{:.1}" y="{y:.1}" fill="#B22222" font-size="10">{}</text>"##,
                x + 2.0,
                i + 1
            );
        }
        out.push('\n');
    }
}

fn write_peak(out: &mut String, h: &History, f: &Frame) {
    let (x, y) = (f.x(h.peak_time), f.y(h.peak_bytes as f64));
    let anchor = if x > (LEFT + WIDTH - RIGHT) / 2.0 {
        "end"
    } else {
        "start"
    };
    let dx = if anchor == "end" { -8.0 } else { 8.0 };
    let _ = writeln!(
        out,
        r##"<circle cx="{x:.1}" cy="{y:.1}" r="4" fill="none" stroke="#000" stroke-width="2"/><text x="{:.1}" y="{:.1}" text-anchor="{anchor}" font-weight="bold">peak {} at {:.2} s</text>"##,
        x + dx,
        y - 6.0,
        human_bytes(h.peak_bytes),
        h.peak_time
    );
}

/// What a legend entry's swatch looks like.
enum Swatch {
    Line { colour: &'static str, dashed: bool },
    Area(&'static str),
}

fn write_legend(out: &mut String, h: &History, layers: &[usize], other: bool) {
    let mut entries = vec![
        (
            Swatch::Line {
                colour: "#000",
                dashed: false,
            },
            "in use (all tags)".to_string(),
        ),
        (
            Swatch::Line {
                colour: "#555",
                dashed: true,
            },
            "footprint (mapped)".to_string(),
        ),
    ];
    for (i, &t) in layers.iter().enumerate() {
        let name = &h.tag_names[t];
        let label = if name.is_empty() {
            "(untagged)".to_string()
        } else {
            truncate(name, 30)
        };
        entries.push((Swatch::Area(PALETTE[i]), label));
    }
    if other {
        entries.push((Swatch::Area(PALETTE[10]), "other tags".to_string()));
    }
    let x = WIDTH - RIGHT + 20.0;
    let mut y = TOP + 10.0;
    for (swatch, label) in &entries {
        match swatch {
            Swatch::Line { colour, dashed } => {
                let dash = if *dashed {
                    r#" stroke-dasharray="6 3""#
                } else {
                    ""
                };
                let _ = write!(
                    out,
                    r#"<line x1="{x}" y1="{y}" x2="{}" y2="{y}" stroke="{colour}" stroke-width="1.5"{dash}/>"#,
                    x + 20.0
                );
            }
            Swatch::Area(colour) => {
                let _ = write!(
                    out,
                    r#"<rect x="{x}" y="{}" width="20" height="10" fill="{colour}" fill-opacity="0.75"/>"#,
                    y - 5.0
                );
            }
        }
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}">{}</text>"#,
            x + 26.0,
            y + 4.0,
            xml_escape(label)
        );
        y += LEGEND_ROW;
    }
    write_mark_list(out, h, x, y + 8.0);
}

/// The numbered marks with their times, as many as fit below the legend.
fn write_mark_list(out: &mut String, h: &History, x: f64, mut y: f64) {
    if h.marks.is_empty() {
        return;
    }
    let bottom = HEIGHT - 14.0;
    if h.marks.len() > MAX_NUMBERED_MARKS {
        let _ = writeln!(
            out,
            r##"<text x="{x}" y="{y}" fill="#B22222">{} marks (listed in the CSV)</text>"##,
            h.marks.len()
        );
        return;
    }
    let _ = writeln!(
        out,
        r##"<text x="{x}" y="{y}" fill="#B22222" font-weight="bold">marks</text>"##
    );
    for (i, m) in h.marks.iter().enumerate() {
        y += 14.0;
        if y > bottom - 14.0 && i + 1 < h.marks.len() {
            let _ = writeln!(
                out,
                r##"<text x="{x}" y="{y}" fill="#B22222" font-size="11">… {} more (listed in the CSV)</text>"##,
                h.marks.len() - i
            );
            return;
        }
        let _ = writeln!(
            out,
            r##"<text x="{x}" y="{y}" fill="#B22222" font-size="11">{}  {:.2} s  {}</text>"##,
            i + 1,
            m.time,
            xml_escape(&truncate(&m.label, 26))
        );
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        text.to_string()
    } else {
        let mut t: String = text.chars().take(max_chars - 1).collect();
        t.push('…');
        t
    }
}
