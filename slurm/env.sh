# Sourced by the sbatch scripts: go to the project root ($ROOT) and set up the Python environment.
# Sets RUNNER (empty, or the container command) and PY; run Python as "${RUNNER[@]}" "$PY" -m genlab ...
# The GENLAB_* variables are described in slurm/notebook.sbatch.
cd "$ROOT" || return 2
if [[ ! -f _toc.yml || ! -d lib/genlab ]]; then
    echo "genlab: $ROOT is not the genlab project; run sbatch from the project root or set GENLAB_ROOT" >&2
    return 2
fi
export PYTHONPATH="$ROOT/lib${PYTHONPATH:+:$PYTHONPATH}"
# One math thread per allocated CPU: more threads than CPUs makes torch many times slower.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-${SLURM_CPUS_PER_TASK:-1}}
export MKL_NUM_THREADS=${MKL_NUM_THREADS:-$OMP_NUM_THREADS}
export PYTHONUNBUFFERED=1

if [[ -n ${GENLAB_SETUP:-} ]]; then
    # shellcheck disable=SC1090
    source "$GENLAB_SETUP"
fi

RUNNER=()
if [[ -n ${GENLAB_CONTAINER:-} ]]; then
    APPTAINER=$(command -v apptainer || command -v singularity) || {
        echo "genlab: GENLAB_CONTAINER is set but neither apptainer nor singularity is on PATH (module load apptainer?)" >&2
        return 2
    }
    RUNNER=("$APPTAINER" exec --nv --bind "$ROOT" --pwd "$ROOT" "$GENLAB_CONTAINER")  # the host environment (PYTHONPATH) passes in
    PY=${GENLAB_PYTHON:-python3}
elif [[ -n ${GENLAB_CONDA_ENV:-} ]]; then
    CONDA_BASE=$(conda info --base 2>/dev/null) || {
        echo "genlab: GENLAB_CONDA_ENV is set but conda is not on PATH (module load anaconda?)" >&2
        return 2
    }
    # shellcheck disable=SC1091
    source "$CONDA_BASE/etc/profile.d/conda.sh"
    conda activate "$GENLAB_CONDA_ENV" || return 2
    PY=${GENLAB_PYTHON:-python}
else
    VENV=${GENLAB_VENV:-$ROOT/.venv}
    if [[ -f $VENV/bin/activate ]]; then
        # shellcheck disable=SC1091
        source "$VENV/bin/activate"
    fi
    PY=${GENLAB_PYTHON:-python3}
fi

