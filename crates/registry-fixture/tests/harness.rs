//! The harness itself: token auth is really enforced by the registry, tag lists are paginated
//! like ghcr.io, requests are recorded as they arrived and counted, and the scenarios hold
//! what they promise.

use std::collections::BTreeMap;

use bundle_gen::{Digest, Platform};
use registry_fixture::{
    Credentials, LkJwtHistory, LkJwtRoute, ManifestFormat, OCI_INDEX, OCI_MANIFEST, PushedManifest,
    RequestCounts, RequestKind, Scenario, ServerCounts, TestRegistry,
};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, LINK, WWW_AUTHENTICATE};

const ACCEPT_MANIFESTS: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.docker.distribution.manifest.v2+json";

fn amd64() -> Platform {
    Platform::new("linux", "amd64", None)
}

fn arm64() -> Platform {
    Platform::new("linux", "arm64", None)
}

fn client() -> reqwest::Client {
    // reqwest comes without a crypto provider of its own (see the workspace Cargo.toml).
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Asks the token server for a token, as a client does after a challenge.
async fn token(
    registry: &TestRegistry,
    scope: &str,
    credentials: Option<&Credentials>,
) -> reqwest::Response {
    let mut request = client().get(format!(
        "{}/token?service={}&scope={scope}",
        registry.endpoint(),
        registry.service()
    ));
    if let Some(credentials) = credentials {
        request = request.header(AUTHORIZATION, credentials.basic_authorization());
    }
    request.send().await.expect("token request")
}

async fn bearer(registry: &TestRegistry, scope: &str, credentials: Option<&Credentials>) -> String {
    let response = token(registry, scope, credentials).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.expect("token json");
    format!("Bearer {}", body["token"].as_str().expect("token field"))
}

async fn get_manifest(
    registry: &TestRegistry,
    repository: &str,
    reference: &str,
    authorization: Option<&str>,
) -> reqwest::Response {
    let mut request = client()
        .get(format!(
            "{}/v2/{repository}/manifests/{reference}",
            registry.endpoint()
        ))
        .header(ACCEPT, ACCEPT_MANIFESTS);
    if let Some(authorization) = authorization {
        request = request.header(AUTHORIZATION, authorization);
    }
    request.send().await.expect("manifest request")
}

async fn manifest_json(
    registry: &TestRegistry,
    repository: &str,
    reference: &str,
    authorization: &str,
) -> serde_json::Value {
    let response = get_manifest(registry, repository, reference, Some(authorization)).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{repository}:{reference}"
    );
    response.json().await.expect("manifest json")
}

async fn tagged_image(registry: &TestRegistry, repository: &str, tag: &str) -> Digest {
    let image = registry
        .push_image(repository, &amd64(), &BTreeMap::new())
        .await
        .expect("push image");
    registry
        .tag(repository, tag, &image.digest)
        .await
        .expect("tag");
    image.digest
}

/// Pushes one OCI image per platform and an index of them, tagged `tag`.
async fn tagged_index(
    registry: &TestRegistry,
    repository: &str,
    tag: &str,
    platforms: &[Platform],
) -> PushedManifest {
    let index = registry
        .push_multi_arch(
            repository,
            ManifestFormat::Oci,
            platforms,
            &BTreeMap::new(),
            None,
        )
        .await
        .expect("push index");
    registry
        .tag(repository, tag, &index.digest)
        .await
        .expect("tag");
    index
}

async fn list_all_pages(
    registry: &TestRegistry,
    repository: &str,
    first_query: &str,
) -> (Vec<String>, Vec<Option<String>>) {
    let authorization = bearer(registry, &format!("repository:{repository}:pull"), None).await;
    let mut tags = Vec::new();
    let mut links = Vec::new();
    let mut next = Some(format!("/v2/{repository}/tags/list{first_query}"));
    while let Some(path) = next {
        let response = client()
            .get(format!("{}{path}", registry.endpoint()))
            .header(AUTHORIZATION, &authorization)
            .send()
            .await
            .expect("tags page");
        assert_eq!(response.status(), StatusCode::OK);
        let link = response
            .headers()
            .get(LINK)
            .map(|value| value.to_str().expect("ascii link").to_owned());
        next = link.as_deref().map(|link| {
            link.strip_prefix('<')
                .and_then(|rest| rest.split_once(">; rel=\"next\""))
                .map(|(path, _)| path.to_owned())
                .expect("Link: <path>; rel=\"next\"")
        });
        links.push(link);
        let page: serde_json::Value = response.json().await.expect("tags json");
        tags.extend(
            page["tags"]
                .as_array()
                .expect("tags array")
                .iter()
                .map(|tag| tag.as_str().expect("tag").to_owned()),
        );
    }
    (tags, links)
}

