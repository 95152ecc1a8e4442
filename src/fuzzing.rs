//! The bodies of the fuzz targets in `fuzz/`, and the generator the property
//! tests share with them.
//!
//! Every parser that takes bytes from outside (a client's stdin, kubelet, our
//! config file, docker's and podman's auth files, the daemon's socket and its
//! children's stdout, the cache index, the AWS shared config files) has one
//! body here: `fn(&[u8])` that feeds the bytes in and asserts what must hold
//! for *any* input — no panic, and where there is one, the round trip or the
//! idempotence. The bodies live in the library, not in `fuzz/`, so that plain
//! `cargo test` replays the committed corpus and runs the bounded property
//! cases with the very same code (tests/it/fuzzing.rs), and CI needs no
//! fuzzer to catch a regression. `scripts/fuzz.sh` runs the long campaign.
//!
//! Not part of the helper's interface: hidden from the docs, free to change.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::cache::entry::{Entry, Meta};
use crate::cache::key::Inputs;
use crate::client_config::ConfigFile;
use crate::config::Config;
use crate::daemon::wire::{
    self, DaemonStatus, FetchReply, FetchRequest, GetRequest, Request, Response, StatusEntry,
};
use crate::helper::{Answer, Helper};
use crate::protocol;
use crate::registry::{self, EcrRegistry};
use crate::secret::Secret;
use crate::settings::Limits;
use crate::token::{AuthToken, FetchOptions, TokenError, TokenSource};

/// A target's body: takes any bytes, panics when a property does not hold.
pub type Body = fn(&[u8]);

/// Every target: its name (the directory under `fuzz/corpus/`) and its body.
pub const TARGETS: &[(&str, Body)] = &[
    ("protocol", protocol_stdin),
    ("host", host),
    ("kubelet", kubelet),
    ("config_toml", config_toml),
    ("client_config", client_config),
    ("wire_decode", wire_decode),
    ("wire_roundtrip", wire_roundtrip),
    ("cache_record", cache_record),
    ("aws_ini", aws_ini),
];

/// The password the fake token source hands out; it must never reach stderr.
const FAKE_SECRET: &str = "fuzz-secret-3a7c1f0e9b";

/// A registry host no generated document contains, for the configure round trip.
const ROUND_TRIP_HOST: &str = "999999999999.dkr.ecr.eu-central-1.amazonaws.com";

/// Draws structured values from fuzz bytes, or from a seeded generator in the property tests.
///
/// Fuzz bytes are read front to back and run out into zeros, so the fuzzer's
/// mutations map onto small, local changes of the value; [`Gen::seeded`]
/// gives the same interface over SplitMix64.
pub struct Gen<'a> {
    bytes: &'a [u8],
    state: Option<u64>,
}

impl<'a> Gen<'a> {
    /// Values drawn from `bytes`.
    pub fn new(bytes: &'a [u8]) -> Gen<'a> {
        Gen { bytes, state: None }
    }

    /// Values drawn from a deterministic pseudo-random sequence.
    pub fn seeded(seed: u64) -> Gen<'static> {
        Gen {
            bytes: &[],
            state: Some(seed),
        }
    }

    /// The next byte.
    pub fn byte(&mut self) -> u8 {
        if let Some(state) = &mut self.state {
            // SplitMix64.
            *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = *state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            return (z ^ (z >> 31)) as u8;
        }
        match self.bytes.split_first() {
            Some((&b, rest)) => {
                self.bytes = rest;
                b
            }
            None => 0,
        }
    }

    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        let wide = u16::from_le_bytes([self.byte(), self.byte()]) as usize;
        wide % n.max(1)
    }

    /// A `u64`, often a boundary value.
    pub fn u64(&mut self) -> u64 {
        match self.byte() % 4 {
            0 => [0, 1, u64::MAX, u64::MAX / 2, 1_795_000_000][self.below(5)],
            _ => u64::from_le_bytes(std::array::from_fn(|_| self.byte())),
        }
    }

    /// One of `items`.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// A short string mixing ASCII, JSON-special and multi-byte characters.
    pub fn string(&mut self) -> String {
        const CHARS: &[char] = &[
            'a', 'Z', '0', '9', '.', '-', '_', ':', '/', '"', '\\', '\n', '\t', ' ', '\u{0}',
            '\u{1f}', 'é', '€', '😀', '\u{2028}', '\u{feff}', '{', '}', '[', ']', ',',
        ];
        let len = self.below(12);
        (0..len).map(|_| self.pick(CHARS)).collect()
    }

    /// Whether to take a branch.
    pub fn bool(&mut self) -> bool {
        self.byte() & 1 == 1
    }
}

