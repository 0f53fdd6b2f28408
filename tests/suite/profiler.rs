//! The sampling profiler: interval, bounded history, marks, thread safety, exports (CSV and
//! JSON parsed back, SVG parsed as XML) and bad input.

use qdsim_mem::ErrorKind;
use qdsim_mem::memory::{MemoryManager, PoolBuffer};
use qdsim_mem::profiler::{ExportFormat, MAX_MARK_LEN, Profiler, ProfilerConfig};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn config(interval_ms: u64) -> ProfilerConfig {
    ProfilerConfig {
        interval: Duration::from_millis(interval_ms),
        ..ProfilerConfig::default()
    }
}

#[test]
fn sampling_interval_is_honoured() {
    let manager = MemoryManager::with_defaults().unwrap();
    let profiler = Profiler::new(&manager, config(20)).unwrap();
    let start = Instant::now();
    profiler.start().unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    profiler.stop();
    let elapsed = start.elapsed().as_secs_f64();
    let history = profiler.history();
    let n = history.samples.len() as f64;
    // The sampler runs on a fixed schedule (tick k at k·interval after creation), so it can
    // never take more than one sample per tick: at most elapsed/interval + 1 (+1 for the
    // final partial tick). A loaded 2-core CI machine delays wake-ups; up to 30% missed
    // ticks is accepted as "honoured" there (an idle machine misses none).
    let ticks = elapsed / 0.020;
    assert!(
        n <= ticks + 2.0,
        "{n} samples in {elapsed:.3} s is more than one per 20 ms tick"
    );
    assert!(
        n >= 0.7 * ticks,
        "{n} samples in {elapsed:.3} s: expected about {ticks:.0}"
    );
    let gaps: Vec<f64> = history
        .samples
        .windows(2)
        .map(|w| w[1].time - w[0].time)
        .collect();
    let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
    // Mean gap within 0.95–1.4 of the interval (the same scheduling argument).
    assert!(
        (0.019..0.028).contains(&mean),
        "mean gap {mean:.4} s for a 20 ms interval"
    );
    assert!(
        history.samples.windows(2).all(|w| w[1].time > w[0].time),
        "timestamps must increase"
    );
}

#[test]
fn history_is_bounded() {
    let manager = MemoryManager::with_defaults().unwrap();
    let profiler = Profiler::new(
        &manager,
        ProfilerConfig {
            interval: Duration::from_millis(1),
            capacity: 8,
            max_marks: 3,
        },
    )
    .unwrap();
    for i in 0..20 {
        profiler.sample_now();
        profiler.mark(&format!("m{i}")).unwrap();
    }
    profiler.start().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    profiler.stop();
    let history = profiler.history();
    assert_eq!(history.samples.len(), 8);
    assert!(
        history.dropped_samples >= 40 - 8,
        "dropped {}",
        history.dropped_samples
    );
    let labels: Vec<&str> = history.marks.iter().map(|m| m.label.as_str()).collect();
    assert_eq!(labels, ["m17", "m18", "m19"], "the newest marks are kept");
    assert_eq!(history.dropped_marks, 17);
}

#[test]
fn marks_are_in_order_and_peak_is_found() {
    let manager = MemoryManager::with_defaults().unwrap();
    let profiler = Profiler::new(&manager, config(5)).unwrap();
    profiler.start().unwrap();
    profiler.mark("start").unwrap();
    let a = PoolBuffer::<f64>::zeroed(&manager, 1 << 20, "a").unwrap();
    profiler.mark("a allocated").unwrap();
    let b = PoolBuffer::<f64>::zeroed(&manager, 1 << 19, "b").unwrap();
    profiler.mark("b allocated").unwrap();
    drop(a);
    profiler.mark("a freed").unwrap();
    std::thread::sleep(Duration::from_millis(20));
    drop(b);
    profiler.mark("done").unwrap();
    profiler.stop();
    let h = profiler.history();
    let labels: Vec<&str> = h.marks.iter().map(|m| m.label.as_str()).collect();
    assert_eq!(
        labels,
        ["start", "a allocated", "b allocated", "a freed", "done"]
    );
    assert!(h.marks.windows(2).all(|w| w[1].time >= w[0].time));
    // A mark also takes a sample, so the peak (both buffers live) is seen exactly.
    assert_eq!(h.peak_bytes, (8 << 20) + (8 << 19));
    assert_eq!(h.exact_peak_bytes, h.peak_bytes);
    assert!(h.peak_time >= h.marks[2].time && h.peak_time < h.marks[3].time);
    let a = h.tag_names.iter().position(|t| t == "a").unwrap();
    assert_eq!(h.samples.iter().map(|s| s.tag(a)).max(), Some(8 << 20));
}

