"""End-to-end tests of structures and data in the formats people have (issue 10, point 1):
`physfit import` from every route a phonopy/VASP/ASE/ALAMODE user has, `physfit phonons` with
any structure file, and the phonopy.yaml export read back by phonopy.

The data: wurtzite GaN (two species, hexagonal), 3x3x2 supercell (72 atoms), forces from
LAMMPS with Debian's GaN.sw Stillinger-Weber potential (residual forces of the ideal supercell
subtracted, as phonopy's --fz does); phonopy 2.17 makes the displacements (type 1: its finite
displacements; type 2: random displacements) and writes its files; ASE 3.22 writes the
extended XYZ. Every route must give phonopy's own arrays. Run by CTest (one test per class)
with PHYSFIT_BIN, MPIEXEC and PHYSFIT_TEST_SCRATCH in the environment."""

import ctypes
import os
import unittest

import h5py
import numpy as np

from harness import physfit, scratch, summary

BOHR = 0.529177210903
RYDBERG = 13.605693122994
SMAT = [3, 3, 2]


def wurtzite():
    from phonopy.structure.atoms import PhonopyAtoms
    a, c, u = 3.19, 5.19, 0.377
    lattice = [[a, 0, 0], [-a / 2, a * np.sqrt(3) / 2, 0], [0, 0, c]]
    frac = [[1 / 3, 2 / 3, 0], [2 / 3, 1 / 3, 0.5], [1 / 3, 2 / 3, u], [2 / 3, 1 / 3, 0.5 + u]]
    return PhonopyAtoms(symbols=["Ga", "Ga", "N", "N"], cell=lattice, scaled_positions=frac)


class GaNForces:
    """LAMMPS forces (GaN.sw) on a fixed triclinic supercell, minus the ideal cell's."""

    def __init__(self, supercell):
        from lammps import lammps
        self.n = len(supercell)
        L = supercell.cell
        self.lmp = lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
        self.lmp.commands_string(f"""
            units metal
            atom_style atomic
            atom_modify map array sort 0 0.0
            boundary p p p
            region box prism 0 {L[0, 0]} 0 {L[1, 1]} 0 {L[2, 2]} {L[1, 0]} {L[2, 0]} {L[2, 1]}
            create_box 2 box
            mass 1 69.723
            mass 2 14.0067
            pair_style sw
            pair_coeff * * /usr/share/lammps/potentials/GaN.sw Ga N
        """)
        types = [1 if s == "Ga" else 2 for s in supercell.symbols]
        self.lmp.create_atoms(self.n, list(range(1, self.n + 1)), types,
                              list(np.asarray(supercell.positions, float).ravel()))
        self.f0 = 0
        self.f0 = self(supercell.positions)

    def __call__(self, positions):
        buffer = (ctypes.c_double * (3 * self.n))(*np.asarray(positions, float).ravel())
        self.lmp.scatter_atoms("x", 1, 3, buffer)
        self.lmp.command("run 0 pre yes post no")
        return np.array(self.lmp.gather_atoms("f", 1, 3)).reshape(self.n, 3) - self.f0


