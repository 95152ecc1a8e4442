//! The docker-credential-helpers wire protocol, as pure functions.
//!
//! Every container client (docker, buildx, containers/image, nerdctl, ggcr)
//! speaks to us through this module only, and they match some of our output
//! byte for byte: the not-found sentence is compared after trimming, and any
//! other text on stdout becomes a hard error in skopeo. Keeping parsing and
//! formatting free of I/O lets the exact bytes be unit-tested, and keeps the
//! CLI layer a thin shell around them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// The only not-found signal clients recognise; they then fall back to anonymous access.
pub const NOT_FOUND: &str = "credentials not found in native keychain";

/// What docker-credential-helpers prints for an empty server string; clients special-case it.
pub const MISSING_SERVER_URL: &str = "no credentials server URL";

/// What docker-credential-helpers prints for a `store` without a username.
pub const MISSING_USERNAME: &str = "no credentials username";

/// The usage line docker-credential-helpers prints (on stdout) for a wrong argument count.
pub fn usage(program: &str) -> String {
    format!("Usage: {program} <store|get|erase|list|version>")
}

/// Input the protocol layer rejects before any registry or AWS logic runs.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtocolError {
    /// Stdin was empty or only whitespace.
    #[error("{MISSING_SERVER_URL}")]
    MissingServerUrl,
    /// A `store` request without a username.
    #[error("{MISSING_USERNAME}")]
    MissingUsername,
    /// Stdin was not UTF-8 text.
    #[error("stdin is not UTF-8 text")]
    NotUtf8,
    /// A `store` request that is not the JSON object docker sends. The serde
    /// message is deliberately not included: it can quote the secret back.
    #[error("invalid `store` request on stdin: {0}")]
    InvalidStoreRequest(String),
}

/// Parses the server string that `get` and `erase` receive on stdin.
///
/// Clients send it without a newline; people testing by hand add one. Like the
/// reference implementation we trim surrounding whitespace and otherwise keep the
/// text exactly as given, because `get` must echo it back as `ServerURL`.
pub fn parse_server_url(stdin: &[u8]) -> Result<String, ProtocolError> {
    let text = std::str::from_utf8(stdin).map_err(|_| ProtocolError::NotUtf8)?;
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(ProtocolError::MissingServerUrl);
    }
    Ok(trimmed.to_string())
}

/// Reduces what a client sent to a lowercase `host[:port]`, the form registries are keyed by.
///
/// Accepts `host`, `https://host`, `http://host`, a path or query after the
/// host, userinfo, a trailing dot and the default port `:443` (nerdctl adds it).
/// Returns `None` for text that names no host, or a scheme other than http(s).
pub fn canonical_host(server_url: &str) -> Option<String> {
    let s = server_url.trim();
    let rest = match s.find("://") {
        Some(idx) => {
            let scheme = &s[..idx];
            if !scheme.eq_ignore_ascii_case("https") && !scheme.eq_ignore_ascii_case("http") {
                return None;
            }
            &s[idx + 3..]
        }
        None => s,
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = match authority.rfind('@') {
        Some(idx) => &authority[idx + 1..],
        None => authority,
    };
    let (host, port) = split_port(host_port)?;
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    // One trailing dot is the fully qualified form; `host..` or `.` names nothing
    // (and would canonicalise again to something else).
    if host.is_empty() || host.ends_with('.') || !host.bytes().all(is_host_byte) {
        return None;
    }
    match port {
        None | Some("443") => Some(host),
        Some(port) => Some(format!("{host}:{port}")),
    }
}

fn split_port(host_port: &str) -> Option<(&str, Option<&str>)> {
    if host_port.starts_with('[') {
        // IPv6 literal: never an ECR host, but still a well-formed key.
        let end = host_port.find(']')?;
        let (host, rest) = host_port.split_at(end + 1);
        return match rest.strip_prefix(':') {
            Some(port) if is_port(port) => Some((host, Some(port))),
            None if rest.is_empty() => Some((host, None)),
            _ => None,
        };
    }
    // Outside brackets a colon only ever separates the port.
    match host_port.rsplit_once(':') {
        Some((host, port)) if is_port(port) && !host.contains(':') => Some((host, Some(port))),
        Some(_) => None,
        None => Some((host_port, None)),
    }
}

fn is_port(port: &str) -> bool {
    !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit())
}

