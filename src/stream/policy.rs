//! Byte budgets, the bandwidth model and the stream policy that applies both with the
//! deadline, sans-IO.
//!
//! A budget counts **wire bytes** as Lambda counts them: the prelude JSON, the 8-byte delimiter
//! and the body bytes. Items are never split: an item that would cross the limit is not sent.

use std::time::Duration;

use tokio::time::Instant;

use super::in_flight::MOST_ON_THE_WAY;
use super::pace::ReaderPace;
use crate::body::TruncationReason;

/// The default stream budget: 75 MiB, well inside AWS's 200 MB (raise it with
/// [`Budget::AWS_200_MB`] or `LAMBDA_STREAM_BUDGET`).
pub(crate) const DEFAULT_STREAM_BUDGET: u64 = 75 * 1024 * 1024;
/// AWS's documented streamed response limit since 2025-07-31: 200 MB (AWS Lambda quotas;
/// Lambda's "MB" are MiB, as its 6 MB buffered limit is 6 MiB + 100 bytes).
pub(crate) const AWS_STREAM_LIMIT: u64 = 200 * 1024 * 1024;
/// AWS's streamed response limit before 2025-07-31: 20 MB.
pub(crate) const LEGACY_STREAM_LIMIT: u64 = 20 * 1024 * 1024;

/// A byte limit for one response, and the fraction at which a warning is logged.
///
/// It counts wire bytes (prelude, 8 NULs, body) in both invoke modes; a `BUFFERED` answer also
/// stays within the 6,291,556-byte payload. A body is never cut inside a record. With a
/// continuation (a [`Continuation`](crate::Continuation) response extension) it ends after its
/// last whole record with your cursor, and no warning is logged (a page fills its budget by
/// design). Without one, a stream ends with a `Function.ResponseSizeTooLarge` trailer: **a
/// client that does not read trailers (curl, most HTTP libraries) sees `200` and a clean
/// end**, so give any body that can outgrow its budget a continuation.
///
/// Attach one to a response to override the function's budget for it:
///
/// ```
/// use lambda_stream::{Body, Budget};
/// let response = http::Response::builder()
///     .extension(Budget::bytes(1024 * 1024))
///     .body(Body::from("small export"))?;
/// assert_eq!(response.extensions().get::<Budget>().map(|b| b.limit()), Some(1024 * 1024));
/// # Ok::<(), http::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    limit: u64,
    warn_fraction: f64,
}

impl Default for Budget {
    fn default() -> Self {
        Budget::DEFAULT
    }
}

impl Budget {
    /// 75 MiB, warning at 80% (the default).
    pub const DEFAULT: Budget = Budget::bytes(DEFAULT_STREAM_BUDGET);
    /// AWS's documented 200 MB stream limit.
    pub const AWS_200_MB: Budget = Budget::bytes(AWS_STREAM_LIMIT);
    /// The legacy 20 MB stream limit.
    pub const LEGACY_20_MB: Budget = Budget::bytes(LEGACY_STREAM_LIMIT);

    /// A budget of `limit` wire bytes, warning at 80%.
    pub const fn bytes(limit: u64) -> Budget {
        Budget {
            limit,
            warn_fraction: 0.8,
        }
    }

    /// Warns (once, with `tracing`) when this fraction of the budget is used; clamped to 0..=1.
    pub fn with_warning_at(mut self, fraction: f64) -> Budget {
        self.warn_fraction = if fraction.is_nan() {
            0.8
        } else {
            fraction.clamp(0.0, 1.0)
        };
        self
    }

    /// The same limit, never warned about (a paged response fills its budget by design).
    pub(crate) fn without_warning(mut self) -> Budget {
        self.warn_fraction = f64::INFINITY;
        self
    }

    /// The limit in bytes.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The warning fraction.
    pub fn warning_fraction(&self) -> f64 {
        self.warn_fraction
    }

    fn warn_at(&self) -> u64 {
        (self.limit as f64 * self.warn_fraction) as u64
    }
}

