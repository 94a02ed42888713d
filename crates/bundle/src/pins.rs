//! `bundle pins`: the image-pin commands (`status`, `refresh`). Their arguments and glue
//! belong to the pin-refresh work: add each command as a variant of [`PinsCommand`] and its arm
//! in [`run`]; `main.rs` and the rest of the CLI need no change.

use std::collections::BTreeMap;

use anyhow::Context as _;
use bundle_gen::{ImageName, ImagePin, RegistryEndpoint};
use clap::{Args, Subcommand};
use pin_refresh::{CurrentPin, ImageStatus, RetryCounts, StatusError, StatusReport, StatusRequest};

use crate::{ConfigArgs, Console, Outcome, load_config};

mod json;
mod refresh;
pub use refresh::{PartialRefresh, RefreshArgs};

/// The `bundle pins` subcommands.
#[derive(Debug, Subcommand)]
pub enum PinsCommand {
    /// Show, for each image, the pinned tag@digest and the newest one its policy allows.
    #[command(after_help = STATUS_HELP)]
    Status(StatusArgs),
    /// Commit newer pins: rewrite bundle.yaml, regenerate the tree, one commit per image.
    #[command(after_help = refresh::REFRESH_HELP)]
    Refresh(RefreshArgs),
}

pub(crate) const PINS_HELP: &str = "\
Examples:
  bundle pins status                        pinned and newest allowed tag@digest of each image
  bundle pins refresh                       the bumps it would commit, changing nothing
  bundle pins refresh --commit              one commit per bumped image

Exit codes:
  0  success
  1  `pins status --exit-code`: an update is available
  2  error: invalid config, registry or git failure (nothing was changed); `pins status`:
     some image could not be checked (every other image is still reported)
  3  `pins refresh`: some images could not be checked; the bumps of the others were made";

const STATUS_HELP: &str = "\
Examples:
  bundle pins status
  bundle pins status --json
  bundle pins status --exit-code           a CI gate: exit 1 when an update is available
  bundle pins status --registry-endpoint ghcr.io=http://127.0.0.1:5000

