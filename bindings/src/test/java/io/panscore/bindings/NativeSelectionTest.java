package io.panscore.bindings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The loader's choice of natives jar, with the OS, architecture, the jars present and the GPU driver
 * injected (the expected lists are written out by hand from the rules in NativeLibrary's javadoc).
 */
class NativeSelectionTest {

    private static final String CPU = "io/panscore/native/linux-x86_64/libpanscore.so";
    private static final String CUDA = "io/panscore/native/linux-x86_64-cuda/libpanscore.so";

    private static List<String> classifiers(NativeLibrary.Plan plan) {
        return plan.candidates().stream().map(NativeLibrary.Candidate::classifier).toList();
    }

    private static NativeLibrary.Plan plan(Set<String> jars, boolean driver, boolean cudaAllowed) {
        return NativeLibrary.plan("linux-x86_64", "libpanscore.so", jars::contains, () -> driver, cudaAllowed);
    }

    @Test
    void platformNamesFromOsProperties() {
        assertEquals("linux-x86_64", NativeLibrary.platform("Linux", "amd64"));
        assertEquals("linux-x86_64", NativeLibrary.platform("Linux", "x86_64"));
        assertEquals("linux-aarch64", NativeLibrary.platform("Linux", "aarch64"));
        assertEquals("darwin-aarch64", NativeLibrary.platform("Mac OS X", "aarch64"));
        assertEquals("darwin-x86_64", NativeLibrary.platform("Mac OS X", "x86_64"));
        assertEquals("windows-x86_64", NativeLibrary.platform("Windows 11", "amd64"));
    }

    @Test
    void cpuJarAloneIsChosenWithoutAskingForADriver() {
        AtomicInteger asked = new AtomicInteger();
        NativeLibrary.Plan p = NativeLibrary.plan("linux-x86_64", "libpanscore.so", Set.of(CPU)::contains, () -> {
            asked.incrementAndGet();
            return true;
        }, true);
        assertEquals(List.of("linux-x86_64"), classifiers(p));
        assertEquals(0, asked.get(), "no CUDA jar: the driver is not probed");
        assertTrue(p.notes().isEmpty());
    }

    @Test
    void cudaPreferredWhenDriverPresentWithCpuAsSecondChoice() {
        NativeLibrary.Plan p = plan(Set.of(CPU, CUDA), true, true);
        assertEquals(List.of("linux-x86_64-cuda", "linux-x86_64"), classifiers(p));
        assertTrue(p.candidates().get(0).cuda());
        assertEquals(CUDA, p.candidates().get(0).resource());
    }

    @Test
    void noDriverFallsBackToCpuWithALoggedReason() {
        NativeLibrary.Plan p = plan(Set.of(CPU, CUDA), false, true);
        assertEquals(List.of("linux-x86_64"), classifiers(p));
        assertEquals(1, p.notes().size());
        assertTrue(p.notes().get(0).contains("libcuda.so.1"), p.notes().get(0));
        assertTrue(p.notes().get(0).contains("using the CPU library"), p.notes().get(0));
    }

    @Test
    void cudaTurnedOffByPropertyUsesCpu() {
        NativeLibrary.Plan p = plan(Set.of(CPU, CUDA), true, false);
        assertEquals(List.of("linux-x86_64"), classifiers(p));
        assertTrue(p.notes().get(0).contains("-Dpanscore.cuda=false"), p.notes().get(0));
    }

    @Test
    void cudaJarAloneWithoutDriverIsStillTriedAndNamesTheCpuArtifact() {
        NativeLibrary.Plan p = plan(Set.of(CUDA), false, true);
        assertEquals(List.of("linux-x86_64-cuda"), classifiers(p));
        assertTrue(p.notes().get(0).contains("io.panscore:panscore-bindings:"), p.notes().get(0));
        assertTrue(p.notes().get(0).contains(":linux-x86_64 "), p.notes().get(0));
    }

    @Test
    void otherPlatformsJarsAreNotCandidates() {
        // an x86-64 jar on an aarch64 machine is the wrong architecture: nothing to try
        NativeLibrary.Plan p = NativeLibrary.plan("linux-aarch64", "libpanscore.so", Set.of(CPU, CUDA)::contains, () -> true, true);
        assertTrue(p.candidates().isEmpty());
    }

    @Test
    void failureNamesTheMissingClassifierAndTheOverride() {
        String m = NativeLibrary.failureMessage("linux-aarch64", "libpanscore.so", List.of());
        assertTrue(m.contains("io.panscore:panscore-bindings:" + NativeLibrary.version() + ":linux-aarch64"), m);
        assertTrue(m.contains("<classifier>linux-aarch64</classifier>"), m);
        assertTrue(m.contains("-Dpanscore.lib.path=DIR"), m);
        assertTrue(m.contains("-Dpanscore.library.path") && m.contains("PANSCORE_LIBRARY_PATH"), m);
        assertTrue(m.contains("--enable-native-access=io.panscore.bindings"), m);
        assertFalse(m.contains("No natives jar is published"), "aarch64 is a known layout");
    }

    @Test
    void failureOnAnUnknownPlatformSaysSo() {
        String m = NativeLibrary.failureMessage("freebsd-x86_64", "libpanscore.so", List.of("somewhere: not found"));
        assertTrue(m.contains("No natives jar is published for freebsd-x86_64"), m);
        assertTrue(m.contains("  - somewhere: not found"), m);
    }

    @Test
    void versionIsTheBuiltOne() {
        // filtered from the POM's version by the build; a raw placeholder would mean filtering is off
        assertTrue(NativeLibrary.version().matches("\\d+\\.\\d+\\.\\d+.*"), NativeLibrary.version());
    }
}
