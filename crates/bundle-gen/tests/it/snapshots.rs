//! Every rendered file of every fixture config, so each change to the output shows in review.

use bundle_gen::{GENERATED_HEADER, render};

use crate::support::{all_configs, load};

#[test]
fn rendered_trees_match_their_snapshots() {
    insta::glob!("../fixtures/configs", "*.yaml", |path| {
        let tree = render(&load(path)).unwrap();
        let mut text = String::new();
        for (path, bytes) in tree.files() {
            text.push_str(&format!("=== {path}\n{}", String::from_utf8_lossy(bytes)));
        }
        insta::assert_snapshot!(text);
    });
}

#[test]
fn every_rendered_file_starts_with_the_generated_header() {
    for (name, config) in all_configs() {
        for (path, bytes) in render(&config).unwrap().files() {
            assert!(
                bytes.starts_with(GENERATED_HEADER.as_bytes()),
                "{name}: {path} lacks the header"
            );
        }
    }
}

#[test]
fn rendering_twice_gives_the_same_bytes() {
    for (name, config) in all_configs() {
        assert_eq!(render(&config).unwrap(), render(&config).unwrap(), "{name}");
    }
}
