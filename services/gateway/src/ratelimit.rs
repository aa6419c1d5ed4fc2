//! Rate limits: token buckets per tenant and per credential inside a tenant,
//! so one tenant (or one noisy key) cannot starve the others.
//!
//! A call names the buckets it draws from (usually its tenant's and its API
//! key's or user's) and takes one token from each, all or nothing: a refused
//! call takes none. Tokens refill continuously at [`Rate::per_second`] up to
//! [`Rate::burst`]; a bucket never seen before is full.
//!
//! Two backends share the same arithmetic: [`InProcessLimiter`] (embedded,
//! one process) and [`RedisLimiter`] (production, shared by every gateway
//! replica; one Lua script per call, so the check-and-take is atomic across
//! all the call's buckets). Time is the caller's `now`, never the server's,
//! so both behave alike and tests are deterministic.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
    time::Duration,
};

use chrono::{DateTime, Utc};
use redis::aio::ConnectionManager;

/// One bucket a call draws from: per tenant, or per credential (API key /
/// user session) inside a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BucketKey {
    /// The tenant the bucket belongs to.
    pub tenant: String,
    /// `tenant` for the whole tenant, `key:<id>` for an API key,
    /// `user:<id>` for a user session.
    pub scope: String,
}

impl BucketKey {
    /// The bucket shared by every call of `tenant`.
    pub fn tenant(tenant: impl Into<String>) -> Self {
        Self {
            tenant: tenant.into(),
            scope: "tenant".to_owned(),
        }
    }

    /// The bucket of one API key of `tenant`.
    pub fn api_key(tenant: impl Into<String>, key_id: &str) -> Self {
        Self {
            tenant: tenant.into(),
            scope: format!("key:{key_id}"),
        }
    }

    /// The bucket of one user (session) of `tenant`.
    pub fn user(tenant: impl Into<String>, user_id: &str) -> Self {
        Self {
            tenant: tenant.into(),
            scope: format!("user:{user_id}"),
        }
    }
}

/// How fast a bucket refills and how many tokens it holds at most.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Tokens added per second, continuously. Must be finite and positive.
    pub per_second: f64,
    /// The most tokens the bucket holds (and what a new bucket starts with).
    /// Must be at least 1.
    pub burst: u32,
}

/// The call must wait this long before retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

/// Why a call may not proceed.
#[derive(Debug, thiserror::Error)]
pub enum RateLimitError {
    /// A bucket is empty; retry after the given delay.
    #[error("rate limited, retry after {0:?}")]
    Limited(RetryAfter),
    /// The limiter could not decide (Redis unreachable, or a rate that is not
    /// a rate: zero, negative or not finite per second, or a burst of 0).
    #[error("rate limiter unavailable: {0}")]
    Unavailable(String),
}

/// Takes tokens from the buckets a call draws from.
#[async_trait::async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// Takes one token from every bucket (all or nothing: a refused call
    /// takes none). A bucket listed twice is drawn from once, at the rate of
    /// its first listing.
    async fn acquire(
        &self,
        buckets: &[(BucketKey, Rate)],
        now: DateTime<Utc>,
    ) -> Result<(), RateLimitError>;
}

/// A bucket counts as holding a token from `1 - EPSILON`, and the advertised
/// delay is computed for `1 - EPSILON / 2`, so float noise neither adds a
/// millisecond to the delay nor refuses a caller who waited exactly that long.
const EPSILON: f64 = 1e-9;
/// The longest delay ever advertised (a year), so huge waits from tiny rates
/// stay representable everywhere (Lua numbers, Redis integers).
const MAX_WAIT_MS: f64 = 365.0 * 24.0 * 3600.0 * 1000.0;
/// How long a Redis bucket outlives the moment it is full again, so clock
/// skew between replicas or a slow round trip never drops a bucket early.
const EXPIRY_MARGIN_MS: f64 = 1000.0;
/// Above this many in-process buckets, full idle ones are dropped.
const DEFAULT_MAX_BUCKETS: usize = 100_000;