/// An item does not fit in what is left of the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a {attempted}-byte item does not fit: {used} of {limit} budget bytes used")]
pub(crate) struct BudgetExhausted {
    /// The budget.
    pub(crate) limit: u64,
    /// Bytes used before the item.
    pub(crate) used: u64,
    /// The item's size.
    pub(crate) attempted: u64,
}

/// What charging an item did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Charged {
    /// The item fits.
    Fits,
    /// The item fits, and crossed the warning threshold.
    CrossedWarning,
}

/// Counts bytes against a [`Budget`], with part of it held back for a closing record.
#[derive(Debug, Clone)]
pub(crate) struct BudgetMeter {
    budget: Budget,
    used: u64,
    reserved: u64,
    warned: bool,
}

impl BudgetMeter {
    /// A meter with nothing used.
    pub(crate) fn new(budget: Budget) -> Self {
        BudgetMeter {
            budget,
            used: 0,
            reserved: 0,
            warned: false,
        }
    }

    /// Holds back `bytes` at the end of the budget: [`charge`](Self::charge) will not use them,
    /// [`charge_reserved`](Self::charge_reserved) may.
    pub(crate) fn reserve(&mut self, bytes: u64) {
        self.reserved = bytes;
    }

    /// Counts an item of `len` bytes if it fits in the unreserved budget.
    ///
    /// # Errors
    /// [`BudgetExhausted`] when it does not fit; nothing is counted then.
    pub(crate) fn charge(&mut self, len: u64) -> Result<Charged, BudgetExhausted> {
        let available = self.budget.limit.saturating_sub(self.reserved);
        self.charge_within(len, available)
    }

    /// Counts an item that may use the reserved tail (the closing record).
    ///
    /// # Errors
    /// [`BudgetExhausted`] when it does not fit in the whole budget.
    pub(crate) fn charge_reserved(&mut self, len: u64) -> Result<Charged, BudgetExhausted> {
        self.charge_within(len, self.budget.limit)
    }

    fn charge_within(&mut self, len: u64, available: u64) -> Result<Charged, BudgetExhausted> {
        match self.used.checked_add(len) {
            Some(total) if total <= available => {
                self.used = total;
                if !self.warned && self.used >= self.budget.warn_at() && self.budget.warn_at() > 0 {
                    self.warned = true;
                    return Ok(Charged::CrossedWarning);
                }
                Ok(Charged::Fits)
            }
            _ => Err(BudgetExhausted {
                limit: self.budget.limit,
                used: self.used,
                attempted: len,
            }),
        }
    }

    /// Bytes kept for the closing record.
    pub(crate) fn reserved(&self) -> u64 {
        self.reserved
    }

    /// Bytes counted so far.
    pub(crate) fn used(&self) -> u64 {
        self.used
    }

    /// Bytes an item may still use: what is left less the reserved tail.
    pub(crate) fn room(&self) -> u64 {
        self.remaining().saturating_sub(self.reserved)
    }

    /// Bytes left, reserved tail included.
    pub(crate) fn remaining(&self) -> u64 {
        self.budget.limit.saturating_sub(self.used)
    }

    /// The budget.
    pub(crate) fn budget(&self) -> Budget {
        self.budget
    }

    /// Whether the warning threshold was crossed.
    pub(crate) fn warned(&self) -> bool {
        self.warned
    }
}

/// How fast Lambda lets a stream go: the first bytes uncapped, then a steady rate
/// (AWS's response streaming documentation: first 6 MB, then at most 2 MB/s).
///
/// ```
/// use std::time::Duration;
/// use lambda_stream::BandwidthModel;
/// let aws = BandwidthModel::AWS;
/// assert_eq!(aws.time_to_send(0, 6 * 1024 * 1024), Duration::ZERO);
/// assert_eq!(aws.time_to_send(6 * 1024 * 1024, 2 * 1024 * 1024), Duration::from_secs(1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BandwidthModel {
    /// Bytes sent before the rate applies.
    pub burst_bytes: u64,
    /// Bytes per second after the burst.
    pub bytes_per_second: u64,
}

