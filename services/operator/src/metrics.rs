//! The operator's counters, served as Prometheus text on `GET /metrics` of
//! the operator's port and logged when it stops.
//!
//! A handful of monotonic counters does not justify a metrics library:
//! atomics and a small map of error labels, rendered by hand.

use std::{
    collections::BTreeMap,
    fmt::Write,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

/// The operator's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    reconciles: AtomicU64,
    tenants_created: AtomicU64,
    tenants_updated: AtomicU64,
    silos_provisioned: AtomicU64,
    tenants_offboarded: AtomicU64,
    failures: Mutex<BTreeMap<&'static str, u64>>,
}

/// A point-in-time copy of the counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Reconciles started.
    pub reconciles: u64,
    /// Tenants created in the tenants service.
    pub tenants_created: u64,
    /// Tenants updated to match their spec.
    pub tenants_updated: u64,
    /// Silo placements recorded.
    pub silos_provisioned: u64,
    /// Tenants exported and deleted.
    pub tenants_offboarded: u64,
    /// Failed reconciles by error label.
    pub failures: BTreeMap<&'static str, u64>,
}

impl Metrics {
    /// One reconcile started.
    pub fn reconcile(&self) {
        self.reconciles.fetch_add(1, Ordering::Relaxed);
    }

    /// A tenant was created.
    pub fn created(&self) {
        self.tenants_created.fetch_add(1, Ordering::Relaxed);
    }

    /// A tenant was updated.
    pub fn updated(&self) {
        self.tenants_updated.fetch_add(1, Ordering::Relaxed);
    }

    /// A silo's placement was recorded.
    pub fn silo_provisioned(&self) {
        self.silos_provisioned.fetch_add(1, Ordering::Relaxed);
    }

    /// A tenant was offboarded.
    pub fn offboarded(&self) {
        self.tenants_offboarded.fetch_add(1, Ordering::Relaxed);
    }

    /// A reconcile failed with an error labelled `label`.
    pub fn failure(&self, label: &'static str) {
        // A poisoned lock only means another thread panicked mid-increment;
        // the counts are still usable.
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *failures.entry(label).or_default() += 1;
    }

    /// The counters now.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            reconciles: self.reconciles.load(Ordering::Relaxed),
            tenants_created: self.tenants_created.load(Ordering::Relaxed),
            tenants_updated: self.tenants_updated.load(Ordering::Relaxed),
            silos_provisioned: self.silos_provisioned.load(Ordering::Relaxed),
            tenants_offboarded: self.tenants_offboarded.load(Ordering::Relaxed),
            failures: self
                .failures
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
        }
    }

    /// The counters in the Prometheus text format.
    pub fn render(&self) -> String {
        let snapshot = self.snapshot();
        let mut text = String::new();
        for (name, help, value) in [
            (
                "kefu_operator_reconciles_total",
                "Reconciles of Tenant resources.",
                snapshot.reconciles,
            ),
            (
                "kefu_operator_tenants_created_total",
                "Tenants created in the tenants service.",
                snapshot.tenants_created,
            ),
            (
                "kefu_operator_tenants_updated_total",
                "Tenants updated to match their spec.",
                snapshot.tenants_updated,
            ),
            (
                "kefu_operator_silos_provisioned_total",
                "Silo placements recorded.",
                snapshot.silos_provisioned,
            ),
            (
                "kefu_operator_tenants_offboarded_total",
                "Tenants exported and deleted.",
                snapshot.tenants_offboarded,
            ),
        ] {
            let _ = writeln!(
                text,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        }
        let name = "kefu_operator_reconcile_errors_total";
        let _ = writeln!(
            text,
            "# HELP {name} Failed reconciles by error.\n# TYPE {name} counter"
        );
        for (label, value) in &snapshot.failures {
            let _ = writeln!(text, "{name}{{error=\"{label}\"}} {value}");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_as_prometheus_text() {
        let metrics = Metrics::default();
        metrics.reconcile();
        metrics.reconcile();
        metrics.created();
        metrics.failure("tenants_unavailable");
        metrics.failure("tenants_unavailable");
        let text = metrics.render();
        assert!(
            text.contains("kefu_operator_reconciles_total 2\n"),
            "{text}"
        );
        assert!(
            text.contains("kefu_operator_tenants_created_total 1\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "kefu_operator_reconcile_errors_total{error=\"tenants_unavailable\"} 2\n"
            ),
            "{text}"
        );
        assert_eq!(metrics.snapshot().failures["tenants_unavailable"], 2);
    }
}
