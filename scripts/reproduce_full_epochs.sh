#!/usr/bin/env bash
# The reproduction protocol at the authors' full epochs (scale "full": FF 100 epochs per layer, BP/FF 300, BP 80
# on Fashion-MNIST; their lr, batch and optimiser as always) on one CUDA GPU, under a time limit.
#
#   scripts/reproduce_full_epochs.sh OUT_DIR [TRAIN_SECONDS] [WORKERS] [DATASET] [more reproduce options ...]
#
# Trains with `ensembles reproduce --scale full --device cuda` (all three conditions, unlike the command's default;
# a --conditions among the options wins: the baseline sweep first, then the held-out and lr-grid sweeps together)
# for at most TRAIN_SECONDS (default 3600). At the limit the command is interrupted like a Ctrl-C: runs in progress
# are left unfinished (a later call with the same OUT_DIR resumes them from their last checkpoint), and the finished
# ones are analysed with `--analyze-only`, so the report covers what was trained and
# says how many runs that was. WORKERS (default 12): runs trained at once; on one GPU they share the device (each
# run drives many small kernels, so several processes keep it busier than one). Checkpoints every 25 epochs
# instead of every epoch (resumability only; nothing the training computes changes). DEVICE (default cuda) names
# the torch device; a smoke test on a CPU: DEVICE=cpu scripts/reproduce_full_epochs.sh /tmp/r 60 2 digits \
#   --seeds 0 --set 'network.hidden=[16,16,16]' --set train.epochs=2
set -uo pipefail
out=${1:?usage: reproduce_full_epochs.sh OUT_DIR [TRAIN_SECONDS] [WORKERS] [DATASET]}
limit=${2:-3600}
workers=${3:-12}
dataset=${4:-fashion-mnist}
shift $(( $# < 4 ? $# : 4 ))
device=${DEVICE:-cuda}
py=${PYTHON:-python3}

t0=$(date +%s)
timeout -s INT -k 60 "$limit" "$py" -m ensembles reproduce --dataset "$dataset" --scale full --device "$device" \
    --workers "$workers" --out "$out" --set train.checkpoint_every=25 --conditions baseline held_out lr_grid "$@"
rc=$?
echo "training: exit status $rc after $(( $(date +%s) - t0 )) s (124 = stopped at the ${limit}-s limit)"
if [ "$rc" -ne 0 ]; then
    # interrupted (or failed): analyse whatever finished (the interrupted call's claim on OUT_DIR died with it)
    "$py" -m ensembles reproduce --dataset "$dataset" --scale full --out "$out" --workers "$workers" \
        --analyze-only
    rc2=$?
    echo "analysis of the finished runs: exit status $rc2"
    [ "$rc2" -eq 0 ] || exit "$rc2"
fi
echo "total $(( $(date +%s) - t0 )) s"
exit 0
