# Sourced by scripts/accuracy-table.sh and scripts/training-table.sh (after cd to the repo
# root, with the script's arguments): sets sq (the squeeze binary: $1 or
# build/service/cli/squeeze), model (stories260K) and text (tinystories-valid-100.noeot.txt),
# checks they exist, and makes a temporary folder $work (removed on exit) holding the first
# half of the text by lines in $work/calib.txt and the second half in $work/eval.txt.
sq=${1:-build/service/cli/squeeze}
assets=${SQUEEZE_ASSETS:-../shared/assets}
model=$assets/models/stories260K/stories260K.bin
text=$assets/text/tinystories-valid-100.noeot.txt
for f in "$sq" "$model" "$text"; do
  [ -e "$f" ] || { echo "$(basename "$0"): $f not found" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
lines=$(wc -l <"$text")
head -n $((lines / 2)) "$text" >"$work/calib.txt"
tail -n +$((lines / 2 + 1)) "$text" >"$work/eval.txt"
