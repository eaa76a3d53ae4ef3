package io.panscore.bindings;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
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

/**
 * Finds libpanscore and opens it once per JVM. The places it tries, in order:
 * <ol>
 *   <li>the directory named by the system property {@value #LIBRARY_PATH_PROPERTY}, else by the
 *       environment variable {@value #LIBRARY_PATH_ENV};</li>
 *   <li>the copy bundled in this jar under {@code io/panscore/native/<os>-<arch>/}, extracted once
 *       into a cache directory named after its SHA-256 ({@value #CACHE_DIR_PROPERTY} /
 *       {@value #CACHE_DIR_ENV}, default {@code ~/.cache/panscore/lib}).</li>
 * </ol>
 * The library is opened with {@link System#load}, so the jextract-generated {@link panscore_h} finds
 * its symbols through {@code SymbolLookup.loaderLookup()}: call {@link #load()} before touching
 * {@link panscore_h}. A failure lists every place tried. Nothing outside the cache entry it owns is
 * ever deleted.
 *
 * <p>Thread-safe: the library is opened in a static initializer.
 */
public final class NativeLibrary {

    public static final String LIBRARY_PATH_PROPERTY = "panscore.library.path";
    public static final String LIBRARY_PATH_ENV = "PANSCORE_LIBRARY_PATH";
    public static final String CACHE_DIR_PROPERTY = "panscore.cache.dir";
    public static final String CACHE_DIR_ENV = "PANSCORE_CACHE_DIR";

    private static final String RESOURCE_ROOT = "/io/panscore/native/";

    private NativeLibrary() {}

    /** The platform folder of the running JVM, e.g. {@code linux-x86_64}. */
    public static String platform() {
        String os = System.getProperty("os.name").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch").toLowerCase(Locale.ROOT);
        String osName = os.startsWith("linux") ? "linux" : os.startsWith("mac") ? "darwin" : os.startsWith("windows") ? "windows" : os;
        String archName = switch (arch) {
            case "amd64", "x86_64" -> "x86_64";
            case "aarch64", "arm64" -> "aarch64";
            default -> arch;
        };
        return osName + "-" + archName;
    }

    /** The library's file name on this OS. */
    public static String fileName() {
        return System.mapLibraryName("panscore");
    }

    /** Opened once; a failure is kept so every later call reports the same, full message. */
    private static final class Holder {
        static final Path PATH;
        static final String FAILURE;

        static {
            Path path = null;
            String failure = null;
            try {
                path = locate();
                System.load(path.toString());
            } catch (UnsatisfiedLinkError e) {
                failure = e.getMessage() + (path == null ? "" : "\n(found " + path + " but could not load it)");
            }
            PATH = path;
            FAILURE = failure;
        }
    }

    /**
     * Opens libpanscore once and returns where it was loaded from.
     *
     * @throws UnsatisfiedLinkError listing every place tried, on every call, when it cannot be opened
     */
    public static Path load() {
        if (Holder.FAILURE != null) {
            throw new UnsatisfiedLinkError(Holder.FAILURE);
        }
        return Holder.PATH;
    }

    /** Where the library was loaded from (loads it if needed). */
    public static Path path() {
        return load();
    }

    private static Path locate() {
        List<String> tried = new ArrayList<>();
        String dir = setting(LIBRARY_PATH_PROPERTY, LIBRARY_PATH_ENV);
        if (dir != null) {
            String origin = isBlank(System.getProperty(LIBRARY_PATH_PROPERTY)) ? "$" + LIBRARY_PATH_ENV : "-D" + LIBRARY_PATH_PROPERTY;
            Path candidate = Path.of(dir).resolve(fileName());
            if (Files.isReadable(candidate)) {
                return candidate;
            }
            tried.add(candidate + " (from " + origin + "): not found");
        }
        String resource = RESOURCE_ROOT + platform() + "/" + fileName();
        try (InputStream in = NativeLibrary.class.getResourceAsStream(resource)) {
            if (in != null) {
                return extract(in.readAllBytes(), fileName());
            }
            tried.add("classpath resource " + resource + ": not in this jar (no build for " + platform() + ")");
        } catch (IOException | UncheckedIOException e) {
            tried.add("classpath resource " + resource + ": could not extract it: " + e.getMessage());
        }
        throw new UnsatisfiedLinkError("libpanscore could not be found. Tried:\n  - " + String.join("\n  - ", tried)
                + "\nBuild it with ./panscore build (or mvn package), or point -D" + LIBRARY_PATH_PROPERTY
                + " at a directory holding " + fileName() + ". Run the JVM with --enable-native-access=ALL-UNNAMED.");
    }

    /** The cache directory for extracted files. */
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
     */
    public static Path bundledFile(String relative) throws IOException {
        String dir = setting(LIBRARY_PATH_PROPERTY, LIBRARY_PATH_ENV);
        if (dir != null) {
            Path candidate = Path.of(dir).resolve(relative);
            if (Files.isReadable(candidate)) {
                return candidate;
            }
        }
        String resource = RESOURCE_ROOT + relative;
        try (InputStream in = NativeLibrary.class.getResourceAsStream(resource)) {
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
