//! An in-process fake of the ECR, ECR Public and STS APIs, for precise, counted cases.
//!
//! It speaks just enough HTTP/1.1 for the AWS SDK (one request per connection,
//! `Connection: close`), records every request, and answers from a script, so
//! tests can assert how many calls were made, with which region, registry id
//! and access key, and can inject throttling, denials and hangs.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub target: String,
    pub authorization: String,
    pub body: String,
}

impl Recorded {
    /// The region in the SigV4 credential scope.
    pub fn region(&self) -> String {
        self.scope_part(2)
    }

    /// The access key id that signed the request.
    pub fn access_key_id(&self) -> String {
        self.scope_part(0)
    }

    /// The signing service name (`ecr`, `ecr-public`, `sts`).
    pub fn service(&self) -> String {
        self.scope_part(3)
    }

    fn scope_part(&self, i: usize) -> String {
        let scope = self
            .authorization
            .split("Credential=")
            .nth(1)
            .and_then(|s| s.split(',').next())
            .unwrap_or_default();
        scope.split('/').nth(i).unwrap_or_default().to_string()
    }

    /// A parameter of an STS (query protocol) form body, percent-decoded.
    pub fn form(&self, name: &str) -> Option<String> {
        self.body.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k == name).then(|| percent_decode(v))
        })
    }

    /// `registryIds` from a GetAuthorizationToken body.
    pub fn registry_ids(&self) -> Vec<String> {
        let v: serde_json::Value = serde_json::from_str(&self.body).unwrap_or_default();
        v["registryIds"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// How the fake answers one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A valid token, `pw-<account>-<n>` where n counts token calls, expiring after `ttl`.
    Token,
    /// A 400 ThrottlingException.
    Throttle,
    /// A 400 AccessDeniedException.
    AccessDenied,
    /// A 200 with an authorization token that is not base64.
    BadToken,
    /// Accept the request and never answer.
    Hang,
}

struct State {
    requests: Vec<Recorded>,
    script: VecDeque<Reply>,
    token_calls: usize,
    ttl_secs: f64,
    deny_web_identity: bool,
    expired_sso: Vec<String>,
}

/// A running fake; it stops with the test process.
#[derive(Clone)]
pub struct FakeAws {
    pub url: String,
    state: Arc<Mutex<State>>,
}

pub const ASSUMED_KEY_ID: &str = "ASIAFAKEASSUMEDROLE1";

impl FakeAws {
    pub fn start() -> FakeAws {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake AWS");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            requests: Vec::new(),
            script: VecDeque::new(),
            token_calls: 0,
            ttl_secs: 12.0 * 3600.0,
            deny_web_identity: false,
            expired_sso: Vec::new(),
        }));
        let fake = FakeAws { url, state };
        let server = fake.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let server = server.clone();
                std::thread::spawn(move || server.serve(stream));
            }
        });
        fake
    }

    /// Queues replies for the next requests; afterwards every request gets a token.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.lock().unwrap().script.extend(replies);
    }

    /// Sets the lifetime of the tokens handed out, in seconds (negative: already expired).
    pub fn set_ttl(&self, secs: f64) {
        self.state.lock().unwrap().ttl_secs = secs;
    }

    /// Makes every AssumeRoleWithWebIdentity fail with InvalidIdentityToken.
    pub fn deny_web_identity(&self) {
        self.state.lock().unwrap().deny_web_identity = true;
    }

    /// Makes the SSO portal refuse `bearer`, as it does once the login has expired.
    #[cfg_attr(not(unix), allow(dead_code))]
    pub fn expire_sso_token(&self, bearer: &str) {
        self.state
            .lock()
            .unwrap()
            .expired_sso
            .push(bearer.to_string());
    }

    /// Requests that assumed a role with a web identity token.
    pub fn web_identity_requests(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.target == "STS.AssumeRoleWithWebIdentity")
            .collect()
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    /// The access key id that signed each registry token call, in order.
    pub fn token_signers(&self) -> Vec<String> {
        self.token_requests()
            .iter()
            .map(Recorded::access_key_id)
            .collect()
    }

    /// Requests that asked for a registry token (ECR or ECR Public).
    pub fn token_requests(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.target.ends_with(".GetAuthorizationToken"))
            .collect()
    }

    fn serve(&self, stream: TcpStream) {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
        let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let (mut length, mut target, mut authorization) = (0usize, String::new(), String::new());
        let mut headers: Vec<(String, String)> = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                let value = value.trim().to_string();
                headers.push((name.to_ascii_lowercase(), value.clone()));
                match name.to_ascii_lowercase().as_str() {
                    "content-length" => length = value.parse().unwrap_or(0),
                    "x-amz-target" => target = value,
                    "authorization" => authorization = value,
                    _ => {}
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let path = request_line
            .split(' ')
            .nth(1)
            .unwrap_or_default()
            .to_string();
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        if path.starts_with("/latest/") {
            return self.imds(
                stream,
                &request_line,
                &path,
                &header("x-aws-ec2-metadata-token"),
            );
        }
        if path.starts_with("/federation/credentials") {
            return self.sso_portal(stream, &path, &header("x-amz-sso_bearer_token"));
        }
        if request_line.starts_with("GET ") {
            return self.container_credentials(stream, authorization);
        }
        let body = String::from_utf8_lossy(&body).into_owned();
        if target.is_empty() && body.contains("Action=AssumeRoleWithWebIdentity") {
            target = "STS.AssumeRoleWithWebIdentity".to_string();
        } else if target.is_empty() && body.contains("Action=AssumeRole") {
            target = "STS.AssumeRole".to_string();
        }
        if target.is_empty() && body.contains("Action=GetCallerIdentity") {
            target = "STS.GetCallerIdentity".to_string();
        }
        let recorded = Recorded {
            target: target.clone(),
            authorization,
            body,
        };
        let (reply, n, ttl, deny_web_identity) = {
            let mut st = self.state.lock().unwrap();
            st.requests.push(recorded.clone());
            let reply = if target.ends_with(".GetAuthorizationToken") {
                st.script.pop_front().unwrap_or(Reply::Token)
            } else {
                Reply::Token
            };
            if matches!(reply, Reply::Token) && target.ends_with(".GetAuthorizationToken") {
                st.token_calls += 1;
            }
            (reply, st.token_calls, st.ttl_secs, st.deny_web_identity)
        };
        let (status, content_type, payload) = match reply {
            Reply::Hang => {
                std::thread::sleep(Duration::from_secs(120));
                return;
            }
            Reply::Throttle => (
                "400 Bad Request",
                "application/x-amz-json-1.1",
                r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.to_string(),
            ),
            Reply::AccessDenied => (
                "400 Bad Request",
                "application/x-amz-json-1.1",
                r#"{"__type":"AccessDeniedException","Message":"User: arn:aws:iam::123456789012:user/ci is not authorized to perform: ecr:GetAuthorizationToken"}"#.to_string(),
            ),
            Reply::BadToken => (
                "200 OK",
                "application/x-amz-json-1.1",
                r#"{"authorizationData":[{"authorizationToken":"%%%not-base64%%%","expiresAt":4102444800}]}"#
                    .to_string(),
            ),
            Reply::Token if target == "STS.AssumeRole" => match assume_role_refusal(&recorded) {
                Some(message) => (
                    "403 Forbidden",
                    "text/xml",
                    format!(
                        r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>{message}</Message></Error><RequestId>fake</RequestId></ErrorResponse>"#
                    ),
                ),
                None => ("200 OK", "text/xml", assume_role_xml(&recorded)),
            },
            Reply::Token if target == "STS.GetCallerIdentity" => {
                ("200 OK", "text/xml", caller_identity_xml())
            }
            Reply::Token if target == "STS.AssumeRoleWithWebIdentity" && deny_web_identity => (
                "400 Bad Request",
                "text/xml",
                r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>No OpenIDConnect provider found in your account for https://oidc.example</Message></Error><RequestId>fake</RequestId></ErrorResponse>"#
                    .to_string(),
            ),
            Reply::Token if target == "STS.AssumeRoleWithWebIdentity" => (
                "200 OK",
                "text/xml",
                web_identity_xml(&recorded.form("RoleArn").unwrap_or_default()),
            ),
            Reply::Token => ("200 OK", "application/x-amz-json-1.1", token_json(&recorded, n, ttl)),
        };
        let mut stream = stream;
        let _ = write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nx-amzn-RequestId: fake\r\nConnection: close\r\n\r\n{payload}",
            payload.len()
        );
        let _ = stream.flush();
    }
}

