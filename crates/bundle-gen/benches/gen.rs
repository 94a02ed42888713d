//! Issue 3, item 10: how long generating the whole tree (every overlay) takes next to one
//! `kubectl kustomize overlays/bundled`. Target: generating takes under a tenth of one build.
//!
//! `cargo bench -p bundle-gen --bench gen [-- <bundle.yaml>]` (default: the repository's
//! bundle.yaml). Generating is what `bundle gen` does in-process: parse and validate the
//! config, render every file, write the tree. It is timed three ways, because creating files
//! costs what the disk makes it cost: in memory only, into an empty directory (every file
//! created), and over an up-to-date tree (the usual re-run: compared, nothing written). Each
//! figure is the median of several runs.

// A benchmark binary: a panic is its error report.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const GEN_RUNS: usize = 50;
const KUSTOMIZE_RUNS: usize = 10;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// Parses, validates and renders, then hands the tree to `write` (which may do nothing).
fn time_generation(text: &str, mut write: impl FnMut(usize, &bundle_gen::Tree)) -> Duration {
    let samples = (0..GEN_RUNS)
        .map(|run| {
            let start = Instant::now();
            let config = bundle_gen::Config::from_yaml(text).unwrap();
            let tree = bundle_gen::render(&config).unwrap();
            write(run, &tree);
            start.elapsed()
        })
        .collect();
    median(samples)
}

fn time_kustomize(overlay: &Path) -> Duration {
    let samples = (0..KUSTOMIZE_RUNS)
        .map(|_| {
            let start = Instant::now();
            let output = Command::new("kubectl")
                .arg("kustomize")
                .arg(overlay)
                .output()
                .unwrap();
            let elapsed = start.elapsed();
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
            elapsed
        })
        .collect();
    median(samples)
}

fn main() {
    let config_path = std::env::args()
        .skip(1)
        .find(|arg| !arg.starts_with('-'))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../bundle.yaml"));
    let config_path = config_path.canonicalize().unwrap_or(config_path);
    let text = std::fs::read_to_string(&config_path).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let files = bundle_gen::render(&bundle_gen::Config::from_yaml(&text).unwrap())
        .unwrap()
        .len();

    let in_memory = time_generation(&text, |_, _| {});
    let empty_dir = time_generation(&text, |run, tree| {
        tree.write_to(&scratch.path().join(format!("fresh-{run}")))
            .unwrap();
    });
    let up_to_date_root = scratch.path().join("fresh-0");
    let up_to_date = time_generation(&text, |_, tree| {
        let report = tree.write_to(&up_to_date_root).unwrap();
        assert!(report.written.is_empty());
    });
    let kustomize = time_kustomize(&up_to_date_root.join("overlays/bundled"));

    let ratio = |generation: Duration| generation.as_secs_f64() / kustomize.as_secs_f64();
    let verdict = |generation: Duration| {
        if ratio(generation) < 0.1 {
            "met"
        } else {
            "MISSED"
        }
    };
    println!(
        "config: {} ({files} files, every overlay)",
        config_path.display()
    );
    println!(
        "kubectl kustomize overlays/bundled:            {:8.3} ms (median of {KUSTOMIZE_RUNS})",
        millis(kustomize)
    );
    for (what, generation) in [
        ("bundle gen, in memory (parse+validate+render)", in_memory),
        ("bundle gen into an empty directory          ", empty_dir),
        ("bundle gen over an up-to-date tree          ", up_to_date),
    ] {
        println!(
            "{what}: {:8.3} ms (median of {GEN_RUNS}), ratio {:.4}, target < 0.1 {}",
            millis(generation),
            ratio(generation),
            verdict(generation)
        );
    }
}