def make_data(d, non_diagonal=None):
    """Writes every file of the routes into d; returns phonopy's arrays."""
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import write as ase_write
    from phonopy import Phonopy
    from phonopy.file_IO import write_FORCE_SETS
    from phonopy.interface.vasp import write_vasp
    smat = non_diagonal if non_diagonal is not None else SMAT
    unit = wurtzite()
    write_vasp(os.path.join(d, "POSCAR"), unit)
    ph = Phonopy(unit, supercell_matrix=smat)
    sc = ph.supercell
    write_vasp(os.path.join(d, "SPOSCAR"), sc)
    lmp = GaNForces(sc)
    ref = {"lattice": sc.cell, "positions": sc.positions, "symbols": list(sc.symbols),
           "masses": sc.masses}
    # Type 1: phonopy's finite displacements.
    ph.generate_displacements(distance=0.01)
    ph.save(os.path.join(d, "phonopy_disp.yaml"))
    ph.forces = np.array([lmp(s.positions) for s in ph.supercells_with_displacements])
    write_FORCE_SETS(ph.dataset, os.path.join(d, "FORCE_SETS"))
    ph.save(os.path.join(d, "phonopy_params.yaml"))
    n = len(sc)
    u1 = np.zeros((len(ph.dataset["first_atoms"]), n, 3))
    for k, e in enumerate(ph.dataset["first_atoms"]):
        u1[k, e["number"]] = e["displacement"]
    ref["type1"] = (u1, np.array(ph.forces))
    ph.produce_force_constants()
    ref["phonopy"] = ph
    if non_diagonal is not None:
        return ref
    # Type 2: random displacements.
    ph2 = Phonopy(wurtzite(), supercell_matrix=smat)
    ph2.generate_displacements(distance=0.03, number_of_snapshots=4, random_seed=11)
    ph2.save(os.path.join(d, "phonopy_disp_rd.yaml"))
    u2 = np.array(ph2.dataset["displacements"])
    f2 = np.array([lmp(sc.positions + u) for u in u2])
    ph2.forces = f2
    write_FORCE_SETS(ph2.dataset, os.path.join(d, "FORCE_SETS_rd"))
    ph2.save(os.path.join(d, "phonopy_params_rd.yaml"))
    ref["type2"] = (u2, f2)
    # Extended XYZ (ASE): the displaced supercells; and the same after the ideal one.
    frames = []
    for u, f in zip(u2, f2):
        a = Atoms(sc.symbols, cell=sc.cell, positions=sc.positions + u, pbc=True)
        a.calc = SinglePointCalculator(a, forces=f, energy=0.0)
        frames.append(a)
    ideal = Atoms(sc.symbols, cell=sc.cell, positions=sc.positions, pbc=True)
    ideal.calc = SinglePointCalculator(ideal, forces=np.zeros((n, 3)), energy=0.0)
    ase_write(os.path.join(d, "rd.extxyz"), frames, format="extxyz")
    ase_write(os.path.join(d, "ideal_first.extxyz"), [ideal] + frames, format="extxyz")
    rattled = Atoms(sc.symbols, cell=sc.cell, positions=sc.positions + u2[0], pbc=True)
    rattled.calc = SinglePointCalculator(rattled, forces=f2[0], energy=0.0)
    ase_write(os.path.join(d, "displaced_first.extxyz"), [rattled] + frames, format="extxyz")
    # ALAMODE: DFSET (Bohr, Ry/Bohr) and its input file (&cell in Bohr).
    with open(os.path.join(d, "DFSET_rd"), "w") as f:
        for c, (u, force) in enumerate(zip(u2, f2)):
            f.write("# snapshot %d\n" % (c + 1))
            for x, y in zip(u / BOHR, force * BOHR / RYDBERG):
                f.write("%23.16e %23.16e %23.16e %23.16e %23.16e %23.16e\n" % (*x, *y))
    kinds = ["Ga", "N"]
    with open(os.path.join(d, "gan.alm.in"), "w") as f:
        f.write("&general\n  PREFIX = gan; MODE = optimize\n  NAT = %d; NKD = 2\n  KD = Ga N\n/\n"
                "&interaction\n  NORDER = 1\n/\n&cell\n  %.16f\n" % (n, 1 / BOHR))
        for row in sc.cell:
            f.write("  %.16f %.16f %.16f\n" % tuple(row))
        f.write("/\n&cutoff\n  *-* None\n/\n&position\n")
        for s, p in zip(sc.symbols, sc.scaled_positions):
            f.write("  %d %.16f %.16f %.16f\n" % (kinds.index(s) + 1, *p))
        f.write("/\n")
    return ref


def read_h5(path):
    with h5py.File(path) as f:
        return {"lattice": f["structure/lattice"][...], "positions": f["structure/positions"][...],
                "symbols": list(f["structure/symbols"].asstr()[...]),
                "masses": f["structure/masses"][...],
                "numbers": f["structure/numbers"][...],
                "u": f["configs/displacements"][...], "f": f["configs/forces"][...]}


