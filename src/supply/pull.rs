//! Reading from a registry without trusting it: every body is read up to a limit and no
//! further, and the bearer-token exchange of the distribution API is done here as well, so
//! that a token endpoint cannot stream without end either. (oci-client reads whole bodies
//! into memory; `lab` uses it only to push.) Deadlines are the caller's: one attempt is one
//! future, which [`super::registry`] bounds and retries.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use oci_client::Reference;
use oci_client::secrets::RegistryAuth;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, WWW_AUTHENTICATE};
use serde::Deserialize;

use super::digest::Digest;
use super::error::SupplyError;
use super::store::{Limit, human_size};

/// How long connecting to a registry may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a read may wait for the next bytes (an attempt may last longer in all, up to
/// [`super::registry::Retry::attempt_timeout`], while bytes keep coming).
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest token answer read (a registry token is a few KiB).
const MAX_TOKEN_ANSWER: u64 = 1 << 20;
/// The most of an error answer read, for its message.
const MAX_ERROR_ANSWER: u64 = 64 << 10;

/// Why one attempt failed.
#[derive(Debug)]
pub enum Failure {
    /// Worth another attempt: no connection, a dropped one, a 5xx or 429 answer.
    Transient(String),
    /// Another attempt would get the same answer.
    Final(SupplyError),
}

#[derive(Debug, Clone)]
enum Authorization {
    Bearer(String),
    Basic(String, String),
}

/// GETs from one registry's `/v2/` API, remembering the authorization each repository needed.
pub struct Puller {
    http: Result<reqwest::Client, String>,
    scheme: &'static str,
    registry: String,
    credentials: RegistryAuth,
    authorizations: Mutex<HashMap<String, Authorization>>,
}

impl Puller {
    /// A puller for `registry` over `https` (or `http` when `plain_http`).
    pub fn new(registry: &str, plain_http: bool, credentials: RegistryAuth) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .user_agent(concat!("courselab/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| chain(&e));
        Puller {
            http,
            scheme: if plain_http { "http" } else { "https" },
            registry: registry.to_owned(),
            credentials,
            authorizations: Mutex::new(HashMap::new()),
        }
    }

    /// The body of `GET /v2/<repository>/<path>` (`manifests/<ref>` or `blobs/<digest>`), read
    /// up to `limit`. `what` names the artifact in messages.
    pub async fn get(
        &self,
        what: &str,
        reference: &Reference,
        path: &str,
        accept: &[&str],
        limit: Limit,
    ) -> Result<Vec<u8>, Failure> {
        let response = self.answer(what, reference, path, accept).await?;
        read_body(what, response, limit).await
    }

    /// [`Self::get`] of a blob of `size` bytes, streamed into `sink` (which is emptied first,
    /// so that a retried attempt starts over) and hashed on the way: the registry must send
    /// exactly `size` bytes that hash to `digest`. Nothing is held whole in memory.
    pub async fn get_into(
        &self,
        what: &str,
        reference: &Reference,
        digest: &Digest,
        size: u64,
        sink: &std::fs::File,
    ) -> Result<(), Failure> {
        use sha2::Digest as _;
        use std::io::{Seek, Write};
        let path = format!("blobs/{digest}");
        let mut response = self.answer(what, reference, &path, &[]).await?;
        let corrupt = |reason: String| {
            Failure::Final(SupplyError::Corrupt {
                what: what.to_owned(),
                reason,
            })
        };
        if let Some(announced) = response.content_length()
            && announced != size
        {
            return Err(corrupt(format!(
                "the registry announced {announced} bytes, not the {size} its descriptor gives"
            )));
        }
        let local = |e: std::io::Error| {
            Failure::Final(SupplyError::BadInput(format!("cannot write {what}: {e}")))
        };
        let mut sink = sink;
        sink.set_len(0).map_err(local)?;
        sink.rewind().map_err(local)?;
        let mut hasher = sha2::Sha256::new();
        let mut received = 0u64;
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            received += chunk.len() as u64;
            if received > size {
                return Err(corrupt(format!(
                    "the registry sent more than the {size} bytes its descriptor gives"
                )));
            }
            hasher.update(&chunk);
            sink.write_all(&chunk).map_err(local)?;
        }
        if received != size {
            // A connection cut short: worth another attempt.
            return Err(Failure::Transient(format!(
                "the registry sent {received} of the {size} bytes of {what}"
            )));
        }
        if hex::encode(hasher.finalize()) != digest.hex() {
            return Err(corrupt(
                "the registry sent bytes that do not hash to it".to_owned(),
            ));
        }
        sink.flush().map_err(local)
    }

