//! The daemon's wire format, and the format of its `fetch` children. Pure: no I/O beyond a reader/writer.
//!
//! **Framing.** Every message, both ways, is a 4-byte big-endian length and
//! that many bytes of one JSON object, at most [`MAX_FRAME`]. JSON keeps the
//! format readable with `socat` and stable across serde versions; the
//! length prefix makes a truncated message (a daemon killed mid-answer) an
//! error instead of a half-parsed token.
//!
//! **Versioning.** Every message carries `"v"`, the wire version
//! ([`WIRE_VERSION`]); replies also carry `"daemon"`, the daemon's package
//! version. A daemon answers a request of another version with
//! `{"reply":"unsupported"}` (the client then answers directly and, if the
//! daemon is the older one, asks it to stop so an up-to-date one starts).
//! `{"op":"stop"}` is honoured whatever its version, so that path never
//! breaks. Bump [`WIRE_VERSION`] for any change an old peer would misread.
//!
//! **One exchange per connection.**
//!
//! ```text
//! client → {"v":2,"op":"get","host":"<registry host>","key":"<32 hex>","label":"env AKID…1234",
//!           "timeout_ms":20000,"cwd":"/home/me","env":{"AWS_PROFILE":"dev",…}}
//! daemon → {"v":2,"daemon":"0.1.0","reply":"token","username":"AWS","password":"…","expires":1795000000}
//!        | {"v":2,"daemon":"0.1.0","reply":"pending"}    then one of the others, after the fetch
//!        | {"v":2,"daemon":"0.1.0","reply":"failed","reason":"…"}       AWS said no: tell the user
//!        | {"v":2,"daemon":"0.1.0","reply":"unavailable","reason":"…"}  our problem: answer directly
//! client → {"v":2,"op":"status"}  daemon → {"v":2,…,"reply":"status","pid":…,"entries":[…],…}
//! client → {"v":2,"op":"stop"}    daemon → {"v":2,…,"reply":"stopping"}
//! client → {"v":2,"op":"erase","host":"<registry host>"}  daemon → {"v":2,…,"reply":"erased","dropped":1}
//! ```
//!
//! `pending` comes at once when the daemon must fetch, so a client can tell
//! a live daemon doing a slow AWS call (wait for it) from a hung one (give
//! up quickly and answer directly).
//!
//! A `fetch` child (the daemon's way of minting as the caller) reads one
//! [`FetchRequest`] JSON document on stdin and writes one [`FetchReply`] on
//! stdout.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize, Serializer};

use crate::secret::Secret;

/// The wire version spoken by this build.
///
/// v2: the whole caller environment travels, the daemon derives the key
/// itself, and `erase` exists. A v1 daemon answers v2 with `unsupported`,
/// so the client retires it: an old daemon that trusts the client's key
/// never keeps serving after an upgrade.
pub const WIRE_VERSION: u32 = 2;

/// The largest frame either side accepts: a request with a big environment is a few KiB.
pub const MAX_FRAME: usize = 256 * 1024;

/// This build's package version, sent in every reply.
pub const DAEMON_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A request from a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// A token for a registry, as the caller. Answered by `token`, `pending`, `failed` or `unavailable`.
    Get(GetRequest),
    /// Counters and entries. Answered by `status`.
    Status,
    /// Forget every token held for a registry (`docker logout`). Answered by `erased`.
    Erase(EraseRequest),
    /// Shut down now. Answered by `stopping`.
    Stop,
    /// An operation from a newer client; answered by `unsupported`.
    #[serde(other)]
    Unknown,
}

/// What the daemon needs to act as the caller for one registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetRequest {
    /// The canonical registry host (no scheme, path or `:443`).
    pub host: String,
    /// The caller's cache key id: tokens are kept and shared per key.
    pub key: String,
    /// Who that is, without secrets, for `daemon status`.
    pub label: String,
    /// The caller's fetch budget.
    pub timeout_ms: u64,
    /// The caller's working directory (relative AWS file paths resolve against it).
    pub cwd: String,
    /// The caller's environment ([`caller_env`]): the daemon derives the key
    /// from it and fetches with it. Holds secrets; kept in memory only.
    #[serde(serialize_with = "expose")]
    pub env: Secret<BTreeMap<String, String>>,
}

