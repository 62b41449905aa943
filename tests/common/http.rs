//! A server started from the binary for a test, and plain HTTP/1.1 requests to it over one fresh
//! connection each (no client library: what the server must survive is also raw bytes).

use super::bin;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `neuralnet serve` or `neuralnet playground`, stopped on drop.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Server {
    /// `neuralnet serve MODEL --port 0 ARGS…`.
    pub fn serve(model: &Path, args: &[&str]) -> Self {
        let mut all = vec!["serve", model.to_str().unwrap()];
        all.extend(args);
        Self::start(&all)
    }

    /// `neuralnet ARGS… --port 0`, once it prints the address it listens on.
    pub fn start(args: &[&str]) -> Self {
        let mut child = Command::new(bin()).args(args).args(["--port", "0"]).stderr(Stdio::piped()).spawn().unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let line = lines.next().expect("the server printed nothing").unwrap();
        let addr = line.split("http://").nth(1).and_then(|s| s.split('/').next()).expect(&line).parse().unwrap();
        // Keep draining stderr so the server never blocks on it.
        std::thread::spawn(move || lines.for_each(drop));
        Self { child, addr }
    }

    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// One request on a fresh connection: (status, JSON or text body).
    pub fn request(&self, method: &str, path: &str, content_type: Option<&str>, body: &[u8]) -> (u16, Vec<u8>) {
        let mut s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", self.addr);
        if let Some(ct) = content_type {
            head += &format!("Content-Type: {ct}\r\nContent-Length: {}\r\n", body.len());
        }
        head += "\r\n";
        s.write_all(head.as_bytes()).unwrap();
        let _ = s.write_all(body); // the server may answer (413) before reading it all
        read_response(s)
    }

    pub fn json(&self, method: &str, path: &str, content_type: Option<&str>, body: &[u8]) -> (u16, Value) {
        let (status, body) = self.request(method, path, content_type, body);
        let v = serde_json::from_slice(&body).unwrap_or_else(|e| {
            panic!("{method} {path}: {status}, not JSON ({e}): {}", String::from_utf8_lossy(&body))
        });
        (status, v)
    }

    pub fn healthy(&self) {
        assert_eq!(self.json("GET", "/healthz", None, b""), (200, json!({"status": "ok"})));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn read_response(mut s: TcpStream) -> (u16, Vec<u8>) {
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("no HTTP response");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let mut body = raw[split + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        let mut out = Vec::new();
        let mut rest = &body[..];
        while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
            let n = usize::from_str_radix(std::str::from_utf8(&rest[..eol]).unwrap().trim(), 16).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&rest[eol + 2..eol + 2 + n]);
            rest = &rest[eol + 4 + n..];
        }
        body = out;
    }
    (status, body)
}
