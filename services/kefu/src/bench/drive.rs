//! Closed-loop load: `clients` callers, each sending its next call as soon
//! as the last one answered, for a fixed time after a warm-up second.

use std::{
    future::Future,
    time::{Duration, Instant},
};

use anyhow::Context;
use tokio::task::JoinSet;

use super::{Summary, summarise};

/// How long each client runs before its calls count.
const WARM_UP: Duration = Duration::from_secs(1);

/// Runs `clients` loops of `call(client, sequence)` for `seconds` after the
/// warm-up and summarises the latencies of the calls sent in that time.
/// The first failed call ends the measurement with its error.
pub async fn drive<S, F, Fut>(
    clients: u32,
    seconds: Duration,
    state: S,
    call: F,
) -> anyhow::Result<Summary>
where
    S: Clone + Send + 'static,
    F: Fn(S, u32, u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    let start = Instant::now() + WARM_UP;
    let end = start + seconds;
    let mut tasks = JoinSet::new();
    for client in 0..clients {
        let call = call.clone();
        let state = state.clone();
        tasks.spawn(async move {
            let mut samples = Vec::new();
            for sequence in 0_u64.. {
                let sent = Instant::now();
                if sent >= end {
                    break;
                }
                call(state.clone(), client, sequence).await?;
                if sent >= start {
                    samples.push(sent.elapsed());
                }
            }
            Ok::<_, anyhow::Error>(samples)
        });
    }
    let mut samples = Vec::new();
    while let Some(outcome) = tasks.join_next().await {
        samples.extend(outcome.context("a bench client")??);
    }
    Ok(summarise(samples, seconds))
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    };

    use super::*;

    #[tokio::test]
    async fn counts_only_calls_after_the_warm_up_and_stops_on_the_first_error() {
        let calls = Arc::new(AtomicU64::new(0));
        let summary = drive(
            2,
            Duration::from_millis(200),
            calls.clone(),
            |calls, _, _| async move {
                calls.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(10)).await;
                Ok(())
            },
        )
        .await
        .unwrap();
        let made = calls.load(Ordering::Relaxed);
        assert!(
            summary.ops > 0 && summary.ops < made,
            "{summary:?} of {made}"
        );

        let failed = drive(
            1,
            Duration::from_millis(50),
            (),
            |(), _, sequence| async move {
                anyhow::ensure!(sequence < 3, "call {sequence} failed");
                Ok(())
            },
        )
        .await;
        assert!(failed.unwrap_err().to_string().contains("call 3 failed"));
    }
}
