//! The tree writer: atomic writes, ownership by header, `--check` without writing.

use std::fs;
use std::path::Path;

use bundle_gen::{Tree, WriteError, render};

use crate::support::fixture;

const USER_OVERLAY: &str = "overlays/prod/kustomization.yaml";
const USER_OVERLAY_TEXT: &str = "resources:\n- ../bundled-turn\n";

fn site_tree() -> Tree {
    render(&fixture("site")).unwrap()
}

/// Every file below `root`, relative path -> bytes (a symlink -> its target).
fn snapshot_dir(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                pending.push(path);
                continue;
            }
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let bytes = if kind.is_symlink() {
                fs::read_link(&path)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
                    .into_bytes()
            } else {
                fs::read(&path).unwrap()
            };
            files.push((relative, bytes));
        }
    }
    files.sort();
    files
}

#[test]
fn write_creates_every_file_with_the_rendered_bytes() {
    let root = tempfile::tempdir().unwrap();
    let tree = site_tree();
    let report = tree.write_to(root.path()).unwrap();
    assert_eq!(report.written.len(), tree.len());
    let expected: Vec<(String, Vec<u8>)> = tree
        .files()
        .map(|(path, bytes)| (path.to_owned(), bytes.to_vec()))
        .collect();
    assert_eq!(snapshot_dir(root.path()), expected);
}

#[test]
fn writing_the_same_tree_again_writes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let tree = site_tree();
    tree.write_to(root.path()).unwrap();
    let report = tree.write_to(root.path()).unwrap();
    assert!(report.written.is_empty(), "{:?}", report.written);
    assert!(report.removed.is_empty(), "{:?}", report.removed);
    assert_eq!(report.unchanged.len(), tree.len());
}

#[test]
fn write_removes_generated_files_the_tree_no_longer_has_and_their_empty_directories() {
    let root = tempfile::tempdir().unwrap();
    site_tree().write_to(root.path()).unwrap();
    let external_only = render(&fixture("digest-only")).unwrap();
    let report = external_only.write_to(root.path()).unwrap();
    assert!(
        report
            .removed
            .contains(&"overlays/bundled/kustomization.yaml".to_owned())
    );
    assert!(!root.path().join("overlays/components").exists());
    assert!(!root.path().join("overlays/bundled").exists());
    assert!(external_only.check(root.path()).unwrap().is_clean());
}

#[test]
fn write_keeps_files_without_the_header() {
    let root = tempfile::tempdir().unwrap();
    site_tree().write_to(root.path()).unwrap();
    let user_file = root.path().join(USER_OVERLAY);
    fs::create_dir_all(user_file.parent().unwrap()).unwrap();
    fs::write(&user_file, USER_OVERLAY_TEXT).unwrap();
    fs::write(root.path().join("base/NOTES.md"), "mine\n").unwrap();

    render(&fixture("digest-only"))
        .unwrap()
        .write_to(root.path())
        .unwrap();

    assert_eq!(fs::read_to_string(&user_file).unwrap(), USER_OVERLAY_TEXT);
    assert_eq!(
        fs::read_to_string(root.path().join("base/NOTES.md")).unwrap(),
        "mine\n"
    );
}

#[test]
fn write_refuses_a_user_file_at_a_generated_path_and_changes_nothing() {
    let root = tempfile::tempdir().unwrap();
    render(&fixture("digest-only"))
        .unwrap()
        .write_to(root.path())
        .unwrap();
    let foreign = root.path().join("overlays/bundled/kustomization.yaml");
    fs::create_dir_all(foreign.parent().unwrap()).unwrap();
    fs::write(&foreign, USER_OVERLAY_TEXT).unwrap();
    let before = snapshot_dir(root.path());

    let error = site_tree().write_to(root.path()).unwrap_err();

    assert!(
        matches!(&error, WriteError::NotGenerated { path } if *path == foreign),
        "{error}"
    );
    assert_eq!(snapshot_dir(root.path()), before);
}

#[test]
fn check_lists_out_of_date_missing_and_stale_files_without_writing() {
    let root = tempfile::tempdir().unwrap();
    let tree = site_tree();
    tree.write_to(root.path()).unwrap();
    let base = root.path().join("base");
    let mut edited = fs::read(base.join("tuwunel.toml")).unwrap();
    edited.extend_from_slice(b"# hand edit\n");
    fs::write(base.join("tuwunel.toml"), edited).unwrap();
    fs::remove_file(base.join("matrix-ingress.yaml")).unwrap();
    fs::write(
        base.join("old-deployment.yaml"),
        format!("{}kind: Deployment\n", bundle_gen::GENERATED_HEADER),
    )
    .unwrap();
    let before = snapshot_dir(root.path());

    let report = tree.check(root.path()).unwrap();

    assert_eq!(report.out_of_date, ["base/tuwunel.toml"]);
    assert_eq!(report.missing, ["base/matrix-ingress.yaml"]);
    assert_eq!(report.stale, ["base/old-deployment.yaml"]);
    assert!(!report.is_clean());
    assert_eq!(snapshot_dir(root.path()), before);
}

#[test]
fn check_is_clean_right_after_write() {
    let root = tempfile::tempdir().unwrap();
    let tree = site_tree();
    tree.write_to(root.path()).unwrap();
    let report = tree.check(root.path()).unwrap();
    assert!(report.is_clean(), "{report:?}");
}

#[test]
fn write_leaves_no_temporary_files_behind() {
    let root = tempfile::tempdir().unwrap();
    site_tree().write_to(root.path()).unwrap();
    let leftovers: Vec<String> = snapshot_dir(root.path())
        .into_iter()
        .map(|(path, _)| path)
        .filter(|path| path.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn write_that_fails_while_reading_the_target_changes_nothing() {
    let root = tempfile::tempdir().unwrap();
    render(&fixture("digest-only"))
        .unwrap()
        .write_to(root.path())
        .unwrap();
    // A directory where the tree needs a file: that path cannot be read or written.
    fs::create_dir_all(root.path().join("overlays/bundled/kustomization.yaml")).unwrap();
    let before = snapshot_dir(root.path());

    let error = site_tree().write_to(root.path()).unwrap_err();

    assert!(matches!(error, WriteError::Io { .. }), "{error}");
    assert_eq!(snapshot_dir(root.path()), before);
}

#[test]
fn write_that_fails_after_staging_other_files_changes_nothing() {
    let root = tempfile::tempdir().unwrap();
    render(&fixture("digest-only"))
        .unwrap()
        .write_to(root.path())
        .unwrap();
    // A dangling symlink where the tree needs a directory: the files below it look missing,
    // so the failure comes only when they are written, after files in `base/` are staged.
    std::os::unix::fs::symlink("nowhere", root.path().join("overlays/bundled")).unwrap();
    let tree = site_tree();
    let pending = tree.check(root.path()).unwrap();
    assert!(
        pending
            .out_of_date
            .iter()
            .any(|path| path.starts_with("base/")),
        "the fixtures must differ in base/ for this test to see a partial write: {pending:?}"
    );
    let before = snapshot_dir(root.path());

    let error = tree.write_to(root.path()).unwrap_err();

    assert!(matches!(error, WriteError::Io { .. }), "{error}");
    assert_eq!(snapshot_dir(root.path()), before);
}
