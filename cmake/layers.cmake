# kbus_layer(name DEPENDS ... PRIVATE_DEPENDS ...): an object library of the *.cpp files under
# the current folder (subfolders included). It sees the public headers, its own headers as
# "<folder>/x.hpp", and the headers of the layers it DEPENDS on, nothing else of src/: each
# layer's headers are reached through a folder of its own in the build tree that holds only a
# link to it, so an include of a layer above fails to build. EXCLUDE_DIRS: subfolders left out
# (a transport whose KBUS_WITH_* option is off).
function(kbus_layer name)
  cmake_parse_arguments(arg "" "" "DEPENDS;PRIVATE_DEPENDS;EXCLUDE_DIRS" ${ARGN})
  get_filename_component(folder ${CMAKE_CURRENT_SOURCE_DIR} NAME)
  set(view ${PROJECT_BINARY_DIR}/layers/${folder})
  file(MAKE_DIRECTORY ${view})
  file(CREATE_LINK ${CMAKE_CURRENT_SOURCE_DIR} ${view}/${folder} SYMBOLIC)
  file(GLOB_RECURSE sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  foreach(dir IN LISTS arg_EXCLUDE_DIRS)
    list(FILTER sources EXCLUDE REGEX "^${CMAKE_CURRENT_SOURCE_DIR}/${dir}/")
  endforeach()
  add_library(${name} OBJECT ${sources})
  target_include_directories(${name} PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include> $<BUILD_INTERFACE:${view}>)
  target_link_libraries(${name} PUBLIC ${arg_DEPENDS} PRIVATE ${arg_PRIVATE_DEPENDS})
  # kbus_config.hpp (cmake/platform.cmake): what the system offers, which transports are in.
  target_include_directories(${name} PRIVATE ${PROJECT_BINARY_DIR}/generated)
endfunction()
