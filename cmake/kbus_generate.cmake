# kbus_generate(TARGET <target> XML <files...> [PROXY] [ADAPTOR] [NAMESPACE ns])
#
# Runs kbus-codegen on each introspection XML file at build time and adds what it writes to
# <target>: <stem>_types.hpp, and <stem>_proxy.hpp and/or <stem>_adaptor.hpp (both when neither
# PROXY nor ADAPTOR is given), in a folder that is added to the target's include path. A file is
# generated again whenever its XML (or kbus-codegen) changes. docs/codegen.md describes the code.
function(kbus_generate)
  cmake_parse_arguments(KG "PROXY;ADAPTOR" "TARGET;NAMESPACE" "XML" ${ARGN})
  if(NOT KG_TARGET OR NOT KG_XML)
    message(FATAL_ERROR "kbus_generate: TARGET and XML are required")
  endif()
  if(KG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "kbus_generate: unknown arguments ${KG_UNPARSED_ARGUMENTS}")
  endif()
  # In kbus's own build the program is a target of the same project; an installed kbus exports it.
  if(TARGET kbus_codegen)
    set(program kbus_codegen)
  elseif(TARGET kbus::kbus_codegen)
    set(program kbus::kbus_codegen)
  else()
    message(FATAL_ERROR "kbus_generate: kbus-codegen is not available (find_package(kbus) first)")
  endif()

  set(dir "${CMAKE_CURRENT_BINARY_DIR}/kbus_generated/${KG_TARGET}")
  set(flags)
  if(KG_PROXY)
    list(APPEND flags --proxy)
  endif()
  if(KG_ADAPTOR)
    list(APPEND flags --adaptor)
  endif()
  if(KG_NAMESPACE)
    list(APPEND flags --namespace "${KG_NAMESPACE}")
  endif()

  set(all_outputs)
  foreach(xml IN LISTS KG_XML)
    get_filename_component(xml "${xml}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    get_filename_component(name "${xml}" NAME)
    string(REGEX REPLACE "\\.xml$" "" stem "${name}")
    set(outputs "${dir}/${stem}_types.hpp")
    if(KG_PROXY OR NOT KG_ADAPTOR)
      list(APPEND outputs "${dir}/${stem}_proxy.hpp")
    endif()
    if(KG_ADAPTOR OR NOT KG_PROXY)
      list(APPEND outputs "${dir}/${stem}_adaptor.hpp")
    endif()
    add_custom_command(
      OUTPUT ${outputs}
      COMMAND ${program} ${flags} -o "${dir}" "${xml}"
      DEPENDS "${xml}" ${program}
      COMMENT "kbus-codegen ${name}"
      VERBATIM)
    list(APPEND all_outputs ${outputs})
  endforeach()
  target_sources(${KG_TARGET} PRIVATE ${all_outputs})
  target_include_directories(${KG_TARGET} PRIVATE "${dir}")
endfunction()
