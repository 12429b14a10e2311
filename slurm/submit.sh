#!/usr/bin/env bash
# Submit the whole book to Slurm, from the login node:
#   1. download the datasets the profile needs (here: compute nodes often have no internet);
#   2. one job per notebook in _toc.yml (theory notebooks without a GPU), plus the sweep (a job array);
#      with --gpus, each model's notebook waits for a data-parallel training job (slurm/train.sbatch)
#      and then loads its finished checkpoint;
#   3. the comparison notebook, once all of those succeeded (--dependency=afterok);
#   4. the book build, once everything succeeded.
# Prints the job ids and how to watch them.
#
#   bash slurm/submit.sh [options] [-- extra sbatch options for every job]
#     --profile full|quick|smoke  parameter profile (default full: slurm/params/full/)
#     --params-dir DIR            your own <notebook stem>.yaml parameter files instead of a profile
#     -p NAME=VALUE               one parameter for every notebook (repeatable), e.g. -p output_dir=/scratch/me
#     --sweep FILE | --no-sweep   the sweep to submit (default slurm/sweeps/dcgan_lr.yaml)
#     --build-dir DIR             where executed notebooks and the book go (default _build)
#     --partition P --account A --time T --mem M --cpus N --gres G|none   resources of the notebook jobs
#                                 (defaults: $GENLAB_PARTITION, ..., else the #SBATCH lines of notebook.sbatch)
#     --container FILE.sif        run inside Apptainer (= GENLAB_CONTAINER; see slurm/genlab.def)
#     --gpus G --nodes N          train each model first on N nodes x G GPUs (slurm/train.sbatch; one
#                                 task per GPU; batch_size is global); default: train in the notebook job
#     --train-time T              time limit of the training jobs (default: train.sbatch's, 8 h)
#     --smoke                     = --profile smoke with small jobs (20 min, 3 GB, 1 CPU): tries the scripts
#     --dry-run                   print the sbatch commands instead of submitting
# Logs go to logs/ (or $GENLAB_LOG_DIR).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROFILE=full
PARAMS_DIR=
PARAMS=()
SWEEP=$ROOT/slurm/sweeps/dcgan_lr.yaml
BUILD=_build
PARTITION=${GENLAB_PARTITION:-}
ACCOUNT=${GENLAB_ACCOUNT:-}
TIME=${GENLAB_TIME:-}
MEM=${GENLAB_MEM:-}
CPUS=${GENLAB_CPUS:-}
GRES=${GENLAB_GRES:-}
DRY=0
EXTRA=()
TRAIN_GPUS=
TRAIN_NODES=1
TRAIN_TIME=

die() { echo "submit.sh: error: $*" >&2; exit 2; }
while (($#)); do
    case $1 in
        --profile) PROFILE=$2; shift 2 ;;
        --params-dir) PARAMS_DIR=$(cd "$2" && pwd); shift 2 ;;
        -p) PARAMS+=(-p "$2"); shift 2 ;;
        --sweep) SWEEP=$(cd "$(dirname "$2")" && pwd)/$(basename "$2"); shift 2 ;;
        --no-sweep) SWEEP=; shift ;;
        --build-dir) BUILD=$2; shift 2 ;;
        --partition) PARTITION=$2; shift 2 ;;
        --account) ACCOUNT=$2; shift 2 ;;
        --time) TIME=$2; shift 2 ;;
        --mem) MEM=$2; shift 2 ;;
        --cpus) CPUS=$2; shift 2 ;;
        --gres) GRES=$2; shift 2 ;;
        --container) export GENLAB_CONTAINER=$(cd "$(dirname "$2")" && pwd)/$(basename "$2"); shift 2 ;;
        --smoke) PROFILE=smoke; TIME=${TIME:-00:20:00}; MEM=${MEM:-3G}; CPUS=${CPUS:-1}; shift ;;
        --gpus) TRAIN_GPUS=$2; shift 2 ;;
        --nodes) TRAIN_NODES=$2; shift 2 ;;
        --train-time) TRAIN_TIME=$2; shift 2 ;;
        --dry-run) DRY=1; shift ;;
        --) shift; EXTRA=("$@"); break ;;
        -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
        *) die "unknown option '$1' (see bash slurm/submit.sh --help)" ;;
    esac
