//! `bundle pins refresh`: the arguments, and the glue to [`pin_refresh::refresh`].

use std::collections::BTreeMap;
use std::sync::Arc;

use bundle_gen::RegistryEndpoint;
use clap::Args;
use pin_refresh::{
    Person, ProposedCheck, PushRequest, RefreshError, RefreshReport, RefreshRequest,
};

use crate::{ConfigArgs, Console, Outcome};

pub(super) const REFRESH_HELP: &str = "\
Examples:
  bundle pins refresh                       show the bumps it would commit, change nothing
  bundle pins refresh --commit              one commit per bumped image on the current branch
  bundle pins refresh --commit --branch bundle/pin-bumps --push
  bundle pins refresh --json --registry-endpoint ghcr.io=http://127.0.0.1:5000

For each image with a newer pin, rewrites its tag and digest in bundle.yaml (every other byte
is kept), regenerates the tree, and commits both: subject `chore(pins): bump <image> <old tag>
-> <new tag>`, a body with the old and new tag@digest, and the trailers `Bundle-Image: <key>`
and `Bundle-Digest: <digest>`. All bumps are computed before anything is written: on any
error no file and no branch changes. Nothing newer: no commit, exit 0.

An image whose registry fails (after the retries `pins status` describes) does not stop the
others: their bumps are committed (and pushed), the failed image is reported with its error
(in --json with `\"status\": \"error\"`), and the exit code is 3. A newer pin younger than
`policy.minAge` is not bumped (in --json: `\"status\": \"waiting\"`).

