package io.panscore.bindings;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.net.URL;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.function.Predicate;

/**
 * Finds libpanscore and opens it once per JVM. The places it tries, in order:
 * <ol>
 *   <li>the directory named by the system property {@value #LIB_PATH_PROPERTY} (aliases: the
 *       property {@value #LIBRARY_PATH_PROPERTY} and the environment variable
 *       {@value #LIBRARY_PATH_ENV});</li>
 *   <li>the natives jars on the class path (or module path). The library of each platform ships in
 *       its own classifier jar of {@code io.panscore:panscore-bindings}, e.g. {@code linux-x86_64}
 *       or {@code linux-x86_64-cuda}, under {@code io/panscore/native/<classifier>/}. The CUDA
 *       variant is preferred when its jar is present and a GPU driver ({@code libcuda.so.1}) can be
 *       loaded; otherwise the CPU variant is used and the fallback is logged. A library from a jar
 *       is extracted once into a cache directory named after its SHA-256 ({@value #CACHE_DIR_PROPERTY}
 *       / {@value #CACHE_DIR_ENV}, default {@code ~/.cache/panscore/lib}).</li>
 * </ol>
 * The library is opened with {@link System#load}, so the jextract-generated {@link panscore_h} finds
 * its symbols through {@code SymbolLookup.loaderLookup()}: call {@link #load()} before touching
 * {@link panscore_h}. A failure names every place tried, the classifier artifact that would supply
 * this platform's library and the override property; it is reported on every later call too.
 * Nothing outside the cache entry it owns is ever deleted.
 *
 * <p>{@code -D}{@value #CUDA_PROPERTY}{@code =false} keeps the CUDA variant from being chosen.
 *
 * <p>Thread-safe: the library is opened in a static initializer.
 */
public final class NativeLibrary {

    /** A directory holding libpanscore; wins over the natives jars. */
    public static final String LIB_PATH_PROPERTY = "panscore.lib.path";
    /** An alias of {@link #LIB_PATH_PROPERTY} (the older name). */
    public static final String LIBRARY_PATH_PROPERTY = "panscore.library.path";
    /** The environment variable alias of {@link #LIB_PATH_PROPERTY}. */
    public static final String LIBRARY_PATH_ENV = "PANSCORE_LIBRARY_PATH";
    /** Where extracted files are cached. */
    public static final String CACHE_DIR_PROPERTY = "panscore.cache.dir";
    /** The environment variable alias of {@link #CACHE_DIR_PROPERTY}. */
    public static final String CACHE_DIR_ENV = "PANSCORE_CACHE_DIR";
    /** {@code false} keeps the CUDA natives from being chosen even where a GPU driver is present. */
    public static final String CUDA_PROPERTY = "panscore.cuda";
    /** The Maven coordinates of the natives jars, less their version and classifier. */
    public static final String NATIVES_ARTIFACT = "io.panscore:panscore-bindings";

    private static final String RESOURCE_ROOT = "io/panscore/native/";
    private static final System.Logger LOG = System.getLogger(NativeLibrary.class.getName());

    /** Platforms whose layout the loader knows; only {@code linux-x86_64}(-cuda) are built today. */
    static final List<String> KNOWN_PLATFORMS = List.of("linux-x86_64", "linux-aarch64", "darwin-x86_64", "darwin-aarch64");

    private NativeLibrary() {}

    /** The platform folder of the running JVM, e.g. {@code linux-x86_64}. */
    public static String platform() {
        return platform(System.getProperty("os.name"), System.getProperty("os.arch"));
    }

    /** The platform folder (and natives classifier) for an {@code os.name} and {@code os.arch}. */
    public static String platform(String osNameProperty, String osArchProperty) {
        String os = osNameProperty.toLowerCase(Locale.ROOT);
        String arch = osArchProperty.toLowerCase(Locale.ROOT);
        String osName = os.startsWith("linux") ? "linux"
                : os.startsWith("mac") || os.startsWith("darwin") ? "darwin"
                : os.startsWith("windows") ? "windows" : os.replaceAll("[^a-z0-9]", "");
        String archName = switch (arch) {
            case "amd64", "x86_64", "x86-64", "x64" -> "x86_64";
            case "aarch64", "arm64" -> "aarch64";
            default -> arch.replaceAll("[^a-z0-9_]", "");
        };
        return osName + "-" + archName;
    }