/// The distinct buckets of a call, with their rates checked.
fn distinct(buckets: &[(BucketKey, Rate)]) -> Result<Vec<&(BucketKey, Rate)>, RateLimitError> {
    let mut out: Vec<&(BucketKey, Rate)> = Vec::with_capacity(buckets.len());
    for entry @ (key, rate) in buckets {
        if !(rate.per_second.is_finite() && rate.per_second > 0.0 && rate.burst >= 1) {
            return Err(RateLimitError::Unavailable(format!(
                "invalid rate for {}/{}: {} per second, burst {}",
                key.tenant, key.scope, rate.per_second, rate.burst
            )));
        }
        if !out.iter().any(|(seen, _)| seen == key) {
            out.push(entry);
        }
    }
    Ok(out)
}

/// `now` in microseconds since the epoch: the clock both backends count in.
fn micros(now: DateTime<Utc>) -> i64 {
    now.timestamp_micros()
}

/// The refused call's delay from the longest wait in milliseconds.
fn limited(wait_ms: f64) -> RateLimitError {
    // Whole milliseconds, at least one (the caller must not spin).
    let wait_ms = wait_ms.ceil().clamp(1.0, MAX_WAIT_MS) as u64;
    RateLimitError::Limited(RetryAfter(Duration::from_millis(wait_ms)))
}

/// The state of one in-process bucket (the same fields the Redis hash holds).
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    /// When `tokens` was last brought up to date (µs since the epoch); never
    /// moves backwards.
    updated_us: i64,
    /// The rate it was last drawn at (for eviction).
    rate: Rate,
}

impl Bucket {
    fn full(rate: Rate, now_us: i64) -> Self {
        Self {
            tokens: f64::from(rate.burst),
            updated_us: now_us,
            rate,
        }
    }

    /// The bucket refilled up to `now_us` at `rate`. The Lua script repeats
    /// this arithmetic operation for operation.
    fn refilled(self, rate: Rate, now_us: i64) -> Self {
        let burst = f64::from(rate.burst);
        if now_us > self.updated_us {
            let elapsed = (now_us - self.updated_us) as f64;
            Self {
                tokens: burst.min(self.tokens + elapsed * rate.per_second / 1e6),
                updated_us: now_us,
                rate,
            }
        } else {
            Self {
                tokens: burst.min(self.tokens),
                updated_us: self.updated_us,
                rate,
            }
        }
    }

    /// Milliseconds until it holds one token, or `None` if it holds one now.
    fn wait_ms(&self) -> Option<f64> {
        (self.tokens < 1.0 - EPSILON).then(|| {
            ((1.0 - self.tokens - EPSILON / 2.0) * 1000.0 / self.rate.per_second).min(MAX_WAIT_MS)
        })
    }

    /// Whether, at `now_us`, it would be indistinguishable from a new bucket.
    fn is_full_at(&self, now_us: i64) -> bool {
        let refilled = self.refilled(self.rate, now_us);
        refilled.tokens >= f64::from(self.rate.burst) - EPSILON
    }
}

#[derive(Debug)]
struct Buckets {
    map: HashMap<BucketKey, Bucket>,
    /// The size above which the next call sweeps out full buckets.
    sweep_above: usize,
}

/// Token buckets in this process (embedded deployments, tests).
///
/// The map stays bounded: when it grows past its limit, buckets that have
/// refilled completely (and so behave as new ones) are dropped. If most
/// buckets are busy the limit is raised to twice the live count, so sweeps
/// stay rare.
#[derive(Debug)]
pub struct InProcessLimiter {
    buckets: Mutex<Buckets>,
    max_buckets: usize,
}

impl Default for InProcessLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl InProcessLimiter {
    /// A limiter that sweeps when it tracks more than 100,000 buckets.
    pub fn new() -> Self {
        Self::with_max_buckets(DEFAULT_MAX_BUCKETS)
    }

    /// A limiter that sweeps when it tracks more than `max_buckets` buckets.
    pub fn with_max_buckets(max_buckets: usize) -> Self {
        Self {
            buckets: Mutex::new(Buckets {
                map: HashMap::new(),
                sweep_above: max_buckets,
            }),
            max_buckets,
        }
    }