class Case(unittest.TestCase):
    def assert_structure(self, got, ref, tol=1e-9):
        np.testing.assert_allclose(got["lattice"], ref["lattice"], atol=tol)
        diff = (got["positions"] - ref["positions"]) @ np.linalg.inv(ref["lattice"])
        diff -= np.round(diff)
        self.assertLess(np.abs(diff @ ref["lattice"]).max(), tol)
        self.assertEqual(got["symbols"], ref["symbols"])
        np.testing.assert_allclose(got["masses"], ref["masses"], rtol=1e-12)

    def expect_error(self, d, code, texts, *args):
        out = os.path.join(d, "out.h5")
        r = physfit("import", *args, "--output.file", out)
        self.assertEqual(r.returncode, code, r.stderr)
        for t in texts:
            self.assertIn(t, r.stderr)
        self.assertFalse(os.path.exists(out))

    def import_(self, d, name, *args):
        out = os.path.join(d, name + ".h5")
        r = physfit("import", *args, "--output.file", out, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        return read_h5(out)


class ImportRoutes(Case):
    def test_every_route_of_phonopys_displacements_gives_its_structure_and_data(self):
        d = scratch(self)
        ref = make_data(d)
        p = lambda name: os.path.join(d, name)  # noqa: E731
        dim = " ".join(map(str, SMAT))
        # Type 1: FORCE_SETS with each structure a phonopy user has, and phonopy_params.yaml.
        routes = {
            "disp_yaml": ("force-sets", "--input.file", p("FORCE_SETS"), "--structure.file", p("phonopy_disp.yaml")),
            "sposcar": ("force-sets", "--input.file", p("FORCE_SETS"), "--structure.file", p("SPOSCAR")),
            "poscar_dim": ("force-sets", "--input.file", p("FORCE_SETS"), "--structure.file", p("POSCAR"),
                           "--structure.supercell-matrix", dim),
            "params": ("phonopy", "--input.file", p("phonopy_params.yaml")),
        }
        u1, f1 = ref["type1"]
        for name, args in routes.items():
            with self.subTest(route=name):
                got = self.import_(d, name, *args)
                self.assert_structure(got, ref)
                self.assertEqual(set(got["numbers"]), {31, 7})
                np.testing.assert_allclose(got["u"], u1, atol=1e-15)
                np.testing.assert_allclose(got["f"], f1, atol=1e-9)  # FORCE_SETS: 10 decimals


class ImportRandomDisplacements(Case):
    def test_every_format_of_type_two_data_gives_phonopys_arrays(self):
        d = scratch(self)
        ref = make_data(d)
        p = lambda name: os.path.join(d, name)  # noqa: E731
        dim = " ".join(map(str, SMAT))
        routes = {
            "rd_force_sets": ("force-sets", "--input.file", p("FORCE_SETS_rd"), "--structure.file",
                              p("phonopy_disp_rd.yaml")),
            "rd_params": ("phonopy", "--input.file", p("phonopy_params_rd.yaml")),
            "rd_xyz_poscar": ("extxyz", "--input.file", p("rd.extxyz"), "--structure.file", p("POSCAR"),
                              "--structure.supercell-matrix", dim),
            "rd_xyz_first": ("extxyz", "--input.file", p("ideal_first.extxyz")),
            "rd_dfset_alamode": ("dfset", "--input.file", p("DFSET_rd"), "--structure.file", p("gan.alm.in")),
            "rd_dfset_sposcar": ("dfset", "--input.file", p("DFSET_rd"), "--structure.file", p("SPOSCAR")),
        }
        u2, f2 = ref["type2"]
        results = {}
        for name, args in routes.items():
            with self.subTest(route=name):
                got = self.import_(d, name, *args)
                self.assert_structure(got, ref, tol=1e-7)  # ASE writes 8 decimals
                self.assertEqual(got["u"].shape, u2.shape)
                np.testing.assert_allclose(got["u"], u2, atol=2e-8)
                np.testing.assert_allclose(got["f"], f2, atol=2e-8)
                results[name] = got
        # The two phonopy files give the same structure, to the bit.
        for key in ("lattice", "positions", "masses"):
            np.testing.assert_array_equal(results["rd_params"][key], results["rd_force_sets"][key])

    def test_a_non_diagonal_supercell_matrix_gives_phonopys_atom_order(self):
        d = scratch(self)
        smat = [[1, 1, 0], [-1, 1, 0], [0, 0, 2]]
        ref = make_data(d, non_diagonal=smat)
        got = self.import_(d, "nd", "force-sets", "--input.file", os.path.join(d, "FORCE_SETS"),
                           "--structure.file", os.path.join(d, "POSCAR"), "--structure.supercell-matrix",
                           "1 1 0 -1 1 0 0 0 2")
        self.assert_structure(got, ref, tol=1e-9)
        np.testing.assert_allclose(got["u"], ref["type1"][0], atol=1e-15)


class PhonopyYamlExport(Case):
    def test_phonopy_loads_the_export_and_gets_its_frequencies(self):
        d = scratch(self)
        ref = make_data(d)
        ph = ref["phonopy"]
        import phonopy
        qpoints = np.array([[0, 0, 0], [0.5, 0, 0], [1 / 3, 1 / 3, 0], [0, 0, 0.5],
                            [0.5, 0, 0.5], [0.1, 0.2, 0.3]])
        ph.run_qpoints(qpoints)
        theirs = ph.get_qpoints_dict()["frequencies"]
        q_cart = qpoints @ np.linalg.inv(ph.primitive.cell).T
        for structure in ("phonopy_disp.yaml", "SPOSCAR"):
            with self.subTest(structure=structure):
                sub = os.path.join(d, "export_" + structure.split(".")[0])
                os.makedirs(sub)
                data = os.path.join(sub, "data.h5")
                r = physfit("import", "force-sets", "--input.file", os.path.join(d, "FORCE_SETS"),
                            "--structure.file", os.path.join(d, structure), "--output.file", data)
                self.assertEqual(r.returncode, 0, r.stderr)
                r = physfit("fc", "--input.data", data, "--clusters.cutoffs=-1", "--fit.method", "ols",
                            "--cv.folds", 0, "--output.file", os.path.join(sub, "fc.h5"),
                            "--output.export-dir", sub, "--output.exports", "phonopy", "--json")
                self.assertEqual(r.returncode, 0, r.stderr)
                loaded = phonopy.load(os.path.join(sub, "phonopy.yaml"),
                                      force_constants_filename=os.path.join(sub, "FORCE_CONSTANTS"),
                                      is_nac=False, log_level=0)
                self.assertEqual(list(loaded.supercell.symbols), ref["symbols"])
                np.testing.assert_allclose(loaded.supercell.masses, ref["masses"])
                ours = loaded.primitive.cell
                loaded.run_qpoints(q_cart @ ours.T)
                mine = loaded.get_qpoints_dict()["frequencies"]
                # physfit's fit of phonopy's own data: phonopy's frequencies within 1e-3 THz.
                self.assertLess(np.abs(mine - theirs).max(), 1e-3)
                # The export is exact: phonopy's supercell with the same FORCE_CONSTANTS.
                same = phonopy.load(os.path.join(d, "phonopy_disp.yaml"),
                                    force_constants_filename=os.path.join(sub, "FORCE_CONSTANTS"),
                                    is_nac=False, log_level=0, produce_fc=False)
                same.run_qpoints(qpoints)
                np.testing.assert_allclose(mine, same.get_qpoints_dict()["frequencies"],
                                           atol=1e-8)
                # SPOSCAR export: physfit's supercell with species names.
                with open(os.path.join(sub, "SPOSCAR")) as f:
                    lines = f.read().split("\n")
                self.assertEqual(lines[5].split(), ["Ga", "N"])
                self.assertEqual(lines[6].split(), ["36", "36"])


class QuantumEspressoUnits(Case):
    """phonopy keeps a calculator's own units in its files: with Quantum ESPRESSO
    (`phonopy --qe`) phonopy_disp.yaml is in Bohr and FORCE_SETS in Bohr and Ry/Bohr. The files
    are made by phonopy's command line as a QE user makes them (`phonopy --qe -d`, then
    `phonopy --qe -f` on pw.x outputs holding LAMMPS's forces in Ry/au), and physfit must read
    them as the same Angstrom and eV/Angstrom numbers as the VASP-unit files of the same run."""

    def test_phonopy_files_of_a_qe_run_are_converted_to_angstrom_and_ev(self):
        import subprocess
        from phonopy import Phonopy
        d = scratch(self)
        unit = wurtzite()
        with open(os.path.join(d, "pw.in"), "w") as f:
            f.write("&control\n  calculation = 'scf'\n  tprnfor = .true.\n/\n&system\n"
                    "  ibrav = 0\n  nat = 4\n  ntyp = 2\n  ecutwfc = 60\n/\n&electrons\n/\n"
                    "ATOMIC_SPECIES\n  Ga 69.723 Ga.UPF\n  N 14.007 N.UPF\nCELL_PARAMETERS angstrom\n")
            for row in unit.cell:
                f.write("  %.16f %.16f %.16f\n" % tuple(row))
            f.write("ATOMIC_POSITIONS crystal\n")
            for s, p in zip(unit.symbols, unit.scaled_positions):
                f.write("  %s %.16f %.16f %.16f\n" % (s, *p))
            f.write("K_POINTS automatic\n  4 4 3 0 0 0\n")
        dim = [str(v) for v in SMAT]
        subprocess.run(["phonopy", "--qe", "-d", "--dim", *dim, "-c", "pw.in"], cwd=d, check=True,
                       capture_output=True)
        # pw.x outputs with LAMMPS's forces (eV/A -> Ry/au, CODATA 2018 as physfit) on phonopy's
        # displaced supercells (Bohr -> A).
        import phonopy
        disp = phonopy.load(os.path.join(d, "phonopy_disp.yaml"), produce_fc=False, log_level=0)
        ideal = Phonopy(unit, supercell_matrix=SMAT).supercell  # Angstrom, the same atom order
        lmp = GaNForces(ideal)
        outputs, u_ang, f_ev = [], [], []
        for k, entry in enumerate(disp.dataset["first_atoms"]):
            u = np.zeros((len(ideal), 3))
            u[entry["number"]] = np.asarray(entry["displacement"]) * BOHR
            force = lmp(ideal.positions + u)
            force -= force.mean(axis=0)  # phonopy removes the drift; LAMMPS's is 1e-16 anyway
            u_ang.append(u)
            f_ev.append(force)
            name = "disp-%03d.out" % (k + 1)
            with open(os.path.join(d, name), "w") as f:
                f.write("     Forces acting on atoms (cartesian axes, Ry/au):\n\n")
                for i, v in enumerate(force * BOHR / RYDBERG):
                    f.write("     atom %4d type  1   force = %20.14f %20.14f %20.14f\n" % (i + 1, *v))
                f.write("\n     Total force =     0.0\n")
            outputs.append(name)
        subprocess.run(["phonopy", "--qe", "-f", *outputs], cwd=d, check=True, capture_output=True)
        got = self.import_(d, "qe", "force-sets", "--input.file", os.path.join(d, "FORCE_SETS"),
                           "--structure.file", os.path.join(d, "phonopy_disp.yaml"))
        ref = {"lattice": ideal.cell, "positions": ideal.positions, "symbols": list(ideal.symbols),
               "masses": disp.supercell.masses}  # phonopy's, as its YAML has them
        # phonopy's Bohr (0.529177207) and CODATA 2018's (physfit's) differ by 7e-9.
        self.assert_structure(got, ref, tol=1e-7)
        np.testing.assert_allclose(got["u"], u_ang, atol=1e-12)
        np.testing.assert_allclose(got["f"], f_ev, atol=3e-9)  # FORCE_SETS: 10 decimals of Ry/au
        self.assertGreater(np.abs(got["f"]).max(), 0.01)
        # A calculator physfit does not know is an error that names it.
        with open(os.path.join(d, "phonopy_disp.yaml")) as f:
            text = f.read().replace("calculator: qe", "calculator: nwchem", 1)
        with open(os.path.join(d, "other.yaml"), "w") as f:
            f.write(text)
        self.expect_error(d, 4, ["other.yaml:", "calculator 'nwchem'", "qe"], "force-sets",
                          "--input.file", os.path.join(d, "FORCE_SETS"), "--structure.file",
                          os.path.join(d, "other.yaml"))


class PhononsAnyStructure(Case):
    def test_phonons_reads_force_constants_with_every_structure_format(self):
        d = scratch(self)
        ref = make_data(d)
        from phonopy.file_IO import write_FORCE_CONSTANTS
        write_FORCE_CONSTANTS(ref["phonopy"].force_constants, os.path.join(d, "FORCE_CONSTANTS"))
        ref["phonopy"].run_qpoints([[0, 0, 0]])
        gamma = ref["phonopy"].get_qpoints_dict()["frequencies"][0]
        results = []
        for args in (["--structure.file", os.path.join(d, "phonopy_disp.yaml")],
                     ["--structure.file", os.path.join(d, "SPOSCAR")],
                     ["--structure.file", os.path.join(d, "POSCAR"), "--structure.supercell-matrix", "3 3 2"],
                     ["--structure.file", os.path.join(d, "gan.alm.in")],
                     ["--structure.file", os.path.join(d, "ideal_first.extxyz")]):
            r = physfit("phonons", "--input.fc", os.path.join(d, "FORCE_CONSTANTS"), *args,
                        "--output.file", "", "--bands.qpoints", "G", "--json")
            self.assertEqual(r.returncode, 0, r.stderr)
            results.append(summary(r)["frequencies"]["G"])
        for freq in results:
            np.testing.assert_allclose(freq, gamma, atol=1e-6)


class Errors(Case):
    """Malformed files: exit 4 (I/O) or 2 (usage), the message names file:line and the field,
    and no output file is left."""

    def test_malformed_inputs_name_file_line_and_field_and_write_nothing(self):
        d = scratch(self)
        make_data(d)
        p = lambda name: os.path.join(d, name)  # noqa: E731
        with open(p("POSCAR")) as f:
            lines = f.read().split("\n")
        bad = list(lines)
        bad[3] = bad[3].replace("0.", "O.", 1)
        with open(p("BAD_POSCAR"), "w") as f:
            f.write("\n".join(bad))
        self.expect_error(d, 4, ["BAD_POSCAR:4: lattice vector 2"],
                          "force-sets", "--input.file", p("FORCE_SETS"), "--structure.file", p("BAD_POSCAR"),
                          "--structure.supercell-matrix", "3 3 2")
        vasp4 = list(lines)
        vasp4[0] = "gallium nitride"
        del vasp4[5]  # the species line
        with open(p("POSCAR4"), "w") as f:
            f.write("\n".join(vasp4))
        self.expect_error(d, 2, ["POSCAR4:6", "--structure.species"], "force-sets", "--input.file",
                          p("FORCE_SETS"), "--structure.file", p("POSCAR4"), "--structure.supercell-matrix", "3 3 2")
        r = physfit("import", "force-sets", "--input.file", p("FORCE_SETS"), "--structure.file", p("POSCAR4"),
                    "--structure.supercell-matrix", "3 3 2", "--structure.species", "Ga,N", "--output.file", p("ok.h5"))
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(p("phonopy_disp.yaml")) as f:
            text = f.read()
        at = text.index("mass:", text.index("supercell:"))
        line = text[:at].count("\n") + 1
        with open(p("bad_disp.yaml"), "w") as f:
            f.write(text[:at] + "mass: heavy" + text[at + len("mass: 69.723000"):])
        self.expect_error(d, 4, ["bad_disp.yaml:%d: supercell.points[1].mass: 'heavy'" % line],
                          "force-sets", "--input.file", p("FORCE_SETS"), "--structure.file", p("bad_disp.yaml"))


class InconsistentInputs(Case):
    def test_inconsistent_structures_and_options_are_usage_errors(self):
        d = scratch(self)
        make_data(d)
        p = lambda name: os.path.join(d, name)  # noqa: E731
        self.expect_error(d, 2, ["FORCE_SETS", "72 atoms, but the structure has 4"],
                          "force-sets", "--input.file", p("FORCE_SETS"), "--structure.file", p("POSCAR"))
        self.expect_error(d, 2, ["FORCE_SETS_rd: displacement 1 (atom 1) differs", "not from the same phonopy run"],
                          "force-sets", "--input.file", p("FORCE_SETS_rd"), "--structure.file",
                          p("phonopy_disp.yaml"))
        self.expect_error(d, 2, ["differs from --structure.supercell-matrix"], "force-sets", "--input.file",
                          p("FORCE_SETS"), "--structure.file", p("phonopy_disp.yaml"),
                          "--structure.supercell-matrix", "2 2 2")
        self.expect_error(d, 2, ["--structure.supercell-matrix: give 3"], "force-sets", "--input.file",
                          p("FORCE_SETS"), "--structure.file", p("POSCAR"), "--structure.supercell-matrix", "3 3")
        self.expect_error(d, 2, ["displaced_first.extxyz", "looks displaced", "--structure.file"],
                          "extxyz", "--input.file", p("displaced_first.extxyz"))
        self.expect_error(d, 4, ["FORCE_SETS:", "lattice vector 1"], "dfset", "--input.file", p("DFSET_rd"),
                          "--structure.file", p("FORCE_SETS"))
        r = physfit("import", "--help")
        self.assertEqual(r.returncode, 0)
        for option in ("--structure.supercell-matrix", "--structure.primitive-matrix", "--structure.species", "--structure.masses",
                       "first frame", "undisplaced"):
            self.assertIn(option, r.stdout)


if __name__ == "__main__":
    unittest.main()