impl FakeAws {
    /// The container credentials endpoint (ECS, EKS Pod Identity): each
    /// authorization token gets its own access key id, so a test can tell
    /// whose credentials signed a token call.
    fn container_credentials(&self, mut stream: TcpStream, authorization: String) {
        self.state.lock().unwrap().requests.push(Recorded {
            target: "Container.GetCredentials".to_string(),
            authorization: authorization.clone(),
            body: String::new(),
        });
        let payload = format!(
            r#"{{"AccessKeyId":"{}","SecretAccessKey":"podSecret","Token":"podSession","Expiration":"2099-01-01T00:00:00Z"}}"#,
            container_key_id(&authorization)
        );
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
            payload.len()
        );
        let _ = stream.flush();
    }

    fn respond(stream: &mut TcpStream, status: &str, content_type: &str, payload: &str) {
        let _ = write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
            payload.len()
        );
        let _ = stream.flush();
    }

    fn record(&self, target: &str, authorization: &str, body: &str) {
        self.state.lock().unwrap().requests.push(Recorded {
            target: target.to_string(),
            authorization: authorization.to_string(),
            body: body.to_string(),
        });
    }

    /// The instance metadata service, v2 only: a session token from
    /// `PUT /latest/api/token`, then the role name and its credentials, each
    /// refused without that token.
    fn imds(&self, mut stream: TcpStream, request_line: &str, path: &str, token: &str) {
        const ROLE: &str = "ecr-node";
        if request_line.starts_with("PUT ") && path == "/latest/api/token" {
            self.record("IMDS.Token", "", "");
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nx-aws-ec2-metadata-token-ttl-seconds: 21600\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{IMDS_TOKEN}",
                IMDS_TOKEN.len()
            );
            return;
        }
        if token != IMDS_TOKEN {
            self.record("IMDS.Unauthorized", "", path);
            return Self::respond(&mut stream, "401 Unauthorized", "text/plain", "");
        }
        let prefix = "/latest/meta-data/iam/security-credentials/";
        match path.strip_prefix(prefix) {
            Some("") => {
                self.record("IMDS.Role", "", "");
                Self::respond(&mut stream, "200 OK", "text/plain", ROLE)
            }
            Some(role) if role == ROLE => {
                self.record("IMDS.Credentials", "", role);
                let payload = format!(
                    r#"{{"Code":"Success","LastUpdated":"2026-01-01T00:00:00Z","Type":"AWS-HMAC","AccessKeyId":"{IMDS_KEY_ID}","SecretAccessKey":"imdsSecret","Token":"imdsSession","Expiration":"2099-01-01T00:00:00Z"}}"#
                );
                Self::respond(&mut stream, "200 OK", "application/json", &payload)
            }
            _ => {
                self.record("IMDS.Other", "", path);
                Self::respond(&mut stream, "404 Not Found", "text/plain", "")
            }
        }
    }

    /// The SSO portal's GetRoleCredentials: each bearer token (one per SSO
    /// login) gets its own access key id; account and role are recorded.
    fn sso_portal(&self, mut stream: TcpStream, path: &str, bearer: &str) {
        let query = path.split_once('?').map(|(_, q)| q).unwrap_or_default();
        self.record("SSO.GetRoleCredentials", bearer, query);
        let expired = self
            .state
            .lock()
            .unwrap()
            .expired_sso
            .iter()
            .any(|t| t == bearer);
        if bearer.is_empty() || expired {
            return Self::respond(
                &mut stream,
                "401 Unauthorized",
                "application/json",
                r#"{"message":"Session token not found or invalid"}"#,
            );
        }
        let payload = format!(
            r#"{{"roleCredentials":{{"accessKeyId":"{}","secretAccessKey":"ssoSecret","sessionToken":"ssoSession","expiration":4102444800000}}}}"#,
            sso_key_id(bearer)
        );
        Self::respond(&mut stream, "200 OK", "application/json", &payload)
    }

    /// Requests that reached a credential source rather than ECR: STS, the
    /// SSO portal, instance metadata, container credentials.
    #[cfg_attr(not(unix), allow(dead_code))]
    pub fn credential_requests(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| !r.target.ends_with(".GetAuthorizationToken"))
            .collect()
    }

    /// Requests to the SSO portal (the bearer token is in `authorization`,
    /// `role_name=…&account_id=…` in `body`).
    #[cfg_attr(not(unix), allow(dead_code))]
    pub fn sso_requests(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.target == "SSO.GetRoleCredentials")
            .collect()
    }

    /// AssumeRole calls (form parameters in `body`).
    #[cfg_attr(not(unix), allow(dead_code))]
    pub fn assume_role_requests(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.target == "STS.AssumeRole")
            .collect()
    }

    /// Requests to the container credentials endpoint.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub fn container_requests(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.target == "Container.GetCredentials")
            .collect()
    }
}

