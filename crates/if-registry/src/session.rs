//! One authenticated read from one origin (`send_authed`), and the mirror-then-source
//! order of origins for an image (`with_fallback`).
//!
//! A request goes out with what the host asked for last (nothing, Basic, or a cached
//! token); a 401 is answered once: the challenge is read, a token fetched (or Basic
//! credentials taken) and the request sent again. A second 401 is [`RegistryError::Unauthorized`].

use crate::Client;
use crate::auth::{self, AuthContext, Known, Scheme};
use crate::credentials::Credentials;
use crate::endpoint::Origin;
use crate::error::{RegistryError, Subject};
use crate::http::{self, Kind, Method, Reply, Request, Tally};

/// One origin to ask, with what to authenticate with there.
pub(crate) struct Endpoint<'a> {
    pub subject: &'a Subject,
    pub origin: Origin,
    pub credentials: Option<Credentials>,
    /// The repository path on this origin.
    pub repository: &'a str,
    /// A mirror (its token requests carry this repository's scope only).
    pub mirror: bool,
}

impl Endpoint<'_> {
    /// `scheme://authority/v2/<repository>/<rest>`.
    pub(crate) fn url(&self, rest: &str) -> String {
        format!("{}/v2/{}/{rest}", self.origin.base(), self.repository)
    }

    fn auth_context(&self) -> AuthContext<'_> {
        AuthContext {
            subject: self.subject,
            authority: &self.origin.authority,
            credentials: self.credentials.as_ref(),
            scope: format!("repository:{}:pull", self.repository),
            batch: !self.mirror,
        }
    }

    /// The error for an answer the caller does not accept: 401/403 → `Unauthorized`,
    /// 404 → `NotFound`, anything else → `InvalidResponse`.
    pub(crate) fn status_error(
        &self,
        client: &Client,
        request: &Request,
        reply: &Reply,
    ) -> RegistryError {
        let message = http::message(client, request, reply.status, &reply.body);
        let host = self.origin.authority.clone();
        let subject = Box::new(self.subject.clone());
        match reply.status {
            401 | 403 => RegistryError::Unauthorized {
                subject,
                host,
                status: reply.status,
                with_credentials: self.credentials.is_some(),
                message: challenge_error(reply).unwrap_or(message),
            },
            404 => RegistryError::NotFound {
                subject,
                host,
                code: http::error_code(&reply.body),
                message,
            },
            status => RegistryError::InvalidResponse {
                subject,
                host,
                url: request.url.clone(),
                status,
                message: format!("unexpected status: {message}"),
            },
        }
    }
}

/// A 401's challenge `error` (`insufficient_scope`), when the body says nothing better.
fn challenge_error(reply: &Reply) -> Option<String> {
    if !reply.body.is_empty() {
        return None;
    }
    let values = reply
        .headers
        .get_all("www-authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok());
    auth::parse_challenge(values)?.error
}

/// Sends a GET or HEAD to `url` on `endpoint`, authenticating as its host asks. Returns
/// any answer but a 401 (and 429/5xx, which the retry loop turns into errors) together with
/// the request that got it.
pub(crate) fn send_authed(
    client: &Client,
    endpoint: &Endpoint<'_>,
    method: Method,
    url: String,
    accept: &str,
    tally: &Tally,
) -> Result<(Request, Reply), RegistryError> {
    let ctx = endpoint.auth_context();
    let host = endpoint.origin.authority.as_str();
    let (auth, discovery) = match auth::known_scheme(client, host) {
        Known::Scheme(scheme) => (
            auth::authorization(client, &ctx, &scheme, None, None, tally)?,
            None,
        ),
        Known::Discover(discovery) => (None, Some(discovery)),
    };
    let mut request = Request {
        method,
        kind: Kind::Registry,
        url,
        headers: vec![("Accept", accept.to_owned())],
        auth,
        form: None,
    };
    let reply = http::send(client, &request, tally, endpoint.subject, host)?;
    if reply.status != 401 {
        if let Some(discovery) = discovery {
            discovery.learned(Scheme::Anonymous);
        }
        return Ok((request, reply));
    }
    let values = reply
        .headers
        .get_all("www-authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok());
    let Some(challenge) = auth::parse_challenge(values) else {
        return Err(endpoint.status_error(client, &request, &reply));
    };
    let refused = request.auth.take();
    // The token first, the scheme after: callers waiting for the scheme then find the token
    // (for their scope too, when it was asked for with the expected repositories' scopes).
    let retry_auth = auth::authorization(
        client,
        &ctx,
        &challenge.scheme,
        challenge.scope.as_deref(),
        refused.as_ref(),
        tally,
    );
    match discovery {
        Some(discovery) => discovery.learned(challenge.scheme.clone()),
        None => auth::remember_scheme(client, host, challenge.scheme.clone()),
    }
    let retry_auth = retry_auth?;
    let Some(retry_auth) = retry_auth else {
        // Basic without credentials, or the same credentials refused again.
        request.auth = refused;
        return Err(endpoint.status_error(client, &request, &reply));
    };
    request.auth = Some(retry_auth);
    let reply = http::send(client, &request, tally, endpoint.subject, host)?;
    if reply.status == 401 {
        return Err(endpoint.status_error(client, &request, &reply));
    }
    Ok((request, reply))
}

/// Runs `call` on the registry's mirror (when one is configured) and, if that fails, on the
/// registry itself. Returns the result and the mirror's failure, if it failed and the source
/// answered.
pub(crate) fn with_fallback<T>(
    client: &Client,
    subject: &Subject,
    mut call: impl FnMut(&Endpoint<'_>) -> Result<T, RegistryError>,
) -> Result<(T, Option<Box<RegistryError>>), RegistryError> {
    let mut mirror_failure = None;
    if let Some(mirror) = client.config.mirrors.get(&subject.registry) {
        let attempt = client.mirror_origin(mirror, subject).and_then(|origin| {
            let credentials = client.config.credentials.get(&origin.authority).cloned();
            call(&Endpoint {
                subject,
                origin,
                credentials,
                repository: &subject.repository,
                mirror: true,
            })
        });
        match attempt {
            Ok(value) => return Ok((value, None)),
            Err(err) => mirror_failure = Some(Box::new(err)),
        }
    }
    let value = call(&source_endpoint(client, subject)?)?;
    Ok((value, mirror_failure))
}

/// The registry itself (never its mirror) for `subject`, with the credentials of its
/// repository.
pub(crate) fn source_endpoint<'a>(
    client: &Client,
    subject: &'a Subject,
) -> Result<Endpoint<'a>, RegistryError> {
    let origin = client.source_origin(&subject.registry);
    let credentials = client
        .credentials_for(&subject.registry, &origin.authority, &subject.repository)
        .map_err(|message| RegistryError::Credentials {
            subject: Box::new(subject.clone()),
            host: subject.registry.clone(),
            message,
        })?;
    Ok(Endpoint {
        subject,
        origin,
        credentials,
        repository: &subject.repository,
        mirror: false,
    })
}
