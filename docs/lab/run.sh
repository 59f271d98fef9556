#!/usr/bin/env bash
# The runs behind the figures in docs/lab/ (docs/lab.md, "Full runs"). Each line is one
# process; they ran side by side under `nice`, one thread each, on the shared 2-vCPU VM, and
# `rope lab merge` joined them (the runs wrote to a scratch folder, SCRATCH in the .log files,
# and were copied here under these names). Run from the repository root after `make deps` and a build.
set -euo pipefail
R=./build/rope
S=models/SmolLM2-135M-Instruct.Q4_1.gguf
G=models/gemma-3-270m-q4_k_m.gguf
D=docs/lab
run() { # name, then the lab arguments
    local name=$1
    shift
    nice -n 5 "$R" lab "$@" -t 1 --json --plot "$D/$name.svg" > "$D/$name.json" 2> "$D/$name.log"
}
L16=2048,4096,8192,16384

# SmolLM2-135M (trained at 8192): every scaling at factor 4 (the config for 32k), the YaRN
# paper's protocol (the first L tokens of the King James text, one window per length)
run smollm2-ppl-none    ppl --model $S --protocol truncate --lengths $L16 --scalings none --factor 4 &
run smollm2-ppl-yarn    ppl --model $S --protocol truncate --lengths $L16 --scalings yarn --factor 4 &
run smollm2-ppl-lin-ntk ppl --model $S --protocol truncate --lengths $L16 --scalings linear,ntk --factor 4 &
run smollm2-ppl-l3-dyn  ppl --model $S --protocol truncate --lengths $L16 --scalings llama3,dynamic --factor 4 &
# Gemma 3 270M (trained at 32768): the unscaled model
run gemma3-ppl-none     ppl --model $G --protocol truncate --lengths 2048,4096,8192 --scalings none &
# passkey retrieval
run smollm2-passkey-2k  passkey --model $S --lengths 1024,2048 --scalings all --trials 3 --factor 4 &
run gemma3-passkey-2k   passkey --model $G --lengths 2048 --scalings none,yarn --trials 2 --factor 4 &
wait
# run last, when the others were done: the unscaled model to 32k (its 2k-16k numbers are the
# same bits as the 16k runs'), YaRN to 32k, and Gemma 3 with the scalings at factor 4 (target 128k)
run smollm2-ppl-none-32k ppl --model $S --protocol truncate --lengths $L16,32768 --scalings none --factor 4 &
run smollm2-ppl-yarn-32k ppl --model $S --protocol truncate --lengths $L16,32768 --scalings yarn --factor 4 &
# (gemma3-ppl-8k: superseded by the 32k windows of the next session, the same bits; not kept)
run gemma3-ppl-8k       ppl --model $G --protocol truncate --lengths 2048,4096,8192 \
    --scalings none,linear,ntk,yarn,llama3 --factor 4 &
wait

# then, with the machine free, the other scalings to 32k: one 32k window each (truncate), and
# dynamic NTK at 32k alone (its 2k-16k windows are in smollm2-ppl-l3-dyn)
for s in linear ntk llama3; do
    run smollm2-ppl-$s-32k ppl --model $S --protocol truncate --lengths $L16,32768 --scalings $s --factor 4 &
done
run smollm2-ppl-dynamic-32k ppl --model $S --protocol truncate --lengths 32768 --scalings dynamic --factor 4 &
wait
# merge refuses a cell given twice: take the dynamic half of the l3-dyn run (its llama3 cells
# are in smollm2-ppl-llama3-32k with the same bits)
jq -c '.results |= map(select(.scaling == "dynamic")) | .scalings = ["dynamic"]' \
    $D/smollm2-ppl-l3-dyn.json > $D/smollm2-ppl-dynamic-16k.json
"$R" lab merge $D/smollm2-ppl-{none-32k,yarn-32k,linear-32k,ntk-32k,dynamic-16k,dynamic-32k,llama3-32k}.json \
    --json --plot $D/smollm2-ppl.svg > $D/smollm2-ppl.json
"$R" lab merge $D/smollm2-ppl.json

# --- the next session (2026-11-30): Gemma 3 to 32k and passkey past the trained contexts. A
# queue of these lines ran two at a time (`run NAME ARGS`, one thread each, at normal
# priority; the machine was quiet at first, then shared with benchmark and build jobs).
GL=2048,4096,8192,16384,32768
SL=4096,8192,16384
run gemma3-dynamic-check ppl --model $G --protocol truncate --lengths 2048 --scalings none,dynamic --factor 4
for s in none linear ntk yarn llama3; do
    run gemma3-ppl-$s-32k ppl --model $G --protocol truncate --lengths $GL --scalings $s --factor 4
done
for s in none linear ntk dynamic yarn llama3; do
    run smollm2-passkey-$s passkey --model $S --lengths $SL --scalings $s --trials 2 --factor 4
    run smollm2-passkey-32k-$s passkey --model $S --lengths 32768 --scalings $s --trials 1 --factor 4
done
for s in none linear ntk yarn llama3; do
    run gemma3-passkey-$s passkey --model $G --lengths 8192,32768 --scalings $s --trials 2 --factor 4
done
"$R" lab merge $D/gemma3-ppl-{none,linear,ntk,yarn,llama3}-32k.json --json --plot $D/gemma3-ppl.svg \
    > $D/gemma3-ppl.json
"$R" lab merge $D/smollm2-passkey-*.json --json --plot $D/smollm2-passkey.svg > $D/smollm2-passkey.json
"$R" lab merge $D/gemma3-passkey-*.json --json --plot $D/gemma3-passkey.svg > $D/gemma3-passkey.json