/// A token source that answers at once, with a fixed token or a failure the input chose.
struct FakeSource {
    fail: bool,
}

impl TokenSource for FakeSource {
    fn fetch(
        &self,
        registry: &EcrRegistry,
        _options: &FetchOptions,
    ) -> Result<AuthToken, TokenError> {
        if self.fail {
            return Err(TokenError::AccessDenied {
                detail: format!("fuzz says no for {}", registry.host),
            });
        }
        Ok(AuthToken {
            username: "AWS".to_string(),
            password: Secret::new(FAKE_SECRET.to_string()),
            expires_at: Some(SystemTime::now() + Duration::from_secs(12 * 3600)),
            credentials_expire_at: None,
        })
    }
}

/// Runs `action` on a [`Helper`] with the fake source, no cache, no daemon and no config file.
fn with_helper(fail: bool, action: impl FnOnce(&Helper) -> Answer) -> Answer {
    let source = FakeSource { fail };
    let config = || Ok(Config::default());
    let limits = |c: &Config| Limits::from_env(c);
    let cache = || None;
    let inputs = Inputs::process();
    let helper = Helper {
        source: &source,
        config: &config,
        limits: &limits,
        cache: &cache,
        inputs: &inputs,
        daemon: None,
        logins: &|| None,
    };
    action(&helper)
}

/// stderr is one line per diagnostic and never carries the token (unless the
/// input itself did: messages may quote what the caller sent).
fn check_stderr(answer: &Answer, input: &[u8]) {
    let echoed = input
        .windows(FAKE_SECRET.len())
        .any(|w| w == FAKE_SECRET.as_bytes());
    for line in &answer.stderr {
        assert!(!line.contains('\n'), "multi-line diagnostic: {line:?}");
        assert!(
            echoed || !line.contains(FAKE_SECRET),
            "the secret reached stderr"
        );
    }
}

/// `get`, `store` and `erase` as a client drives them: stdout holds only the protocol.
pub fn protocol_stdin(data: &[u8]) {
    let Some((&op, stdin)) = data.split_first() else {
        return;
    };
    let fail = op & 0x80 != 0;
    match op % 3 {
        0 => {
            let answer = with_helper(fail, |h| h.get(stdin));
            check_stderr(&answer, data);
            if answer.success {
                // The only success is the one JSON line, echoing what the client sent.
                let line = answer
                    .stdout
                    .strip_suffix('\n')
                    .expect("newline-terminated");
                assert!(!line.contains('\n'));
                let v: serde_json::Value = serde_json::from_str(line).expect("JSON answer");
                let sent = protocol::parse_server_url(stdin).expect("a URL was sent");
                assert_eq!(v["ServerURL"], sent.as_str());
                assert_eq!(v["Secret"], FAKE_SECRET);
                let host = protocol::canonical_host(&sent).expect("a host");
                assert!(
                    registry::parse_host(&host).is_some(),
                    "served a non-ECR host"
                );
            } else {
                assert!(
                    [
                        format!("{}\n", protocol::NOT_FOUND),
                        format!("{}\n", protocol::MISSING_SERVER_URL),
                        format!("{}\n", protocol::ProtocolError::NotUtf8),
                    ]
                    .contains(&answer.stdout),
                    "unexpected stdout {:?}",
                    answer.stdout
                );
            }
        }
        1 => {
            let answer = with_helper(fail, |h| h.store(stdin));
            check_stderr(&answer, data);
            // The password docker hands `store` never shows in the answer: the
            // same request with another password (same length, same escapes)
            // gets the same answer.
            if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(stdin)
                && let Some(secret) = v.get("Secret").and_then(|s| s.as_str())
            {
                let other: String = secret.chars().map(rotate_alphanumeric).collect();
                let first = serde_json::to_vec(&v).unwrap_or_default();
                v["Secret"] = other.into();
                let second = serde_json::to_vec(&v).unwrap_or_default();
                assert_eq!(
                    with_helper(fail, |h| h.store(&first)),
                    with_helper(fail, |h| h.store(&second)),
                    "store's answer depends on the password"
                );
            }
            if answer.success {
                assert_eq!(answer.stdout, "");
            } else {
                // One error line, where docker-credential-helpers puts it.
                let line = answer.stdout.strip_suffix('\n').expect("an error line");
                assert!(!line.contains('\n'), "{line:?}");
            }
            if let Ok(request) = protocol::parse_store_request(stdin) {
                assert!(!request.server_url.trim().is_empty());
            }
        }
        _ => {
            let answer = with_helper(fail, |h| h.erase(stdin));
            check_stderr(&answer, data);
            if answer.success {
                assert_eq!(answer.stdout, "");
            } else {
                assert!(!answer.stdout.trim_end_matches('\n').contains('\n'));
            }
        }
    }
}

