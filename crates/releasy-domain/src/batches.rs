//! Work done a batch at a time: purges, prunes and chain links repeat one bounded step
//! until a batch comes back short.

/// Runs `step` with `batch` (the most it may handle at once; it returns how many it
/// did) until a step handles fewer than `batch` or `most_batches` steps have run;
/// returns how many were handled in all. An error stops it; the batches before stay
/// done.
pub(crate) async fn in_batches<E, Step>(
    batch: u32,
    most_batches: u64,
    mut step: impl FnMut(u32) -> Step,
) -> Result<u64, E>
where
    Step: Future<Output = Result<u64, E>>,
{
    let mut done = 0;
    for _ in 0..most_batches {
        let handled = step(batch).await?;
        done += handled;
        if handled < u64::from(batch) {
            break;
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::in_batches;

    #[tokio::test]
    async fn stops_at_a_short_batch_or_the_most_batches() {
        let mut left = 2_500_u64;
        let mut calls = 0;
        let done: Result<u64, ()> = in_batches(1_000, 10, |batch| {
            calls += 1;
            let took = left.min(u64::from(batch));
            left -= took;
            std::future::ready(Ok(took))
        })
        .await;
        assert_eq!((done, calls), (Ok(2_500), 3), "the third batch is short");

        let mut calls = 0;
        let capped: Result<u64, ()> = in_batches(10, 4, |batch| {
            calls += 1;
            std::future::ready(Ok(u64::from(batch)))
        })
        .await;
        assert_eq!((capped, calls), (Ok(40), 4));

        let failed: Result<u64, &str> =
            in_batches(10, 4, |_| std::future::ready(Err("down"))).await;
        assert_eq!(failed, Err("down"));
    }
}