fn is_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'[' | b']' | b':')
}

#[derive(Serialize)]
struct GetResponse<'a> {
    #[serde(rename = "ServerURL")]
    server_url: &'a str,
    #[serde(rename = "Username")]
    username: &'a str,
    #[serde(rename = "Secret")]
    secret: &'a str,
}

/// Formats the one JSON line `get` prints on success, newline-terminated like Go's encoder.
pub fn format_get_response(server_url: &str, username: &str, secret: &Secret<String>) -> String {
    let body = GetResponse {
        server_url,
        username,
        secret: secret.expose(),
    };
    // Serialising three string fields cannot fail.
    let mut line = serde_json::to_string(&body).unwrap_or_default();
    line.push('\n');
    line
}

/// The request docker sends to `store` after a successful `docker login`.
#[derive(Debug, Deserialize)]
pub struct StoreRequest {
    /// The registry the client logged in to, as the client spelled it.
    #[serde(rename = "ServerURL", default)]
    pub server_url: String,
    /// The user name; `AWS` for ECR.
    #[serde(rename = "Username", default)]
    pub username: String,
    /// The password the client validated; never stored by us (see `cli`).
    #[serde(rename = "Secret", default)]
    pub secret: Option<Secret<String>>,
}

/// Parses and validates a `store` request the way docker-credential-helpers does.
pub fn parse_store_request(stdin: &[u8]) -> Result<StoreRequest, ProtocolError> {
    let req: StoreRequest = serde_json::from_slice(stdin).map_err(|e| {
        ProtocolError::InvalidStoreRequest(format!(
            "{}; expected {{\"ServerURL\":…,\"Username\":…,\"Secret\":…}}",
            crate::json_error(&e)
        ))
    })?;
    if req.server_url.trim().is_empty() {
        return Err(ProtocolError::MissingServerUrl);
    }
    if req.username.trim().is_empty() {
        return Err(ProtocolError::MissingUsername);
    }
    Ok(req)
}

