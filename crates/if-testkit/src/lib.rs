//! Test support (dev-only): [`FakeForge`], a fake GitHub/GitLab API on a loopback port, and
//! [`registry`], a real-registry harness.
//!
//! [`FakeForge`] implements the endpoints the factory calls (a `workflow_dispatch`, a new
//! pipeline, the state of a run or pipeline, GitHub's list of a workflow's runs, and each
//! provider's raw-file endpoint), exactly as the providers document them, and checks every
//! request against that documentation: a request that GitHub or GitLab would refuse is
//! refused here too, with the provider's status and error shape, and every problem is named
//! in [`Recorded::violations`]. The files it serves are given with [`FakeForge::add_file`].
//!
//! It runs builds: every accepted dispatch and created pipeline becomes a [`Run`] (GitHub
//! ids from 5000, GitLab pipelines from 1000) created at the fake's clock
//! ([`FakeForge::set_clock`]), whose outcome follows the next item scripted for its
//! repository ([`FakeForge::script_runs`], [`RunScript`]; unscripted runs succeed at once).
//! A dispatch with `"return_run_details": true` answers 200 with the run's id and URLs;
//! [`FakeForge::set_run_details`]`(false)` makes it an older GitHub Enterprise Server that
//! refuses that field with 422. Tests can also queue answers ([`Scripted`]: 500, 429 with
//! `Retry-After`, 401, a hang-up) that come before the normal behaviour (a queued answer
//! starts no run). It uses the standard library, `serde_json` and `if-model`'s `Provider`
//! and `Timestamp` only; one server thread, stopped on drop.
//!
//! * `wire`: reading one HTTP/1.1 request (bounded) and writing one answer;
//! * `forge`: the endpoints' checks and normal answers (`forge::files`: the file endpoints
//!   and the files they serve; `forge::runs`: the builds and the run endpoints);
//! * [`registry`]: Debian's `docker-registry` (distribution 2.8) started on a free loopback
//!   port (anonymous, htpasswd or token auth) and stopped on drop, with
//!   [`registry_or_skip!`] to skip a test when it is not installed; pushing images over its
//!   HTTP API ([`registry::push`]); a token server signing ES256 tokens
//!   ([`registry::token`]); a counting proxy and a scripted fake registry
//!   ([`registry::net`]). It knows no registry client: crates build theirs on top;
//! * [`git_http`]: a smart-HTTP git server (`git http-backend` as CGI) that checks the
//!   `Authorization` header, optionally relaying the other requests to a [`FakeForge`] so
//!   one host serves API and git ([`FakeForge::installation_token_auth`] accepts the App
//!   installation tokens it issued);
//! * [`loopback`]: the accept loop those small servers run on (a free 127.0.0.1 port, one
//!   connection at a time, stopped and joined on drop), for a crate's own test servers too.

use std::collections::VecDeque;
use std::io::{self, ErrorKind};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use if_model::enrollment::Provider;
use serde_json::{Value, json};

pub mod app_key;
mod forge;
pub mod git;
pub mod git_http;
pub mod loopback;
pub mod registry;
mod wire;

pub use forge::{
    GITHUB_ACCEPT, GITHUB_ACCEPT_RAW, GITHUB_API_VERSION, GITHUB_FAILED_CONCLUSIONS,
    GITHUB_MAX_INPUTS, GITLAB_FAILED_STATUSES, GITLAB_PREFIX, Run, RunScript,
};

use forge::{Answer, Apps, Files, Runs, Tokens};
use wire::{ReadError, Request};

/// How often the accept loop looks at the stop flag.
const POLL: Duration = Duration::from_millis(2);
/// The longest the server waits on one connection's read or write.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// One request the fake received, with what it answered.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The method (`POST`, `GET`).
    pub method: String,
    /// The request target as sent: the path (still percent-encoded) and any query.
    pub path: String,
    /// Every header in the order sent; names lowercased, values trimmed.
    pub headers: Vec<(String, String)>,
    /// The body (invalid UTF-8 replaced).
    pub body: String,
    /// The status answered; 0 when the connection was closed without an answer.
    pub response_status: u16,
    /// Every way the request differs from the provider's documentation (empty when it is
    /// exactly right). Checked even when the answer was scripted.
    pub violations: Vec<String>,
    /// When the request was fully read.
    pub received_at: Instant,
}

