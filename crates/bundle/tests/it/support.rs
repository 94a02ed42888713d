//! Shared helpers: the repository's site config and YAML edits of it, a temporary working
//! directory, the `bundle` binary run there with a clean environment, and the transcript
//! (exit code, stdout, stderr) that every CLI error snapshot holds.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_norway::{Mapping, Value};
use tempfile::TempDir;

/// The repository's own `bundle.yaml`, which its committed tree is generated from.
pub fn repository_config_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bundle.yaml")
}

/// The text of the repository's `bundle.yaml`: the good config most tests start from.
pub fn site_yaml() -> String {
    fs::read_to_string(repository_config_path()).expect("the repository's bundle.yaml")
}

/// `config` with `path` (dotted) set to `value` (YAML), mappings created on the way.
pub fn set(config: &str, path: &str, value: &str) -> String {
    edit(config, |doc| {
        let value: Value = serde_norway::from_str(value).expect("value is YAML");
        let mut node = doc;
        for segment in path.split('.') {
            node = node
                .as_mapping_mut()
                .expect("a mapping on the path")
                .entry(Value::from(segment))
                .or_insert_with(|| Value::Mapping(Mapping::new()));
        }
        *node = value;
    })
}

/// `config` without `path` (dotted).
pub fn unset(config: &str, path: &str) -> String {
    edit(config, |doc| {
        let (parent, last) = path.rsplit_once('.').unwrap_or(("", path));
        let mut node = doc;
        for segment in parent.split('.').filter(|s| !s.is_empty()) {
            node = node.get_mut(segment).expect("path exists");
        }
        node.as_mapping_mut()
            .expect("a mapping")
            .remove(last)
            .expect("key exists");
    })
}

fn edit(config: &str, change: impl FnOnce(&mut Value)) -> String {
    let mut doc: Value = serde_norway::from_str(config).expect("config is YAML");
    change(&mut doc);
    serde_norway::to_string(&doc).expect("serializable")
}

/// Every file below `root` with its bytes, by path relative to `root`; `.git` is left out.
pub fn files_below(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, files: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in fs::read_dir(dir).expect("read dir") {
            let path = entry.expect("dir entry").path();
            if path.file_name() == Some(OsStr::new(".git")) {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, files);
            } else {
                let relative = path.strip_prefix(root).expect("below root").to_path_buf();
                files.insert(relative, fs::read(&path).expect("read file"));
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(root, root, &mut files);
    files
}

/// Output of plain `kubectl kustomize <dir>`, as Argo CD and Flux build an overlay; panics
/// with kubectl's message if it fails.
pub fn kustomize(dir: &Path) -> String {
    let output = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("kubectl must be installed (tests/setup.sh)");
    assert!(
        output.status.success(),
        "kubectl kustomize {}: {}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

/// A temporary working directory, and an empty HOME for the commands run in it.
pub struct Workdir {
    dir: TempDir,
    home: TempDir,
}

impl Workdir {
    /// An empty directory.
    pub fn empty() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
            home: tempfile::tempdir().expect("temp home"),
        }
    }

    /// A directory holding `bundle.yaml` with `text`.
    pub fn with_config(text: &str) -> Self {
        let work = Self::empty();
        work.write_config(text);
        work
    }

    /// A directory holding the repository's `bundle.yaml`.
    pub fn site() -> Self {
        Self::with_config(&site_yaml())
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    pub fn write_config(&self, text: &str) {
        fs::write(self.path().join("bundle.yaml"), text).expect("write config");
    }

    /// Every file below the working directory (`bundle.yaml` included).
    pub fn files(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        files_below(self.path())
    }

    /// `bundle <args>`, ready to run in the working directory with only PATH and a temporary
    /// HOME in its environment, so nothing of the machine (RUST_LOG, registry credentials,
    /// git config) takes part. Add variables with `.env()`.
    pub fn command<S: AsRef<OsStr>>(&self, args: &[S]) -> assert_cmd::Command {
        let mut command = assert_cmd::Command::cargo_bin("bundle").expect("the bundle binary");
        command
            .current_dir(self.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .args(args);
        command
    }

    /// Runs [`Workdir::command`].
    pub fn bundle<S: AsRef<OsStr>>(&self, args: &[S]) -> Run {
        self.run(&mut self.command(args))
    }

    /// Runs `command`, with this directory's paths filtered from its transcript.
    pub fn run(&self, command: &mut assert_cmd::Command) -> Run {
        let output = command.output().expect("bundle runs");
        Run::new(output)
            .filter(self.path(), "[WORKDIR]")
            .filter(self.home(), "[HOME]")
    }
}

/// A finished `bundle` run.
pub struct Run {
    output: Output,
    /// Text replaced in the transcript: temporary paths, local ports.
    filters: Vec<(String, String)>,
}

impl Run {
    pub fn new(output: Output) -> Self {
        Self {
            output,
            filters: Vec::new(),
        }
    }

    /// Replaces `text` (a path, a URL) with `placeholder` in the transcript. A path is also
    /// replaced in its canonical form.
    pub fn filter(mut self, text: impl AsRef<OsStr>, placeholder: &str) -> Self {
        let text = Path::new(text.as_ref());
        if let Ok(canonical) = text.canonicalize()
            && canonical != text
        {
            self.filters
                .push((canonical.display().to_string(), placeholder.to_owned()));
        }
        self.filters
            .push((text.display().to_string(), placeholder.to_owned()));
        self
    }

    /// The exit code (`-1` when killed by a signal).
    pub fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Panics with the transcript unless the exit code is `expected`.
    pub fn expect_code(self, expected: i32) -> Self {
        assert_eq!(self.code(), expected, "\n{}", self.transcript());
        self
    }

    /// Panics with the transcript unless the run succeeded.
    pub fn success(self) -> Self {
        self.expect_code(0)
    }

    /// The exit code, stdout and stderr in one text, filtered:
    ///
    /// ```text
    /// exit: 2
    /// --- stdout
    /// --- stderr
    /// error: ...
    /// ```
    pub fn transcript(&self) -> String {
        let mut text = format!("exit: {}\n", self.code());
        for (name, stream) in [("stdout", self.stdout()), ("stderr", self.stderr())] {
            text.push_str(&format!("--- {name}\n{stream}"));
            if !stream.is_empty() && !stream.ends_with('\n') {
                text.push_str("\n[no newline at the end]\n");
            }
        }
        for (from, to) in &self.filters {
            text = text.replace(from, to);
        }
        text
    }
}
