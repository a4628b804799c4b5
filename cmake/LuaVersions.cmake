# The C module for every Lua installed: 5.4 (required: the luagrad command and the libraries
# use it), and 5.1, 5.2, 5.3 and LuaJIT when their headers and interpreter are present. Each
# gets its own luagrad/core.so, compiled from the same sources against that version's headers
# and never linked with liblua. Sets:
#   LUAGRAD_LUAS                 the interpreters found: lua5.4 first, then lua5.1 ... luajit
#   LUAGRAD_LUA_<tag>            the interpreter's path, for tag in LUAGRAD_LUAS
#   LUAGRAD_CPATH_<tag>          the directory holding that version's luagrad/core.so
# With LUAGRAD_ALL_LUA (CI), a missing version is an error instead of a skipped one.
option(LUAGRAD_ALL_LUA "Require every Lua (5.1, 5.2, 5.3, 5.4, LuaJIT)" OFF)

find_program(LUAGRAD_LUA_lua5.4 lua5.4)
set(LUAGRAD_LUAS "")
if(LUAGRAD_LUA_lua5.4)
  set(LUAGRAD_LUAS lua5.4)
endif()
set(LUAGRAD_CPATH_lua5.4 ${PROJECT_BINARY_DIR}/lua)   # the luagrad_module target

set(missing "")
foreach(tag lua5.1 lua5.2 lua5.3 luajit)
  if(tag STREQUAL "luajit")
    find_path(LUAGRAD_INCLUDE_${tag} luajit.h PATH_SUFFIXES luajit-2.1 luajit-2.0)
  else()
    # only a versioned directory: a bare include/lua.h could be any version
    find_path(LUAGRAD_INCLUDE_${tag} lua.h PATHS /usr/local/include/${tag} /usr/include/${tag}
              NO_DEFAULT_PATH)
  endif()
  find_program(LUAGRAD_LUA_${tag} ${tag})
  if(NOT LUAGRAD_INCLUDE_${tag} OR NOT LUAGRAD_LUA_${tag})
    list(APPEND missing ${tag})
    continue()
  endif()
  string(REPLACE "." "" target luagrad_module_${tag})
  add_library(${target} MODULE ${LUAGRAD_BINDING_SOURCES} ${EMBEDDED}
              $<TARGET_OBJECTS:lg_core>)
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/include
                             ${PROJECT_SOURCE_DIR}/src ${LUAGRAD_INCLUDE_${tag}})
  set_target_properties(${target} PROPERTIES PREFIX "" OUTPUT_NAME core
    LIBRARY_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/${tag}/luagrad)
  target_link_libraries(${target} PRIVATE m)
  set(LUAGRAD_CPATH_${tag} ${PROJECT_BINARY_DIR}/${tag})
  list(APPEND LUAGRAD_LUAS ${tag})
endforeach()

if(missing)
  if(LUAGRAD_ALL_LUA)
    message(FATAL_ERROR "LUAGRAD_ALL_LUA is on, but these are missing (interpreter or headers): "
                        "${missing}; scripts/deps.sh --all installs them")
  endif()
  message(STATUS "Lua versions skipped (interpreter or headers missing): ${missing}")
endif()
message(STATUS "Lua versions built and tested: ${LUAGRAD_LUAS}")