    /** The library's file name on this OS. */
    public static String fileName() {
        return System.mapLibraryName("panscore");
    }

    /** This bindings jar's version (for the coordinates in messages), or "VERSION" when unknown. */
    public static String version() {
        try (InputStream in = NativeLibrary.class.getResourceAsStream("panscore-bindings.properties")) {
            if (in != null) {
                Properties p = new Properties();
                p.load(in);
                String v = p.getProperty("version");
                if (v != null && !v.isBlank() && !v.startsWith("${")) {
                    return v;
                }
            }
        } catch (IOException e) {
            // fall through
        }
        return "VERSION";
    }

    /** One library to try: a natives classifier and the resource that holds its library. */
    record Candidate(String classifier, String resource, boolean cuda) {}

    /**
     * What to try, in order, and what to log about the choice.
     *
     * @param candidates the libraries to try
     * @param notes      messages worth logging (e.g. why CUDA was passed over)
     */
    record Plan(List<Candidate> candidates, List<String> notes) {}

    /**
     * The selection logic, free of the running JVM so it can be tested: which bundled libraries to
     * try for a platform.
     *
     * @param platform        e.g. {@code linux-x86_64}
     * @param libraryFile     the library's file name, e.g. {@code libpanscore.so}
     * @param resourceExists  whether a resource (e.g. {@code io/panscore/native/linux-x86_64/libpanscore.so}) is on the class path
     * @param gpuDriver       whether a GPU driver can be loaded; asked only when a CUDA library is present
     * @param cudaAllowed     false when the user turned CUDA off
     */
    static Plan plan(String platform, String libraryFile, Predicate<String> resourceExists, java.util.function.BooleanSupplier gpuDriver,
            boolean cudaAllowed) {
        Candidate cpu = new Candidate(platform, RESOURCE_ROOT + platform + "/" + libraryFile, false);
        Candidate cuda = new Candidate(platform + "-cuda", RESOURCE_ROOT + platform + "-cuda/" + libraryFile, true);
        boolean haveCpu = resourceExists.test(cpu.resource());
        boolean haveCuda = resourceExists.test(cuda.resource());
        List<Candidate> out = new ArrayList<>();
        List<String> notes = new ArrayList<>();
        if (haveCuda) {
            if (!cudaAllowed) {
                notes.add("panscore: the CUDA natives (" + cuda.classifier() + ") are present but -D" + CUDA_PROPERTY
                        + "=false: " + (haveCpu ? "using the CPU library (" + cpu.classifier() + ")" : "trying them anyway (no CPU natives present)"));
                if (haveCpu) {
                    out.add(cpu);
                } else {
                    out.add(cuda);
                }
                return new Plan(List.copyOf(out), List.copyOf(notes));
            }
            if (gpuDriver.getAsBoolean()) {
                out.add(cuda);
                if (haveCpu) {
                    out.add(cpu);
                }
            } else if (haveCpu) {
                notes.add("panscore: no GPU driver (libcuda.so.1 could not be loaded): using the CPU library (" + cpu.classifier()
                        + ") instead of the CUDA one (" + cuda.classifier() + ")");
                out.add(cpu);
            } else {
                notes.add("panscore: no GPU driver (libcuda.so.1 could not be loaded) and no CPU natives: trying the CUDA library ("
                        + cuda.classifier() + ") anyway; add " + coordinates(cpu.classifier()) + " for a CPU fallback");
                out.add(cuda);
            }
        } else if (haveCpu) {
            out.add(cpu);
        }
        return new Plan(List.copyOf(out), List.copyOf(notes));
    }

    /** {@code io.panscore:panscore-bindings:VERSION:classifier}. */
    static String coordinates(String classifier) {
        return NATIVES_ARTIFACT + ":" + version() + ":" + classifier;
    }