    fn take(
        &self,
        buckets: &[(BucketKey, Rate)],
        now: DateTime<Utc>,
    ) -> Result<(), RateLimitError> {
        let wanted = distinct(buckets)?;
        if wanted.is_empty() {
            return Ok(());
        }
        let now_us = micros(now);
        // Nothing below panics, so a poisoned lock still guards sound state.
        let mut state = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let mut refilled = Vec::with_capacity(wanted.len());
        let mut wait_ms: Option<f64> = None;
        for (key, rate) in &wanted {
            let bucket = match state.map.get(key) {
                Some(bucket) => bucket.refilled(*rate, now_us),
                None => Bucket::full(*rate, now_us),
            };
            if let Some(wait) = bucket.wait_ms() {
                wait_ms = Some(wait_ms.map_or(wait, |longest| longest.max(wait)));
            }
            refilled.push(bucket);
        }
        if let Some(wait_ms) = wait_ms {
            // Refused: nothing is written, so no bucket loses a token (and
            // refused calls create no entries).
            return Err(limited(wait_ms));
        }
        for ((key, _), bucket) in wanted.into_iter().zip(refilled) {
            let taken = Bucket {
                tokens: bucket.tokens - 1.0,
                ..bucket
            };
            match state.map.get_mut(key) {
                Some(slot) => *slot = taken,
                None => {
                    state.map.insert(key.clone(), taken);
                }
            }
        }
        if state.map.len() > state.sweep_above {
            state.map.retain(|_, bucket| !bucket.is_full_at(now_us));
            state.sweep_above = self.max_buckets.max(state.map.len().saturating_mul(2));
        }
        Ok(())
    }

    #[cfg(test)]
    fn bucket_count(&self) -> usize {
        self.buckets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .map
            .len()
    }
}

#[async_trait::async_trait]
impl RateLimiter for InProcessLimiter {
    async fn acquire(
        &self,
        buckets: &[(BucketKey, Rate)],
        now: DateTime<Utc>,
    ) -> Result<(), RateLimitError> {
        self.take(buckets, now)
    }
}

/// The all-or-nothing token bucket over several keys, atomically.
///
/// `KEYS[i]` is a bucket (a hash: `tokens`, `updated_us`); `ARGV[1]` is now in
/// µs since the epoch; `ARGV[2i]`, `ARGV[2i+1]` are bucket i's tokens per
/// second and burst. Returns 0 when the tokens were taken, otherwise the wait
/// in whole milliseconds (at least 1) and writes nothing. The arithmetic is
/// `Bucket::refilled` / `Bucket::wait_ms`, operation for operation; the
/// upper-case names are this module's constants, filled in by
/// [`acquire_script`].
const ACQUIRE_SCRIPT: &str = r"
local epsilon = EPSILON
local max_wait_ms = MAX_WAIT_MS
local margin_ms = EXPIRY_MARGIN_MS
local now = tonumber(ARGV[1])
local tokens = {}
local updated = {}
local wait = nil
for i = 1, #KEYS do
  local rate = tonumber(ARGV[2 * i])
  local burst = tonumber(ARGV[2 * i + 1])
  local state = redis.call('HMGET', KEYS[i], 'tokens', 'updated_us')
  local t = tonumber(state[1])
  local u = tonumber(state[2])
  if t == nil or u == nil then
    t = burst
    u = now
  end
  if now > u then
    t = math.min(burst, t + (now - u) * rate / 1e6)
    u = now
  else
    t = math.min(burst, t)
  end
  tokens[i] = t
  updated[i] = u
  if t < 1 - epsilon then
    local w = math.min((1 - t - epsilon / 2) * 1000 / rate, max_wait_ms)
    if wait == nil or w > wait then
      wait = w
    end
  end
end
if wait ~= nil then
  return math.max(1, math.min(math.ceil(wait), max_wait_ms))
end
for i = 1, #KEYS do
  local rate = tonumber(ARGV[2 * i])
  local burst = tonumber(ARGV[2 * i + 1])
  local t = tokens[i] - 1
  redis.call('HSET', KEYS[i], 'tokens', string.format('%.17g', t),
    'updated_us', string.format('%.17g', updated[i]))
  local ttl = math.ceil(math.min((burst - t) * 1000 / rate, max_wait_ms) + margin_ms)
  redis.call('PEXPIRE', KEYS[i], string.format('%d', ttl))
end
return 0
";

