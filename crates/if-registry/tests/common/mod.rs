//! Shared set-up for the real-registry tests: the CNCF distribution registry (Debian's
//! `docker-registry`, 2.8) started on a free 127.0.0.1 port with a temporary storage
//! directory and stopped on drop; pushing images over its HTTP API; a token server; a
//! counting proxy and a scripted fake registry.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod net;
pub mod push;
pub mod token;

use std::fmt::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use if_registry::{Client, Config, Credentials, Retry};

/// The registry binary, when installed (`apt-get install docker-registry`).
pub fn registry_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join("docker-registry"))
        .find(|p| p.is_file())
}

/// Starts a registry, or prints why the test is skipped and returns from it.
#[macro_export]
macro_rules! registry_or_skip {
    ($auth:expr) => {
        match common::Registry::start($auth) {
            Some(registry) => registry,
            None => {
                eprintln!(
                    "skipping: docker-registry is not installed (apt-get install docker-registry)"
                );
                return;
            }
        }
    };
}

/// How the registry authenticates.
pub enum RegistryAuth {
    /// Anonymous pull and push.
    None,
    /// `auth.htpasswd` with one bcrypt user.
    Htpasswd { user: String, password: String },
    /// `auth.token`: tokens from `realm`, signed by the key whose certificate is at
    /// `rootcertbundle`.
    Token {
        realm: String,
        service: String,
        issuer: String,
        rootcertbundle: PathBuf,
    },
}

/// A running registry; killed and reaped on drop.
pub struct Registry {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    dir: tempfile::TempDir,
}

impl Registry {
    /// A registry on a free port; `None` when the binary is not installed.
    pub fn start(auth: RegistryAuth) -> Option<Registry> {
        let binary = registry_binary()?;
        let dir = tempfile::tempdir().unwrap();
        let auth_yaml = auth_section(&auth, dir.path());
        // The port is free when probed but could be taken before the registry binds it:
        // try a few ports.
        for _ in 0..5 {
            let port = free_port();
            let addr = format!("127.0.0.1:{port}");
            let config = dir.path().join("config.yml");
            std::fs::write(&config, config_yaml(dir.path(), &addr, &auth_yaml)).unwrap();
            // The registry logs every 4xx at level error: keep that out of the test output.
            let log = dir.path().join("registry.log");
            let mut child = Command::new(&binary)
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .unwrap();
            if wait_until_up(&mut child, &addr) {
                return Some(Registry { child, addr, dir });
            }
            let _ = child.kill();
            let _ = child.wait();
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            eprintln!("docker-registry did not start on {addr}: {text}");
        }
        panic!("docker-registry did not start on any of 5 ports");
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// An image reference in this registry.
    pub fn image(&self, path: &str) -> if_model::reference::ImageRef {
        if_model::reference::ImageRef::parse(&format!("{}/{path}", self.addr)).unwrap()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config_yaml(dir: &Path, addr: &str, auth: &str) -> String {
    let storage = dir.join("storage");
    format!(
        "version: 0.1\n\
         log:\n  level: error\n  accesslog:\n    disabled: true\n\
         storage:\n  filesystem:\n    rootdirectory: {}\n  maintenance:\n    uploadpurging:\n      enabled: false\n\
         http:\n  addr: {addr}\n  secret: test-secret\n\
         {auth}",
        storage.display()
    )
}

fn auth_section(auth: &RegistryAuth, dir: &Path) -> String {
    let mut yaml = String::new();
    match auth {
        RegistryAuth::None => {}
        RegistryAuth::Htpasswd { user, password } => {
            let hash = bcrypt::hash(password, 4).unwrap();
            let path = dir.join("htpasswd");
            std::fs::write(&path, format!("{user}:{hash}\n")).unwrap();
            write!(
                yaml,
                "auth:\n  htpasswd:\n    realm: test-realm\n    path: {}\n",
                path.display()
            )
            .unwrap();
        }
        RegistryAuth::Token {
            realm,
            service,
            issuer,
            rootcertbundle,
        } => {
            write!(
                yaml,
                "auth:\n  token:\n    realm: {realm}\n    service: {service}\n    issuer: {issuer}\n    rootcertbundle: {}\n",
                rootcertbundle.display()
            )
            .unwrap();
        }
    }
    yaml
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `GET /v2/` until it answers (any status: 401 with auth), at most 100 × 50 ms;
/// false when the process exited or never answered.
fn wait_until_up(child: &mut Child, addr: &str) -> bool {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(2)))
        .build()
        .into();
    let url = format!("http://{addr}/v2/");
    for _ in 0..100 {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        if agent.get(&url).call().is_ok() {
            return true;
        }
        thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Short waits so the suite stays fast.
pub fn fast_retry() -> Retry {
    Retry {
        attempts: 3,
        base_delay: Duration::from_millis(10),
        max_total: Duration::from_secs(10),
    }
}

/// A client with no credentials.
pub fn client() -> Client {
    Client::new(Config {
        retry: fast_retry(),
        ..Config::default()
    })
}

/// A client with credentials for `registry`.
pub fn client_with(registry: &str, user: &str, password: &str) -> Client {
    let mut config = Config {
        retry: fast_retry(),
        ..Config::default()
    };
    config
        .credentials
        .insert(registry.to_owned(), Credentials::new(user, password));
    Client::new(config)
}

/// Measures a closure.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let value = f();
    (value, start.elapsed())
}