impl Recorded {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The lowercased names of every header, in order.
    pub fn header_names(&self) -> Vec<&str> {
        self.headers.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// The body parsed as JSON (`Value::Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// A queued answer that replaces the normal behaviour for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scripted {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
    hang_up: bool,
}

impl Scripted {
    /// Answer `status` with a JSON body `{"message": "<reason phrase>"}` (no body for 204).
    pub fn status(status: u16) -> Self {
        let body = if status == 204 {
            String::new()
        } else {
            json!({ "message": wire::reason(status) }).to_string()
        };
        Scripted {
            status,
            headers: vec![("Content-Type".to_owned(), "application/json".to_owned())],
            body,
            hang_up: false,
        }
    }

    /// Read the request, then close the connection without answering.
    pub fn hang_up() -> Self {
        Scripted {
            status: 0,
            headers: Vec::new(),
            body: String::new(),
            hang_up: true,
        }
    }

    /// Adds `Retry-After: <seconds>`.
    pub fn retry_after(self, seconds: u64) -> Self {
        self.header("Retry-After", &seconds.to_string())
    }

    /// Adds a response header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Replaces the body with `body` as is.
    pub fn body(mut self, body: impl Into<String>) -> Self {
        self.body = body.into();
        self
    }

    /// Replaces the body with `value` as JSON.
    pub fn json(self, value: &Value) -> Self {
        self.body(value.to_string())
    }
}

/// What the server thread and the test share.
struct Shared {
    tokens: Tokens,
    apps: Apps,
    files: Files,
    base_url: String,
    requests: Vec<Recorded>,
    script: VecDeque<Scripted>,
    runs: Runs,
}

/// A fake GitHub and GitLab API on `127.0.0.1`, served by one thread until dropped.
pub struct FakeForge {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeForge {
    /// Starts a fake that accepts these tokens (GitHub `Authorization: Bearer`, GitLab
    /// `PRIVATE-TOKEN`). Panics if no loopback port can be bound (a test-setup failure).
    pub fn start(github_token: &str, gitlab_token: &str) -> FakeForge {
        match FakeForge::try_start(github_token, gitlab_token) {
            Ok(forge) => forge,
            Err(err) => panic!("FakeForge: cannot listen on 127.0.0.1: {err}"),
        }
    }

