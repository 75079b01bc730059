//! An accept loop on a free 127.0.0.1 port, on its own thread, for small test servers: each
//! connection is handed to the server's handler, one at a time, until the loop is dropped.
//!
//! The registry harness's counting proxy, scripted fake registry and token server are built
//! on it, and so can a crate's own test servers:
//!
//! ```no_run
//! use std::io::Write;
//!
//! use if_testkit::loopback::Loopback;
//!
//! let server = Loopback::start("hello server", |mut stream| {
//!     let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
//! });
//! let url = server.url(); // http://127.0.0.1:PORT
//! ```

use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};

use crate::registry::Must as _;

/// A running accept loop; on drop it sets its stop flag, wakes the listener with one
/// connection and joins the thread.
pub struct Loopback {
    /// `127.0.0.1:PORT`.
    addr: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Loopback {
    /// Binds a free port and starts handing every connection to `handle`; `what` names the
    /// server in a set-up panic (when no port can be bound).
    pub fn start(what: &str, handle: impl FnMut(TcpStream) + Send + 'static) -> Loopback {
        Loopback::start_bounded(what, usize::MAX, handle)
    }

    /// Like [`Loopback::start`], but the loop ends on its own after `max` connections (the
    /// one that wakes it on drop included): a bound for servers that must not run away.
    pub fn start_bounded(
        what: &str,
        max: usize,
        mut handle: impl FnMut(TcpStream) + Send + 'static,
    ) -> Loopback {
        let listener = TcpListener::bind("127.0.0.1:0").must(what);
        let addr = listener.local_addr().must(what).to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                for stream in listener.incoming().take(max) {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        handle(stream);
                    }
                }
            })
        };
        Loopback {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Loopback {
    /// Sets the stop flag, wakes the accept loop with one connection and joins the thread.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
