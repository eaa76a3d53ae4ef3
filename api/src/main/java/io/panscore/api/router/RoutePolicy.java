package io.panscore.api.router;

/** Who writes each step: the router's glimpse, always one model, or a seeded coin at a given large fraction. */
public enum RoutePolicy {
    /** GlimpRouter: the first-token entropy against τ. */
    GLIMP,
    /** The small model writes every step (no glimpse). */
    SMALL,
    /** The large model writes every step (no glimpse). */
    LARGE,
    /** Each step goes to the large model with probability {@link RouteOptions#largeFraction}, seeded. */
    RANDOM
}
