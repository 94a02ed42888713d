//! What merging a new pin of an image does to the running service, in the words of the
//! component that runs it: a pin bump's commit message carries it for its reviewer.

use crate::component::COMPONENTS;
use crate::config::Config;
use crate::images::ImageName;

/// What rolling out a new image of `image` restarts, and with what effect on calls and chat,
/// as the first overlay that deploys it runs it (the overlays that share a component agree on
/// its settings). Lines of at most 72 characters, ending in a line break. `None` when no
/// overlay deploys it: the pin then reaches no pod.
pub fn rollout_note(config: &Config, image: ImageName) -> Option<String> {
    let raw = config.raw();
    let component = COMPONENTS
        .iter()
        .find(|component| component.image() == Some(image))?;
    config
        .variants()
        .values()
        .find(|variant| component.enabled(raw, variant))
        .and_then(|variant| component.rollout_note(raw, variant))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The repository's `bundle.yaml`, as bundle-gen's fixtures keep it.
    const SITE: &str = include_str!("../tests/fixtures/configs/bundle.yaml");

    fn config(yaml: &str) -> Config {
        Config::from_yaml(yaml).expect("a valid config")
    }

    #[test]
    fn every_image_a_site_deploys_has_a_note_in_lines_of_72_characters() {
        // The repository's site deploys every image but the bundled Valkey's; the fixture with
        // Valkey deploys that one too.
        let site = config(SITE);
        let with_valkey = config(include_str!("../tests/fixtures/configs/valkey.yaml"));
        for image in ImageName::ALL {
            let deploys = if image == ImageName::VALKEY {
                &with_valkey
            } else {
                &site
            };
            let note = rollout_note(deploys, image).unwrap_or_else(|| panic!("a note for {image}"));
            assert!(note.ends_with('\n'), "{note}");
            assert!(note.lines().all(|line| line.len() <= 72), "{note}");
        }
    }

    #[test]
    fn a_valkey_the_site_does_not_bundle_has_no_note() {
        assert_eq!(rollout_note(&config(SITE), ImageName::VALKEY), None);
    }

    #[test]
    fn one_livekit_node_is_recreated_and_new_calls_wait() {
        let note = rollout_note(&config(SITE), ImageName::LIVEKIT).expect("a note");
        assert!(note.contains("Deployment strategy Recreate"), "{note}");
        assert!(note.contains("no call can start or be joined"), "{note}");
    }

    #[test]
    fn scaled_out_livekit_nodes_drain_one_at_a_time_while_the_others_take_calls() {
        let scaled = config(include_str!("../tests/fixtures/configs/scale-out.yaml"));
        let note = rollout_note(&scaled, ImageName::LIVEKIT).expect("a note");
        assert!(note.contains("maxSurge 0, maxUnavailable 1"), "{note}");
        assert!(
            note.contains("the other nodes keep taking new calls"),
            "{note}"
        );
        assert!(!note.contains("Recreate"), "{note}");
        assert!(note.lines().all(|line| line.len() <= 72), "{note}");
    }

    #[test]
    fn livekit_that_no_overlay_bundles_has_no_note() {
        let external_only = config(
            &SITE
                .replace("\n  bundled: {}\n", "\n")
                .replace("\n  bundled-turn: {}\n", "\n"),
        );
        assert_eq!(rollout_note(&external_only, ImageName::LIVEKIT), None);
    }
}
