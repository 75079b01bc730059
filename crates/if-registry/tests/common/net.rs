//! Two small loopback servers: a counting TCP proxy in front of the registry (it records
//! the request line of every request the client sends through it), and a scripted fake
//! registry for answers a real one never gives (no `Docker-Content-Digest`, rate-limit
//! headers, 429 and 503).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// A TCP proxy to `upstream` that logs `METHOD /path` of each request passing through.
/// Requests must have no body (the client under test only sends GET and HEAD).
pub struct CountingProxy {
    pub addr: String,
    log: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl CountingProxy {
    pub fn start(upstream: &str) -> CountingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let upstream = upstream.to_owned();
        let thread = {
            let (log, stop) = (log.clone(), stop.clone());
            thread::spawn(move || {
                for client in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let (Ok(client), Ok(server)) = (client, TcpStream::connect(&upstream)) else {
                        continue;
                    };
                    let log = log.clone();
                    thread::spawn(move || relay(client, server, &log));
                }
            })
        };
        CountingProxy {
            addr,
            log,
            stop,
            thread: Some(thread),
        }
    }

    /// Every request line so far (`HEAD /v2/app/manifests/1`).
    pub fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Requests whose line starts with `prefix` (`HEAD /v2/`).
    pub fn count(&self, method: &str, path_part: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.starts_with(&format!("{method} ")) && r.contains(path_part))
            .count()
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Copies server → client as is, and client → server request by request, logging each
/// request line.
fn relay(client: TcpStream, server: TcpStream, log: &Mutex<Vec<String>>) {
    let (mut client_out, mut server_in) =
        (client.try_clone().unwrap(), server.try_clone().unwrap());
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
            log.lock().unwrap().push(format!("{method} {path}"));
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
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn new(status: u16) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Answer {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn body(mut self, body: &[u8]) -> Answer {
        self.body = body.to_vec();
        self
    }
}

/// A fake registry answering from a queue (then 404), one request per connection.
pub struct FakeRegistry {
    pub addr: String,
    answers: Arc<Mutex<VecDeque<Answer>>>,
    log: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeRegistry {
    pub fn start(answers: Vec<Answer>) -> FakeRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let answers = Arc::new(Mutex::new(VecDeque::from(answers)));
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (answers, log, stop) = (answers.clone(), log.clone(), stop.clone());
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        answer(stream, &answers, &log);
                    }
                }
            })
        };
        FakeRegistry {
            addr,
            answers,
            log,
            stop,
            thread: Some(thread),
        }
    }

    pub fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Queues one more answer.
    pub fn push(&self, answer: Answer) {
        self.answers.lock().unwrap().push_back(answer);
    }
}

impl Drop for FakeRegistry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn answer(stream: TcpStream, answers: &Mutex<VecDeque<Answer>>, log: &Mutex<Vec<String>>) {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
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
    log.lock().unwrap().push(format!("{method} {path}"));
    let reply = answers
        .lock()
        .unwrap()
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
