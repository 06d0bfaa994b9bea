#!/bin/sh
# Inputs and outputs of gnnkit-recsys: an empty test.txt is refused before any training, an
# out/model that is a file is refused before any training, the default -k fits a small
# catalogue, a write error on standard output fails the command, and bad option values are
# usage errors (exit code 2). usage: cli_io.sh GNNKIT_RECSYS WORK_DIR
set -u
R=$1
W=$2
rm -rf "$W" && mkdir -p "$W/tiny" "$W/empty" && cd "$W" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
printf '0 1 2\n1 2 3\n2 0 1\n' > tiny/train.txt
printf '0 3\n1 0\n2 2\n' > tiny/test.txt
cp tiny/train.txt empty/train.txt
: > empty/test.txt
"$R" train --data empty --out o-empty --epochs 1 > out.txt 2> err.txt && fail "an empty test.txt passed"
grep -q "test.txt: no interactions" err.txt || fail "empty test.txt not reported: $(cat err.txt)"
grep -q "epoch" out.txt && fail "training ran before the empty test.txt was found"
mkdir -p huge && printf '0 1 2\n999999999 2 3\n' > huge/train.txt && printf '0 3\n' > huge/test.txt
"$R" train --data huge --out o-huge --epochs 1 > /dev/null 2> err.txt && fail "a user id of 999999999 in 2 lines passed"
grep -q "train.txt: line 2: user id 999999999 is far beyond what the files list" err.txt || fail "huge id not reported: $(cat err.txt)"
mkdir -p o-file && touch o-file/model
"$R" train --data tiny --out o-file --epochs 1 > out.txt 2> err.txt && fail "a file at out/model passed"
grep -q "it exists and is not a folder" err.txt || fail "out/model as a file not reported: $(cat err.txt)"
"$R" train --data tiny --out o --epochs 1 --batch 4 --no-baselines > /dev/null 2>&1 || fail "train on the tiny data"
"$R" recommend --model o/model --user 0 > rec.txt 2> err.txt || fail "default -k on a 4-item catalogue: $(cat err.txt)"
grep -q '"items": \[' rec.txt || fail "no items in $(cat rec.txt)"
if [ -w /dev/full ]; then
  printf '0\n1\n' | "$R" recommend --model o/model --batch > /dev/full 2> /dev/null && fail "a write error passed for success (batch)"
  "$R" recommend --model o/model --user 0 > /dev/full 2> /dev/null && fail "a write error passed for success (one user)"
fi
for bad in "--threads 100000" "--epochs 4294967298" "--epochs +3" "--dim 0"; do
  # shellcheck disable=SC2086
  "$R" train --data tiny --out o2 $bad > /dev/null 2>&1
  test $? -eq 2 || fail "'$bad' is not a usage error"
done
echo ok
