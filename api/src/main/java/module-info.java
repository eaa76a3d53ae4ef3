/**
 * panscore's public front door: {@link io.panscore.api.Scorer}, trajectories and RSR, implicit
 * PRM, GlimpRouter, the HTTP sidecar, the HTML report and the command-line interface.
 */
module io.panscore.api {
    requires transitive io.panscore.kernel;
    requires com.fasterxml.jackson.core;
    requires com.fasterxml.jackson.databind;
    requires com.fasterxml.jackson.dataformat.csv;
    requires org.eclipse.jetty.server;
    requires org.eclipse.jetty.http;
    requires org.eclipse.jetty.io;
    requires org.eclipse.jetty.util;
    requires io.prometheus.metrics.core;
    requires io.prometheus.metrics.model;
    requires io.prometheus.metrics.expositionformats;
    requires io.prometheus.writer.text; // holds ExpositionFormats
    requires info.picocli;
    requires java.net.http; // OpenAiStepWriter

    exports io.panscore.api;
    exports io.panscore.api.prm;
    exports io.panscore.api.report;
    exports io.panscore.api.router;
    exports io.panscore.api.server;
    exports io.panscore.api.server.openai;
    exports io.panscore.api.trajectory;
    exports io.panscore.api.cli;

    // picocli reads and sets the commands' annotated fields reflectively
    opens io.panscore.api.cli to info.picocli;
}
