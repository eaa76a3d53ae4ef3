/** The consumer example as a named module: it needs only panscore's API module. */
module io.panscore.example.consumer {
    requires io.panscore.api;
}
