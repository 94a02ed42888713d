//! `bundle gen --against <git-ref>` in real git repositories: every transition rule refuses its
//! change (exit 2, the key, both values, the reason and the fix, nothing written), a
//! `Bundle-Allow:` trailer after the ref or `--allow` lets it through, and an unchanged config
//! passes.

use insta::assert_snapshot;
use pin_refresh::test_fixture::{TestRepo, commit_all, init_repo, isolated_git_env};

use crate::support::{Run, Workdir, set, site_yaml};

/// A site in a git repository: the repository's `bundle.yaml` and its generated tree, committed
/// on `main` (the deployed branch). Changes are committed on top of it.
struct Site {
    work: Workdir,
    git: TestRepo,
}

impl Site {
    fn deployed() -> Self {
        let work = Workdir::site();
        let git = init_repo(work.path());
        let site = Self { work, git };
        site.bundle(&["gen"]).success();
        commit_all(&site.git, "the deployed site");
        site.git.git(["branch", "deployed"]);
        site
    }

    /// Writes `config` (with its regenerated tree) and commits it with `message`.
    fn change(&self, config: &str, message: &str) {
        self.work.write_config(config);
        self.bundle(&["gen"]).success();
        commit_all(&self.git, message);
    }

    /// Writes `config` without committing or regenerating anything.
    fn edit(&self, config: &str) {
        self.work.write_config(config);
    }

    /// `bundle <args>` with git isolated from the machine's configuration.
    fn bundle(&self, args: &[&str]) -> Run {
        let mut command = self.work.command(args);
        command.envs(isolated_git_env());
        self.work.run(&mut command)
    }

    /// `bundle gen --check --against deployed`, after which nothing may have changed on disk.
    fn check_against_deployed(&self, extra: &[&str]) -> Run {
        let before = self.work.files();
        let mut args = vec!["gen", "--check", "--against", "deployed"];
        args.extend_from_slice(extra);
        let run = self.bundle(&args);
        assert_eq!(self.work.files(), before, "--check wrote something");
        run
    }

    /// `bundle gen --against deployed`, which must refuse and leave every file as it was.
    fn refused(&self) -> Run {
        let before = self.work.files();
        let run = self
            .bundle(&["gen", "--against", "deployed"])
            .expect_code(2);
        assert_eq!(self.work.files(), before, "a refused change wrote files");
        run
    }
}

fn site_with(path: &str, value: &str) -> String {
    set(&site_yaml(), path, value)
}

/// The site under another server name, every URL that embeds it moved along.
fn renamed_site() -> String {
    site_yaml().replace("matrix.example.org", "chat.example.org")
}

