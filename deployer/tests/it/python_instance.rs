//! An instance for a spec's `local.command` that answers as a test needs (slowly, with a 5xx,
//! echoing what it got), which the real services do not: a Python HTTP/1.1 server on the port
//! in its first argument.

use std::path::{Path, PathBuf};

/// Writes the instance as `dir/name` and returns its path. `answer` is Python defining
/// `answer(request)`, which returns the status, the body (bytes) and any headers to add for a
/// GET (`request` is the `BaseHTTPRequestHandler`).
pub fn write(dir: &Path, name: &str, answer: &str) -> PathBuf {
    let script = format!(
        r#"
import http.server, os, sys, time

{answer}

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        status, body, headers = answer(self)
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        for header, value in headers:
            self.send_header(header, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"#
    );
    let path = dir.join(name);
    std::fs::write(&path, script).expect("writing the instance");
    path
}
