//! Test support (feature `test-fixture`): keeps the machine's git configuration out of tests.

use std::sync::Once;

use git2::ConfigLevel;

/// Points libgit2's system, global, XDG and program-data config search paths at a directory
/// that does not exist, so no `~/.gitconfig` or `/etc/gitconfig` can change a test's result.
/// Call it before a test touches git; later calls do nothing.
///
/// # Panics
/// If libgit2 refuses the search path (a broken test environment).
pub fn isolate_git_config() {
    static ISOLATE: Once = Once::new();
    ISOLATE.call_once(|| {
        let nowhere =
            std::env::temp_dir().join(format!("pin-refresh-no-git-config-{}", std::process::id()));
        for level in [
            ConfigLevel::System,
            ConfigLevel::Global,
            ConfigLevel::XDG,
            ConfigLevel::ProgramData,
        ] {
            // SAFETY: this changes libgit2's process-wide settings. `Once` runs it exactly once,
            // and every test fixture calls it before opening a repository, so no other thread
            // is reading those settings while they change.
            #[allow(unsafe_code)]
            let result = unsafe { git2::opts::set_search_path(level, nowhere.as_os_str()) };
            if let Err(error) = result {
                panic!("cannot isolate tests from the git config ({level:?}): {error}");
            }
        }
    });
}
