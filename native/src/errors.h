// The one error convention of the ABI: a status code plus a thread-local message, and a guard that
// turns every C++ exception into a status before it can reach the C boundary.
#pragma once

#include "panscore.h"

#include <cstdarg>
#include <exception>
#include <new>
#include <string>

namespace panscore {

// Sets the calling thread's message and returns status, so failures read `return fail(...)`.
int32_t fail(int32_t status, const char * fmt, ...) __attribute__((format(printf, 2, 3)));

// Clears the calling thread's message.
void clear_error();

// The last ERROR line llama.cpp logged on this thread ("" if none), cleared by clear_error().
const std::string & last_llama_error();

// Runs body() (which returns a status) and converts any exception into a status and message.
template <typename Body>
int32_t guarded(const char * where, Body && body) noexcept {
    try {
        clear_error();
        return body();
    } catch (const std::bad_alloc &) {
        return fail(PS_ERR_OUT_OF_MEMORY, "%s: out of memory", where);
    } catch (const std::exception & e) {
        return fail(PS_ERR_INTERNAL, "%s: %s", where, e.what());
    } catch (...) {
        return fail(PS_ERR_INTERNAL, "%s: unknown C++ exception", where);
    }
}

} // namespace panscore
