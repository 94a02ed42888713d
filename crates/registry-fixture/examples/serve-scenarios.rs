//! Starts the test registry, fills it with the three scenarios, prints one JSON line (the
//! endpoint, an admin URL, the expected pins, fill times) and serves until killed.
//!
//! The admin server answers `GET /counts` (the front's request counters as JSON) and
//! `POST /reset` (zero them), so a benchmark can measure one client at a time.
//!
//! ```text
//! cargo run -p registry-fixture --example serve-scenarios [-- [--lk-jwt-route label|attestation]
//!     [--lk-jwt-history plain|rerun|branch-build]]
//! ```

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use registry_fixture::{
    Counts, LkJwtHistory, LkJwtRoute, Pin, Scenario, ServerCounts, TestRegistry,
};
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

/// The lk-jwt-service route and history asked for: `--lk-jwt-route` and `--lk-jwt-history`,
/// each at most once, in any order.
fn lk_jwt_from_args() -> Result<(LkJwtRoute, LkJwtHistory), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage =
        "use --lk-jwt-route label|attestation and --lk-jwt-history plain|rerun|branch-build";
    let mut route = None;
    let mut history = None;
    for pair in args.chunks(2) {
        match (pair, route, history) {
            ([flag, value], None, _) if flag == "--lk-jwt-route" => {
                route = Some(match value.as_str() {
                    "label" => LkJwtRoute::Label,
                    "attestation" => LkJwtRoute::Attestation,
                    other => return Err(format!("unknown route {other:?}; {usage}")),
                });
            }
            ([flag, value], _, None) if flag == "--lk-jwt-history" => {
                history = Some(match value.as_str() {
                    "plain" => LkJwtHistory::Plain,
                    "rerun" => LkJwtHistory::RerunOfOlderBuild,
                    "branch-build" => LkJwtHistory::BranchBuildOfNewest,
                    other => return Err(format!("unknown history {other:?}; {usage}")),
                });
            }
            (other, _, _) => return Err(format!("unexpected arguments {other:?}; {usage}")),
        }
    }
    Ok((
        route.unwrap_or(LkJwtRoute::Label),
        history.unwrap_or(LkJwtHistory::Plain),
    ))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (route, history) = lk_jwt_from_args()?;
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
            _ => Scenario::lk_jwt_history(&registry, route, history).await?,
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