#[test]
fn start_stop_from_many_threads_and_drop_while_running() {
    let manager = MemoryManager::with_defaults().unwrap();
    let profiler = Arc::new(Profiler::new(&manager, config(1)).unwrap());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (profiler, manager) = (profiler.clone(), manager.clone());
            std::thread::spawn(move || {
                for i in 0..200 {
                    match (i + t) % 4 {
                        0 => profiler.start().unwrap(),
                        1 => profiler.stop(),
                        2 => profiler.mark(&format!("t{t} i{i}")).unwrap(),
                        _ => {
                            let _b =
                                PoolBuffer::<f64>::zeroed(&manager, 1000 + i, "churn").unwrap();
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let h = profiler.history();
    assert_eq!(h.marks.len(), 200, "every thread's 50 marks are kept");
    assert!(
        h.marks.windows(2).all(|w| w[1].time >= w[0].time),
        "marks are kept in time order"
    );
    assert!(
        h.samples.windows(2).all(|w| w[1].time >= w[0].time),
        "samples are kept in time order"
    );
    // Marks of one thread appear in that thread's order.
    for t in 0..4 {
        let mine: Vec<usize> = h
            .marks
            .iter()
            .filter_map(|m| {
                m.label
                    .strip_prefix(&format!("t{t} i"))
                    .map(|i| i.parse().unwrap())
            })
            .collect();
        assert!(mine.windows(2).all(|w| w[0] < w[1]), "thread {t}: {mine:?}");
    }
    profiler.start().unwrap();
    assert!(profiler.is_running());
    drop(Arc::try_unwrap(profiler).ok().expect("the only reference")); // destroy while running
    assert_eq!(manager.stats().bytes_in_use, 0);
}

#[test]
fn exports_parse_back() {
    let manager = MemoryManager::with_defaults().unwrap();
    let profiler = Profiler::new(&manager, config(2)).unwrap();
    profiler.start().unwrap();
    let _h = PoolBuffer::<f64>::zeroed(&manager, 4096, "hamiltonian.values").unwrap();
    profiler.mark("quote \" and comma, <tag> & more").unwrap();
    let _u = PoolBuffer::<f64>::zeroed(&manager, 100, "").unwrap();
    std::thread::sleep(Duration::from_millis(10));
    profiler.stop();
    let h = profiler.history();

    let csv = h.export(ExportFormat::Csv);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        format!(
            "# mark,{:.6},\"quote \"\" and comma, <tag> & more\"",
            h.marks[0].time
        )
    );
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header.len(), 4 + 5 + h.tag_names.len());
    assert!(
        header.contains(&"\"tag:hamiltonian.values\"") && header.contains(&"\"tag:(untagged)\"")
    );
    let rows: Vec<Vec<u64>> = lines
        .map(|l| l.split(',').skip(1).map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), h.samples.len());
    for (row, s) in rows.iter().zip(&h.samples) {
        assert_eq!(row.len(), header.len() - 1);
        assert_eq!(row[0], s.bytes_in_use);
        assert_eq!(
            row[3..8].iter().sum::<u64>(),
            s.bytes_in_use,
            "pools add up to the total"
        );
    }

    let json: serde_json::Value = serde_json::from_str(&h.export(ExportFormat::Json)).unwrap();
    assert_eq!(json["samples"].as_array().unwrap().len(), h.samples.len());
    assert_eq!(
        json["marks"][0]["label"],
        "quote \" and comma, <tag> & more"
    );
    assert_eq!(json["peak"]["bytes"], h.peak_bytes);
    assert_eq!(json["tags"].as_array().unwrap().len(), h.tag_names.len());

    let svg = h.to_svg("test & <profile>");
    let doc = roxmltree::Document::parse(&svg).expect("the SVG is well-formed XML");
    let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
    assert!(texts.contains(&"test & <profile>"));
    // Marks are numbered on the plot and listed (label shortened to 26 characters) in the legend.
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("1  ") && t.contains("quote \" and comma, <tag>")),
        "{texts:?}"
    );
    assert!(texts.contains(&"hamiltonian.values") && texts.contains(&"(untagged)"));
    assert!(texts.iter().any(|t| t.starts_with("peak ")));
    let areas = doc
        .descendants()
        .filter(|n| n.has_tag_name("path") && n.attribute("fill-opacity").is_some())
        .count();
    assert_eq!(areas, 2, "one stacked area per tag");

    let dir = std::env::temp_dir().join(format!("qdsim-profiler-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (format, name) in [
        (ExportFormat::Csv, "p.csv"),
        (ExportFormat::Json, "p.json"),
        (ExportFormat::Svg, "p.svg"),
    ] {
        h.write(format, &dir.join(name)).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join(name)).unwrap(),
            h.export(format)
        );
    }
    let err = h
        .write(ExportFormat::Csv, &dir.join("missing/dir/p.csv"))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(err.to_string().contains("missing/dir/p.csv"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn many_tags_are_grouped_in_the_plot() {
    let manager = MemoryManager::with_defaults().unwrap();
    let profiler = Profiler::new(&manager, config(100)).unwrap();
    let buffers: Vec<_> = (0..15)
        .map(|i| PoolBuffer::<f64>::zeroed(&manager, 100 * (i + 1), &format!("tag{i:02}")).unwrap())
        .collect();
    profiler.sample_now();
    profiler.sample_now();
    drop(buffers);
    let svg = profiler.history().to_svg("many");
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
    assert!(texts.contains(&"other tags") && texts.contains(&"tag14") && !texts.contains(&"tag00"));
    let areas = doc
        .descendants()
        .filter(|n| n.has_tag_name("path") && n.attribute("fill-opacity").is_some())
        .count();
    assert_eq!(areas, 10, "nine largest tags plus 'other tags'");
}

#[test]
fn empty_history_still_renders() {
    let manager = MemoryManager::with_defaults().unwrap();
    let profiler = Profiler::new(&manager, ProfilerConfig::default()).unwrap();
    let svg = profiler.history().to_svg("empty");
    roxmltree::Document::parse(&svg).unwrap();
    assert!(svg.contains("no samples recorded"));
}

#[test]
fn bad_input_is_refused_clearly() {
    let manager = MemoryManager::with_defaults().unwrap();
    let err = Profiler::new(&manager, config(0)).err().unwrap();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("1 ms"), "{err}");
    let small = ProfilerConfig {
        capacity: 1,
        ..ProfilerConfig::default()
    };
    assert_eq!(
        Profiler::new(&manager, small).err().unwrap().kind(),
        ErrorKind::InvalidArgument
    );
    let profiler = Profiler::new(&manager, ProfilerConfig::default()).unwrap();
    assert_eq!(
        profiler.mark("").unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    let long = "x".repeat(MAX_MARK_LEN + 1);
    assert!(
        profiler
            .mark(&long)
            .unwrap_err()
            .to_string()
            .contains("200")
    );
    profiler.stop(); // stop without start is a no-op
    assert!(
        profiler.history().marks.is_empty(),
        "refused marks leave no trace"
    );
}
