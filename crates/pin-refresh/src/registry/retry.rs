//! Retries: which failures of an idempotent request (every request the client sends is a GET
//! or a HEAD) are worth another attempt, how long to wait before it (`Retry-After`, else
//! exponential back-off), the budget that bounds the attempts and the total wait of one
//! request, and the count of retries by reason.
//!
//! Retried: the answers 408, 429, 500, 502, 503 and 504, and the failures that say nothing
//! about the request itself: a connection that could not be made, one reset or closed before
//! the answer was complete (the body included), and a timeout. Every other answer or error is
//! final at once.

use std::future::Future;
use std::time::{Duration, SystemTime};

use reqwest::header::{self, HeaderMap};
use reqwest::{Response, StatusCode, Url};

use super::error::{RegistryError, TransportFailure};
use super::options::ClientOptions;
use super::transport::Transport;

/// Sends a request by calling `attempt`, and hands its answer to `finish` (which checks the
/// status and reads the body). An answer with a retryable status, or a transient failure of
/// either step, is tried again after the wait [`RetryBudget::next_wait`] says, until the
/// budget runs out; every retry is counted on `transport`. `url` and `host` name the request
/// in the error and the log.
pub(super) async fn until_settled<T, Attempt, Sent, Finish, Finished>(
    transport: &Transport,
    options: &ClientOptions,
    host: &str,
    url: &Url,
    mut attempt: Attempt,
    mut finish: Finish,
) -> Result<T, RegistryError>
where
    Attempt: FnMut() -> Sent,
    Sent: Future<Output = Result<Response, RegistryError>>,
    Finish: FnMut(Response) -> Finished,
    Finished: Future<Output = Result<T, RegistryError>>,
{
    let mut budget = RetryBudget::default();
    loop {
        let failed = match attempt().await {
            Ok(response) => match RetryReason::of_status(response.status()) {
                Some(reason) => Failed::Answer(reason, response),
                None => match finish(response).await {
                    Ok(done) => return Ok(done),
                    Err(error) => Failed::Error(error),
                },
            },
            Err(error) => Failed::Error(error),
        };
        let (reason, wait) = match failed {
            Failed::Answer(reason, response) => {
                let wait = budget
                    .next_wait(response.headers(), options)
                    .map_err(|attempts| RegistryError::RetriesExhausted {
                        url: url.to_string(),
                        status: response.status().as_u16(),
                        attempts,
                    })?;
                (reason, wait)
            }
            Failed::Error(error) => {
                let Some(reason) = RetryReason::of_error(&error) else {
                    return Err(error);
                };
                let wait = budget
                    .next_wait(&HeaderMap::new(), options)
                    .map_err(|attempts| RegistryError::FaultPersisted {
                        attempts,
                        cause: Box::new(error),
                    })?;
                (reason, wait)
            }
        };
        transport.count_retry(reason);
        tracing::debug!(registry = %host, %url, reason = reason.as_str(), ?wait, "retrying");
        tokio::time::sleep(wait).await;
    }
}

/// One attempt that did not settle the request.
enum Failed {
    /// An answer with a retryable status.
    Answer(RetryReason, Response),
    /// No usable answer (retryable or not).
    Error(RegistryError),
}

/// Why a request was sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RetryReason {
    /// `408 Request Timeout`.
    RequestTimeout,
    /// `429 Too Many Requests`.
    TooManyRequests,
    /// `500 Internal Server Error`.
    InternalServerError,
    /// `502 Bad Gateway`.
    BadGateway,
    /// `503 Service Unavailable`.
    ServiceUnavailable,
    /// `504 Gateway Timeout`.
    GatewayTimeout,
    /// The connection could not be made (refused, unreachable, DNS).
    Connect,
    /// The connection was reset or closed before the answer was complete.
    Reset,
    /// No complete answer within the request timeout.
    Timeout,
}

impl RetryReason {
    /// The reason to retry an answer with `status`, if it is one worth retrying.
    fn of_status(status: StatusCode) -> Option<Self> {
        Some(match status {
            StatusCode::REQUEST_TIMEOUT => Self::RequestTimeout,
            StatusCode::TOO_MANY_REQUESTS => Self::TooManyRequests,
            StatusCode::INTERNAL_SERVER_ERROR => Self::InternalServerError,
            StatusCode::BAD_GATEWAY => Self::BadGateway,
            StatusCode::SERVICE_UNAVAILABLE => Self::ServiceUnavailable,
            StatusCode::GATEWAY_TIMEOUT => Self::GatewayTimeout,
            _ => return None,
        })
    }

    /// The reason to retry after `error`, if it is transient.
    fn of_error(error: &RegistryError) -> Option<Self> {
        match error {
            RegistryError::Timeout { .. } => Some(Self::Timeout),
            RegistryError::Truncated { .. } => Some(Self::Reset),
            RegistryError::Transport { failure, .. } => match failure {
                TransportFailure::Connect => Some(Self::Connect),
                TransportFailure::Reset => Some(Self::Reset),
                TransportFailure::Other => None,
            },
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::RequestTimeout => "HTTP 408",
            Self::TooManyRequests => "HTTP 429",
            Self::InternalServerError => "HTTP 500",
            Self::BadGateway => "HTTP 502",
            Self::ServiceUnavailable => "HTTP 503",
            Self::GatewayTimeout => "HTTP 504",
            Self::Connect => "connect",
            Self::Reset => "reset",
            Self::Timeout => "timeout",
        }
    }
}

