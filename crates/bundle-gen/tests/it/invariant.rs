//! The invariant: for every overlay, `kubectl kustomize overlays/<name>` of the written tree
//! yields exactly the objects `render_objects` computes from the model.

use bundle_gen::{render, render_objects};

use crate::support::{all_configs, kustomize, object_key, repository_config};

fn sorted(mut objects: Vec<serde_json::Value>) -> Vec<serde_json::Value> {
    objects.sort_by_key(object_key);
    objects
}

#[test]
fn kustomize_output_equals_render_objects_for_every_overlay_of_every_config() {
    for (name, config) in all_configs().into_iter().chain([repository_config()]) {
        let root = tempfile::tempdir().unwrap();
        render(&config).unwrap().write_to(root.path()).unwrap();
        for overlay in config.variants().keys() {
            let built = sorted(kustomize(
                &root.path().join("overlays").join(overlay.dir_name()),
            ));
            let expected = sorted(render_objects(&config, *overlay).unwrap());
            let keys = |objects: &[serde_json::Value]| -> Vec<String> {
                objects.iter().map(object_key).collect()
            };
            assert_eq!(
                keys(&built),
                keys(&expected),
                "{name}: objects of {overlay:?}"
            );
            for (built, expected) in built.iter().zip(&expected) {
                assert_eq!(
                    built,
                    expected,
                    "{name}: {} in overlay {overlay:?} differs\nkustomize:\n{}\nmodel:\n{}",
                    object_key(built),
                    serde_norway::to_string(built).unwrap(),
                    serde_norway::to_string(expected).unwrap()
                );
            }
        }
    }
}