--json prints the document `pins status --json` prints (the README's \"Machine-readable
output\" documents it), with `\"command\": \"refresh\"`, each bumped image's `bump`
({\"commit\", \"message\", \"files\"}) and `refresh` ({\"dryRun\", \"branch\", \"pushed\"}). A failure that is not one image's (the
config, git, a dirty work tree) still changes nothing.

With --commit the work tree must be clean (untracked files count), bundle.yaml tracked, the
committed tree up to date (`bundle gen --check`), and HEAD on a branch unless --branch is
given. --branch creates the branch at HEAD, or resets it there, and commits on it.
--push force-pushes that branch to --remote (default origin) with the token in
BUNDLE_PUSH_TOKEN, GH_TOKEN or GITHUB_TOKEN (sent over https only). --against REF compares
the config after every bump with bundle.yaml at REF, as `bundle gen --against` does (the
`Bundle-Allow:` trailers after REF and --allow RULE count): a refused change (a homeserver
pin moved to a lower version) ends the run with exit 2 before anything is written or pushed.

Author: --author, else GIT_AUTHOR_NAME/GIT_AUTHOR_EMAIL, else git config user.name/email;
committer: GIT_COMMITTER_NAME/GIT_COMMITTER_EMAIL, else git config, else the author.
GIT_AUTHOR_DATE / GIT_COMMITTER_DATE (`<unix seconds> +hhmm`) fix the dates.

Exit codes:
  0  done (bumps committed, or printed in a dry run, or nothing to do)
  2  error: a refused safety check, an invalid config, a pin that cannot be edited in place,
     a failed regeneration, commit or push (nothing was changed, except that a failed push
     leaves the commits in place)
  3  partial: some images could not be checked; the bumps of the others were committed (and
     pushed with --push; printed only in a dry run)";

/// The environment variables that carry the author, committer and their dates.
const GIT_IDENTITY_VARIABLES: [&str; 6] = [
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_AUTHOR_DATE",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
    "GIT_COMMITTER_DATE",
];

/// Where the push token is looked for, in order.
const TOKEN_VARIABLES: [&str; 3] = ["BUNDLE_PUSH_TOKEN", "GH_TOKEN", "GITHUB_TOKEN"];

/// Arguments of `bundle pins refresh`.
#[derive(Debug, Args)]
pub struct RefreshArgs {
    /// The site config; the generated tree is in the same directory.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Write the bumps and commit them, one commit per image (default: dry run).
    #[arg(long)]
    pub commit: bool,
    /// Create (or reset) this branch at HEAD and commit on it.
    #[arg(long, value_name = "NAME", requires = "commit")]
    pub branch: Option<String>,
    /// Push the branch after committing (token from the environment, see below).
    #[arg(long, requires = "commit")]
    pub push: bool,
    /// The remote to push to: a configured name or a URL.
    #[arg(long, value_name = "NAME", default_value = "origin", requires = "push")]
    pub remote: String,
    /// Compare the config the bumps lead to with `bundle.yaml` at this git revision, as
    /// `bundle gen --against` does: a change the transition guards refuse ends the refresh
    /// before anything is written or pushed.
    #[arg(long, value_name = "GIT-REF")]
    pub against: Option<String>,
    /// With --against: let the changes of this transition rule through (local use; in a
    /// commit, write the trailer `Bundle-Allow: <RULE>`). Repeatable.
    #[arg(long, value_name = "RULE", requires = "against")]
    pub allow: Vec<bundle_gen::TransitionRule>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Commit author, `Name <email>`.
    #[arg(long, value_name = "NAME <EMAIL>", value_parser = parse_author)]
    pub author: Option<Person>,
    /// Send requests for registry HOST to URL (a mirror, or a local registry). Repeatable;
    /// overrides `registries:` in the config. An http:// URL is taken as insecure.
    #[arg(long = "registry-endpoint", value_name = "HOST=URL", value_parser = super::parse_endpoint)]
    pub registry_endpoints: Vec<(String, RegistryEndpoint)>,
}

fn parse_author(text: &str) -> Result<Person, String> {
    Person::parse(text).map_err(|error| error.to_string())
}

impl RefreshArgs {
    /// The library request, with the identity and token variables read from the environment.
    fn request(&self) -> RefreshRequest {
        let git_env = GIT_IDENTITY_VARIABLES
            .iter()
            .filter_map(|name| Some((name.to_string(), std::env::var(name).ok()?)))
            .collect();
        let push = self.push.then(|| PushRequest {
            remote: self.remote.clone(),
            token: TOKEN_VARIABLES
                .iter()
                .find_map(|name| std::env::var(name).ok().filter(|t| !t.is_empty())),
        });
        RefreshRequest {
            config: self.config.config.clone(),
            commit: self.commit,
            branch: self.branch.clone(),
            push,
            author: self.author.clone(),
            git_env,
            endpoints: self
                .registry_endpoints
                .iter()
                .cloned()
                .collect::<BTreeMap<_, _>>(),
            proposed_check: self.against.clone().map(|against| {
                let (config_path, allowed) = (self.config.config.clone(), self.allow.clone());
                ProposedCheck(Arc::new(move |proposed| {
                    crate::transition::guard(&config_path, proposed, &against, &allowed)
                        .map(drop)
                        .map_err(Into::into)
                }))
            }),
        }
    }
}

/// Some images could not be checked; the others were refreshed. `main` exits 3 on it.
#[derive(Debug, thiserror::Error)]
#[error("partial: some images could not be checked; {outcome}\n{failures}")]
pub struct PartialRefresh {
    /// What happened to the bumps of the images that were checked.
    outcome: &'static str,
    /// One indented line per failed image.
    failures: String,
}

impl PartialRefresh {
    fn of(report: &RefreshReport) -> Option<Self> {
        if report.failed.is_empty() {
            return None;
        }
        let outcome = if report.dry_run {
            "the bumps of the others are listed above (dry run: nothing was written)"
        } else {
            "the bumps of the others were committed"
        };
        let failures = super::failure_lines(report.failed.iter().map(|failed| {
            format!(
                "image `{}` ({}/{}): {}",
                failed.image, failed.registry, failed.repository, failed.error
            )
        }));
        Some(Self { outcome, failures })
    }
}

/// Runs `bundle pins refresh`.
pub(super) fn run(args: &RefreshArgs, console: &mut Console) -> anyhow::Result<Outcome> {
    console.progress("Checking the images on their registries, then bumping the newer ones…")?;
    let refreshed = super::runtime()?.block_on(pin_refresh::refresh(&args.request()));
    // Cleared before anything else is printed, the error included.
    console.clear_progress()?;
    let report = refreshed.map_err(|error| match error {
        RefreshError::ReadConfig { path, source } => crate::read_error(&path, source),
        other => other.into(),
    })?;
    if args.json {
        let text = serde_json::to_string_pretty(&super::json::PinsDocument::refresh(&report))?;
        writeln!(console.data(), "{text}")?;
    } else {
        console.data().write_all(summary(&report).as_bytes())?;
    }
    if report.bumps.is_empty() {
        console.status(nothing_to_bump(&report))?;
    } else if report.dry_run {
        console.status("Dry run: nothing was written; add --commit to write and commit.")?;
    }
    match PartialRefresh::of(&report) {
        Some(partial) => Err(partial.into()),
        None => Ok(Outcome::Done),
    }
}

/// What a refresh that bumps nothing says of the images it checked: current, held by a
/// revert, or waiting for `policy.minAge`, naming only what is so.
fn nothing_to_bump(report: &RefreshReport) -> String {
    let waiting = report
        .checked
        .iter()
        .filter(|image| image.waiting.is_some())
        .count();
    let held = report.held().next().is_some();
    let checked = if report.failed.is_empty() {
        ""
    } else {
        " among the images that could be checked"
    };
    if waiting > 0 {
        let others = if held { "current or held" } else { "current" };
        format!(
            "Nothing to bump{checked}; {waiting} waiting for policy.minAge, the others \
             {others}: nothing to commit."
        )
    } else if !report.failed.is_empty() {
        let current = if held { "current or held" } else { "current" };
        format!("The images that could be checked are {current}: nothing to commit.")
    } else if held {
        "Every pin is current or held: nothing to commit.".to_owned()
    } else {
        "All pins are current: nothing to commit.".to_owned()
    }
}

/// The human-readable report: each bump (committed, or what a dry run would commit), the
/// branch, and the registry requests. The hints around it are status lines.
fn summary(report: &RefreshReport) -> String {
    let mut text = String::new();
    for bump in &report.bumps {
        let subject = bump.message.lines().next().unwrap_or_default();
        let files: Vec<String> = bump.files.iter().map(|f| f.display().to_string()).collect();
        match &bump.commit {
            Some(commit) => {
                let short = commit.get(..12).unwrap_or(commit);
                text.push_str(&format!("{short} {subject}\n"));
            }
            None => text.push_str(&format!("would commit: {subject}\n")),
        }
        text.push_str(&format!(
            "  {}@{}\n  files: {}\n",
            bump.new.tag,
            bump.new.digest,
            files.join(", ")
        ));
    }
    for held in report.held() {
        let revert = held.revert.as_str();
        text.push_str(&format!(
            "held: {} {} (reverted by {} {})\n",
            held.image.key(),
            held.digest,
            revert.get(..12).unwrap_or(revert),
            held.revert_subject
        ));
    }
    if let Some(branch) = &report.branch {
        let pushed = if report.pushed { ", pushed" } else { "" };
        text.push_str(&format!("On branch {branch}{pushed}.\n"));
    }
    for (host, counts) in &report.requests {
        text.push_str(&format!(
            "{host}: {} requests{}\n",
            counts.total(),
            super::retry_note(report.retries.get(host))
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use bundle_gen::{Digest, ImageName};
    use pin_refresh::{
        BumpReport, CurrentPin, FailedImage, ImageStatus, Pin, RefreshReport, RequestCounts,
        RetryCounts, Route, Waiting,
    };

    use crate::pins::json::PinsDocument;

    fn digest(c: char) -> Digest {
        format!("sha256:{}", c.to_string().repeat(64))
            .parse()
            .unwrap()
    }

    fn pin(tag: &str, digest: Digest) -> Pin {
        Pin {
            tag: tag.parse().unwrap(),
            digest,
        }
    }

    fn current(tag: &str, c: char) -> CurrentPin {
        CurrentPin {
            tag: Some(tag.parse().unwrap()),
            digest: Some(digest(c)),
        }
    }

    /// A committed refresh: the homeserver bumped, lk-jwt-service current, LiveKit failed.
    fn report() -> RefreshReport {
        let homeserver = ImageStatus {
            name: ImageName::HOMESERVER,
            registry: "ghcr.io".to_owned(),
            repository: "matrix-construct/tuwunel".to_owned(),
            current: current("v1.9.2", 'a'),
            latest: Some(pin("v1.9.3", digest('b'))),
            update: true,
            route: Route::BareMultiarch,
            waiting: None,
            held: None,
            source_label: None,
        };
        let lk_jwt = ImageStatus {
            name: ImageName::LK_JWT,
            registry: "ghcr.io".to_owned(),
            repository: "element-hq/lk-jwt-service".to_owned(),
            current: current("sha-1234567", 'c'),
            latest: Some(pin("sha-1234567", digest('c'))),
            update: false,
            route: Route::CommitUnchanged,
            waiting: None,
            held: None,
            source_label: None,
        };
        RefreshReport {
            dry_run: false,
            bumps: vec![BumpReport {
                image: ImageName::HOMESERVER,
                old: current("v1.9.2", 'a'),
                new: pin("v1.9.3", digest('b')),
                files: vec![
                    PathBuf::from("bundle.yaml"),
                    PathBuf::from("base/homeserver/statefulset.yaml"),
                ],
                commit: Some("0123456789abcdef0123456789abcdef01234567".to_owned()),
                message: "chore(pins): bump tuwunel v1.9.2 -> v1.9.3\n".to_owned(),
            }],
            branch: Some("bundle/pin-bumps".to_owned()),
            pushed: true,
            requests: BTreeMap::from([
                (
                    "docker.io".to_owned(),
                    RequestCounts {
                        token: 1,
                        tag_list: 1,
                        ..RequestCounts::default()
                    },
                ),
                (
                    "ghcr.io".to_owned(),
                    RequestCounts {
                        token: 2,
                        tag_list: 4,
                        manifest_head: 2,
                        manifest_get: 1,
                        blob: 0,
                        challenge: 1,
                    },
                ),
            ]),
            retries: BTreeMap::from([
                (
                    "docker.io".to_owned(),
                    RetryCounts {
                        http503: 3,
                        ..RetryCounts::default()
                    },
                ),
                ("ghcr.io".to_owned(), RetryCounts::default()),
            ]),
            failed: vec![FailedImage {
                image: ImageName::LIVEKIT,
                registry: "docker.io".to_owned(),
                repository: "livekit/livekit-server".to_owned(),
                current: current("v1.8.0", 'd'),
                error: "https://registry-1.docker.io/v2/livekit/livekit-server/tags/list: \
                        service unavailable (HTTP 503)"
                    .to_owned(),
            }],
            checked: vec![homeserver, lk_jwt],
        }
    }

    #[test]
    fn refresh_json_has_the_version_1_shape_of_status_with_each_bump_and_the_outcome() {
        let text = serde_json::to_string_pretty(&PinsDocument::refresh(&report())).unwrap();
        insta::assert_snapshot!(text);
    }

    /// [`report`] with nothing bumped and every image checked, the homeserver's newer pin
    /// younger than its `policy.minAge`.
    fn report_with_only_a_waiting_image() -> RefreshReport {
        let mut report = report();
        report.bumps.clear();
        report.failed.clear();
        let homeserver = &mut report.checked[0];
        homeserver.update = false;
        homeserver.waiting = Some(Waiting {
            published: "2026-01-01T00:00:00Z".parse().unwrap(),
            eligible_at: "2026-01-04T00:00:00Z".parse().unwrap(),
        });
        report
    }

    #[test]
    fn a_refresh_with_only_a_waiting_image_says_it_waits_not_that_all_are_current() {
        assert_eq!(
            super::nothing_to_bump(&report_with_only_a_waiting_image()),
            "Nothing to bump; 1 waiting for policy.minAge, the others current: nothing to \
             commit."
        );
    }

    #[test]
    fn a_refresh_with_every_pin_current_says_so() {
        let mut report = report_with_only_a_waiting_image();
        report.checked[0].waiting = None;
        assert_eq!(
            super::nothing_to_bump(&report),
            "All pins are current: nothing to commit."
        );
    }
}
