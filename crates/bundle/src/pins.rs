//! `bundle pins`: the image-pin commands (`status`, `refresh`). Their arguments and glue
//! belong to the pin-refresh work: add each command as a variant of [`PinsCommand`] and its arm
//! in [`run`]; `main.rs` and the rest of the CLI need no change.

use std::collections::BTreeMap;

use anyhow::Context as _;
use bundle_gen::RegistryEndpoint;
use clap::{Args, Subcommand};
use pin_refresh::{ImageStatus, StatusReport, StatusRequest};

use crate::{ConfigArgs, Console, Outcome, load_config};

mod refresh;
pub use refresh::RefreshArgs;

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
  2  error: invalid config, registry or git failure (nothing was changed)";

const STATUS_HELP: &str = "\
Examples:
  bundle pins status
  bundle pins status --json
  bundle pins status --registry-endpoint ghcr.io=http://127.0.0.1:5000

Asks each image's registry (anonymously, or with credentials from BUNDLE_REGISTRY_AUTH_<HOST>
= user:password or token, or from the Docker config.json) for the newest pin its policy allows.
Nothing is written. The table shortens digests; --json prints them in full:
  {\"images\":[{\"name\",\"registry\",\"repository\",\"current\":{\"tag\",\"digest\"},
    \"latest\":{\"tag\",\"digest\"},\"update\",\"route\"}],
   \"requests\":{\"<registry host>\":N}, \"requestKinds\":{\"<registry host>\":{...}}}

Exit codes:
  0  every image was checked (whether or not updates exist)
  2  error: unreadable or invalid config, or a registry that cannot be reached or answers
     something unusable (the message names the image, the registry and the cause)";

/// Arguments of `bundle pins status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The site config.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
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
    let request = StatusRequest::for_config(
        &config,
        args.registry_endpoints
            .iter()
            .map(|(host, endpoint)| (host, endpoint)),
    );
    console.progress(format_args!(
        "Checking {} images on their registries…",
        request.images.iter().count()
    ))?;
    let result = runtime()?.block_on(pin_refresh::status(&request));
    // Cleared before anything else is printed, the error included.
    console.clear_progress()?;
    let report = result?;
    if args.json {
        // Rendered first, so that a closed stdout surfaces as the io::Error main() looks for.
        let text = serde_json::to_string_pretty(&json_report(&report))?;
        writeln!(console.data(), "{text}")?;
    } else {
        console.data().write_all(table(&report).as_bytes())?;
    }
    Ok(Outcome::Done)
}

/// The `--json` document.
fn json_report(report: &StatusReport) -> serde_json::Value {
    let images: Vec<serde_json::Value> = report
        .images
        .iter()
        .map(|image| {
            serde_json::json!({
                "name": image.name.key(),
                "registry": image.registry,
                "repository": image.repository,
                "current": {"tag": image.current.tag, "digest": image.current.digest},
                "latest": image.latest.as_ref().map(|l| serde_json::json!({"tag": l.tag, "digest": l.digest})),
                "update": image.update,
                "route": image.route.as_str(),
            })
        })
        .collect();
    let requests: BTreeMap<&str, u32> = report
        .requests
        .iter()
        .map(|(host, counts)| (host.as_str(), counts.total()))
        .collect();
    serde_json::json!({
        "images": images,
        "requests": requests,
        "requestKinds": report.requests,
    })
}

/// `tag@sha256:<first 12 hex>`, or `-` for a missing part.
fn short_pin(tag: Option<&bundle_gen::Tag>, digest: Option<&bundle_gen::Digest>) -> String {
    let tag = tag.map_or("-", |t| t.as_str());
    let digest = digest.map_or_else(|| "-".to_owned(), |d| format!("sha256:{}", &d.hex()[..12]));
    format!("{tag}@{digest}")
}

fn row(image: &ImageStatus) -> [String; 5] {
    let latest = image.latest.as_ref();
    [
        image.name.key().to_owned(),
        short_pin(image.current.tag.as_ref(), image.current.digest.as_ref()),
        short_pin(latest.map(|l| &l.tag), latest.map(|l| &l.digest)),
        if image.update { "yes" } else { "no" }.to_owned(),
        image.route.as_str().to_owned(),
    ]
}

/// The human-readable table, then one line of request counts per registry.
fn table(report: &StatusReport) -> String {
    let header = ["IMAGE", "CURRENT", "LATEST", "UPDATE", "ROUTE"].map(str::to_owned);
    let rows: Vec<[String; 5]> = std::iter::once(header)
        .chain(report.images.iter().map(row))
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
    for (host, counts) in &report.requests {
        text.push_str(&format!(
            "{host}: {} requests (token {}, 401 challenge {}, tag list {}, manifest HEAD {}, \
             manifest GET {}, blob {})\n",
            counts.total(),
            counts.token,
            counts.challenge,
            counts.tag_list,
            counts.manifest_head,
            counts.manifest_get,
            counts.blob
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use bundle_gen::{Digest, ImageName};
    use pin_refresh::{CurrentPin, Pin, RequestCounts, Route};

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
        }
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

    #[test]
    fn json_has_the_documented_shape() {
        let json = json_report(&report());
        let first = &json["images"][0];
        assert_eq!(first["name"], "homeserver");
        assert_eq!(first["current"]["tag"], "v1.9.2");
        assert_eq!(first["current"]["digest"], digest('a').to_string());
        assert_eq!(first["latest"]["tag"], "v1.9.3");
        assert_eq!(first["latest"]["digest"], digest('b').to_string());
        assert_eq!(first["update"], true);
        assert_eq!(json["images"][1]["update"], false);
        assert_eq!(json["images"][1]["route"], "commit-unchanged");
        assert_eq!(json["requests"], serde_json::json!({"ghcr.io": 9}));
        assert_eq!(json["requestKinds"]["ghcr.io"]["manifestHead"], 2);
    }

    #[test]
    fn table_lists_each_image_and_the_request_counts() {
        let expected = "\
IMAGE       CURRENT                          LATEST                           UPDATE  ROUTE
homeserver  v1.9.2@sha256:aaaaaaaaaaaa       v1.9.3@sha256:bbbbbbbbbbbb       yes     bare-multiarch
lkJwt       sha-1234567@sha256:cccccccccccc  sha-1234567@sha256:cccccccccccc  no      commit-unchanged
ghcr.io: 9 requests (token 2, 401 challenge 1, tag list 3, manifest HEAD 2, manifest GET 1, blob 0)
";
        assert_eq!(table(&report()), expected);
    }
}
