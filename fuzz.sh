#!/usr/bin/env bash
# A long coverage-guided fuzzing campaign with Jazzer's standalone driver.
#   ./fuzz.sh reader|case [SECONDS]     (default 3600)
# The corpus grows in target/fuzz-corpus/TARGET; findings are written as crash-* files in the
# current directory and make the script exit non-zero.
set -euo pipefail
cd "$(dirname "$0")"
target="${1:?usage: ./fuzz.sh reader|case [SECONDS]}"
seconds="${2:-3600}"
case "$target" in
  reader) seeds=src/test/resources/dev/bptt4j/io/SafeTensorsFuzzTestInputs/safeTensorsReader ;;
  case) seeds=src/test/resources/dev/bptt4j/io/SafeTensorsFuzzTestInputs/referenceCaseLoader ;;
  *) echo "fuzz.sh: target must be reader or case" >&2; exit 2 ;;
esac
mvn -q -B test-compile dependency:build-classpath -Dmdep.outputFile=target/fuzz.classpath -Dmdep.includeScope=test
corpus="target/fuzz-corpus/$target"
mkdir -p "$corpus"
exec java -Xmx4g -Dbptt4j.fuzz.target="$target" \
  -cp "target/test-classes:target/classes:$(cat target/fuzz.classpath)" \
  com.code_intelligence.jazzer.Jazzer --target_class=dev.bptt4j.io.SafeTensorsFuzzTest \
  -max_total_time="$seconds" "$corpus" "$seeds"