    /**
     * The message of a failed load: what was tried, the classifier artifact that supplies this
     * platform's library, the override property and the native-access flag.
     */
    static String failureMessage(String platform, String libraryFile, List<String> tried) {
        StringBuilder m = new StringBuilder("libpanscore could not be loaded for platform ").append(platform).append(". Tried:\n");
        if (tried.isEmpty()) {
            m.append("  - no ").append(libraryFile).append(" under ").append(RESOURCE_ROOT).append(platform)
                    .append("/ on the class path or module path: the natives jar for this platform is missing\n");
        } else {
            for (String t : tried) {
                m.append("  - ").append(t).append('\n');
            }
        }
        if (!KNOWN_PLATFORMS.contains(platform)) {
            m.append("No natives jar is published for ").append(platform).append(" (known: ").append(String.join(", ", KNOWN_PLATFORMS))
                    .append("); build libpanscore yourself (cmake) and point -D").append(LIB_PATH_PROPERTY).append(" at it.\n");
        }
        m.append("Fix: add the natives for this platform to the runtime class path, ").append(coordinates(platform))
                .append(" (Maven: artifactId panscore-bindings, <classifier>").append(platform).append("</classifier>")
                .append(platform.equals("linux-x86_64") ? "; " + coordinates(platform + "-cuda") + " adds the CUDA build" : "")
                .append("),\n  or point -D").append(LIB_PATH_PROPERTY).append("=DIR (aliases: -D").append(LIBRARY_PATH_PROPERTY).append(", $")
                .append(LIBRARY_PATH_ENV).append(") at a directory holding ").append(libraryFile)
                .append(" (./panscore build makes one under bindings/target/classes/").append(RESOURCE_ROOT).append(platform).append("/).\n")
                .append("Run the JVM with --enable-native-access=io.panscore.bindings (module path) or --enable-native-access=ALL-UNNAMED (class path).");
        return m.toString();
    }

    /** Opened once; a failure is kept so every later call reports the same, full message. */
    private static final class Holder {
        static final Path PATH;
        static final String FAILURE;

        static {
            Path path = null;
            String failure = null;
            try {
                path = locateAndLoad();
            } catch (UnsatisfiedLinkError e) {
                failure = e.getMessage();
            }
            PATH = path;
            FAILURE = failure;
        }
    }

    /**
     * Opens libpanscore once and returns where it was loaded from.
     *
     * @return the path of the library that was loaded
     * @throws UnsatisfiedLinkError on every call when it cannot be opened, with a message that lists
     *         every place tried, the natives artifact to add and the {@value #LIB_PATH_PROPERTY} override
     */
    public static Path load() {
        if (Holder.FAILURE != null) {
            throw new UnsatisfiedLinkError(Holder.FAILURE);
        }
        return Holder.PATH;
    }

    /**
     * Where the library was loaded from (loads it if needed).
     *
     * @return the path of the loaded library
     */
    public static Path path() {
        return load();
    }

    /** The override directory, if any, and which setting named it. */
    private static String[] overrideDir() {
        for (String p : List.of(LIB_PATH_PROPERTY, LIBRARY_PATH_PROPERTY)) {
            String v = System.getProperty(p);
            if (!isBlank(v)) {
                return new String[] {v, "-D" + p};
            }
        }
        String v = System.getenv(LIBRARY_PATH_ENV);
        return isBlank(v) ? null : new String[] {v, "$" + LIBRARY_PATH_ENV};
    }

    private static Path locateAndLoad() {
        List<String> tried = new ArrayList<>();
        String platform = platform();
        String[] override = overrideDir();
        if (override != null) {
            Path candidate = Path.of(override[0]).resolve(fileName());
            if (Files.isReadable(candidate)) {
                try {
                    System.load(candidate.toAbsolutePath().toString());
                    return candidate;
                } catch (UnsatisfiedLinkError e) {
                    tried.add(candidate + " (from " + override[1] + "): could not be loaded: " + e.getMessage());
                }
            } else {
                tried.add(candidate + " (from " + override[1] + "): not found");
            }
        }
        boolean cudaAllowed = !"false".equalsIgnoreCase(System.getProperty(CUDA_PROPERTY, "").trim());
        Plan plan = plan(platform, fileName(), r -> resource(r) != null, NativeLibrary::gpuDriverPresent, cudaAllowed);
        plan.notes().forEach(n -> LOG.log(System.Logger.Level.INFO, n));
        for (Candidate c : plan.candidates()) {
            Path extracted;
            try (InputStream in = resource(c.resource()).openStream()) {
                extracted = extract(in.readAllBytes(), fileName());
            } catch (IOException | UncheckedIOException e) {
                tried.add(c.resource() + " (" + coordinates(c.classifier()) + "): could not extract it: " + e.getMessage());
                continue;
            }
            try {
                System.load(extracted.toString());
                return extracted;
            } catch (UnsatisfiedLinkError e) {
                tried.add(c.resource() + " (" + coordinates(c.classifier()) + "), extracted to " + extracted + ": could not be loaded: "
                        + e.getMessage());
                if (c.cuda()) {
                    LOG.log(System.Logger.Level.INFO, "panscore: the CUDA library could not be loaded (" + e.getMessage()
                            + "); falling back to the CPU library if present");
                }
            }
        }
        throw new UnsatisfiedLinkError(failureMessage(platform, fileName(), tried));
    }