impl BandwidthModel {
    /// AWS's documented model: 6 MiB uncapped, then 2 MiB/s.
    pub const AWS: BandwidthModel = BandwidthModel {
        burst_bytes: 6 * 1024 * 1024,
        bytes_per_second: 2 * 1024 * 1024,
    };

    /// No cap at all.
    pub const UNLIMITED: BandwidthModel = BandwidthModel {
        burst_bytes: u64::MAX,
        bytes_per_second: u64::MAX,
    };

    /// The most bytes that go within `time` once `sent` bytes have gone (kept a microsecond
    /// short, so [`time_to_send`](Self::time_to_send) of them is surely within `time`).
    fn bytes_within(&self, sent: u64, time: Duration) -> u64 {
        if self.bytes_per_second == 0 || self.bytes_per_second == u64::MAX {
            return u64::MAX;
        }
        let time = time.saturating_sub(Duration::from_micros(1));
        // A float-to-int `as` saturates.
        let at_the_rate = (self.bytes_per_second as f64 * time.as_secs_f64()) as u64;
        self.burst_bytes
            .saturating_sub(sent)
            .saturating_add(at_the_rate)
    }

    /// How long `len` more bytes take once `sent` bytes have gone.
    pub fn time_to_send(&self, sent: u64, len: u64) -> Duration {
        let capped = sent
            .saturating_add(len)
            .saturating_sub(self.burst_bytes.max(sent));
        if capped == 0 || self.bytes_per_second == 0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64(capped as f64 / self.bytes_per_second as f64)
    }
}

/// What an item admitted now may take at most, and what would refuse a larger one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Room {
    pub(crate) bytes: u64,
    pub(crate) bound_by: TruncationReason,
}

/// The limits one response streams under, sans-IO: the byte budget (with a reserve kept for a
/// closing continuation), the time to end by (the deadline less its safety margin) and the
/// bandwidth Lambda allows. The caller passes `now`, in the manner of a protocol state
/// machine, so every decision is testable on any clock.
///
/// An item is admitted if it fits in the unreserved budget *and*, at the modelled bandwidth,
/// can be sent before the time to end by, after the bytes admitted before it; else it is
/// refused whole with the reason.
#[derive(Debug, Clone)]
pub(crate) struct StreamPolicy {
    meter: BudgetMeter,
    bandwidth: BandwidthModel,
    end_by: Option<tokio::time::Instant>,
    /// When the bytes admitted so far are all sent, at the modelled rate.
    sent_by: Option<tokio::time::Instant>,
    /// How fast the reader takes the stream, as measured (for a response with a continuation,
    /// whose link must get through before the deadline).
    pace: Option<ReaderPace>,
}

impl StreamPolicy {
    pub(crate) fn new(
        budget: Budget,
        bandwidth: BandwidthModel,
        end_by: Option<tokio::time::Instant>,
    ) -> Self {
        StreamPolicy {
            meter: BudgetMeter::new(budget),
            bandwidth,
            end_by,
            sent_by: None,
            pace: None,
        }
    }

    /// Measures the reader's pace and ends the stream early enough for what may still be on
    /// its way to the Runtime API, and the closing record, to get there by the time to end by.
    pub(crate) fn measuring_the_reader(mut self) -> Self {
        self.pace = Some(ReaderPace::default());
        self
    }

    /// Whether the reader's pace is measured, so what is on its way to the Runtime API must stay
    /// within [`MOST_ON_THE_WAY`].
    pub(crate) fn measures_the_reader(&self) -> bool {
        self.pace.is_some()
    }

    /// Keeps `bytes` at the end of the budget for the closing continuation.
    pub(crate) fn reserve(&mut self, bytes: u64) {
        self.meter.reserve(bytes);
    }

    /// Counts bytes that must go whatever the time (the response head).
    ///
    /// # Errors
    /// [`BudgetExhausted`] when they do not fit in the unreserved budget.
    pub(crate) fn charge_head(&mut self, len: u64) -> Result<(), BudgetExhausted> {
        self.meter.charge(len).map(drop)
    }

