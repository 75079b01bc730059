//! A scripted smart-HTTP git server on 127.0.0.1 for the token tests: it records each
//! request's head and answers every request with an advertisement (upload-pack or
//! receive-pack, as asked) holding only `ERR <message>`, which git prints as `fatal: remote error: <message>`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use if_testkit::loopback::Loopback;

/// The server; stopped and joined on drop.
pub struct ErrServer {
    server: Loopback,
    requests: Arc<Mutex<Vec<String>>>,
}

impl ErrServer {
    /// Starts answering every request with `ERR <message>`.
    pub fn start(message: &str) -> ErrServer {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        let message = message.to_owned();
        // Bounded: a test makes a handful of requests.
        let server = Loopback::start_bounded("ERR git server", 50, move |stream| {
            answer(stream, &message, &seen);
        });
        ErrServer { server, requests }
    }

    /// `http://127.0.0.1:<port>/<name>`.
    pub fn url(&self, name: &str) -> String {
        format!("{}/{name}", self.server.url())
    }

    /// The heads of the requests received so far.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("lock").clone()
    }
}

fn pkt_line(text: &str) -> String {
    format!("{:04x}{text}", text.len() + 4)
}

fn advertisement(service: &str, message: &str) -> Vec<u8> {
    let mut body = pkt_line(&format!("# service={service}\n"));
    body.push_str("0000");
    body.push_str(&pkt_line(&format!("ERR {message}\n")));
    body.into_bytes()
}

/// Reads one request head, records it in `seen` (before answering, so a test that saw git
/// finish sees the request), answers it for the service it asked for.
fn answer(stream: TcpStream, message: &str, seen: &Mutex<Vec<String>>) -> Option<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .set_write_timeout(Some(Duration::from_secs(5)))
        .ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            break;
        }
        if line == "\r\n" || line == "\n" {
            break;
        }
        head.push_str(&line);
    }
    if head.is_empty() {
        return None;
    }
    seen.lock().expect("lock").push(head.clone());
    let service = if head.contains("service=git-receive-pack") {
        "git-receive-pack"
    } else {
        "git-upload-pack"
    };
    let body = advertisement(service, message);
    let mut stream = stream;
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/x-{service}-advertisement\r\n\
         Cache-Control: no-cache\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(response.as_bytes()).ok()?;
    stream.write_all(&body).ok()
}
