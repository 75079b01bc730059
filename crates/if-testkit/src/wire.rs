//! HTTP/1.1 on the wire: reading one request (bounded head and body) and writing one answer.

use std::io::{self, Read, Write};

/// The largest request head (request line and headers) accepted.
pub(crate) const MAX_HEAD: usize = 16 * 1024;
/// The largest request body accepted.
pub(crate) const MAX_BODY: usize = 1024 * 1024;

/// One parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    /// `POST`, `GET`, ...
    pub method: String,
    /// The request target as sent (path and query, still percent-encoded).
    pub target: String,
    /// Every header in order, names lowercased, values trimmed.
    pub headers: Vec<(String, String)>,
    /// The body (`Content-Length` bytes).
    pub body: Vec<u8>,
}

impl Request {
    /// Every value of header `name` (lowercase).
    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Why a request could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The peer closed before sending anything (not a request at all).
    Empty,
    /// The request is not valid HTTP/1.1 as this server reads it; answered with `status`.
    Bad {
        /// 400, 411, 413 or 431.
        status: u16,
        /// What is wrong.
        problem: String,
        /// What was parsed before the problem, for the record.
        partial: Option<Request>,
    },
    /// The connection failed or timed out.
    Io,
}

fn bad(status: u16, problem: impl Into<String>) -> ReadError {
    ReadError::Bad {
        status,
        problem: problem.into(),
        partial: None,
    }
}

/// Reads one request: the head up to `\r\n\r\n` (at most [`MAX_HEAD`] bytes), then exactly
/// `Content-Length` body bytes (at most [`MAX_BODY`]). Chunked bodies are refused (411).
pub(crate) fn read_request(stream: &mut impl Read) -> Result<Request, ReadError> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(pos) = find(&buf, b"\r\n\r\n") {
            break pos;
        }
        if buf.len() > MAX_HEAD {
            return Err(bad(431, "request head larger than 16 KiB"));
        }
        let n = stream.read(&mut chunk).map_err(|_| ReadError::Io)?;
        if n == 0 {
            return Err(if buf.is_empty() {
                ReadError::Empty
            } else {
                bad(400, "connection closed inside the request head")
            });
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    if head_end > MAX_HEAD {
        return Err(bad(431, "request head larger than 16 KiB"));
    }
    let head =
        std::str::from_utf8(&buf[..head_end]).map_err(|_| bad(400, "request head is not UTF-8"))?;
    let mut request = parse_head(head)?;
    let length = match body_length(&request) {
        Ok(length) => length,
        Err((status, problem)) => {
            return Err(ReadError::Bad {
                status,
                problem,
                partial: Some(request),
            });
        }
    };
    let mut body = buf[head_end + 4..].to_vec();
    if body.len() > length {
        body.truncate(length);
    }
    let missing = length - body.len();
    let mut rest = Vec::with_capacity(missing);
    stream
        .take(missing as u64)
        .read_to_end(&mut rest)
        .map_err(|_| ReadError::Io)?;
    if rest.len() < missing {
        return Err(bad(400, "connection closed inside the body"));
    }
    body.extend_from_slice(&rest);
    request.body = body;
    Ok(request)
}

fn parse_head(head: &str) -> Result<Request, ReadError> {
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let parts: Vec<&str> = request_line.split(' ').collect();
    let [method, target, version] = parts[..] else {
        return Err(bad(400, format!("malformed request line {request_line:?}")));
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(bad(400, format!("malformed method {method:?}")));
    }
    if !target.starts_with('/') {
        return Err(bad(400, format!("request target {target:?} is not a path")));
    }
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(bad(400, format!("unsupported version {version:?}")));
    }
    let mut headers = Vec::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(bad(400, format!("malformed header line {line:?}")));
        };
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(bad(400, format!("malformed header name {name:?}")));
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
    }
    Ok(Request {
        method: method.to_owned(),
        target: target.to_owned(),
        headers,
        body: Vec::new(),
    })
}

/// The body length from `Content-Length` (0 when absent), or the status and problem.
fn body_length(request: &Request) -> Result<usize, (u16, String)> {
    if !request.all("transfer-encoding").is_empty() {
        return Err((
            411,
            "Transfer-Encoding is not supported; send Content-Length".into(),
        ));
    }
    let lengths = request.all("content-length");
    let Some(first) = lengths.first() else {
        return Ok(0);
    };
    if lengths.iter().any(|l| l != first) {
        return Err((400, "conflicting Content-Length headers".into()));
    }
    let length: usize = first
        .parse()
        .map_err(|_| (400, format!("malformed Content-Length {first:?}")))?;
    if length > MAX_BODY {
        return Err((413, "request body larger than 1 MiB".into()));
    }
    Ok(length)
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Writes a complete answer with `Connection: close`. A 204 or 304 carries no body and no
/// `Content-Length`; any other status a `Content-Length` (and the body).
pub(crate) fn write_response(
    stream: &mut impl Write,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> io::Result<()> {
    let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    if status != 204 && status != 304 {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut out = out.into_bytes();
    if status != 204 && status != 304 {
        out.extend_from_slice(body);
    }
    stream.write_all(&out)?;
    stream.flush()
}

/// The standard reason phrase of the statuses a forge answers with.
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(raw: &str) -> Result<Request, ReadError> {
        read_request(&mut raw.as_bytes())
    }

    #[test]
    fn reads_head_and_content_length_body() {
        let raw = "POST /a?b HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nX-Y:  z \r\n\r\nbodyEXTRA";
        let req = read(raw).unwrap();
        assert_eq!(req.method, "POST");
        assert_eq!(req.target, "/a?b");
        assert_eq!(
            req.headers,
            vec![
                ("host".to_owned(), "x".to_owned()),
                ("content-length".to_owned(), "4".to_owned()),
                ("x-y".to_owned(), "z".to_owned()),
            ]
        );
        assert_eq!(req.body, b"body");
    }

    #[test]
    fn refuses_what_it_does_not_read() {
        let status = |raw: &str| match read(raw) {
            Err(ReadError::Bad { status, .. }) => status,
            other => panic!("expected Bad, got {other:?}"),
        };
        assert_eq!(status("GARBAGE\r\n\r\n"), 400);
        assert_eq!(status("POST http://x/ HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(status("POST / HTTP/1.1\r\nNoColon\r\n\r\n"), 400);
        assert_eq!(
            status("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            411
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
            400
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n"),
            413
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\nshort"),
            400
        );
        let huge = format!("POST / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD));
        assert_eq!(status(&huge), 431);
        assert_eq!(status("POST / HTTP/1.1\r\nHost: x"), 400);
        assert!(matches!(read(""), Err(ReadError::Empty)));
    }

    #[test]
    fn writes_status_headers_and_length() {
        let mut out = Vec::new();
        let headers = vec![("Retry-After".to_owned(), "1".to_owned())];
        write_response(&mut out, 429, &headers, b"{}").unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 2\r\n\
             Connection: close\r\n\r\n{}"
        );
        let mut out = Vec::new();
        write_response(&mut out, 204, &[], b"ignored").unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"
        );
    }
}