done
[[ -z $SWEEP || -f $SWEEP ]] || die "sweep file $SWEEP does not exist"
[[ -z $TRAIN_GPUS || $TRAIN_GPUS =~ ^[1-9][0-9]*$ ]] || die "--gpus $TRAIN_GPUS: give the GPUs per node, e.g. --gpus 4"
[[ $TRAIN_NODES =~ ^[1-9][0-9]*$ ]] || die "--nodes $TRAIN_NODES: give a number of nodes, e.g. --nodes 2"

# shellcheck source=slurm/env.sh
source "$ROOT/slurm/env.sh" || die "could not set up the Python environment (see above)"
export GENLAB_ROOT=$ROOT
LOGS=${GENLAB_LOG_DIR:-$ROOT/logs}
mkdir -p "$LOGS"
if [[ -n $PARAMS_DIR ]]; then SOURCE=(--params-dir "$PARAMS_DIR"); else SOURCE=(--profile "$PROFILE"); fi
RUN_ARGS=("${SOURCE[@]}" "${PARAMS[@]}" --build-dir "$BUILD")

COMMON=(--parsable --chdir="$ROOT")
[[ -n $PARTITION ]] && COMMON+=(--partition="$PARTITION")
[[ -n $ACCOUNT ]] && COMMON+=(--account="$ACCOUNT")
NB_RES=()
[[ -n $TIME ]] && NB_RES+=(--time="$TIME")
[[ -n $MEM ]] && NB_RES+=(--mem="$MEM")
[[ -n $CPUS ]] && NB_RES+=(--cpus-per-task="$CPUS")
[[ -n $GRES ]] && NB_RES+=(--gres="$GRES")
# Small jobs (book build) get small resources whatever the notebook jobs ask for, except a short --time.
SMALL=()
[[ -n $TIME ]] && SMALL+=(--time="$TIME")
[[ -n $MEM ]] && SMALL+=(--mem="$MEM")

COMMON+=("${EXTRA[@]}")
JOB=1000
submit() {  # submit NAME SBATCH-OPTIONS... SCRIPT ARGS... ; sets JOB to the new job's id
    local name=$1
    shift
    if ((DRY)); then
        JOB=$((JOB + 1))
        echo "sbatch --job-name=$name ${COMMON[*]} $*"
    else
        JOB=$(sbatch --job-name="$name" "${COMMON[@]}" "$@") || die "sbatch failed for $name (message above)"
    fi
}

echo "== genlab on Slurm: profile ${PARAMS_DIR:-$PROFILE}, project $ROOT"
PLAN=$("${RUNNER[@]}" "$PY" -m genlab.book.slurm plan "${SOURCE[@]}" "${PARAMS[@]}") \
    || die "could not read the notebook list from _toc.yml (see above)"

# 1. Datasets, here on the login node.
while read -r kind dataset data_dir; do
    [[ $kind == download ]] || continue
    echo "== downloading $dataset into $data_dir (login node)"
    if ((DRY)); then
        echo "$PY -m genlab download $dataset --data-dir $data_dir"
    else
        "${RUNNER[@]}" "$PY" -m genlab download "$dataset" --data-dir "$data_dir" \
            || die "downloading $dataset failed; this step needs internet (run it on a login node)"
    fi
done <<<"$PLAN"

