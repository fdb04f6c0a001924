#!/usr/bin/env bash
# clang-format on every C++ source of the project (Google style, 100 columns: .clang-format).
#   scripts/format.sh           # rewrite files in place
#   scripts/format.sh --check   # only report; non-zero exit if a file is not formatted
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mapfile -t files < <(git ls-files --cached --others --exclude-standard -- '*.cpp' '*.hpp' '*.h' 2>/dev/null ||
                     find src include apps tests bench -name '*.[ch]pp')
if [[ "${1:-}" == "--check" ]]; then
  clang-format --dry-run --Werror "${files[@]}"
  echo "format: ${#files[@]} files are formatted"
else
  clang-format -i "${files[@]}"
fi
