//! `bundle.schema.json`: the committed file is what the config types generate, and it accepts
//! what the loader accepts (the repository's `bundle.yaml`, every fixture) and refuses
//! unknown keys and malformed pins, as the loader does.

use std::path::{Path, PathBuf};

use bundle_gen::{CONFIG_SCHEMA_FILE, config_schema, config_schema_text};
use serde_json::Value;

use crate::support::fixtures_dir;

const UPDATE_VARIABLE: &str = "BUNDLE_UPDATE_SCHEMA";

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&config_schema()).expect("the generated schema is a valid schema")
}

fn yaml_file(path: &Path) -> Value {
    serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The schema's complaints about `instance`, as `<path>: <message>` lines. An `anyOf` or
/// `oneOf` complaint (an optional section is one) is followed by the complaints of each of its
/// branches, so the key at fault is among the lines.
fn schema_errors(instance: &Value) -> Vec<String> {
    let mut lines = Vec::new();
    for error in validator().iter_errors(instance) {
        push_with_branches(&error, &mut lines);
    }
    lines
}

fn push_with_branches(error: &jsonschema::ValidationError<'_>, lines: &mut Vec<String>) {
    lines.push(format!("{}: {error}", error.instance_path()));
    if let jsonschema::error::ValidationErrorKind::AnyOf { context }
    | jsonschema::error::ValidationErrorKind::OneOfNotValid { context } = error.kind()
    {
        for branch in context.iter().flatten() {
            push_with_branches(branch, lines);
        }
    }
}

/// The repository's `bundle.yaml` with `value` (YAML) set at the dotted `path`.
fn bundle_yaml_with(path: &str, value: &str) -> Value {
    let mut doc = yaml_file(&repository_root().join("bundle.yaml"));
    let mut node = &mut doc;
    let segments: Vec<&str> = path.split('.').collect();
    for segment in &segments[..segments.len() - 1] {
        node = &mut node[*segment];
    }
    node[segments[segments.len() - 1]] = serde_norway::from_str(value).unwrap();
    doc
}

#[test]
fn schema_is_up_to_date() {
    let path = repository_root().join(CONFIG_SCHEMA_FILE);
    let generated = config_schema_text();
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed == generated {
        return;
    }
    if std::env::var_os(UPDATE_VARIABLE).is_some_and(|value| value == "1") {
        std::fs::write(&path, generated).unwrap();
        return;
    }
    panic!(
        "{CONFIG_SCHEMA_FILE} differs from the schema the config types generate. Regenerate \
         it with `{UPDATE_VARIABLE}=1 cargo test -p bundle-gen --test it schema_is_up_to_date`, \
         review `git diff {CONFIG_SCHEMA_FILE}` and commit it with the change to the types."
    );
}

#[test]
fn the_repository_bundle_yaml_satisfies_the_schema() {
    let errors = schema_errors(&yaml_file(&repository_root().join("bundle.yaml")));
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn every_fixture_config_satisfies_the_schema() {
    let mut checked = 0;
    for entry in std::fs::read_dir(fixtures_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|ext| ext == "yaml") {
            let errors = schema_errors(&yaml_file(&path));
            assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
            checked += 1;
        }
    }
    assert!(checked >= 6, "only {checked} fixtures found");
}

/// The JSON pointer of a dotted key path.
fn pointer(path: &str) -> String {
    path.split('.')
        .map(|segment| format!("/{segment}"))
        .collect()
}

#[test]
fn the_schema_refuses_unknown_keys_at_every_depth_naming_each() {
    for (path, value) in [
        ("serverNme", "matrix.example.org"),
        ("homeserver.serverNme", "matrix.example.org"),
        ("livekit.keys.apiKeyNam", "lk-jwt"),
        ("overlays.bundeld", "{}"),
        ("overlays.external.livekit.keys.existingSecret.nam", "x"),
        ("images.lkJwt.policy.rnage", "'<1'"),
        ("images.homeserver.policy", "{kind: commit, range: '^1'}"),
    ] {
        let errors = schema_errors(&bundle_yaml_with(path, value));
        let (parent, key) = path.rsplit_once('.').unwrap_or(("", path));
        // `policy: {kind: commit, range: ...}`: `range` is the key the commit policy lacks.
        let (parent, key) = if key == "policy" {
            (path, "range")
        } else {
            (parent, key)
        };
        let parent = if parent.is_empty() {
            String::new()
        } else {
            pointer(parent)
        };
        assert!(
            errors
                .iter()
                .any(|error| error.starts_with(&format!("{parent}: ")) && error.contains(key)),
            "`{path}`: no error at `{parent}` names `{key}`: {errors:#?}"
        );
    }
}

#[test]
fn the_schema_refuses_malformed_digests_tags_platforms_and_policy_kinds_at_their_key() {
    for (path, value, at) in [
        (
            "images.homeserver.digest",
            "sha256:ABC",
            "images.homeserver.digest",
        ),
        ("images.homeserver.tag", "-v1", "images.homeserver.tag"),
        (
            "images.homeserver.policy",
            "{kind: bare-multiarch, platforms: [linux]}",
            "images.homeserver.policy",
        ),
        (
            "images.homeserver.policy",
            "{kind: newest}",
            "images.homeserver.policy",
        ),
    ] {
        let errors = schema_errors(&bundle_yaml_with(path, value));
        let at = pointer(at);
        assert!(
            errors.iter().any(|error| error.starts_with(&at)),
            "`{path}: {value}`: no error at `{at}`: {errors:#?}"
        );
    }
}

#[test]
fn the_schema_refuses_a_min_age_without_a_unit_at_its_key() {
    let errors = schema_errors(&bundle_yaml_with(
        "images.homeserver.policy",
        "{kind: bare-multiarch, minAge: 3days}",
    ));
    let at = pointer("images.homeserver.policy");
    assert!(
        errors.iter().any(|error| error.starts_with(&at)),
        "no error at `{at}`: {errors:#?}"
    );
    assert!(
        schema_errors(&bundle_yaml_with(
            "images.homeserver.policy",
            "{kind: bare-multiarch, minAge: 3d}"
        ))
        .is_empty()
    );
}

#[test]
fn the_schema_and_the_loader_accept_the_same_min_ages() {
    for value in [
        "3d", "90m", "10w", "12h", "03d", "0d", "00h", "3", "3days", "d", "-3d",
    ] {
        let schema_accepts = schema_errors(&bundle_yaml_with(
            "images.homeserver.policy",
            &format!("{{kind: bare-multiarch, minAge: '{value}'}}"),
        ))
        .is_empty();
        let loader_accepts = value.parse::<bundle_gen::MinAge>().is_ok();
        assert_eq!(schema_accepts, loader_accepts, "minAge `{value}`");
    }
}

#[test]
fn the_schema_requires_what_the_loader_requires() {
    let mut doc = yaml_file(&repository_root().join("bundle.yaml"));
    doc.as_object_mut().unwrap().remove("images");
    assert!(
        !schema_errors(&doc).is_empty(),
        "a config without images was accepted"
    );
}
