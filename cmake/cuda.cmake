# SPDX-License-Identifier: Apache-2.0
# Locate the CUDA toolkit's headers (cuda.h, cudaTypedefs.h). Only headers are needed: the project
# links against the driver at run time (the real one, or the simulator in build/lib/sim).
set(_gv_cuda_hints "")
if(DEFINED ENV{CUDA_HOME})
  list(APPEND _gv_cuda_hints "$ENV{CUDA_HOME}")
endif()
if(DEFINED ENV{CUDA_PATH})
  list(APPEND _gv_cuda_hints "$ENV{CUDA_PATH}")
endif()
find_package(CUDAToolkit QUIET)
if(CUDAToolkit_FOUND)
  list(APPEND _gv_cuda_hints "${CUDAToolkit_INCLUDE_DIRS}/..")
endif()
list(APPEND _gv_cuda_hints /usr/local/cuda)
find_path(GV_CUDA_INCLUDE_DIR cuda.h
  HINTS ${CUDAToolkit_INCLUDE_DIRS} PATHS ${_gv_cuda_hints} PATH_SUFFIXES include NO_DEFAULT_PATH)
if(NOT GV_CUDA_INCLUDE_DIR)
  find_path(GV_CUDA_INCLUDE_DIR cuda.h)
endif()
if(NOT GV_CUDA_INCLUDE_DIR OR NOT EXISTS "${GV_CUDA_INCLUDE_DIR}/cudaTypedefs.h")
  message(FATAL_ERROR
    "CUDA toolkit headers not found (need cuda.h and cudaTypedefs.h). Install the CUDA toolkit in "
    "/usr/local/cuda, or point CUDA_HOME at it: CUDA_HOME=/opt/cuda make")
endif()
file(STRINGS "${GV_CUDA_INCLUDE_DIR}/cuda.h" _gv_cuda_ver REGEX "^#define CUDA_VERSION [0-9]+")
string(REGEX REPLACE ".* ([0-9]+)$" "\\1" GV_CUDA_VERSION "${_gv_cuda_ver}")
if(GV_CUDA_VERSION LESS 12000)
  message(FATAL_ERROR "CUDA toolkit ${GV_CUDA_VERSION} in ${GV_CUDA_INCLUDE_DIR} is too old: need 12.0 or newer")
endif()
message(STATUS "CUDA headers: ${GV_CUDA_INCLUDE_DIR} (CUDA_VERSION ${GV_CUDA_VERSION})")
add_library(gv_cuda_headers INTERFACE)
target_include_directories(gv_cuda_headers SYSTEM INTERFACE ${GV_CUDA_INCLUDE_DIR})