/// Which registry's tokens to forget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EraseRequest {
    /// The canonical registry host.
    pub host: String,
}

/// A reply from the daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Response {
    /// The token for a `get`.
    Token {
        /// The basic-auth user name.
        username: String,
        /// The basic-auth password.
        #[serde(serialize_with = "expose")]
        password: Secret<String>,
        /// Expiry, seconds since the epoch.
        expires: u64,
    },
    /// The daemon is fetching; the final reply follows on the same connection.
    Pending,
    /// Fetching failed for a reason the user must see (credentials, permissions, throttling…).
    Failed {
        /// One line, as the direct path would have said it.
        reason: String,
    },
    /// The daemon could not do it (its own problem): answer directly instead.
    Unavailable {
        /// For the log.
        reason: String,
    },
    /// The request's version or operation is not one this daemon speaks.
    Unsupported {
        /// For the log.
        reason: String,
    },
    /// The answer to `status`.
    Status(DaemonStatus),
    /// The answer to `stop`.
    Stopping,
    /// The answer to `erase`: how many held tokens were dropped.
    Erased {
        /// Tokens dropped.
        dropped: u64,
    },
    /// A reply from a newer daemon.
    #[serde(other)]
    Unknown,
}

/// What `daemon status` shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonStatus {
    /// The daemon's process id.
    pub pid: u32,
    /// Seconds since it started.
    pub uptime_secs: u64,
    /// The socket it listens on.
    pub socket: String,
    /// Seconds without requests before it exits; 0 = never.
    pub idle_timeout_secs: u64,
    /// `get`s answered from memory.
    pub hits: u64,
    /// `get`s that needed a fetch.
    pub misses: u64,
    /// Fetches that called AWS (the rest came from the cache backend).
    pub api_calls: u64,
    /// Background refreshes that produced a new token.
    pub refreshes: u64,
    /// Fetches and refreshes that failed.
    pub errors: u64,
    /// Connections refused because the peer was another user.
    pub refused: u64,
    /// Tokens held.
    pub entries: Vec<StatusEntry>,
}

/// One token the daemon holds, without the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusEntry {
    /// The registry host.
    pub registry: String,
    /// Whose token it is.
    pub identity: String,
    /// When it was minted, seconds since the epoch.
    pub minted: u64,
    /// When it expires, seconds since the epoch.
    pub expires: u64,
    /// When it will be refreshed if still in use, seconds since the epoch.
    pub refresh_at: u64,
}

/// What the daemon asks of a `fetch` child.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchRequest {
    /// [`WIRE_VERSION`] of the daemon; the child refuses others.
    pub v: u32,
    /// The registry host.
    pub host: String,
    /// Only a token minted after this (seconds since the epoch) will do: an early refresh.
    #[serde(default)]
    pub newer_than: Option<u64>,
}

/// A `fetch` child's answer on stdout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum FetchReply {
    /// A token.
    Token {
        /// The cache key the child derived (it must match the request's).
        key: String,
        /// The basic-auth user name.
        username: String,
        /// The basic-auth password.
        #[serde(serialize_with = "expose")]
        password: Secret<String>,
        /// Minted, seconds since the epoch.
        minted: u64,
        /// Expires, seconds since the epoch; 0 when AWS gave no expiry.
        expires: u64,
        /// Whether AWS was called (`false`: served from the cache backend).
        called_aws: bool,
        /// The refresh failed and this is the older, still valid token.
        stale: bool,
        /// When the caller's AWS credentials expire (seconds since the epoch),
        /// if they do and the child had to resolve them: the daemon keeps the
        /// caller's environment for refreshes no longer than that.
        #[serde(default)]
        credentials_expire: Option<u64>,
    },
    /// AWS (or the caller's set-up) said no; `reason` is the user's one-line explanation.
    Failed {
        /// The reason.
        reason: String,
    },
    /// The child could not do the job (bad request, version); the daemon should not be used.
    Refused {
        /// The reason.
        reason: String,
    },
}

/// Writes a secret's value; for the wire formats above only.
fn expose<T: Serialize, S: Serializer>(secret: &Secret<T>, s: S) -> Result<S::Ok, S::Error> {
    secret.expose().serialize(s)
}