#[test]
fn an_unchanged_config_passes() {
    let site = Site::deployed();
    let run = site.check_against_deployed(&[]).success();
    assert_snapshot!(run.transcript(), @r"
    exit: 0
    --- stdout
    --- stderr
    up to date: 27 files in .
    ");
}

#[test]
fn a_changed_server_name_is_refused() {
    let site = Site::deployed();
    site.edit(&renamed_site());
    assert_snapshot!(site.refused().transcript());
}

#[test]
fn a_changed_namespace_is_refused() {
    let site = Site::deployed();
    site.edit(&site_with("namespace", "chat"));
    assert_snapshot!(site.refused().transcript());
}

#[test]
fn persistence_turned_off_is_refused() {
    let site = Site::deployed();
    site.edit(&site_with("homeserver.persistence.enabled", "false"));
    assert_snapshot!(site.refused().transcript());
}

#[test]
fn an_existing_claim_is_refused() {
    let site = Site::deployed();
    site.edit(&site_with(
        "homeserver.persistence.existingClaim",
        "matrix-data",
    ));
    assert_snapshot!(site.refused().transcript());
}

#[test]
fn another_storage_class_is_refused() {
    let site = Site::deployed();
    site.edit(&site_with(
        "homeserver.persistence.storageClass",
        "fast-ssd",
    ));
    assert_snapshot!(site.refused().transcript());
}

#[test]
fn another_volume_size_is_refused_with_how_to_resize_by_hand() {
    let site = Site::deployed();
    site.edit(&site_with("homeserver.persistence.size", "20Gi"));
    assert_snapshot!(site.refused().transcript());
}

#[test]
fn a_lower_homeserver_pin_is_refused() {
    let site = Site::deployed();
    site.edit(&site_with("images.homeserver.tag", "v1.9.2"));
    assert_snapshot!(site.refused().transcript());
}

#[test]
fn a_changed_api_key_name_is_refused() {
    let site = Site::deployed();
    site.edit(&site_with("livekit.keys.apiKeyName", "lk-jwt-2"));
    assert_snapshot!(site.refused().transcript());
}

#[test]
fn every_refused_change_is_listed_at_once() {
    let site = Site::deployed();
    let config = set(&renamed_site(), "homeserver.persistence.size", "20Gi");
    site.edit(&config);
    let run = site.refused();
    assert_eq!(run.stdout(), "");
    assert!(
        run.stderr()
            .starts_with("error: bundle.yaml: 2 changes against `deployed` refused"),
        "{}",
        run.stderr()
    );
}

/// Each rule's change, committed with its `Bundle-Allow:` trailer, then checked: accepted.
#[test]
fn each_change_passes_with_its_trailer_on_a_commit_after_the_ref() {
    let changes = [
        ("server-name", renamed_site()),
        ("namespace", site_with("namespace", "chat")),
        (
            "persistence-off",
            site_with("homeserver.persistence.enabled", "false"),
        ),
        (
            "existing-claim",
            site_with("homeserver.persistence.existingClaim", "matrix-data"),
        ),
        (
            "storage-class",
            site_with("homeserver.persistence.storageClass", "fast-ssd"),
        ),
        (
            "volume-size",
            site_with("homeserver.persistence.size", "20Gi"),
        ),
        (
            "homeserver-downgrade",
            site_with("images.homeserver.tag", "v1.9.2"),
        ),
        (
            "api-key-name",
            site_with("livekit.keys.apiKeyName", "lk-jwt-2"),
        ),
    ];
    for (rule, config) in changes {
        let site = Site::deployed();
        site.change(
            &config,
            &format!("A reviewed change\n\nBundle-Allow: {rule}\n"),
        );
        let run = site.check_against_deployed(&[]).success();
        assert!(
            run.stderr().starts_with(&format!("allowed ({rule}): ")),
            "{rule}: {}",
            run.transcript()
        );
    }
}

#[test]
fn a_trailer_on_a_later_commit_than_the_change_counts_too() {
    let site = Site::deployed();
    site.change(
        &site_with("homeserver.persistence.size", "20Gi"),
        "Grow the volume",
    );
    commit_all(&site.git, "Resized by hand\n\nBundle-Allow: volume-size\n");
    site.check_against_deployed(&[]).success();
}

#[test]
fn a_trailer_on_the_deployed_commit_itself_does_not_count() {
    let site = Site::deployed();
    commit_all(
        &site.git,
        "Allowed too early\n\nBundle-Allow: volume-size\n",
    );
    site.git.git(["branch", "--force", "deployed"]);
    site.change(
        &site_with("homeserver.persistence.size", "20Gi"),
        "Grow the volume",
    );
    site.check_against_deployed(&[]).expect_code(2);
}

#[test]
fn a_trailer_for_another_rule_lets_nothing_through() {
    let site = Site::deployed();
    site.change(
        &site_with("homeserver.persistence.size", "20Gi"),
        "Grow the volume\n\nBundle-Allow: storage-class\n",
    );
    site.check_against_deployed(&[]).expect_code(2);
}

#[test]
fn the_allow_flag_lets_a_change_through_and_says_so() {
    let site = Site::deployed();
    site.change(
        &site_with("homeserver.persistence.size", "20Gi"),
        "Grow the volume",
    );
    let run = site
        .check_against_deployed(&["--allow", "volume-size"])
        .success();
    assert_snapshot!(run.transcript(), @r"
    exit: 0
    --- stdout
    --- stderr
    allowed (volume-size): `homeserver.persistence.size` changes from `10Gi` to `20Gi` against `deployed`
    up to date: 27 files in .
    ");
}

#[test]
fn a_higher_homeserver_pin_passes() {
    let site = Site::deployed();
    site.change(
        &site_with("images.homeserver.tag", "v1.9.4"),
        "Bump Tuwunel",
    );
    site.check_against_deployed(&[]).success();
}

#[test]
fn a_config_absent_at_the_ref_has_nothing_to_compare_with() {
    let site = Site::deployed();
    let empty_tree = site.git.git(["hash-object", "-t", "tree", "/dev/null"]);
    let empty_start = site.git.git([
        "-c",
        "user.name=Fixture",
        "-c",
        "user.email=fixture@example.org",
        "commit-tree",
        empty_tree.as_str(),
        "-m",
        "an empty start",
    ]);
    site.git
        .git(["branch", "--force", "deployed", empty_start.as_str()]);
    site.change(&renamed_site(), "A new site");
    site.check_against_deployed(&[]).success();
}

#[test]
fn an_unknown_ref_is_an_error() {
    let site = Site::deployed();
    let run = site.bundle(&["gen", "--check", "--against", "origin/main"]);
    assert_snapshot!(run.transcript(), @r"
    exit: 2
    --- stdout
    --- stderr
    error: `origin/main` names no commit of this repository: fetch it first (`git fetch origin`), or name a branch, tag or commit that exists
    ");
}

#[test]
fn an_unknown_rule_in_a_trailer_is_an_error() {
    let site = Site::deployed();
    site.change(
        &site_with("homeserver.persistence.size", "20Gi"),
        "Grow the volume\n\nBundle-Allow: volume\n",
    );
    assert_snapshot!(site.check_against_deployed(&[]).transcript());
}

#[test]
fn an_unknown_rule_given_to_allow_is_a_usage_error() {
    let site = Site::deployed();
    assert_snapshot!(
        site.check_against_deployed(&["--allow", "volume"])
            .transcript()
    );
}

#[test]
fn allow_without_against_is_a_usage_error() {
    let site = Site::deployed();
    assert_snapshot!(site.bundle(&["gen", "--allow", "volume-size"]).transcript());
}

#[test]
fn a_deployed_key_the_schema_dropped_is_ignored_and_listed_so_its_migration_passes() {
    let site = Site::deployed();
    // The deployed branch still writes a key that this version of bundle no longer knows.
    site.edit(&site_with("livekit.rtc.droppedSetting", "true"));
    commit_all(&site.git, "deployed with a key since dropped");
    site.git.git(["branch", "--force", "deployed"]);
    site.change(&site_yaml(), "Drop the key the schema no longer has");
    let run = site.check_against_deployed(&[]).success();
    assert_snapshot!(run.transcript(), @r"
    exit: 0
    --- stdout
    --- stderr
    ignored at `deployed`: `livekit.rtc.droppedSetting`, a key bundle no longer knows (no transition rule reads it)
    up to date: 27 files in .
    ");
}

#[test]
fn a_migration_away_from_a_dropped_key_is_still_refused_by_the_rules() {
    let site = Site::deployed();
    site.edit(&site_with("livekit.rtc.droppedSetting", "true"));
    commit_all(&site.git, "deployed with a key since dropped");
    site.git.git(["branch", "--force", "deployed"]);
    site.edit(&site_with("namespace", "chat"));
    let run = site.refused();
    assert!(
        run.transcript()
            .contains("`namespace` changes from `matrix` to `chat`"),
        "{}",
        run.transcript()
    );
}
