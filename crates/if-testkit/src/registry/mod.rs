//! A real registry for tests: the CNCF distribution registry (Debian's `docker-registry`,
//! 2.8) started on a free 127.0.0.1 port with a temporary storage directory and stopped on
//! drop; pushing images over its HTTP API ([`push`]); a token server for its `auth.token`
//! ([`token`]); cosign signatures ([`cosign`]); a counting proxy and a scripted fake registry ([`net`]).
//!
//! A test that needs the registry starts it with [`registry_or_skip!`](crate::registry_or_skip),
//! which skips the test (returns from it) when the binary is not installed.

pub mod attest;
pub mod cosign;
pub mod net;
pub mod push;
pub mod token;

use std::fmt::{Display, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use if_model::reference::ImageRef;

/// The registry binary, when installed (`apt-get install docker-registry`): the first
/// `docker-registry` on `PATH`, else `/usr/bin/docker-registry`.
pub fn registry_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join("docker-registry"))
        .find(|p| p.is_file())
}

/// Starts a [`Registry`](crate::registry::Registry) with this
/// [`RegistryAuth`](crate::registry::RegistryAuth), or prints why the test is skipped and
/// returns from it (when `docker-registry` is not installed).
///
/// ```no_run
/// use if_testkit::registry::RegistryAuth;
///
/// let registry = if_testkit::registry_or_skip!(RegistryAuth::None);
/// ```
#[macro_export]
macro_rules! registry_or_skip {
    ($auth:expr) => {
        match $crate::registry::Registry::start($auth) {
            ::std::option::Option::Some(registry) => registry,
            ::std::option::Option::None => {
                ::std::eprintln!(
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
    Htpasswd {
        /// The user name.
        user: String,
        /// Its password (stored bcrypt-hashed).
        password: String,
    },
    /// `auth.token`: tokens from `realm`, signed by the key whose certificate is at
    /// `rootcertbundle`.
    Token {
        /// The token server's URL (see [`token::TokenServer::realm`]).
        realm: String,
        /// The `service` the registry names (see [`token::SERVICE`]).
        service: String,
        /// The `iss` the registry accepts (see [`token::ISSUER`]).
        issuer: String,
        /// The PEM certificate of the signing key (see [`token::TokenServer::cert_path`]).
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
    /// A registry on a free port; `None` when the binary is not installed. Panics when it
    /// is installed but does not start (on any of 5 ports).
    pub fn start(auth: RegistryAuth) -> Option<Registry> {
        let binary = registry_binary()?;
        let dir = tempfile::tempdir().must("registry: temporary directory");
        let auth_yaml = auth_section(&auth, dir.path());
        // The port is free when probed but could be taken before the registry binds it:
        // try a few ports.
        for _ in 0..5 {
            let port = free_port();
            let addr = format!("127.0.0.1:{port}");
            let config = dir.path().join("config.yml");
            std::fs::write(&config, config_yaml(dir.path(), &addr, &auth_yaml))
                .must("registry: writing config.yml");
            // The registry logs every 4xx at level error: keep that out of the test output.
            let log = dir.path().join("registry.log");
            let mut child = Command::new(&binary)
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).must("registry: creating registry.log"))
                .spawn()
                .must("registry: spawning docker-registry");
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

    /// An image reference in this registry (`127.0.0.1:PORT/<path>`).
    pub fn image(&self, path: &str) -> ImageRef {
        ImageRef::parse(&format!("{}/{path}", self.addr)).must("registry: image reference")
    }

    /// The registry's temporary directory (config, log, storage), removed on drop.
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
            let hash = bcrypt::hash(password, 4).must("registry: bcrypt");
            let path = dir.join("htpasswd");
            std::fs::write(&path, format!("{user}:{hash}\n")).must("registry: writing htpasswd");
            let _ = write!(
                yaml,
                "auth:\n  htpasswd:\n    realm: test-realm\n    path: {}\n",
                path.display()
            );
        }
        RegistryAuth::Token {
            realm,
            service,
            issuer,
            rootcertbundle,
        } => {
            let _ = write!(
                yaml,
                "auth:\n  token:\n    realm: {realm}\n    service: {service}\n    issuer: {issuer}\n    rootcertbundle: {}\n",
                rootcertbundle.display()
            );
        }
    }
    yaml
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    // Tests of one binary run in parallel, and the port is free only until a server binds
    // it: never hand out the same port twice in a process, or two servers would race for it
    // (the loser's client then talks to the winner).
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .must("free_port: cannot bind 127.0.0.1:0")
            .port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
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
        if child
            .try_wait()
            .must("registry: polling the process")
            .is_some()
        {
            return false;
        }
        if agent.get(&url).call().is_ok() {
            return true;
        }
        thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Runs `f` and measures how long it took.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let value = f();
    (value, start.elapsed())
}

/// The harness's own steps (binding, spawning, writing files, signing): a failure there is
/// a set-up failure, reported as a panic naming the step, at the caller.
pub(crate) trait Must<T> {
    /// The value, or a panic with `what` (and the error).
    fn must(self, what: &str) -> T;
}

impl<T, E: Display> Must<T> for Result<T, E> {
    #[track_caller]
    fn must(self, what: &str) -> T {
        match self {
            Ok(value) => value,
            Err(err) => panic!("{what}: {err}"),
        }
    }
}

impl<T> Must<T> for Option<T> {
    #[track_caller]
    fn must(self, what: &str) -> T {
        match self {
            Some(value) => value,
            None => panic!("{what}"),
        }
    }
}