/// The caller's whole environment, as its own `get` would have run with it.
///
/// Not an allow-list: a `credential_process` may need anything
/// (`VAULT_*`, `OP_SESSION_*`, `SSH_AUTH_SOCK`, `KRB5CCNAME`, `GNUPGHOME`…),
/// and a fetch through the daemon must do exactly what the direct path
/// does. It stays in the daemon's memory (never on disk, never logged) only
/// while it can still mint. Variables that are not UTF-8 cannot travel as
/// JSON and are left out.
pub fn caller_env(
    vars: impl Iterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> BTreeMap<String, String> {
    vars.filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The connection failed or closed early.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The length prefix is over [`MAX_FRAME`].
    #[error("frame of {0} bytes is over the limit")]
    TooLarge(usize),
    /// The body is not the JSON we expect.
    #[error("malformed message: {0}")]
    Malformed(String),
}

/// Encodes one message as a frame.
pub fn encode<T: Serialize>(version: u32, message: &T, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut value = serde_json::to_value(message).unwrap_or(serde_json::Value::Null);
    if let serde_json::Value::Object(map) = &mut value {
        map.insert("v".into(), version.into());
        for (k, v) in extra {
            map.insert((*k).into(), (*v).into());
        }
    }
    let body = serde_json::to_vec(&value).unwrap_or_default();
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(&body);
    frame
}

/// The reply frame for `response`.
pub fn encode_response(response: &Response) -> Vec<u8> {
    encode(WIRE_VERSION, response, &[("daemon", DAEMON_VERSION)])
}

/// The request frame for `request`.
pub fn encode_request(request: &Request) -> Vec<u8> {
    encode(WIRE_VERSION, request, &[])
}

/// Splits a frame body into its version and its JSON value.
pub fn decode_body(body: &[u8]) -> Result<(u32, serde_json::Value), FrameError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| FrameError::Malformed(crate::json_error(&e)))?;
    let version = value
        .get("v")
        .and_then(serde_json::Value::as_u64)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| FrameError::Malformed("no version".into()))?;
    Ok((version, value))
}

/// The body length a frame header announces, if within [`MAX_FRAME`]; both sides' one rule.
pub fn body_len(header: [u8; 4]) -> Result<usize, FrameError> {
    let len = u32::from_be_bytes(header) as usize;
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge(len));
    }
    Ok(len)
}

/// Reads one frame's body (blocking std I/O; the client side).
pub fn read_frame(reader: &mut impl Read) -> Result<Vec<u8>, FrameError> {
    let mut header = [0u8; 4];
    reader.read_exact(&mut header)?;
    let len = body_len(header)?;
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body)?;
    Ok(body)
}

/// Writes one frame (blocking std I/O).
pub fn write_frame(writer: &mut impl Write, frame: &[u8]) -> io::Result<()> {
    writer.write_all(frame)?;
    writer.flush()
}