/// The script with this module's constants in place.
fn acquire_script() -> String {
    ACQUIRE_SCRIPT
        .replace("EXPIRY_MARGIN_MS", &EXPIRY_MARGIN_MS.to_string())
        .replace("MAX_WAIT_MS", &MAX_WAIT_MS.to_string())
        .replace("EPSILON", &EPSILON.to_string())
}

/// The Redis key of a bucket: `{namespace}:{<tenant>}:ratelimit:{scope}`.
/// The braces are a Redis Cluster hash tag: all of a call's buckets belong
/// to one tenant, so they land in one slot and one script can take them.
/// (`kefu:{tenant}:…` in a default installation).
fn redis_key(namespace: &str, key: &BucketKey) -> String {
    format!("{namespace}:{{{}}}:ratelimit:{}", key.tenant, key.scope)
}

/// Token buckets in Redis, shared by every gateway replica.
///
/// Each call is one script run over all its buckets, so the check and the
/// take are atomic. Buckets expire (PEXPIRE) once they would be full again,
/// plus a second: an absent key is a full bucket. All of a call's keys must
/// live in one Redis Cluster slot, which the tenant hash tag in every key
/// ensures for the buckets of one tenant.
pub struct RedisLimiter {
    connection: ConnectionManager,
    namespace: String,
    script: String,
    /// The script's SHA1 as Redis reported it on `SCRIPT LOAD`.
    script_sha: Mutex<Option<String>>,
}