/// Another letter or digit for a letter or digit; anything else as it is.
fn rotate_alphanumeric(c: char) -> char {
    match c {
        'z' => 'a',
        'Z' => 'A',
        '9' => '0',
        'a'..='y' | 'A'..='Y' | '0'..='8' => char::from(c as u8 + 1),
        other => other,
    }
}

/// Host recognition: canonicalisation is idempotent and ECR hosts name themselves.
pub fn host(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(host) = protocol::canonical_host(text) {
        assert_eq!(
            protocol::canonical_host(&host).as_deref(),
            Some(host.as_str()),
            "canonical_host is not idempotent on {text:?}"
        );
        assert_eq!(host, host.to_ascii_lowercase());
        assert!(!host.ends_with(":443"));
        if let Some(registry) = registry::parse_host(&host) {
            assert_eq!(registry.host, host);
            let _ = registry.api_region();
            if let Some(account) = registry.account_id() {
                assert!(registry::is_account_id(account));
            }
        }
    }
    // The raw text too: parse_host sees what config aliases and configure give it.
    if let Some(registry) = registry::parse_host(text) {
        assert_eq!(registry.host, text);
        assert_eq!(
            protocol::canonical_host(text).as_deref(),
            Some(text),
            "an ECR host that is not canonical: {text:?}"
        );
    }
    let _ = registry::is_region(text);
}

/// kubelet's credential provider requests, and the service-account token inside.
pub fn kubelet(data: &[u8]) {
    let Some((&flags, stdin)) = data.split_first() else {
        return;
    };
    let answer = with_helper(flags & 1 == 1, |h| h.kubelet(stdin));
    check_stderr(&answer, data);
    if !answer.stdout.is_empty() {
        let v: serde_json::Value = serde_json::from_str(&answer.stdout).expect("JSON response");
        assert_eq!(v["kind"], "CredentialProviderResponse");
    }
    if let Ok(request) = crate::kubelet::parse_request(stdin) {
        let registry = crate::kubelet::registry_of(&request.image);
        assert!(!registry.contains('/'));
        if let Some(account) = &request.service_account {
            if let Ok(subject) = crate::kubelet::token_subject(&account.token) {
                let name = crate::kubelet::session_name(&subject);
                assert!(name.len() <= 64, "session name too long: {name:?}");
            }
            let _ = crate::kubelet::role_for(account, |_| None);
        }
    }
}

/// Our config.toml, and the lookups every `get` makes with it.
pub fn config_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = Config::parse(text, Path::new("/fuzz/config.toml")) else {
        return;
    };
    for host in [
        "123456789012.dkr.ecr.us-east-1.amazonaws.com",
        "public.ecr.aws",
        "registry.example.com",
        "",
    ] {
        if let Some(registry) = config.alias(host).or_else(|| registry::parse_host(host)) {
            let _ = config.settings_for(host, &registry);
        }
    }
    let _ = Limits::from_env(&config);
    if let Some((pattern, text)) = text.split_once('\n') {
        let _ = crate::config::glob_match(pattern, text);
    }
}

/// docker's config.json / containers' auth.json, edited the way `configure`
/// does: adding keeps everything that is not ours, removing gives the bytes back.
///
/// The first byte chooses: raw text (odd) or a document generated from the rest.
pub fn client_config(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let text = if mode & 1 == 1 {
        match std::str::from_utf8(rest) {
            Ok(text) => text.to_string(),
            Err(_) => return,
        }
    } else {
        json_document(&mut Gen::new(rest))
    };
    check_configure_round_trip(&text);
}

