# kbus_layer(name DEPENDS ... PRIVATE_DEPENDS ...): an object library of the *.cpp files in
# the current folder, seeing only the public headers, src/, and the layers it depends on.
set(KBUS_LAYERS "" CACHE INTERNAL "")
function(kbus_layer name)
  cmake_parse_arguments(arg "" "" "DEPENDS;PRIVATE_DEPENDS" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  if(sources)
    add_library(${name} OBJECT ${sources})
  else()
    # A layer with no code yet still carries its dependencies.
    add_library(${name} INTERFACE)
  endif()
  if(sources)
    target_include_directories(${name}
      PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
      PRIVATE ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(${name} PUBLIC ${arg_DEPENDS} PRIVATE ${arg_PRIVATE_DEPENDS})
    set(KBUS_LAYERS ${KBUS_LAYERS} ${name} CACHE INTERNAL "")
  else()
    target_include_directories(${name} INTERFACE $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>)
    target_link_libraries(${name} INTERFACE ${arg_DEPENDS})
  endif()
endfunction()