/// The instance metadata session token the fake hands out.
pub const IMDS_TOKEN: &str = "fake-imds-session-token";

/// The access key id of the instance role.
pub const IMDS_KEY_ID: &str = "ASIAIMDSINSTANCEROLE";

/// The access key id the SSO portal hands to the bearer of `token`.
pub fn sso_key_id(token: &str) -> String {
    let tag: String = token
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .take(9)
        .collect();
    format!("ASIAFAKESSO{tag:0<9}")
}

/// The access key id the container endpoint hands to the bearer of `token`.
pub fn container_key_id(token: &str) -> String {
    let tag: String = token
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .take(12)
        .collect();
    format!("ASIAPOD{tag:0<12}")
}

/// The password the fake issues for the n-th token call for `account`.
pub fn password_for(account: &str, n: usize) -> String {
    format!("pw-{account}-{n}")
}

fn token_json(req: &Recorded, n: usize, ttl_secs: f64) -> String {
    let expires = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        + ttl_secs;
    if req.target.starts_with("SpencerFrontendService") {
        let token = b64(&format!("AWS:{}", password_for("public", n)));
        return format!(
            r#"{{"authorizationData":{{"authorizationToken":"{token}","expiresAt":{expires}}}}}"#
        );
    }
    let account = req
        .registry_ids()
        .first()
        .cloned()
        .unwrap_or_else(|| "000000000000".into());
    let token = b64(&format!("AWS:{}", password_for(&account, n)));
    format!(
        r#"{{"authorizationData":[{{"authorizationToken":"{token}","expiresAt":{expires},"proxyEndpoint":"https://{account}.dkr.ecr.{}.amazonaws.com"}}]}}"#,
        req.region()
    )
}

