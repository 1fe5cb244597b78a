//! A small HTTP/1.1 server on `std::net`: one thread per connection, keep-alive, `Content-Length` and chunked
//! request bodies, and full control over the answer — including none at all (a dropped connection).

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// The largest request body read; the API server accepts 32 MiB uploads, plus room for multipart framing.
pub const MAX_BODY: usize = 32 * 1024 * 1024 + 64 * 1024;
const MAX_HEAD: usize = 64 * 1024;

/// One parsed request.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path part of the target, still percent-encoded.
    pub path: String,
    /// The query string without `?` ("" when absent).
    pub query: String,
    /// Header names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
    /// The body was larger than [`MAX_BODY`] and was not kept.
    pub body_too_large: bool,
    /// The body's length as sent, also when it was not kept.
    pub body_len: usize,
    /// The peer's address.
    pub peer: Option<SocketAddr>,
}

impl Request {
    /// The first value of a header (name in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// All values of a header.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// What to send back.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A normal response.
    Response(Response),
    /// Close the connection without answering.
    Drop,
}

/// A response.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers besides `Content-Length`/`Connection`.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with a body and a content type.
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        let mut headers = Vec::new();
        if !content_type.is_empty() {
            headers.push(("Content-Type".to_owned(), content_type.to_owned()));
        }
        Self {
            status,
            headers,
            body: body.into(),
        }
    }

    /// `application/json` with a compact body.
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Self::new(status, "application/json", value.to_string())
    }

    /// Go `http.Error`: plain text with a trailing newline.
    pub fn text(status: u16, text: &str) -> Self {
        let mut response = Self::new(status, "text/plain; charset=utf-8", format!("{text}\n"));
        response
            .headers
            .push(("X-Content-Type-Options".to_owned(), "nosniff".to_owned()));
        response
    }

    /// Adds a header.
    #[must_use]
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// The application behind the server.
pub trait Handler: Send + Sync + 'static {
    /// Answers one request.
    fn handle(&self, request: Request) -> Reply;
}

/// A running server; stops accepting and closes open connections on drop.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    connections: Arc<Mutex<HashMap<u64, TcpStream>>>,
    acceptor: Option<JoinHandle<()>>,
}

impl Server {
    /// Binds `addr` and serves `handler` on a background thread.
    pub fn start(addr: SocketAddr, handler: Arc<dyn Handler>) -> io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let connections: Arc<Mutex<HashMap<u64, TcpStream>>> = Arc::default();
        let acceptor = {
            let stop = Arc::clone(&stop);
            let connections = Arc::clone(&connections);
            thread::Builder::new()
                .name("kfp-emulator-accept".to_owned())
                .spawn(move || {
                    for (id, stream) in (0u64..).zip(listener.incoming()) {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let Ok(stream) = stream else { continue };
                        if let Ok(clone) = stream.try_clone() {
                            lock(&connections).insert(id, clone);
                        }
                        let handler = Arc::clone(&handler);
                        let stop = Arc::clone(&stop);
                        let connections = Arc::clone(&connections);
                        let _ = thread::Builder::new()
                            .name("kfp-emulator-conn".to_owned())
                            .spawn(move || {
                                serve_connection(stream, handler.as_ref(), &stop);
                                lock(&connections).remove(&id);
                            });
                    }
                })?
        };
        Ok(Self {
            addr,
            stop,
            connections,
            acceptor: Some(acceptor),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        let open = std::mem::take(&mut *lock(&self.connections));
        for stream in open.into_values() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn serve_connection(stream: TcpStream, handler: &dyn Handler, stop: &AtomicBool) {
    let peer = stream.peer_addr().ok();
    let _ = stream.set_nodelay(true);
    let Ok(write_half) = stream.try_clone() else {
        return;
    };
    let mut writer = io::BufWriter::new(write_half);
    let mut reader = BufReader::new(stream);
    loop {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let request = match read_request(&mut reader) {
            Ok(Some(mut request)) => {
                request.peer = peer;
                request
            }
            Ok(None) => return,
            Err(_) => {
                let _ = write_response(&mut writer, &Response::text(400, "400 Bad Request"), false);
                return;
            }
        };
        let close_requested = request
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let too_large = request.body_too_large;
        match handler.handle(request) {
            Reply::Drop => {
                let _ = reader.get_ref().shutdown(Shutdown::Both);
                return;
            }
            Reply::Response(response) => {
                let keep_alive = !close_requested && !too_large;
                if write_response(&mut writer, &response, keep_alive).is_err() || !keep_alive {
                    let _ = reader.get_ref().shutdown(Shutdown::Write);
                    return;
                }
            }
        }
    }
}

fn read_line(reader: &mut BufReader<TcpStream>, limit: &mut usize) -> io::Result<Option<String>> {
    let mut line = Vec::new();
    let read = reader
        .by_ref()
        .take(*limit as u64)
        .read_until(b'\n', &mut line)?;
    if read == 0 {
        return Ok(None);
    }
    *limit = limit.saturating_sub(read);
    if !line.ends_with(b"\n") {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "request head too long or truncated",
        ));
    }
    while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        line.pop();
    }
    Ok(Some(String::from_utf8_lossy(&line).into_owned()))
}

