#!/bin/bash
# The station test again, on the ASan+UBSan build: memory and undefined
# behaviour errors in the station, the queue and the engine fail it.
. "$(dirname "$0")/../lib.sh"
need_root station-asan
if ! make -s -C "$TOP" SANITIZE=1 tests > "$WORK/build.log" 2>&1; then
    fail "station-asan: the sanitizer build" "$(tail -3 "$WORK/build.log" | tr '\n' ' ')"; finish
fi
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
BUILD=build-san STATION_TEST_NAME=station-asan exec bash "$TOP/tests/tui/station.sh"
