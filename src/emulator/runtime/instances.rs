//! The supervised function instances (processes run by `lambda-stream serve`), as Lambda's
//! execution environments: which fail their start-up and which are being reset.
//!
//! While every instance keeps failing its init (its process exits before it asks for an
//! invocation, or it posts `/runtime/init/error`), invocations are answered at once with that
//! failure, as Lambda answers them with the init error, instead of each waiting out the function
//! timeout for a `/next` that never comes. An instance being reset after a timeout takes no
//! more invocations until its new process starts.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use super::lock;
use crate::emulator::failure::PlatformFailure;

/// Why an execution environment is reset (its process stopped and started again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reset {
    /// One of its invocations timed out.
    TimedOut,
    /// An invocation of another tenant came for it (tenant isolation: an environment serves
    /// one tenant).
    AnotherTenant,
}

impl std::fmt::Display for Reset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Reset::TimedOut => "an invocation timed out",
            Reset::AnotherTenant => "an invocation of another tenant came",
        })
    }
}

/// Which supervised instances fail their init, and which are being reset.
#[derive(Debug, Default)]
pub(crate) struct Instances {
    inner: Mutex<Known>,
}

#[derive(Debug, Default)]
struct Known {
    /// Instances run as supervised processes (embedded loops are not: they cannot fail init).
    supervised: HashSet<usize>,
    /// Instances that asked for an invocation since their process started.
    ready: HashSet<usize>,
    /// Instances whose last process failed its init.
    failing: HashMap<usize, PlatformFailure>,
    /// An `/init/error` report waiting for its process to exit.
    reported: HashMap<usize, PlatformFailure>,
    /// Instances whose process is to be stopped and started again, and why.
    resetting: HashMap<usize, Reset>,
    /// The tenant each instance of a tenant-isolated function serves since its process
    /// started.
    tenants: HashMap<usize, String>,
}

impl Instances {
    fn lock(&self) -> MutexGuard<'_, Known> {
        lock(&self.inner)
    }

    /// A process for `instance` is starting: it is not ready until it asks for an invocation.
    pub(crate) fn starting(&self, instance: usize) {
        let mut instances = self.lock();
        instances.supervised.insert(instance);
        instances.ready.remove(&instance);
        instances.reported.remove(&instance);
        instances.resetting.remove(&instance);
        instances.tenants.remove(&instance);
    }

    /// Whether `instance` may serve `tenant`: it serves no other since its process started
    /// (its first tenant binds it). An instance that is not supervised (embedded mode) cannot
    /// be restarted for another tenant: it serves them all.
    pub(crate) fn serves_tenant(&self, instance: usize, tenant: &str) -> bool {
        let mut instances = self.lock();
        if !instances.supervised.contains(&instance) {
            return true;
        }
        let bound = instances
            .tenants
            .entry(instance)
            .or_insert_with(|| tenant.to_owned());
        bound == tenant
    }

    /// `instance` is to be reset for `why`; `false` when it is not supervised (the in-process
    /// loops of embedded mode, which stop their own handler at the deadline) or already is.
    pub(crate) fn resetting(&self, instance: usize, why: Reset) -> bool {
        let mut instances = self.lock();
        instances.supervised.contains(&instance)
            && instances.resetting.insert(instance, why).is_none()
    }

    /// Whether `instance` is being reset (its process takes no more invocations).
    pub(crate) fn is_resetting(&self, instance: usize) -> bool {
        self.lock().resetting.contains_key(&instance)
    }

    /// Why `instance` is being reset.
    pub(crate) fn reset_reason(&self, instance: usize) -> Option<Reset> {
        self.lock().resetting.get(&instance).copied()
    }

    /// `instance` asked for an invocation: its init succeeded.
    pub(crate) fn ready(&self, instance: usize) {
        let mut instances = self.lock();
        instances.ready.insert(instance);
        instances.failing.remove(&instance);
    }

    /// `instance` posted `/runtime/init/error`.
    pub(crate) fn reported(&self, instance: usize, failure: PlatformFailure) {
        self.lock().reported.insert(instance, failure);
    }

    /// `instance`'s process exited; `Some(failure)` when it had not started serving (an init
    /// failure: its report, or `exited` itself).
    pub(crate) fn exited(
        &self,
        instance: usize,
        exited: PlatformFailure,
    ) -> Option<PlatformFailure> {
        let mut instances = self.lock();
        if instances.ready.remove(&instance) {
            return None;
        }
        let failure = instances.reported.remove(&instance).unwrap_or(exited);
        instances.failing.insert(instance, failure.clone());
        Some(failure)
    }

    /// The failure to answer with at once: only while every supervised instance fails its
    /// init (one healthy instance serves the queue).
    pub(crate) fn failure(&self) -> Option<PlatformFailure> {
        let instances = self.lock();
        let all_failing = !instances.supervised.is_empty()
            && instances
                .supervised
                .iter()
                .all(|instance| instances.failing.contains_key(instance));
        if !all_failing {
            return None;
        }
        instances.failing.values().next().cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exit() -> PlatformFailure {
        PlatformFailure::RuntimeExited("exit status 1".into())
    }

    #[test]
    fn only_a_process_that_never_served_fails_its_init() {
        let watch = Instances::default();
        watch.starting(1);
        watch.ready(1);
        assert_eq!(
            watch.exited(1, exit()),
            None,
            "it served: a crash, not init"
        );
        watch.starting(1);
        assert_eq!(watch.exited(1, exit()), Some(exit()));
        assert_eq!(watch.failure(), Some(exit()));
        watch.starting(1);
        assert_eq!(
            watch.failure(),
            Some(exit()),
            "still failing while it restarts"
        );
        watch.ready(1);
        assert_eq!(watch.failure(), None);
    }

    #[test]
    fn an_instance_serves_the_first_tenant_it_met_until_it_restarts() {
        let watch = Instances::default();
        assert!(watch.serves_tenant(0, "blue"), "embedded: not supervised");
        assert!(watch.serves_tenant(0, "green"));
        watch.starting(1);
        assert!(watch.serves_tenant(1, "blue"));
        assert!(watch.serves_tenant(1, "blue"));
        assert!(!watch.serves_tenant(1, "green"));
        watch.starting(1);
        assert!(watch.serves_tenant(1, "green"), "a new process");
    }

    #[test]
    fn a_reported_init_error_is_the_failure_and_one_healthy_instance_serves() {
        let watch = Instances::default();
        let reported = PlatformFailure::InitFailed {
            error: crate::wire::FunctionError::new(
                crate::wire::ErrorType::new("Function.InitError").unwrap(),
                "no database",
            ),
            document: bytes::Bytes::from_static(b"{}"),
        };
        watch.starting(1);
        watch.starting(2);
        watch.reported(1, reported.clone());
        assert_eq!(watch.exited(1, exit()), Some(reported.clone()));
        assert_eq!(watch.failure(), None, "instance 2 may still serve");
        assert!(watch.exited(2, exit()).is_some());
        assert!(watch.failure().is_some());
    }
}
