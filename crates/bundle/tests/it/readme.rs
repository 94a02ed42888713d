//! What the README says about the rendered tree, checked against the tree.

use std::fs;
use std::path::Path;

use bundle_gen::{Config, OverlayName, render_objects};

use crate::support::site_yaml;

/// Seconds of a Go duration as Flux writes it (`65m`, `1h5m`, `300s`).
fn go_duration_seconds(text: &str) -> u64 {
    let mut total = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            other => panic!("unit `{other}` in `{text}`"),
        };
        total += number.parse::<u64>().expect("a number before the unit") * unit;
        number.clear();
    }
    assert!(number.is_empty(), "`{text}` ends without a unit");
    total
}

#[test]
fn the_flux_example_waits_longer_than_the_homeservers_startup_probe_allows() {
    let config = Config::from_yaml(&site_yaml()).expect("the repository's config");
    let objects = render_objects(&config, OverlayName::Bundled).expect("render");
    let homeserver = objects
        .iter()
        .find(|object| object["kind"] == "StatefulSet")
        .expect("the homeserver StatefulSet");
    let probe = &homeserver["spec"]["template"]["spec"]["containers"][0]["startupProbe"];
    let field = |name: &str| probe[name].as_u64().unwrap_or_default();
    let (failures, period) = (field("failureThreshold"), field("periodSeconds"));
    let allowance = field("initialDelaySeconds") + failures * period;
    assert!(allowance > 0, "no startup probe: {probe}");

    let readme = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
        .expect("README.md");
    let flux = readme
        .split("kind: Kustomization\n")
        .nth(1)
        .expect("the Flux Kustomization example");
    let timeout = flux
        .lines()
        .find_map(|line| line.trim_start().strip_prefix("timeout: "))
        .expect("its timeout");
    assert!(
        go_duration_seconds(timeout) > allowance,
        "timeout {timeout} is not longer than the startup allowance of {allowance} s"
    );
    let stated = format!("{failures} x {period} s");
    assert!(
        flux.contains(&stated),
        "the example's comment does not give the allowance as `{stated}`"
    );
}

fn readme() -> String {
    fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
        .expect("README.md")
}

#[test]
fn the_readme_gives_the_history_bound_of_held_pins() {
    let limit = pin_refresh::HISTORY_LIMIT;
    assert!((1_000..1_000_000).contains(&limit), "{limit}");
    let stated = format!(
        "the newest {},{:03} commits of HEAD",
        limit / 1_000,
        limit % 1_000
    );
    assert!(
        readme().contains(&stated),
        "the README does not say `{stated}`"
    );
}

/// The README section a homeserver bump's commit message points at (`README, "<title>"`).
pub fn assert_the_readme_has_the_section_a_message_names(message: &str) {
    let title = message
        .split("README, \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("the message names no README section:\n{message}"));
    let heading = format!("\n### {title}\n");
    assert!(readme().contains(&heading), "the README has no `{heading}`");
}