impl std::fmt::Debug for RedisLimiter {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("RedisLimiter")
            .field("connection", &self.connection)
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl RedisLimiter {
    /// A limiter on `manager`, its keys prefixed by `namespace` (`kefu`,
    /// `bus.namespace`; tests use a unique one).
    pub fn new(manager: ConnectionManager, namespace: String) -> Self {
        Self {
            connection: manager,
            namespace,
            script: acquire_script(),
            script_sha: Mutex::new(None),
        }
    }

    fn cached_sha(&self) -> Option<String> {
        self.script_sha
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    async fn load_script(&self, connection: &mut ConnectionManager) -> redis::RedisResult<String> {
        let sha: String = redis::cmd("SCRIPT")
            .arg("LOAD")
            .arg(&self.script)
            .query_async(connection)
            .await?;
        *self
            .script_sha
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(sha.clone());
        Ok(sha)
    }

    /// Runs the script by SHA, loading it first when Redis does not have it
    /// (first call, Redis restarted or failed over).
    async fn run(&self, keys: &[String], args: &[String]) -> redis::RedisResult<i64> {
        let mut connection = self.connection.clone();
        let evalsha = |sha: &str| {
            let mut command = redis::cmd("EVALSHA");
            command.arg(sha).arg(keys.len()).arg(keys).arg(args);
            command
        };
        if let Some(sha) = self.cached_sha() {
            match evalsha(&sha).query_async(&mut connection).await {
                Err(error) if error.code() == Some("NOSCRIPT") => {}
                result => return result,
            }
        }
        let sha = self.load_script(&mut connection).await?;
        evalsha(&sha).query_async(&mut connection).await
    }
}

#[async_trait::async_trait]
impl RateLimiter for RedisLimiter {
    async fn acquire(
        &self,
        buckets: &[(BucketKey, Rate)],
        now: DateTime<Utc>,
    ) -> Result<(), RateLimitError> {
        let wanted = distinct(buckets)?;
        if wanted.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = wanted
            .iter()
            .map(|(key, _)| redis_key(&self.namespace, key))
            .collect();
        let mut args = Vec::with_capacity(1 + 2 * wanted.len());
        args.push(micros(now).to_string());
        for (_, rate) in &wanted {
            // `{}` on f64 prints the shortest string that parses back exactly.
            args.push(rate.per_second.to_string());
            args.push(rate.burst.to_string());
        }
        let wait_ms = self
            .run(&keys, &args)
            .await
            .map_err(|error| RateLimitError::Unavailable(error.to_string()))?;
        if wait_ms == 0 {
            Ok(())
        } else {
            Err(limited(wait_ms as f64))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{
        sync::atomic::{AtomicU64, Ordering},
        time::{SystemTime, UNIX_EPOCH},
    };

    use chrono::TimeDelta;

    use super::*;

    fn start() -> DateTime<Utc> {
        DateTime::from_timestamp(1_900_000_000, 0).expect("valid time")
    }

    fn at(milliseconds: i64) -> DateTime<Utc> {
        start() + TimeDelta::milliseconds(milliseconds)
    }

    fn rate(per_second: f64, burst: u32) -> Rate {
        Rate { per_second, burst }
    }

    fn retry_after(result: Result<(), RateLimitError>) -> Duration {
        match result {
            Err(RateLimitError::Limited(RetryAfter(delay))) => delay,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    async fn take(
        limiter: &dyn RateLimiter,
        buckets: &[(BucketKey, Rate)],
        now: DateTime<Utc>,
    ) -> Result<(), RateLimitError> {
        limiter.acquire(buckets, now).await
    }

    // The behaviour both backends share, written once.

    async fn burst_is_served_then_refused_until_the_refill(limiter: &dyn RateLimiter) {
        let bucket = [(BucketKey::tenant("acme"), rate(2.0, 3))];
        for _ in 0..3 {
            take(limiter, &bucket, at(0))
                .await
                .expect("within the burst");
        }
        // One token every 500 ms.
        let delay = retry_after(take(limiter, &bucket, at(0)).await);
        assert_eq!(delay, Duration::from_millis(500));
        let delay = retry_after(take(limiter, &bucket, at(499)).await);
        assert_eq!(delay, Duration::from_millis(1));
        take(limiter, &bucket, at(500))
            .await
            .expect("refilled after the advertised delay");

        // A refill that is not whole milliseconds is rounded up.
        let thirds = [(BucketKey::tenant("globex"), rate(3.0, 1))];
        take(limiter, &thirds, at(0)).await.expect("first call");
        let delay = retry_after(take(limiter, &thirds, at(0)).await);
        assert_eq!(delay, Duration::from_millis(334));
        take(limiter, &thirds, at(334))
            .await
            .expect("served after the rounded-up delay");
    }

    async fn tokens_refill_as_time_passes_up_to_the_burst(limiter: &dyn RateLimiter) {
        let bucket = [(BucketKey::tenant("acme"), rate(1.0, 2))];
        take(limiter, &bucket, at(0)).await.expect("first");
        take(limiter, &bucket, at(0)).await.expect("second");
        take(limiter, &bucket, at(0)).await.unwrap_err();

        // One second refills one token.
        take(limiter, &bucket, at(1000))
            .await
            .expect("refilled one");
        take(limiter, &bucket, at(1000)).await.unwrap_err();

        // A long idle time refills to the burst, no further.
        take(limiter, &bucket, at(60_000))
            .await
            .expect("first after idle");
        take(limiter, &bucket, at(60_000))
            .await
            .expect("second after idle");
        let delay = retry_after(take(limiter, &bucket, at(60_000)).await);
        assert_eq!(delay, Duration::from_secs(1));

        // A clock that steps back refills nothing (and takes nothing back).
        let delay = retry_after(take(limiter, &bucket, at(59_000)).await);
        assert_eq!(delay, Duration::from_secs(1));
        take(limiter, &bucket, at(61_000)).await.expect("refilled");
    }

    async fn one_tenant_exhausting_its_bucket_does_not_refuse_another(limiter: &dyn RateLimiter) {
        let limit = rate(1.0, 2);
        let tenant_a = [(BucketKey::tenant("tenant-a"), limit)];
        let tenant_b = [(BucketKey::tenant("tenant-b"), limit)];
        take(limiter, &tenant_a, at(0)).await.expect("a first");
        take(limiter, &tenant_a, at(0)).await.expect("a second");
        take(limiter, &tenant_a, at(0)).await.unwrap_err();

        take(limiter, &tenant_b, at(0)).await.expect("b unaffected");
        take(limiter, &tenant_b, at(0))
            .await
            .expect("b has its own burst");
        take(limiter, &tenant_b, at(0)).await.unwrap_err();

        // The same credential id in two tenants is two buckets too.
        let key_a = [(BucketKey::api_key("tenant-a", "k1"), rate(1.0, 1))];
        let key_b = [(BucketKey::api_key("tenant-b", "k1"), rate(1.0, 1))];
        take(limiter, &key_a, at(0)).await.expect("a's key");
        take(limiter, &key_b, at(0))
            .await
            .expect("b's key of the same id");
    }

    async fn a_refused_call_takes_no_token_from_the_other_buckets(limiter: &dyn RateLimiter) {
        let tenant = (BucketKey::tenant("acme"), rate(1.0, 3));
        let key = (BucketKey::api_key("acme", "k1"), rate(1.0, 1));
        take(limiter, &[tenant.clone(), key.clone()], at(0))
            .await
            .expect("both have tokens");
        // The key is empty: refused, in either order, and the tenant keeps
        // its two tokens.
        for _ in 0..3 {
            take(limiter, &[tenant.clone(), key.clone()], at(0))
                .await
                .unwrap_err();
            take(limiter, &[key.clone(), tenant.clone()], at(0))
                .await
                .unwrap_err();
        }
        take(limiter, std::slice::from_ref(&tenant), at(0))
            .await
            .expect("second");
        take(limiter, std::slice::from_ref(&tenant), at(0))
            .await
            .expect("third");
        take(limiter, std::slice::from_ref(&tenant), at(0))
            .await
            .unwrap_err();

        // Now the tenant is empty: a fresh key is refused and keeps its token.
        // (The key refills so slowly that a token taken now would still be
        // missing a second later.)
        let other_key = (BucketKey::api_key("acme", "k2"), rate(0.001, 1));
        take(limiter, &[tenant.clone(), other_key.clone()], at(0))
            .await
            .unwrap_err();
        take(limiter, &[tenant.clone(), other_key.clone()], at(1000))
            .await
            .expect("the key's token was not taken by the refusals");
        take(limiter, &[other_key], at(1000)).await.unwrap_err();
    }

    async fn a_key_bucket_tighter_than_its_tenant_bucket_limits_that_key_only(
        limiter: &dyn RateLimiter,
    ) {
        let tenant = (BucketKey::tenant("acme"), rate(10.0, 10));
        let noisy = (BucketKey::api_key("acme", "noisy"), rate(1.0, 2));
        let quiet = (BucketKey::user("acme", "u1"), rate(1.0, 2));
        take(limiter, &[tenant.clone(), noisy.clone()], at(0))
            .await
            .expect("first");
        take(limiter, &[tenant.clone(), noisy.clone()], at(0))
            .await
            .expect("second");
        // Refused by the key's bucket, at the key's refill rate.
        let delay = retry_after(take(limiter, &[tenant.clone(), noisy.clone()], at(0)).await);
        assert_eq!(delay, Duration::from_secs(1));
        // Other credentials of the tenant go on, from the tenant's tokens.
        take(limiter, &[tenant.clone(), quiet.clone()], at(0))
            .await
            .expect("another credential");
        take(limiter, &[tenant.clone(), quiet.clone()], at(0))
            .await
            .expect("another credential, again");
    }

    async fn the_delay_is_the_longest_wait_among_the_refusing_buckets(limiter: &dyn RateLimiter) {
        let slow = (BucketKey::tenant("acme"), rate(0.5, 1));
        let fast = (BucketKey::api_key("acme", "k1"), rate(4.0, 1));
        take(limiter, &[slow.clone(), fast.clone()], at(0))
            .await
            .expect("first");
        let delay = retry_after(take(limiter, &[fast.clone(), slow.clone()], at(0)).await);
        assert_eq!(delay, Duration::from_secs(2));
        let delay = retry_after(take(limiter, &[fast.clone(), slow.clone()], at(1500)).await);
        assert_eq!(delay, Duration::from_millis(500));
        take(limiter, &[fast, slow], at(2000))
            .await
            .expect("both refilled");
    }

    async fn invalid_rates_and_empty_calls(limiter: &dyn RateLimiter) {
        take(limiter, &[], at(0)).await.expect("nothing to take");
        for bad in [
            rate(0.0, 1),
            rate(-1.0, 1),
            rate(f64::NAN, 1),
            rate(f64::INFINITY, 1),
            rate(1.0, 0),
        ] {
            let result = take(limiter, &[(BucketKey::tenant("acme"), bad)], at(0)).await;
            assert!(
                matches!(result, Err(RateLimitError::Unavailable(_))),
                "{bad:?} gave {result:?}"
            );
        }
        // A bucket listed twice is drawn from once.
        let once = (BucketKey::tenant("globex"), rate(1.0, 1));
        take(limiter, &[once.clone(), once.clone()], at(0))
            .await
            .expect("one token for one bucket");
        take(limiter, &[once], at(0)).await.unwrap_err();
    }

    fn unique_namespace() -> String {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos());
        format!(
            "test-{}-{nanos}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        )
    }

    async fn redis_connection() -> Option<ConnectionManager> {
        let url = kefu_kit::testing::redis_url()?;
        let client = redis::Client::open(url.as_str()).unwrap_or_else(|error| {
            panic!(
                "{}={url} is not a Redis URL: {error}",
                kefu_kit::testing::REDIS_URL_VAR
            )
        });
        let manager = ConnectionManager::new(client)
            .await
            .unwrap_or_else(|error| {
                panic!(
                    "{}={url} is not reachable: {error}",
                    kefu_kit::testing::REDIS_URL_VAR
                )
            });
        Some(manager)
    }

    /// Runs each shared case once in process and once on Redis (skipped
    /// when `KEFU_TEST_REDIS_URL` is unset, a failure if servers are required).
    macro_rules! on_both_backends {
        ($($case:ident),* $(,)?) => {
            mod in_process {
                $(
                    #[tokio::test]
                    async fn $case() {
                        super::$case(&super::InProcessLimiter::new()).await;
                    }
                )*
            }
            mod on_redis {
                $(
                    #[tokio::test]
                    async fn $case() {
                        let Some(connection) = super::redis_connection().await else {
                            return;
                        };
                        let limiter =
                            super::RedisLimiter::new(connection, super::unique_namespace());
                        super::$case(&limiter).await;
                    }
                )*
            }
        };
    }

    on_both_backends!(
        burst_is_served_then_refused_until_the_refill,
        tokens_refill_as_time_passes_up_to_the_burst,
        one_tenant_exhausting_its_bucket_does_not_refuse_another,
        a_refused_call_takes_no_token_from_the_other_buckets,
        a_key_bucket_tighter_than_its_tenant_bucket_limits_that_key_only,
        the_delay_is_the_longest_wait_among_the_refusing_buckets,
        invalid_rates_and_empty_calls,
    );

    #[test]
    fn redis_keys_carry_the_namespace_tenant_and_scope() {
        assert_eq!(
            redis_key("kefu", &BucketKey::tenant("acme")),
            "kefu:{acme}:ratelimit:tenant"
        );
        assert_eq!(
            redis_key("test-1", &BucketKey::api_key("acme", "k1")),
            "test-1:{acme}:ratelimit:key:k1"
        );
        assert_eq!(
            redis_key("kefu", &BucketKey::user("acme", "u1")),
            "kefu:{acme}:ratelimit:user:u1"
        );
    }

    #[test]
    fn the_script_carries_the_constants_the_in_process_limiter_uses() {
        let script = acquire_script();
        assert!(script.contains("local epsilon = 0.000000001\n"), "{script}");
        assert!(
            script.contains("local max_wait_ms = 31536000000\n"),
            "{script}"
        );
        assert!(script.contains("local margin_ms = 1000\n"), "{script}");
        for name in ["EPSILON", "MAX_WAIT_MS", "EXPIRY_MARGIN_MS"] {
            assert!(!script.contains(name), "{name} left in the script");
        }
    }

    #[tokio::test]
    async fn redis_buckets_expire_once_they_would_be_full_again() {
        let Some(mut connection) = redis_connection().await else {
            return;
        };
        let namespace = unique_namespace();
        let limiter = RedisLimiter::new(connection.clone(), namespace.clone());
        let key = BucketKey::api_key("acme", "k1");
        // Two of four tokens taken at 2 per second: full again in 1 s.
        for _ in 0..2 {
            limiter
                .acquire(&[(key.clone(), rate(2.0, 4))], at(0))
                .await
                .expect("within the burst");
        }
        let stored = redis_key(&namespace, &key);
        let ttl: i64 = redis::cmd("PTTL")
            .arg(&stored)
            .query_async(&mut connection)
            .await
            .expect("PTTL");
        assert!(
            ttl > 1000 && ttl <= 1000 + EXPIRY_MARGIN_MS as i64,
            "ttl {ttl} ms"
        );
        // A refusal writes nothing, so it does not extend the expiry.
        for _ in 0..2 {
            limiter
                .acquire(&[(key.clone(), rate(2.0, 4))], at(0))
                .await
                .expect("the rest of the burst");
        }
        let before: i64 = redis::cmd("PTTL")
            .arg(&stored)
            .query_async(&mut connection)
            .await
            .expect("PTTL");
        limiter
            .acquire(&[(key.clone(), rate(2.0, 4))], at(0))
            .await
            .expect_err("empty");
        let after: i64 = redis::cmd("PTTL")
            .arg(&stored)
            .query_async(&mut connection)
            .await
            .expect("PTTL");
        assert!(after <= before, "{after} ms after, {before} ms before");
        let _: () = redis::cmd("DEL")
            .arg(&stored)
            .query_async(&mut connection)
            .await
            .expect("DEL");
    }

    #[tokio::test]
    async fn redis_answers_exactly_as_the_in_process_limiter_on_a_long_run() {
        let Some(connection) = redis_connection().await else {
            return;
        };
        let redis = RedisLimiter::new(connection, unique_namespace());
        let local = InProcessLimiter::new();
        let buckets = [
            (BucketKey::tenant("acme"), rate(7.0, 5)),
            (BucketKey::api_key("acme", "k1"), rate(0.3, 2)),
            (BucketKey::user("acme", "u1"), rate(2.5, 3)),
            (BucketKey::tenant("globex"), rate(1000.0 / 3.0, 1)),
        ];
        // A small deterministic generator: calls on random subsets at
        // random (sometimes backwards) times.
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            seed >> 33
        };
        let mut now_us: i64 = 0;
        let (mut served, mut refused) = (0, 0);
        for step in 0..2000 {
            now_us += (next() % 400_000) as i64 - 50_000;
            let now = start() + TimeDelta::microseconds(now_us);
            let mask = next() % 16;
            let call: Vec<_> = buckets
                .iter()
                .enumerate()
                .filter(|(index, _)| mask & (1 << index) != 0)
                .map(|(_, bucket)| bucket.clone())
                .collect();
            let expected = local.acquire(&call, now).await;
            let actual = redis.acquire(&call, now).await;
            match (&expected, &actual) {
                (Ok(()), Ok(())) => served += 1,
                (Err(RateLimitError::Limited(a)), Err(RateLimitError::Limited(b))) if a == b => {
                    refused += 1;
                }
                _ => panic!("step {step}: in process {expected:?}, Redis {actual:?}"),
            }
        }
        assert!(
            served > 100 && refused > 100,
            "{served} served, {refused} refused"
        );
    }

    #[tokio::test]
    async fn redis_reloads_the_script_when_the_server_forgot_it() {
        let Some(connection) = redis_connection().await else {
            return;
        };
        let limiter = RedisLimiter::new(connection, unique_namespace());
        let bucket = [(BucketKey::tenant("acme"), rate(1.0, 2))];
        limiter
            .acquire(&bucket, at(0))
            .await
            .expect("loads the script");
        *limiter.script_sha.lock().expect("lock") = Some("0".repeat(40));
        limiter
            .acquire(&bucket, at(0))
            .await
            .expect("an unknown script is loaded again");
        limiter.acquire(&bucket, at(0)).await.unwrap_err();
    }

    #[tokio::test]
    async fn full_idle_buckets_are_dropped_when_the_map_outgrows_its_limit() {
        let limiter = InProcessLimiter::with_max_buckets(3);
        let limit = rate(1.0, 1);
        let drained = [(BucketKey::tenant("busy"), rate(0.0625, 1))];
        limiter.acquire(&drained, at(0)).await.expect("busy");
        for tenant in ["a", "b"] {
            limiter
                .acquire(&[(BucketKey::tenant(tenant), limit)], at(0))
                .await
                .expect("idle later");
        }
        assert_eq!(limiter.bucket_count(), 3);
        // Ten seconds later a and b are full again; busy is not (it
        // refills one token in 16 s).
        limiter
            .acquire(&[(BucketKey::tenant("d"), limit)], at(10_000))
            .await
            .expect("d");
        assert_eq!(limiter.bucket_count(), 2);
        let delay = retry_after(limiter.acquire(&drained, at(10_000)).await);
        assert_eq!(delay, Duration::from_secs(6));
    }
}
