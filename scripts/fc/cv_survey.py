#!/usr/bin/python3
"""Where does cross-validation put lambda, and how good is the fit there? (issue 10, point 4)

    scripts/fc/cv_survey.py --bin build/physfit --si build/tests/data/si \
        --crystals build/tests/data/cv [--methods lasso,elastic-net,adaptive-lasso] \
        [--sigmas 0.01,0.03] [--train 50] [--out /tmp/cv_survey] [--json FILE] [-- EXTRA FC OPTIONS]

For each crystal x sigma x method: `physfit fc` with FC2 (every pair) + FC3 and the default
lambda grid and CV, then phonopy's frequencies (python3-phonopy) of the fitted FORCE_CONSTANTS at
the special points G, X, L, W, K against phonopy's finite-displacement reference made with the
same potential (scripts/data/make_si.py, scripts/data/make_cv_data.py). Prints one markdown row
per fit: the chosen lambda's index among the lambdas of the path, whether it is at an end of
the path, whether the path was extended, the largest frequency difference (THz) and the
non-zero parameters."""
import argparse
import json
import os
import subprocess
import sys

import h5py
import numpy as np

NAMES = ["G", "X", "L", "W", "K"]


def crystals(si, other):
    """name -> (data file for sigma, reference h5, FORCE_CONSTANTS, cutoffs)."""
    c3_si = 5.0  # Angstrom, below the 64-atom cell's 5.43 A limit
    return {
        "Si SW": (lambda s: os.path.join(si, "si64_rattle_%g.h5" % s),
                  os.path.join(si, "si64_phonopy.h5"), [-1, c3_si]),
        "Si Tersoff": (lambda s: os.path.join(other, "si_tersoff_rattle_%g.h5" % s),
                       os.path.join(other, "si_tersoff_phonopy.h5"), [-1, c3_si]),
        "Al EAM": (lambda s: os.path.join(other, "al_eam_rattle_%g.h5" % s),
                   os.path.join(other, "al_eam_phonopy.h5"), [-1, 4.5]),
    }


def phonopy_frequencies(data, force_constants, qpoints):
    import phonopy
    from phonopy.file_IO import parse_FORCE_CONSTANTS
    from phonopy.structure.atoms import PhonopyAtoms
    with h5py.File(data) as f:
        s = f["structure"]
        unit = s["unit_lattice"][...]
        smat = s["supercell_matrix"][...]
        pmat = s["primitive_matrix"][...]
        lattice = s["lattice"][...]
        pos = s["positions"][...]
        numbers = s["numbers"][...]
        masses = s["masses"][...]
    # The unit cell: the supercell's atoms inside the first unit cell.
    frac = pos @ np.linalg.inv(unit)
    inside = np.all((frac > -1e-6) & (frac < 1 - 1e-6), axis=1)
    cell = PhonopyAtoms(numbers=numbers[inside], cell=unit, scaled_positions=frac[inside],
                        masses=masses[inside])
    ph = phonopy.Phonopy(cell, supercell_matrix=smat, primitive_matrix=pmat, log_level=0)
    # The supercell phonopy builds must be the data's, atom for atom.
    np.testing.assert_allclose(ph.supercell.cell, lattice, atol=1e-8)
    np.testing.assert_allclose(ph.supercell.positions, pos, atol=1e-6)
    ph.force_constants = parse_FORCE_CONSTANTS(force_constants)
    ph.run_qpoints(qpoints)
    return ph.get_qpoints_dict()["frequencies"]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bin", default="physfit")
    p.add_argument("--si", required=True)
    p.add_argument("--crystals", required=True)
    p.add_argument("--methods", default="lasso,elastic-net,adaptive-lasso")
    p.add_argument("--sigmas", default="0.01,0.03")
    p.add_argument("--only", default="", help="comma-separated crystal names")
    p.add_argument("--train", type=int, default=50)
    p.add_argument("--out", default="/tmp/cv_survey")
    p.add_argument("--json", default="")
    p.add_argument("extra", nargs="*", help="more options for physfit fc (after --)")
    a = p.parse_args()
    rows = []
    print("| crystal | sigma | method | lambdas | chosen index | at an end | extended | "
          "max freq. error (THz) | non-zero | CV RMSE (%) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, (data_of, ref, cutoffs) in crystals(a.si, a.crystals).items():
        if a.only and name not in a.only.split(","):
            continue
        with h5py.File(ref) as f:
            qpoints = f["qpoints"][...]
            reference = f["frequencies"][...]
        for sigma in (float(s) for s in a.sigmas.split(",")):
            for method in a.methods.split(","):
                d = os.path.join(a.out, "%s_%g_%s" % (name.replace(" ", "_"), sigma, method))
                os.makedirs(d, exist_ok=True)
                out = os.path.join(d, "fc.h5")
                cmd = [a.bin, "fc", "--input.data", data_of(sigma), "--clusters.cutoffs=" +
                       ",".join(str(c) for c in cutoffs), "--configs.train", str(a.train),
                       "--fit.method", method, "--output.file", out, "--output.export-dir", d,
                       "--output.exports", "phonopy", "--json"] + a.extra
                r = subprocess.run(cmd, capture_output=True, text=True)
                if r.returncode != 0:
                    sys.exit(" ".join(cmd) + "\n" + r.stderr)
                s = json.loads(r.stdout.strip().splitlines()[-1])["result"]
                warnings = [l for l in r.stderr.splitlines() if "WARNING" in l.upper()]
                with h5py.File(out) as f:
                    if "lambdas" in f["fit"]:  # not for least squares
                        lambdas = f["fit/lambdas"][...]
                        chosen = int(np.argmin(np.abs(lambdas - f["fit"].attrs["lambda"])))
                    else:
                        lambdas, chosen = [0], -1
                    extended = int(f["fit"].attrs.get("extended", 0))
                freqs = phonopy_frequencies(data_of(sigma), os.path.join(d, "FORCE_CONSTANTS"),
                                            qpoints)
                err = float(np.abs(freqs - reference).max())
                nz = sum(s["nonzero"].values())
                end = "last" if chosen == len(lambdas) - 1 else ("first" if chosen == 0 else "no")
                end = "-" if chosen < 0 else end
                row = {"crystal": name, "sigma": sigma, "method": method,
                       "lambdas": len(lambdas), "chosen": chosen, "end": end,
                       "extended": extended, "max_error_THz": err, "nonzero": nz,
                       "parameters": s["parameters"], "cv_relative": s["cv_relative"],
                       "warnings": warnings}
                rows.append(row)
                print("| %s | %g | %s | %d | %d | %s | %d | %.4f | %d of %d | %.3f |" %
                      (name, sigma, method, len(lambdas), chosen, end, extended, err, nz,
                       s["parameters"], 100 * s["cv_relative"]), flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
