//! Issue 3, item 10: how long generating the whole tree (all overlays) takes next to one
//! `kubectl kustomize overlays/bundled`. Target: generating is under a tenth of one build.
//!
//! `cargo bench -p bundle-gen --bench gen [-- <bundle.yaml>]` (default: the repository's
//! bundle.yaml). Generating = what `bundle gen` does in-process: parse and validate the
//! config, render every file, write the tree into an empty directory. Both sides report the
//! median of several runs.

// A benchmark binary: a panic is its error report.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

const GEN_RUNS: usize = 50;
const KUSTOMIZE_RUNS: usize = 10;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
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

    let mut gen_samples = Vec::with_capacity(GEN_RUNS);
    let mut files = 0;
    for run in 0..GEN_RUNS {
        let out = scratch.path().join(format!("gen-{run}"));
        let start = Instant::now();
        let config = bundle_gen::Config::from_yaml(&text).unwrap();
        let report = bundle_gen::render(&config).unwrap().write_to(&out).unwrap();
        gen_samples.push(start.elapsed());
        files = report.written.len();
    }
    let overlays = scratch.path().join("gen-0/overlays");

    let mut kustomize_samples = Vec::with_capacity(KUSTOMIZE_RUNS);
    for _ in 0..KUSTOMIZE_RUNS {
        let start = Instant::now();
        let output = Command::new("kubectl")
            .arg("kustomize")
            .arg(overlays.join("bundled"))
            .output()
            .unwrap();
        kustomize_samples.push(start.elapsed());
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    let generate = median(gen_samples);
    let kustomize = median(kustomize_samples);
    let ratio = generate.as_secs_f64() / kustomize.as_secs_f64();
    println!("config: {}", config_path.display());
    println!(
        "bundle gen (parse + render + write {files} files, all overlays): {:.3} ms (median of {GEN_RUNS})",
        generate.as_secs_f64() * 1e3
    );
    println!(
        "kubectl kustomize overlays/bundled: {:.3} ms (median of {KUSTOMIZE_RUNS})",
        kustomize.as_secs_f64() * 1e3
    );
    println!(
        "ratio gen / kustomize: {ratio:.4} (target < 0.1: {})",
        if ratio < 0.1 { "met" } else { "MISSED" }
    );
}
