#!/usr/bin/env bash
# The unit tests and the integration suite again, against an ASan+UBSan build (build-asan/), then
# the concurrency unit tests against a ThreadSanitizer build (build-tsan/).
# ASan+UBSan:
# any memory error or undefined behaviour aborts the daemon and fails the test that drove it.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/install-deps.sh"
OTELITE_BUILD_DIR="$here/build-asan" "$here/scripts/build.sh" -DOTELITE_SANITIZE=address
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
echo "== unit tests (ASan+UBSan)"
ctest --test-dir "$here/build-asan" --output-on-failure -j2
echo "== integration tests (ASan+UBSan)"
# Left out under ASan: the image test (it compares the Dockerfile's runtime libraries with the
# binary's, not this binary's), the overload test (it bounds the RSS, which ASan's shadow memory
# inflates), and the long wall-clock scenarios (the 60 s outage, otelcol through faults, the
# one-machine demo), whose code paths the rest of the data-path tests drive too.
OTELITE_BIN="$here/build-asan/otelite" "$here/.venv/bin/python" -m pytest "$here/tests/integration" \
  -q -p no:cacheprovider -k "not image_has_the_libraries and not overload and not 60s_outage \
  and not at_otelcol_through_faults and not quick_scenario"
echo "== concurrency unit tests (ThreadSanitizer)"
# The batcher, the sending queue and the memory account are shared by receiver threads, the
# batching thread and exporter workers: their tests run again under TSan.
OTELITE_BUILD_DIR="$here/build-tsan" "$here/scripts/build.sh" -DOTELITE_SANITIZE=thread
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 "$here/build-tsan/tests/unit/otelite_unit_tests" \
  --gtest_filter='Batcher*:Concat*:SplitAt*:QueuedExporter*:SendingQueue*:ExporterRetry*:PersistentQueue*:MemoryBudget*:MemoryLimiter*:FanOut*:FileStorage*'
