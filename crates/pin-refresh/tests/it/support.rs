//! What the tests share: the images and status requests they run, and the client options
//! that keep retries short. Git and work-tree helpers are in `pin_refresh::test_fixture`,
//! which this crate's unit tests and its dependents' tests share too.

use std::collections::BTreeMap;
use std::time::Duration;

use bundle_gen::{
    Digest, ImageName, ImagePin, Images, ManualPolicy, RegistryEndpoint, UpdatePolicy,
};
use pin_refresh::{ClientOptions, CredentialSource, RequestCounts, StatusRequest};

/// An image under the manual policy, which makes no requests: pinned at `v1.0.0` and a digest
/// of its repository name.
pub fn manual(repository: &str) -> ImagePin {
    ImagePin {
        registry: Some("docker.io".to_owned()),
        repository: repository.to_owned(),
        tag: Some("v1.0.0".parse().unwrap()),
        digest: Some(Digest::of_bytes(repository.as_bytes())),
        policy: UpdatePolicy::Manual(ManualPolicy {}),
    }
}

/// The images of a config: `pins` for the images they name, [`manual`] for the others.
pub fn images(pins: impl IntoIterator<Item = (ImageName, ImagePin)>) -> Images {
    let mut images = Images::new([
        (ImageName::HOMESERVER, manual("matrix-construct/tuwunel")),
        (ImageName::LIVEKIT, manual("livekit/livekit-server")),
        (ImageName::LK_JWT, manual("element-hq/lk-jwt-service")),
    ])
    .unwrap();
    for (name, pin) in pins {
        *images.get_mut(name) = pin;
    }
    images
}

/// A status request for `images` that sends every registry host in `hosts` to `endpoint`
/// (plain http on loopback, so marked insecure) and reads no credentials from the machine.
pub fn request(images: Images, endpoint: &str, hosts: &[&str]) -> StatusRequest {
    let endpoint = RegistryEndpoint {
        endpoint: endpoint.to_owned(),
        insecure: true,
    };
    hosts
        .iter()
        .fold(StatusRequest::new(images), |request, host| {
            request.with_endpoint(host, endpoint.clone())
        })
        .with_credentials(CredentialSource::Explicit(BTreeMap::new()))
}

/// What checking one image whose pin is current costs on a host of its own: the 401
/// challenge, one token, one tag-list page and one manifest HEAD.
pub fn one_token_one_page_one_head() -> RequestCounts {
    RequestCounts {
        token: 1,
        challenge: 1,
        tag_list: 1,
        manifest_head: 1,
        ..RequestCounts::default()
    }
}

/// Options for tests of faults: real behaviour, but short waits so no test sleeps long.
pub fn test_options() -> ClientOptions {
    ClientOptions {
        request_timeout: Duration::from_secs(5),
        retry_wait_cap: Duration::from_millis(5),
        max_total_retry_wait: Duration::from_millis(200),
        ..ClientOptions::default()
    }
}