/// Retries of one registry host, by reason (the answer's status, or the failure).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetryCounts {
    /// Retries after `408 Request Timeout`.
    pub http408: u32,
    /// Retries after `429 Too Many Requests`.
    pub http429: u32,
    /// Retries after `500 Internal Server Error`.
    pub http500: u32,
    /// Retries after `502 Bad Gateway`.
    pub http502: u32,
    /// Retries after `503 Service Unavailable`.
    pub http503: u32,
    /// Retries after `504 Gateway Timeout`.
    pub http504: u32,
    /// Retries after a connection could not be made.
    pub connect: u32,
    /// Retries after a connection was reset or closed before the answer was complete.
    pub reset: u32,
    /// Retries after a request timed out.
    pub timeout: u32,
}

impl RetryCounts {
    /// Counts one retry.
    pub(super) fn record(&mut self, reason: RetryReason) {
        let counter = match reason {
            RetryReason::RequestTimeout => &mut self.http408,
            RetryReason::TooManyRequests => &mut self.http429,
            RetryReason::InternalServerError => &mut self.http500,
            RetryReason::BadGateway => &mut self.http502,
            RetryReason::ServiceUnavailable => &mut self.http503,
            RetryReason::GatewayTimeout => &mut self.http504,
            RetryReason::Connect => &mut self.connect,
            RetryReason::Reset => &mut self.reset,
            RetryReason::Timeout => &mut self.timeout,
        };
        *counter += 1;
    }

    /// All retries.
    pub fn total(&self) -> u32 {
        self.http408
            + self.http429
            + self.http500
            + self.http502
            + self.http503
            + self.http504
            + self.connect
            + self.reset
            + self.timeout
    }
}

/// The retries one request has spent: attempts and time waited, bounded by the options.
#[derive(Default)]
struct RetryBudget {
    attempts: u32,
    waited: Duration,
}

impl RetryBudget {
    /// How long to wait before the next attempt after one that failed (`headers`: its
    /// answer's, empty when there was none), or the attempts made once the attempts or the
    /// total wait would run over their bounds.
    fn next_wait(&mut self, headers: &HeaderMap, options: &ClientOptions) -> Result<Duration, u32> {
        self.attempts += 1;
        let wait =
            retry_wait(headers, self.attempts, SystemTime::now()).min(options.retry_wait_cap);
        if self.attempts >= options.max_attempts.max(1)
            || self.waited + wait > options.max_total_retry_wait
        {
            return Err(self.attempts);
        }
        self.waited += wait;
        Ok(wait)
    }
}

/// How long to wait before retry number `attempt` (1-based): `Retry-After` in seconds or as
/// an HTTP date, else exponential from one second.
fn retry_wait(headers: &HeaderMap, attempt: u32, now: SystemTime) -> Duration {
    let from_header = headers
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, now));
    from_header.unwrap_or_else(|| Duration::from_secs(1 << attempt.saturating_sub(1).min(6)))
}

/// Parses a `Retry-After` value: delay seconds or an HTTP date (a date in the past means no
/// wait).
fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(20));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(20))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(20));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn only_timeouts_rate_limits_and_server_or_gateway_failures_are_retried() {
        let retried: Vec<u16> = (100..600)
            .filter(|code| {
                StatusCode::from_u16(*code)
                    .ok()
                    .and_then(RetryReason::of_status)
                    .is_some()
            })
            .collect();
        assert_eq!(retried, [408, 429, 500, 502, 503, 504]);
    }

    #[test]
    fn connect_reset_timeout_and_cut_off_bodies_are_retried_other_errors_are_not() {
        let url = "https://ghcr.io/v2/x/manifests/v1".to_owned();
        let transport = |failure| RegistryError::Transport {
            url: url.clone(),
            cause: "test".to_owned(),
            failure,
        };
        let cases = [
            (
                transport(TransportFailure::Connect),
                Some(RetryReason::Connect),
            ),
            (transport(TransportFailure::Reset), Some(RetryReason::Reset)),
            (transport(TransportFailure::Other), None),
            (
                RegistryError::Timeout {
                    url: url.clone(),
                    seconds: 30.0,
                },
                Some(RetryReason::Timeout),
            ),
            (
                RegistryError::Truncated {
                    url: url.clone(),
                    received: 10,
                    expected: Some(20),
                },
                Some(RetryReason::Reset),
            ),
            (RegistryError::NotFound { url: url.clone() }, None),
            (
                RegistryError::Status {
                    url: url.clone(),
                    status: 500,
                },
                None,
            ),
        ];
        for (error, reason) in cases {
            assert_eq!(RetryReason::of_error(&error), reason, "{error:?}");
        }
    }

    #[test]
    fn retry_without_header_backs_off_exponentially() {
        let now = SystemTime::now();
        let waits: Vec<u64> = (1..=4)
            .map(|n| retry_wait(&HeaderMap::new(), n, now).as_secs())
            .collect();
        assert_eq!(waits, [1, 2, 4, 8]);
    }
}