#[tokio::test]
async fn an_anonymous_request_is_challenged_towards_the_token_server() {
    let registry = TestRegistry::start().await.expect("start");
    tagged_image(&registry, "team/app", "v1").await;

    let response = get_manifest(&registry, "team/app", "v1", None).await;

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()[WWW_AUTHENTICATE]
        .to_str()
        .expect("ascii");
    assert_eq!(
        challenge,
        format!(
            "Bearer realm=\"{}/token\",service=\"{}\",scope=\"repository:team/app:pull\"",
            registry.endpoint(),
            registry.service()
        )
    );
}

#[tokio::test]
async fn the_registry_accepts_an_anonymous_pull_token() {
    let registry = TestRegistry::start().await.expect("start");
    let digest = tagged_image(&registry, "team/app", "v1").await;
    let authorization = bearer(&registry, "repository:team/app:pull", None).await;

    let response = get_manifest(&registry, "team/app", "v1", Some(&authorization)).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["docker-content-digest"]
            .to_str()
            .expect("ascii"),
        digest.as_str()
    );
    let bytes = response.bytes().await.expect("body");
    assert_eq!(Digest::of_bytes(&bytes), digest);
}

#[tokio::test]
async fn an_anonymous_push_is_refused_by_the_registry() {
    let registry = TestRegistry::start().await.expect("start");
    let authorization = bearer(&registry, "repository:team/app:pull,push", None).await;

    let response = client()
        .post(format!(
            "{}/v2/team/app/blobs/uploads/",
            registry.endpoint()
        ))
        .header(AUTHORIZATION, authorization)
        .send()
        .await
        .expect("upload request");

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()[WWW_AUTHENTICATE]
        .to_str()
        .expect("ascii");
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
}