/// The configure round trip on one document.
pub fn check_configure_round_trip(text: &str) {
    let path = Path::new("/fuzz/config.json");
    let Ok(file) = ConfigFile::parse(path, Some(text)) else {
        return;
    };
    let _ = (
        file.cred_helpers(),
        file.creds_store(),
        file.has_stored_auth("x"),
    );
    if text.trim().is_empty() || text.contains(ROUND_TRIP_HOST) {
        return;
    }
    let before: serde_json::Value = serde_json::from_str(text.trim()).expect("parsed before");
    let had_helpers = file.has_cred_helpers();

    // configure
    let mut added = file.clone();
    assert_eq!(added.set_cred_helper(ROUND_TRIP_HOST, Some("ecr")), None);
    let after = added
        .changed_text()
        .expect("adding an entry changes the file");
    let reread = ConfigFile::parse(path, Some(&after))
        .unwrap_or_else(|e| panic!("configure wrote what it cannot read ({e}): {after:?}"));
    assert_eq!(reread.cred_helper(ROUND_TRIP_HOST), Some("ecr"));
    let mut value: serde_json::Value = serde_json::from_str(after.trim()).expect("valid JSON");
    let root = value.as_object_mut().expect("an object");
    let helpers = root
        .get_mut("credHelpers")
        .and_then(serde_json::Value::as_object_mut)
        .expect("credHelpers");
    helpers.shift_remove(ROUND_TRIP_HOST);
    if !had_helpers {
        assert!(helpers.is_empty());
        root.shift_remove("credHelpers");
    }
    assert_eq!(value, before, "configure changed what is not ours");

    // configure again: nothing to do
    let mut again = reread.clone();
    again.set_cred_helper(ROUND_TRIP_HOST, Some("ecr"));
    assert_eq!(again.changed_text(), None);

    // configure over another helper's entry, then --remove putting it back
    for (host, helper) in file.cred_helpers() {
        if helper == "ecr" {
            continue;
        }
        let mut replaced = file.clone();
        assert_eq!(
            replaced.set_cred_helper(host, Some("ecr")).as_deref(),
            Some(helper)
        );
        let mut restored = ConfigFile::parse(path, replaced.changed_text().as_deref())
            .expect("configure wrote what it cannot read");
        restored.set_cred_helper(host, Some(helper));
        let value: serde_json::Value =
            serde_json::from_str(restored.render().trim()).expect("valid JSON");
        assert_eq!(value, before, "putting {host:?} back changed the document");
        // Without escapes and with one mention of the host, even the bytes come back.
        if !text.contains('\\') && text.matches(&format!("\"{host}\"")).count() == 1 {
            assert_eq!(restored.render(), text, "putting {host:?} back");
        }
    }

    // configure --remove
    let mut removed = reread;
    assert_eq!(
        removed.set_cred_helper(ROUND_TRIP_HOST, None).as_deref(),
        Some("ecr")
    );
    if !had_helpers {
        removed.drop_empty_cred_helpers();
    }
    assert_eq!(
        removed.render(),
        text,
        "configure then --remove did not give the bytes back"
    );
}

/// A JSON object as docker, podman or a person may have written it.
pub fn json_document(g: &mut Gen) -> String {
    let style = g.below(5);
    let (nl, unit, colon) = match style {
        0 => ("", "", ":"),
        1 => ("", "", ": "),
        2 => ("\n", "\t", ": "),
        3 => ("\r\n", "  ", " : "),
        _ => ("\n", "", ": "),
    };
    let mut out = String::new();
    let leading = g.pick(&["", "", " ", "\n"]);
    out.push_str(leading);
    json_object(g, &mut out, 0, nl, unit, colon, true);
    out.push_str(g.pick(&["", "\n", "\n", " \n\n"]));
    out
}

