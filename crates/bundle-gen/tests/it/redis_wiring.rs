//! The bundled Valkey's password wiring against a real server: Debian's `redis-server` (which
//! takes Valkey's arguments) started with the rendered arguments and the password `bundle
//! secrets` generates, and Debian's `redis-cli` connecting with lk-jwt's `LIVEKIT_REDIS_URL`
//! and LiveKit's settings as the kubelet hands them over. `tests/setup.sh` installs both.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bundle_gen::{OverlayName, generate_secrets, render_objects};
use serde_json::Value;
use serde_norway::Value as Yaml;

use crate::support::{fixture, object_key};

/// A `redis-server` on 127.0.0.1, stopped when dropped.
struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    /// Starts it with `args` (the rendered ones), its `--dir` (the pod's `emptyDir`, which the
    /// server enters as it reads the argument) replaced by a temporary directory, then moved
    /// to a free port on 127.0.0.1 with nothing kept on disk, and waits until it listens.
    fn start(args: &[String]) -> Self {
        let port = free_port();
        let dir = std::env::temp_dir().to_string_lossy().into_owned();
        let at = args
            .iter()
            .position(|arg| arg == "--dir")
            .expect("a --dir argument");
        let mut args = args.to_vec();
        args[at + 1] = dir;
        let child = Command::new("redis-server")
            .args(&args)
            // The later of two `--port` arguments wins.
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs (tests/setup.sh installs Debian's redis-server)");
        let mut server = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("redis-server exited: {status}");
            }
            assert!(Instant::now() < deadline, "redis-server did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// What `redis-cli <args> ping` prints on stdout.
fn ping(args: &[&str]) -> String {
    let output = Command::new("redis-cli")
        .args(args)
        .arg("ping")
        .stdin(Stdio::null())
        .output()
        .expect("redis-cli runs (tests/setup.sh installs it with redis-server)");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn container<'a>(objects: &'a [Value], deployment: &str) -> &'a Value {
    &objects
        .iter()
        .find(|object| object_key(object) == format!("Deployment/{deployment}"))
        .unwrap_or_else(|| panic!("no Deployment/{deployment}"))["spec"]["template"]["spec"]["containers"]
        [0]
}

/// The container's environment as the kubelet makes it: values from `secretKeyRef` looked up
/// in `secrets` (name, key), and `$(NAME)` in a value replaced by the variable of that name
/// defined earlier in the list.
fn kubelet_env(
    container: &Value,
    secrets: &BTreeMap<(String, String), String>,
) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for var in container["env"].as_array().into_iter().flatten() {
        let name = var["name"].as_str().unwrap().to_owned();
        let value = if let Some(reference) = var["valueFrom"].get("secretKeyRef") {
            let key = (
                reference["name"].as_str().unwrap().to_owned(),
                reference["key"].as_str().unwrap().to_owned(),
            );
            secrets
                .get(&key)
                .unwrap_or_else(|| panic!("no Secret key {key:?}"))
                .clone()
        } else {
            expand(var["value"].as_str().unwrap_or_default(), &env)
        };
        env.insert(name, value);
    }
    env
}

fn expand(text: &str, defined: &BTreeMap<String, String>) -> String {
    defined.iter().fold(text.to_owned(), |text, (name, value)| {
        text.replace(&format!("$({name})"), value)
    })
}

/// The Secrets `bundle secrets` generates for the fixture, by (name, key).
fn generated_secrets(config: &bundle_gen::Config) -> BTreeMap<(String, String), String> {
    let manifests = generate_secrets(config).expect("secrets");
    manifests
        .generated
        .iter()
        .flat_map(|secret| {
            let name = secret.metadata.name.clone().unwrap_or_default();
            secret
                .string_data
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(move |(key, value)| ((name.clone(), key), value))
        })
        .collect()
}

struct Wiring {
    server: RedisServer,
    lk_jwt_env: BTreeMap<String, String>,
    livekit_env: BTreeMap<String, String>,
    livekit_redis: Yaml,
}

