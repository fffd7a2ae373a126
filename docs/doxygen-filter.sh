#!/bin/sh
# Doxygen input filter for include/sockport/error.h (see docs/Doxyfile.in): writes the
# rows of the SP_ERROR_MAP X-macro out as documented enum values, one per row, so that
# the reference lists every SP_E* code with its value and message. Compilers never see
# this: it only changes what doxygen reads.
exec awk '
/^#define SP_ERROR_MAP\(X\)/ { inmap = 1 }
inmap && match($0, /X\([A-Z_]+, -?[0-9]+, "[^"]*"\)/) {
    row = substr($0, RSTART + 2, RLENGTH - 3)
    name = row; sub(/,.*/, "", name)
    rest = row; sub(/^[^,]*, /, "", rest)
    value = rest; sub(/,.*/, "", value)
    msg = rest; sub(/^[^,]*, "/, "", msg); sub(/"$/, "", msg)
    n++; names[n] = name; values[n] = value; msgs[n] = msg
}
inmap && !/\\$/ { inmap = 0 }
/^#define SP__ERR_ENUM/ || /^#undef SP__ERR_ENUM/ { print ""; next }
/SP_ERROR_MAP\(SP__ERR_ENUM\)/ {
    for (i = 1; i <= n; i++)
        printf "    SP_%s = (%s), /**< %s */\n", names[i], values[i], msgs[i]
    next
}
{ print }
' "$1"