fn json_object(
    g: &mut Gen,
    out: &mut String,
    depth: usize,
    nl: &str,
    unit: &str,
    colon: &str,
    top: bool,
) {
    const KEYS: &[&str] = &[
        "auths",
        "credsStore",
        "credHelpers",
        "currentContext",
        "n",
        "x\\u0041",
        "caf\\u00e9",
        "",
        "gcr.io",
        "\\/",
    ];
    let members = g.below(if depth > 2 { 2 } else { 5 });
    if members == 0 {
        out.push_str(g.pick(&["{}", "{}", "{ }", "{\n}", "{\n\t}"]));
        return;
    }
    let indent = |d: usize| format!("{nl}{}", unit.repeat(d));
    out.push('{');
    for i in 0..members {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&indent(depth + 1));
        let key = if top && g.below(3) == 0 {
            "credHelpers"
        } else {
            g.pick(KEYS)
        };
        out.push_str(&format!("\"{key}\"{colon}"));
        if key == "credHelpers" && g.below(4) != 0 {
            // An object of strings, as credHelpers must be.
            let entries = g.below(3);
            if entries == 0 {
                out.push_str(g.pick(&["{}", "{ }", "{\n\t}"]));
            } else {
                out.push('{');
                for e in 0..entries {
                    if e > 0 {
                        out.push(',');
                    }
                    out.push_str(&indent(depth + 2));
                    let host = g.pick(&["gcr.io", "public.ecr.aws", "h\\u00e9"]);
                    let helper = g.pick(&["gcr", "ecr-login", "ecr", "\\u0065cr"]);
                    out.push_str(&format!("\"{host}\"{colon}\"{helper}\""));
                }
                out.push_str(&indent(depth + 1));
                out.push('}');
            }
        } else {
            json_value(g, out, depth + 1, nl, unit, colon);
        }
    }
    out.push_str(&indent(depth));
    out.push('}');
}

fn json_value(g: &mut Gen, out: &mut String, depth: usize, nl: &str, unit: &str, colon: &str) {
    const SCALARS: &[&str] = &[
        "1e2",
        "12345678901234567890123",
        "-0",
        "1.0",
        "0.1E-5",
        "-1.5e+300",
        "3.141592653589793238462643",
        "true",
        "false",
        "null",
        "\"dXNlcjpwYXNz\"",
        "\"caf\\u00e9 \\/ \\ud83d\\ude00\"",
        "\"\\\"\\\\\\b\\f\\n\\r\\t\"",
        "\"é😀\"",
        "\"\"",
    ];
    match g.below(if depth > 3 { 1 } else { 4 }) {
        0 | 1 => out.push_str(g.pick(SCALARS)),
        2 => json_object(g, out, depth, nl, unit, colon, false),
        _ => {
            let items = g.below(4);
            out.push('[');
            for i in 0..items {
                if i > 0 {
                    out.push_str(g.pick(&[",", ", ", " ,"]));
                }
                json_value(g, out, depth + 1, nl, unit, colon);
            }
            out.push(']');
        }
    }
}

/// Whatever arrives on the daemon's socket, and on a fetch child's stdout.
pub fn wire_decode(data: &[u8]) {
    // A frame as the client reads it: header, limit, body.
    let mut reader = data;
    if let Ok(body) = wire::read_frame(&mut reader) {
        assert!(body.len() <= wire::MAX_FRAME);
        let _ = wire::parse_response(&body);
    }
    // A body as the daemon decodes a request.
    if let Ok((version, value)) = wire::decode_body(data) {
        let _ = value.get("op").and_then(|v| v.as_str());
        if version == wire::WIRE_VERSION {
            let _ = serde_json::from_value::<Request>(value);
        }
    }
    let _ = wire::parse_response(data);
    // The daemon's fetch child, both ends.
    let _ = serde_json::from_slice::<FetchRequest>(data);
    let _ = serde_json::from_slice::<FetchReply>(data);
}

/// Wire messages built from the input: encode → frame → decode is the identity, both directions.
pub fn wire_roundtrip(data: &[u8]) {
    let g = &mut Gen::new(data);
    check_wire_round_trip(g);
}

