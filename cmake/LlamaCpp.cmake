# Obtains the pinned llama.cpp and builds it once per (commit, flags), outside the work tree.
#
# Source, in order of preference:
#   -DLLAMA_CPP_SOURCE_DIR=/path/to/llama.cpp   a checkout of the user's own (any commit)
#   the npm package node-llama-cpp@3.22.1, whose llama/gitRelease.bundle holds the whole tree at
#   the pinned commit; the tarball's SHA-512 (npm's "integrity") is checked before anything in it
#   is used, and the clone's HEAD must equal the pinned commit.
# Build: a static, position-independent libllama + ggml, configured with LLAMA_BUILD_TOOLS so that
# llama-perplexity can be built later in the same tree for the benchmarks. Cached under
#   ${PANSCORE_CACHE_DIR}/llama/build-<commit12>-<backend>-<native|portable>-<build type>[-<flags hash>]
# and reused by every later configure of any checkout of panscore (a stamp marks a finished build).
#
# The target panscore::llama also carries llama.cpp's static common library (llama-common, for its
# Jinja chat templates) with its include folders (common/, vendor/ for nlohmann/json).
#
# Outputs: PANSCORE_LLAMA_COMMIT, PANSCORE_LLAMA_SOURCE, PANSCORE_LLAMA_BUILD and the imported
# target panscore::llama (libllama with ggml and its backends).

set(PANSCORE_LLAMA_PINNED_COMMIT de3ff815ea7d559ee917f063901b8986f038abc6)
set(PANSCORE_LLAMA_NPM_URL "https://registry.npmjs.org/node-llama-cpp/-/node-llama-cpp-3.22.1.tgz")
# npm integrity sha512-bltIipuWmc123H7tMIgDGKSsSrhmhlQYeVUC48XTjVW7XGJJiJJyCdlTMzQ/LiWoPkGDpcL4FviDpgw7qfTiDw== in hex:
set(PANSCORE_LLAMA_NPM_SHA512 6e5b488a9b9699cd76dc7eed30880318a4ac4ab866865418795502e3c5d38d55bb5c624988927209d95333343f2e25a83e4183a5c2f816f883a60c3ba9f4e20f)

set(LLAMA_CPP_SOURCE_DIR "" CACHE PATH "Use this llama.cpp checkout instead of fetching the pinned one")
set(PANSCORE_LLAMA_TARBALL "" CACHE FILEPATH "A local copy of node-llama-cpp-3.22.1.tgz (checked like a download)")
option(PANSCORE_NATIVE "Build llama.cpp for this machine's CPU (-march=native)" ON)
set(PANSCORE_LLAMA_EXTRA_ARGS "" CACHE STRING "Extra -D options for llama.cpp's configure (part of the cache key)")

if(DEFINED ENV{PANSCORE_CACHE_DIR} AND NOT "$ENV{PANSCORE_CACHE_DIR}" STREQUAL "")
  set(_ps_cache_default "$ENV{PANSCORE_CACHE_DIR}")
elseif(DEFINED ENV{XDG_CACHE_HOME} AND NOT "$ENV{XDG_CACHE_HOME}" STREQUAL "")
  set(_ps_cache_default "$ENV{XDG_CACHE_HOME}/panscore")
else()
  set(_ps_cache_default "$ENV{HOME}/.cache/panscore")
endif()
set(PANSCORE_CACHE_DIR "${_ps_cache_default}" CACHE PATH "Where llama.cpp sources and builds are cached")
set(_ps_llama_root "${PANSCORE_CACHE_DIR}/llama")
file(MAKE_DIRECTORY "${_ps_llama_root}")

find_package(Git REQUIRED)

function(_ps_run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _err)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "panscore: command failed (${_rc}): ${ARGN}\n${_out}\n${_err}")
  endif()
endfunction()

