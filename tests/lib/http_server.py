#!/usr/bin/env python3
"""The HTTP peer of tests/http.bats and tests/lua/http.lua: a threaded HTTP/1.1 server on
127.0.0.1 that prints "port N" once it listens (with --tls CERT KEY, HTTPS).

Routes: /status/N (that status), /echo (method, headers, body as JSON), /headers (repeated
response headers), /redirect/N (N hops to /echo), /loop (redirects to itself), /slow/S (answers
after S seconds), /bytes/N (N bytes), /lines/N (N lines "line I"), /gzip (a gzip-compressed
body), /drop (closes without an answer), /stall (headers, 5 bytes, then nothing), /reset (headers, 5 bytes, then a TCP reset)."""
import gzip
import json
import socket
import ssl
import struct
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if status in (204, 304):
            body = b""
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def handle_any(self):
        parts = self.path.split("?")[0].strip("/").split("/")
        route, arg = parts[0], parts[1] if len(parts) > 1 else ""
        if route == "status":
            self.reply(int(arg), b"status " + arg.encode())
        elif route == "echo":
            body = self.read_body()
            self.reply(200, json.dumps({
                "method": self.command, "path": self.path, "length": len(body),
                "body": body.decode("latin-1") if len(body) < 65536 else "",
                "headers": {k.lower(): v for k, v in self.headers.items()},
            }).encode(), [("Content-Type", "application/json")])
        elif route == "headers":
            self.reply(200, b"h", [("X-Twice", "one"), ("X-Twice", "two"), ("X-Case", "Mixed")])
        elif route == "redirect":
            n = int(arg)
            self.reply(302, b"", [("Location", "/redirect/%d" % (n - 1) if n > 1 else "/echo")])
        elif route == "loop":
            self.reply(302, b"", [("Location", "/loop")])
        elif route == "slow":
            time.sleep(float(arg))
            self.reply(200, b"slow")
        elif route == "bytes":
            n = int(arg)
            self.send_response(200)
            self.send_header("Content-Length", str(n))
            self.end_headers()
            chunk = b"x" * 65536
            while n > 0:
                self.wfile.write(chunk[:min(n, len(chunk))])
                n -= len(chunk)
        elif route == "lines":
            body = "".join("line %d\n" % i for i in range(1, int(arg) + 1)).encode()
            self.reply(200, body)
        elif route == "gzip":
            self.reply(200, gzip.compress(b"compressed " * 1000), [("Content-Encoding", "gzip")])
        elif route == "drop":
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        elif route == "reset":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"start")
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
        elif route == "stall":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"start")
            self.wfile.flush()
            time.sleep(60)
        else:
            self.reply(404, b"no such route")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = handle_any


class Server(ThreadingHTTPServer):
    # socketserver's backlog of 5 overflows when 32 clients connect at once: the kernel then
    # drops their handshakes and they wait for retransmissions, for up to a minute
    request_queue_size = 128


def main():
    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.handle_error = lambda *args: None  # clients that give up are part of the tests
    if len(sys.argv) == 4 and sys.argv[1] == "--tls":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[2], sys.argv[3])
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print("port", server.server_address[1], flush=True)
    server.serve_forever()


main()
