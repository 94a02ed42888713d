//! The one way this workspace writes files: every file is first staged as a temporary file in
//! its target's directory, and only when all of them are on disk are they renamed into place.
//! A failure while staging (disk full, a path that cannot be a directory) therefore leaves
//! every target as it was, and each rename replaces a whole file, so no reader ever sees half
//! of one. `bundle gen` writes the tree through it, and `bundle pins refresh` writes
//! `bundle.yaml` and the tree. [`AtomicWrite::write_one`] writes a single file the same way
//! and can refuse to replace one: `bundle init` writes the starter config with it, `bundle
//! secrets --out` the Secret manifests.
//!
//! Built on `tempfile`: it picks names that cannot collide (with another run, or with a user's
//! file) and removes a staged file when it is dropped, so an early return cannot leave one
//! behind.

use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use tempfile::{Builder, TempPath};

/// Why a file could not be written; the target is unchanged.
#[derive(Debug, thiserror::Error)]
#[error("{action} {path}: {source}")]
pub struct FileWriteError {
    /// What failed: `creating directory` or `writing`.
    pub action: &'static str,
    /// The directory that could not be created, or the file that could not be written.
    pub path: PathBuf,
    /// The cause.
    #[source]
    pub source: io::Error,
}

/// What [`AtomicWrite::write_one`] does when its target exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfExists {
    /// Replace it.
    Replace,
    /// Leave it and fail with [`WriteOneError::AlreadyExists`]. The check is the rename itself
    /// (`renameat2(RENAME_NOREPLACE)`, or a hard link where that is missing), so no file that
    /// appears between a check and the write can be overwritten.
    Refuse,
}

/// The permissions [`AtomicWrite::write_one`] gives the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewFileMode {
    /// 0666 less the umask, as `std::fs::write` gives a new file: for files others read.
    Shared,
    /// 0600: for files holding secret values, readable by their owner only whatever the umask.
    Private,
}

/// Why [`AtomicWrite::write_one`] wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum WriteOneError {
    /// The target exists and [`IfExists::Refuse`] was asked for; it is unchanged.
    #[error("{} already exists", path.display())]
    AlreadyExists {
        /// The target.
        path: PathBuf,
    },
    /// The target's directory does not exist. It is not created: a mistyped directory should
    /// be reported, not made.
    #[error("the directory {} does not exist", directory.display())]
    NoDirectory {
        /// The directory.
        directory: PathBuf,
    },
    /// Any other failure.
    #[error(transparent)]
    Write(#[from] FileWriteError),
}

/// Files written together: [`AtomicWrite::stage`] each one, then [`AtomicWrite::commit`].
/// Dropping it without committing removes the staged files and changes nothing.
#[derive(Debug, Default)]
pub struct AtomicWrite {
    /// Temporary files (removed when dropped) and the targets they replace, in staging order.
    staged: Vec<(TempPath, PathBuf)>,
}

impl AtomicWrite {
    /// Nothing staged yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes `bytes` to a new temporary file in the directory of `path` (created if missing),
    /// so that [`AtomicWrite::commit`] can rename it over `path`: a rename within one
    /// directory is atomic. `path` itself is not touched yet.
    pub fn stage(&mut self, path: &Path, bytes: &[u8]) -> Result<(), FileWriteError> {
        let writing = |source| FileWriteError {
            action: "writing",
            path: path.to_owned(),
            source,
        };
        // A symlinked target is written through: the link stays, the file it names gets the
        // bytes (a rename over the link would replace it with a plain file).
        let is_link = std::fs::symlink_metadata(path).is_ok_and(|meta| meta.is_symlink());
        let target = if is_link {
            std::fs::canonicalize(path).map_err(writing)?
        } else {
            path.to_owned()
        };
        let path = target.as_path();
        let (dir, prefix) = staging_place(path);
        std::fs::create_dir_all(dir).map_err(|source| FileWriteError {
            action: "creating directory",
            path: dir.to_owned(),
            source,
        })?;
        let mut builder = Builder::new();
        builder.prefix(&prefix).suffix(".tmp");
        // An existing file keeps its mode (a bundle.yaml holding inline secrets may be 0600);
        // a new one gets the usual 0666 less the umask.
        #[cfg(unix)]
        builder.permissions(
            std::fs::metadata(path)
                .map(|meta| meta.permissions())
                .unwrap_or_else(|_| new_file_permissions()),
        );
        let mut temporary = builder.tempfile_in(dir).map_err(writing)?;
        // No fsync, as with the plain writes this replaces: the files end up in git, which
        // is where they are kept durable.
        temporary.write_all(bytes).map_err(writing)?;
        self.staged
            .push((temporary.into_temp_path(), path.to_owned()));
        Ok(())
    }

