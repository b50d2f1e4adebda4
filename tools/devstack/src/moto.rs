//! The AWS stand-in: moto's server (DynamoDB, DynamoDB Streams, SES, SQS), always on 127.0.0.1.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The Python of the venv `make` installs moto into (`.venv/stack`), or `MOTO_PYTHON` if set.
pub fn moto_python() -> PathBuf {
    std::env::var_os("MOTO_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::repo_root().join(".venv/stack/bin/python"))
}

/// `dev/moto_serve.py`: moto's server, one request at a time (why: the script's docstring).
fn launcher() -> PathBuf {
    crate::repo_root().join("dev/moto_serve.py")
}

/// A free TCP port on the loopback interface.
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A running moto server. Dropping it stops the server.
pub struct Moto {
    child: Child,
    // Held open for the server's lifetime: the wrapper shell stops moto when it closes, which the
    // OS does when this process ends by any means, so no stand-in outlives its owner.
    lifeline: Option<ChildStdin>,
    pub endpoint: String,
}

impl Moto {
    /// Starts moto on `port` (0: a free one), logging to `log` (or discarding), and waits until it
    /// answers.
    pub fn start(port: u16, log: Option<&std::path::Path>) -> Result<Self> {
        Self::start_with_outbox(port, log, None)
    }

    /// [`Moto::start`], with the stand-in's Cognito mailing its codes (password reset) as `.eml`
    /// files into `outbox`, as Cognito would mail them.
    pub fn start_with_outbox(
        port: u16,
        log: Option<&std::path::Path>,
        outbox: Option<&std::path::Path>,
    ) -> Result<Self> {
        let python = moto_python();
        if !python.exists() {
            bail!("{} not found: run `make dev` or `make test`, which install the stand-in", python.display());
        }
        let port = if port == 0 { free_port()? } else { port };
        let stdout = match log {
            Some(path) => {
                Stdio::from(std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?)
            }
            None => Stdio::null(),
        };
        let stderr = match log {
            Some(path) => Stdio::from(std::fs::OpenOptions::new().append(true).open(path)?),
            None => Stdio::null(),
        };
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#""$0" "$1" 127.0.0.1 "$2" & pid=$!; read -r _; kill "$pid" 2>/dev/null; wait "$pid""#)
            .arg(&python)
            .arg(launcher())
            .arg(port.to_string())
            .envs(outbox.map(|o| ("MOTO_COGNITO_OUTBOX", o.as_os_str())))
            .stdin(Stdio::piped())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .context("starting the AWS stand-in")?;
        let lifeline = child.stdin.take().context("moto's stdin")?;
        let endpoint = format!("http://127.0.0.1:{port}");
        let mut moto = Moto { child, lifeline: Some(lifeline), endpoint };
        moto.wait_ready(Duration::from_secs(60))?;
        Ok(moto)
    }

    fn wait_ready(&mut self, within: Duration) -> Result<()> {
        let deadline = Instant::now() + within;
        let addr = self.endpoint.trim_start_matches("http://").to_owned();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("the AWS stand-in exited during start ({status})");
            }
            if answers(&addr) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the AWS stand-in did not answer on {addr} within {within:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// One moto for the whole test process, started on first use on a free port. Each test makes
    /// its own fresh tables on it (see `tables::create_from_template`).
    pub fn shared() -> &'static str {
        static SHARED: OnceLock<Moto> = OnceLock::new();
        &SHARED.get_or_init(|| Moto::start(0, None).expect("start the AWS stand-in (moto)")).endpoint
    }

    /// Closes the lifeline, so the wrapper stops moto and exits; kills the wrapper only if it
    /// does not exit within ten seconds.
    pub fn stop(&mut self) {
        drop(self.lifeline.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether moto's own API answers 200 at `addr`.
fn answers(addr: &str) -> bool {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: localhost\r\n\r\n").is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.ends_with(b"200")
}

/// The raw messages the stand-in's SES has accepted (`ses.RawMessage` of moto's state):
/// each with `destinations` and `raw_data`.
/// `GET url` (plain HTTP, as a browser would follow a link to the stand-in): status and body.
pub fn http_get(url: &str) -> Result<(u16, Vec<u8>)> {
    let rest = url.strip_prefix("http://").ok_or_else(|| anyhow::anyhow!("not an http:// URL: {url}"))?;
    let (host, path) = rest.split_once('/').map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let mut s = TcpStream::connect(host)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes())?;
    let mut response = Vec::new();
    s.read_to_end(&mut response)?;
    let head_end = response.windows(4).position(|w| w == b"\r\n\r\n").map_or(response.len(), |i| i + 4);
    let status = String::from_utf8_lossy(&response[..head_end])
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no HTTP status from {host}"))?;
    Ok((status, response[head_end..].to_vec()))
}

pub fn sent_raw_messages(endpoint: &str) -> Result<Vec<serde_json::Value>> {
    let addr = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut s = TcpStream::connect(addr)?;
    // The dump is the stand-in's whole state: after a storm, tens of megabytes.
    s.set_read_timeout(Some(Duration::from_secs(300)))?;
    s.write_all(b"GET /moto-api/data.json HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut body = Vec::new();
    s.read_to_end(&mut body)?;
    let start = body.windows(4).position(|w| w == b"\r\n\r\n").map_or(0, |i| i + 4);
    let state: serde_json::Value = serde_json::from_slice(&body[start..])?;
    Ok(state["ses"]["RawMessage"].as_array().cloned().unwrap_or_default())
}
