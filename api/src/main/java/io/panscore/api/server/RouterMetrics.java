package io.panscore.api.server;

import io.panscore.api.router.Decision;
import io.panscore.api.router.GlimpRouter;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.ExpositionFormats;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.util.concurrent.atomic.LongAdder;

/**
 * The sidecar's Prometheus metrics: glimpse latency (queueing and decode, seconds), glimpses per
 * decode, decisions by route and the fraction routed to the large model, open sessions, and HTTP
 * requests by status. Thread-safe.
 */
public final class RouterMetrics implements GlimpRouter.Listener {

    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final ExpositionFormats formats = ExpositionFormats.init();
    private final Histogram latency = Histogram.builder().name("panscore_glimpse_latency_seconds")
            .help("Time from a glimpse being queued to its decision").classicOnly()
            .classicUpperBounds(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5).register(registry);
    private final Histogram batch = Histogram.builder().name("panscore_glimpse_batch_size").help("Glimpses decoded together in one llama.cpp batch")
            .classicOnly().classicUpperBounds(1, 2, 4, 8, 16, 32, 64, 128, 256).register(registry);
    private final Counter decisions = Counter.builder().name("panscore_glimpse_decisions_total").help("Routing decisions by route")
            .labelNames("route").register(registry);
    private final Gauge largeFraction = Gauge.builder().name("panscore_glimpse_large_fraction")
            .help("Fraction of decisions so far that routed the step to the large model").register(registry);
    private final Counter requests = Counter.builder().name("panscore_http_requests_total").help("HTTP requests by endpoint and status")
            .labelNames("endpoint", "status").register(registry);
    private final LongAdder total = new LongAdder();
    private final LongAdder large = new LongAdder();

    public RouterMetrics() {}

    /** Reports the router's open sessions at every scrape. */
    public void watchSessions(GlimpRouter router) {
        GaugeWithCallback.builder().name("panscore_sessions_open").help("Open router sessions").callback(cb -> cb.call(router.openSessions()))
                .register(registry);
    }

    @Override
    public void onBatch(int glimpses, long decodeNanos) {
        batch.observe(glimpses);
    }

    @Override
    public void onGlimpse(Decision d, long latencyNanos) {
        latency.observe(latencyNanos / 1e9);
        decisions.labelValues(d.large() ? "large" : "small").inc();
        total.increment();
        if (d.large()) {
            large.increment();
        }
        largeFraction.set(large.doubleValue() / total.doubleValue());
    }

    void onRequest(String endpoint, int status) {
        requests.labelValues(endpoint, Integer.toString(status)).inc();
    }

    /** The Prometheus text exposition format. */
    public String contentType() {
        return formats.getPrometheusTextFormatWriter().getContentType();
    }

    public void write(OutputStream out) throws IOException {
        formats.getPrometheusTextFormatWriter().write(out, registry.scrape());
    }
}