    /// Writes one file: `bytes` go to a temporary file in the directory of `path`, which must
    /// exist, are flushed to disk (the file may be the only copy of what it holds, as the
    /// generated Secrets are), and the temporary file is renamed to `path`. The file gets
    /// `mode`, not the mode of a file it replaces.
    pub fn write_one(
        path: &Path,
        bytes: &[u8],
        if_exists: IfExists,
        mode: NewFileMode,
    ) -> Result<(), WriteOneError> {
        let writing = |source| FileWriteError {
            action: "writing",
            path: path.to_owned(),
            source,
        };
        let (directory, prefix) = staging_place(path);
        let mut builder = Builder::new();
        builder.prefix(&prefix).suffix(".tmp");
        #[cfg(unix)]
        builder.permissions(match mode {
            NewFileMode::Shared => new_file_permissions(),
            NewFileMode::Private => private_file_permissions(),
        });
        #[cfg(not(unix))]
        let _ = mode;
        let mut temporary = builder.tempfile_in(directory).map_err(|error| {
            if error.kind() == io::ErrorKind::NotFound {
                WriteOneError::NoDirectory {
                    directory: directory.to_owned(),
                }
            } else {
                // tempfile's message names the random temporary file, which means nothing to
                // the reader: keep the operating system's own.
                writing(
                    error
                        .raw_os_error()
                        .map_or(error, io::Error::from_raw_os_error),
                )
                .into()
            }
        })?;
        temporary.write_all(bytes).map_err(writing)?;
        temporary.as_file().sync_all().map_err(writing)?;
        let persisted = match if_exists {
            IfExists::Replace => temporary.persist(path),
            IfExists::Refuse => temporary.persist_noclobber(path),
        };
        match persisted {
            Ok(_) => Ok(()),
            Err(failed) if failed.error.kind() == io::ErrorKind::AlreadyExists => {
                Err(WriteOneError::AlreadyExists {
                    path: path.to_owned(),
                })
            }
            Err(failed) => Err(writing(failed.error).into()),
        }
    }

    /// Renames every staged file over its target, in staging order. Should a rename fail, the
    /// files renamed before it stay replaced, the error names the one that failed, and the
    /// staged files not yet renamed are removed.
    pub fn commit(self) -> Result<(), FileWriteError> {
        for (temporary, path) in self.staged {
            temporary.persist(&path).map_err(|failed| FileWriteError {
                action: "writing",
                path,
                source: failed.error,
            })?;
        }
        Ok(())
    }
}

/// The mode a file created by `std::fs::write` gets (0o666 less the umask), rather than
/// `tempfile`'s private 0o600: generated files are read by other tools and users.
#[cfg(unix)]
fn new_file_permissions() -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::Permissions::from_mode(0o666)
}

/// Owner read and write only.
#[cfg(unix)]
fn private_file_permissions() -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::Permissions::from_mode(0o600)
}