# 2. Every notebook that depends on no other, and the sweep.
FIRST=()
TRAINS=()
DEPENDENT=()
declare -A NAMES=()
while read -r kind stage notebook resource model; do
    [[ $kind == job ]] || continue
    if [[ $stage == dependent ]]; then DEPENDENT+=("$notebook"); continue; fi
    stem=$(basename "$notebook")
    res=("${NB_RES[@]}")
    [[ $resource == cpu ]] && res=("${SMALL[@]}" --gres=none --cpus-per-task=2)
    if [[ -n $TRAIN_GPUS && $model != - ]]; then  # a model's chapter (the registry says which): train first
        train_res=(--nodes="$TRAIN_NODES" --ntasks-per-node="$TRAIN_GPUS" --gpus-per-node="$TRAIN_GPUS")
        [[ -n $TRAIN_TIME ]] && train_res+=(--time="$TRAIN_TIME")
        submit "genlab-train-$model" --output="$LOGS/genlab-train-$model-%j.out" "${train_res[@]}" \
            "$ROOT/slurm/train.sbatch" "$model" "${SOURCE[@]}" "${PARAMS[@]}"
        NAMES[$JOB]="train $model on $TRAIN_NODES x $TRAIN_GPUS GPUs"
        TRAINS+=("$JOB")
        res+=(--dependency="afterok:$JOB")
    fi
    submit "genlab-$stem" --output="$LOGS/genlab-$stem-%j.out" "${res[@]}" \
        "$ROOT/slurm/notebook.sbatch" "$notebook" "${RUN_ARGS[@]}"
    FIRST+=("$JOB")
    NAMES[$JOB]=$notebook
done <<<"$PLAN"

if [[ -n $SWEEP ]]; then
    ARRAY=$("${RUNNER[@]}" "$PY" -m genlab.book.slurm sweep-array "$SWEEP" --profile "$PROFILE") || die "bad sweep file $SWEEP"
    name=$(basename "$SWEEP" .yaml)
    submit "genlab-sweep-$name" --array="$ARRAY" --output="$LOGS/genlab-sweep-$name-%A_%a.out" "${NB_RES[@]}" \
        "$ROOT/slurm/sweep.sbatch" "$SWEEP" "${RUN_ARGS[@]}"
    FIRST+=("$JOB")
    NAMES[$JOB]="sweep $name (array $ARRAY)"
fi
((${#FIRST[@]})) || die "_toc.yml lists no notebook to run"

# 3. Notebooks that read the others' results (the comparison), after all of them succeeded.
after() { local IFS=:; echo "afterok:$*"; }
ALL=("${FIRST[@]}")
for notebook in "${DEPENDENT[@]}"; do
    stem=$(basename "$notebook")
    submit "genlab-$stem" --dependency="$(after "${FIRST[@]}")" --output="$LOGS/genlab-$stem-%j.out" \
        "${NB_RES[@]}" "$ROOT/slurm/notebook.sbatch" "$notebook" "${RUN_ARGS[@]}"
    ALL+=("$JOB")
    NAMES[$JOB]="$notebook (after ${FIRST[*]})"
done

# 4. The book.
submit genlab-book --dependency="$(after "${ALL[@]}")" --output="$LOGS/genlab-book-%j.out" "${SMALL[@]}" \
    "$ROOT/slurm/book.sbatch" --build-dir "$BUILD"
BOOK=$JOB
NAMES[$BOOK]="book build (after ${ALL[*]})"

echo "== submitted:"
IDS=("${TRAINS[@]}" "${ALL[@]}" "$BOOK")
for id in "${IDS[@]}"; do printf '   %-10s %s\n' "$id" "${NAMES[$id]}"; done
case $BUILD in /*) HTML=$BUILD ;; *) HTML=$ROOT/$BUILD ;; esac
[[ $(basename "$HTML") == _build ]] && HTML=$(dirname "$HTML")
cat <<EOF
== watch:
   squeue --me  # state of your jobs (PD pending, R running)
   tail -f $LOGS/genlab-*.out  # live logs, one file per job (array tasks: _<task>)
   scontrol show job $BOOK  # why a job waits (Reason=Dependency until the others succeed)
   scancel ${IDS[*]}  # cancel everything
== the book will be at $HTML/_build/html/index.html (job $BOOK)
== job ids: ${IDS[*]}
EOF
