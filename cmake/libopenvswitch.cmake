# libopenvswitch: Debian ships no -dev package, so the build compiles the static
# library from Debian's openvswitch-source tarball (the same version as the running
# switch) into the build tree, once.  VNET_OVS_TREE points at an already built tree
# instead (e.g. shared between build directories).
#
# Provides the interface target 'vnet-openvswitch'.

set(VNET_OVS_TARBALL "/usr/src/openvswitch/openvswitch.tar.gz" CACHE FILEPATH
    "Debian's openvswitch-source tarball")
set(VNET_OVS_TREE "" CACHE PATH "An already built Open vSwitch source tree (optional)")

if(VNET_OVS_TREE)
  set(ovs_tree ${VNET_OVS_TREE})
  if(NOT EXISTS ${ovs_tree}/lib/.libs/libopenvswitch.a)
    message(FATAL_ERROR "VNET_OVS_TREE=${ovs_tree} holds no lib/.libs/libopenvswitch.a")
  endif()
  add_custom_target(vnet-build-openvswitch)
else()
  if(NOT EXISTS ${VNET_OVS_TARBALL})
    message(FATAL_ERROR "${VNET_OVS_TARBALL} not found: apt-get install openvswitch-source")
  endif()
  set(ovs_tree ${CMAKE_BINARY_DIR}/openvswitch)
  add_custom_command(
    OUTPUT ${ovs_tree}/lib/.libs/libopenvswitch.a ${ovs_tree}/lib/vswitch-idl.h
    COMMAND ${CMAKE_SOURCE_DIR}/cmake/build-libopenvswitch.sh ${VNET_OVS_TARBALL} ${ovs_tree}
    DEPENDS ${CMAKE_SOURCE_DIR}/cmake/build-libopenvswitch.sh
    COMMENT "Building libopenvswitch from ${VNET_OVS_TARBALL} (once)"
    USES_TERMINAL)
  add_custom_target(vnet-build-openvswitch
    DEPENDS ${ovs_tree}/lib/.libs/libopenvswitch.a)
endif()

# The switch and the library must agree on the OVSDB schema and OpenFlow behaviour.
execute_process(COMMAND dpkg-query -W -f=\${Version} openvswitch-source
                OUTPUT_VARIABLE ovs_src_version ERROR_QUIET)
execute_process(COMMAND dpkg-query -W -f=\${Version} openvswitch-switch
                OUTPUT_VARIABLE ovs_switch_version ERROR_QUIET)
if(ovs_src_version AND ovs_switch_version AND NOT ovs_src_version STREQUAL ovs_switch_version)
  message(WARNING "openvswitch-source ${ovs_src_version} differs from the installed "
                  "switch ${ovs_switch_version}")
endif()

add_library(vnet-openvswitch INTERFACE)
target_include_directories(vnet-openvswitch SYSTEM INTERFACE
  ${ovs_tree} ${ovs_tree}/include ${ovs_tree}/lib)
target_link_libraries(vnet-openvswitch INTERFACE
  ${ovs_tree}/lib/.libs/libopenvswitch.a atomic m Threads::Threads)
add_dependencies(vnet-openvswitch vnet-build-openvswitch)
set(VNET_OVS_TREE_BUILT ${ovs_tree})