/// Formats the `list` answer: a JSON object from server URL to user name.
pub fn format_list(entries: &BTreeMap<String, String>) -> String {
    let mut line = serde_json::to_string(entries).unwrap_or_else(|_| "{}".to_string());
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_url_is_trimmed_but_otherwise_kept() {
        for (input, want) in [
            ("123.dkr", "123.dkr"),
            ("123.dkr\n", "123.dkr"),
            ("  https://Host/v2/ \r\n", "https://Host/v2/"),
            ("a\nb", "a\nb"),
        ] {
            assert_eq!(
                parse_server_url(input.as_bytes()).unwrap(),
                want,
                "{input:?}"
            );
        }
    }

    #[test]
    fn empty_or_binary_server_url_is_rejected() {
        assert_eq!(parse_server_url(b""), Err(ProtocolError::MissingServerUrl));
        assert_eq!(
            parse_server_url(b" \n\t"),
            Err(ProtocolError::MissingServerUrl)
        );
        assert_eq!(parse_server_url(b"\xff\xfe"), Err(ProtocolError::NotUtf8));
        assert_eq!(
            ProtocolError::MissingServerUrl.to_string(),
            "no credentials server URL"
        );
    }

    #[test]
    fn canonical_host_table() {
        let h = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
        let cases: &[(&str, Option<&str>)] = &[
            (h, Some(h)),
            ("123456789012.DKR.ECR.US-EAST-1.AMAZONAWS.COM", Some(h)),
            (
                "https://123456789012.dkr.ecr.us-east-1.amazonaws.com",
                Some(h),
            ),
            (
                "HTTPS://123456789012.dkr.ecr.us-east-1.amazonaws.com/",
                Some(h),
            ),
            (
                "http://123456789012.dkr.ecr.us-east-1.amazonaws.com",
                Some(h),
            ),
            ("123456789012.dkr.ecr.us-east-1.amazonaws.com:443", Some(h)),
            (
                "https://123456789012.dkr.ecr.us-east-1.amazonaws.com:443/v2/x/y",
                Some(h),
            ),
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/v2/repo?x=1",
                Some(h),
            ),
            ("123456789012.dkr.ecr.us-east-1.amazonaws.com.", Some(h)),
            (
                "https://user:pw@123456789012.dkr.ecr.us-east-1.amazonaws.com",
                Some(h),
            ),
            ("localhost:5000", Some("localhost:5000")),
            ("https://index.docker.io/v1/", Some("index.docker.io")),
            ("[::1]:5000", Some("[::1]:5000")),
            ("ftp://123456789012.dkr.ecr.us-east-1.amazonaws.com", None),
            ("https://", None),
            ("host:port", None),
            ("host:99999999", None),
            ("bad host", None),
            ("", None),
            // Found by fuzzing (issue 12): these canonicalised to "." and "host.",
            // which canonicalise again to something else.
            ("..", None),
            ("https://u:p@..:443?q", None),
            ("host..", None),
            // Userinfo without its `@`: "user:pw…com" canonicalised again to nothing.
            (
                "https://user:pwD123456789013.dkr.ecr.us-east-1.amazonaws.com.:443/v2/",
                None,
            ),
            ("a:b:443", None),
        ];
        for (input, want) in cases {
            assert_eq!(canonical_host(input).as_deref(), *want, "{input:?}");
        }
    }

    #[test]
    fn get_response_is_exact() {
        let line =
            format_get_response("https://1.dkr/x", "AWS", &Secret::new("p\"w\\".to_string()));
        assert_eq!(
            line,
            "{\"ServerURL\":\"https://1.dkr/x\",\"Username\":\"AWS\",\"Secret\":\"p\\\"w\\\\\"}\n"
        );
    }

    #[test]
    fn not_found_text_is_the_one_clients_match() {
        assert_eq!(NOT_FOUND, "credentials not found in native keychain");
        assert_eq!(
            usage("docker-credential-ecr"),
            "Usage: docker-credential-ecr <store|get|erase|list|version>"
        );
    }

    #[test]
    fn store_request_is_validated_without_echoing_the_secret() {
        let ok =
            parse_store_request(br#"{"ServerURL":"h","Username":"AWS","Secret":"s"}"#).unwrap();
        assert_eq!(ok.server_url, "h");
        assert_eq!(ok.secret.unwrap().expose(), "s");

        assert_eq!(
            parse_store_request(br#"{"ServerURL":"","Username":"AWS"}"#).unwrap_err(),
            ProtocolError::MissingServerUrl
        );
        assert_eq!(
            parse_store_request(br#"{"ServerURL":"h"}"#).unwrap_err(),
            ProtocolError::MissingUsername
        );
        let err = parse_store_request(br#"{"ServerURL":"h","Username":"AWS","Secret":12345678}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("wrong type"), "{err}");
        assert!(!err.contains("12345678"), "{err}");
        let err = parse_store_request(b"").unwrap_err().to_string();
        assert!(err.contains("empty"), "{err}");
        let err = parse_store_request(b"{not json").unwrap_err().to_string();
        assert!(err.contains("not valid JSON"), "{err}");
    }

    #[test]
    fn list_is_a_json_object() {
        assert_eq!(format_list(&BTreeMap::new()), "{}\n");
        let mut m = BTreeMap::new();
        m.insert("1.dkr".to_string(), "AWS".to_string());
        assert_eq!(format_list(&m), "{\"1.dkr\":\"AWS\"}\n");
    }
}