    /// Admits an item of `len` bytes at `now`, or says why it may not go (nothing counted).
    ///
    /// # Errors
    /// [`TruncationReason::Deadline`] when it cannot be sent before the time to end by,
    /// [`TruncationReason::Budget`] when it does not fit.
    pub(crate) fn admit(
        &mut self,
        now: tokio::time::Instant,
        len: u64,
    ) -> Result<Charged, TruncationReason> {
        let Some(end_by) = self.end_by else {
            return self.meter.charge(len).map_err(|_| TruncationReason::Budget);
        };
        // Bytes already admitted are still going out at the modelled rate: this item starts
        // after them.
        let starts = self.sent_by.map_or(now, |sent_by| sent_by.max(now));
        let sent_by = starts + self.bandwidth.time_to_send(self.meter.used(), len);
        if sent_by > end_by || !self.reaches_the_api_in_time(now, len) {
            return Err(TruncationReason::Deadline);
        }
        let charged = self
            .meter
            .charge(len)
            .map_err(|_| TruncationReason::Budget)?;
        self.sent_by = Some(sent_by);
        Ok(charged)
    }

    /// The most an item admitted at `now` may take, and what bounds it: the unreserved budget,
    /// or the time to end by (at the modelled bandwidth behind what was admitted, and at the
    /// reader's measured pace with the closing record behind it). A stage that cannot take
    /// back what it produces (a compressor) is handed this before it produces: an item of at
    /// most `bytes` is admitted at the same `now`.
    pub(crate) fn room(&self, now: Instant) -> Room {
        let budget = Room {
            bytes: self.meter.room(),
            bound_by: TruncationReason::Budget,
        };
        let Some(end_by) = self.end_by else {
            return budget;
        };
        let starts = self.sent_by.map_or(now, |sent_by| sent_by.max(now));
        let by_bandwidth = match end_by.checked_duration_since(starts) {
            Some(time) => self.bandwidth.bytes_within(self.meter.used(), time),
            None => 0,
        };
        let in_time = by_bandwidth.min(self.room_at_the_readers_pace(now));
        if in_time < budget.bytes {
            return Room {
                bytes: in_time,
                bound_by: TruncationReason::Deadline,
            };
        }
        budget
    }

    /// The most bytes that reach the Runtime API by the effective time to end by at the
    /// reader's measured pace, the closing record behind them (unbounded until measured).
    fn room_at_the_readers_pace(&self, now: Instant) -> u64 {
        let Some(pace) = &self.pace else {
            return u64::MAX;
        };
        let Some(end) = self.effective_end_by(now) else {
            return u64::MAX;
        };
        let time = end.saturating_duration_since(now);
        pace.bytes_within(time.saturating_sub(Duration::from_micros(1)))
            .map_or(u64::MAX, |bytes| {
                bytes.saturating_sub(self.meter.reserved())
            })
    }

    /// Whether, at the reader's measured pace, `len` more bytes and the closing record reach
    /// the Runtime API by the effective time to end by, behind what may still be on its way
    /// (true while the pace is not measured: the reader has kept up so far).
    fn reaches_the_api_in_time(&self, now: Instant, len: u64) -> bool {
        let bytes = len.saturating_add(self.meter.reserved());
        let Some(time) = self.time_at_the_readers_pace(bytes) else {
            return true;
        };
        self.effective_end_by(now)
            .is_none_or(|end| now.checked_add(time).is_some_and(|at| at <= end))
    }

    /// The time to end by, early enough for what may still be on its way to reach the Runtime
    /// API by then at the measured pace, seen at `now`. The one place the reader's pace moves
    /// the end: items are admitted against it, and a stream waiting for its producer ends at it.
    fn effective_end_by(&self, now: Instant) -> Option<Instant> {
        let end_by = self.end_by?;
        let drain = self
            .time_at_the_readers_pace(MOST_ON_THE_WAY)
            .unwrap_or_default();
        Some(end_by.checked_sub(drain).unwrap_or(now).min(end_by))
    }

    /// How long `bytes` take at the reader's measured pace, once measured.
    fn time_at_the_readers_pace(&self, bytes: u64) -> Option<Duration> {
        self.pace.as_ref().and_then(|pace| pace.time_for(bytes))
    }