/// The fixture `valkey` rendered, its Secrets generated, and a server started with Valkey's
/// rendered arguments as the kubelet expands them.
fn wiring() -> Wiring {
    let config = fixture("valkey");
    let secrets = generated_secrets(&config);
    let objects = render_objects(&config, OverlayName::Bundled).unwrap();
    let valkey = container(&objects, "valkey");
    let valkey_env = kubelet_env(valkey, &secrets);
    let args: Vec<String> = valkey["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|arg| expand(arg.as_str().unwrap(), &valkey_env))
        .collect();
    let config_map = objects
        .iter()
        .find(|object| {
            object["metadata"]["name"]
                .as_str()
                .is_some_and(|name| name.starts_with("livekit-config"))
        })
        .expect("the LiveKit ConfigMap");
    let livekit_config: Yaml =
        serde_norway::from_str(config_map["data"]["config.yaml"].as_str().unwrap()).unwrap();
    Wiring {
        server: RedisServer::start(&args),
        lk_jwt_env: kubelet_env(container(&objects, "lk-jwt-service"), &secrets),
        livekit_env: kubelet_env(container(&objects, "livekit"), &secrets),
        livekit_redis: livekit_config["redis"].clone(),
    }
}

impl Wiring {
    /// `redis-cli` arguments that connect as lk-jwt's `LIVEKIT_REDIS_URL` says, read as
    /// go-redis's `ParseURL` (lk-jwt's client) reads it: `redis://[user][:password]@host:port/db`,
    /// then `AUTH <password>` when the user is empty. Not `redis-cli -u`, which sends an empty
    /// user name as one (`AUTH "" <password>`) and so refuses the very URL go-redis accepts.
    /// The Service address is replaced by the test server's.
    fn lk_jwt_cli_args(&self, url: &str) -> Vec<String> {
        let rest = url.strip_prefix("redis://").expect("a redis:// URL");
        let (userinfo, address) = rest.rsplit_once('@').expect("a password in the URL");
        let (user, password) = userinfo.split_once(':').expect("`user:password`");
        let (host_port, db) = address.split_once('/').expect("a database");
        assert_eq!(host_port, "valkey:6379", "{url}");
        let mut args = vec![
            "-p".to_owned(),
            self.server.port.to_string(),
            "-n".to_owned(),
            db.to_owned(),
            "--no-auth-warning".to_owned(),
            "-a".to_owned(),
            password.to_owned(),
        ];
        if !user.is_empty() {
            args.extend(["--user".to_owned(), user.to_owned()]);
        }
        args
    }

    fn lk_jwt_url(&self) -> &str {
        &self.lk_jwt_env["LIVEKIT_REDIS_URL"]
    }
}

fn ping_with(args: &[String]) -> String {
    ping(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn lk_jwts_redis_url_authenticates_with_the_generated_password() {
    let wiring = wiring();
    let password = &wiring.lk_jwt_env["REDIS_PASSWORD"];
    assert_eq!(password.len(), 64, "the generated password");
    assert!(
        wiring.lk_jwt_url().contains(&format!(":{password}@")),
        "the kubelet put the password into the URL: {}",
        wiring.lk_jwt_url()
    );
    assert_eq!(
        ping_with(&wiring.lk_jwt_cli_args(wiring.lk_jwt_url())),
        "PONG"
    );
}

#[test]
fn a_wrong_password_in_lk_jwts_url_is_refused() {
    let wiring = wiring();
    let password = &wiring.lk_jwt_env["REDIS_PASSWORD"];
    let wrong = wiring
        .lk_jwt_url()
        .replace(&format!(":{password}@"), ":not-the-password@");
    assert_ne!(wrong, wiring.lk_jwt_url(), "the URL holds the password");
    let reply = ping_with(&wiring.lk_jwt_cli_args(&wrong));
    assert!(reply.contains("NOAUTH"), "{reply}");
    let reply = ping(&["-p", &wiring.server.port.to_string()]);
    assert!(reply.contains("NOAUTH"), "without a password: {reply}");
}

#[test]
fn livekits_password_and_database_authenticate() {
    let wiring = wiring();
    assert_eq!(
        wiring.livekit_redis["address"].as_str(),
        Some("valkey:6379")
    );
    let db = wiring.livekit_redis["db"].as_u64().unwrap().to_string();
    let port = wiring.server.port.to_string();
    let password = &wiring.livekit_env["REDIS_PASSWORD"];
    assert_eq!(
        ping(&["-p", &port, "-n", &db, "--no-auth-warning", "-a", password]),
        "PONG"
    );
}
