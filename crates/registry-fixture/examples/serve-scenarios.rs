//! Starts the test registry, fills it with the three scenarios, prints one JSON line (the
//! endpoint, an admin URL, the expected pins, fill times) and serves until killed.
//!
//! The admin server answers `GET /counts` (the front's request counters as JSON) and
//! `POST /reset` (zero them), so a benchmark can measure one client at a time.
//!
//! ```text
//! cargo run -p registry-fixture --example serve-scenarios [-- --lk-jwt-route label|attestation]
//! ```

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use registry_fixture::{Counts, LkJwtRoute, Pin, Scenario, ServerCounts, TestRegistry};
use serde_json::{Value, json};

fn pin_json(pin: &Pin) -> Value {
    json!({"tag": pin.tag.as_str(), "digest": pin.digest.as_str()})
}

/// The client's vocabulary (`RequestCounts`'s own JSON names), then what only the server
/// sees.
fn kinds_json(counts: &ServerCounts) -> Value {
    let mut json = serde_json::to_value(counts.requests).unwrap_or_default();
    json["total"] = json!(counts.total());
    json["other"] = json!(counts.other);
    json["tokenWithCredentials"] = json!(counts.token_with_credentials);
    json
}

fn counts_json(counts: &Counts) -> Value {
    let repositories: serde_json::Map<String, Value> = counts
        .by_repository
        .iter()
        .map(|(name, counts)| (name.clone(), kinds_json(counts)))
        .collect();
    json!({"total": kinds_json(&counts.total), "repositories": repositories})
}

fn route_from_args() -> Result<LkJwtRoute, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] | ["--lk-jwt-route", "label"] => Ok(LkJwtRoute::Label),
        ["--lk-jwt-route", "attestation"] => Ok(LkJwtRoute::Attestation),
        other => Err(format!(
            "unexpected arguments {other:?}; use --lk-jwt-route label|attestation"
        )),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let route = route_from_args()?;
    let started = Instant::now();
    let registry = Arc::new(TestRegistry::start().await?);
    let up = started.elapsed();
    let mut fill_ms = serde_json::Map::new();
    let mut scenarios = serde_json::Map::new();
    for name in ["tuwunel", "livekit", "lkJwt"] {
        let fill_started = Instant::now();
        let scenario = match name {
            "tuwunel" => Scenario::tuwunel(&registry).await?,
            "livekit" => Scenario::livekit(&registry).await?,
            _ => Scenario::lk_jwt(&registry, route).await?,
        };
        fill_ms.insert(name.to_owned(), json!(fill_started.elapsed().as_millis()));
        scenarios.insert(
            name.to_owned(),
            json!({
                "repository": scenario.repository,
                "tags": scenario.tags.len(),
                "current": pin_json(&scenario.current),
                "newest": pin_json(&scenario.newest),
                "newestRelease": scenario.newest_release.as_ref().map(pin_json),
            }),
        );
    }

    let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let admin_url = format!("http://{}", admin.local_addr()?);
    let app = Router::new()
        .route(
            "/counts",
            get(|State(registry): State<Arc<TestRegistry>>| async move {
                axum::Json(counts_json(&registry.counts()))
            }),
        )
        .route(
            "/reset",
            post(|State(registry): State<Arc<TestRegistry>>| async move {
                registry.reset_counts();
                "reset\n"
            }),
        )
        .with_state(Arc::clone(&registry));

    println!(
        "{}",
        json!({
            "endpoint": registry.endpoint(),
            "host": registry.host(),
            "admin": admin_url,
            "startMs": up.as_millis(),
            "fillMs": fill_ms,
            "scenarios": scenarios,
        })
    );
    axum::serve(admin, app).await?;
    Ok(())
}
