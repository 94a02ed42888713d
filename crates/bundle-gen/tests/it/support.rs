//! Shared helpers: fixture configs and running `kubectl kustomize`.

use std::path::{Path, PathBuf};
use std::process::Command;

use bundle_gen::Config;

/// `tests/fixtures/configs`.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/configs")
}

/// Every fixture config, by file stem.
pub fn all_configs() -> Vec<(String, Config)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            (stem, load(&path))
        })
        .collect()
}

/// The repository's own `bundle.yaml`, which the committed tree is generated from.
pub fn repository_config() -> (String, Config) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bundle.yaml");
    ("repository bundle.yaml".to_owned(), load(&path))
}

/// Parses and validates one config file.
pub fn load(path: &Path) -> Config {
    let text = std::fs::read_to_string(path).unwrap();
    Config::from_yaml(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// The fixture `tests/fixtures/configs/<stem>.yaml`.
pub fn fixture(stem: &str) -> Config {
    load(&fixtures_dir().join(format!("{stem}.yaml")))
}

/// Output of plain `kubectl kustomize <dir>`, as parsed documents.
pub fn kustomize(dir: &Path) -> Vec<serde_json::Value> {
    let output = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("kubectl must be installed (tests/setup.sh)");
    assert!(
        output.status.success(),
        "kubectl kustomize {} failed:\n{}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    serde_norway::Deserializer::from_str(&text)
        .map(|document| serde::Deserialize::deserialize(document).unwrap())
        .collect()
}

/// `kind/name` of an object, to sort and name objects in messages.
pub fn object_key(object: &serde_json::Value) -> String {
    format!(
        "{}/{}",
        object["kind"].as_str().unwrap_or_default(),
        object["metadata"]["name"].as_str().unwrap_or_default()
    )
}
