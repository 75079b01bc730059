//! A smart-HTTP git server on 127.0.0.1: each request is handed to `git http-backend` as a
//! CGI program (as a web server would), after checking that it carries an accepted
//! `Authorization` header (else 401 with a Basic challenge, as git expects). Optionally, the
//! requests that are not git's (every path without `.git/` in it) are relayed to another
//! loopback server, so that one host serves an API and git, as a GitHub Enterprise Server
//! does. Bounded: one request at a time, at most 200, with I/O timeouts; on a
//! [`crate::loopback::Loopback`], stopped and joined on drop.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::loopback::Loopback;

/// Decides whether an `Authorization` header value is accepted.
pub type AuthCheck = Box<dyn Fn(&str) -> bool + Send>;

/// The server over the bare repositories under `root`.
pub struct Backend {
    server: Loopback,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Backend {
    /// Serves `root`, accepting only requests whose `Authorization` header is `auth`.
    pub fn start(root: &Path, auth: &str) -> Backend {
        let auth = auth.to_owned();
        Backend::start_with(root, Box::new(move |h| h == auth), None)
    }

    /// Serves `root`, accepting the git requests whose `Authorization` header `accept`
    /// takes; with `relay` (`127.0.0.1:PORT`), every other request is passed to that server
    /// as it came and its answer returned.
    pub fn start_with(root: &Path, accept: AuthCheck, relay: Option<String>) -> Backend {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        let root = root.to_owned();
        let server = Loopback::start_bounded("git http-backend server", 200, move |stream| {
            serve(stream, &root, &accept, relay.as_deref(), &seen);
        });
        Backend { server, requests }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base(&self) -> String {
        self.server.url()
    }

    /// `http://127.0.0.1:<port>/<name>`.
    pub fn url(&self, name: &str) -> String {
        format!("{}/{name}", self.server.url())
    }

    /// `<status> <method> <path>` of every request so far.
    pub fn requests(&self) -> Vec<String> {
        crate::lock(&self.requests).clone()
    }
}

struct Request {
    method: String,
    /// The request line's target as it came (path and query).
    target: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Answers one request; records `<status> <method> <path>` in `seen` before the answer is
/// written, so a test that saw git finish sees the request.
fn serve(
    stream: TcpStream,
    root: &Path,
    accept: &AuthCheck,
    relay: Option<&str>,
    seen: &Mutex<Vec<String>>,
) -> Option<()> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut writer = stream.try_clone().ok()?;
    let mut reader = BufReader::new(stream);
    let request = read_request(&mut reader, &mut writer)?;
    let record = |status: &str| {
        let line = format!("{status} {} {}", request.method, request.path);
        crate::lock(seen).push(line);
    };
    if let Some(to) = relay.filter(|_| !request.path.contains(".git/")) {
        let answer = forward(to, &request)?;
        record("relayed");
        return writer.write_all(&answer).ok();
    }
    if !request.header("Authorization").is_some_and(accept) {
        let body = b"authentication required\n";
        let head = format!(
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"test\"\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        record("401");
        writer.write_all(head.as_bytes()).ok()?;
        return writer.write_all(body).ok();
    }
    let (status, headers, body) = cgi(root, &request)?;
    record(status.split(' ').next().unwrap_or("?"));
    let mut head = format!("HTTP/1.1 {status}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    writer.write_all(head.as_bytes()).ok()?;
    writer.write_all(&body).ok()
}

fn read_request(reader: &mut BufReader<TcpStream>, writer: &mut TcpStream) -> Option<Request> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_owned(), q.to_owned()),
        None => (target, String::new()),
    };
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            break;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let mut request = Request {
        method,
        target: line.split_whitespace().nth(1)?.to_owned(),
        path,
        query,
        headers,
        body: Vec::new(),
    };
    if request.header("Expect") == Some("100-continue") {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").ok()?;
    }
    if let Some(len) = request.header("Content-Length") {
        let len: usize = len.parse().ok()?;
        let mut body = vec![0; len.min(64 << 20)];
        reader.read_exact(&mut body).ok()?;
        request.body = body;
    } else if request
        .header("Transfer-Encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        request.body = read_chunked(reader)?;
    }
    Some(request)
}

fn read_chunked(reader: &mut BufReader<TcpStream>) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size).ok()?;
        let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
        if size == 0 {
            let mut end = String::new();
            reader.read_line(&mut end).ok()?;
            return Some(body);
        }
        if body.len() + size > 64 << 20 {
            return None;
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..]).ok()?;
        let mut crlf = [0; 2];
        reader.read_exact(&mut crlf).ok()?;
    }
}

/// Sends `request` to `to` (one request, `Connection: close`) and returns the whole answer.
fn forward(to: &str, request: &Request) -> Option<Vec<u8>> {
    let mut upstream = TcpStream::connect(to).ok()?;
    upstream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut head = format!("{} {} HTTP/1.1\r\n", request.method, request.target);
    for (name, value) in &request.headers {
        let hop = [
            "connection",
            "content-length",
            "transfer-encoding",
            "expect",
        ];
        if !hop.iter().any(|h| name.eq_ignore_ascii_case(h)) {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        request.body.len()
    ));
    upstream.write_all(head.as_bytes()).ok()?;
    upstream.write_all(&request.body).ok()?;
    let mut answer = Vec::new();
    upstream.take(64 << 20).read_to_end(&mut answer).ok()?;
    Some(answer)
}

/// A CGI answer: the status line, headers and body.
type Response = (String, Vec<(String, String)>, Vec<u8>);

/// Runs `git http-backend` for `request`.
fn cgi(root: &Path, request: &Request) -> Option<Response> {
    let mut cmd = Command::new("git");
    cmd.arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_PROJECT_ROOT", PathBuf::from(root))
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REMOTE_USER", "x-access-token")
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("REQUEST_METHOD", &request.method)
        .env("PATH_INFO", &request.path)
        .env("QUERY_STRING", &request.query)
        .env("CONTENT_LENGTH", request.body.len().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (header, var) in [
        ("Content-Type", "CONTENT_TYPE"),
        ("Content-Encoding", "HTTP_CONTENT_ENCODING"),
        ("Git-Protocol", "HTTP_GIT_PROTOCOL"),
    ] {
        if let Some(value) = request.header(header) {
            cmd.env(var, value);
        }
    }
    let mut child = cmd.spawn().ok()?;
    let mut stdin = child.stdin.take()?;
    let body = request.body.clone();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&body);
    });
    let out = child.wait_with_output().ok()?;
    let _ = writer.join();
    let split = out.stdout.windows(4).position(|w| w == b"\r\n\r\n");
    let (head, body) = match split {
        Some(at) => (&out.stdout[..at], out.stdout[at + 4..].to_vec()),
        None => {
            let at = out.stdout.windows(2).position(|w| w == b"\n\n")?;
            (&out.stdout[..at], out.stdout[at + 2..].to_vec())
        }
    };
    let mut status = "200 OK".to_owned();
    let mut headers = Vec::new();
    for line in String::from_utf8_lossy(head).lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("Status") {
            status = value.to_owned();
        } else if !name.eq_ignore_ascii_case("Content-Length") {
            headers.push((name.to_owned(), value.to_owned()));
        }
    }
    Some((status, headers, body))
}