fn read_request(reader: &mut BufReader<TcpStream>) -> io::Result<Option<Request>> {
    let mut limit = MAX_HEAD;
    let request_line = loop {
        match read_line(reader, &mut limit)? {
            None => return Ok(None),
            Some(line) if line.is_empty() => continue,
            Some(line) => break line,
        }
    };
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "bad request line",
        ));
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut request = Request {
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        ..Request::default()
    };
    loop {
        let line = read_line(reader, &mut limit)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "eof in headers"))?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad header"))?;
        request
            .headers
            .push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    if request
        .header("expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    {
        let mut stream = reader.get_ref();
        stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let chunked = request
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        read_chunked(reader, &mut request)?;
    } else if let Some(length) = request.header("content-length") {
        let length: usize = length
            .parse()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad content-length"))?;
        request.body_len = length;
        if length > MAX_BODY {
            request.body_too_large = true;
            // Discard what the client sends so it can read the answer; the connection closes afterwards.
            io::copy(&mut reader.by_ref().take(length as u64), &mut io::sink())?;
        } else {
            request.body = vec![0; length];
            reader.read_exact(&mut request.body)?;
        }
    }
    Ok(Some(request))
}

fn read_chunked(reader: &mut BufReader<TcpStream>, request: &mut Request) -> io::Result<()> {
    loop {
        let mut limit = MAX_HEAD;
        let line = read_line(reader, &mut limit)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "eof in chunk"))?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
        if size == 0 {
            // Trailers up to the empty line.
            loop {
                let mut limit = MAX_HEAD;
                match read_line(reader, &mut limit)? {
                    Some(line) if !line.is_empty() => continue,
                    _ => return Ok(()),
                }
            }
        }
        request.body_len = request.body_len.saturating_add(size);
        if request.body_too_large || request.body_len > MAX_BODY {
            request.body_too_large = true;
            request.body = Vec::new();
            io::copy(&mut reader.by_ref().take(size as u64), &mut io::sink())?;
        } else {
            let start = request.body.len();
            request.body.resize(start + size, 0);
            reader.read_exact(&mut request.body[start..])?;
        }
        let mut crlf = [0u8; 2];
        reader.read_exact(&mut crlf)?;
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        302 => "Found",
        303 => "See Other",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

fn write_response(
    writer: &mut impl Write,
    response: &Response,
    keep_alive: bool,
) -> io::Result<()> {
    write!(
        writer,
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason(response.status)
    )?;
    for (name, value) in &response.headers {
        write!(writer, "{name}: {value}\r\n")?;
    }
    write!(writer, "Content-Length: {}\r\n", response.body.len())?;
    if !keep_alive {
        write!(writer, "Connection: close\r\n")?;
    }
    write!(writer, "\r\n")?;
    writer.write_all(&response.body)?;
    writer.flush()
}
