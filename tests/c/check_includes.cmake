cmake_minimum_required(VERSION 3.16)
# Fails if a public header includes anything but another blocksparse header or a standard C header
# (DESIGN.md §4 rule 1: self-contained C99, no CUDA header). Usage:
#   cmake "-DHEADERS=a.h;b.h" -P check_includes.cmake
set(allowed assert.h complex.h ctype.h errno.h fenv.h float.h inttypes.h iso646.h limits.h locale.h
    math.h setjmp.h signal.h stdarg.h stdbool.h stddef.h stdint.h stdio.h stdlib.h string.h tgmath.h
    time.h wchar.h wctype.h)
set(bad "")
foreach(header IN LISTS HEADERS)
  file(STRINGS "${header}" lines REGEX "^[ \t]*#[ \t]*include")
  foreach(line IN LISTS lines)
    if(line MATCHES "#[ \t]*include[ \t]*[<\"]([^>\"]+)[>\"]")
      set(inc "${CMAKE_MATCH_1}")
      if(NOT inc MATCHES "^blocksparse/[A-Za-z0-9_]+\\.h$" AND NOT inc IN_LIST allowed)
        string(APPEND bad "\n  ${header}: ${line}")
      endif()
    else()
      string(APPEND bad "\n  ${header}: unrecognised include: ${line}")
    endif()
  endforeach()
endforeach()
list(LENGTH HEADERS count)
if(count EQUAL 0)
  message(FATAL_ERROR "no headers given")
endif()
if(bad)
  message(FATAL_ERROR "public headers may include only blocksparse/*.h and standard C headers:${bad}")
endif()
message(STATUS "${count} public headers include only blocksparse/*.h and standard C headers")