#[tokio::test]
async fn a_token_signed_by_another_key_is_refused_by_the_registry() {
    let registry = TestRegistry::start().await.expect("start");
    let other = TestRegistry::start()
        .await
        .expect("start a second registry");
    tagged_image(&registry, "team/app", "v1").await;
    let foreign = bearer(&other, "repository:team/app:pull", None).await;

    let response = get_manifest(&registry, "team/app", "v1", Some(&foreign)).await;

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_protected_repository_is_pulled_only_with_its_credentials() {
    let registry = TestRegistry::start().await.expect("start");
    tagged_image(&registry, "private/app", "v1").await;
    let reader = Credentials::new("reader", "read-secret");
    registry.require_pull_credentials("private/app", reader.clone());
    let anonymous = bearer(&registry, "repository:private/app:pull", None).await;
    let authenticated = bearer(&registry, "repository:private/app:pull", Some(&reader)).await;

    let refused = get_manifest(&registry, "private/app", "v1", Some(&anonymous)).await;
    let allowed = get_manifest(&registry, "private/app", "v1", Some(&authenticated)).await;

    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(allowed.status(), StatusCode::OK);
    assert_eq!(
        registry
            .counts()
            .repository("private/app")
            .token_with_credentials,
        1
    );
}

#[tokio::test]
async fn wrong_credentials_get_no_token() {
    let registry = TestRegistry::start().await.expect("start");
    registry.require_pull_credentials("private/app", Credentials::new("reader", "read-secret"));

    let response = token(
        &registry,
        "repository:private/app:pull",
        Some(&Credentials::new("reader", "guess")),
    )
    .await;

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // A refused token request is still a token request, not a challenge.
    assert_eq!(
        registry.counts().repository("private/app"),
        ServerCounts {
            requests: RequestCounts {
                token: 1,
                ..RequestCounts::default()
            },
            token_with_credentials: 1,
            other: 0,
        }
    );
}

#[tokio::test]
async fn tag_pages_hold_100_sorted_tags_each_and_link_to_the_next() {
    let registry = TestRegistry::start().await.expect("start");
    let digest = tagged_image(&registry, "team/app", "seed").await;
    // "seed" sorts first, so pages end at t098 and t198.
    let tags: Vec<String> = (0..249).map(|number| format!("t{number:03}")).collect();
    registry
        .tag_all("team/app", &tags, &digest)
        .await
        .expect("tag 249 more");

    let (listed, links) = list_all_pages(&registry, "team/app", "").await;

    let mut expected = tags.clone();
    expected.push("seed".to_owned());
    expected.sort();
    assert_eq!(listed, expected);
    assert_eq!(
        links,
        vec![
            Some("</v2/team/app/tags/list?n=100&last=t098>; rel=\"next\"".to_owned()),
            Some("</v2/team/app/tags/list?n=100&last=t198>; rel=\"next\"".to_owned()),
            None,
        ]
    );
}

#[tokio::test]
async fn n_and_last_choose_the_page() {
    let registry = registry_with_tags(&["a", "b", "c", "d", "e"]).await;

    let (listed, links) = list_all_pages(&registry, "team/app", "?n=2&last=a").await;

    assert_eq!(listed, vec!["b", "c", "d", "e"]);
    assert_eq!(
        links,
        vec![
            Some("</v2/team/app/tags/list?n=2&last=c>; rel=\"next\"".to_owned()),
            None
        ]
    );
}

#[tokio::test]
async fn a_page_size_cap_shortens_pages_and_keeps_the_link() {
    let registry = registry_with_tags(&["a", "b", "c"]).await;
    registry.set_page_size_cap(2);

    let (listed, links) = list_all_pages(&registry, "team/app", "?n=1000").await;

    assert_eq!(listed, vec!["a", "b", "c"]);
    assert_eq!(
        links,
        vec![
            Some("</v2/team/app/tags/list?n=2&last=b>; rel=\"next\"".to_owned()),
            None
        ]
    );
}

#[tokio::test]
async fn a_page_size_cap_also_shortens_pages_of_a_request_without_n() {
    let registry = registry_with_tags(&["a", "b", "c"]).await;
    registry.set_page_size_cap(2);

    let (listed, links) = list_all_pages(&registry, "team/app", "").await;

    assert_eq!(listed, vec!["a", "b", "c"]);
    assert_eq!(
        links,
        vec![
            Some("</v2/team/app/tags/list?n=2&last=b>; rel=\"next\"".to_owned()),
            None
        ]
    );
}

#[tokio::test]
async fn head_through_the_front_keeps_length_and_digest() {
    let registry = TestRegistry::start().await.expect("start");
    let index = tagged_index(&registry, "team/app", "v1", &[amd64(), arm64()]).await;
    let authorization = bearer(&registry, "repository:team/app:pull", None).await;

    let response = client()
        .head(format!("{}/v2/team/app/manifests/v1", registry.endpoint()))
        .header(AUTHORIZATION, authorization)
        .header(ACCEPT, ACCEPT_MANIFESTS)
        .send()
        .await
        .expect("head");

    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    assert_eq!(headers["docker-content-digest"], index.digest.as_str());
    assert_eq!(headers["content-type"], OCI_INDEX);
    assert_eq!(headers["content-length"], index.size.to_string().as_str());
}

#[tokio::test]
async fn an_oci_index_is_not_found_without_the_oci_accept_header() {
    let registry = TestRegistry::start().await.expect("start");
    tagged_index(&registry, "team/app", "v1", &[amd64()]).await;
    let authorization = bearer(&registry, "repository:team/app:pull", None).await;

    let response = client()
        .get(format!("{}/v2/team/app/manifests/v1", registry.endpoint()))
        .header(AUTHORIZATION, authorization)
        .header(ACCEPT, OCI_MANIFEST)
        .send()
        .await
        .expect("get");

    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn requests_are_counted_per_repository_and_kind() {
    let registry = TestRegistry::start().await.expect("start");
    tagged_image(&registry, "team/app", "v1").await;
    let manifest_url = format!("{}/v2/team/app/manifests/v1", registry.endpoint());

    let challenged = get_manifest(&registry, "team/app", "v1", None).await;
    let authorization = bearer(&registry, "repository:team/app:pull", None).await;
    let head = client()
        .head(&manifest_url)
        .header(AUTHORIZATION, &authorization)
        .header(ACCEPT, ACCEPT_MANIFESTS)
        .send()
        .await
        .expect("head");
    let manifest = manifest_json(&registry, "team/app", "v1", &authorization).await;
    let config_digest = manifest["config"]["digest"]
        .as_str()
        .expect("config digest");
    let blob = client()
        .get(format!(
            "{}/v2/team/app/blobs/{config_digest}",
            registry.endpoint()
        ))
        .header(AUTHORIZATION, &authorization)
        .send()
        .await
        .expect("blob");
    list_all_pages(&registry, "team/app", "").await;

    assert_eq!(challenged.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(blob.status(), StatusCode::OK);
    // The challenged manifest GET counts as the challenge, the second one as a manifest GET.
    let expected = ServerCounts {
        requests: RequestCounts {
            token: 2,
            tag_list: 1,
            manifest_head: 1,
            manifest_get: 1,
            blob: 1,
            challenge: 1,
        },
        token_with_credentials: 0,
        other: 0,
    };
    let counts = registry.counts();
    assert_eq!(counts.repository("team/app"), expected);
    assert_eq!(counts.total, expected);
    assert_eq!(counts.repository("team/other"), ServerCounts::default());
}

#[tokio::test]
async fn reset_counts_starts_from_zero() {
    let registry = TestRegistry::start().await.expect("start");
    bearer(&registry, "repository:team/app:pull", None).await;
    assert_eq!(
        registry.counts().total.requests.token,
        1,
        "a count to reset"
    );

    registry.reset_counts();

    assert_eq!(registry.counts().total, ServerCounts::default());
}

#[tokio::test]
async fn fills_are_not_counted() {
    let registry = TestRegistry::start().await.expect("start");

    tagged_image(&registry, "team/app", "v1").await;

    assert_eq!(registry.counts().total.total(), 0);
}

/// A registry holding one image in `team/app` under each of `tags`.
async fn registry_with_tags(tags: &[&str]) -> TestRegistry {
    let registry = TestRegistry::start().await.expect("start");
    let (first, more) = tags.split_first().expect("a tag");
    let digest = tagged_image(&registry, "team/app", first).await;
    let more: Vec<String> = more.iter().map(|tag| (*tag).to_owned()).collect();
    registry
        .tag_all("team/app", &more, &digest)
        .await
        .expect("tag");
    registry
}

/// The media type of a manifest and its platforms (`os/architecture[/variant]`).
async fn index_platforms(
    registry: &TestRegistry,
    repository: &str,
    tag: &str,
) -> (String, Vec<String>) {
    let authorization = bearer(registry, &format!("repository:{repository}:pull"), None).await;
    let manifest = manifest_json(registry, repository, tag, &authorization).await;
    let platforms = manifest["manifests"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|entry| {
                    let platform = &entry["platform"];
                    let variant = platform["variant"]
                        .as_str()
                        .map(|variant| format!("/{variant}"));
                    format!(
                        "{}/{}{}",
                        platform["os"].as_str().unwrap_or_default(),
                        platform["architecture"].as_str().unwrap_or_default(),
                        variant.unwrap_or_default()
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    (
        manifest["mediaType"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        platforms,
    )
}

#[tokio::test]
async fn the_tuwunel_scenario_hides_its_answer_behind_newer_unusable_tags() {
    let registry = TestRegistry::start().await.expect("start");

    let scenario = Scenario::tuwunel(&registry).await.expect("fill");

    assert_eq!(scenario.newest.tag.as_str(), "v1.10.0.1");
    let repository = Scenario::TUWUNEL_REPOSITORY;
    assert_eq!(
        index_platforms(&registry, repository, "v1.10.0.1").await,
        (
            OCI_INDEX.to_owned(),
            vec![
                "linux/amd64",
                "linux/amd64/v3",
                "linux/arm64/v8",
                "unknown/unknown",
                "unknown/unknown",
                "unknown/unknown"
            ]
            .into_iter()
            .map(str::to_owned)
            .collect()
        )
    );
    assert_eq!(
        index_platforms(&registry, repository, "v1.10.1").await,
        (OCI_MANIFEST.to_owned(), vec![])
    );
    assert_eq!(
        index_platforms(&registry, repository, "v1.11.0").await.1,
        vec!["linux/amd64", "unknown/unknown"]
    );
    assert_eq!(
        index_platforms(&registry, repository, "v1.10.2").await.1,
        vec![
            "linux/amd64/v3",
            "linux/arm64/v8",
            "unknown/unknown",
            "unknown/unknown"
        ]
    );
    let before_rebuild = scenario.before_rebuild.as_ref().expect("a rebuilt release");
    assert_eq!(before_rebuild.tag, scenario.newest.tag);
    assert_ne!(before_rebuild.digest, scenario.newest.digest);
    assert_eq!(
        index_platforms(&registry, repository, before_rebuild.digest.as_str())
            .await
            .1
            .len(),
        6,
        "the first build is still there by digest"
    );
    for tag in [
        "main",
        "preview",
        "latest",
        "v1.11.0-rc",
        "v1.12.0-pre",
        "v1.10.0.1-release-all-aarch64-v8-linux-gnu",
        "v1.10.0.1-release-all-x86_64-v3-linux-gnu",
        "v1.1.0-release-all-x86_64-linux-gnu",
    ] {
        assert!(scenario.tags.contains_key(tag), "missing {tag}");
    }
}

#[tokio::test]
async fn the_livekit_scenario_mixes_manifest_lists_and_oci_indexes() {
    let registry = TestRegistry::start().await.expect("start");

    let scenario = Scenario::livekit(&registry).await.expect("fill");

    let repository = Scenario::LIVEKIT_REPOSITORY;
    assert_eq!(scenario.newest.tag.as_str(), "v1.13.7");
    assert_eq!(scenario.tags["latest"], scenario.newest.digest);
    assert_eq!(
        index_platforms(&registry, repository, "v1.9.11").await.0,
        registry_fixture::DOCKER_MANIFEST_LIST
    );
    assert_eq!(
        index_platforms(&registry, repository, "v1.13.7").await.0,
        OCI_INDEX
    );
}

#[tokio::test]
async fn the_lk_jwt_scenario_needs_four_tag_pages_and_ties_its_answer_to_latest_ci() {
    let registry = TestRegistry::start().await.expect("start");

    let scenario = Scenario::lk_jwt(&registry, LkJwtRoute::Label)
        .await
        .expect("fill");

    let (listed, links) = list_all_pages(&registry, Scenario::LK_JWT_REPOSITORY, "").await;
    assert_eq!(links.len(), 4);
    assert_eq!(listed.len(), scenario.tags.len());
    let sha_tags = listed.iter().filter(|tag| tag.starts_with("sha-")).count();
    assert_eq!(
        sha_tags, 302,
        "300 main builds, a feature build and a PR build"
    );
    let newest_latest_ci = listed
        .iter()
        .filter_map(|tag| tag.strip_prefix("latest-ci_"))
        .max()
        .expect("latest-ci_ tags");
    assert_eq!(
        scenario.tags[&format!("latest-ci_{newest_latest_ci}")],
        scenario.newest.digest
    );
    assert_eq!(
        scenario.tags[scenario.newest.tag.as_str()],
        scenario.newest.digest
    );
    assert_ne!(scenario.tags["latest-ci"], scenario.newest.digest);
    assert_eq!(
        scenario.newest_release.expect("release").tag.as_str(),
        "0.7.0"
    );
}

/// The config labels of the first platform image of the index `digest`, and the index.
async fn first_platform_labels(
    registry: &TestRegistry,
    repository: &str,
    digest: &Digest,
) -> (serde_json::Value, serde_json::Value) {
    let authorization = bearer(registry, &format!("repository:{repository}:pull"), None).await;
    let index = manifest_json(registry, repository, digest.as_str(), &authorization).await;
    let platform_digest = index["manifests"][0]["digest"].as_str().expect("digest");
    let manifest = manifest_json(registry, repository, platform_digest, &authorization).await;
    let config_digest = manifest["config"]["digest"].as_str().expect("config");
    let config: serde_json::Value = client()
        .get(format!(
            "{}/v2/{repository}/blobs/{config_digest}",
            registry.endpoint()
        ))
        .header(AUTHORIZATION, &authorization)
        .send()
        .await
        .expect("config")
        .json()
        .await
        .expect("config json");
    (config["config"]["Labels"].clone(), index)
}

#[tokio::test]
async fn the_label_route_build_names_its_commit_in_the_config_labels() {
    let registry = TestRegistry::start().await.expect("start");
    let scenario = Scenario::lk_jwt(&registry, LkJwtRoute::Label)
        .await
        .expect("fill");

    let (labels, _) = first_platform_labels(
        &registry,
        Scenario::LK_JWT_REPOSITORY,
        &scenario.newest.digest,
    )
    .await;

    let revision = labels["org.opencontainers.image.revision"]
        .as_str()
        .expect("revision label");
    assert_eq!(
        format!("sha-{}", &revision[..7]),
        scenario.newest.tag.as_str()
    );
}

#[tokio::test]
async fn the_attestation_route_build_has_no_labels_but_an_attestation() {
    let registry = TestRegistry::start().await.expect("start");
    let scenario = Scenario::lk_jwt(&registry, LkJwtRoute::Attestation)
        .await
        .expect("fill");

    let (labels, index) = first_platform_labels(
        &registry,
        Scenario::LK_JWT_REPOSITORY,
        &scenario.newest.digest,
    )
    .await;

    assert!(labels.as_object().is_none_or(|labels| labels.is_empty()));
    let attestations = index["manifests"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|entry| entry["annotations"]["vnd.docker.reference.type"] == "attestation-manifest")
        .count();
    assert_eq!(attestations, 2);
}

#[tokio::test]
async fn a_branch_build_of_the_newest_main_commit_moves_its_sha_tag_off_the_main_build() {
    let registry = TestRegistry::start().await.expect("start");
    let scenario = Scenario::lk_jwt_history(
        &registry,
        LkJwtRoute::Label,
        LkJwtHistory::BranchBuildOfNewest,
    )
    .await
    .expect("fill");

    let tagged = &scenario.tags[scenario.newest.tag.as_str()];
    assert_ne!(tagged, &scenario.newest.digest);
    let main_build_tags: Vec<&String> = scenario
        .tags
        .iter()
        .filter(|(_, digest)| *digest == &scenario.newest.digest)
        .map(|(tag, _)| tag)
        .collect();
    assert_eq!(main_build_tags.len(), 1);
    assert!(main_build_tags[0].starts_with("latest-ci_"));
    let (branch_labels, _) =
        first_platform_labels(&registry, Scenario::LK_JWT_REPOSITORY, tagged).await;
    let (main_labels, _) = first_platform_labels(
        &registry,
        Scenario::LK_JWT_REPOSITORY,
        &scenario.newest.digest,
    )
    .await;
    assert_eq!(
        branch_labels["org.opencontainers.image.revision"],
        main_labels["org.opencontainers.image.revision"],
        "both are builds of one commit"
    );
}

/// The `latest-ci_` tags of a scenario, oldest first, with their digests.
fn latest_ci_builds(scenario: &Scenario) -> Vec<(u64, &Digest)> {
    let mut builds: Vec<(u64, &Digest)> = scenario
        .tags
        .iter()
        .filter_map(|(tag, digest)| Some((tag.strip_prefix("latest-ci_")?.parse().ok()?, digest)))
        .collect();
    builds.sort_unstable();
    builds
}

#[tokio::test]
async fn a_rerun_of_an_older_main_build_gets_the_newest_latest_ci_tag_and_moves_its_sha_tag() {
    let registry = TestRegistry::start().await.expect("start");
    let scenario = Scenario::lk_jwt_history(
        &registry,
        LkJwtRoute::Label,
        LkJwtHistory::RerunOfOlderBuild,
    )
    .await
    .expect("fill");

    let builds = latest_ci_builds(&scenario);
    let (_, rerun) = builds[builds.len() - 1];
    let (_, newest) = builds[builds.len() - 2];
    let (_, original) = builds[builds.len() - 4];
    assert_eq!(newest, &scenario.newest.digest);
    let sha_tag_of = |digest: &Digest| {
        scenario
            .tags
            .iter()
            .find(|(tag, tagged)| tag.starts_with("sha-") && *tagged == digest)
            .map(|(tag, _)| tag.clone())
    };
    let moved = sha_tag_of(rerun).expect("the re-run holds a sha- tag");
    assert_eq!(
        sha_tag_of(original),
        None,
        "the sha- tag moved off the first build"
    );
    let (rerun_labels, _) =
        first_platform_labels(&registry, Scenario::LK_JWT_REPOSITORY, rerun).await;
    let (original_labels, _) =
        first_platform_labels(&registry, Scenario::LK_JWT_REPOSITORY, original).await;
    let revision = &rerun_labels["org.opencontainers.image.revision"];
    assert_eq!(
        revision,
        &original_labels["org.opencontainers.image.revision"]
    );
    assert_eq!(
        moved,
        format!("sha-{}", &revision.as_str().expect("revision")[..7])
    );
}

// ---- the front's log of what arrived -------------------------------------------------------------

#[tokio::test]
async fn every_authorization_header_is_recorded_as_it_arrived() {
    let registry = TestRegistry::start().await.expect("start");
    tagged_image(&registry, "team/app", "v1").await;
    let authorization = bearer(&registry, "repository:team/app:pull", None).await;
    let stray = Credentials::new("someone", "else").basic_authorization();
    registry.reset_counts();

    let anonymous = get_manifest(&registry, "team/app", "v1", None).await;
    let twice = client()
        .head(format!("{}/v2/team/app/manifests/v1", registry.endpoint()))
        .header(ACCEPT, ACCEPT_MANIFESTS)
        .header(AUTHORIZATION, &authorization)
        .header(AUTHORIZATION, &stray)
        .send()
        .await
        .expect("head");

    let received: Vec<(Option<RequestKind>, String, Vec<String>, u16)> = registry
        .requests()
        .into_iter()
        .map(|request| {
            (
                request.kind,
                request.method.to_string(),
                request.authorization,
                request.status,
            )
        })
        .collect();
    assert_eq!(
        received,
        [
            (
                Some(RequestKind::ManifestGet),
                "GET".to_owned(),
                vec![],
                anonymous.status().as_u16()
            ),
            (
                Some(RequestKind::ManifestHead),
                "HEAD".to_owned(),
                vec![authorization, stray],
                twice.status().as_u16()
            ),
        ]
    );
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_token_request_is_recorded_with_its_credentials_scope_and_the_token_issued() {
    let registry = TestRegistry::start().await.expect("start");
    let reader = Credentials::new("reader", "read-secret");
    registry.require_pull_credentials("private/app", reader.clone());

    let granted = bearer(&registry, "repository:private/app:pull", Some(&reader)).await;
    let refused = token(
        &registry,
        "repository:private/app:pull",
        Some(&Credentials::new("reader", "guess")),
    )
    .await;

    let [first, second] = registry.requests().try_into().expect("two requests");
    assert_eq!(first.kind, Some(RequestKind::Token));
    assert_eq!(first.repositories, ["private/app"]);
    assert!(first.target.starts_with("/token?"), "{first:?}");
    assert!(first.authorized_as(&reader.basic_authorization()));
    assert_eq!(first.status, 200);
    assert_eq!(
        first.issued_token.map(|token| format!("Bearer {token}")),
        Some(granted)
    );
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(second.status, 401);
    assert_eq!(second.issued_token, None);
}

#[tokio::test]
async fn a_minted_pull_token_is_accepted_by_the_registry_without_a_token_request() {
    let registry = TestRegistry::start().await.expect("start");
    tagged_image(&registry, "team/app", "v1").await;
    let token = registry.pull_token("team/app").expect("mint");

    let pulled = get_manifest(
        &registry,
        "team/app",
        "v1",
        Some(&format!("Bearer {token}")),
    )
    .await;
    let elsewhere = get_manifest(
        &registry,
        "team/other",
        "v1",
        Some(&format!("Bearer {token}")),
    )
    .await;

    assert_eq!(pulled.status(), StatusCode::OK);
    assert_eq!(
        elsewhere.status(),
        StatusCode::UNAUTHORIZED,
        "the token is for its repository only"
    );
    let requests = registry.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests.iter().all(|request| !request.is_token_request()));
}

#[tokio::test]
async fn reset_counts_forgets_the_log_too() {
    let registry = TestRegistry::start().await.expect("start");
    bearer(&registry, "repository:team/app:pull", None).await;
    assert_eq!(registry.requests().len(), 1, "a request to forget");

    registry.reset_counts();

    assert_eq!(registry.requests(), []);
}
