# Finds oneDNN as the org.bytedeco:dnnl platform jar lays it out once unpacked
# (Maven unpacks it into target/dnnl): DNNL_HOME/include/oneapi/dnnl/dnnl.hpp and
# DNNL_HOME/libdnnl.so.3 (with its libgomp.so.1 beside it).
# Defines the imported target DNNL::dnnl.
find_path(DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.hpp HINTS ${DNNL_HOME}/include NO_DEFAULT_PATH)
find_file(DNNL_LIBRARY NAMES libdnnl.so.3 libdnnl.so HINTS ${DNNL_HOME} ${DNNL_HOME}/lib NO_DEFAULT_PATH)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(DNNL REQUIRED_VARS DNNL_INCLUDE_DIR DNNL_LIBRARY)
if(DNNL_FOUND AND NOT TARGET DNNL::dnnl)
  add_library(DNNL::dnnl SHARED IMPORTED)
  set_target_properties(DNNL::dnnl PROPERTIES
    IMPORTED_LOCATION ${DNNL_LIBRARY}
    IMPORTED_NO_SONAME FALSE
    INTERFACE_INCLUDE_DIRECTORIES ${DNNL_INCLUDE_DIR})
endif()
