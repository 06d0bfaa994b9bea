#!/bin/sh
# Outputs of gnnkit-fraud: a symbolic link keeps pointing at the file it names (its target is
# replaced), a user's own "<output>.tmp" is left alone, a write error (/dev/full) and a folder
# given as --input fail the command, and absurd --threads / wrapped integers are usage errors.
# usage: cli_outputs.sh GNNKIT_FRAUD WORK_DIR
set -u
F=$1
W=$2
rm -rf "$W" && mkdir -p "$W" && cd "$W" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
"$F" generate --users 2000 --seed 7 --out g.gnn > /dev/null || fail generate
"$F" train --graph g.gnn --out m --epochs 1 --no-baselines > /dev/null || fail train
"$F" export-test --graph g.gnn --count 20 --out new.jsonl > /dev/null || fail export-test
echo keep > target.jsonl
ln -s target.jsonl link.jsonl
echo precious > res.jsonl.tmp
"$F" score --graph g.gnn --model m/model.ckpt --input new.jsonl --output link.jsonl 2> /dev/null || fail "score to a link"
test -L link.jsonl || fail "the link was replaced by a file"
test "$(wc -l < target.jsonl)" -eq 20 || fail "the link's target does not hold the 20 answers"
"$F" score --graph g.gnn --model m/model.ckpt --input new.jsonl --output res.jsonl 2> /dev/null || fail "score to a file"
test "$(cat res.jsonl.tmp)" = precious || fail "the user's res.jsonl.tmp was overwritten"
test -z "$(ls -A | grep '^\.res\.jsonl\.tmp')" || fail "a temporary file was left behind"
if [ -w /dev/full ]; then
  "$F" score --graph g.gnn --model m/model.ckpt --input new.jsonl > /dev/full 2> err.txt && fail "a write error passed for success"
  grep -q "No space left on device" err.txt || fail "the write error was not reported: $(cat err.txt)"
  test -c /dev/full || fail "/dev/full is no longer a device"
fi
"$F" score --graph g.gnn --model m/model.ckpt --input m 2> err.txt && fail "a folder as --input passed for success"
grep -q "cannot read 'm'" err.txt || fail "a folder as --input was not reported: $(cat err.txt)"
"$F" train --graph g.gnn --out m2 --threads 100000 > /dev/null 2>&1; test $? -eq 2 || fail "--threads 100000 is not a usage error"
"$F" train --graph g.gnn --out m2 --epochs 4294967297 > /dev/null 2>&1; test $? -eq 2 || fail "--epochs 4294967297 is not a usage error"
echo ok
