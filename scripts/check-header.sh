#!/usr/bin/env bash
# Checks include/shale.h against libshale.so:
#  (a) the header compiles on its own as C99 and as C++ (warnings are errors);
#  (b) every function the header declares is exported by the library;
#  (c) the library exports no global symbol outside the shale_ namespace.
#
# Usage: scripts/check-header.sh [path/to/libshale.so]
#   default: the newer of .build/release/libshale.so and .build/debug/libshale.so
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
header="$root/include/shale.h"
CC="${CC:-gcc}"
CXX="${CXX:-g++}"

lib="${1:-}"
if [[ -z "$lib" ]]; then
    for candidate in "$root/.build/release/libshale.so" "$root/.build/debug/libshale.so"; do
        if [[ -e "$candidate" && ( -z "$lib" || "$candidate" -nt "$lib" ) ]]; then
            lib="$candidate"
        fi
    done
    if [[ -z "$lib" ]]; then
        echo "check-header: no libshale.so in .build/release or .build/debug;" \
             "run 'swift build --product shale' or pass a path" >&2
        exit 2
    fi
fi
[[ -e "$lib" ]] || { echo "check-header: $lib does not exist" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail=0

# ---- (a) standalone compile -------------------------------------------------------------
# Included twice to check the include guard; nothing else is included first.
printf '#include "shale.h"\n#include "shale.h"\nint main(void) { return shale_status_name(0) == 0; }\n' \
    > "$work/standalone.c"
if "$CC" -std=c99 -Wall -Wextra -Werror -pedantic -I"$root/include" \
        -c "$work/standalone.c" -o "$work/c.o"; then
    echo "ok    header compiles standalone as C ($CC -std=c99 -Wall -Wextra -Werror -pedantic)"
else
    echo "FAIL  header does not compile standalone as C"; fail=1
fi
if "$CXX" -x c++ -std=c++11 -Wall -Wextra -Werror -pedantic -I"$root/include" \
        -c "$work/standalone.c" -o "$work/cxx.o"; then
    echo "ok    header compiles standalone as C++ ($CXX -x c++ -std=c++11 -Wall -Wextra -Werror -pedantic)"
else
    echo "FAIL  header does not compile standalone as C++"; fail=1
fi
# In C++ the functions must have C linkage: the object refers to the unmangled name.
if nm "$work/cxx.o" 2>/dev/null | grep -qw 'U shale_status_name'; then
    echo "ok    C++ sees the functions with C linkage (extern \"C\")"
else
    echo "FAIL  C++ sees shale_status_name with a mangled name: extern \"C\" missing"; fail=1
fi

# ---- (b) every declared function is exported ---------------------------------------------
# Declarations are read after the preprocessor has removed comments and macros:
# an identifier shale_* followed by '(' is a function declaration.
declared="$("$CC" -E -P -I"$root/include" "$header" \
    | grep -oE '\bshale_[A-Za-z0-9_]+[[:space:]]*\(' \
    | sed -E 's/[[:space:]]*\($//' | sort -u)"
count_declared=$(printf '%s\n' "$declared" | grep -c . || true)
if [[ "$count_declared" -eq 0 ]]; then
    echo "FAIL  found no function declarations in $header"; fail=1
fi

# "ADDR T name" or "ADDR T name@@VERSION": keep type and name. Only global bindings are
# exports: upper-case types, plus u (unique), v/w (weak) and i (ifunc). Lower-case others
# are LOCAL entries of .dynsym, which other objects cannot bind to.
nm -D --defined-only "$lib" | awk 'NF >= 3 { print $2, $3 }' | sed -E 's/@.*$//' > "$work/all"
awk '$1 ~ /^[A-Zuvwi]$/' "$work/all" > "$work/defined"
locals=$(awk '$1 !~ /^[A-Zuvwi]$/' "$work/all" | wc -l)
awk '{ print $2 }' "$work/defined" | sort -u > "$work/defined_names"

missing="$(comm -23 <(printf '%s\n' "$declared") "$work/defined_names")"
if [[ -n "$missing" ]]; then
    echo "FAIL  $(printf '%s\n' "$missing" | wc -l) of $count_declared functions declared in" \
         "include/shale.h are not exported by $lib:"
    printf '        %s\n' $missing
    fail=1
else
    echo "ok    all $count_declared functions declared in include/shale.h are exported by $lib"
fi
# Exported as functions (type T/W/i), not data.
not_code="$(awk 'NR == FNR { want[$1] = 1; next } ($2 in want) && $1 !~ /^[TtWwi]$/ { print $2 " (" $1 ")" }' \
    <(printf '%s\n' "$declared") "$work/defined")"
if [[ -n "$not_code" ]]; then
    echo "FAIL  declared functions exported as something other than code: $not_code"; fail=1
fi
# Extra shale_* exports are not an error but worth knowing about.
extra_shale="$(comm -13 <(printf '%s\n' "$declared") "$work/defined_names" | grep '^shale_' || true)"
if [[ -n "$extra_shale" ]]; then
    echo "note  exported shale_* symbols the header does not declare (not part of the API):"
    printf '        %s\n' $extra_shale
fi

# ---- (c) nothing but shale_* is exported -------------------------------------------------
# Undefined symbols are not listed by --defined-only; linker-made markers and version-node
# names (type A) are allowed.
foreign="$(awk '$1 != "A" { print $2 }' "$work/defined" | sort -u \
    | grep -vE '^(shale_.*|_init|_fini|__bss_start|_edata|_end)$' || true)"
count_exported=$(grep -c . "$work/defined_names" || true)
if [[ -n "$foreign" ]]; then
    n=$(printf '%s\n' "$foreign" | wc -l)
    echo "FAIL  $lib exports $n global symbols outside shale_*:"
    printf '%s\n' "$foreign" | head -n 40 | sed 's/^/        /'
    [[ "$n" -gt 40 ]] && echo "        ... and $((n - 40)) more"
    fail=1
else
    echo "ok    $lib exports only shale_* ($count_exported global symbols; $locals local .dynsym entries ignored)"
fi

if [[ "$fail" -ne 0 ]]; then
    echo "check-header: FAILED"
    exit 1
fi
echo "check-header: passed"
