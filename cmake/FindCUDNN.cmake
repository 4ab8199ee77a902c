# Finds cuDNN 9: a system installation first (CUDNN_ROOT, the CUDA toolkit, /usr), else
# NVIDIA's Python wheel (nvidia_cudnn_cu13-*.whl, a zip) unpacked into the build folder.
# Wheels are looked for in CUDNN_WHEEL (a file) or the folders of CUDNN_WHEEL_DIRS.
# Defines CUDNN_INCLUDE_DIR, CUDNN_LIBRARY (libcudnn.so.9: the shim that loads cuDNN's
# sub-libraries at run time), CUDNN_SOURCE ("system" or the wheel) and the target CUDNN::cudnn.
set(CUDNN_ROOT "$ENV{CUDNN_ROOT}" CACHE PATH "cuDNN 9 installation prefix (optional)")
set(CUDNN_WHEEL "$ENV{CUDNN_WHEEL}" CACHE FILEPATH "nvidia_cudnn_cu13 wheel to unpack when no system cuDNN is found")
set(CUDNN_WHEEL_DIRS "/opt/pypi-more/files;/opt/pypi/files;/usr/share/densenet4j/wheels" CACHE STRING
    "folders searched for nvidia_cudnn_cu13-*.whl")

find_path(CUDNN_INCLUDE_DIR cudnn.h HINTS ${CUDNN_ROOT}/include ${CUDAToolkit_INCLUDE_DIRS}
          PATHS /usr/include /usr/include/x86_64-linux-gnu /usr/local/cuda/include)
find_library(CUDNN_LIBRARY NAMES cudnn libcudnn.so.9 HINTS ${CUDNN_ROOT}/lib ${CUDNN_ROOT}/lib64
             ${CUDAToolkit_LIBRARY_DIR} PATHS /usr/lib/x86_64-linux-gnu /usr/local/cuda/lib64)
set(CUDNN_SOURCE "system")

if(NOT CUDNN_INCLUDE_DIR OR NOT CUDNN_LIBRARY)
  unset(CUDNN_INCLUDE_DIR CACHE)
  unset(CUDNN_LIBRARY CACHE)
  set(_wheel "${CUDNN_WHEEL}")
  if(NOT _wheel)
    foreach(_d IN LISTS CUDNN_WHEEL_DIRS)
      file(GLOB _found "${_d}/nvidia_cudnn_cu13-9*.whl")
      if(_found)
        list(SORT _found)
        list(GET _found -1 _wheel)
        break()
      endif()
    endforeach()
  endif()
  if(_wheel AND EXISTS "${_wheel}")
    set(_dest "${CMAKE_BINARY_DIR}/cudnn-wheel")
    if(NOT EXISTS "${_dest}/nvidia/cudnn/include/cudnn.h")
      message(STATUS "Unpacking cuDNN headers and shim from ${_wheel}")
      file(ARCHIVE_EXTRACT INPUT "${_wheel}" DESTINATION "${_dest}"
           PATTERNS "nvidia/cudnn/include/*" "nvidia/cudnn/lib/libcudnn.so.9")
    endif()
    set(CUDNN_INCLUDE_DIR "${_dest}/nvidia/cudnn/include")
    set(CUDNN_LIBRARY "${_dest}/nvidia/cudnn/lib/libcudnn.so.9")
    set(CUDNN_SOURCE "${_wheel}")
  endif()
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(CUDNN REQUIRED_VARS CUDNN_INCLUDE_DIR CUDNN_LIBRARY)
if(CUDNN_FOUND AND NOT TARGET CUDNN::cudnn)
  add_library(CUDNN::cudnn SHARED IMPORTED)
  set_target_properties(CUDNN::cudnn PROPERTIES
    IMPORTED_LOCATION ${CUDNN_LIBRARY}
    INTERFACE_INCLUDE_DIRECTORIES ${CUDNN_INCLUDE_DIR})
endif()