Asks each image's registry (anonymously, or with credentials from BUNDLE_REGISTRY_AUTH_<HOST>
= user:password or token, or from the Docker config.json) for the newest pin its policy allows.
Nothing is written. Requests that meet a transient failure (HTTP 408, 429, 500, 502, 503,
504, a refused or reset connection, a timeout) are sent again within a bounded budget. A
newer pin younger than the image's `policy.minAge` is shown as waiting, with the time it
becomes eligible. An image whose newest pin is a bump reverted on the current branch is
held: not proposed again, and the revert commit is named. The table shortens digests; --json
prints them in full, in the shape `pins refresh --json` shares (the README's
\"Machine-readable output\" documents it):
  {\"version\":1, \"command\":\"status\",
   \"images\":[{\"name\",\"registry\",\"repository\",\"current\":{\"tag\",\"digest\"},
     \"status\":\"current\"|\"update\"|\"waiting\"|\"held\"|\"error\", \"latest\":{\"tag\",\"digest\"},
     \"route\", \"published\", \"eligibleAt\" (waiting), \"revertedBump\",
     \"revert\", \"revertSubject\" (held), \"error\" (error)}],
   \"requests\":{\"<registry host>\":{\"total\",\"token\",\"challenge\",\"tagList\",...}},
   \"retries\":{\"<registry host>\":{\"total\",\"http503\",\"reset\",...}}}

Exit codes:
  0  every image was checked (whether or not updates exist; with --exit-code: none exists)
  1  --exit-code: an update is available for some image (a waiting one does not count)
  2  error: unreadable or invalid config, or some image could not be checked (a registry
     that cannot be reached or answers something unusable); every image is still reported,
     and the message names each failed image, its registry and the cause (wins over 1)";

/// Arguments of `bundle pins status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The site config.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Exit 1 when an update is available (for CI gates); errors still exit 2.
    #[arg(long)]
    pub exit_code: bool,
    /// Send requests for registry HOST to URL (a mirror, or a local registry). Repeatable;
    /// overrides `registries:` in the config. An http:// URL is taken as insecure (plain
    /// http allowed for that endpoint only).
    #[arg(long = "registry-endpoint", value_name = "HOST=URL", value_parser = parse_endpoint)]
    pub registry_endpoints: Vec<(String, RegistryEndpoint)>,
}

/// Runs one `bundle pins` command.
pub(crate) fn run(command: PinsCommand, console: &mut Console) -> anyhow::Result<Outcome> {
    match command {
        PinsCommand::Status(args) => status(&args, console),
        PinsCommand::Refresh(args) => refresh::run(&args, console),
    }
}

/// The single-threaded runtime a `bundle pins` command runs its registry requests on.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Parses `HOST=URL` of `--registry-endpoint`.
fn parse_endpoint(text: &str) -> Result<(String, RegistryEndpoint), String> {
    let (host, url) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not HOST=URL, e.g. ghcr.io=http://127.0.0.1:5000"))?;
    if host.is_empty() || host.contains('/') {
        return Err(format!(
            "`{host}` is not a registry host: write it as in bundle.yaml, e.g. ghcr.io"
        ));
    }
    let insecure = url.starts_with("http://");
    if !insecure && !url.starts_with("https://") {
        return Err(format!("`{url}` is not an http:// or https:// URL"));
    }
    Ok((
        host.to_owned(),
        RegistryEndpoint {
            endpoint: url.to_owned(),
            insecure,
        },
    ))
}

fn status(args: &StatusArgs, console: &mut Console) -> anyhow::Result<Outcome> {
    let config = load_config(&args.config.config)?;
    let reverted = pin_refresh::reverted_bumps_at(&args.config.config, &BTreeMap::new())?;
    let request = StatusRequest::for_config(
        &config,
        args.registry_endpoints
            .iter()
            .map(|(host, endpoint)| (host, endpoint)),
    )
    .with_reverted(reverted);
    console.progress(format_args!(
        "Checking {} images on their registries…",
        request.images.iter().count()
    ))?;
    let report = runtime()?.block_on(pin_refresh::status_report(&request));
    // Cleared before anything else is printed.
    console.clear_progress()?;
    let entries = entries(&request, &report);
    if args.json {
        // Rendered first, so that a closed stdout surfaces as the io::Error main() looks for.
        let text = serde_json::to_string_pretty(&json_report(&entries, &report))?;
        writeln!(console.data(), "{text}")?;
    } else {
        console
            .data()
            .write_all(table(&entries, &report).as_bytes())?;
    }
    if !report.failures.is_empty() {
        anyhow::bail!(
            "{} of {} images could not be checked (every image is reported on stdout):\n{}",
            report.failures.len(),
            entries.len(),
            failure_lines(report.failures.iter().map(ToString::to_string))
        );
    }
    if args.exit_code && report.images.iter().any(|image| image.update) {
        return Ok(Outcome::UpdatesAvailable);
    }
    Ok(Outcome::Done)
}

/// One line per failed image, indented under the message that counts them.
pub(crate) fn failure_lines(failures: impl Iterator<Item = String>) -> String {
    failures
        .map(|failure| format!("  {failure}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// One image of the report: checked, or the error that stopped its check.
enum Entry<'a> {
    Checked(&'a ImageStatus),
    Failed(ImageName, &'a ImagePin, &'a StatusError),
}

/// Every image of the request, in `bundle.yaml` order, with what the report says of it.
fn entries<'a>(request: &'a StatusRequest, report: &'a StatusReport) -> Vec<Entry<'a>> {
    request
        .images
        .iter()
        .filter_map(|(name, pin)| {
            if let Some(image) = report.images.iter().find(|image| image.name == name) {
                return Some(Entry::Checked(image));
            }
            let failure = report.failures.iter().find(|f| f.image == name)?;
            Some(Entry::Failed(name, pin, failure))
        })
        .collect()
}

/// The `--json` document.
fn json_report(entries: &[Entry<'_>], report: &StatusReport) -> json::PinsDocument {
    let images = entries
        .iter()
        .map(|entry| match entry {
            Entry::Checked(image) => json::ImageEntry::checked(image),
            Entry::Failed(_, pin, failure) => json::ImageEntry::failed(
                &CurrentPin {
                    tag: pin.tag.clone(),
                    digest: pin.digest.clone(),
                },
                failure,
            ),
        })
        .collect();
    json::PinsDocument::status(images, &report.requests, &report.retries)
}

/// `tag@sha256:<first 12 hex>`, or `-` for a missing part.
fn short_pin(tag: Option<&bundle_gen::Tag>, digest: Option<&bundle_gen::Digest>) -> String {
    let tag = tag.map_or("-", |t| t.as_str());
    let digest = digest.map_or_else(|| "-".to_owned(), |d| format!("sha256:{}", &d.hex()[..12]));
    format!("{tag}@{digest}")
}

fn row(entry: &Entry<'_>) -> [String; 5] {
    match entry {
        Entry::Checked(image) => {
            let latest = image.latest.as_ref();
            [
                image.name.key().to_owned(),
                short_pin(image.current.tag.as_ref(), image.current.digest.as_ref()),
                short_pin(latest.map(|l| &l.tag), latest.map(|l| &l.digest)),
                update_cell(image),
                image.route.as_str().to_owned(),
            ]
        }
        Entry::Failed(name, pin, _) => [
            name.key().to_owned(),
            short_pin(pin.tag.as_ref(), pin.digest.as_ref()),
            "-".to_owned(),
            "error".to_owned(),
            "-".to_owned(),
        ],
    }
}

/// The UPDATE cell: `yes`, `no`, or `waiting` for a newer pin younger than `policy.minAge`
/// (when it becomes eligible follows under the table).
fn update_cell(image: &ImageStatus) -> String {
    if image.held.is_some() {
        "held".to_owned()
    } else if image.waiting.is_some() {
        "waiting".to_owned()
    } else if image.update {
        "yes".to_owned()
    } else {
        "no".to_owned()
    }
}

/// One line per waiting image: what waits and until when.
fn waiting_lines(entries: &[Entry<'_>]) -> String {
    let mut text = String::new();
    for entry in entries {
        let Entry::Checked(image) = entry else {
            continue;
        };
        let (Some(waiting), Some(latest)) = (&image.waiting, &image.latest) else {
            continue;
        };
        text.push_str(&format!(
            "{}: {} was published {}, younger than policy.minAge; eligible at {}\n",
            image.name.key(),
            latest.tag,
            waiting.published,
            waiting.eligible_at
        ));
    }
    text
}

/// `, N retries (HTTP 503 2, reset 1)` for a host that retried, else nothing.
pub(crate) fn retry_note(retries: Option<&RetryCounts>) -> String {
    let Some(retries) = retries.filter(|r| r.total() > 0) else {
        return String::new();
    };
    let reasons: Vec<String> = [
        ("HTTP 408", retries.http408),
        ("HTTP 429", retries.http429),
        ("HTTP 500", retries.http500),
        ("HTTP 502", retries.http502),
        ("HTTP 503", retries.http503),
        ("HTTP 504", retries.http504),
        ("connect", retries.connect),
        ("reset", retries.reset),
        ("timeout", retries.timeout),
    ]
    .into_iter()
    .filter(|(_, count)| *count > 0)
    .map(|(reason, count)| format!("{reason} {count}"))
    .collect();
    let noun = if retries.total() == 1 {
        "retry"
    } else {
        "retries"
    };
    format!(", {} {noun} ({})", retries.total(), reasons.join(", "))
}

/// One line per held image: the pin it stays at, and the revert that holds the newest one.
fn held_lines(entries: &[Entry<'_>]) -> String {
    let mut text = String::new();
    for entry in entries {
        let Entry::Checked(image) = entry else {
            continue;
        };
        let (Some(held), Some(latest)) = (&image.held, &image.latest) else {
            continue;
        };
        let revert = held.revert.as_str();
        text.push_str(&format!(
            "{}: held at {}: {} was reverted by {} ({})\n",
            image.name.key(),
            short_pin(image.current.tag.as_ref(), image.current.digest.as_ref()),
            short_pin(Some(&latest.tag), Some(&latest.digest)),
            revert.get(..12).unwrap_or(revert),
            held.revert_subject
        ));
    }
    text
}

/// The human-readable table (a failed image says `error`; its error follows on stderr; a held
/// image says `held`, and a line after the table names the revert), then one line of request
/// counts per registry.
fn table(entries: &[Entry<'_>], report: &StatusReport) -> String {
    let header = ["IMAGE", "CURRENT", "LATEST", "UPDATE", "ROUTE"].map(str::to_owned);
    let rows: Vec<[String; 5]> = std::iter::once(header)
        .chain(entries.iter().map(row))
        .collect();
    let widths: Vec<usize> = (0..5)
        .map(|column| rows.iter().map(|r| r[column].len()).max().unwrap_or(0))
        .collect();
    let mut text = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    text.push_str(&held_lines(entries));
    text.push_str(&waiting_lines(entries));
    for (host, counts) in &report.requests {
        text.push_str(&format!(
            "{host}: {} requests (token {}, 401 challenge {}, tag list {}, manifest HEAD {}, \
             manifest GET {}, blob {}){}\n",
            counts.total(),
            counts.token,
            counts.challenge,
            counts.tag_list,
            counts.manifest_head,
            counts.manifest_get,
            counts.blob,
            retry_note(report.retries.get(host))
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use bundle_gen::{Digest, ImageName, Images, ManualPolicy, UpdatePolicy};
    use pin_refresh::test_fixture::fake_commit;
    use pin_refresh::{
        CurrentPin, ImageError, Pin, RegistryError, RequestCounts, RevertedBump, Route, Waiting,
    };

    fn digest(c: char) -> Digest {
        format!("sha256:{}", c.to_string().repeat(64))
            .parse()
            .unwrap()
    }

    fn report() -> StatusReport {
        let image =
            |name, tag: &str, current: char, latest_tag: &str, latest: char, route| ImageStatus {
                name,
                registry: "ghcr.io".to_owned(),
                repository: "x/y".to_owned(),
                current: CurrentPin {
                    tag: Some(tag.parse().unwrap()),
                    digest: Some(digest(current)),
                },
                latest: Some(Pin {
                    tag: latest_tag.parse().unwrap(),
                    digest: digest(latest),
                }),
                update: tag != latest_tag || current != latest,
                route,
                held: None,
                source_label: None,
                waiting: None,
            };
        StatusReport {
            images: vec![
                image(
                    ImageName::HOMESERVER,
                    "v1.9.2",
                    'a',
                    "v1.9.3",
                    'b',
                    Route::BareMultiarch,
                ),
                image(
                    ImageName::LK_JWT,
                    "sha-1234567",
                    'c',
                    "sha-1234567",
                    'c',
                    Route::CommitUnchanged,
                ),
            ],
            failures: Vec::new(),
            requests: BTreeMap::from([(
                "ghcr.io".to_owned(),
                RequestCounts {
                    token: 2,
                    tag_list: 3,
                    manifest_head: 2,
                    manifest_get: 1,
                    blob: 0,
                    challenge: 1,
                },
            )]),
            retries: BTreeMap::from([("ghcr.io".to_owned(), RetryCounts::default())]),
        }
    }

    /// The request the report answers: every image on ghcr.io, LiveKit pinned at `v1.8.0`.
    fn request() -> StatusRequest {
        let pin = |tag: &str, current: char| ImagePin {
            registry: Some("ghcr.io".to_owned()),
            repository: "x/y".to_owned(),
            tag: Some(tag.parse().unwrap()),
            digest: Some(digest(current)),
            policy: UpdatePolicy::Manual(ManualPolicy {}),
        };
        StatusRequest::new(
            Images::new([
                (ImageName::HOMESERVER, pin("v1.9.2", 'a')),
                (ImageName::LIVEKIT, pin("v1.8.0", 'd')),
                (ImageName::LK_JWT, pin("sha-1234567", 'c')),
            ])
            .unwrap(),
        )
    }

    /// [`report`], where LiveKit's registry failed after two retries.
    fn report_with_a_failure() -> StatusReport {
        let mut report = report();
        report.failures.push(StatusError {
            image: ImageName::LIVEKIT,
            registry: "ghcr.io".to_owned(),
            repository: "x/y".to_owned(),
            cause: Box::new(ImageError::Registry(RegistryError::NotFound {
                url: "https://ghcr.io/v2/x/y/tags/list".to_owned(),
            })),
        });
        report.retries.insert(
            "ghcr.io".to_owned(),
            RetryCounts {
                http503: 1,
                reset: 1,
                ..RetryCounts::default()
            },
        );
        report
    }

    /// [`report`], where homeserver's newest pin is a bump that was reverted.
    fn report_with_a_held_image() -> StatusReport {
        let mut report = report();
        let homeserver = &mut report.images[0];
        homeserver.update = false;
        homeserver.held = Some(RevertedBump {
            image: ImageName::HOMESERVER,
            digest: digest('b'),
            bump: fake_commit('1'),
            revert: fake_commit('2'),
            revert_subject: "Revert \"chore(pins): bump tuwunel v1.9.2 -> v1.9.3\"".to_owned(),
        });
        report
    }

    #[test]
    fn table_says_held_and_names_the_revert() {
        let (request, report) = (request(), report_with_a_held_image());
        let expected = "\
IMAGE       CURRENT                          LATEST                           UPDATE  ROUTE
homeserver  v1.9.2@sha256:aaaaaaaaaaaa       v1.9.3@sha256:bbbbbbbbbbbb       held    bare-multiarch
lkJwt       sha-1234567@sha256:cccccccccccc  sha-1234567@sha256:cccccccccccc  no      commit-unchanged
homeserver: held at v1.9.2@sha256:aaaaaaaaaaaa: v1.9.3@sha256:bbbbbbbbbbbb was reverted by 222222222222 (Revert \"chore(pins): bump tuwunel v1.9.2 -> v1.9.3\")
ghcr.io: 9 requests (token 2, 401 challenge 1, tag list 3, manifest HEAD 2, manifest GET 1, blob 0)
";
        assert_eq!(table(&entries(&request, &report), &report), expected);
    }

    #[test]
    fn status_json_shows_a_held_image_with_the_revert_that_holds_it() {
        insta::assert_snapshot!(json_text(&request(), &report_with_a_held_image()));
    }

    #[test]
    fn endpoint_argument_is_host_equals_url_and_http_means_insecure() {
        let (host, endpoint) = parse_endpoint("ghcr.io=http://127.0.0.1:5000").unwrap();
        assert_eq!(host, "ghcr.io");
        assert_eq!(endpoint.endpoint, "http://127.0.0.1:5000");
        assert!(endpoint.insecure);
        assert!(
            !parse_endpoint("docker.io=https://mirror.example")
                .unwrap()
                .1
                .insecure
        );
        for bad in ["ghcr.io", "=https://x", "ghcr.io=ftp://x", "a/b=https://x"] {
            assert!(parse_endpoint(bad).is_err(), "{bad}");
        }
    }

    /// [`report`], where the homeserver's newer pin is younger than its `policy.minAge`.
    fn report_with_a_waiting_image() -> StatusReport {
        let mut report = report();
        let homeserver = &mut report.images[0];
        homeserver.update = false;
        homeserver.waiting = Some(Waiting {
            published: "2026-01-01T00:00:00Z".parse().unwrap(),
            eligible_at: "2026-01-04T00:00:00Z".parse().unwrap(),
        });
        report
    }

    fn json_text(request: &StatusRequest, report: &StatusReport) -> String {
        serde_json::to_string_pretty(&json_report(&entries(request, report), report)).unwrap()
    }

    #[test]
    fn status_json_has_the_documented_version_1_shape() {
        insta::assert_snapshot!(json_text(&request(), &report()));
    }

    #[test]
    fn status_json_reports_a_failed_image_in_its_place_with_its_pin_and_error() {
        insta::assert_snapshot!(json_text(&request(), &report_with_a_failure()));
    }

    #[test]
    fn status_json_shows_an_image_held_by_min_age_as_waiting_until_it_is_eligible() {
        insta::assert_snapshot!(json_text(&request(), &report_with_a_waiting_image()));
    }

    #[test]
    fn table_shows_an_image_held_by_min_age_as_waiting_and_when_it_is_eligible() {
        let (request, report) = (request(), report_with_a_waiting_image());
        let expected = "\
IMAGE       CURRENT                          LATEST                           UPDATE   ROUTE
homeserver  v1.9.2@sha256:aaaaaaaaaaaa       v1.9.3@sha256:bbbbbbbbbbbb       waiting  bare-multiarch
lkJwt       sha-1234567@sha256:cccccccccccc  sha-1234567@sha256:cccccccccccc  no       commit-unchanged
homeserver: v1.9.3 was published 2026-01-01T00:00:00Z, younger than policy.minAge; eligible at 2026-01-04T00:00:00Z
ghcr.io: 9 requests (token 2, 401 challenge 1, tag list 3, manifest HEAD 2, manifest GET 1, blob 0)
";
        assert_eq!(table(&entries(&request, &report), &report), expected);
    }

    #[test]
    fn table_marks_a_failed_image_and_counts_the_retries_of_its_registry() {
        let (request, report) = (request(), report_with_a_failure());
        let expected = "\
IMAGE       CURRENT                          LATEST                           UPDATE  ROUTE
homeserver  v1.9.2@sha256:aaaaaaaaaaaa       v1.9.3@sha256:bbbbbbbbbbbb       yes     bare-multiarch
livekit     v1.8.0@sha256:dddddddddddd       -                                error   -
lkJwt       sha-1234567@sha256:cccccccccccc  sha-1234567@sha256:cccccccccccc  no      commit-unchanged
ghcr.io: 9 requests (token 2, 401 challenge 1, tag list 3, manifest HEAD 2, manifest GET 1, blob 0), 2 retries (HTTP 503 1, reset 1)
";
        assert_eq!(table(&entries(&request, &report), &report), expected);
    }

    #[test]
    fn table_lists_each_image_and_the_request_counts() {
        let expected = "\
IMAGE       CURRENT                          LATEST                           UPDATE  ROUTE
homeserver  v1.9.2@sha256:aaaaaaaaaaaa       v1.9.3@sha256:bbbbbbbbbbbb       yes     bare-multiarch
lkJwt       sha-1234567@sha256:cccccccccccc  sha-1234567@sha256:cccccccccccc  no      commit-unchanged
ghcr.io: 9 requests (token 2, 401 challenge 1, tag list 3, manifest HEAD 2, manifest GET 1, blob 0)
";
        let (request, report) = (request(), report());
        assert_eq!(table(&entries(&request, &report), &report), expected);
    }
}