/// A typed reply from a frame body, with the daemon's version.
pub fn parse_response(body: &[u8]) -> Result<(u32, String, Response), FrameError> {
    let (version, value) = decode_body(body)?;
    let daemon = value
        .get("daemon")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("unknown")
        .to_string();
    if version != WIRE_VERSION {
        return Ok((version, daemon, Response::Unknown));
    }
    let response =
        serde_json::from_value(value).map_err(|e| FrameError::Malformed(crate::json_error(&e)))?;
    Ok((version, daemon, response))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(frame: &[u8]) -> &str {
        let len = u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
        assert_eq!(len, frame.len() - 4);
        std::str::from_utf8(&frame[4..]).unwrap()
    }

    #[test]
    fn encodings_are_pinned() {
        let get = Request::Get(GetRequest {
            host: "h".into(),
            key: "k".into(),
            label: "l".into(),
            timeout_ms: 5,
            cwd: "/".into(),
            env: Secret::new(BTreeMap::from([("AWS_PROFILE".into(), "p".into())])),
        });
        assert_eq!(
            body(&encode_request(&get)),
            r#"{"op":"get","host":"h","key":"k","label":"l","timeout_ms":5,"cwd":"/","env":{"AWS_PROFILE":"p"},"v":2}"#
        );
        assert_eq!(
            body(&encode_request(&Request::Stop)),
            r#"{"op":"stop","v":2}"#
        );
        let erase = Request::Erase(EraseRequest { host: "h".into() });
        assert_eq!(
            body(&encode_request(&erase)),
            r#"{"op":"erase","host":"h","v":2}"#
        );
        assert_eq!(
            body(&encode_response(&Response::Erased { dropped: 1 })),
            format!(r#"{{"reply":"erased","dropped":1,"v":2,"daemon":"{DAEMON_VERSION}"}}"#)
        );
        let token = Response::Token {
            username: "AWS".into(),
            password: Secret::new("pw".into()),
            expires: 7,
        };
        assert_eq!(
            body(&encode_response(&token)),
            format!(
                r#"{{"reply":"token","username":"AWS","password":"pw","expires":7,"v":2,"daemon":"{DAEMON_VERSION}"}}"#
            )
        );
        assert_eq!(
            body(&encode_response(&Response::Pending)),
            format!(r#"{{"reply":"pending","v":2,"daemon":"{DAEMON_VERSION}"}}"#)
        );
    }

    #[test]
    fn round_trips_and_unknowns() {
        let frame = encode_response(&Response::Failed { reason: "r".into() });
        let (v, daemon, r) = parse_response(&frame[4..]).unwrap();
        assert_eq!((v, daemon.as_str()), (2, DAEMON_VERSION));
        assert_eq!(r, Response::Failed { reason: "r".into() });

        let (_, value) = decode_body(br#"{"v":1,"op":"rotate","extra":1}"#).unwrap();
        assert_eq!(
            serde_json::from_value::<Request>(value).unwrap(),
            Request::Unknown
        );
        let (_, value) = decode_body(br#"{"op":"stop","v":9}"#).unwrap();
        assert_eq!(
            serde_json::from_value::<Request>(value).unwrap(),
            Request::Stop
        );
        let (v, _, r) = parse_response(br#"{"v":3,"reply":"token"}"#).unwrap();
        assert_eq!((v, r), (3, Response::Unknown));
        assert!(matches!(
            decode_body(b"{\"op\":\"get\"}"),
            Err(FrameError::Malformed(_))
        ));
    }

    #[test]
    fn frames_are_bounded_and_truncation_is_an_error() {
        let mut big = Vec::from(((MAX_FRAME + 1) as u32).to_be_bytes());
        big.extend_from_slice(b"{}");
        assert!(matches!(
            read_frame(&mut big.as_slice()),
            Err(FrameError::TooLarge(_))
        ));
        let frame = encode_request(&Request::Status);
        let cut = &frame[..frame.len() - 1];
        assert!(matches!(read_frame(&mut &cut[..]), Err(FrameError::Io(_))));
        assert_eq!(
            read_frame(&mut frame.as_slice()).unwrap(),
            frame[4..].to_vec()
        );
    }

    #[cfg(unix)]
    #[test]
    fn caller_env_is_the_whole_environment_but_non_utf8() {
        use std::ffi::OsString;
        use std::os::unix::ffi::OsStringExt;
        let env = caller_env(
            [
                ("AWS_PROFILE", "p"),
                ("VAULT_ADDR", "https://vault"),
                ("SSH_AUTH_SOCK", "/run/ssh"),
            ]
            .into_iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .chain([(OsString::from("BAD"), OsString::from_vec(vec![0xff]))]),
        );
        let keys: Vec<&str> = env.keys().map(String::as_str).collect();
        assert_eq!(keys, ["AWS_PROFILE", "SSH_AUTH_SOCK", "VAULT_ADDR"]);
    }

    #[test]
    fn debug_of_messages_hides_secrets() {
        let get = GetRequest {
            host: "h".into(),
            key: "k".into(),
            label: "l".into(),
            timeout_ms: 5,
            cwd: "/".into(),
            env: Secret::new(BTreeMap::from([(
                "AWS_SECRET_ACCESS_KEY".into(),
                "hunter2".into(),
            )])),
        };
        assert!(!format!("{get:?}").contains("hunter2"));
        let token = Response::Token {
            username: "AWS".into(),
            password: Secret::new("hunter2".into()),
            expires: 1,
        };
        assert!(!format!("{token:?}").contains("hunter2"));
    }
}