/// The MFA code the fake STS accepts; any other is refused, like STS does.
pub const MFA_CODE: &str = "123456";

/// Why STS would refuse this AssumeRole: a role that needs MFA (a
/// `SerialNumber`, or a role named `mfa…`) without the right code.
fn assume_role_refusal(req: &Recorded) -> Option<String> {
    let role = req.form("RoleArn").unwrap_or_default();
    let needs_mfa = req.form("SerialNumber").is_some() || role.contains(":role/mfa");
    match req.form("TokenCode") {
        _ if !needs_mfa => None,
        Some(code) if code == MFA_CODE => None,
        Some(_) => {
            Some("MultiFactorAuthentication failed with invalid MFA one time pass code.".into())
        }
        None => Some(format!(
            "User is not authorized to perform: sts:AssumeRole on resource: {role} (MFA required)"
        )),
    }
}

/// The access key id the fake hands out for a role: `ecr-pull` keeps the
/// historical [`ASSUMED_KEY_ID`]; any other role gets one naming it.
pub fn assumed_key_id(role_arn: &str) -> String {
    let name = role_arn.rsplit('/').next().unwrap_or_default();
    if name == "ecr-pull" {
        return ASSUMED_KEY_ID.to_string();
    }
    let tag: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .take(8)
        .collect();
    format!("ASIAFAKEROLE{tag:0<8}")
}