# --- source ---------------------------------------------------------------------------------------
if(LLAMA_CPP_SOURCE_DIR)
  get_filename_component(_src "${LLAMA_CPP_SOURCE_DIR}" ABSOLUTE)
  if(NOT EXISTS "${_src}/include/llama.h")
    message(FATAL_ERROR "LLAMA_CPP_SOURCE_DIR=${_src} is not a llama.cpp checkout (no include/llama.h)")
  endif()
  execute_process(COMMAND "${GIT_EXECUTABLE}" -C "${_src}" rev-parse HEAD
                  RESULT_VARIABLE _rc OUTPUT_VARIABLE _commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(NOT _rc EQUAL 0)
    string(MD5 _h "${_src}")
    set(_commit "local-${_h}")
  endif()
  if(NOT _commit STREQUAL PANSCORE_LLAMA_PINNED_COMMIT)
    message(WARNING "panscore: using llama.cpp ${_commit} from ${_src}; panscore is tested with ${PANSCORE_LLAMA_PINNED_COMMIT}")
  endif()
else()
  set(_commit "${PANSCORE_LLAMA_PINNED_COMMIT}")
  string(SUBSTRING "${_commit}" 0 12 _c12)
  set(_src "${_ps_llama_root}/src-${_c12}")
  if(NOT EXISTS "${_src}/.panscore-verified")
    file(LOCK "${_ps_llama_root}/src.lock" GUARD FILE TIMEOUT 3600)
    set(_tgz "${_ps_llama_root}/node-llama-cpp-3.22.1.tgz")
    if(PANSCORE_LLAMA_TARBALL)
      file(COPY_FILE "${PANSCORE_LLAMA_TARBALL}" "${_tgz}")
    endif()
    if(EXISTS "${_tgz}")
      file(SHA512 "${_tgz}" _sum)
      if(NOT _sum STREQUAL PANSCORE_LLAMA_NPM_SHA512)
        file(REMOVE "${_tgz}")
        message(FATAL_ERROR "panscore: ${_tgz} does not match the pinned SHA-512 ${PANSCORE_LLAMA_NPM_SHA512}; removed it")
      endif()
    else()
      message(STATUS "panscore: downloading ${PANSCORE_LLAMA_NPM_URL}")
      file(DOWNLOAD "${PANSCORE_LLAMA_NPM_URL}" "${_tgz}.part" EXPECTED_HASH SHA512=${PANSCORE_LLAMA_NPM_SHA512}
           TLS_VERIFY ON STATUS _st)
      list(GET _st 0 _code)
      if(NOT _code EQUAL 0)
        file(REMOVE "${_tgz}.part")
        message(FATAL_ERROR "panscore: could not download llama.cpp (${_st}). Pass -DLLAMA_CPP_SOURCE_DIR=<checkout> "
                            "or -DPANSCORE_LLAMA_TARBALL=<node-llama-cpp-3.22.1.tgz> instead.")
      endif()
      file(RENAME "${_tgz}.part" "${_tgz}")
    endif()
    set(_x "${_ps_llama_root}/extract-${_c12}")
    file(REMOVE_RECURSE "${_x}" "${_src}")
    file(MAKE_DIRECTORY "${_x}")
    _ps_run(${CMAKE_COMMAND} -E chdir "${_x}" ${CMAKE_COMMAND} -E tar xzf "${_tgz}" package/llama/gitRelease.bundle)
    _ps_run("${GIT_EXECUTABLE}" clone --quiet --no-checkout "${_x}/package/llama/gitRelease.bundle" "${_src}")
    _ps_run("${GIT_EXECUTABLE}" -C "${_src}" -c advice.detachedHead=false checkout --quiet "${_commit}")
    execute_process(COMMAND "${GIT_EXECUTABLE}" -C "${_src}" rev-parse HEAD OUTPUT_VARIABLE _head OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(NOT _head STREQUAL _commit)
      message(FATAL_ERROR "panscore: the bundle checked out ${_head}, expected ${_commit}")
    endif()
    file(REMOVE_RECURSE "${_x}")
    file(WRITE "${_src}/.panscore-verified" "${_commit}\n")
  endif()
endif()

# --- build ----------------------------------------------------------------------------------------
if(PANSCORE_CUDA)
  set(_backend cuda)
  # NCCL off: ggml-cuda would link it privately into its static archive when the machine has it,
  # and panscore::llama below would then lack -lnccl (one GPU is all panscore drives anyway).
  set(_backend_args -DGGML_CUDA=ON "-DCMAKE_CUDA_ARCHITECTURES=${PANSCORE_CUDA_ARCHITECTURES}" -DGGML_CUDA_NCCL=OFF)
else()
  set(_backend cpu)
  set(_backend_args -DGGML_CUDA=OFF)
endif()
if(PANSCORE_NATIVE)
  set(_arch native)
else()
  set(_arch portable)
endif()
if(CMAKE_BUILD_TYPE)
  set(_bt "${CMAKE_BUILD_TYPE}")
else()
  set(_bt Release)
endif()
string(SUBSTRING "${_commit}" 0 12 _c12)
set(_key "${_c12}-${_backend}-${_arch}-${_bt}")
if(PANSCORE_LLAMA_EXTRA_ARGS OR PANSCORE_CUDA)
  string(MD5 _h "${PANSCORE_LLAMA_EXTRA_ARGS};${PANSCORE_CUDA_ARCHITECTURES}")
  string(SUBSTRING "${_h}" 0 8 _h8)
  string(APPEND _key "-${_h8}")
endif()
if(LLAMA_CPP_SOURCE_DIR)
  string(MD5 _hs "${_src}")
  string(SUBSTRING "${_hs}" 0 8 _hs8)
  string(APPEND _key "-src${_hs8}")
endif()
set(_build "${_ps_llama_root}/build-${_key}")

if(NOT EXISTS "${_build}/.panscore-built")
  # GUARD FILE, not FUNCTION: this file is include()d (GUARD FUNCTION is an error outside a function)
  file(LOCK "${_ps_llama_root}/build-${_key}.lock" GUARD FILE TIMEOUT 7200)
  message(STATUS "panscore: building llama.cpp ${_c12} (${_backend}, ${_arch}) into ${_build}; "
                 "this happens once and takes several minutes")
  if(CMAKE_GENERATOR MATCHES "Ninja")
    set(_gen -G Ninja)
  else()
    set(_gen)
  endif()
  cmake_host_system_information(RESULT _ncpu QUERY NUMBER_OF_LOGICAL_CORES)
  _ps_run(${CMAKE_COMMAND} -S "${_src}" -B "${_build}" ${_gen}
          -DCMAKE_BUILD_TYPE=${_bt} -DBUILD_SHARED_LIBS=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON
          -DGGML_NATIVE=${PANSCORE_NATIVE} ${_backend_args}
          -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF
          -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_COMMON=ON -DLLAMA_OPENSSL=OFF ${PANSCORE_LLAMA_EXTRA_ARGS})
  _ps_run(${CMAKE_COMMAND} --build "${_build}" --target llama ggml llama-common -j ${_ncpu})
  file(WRITE "${_build}/.panscore-built-common" "${_commit}\n")
  file(WRITE "${_build}/.panscore-built" "${_commit}\n")
endif()
# llama.cpp's common library (its Jinja engine for chat templates: common/chat.h, common/jinja/),
# static and position-independent like the rest. A build made before panscore used it gets it
# added in place (the configure already enables LLAMA_BUILD_COMMON), without rebuilding libllama.
if(NOT EXISTS "${_build}/.panscore-built-common")
  file(LOCK "${_ps_llama_root}/build-${_key}.lock" GUARD FILE TIMEOUT 7200)
  if(NOT EXISTS "${_build}/.panscore-built-common")
    message(STATUS "panscore: building llama.cpp's common library into ${_build} (once, a few minutes)")
    cmake_host_system_information(RESULT _ncpu QUERY NUMBER_OF_LOGICAL_CORES)
    _ps_run(${CMAKE_COMMAND} --build "${_build}" --target llama-common -j ${_ncpu})
    file(WRITE "${_build}/.panscore-built-common" "${_commit}\n")
  endif()
endif()

set(PANSCORE_LLAMA_COMMIT "${_commit}")
set(PANSCORE_LLAMA_SOURCE "${_src}")
set(PANSCORE_LLAMA_BUILD "${_build}")

# --- imported target ------------------------------------------------------------------------------
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(Threads REQUIRED)
add_library(panscore_llama INTERFACE)
# Static archives in dependency order: llama needs ggml, ggml needs its backends and ggml-base.
set(_libs "${_build}/common/libllama-common.a" "${_build}/common/libllama-common-base.a"
          "${_build}/vendor/cpp-httplib/libcpp-httplib.a"
          "${_build}/src/libllama.a" "${_build}/ggml/src/libggml.a" "${_build}/ggml/src/libggml-cpu.a")
if(PANSCORE_CUDA)
  list(APPEND _libs "${_build}/ggml/src/ggml-cuda/libggml-cuda.a")
endif()
list(APPEND _libs "${_build}/ggml/src/libggml-base.a")
foreach(_l IN LISTS _libs)
  if(NOT EXISTS "${_l}")
    message(FATAL_ERROR "panscore: ${_l} is missing; delete ${_build} to rebuild llama.cpp")
  endif()
endforeach()
target_link_libraries(panscore_llama INTERFACE ${_libs} OpenMP::OpenMP_CXX Threads::Threads ${CMAKE_DL_LIBS} m)
if(PANSCORE_CUDA)
  find_package(CUDAToolkit REQUIRED)
  target_link_libraries(panscore_llama INTERFACE CUDA::cudart CUDA::cublas CUDA::cuda_driver)
endif()
target_include_directories(panscore_llama INTERFACE "${_src}/include" "${_src}/ggml/include")
# SYSTEM: their headers' own warnings (unused static functions) are not panscore's
target_include_directories(panscore_llama SYSTEM INTERFACE "${_src}/common" "${_src}/vendor")
add_library(panscore::llama ALIAS panscore_llama)
