# ipop_packet: tincan's pure packet-processing modules (frame parsing,
# learning switch, SocialVPN address mapping, Neighbor Discovery).  No I/O,
# no dependencies beyond common/error.h, so unit tests and the fuzz harness
# link it alone.
#
# Included from tincan/CMakeLists.txt:
#   include(${CMAKE_CURRENT_SOURCE_DIR}/packet.cmake)
# and, guarded, from tests/unit/tincan/CMakeLists.txt.
include_guard(GLOBAL)

add_library(ipop_packet STATIC
  ${CMAKE_CURRENT_LIST_DIR}/frame.c
  ${CMAKE_CURRENT_LIST_DIR}/switch.c
  ${CMAKE_CURRENT_LIST_DIR}/addrmap.c
  ${CMAKE_CURRENT_LIST_DIR}/nd.c
)
target_include_directories(ipop_packet PUBLIC
  ${CMAKE_CURRENT_LIST_DIR} ${CMAKE_CURRENT_LIST_DIR}/../common)

# The fuzz harness tests/fuzz/fuzz_frame.c needs these sources, but
# tests/CMakeLists.txt links fuzz targets against ipop_proto/ipop_common only
# and creates them after this file runs: build an instrumented copy and link
# it once the top-level directory is done.
if(IPOP_FUZZ)
  add_library(ipop_packet_fuzz STATIC
    ${CMAKE_CURRENT_LIST_DIR}/frame.c
    ${CMAKE_CURRENT_LIST_DIR}/switch.c
    ${CMAKE_CURRENT_LIST_DIR}/addrmap.c
  ${CMAKE_CURRENT_LIST_DIR}/nd.c
  )
  target_include_directories(ipop_packet_fuzz PUBLIC
    ${CMAKE_CURRENT_LIST_DIR} ${CMAKE_CURRENT_LIST_DIR}/../common)
  target_compile_options(ipop_packet_fuzz PRIVATE
    -fsanitize=fuzzer-no-link,address,undefined)
  function(ipop_packet_link_fuzz)
    if(TARGET fuzz_frame)
      target_link_libraries(fuzz_frame PRIVATE ipop_packet_fuzz)
    endif()
  endfunction()
  cmake_language(DEFER DIRECTORY ${PROJECT_SOURCE_DIR} CALL ipop_packet_link_fuzz)
endif()