    /// The answer to `GET /v2/<repository>/<path>`, once it is a success; every other answer
    /// becomes a failure that says what happened.
    async fn answer(
        &self,
        what: &str,
        reference: &Reference,
        path: &str,
        accept: &[&str],
    ) -> Result<reqwest::Response, Failure> {
        let url = format!(
            "{}://{}/v2/{}/{path}",
            self.scheme,
            reference.resolve_registry(),
            reference.repository()
        );
        let repository = reference.repository();
        let cached = self.cached(repository);
        let mut response = self.send(&url, accept, cached.as_ref()).await?;
        if response.status() == StatusCode::UNAUTHORIZED {
            let fresh = self.authorize(repository, &response).await?;
            response = self.send(&url, accept, Some(&fresh)).await?;
            self.remember(repository, fresh);
        }
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let (codes, message) = error_answer(response).await;
        let unknown = [
            "MANIFEST_UNKNOWN",
            "NAME_UNKNOWN",
            "BLOB_UNKNOWN",
            "NOT_FOUND",
        ];
        if status == StatusCode::NOT_FOUND || codes.iter().any(|c| unknown.contains(&c.as_str())) {
            return Err(Failure::Final(SupplyError::NotFound {
                image: what.to_owned(),
            }));
        }
        match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(self.refused()),
            s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => Err(
                Failure::Transient(format!("the registry answered {s}{message}")),
            ),
            s => Err(Failure::Final(SupplyError::Unreachable {
                target: self.registry.clone(),
                reason: format!("the registry answered {s} for {what}{message}"),
            })),
        }
    }

    async fn send(
        &self,
        url: &str,
        accept: &[&str],
        authorization: Option<&Authorization>,
    ) -> Result<reqwest::Response, Failure> {
        let http = self.http.as_ref().map_err(|e| {
            Failure::Final(SupplyError::Unreachable {
                target: self.registry.clone(),
                reason: format!("cannot set up an HTTP client ({e})"),
            })
        })?;
        let mut request = http.get(url);
        if !accept.is_empty() {
            request = request.header(ACCEPT, accept.join(", "));
        }
        request = match authorization {
            Some(Authorization::Bearer(token)) => request.bearer_auth(token),
            Some(Authorization::Basic(user, password)) => request.basic_auth(user, Some(password)),
            None => request,
        };
        request.send().await.map_err(transport)
    }

    /// What the registry's `WWW-Authenticate` challenge asks for: a bearer token (fetched
    /// here), or the user's basic credentials.
    async fn authorize(
        &self,
        repository: &str,
        response: &reqwest::Response,
    ) -> Result<Authorization, Failure> {
        let header = response
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let challenges = http_auth::parse_challenges(header).unwrap_or_default();
        let scheme = |name: &str| {
            challenges
                .iter()
                .find(|c| c.scheme.eq_ignore_ascii_case(name))
        };
        if let Some(bearer) = scheme("bearer") {
            let param = |name: &str| {
                bearer
                    .params
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.to_unescaped())
            };
            let Some(realm) = param("realm") else {
                return Err(self.refused());
            };
            let token = self.token(&realm, param("service"), repository).await?;
            return Ok(Authorization::Bearer(token));
        }
        match (&self.credentials, scheme("basic")) {
            (RegistryAuth::Basic(user, password), Some(_)) => {
                Ok(Authorization::Basic(user.clone(), password.clone()))
            }
            _ => Err(self.refused()),
        }
    }

    /// A pull token for `repository` from the token endpoint `realm`.
    async fn token(
        &self,
        realm: &str,
        service: Option<String>,
        repository: &str,
    ) -> Result<String, Failure> {
        #[derive(Deserialize)]
        struct Answer {
            token: Option<String>,
            access_token: Option<String>,
        }
        let http = self.http.as_ref().map_err(|_| self.refused())?;
        let mut query = vec![("scope", format!("repository:{repository}:pull"))];
        if let Some(service) = service {
            query.push(("service", service));
        }
        let mut request = http.get(realm).query(&query);
        if let RegistryAuth::Basic(user, password) = &self.credentials {
            request = request.basic_auth(user, Some(password));
        }
        let mut response = request.send().await.map_err(transport)?;
        let status = response.status();
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Err(Failure::Transient(format!(
                "the token endpoint {realm} answered {status}"
            )));
        }
        if !status.is_success() {
            return Err(self.refused());
        }
        let bad = |reason: String| {
            Failure::Final(SupplyError::Unreachable {
                target: self.registry.clone(),
                reason: format!("the token endpoint {realm} {reason}"),
            })
        };
        let body = read_at_most(&mut response, MAX_TOKEN_ANSWER)
            .await?
            .ok_or_else(|| {
                bad(format!(
                    "sent more than the {} a token may have",
                    human_size(MAX_TOKEN_ANSWER)
                ))
            })?;
        let answer: Answer = serde_json::from_slice(&body)
            .map_err(|e| bad(format!("sent something that is not a token ({e})")))?;
        answer
            .token
            .or(answer.access_token)
            .ok_or_else(|| bad("sent no token".to_owned()))
    }

    fn cached(&self, repository: &str) -> Option<Authorization> {
        let map = self
            .authorizations
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        map.get(repository).cloned()
    }

    fn remember(&self, repository: &str, authorization: Authorization) {
        let mut map = self
            .authorizations
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        map.insert(repository.to_owned(), authorization);
    }

    fn refused(&self) -> Failure {
        Failure::Final(SupplyError::Unreachable {
            target: self.registry.clone(),
            reason: "the registry refused our credentials; run `docker login` for it".to_owned(),
        })
    }
}