    /// The connection took `len` bytes of the stream at `now`.
    pub(crate) fn taken(&mut self, now: Instant, len: u64) {
        if let Some(pace) = &mut self.pace {
            pace.taken(now, len);
        }
    }

    /// The handler had nothing ready at `now`, when the connection asked for more.
    pub(crate) fn producer_waited(&mut self, now: Instant) {
        if let Some(pace) = &mut self.pace {
            pace.producer_waited(now);
        }
    }

    /// Counts the closing continuation, which may use the reserve.
    ///
    /// # Errors
    /// [`BudgetExhausted`] when it does not fit in the whole budget.
    pub(crate) fn admit_closing(&mut self, len: u64) -> Result<(), BudgetExhausted> {
        self.meter.charge_reserved(len).map(drop)
    }

    /// When the stream must end by, if anything bounds it.
    pub(crate) fn poll_timeout(&self, now: Instant) -> Option<Instant> {
        self.effective_end_by(now)
    }

    /// Whether the time to end by has come at `now`.
    pub(crate) fn handle_timeout(&self, now: tokio::time::Instant) -> Option<TruncationReason> {
        self.effective_end_by(now)
            .filter(|end_by| now >= *end_by)
            .map(|_| TruncationReason::Deadline)
    }

    /// What has been counted.
    pub(crate) fn meter(&self) -> &BudgetMeter {
        &self.meter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_boundaries() {
        let limit = 1000;
        let mut meter = BudgetMeter::new(Budget::bytes(limit).with_warning_at(1.0));
        assert_eq!(meter.charge(limit - 1), Ok(Charged::Fits));
        assert_eq!(
            meter.charge(1),
            Ok(Charged::CrossedWarning),
            "limit reached exactly"
        );
        assert_eq!(
            meter.charge(1),
            Err(BudgetExhausted {
                limit,
                used: limit,
                attempted: 1
            }),
            "limit + 1 refused"
        );
        assert_eq!(meter.used(), limit, "a refused item is not counted");
    }

    #[test]
    fn an_item_straddling_the_limit_is_refused_whole() {
        let mut meter = BudgetMeter::new(Budget::bytes(100));
        meter.charge(90).unwrap();
        assert!(meter.charge(20).is_err());
        assert_eq!(meter.used(), 90);
        assert_eq!(meter.charge(10), Ok(Charged::Fits));
    }

    #[test]
    fn the_reserved_tail_is_only_for_the_closing_record() {
        let mut meter = BudgetMeter::new(Budget::bytes(100));
        meter.reserve(30);
        meter.charge(70).unwrap();
        assert!(meter.charge(1).is_err(), "records cannot use the reserve");
        assert!(meter.charge_reserved(30).is_ok());
        assert!(
            meter.charge_reserved(1).is_err(),
            "a continuation that does not fit"
        );
    }

    #[test]
    fn warning_is_crossed_once() {
        let mut meter = BudgetMeter::new(Budget::bytes(100));
        assert_eq!(meter.charge(79), Ok(Charged::Fits));
        assert_eq!(meter.charge(1), Ok(Charged::CrossedWarning));
        assert_eq!(meter.charge(1), Ok(Charged::Fits));
        assert!(meter.warned());
    }

    #[test]
    fn overflow_is_refused_not_wrapped() {
        let mut meter = BudgetMeter::new(Budget::bytes(u64::MAX));
        meter.charge(u64::MAX - 1).unwrap();
        assert!(meter.charge(2).is_err());
    }

    #[test]
    fn bandwidth_model_boundaries() {
        let model = BandwidthModel {
            burst_bytes: 100,
            bytes_per_second: 10,
        };
        assert_eq!(model.time_to_send(0, 100), Duration::ZERO);
        assert_eq!(model.time_to_send(90, 20), Duration::from_secs(1));
        assert_eq!(model.time_to_send(200, 10), Duration::from_secs(1));
        assert_eq!(
            BandwidthModel::UNLIMITED.time_to_send(0, u64::MAX),
            Duration::ZERO
        );
    }

    #[test]
    fn presets() {
        assert_eq!(Budget::default().limit(), 78_643_200);
        assert_eq!(Budget::AWS_200_MB.limit(), 209_715_200);
        assert_eq!(Budget::LEGACY_20_MB.limit(), 20_971_520);
        assert_eq!(
            Budget::bytes(10).with_warning_at(7.0).warning_fraction(),
            1.0
        );
    }

    #[test]
    fn the_policy_admits_by_budget_then_by_time_at_the_given_now() {
        let start = tokio::time::Instant::now();
        let model = BandwidthModel {
            burst_bytes: 100,
            bytes_per_second: 10,
        };
        let end_by = start + Duration::from_secs(2);
        let mut policy = StreamPolicy::new(Budget::bytes(1000), model, Some(end_by));
        policy.reserve(50);
        assert_eq!(policy.charge_head(10), Ok(()));
        assert_eq!(
            policy.admit(start, 90),
            Ok(Charged::Fits),
            "within the burst"
        );
        // 20 more bytes at 10 B/s take 2 s: exactly on time; one more byte is late, whether
        // it comes at once (behind the 20) or 2 s later.
        assert_eq!(policy.admit(start, 20), Ok(Charged::Fits));
        assert_eq!(policy.admit(start, 1), Err(TruncationReason::Deadline));
        assert_eq!(
            policy.admit(start + Duration::from_secs(2), 1),
            Err(TruncationReason::Deadline),
            "past the time to end by at the modelled rate"
        );
        assert_eq!(policy.meter().used(), 120, "a refused item is not counted");
        let mut roomy = StreamPolicy::new(Budget::bytes(100), BandwidthModel::UNLIMITED, None);
        roomy.reserve(30);
        assert_eq!(roomy.admit(start, 71), Err(TruncationReason::Budget));
        assert_eq!(roomy.admit(start, 70), Ok(Charged::Fits));
        assert!(
            roomy.admit_closing(30).is_ok(),
            "the closing uses the reserve"
        );
    }

    /// A reader slower than the model: once its pace is measured, the stream ends early
    /// enough for what may be on its way, and the closing record, to reach the Runtime API
    /// by the time to end by.
    #[test]
    fn a_slow_readers_measured_pace_ends_the_stream_early_enough() {
        const MB: u64 = 1_000_000;
        let start = tokio::time::Instant::now();
        let end_by = start + Duration::from_secs(4);
        let mut policy =
            StreamPolicy::new(Budget::DEFAULT, BandwidthModel::UNLIMITED, Some(end_by))
                .measuring_the_reader();
        policy.reserve(64);
        // 64 KiB taken every 65.536 ms: 1 MB/s.
        let chunk = 64 * 1024;
        let every = Duration::from_micros(65_536);
        let mut now = start;
        while policy.admit(now, chunk).is_ok() {
            policy.taken(now, chunk);
            now += every;
        }
        let drain = Duration::from_secs_f64((MOST_ON_THE_WAY + chunk + 64) as f64 / MB as f64);
        let latest = end_by - drain;
        assert!(
            now - every <= latest && now > latest,
            "ended at {:?}, latest {:?}",
            now - start,
            latest - start
        );
        // Waiting for its producer, the stream ends as early.
        let effective = policy.poll_timeout(now).unwrap();
        assert!(
            effective < end_by && effective > latest,
            "{:?}",
            effective - start
        );
        assert_eq!(
            policy.handle_timeout(effective),
            Some(TruncationReason::Deadline)
        );
    }

    /// The room handed to a stage that produces before it is admitted: what it says is
    /// admitted at the same `now`, two bytes more are not (it is a microsecond short).
    fn room_is_what_is_admitted(policy: &StreamPolicy, now: Instant) -> Result<(), String> {
        let room = policy.room(now);
        if room.bytes > 0 && room.bytes < u64::MAX / 2 {
            let mut fits = policy.clone();
            fits.admit(now, room.bytes)
                .map_err(|e| format!("{room:?} refused: {e:?}"))?;
        }
        if room.bytes < u64::MAX / 2 {
            let over = policy.clone().admit(now, room.bytes + 2);
            match (room.bound_by, over) {
                (_, Ok(_)) => return Err(format!("{room:?} + 2 admitted")),
                (TruncationReason::Deadline, Err(TruncationReason::Budget)) => {
                    return Err(format!("{room:?} + 2 refused by the budget"));
                }
                _ => {}
            }
        }
        Ok(())
    }

    proptest::proptest! {
        #[test]
        fn the_room_handed_out_is_what_the_policy_admits(
            limit in 0u64..20_000,
            reserve in 0u64..200,
            burst_bytes in 0u64..8_000,
            bytes_per_second in 1u64..20_000,
            end_in_ms in proptest::option::of(0u64..3_000),
            items in proptest::collection::vec((0u64..3_000, 0u64..400), 0..12),
        ) {
            let start = tokio::time::Instant::now();
            let model = BandwidthModel { burst_bytes, bytes_per_second };
            let end_by = end_in_ms.map(|ms| start + Duration::from_millis(ms));
            let mut policy = StreamPolicy::new(Budget::bytes(limit), model, end_by);
            policy.reserve(reserve);
            let mut now = start;
            for (len, after_ms) in items {
                proptest::prop_assert!(room_is_what_is_admitted(&policy, now).is_ok(), "{:?}", room_is_what_is_admitted(&policy, now));
                let _ = policy.admit(now, len);
                now += Duration::from_millis(after_ms);
            }
            proptest::prop_assert!(room_is_what_is_admitted(&policy, now).is_ok(), "{:?}", room_is_what_is_admitted(&policy, now));
        }
    }

    #[test]
    fn the_room_at_a_slow_readers_pace_is_what_the_policy_admits() {
        let start = tokio::time::Instant::now();
        let end_by = start + Duration::from_secs(4);
        let mut policy =
            StreamPolicy::new(Budget::DEFAULT, BandwidthModel::UNLIMITED, Some(end_by))
                .measuring_the_reader();
        policy.reserve(64);
        let chunk = 64 * 1024;
        let mut now = start;
        let mut bound_by_the_pace = 0;
        while policy.admit(now, chunk).is_ok() {
            policy.taken(now, chunk);
            now += Duration::from_micros(65_536);
            assert_eq!(room_is_what_is_admitted(&policy, now), Ok(()));
            if policy.room(now).bound_by == TruncationReason::Deadline {
                bound_by_the_pace += 1;
            }
        }
        assert!(bound_by_the_pace > 0, "the pace never bound the room");
        assert!(policy.room(now).bytes < chunk);
    }

    #[test]
    fn a_reader_never_slower_than_its_producer_is_not_measured() {
        let start = tokio::time::Instant::now();
        let end_by = start + Duration::from_secs(4);
        let mut policy =
            StreamPolicy::new(Budget::DEFAULT, BandwidthModel::UNLIMITED, Some(end_by))
                .measuring_the_reader();
        // A token every 100 ms, each taken at once: the stream runs to its end_by.
        let mut now = start;
        while now + Duration::from_millis(100) < end_by {
            assert!(policy.admit(now, 16).is_ok(), "at {:?}", now - start);
            policy.taken(now, 16);
            policy.producer_waited(now + Duration::from_micros(20));
            now += Duration::from_millis(100);
        }
        assert_eq!(policy.poll_timeout(now), Some(end_by));
    }

    #[test]
    fn the_policy_times_out_at_its_end_by() {
        let start = tokio::time::Instant::now();
        let end_by = start + Duration::from_millis(500);
        let policy = StreamPolicy::new(Budget::DEFAULT, BandwidthModel::AWS, Some(end_by));
        assert_eq!(policy.poll_timeout(start), Some(end_by));
        assert_eq!(
            policy.handle_timeout(end_by - Duration::from_nanos(1)),
            None
        );
        assert_eq!(
            policy.handle_timeout(end_by),
            Some(TruncationReason::Deadline)
        );
        let unbounded = StreamPolicy::new(Budget::DEFAULT, BandwidthModel::AWS, None);
        assert_eq!(
            unbounded.handle_timeout(start + Duration::from_secs(1 << 20)),
            None
        );
    }
}
