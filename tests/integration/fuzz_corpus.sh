#!/bin/bash
# The fuzz corpora (image reader, mapfile reader), replayed under ASan+UBSan
# (libFuzzer): every seed and every input that once found a bug must still be
# read without a crash.
. "$(dirname "$0")/../lib.sh"
command -v clang >/dev/null || { skip "fuzz corpus" "clang is not installed"; exit 0; }
if ! make -s -C "$TOP" fuzz > "$WORK/build.log" 2>&1; then
    fail "fuzz corpus: the fuzz targets build" "$(tail -3 "$WORK/build.log" | tr '\n' ' ')"; finish
fi
for name in image map; do
    n=$(ls "$TOP/tests/fuzz/corpus/$name" | wc -l)
    check "fuzz corpus ($name): $n inputs replayed without a crash" \
        "$TOP/build-fuzz/fuzz_$name" -runs=0 "$TOP/tests/fuzz/corpus/$name"
done
finish