/// The body of a successful answer, if it keeps to `limit`.
async fn read_body(
    what: &str,
    mut response: reqwest::Response,
    limit: Limit,
) -> Result<Vec<u8>, Failure> {
    let corrupt = |reason: String| {
        Failure::Final(SupplyError::Corrupt {
            what: what.to_owned(),
            reason,
        })
    };
    if let Some(announced) = response.content_length()
        && announced > limit.max()
    {
        return Err(corrupt(format!(
            "the registry announced {announced} bytes, more than {}",
            limit.describe()
        )));
    }
    let body = read_at_most(&mut response, limit.max())
        .await?
        .ok_or_else(|| corrupt(format!("the registry sent more than {}", limit.describe())))?;
    match limit {
        Limit::Exactly(n) if body.len() as u64 != n => Err(corrupt(format!(
            "the registry sent {} bytes, not {}",
            body.len(),
            limit.describe()
        ))),
        _ => Ok(body),
    }
}

/// The body, or `None` as soon as it grows past `max` bytes (the rest is never read).
async fn read_at_most(
    response: &mut reqwest::Response,
    max: u64,
) -> Result<Option<Vec<u8>>, Failure> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if (body.len() + chunk.len()) as u64 > max {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// The error codes of a failed answer and its first message (`: <message>`), read up to
/// [`MAX_ERROR_ANSWER`].
async fn error_answer(mut response: reqwest::Response) -> (Vec<String>, String) {
    #[derive(Deserialize)]
    struct Envelope {
        errors: Vec<Error>,
    }
    #[derive(Deserialize)]
    struct Error {
        code: String,
        #[serde(default)]
        message: String,
    }
    let Ok(Some(body)) = read_at_most(&mut response, MAX_ERROR_ANSWER).await else {
        return (Vec::new(), String::new());
    };
    match serde_json::from_slice::<Envelope>(&body) {
        Ok(envelope) => {
            let message = envelope
                .errors
                .iter()
                .map(|e| e.message.as_str())
                .find(|m| !m.is_empty())
                .map(|m| format!(": {}", first_line(m)))
                .unwrap_or_default();
            (
                envelope.errors.into_iter().map(|e| e.code).collect(),
                message,
            )
        }
        Err(_) => (Vec::new(), String::new()),
    }
}

fn transport(e: reqwest::Error) -> Failure {
    if e.is_builder() {
        return Failure::Final(SupplyError::BadInput(format!(
            "cannot make a registry request: {}",
            chain(&e)
        )));
    }
    Failure::Transient(match (e.is_timeout(), e.is_connect()) {
        (true, true) => format!("no connection within {} s", CONNECT_TIMEOUT.as_secs()),
        (true, false) => format!("nothing arrived for {} s", READ_TIMEOUT.as_secs()),
        _ => chain(&e),
    })
}

/// An error and its sources, `: `-separated (reqwest's own message names only the URL).
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    first_line(&text).to_owned()
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrapped(std::io::Error);

    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("error sending request for url (http://127.0.0.1:9/v2/)")
        }
    }

    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn error_chains_name_the_cause() {
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(
            chain(&Wrapped(refused)),
            "error sending request for url (http://127.0.0.1:9/v2/): refused"
        );
    }
}