/// Where the temporary file for `path` goes, and the prefix of its name: the directory of
/// `path` (so the rename stays on one file system), and `.<name>.`, so that the file,
/// `.<name>.<random>.tmp`, is hidden and recognisable as ours should a crash leave one.
fn staging_place(path: &Path) -> (&Path, String) {
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy())
        .unwrap_or_default();
    (dir, format!(".{file_name}."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// The names in `dir`, sorted.
    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .expect("list")
            .map(|entry| {
                entry
                    .expect("entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        names
    }

    #[test]
    fn nothing_changes_before_commit_and_every_file_is_replaced_after() {
        let dir = tempfile::tempdir().expect("temp dir");
        let existing = dir.path().join("a.yaml");
        fs::write(&existing, "old\n").expect("write");
        let mut write = AtomicWrite::new();
        write.stage(&existing, b"new\n").expect("stage");
        write
            .stage(&dir.path().join("sub/b.yaml"), b"b\n")
            .expect("stage");

        assert_eq!(fs::read_to_string(&existing).expect("read"), "old\n");
        write.commit().expect("commit");

        assert_eq!(fs::read_to_string(&existing).expect("read"), "new\n");
        assert_eq!(
            fs::read_to_string(dir.path().join("sub/b.yaml")).expect("read"),
            "b\n"
        );
        assert_eq!(names(dir.path()), ["a.yaml", "sub"]);
    }

    #[test]
    fn dropping_without_commit_removes_the_staged_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut write = AtomicWrite::new();
        write
            .stage(&dir.path().join("a.yaml"), b"a\n")
            .expect("stage");
        assert_eq!(names(dir.path()).len(), 1, "the staged file is on disk");

        drop(write);

        assert!(names(dir.path()).is_empty());
    }

    #[test]
    fn a_failed_stage_names_the_directory_and_writes_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        // A file where a directory must go.
        fs::write(dir.path().join("base"), "mine\n").expect("write");
        let mut write = AtomicWrite::new();
        write
            .stage(&dir.path().join("a.yaml"), b"a\n")
            .expect("stage");

        let error = write
            .stage(&dir.path().join("base/b.yaml"), b"b\n")
            .expect_err("base is a file");
        drop(write);

        assert_eq!(error.action, "creating directory");
        assert_eq!(error.path, dir.path().join("base"));
        assert_eq!(names(dir.path()), ["base"]);
    }

    #[test]
    fn a_rename_that_fails_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        // A directory at the target: the temporary file is written, the rename fails.
        let target = dir.path().join("kustomization.yaml");
        fs::create_dir(&target).expect("mkdir");
        let mut write = AtomicWrite::new();
        write.stage(&target, b"x: 1\n").expect("stage");

        let error = write.commit().expect_err("a directory is in the way");

        assert_eq!((error.action, error.path), ("writing", target));
        assert_eq!(names(dir.path()), ["kustomization.yaml"]);
    }

    #[test]
    fn a_failed_rename_keeps_the_files_renamed_before_it_and_removes_the_rest() {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::create_dir(dir.path().join("b.yaml")).expect("mkdir");
        let mut write = AtomicWrite::new();
        for name in ["a.yaml", "b.yaml", "c.yaml"] {
            write.stage(&dir.path().join(name), b"x\n").expect("stage");
        }

        write.commit().expect_err("b.yaml is a directory");

        assert_eq!(names(dir.path()), ["a.yaml", "b.yaml"]);
        assert_eq!(
            fs::read_to_string(dir.path().join("a.yaml")).expect("read"),
            "x\n"
        );
    }

    #[cfg(unix)]
    #[test]
    fn written_files_get_the_mode_of_a_plain_write() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("temp dir");
        let plain = dir.path().join("plain");
        fs::write(&plain, "x").expect("write");
        let atomic = dir.path().join("atomic");
        let mut write = AtomicWrite::new();
        write.stage(&atomic, b"x").expect("stage");
        write.commit().expect("commit");

        let mode = |path: &Path| fs::metadata(path).expect("stat").permissions().mode();
        assert_eq!(mode(&atomic), mode(&plain));
    }

    #[cfg(unix)]
    #[test]
    fn an_existing_file_keeps_its_permissions() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bundle.yaml");
        fs::write(&path, "old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let mut write = AtomicWrite::new();
        write.stage(&path, b"new").unwrap();
        write.commit().unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_file_is_written_through_and_stays_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.yaml");
        let link = dir.path().join("bundle.yaml");
        fs::write(&real, "old").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let mut write = AtomicWrite::new();
        write.stage(&link, b"new").unwrap();
        write.commit().unwrap();
        assert!(fs::symlink_metadata(&link).unwrap().is_symlink());
        assert_eq!(fs::read_to_string(&real).unwrap(), "new");
    }

    #[test]
    fn write_one_refusing_an_existing_file_leaves_it_and_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.yaml");
        fs::write(&path, "mine").unwrap();

        let error = AtomicWrite::write_one(&path, b"new", IfExists::Refuse, NewFileMode::Private)
            .expect_err("the file exists");

        assert!(
            matches!(&error, WriteOneError::AlreadyExists { path: named } if *named == path),
            "{error:?}"
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), "mine");
        assert_eq!(names(dir.path()), ["secrets.yaml"]);
    }

    #[cfg(unix)]
    #[test]
    fn write_one_refuses_a_dangling_symlink_at_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("secrets.yaml");
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), &link).unwrap();

        let error = AtomicWrite::write_one(&link, b"new", IfExists::Refuse, NewFileMode::Private)
            .expect_err("the link exists");

        assert!(
            matches!(error, WriteOneError::AlreadyExists { .. }),
            "{error:?}"
        );
        assert!(!dir.path().join("elsewhere").exists());
        assert_eq!(names(dir.path()), ["secrets.yaml"]);
    }

    #[test]
    fn write_one_replaces_an_existing_file_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bundle.yaml");
        fs::write(&path, "old").unwrap();

        AtomicWrite::write_one(&path, b"new", IfExists::Replace, NewFileMode::Shared).unwrap();

        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(names(dir.path()), ["bundle.yaml"]);
    }

    #[test]
    fn write_one_into_a_missing_directory_names_it_and_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("site/bundle.yaml");

        let error = AtomicWrite::write_one(&path, b"x", IfExists::Refuse, NewFileMode::Shared)
            .expect_err("no directory");

        assert!(
            matches!(&error, WriteOneError::NoDirectory { directory } if *directory == dir.path().join("site")),
            "{error:?}"
        );
        assert!(names(dir.path()).is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn write_one_private_files_are_owner_only_and_shared_ones_follow_the_umask() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
        let private = dir.path().join("private");
        let shared = dir.path().join("shared");
        let plain = dir.path().join("plain");

        AtomicWrite::write_one(&private, b"x", IfExists::Refuse, NewFileMode::Private).unwrap();
        AtomicWrite::write_one(&shared, b"x", IfExists::Refuse, NewFileMode::Shared).unwrap();
        fs::write(&plain, "x").unwrap();

        assert_eq!(mode(&private), 0o600);
        assert_eq!(mode(&shared), mode(&plain));
    }
}
