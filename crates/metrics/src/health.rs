//! Upstream health: one gauge per target that has a health check.

use prometheus::{IntGauge, IntGaugeVec, Opts, Registry};

/// Registered with the rest.
#[derive(Clone)]
pub(crate) struct HealthFamilies {
    healthy: IntGaugeVec,
}

impl HealthFamilies {
    pub(crate) fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let healthy = IntGaugeVec::new(
            Opts::new(
                "protogate_upstream_target_healthy",
                "1 while an upstream target passes its health check (it takes calls), 0 while it fails (it is out of rotation). Only targets of upstreams with a health_check.",
            ),
            &["upstream", "target"],
        )?;
        registry.register(Box::new(healthy.clone()))?;
        Ok(Self { healthy })
    }

    pub(crate) fn target(&self, upstream: &str, target: &str) -> IntGauge {
        self.healthy.with_label_values(&[upstream, target])
    }
}