/// One generated request, response and fetch exchange through the wire format.
pub fn check_wire_round_trip(g: &mut Gen) {
    let request = match g.below(4) {
        0 => Request::Status,
        1 => Request::Stop,
        _ => {
            let mut env = BTreeMap::new();
            for _ in 0..g.below(4) {
                env.insert(g.string(), g.string());
            }
            Request::Get(GetRequest {
                host: g.string(),
                key: g.string(),
                label: g.string(),
                timeout_ms: g.u64(),
                cwd: g.string(),
                env: Secret::new(env),
            })
        }
    };
    let frame = wire::encode_request(&request);
    let body = wire::read_frame(&mut frame.as_slice()).expect("our own frame reads back");
    let (version, value) = wire::decode_body(&body).expect("our own body decodes");
    assert_eq!(version, wire::WIRE_VERSION);
    let decoded: Request = serde_json::from_value(value).expect("our own request parses");
    assert_eq!(decoded, request);

    let response = match g.below(8) {
        0 => Response::Token {
            username: g.string(),
            password: Secret::new(g.string()),
            expires: g.u64(),
        },
        1 => Response::Pending,
        2 => Response::Failed { reason: g.string() },
        3 => Response::Unavailable { reason: g.string() },
        4 => Response::Unsupported { reason: g.string() },
        5 => Response::Stopping,
        _ => Response::Status(DaemonStatus {
            pid: g.u64() as u32,
            uptime_secs: g.u64(),
            socket: g.string(),
            idle_timeout_secs: g.u64(),
            hits: g.u64(),
            misses: g.u64(),
            api_calls: g.u64(),
            refreshes: g.u64(),
            errors: g.u64(),
            refused: g.u64(),
            entries: (0..g.below(3))
                .map(|_| StatusEntry {
                    registry: g.string(),
                    identity: g.string(),
                    minted: g.u64(),
                    expires: g.u64(),
                    refresh_at: g.u64(),
                })
                .collect(),
        }),
    };
    let frame = wire::encode_response(&response);
    let body = wire::read_frame(&mut frame.as_slice()).expect("our own frame reads back");
    let (version, daemon, decoded) = wire::parse_response(&body).expect("our own reply parses");
    assert_eq!(version, wire::WIRE_VERSION);
    assert_eq!(daemon, wire::DAEMON_VERSION);
    assert_eq!(decoded, response);

    let fetch = FetchRequest {
        v: g.u64() as u32,
        host: g.string(),
        newer_than: g.bool().then(|| g.u64()),
    };
    let bytes = serde_json::to_vec(&fetch).expect("serialises");
    assert_eq!(
        serde_json::from_slice::<FetchRequest>(&bytes).expect("parses"),
        fetch
    );
    let reply = match g.below(3) {
        0 => FetchReply::Token {
            key: g.string(),
            username: g.string(),
            password: Secret::new(g.string()),
            minted: g.u64(),
            expires: g.u64(),
            called_aws: g.bool(),
            stale: g.bool(),
            credentials_expire: g.bool().then(|| g.u64()),
        },
        1 => FetchReply::Failed { reason: g.string() },
        _ => FetchReply::Refused { reason: g.string() },
    };
    let bytes = serde_json::to_vec(&reply).expect("serialises");
    assert_eq!(
        serde_json::from_slice::<FetchReply>(&bytes).expect("parses"),
        reply
    );
}

/// A cache index record with the secret a backend returned, down the hit path.
///
/// Input: one byte `n`, then `n` bytes of secret, then the record's JSON.
pub fn cache_record(data: &[u8]) {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let (secret, record) = rest.split_at((n as usize).min(rest.len()));
    let Ok(meta) = serde_json::from_slice::<Meta>(record) else {
        return;
    };
    let Some(entry) = Entry::from_parts(&meta, secret) else {
        return;
    };
    let now = crate::cache::entry::epoch(SystemTime::now());
    // The clock is what `now` comes from; a record can say anything.
    for at in [0, entry.minted, now] {
        if entry.usable(at) {
            assert!(at < entry.expires, "usable at or after expiry");
        }
        let _ = entry.refresh_due(at);
        let _ = crate::kubelet::cache_duration(Some(entry.minted), Some(entry.expires), at);
    }
    // What a hit hands out (issue 12 defect 9: an absurd expiry used to panic here).
    let token = entry.token();
    assert_eq!(token.password.expose().as_bytes(), secret);
    assert!(token.expires_at.is_some());
    let again = entry.meta(&meta.key, &meta.backend);
    assert_eq!(Entry::from_parts(&again, secret).as_ref(), Some(&entry));
}

/// The AWS config and credentials files, as the cache key reads them.
pub fn aws_ini(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for is_config_file in [true, false] {
        let sections = crate::cache::key::parse_ini(text, is_config_file);
        let _ = format!("{sections:?}");
    }
}
