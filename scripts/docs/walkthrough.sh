#!/usr/bin/env bash
# Runs the commands of the walk-through docs/fc/walkthrough.md (wurtzite GaN: phonopy
# displacements, forces, physfit import, fc and phonons, exports read by phonopy) and makes its
# figures, so that the page shows what the commands give. The forces stand in for VASP's: LAMMPS
# with the GaN.tersoff potential (scripts/data/make_crystals.py), on the displacements the
# page's phonopy commands make (checked here to be the same).
#
#   scripts/docs/walkthrough.sh               # in the repository: results/gan/
#   scripts/docs/walkthrough.sh --figures     # and copy the figures to docs/fc/
#   scripts/docs/walkthrough.sh --out DIR     # work in DIR (DIR/results/gan/; the CTest)
#
# Environment: PHYSFIT_BIN (default: physfit on PATH, else build/bin/physfit),
# PHYSFIT_CRYSTAL_DATA (the folder make_crystals.py made; made in results/gan-data if unset).
# About 15 s on 2 cores.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=$repo
figures=0
while (($#)); do
  case "$1" in
    --out) out=$2; shift ;;
    --figures) figures=1 ;;
    -h|--help) sed -n '2,/^[^#]/{/^#/p}' "$0"; exit 0 ;;
    *) echo "walkthrough.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [[ -n "${PHYSFIT_BIN:-}" ]]; then
  PATH=$(cd "$(dirname "$PHYSFIT_BIN")" && pwd):$PATH
elif ! command -v physfit >/dev/null; then
  PATH=$repo/build/bin:$PATH
fi
if [[ $(id -u) == 0 ]]; then  # Open MPI as root (README)
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
python=/usr/bin/python3
mkdir -p "$out"
cd "$out"
[[ -e inputs ]] || ln -s "$repo/inputs" inputs  # the page runs `physfit fc inputs/fc_gan.ini`
step() { printf '\n=== %s\n' "$*"; }

step "0. The crystal: POSCAR and BORN (stand-ins for the user's; forces below from LAMMPS)"
data=${PHYSFIT_CRYSTAL_DATA:-results/gan-data}
if [[ ! -f $data/gan_wurtzite/phonopy_reference.h5 ]]; then
  $python "$repo/scripts/data/make_crystals.py" "$data" --crystals gan_wurtzite
fi
data=$data/gan_wurtzite
rm -rf results/gan
mkdir -p results/gan/fd results/gan/rd
cp "$data/POSCAR" "$data/BORN" results/gan/
cat results/gan/POSCAR

step "1. Displacements with phonopy"
(cd results/gan/fd && phonopy -d --dim 3 3 2 -c ../POSCAR >phonopy-d.log)
(cd results/gan/rd && phonopy -d --dim 3 3 2 -c ../POSCAR --rd 50 --amplitude 0.01 --random-seed 201 >phonopy-d.log)
ls results/gan/fd

step "2-3. Forces (here LAMMPS's, for the same displacements) into FORCE_SETS"
$python - "$data" <<'EOF'
import sys, numpy as np, phonopy
data = sys.argv[1]
for ours, theirs, key in (("results/gan/fd", data, "first_atoms"),
                          ("results/gan/rd", data + "/random_0.01", "displacements")):
    a = phonopy.load(ours + "/phonopy_disp.yaml", produce_fc=False, log_level=0).dataset[key]
    b = phonopy.load(theirs + "/phonopy_disp.yaml", produce_fc=False, log_level=0).dataset[key]
    if key == "first_atoms":
        a = [(d["number"], *d["displacement"]) for d in a]
        b = [(d["number"], *d["displacement"]) for d in b]
    if np.shape(a) != np.shape(b) or np.abs(np.array(a, float) - np.array(b, float)).max() > 1e-12:
        sys.exit("walkthrough.sh: phonopy's displacements in %s are not the data's" % ours)
    print("%s: %d displacement sets, the data's" % (ours, len(a)))
EOF
cp "$data/FORCE_SETS" results/gan/fd/FORCE_SETS
cp "$data/random_0.01/FORCE_SETS" results/gan/rd/FORCE_SETS
# phonopy's own force constants from the finite displacements, for comparison
(cd results/gan/fd && phonopy-load --writefc >phonopy-load.log)

step "4. Import"
physfit import force-sets --input.file results/gan/fd/FORCE_SETS --structure.file results/gan/fd/phonopy_disp.yaml --output.file results/gan/gan_fd.h5
physfit import force-sets --input.file results/gan/rd/FORCE_SETS --structure.file results/gan/rd/phonopy_disp.yaml --output.file results/gan/gan_rd.h5

step "5. Force constants"
physfit fc --input.data results/gan/gan_fd.h5 --fit.method ols --cv.folds 0 --output.file results/gan/gan_fd_fc.h5
physfit fc inputs/fc_gan.ini --solver.plan-only
mpirun -np 2 physfit fc inputs/fc_gan.ini

step "6. Phonons"
physfit phonons --input.fc results/gan/gan_fc.h5 --bands.list-points
physfit phonons --input.fc results/gan/gan_fc.h5 --nac.method none --output.figure results/gan/gan_bands.png \
    --reference.fc results/gan/fd/FORCE_CONSTANTS --reference.structure results/gan/fd/phonopy_disp.yaml \
    --figure.label "physfit: FC2 + FC3, LASSO, 40 random displacements" --reference.label "phonopy: finite displacements" \
    --figure.title "Wurtzite GaN without the non-analytic correction" --output.file results/gan/gan_bands.h5
physfit phonons --input.fc results/gan/gan_fc.h5 --nac.q-direction 0,0,1 --output.figure results/gan/gan_bands_nac.png \
    --reference.fc results/gan/fd/FORCE_CONSTANTS --reference.structure results/gan/fd/phonopy_disp.yaml \
    --figure.label "physfit: FC2 + FC3 with BORN" --reference.label "phonopy's force constants with BORN" \
    --figure.title "Wurtzite GaN with BORN (Gonze-Lee)" --output.file results/gan/gan_bands_nac.h5
physfit phonons --input.fc results/gan/gan_fc.h5 --output.unit cm-1 --bands.qpoints G,M,K,A --nac.q-direction 1,0,0 --output.file ""

step "7. Exports, read by phonopy"
(cd results/gan/export && phonopy-load phonopy.yaml --qpoints "1/2 0 0" >phonopy-load.log)
grep -m 12 "frequency:" results/gan/export/qpoints.yaml

if ((figures)); then
  cp results/gan/gan_bands.png results/gan/gan_bands_nac.png "$repo/docs/fc/"
  echo "figures copied to $repo/docs/fc/"
fi
