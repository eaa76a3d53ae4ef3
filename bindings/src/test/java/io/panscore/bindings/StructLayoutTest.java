package io.panscore.bindings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every struct the bindings describe must match what the C compiler laid out: the native side
 * reports sizeof/offsetof through ps_abi_layout. Both the GroupLayout and the offsets the accessor
 * methods use ({@code field$offset()}) are checked, so a hand edit or a header change that was not
 * regenerated fails here instead of corrupting memory.
 */
class StructLayoutTest {

    private static final List<Class<?>> STRUCTS = List.of(ps_model_params.class, ps_model_info.class,
            ps_token_stats.class, ps_score_params.class, ps_engine_params.class, ps_sequence.class, ps_chat_message.class, ps_append.class,
            ps_sampling_params.class);

    @BeforeAll
    static void load() {
        NativeLibrary.load();
    }

    private static long nativeLayout(Arena arena, String struct, String field) {
        MemorySegment out = arena.allocate(Long.BYTES);
        int status = panscore_h.ps_abi_layout(arena.allocateFrom(struct),
                field == null ? MemorySegment.NULL : arena.allocateFrom(field), out);
        assertEquals(panscore_h.PS_OK(), status, () -> "ps_abi_layout(" + struct + ", " + field + ")");
        return out.get(panscore_h.C_LONG_LONG, 0);
    }

    @Test
    void everyStructMatchesTheCompiler() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            for (Class<?> struct : STRUCTS) {
                String name = struct.getSimpleName();
                GroupLayout layout = (GroupLayout) struct.getMethod("layout").invoke(null);
                assertEquals(nativeLayout(arena, name, null), layout.byteSize(), name + ": sizeof");
                int fields = 0;
                for (MemoryLayout member : layout.memberLayouts()) {
                    if (member.name().isEmpty()) {
                        continue; // padding
                    }
                    String field = member.name().get();
                    long expected = nativeLayout(arena, name, field);
                    assertEquals(expected, layout.byteOffset(MemoryLayout.PathElement.groupElement(field)),
                            name + "." + field + ": layout offset");
                    Method accessor = struct.getMethod(field + "$offset");
                    assertEquals(expected, (long) accessor.invoke(null), name + "." + field + ": " + field + "$offset()");
                    fields++;
                }
                long accessors = java.util.Arrays.stream(struct.getMethods())
                        .filter(m -> m.getName().endsWith("$offset") && Modifier.isStatic(m.getModifiers())).count();
                assertEquals(fields, accessors, name + ": every field has an offset accessor");
                assertTrue(fields > 0, name + " has fields");
            }
        }
    }

    @Test
    void unknownNamesAreRejected() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(Long.BYTES);
            assertEquals(panscore_h.PS_ERR_INVALID_ARGUMENT(),
                    panscore_h.ps_abi_layout(arena.allocateFrom("ps_token_stats"), arena.allocateFrom("nope"), out));
            assertEquals(panscore_h.PS_ERR_INVALID_ARGUMENT(),
                    panscore_h.ps_abi_layout(arena.allocateFrom("no_such_struct"), MemorySegment.NULL, out));
        }
    }

    @Test
    void abiVersionMatches() {
        assertEquals(panscore_h.PS_ABI_VERSION(), panscore_h.ps_abi_version());
    }
}
