//! Two small loopback servers: a counting TCP proxy in front of the registry (it records
//! the request line of every request the client sends through it), and a scripted fake
//! registry for answers a real one never gives (no `Docker-Content-Digest`, rate-limit
//! headers, 429 and 503).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use super::Must as _;
use crate::lock;
use crate::loopback::Loopback;

/// A TCP proxy to `upstream` that logs `METHOD /path` of each request passing through.
/// Requests must have no body (the client under test only sends GET and HEAD).
/// Stopped on drop (relays already running finish on their own).
pub struct CountingProxy {
    /// `127.0.0.1:PORT`: the address to send requests to.
    pub addr: String,
    log: Arc<Mutex<Vec<String>>>,
    /// Held for its `Drop`: stops the accept loop.
    _server: Loopback,
}

impl CountingProxy {
    /// A proxy on a free 127.0.0.1 port to `upstream` (`HOST:PORT`); a connection whose
    /// upstream connection fails is dropped.
    pub fn start(upstream: &str) -> CountingProxy {
        let log = Arc::new(Mutex::new(Vec::new()));
        let upstream = upstream.to_owned();
        let server = {
            let log = log.clone();
            Loopback::start("counting proxy", move |client| {
                let Ok(server) = TcpStream::connect(&upstream) else {
                    return;
                };
                let log = log.clone();
                thread::spawn(move || relay(client, server, &log));
            })
        };
        CountingProxy {
            addr: server.addr().to_owned(),
            log,
            _server: server,
        }
    }

    /// Every request line so far (`HEAD /v2/app/manifests/1`).
    pub fn requests(&self) -> Vec<String> {
        lock(&self.log).clone()
    }

    /// How many requests have method `method` and a path containing `path_part`
    /// (`count("HEAD", "/manifests/")`).
    pub fn count(&self, method: &str, path_part: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.starts_with(&format!("{method} ")) && r.contains(path_part))
            .count()
    }
}

/// Copies server → client as is, and client → server request by request, logging each
/// request line.
fn relay(client: TcpStream, server: TcpStream, log: &Mutex<Vec<String>>) {
    let (mut client_out, mut server_in) = (
        client.try_clone().must("counting proxy: client stream"),
        server.try_clone().must("counting proxy: upstream stream"),
    );
    let back = thread::spawn(move || {
        let _ = std::io::copy(&mut server_in, &mut client_out);
        let _ = client_out.shutdown(Shutdown::Both);
    });
    let mut reader = BufReader::new(client);
    let mut server = server;
    'requests: loop {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => break 'requests,
                Ok(_) => {}
            }
            let end = line == "\r\n" || line == "\n";
            head.push_str(&line);
            if end {
                break;
            }
        }
        if let Some(first) = head.lines().next() {
            let mut parts = first.split_whitespace();
            let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            lock(log).push(format!("{method} {path}"));
        }
        if server.write_all(head.as_bytes()).is_err() {
            break;
        }
    }
    let _ = server.shutdown(Shutdown::Write);
    let _ = back.join();
}

/// One scripted answer.
#[derive(Clone)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// Headers sent before `Content-Length`, in order.
    pub headers: Vec<(String, String)>,
    /// The body (not sent to a `HEAD`).
    pub body: Vec<u8>,
}

impl Answer {
    /// `status` with no header and an empty body.
    pub fn new(status: u16) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Answer {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Replaces the body.
    pub fn body(mut self, body: &[u8]) -> Answer {
        self.body = body.to_vec();
        self
    }
}

/// A fake registry answering from a queue (then 404), one request per connection; stopped
/// on drop.
pub struct FakeRegistry {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    answers: Arc<Mutex<VecDeque<Answer>>>,
    log: Arc<Mutex<Vec<String>>>,
    /// Held for its `Drop`: stops the accept loop.
    _server: Loopback,
}

impl FakeRegistry {
    /// A fake on a free 127.0.0.1 port that gives `answers` in order, then 404s.
    pub fn start(answers: Vec<Answer>) -> FakeRegistry {
        let answers = Arc::new(Mutex::new(VecDeque::from(answers)));
        let log = Arc::new(Mutex::new(Vec::new()));
        let server = {
            let (answers, log) = (answers.clone(), log.clone());
            Loopback::start("fake registry", move |stream| {
                answer(stream, &answers, &log);
            })
        };
        FakeRegistry {
            addr: server.addr().to_owned(),
            answers,
            log,
            _server: server,
        }
    }

    /// Every request line so far (`GET /v2/app/manifests/1`).
    pub fn requests(&self) -> Vec<String> {
        lock(&self.log).clone()
    }

    /// Queues one more answer.
    pub fn push(&self, answer: Answer) {
        lock(&self.answers).push_back(answer);
    }
}

fn answer(stream: TcpStream, answers: &Mutex<VecDeque<Answer>>, log: &Mutex<Vec<String>>) {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .must("fake registry: read timeout");
    let mut reader = BufReader::new(stream.try_clone().must("fake registry: stream"));
    let mut first = String::new();
    if reader.read_line(&mut first).is_err() {
        return;
    }
    let mut head = first.clone();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        head.push_str(&line);
    }
    let mut parts = first.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    lock(log).push(format!("{method} {path}"));
    let reply = lock(answers)
        .pop_front()
        .unwrap_or_else(|| Answer::new(404));
    let mut out = format!("HTTP/1.1 {} X\r\nConnection: close\r\n", reply.status);
    for (name, value) in &reply.headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n", reply.body.len()));
    let mut stream = stream;
    let _ = stream.write_all(out.as_bytes());
    if method != "HEAD" {
        let _ = stream.write_all(&reply.body);
    }
    let _ = stream.flush();
    let _ = stream.shutdown(Shutdown::Write);
    let mut rest = Vec::new();
    let _ = reader.read_to_end(&mut rest);
}