    /// Like [`FakeForge::start`], returning the error instead of panicking.
    pub fn try_start(github_token: &str, gitlab_token: &str) -> io::Result<FakeForge> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Mutex::new(Shared {
            tokens: Tokens {
                github: github_token.to_owned(),
                gitlab: gitlab_token.to_owned(),
                installation: Vec::new(),
                pipeline_inputs: Default::default(),
            },
            apps: Apps::default(),
            files: Files::default(),
            base_url: format!("http://{addr}"),
            requests: Vec::new(),
            script: VecDeque::new(),
            runs: Runs::default(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = thread::Builder::new()
            .name("fake-forge".to_owned())
            .spawn({
                let shared = Arc::clone(&shared);
                let stop = Arc::clone(&stop);
                move || serve(&listener, &shared, &stop)
            })?;
        Ok(FakeForge {
            addr,
            shared,
            stop,
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The GitHub API base URL (the server root).
    pub fn github_api(&self) -> String {
        self.url()
    }

    /// The GitLab API base URL (`/api/v4` under the server root).
    pub fn gitlab_api(&self) -> String {
        format!("{}{GITLAB_PREFIX}", self.url())
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared).requests.clone()
    }

    /// Queues an answer: queued answers are given, in order, to the next requests before
    /// the normal behaviour resumes.
    pub fn push_response(&self, response: Scripted) {
        lock(&self.shared).script.push_back(response);
    }

    /// Serves `content` as the file `path` on `branch` of `repo` (`owner/repo` on GitHub,
    /// the project path on GitLab), replacing any earlier content there.
    ///
    /// GitHub's `GET /repos/{owner}/{repo}/contents/{path}?ref={branch}` then answers 200
    /// with the raw bytes (`Content-Type: application/vnd.github.raw+json; charset=utf-8`),
    /// and a directory (a path that has files below it) with its JSON listing
    /// (`application/json`); GitLab's `GET /api/v4/projects/{id}/repository/files/{path}/
    /// raw?ref={branch}` answers the bytes as `text/plain; charset=utf-8`. A path that is
    /// not there answers 404 with the provider's body: GitHub `{"message": "Not Found",
    /// ...}` (`No commit found for the ref ...` for a branch without files), GitLab
    /// `{"message": "404 File Not Found"}` (`404 Commit Not Found`, `404 Project Not
    /// Found`). The token is optional, but a wrong one answers 401.
    pub fn add_file(
        &self,
        provider: Provider,
        repo: &str,
        branch: &str,
        path: &str,
        content: impl Into<Vec<u8>>,
    ) {
        lock(&self.shared)
            .files
            .add(provider, repo, branch, path, content.into());
    }

    /// Makes `repo` private: a file request without a token answers 404, as the providers
    /// answer for a repository the caller may not see.
    pub fn set_private(&self, provider: Provider, repo: &str) {
        lock(&self.shared).files.set_private(provider, repo);
    }

    /// Scripts the outcomes of the next runs of `repo` on `provider`: each new run (a
    /// dispatch, a pipeline) takes the next item; once they are used up, runs succeed at
    /// once. Panics when a failure word is not one the provider documents
    /// ([`GITHUB_FAILED_CONCLUSIONS`], [`GITLAB_FAILED_STATUSES`]).
    ///
    /// The state endpoints then answer as documented: GitHub's `GET /repos/{owner}/{repo}/
    /// actions/runs/{id}` with `status` `in_progress` while running and `completed` with the
    /// `conclusion` after, GitLab's `GET /api/v4/projects/{id}/pipelines/{pipeline_id}` with
    /// `status` `running`, `success` or the failure word. Each such GET is one poll
    /// ([`RunScript::RunningFor`] counts them); GitHub's run list shows the state without
    /// counting a poll.
    pub fn script_runs(
        &self,
        provider: Provider,
        repo: &str,
        scripts: impl IntoIterator<Item = RunScript>,
    ) {
        let scripts = scripts.into_iter().collect();
        lock(&self.shared).runs.script(provider, repo, scripts);
    }

    /// `false`: an older GitHub Enterprise Server, whose dispatch refuses a body with
    /// `return_run_details` (422 `"\"return_run_details\" is not a permitted key."`,
    /// no run) and answers one without it 204. `true` (the default): github.com.
    pub fn set_run_details(&self, supported: bool) {
        lock(&self.shared).runs.run_details = supported;
    }

    /// Sets the time new runs are created at (RFC 3339, e.g. `2027-01-01T00:00:00Z`), for
    /// tests that replay simulated weeks; the default is the real UTC time. Panics on
    /// anything else than RFC 3339.
    pub fn set_clock(&self, now: &str) {
        lock(&self.shared).runs.set_clock(now);
    }

    /// Registers a GitHub App: `POST /app/installations/{installation_id}/access_tokens`
    /// then takes a JWT whose `iss` is `app_id` and whose RS256 signature verifies with
    /// `public_key` (DER `RSAPublicKey`, PKCS#1), with `iat` not in the future and `exp`
    /// not passed and at most 10 minutes after `iat` and after now, and answers 201 with a
    /// new installation token (`ghs_...`) and its `expires_at`, one lifetime after the
    /// fake's clock ([`FakeForge::set_clock`]). The token is taken like the GitHub token
    /// until then and refused with 401 "Bad credentials" from then on.
    pub fn add_github_app(&self, app_id: &str, installation_id: u64, public_key: Vec<u8>) {
        lock(&self.shared)
            .apps
            .add(app_id, installation_id, public_key);
    }

    /// Makes GitLab `project` one whose CI declares `spec:inputs` with these names and that
    /// allows no pipeline variables (the default for new GitLab.com namespaces): a new
    /// pipeline must then pass its values as `inputs` (strings, declared names only); a body
    /// with `variables` is refused with 400. Other projects refuse `inputs`.
    pub fn set_pipeline_inputs(&self, project: &str, declared: &[&str]) {
        lock(&self.shared).tokens.pipeline_inputs.insert(
            project.to_owned(),
            declared.iter().map(|d| (*d).to_owned()).collect(),
        );
    }

    /// Seconds an installation token lives (GitHub: an hour, the default).
    pub fn set_installation_token_lifetime(&self, seconds: i64) {
        lock(&self.shared).apps.lifetime = seconds;
    }

    /// Refuses an installation token as soon as a newer one was issued (401 "Bad
    /// credentials" on the API, and [`FakeForge::installation_token_auth`] no longer accepts
    /// it). Not GitHub's behaviour (its tokens live until `expires_at`): with a lifetime
    /// shorter than the client's renewal margin it proves that every use renewed.
    pub fn set_installation_tokens_latest_only(&self, on: bool) {
        lock(&self.shared).apps.latest_only = on;
    }

    /// A check of an `Authorization` header for git over HTTP: `Basic
    /// base64(x-access-token:TOKEN)` with an installation token this fake issued that has not
    /// expired by its clock (for [`git_http::Backend::start_with`]).
    pub fn installation_token_auth(&self) -> git_http::AuthCheck {
        use base64::Engine as _;
        let shared = Arc::clone(&self.shared);
        Box::new(move |header| {
            let Some(pair) = header
                .strip_prefix("Basic ")
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                .and_then(|b| String::from_utf8(b).ok())
            else {
                return false;
            };
            let shared = lock(&shared);
            let now = shared.runs.now_unix();
            pair.strip_prefix("x-access-token:")
                .is_some_and(|t| shared.apps.valid(now).iter().any(|v| v == t))
        })
    }

    /// Every installation token issued so far (one per exchange), in order, with its
    /// `expires_at` in Unix seconds.
    pub fn installation_tokens(&self) -> Vec<(String, i64)> {
        lock(&self.shared)
            .apps
            .issued
            .iter()
            .map(|i| (i.token.clone(), i.expires_at))
            .collect()
    }

    /// Every run started so far, in order, with what is left of its script.
    pub fn runs(&self) -> Vec<Run> {
        lock(&self.shared).runs.all()
    }
}

impl Drop for FakeForge {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            // A panic on the server thread has already been reported; nothing to add.
            let _ = thread.join();
        }
    }
}

/// Locks `mutex`, also after a panic on another thread (the data is a log or a queue: still
/// usable).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The accept loop: one connection at a time, until `stop` is set.
fn serve(listener: &TcpListener, shared: &Mutex<Shared>, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => handle(stream, shared),
            Err(err) if err.kind() == ErrorKind::WouldBlock => thread::sleep(POLL),
            Err(_) => thread::sleep(POLL),
        }
    }
}

/// Reads one request, records it, answers it and closes the connection.
fn handle(mut stream: TcpStream, shared: &Mutex<Shared>) {
    if stream.set_nonblocking(false).is_err()
        || stream.set_read_timeout(Some(IO_TIMEOUT)).is_err()
        || stream.set_write_timeout(Some(IO_TIMEOUT)).is_err()
    {
        return;
    }
    let (request, violations, answer) = match wire::read_request(&mut stream) {
        Ok(request) => {
            let (violations, answer) = respond(&request, shared);
            (request, violations, answer)
        }
        Err(ReadError::Empty | ReadError::Io) => return,
        Err(ReadError::Bad {
            status,
            problem,
            partial,
        }) => {
            let request = partial.unwrap_or_else(|| Request {
                method: String::new(),
                target: String::new(),
                headers: Vec::new(),
                body: Vec::new(),
            });
            let body = json!({ "message": problem }).to_string();
            (request, vec![problem], Some(json_answer(status, body)))
        }
    };
    let response_status = answer.as_ref().map_or(0, |a| a.0);
    lock(shared).requests.push(Recorded {
        method: request.method,
        path: request.target,
        headers: request.headers,
        body: String::from_utf8_lossy(&request.body).into_owned(),
        response_status,
        violations,
        received_at: Instant::now(),
    });
    if let Some((status, headers, body)) = answer {
        // The client may have gone; the test sees that on its side.
        let _ = wire::write_response(&mut stream, status, &headers, &body);
    }
    let _ = stream.shutdown(Shutdown::Both);
}

/// An answer: status, headers, body.
type Reply = (u16, Vec<(String, String)>, Vec<u8>);

/// A status with a JSON body, or without any body.
fn with_json((status, body): (u16, Option<Value>)) -> Reply {
    match body {
        Some(body) => json_answer(status, body.to_string()),
        None => (status, Vec::new(), Vec::new()),
    }
}

fn json_answer(status: u16, body: String) -> Reply {
    let headers = vec![("Content-Type".to_owned(), "application/json".to_owned())];
    (status, headers, body.into_bytes())
}

/// The checks' violations and the answer: the next scripted one if any, else the normal
/// one (`None` to hang up).
fn respond(request: &Request, shared: &Mutex<Shared>) -> (Vec<String>, Option<Reply>) {
    let mut shared = lock(shared);
    let now = shared.runs.now_unix();
    if let Some(installation) = forge::access_tokens_route(&request.target) {
        let mut violations = Vec::new();
        if request.method != "POST" {
            violations.push(format!("method {} where POST is required", request.method));
            let body = json!({"message": "Not Found"}).to_string();
            return (violations, Some(json_answer(404, body)));
        }
        let (status, body) = shared
            .apps
            .exchange(request, installation, now, &mut violations);
        return (violations, Some(json_answer(status, body.to_string())));
    }
    let bearer = request
        .all("authorization")
        .first()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    if let Some(token) = bearer
        && shared.apps.expired(&token, now)
    {
        let violations =
            vec!["authorization: installation token used after its expires_at (or after a newer one, latest-only)".to_owned()];
        let body = json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"});
        return (violations, Some(json_answer(401, body.to_string())));
    }
    let mut tokens = shared.tokens.clone();
    tokens.installation = shared.apps.valid(now);
    let verdict = forge::check(request, &tokens, &shared.files);
    if let Some(scripted) = shared.script.pop_front() {
        let answer = (!scripted.hang_up).then_some((
            scripted.status,
            scripted.headers,
            scripted.body.into_bytes(),
        ));
        return (verdict.violations, answer);
    }
    let base = shared.base_url.clone();
    let runs = &mut shared.runs;
    let answer = match verdict.answer {
        Answer::Dispatched(dispatch) => with_json(runs.dispatch(&base, dispatch)),
        Answer::PipelineCreated {
            project,
            reference,
            variables,
        } => with_json(runs.pipeline(&base, project, reference, variables)),
        Answer::RunState { provider, repo, id } => {
            with_json(runs.state(&base, provider, &repo, id))
        }
        Answer::RunList {
            repo,
            workflow,
            filter,
        } => with_json(runs.list(&base, &repo, &workflow, &filter)),
        Answer::Content { content_type, body } => {
            (200, vec![("Content-Type".to_owned(), content_type)], body)
        }
        Answer::Refused { status, body } => json_answer(status, body.to_string()),
    };
    (verdict.violations, Some(answer))
}