    /** A resource of any jar on the class path or any module (natives folders are not packages, so no module hides them). */
    private static URL resource(String name) {
        ClassLoader own = NativeLibrary.class.getClassLoader();
        URL url = own == null ? ClassLoader.getSystemResource(name) : own.getResource(name);
        if (url == null) {
            ClassLoader context = Thread.currentThread().getContextClassLoader();
            if (context != null && context != own) {
                url = context.getResource(name);
            }
        }
        return url;
    }

    /** Whether the CUDA driver library can be opened (it is closed again at once). */
    static boolean gpuDriverPresent() {
        if (!platform().startsWith("linux")) {
            return false;
        }
        try (Arena arena = Arena.ofConfined()) {
            SymbolLookup.libraryLookup("libcuda.so.1", arena);
            return true;
        } catch (IllegalArgumentException | IllegalCallerException | UnsatisfiedLinkError e) {
            return false;
        }
    }

    /**
     * The cache directory for extracted files.
     *
     * @return {@value #CACHE_DIR_PROPERTY}, else {@code $XDG_CACHE_HOME/panscore}, else {@code ~/.cache/panscore}
     */
    public static Path cacheDir() {
        String dir = setting(CACHE_DIR_PROPERTY, CACHE_DIR_ENV);
        if (dir == null) {
            String xdg = System.getenv("XDG_CACHE_HOME");
            Path base = isBlank(xdg) ? Path.of(System.getProperty("user.home"), ".cache") : Path.of(xdg);
            return base.resolve("panscore");
        }
        return Path.of(dir);
    }

    /** The system property if set, else the environment variable; null when both are unset or blank. */
    private static String setting(String property, String env) {
        String v = System.getProperty(property);
        if (isBlank(v)) {
            v = System.getenv(env);
        }
        return isBlank(v) ? null : v;
    }

    private static boolean isBlank(String s) {
        return s == null || s.isBlank();
    }

    /**
     * Copies bytes into {@code <cache>/lib/<sha256-prefix>/<name>} unless an identical copy is there:
     * the content hash names the directory, so concurrent JVMs and different versions never
     * overwrite each other's files, and a finished file is only ever renamed into place.
     */
    static Path extract(byte[] bytes, String name) throws IOException {
        String hash = sha256(bytes).substring(0, 16);
        Path dir = cacheDir().resolve("lib").resolve(hash);
        Path target = dir.resolve(name);
        if (Files.isRegularFile(target) && Files.size(target) == bytes.length) {
            return target;
        }
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, name, ".part");
        try {
            Files.write(tmp, bytes);
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
        return target;
    }

    /**
     * A data file bundled beside the library (e.g. {@code vocab/ggml-vocab-qwen2.gguf}), extracted
     * into the cache like the library, or a file next to the library when it was loaded from a
     * directory.
     *
     * @param relative the file's path under {@code io/panscore/native/}
     * @return a readable file
     * @throws IOException when the file is in neither place
     */
    public static Path bundledFile(String relative) throws IOException {
        String[] override = overrideDir();
        if (override != null) {
            Path candidate = Path.of(override[0]).resolve(relative);
            if (Files.isReadable(candidate)) {
                return candidate;
            }
        }
        String resource = "/" + RESOURCE_ROOT + relative;
        InputStream found = NativeLibrary.class.getResourceAsStream(resource);
        if (found == null) {
            URL url = resource(RESOURCE_ROOT + relative);
            found = url == null ? null : url.openStream();
        }
        try (InputStream in = found) {
            if (in == null) {
                throw new IOException("no bundled file " + resource + " on the classpath (build the bindings module first)");
            }
            return extract(in.readAllBytes(), Path.of(relative).getFileName().toString());
        }
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError("SHA-256 is required of every JVM", e);
        }
    }
}
