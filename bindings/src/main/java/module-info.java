/**
 * FFM bindings of libpanscore's C ABI ({@code native/include/panscore.h}) and the loader that finds
 * the native library: an explicit directory, else the natives jar of this platform (a classifier
 * jar of {@code io.panscore:panscore-bindings}, e.g. {@code linux-x86_64}).
 *
 * <p>This module makes the restricted FFM calls (it loads the library and creates the downcall
 * handles): run with {@code --enable-native-access=io.panscore.bindings} on the module path, or
 * {@code --enable-native-access=ALL-UNNAMED} on the class path.
 */
module io.panscore.bindings {
    exports io.panscore.bindings;
}
