package io.panscore.api.cli;

import io.panscore.kernel.Runtime;
import picocli.CommandLine.IVersionProvider;

/** Prints the library, llama.cpp and backend versions of the loaded native library. */
final class VersionProvider implements IVersionProvider {
    @Override
    public String[] getVersion() {
        return new String[] {"panscore " + Runtime.version(), "llama.cpp " + Runtime.llamaCommit(), "backends " + Runtime.backends()};
    }
}