fn assume_role_xml(req: &Recorded) -> String {
    let role = req.form("RoleArn").unwrap_or_default();
    let key = assumed_key_id(&role);
    // A session asked for with a duration ends then; otherwise far away.
    let expiration = match req
        .form("DurationSeconds")
        .and_then(|d| d.parse::<u64>().ok())
    {
        Some(secs) => iso8601(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs()
                + secs,
        ),
        None => "2099-01-01T00:00:00Z".to_string(),
    };
    // Each session has its own secret, as real ones do.
    let n = NEXT_SESSION.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!(
        r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
<AssumeRoleResult>
<Credentials><AccessKeyId>{key}</AccessKeyId><SecretAccessKey>fakeAssumedSecretKeyDoNotLog{n}</SecretAccessKey><SessionToken>fakeAssumedSessionTokenDoNotLog{n}</SessionToken><Expiration>{expiration}</Expiration></Credentials>
<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/{}/docker-credential-ecr</Arn><AssumedRoleId>AROAFAKE:docker-credential-ecr</AssumedRoleId></AssumedRoleUser>
</AssumeRoleResult>
<ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata>
</AssumeRoleResponse>"#,
        role.rsplit('/').next().unwrap_or_default()
    )
}

static NEXT_SESSION: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the epoch (the helper's own, unit-tested there).
pub use docker_credential_ecr::helper::iso8601;

/// The principal the fake says every caller is.
pub const CALLER_ARN: &str = "arn:aws:iam::123456789012:user/ci";

fn caller_identity_xml() -> String {
    format!(
        r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
<GetCallerIdentityResult><Arn>{CALLER_ARN}</Arn><UserId>AIDAFAKEUSERID</UserId><Account>123456789012</Account></GetCallerIdentityResult>
<ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>"#
    )
}

/// The access key id the fake hands out for a role assumed with a web identity.
pub fn web_identity_key_id(role_arn: &str) -> String {
    let name = role_arn.rsplit('/').next().unwrap_or_default();
    format!("ASIAWEBID{}", name.to_ascii_uppercase())
}

fn web_identity_xml(role_arn: &str) -> String {
    let key = web_identity_key_id(role_arn);
    format!(
        r#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
<AssumeRoleWithWebIdentityResult>
<Credentials><AccessKeyId>{key}</AccessKeyId><SecretAccessKey>fakeWebIdentitySecretDoNotLog</SecretAccessKey><SessionToken>fakeWebIdentitySessionDoNotLog</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>
<SubjectFromWebIdentityToken>system:serviceaccount:team:puller</SubjectFromWebIdentityToken>
<AssumedRoleUser><Arn>{role_arn}</Arn><AssumedRoleId>AROAFAKE:session</AssumedRoleId></AssumedRoleUser>
</AssumeRoleWithWebIdentityResult>
<ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>"#
    )
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => out.push(b),
                    Err(_) => out.extend_from_slice(&bytes[i..i + 3]),
                }
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// A TCP listener that accepts connections and never answers: a black-holed endpoint.
pub fn black_hole() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind black hole");
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    url
}
