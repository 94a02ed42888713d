//! Retries: which answers are worth another attempt (429 and 503), how long to wait before it
//! (`Retry-After`, else exponential back-off), and the budget that bounds the attempts and the
//! total wait of one request.

use std::future::Future;
use std::time::{Duration, SystemTime};

use reqwest::header::{self, HeaderMap};
use reqwest::{Response, StatusCode, Url};

use super::error::RegistryError;
use super::options::ClientOptions;

/// Sends a request by calling `attempt` until its answer is not 429 or 503, waiting between
/// attempts as [`RetryBudget::next_wait`] says, and returns that answer (or the first error).
/// `url` and `host` name the request in the error and the log.
pub(super) async fn until_settled<Attempt, Sent>(
    options: &ClientOptions,
    host: &str,
    url: &Url,
    mut attempt: Attempt,
) -> Result<Response, RegistryError>
where
    Attempt: FnMut() -> Sent,
    Sent: Future<Output = Result<Response, RegistryError>>,
{
    let mut budget = RetryBudget::default();
    loop {
        let response = attempt().await?;
        let status = response.status();
        if !is_retryable(status) {
            return Ok(response);
        }
        let wait = budget.next_wait(&response, url, options)?;
        tracing::debug!(registry = %host, %url, %status, ?wait, "retrying");
        tokio::time::sleep(wait).await;
    }
}

/// 429 and 503 are worth retrying after a wait; other failures are not.
fn is_retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE
}

/// The retries one request has spent: attempts and time waited, bounded by the options.
#[derive(Default)]
struct RetryBudget {
    attempts: u32,
    waited: Duration,
}

impl RetryBudget {
    /// How long to wait before retrying after `response` (429 or 503), or the error once the
    /// attempts or the total wait would run over their bounds.
    fn next_wait(
        &mut self,
        response: &Response,
        url: &Url,
        options: &ClientOptions,
    ) -> Result<Duration, RegistryError> {
        self.attempts += 1;
        let wait = retry_wait(response.headers(), self.attempts, SystemTime::now())
            .min(options.retry_wait_cap);
        if self.attempts >= options.max_attempts.max(1)
            || self.waited + wait > options.max_total_retry_wait
        {
            return Err(RegistryError::RetriesExhausted {
                url: url.to_string(),
                status: response.status().as_u16(),
                attempts: self.attempts,
            });
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
    fn retry_without_header_backs_off_exponentially() {
        let now = SystemTime::now();
        let waits: Vec<u64> = (1..=4)
            .map(|n| retry_wait(&HeaderMap::new(), n, now).as_secs())
            .collect();
        assert_eq!(waits, [1, 2, 4, 8]);
    }
}
